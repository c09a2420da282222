//! `payfac serve` and `payfac user-sync` end to end: signed calls against a
//! served instance, restarts, `--demo`, and the settings serve refuses.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::helpers::{
    Output, Server, TestDb, assert_key_id, assert_ok, body_of, first_line, http, mode, read,
    signed_user_sync, unix_now, vector,
};
use serde_json::{Value, json};

// --------------------------------------------------------------- end to end

/// Runs user-sync until its envelope has `code` or `limit` passes; the
/// last output.
fn user_sync_until(
    db: &TestDb,
    server: &Server,
    merchant: &str,
    key: &Path,
    user: &str,
    code: &str,
    limit: Duration,
) -> Output {
    let start = Instant::now();
    loop {
        let output = user_sync(db, server, merchant, key, user);
        let got = serde_json::from_str::<Value>(output.stdout.trim())
            .ok()
            .and_then(|envelope| envelope["code"].as_str().map(str::to_owned));
        if got.as_deref() == Some(code) || start.elapsed() >= limit {
            assert_eq!(
                got.as_deref(),
                Some(code),
                "{code} within {limit:?}: {output:#?}"
            );
            return output;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn user_sync(db: &TestDb, server: &Server, merchant: &str, key: &Path, user: &str) -> Output {
    db.payfac_plain(&[
        "user-sync".as_ref(),
        "--url".as_ref(),
        server.base_url().as_ref(),
        "--merchant".as_ref(),
        merchant.as_ref(),
        "--key".as_ref(),
        key.as_os_str(),
        "--merchant-user-no".as_ref(),
        user.as_ref(),
        "--email".as_ref(),
        "a@example.com".as_ref(),
        "--first-name".as_ref(),
        "A".as_ref(),
    ])
}

/// `data` of a success envelope printed on one line.
#[track_caller]
fn issued(output: &Output) -> (String, String) {
    let line = output.one_line();
    let envelope: Value = serde_json::from_str(&line).expect("an envelope");
    assert_eq!(envelope["code"], "0000", "{line}");
    assert!(envelope["msg"].as_str().unwrap().starts_with("Success"));
    let user_id = envelope["data"]["userId"]
        .as_str()
        .expect("userId")
        .to_owned();
    let code = envelope["data"]["authorizationCode"]
        .as_str()
        .expect("authorizationCode")
        .to_owned();
    assert!(user_id.parse::<i64>().is_ok_and(|id| id > 0), "{line}");
    assert_eq!(code.len(), 32, "{line}");
    assert!(code.chars().all(|c| c.is_ascii_alphanumeric()), "{line}");
    (user_id, code)
}

/// The envelope of a failed user-sync: on stdout, plus one stderr line.
#[track_caller]
fn failed_with(output: &Output, code: &str) {
    assert_ne!(output.code, 0, "{output:#?}");
    assert_eq!(output.stdout_lines().len(), 1, "{output:#?}");
    let envelope: Value = serde_json::from_str(output.stdout.trim()).expect("an envelope");
    assert_eq!(envelope["code"], code, "{output:#?}");
    assert_eq!(envelope["data"], Value::Null, "{output:#?}");
    let lines: Vec<&str> = output.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{output:#?}");
    assert!(lines[0].starts_with("payfac: ") && lines[0].contains(code));
}

#[test]
fn user_sync_against_a_running_service() {
    let db = TestDb::new();
    let server = Server::start(db.dir.path(), &db.url, &["--insecure-cookies"]);
    let mut secrets = Vec::new();

    // Registered while the service runs, with a platform-made key.
    let prefix = db.path("live");
    let added = db.payfac(&[
        "merchant".as_ref(),
        "add".as_ref(),
        "LIVE".as_ref(),
        "--generate-key".as_ref(),
        prefix.as_os_str(),
    ]);
    let generated_key_id = added.one_line();
    let key = db.path("live.key.pem");
    let first = user_sync_until(&db, &server, "LIVE", &key, "U1", "0000", SECS_5);
    let (user_id, code) = issued(&first);
    secrets.push(code);
    let (again, code) = issued(&user_sync(&db, &server, "LIVE", &key, "U1"));
    assert_eq!(again, user_id, "the same buyer keeps its userId");
    secrets.push(code);

    // The wrong key: 10003 on stdout, one line on stderr.
    let wrong = vector("merchant-test.key.pem");
    failed_with(&user_sync(&db, &server, "LIVE", &wrong, "U1"), "10003");

    // Rotation takes effect while running: add the vectors key ...
    let rotated = db.payfac(&[
        "merchant".as_ref(),
        "key".as_ref(),
        "add".as_ref(),
        "LIVE".as_ref(),
        "--public-key".as_ref(),
        vector("merchant-test.pub.pem").as_os_str(),
    ]);
    assert_key_id(&rotated.one_line());
    let (same, code) = issued(&user_sync_until(
        &db, &server, "LIVE", &wrong, "U1", "0000", SECS_5,
    ));
    assert_eq!(same, user_id);
    secrets.push(code);
    // ... remove the generated one ...
    assert_ok(&db.payfac(&["merchant", "key", "remove", "LIVE", &generated_key_id]));
    failed_with(
        &user_sync_until(&db, &server, "LIVE", &key, "U1", "10003", SECS_5),
        "10003",
    );
    // ... disable and enable.
    assert_ok(&db.payfac(&["merchant", "disable", "LIVE"]));
    failed_with(
        &user_sync_until(&db, &server, "LIVE", &wrong, "U1", "10001", SECS_5),
        "10001",
    );
    assert_ok(&db.payfac(&["merchant", "enable", "LIVE"]));
    let (_, code) = issued(&user_sync_until(
        &db, &server, "LIVE", &wrong, "U2", "0000", SECS_5,
    ));
    secrets.push(code.clone());

    // A hand-made request signed by `payfac sign`, so the signature header
    // value is known; and the code redeemed on a page.
    let (status, response, signature) = signed_post(&db, &server, "LIVE", &wrong, "U3");
    assert_eq!(status, 200, "{response}");
    let envelope: Value = serde_json::from_str(body_of(&response)).unwrap();
    assert_eq!(envelope["code"], "0000", "{response}");
    secrets.push(signature);
    let page_code = envelope["data"]["authorizationCode"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, redirect) = http(
        server.port,
        "GET",
        &format!("/account?tab=1&authorizationCode={page_code}"),
        &[],
        b"",
    )
    .expect("the page answers");
    assert!(matches!(status, 302 | 303), "{redirect}");
    let head = redirect.to_lowercase();
    assert!(
        head.contains("\r\nlocation: /account?tab=1\r\n"),
        "{redirect}"
    );
    let session = redirect
        .lines()
        .find(|line| line.to_lowercase().starts_with("set-cookie:"))
        .and_then(|line| line.split_once('=').map(|(_, rest)| rest))
        .and_then(|rest| rest.split(';').next())
        .unwrap_or_else(|| panic!("a session cookie: {redirect}"));
    assert!(session.len() >= 22, "{redirect}");
    secrets.push(session.to_owned());
    secrets.push(page_code);
    // A signature that does not verify is not logged either.
    let (status, response, signature) =
        signed_post(&db, &server, "LIVE", &db.path("live.key.pem"), "U4");
    assert_eq!(status, 401, "{response}");
    secrets.push(signature);

    let logs = server.stderr();
    assert!(
        logs.contains("10003"),
        "the service logs its requests: {logs}"
    );
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "{secret} in logs:\n{logs}");
    }
}

const SECS_5: Duration = Duration::from_secs(5);

/// POSTs a user-sync body signed with `payfac sign`; the status, the raw
/// response and the signature header value sent.
fn signed_post(
    db: &TestDb,
    server: &Server,
    merchant: &str,
    key: &Path,
    user: &str,
) -> (u16, String, String) {
    let body = format!(r#"{{"merchantUserNo":"{user}","email":"{user}@example.com"}}"#);
    let body_file = db.path(&format!("{user}.json"));
    std::fs::write(&body_file, &body).unwrap();
    let timestamp = unix_now().to_string();
    let nonce = format!("n{}{user}", std::process::id());
    let signed = db
        .payfac_plain(&[
            "sign".as_ref(),
            "--key".as_ref(),
            key.as_os_str(),
            "--timestamp".as_ref(),
            timestamp.as_ref(),
            "--nonce".as_ref(),
            nonce.as_ref(),
            "--body-file".as_ref(),
            body_file.as_os_str(),
        ])
        .one_line();
    let signed: Value = serde_json::from_str(&signed).unwrap();
    let signature = signed["signature"].as_str().unwrap().to_owned();
    let (status, response) = http(
        server.port,
        "POST",
        &format!("/pay-fac/{merchant}/v1/user"),
        &[
            ("Content-Type", "application/json"),
            ("timestamp", &timestamp),
            ("nonce", &nonce),
            ("signature", &signature),
        ],
        body.as_bytes(),
    )
    .expect("the service answers");
    (status, response, signature)
}

/// A user-sync request signed with `key` at `timestamp`; POSTs it (again,
/// when called with the same parts) and answers the status and envelope.
fn post_signed_at(
    port: u16,
    key: &payfac_signing::SigningKey,
    timestamp: &str,
    nonce: &str,
) -> (u16, Value) {
    let body = r#"{"merchantUserNo":"U1","email":"u1@example.com"}"#;
    signed_user_sync(port, key, "MW", body, timestamp, nonce)
}

/// Issue #19: a request accepted under a 20 s window is refused as a
/// replay after a restart with a 300 s window, even once its first window
/// is over (and the restart purged).
#[test]
fn a_restart_with_a_larger_window_does_not_reopen_a_nonce() {
    let db = TestDb::new();
    db.add_merchant("MW", &vector("merchant-test.pub.pem"));
    let key =
        payfac_signing::SigningKey::from_pem(&read(&vector("merchant-test.key.pem"))).unwrap();
    let timestamp = (unix_now() - 18).to_string();
    let nonce = format!("window{}", std::process::id());

    let narrow = Server::start(
        db.dir.path(),
        &db.url,
        &["--timestamp-window-secs", "20", "--sandbox"],
    );
    let (status, first) = post_signed_at(narrow.port, &key, &timestamp, &nonce);
    assert_eq!((status, &first["code"]), (200, &json!("0000")), "{first}");
    drop(narrow);
    // Past the 20 s window of the timestamp.
    while unix_now() <= timestamp.parse::<i64>().unwrap() + 21 {
        std::thread::sleep(Duration::from_millis(200));
    }

    let wide = Server::start(
        db.dir.path(),
        &db.url,
        &["--timestamp-window-secs", "300", "--sandbox"],
    );
    let (status, replay) = post_signed_at(wide.port, &key, &timestamp, &nonce);
    assert_eq!(status, 401, "{replay}");
    assert_eq!(replay["debug"]["reason"], "nonce_reused", "{replay}");
}

#[test]
fn serve_demo_prints_a_call_that_works() {
    let db = TestDb::new();
    let server = Server::start(db.dir.path(), &db.url, &["--demo", "--insecure-cookies"]);
    let key = db.path("demo-merchant/demo.key.pem");
    assert_eq!(first_line(&key), "-----BEGIN PRIVATE KEY-----");
    assert_eq!(mode(&key), 0o600);

    let printed = demo_banner(&server);
    // Started with --insecure-cookies: no advice to start with it.
    assert!(!printed.contains("--insecure-cookies"), "{printed}");
    let command = printed.replace("\\\n", " ");
    let line = command
        .lines()
        .find(|line| line.contains(" user-sync "))
        .unwrap_or_else(|| panic!("a user-sync command line in:\n{printed}"));
    let args: Vec<&str> = line
        .split_once(" user-sync ")
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap();
    assert!(args.contains(&server.base_url().as_str()), "{line}");
    let key_arg = args[args.iter().position(|a| *a == "--key").unwrap() + 1];
    assert_eq!(db.dir.path().join(key_arg), key, "{line}");

    let mut full = vec!["user-sync"];
    full.extend(&args);
    let (user_id, code) = issued(&db.payfac_plain(&full));
    assert!(!server.stderr().contains(&code));
    let (again, _) = issued(&db.payfac_plain(&full));
    assert_eq!(again, user_id);
}

/// What `serve --demo` printed, read once it has printed the call.
fn demo_banner(server: &Server) -> String {
    let start = Instant::now();
    loop {
        let stdout = server.stdout();
        if stdout.contains("--merchant-user-no") || start.elapsed() > Duration::from_secs(10) {
            return stdout;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Issue 29: over plain http the sign-in cookie needs `--insecure-cookies`;
/// the banner says so exactly when the flag was not given.
#[test]
fn serve_demo_suggests_insecure_cookies_only_without_it() {
    let db = TestDb::new();
    let server = Server::start(db.dir.path(), &db.url, &["--demo"]);
    let printed = demo_banner(&server);
    assert!(printed.contains("--merchant-user-no"), "{printed}");
    assert!(
        printed.contains("(start with --insecure-cookies for plain http)"),
        "{printed}"
    );
}

/// Settings `serve` refuses before it opens anything, each with one line.
#[test]
fn serve_refuses_out_of_range_settings() {
    let db = TestDb::new();
    let cases: &[(&[&str], &str)] = &[
        (
            &["serve", "--timestamp-window-secs", "0"],
            "must be positive",
        ),
        (
            &["serve", "--timestamp-window-secs", "3601"],
            "at most 3600",
        ),
        (
            &["serve", "--header-read-timeout-secs", "0"],
            "must be positive",
        ),
        (&["serve", "--max-connections", "0"], "must be positive"),
    ];
    for (args, needle) in cases {
        db.payfac(args).refused(needle);
    }
}

/// Runs `payfac serve ARGS` expecting it to exit by itself within 30 s
/// (killed and failed otherwise).
fn serve_exits(db: &TestDb, args: &[&str]) -> Output {
    let mut child = crate::helpers::payfac(db.dir.path())
        .arg("serve")
        .args(["--listen", "127.0.0.1:0", "--database-url", &db.url])
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("payfac serve {args:?} kept running");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Issue #19: `--demo` does not register a `demo.pub.pem` that is not the
/// public key of `demo.key.pem` (it used to register whatever was there).
#[test]
fn serve_demo_refuses_a_public_key_that_is_not_the_pairs() {
    let db = TestDb::new();
    drop(Server::start(db.dir.path(), &db.url, &["--demo"]));
    let public = db.path("demo-merchant/demo.pub.pem");
    std::fs::copy(vector("merchant-test.pub.pem"), &public).unwrap();
    let refused = serve_exits(&db, &["--demo"]);
    assert_ne!(refused.code, 0, "{refused:#?}");
    let last = refused.stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("payfac: ") && last.contains("is not the public key of"),
        "{refused:#?}"
    );
    let keys = &db.list_json()[0]["keys"];
    assert_eq!(keys.as_array().map(Vec::len), Some(1), "{keys}");
}

/// Issue #19: a DEMO merchant an operator disabled stays disabled when
/// `serve --demo` starts again.
#[test]
fn serve_demo_leaves_a_disabled_demo_merchant_disabled() {
    let db = TestDb::new();
    drop(Server::start(db.dir.path(), &db.url, &["--demo"]));
    assert_ok(&db.payfac(&["merchant", "disable", "DEMO"]));
    let server = Server::start(db.dir.path(), &db.url, &["--demo"]);
    assert_eq!(db.list_text()[0].1, "disabled", "{:?}", db.list_text());
    assert!(
        server.stderr().contains("disabled and stays so"),
        "{}",
        server.stderr()
    );
}
