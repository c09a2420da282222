//! `payfac backup --out FILE`: a consistent copy of the SQLite database
//! while the service serves (SQLite's online backup API; see
//! docs/OPERATIONS.md, "Backups"). PostgreSQL is refused with a pointer
//! to `pg_dump`.

use std::path::PathBuf;
use std::process::ExitCode;

use super::DatabaseArgs;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    database: DatabaseArgs,
    /// The new file to write (0600); an existing file is refused.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let summary = payfac_store::backup(&args.database.database_url, &args.out).await?;
    println!(
        "{}",
        serde_json::json!({
            "out": args.out.display().to_string(),
            "bytes": summary.bytes,
            "schemaVersion": summary.schema_version,
        })
    );
    Ok(ExitCode::SUCCESS)
}
