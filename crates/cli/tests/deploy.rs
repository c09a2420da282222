//! The operator's production kit against a real `payfac serve`:
//! `payfac healthcheck` (the image's HEALTHCHECK), every counter exported
//! at zero from start-up, every metric the shipped Grafana dashboard
//! and Prometheus alerts name being one payfac exports, and the one
//! metrics table in docs/DEPLOY.md listing exactly what the code emits.

#[allow(dead_code, unused_imports)] // helpers shared with the other CLI tests
#[path = "helpers/mod.rs"]
mod helpers;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use helpers::{Server, TestDb, body_of, http, payfac, run, vector};

/// A served instance with one merchant, `ACME`.
fn served() -> (TestDb, Server) {
    let db = TestDb::new();
    db.add_merchant("ACME", &vector("merchant-test.pub.pem"));
    let server = Server::start(db.dir.path(), &db.url, &[]);
    (db, server)
}

fn healthcheck(db: &TestDb, args: &[&str]) -> helpers::Output {
    run(payfac(db.dir.path()).arg("healthcheck").args(args))
}

/// The scrape of `/metrics`.
fn scrape(server: &Server) -> String {
    let (status, response) = http(server.port, "GET", "/metrics", &[], b"").expect("an answer");
    assert_eq!(status, 200, "{response}");
    body_of(&response).to_owned()
}

// ------------------------------------------------------------ healthcheck

#[test]
fn healthcheck_exits_0_against_a_serving_instance() {
    let (db, server) = served();
    let url = format!("{}/healthz", server.base_url());
    let output = healthcheck(&db, &["--url", &url]);
    assert_eq!(
        (output.code, output.stdout.as_str(), output.stderr.as_str()),
        (0, "", "")
    );
    // Without --url: /healthz on PAYFAC_LISTEN, a wildcard probed on loopback.
    let listen = format!("0.0.0.0:{}", server.port);
    let output = run(payfac(db.dir.path())
        .arg("healthcheck")
        .env("PAYFAC_LISTEN", &listen));
    assert_eq!(
        (output.code, output.stderr.as_str()),
        (0, ""),
        "{output:#?}"
    );
    let output = healthcheck(&db, &["--listen", &format!("127.0.0.1:{}", server.port)]);
    assert_eq!(output.code, 0, "{output:#?}");
}

#[test]
fn healthcheck_fails_with_one_line_when_nothing_listens() {
    let db = TestDb::new();
    // Bound and dropped: nothing listens there now.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/healthz");
    let line = healthcheck(&db, &["--url", &url]).refused(&url);
    assert!(line.to_lowercase().contains("refused"), "{line}");
    let output = healthcheck(&db, &["--listen", &format!("127.0.0.1:{port}")]);
    output.refused("/healthz");
}

#[test]
fn healthcheck_fails_on_any_status_but_200() {
    let (db, server) = served();
    let url = format!("{}/no-such-page", server.base_url());
    healthcheck(&db, &["--url", &url]).refused("answered HTTP 404");
}

#[test]
fn healthcheck_fails_on_silence_and_on_what_is_not_http() {
    let db = TestDb::new();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/healthz");
    // Connected (the kernel completes the handshake), never answered:
    // the timeout ends it.
    let started = Instant::now();
    healthcheck(&db, &["--url", &url, "--timeout-secs", "1"]).refused("no answer within 1 s");
    assert!(started.elapsed() < Duration::from_secs(10));
    drop(listener);
    // A peer that answers something else.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let peer = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut buffer = [0u8; 512];
        let _ = stream.read(&mut buffer);
        let _ = stream.write_all(b"SSH-2.0-OpenSSH\r\n");
    });
    let url = format!("http://127.0.0.1:{port}/healthz");
    healthcheck(&db, &["--url", &url]).refused("not an HTTP answer");
    peer.join().unwrap();
}

#[test]
fn healthcheck_refuses_what_it_cannot_probe() {
    let db = TestDb::new();
    healthcheck(&db, &["--url", "https://127.0.0.1:8443/healthz"]).refused("only http://");
    healthcheck(&db, &["--url", "http:///healthz"]).refused("not an http://HOST:PORT/PATH URL");
    healthcheck(&db, &["--timeout-secs", "0"]).refused("--timeout-secs must be positive");
}

// ------------------------------------------------------------ metrics

/// `name{labels}` of every sample in a scrape, and the bare names.
fn samples(scrape: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut series = BTreeSet::new();
    let mut names = BTreeSet::new();
    for line in scrape.lines().filter(|line| !line.starts_with('#')) {
        let Some((head, _value)) = line.rsplit_once(' ') else {
            continue;
        };
        series.insert(head.to_owned());
        let name = head.split('{').next().unwrap_or(head);
        names.insert(name.to_owned());
    }
    (series, names)
}

#[test]
fn a_fresh_server_exports_every_counter_at_zero() {
    let (_db, server) = served();
    let scrape = scrape(&server);
    let (series, _) = samples(&scrape);
    let expected = [
        "payfac_codes_issued_total",
        "payfac_codes_redeemed_total",
        "payfac_codes_expired_total",
        "payfac_connections_evicted_total",
        "payfac_sign_ins_shed_total",
        "payfac_sign_ins_pending_consent_total",
        "payfac_consent_refused_total",
        r#"payfac_codes_rejected_total{reason="unknown"}"#,
        r#"payfac_codes_rejected_total{reason="used"}"#,
        r#"payfac_codes_rejected_total{reason="expired"}"#,
        r#"payfac_codes_rejected_total{reason="malformed"}"#,
        r#"payfac_purged_rows_total{table="nonces"}"#,
        r#"payfac_purged_rows_total{table="codes"}"#,
        r#"payfac_purged_rows_total{table="sessions"}"#,
        r#"payfac_rate_limited_total{limit="merchant_calls"}"#,
        r#"payfac_rate_limited_total{limit="client_failures",kind="merchant_api"}"#,
        r#"payfac_rate_limited_total{limit="client_failures",kind="sign_in"}"#,
        r#"payfac_forward_auth_total{answer="identity"}"#,
        r#"payfac_forward_auth_total{answer="anonymous"}"#,
        r#"payfac_forward_auth_total{answer="unauthorized"}"#,
        r#"payfac_forward_auth_total{answer="sign_in"}"#,
        r#"payfac_forward_auth_total{answer="forbidden"}"#,
        r#"payfac_upstream_errors_total{reason="connect_timeout"}"#,
        r#"payfac_upstream_errors_total{reason="connect"}"#,
        r#"payfac_upstream_errors_total{reason="failed"}"#,
        r#"payfac_upstream_errors_total{reason="timeout"}"#,
        r#"payfac_http_requests_total{route="/pay-fac/{merchant}/{version}/user",status="200",code="0000"}"#,
        r#"payfac_merchant_calls_total{merchant="ACME",code="0000"}"#,
        r#"payfac_merchant_calls_total{merchant="ACME",code="10003"}"#,
        r#"payfac_merchant_calls_total{merchant="ACME",code="10004"}"#,
        r#"payfac_signature_failures_total{merchant="ACME",reason="no_key_matched"}"#,
        r#"payfac_signature_failures_total{merchant="ACME",reason="nonce_reused"}"#,
        r#"payfac_signature_failures_total{merchant="ACME",reason="clock_skew"}"#,
    ];
    let mut missing = Vec::new();
    for want in expected {
        if !series.contains(want) {
            missing.push(want);
        }
    }
    assert!(missing.is_empty(), "missing {missing:#?} in\n{scrape}");
    // Zero, not merely present (nothing has happened yet).
    for line in scrape.lines() {
        if line.starts_with("payfac_signature_failures_total") || line.starts_with("payfac_codes_")
        {
            assert!(line.ends_with(" 0"), "{line}");
        }
    }
    let gauges = ["payfac_storage_up 1", "payfac_connections_open "];
    for gauge in gauges {
        assert!(
            scrape.lines().any(|l| l.starts_with(gauge)),
            "{gauge} in\n{scrape}"
        );
    }
}

#[test]
fn a_merchant_added_while_serving_gets_its_series_at_zero() {
    let (db, server) = served();
    db.add_merchant("LATER", &helpers::fixture("rsa-4096.pub.pem"));
    let want = r#"payfac_signature_failures_total{merchant="LATER",reason="no_key_matched"} 0"#;
    let started = Instant::now();
    while !scrape(&server).lines().any(|line| line == want) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{want} within 10 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Every `payfac_…` name in a file.
fn metric_names_in(path: &Path) -> BTreeSet<String> {
    let text = helpers::read(path);
    let mut names = BTreeSet::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find("payfac_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}

#[test]
fn the_dashboard_and_the_alerts_name_only_exported_metrics() {
    let (_db, server) = served();
    // Histograms appear with their first sample: the storage poll records
    // one every second, the /healthz probe of `Server::start` one request.
    let started = Instant::now();
    let names = loop {
        let (_, names) = samples(&scrape(&server));
        if names.contains("payfac_storage_duration_seconds_count")
            || started.elapsed() > Duration::from_secs(10)
        {
            break names;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let deploy = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
    for file in ["grafana/payfac.json", "prometheus/alerts.yml"] {
        let path = deploy.join(file);
        let named = metric_names_in(&path);
        assert!(named.len() >= 5, "{file} names metrics: {named:?}");
        let unknown: Vec<_> = named.iter().filter(|name| !names.contains(*name)).collect();
        assert!(
            unknown.is_empty(),
            "{file} names metrics payfac does not export: {unknown:?}\nexported: {names:?}"
        );
    }
}

#[test]
fn a_merchant_call_is_counted_by_merchant_and_code_with_its_storage_time() {
    let (db, server) = served();
    let output = db.payfac_plain(&[
        "user-sync",
        "--url",
        &server.base_url(),
        "--merchant",
        "ACME",
        "--key",
        vector("merchant-test.key.pem").to_str().unwrap(),
        "--merchant-user-no",
        "U1",
        "--email",
        "a@example.com",
    ]);
    assert_eq!(output.code, 0, "{output:#?}");
    let scrape = scrape(&server);
    for want in [
        r#"payfac_merchant_calls_total{merchant="ACME",code="0000"} 1"#,
        r#"payfac_merchant_calls_total{merchant="ACME",code="10003"} 0"#,
        r#"payfac_codes_issued_total 1"#,
        r#"payfac_storage_duration_seconds_count{operation="user_sync"} 1"#,
    ] {
        assert!(
            scrape.lines().any(|line| line == want),
            "{want} in\n{scrape}"
        );
    }
}

/// `payfac_storage_up`, the PostgreSQL outage alert's signal: 1 while
/// the database answers, 0 within seconds of it going away (a proxy in
/// front of it cut), 1 again once it is back, with no restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL at PAYFAC_TEST_POSTGRES_URL; scripts/test.sh runs it"]
async fn storage_up_follows_the_database_away_and_back() {
    use payfac_test_support::postgres::{TestDatabase, with_address};
    use payfac_test_support::proxy::Proxy;
    let database = TestDatabase::create().await;
    let proxy = Proxy::start(database.address()).await;
    let proxied = with_address(&database.url, &proxy.address.to_string());
    let dir = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::start(dir.path(), &proxied, &[]));
    let storage_up = |want: &str| {
        let line = format!("payfac_storage_up {want}");
        let started = Instant::now();
        tokio::task::block_in_place(|| {
            while !scrape(&server).lines().any(|l| l == line) {
                if started.elapsed() > Duration::from_secs(15) {
                    return false;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            true
        })
    };
    assert!(storage_up("1"), "{}", server.stderr());
    proxy.cut();
    assert!(storage_up("0"), "storage_up 0 while the database is away");
    proxy.restore().await;
    assert!(storage_up("1"), "storage_up 1 once it is back");
    drop(server);
}

/// Every counter name in the server's source (`"payfac_…_total"`), so a
/// counter added later without its place in `metric_catalog` fails here.
fn counters_in_source() -> BTreeSet<String> {
    metrics_in_source()
        .into_iter()
        .filter(|name| name.ends_with("_total"))
        .collect()
}

#[test]
fn every_counter_in_the_source_is_exported_from_start_up() {
    let counters = counters_in_source();
    assert!(counters.len() >= 15, "{counters:?}");
    let (_db, server) = served();
    let (_, exported) = samples(&scrape(&server));
    let missing: Vec<_> = counters.difference(&exported).collect();
    assert!(
        missing.is_empty(),
        "counters not registered at start-up (crates/server/src/metric_catalog.rs): {missing:?}"
    );
}

/// Every metric name the server's source emits (counters, gauges and
/// histograms: `payfac_…` string literals with a metric's suffix), test
/// modules' own names aside.
fn metrics_in_source() -> BTreeSet<String> {
    fn walk(dir: &Path, names: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, names);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                let text = helpers::read(&path);
                for piece in text.split('"').skip(1).step_by(2) {
                    let is_metric = piece.starts_with("payfac_")
                        && !piece.starts_with("payfac_test_")
                        && piece.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                        && ["_total", "_seconds", "_in_flight", "_up", "_open"]
                            .iter()
                            .any(|suffix| piece.ends_with(suffix));
                    if is_metric {
                        names.insert(piece.to_owned());
                    }
                }
            }
        }
    }
    let mut names = BTreeSet::new();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    walk(&root.join("server/src"), &mut names);
    walk(&root.join("store/src"), &mut names);
    names
}

/// The one metrics table (docs/DEPLOY.md, "Logs and metrics") lists
/// exactly the metrics the code emits: a metric added, renamed or removed
/// without its row fails here.
#[test]
fn the_metrics_table_lists_every_metric_and_no_other() {
    let deploy =
        helpers::read(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/DEPLOY.md"));
    let documented: BTreeSet<String> = deploy
        .lines()
        .filter(|line| line.starts_with("| `payfac_"))
        .filter_map(|line| line.split('|').nth(1))
        .flat_map(|cell| cell.split('`').skip(1).step_by(2).map(str::to_owned))
        .collect();
    let emitted = metrics_in_source();
    assert!(emitted.len() >= 20, "{emitted:?}");
    assert_eq!(
        documented, emitted,
        "docs/DEPLOY.md's metrics table and the code disagree"
    );
}
