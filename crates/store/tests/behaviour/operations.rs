//! Operations (docs/PROTOCOL.md §10): readiness, several instances on one database,
//! migrations racing, and an unreachable or vanishing database.

use std::sync::Arc;
use std::time::{Duration, Instant};

use payfac_store::{StoreError, SyncOutcome};

use crate::common::postgres::{TestDatabase, with_address};
use crate::common::proxy::Proxy;
use crate::common::*;

on_both_stores! {
    fixture: TestStore::on;
    async fn ping_answers(t: &TestStore) {
        t.store.ping().await.unwrap();
    }

    /// A nonce used at one instance is a replay at another; a code issued
    /// by one is redeemable, once, at another.
    async fn instances_share_nonces_and_codes(t: &TestStore) {
        let other = t.another_instance().await;
        let request = sync("M1", "U1");
        let (user_id, code_id) = issued(t.store.sync_user(request.clone()).await.unwrap());
        let replay = with_nonce(sync("M1", "U2"), request.nonce.as_str());
        assert_eq!(other.sync_user(replay).await.unwrap(), SyncOutcome::NonceReused);
        let buyer = signed_in(other.redeem_code(redeem(code_id, request.code_hash, NOW)).await.unwrap());
        assert_eq!(buyer.user_id, user_id);
        let second = t.store.redeem_code(redeem(code_id, request.code_hash, NOW)).await.unwrap();
        assert!(matches!(second, payfac_store::RedeemOutcome::Rejected(_)));
        let (same_id, _) = issued(other.sync_user(again(&request)).await.unwrap());
        assert_eq!(same_id, user_id);
    }
}

/// Opening an unreachable database fails fast with `Unavailable`, and the
/// error does not show the password.
#[tokio::test]
async fn unreachable_postgres_fails_fast() {
    let started = Instant::now();
    let result = payfac_store::open("postgres://payfac:hunter2@127.0.0.1:1/payfac").await;
    let Err(StoreError::Unavailable(message)) = result else {
        panic!("expected Unavailable");
    };
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(!message.contains("hunter2"), "{message}");
}

/// Several instances starting at once on one new database all migrate it
/// safely, and the schema is applied once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL at PAYFAC_TEST_POSTGRES_URL; scripts/test.sh runs it"]
async fn concurrent_postgres_migrations() {
    let database = TestDatabase::create().await;
    let opens: Vec<_> = (0..6)
        .map(|_| {
            let url = database.url.clone();
            tokio::spawn(async move { payfac_store::open(&url).await })
        })
        .collect();
    for open in opens {
        let store = open.await.unwrap().expect("open while others migrate");
        store.ping().await.unwrap();
    }
    let client = database.connect().await;
    let row = client
        .query_one(
            "SELECT count(*), count(DISTINCT version), max(version) FROM schema_migrations",
            &[],
        )
        .await
        .unwrap();
    let (applied, distinct, newest): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    assert_eq!(
        (applied, distinct),
        (newest, newest),
        "in {}",
        database.name()
    );
}

/// With the database gone, `ping` and requests fail within about two
/// seconds; when it is back, the same store works again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL at PAYFAC_TEST_POSTGRES_URL; scripts/test.sh runs it"]
async fn postgres_outage_fails_fast_and_recovers() {
    let database = TestDatabase::create().await;
    let proxy = Proxy::start(database.address()).await;
    let url = with_address(&database.url, &proxy.address.to_string());
    let store = payfac_store::open(&url).await.unwrap();
    store.ping().await.unwrap();
    issued(store.sync_user(sync("M1", "U1")).await.unwrap());

    proxy.cut_and_wait().await;
    for _ in 0..2 {
        let started = Instant::now();
        assert!(store.ping().await.is_err(), "ping succeeded while down");
        assert!(
            started.elapsed() < Duration::from_millis(2_500),
            "{:?}",
            started.elapsed()
        );
    }
    let started = Instant::now();
    let failed = store.sync_user(sync("M1", "U2")).await;
    assert!(
        matches!(failed, Err(StoreError::Unavailable(_))),
        "{failed:?}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(2_500),
        "{:?}",
        started.elapsed()
    );

    proxy.restore().await;
    store.ping().await.expect("ping after the database is back");
    issued(store.sync_user(sync("M1", "U2")).await.unwrap());
}

/// A batch that PostgreSQL aborts to break a deadlock runs again and
/// succeeds. Another session plays the other instance's batch: it holds
/// the buyer's row, and once our batch (which has inserted its nonce)
/// waits for that row, it inserts the same nonce, closing the cycle. Its
/// `deadlock_timeout` is the longer, so our batch is the one aborted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL at PAYFAC_TEST_POSTGRES_URL; scripts/test.sh runs it"]
async fn a_deadlocked_postgres_batch_runs_again() {
    let t = TestStore::postgres().await;
    let database = t.postgres_database().expect("a PostgreSQL store");
    let first = sync("M1", "U1");
    let (user_id, _) = issued(t.store.sync_user(first.clone()).await.unwrap());

    let other = database.connect().await;
    other
        .batch_execute(
            "SET deadlock_timeout = '60s'; BEGIN;
             SELECT 1 FROM buyers WHERE merchant_id = 'M1' AND merchant_user_no = 'U1' FOR UPDATE",
        )
        .await
        .unwrap();
    let request = again(&first);
    let nonce = request.nonce.as_str().to_owned();
    let call = tokio::spawn({
        let store = Arc::clone(&t.store);
        async move { store.sync_user(request).await }
    });
    wait_for_a_lock_wait(database).await;

    // Returns once our batch's transaction is gone: aborted, since it
    // cannot commit while this session holds the buyer.
    let taken = other
        .execute(
            "INSERT INTO nonces (merchant_id, nonce, expires_at) VALUES ('M1', $1, 0)
             ON CONFLICT DO NOTHING",
            &[&nonce],
        )
        .await
        .unwrap();
    assert_eq!(taken, 1, "the batch's nonce was not rolled back");
    other.batch_execute("ROLLBACK").await.unwrap();

    let (again_id, _) = issued(call.await.unwrap().expect("the batch ran again"));
    assert_eq!(again_id, user_id);
    assert_eq!(t.counts().await, [2, 1, 2, 0]);
}

/// Waits until a session of the test database waits for a lock.
async fn wait_for_a_lock_wait(database: &TestDatabase) {
    let client = database.connect().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let waiting: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = $1 AND wait_event_type = 'Lock'",
                &[&database.name()],
            )
            .await
            .unwrap()
            .get(0);
        if waiting > 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the batch never waited for the buyer"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
