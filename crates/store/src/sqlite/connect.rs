//! Opening the database file and configuring its connections; the
//! readiness probe, and telling constraint violations apart.
//!
//! The file holds buyers' emails and names, so it is created readable by
//! its owner only. The writer's connection gets WAL mode and a large page
//! cache, and checkpoints run on a thread of their own rather than inside
//! the writer's `COMMIT` (docs/PERFORMANCE.md).

use std::path::{Path, PathBuf};

use rusqlite::{Connection, ErrorCode, OpenFlags};

use super::SqliteStore;
use super::migrate::{MIGRATIONS, migrate, pending, version};
use super::readers::Readers;
use super::writer::Writer;
use crate::{Migration, SchemaStatus, StoreError};

impl SqliteStore {
    /// Opens (creating if missing) the database file and migrates it.
    pub async fn open(path: &str) -> Result<Self, StoreError> {
        let path = file_path(path);
        let opened = path.clone();
        let connection = tokio::task::spawn_blocking(move || open_migrated(&opened))
            .await
            .map_err(|error| StoreError::Unavailable(error.to_string()))??
            .0;
        Ok(Self {
            _checkpointer: spawn_checkpointer(path.clone()),
            writer: Writer::start(connection),
            readers: Readers::new(path.clone()),
            path,
        })
    }

    /// Copies the whole WAL into the database and truncates it to zero
    /// bytes, so rows deleted (and zeroed, `secure_delete`) before the call
    /// are in neither file any more. Waits for readers and the writer
    /// (busy timeout); `false` when one held on past it.
    pub(super) async fn truncate_wal(&self) -> Result<bool, StoreError> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || -> Result<bool, StoreError> {
            let connection = Connection::open(&path)?;
            configure(&connection)?;
            let busy: i64 =
                connection.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))?;
            Ok(busy == 0)
        })
        .await
        .map_err(|error| StoreError::Unavailable(error.to_string()))?
    }
}

/// The file a `sqlite://` URL's path names: the part before any `?`.
pub(crate) fn file_path(path: &str) -> PathBuf {
    PathBuf::from(path.split('?').next().unwrap_or(path))
}

/// The writer's connection to the file (created if missing, 0600),
/// configured and migrated; and the migrations it applied.
fn open_migrated(path: &Path) -> Result<(Connection, Vec<Migration>), StoreError> {
    restrict_access(path)?;
    let mut connection = Connection::open(path)?;
    configure(&connection)?;
    wait_for_locks_finely(&mut connection)?;
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
    // Deleted rows are overwritten with zeros, not left in free space: an
    // erased buyer's email and names must not stay in the file
    // (`erase_buyer` also empties the WAL afterwards).
    connection.pragma_update(None, "secure_delete", "ON")?;
    let applied = migrate(&connection)?;
    Ok((connection, applied))
}

/// `payfac migrate`: applies the pending migrations to the file.
pub(crate) fn apply_migrations(path: &str) -> Result<Vec<Migration>, StoreError> {
    open_migrated(&file_path(path)).map(|(_, applied)| applied)
}

/// `payfac migrate --check`: the file's schema version, read without
/// writing (the caller has checked that the file exists).
pub(crate) fn schema_status(path: &str) -> Result<SchemaStatus, StoreError> {
    let connection = Connection::open_with_flags(
        file_path(path),
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    configure(&connection)?;
    let current = version(&connection)?;
    Ok(SchemaStatus {
        current,
        latest: MIGRATIONS.len() as i64,
        pending: pending(current),
    })
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
            let Ok(mut connection) = Connection::open(&path) else {
                return;
            };
            if configure(&connection).is_err() || wait_for_locks_finely(&mut connection).is_err() {
                return;
            }
            let second = std::time::Duration::from_secs(1);
            let wal = PathBuf::from(format!("{}-wal", path.display()));
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(second)
            {
                // PASSIVE keeps up without blocking anyone, but under
                // continuous writes the WAL can never restart from its
                // beginning; past the size limit a RESTART checkpoint
                // holds the writer off once, so the file stays bounded.
                // RESTART copies what PASSIVE has not and syncs the
                // database file while the writer waits, so PASSIVE runs
                // first and leaves it only the frames of the last moments:
                // alone, RESTART held the writer 10–90 ms (issue 31).
                let oversized =
                    || std::fs::metadata(&wal).is_ok_and(|m| m.len() > WAL_RESTART_BYTES);
                let mut modes = vec!["PASSIVE"];
                if oversized() {
                    modes.push("RESTART");
                }
                for mode in modes {
                    let sql = format!("PRAGMA wal_checkpoint({mode})");
                    if let Err(error) = connection.query_row(&sql, [], |_| Ok(())) {
                        tracing::warn!(%error, "WAL checkpoint failed");
                    }
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
pub(super) fn configure(connection: &Connection) -> Result<(), rusqlite::Error> {
    connection.busy_timeout(std::time::Duration::from_secs(5))?;
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

/// Longest wait for a lock another connection holds (the writer's, the
/// checkpointer's) before giving up with `SQLITE_BUSY`, as `configure`'s
/// `busy_timeout`.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
/// How often `wait_for_locks_finely` tries again.
const LOCK_POLL: std::time::Duration = std::time::Duration::from_micros(100);

/// For the writer and the checkpointer, which wait on each other: the same
/// 5 s as `busy_timeout`, but trying again every 100 µs. SQLite's own
/// handler sleeps 1, 2, 5, 10, 15, 20, 25 … ms between tries, so a lock
/// released after 9 ms cost the writer 18 ms, and each request waiting on
/// it as much (issue 31, docs/PERFORMANCE.md "Tail latency").
fn wait_for_locks_finely(connection: &mut Connection) -> Result<(), rusqlite::Error> {
    let mut since = std::time::Instant::now();
    connection.busy_handler(Some(move |attempt: i32| {
        if attempt == 0 {
            since = std::time::Instant::now();
        }
        if since.elapsed() >= LOCK_WAIT {
            return false;
        }
        std::thread::sleep(LOCK_POLL);
        true
    }))
}

/// A read on a reader connection and, while the last batch has not
/// committed, a write through the writer.
pub(super) async fn ping(readers: &Readers, writer: &Writer) -> Result<(), StoreError> {
    readers
        .read(|connection| connection.query_row("SELECT 1", [], |_| Ok(())))
        .await?;
    if !writer.last_batch_committed() {
        // The last batch did not commit (a full disk, an I/O error, a
        // lock held too long): ready again only once a write commits.
        // Rewriting `user_version` with its own value puts one page
        // into the WAL, so the probe needs what a real write needs.
        writer
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

/// True for a constraint violation of the given kind.
pub(super) fn is_constraint(error: &rusqlite::Error, code: i32) -> bool {
    matches!(error, rusqlite::Error::SqliteFailure(e, _)
        if e.code == ErrorCode::ConstraintViolation && e.extended_code == code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;

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
}
