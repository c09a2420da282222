//! The HTTP/1.1 accept loop, with limits on what a connection may hold.
//!
//! `axum::serve` sets no timer on hyper, so a socket that sends nothing, a
//! request head one byte at a time, or nothing after its last response
//! stayed open for ever; ~20,000 of them exhausted the file descriptors
//! and the server stopped accepting. Here:
//!
//! - hyper's `header_read_timeout` closes a connection that has not sent
//!   a complete request head within the timeout, counted from the moment
//!   the server waits for one: from the accept, or from the end of the
//!   previous response. One timer so covers silent, slow-header and idle
//!   keep-alive connections.
//! - At most `max_connections` are open at once (and never more than the
//!   file-descriptor limit allows). At the cap, the connection idle the
//!   longest — one with no request being handled — is closed to make room,
//!   so a flood of idle sockets cannot keep `/healthz` or a buyer out; only
//!   when every connection is handling a request does accepting wait.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use axum::response::Response;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore, watch};

/// Descriptors kept free for everything but client connections: database
/// connections, the SQLite files, logs.
const RESERVED_DESCRIPTORS: u64 = 256;

/// What serves one connection's requests: a router, or a front end's
/// service around one.
pub trait ConnectionService:
    tower::Service<Request<Body>, Response = Response, Error = Infallible, Future: Send + 'static>
    + Clone
    + Send
    + 'static
{
}

impl<S> ConnectionService for S where
    S: tower::Service<
            Request<Body>,
            Response = Response,
            Error = Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + 'static
{
}

/// Limits of the accept loop.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
}

/// One open connection, as the accept loop sees it.
struct Tracked {
    /// Requests being handled now.
    in_flight: AtomicUsize,
    /// When a request last started or ended, in ms since `epoch`.
    last_active_ms: AtomicU64,
    /// Asked to close (it was the idlest at the cap).
    evict: Notify,
    /// Already asked: not picked again.
    evicted: std::sync::atomic::AtomicBool,
}

#[derive(Default)]
struct Registry {
    next_id: u64,
    open: HashMap<u64, Arc<Tracked>>,
}

/// Serves `listener` until `shutdown` resolves, then lets the open
/// requests finish. Each connection gets its own service from
/// `for_connection`, told the peer's address: the features decide what a
/// connection holds (gateway mode, its upstream link); this loop knows
/// none of them. Every request carries the peer as axum's `ConnectInfo`.
pub async fn serve<S: ConnectionService>(
    listener: TcpListener,
    for_connection: impl Fn(std::net::SocketAddr) -> S,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let cap = descriptor_cap(limits.max_connections);
    let permits = Arc::new(Semaphore::new(cap));
    let registry = Arc::new(Mutex::new(Registry::default()));
    let epoch = Instant::now();
    let (stop, stopped) = watch::channel(false);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let builder = Arc::new(builder);
    tokio::pin!(shutdown);
    'accepting: loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors or memory: pause instead of spinning.
                    tracing::error!(%error, "accept error");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break 'accepting,
        };
        // At the cap, the idlest connection is asked to close to make room
        // for the one just accepted; another is asked every 100 ms while
        // none frees its place (all busy, or one just started a request).
        let permit = loop {
            if let Ok(permit) = permits.clone().try_acquire_owned() {
                break permit;
            }
            evict_idlest(&registry);
            tokio::select! {
                permit = permits.clone().acquire_owned() => break permit.expect("never closed"),
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
                () = &mut shutdown => break 'accepting,
            }
        };
        let _ = stream.set_nodelay(true);
        let tracked = Arc::new(Tracked {
            in_flight: AtomicUsize::new(0),
            last_active_ms: AtomicU64::new(millis_since(epoch)),
            evict: Notify::new(),
            evicted: std::sync::atomic::AtomicBool::new(false),
        });
        let id = {
            let mut registry = registry.lock().expect("connection registry");
            registry.next_id += 1;
            let id = registry.next_id;
            registry.open.insert(id, tracked.clone());
            id
        };
        metrics::gauge!("payfac_connections_open").increment(1.0);
        let service = TowerToHyperService::new(Counted {
            inner: for_connection(peer),
            tracked: tracked.clone(),
            peer,
            epoch,
        });
        let (builder, registry, mut stopped) = (builder.clone(), registry.clone(), stopped.clone());
        tokio::spawn(async move {
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            loop {
                tokio::select! {
                    _ = connection.as_mut() => break,
                    () = tracked.evict.notified() => {
                        // Only if it is still idle; else it stays, and may
                        // be picked again later.
                        if tracked.in_flight.load(Ordering::Acquire) == 0 {
                            break;
                        }
                        tracked.evicted.store(false, Ordering::Relaxed);
                    }
                    _ = stopped.changed() => {
                        connection.as_mut().graceful_shutdown();
                        let _ = connection.as_mut().await;
                        break;
                    }
                }
            }
            registry
                .lock()
                .expect("connection registry")
                .open
                .remove(&id);
            metrics::gauge!("payfac_connections_open").decrement(1.0);
            drop(permit);
        });
    }
    drop(listener);
    let _ = stop.send(true);
    // Every connection holds a permit until it ends.
    let _ = permits.acquire_many(cap as u32).await;
    Ok(())
}

/// Asks the connection idle the longest (no request in flight) to close.
fn evict_idlest(registry: &Mutex<Registry>) {
    let registry = registry.lock().expect("connection registry");
    let idlest = registry
        .open
        .values()
        .filter(|tracked| {
            tracked.in_flight.load(Ordering::Acquire) == 0
                && !tracked.evicted.load(Ordering::Relaxed)
        })
        .min_by_key(|tracked| tracked.last_active_ms.load(Ordering::Relaxed));
    if let Some(tracked) = idlest {
        metrics::counter!("payfac_connections_evicted_total").increment(1);
        tracked.evicted.store(true, Ordering::Relaxed);
        tracked.evict.notify_one();
    }
}

/// `max_connections`, lowered to what the file-descriptor limit allows
/// (after raising the soft limit to the hard one, as Go's runtime does).
fn descriptor_cap(max_connections: usize) -> usize {
    let max_connections = max_connections.max(1);
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{Resource, getrlimit, setrlimit};
        let mut limit = getrlimit(Resource::Nofile);
        if limit.current < limit.maximum {
            let raised = rustix::process::Rlimit {
                current: limit.maximum,
                maximum: limit.maximum,
            };
            if setrlimit(Resource::Nofile, raised).is_ok() {
                limit = getrlimit(Resource::Nofile);
            }
        }
        if let Some(current) = limit.current {
            let allowed = current.saturating_sub(RESERVED_DESCRIPTORS).max(1) as usize;
            if allowed < max_connections {
                tracing::warn!(
                    max_connections,
                    allowed,
                    "the open-file limit allows fewer connections; using that"
                );
                return allowed;
            }
        }
    }
    max_connections
}

fn millis_since(epoch: Instant) -> u64 {
    epoch.elapsed().as_millis() as u64
}

/// A connection's service, counting the requests it is handling.
#[derive(Clone)]
struct Counted<S> {
    inner: S,
    tracked: Arc<Tracked>,
    epoch: Instant,
    /// The client's address, for handlers as axum's `ConnectInfo`.
    peer: std::net::SocketAddr,
}

impl<S: ConnectionService> tower::Service<Request<hyper::body::Incoming>> for Counted<S> {
    type Response = Response;
    type Error = Infallible;
    type Future = std::pin::Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<hyper::body::Incoming>) -> Self::Future {
        let busy = Busy::start(self.tracked.clone(), self.epoch);
        let mut request = request.map(Body::new);
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(self.peer));
        let served = tower::ServiceExt::oneshot(self.inner.clone(), request);
        Box::pin(async move {
            let response = served.await;
            drop(busy);
            response
        })
    }
}

/// A request being handled; ends when dropped, also when the client went
/// away mid-request.
struct Busy {
    tracked: Arc<Tracked>,
    epoch: Instant,
}

impl Busy {
    fn start(tracked: Arc<Tracked>, epoch: Instant) -> Self {
        tracked.in_flight.fetch_add(1, Ordering::AcqRel);
        tracked
            .last_active_ms
            .store(millis_since(epoch), Ordering::Relaxed);
        Self { tracked, epoch }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.tracked
            .last_active_ms
            .store(millis_since(self.epoch), Ordering::Relaxed);
        self.tracked.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}
