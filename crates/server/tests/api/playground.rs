//! The API Playground page and its ES modules: served only on a sandbox
//! service or with `--playground`, and then with a banner when the service
//! is not a sandbox.

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

/// The modules `/playground` loads, by name.
const MODULES: [&str; 4] = ["ui.mjs", "signing.mjs", "keys.mjs", "explanations.mjs"];

/// What marks the production banner in the page.
const BANNER: &str = r#"id="production-banner""#;

async fn sandbox() -> TestApp {
    spawn_app_with(|config| config.sandbox = true).await
}

/// Every path of the playground: the page and its assets.
fn playground_paths() -> Vec<String> {
    let mut paths = vec![
        "/playground".to_owned(),
        "/assets/playground.css".to_owned(),
    ];
    paths.extend(MODULES.map(|name| format!("/assets/playground/{name}")));
    paths
}

#[tokio::test]
async fn without_sandbox_or_playground_the_playground_is_the_sites_404() {
    let app = spawn_app().await;
    for path in playground_paths() {
        let response = app.get(&path, None).await;
        assert_eq!(response.status(), 404, "{path}");
        assert!(
            response.text().await.unwrap().contains("Page not found"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn the_openapi_document_is_public_without_the_playground() {
    let app = spawn_app().await;
    let response = app.get("/openapi.json", None).await;
    assert_eq!(response.status(), 200);
    let document: serde_json::Value = response.json().await.unwrap();
    assert!(document["paths"].is_object(), "{document}");
}

#[tokio::test]
async fn with_sandbox_the_playground_is_served_without_the_production_banner() {
    for app in [
        sandbox().await,
        spawn_app_with(|config| {
            config.sandbox = true;
            config.playground = true;
        })
        .await,
    ] {
        for path in playground_paths() {
            assert_eq!(app.get(&path, None).await.status(), 200, "{path}");
        }
        let html = app.get("/playground", None).await.text().await.unwrap();
        assert!(html.contains("API Playground"));
        assert!(!html.contains(BANNER), "{html}");
        assert!(!html.contains("production payfac service"), "{html}");
    }
}

#[tokio::test]
async fn with_playground_alone_the_page_says_it_is_production() {
    let app = spawn_app_with(|config| config.playground = true).await;
    for path in playground_paths() {
        assert_eq!(app.get(&path, None).await.status(), 200, "{path}");
    }
    let html = app.get("/playground", None).await.text().await.unwrap();
    assert!(html.contains(BANNER), "{html}");
    assert!(
        html.contains("This is the production payfac service, not the sandbox."),
        "{html}"
    );
    assert!(html.contains("Paste only test keys here"), "{html}");
    // In the markup itself, before the page's first heading: no script
    // has to run for it to show.
    assert!(html.find(BANNER) < html.find("<header"), "{html}");
}

#[tokio::test]
async fn the_page_loads_its_entry_module_and_no_inline_script() {
    let app = sandbox().await;
    let response = app.get("/playground", None).await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(
        html.contains(r#"<script type="module" src="assets/playground/ui.mjs"></script>"#),
        "{html}"
    );
    assert_eq!(html.matches("<script").count(), 1, "one script tag");
}

#[tokio::test]
async fn every_module_is_served_as_javascript() {
    let app = sandbox().await;
    for name in MODULES {
        let response = app.get(&format!("/assets/playground/{name}"), None).await;
        assert_eq!(response.status(), 200, "{name}");
        assert_eq!(
            response.headers()["content-type"],
            "text/javascript; charset=utf-8",
            "{name}"
        );
        let source = response.text().await.unwrap();
        assert!(
            source.contains("export ") || source.contains("import "),
            "{name}"
        );
    }
}

#[tokio::test]
async fn an_unknown_module_is_the_sites_404_page() {
    let app = sandbox().await;
    let response = app.get("/assets/playground/nope.mjs", None).await;
    assert_eq!(response.status(), 404);
    assert!(response.text().await.unwrap().contains("Page not found"));
}
