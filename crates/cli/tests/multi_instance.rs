//! docs/PROTOCOL.md §10: several `payfac serve` processes on one PostgreSQL database,
//! and recovery from a database outage. Runs when
//! `PAYFAC_TEST_POSTGRES_URL` names a server (scripts/test.sh sets it).

use std::collections::HashSet;
use std::process::Command;
use std::time::Duration;

use payfac_domain::random_alphanumeric;
use payfac_signing::{SigningKey, signature_string};
use payfac_test_support::postgres::{TestDatabase, with_address};
use payfac_test_support::proxy::Proxy;
use payfac_test_support::serve::{Served, clock_ahead};
use payfac_test_support::{eventually, free_port, vectors};
use serde_json::Value;

/// The `payfac` binary under test.
fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_payfac"))
}

fn payfac(args: &[&str]) -> std::process::Output {
    binary().args(args).output().unwrap()
}

/// A running `payfac serve` on the test's database: test-support's
/// [`Served`], killed and reaped on drop.
struct Instance {
    served: Served,
    base: String,
}

impl Instance {
    async fn start(database_url: &str) -> Self {
        Self::start_with(binary, database_url, &[]).await
    }

    /// `command()` (the binary, possibly with its clock moved) with
    /// `serve` arguments and `extra`, on a free port, once `/healthz`
    /// answers.
    async fn start_with(command: impl Fn() -> Command, database_url: &str, extra: &[&str]) -> Self {
        let command = || {
            let mut command = command();
            command.env("RUST_LOG", "warn");
            command
        };
        let served = Served::start_async(command, |port| {
            let mut args: Vec<String> = ["--listen", &format!("127.0.0.1:{port}")]
                .into_iter()
                .chain(["--database-url", database_url, "--sandbox"])
                .map(str::to_owned)
                .collect();
            args.extend(extra.iter().map(|arg| (*arg).to_owned()));
            args
        })
        .await;
        let base = served.base_url();
        Self { served, base }
    }

    /// The value of `series` in this instance's `/metrics`.
    async fn metric(&self, series: &str) -> Option<f64> {
        let scrape = reqwest::get(format!("{}/metrics", self.base))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        payfac_test_support::serve::metric(&scrape, series)
    }
}

struct Cluster {
    database: TestDatabase,
    a: Instance,
    b: Instance,
    key: SigningKey,
    http: reqwest::Client,
}

/// Registers merchant `MI` with the vectors' public key, through the CLI.
fn add_vectors_merchant(database_url: &str) {
    let public = vectors::path(vectors::PUBLIC_KEY);
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

async fn cluster() -> Cluster {
    let database = TestDatabase::create().await;
    add_vectors_merchant(&database.url);
    let a = Instance::start(&database.url).await;
    let b = Instance::start(&database.url).await;
    let key = vectors::private_key_pem();
    Cluster {
        database,
        a,
        b,
        key: SigningKey::from_pem(&key).unwrap(),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
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
#[ignore = "needs PostgreSQL at PAYFAC_TEST_POSTGRES_URL; scripts/test.sh runs it"]
async fn a_code_issued_at_one_instance_is_redeemed_once_at_another() {
    let cluster = cluster().await;
    let code = cluster.code_at(&cluster.a.base, "U1").await;
    assert!(cluster.redeem_at(&cluster.b.base, &code).await.is_some());
    assert!(cluster.redeem_at(&cluster.a.base, &code).await.is_none());
    assert!(cluster.redeem_at(&cluster.b.base, &code).await.is_none());
}

#[tokio::test]
#[ignore = "needs PostgreSQL at PAYFAC_TEST_POSTGRES_URL; scripts/test.sh runs it"]
async fn a_request_accepted_at_one_instance_is_a_replay_at_another() {
    let cluster = cluster().await;
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
#[ignore = "needs PostgreSQL at PAYFAC_TEST_POSTGRES_URL; scripts/test.sh runs it"]
async fn concurrent_redemptions_across_instances_make_one_session() {
    let cluster = cluster().await;
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
#[ignore = "needs PostgreSQL at PAYFAC_TEST_POSTGRES_URL; scripts/test.sh runs it"]
async fn concurrent_identical_requests_across_instances_give_one_0000() {
    let cluster = cluster().await;
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
#[ignore = "needs PostgreSQL at PAYFAC_TEST_POSTGRES_URL; scripts/test.sh runs it"]
async fn concurrent_first_syncs_across_instances_share_one_user_id() {
    let cluster = cluster().await;
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
#[ignore = "needs PostgreSQL at PAYFAC_TEST_POSTGRES_URL; scripts/test.sh runs it"]
async fn a_merchant_added_by_the_cli_is_seen_by_both_within_5_s() {
    let cluster = cluster().await;
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

/// The binary with its clock `offset` ahead: libfaketime preloaded into
/// payfac itself (test-support's `clock_ahead`), so the process the test
/// stops is payfac.
fn under_faketime(offset: &str) -> Command {
    let mut command = binary();
    clock_ahead(&mut command, offset);
    command
}

/// Issue #19: an instance whose clock runs 30 s ahead purges by its own
/// clock no nonce another instance still accepts. A request accepted at
/// A (10 s window) and replayed at A after B (clock +30 s) purged is still
/// refused. That B did purge shows: a nonce long expired by every clock,
/// put in before B started, is gone, counted by B's purge metric.
#[tokio::test]
#[ignore = "needs PostgreSQL at PAYFAC_TEST_POSTGRES_URL; scripts/test.sh runs it"]
async fn an_instance_with_a_clock_ahead_does_not_reopen_nonces() {
    let database = TestDatabase::create().await;
    add_vectors_merchant(&database.url);
    let key = SigningKey::from_pem(&vectors::private_key_pem()).unwrap();
    let http = reqwest::Client::new();
    let window = ["--timestamp-window-secs", "10"];
    let a = Instance::start_with(binary, &database.url, &window).await;
    let request = signed(&key, "U1");
    let (_, first) = post_user(&http, &a.base, "MI", &request).await;
    assert_eq!(first["code"], "0000", "{first}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let client = database.connect().await;
    client
        .execute(
            "INSERT INTO nonces (merchant_id, nonce, expires_at) VALUES ('MI', 'long-expired', $1)",
            &[&(now - 3_600)],
        )
        .await
        .unwrap();

    // B purges once at start, by its clock 30 s ahead.
    let b = Instance::start_with(|| under_faketime("+30s"), &database.url, &window).await;
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
    assert!(
        b_time >= now + 25,
        "B's clock runs ahead: {b_time} vs {now}"
    );
    let purged = r#"payfac_purged_rows_total{table="nonces"}"#;
    let b_purged = eventually(Duration::from_secs(10), || async {
        b.metric(purged).await == Some(1.0)
    })
    .await;
    assert!(
        b_purged,
        "B's purge deleted one nonce: {:?}; its log: {}",
        b.metric(purged).await,
        b.served.stderr()
    );
    let left: Vec<String> = client
        .query("SELECT nonce FROM nonces", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(
        left,
        [request.1.as_str()],
        "B purged only the expired nonce"
    );

    let (_, replay) = post_user(&http, &a.base, "MI", &request).await;
    assert_eq!(replay["code"], "10003", "{replay}");
    assert_eq!(replay["debug"]["reason"], "nonce_reused", "{replay}");
    drop(b);
}

#[tokio::test]
#[ignore = "needs PostgreSQL at PAYFAC_TEST_POSTGRES_URL; scripts/test.sh runs it"]
async fn an_outage_answers_10004_and_503_then_recovers_without_restart() {
    let database = TestDatabase::create().await;
    add_vectors_merchant(&database.url);
    let proxy = Proxy::start(database.address()).await;
    let proxied = with_address(&database.url, &proxy.address.to_string());
    let instance = Instance::start(&proxied).await;
    let key = SigningKey::from_pem(&vectors::private_key_pem()).unwrap();
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

    proxy.cut_and_wait().await;
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

/// An admin change made through one instance's admin API reaches the
/// other within 5 s: a merchant disabled with `endSessions` is refused
/// everywhere and its buyers' sessions are over everywhere; a revoked
/// admin token stops working on both admin listeners (issue #17).
#[tokio::test]
#[ignore = "needs PostgreSQL at PAYFAC_TEST_POSTGRES_URL; scripts/test.sh runs it"]
async fn an_admin_change_at_one_instance_is_seen_by_the_other_within_5_s() {
    let database = TestDatabase::create().await;
    add_vectors_merchant(&database.url);
    let token = payfac(&[
        "admin-token",
        "create",
        "ops",
        "--database-url",
        &database.url,
    ]);
    assert!(
        token.status.success(),
        "{}",
        String::from_utf8_lossy(&token.stderr)
    );
    let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();
    let admin_ports = [free_port(), free_port()];
    let a_admin = format!("127.0.0.1:{}", admin_ports[0]);
    let b_admin = format!("127.0.0.1:{}", admin_ports[1]);
    let a = Instance::start_with(binary, &database.url, &["--admin-listen", &a_admin]).await;
    let b = Instance::start_with(binary, &database.url, &["--admin-listen", &b_admin]).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let key = SigningKey::from_pem(&vectors::private_key_pem()).unwrap();

    // A buyer signed in at B.
    let (_, answer) = post_user(&http, &b.base, "MI", &signed(&key, "U1")).await;
    let code = answer["data"]["authorizationCode"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = http
        .get(format!("{}/account?authorizationCode={code}", b.base))
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();

    // Disabled through A's admin API.
    let disabled = http
        .post(format!("http://{a_admin}/admin/v1/merchants/MI/disable"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"endSessions": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(disabled.status(), 200);
    let changed_at = std::time::Instant::now();
    let me = http
        .get(format!("{}/api/me", b.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401, "the session is over at B at once");
    for base in [&a.base, &b.base] {
        loop {
            let (_, answer) = post_user(&http, base, "MI", &signed(&key, "U2")).await;
            if answer["code"] == "10001" {
                break;
            }
            assert!(
                changed_at.elapsed() < Duration::from_secs(5),
                "{base}: {answer}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // A token revoked from the CLI stops working on both admin listeners.
    let revoked = payfac(&[
        "admin-token",
        "revoke",
        "ops",
        "--database-url",
        &database.url,
    ]);
    assert!(revoked.status.success());
    let revoked_at = std::time::Instant::now();
    for admin in [&a_admin, &b_admin] {
        loop {
            let status = http
                .get(format!("http://{admin}/admin/v1/merchants"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .status();
            if status == 401 {
                break;
            }
            assert_eq!(status, 200);
            assert!(
                revoked_at.elapsed() < Duration::from_secs(5),
                "{admin} still accepts it"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
