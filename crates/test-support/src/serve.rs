//! A `payfac serve` child process, started the one way every test that
//! drives the real binary starts it: on a free port, ready once
//! `/healthz` answers 200, its output in files of a temporary directory
//! of its own.
//!
//! Dropping it kills the process, reaps it and deletes the directory, also
//! when the test panicked, so no process or file outlives the test. The
//! process killed is payfac itself: a clock moved ahead
//! ([`clock_ahead`]) is libfaketime preloaded into payfac, never the
//! `faketime` wrapper, which forks and would leave payfac running.
//!
//! The caller hands over the binary as a [`Command`] (only the test
//! crate knows `CARGO_BIN_EXE_payfac`), with its environment set.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Attempts at a start; a port another process took between
/// [`crate::free_port`] and the bind makes payfac exit, and the next
/// attempt takes another.
const ATTEMPTS: usize = 3;
/// How long one start may take to answer `/healthz`.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// A running `payfac serve`; see the module doc.
pub struct Served {
    child: Child,
    /// The port it listens on, on 127.0.0.1.
    pub port: u16,
    directory: tempfile::TempDir,
    /// Run under libfaketime ([`clock_ahead`]), whose shared memory is
    /// deleted with the process.
    faketime: bool,
}

impl Served {
    /// `command()` with `serve` and `args(port)` on a free port, once
    /// `/healthz` answers; blocks the calling thread while it waits.
    /// Panics with payfac's stderr when no attempt becomes healthy.
    pub fn start(command: impl Fn() -> Command, args: impl Fn(u16) -> Vec<String>) -> Self {
        let mut failures = Vec::new();
        for _ in 0..ATTEMPTS {
            let mut served = Self::spawn(&command, &args);
            let started = Instant::now();
            while started.elapsed() < READY_WITHIN && served.running() {
                if get(served.port, "/healthz").is_some_and(|(status, _)| status == 200) {
                    return served;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            failures.push(served.stderr());
        }
        panic!("payfac serve never answered /healthz: {failures:#?}");
    }

    /// [`Served::start`] for async tests: waits without blocking the
    /// runtime, whose tasks (a proxy in front of the database) payfac
    /// may need to start.
    pub async fn start_async(
        command: impl Fn() -> Command,
        args: impl Fn(u16) -> Vec<String>,
    ) -> Self {
        let mut failures = Vec::new();
        for _ in 0..ATTEMPTS {
            let mut served = Self::spawn(&command, &args);
            let started = Instant::now();
            while started.elapsed() < READY_WITHIN && served.running() {
                if get_async(served.port, "/healthz")
                    .await
                    .is_some_and(|(status, _)| status == 200)
                {
                    return served;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            failures.push(served.stderr());
        }
        panic!("payfac serve never answered /healthz: {failures:#?}");
    }

    fn spawn(command: &impl Fn() -> Command, args: &impl Fn(u16) -> Vec<String>) -> Self {
        let directory = tempfile::Builder::new()
            .prefix("payfac-serve-")
            .tempdir()
            .expect("a temporary directory for payfac's output");
        let port = crate::free_port();
        let file = |name: &str| {
            std::fs::File::create(directory.path().join(name)).expect("an output file")
        };
        let mut command = command();
        let faketime = command.get_envs().any(|(name, _)| name == "FAKETIME");
        let child = command
            .arg("serve")
            .args(args(port))
            .stdin(Stdio::null())
            .stdout(file("stdout"))
            .stderr(file("stderr"))
            .spawn()
            .unwrap_or_else(|error| panic!("starting {command:?}: {error}"));
        Self {
            child,
            port,
            directory,
            faketime,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The process id, for signals.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process has not exited.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Its exit code once it exits within `limit` (-1 for a signal);
    /// `None` while it still runs.
    pub async fn exit_code(&mut self, limit: Duration) -> Option<i32> {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status.code().unwrap_or(-1));
            }
            if started.elapsed() >= limit {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Everything it printed on stdout so far.
    pub fn stdout(&self) -> String {
        self.read("stdout")
    }

    /// Everything it logged on stderr so far.
    pub fn stderr(&self) -> String {
        self.read("stderr")
    }

    /// The directory its output files are in, deleted on drop.
    pub fn directory(&self) -> &Path {
        self.directory.path()
    }

    fn read(&self, name: &str) -> String {
        let path: PathBuf = self.directory.path().join(name);
        std::fs::read_to_string(path).unwrap_or_default()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if self.faketime {
            // libfaketime 0.9.10 (Debian 12, Ubuntu 24.04) makes a
            // semaphore and a segment per process, named by its pid, and
            // deletes them only at a normal exit: a killed payfac leaves
            // them (FAKETIME_DISABLE_SHM is newer). They go here.
            let pid = self.child.id();
            for name in [
                format!("faketime_shm_{pid}"),
                format!("sem.faketime_sem_{pid}"),
            ] {
                let _ = std::fs::remove_file(Path::new("/dev/shm").join(name));
            }
        }
    }
}

/// Installs on `command` (payfac itself) libfaketime with its clock
/// `offset` ahead (`"+30s"`), wall clock only: timers and timeouts keep
/// the real monotonic clock. Where libfaketime knows it
/// (`FAKETIME_DISABLE_SHM`, after 0.9.10) no shared memory is made; else
/// [`Served`] deletes the process's on drop, so a killed process leaves
/// nothing in `/dev/shm`. Needs the Debian package `faketime`
/// (scripts/test.sh installs it); panics naming it without.
pub fn clock_ahead(command: &mut Command, offset: &str) {
    const LIBRARIES: [&str; 2] = [
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
    ];
    let library = LIBRARIES
        .iter()
        .find(|path| Path::new(path).exists())
        .unwrap_or_else(|| {
            panic!("this test needs libfaketime (apt-get install faketime): none of {LIBRARIES:?}")
        });
    command
        .env("LD_PRELOAD", library)
        .env("FAKETIME", offset)
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .env("FAKETIME_DISABLE_SHM", "1");
}

/// `GET path` on 127.0.0.1:`port` (HTTP/1.1, `Connection: close`): the
/// status and the body, or `None` when nothing answered in 10 s.
pub fn get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    stream.write_all(request(port, path).as_bytes()).ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    parse(&response)
}

/// [`get`] for async tests.
pub async fn get_async(port: u16, path: &str) -> Option<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()?;
        stream
            .write_all(request(port, path).as_bytes())
            .await
            .ok()?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.ok()?;
        parse(&response)
    };
    tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .ok()
        .flatten()
}

fn request(port: u16, path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n")
}

fn parse(response: &[u8]) -> Option<(u16, String)> {
    let response = String::from_utf8_lossy(response);
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    Some((status, body.to_owned()))
}

/// The value of the series `series` (`name{labels}` as rendered) in a
/// Prometheus text scrape, if listed.
pub fn metric(scrape: &str, series: &str) -> Option<f64> {
    scrape.lines().find_map(|line| {
        let (head, value) = line.rsplit_once(' ')?;
        (head == series).then(|| value.parse().ok()).flatten()
    })
}
