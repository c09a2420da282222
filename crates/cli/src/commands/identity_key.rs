//! `payfac identity-key rotate`: adds a new key for signing
//! `X-Payfac-Identity` (`payfac_server::identity::rotate`). Every instance
//! on the database publishes it within a second and signs with it after
//! its activation lead; the key it replaces stays published until the
//! tokens it signed have expired. Only the new key's id is printed, never
//! key material.

use std::process::ExitCode;

use super::DatabaseArgs;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Add a new signing key; the previous one stays published until its tokens expire.
    Rotate,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let store = payfac_store::open(&args.database.database_url).await?;
    match args.action {
        Action::Rotate => {
            let kid =
                payfac_server::identity::rotate(store.as_ref(), payfac_store::unix_now()).await?;
            println!("{kid}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
