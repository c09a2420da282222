//! Page plumbing: headers, assets and unknown paths.

use crate::helpers::spawn_app;

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
    let app = spawn_app().await;
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
