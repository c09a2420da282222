//! A store on a database of its own (test-support's `TestBackend`), plus
//! the raw access the behaviour tests need to check what was (not)
//! written.

use std::sync::Arc;

use payfac_store::Store;
use payfac_test_support::backend::{Backend, TestBackend};

pub struct TestStore {
    pub store: Arc<dyn Store>,
    // Dropped after `store`: the database outlives the pool using it.
    backend: TestBackend,
}

impl TestStore {
    /// A store on a new database of `backend`: the fixture of
    /// `on_both_stores!`.
    pub async fn on(backend: Backend) -> Self {
        let backend = TestBackend::new(backend).await;
        let store = payfac_store::open(&backend.url)
            .await
            .unwrap_or_else(|error| panic!("open the {:?} store: {error}", backend.backend()));
        Self { store, backend }
    }

    /// A store on a new PostgreSQL database (`PAYFAC_TEST_POSTGRES_URL`).
    pub async fn postgres() -> Self {
        Self::on(Backend::Postgres).await
    }

    /// Another store on the same database, as a second service instance
    /// would open it.
    pub async fn another_instance(&self) -> Arc<dyn Store> {
        payfac_store::open(&self.backend.url)
            .await
            .expect("open a second instance")
    }

    /// `(nonces, buyers, codes, sessions)`, to show that something wrote
    /// nothing.
    pub async fn counts(&self) -> [i64; 4] {
        [
            self.count("nonces").await,
            self.count("buyers").await,
            self.count("codes").await,
            self.count("sessions").await,
        ]
    }
}

/// The database's own accessors (`count`, `number`, `postgres_database`,
/// `sqlite_path`) on the store's fixture.
impl std::ops::Deref for TestStore {
    type Target = TestBackend;

    fn deref(&self) -> &TestBackend {
        &self.backend
    }
}
