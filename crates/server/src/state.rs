use std::sync::Arc;

use payfac_store::Store;

use crate::Config;
use crate::merchants::MerchantDirectory;

/// Shared by every handler. Every middleware layer and handler takes its
/// own copy of the state for each request, so a copy is one reference
/// count: cloning the fields one by one was a fifth of the server's CPU
/// on `/healthz` (docs/PERFORMANCE.md, "Where the time goes").
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What every request may need, built once at startup.
pub struct Shared {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub merchants: MerchantDirectory,
    /// Bounds the requests waiting on storage.
    pub backlog: Backlog,
    /// Signing keys and token settings of the identity hand-off.
    pub identity: crate::identity::Handoff,
    /// Gateway mode's upstream; `None` serves the demo storefront.
    pub upstream: Option<crate::gateway::Upstream>,
    /// The abuse limits; `None` when they are off.
    pub limiter: Option<Arc<crate::ratelimit::Limiter>>,
    /// The OpenID Provider; `None` without `--public-url`.
    pub oidc: Option<crate::oidc::Provider>,
    /// Secrets derived from the key in storage (shared by instances).
    pub keys: Arc<crate::keys::ServiceKeys>,
}

/// The bounds on requests waiting on storage: merchant calls, and code
/// redemptions (which need no authentication, so a flood of guesses
/// meets a bound too). Past a bound, callers get 503 with `Retry-After`
/// at once instead of an ever-longer queue (docs/RELIABILITY.md,
/// "Overload"). Cheap to clone; every clone sees the same counts.
#[derive(Clone)]
pub struct Backlog {
    pub writes: Arc<tokio::sync::Semaphore>,
    pub sign_ins: Arc<tokio::sync::Semaphore>,
    max_writes: usize,
    max_sign_ins: usize,
}

impl Backlog {
    pub fn new(max_writes: usize, max_sign_ins: usize) -> Self {
        Self {
            writes: Arc::new(tokio::sync::Semaphore::new(max_writes)),
            sign_ins: Arc::new(tokio::sync::Semaphore::new(max_sign_ins)),
            max_writes,
            max_sign_ins,
        }
    }

    /// Merchant calls holding a permit now (waiting on or using storage).
    pub fn pending_writes(&self) -> usize {
        self.max_writes - self.writes.available_permits()
    }

    /// Code redemptions holding a permit now.
    pub fn pending_sign_ins(&self) -> usize {
        self.max_sign_ins - self.sign_ins.available_permits()
    }
}
