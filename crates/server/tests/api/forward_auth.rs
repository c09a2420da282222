//! Forward auth (`/_payfac/auth`): each answer a proxy's sub-request can
//! get, with the original request described in headers as nginx, Caddy
//! and Traefik send it.

use crate::gateway::verify;
use crate::helpers::{TestApp, session_set_by, spawn_app, spawn_app_with};

/// The sub-request for an original `GET uri`, as Caddy sends it.
async fn auth(app: &TestApp, uri: &str, extra: &[(&str, &str)]) -> reqwest::Response {
    let mut request = app
        .http
        .get(format!("{}/_payfac/auth", app.address))
        .header("x-forwarded-method", "GET")
        .header("x-forwarded-uri", uri)
        .header("x-forwarded-host", "shop.example")
        .header("x-forwarded-proto", "https");
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

fn cookie(session: &str) -> String {
    format!("payfac_session={session}")
}

fn payfac_headers(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .keys()
        .map(|name| name.as_str().to_owned())
        .filter(|name| name.starts_with("x-payfac-"))
        .collect()
}

/// Signs a buyer in through the sub-request; the session.
async fn signed_in(app: &TestApp, merchant_user_no: &str) -> String {
    let code = app.code_for(merchant_user_no).await;
    let response = auth(app, &format!("/shop?authorizationCode={code}"), &[]).await;
    assert_eq!(response.status(), 303);
    session_set_by(&response).expect("the code signs in")
}

#[tokio::test]
async fn a_code_in_the_original_uri_signs_in_and_redirects_to_the_clean_url() {
    let app = spawn_app().await;
    let code = app.code_for("U1").await;
    let response = auth(
        &app,
        &format!("/catalog/item?ref=mail&authorizationCode={code}&lang=en"),
        &[],
    )
    .await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"],
        "/catalog/item?ref=mail&lang=en"
    );
    assert_eq!(response.headers()["referrer-policy"], "no-referrer");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let session = session_set_by(&response).expect("a session cookie");
    assert!(payfac_headers(&response).is_empty());

    // Single use: the same code again signs nobody in.
    let again = auth(&app, &format!("/x?authorizationCode={code}"), &[]).await;
    assert_eq!(again.status(), 303);
    assert_eq!(again.headers()["location"], "/x");
    assert_eq!(session_set_by(&again), None);

    // nginx's header name works the same way, and the session is live.
    let response = app
        .http
        .get(format!("{}/_payfac/auth", app.address))
        .header("x-original-uri", "/orders")
        .header("cookie", cookie(&session))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-payfac-merchant-user-no"], "U1");
}

#[tokio::test]
async fn a_live_session_gets_the_identity_headers_and_a_verifiable_token() {
    let app = spawn_app().await;
    let session = signed_in(&app, "U2").await;
    let response = auth(&app, "/account", &[("cookie", &cookie(&session))]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let headers = response.headers();
    assert_eq!(headers["x-payfac-merchant"], "MERCHANT001");
    assert_eq!(headers["x-payfac-merchant-user-no"], "U2");
    assert_eq!(headers["x-payfac-email"], "U2@example.com");
    let token = headers["x-payfac-identity"].to_str().unwrap().to_owned();
    let claims = verify(&app, &token).await.expect("the token verifies");
    assert_eq!(claims["merchant_user_no"], "U2", "{claims}");
    assert_eq!(
        claims["sub"].as_str().unwrap(),
        headers["x-payfac-user-id"].to_str().unwrap()
    );
}

#[tokio::test]
async fn without_a_session_public_pages_pass_and_buyers_only_pages_are_refused() {
    let app = spawn_app_with(|config| {
        config.require_session_prefixes = vec!["/account".into(), "/orders/".into()];
    })
    .await;
    for uri in ["/", "/items/1?x=1", "/accounts", "/public/page"] {
        let response = auth(&app, uri, &[]).await;
        assert_eq!(response.status(), 200, "{uri}");
        assert!(payfac_headers(&response).is_empty(), "{uri}");
    }
    for uri in [
        "/account",
        "/account/settings?tab=1",
        "/orders",
        "/orders/7",
        "/public/../account",
        "/%61ccount",
        "//account",
    ] {
        let response = auth(&app, uri, &[]).await;
        assert_eq!(response.status(), 401, "{uri}");
        assert!(payfac_headers(&response).is_empty(), "{uri}");
    }
    // A session that is not live counts as none.
    let response = auth(&app, "/account", &[("cookie", "payfac_session=forged")]).await;
    assert_eq!(response.status(), 401);

    // Signed in, the buyers-only pages pass with the identity.
    let session = signed_in(&app, "U3").await;
    let response = auth(&app, "/account", &[("cookie", &cookie(&session))]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-payfac-merchant-user-no"], "U3");

    // After logout, refused again.
    let logout = app
        .http
        .post(format!("{}/_payfac/logout", app.address))
        .header("cookie", cookie(&session))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 303);
    let response = auth(&app, "/account", &[("cookie", &cookie(&session))]).await;
    assert_eq!(response.status(), 401);
    assert!(payfac_headers(&response).is_empty());
}

#[tokio::test]
async fn client_identity_headers_are_never_echoed_back() {
    let app = spawn_app().await;
    let spoofed = [
        ("x-payfac-user-id", "1"),
        ("x-payfac-merchant-user-no", "ADMIN"),
        ("x-payfac-identity", "forged"),
    ];
    let response = auth(&app, "/", &spoofed).await;
    assert_eq!(response.status(), 200);
    assert!(payfac_headers(&response).is_empty());

    let session = signed_in(&app, "U4").await;
    let cookie = cookie(&session);
    let mut headers = spoofed.to_vec();
    headers.push(("cookie", &cookie));
    let response = auth(&app, "/", &headers).await;
    assert_eq!(response.headers()["x-payfac-merchant-user-no"], "U4");
    assert_eq!(
        response
            .headers()
            .get_all("x-payfac-user-id")
            .iter()
            .count(),
        1
    );
    assert_ne!(response.headers()["x-payfac-identity"], "forged");
}

#[tokio::test]
async fn an_x_payfac_header_payfac_never_issues_is_refused() {
    // nginx overwrites the names payfac issues but cannot remove others.
    let app = spawn_app().await;
    let response = auth(&app, "/", &[("x-payfac-role", "admin")]).await;
    assert_eq!(response.status(), 403);
    assert!(payfac_headers(&response).is_empty());
    let response = auth(&app, "/", &[("x-payfacade", "not ours")]).await;
    assert_eq!(response.status(), 200);
}

/// Second review, finding 5: the underscore spelling of a name payfac
/// issues is refused too (a CGI-style app reads `X_Payfac_User_Id` as
/// `X-Payfac-User-Id`, and nginx overwrites only the hyphenated one).
#[tokio::test]
async fn an_underscore_spelled_x_payfac_header_is_refused() {
    let app = spawn_app().await;
    for name in [
        "X_Payfac_User_Id",
        "x_payfac_email",
        "X-Payfac_Identity",
        "x_PAYFAC_role",
    ] {
        let response = auth(&app, "/", &[(name, "4242")]).await;
        assert_eq!(response.status(), 403, "{name}");
        assert!(payfac_headers(&response).is_empty(), "{name}");
    }
}

/// Second review, findings 4 and 10: the client's own `X-Forwarded-Uri`
/// beside the proxy's `X-Original-URI` is refused rather than believed,
/// and case or `;` path parameters are no way around a buyers-only prefix.
#[tokio::test]
async fn a_second_description_of_the_uri_case_and_path_parameters_open_no_prefix() {
    let app = spawn_app_with(|config| {
        config.require_session_prefixes = vec!["/account".into()];
    })
    .await;
    let nginx_style = |forwarded: &'static str| {
        app.http
            .get(format!("{}/_payfac/auth", app.address))
            .header("x-original-uri", "/account/orders")
            .header("x-forwarded-uri", forwarded)
            .send()
    };
    assert_eq!(nginx_style("/").await.unwrap().status(), 403);
    assert_eq!(nginx_style("/account/orders").await.unwrap().status(), 401);
    for uri in [
        "/ACCOUNT/orders",
        "/account;x=1",
        "/public/..;/account",
        "/Account%3Bjs",
    ] {
        assert_eq!(auth(&app, uri, &[]).await.status(), 401, "{uri}");
    }
    assert_eq!(auth(&app, "/accounts;x=1", &[]).await.status(), 200);
}

#[tokio::test]
async fn a_code_is_only_redeemed_for_a_get() {
    let app = spawn_app().await;
    let code = app.code_for("U5").await;
    let response = app
        .http
        .get(format!("{}/_payfac/auth", app.address))
        .header("x-forwarded-method", "POST")
        .header("x-forwarded-uri", format!("/form?authorizationCode={code}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(session_set_by(&response), None);
    // Still unspent: a GET redeems it.
    let response = auth(&app, &format!("/form?authorizationCode={code}"), &[]).await;
    assert_eq!(response.status(), 303);
    assert!(session_set_by(&response).is_some());
}

#[tokio::test]
async fn another_buyers_code_on_a_signed_in_browser_asks_for_consent() {
    let app = spawn_app().await;
    let session = signed_in(&app, "U6").await;
    let code = app.code_for("U7").await;
    let response = auth(
        &app,
        &format!("/shop?authorizationCode={code}"),
        &[("cookie", &cookie(&session))],
    )
    .await;
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with("/_payfac/sign-in/confirm"),
        "{location}"
    );
}

#[tokio::test]
async fn the_sub_requests_own_query_is_not_the_sign_in() {
    // Caddy's forward_auth rewrites the path to /_payfac/auth and keeps
    // the browser's query: the code is redeemed once, for the original
    // path, never for /_payfac/auth.
    let app = spawn_app().await;
    let code = app.code_for("U8").await;
    let response = app
        .http
        .get(format!(
            "{}/_payfac/auth?ref=mail&authorizationCode={code}",
            app.address
        ))
        .header("x-forwarded-method", "GET")
        .header(
            "x-forwarded-uri",
            format!("/welcome?ref=mail&authorizationCode={code}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/welcome?ref=mail");
    assert!(session_set_by(&response).is_some());
}

#[tokio::test]
async fn envoy_style_sub_requests_carry_the_original_path_and_method() {
    // ext_authz's HTTP service: path_prefix + the original path and
    // query, the original method, no X-Forwarded-Uri.
    let app =
        spawn_app_with(|config| config.require_session_prefixes = vec!["/account".into()]).await;
    let code = app.code_for("U9").await;
    let response = app
        .get(
            &format!("/_payfac/auth/welcome?ref=mail&authorizationCode={code}"),
            None,
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/welcome?ref=mail");
    let session = session_set_by(&response).expect("signed in");
    let response = app.get("/_payfac/auth/account/x", Some(&session)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-payfac-merchant-user-no"], "U9");
    let response = app.get("/_payfac/auth/account/x", None).await;
    assert_eq!(response.status(), 401);
    // A POST with a code in its query is not a sign-in.
    let code = app.code_for("U9").await;
    let response = app
        .http
        .post(format!(
            "{}/_payfac/auth/form?authorizationCode={code}",
            app.address
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(session_set_by(&response), None);
}
