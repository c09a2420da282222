//! The request body: read within limits, then parsed into domain types.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use payfac_api_types::UserSyncBody;
use payfac_domain::{BuyerProfile, Email, MerchantUserNo, PersonName};

use crate::envelope::ApiError;

/// Largest accepted body: 64 KiB.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Largest accepted query string, in bytes and in `&`-separated
/// parameters. The query is decoded and sorted into the signature string,
/// so a larger one is refused before that work (a 30,000-parameter query
/// cost ~46 times the CPU of none).
pub const QUERY_BYTES_LIMIT: usize = 4096;
pub const QUERY_PARAMS_LIMIT: usize = 64;

/// Refuses a query string over `QUERY_BYTES_LIMIT` bytes or
/// `QUERY_PARAMS_LIMIT` parameters, counted without decoding.
pub(super) fn check_query_size(raw_query: &str) -> Result<(), ApiError> {
    let too_long = raw_query.len() > QUERY_BYTES_LIMIT;
    if too_long
        || raw_query
            .split('&')
            .filter(|part| !part.is_empty())
            .nth(QUERY_PARAMS_LIMIT)
            .is_some()
    {
        return Err(ApiError::QueryTooLarge);
    }
    Ok(())
}

/// A body not received within this time is refused, so a slow sender
/// cannot hold a request open indefinitely.
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// Reads the body, refusing it as soon as it is known to exceed the limit:
/// by its declared length before reading anything, or while streaming a
/// chunked body, so a large upload is never buffered whole.
pub(super) async fn read_body(headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse::<u64>().ok());
    if declared.is_some_and(|length| length > BODY_LIMIT as u64) {
        return Err(ApiError::BodyTooLarge);
    }
    let reading = tokio::time::timeout(BODY_TIMEOUT, Limited::new(body, BODY_LIMIT).collect());
    let Ok(read) = reading.await else {
        return Err(ApiError::Body(
            "The request body was not received in time.".into(),
        ));
    };
    match read {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
            Err(ApiError::BodyTooLarge)
        }
        Err(_) => Err(ApiError::Body("The request body could not be read.".into())),
    }
}

/// `application/json`, parameters allowed; a declared charset must be UTF-8.
pub fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let wrong = || ApiError::Body("Content-Type must be application/json.".into());
    let mut values = headers.get_all(header::CONTENT_TYPE).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(wrong());
    };
    let text = value.to_str().map_err(|_| wrong())?;
    let mut parts = text.split(';');
    let media_type = parts.next().unwrap_or("").trim();
    if !media_type.eq_ignore_ascii_case("application/json") {
        return Err(wrong());
    }
    for parameter in parts {
        if let Some((name, value)) = parameter.split_once('=') {
            let value = value.trim().trim_matches('"');
            if name.trim().eq_ignore_ascii_case("charset")
                && !value.eq_ignore_ascii_case("utf-8")
                && !value.eq_ignore_ascii_case("utf8")
            {
                return Err(ApiError::Body("The charset must be UTF-8.".into()));
            }
        }
    }
    Ok(())
}

/// The body as domain types: the wire type first (which field is missing
/// or of the wrong type), then each value's rules.
pub fn parse_profile(body: &[u8]) -> Result<BuyerProfile, ApiError> {
    let body = UserSyncBody::from_json(body).map_err(|error| ApiError::Body(error.to_string()))?;
    let invalid = |error: payfac_domain::InvalidInput| ApiError::Body(format!("{error}."));
    let name = |field: &str, value: Option<String>| {
        value
            .map(|text| PersonName::parse(field, &text))
            .transpose()
            .map_err(invalid)
    };
    Ok(BuyerProfile {
        merchant_user_no: MerchantUserNo::parse(&body.merchant_user_no).map_err(invalid)?,
        email: Email::parse(&body.email).map_err(invalid)?,
        first_name: name("firstName", body.first_name)?,
        last_name: name("lastName", body.last_name)?,
    })
}
