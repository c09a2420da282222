//! CPU accounting of a phase from /proc: how busy the whole machine was,
//! and how much of that was this process. The rest is other processes
//! (a compiler, a test run) disturbing the measurement, which the report
//! shows so that a noisy run can be recognised and repeated.

/// Clock ticks (USER_HZ) of the machine and of this process.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    /// Nanoseconds on CPU of this process's threads, by thread name
    /// (`server`, `client`, `sqlite-writer`, ...), plus `postgres` and
    /// `nginx` for those servers' processes.
    threads: std::collections::BTreeMap<String, u64>,
    busy: u64,
    total: u64,
    own: u64,
    /// PostgreSQL server processes: part of the system under test.
    database: u64,
}

impl Sample {
    pub fn now() -> Self {
        let (busy, total) = machine().unwrap_or((0, 0));
        let mut threads = own_threads();
        // Other processes under test: the PostgreSQL server, and the
        // reference proxy of `--gateway --nginx`.
        for name in ["postgres", "nginx"] {
            let nanos = nanos_of(name);
            if nanos > 0 {
                threads.insert(name.into(), nanos);
            }
        }
        Self {
            threads,
            busy,
            total,
            own: own().unwrap_or(0),
            database: processes_named("postgres"),
        }
    }
}

/// Shares of the machine's capacity (all cores = 1.0) between two samples.
#[derive(Debug, Clone, Default)]
pub struct Usage {
    /// CPU seconds by thread name (and `postgres`).
    pub seconds: Vec<(String, f64)>,
    /// This process: server, load generator, writer thread.
    pub own: f64,
    /// PostgreSQL server processes (their CPU is part of the service's).
    pub database: f64,
    /// Everything else.
    pub others: f64,
}

pub fn usage(before: &Sample, after: &Sample) -> Usage {
    let seconds = after
        .threads
        .iter()
        .map(|(name, nanos)| {
            let earlier = before.threads.get(name).copied().unwrap_or(0);
            (name.clone(), nanos.saturating_sub(earlier) as f64 / 1e9)
        })
        .filter(|(_, seconds)| *seconds > 0.0)
        .collect();
    let total = after.total.saturating_sub(before.total);
    if total == 0 {
        return Usage {
            seconds,
            ..Usage::default()
        };
    }
    let busy = after.busy.saturating_sub(before.busy);
    let own = after.own.saturating_sub(before.own).min(busy);
    let database = after
        .database
        .saturating_sub(before.database)
        .min(busy - own);
    Usage {
        seconds,
        own: own as f64 / total as f64,
        database: database as f64 / total as f64,
        others: (busy - own - database) as f64 / total as f64,
    }
}

/// Nanoseconds on CPU of each of this process's threads (the first field
/// of /proc/self/task/TID/schedstat), summed by thread name. Threads that
/// ended take their time with them; the service's threads live on.
fn own_threads() -> std::collections::BTreeMap<String, u64> {
    let mut by_name = std::collections::BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return by_name;
    };
    for task in tasks.flatten() {
        let path = task.path();
        let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        let nanos = std::fs::read_to_string(path.join("schedstat"))
            .ok()
            .and_then(|text| text.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0);
        *by_name.entry(name.trim().to_owned()).or_insert(0) += nanos;
    }
    by_name
}

/// Nanoseconds on CPU of the processes called `name` (PostgreSQL's and
/// nginx's are one thread each).
fn nanos_of(name: &'static str) -> u64 {
    pids_named(name)
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/schedstat")).ok())
        .filter_map(|text| text.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

fn pids_named(name: &'static str) -> impl Iterator<Item = String> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()))
        .filter(move |pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.trim() == name)
        })
}

/// Busy and total ticks summed over all cores (first line of /proc/stat).
fn machine() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal guest guest_nice
    let idle = fields.get(3)? + fields.get(4).copied().unwrap_or(0);
    let total: u64 = fields.iter().take(8).sum();
    Some((total - idle, total))
}

/// utime + stime of this process.
fn own() -> Option<u64> {
    ticks(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

/// utime + stime summed over the processes whose command is `name` (a
/// process that exits between two samples takes its ticks with it; the
/// database's connections live as long as the service's pool).
fn processes_named(name: &str) -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .flatten()
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|entry| std::fs::read_to_string(entry.path().join("stat")).ok())
        .filter(|stat| {
            let open = stat.find('(').map_or(0, |i| i + 1);
            let close = stat.rfind(')').unwrap_or(open);
            stat.get(open..close) == Some(name)
        })
        .filter_map(|stat| ticks(&stat))
        .sum()
}

/// utime + stime (fields 14 and 15) of a /proc/PID/stat line.
fn ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // after_name starts at field 3 (state), so utime (14) is index 11.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Waits until other processes leave the machine nearly idle (below
/// `threshold` of its capacity over one second), at most `limit`; says
/// on stderr when it waited or gave up.
pub async fn wait_quiet(limit: std::time::Duration, threshold: f64) {
    if limit.is_zero() {
        return;
    }
    let started = std::time::Instant::now();
    let mut told = false;
    loop {
        let before = Sample::now();
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let others = usage(&before, &Sample::now()).others;
        if others < threshold {
            if told {
                eprintln!(
                    "the machine is quiet again after {:.0} s",
                    started.elapsed().as_secs_f64()
                );
            }
            return;
        }
        if started.elapsed() >= limit {
            eprintln!(
                "warning: other processes still use {:.0}% of the CPU; measuring anyway",
                others * 100.0
            );
            return;
        }
        if !told {
            eprintln!(
                "other processes use {:.0}% of the CPU; waiting up to {} s for quiet",
                others * 100.0,
                limit.as_secs()
            );
            told = true;
        }
    }
}
