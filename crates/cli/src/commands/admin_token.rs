use std::process::ExitCode;

use clap::Subcommand;
use payfac_server::admin::views::TokenView;

use super::DatabaseArgs;
use super::merchant::cli;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(subcommand)]
    command: TokenCommand,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token for the admin API and print it: the only time it is shown.
    Create {
        /// 1-64 of A-Z a-z 0-9 _ . - (e.g. the tool or person holding it).
        name: String,
        /// Refuse the token this long after creation: 90d, 12h, 30m, 45s or
        /// seconds. Without it the token lasts until revoked.
        #[arg(long, value_parser = parse_duration)]
        expires_in: Option<i64>,
    },
    /// Show every token: name, created, last used (never the secret).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token: every instance refuses it within 5 seconds.
    Revoke { name: String },
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    // Only `create` may create the database; a missing file is refused
    // for listing and revoking.
    let url = &args.database.database_url;
    let store = match args.command {
        TokenCommand::Create { .. } => payfac_store::open(url).await?,
        _ => payfac_store::open_existing(url).await?,
    };
    match args.command {
        TokenCommand::Create { name, expires_in } => {
            let token = cli(store.as_ref())
                .create_expiring_token(&name, expires_in)
                .await?;
            println!("{token}");
        }
        TokenCommand::List { json } => {
            let tokens: Vec<TokenView> = store
                .admin_tokens()
                .await?
                .iter()
                .map(TokenView::from)
                .collect();
            if json {
                println!("{}", serde_json::to_string(&tokens)?);
            } else {
                for token in tokens {
                    let last_used = token.last_used_at.as_deref().unwrap_or("-");
                    let expires = token.expires_at.as_deref().unwrap_or("-");
                    println!(
                        "{}\t{}\t{last_used}\t{expires}",
                        token.name, token.created_at
                    );
                }
            }
        }
        TokenCommand::Revoke { name } => {
            cli(store.as_ref()).revoke_token(&name).await?;
            super::merchant::answer(serde_json::json!({"name": name, "revoked": true}));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `90d`, `12h`, `30m`, `45s` or bare seconds, as a positive number of
/// seconds.
fn parse_duration(text: &str) -> Result<i64, String> {
    let (number, unit) = match text.char_indices().last() {
        Some((at, 'd')) => (&text[..at], 86_400),
        Some((at, 'h')) => (&text[..at], 3_600),
        Some((at, 'm')) => (&text[..at], 60),
        Some((at, 's')) => (&text[..at], 1),
        _ => (text, 1),
    };
    number
        .parse::<i64>()
        .ok()
        .filter(|value| *value > 0)
        .and_then(|value| value.checked_mul(unit))
        .ok_or_else(|| format!("{text:?} is not a duration like 90d, 12h, 30m, 45s or 3600"))
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90d"), Ok(90 * 86_400));
        assert_eq!(parse_duration("12h"), Ok(43_200));
        assert_eq!(parse_duration("30m"), Ok(1_800));
        assert_eq!(parse_duration("45s"), Ok(45));
        assert_eq!(parse_duration("3600"), Ok(3_600));
        for bad in ["", "0", "-5m", "1w", "h", "1.5h", "99999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
