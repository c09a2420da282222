//! The API Playground page and its ES modules.

use crate::helpers::spawn_app;

/// The modules `/playground` loads, by name.
const MODULES: [&str; 4] = ["ui.mjs", "signing.mjs", "keys.mjs", "explanations.mjs"];

#[tokio::test]
async fn the_page_loads_its_entry_module_and_no_inline_script() {
    let app = spawn_app().await;
    let response = app.get("/playground", None).await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(
        html.contains(r#"<script type="module" src="/assets/playground/ui.mjs"></script>"#),
        "{html}"
    );
    assert_eq!(html.matches("<script").count(), 1, "one script tag");
}

#[tokio::test]
async fn every_module_is_served_as_javascript() {
    let app = spawn_app().await;
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
    let app = spawn_app().await;
    let response = app.get("/assets/playground/nope.mjs", None).await;
    assert_eq!(response.status(), 404);
    assert!(response.text().await.unwrap().contains("Page not found"));
}
