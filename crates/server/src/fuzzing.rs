//! The parsers the fuzz targets in `fuzz/` drive directly, re-exported in
//! one place. Not an API: nothing outside the fuzz targets and tests uses
//! it, and it changes with the parsers.

pub use crate::api::{check_content_type, parse_profile};
pub use crate::pages::presented_token;
