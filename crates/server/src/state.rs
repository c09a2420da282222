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
    /// Bounds the merchant requests waiting on storage; past it, callers
    /// get 10004 with `Retry-After` instead of an ever-longer queue.
    pub storage_permits: Arc<tokio::sync::Semaphore>,
    /// The same for code redemptions, which need no authentication: a
    /// flood of guesses meets this bound instead of an ever-longer queue.
    pub sign_in_permits: Arc<tokio::sync::Semaphore>,
    /// Signing keys and token settings of the identity hand-off.
    pub identity: crate::identity::Handoff,
    /// Gateway mode's upstream; `None` serves the demo storefront.
    pub upstream: Option<crate::gateway::Upstream>,
    /// The abuse limits; `None` when they are off.
    pub limiter: Option<Arc<crate::ratelimit::Limiter>>,
    /// Secrets derived from the key in storage (shared by instances).
    pub keys: Arc<crate::keys::ServiceKeys>,
}
