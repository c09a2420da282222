//! The JSON envelope of every merchant API answer (docs/PROTOCOL.md §3).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// The envelope codes.
pub mod code {
    pub const SUCCESS: &str = "0000";
    /// Route, merchant or version unknown; wrong method.
    pub const URL: &str = "10001";
    /// Content type, JSON, a field, or the body's size.
    pub const JSON: &str = "10002";
    /// Signing headers, timestamp, nonce or signature.
    pub const SIGNATURE: &str = "10003";
    /// Storage or another internal failure; nothing was persisted.
    pub const SERVER: &str = "10004";
}

/// `{"code", "msg", "time", "data"}`, plus `debug` on a sandbox 10003.
/// `data` is `null` on every error.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Envelope<T> {
    /// `0000` success, `10001` URL, `10002` JSON, `10003` signature,
    /// `10004` server.
    pub code: Cow<'static, str>,
    /// Begins with the code's fixed message, e.g. `Request signature error.`
    pub msg: Cow<'static, str>,
    /// UTC, `yyyy-MM-dd HH:mm:ss`.
    pub time: String,
    pub data: Option<T>,
    /// Only in sandbox mode, only on 10003.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debug: Option<SignatureDebug>,
}

/// `data` of a `0000` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Issued {
    /// The buyer's platform id: a decimal positive 64-bit integer, stable.
    #[cfg_attr(feature = "openapi", schema(example = "1739298043323322369"))]
    pub user_id: String,
    /// One-time code, 32 of [A-Za-z0-9], valid for a short time.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "qScNfN7U6LfCeKADqmxW1fFbGdVLu0fY")
    )]
    pub authorization_code: String,
}

impl std::fmt::Display for Issued {
    /// The user id only: the code is a credential and stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "userId {}", self.user_id)
    }
}

/// Sandbox-only diagnostics of a 10003.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SignatureDebug {
    /// missing_header, bad_timestamp, clock_skew, bad_nonce, nonce_reused,
    /// bad_signature_encoding or no_key_matched.
    pub reason: Cow<'static, str>,
    /// The server's Unix time in seconds.
    pub server_time: i64,
    /// The exact string the server verified.
    pub signature_string: String,
    /// On `no_key_matched` only: the key ids (`payfac merchant list`) of
    /// the merchant's active keys, sorted. A signer whose own key id is
    /// missing signed with an unregistered key; one whose id is listed
    /// signed other bytes than `signature_string`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_key_ids: Option<Vec<String>>,
}

/// `data` of an error answer, which is always `null`: a type with no
/// values, so `Option<NoData>` documents exactly `null`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum NoData {}

/// Any error answer: `data` is null; `debug` only in sandbox mode on 10003.
pub type ErrorEnvelope = Envelope<NoData>;
