//! Registering relying parties: what `payfac oidc-client add` and
//! `POST /admin/v1/oidc-clients` accept, and how a client is shown (never
//! its secret or hash).
//!
//! Redirect URIs are compared exactly at the authorization endpoint
//! (RFC 9700 §4.1.3), so they are checked here once: absolute, no
//! fragment (RFC 6749 §3.1.2), no whitespace, and `https`, except `http`
//! to a loopback host and private-use schemes of native apps (RFC 8252
//! §7.1, §7.3).

use payfac_domain::{SecretHash, random_alphanumeric};
use payfac_store::OidcClient;
use serde::{Deserialize, Serialize};

use crate::identity::KeyKind;

/// A registration request (camelCase in the admin API).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Registration {
    pub name: String,
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// No secret: the client proves itself with PKCE alone (a browser or
    /// mobile app).
    #[serde(default)]
    pub public: bool,
    /// `RS256` (default) or `EdDSA`.
    #[serde(default)]
    pub id_token_alg: Option<String>,
}

/// What registering answers, once: the secret is never shown again.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewClient {
    pub client_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

/// A client as listed.
#[derive(Debug, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientView {
    pub client_id: String,
    pub name: String,
    pub public: bool,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub id_token_alg: String,
    pub created_at: i64,
}

impl From<OidcClient> for ClientView {
    fn from(client: OidcClient) -> Self {
        Self {
            public: client.is_public(),
            client_id: client.client_id,
            name: client.name,
            redirect_uris: client.redirect_uris,
            post_logout_redirect_uris: client.post_logout_redirect_uris,
            id_token_alg: client.id_token_alg,
            created_at: client.created_at,
        }
    }
}

/// The stored client of a valid registration and what to show once; `Err`
/// says what is wrong (never holding a secret).
pub fn register(registration: Registration, now: i64) -> Result<(OidcClient, NewClient), String> {
    let name = registration.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(
            "the client name must be 1 to 100 characters without control characters".into(),
        );
    }
    if registration.redirect_uris.is_empty() {
        return Err("at least one redirect URI is required".into());
    }
    for uri in registration
        .redirect_uris
        .iter()
        .chain(&registration.post_logout_redirect_uris)
    {
        check_uri(uri)?;
    }
    let alg = registration.id_token_alg.as_deref().unwrap_or("RS256");
    let alg = [KeyKind::Oidc.alg(), KeyKind::Identity.alg()]
        .into_iter()
        .find(|known| *known == alg)
        .ok_or_else(|| format!("unsupported ID token algorithm {alg:?} (RS256 or EdDSA)"))?;
    let client_id = random_alphanumeric(24);
    let secret = (!registration.public).then(|| random_alphanumeric(43));
    let client = OidcClient {
        client_id: client_id.clone(),
        name: name.to_owned(),
        secret_hash: secret.as_deref().map(SecretHash::of),
        redirect_uris: registration.redirect_uris,
        post_logout_redirect_uris: registration.post_logout_redirect_uris,
        id_token_alg: alg.to_owned(),
        created_at: now,
    };
    Ok((
        client,
        NewClient {
            client_id,
            client_secret: secret,
        },
    ))
}

/// Whether `secret` is the client's (constant time over the hashes).
pub fn secret_matches(client: &OidcClient, secret: &str) -> bool {
    client.secret_hash.is_some_and(|stored| {
        aws_lc_rs::constant_time::verify_slices_are_equal(&stored.0, &SecretHash::of(secret).0)
            .is_ok()
    })
}

fn check_uri(uri: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("redirect URI {uri:?}: {why}"));
    if uri.len() > 2000 || uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("too long or holds whitespace");
    }
    if uri.contains('#') {
        return bad("a redirect URI has no fragment");
    }
    let Some((scheme, rest)) = uri.split_once(':') else {
        return bad("not an absolute URI");
    };
    let scheme = scheme.to_ascii_lowercase();
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    {
        return bad("not an absolute URI");
    }
    if scheme == "https" || scheme == "http" {
        let Some(authority) = rest.strip_prefix("//") else {
            return bad("not an absolute URI");
        };
        let authority = authority.split(['/', '?']).next().unwrap_or("");
        let host = authority
            .rsplit_once('@')
            .map_or(authority, |(_, host)| host);
        let host = match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => host.split(':').next().unwrap_or(""),
        };
        if host.is_empty() {
            return bad("no host");
        }
        if authority.contains('@') {
            return bad("user information is not allowed");
        }
        if scheme == "http" && !is_loopback(host) {
            return bad("http is allowed for loopback hosts only (use https)");
        }
        return Ok(());
    }
    // A native app's private-use scheme is a reversed domain name.
    if scheme.contains('.') {
        return Ok(());
    }
    bad("use https (http for loopback only, or a reversed-domain private-use scheme)")
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registration(uris: &[&str]) -> Registration {
        Registration {
            name: "Help desk".into(),
            redirect_uris: uris.iter().map(|uri| (*uri).to_owned()).collect(),
            post_logout_redirect_uris: Vec::new(),
            public: false,
            id_token_alg: None,
        }
    }

    #[test]
    fn redirect_uris_are_checked() {
        for good in [
            "https://help.example/callback",
            "https://help.example:8443/cb?x=1",
            "http://127.0.0.1:9000/cb",
            "http://localhost/cb",
            "http://[::1]:80/cb",
            "com.example.app:/oauth2redirect",
        ] {
            assert!(check_uri(good).is_ok(), "{good}");
        }
        for bad in [
            "http://help.example/cb",
            "https://help.example/cb#frag",
            "/relative",
            "https://user@help.example/cb",
            "javascript:alert(1)",
            "https://help.example/a b",
            "https:///cb",
        ] {
            assert!(check_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_registration_has_a_secret_unless_public_and_a_known_alg() {
        let (client, shown) = register(registration(&["https://a.example/cb"]), 7).unwrap();
        let secret = shown.client_secret.unwrap();
        assert_eq!(secret.len(), 43);
        assert!(secret_matches(&client, &secret));
        assert!(!secret_matches(&client, "wrong"));
        assert_eq!(client.id_token_alg, "RS256");
        assert!(!format!("{client:?}").contains(&secret));

        let mut public = registration(&["https://a.example/cb"]);
        public.public = true;
        public.id_token_alg = Some("EdDSA".into());
        let (client, shown) = register(public, 7).unwrap();
        assert!(shown.client_secret.is_none() && client.is_public());
        assert!(!secret_matches(&client, ""));
        assert_eq!(client.id_token_alg, "EdDSA");

        let mut bad_alg = registration(&["https://a.example/cb"]);
        bad_alg.id_token_alg = Some("HS256".into());
        assert!(register(bad_alg, 7).is_err());
        assert!(register(registration(&[]), 7).is_err());
    }
}
