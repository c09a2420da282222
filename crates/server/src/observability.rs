//! Logs and metrics: one log line and one set of metrics per request,
//! labelled by the matched route (never the raw path) and result code.
//! Query strings are never logged: they carry authorization codes.

use std::borrow::Cow;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

use crate::envelope::ResultCode;

/// The merchant a response was for, when it is a known one.
#[derive(Debug, Clone)]
pub struct MerchantLabel(pub String);

/// Installs the log subscriber once. `json` gives one JSON object a line;
/// the filter comes from `RUST_LOG` (default `info`).
/// Colours only when `colour` is set (the CLI passes "stderr is a
/// terminal and NO_COLOR is unset").
pub fn init_logging(json: bool, colour: bool, writer: fn() -> Box<dyn std::io::Write>) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(colour)
        .with_target(false);
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.compact().try_init()
    };
}

/// The process-wide Prometheus recorder, installed on first use.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Suffix("_seconds".into()),
                    &[
                        0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                    ],
                )
                .expect("static bucket list is not empty")
                .build_recorder();
            let handle = recorder.handle();
            // Fails only when another recorder is installed (a test
            // harness); metrics then go there and /metrics stays empty.
            let _ = metrics::set_global_recorder(recorder);
            crate::metric_catalog::register_at_zero();
            spawn_upkeep(handle.clone());
            handle
        })
        .clone()
}

/// How often histogram samples are folded into their buckets.
pub const METRICS_UPKEEP: std::time::Duration = std::time::Duration::from_secs(1);

/// The recorder keeps every histogram sample (a request's duration) until
/// something folds them into the buckets: a scrape of `/metrics`, or
/// `run_upkeep`. Without a scraper that was a leak of ~24 bytes per
/// request (docs/RELIABILITY.md, "Memory"), so a thread folds them every
/// `METRICS_UPKEEP`, whichever runtime the recorder was made on.
fn spawn_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(METRICS_UPKEEP);
                handle.run_upkeep();
            }
        });
    if let Err(error) = spawned {
        tracing::error!(%error, "could not start the metrics upkeep thread");
    }
}

fn next_request_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static PREFIX: OnceLock<String> = OnceLock::new();
    let prefix = PREFIX.get_or_init(|| payfac_domain::random_alphanumeric(6));
    format!("{prefix}-{}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Request id, span, log line and metrics for every request.
pub async fn track_requests(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let trace = RequestTrace::start(request.method(), route);
    let response = next.run(request).instrument(trace.span.clone()).await;
    trace.finish(response)
}

/// One request as the logs and metrics see it, from its head to its
/// answer. The router's requests get theirs from `track_requests`; the
/// gateway's shortcut (`Gateway::proxy_direct`) starts one itself, so
/// both write the same line and the same metrics.
pub struct RequestTrace {
    started: Instant,
    /// Borrowed for the gateway's fixed routes: no allocation per request.
    route: Cow<'static, str>,
    request_id: String,
    /// What the handling runs in, so its own events carry the request id.
    pub span: tracing::Span,
    _in_flight: InFlight,
}

impl RequestTrace {
    /// `route` is the matched route pattern, never the raw path.
    pub fn start(method: &axum::http::Method, route: impl Into<Cow<'static, str>>) -> Self {
        let route = route.into();
        let request_id = next_request_id();
        let _in_flight = InFlight::enter();
        let span = tracing::info_span!("request", id = %request_id, %method, %route);
        Self {
            started: Instant::now(),
            route,
            request_id,
            span,
            _in_flight,
        }
    }

    /// Logs the answer, counts it, and hands it back with its
    /// `x-request-id`.
    pub fn finish(self, mut response: Response) -> Response {
        let elapsed = self.started.elapsed();
        let status = response.status().as_u16();
        let code = response
            .extensions()
            .get::<ResultCode>()
            .map(|code| code.0)
            .unwrap_or("-");
        // Taken, not borrowed: nothing reads it after this, and the metric
        // label below then owns it without a copy.
        let known_merchant = response.extensions_mut().remove::<MerchantLabel>();
        let merchant = known_merchant
            .as_ref()
            .map_or("-", |label| label.0.as_str());
        self.span.in_scope(|| {
            tracing::info!(
                status,
                code,
                merchant,
                latency_ms = elapsed.as_secs_f64() * 1000.0,
                "request"
            );
        });
        let status_label = status.to_string();
        metrics::counter!(
            "payfac_http_requests_total",
            "route" => self.route.clone(),
            "status" => status_label,
            "code" => code
        )
        .increment(1);
        // Known merchants only (`MerchantLabel`): one series per merchant
        // and code, registered at zero by the merchant directory.
        if let Some(MerchantLabel(merchant)) = known_merchant {
            metrics::counter!(
                "payfac_merchant_calls_total",
                "merchant" => merchant,
                "code" => code
            )
            .increment(1);
        }
        metrics::histogram!("payfac_http_request_duration_seconds", "route" => self.route)
            .record(elapsed.as_secs_f64());
        if let Ok(value) = HeaderValue::from_str(&self.request_id) {
            response.headers_mut().insert("x-request-id", value);
        }
        response
    }
}

/// `payfac_http_requests_in_flight`: up while a request is handled
/// (its body still arriving included), down when it is answered or
/// dropped, so a cancelled request does not leave the gauge high.
/// The gauge's handle is looked up once, not twice per request.
struct InFlight(&'static metrics::Gauge);

impl InFlight {
    fn enter() -> Self {
        static GAUGE: OnceLock<metrics::Gauge> = OnceLock::new();
        let gauge = GAUGE.get_or_init(|| metrics::gauge!("payfac_http_requests_in_flight"));
        gauge.increment(1.0);
        Self(gauge)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

/// Resident set size of this process, in KiB, from `/proc/self/status`;
/// 0 where that file does not exist. A soak (`payfac-bench --steady`) and
/// the overload test read it to show that memory levels off
/// (docs/RELIABILITY.md, "Memory").
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|value| value.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Four million request durations, recorded with nobody scraping
    /// `/metrics`: kept, they took 60 MiB and more; folded
    /// into the buckets every `METRICS_UPKEEP`, memory holds about one
    /// batch.
    #[test]
    fn histogram_samples_do_not_pile_up_without_a_scrape() {
        metrics_handle();
        let before = rss_kib();
        for _ in 0..10 {
            for _ in 0..400_000 {
                metrics::histogram!("payfac_test_upkeep_seconds").record(0.001);
            }
            std::thread::sleep(METRICS_UPKEEP + std::time::Duration::from_millis(300));
        }
        let grown_mib = rss_kib().saturating_sub(before) / 1024;
        assert!(grown_mib < 24, "RSS grew by {grown_mib} MiB");
    }
}
