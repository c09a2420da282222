//! CPU accounting of a phase from /proc: how busy the whole machine was,
//! and how much of that was this process. The rest is other processes
//! (a compiler, a test run) disturbing the measurement, which the report
//! shows so that a noisy run can be recognised and repeated.

/// Clock ticks (USER_HZ) of the machine and of this process.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    busy: u64,
    total: u64,
    own: u64,
    /// PostgreSQL server processes: part of the system under test.
    database: u64,
}

impl Sample {
    pub fn now() -> Self {
        let (busy, total) = machine().unwrap_or((0, 0));
        Self {
            busy,
            total,
            own: own().unwrap_or(0),
            database: processes_named("postgres"),
        }
    }
}

/// Shares of the machine's capacity (all cores = 1.0) between two samples.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// This process: server, load generator, writer thread.
    pub own: f64,
    /// PostgreSQL server processes (their CPU is part of the service's).
    pub database: f64,
    /// Everything else.
    pub others: f64,
}

pub fn usage(before: Sample, after: Sample) -> Usage {
    let total = after.total.saturating_sub(before.total);
    if total == 0 {
        return Usage::default();
    }
    let busy = after.busy.saturating_sub(before.busy);
    let own = after.own.saturating_sub(before.own).min(busy);
    let database = after
        .database
        .saturating_sub(before.database)
        .min(busy - own);
    Usage {
        own: own as f64 / total as f64,
        database: database as f64 / total as f64,
        others: (busy - own - database) as f64 / total as f64,
    }
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
        .filter(|entry| entry.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()))
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
