use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use payfac_signing::{SigningKey, signature_string};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The merchant's private key (PEM, PKCS#8 or PKCS#1).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The `timestamp` header value, exactly as it will be sent.
    #[arg(long, value_name = "T")]
    timestamp: String,
    /// The `nonce` header value, exactly as it will be sent.
    #[arg(long, value_name = "N")]
    nonce: String,
    /// The raw URL query, without the leading `?`.
    #[arg(long, value_name = "Q", default_value = "")]
    query: String,
    /// The exact body bytes to be sent; none means an empty body.
    #[arg(long, value_name = "F")]
    body_file: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let key = SigningKey::from_pem(&super::read_file(&args.key)?)
        .with_context(|| format!("{}", args.key.display()))?;
    let body = match &args.body_file {
        Some(path) => {
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?
        }
        None => Vec::new(),
    };
    let message = signature_string(&args.query, &args.timestamp, &args.nonce, &body);
    let output = serde_json::json!({
        "signatureString": String::from_utf8_lossy(&message),
        "signature": key.sign(&message),
    });
    println!("{output}");
    Ok(ExitCode::SUCCESS)
}
