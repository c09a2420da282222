//! `payfac identity-key rotate`: adds a new key for signing
//! `X-Payfac-Identity` (`payfac_server::identity::rotate`); with
//! `--rs256`, a new RS256 key for the OpenID Provider's ID tokens. Every instance
//! on the database publishes it within a second and signs with it after
//! its activation lead; the key it replaces stays published until the
//! tokens it signed have expired. Only the new key's id is printed, never
//! key material. `payfac identity-key revoke KID` withdraws a key at once
//! (`payfac_server::identity::revoke`).

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
    Rotate {
        /// Rotate the OpenID Provider's RS256 ID-token key instead of the Ed25519 identity key.
        #[arg(long)]
        rs256: bool,
    },
    /// Withdraw a key at once (a leaked key): no instance publishes or signs with it after a second.
    Revoke {
        /// The key's id (`kid`), as in the JWK Set.
        kid: String,
    },
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let url = &args.database.database_url;
    // A rotation may start a new database; a revocation names a key that
    // must already be in one.
    let store = match args.action {
        Action::Rotate { .. } => payfac_store::open(url).await?,
        Action::Revoke { .. } => payfac_store::open_existing(url).await?,
    };
    match args.action {
        Action::Rotate { rs256 } => {
            let kind = if rs256 {
                payfac_server::identity::KeyKind::Oidc
            } else {
                payfac_server::identity::KeyKind::Identity
            };
            let now = payfac_store::unix_now();
            let kid = payfac_server::identity::rotate_kind(store.as_ref(), kind, now).await?;
            println!("{kid}");
        }
        Action::Revoke { kid } => {
            let now = payfac_store::unix_now();
            match payfac_server::identity::revoke(store.as_ref(), &kid, now).await? {
                Some(replaced_by) => super::merchant::answer(serde_json::json!({
                    "kid": kid,
                    "revoked": true,
                    "replacedBy": replaced_by,
                })),
                None => anyhow::bail!("no identity key {kid}"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
