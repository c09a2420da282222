//! `payfac backup`: a consistent copy of a live database file through
//! SQLite's online backup API.
//!
//! Copying the `.db` file alone is not a backup: in WAL mode the newest
//! commits live in the `-wal` file until a checkpoint copies them back,
//! and a file copied while the writer works can hold half a commit. The
//! backup API reads through SQLite's own locking instead, as any reader
//! does, and the service keeps serving meanwhile.

use std::path::Path;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use super::connect::{configure, file_path};
use crate::StoreError;

/// What a finished backup holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSummary {
    /// The copy's size in bytes.
    pub bytes: u64,
    /// The schema version it records (`payfac migrate --check` on a
    /// restore compares against it).
    pub schema_version: i64,
}

/// Copies the database at `path` into the new file `out` (0600; an
/// existing file is refused, never overwritten). On failure the partial
/// copy is removed.
pub(crate) fn backup(path: &str, out: &Path) -> Result<BackupSummary, StoreError> {
    let source = Connection::open_with_flags(
        file_path(path),
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    configure(&source)?;
    create_private(out)?;
    let copied = copy(&source, out);
    if copied.is_err() {
        let _ = std::fs::remove_file(out);
    }
    copied
}

fn copy(source: &Connection, out: &Path) -> Result<BackupSummary, StoreError> {
    let mut target = Connection::open(out)?;
    {
        let backup = Backup::new(source, &mut target)?;
        // Every page in one step: the step reads one snapshot of the
        // source, as a WAL reader, while the service's writer goes on
        // committing. Copying in several steps restarts from the first
        // page whenever another connection commits in between, and under
        // steady load would never finish.
        loop {
            match backup.step(-1)? {
                StepResult::Done => break,
                StepResult::More => {}
                _ => std::thread::sleep(std::time::Duration::from_millis(50)),
            }
        }
    }
    let check: String = target.query_row("PRAGMA quick_check", [], |row| row.get(0))?;
    if check != "ok" {
        return Err(StoreError::Unavailable(format!(
            "the copy in {} fails its integrity check: {check}",
            out.display()
        )));
    }
    let schema_version = target.pragma_query_value(None, "user_version", |row| row.get(0))?;
    drop(target);
    let file = std::fs::File::open(out).map_err(|error| io(out, error))?;
    file.sync_all().map_err(|error| io(out, error))?;
    let bytes = file.metadata().map_err(|error| io(out, error))?.len();
    Ok(BackupSummary {
        bytes,
        schema_version,
    })
}

/// The copy holds buyers' data and the service's secrets: owner-only,
/// like the database itself.
fn create_private(out: &Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(out) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(StoreError::Config(format!(
                "{} already exists; give a new file for the backup",
                out.display()
            )))
        }
        Err(error) => Err(io(out, error)),
    }
}

fn io(path: &Path, error: std::io::Error) -> StoreError {
    StoreError::Unavailable(format!("{}: {error}", path.display()))
}
