//! One module per subcommand.

mod admin_token;
mod audit;
mod backup;
mod buyer;
mod healthcheck;
mod identity_key;
mod keygen;
mod merchant;
mod migrate;
mod oidc_client;
mod serve;
mod settings;
mod sign;
mod user_sync;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// payfac — merchant User Sync & Authorization API with buyer single sign-on.
#[derive(Debug, Parser)]
#[command(name = "payfac", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the service.
    Serve(serve::Args),
    /// Print the settings `serve` would run with, as TOML, secrets redacted.
    Config(serve::Args),
    /// Register merchants and rotate their keys.
    Merchant(merchant::Args),
    /// Write a new RSA key pair: PREFIX.key.pem (PKCS#8, mode 0600) and PREFIX.pub.pem (SPKI).
    Keygen(keygen::Args),
    /// Print the signature string and signature of a request, as JSON.
    Sign(sign::Args),
    /// Make a signed user-sync call and print the response envelope.
    UserSync(user_sync::Args),
    /// Create, list and revoke admin API tokens.
    AdminToken(admin_token::Args),
    /// Answer a buyer's data request: show, export, sign out everywhere, erase.
    Buyer(buyer::Args),
    /// Show the newest admin changes, newest first.
    Audit(audit::Args),
    /// Rotate the key that signs X-Payfac-Identity for the platform's apps.
    IdentityKey(identity_key::Args),
    /// Register the relying parties of payfac's OpenID Provider (serve --public-url).
    OidcClient(oidc_client::Args),
    /// Apply pending schema migrations and exit (--check: list them, change nothing).
    Migrate(migrate::Args),
    /// Copy the live SQLite database into a new file (PostgreSQL: use pg_dump).
    Backup(backup::Args),
    /// Probe a running payfac's /healthz: exit 0 on 200 (container HEALTHCHECK).
    Healthcheck(healthcheck::Args),
}

/// The embedded store, next to wherever payfac runs.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://payfac.db";

/// Where storage lives: shared by every subcommand that touches it.
#[derive(Debug, clap::Args)]
pub struct DatabaseArgs {
    /// `sqlite://PATH` or `postgres://…`. Only `serve`, `migrate` and the
    /// commands that add something (`merchant add`, `admin-token create`,
    /// `identity-key rotate`, `oidc-client add`) create a missing SQLite
    /// file.
    #[arg(
        long,
        env = "PAYFAC_DATABASE_URL",
        default_value = DEFAULT_DATABASE_URL,
        global = true
    )]
    pub database_url: String,
}

/// `matches` are those `cli` was made from: they tell a flag from a
/// default, which the `--config` file is layered between.
pub async fn run(cli: Cli, matches: &clap::ArgMatches) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve::run(settings::layered(args, matches)?).await,
        Command::Config(args) => settings::print(&settings::layered(args, matches)?),
        Command::Merchant(args) => merchant::run(args).await,
        Command::Keygen(args) => keygen::run(args),
        Command::Sign(args) => sign::run(args),
        Command::UserSync(args) => user_sync::run(args).await,
        Command::AdminToken(args) => admin_token::run(args).await,
        Command::Buyer(args) => buyer::run(args).await,
        Command::Audit(args) => audit::run(args).await,
        Command::IdentityKey(args) => identity_key::run(args).await,
        Command::OidcClient(args) => oidc_client::run(args).await,
        Command::Migrate(args) => migrate::run(args).await,
        Command::Backup(args) => backup::run(args).await,
        Command::Healthcheck(args) => healthcheck::run(args).await,
    }
}

/// Reads a file, naming it in the error.
fn read_file(path: &std::path::Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .map_err(|error| anyhow::anyhow!("cannot read {}: {error}", path.display()))
}
