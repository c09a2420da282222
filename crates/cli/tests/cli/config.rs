//! `--config FILE` and `payfac config`: the layering defaults → file →
//! `PAYFAC_*` variables → flags, the file's refusals, redaction, and a
//! service that listens where its file says.

use std::path::{Path, PathBuf};

use crate::helpers::{Output, Server, TestDb, http, payfac, run};

/// Writes `text` as `NAME` in the scratch directory; its path.
fn write(db: &TestDb, name: &str, text: &str) -> PathBuf {
    let path = db.path(name);
    std::fs::write(&path, text).expect("config file written");
    path
}

/// `payfac config ARGS` with `ENV` set, in the scratch directory.
fn config(db: &TestDb, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = payfac(db.dir.path());
    command.arg("config").args(args);
    for (name, value) in env {
        command.env(name, value);
    }
    run(&mut command)
}

/// The settings `payfac config` printed, read back as TOML.
#[track_caller]
fn effective(output: &Output) -> toml::Table {
    assert_eq!(output.code, 0, "{output:#?}");
    assert_eq!(output.stderr, "", "{output:#?}");
    output.stdout.parse().expect("payfac config prints TOML")
}

fn path_arg(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temp path")
}

#[test]
fn file_overrides_default_variable_overrides_file_flag_overrides_variable() {
    let db = TestDb::new();
    let file = write(
        &db,
        "payfac.toml",
        "code_ttl_secs = 111\nsession_idle_secs = 112\nsession_max_secs = 113\n\
         listen = \"127.0.0.1:7001\"\nsandbox = true\ntrusted_proxies = [\"10.0.0.0/8\"]\n\
         require_session_prefix = [\"/account\", \"/orders\"]\n",
    );
    let file = path_arg(&file);

    // Nothing but defaults.
    let plain = effective(&config(&db, &[], &[]));
    assert_eq!(plain["code_ttl_secs"].as_integer(), Some(300));
    assert_eq!(plain["listen"].as_str(), Some("127.0.0.1:8080"));
    assert_eq!(plain["sandbox"].as_bool(), Some(false));

    // The file over the defaults, lists as arrays; a setting it leaves
    // out keeps its default.
    let filed = effective(&config(&db, &["--config", file], &[]));
    assert_eq!(filed["code_ttl_secs"].as_integer(), Some(111));
    assert_eq!(filed["listen"].as_str(), Some("127.0.0.1:7001"));
    assert_eq!(filed["sandbox"].as_bool(), Some(true));
    assert_eq!(
        filed["require_session_prefix"],
        toml::Value::Array(vec!["/account".into(), "/orders".into()])
    );
    assert_eq!(filed["timestamp_window_secs"].as_integer(), Some(300));

    // Variables over the file, a list replaced whole, a switch turned off.
    let env = [
        ("PAYFAC_SESSION_IDLE_SECS", "222"),
        ("PAYFAC_CODE_TTL_SECS", "221"),
        ("PAYFAC_TRUSTED_PROXIES", "192.168.0.1,192.168.0.2"),
        ("PAYFAC_SANDBOX", "false"),
    ];
    let varied = effective(&config(&db, &["--config", file], &env));
    assert_eq!(varied["code_ttl_secs"].as_integer(), Some(221));
    assert_eq!(varied["session_idle_secs"].as_integer(), Some(222));
    assert_eq!(varied["session_max_secs"].as_integer(), Some(113));
    assert_eq!(varied["sandbox"].as_bool(), Some(false));
    assert_eq!(
        varied["trusted_proxies"],
        toml::Value::Array(vec!["192.168.0.1".into(), "192.168.0.2".into()])
    );

    // Flags over variables (and so over the file).
    let flagged = effective(&config(
        &db,
        &[
            "--config",
            file,
            "--code-ttl-secs",
            "333",
            "--listen",
            "127.0.0.1:7003",
        ],
        &env,
    ));
    assert_eq!(flagged["code_ttl_secs"].as_integer(), Some(333));
    assert_eq!(flagged["listen"].as_str(), Some("127.0.0.1:7003"));
    assert_eq!(flagged["session_idle_secs"].as_integer(), Some(222));
    assert_eq!(flagged["session_max_secs"].as_integer(), Some(113));

    // PAYFAC_CONFIG names the file as --config does.
    let by_variable = effective(&config(&db, &[], &[("PAYFAC_CONFIG", file)]));
    assert_eq!(by_variable["code_ttl_secs"].as_integer(), Some(111));
}

#[test]
fn the_printed_configuration_is_a_config_file_of_the_same_settings() {
    let db = TestDb::new();
    let first = config(&db, &["--listen", "127.0.0.1:7004", "--demo"], &[]);
    let printed = effective(&first);
    assert!(
        first.stdout.contains("\n# upstream is unset\n"),
        "{first:#?}"
    );
    let file = write(&db, "printed.toml", &first.stdout);
    let again = config(&db, &["--config", path_arg(&file)], &[]);
    assert_eq!(effective(&again), printed);
    assert_eq!(again.stdout, first.stdout);
}

#[test]
fn unknown_keys_are_refused_by_name_and_file() {
    let db = TestDb::new();
    let file = write(
        &db,
        "unknown.toml",
        "listen = \"127.0.0.1:7005\"\nlisten_addr = \"127.0.0.1:7006\"\n",
    );
    for subcommand in ["config", "serve"] {
        let output = run(payfac(db.dir.path()).args([subcommand, "--config", path_arg(&file)]));
        let line = output.refused("unknown key `listen_addr`");
        assert!(line.contains("unknown.toml"), "{line}");
    }
    // --config is no key of the file itself, and tables are not read.
    for (name, text, key) in [
        ("nested.toml", "config = \"other.toml\"\n", "config"),
        (
            "table.toml",
            "[gateway]\nupstream = \"http://a:1\"\n",
            "gateway",
        ),
    ] {
        let file = write(&db, name, text);
        let output = config(&db, &["--config", path_arg(&file)], &[]);
        output.refused(&format!("unknown key `{key}`"));
    }
}

#[test]
fn values_of_the_wrong_type_are_refused_by_key() {
    let db = TestDb::new();
    for (text, key) in [
        ("max_connections = \"many\"\n", "max_connections"),
        ("listen = 8080\n", "listen"),
        ("sandbox = \"yes\"\n", "sandbox"),
        ("trusted_proxies = \"10.0.0.1\"\n", "trusted_proxies"),
        ("code_ttl_secs = 1.5\n", "code_ttl_secs"),
    ] {
        let file = write(&db, "typed.toml", text);
        for subcommand in ["config", "serve"] {
            let output = run(payfac(db.dir.path()).args([subcommand, "--config", path_arg(&file)]));
            let line = output.refused(&format!("`{key}`"));
            assert!(line.contains("typed.toml"), "{line}");
        }
    }
}

#[test]
fn config_refuses_the_values_serve_refuses() {
    let db = TestDb::new();
    for (text, needle) in [
        ("code_ttl_secs = 0\n", "--code-ttl-secs must be positive"),
        ("timestamp_window_secs = 3601\n", "--timestamp-window-secs"),
        (
            "require_session_prefix = [\"account\"]\n",
            "--require-session-prefix",
        ),
        (
            "trusted_proxies = [\"not-an-address\"]\n",
            "--trusted-proxies",
        ),
        ("upstream = \"https://storefront:3000\"\n", "--upstream"),
    ] {
        let file = write(&db, "values.toml", text);
        config(&db, &["--config", path_arg(&file)], &[]).refused(needle);
    }
}

#[test]
fn an_upstream_with_a_password_is_refused_without_repeating_it() {
    let db = TestDb::new();
    let url = "http://shop:hunter2-not-printed@storefront:3000";
    let file = write(&db, "upstream.toml", &format!("upstream = \"{url}\"\n"));
    let by_file = config(&db, &["--config", path_arg(&file)], &[]);
    let by_flag =
        run(payfac(db.dir.path()).args(["serve", "--database-url", &db.url, "--upstream", url]));
    for output in [by_file, by_flag] {
        let line = output.refused("without credentials");
        assert!(!line.contains("hunter2"), "{line}");
    }
}

#[test]
fn a_missing_or_malformed_file_is_refused_by_path() {
    let db = TestDb::new();
    let missing = db.path("no-such.toml");
    let output = config(&db, &["--config", path_arg(&missing)], &[]);
    output.refused(path_arg(&missing));
    let output = run(payfac(db.dir.path())
        .args(["serve", "--database-url", &db.url])
        .env("PAYFAC_CONFIG", &missing));
    output.refused(path_arg(&missing));
    assert!(!db.path("p.db").exists(), "nothing opened: {output:#?}");

    let broken = write(
        &db,
        "broken.toml",
        "listen = \"127.0.0.1:7007\"\nsandbox = \n",
    );
    let line = config(&db, &["--config", path_arg(&broken)], &[]).refused("broken.toml");
    assert!(line.contains("line 2"), "{line}");
}

#[test]
fn payfac_config_prints_no_database_password() {
    let db = TestDb::new();
    let secret = "hunter2-not-printed";
    let url = format!("postgres://payfac:{secret}@db.internal:5432/payfac");
    let by_flag = config(&db, &["--database-url", &url], &[]);
    let by_file = {
        let file = write(&db, "secret.toml", &format!("database_url = \"{url}\"\n"));
        config(&db, &["--config", path_arg(&file)], &[])
    };
    let by_variable = config(&db, &[], &[("PAYFAC_DATABASE_URL", &url)]);
    let query = config(
        &db,
        &[
            "--database-url",
            &format!("postgres://db.internal/payfac?user=payfac&password={secret}"),
        ],
        &[],
    );
    for output in [&by_flag, &by_file, &by_variable] {
        assert!(!output.stdout.contains(secret), "{output:#?}");
        assert_eq!(
            effective(output)["database_url"].as_str(),
            Some("postgres://payfac:***@db.internal:5432/payfac")
        );
    }
    assert!(!query.stdout.contains(secret), "{query:#?}");
    assert_eq!(
        effective(&query)["database_url"].as_str(),
        Some("postgres://db.internal/payfac?user=payfac&password=***")
    );
}

#[test]
fn serve_listens_where_its_file_says() {
    let db = TestDb::new();
    let file = db.path("serve.toml");
    let server = Server::start_with(db.dir.path(), |port| {
        let text = format!(
            "listen = \"127.0.0.1:{port}\"\ndatabase_url = \"{}\"\nsandbox = true\n",
            db.url
        );
        std::fs::write(&file, text).expect("config file written");
        vec!["--config".to_owned(), path_arg(&file).to_owned()]
    });
    // The file's other settings hold too: sandbox serves the playground.
    let (status, response) =
        http(server.port, "GET", "/_payfac/playground", &[], b"").expect("it answers");
    assert_eq!(status, 200, "{response}");
    assert!(db.path("p.db").exists(), "the file's database_url is used");
    let port = server.port;
    drop(server);
    assert!(
        http(port, "GET", "/healthz", &[], b"").is_none(),
        "the service is stopped"
    );
}

#[test]
fn the_documented_example_file_is_accepted() {
    let db = TestDb::new();
    let docs = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/CONFIGURATION.md");
    let text = std::fs::read_to_string(docs).expect("docs/CONFIGURATION.md");
    let example = text
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a TOML example");
    let file = write(&db, "example.toml", example);
    let settings = effective(&config(&db, &["--config", path_arg(&file)], &[]));
    for line in example.lines().filter(|line| !line.starts_with('#')) {
        let (key, value) = line.split_once(" = ").expect("key = value");
        let value: toml::Table = format!("v = {value}").parse().expect("a TOML value");
        assert_eq!(settings[key], value["v"], "{key}");
    }
}
