//! Races settled by the database: exactly one winner.

use std::collections::HashSet;

use crate::helpers::{Call, spawn_app};

#[tokio::test]
async fn twenty_identical_requests_at_once_give_exactly_one_0000() {
    let app = spawn_app().await;
    let call = Call::buyer("U1", "a@example.com");
    let answers = futures_util::future::join_all((0..20).map(|_| app.send(&call))).await;
    let codes: Vec<&str> = answers.iter().map(|a| a.code()).collect();
    assert_eq!(
        codes.iter().filter(|c| **c == "0000").count(),
        1,
        "{codes:?}"
    );
    assert_eq!(
        codes.iter().filter(|c| **c == "10003").count(),
        19,
        "{codes:?}"
    );
    assert_eq!(app.count("codes"), 1);
}

#[tokio::test]
async fn ten_concurrent_first_syncs_of_one_buyer_share_one_user_id() {
    let app = spawn_app().await;
    let calls: Vec<Call> = (0..10)
        .map(|_| Call::buyer("NEW1", "n@example.com"))
        .collect();
    let answers = futures_util::future::join_all(calls.iter().map(|c| app.send(c))).await;
    assert!(answers.iter().all(|a| a.code() == "0000"));
    let ids: HashSet<String> = answers.iter().map(|a| a.user_id()).collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let codes: HashSet<String> = answers.iter().map(|a| a.code_value()).collect();
    assert_eq!(codes.len(), 10);
    assert_eq!(app.count("buyers"), 1);
}
