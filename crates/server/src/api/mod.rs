//! The signed merchant API: `POST /pay-fac/{merchant}/v1/user`.

pub mod openapi;
mod user_sync;
mod verify;

pub use user_sync::{BODY_LIMIT, user_sync};
pub use verify::SignatureFailure;

use crate::envelope::ApiError;

/// Anything under `/pay-fac/` that is not the user route answers 10001.
pub async fn unknown_route() -> ApiError {
    ApiError::Route
}
