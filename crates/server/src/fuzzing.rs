//! The parsers the fuzz targets in `fuzz/` drive directly, re-exported in
//! one place. Not an API: nothing outside the fuzz targets and tests uses
//! it, and it changes with the parsers.

pub use crate::api::{check_content_type, parse_profile};
pub use crate::scope::presented_token;

/// The whole service's router on `store`, built as `payfac serve` builds
/// it (its listener, on a free port, is never served): the HTTP target
/// drives it in process.
pub async fn router(
    config: crate::Config,
    store: std::sync::Arc<dyn payfac_store::Store>,
) -> Result<axum::Router, crate::BuildError> {
    let config = crate::Config {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        ..config
    };
    Ok(crate::Application::build(config, store).await?.router)
}
