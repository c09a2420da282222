//! A fresh PostgreSQL database per test (as crates.io's test databases),
//! on the server `PAYFAC_TEST_POSTGRES_URL` names, dropped afterwards.

use payfac_domain::random_alphanumeric;
use tokio_postgres::{Client, NoTls};

/// Guard of one test database: dropping it drops the database, also when
/// the test panicked, and also while the store still holds connections.
pub struct TestDatabase {
    admin_url: String,
    name: String,
    /// The test database's URL, for `payfac_store::open`.
    pub url: String,
}

impl TestDatabase {
    /// `None` when `PAYFAC_TEST_POSTGRES_URL` is not set: the PostgreSQL
    /// variant of each behaviour is then skipped.
    pub async fn create() -> Option<Self> {
        let Some(admin_url) = admin_url() else {
            eprintln!("PAYFAC_TEST_POSTGRES_URL is not set: PostgreSQL test skipped");
            return None;
        };
        let name = format!("payfac_test_{}", random_alphanumeric(16).to_lowercase());
        connect(&admin_url)
            .await
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create the test database");
        let url = with_path(&admin_url, &name);
        Some(Self {
            admin_url,
            name,
            url,
        })
    }

    /// A plain connection to the test database, behind the store's back.
    pub async fn connect(&self) -> Client {
        connect(&self.url).await
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // A runtime of its own on a thread of its own: `drop` cannot await,
        // and may run while the test's runtime is unwinding a panic.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime for dropping the test database");
            runtime.block_on(async {
                let client = connect(&admin_url).await;
                client.batch_execute(&sql).await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}

pub fn admin_url() -> Option<String> {
    std::env::var("PAYFAC_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.is_empty())
}

pub async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .expect("connect to PostgreSQL");
    tokio::spawn(connection);
    client
}

/// `url` with its database (the path) replaced; the query is kept.
pub fn with_path(url: &str, database: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, ""), |(b, q)| (b, q));
    let authority_start = base.find("://").expect("a URL") + 3;
    let authority_end = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    format!("{}/{database}{query}", &base[..authority_end])
}

/// `url` with its `host:port` replaced; user, database and query are kept.
pub fn with_address(url: &str, address: &str) -> String {
    let authority_start = url.find("://").expect("a URL") + 3;
    let rest = &url[authority_start..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let host_start = rest[..authority_end].rfind('@').map_or(0, |at| at + 1);
    format!(
        "{}{}{address}{}",
        &url[..authority_start],
        &rest[..host_start],
        &rest[authority_end..]
    )
}

/// The TCP address of the server `url` names, or `None` for a socket path.
pub async fn tcp_address(url: &str) -> Option<std::net::SocketAddr> {
    let config: tokio_postgres::Config = url.parse().expect("a PostgreSQL URL");
    let target = match (&config.get_hosts()[0], config.get_ports().first()) {
        (tokio_postgres::config::Host::Tcp(host), port) => {
            format!("{host}:{}", port.copied().unwrap_or(5432))
        }
        _ => return None,
    };
    tokio::net::lookup_host(&target).await.ok()?.next()
}
