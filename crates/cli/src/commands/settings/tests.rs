//! The reference page against clap, and the printed configuration
//! against the parser that reads it back.

use std::collections::BTreeMap;

use clap::{CommandFactory, Parser};

use super::super::{Cli, Command};
use super::{Args, redact, render};

/// The `serve` arguments clap knows, `--help` aside, as clap completes
/// them when it runs (a switch's default `false` included).
fn serve_arguments() -> Vec<clap::Arg> {
    let mut cli = Cli::command();
    cli.build();
    let serve = cli.find_subcommand("serve").expect("serve exists");
    serve
        .get_arguments()
        .filter(|arg| !matches!(arg.get_id().as_str(), "help" | "version"))
        .cloned()
        .collect()
}

/// The first four cells (flag, environment, file key, default) of every
/// table row of docs/CONFIGURATION.md that starts with a flag.
fn documented_rows() -> BTreeMap<String, Vec<String>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/CONFIGURATION.md");
    let text = std::fs::read_to_string(path).expect("docs/CONFIGURATION.md");
    let mut rows = BTreeMap::new();
    for line in text.lines().filter(|line| line.starts_with("| `--")) {
        let cells: Vec<String> = line
            .split('|')
            .skip(1)
            .take(4)
            .map(|cell| cell.trim().to_owned())
            .collect();
        let previous = rows.insert(cells[0].clone(), cells);
        assert!(previous.is_none(), "listed twice: {line}");
    }
    rows
}

#[test]
fn the_reference_page_lists_every_serve_setting_as_clap_knows_it() {
    let mut rows = documented_rows();
    for arg in serve_arguments() {
        let id = arg.get_id().as_str();
        let long = arg.get_long().expect("every serve setting is a long flag");
        assert_eq!(id, long.replace('-', "_"), "the file key is the flag");
        let flag = format!("`--{long}`");
        let row = rows
            .remove(&flag)
            .unwrap_or_else(|| panic!("{flag} is missing from docs/CONFIGURATION.md"));
        let env = arg.get_env().expect("every serve setting has a variable");
        assert_eq!(row[1], format!("`{}`", env.to_string_lossy()), "{flag}");
        let key = if id == "config" {
            "—".to_owned()
        } else {
            format!("`{id}`")
        };
        assert_eq!(row[2], key, "{flag}");
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|value| value.to_string_lossy().into_owned())
            .collect();
        let default = if !defaults.is_empty() {
            format!("`{}`", defaults.join(","))
        } else if matches!(arg.get_action(), clap::ArgAction::Append) {
            "`[]`".to_owned()
        } else {
            "unset".to_owned()
        };
        assert_eq!(row[3], default, "{flag}");
    }
    assert!(rows.is_empty(), "documented, unknown to clap: {rows:?}");
}

#[test]
fn config_takes_what_serve_takes() {
    let cli = Cli::command();
    let ids = |name: &str| -> Vec<String> {
        let command = cli.find_subcommand(name).expect("exists");
        command
            .get_arguments()
            .map(|arg| arg.get_id().to_string())
            .collect()
    };
    assert_eq!(ids("serve"), ids("config"));
}

/// `payfac serve ARGS`' settings, as clap alone makes them.
fn parsed(args: &[&str]) -> Args {
    let argv = ["payfac", "serve"].iter().chain(args);
    match Cli::try_parse_from(argv).expect("valid arguments").command {
        Command::Serve(args) => args,
        other => panic!("not serve: {other:?}"),
    }
}

#[test]
fn the_printed_configuration_reads_back_as_the_same_settings() {
    let args = parsed(&[
        "--listen",
        "127.0.0.1:9999",
        "--admin-listen",
        "127.0.0.1:9998",
        "--trusted-proxies",
        "10.0.0.0/8,192.168.0.1",
        "--sandbox",
    ]);
    let printed = render(&args).expect("renders");
    assert!(
        printed.contains("\n# metrics_listen is unset\n"),
        "{printed}"
    );
    let keys: Vec<&str> = printed
        .lines()
        .filter_map(|line| line.trim_start_matches("# ").split([' ', '=']).next())
        .collect();
    assert!(!keys.contains(&"config"), "--config is no key: {printed}");
    let back: Args = toml::from_str(&printed).expect("a valid --config file");
    assert_eq!(
        toml::Table::try_from(&back).unwrap(),
        toml::Table::try_from(&args).unwrap()
    );
}

#[test]
fn secrets_are_redacted_by_key_and_in_any_url() {
    let url = "postgres://payfac:hunter2@db/payfac?password=hunter3";
    assert_eq!(
        redact("database_url", url.into()).as_str(),
        Some("postgres://payfac:***@db/payfac?password=***")
    );
    for key in ["admin_token", "client_secret", "smtp_password"] {
        assert_eq!(redact(key, "plain".into()).as_str(), Some("***"), "{key}");
        let list = toml::Value::Array(vec!["a".into(), "b".into()]);
        assert_eq!(redact(key, list).as_str(), Some("***"), "{key}");
    }
    let listed = toml::Value::Array(vec!["http://u:p@h".into(), "/plain".into()]);
    assert_eq!(
        redact("some_urls", listed),
        toml::Value::Array(vec!["http://u:***@h".into(), "/plain".into()])
    );
    assert_eq!(redact("listen", 5.into()), toml::Value::Integer(5));
}
