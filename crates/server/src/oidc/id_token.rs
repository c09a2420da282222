//! The claims of ID tokens and userinfo (OpenID Connect Core §2, §5.1):
//! `sub` is the buyer's platform userId (the `sub` of
//! `X-Payfac-Identity`), with `merchant` and `merchant_user_no`, and the
//! profile and email claims by scope. payfac does not verify emails (the
//! merchant sends them), so `email_verified` is `false`.

use payfac_domain::Buyer;
use payfac_store::{OidcClient, OidcGrant};
use serde::Serialize;

use super::{ID_TOKEN_TTL_SECS, Provider};
use crate::AppState;
use crate::identity::KeyKind;

/// What userinfo answers, and what an ID token carries besides its own
/// claims.
#[derive(Debug, Serialize)]
pub struct BuyerClaims {
    pub sub: String,
    pub merchant: String,
    pub merchant_user_no: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
}

impl BuyerClaims {
    pub fn of(buyer: &Buyer, scope: &str) -> Self {
        let has = |wanted: &str| scope.split(' ').any(|scope| scope == wanted);
        let known = |name: &Option<String>| name.clone().filter(|name| !name.is_empty());
        let (given, family) = (known(&buyer.first_name), known(&buyer.last_name));
        let profile = has("profile");
        let email = has("email");
        let full = [given.as_deref(), family.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        Self {
            sub: buyer.user_id.to_string(),
            merchant: buyer.merchant.clone(),
            merchant_user_no: buyer.merchant_user_no.clone(),
            name: (profile && !full.is_empty()).then_some(full),
            given_name: given.filter(|_| profile),
            family_name: family.filter(|_| profile),
            email: email.then(|| buyer.email.clone()),
            email_verified: email.then_some(false),
        }
    }
}

#[derive(Debug, Serialize)]
struct IdTokenClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    azp: &'a str,
    iat: i64,
    exp: i64,
    auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    #[serde(flatten)]
    buyer: BuyerClaims,
}

/// The ID token of `grant` for `client`, signed with the client's
/// algorithm (RS256 unless registered EdDSA).
pub fn issue(
    state: &AppState,
    provider: &Provider,
    client: &OidcClient,
    grant: &OidcGrant,
    now: i64,
) -> String {
    let claims = IdTokenClaims {
        iss: &provider.issuer,
        aud: &client.client_id,
        azp: &client.client_id,
        iat: now,
        exp: now + ID_TOKEN_TTL_SECS,
        auth_time: grant.auth_time,
        nonce: grant.nonce.as_deref(),
        buyer: BuyerClaims::of(&grant.buyer, &grant.scope),
    };
    if client.id_token_alg == KeyKind::Identity.alg() {
        state.identity.keys.sign(&claims, now)
    } else {
        provider.keys.sign(&claims, now)
    }
}

/// The claims of an ID token this provider signed (either algorithm,
/// expired or not): for `id_token_hint`.
pub fn verify_hint(
    state: &AppState,
    provider: &Provider,
    token: &str,
) -> Option<serde_json::Value> {
    let claims = provider
        .keys
        .verify(token)
        .or_else(|| state.identity.keys.verify(token))?;
    (claims.get("iss")?.as_str()? == provider.issuer).then_some(claims)
}
