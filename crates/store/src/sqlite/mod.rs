//! The embedded SQLite backend: one file in WAL mode, one writer thread
//! with group commit, and a small pool of reader connections.

mod admin;
mod admin_tokens;
mod buyers;
mod buyers_admin;
mod identity_keys;
mod nonces;
mod operator;
mod readers;
mod writer;

use std::path::PathBuf;

use async_trait::async_trait;
use payfac_domain::{Buyer, MerchantId, MerchantStatus};
use rusqlite::Connection;

use crate::{
    AdminError, IdentityKeyRecord, MerchantRecord, PurgeCounts, RedeemOutcome, Redemption,
    SessionKey, Store, StoreError, StoredKey, SyncOutcome, SyncRequest,
};
use readers::Readers;
use writer::Writer;

/// Schema migrations, applied in order; the index + 1 is the version.
const MIGRATIONS: &[&str] = &[
    include_str!("schema.sql"),
    include_str!("migrations/002_nonce_log.sql"),
    include_str!("migrations/003_session_ids.sql"),
    include_str!("migrations/004_nonce_retention.sql"),
    include_str!("migrations/005_admin_api.sql"),
    include_str!("migrations/006_identity_keys.sql"),
    include_str!("migrations/007_server_secrets.sql"),
];

pub struct SqliteStore {
    writer: Writer,
    readers: Readers,
    /// Dropping it stops the checkpoint thread.
    _checkpointer: std::sync::mpsc::Sender<()>,
}

impl SqliteStore {
    /// Opens (creating if missing) the database file and migrates it.
    pub async fn open(path: &str) -> Result<Self, StoreError> {
        let path = PathBuf::from(path.split('?').next().unwrap_or(path));
        let opened = path.clone();
        let connection = tokio::task::spawn_blocking(move || -> Result<Connection, StoreError> {
            restrict_access(&opened)?;
            let connection = Connection::open(&opened)?;
            configure(&connection)?;
            connection.pragma_update(None, "journal_mode", "WAL")?;
            // Checkpoints run on their own thread (`spawn_checkpointer`),
            // not inside the writer's COMMIT; when the WAL starts over it is
            // truncated back to this size.
            connection.pragma_update(None, "wal_autocheckpoint", 0)?;
            connection.pragma_update(None, "journal_size_limit", 16 * 1024 * 1024)?;
            // The writer touches the newest pages of every table and random
            // buyers; SQLite's default 2 MiB cache re-read them from the OS
            // on almost every job once the file grew.
            connection.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
            migrate(&connection)?;
            Ok(connection)
        })
        .await
        .map_err(|error| StoreError::Unavailable(error.to_string()))??;
        Ok(Self {
            _checkpointer: spawn_checkpointer(path.clone()),
            writer: Writer::start(connection),
            readers: Readers::new(path),
        })
    }
}

/// The database holds buyers' emails and names: the file is created
/// readable by its owner only (0600) whatever the umask, and SQLite gives
/// its `-wal` and `-shm` files the database file's mode. Files an older
/// release created under the umask (often 0644) are narrowed to 0600.
fn restrict_access(path: &std::path::Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let created = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path);
        match created {
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(error) => {
                return Err(StoreError::Unavailable(format!(
                    "cannot create {}: {error}",
                    path.display()
                )));
            }
        }
        for suffix in ["", "-wal", "-shm"] {
            let file = PathBuf::from(format!("{}{suffix}", path.display()));
            let Ok(metadata) = std::fs::metadata(&file) else {
                continue;
            };
            if metadata.permissions().mode() & 0o077 != 0 {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).map_err(
                    |error| {
                        StoreError::Unavailable(format!(
                            "cannot restrict {} to its owner: {error}",
                            file.display()
                        ))
                    },
                )?;
                tracing::warn!(file = %file.display(), "narrowed to owner-only access (0600)");
            }
        }
    }
    Ok(())
}

/// Page cache of the writer connection, in KiB.
const WRITER_CACHE_KIB: i64 = 64 * 1024;

/// Size of the WAL file past which the checkpointer makes the writer
/// start the WAL over.
const WAL_RESTART_BYTES: u64 = 64 * 1024 * 1024;

/// Copies the WAL back into the database every second, off the writer
/// thread (see the loop for PASSIVE vs RESTART). The thread ends
/// when the returned sender (kept by the store) is dropped.
fn spawn_checkpointer(path: PathBuf) -> std::sync::mpsc::Sender<()> {
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let spawned = std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            let Ok(connection) = Connection::open(&path) else {
                return;
            };
            if configure(&connection).is_err() {
                return;
            }
            let second = std::time::Duration::from_secs(1);
            let wal = PathBuf::from(format!("{}-wal", path.display()));
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(second)
            {
                // PASSIVE keeps up without blocking anyone, but under
                // continuous writes the WAL can never restart from its
                // beginning; past the size limit a RESTART checkpoint waits
                // for the writer once, so the file stays bounded.
                let oversized = std::fs::metadata(&wal).is_ok_and(|m| m.len() > WAL_RESTART_BYTES);
                let mode = if oversized { "RESTART" } else { "PASSIVE" };
                let sql = format!("PRAGMA wal_checkpoint({mode})");
                if let Err(error) = connection.query_row(&sql, [], |_| Ok(())) {
                    tracing::warn!(%error, "WAL checkpoint failed");
                }
            }
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "could not start the WAL checkpoint thread");
    }
    stop
}

/// Settings every connection needs. `synchronous = FULL` makes each group
/// commit durable before any request of it is answered.
fn configure(connection: &Connection) -> Result<(), rusqlite::Error> {
    connection.busy_timeout(std::time::Duration::from_secs(5))?;
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

fn migrate(connection: &Connection) -> Result<(), StoreError> {
    connection.execute_batch("BEGIN IMMEDIATE")?;
    let result = (|| -> Result<(), rusqlite::Error> {
        let version: i64 = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
        for (index, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            connection.execute_batch(sql)?;
            connection.pragma_update(None, "user_version", index as i64 + 1)?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => Ok(connection.execute_batch("COMMIT")?),
        Err(error) => {
            let _ = connection.execute_batch("ROLLBACK");
            Err(error.into())
        }
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn sync_user(&self, request: SyncRequest) -> Result<SyncOutcome, StoreError> {
        self.writer
            .write_with_nonces(move |connection, nonces| {
                buyers::sync_user(connection, nonces, &request)
            })
            .await
    }

    async fn redeem_code(&self, redemption: Redemption) -> Result<RedeemOutcome, StoreError> {
        self.writer
            .write(move |connection| buyers::redeem_code(connection, &redemption))
            .await
    }

    async fn session_buyer(
        &self,
        session: SessionKey,
        now: i64,
        idle_secs: i64,
    ) -> Result<Option<Buyer>, StoreError> {
        let found = self
            .readers
            .read(move |connection| buyers::session_buyer(connection, &session, now, idle_secs))
            .await?;
        let Some((buyer, last_seen_at)) = found else {
            return Ok(None);
        };
        if buyers::needs_touch(last_seen_at, now) {
            self.writer
                .write(move |connection| buyers::touch_session(connection, &session, now))
                .await?;
        }
        Ok(Some(buyer))
    }

    async fn end_session(&self, session: SessionKey) -> Result<(), StoreError> {
        self.writer
            .write(move |connection| buyers::end_session(connection, &session))
            .await
    }

    async fn confirm_session(
        &self,
        pending: SessionKey,
        now: i64,
        expires_at: i64,
        replaces: Option<SessionKey>,
    ) -> Result<bool, StoreError> {
        self.writer
            .write(move |connection| {
                buyers::confirm_session(connection, &pending, now, expires_at, replaces.as_ref())
            })
            .await
    }

    async fn server_secret(&self, name: &str, candidate: [u8; 32]) -> Result<Vec<u8>, StoreError> {
        let name = name.to_owned();
        self.writer
            .write(move |connection| buyers::server_secret(connection, &name, &candidate))
            .await
    }

    async fn purge_expired(&self, now: i64, batch: i64) -> Result<PurgeCounts, StoreError> {
        self.writer
            .write_with_nonces(move |connection, nonces| {
                buyers::purge_expired(connection, nonces, now, batch)
            })
            .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.readers
            .read(|connection| connection.query_row("SELECT 1", [], |_| Ok(())))
            .await?;
        if !self.writer.last_batch_committed() {
            // The last batch did not commit (a full disk, an I/O error, a
            // lock held too long): ready again only once a write commits.
            // Rewriting `user_version` with its own value puts one page
            // into the WAL, so the probe needs what a real write needs.
            self.writer
                .write(|connection| {
                    let version: i64 =
                        connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
                    connection.pragma_update(None, "user_version", version)?;
                    Ok::<_, StoreError>(())
                })
                .await?;
        }
        Ok(())
    }

    /// The writer runs jobs in the order queued: once an empty job is
    /// answered, every job queued before it has committed or failed.
    async fn flush(&self) -> Result<(), StoreError> {
        self.writer.write(|_| Ok::<_, StoreError>(())).await
    }

    async fn config_version(&self) -> Result<i64, StoreError> {
        self.readers.read(admin::config_version).await
    }

    async fn merchants(&self) -> Result<Vec<MerchantRecord>, StoreError> {
        self.readers.read(admin::merchants).await
    }

    async fn add_merchant(&self, id: &MerchantId, key: StoredKey) -> Result<(), AdminError> {
        let id = id.clone();
        self.writer
            .write(move |connection| admin::add_merchant(connection, &id, &key))
            .await
    }

    async fn add_key(&self, id: &MerchantId, key: StoredKey) -> Result<(), AdminError> {
        let id = id.clone();
        self.writer
            .write(move |connection| admin::add_key(connection, &id, &key))
            .await
    }

    async fn remove_key(&self, id: &MerchantId, key_id: &str) -> Result<(), AdminError> {
        let (id, key_id) = (id.clone(), key_id.to_owned());
        self.writer
            .write(move |connection| admin::remove_key(connection, &id, &key_id))
            .await
    }

    async fn set_status(&self, id: &MerchantId, status: MerchantStatus) -> Result<(), AdminError> {
        let id = id.clone();
        self.writer
            .write(move |connection| admin::set_status(connection, &id, status))
            .await
    }

    async fn identity_keys(&self) -> Result<Vec<IdentityKeyRecord>, StoreError> {
        self.readers.read(identity_keys::identity_keys).await
    }

    async fn add_identity_key(
        &self,
        key: IdentityKeyRecord,
        only_if_none: bool,
    ) -> Result<bool, StoreError> {
        self.writer
            .write(move |connection| {
                Ok::<_, StoreError>(identity_keys::add_identity_key(
                    connection,
                    &key,
                    only_if_none,
                )?)
            })
            .await
    }

    async fn remove_identity_keys_before(&self, created_before: i64) -> Result<u64, StoreError> {
        self.writer
            .write(move |connection| {
                Ok::<_, StoreError>(identity_keys::remove_identity_keys_before(
                    connection,
                    created_before,
                )?)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use payfac_domain::{Nonce, SecretHash};

    /// Where the process may raise a thread's priority (root here), the
    /// writer thread runs at nice −10; elsewhere at the process's nice.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn the_writer_thread_asks_for_a_higher_priority() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("nice.db");
        let store = SqliteStore::open(path.to_str().unwrap()).await.unwrap();
        // A job answered means the thread has started (and set its priority).
        store.purge_expired(0, 1).await.unwrap();
        let may_raise = std::thread::spawn(|| {
            let me = rustix::thread::gettid();
            rustix::process::setpriority_process(Some(me), -1).is_ok()
        })
        .join()
        .unwrap();
        let expected = if may_raise { -10 } else { 0 };
        let mut writers = 0;
        for task in std::fs::read_dir("/proc/self/task").unwrap() {
            let task = task.unwrap().path();
            let name = std::fs::read_to_string(task.join("comm")).unwrap_or_default();
            if name.trim() != "sqlite-writer" {
                continue;
            }
            // Field 19 of stat is the nice value; the name (field 2) has
            // no spaces here, so splitting on whitespace is safe.
            let stat = std::fs::read_to_string(task.join("stat")).unwrap();
            let nice: i32 = stat.split_whitespace().nth(18).unwrap().parse().unwrap();
            assert_eq!(nice, expected, "{}", task.display());
            writers += 1;
        }
        assert!(writers >= 1, "no sqlite-writer thread found");
    }

    /// Issue #19: the database and its `-wal` and `-shm` files hold
    /// buyers' emails and names: 0600 whatever the umask (the usual 022
    /// made them 0644), and a file an older release left 0644 is narrowed.
    #[cfg(unix)]
    #[tokio::test]
    async fn database_files_are_readable_by_their_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let mode =
            |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("private.db");
        let store = SqliteStore::open(path.to_str().unwrap()).await.unwrap();
        store.purge_expired(0, 1).await.unwrap();
        for suffix in ["", "-wal", "-shm"] {
            let file = PathBuf::from(format!("{}{suffix}", path.display()));
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }
        drop(store);

        let older = directory.path().join("older.db");
        Connection::open(&older).unwrap();
        std::fs::set_permissions(&older, std::fs::Permissions::from_mode(0o644)).unwrap();
        let _store = SqliteStore::open(older.to_str().unwrap()).await.unwrap();
        assert_eq!(mode(&older), 0o600);
    }

    /// A database of schema version 1 keeps its live nonces through the
    /// move to the nonce log: a replay after the upgrade is still refused.
    #[tokio::test]
    async fn upgrade_keeps_live_nonces() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("v1.db");
        let connection = Connection::open(&path).unwrap();
        connection.execute_batch(MIGRATIONS[0]).unwrap();
        connection.pragma_update(None, "user_version", 1).unwrap();
        connection
            .execute_batch(
                "INSERT INTO nonces VALUES ('M1', 'abcdef', 2000000000);
                 INSERT INTO nonces VALUES ('M1', 'expired', 1000);",
            )
            .unwrap();
        drop(connection);

        let store = SqliteStore::open(path.to_str().unwrap()).await.unwrap();
        let request = |nonce: &str| SyncRequest {
            merchant: MerchantId::parse("M1").unwrap(),
            nonce: Nonce::parse(nonce).unwrap(),
            signed_at: 1_900_000_000,
            window: 300,
            profile: payfac_domain::BuyerProfile {
                merchant_user_no: payfac_domain::MerchantUserNo::parse("U1").unwrap(),
                email: payfac_domain::Email::parse("buyer@example.com").unwrap(),
                first_name: None,
                last_name: None,
            },
            new_user_id: crate::new_user_id(),
            code_hash: SecretHash::of("secret"),
            code_expires_at: 2_000_000_000,
            now: 1_900_000_000,
        };
        let replay = store.sync_user(request("abcdef")).await.unwrap();
        assert_eq!(replay, SyncOutcome::NonceReused);
        let reused = store.sync_user(request("expired")).await.unwrap();
        assert!(matches!(reused, SyncOutcome::Issued { .. }), "{reused:?}");
    }
}
