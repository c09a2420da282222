//! The request body of `POST /pay-fac/{merchant}/v1/user`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The buyer a merchant syncs. Unknown fields are ignored; an absent or
/// `null` optional field leaves the stored value unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"merchantUserNo": "U1000001", "email": "john.doe@example.com", "firstName": "John", "lastName": "Doe"})))]
#[serde(rename_all = "camelCase")]
pub struct UserSyncBody {
    /// The buyer's id in the merchant's system: 1-64 characters, no control
    /// characters, case-sensitive.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub merchant_user_no: String,
    /// A valid address of at most 254 characters.
    #[cfg_attr(feature = "openapi", schema(max_length = 254))]
    pub email: String,
    /// At most 64 characters; absent or null leaves the stored value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 64))]
    pub first_name: Option<String>,
    /// At most 64 characters; absent or null leaves the stored value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 64))]
    pub last_name: Option<String>,
}

/// Why a body is not a user-sync body; the text is the envelope's detail
/// after `JSON parsing error.` and names the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("The body is not valid UTF-8 JSON.")]
    NotJson,
    #[error("The body must be a JSON object.")]
    NotAnObject,
    #[error("{0} is required.")]
    Missing(&'static str),
    #[error("{0} must be a string.")]
    NotAString(&'static str),
    #[error("{0} must be a string or null.")]
    NotAStringOrNull(&'static str),
}

impl UserSyncBody {
    /// Reads a body the way the server does. Serde's derive would refuse
    /// the same bodies, but with messages that quote serde's internals;
    /// this names the field at fault in the merchant's terms.
    pub fn from_json(body: &[u8]) -> Result<Self, BodyError> {
        let value: Value = serde_json::from_slice(body).map_err(|_| BodyError::NotJson)?;
        let Value::Object(fields) = value else {
            return Err(BodyError::NotAnObject);
        };
        Ok(Self {
            merchant_user_no: required(&fields, "merchantUserNo")?,
            email: required(&fields, "email")?,
            first_name: optional(&fields, "firstName")?,
            last_name: optional(&fields, "lastName")?,
        })
    }
}

fn required(fields: &Map<String, Value>, name: &'static str) -> Result<String, BodyError> {
    match fields.get(name) {
        Some(Value::String(text)) => Ok(text.clone()),
        None | Some(Value::Null) => Err(BodyError::Missing(name)),
        Some(_) => Err(BodyError::NotAString(name)),
    }
}

fn optional(fields: &Map<String, Value>, name: &'static str) -> Result<Option<String>, BodyError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(BodyError::NotAStringOrNull(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> UserSyncBody {
        UserSyncBody {
            merchant_user_no: "U1".into(),
            email: "a@example.com".into(),
            first_name: Some("Zoë".into()),
            last_name: Some("Doe".into()),
        }
    }

    /// The parser reads the field names serde writes: a field renamed or
    /// added on one side only fails here.
    #[test]
    fn the_parser_reads_what_serde_writes() {
        for body in [
            full(),
            UserSyncBody {
                first_name: None,
                last_name: None,
                ..full()
            },
        ] {
            let bytes = serde_json::to_vec(&body).unwrap();
            assert_eq!(UserSyncBody::from_json(&bytes), Ok(body.clone()));
            assert_eq!(
                serde_json::from_slice::<UserSyncBody>(&bytes).unwrap(),
                body
            );
        }
        let names: Vec<String> = match serde_json::to_value(full()).unwrap() {
            Value::Object(fields) => fields.keys().cloned().collect(),
            _ => unreachable!(),
        };
        assert_eq!(
            names.len(),
            4,
            "every field is read by from_json: {names:?}"
        );
    }

    #[test]
    fn each_wrong_body_names_its_fault() {
        let parse = |text: &str| UserSyncBody::from_json(text.as_bytes());
        assert_eq!(parse("[1]"), Err(BodyError::NotAnObject));
        assert_eq!(parse("{"), Err(BodyError::NotJson));
        assert_eq!(parse("{}"), Err(BodyError::Missing("merchantUserNo")));
        assert_eq!(
            parse(r#"{"merchantUserNo":"U","email":null}"#),
            Err(BodyError::Missing("email"))
        );
        assert_eq!(
            parse(r#"{"merchantUserNo":7,"email":"a@b.c"}"#),
            Err(BodyError::NotAString("merchantUserNo"))
        );
        assert_eq!(
            parse(r#"{"merchantUserNo":"U","email":"a@b.c","lastName":[]}"#),
            Err(BodyError::NotAStringOrNull("lastName"))
        );
        assert_eq!(
            BodyError::NotAStringOrNull("lastName").to_string(),
            "lastName must be a string or null."
        );
        let ignored = parse(r#"{"merchantUserNo":"U","email":"a@b.c","extra":1}"#).unwrap();
        assert_eq!(ignored.first_name, None);
    }
}
