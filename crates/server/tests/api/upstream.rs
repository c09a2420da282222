//! A real storefront for the gateway tests: an HTTP server on 127.0.0.1
//! in the test process that echoes what it received, streams large bodies
//! in both directions under the test's control, and can be slow.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::StreamExt;
use serde_json::{Map, Value, json};
use tokio::sync::Notify;

/// One chunk of the streamed bodies.
pub const CHUNK: usize = 64 * 1024;
/// The size of the streamed bodies: 10 MiB.
pub const LARGE: usize = 10 * 1024 * 1024;

#[derive(Clone, Default)]
pub struct Upstream {
    /// `METHOD path?query` of every request that arrived.
    pub seen: Arc<Mutex<Vec<String>>>,
    /// Told when the first chunk of an upload arrived.
    pub upload_started: Arc<Notify>,
    /// Waited for before a download sends more than its first chunk.
    pub release_download: Arc<Notify>,
}

pub struct RunningUpstream {
    pub url: String,
    pub upstream: Upstream,
}

impl Upstream {
    pub async fn start() -> RunningUpstream {
        let upstream = Upstream::default();
        let app = Router::new()
            .route("/upload", post(upload))
            .route("/download", get(download))
            .route("/slow", get(slow))
            .route("/refuse-upload", post(refuse_upload))
            .route("/moved", get(moved))
            .fallback(echo)
            .with_state(upstream.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        RunningUpstream { url, upstream }
    }

    fn record(&self, request: &Request) {
        self.seen
            .lock()
            .unwrap()
            .push(format!("{} {}", request.method(), request.uri()));
    }
}

fn headers_json(headers: &HeaderMap) -> Value {
    let mut map = Map::new();
    for name in headers.keys() {
        let values: Vec<Value> = headers
            .get_all(name)
            .iter()
            .map(|value| Value::String(String::from_utf8_lossy(value.as_bytes()).into_owned()))
            .collect();
        map.insert(name.as_str().to_owned(), Value::Array(values));
    }
    Value::Object(map)
}

/// Everything else: the request as JSON, with the status `?status=` asks
/// for and two cookies of the storefront's own.
async fn echo(State(upstream): State<Upstream>, request: Request) -> Response {
    upstream.record(&request);
    let status = request
        .uri()
        .query()
        .and_then(|query| query.strip_prefix("status="))
        .and_then(|code| code.parse().ok())
        .and_then(|code| StatusCode::from_u16(code).ok())
        .unwrap_or(StatusCode::OK);
    let (parts, body) = request.into_parts();
    let collected = http_body_util::BodyExt::collect(body).await.unwrap();
    let trailers = collected.trailers().cloned().unwrap_or_default();
    let body = collected.to_bytes();
    let echoed = json!({
        "method": parts.method.as_str(),
        "uri": parts.uri.to_string(),
        "headers": headers_json(&parts.headers),
        "trailers": headers_json(&trailers),
        "body": String::from_utf8_lossy(&body),
    });
    let mut response = (status, axum::Json(echoed)).into_response();
    let headers = response.headers_mut();
    headers.append("set-cookie", "store_cart=3; Path=/".parse().unwrap());
    headers.append("set-cookie", "store_theme=dark; Path=/".parse().unwrap());
    headers.insert("x-store", "echo".parse().unwrap());
    response
}

/// `302` to `/new` on the address the request named in `Host`, as a
/// framework builds an absolute redirect.
async fn moved(State(upstream): State<Upstream>, request: Request) -> Response {
    upstream.record(&request);
    let host = request.headers()["host"].to_str().unwrap().to_owned();
    (
        StatusCode::FOUND,
        [("location", format!("http://{host}/new?from=moved"))],
    )
        .into_response()
}

/// `413` at once, without reading the upload, as a storefront with a
/// body limit answers.
async fn refuse_upload(State(upstream): State<Upstream>, request: Request) -> Response {
    upstream.record(&request);
    StatusCode::PAYLOAD_TOO_LARGE.into_response()
}

/// Counts an upload's bytes as they stream in; says when the first arrived.
async fn upload(State(upstream): State<Upstream>, request: Request) -> Response {
    upstream.record(&request);
    let mut stream = request.into_body().into_data_stream();
    let mut total = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        if total == 0 && !chunk.is_empty() {
            upstream.upload_started.notify_one();
        }
        total += chunk.len();
    }
    axum::Json(json!({"bytes": total})).into_response()
}

/// `?bytes=N` bytes of 'x': one chunk at once, the rest once released.
async fn download(
    State(upstream): State<Upstream>,
    Query(query): Query<std::collections::HashMap<String, usize>>,
) -> Response {
    let size = query.get("bytes").copied().unwrap_or(LARGE);
    let release = upstream.release_download.clone();
    let stream = futures_util::stream::unfold(0usize, move |sent| {
        let release = release.clone();
        async move {
            if sent >= size {
                return None;
            }
            if sent == CHUNK {
                release.notified().await;
            }
            let length = CHUNK.min(size - sent);
            Some((
                Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; length])),
                sent + length,
            ))
        }
    });
    (
        [("content-length", size.to_string())],
        Body::from_stream(stream),
    )
        .into_response()
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_secs(30)).await;
    "too late"
}
