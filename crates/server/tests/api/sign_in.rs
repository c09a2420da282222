//! docs/PROTOCOL.md §8: buyer sign-in by authorization code on platform pages.

use std::collections::HashSet;

use serde_json::Value;

use crate::helpers::{TestApp, captured_logs, session_set_by, spawn_app, spawn_app_with};

async fn me(app: &TestApp, session: &str) -> (u16, Value) {
    let response = app.get("/api/me", Some(session)).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn sign_in(app: &TestApp, merchant_user_no: &str) -> String {
    let code = app.code_for(merchant_user_no).await;
    let response = app
        .get(&format!("/account?authorizationCode={code}"), None)
        .await;
    session_set_by(&response).expect("a valid code signs in")
}

fn assert_redirect(response: &reqwest::Response, location: &str) {
    assert!(
        [302, 303].contains(&response.status().as_u16()),
        "{}",
        response.status()
    );
    assert_eq!(response.headers()["location"], location);
    assert_eq!(response.headers()["referrer-policy"], "no-referrer");
    assert_eq!(response.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn the_whole_flow_signs_the_buyer_in() {
    let app = spawn_app().await;
    let code = app.code_for("U1000001").await;
    let response = app
        .get(
            &format!("/items/2001591587541073922?ref=mail&authorizationCode={code}&lang=en"),
            None,
        )
        .await;
    assert_redirect(&response, "/items/2001591587541073922?ref=mail&lang=en");
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Secure"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    let session = session_set_by(&response).unwrap();
    assert!(session.len() >= 22, "≥ 128 bits");

    let page = app
        .get(
            "/items/2001591587541073922?ref=mail&lang=en",
            Some(&session),
        )
        .await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("U1000001@example.com"), "{html}");
    assert!(html.contains("Signed in as"));

    let (status, buyer) = me(&app, &session).await;
    assert_eq!(status, 200);
    assert_eq!(buyer["merchant"], "MERCHANT001");
    assert_eq!(buyer["merchantUserNo"], "U1000001");
    assert_eq!(buyer["email"], "U1000001@example.com");
    assert!(buyer["userId"].is_string());
    assert!(buyer.get("firstName").is_some() && buyer.get("lastName").is_some());
}

#[tokio::test]
async fn every_page_redeems_codes() {
    let app = spawn_app().await;
    for path in ["/", "/orders", "/account", "/items/42"] {
        let code = app.code_for("U1").await;
        let separator = if path.contains('?') { '&' } else { '?' };
        let response = app
            .get(&format!("{path}{separator}authorizationCode={code}"), None)
            .await;
        assert_redirect(&response, path);
        let session = session_set_by(&response).expect(path);
        let html = app.get(path, Some(&session)).await.text().await.unwrap();
        assert!(html.contains("U1@example.com"), "{path}");
    }
}

#[tokio::test]
async fn signed_out_pages_say_so_and_api_me_is_401() {
    let app = spawn_app().await;
    for path in ["/", "/orders", "/account", "/items/7"] {
        let response = app.get(path, None).await;
        assert_eq!(response.status(), 200, "{path}");
        assert!(
            response.text().await.unwrap().contains("Not signed in"),
            "{path}"
        );
    }
    assert_eq!(app.get("/api/me", None).await.status(), 401);
    assert_eq!(
        app.get("/api/me", Some(&"x".repeat(43))).await.status(),
        401
    );
}

#[tokio::test]
async fn a_code_works_once() {
    let app = spawn_app().await;
    let code = app.code_for("U1").await;
    let first = app.get(&format!("/?authorizationCode={code}"), None).await;
    assert!(session_set_by(&first).is_some());
    let second = app.get(&format!("/?authorizationCode={code}"), None).await;
    assert_redirect(&second, "/");
    assert!(second.headers().get("set-cookie").is_none());
}

#[tokio::test]
async fn expired_unknown_and_malformed_codes_sign_nobody_in() {
    let app = spawn_app().await;
    let expired = app.code_for("U1").await;
    rusqlite::Connection::open(&app.db_path)
        .unwrap()
        .execute(
            "UPDATE codes SET expires_at = strftime('%s', 'now') - 1",
            [],
        )
        .unwrap();
    let unknown = payfac_domain::random_alphanumeric(32);
    let mut wrong_secret = app.code_for("U2").await;
    wrong_secret.replace_range(
        31..,
        if wrong_secret.ends_with('A') {
            "B"
        } else {
            "A"
        },
    );
    for code in [
        expired.as_str(),
        &unknown,
        &wrong_secret,
        "short",
        "",
        "%00%0A",
    ] {
        let response = app
            .get(&format!("/orders?authorizationCode={code}"), None)
            .await;
        assert_redirect(&response, "/orders");
        assert!(response.headers().get("set-cookie").is_none(), "{code:?}");
    }
    assert_eq!(app.count("sessions"), 0);
}

#[tokio::test]
async fn a_wrong_secret_does_not_burn_the_code() {
    let app = spawn_app().await;
    let code = app.code_for("U1").await;
    let mut wrong = code.clone();
    wrong.replace_range(31.., if code.ends_with('A') { "B" } else { "A" });
    app.get(&format!("/?authorizationCode={wrong}"), None).await;
    let response = app.get(&format!("/?authorizationCode={code}"), None).await;
    assert!(session_set_by(&response).is_some());
}

#[tokio::test]
async fn an_unusable_code_leaves_the_existing_session_as_it_was() {
    let app = spawn_app().await;
    let session = sign_in(&app, "U1").await;
    let unknown = payfac_domain::random_alphanumeric(32);
    let response = app
        .get(&format!("/?authorizationCode={unknown}"), Some(&session))
        .await;
    assert!(response.headers().get("set-cookie").is_none());
    let (status, buyer) = me(&app, &session).await;
    assert_eq!(status, 200);
    assert_eq!(buyer["merchantUserNo"], "U1");
}

#[tokio::test]
async fn a_code_of_the_same_buyer_replaces_the_browser_session_and_ends_the_old_one() {
    // Another buyer's code needs the buyer's consent first (consent.rs).
    let app = spawn_app().await;
    let old = sign_in(&app, "U1").await;
    let code = app.code_for("U1").await;
    let response = app
        .get(&format!("/?authorizationCode={code}"), Some(&old))
        .await;
    let new = session_set_by(&response).unwrap();
    assert_ne!(new, old);
    assert_eq!(me(&app, &new).await.1["merchantUserNo"], "U1");
    assert_eq!(
        me(&app, &old).await.0,
        401,
        "the old session ended on the server"
    );
    assert_eq!(app.count("sessions"), 1);
}

#[tokio::test]
async fn twenty_concurrent_redemptions_make_exactly_one_session() {
    let app = spawn_app().await;
    let code = app.code_for("U1").await;
    let path = format!("/account?authorizationCode={code}");
    let responses = futures_util::future::join_all((0..20).map(|_| app.get(&path, None))).await;
    let sessions: HashSet<String> = responses.iter().filter_map(session_set_by).collect();
    assert_eq!(sessions.len(), 1);
    assert!(responses.iter().all(|r| r.status() == 303));
    assert_eq!(app.count("sessions"), 1);
}

#[tokio::test]
async fn redirects_never_leave_the_site() {
    let app = spawn_app().await;
    for path in ["//evil.example/x", "///evil.example", "/%2F%2Fevil.example"] {
        let code = app.code_for("U1").await;
        let response = app
            .get(&format!("{path}?authorizationCode={code}"), None)
            .await;
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.starts_with('/'), "{path} → {location}");
        assert!(
            !location.starts_with("//") && !location.starts_with("/\\"),
            "{path} → {location}"
        );
    }
    // A raw backslash path, which URL libraries would normalise away.
    let code = app.code_for("U1").await;
    let raw = raw_get(&app, &format!("/\\evil.example/?authorizationCode={code}")).await;
    let location = raw
        .lines()
        .find_map(|line| line.strip_prefix("location: "))
        .unwrap_or("")
        .trim()
        .to_owned();
    let status_ok = raw.starts_with("HTTP/1.1 303") || raw.starts_with("HTTP/1.1 400");
    assert!(status_ok, "{raw}");
    if raw.starts_with("HTTP/1.1 303") {
        assert!(
            location.starts_with('/')
                && !location.starts_with("//")
                && !location.starts_with("/\\"),
            "{location}"
        );
    }
}

async fn raw_get(app: &TestApp, target: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let request = format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

#[tokio::test]
async fn buyer_text_is_html_escaped() {
    let app = spawn_app().await;
    let body = serde_json::json!({
        "merchantUserNo": "<b>U1</b>",
        "email": "o'brien&co@example.com",
        "firstName": "<script>alert(1)</script>",
        "lastName": "\"><img src=x onerror=alert(1)>",
    });
    let answer = app
        .send(&crate::helpers::Call::new(&body.to_string()))
        .await;
    assert_eq!(answer.code(), "0000", "{}", answer.json);
    let response = app
        .get(
            &format!("/account?authorizationCode={}", answer.code_value()),
            None,
        )
        .await;
    let session = session_set_by(&response).unwrap();
    for path in ["/", "/account", "/orders", "/items/%3Cscript%3E"] {
        let html = app.get(path, Some(&session)).await.text().await.unwrap();
        assert!(!html.contains("<script>alert"), "{path}");
        assert!(!html.contains("<img src=x"), "{path}");
        assert!(!html.contains("<b>U1"), "{path}");
        let shown_escaped = html.contains("&#60;script&#62;alert(1)&#60;/script&#62;")
            || html.contains("&lt;script&gt;alert(1)&lt;/script&gt;");
        assert!(shown_escaped, "{path}: the name is shown, escaped");
    }
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = spawn_app().await;
    let session = sign_in(&app, "U1").await;
    let response = app
        .http
        .post(format!("{}/logout", app.address))
        .header("cookie", format!("payfac_session={session}"))
        .send()
        .await
        .unwrap();
    assert!([302, 303].contains(&response.status().as_u16()));
    let cleared = response.headers()["set-cookie"].to_str().unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert_eq!(me(&app, &session).await.0, 401);
}

/// Second review, finding 1: a logout posted from another site is
/// refused and clears nothing (its clearing cookie would let the
/// attacker's code link switch accounts without the consent question);
/// a logout without a session cookie clears nothing either.
#[tokio::test]
async fn a_cross_site_logout_is_refused_and_only_a_presented_cookie_is_cleared() {
    let app = spawn_app().await;
    let session = sign_in(&app, "U1").await;
    for path in ["/logout", "/_payfac/logout"] {
        for (name, value) in [
            ("origin", "https://evil.example"),
            ("origin", "null"),
            ("sec-fetch-site", "cross-site"),
        ] {
            let response = app
                .http
                .post(format!("{}{path}", app.address))
                .header("cookie", format!("payfac_session={session}"))
                .header(name, value)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 403, "{path} {name}: {value}");
            assert!(response.headers().get("set-cookie").is_none());
            assert_eq!(me(&app, &session).await.0, 200, "still signed in");
        }
        let anonymous = app
            .http
            .post(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), 303);
        assert!(
            anonymous.headers().get("set-cookie").is_none(),
            "no cookie, nothing to clear"
        );
    }
    let own_origin = app.address.clone();
    let response = app
        .http
        .post(format!("{}/_payfac/logout", app.address))
        .header("cookie", format!("payfac_session={session}"))
        .header("origin", own_origin)
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let cleared: Vec<_> = response.headers().get_all("set-cookie").iter().collect();
    assert_eq!(cleared.len(), 1, "{cleared:?}");
    assert!(
        cleared[0]
            .to_str()
            .unwrap()
            .starts_with("payfac_session=; Max-Age=0")
    );
    assert_eq!(me(&app, &session).await.0, 401);
}

#[tokio::test]
async fn insecure_cookies_drop_only_the_secure_flag() {
    let app = spawn_app_with(|config| config.insecure_cookies = true).await;
    let code = app.code_for("U1").await;
    let response = app.get(&format!("/?authorizationCode={code}"), None).await;
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    assert!(!cookie.contains("Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
}

#[tokio::test]
async fn a_code_issued_before_a_restart_is_redeemable_after_it() {
    let app = spawn_app().await;
    let code = app.code_for("U1").await;
    let restarted = app.restarted().await;
    let response = app
        .http
        .get(format!("{restarted}/account?authorizationCode={code}"))
        .send()
        .await
        .unwrap();
    assert!(session_set_by(&response).is_some());
}

#[tokio::test]
async fn sessions_expire_when_idle() {
    let app = spawn_app_with(|config| config.session_idle_secs = 1).await;
    let session = sign_in(&app, "U1").await;
    assert_eq!(me(&app, &session).await.0, 200);
    rusqlite::Connection::open(&app.db_path)
        .unwrap()
        .execute("UPDATE sessions SET last_seen_at = last_seen_at - 5", [])
        .unwrap();
    assert_eq!(me(&app, &session).await.0, 401);
}

#[tokio::test]
async fn codes_and_session_ids_never_reach_the_logs() {
    let app = spawn_app().await;
    let call = crate::helpers::Call::buyer("LOGGED1", "logged@example.com");
    let signature = call.sign_with(&app.key);
    let answer = app.send(&call).await;
    let code = answer.code_value();
    let response = app
        .get(&format!("/account?authorizationCode={code}"), None)
        .await;
    let session = session_set_by(&response).unwrap();
    app.get("/account", Some(&session)).await;
    let logs = captured_logs();
    assert!(logs.contains("\"request\""), "logs are captured");
    assert!(!logs.contains(&code));
    assert!(!logs.contains(&code[10..]));
    assert!(!logs.contains(&session));
    assert!(!logs.contains(&signature));
    assert!(!logs.contains("logged@example.com"));
}

#[tokio::test]
async fn codes_issued_redeemed_and_rejected_are_counted() {
    let app = spawn_app().await;
    let code = app.code_for("U1").await;
    app.get(&format!("/?authorizationCode={code}"), None).await;
    app.get(&format!("/?authorizationCode={code}"), None).await;
    let metrics = app.metrics().await;
    let counted = |series: &str| crate::helpers::counted(&metrics, series);
    assert!(counted("payfac_codes_issued_total"), "{metrics}");
    assert!(counted("payfac_codes_redeemed_total"), "{metrics}");
    assert!(
        counted(r#"payfac_codes_rejected_total{reason="used"}"#),
        "{metrics}"
    );
    // Nothing expired yet: listed, at 0 or more.
    assert!(
        metrics
            .lines()
            .any(|line| line.starts_with("payfac_codes_expired_total ")),
        "{metrics}"
    );
}

/// Issue #18: the id part of codes and cookies is a keyed permutation of
/// the row id, so consecutive credentials are not consecutive.
#[tokio::test]
async fn credential_ids_reveal_no_order() {
    let app = spawn_app().await;
    let mut code_ids = Vec::new();
    let mut session_ids = Vec::new();
    // Twelve in a row: a keyed permutation leaves them sorted by chance
    // once in 12! (4.8e8) runs; six (1 in 720) made the test flaky.
    for i in 0..12 {
        let code = app.code_for(&format!("U{i}")).await;
        code_ids.push(code[..10].to_owned());
        let response = app.get(&format!("/?authorizationCode={code}"), None).await;
        session_ids.push(session_set_by(&response).unwrap()[..10].to_owned());
    }
    for ids in [&code_ids, &session_ids] {
        let mut sorted = ids.clone();
        sorted.sort();
        assert_ne!(&sorted, ids, "issued in order: {ids:?}");
        assert!(ids.iter().all(|id| !id.starts_with("0000")), "{ids:?}");
    }
}

/// Codes and cookies of the earlier form (the row id itself, base62) stay
/// good across the upgrade.
#[tokio::test]
async fn credentials_of_the_earlier_form_keep_working() {
    fn legacy(row: i64, secret: &str) -> String {
        const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut digits = [b'0'; 10];
        let mut rest = row as u64;
        for slot in digits.iter_mut().rev() {
            *slot = ALPHABET[(rest % 62) as usize];
            rest /= 62;
        }
        String::from_utf8(digits.to_vec()).unwrap() + secret
    }
    let app = spawn_app().await;
    let ids = app.ids().await;
    // A code re-written in the earlier form still signs in.
    let first = app.code_for("U2").await;
    let parsed = payfac_domain::AuthorizationCode::parse(&first).unwrap();
    let old_form = legacy(parsed.id(&ids).unwrap().0, &first[10..]);
    assert_ne!(old_form, first);
    let response = app
        .get(&format!("/account?authorizationCode={old_form}"), None)
        .await;
    let session = session_set_by(&response).expect("the earlier form signs in");
    let token = payfac_domain::SessionToken::parse(&session).unwrap();
    let old_cookie = legacy(token.id(&ids).unwrap().0, &session[10..]);
    assert_eq!(me(&app, &old_cookie).await.1["merchantUserNo"], "U2");
}
