//! docs/PROTOCOL.md §3 and §7, 10002: body size, content type, JSON and field rules.

use serde_json::json;

use crate::helpers::{Call, spawn_app};

async fn assert_body_refused(body: &[u8], why: &str) {
    let app = spawn_app().await;
    let mut call = Call::new("");
    call.body = body.to_vec();
    let answer = app.send(&call).await;
    assert_eq!(
        (answer.status, answer.code()),
        (400, "10002"),
        "{why}: {}",
        answer.json
    );
    assert!(
        answer.json["msg"]
            .as_str()
            .unwrap()
            .starts_with("JSON parsing error."),
        "{why}"
    );
    assert!(answer.json["data"].is_null());
    assert_eq!(
        app.count("buyers") + app.count("nonces") + app.count("codes"),
        0,
        "{why}"
    );
}

#[tokio::test]
async fn bodies_that_are_not_a_json_object_are_refused() {
    for (body, why) in [
        (&b""[..], "empty"),
        (b"not json", "garbage"),
        (b"[]", "array"),
        (b"null", "null"),
        (b"\"text\"", "string"),
        (b"42", "number"),
        (
            b"{\"merchantUserNo\":\"U1\",\"email\":\"a@example.com\"",
            "truncated",
        ),
        (
            b"{\"merchantUserNo\":\"U\xff\",\"email\":\"a@example.com\"}",
            "invalid UTF-8",
        ),
    ] {
        assert_body_refused(body, why).await;
    }
}

#[tokio::test]
async fn missing_and_mistyped_fields_are_refused() {
    let cases = [
        (json!({"email": "a@example.com"}), "merchantUserNo missing"),
        (json!({"merchantUserNo": "U1"}), "email missing"),
        (
            json!({"merchantUserNo": null, "email": "a@example.com"}),
            "merchantUserNo null",
        ),
        (
            json!({"merchantUserNo": 7, "email": "a@example.com"}),
            "merchantUserNo number",
        ),
        (
            json!({"merchantUserNo": "U1", "email": ["a@example.com"]}),
            "email array",
        ),
        (
            json!({"merchantUserNo": "U1", "email": "a@example.com", "firstName": 1}),
            "firstName number",
        ),
        (
            json!({"merchantUserNo": "U1", "email": "a@example.com", "lastName": {}}),
            "lastName object",
        ),
    ];
    for (body, why) in cases {
        assert_body_refused(body.to_string().as_bytes(), why).await;
    }
}

#[tokio::test]
async fn invalid_values_are_refused() {
    let long_email = format!("{}@example.com", "a".repeat(250));
    let cases = [
        (
            json!({"merchantUserNo": "", "email": "a@example.com"}),
            "empty merchantUserNo",
        ),
        (
            json!({"merchantUserNo": "x".repeat(65), "email": "a@example.com"}),
            "long merchantUserNo",
        ),
        (
            json!({"merchantUserNo": "U\u{1}", "email": "a@example.com"}),
            "control char",
        ),
        (
            json!({"merchantUserNo": "U1", "email": "not-an-email"}),
            "invalid email",
        ),
        (
            json!({"merchantUserNo": "U1", "email": long_email}),
            "email over 254",
        ),
        (
            json!({"merchantUserNo": "U1", "email": "a@example.com", "firstName": "x".repeat(65)}),
            "long firstName",
        ),
        (
            json!({"merchantUserNo": "U1", "email": "a@example.com", "lastName": "x".repeat(65)}),
            "long lastName",
        ),
        (
            json!({"merchantUserNo": "U1", "email": "a@example.com", "firstName": "a\nb"}),
            "newline in name",
        ),
    ];
    for (body, why) in cases {
        assert_body_refused(body.to_string().as_bytes(), why).await;
    }
}

#[tokio::test]
async fn the_detail_names_the_field() {
    let app = spawn_app().await;
    let answer = app.send(&Call::buyer("U1", "nope")).await;
    let msg = answer.json["msg"].as_str().unwrap();
    assert!(msg.contains("email"), "{msg}");
}

#[tokio::test]
async fn limits_are_inclusive() {
    let app = spawn_app().await;
    let body = json!({"merchantUserNo": "ü".repeat(64), "email": "a@example.com",
                      "firstName": "x".repeat(64), "lastName": "y".repeat(64)});
    assert_eq!(app.send(&Call::new(&body.to_string())).await.code(), "0000");
}

#[tokio::test]
async fn wrong_content_type_is_refused_after_the_signature() {
    let app = spawn_app().await;
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("application/json; charset=latin1"),
    ] {
        let mut call = Call::buyer("U1", "a@example.com");
        call.content_type = content_type.map(str::to_owned);
        let answer = app.send(&call).await;
        assert_eq!(
            (answer.status, answer.code()),
            (400, "10002"),
            "{content_type:?}"
        );
    }
    for content_type in [
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/json;charset=UTF-8",
    ] {
        let mut call = Call::buyer("U1", "a@example.com");
        call.content_type = Some(content_type.into());
        assert_eq!(app.send(&call).await.code(), "0000", "{content_type}");
    }
    // Signature errors win over content-type errors.
    let mut both = Call::buyer("U1", "a@example.com");
    both.content_type = Some("text/plain".into());
    both.signature = Some("AAAA".into());
    assert_eq!(app.send(&both).await.code(), "10003");
}

#[tokio::test]
async fn a_body_over_64_kib_is_413_with_the_envelope() {
    let app = spawn_app().await;
    let padding = "x".repeat(64 * 1024);
    let call = Call::new(&format!(
        "{{\"merchantUserNo\":\"U1\",\"email\":\"a@example.com\",\"p\":\"{padding}\"}}"
    ));
    let answer = app.send(&call).await;
    assert_eq!((answer.status, answer.code()), (413, "10002"));
    assert!(
        answer.json["msg"]
            .as_str()
            .unwrap()
            .starts_with("JSON parsing error.")
    );
    assert_eq!(app.count("nonces"), 0);
}

#[tokio::test]
async fn a_body_of_exactly_64_kib_is_read() {
    let app = spawn_app().await;
    let head = "{\"merchantUserNo\":\"U1\",\"email\":\"a@example.com\",\"p\":\"";
    let padding = "x".repeat(64 * 1024 - head.len() - 2);
    let call = Call::new(&format!("{head}{padding}\"}}"));
    assert_eq!(call.body.len(), 64 * 1024);
    assert_eq!(app.send(&call).await.code(), "0000");
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_413() {
    let app = spawn_app().await;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..100).map(|_| Ok(vec![b' '; 1024])).collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let call = Call::buyer("U1", "a@example.com");
    let response = app
        .http
        .post(app.user_url(&call))
        .header("content-type", "application/json")
        .header("timestamp", &call.timestamp)
        .header("nonce", &call.nonce)
        .header("signature", call.sign_with(&app.key))
        .body(body)
        .send()
        .await
        .unwrap();
    let answer = crate::helpers::answer(response).await;
    assert_eq!((answer.status, answer.code()), (413, "10002"));
}

#[tokio::test]
async fn body_size_is_checked_before_the_signature() {
    let app = spawn_app().await;
    let mut call = Call::new(&"x".repeat(70_000));
    call.omit = vec!["signature"];
    let answer = app.send(&call).await;
    assert_eq!((answer.status, answer.code()), (413, "10002"));
}

/// Issue #19: a query string over 4096 bytes or 64 parameters is refused
/// (414, 10002) before it is decoded and sorted into the signature
/// string, even when correctly signed; one at both limits is accepted.
#[tokio::test]
async fn queries_over_the_size_limits_are_refused_before_the_signature() {
    let app = spawn_app().await;
    let params = |count: usize, value_len: usize| -> String {
        (0..count)
            .map(|i| format!("p{i:02}={}", "v".repeat(value_len)))
            .collect::<Vec<_>>()
            .join("&")
    };
    let at_limit = {
        // 64 parameters, padded to exactly 4096 bytes.
        let mut query = params(64, 1);
        let pad = payfac_server::api::QUERY_BYTES_LIMIT - query.len();
        query.push_str(&"v".repeat(pad));
        query
    };
    assert_eq!(at_limit.len(), payfac_server::api::QUERY_BYTES_LIMIT);
    let mut call = Call::buyer("U1", "u1@example.com");
    call.query = at_limit.clone();
    let accepted = app.send(&call).await;
    assert_eq!(accepted.code(), "0000", "{}", accepted.json);

    for (query, why) in [
        (format!("{at_limit}v"), "4097 bytes"),
        (params(65, 1), "65 parameters"),
        (params(1_000, 0), "1,000 parameters"),
    ] {
        let mut call = Call::buyer("U2", "u2@example.com");
        call.query = query;
        let answer = app.send(&call).await;
        assert_eq!(
            (answer.status, answer.code()),
            (414, "10002"),
            "{why}: {}",
            answer.json
        );
        assert!(
            answer.json["msg"]
                .as_str()
                .unwrap()
                .contains("4096 bytes or 64 parameters"),
            "{why}"
        );
    }
    assert_eq!(app.count("nonces"), 1);
}
