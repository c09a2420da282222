//! A TCP forwarder that a test can cut and restore, to play "the database
//! went away and came back" without stopping the shared server.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

pub struct Proxy {
    pub address: SocketAddr,
    target: SocketAddr,
    /// Added to every chunk forwarded, in each direction.
    latency: Duration,
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
}

impl Proxy {
    /// Forwards a fresh local port to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        Self::with_latency(target, Duration::ZERO).await
    }

    /// Forwards a fresh local port to `target`, delaying every chunk by
    /// `latency` each way: a database a few milliseconds away.
    pub async fn with_latency(target: SocketAddr, latency: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let proxy = Self {
            address: listener.local_addr().expect("proxy address"),
            target,
            latency,
            tasks: Arc::default(),
        };
        proxy.serve(listener);
        proxy
    }

    /// Closes the port and every forwarded connection, like a database
    /// server that went down.
    pub fn cut(&self) {
        for task in self.tasks.lock().expect("proxy tasks").drain(..) {
            task.abort();
        }
    }

    /// Listens on the same port again.
    pub async fn restore(&self) {
        let listener = TcpListener::bind(self.address).await.expect("rebind proxy");
        self.serve(listener);
    }

    fn serve(&self, listener: TcpListener) {
        let (target, latency, tasks) = (self.target, self.latency, Arc::clone(&self.tasks));
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let forward = tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    if latency.is_zero() {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        return;
                    }
                    let (from_client, to_client) = inbound.split();
                    let (from_server, to_server) = outbound.split();
                    tokio::join!(
                        delayed_copy(from_client, to_server, latency),
                        delayed_copy(from_server, to_client, latency),
                    );
                });
                tasks
                    .lock()
                    .expect("proxy tasks")
                    .push(forward.abort_handle());
            }
        });
        self.tasks
            .lock()
            .expect("proxy tasks")
            .push(accept.abort_handle());
    }
}

/// Copies until either side closes, each chunk `latency` late.
async fn delayed_copy(
    mut from: impl AsyncReadExt + Unpin,
    mut to: impl AsyncWriteExt + Unpin,
    latency: Duration,
) {
    let mut buffer = vec![0; 64 * 1024];
    while let Ok(read @ 1..) = from.read(&mut buffer).await {
        tokio::time::sleep(latency).await;
        if to.write_all(&buffer[..read]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
    }
}
