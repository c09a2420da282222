//! docs/PROTOCOL.md §3, 10001: route, merchant and version.

use payfac_domain::{MerchantId, MerchantStatus};

use crate::helpers::{Call, eventually, spawn_app};

#[tokio::test]
async fn unknown_merchant_is_10001_404() {
    let app = spawn_app().await;
    let mut call = Call::buyer("U1", "a@example.com");
    call.merchant = "NOBODY".into();
    let answer = app.send(&call).await;
    assert_eq!((answer.status, answer.code()), (404, "10001"));
    assert!(
        answer.json["msg"]
            .as_str()
            .unwrap()
            .starts_with("URL parsing error.")
    );
    assert!(answer.json["data"].is_null());
}

#[tokio::test]
async fn other_versions_are_10001_404() {
    let app = spawn_app().await;
    for version in ["v2", "V1", "v1.0", ""] {
        let mut call = Call::buyer("U1", "a@example.com");
        call.version = version.into();
        let answer = app.send(&call).await;
        assert_eq!(
            (answer.status, answer.code()),
            (404, "10001"),
            "{version:?}"
        );
    }
}

#[tokio::test]
async fn other_paths_under_pay_fac_are_10001_404() {
    let app = spawn_app().await;
    for path in [
        "/pay-fac",
        "/pay-fac/",
        "/pay-fac/MERCHANT001",
        "/pay-fac/MERCHANT001/v1",
        "/pay-fac/MERCHANT001/v1/users",
        "/pay-fac/MERCHANT001/v1/user/",
        "/pay-fac/MERCHANT001/v1/user/extra",
    ] {
        let response = app
            .http
            .post(format!("{}{path}", app.address))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        let answer = crate::helpers::answer(response).await;
        assert_eq!((answer.status, answer.code()), (404, "10001"), "{path}");
    }
}

#[tokio::test]
async fn wrong_method_is_10001_405() {
    let app = spawn_app().await;
    for method in [
        reqwest::Method::GET,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    ] {
        let answer = app
            .send_method(method.clone(), &Call::buyer("U1", "a@example.com"))
            .await;
        assert_eq!((answer.status, answer.code()), (405, "10001"), "{method}");
        assert_eq!(answer.headers["allow"], "POST");
    }
    assert_eq!(app.count("nonces"), 0);
}

#[tokio::test]
async fn a_disabled_merchant_is_refused_and_enabled_again_within_5_s() {
    let app = spawn_app().await;
    let id = MerchantId::parse(crate::helpers::MERCHANT).unwrap();
    app.store
        .set_status(&id, MerchantStatus::Disabled)
        .await
        .unwrap();
    let refused = eventually(std::time::Duration::from_secs(5), || async {
        app.send(&Call::buyer("U1", "a@example.com")).await.code() == "10001"
    })
    .await;
    assert!(refused, "disabled merchant answered 10001 within 5 s");
    app.store
        .set_status(&id, MerchantStatus::Active)
        .await
        .unwrap();
    let served = eventually(std::time::Duration::from_secs(5), || async {
        app.send(&Call::buyer("U1", "a@example.com")).await.code() == "0000"
    })
    .await;
    assert!(served);
}

#[tokio::test]
async fn route_errors_come_before_body_size() {
    let app = spawn_app().await;
    let mut call = Call::new(&"x".repeat(70_000));
    call.merchant = "NOBODY".into();
    let answer = app.send(&call).await;
    assert_eq!((answer.status, answer.code()), (404, "10001"));
}
