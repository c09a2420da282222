//! The authorization code flow as a relying party runs it: discovery,
//! authorize, token (each client authentication), the ID token verified
//! against the JWKS, userinfo; and the provider off.

use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde_json::Value;

use super::{CHALLENGE, ISSUER, OidcApp, VERIFIER, both, redirected, s256};
use crate::helpers::{captured_logs, eventually, spawn_app};

both!(
    discovery_and_jwks_describe_the_provider,
    a_confidential_client_gets_verified_tokens_and_userinfo,
    a_public_client_with_pkce_gets_an_eddsa_id_token,
    client_secret_post_authenticates_too,
    scopes_decide_the_claims,
);

async fn discovery_and_jwks_describe_the_provider(t: OidcApp) {
    let response = t.app.get("/.well-known/openid-configuration", None).await;
    assert_eq!(response.status(), 200);
    let document: Value = response.json().await.unwrap();
    assert_eq!(document["issuer"], ISSUER);
    for (key, path) in [
        ("authorization_endpoint", "/_payfac/oidc/authorize"),
        ("token_endpoint", "/_payfac/oidc/token"),
        ("userinfo_endpoint", "/_payfac/oidc/userinfo"),
        ("end_session_endpoint", "/_payfac/oidc/logout"),
        ("jwks_uri", "/.well-known/jwks.json"),
    ] {
        assert_eq!(document[key], format!("{ISSUER}{path}"), "{key}");
    }
    let list = |key: &str| document[key].clone();
    assert_eq!(
        list("response_types_supported"),
        serde_json::json!(["code"])
    );
    assert_eq!(
        list("response_modes_supported"),
        serde_json::json!(["query"])
    );
    assert_eq!(
        list("grant_types_supported"),
        serde_json::json!(["authorization_code"])
    );
    assert_eq!(
        list("subject_types_supported"),
        serde_json::json!(["public"])
    );
    assert_eq!(
        list("id_token_signing_alg_values_supported"),
        serde_json::json!(["RS256", "EdDSA"])
    );
    assert_eq!(
        list("code_challenge_methods_supported"),
        serde_json::json!(["S256"])
    );
    assert_eq!(
        list("scopes_supported"),
        serde_json::json!(["openid", "profile", "email"])
    );
    assert_eq!(
        list("token_endpoint_auth_methods_supported"),
        serde_json::json!(["client_secret_basic", "client_secret_post", "none"])
    );
    assert_eq!(
        document["authorization_response_iss_parameter_supported"],
        true
    );
    assert_eq!(
        list("prompt_values_supported"),
        serde_json::json!(["none", "login"])
    );
    for claim in [
        "sub",
        "auth_time",
        "nonce",
        "merchant",
        "merchant_user_no",
        "email",
        "name",
    ] {
        assert!(
            document["claims_supported"]
                .as_array()
                .unwrap()
                .contains(&claim.into()),
            "{claim}"
        );
    }

    let set = t.jwks().await;
    let algs: Vec<String> = set
        .keys
        .iter()
        .map(|key| format!("{:?}", key.common.key_algorithm.unwrap()))
        .collect();
    assert_eq!(algs, ["EdDSA", "RS256"], "the Ed25519 and RS256 keys");
    let raw: Value = t
        .app
        .get("/.well-known/jwks.json", None)
        .await
        .json()
        .await
        .unwrap();
    for key in raw["keys"].as_array().unwrap() {
        assert_eq!(key["use"], "sig");
        assert!(
            key["kid"].as_str().is_some_and(|kid| kid.len() == 43),
            "{key}"
        );
        assert!(
            key.get("d").is_none() && key.get("p").is_none(),
            "no private part: {key}"
        );
    }
}

async fn a_confidential_client_gets_verified_tokens_and_userinfo(t: OidcApp) {
    let client = t.register(false, "RS256").await;
    let session = t.signed_in("U1").await;
    let response = t.authorize_as(&client, Some(&session), &[]).await;
    let answer = redirected(&response, &client.redirect_uri);
    assert_eq!(
        (answer["state"].as_str(), answer["iss"].as_str()),
        ("af0ifjsldkj", ISSUER)
    );
    let code = &answer["code"];
    assert_eq!(code.len(), 43);

    let issued_at = payfac_store::unix_now();
    let tokens = t.redeem(&client, code).await;
    assert_eq!(tokens.status, 200, "{}", tokens.json);
    assert_eq!(tokens.headers["cache-control"], "no-store");
    assert_eq!(tokens.json["token_type"], "Bearer");
    assert_eq!(tokens.json["expires_in"], 600);
    assert_eq!(tokens.json["scope"], "openid profile email");
    let id_token = tokens.json["id_token"].as_str().unwrap();
    let claims = t.verify(id_token, &client, Algorithm::RS256).await;
    let me: Value = t
        .app
        .get("/api/me", Some(&session))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        claims["sub"], me["userId"],
        "sub is the buyer's userId: {claims}"
    );
    assert_eq!(
        (claims["aud"].as_str(), claims["azp"].as_str()),
        (Some(client.id.as_str()), Some(client.id.as_str()))
    );
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(claims["merchant"], "MERCHANT001");
    assert_eq!(claims["merchant_user_no"], "U1");
    assert_eq!(claims["email"], "U1@example.com");
    assert_eq!(claims["email_verified"], false);
    let (iat, exp, auth_time) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
        claims["auth_time"].as_i64().unwrap(),
    );
    assert!(
        iat >= issued_at - 1 && exp - iat == 300,
        "exp at most 5 minutes: {claims}"
    );
    assert!(auth_time <= iat && auth_time >= issued_at - 60, "{claims}");

    let access_token = tokens.json["access_token"].as_str().unwrap();
    let info = t.userinfo(access_token).await;
    assert_eq!(info.status, 200, "{}", info.json);
    assert_eq!(info.headers["cache-control"], "no-store");
    assert_eq!(info.json["sub"], claims["sub"]);
    assert_eq!(info.json["merchant_user_no"], "U1");
    assert_eq!(info.json["email"], "U1@example.com");

    // Neither the code, the tokens, the secret nor the verifier is logged.
    let logs = captured_logs();
    let secret = client.secret.as_deref().unwrap();
    for value in [
        code.as_str(),
        access_token,
        id_token,
        secret,
        VERIFIER,
        &session,
    ] {
        assert!(!logs.contains(value), "logged: {value}");
    }
}

async fn a_public_client_with_pkce_gets_an_eddsa_id_token(t: OidcApp) {
    let client = t.register(true, "EdDSA").await;
    assert!(client.secret.is_none());
    let session = t.signed_in("U2").await;
    let code = t.code(&client, &session).await;
    let tokens = t.redeem(&client, &code).await;
    assert_eq!(tokens.status, 200, "{}", tokens.json);
    let claims = t
        .verify(
            tokens.json["id_token"].as_str().unwrap(),
            &client,
            Algorithm::EdDSA,
        )
        .await;
    assert_eq!(claims["merchant_user_no"], "U2");
}

async fn client_secret_post_authenticates_too(t: OidcApp) {
    let client = t.register(false, "RS256").await;
    let session = t.signed_in("U1").await;
    let code = t.code(&client, &session).await;
    let tokens = t
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &client.redirect_uri),
                ("code_verifier", VERIFIER),
                ("client_id", &client.id),
                ("client_secret", client.secret.as_deref().unwrap()),
            ],
            None,
        )
        .await;
    assert_eq!(tokens.status, 200, "{}", tokens.json);
    assert!(tokens.json["id_token"].is_string());
}

async fn scopes_decide_the_claims(t: OidcApp) {
    let client = t.register(false, "RS256").await;
    let session = t.signed_in("U1").await;
    // A confidential client may leave PKCE out; unknown scopes are ignored.
    let response = t
        .authorize_as(
            &client,
            Some(&session),
            &[
                ("scope", "openid offline_access"),
                ("code_challenge", ""),
                ("code_challenge_method", ""),
            ],
        )
        .await;
    let code = redirected(&response, &client.redirect_uri)["code"].clone();
    let tokens = t
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &client.redirect_uri),
            ],
            Some((&client.id, client.secret.as_deref().unwrap())),
        )
        .await;
    assert_eq!(tokens.status, 200, "{}", tokens.json);
    assert_eq!(tokens.json["scope"], "openid");
    let claims = t
        .verify(
            tokens.json["id_token"].as_str().unwrap(),
            &client,
            Algorithm::RS256,
        )
        .await;
    for absent in ["email", "email_verified", "name", "given_name"] {
        assert!(
            claims.get(absent).is_none(),
            "{absent} without its scope: {claims}"
        );
    }
    assert_eq!(claims["merchant_user_no"], "U1");
    let info = t
        .userinfo(tokens.json["access_token"].as_str().unwrap())
        .await;
    assert!(
        info.json.get("email").is_none() && info.json["sub"].is_string(),
        "{}",
        info.json
    );
}

/// Without `--public-url` every provider path answers 404, the
/// discovery document included, and the JWKS has no RS256 key.
#[tokio::test]
async fn the_provider_is_off_without_a_public_url() {
    let app = spawn_app().await;
    for path in [
        "/.well-known/openid-configuration",
        "/_payfac/oidc/authorize?client_id=x&redirect_uri=https://x.example/cb",
        "/_payfac/oidc/userinfo",
        "/_payfac/oidc/logout",
    ] {
        assert_eq!(app.get(path, None).await.status(), 404, "{path}");
    }
    let token = app
        .http
        .post(format!("{}/_payfac/oidc/token", app.address))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=authorization_code")
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 404);
    let set: Value = app
        .get("/.well-known/jwks.json", None)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        set["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|key| key["alg"] == "EdDSA"),
        "{set}"
    );
}

/// `identity-key rotate --rs256`: the new RS256 key is published, then
/// signs; ID tokens of the old one still verify.
#[tokio::test]
async fn a_rotated_rs256_key_signs_after_its_lead_and_the_old_one_stays_published() {
    let t = OidcApp::sqlite_with(|config| {
        config.identity_key_lead = Duration::ZERO;
        config.identity_key_refresh = Duration::from_millis(100);
    })
    .await;
    let client = t.register(false, "RS256").await;
    let session = t.signed_in("U1").await;
    let id_token = |json: &Value| json["id_token"].as_str().unwrap().to_owned();
    let kid = |token: &str| jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
    let old = id_token(
        &t.redeem(&client, &t.code(&client, &session).await)
            .await
            .json,
    );
    let new_kid = payfac_server::identity::rotate_kind(
        t.app.store.as_ref(),
        payfac_server::identity::KeyKind::Oidc,
        payfac_store::unix_now(),
    )
    .await
    .unwrap();
    assert_ne!(new_kid, kid(&old));
    let switched = eventually(Duration::from_secs(5), || async {
        let tokens = t.redeem(&client, &t.code(&client, &session).await).await;
        kid(&id_token(&tokens.json)) == new_kid
    })
    .await;
    assert!(switched, "ID tokens are signed with the rotated-in key");
    t.verify(&old, &client, Algorithm::RS256).await;
    assert_eq!(s256(VERIFIER), CHALLENGE);
}
