use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use payfac_domain::MerchantId;
use payfac_server::admin::actions::Operator;
use payfac_signing::VerifyingKey;
use payfac_store::{Store, StoredKey};

use super::DatabaseArgs;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(subcommand)]
    command: MerchantCommand,
}

#[derive(Debug, Subcommand)]
enum MerchantCommand {
    /// Register a merchant with its first key; prints the key id.
    Add {
        /// 1-32 of A-Z a-z 0-9 _ -
        id: String,
        /// The merchant's public key: PEM SPKI, PEM PKCS#1 or bare base64 SPKI DER.
        #[arg(
            long,
            value_name = "FILE",
            required_unless_present = "generate_key",
            conflicts_with = "generate_key"
        )]
        public_key: Option<PathBuf>,
        /// Generate the pair here and write PREFIX.key.pem / PREFIX.pub.pem for delivery.
        #[arg(long, value_name = "PREFIX")]
        generate_key: Option<PathBuf>,
    },
    /// Key rotation: add or remove a merchant's public keys.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Refuse the merchant's API calls (answered as an unknown merchant).
    Disable {
        id: String,
        /// Also end every session of the merchant's buyers and void its
        /// unused codes, in the same transaction (a leaked key); prints
        /// what it ended as JSON.
        #[arg(long)]
        end_sessions: bool,
    },
    /// Accept the merchant's API calls again.
    Enable { id: String },
    /// Show every merchant, its status and key ids.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Add a public key; prints its key id.
    Add {
        id: String,
        #[arg(long, value_name = "FILE")]
        public_key: PathBuf,
    },
    /// Remove a key by its id.
    Remove { id: String, key_id: String },
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    // Only `add` may create the database; every other command needs a
    // merchant that is already there (or lists them), so a missing file
    // is refused rather than created empty.
    let url = &args.database.database_url;
    let store = match args.command {
        MerchantCommand::Add { .. } => payfac_store::open(url).await?,
        _ => payfac_store::open_existing(url).await?,
    };
    match args.command {
        MerchantCommand::Add {
            id,
            public_key,
            generate_key,
        } => {
            let id = merchant_id(&id)?;
            let key_id = match (public_key, generate_key) {
                (Some(path), _) => {
                    add_merchant(store.as_ref(), &id, &read_public_key(&path)?).await?
                }
                (None, Some(prefix)) => {
                    add_with_generated_key(store.as_ref(), &id, &prefix).await?
                }
                (None, None) => anyhow::bail!("give --public-key FILE or --generate-key PREFIX"),
            };
            println!("{key_id}");
        }
        MerchantCommand::Key {
            command: KeyCommand::Add { id, public_key },
        } => {
            let key = read_public_key(&public_key)?;
            cli(store.as_ref())
                .add_key(&merchant_id(&id)?, &key)
                .await?;
            println!("{}", key.key_id());
        }
        MerchantCommand::Key {
            command: KeyCommand::Remove { id, key_id },
        } => {
            let id = merchant_id(&id)?;
            cli(store.as_ref()).remove_key(&id, &key_id, false).await?;
            answer(serde_json::json!({"id": id.as_str(), "keyId": key_id, "removed": true}));
        }
        MerchantCommand::Disable { id, end_sessions } => {
            let id = merchant_id(&id)?;
            let ended = cli(store.as_ref()).disable(&id, end_sessions).await?;
            answer(serde_json::json!({
                "id": id.as_str(),
                "status": "disabled",
                "sessionsEnded": ended.sessions,
                "codesVoided": ended.codes,
            }));
        }
        MerchantCommand::Enable { id } => {
            let id = merchant_id(&id)?;
            cli(store.as_ref()).enable(&id).await?;
            answer(serde_json::json!({"id": id.as_str(), "status": "active"}));
        }
        MerchantCommand::List { json } => list(store.as_ref(), json).await?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Registers a merchant with its first key and returns the key id.
pub async fn add_merchant(
    store: &dyn Store,
    id: &MerchantId,
    key: &VerifyingKey,
) -> anyhow::Result<String> {
    cli(store).add_merchant(id, key).await?;
    Ok(key.key_id())
}

/// Changes made from the command line, recorded in the audit trail as `cli`.
pub fn cli(store: &dyn Store) -> Operator<'_> {
    Operator {
        store,
        actor: "cli",
    }
}

/// Writes a fresh pair for delivery and registers its public half. If the
/// merchant is refused (e.g. it already exists), the files just written are
/// removed again, so no private key is left behind for a key nobody holds.
async fn add_with_generated_key(
    store: &dyn Store,
    id: &MerchantId,
    prefix: &std::path::Path,
) -> anyhow::Result<String> {
    let (private, public) = super::keygen::write_key_pair(prefix, 2048)?;
    let result = match read_public_key(&public) {
        Ok(key) => add_merchant(store, id, &key).await,
        Err(error) => Err(error),
    };
    match result {
        Ok(key_id) => {
            eprintln!("wrote {} and {}", private.display(), public.display());
            Ok(key_id)
        }
        Err(error) => {
            let _ = std::fs::remove_file(&private);
            let _ = std::fs::remove_file(&public);
            Err(error)
        }
    }
}

pub fn stored(key: &VerifyingKey) -> StoredKey {
    StoredKey {
        key_id: key.key_id(),
        spki_der: key.spki_der().to_vec(),
    }
}

fn merchant_id(text: &str) -> anyhow::Result<MerchantId> {
    Ok(MerchantId::parse(text)?)
}

pub fn read_public_key(path: &std::path::Path) -> anyhow::Result<VerifyingKey> {
    VerifyingKey::parse(&super::read_file(path)?).with_context(|| format!("{}", path.display()))
}

async fn list(store: &dyn Store, json: bool) -> anyhow::Result<()> {
    let merchants = store.merchants().await?;
    if json {
        let rows: Vec<_> = merchants
            .iter()
            .map(|merchant| {
                serde_json::json!({
                    "id": merchant.id,
                    "status": merchant.status.as_str(),
                    "keys": merchant.keys.iter().map(|k| &k.key_id).collect::<Vec<_>>(),
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(rows));
    } else {
        for merchant in &merchants {
            let keys: Vec<&str> = merchant.keys.iter().map(|k| k.key_id.as_str()).collect();
            println!(
                "{}\t{}\t{}",
                merchant.id,
                merchant.status.as_str(),
                if keys.is_empty() {
                    "-".to_owned()
                } else {
                    keys.join(",")
                }
            );
        }
    }
    Ok(())
}

/// What a change command prints: one line of JSON saying what it changed
/// (commands that create something print its new id instead).
pub(super) fn answer(outcome: serde_json::Value) {
    println!("{outcome}");
}
