//! docs/PROTOCOL.md §7: the buyer upsert, userId and the authorization code.

use payfac_domain::{AuthorizationCode, SecretHash, SessionToken};
use serde_json::json;

use crate::helpers::{Call, spawn_app};

#[tokio::test]
async fn a_valid_call_answers_0000_with_user_id_and_code() {
    let app = spawn_app().await;
    let answer = app
        .send(&Call::buyer("U1000001", "john.doe@example.com"))
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.code(), "0000");
    assert_eq!(answer.json["msg"], "Success");
    assert!(
        answer.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert!(answer.json.get("debug").is_none());
    let user_id: i64 = answer.user_id().parse().unwrap();
    assert!(user_id > 0);
    let code = answer.code_value();
    assert_eq!(code.len(), 32);
    assert!(code.bytes().all(|b| b.is_ascii_alphanumeric()));
    let time = answer.json["time"].as_str().unwrap();
    assert_eq!(time.len(), 19, "yyyy-MM-dd HH:mm:ss: {time}");
    assert_eq!(&time[4..5], "-");
    assert_eq!(&time[10..11], " ");
    assert_eq!(&time[13..14], ":");
}

#[tokio::test]
async fn the_seed_example_body_is_accepted_as_formatted() {
    let app = spawn_app().await;
    let body = "{\n  \"merchantUserNo\": \"U1000001\",\n  \"email\": \"john.doe@example.com\",\n  \"firstName\": \"John\",\n  \"lastName\": \"Doe\"\n}";
    let answer = app.send(&Call::new(body)).await;
    assert_eq!(answer.code(), "0000", "{}", answer.json);
}

#[tokio::test]
async fn user_id_is_stable_and_each_call_issues_a_new_code() {
    let app = spawn_app().await;
    let first = app.send(&Call::buyer("U1", "a@example.com")).await;
    let second = app.send(&Call::buyer("U1", "b@example.com")).await;
    assert_eq!(first.user_id(), second.user_id());
    assert_ne!(first.code_value(), second.code_value());
    let other = app.send(&Call::buyer("U2", "a@example.com")).await;
    assert_ne!(first.user_id(), other.user_id());
    assert_eq!(app.count("buyers"), 2);
    assert_eq!(app.count("codes"), 3);
}

#[tokio::test]
async fn merchant_user_no_is_case_sensitive() {
    let app = spawn_app().await;
    let lower = app.send(&Call::buyer("abc", "a@example.com")).await;
    let upper = app.send(&Call::buyer("ABC", "a@example.com")).await;
    assert_ne!(lower.user_id(), upper.user_id());
}

#[tokio::test]
async fn later_calls_update_only_the_fields_they_carry() {
    let app = spawn_app().await;
    let create = json!({"merchantUserNo": "U9", "email": "old@example.com",
                        "firstName": "John", "lastName": "Doe"});
    app.send(&Call::new(&create.to_string())).await;
    let update = json!({"merchantUserNo": "U9", "email": "new@example.com",
                        "firstName": null});
    assert_eq!(
        app.send(&Call::new(&update.to_string())).await.code(),
        "0000"
    );
    let rename = json!({"merchantUserNo": "U9", "email": "new@example.com", "lastName": "Roe"});
    assert_eq!(
        app.send(&Call::new(&rename.to_string())).await.code(),
        "0000"
    );

    let connection = rusqlite::Connection::open(&app.db_path).unwrap();
    let row: (String, Option<String>, Option<String>) = connection
        .query_row(
            "SELECT email, first_name, last_name FROM buyers WHERE merchant_user_no = 'U9'",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        row,
        (
            "new@example.com".into(),
            Some("John".into()),
            Some("Roe".into())
        )
    );
}

#[tokio::test]
async fn unknown_fields_are_ignored() {
    let app = spawn_app().await;
    let body = json!({"merchantUserNo": "U1", "email": "a@example.com", "extra": [1, 2]});
    assert_eq!(app.send(&Call::new(&body.to_string())).await.code(), "0000");
}

#[tokio::test]
async fn storage_keeps_only_the_hash_of_the_code_secret() {
    let app = spawn_app().await;
    let answer = app.send(&Call::buyer("U1", "a@example.com")).await;
    let text = answer.code_value();
    let code = AuthorizationCode::parse(&text).unwrap();
    let connection = rusqlite::Connection::open(&app.db_path).unwrap();
    let (stored_hash, ttl): (Vec<u8>, i64) = connection
        .query_row(
            "SELECT secret_hash, expires_at - strftime('%s', 'now') FROM codes WHERE id = ?1",
            [code.id(&app.ids().await).unwrap().0],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!(stored_hash, code.secret_hash().0.to_vec());
    assert_ne!(stored_hash, SecretHash::of(&text).0.to_vec());
    assert!((295..=300).contains(&ttl), "default TTL 300 s, got {ttl}");
    // Sign the buyer in, so a session exists too.
    let signed_in = app
        .get(&format!("/account?authorizationCode={text}"), None)
        .await;
    let cookie = crate::helpers::session_set_by(&signed_in).expect("signed in");
    let session = SessionToken::parse(&cookie).unwrap();
    // Neither secret appears in the database file or its WAL, where a
    // fresh commit sits until the next checkpoint; the hashes do, which
    // shows the bytes read hold the rows.
    let stored = database_bytes(&app.db_path);
    let contains = |needle: &[u8]| stored.windows(needle.len()).any(|w| w == needle);
    assert!(contains(&code.secret_hash().0), "the code's row was read");
    assert!(
        contains(&session.secret_hash().0),
        "the session's row was read"
    );
    for secret in [&text[10..], &cookie[10..]] {
        assert!(!contains(secret.as_bytes()), "a secret is stored in clear");
    }
}

/// The database file and its `-wal` file, one after the other.
fn database_bytes(path: &std::path::Path) -> Vec<u8> {
    let mut bytes = std::fs::read(path).unwrap();
    let wal = std::path::PathBuf::from(format!("{}-wal", path.display()));
    bytes.extend(std::fs::read(wal).unwrap_or_default());
    bytes
}

#[tokio::test]
async fn code_ttl_is_configurable() {
    let app = crate::helpers::spawn_app_with(|config| config.code_ttl_secs = 60).await;
    let answer = app.send(&Call::buyer("U1", "a@example.com")).await;
    let code = AuthorizationCode::parse(&answer.code_value()).unwrap();
    let connection = rusqlite::Connection::open(&app.db_path).unwrap();
    let ttl: i64 = connection
        .query_row(
            "SELECT expires_at - strftime('%s', 'now') FROM codes WHERE id = ?1",
            [code.id(&app.ids().await).unwrap().0],
            |row| row.get(0),
        )
        .unwrap();
    assert!((55..=60).contains(&ttl), "got {ttl}");
}

#[tokio::test]
async fn buyers_are_namespaced_per_merchant() {
    let app = spawn_app().await;
    let other_key = app.add_merchant("OTHER").await;
    let ours = app.send(&Call::buyer("U1", "a@example.com")).await;
    let mut call = Call::buyer("U1", "a@example.com");
    call.merchant = "OTHER".into();
    call.signature = Some(call.sign_with(&other_key));
    let theirs = crate::helpers::eventually(std::time::Duration::from_secs(5), || {
        let mut call = call.clone();
        let app = &app;
        let key = &other_key;
        async move {
            call.nonce = payfac_domain::random_alphanumeric(12);
            call.signature = Some(call.sign_with(key));
            app.send(&call).await.code() == "0000"
        }
    })
    .await;
    assert!(theirs, "the new merchant is served within 5 s");
    let connection = rusqlite::Connection::open(&app.db_path).unwrap();
    let ids: Vec<i64> = connection
        .prepare("SELECT user_id FROM buyers WHERE merchant_user_no = 'U1' ORDER BY merchant_id")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1]);
    assert!(ids.contains(&ours.user_id().parse().unwrap()));
}

/// Sends `call` (signed with the app's key) with its body in two halves;
/// `between` runs once the handler waits for the body, and before the
/// second half. The request asks `Expect: 100-continue`, which the server
/// answers when the handler first reads the body, after its early checks
/// (route, merchant): that answer is what the test waits for.
async fn send_in_two_halves(
    app: &crate::helpers::TestApp,
    call: &Call,
    between: impl std::future::Future<Output = ()>,
) -> crate::helpers::Answer {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
    let address = app.address.trim_start_matches("http://");
    let mut stream =
        tokio::io::BufReader::new(tokio::net::TcpStream::connect(address).await.unwrap());
    let path = app.user_url(call).replacen(&app.address, "", 1);
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\
         timestamp: {}\r\nnonce: {}\r\nsignature: {}\r\n\r\n",
        call.body.len(),
        call.timestamp,
        call.nonce,
        call.sign_with(&app.key),
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut interim = String::new();
    while !interim.ends_with("\r\n\r\n") {
        assert_ne!(
            stream.read_line(&mut interim).await.unwrap(),
            0,
            "closed: {interim}"
        );
    }
    assert!(
        interim.starts_with("HTTP/1.1 100 "),
        "the handler reads the body: {interim}"
    );
    let (first, second) = call.body.split_at(call.body.len() / 2);
    stream.write_all(first).await.unwrap();
    between.await;
    stream.write_all(second).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("a whole response");
    crate::helpers::Answer {
        status: head.split_whitespace().nth(1).unwrap().parse().unwrap(),
        headers: Default::default(),
        json: serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {response}")),
    }
}

/// What the app now makes of the merchant, by a probe signed with its
/// key whose body is not JSON (it stores nothing): 10001 while it sees
/// the merchant disabled, 10003 once it no longer has the key, and 10002
/// while both are live.
async fn merchant_as_seen(app: &crate::helpers::TestApp) -> String {
    let mut probe = Call::new("not json");
    probe.nonce = payfac_domain::random_alphanumeric(16);
    app.send(&probe).await.code().to_owned()
}

/// Waits until the app's merchant cache (refreshed every 50 ms here)
/// shows what the store says: `merchant_as_seen` answers `code`.
async fn until_seen(app: &crate::helpers::TestApp, code: &str) {
    let seen = crate::helpers::eventually(std::time::Duration::from_secs(5), || async {
        merchant_as_seen(app).await == code
    })
    .await;
    assert!(seen, "the app never answered the probe with {code}");
}

/// Issue #19: a request whose body was still arriving when its merchant
/// was disabled is answered like any call for a disabled merchant
/// (10001), not 0000; and one whose key was removed meanwhile is 10003.
#[tokio::test]
async fn a_merchant_disabled_or_key_removed_while_the_body_arrives_is_honoured() {
    use payfac_domain::{MerchantId, MerchantStatus};
    let app = crate::helpers::spawn_app_with(|config| {
        config.merchant_refresh = std::time::Duration::from_millis(50);
    })
    .await;
    let merchant = MerchantId::parse(crate::helpers::MERCHANT).unwrap();
    until_seen(&app, "10002").await;

    let disabled = send_in_two_halves(&app, &Call::buyer("U1", "u1@example.com"), async {
        app.store
            .set_status(&merchant, MerchantStatus::Disabled)
            .await
            .unwrap();
        until_seen(&app, "10001").await;
    })
    .await;
    assert_eq!(
        (disabled.status, disabled.code()),
        (404, "10001"),
        "{}",
        disabled.json
    );

    app.store
        .set_status(&merchant, MerchantStatus::Active)
        .await
        .unwrap();
    until_seen(&app, "10002").await;
    let (_, public) = crate::helpers::vector_keys();
    let removed = send_in_two_halves(&app, &Call::buyer("U2", "u2@example.com"), async {
        app.store
            .remove_key(&merchant, &public.key_id())
            .await
            .unwrap();
        until_seen(&app, "10003").await;
    })
    .await;
    assert_eq!(
        (removed.status, removed.code()),
        (401, "10003"),
        "{}",
        removed.json
    );
    assert_eq!(app.count("buyers"), 0);
}
