//! docs/PROTOCOL.md §2 to §5, 10003: signing headers, window, signature, replay, and
//! sandbox diagnostics.

use crate::helpers::{
    Call, TestApp, fresh_keys, now, spawn_app, spawn_app_with, stored, vector_keys,
};

async fn sandbox_app() -> TestApp {
    spawn_app_with(|config| config.sandbox = true).await
}

fn call() -> Call {
    Call::buyer("U1", "a@example.com")
}

async fn assert_rejected(app: &TestApp, call: &Call, reason: &str) {
    let answer = app.send(call).await;
    assert_eq!(
        (answer.status, answer.code()),
        (401, "10003"),
        "{}",
        answer.json
    );
    assert_eq!(answer.json["msg"], "Request signature error.");
    assert!(answer.json["data"].is_null());
    assert_eq!(answer.reason(), reason, "{}", answer.json);
}

#[tokio::test]
async fn each_missing_header_is_missing_header() {
    let app = sandbox_app().await;
    for header in ["timestamp", "nonce", "signature"] {
        let mut call = call();
        call.omit = vec![header];
        assert_rejected(&app, &call, "missing_header").await;
    }
}

#[tokio::test]
async fn malformed_timestamps_are_bad_timestamp() {
    let app = sandbox_app().await;
    let millis = (now() * 1000).to_string();
    for timestamp in [millis.as_str(), "abc", "-5", "1743478725.0", "17434787a5"] {
        let mut call = call();
        call.timestamp = timestamp.into();
        assert_rejected(&app, &call, "bad_timestamp").await;
    }
}

#[tokio::test]
async fn timestamps_outside_the_window_are_clock_skew() {
    let app = sandbox_app().await;
    for offset in [-400, 400] {
        let mut call = call();
        call.timestamp = (now() + offset).to_string();
        assert_rejected(&app, &call, "clock_skew").await;
    }
    let mut inside = call();
    inside.timestamp = (now() - 250).to_string();
    assert_eq!(app.send(&inside).await.code(), "0000");
}

#[tokio::test]
async fn the_window_is_configurable() {
    let app = spawn_app_with(|config| {
        config.sandbox = true;
        config.timestamp_window_secs = 30;
    })
    .await;
    let mut call = call();
    call.timestamp = (now() - 60).to_string();
    assert_rejected(&app, &call, "clock_skew").await;
}

#[tokio::test]
async fn malformed_nonces_are_bad_nonce() {
    let app = sandbox_app().await;
    let long = "a".repeat(33);
    for nonce in ["abc12", long.as_str(), "abc-123", "abc 123", "ÄÖÜäöü"] {
        let mut call = call();
        call.nonce = nonce.into();
        assert_rejected(&app, &call, "bad_nonce").await;
    }
}

#[tokio::test]
async fn undecodable_signatures_are_bad_signature_encoding() {
    let app = sandbox_app().await;
    for signature in ["***", "abc$", "-_-_-_", ""] {
        let mut call = call();
        call.signature = Some(signature.into());
        assert_rejected(&app, &call, "bad_signature_encoding").await;
    }
}

#[tokio::test]
async fn unpadded_base64_signatures_verify() {
    let app = spawn_app().await;
    let mut call = call();
    let padded = call.sign_with(&app.key);
    call.signature = Some(padded.trim_end_matches('=').to_owned());
    assert_eq!(app.send(&call).await.code(), "0000");
}

#[tokio::test]
async fn a_wrong_key_or_tampered_request_is_no_key_matched() {
    let app = sandbox_app().await;
    let (other, _) = fresh_keys();
    let mut wrong_key = call();
    wrong_key.signature = Some(wrong_key.sign_with(&other));
    assert_rejected(&app, &wrong_key, "no_key_matched").await;

    let mut tampered = call();
    tampered.signature = Some(tampered.sign_with(&app.key));
    tampered.body = br#"{"merchantUserNo":"U2","email":"a@example.com"}"#.to_vec();
    assert_rejected(&app, &tampered, "no_key_matched").await;

    let mut query_added = call();
    query_added.signature = Some(query_added.sign_with(&app.key));
    query_added.query = "a=1".into();
    assert_rejected(&app, &query_added, "no_key_matched").await;
    assert_eq!(app.count("nonces"), 0, "invalid requests burn no nonce");
}

#[tokio::test]
async fn the_query_is_part_of_the_signature_in_sorted_decoded_form() {
    let app = spawn_app().await;
    let mut call = call();
    call.query = "q=hello%20world&a=%E4%B8%AD&p=1+2&flag".into();
    assert_eq!(app.send(&call).await.code(), "0000");
}

#[tokio::test]
async fn sandbox_debug_shows_the_verified_string_and_server_time() {
    let app = sandbox_app().await;
    let (other, _) = fresh_keys();
    let mut call = call();
    call.query = "b=2&a=1".into();
    call.signature = Some(call.sign_with(&other));
    let answer = app.send(&call).await;
    let debug = &answer.json["debug"];
    assert_eq!(debug["reason"], "no_key_matched");
    let expected = format!(
        "a=1&b=2{}{}{}",
        call.timestamp,
        call.nonce,
        String::from_utf8_lossy(&call.body)
    );
    assert_eq!(debug["signatureString"], expected.as_str());
    let server_time = debug["serverTime"].as_i64().unwrap();
    assert!((server_time - now()).abs() <= 2);
}

/// Issue 29: a sandbox `no_key_matched` lists the merchant's active key
/// ids, so a signer can tell an unregistered key (its id is missing) from
/// a string built differently (its id is there); other reasons, which
/// never reached the keys, list none.
#[tokio::test]
async fn sandbox_no_key_matched_lists_the_active_key_ids() {
    let app = sandbox_app().await;
    let (_, first) = vector_keys();
    let (second_key, second) = fresh_keys();
    let id = payfac_domain::MerchantId::parse(crate::helpers::MERCHANT).unwrap();
    app.store.add_key(&id, stored(&second)).await.unwrap();
    let both_active = crate::helpers::eventually(std::time::Duration::from_secs(5), || async {
        let mut call = call();
        call.signature = Some(call.sign_with(&second_key));
        app.send(&call).await.code() == "0000"
    })
    .await;
    assert!(both_active, "second key active within 5 s");
    let mut expected = vec![first.key_id(), second.key_id()];
    expected.sort();

    let (unregistered, unregistered_public) = fresh_keys();
    let mut wrong_key = call();
    wrong_key.signature = Some(wrong_key.sign_with(&unregistered));
    let answer = app.send(&wrong_key).await;
    assert_eq!(answer.reason(), "no_key_matched", "{}", answer.json);
    assert_eq!(
        answer.json["debug"]["activeKeyIds"],
        serde_json::json!(expected)
    );
    assert!(
        !answer
            .json
            .to_string()
            .contains(&unregistered_public.key_id())
    );

    let mut tampered = call();
    tampered.signature = Some(tampered.sign_with(&app.key));
    tampered.body = br#"{"merchantUserNo":"U2","email":"a@example.com"}"#.to_vec();
    let answer = app.send(&tampered).await;
    assert_eq!(answer.reason(), "no_key_matched", "{}", answer.json);
    let listed = answer.json["debug"]["activeKeyIds"].as_array().unwrap();
    assert!(
        listed.contains(&serde_json::json!(first.key_id())),
        "{}",
        answer.json
    );

    let mut skewed = call();
    skewed.timestamp = (now() - 400).to_string();
    let answer = app.send(&skewed).await;
    assert_eq!(answer.reason(), "clock_skew", "{}", answer.json);
    assert!(
        answer.json["debug"].get("activeKeyIds").is_none(),
        "{}",
        answer.json
    );

    let mut unknown = call();
    unknown.merchant = "NOSUCHMERCHANT".into();
    let answer = app.send(&unknown).await;
    assert_eq!(answer.code(), "10001", "{}", answer.json);
    assert!(answer.json.get("debug").is_none(), "{}", answer.json);
}

/// A production service answers `no_key_matched` without `debug`, so
/// without the key ids either.
#[tokio::test]
async fn production_answers_list_no_key_ids() {
    let app = spawn_app().await;
    let (_, registered) = vector_keys();
    let (other, _) = fresh_keys();
    let mut wrong_key = call();
    wrong_key.signature = Some(wrong_key.sign_with(&other));
    let answer = app.send(&wrong_key).await;
    assert_eq!(
        (answer.status, answer.code()),
        (401, "10003"),
        "{}",
        answer.json
    );
    assert!(answer.json.get("debug").is_none(), "{}", answer.json);
    assert!(
        !answer.json.to_string().contains(&registered.key_id()),
        "{}",
        answer.json
    );
}

#[tokio::test]
async fn production_answers_never_carry_debug() {
    let app = spawn_app().await;
    let mut bad = call();
    bad.signature = Some("AAAA".into());
    let answer = app.send(&bad).await;
    assert_eq!(answer.code(), "10003");
    assert!(answer.json.get("debug").is_none(), "{}", answer.json);
}

#[tokio::test]
async fn a_replayed_request_is_nonce_reused() {
    let app = sandbox_app().await;
    let call = call();
    assert_eq!(app.send(&call).await.code(), "0000");
    assert_rejected(&app, &call, "nonce_reused").await;
    assert_eq!(app.count("codes"), 1, "the replay wrote nothing");
}

#[tokio::test]
async fn the_same_nonce_under_another_merchant_is_not_a_replay() {
    let app = spawn_app().await;
    let other_key = app.add_merchant("OTHER").await;
    let first = call();
    assert_eq!(app.send(&first).await.code(), "0000");
    let served = crate::helpers::eventually(std::time::Duration::from_secs(5), || {
        let mut second = first.clone();
        second.merchant = "OTHER".into();
        second.signature = Some(second.sign_with(&other_key));
        let app = &app;
        async move { app.send(&second).await.code() == "0000" }
    })
    .await;
    assert!(served);
}

#[tokio::test]
async fn a_failed_request_does_not_burn_its_nonce() {
    let app = sandbox_app().await;
    let good = call();
    let mut bad_signature = good.clone();
    bad_signature.signature = Some("AAAA".into());
    assert_rejected(&app, &bad_signature, "no_key_matched").await;
    let mut wrong_type = good.clone();
    wrong_type.content_type = Some("text/plain".into());
    assert_eq!(app.send(&wrong_type).await.code(), "10002");
    assert_eq!(app.send(&good).await.code(), "0000");
}

#[tokio::test]
async fn every_active_key_verifies_and_removed_keys_stop_within_5_s() {
    let app = sandbox_app().await;
    let id = payfac_domain::MerchantId::parse(crate::helpers::MERCHANT).unwrap();
    let (second_key, second_public) = fresh_keys();
    app.store
        .add_key(&id, crate::helpers::stored(&second_public))
        .await
        .unwrap();
    let signed_by_second = || {
        let mut call = call();
        call.signature = Some(call.sign_with(&second_key));
        call
    };
    let accepted = crate::helpers::eventually(std::time::Duration::from_secs(5), || async {
        app.send(&signed_by_second()).await.code() == "0000"
    })
    .await;
    assert!(accepted, "second key accepted within 5 s");
    assert_eq!(
        app.send(&call()).await.code(),
        "0000",
        "first key still works"
    );

    app.store
        .remove_key(&id, &second_public.key_id())
        .await
        .unwrap();
    let refused = crate::helpers::eventually(std::time::Duration::from_secs(5), || async {
        app.send(&signed_by_second()).await.reason() == "no_key_matched"
    })
    .await;
    assert!(refused, "removed key refused within 5 s");
}

#[tokio::test]
async fn signature_failures_are_counted_by_merchant_and_reason() {
    let app = spawn_app().await;
    let mut skewed = call();
    skewed.timestamp = (now() - 1000).to_string();
    app.send(&skewed).await;
    let metrics = app.metrics().await;
    assert!(
        crate::helpers::counted(
            &metrics,
            r#"payfac_signature_failures_total{merchant="MERCHANT001",reason="clock_skew"}"#
        ),
        "{metrics}"
    );
}
