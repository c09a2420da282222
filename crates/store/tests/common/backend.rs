//! A store on a database of its own, plus the raw access the behaviour
//! tests need to check what was (not) written.

use std::sync::Arc;

use payfac_store::Store;

use super::postgres::TestDatabase;

pub struct TestStore {
    pub store: Arc<dyn Store>,
    url: String,
    // Dropped after `store`: the database outlives the pool using it.
    database: Database,
}

enum Database {
    Sqlite(tempfile::TempDir),
    Postgres(TestDatabase),
}

impl TestStore {
    /// A store on a new SQLite file in a temporary directory.
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}", dir.path().join("payfac.db").display());
        let store = payfac_store::open(&url).await.expect("open SQLite store");
        Self {
            store,
            url,
            database: Database::Sqlite(dir),
        }
    }

    /// A store on a new PostgreSQL database (`PAYFAC_TEST_POSTGRES_URL`).
    pub async fn postgres() -> Self {
        let database = TestDatabase::create().await;
        let url = database.url.clone();
        let store = payfac_store::open(&url)
            .await
            .expect("open PostgreSQL store");
        Self {
            store,
            url,
            database: Database::Postgres(database),
        }
    }

    /// Another store on the same database, as a second service instance
    /// would open it.
    pub async fn another_instance(&self) -> Arc<dyn Store> {
        payfac_store::open(&self.url)
            .await
            .expect("open a second instance")
    }

    /// The PostgreSQL database behind the store, for tests that need
    /// sessions of their own; `None` on SQLite.
    pub fn postgres_database(&self) -> Option<&TestDatabase> {
        match &self.database {
            Database::Postgres(database) => Some(database),
            Database::Sqlite(_) => None,
        }
    }

    /// Rows in `table`, read behind the store's back.
    pub async fn count(&self, table: &str) -> i64 {
        self.number(&format!("SELECT count(*) FROM {table}")).await
    }

    /// The one integer `sql` answers, read behind the store's back.
    pub async fn number(&self, sql: &str) -> i64 {
        let sql = sql.to_owned();
        match &self.database {
            Database::Sqlite(dir) => {
                let path = dir.path().join("payfac.db");
                tokio::task::spawn_blocking(move || {
                    let connection = rusqlite::Connection::open(path).expect("open SQLite file");
                    connection
                        .query_row(&sql, [], |row| row.get(0))
                        .expect("read a number")
                })
                .await
                .expect("count task")
            }
            Database::Postgres(database) => {
                let client = database.connect().await;
                client
                    .query_one(sql.as_str(), &[])
                    .await
                    .expect("read a number")
                    .get(0)
            }
        }
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
