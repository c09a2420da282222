//! Page plumbing: headers, assets and unknown paths.

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

/// Every kind of HTML page: the buyer pages, the 404 page and the
/// playground (served here because the apps below are sandboxes), and the
/// consent page (here without a pending choice; `consent.rs` checks it
/// with one).
const PAGES: [&str; 7] = [
    "/",
    "/items/1",
    "/orders",
    "/account",
    "/no/such/page",
    "/playground",
    "/_payfac/sign-in/confirm?next=%2Faccount",
];

/// Asserts the hardening headers on every page, and HSTS exactly when
/// `hsts` says so.
async fn assert_hardened(app: &TestApp, hsts: bool) {
    for path in PAGES {
        let response = app.get(path, None).await;
        let headers = response.headers();
        let expected = if path == "/no/such/page" { 404 } else { 200 };
        assert_eq!(response.status(), expected, "{path}");
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert!(
            !csp.contains("script-src"),
            "{path}: scripts follow default-src: {csp}"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        match headers.get("strict-transport-security") {
            Some(value) if hsts => assert_eq!(value, "max-age=31536000", "{path}"),
            None if !hsts => {}
            other => panic!("{path}: strict-transport-security {other:?}, expected: {hsts}"),
        }
    }
}

#[tokio::test]
async fn with_secure_cookies_every_page_is_hardened_and_has_hsts() {
    let app = spawn_app_with(|config| config.sandbox = true).await;
    assert_hardened(&app, true).await;
}

#[tokio::test]
async fn with_insecure_cookies_every_page_is_hardened_without_hsts() {
    let app = spawn_app_with(|config| {
        config.sandbox = true;
        config.insecure_cookies = true;
    })
    .await;
    assert_hardened(&app, false).await;
}

#[tokio::test]
async fn pages_are_hardened_and_not_cached() {
    let app = spawn_app().await;
    let response = app.get("/", None).await;
    let headers = response.headers();
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'self'")
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}

#[tokio::test]
async fn the_stylesheet_is_served_from_the_binary() {
    let app = spawn_app().await;
    let response = app.get("/assets/site.css", None).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
}

#[tokio::test]
async fn unknown_pages_are_404_html() {
    let app = spawn_app().await;
    let response = app.get("/no/such/page", None).await;
    assert_eq!(response.status(), 404);
    assert!(response.text().await.unwrap().contains("Page not found"));
}

#[tokio::test]
async fn health_endpoints_answer() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz", None).await.status(), 200);
    assert_eq!(app.get("/readyz", None).await.status(), 200);
    let metrics = app.metrics().await;
    assert!(metrics.contains("payfac_http_requests_total"), "{metrics}");
}

/// Issue #19: with a metrics listener (`--metrics-listen`), `/metrics`
/// (which names merchants with their signature failures) is served there
/// and no longer on the public listener.
#[tokio::test]
async fn a_metrics_listener_keeps_metrics_off_the_public_listener() {
    let app = payfac_test_support::app::TestApp::builder()
        .config(|config| config.metrics_listen = Some("127.0.0.1:0".parse().unwrap()))
        .start()
        .await;
    let public = app.address.clone();
    let metrics = app.metrics.clone().expect("a metrics port");
    let http = reqwest::Client::new();
    let get = |url: String| {
        let http = http.clone();
        async move { http.get(url).send().await.unwrap() }
    };
    assert_eq!(get(format!("{public}/healthz")).await.status(), 200);
    assert_eq!(get(format!("{public}/metrics")).await.status(), 404);
    let served = get(format!("{metrics}/metrics")).await;
    assert_eq!(served.status(), 200);
    assert!(
        served
            .text()
            .await
            .unwrap()
            .contains("payfac_http_requests_total")
    );
    assert_eq!(get(format!("{metrics}/account")).await.status(), 404);
}

#[tokio::test]
async fn the_demo_storefront_says_it_is_one_and_shows_the_platform_name() {
    let app = spawn_app().await;
    let html = app.get("/", None).await.text().await.unwrap();
    assert!(html.contains("payfac demo store"), "{html}");
    assert!(html.contains("demo storefront"), "{html}");
    assert!(
        !html.contains("iGV") && !html.contains("copyrights"),
        "{html}"
    );

    let named = crate::helpers::spawn_app_with(|config| {
        config.platform_name = "Acme <Games>".into();
    })
    .await;
    let html = named.get("/account", None).await.text().await.unwrap();
    assert!(
        html.contains("Acme &#60;Games&#62;") || html.contains("Acme &lt;Games&gt;"),
        "{html}"
    );
    assert!(!html.contains("payfac demo store"));
}

#[tokio::test]
async fn the_buyer_routes_under_payfac_work_without_an_upstream() {
    let app = crate::helpers::spawn_app_with(|config| config.sandbox = true).await;
    let code = app.code_for("U1").await;
    let response = app.get(&format!("/?authorizationCode={code}"), None).await;
    let session = crate::helpers::session_set_by(&response).unwrap();
    for path in ["/_payfac/me", "/api/me"] {
        assert_eq!(app.get(path, Some(&session)).await.status(), 200, "{path}");
    }
    assert_eq!(app.get("/_payfac/playground", None).await.status(), 200);
    assert_eq!(app.get("/playground", None).await.status(), 200);
    let out = app
        .http
        .post(format!("{}/_payfac/logout", app.address))
        .header("cookie", format!("payfac_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    assert_eq!(app.get("/_payfac/me", Some(&session)).await.status(), 401);
}
