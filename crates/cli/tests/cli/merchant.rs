//! `payfac merchant`: adding merchants, key formats, generated keys,
//! rotation, status and listing.

use std::path::Path;

use crate::helpers::{TestDb, assert_key_id, assert_ok, first_line, fixture, mode, read, vector};
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
    // `merchant list` refuses a database that does not exist yet.
    assert_eq!(db.payfac(&["migrate"]).code, 0);
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
    let removed: serde_json::Value = serde_json::from_str(&removed.stdout).unwrap();
    assert_eq!(
        removed,
        serde_json::json!({"id": "M1", "keyId": first, "removed": true})
    );
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
    // Every change command answers one line of JSON.
    let disabled = db.payfac(&["merchant", "disable", "M2"]);
    assert_ok(&disabled);
    let disabled: serde_json::Value = serde_json::from_str(&disabled.stdout).unwrap();
    assert_eq!(
        disabled,
        serde_json::json!({"id": "M2", "status": "disabled", "sessionsEnded": 0, "codesVoided": 0})
    );
    let enabled = db.payfac(&["merchant", "enable", "M1"]);
    assert_ok(&enabled);
    let enabled: serde_json::Value = serde_json::from_str(&enabled.stdout).unwrap();
    assert_eq!(enabled, serde_json::json!({"id": "M1", "status": "active"}));
    assert_listed(
        &db,
        &[("M1", "active", &[&second]), ("M2", "disabled", &[&other])],
    );
    db.payfac(&["merchant", "disable", "NOPE"]).refused("NOPE");
    db.payfac(&["merchant", "enable", "NOPE"]).refused("NOPE");
    db.payfac(&["merchant", "disable", "bad id!"])
        .refused("merchant id");
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
