//! The operator's storage commands (docs/OPERATIONS.md, "Backups" and
//! "Upgrading"): `payfac migrate` and `migrate --check` on both stores,
//! `payfac backup` of a serving SQLite database restored and served
//! again, and read commands that refuse a database that does not exist.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use payfac_signing::SigningKey;
use payfac_test_support::postgres::TestDatabase;
use serde_json::Value;

use crate::helpers::{Server, TestDb, read, run, signed_user_sync, unix_now, vector};

/// This release's migrations, in order (both stores number them alike
/// from 4 on; 2 and 3 shipped in opposite orders).
const SQLITE_MIGRATIONS: [&str; 10] = [
    "schema",
    "nonce_log",
    "session_ids",
    "nonce_retention",
    "admin_api",
    "identity_keys",
    "server_secrets",
    "pending_sessions",
    "admin_token_expiry",
    "oidc_provider",
];
const POSTGRES_MIGRATIONS: [&str; 10] = [
    "schema",
    "session_ids",
    "nonce_log",
    "nonce_retention",
    "admin_api",
    "identity_keys",
    "server_secrets",
    "pending_sessions",
    "admin_token_expiry",
    "oidc_provider",
];

fn lines(prefix: &str, names: &[&str], first: usize) -> String {
    names
        .iter()
        .enumerate()
        .map(|(index, name)| format!("{prefix}\t{}\t{name}\n", first + index))
        .collect()
}

// ---------------------------------------------------------------- migrate

/// `migrate --check` lists what `migrate` then applies, changes nothing
/// itself, and exits 1 while anything is pending; run against `url`
/// through `payfac` with `database_url`. `downgrade` makes the database
/// look one release older (without the latest migration).
fn migrate_and_check(
    db: &TestDb,
    url: &str,
    names: &[&str],
    schema_untouched: &dyn Fn(),
    downgrade: &dyn Fn(),
) {
    let payfac = |args: &[&str]| {
        run(crate::helpers::payfac(db.dir.path())
            .args(args)
            .arg("--database-url")
            .arg(url))
    };
    let latest = names.len();
    let check = payfac(&["migrate", "--check"]);
    assert_eq!(check.code, 1, "{check:#?}");
    assert_eq!(check.stdout, lines("pending", names, 1), "{check:#?}");
    assert_eq!(
        check.stderr,
        format!(
            "payfac: {latest} migration(s) pending (schema version 0 of {latest}); run payfac migrate\n"
        )
    );
    schema_untouched();

    let up_to_date = format!("schema version {latest}: up to date\n");
    let applied = payfac(&["migrate"]);
    assert_eq!(applied.code, 0, "{applied:#?}");
    assert_eq!(
        applied.stdout,
        format!("{}{up_to_date}", lines("applied", names, 1))
    );
    let check = payfac(&["migrate", "--check"]);
    assert_eq!(
        (check.code, check.stdout.as_str(), check.stderr.as_str()),
        (0, up_to_date.as_str(), "")
    );
    let again = payfac(&["migrate"]);
    assert_eq!(again.stdout, up_to_date, "{again:#?}");

    // Back to the version before the latest: exactly the latest is pending.
    downgrade();
    let last = format!("{latest}\t{}\n", names[latest - 1]);
    let check = payfac(&["migrate", "--check"]);
    assert_eq!(check.code, 1, "{check:#?}");
    assert_eq!(check.stdout, format!("pending\t{last}"));
    let applied = payfac(&["migrate"]);
    assert_eq!(
        applied.stdout,
        format!("applied\t{last}{up_to_date}"),
        "{applied:#?}"
    );
}

#[test]
fn migrate_applies_what_check_lists_on_sqlite() {
    let db = TestDb::new();
    let file = db.path("p.db");
    // An empty file is a database of version 0.
    std::fs::write(&file, b"").unwrap();
    migrate_and_check(
        &db,
        &db.url,
        &SQLITE_MIGRATIONS,
        &|| assert_eq!(std::fs::metadata(&file).unwrap().len(), 0, "--check wrote"),
        &|| {
            let connection = rusqlite::Connection::open(&file).unwrap();
            connection
                .execute_batch(
                    "DROP TABLE oidc_access_tokens; DROP TABLE oidc_codes; DROP TABLE oidc_clients; DROP TABLE oidc_keys; PRAGMA user_version = 9;",
                )
                .unwrap();
        },
    );
    // The service starts on the migrated file.
    let server = Server::start(db.dir.path(), &db.url, &[]);
    drop(server);

    // A database a newer release migrated is left as it is.
    rusqlite::Connection::open(&file)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let check = db.payfac(&["migrate", "--check"]);
    assert_eq!(
        (check.code, check.stdout.as_str()),
        (
            0,
            "schema version 99: newer than this release's 10, nothing to apply\n"
        )
    );
}

#[test]
#[ignore = "needs PostgreSQL at PAYFAC_TEST_POSTGRES_URL; scripts/test.sh runs it"]
fn migrate_applies_what_check_lists_on_postgres() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let database = runtime.block_on(TestDatabase::create());
    let client = runtime.block_on(database.connect());
    let tables = || {
        runtime.block_on(async {
            client
                .query_one(
                    "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
                    &[],
                )
                .await
                .unwrap()
                .get::<_, i64>(0)
        })
    };
    let downgrade = || {
        runtime
            .block_on(client.batch_execute(
                "DROP TABLE oidc_access_tokens; DROP TABLE oidc_codes; DROP TABLE oidc_clients; DROP TABLE oidc_keys; DELETE FROM schema_migrations WHERE version = 10",
            ))
            .unwrap()
    };
    migrate_and_check(
        &TestDb::new(),
        &database.url,
        &POSTGRES_MIGRATIONS,
        &|| assert_eq!(tables(), 0, "--check created a table"),
        &downgrade,
    );
    assert!(tables() > 5);
}

/// A URL that cannot work is one line naming it, without its password.
#[test]
fn migrate_reports_an_unreachable_database_in_one_line() {
    let db = TestDb::new();
    let url = "postgres://payfac:hunter2@127.0.0.1:1/payfac?connect_timeout=1";
    for args in [&["migrate"][..], &["migrate", "--check"]] {
        let output = run(crate::helpers::payfac(db.dir.path())
            .args(args)
            .arg("--database-url")
            .arg(url));
        let line = output.refused("storage unavailable");
        assert!(!line.contains("hunter2"), "{line}");
    }
}

// ----------------------------------------------------------------- backup

/// A user-sync for `user` signed at `timestamp` with `nonce`; the HTTP
/// status and the envelope.
fn post(port: u16, key: &SigningKey, timestamp: &str, nonce: &str, user: &str) -> (u16, Value) {
    let body = format!(r#"{{"merchantUserNo":"{user}","email":"{user}@example.com"}}"#);
    signed_user_sync(port, key, "MB", &body, timestamp, nonce)
}

/// A request signed once, to send and later replay unchanged.
struct Signed {
    timestamp: String,
    nonce: String,
    user: String,
}

impl Signed {
    fn new(nonce: String, user: &str) -> Self {
        Self {
            timestamp: unix_now().to_string(),
            nonce,
            user: user.to_owned(),
        }
    }

    fn send(&self, port: u16, key: &SigningKey) -> (u16, Value) {
        post(port, key, &self.timestamp, &self.nonce, &self.user)
    }
}

#[track_caller]
fn assert_accepted((status, envelope): (u16, Value)) {
    assert_eq!(
        (status, &envelope["code"]),
        (200, &Value::from("0000")),
        "{envelope}"
    );
}

#[track_caller]
fn assert_replay((status, envelope): (u16, Value)) {
    assert_eq!(status, 401, "{envelope}");
    assert_eq!(envelope["debug"]["reason"], "nonce_reused", "{envelope}");
}

/// The backup is taken while a client keeps writing; restored (copied
/// into place) and served again, it refuses a replay of every request
/// acknowledged before the backup began. A request accepted *after* the
/// backup is not in it, and its replay is accepted while its timestamp is
/// inside the window: the gap docs/OPERATIONS.md ("Restoring") describes.
#[test]
fn a_backup_taken_while_serving_restores_and_refuses_earlier_replays() {
    let db = TestDb::new();
    db.add_merchant("MB", &vector("merchant-test.pub.pem"));
    let key = Arc::new(SigningKey::from_pem(&read(&vector("merchant-test.key.pem"))).unwrap());
    let server = Server::start(db.dir.path(), &db.url, &["--sandbox"]);
    let port = server.port;

    let first = Signed::new(format!("before{}", std::process::id()), "U0");
    assert_accepted(first.send(port, &key));

    // A client writing all along: each acknowledged request, with when
    // its answer arrived.
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged: Arc<Mutex<Vec<(Signed, Instant)>>> = Arc::default();
    let load = {
        let (stop, acknowledged, key) = (stop.clone(), acknowledged.clone(), key.clone());
        std::thread::spawn(move || {
            let mut index = 0;
            while !stop.load(Ordering::Relaxed) && index < 5_000 {
                let signed = Signed::new(format!("load{index}x{}", std::process::id()), "U1");
                let (status, envelope) = signed.send(port, &key);
                assert_eq!(status, 200, "{envelope}");
                acknowledged.lock().unwrap().push((signed, Instant::now()));
                index += 1;
            }
        })
    };
    let count = || acknowledged.lock().unwrap().len();
    let wait_for = |target: usize| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while count() < target {
            assert!(
                Instant::now() < deadline,
                "the client stalled at {}",
                count()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_for(20);

    let out = db.path("backup.db");
    let began = Instant::now();
    let backup = db.payfac(&["backup".as_ref(), "--out".as_ref(), out.as_os_str()]);
    let ended = Instant::now();
    let summary: Value = serde_json::from_str(&backup.one_line()).unwrap();
    assert_eq!(
        summary["schemaVersion"],
        SQLITE_MIGRATIONS.len(),
        "{summary}"
    );
    assert_eq!(
        summary["bytes"].as_u64(),
        Some(std::fs::metadata(&out).unwrap().len())
    );
    #[cfg(unix)]
    assert_eq!(crate::helpers::mode(&out), 0o600);
    let during = count();
    wait_for(during + 20);
    stop.store(true, Ordering::Relaxed);
    load.join().expect("the writing client");
    assert!(
        acknowledged
            .lock()
            .unwrap()
            .iter()
            .any(|(_, at)| *at > ended),
        "the service kept writing after the backup"
    );

    // Accepted after the backup finished: not in it.
    let after = Signed::new(format!("after{}", std::process::id()), "U2");
    assert_accepted(after.send(port, &key));
    drop(server);

    // Restore: the backup becomes the database file; the old file's
    // -wal and -shm must go with it.
    let file = db.path("p.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
    std::fs::copy(&out, &file).unwrap();
    let integrity: String = rusqlite::Connection::open(&file)
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");

    let restored = Server::start(db.dir.path(), &db.url, &["--sandbox"]);
    assert_replay(first.send(restored.port, &key));
    let before_backup: Vec<Signed> = std::mem::take(&mut *acknowledged.lock().unwrap())
        .into_iter()
        .filter(|(_, at)| *at < began)
        .map(|(signed, _)| signed)
        .collect();
    assert!(before_backup.len() >= 20);
    for signed in &before_backup {
        assert_replay(signed.send(restored.port, &key));
    }
    // The documented gap: a request accepted after the backup replays.
    assert_accepted(after.send(restored.port, &key));
    assert_replay(after.send(restored.port, &key));
}

#[test]
fn backup_refuses_an_existing_file_and_postgres() {
    let db = TestDb::new();
    db.add_merchant("MB", &vector("merchant-test.pub.pem"));
    let out = db.path("taken.db");
    std::fs::write(&out, "keep me").unwrap();
    db.payfac(&["backup".as_ref(), "--out".as_ref(), out.as_os_str()])
        .refused("already exists");
    assert_eq!(read(&out), "keep me");

    let fresh = db.path("fresh.db");
    let output = run(crate::helpers::payfac(db.dir.path())
        .args(["backup", "--out"])
        .arg(&fresh)
        .args([
            "--database-url",
            "postgres://payfac:hunter2@db.invalid/payfac",
        ]));
    let line = output.refused("pg_dump");
    assert!(!line.contains("hunter2"), "{line}");
    assert!(!fresh.exists());
}

// ------------------------------------------------- a database that is not there

/// Commands that read, or change what must already exist, refuse a
/// SQLite URL whose file is missing, in one line naming the URL, and
/// create nothing.
#[test]
fn read_commands_refuse_a_database_that_does_not_exist() {
    let db = TestDb::new();
    let file = db.path("p.db");
    let out = db.path("copy.db");
    let commands: &[&[&str]] = &[
        &["audit"],
        &["audit", "--json"],
        &["merchant", "list"],
        &["merchant", "list", "--json"],
        &["merchant", "disable", "ACME"],
        &["merchant", "enable", "ACME"],
        &["merchant", "key", "remove", "ACME", "0011223344556677"],
        &["admin-token", "list"],
        &["admin-token", "revoke", "ops"],
        &["buyer", "show", "--user-id", "1739298043323322369"],
        &[
            "buyer",
            "export",
            "--merchant",
            "ACME",
            "--merchant-user-no",
            "U1",
        ],
        &[
            "buyer",
            "revoke-sessions",
            "--user-id",
            "1739298043323322369",
        ],
        &["buyer", "erase", "--user-id", "1739298043323322369"],
        &["migrate", "--check"],
        &["backup", "--out", out.to_str().unwrap()],
    ];
    for args in commands {
        let output = db.payfac(args);
        let line = output.refused(&format!("no database at {}", db.url));
        assert!(line.contains("does not exist"), "{args:?}: {line}");
        assert!(!file.exists(), "{args:?} created {}", file.display());
        assert!(!out.exists(), "{args:?} created {}", out.display());
    }
    // The default URL names payfac.db in the working directory.
    let output = db.payfac_plain(&["merchant", "list"]);
    output.refused("no database at sqlite://payfac.db");
    assert!(!db.path("payfac.db").exists());
}

/// What adds something still creates the database, as before.
#[test]
fn adding_commands_and_migrate_create_the_database() {
    for args in [
        &["admin-token", "create", "ops"][..],
        &["identity-key", "rotate"],
        &["migrate"],
    ] {
        let db = TestDb::new();
        let output = db.payfac(args);
        assert_eq!(output.code, 0, "{args:?}: {output:#?}");
        assert!(db.path("p.db").exists(), "{args:?}");
        assert_eq!(db.payfac(&["migrate", "--check"]).code, 0, "{args:?}");
    }
    let db = TestDb::new();
    db.add_merchant("ACME", &vector("merchant-test.pub.pem"));
    assert!(Path::new(&db.path("p.db")).exists());
}

/// Issue 29: starting on a new PostgreSQL database logs no server NOTICE
/// ("trigger … does not exist, skipping" from the idempotent migrations),
/// which reads like an error in the service's log.
#[test]
#[ignore = "needs PostgreSQL at PAYFAC_TEST_POSTGRES_URL; scripts/test.sh runs it"]
fn a_first_start_on_postgres_logs_no_notice() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let database = runtime.block_on(TestDatabase::create());
    let db = TestDb::new();
    let server = Server::start(db.dir.path(), &database.url, &[]);
    let log = format!("{}{}", server.stdout(), server.stderr());
    drop(server);
    assert!(!log.is_empty(), "the service logs its start");
    for needle in ["NOTICE", "skipping"] {
        assert!(!log.contains(needle), "{needle} in the start-up log: {log}");
    }
}
