//! Drives the real `payfac` binary: one-shot commands, a test database per
//! test, and a served instance that is killed when the test ends.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use payfac_test_support::serve::Served;
pub use payfac_test_support::vectors;
#[allow(unused_imports)] // free_port: for the admin tests
pub use payfac_test_support::{free_port, unix_now};

/// A file of the project's test vectors (`tests/vectors/`).
pub fn vector(name: &str) -> PathBuf {
    vectors::path(name)
}

/// Key fixtures of the signing crate (EC, RSA 1024/4096/8192).
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../signing/tests/fixtures")
        .join(name)
}

/// The binary, with no `PAYFAC_*` settings inherited from the caller.
pub fn payfac(cwd: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_payfac"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PAYFAC_") {
            command.env_remove(&name);
        }
    }
    command
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .current_dir(cwd);
    command
}

/// What a finished command left behind.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn stdout_lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    /// Success with exactly one stdout line; returns it.
    #[track_caller]
    pub fn one_line(&self) -> String {
        assert_eq!(self.code, 0, "expected success: {self:#?}");
        assert_eq!(self.stdout_lines().len(), 1, "one stdout line: {self:#?}");
        assert!(self.stdout.ends_with('\n'), "{self:#?}");
        self.stdout_lines()[0].to_owned()
    }

    /// A refusal: non-zero, nothing on stdout, one `payfac:` line on
    /// stderr that mentions `needle` (case-insensitive). Returns the line.
    #[track_caller]
    pub fn refused(&self, needle: &str) -> String {
        assert_ne!(self.code, 0, "expected a refusal: {self:#?}");
        assert_eq!(self.stdout, "", "nothing on stdout: {self:#?}");
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "exactly one stderr line: {self:#?}");
        assert!(lines[0].starts_with("payfac: "), "{self:#?}");
        assert!(
            lines[0].to_lowercase().contains(&needle.to_lowercase()),
            "stderr should mention {needle:?}: {self:#?}"
        );
        lines[0].to_owned()
    }
}

pub fn run(command: &mut Command) -> Output {
    let output = command
        .stdin(Stdio::null())
        .output()
        .expect("the payfac binary runs");
    Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A scratch directory with its own SQLite database.
pub struct TestDb {
    pub dir: TempDir,
    pub url: String,
}

impl TestDb {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        let url = format!("sqlite://{}", dir.path().join("p.db").display());
        Self { dir, url }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `payfac ARGS --database-url URL` in the scratch directory.
    pub fn payfac<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Output {
        run(payfac(self.dir.path())
            .args(args)
            .arg("--database-url")
            .arg(&self.url))
    }

    /// Runs `payfac ARGS` (no database) in the scratch directory.
    pub fn payfac_plain<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Output {
        run(payfac(self.dir.path()).args(args))
    }

    /// `merchant add ID --public-key FILE`, expected to succeed; the key id.
    pub fn add_merchant(&self, id: &str, key: &Path) -> String {
        let key_id = self
            .payfac(&[
                "merchant".as_ref(),
                "add".as_ref(),
                id.as_ref(),
                "--public-key".as_ref(),
                key.as_os_str(),
            ])
            .one_line();
        assert_key_id(&key_id);
        key_id
    }

    /// `merchant list --json`, parsed.
    pub fn list_json(&self) -> serde_json::Value {
        let line = self.payfac(&["merchant", "list", "--json"]).one_line();
        serde_json::from_str(&line).expect("list --json prints JSON")
    }

    /// `merchant list`, as (id, status, key ids) per line.
    pub fn list_text(&self) -> Vec<(String, String, Vec<String>)> {
        let output = self.payfac(&["merchant", "list"]);
        assert_eq!(output.code, 0, "{output:#?}");
        output
            .stdout
            .lines()
            .map(|line| {
                let mut fields = line.split_whitespace();
                let id = fields.next().unwrap_or_default().to_owned();
                let status = fields.next().unwrap_or_default().to_owned();
                let keys = fields
                    .flat_map(|f| f.split(','))
                    .filter(|k| !k.is_empty() && *k != "-")
                    .map(str::to_owned)
                    .collect();
                (id, status, keys)
            })
            .collect()
    }
}

#[track_caller]
pub fn assert_key_id(key_id: &str) {
    assert_eq!(key_id.len(), 16, "key id {key_id:?}");
    assert!(
        key_id
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
        "key id {key_id:?} is lowercase hex"
    );
}

#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("file exists")
        .permissions()
        .mode()
        & 0o777
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A `payfac serve` child process: test-support's [`Served`] (killed and
/// reaped on drop, its output files deleted), started in a directory.
pub struct Server(Served);

impl Server {
    /// Starts `payfac serve --listen 127.0.0.1:PORT EXTRA…` in `dir` and
    /// waits for `/healthz`. Retries on another port if the one picked was
    /// taken in between.
    pub fn start(dir: &Path, database_url: &str, extra: &[&str]) -> Self {
        Self::start_with(dir, |port| {
            let mut args = vec![
                "--listen".to_owned(),
                format!("127.0.0.1:{port}"),
                "--database-url".to_owned(),
                database_url.to_owned(),
            ];
            args.extend(extra.iter().map(|arg| (*arg).to_owned()));
            args
        })
    }

    /// Starts `payfac serve ARGS(PORT)` in `dir`, for arguments that make
    /// it listen on 127.0.0.1:PORT some way of their own, and waits for
    /// `/healthz`; retries on another port as [`Server::start`] does.
    pub fn start_with(dir: &Path, args: impl Fn(u16) -> Vec<String>) -> Self {
        Self(Served::start(|| payfac(dir), args))
    }
}

/// `port`, `base_url()`, `stdout()`, `stderr()` of the process.
impl std::ops::Deref for Server {
    type Target = Served;

    fn deref(&self) -> &Served {
        &self.0
    }
}

/// A minimal HTTP/1.1 exchange (`Connection: close`): the status and the
/// raw head + body, or `None` if nothing answered.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    stream.write_all(body).ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, response))
}

/// The body of a raw response (after the blank line).
pub fn body_of(response: &str) -> &str {
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body)
        .unwrap_or("")
}

/// The first line of a file, whatever its line endings (the PEM writer
/// uses CRLF).
pub fn first_line(path: &Path) -> String {
    read(path).lines().next().unwrap_or_default().to_owned()
}

#[track_caller]
pub fn assert_ok(output: &Output) {
    assert_eq!(output.code, 0, "{output:#?}");
    assert_eq!(output.stderr, "", "{output:#?}");
}

/// A user-sync of merchant `merchant` with `body`, signed with `key` at
/// `timestamp` with `nonce` (no query), POSTed to 127.0.0.1:`port`; the
/// HTTP status and the envelope.
pub fn signed_user_sync(
    port: u16,
    key: &payfac_signing::SigningKey,
    merchant: &str,
    body: &str,
    timestamp: &str,
    nonce: &str,
) -> (u16, serde_json::Value) {
    let message = payfac_signing::signature_string("", timestamp, nonce, body.as_bytes());
    let signature = key.sign(&message);
    let (status, response) = http(
        port,
        "POST",
        &format!("/pay-fac/{merchant}/v1/user"),
        &[
            ("Content-Type", "application/json"),
            ("timestamp", timestamp),
            ("nonce", nonce),
            ("signature", &signature),
        ],
        body.as_bytes(),
    )
    .expect("the service answers");
    (status, serde_json::from_str(body_of(&response)).unwrap())
}
