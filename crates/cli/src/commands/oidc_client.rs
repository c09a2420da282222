//! `payfac oidc-client add|list|remove`: the OpenID Provider's relying
//! parties (`payfac_server::oidc::clients`), through the same audited
//! action as the admin API's `/admin/v1/oidc-clients`. `add` prints the
//! client id and, for a confidential client, its secret: the only time
//! the secret is shown (storage keeps its SHA-256).

use std::process::ExitCode;

use clap::Subcommand;
use payfac_server::oidc::Registration;

use super::DatabaseArgs;
use super::merchant::cli;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(subcommand)]
    command: ClientCommand,
}

#[derive(Debug, Subcommand)]
enum ClientCommand {
    /// Register a relying party; prints {"clientId":…,"clientSecret":…} (no secret with --public).
    Add {
        /// What the operator calls it (1-100 characters).
        name: String,
        /// Where codes may be sent; matched exactly. Repeat for several.
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// Where RP-initiated logout may return to; matched exactly. Repeat for several.
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// No secret: the client proves itself with PKCE (S256) alone.
        #[arg(long)]
        public: bool,
        /// How its ID tokens are signed.
        #[arg(long, value_parser = ["RS256", "EdDSA"], default_value = "RS256")]
        id_token_alg: String,
    },
    /// Print every client as JSON (never a secret or hash).
    List,
    /// Remove a client; its codes and access tokens stop working at once.
    Remove { client_id: String },
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    // Only `add` may create the database.
    let url = &args.database.database_url;
    let store = match args.command {
        ClientCommand::Add { .. } => payfac_store::open(url).await?,
        _ => payfac_store::open_existing(url).await?,
    };
    let operator = cli(store.as_ref());
    match args.command {
        ClientCommand::Add {
            name,
            redirect_uris,
            post_logout_redirect_uris,
            public,
            id_token_alg,
        } => {
            let shown = operator
                .add_oidc_client(Registration {
                    name,
                    redirect_uris,
                    post_logout_redirect_uris,
                    public,
                    id_token_alg: Some(id_token_alg),
                })
                .await?;
            println!("{}", serde_json::to_string(&shown)?);
        }
        ClientCommand::List => {
            println!(
                "{}",
                serde_json::to_string(&operator.oidc_clients().await?)?
            );
        }
        ClientCommand::Remove { client_id } => {
            operator.remove_oidc_client(&client_id).await?;
            super::merchant::answer(serde_json::json!({"clientId": client_id, "removed": true}));
        }
    }
    Ok(ExitCode::SUCCESS)
}
