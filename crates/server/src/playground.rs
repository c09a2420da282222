//! `GET /playground`: a page where a merchant's engineer signs a request in
//! the browser (WebCrypto; the private key never leaves the page), sends
//! it, and reads the sandbox diagnostics. Assets are embedded.

use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::{AppState, Config};

/// The page's ES modules, served at `/assets/playground/{name}`. `ui.mjs`
/// is the entry point; it imports the others by relative URL.
const MODULES: &[(&str, &str)] = &[
    ("ui.mjs", include_str!("../assets/playground/ui.mjs")),
    (
        "signing.mjs",
        include_str!("../assets/playground/signing.mjs"),
    ),
    ("keys.mjs", include_str!("../assets/playground/keys.mjs")),
    (
        "explanations.mjs",
        include_str!("../assets/playground/explanations.mjs"),
    ),
];

/// Where the page's HTML takes the environment banner.
const BANNER_SLOT: &str = "<!-- environment banner -->";

/// Shown at the top of the page on a service without `--sandbox`: requests
/// sent from here are real, and a private key pasted into a web page is
/// exposed to whatever else runs in that browser.
const PRODUCTION_BANNER: &str = r#"<div id="production-banner" class="env-banner" role="alert">
  <strong>This is the production payfac service, not the sandbox.</strong>
  Requests sent from this page are real. Paste only test keys here &mdash; never a production private key.
</div>"#;

/// `/openapi.json` always (it holds no secret); the playground under
/// `/_payfac/` (every mode) only on a sandbox service or with
/// `--playground`, elsewhere an unknown path (the site's 404).
pub fn routes(config: &Config) -> Router<AppState> {
    let router = Router::new().route(
        crate::boundary::paths::OPENAPI,
        get(crate::api::openapi::openapi_json),
    );
    mount(router, "/_payfac", config)
}

/// The playground at its original paths too, for the built-in storefront
/// (with an upstream, those paths are the storefront's). The page names
/// its assets by relative paths, so the same page works at both.
pub fn demo_routes(config: &Config) -> Router<AppState> {
    mount(Router::new(), "", config)
}

fn mount(router: Router<AppState>, prefix: &str, config: &Config) -> Router<AppState> {
    if !(config.sandbox || config.playground) {
        return router;
    }
    let page = page(!config.sandbox);
    let mut router = router
        .route(
            &format!("{prefix}/playground"),
            get(move || async move { Html(page) }),
        )
        .route(&format!("{prefix}/assets/playground.css"), get(stylesheet));
    // One route per module, so an unknown name falls through to the site's
    // 404 like any other path.
    for &(name, source) in MODULES {
        router = router.route(
            &format!("{prefix}/assets/playground/{name}"),
            get(move || async move { module(source) }),
        );
    }
    router
}

/// The page's HTML, with the production banner when it is not a sandbox.
fn page(production: bool) -> Bytes {
    let html = include_str!("../assets/playground.html");
    let banner = if production { PRODUCTION_BANNER } else { "" };
    Bytes::from(html.replacen(BANNER_SLOT, banner, 1))
}

async fn stylesheet() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("../assets/playground.css"),
    )
}

/// Modules are revalidated on every load: their URLs carry no version, and
/// a browser that mixed a cached module with a newer one after a deploy
/// would fail on a missing import.
fn module(source: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        source,
    )
        .into_response()
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::MODULES;
    use crate::api::SignatureFailure;

    /// The variants given, as an array, and a compile error when one is
    /// missing: the same list is the arms of an exhaustive `match`, so a
    /// new `SignatureFailure` cannot be added without listing it here.
    macro_rules! every {
        ($($variant:ident),+ $(,)?) => {{
            let _exhaustive = |failure: SignatureFailure| match failure {
                $(SignatureFailure::$variant)|+ => {}
            };
            [$(SignatureFailure::$variant),+]
        }};
    }

    fn server_reasons() -> BTreeSet<&'static str> {
        every!(
            MissingHeader,
            BadTimestamp,
            ClockSkew,
            BadNonce,
            NonceReused,
            BadSignatureEncoding,
            NoKeyMatched,
        )
        .into_iter()
        .map(SignatureFailure::as_str)
        .collect()
    }

    fn module(name: &str) -> &'static str {
        MODULES
            .iter()
            .find(|(served, _)| *served == name)
            .map(|(_, source)| *source)
            .unwrap_or_else(|| panic!("{name} is not served"))
    }

    /// The keys of `export const REASONS = Object.freeze({ … });`: its
    /// lines of the form `  name: {` (the layout explanations.mjs keeps).
    fn page_reasons() -> BTreeSet<&'static str> {
        let source = module("explanations.mjs");
        let opening = "export const REASONS = Object.freeze({\n";
        let start = source.find(opening).expect("REASONS is declared") + opening.len();
        let end = start + source[start..].find("\n});").expect("REASONS is closed");
        source[start..end]
            .lines()
            .filter_map(|line| line.strip_prefix("  ")?.strip_suffix(": {"))
            .filter(|key| !key.starts_with(' '))
            .collect()
    }

    #[test]
    fn the_page_explains_exactly_the_servers_signature_failures() {
        let server = server_reasons();
        let page = page_reasons();
        let unexplained: Vec<_> = server.difference(&page).collect();
        let stale: Vec<_> = page.difference(&server).collect();
        assert!(
            unexplained.is_empty() && stale.is_empty(),
            "assets/playground/explanations.mjs REASONS must have one entry per \
             SignatureFailure: missing {unexplained:?}, not a server reason {stale:?}"
        );
    }

    /// A module added to assets/playground/ but not to `MODULES` would load
    /// in the browser tests' static server and 404 in production.
    #[test]
    fn every_module_file_is_served() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/playground");
        let files: BTreeSet<String> = std::fs::read_dir(dir)
            .expect("assets/playground exists")
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.ends_with(".mjs"))
            .collect();
        let served: BTreeSet<String> = MODULES.iter().map(|(name, _)| name.to_string()).collect();
        assert_eq!(files, served);
    }
}
