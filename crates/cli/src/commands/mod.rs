//! One module per subcommand.

mod admin_token;
mod audit;
mod buyer;
mod healthcheck;
mod identity_key;
mod keygen;
mod merchant;
mod serve;
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
    /// Probe a running payfac's /healthz: exit 0 on 200 (container HEALTHCHECK).
    Healthcheck(healthcheck::Args),
}

/// Where storage lives: shared by every subcommand that touches it.
#[derive(Debug, clap::Args)]
pub struct DatabaseArgs {
    /// `sqlite://PATH` (created if missing) or `postgres://…`.
    #[arg(
        long,
        env = "PAYFAC_DATABASE_URL",
        default_value = "sqlite://payfac.db",
        global = true
    )]
    pub database_url: String,
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Merchant(args) => merchant::run(args).await,
        Command::Keygen(args) => keygen::run(args),
        Command::Sign(args) => sign::run(args),
        Command::UserSync(args) => user_sync::run(args).await,
        Command::AdminToken(args) => admin_token::run(args).await,
        Command::Buyer(args) => buyer::run(args).await,
        Command::Audit(args) => audit::run(args).await,
        Command::IdentityKey(args) => identity_key::run(args).await,
        Command::Healthcheck(args) => healthcheck::run(args).await,
    }
}

/// Reads a file, naming it in the error.
fn read_file(path: &std::path::Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .map_err(|error| anyhow::anyhow!("cannot read {}: {error}", path.display()))
}
