//! Gateway mode against a real storefront (`upstream.rs`): the merchant
//! flow through the gateway, header and cookie hygiene, the identity
//! hand-off verified with an independent JWT library, streaming, and the
//! upstream's faults.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::helpers::{TestApp, eventually, session_set_by, spawn_app_with};
use crate::upstream::{CHUNK, LARGE, RunningUpstream, Upstream};

/// The app in gateway mode in front of `upstream`.
pub async fn gateway_to(url: &str, adjust: impl FnOnce(&mut payfac_server::Config)) -> TestApp {
    let upstream = url.parse().unwrap();
    spawn_app_with(move |config| {
        config.upstream = Some(upstream);
        adjust(config);
    })
    .await
}

pub async fn gateway() -> (TestApp, RunningUpstream) {
    let upstream = Upstream::start().await;
    (gateway_to(&upstream.url, |_| {}).await, upstream)
}

/// Signs `merchant_user_no` in through a storefront page; the session.
pub async fn sign_in(app: &TestApp, merchant_user_no: &str) -> String {
    let code = app.code_for(merchant_user_no).await;
    let response = app
        .get(&format!("/shop?authorizationCode={code}"), None)
        .await;
    assert_eq!(response.status(), 303);
    session_set_by(&response).expect("the code signs in")
}

/// `GET path` through the gateway with extra headers; the echo as JSON.
pub async fn echo(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> Value {
    let mut request = app.http.get(format!("{}{path}", app.address));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// The one value of a header the storefront received, if any.
pub fn received<'a>(echo: &'a Value, name: &str) -> Option<&'a str> {
    let values = echo["headers"][name].as_array()?;
    assert_eq!(values.len(), 1, "{name}: {values:?}");
    values[0].as_str()
}

fn payfac_headers(echo: &Value) -> Vec<String> {
    echo["headers"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|name| name.starts_with("x-payfac-"))
        .cloned()
        .collect()
}

pub async fn jwks(app: &TestApp) -> JwkSet {
    let response = app.get("/.well-known/jwks.json", None).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Verifies `token` with `jsonwebtoken` against the app's JWKS, as an
/// upstream app would; the claims.
pub async fn verify(app: &TestApp, token: &str) -> Result<Value, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
    assert_eq!(header.alg, Algorithm::EdDSA);
    let kid = header.kid.ok_or("no kid")?;
    let set = jwks(app).await;
    let jwk = set
        .find(&kid)
        .ok_or_else(|| format!("kid {kid} not in the JWKS"))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_audience(&["payfac-upstream"]);
    validation.set_issuer(&["payfac"]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn the_merchant_flow_reaches_the_storefront_with_a_verified_identity() {
    let (app, upstream) = gateway().await;
    let answer = app
        .send(&crate::helpers::Call::new(
            r#"{"merchantUserNo":"U1000001","email":"jürgen@example.com","firstName":"Zoë","lastName":"O'Brien"}"#,
        ))
        .await;
    assert_eq!(answer.code(), "0000", "{}", answer.json);
    let user_id = answer.user_id();
    let code = answer.code_value();

    // The code on a storefront page: redeemed by payfac, never forwarded.
    let response = app
        .get(
            &format!("/catalog/item?ref=mail&authorizationCode={code}&lang=en"),
            None,
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"],
        "/catalog/item?ref=mail&lang=en"
    );
    assert_eq!(response.headers()["referrer-policy"], "no-referrer");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let session = session_set_by(&response).expect("signed in");
    assert!(upstream.upstream.seen.lock().unwrap().is_empty());

    // The same page with the session: the storefront learns who it is.
    let cookie = format!("theme=light; payfac_session={session}; cart=7");
    let echoed = echo(
        &app,
        "/catalog/item?ref=mail&lang=en",
        &[("cookie", &cookie)],
    )
    .await;
    assert_eq!(echoed["uri"], "/catalog/item?ref=mail&lang=en");
    assert_eq!(
        received(&echoed, "x-payfac-user-id"),
        Some(user_id.as_str())
    );
    assert_eq!(received(&echoed, "x-payfac-merchant"), Some("MERCHANT001"));
    assert_eq!(
        received(&echoed, "x-payfac-merchant-user-no"),
        Some("U1000001")
    );
    assert_eq!(
        received(&echoed, "x-payfac-email"),
        Some("j%C3%BCrgen@example.com")
    );
    assert_eq!(received(&echoed, "x-payfac-first-name"), Some("Zo%C3%AB"));
    assert_eq!(received(&echoed, "x-payfac-last-name"), Some("O'Brien"));
    // The session secret never reaches the storefront; its cookies do.
    assert_eq!(received(&echoed, "cookie"), Some("theme=light; cart=7"));
    assert!(!echoed.to_string().contains(&session));
    assert_eq!(received(&echoed, "x-forwarded-for"), Some("127.0.0.1"));
    assert_eq!(received(&echoed, "x-forwarded-proto"), Some("https"));
    let host = app.address.trim_start_matches("http://");
    assert_eq!(received(&echoed, "x-forwarded-host"), Some(host));

    let token = received(&echoed, "x-payfac-identity").expect("a token");
    let claims = verify(&app, token).await.expect("the token verifies");
    assert_eq!(claims["sub"], user_id.as_str());
    assert_eq!(claims["iss"], "payfac");
    assert_eq!(claims["aud"], "payfac-upstream");
    assert_eq!(claims["merchant"], "MERCHANT001");
    assert_eq!(claims["merchant_user_no"], "U1000001");
    assert_eq!(claims["email"], "jürgen@example.com");
    assert_eq!(claims["given_name"], "Zoë");
    assert_eq!(claims["family_name"], "O'Brien");
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert!((1..=300).contains(&lifetime), "{lifetime}");

    // Only the two pages reached the storefront, neither with the code.
    let seen = upstream.upstream.seen.lock().unwrap().clone();
    assert_eq!(seen, ["GET /catalog/item?ref=mail&lang=en"]);
    assert!(!seen.iter().any(|line| line.contains(&code)));

    // payfac's own buyer route, beside the storefront.
    let me = app.get("/_payfac/me", Some(&session)).await;
    assert_eq!(me.status(), 200);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["userId"], user_id.as_str());

    // The code is single-use through the gateway too.
    let again = app
        .get(&format!("/catalog/item?authorizationCode={code}"), None)
        .await;
    assert_eq!(again.status(), 303);
    assert!(session_set_by(&again).is_none());
}

#[tokio::test]
async fn a_token_fails_verification_when_tampered_or_for_another_audience() {
    let (app, _upstream) = gateway().await;
    let session = sign_in(&app, "U1").await;
    let cookie = format!("payfac_session={session}");
    let echoed = echo(&app, "/x", &[("cookie", &cookie)]).await;
    let token = received(&echoed, "x-payfac-identity").unwrap().to_owned();
    assert!(verify(&app, &token).await.is_ok());
    // Another payload under the same signature.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[1] = parts[1].replacen('e', "f", 1);
    assert!(verify(&app, &parts.join(".")).await.is_err());
    // A token for another audience is refused by a verifier that checks it.
    let upstream = Upstream::start().await;
    let other = gateway_to(&upstream.url, |config| {
        config.identity_audience = "other-app".into();
    })
    .await;
    let session = sign_in(&other, "U2").await;
    let echoed = echo(
        &other,
        "/x",
        &[("cookie", &format!("payfac_session={session}"))],
    )
    .await;
    let token = received(&echoed, "x-payfac-identity").unwrap();
    let refused = verify(&other, token).await.unwrap_err();
    assert!(refused.contains("Audience"), "{refused}");
}

#[tokio::test]
async fn spoofed_identity_headers_never_reach_the_storefront() {
    let (app, _upstream) = gateway().await;
    let spoofed = [
        ("X-Payfac-User-Id", "1"),
        ("x-payfac-email", "ceo@example.com"),
        ("X-PAYFAC-IDENTITY", "eyJhbGciOiJub25lIn0.e30."),
        ("x-payfac-role", "admin"),
    ];
    // Signed out: none of them, and none of payfac's either.
    let echoed = echo(&app, "/account", &spoofed).await;
    assert!(payfac_headers(&echoed).is_empty(), "{echoed}");

    // Signed in: only payfac's values.
    let session = sign_in(&app, "U7").await;
    let cookie = format!("payfac_session={session}");
    let mut headers = spoofed.to_vec();
    headers.push(("cookie", &cookie));
    let echoed = echo(&app, "/account", &headers).await;
    assert_ne!(received(&echoed, "x-payfac-user-id"), Some("1"));
    assert_eq!(received(&echoed, "x-payfac-email"), Some("U7@example.com"));
    assert!(echoed["headers"]["x-payfac-role"].is_null());
    let token = received(&echoed, "x-payfac-identity").unwrap();
    assert!(verify(&app, token).await.is_ok());
    // A session-only Cookie header is removed entirely.
    assert!(echoed["headers"]["cookie"].is_null());
}

#[tokio::test]
async fn method_body_status_and_the_storefronts_cookies_pass_hop_by_hop_headers_do_not() {
    let (app, _upstream) = gateway().await;
    let response = app
        .http
        .put(format!("{}/api/cart/3?status=201", app.address))
        .header("content-type", "application/json")
        .header("connection", "x-private")
        .header("x-private", "hop")
        .header("x-forwarded-host", "evil.example")
        .header("x-forwarded-for", "203.0.113.7")
        .body(r#"{"qty":2}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let cookies: Vec<_> = response.headers().get_all("set-cookie").iter().collect();
    assert_eq!(
        cookies,
        ["store_cart=3; Path=/", "store_theme=dark; Path=/"]
    );
    assert_eq!(response.headers()["x-store"], "echo");
    let echoed: Value = response.json().await.unwrap();
    assert_eq!(echoed["method"], "PUT");
    assert_eq!(echoed["body"], r#"{"qty":2}"#);
    assert_eq!(received(&echoed, "content-type"), Some("application/json"));
    assert!(echoed["headers"]["x-private"].is_null(), "{echoed}");
    assert_ne!(received(&echoed, "x-forwarded-host"), Some("evil.example"));
    assert_eq!(
        received(&echoed, "x-forwarded-for"),
        Some("203.0.113.7, 127.0.0.1")
    );
    // A POST with a code in the query is not a sign-in: it is forwarded.
    let post = app
        .http
        .post(format!("{}/form?authorizationCode=x", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 200);
}

/// Every path payfac answers itself in gateway mode, with what a `GET`
/// without a session gets there.
const PAYFACS_OWN: &[(&str, u16)] = &[
    ("/healthz", 200),
    ("/readyz", 200),
    ("/metrics", 200),
    ("/openapi.json", 200),
    ("/.well-known/jwks.json", 200),
    // The playground needs --sandbox or --playground; without them its
    // path is still payfac's own (a 404), never the storefront's.
    ("/_payfac/playground", 404),
    ("/_payfac/assets/playground/ui.mjs", 404),
    ("/_payfac/assets/site.css", 200),
    ("/_payfac/me", 401),
    ("/_payfac/sign-in/confirm", 200),
    ("/_payfac/auth", 200),
    ("/_payfac/auth/account", 200),
    ("/_payfac/unknown", 404),
    ("/pay-fac/MERCHANT001/v1/other", 404),
];

#[tokio::test]
async fn payfacs_own_routes_stay_payfacs() {
    let (app, upstream) = gateway().await;
    for &(path, status) in PAYFACS_OWN {
        assert_eq!(app.get(path, None).await.status(), status, "{path}");
    }
    assert!(upstream.upstream.seen.lock().unwrap().is_empty());
    // The demo storefront's paths are the storefront's here.
    for path in [
        "/",
        "/account",
        "/api/me",
        "/playground",
        "/assets/site.css",
    ] {
        let echoed = echo(&app, path, &[]).await;
        assert_eq!(echoed["uri"], path);
    }
}

/// GATEWAY.md's table of payfac's paths covers every path payfac keeps:
/// a row names the path, or a prefix of it ending in `…`.
#[test]
fn every_path_payfac_answers_is_in_the_gateway_guide() {
    let guide = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/GATEWAY.md"
    ))
    .unwrap();
    let table = guide
        .split("## Which paths payfac answers")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("GATEWAY.md has the section");
    let documented: Vec<&str> = table
        .lines()
        .filter_map(|line| line.strip_prefix("| "))
        .filter_map(|line| line.split(" | ").next())
        // "any other `/_payfac/…`" covers what the rows above do not.
        .filter(|cell| !cell.starts_with("any other"))
        .flat_map(|cell| cell.split('`').skip(1).step_by(2))
        .map(|path| path.rsplit(' ').next().unwrap_or(path))
        .collect();
    assert!(documented.len() > 10, "{documented:?}");
    for &(path, _) in PAYFACS_OWN
        .iter()
        .filter(|(path, _)| *path != "/_payfac/unknown")
    {
        let covered = documented.iter().any(|row| match row.strip_suffix('…') {
            Some(prefix) => path.starts_with(prefix),
            None => *row == path,
        });
        assert!(covered, "{path} is payfac's but not in GATEWAY.md's table");
    }
}

#[tokio::test]
async fn large_bodies_stream_both_ways() {
    let (app, upstream) = gateway().await;

    // Download: the first chunk arrives while the storefront still holds
    // back the rest, so payfac cannot be buffering the body.
    let mut response = app.get(&format!("/download?bytes={LARGE}"), None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-length"], LARGE.to_string());
    let first = tokio::time::timeout(Duration::from_secs(10), response.chunk())
        .await
        .expect("the first chunk arrives before the body is complete")
        .unwrap()
        .unwrap();
    let mut total = first.len();
    upstream.upstream.release_download.notify_one();
    while let Some(chunk) = response.chunk().await.unwrap() {
        total += chunk.len();
    }
    assert_eq!(total, LARGE);

    // Upload: the storefront sees the first chunk before the client has
    // sent the second.
    let (sender, receiver) = tokio::sync::mpsc::channel::<Vec<u8>>(1);
    let body = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver
            .recv()
            .await
            .map(|chunk| (Ok::<_, std::io::Error>(chunk), receiver))
    });
    let request = app
        .http
        .post(format!("{}/upload", app.address))
        .header("content-length", LARGE.to_string())
        .body(reqwest::Body::wrap_stream(body))
        .send();
    let started = upstream.upstream.upload_started.clone();
    let feeder = tokio::spawn(async move {
        sender.send(vec![b'y'; CHUNK]).await.unwrap();
        tokio::time::timeout(Duration::from_secs(10), started.notified())
            .await
            .expect("the storefront receives the first chunk before the rest is sent");
        for _ in 1..LARGE / CHUNK {
            sender.send(vec![b'y'; CHUNK]).await.unwrap();
        }
    });
    let response = request.await.unwrap();
    feeder.await.unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["bytes"], LARGE);
}

#[tokio::test]
async fn a_storefront_that_is_down_is_a_502_and_payfac_keeps_serving() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let app = gateway_to(&url, |_| {}).await;
    let response = app.get("/shop", None).await;
    assert_eq!(response.status(), 502);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let page = response.text().await.unwrap();
    assert!(page.contains("unavailable"), "{page}");
    assert_eq!(app.get("/healthz", None).await.status(), 200);
    assert_eq!(app.get("/readyz", None).await.status(), 200);
    let code = app.code_for("U1").await;
    assert_eq!(
        app.get(&format!("/shop?authorizationCode={code}"), None)
            .await
            .status(),
        303
    );
    assert!(crate::helpers::counted(
        &app.metrics().await,
        r#"payfac_upstream_errors_total{reason="connect"}"#
    ));
}

#[tokio::test]
async fn a_slow_storefront_is_a_504() {
    let upstream = Upstream::start().await;
    let app = gateway_to(&upstream.url, |config| {
        config.upstream_response_timeout = Duration::from_millis(300);
    })
    .await;
    let started = std::time::Instant::now();
    let response = app.get("/slow", None).await;
    assert_eq!(response.status(), 504);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(crate::helpers::counted(
        &app.metrics().await,
        r#"payfac_upstream_errors_total{reason="timeout"}"#
    ));
    // Other pages of the same storefront still answer.
    assert_eq!(echo(&app, "/fast", &[]).await["uri"], "/fast");
}

#[tokio::test]
async fn a_code_on_a_storefront_path_never_redirects_off_site() {
    let (app, upstream) = gateway().await;
    for (path, location) in [
        ("//evil.example/x?authorizationCode=bad", "/evil.example/x"),
        (
            "/\\evil.example?a=1&authorizationCode=bad",
            "/evil.example?a=1",
        ),
    ] {
        let response = app.get(path, None).await;
        assert_eq!(response.status(), 303, "{path}");
        assert_eq!(response.headers()["location"], location);
        assert!(session_set_by(&response).is_none());
    }
    assert!(upstream.upstream.seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_storefront_that_never_accepts_is_a_504_after_the_connect_timeout() {
    // A listener whose accept queue is full: the kernel drops further
    // SYNs, so connecting hangs as to a host that went away.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let address = listener.local_addr().unwrap();
    let mut queued = Vec::new();
    for _ in 0..4 {
        let connecting = tokio::net::TcpStream::connect(address);
        if let Ok(Ok(stream)) = tokio::time::timeout(Duration::from_millis(200), connecting).await {
            queued.push(stream);
        }
    }
    let app = gateway_to(&format!("http://{address}"), |config| {
        config.upstream_connect_timeout = Duration::from_millis(300);
    })
    .await;
    let started = std::time::Instant::now();
    let response = app.get("/shop", None).await;
    assert_eq!(response.status(), 504);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(crate::helpers::counted(
        &app.metrics().await,
        r#"payfac_upstream_errors_total{reason="connect_timeout"}"#
    ));
    drop((listener, queued));
}

#[tokio::test]
async fn after_logout_the_storefront_gets_no_identity() {
    let (app, _upstream) = gateway().await;
    let session = sign_in(&app, "U3").await;
    let cookie = format!("payfac_session={session}");
    let echoed = echo(&app, "/x", &[("cookie", &cookie)]).await;
    assert!(received(&echoed, "x-payfac-identity").is_some());
    let out = app
        .http
        .post(format!("{}/_payfac/logout", app.address))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    assert_eq!(out.headers()["location"], "/");
    let echoed = echo(&app, "/x", &[("cookie", &cookie)]).await;
    assert!(payfac_headers(&echoed).is_empty(), "{echoed}");
    assert!(echoed["headers"]["cookie"].is_null());
}

#[tokio::test]
async fn a_code_on_a_path_that_only_starts_like_the_merchant_api_is_redeemed() {
    // `/pay-fac` and `/pay-fac/…` are payfac's; `/pay-facade` is the
    // storefront's, so its code is redeemed here and never forwarded.
    let (app, upstream) = gateway().await;
    for path in [
        "/pay-facade?authorizationCode=bad",
        "/pay-fac.html?authorizationCode=bad",
    ] {
        let response = app.get(path, None).await;
        assert_eq!(response.status(), 303, "{path}");
        assert!(session_set_by(&response).is_none());
    }
    assert!(upstream.upstream.seen.lock().unwrap().is_empty());
}

/// The answer of `storefront_closing_each_connection`.
const OK_11: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

/// A storefront on `ip` that answers one request per connection with
/// `answer` and then closes it without saying so, as one whose keep-alive
/// timeout is shorter than payfac's: its URL, the connections it
/// accepted, and those payfac then closed too (the storefront reads its
/// side to the end), after which payfac holds none of them.
async fn storefront_closing_each_connection(
    ip: &str,
    answer: &'static [u8],
) -> (String, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let released = Arc::new(AtomicUsize::new(0));
    let (counter, closed) = (accepted.clone(), released.clone());
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            counter.fetch_add(1, Ordering::SeqCst);
            let closed = closed.clone();
            tokio::spawn(async move {
                let mut received = Vec::new();
                let mut buffer = [0u8; 4096];
                while !received.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => received.extend_from_slice(&buffer[..n]),
                    }
                }
                let _ = stream.write_all(answer).await;
                let _ = stream.shutdown().await;
                while let Ok(1..) = stream.read(&mut buffer).await {}
                closed.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    (url, accepted, released)
}

#[tokio::test]
async fn a_storefront_closing_idle_connections_costs_no_request() {
    let (url, accepted, released) = storefront_closing_each_connection("127.0.0.1", OK_11).await;
    let app = gateway_to(&url, |_| {}).await;
    // One client connection (reqwest keeps it alive) and so one upstream
    // link, whose connection the storefront closes after every answer:
    // each next request, a POST too, goes out on a fresh connection.
    for round in 0..3 {
        let response = if round == 1 {
            app.http
                .post(format!("{}/form", app.address))
                .body("a=1")
                .send()
                .await
                .unwrap()
        } else {
            app.get("/page", None).await
        };
        assert_eq!(response.status(), 200, "round {round}");
        assert_eq!(response.text().await.unwrap(), "ok");
        // The next request finds the link's connection gone: payfac has
        // closed its end of the one the storefront closed.
        let closed = eventually(Duration::from_secs(5), || async {
            released.load(Ordering::SeqCst) == round + 1
        })
        .await;
        assert!(closed, "payfac never closed upstream connection {round}");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_code_on_another_method_is_neither_redeemed_nor_passed_on() {
    let (app, upstream) = gateway().await;
    let code = app.code_for("HEAD1").await;
    let address = &app.address;
    let head = app
        .http
        .head(format!("{address}/shop?a=1&authorizationCode={code}"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert!(session_set_by(&head).is_none());
    let post = app
        .http
        .post(format!("{address}/form?authorizationCode={code}"))
        .body("x=1")
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 200);
    assert_eq!(
        *upstream.upstream.seen.lock().unwrap(),
        ["HEAD /shop?a=1", "POST /form"]
    );
    // Still unused: the GET the merchant sent the buyer to signs in.
    let response = app
        .get(&format!("/shop?authorizationCode={code}"), None)
        .await;
    assert_eq!(response.status(), 303);
    assert!(session_set_by(&response).is_some());
}

#[tokio::test]
async fn an_ipv6_literal_upstream_is_reached() {
    let (url, accepted, _) = storefront_closing_each_connection("::1", OK_11).await;
    assert!(url.starts_with("http://[::1]:"), "{url}");
    let app = gateway_to(&url, |_| {}).await;
    let response = app.get("/page", None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "ok");
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_upload_refused_before_it_is_read_leaves_the_next_request_unharmed() {
    let (app, upstream) = gateway().await;
    let address = &app.address;
    let within = |seconds| Duration::from_secs(seconds);
    let refused = tokio::time::timeout(
        within(20),
        app.http
            .post(format!("{address}/refuse-upload"))
            .body(vec![b'x'; LARGE])
            .send(),
    )
    .await
    .expect("the refusal arrives");
    // The storefront answers 413 and closes its connection under the rest
    // of the upload. When the closed socket fails payfac's write before
    // the 413 is read, hyper's client reports the write error: a 502. The
    // browser may equally see its own connection closed mid-upload. Never
    // a hang.
    if let Ok(response) = refused {
        assert!(
            [413, 502].contains(&response.status().as_u16()),
            "{}",
            response.status()
        );
    }
    // The next request, on the same client when it kept its connection,
    // is answered at once, not after the 60 s response timeout.
    let next = tokio::time::timeout(within(10), echo(&app, "/after", &[]))
        .await
        .expect("the next request is answered");
    assert_eq!(next["uri"], "/after");
    assert!(
        upstream
            .upstream
            .seen
            .lock()
            .unwrap()
            .contains(&"POST /refuse-upload".to_owned())
    );
}

#[tokio::test]
async fn payfac_answers_in_its_own_http_version_behind_an_http_1_0_storefront() {
    // RFC 9110 §6.2: a proxy sends its own version. An HTTP/1.0 answer
    // passed on as such would also close the browser's connection after
    // every page. This one has no length: its body ends with the close.
    let (url, ..) =
        storefront_closing_each_connection("127.0.0.1", b"HTTP/1.0 200 OK\r\n\r\nold").await;
    let app = gateway_to(&url, |_| {}).await;
    for _ in 0..2 {
        let response = app.get("/page", None).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.version(), reqwest::Version::HTTP_11);
        assert_eq!(response.text().await.unwrap(), "old");
    }
}

#[tokio::test]
async fn a_redirect_to_the_storefronts_own_address_stays_on_payfac() {
    let (app, upstream) = gateway().await;
    let response = app.get("/moved", None).await;
    assert_eq!(response.status(), 302);
    // The storefront wrote its own address, from the Host payfac sent.
    assert_eq!(response.headers()["location"], "/new?from=moved");
    assert_eq!(*upstream.upstream.seen.lock().unwrap(), ["GET /moved"]);
}

#[tokio::test]
async fn proxied_requests_carry_a_request_id_and_are_counted_under_their_route() {
    // Statuses no other test asks for, so the counters are this test's.
    let (app, _upstream) = gateway().await;
    for (path, route, status) in [
        ("/?status=226", "/", 226),
        ("/deep/page?status=227", "/{*path}", 227),
    ] {
        let response = app.get(path, None).await;
        assert_eq!(response.status(), status, "{path}");
        assert!(response.headers().contains_key("x-request-id"), "{path}");
        let counted = format!(
            r#"payfac_http_requests_total{{route="{route}",status="{status}",code="-"}} 1"#
        );
        let metrics = app.metrics().await;
        assert!(metrics.contains(&counted), "{counted} in {metrics}");
    }
}

/// One raw HTTP/1.1 exchange on a new connection: what the server answered
/// (status line, headers and body as text), read until it closes.
async fn raw_exchange(address: &str, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let authority = address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(authority).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("the server answers and closes")
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

/// Second review, finding 3: every cookie payfac issues stays between the
/// browser and payfac, the pending one (a session waiting for consent)
/// included.
#[tokio::test]
async fn the_pending_cookie_never_reaches_the_storefront() {
    let (app, _upstream) = gateway().await;
    let echoed = echo(
        &app,
        "/shop",
        &[(
            "cookie",
            "a=1; payfac_pending=1.pendingsecret; payfac_session=2.sessionsecret; b=2",
        )],
    )
    .await;
    assert_eq!(received(&echoed, "cookie"), Some("a=1; b=2"), "{echoed}");
    assert!(!echoed.to_string().contains("secret"));
}

/// Second review, finding 5: a header payfac's by name once `_` is read as
/// `-` (`X_Payfac_User_Id`, which CGI-style apps read as
/// `HTTP_X_PAYFAC_USER_ID`) is removed like the hyphenated spelling.
#[tokio::test]
async fn underscore_spelled_identity_headers_never_reach_the_storefront() {
    let (app, _upstream) = gateway().await;
    let session = sign_in(&app, "U8").await;
    let cookie = format!("payfac_session={session}");
    let echoed = echo(
        &app,
        "/account",
        &[
            ("X_Payfac_User_Id", "4242"),
            ("x_payfac_email", "ceo@example.com"),
            ("X_PAYFAC-Role", "admin"),
            ("cookie", &cookie),
        ],
    )
    .await;
    let names: Vec<&String> = echoed["headers"].as_object().unwrap().keys().collect();
    assert!(
        !names.iter().any(|name| name.contains('_')),
        "no underscore spelling arrives: {names:?}"
    );
    assert_eq!(received(&echoed, "x-payfac-email"), Some("U8@example.com"));
}

/// Second review, finding 11: a client's request trailers (which some
/// stacks merge into the headers) never reach the storefront.
#[tokio::test]
async fn request_trailers_never_reach_the_storefront() {
    let (app, upstream) = gateway().await;
    let request = "POST /form HTTP/1.1\r\nHost: shop\r\nTransfer-Encoding: chunked\r\n\
        Trailer: X-Payfac-User-Id\r\nTE: trailers\r\nConnection: close\r\n\r\n\
        5\r\nhello\r\n0\r\nX-Payfac-User-Id: 4242\r\nX-Other: t\r\n\r\n";
    // The storefront itself reads trailers: sent to it directly, they arrive.
    let direct = raw_exchange(&upstream.url, request).await;
    assert!(direct.contains("4242"), "the control: {direct}");
    let proxied = raw_exchange(&app.address, request).await;
    assert!(proxied.starts_with("HTTP/1.1 200"), "{proxied}");
    assert!(proxied.contains("\"body\":\"hello\""), "{proxied}");
    assert!(
        !proxied.contains("4242") && !proxied.contains("X-Other"),
        "{proxied}"
    );
}

/// Second review, finding 12: a `GET` or `HEAD` with a body is refused, so
/// a storefront that ignores `Content-Length` on a `GET` never reads the
/// body as a second request with headers payfac never saw.
#[tokio::test]
async fn a_get_or_head_with_a_body_is_refused() {
    let (app, upstream) = gateway().await;
    let smuggled = "GET /admin HTTP/1.1\r\nHost: shop\r\nX-Payfac-User-Id: 1\r\n\r\n";
    for (method, framing) in [
        ("GET", format!("Content-Length: {}\r\n", smuggled.len())),
        ("HEAD", format!("Content-Length: {}\r\n", smuggled.len())),
        ("GET", "Transfer-Encoding: chunked\r\n".to_owned()),
    ] {
        let body = if framing.contains("chunked") {
            format!("{:x}\r\n{smuggled}\r\n0\r\n\r\n", smuggled.len())
        } else {
            smuggled.to_owned()
        };
        let request = format!("{method} /page HTTP/1.1\r\nHost: shop\r\n{framing}\r\n{body}");
        let answer = raw_exchange(&app.address, &request).await;
        assert!(
            answer.starts_with("HTTP/1.1 400"),
            "{method} {framing}: {answer}"
        );
    }
    assert!(upstream.upstream.seen.lock().unwrap().is_empty());
    // A GET with an empty body is an ordinary GET.
    let plain = raw_exchange(
        &app.address,
        "GET /page HTTP/1.1\r\nHost: shop\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(plain.starts_with("HTTP/1.1 200"), "{plain}");
}
