//! `--config FILE`: the `serve` settings from a TOML file, layered
//! defaults → file → `PAYFAC_*` environment → flags (later wins), and
//! `payfac config`, which prints the result.
//!
//! clap fills every field from a flag, a variable or its default and
//! records which (`ArgMatches::value_source`); a file value replaces only
//! those that came from a default or from nowhere, so a flag's default
//! never hides the file. The merge runs on TOML tables and ends in serde
//! with `deny_unknown_fields`, so the file's keys and types are checked
//! against the very struct clap fills, with no second list of settings.

use std::path::Path;
use std::process::ExitCode;

use clap::ArgMatches;
use clap::parser::ValueSource;

use super::serve::Args;

/// Words that make a key's value a secret wherever it appears; printed
/// as `***`. URLs anywhere lose their password in any case.
const SECRET_WORDS: [&str; 3] = ["password", "secret", "token"];

/// `args` as clap made them from `matches` (the whole command line's),
/// with the `--config` file, if one is named, layered under flags and
/// environment variables.
pub fn layered(args: Args, matches: &ArgMatches) -> anyhow::Result<Args> {
    let Some(path) = args.config.clone() else {
        return Ok(args);
    };
    let matches = matches.subcommand().map_or(matches, |(_, sub)| sub);
    let text = super::read_file(&path)?;
    let file: toml::Table = text
        .parse()
        .map_err(|error| syntax_error(&path, &text, &error))?;
    let mut merged = toml::Table::try_from(&args)?;
    for (key, value) in file {
        // An unknown key goes in too, for serde to refuse by name; so does
        // `config`, which clap knows but the file may not set.
        let field = merged.contains_key(&key) && matches.try_contains_id(&key).is_ok();
        let given = field
            && matches!(
                matches.value_source(&key),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            );
        if !given {
            merged.insert(key, value);
        }
    }
    let mut layered: Args =
        serde_path_to_error::deserialize(merged).map_err(|error| file_error(&path, &error))?;
    layered.config = Some(path);
    Ok(layered)
}

/// `payfac config`: the effective settings on stdout, once `serve` would
/// accept them.
pub fn print(args: &Args) -> anyhow::Result<ExitCode> {
    super::serve::config(args)?;
    print!("{}", render(args)?);
    Ok(ExitCode::SUCCESS)
}

/// `args` as a `--config` file: every key in `payfac serve --help`'s
/// order, unset ones as comments, secrets as `***`.
fn render(args: &Args) -> anyhow::Result<String> {
    let table = toml::Table::try_from(args)?;
    let mut out = String::from(
        "# payfac serve's effective settings: defaults, then --config, then PAYFAC_* variables, then flags.\n\
         # Secrets are shown as ***: give them by PAYFAC_* variables, or put them back, before using this as a --config file.\n",
    );
    let command = <Args as clap::Args>::augment_args(clap::Command::new("serve"));
    for arg in command.get_arguments() {
        let key = arg.get_id().as_str();
        match table.get(key) {
            Some(value) => out.push_str(&format!("{key} = {}\n", redact(key, value.clone()))),
            None if key != "config" => out.push_str(&format!("# {key} is unset\n")),
            None => {}
        }
    }
    Ok(out)
}

/// `value` safe to print: the whole of it under a secret-sounding key,
/// and the password of any URL in it.
fn redact(key: &str, value: toml::Value) -> toml::Value {
    match value {
        _ if SECRET_WORDS.iter().any(|word| key.contains(word)) => "***".into(),
        toml::Value::String(text) => toml::Value::String(payfac_store::redact_url(&text)),
        toml::Value::Array(items) => {
            toml::Value::Array(items.into_iter().map(|item| redact(key, item)).collect())
        }
        other => other,
    }
}

/// A file that is not TOML: its name, the line and what is wrong there.
fn syntax_error(path: &Path, text: &str, error: &toml::de::Error) -> anyhow::Error {
    let message = error.message().replace('\n', " ");
    let line = error
        .span()
        .and_then(|span| text.get(..span.start))
        .map(|before| before.matches('\n').count() + 1);
    match line {
        Some(line) => anyhow::anyhow!("{}: line {line}: {message}", path.display()),
        None => anyhow::anyhow!("{}: {message}", path.display()),
    }
}

/// A key serde refused: the file and the key, by name.
fn file_error(path: &Path, error: &serde_path_to_error::Error<toml::de::Error>) -> anyhow::Error {
    let message = error.inner().message().replace('\n', " ");
    let unknown = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next());
    match unknown {
        Some(key) => anyhow::anyhow!(
            "{}: unknown key `{key}` (keys are `payfac serve` flags with - read as _, \
             see docs/CONFIGURATION.md)",
            path.display()
        ),
        None => anyhow::anyhow!("{}: `{}`: {message}", path.display(), error.path()),
    }
}

#[cfg(test)]
mod tests;
