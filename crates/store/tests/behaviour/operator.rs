//! The operator's storage (issue #17): buyer lookup, export, revocation
//! and erasure; disabling a merchant with its sessions ended; admin
//! tokens; the audit trail.

use payfac_domain::{MerchantStatus, MerchantUserNo, SecretHash};
use payfac_store::{AdminError, AuditEntry, BuyerRef, SessionKey};

use crate::common::*;

const IDLE: i64 = 7_200;

fn by_no(merchant_id: &str, user_no: &str) -> BuyerRef {
    BuyerRef::Merchant {
        merchant: merchant(merchant_id),
        merchant_user_no: MerchantUserNo::parse(user_no).unwrap(),
    }
}

/// A buyer synced and signed in once: its userId and session.
async fn signed_in_buyer(t: &TestStore, merchant_id: &str, user_no: &str) -> (i64, SessionKey) {
    let request = sync(merchant_id, user_no);
    let (user_id, code_id) = issued(t.store.sync_user(request.clone()).await.unwrap());
    let redemption = redeem(code_id, request.code_hash, NOW);
    let session = session_of(
        t.store.redeem_code(redemption.clone()).await.unwrap(),
        &redemption,
    );
    (user_id, session)
}

async fn live(t: &TestStore, session: SessionKey) -> bool {
    t.store
        .session_buyer(session, NOW + 1, IDLE)
        .await
        .unwrap()
        .is_some()
}

on_both_stores! {
    fixture: TestStore::on;
    /// A buyer is found by merchant and merchantUserNo or by userId, with
    /// its times and live sessions; an unknown one is `None`.
    async fn buyer_details_by_either_name(t: &TestStore) {
        let (user_id, _) = signed_in_buyer(t, "M1", "U1").await;
        signed_in_buyer(t, "M1", "U1").await;
        let details = t.store.buyer_details(&by_no("M1", "U1"), NOW, IDLE).await.unwrap().unwrap();
        assert_eq!(details.buyer.user_id, user_id);
        assert_eq!(details.buyer.email, "buyer@example.com");
        assert_eq!((details.created_at, details.updated_at), (NOW, NOW));
        assert_eq!(details.live_sessions, 2);
        let same = t.store.buyer_details(&BuyerRef::UserId(user_id), NOW, IDLE).await.unwrap().unwrap();
        assert_eq!(same.buyer.merchant_user_no, "U1");
        // Idle past the limit: not live.
        let later = t.store.buyer_details(&by_no("M1", "U1"), NOW + IDLE, IDLE).await.unwrap().unwrap();
        assert_eq!(later.live_sessions, 0);
        assert!(t.store.buyer_details(&by_no("M2", "U1"), NOW, IDLE).await.unwrap().is_none());
        assert!(t.store.buyer_details(&BuyerRef::UserId(1), NOW, IDLE).await.unwrap().is_none());
    }

    /// An export holds the profile and the times of sessions and codes.
    async fn export_has_times_and_no_secrets(t: &TestStore) {
        let request = sync("M1", "U1");
        let (user_id, code_id) = issued(t.store.sync_user(request.clone()).await.unwrap());
        t.store.sync_user(again(&request)).await.unwrap();
        t.store.redeem_code(redeem(code_id, request.code_hash, NOW + 5)).await.unwrap();
        let export = t.store.export_buyer(&BuyerRef::UserId(user_id), NOW + 5, IDLE).await.unwrap().unwrap();
        assert_eq!(export.details.buyer.user_id, user_id);
        assert_eq!(export.sessions.len(), 1);
        assert_eq!(export.sessions[0].created_at, NOW + 5);
        assert_eq!(export.codes.len(), 2);
        assert_eq!(export.codes[0].used_at, Some(NOW + 5));
        assert_eq!(export.codes[1].used_at, None);
        assert!(t.store.export_buyer(&by_no("M1", "nobody"), NOW, IDLE).await.unwrap().is_none());
    }

    /// Revoking ends every session of that buyer and only of that buyer.
    async fn revoke_ends_only_that_buyers_sessions(t: &TestStore) {
        let (_, first) = signed_in_buyer(t, "M1", "U1").await;
        let (_, second) = signed_in_buyer(t, "M1", "U1").await;
        let (_, other) = signed_in_buyer(t, "M1", "U2").await;
        assert_eq!(t.store.revoke_buyer_sessions(&by_no("M1", "U1")).await.unwrap(), Some(2));
        assert!(!live(t, first).await);
        assert!(!live(t, second).await);
        assert!(live(t, other).await);
        assert_eq!(t.store.revoke_buyer_sessions(&by_no("M1", "U1")).await.unwrap(), Some(0));
        assert_eq!(t.store.revoke_buyer_sessions(&by_no("M1", "U9")).await.unwrap(), None);
    }

    /// Erasure removes the buyer, its codes and sessions; a later sync of
    /// the same merchantUserNo makes a new buyer; the erased userId is
    /// never issued again, even when offered as the candidate id.
    async fn erase_forgets_the_buyer_and_never_reuses_its_id(t: &TestStore) {
        let (user_id, session) = signed_in_buyer(t, "M1", "U1").await;
        let unused = sync("M1", "U1");
        let (_, unused_code) = issued(t.store.sync_user(unused.clone()).await.unwrap());
        let erased = t.store.erase_buyer(&by_no("M1", "U1"), NOW).await.unwrap().unwrap();
        assert_eq!((erased.user_id, erased.sessions, erased.codes), (user_id, 1, 2));
        assert!(!live(t, session).await);
        let late = t.store.redeem_code(redeem(unused_code, unused.code_hash, NOW)).await.unwrap();
        assert!(matches!(late, payfac_store::RedeemOutcome::Rejected(_)), "{late:?}");
        assert!(t.store.buyer_details(&BuyerRef::UserId(user_id), NOW, IDLE).await.unwrap().is_none());
        assert!(t.store.erase_buyer(&BuyerRef::UserId(user_id), NOW).await.unwrap().is_none());

        let mut returning = sync("M1", "U1");
        returning.new_user_id = user_id;
        let (new_id, _) = issued(t.store.sync_user(returning).await.unwrap());
        assert_ne!(new_id, user_id);
        let mut other = sync("M1", "U2");
        other.new_user_id = user_id;
        let (other_id, _) = issued(t.store.sync_user(other).await.unwrap());
        assert_ne!(other_id, user_id);
        assert!(t.store.buyer_details(&BuyerRef::UserId(user_id), NOW, IDLE).await.unwrap().is_none());
    }

    /// Disabling with end-sessions ends that merchant's sessions and voids
    /// its unused codes, and no one else's; without it, sessions stay.
    async fn disable_with_end_sessions(t: &TestStore) {
        t.store.add_merchant(&merchant("M1"), key("k1")).await.unwrap();
        t.store.add_merchant(&merchant("M2"), key("k2")).await.unwrap();
        let (_, m1_session) = signed_in_buyer(t, "M1", "U1").await;
        let (_, m2_session) = signed_in_buyer(t, "M2", "U1").await;
        let pending = sync("M1", "U2");
        let (_, pending_code) = issued(t.store.sync_user(pending.clone()).await.unwrap());
        let other_pending = sync("M2", "U2");
        let (_, other_code) = issued(t.store.sync_user(other_pending.clone()).await.unwrap());

        let v0 = t.store.config_version().await.unwrap();
        let kept = t.store.disable_merchant(&merchant("M2"), false, NOW).await.unwrap();
        assert_eq!((kept.sessions, kept.codes), (0, 0));
        assert!(live(t, m2_session).await);
        let ended = t.store.disable_merchant(&merchant("M1"), true, NOW).await.unwrap();
        assert_eq!((ended.sessions, ended.codes), (1, 1));
        assert!(t.store.config_version().await.unwrap() >= v0 + 2);
        assert!(!live(t, m1_session).await);
        let voided = t.store.redeem_code(redeem(pending_code, pending.code_hash, NOW)).await.unwrap();
        assert!(matches!(voided, payfac_store::RedeemOutcome::Rejected(_)), "{voided:?}");
        let fine = t.store.redeem_code(redeem(other_code, other_pending.code_hash, NOW)).await.unwrap();
        signed_in(fine);
        let statuses: Vec<_> = t.store.merchant_summaries().await.unwrap().into_iter().map(|m| m.status).collect();
        assert_eq!(statuses, vec![MerchantStatus::Disabled, MerchantStatus::Disabled]);
        let unknown = t.store.disable_merchant(&merchant("M9"), true, NOW).await;
        assert!(matches!(unknown, Err(AdminError::UnknownMerchant(_))));
    }

    /// Summaries carry the keys' creation times; the last key cannot go.
    async fn summaries_and_last_key(t: &TestStore) {
        t.store.add_merchant(&merchant("M1"), key("k1")).await.unwrap();
        let summaries = t.store.merchant_summaries().await.unwrap();
        assert_eq!(summaries.len(), 1);
        assert_eq!(summaries[0].keys[0].key_id, "k1");
        assert!(summaries[0].keys[0].created_at > 0);
        let last = t.store.remove_key_keeping_one(&merchant("M1"), "k1").await;
        assert!(matches!(last, Err(AdminError::LastKey { .. })), "{last:?}");
        let unknown = t.store.remove_key_keeping_one(&merchant("M1"), "k9").await;
        assert!(matches!(unknown, Err(AdminError::UnknownKey { .. })), "{unknown:?}");
        let no_merchant = t.store.remove_key_keeping_one(&merchant("M9"), "k1").await;
        assert!(matches!(no_merchant, Err(AdminError::UnknownMerchant(_))));
        t.store.add_key(&merchant("M1"), key("k2")).await.unwrap();
        t.store.remove_key_keeping_one(&merchant("M1"), "k1").await.unwrap();
        let keys: Vec<_> = t.store.merchant_summaries().await.unwrap()[0].keys.iter().map(|k| k.key_id.clone()).collect();
        assert_eq!(keys, vec!["k2"]);
    }

    /// Tokens: a name once, listed without secrets, touched, revoked.
    async fn admin_tokens_lifecycle(t: &TestStore) {
        let hash = SecretHash::of("secret one");
        assert!(t.store.create_admin_token("ops", hash, NOW, None).await.unwrap());
        assert!(!t.store.create_admin_token("ops", SecretHash::of("other"), NOW, None).await.unwrap());
        assert!(t.store.create_admin_token("backoffice", SecretHash::of("two"), NOW, Some(NOW + 60)).await.unwrap());
        let names: Vec<_> = t.store.admin_tokens().await.unwrap().into_iter().map(|r| r.name).collect();
        assert_eq!(names, vec!["backoffice", "ops"]);
        let credentials = t.store.admin_credentials().await.unwrap();
        assert!(credentials.iter().any(|c| c.name == "ops" && c.secret_hash == hash && c.expires_at.is_none()));
        assert!(credentials.iter().any(|c| c.name == "backoffice" && c.expires_at == Some(NOW + 60)));
        let listed = t.store.admin_tokens().await.unwrap();
        assert_eq!(listed[0].expires_at, Some(NOW + 60));
        t.store.touch_admin_token("ops", NOW + 9).await.unwrap();
        let ops = t.store.admin_tokens().await.unwrap().into_iter().find(|r| r.name == "ops").unwrap();
        assert_eq!((ops.created_at, ops.last_used_at), (NOW, Some(NOW + 9)));
        assert!(t.store.revoke_admin_token("ops").await.unwrap());
        assert!(!t.store.revoke_admin_token("ops").await.unwrap());
        assert_eq!(t.store.admin_credentials().await.unwrap().len(), 1);
    }

    /// The audit trail reads newest first, up to the limit.
    async fn audit_newest_first(t: &TestStore) {
        for n in 0..5 {
            t.store.record_audit(AuditEntry {
                at: NOW + n,
                actor: "cli".into(),
                action: "merchant.add".into(),
                target: format!("M{n}"),
                result: "ok".into(),
            }).await.unwrap();
        }
        let records = t.store.audit_log(3).await.unwrap();
        let targets: Vec<_> = records.iter().map(|r| r.entry.target.as_str()).collect();
        assert_eq!(targets, vec!["M4", "M3", "M2"]);
        assert_eq!(records[0].entry.at, NOW + 4);
        assert_eq!(t.store.audit_log(100).await.unwrap().len(), 5);
    }
}
