//! TLS to PostgreSQL (`sslmode`, `sslrootcert`) against a real server: a
//! throwaway cluster of the test's own with `ssl=on` and a certificate
//! signed by a CA the test makes with the `openssl` command line. Its
//! `pg_hba.conf` accepts TCP over TLS only (`hostssl`), so a connection
//! that gets in used TLS. The cluster is stopped and deleted when the
//! test ends, passed or not.

use std::path::{Path, PathBuf};
use std::process::Command;

use payfac_store::{Store, StoreError};
use payfac_test_support::cluster::Cluster;

const PASSWORD: &str = "tls-test-pw-7Qx2";

/// `openssl ARGS` (split at spaces) in `dir`, which must succeed.
fn openssl(dir: &Path, args: &str) {
    let output = Command::new("openssl")
        .args(args.split_whitespace())
        .current_dir(dir)
        .output()
        .expect("the openssl command line is installed");
    assert!(
        output.status.success(),
        "openssl {args}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A new P-256 key and its certificate request or self-signed certificate.
const NEW_KEY: &str = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";

/// A self-signed CA: `NAME.key` and `NAME.pem` in `dir`.
fn certificate_authority(dir: &Path, name: &str) -> PathBuf {
    openssl(
        dir,
        &format!("req -x509 {NEW_KEY} -days 2 -subj /CN={name} -keyout {name}.key -out {name}.pem"),
    );
    dir.join(format!("{name}.pem"))
}

/// `server.key` and `server.crt` for IP 127.0.0.1 and `db.payfac.test`
/// (not `localhost`), signed by the CA `ca` with ECDSA-SHA384: channel
/// binding must then hash with SHA-384, as the server does.
fn server_certificate(dir: &Path, ca: &str) {
    std::fs::write(
        dir.join("server.ext"),
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n\
         subjectAltName=IP:127.0.0.1,DNS:db.payfac.test\n",
    )
    .unwrap();
    openssl(
        dir,
        &format!("req -new {NEW_KEY} -subj /CN=db.payfac.test -keyout server.key -out server.csr"),
    );
    openssl(
        dir,
        &format!(
            "x509 -req -in server.csr -CA {ca}.pem -CAkey {ca}.key -set_serial 2 -days 2 \
             -sha384 -extfile server.ext -out server.crt"
        ),
    );
}

/// Opens the store and pings it: `Ok` or the error's message.
async fn connect(url: &str) -> Result<(), String> {
    match payfac_store::open(url).await {
        Ok(store) => store.ping().await.map_err(|error| error.to_string()),
        Err(error) => Err(error.to_string()),
    }
}

#[track_caller]
fn assert_refused(result: Result<(), String>, needles: &[&str]) {
    let message = result.expect_err("the connection is refused");
    for needle in needles {
        assert!(message.contains(needle), "{needle:?} in {message:?}");
    }
    assert!(
        !message.contains(PASSWORD),
        "the password leaked: {message}"
    );
}

#[tokio::test]
#[ignore = "needs the PostgreSQL server binaries (initdb); scripts/test.sh runs it"]
async fn tls_modes_verify_what_libpq_verifies() {
    let mut cluster = Cluster::init(PASSWORD);
    let pki = tempfile::tempdir().unwrap();
    let ca = certificate_authority(pki.path(), "ca");
    let other_ca = certificate_authority(pki.path(), "other-ca");
    server_certificate(pki.path(), "ca");
    let read = |name: &str| std::fs::read(pki.path().join(name)).unwrap();
    let cert = cluster.install("server.crt", &read("server.crt"), 0o644);
    let key = cluster.install("server.key", &read("server.key"), 0o600);
    let hba_tls = cluster.install(
        "hba-tls.conf",
        b"local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n",
        0o600,
    );
    let hba_plain = cluster.install(
        "hba-plain.conf",
        b"local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n",
        0o600,
    );
    cluster.start(&[
        "ssl=on",
        &format!("ssl_cert_file={}", cert.display()),
        &format!("ssl_key_file={}", key.display()),
        &format!("hba_file={}", hba_tls.display()),
    ]);
    let port = cluster.port;
    // The host is what the certificate is checked against; `hostaddr`
    // is where the connection goes, whatever the name resolves to.
    let url = |host: &str, query: String| {
        format!("postgres://postgres:{PASSWORD}@{host}:{port}/postgres?hostaddr=127.0.0.1&{query}")
    };
    let ca = ca.display();
    let other_ca = other_ca.display();

    // verify-full: chain and host name; the SCRAM exchange is bound to
    // the TLS channel (a SHA-384 certificate hash).
    connect(&url(
        "127.0.0.1",
        format!("sslmode=verify-full&sslrootcert={ca}&channel_binding=require"),
    ))
    .await
    .expect("verify-full with the right CA connects");
    connect(&url(
        "db.payfac.test",
        format!("sslmode=verify-full&sslrootcert={ca}"),
    ))
    .await
    .expect("verify-full matches a DNS name of the certificate");
    // The server accepts TLS only: without it, no connection.
    assert_refused(
        connect(&url("127.0.0.1", "sslmode=disable".into())).await,
        &["no pg_hba.conf entry"],
    );
    // A CA that did not sign the server's certificate.
    assert_refused(
        connect(&url(
            "127.0.0.1",
            format!("sslmode=verify-full&sslrootcert={other_ca}"),
        ))
        .await,
        &[
            "sslmode=verify-full",
            "other-ca.pem",
            "invalid peer certificate",
            "UnknownIssuer",
        ],
    );
    assert_refused(
        connect(&url(
            "127.0.0.1",
            format!("sslmode=verify-ca&sslrootcert={other_ca}"),
        ))
        .await,
        &["sslmode=verify-ca", "UnknownIssuer"],
    );
    // libpq: `require` with a root certificate verifies the chain.
    assert_refused(
        connect(&url(
            "127.0.0.1",
            format!("sslmode=require&sslrootcert={other_ca}"),
        ))
        .await,
        &["sslmode=require", "UnknownIssuer"],
    );
    // A host name the certificate does not hold: refused by verify-full
    // only; verify-ca checks the chain alone.
    assert_refused(
        connect(&url(
            "localhost",
            format!("sslmode=verify-full&sslrootcert={ca}"),
        ))
        .await,
        &["sslmode=verify-full", "not valid for name", "localhost"],
    );
    connect(&url(
        "localhost",
        format!("sslmode=verify-ca&sslrootcert={ca}"),
    ))
    .await
    .expect("verify-ca does not compare the host name");
    // `require` without a root certificate and `prefer` encrypt without
    // verifying, as libpq does.
    connect(&url("localhost", "sslmode=require".into()))
        .await
        .expect("require without sslrootcert connects to any certificate");
    connect(&url("localhost", String::new()))
        .await
        .expect("no sslmode is prefer: TLS when the server offers it");

    // The same server without TLS.
    cluster.stop();
    cluster.start(&["ssl=off", &format!("hba_file={}", hba_plain.display())]);
    assert_refused(
        connect(&url("127.0.0.1", "sslmode=require".into())).await,
        &["server does not support TLS"],
    );
    assert_refused(
        connect(&url(
            "127.0.0.1",
            format!("sslmode=verify-full&sslrootcert={ca}"),
        ))
        .await,
        &["server does not support TLS"],
    );
    connect(&url("127.0.0.1", "sslmode=prefer".into()))
        .await
        .expect("prefer falls back to a plain connection");
}

/// Settings this build cannot honour are refused before any connection,
/// by name, and the password never appears.
#[tokio::test]
async fn unsupported_tls_settings_are_refused_at_open() {
    let refused = |result: Result<std::sync::Arc<dyn Store>, StoreError>| match result {
        Err(StoreError::Config(message)) => message,
        Err(other) => panic!("a configuration error, not {other}"),
        Ok(_) => panic!("refused"),
    };
    let base = format!("postgres://payfac:{PASSWORD}@127.0.0.1:1/payfac");
    for (query, needle) in [
        ("sslmode=allow", "sslmode=allow is not supported"),
        (
            "sslmode=verify-full",
            "sslmode=verify-full needs sslrootcert",
        ),
        (
            "sslmode=verify-ca&sslrootcert=/nonexistent/ca.pem",
            "cannot read sslrootcert /nonexistent/ca.pem",
        ),
        (
            "sslmode=verify-full&sslrootcert=system",
            "sslrootcert=system is not supported",
        ),
        ("sslcert=client.pem", "sslcert"),
    ] {
        let message = refused(payfac_store::open(&format!("{base}?{query}")).await);
        assert!(message.contains(needle), "{query}: {message}");
        assert!(!message.contains(PASSWORD), "{query}: {message}");
    }
}
