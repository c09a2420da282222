//! `payfac healthcheck`: GET /healthz and exit 0 on 200, so a container's
//! HEALTHCHECK or a supervisor's probe needs no shell and no curl in the
//! image. Plain HTTP over loopback only: the probe runs next to the
//! process, never across a network, so it carries no TLS client.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The URL to probe, `http://HOST:PORT/PATH`. Default: /healthz on the
    /// address `payfac serve` listens on (--listen / PAYFAC_LISTEN), with
    /// a wildcard address probed on loopback.
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// The address `payfac serve` listens on, when --url is not given.
    #[arg(long, env = "PAYFAC_LISTEN", default_value_t = payfac_server::Config::default().listen)]
    listen: SocketAddr,
    /// Seconds to wait for the whole answer.
    #[arg(long, default_value_t = 3)]
    timeout_secs: u64,
}

/// Exit 0 on HTTP 200; otherwise one `payfac:` line on stderr and exit 1.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.timeout_secs > 0, "--timeout-secs must be positive");
    let url = match args.url {
        Some(url) => url,
        None => format!("http://{}/healthz", loopback(args.listen)),
    };
    let (authority, path) = parse(&url)?;
    let status = tokio::time::timeout(
        Duration::from_secs(args.timeout_secs),
        probe(authority, path),
    )
    .await
    .map_err(|_| anyhow::anyhow!("{url}: no answer within {} s", args.timeout_secs))?
    .with_context(|| url.clone())?;
    anyhow::ensure!(status == 200, "{url} answered HTTP {status}");
    Ok(ExitCode::SUCCESS)
}

/// A wildcard listen address is reached on loopback of its family.
fn loopback(listen: SocketAddr) -> SocketAddr {
    let mut address = listen;
    if listen.ip().is_unspecified() {
        address.set_ip(match listen {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    address
}

/// `http://AUTHORITY/PATH` → (authority, path); anything else is refused.
fn parse(url: &str) -> anyhow::Result<(&str, &str)> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow::anyhow!("{url}: only http:// URLs are probed"))?;
    let (authority, path) = match rest.find('/') {
        Some(slash) => rest.split_at(slash),
        None => (rest, "/"),
    };
    let valid = !authority.is_empty()
        && !authority.contains('@')
        && path.bytes().all(|b| b.is_ascii_graphic());
    anyhow::ensure!(valid, "{url}: not an http://HOST:PORT/PATH URL");
    Ok((authority, path))
}

/// One HTTP/1.1 GET with `Connection: close`; the status of the answer.
async fn probe(authority: &str, path: &str) -> anyhow::Result<u16> {
    let address = if authority.contains(':') && !authority.ends_with(']') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let mut stream = TcpStream::connect(&address).await?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: payfac-healthcheck\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    // The status line is all that is needed; /healthz answers "ok".
    let mut head = Vec::with_capacity(256);
    let mut buffer = [0u8; 256];
    while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 4096 {
        let read = stream.read(&mut buffer).await?;
        anyhow::ensure!(read > 0, "the connection closed before an HTTP answer");
        head.extend_from_slice(&buffer[..read]);
    }
    let line = String::from_utf8_lossy(&head);
    let mut fields = line.split_whitespace();
    match (fields.next(), fields.next().map(str::parse::<u16>)) {
        (Some(version), Some(Ok(status))) if version.starts_with("HTTP/") => Ok(status),
        _ => anyhow::bail!("not an HTTP answer"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_addresses_are_probed_on_loopback() {
        let v4: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(loopback(v4).to_string(), "127.0.0.1:8080");
        let v6: SocketAddr = "[::]:9000".parse().unwrap();
        assert_eq!(loopback(v6).to_string(), "[::1]:9000");
        let fixed: SocketAddr = "10.0.0.5:8080".parse().unwrap();
        assert_eq!(loopback(fixed), fixed);
    }

    #[test]
    fn only_plain_http_urls_are_accepted() {
        assert_eq!(
            parse("http://127.0.0.1:8080/healthz").unwrap(),
            ("127.0.0.1:8080", "/healthz")
        );
        assert_eq!(parse("http://[::1]:8080").unwrap(), ("[::1]:8080", "/"));
        assert!(parse("https://127.0.0.1/healthz").is_err());
        assert!(parse("http:///healthz").is_err());
        assert!(parse("http://user@host/").is_err());
    }
}
