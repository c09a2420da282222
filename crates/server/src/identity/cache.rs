//! A per-instance memo of each recent session's identity headers, so a
//! signed-in buyer's page views do not each cost a storage round trip and
//! an Ed25519 signature (issue 14's speed target).
//!
//! Freshness is bounded on both sides: a session is checked against
//! storage again at least every `RECHECK` (so a sign-out or expiry on
//! another instance reaches this one within a second, and the idle timer
//! is still refreshed), and a token is handed out again only while it has
//! at least `ttl - REUSE` left. A sign-out on this instance forgets the
//! session at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use payfac_domain::SecretHash;

/// Longest time a session's answer from storage is reused.
pub const RECHECK: Duration = Duration::from_secs(1);

/// Longest time a minted token is handed out again, seconds.
pub const REUSE_SECS: i64 = 10;

/// Past this many sessions the memo starts over (a cheap bound on memory).
const CAPACITY: usize = 100_000;

/// The headers of one session, as last built.
pub struct Entry {
    secret_hash: SecretHash,
    checked: Instant,
    minted_at: i64,
    /// `None`: storage said the session is not live.
    pub headers: Option<HeaderMap>,
}

#[derive(Default)]
pub struct HandoffCache {
    entries: Mutex<HashMap<i64, Arc<Entry>>>,
}

impl HandoffCache {
    /// The memo of `session` if it is fresh at `now`.
    pub fn fresh(&self, session: i64, secret_hash: &SecretHash, now: i64) -> Option<Arc<Entry>> {
        let entry = self
            .entries
            .lock()
            .expect("cache lock")
            .get(&session)?
            .clone();
        let fresh = entry.secret_hash == *secret_hash
            && entry.checked.elapsed() < RECHECK
            && now - entry.minted_at < REUSE_SECS;
        fresh.then_some(entry)
    }

    pub fn remember(
        &self,
        session: i64,
        secret_hash: SecretHash,
        now: i64,
        headers: Option<HeaderMap>,
    ) -> Arc<Entry> {
        let entry = Arc::new(Entry {
            secret_hash,
            checked: Instant::now(),
            minted_at: now,
            headers,
        });
        let mut entries = self.entries.lock().expect("cache lock");
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(session, entry.clone());
        entry
    }

    /// Forgets every session: after a change that ends sessions this
    /// instance cannot name (all of a buyer's or a merchant's). Each live
    /// session costs one storage lookup again.
    pub fn clear(&self) {
        self.entries.lock().expect("cache lock").clear();
    }

    pub fn forget(&self, session: i64) {
        self.entries.lock().expect("cache lock").remove(&session);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_memo_is_used_only_for_the_same_secret_and_while_fresh() {
        let cache = HandoffCache::default();
        let secret = SecretHash([1; 32]);
        cache.remember(7, secret, 100, Some(HeaderMap::new()));
        assert!(cache.fresh(7, &secret, 100).is_some());
        assert!(cache.fresh(7, &SecretHash([2; 32]), 100).is_none());
        assert!(cache.fresh(8, &secret, 100).is_none());
        assert!(cache.fresh(7, &secret, 100 + REUSE_SECS).is_none());
        cache.forget(7);
        assert!(cache.fresh(7, &secret, 100).is_none());
    }

    #[test]
    fn a_memo_goes_stale_after_the_recheck_interval() {
        let cache = HandoffCache::default();
        let secret = SecretHash([1; 32]);
        cache.remember(7, secret, 100, None);
        std::thread::sleep(RECHECK + Duration::from_millis(50));
        assert!(cache.fresh(7, &secret, 100).is_none());
    }
}
