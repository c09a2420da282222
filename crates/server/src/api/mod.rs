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

use crate::AppState;
use crate::envelope::ApiError;
pub use crate::envelope::SignatureFailure;
use crate::scope::Scope;

/// Anything under `/pay-fac/` that is not the user route answers 10001.
pub fn unknown_route(state: &AppState, scope: &Scope) -> ApiError {
    let error = ApiError::Route;
    count_failure(state, scope, &error);
    error
}

/// Counts a failure the caller caused (10001–10003) against its client's
/// limit (`crate::ratelimit`); the call that crosses the limit still gets
/// its real answer.
fn count_failure(state: &AppState, scope: &Scope, error: &ApiError) {
    if let Some(limiter) = &state.limiter
        && error.is_callers_fault()
    {
        limiter.note_failure(scope.client);
    }
}
