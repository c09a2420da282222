//! The request body: read within limits, then parsed into domain types.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use payfac_domain::{BuyerProfile, Email, MerchantUserNo, PersonName};
use serde_json::{Map, Value};

use crate::envelope::ApiError;

/// Largest accepted body: 64 KiB.
pub const BODY_LIMIT: usize = 64 * 1024;

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

/// The body as domain types; unknown fields are ignored.
pub fn parse_profile(body: &[u8]) -> Result<BuyerProfile, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| ApiError::Body("The body is not valid UTF-8 JSON.".into()))?;
    let Value::Object(fields) = value else {
        return Err(ApiError::Body("The body must be a JSON object.".into()));
    };
    let invalid = |error: payfac_domain::InvalidInput| ApiError::Body(format!("{error}."));
    let merchant_user_no = required_string(&fields, "merchantUserNo")?;
    let email = required_string(&fields, "email")?;
    Ok(BuyerProfile {
        merchant_user_no: MerchantUserNo::parse(merchant_user_no).map_err(invalid)?,
        email: Email::parse(email).map_err(invalid)?,
        first_name: optional_name(&fields, "firstName")?,
        last_name: optional_name(&fields, "lastName")?,
    })
}

fn required_string<'a>(fields: &'a Map<String, Value>, name: &str) -> Result<&'a str, ApiError> {
    match fields.get(name) {
        Some(Value::String(text)) => Ok(text),
        None | Some(Value::Null) => Err(ApiError::Body(format!("{name} is required."))),
        Some(_) => Err(ApiError::Body(format!("{name} must be a string."))),
    }
}

fn optional_name(fields: &Map<String, Value>, name: &str) -> Result<Option<PersonName>, ApiError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => PersonName::parse(name, text)
            .map(Some)
            .map_err(|error| ApiError::Body(format!("{error}."))),
        Some(_) => Err(ApiError::Body(format!("{name} must be a string or null."))),
    }
}
