//! The merchant client against a real payfac, and its retry rules against
//! a scripted HTTP server.

use std::sync::{Arc, Mutex};

use axum::http::HeaderMap;
use payfac_client::{ApiCode, ClientError, MerchantClient, UserSync};
use payfac_signing::{
    SigningKey, VerifyingKey, decode_signature, generate_key_pair, signature_string,
};
use payfac_store::StoredKey;
use payfac_test_support::app::TestApp;

fn keys() -> (SigningKey, VerifyingKey) {
    let pair = generate_key_pair(2048).unwrap();
    (
        SigningKey::from_pem(&pair.private_pem).unwrap(),
        VerifyingKey::parse(&pair.public_pem).unwrap(),
    )
}

fn buyer() -> UserSync {
    UserSync {
        merchant_user_no: "U1".into(),
        email: "a@example.com".into(),
        first_name: Some("Ann".into()),
        last_name: None,
    }
}

#[tokio::test]
async fn syncs_a_buyer_against_payfac() {
    let (key, public) = keys();
    let stored = StoredKey {
        key_id: public.key_id(),
        spki_der: public.spki_der().to_vec(),
    };
    let app = TestApp::builder().merchant("ACME", stored).start().await;
    let url = app.address.clone();

    let client = MerchantClient::new(&url, "ACME", key).unwrap();
    let first = client.sync_user(&buyer()).await.unwrap();
    let second = client.sync_user(&buyer()).await.unwrap();
    assert_eq!(first.user_id, second.user_id);
    assert_eq!(first.authorization_code.len(), 32);
    assert_ne!(first.authorization_code, second.authorization_code);

    let stranger = MerchantClient::new(&url, "NOBODY", keys().0).unwrap();
    match stranger.sync_user(&buyer()).await {
        Err(ClientError::Api { code, .. }) => assert_eq!(code, ApiCode::UrlParsing),
        other => panic!("expected 10001, got {other:?}"),
    }
}

/// Answers the scripted codes in order and records each request's nonce.
async fn scripted_server(
    codes: Vec<&'static str>,
    public: VerifyingKey,
) -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let script = Arc::new(Mutex::new(codes.into_iter()));
    let public = Arc::new(public);
    let recorded = seen.clone();
    let handler = move |headers: HeaderMap, body: axum::body::Bytes| {
        let (seen, script, public) = (recorded.clone(), script.clone(), public.clone());
        async move {
            let text = |name: &str| headers[name].to_str().unwrap().to_owned();
            let message = signature_string("", &text("timestamp"), &text("nonce"), &body);
            let signature = decode_signature(&text("signature")).unwrap();
            assert!(
                public.verify(&message, &signature),
                "every attempt is signed"
            );
            seen.lock().unwrap().push(text("nonce"));
            let code = script.lock().unwrap().next().unwrap_or("0000");
            let data = if code == "0000" {
                serde_json::json!({"userId": "1", "authorizationCode": "A".repeat(32)})
            } else {
                serde_json::Value::Null
            };
            axum::Json(
                serde_json::json!({"code": code, "msg": "scripted", "time": "2025-01-01 00:00:00", "data": data}),
            )
        }
    };
    let router = axum::Router::new().route("/pay-fac/M/v1/user", axum::routing::post(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, seen)
}

#[tokio::test]
async fn retries_10004_with_a_new_nonce_each_time() {
    let (key, public) = keys();
    let (url, seen) = scripted_server(vec!["10004", "10004", "0000"], public).await;
    let client = MerchantClient::new(&url, "M", key).unwrap();
    let issued = client.sync_user(&buyer()).await.unwrap();
    assert_eq!(issued.user_id, "1");
    let nonces = seen.lock().unwrap().clone();
    assert_eq!(nonces.len(), 3);
    assert_ne!(nonces[0], nonces[1]);
    assert_ne!(nonces[1], nonces[2]);
}

#[tokio::test]
async fn never_retries_other_errors() {
    for code in ["10001", "10002", "10003"] {
        let (key, public) = keys();
        let (url, seen) = scripted_server(vec![code], public).await;
        let client = MerchantClient::new(&url, "M", key).unwrap();
        let error = client.sync_user(&buyer()).await.unwrap_err();
        assert!(matches!(error, ClientError::Api { .. }), "{error:?}");
        assert_eq!(seen.lock().unwrap().len(), 1, "{code} is not retried");
    }
}

#[tokio::test]
async fn gives_up_after_the_configured_attempts() {
    let (key, public) = keys();
    let (url, seen) = scripted_server(vec!["10004"; 5], public).await;
    let client = MerchantClient::new(&url, "M", key)
        .unwrap()
        .with_attempts(2);
    match client.sync_user(&buyer()).await {
        Err(ClientError::Api { code, .. }) => assert_eq!(code, ApiCode::Server),
        other => panic!("expected 10004, got {other:?}"),
    }
    assert_eq!(seen.lock().unwrap().len(), 2);
}
