//! A throwaway PostgreSQL cluster of a test's own, for what the shared
//! test server cannot show: server settings such as `ssl=on` with a
//! certificate the test made, or a server restarted with other settings.
//!
//! `initdb` in a temporary directory, its own port and Unix socket
//! directory; the system cluster's configuration is never read or
//! changed. Dropping the guard stops the server (`pg_ctl stop -m
//! immediate`) and deletes its files, also when the test panicked, so no
//! process or file is left behind. As root, the cluster runs as the
//! `postgres` user the PostgreSQL packages create (initdb refuses root).
//!
//! A test that needs a cluster is `#[ignore]`d with that reason, like the
//! tests on the shared server (`postgres.rs`); `scripts/test.sh` installs
//! the binaries and runs it. Run without the binaries, it fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A stopped or running cluster; dropping it stops it and deletes it.
pub struct Cluster {
    bin: PathBuf,
    directory: tempfile::TempDir,
    /// The TCP port it listens on, on 127.0.0.1 only.
    pub port: u16,
    as_postgres: bool,
    running: bool,
}

impl Cluster {
    /// `initdb` with the superuser `postgres` whose password is
    /// `password` (`scram-sha-256` over TCP, `trust` over the socket);
    /// not started. Panics naming the test when the binaries are missing.
    pub fn init(password: &str) -> Self {
        let bin = binaries().unwrap_or_else(|| {
            let test = std::thread::current()
                .name()
                .unwrap_or("a PostgreSQL test")
                .to_owned();
            panic!(
                "{test} needs the PostgreSQL server binaries: no /usr/lib/postgresql/*/bin/initdb"
            )
        });
        let directory = tempfile::Builder::new()
            .prefix("payfac-cluster-")
            .tempdir()
            .expect("a temporary directory for the cluster");
        let as_postgres = is_root();
        let cluster = Self {
            bin,
            directory,
            port: crate::free_port(),
            as_postgres,
            running: false,
        };
        let password_file = cluster.directory.path().join("password");
        std::fs::write(&password_file, format!("{password}\n")).expect("write the password file");
        if as_postgres {
            run(Command::new("chown")
                .arg("-R")
                .arg("postgres:")
                .arg(cluster.directory.path()));
        }
        let initdb = cluster.bin.join("initdb");
        let data = cluster.data();
        run(cluster
            .command(&initdb)
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "-E", "UTF8", "--no-sync"])
            .args(["--auth-local=trust", "--auth-host=scram-sha-256"])
            .arg(format!("--pwfile={}", password_file.display())));
        std::fs::remove_file(&password_file).expect("remove the password file");
        cluster
    }

    /// The data directory.
    pub fn data(&self) -> PathBuf {
        self.directory.path().join("data")
    }

    /// Writes a file into the data directory, owned by the server's user
    /// with `mode` (the server refuses a key file others can read).
    pub fn install(&self, name: &str, contents: &[u8], mode: u32) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.data().join(name);
        std::fs::write(&path, contents).expect("write into the data directory");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .expect("set the file's mode");
        if self.as_postgres {
            run(Command::new("chown").arg("postgres:").arg(&path));
        }
        path
    }

    /// Starts the server on 127.0.0.1 with extra `-c name=value`
    /// settings; waits until it accepts connections.
    pub fn start(&mut self, settings: &[&str]) {
        let mut options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.directory.path().display()
        );
        for setting in settings {
            options.push_str(&format!(" -c {setting}"));
        }
        let log = self.directory.path().join("server.log");
        let pg_ctl = self.bin.join("pg_ctl");
        let data = self.data();
        let status = self
            .command(&pg_ctl)
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "-o", &options, "start"])
            .stdout(Stdio::null())
            .status()
            .expect("pg_ctl runs");
        self.running = true;
        assert!(
            status.success(),
            "the cluster did not start:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// Stops the server; its files stay until the guard is dropped.
    pub fn stop(&mut self) {
        if !self.running {
            return;
        }
        let pg_ctl = self.bin.join("pg_ctl");
        let data = self.data();
        let _ = self
            .command(&pg_ctl)
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        self.running = false;
    }

    /// A command run as the cluster's owner.
    fn command(&self, program: &Path) -> Command {
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
        // The TempDir field deletes the directory after this.
    }
}

/// The newest `/usr/lib/postgresql/*/bin` that has `initdb`.
fn binaries() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| output.stdout.trim_ascii() == b"0")
}

#[track_caller]
fn run(command: &mut Command) {
    let output = command.output().expect("the command runs");
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
