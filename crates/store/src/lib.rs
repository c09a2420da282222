//! Storage for payfac behind one trait, with one module per backend:
//! SQLite (embedded default) and PostgreSQL (several instances on one
//! database). Handlers hold an `Arc<dyn Store>` and never branch on the
//! backend.
//!
//! The backends mirror each other: one file per concern, with the same
//! name in both `sqlite/` and `postgres/`:
//!
//! - `connect`: opening the store (SQLite: the file, its connections'
//!   settings and the checkpoint thread; PostgreSQL: the connection
//!   pool), the readiness probe, and recognising constraint violations;
//! - `migrate`: applying `schema.sql` and `migrations/NNN_*.sql` (the
//!   same number for the same change in both from 004 on; 002 and 003
//!   shipped in opposite orders, and a version is a position existing
//!   databases have already recorded, so they keep their numbers);
//! - `sync`: merchant calls (`user-sync`): nonce, buyer and code;
//! - `redeem`: code redemption, which starts a session;
//! - `sessions`: looking up, ending and confirming a session;
//! - `purge`: deleting expired nonces, codes and sessions;
//! - `server_secrets`: the service's stored secrets;
//! - `buyers`: reading a buyer out of a result row;
//! - `admin` (merchants and keys), `admin_tokens`, `buyers_admin`,
//!   `identity_keys`, and `operator` (the [`OperatorStore`] impl).
//!
//! Each `mod.rs` holds the store, its [`Store`] impl handing every call
//! to the file of its concern, and the module list. Files only one
//! backend needs for how it writes are named for what they are: SQLite's
//! single writer thread with group commit (`writer`, tested in
//! `writer_tests`), the writer's live nonce set (`nonces`) and the reader
//! pool (`readers`); PostgreSQL's group commit (`batch`), which `sync` and
//! `redeem` run through. The SQL is written by hand per dialect: that is
//! what the measurements in docs/PERFORMANCE.md chose. Files one backend
//! needs for operating it: SQLite's online `backup`; PostgreSQL's `tls`
//! (`sslmode`, `sslrootcert`) and its `channel_binding`. Outside the
//! backends, `schema` answers `payfac migrate`.
//!
//! **Adding a field** (say, a buyer's phone): a migration with the next
//! number in *both* `sqlite/migrations/` and `postgres/migrations/`
//! (appended to each backend's list in `migrate.rs`; a version is its
//! position), the column in both `schema.sql` files for new databases,
//! the field in `records.rs`, the statements of that concern's file in
//! each backend (a buyer's phone: `sync.rs` and, if [`Buyer`] carries
//! it, `buyers.rs` with PostgreSQL's `buyer_columns!` in its `mod.rs`),
//! and a behaviour in `tests/behaviour/`, which runs on both backends.
//!
//! **Adding a backend**: a module implementing [`Store`] and
//! [`OperatorStore`], laid out in the same files per concern, a URL
//! scheme in [`open`], and its arm in the test suite's `TestStore`
//! (`tests/common/backend.rs`): every behaviour test then runs against it
//! too.

mod error;
mod oidc;
mod operator;
pub mod postgres;
mod records;
mod schema;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;

pub use error::{AdminError, StoreError};
pub use oidc::{
    ACCESS_TOKEN_MAX_SECS, NewOidcCode, OidcClient, OidcCodeRedemption, OidcCodeRefusal, OidcGrant,
    OidcSession, OidcStore,
};
pub use operator::*;
pub use records::{
    IdentityKeyRecord, MerchantRecord, NewSession, PurgeCounts, RedeemOutcome, Redemption,
    RejectReason, SessionKey, StoredKey, SyncOutcome, SyncRequest,
};
pub use schema::{Migration, SchemaStatus, apply_migrations, schema_status};
pub use sqlite::BackupSummary;

use payfac_domain::{Buyer, MerchantId, MerchantStatus};

/// Everything payfac keeps. Every method is one atomic unit: it either
/// happens completely or leaves no trace.
#[async_trait]
pub trait Store: OperatorStore + OidcStore + Send + Sync + 'static {
    /// Records the nonce, upserts the buyer and stores a new code hash, in
    /// one transaction. A nonce already used inside its window gives
    /// `NonceReused` and writes nothing.
    async fn sync_user(&self, request: SyncRequest) -> Result<SyncOutcome, StoreError>;

    /// Consumes a code (valid, unexpired, unused → used) and, only then,
    /// creates the session and ends the one it replaces.
    async fn redeem_code(&self, redemption: Redemption) -> Result<RedeemOutcome, StoreError>;

    /// The buyer of a live session; refreshes its idle timer at most once a
    /// minute. A session pending the buyer's consent is not one.
    async fn session_buyer(
        &self,
        session: SessionKey,
        now: i64,
        idle_secs: i64,
    ) -> Result<Option<Buyer>, StoreError>;

    async fn end_session(&self, session: SessionKey) -> Result<(), StoreError>;

    /// The buyer of a live session that waits for the buyer's consent
    /// (created by `redeem_code` with `pending`); a full session is not
    /// one.
    async fn pending_buyer(
        &self,
        session: SessionKey,
        now: i64,
    ) -> Result<Option<Buyer>, StoreError>;

    /// Makes a live pending session a full one, ending `max_secs` after it
    /// was created (never later: a session's end is capped at its
    /// creation + `--session-max-secs`), and ends `replaces`, in one
    /// transaction. `false` when the session is over, unknown or not
    /// pending (then nothing changes): a full session cannot be confirmed
    /// again to push its end back.
    async fn confirm_session(
        &self,
        pending: SessionKey,
        now: i64,
        max_secs: i64,
        replaces: Option<SessionKey>,
    ) -> Result<bool, StoreError>;

    /// The service secret stored under `name`, shared by every instance on
    /// the database; the first caller's `candidate` (from the CSPRNG)
    /// becomes it.
    async fn server_secret(&self, name: &str, candidate: [u8; 32]) -> Result<Vec<u8>, StoreError>;

    /// Deletes expired nonces, codes and sessions, at most `batch` rows of
    /// each per call.
    async fn purge_expired(&self, now: i64, batch: i64) -> Result<PurgeCounts, StoreError>;

    /// Cheap round trip for readiness checks.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Returns once every write queued before the call has finished
    /// (committed or failed), for a clean shutdown. Backends whose writes
    /// are all awaited by their callers have nothing to flush.
    async fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Bumped by every merchant or key change, so servers reload their
    /// merchant cache only when something changed.
    async fn config_version(&self) -> Result<i64, StoreError>;

    async fn merchants(&self) -> Result<Vec<MerchantRecord>, StoreError>;

    async fn add_merchant(&self, id: &MerchantId, key: StoredKey) -> Result<(), AdminError>;

    async fn add_key(&self, id: &MerchantId, key: StoredKey) -> Result<(), AdminError>;

    async fn remove_key(&self, id: &MerchantId, key_id: &str) -> Result<(), AdminError>;

    async fn set_status(&self, id: &MerchantId, status: MerchantStatus) -> Result<(), AdminError>;

    /// The identity-signing keys, oldest first (by `created_at`, then kid).
    async fn identity_keys(&self) -> Result<Vec<IdentityKeyRecord>, StoreError>;

    /// Stores an identity-signing key and answers whether it did. With
    /// `only_if_none` it stores it only into an empty table, atomically
    /// across instances: of several instances starting at once on a new
    /// database, exactly one key wins.
    async fn add_identity_key(
        &self,
        key: IdentityKeyRecord,
        only_if_none: bool,
    ) -> Result<bool, StoreError>;

    /// Deletes the identity keys created before `created_before`, never
    /// the newest one; answers how many went.
    async fn remove_identity_keys_before(&self, created_before: i64) -> Result<u64, StoreError>;

    /// Deletes the identity key `kid` at once (a leaked key) and, when it
    /// was the last one, stores `replacement` in the same transaction, so
    /// there is always a key to sign with. `false` when no key has that kid
    /// (then nothing changes).
    async fn revoke_identity_key(
        &self,
        kid: &str,
        replacement: IdentityKeyRecord,
    ) -> Result<bool, StoreError>;
}

/// Opens the store a database URL names: `sqlite://PATH` (created if
/// missing) or `postgres://…` / `postgresql://…`. Migrations run before it
/// is returned.
pub async fn open(database_url: &str) -> Result<Arc<dyn Store>, StoreError> {
    match target(database_url)? {
        Target::Sqlite(path) => Ok(Arc::new(sqlite::SqliteStore::open(path).await?)),
        Target::Postgres(url) => Ok(Arc::new(postgres::PostgresStore::open(url).await?)),
    }
}

/// As [`open`], but a SQLite file that does not exist is an error naming
/// the URL, not a new empty database: for commands that only read or
/// change what is already there, where a mistyped path must not leave an
/// empty `payfac.db` behind and answer "nothing found".
pub async fn open_existing(database_url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if let Target::Sqlite(path) = target(database_url)? {
        require_file(database_url, path)?;
    }
    open(database_url).await
}

/// `payfac backup`: copies a live SQLite database into the new file
/// `out` (`sqlite/backup.rs`). PostgreSQL is refused: its own tools
/// (`pg_dump`, base backups with WAL archiving) are the way there.
pub async fn backup(
    database_url: &str,
    out: &std::path::Path,
) -> Result<BackupSummary, StoreError> {
    match target(database_url)? {
        Target::Sqlite(path) => {
            require_file(database_url, path)?;
            let (path, out) = (path.to_owned(), out.to_owned());
            blocking(move || sqlite::backup(&path, &out)).await
        }
        Target::Postgres(_) => Err(StoreError::Config(
            "payfac backup copies SQLite databases only; back up PostgreSQL with pg_dump, \
             or base backups with WAL archiving (docs/OPERATIONS.md, \"Backups\")"
                .into(),
        )),
    }
}

/// Runs blocking SQLite work off the async runtime.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| StoreError::Unavailable(error.to_string()))?
}

/// The backend a URL names, with what that backend opens.
pub(crate) enum Target<'a> {
    /// The file path, with any `?…` after it.
    Sqlite(&'a str),
    /// The whole URL.
    Postgres(&'a str),
}

pub(crate) fn target(database_url: &str) -> Result<Target<'_>, StoreError> {
    if let Some(path) = database_url.strip_prefix("sqlite://") {
        Ok(Target::Sqlite(path))
    } else if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        Ok(Target::Postgres(database_url))
    } else {
        Err(StoreError::Config(format!(
            "unsupported database URL scheme (use sqlite://PATH or postgres://…): {}",
            redact_url(database_url)
        )))
    }
}

/// Refuses a SQLite URL whose file does not exist, naming the URL.
pub(crate) fn require_file(database_url: &str, path: &str) -> Result<(), StoreError> {
    let file = sqlite::file_path(path);
    match std::fs::metadata(&file) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            Err(StoreError::Config(format!(
                "no database at {}: {} does not exist (payfac serve or payfac migrate creates it)",
                redact_url(database_url),
                file.display()
            )))
        }
        Err(error) => Err(StoreError::Config(format!(
            "cannot read the database at {}: {error}",
            redact_url(database_url)
        ))),
    }
}

/// A database URL without its password, safe to print: the password of
/// the user-info part and any `password=` query parameter (libpq URLs
/// accept both) become `***`.
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut out = match (base.find("://"), base.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &base[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &base[..scheme_end + 3], &base[at..]),
                None => base.to_owned(),
            }
        }
        _ => base.to_owned(),
    };
    if let Some(query) = query {
        let parts: Vec<String> = query
            .split('&')
            .map(|part| match part.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => part.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&parts.join("&"));
    }
    out
}

/// The largest timestamp window (`--timestamp-window-secs`) any instance
/// may use. Nonces are kept for a fixed time derived from it, so no window
/// setting, changed at a restart or different between instances, can make
/// a recorded nonce go before some instance stops accepting its timestamp.
pub const MAX_TIMESTAMP_WINDOW_SECS: i64 = 3_600;

/// How far behind the purging clock (the database's on PostgreSQL) an
/// instance's clock may run without a purge reopening a nonce it would
/// still accept.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;

/// A nonce is recorded until `signed_at + NONCE_RETENTION_SECS`: an
/// instance with the largest window and a clock `MAX_CLOCK_SKEW_SECS`
/// behind accepts that timestamp until then at the latest.
pub const NONCE_RETENTION_SECS: i64 = MAX_TIMESTAMP_WINDOW_SECS + MAX_CLOCK_SKEW_SECS;

/// Current Unix time in seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A fresh buyer id: milliseconds since 2020-01-01 in the high bits and 22
/// random bits below, like the platform's existing ids. Ids need no
/// coordination between instances; the primary key catches the
/// vanishingly rare collision and the store retries with a new id.
pub fn new_user_id() -> i64 {
    const EPOCH_MS: i64 = 1_577_836_800_000;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(EPOCH_MS);
    let mut random = [0u8; 4];
    aws_lc_rs::rand::fill(&mut random).expect("the OS random source is available");
    let low = i64::from(u32::from_le_bytes(random) & 0x3F_FFFF);
    (((now_ms - EPOCH_MS).max(1)) << 22) | low
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            redact_url("postgres://user:secret@host/db"),
            "postgres://user:***@host/db"
        );
        assert_eq!(
            redact_url("postgres://user@host/db"),
            "postgres://user@host/db"
        );
        assert_eq!(redact_url("sqlite://payfac.db"), "sqlite://payfac.db");
        assert_eq!(
            redact_url("postgres://u:p@w@host/db?sslmode=disable&password=x&application_name=a"),
            "postgres://u:***@host/db?sslmode=disable&password=***&application_name=a"
        );
        assert_eq!(
            redact_url("postgresql://host/db?user=a@b"),
            "postgresql://host/db?user=a@b"
        );
    }

    #[test]
    fn user_ids_are_positive_and_distinct() {
        let a = new_user_id();
        let b = new_user_id();
        assert!(a > 0 && b > 0);
        assert_ne!(a, b);
    }
}
