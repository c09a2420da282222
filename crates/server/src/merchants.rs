//! The merchant directory: every merchant's status and parsed public keys,
//! cached in memory so no request parses a key or asks storage who a
//! merchant is. A background task polls storage's change counter and
//! reloads on change, so CLI changes reach a running server within the
//! refresh interval (1 s by default; the contract allows 5 s).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use payfac_domain::{MerchantId, MerchantStatus};
use payfac_signing::VerifyingKey;
use payfac_store::{Store, StoreError};

/// A merchant as the request path needs it.
#[derive(Debug)]
pub struct Merchant {
    pub id: MerchantId,
    pub status: MerchantStatus,
    /// Active keys; a request signed with any of them is accepted.
    pub keys: Vec<Arc<VerifyingKey>>,
}

#[derive(Default)]
struct Snapshot {
    version: i64,
    merchants: HashMap<String, Arc<Merchant>>,
}

#[derive(Clone, Default)]
pub struct MerchantDirectory {
    current: Arc<RwLock<Arc<Snapshot>>>,
}

impl MerchantDirectory {
    pub async fn load(store: &dyn Store) -> Result<Self, StoreError> {
        let directory = Self::default();
        directory.reload(store, None).await?;
        Ok(directory)
    }

    /// The merchant, if it exists and is active.
    pub fn active(&self, id: &str) -> Option<Arc<Merchant>> {
        let snapshot = self.snapshot();
        snapshot
            .merchants
            .get(id)
            .filter(|merchant| merchant.status == MerchantStatus::Active)
            .cloned()
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .expect("merchant directory lock")
            .clone()
    }

    /// Reloads when storage's change counter moved; true when it did.
    pub async fn refresh(&self, store: &dyn Store) -> Result<bool, StoreError> {
        let started = std::time::Instant::now();
        let version = store.config_version().await;
        metrics::histogram!("payfac_storage_duration_seconds", "operation" => "poll")
            .record(started.elapsed().as_secs_f64());
        let version = version?;
        if version == self.snapshot().version {
            return Ok(false);
        }
        self.reload(store, Some(version)).await?;
        Ok(true)
    }

    async fn reload(&self, store: &dyn Store, version: Option<i64>) -> Result<(), StoreError> {
        let version = match version {
            Some(version) => version,
            None => store.config_version().await?,
        };
        let records = store.merchants().await?;
        let previous = self.snapshot();
        let mut merchants = HashMap::with_capacity(records.len());
        for record in records {
            let Ok(id) = MerchantId::parse(&record.id) else {
                continue;
            };
            let keys = record
                .keys
                .iter()
                .filter_map(|stored| reuse_or_parse(&previous, &record.id, stored))
                .collect();
            crate::metric_catalog::register_merchant(id.as_str());
            let merchant = Merchant {
                id,
                status: record.status,
                keys,
            };
            merchants.insert(record.id, Arc::new(merchant));
        }
        *self.current.write().expect("merchant directory lock") =
            Arc::new(Snapshot { version, merchants });
        Ok(())
    }

    /// Polls storage for merchant changes until the process ends.
    pub fn spawn_refresher(&self, store: Arc<dyn Store>, every: Duration) {
        let directory = self.clone();
        // The poll is a one-row read every `every`: it doubles as the
        // storage probe behind `payfac_storage_up` (1 answering, 0 not).
        metrics::gauge!("payfac_storage_up").set(1.0);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                let refreshed = directory.refresh(store.as_ref()).await;
                let up = if refreshed.is_ok() { 1.0 } else { 0.0 };
                metrics::gauge!("payfac_storage_up").set(up);
                match refreshed {
                    Ok(true) => tracing::info!("merchant directory reloaded"),
                    Ok(false) => {}
                    Err(error) => tracing::warn!(%error, "merchant directory refresh failed"),
                }
            }
        });
    }
}

/// Keys are parsed once: an unchanged key is taken from the previous
/// snapshot.
fn reuse_or_parse(
    previous: &Snapshot,
    merchant: &str,
    stored: &payfac_store::StoredKey,
) -> Option<Arc<VerifyingKey>> {
    let known = previous.merchants.get(merchant).and_then(|m| {
        m.keys
            .iter()
            .find(|key| key.spki_der() == stored.spki_der.as_slice())
            .cloned()
    });
    known.or_else(|| match VerifyingKey::from_der(&stored.spki_der) {
        Ok(key) => Some(Arc::new(key)),
        Err(error) => {
            tracing::error!(merchant, key_id = %stored.key_id, %error, "stored key does not parse");
            None
        }
    })
}
