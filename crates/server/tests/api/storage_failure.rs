//! docs/PROTOCOL.md §3, 10004: a storage failure persists nothing and the same request
//! may be retried unchanged.

use std::time::Duration;

use crate::helpers::{Call, eventually, spawn_app};

#[tokio::test]
async fn a_locked_database_answers_10004_and_the_retry_succeeds() {
    let app = spawn_app().await;
    // Another process holds the write lock longer than the busy timeout.
    let blocker = rusqlite::Connection::open(&app.db_path).unwrap();
    blocker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let call = Call::buyer("U1", "a@example.com");
    let answer = tokio::time::timeout(Duration::from_secs(20), app.send(&call))
        .await
        .expect("the request ends");
    assert_eq!(
        (answer.status, answer.code()),
        (500, "10004"),
        "{}",
        answer.json
    );
    assert!(
        answer.json["msg"]
            .as_str()
            .unwrap()
            .starts_with("Server error.")
    );
    blocker.execute_batch("ROLLBACK").unwrap();
    drop(blocker);
    assert_eq!(
        app.count("nonces") + app.count("buyers") + app.count("codes"),
        0
    );
    let retried = app.send(&call).await;
    assert_eq!(retried.code(), "0000", "{}", retried.json);
}

#[tokio::test]
async fn past_the_pending_write_limit_callers_get_503_with_retry_after() {
    let app = crate::helpers::spawn_app_with(|config| config.max_pending_writes = 1).await;
    // Hold the database so the first request waits on storage.
    let blocker = rusqlite::Connection::open(&app.db_path).unwrap();
    blocker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let waiting_call = Call::buyer("U1", "a@example.com");
    let waiting = app.send(&waiting_call);
    let refused = async {
        let waits = eventually(Duration::from_secs(10), || async {
            app.backlog.pending_writes() == 1
        });
        assert!(waits.await, "the first call never took its permit");
        app.send(&Call::buyer("U2", "b@example.com")).await
    };
    let (first, second) = tokio::join!(waiting, refused);
    blocker.execute_batch("ROLLBACK").unwrap();
    assert_eq!(
        (second.status, second.code()),
        (503, "10004"),
        "{}",
        second.json
    );
    assert_eq!(second.headers["retry-after"], "1");
    assert_eq!(first.code(), "10004", "the held request failed on the lock");
    assert_eq!(app.count("nonces"), 0);
}

/// Issue #19: sign-ins need no authentication, so their queue is bounded
/// too. Past `max_pending_sign_ins` a sign-in answers 503 with
/// `Retry-After` at once (not after the storage wait), and its code stays
/// good.
#[tokio::test]
async fn past_the_pending_sign_in_limit_sign_ins_get_503_at_once() {
    let app = crate::helpers::spawn_app_with(|config| config.max_pending_sign_ins = 1).await;
    let (held_code, shed_code) = (app.code_for("U1").await, app.code_for("U2").await);
    // Hold the database so the first sign-in waits on storage.
    let blocker = rusqlite::Connection::open(&app.db_path).unwrap();
    blocker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let held_path = format!("/account?authorizationCode={held_code}");
    let held = app.get(&held_path, None);
    let shed = async {
        let waits = eventually(Duration::from_secs(10), || async {
            app.backlog.pending_sign_ins() == 1
        });
        assert!(waits.await, "the first sign-in never took its permit");
        let started = std::time::Instant::now();
        let response = app
            .get(&format!("/account?authorizationCode={shed_code}"), None)
            .await;
        (response, started.elapsed())
    };
    let (held, (shed, took)) = tokio::join!(held, shed);
    blocker.execute_batch("ROLLBACK").unwrap();
    assert_eq!(shed.status(), 503);
    assert_eq!(shed.headers()["retry-after"], "1");
    assert!(took < Duration::from_secs(1), "shed after {took:?}");
    assert_eq!(held.status(), 503, "the held sign-in failed on the lock");
    let retried = app
        .get(&format!("/account?authorizationCode={shed_code}"), None)
        .await;
    assert!(
        crate::helpers::session_set_by(&retried).is_some(),
        "the shed code still signs in"
    );
}
