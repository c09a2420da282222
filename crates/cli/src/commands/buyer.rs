use std::process::ExitCode;

use clap::Subcommand;
use payfac_server::admin::actions::{buyer_by_merchant, buyer_by_user_id};
use payfac_server::admin::views::{BuyerView, ErasedView, ExportView, RevokedView};
use payfac_store::BuyerRef;

use super::DatabaseArgs;
use super::merchant::cli;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(subcommand)]
    command: BuyerCommand,
}

/// A buyer, named by merchant and merchantUserNo or by userId.
#[derive(Debug, clap::Args)]
#[group(required = true)]
struct Which {
    /// The merchant's id (with --merchant-user-no).
    #[arg(long, requires = "merchant_user_no", conflicts_with = "user_id")]
    merchant: Option<String>,
    /// The merchant's id for the buyer (with --merchant).
    #[arg(long, requires = "merchant")]
    merchant_user_no: Option<String>,
    /// The platform's userId.
    #[arg(long)]
    user_id: Option<String>,
}

impl Which {
    fn buyer(&self) -> anyhow::Result<BuyerRef> {
        Ok(
            match (&self.merchant, &self.merchant_user_no, &self.user_id) {
                (Some(merchant), Some(user_no), None) => buyer_by_merchant(merchant, user_no)?,
                (None, None, Some(user_id)) => buyer_by_user_id(user_id)?,
                _ => anyhow::bail!("give --merchant ID --merchant-user-no U, or --user-id N"),
            },
        )
    }
}

#[derive(Debug, Subcommand)]
enum BuyerCommand {
    /// Print the buyer's profile, times and live sessions as JSON.
    Show {
        #[command(flatten)]
        which: Which,
        /// Idle limit for counting live sessions, as the service's.
        #[arg(long, default_value_t = 7200)]
        session_idle_secs: i64,
    },
    /// End all of the buyer's sessions: their next page view is signed out.
    RevokeSessions {
        #[command(flatten)]
        which: Which,
    },
    /// Erase the buyer: profile, codes and sessions; its userId is never issued again.
    Erase {
        #[command(flatten)]
        which: Which,
    },
    /// Print everything stored about the buyer as JSON.
    Export {
        #[command(flatten)]
        which: Which,
        #[arg(long, default_value_t = 7200)]
        session_idle_secs: i64,
    },
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    // Every buyer command needs buyers: a missing file is refused.
    let store = payfac_store::open_existing(&args.database.database_url).await?;
    let operator = cli(store.as_ref());
    let json = match args.command {
        BuyerCommand::Show {
            which,
            session_idle_secs,
        } => {
            let details = operator.buyer(&which.buyer()?, session_idle_secs).await?;
            serde_json::to_string(&BuyerView::from(&details))?
        }
        BuyerCommand::RevokeSessions { which } => {
            let (user_id, ended) = operator.revoke_sessions(&which.buyer()?).await?;
            serde_json::to_string(&RevokedView {
                user_id: user_id.to_string(),
                sessions_ended: ended,
            })?
        }
        BuyerCommand::Erase { which } => {
            let erased = operator.erase(&which.buyer()?).await?;
            serde_json::to_string(&ErasedView::from(erased))?
        }
        BuyerCommand::Export {
            which,
            session_idle_secs,
        } => {
            let export = operator.export(&which.buyer()?, session_idle_secs).await?;
            serde_json::to_string(&ExportView::new(&export, payfac_store::unix_now()))?
        }
    };
    println!("{json}");
    Ok(ExitCode::SUCCESS)
}
