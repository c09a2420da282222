//! `spawn_app()` and a signing merchant for the tests.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use payfac_domain::{MerchantId, random_alphanumeric};
use payfac_server::{Application, Config};
use payfac_signing::{SigningKey, VerifyingKey, generate_key_pair, signature_string};
use payfac_store::{Store, StoredKey};
use payfac_test_support::vectors;
use serde_json::Value;

pub const MERCHANT: &str = "MERCHANT001";

/// The throwaway key pair of the project's test vectors.
pub fn vector_keys() -> (SigningKey, VerifyingKey) {
    (
        SigningKey::from_pem(&vectors::private_key_pem()).unwrap(),
        VerifyingKey::parse(&vectors::public_key_pem()).unwrap(),
    )
}

pub fn fresh_keys() -> (SigningKey, VerifyingKey) {
    let pair = generate_key_pair(2048).unwrap();
    (
        SigningKey::from_pem(&pair.private_pem).unwrap(),
        VerifyingKey::parse(&pair.public_pem).unwrap(),
    )
}

pub fn stored(key: &VerifyingKey) -> StoredKey {
    StoredKey {
        key_id: key.key_id(),
        spki_der: key.spki_der().to_vec(),
    }
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub struct TestApp {
    pub address: String,
    pub store: Arc<dyn Store>,
    pub db_path: PathBuf,
    pub http: reqwest::Client,
    pub key: SigningKey,
    /// How many requests wait on storage: tests order events by it.
    pub backlog: payfac_server::Backlog,
    _dir: tempfile::TempDir,
}

/// The app with merchant `MERCHANT001` registered with the vector key.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("payfac.db").display());
    spawn_app_on(dir, &url, adjust).await
}

/// The app on the database `url` names (`dir` is kept for the test's
/// files; `db_path` is the SQLite file a `sqlite://` URL in it would be).
pub async fn spawn_app_on(
    dir: tempfile::TempDir,
    url: &str,
    adjust: impl FnOnce(&mut Config),
) -> TestApp {
    let db_path = dir.path().join("payfac.db");
    let store = payfac_store::open(url).await.unwrap();
    let (key, public) = vector_keys();
    store
        .add_merchant(&MerchantId::parse(MERCHANT).unwrap(), stored(&public))
        .await
        .unwrap();
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    };
    adjust(&mut config);
    let (address, backlog) = launch(config, store.clone()).await;
    TestApp {
        address,
        store,
        db_path,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        key,
        backlog,
        _dir: dir,
    }
}

/// Runs an application on `store` and returns its base URL.
pub async fn start(config: Config, store: Arc<dyn Store>) -> String {
    launch(config, store).await.0
}

/// Runs an application on `store`: its base URL and its backlog.
async fn launch(config: Config, store: Arc<dyn Store>) -> (String, payfac_server::Backlog) {
    capture_logs();
    let application = Application::build(config, store).await.unwrap();
    let address = format!("http://127.0.0.1:{}", application.port());
    let backlog = application.backlog();
    tokio::spawn(application.run_until_stopped());
    (address, backlog)
}

/// Every log line of this test binary, for tests that check what is never
/// logged. Printed too when `TEST_LOG` is set.
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned()
}

static LOGS: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

struct LogSink;

impl std::io::Write for LogSink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if std::env::var_os("TEST_LOG").is_some() {
            std::io::stderr().write_all(bytes)?;
        }
        LOGS.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        payfac_server::observability::init_logging(true, false, || Box::new(LogSink));
    });
}

/// A merchant request under construction; every part can be spoiled.
#[derive(Clone)]
pub struct Call {
    pub merchant: String,
    pub version: String,
    pub query: String,
    pub timestamp: String,
    pub nonce: String,
    pub body: Vec<u8>,
    pub content_type: Option<String>,
    /// `None`: sign correctly with the app's key.
    pub signature: Option<String>,
    pub omit: Vec<&'static str>,
}

impl Call {
    pub fn new(body: &str) -> Self {
        Self {
            merchant: MERCHANT.into(),
            version: "v1".into(),
            query: String::new(),
            timestamp: now().to_string(),
            nonce: random_alphanumeric(16),
            body: body.as_bytes().to_vec(),
            content_type: Some("application/json".into()),
            signature: None,
            omit: Vec::new(),
        }
    }

    pub fn buyer(merchant_user_no: &str, email: &str) -> Self {
        Self::new(
            &serde_json::json!({"merchantUserNo": merchant_user_no, "email": email}).to_string(),
        )
    }

    pub fn sign_with(&self, key: &SigningKey) -> String {
        key.sign(&signature_string(
            &self.query,
            &self.timestamp,
            &self.nonce,
            &self.body,
        ))
    }
}

pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub json: Value,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.json["code"].as_str().unwrap_or("<none>")
    }

    pub fn reason(&self) -> &str {
        self.json["debug"]["reason"].as_str().unwrap_or("<none>")
    }

    pub fn user_id(&self) -> String {
        self.json["data"]["userId"].as_str().unwrap().to_owned()
    }

    pub fn code_value(&self) -> String {
        self.json["data"]["authorizationCode"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

impl TestApp {
    pub fn user_url(&self, call: &Call) -> String {
        let mut url = format!(
            "{}/pay-fac/{}/{}/user",
            self.address, call.merchant, call.version
        );
        if !call.query.is_empty() {
            url.push('?');
            url.push_str(&call.query);
        }
        url
    }

    pub async fn send(&self, call: &Call) -> Answer {
        self.send_method(reqwest::Method::POST, call).await
    }

    pub async fn send_method(&self, method: reqwest::Method, call: &Call) -> Answer {
        let signature = call
            .signature
            .clone()
            .unwrap_or_else(|| call.sign_with(&self.key));
        let mut request = self
            .http
            .request(method, self.user_url(call))
            .body(call.body.clone());
        for (name, value) in [
            ("timestamp", call.timestamp.as_str()),
            ("nonce", call.nonce.as_str()),
            ("signature", signature.as_str()),
        ] {
            if !call.omit.contains(&name) {
                request = request.header(name, value);
            }
        }
        if let Some(content_type) = &call.content_type {
            request = request.header("content-type", content_type);
        }
        answer(request.send().await.unwrap()).await
    }

    /// Rows in a table, read straight from the database file.
    pub fn count(&self, table: &str) -> i64 {
        let connection = rusqlite::Connection::open(&self.db_path).unwrap();
        connection
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| {
                row.get(0)
            })
            .unwrap()
    }

    /// Registers another merchant with a fresh key and returns the key.
    pub async fn add_merchant(&self, id: &str) -> SigningKey {
        let (key, public) = fresh_keys();
        self.store
            .add_merchant(&MerchantId::parse(id).unwrap(), stored(&public))
            .await
            .unwrap();
        key
    }

    /// A second application on the same database, as after a restart.
    pub async fn restarted(&self) -> String {
        let store = payfac_store::open(&format!("sqlite://{}", self.db_path.display()))
            .await
            .unwrap();
        let config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..Config::default()
        };
        start(config, store).await
    }

    /// Another instance on the same database, as a second server behind
    /// the same load balancer.
    pub async fn another_instance(&self, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let store = payfac_store::open(&format!("sqlite://{}", self.db_path.display()))
            .await
            .unwrap();
        let mut config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..Config::default()
        };
        adjust(&mut config);
        let (address, backlog) = launch(config, store.clone()).await;
        TestApp {
            address,
            backlog,
            store,
            db_path: self.db_path.clone(),
            http: self.http.clone(),
            key: vector_keys().0,
            _dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A fresh code for a buyer of the default merchant.
    pub async fn code_for(&self, merchant_user_no: &str) -> String {
        let answer = self
            .send(&Call::buyer(
                merchant_user_no,
                &format!("{merchant_user_no}@example.com"),
            ))
            .await;
        assert_eq!(answer.code(), "0000", "{}", answer.json);
        answer.code_value()
    }

    /// `GET path` with an optional session cookie, redirects not followed.
    pub async fn get(&self, path: &str, session: Option<&str>) -> reqwest::Response {
        let mut request = self.http.get(format!("{}{path}", self.address));
        if let Some(session) = session {
            request = request.header("cookie", format!("payfac_session={session}"));
        }
        request.send().await.unwrap()
    }

    /// The permutation of credential ids this app's database keeps.
    pub async fn ids(&self) -> payfac_domain::IdPermutation {
        payfac_server::keys::ServiceKeys::load(self.store.as_ref())
            .await
            .unwrap()
            .ids
    }

    pub async fn metrics(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.address))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

/// The session id a response sets, if any.
pub fn session_set_by(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| value.strip_prefix("payfac_session="))
        .map(|rest| rest.split(';').next().unwrap_or("").to_owned())
        .filter(|value| !value.is_empty())
}

pub async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap();
    let json = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        panic!(
            "HTTP {status}: not JSON: {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    Answer {
        status,
        headers,
        json,
    }
}

pub use payfac_test_support::eventually;

/// True when a scrape of `/metrics` has `series` (`name{labels}` as
/// rendered) with a non-zero value. Every counter is exported at 0 from
/// start-up, so being listed says nothing about an event.
pub fn counted(metrics: &str, series: &str) -> bool {
    metrics.lines().any(|line| {
        line.rsplit_once(' ')
            .is_some_and(|(head, value)| head == series && value != "0")
    })
}
