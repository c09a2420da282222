use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use payfac_domain::MerchantId;
use payfac_server::ratelimit::RateLimits;
use payfac_server::{Application, Config, observability};
use payfac_store::{AdminError, Store};

use super::merchant::{read_public_key, stored};

/// The demo merchant's id and key folder.
const DEMO_MERCHANT: &str = "DEMO";
const DEMO_DIR: &str = "demo-merchant";

/// Every `serve` setting, read by clap from flags and `PAYFAC_*`
/// variables and by serde from the `--config` file (`settings.rs` layers
/// them). One flat struct, so a file key is a field name: serde refuses
/// unknown keys only without `flatten`. docs/CONFIGURATION.md lists every
/// field, checked by a test.
#[derive(Debug, clap::Args, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// A TOML file of these settings, keys named as the flags with `-`
    /// read as `_`; PAYFAC_* variables and flags override it.
    #[arg(long, env = "PAYFAC_CONFIG", value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// `sqlite://PATH` (created if missing) or `postgres://…`.
    #[arg(long, env = "PAYFAC_DATABASE_URL", default_value = super::DEFAULT_DATABASE_URL)]
    pub database_url: String,
    /// Address to listen on.
    #[arg(long, env = "PAYFAC_LISTEN", default_value_t = Config::default().listen)]
    listen: SocketAddr,
    /// Serve /metrics on this address only, not on --listen (keep it off
    /// the public listener: metrics name merchants).
    #[arg(long, env = "PAYFAC_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    /// Serve the admin API (/admin/v1/…) on this address; off unless set.
    #[arg(long, env = "PAYFAC_ADMIN_LISTEN")]
    admin_listen: Option<SocketAddr>,
    /// Largest accepted |server time - timestamp header|, in seconds (at
    /// most 3600).
    #[arg(long, env = "PAYFAC_TIMESTAMP_WINDOW_SECS", default_value_t = Config::default().timestamp_window_secs)]
    timestamp_window_secs: i64,
    /// Lifetime of an authorization code, in seconds.
    #[arg(long, env = "PAYFAC_CODE_TTL_SECS", default_value_t = Config::default().code_ttl_secs)]
    code_ttl_secs: i64,
    /// A session unused this long ends, in seconds.
    #[arg(long, env = "PAYFAC_SESSION_IDLE_SECS", default_value_t = Config::default().session_idle_secs)]
    session_idle_secs: i64,
    /// A session ends this long after sign-in, in seconds.
    #[arg(long, env = "PAYFAC_SESSION_MAX_SECS", default_value_t = Config::default().session_max_secs)]
    session_max_secs: i64,
    /// Plain-HTTP development: session cookies without the Secure flag.
    #[arg(long, env = "PAYFAC_INSECURE_COOKIES")]
    insecure_cookies: bool,
    /// Merchant test environment: signature errors carry a `debug` reason.
    #[arg(long, env = "PAYFAC_SANDBOX")]
    sandbox: bool,
    /// Serve the API Playground (/playground) without --sandbox too, under a
    /// banner that this is the production service.
    #[arg(long, env = "PAYFAC_PLAYGROUND")]
    playground: bool,
    /// Register a demo merchant with a fresh key pair in ./demo-merchant/.
    #[arg(long, env = "PAYFAC_DEMO")]
    demo: bool,
    /// A connection that sends no complete request head this long after it
    /// opened or after its last response is closed (silent, slow and idle
    /// keep-alive connections), in seconds.
    #[arg(
        long,
        env = "PAYFAC_HEADER_READ_TIMEOUT_SECS",
        default_value_t = Config::default().header_read_timeout.as_secs()
    )]
    header_read_timeout_secs: u64,
    /// Connections open at once, at most (also bounded by the open-file
    /// limit); at the cap the idlest is closed.
    #[arg(long, env = "PAYFAC_MAX_CONNECTIONS", default_value_t = Config::default().max_connections)]
    max_connections: usize,
    /// After SIGTERM or Ctrl-C, seconds requests in flight may take to
    /// finish before the process stops anyway.
    #[arg(long, env = "PAYFAC_SHUTDOWN_GRACE_SECS", default_value_t = Config::default().shutdown_grace.as_secs())]
    shutdown_grace_secs: u64,
    /// Abuse limits: `on` (failed merchant calls and refused codes: 100/s,
    /// burst 300 per client; successful merchant calls: 5000/s, burst
    /// 50000 per merchant), `off`, or `FAILURES/s:BURST,CALLS/s:BURST`.
    #[arg(long, env = "PAYFAC_RATE_LIMITS", default_value = "on")]
    rate_limits: String,
    /// Peers (ADDR or ADDR/PREFIX, comma-separated) whose X-Forwarded-For
    /// names the client for the rate limits.
    #[arg(long, env = "PAYFAC_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxies: Vec<String>,
    /// Log one JSON object per line instead of text.
    #[arg(long, env = "PAYFAC_LOG_JSON")]
    log_json: bool,
    // Gateway mode and the identity hand-off (docs/GATEWAY.md).
    /// Put payfac in front of this storefront (http://host:port): every request that is not payfac's own goes there.
    #[arg(long, env = "PAYFAC_UPSTREAM")]
    upstream: Option<String>,
    /// Longest wait for a connection to the upstream, in seconds (504 after it).
    #[arg(
        long,
        env = "PAYFAC_UPSTREAM_CONNECT_TIMEOUT_SECS",
        default_value_t = Config::default().upstream_connect_timeout.as_secs()
    )]
    upstream_connect_timeout_secs: u64,
    /// Longest wait for the upstream's response head, in seconds (504 after it).
    #[arg(
        long,
        env = "PAYFAC_UPSTREAM_RESPONSE_TIMEOUT_SECS",
        default_value_t = Config::default().upstream_response_timeout.as_secs()
    )]
    upstream_response_timeout_secs: u64,
    /// The name the built-in demo storefront shows.
    #[arg(
        long,
        env = "PAYFAC_PLATFORM_NAME",
        default_value_t = Config::default().platform_name
    )]
    platform_name: String,
    /// `aud` of X-Payfac-Identity, checked by the upstream's apps.
    #[arg(
        long,
        env = "PAYFAC_IDENTITY_AUDIENCE",
        default_value_t = Config::default().identity_audience
    )]
    identity_audience: String,
    /// `iss` of X-Payfac-Identity.
    #[arg(long, env = "PAYFAC_IDENTITY_ISSUER", default_value_t = Config::default().identity_issuer)]
    identity_issuer: String,
    /// Forward auth (/_payfac/auth): original paths under this prefix answer 401 without a live session (repeatable; the env var takes a comma-separated list).
    #[arg(long, env = "PAYFAC_REQUIRE_SESSION_PREFIX", value_delimiter = ',')]
    require_session_prefix: Vec<String>,
    // The OpenID Provider (docs/OIDC.md).
    /// The URL browsers and relying parties reach payfac at (http[s]://host[:port][/path]): the OpenID Provider's issuer; the provider is off unless set.
    #[arg(long, env = "PAYFAC_PUBLIC_URL")]
    public_url: Option<String>,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    observability::init_logging(args.log_json, colour, || Box::new(std::io::stderr()));
    let config = config(&args)?;
    let store = payfac_store::open(&args.database_url).await?;
    let demo_key = if args.demo {
        Some(ensure_demo_merchant(store.as_ref()).await?)
    } else {
        None
    };
    let application = Application::build(config, store).await?;
    tracing::info!(
        listen = %args.listen,
        database = %payfac_store::redact_url(&args.database_url),
        sandbox = args.sandbox,
        playground = args.sandbox || args.playground,
        admin_listen = ?args.admin_listen,
        upstream = args.upstream.as_deref().unwrap_or("-"),
        "payfac is serving"
    );
    if let Some(key) = demo_key {
        print_demo_call(&args.listen, &key, args.insecure_cookies);
    }
    application.run_until_stopped().await?;
    Ok(ExitCode::SUCCESS)
}

/// The service's settings from `args`, refusing what `serve` cannot run
/// with by the flag's name; shared with `payfac config`, which so refuses
/// the same files before it prints anything.
pub fn config(args: &Args) -> anyhow::Result<Config> {
    for (name, value) in [
        ("--timestamp-window-secs", args.timestamp_window_secs),
        ("--code-ttl-secs", args.code_ttl_secs),
        ("--session-idle-secs", args.session_idle_secs),
        ("--session-max-secs", args.session_max_secs),
    ] {
        anyhow::ensure!(value > 0, "{name} must be positive");
    }
    anyhow::ensure!(
        args.header_read_timeout_secs > 0,
        "--header-read-timeout-secs must be positive"
    );
    anyhow::ensure!(
        args.max_connections > 0,
        "--max-connections must be positive"
    );
    anyhow::ensure!(
        args.timestamp_window_secs <= payfac_store::MAX_TIMESTAMP_WINDOW_SECS,
        "--timestamp-window-secs must be at most {}",
        payfac_store::MAX_TIMESTAMP_WINDOW_SECS
    );
    let upstream = match &args.upstream {
        Some(url) => Some(
            payfac_server::gateway::parse_upstream(url)
                .map_err(|error| upstream_error(url, error))?,
        ),
        None => None,
    };
    for (name, value) in [
        (
            "--upstream-connect-timeout-secs",
            args.upstream_connect_timeout_secs,
        ),
        (
            "--upstream-response-timeout-secs",
            args.upstream_response_timeout_secs,
        ),
    ] {
        anyhow::ensure!(value > 0, "{name} must be positive");
    }
    for prefix in &args.require_session_prefix {
        anyhow::ensure!(
            prefix.starts_with('/'),
            "--require-session-prefix must start with /: {prefix}"
        );
    }
    if let Some(url) = &args.public_url {
        check_public_url(url)?;
    }
    let mut rate_limits = RateLimits::parse(&args.rate_limits).map_err(anyhow::Error::msg)?;
    for proxy in &args.trusted_proxies {
        rate_limits.trusted_proxies.push(
            payfac_server::ratelimit::IpNet::parse(proxy)
                .map_err(|error| anyhow::anyhow!("--trusted-proxies: {error}"))?,
        );
    }
    Ok(Config {
        listen: args.listen,
        metrics_listen: args.metrics_listen,
        timestamp_window_secs: args.timestamp_window_secs,
        code_ttl_secs: args.code_ttl_secs,
        insecure_cookies: args.insecure_cookies,
        sandbox: args.sandbox,
        playground: args.playground,
        session_idle_secs: args.session_idle_secs,
        session_max_secs: args.session_max_secs,
        header_read_timeout: std::time::Duration::from_secs(args.header_read_timeout_secs),
        max_connections: args.max_connections,
        admin_listen: args.admin_listen,
        upstream,
        upstream_connect_timeout: Duration::from_secs(args.upstream_connect_timeout_secs),
        upstream_response_timeout: Duration::from_secs(args.upstream_response_timeout_secs),
        platform_name: args.platform_name.clone(),
        identity_audience: args.identity_audience.clone(),
        identity_issuer: args.identity_issuer.clone(),
        require_session_prefixes: args.require_session_prefix.clone(),
        shutdown_grace: Duration::from_secs(args.shutdown_grace_secs),
        rate_limits,
        public_url: args
            .public_url
            .as_deref()
            .map(payfac_server::oidc::issuer_of),
        ..Config::default()
    })
}

/// `--public-url`: an absolute http(s) URL without credentials, query or
/// fragment (OpenID Connect Discovery §3 forbids them in an issuer).
fn check_public_url(url: &str) -> anyhow::Result<()> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let host = rest.map(|rest| rest.split('/').next().unwrap_or(""));
    anyhow::ensure!(
        host.is_some_and(|host| !host.is_empty() && !host.contains('@'))
            && !url.contains(['?', '#'])
            && !url.chars().any(char::is_whitespace),
        "--public-url must be http[s]://host[:port][/path] without credentials, query or fragment"
    );
    Ok(())
}

/// A refused `--upstream`. A URL with an `@` is not echoed: it may carry
/// a password.
fn upstream_error(url: &str, error: String) -> anyhow::Error {
    if url.contains('@') {
        anyhow::anyhow!(
            "--upstream must be http://host[:port] without credentials \
             (the value is not repeated: it may carry a password)"
        )
    } else {
        anyhow::Error::msg(error)
    }
}

/// Registers `DEMO` with the key pair in ./demo-merchant/, creating the
/// pair on first use; later runs reuse it once they checked that the
/// public key is the private key's. A `DEMO` an operator disabled stays
/// disabled.
async fn ensure_demo_merchant(store: &dyn Store) -> anyhow::Result<PathBuf> {
    let prefix = Path::new(DEMO_DIR).join("demo");
    let private = PathBuf::from(format!("{}.key.pem", prefix.display()));
    let public = PathBuf::from(format!("{}.pub.pem", prefix.display()));
    if !private.exists() {
        std::fs::create_dir_all(DEMO_DIR)?;
        let _ = std::fs::remove_file(&public);
        super::keygen::write_key_pair(&prefix, 2048)?;
    }
    let key = read_public_key(&public)?;
    let signing = payfac_signing::SigningKey::from_pem(&super::read_file(&private)?)
        .map_err(|error| anyhow::anyhow!("{}: {error}", private.display()))?;
    let probe = b"payfac demo key pair check";
    let matches = payfac_signing::decode_signature(&signing.sign(probe))
        .is_some_and(|signature| key.verify(probe, &signature));
    anyhow::ensure!(
        matches,
        "{} is not the public key of {}; remove both to have a new pair made",
        public.display(),
        private.display()
    );
    let id = MerchantId::parse(DEMO_MERCHANT)?;
    match store.add_merchant(&id, stored(&key)).await {
        Ok(()) | Err(AdminError::KeyExists(_)) => {}
        Err(AdminError::MerchantExists(_)) => match store.add_key(&id, stored(&key)).await {
            Ok(()) | Err(AdminError::KeyExists(_)) => {}
            Err(error) => return Err(error.into()),
        },
        Err(error) => return Err(error.into()),
    }
    let disabled = store.merchants().await?.iter().any(|merchant| {
        merchant.id == DEMO_MERCHANT && merchant.status == payfac_domain::MerchantStatus::Disabled
    });
    if disabled {
        tracing::warn!(
            "the demo merchant {DEMO_MERCHANT} is disabled and stays so; \
             `payfac merchant enable {DEMO_MERCHANT}` enables it"
        );
    }
    Ok(private)
}

/// The demo's first steps. The `--insecure-cookies` hint is given only to
/// a service started without it: over plain http the browser drops the
/// `Secure` session cookie, and telling someone who already passed the
/// flag to pass it sends them looking for a different problem.
fn print_demo_call(listen: &SocketAddr, key: &Path, insecure_cookies: bool) {
    let url = format!("http://{listen}");
    let payfac = std::env::current_exe()
        .map(|path| path.display().to_string())
        .unwrap_or_else(|_| "payfac".into());
    let cookies_hint = if insecure_cookies {
        ""
    } else {
        " (start with --insecure-cookies for plain http)"
    };
    println!(
        "\nDemo merchant {DEMO_MERCHANT} is registered; its private key is {key}.\n\
         Make a signed call (in another terminal):\n\n  \
         {payfac} user-sync --url {url} --merchant {DEMO_MERCHANT} --key {key} \\\n    \
         --merchant-user-no U1000001 --email john.doe@example.com --first-name John --last-name Doe\n\n\
         Then open {url}/account?authorizationCode=<the code> in a browser{cookies_hint}.\n",
        key = key.display()
    );
}
