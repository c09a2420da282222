//! `--oidc`: the OpenID Connect authorization code flow of a signed-in
//! buyer, whole (authorize with the buyer's session cookie → token →
//! userinfo), per second, against payfac's OpenID Provider and, in the
//! same run on the same machine, node's `oidc-provider` (the certified
//! reference provider, `tests/oidc/reference-provider.mjs`).
//!
//! What each side does per flow, for the same three requests:
//!
//! - **payfac** (in-process, `--server-threads`, the store of
//!   `--backend`): looks up the buyer's session and the client, writes a
//!   code (hashed); at the token endpoint checks the client secret, spends
//!   the code (one transaction), checks PKCE, signs an RS256 ID token and
//!   stores a hashed access token; at userinfo looks the token up and
//!   answers the buyer's claims.
//! - **oidc-provider** (a separate node process, one JS thread): loads the
//!   session and the grant, stores a code; at the token endpoint checks
//!   the client secret, consumes the code, checks PKCE, signs an RS256 ID
//!   token and stores the access token; at userinfo finds the token and
//!   calls findAccount. Its storage is a Map in memory: nothing reaches a
//!   disk.
//!
//! Both are set up alike: one confidential client (client_secret_basic),
//! PKCE S256 required, exact redirect URI, a buyer signed in beforehand
//! for each connection (payfac: a merchant's code link; oidc-provider:
//! its login interaction, done once), no consent screen, no rate limits.
//! The load generator sends the same requests to both: a fresh state and
//! nonce per flow, RFC 7636's example PKCE pair (the provider's work does
//! not depend on which verifier it checks), and it counts a flow only
//! when the redirect carries a code, the token answer an access token and
//! an ID token, and userinfo answers 200.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, HOST, HeaderValue, LOCATION};
use hyper::{Request, StatusCode};
use payfac_server::{Application, Config};

use crate::gateway::{Sender, Side, Step, drive, sign_in_on};
use crate::oidc_reference::ReferenceProvider;
use crate::phases::quiet;
use crate::{Args, BackendKind, Setup};

/// RFC 7636 Appendix B's verifier and its S256 challenge.
const PKCE_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const PKCE_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";

/// One provider as the load generator sees it.
#[derive(Clone)]
pub struct Target {
    pub label: String,
    pub address: SocketAddr,
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: String,
    pub authorize_path: String,
    pub token_path: String,
    pub userinfo_path: String,
    /// One signed-in buyer's cookies per connection.
    pub cookies: Vec<HeaderValue>,
}

/// What one flow needs, shared by every connection of a target.
struct Requests {
    host: HeaderValue,
    /// The authorization request up to its state and nonce.
    authorize: String,
    token_path: String,
    userinfo_path: String,
    basic: HeaderValue,
    redirect_form: String,
}

impl Requests {
    fn new(target: &Target) -> anyhow::Result<Self> {
        let authorize = format!(
            "{}?response_type=code&client_id={}&redirect_uri={}&scope=openid%20profile%20email\
             &code_challenge={PKCE_CHALLENGE}&code_challenge_method=S256",
            target.authorize_path,
            form(&target.client_id),
            form(&target.redirect_uri)
        );
        // RFC 6749 §2.3.1: each half form-encoded, then Basic.
        let credentials = format!(
            "{}:{}",
            form(&target.client_id),
            form(&target.client_secret)
        );
        Ok(Self {
            host: HeaderValue::from_str(&target.address.to_string())?,
            authorize,
            token_path: target.token_path.clone(),
            userinfo_path: target.userinfo_path.clone(),
            basic: HeaderValue::from_str(&format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(credentials)
            ))?,
            redirect_form: form(&target.redirect_uri),
        })
    }
}

/// application/x-www-form-urlencoded, for the few values the flow sends.
fn form(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// The `code` parameter of a redirect, as it was encoded there (a form
/// body takes it as it is).
fn code_of(location: &str) -> Option<&str> {
    let query = location.split_once('?')?.1;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("code="))
        .filter(|code| !code.is_empty())
}

/// The `access_token` of a token answer that also carries an ID token.
fn access_token_of(body: &[u8]) -> Option<String> {
    let json: serde_json::Value = serde_json::from_slice(body).ok()?;
    json.get("id_token")?.as_str()?;
    Some(json.get("access_token")?.as_str()?.to_owned())
}

async fn send(
    sender: &mut Sender,
    request: Request<Full<Bytes>>,
) -> anyhow::Result<(hyper::http::response::Parts, Bytes)> {
    sender.ready().await?;
    let response = sender.send_request(request).await?;
    let (parts, body) = response.into_parts();
    Ok((parts, body.collect().await?.to_bytes()))
}

/// One whole flow on one connection: `Ok(false)` when a provider answered
/// something else than the flow's next step.
async fn one_flow(
    sender: &mut Sender,
    requests: &Requests,
    cookie: &HeaderValue,
    serial: &str,
) -> anyhow::Result<bool> {
    let authorize = Request::get(format!(
        "{}&state=s{serial}&nonce=n{serial}",
        requests.authorize
    ))
    .header(HOST, requests.host.clone())
    .header(COOKIE, cookie.clone())
    .body(Full::new(Bytes::new()))?;
    let (parts, _) = send(sender, authorize).await?;
    let location = parts.headers.get(LOCATION).and_then(|v| v.to_str().ok());
    let Some(code) = parts
        .status
        .is_redirection()
        .then_some(location)
        .flatten()
        .and_then(code_of)
    else {
        return Ok(false);
    };
    let body = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={PKCE_VERIFIER}",
        requests.redirect_form
    );
    let token = Request::post(requests.token_path.as_str())
        .header(HOST, requests.host.clone())
        .header(AUTHORIZATION, requests.basic.clone())
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(body)))?;
    let (parts, body) = send(sender, token).await?;
    let Some(access) = (parts.status == StatusCode::OK)
        .then(|| access_token_of(&body))
        .flatten()
    else {
        return Ok(false);
    };
    let userinfo = Request::get(requests.userinfo_path.as_str())
        .header(HOST, requests.host.clone())
        .header(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {access}"))?,
        )
        .body(Full::new(Bytes::new()))?;
    let (parts, _) = send(sender, userinfo).await?;
    Ok(parts.status == StatusCode::OK)
}

/// `connections` keep-alive connections running whole flows for
/// `duration`; connection `i` is buyer `i`.
async fn measure(target: &Target, connections: usize, duration: Duration) -> anyhow::Result<Side> {
    let requests = Arc::new(Requests::new(target)?);
    let cookies = Arc::new(target.cookies.clone());
    let serial = Arc::new(AtomicU64::new(0));
    let step: Step = Arc::new(move |index, mut sender| {
        let requests = requests.clone();
        let cookie = cookies[index % cookies.len()].clone();
        let serial = serial.fetch_add(1, Ordering::Relaxed).to_string();
        Box::pin(async move {
            let ok = one_flow(&mut sender, &requests, &cookie, &serial).await;
            (sender, ok)
        })
    });
    drive(target.address, connections, duration, step).await
}

/// Starts payfac's provider next to the setup's store and the reference
/// provider, signs one buyer in per connection on each, measures both
/// and prints the rates and their ratio.
pub fn run(
    args: &Args,
    setup: &Setup,
    server_rt: &tokio::runtime::Runtime,
    client_rt: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    // The issuer names the port, so it is chosen before payfac starts.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let (client_id, client_secret) = server_rt.block_on(register_client(setup))?;
    let config = Config {
        listen: address,
        insecure_cookies: true,
        code_ttl_secs: 3600,
        rate_limits: payfac_server::ratelimit::RateLimits::off(),
        public_url: Some(format!("http://{address}")),
        ..Config::default()
    };
    let application = server_rt
        .block_on(Application::build(config, setup.store.clone()))
        .context("starting payfac with --public-url")?;
    server_rt.spawn(application.run_until_stopped());
    let reference = ReferenceProvider::start(&args.node, &args.oidc_reference, args.connections)?;
    eprintln!(
        "payfac's provider on {address}, node oidc-provider {} on {}",
        reference.version, reference.target.address
    );

    let sides = client_rt.block_on(async {
        let payfac = Target {
            label: match args.backend {
                BackendKind::Sqlite => "payfac (SQLite)".into(),
                BackendKind::Postgres => "payfac (PostgreSQL)".into(),
            },
            address,
            client_id,
            client_secret,
            redirect_uri: REDIRECT_URI.into(),
            authorize_path: "/_payfac/oidc/authorize".into(),
            token_path: "/_payfac/oidc/token".into(),
            userinfo_path: "/_payfac/oidc/userinfo".into(),
            cookies: sign_in_on(setup, address, "/", args.connections).await?,
        };
        let node = Target {
            label: format!("node oidc-provider {}", reference.version),
            ..reference.target.clone()
        };
        let duration = Duration::from_secs(args.duration);
        let mut sides = Vec::new();
        for target in [payfac, node] {
            eprintln!("--- {}", target.label);
            let warm = measure(&target, args.connections, duration / 5).await?;
            anyhow::ensure!(
                warm.requests > warm.errors,
                "{}: every warm-up flow failed",
                target.label
            );
            quiet(args).await;
            let side = measure(&target, args.connections, duration).await?;
            eprintln!("{}", side.line_in(&target.label, "flows/s"));
            eprintln!("{}", side.cpu_line_per("flow"));
            sides.push((target.label, side));
        }
        anyhow::Ok(sides)
    })?;
    drop(reference);
    report(args, &sides);
    Ok(())
}

/// A confidential client of payfac's provider, registered as
/// `payfac oidc-client add` does: its id and secret.
async fn register_client(setup: &Setup) -> anyhow::Result<(String, String)> {
    let registration = payfac_server::oidc::clients::Registration {
        name: "payfac-bench".into(),
        redirect_uris: vec![REDIRECT_URI.into()],
        post_logout_redirect_uris: Vec::new(),
        public: false,
        id_token_alg: None,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let (client, shown) = payfac_server::oidc::clients::register(registration, now)
        .map_err(|error| anyhow::anyhow!("registering the bench's client: {error}"))?;
    setup.store.add_oidc_client(client).await?;
    Ok((
        shown.client_id,
        shown
            .client_secret
            .context("a confidential client has a secret")?,
    ))
}

fn report(args: &Args, sides: &[(String, Side)]) {
    let (payfac, node) = (&sides[0].1, &sides[1].1);
    let ratio = payfac.rate() / node.rate();
    println!(
        "OIDC code flow, signed-in buyer (authorize + token + userinfo), {} connections, {} s each",
        args.connections, args.duration
    );
    for (label, side) in sides {
        println!("{}", side.line_in(label, "flows/s"));
        println!("{}", side.cpu_line_per("flow"));
    }
    println!("payfac ÷ oidc-provider = {ratio:.2} (target > 1)");
    println!(
        "with an outside load generator (separate payfac serve and node processes): \
         CONNECTIONS={} DURATION={} scripts/oidc-flows.sh",
        args.connections, args.duration
    );
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "connections": args.connections,
                "payfac_flows_per_s": payfac.rate(),
                "oidc_provider_flows_per_s": node.rate(),
                "ratio": ratio,
                "payfac_p99_ms": payfac.histogram.value_at_quantile(0.99) as f64 / 1000.0,
                "oidc_provider_p99_ms": node.histogram.value_at_quantile(0.99) as f64 / 1000.0,
                "payfac_errors": payfac.errors,
                "oidc_provider_errors": node.errors,
            })
        );
    }
}
