//! `redeem_code`: a code signs its buyer in once, and only while valid.

use std::sync::Arc;

use payfac_domain::{CodeId, SecretHash};
use payfac_store::{RedeemOutcome, RejectReason};
use tokio::sync::Barrier;

use crate::common::*;

fn rejected(outcome: RedeemOutcome) -> RejectReason {
    match outcome {
        RedeemOutcome::Rejected(reason) => reason,
        RedeemOutcome::SignedIn { buyer, .. } => {
            panic!("expected Rejected, signed in {}", buyer.user_id)
        }
    }
}

backend_tests! {
    /// A valid code signs in once; the second use is refused as used.
    async fn code_signs_in_once(t: &TestStore) {
        let request = sync("M1", "U1");
        let (user_id, code_id) = issued(t.store.sync_user(request.clone()).await.unwrap());
        let buyer = signed_in(t.store.redeem_code(redeem(code_id, request.code_hash, NOW + 1)).await.unwrap());
        assert_eq!(buyer.user_id, user_id);
        assert_eq!(t.count("sessions").await, 1);
        let second = t.store.redeem_code(redeem(code_id, request.code_hash, NOW + 2)).await.unwrap();
        assert_eq!(rejected(second), RejectReason::Used);
        assert_eq!(t.count("sessions").await, 1);
    }

    /// A code is good strictly before its expiry second.
    async fn expired_code_is_refused(t: &TestStore) {
        let request = sync("M1", "U1");
        let (_, code_id) = issued(t.store.sync_user(request.clone()).await.unwrap());
        let late = t.store.redeem_code(redeem(code_id, request.code_hash, request.code_expires_at)).await.unwrap();
        assert_eq!(rejected(late), RejectReason::Expired);
        assert_eq!(t.count("sessions").await, 0);
        signed_in(t.store.redeem_code(redeem(code_id, request.code_hash, request.code_expires_at - 1)).await.unwrap());
    }

    /// A wrong secret or id is unknown and burns nothing: the right code
    /// still works afterwards.
    async fn wrong_code_is_unknown_and_spends_nothing(t: &TestStore) {
        let request = sync("M1", "U1");
        let (_, code_id) = issued(t.store.sync_user(request.clone()).await.unwrap());
        let wrong_hash = SecretHash::of("not the secret");
        let outcome = t.store.redeem_code(redeem(code_id, wrong_hash, NOW)).await.unwrap();
        assert_eq!(rejected(outcome), RejectReason::Unknown);
        let wrong_id = CodeId(code_id.0 + 1_000);
        let outcome = t.store.redeem_code(redeem(wrong_id, request.code_hash, NOW)).await.unwrap();
        assert_eq!(rejected(outcome), RejectReason::Unknown);
        assert_eq!(t.count("sessions").await, 0);
        signed_in(t.store.redeem_code(redeem(code_id, request.code_hash, NOW)).await.unwrap());
    }

    /// Twenty redemptions of one code racing: exactly one signs in.
    async fn concurrent_redemptions_sign_in_once(t: &TestStore) {
        let request = sync("M1", "U1");
        let (_, code_id) = issued(t.store.sync_user(request.clone()).await.unwrap());
        let barrier = Arc::new(Barrier::new(20));
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (store, barrier) = (Arc::clone(&t.store), Arc::clone(&barrier));
                let redemption = redeem(code_id, request.code_hash, NOW);
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.redeem_code(redemption).await
                })
            })
            .collect();
        let mut signed = 0;
        for task in tasks {
            match task.await.unwrap().unwrap() {
                RedeemOutcome::SignedIn { .. } => signed += 1,
                RedeemOutcome::Rejected(reason) => assert_eq!(reason, RejectReason::Used),
            }
        }
        assert_eq!(signed, 1);
        assert_eq!(t.count("sessions").await, 1);
    }

    /// A good code replaces the browser's session; a bad one leaves it.
    async fn redemption_replaces_the_previous_session(t: &TestStore) {
        let first = sync("M1", "U1");
        let (_, code_id) = issued(t.store.sync_user(first.clone()).await.unwrap());
        let old = redeem(code_id, first.code_hash, NOW);
        let old_token = session_of(t.store.redeem_code(old.clone()).await.unwrap(), &old);

        // An unusable code signs nobody in and keeps the session.
        let mut bad = redeem(code_id, first.code_hash, NOW);
        bad.replaces = Some(old_token);
        assert_eq!(rejected(t.store.redeem_code(bad).await.unwrap()), RejectReason::Used);
        assert!(t.store.session_buyer(old_token, NOW, 3_600).await.unwrap().is_some());

        let second = sync("M1", "U2");
        let (user_id, code_id) = issued(t.store.sync_user(second.clone()).await.unwrap());
        let mut new = redeem(code_id, second.code_hash, NOW);
        new.replaces = Some(old_token);
        let new_token = session_of(t.store.redeem_code(new.clone()).await.unwrap(), &new);
        assert!(t.store.session_buyer(old_token, NOW, 3_600).await.unwrap().is_none());
        let buyer = t.store.session_buyer(new_token, NOW, 3_600).await.unwrap();
        assert_eq!(buyer.map(|b| b.user_id), Some(user_id));
        assert_eq!(t.count("sessions").await, 1);
    }

    /// Many redemptions at once, half of them with a wrong secret: each
    /// good one signs in its own buyer, each bad one is unknown and leaves
    /// its code usable.
    async fn concurrent_redemptions_each_get_their_own_answer(t: &TestStore) {
        let mut issued_codes = Vec::new();
        for i in 0..30 {
            let request = sync("M1", &format!("U{i}"));
            let (user_id, code_id) = issued(t.store.sync_user(request.clone()).await.unwrap());
            issued_codes.push((user_id, code_id, request.code_hash));
        }
        let barrier = Arc::new(Barrier::new(issued_codes.len()));
        let tasks: Vec<_> = issued_codes
            .iter()
            .enumerate()
            .map(|(i, &(_, code_id, hash))| {
                let hash = if i % 2 == 0 { hash } else { SecretHash::of("wrong") };
                let (store, barrier) = (Arc::clone(&t.store), Arc::clone(&barrier));
                let redemption = redeem(code_id, hash, NOW);
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.redeem_code(redemption).await
                })
            })
            .collect();
        for (i, task) in tasks.into_iter().enumerate() {
            let outcome = task.await.unwrap().unwrap();
            let (user_id, code_id, hash) = issued_codes[i];
            if i % 2 == 0 {
                assert_eq!(signed_in(outcome).user_id, user_id);
            } else {
                assert_eq!(rejected(outcome), RejectReason::Unknown);
                signed_in(t.store.redeem_code(redeem(code_id, hash, NOW)).await.unwrap());
            }
        }
        assert_eq!(t.count("sessions").await, 30);
    }
}
