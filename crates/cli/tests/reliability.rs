//! docs/RELIABILITY.md: the real `payfac serve` binary under SIGKILL,
//! SIGTERM / Ctrl-C and a full disk. Every answer a client received is
//! written down (a "journal") and checked after the fault:
//!
//! - each acknowledged buyer keeps its userId;
//! - each acknowledged code that was never sent for redemption signs its
//!   buyer in exactly once;
//! - each acknowledged redemption cannot be repeated, and its session works;
//! - each acknowledged request, replayed unchanged, is refused
//!   (`nonce_reused`): its nonce survived.
//!
//! `PAYFAC_KILL_CYCLES` (default 2) sets the kill–restart cycles per
//! backend. PostgreSQL runs when `PAYFAC_TEST_POSTGRES_URL` names a server.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use payfac_domain::random_alphanumeric;
use payfac_signing::{SigningKey, signature_string};
use payfac_test_support::postgres::TestDatabase;
use payfac_test_support::serve::Served;
use payfac_test_support::{eventually, vectors};
use serde_json::Value;

const MERCHANT: &str = "MR";

// ---------------------------------------------------------------------
// The service process
// ---------------------------------------------------------------------

/// A `payfac serve` child process: test-support's [`Served`], SIGKILLed
/// and reaped on drop, its log deleted.
struct Service(Served);

/// `payfac` with no `PAYFAC_*` setting inherited from the test's caller.
fn payfac() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_payfac"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PAYFAC_") {
            command.env_remove(&name);
        }
    }
    command.env("RUST_LOG", "info").env("NO_COLOR", "1");
    command
}

impl Service {
    /// Starts `serve` on a free port and waits for `/healthz`.
    async fn start(database_url: &str, extra: &[&str]) -> Self {
        Self(
            Served::start_async(payfac, |port| {
                let mut args: Vec<String> = ["--listen", &format!("127.0.0.1:{port}")]
                    .into_iter()
                    .chain(["--database-url", database_url])
                    .chain(["--sandbox", "--insecure-cookies"])
                    // Every acknowledged request is replayed from one
                    // address to prove it is refused: the abuse limits
                    // would answer 429 first. The limits are tested on
                    // their own.
                    .chain(["--rate-limits", "off"])
                    .map(str::to_owned)
                    .collect();
                args.extend(extra.iter().map(|arg| (*arg).to_owned()));
                args
            })
            .await,
        )
    }

    fn base(&self) -> String {
        self.0.base_url()
    }

    fn logs(&self) -> String {
        self.0.stderr()
    }

    /// `payfac_http_requests_in_flight` from `/metrics` (0 when absent).
    async fn requests_in_flight(&self) -> f64 {
        let Ok(response) = reqwest::get(format!("{}/metrics", self.base())).await else {
            return 0.0;
        };
        let text = response.text().await.unwrap_or_default();
        payfac_test_support::serve::metric(&text, "payfac_http_requests_in_flight").unwrap_or(0.0)
    }

    /// Sends `signal` (`TERM`, `INT`) with kill(1).
    fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.0.id().to_string())
            .status()
            .expect("kill(1) runs");
        assert!(sent.success(), "kill -{signal} failed");
    }

    /// Waits up to `limit` for the process to exit; its exit code.
    async fn exit_code(&mut self, limit: Duration) -> Option<i32> {
        self.0.exit_code(limit).await
    }
}

/// `port` and the rest of the process's accessors.
impl std::ops::Deref for Service {
    type Target = Served;

    fn deref(&self) -> &Served {
        &self.0
    }
}

/// Registers merchant `MR` with the vectors' public key.
fn add_merchant(database_url: &str) {
    let public = vectors::path(vectors::PUBLIC_KEY);
    let added = payfac()
        .args(["merchant", "add", MERCHANT, "--public-key"])
        .arg(public)
        .args(["--database-url", database_url])
        .output()
        .unwrap();
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
}

/// Clients sending load at once.
const LOAD_TASKS: usize = 8;

fn cycles() -> usize {
    std::env::var("PAYFAC_KILL_CYCLES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(2)
}

// ---------------------------------------------------------------------
// Requests and the journal of acknowledged answers
// ---------------------------------------------------------------------

/// A signed user-sync request, exactly as sent.
#[derive(Clone, Debug)]
struct Signed {
    timestamp: String,
    nonce: String,
    body: String,
    signature: String,
}

fn signed(key: &SigningKey, user_no: &str) -> Signed {
    let timestamp = payfac_test_support::unix_now().to_string();
    let nonce = random_alphanumeric(24);
    let body = format!(r#"{{"merchantUserNo":"{user_no}","email":"{user_no}@example.com"}}"#);
    let signature = key.sign(&signature_string("", &timestamp, &nonce, body.as_bytes()));
    Signed {
        timestamp,
        nonce,
        body,
        signature,
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Posts `request`; the HTTP status and envelope, or `None` when no
/// answer came (connection refused or cut).
async fn send(http: &reqwest::Client, base: &str, request: &Signed) -> Option<(u16, Value)> {
    let response = http
        .post(format!("{base}/pay-fac/{MERCHANT}/v1/user"))
        .header("content-type", "application/json")
        .header("timestamp", &request.timestamp)
        .header("nonce", &request.nonce)
        .header("signature", &request.signature)
        .body(request.body.clone())
        .send()
        .await
        .ok()?;
    let status = response.status().as_u16();
    let envelope = response.json().await.ok()?;
    Some((status, envelope))
}

/// Redeems `code`: `Some(Some(cookie))` signed in, `Some(None)` answered
/// without a session, `None` no answer (or 503: the code was not spent).
async fn redeem(http: &reqwest::Client, base: &str, code: &str) -> Option<Option<String>> {
    let response = http
        .get(format!("{base}/account?authorizationCode={code}"))
        .send()
        .await
        .ok()?;
    if response.status() != 303 {
        return None;
    }
    Some(
        response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find_map(|value| value.strip_prefix("payfac_session="))
            .map(|rest| rest.split(';').next().unwrap_or("").to_owned())
            .filter(|value| !value.is_empty()),
    )
}

/// The userId `/api/me` answers for a session cookie, if signed in.
async fn me(http: &reqwest::Client, base: &str, cookie: &str) -> Option<String> {
    let response = http
        .get(format!("{base}/api/me"))
        .header("cookie", format!("payfac_session={cookie}"))
        .send()
        .await
        .ok()?;
    if response.status() != 200 {
        return None;
    }
    let body: Value = response.json().await.ok()?;
    body["userId"].as_str().map(str::to_owned)
}

/// A user-sync the service answered 0000.
#[derive(Clone, Debug)]
struct Ack {
    request: Signed,
    user_no: String,
    user_id: String,
    code: String,
}

/// Everything the clients were told, and what they cannot know.
#[derive(Default)]
struct Journal {
    acks: Vec<Ack>,
    /// Redemptions answered with a session: (code, cookie, userId).
    redeemed: Vec<(String, String, String)>,
    /// Codes sent for redemption, answered or not: not checked as unspent.
    attempted: HashSet<String>,
    /// Broken promises seen while the load ran.
    violations: Vec<String>,
    /// Requests that got no answer (cut by the kill).
    unanswered: usize,
}

/// `tasks` clients sending user-syncs (new and returning buyers) and
/// redeeming some of their codes until `stop` is set.
fn start_load(
    base: String,
    tasks: usize,
    tag: &str,
    journal: Arc<Mutex<Journal>>,
    stop: Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let key = Arc::new(SigningKey::from_pem(&vectors::private_key_pem()).unwrap());
    (0..tasks)
        .map(|task| {
            let (base, key, journal, stop) =
                (base.clone(), key.clone(), journal.clone(), stop.clone());
            let tag = tag.to_owned();
            tokio::spawn(async move {
                let http = client();
                let mut mine: Vec<Ack> = Vec::new();
                let mut ids: HashMap<String, String> = HashMap::new();
                let mut unredeemed: Vec<Ack> = Vec::new();
                let mut i = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    if i.is_multiple_of(3)
                        && let Some(ack) = unredeemed.pop()
                    {
                        journal.lock().unwrap().attempted.insert(ack.code.clone());
                        match redeem(&http, &base, &ack.code).await {
                            Some(Some(cookie)) => journal.lock().unwrap().redeemed.push((
                                ack.code.clone(),
                                cookie,
                                ack.user_id.clone(),
                            )),
                            Some(None) => journal
                                .lock()
                                .unwrap()
                                .violations
                                .push(format!("a fresh code of {} signed nobody in", ack.user_no)),
                            None => {
                                journal.lock().unwrap().unanswered += 1;
                                tokio::time::sleep(Duration::from_millis(20)).await;
                            }
                        }
                        continue;
                    }
                    let user_no = match mine.get(i % 7) {
                        Some(earlier) if i % 4 == 1 => earlier.user_no.clone(),
                        _ => format!("{tag}T{task}N{i}"),
                    };
                    let request = signed(&key, &user_no);
                    match send(&http, &base, &request).await {
                        Some((200, envelope)) if envelope["code"] == "0000" => {
                            let ack = Ack {
                                request,
                                user_id: envelope["data"]["userId"].as_str().unwrap().into(),
                                code: envelope["data"]["authorizationCode"]
                                    .as_str()
                                    .unwrap()
                                    .into(),
                                user_no: user_no.clone(),
                            };
                            let known = ids.entry(user_no).or_insert(ack.user_id.clone());
                            if *known != ack.user_id {
                                journal.lock().unwrap().violations.push(format!(
                                    "{} changed userId {known} -> {}",
                                    ack.user_no, ack.user_id
                                ));
                            }
                            mine.push(ack.clone());
                            unredeemed.push(ack.clone());
                            journal.lock().unwrap().acks.push(ack);
                        }
                        Some((_, envelope)) if envelope["code"] == "10004" => {}
                        Some((status, envelope)) => journal
                            .lock()
                            .unwrap()
                            .violations
                            .push(format!("unexpected answer {status} {envelope}")),
                        None => {
                            journal.lock().unwrap().unanswered += 1;
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
            })
        })
        .collect()
}

async fn stop_load(stop: &AtomicBool, tasks: Vec<tokio::task::JoinHandle<()>>) {
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
}

/// Checks every acknowledged answer of `journal` against the running
/// service `base`; returns what is broken. Spends the unspent codes.
async fn verify(base: &str, journal: &Journal) -> Vec<String> {
    let http = client();
    let key = SigningKey::from_pem(&vectors::private_key_pem()).unwrap();
    let mut problems: Vec<String> = journal.violations.clone();

    // Each acknowledged buyer keeps its userId.
    let mut buyers: HashMap<&str, &str> = HashMap::new();
    for ack in &journal.acks {
        if let Some(other) = buyers.insert(&ack.user_no, &ack.user_id)
            && other != ack.user_id
        {
            problems.push(format!("{} was told two userIds", ack.user_no));
        }
    }
    let checks = futures_util::stream::iter(buyers.into_iter().map(|(user_no, user_id)| {
        let (http, request) = (&http, signed(&key, user_no));
        async move {
            match send(http, base, &request).await {
                Some((200, envelope)) if envelope["data"]["userId"] == user_id => None,
                other => Some(format!("{user_no} (userId {user_id}) now gets {other:?}")),
            }
        }
    }));
    problems.extend(
        checks
            .buffer_unordered(8)
            .filter_map(|p| async { p })
            .collect::<Vec<_>>()
            .await,
    );

    // Each acknowledged request replayed unchanged is refused.
    let checks = futures_util::stream::iter(journal.acks.iter().map(|ack| {
        let http = &http;
        async move {
            match send(http, base, &ack.request).await {
                Some((401, envelope)) if envelope["debug"]["reason"] == "nonce_reused" => None,
                other => Some(format!("replay of {}'s call got {other:?}", ack.user_no)),
            }
        }
    }));
    problems.extend(
        checks
            .buffer_unordered(8)
            .filter_map(|p| async { p })
            .collect::<Vec<_>>()
            .await,
    );

    // Each acknowledged redemption stays done, and its session works.
    let checks =
        futures_util::stream::iter(journal.redeemed.iter().map(|(code, cookie, user_id)| {
            let http = &http;
            async move {
                let again = redeem(http, base, code).await;
                if again != Some(None) {
                    return Some(format!("a redeemed code answered {again:?} again"));
                }
                match me(http, base, cookie).await {
                    Some(id) if id == *user_id => None,
                    other => Some(format!("session of {user_id} is now {other:?}")),
                }
            }
        }));
    problems.extend(
        checks
            .buffer_unordered(8)
            .filter_map(|p| async { p })
            .collect::<Vec<_>>()
            .await,
    );

    // Each acknowledged code never sent for redemption signs its buyer in
    // exactly once.
    let unspent = journal
        .acks
        .iter()
        .filter(|ack| !journal.attempted.contains(&ack.code));
    let checks = futures_util::stream::iter(unspent.map(|ack| {
        let http = &http;
        async move {
            let Some(Some(cookie)) = redeem(http, base, &ack.code).await else {
                return Some(format!("{}'s unspent code no longer signs in", ack.user_no));
            };
            if me(http, base, &cookie).await.as_deref() != Some(ack.user_id.as_str()) {
                return Some(format!("{}'s code signed in someone else", ack.user_no));
            }
            match redeem(http, base, &ack.code).await {
                Some(None) => None,
                other => Some(format!("{}'s code redeemed twice: {other:?}", ack.user_no)),
            }
        }
    }));
    problems.extend(
        checks
            .buffer_unordered(8)
            .filter_map(|p| async { p })
            .collect::<Vec<_>>()
            .await,
    );
    problems
}

// ---------------------------------------------------------------------
// SIGKILL mid-load
// ---------------------------------------------------------------------

async fn kill_cycles(database_url: &str) {
    add_merchant(database_url);
    let mut service = Service::start(database_url, &[]).await;
    for cycle in 0..cycles() {
        let journal = Arc::new(Mutex::new(Journal::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let load = start_load(
            service.base(),
            LOAD_TASKS,
            &format!("C{cycle}"),
            journal.clone(),
            stop.clone(),
        );
        // Kill at a different moment of the load each cycle.
        let load_for = Duration::from_millis(1_200 + (cycle as u64 * 337) % 900);
        tokio::time::sleep(load_for).await;
        drop(service); // SIGKILL
        let unanswered_before = journal.lock().unwrap().unanswered;
        // The clients meet the dead service (a call each, at least, goes
        // unanswered) before they stop.
        let unanswered = || journal.lock().unwrap().unanswered - unanswered_before;
        let met = eventually(Duration::from_secs(10), || async {
            unanswered() >= LOAD_TASKS
        })
        .await;
        assert!(
            met,
            "only {} calls went unanswered after the kill",
            unanswered()
        );
        stop_load(&stop, load).await;
        service = Service::start(database_url, &[]).await;

        let journal = std::mem::take(&mut *journal.lock().unwrap());
        eprintln!(
            "cycle {cycle}: killed after {load_for:?}; {} syncs and {} redemptions acknowledged, \
             {} calls unanswered ({unanswered_before} before the kill)",
            journal.acks.len(),
            journal.redeemed.len(),
            journal.unanswered
        );
        assert!(
            journal.acks.len() >= 10,
            "too little load before the kill to prove anything"
        );
        let problems = verify(&service.base(), &journal).await;
        assert!(
            problems.is_empty(),
            "cycle {cycle}: {} broken promises, e.g. {:#?}\n{}",
            problems.len(),
            &problems[..problems.len().min(10)],
            service.logs()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_mid_load_loses_no_acknowledged_answer_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("p.db").display());
    kill_cycles(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL at PAYFAC_TEST_POSTGRES_URL; scripts/test.sh runs it"]
async fn sigkill_mid_load_loses_no_acknowledged_answer_on_postgres() {
    let database = TestDatabase::create().await;
    kill_cycles(&database.url).await;
}

// ---------------------------------------------------------------------
// SIGTERM and Ctrl-C
// ---------------------------------------------------------------------

/// A user-sync written by hand over TCP: the head and the first half of
/// the body now, the rest when `finish` is called.
struct SlowCall {
    stream: std::net::TcpStream,
    rest: Vec<u8>,
    request: Signed,
}

impl SlowCall {
    fn begin(port: u16, key: &SigningKey, user_no: &str) -> Self {
        let request = signed(key, user_no);
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let head = format!(
            "POST /pay-fac/{MERCHANT}/v1/user HTTP/1.1\r\nHost: 127.0.0.1\r\n\
             content-type: application/json\r\ntimestamp: {}\r\nnonce: {}\r\nsignature: {}\r\n\
             content-length: {}\r\n\r\n",
            request.timestamp,
            request.nonce,
            request.signature,
            request.body.len()
        );
        let (first, rest) = request.body.as_bytes().split_at(request.body.len() / 2);
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(first).unwrap();
        Self {
            stream,
            rest: rest.to_vec(),
            request,
        }
    }

    /// Sends the rest of the body; the status line and body of the answer.
    fn finish(mut self) -> (String, Signed) {
        self.stream.write_all(&self.rest).unwrap();
        let mut answer = Vec::new();
        let mut buffer = [0u8; 4096];
        // Read until the JSON body is complete (the connection may stay open).
        loop {
            match self.stream.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(read) => {
                    answer.extend_from_slice(&buffer[..read]);
                    if answer.ends_with(b"}") {
                        break;
                    }
                }
            }
        }
        (String::from_utf8_lossy(&answer).into_owned(), self.request)
    }
}

/// SIGTERM (or SIGINT) under load: new connections are refused, the
/// request in flight completes and is answered, a request that never
/// completes is dropped after the grace, the process exits 0, and every
/// acknowledged write is there after a restart.
async fn stop_under_load(signal: &str) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("p.db").display());
    add_merchant(&url);
    let grace = 3;
    let mut service = Service::start(&url, &["--shutdown-grace-secs", "3"]).await;
    let key = SigningKey::from_pem(&vectors::private_key_pem()).unwrap();
    let journal = Arc::new(Mutex::new(Journal::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let slow = SlowCall::begin(service.port, &key, "SLOW1");
    let stalled = SlowCall::begin(service.port, &key, "STALLED1");
    // Both calls are in the handler, waiting for the rest of their body
    // (the scrape that reads the gauge is the third request in flight).
    assert!(
        eventually(Duration::from_secs(10), || async {
            service.requests_in_flight().await >= 3.0
        })
        .await,
        "the slow calls never reached the handler"
    );
    let load = start_load(service.base(), 4, signal, journal.clone(), stop.clone());
    assert!(
        eventually(Duration::from_secs(10), || async {
            journal.lock().unwrap().acks.len() >= 20
        })
        .await,
        "the load got no answers"
    );

    service.signal(signal);
    let signalled = Instant::now();
    let refusing = eventually(Duration::from_secs(10), || async {
        std::net::TcpStream::connect(("127.0.0.1", service.port)).is_err()
    });
    assert!(
        refusing.await,
        "new connections were still accepted 10 s after {signal}"
    );
    let (answer, slow_request) = tokio::task::spawn_blocking(move || slow.finish())
        .await
        .unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.contains(r#""code":"0000""#),
        "the request in flight was not answered: {answer}"
    );
    stop_load(&stop, load).await;

    let code = service.exit_code(Duration::from_secs(grace + 5)).await;
    let took = signalled.elapsed();
    assert_eq!(code, Some(0), "after {took:?}:\n{}", service.logs());
    assert!(
        took < Duration::from_secs(grace + 2),
        "the grace of {grace} s bounded nothing: exit after {took:?}"
    );
    assert!(
        service.logs().contains("pending writes flushed"),
        "{}",
        service.logs()
    );
    drop(stalled);

    let service = Service::start(&url, &[]).await;
    let mut journal = std::mem::take(&mut *journal.lock().unwrap());
    eprintln!(
        "{signal}: {} syncs and {} redemptions acknowledged before the stop",
        journal.acks.len(),
        journal.redeemed.len()
    );
    assert!(!journal.acks.is_empty());
    let data: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    journal.acks.push(Ack {
        request: slow_request,
        user_no: "SLOW1".into(),
        user_id: data["data"]["userId"].as_str().unwrap().into(),
        code: data["data"]["authorizationCode"].as_str().unwrap().into(),
    });
    let problems = verify(&service.base(), &journal).await;
    assert!(problems.is_empty(), "{problems:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_finishes_requests_in_flight_within_the_grace_and_exits_0() {
    stop_under_load("TERM").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ctrl_c_finishes_requests_in_flight_within_the_grace_and_exits_0() {
    stop_under_load("INT").await;
}

// ---------------------------------------------------------------------
// A full disk (SQLite)
// ---------------------------------------------------------------------

/// A small tmpfs mounted for the test, unmounted when dropped.
struct SmallFileSystem {
    dir: tempfile::TempDir,
}

impl SmallFileSystem {
    /// Mounts `size` (e.g. `8m`). Mounting needs root or CAP_SYS_ADMIN;
    /// without it the test fails and says why, it is not skipped.
    fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700")])
            .arg("payfac-full-disk-test")
            .arg(dir.path())
            .output();
        match mounted {
            Ok(output) if output.status.success() => Self { dir },
            other => panic!(
                "the full-disk test needs a small tmpfs of its own and mounting one was \
                 refused (run the tests as root, or with CAP_SYS_ADMIN): {other:?}"
            ),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file until the file system is full; its path.
    fn fill(&self) -> PathBuf {
        let filler = self.path().join("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        for chunk in [64 * 1024, 4096, 512, 1] {
            let bytes = vec![0xA5u8; chunk];
            while file.write_all(&bytes).is_ok() {}
        }
        let _ = file.sync_all();
        filler
    }
}

impl Drop for SmallFileSystem {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

async fn get(http: &reqwest::Client, base: &str, path: &str) -> (u16, String) {
    let response = http.get(format!("{base}{path}")).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_disk_answers_10004_keeps_pages_up_and_recovers_by_itself() {
    let disk = SmallFileSystem::mount("8m");
    let db = disk.path().join("p.db");
    let url = format!("sqlite://{}", db.display());
    add_merchant(&url);
    let mut service = Service::start(&url, &[]).await;
    let (http, base) = (client(), service.base());
    let key = SigningKey::from_pem(&vectors::private_key_pem()).unwrap();
    let mut journal = Journal::default();
    let sync = |user_no: String| {
        let request = signed(&key, &user_no);
        (user_no, request)
    };
    let ack = |user_no: String, request: Signed, envelope: &Value| Ack {
        request,
        user_no,
        user_id: envelope["data"]["userId"].as_str().unwrap().into(),
        code: envelope["data"]["authorizationCode"]
            .as_str()
            .unwrap()
            .into(),
    };
    for i in 0..20 {
        let (user_no, request) = sync(format!("ROOM{i}"));
        let (status, envelope) = send(&http, &base, &request).await.unwrap();
        assert_eq!(status, 200, "{envelope}");
        journal.acks.push(ack(user_no, request, &envelope));
    }

    // Fill the file system, then call until the writes fail.
    let filler = disk.fill();
    let mut refused: Vec<(String, Signed)> = Vec::new();
    let started = Instant::now();
    let mut consecutive = 0;
    for i in 0.. {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no write failed on a full disk within 60 s ({} succeeded)",
            journal.acks.len()
        );
        let (user_no, request) = sync(format!("FULL{i}"));
        let (status, envelope) = send(&http, &base, &request).await.unwrap();
        match envelope["code"].as_str().unwrap() {
            "0000" => {
                consecutive = 0;
                journal.acks.push(ack(user_no, request, &envelope));
            }
            "10004" => {
                assert_eq!(status, 500, "{envelope}");
                assert_eq!(envelope["data"], Value::Null);
                consecutive += 1;
                refused.push((user_no, request));
                if consecutive >= 5 {
                    break;
                }
            }
            _ => panic!("{status} {envelope}"),
        }
    }
    eprintln!(
        "full disk: {} calls refused 10004 after {} acknowledged",
        refused.len(),
        journal.acks.len()
    );

    // Pages and /healthz still answer; /readyz reports the condition.
    assert_eq!(get(&http, &base, "/healthz").await, (200, "ok".into()));
    assert_eq!(get(&http, &base, "/").await.0, 200);
    assert_eq!(get(&http, &base, "/items/42").await.0, 200);
    assert_eq!(
        get(&http, &base, "/readyz").await,
        (503, "storage unavailable".into())
    );

    // Space returns: the service recovers without a restart.
    std::fs::remove_file(&filler).unwrap();
    let recovering = Instant::now();
    while get(&http, &base, "/readyz").await.0 != 200 {
        assert!(
            recovering.elapsed() < Duration::from_secs(10),
            "/readyz did not recover within 10 s\n{}",
            service.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("recovered in {:?}", recovering.elapsed());

    // Nothing of a refused call was stored: each, sent again unchanged
    // (same nonce), now succeeds.
    for (user_no, request) in refused {
        let (status, envelope) = send(&http, &base, &request).await.unwrap();
        assert_eq!(
            status, 200,
            "a refused call left something behind: {envelope}"
        );
        journal.acks.push(ack(user_no, request, &envelope));
    }
    let problems = verify(&base, &journal).await;
    assert!(problems.is_empty(), "{problems:#?}");
    let buyers: HashSet<&str> = journal.acks.iter().map(|a| a.user_no.as_str()).collect();

    service.signal("TERM");
    assert_eq!(service.exit_code(Duration::from_secs(15)).await, Some(0));
    let connection = rusqlite::Connection::open(&db).unwrap();
    let check: String = connection
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    // One code and one nonce per 0000 answer (the journal's, and verify's
    // one fresh sync per buyer), and one buyer per merchantUserNo: nothing
    // more was stored.
    let count = |table: &str| -> usize {
        connection
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
                row.get::<_, i64>(0)
            })
            .unwrap() as usize
    };
    assert_eq!(count("buyers"), buyers.len());
    assert_eq!(count("codes"), journal.acks.len() + buyers.len());
    assert_eq!(count("nonces"), journal.acks.len() + buyers.len());
}
