use std::process::ExitCode;

use payfac_server::admin::views::AuditView;

use super::DatabaseArgs;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    database: DatabaseArgs,
    /// How many of the newest records, 1-1000.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(i64).range(1..=1000))]
    limit: i64,
    /// One JSON array instead of tab-separated lines.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let store = payfac_store::open_existing(&args.database.database_url).await?;
    let records: Vec<AuditView> = store
        .audit_log(args.limit)
        .await?
        .iter()
        .map(AuditView::from)
        .collect();
    if args.json {
        println!("{}", serde_json::to_string(&records)?);
    } else {
        for r in records {
            println!(
                "{}\t{}\t{}\t{}\t{}",
                r.at, r.actor, r.action, r.target, r.result
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
