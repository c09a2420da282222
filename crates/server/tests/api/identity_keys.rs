//! The identity-signing keys across instances and rotations: one key for
//! every instance on a database, JWKS with `kid`s, and a rotation that
//! keeps old tokens verifiable while new ones use the new key.

use std::time::Duration;

use payfac_server::Config;

use crate::gateway::{echo, gateway_to, jwks, received, sign_in, verify};
use crate::helpers::{TestApp, eventually};
use crate::upstream::Upstream;

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

async fn token(app: &TestApp, session: &str) -> String {
    let echoed = echo(
        app,
        "/page",
        &[("cookie", &format!("payfac_session={session}"))],
    )
    .await;
    received(&echoed, "x-payfac-identity").unwrap().to_owned()
}

fn fast_keys(config: &mut Config) {
    config.identity_key_lead = Duration::ZERO;
    config.identity_key_refresh = Duration::from_millis(100);
}

#[tokio::test]
async fn the_jwks_is_a_jwk_set_with_kids_and_no_private_parts() {
    let upstream = Upstream::start().await;
    let app = gateway_to(&upstream.url, |_| {}).await;
    let response = app.get("/.well-known/jwks.json", None).await;
    assert!(
        response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("public, max-age=")
    );
    let set: serde_json::Value = response.json().await.unwrap();
    let keys = set["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{set}");
    assert_eq!(keys[0]["kty"], "OKP");
    assert_eq!(keys[0]["crv"], "Ed25519");
    assert_eq!(keys[0]["alg"], "EdDSA");
    assert_eq!(keys[0]["use"], "sig");
    assert!(keys[0]["kid"].as_str().is_some_and(|kid| kid.len() == 43));
    assert!(keys[0].get("d").is_none(), "no private part: {set}");
}

#[tokio::test]
async fn every_instance_on_one_database_signs_with_a_key_all_publish() {
    let upstream = Upstream::start().await;
    let first = gateway_to(&upstream.url, |_| {}).await;
    let url = upstream.url.clone();
    let second = first
        .another_instance(|config| config.upstream = Some(url.parse().unwrap()))
        .await;
    let session = sign_in(&first, "U1").await;
    // A session of one instance works on the other, and either's token
    // verifies against the other's JWKS.
    let from_second = token(&second, &session).await;
    let from_first = token(&first, &session).await;
    assert_eq!(kid_of(&from_first), kid_of(&from_second));
    assert!(verify(&first, &from_second).await.is_ok());
    assert!(verify(&second, &from_first).await.is_ok());
    assert_eq!(
        serde_json::to_value(jwks(&first).await).unwrap(),
        serde_json::to_value(jwks(&second).await).unwrap()
    );
}

#[tokio::test]
async fn after_a_rotation_new_tokens_use_the_new_key_and_old_ones_still_verify() {
    let upstream = Upstream::start().await;
    let app = gateway_to(&upstream.url, fast_keys).await;
    let session = sign_in(&app, "U1").await;
    let old_token = token(&app, &session).await;
    let old_kid = kid_of(&old_token);

    // The CLI's rotation, on its own connection to the database.
    let cli_store = payfac_store::open(&format!("sqlite://{}", app.db_path.display()))
        .await
        .unwrap();
    let new_kid = payfac_server::identity::rotate(cli_store.as_ref(), payfac_store::unix_now())
        .await
        .unwrap();
    assert_ne!(new_kid, old_kid);

    let switched = eventually(Duration::from_secs(5), || async {
        kid_of(&token(&app, &session).await) == new_kid
    })
    .await;
    assert!(switched, "the instance signs with the rotated-in key");
    let new_token = token(&app, &session).await;
    assert!(verify(&app, &new_token).await.is_ok());
    // The replaced key stays published: its token verifies until it expires.
    assert!(verify(&app, &old_token).await.is_ok());
    let set = jwks(&app).await;
    assert!(set.find(&old_kid).is_some() && set.find(&new_kid).is_some());
}

#[tokio::test]
async fn a_rotated_in_key_is_published_before_it_signs() {
    let upstream = Upstream::start().await;
    // The default lead: a minute between publishing and signing.
    let app = gateway_to(&upstream.url, |config| {
        config.identity_key_refresh = Duration::from_millis(100);
    })
    .await;
    let session = sign_in(&app, "U1").await;
    let old_kid = kid_of(&token(&app, &session).await);
    let new_kid = payfac_server::identity::rotate(app.store.as_ref(), payfac_store::unix_now())
        .await
        .unwrap();
    let published = eventually(Duration::from_secs(5), || async {
        jwks(&app).await.find(&new_kid).is_some()
    })
    .await;
    assert!(published, "the new key is published at once");
    assert_eq!(kid_of(&token(&app, &session).await), old_kid);
}

#[tokio::test]
async fn no_private_key_session_or_token_reaches_the_logs() {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let upstream = Upstream::start().await;
    let app = gateway_to(&upstream.url, fast_keys).await;
    let session = sign_in(&app, "U9").await;
    let first = token(&app, &session).await;
    let new_kid = payfac_server::identity::rotate(app.store.as_ref(), payfac_store::unix_now())
        .await
        .unwrap();
    let switched = eventually(Duration::from_secs(5), || async {
        kid_of(&token(&app, &session).await) == new_kid
    })
    .await;
    assert!(switched, "tokens are signed with the rotated-in key");
    let second = token(&app, &session).await;
    // Upstream faults are logged too; none of them may carry secrets.
    let down = gateway_to("http://127.0.0.1:1", |_| {}).await;
    let cookie = format!("payfac_session={}", sign_in(&down, "U9").await);
    let _ = down
        .http
        .get(format!("{}/x", down.address))
        .header("cookie", cookie)
        .send()
        .await;

    let logs = crate::helpers::captured_logs();
    for key in app.store.identity_keys().await.unwrap() {
        for encoded in [
            STANDARD.encode(&key.private_pkcs8),
            URL_SAFE_NO_PAD.encode(&key.private_pkcs8),
            // The Ed25519 seed: bytes 16..48 of the PKCS#8 document.
            URL_SAFE_NO_PAD.encode(&key.private_pkcs8[16..48]),
            STANDARD.encode(&key.private_pkcs8[16..48]),
            format!("{:?}", key.private_pkcs8),
        ] {
            assert!(!logs.contains(&encoded), "private key material in the logs");
        }
    }
    for secret in [&session, &first, &second] {
        assert!(!logs.contains(secret.as_str()), "a secret in the logs");
    }
}
