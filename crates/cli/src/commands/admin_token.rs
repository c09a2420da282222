use std::process::ExitCode;

use clap::Subcommand;
use payfac_server::admin::views::TokenView;

use super::DatabaseArgs;
use super::merchant::cli;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(subcommand)]
    command: TokenCommand,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token for the admin API and print it: the only time it is shown.
    Create {
        /// 1-64 of A-Z a-z 0-9 _ . - (e.g. the tool or person holding it).
        name: String,
    },
    /// Show every token: name, created, last used (never the secret).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token: every instance refuses it within 5 seconds.
    Revoke { name: String },
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    // Only `create` may create the database; a missing file is refused
    // for listing and revoking.
    let url = &args.database.database_url;
    let store = match args.command {
        TokenCommand::Create { .. } => payfac_store::open(url).await?,
        _ => payfac_store::open_existing(url).await?,
    };
    match args.command {
        TokenCommand::Create { name } => {
            let token = cli(store.as_ref()).create_token(&name).await?;
            println!("{token}");
        }
        TokenCommand::List { json } => {
            let tokens: Vec<TokenView> = store
                .admin_tokens()
                .await?
                .iter()
                .map(TokenView::from)
                .collect();
            if json {
                println!("{}", serde_json::to_string(&tokens)?);
            } else {
                for token in tokens {
                    let last_used = token.last_used_at.as_deref().unwrap_or("-");
                    println!("{}\t{}\t{last_used}", token.name, token.created_at);
                }
            }
        }
        TokenCommand::Revoke { name } => cli(store.as_ref()).revoke_token(&name).await?,
    }
    Ok(ExitCode::SUCCESS)
}
