//! `payfac keygen` and `payfac sign` (against the project's signature
//! vectors).

use crate::helpers::{TestDb, first_line, mode, read, vector};
use serde_json::Value;

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
