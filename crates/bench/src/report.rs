//! The table for people and the JSON line for scripts.

use serde_json::{Map, Value, json};

use crate::backend::{Backend, Storage};
use crate::load::{Kind, PhaseOutcome};
use crate::{Args, BackendKind};

pub struct PhaseReport {
    pub kind: Kind,
    pub requests: u64,
    pub errors: u64,
    pub error_summary: String,
    pub rps: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub elapsed_secs: f64,
    pub exhausted: bool,
    pub cpu: crate::cpu::Usage,
    /// CPU microseconds per request by thread group.
    pub cpu_us: Vec<(String, f64)>,
    pub cpu_us_text: String,
    /// /healthz req/s measured right before this phase, if it was.
    pub adjacent_healthz: Option<f64>,
}

impl PhaseReport {
    /// The /healthz rate this phase is compared with: the run right before
    /// it, or else the healthz phase.
    pub fn baseline(&self, healthz: Option<f64>) -> Option<f64> {
        self.adjacent_healthz.or(healthz)
    }

    pub fn new(kind: Kind, outcome: PhaseOutcome) -> Self {
        let cpu_us = outcome.cpu_per_request();
        let cpu_us_text = outcome.cpu_per_request_text();
        let ms = |q| outcome.histogram.value_at_quantile(q) as f64 / 1000.0;
        Self {
            kind,
            requests: outcome.requests,
            errors: outcome.errors,
            error_summary: outcome.error_summary(),
            rps: outcome.rate(),
            p50_ms: ms(0.5),
            p90_ms: ms(0.9),
            p99_ms: ms(0.99),
            max_ms: outcome.histogram.max() as f64 / 1000.0,
            elapsed_secs: outcome.elapsed.as_secs_f64(),
            exhausted: outcome.exhausted,
            cpu: outcome.cpu,
            cpu_us,
            cpu_us_text,
            adjacent_healthz: outcome.adjacent_healthz,
        }
    }

    /// CPU microseconds of the service and the load generator per request.
    pub fn cpu_us_total(&self) -> f64 {
        self.cpu_us.iter().map(|(_, micros)| micros).sum()
    }
}

/// The targets: a phase's share of the /healthz rate, and p99.
fn target_ratio(kind: Kind, backend: BackendKind) -> Option<f64> {
    match (kind, backend) {
        (Kind::SyncNew | Kind::SyncReturning, BackendKind::Sqlite) => Some(0.25),
        (Kind::SyncNew | Kind::SyncReturning, BackendKind::Postgres) => Some(0.15),
        (Kind::Redeem, _) => Some(0.30),
        _ => None,
    }
}

const TARGET_P99_MS: f64 = 15.0;

fn round(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}

pub fn print(args: &Args, backend: &Backend, reports: &[PhaseReport], storage: &Storage) {
    let healthz = reports
        .iter()
        .find(|r| r.kind == Kind::Healthz)
        .map(|r| r.rps);
    let healthz_runs: Vec<f64> = healthz
        .into_iter()
        .chain(reports.iter().filter_map(|r| r.adjacent_healthz))
        .collect();
    let healthz_mean = (!healthz_runs.is_empty())
        .then(|| healthz_runs.iter().sum::<f64>() / healthz_runs.len() as f64);
    println!();
    println!(
        "payfac-bench: backend {}, {} connections, {} s per phase, {} stored buyers, {} server + {} client threads",
        backend.label(),
        args.connections,
        args.duration,
        args.buyers,
        args.server_threads,
        args.client_threads
    );
    println!(
        "{:<24} {:>9} {:>7} {:>9} {:>8} {:>8} {:>8} {:>8} {:>9} {:>11} {:>6}",
        "phase",
        "requests",
        "errors",
        "req/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "×healthz",
        "target",
        "other"
    );
    for report in reports {
        let ratio = report.baseline(healthz).map(|h| report.rps / h);
        let target = target_ratio(report.kind, args.backend);
        let verdict = match (ratio, target) {
            (Some(ratio), Some(target)) => {
                let ok = ratio >= target && report.p99_ms <= TARGET_P99_MS;
                format!("{}{target:.2}", if ok { "ok ≥" } else { "MISS ≥" })
            }
            _ => String::new(),
        };
        println!(
            "{:<24} {:>9} {:>7} {:>9.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>9} {:>11} {:>5.0}%",
            report.kind.label(),
            report.requests,
            report.errors,
            report.rps,
            report.p50_ms,
            report.p90_ms,
            report.p99_ms,
            report.max_ms,
            ratio.map_or("-".into(), |r| format!("{r:.3}")),
            verdict,
            report.cpu.others * 100.0
        );
        if let Some(adjacent) = report.adjacent_healthz {
            println!("    (ratio to /healthz measured right before it: {adjacent:.0} req/s)");
        }
        if report.errors > 0 {
            println!("    errors: {}", report.error_summary);
        }
        if report.exhausted {
            println!(
                "    stopped early after {:.2} s: the prepared requests ran out (raise --presign)",
                report.elapsed_secs
            );
        }
    }
    if healthz_runs.len() > 1 {
        let mean = healthz_mean.unwrap_or(0.0);
        let min = healthz_runs.iter().copied().fold(f64::INFINITY, f64::min);
        let max = healthz_runs.iter().copied().fold(0.0, f64::max);
        println!(
            "/healthz runs: {} req/s (spread {:.0}% of the mean: the machine's own drift)",
            healthz_runs
                .iter()
                .map(|r| format!("{r:.0}"))
                .collect::<Vec<_>>()
                .join(", "),
            (max - min) / mean * 100.0
        );
    }
    println!(
        "(targets: p99 ≤ {TARGET_P99_MS} ms and the ratio shown; \"other\": CPU share other processes took during the phase, \
         above a few % the run was disturbed)"
    );
    println!();
    println!("CPU per request, µs (service + load generator + database; robust to other load):");
    let healthz_cpu = reports
        .iter()
        .find(|r| r.kind == Kind::Healthz)
        .map(PhaseReport::cpu_us_total);
    for report in reports {
        let relative = match healthz_cpu {
            Some(h) if report.kind != Kind::Healthz && report.cpu_us_total() > 0.0 => {
                format!("  [healthz/this = {:.3}]", h / report.cpu_us_total())
            }
            _ => String::new(),
        };
        println!(
            "  {:<24} {}{relative}",
            report.kind.label(),
            report.cpu_us_text
        );
    }
    println!(
        "storage: {:.1} MiB ({}); rows: {}",
        storage.total_bytes as f64 / 1_048_576.0,
        storage
            .parts
            .iter()
            .map(|(name, bytes)| format!("{name} {:.1} MiB", *bytes as f64 / 1_048_576.0))
            .collect::<Vec<_>>()
            .join(", "),
        storage
            .rows
            .iter()
            .map(|(table, rows)| format!("{table} {rows}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    // Issue 31: the same phases through an outside load generator and a
    // separate `payfac serve` process.
    println!(
        "with an outside load generator (wrk, separate server process): \
         BACKEND={} CONNECTIONS={} DURATION={} scripts/tail-latency.sh",
        backend.label(),
        args.connections,
        args.duration
    );

    if args.json {
        let mut object = Map::new();
        object.insert("backend".into(), json!(backend.label()));
        object.insert("connections".into(), json!(args.connections));
        object.insert("duration".into(), json!(args.duration));
        object.insert("buyers".into(), json!(args.buyers));
        object.insert("server_threads".into(), json!(args.server_threads));
        object.insert("client_threads".into(), json!(args.client_threads));
        if let Some(mean) = healthz_mean {
            object.insert("healthz_rps_mean".into(), json!(round(mean, 1)));
            let min = healthz_runs.iter().copied().fold(f64::INFINITY, f64::min);
            let max = healthz_runs.iter().copied().fold(0.0, f64::max);
            object.insert(
                "healthz_rps_spread".into(),
                json!(round((max - min) / mean, 3)),
            );
        }
        for report in reports {
            let key = report.kind.key();
            object.insert(format!("{key}_rps"), json!(round(report.rps, 1)));
            object.insert(format!("{key}_p50_ms"), json!(round(report.p50_ms, 3)));
            object.insert(format!("{key}_p90_ms"), json!(round(report.p90_ms, 3)));
            object.insert(format!("{key}_p99_ms"), json!(round(report.p99_ms, 3)));
            object.insert(format!("{key}_requests"), json!(report.requests));
            object.insert(format!("{key}_errors"), json!(report.errors));
            object.insert(format!("{key}_cpu_bench"), json!(round(report.cpu.own, 3)));
            object.insert(
                format!("{key}_cpu_us_per_request"),
                json!(round(report.cpu_us_total(), 1)),
            );
            let by_thread: Map<String, Value> = report
                .cpu_us
                .iter()
                .map(|(name, micros)| (name.clone(), json!(round(*micros, 1))))
                .collect();
            object.insert(format!("{key}_cpu_us_by_thread"), Value::Object(by_thread));
            if backend.kind == BackendKind::Postgres {
                object.insert(
                    format!("{key}_cpu_postgres"),
                    json!(round(report.cpu.database, 3)),
                );
            }
            object.insert(
                format!("{key}_cpu_other"),
                json!(round(report.cpu.others, 3)),
            );
            if report.exhausted {
                object.insert(format!("{key}_stopped_early"), json!(true));
            }
            if let (Some(h), true) = (report.baseline(healthz), report.kind != Kind::Healthz) {
                object.insert(format!("{key}_ratio"), json!(round(report.rps / h, 4)));
                object.insert(format!("{key}_healthz_rps"), json!(round(h, 1)));
            }
        }
        object.insert("storage_bytes".into(), json!(storage.total_bytes));
        for (table, rows) in &storage.rows {
            object.insert(format!("rows_{table}"), json!(rows));
        }
        println!("{}", Value::Object(object));
    }
}
