//! The group commit's promises (docs/RELIABILITY.md, "SQLite group
//! commit"), against a real database file:
//!
//! - a failing job rolls back only its own savepoint and frees its nonces,
//!   while the good jobs of the same batch commit;
//! - a failed `COMMIT` answers every job of the batch with an error (10004
//!   at the API), persists none of them, and leaves their nonces usable.
//!
//! The `COMMIT` is made to fail by SQLite itself: a commit hook that
//! returns `true` turns the commit into a rollback and `COMMIT` returns
//! `SQLITE_CONSTRAINT_COMMITHOOK`, as a full disk or an I/O error would
//! return theirs. Every test also counts the commits, to prove its jobs
//! really shared one batch.
//!
//! Last, the writer thread's priority (`raise_priority`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use payfac_domain::{
    BuyerProfile, CodeId, Email, MerchantId, MerchantUserNo, Nonce, SecretHash, random_alphanumeric,
};
use payfac_test_support::queue::Waiting;
use rusqlite::Connection;

use super::Writer;
use crate::sqlite::redeem::redeem_code;
use crate::sqlite::sync::sync_user;
use crate::{NewSession, RedeemOutcome, Redemption, StoreError, SyncOutcome, SyncRequest};

const NOW: i64 = 1_900_000_000;

/// A writer on a fresh, migrated database file, whose commits are counted
/// and whose commit number `fail_at` (0-based) is made to fail.
struct Harness {
    writer: Writer,
    path: std::path::PathBuf,
    commits: Arc<AtomicUsize>,
    fail_at: Arc<AtomicUsize>,
    /// The jobs `sync` and `redeem` sent: tests wait until they are queued.
    queue: Waiting,
    _dir: tempfile::TempDir,
}

impl Harness {
    fn new(extra_schema: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("writer.db");
        let mut connection = Connection::open(&path).unwrap();
        super::super::connect::configure(&connection).unwrap();
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .unwrap();
        super::super::migrate::migrate(&connection).unwrap();
        connection.execute_batch(extra_schema).unwrap();
        let commits = Arc::new(AtomicUsize::new(0));
        let fail_at = Arc::new(AtomicUsize::new(usize::MAX));
        let (counted, failing) = (commits.clone(), fail_at.clone());
        connection
            .commit_hook(Some(move || {
                let this = counted.fetch_add(1, Ordering::SeqCst);
                this == failing.load(Ordering::SeqCst)
            }))
            .unwrap();
        Self {
            writer: Writer::start(connection),
            path,
            commits,
            fail_at,
            queue: Waiting::default(),
            _dir: dir,
        }
    }

    /// Makes the writer run a job that waits until the returned sender is
    /// dropped; jobs queued meanwhile all go into the next batch.
    async fn hold(&self) -> (std::sync::mpsc::Sender<()>, tokio::task::JoinHandle<()>) {
        let (started, running) = tokio::sync::oneshot::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let writer = self.writer.clone();
        let held = tokio::spawn(async move {
            let _ = writer
                .write(move |_| {
                    let _ = started.send(());
                    let _ = released.recv();
                    Ok::<_, StoreError>(())
                })
                .await;
        });
        running.await.unwrap();
        (release, held)
    }

    fn sync(
        &self,
        request: SyncRequest,
    ) -> tokio::task::JoinHandle<Result<SyncOutcome, StoreError>> {
        let writer = self.writer.clone();
        tokio::spawn(self.queue.track(async move {
            writer
                .write_with_nonces(move |connection, nonces| {
                    sync_user(connection, nonces, &request)
                })
                .await
        }))
    }

    async fn sync_now(&self, request: SyncRequest) -> Result<SyncOutcome, StoreError> {
        self.sync(request).await.unwrap()
    }

    fn redeem(
        &self,
        code_id: CodeId,
        code_hash: SecretHash,
    ) -> tokio::task::JoinHandle<Result<RedeemOutcome, StoreError>> {
        let writer = self.writer.clone();
        let redemption = Redemption {
            code_id,
            code_hash,
            now: NOW,
            session: NewSession {
                secret_hash: SecretHash::of(&random_alphanumeric(33)),
                expires_at: NOW + 3_600,
                pending: false,
            },
            replaces: None,
        };
        tokio::spawn(self.queue.track(async move {
            writer
                .write(move |connection| redeem_code(connection, &redemption))
                .await
        }))
    }

    /// The one integer `sql` answers, read by a connection of its own.
    fn number(&self, sql: &str) -> i64 {
        let connection = Connection::open(&self.path).unwrap();
        connection.query_row(sql, [], |row| row.get(0)).unwrap()
    }

    fn commits(&self) -> usize {
        self.commits.load(Ordering::SeqCst)
    }
}

fn sync(user_no: &str, nonce: &str) -> SyncRequest {
    SyncRequest {
        merchant: MerchantId::parse("M1").unwrap(),
        nonce: Nonce::parse(nonce).unwrap(),
        signed_at: NOW,
        window: 300,
        profile: BuyerProfile {
            merchant_user_no: MerchantUserNo::parse(user_no).unwrap(),
            email: Email::parse(&format!("{user_no}@example.com")).unwrap(),
            first_name: None,
            last_name: None,
        },
        new_user_id: crate::new_user_id(),
        code_hash: SecretHash::of(&random_alphanumeric(22)),
        code_expires_at: NOW + 300,
        now: NOW,
    }
}

fn issued(outcome: Result<SyncOutcome, StoreError>) -> (i64, CodeId) {
    match outcome {
        Ok(SyncOutcome::Issued { user_id, code_id }) => (user_id, code_id),
        other => panic!("expected Issued, got {other:?}"),
    }
}

/// A code whose `expires_at` is 13 is refused by this trigger: the sync
/// that issues it fails after it already inserted its buyer.
const REFUSE_CODE_13: &str = "CREATE TRIGGER refuse_code_13 BEFORE INSERT ON codes
     WHEN NEW.expires_at = 13 BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_job_rolls_back_alone_and_the_good_jobs_of_its_batch_commit() {
    let h = Harness::new(REFUSE_CODE_13);
    let (release, held) = h.hold().await;

    let good_first = h.sync(sync("GOOD1", "goodnonce1"));
    let mut refused = sync("BAD", "badnonce1");
    refused.code_expires_at = 13;
    let bad_sync = h.sync(refused);
    // A job that records its nonce and then fails: the writer must take
    // the nonce back out of the live set with the savepoint.
    let writer = h.writer.clone();
    let bad_after_nonce = tokio::spawn(h.queue.track(async move {
        writer
            .write_with_nonces(|connection, nonces| {
                nonces.record(
                    connection,
                    "M1",
                    "badnonce2",
                    NOW + crate::NONCE_RETENTION_SECS,
                )?;
                connection.execute(
                    "INSERT INTO buyers (user_id, merchant_id, merchant_user_no, email,
                                         created_at, updated_at)
                     VALUES (7, 'M1', 'BAD2', 'bad2@example.com', 0, 0)",
                    [],
                )?;
                Err::<(), _>(StoreError::Unavailable("the job failed".into()))
            })
            .await
    }));
    let good_last = h.sync(sync("GOOD2", "goodnonce2"));
    h.queue.until_queued(4).await;
    drop(release);
    held.await.unwrap();

    let (good_first_id, _) = issued(good_first.await.unwrap());
    let (good_last_id, _) = issued(good_last.await.unwrap());
    assert!(bad_sync.await.unwrap().is_err());
    assert!(bad_after_nonce.await.unwrap().is_err());
    assert_eq!(
        h.commits(),
        2,
        "the held job's batch, then one batch of four"
    );

    // The good jobs committed; the failing ones left nothing.
    let buyers = |user_no: &str| {
        h.number(&format!(
            "SELECT count(*) FROM buyers WHERE merchant_user_no = '{user_no}'"
        ))
    };
    assert_eq!((buyers("GOOD1"), buyers("GOOD2")), (1, 1));
    assert_eq!((buyers("BAD"), buyers("BAD2")), (0, 0));
    assert_eq!(h.number("SELECT count(*) FROM codes"), 2);
    assert_eq!(
        h.number("SELECT count(*) FROM nonces WHERE nonce IN ('goodnonce1', 'goodnonce2')"),
        2
    );
    assert_eq!(h.number("SELECT count(*) FROM nonces"), 2);

    // The failing jobs' nonces are free; the good ones' are not.
    issued(h.sync_now(sync("BAD", "badnonce1")).await);
    issued(h.sync_now(sync("BAD2", "badnonce2")).await);
    assert_eq!(
        h.sync_now(sync("GOOD1", "goodnonce1")).await.unwrap(),
        SyncOutcome::NonceReused
    );
    let (again_id, _) = issued(h.sync_now(sync("GOOD2", "goodnonce3")).await);
    assert_eq!(again_id, good_last_id);
    assert_ne!(good_first_id, good_last_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_fails_every_job_of_the_batch_and_frees_their_nonces() {
    let h = Harness::new("");
    // Before the fault: a buyer with an unredeemed code.
    let (_, code_id) = {
        let mut before = sync("OLD", "oldnonce1");
        before.code_hash = SecretHash::of("the old code's secret");
        issued(h.sync_now(before).await)
    };
    let committed_before = h.commits();
    let rows_before = [
        h.number("SELECT count(*) FROM buyers"),
        h.number("SELECT count(*) FROM codes"),
        h.number("SELECT count(*) FROM nonces"),
        h.number("SELECT count(*) FROM sessions"),
    ];

    let (release, held) = h.hold().await;
    // The held job's batch commits; the next one (all the jobs below) fails.
    h.fail_at.store(committed_before + 1, Ordering::SeqCst);
    let requests: Vec<SyncRequest> = (0..5)
        .map(|i| sync(&format!("NEW{i}"), &format!("failnonce{i}")))
        .chain([sync("OLD", "failnonce9")])
        .collect();
    let queued_before = h.queue.queued();
    let syncs: Vec<_> = requests.iter().map(|r| h.sync(r.clone())).collect();
    let redemption = h.redeem(code_id, SecretHash::of("the old code's secret"));
    h.queue
        .until_queued(queued_before + requests.len() + 1)
        .await;
    drop(release);
    held.await.unwrap();

    for outcome in syncs {
        let outcome = outcome.await.unwrap();
        assert!(
            matches!(outcome, Err(StoreError::Unavailable(_))),
            "a job of a failed commit was told {outcome:?}"
        );
    }
    let redeemed = redemption.await.unwrap();
    assert!(
        matches!(redeemed, Err(StoreError::Unavailable(_))),
        "{redeemed:?}"
    );
    assert_eq!(h.commits(), committed_before + 2, "one batch for all jobs");

    // Nothing of the batch persisted: no buyer, code, nonce or session,
    // and the old code is still unused.
    let rows_after = [
        h.number("SELECT count(*) FROM buyers"),
        h.number("SELECT count(*) FROM codes"),
        h.number("SELECT count(*) FROM nonces"),
        h.number("SELECT count(*) FROM sessions"),
    ];
    assert_eq!(rows_after, rows_before);
    assert_eq!(
        h.number("SELECT count(*) FROM codes WHERE used_at IS NOT NULL"),
        0
    );

    // Every request may be sent again unchanged (same nonce) and succeeds,
    // and the old code still signs its buyer in.
    for request in requests {
        issued(h.sync_now(request).await);
    }
    let redeemed = h
        .redeem(code_id, SecretHash::of("the old code's secret"))
        .await
        .unwrap();
    assert!(
        matches!(redeemed, Ok(RedeemOutcome::SignedIn { .. })),
        "{redeemed:?}"
    );
}

/// Where the process may raise a thread's priority (root here), the
/// writer thread runs at nice −10; elsewhere at the process's nice.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_writer_thread_asks_for_a_higher_priority() {
    use crate::Store;
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("nice.db");
    let store = crate::sqlite::SqliteStore::open(path.to_str().unwrap())
        .await
        .unwrap();
    // A job answered means the thread has started (and set its priority).
    store.purge_expired(0, 1).await.unwrap();
    let may_raise = std::thread::spawn(|| {
        let me = rustix::thread::gettid();
        rustix::process::setpriority_process(Some(me), -1).is_ok()
    })
    .join()
    .unwrap();
    let expected = if may_raise { -10 } else { 0 };
    let mut writers = 0;
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let task = task.unwrap().path();
        let name = std::fs::read_to_string(task.join("comm")).unwrap_or_default();
        if name.trim() != "sqlite-writer" {
            continue;
        }
        // Field 19 of stat is the nice value; the name (field 2) has
        // no spaces here, so splitting on whitespace is safe.
        let stat = std::fs::read_to_string(task.join("stat")).unwrap();
        let nice: i32 = stat.split_whitespace().nth(18).unwrap().parse().unwrap();
        assert_eq!(nice, expected, "{}", task.display());
        writers += 1;
    }
    assert!(writers >= 1, "no sqlite-writer thread found");
}
