//! Counting calls that wait in a queue, so a test orders events by what
//! it observes (every call has reached the queue; some still wait there)
//! instead of sleeping for a guess.
//!
//! A call to the store or to the SQLite writer puts its job on the queue
//! the first time it is polled and then waits for the answer: once
//! polled, it is queued. [`Waiting::track`] wraps such a call and counts
//! both moments.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Counters shared by every call tracked with one `Waiting`.
#[derive(Clone, Default)]
pub struct Waiting {
    polled: Arc<AtomicUsize>,
    answered: Arc<AtomicUsize>,
}

impl Waiting {
    /// `call`, counted as queued once first polled and as answered once
    /// done.
    pub fn track<F: Future>(&self, call: F) -> impl Future<Output = F::Output> + use<F> {
        let (polled, answered) = (Arc::clone(&self.polled), Arc::clone(&self.answered));
        async move {
            let mut call = pin!(call);
            let mut first = true;
            std::future::poll_fn(|context| {
                let poll = call.as_mut().poll(context);
                if std::mem::take(&mut first) {
                    polled.fetch_add(1, Ordering::SeqCst);
                }
                if poll.is_ready() {
                    answered.fetch_add(1, Ordering::SeqCst);
                }
                poll
            })
            .await
        }
    }

    /// Calls that have reached their queue (polled at least once).
    pub fn queued(&self) -> usize {
        self.polled.load(Ordering::SeqCst)
    }

    /// Calls answered.
    pub fn answered(&self) -> usize {
        self.answered.load(Ordering::SeqCst)
    }

    /// Calls queued and not yet answered.
    pub fn waiting(&self) -> usize {
        self.queued().saturating_sub(self.answered())
    }

    /// Waits until `count` calls have reached their queue; panics after
    /// 10 s saying how many did. Polls every millisecond: the calls may
    /// be answered soon after.
    pub async fn until_queued(&self, count: usize) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while self.queued() < count {
            assert!(
                tokio::time::Instant::now() < deadline,
                "only {} of {count} calls reached the queue within 10 s",
                self.queued()
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}
