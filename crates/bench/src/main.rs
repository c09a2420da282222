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
mod export;
mod flags;
mod gateway;
mod load;
mod oidc;
mod oidc_reference;
mod phases;
mod presign;
mod reference_proxy;
mod report;
mod setup;
mod steady;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use backend::Backend;
pub use flags::{Args, BackendKind, ServerLog};
use load::Kind;
pub use setup::Setup;

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

fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let (Some(out), Some(merchant), Some(key)) = (
        &args.write_sync_requests,
        &args.merchant,
        &args.merchant_key,
    ) {
        export::write_sync_requests(out, args.count, merchant, key)?;
        return Ok(ExitCode::SUCCESS);
    }
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
    setup::init_server_logging(args.server_log);

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
    let Some((setup, code_ttl_secs)) = setup::start(args, server_rt, backend)? else {
        return Ok(ExitCode::from(2));
    };
    if args.forward_auth {
        gateway::run_forward_auth(args, &setup, server_rt, client_rt)?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.oidc {
        oidc::run(args, &setup, server_rt, client_rt)?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.gateway {
        gateway::run(args, &setup, server_rt, client_rt)?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(seconds) = args.steady {
        client_rt.block_on(steady::run(args, &setup, backend, seconds))?;
        return Ok(ExitCode::SUCCESS);
    }

    let reports = client_rt.block_on(phases::run_phases(args, &setup, code_ttl_secs))?;
    let storage = client_rt.block_on(backend.storage_report())?;
    report::print(args, backend, &reports, &storage);
    Ok(ExitCode::SUCCESS)
}
