//! The admin API (issue #17) on its own listener, on both backends:
//! authentication, every endpoint, every error as a problem document, and
//! the audit trail. `on_both_stores!` runs each test on SQLite and on
//! PostgreSQL (`#[ignore]`d: run with `--include-ignored` and
//! `PAYFAC_TEST_POSTGRES_URL` set, as scripts/test.sh does).

use std::time::{Duration, Instant};

use payfac_domain::MerchantId;
use payfac_server::Config;
use payfac_signing::SigningKey;
use payfac_test_support::app::TestApp;
use payfac_test_support::backend::Backend;
use payfac_test_support::{on_both_stores, vectors};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Call, answer, fresh_keys, session_set_by, stored};

/// test-support's `TestApp` with an admin listener and a token, and the
/// admin API's request helpers.
struct AdminApp {
    app: TestApp,
    /// `http://…` of the public listener.
    public: String,
    /// `http://…` of the admin listener.
    admin: String,
    token: String,
}

/// `store`, `http` and the rest of the app.
impl std::ops::Deref for AdminApp {
    type Target = TestApp;

    fn deref(&self) -> &TestApp {
        &self.app
    }
}

impl AdminApp {
    /// The fixture of `on_both_stores!`.
    async fn on(backend: Backend) -> Self {
        Self::start_with(backend, |_| {}).await
    }

    async fn sqlite() -> Self {
        Self::on(Backend::Sqlite).await
    }

    async fn start_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Self {
        let app = TestApp::builder()
            .on(backend)
            .config(|config| {
                config.admin_listen = Some("127.0.0.1:0".parse().unwrap());
                config.insecure_cookies = true;
                adjust(config);
            })
            .start()
            .await;
        let token = payfac_server::admin::actions::Operator {
            store: app.store.as_ref(),
            actor: "cli",
        }
        .create_token("backoffice")
        .await
        .unwrap();
        Self {
            public: app.address.clone(),
            admin: app.admin.clone().expect("an admin listener"),
            app,
            token,
        }
    }

    /// An admin call with the app's token; the status and the JSON body.
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call_as(Some(&self.token), method, path, body).await
    }

    async fn call_as(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.admin));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let json: Value = response.json().await.expect("every answer is JSON");
        if status >= 400 {
            assert_eq!(content_type, "application/problem+json", "{path}: {json}");
            assert_problem(status, &json);
        } else {
            assert_eq!(content_type, "application/json", "{path}: {json}");
        }
        (status, json)
    }

    /// Registers merchant `id` with a fresh key through the store.
    async fn merchant(&self, id: &str) -> SigningKey {
        let (key, public) = fresh_keys();
        self.store
            .add_merchant(&MerchantId::parse(id).unwrap(), stored(&public))
            .await
            .unwrap();
        // Until the service's merchant cache has it, an unsigned call is
        // an unknown merchant's (10001); then a bad signature (10003).
        let start = Instant::now();
        loop {
            let response = self
                .http
                .post(format!("{}/pay-fac/{id}/v1/user", self.public))
                .send()
                .await
                .unwrap();
            if answer(response).await.code() == "10003" {
                return key;
            }
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "merchant {id} not live"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A signed user-sync; `(userId, authorizationCode)`, or the envelope
    /// code on failure.
    async fn sync(
        &self,
        merchant: &str,
        key: &SigningKey,
        user_no: &str,
    ) -> Result<(String, String), String> {
        let mut call = Call::buyer(user_no, "buyer@example.com");
        call.merchant = merchant.into();
        let signature = call.sign_with(key);
        let response = self
            .http
            .post(format!("{}/pay-fac/{merchant}/v1/user", self.public))
            .header("timestamp", &call.timestamp)
            .header("nonce", &call.nonce)
            .header("signature", signature)
            .header("content-type", "application/json")
            .body(call.body.clone())
            .send()
            .await
            .unwrap();
        let answer = answer(response).await;
        if answer.code() == "0000" {
            Ok((answer.user_id(), answer.code_value()))
        } else {
            Err(answer.code().to_owned())
        }
    }

    /// Signs a code in; the session cookie's value.
    async fn sign_in(&self, code: &str) -> String {
        let response = self
            .http
            .get(format!("{}/?authorizationCode={code}", self.public))
            .send()
            .await
            .unwrap();
        session_set_by(&response).expect("signed in")
    }

    async fn signed_in(&self, session: &str) -> bool {
        let response = self
            .http
            .get(format!("{}/api/me", self.public))
            .header("cookie", format!("payfac_session={session}"))
            .send()
            .await
            .unwrap();
        response.status() == 200
    }
}

#[track_caller]
fn assert_problem(status: u16, json: &Value) {
    assert!(
        json["type"]
            .as_str()
            .unwrap()
            .starts_with("urn:payfac:problem:"),
        "{json}"
    );
    assert!(json["title"].is_string(), "{json}");
    assert_eq!(json["status"], status, "{json}");
    assert!(json["detail"].is_string(), "{json}");
}

on_both_stores!(
    fixture: AdminApp::on;
    oidc_clients_are_added_listed_and_removed,
    tokens_guard_every_route,
    merchants_and_keys,
    buyers_lifecycle,
    disabling_with_end_sessions,
    audit_trail,
    reads_of_personal_data_and_refused_inputs_are_recorded,
);

async fn tokens_guard_every_route(app: AdminApp) {
    let (status, json) = app
        .call_as(None, Method::GET, "/admin/v1/merchants", None)
        .await;
    assert_eq!(status, 401, "{json}");
    let (status, _) = app
        .call_as(
            Some("pfadm_wrong"),
            Method::GET,
            "/admin/v1/merchants",
            None,
        )
        .await;
    assert_eq!(status, 401);
    let (status, _) = app
        .call_as(None, Method::GET, "/admin/v1/nowhere", None)
        .await;
    assert_eq!(status, 401, "no route is revealed without a token");
    let raw = app
        .http
        .get(format!("{}/admin/v1/merchants", app.admin))
        .header("authorization", format!("Basic {}", app.token))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 401);
    assert!(raw.headers().get("www-authenticate").is_some());

    let (status, json) = app.call(Method::GET, "/admin/v1/merchants", None).await;
    assert_eq!((status, json), (200, json!([])));
    let (status, _) = app.call(Method::GET, "/admin/v1/nowhere", None).await;
    assert_eq!(status, 404);
    let (status, _) = app.call(Method::PUT, "/admin/v1/merchants", None).await;
    assert_eq!(status, 405);
    let (status, document) = app.call(Method::GET, "/admin/v1/openapi.json", None).await;
    assert_eq!(status, 200);
    assert_eq!(document["openapi"].as_str().map(|v| &v[..2]), Some("3."));
    assert!(document["paths"]["/admin/v1/merchants/{id}/disable"]["post"].is_object());

    // Never on the public listener.
    let public = app
        .http
        .get(format!("{}/admin/v1/merchants", app.public))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 404);

    // Revoked: refused within 5 s, here and on any instance (2 s cache).
    assert!(app.store.revoke_admin_token("backoffice").await.unwrap());
    let revoked = Instant::now();
    loop {
        let (status, _) = app.call(Method::GET, "/admin/v1/merchants", None).await;
        if status == 401 {
            break;
        }
        assert!(
            revoked.elapsed() < Duration::from_secs(5),
            "still accepted after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn merchants_and_keys(app: AdminApp) {
    let pem = vectors::public_key_pem();
    let (status, created) = app
        .call(
            Method::POST,
            "/admin/v1/merchants",
            Some(json!({"id": "ACME", "publicKey": pem})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["id"], "ACME");
    assert_eq!(created["status"], "active");
    let first_key = created["keys"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(first_key.len(), 16);
    assert!(
        created["keys"][0]["createdAt"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );

    // The same key in bare base64 is the same key: 409, as is the id.
    let bare = vectors::read("merchant-test.pub.b64");
    let (status, json) = app
        .call(
            Method::POST,
            "/admin/v1/merchants",
            Some(json!({"id": "OTHER", "publicKey": bare})),
        )
        .await;
    assert_eq!(status, 409, "{json}");
    assert_eq!(
        json["detail"],
        format!("key {first_key} is already registered")
    );
    let (_, fresh) = fresh_keys();
    let (status, json) = app
        .call(
            Method::POST,
            "/admin/v1/merchants",
            Some(json!({"id": "ACME", "publicKey": fresh.to_pem()})),
        )
        .await;
    assert_eq!(
        (status, json["detail"].as_str()),
        (409, Some("merchant ACME already exists"))
    );

    // Bad input: 422 with the CLI's message; not JSON: 400; not JSON at all: 415.
    let (status, json) = app
        .call(
            Method::POST,
            "/admin/v1/merchants",
            Some(json!({"id": "no spaces", "publicKey": pem})),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        json["detail"].as_str(),
        Some(MerchantId::parse("no spaces").unwrap_err().0.as_str())
    );
    let (status, json) = app
        .call(
            Method::POST,
            "/admin/v1/merchants",
            Some(json!({"id": "NEW", "publicKey": "not a key"})),
        )
        .await;
    assert_eq!(status, 422);
    let cli_message = payfac_signing::VerifyingKey::parse("not a key")
        .unwrap_err()
        .to_string();
    assert_eq!(json["detail"].as_str(), Some(cli_message.as_str()));
    let (status, _) = app
        .call(
            Method::POST,
            "/admin/v1/merchants",
            Some(json!({"id": "NEW"})),
        )
        .await;
    assert_eq!(status, 422);
    let (status, _) = app
        .call(
            Method::POST,
            "/admin/v1/merchants",
            Some(json!({"id": 5, "publicKey": pem})),
        )
        .await;
    assert_eq!(status, 422);
    let malformed = app
        .http
        .post(format!("{}/admin/v1/merchants", app.admin))
        .bearer_auth(&app.token)
        .header("content-type", "application/json")
        .body("{\"id\":")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    let form = app
        .http
        .post(format!("{}/admin/v1/merchants", app.admin))
        .bearer_auth(&app.token)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 415);

    // Keys: add, refuse duplicates, remove, never the last one.
    let (status, added) = app
        .call(
            Method::POST,
            "/admin/v1/merchants/ACME/keys",
            Some(json!({"publicKey": fresh.to_pem()})),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(added["id"], fresh.key_id());
    let (status, _) = app
        .call(
            Method::POST,
            "/admin/v1/merchants/ACME/keys",
            Some(json!({"publicKey": fresh.to_pem()})),
        )
        .await;
    assert_eq!(status, 409);
    let (status, _) = app
        .call(
            Method::POST,
            "/admin/v1/merchants/NOBODY/keys",
            Some(json!({"publicKey": pem})),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .call(
            Method::POST,
            "/admin/v1/merchants/ACME/keys",
            Some(json!({"publicKey": ""})),
        )
        .await;
    assert_eq!(status, 422);
    let (status, listed) = app.call(Method::GET, "/admin/v1/merchants", None).await;
    assert_eq!(status, 200);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["keys"].as_array().unwrap().len(), 2);
    let path = format!("/admin/v1/merchants/ACME/keys/{first_key}");
    let (status, json) = app.call(Method::DELETE, &path, None).await;
    assert_eq!((status, &json["removed"]), (200, &json!(true)));
    let (status, _) = app.call(Method::DELETE, &path, None).await;
    assert_eq!(status, 404);
    let last = format!("/admin/v1/merchants/ACME/keys/{}", fresh.key_id());
    let (status, json) = app.call(Method::DELETE, &last, None).await;
    assert_eq!(status, 409, "{json}");
    let (status, _) = app
        .call(Method::DELETE, "/admin/v1/merchants/NOBODY/keys/00", None)
        .await;
    assert_eq!(status, 404);

    // One merchant; status changes.
    let (status, merchant) = app
        .call(Method::GET, "/admin/v1/merchants/ACME", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(merchant["keys"][0]["id"], fresh.key_id());
    let (status, _) = app
        .call(Method::GET, "/admin/v1/merchants/NOBODY", None)
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .call(Method::GET, "/admin/v1/merchants/bad%20id", None)
        .await;
    assert_eq!(status, 422);
    let (status, json) = app
        .call(
            Method::POST,
            "/admin/v1/merchants/ACME/disable",
            Some(json!({"endSessions": false})),
        )
        .await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["merchant"]["status"], "disabled");
    assert_eq!(json["sessionsEnded"], 0);
    let (status, _) = app
        .call(
            Method::POST,
            "/admin/v1/merchants/ACME/disable",
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 422, "endSessions is required");
    let (status, _) = app
        .call(
            Method::POST,
            "/admin/v1/merchants/NOBODY/disable",
            Some(json!({"endSessions": true})),
        )
        .await;
    assert_eq!(status, 404);
    let (status, json) = app
        .call(Method::POST, "/admin/v1/merchants/ACME/enable", None)
        .await;
    assert_eq!((status, json["status"].as_str()), (200, Some("active")));
    let (status, _) = app
        .call(Method::POST, "/admin/v1/merchants/NOBODY/enable", None)
        .await;
    assert_eq!(status, 404);
}

async fn buyers_lifecycle(app: AdminApp) {
    let key = app.merchant("M1").await;
    let (user_id, code) = app.sync("M1", &key, "U/1 ü").await.unwrap();
    let session = app.sign_in(&code).await;
    let (_, pending) = app.sync("M1", &key, "U/1 ü").await.unwrap();

    let by_no = "/admin/v1/merchants/M1/buyers/U%2F1%20%C3%BC";
    let by_id = format!("/admin/v1/buyers/{user_id}");
    let (status, buyer) = app.call(Method::GET, by_no, None).await;
    assert_eq!(status, 200, "{buyer}");
    assert_eq!(buyer["userId"], user_id.as_str());
    assert_eq!(buyer["merchantUserNo"], "U/1 ü");
    assert_eq!(buyer["liveSessions"], 1);
    assert!(buyer["createdAt"].as_str().unwrap().ends_with('Z'));
    let (status, same) = app.call(Method::GET, &by_id, None).await;
    assert_eq!((status, &same), (200, &buyer));

    let (status, export) = app
        .call(Method::GET, &format!("{by_id}/export"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(export["buyer"]["email"], "buyer@example.com");
    assert_eq!(export["sessions"].as_array().unwrap().len(), 1);
    assert!(export["sessions"][0]["lastUsedAt"].is_string());
    assert_eq!(export["authorizationCodes"].as_array().unwrap().len(), 2);
    let text = export.to_string();
    assert!(
        !text.contains(&session[10..]) && !text.contains(&pending[10..]),
        "no secrets"
    );
    let (status, _) = app
        .call(Method::GET, &format!("{by_no}/export"), None)
        .await;
    assert_eq!(status, 200);

    let (status, revoked) = app
        .call(Method::POST, &format!("{by_no}/sessions/revoke"), None)
        .await;
    assert_eq!((status, &revoked["sessionsEnded"]), (200, &json!(1)));
    assert!(
        !app.signed_in(&session).await,
        "signed out at the next request"
    );
    let session = app.sign_in(&pending).await;
    let (status, revoked) = app
        .call(Method::POST, &format!("{by_id}/sessions/revoke"), None)
        .await;
    assert_eq!((status, &revoked["sessionsEnded"]), (200, &json!(1)));
    assert!(!app.signed_in(&session).await);

    let (_, code) = app.sync("M1", &key, "U/1 ü").await.unwrap();
    let session = app.sign_in(&code).await;
    let (status, erased) = app.call(Method::DELETE, by_no, None).await;
    assert_eq!(status, 200, "{erased}");
    assert_eq!(erased["userId"], user_id.as_str());
    assert!(!app.signed_in(&session).await);
    for path in [by_no.to_owned(), by_id.clone(), format!("{by_id}/export")] {
        let (status, _) = app.call(Method::GET, &path, None).await;
        assert_eq!(status, 404, "{path}");
    }
    let (status, _) = app.call(Method::DELETE, &by_id, None).await;
    assert_eq!(status, 404);
    let (status, _) = app
        .call(Method::POST, &format!("{by_id}/sessions/revoke"), None)
        .await;
    assert_eq!(status, 404);
    let (new_id, _) = app.sync("M1", &key, "U/1 ü").await.unwrap();
    assert_ne!(new_id, user_id, "a new buyer, a new userId");
    let (status, _) = app
        .call(Method::DELETE, &format!("/admin/v1/buyers/{new_id}"), None)
        .await;
    assert_eq!(status, 200);

    for bad in [
        "/admin/v1/buyers/abc",
        "/admin/v1/buyers/-1",
        "/admin/v1/buyers/0",
        "/admin/v1/merchants/bad!/buyers/U1",
    ] {
        let (status, _) = app.call(Method::GET, bad, None).await;
        assert_eq!(status, 422, "{bad}");
    }
    let (status, _) = app
        .call(Method::GET, "/admin/v1/merchants/M1/buyers/nobody", None)
        .await;
    assert_eq!(status, 404);
}

async fn disabling_with_end_sessions(app: AdminApp) {
    let key = app.merchant("M1").await;
    let other_key = app.merchant("M2").await;
    let (_, code) = app.sync("M1", &key, "U1").await.unwrap();
    let session = app.sign_in(&code).await;
    let (_, unused) = app.sync("M1", &key, "U2").await.unwrap();
    let (_, other) = app.sync("M2", &other_key, "U1").await.unwrap();
    let other_session = app.sign_in(&other).await;

    let (status, json) = app
        .call(
            Method::POST,
            "/admin/v1/merchants/M1/disable",
            Some(json!({"endSessions": true})),
        )
        .await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(
        (json["sessionsEnded"].as_u64(), json["codesVoided"].as_u64()),
        (Some(1), Some(1))
    );
    assert!(!app.signed_in(&session).await);
    assert!(
        app.signed_in(&other_session).await,
        "other merchants' buyers stay"
    );
    let response = app
        .http
        .get(format!("{}/?authorizationCode={unused}", app.public))
        .send()
        .await
        .unwrap();
    assert_eq!(
        session_set_by(&response),
        None,
        "a voided code signs no one in"
    );

    // Refused by the merchant API within 5 s; back after enable.
    let start = Instant::now();
    while app.sync("M1", &key, "U3").await.is_ok() {
        assert!(start.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.sync("M1", &key, "U3").await, Err("10001".into()));
    app.call(Method::POST, "/admin/v1/merchants/M1/enable", None)
        .await;
    let start = Instant::now();
    while app.sync("M1", &key, "U3").await.is_err() {
        assert!(start.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn audit_trail(app: AdminApp) {
    let pem = vectors::public_key_pem();
    app.call(
        Method::POST,
        "/admin/v1/merchants",
        Some(json!({"id": "ACME", "publicKey": pem})),
    )
    .await;
    app.call(
        Method::POST,
        "/admin/v1/merchants",
        Some(json!({"id": "ACME", "publicKey": pem})),
    )
    .await;
    app.call(Method::GET, "/admin/v1/merchants", None).await;
    let (status, records) = app.call(Method::GET, "/admin/v1/audit?limit=2", None).await;
    assert_eq!(status, 200);
    let records = records.as_array().unwrap().clone();
    assert_eq!(records.len(), 2, "reads are not recorded: {records:?}");
    assert_eq!(records[0]["actor"], "backoffice");
    assert_eq!(records[0]["action"], "merchant.add");
    assert!(
        records[0]["result"]
            .as_str()
            .unwrap()
            .starts_with("refused: merchant ACME already exists")
    );
    assert_eq!(records[1]["result"], "ok");
    assert!(
        records[1]["target"]
            .as_str()
            .unwrap()
            .starts_with("ACME key ")
    );
    assert!(records[1]["at"].as_str().unwrap().ends_with('Z'));
    let (_, all) = app.call(Method::GET, "/admin/v1/audit", None).await;
    let text = all.to_string();
    assert!(!text.contains(&app.token[6..]), "no token in the audit");
    assert!(!text.contains("BEGIN PUBLIC KEY"));
    assert_eq!(
        all.as_array().unwrap().last().unwrap()["action"],
        "admin_token.create"
    );
    for bad in ["0", "1001", "x"] {
        let (status, _) = app
            .call(Method::GET, &format!("/admin/v1/audit?limit={bad}"), None)
            .await;
        assert_eq!(status, 422, "limit={bad}");
    }
}

/// Second review, finding 9: a read of a buyer's personal data, and a
/// request refused for its input before it reached an action, are on
/// record too (OPERATIONS.md "The audit trail").
async fn reads_of_personal_data_and_refused_inputs_are_recorded(app: AdminApp) {
    let key = app.merchant("M1").await;
    let (user_id, _) = app.sync("M1", &key, "U1").await.unwrap();
    let newest = |records: &Value| records.as_array().unwrap()[0].clone();
    for path in [
        "/admin/v1/merchants/M1/buyers/U1".to_owned(),
        format!("/admin/v1/buyers/{user_id}"),
    ] {
        let (status, _) = app.call(Method::GET, &path, None).await;
        assert_eq!(status, 200);
        let (_, records) = app.call(Method::GET, "/admin/v1/audit?limit=1", None).await;
        let record = newest(&records);
        assert_eq!(record["action"], "buyer.show", "{record}");
        assert_eq!(record["result"], "ok");
        assert_eq!(record["actor"], "backoffice");
    }

    let response = app
        .http
        .post(format!("{}/admin/v1/merchants", app.admin))
        .bearer_auth(&app.token)
        .header("content-type", "text/plain")
        .body("id=ACME")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    let (_, records) = app.call(Method::GET, "/admin/v1/audit?limit=1", None).await;
    let record = newest(&records);
    assert_eq!(record["action"], "POST /admin/v1/merchants", "{record}");
    assert_eq!(record["result"], "refused: 415 Unsupported Media Type");

    let (status, _) = app
        .call(
            Method::POST,
            "/admin/v1/merchants",
            Some(json!({"id": "bad!", "publicKey": vectors::public_key_pem()})),
        )
        .await;
    assert_eq!(status, 422);
    let (_, records) = app.call(Method::GET, "/admin/v1/audit?limit=1", None).await;
    let record = newest(&records);
    assert_eq!(record["action"], "POST /admin/v1/merchants", "{record}");
    assert_eq!(record["result"], "refused: 422 Unprocessable Entity");
    assert!(!records.to_string().contains("BEGIN PUBLIC KEY"));
}

/// Second review, finding 13: after an erase or "sign out everywhere" on
/// this instance, the very next proxied request carries no identity (the
/// per-session memo is emptied by the change, not left to expire).
#[tokio::test]
async fn an_erase_or_a_revocation_reaches_the_storefront_at_once() {
    let upstream = crate::upstream::Upstream::start().await;
    let upstream_url: axum::http::Uri = upstream.url.parse().unwrap();
    let app = AdminApp::start_with(Backend::Sqlite, |config| {
        config.upstream = Some(upstream_url);
    })
    .await;
    let key = app.merchant("M1").await;
    let email_seen = |session: String| {
        let app = &app;
        async move {
            let response = app
                .http
                .get(format!("{}/shop", app.public))
                .header("cookie", format!("payfac_session={session}"))
                .send()
                .await
                .unwrap();
            let echoed: Value = response.json().await.unwrap();
            !echoed["headers"]["x-payfac-email"].is_null()
        }
    };
    for action in ["sessions/revoke", "erase"] {
        let (_, code) = app.sync("M1", &key, "U1").await.unwrap();
        let session = app.sign_in(&code).await;
        assert!(
            email_seen(session.clone()).await,
            "signed in, the storefront sees the buyer"
        );
        let path = "/admin/v1/merchants/M1/buyers/U1";
        let (status, _) = if action == "erase" {
            app.call(Method::DELETE, path, None).await
        } else {
            app.call(Method::POST, &format!("{path}/{action}"), None)
                .await
        };
        assert_eq!(status, 200);
        assert!(
            !email_seen(session).await,
            "{action}: not one more request with the buyer"
        );
    }
}

/// Issue 29: a merchant or key added through the admin API works on the
/// instance that added it at once, not at the directory's next poll (here
/// an hour away, so only the change itself can have reloaded it).
#[tokio::test]
async fn a_merchant_added_through_the_api_works_here_at_once() {
    let app = AdminApp::start_with(Backend::Sqlite, |config| {
        config.merchant_refresh = Duration::from_secs(3600);
    })
    .await;
    let (key, public) = fresh_keys();
    let (status, _) = app
        .call(
            Method::POST,
            "/admin/v1/merchants",
            Some(json!({"id": "FRESH", "publicKey": public.to_pem()})),
        )
        .await;
    assert_eq!(status, 201);
    assert!(
        app.sync("FRESH", &key, "U1").await.is_ok(),
        "the new merchant is live"
    );

    let (second, second_public) = fresh_keys();
    let (status, _) = app
        .call(
            Method::POST,
            "/admin/v1/merchants/FRESH/keys",
            Some(json!({"publicKey": second_public.to_pem()})),
        )
        .await;
    assert_eq!(status, 201);
    assert!(
        app.sync("FRESH", &second, "U2").await.is_ok(),
        "the new key is live"
    );

    let (status, _) = app
        .call(
            Method::POST,
            "/admin/v1/merchants/FRESH/disable",
            Some(json!({"endSessions": false})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(app.sync("FRESH", &key, "U3").await, Err("10001".to_owned()));
}

/// Issue 29: a token created with an expiry is refused from then on,
/// like an unknown one.
#[tokio::test]
async fn an_expired_admin_token_is_refused() {
    let app = AdminApp::sqlite().await;
    let operator = payfac_server::admin::actions::Operator {
        store: app.store.as_ref(),
        actor: "cli",
    };
    let lasting = operator
        .create_expiring_token("lasting", Some(3600))
        .await
        .unwrap();
    let short = operator
        .create_expiring_token("short", Some(1))
        .await
        .unwrap();
    let (status, _) = app
        .call_as(Some(&lasting), Method::GET, "/admin/v1/merchants", None)
        .await;
    assert_eq!(status, 200);
    // The passage of time this test is about. Expiry is checked against
    // the clock at each request; the stored end is a whole second, so two
    // seconds are past it whatever the sub-second phase.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (status, _) = app
        .call_as(Some(&short), Method::GET, "/admin/v1/merchants", None)
        .await;
    assert_eq!(status, 401, "expired");
    let (status, _) = app
        .call_as(Some(&lasting), Method::GET, "/admin/v1/merchants", None)
        .await;
    assert_eq!(status, 200);
    assert!(
        operator
            .create_expiring_token("never", Some(0))
            .await
            .is_err(),
        "a non-positive expiry is refused"
    );
}

/// Issue 30: the OpenID Provider's clients through the API, audited,
/// never showing a secret again.
async fn oidc_clients_are_added_listed_and_removed(app: AdminApp) {
    let path = "/admin/v1/oidc-clients";
    let (status, added) = app
        .call(
            Method::POST,
            path,
            Some(json!({
                "name": "Help desk",
                "redirectUris": ["https://help.example/cb"],
                "postLogoutRedirectUris": ["https://help.example/bye"],
            })),
        )
        .await;
    assert_eq!(status, 201, "{added}");
    let id = added["clientId"].as_str().unwrap().to_owned();
    let secret = added["clientSecret"].as_str().unwrap().to_owned();
    let (status, public) = app
        .call(
            Method::POST,
            path,
            Some(json!({"name": "App", "redirectUris": ["com.example.app:/cb"], "public": true, "idTokenAlg": "EdDSA"})),
        )
        .await;
    assert_eq!(status, 201);
    assert!(public.get("clientSecret").is_none(), "{public}");
    for bad in [
        json!({"name": "x", "redirectUris": ["http://help.example/cb"]}),
        json!({"name": "x", "redirectUris": []}),
        json!({"name": "x", "redirectUris": ["https://a.example/"], "idTokenAlg": "HS256"}),
        json!({"name": "x", "redirectUris": ["https://a.example/"], "secret": "mine"}),
    ] {
        let (status, _) = app.call(Method::POST, path, Some(bad.clone())).await;
        assert_eq!(status, 422, "{bad}");
    }
    let (status, listed) = app.call(Method::GET, path, None).await;
    assert_eq!(status, 200);
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2);
    // Listed by creation second, then id: both came in the same second.
    let help = listed
        .iter()
        .find(|c| c["clientId"] == id.as_str())
        .unwrap();
    let other = listed
        .iter()
        .find(|c| c["clientId"] != id.as_str())
        .unwrap();
    assert_eq!(help["public"], false);
    assert_eq!(help["idTokenAlg"], "RS256");
    assert_eq!(
        help["postLogoutRedirectUris"],
        json!(["https://help.example/bye"])
    );
    assert!(help.get("clientSecret").is_none() && help.get("secretHash").is_none());
    assert_eq!(
        (other["public"].as_bool(), other["idTokenAlg"].as_str()),
        (Some(true), Some("EdDSA"))
    );
    let (status, removed) = app
        .call(Method::DELETE, &format!("{path}/{id}"), None)
        .await;
    assert_eq!(
        (status, removed),
        (200, json!({"clientId": id, "removed": true}))
    );
    let (status, _) = app
        .call(Method::DELETE, &format!("{path}/{id}"), None)
        .await;
    assert_eq!(status, 404);
    let (_, audit) = app.call(Method::GET, "/admin/v1/audit", None).await;
    let text = audit.to_string();
    assert!(!text.contains(&secret), "no secret in the audit");
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|record| record["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions.iter().filter(|a| **a == "oidc_client.add").count(),
        2
    );
    assert_eq!(
        actions
            .iter()
            .filter(|a| **a == "oidc_client.remove")
            .count(),
        2
    );
    assert!(text.contains(&format!("{id} (Help desk)")), "{text}");
}
