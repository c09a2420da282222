//! Every counter payfac emits, registered at zero when the recorder is
//! installed, with every label value it can take.
//!
//! A counter that appears only after its first event cannot be alerted on
//! by its absence ("no sign-ins"), and `rate()` misses its first event
//! (there is no earlier sample to compare with). So each series exists
//! from start-up at 0. Two label sets are open-ended and handled apart:
//!
//! - `merchant` (`payfac_signature_failures_total`,
//!   `payfac_merchant_calls_total`): registered at zero for every merchant
//!   the directory loads, at start-up and on each reload
//!   (`register_merchant`), so a merchant added later has its series too.
//! - `payfac_http_requests_total` (`route` × `status` × `code`): only the
//!   merchant API's success series is registered; alerts sum over the
//!   series present and add `or vector(0)` (deploy/prometheus/alerts.yml).
//!
//! The `ALL` lists of the label enums keep this in step with the code that
//! counts; crates/cli/tests/metrics.rs checks a fresh server's /metrics.

use crate::edge::upstream::Failure as UpstreamFailure;
use crate::envelope::SignatureFailure;
use payfac_store::RejectReason;

/// The merchant API's route label (`payfac_http_requests_total`).
pub const MERCHANT_ROUTE: &str = "/pay-fac/{merchant}/{version}/user";

/// Result codes a known merchant's call can end with.
pub const MERCHANT_CODES: [&str; 5] = ["0000", "10001", "10002", "10003", "10004"];

/// Counters without labels.
const PLAIN: [&str; 10] = [
    "payfac_codes_issued_total",
    "payfac_codes_redeemed_total",
    "payfac_codes_expired_total",
    "payfac_connections_evicted_total",
    "payfac_sign_ins_shed_total",
    "payfac_sign_ins_pending_consent_total",
    "payfac_consent_refused_total",
    "payfac_logouts_refused_total",
    "payfac_oidc_logouts_total",
    "payfac_oidc_logouts_refused_total",
];

/// Registers every process-wide series at 0 (or leaves it as it is when it
/// was counted already: `increment(0)` never lowers a counter).
pub fn register_at_zero() {
    for name in PLAIN {
        metrics::counter!(name).increment(0);
    }
    // `malformed` is counted before storage is asked (`signin::sign_in`).
    let reasons = RejectReason::ALL.map(RejectReason::as_str);
    for reason in reasons.into_iter().chain(["malformed"]) {
        metrics::counter!("payfac_codes_rejected_total", "reason" => reason).increment(0);
    }
    for table in ["nonces", "codes", "sessions"] {
        metrics::counter!("payfac_purged_rows_total", "table" => table).increment(0);
    }
    metrics::counter!("payfac_rate_limited_total", "limit" => "merchant_calls").increment(0);
    for kind in ["merchant_api", "sign_in", "oidc_token"] {
        metrics::counter!("payfac_rate_limited_total", "limit" => "client_failures", "kind" => kind)
            .increment(0);
    }
    for answer in [
        "identity",
        "anonymous",
        "unauthorized",
        "sign_in",
        "forbidden",
    ] {
        metrics::counter!("payfac_forward_auth_total", "answer" => answer).increment(0);
    }
    register_oidc_at_zero();
    metrics::counter!("payfac_upstream_refused_total", "reason" => "get_with_body").increment(0);
    for failure in UpstreamFailure::ALL {
        metrics::counter!("payfac_upstream_errors_total", "reason" => failure.reason())
            .increment(0);
    }
    metrics::counter!(
        "payfac_http_requests_total",
        "route" => MERCHANT_ROUTE,
        "status" => "200",
        "code" => "0000"
    )
    .increment(0);
    metrics::gauge!("payfac_http_requests_in_flight").increment(0.0);
    metrics::gauge!("payfac_connections_open").increment(0.0);
}

/// The OpenID Provider's series: the usual outcomes of each endpoint (an
/// error code not listed here appears when it is first counted).
fn register_oidc_at_zero() {
    for outcome in [
        "code",
        "login_required",
        "unknown_client",
        "unknown_redirect_uri",
    ] {
        metrics::counter!("payfac_oidc_authorize_total", "outcome" => outcome).increment(0);
    }
    for outcome in [
        "issued",
        "invalid_grant",
        "invalid_client",
        "invalid_request",
    ] {
        metrics::counter!("payfac_oidc_token_total", "outcome" => outcome).increment(0);
    }
    for reason in ["unknown", "reused", "expired", "mismatch"] {
        metrics::counter!("payfac_oidc_codes_refused_total", "reason" => reason).increment(0);
    }
    for outcome in ["ok", "refused"] {
        metrics::counter!("payfac_oidc_userinfo_total", "outcome" => outcome).increment(0);
    }
}

/// Registers a merchant's series at 0: its calls by result code and its
/// signature failures by reason.
pub fn register_merchant(merchant: &str) {
    for code in MERCHANT_CODES {
        metrics::counter!("payfac_merchant_calls_total", "merchant" => merchant.to_owned(), "code" => code)
            .increment(0);
    }
    for reason in SignatureFailure::ALL {
        metrics::counter!(
            "payfac_signature_failures_total",
            "merchant" => merchant.to_owned(),
            "reason" => reason.as_str()
        )
        .increment(0);
    }
}
