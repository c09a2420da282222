//! `sync_user`: buyers keyed per merchant, stable ids, nonces used once.

use std::collections::HashSet;
use std::sync::Arc;

use payfac_store::SyncOutcome;
use tokio::sync::Barrier;

use crate::common::*;

on_both_stores! {
    fixture: TestStore::on;
    /// The first call creates the buyer; later calls update it, and an
    /// absent name keeps the stored one.
    async fn first_sync_creates_later_sync_updates(t: &TestStore) {
        let first = sync("M1", "U1000001");
        let (user_id, code_id) = issued(t.store.sync_user(first.clone()).await.unwrap());
        let buyer = signed_in(t.store.redeem_code(redeem(code_id, first.code_hash, NOW)).await.unwrap());
        assert_eq!(buyer.user_id, user_id);
        assert_eq!(buyer.merchant, "M1");
        assert_eq!(buyer.merchant_user_no, "U1000001");
        assert_eq!(buyer.email, "buyer@example.com");
        assert_eq!(buyer.first_name.as_deref(), Some("Ada"));
        assert_eq!(buyer.last_name.as_deref(), Some("Lovelace"));

        let mut later = again(&first);
        later.profile.email = email("new@example.com");
        later.profile.first_name = None;
        later.profile.last_name = Some(name("King"));
        let (again_id, code_id) = issued(t.store.sync_user(later.clone()).await.unwrap());
        assert_eq!(again_id, user_id);
        let buyer = signed_in(t.store.redeem_code(redeem(code_id, later.code_hash, NOW)).await.unwrap());
        assert_eq!(buyer.email, "new@example.com");
        assert_eq!(buyer.first_name.as_deref(), Some("Ada"));
        assert_eq!(buyer.last_name.as_deref(), Some("King"));
        assert_eq!(t.count("buyers").await, 1);
        assert_eq!(t.count("codes").await, 2);
    }

    /// A call that changes nothing leaves the buyer's `updated_at` where
    /// it was (SQLite then does not write the row); a changed field moves
    /// it, and an absent name matching nothing is no change.
    async fn updated_at_says_when_the_profile_last_changed(t: &TestStore) {
        let first = sync("M1", "U1");
        issued(t.store.sync_user(first.clone()).await.unwrap());
        let updated_at = || t.number("SELECT updated_at FROM buyers");

        let mut same = again(&first);
        same.now = NOW + 10;
        issued(t.store.sync_user(same.clone()).await.unwrap());
        let mut names_absent = again(&same);
        names_absent.profile.first_name = None;
        names_absent.profile.last_name = None;
        names_absent.now = NOW + 20;
        issued(t.store.sync_user(names_absent).await.unwrap());
        assert_eq!(updated_at().await, NOW);

        let mut renamed = again(&same);
        renamed.profile.last_name = Some(name("King"));
        renamed.now = NOW + 30;
        issued(t.store.sync_user(renamed).await.unwrap());
        assert_eq!(updated_at().await, NOW + 30);

        let mut new_email = again(&same);
        new_email.profile.email = email("new@example.com");
        new_email.profile.last_name = None;
        new_email.now = NOW + 40;
        let (_, code_id) = issued(t.store.sync_user(new_email.clone()).await.unwrap());
        assert_eq!(updated_at().await, NOW + 40);
        let buyer = signed_in(t.store.redeem_code(redeem(code_id, new_email.code_hash, NOW)).await.unwrap());
        assert_eq!(
            (buyer.email.as_str(), buyer.first_name.as_deref(), buyer.last_name.as_deref()),
            ("new@example.com", Some("Ada"), Some("King"))
        );
    }

    /// The same merchantUserNo keeps its id; another merchant's or another
    /// case's is another buyer.
    async fn user_ids_are_stable_and_per_merchant(t: &TestStore) {
        let first = sync("M1", "U1");
        let (id, _) = issued(t.store.sync_user(first.clone()).await.unwrap());
        let (same, _) = issued(t.store.sync_user(again(&first)).await.unwrap());
        let (other_merchant, _) = issued(t.store.sync_user(sync("M2", "U1")).await.unwrap());
        let (other_case, _) = issued(t.store.sync_user(sync("M1", "u1")).await.unwrap());
        assert!(id > 0);
        assert_eq!(same, id);
        assert_eq!(HashSet::from([id, other_merchant, other_case]).len(), 3);
        assert_eq!(t.count("buyers").await, 3);
    }

    /// A random id that collides with another buyer's is replaced, and the
    /// failed attempt leaves nothing behind (its nonce included).
    async fn colliding_user_id_is_retried(t: &TestStore) {
        let first = sync("M1", "U1");
        let (taken, _) = issued(t.store.sync_user(first.clone()).await.unwrap());
        let mut colliding = sync("M1", "U2");
        colliding.new_user_id = taken;
        let (id, _) = issued(t.store.sync_user(colliding).await.unwrap());
        assert_ne!(id, taken);
        assert_eq!(t.counts().await, [2, 2, 2, 0]);
    }

    /// A nonce used inside its window is refused and nothing is written,
    /// whatever the replayed body says.
    async fn replayed_nonce_writes_nothing(t: &TestStore) {
        let first = sync("M1", "U1");
        let nonce = first.nonce.as_str().to_owned();
        let (_, code_id) = issued(t.store.sync_user(first.clone()).await.unwrap());
        let before = t.counts().await;
        assert_eq!(before, [1, 1, 1, 0]);

        let mut replay = with_nonce(again(&first), &nonce);
        replay.profile.email = email("changed@example.com");
        assert_eq!(t.store.sync_user(replay).await.unwrap(), SyncOutcome::NonceReused);
        let other_buyer = with_nonce(sync("M1", "U2"), &nonce);
        assert_eq!(t.store.sync_user(other_buyer).await.unwrap(), SyncOutcome::NonceReused);
        assert_eq!(t.store.sync_user(first.clone()).await.unwrap(), SyncOutcome::NonceReused);
        assert_eq!(t.counts().await, before);
        let buyer = signed_in(t.store.redeem_code(redeem(code_id, first.code_hash, NOW)).await.unwrap());
        assert_eq!(buyer.email, "buyer@example.com", "the replay updated the buyer");

        // Nonces are per merchant.
        issued(t.store.sync_user(with_nonce(sync("M2", "U1"), &nonce)).await.unwrap());
    }

    /// A nonce row whose window is over may be taken again: at its expiry
    /// second it is still live, one second later it is free.
    async fn expired_nonce_may_be_reused(t: &TestStore) {
        let first = sync("M1", "U1");
        issued(t.store.sync_user(first.clone()).await.unwrap());
        let mut at_expiry = with_nonce(again(&first), first.nonce.as_str());
        at_expiry.now = window_end(&first);
        assert_eq!(t.store.sync_user(at_expiry.clone()).await.unwrap(), SyncOutcome::NonceReused);
        let mut after = at_expiry;
        after.now = window_end(&first) + 1;
        after.signed_at = after.now;
        after.code_expires_at = after.now + WINDOW;
        issued(t.store.sync_user(after.clone()).await.unwrap());
        // The reused nonce is live again, with its new window.
        let mut replay = again(&after);
        replay.nonce = after.nonce.clone();
        replay.now = after.now + 1;
        assert_eq!(t.store.sync_user(replay).await.unwrap(), SyncOutcome::NonceReused);
    }

    /// docs/RELIABILITY.md, "No replay": a nonce is refused for every
    /// second from its timestamp to timestamp + window, not one less:
    /// after the purge ran at that second, and by another instance (on
    /// SQLite a process that rebuilt its live set from the log, as after
    /// a restart). One second later a fresh timestamp may take it again.
    async fn a_nonce_is_refused_for_exactly_its_timestamp_plus_window(t: &TestStore) {
        let first = sync("M1", "U1");
        issued(t.store.sync_user(first.clone()).await.unwrap());
        let restarted = t.another_instance().await;
        for now in [NOW, NOW + 1, NOW + WINDOW / 2, NOW + WINDOW - 1, window_end(&first)] {
            t.store.purge_expired(now, 1_000).await.unwrap();
            for store in [&t.store, &restarted] {
                let mut replay = with_nonce(again(&first), first.nonce.as_str());
                replay.now = now;
                assert_eq!(
                    store.sync_user(replay).await.unwrap(),
                    SyncOutcome::NonceReused,
                    "replayed {} s after its timestamp",
                    now - NOW
                );
            }
        }
        assert_eq!(t.counts().await, [1, 1, 1, 0], "the replays wrote nothing");
        let mut later = with_nonce(again(&first), first.nonce.as_str());
        later.now = window_end(&first) + 1;
        later.signed_at = later.now;
        later.code_expires_at = later.now + WINDOW;
        issued(restarted.sync_user(later).await.unwrap());
    }

    /// Issue #19: a nonce recorded under a 20 s window is still live for
    /// an instance (or a restart) with a 300 s window, for as long as that
    /// window accepts the request's timestamp: the replay is refused.
    async fn a_larger_window_never_reopens_a_recorded_nonce(t: &TestStore) {
        let mut first = sync("M1", "U1");
        first.window = 20;
        issued(t.store.sync_user(first.clone()).await.unwrap());
        for now in [NOW + 21, NOW + 120, NOW + 300] {
            let mut replay = first.clone();
            replay.window = 300;
            replay.now = now;
            replay.code_hash = again(&first).code_hash;
            assert_eq!(t.store.sync_user(replay).await.unwrap(), SyncOutcome::NonceReused, "at {now}");
        }
        assert_eq!(t.counts().await, [1, 1, 1, 0]);
    }

    /// Twenty identical requests racing: exactly one is issued.
    async fn concurrent_identical_requests_issue_once(t: &TestStore) {
        let request = sync("M1", "U1");
        let outcomes = race(t, 20, |_| request.clone()).await;
        let issued_count = outcomes.iter().filter(|o| matches!(o, SyncOutcome::Issued { .. })).count();
        assert_eq!(issued_count, 1, "{outcomes:?}");
        assert_eq!(t.counts().await, [1, 1, 1, 0]);
    }

    /// Ten first calls for one new buyer, each with its own nonce: all
    /// succeed, with one userId.
    async fn concurrent_first_syncs_share_one_user_id(t: &TestStore) {
        let request = sync("M1", "U1");
        let outcomes = race(t, 10, |_| again(&request)).await;
        let ids: HashSet<i64> = outcomes.into_iter().map(|o| issued(o).0).collect();
        assert_eq!(ids.len(), 1);
        assert_eq!(t.counts().await, [10, 1, 10, 0]);
    }

    /// A replay verified in the last second of its nonce's window, sent
    /// together with calls whose clocks already read a second later, is
    /// still refused: calls sharing a transaction never make a nonce
    /// expire early.
    async fn a_replay_among_later_calls_is_still_refused(t: &TestStore) {
        let first = sync("M1", "U1");
        issued(t.store.sync_user(first.clone()).await.unwrap());
        let mut replay = with_nonce(again(&first), first.nonce.as_str());
        replay.now = window_end(&first);
        let outcomes = race(t, 21, |i| {
            if i == 0 {
                return replay.clone();
            }
            let mut later = sync("M1", &format!("L{i}"));
            later.now = window_end(&first) + 1;
            later.signed_at = later.now;
            later.code_expires_at = later.now + WINDOW;
            later
        })
        .await;
        assert_eq!(outcomes[0], SyncOutcome::NonceReused);
        assert!(outcomes[1..].iter().all(|o| matches!(o, SyncOutcome::Issued { .. })));
    }

    /// Many calls at once for different buyers, each nonce sent twice (by
    /// two different buyers' calls): of each pair exactly one is issued,
    /// with its own buyer's id and a code that signs in that buyer.
    async fn concurrent_calls_each_get_their_own_answer(t: &TestStore) {
        pairs_of_calls_sharing_nonces(t, false).await;
    }

    /// The same with the calls spread over two instances, whose batches
    /// can lock the same rows in different orders.
    async fn concurrent_calls_at_two_instances_each_get_their_own_answer(t: &TestStore) {
        pairs_of_calls_sharing_nonces(t, true).await;
    }
}

async fn pairs_of_calls_sharing_nonces(t: &TestStore, two_instances: bool) {
    let other = if two_instances {
        t.another_instance().await
    } else {
        Arc::clone(&t.store)
    };
    let calls: Vec<_> = (0..40)
        .flat_map(|i| {
            let first = sync("M1", &format!("A{i}"));
            let second = with_nonce(sync("M1", &format!("B{i}")), first.nonce.as_str());
            [first, second]
        })
        .collect();
    let stores = [Arc::clone(&t.store), other];
    let outcomes = race_at(&stores, calls.len(), |i| calls[i].clone()).await;
    let mut user_ids = HashSet::new();
    for (pair, answers) in calls.chunks(2).zip(outcomes.chunks(2)) {
        let winners: Vec<_> = pair
            .iter()
            .zip(answers)
            .filter(|(_, outcome)| **outcome != SyncOutcome::NonceReused)
            .collect();
        assert_eq!(winners.len(), 1, "{answers:?}");
        let (call, outcome) = winners[0];
        let user_no = call.profile.merchant_user_no.as_str();
        let (user_id, code_id) = issued(outcome.clone());
        assert!(user_ids.insert(user_id), "{user_no} shares a user id");
        let buyer = signed_in(
            t.store
                .redeem_code(redeem(code_id, call.code_hash, NOW))
                .await
                .unwrap(),
        );
        assert_eq!(
            (buyer.user_id, buyer.merchant_user_no.as_str()),
            (user_id, user_no)
        );
    }
    assert_eq!(t.counts().await, [40, 40, 40, 40]);
}

/// Runs `n` syncs at once, released together by a barrier.
async fn race(
    t: &TestStore,
    n: usize,
    make: impl Fn(usize) -> payfac_store::SyncRequest,
) -> Vec<SyncOutcome> {
    race_at(std::slice::from_ref(&t.store), n, make).await
}

/// `race`, with call `i` sent to `stores[i % stores.len()]`.
async fn race_at(
    stores: &[Arc<dyn payfac_store::Store>],
    n: usize,
    make: impl Fn(usize) -> payfac_store::SyncRequest,
) -> Vec<SyncOutcome> {
    let barrier = Arc::new(Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let store = Arc::clone(&stores[i % stores.len()]);
            let (barrier, request) = (Arc::clone(&barrier), make(i));
            tokio::spawn(async move {
                barrier.wait().await;
                store.sync_user(request).await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.expect("sync task").expect("sync_user"));
    }
    outcomes
}
