//! Service settings, filled by the CLI from flags and `PAYFAC_*` variables.

use std::net::SocketAddr;
use std::time::Duration;

/// Everything `payfac serve` can be told. `Default` gives the documented
/// defaults, so tests change only what they exercise.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// When set, `/metrics` is served on this address only and not on
    /// `listen`, so metrics (which name merchants) stay off the public
    /// listener.
    pub metrics_listen: Option<SocketAddr>,
    /// Largest accepted `|now - timestamp|`, seconds.
    pub timestamp_window_secs: i64,
    /// Lifetime of an authorization code, seconds.
    pub code_ttl_secs: i64,
    /// Plain-HTTP development: session cookies without `Secure`.
    pub insecure_cookies: bool,
    /// Merchant test environment: 10003 answers carry `debug`.
    pub sandbox: bool,
    /// Serve the API Playground even without `sandbox`, with a banner that
    /// this is the production service. With `sandbox` it is always served.
    pub playground: bool,
    /// A session unused this long is over.
    pub session_idle_secs: i64,
    /// A session is over this long after sign-in, used or not.
    pub session_max_secs: i64,
    /// How often the merchant cache checks storage for changes.
    pub merchant_refresh: Duration,
    /// How often expired nonces, codes and sessions are purged.
    pub purge_interval: Duration,
    /// Merchant requests allowed to wait on storage at once.
    pub max_pending_writes: usize,
    /// Code redemptions (sign-ins) allowed to wait on storage at once;
    /// past it a sign-in answers 503 with `Retry-After` at once, its code
    /// unspent.
    pub max_pending_sign_ins: usize,
    /// A connection that has not sent a complete request head this long
    /// after it opened, or after its last response, is closed: silent,
    /// slow-header and idle keep-alive connections alike.
    pub header_read_timeout: Duration,
    /// Connections open at once, at most (also bounded by the open-file
    /// limit). At the cap the connection idle the longest is closed.
    pub max_connections: usize,
    /// Where the admin API listens (`/admin/v1/…`); off when `None`.
    pub admin_listen: Option<SocketAddr>,
    /// Gateway mode: every request that is not payfac's own goes here
    /// (`http://host:port`); `None` serves the built-in demo storefront.
    pub upstream: Option<axum::http::Uri>,
    /// Longest wait for a connection to the upstream.
    pub upstream_connect_timeout: Duration,
    /// Longest time from the start of sending a request (an upload
    /// included) to the upstream's response head, once connected; response
    /// bodies stream without a deadline.
    pub upstream_response_timeout: Duration,
    /// Forward auth (`/_payfac/auth`): original paths under these prefixes
    /// are answered `401` without a live session.
    pub require_session_prefixes: Vec<String>,
    /// The name the built-in demo storefront shows.
    pub platform_name: String,
    /// `iss` of `X-Payfac-Identity`.
    pub identity_issuer: String,
    /// `aud` of `X-Payfac-Identity`.
    pub identity_audience: String,
    /// Lifetime of an `X-Payfac-Identity` token, seconds (at most 300).
    pub identity_token_ttl_secs: i64,
    /// A rotated-in identity key signs only this long after its creation,
    /// once every instance and JWKS cache knows it.
    pub identity_key_lead: Duration,
    /// How often the identity keys are reloaded from storage.
    pub identity_key_refresh: Duration,
    /// After SIGTERM or Ctrl-C, how long requests in flight may take to
    /// finish before the process stops anyway (docs/RELIABILITY.md).
    pub shutdown_grace: Duration,
    /// The OpenID Provider's issuer (`--public-url`, without a trailing
    /// `/`): the URL browsers and relying parties reach payfac at. `None`
    /// turns the provider off, and its paths answer 404.
    pub public_url: Option<String>,
    /// Abuse limits per client and per merchant (`ratelimit.rs`); on by
    /// default, `RateLimits::off()` for benchmarks.
    pub rate_limits: crate::ratelimit::RateLimits,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            metrics_listen: None,
            timestamp_window_secs: 300,
            code_ttl_secs: 300,
            insecure_cookies: false,
            sandbox: false,
            playground: false,
            session_idle_secs: 2 * 60 * 60,
            session_max_secs: 24 * 60 * 60,
            merchant_refresh: Duration::from_secs(1),
            purge_interval: Duration::from_secs(30),
            max_pending_writes: 2048,
            max_pending_sign_ins: 1024,
            header_read_timeout: Duration::from_secs(15),
            max_connections: 10_000,
            admin_listen: None,
            upstream: None,
            upstream_connect_timeout: Duration::from_secs(5),
            upstream_response_timeout: Duration::from_secs(60),
            require_session_prefixes: Vec::new(),
            platform_name: "payfac demo store".to_owned(),
            identity_issuer: "payfac".to_owned(),
            identity_audience: "payfac-upstream".to_owned(),
            identity_token_ttl_secs: 60,
            identity_key_lead: Duration::from_secs(60),
            identity_key_refresh: Duration::from_secs(1),
            shutdown_grace: Duration::from_secs(10),
            rate_limits: crate::ratelimit::RateLimits::default(),
            public_url: None,
        }
    }
}
