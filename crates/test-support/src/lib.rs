//! Test support shared by every crate of the workspace, as a
//! dev-dependency only: the project's signature vectors, a fresh
//! database of either store per test and the macro that runs a test on
//! both, a throwaway PostgreSQL cluster of a test's own, a TCP proxy a
//! test can cut, a `payfac serve` child process, and waiting for what a
//! test can observe (a condition, calls in a queue) instead of sleeping
//! for a guess.
//!
//! One home for each, so that a change to how tests find the vectors or
//! the database server is made once.

#[cfg(feature = "app")]
pub mod app;
pub mod backend;
pub mod cluster;
pub mod postgres;
pub mod proxy;
pub mod queue;
pub mod serve;
pub mod vectors;

/// A free TCP port on 127.0.0.1, for a child process to bind. Another
/// process can take it before the child does; callers that start servers
/// retry with a new port when the bind fails.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free local port")
}

/// Current Unix time in seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .expect("clock after 1970")
}

/// Polls `check` every 20 ms until it holds or `limit` passes; whether it
/// held. Tests order events by what they can observe with this, never by
/// a fixed sleep.
pub async fn eventually<F, Fut>(limit: std::time::Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
