use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use payfac_client::{MerchantClient, UserSync};
use payfac_signing::SigningKey;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The service root, e.g. http://127.0.0.1:8080.
    #[arg(long, value_name = "BASE_URL")]
    url: String,
    #[arg(long, value_name = "ID")]
    merchant: String,
    /// The merchant's private key (PEM, PKCS#8 or PKCS#1).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    #[arg(long, value_name = "U")]
    merchant_user_no: String,
    #[arg(long, value_name = "E")]
    email: String,
    #[arg(long, value_name = "F")]
    first_name: Option<String>,
    #[arg(long, value_name = "L")]
    last_name: Option<String>,
}

/// Prints the envelope; exits non-zero unless its code is `0000`.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let key = SigningKey::from_pem(&super::read_file(&args.key)?)
        .with_context(|| format!("{}", args.key.display()))?;
    let client = MerchantClient::new(&args.url, &args.merchant, key)?;
    let envelope = client
        .send(&UserSync {
            merchant_user_no: args.merchant_user_no,
            email: args.email,
            first_name: args.first_name,
            last_name: args.last_name,
        })
        .await?;
    println!("{}", serde_json::to_string(&envelope)?);
    if envelope.code == "0000" {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "payfac: the service answered {} {}",
            envelope.code, envelope.msg
        );
        Ok(ExitCode::FAILURE)
    }
}
