//! Merchant administration: refusals, key ownership, status, and the
//! config version that tells servers to reload.

use payfac_domain::MerchantStatus;
use payfac_store::{AdminError, MerchantRecord, StoredKey};

use crate::common::*;

fn find<'a>(merchants: &'a [MerchantRecord], id: &str) -> Option<&'a MerchantRecord> {
    merchants.iter().find(|m| m.id == id)
}

fn key_ids(record: &MerchantRecord) -> Vec<&str> {
    record.keys.iter().map(|k| k.key_id.as_str()).collect()
}

on_both_stores! {
    fixture: TestStore::on;
    /// Every change bumps the version once; every refusal changes nothing.
    async fn merchant_changes_and_refusals(t: &TestStore) {
        let store = &t.store;
        let v0 = store.config_version().await.unwrap();
        assert!(store.merchants().await.unwrap().is_empty());

        store.add_merchant(&merchant("M1"), key("k1")).await.unwrap();
        assert_eq!(store.config_version().await.unwrap(), v0 + 1);
        let merchants = store.merchants().await.unwrap();
        let m1 = find(&merchants, "M1").expect("M1 listed");
        assert_eq!(m1.status, MerchantStatus::Active);
        assert_eq!(m1.keys, vec![key("k1")]);

        let exists = store.add_merchant(&merchant("M1"), key("k9")).await;
        assert!(matches!(exists, Err(AdminError::MerchantExists(id)) if id == "M1"));
        // A key registered to another merchant is refused, and the new
        // merchant is not half-created.
        let taken = store.add_merchant(&merchant("M2"), key("k1")).await;
        assert!(matches!(taken, Err(AdminError::KeyExists(id)) if id == "k1"));
        assert!(find(&store.merchants().await.unwrap(), "M2").is_none());
        assert_eq!(store.config_version().await.unwrap(), v0 + 1);

        store.add_key(&merchant("M1"), key("k2")).await.unwrap();
        store.add_merchant(&merchant("M2"), key("k3")).await.unwrap();
        assert_eq!(store.config_version().await.unwrap(), v0 + 3);
        let unknown = store.add_key(&merchant("M9"), key("k4")).await;
        assert!(matches!(unknown, Err(AdminError::UnknownMerchant(id)) if id == "M9"));
        let unknown_and_taken = store.add_key(&merchant("M9"), key("k1")).await;
        assert!(matches!(unknown_and_taken, Err(AdminError::UnknownMerchant(_))));
        let own = store.add_key(&merchant("M1"), key("k1")).await;
        assert!(matches!(own, Err(AdminError::KeyExists(_))));
        let others = store.add_key(&merchant("M2"), key("k1")).await;
        assert!(matches!(others, Err(AdminError::KeyExists(_))));
        assert_eq!(store.config_version().await.unwrap(), v0 + 3);

        let no_key = store.remove_key(&merchant("M1"), "k9").await;
        assert!(matches!(no_key, Err(AdminError::UnknownKey { merchant, key }) if merchant == "M1" && key == "k9"));
        let not_its_key = store.remove_key(&merchant("M2"), "k1").await;
        assert!(matches!(not_its_key, Err(AdminError::UnknownKey { .. })));
        let no_merchant = store.remove_key(&merchant("M9"), "k1").await;
        assert!(matches!(no_merchant, Err(AdminError::UnknownMerchant(_))));
        let no_status = store.set_status(&merchant("M9"), MerchantStatus::Disabled).await;
        assert!(matches!(no_status, Err(AdminError::UnknownMerchant(_))));
        assert_eq!(store.config_version().await.unwrap(), v0 + 3);

        store.remove_key(&merchant("M1"), "k1").await.unwrap();
        store.set_status(&merchant("M1"), MerchantStatus::Disabled).await.unwrap();
        assert_eq!(store.config_version().await.unwrap(), v0 + 5);
        let merchants = store.merchants().await.unwrap();
        let m1 = find(&merchants, "M1").unwrap();
        assert_eq!(m1.status, MerchantStatus::Disabled);
        assert_eq!(key_ids(m1), ["k2"]);
        assert_eq!(key_ids(find(&merchants, "M2").unwrap()), ["k3"]);

        store.set_status(&merchant("M1"), MerchantStatus::Active).await.unwrap();
        assert_eq!(store.config_version().await.unwrap(), v0 + 6);
        // A removed key id may be registered again.
        store.add_key(&merchant("M2"), key("k1")).await.unwrap();
        assert_eq!(store.config_version().await.unwrap(), v0 + 7);
    }

    /// Merchants come in byte order of their ids, whatever the database's
    /// locale; keys in the order they were added, with their DER intact.
    async fn merchants_are_listed_in_byte_order(t: &TestStore) {
        let ids = ["merchant_c", "MERCHANT_B", "MERCHANT-A", "a", "Z"];
        for (i, id) in ids.iter().enumerate() {
            t.store.add_merchant(&merchant(id), key(&format!("key{i}a"))).await.unwrap();
            t.store.add_key(&merchant(id), key(&format!("key{i}b"))).await.unwrap();
        }
        let listed = t.store.merchants().await.unwrap();
        let mut expected: Vec<&str> = ids.to_vec();
        expected.sort();
        assert_eq!(listed.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), expected);
        for record in &listed {
            let i = ids.iter().position(|id| *id == record.id).unwrap();
            let want: Vec<StoredKey> = vec![key(&format!("key{i}a")), key(&format!("key{i}b"))];
            assert_eq!(record.keys, want);
        }
    }
}
