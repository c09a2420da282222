//! The fresh store of a run: a SQLite file in a temporary directory, or a
//! throwaway PostgreSQL database created for the run and dropped after it.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use tokio_postgres::NoTls;

use crate::presign::{merchant_name, stored_buyer};
use crate::{Args, BackendKind};

/// Tables whose rows the report counts.
pub const TABLES: [&str; 4] = ["nonces", "codes", "sessions", "buyers"];

pub struct Backend {
    pub kind: BackendKind,
    /// What `payfac_store::open` is given.
    pub url: String,
    sqlite: Option<(tempfile::TempDir, PathBuf)>,
    /// Server URL to connect to for admin work, and the database's name.
    postgres: Option<(String, String)>,
}

/// Storage figures after a run.
pub struct Storage {
    /// Bytes on disk: the SQLite file + WAL + shared memory, or
    /// `pg_database_size`.
    pub total_bytes: u64,
    /// Parts of the total, e.g. `db`, `wal`.
    pub parts: Vec<(String, u64)>,
    pub rows: Vec<(String, i64)>,
}

impl Backend {
    pub async fn create(args: &Args) -> anyhow::Result<Self> {
        match args.backend {
            BackendKind::Sqlite => {
                let dir = match &args.db_dir {
                    Some(parent) => tempfile::Builder::new()
                        .prefix("payfac-bench-")
                        .tempdir_in(parent)?,
                    None => tempfile::Builder::new().prefix("payfac-bench-").tempdir()?,
                };
                let path = dir.path().join("payfac.db");
                Ok(Self {
                    kind: BackendKind::Sqlite,
                    url: format!("sqlite://{}", path.display()),
                    sqlite: Some((dir, path)),
                    postgres: None,
                })
            }
            BackendKind::Postgres => {
                let name = format!(
                    "payfac_bench_{}",
                    payfac_domain::random_alphanumeric(10).to_ascii_lowercase()
                );
                let admin = connect(&args.postgres_url).await.with_context(|| {
                    format!(
                        "connecting to PostgreSQL at {} (set --postgres-url)",
                        payfac_store::redact_url(&args.postgres_url)
                    )
                })?;
                admin
                    .batch_execute(&format!("CREATE DATABASE {name}"))
                    .await
                    .with_context(|| format!("creating database {name}"))?;
                eprintln!("created PostgreSQL database {name}");
                Ok(Self {
                    kind: BackendKind::Postgres,
                    url: with_database(&args.postgres_url, &name),
                    sqlite: None,
                    postgres: Some((args.postgres_url.clone(), name)),
                })
            }
        }
    }

    pub fn label(&self) -> &'static str {
        match self.kind {
            BackendKind::Sqlite => "sqlite",
            BackendKind::Postgres => "postgres",
        }
    }

    pub fn populate_method(&self) -> &'static str {
        match self.kind {
            BackendKind::Sqlite => "one rusqlite transaction of prepared INSERTs, beside the store",
            BackendKind::Postgres => "INSERT … SELECT FROM generate_series in 100k-row statements",
        }
    }

    /// Stores buyers `0..count` directly (no HTTP, no nonces, no codes):
    /// buyer `i` belongs to merchant `BENCH{i % merchants}` with
    /// `merchantUserNo` `R{i:09}`, ids below any the service will issue.
    pub async fn populate_buyers(&self, count: u64, merchants: usize) -> anyhow::Result<()> {
        let base_id = populated_id_base();
        let now = unix_now();
        if let Some((_, path)) = &self.sqlite {
            let path = path.clone();
            return tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
                let mut connection = rusqlite::Connection::open(&path)?;
                connection.busy_timeout(std::time::Duration::from_secs(30))?;
                let transaction = connection
                    .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                {
                    let mut insert = transaction.prepare(
                        "INSERT INTO buyers (user_id, merchant_id, merchant_user_no, email,
                                             first_name, last_name, created_at, updated_at)
                         VALUES (?1, ?2, ?3, ?4, 'Bench', 'Buyer', ?5, ?5)",
                    )?;
                    let names: Vec<String> = (0..merchants).map(merchant_name).collect();
                    for index in 0..count {
                        let (merchant, merchant_user_no, email) = stored_buyer(index, merchants);
                        insert.execute(rusqlite::params![
                            base_id + index as i64,
                            names[merchant],
                            merchant_user_no,
                            email,
                            now
                        ])?;
                    }
                }
                transaction.commit()?;
                Ok(())
            })
            .await?;
        }
        let (server, name) = self.postgres.as_ref().expect("one backend is set");
        let client = connect(&with_database(server, name)).await?;
        const CHUNK: u64 = 100_000;
        let mut start = 0;
        while start < count {
            let end = (start + CHUNK).min(count);
            client
                .execute(
                    "INSERT INTO buyers (user_id, merchant_id, merchant_user_no, email,
                                         first_name, last_name, created_at, updated_at)
                     SELECT $1::BIGINT + g, 'BENCH' || (g % $2::BIGINT),
                            'R' || lpad(g::TEXT, 9, '0'), 'r' || g || '@example.com',
                            'Bench', 'Buyer', $3::BIGINT, $3::BIGINT
                     FROM generate_series($4::BIGINT, $5::BIGINT - 1) AS g",
                    &[
                        &base_id,
                        &(merchants as i64),
                        &now,
                        &(start as i64),
                        &(end as i64),
                    ],
                )
                .await
                .context("storing buyers (is the PostgreSQL schema the expected one?)")?;
            start = end;
        }
        client.batch_execute("ANALYZE buyers").await?;
        Ok(())
    }

    /// Size on disk and row counts of the run's tables.
    pub async fn storage_report(&self) -> anyhow::Result<Storage> {
        if let Some((_, path)) = &self.sqlite {
            let path = path.clone();
            return tokio::task::spawn_blocking(move || -> anyhow::Result<Storage> {
                let connection = rusqlite::Connection::open_with_flags(
                    &path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
                )?;
                connection.busy_timeout(std::time::Duration::from_secs(10))?;
                let mut rows = Vec::new();
                for table in TABLES {
                    let count: i64 = connection.query_row(
                        &format!("SELECT COUNT(*) FROM {table}"),
                        [],
                        |row| row.get(0),
                    )?;
                    rows.push((table.to_owned(), count));
                }
                let size = |suffix: &str| {
                    let mut name = path.clone().into_os_string();
                    name.push(suffix);
                    std::fs::metadata(PathBuf::from(name))
                        .map(|m| m.len())
                        .unwrap_or(0)
                };
                let parts = vec![
                    ("db".to_owned(), size("")),
                    ("wal".to_owned(), size("-wal")),
                    ("shm".to_owned(), size("-shm")),
                ];
                Ok(Storage {
                    total_bytes: parts.iter().map(|(_, bytes)| bytes).sum(),
                    parts,
                    rows,
                })
            })
            .await?;
        }
        let (server, name) = self.postgres.as_ref().expect("one backend is set");
        let client = connect(&with_database(server, name)).await?;
        let mut rows = Vec::new();
        for table in TABLES {
            let count: i64 = client
                .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])
                .await?
                .get(0);
            rows.push((table.to_owned(), count));
        }
        let total: i64 = client
            .query_one("SELECT pg_database_size(current_database())", &[])
            .await?
            .get(0);
        let mut parts = Vec::new();
        for table in TABLES {
            let bytes: i64 = client
                .query_one(&format!("SELECT pg_total_relation_size('{table}')"), &[])
                .await?
                .get(0);
            parts.push((table.to_owned(), bytes as u64));
        }
        Ok(Storage {
            total_bytes: total as u64,
            parts,
            rows,
        })
    }

    /// Drops the PostgreSQL database (the SQLite directory goes with
    /// `self`).
    pub async fn destroy(&self) -> anyhow::Result<()> {
        if let Some((server, name)) = &self.postgres {
            let admin = connect(server).await?;
            admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await
                .with_context(|| format!("dropping database {name}"))?;
            eprintln!("dropped PostgreSQL database {name}");
        }
        Ok(())
    }
}

async fn connect(url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// `url` with its database path replaced by `name`, query kept.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let root = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{root}/{name}?{query}"),
        None => format!("{root}/{name}"),
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Ids of stored buyers: the service's id layout (milliseconds since
/// 2020-01-01 above 22 low bits) one day ago, counting up, so they never
/// meet an id the service issues during the run.
fn populated_id_base() -> i64 {
    const EPOCH_MS: i64 = 1_577_836_800_000;
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(EPOCH_MS + 86_400_000);
    (now_ms - EPOCH_MS - 86_400_000) << 22
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_database_name() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "x"),
            "postgres://h:5432/x"
        );
    }
}
