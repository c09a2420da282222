//! `payfac serve --upstream` and `payfac identity-key`: the gateway's
//! settings and the identity keys every instance publishes.

use std::time::{Duration, Instant};

use crate::helpers::{Server, TestDb, body_of, http};
use serde_json::Value;

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

    // A leaked key is withdrawn at once: gone from the running instance's
    // JWK Set within its one-second reload.
    let revoked = db.payfac(&["identity-key", "revoke", &first[0]]);
    assert_eq!(revoked.code, 0, "{revoked:#?}");
    let answer: Value = serde_json::from_str(&revoked.one_line()).unwrap();
    assert_eq!(
        answer,
        serde_json::json!({"kid": first[0], "revoked": true, "replacedBy": null})
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while jwks(&server).contains(&first[0]) {
        assert!(Instant::now() < deadline, "the revoked key is withdrawn");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(jwks(&server), vec![kid.clone()]);
    db.payfac(&["identity-key", "revoke", &first[0]])
        .refused(&format!("no identity key {}", first[0]));

    // The last key is replaced in the same step by one that signs at once.
    let last = db.payfac(&["identity-key", "revoke", &kid]);
    let answer: Value = serde_json::from_str(&last.one_line()).unwrap();
    let replacement = answer["replacedBy"]
        .as_str()
        .expect("a replacement")
        .to_owned();
    assert_eq!(replacement.len(), 43);
    let deadline = Instant::now() + Duration::from_secs(10);
    while jwks(&server) != vec![replacement.clone()] {
        assert!(
            Instant::now() < deadline,
            "only the replacement is published"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
