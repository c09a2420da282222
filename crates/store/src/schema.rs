//! Schema versions outside the service, for `payfac migrate`: which
//! migrations a database lacks (changing nothing), and applying them
//! without starting the service, so a release's schema change can be
//! applied before its instances roll out. `open` still migrates too, so
//! a single instance needs no separate step.

use crate::{StoreError, Target};

/// One schema migration: its version (its position, from 1) and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
}

/// Where a database's schema stands against this release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaStatus {
    /// The version the database records (0: a new database).
    pub current: i64,
    /// This release's newest version. A database above it was migrated
    /// by a newer release; this one runs on it as it is.
    pub latest: i64,
    /// What `apply_migrations` would apply, in order.
    pub pending: Vec<Migration>,
}

/// The migrations of a backend's list after `version`.
pub(crate) fn after(migrations: &[(&'static str, &'static str)], version: i64) -> Vec<Migration> {
    migrations
        .iter()
        .enumerate()
        .skip(version.max(0) as usize)
        .map(|(index, (name, _))| Migration {
            version: index as i64 + 1,
            name,
        })
        .collect()
}

/// The schema status of the database a URL names, reading only. A SQLite
/// file that does not exist is an error, not a new database.
pub async fn schema_status(database_url: &str) -> Result<SchemaStatus, StoreError> {
    match crate::target(database_url)? {
        Target::Sqlite(path) => {
            crate::require_file(database_url, path)?;
            let path = path.to_owned();
            crate::blocking(move || crate::sqlite::schema_status(&path)).await
        }
        Target::Postgres(url) => crate::postgres::schema_status(url).await,
    }
}

/// Applies the pending migrations (creating a SQLite file that does not
/// exist) and answers which were applied; safe while instances run and
/// when several migrators start at once (each backend's `migrate.rs`).
pub async fn apply_migrations(database_url: &str) -> Result<Vec<Migration>, StoreError> {
    match crate::target(database_url)? {
        Target::Sqlite(path) => {
            let path = path.to_owned();
            crate::blocking(move || crate::sqlite::apply_migrations(&path)).await
        }
        Target::Postgres(url) => crate::postgres::apply_migrations(url).await,
    }
}
