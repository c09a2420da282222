//! Bearer-token authentication of the admin API.
//!
//! The tokens' hashes are cached in the process for at most
//! `CACHE_TTL`, so a token revoked on any instance stops working
//! everywhere within that time (the contract allows 5 s). A presented
//! token is hashed and compared against every stored hash in constant
//! time, without stopping at a match, so the answer's timing says nothing
//! about how much of a guess was right.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use payfac_domain::SecretHash;
use payfac_store::{AdminCredential, Store, unix_now};

use super::problem::Problem;

/// How long the token hashes are trusted before storage is asked again.
pub const CACHE_TTL: Duration = Duration::from_secs(2);

/// A token's last-used time is written at most this often.
const TOUCH_INTERVAL: Duration = Duration::from_secs(60);

/// The admin token's name, put in the request's extensions.
#[derive(Debug, Clone)]
pub struct Actor(pub String);

/// The token hashes and when they were loaded.
type Cached = Option<(Instant, Arc<Vec<AdminCredential>>)>;

#[derive(Clone)]
pub struct Tokens {
    store: Arc<dyn Store>,
    cache: Arc<Mutex<Cached>>,
    touched: Arc<Mutex<HashMap<String, Instant>>>,
}

impl Tokens {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            cache: Arc::default(),
            touched: Arc::default(),
        }
    }

    async fn credentials(&self) -> Result<Arc<Vec<AdminCredential>>, payfac_store::StoreError> {
        if let Some((loaded, credentials)) = &*self.cache.lock().expect("token cache lock")
            && loaded.elapsed() < CACHE_TTL
        {
            return Ok(credentials.clone());
        }
        let credentials = Arc::new(self.store.admin_credentials().await?);
        *self.cache.lock().expect("token cache lock") = Some((Instant::now(), credentials.clone()));
        Ok(credentials)
    }

    /// The name of the token presented, if it is a current one.
    async fn authenticate(&self, presented: &str) -> Result<Option<String>, Problem> {
        let credentials = self
            .credentials()
            .await
            .map_err(|error| Problem::from(super::actions::Refusal::from(error)))?;
        let hash = SecretHash::of(presented);
        let now = payfac_store::unix_now();
        let mut found = None;
        // An expired token is compared like any other (constant time over
        // the whole list) and then refused like an unknown one.
        for credential in credentials
            .iter()
            .filter(|credential| credential.expires_at.is_none_or(|at| now < at))
        {
            let same = aws_lc_rs::constant_time::verify_slices_are_equal(
                &credential.secret_hash.0,
                &hash.0,
            )
            .is_ok();
            if same {
                found = Some(credential.name.clone());
            }
        }
        Ok(found)
    }

    fn touch(&self, name: &str) {
        let due = {
            let mut touched = self.touched.lock().expect("token touch lock");
            let due = touched
                .get(name)
                .is_none_or(|last| last.elapsed() >= TOUCH_INTERVAL);
            if due {
                touched.insert(name.to_owned(), Instant::now());
            }
            due
        };
        if due {
            let (store, name) = (self.store.clone(), name.to_owned());
            tokio::spawn(async move {
                if let Err(error) = store.touch_admin_token(&name, unix_now()).await {
                    tracing::warn!(%error, "could not record an admin token's last use");
                }
            });
        }
    }
}

/// `Authorization: Bearer <token>`, the token alone.
fn bearer(request: &Request) -> Option<&str> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Lets a request through only with a current admin token.
pub async fn require_token(
    State(tokens): State<Tokens>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(presented) = bearer(&request) else {
        return Problem::unauthorized().into_response();
    };
    match tokens.authenticate(presented).await {
        Ok(Some(name)) => {
            tokens.touch(&name);
            request.extensions_mut().insert(Actor(name));
            next.run(request).await
        }
        Ok(None) => {
            tracing::warn!("admin API call with an unknown or revoked token");
            Problem::unauthorized().into_response()
        }
        Err(problem) => problem.into_response(),
    }
}
