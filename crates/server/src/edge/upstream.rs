//! The HTTP/1.1 connections to the upstream.
//!
//! Each client connection gets its own upstream connection (a [`Link`]),
//! opened with its first proxied request and reused for the next ones, as
//! nginx's `keepalive` does for one worker. A client connection handles
//! one request at a time, so its link is never contended: no pool, no
//! lock held across a request, no task per request to hand a connection
//! back while its body still streams (what a shared pool such as
//! hyper-util's costs on every request). The number of upstream
//! connections is so bounded by `--max-connections`, and an idle one is
//! closed with its client connection (the header read timeout) or by the
//! upstream's own keep-alive timeout, after which the next request opens a
//! fresh one.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::uri::Authority;
use axum::http::{Request, Response};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// The upstream connection of one client connection; empty until its
/// first proxied request and after the upstream closed it.
#[derive(Clone, Default)]
pub struct Link(Arc<Mutex<Option<SendRequest<Body>>>>);

/// Why a request did not get the upstream's response head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No connection within the connect timeout.
    ConnectTimeout,
    /// The connection was refused or reset while opening.
    Connect,
    /// The connection failed while the request was sent or answered.
    Failed,
    /// No response head within the response timeout.
    Timeout,
}

impl Failure {
    /// Every failure, for the metrics registered at zero
    /// (`metric_catalog`); a new variant belongs here too.
    pub const ALL: [Self; 4] = [
        Self::ConnectTimeout,
        Self::Connect,
        Self::Failed,
        Self::Timeout,
    ];

    /// The `reason` label of `payfac_upstream_errors_total`.
    pub fn reason(self) -> &'static str {
        match self {
            Self::ConnectTimeout => "connect_timeout",
            Self::Connect => "connect",
            Self::Failed => "failed",
            Self::Timeout => "timeout",
        }
    }
}

/// Where the upstream is and how long to wait for it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub authority: Authority,
    pub connect_timeout: Duration,
    pub response_timeout: Duration,
}

impl Endpoint {
    /// Sends `request` (origin-form URI, `Host` set) on `link`'s
    /// connection, or on a new one when the link has none or the upstream
    /// closed it; answers the response head, its body streaming. The
    /// connect timeout bounds opening a connection, the response timeout
    /// the rest: writing the request (an upload included) and waiting for
    /// the head.
    pub async fn send(
        &self,
        link: &Link,
        request: Request<Body>,
    ) -> Result<Response<Incoming>, Failure> {
        let kept = link.0.lock().expect("upstream link").take();
        let request = match kept {
            Some(sender) => match self.timed(reuse(sender, request, link)).await? {
                Reused::Answered(response) => return Ok(response),
                Reused::Unsent(request) => request,
            },
            None => request,
        };
        let sender = self.connect().await?;
        self.timed(first(sender, request, link)).await
    }

    async fn timed<T>(
        &self,
        exchange: impl Future<Output = Result<T, Failure>>,
    ) -> Result<T, Failure> {
        tokio::time::timeout(self.response_timeout, exchange)
            .await
            .unwrap_or(Err(Failure::Timeout))
    }

    async fn connect(&self) -> Result<SendRequest<Body>, Failure> {
        let stream = match tokio::time::timeout(
            self.connect_timeout,
            TcpStream::connect(socket_target(&self.authority)),
        )
        .await
        {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => {
                tracing::warn!(%error, "upstream connect failed");
                return Err(Failure::Connect);
            }
            Err(_) => return Err(Failure::ConnectTimeout),
        };
        let _ = stream.set_nodelay(true);
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|error| {
                tracing::warn!(%error, "upstream handshake failed");
                Failure::Connect
            })?;
        tokio::spawn(async move {
            // Ends when either side closes; the next request reconnects.
            let _ = connection.await;
        });
        Ok(sender)
    }
}

/// The host and port to connect to: an IPv6 literal without its brackets
/// (`[::1]` is how a URL writes `::1`), port 80 when the URL has none.
fn socket_target(authority: &Authority) -> (&str, u16) {
    let host = authority.host();
    let host = host
        .strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'))
        .unwrap_or(host);
    (host, authority.port_u16().unwrap_or(80))
}

/// What became of a request offered to a kept connection.
enum Reused {
    Answered(Response<Incoming>),
    /// The connection was gone before the request was written: safe to
    /// send it again on a new one, whatever its method.
    Unsent(Request<Body>),
}

async fn reuse(
    mut sender: SendRequest<Body>,
    request: Request<Body>,
    link: &Link,
) -> Result<Reused, Failure> {
    if sender.ready().await.is_err() {
        return Ok(Reused::Unsent(request));
    }
    match sender.try_send_request(request).await {
        Ok(response) => {
            link.keep(sender);
            Ok(Reused::Answered(response))
        }
        Err(mut error) => match error.take_message() {
            Some(unsent) => Ok(Reused::Unsent(unsent)),
            None => {
                tracing::warn!(error = %error.error(), "upstream request failed");
                Err(Failure::Failed)
            }
        },
    }
}

async fn first(
    mut sender: SendRequest<Body>,
    request: Request<Body>,
    link: &Link,
) -> Result<Response<Incoming>, Failure> {
    match sender.send_request(request).await {
        Ok(response) => {
            link.keep(sender);
            Ok(response)
        }
        Err(error) => {
            tracing::warn!(%error, "upstream request failed");
            Err(Failure::Failed)
        }
    }
}

impl Link {
    fn keep(&self, sender: SendRequest<Body>) {
        *self.0.lock().expect("upstream link") = Some(sender);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_targets() {
        for (authority, target) in [
            ("shop.internal", ("shop.internal", 80)),
            ("127.0.0.1:3000", ("127.0.0.1", 3000)),
            ("[::1]:8080", ("::1", 8080)),
            ("[fd00::2]", ("fd00::2", 80)),
        ] {
            let authority: Authority = authority.parse().unwrap();
            assert_eq!(socket_target(&authority), target);
        }
    }
}
