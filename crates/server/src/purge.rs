//! Background purge of expired nonces, codes and sessions, in bounded
//! batches so no single transaction holds the writer for long.

use std::sync::Arc;
use std::time::Duration;

use payfac_store::{Store, unix_now};

/// Rows of each kind deleted per transaction.
const BATCH: i64 = 1_000;

pub fn spawn(store: Arc<dyn Store>, every: Duration) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            purge_all(store.as_ref()).await;
        }
    });
}

/// Purges until a pass finds less than a full batch of anything.
async fn purge_all(store: &dyn Store) {
    loop {
        match store.purge_expired(unix_now(), BATCH).await {
            Ok(counts) => {
                metrics::counter!("payfac_codes_expired_total").increment(counts.codes_unused);
                metrics::counter!("payfac_purged_rows_total", "table" => "nonces")
                    .increment(counts.nonces);
                metrics::counter!("payfac_purged_rows_total", "table" => "codes")
                    .increment(counts.codes);
                metrics::counter!("payfac_purged_rows_total", "table" => "sessions")
                    .increment(counts.sessions);
                let full = BATCH as u64;
                if counts.nonces < full && counts.codes < full && counts.sessions < full {
                    return;
                }
            }
            Err(error) => {
                tracing::warn!(%error, "purge failed; will retry");
                return;
            }
        }
    }
}
