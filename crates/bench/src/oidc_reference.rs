//! `--oidc`'s reference: node's `oidc-provider` run by
//! `tests/oidc/reference-provider.mjs` as a child process, which signs in
//! one account per connection and prints one JSON line (issuer, client,
//! each session's cookies) before serving. It stops when its standard
//! input closes (this process exiting, or `Drop`).

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use hyper::header::HeaderValue;

use crate::oidc::Target;

/// A running reference provider, stopped when dropped.
pub struct ReferenceProvider {
    _process: Process,
    pub target: Target,
    pub version: String,
}

/// The node process, stopped when dropped.
struct Process {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl ReferenceProvider {
    pub fn start(node: &Path, script: &Path, sessions: usize) -> anyhow::Result<Self> {
        let dir = script.parent().context("the script's directory")?;
        anyhow::ensure!(
            dir.join("node_modules/oidc-provider").is_dir(),
            "{} has no node_modules/oidc-provider: run `npm ci` there first \
             (tests/oidc/run.sh does)",
            dir.display()
        );
        let version = std::fs::read_to_string(dir.join("node_modules/oidc-provider/package.json"))
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .and_then(|json| json["version"].as_str().map(str::to_owned))
            .unwrap_or_else(|| "?".into());
        let mut child = Command::new(node)
            .arg(script)
            .arg("--sessions")
            .arg(sessions.to_string())
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {} {}", node.display(), script.display()))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().context("the provider's stdout")?;
        let mut stderr = child.stderr.take().context("the provider's stderr")?;
        // Its warnings go nowhere, but are kept for an error message.
        let (err_tx, err_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            let _ = err_tx.send(text);
        });
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut process = Process { child, stdin };
        let deadline = Instant::now() + Duration::from_secs(120);
        let line = loop {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(line) if !line.trim().is_empty() => break line,
                Ok(_) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    let _ = process.child.wait();
                    let log = err_rx
                        .recv_timeout(Duration::from_secs(2))
                        .unwrap_or_default();
                    anyhow::bail!("the reference provider stopped before it was ready: {log}");
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => anyhow::ensure!(
                    Instant::now() < deadline,
                    "the reference provider was not ready in 120 s"
                ),
            }
        };
        Ok(Self {
            target: target_of(&line)?,
            _process: process,
            version,
        })
    }
}

/// The provider's ready line: its issuer, client and sessions.
fn target_of(line: &str) -> anyhow::Result<Target> {
    let ready: serde_json::Value =
        serde_json::from_str(line).context("the reference provider's ready line")?;
    let text = |key: &str| -> anyhow::Result<String> {
        Ok(ready[key]
            .as_str()
            .with_context(|| format!("no {key} in the ready line"))?
            .to_owned())
    };
    let issuer = text("issuer")?;
    let address: SocketAddr = issuer
        .strip_prefix("http://")
        .context("an http:// issuer")?
        .parse()
        .context("the issuer's address")?;
    let cookies = ready["cookies"]
        .as_array()
        .context("no cookies in the ready line")?
        .iter()
        .map(|cookie| Ok(HeaderValue::from_str(cookie.as_str().unwrap_or_default())?))
        .collect::<anyhow::Result<Vec<_>>>()?;
    anyhow::ensure!(
        !cookies.is_empty(),
        "the reference provider signed nobody in"
    );
    Ok(Target {
        label: String::new(),
        address,
        client_id: text("clientId")?,
        client_secret: text("clientSecret")?,
        redirect_uri: text("redirectUri")?,
        authorize_path: "/auth".into(),
        token_path: "/token".into(),
        userinfo_path: "/me".into(),
        cookies,
    })
}

impl Drop for Process {
    /// Closing its standard input stops it; SIGKILL after 5 s.
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
