//! `payfac-bench`: the merchant API and buyer sign-in measured next to the
//! plain HTTP ceiling (`GET /healthz`), in one run, as ratios.
//!
//! One process, two tokio runtimes: payfac runs in-process on its own
//! multi-threaded runtime (`--server-threads`, 2 by default, which is what
//! `#[tokio::main]` gives `payfac serve` on this 2-core machine), built by
//! the same `Application::build` the binary uses; the load generator runs
//! on a second runtime (`--client-threads`). Both share the machine's
//! cores, exactly as a separate client process would, but there is no
//! child process to build, find, wait for and kill.
//!
//! Every signed request of a timed phase is signed before that phase's
//! clock starts, in parallel on every core; the timed loop only sends.
//! See docs/PERFORMANCE.md for how to read the figures.

mod backend;
mod cpu;
mod gateway;
mod load;
mod presign;
mod report;
mod steady;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, ValueEnum};
use payfac_domain::MerchantId;
use payfac_server::{Application, Config, observability};
use payfac_signing::{SigningKey, VerifyingKey, generate_key_pair};
use payfac_store::{Store, StoredKey};

use backend::Backend;
use load::{Kind, PhaseOutcome};
use report::PhaseReport;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendKind {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ServerLog {
    /// Format every log line and write it to /dev/null (the cost of
    /// `payfac serve` logging, minus the terminal).
    Null,
    /// Format and drop in memory (no write syscall).
    Sink,
    /// The server's real stderr.
    Stderr,
    /// No subscriber at all: logging costs nothing.
    Off,
}

#[derive(Debug, Parser)]
#[command(
    name = "payfac-bench",
    about = "Benchmark payfac: /healthz, user-sync (new and returning buyers) and code redemption"
)]
pub struct Args {
    /// Storage backend of the fresh store.
    #[arg(long, value_enum, default_value = "sqlite")]
    backend: BackendKind,
    /// Seconds each timed phase runs.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Concurrent keep-alive HTTP/1.1 connections, one client task each.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Make the last line of stdout one JSON object with every figure.
    #[arg(long)]
    json: bool,
    /// Buyers stored before the phases; the returning-buyer phase and the
    /// redemption codes pick from them.
    #[arg(long, default_value_t = 10_000)]
    buyers: u64,
    /// Merchants registered, each with a fresh 2048-bit key; requests are
    /// spread over them round-robin.
    #[arg(long, default_value_t = 4)]
    merchants: usize,
    /// Worker threads of the server's runtime.
    #[arg(long, default_value_t = 2)]
    server_threads: usize,
    /// Worker threads of the load generator's runtime.
    #[arg(long, default_value_t = 2)]
    client_threads: usize,
    /// Requests signed for each signed phase, instead of the estimate from
    /// a short untimed warm-up (rate × duration × 2).
    #[arg(long)]
    presign: Option<usize>,
    /// Phases to run, comma separated, of healthz, sync-new,
    /// sync-returning, redeem (all by default; useful while profiling).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "healthz,sync-new,sync-returning,redeem"
    )]
    phases: Vec<Kind>,
    /// Where the server's request logs go.
    #[arg(long, value_enum, default_value = "null")]
    server_log: ServerLog,
    /// Folder for the SQLite database's temporary directory.
    #[arg(long)]
    db_dir: Option<PathBuf>,
    /// PostgreSQL server to create the throwaway database on.
    #[arg(
        long,
        env = "PAYFAC_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    postgres_url: String,
    /// Before each timed phase, wait up to this many seconds for other
    /// processes to leave the CPU nearly idle (0: never wait).
    #[arg(long, default_value_t = 60)]
    quiet_wait: u64,
    /// Measure only the one /healthz phase, not also a /healthz run right
    /// before each other phase (ratios then all use that one).
    #[arg(long)]
    single_healthz: bool,
    /// Instead of the timed phases: a steady mixed load (user-sync, then
    /// the redemption of its code) for this many seconds, with the purge
    /// running, printing table row counts as it goes.
    #[arg(long)]
    steady: Option<u64>,
    /// Steady mode: user-syncs per second (each followed by a redemption).
    #[arg(long, default_value_t = 200)]
    rate: u64,
    /// Steady mode: share of user-syncs for new buyers, in percent.
    #[arg(long, default_value_t = 10)]
    new_buyer_percent: u64,
    /// Steady mode: timestamp window (seconds).
    #[arg(long, default_value_t = 60)]
    steady_window_secs: i64,
    /// Steady mode: code TTL (seconds).
    #[arg(long, default_value_t = 60)]
    steady_code_ttl_secs: i64,
    /// Steady mode: session lifetime (seconds).
    #[arg(long, default_value_t = 120)]
    steady_session_secs: i64,
    /// Steady mode: purge interval (seconds).
    #[arg(long, default_value_t = 10)]
    steady_purge_secs: u64,
    /// Steady mode: seconds between row-count reports.
    #[arg(long, default_value_t = 30)]
    report_every: u64,
    /// Instead of the timed phases: a signed-in buyer's GET through payfac
    /// in gateway mode against the same GET straight to the storefront.
    #[arg(long)]
    gateway: bool,
}

/// Window and code TTL of the timed phases: long enough to cover the
/// pre-signing and every phase.
const LONG_WINDOW_SECS: i64 = 3600;

/// The allocator of the `payfac` binary (crates/cli/src/main.rs): the
/// server runs in this process, so this choice is part of what is measured.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("payfac-bench: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// What the phases and the report need to know about the running service.
pub struct Setup {
    pub address: SocketAddr,
    pub store: Arc<dyn Store>,
    pub merchants: Vec<MerchantId>,
    pub keys: Arc<Vec<SigningKey>>,
    /// Buyers stored before the phases (`--buyers`).
    pub buyers_stored: u64,
}

fn run(args: Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.connections > 0, "--connections must be positive");
    anyhow::ensure!(args.duration > 0, "--duration must be positive");
    anyhow::ensure!(args.merchants > 0, "--merchants must be positive");
    anyhow::ensure!(
        args.buyers > 0
            || args.steady.is_some()
            || !args
                .phases
                .iter()
                .any(|kind| matches!(kind, Kind::SyncReturning | Kind::Redeem)),
        "the returning-buyer and redemption phases need stored buyers (--buyers > 0)"
    );
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.server_threads.max(1))
        .thread_name("server")
        .enable_all()
        .build()?;
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client_threads.max(1))
        .thread_name("client")
        .enable_all()
        .build()?;
    init_server_logging(args.server_log);

    let backend = server_rt.block_on(Backend::create(&args))?;
    let result = run_with_backend(&args, &server_rt, &client_rt, &backend);
    // The server's connections must be gone before a PostgreSQL database
    // can be dropped.
    server_rt.shutdown_timeout(Duration::from_secs(2));
    let cleanup = client_rt.block_on(backend.destroy());
    client_rt.shutdown_timeout(Duration::from_secs(1));
    if let Err(error) = cleanup {
        eprintln!("payfac-bench: warning: cleanup failed: {error:#}");
    }
    result
}

fn run_with_backend(
    args: &Args,
    server_rt: &tokio::runtime::Runtime,
    client_rt: &tokio::runtime::Runtime,
    backend: &Backend,
) -> anyhow::Result<ExitCode> {
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
            return Ok(ExitCode::from(2));
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

    if args.gateway {
        gateway::run(args, &setup, server_rt, client_rt)?;
        return Ok(ExitCode::SUCCESS);
    }

    if let Some(seconds) = args.steady {
        client_rt.block_on(steady::run(args, &setup, backend, seconds))?;
        return Ok(ExitCode::SUCCESS);
    }

    let reports = client_rt.block_on(run_phases(args, &setup, code_ttl_secs))?;
    let storage = client_rt.block_on(backend.storage_report())?;
    report::print(args, backend, &reports, &storage);
    Ok(ExitCode::SUCCESS)
}

/// The timed phases, one after another, each behind its untimed
/// preparation (signing, codes) and warm-up.
async fn run_phases(
    args: &Args,
    setup: &Setup,
    code_ttl_secs: i64,
) -> anyhow::Result<Vec<PhaseReport>> {
    let duration = Duration::from_secs(args.duration);
    let mut reports = Vec::new();
    let mut codes: Vec<String> = Vec::new();
    let mut new_buyer_serial = 0usize;
    for kind in &args.phases {
        let kind = *kind;
        eprintln!("--- {}", kind.label());
        let outcome: PhaseOutcome = match kind {
            Kind::Healthz => {
                load::run(setup.address, args.connections, duration / 5, kind, None).await?;
                quiet(args).await;
                load::run(setup.address, args.connections, duration, kind, None).await?
            }
            Kind::SyncNew | Kind::SyncReturning => {
                let mut make = |count: usize| {
                    let first = new_buyer_serial;
                    new_buyer_serial += count;
                    presign::sign_sync_requests(setup, kind, first, count, args.buyers)
                };
                let warmup = make(args.presign.map_or(2_000, |n| n.min(2_000)));
                let rate = warm_up(args, setup, kind, warmup, &mut codes).await?;
                let count = args
                    .presign
                    .unwrap_or_else(|| planned_requests(rate, args.duration));
                let begun = Instant::now();
                let pool = make(count);
                eprintln!(
                    "signed {count} requests in {:.1} s ({:.0}/s)",
                    begun.elapsed().as_secs_f64(),
                    count as f64 / begun.elapsed().as_secs_f64()
                );
                let adjacent = adjacent_healthz(args, setup).await?;
                let mut outcome =
                    load::run(setup.address, args.connections, duration, kind, Some(pool)).await?;
                outcome.adjacent_healthz = adjacent;
                codes.append(&mut outcome.codes);
                outcome
            }
            Kind::Redeem => {
                let warmup_codes = take_codes(&mut codes, setup, 2_000, code_ttl_secs).await?;
                let pool = presign::redeem_requests(warmup_codes);
                let rate = warm_up_pool(args, setup, kind, pool).await?;
                let count = args
                    .presign
                    .unwrap_or_else(|| planned_requests(rate, args.duration));
                let begun = Instant::now();
                let pool = presign::redeem_requests(
                    take_codes(&mut codes, setup, count, code_ttl_secs).await?,
                );
                eprintln!(
                    "prepared {count} codes in {:.1} s",
                    begun.elapsed().as_secs_f64()
                );
                let adjacent = adjacent_healthz(args, setup).await?;
                let mut outcome =
                    load::run(setup.address, args.connections, duration, kind, Some(pool)).await?;
                outcome.adjacent_healthz = adjacent;
                outcome
            }
        };
        eprintln!("{}", outcome.summary());
        reports.push(PhaseReport::new(kind, outcome));
    }
    Ok(reports)
}

/// Other processes' CPU share below which the machine counts as quiet.
const QUIET_THRESHOLD: f64 = 0.08;

async fn quiet(args: &Args) {
    cpu::wait_quiet(Duration::from_secs(args.quiet_wait), QUIET_THRESHOLD).await;
    eprintln!("measuring for {} s...", args.duration);
}

/// The /healthz rate measured right before a phase (same duration, after
/// the phase's preparation), so that the phase's ratio compares two
/// neighbouring measurements: this machine's speed drifts by ±20 % over
/// minutes.
async fn adjacent_healthz(args: &Args, setup: &Setup) -> anyhow::Result<Option<f64>> {
    quiet(args).await;
    if args.single_healthz {
        return Ok(None);
    }
    let outcome = load::run(
        setup.address,
        args.connections,
        Duration::from_secs(args.duration),
        Kind::Healthz,
        None,
    )
    .await?;
    eprintln!("adjacent healthz: {:.0}/s", outcome.rate());
    eprintln!("measuring for {} s...", args.duration);
    Ok(Some(outcome.rate()))
}

/// Requests to prepare for a phase from the warm-up's rate: twice as many,
/// since the short warm-up runs cold and has measured up to 40 % below the
/// phase's own rate.
fn planned_requests(rate: f64, duration_secs: u64) -> usize {
    (rate * duration_secs as f64 * 2.0) as usize + 2_000
}

/// Runs a warm-up of the signed phase on `pool`; its codes are kept for the
/// redemption phase. Returns the warm-up's rate.
async fn warm_up(
    args: &Args,
    setup: &Setup,
    kind: Kind,
    pool: Vec<load::Prepared>,
    codes: &mut Vec<String>,
) -> anyhow::Result<f64> {
    let mut outcome = load::run(
        setup.address,
        args.connections,
        Duration::from_secs(1),
        kind,
        Some(pool),
    )
    .await?;
    codes.append(&mut outcome.codes);
    let rate = outcome.rate();
    eprintln!(
        "warm-up: {} requests, {} errors, {rate:.0}/s",
        outcome.requests, outcome.errors
    );
    anyhow::ensure!(
        outcome.requests > outcome.errors,
        "every warm-up request failed: {}",
        outcome.error_summary()
    );
    Ok(rate)
}

async fn warm_up_pool(
    args: &Args,
    setup: &Setup,
    kind: Kind,
    pool: Vec<load::Prepared>,
) -> anyhow::Result<f64> {
    let mut codes = Vec::new();
    warm_up(args, setup, kind, pool, &mut codes).await
}

/// `count` unused codes: those the user-sync phases were answered with
/// first, then fresh ones issued straight through the store (no HTTP, no
/// signature) for stored buyers.
async fn take_codes(
    codes: &mut Vec<String>,
    setup: &Setup,
    count: usize,
    code_ttl_secs: i64,
) -> anyhow::Result<Vec<String>> {
    let mut taken: Vec<String> = codes.drain(..count.min(codes.len())).collect();
    if taken.len() < count {
        let missing = count - taken.len();
        let mut fresh = presign::issue_codes(setup, missing, code_ttl_secs).await?;
        taken.append(&mut fresh);
    }
    Ok(taken)
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

fn init_server_logging(target: ServerLog) {
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
