//! A fresh database of either store for one test, and
//! [`on_both_stores!`](crate::on_both_stores), which writes a test once and
//! runs it on each.
//!
//! The SQLite database is a file in a temporary directory; the PostgreSQL
//! one a [`TestDatabase`] on the server `PAYFAC_TEST_POSTGRES_URL` names.
//! Dropping the guard deletes either, also when the test panicked.

use std::path::PathBuf;

use crate::postgres::TestDatabase;

/// Which store a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// One test's database; see the module doc.
pub struct TestBackend {
    /// Its URL, for `payfac_store::open` or `--database-url`.
    pub url: String,
    database: Database,
}

enum Database {
    Sqlite(tempfile::TempDir),
    Postgres(TestDatabase),
}

impl TestBackend {
    /// A new, empty database of `backend`.
    pub async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => Self::sqlite(),
            Backend::Postgres => Self::postgres().await,
        }
    }

    /// A new SQLite file in a temporary directory (created on first open).
    pub fn sqlite() -> Self {
        let directory = tempfile::Builder::new()
            .prefix("payfac-sqlite-")
            .tempdir()
            .expect("a temporary directory");
        let url = format!("sqlite://{}", directory.path().join("payfac.db").display());
        Self {
            url,
            database: Database::Sqlite(directory),
        }
    }

    /// A new database on the PostgreSQL server of the tests.
    pub async fn postgres() -> Self {
        let database = TestDatabase::create().await;
        Self {
            url: database.url.clone(),
            database: Database::Postgres(database),
        }
    }

    pub fn backend(&self) -> Backend {
        match self.database {
            Database::Sqlite(_) => Backend::Sqlite,
            Database::Postgres(_) => Backend::Postgres,
        }
    }

    /// The PostgreSQL database, for tests that need sessions or a proxy
    /// of their own; `None` on SQLite.
    pub fn postgres_database(&self) -> Option<&TestDatabase> {
        match &self.database {
            Database::Postgres(database) => Some(database),
            Database::Sqlite(_) => None,
        }
    }

    /// The SQLite file, for tests that open it behind the store's back;
    /// `None` on PostgreSQL.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        match &self.database {
            Database::Sqlite(directory) => Some(directory.path().join("payfac.db")),
            Database::Postgres(_) => None,
        }
    }

    /// Rows in `table`, read behind the store's back.
    pub async fn count(&self, table: &str) -> i64 {
        self.number(&format!("SELECT count(*) FROM {table}")).await
    }

    /// The one integer `sql` answers, read behind the store's back.
    pub async fn number(&self, sql: &str) -> i64 {
        match &self.database {
            Database::Sqlite(directory) => {
                let (path, sql) = (directory.path().join("payfac.db"), sql.to_owned());
                tokio::task::spawn_blocking(move || {
                    rusqlite::Connection::open(path)
                        .expect("open the SQLite file")
                        .query_row(&sql, [], |row| row.get(0))
                        .expect("read a number")
                })
                .await
                .expect("the reading task")
            }
            Database::Postgres(database) => database
                .connect()
                .await
                .query_one(sql, &[])
                .await
                .expect("read a number")
                .get(0),
        }
    }
}

/// Writes each test once and runs it on both stores: a module per test
/// with the tests `sqlite` and `postgres`, the latter `#[ignore]`d with
/// the reason (run with `--include-ignored` and `PAYFAC_TEST_POSTGRES_URL`
/// set, as scripts/test.sh does), so a plain `cargo test` reports it as
/// not run, never as passed. `fixture` is an async function from a
/// [`Backend`] to what the tests take; each run gets a fresh one.
///
/// Two forms: names of `async fn name(fixture)` defined beside it,
///
/// ```ignore
/// on_both_stores!(fixture: AdminApp::on; tokens_guard_every_route, audit_trail);
/// ```
///
/// or the tests themselves, each taking the fixture by reference:
///
/// ```ignore
/// on_both_stores! {
///     fixture: TestStore::on;
///     /// A valid code signs in once.
///     async fn code_signs_in_once(t: &TestStore) { … }
/// }
/// ```
#[macro_export]
macro_rules! on_both_stores {
    (fixture: $fixture:path; $($name:ident),+ $(,)?) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let fixture = $fixture($crate::backend::Backend::Sqlite).await;
                super::$name(fixture).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            #[ignore = "needs PostgreSQL at PAYFAC_TEST_POSTGRES_URL; scripts/test.sh runs it"]
            async fn postgres() {
                let fixture = $fixture($crate::backend::Backend::Postgres).await;
                super::$name(fixture).await;
            }
        }
    )+};
    (fixture: $fixture:path; $(
        $(#[doc = $doc:literal])*
        async fn $name:ident($t:ident: &$fixture_type:ty) $body:block
    )*) => {$(
        $(#[doc = $doc])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn behaviour($t: &$fixture_type) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                behaviour(&$fixture($crate::backend::Backend::Sqlite).await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            #[ignore = "needs PostgreSQL at PAYFAC_TEST_POSTGRES_URL; scripts/test.sh runs it"]
            async fn postgres() {
                behaviour(&$fixture($crate::backend::Backend::Postgres).await).await;
            }
        }
    )*};
}
