//! SPEC §7: several `payfac serve` processes on one PostgreSQL database,
//! and recovery from a database outage. Runs when
//! `PAYFAC_TEST_POSTGRES_URL` names a server (scripts/test.sh sets it).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use payfac_domain::random_alphanumeric;
use payfac_signing::{SigningKey, signature_string};
use serde_json::Value;

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/test-vectors")
}

/// A fresh database on the test server, dropped on drop.
struct Database {
    admin: String,
    name: String,
    url: String,
}

impl Database {
    async fn create() -> Option<Self> {
        let admin = std::env::var("PAYFAC_TEST_POSTGRES_URL").ok()?;
        let name = format!("payfac_mi_{}", random_alphanumeric(10).to_lowercase());
        execute(&admin, &format!("CREATE DATABASE {name}")).await;
        let base = admin
            .rsplit_once('/')
            .map_or(admin.as_str(), |(base, _)| base);
        let url = format!("{base}/{name}");
        Some(Self { admin, name, url })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        std::thread::spawn(move || {
            tokio::runtime::Runtime::new().unwrap().block_on(execute(
                &admin,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            ))
        })
        .join()
        .unwrap();
    }
}

async fn execute(url: &str, sql: &str) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("PostgreSQL at PAYFAC_TEST_POSTGRES_URL");
    tokio::spawn(connection);
    client.batch_execute(sql).await.unwrap();
}

fn payfac(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_payfac"))
        .args(args)
        .output()
        .unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `payfac serve`, killed on drop.
struct Instance {
    child: Child,
    base: String,
}

impl Instance {
    async fn start(database_url: &str) -> Self {
        Self::start_with(
            Command::new(env!("CARGO_BIN_EXE_payfac")),
            database_url,
            &[],
        )
        .await
    }

    /// `command` (the binary, or a wrapper that runs it) with `serve`
    /// arguments and `extra`.
    async fn start_with(mut command: Command, database_url: &str, extra: &[&str]) -> Self {
        let port = free_port();
        let child = command
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--database-url", database_url, "--sandbox"])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("starting {command:?}: {error}"));
        let instance = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::new();
        for _ in 0..100 {
            if let Ok(response) = http.get(format!("{}/healthz", instance.base)).send().await
                && response.status() == 200
            {
                return instance;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("payfac serve did not start");
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Cluster {
    database: Database,
    a: Instance,
    b: Instance,
    key: SigningKey,
    http: reqwest::Client,
}

/// Registers merchant `MI` with the vectors' public key, through the CLI.
fn add_vectors_merchant(database_url: &str) {
    let public = vectors().join("merchant-test.pub.pem");
    let added = payfac(&[
        "merchant",
        "add",
        "MI",
        "--public-key",
        public.to_str().unwrap(),
        "--database-url",
        database_url,
    ]);
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
}

async fn cluster() -> Option<Cluster> {
    let database = Database::create().await?;
    add_vectors_merchant(&database.url);
    let a = Instance::start(&database.url).await;
    let b = Instance::start(&database.url).await;
    let key = std::fs::read_to_string(vectors().join("merchant-test.key.pem")).unwrap();
    Some(Cluster {
        database,
        a,
        b,
        key: SigningKey::from_pem(&key).unwrap(),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    })
}

/// A signed user-sync request: (timestamp, nonce, body, signature).
type Signed = (String, String, String, String);

/// Posts a signed request; answers the HTTP status and the envelope.
async fn post_user(
    http: &reqwest::Client,
    base: &str,
    merchant: &str,
    request: &Signed,
) -> (u16, Value) {
    let (timestamp, nonce, body, signature) = request;
    let response = http
        .post(format!("{base}/pay-fac/{merchant}/v1/user"))
        .header("content-type", "application/json")
        .header("timestamp", timestamp)
        .header("nonce", nonce)
        .header("signature", signature)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn signed(key: &SigningKey, user: &str) -> Signed {
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let nonce = random_alphanumeric(16);
    let body = format!(r#"{{"merchantUserNo":"{user}","email":"{user}@example.com"}}"#);
    let signature = key.sign(&signature_string("", &timestamp, &nonce, body.as_bytes()));
    (timestamp, nonce, body, signature)
}

impl Cluster {
    async fn send(&self, base: &str, merchant: &str, request: &Signed) -> Value {
        post_user(&self.http, base, merchant, request).await.1
    }

    async fn code_at(&self, base: &str, user: &str) -> String {
        let answer = self.send(base, "MI", &signed(&self.key, user)).await;
        assert_eq!(answer["code"], "0000", "{answer}");
        answer["data"]["authorizationCode"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn redeem_at(&self, base: &str, code: &str) -> Option<String> {
        let response = self
            .http
            .get(format!("{base}/account?authorizationCode={code}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303);
        response
            .headers()
            .get("set-cookie")
            .map(|value| value.to_str().unwrap().to_owned())
    }
}

#[tokio::test]
async fn a_code_issued_at_one_instance_is_redeemed_once_at_another() {
    let Some(cluster) = cluster().await else {
        return;
    };
    let code = cluster.code_at(&cluster.a.base, "U1").await;
    assert!(cluster.redeem_at(&cluster.b.base, &code).await.is_some());
    assert!(cluster.redeem_at(&cluster.a.base, &code).await.is_none());
    assert!(cluster.redeem_at(&cluster.b.base, &code).await.is_none());
}

#[tokio::test]
async fn a_request_accepted_at_one_instance_is_a_replay_at_another() {
    let Some(cluster) = cluster().await else {
        return;
    };
    let request = signed(&cluster.key, "U1");
    assert_eq!(
        cluster.send(&cluster.a.base, "MI", &request).await["code"],
        "0000"
    );
    let replay = cluster.send(&cluster.b.base, "MI", &request).await;
    assert_eq!(replay["code"], "10003");
    assert_eq!(replay["debug"]["reason"], "nonce_reused");
}

#[tokio::test]
async fn concurrent_redemptions_across_instances_make_one_session() {
    let Some(cluster) = cluster().await else {
        return;
    };
    let code = cluster.code_at(&cluster.a.base, "U1").await;
    let attempts = (0..20).map(|i| {
        let base = if i % 2 == 0 {
            &cluster.a.base
        } else {
            &cluster.b.base
        };
        cluster.redeem_at(base, &code)
    });
    let cookies: Vec<String> = futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(cookies.len(), 1, "{cookies:?}");
}

#[tokio::test]
async fn concurrent_identical_requests_across_instances_give_one_0000() {
    let Some(cluster) = cluster().await else {
        return;
    };
    let request = signed(&cluster.key, "U1");
    let sends = (0..20).map(|i| {
        let base = if i % 2 == 0 {
            &cluster.a.base
        } else {
            &cluster.b.base
        };
        cluster.send(base, "MI", &request)
    });
    let answers = futures_util::future::join_all(sends).await;
    let codes: Vec<&str> = answers
        .iter()
        .map(|a| a["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes.iter().filter(|c| **c == "0000").count(),
        1,
        "{codes:?}"
    );
    assert!(
        codes.iter().all(|c| *c == "0000" || *c == "10003"),
        "{codes:?}"
    );
}

#[tokio::test]
async fn concurrent_first_syncs_across_instances_share_one_user_id() {
    let Some(cluster) = cluster().await else {
        return;
    };
    let sends = (0..10).map(|i| {
        let base = if i % 2 == 0 {
            cluster.a.base.clone()
        } else {
            cluster.b.base.clone()
        };
        let request = signed(&cluster.key, "NEW1");
        let cluster = &cluster;
        async move { cluster.send(&base, "MI", &request).await }
    });
    let answers = futures_util::future::join_all(sends).await;
    let ids: HashSet<&str> = answers
        .iter()
        .map(|a| a["data"]["userId"].as_str().expect("0000"))
        .collect();
    assert_eq!(ids.len(), 1);
}

#[tokio::test]
async fn a_merchant_added_by_the_cli_is_seen_by_both_within_5_s() {
    let Some(cluster) = cluster().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("late");
    let added = payfac(&[
        "merchant",
        "add",
        "LATE",
        "--generate-key",
        prefix.to_str().unwrap(),
        "--database-url",
        &cluster.database.url,
    ]);
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let key_text = std::fs::read_to_string(dir.path().join("late.key.pem")).unwrap();
    let key = SigningKey::from_pem(&key_text).unwrap();
    let added_at = std::time::Instant::now();
    for base in [&cluster.a.base, &cluster.b.base] {
        loop {
            let answer = cluster.send(base, "LATE", &signed(&key, "U1")).await;
            if answer["code"] == "0000" {
                break;
            }
            assert!(
                added_at.elapsed() < Duration::from_secs(5),
                "{base}: {answer}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The binary run under `faketime` with its clock `offset` ahead. The
/// test needs faketime (Debian package `faketime`) and fails without it.
fn under_faketime(offset: &str) -> Command {
    let found = Command::new("faketime").arg("--version").output();
    assert!(
        found.is_ok(),
        "this test needs `faketime` (apt-get install faketime): {found:?}"
    );
    let mut command = Command::new("faketime");
    command.env("FAKETIME_DONT_FAKE_MONOTONIC", "1").args([
        "-f",
        offset,
        env!("CARGO_BIN_EXE_payfac"),
    ]);
    command
}

/// Issue #19: an instance whose clock runs 30 s ahead purges by its own
/// clock no nonce another instance still accepts. A request accepted at
/// A (10 s window) and replayed at A after B (clock +30 s) purged is still
/// refused.
#[tokio::test]
async fn an_instance_with_a_clock_ahead_does_not_reopen_nonces() {
    let Some(database) = Database::create().await else {
        return;
    };
    add_vectors_merchant(&database.url);
    let key = SigningKey::from_pem(
        &std::fs::read_to_string(vectors().join("merchant-test.key.pem")).unwrap(),
    )
    .unwrap();
    let http = reqwest::Client::new();
    let window = ["--timestamp-window-secs", "10"];
    let a = Instance::start_with(
        Command::new(env!("CARGO_BIN_EXE_payfac")),
        &database.url,
        &window,
    )
    .await;
    let request = signed(&key, "U1");
    let (_, first) = post_user(&http, &a.base, "MI", &request).await;
    assert_eq!(first["code"], "0000", "{first}");

    // B purges once at start, by its clock 30 s ahead.
    let b = Instance::start_with(under_faketime("+30s"), &database.url, &window).await;
    let (_, unsigned) = post_user(
        &http,
        &b.base,
        "MI",
        &(String::new(), String::new(), String::new(), String::new()),
    )
    .await;
    let b_time = unsigned["debug"]["serverTime"]
        .as_i64()
        .unwrap_or_else(|| panic!("sandbox debug has the server time: {unsigned}"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        b_time >= now + 25,
        "B's clock runs ahead: {b_time} vs {now}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;

    let (_, replay) = post_user(&http, &a.base, "MI", &request).await;
    assert_eq!(replay["code"], "10003", "{replay}");
    assert_eq!(replay["debug"]["reason"], "nonce_reused", "{replay}");
    drop(b);
}

/// A TCP forwarder in front of PostgreSQL that the test can cut and
/// restore: "the database went away and came back", without stopping the
/// shared server.
struct Proxy {
    address: SocketAddr,
    target: SocketAddr,
    tasks: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = Self {
            address: listener.local_addr().unwrap(),
            target,
            tasks: Default::default(),
        };
        proxy.serve(listener);
        proxy
    }

    fn cut(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    async fn restore(&self) {
        self.serve(tokio::net::TcpListener::bind(self.address).await.unwrap());
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let (target, tasks) = (self.target, self.tasks.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let forward = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tasks.lock().unwrap().push(forward.abort_handle());
            }
        });
        self.tasks.lock().unwrap().push(accept.abort_handle());
    }
}

#[tokio::test]
async fn an_outage_answers_10004_and_503_then_recovers_without_restart() {
    let Some(database) = Database::create().await else {
        return;
    };
    add_vectors_merchant(&database.url);
    let proxy = Proxy::start("127.0.0.1:5432".parse().unwrap()).await;
    let proxied = database
        .url
        .replacen("127.0.0.1:5432", &proxy.address.to_string(), 1);
    assert_ne!(proxied, database.url, "the test URL names 127.0.0.1:5432");
    let instance = Instance::start(&proxied).await;
    let key = SigningKey::from_pem(
        &std::fs::read_to_string(vectors().join("merchant-test.key.pem")).unwrap(),
    )
    .unwrap();
    let http = reqwest::Client::new();
    let send = |request: Signed| {
        let (http, base) = (http.clone(), instance.base.clone());
        async move { post_user(&http, &base, "MI", &request).await }
    };
    let ready = || async {
        http.get(format!("{}/readyz", instance.base))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(ready().await, 200);
    assert_eq!(send(signed(&key, "U1")).await.1["code"], "0000");

    proxy.cut();
    let during = signed(&key, "U2");
    let (status, answer) = send(during.clone()).await;
    assert_eq!(answer["code"], "10004", "{answer}");
    assert!([500, 503].contains(&status));
    assert_eq!(ready().await, 503);

    proxy.restore().await;
    let mut recovered = false;
    for _ in 0..50 {
        if ready().await == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(recovered, "/readyz is 200 again without a restart");
    // The request that failed during the outage persisted nothing: the
    // same request, nonce included, now succeeds.
    assert_eq!(send(during).await.1["code"], "0000");
}
