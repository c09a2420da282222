//! Group commit for the request path on PostgreSQL: the queue in front of
//! the batched statements (`sync`, `redeem`).
//!
//! One call per transaction cost PostgreSQL ~150 µs of CPU, mostly per
//! statement and per commit rather than per row (docs/PERFORMANCE.md). So,
//! as the SQLite writer does, the calls waiting at a moment go to the
//! database together: one statement over arrays, one transaction, one
//! round trip, and each caller is answered after that commit. A batch
//! that fails writes nothing, and every caller in it gets the error
//! (10004, retryable unchanged).
//!
//! A batch never holds two calls that share a key (a row an
//! `ON CONFLICT DO UPDATE` may touch only once per statement): such a call
//! waits for the next batch, where it meets the committed row. Code
//! redemptions have no keys: their statement picks one winner per code.
//! One batch runs at a time per instance, so an instance's batches never
//! wait on each other's row locks. Batches of two instances can (the same
//! request sent to both, one buyer synced at both at once) and, locking
//! rows in different orders, may deadlock; PostgreSQL then aborts one,
//! which is rolled back whole and run again.

use std::collections::HashSet;

use deadpool_postgres::{Pool, PoolError};
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::error::SqlState;

use super::connect::violates;
use crate::StoreError;

/// Calls per statement, at most.
const MAX_BATCH: usize = 128;

/// Attempts at one batch after a deadlock (or, for syncs, a colliding
/// random buyer id) rolled it back.
const ATTEMPTS: usize = 3;

pub(super) struct Call<R, O> {
    pub(super) request: R,
    pub(super) answer: oneshot::Sender<Result<O, StoreError>>,
}

/// A kind of call that is sent to the database in batches.
pub(super) trait Batched: Send + 'static {
    type Request: Send + 'static;
    type Outcome: Send + 'static;

    /// What no two calls of one batch may share.
    fn keys(request: &Self::Request) -> Vec<String>;

    /// What a successful attempt found out, for `answer`.
    type Answers: Send;

    /// One attempt at a batch: its statement, in one transaction.
    fn attempt(
        pool: &Pool,
        batch: &[Call<Self::Request, Self::Outcome>],
    ) -> impl Future<Output = Result<Self::Answers, Failure>> + Send;

    /// Readies the batch for another attempt after `failure`.
    fn before_retry(_batch: &mut [Call<Self::Request, Self::Outcome>], _failure: &Failure) {}

    /// Answers every call of a batch whose attempt succeeded.
    fn answer(batch: Vec<Call<Self::Request, Self::Outcome>>, answers: Self::Answers);
}

/// The queue of one kind of call; cloning shares it.
pub(super) struct Batcher<B: Batched> {
    calls: mpsc::UnboundedSender<Call<B::Request, B::Outcome>>,
}

impl<B: Batched> Batcher<B> {
    /// Starts the batching task on the current tokio runtime.
    pub(super) fn start(pool: Pool) -> Self {
        let (calls, queue) = mpsc::unbounded_channel();
        tokio::spawn(run::<B>(pool, queue));
        Self { calls }
    }

    pub(super) async fn call(&self, request: B::Request) -> Result<B::Outcome, StoreError> {
        let (answer, answered) = oneshot::channel();
        let stopped = || StoreError::Unavailable("the PostgreSQL batcher has stopped".into());
        self.calls
            .send(Call { request, answer })
            .map_err(|_| stopped())?;
        answered.await.map_err(|_| stopped())?
    }
}

async fn run<B: Batched>(
    pool: Pool,
    mut queue: mpsc::UnboundedReceiver<Call<B::Request, B::Outcome>>,
) {
    let mut waiting = Vec::new();
    loop {
        if waiting.is_empty() {
            match queue.recv().await {
                Some(call) => waiting.push(call),
                None => return,
            }
        }
        while waiting.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(call) => waiting.push(call),
                Err(_) => break,
            }
        }
        let (batch, later) = distinct(std::mem::take(&mut waiting), B::keys);
        waiting = later;
        execute::<B>(&pool, batch).await;
    }
}

/// Runs one batch, again while it fails in a way that may pass on another
/// attempt (up to `ATTEMPTS`), and answers every call in it.
async fn execute<B: Batched>(pool: &Pool, mut batch: Vec<Call<B::Request, B::Outcome>>) {
    let mut result = B::attempt(pool, &batch).await;
    for _ in 1..ATTEMPTS {
        match &result {
            Err(failure) if failure.may_pass_again() => B::before_retry(&mut batch, failure),
            _ => break,
        }
        result = B::attempt(pool, &batch).await;
    }
    match result {
        Ok(answers) => B::answer(batch, answers),
        Err(failure) => fail(batch, failure.into_error()),
    }
}

/// A batch and the calls that wait for a later one.
type Split<R, O> = (Vec<Call<R, O>>, Vec<Call<R, O>>);

/// Splits `calls` into a batch without two calls sharing a key and the
/// calls that must wait, both in arrival order.
fn distinct<R, O>(calls: Vec<Call<R, O>>, keys: fn(&R) -> Vec<String>) -> Split<R, O> {
    let mut taken = HashSet::new();
    calls.into_iter().partition(|call| {
        let keys = keys(&call.request);
        if keys.iter().any(|key| taken.contains(key)) {
            return false;
        }
        taken.extend(keys);
        true
    })
}

/// Answers every call of a batch that failed as a whole.
fn fail<R, O>(batch: Vec<Call<R, O>>, error: StoreError) {
    for call in batch {
        let _ = call.answer.send(Err(error.clone()));
    }
}

/// Why an attempt at a batch failed. The statement failed as a whole, so
/// nothing of it was written and the first two may simply run again.
pub(super) enum Failure {
    /// PostgreSQL aborted it to break a deadlock with another instance.
    Deadlock,
    /// A random new buyer id was taken: run again with fresh ids.
    UserIdTaken,
    Failed(StoreError),
}

impl Failure {
    /// Whether the same batch may succeed if run again (after
    /// `Batched::before_retry`).
    fn may_pass_again(&self) -> bool {
        matches!(self, Self::Deadlock | Self::UserIdTaken)
    }

    /// The error every caller of the batch gets once attempts are over.
    pub(super) fn into_error(self) -> StoreError {
        match self {
            Self::Deadlock => StoreError::Unavailable("deadlocked repeatedly".into()),
            Self::UserIdTaken => StoreError::Unavailable("could not allocate a user id".into()),
            Self::Failed(error) => error,
        }
    }
}

impl From<tokio_postgres::Error> for Failure {
    fn from(error: tokio_postgres::Error) -> Self {
        if error.code() == Some(&SqlState::T_R_DEADLOCK_DETECTED) {
            Self::Deadlock
        } else if violates(&error, "buyers_pkey") {
            Self::UserIdTaken
        } else {
            Self::Failed(error.into())
        }
    }
}

impl From<PoolError> for Failure {
    fn from(error: PoolError) -> Self {
        Self::Failed(error.into())
    }
}
