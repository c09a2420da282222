//! `--gateway`: a proxied GET of a signed-in buyer against the same GET
//! sent straight to the storefront, in one run (issue 14's target: the
//! proxied rate ≥ 0.5 × the direct rate at 64 connections).
//!
//! The storefront is a small axum server answering a fixed 2 KiB page on
//! a runtime of its own (one thread, as a separate process would have);
//! payfac runs in gateway mode in front of it on the server runtime, on
//! the same store. Each connection signs its own buyer in through an
//! `authorizationCode` link first, so every proxied request carries a
//! real session: the session lookup, the header hygiene and a fresh
//! Ed25519 `X-Payfac-Identity` are all in the measured path. The
//! storefront answers `x-identity: yes` only when it received the token,
//! and the bench counts any other answer as an error.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{COOKIE, HOST, HeaderValue, SET_COOKIE};
use hyper::{Request, StatusCode};
use payfac_server::{Application, Config};

use crate::load::{connect, new_histogram};
use crate::phases::quiet;
use crate::{Args, Setup, presign};

const PAGE_PATH: &str = "/catalog/page";

/// What one side measured (a request, or a whole flow for `--oidc`).
pub struct Side {
    pub requests: u64,
    pub errors: u64,
    pub elapsed: Duration,
    pub histogram: Histogram<u64>,
    /// CPU of the run, by thread name: where each request's cost goes.
    pub cpu: crate::cpu::Usage,
}

impl Side {
    pub fn new() -> Self {
        Self {
            requests: 0,
            errors: 0,
            elapsed: Duration::ZERO,
            histogram: new_histogram(),
            cpu: crate::cpu::Usage::default(),
        }
    }

    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    /// CPU microseconds per request by thread group (`server` is payfac,
    /// `client` the load generator, `storefront` the upstream), and the
    /// share of the machine other processes took.
    pub fn cpu_line(&self) -> String {
        self.cpu_line_per("request")
    }

    /// The same, per `unit` (`request`, `flow`).
    pub fn cpu_line_per(&self, unit: &str) -> String {
        let requests = self.requests.max(1) as f64;
        let parts: Vec<String> = self
            .cpu
            .seconds
            .iter()
            .map(|(name, seconds)| format!("{name} {:.1}", seconds * 1e6 / requests))
            .collect();
        format!(
            "    CPU µs per {unit}: {}; other processes {:.0}% of the machine",
            parts.join(", "),
            self.cpu.others * 100.0
        )
    }

    fn line(&self, label: &str) -> String {
        self.line_in(label, "req/s")
    }

    /// The line with the rate in `unit` (`req/s`, `flows/s`).
    pub fn line_in(&self, label: &str, unit: &str) -> String {
        let ms = |q: f64| self.histogram.value_at_quantile(q) as f64 / 1000.0;
        format!(
            "{label:<28} {:>9.0} {unit}  p50 {:>6.2} ms  p99 {:>6.2} ms  errors {}",
            self.rate(),
            ms(0.5),
            ms(0.99),
            self.errors
        )
    }
}

pub fn run(
    args: &Args,
    setup: &Setup,
    server_rt: &tokio::runtime::Runtime,
    client_rt: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let upstream_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("storefront")
        .enable_all()
        .build()?;
    let page_work = Duration::from_micros(args.page_work_us);
    let storefront = upstream_rt.block_on(start_storefront(page_work))?;
    let config = Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        insecure_cookies: true,
        code_ttl_secs: 3600,
        upstream: Some(format!("http://{storefront}").parse()?),
        ..Config::default()
    };
    let application = server_rt
        .block_on(Application::build(config, setup.store.clone()))
        .context("starting payfac in gateway mode")?;
    let gateway = SocketAddr::from(([127, 0, 0, 1], application.port()));
    server_rt.spawn(application.run_until_stopped());
    eprintln!("storefront on {storefront}, payfac in front of it on {gateway}");

    let nginx = match &args.nginx {
        Some(binary) => {
            let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
            let nginx = crate::reference_proxy::Nginx::start(binary, storefront, workers)?;
            eprintln!("nginx in front of the storefront on {}", nginx.address);
            Some(nginx)
        }
        None => None,
    };
    let result = client_rt.block_on(async {
        let cookies = sign_in(setup, gateway, args.connections).await?;
        let duration = Duration::from_secs(args.duration);
        let mut sides = Vec::new();
        let mut runs = vec![
            ("straight to the storefront", storefront, None),
            ("through payfac, signed in", gateway, Some(&cookies)),
        ];
        if let Some(nginx) = &nginx {
            runs.push(("through nginx (reference)", nginx.address, None));
        }
        for (label, address, cookies) in runs {
            eprintln!("--- {label}");
            measure(address, cookies, args.connections, duration / 5).await?;
            quiet(args).await;
            let side = measure(address, cookies, args.connections, duration).await?;
            eprintln!("{}", side.line(label));
            eprintln!("{}", side.cpu_line());
            sides.push((label, side));
        }
        anyhow::Ok(sides)
    });
    drop(nginx);
    upstream_rt.shutdown_timeout(Duration::from_secs(1));
    let sides = result?;
    let (direct, proxied) = (&sides[0].1, &sides[1].1);
    let ratio = proxied.rate() / direct.rate();
    let nginx_ratio = sides.get(2).map(|(_, side)| side.rate() / direct.rate());
    println!(
        "GET {PAGE_PATH} ({} connections, {} s each, {} µs of storefront work per page)",
        args.connections, args.duration, args.page_work_us
    );
    for (label, side) in &sides {
        println!("{}", side.line(label));
        println!("{}", side.cpu_line());
    }
    if args.page_work_us == 0 {
        println!("proxied ÷ direct = {ratio:.2} (target ≥ 0.50)");
    } else {
        println!("proxied ÷ direct = {ratio:.2} (the target is for a page that costs nothing)");
    }
    if let Some(nginx_ratio) = nginx_ratio {
        println!(
            "nginx ÷ direct = {nginx_ratio:.2}; payfac ÷ nginx = {:.2}",
            ratio / nginx_ratio
        );
    }
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "connections": args.connections,
                "page_work_us": args.page_work_us,
                "direct_rps": direct.rate(),
                "proxied_rps": proxied.rate(),
                "ratio": ratio,
                "direct_p99_ms": direct.histogram.value_at_quantile(0.99) as f64 / 1000.0,
                "proxied_p99_ms": proxied.histogram.value_at_quantile(0.99) as f64 / 1000.0,
                "nginx_rps": sides.get(2).map(|(_, side)| side.rate()),
                "errors": sides.iter().map(|(_, side)| side.errors).sum::<u64>(),
            })
        );
    }
    Ok(())
}

/// The storefront: a fixed page, and `x-identity: yes` when the request
/// carried payfac's token.
/// The storefront; each page first keeps its thread busy for `work`.
async fn start_storefront(work: Duration) -> anyhow::Result<SocketAddr> {
    static PAGE: &str = include_str!("gateway_page.html");
    let app = axum::Router::new().route(
        PAGE_PATH,
        axum::routing::get(move |headers: axum::http::HeaderMap| async move {
            let started = Instant::now();
            while started.elapsed() < work {
                std::hint::spin_loop();
            }
            let identity = if headers.contains_key("x-payfac-identity") {
                "yes"
            } else {
                "no"
            };
            (
                [
                    ("content-type", "text/html; charset=utf-8"),
                    ("x-identity", identity),
                ],
                PAGE,
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(address)
}

/// One buyer per connection, signed in through a code link on a
/// storefront page; their session cookies.
async fn sign_in(
    setup: &Setup,
    gateway: SocketAddr,
    count: usize,
) -> anyhow::Result<Vec<HeaderValue>> {
    sign_in_on(setup, gateway, PAGE_PATH, count).await
}

/// The same, with the code on `path`.
pub async fn sign_in_on(
    setup: &Setup,
    gateway: SocketAddr,
    path: &str,
    count: usize,
) -> anyhow::Result<Vec<HeaderValue>> {
    let codes = presign::issue_codes(setup, count, 3600).await?;
    let host = HeaderValue::from_str(&gateway.to_string())?;
    let mut sender = connect(gateway).await?;
    let mut cookies = Vec::with_capacity(count);
    for code in codes {
        let request = Request::get(format!("{path}?authorizationCode={code}"))
            .header(HOST, host.clone())
            .body(Full::new(Bytes::new()))?;
        sender.ready().await?;
        let response = sender.send_request(request).await?;
        anyhow::ensure!(
            response.status() == StatusCode::SEE_OTHER,
            "sign-in answered {}",
            response.status()
        );
        let cookie = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find(|value| value.starts_with("payfac_session="))
            .and_then(|value| value.split(';').next())
            .context("a code signs a buyer in")?;
        cookies.push(HeaderValue::from_str(cookie)?);
        response.into_body().collect().await?;
    }
    Ok(cookies)
}

/// `connections` keep-alive connections sending the page GET for
/// `duration`; connection `i` uses cookie `i` when there are cookies.
async fn measure(
    address: SocketAddr,
    cookies: Option<&Vec<HeaderValue>>,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<Side> {
    measure_path(
        address,
        PAGE_PATH,
        cookies,
        connections,
        duration,
        |response, signed_in| {
            let expected = if signed_in { "yes" } else { "no" };
            response.status() == StatusCode::OK
                && response
                    .headers()
                    .get("x-identity")
                    .is_some_and(|v| v == expected)
        },
    )
    .await
}

/// What a good answer is: the response head, and whether the request
/// carried a session.
type Check = fn(&hyper::Response<hyper::body::Incoming>, bool) -> bool;

/// `connections` keep-alive connections sending `GET path` for
/// `duration`; connection `i` uses cookie `i` when there are cookies.
async fn measure_path(
    address: SocketAddr,
    path: &'static str,
    cookies: Option<&Vec<HeaderValue>>,
    connections: usize,
    duration: Duration,
    check: Check,
) -> anyhow::Result<Side> {
    let host = HeaderValue::from_str(&address.to_string())?;
    let cookies = cookies.cloned().map(Arc::new);
    let step: Step = Arc::new(move |index, mut sender| {
        let host = host.clone();
        let cookie = cookies
            .as_ref()
            .map(|cookies| cookies[index % cookies.len()].clone());
        Box::pin(async move {
            let mut request = Request::get(path).header(HOST, host);
            if let Some(cookie) = &cookie {
                request = request.header(COOKIE, cookie.clone());
            }
            let request = request
                .body(Full::new(Bytes::new()))
                .expect("valid request");
            let ok = async {
                sender.ready().await?;
                let response = sender.send_request(request).await?;
                let good = check(&response, cookie.is_some());
                response.into_body().collect().await?;
                anyhow::Ok(good)
            }
            .await;
            (sender, ok)
        })
    });
    drive(address, connections, duration, step).await
}

/// A keep-alive HTTP/1.1 connection of the load generator.
pub type Sender = SendRequest<Full<Bytes>>;

/// One unit of measured work on connection `index` (a request, or a flow
/// of several): gives the connection back with whether every answer was
/// the expected one; `Err` is a broken connection.
pub type Step = Arc<
    dyn Fn(usize, Sender) -> Pin<Box<dyn Future<Output = (Sender, anyhow::Result<bool>)> + Send>>
        + Send
        + Sync,
>;

/// `connections` keep-alive connections to `address`, each repeating
/// `step` until `duration` is over; the latencies are the steps'. A broken
/// connection counts as an error and is replaced.
pub async fn drive(
    address: SocketAddr,
    connections: usize,
    duration: Duration,
    step: Step,
) -> anyhow::Result<Side> {
    let mut senders = Vec::with_capacity(connections);
    for _ in 0..connections {
        senders.push(connect(address).await?);
    }
    let cpu_before = crate::cpu::Sample::now();
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for (index, sender) in senders.into_iter().enumerate() {
        let step = step.clone();
        tasks.push(tokio::spawn(async move {
            let mut side = Side::new();
            let mut sender = Some(sender);
            while let Some(current) = sender.take() {
                if Instant::now() >= deadline {
                    break;
                }
                let begun = Instant::now();
                let (back, ok) = step(index, current).await;
                side.histogram
                    .saturating_record((begun.elapsed().as_micros() as u64).max(1));
                side.requests += 1;
                match ok {
                    Ok(true) => sender = Some(back),
                    Ok(false) => {
                        side.errors += 1;
                        sender = Some(back);
                    }
                    Err(_) => {
                        side.errors += 1;
                        sender = connect(address).await.ok();
                    }
                }
            }
            side
        }));
    }
    let mut total = Side::new();
    for task in tasks {
        let side = task.await.context("a load task panicked")?;
        total.requests += side.requests;
        total.errors += side.errors;
        total.histogram.add(&side.histogram)?;
    }
    total.elapsed = started.elapsed();
    total.cpu = crate::cpu::usage(&cpu_before, &crate::cpu::Sample::now());
    Ok(total)
}

/// `--forward-auth`: `GET /_payfac/auth` with a signed-in buyer's cookie
/// (what nginx `auth_request` or Caddy `forward_auth` sends for each
/// request) against `GET /healthz`, in one run, on the same payfac (no
/// upstream). Every forward-auth answer must be `200` with
/// `X-Payfac-Identity`, so each one went through the session lookup and
/// the identity hand-off.
pub fn run_forward_auth(
    args: &Args,
    setup: &Setup,
    server_rt: &tokio::runtime::Runtime,
    client_rt: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let config = Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        insecure_cookies: true,
        code_ttl_secs: 3600,
        ..Config::default()
    };
    let application = server_rt
        .block_on(Application::build(config, setup.store.clone()))
        .context("starting payfac")?;
    let payfac = SocketAddr::from(([127, 0, 0, 1], application.port()));
    server_rt.spawn(application.run_until_stopped());
    let sides = client_rt.block_on(async {
        let cookies = sign_in_on(setup, payfac, "/", args.connections).await?;
        let duration = Duration::from_secs(args.duration);
        let mut sides = Vec::new();
        let phases: [(&str, &'static str, Option<&Vec<HeaderValue>>, Check); 2] = [
            ("GET /healthz", "/healthz", None, |response, _| {
                response.status() == StatusCode::OK
            }),
            (
                "GET /_payfac/auth, signed in",
                "/_payfac/auth",
                Some(&cookies),
                |response, _| {
                    response.status() == StatusCode::OK
                        && response.headers().contains_key("x-payfac-identity")
                },
            ),
        ];
        for (label, path, cookies, check) in phases {
            eprintln!("--- {label}");
            measure_path(payfac, path, cookies, args.connections, duration / 5, check).await?;
            quiet(args).await;
            let side =
                measure_path(payfac, path, cookies, args.connections, duration, check).await?;
            eprintln!("{}", side.line(label));
            eprintln!("{}", side.cpu_line());
            sides.push((label, side));
        }
        anyhow::Ok(sides)
    })?;
    let (healthz, auth) = (&sides[0].1, &sides[1].1);
    let ratio = auth.rate() / healthz.rate();
    println!("{} connections, {} s each", args.connections, args.duration);
    for (label, side) in &sides {
        println!("{}", side.line(label));
        println!("{}", side.cpu_line());
    }
    println!("forward auth ÷ /healthz = {ratio:.2}");
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "connections": args.connections,
                "healthz_rps": healthz.rate(),
                "forward_auth_rps": auth.rate(),
                "ratio": ratio,
                "forward_auth_p99_ms": auth.histogram.value_at_quantile(0.99) as f64 / 1000.0,
                "errors": healthz.errors + auth.errors,
            })
        );
    }
    Ok(())
}
