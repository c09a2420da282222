//! Issue #19: connection limits. Every socket here is on 127.0.0.1 and
//! their number is bounded (at most 65).

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, spawn_app_with};

async fn connect(app: &TestApp) -> TcpStream {
    let address = app.address.trim_start_matches("http://");
    TcpStream::connect(address).await.unwrap()
}

/// Reads (and drops) whatever arrives until the server closes the
/// connection; how long that took, or `None` if it is still open after
/// `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buffer = [0u8; 1024];
    loop {
        let left = limit.checked_sub(started.elapsed())?;
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

/// A connection that sends nothing, one that sends half a request head,
/// and one idle after its response are all closed once the header read
/// timeout (1 s here) has passed.
#[tokio::test]
async fn silent_slow_and_idle_connections_are_closed_after_the_header_timeout() {
    let app = spawn_app_with(|config| config.header_read_timeout = Duration::from_secs(1)).await;
    let mut silent = connect(&app).await;
    let mut slow = connect(&app).await;
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    let mut idle = connect(&app).await;
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    while !response.ends_with(b"ok") {
        let mut buffer = [0u8; 1024];
        let read = idle.read(&mut buffer).await.unwrap();
        assert!(read > 0, "closed before answering");
        response.extend_from_slice(&buffer[..read]);
    }
    assert!(response.starts_with(b"HTTP/1.1 200"), "{response:?}");
    for (name, stream) in [
        ("silent", &mut silent),
        ("slow", &mut slow),
        ("idle", &mut idle),
    ] {
        let closed = closed_within(stream, Duration::from_secs(5)).await;
        assert!(
            closed.is_some(),
            "the {name} connection is still open after 5 s"
        );
    }
}

/// With the cap at 16, 64 idle sockets do not keep `/healthz` out: the
/// idlest connections are closed to make room (the header timeout, 30 s
/// here, does not come into it), and the server never holds more than 16.
#[tokio::test]
async fn at_the_connection_cap_idle_connections_make_room_for_healthz() {
    const CAP: usize = 16;
    const IDLE: usize = 64;
    let app = spawn_app_with(|config| {
        config.max_connections = CAP;
        config.header_read_timeout = Duration::from_secs(30);
    })
    .await;
    let mut idle = Vec::with_capacity(IDLE);
    for _ in 0..IDLE {
        idle.push(connect(&app).await);
    }
    let started = Instant::now();
    let healthz = tokio::time::timeout(
        Duration::from_secs(5),
        app.http.get(format!("{}/healthz", app.address)).send(),
    )
    .await
    .expect("/healthz answers under the flood")
    .unwrap();
    assert_eq!(healthz.status(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let mut closed = 0;
    for stream in &mut idle {
        if closed_within(stream, Duration::from_millis(200))
            .await
            .is_some()
        {
            closed += 1;
        }
    }
    assert!(
        closed >= IDLE + 1 - CAP,
        "only {closed} of {IDLE} idle connections were closed"
    );
}
