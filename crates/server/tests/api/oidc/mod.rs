//! The OpenID Provider (issue 30) end to end over HTTP, on both stores:
//! `both!` runs each test on SQLite and, with `PAYFAC_TEST_POSTGRES_URL`,
//! on PostgreSQL. ID tokens are verified with `jsonwebtoken` against the
//! published JWKS, independently of the signer.

mod flow;
mod logout;
mod refusals;

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use payfac_server::Config;
use payfac_test_support::postgres::TestDatabase;
use serde_json::Value;

use crate::helpers::{TestApp, session_set_by, spawn_app_on};

/// `--public-url` of every test app (with the trailing `/` the issuer
/// drops).
pub const ISSUER: &str = "https://id.example";

/// A PKCE verifier (RFC 7636 Appendix B) and its S256 challenge.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

pub struct OidcApp {
    pub app: TestApp,
    database: Option<TestDatabase>,
}

/// A registered client.
pub struct Client {
    pub id: String,
    pub secret: Option<String>,
    pub redirect_uri: String,
    pub post_logout: String,
}

fn provider_on(config: &mut Config) {
    config.public_url = Some(format!("{ISSUER}/"));
    config.insecure_cookies = true;
}

impl OidcApp {
    pub async fn sqlite() -> Self {
        Self::sqlite_with(|_| {}).await
    }

    pub async fn sqlite_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("payfac.db").display());
        let app = spawn_app_on(dir, &url, |config| {
            provider_on(config);
            adjust(config);
        })
        .await;
        Self {
            app,
            database: None,
        }
    }

    pub async fn postgres() -> Self {
        let database = TestDatabase::create().await;
        let app = spawn_app_on(tempfile::tempdir().unwrap(), &database.url, provider_on).await;
        Self {
            app,
            database: Some(database),
        }
    }

    /// Registers a client as the CLI does.
    pub async fn register(&self, public: bool, alg: &str) -> Client {
        let name = payfac_domain::random_alphanumeric(6).to_lowercase();
        let redirect_uri = format!("https://{name}.example/callback");
        let post_logout = format!("https://{name}.example/signed-out");
        let shown = payfac_server::admin::actions::Operator {
            store: self.app.store.as_ref(),
            actor: "cli",
        }
        .add_oidc_client(payfac_server::oidc::Registration {
            name,
            redirect_uris: vec![redirect_uri.clone()],
            post_logout_redirect_uris: vec![post_logout.clone()],
            public,
            id_token_alg: Some(alg.to_owned()),
        })
        .await
        .unwrap();
        Client {
            id: shown.client_id,
            secret: shown.client_secret,
            redirect_uri,
            post_logout,
        }
    }

    /// A browser signed in as `user_no` by a merchant's code: its session.
    pub async fn signed_in(&self, user_no: &str) -> String {
        let code = self.app.code_for(user_no).await;
        let response = self
            .app
            .get(&format!("/account?authorizationCode={code}"), None)
            .await;
        session_set_by(&response).expect("a valid code signs in")
    }

    /// `GET /_payfac/oidc/authorize?params` from a browser with `session`.
    pub async fn authorize(
        &self,
        session: Option<&str>,
        params: &[(&str, &str)],
    ) -> reqwest::Response {
        let query = form(params);
        self.app
            .get(&format!("/_payfac/oidc/authorize?{query}"), session)
            .await
    }

    /// The usual request of `client` (openid profile email, state, nonce,
    /// S256 challenge), with `extra` replacing or adding parameters.
    pub async fn authorize_as(
        &self,
        client: &Client,
        session: Option<&str>,
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut params: Vec<(&str, &str)> = vec![
            ("response_type", "code"),
            ("client_id", &client.id),
            ("redirect_uri", &client.redirect_uri),
            ("scope", "openid profile email"),
            ("state", "af0ifjsldkj"),
            ("nonce", "n-0S6_WzA2Mj"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ];
        for (name, value) in extra {
            params.retain(|(known, _)| known != name);
            if !value.is_empty() {
                params.push((name, value));
            }
        }
        self.authorize(session, &params).await
    }

    /// A code for `client` issued to the browser with `session`.
    pub async fn code(&self, client: &Client, session: &str) -> String {
        let response = self.authorize_as(client, Some(session), &[]).await;
        let answer = redirected(&response, &client.redirect_uri);
        answer["code"].clone()
    }

    /// `POST /_payfac/oidc/token`, with Basic credentials when given.
    pub async fn token(&self, params: &[(&str, &str)], basic: Option<(&str, &str)>) -> Answered {
        let mut request = self
            .app
            .http
            .post(format!("{}/_payfac/oidc/token", self.app.address))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(params));
        if let Some((id, secret)) = basic {
            let encoded =
                base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
            request = request.header("authorization", format!("Basic {encoded}"));
        }
        Answered::of(request.send().await.unwrap()).await
    }

    /// The token request of `client` for `code` with the usual verifier,
    /// authenticating as the client registered (Basic, or none if public).
    pub async fn redeem(&self, client: &Client, code: &str) -> Answered {
        let mut params = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", client.redirect_uri.as_str()),
            ("code_verifier", VERIFIER),
        ];
        match &client.secret {
            Some(secret) => self.token(&params, Some((&client.id, secret))).await,
            None => {
                params.push(("client_id", &client.id));
                self.token(&params, None).await
            }
        }
    }

    pub async fn userinfo(&self, access_token: &str) -> Answered {
        let request = self
            .app
            .http
            .get(format!("{}/_payfac/oidc/userinfo", self.app.address))
            .header("authorization", format!("Bearer {access_token}"));
        Answered::of(request.send().await.unwrap()).await
    }

    pub async fn jwks(&self) -> JwkSet {
        let response = self.app.get("/.well-known/jwks.json", None).await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// Verifies an ID token with `jsonwebtoken` against the JWKS: the
    /// signature, `iss`, `aud` and expiry.
    pub async fn verify(&self, token: &str, client: &Client, alg: Algorithm) -> Value {
        let header = jsonwebtoken::decode_header(token).unwrap();
        assert_eq!(header.alg, alg);
        let set = self.jwks().await;
        let jwk = set
            .find(&header.kid.expect("a kid"))
            .expect("the kid is published");
        let key = DecodingKey::from_jwk(jwk).unwrap();
        let mut validation = Validation::new(alg);
        validation.set_audience(&[&client.id]);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        jsonwebtoken::decode::<Value>(token, &key, &validation)
            .unwrap()
            .claims
    }

    /// Runs `sql` behind the store's back (to age a code or a token).
    pub async fn sql(&self, sql: &str) {
        match &self.database {
            Some(database) => database.connect().await.batch_execute(sql).await.unwrap(),
            None => {
                let path = self.app.db_path.clone();
                let sql = sql.to_owned();
                tokio::task::spawn_blocking(move || {
                    rusqlite::Connection::open(path)
                        .unwrap()
                        .execute_batch(&sql)
                        .unwrap()
                })
                .await
                .unwrap()
            }
        }
    }
}

/// A response's status, headers and JSON body (`Null` if none).
pub struct Answered {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub json: Value,
}

impl Answered {
    async fn of(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let json = response.json().await.unwrap_or(Value::Null);
        Self {
            status,
            headers,
            json,
        }
    }

    /// An RFC 6749 §5.2 error: status, `error`, JSON, never cached.
    #[track_caller]
    pub fn assert_error(&self, status: u16, error: &str) {
        assert_eq!(
            (self.status, self.json["error"].as_str()),
            (status, Some(error)),
            "{}",
            self.json
        );
        assert_eq!(self.headers["cache-control"], "no-store");
        assert!(self.json["error_description"].is_string());
    }
}

pub fn form(params: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
}

/// The query parameters of a redirect to `redirect_uri` (a 303 that is
/// not cached), each at most once.
#[track_caller]
pub fn redirected(response: &reqwest::Response, redirect_uri: &str) -> HashMap<String, String> {
    assert_eq!(response.status(), 303, "{response:?}");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let location = response.headers()["location"].to_str().unwrap();
    let query = location
        .strip_prefix(&format!("{redirect_uri}?"))
        .unwrap_or_else(|| panic!("{location} is not a redirect to {redirect_uri}"));
    let mut params = HashMap::new();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        assert!(
            params
                .insert(name.into_owned(), value.into_owned())
                .is_none()
        );
    }
    params
}

/// An OAuth error redirect: `error`, the request's `state`, and `iss`.
#[track_caller]
pub fn assert_error_redirect(response: &reqwest::Response, client: &Client, error: &str) {
    let params = redirected(response, &client.redirect_uri);
    assert_eq!(
        params.get("error").map(String::as_str),
        Some(error),
        "{params:?}"
    );
    assert_eq!(params["state"], "af0ifjsldkj");
    assert_eq!(params["iss"], ISSUER);
    assert!(!params.contains_key("code"));
}

/// The base64url SHA-256 of a verifier, as a client computes it.
pub fn s256(verifier: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    URL_SAFE_NO_PAD.encode(digest)
}

/// Runs each named test on both stores.
macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(crate::oidc::OidcApp::sqlite().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[ignore = "needs PostgreSQL at PAYFAC_TEST_POSTGRES_URL; scripts/test.sh runs it"]
            async fn postgres() {
                super::$name(crate::oidc::OidcApp::postgres().await).await;
            }
        }
    )*};
}
pub(crate) use both;
