//! The JSON shapes of the admin API, shared with the CLI's output. Times
//! are RFC 3339 UTC strings; no shape ever holds a secret, a hash, a code
//! or a session id.

use payfac_store::{
    AdminTokenRecord, AuditRecord, BuyerDetails, BuyerExport, EndedSessions, Erased,
    MerchantSummary,
};
use serde::Serialize;
use utoipa::ToSchema;

/// Unix seconds as RFC 3339 UTC, e.g. `2025-04-03T02:55:16Z`.
pub fn rfc3339(unix_seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix_seconds)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix_seconds.to_string())
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyView {
    /// Key id: the first 8 bytes of SHA-256 over the SPKI DER, in hex.
    #[schema(example = "3f2a9c0d11e4b7a8")]
    pub id: String,
    #[schema(example = "2025-04-03T02:55:16Z")]
    pub created_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MerchantView {
    #[schema(example = "MERCHANT001")]
    pub id: String,
    /// `active` or `disabled`.
    #[schema(example = "active")]
    pub status: String,
    /// Oldest first; every key is active.
    pub keys: Vec<KeyView>,
}

impl From<&MerchantSummary> for MerchantView {
    fn from(merchant: &MerchantSummary) -> Self {
        Self {
            id: merchant.id.clone(),
            status: merchant.status.as_str().to_owned(),
            keys: merchant
                .keys
                .iter()
                .map(|key| KeyView {
                    id: key.key_id.clone(),
                    created_at: rfc3339(key.created_at),
                })
                .collect(),
        }
    }
}

/// A key just added.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewKeyView {
    pub id: String,
}

/// What disabling a merchant did.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DisabledView {
    pub merchant: MerchantView,
    /// Sessions of the merchant's buyers ended (0 without `endSessions`).
    pub sessions_ended: u64,
    /// Unused authorization codes voided (0 without `endSessions`).
    pub codes_voided: u64,
}

impl DisabledView {
    pub fn new(merchant: MerchantView, ended: EndedSessions) -> Self {
        Self {
            merchant,
            sessions_ended: ended.sessions,
            codes_voided: ended.codes,
        }
    }
}

/// A key removed.
#[derive(Debug, Serialize, ToSchema)]
pub struct RemovedKeyView {
    pub id: String,
    pub removed: bool,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BuyerView {
    /// Decimal string.
    #[schema(example = "1739298043323322369")]
    pub user_id: String,
    pub merchant: String,
    pub merchant_user_no: String,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub created_at: String,
    /// When the profile last changed.
    pub updated_at: String,
    /// Sessions neither expired nor idle past the limit.
    pub live_sessions: i64,
}

impl From<&BuyerDetails> for BuyerView {
    fn from(details: &BuyerDetails) -> Self {
        let buyer = &details.buyer;
        Self {
            user_id: buyer.user_id.to_string(),
            merchant: buyer.merchant.clone(),
            merchant_user_no: buyer.merchant_user_no.clone(),
            email: buyer.email.clone(),
            first_name: buyer.first_name.clone(),
            last_name: buyer.last_name.clone(),
            created_at: rfc3339(details.created_at),
            updated_at: rfc3339(details.updated_at),
            live_sessions: details.live_sessions,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionExport {
    pub created_at: String,
    pub last_used_at: String,
    pub expires_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CodeExport {
    pub expires_at: String,
    pub used_at: Option<String>,
}

/// Everything stored about a buyer.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportView {
    pub exported_at: String,
    pub buyer: BuyerView,
    /// Sessions not yet purged, oldest first.
    pub sessions: Vec<SessionExport>,
    /// Authorization codes not yet purged, oldest first.
    pub authorization_codes: Vec<CodeExport>,
}

impl ExportView {
    pub fn new(export: &BuyerExport, now: i64) -> Self {
        Self {
            exported_at: rfc3339(now),
            buyer: BuyerView::from(&export.details),
            sessions: export
                .sessions
                .iter()
                .map(|s| SessionExport {
                    created_at: rfc3339(s.created_at),
                    last_used_at: rfc3339(s.last_seen_at),
                    expires_at: rfc3339(s.expires_at),
                })
                .collect(),
            authorization_codes: export
                .codes
                .iter()
                .map(|c| CodeExport {
                    expires_at: rfc3339(c.expires_at),
                    used_at: c.used_at.map(rfc3339),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevokedView {
    pub user_id: String,
    pub sessions_ended: u64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErasedView {
    pub user_id: String,
    pub erased: bool,
    pub sessions_ended: u64,
    pub codes_deleted: u64,
}

impl From<Erased> for ErasedView {
    fn from(erased: Erased) -> Self {
        Self {
            user_id: erased.user_id.to_string(),
            erased: true,
            sessions_ended: erased.sessions,
            codes_deleted: erased.codes,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditView {
    pub id: i64,
    pub at: String,
    /// The admin token's name, or `cli`.
    pub actor: String,
    pub action: String,
    pub target: String,
    /// `ok`, or why the change was refused.
    pub result: String,
}

impl From<&AuditRecord> for AuditView {
    fn from(record: &AuditRecord) -> Self {
        Self {
            id: record.id,
            at: rfc3339(record.entry.at),
            actor: record.entry.actor.clone(),
            action: record.entry.action.clone(),
            target: record.entry.target.clone(),
            result: record.entry.result.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenView {
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    /// `null`: never.
    pub expires_at: Option<String>,
}

impl From<&AdminTokenRecord> for TokenView {
    fn from(token: &AdminTokenRecord) -> Self {
        Self {
            name: token.name.clone(),
            created_at: rfc3339(token.created_at),
            last_used_at: token.last_used_at.map(rfc3339),
            expires_at: token.expires_at.map(rfc3339),
        }
    }
}
