//! docs/RELIABILITY.md, "Overload": far more concurrent calls than
//! storage can take. The excess answers 503 with `Retry-After` (the 10004
//! envelope for merchant calls) at once instead of queueing, memory stays
//! bounded, and the service is normal as soon as the load drops.
//!
//! Storage is made slow for real: another connection holds SQLite's write
//! lock while a burst arrives, as a long checkpoint or a slow disk would,
//! until every permit is taken and every other call answered.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::future::join_all;

use crate::helpers::{Call, eventually, session_set_by, spawn_app_with};

const PERMITS: usize = 16;
const BURST: usize = 300;
const ROUNDS: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_beyond_the_permits_is_shed_at_once_and_the_service_recovers() {
    let app = spawn_app_with(|config| {
        config.max_pending_writes = PERMITS;
        config.max_pending_sign_ins = PERMITS;
    })
    .await;
    let mut rss = vec![payfac_server::observability::rss_kib()];
    for round in 0..ROUNDS {
        // Codes to redeem during the burst, issued while storage is free.
        let mut codes = Vec::new();
        for i in 0..BURST / 3 {
            codes.push(app.code_for(&format!("R{round}C{i}")).await);
        }
        let calls: Vec<Call> = (0..BURST)
            .map(|i| Call::buyer(&format!("R{round}U{i}"), "burst@example.com"))
            .collect();

        let blocker = rusqlite::Connection::open(&app.db_path).unwrap();
        blocker.execute_batch("BEGIN EXCLUSIVE").unwrap();
        let held = Instant::now();
        // Storage stays held until the burst has met the bounds: every
        // permit taken (the calls holding one wait on storage) and every
        // other call answered. Those answers came while storage was held,
        // so they were shed, not queued.
        let answered = Arc::new(AtomicUsize::new(0));
        let beyond_the_permits = BURST + codes.len() - 2 * PERMITS;
        let release = tokio::spawn({
            let (backlog, answered) = (app.backlog.clone(), answered.clone());
            async move {
                let met = eventually(Duration::from_secs(4), || async {
                    backlog.pending_writes() == PERMITS
                        && backlog.pending_sign_ins() == PERMITS
                        && answered.load(Ordering::SeqCst) >= beyond_the_permits
                })
                .await;
                blocker.execute_batch("ROLLBACK").unwrap();
                let released = held.elapsed();
                assert!(
                    met,
                    "within 4 s: {} writes and {} sign-ins hold permits, {} calls answered",
                    backlog.pending_writes(),
                    backlog.pending_sign_ins(),
                    answered.load(Ordering::SeqCst)
                );
                released
            }
        });
        let (app, answered) = (&app, &answered);
        let syncs = join_all(calls.iter().map(|call| async move {
            let started = Instant::now();
            let answer = app.send(call).await;
            answered.fetch_add(1, Ordering::SeqCst);
            (answer, started.elapsed())
        }));
        let sign_ins = join_all(codes.iter().map(|code| async move {
            let started = Instant::now();
            let response = app
                .get(&format!("/account?authorizationCode={code}"), None)
                .await;
            answered.fetch_add(1, Ordering::SeqCst);
            (response, started.elapsed())
        }));
        let (syncs, sign_ins) = tokio::join!(syncs, sign_ins);
        let released = release.await.unwrap();

        let (mut accepted, mut shed) = (0, Vec::new());
        for (answer, took) in &syncs {
            match (answer.status, answer.code()) {
                (200, "0000") => accepted += 1,
                (503, "10004") => {
                    assert_eq!(answer.headers["retry-after"], "1");
                    assert_eq!(answer.json["data"], serde_json::Value::Null);
                    shed.push(*took);
                }
                other => panic!("unexpected answer {other:?}: {}", answer.json),
            }
        }
        let mut signed_in = 0;
        let mut shed_codes = Vec::new();
        for ((response, took), code) in sign_ins.iter().zip(&codes) {
            match response.status().as_u16() {
                303 if session_set_by(response).is_some() => signed_in += 1,
                503 => {
                    assert_eq!(response.headers()["retry-after"], "1");
                    shed.push(*took);
                    shed_codes.push(code);
                }
                other => panic!("unexpected sign-in answer {other}"),
            }
        }
        // No more than the permits waited on storage; the rest were shed,
        // each before the lock was released (not after queueing behind it).
        assert!(accepted <= PERMITS, "{accepted} calls were admitted");
        assert!(signed_in <= PERMITS, "{signed_in} sign-ins were admitted");
        assert!(shed.len() >= BURST + codes.len() - 2 * PERMITS);
        let slowest_shed = shed.iter().max().copied().unwrap_or_default();
        assert!(
            slowest_shed < released,
            "a shed call waited {slowest_shed:?}, the lock was released after {released:?}"
        );
        // Once the load is gone the service is normal: a call and a shed
        // code (still unspent) succeed at once.
        let started = Instant::now();
        let after = app
            .send(&Call::buyer(&format!("R{round}AFTER"), "a@example.com"))
            .await;
        assert_eq!(after.code(), "0000", "{}", after.json);
        for code in shed_codes.iter().take(5) {
            let response = app
                .get(&format!("/account?authorizationCode={code}"), None)
                .await;
            assert!(session_set_by(&response).is_some(), "a shed code was spent");
        }
        assert!(started.elapsed() < Duration::from_secs(2));
        rss.push(payfac_server::observability::rss_kib());
        eprintln!(
            "round {round}: {accepted} calls and {signed_in} sign-ins admitted, {} shed \
             (slowest {slowest_shed:?}); RSS {} KiB",
            shed.len(),
            rss.last().unwrap()
        );
    }
    // Memory: later rounds do not keep what earlier ones used.
    let growth = rss[ROUNDS].saturating_sub(rss[1]);
    assert!(
        growth < 32 * 1024,
        "RSS grew {growth} KiB between rounds 1 and {ROUNDS}: {rss:?}"
    );
}
