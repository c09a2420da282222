//! Issue #18: a browser signed in as one buyer that opens another buyer's
//! code is asked before it switches (docs/PROTOCOL.md §8).

use serde_json::Value;

use crate::helpers::{TestApp, session_set_by, spawn_app, spawn_app_with};

/// Signs a browser in as `merchant_user_no`; its session cookie value.
async fn signed_in(app: &TestApp, merchant_user_no: &str) -> String {
    let code = app.code_for(merchant_user_no).await;
    let response = app
        .get(&format!("/account?authorizationCode={code}"), None)
        .await;
    session_set_by(&response).expect("a valid code signs in")
}

fn cookie_set_by(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| value.strip_prefix(&format!("{name}=")))
        .map(|rest| rest.split(';').next().unwrap_or("").to_owned())
}

async fn me(app: &TestApp, session: &str) -> (u16, Value) {
    let response = app.get("/api/me", Some(session)).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A browser signed in as U1 opens a link with U2's code: what it holds
/// after the redirect (its session, the pending cookie) and the page.
struct Pending {
    session: String,
    pending: String,
    page: String,
    csrf: String,
    code: String,
}

async fn open_other_buyers_link(app: &TestApp) -> Pending {
    let session = signed_in(app, "U1").await;
    let code = app.code_for("U2").await;
    let response = app
        .get(
            &format!("/items/7?a=1&authorizationCode={code}"),
            Some(&session),
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"],
        "/_payfac/sign-in/confirm?next=%2Fitems%2F7%3Fa%3D1"
    );
    assert_eq!(response.headers()["referrer-policy"], "no-referrer");
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(session_set_by(&response), None, "no silent switch");
    let set = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .find(|value| value.starts_with("payfac_pending="))
        .expect("a pending cookie");
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Secure"));
    assert!(
        set.contains("Max-Age=300") || set.contains("Max-Age=1;"),
        "{set}"
    );
    let pending = cookie_set_by(&response, "payfac_pending").unwrap();

    let page = app
        .http
        .get(format!(
            "{}/_payfac/sign-in/confirm?next=%2Fitems%2F7%3Fa%3D1",
            app.address
        ))
        .header(
            "cookie",
            format!("payfac_session={session}; payfac_pending={pending}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let headers = page.headers();
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    let page = page.text().await.unwrap();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a csrf field")
        .to_owned();
    Pending {
        session,
        pending,
        page,
        csrf,
        code,
    }
}

async fn post_choice(
    app: &TestApp,
    cookies: &str,
    form: &str,
    origin: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .http
        .post(format!("{}/_payfac/sign-in/confirm", app.address))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", cookies)
        .body(form.to_owned());
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn another_buyers_code_asks_first_and_continue_switches() {
    let app = spawn_app().await;
    let p = open_other_buyers_link(&app).await;
    assert!(p.page.contains("You are signed in as"), "{}", p.page);
    assert!(p.page.contains("U1@example.com") && p.page.contains("U2@example.com"));
    assert!(p.page.contains("Continue as"));
    // The code is spent already.
    let again = app
        .get(&format!("/?authorizationCode={}", p.code), None)
        .await;
    assert_eq!(session_set_by(&again), None, "the code cannot be reused");
    // Still U1 until the buyer says otherwise.
    assert_eq!(me(&app, &p.session).await.1["merchantUserNo"], "U1");

    let cookies = format!("payfac_session={}; payfac_pending={}", p.session, p.pending);
    let own_origin = app.address.clone();
    let response = post_choice(
        &app,
        &cookies,
        &format!("csrf={}&choice=continue&next=%2Fitems%2F7%3Fa%3D1", p.csrf),
        Some(&own_origin),
    )
    .await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/items/7?a=1");
    let new = session_set_by(&response).expect("the pending session becomes the session");
    assert_eq!(new, p.pending);
    assert_eq!(
        cookie_set_by(&response, "payfac_pending").as_deref(),
        Some("")
    );
    assert_eq!(me(&app, &new).await.1["merchantUserNo"], "U2");
    assert_eq!(me(&app, &p.session).await.0, 401, "U1's session ended");
    // The choice is made once.
    let replay = post_choice(
        &app,
        &format!("payfac_pending={}", p.pending),
        &format!("csrf={}&choice=stay", p.csrf),
        None,
    )
    .await;
    assert_eq!(
        replay.status(),
        303,
        "stay on a confirmed choice only ends nothing new"
    );
}

#[tokio::test]
async fn stay_keeps_the_first_buyer_and_ends_the_pending_choice() {
    let app = spawn_app().await;
    let p = open_other_buyers_link(&app).await;
    let cookies = format!("payfac_session={}; payfac_pending={}", p.session, p.pending);
    let response = post_choice(
        &app,
        &cookies,
        &format!("csrf={}&choice=stay&next=%2Forders", p.csrf),
        None,
    )
    .await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/orders");
    assert_eq!(session_set_by(&response), None);
    assert_eq!(me(&app, &p.session).await.1["merchantUserNo"], "U1");
    assert_eq!(
        me(&app, &p.pending).await.0,
        401,
        "the pending session ended"
    );
    let late = post_choice(
        &app,
        &cookies,
        &format!("csrf={}&choice=continue", p.csrf),
        None,
    )
    .await;
    assert_eq!(late.status(), 403);
    assert_eq!(me(&app, &p.session).await.1["merchantUserNo"], "U1");
}

#[tokio::test]
async fn a_cross_site_post_without_the_token_is_refused() {
    let app = spawn_app().await;
    let p = open_other_buyers_link(&app).await;
    let cookies = format!("payfac_session={}; payfac_pending={}", p.session, p.pending);
    // What an attacker's page can send: the cookies (a browser without
    // SameSite), but not the token.
    for form in [
        "choice=continue",
        "csrf=&choice=continue",
        "csrf=00&choice=continue",
    ] {
        let response = post_choice(&app, &cookies, form, Some("https://evil.example")).await;
        assert_eq!(response.status(), 403, "{form}");
        assert_eq!(session_set_by(&response), None);
        let response = post_choice(&app, &cookies, form, None).await;
        assert_eq!(response.status(), 403, "{form}");
    }
    // The right token from another site is refused as well.
    let response = post_choice(
        &app,
        &cookies,
        &format!("csrf={}&choice=continue", p.csrf),
        Some("https://evil.example"),
    )
    .await;
    assert_eq!(response.status(), 403);
    // Another browser's token does not fit this browser's pending choice.
    let other = open_other_buyers_link(&app).await;
    let response = post_choice(
        &app,
        &cookies,
        &format!("csrf={}&choice=continue", other.csrf),
        None,
    )
    .await;
    assert_eq!(response.status(), 403);
    assert_eq!(me(&app, &p.session).await.1["merchantUserNo"], "U1");
    assert_eq!(
        me(&app, &p.pending).await.0,
        401,
        "a pending choice is no session"
    );
    let page = app
        .http
        .get(format!("{}/_payfac/sign-in/confirm", app.address))
        .header("cookie", cookies)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Continue as"),
        "the choice is still open: {page}"
    );
}

#[tokio::test]
async fn the_pending_choice_expires_with_the_code_ttl() {
    let app = spawn_app_with(|config| config.code_ttl_secs = 1).await;
    let p = open_other_buyers_link(&app).await;
    // The passage of time this test is about: past the 1 s TTL whatever
    // the sub-second phase of the whole-second expiry.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let cookies = format!("payfac_session={}; payfac_pending={}", p.session, p.pending);
    let response = post_choice(
        &app,
        &cookies,
        &format!("csrf={}&choice=continue", p.csrf),
        None,
    )
    .await;
    assert_eq!(response.status(), 403);
    assert_eq!(session_set_by(&response), None);
    assert_eq!(me(&app, &p.session).await.1["merchantUserNo"], "U1");
    let page = app
        .http
        .get(format!("{}/_payfac/sign-in/confirm", app.address))
        .header("cookie", &cookies)
        .send()
        .await
        .unwrap();
    assert!(page.text().await.unwrap().contains("expired"));
}

#[tokio::test]
async fn the_same_buyer_or_no_session_signs_in_directly() {
    let app = spawn_app().await;
    let first = signed_in(&app, "U1").await;
    let code = app.code_for("U1").await;
    let response = app
        .get(&format!("/account?authorizationCode={code}"), Some(&first))
        .await;
    assert_eq!(response.headers()["location"], "/account");
    let second = session_set_by(&response).expect("signed in directly");
    assert_eq!(cookie_set_by(&response, "payfac_pending"), None);
    assert_eq!(me(&app, &second).await.1["merchantUserNo"], "U1");
    assert_eq!(me(&app, &first).await.0, 401);
    // A session cookie that is no longer live counts as none.
    let code = app.code_for("U2").await;
    let response = app
        .get(&format!("/account?authorizationCode={code}"), Some(&first))
        .await;
    let third = session_set_by(&response).expect("signed in directly");
    assert_eq!(me(&app, &third).await.1["merchantUserNo"], "U2");
}

/// Second review, finding 2: a full session is never a pending choice. Sent
/// as the pending cookie it gets the "expired" page and no csrf, and a
/// replayed "continue" of a choice already made changes nothing, so no
/// session can be kept alive past `--session-max-secs` by "confirming" it
/// again and again.
#[tokio::test]
async fn a_session_is_no_pending_choice_and_a_replayed_continue_extends_nothing() {
    let app = spawn_app().await;
    let session = signed_in(&app, "U1").await;
    let page = app
        .http
        .get(format!("{}/_payfac/sign-in/confirm", app.address))
        .header(
            "cookie",
            format!("payfac_session={session}; payfac_pending={session}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(cookie_set_by(&page, "payfac_pending").as_deref(), Some(""));
    let page = page.text().await.unwrap();
    assert!(page.contains("id=\"expired\""), "{page}");
    assert!(!page.contains("Continue as"), "{page}");

    let p = open_other_buyers_link(&app).await;
    let cookies = format!("payfac_session={}; payfac_pending={}", p.session, p.pending);
    let form = format!("csrf={}&choice=continue", p.csrf);
    let first = post_choice(&app, &cookies, &form, None).await;
    assert_eq!(first.status(), 303);
    let confirmed = session_set_by(&first).unwrap();
    for _ in 0..2 {
        let replay = post_choice(&app, &cookies, &form, None).await;
        assert_eq!(
            replay.status(),
            403,
            "a confirmed choice is not confirmed again"
        );
        assert_eq!(session_set_by(&replay), None);
    }
    assert_eq!(me(&app, &confirmed).await.1["merchantUserNo"], "U2");
}
