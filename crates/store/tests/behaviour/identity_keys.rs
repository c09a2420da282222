//! Identity-signing keys: one first key however many instances start at
//! once, rotation keeps the older keys listed, pruning never takes the
//! newest.

use payfac_store::IdentityKeyRecord;

use crate::common::*;

fn key(kid: &str, created_at: i64) -> IdentityKeyRecord {
    IdentityKeyRecord {
        kid: kid.to_owned(),
        private_pkcs8: format!("private {kid}").into_bytes(),
        created_at,
    }
}

fn kids(keys: &[IdentityKeyRecord]) -> Vec<&str> {
    keys.iter().map(|k| k.kid.as_str()).collect()
}

on_both_stores! {
    fixture: TestStore::on;
    /// A revoked key goes at once; the last one is replaced in the same
    /// step, so a key to sign with always remains.
    async fn a_revoked_key_goes_and_the_last_is_replaced(t: &TestStore) {
        t.store.add_identity_key(key("a", NOW), false).await.unwrap();
        t.store.add_identity_key(key("b", NOW + 10), false).await.unwrap();
        assert!(!t.store.revoke_identity_key("nope", key("r1", NOW)).await.unwrap());
        assert_eq!(kids(&t.store.identity_keys().await.unwrap()), ["a", "b"]);
        assert!(t.store.revoke_identity_key("b", key("r2", NOW)).await.unwrap());
        assert_eq!(kids(&t.store.identity_keys().await.unwrap()), ["a"], "no replacement needed");
        assert!(t.store.revoke_identity_key("a", key("r3", NOW + 20)).await.unwrap());
        assert_eq!(kids(&t.store.identity_keys().await.unwrap()), ["r3"]);
        assert!(!t.store.revoke_identity_key("a", key("r4", NOW)).await.unwrap());
    }

    /// Instances starting together on an empty database agree on one key.
    async fn first_key_is_stored_once(t: &TestStore) {
        assert!(t.store.identity_keys().await.unwrap().is_empty());
        let other = t.another_instance().await;
        let (a, b) = tokio::join!(
            t.store.add_identity_key(key("a", NOW), true),
            other.add_identity_key(key("b", NOW), true),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(a ^ b, "exactly one first key is stored: {a} {b}");
        let stored = t.store.identity_keys().await.unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored, other.identity_keys().await.unwrap());
        assert_eq!(stored[0].private_pkcs8, format!("private {}", stored[0].kid).into_bytes());
        assert!(!t.store.add_identity_key(key("c", NOW), true).await.unwrap());
        assert_eq!(t.count("identity_keys").await, 1);
    }

    /// A rotation adds a key next to the old ones, oldest first; pruning
    /// removes old keys but never the newest, whatever its age.
    async fn rotation_and_pruning(t: &TestStore) {
        t.store.add_identity_key(key("k1", NOW), true).await.unwrap();
        t.store.add_identity_key(key("k2", NOW + 10), false).await.unwrap();
        t.store.add_identity_key(key("k3", NOW + 20), false).await.unwrap();
        assert_eq!(kids(&t.store.identity_keys().await.unwrap()), ["k1", "k2", "k3"]);
        assert!(t.store.add_identity_key(key("k3", NOW + 30), false).await.is_err());

        assert_eq!(t.store.remove_identity_keys_before(NOW + 10).await.unwrap(), 1);
        assert_eq!(kids(&t.store.identity_keys().await.unwrap()), ["k2", "k3"]);
        assert_eq!(t.store.remove_identity_keys_before(NOW + 1000).await.unwrap(), 1);
        assert_eq!(kids(&t.store.identity_keys().await.unwrap()), ["k3"]);
    }
}
