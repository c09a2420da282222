//! The OpenID Provider's storage (issue 30): clients with hashed secrets,
//! codes that are single use, short-lived and bound to client, redirect
//! URI and PKCE challenge, a second use revoking the first use's tokens,
//! and everything ending with the buyer's session or the client.

use payfac_domain::{SecretHash, random_alphanumeric};
use payfac_store::{
    IdentityKeyRecord, NewOidcCode, OidcClient, OidcCodeRedemption, OidcCodeRefusal, OidcGrant,
    SessionKey,
};

use crate::common::*;

fn client(id: &str, public: bool) -> OidcClient {
    OidcClient {
        client_id: id.to_owned(),
        name: format!("app {id}"),
        secret_hash: (!public).then(|| SecretHash::of(&format!("secret of {id}"))),
        redirect_uris: vec![
            format!("https://{id}.example/cb"),
            "http://127.0.0.1/cb".into(),
        ],
        post_logout_redirect_uris: vec![format!("https://{id}.example/bye")],
        id_token_alg: "RS256".into(),
        created_at: NOW,
    }
}

/// A buyer signed in at `NOW`: the session key.
async fn session(t: &TestStore, user_no: &str) -> SessionKey {
    let request = sync("M1", user_no);
    let code_hash = request.code_hash;
    let (_, code_id) = issued(t.store.sync_user(request).await.unwrap());
    let redemption = redeem(code_id, code_hash, NOW);
    let outcome = t.store.redeem_code(redemption.clone()).await.unwrap();
    session_of(outcome, &redemption)
}

/// A code for `client_id` under `session`, with a challenge; its text.
async fn code(t: &TestStore, client_id: &str, session: SessionKey) -> String {
    let code = random_alphanumeric(43);
    t.store
        .add_oidc_code(NewOidcCode {
            code_hash: SecretHash::of(&code),
            client_id: client_id.to_owned(),
            session,
            redirect_uri: format!("https://{client_id}.example/cb"),
            code_challenge: Some("challenge".into()),
            nonce: Some("n-0S6_WzA2Mj".into()),
            scope: "openid email".into(),
            auth_time: NOW - 5,
            expires_at: NOW + 60,
        })
        .await
        .unwrap();
    code
}

/// A redemption of `code` as `client_id` would send it, and its token.
fn redemption(code: &str, client_id: &str, now: i64) -> (OidcCodeRedemption, SecretHash) {
    let token = SecretHash::of(&random_alphanumeric(43));
    (
        OidcCodeRedemption {
            code_hash: SecretHash::of(code),
            client_id: client_id.to_owned(),
            redirect_uri: format!("https://{client_id}.example/cb"),
            verifier_challenge: Some("challenge".into()),
            now,
            access_token_hash: token,
            access_expires_at: now + 600,
        },
        token,
    )
}

/// A change that makes a redemption wrong.
type Spoil = fn(&mut OidcCodeRedemption);

async fn redeemed(t: &TestStore, r: OidcCodeRedemption) -> Result<OidcGrant, OidcCodeRefusal> {
    t.store.redeem_oidc_code(r).await.unwrap()
}

on_both_stores! {
    fixture: TestStore::on;
    /// Clients are listed without change, refused on a taken id, and
    /// removed with their codes.
    async fn clients_are_stored_listed_and_removed(t: &TestStore) {
        assert!(t.store.add_oidc_client(client("a", false)).await.unwrap());
        assert!(t.store.add_oidc_client(client("b", true)).await.unwrap());
        assert!(!t.store.add_oidc_client(client("a", true)).await.unwrap(), "id taken");
        let listed = t.store.oidc_clients().await.unwrap();
        assert_eq!(listed, vec![client("a", false), client("b", true)]);
        assert_eq!(t.store.oidc_client("b").await.unwrap(), Some(client("b", true)));
        assert!(t.store.oidc_client("b").await.unwrap().unwrap().is_public());
        assert_eq!(t.store.oidc_client("zz").await.unwrap(), None);

        let session = session(t, "U1").await;
        code(t, "a", session).await;
        assert_eq!(t.count("oidc_codes").await, 1);
        assert!(t.store.remove_oidc_client("a").await.unwrap());
        assert!(!t.store.remove_oidc_client("a").await.unwrap());
        assert_eq!(t.count("oidc_codes").await, 0, "the client's codes went with it");
    }

    /// A good code grants once; its token reads the buyer; a second use is
    /// refused and revokes that token.
    async fn a_code_grants_once_and_a_second_use_revokes(t: &TestStore) {
        t.store.add_oidc_client(client("a", false)).await.unwrap();
        let session = session(t, "U1").await;
        let auth = t.store.oidc_session(session, NOW, 3600).await.unwrap().unwrap();
        assert_eq!(auth.auth_time, NOW);
        let code = code(t, "a", session).await;
        let (first, token) = redemption(&code, "a", NOW + 1);
        let grant = redeemed(t, first).await.unwrap();
        assert_eq!(grant.buyer.merchant_user_no, "U1");
        assert_eq!((grant.scope.as_str(), grant.nonce.as_deref(), grant.auth_time),
            ("openid email", Some("n-0S6_WzA2Mj"), NOW - 5));
        let access = t.store.oidc_access(token, NOW + 2).await.unwrap().unwrap();
        assert_eq!(access.buyer.user_id, grant.buyer.user_id);
        assert!(t.store.oidc_access(token, NOW + 601).await.unwrap().is_none(), "expired");

        let (second, second_token) = redemption(&code, "a", NOW + 3);
        assert_eq!(redeemed(t, second).await.unwrap_err(), OidcCodeRefusal::Reused);
        assert!(t.store.oidc_access(token, NOW + 4).await.unwrap().is_none(), "revoked");
        assert!(t.store.oidc_access(second_token, NOW + 4).await.unwrap().is_none());
        assert_eq!(t.count("oidc_access_tokens").await, 0);
    }

    /// Another client, another redirect URI, a wrong or missing verifier,
    /// an expired or unknown code: refused, and the code is spent.
    async fn a_code_is_bound_and_short_lived(t: &TestStore) {
        t.store.add_oidc_client(client("a", false)).await.unwrap();
        t.store.add_oidc_client(client("b", false)).await.unwrap();
        let session = session(t, "U1").await;
        let spoil: [(&str, Spoil); 4] = [
            ("other client", |r| r.client_id = "b".into()),
            ("other redirect", |r| r.redirect_uri = "https://a.example/cb/".into()),
            ("wrong verifier", |r| r.verifier_challenge = Some("challengf".into())),
            ("no verifier", |r| r.verifier_challenge = None),
        ];
        for (why, spoil) in spoil {
            let code = code(t, "a", session).await;
            let (mut bad, _) = redemption(&code, "a", NOW + 1);
            spoil(&mut bad);
            assert_eq!(redeemed(t, bad).await.unwrap_err(), OidcCodeRefusal::Mismatch, "{why}");
            let (good, _) = redemption(&code, "a", NOW + 2);
            assert_eq!(redeemed(t, good).await.unwrap_err(), OidcCodeRefusal::Reused, "{why}: spent");
        }
        let code = code(t, "a", session).await;
        let (late, _) = redemption(&code, "a", NOW + 60);
        assert_eq!(redeemed(t, late).await.unwrap_err(), OidcCodeRefusal::Expired);
        let (unknown, _) = redemption("no such code", "a", NOW);
        assert_eq!(redeemed(t, unknown).await.unwrap_err(), OidcCodeRefusal::Unknown);
        assert_eq!(t.count("oidc_access_tokens").await, 0);
    }

    /// A verifier presented for a code issued without a challenge is a
    /// PKCE downgrade: refused.
    async fn a_verifier_for_a_code_without_challenge_is_refused(t: &TestStore) {
        t.store.add_oidc_client(client("a", false)).await.unwrap();
        let session = session(t, "U1").await;
        let code = random_alphanumeric(43);
        t.store.add_oidc_code(NewOidcCode {
            code_hash: SecretHash::of(&code),
            client_id: "a".into(),
            session,
            redirect_uri: "https://a.example/cb".into(),
            code_challenge: None,
            nonce: None,
            scope: "openid".into(),
            auth_time: NOW,
            expires_at: NOW + 60,
        }).await.unwrap();
        let (with_verifier, _) = redemption(&code, "a", NOW + 1);
        assert_eq!(redeemed(t, with_verifier).await.unwrap_err(), OidcCodeRefusal::Mismatch);
    }

    /// Ending the buyer's session ends its codes and tokens.
    async fn ending_the_session_ends_codes_and_tokens(t: &TestStore) {
        t.store.add_oidc_client(client("a", false)).await.unwrap();
        let session = session(t, "U1").await;
        let used = code(t, "a", session).await;
        let (first, token) = redemption(&used, "a", NOW + 1);
        redeemed(t, first).await.unwrap();
        let unused = code(t, "a", session).await;
        t.store.end_session(session).await.unwrap();
        assert!(t.store.oidc_session(session, NOW + 2, 3600).await.unwrap().is_none());
        assert!(t.store.oidc_access(token, NOW + 2).await.unwrap().is_none());
        let (late, _) = redemption(&unused, "a", NOW + 2);
        assert_eq!(redeemed(t, late).await.unwrap_err(), OidcCodeRefusal::Unknown);
        assert_eq!(t.count("oidc_codes").await, 0);
    }

    /// The purge keeps a used code as long as its tokens may live, so a
    /// late second use still revokes them, then deletes both.
    async fn the_purge_keeps_used_codes_while_their_tokens_live(t: &TestStore) {
        t.store.add_oidc_client(client("a", false)).await.unwrap();
        let session = session(t, "U1").await;
        let code = code(t, "a", session).await;
        let (first, _) = redemption(&code, "a", NOW + 1);
        redeemed(t, first).await.unwrap();
        t.store.purge_expired(NOW + 120, 100).await.unwrap();
        assert_eq!((t.count("oidc_codes").await, t.count("oidc_access_tokens").await), (1, 1));
        t.store.purge_expired(NOW + 60 + 601, 100).await.unwrap();
        assert_eq!((t.count("oidc_codes").await, t.count("oidc_access_tokens").await), (0, 0));
    }

    /// The RS256 keys live apart from the identity keys, with the same
    /// first-key and pruning rules.
    async fn oidc_keys_are_kept_apart_from_identity_keys(t: &TestStore) {
        let key = |kid: &str, created_at| IdentityKeyRecord {
            kid: kid.to_owned(),
            private_pkcs8: kid.as_bytes().to_vec(),
            created_at,
        };
        assert!(t.store.add_oidc_key(key("r1", NOW), true).await.unwrap());
        assert!(!t.store.add_oidc_key(key("r2", NOW), true).await.unwrap());
        assert!(t.store.add_identity_key(key("e1", NOW), true).await.unwrap(), "its own table");
        t.store.add_oidc_key(key("r3", NOW + 10), false).await.unwrap();
        assert_eq!(t.store.remove_oidc_keys_before(NOW + 100).await.unwrap(), 1);
        let kids: Vec<String> = t.store.oidc_keys().await.unwrap().into_iter().map(|k| k.kid).collect();
        assert_eq!(kids, ["r3"]);
        assert_eq!(t.store.identity_keys().await.unwrap().len(), 1);
    }
}
