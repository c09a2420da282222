//! Abuse limits (issue #18), per instance:
//!
//! - **failures per client**: merchant calls answered 10001–10003, code
//!   redemptions that signed nobody in, and refused requests to the
//!   OpenID Provider's token endpoint, counted per client address (an
//!   IPv6 client by its /64). Past the limit the client's merchant calls
//!   and code redemptions are refused with 429 and `Retry-After` before
//!   any work (no signature check, no storage), until the bucket refills.
//!   The call that crosses the limit still gets its real answer, so a
//!   misconfigured merchant sees its 10003 reasons first.
//! - **successful merchant calls per merchant**: checked after the
//!   signature verified (so nobody but the merchant spends its budget) and
//!   before storage; past it, 429 with 10004 and nothing stored.
//!
//! The client address is the connection's peer, or, when the peer is a
//! configured trusted proxy, the right-most `X-Forwarded-For` address
//! that is not one. Buckets are GCRA cells from `governor`, in memory: with
//! several instances each holds its own.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use dashmap::DashMap;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::AppState;
use crate::envelope::{ApiError, ResultCode};

/// The limits `serve` is told (`--rate-limits`, `--trusted-proxies`).
#[derive(Debug, Clone)]
pub struct RateLimits {
    /// `false` (`--rate-limits off`, benchmarks): no limit at all.
    pub enabled: bool,
    /// Failed merchant calls and refused codes per client and second …
    pub failures_per_sec: u32,
    /// … and how many may come at once.
    pub failures_burst: u32,
    /// Successful merchant calls per merchant and second …
    pub merchant_calls_per_sec: u32,
    /// … and how many may come at once.
    pub merchant_calls_burst: u32,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            enabled: true,
            failures_per_sec: 100,
            failures_burst: 300,
            merchant_calls_per_sec: 5_000,
            merchant_calls_burst: 50_000,
            trusted_proxies: Vec::new(),
        }
    }
}

impl RateLimits {
    /// No limits: what `--rate-limits off` and the benchmark use.
    pub fn off() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }

    /// Parses `--rate-limits`: `off`, `on` (the defaults), or
    /// `FAILURES/s:BURST,MERCHANT/s:BURST` such as `100/s:300,5000/s:50000`.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "off" => return Ok(Self::off()),
            "on" | "default" => return Ok(Self::default()),
            _ => {}
        }
        let bad = || {
            format!("--rate-limits: expected off, on or RATE/s:BURST,RATE/s:BURST, got {text:?}")
        };
        let (failures, merchant) = text.split_once(',').ok_or_else(bad)?;
        let pair = |part: &str| -> Result<(u32, u32), String> {
            let (rate, burst) = part.split_once(':').ok_or_else(bad)?;
            let rate = rate.strip_suffix("/s").ok_or_else(bad)?;
            let rate: u32 = rate.parse().map_err(|_| bad())?;
            let burst: u32 = burst.parse().map_err(|_| bad())?;
            if rate == 0 || burst == 0 {
                return Err(bad());
            }
            Ok((rate, burst))
        };
        let (failures_per_sec, failures_burst) = pair(failures)?;
        let (merchant_calls_per_sec, merchant_calls_burst) = pair(merchant)?;
        Ok(Self {
            enabled: true,
            failures_per_sec,
            failures_burst,
            merchant_calls_per_sec,
            merchant_calls_burst,
            trusted_proxies: Vec::new(),
        })
    }
}

/// An address range, `ADDR` or `ADDR/PREFIX`, for `--trusted-proxies`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    network: IpAddr,
    prefix: u8,
}

impl IpNet {
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("not an address or ADDR/PREFIX: {text:?}");
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address.trim().parse().map_err(|_| bad())?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix.trim().parse::<u8>().map_err(|_| bad())?,
            None => max,
        };
        if prefix > max {
            return Err(bad());
        }
        Ok(Self { network, prefix })
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        match (self.network, address) {
            (IpAddr::V4(net), IpAddr::V4(addr)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(addr) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(addr)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(addr) & mask
            }
            _ => false,
        }
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

/// Marks a code redemption that signed nobody in (set by the sign-in on
/// its response), so it counts as a failure of its client.
#[derive(Debug, Clone, Copy)]
pub struct CodeRefused;

/// The client address of a request: the peer, or, behind trusted proxies,
/// the right-most `X-Forwarded-For` entry that is not a trusted proxy.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = canonical(peer);
    let is_trusted = |address: IpAddr| trusted.iter().any(|net| net.contains(address));
    if !is_trusted(peer) {
        return peer;
    }
    let mut client = peer;
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .collect();
    for entry in forwarded.iter().rev() {
        let Some(address) = forwarded_address(entry) else {
            // A malformed entry: nothing left of it can be trusted.
            break;
        };
        client = canonical(address);
        if !is_trusted(client) {
            break;
        }
    }
    client
}

/// The address of one `X-Forwarded-For` entry: a bare address, or one
/// with a port as some proxies write it (`1.2.3.4:5678`, `[::1]:5678`).
fn forwarded_address(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|address| address.ip()))
}

/// The key of a client's bucket: an IPv6 client by its /64 (one host
/// usually holds a whole /64).
fn bucket_of(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        v4 => v4,
    }
}

/// The limiters of one instance.
pub struct Limiter {
    config: RateLimits,
    failures: DefaultKeyedRateLimiter<IpAddr>,
    merchant_calls: DefaultKeyedRateLimiter<String>,
    /// Clients whose failure bucket ran dry, and until when.
    blocked: DashMap<IpAddr, Instant>,
}

impl Limiter {
    /// `None` when the limits are off.
    pub fn new(config: &RateLimits) -> Option<Arc<Self>> {
        if !config.enabled {
            return None;
        }
        let quota = |rate: u32, burst: u32| {
            Quota::per_second(NonZeroU32::new(rate.max(1)).expect("at least 1"))
                .allow_burst(NonZeroU32::new(burst.max(1)).expect("at least 1"))
        };
        Some(Arc::new(Self {
            failures: RateLimiter::keyed(quota(config.failures_per_sec, config.failures_burst)),
            merchant_calls: RateLimiter::keyed(quota(
                config.merchant_calls_per_sec,
                config.merchant_calls_burst,
            )),
            blocked: DashMap::new(),
            config: config.clone(),
        }))
    }

    /// Forgets buckets that are full again, so memory follows the clients
    /// of the last few seconds; every 10 s.
    pub fn spawn_sweeper(self: &Arc<Self>) {
        let limiter = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(10));
            loop {
                tick.tick().await;
                let Some(limiter) = limiter.upgrade() else {
                    return;
                };
                limiter.failures.retain_recent();
                limiter.failures.shrink_to_fit();
                limiter.merchant_calls.retain_recent();
                limiter.merchant_calls.shrink_to_fit();
                let now = Instant::now();
                limiter.blocked.retain(|_, until| *until > now);
                limiter.blocked.shrink_to_fit();
            }
        });
    }

    /// How long the client must still wait, when its failures ran out.
    fn blocked_for(&self, client: IpAddr) -> Option<Duration> {
        let until = *self.blocked.get(&bucket_of(client))?;
        until.checked_duration_since(Instant::now())
    }

    /// Counts one failure of the client; past the limit, blocks it until
    /// its bucket has room again.
    fn note_failure(&self, client: IpAddr) {
        let key = bucket_of(client);
        if let Err(not_until) = self.failures.check_key(&key) {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            self.blocked.insert(key, Instant::now() + wait);
        }
    }

    /// Admits one verified call of `merchant`, or says how long to wait.
    pub fn admit_merchant_call(&self, merchant: &str) -> Result<(), Duration> {
        self.merchant_calls
            .check_key(&merchant.to_owned())
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// Checks the successful-call budget of a verified merchant call; `Ok`
/// when limits are off.
pub fn admit_merchant_call(state: &AppState, merchant: &str) -> Result<(), ApiError> {
    let Some(limiter) = state.limiter.as_ref() else {
        return Ok(());
    };
    limiter.admit_merchant_call(merchant).map_err(|wait| {
        metrics::counter!("payfac_rate_limited_total", "limit" => "merchant_calls").increment(1);
        ApiError::RateLimited(retry_after_secs(wait))
    })
}

fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    MerchantApi,
    CodeRedemption,
    /// `POST /_payfac/oidc/token`: a refusal carries `CodeRefused`.
    OidcToken,
}

fn kind_of(request: &Request) -> Option<Kind> {
    let path = request.uri().path();
    if crate::api::owns(path) {
        Some(Kind::MerchantApi)
    } else if path == crate::oidc::TOKEN_PATH {
        Some(Kind::OidcToken)
    } else if crate::forward_auth::is_auth_path(path) {
        // A sign-in when the original request the proxy describes is one.
        crate::forward_auth::is_sign_in(request.method(), request.uri(), request.headers())
            .then_some(Kind::CodeRedemption)
    } else if request.method() == Method::GET
        && crate::pages::has_code(request.uri().query().unwrap_or(""))
    {
        Some(Kind::CodeRedemption)
    } else {
        None
    }
}

/// Middleware over the public router: refuses merchant calls and code
/// redemptions of a client whose failures ran out, and counts failures.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(limiter) = state.limiter.clone() else {
        return next.run(request).await;
    };
    let Some(peer) = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
    else {
        return next.run(request).await;
    };
    let Some(kind) = kind_of(&request) else {
        return next.run(request).await;
    };
    let client = client_ip(peer, request.headers(), &limiter.config.trusted_proxies);
    if let Some(wait) = limiter.blocked_for(client) {
        let kind_label = match kind {
            Kind::MerchantApi => "merchant_api",
            Kind::CodeRedemption => "sign_in",
            Kind::OidcToken => "oidc_token",
        };
        metrics::counter!("payfac_rate_limited_total", "limit" => "client_failures", "kind" => kind_label)
            .increment(1);
        return too_many(kind, retry_after_secs(wait));
    }
    let response = next.run(request).await;
    let failed = match kind {
        Kind::MerchantApi => response
            .extensions()
            .get::<ResultCode>()
            .is_some_and(|code| matches!(code.0, "10001" | "10002" | "10003")),
        Kind::CodeRedemption | Kind::OidcToken => {
            response.extensions().get::<CodeRefused>().is_some()
        }
    };
    if failed {
        limiter.note_failure(client);
    }
    response
}

fn too_many(kind: Kind, retry_after: u64) -> Response {
    match kind {
        Kind::MerchantApi => ApiError::RateLimited(retry_after).into_response(),
        Kind::CodeRedemption => {
            let mut response = (
                StatusCode::TOO_MANY_REQUESTS,
                "Too many sign-in attempts from your network. Please try again shortly.",
            )
                .into_response();
            let headers = response.headers_mut();
            headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            );
            response
        }
        Kind::OidcToken => {
            let body = serde_json::json!({
                "error": "invalid_request",
                "error_description": "too many failed token requests; retry later",
            });
            let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
            let headers = response.headers_mut();
            headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_believed_from_trusted_proxies_only() {
        let trusted = [IpNet::parse("10.0.0.0/8").unwrap()];
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "6.6.6.6, 1.2.3.4, 10.0.0.2".parse().unwrap(),
        );
        assert_eq!(client_ip(ip("10.0.0.1"), &headers, &trusted), ip("1.2.3.4"));
        assert_eq!(client_ip(ip("9.9.9.9"), &headers, &trusted), ip("9.9.9.9"));
        headers.insert("x-forwarded-for", "junk, 10.0.0.3".parse().unwrap());
        assert_eq!(
            client_ip(ip("10.0.0.1"), &headers, &trusted),
            ip("10.0.0.3")
        );
        assert_eq!(
            client_ip(ip("::ffff:10.0.0.1"), &HeaderMap::new(), &trusted),
            ip("10.0.0.1")
        );
    }

    /// Some proxies write the client's port too; those clients must not
    /// share the proxy's bucket.
    #[test]
    fn forwarded_for_entries_with_a_port_name_the_client() {
        let trusted = [IpNet::parse("10.0.0.0/8").unwrap()];
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "1.2.3.4:5678".parse().unwrap());
        assert_eq!(client_ip(ip("10.0.0.1"), &headers, &trusted), ip("1.2.3.4"));
        headers.insert(
            "x-forwarded-for",
            "[2001:db8::7]:443, 10.0.0.2:80".parse().unwrap(),
        );
        assert_eq!(
            client_ip(ip("10.0.0.1"), &headers, &trusted),
            ip("2001:db8::7")
        );
        headers.insert("x-forwarded-for", "1.2.3.4:port".parse().unwrap());
        assert_eq!(
            client_ip(ip("10.0.0.1"), &headers, &trusted),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn nets_and_limits_parse() {
        assert!(
            IpNet::parse("2001:db8::/32")
                .unwrap()
                .contains(ip("2001:db8::1"))
        );
        assert!(
            !IpNet::parse("192.168.1.1")
                .unwrap()
                .contains(ip("192.168.1.2"))
        );
        assert!(IpNet::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(IpNet::parse("1.2.3.4/33").is_err());
        assert!(!RateLimits::parse("off").unwrap().enabled);
        let limits = RateLimits::parse("10/s:20,30/s:40").unwrap();
        assert_eq!(
            (
                limits.failures_per_sec,
                limits.failures_burst,
                limits.merchant_calls_per_sec,
                limits.merchant_calls_burst
            ),
            (10, 20, 30, 40)
        );
        assert!(RateLimits::parse("10:20,30/s:40").is_err());
    }

    #[test]
    fn ipv6_clients_share_their_64() {
        assert_eq!(bucket_of(ip("2001:db8:1:2:3::4")), ip("2001:db8:1:2::"));
    }
}
