//! The load generator: N tasks, each with its own keep-alive HTTP/1.1
//! connection (hyper's connection-level client, no pool in the way),
//! sending as fast as answers come back, until the phase's time is up or
//! its prepared requests run out.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{CONTENT_TYPE, HOST, HeaderValue, SET_COOKIE};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    Healthz,
    SyncNew,
    SyncReturning,
    Redeem,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Self::Healthz => "healthz",
            Self::SyncNew => "user-sync (new buyers)",
            Self::SyncReturning => "user-sync (returning)",
            Self::Redeem => "redeem code",
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Self::Healthz => "healthz",
            Self::SyncNew => "user_sync",
            Self::SyncReturning => "user_sync_returning",
            Self::Redeem => "redeem",
        }
    }
}

/// One request, ready to send: everything expensive (the signature) done.
#[derive(Clone)]
pub struct Prepared {
    pub method: Method,
    pub path: String,
    pub body: Bytes,
    /// `timestamp`, `nonce`, `signature` (signed requests only).
    pub signed: Option<[HeaderValue; 3]>,
}

impl Prepared {
    pub fn request(&self, host: &HeaderValue) -> Request<Full<Bytes>> {
        let mut builder = Request::builder()
            .method(self.method.clone())
            .uri(self.path.as_str())
            .header(HOST, host.clone());
        if let Some([timestamp, nonce, signature]) = &self.signed {
            builder = builder
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .header("timestamp", timestamp.clone())
                .header("nonce", nonce.clone())
                .header("signature", signature.clone());
        }
        builder
            .body(Full::new(self.body.clone()))
            .expect("a prepared request is well-formed")
    }
}

/// What one phase measured.
pub struct PhaseOutcome {
    pub requests: u64,
    pub errors: u64,
    /// Unexpected answers by kind (`HTTP 401 10003`, `transport`, ...).
    pub error_kinds: BTreeMap<String, u64>,
    pub elapsed: Duration,
    /// Latency of every request, microseconds.
    pub histogram: Histogram<u64>,
    /// The prepared requests ran out before the time was up.
    pub exhausted: bool,
    pub prepared: Option<usize>,
    /// CPU use during the phase (machine capacity = 1.0).
    pub cpu: crate::cpu::Usage,
    /// Authorization codes user-sync answered with.
    pub codes: Vec<String>,
    /// /healthz req/s measured right before this phase.
    pub adjacent_healthz: Option<f64>,
}

impl PhaseOutcome {
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn error_summary(&self) -> String {
        if self.error_kinds.is_empty() {
            return "none".into();
        }
        self.error_kinds
            .iter()
            .map(|(kind, count)| format!("{kind}: {count}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// CPU microseconds per request by thread group, largest first.
    pub fn cpu_per_request(&self) -> Vec<(String, f64)> {
        let requests = self.requests.max(1) as f64;
        let mut parts: Vec<(String, f64)> = self
            .cpu
            .seconds
            .iter()
            .map(|(name, seconds)| (name.clone(), seconds * 1e6 / requests))
            .filter(|(_, micros)| *micros >= 0.05)
            .collect();
        parts.sort_by(|a, b| b.1.total_cmp(&a.1));
        parts
    }

    pub fn cpu_per_request_text(&self) -> String {
        let parts = self.cpu_per_request();
        let total: f64 = parts.iter().map(|(_, micros)| micros).sum();
        let detail: Vec<String> = parts
            .iter()
            .map(|(name, micros)| format!("{name} {micros:.1}"))
            .collect();
        format!("{total:.1} ({})", detail.join(", "))
    }

    pub fn summary(&self) -> String {
        let ms = |q| self.histogram.value_at_quantile(q) as f64 / 1000.0;
        let mut text = format!(
            "{} requests in {:.2} s = {:.0}/s; p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms; errors {} ({}); CPU: bench {:.0}%, PostgreSQL {:.0}%, other processes {:.0}%",
            self.requests,
            self.elapsed.as_secs_f64(),
            self.rate(),
            ms(0.5),
            ms(0.9),
            ms(0.99),
            self.errors,
            self.error_summary(),
            self.cpu.own * 100.0,
            self.cpu.database * 100.0,
            self.cpu.others * 100.0
        );
        text.push_str(&format!(
            "; CPU µs per request: {}",
            self.cpu_per_request_text()
        ));
        if self.exhausted {
            text.push_str(&format!(
                "; STOPPED EARLY: all {} prepared requests were used",
                self.prepared.unwrap_or(0)
            ));
        }
        text
    }
}

pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000, 3).expect("valid histogram bounds")
}

/// Runs one phase: `connections` tasks for `duration`, each taking the next
/// unsent request of `pool` (or `GET /healthz` when there is no pool).
pub async fn run(
    address: SocketAddr,
    connections: usize,
    duration: Duration,
    kind: Kind,
    pool: Option<Vec<Prepared>>,
) -> anyhow::Result<PhaseOutcome> {
    let prepared = pool.as_ref().map(Vec::len);
    let pool = Arc::new(pool.unwrap_or_default());
    let cursor = Arc::new(AtomicUsize::new(0));
    let exhausted = Arc::new(AtomicBool::new(false));
    let host = HeaderValue::from_str(&address.to_string()).expect("an address is a valid host");

    let mut senders = Vec::with_capacity(connections);
    for _ in 0..connections {
        senders.push(connect(address).await?);
    }
    let cpu_before = crate::cpu::Sample::now();
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(connections);
    for sender in senders {
        let worker = Worker {
            address,
            host: host.clone(),
            kind,
            pool: pool.clone(),
            cursor: cursor.clone(),
            exhausted: exhausted.clone(),
            deadline,
        };
        tasks.push(tokio::spawn(worker.run(sender)));
    }
    let mut outcome = PhaseOutcome {
        requests: 0,
        errors: 0,
        error_kinds: BTreeMap::new(),
        elapsed: Duration::ZERO,
        histogram: new_histogram(),
        exhausted: false,
        prepared,
        cpu: crate::cpu::Usage::default(),
        codes: Vec::new(),
        adjacent_healthz: None,
    };
    for task in tasks {
        let tally = task.await.context("a load task panicked")?;
        outcome.requests += tally.requests;
        outcome.errors += tally.errors;
        for (kind, count) in tally.error_kinds {
            *outcome.error_kinds.entry(kind).or_default() += count;
        }
        outcome.histogram.add(&tally.histogram)?;
        outcome.codes.extend(tally.codes);
    }
    outcome.elapsed = started.elapsed();
    outcome.cpu = crate::cpu::usage(&cpu_before, &crate::cpu::Sample::now());
    outcome.exhausted = exhausted.load(Ordering::Relaxed);
    Ok(outcome)
}

pub async fn connect(address: SocketAddr) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(address)
        .await
        .with_context(|| format!("connecting to {address}"))?;
    stream.set_nodelay(true)?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

struct Worker {
    address: SocketAddr,
    host: HeaderValue,
    kind: Kind,
    pool: Arc<Vec<Prepared>>,
    cursor: Arc<AtomicUsize>,
    exhausted: Arc<AtomicBool>,
    deadline: Instant,
}

struct Tally {
    requests: u64,
    errors: u64,
    error_kinds: BTreeMap<String, u64>,
    histogram: Histogram<u64>,
    codes: Vec<String>,
}

impl Worker {
    async fn run(self, mut sender: SendRequest<Full<Bytes>>) -> Tally {
        let healthz = Prepared {
            method: Method::GET,
            path: "/healthz".into(),
            body: Bytes::new(),
            signed: None,
        };
        let mut tally = Tally {
            requests: 0,
            errors: 0,
            error_kinds: BTreeMap::new(),
            histogram: new_histogram(),
            codes: Vec::new(),
        };
        loop {
            if Instant::now() >= self.deadline {
                break;
            }
            let prepared = if self.kind == Kind::Healthz {
                &healthz
            } else {
                let index = self.cursor.fetch_add(1, Ordering::Relaxed);
                match self.pool.get(index) {
                    Some(prepared) => prepared,
                    None => {
                        self.exhausted.store(true, Ordering::Relaxed);
                        break;
                    }
                }
            };
            let request = prepared.request(&self.host);
            let begun = Instant::now();
            let answer = exchange(&mut sender, request).await;
            let micros = begun.elapsed().as_micros() as u64;
            tally.histogram.saturating_record(micros.max(1));
            tally.requests += 1;
            let problem = match answer {
                Ok(answer) => self.check(answer, &mut tally.codes),
                Err(error) => {
                    let problem = format!("transport: {error}");
                    match connect(self.address).await {
                        Ok(fresh) => sender = fresh,
                        Err(_) => {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                    Some(problem)
                }
            };
            if let Some(problem) = problem {
                tally.errors += 1;
                *tally.error_kinds.entry(problem).or_default() += 1;
            }
        }
        tally
    }

    /// `None` when the answer is the one this phase expects.
    fn check(&self, answer: Answer, codes: &mut Vec<String>) -> Option<String> {
        match self.kind {
            Kind::Healthz if answer.status == StatusCode::OK => None,
            Kind::SyncNew | Kind::SyncReturning if answer.status == StatusCode::OK => {
                match authorization_code(&answer.body) {
                    Some(code) => {
                        codes.push(code);
                        None
                    }
                    None => Some(format!(
                        "HTTP 200 without a code: {}",
                        envelope_code(&answer.body)
                    )),
                }
            }
            Kind::Redeem if answer.status == StatusCode::SEE_OTHER => {
                if answer.signed_in {
                    None
                } else {
                    Some("HTTP 303 without a session (code refused)".into())
                }
            }
            _ => Some(format!(
                "HTTP {} {}",
                answer.status.as_u16(),
                envelope_code(&answer.body)
            )),
        }
    }
}

struct Answer {
    status: StatusCode,
    signed_in: bool,
    body: Bytes,
}

async fn exchange(
    sender: &mut SendRequest<Full<Bytes>>,
    request: Request<Full<Bytes>>,
) -> anyhow::Result<Answer> {
    sender.ready().await?;
    let response = sender.send_request(request).await?;
    let status = response.status();
    let signed_in = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .any(|value| value.as_bytes().starts_with(b"payfac_session="));
    let body = response.into_body().collect().await?.to_bytes();
    Ok(Answer {
        status,
        signed_in,
        body,
    })
}

/// The `authorizationCode` of a `0000` envelope, found without a full
/// JSON parse (the client shares the server's cores).
fn authorization_code(body: &[u8]) -> Option<String> {
    find(body, b"\"code\":\"0000\"")?;
    const KEY: &[u8] = b"\"authorizationCode\":\"";
    let start = find(body, KEY)? + KEY.len();
    let end = start + body[start..].iter().position(|&b| b == b'"')?;
    String::from_utf8(body[start..end].to_vec()).ok()
}

/// The envelope's `code`, for error reports.
fn envelope_code(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|value| value["code"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_code_of_a_success_envelope() {
        let body = br#"{"code":"0000","msg":"Success","time":"x","data":{"userId":"1","authorizationCode":"abc123"}}"#;
        assert_eq!(authorization_code(body).as_deref(), Some("abc123"));
        let error = br#"{"code":"10003","msg":"Request signature error.","data":null}"#;
        assert_eq!(authorization_code(error), None);
        assert_eq!(envelope_code(error), "10003");
    }
}
