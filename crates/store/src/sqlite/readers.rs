//! Reader connections. WAL lets them read while the writer writes; each
//! read runs on the blocking pool so the async runtime never waits on disk.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags};

use crate::StoreError;

/// Idle connections kept for reuse; more are opened under load and
/// dropped afterwards.
const KEEP_IDLE: usize = 8;

#[derive(Clone)]
pub(crate) struct Readers {
    path: Arc<PathBuf>,
    idle: Arc<Mutex<Vec<Connection>>>,
}

impl Readers {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path: Arc::new(path),
            idle: Arc::default(),
        }
    }

    pub(crate) async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    ) -> Result<T, StoreError> {
        let readers = self.clone();
        tokio::task::spawn_blocking(move || {
            let connection = readers.take()?;
            let result = work(&connection);
            readers.give_back(connection);
            Ok(result?)
        })
        .await
        .map_err(|error| StoreError::Unavailable(error.to_string()))?
    }

    fn take(&self) -> Result<Connection, rusqlite::Error> {
        if let Some(connection) = self.idle.lock().expect("reader pool lock").pop() {
            return Ok(connection);
        }
        let connection = Connection::open_with_flags(
            self.path.as_ref(),
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(connection)
    }

    fn give_back(&self, connection: Connection) {
        let mut idle = self.idle.lock().expect("reader pool lock");
        if idle.len() < KEEP_IDLE {
            idle.push(connection);
        }
    }
}
