//! `payfac migrate`: applies the pending schema migrations and exits;
//! `--check` lists them and changes nothing. A release's schema change
//! can then be applied before its instances roll out (docs/OPERATIONS.md,
//! "Upgrading"), and a deploy script can tell whether it must.

use std::process::ExitCode;

use payfac_store::SchemaStatus;

use super::DatabaseArgs;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    database: DatabaseArgs,
    /// List the pending migrations and exit 1 if there are any; change nothing.
    #[arg(long)]
    check: bool,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let url = &args.database.database_url;
    if args.check {
        let status = payfac_store::schema_status(url).await?;
        for migration in &status.pending {
            println!("pending\t{}\t{}", migration.version, migration.name);
        }
        if !status.pending.is_empty() {
            eprintln!(
                "payfac: {} migration(s) pending (schema version {} of {}); run payfac migrate",
                status.pending.len(),
                status.current,
                status.latest
            );
            return Ok(ExitCode::FAILURE);
        }
        println!("{}", up_to_date(&status));
        return Ok(ExitCode::SUCCESS);
    }
    for migration in payfac_store::apply_migrations(url).await? {
        println!("applied\t{}\t{}", migration.version, migration.name);
    }
    println!("{}", up_to_date(&payfac_store::schema_status(url).await?));
    Ok(ExitCode::SUCCESS)
}

fn up_to_date(status: &SchemaStatus) -> String {
    if status.current > status.latest {
        format!(
            "schema version {}: newer than this release's {}, nothing to apply",
            status.current, status.latest
        )
    } else {
        format!("schema version {}: up to date", status.current)
    }
}
