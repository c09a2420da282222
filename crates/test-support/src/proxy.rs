//! A TCP forwarder that a test can cut and restore, to play "the database
//! went away and came back" without stopping the shared server.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
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
    /// Forwarded connections still open.
    open: Arc<AtomicUsize>,
}

/// Counts a forwarded connection as open while its task lives, also when
/// the task is aborted.
struct Open(Arc<AtomicUsize>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
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
            open: Arc::default(),
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

    /// [`Proxy::cut`], then waits until it shows: the port refuses
    /// connections and every forwarded one is closed (an abort takes
    /// effect at the aborted task's next turn). Panics after 5 s.
    pub async fn cut_and_wait(&self) {
        self.cut();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while self.open.load(Ordering::SeqCst) > 0 || TcpStream::connect(self.address).await.is_ok()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the proxy still forwards 5 s after the cut"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Listens on the same port again.
    pub async fn restore(&self) {
        let listener = TcpListener::bind(self.address).await.expect("rebind proxy");
        self.serve(listener);
    }

    fn serve(&self, listener: TcpListener) {
        let (target, latency, tasks) = (self.target, self.latency, Arc::clone(&self.tasks));
        let open = Arc::clone(&self.open);
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                open.fetch_add(1, Ordering::SeqCst);
                let guard = Open(Arc::clone(&open));
                let forward = tokio::spawn(async move {
                    let _open = guard;
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
