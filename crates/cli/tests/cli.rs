//! The `payfac` command line as SPEC §6 describes it, driven through the
//! real binary: merchant administration, keygen, sign (against the shared
//! signature vectors), user-sync against a served instance, and `--help`.

mod helpers;

use std::path::Path;
use std::time::{Duration, Instant};

use helpers::{
    Output, Server, TestDb, assert_key_id, body_of, fixture, http, mode, read, unix_now, vector,
};
use serde_json::{Value, json};

// ---------------------------------------------------------------- merchant add

#[test]
fn every_public_key_format_gives_the_same_key_id() {
    let formats = [
        ("SPKI", "merchant-test.pub.pem"),
        ("PKCS1", "merchant-test.pub.pkcs1.pem"),
        ("B64", "merchant-test.pub.b64"),
    ];
    let mut ids = Vec::new();
    for (merchant, file) in formats {
        let db = TestDb::new();
        let key_id = db.add_merchant(merchant, &vector(file));
        assert_eq!(
            db.list_json(),
            json!([{"id": merchant, "status": "active", "keys": [key_id]}])
        );
        ids.push(key_id);
    }
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
}

#[test]
fn a_key_belongs_to_one_merchant_only() {
    let db = TestDb::new();
    let key_id = db.add_merchant("FIRST", &vector("merchant-test.pub.pem"));
    for (merchant, file) in [
        ("SECOND", "merchant-test.pub.pkcs1.pem"),
        ("THIRD", "merchant-test.pub.b64"),
    ] {
        let line = db
            .payfac(&[
                "merchant".as_ref(),
                "add".as_ref(),
                merchant.as_ref(),
                "--public-key".as_ref(),
                vector(file).as_os_str(),
            ])
            .refused("already registered");
        assert!(line.contains(&key_id), "{line}");
    }
    // Nor can another merchant take it over by key rotation.
    db.add_merchant("OTHER", &fixture("rsa-4096.pub.pem"));
    db.payfac(&[
        "merchant".as_ref(),
        "key".as_ref(),
        "add".as_ref(),
        "OTHER".as_ref(),
        "--public-key".as_ref(),
        vector("merchant-test.pub.b64").as_os_str(),
    ])
    .refused("already registered");
    let list = db.list_json();
    assert_eq!(list.as_array().map(Vec::len), Some(2), "{list}");
    assert_eq!(list[0]["id"], "FIRST");
    assert_eq!(list[0]["keys"], json!([key_id]));
    assert_eq!(list[1]["id"], "OTHER");
    assert_eq!(list[1]["keys"].as_array().map(Vec::len), Some(1));
}

#[test]
fn an_existing_merchant_id_is_refused() {
    let db = TestDb::new();
    let key_id = db.add_merchant("M1", &vector("merchant-test.pub.pem"));
    let before = db.list_json();
    db.payfac(&[
        "merchant".as_ref(),
        "add".as_ref(),
        "M1".as_ref(),
        "--public-key".as_ref(),
        fixture("rsa-4096.pub.pem").as_os_str(),
    ])
    .refused("M1");
    assert_eq!(db.list_json(), before);
    assert_eq!(before[0]["keys"], json!([key_id]));
}

#[test]
fn merchant_ids_are_checked() {
    let db = TestDb::new();
    let key = fixture("rsa-4096.pub.pem");
    for bad in ["bad id!", &"A".repeat(33), "", "é", "a/b"] {
        db.payfac(&[
            "merchant".as_ref(),
            "add".as_ref(),
            bad.as_ref(),
            "--public-key".as_ref(),
            key.as_os_str(),
        ])
        .refused("merchant id");
    }
    assert_eq!(db.list_json(), json!([]));
    // The longest and the most varied id are fine.
    let longest = "Z".repeat(32);
    db.add_merchant(&longest, &key);
    db.add_merchant("a-Z_09", &vector("merchant-test.pub.pem"));
    let ids: Vec<String> = db.list_text().into_iter().map(|(id, ..)| id).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&longest) && ids.contains(&"a-Z_09".to_owned()));
}

#[test]
fn unusable_public_keys_are_refused_with_one_line() {
    let db = TestDb::new();
    std::fs::write(db.path("garbage.pem"), "this is not a key\n").unwrap();
    std::fs::write(db.path("empty.pem"), "").unwrap();
    std::fs::write(
        db.path("cert.pem"),
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let mut cases = vec![
        (fixture("ec-p256.pub.pem"), "EC"),
        (fixture("rsa-1024.pub.pem"), "1024"),
        (fixture("rsa-8192.pub.pem"), "8192"),
        (vector("merchant-test.key.pem"), "private key"),
        (db.path("garbage.pem"), "garbage.pem"),
        (db.path("empty.pem"), "empty.pem"),
        (db.path("cert.pem"), "CERTIFICATE"),
        (db.path("missing.pem"), "missing.pem"),
    ];
    if let Some(generated) = openssl_ec_key(db.dir.path()) {
        cases.push((generated, "EC"));
    }
    for (file, needle) in &cases {
        db.payfac(&[
            "merchant".as_ref(),
            "add".as_ref(),
            "M1".as_ref(),
            "--public-key".as_ref(),
            file.as_os_str(),
        ])
        .refused(needle);
        assert_eq!(db.list_json(), json!([]), "after {}", file.display());
    }
    // The same refusals on key rotation.
    db.add_merchant("M1", &vector("merchant-test.pub.pem"));
    let before = db.list_json();
    for (file, needle) in &cases {
        db.payfac(&[
            "merchant".as_ref(),
            "key".as_ref(),
            "add".as_ref(),
            "M1".as_ref(),
            "--public-key".as_ref(),
            file.as_os_str(),
        ])
        .refused(needle);
    }
    assert_eq!(db.list_json(), before);
}

/// A P-256 public key made by openssl at test time, when openssl is there.
fn openssl_ec_key(dir: &Path) -> Option<std::path::PathBuf> {
    let out = dir.join("ec-generated.pub.pem");
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(
            "openssl ecparam -name prime256v1 -genkey -noout | openssl ec -pubout -out \"$1\" 2>/dev/null",
        )
        .arg("sh")
        .arg(&out)
        .status()
        .ok()?;
    (status.success() && out.exists()).then_some(out)
}

#[test]
fn generate_key_writes_a_pair_for_delivery() {
    let db = TestDb::new();
    let prefix = db.path("acme");
    let key_id = db
        .payfac(&[
            "merchant".as_ref(),
            "add".as_ref(),
            "ACME".as_ref(),
            "--generate-key".as_ref(),
            prefix.as_os_str(),
        ])
        .one_line();
    assert_key_id(&key_id);
    let private = db.path("acme.key.pem");
    let public = db.path("acme.pub.pem");
    assert_eq!(first_line(&private), "-----BEGIN PRIVATE KEY-----");
    assert_eq!(first_line(&public), "-----BEGIN PUBLIC KEY-----");
    assert_eq!(mode(&private), 0o600);
    assert_eq!(
        db.list_json(),
        json!([{"id": "ACME", "status": "active", "keys": [key_id]}])
    );

    // The public half has that key id anywhere.
    let fresh = TestDb::new();
    assert_eq!(fresh.add_merchant("ELSEWHERE", &public), key_id);

    // And the private half signs what the public half verifies.
    let signed = db
        .payfac_plain(&[
            "sign".as_ref(),
            "--key".as_ref(),
            private.as_os_str(),
            "--timestamp".as_ref(),
            "1743478725".as_ref(),
            "--nonce".as_ref(),
            "a1b2c3".as_ref(),
        ])
        .one_line();
    let signed: Value = serde_json::from_str(&signed).unwrap();
    let verifier = payfac_signing::VerifyingKey::parse(&read(&public)).unwrap();
    assert_eq!(verifier.bits(), 2048);
    let signature = payfac_signing::decode_signature(signed["signature"].as_str().unwrap());
    assert!(verifier.verify(b"1743478725a1b2c3", &signature.unwrap()));
}

#[test]
fn generate_key_leaves_nothing_behind_when_refused() {
    let db = TestDb::new();
    db.add_merchant("ACME", &vector("merchant-test.pub.pem"));
    let before = db.list_json();
    // The merchant exists: no key files are left for a key nobody registered.
    db.payfac(&[
        "merchant".as_ref(),
        "add".as_ref(),
        "ACME".as_ref(),
        "--generate-key".as_ref(),
        db.path("second").as_os_str(),
    ])
    .refused("ACME");
    assert!(!db.path("second.key.pem").exists());
    assert!(!db.path("second.pub.pem").exists());
    // The files exist: they are not overwritten and nothing is registered.
    std::fs::write(db.path("taken.key.pem"), "keep me").unwrap();
    db.payfac(&[
        "merchant".as_ref(),
        "add".as_ref(),
        "NEW".as_ref(),
        "--generate-key".as_ref(),
        db.path("taken").as_os_str(),
    ])
    .refused("taken.key.pem");
    assert_eq!(read(&db.path("taken.key.pem")), "keep me");
    assert!(!db.path("taken.pub.pem").exists());
    assert_eq!(db.list_json(), before);
}

// ------------------------------------------------- key rotation and status

#[test]
fn key_rotation_status_and_list_reflect_every_change() {
    let db = TestDb::new();
    assert_eq!(db.list_json(), json!([]));
    assert_eq!(db.list_text(), vec![]);

    let first = db.add_merchant("M1", &vector("merchant-test.pub.pem"));
    let second = db
        .payfac(&[
            "merchant".as_ref(),
            "key".as_ref(),
            "add".as_ref(),
            "M1".as_ref(),
            "--public-key".as_ref(),
            fixture("rsa-4096.pub.pem").as_os_str(),
        ])
        .one_line();
    assert_key_id(&second);
    assert_ne!(first, second);
    assert_listed(&db, &[("M1", "active", &[&first, &second])]);

    // Unknown merchant or key id: refused, nothing changes.
    db.payfac(&[
        "merchant".as_ref(),
        "key".as_ref(),
        "add".as_ref(),
        "NOPE".as_ref(),
        "--public-key".as_ref(),
        vector("merchant-test.pub.b64").as_os_str(),
    ])
    .refused("NOPE");
    db.payfac(&["merchant", "key", "remove", "NOPE", &first])
        .refused("NOPE");
    db.payfac(&["merchant", "key", "remove", "M1", "0123456789abcdef"])
        .refused("0123456789abcdef");
    assert_listed(&db, &[("M1", "active", &[&first, &second])]);

    // Removal.
    let removed = db.payfac(&["merchant", "key", "remove", "M1", &first]);
    assert_eq!(removed.code, 0, "{removed:#?}");
    assert_listed(&db, &[("M1", "active", &[&second])]);
    db.payfac(&["merchant", "key", "remove", "M1", &first])
        .refused(&first);

    // A second merchant, disable and enable.
    let other = db.add_merchant("M2", &vector("merchant-test.pub.b64"));
    assert_eq!(other, first, "a removed key may be registered again");
    assert_ok(&db.payfac(&["merchant", "disable", "M1"]));
    assert_listed(
        &db,
        &[("M1", "disabled", &[&second]), ("M2", "active", &[&other])],
    );
    assert_ok(&db.payfac(&["merchant", "disable", "M2"]));
    assert_ok(&db.payfac(&["merchant", "enable", "M1"]));
    assert_listed(
        &db,
        &[("M1", "active", &[&second]), ("M2", "disabled", &[&other])],
    );
    db.payfac(&["merchant", "disable", "NOPE"]).refused("NOPE");
    db.payfac(&["merchant", "enable", "NOPE"]).refused("NOPE");
    db.payfac(&["merchant", "disable", "bad id!"])
        .refused("merchant id");
}

/// The first line of a file, whatever its line endings (the PEM writer
/// uses CRLF).
fn first_line(path: &Path) -> String {
    read(path).lines().next().unwrap_or_default().to_owned()
}

#[track_caller]
fn assert_ok(output: &Output) {
    assert_eq!(output.code, 0, "{output:#?}");
    assert_eq!(output.stderr, "", "{output:#?}");
}

/// Both `list --json` and the text `list` show exactly these merchants.
#[track_caller]
fn assert_listed(db: &TestDb, expected: &[(&str, &str, &[&String])]) {
    let json_rows: Vec<Value> = expected
        .iter()
        .map(|(id, status, keys)| json!({"id": id, "status": status, "keys": keys}))
        .collect();
    let mut listed = db.list_json();
    for row in listed.as_array_mut().unwrap() {
        let keys = row["keys"].as_array_mut().unwrap();
        keys.sort_by_key(|k| k.as_str().unwrap_or_default().to_owned());
    }
    let mut want = Value::Array(json_rows);
    for row in want.as_array_mut().unwrap() {
        let keys = row["keys"].as_array_mut().unwrap();
        keys.sort_by_key(|k| k.as_str().unwrap_or_default().to_owned());
    }
    assert_eq!(listed, want);

    let mut text = db.list_text();
    for (_, _, keys) in &mut text {
        keys.sort();
    }
    let want_text: Vec<(String, String, Vec<String>)> = expected
        .iter()
        .map(|(id, status, keys)| {
            let mut keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
            keys.sort();
            (id.to_string(), status.to_string(), keys)
        })
        .collect();
    assert_eq!(text, want_text);
}

// ---------------------------------------------------------------------- keygen

#[test]
fn keygen_writes_a_pair_and_never_overwrites() {
    let db = TestDb::new();
    for (prefix, bits) in [
        ("k2048", None),
        ("k3072", Some("3072")),
        ("k4096", Some("4096")),
    ] {
        let mut args = vec!["keygen", "--out", prefix];
        if let Some(bits) = bits {
            args.extend(["--bits", bits]);
        }
        let output = db.payfac_plain(&args);
        assert_eq!(output.code, 0, "{output:#?}");
        let private = db.path(&format!("{prefix}.key.pem"));
        let public = db.path(&format!("{prefix}.pub.pem"));
        assert_eq!(first_line(&private), "-----BEGIN PRIVATE KEY-----");
        assert_eq!(first_line(&public), "-----BEGIN PUBLIC KEY-----");
        assert_eq!(mode(&private), 0o600, "{prefix}");
        let key = payfac_signing::VerifyingKey::parse(&read(&public)).unwrap();
        assert_eq!(key.bits(), bits.unwrap_or("2048").parse::<usize>().unwrap());
        payfac_signing::SigningKey::from_pem(&read(&private)).expect("a usable private key");
    }

    // Never overwrites, whichever of the two files exists.
    let before = read(&db.path("k2048.key.pem"));
    db.payfac_plain(&["keygen", "--out", "k2048"])
        .refused("k2048");
    assert_eq!(read(&db.path("k2048.key.pem")), before);
    std::fs::write(db.path("half.pub.pem"), "keep me").unwrap();
    db.payfac_plain(&["keygen", "--out", "half"])
        .refused("half");
    assert!(!db.path("half.key.pem").exists());
    assert_eq!(read(&db.path("half.pub.pem")), "keep me");

    // Sizes outside 2048/3072/4096 are refused and write nothing.
    for bits in ["1024", "8192", "2047"] {
        db.payfac_plain(&["keygen", "--out", "small", "--bits", bits])
            .refused(bits);
    }
    assert!(!db.path("small.key.pem").exists());
    assert!(!db.path("small.pub.pem").exists());
}

// ------------------------------------------------------------------------ sign

#[test]
fn sign_reproduces_every_signature_vector() {
    let dir = TestDb::new();
    let vectors: Value =
        serde_json::from_str(&read(&vector("signature-vectors.json"))).expect("vectors JSON");
    let key = vector(vectors["privateKey"].as_str().unwrap());
    let cases = vectors["cases"].as_array().unwrap();
    assert!(cases.len() >= 6, "all vectors are present");
    let mut saw_empty_body = false;
    for (index, case) in cases.iter().enumerate() {
        let name = case["name"].as_str().unwrap();
        let query = case["rawQuery"].as_str().unwrap();
        let body = case["body"].as_str().unwrap();
        let mut args: Vec<std::ffi::OsString> = vec![
            "sign".into(),
            "--key".into(),
            key.clone().into(),
            "--timestamp".into(),
            case["timestamp"].as_str().unwrap().into(),
            "--nonce".into(),
            case["nonce"].as_str().unwrap().into(),
        ];
        if !query.is_empty() {
            args.extend(["--query".into(), query.into()]);
        }
        let mut runs = vec![args.clone()];
        if body.is_empty() {
            saw_empty_body = true;
            // Also with an explicitly empty body file.
            let file = dir.path(&format!("body-{index}"));
            std::fs::write(&file, b"").unwrap();
            let mut with_file = args;
            with_file.extend(["--body-file".into(), file.into()]);
            runs.push(with_file);
        } else {
            let file = dir.path(&format!("body-{index}"));
            std::fs::write(&file, body.as_bytes()).unwrap();
            runs[0].extend(["--body-file".into(), file.into()]);
        }
        for args in runs {
            let line = dir.payfac_plain(&args).one_line();
            let printed: Value = serde_json::from_str(&line).expect("one JSON object");
            let object = printed.as_object().expect("a JSON object");
            assert_eq!(object.len(), 2, "{name}: {line}");
            assert_eq!(
                printed["signatureString"], case["signatureString"],
                "{name}"
            );
            assert_eq!(printed["signature"], case["signature"], "{name}");
        }
    }
    assert!(saw_empty_body, "the vectors include an empty body");
}

#[test]
fn sign_refuses_a_public_key_and_a_missing_body_file() {
    let dir = TestDb::new();
    let base = [
        "sign",
        "--timestamp",
        "1743478725",
        "--nonce",
        "a1b2c3",
        "--key",
    ];
    let public = vector("merchant-test.pub.pem");
    let mut args: Vec<&std::ffi::OsStr> = base.iter().map(|s| s.as_ref()).collect();
    args.push(public.as_os_str());
    dir.payfac_plain(&args).refused("private key");

    let private = vector("merchant-test.key.pem");
    let mut args: Vec<&std::ffi::OsStr> = base.iter().map(|s| s.as_ref()).collect();
    args.extend([
        private.as_os_str(),
        "--body-file".as_ref(),
        "no-such-body.json".as_ref(),
    ]);
    dir.payfac_plain(&args).refused("no-such-body.json");
}

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

#[test]
fn serve_demo_prints_a_call_that_works() {
    let db = TestDb::new();
    let server = Server::start(db.dir.path(), &db.url, &["--demo", "--insecure-cookies"]);
    let key = db.path("demo-merchant/demo.key.pem");
    assert_eq!(first_line(&key), "-----BEGIN PRIVATE KEY-----");
    assert_eq!(mode(&key), 0o600);

    // The printed call, read once the service has printed it.
    let start = Instant::now();
    let printed = loop {
        let stdout = server.stdout();
        if stdout.contains("--merchant-user-no") || start.elapsed() > Duration::from_secs(10) {
            break stdout;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
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

// ------------------------------------------------------------------------ help

#[test]
fn every_command_explains_itself() {
    let dir = TestDb::new();
    let commands: &[&[&str]] = &[
        &[],
        &["serve"],
        &["merchant"],
        &["merchant", "add"],
        &["merchant", "key"],
        &["merchant", "key", "add"],
        &["merchant", "key", "remove"],
        &["merchant", "disable"],
        &["merchant", "enable"],
        &["merchant", "list"],
        &["keygen"],
        &["sign"],
        &["user-sync"],
    ];
    for command in commands {
        let mut args = command.to_vec();
        args.push("--help");
        let output = dir.payfac_plain(&args);
        assert_eq!(output.code, 0, "{args:?}: {output:#?}");
        assert!(output.stdout.contains("Usage: payfac"), "{args:?}");
    }
    let version = dir.payfac_plain(&["--version"]);
    assert_eq!(version.code, 0);
    assert!(version.stdout.starts_with("payfac "));
}

#[test]
fn usage_errors_are_one_line_too() {
    let dir = TestDb::new();
    let cases: &[&[&str]] = &[
        &["merchant", "add", "X"],
        &[
            "merchant",
            "add",
            "X",
            "--public-key",
            "a",
            "--generate-key",
            "b",
        ],
        &["keygen", "--out", "k", "--bits", "many"],
        &["sign", "--key", "k.pem"],
        &["no-such-command"],
    ];
    for args in cases {
        let output = dir.payfac_plain(args);
        assert_eq!(output.code, 2, "{args:?}: {output:#?}");
        output.refused("");
    }
}

// ------------------------------------------------------- gateway and identity

#[test]
fn a_bad_upstream_url_is_refused_in_one_line() {
    let db = TestDb::new();
    for (url, needle) in [
        ("shop:3000", "must start with http://"),
        ("https://shop.example", "only http://"),
        ("http://shop.example/app", "without a path"),
        ("http://", "not a URL"),
    ] {
        db.payfac(&["serve", "--upstream", url]).refused(needle);
    }
}

#[test]
fn identity_key_rotate_adds_a_key_every_instance_publishes() {
    let db = TestDb::new();
    let server = Server::start(db.dir.path(), &db.url, &[]);
    let jwks = |server: &Server| -> Vec<String> {
        let (status, response) =
            http(server.port, "GET", "/.well-known/jwks.json", &[], b"").expect("JWKS");
        assert_eq!(status, 200);
        let set: Value = serde_json::from_str(body_of(&response)).unwrap();
        set["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|key| key["kid"].as_str().unwrap().to_owned())
            .collect()
    };
    let first = jwks(&server);
    assert_eq!(first.len(), 1);

    let output = db.payfac(&["identity-key", "rotate"]);
    assert_eq!(output.code, 0, "{output:#?}");
    let kid = output.one_line();
    assert_eq!(kid.len(), 43, "{kid}");
    assert!(!output.stderr.contains("PRIVATE"), "{output:#?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !jwks(&server).contains(&kid) {
        assert!(Instant::now() < deadline, "the rotated-in key is published");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        jwks(&server).contains(&first[0]),
        "the old key stays published"
    );
}
