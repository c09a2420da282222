//! The command line of `payfac-bench`.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

use crate::load::Kind;

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
    pub backend: BackendKind,
    /// Seconds each timed phase runs.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Concurrent keep-alive HTTP/1.1 connections, one client task each.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Make the last line of stdout one JSON object with every figure.
    #[arg(long)]
    pub json: bool,
    /// Buyers stored before the phases; the returning-buyer phase and the
    /// redemption codes pick from them.
    #[arg(long, default_value_t = 10_000)]
    pub buyers: u64,
    /// Merchants registered, each with a fresh 2048-bit key; requests are
    /// spread over them round-robin.
    #[arg(long, default_value_t = 4)]
    pub merchants: usize,
    /// Worker threads of the server's runtime.
    #[arg(long, default_value_t = 2)]
    pub server_threads: usize,
    /// Worker threads of the load generator's runtime.
    #[arg(long, default_value_t = 2)]
    pub client_threads: usize,
    /// Requests signed for each signed phase, instead of the estimate from
    /// a short untimed warm-up (rate × duration × 2).
    #[arg(long)]
    pub presign: Option<usize>,
    /// Phases to run, comma separated, of healthz, sync-new,
    /// sync-returning, redeem (all by default; useful while profiling).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "healthz,sync-new,sync-returning,redeem"
    )]
    pub phases: Vec<Kind>,
    /// Where the server's request logs go.
    #[arg(long, value_enum, default_value = "null")]
    pub server_log: ServerLog,
    /// Folder for the SQLite database's temporary directory.
    #[arg(long)]
    pub db_dir: Option<PathBuf>,
    /// PostgreSQL server to create the throwaway database on.
    #[arg(
        long,
        env = "PAYFAC_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub postgres_url: String,
    /// Before each timed phase, wait up to this many seconds for other
    /// processes to leave the CPU nearly idle (0: never wait).
    #[arg(long, default_value_t = 60)]
    pub quiet_wait: u64,
    /// Measure only the one /healthz phase, not also a /healthz run right
    /// before each other phase (ratios then all use that one).
    #[arg(long)]
    pub single_healthz: bool,
    /// Instead of the timed phases: a steady mixed load (user-sync, then
    /// the redemption of its code) for this many seconds, with the purge
    /// running, printing table row counts as it goes.
    #[arg(long)]
    pub steady: Option<u64>,
    /// Steady mode: user-syncs per second (each followed by a redemption).
    #[arg(long, default_value_t = 200)]
    pub rate: u64,
    /// Steady mode: share of user-syncs for new buyers, in percent.
    #[arg(long, default_value_t = 10)]
    pub new_buyer_percent: u64,
    /// Steady mode: timestamp window (seconds).
    #[arg(long, default_value_t = 60)]
    pub steady_window_secs: i64,
    /// Steady mode: code TTL (seconds).
    #[arg(long, default_value_t = 60)]
    pub steady_code_ttl_secs: i64,
    /// Steady mode: session lifetime (seconds).
    #[arg(long, default_value_t = 120)]
    pub steady_session_secs: i64,
    /// Steady mode: purge interval (seconds).
    #[arg(long, default_value_t = 10)]
    pub steady_purge_secs: u64,
    /// Steady mode: seconds between row-count reports.
    #[arg(long, default_value_t = 30)]
    pub report_every: u64,
    /// Instead of the timed phases: a signed-in buyer's GET through payfac
    /// in gateway mode against the same GET straight to the storefront.
    #[arg(long)]
    pub gateway: bool,
    /// Gateway mode: also measure the same GET through this nginx binary
    /// (a plain keep-alive `proxy_pass`, no identity), as a yardstick of
    /// what any proxy costs on this machine.
    #[arg(long, value_name = "PATH")]
    pub nginx: Option<std::path::PathBuf>,
    /// Gateway mode: CPU microseconds the storefront spends on each page
    /// before answering (a busy loop standing for rendering), to see the
    /// proxy's cost next to a storefront doing real work; the target is
    /// measured with 0, a page that costs nothing.
    #[arg(long, value_name = "MICROSECONDS", default_value_t = 0)]
    pub page_work_us: u64,
    /// Instead of the timed phases: GET /_payfac/auth with a signed-in
    /// buyer's cookie (a proxy's forward-auth sub-request) against GET
    /// /healthz, in one run.
    #[arg(long)]
    pub forward_auth: bool,
    /// Instead of the timed phases: the OpenID Connect code flow of a
    /// signed-in buyer (authorize + token + userinfo) per second against
    /// payfac's provider and node's oidc-provider, in one run.
    #[arg(long)]
    pub oidc: bool,
    /// OIDC mode: the node binary that runs the reference provider.
    #[arg(long, value_name = "PATH", default_value = "node")]
    pub node: PathBuf,
    /// OIDC mode: the reference provider's script (its directory holds
    /// oidc-provider in node_modules: `npm ci` there).
    #[arg(
        long,
        value_name = "PATH",
        default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/oidc/reference-provider.mjs")
    )]
    pub oidc_reference: PathBuf,
    /// Instead of a benchmark: sign `--count` user-sync requests for new
    /// buyers of `--merchant` with `--merchant-key` and write them to FILE,
    /// one a line, for an outside load generator (scripts/wrk/user-sync.lua).
    #[arg(long, value_name = "FILE", requires_all = ["merchant", "merchant_key"])]
    pub write_sync_requests: Option<PathBuf>,
    /// With --write-sync-requests: how many requests.
    #[arg(long, default_value_t = 100_000)]
    pub count: usize,
    /// With --write-sync-requests: the registered merchant's id.
    #[arg(long)]
    pub merchant: Option<String>,
    /// With --write-sync-requests: the merchant's private key (PEM).
    #[arg(long, value_name = "FILE")]
    pub merchant_key: Option<PathBuf>,
}
