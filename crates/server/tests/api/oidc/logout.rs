//! RP-initiated logout: only registered post-logout URIs, an ID token
//! hint of this very sign-in ends the session at once, anything else
//! asks first with a form accepted only from payfac's own origin.

use super::{Client, OidcApp, both, form};

both!(
    a_hint_of_this_sign_in_ends_the_session_and_returns_to_the_rp,
    an_unregistered_post_logout_uri_or_a_forged_hint_is_an_error_page,
    without_a_hint_payfac_asks_and_accepts_only_a_same_origin_confirmation,
);

async fn logout(t: &OidcApp, session: Option<&str>, params: &[(&str, &str)]) -> reqwest::Response {
    t.app
        .get(&format!("/_payfac/oidc/logout?{}", form(params)), session)
        .await
}

async fn id_token(t: &OidcApp, client: &Client, session: &str) -> String {
    let tokens = t.redeem(client, &t.code(client, session).await).await;
    tokens.json["id_token"].as_str().unwrap().to_owned()
}

async fn signed_in(t: &OidcApp, session: &str) -> bool {
    let me = t.app.get("/api/me", Some(session)).await;
    me.status() == 200
}

async fn a_hint_of_this_sign_in_ends_the_session_and_returns_to_the_rp(t: OidcApp) {
    let client = t.register(false, "RS256").await;
    let session = t.signed_in("U1").await;
    let hint = id_token(&t, &client, &session).await;
    let tokens = t.redeem(&client, &t.code(&client, &session).await).await;
    let response = logout(
        &t,
        Some(&session),
        &[
            ("id_token_hint", &hint),
            ("post_logout_redirect_uri", &client.post_logout),
            ("state", "bye 1"),
        ],
    )
    .await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"],
        format!("{}?state=bye+1", client.post_logout)
    );
    let cleared = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|value| value.to_str().unwrap().starts_with("payfac_session=;"));
    assert!(cleared, "the session cookie is cleared");
    assert!(!signed_in(&t, &session).await, "the payfac session ended");
    let info = t
        .userinfo(tokens.json["access_token"].as_str().unwrap())
        .await;
    assert_eq!(info.status, 401, "its access tokens ended with it");

    // Signed out already: straight back, nothing to ask. An EdDSA hint
    // names its client just as well.
    let eddsa = t.register(false, "EdDSA").await;
    let session = t.signed_in("U1").await;
    let hint = id_token(&t, &eddsa, &session).await;
    t.sql("DELETE FROM sessions").await;
    let response = logout(
        &t,
        Some(&session),
        &[
            ("id_token_hint", &hint),
            ("post_logout_redirect_uri", &eddsa.post_logout),
        ],
    )
    .await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], eddsa.post_logout.as_str());
}

async fn an_unregistered_post_logout_uri_or_a_forged_hint_is_an_error_page(t: OidcApp) {
    let client = t.register(false, "RS256").await;
    let other = t.register(false, "RS256").await;
    let session = t.signed_in("U1").await;
    let hint = id_token(&t, &client, &session).await;
    let mut forged: Vec<&str> = hint.split('.').collect();
    let tampered = format!("{}x", forged[2]);
    forged[2] = &tampered;
    let forged = forged.join(".");
    let cases: Vec<Vec<(&str, &str)>> = vec![
        // Another client's URI, an unregistered one, one without a client.
        vec![
            ("id_token_hint", &hint),
            ("post_logout_redirect_uri", &other.post_logout),
        ],
        vec![
            ("client_id", &client.id),
            ("post_logout_redirect_uri", "https://evil.example/"),
        ],
        vec![("post_logout_redirect_uri", &client.post_logout)],
        // A hint payfac did not sign, and a hint naming another client.
        vec![
            ("id_token_hint", &forged),
            ("post_logout_redirect_uri", &client.post_logout),
        ],
        vec![("id_token_hint", &hint), ("client_id", &other.id)],
    ];
    for params in cases {
        let response = logout(&t, Some(&session), &params).await;
        assert_eq!(response.status(), 400, "{params:?}");
        assert!(response.headers().get("location").is_none());
        assert!(response.headers().get("set-cookie").is_none());
    }
    assert!(signed_in(&t, &session).await, "nothing ended");
}

async fn without_a_hint_payfac_asks_and_accepts_only_a_same_origin_confirmation(t: OidcApp) {
    let client = t.register(false, "RS256").await;
    let session = t.signed_in("U1").await;
    let params = [
        ("client_id", client.id.as_str()),
        ("post_logout_redirect_uri", client.post_logout.as_str()),
        ("state", "s1"),
    ];
    // A hint of another buyer's sign-in does not count either.
    let other_session = t.signed_in("U2").await;
    let foreign_hint = id_token(&t, &client, &other_session).await;
    for extra in [None, Some(("id_token_hint", foreign_hint.as_str()))] {
        let mut query = params.to_vec();
        query.extend(extra);
        let page = logout(&t, Some(&session), &query).await;
        assert_eq!(page.status(), 200);
        assert!(page.headers().get("set-cookie").is_none());
        let html = page.text().await.unwrap();
        assert!(html.contains(r#"action="/_payfac/oidc/logout""#), "{html}");
        assert!(html.contains(r#"name="confirm" value="yes""#), "{html}");
        assert!(signed_in(&t, &session).await, "asking ends nothing");
    }

    let post = |cross_site: bool| {
        let mut body = params.to_vec();
        body.push(("confirm", "yes"));
        let request = t
            .app
            .http
            .post(format!("{}/_payfac/oidc/logout", t.app.address))
            .header("cookie", format!("payfac_session={session}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header(
                "sec-fetch-site",
                if cross_site {
                    "cross-site"
                } else {
                    "same-origin"
                },
            )
            .body(form(&body));
        async move { request.send().await.unwrap() }
    };
    let cross = post(true).await;
    assert_eq!(
        cross.status(),
        200,
        "a cross-site confirmation is asked again"
    );
    assert!(signed_in(&t, &session).await);
    let same = post(false).await;
    assert_eq!(same.status(), 303);
    assert_eq!(
        same.headers()["location"],
        format!("{}?state=s1", client.post_logout)
    );
    assert!(!signed_in(&t, &session).await);
}
