//! A fresh PostgreSQL database per test (as crates.io's test databases),
//! on the server `PAYFAC_TEST_POSTGRES_URL` names, dropped afterwards.
//!
//! Every test that needs PostgreSQL is `#[ignore]`d with that reason, so a
//! plain `cargo test` reports it as ignored, never as passed. The test
//! command (`scripts/test.sh`) provides a server and runs them with
//! `--include-ignored`; a PostgreSQL test run without a server fails.

use std::net::SocketAddr;

use payfac_domain::random_alphanumeric;
use tokio_postgres::{Client, NoTls};

/// Guard of one test database: dropping it drops the database, also when
/// the test panicked, and also while a store still holds connections.
pub struct TestDatabase {
    admin_url: String,
    name: String,
    /// The test database's URL, for `payfac_store::open` or `--database-url`.
    pub url: String,
}

impl TestDatabase {
    /// A new, empty database on the server `PAYFAC_TEST_POSTGRES_URL`
    /// names; panics without one (see the module doc).
    pub async fn create() -> Self {
        let admin_url = admin_url();
        let name = format!("payfac_test_{}", random_alphanumeric(16).to_lowercase());
        connect(&admin_url)
            .await
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create the test database");
        let url = with_path(&admin_url, &name);
        Self {
            admin_url,
            name,
            url,
        }
    }

    /// A plain connection to the test database, behind the store's back.
    pub async fn connect(&self) -> Client {
        connect(&self.url).await
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The server's `host:port`, for a proxy in front of it.
    pub fn address(&self) -> SocketAddr {
        address(&self.url)
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

/// The server's URL from `PAYFAC_TEST_POSTGRES_URL`; a panic naming the
/// test without it.
pub fn admin_url() -> String {
    let test = std::thread::current()
        .name()
        .unwrap_or("a PostgreSQL test")
        .to_owned();
    std::env::var("PAYFAC_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| {
            panic!(
                "{test} needs PostgreSQL: set PAYFAC_TEST_POSTGRES_URL (scripts/test.sh provides a server)"
            )
        })
}

pub async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .expect("connect to PostgreSQL at PAYFAC_TEST_POSTGRES_URL");
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
    let (start, host_start, end) = authority(url);
    format!(
        "{}{address}{}",
        &url[..start + host_start],
        &url[start + end..]
    )
}

/// The `host:port` a URL names (port 5432 when it names none), resolved.
pub fn address(url: &str) -> SocketAddr {
    let (start, host_start, end) = authority(url);
    let host_port = &url[start + host_start..start + end];
    let with_port = if host_port
        .rsplit_once(':')
        .is_some_and(|(_, port)| port.parse::<u16>().is_ok())
    {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    };
    std::net::ToSocketAddrs::to_socket_addrs(&with_port)
        .ok()
        .and_then(|mut addresses| addresses.next())
        .unwrap_or_else(|| panic!("the test server's address {with_port} resolves"))
}

/// Where the authority begins, and where its host begins and ends relative
/// to that.
fn authority(url: &str) -> (usize, usize, usize) {
    let start = url.find("://").expect("a URL") + 3;
    let rest = &url[start..];
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let host_start = rest[..end].rfind('@').map_or(0, |at| at + 1);
    (start, host_start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_rewritten_part_by_part() {
        let url = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable";
        assert_eq!(
            with_path(url, "t1"),
            "postgres://postgres@127.0.0.1:5432/t1?sslmode=disable"
        );
        assert_eq!(
            with_address(url, "127.0.0.1:6000"),
            "postgres://postgres@127.0.0.1:6000/postgres?sslmode=disable"
        );
        assert_eq!(address(url), "127.0.0.1:5432".parse().unwrap());
        assert_eq!(
            address("postgres://u@127.0.0.1/db"),
            "127.0.0.1:5432".parse().unwrap()
        );
    }
}
