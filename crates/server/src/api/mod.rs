//! The signed merchant API: `POST /pay-fac/{merchant}/v1/user`.

mod body;
pub mod openapi;
mod signed;
mod user_sync;
mod verify;

pub use body::{BODY_LIMIT, QUERY_BYTES_LIMIT, QUERY_PARAMS_LIMIT};
#[doc(hidden)]
pub use body::{check_content_type, parse_profile};
pub use user_sync::user_sync;

use crate::envelope::ApiError;
pub use crate::envelope::SignatureFailure;

/// The merchant API's namespace: `/pay-fac` and everything below it, not
/// a path that only starts the same (`/pay-facade` is a storefront's).
pub fn owns(path: &str) -> bool {
    path.strip_prefix("/pay-fac")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Anything under `/pay-fac/` that is not the user route answers 10001.
pub async fn unknown_route() -> ApiError {
    ApiError::Route
}
