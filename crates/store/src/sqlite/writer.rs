//! The single SQLite writer, with group commit.
//!
//! SQLite has one writer at a time, and each commit costs a sync of the
//! WAL. Requests therefore queue their write jobs to one thread, which runs
//! every job waiting in the queue inside one transaction — each in its own
//! savepoint, so one job's failure rolls back only that job — commits once,
//! and only then answers each job. An answer is never sent for work that
//! is not durable.
//!
//! The thread also owns what only the writer may change, `LiveNonces`,
//! and keeps it in step with what each transaction commits.

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::nonces::LiveNonces;
use crate::StoreError;

/// At most this many jobs share one transaction.
const MAX_BATCH: usize = 512;

/// When the last batch held at least `COMMIT_SIBLINGS` jobs (others are
/// writing too), the writer waits `COMMIT_DELAY` after a batch's first job
/// before it starts, as PostgreSQL's `commit_delay` does. More jobs then
/// share each commit, whose WAL writes and sync were over half of the
/// writer's CPU. Measured in alternating runs (docs/PERFORMANCE.md): writer
/// CPU per user-sync 34 → 25 µs, user-sync 18k → 20k req/s, p99 8.7 →
/// 6.1 ms. A lone caller never waits.
const COMMIT_DELAY: std::time::Duration = std::time::Duration::from_micros(200);
const COMMIT_SIBLINGS: usize = 4;

type Reply = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
/// A job runs against the connection inside the batch transaction, or gets
/// `None` when the transaction could not begin.
type Job = Box<dyn FnOnce(Option<(&Connection, &mut LiveNonces)>) -> Reply + Send>;

#[derive(Clone)]
pub(crate) struct Writer {
    jobs: mpsc::UnboundedSender<Job>,
    /// Whether the last batch committed (false after a full disk, an I/O
    /// error or a lock held past the busy timeout); readiness reads it.
    committed: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Writer {
    pub(crate) fn start(connection: Connection) -> Self {
        let (jobs, queue) = mpsc::unbounded_channel();
        let committed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let last = committed.clone();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                raise_priority();
                run(connection, queue, &last)
            })
            .expect("spawning the SQLite writer thread");
        Self { jobs, committed }
    }

    /// Whether the last batch committed.
    pub(crate) fn last_batch_committed(&self) -> bool {
        self.committed.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Runs `work` atomically in the next group commit and returns its
    /// result once the commit is durable.
    pub(crate) async fn write<T, E>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<rusqlite::Error> + From<StoreError> + Send + 'static,
    {
        self.write_with_nonces(move |connection, _| work(connection))
            .await
    }

    /// `write` for work that also checks or records nonces.
    pub(crate) async fn write_with_nonces<T, E>(
        &self,
        work: impl FnOnce(&Connection, &mut LiveNonces) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<rusqlite::Error> + From<StoreError> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(move |transaction| {
            let result = match transaction {
                Some((connection, nonces)) => in_savepoint(connection, nonces, work),
                None => Err(StoreError::Unavailable("could not begin a transaction".into()).into()),
            };
            Box::new(move |committed: Result<(), StoreError>| {
                let _ = answer.send(committed.map_err(E::from).and(result));
            })
        });
        self.jobs
            .send(job)
            .map_err(|_| StoreError::Unavailable("the SQLite writer has stopped".into()))?;
        answered
            .await
            .map_err(|_| StoreError::Unavailable("the SQLite writer has stopped".into()))?
    }
}

/// Scheduling priority (nice value) the writer asks for.
const WRITER_NICE: i32 = -10;

/// Every write request waits on this one thread, so when it waits for a
/// CPU behind request threads, every request waits. It therefore asks the
/// scheduler for a higher priority. That takes root or `CAP_SYS_NICE`;
/// without them the thread keeps the process's priority. Measured: code
/// redemption 0.27 → 0.33–0.38 × `/healthz` (docs/PERFORMANCE.md).
fn raise_priority() {
    #[cfg(target_os = "linux")]
    {
        // On Linux a "process" priority given a thread id applies to that
        // thread alone.
        let thread = rustix::thread::gettid();
        let raised = rustix::process::setpriority_process(Some(thread), WRITER_NICE).is_ok();
        if raised {
            tracing::debug!(nice = WRITER_NICE, "SQLite writer priority raised");
        } else {
            tracing::info!(
                "SQLite writer keeps the process priority (raising it needs CAP_SYS_NICE)"
            );
        }
    }
}

fn in_savepoint<T, E>(
    connection: &Connection,
    nonces: &mut LiveNonces,
    work: impl FnOnce(&Connection, &mut LiveNonces) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<rusqlite::Error>,
{
    // Cached statements: the savepoint pair runs for every job, and parsing
    // it each time showed up in the writer's profile.
    connection.prepare_cached("SAVEPOINT job")?.execute([])?;
    let mark = nonces.mark();
    let result = work(connection, nonces).and_then(|value| {
        connection.prepare_cached("RELEASE job")?.execute([])?;
        Ok(value)
    });
    if result.is_err() {
        nonces.undo_to(mark);
        connection.prepare_cached("ROLLBACK TO job")?.execute([])?;
        connection.prepare_cached("RELEASE job")?.execute([])?;
    }
    result
}

fn run(
    connection: Connection,
    mut queue: mpsc::UnboundedReceiver<Job>,
    last_committed: &std::sync::atomic::AtomicBool,
) {
    let mut nonces = LiveNonces::default();
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut last_batch_len = 0;
    while let Some(first) = queue.blocking_recv() {
        batch.push(first);
        if last_batch_len >= COMMIT_SIBLINGS {
            std::thread::sleep(COMMIT_DELAY);
        }
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        last_batch_len = batch.len();
        let began = connection.execute_batch("BEGIN IMMEDIATE").is_ok();
        // Some errors (a full disk, an I/O error) make SQLite roll the whole
        // transaction back by itself; the jobs after that must not run in
        // autocommit mode, and nobody in the batch may be told "committed".
        let in_transaction = || began && !connection.is_autocommit();
        let replies: Vec<Reply> = batch
            .drain(..)
            .map(|job| job(in_transaction().then_some((&connection, &mut nonces))))
            .collect();
        let committed = if in_transaction() {
            connection.execute_batch("COMMIT").map_err(|error| {
                let _ = connection.execute_batch("ROLLBACK");
                StoreError::from(error)
            })
        } else {
            Err(StoreError::Unavailable(
                "could not begin a transaction".into(),
            ))
        };
        nonces.finish(committed.is_ok());
        last_committed.store(committed.is_ok(), std::sync::atomic::Ordering::Relaxed);
        for reply in replies {
            reply(committed.clone());
        }
    }
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
