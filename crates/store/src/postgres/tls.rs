//! TLS to PostgreSQL with rustls, set from the URL's `sslmode` and
//! `sslrootcert` as libpq reads them.
//!
//! Managed databases (RDS, Cloud SQL) require TLS, and tokio-postgres
//! knows neither `verify-ca`, `verify-full` nor `sslrootcert`: this module
//! takes those parameters out of the URL before tokio-postgres parses it,
//! and hands the pool a `MakeTlsConnect` of its own that verifies what the
//! mode asks for:
//!
//! | `sslmode` | TLS | verifies |
//! |---|---|---|
//! | `disable` | never | — |
//! | `prefer` (the default) | when the server offers it | nothing; the chain when `sslrootcert` is given |
//! | `require` | always | nothing; the chain when `sslrootcert` is given (libpq: as `verify-ca`) |
//! | `verify-ca` | always | the chain up to `sslrootcert` |
//! | `verify-full` | always | the chain, and that the certificate names the host |
//!
//! Unlike libpq, `~/.postgresql/root.crt` is never read: `verify-ca` and
//! `verify-full` need `sslrootcert=FILE` in the URL, so what is trusted is
//! always visible in the configuration.
//!
//! With TLS, the connection offers SCRAM's `tls-server-end-point` channel
//! binding (`channel_binding.rs`), so `channel_binding=require` works as
//! in libpq.

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ClientConfig, WebPkiServerVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::config::SslMode;
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};

use crate::StoreError;

/// What the URL's `sslmode` and `sslrootcert` ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TlsSettings {
    /// The `sslmode` as written (`prefer` when absent), for messages.
    pub mode: String,
    pub root_cert: Option<PathBuf>,
}

impl TlsSettings {
    /// Whether tokio-postgres tries TLS and whether it must have it.
    pub fn ssl_mode(&self) -> SslMode {
        match self.mode.as_str() {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            _ => SslMode::Require,
        }
    }

    fn verification(&self) -> Verification {
        match (self.mode.as_str(), &self.root_cert) {
            ("verify-full", _) => Verification::ChainAndHost,
            ("verify-ca", _) | (_, Some(_)) => Verification::Chain,
            _ => Verification::None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verification {
    None,
    Chain,
    ChainAndHost,
}

/// Splits `sslmode` and `sslrootcert` off a `postgres://` URL: the URL
/// tokio-postgres can parse, and the settings. Refuses modes and values
/// this build does not implement, naming the parameter (never the URL's
/// password).
pub(super) fn split_url(url: &str) -> Result<(String, TlsSettings), StoreError> {
    let mut settings = TlsSettings {
        mode: "prefer".into(),
        root_cert: None,
    };
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), settings));
    };
    let mut kept = Vec::new();
    for part in query.split('&') {
        let (key, value) = part.split_once('=').unwrap_or((part, ""));
        match key {
            "sslmode" => settings.mode = decode(value, key)?,
            "sslrootcert" => settings.root_cert = Some(PathBuf::from(decode(value, key)?)),
            _ => kept.push(part),
        }
    }
    match settings.mode.as_str() {
        "disable" | "prefer" | "require" | "verify-ca" | "verify-full" => {}
        other => {
            return Err(StoreError::Config(format!(
                "sslmode={other} is not supported; use disable, prefer, require, verify-ca or verify-full"
            )));
        }
    }
    if settings.root_cert.as_deref() == Some(std::path::Path::new("system")) {
        return Err(StoreError::Config(
            "sslrootcert=system is not supported; name the CA certificate file (PEM)".into(),
        ));
    }
    if settings.verification() != Verification::None && settings.mode == "disable" {
        settings.root_cert = None;
    }
    if matches!(settings.mode.as_str(), "verify-ca" | "verify-full") && settings.root_cert.is_none()
    {
        return Err(StoreError::Config(format!(
            "sslmode={} needs sslrootcert=FILE: the CA certificate (PEM) that signed the server's",
            settings.mode
        )));
    }
    let url = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((url, settings))
}

/// Percent-decodes a query value, as libpq does for URLs.
fn decode(value: &str, key: &str) -> Result<String, StoreError> {
    percent_encoding::percent_decode_str(value)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| StoreError::Config(format!("{key} is not valid UTF-8 after decoding")))
}

/// The connector the pool opens every connection with.
#[derive(Clone)]
pub(super) struct MakeRustls {
    config: Arc<ClientConfig>,
    settings: Arc<TlsSettings>,
}

impl MakeRustls {
    /// Reads `sslrootcert` now, so a missing or empty file is refused at
    /// start rather than at each connection.
    pub fn new(settings: TlsSettings) -> Result<Self, StoreError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier: Arc<dyn ServerCertVerifier> = match &settings.root_cert {
            Some(path) if settings.verification() != Verification::None => {
                let roots = read_roots(path)?;
                let webpki =
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                        .build()
                        .map_err(|error| {
                            StoreError::Config(format!("sslrootcert {}: {error}", path.display()))
                        })?;
                Arc::new(Verifier {
                    webpki: Some(webpki),
                    check_host: settings.verification() == Verification::ChainAndHost,
                    algorithms: provider.signature_verification_algorithms,
                })
            }
            _ => Arc::new(Verifier {
                webpki: None,
                check_host: false,
                algorithms: provider.signature_verification_algorithms,
            }),
        };
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| StoreError::Config(format!("TLS configuration: {error}")))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(Self {
            config: Arc::new(config),
            settings: Arc::new(settings),
        })
    }
}

fn read_roots(path: &std::path::Path) -> Result<RootCertStore, StoreError> {
    let pem = std::fs::read(path).map_err(|error| {
        StoreError::Config(format!(
            "cannot read sslrootcert {}: {error}",
            path.display()
        ))
    })?;
    let mut roots = RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(&pem) {
        let certificate = certificate.map_err(|error| {
            StoreError::Config(format!("sslrootcert {}: {error}", path.display()))
        })?;
        roots.add(certificate).map_err(|error| {
            StoreError::Config(format!("sslrootcert {}: {error}", path.display()))
        })?;
    }
    if roots.is_empty() {
        return Err(StoreError::Config(format!(
            "sslrootcert {} holds no PEM certificate",
            path.display()
        )));
    }
    Ok(roots)
}

impl<S> MakeTlsConnect<S> for MakeRustls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type TlsConnect = RustlsConnect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, host: &str) -> Result<RustlsConnect, io::Error> {
        let name = match ServerName::try_from(host.to_owned()) {
            Ok(name) => name,
            // Only verify-full compares the name; the others still need one
            // for the handshake, and send no SNI for it.
            Err(_) if self.settings.verification() != Verification::ChainAndHost => {
                ServerName::try_from("postgres.invalid").expect("a valid DNS name")
            }
            Err(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "sslmode=verify-full: host {host:?} is not a name a certificate can hold"
                    ),
                ));
            }
        };
        Ok(RustlsConnect {
            config: self.config.clone(),
            name,
            settings: self.settings.clone(),
        })
    }
}

/// One connection's handshake.
pub(super) struct RustlsConnect {
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
    settings: Arc<TlsSettings>,
}

impl<S> TlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let connector = tokio_rustls::TlsConnector::from(self.config);
            let host = self.name.to_str().into_owned();
            connector
                .connect(self.name, stream)
                .await
                .map(RustlsStream)
                .map_err(|error| {
                    // Name the mode and the trusted file: a refusal then
                    // says what to fix.
                    let trusted = match &self.settings.root_cert {
                        Some(path) => format!(", sslrootcert {}", path.display()),
                        None => String::new(),
                    };
                    io::Error::new(
                        error.kind(),
                        format!(
                            "TLS with {host} failed (sslmode={}{trusted}): {error}",
                            self.settings.mode
                        ),
                    )
                })
        })
    }
}

/// Verifies what the mode asks for. Without `webpki` it accepts any
/// certificate (libpq's `require` without a root certificate: encrypted,
/// not authenticated), but the handshake's signatures are still checked.
#[derive(Debug)]
struct Verifier {
    webpki: Option<Arc<WebPkiServerVerifier>>,
    check_host: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(webpki) = &self.webpki else {
            return Ok(ServerCertVerified::assertion());
        };
        // webpki checks the chain first and the name last, so a name
        // error means the chain is good: that is all verify-ca asks.
        match webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_host => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// An established TLS connection to the server.
pub(super) struct RustlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S> TlsStream for RustlsStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn channel_binding(&self) -> ChannelBinding {
        let (_, connection) = self.0.get_ref();
        connection
            .peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(|certificate| super::channel_binding::tls_server_end_point(certificate))
            .map_or_else(ChannelBinding::none, ChannelBinding::tls_server_end_point)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(context, buffer)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(context, buffer)
    }

    fn poll_flush(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(context)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(context)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssl_parameters_are_taken_out_of_the_url() {
        let (url, settings) = split_url(
            "postgres://u:pw@db/app?sslmode=verify-full&application_name=a&sslrootcert=%2Fetc%2Fca%20x.pem",
        )
        .unwrap();
        assert_eq!(url, "postgres://u:pw@db/app?application_name=a");
        assert_eq!(settings.mode, "verify-full");
        assert_eq!(settings.root_cert, Some(PathBuf::from("/etc/ca x.pem")));
        assert_eq!(settings.ssl_mode(), SslMode::Require);
        assert_eq!(settings.verification(), Verification::ChainAndHost);

        let (url, settings) = split_url("postgres://db/app").unwrap();
        assert_eq!(url, "postgres://db/app");
        assert_eq!(
            (settings.ssl_mode(), settings.verification()),
            (SslMode::Prefer, Verification::None)
        );
        let (url, settings) = split_url("postgres://db/app?sslmode=require").unwrap();
        assert_eq!(url, "postgres://db/app");
        assert_eq!(settings.verification(), Verification::None);
    }

    /// libpq: `require` with a root certificate behaves as `verify-ca`.
    #[test]
    fn require_with_a_root_certificate_verifies_the_chain() {
        let (_, settings) =
            split_url("postgres://db/app?sslmode=require&sslrootcert=ca.pem").unwrap();
        assert_eq!(settings.verification(), Verification::Chain);
        let (_, settings) =
            split_url("postgres://db/app?sslmode=disable&sslrootcert=ca.pem").unwrap();
        assert_eq!(
            (settings.ssl_mode(), settings.verification()),
            (SslMode::Disable, Verification::None)
        );
    }

    #[test]
    fn unsupported_settings_are_refused_by_name() {
        let refused = |url: &str| match split_url(url) {
            Err(StoreError::Config(message)) => message,
            other => panic!("{url}: {other:?}"),
        };
        assert!(refused("postgres://u:pw@db/app?sslmode=allow").contains("sslmode=allow"));
        assert!(refused("postgres://db/app?sslmode=verify-full").contains("needs sslrootcert"));
        assert!(refused("postgres://db/app?sslmode=verify-ca").contains("needs sslrootcert"));
        assert!(
            refused("postgres://db/app?sslmode=verify-full&sslrootcert=system")
                .contains("sslrootcert=system")
        );
        assert!(!refused("postgres://u:pw@db/app?sslmode=bogus").contains("pw"));
    }

    #[test]
    fn a_missing_or_empty_root_certificate_is_refused_at_start() {
        let directory = tempfile::tempdir().unwrap();
        let missing = directory.path().join("missing.pem");
        let settings = TlsSettings {
            mode: "verify-full".into(),
            root_cert: Some(missing.clone()),
        };
        let Err(StoreError::Config(message)) = MakeRustls::new(settings) else {
            panic!("a missing file is refused");
        };
        assert!(message.contains("cannot read sslrootcert"), "{message}");
        let empty = directory.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let settings = TlsSettings {
            mode: "verify-ca".into(),
            root_cert: Some(empty),
        };
        let Err(StoreError::Config(message)) = MakeRustls::new(settings) else {
            panic!("a file without certificates is refused");
        };
        assert!(message.contains("holds no PEM certificate"), "{message}");
    }

    /// A host that is no DNS name cannot be compared with a certificate:
    /// verify-full refuses it, the other modes use a placeholder name.
    #[test]
    fn verify_full_refuses_a_host_a_certificate_cannot_name() {
        let make = |mode: &str| {
            let mut make = MakeRustls::new(TlsSettings {
                mode: "require".into(),
                root_cert: None,
            })
            .unwrap();
            make.settings = Arc::new(TlsSettings {
                mode: mode.into(),
                root_cert: Some("ca.pem".into()),
            });
            make
        };
        let connect = |mode: &str, host: &str| {
            <MakeRustls as MakeTlsConnect<tokio::net::TcpStream>>::make_tls_connect(
                &mut make(mode),
                host,
            )
        };
        let refused = connect("verify-full", "db host").err().expect("refused");
        assert!(refused.to_string().contains("\"db host\""), "{refused}");
        assert!(connect("verify-ca", "db host").is_ok());
        assert!(connect("verify-full", "db.example").is_ok());
        assert!(connect("verify-full", "10.0.0.5").is_ok());
    }
}
