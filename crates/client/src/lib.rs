//! Merchant-side client of the payfac User Sync API.
//!
//! Signs every call with a fresh timestamp and nonce, sends the exact
//! bytes it signed, and retries only what is safe to retry: a `10004`
//! (nothing was persisted) or a connection failure, with backoff and a new
//! nonce each time.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use payfac_signing::{SigningKey, signature_string};
use serde_json::Value;

/// `data` of a `0000` answer.
pub use payfac_api_types::Issued;
/// The request body of `POST /pay-fac/{merchant}/v1/user`.
pub use payfac_api_types::UserSyncBody as UserSync;

/// The response envelope, as the service sent it; `data` is kept as JSON
/// so that an answer of any code can be shown whole.
pub type Envelope = payfac_api_types::Envelope<Value>;

/// The error codes of the API, one variant each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiCode {
    UrlParsing,
    JsonParsing,
    Signature,
    Server,
    Other,
}

impl ApiCode {
    pub fn from_code(code: &str) -> Self {
        match code {
            "10001" => Self::UrlParsing,
            "10002" => Self::JsonParsing,
            "10003" => Self::Signature,
            "10004" => Self::Server,
            _ => Self::Other,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the service answered {} {}", .envelope.code, .envelope.msg)]
    Api {
        code: ApiCode,
        envelope: Box<Envelope>,
    },
    #[error("request failed")]
    Transport(#[from] reqwest::Error),
    #[error("unexpected answer (HTTP {status}): not a payfac envelope")]
    NotAnEnvelope { status: u16 },
}

/// Signs and sends user-sync calls for one merchant.
pub struct MerchantClient {
    http: reqwest::Client,
    base_url: String,
    merchant: String,
    key: SigningKey,
    attempts: u32,
}

impl MerchantClient {
    /// `base_url` is the service root, e.g. `https://payfac.example`.
    pub fn new(base_url: &str, merchant: &str, key: SigningKey) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            merchant: merchant.to_owned(),
            key,
            attempts: 3,
        })
    }

    /// How many times a retryable failure is tried in all (default 3).
    pub fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts.max(1);
        self
    }

    /// Syncs a buyer and returns the envelope whatever its code.
    pub async fn send(&self, request: &UserSync) -> Result<Envelope, ClientError> {
        let body = serde_json::to_vec(request).expect("UserSync always serializes");
        let mut attempt = 1;
        loop {
            let result = self.send_once(&body).await;
            let retryable = match &result {
                Ok(envelope) => envelope.code == "10004",
                Err(ClientError::Transport(error)) => error.is_connect() || error.is_timeout(),
                Err(_) => false,
            };
            if !retryable || attempt >= self.attempts {
                return result;
            }
            tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt - 1))).await;
            attempt += 1;
        }
    }

    /// Syncs a buyer; any code but `0000` is an error.
    pub async fn sync_user(&self, request: &UserSync) -> Result<Issued, ClientError> {
        let envelope = self.send(request).await?;
        let issued = (envelope.code == "0000")
            .then(|| envelope.data.clone())
            .flatten()
            .and_then(|data| serde_json::from_value(data).ok());
        issued.ok_or_else(|| ClientError::Api {
            code: ApiCode::from_code(&envelope.code),
            envelope: Box::new(envelope),
        })
    }

    async fn send_once(&self, body: &[u8]) -> Result<Envelope, ClientError> {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
            .to_string();
        let nonce = payfac_domain::random_alphanumeric(24);
        let signature = self
            .key
            .sign(&signature_string("", &timestamp, &nonce, body));
        let response = self
            .http
            .post(format!(
                "{}/pay-fac/{}/v1/user",
                self.base_url, self.merchant
            ))
            .header("content-type", "application/json")
            .header("timestamp", timestamp)
            .header("nonce", nonce)
            .header("signature", signature)
            .body(body.to_vec())
            .send()
            .await?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await?;
        serde_json::from_slice(&bytes).map_err(|_| ClientError::NotAnEnvelope { status })
    }
}
