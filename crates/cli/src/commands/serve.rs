use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use payfac_domain::MerchantId;
use payfac_server::{Application, Config, observability};
use payfac_store::{AdminError, Store};

use super::DatabaseArgs;
use super::merchant::{read_public_key, stored};

/// The demo merchant's id and key folder.
const DEMO_MERCHANT: &str = "DEMO";
const DEMO_DIR: &str = "demo-merchant";

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    database: DatabaseArgs,
    /// Address to listen on.
    #[arg(long, env = "PAYFAC_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Largest accepted |server time - timestamp header|, in seconds.
    #[arg(long, env = "PAYFAC_TIMESTAMP_WINDOW_SECS", default_value_t = 300)]
    timestamp_window_secs: i64,
    /// Lifetime of an authorization code, in seconds.
    #[arg(long, env = "PAYFAC_CODE_TTL_SECS", default_value_t = 300)]
    code_ttl_secs: i64,
    /// A session unused this long ends, in seconds.
    #[arg(long, env = "PAYFAC_SESSION_IDLE_SECS", default_value_t = 7200)]
    session_idle_secs: i64,
    /// A session ends this long after sign-in, in seconds.
    #[arg(long, env = "PAYFAC_SESSION_MAX_SECS", default_value_t = 86400)]
    session_max_secs: i64,
    /// Plain-HTTP development: session cookies without the Secure flag.
    #[arg(long, env = "PAYFAC_INSECURE_COOKIES")]
    insecure_cookies: bool,
    /// Merchant test environment: signature errors carry a `debug` reason.
    #[arg(long, env = "PAYFAC_SANDBOX")]
    sandbox: bool,
    /// Register a demo merchant with a fresh key pair in ./demo-merchant/.
    #[arg(long, env = "PAYFAC_DEMO")]
    demo: bool,
    /// Log one JSON object per line instead of text.
    #[arg(long, env = "PAYFAC_LOG_JSON")]
    log_json: bool,
    #[command(flatten)]
    gateway: GatewayArgs,
}

/// Gateway mode and the identity hand-off (docs/GATEWAY.md).
#[derive(Debug, clap::Args)]
struct GatewayArgs {
    /// Put payfac in front of this storefront (http://host:port): every request that is not payfac's own goes there.
    #[arg(long, env = "PAYFAC_UPSTREAM")]
    upstream: Option<String>,
    /// Longest wait for a connection to the upstream, in seconds (504 after it).
    #[arg(
        long,
        env = "PAYFAC_UPSTREAM_CONNECT_TIMEOUT_SECS",
        default_value_t = 5
    )]
    upstream_connect_timeout_secs: u64,
    /// Longest wait for the upstream's response head, in seconds (504 after it).
    #[arg(
        long,
        env = "PAYFAC_UPSTREAM_RESPONSE_TIMEOUT_SECS",
        default_value_t = 60
    )]
    upstream_response_timeout_secs: u64,
    /// The name the built-in demo storefront shows.
    #[arg(
        long,
        env = "PAYFAC_PLATFORM_NAME",
        default_value = "payfac demo store"
    )]
    platform_name: String,
    /// `aud` of X-Payfac-Identity, checked by the upstream's apps.
    #[arg(
        long,
        env = "PAYFAC_IDENTITY_AUDIENCE",
        default_value = "payfac-upstream"
    )]
    identity_audience: String,
    /// `iss` of X-Payfac-Identity.
    #[arg(long, env = "PAYFAC_IDENTITY_ISSUER", default_value = "payfac")]
    identity_issuer: String,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    observability::init_logging(args.log_json, colour, || Box::new(std::io::stderr()));
    for (name, value) in [
        ("--timestamp-window-secs", args.timestamp_window_secs),
        ("--code-ttl-secs", args.code_ttl_secs),
        ("--session-idle-secs", args.session_idle_secs),
        ("--session-max-secs", args.session_max_secs),
    ] {
        anyhow::ensure!(value > 0, "{name} must be positive");
    }
    let gateway = &args.gateway;
    let upstream = match &gateway.upstream {
        Some(url) => Some(payfac_server::gateway::parse_upstream(url).map_err(anyhow::Error::msg)?),
        None => None,
    };
    for (name, value) in [
        (
            "--upstream-connect-timeout-secs",
            gateway.upstream_connect_timeout_secs,
        ),
        (
            "--upstream-response-timeout-secs",
            gateway.upstream_response_timeout_secs,
        ),
    ] {
        anyhow::ensure!(value > 0, "{name} must be positive");
    }
    let store = payfac_store::open(&args.database.database_url).await?;
    let demo_key = if args.demo {
        Some(ensure_demo_merchant(store.as_ref()).await?)
    } else {
        None
    };
    let config = Config {
        listen: args.listen,
        timestamp_window_secs: args.timestamp_window_secs,
        code_ttl_secs: args.code_ttl_secs,
        insecure_cookies: args.insecure_cookies,
        sandbox: args.sandbox,
        session_idle_secs: args.session_idle_secs,
        session_max_secs: args.session_max_secs,
        upstream,
        upstream_connect_timeout: Duration::from_secs(gateway.upstream_connect_timeout_secs),
        upstream_response_timeout: Duration::from_secs(gateway.upstream_response_timeout_secs),
        platform_name: gateway.platform_name.clone(),
        identity_audience: gateway.identity_audience.clone(),
        identity_issuer: gateway.identity_issuer.clone(),
        ..Config::default()
    };
    let application = Application::build(config, store).await?;
    tracing::info!(
        listen = %args.listen,
        database = %payfac_store::redact_url(&args.database.database_url),
        sandbox = args.sandbox,
        upstream = gateway.upstream.as_deref().unwrap_or("-"),
        "payfac is serving"
    );
    if let Some(key) = demo_key {
        print_demo_call(&args.listen, &key);
    }
    application.run_until_stopped().await?;
    Ok(ExitCode::SUCCESS)
}

/// Registers `DEMO` with the key pair in ./demo-merchant/, creating the
/// pair on first use; later runs reuse it.
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
    let id = MerchantId::parse(DEMO_MERCHANT)?;
    match store.add_merchant(&id, stored(&key)).await {
        Ok(()) | Err(AdminError::KeyExists(_)) => {}
        Err(AdminError::MerchantExists(_)) => match store.add_key(&id, stored(&key)).await {
            Ok(()) | Err(AdminError::KeyExists(_)) => {}
            Err(error) => return Err(error.into()),
        },
        Err(error) => return Err(error.into()),
    }
    store
        .set_status(&id, payfac_domain::MerchantStatus::Active)
        .await?;
    Ok(private)
}

fn print_demo_call(listen: &SocketAddr, key: &Path) {
    let url = format!("http://{listen}");
    let payfac = std::env::current_exe()
        .map(|path| path.display().to_string())
        .unwrap_or_else(|_| "payfac".into());
    println!(
        "\nDemo merchant {DEMO_MERCHANT} is registered; its private key is {key}.\n\
         Make a signed call (in another terminal):\n\n  \
         {payfac} user-sync --url {url} --merchant {DEMO_MERCHANT} --key {key} \\\n    \
         --merchant-user-no U1000001 --email john.doe@example.com --first-name John --last-name Doe\n\n\
         Then open {url}/account?authorizationCode=<the code> in a browser \
         (start with --insecure-cookies for plain http).\n",
        key = key.display()
    );
}
