//! Everything before the first timed phase: the store, the merchants and
//! their keys, the stored buyers, and payfac serving in-process.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use payfac_domain::MerchantId;
use payfac_server::{Application, Config, observability};
use payfac_signing::{SigningKey, VerifyingKey, generate_key_pair};
use payfac_store::{Store, StoredKey};

use crate::backend::Backend;
use crate::flags::{Args, BackendKind, ServerLog};
use crate::presign;

/// Window and code TTL of the timed phases: long enough to cover the
/// pre-signing and every phase.
const LONG_WINDOW_SECS: i64 = 3600;

/// What the phases and the report need to know about the running service.
pub struct Setup {
    pub address: SocketAddr,
    pub store: Arc<dyn Store>,
    pub merchants: Vec<MerchantId>,
    pub keys: Arc<Vec<SigningKey>>,
    /// Buyers stored before the phases (`--buyers`).
    pub buyers_stored: u64,
}

/// Opens the store, registers the merchants, stores the buyers and starts
/// payfac on `server_rt`. `Ok(None)` when the store cannot be opened (the
/// reason is printed).
pub fn start(
    args: &Args,
    server_rt: &tokio::runtime::Runtime,
    backend: &Backend,
) -> anyhow::Result<Option<(Setup, i64)>> {
    let store = match server_rt.block_on(payfac_store::open(&backend.url)) {
        Ok(store) => store,
        Err(error) => {
            eprintln!(
                "payfac-bench: cannot open the {:?} store at {}: {error}",
                args.backend,
                payfac_store::redact_url(&backend.url)
            );
            if args.backend == BackendKind::Postgres {
                eprintln!(
                    "payfac-bench: (a payfac build without the PostgreSQL store refuses \
                     postgres:// URLs here; run --backend sqlite, or a build that has it)"
                );
            }
            return Ok(None);
        }
    };

    let started = Instant::now();
    eprintln!(
        "generating {} RSA-2048 merchant key pairs...",
        args.merchants
    );
    let keys = generate_keys(args.merchants)?;
    let mut merchants = Vec::new();
    for (index, (_, public)) in keys.iter().enumerate() {
        let id = MerchantId::parse(&presign::merchant_name(index)).expect("valid merchant id");
        let stored = StoredKey {
            key_id: public.key_id(),
            spki_der: public.spki_der().to_vec(),
        };
        server_rt
            .block_on(store.add_merchant(&id, stored))
            .with_context(|| format!("registering merchant {}", id.as_str()))?;
        merchants.push(id);
    }

    if args.buyers > 0 {
        let begun = Instant::now();
        eprintln!("storing {} buyers...", args.buyers);
        server_rt.block_on(backend.populate_buyers(args.buyers, args.merchants))?;
        eprintln!(
            "stored {} buyers in {:.1} s ({})",
            args.buyers,
            begun.elapsed().as_secs_f64(),
            backend.populate_method()
        );
    }

    let steady = args.steady.is_some();
    let config = Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        // The benchmark's one client is all of its load: no abuse limits.
        rate_limits: payfac_server::ratelimit::RateLimits::off(),
        timestamp_window_secs: if steady {
            args.steady_window_secs
        } else {
            LONG_WINDOW_SECS
        },
        code_ttl_secs: if steady {
            args.steady_code_ttl_secs
        } else {
            LONG_WINDOW_SECS
        },
        insecure_cookies: true,
        session_idle_secs: if steady {
            args.steady_session_secs
        } else {
            Config::default().session_idle_secs
        },
        session_max_secs: if steady {
            args.steady_session_secs
        } else {
            Config::default().session_max_secs
        },
        purge_interval: if steady {
            Duration::from_secs(args.steady_purge_secs.max(1))
        } else {
            Config::default().purge_interval
        },
        ..Config::default()
    };
    let code_ttl_secs = config.code_ttl_secs;
    let application = server_rt
        .block_on(Application::build(config, store.clone()))
        .context("starting payfac")?;
    let address = SocketAddr::from(([127, 0, 0, 1], application.port()));
    server_rt.spawn(application.run_until_stopped());
    eprintln!(
        "payfac is serving on {address} ({} backend, {} server threads), set up in {:.1} s",
        backend.label(),
        args.server_threads,
        started.elapsed().as_secs_f64()
    );

    let setup = Setup {
        address,
        store,
        merchants,
        keys: Arc::new(keys.into_iter().map(|(key, _)| key).collect()),
        buyers_stored: args.buyers,
    };
    Ok(Some((setup, code_ttl_secs)))
}

fn generate_keys(count: usize) -> anyhow::Result<Vec<(SigningKey, VerifyingKey)>> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..count)
            .map(|_| {
                scope.spawn(|| -> anyhow::Result<(SigningKey, VerifyingKey)> {
                    let pair = generate_key_pair(2048)?;
                    Ok((
                        SigningKey::from_pem(&pair.private_pem)?,
                        VerifyingKey::parse(&pair.public_pem)?,
                    ))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("key generation thread panicked"))
            .collect()
    })
}

pub fn init_server_logging(target: ServerLog) {
    static DEV_NULL: std::sync::OnceLock<std::fs::File> = std::sync::OnceLock::new();
    match target {
        ServerLog::Off => {}
        ServerLog::Sink => observability::init_logging(false, false, || Box::new(std::io::sink())),
        ServerLog::Stderr => {
            observability::init_logging(false, false, || Box::new(std::io::stderr()))
        }
        ServerLog::Null => {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/null")
                .expect("/dev/null opens");
            let _ = DEV_NULL.set(file);
            observability::init_logging(false, false, || {
                Box::new(DEV_NULL.get().expect("set before logging starts"))
            });
        }
    }
}
