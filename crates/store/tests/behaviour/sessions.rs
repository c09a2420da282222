//! `session_buyer` and `end_session`: idle and absolute expiry, and an
//! idle timer refreshed at most once a minute.

use payfac_domain::{SecretHash, SessionId};
use payfac_store::SessionKey;

use crate::common::*;

const IDLE: i64 = 100;

/// A signed-in session created at `NOW`, expiring absolutely at `NOW + 1_000`.
async fn session(t: &TestStore, user_no: &str) -> SessionKey {
    let request = sync("M1", user_no);
    let (_, code_id) = issued(t.store.sync_user(request.clone()).await.unwrap());
    let mut redemption = redeem(code_id, request.code_hash, NOW);
    redemption.session.expires_at = NOW + 1_000;
    session_of(
        t.store.redeem_code(redemption.clone()).await.unwrap(),
        &redemption,
    )
}

/// A session pending consent, created at `NOW`, ending at `NOW + 300`.
async fn pending_session(t: &TestStore, user_no: &str) -> SessionKey {
    let request = sync("M1", user_no);
    let (_, code_id) = issued(t.store.sync_user(request.clone()).await.unwrap());
    let mut redemption = redeem(code_id, request.code_hash, NOW);
    redemption.session.expires_at = NOW + 300;
    redemption.session.pending = true;
    session_of(
        t.store.redeem_code(redemption.clone()).await.unwrap(),
        &redemption,
    )
}

/// The merchant user number of a live pending session's buyer.
async fn pending_buyer(t: &TestStore, token: SessionKey, now: i64) -> Option<String> {
    t.store
        .pending_buyer(token, now)
        .await
        .unwrap()
        .map(|buyer| buyer.merchant_user_no)
}

async fn live(t: &TestStore, token: SessionKey, now: i64) -> bool {
    t.store
        .session_buyer(token, now, IDLE)
        .await
        .unwrap()
        .is_some()
}

on_both_stores! {
    fixture: TestStore::on;
    /// A pending session (consent page) becomes a full one and ends the
    /// session it replaces, once and only while it is live; its end is its
    /// creation + the maximum, not the moment of the choice.
    async fn confirm_session_extends_and_replaces(t: &TestStore) {
        let old = session(t, "U1").await;
        let pending = pending_session(t, "U2").await;
        assert!(!live(t, pending, NOW + 1).await, "a pending session is no session");
        assert_eq!(pending_buyer(t, pending, NOW + 1).await.as_deref(), Some("U2"));
        assert!(t.store.confirm_session(pending, NOW + 10, 5_000, Some(old)).await.unwrap());
        assert!(!live(t, old, NOW + 11).await, "the replaced session ended");
        assert!(live(t, pending, NOW + 11).await);
        assert_eq!(pending_buyer(t, pending, NOW + 11).await, None, "no longer pending");
        // The new end holds: past the pending end, before the new one.
        t.store.session_buyer(pending, NOW + 50, IDLE).await.unwrap();
        assert!(live(t, pending, NOW + 100).await);
        let late = pending_session(t, "U3").await;
        assert!(!t.store.confirm_session(late, NOW + 1_000, 9_000, Some(pending)).await.unwrap());
        assert!(live(t, pending, NOW + 120).await, "an expired choice ends nothing");
        let unknown = SessionKey { id: pending.id, secret_hash: SecretHash::of("nope") };
        assert!(!t.store.confirm_session(unknown, NOW + 10, 9_000, None).await.unwrap());
    }

    /// A full session cannot be "confirmed" to push its end back (a
    /// stolen session kept alive forever), and every session ends at its
    /// creation + the maximum however often its pending form is confirmed.
    async fn a_full_session_cannot_be_confirmed_again(t: &TestStore) {
        let full = session(t, "U1").await;
        let pending = pending_session(t, "U2").await;
        assert!(t.store.confirm_session(pending, NOW + 10, 1_000, None).await.unwrap());
        let mut now = NOW;
        while now + 90 < NOW + 1_000 {
            now += 90;
            // Each round tries to push both ends back again.
            assert!(!t.store.confirm_session(full, now, 5_000, None).await.unwrap());
            assert!(!t.store.confirm_session(pending, now, 5_000, None).await.unwrap());
            assert!(live(t, full, now).await && live(t, pending, now).await);
        }
        assert!(!live(t, full, NOW + 1_000).await, "the end did not move");
        assert!(!live(t, pending, NOW + 1_000).await, "capped at creation + max");
    }

    /// The first stored service secret is every later caller's.
    async fn server_secret_is_made_once(t: &TestStore) {
        let first = t.store.server_secret("service", [1; 32]).await.unwrap();
        assert_eq!(first, vec![1; 32]);
        assert_eq!(t.store.server_secret("service", [2; 32]).await.unwrap(), vec![1; 32]);
        assert_eq!(t.store.server_secret("other", [3; 32]).await.unwrap(), vec![3; 32]);
    }

    /// Idle for `IDLE` seconds ends a session.
    async fn idle_session_expires(t: &TestStore) {
        let token = session(t, "U1").await;
        let buyer = t.store.session_buyer(token, NOW + 1, IDLE).await.unwrap().unwrap();
        assert_eq!(buyer.merchant_user_no, "U1");
        assert!(!live(t, token, NOW + IDLE).await);
        let other = session(t, "U2").await;
        assert!(live(t, other, NOW + IDLE - 1).await);
    }

    /// A lookup within a minute of the last refresh does not refresh;
    /// one after a minute does.
    async fn idle_timer_is_refreshed_at_most_once_a_minute(t: &TestStore) {
        let untouched = session(t, "U1").await;
        assert!(live(t, untouched, NOW + 30).await);
        assert!(!live(t, untouched, NOW + IDLE).await, "refreshed within a minute");

        let touched = session(t, "U2").await;
        assert!(live(t, touched, NOW + 90).await);
        assert!(live(t, touched, NOW + 90 + IDLE - 1).await, "not refreshed after a minute");
    }

    /// Activity never extends a session past its absolute expiry.
    async fn session_expires_absolutely(t: &TestStore) {
        let token = session(t, "U1").await;
        let mut now = NOW;
        while now + 90 < NOW + 1_000 {
            now += 90;
            assert!(live(t, token, now).await);
        }
        assert!(live(t, token, NOW + 999).await);
        assert!(!live(t, token, NOW + 1_000).await);
    }

    /// Logout ends the session; ending an unknown one is not an error.
    async fn end_session_signs_out(t: &TestStore) {
        let token = session(t, "U1").await;
        let other = session(t, "U2").await;
        t.store.end_session(token).await.unwrap();
        assert!(!live(t, token, NOW + 1).await);
        assert!(live(t, other, NOW + 1).await);
        t.store.end_session(token).await.unwrap();
        let never_issued = SessionKey { id: SessionId(1 << 40), secret_hash: SecretHash::of("x") };
        t.store.end_session(never_issued).await.unwrap();
        assert_eq!(t.count("sessions").await, 1);
    }

    /// A session id with any other secret is nobody's session, and cannot
    /// end the real one either.
    async fn session_id_needs_its_secret(t: &TestStore) {
        let token = session(t, "U1").await;
        let guessed = SessionKey { secret_hash: SecretHash::of("guessed"), ..token };
        assert!(!live(t, guessed, NOW + 1).await);
        t.store.end_session(guessed).await.unwrap();
        assert!(live(t, token, NOW + 1).await);
    }
}
