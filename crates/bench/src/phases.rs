//! The timed phases and their untimed preparation: signing, codes,
//! warm-ups, and the /healthz run measured next to each phase.

use std::time::{Duration, Instant};

use crate::flags::Args;
use crate::load::{self, Kind, PhaseOutcome};
use crate::report::PhaseReport;
use crate::setup::Setup;
use crate::{cpu, presign};

/// The timed phases, one after another, each behind its untimed
/// preparation (signing, codes) and warm-up.
pub async fn run_phases(
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

pub async fn quiet(args: &Args) {
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
