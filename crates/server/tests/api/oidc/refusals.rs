//! Every refusal rule of the authorization, token and userinfo endpoints,
//! one test each (RFC 6749, RFC 7636, RFC 9207, RFC 9700).

use payfac_server::ratelimit::RateLimits;

use super::{OidcApp, VERIFIER, assert_error_redirect, both, redirected};

both!(
    an_unknown_client_or_redirect_uri_is_an_error_page_never_a_redirect,
    a_public_client_must_use_pkce_and_plain_is_refused,
    unsupported_requests_are_errors_with_iss,
    without_a_session_or_a_fresh_sign_in_the_answer_is_login_required,
    a_wrong_or_missing_verifier_is_invalid_grant,
    a_reused_code_is_refused_and_revokes_its_tokens,
    a_code_of_one_client_is_refused_to_another,
    an_expired_code_is_invalid_grant,
    bad_client_credentials_are_invalid_client,
    malformed_token_requests_are_invalid_request,
    userinfo_refuses_bad_expired_and_revoked_tokens,
);

async fn an_unknown_client_or_redirect_uri_is_an_error_page_never_a_redirect(t: OidcApp) {
    let client = t.register(false, "RS256").await;
    let session = t.signed_in("U1").await;
    let near_misses = [
        format!("{}/", client.redirect_uri),
        client.redirect_uri.to_uppercase(),
        format!("{}?x=1", client.redirect_uri),
        "https://evil.example/callback".to_owned(),
    ];
    let mut cases: Vec<Vec<(&str, &str)>> = vec![
        vec![("client_id", "no-such-client")],
        vec![("client_id", "")],
        vec![("redirect_uri", "")],
    ];
    for uri in &near_misses {
        cases.push(vec![("redirect_uri", uri.as_str())]);
    }
    for extra in cases {
        let response = t.authorize_as(&client, Some(&session), &extra).await;
        assert_eq!(response.status(), 400, "{extra:?}");
        assert!(response.headers().get("location").is_none(), "{extra:?}");
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(content_type.starts_with("text/html"), "{content_type}");
        let page = response.text().await.unwrap();
        assert!(
            !page.contains("evil.example"),
            "nothing of the request is linked"
        );
    }
    // A repeated client_id or redirect_uri is an error page as well.
    let repeated = t
        .authorize(
            Some(&session),
            &[
                ("client_id", &client.id),
                ("client_id", &client.id),
                ("redirect_uri", &client.redirect_uri),
            ],
        )
        .await;
    assert_eq!(repeated.status(), 400);
}

async fn a_public_client_must_use_pkce_and_plain_is_refused(t: OidcApp) {
    let public = t.register(true, "RS256").await;
    let confidential = t.register(false, "RS256").await;
    let session = t.signed_in("U1").await;
    let no_pkce = [("code_challenge", ""), ("code_challenge_method", "")];
    let response = t.authorize_as(&public, Some(&session), &no_pkce).await;
    assert_error_redirect(&response, &public, "invalid_request");
    for client in [&public, &confidential] {
        for extra in [
            &[
                ("code_challenge_method", "plain"),
                ("code_challenge", VERIFIER),
            ][..],
            &[("code_challenge_method", "")][..],
            &[("code_challenge", "")][..],
            &[("code_challenge", "short")][..],
        ] {
            let response = t.authorize_as(client, Some(&session), extra).await;
            assert_error_redirect(&response, client, "invalid_request");
        }
    }
}

async fn unsupported_requests_are_errors_with_iss(t: OidcApp) {
    let client = t.register(false, "RS256").await;
    let session = t.signed_in("U1").await;
    for (extra, error) in [
        (
            &[("response_type", "token")][..],
            "unsupported_response_type",
        ),
        (
            &[("response_type", "code id_token")][..],
            "unsupported_response_type",
        ),
        (&[("response_type", "")][..], "invalid_request"),
        (&[("scope", "profile email")][..], "invalid_scope"),
        (&[("response_mode", "fragment")][..], "invalid_request"),
        (&[("request", "eyJ.x.y")][..], "request_not_supported"),
        (
            &[("request_uri", "https://x.example/r")][..],
            "request_uri_not_supported",
        ),
        (&[("max_age", "soon")][..], "invalid_request"),
        (&[("prompt", "none login")][..], "invalid_request"),
    ] {
        let response = t.authorize_as(&client, Some(&session), extra).await;
        assert_error_redirect(&response, &client, error);
    }
    // A repeated parameter other than the client's and redirect URI.
    let response = t
        .authorize(
            Some(&session),
            &[
                ("client_id", &client.id),
                ("redirect_uri", &client.redirect_uri),
                ("state", "af0ifjsldkj"),
                ("scope", "openid"),
                ("scope", "openid"),
            ],
        )
        .await;
    assert_error_redirect(&response, &client, "invalid_request");
}

async fn without_a_session_or_a_fresh_sign_in_the_answer_is_login_required(t: OidcApp) {
    let client = t.register(false, "RS256").await;
    for extra in [&[][..], &[("prompt", "none")][..]] {
        let response = t.authorize_as(&client, None, extra).await;
        assert_error_redirect(&response, &client, "login_required");
        let response = t.authorize_as(&client, Some("not-a-session"), extra).await;
        assert_error_redirect(&response, &client, "login_required");
    }
    let session = t.signed_in("U1").await;
    let response = t
        .authorize_as(&client, Some(&session), &[("prompt", "login")])
        .await;
    assert_error_redirect(&response, &client, "login_required");
    // max_age: fine while the sign-in is younger, login_required after.
    let response = t
        .authorize_as(&client, Some(&session), &[("max_age", "3600")])
        .await;
    assert!(redirected(&response, &client.redirect_uri).contains_key("code"));
    t.sql("UPDATE sessions SET created_at = created_at - 120")
        .await;
    let response = t
        .authorize_as(&client, Some(&session), &[("max_age", "60")])
        .await;
    assert_error_redirect(&response, &client, "login_required");
    // An ended session is no session.
    t.sql("DELETE FROM sessions").await;
    let response = t
        .authorize_as(&client, Some(&session), &[("prompt", "none")])
        .await;
    assert_error_redirect(&response, &client, "login_required");
}

async fn a_wrong_or_missing_verifier_is_invalid_grant(t: OidcApp) {
    for public in [true, false] {
        let client = t.register(public, "RS256").await;
        let session = t.signed_in("U1").await;
        for verifier in [Some("A".repeat(43)), None] {
            let code = t.code(&client, &session).await;
            let mut params = vec![
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", client.redirect_uri.as_str()),
            ];
            if let Some(verifier) = &verifier {
                params.push(("code_verifier", verifier));
            }
            let basic = client
                .secret
                .as_deref()
                .map(|secret| (client.id.as_str(), secret));
            if basic.is_none() {
                params.push(("client_id", &client.id));
            }
            t.token(&params, basic)
                .await
                .assert_error(400, "invalid_grant");
            // The code is spent by the failed attempt.
            t.redeem(&client, &code)
                .await
                .assert_error(400, "invalid_grant");
        }
    }
}

async fn a_reused_code_is_refused_and_revokes_its_tokens(t: OidcApp) {
    let client = t.register(false, "RS256").await;
    let session = t.signed_in("U1").await;
    let code = t.code(&client, &session).await;
    let first = t.redeem(&client, &code).await;
    assert_eq!(first.status, 200);
    let access_token = first.json["access_token"].as_str().unwrap();
    assert_eq!(t.userinfo(access_token).await.status, 200);
    t.redeem(&client, &code)
        .await
        .assert_error(400, "invalid_grant");
    let revoked = t.userinfo(access_token).await;
    assert_eq!(revoked.status, 401, "the first use's token is revoked");
}

async fn a_code_of_one_client_is_refused_to_another(t: OidcApp) {
    let a = t.register(false, "RS256").await;
    let b = t.register(false, "RS256").await;
    let session = t.signed_in("U1").await;
    let code = t.code(&a, &session).await;
    // B authenticates properly and presents A's code with A's redirect URI.
    let injected = t
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &a.redirect_uri),
                ("code_verifier", VERIFIER),
            ],
            Some((&b.id, b.secret.as_deref().unwrap())),
        )
        .await;
    injected.assert_error(400, "invalid_grant");
    // And a code sent back with another redirect URI than it was issued to.
    let code = t.code(&a, &session).await;
    let other = super::Client {
        redirect_uri: b.redirect_uri.clone(),
        ..a
    };
    t.redeem(&other, &code)
        .await
        .assert_error(400, "invalid_grant");
}

async fn an_expired_code_is_invalid_grant(t: OidcApp) {
    let client = t.register(false, "RS256").await;
    let session = t.signed_in("U1").await;
    let code = t.code(&client, &session).await;
    t.sql("UPDATE oidc_codes SET expires_at = expires_at - 61")
        .await;
    t.redeem(&client, &code)
        .await
        .assert_error(400, "invalid_grant");
    let unknown = t.redeem(&client, &"x".repeat(43)).await;
    unknown.assert_error(400, "invalid_grant");
}

async fn bad_client_credentials_are_invalid_client(t: OidcApp) {
    let client = t.register(false, "RS256").await;
    let public = t.register(true, "RS256").await;
    let session = t.signed_in("U1").await;
    let code = t.code(&client, &session).await;
    let params = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", client.redirect_uri.as_str()),
        ("code_verifier", VERIFIER),
    ];
    let wrong = t.token(&params, Some((&client.id, "wrong-secret"))).await;
    wrong.assert_error(401, "invalid_client");
    assert!(
        wrong.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    let unknown = t.token(&params, Some(("nobody", "secret"))).await;
    unknown.assert_error(401, "invalid_client");
    // A confidential client without its secret, a public one with one.
    let mut without = params.to_vec();
    without.push(("client_id", &client.id));
    t.token(&without, None)
        .await
        .assert_error(401, "invalid_client");
    let mut posted = params.to_vec();
    posted.extend([("client_id", public.id.as_str()), ("client_secret", "x")]);
    t.token(&posted, None)
        .await
        .assert_error(401, "invalid_client");
    // None of these spent the code.
    assert_eq!(t.redeem(&client, &code).await.status, 200);
}

async fn malformed_token_requests_are_invalid_request(t: OidcApp) {
    let client = t.register(false, "RS256").await;
    let secret = client.secret.as_deref().unwrap();
    let basic = Some((client.id.as_str(), secret));
    let session = t.signed_in("U1").await;
    let code = t.code(&client, &session).await;
    let grant = ("grant_type", "authorization_code");
    let with_code = ("code", code.as_str());
    let redirect = ("redirect_uri", client.redirect_uri.as_str());
    t.token(&[with_code, redirect], basic)
        .await
        .assert_error(400, "invalid_request");
    t.token(&[("grant_type", "password"), with_code, redirect], basic)
        .await
        .assert_error(400, "unsupported_grant_type");
    t.token(&[grant, redirect], basic)
        .await
        .assert_error(400, "invalid_request");
    t.token(
        &[grant, with_code, redirect, ("code_verifier", "short")],
        basic,
    )
    .await
    .assert_error(400, "invalid_request");
    t.token(&[grant, with_code, with_code, redirect], basic)
        .await
        .assert_error(400, "invalid_request");
    // Two authentication methods at once.
    t.token(
        &[grant, with_code, redirect, ("client_secret", secret)],
        basic,
    )
    .await
    .assert_error(400, "invalid_request");
    let json = t
        .app
        .http
        .post(format!("{}/_payfac/oidc/token", t.app.address))
        .json(&serde_json::json!({"grant_type": "authorization_code"}))
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), 400);
}

async fn userinfo_refuses_bad_expired_and_revoked_tokens(t: OidcApp) {
    let client = t.register(false, "RS256").await;
    let session = t.signed_in("U1").await;
    let tokens = t.redeem(&client, &t.code(&client, &session).await).await;
    let access_token = tokens.json["access_token"].as_str().unwrap().to_owned();
    assert_eq!(t.userinfo(&access_token).await.status, 200);

    let bad = t.userinfo("not-a-token").await;
    assert_eq!(bad.status, 401);
    assert!(
        bad.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    let missing = t.app.get("/_payfac/oidc/userinfo", None).await;
    assert_eq!(missing.status(), 401);
    assert_eq!(missing.headers()["www-authenticate"], "Bearer");
    // The ID token is no access token.
    let id_token = tokens.json["id_token"].as_str().unwrap();
    assert_eq!(t.userinfo(id_token).await.status, 401);

    t.sql("UPDATE oidc_access_tokens SET expires_at = expires_at - 601")
        .await;
    assert_eq!(t.userinfo(&access_token).await.status, 401, "expired");

    // Revoked: the buyer's payfac session ended.
    let tokens = t.redeem(&client, &t.code(&client, &session).await).await;
    let access_token = tokens.json["access_token"].as_str().unwrap();
    assert_eq!(t.userinfo(access_token).await.status, 200);
    t.sql("DELETE FROM sessions").await;
    assert_eq!(t.userinfo(access_token).await.status, 401, "session ended");
}

/// Refused token requests count against the client like refused sign-in
/// codes: past the burst, 429 with `Retry-After` before any work.
#[tokio::test]
async fn refused_token_requests_are_rate_limited() {
    let t = OidcApp::sqlite_with(|config| {
        config.rate_limits = RateLimits::parse("1/s:3,5000/s:50000").unwrap();
    })
    .await;
    let client = t.register(false, "RS256").await;
    let params = [
        ("grant_type", "authorization_code"),
        ("code", "guess"),
        ("redirect_uri", client.redirect_uri.as_str()),
    ];
    let basic = Some((client.id.as_str(), client.secret.as_deref().unwrap()));
    for _ in 0..3 {
        t.token(&params, basic)
            .await
            .assert_error(400, "invalid_grant");
    }
    let mut limited = t.token(&params, basic).await;
    for _ in 0..5 {
        if limited.status == 429 {
            break;
        }
        limited = t.token(&params, basic).await;
    }
    assert_eq!(limited.status, 429, "{}", limited.json);
    assert!(limited.headers.contains_key("retry-after"));
    assert_eq!(limited.headers["cache-control"], "no-store");
}
