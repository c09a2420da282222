//! `--write-sync-requests FILE`: signed user-sync requests for an outside
//! load generator (`scripts/wrk/user-sync.lua`, `scripts/tail-latency.sh`),
//! so wrk or oha can replay requests signed before their clock starts.
//!
//! One request a line, fields separated by tabs: path, `timestamp`,
//! `nonce`, `signature`, JSON body (which holds no tab or newline). Each
//! line is a new buyer with a fresh nonce, valid once within the server's
//! `--timestamp-window-secs` of the moment it was signed.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use payfac_domain::MerchantId;
use payfac_signing::SigningKey;

use crate::presign::signed_sync;

/// Signs `count` user-sync requests of `merchant` (new buyers `N…`, each
/// once) with the private key in `key_file`, on every core, and writes
/// them to `out`.
pub fn write_sync_requests(
    out: &Path,
    count: usize,
    merchant: &str,
    key_file: &Path,
) -> anyhow::Result<()> {
    let pem = std::fs::read_to_string(key_file)
        .with_context(|| format!("reading {}", key_file.display()))?;
    let keys = vec![SigningKey::from_pem(&pem).context("parsing the merchant's private key")?];
    let merchants =
        vec![MerchantId::parse(merchant).map_err(|e| anyhow::anyhow!("merchant id: {e}"))?];
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .max(1);
    let chunk = count.div_ceil(threads).max(1);
    let lines: Vec<Vec<u8>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|thread| {
                let (keys, merchants) = (&keys, &merchants);
                scope.spawn(move || {
                    let mut text = Vec::new();
                    for serial in thread * chunk..((thread + 1) * chunk).min(count) {
                        let buyer = (0, format!("N{serial:09}"), format!("n{serial}@example.com"));
                        let request = signed_sync(keys, merchants, &buyer);
                        let [timestamp, nonce, signature] =
                            request.signed.as_ref().expect("a signed request");
                        text.extend_from_slice(request.path.as_bytes());
                        for field in [timestamp, nonce, signature] {
                            text.push(b'\t');
                            text.extend_from_slice(field.as_bytes());
                        }
                        text.push(b'\t');
                        text.extend_from_slice(&request.body);
                        text.push(b'\n');
                    }
                    text
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("signing thread panicked"))
            .collect()
    });
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?,
    );
    for text in lines {
        file.write_all(&text)?;
    }
    file.flush()?;
    Ok(())
}
