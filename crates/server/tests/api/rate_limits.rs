//! Abuse limits (issue #18): per-client failure budgets and per-merchant
//! call budgets, 429 with `Retry-After`, counted in /metrics.

use std::net::{IpAddr, Ipv4Addr};

use payfac_server::ratelimit::{IpNet, RateLimits};

use crate::helpers::{Call, answer, spawn_app_with};

/// A client whose connections come from `address` (a loopback address:
/// all of 127.0.0.0/8 reaches the server on 127.0.0.1).
fn client_from(address: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .local_address(IpAddr::V4(Ipv4Addr::from(address)))
        .build()
        .unwrap()
}

fn limits(failures: u32, burst: u32) -> RateLimits {
    RateLimits {
        failures_per_sec: failures,
        failures_burst: burst,
        ..RateLimits::default()
    }
}

/// A bounded load test on loopback: one client (127.0.0.3) sends 400 bad
/// calls as fast as it can, 16 at a time, while another (127.0.0.2) keeps
/// making good ones. The bad client's first calls get their real 10003, the
/// rest 429 with 10004 and `Retry-After`; every good call succeeds.
#[tokio::test]
async fn a_burst_of_bad_calls_is_refused_while_another_client_succeeds() {
    let app = spawn_app_with(|config| config.rate_limits = limits(20, 50)).await;
    let bad = client_from([127, 0, 0, 3]);
    let good = client_from([127, 0, 0, 2]);

    let url = app.user_url(&Call::new("{}"));
    let flood = {
        let bad = bad.clone();
        let url = url.clone();
        async move {
            let mut statuses = Vec::new();
            let mut sent = 0;
            while sent < 400 {
                let batch = (0..16).map(|_| {
                    bad.post(&url)
                        .header("timestamp", "1")
                        .header("nonce", "abcdefgh")
                        .header("signature", "AAAA")
                        .header("content-type", "application/json")
                        .body("{}")
                        .send()
                });
                for response in futures_util::future::join_all(batch).await {
                    let answer = answer(response.unwrap()).await;
                    statuses.push((answer.status, answer.code().to_owned(), answer.headers));
                }
                sent += 16;
            }
            statuses
        }
    };
    let goods = async {
        let mut codes = Vec::new();
        for i in 0..20 {
            let call = Call::buyer(&format!("GOOD{i}"), &format!("good{i}@example.com"));
            let request = good
                .post(app.user_url(&call))
                .header("timestamp", &call.timestamp)
                .header("nonce", &call.nonce)
                .header("signature", call.sign_with(&app.key))
                .header("content-type", "application/json")
                .body(call.body.clone());
            let answer = answer(request.send().await.unwrap()).await;
            codes.push((answer.status, answer.code().to_owned()));
        }
        codes
    };
    let (statuses, codes) = tokio::join!(flood, goods);

    assert!(
        codes
            .iter()
            .all(|(status, code)| *status == 200 && code == "0000"),
        "the other client's good calls: {codes:?}"
    );
    let real = statuses
        .iter()
        .filter(|(status, ..)| *status == 401)
        .count();
    let limited: Vec<_> = statuses
        .iter()
        .filter(|(status, ..)| *status == 429)
        .collect();
    assert_eq!(real + limited.len(), statuses.len());
    assert!(real >= 50, "the burst is answered for real first: {real}");
    assert!(
        limited.len() >= 200,
        "most of the flood is refused: {}",
        limited.len()
    );
    for (_, code, headers) in &limited {
        assert_eq!(code, "10004");
        let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(retry >= 1);
    }
    // The bad client's sign-ins are refused too, its code unspent.
    let code = app.code_for("U1").await;
    let response = bad
        .get(format!("{}/account?authorizationCode={code}", app.address))
        .send()
        .await
        .unwrap();
    if response.status() == 429 {
        assert!(response.headers().contains_key("retry-after"));
        let other = good
            .get(format!("{}/account?authorizationCode={code}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(other.status(), 303);
        assert!(
            crate::helpers::session_set_by(&other).is_some(),
            "the code was unspent"
        );
    }
    let metrics = app.metrics().await;
    assert!(
        crate::helpers::counted(
            &metrics,
            r#"payfac_rate_limited_total{limit="client_failures",kind="merchant_api"}"#
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn refused_codes_from_one_client_are_throttled() {
    let app = spawn_app_with(|config| config.rate_limits = limits(1, 5)).await;
    let guesser = client_from([127, 0, 0, 4]);
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let response = guesser
            .get(format!(
                "{}/account?authorizationCode={}",
                app.address,
                "0".repeat(32)
            ))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            assert_eq!(response.headers()["retry-after"], "1");
            assert_eq!(response.headers()["cache-control"], "no-store");
        }
    }
    assert_eq!(&statuses[..5], &[303; 5], "{statuses:?}");
    assert!(
        statuses[6..].iter().all(|status| *status == 429),
        "{statuses:?}"
    );
    // Pages without a code are never limited.
    let page = guesser
        .get(format!("{}/account", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    // Another client signs in.
    let code = app.code_for("U2").await;
    let response = client_from([127, 0, 0, 5])
        .get(format!("{}/account?authorizationCode={code}", app.address))
        .send()
        .await
        .unwrap();
    assert!(crate::helpers::session_set_by(&response).is_some());
}

#[tokio::test]
async fn a_merchant_over_its_call_budget_gets_429_with_10004() {
    let app = spawn_app_with(|config| {
        config.rate_limits = RateLimits {
            merchant_calls_per_sec: 1,
            merchant_calls_burst: 2,
            ..RateLimits::default()
        }
    })
    .await;
    let mut answers = Vec::new();
    for i in 0..3 {
        answers.push(
            app.send(&Call::buyer(&format!("M{i}"), "m@example.com"))
                .await,
        );
    }
    assert_eq!(answers[0].code(), "0000");
    assert_eq!(answers[1].code(), "0000");
    assert_eq!(answers[2].status, 429);
    assert_eq!(answers[2].code(), "10004");
    assert!(
        answers[2].json["msg"]
            .as_str()
            .unwrap()
            .contains("Rate limit exceeded"),
        "{}",
        answers[2].json
    );
    assert!(answers[2].headers.contains_key("retry-after"));
    assert_eq!(
        app.count("buyers"),
        2,
        "nothing stored for the refused call"
    );
}

#[tokio::test]
async fn forwarded_for_names_the_client_behind_a_trusted_proxy() {
    let app = spawn_app_with(|config| {
        config.rate_limits = RateLimits {
            trusted_proxies: vec![IpNet::parse("127.0.0.0/8").unwrap()],
            ..limits(1, 2)
        }
    })
    .await;
    let guess = |client: &'static str| {
        app.http
            .get(format!("{}/account?authorizationCode=x", app.address))
            .header("x-forwarded-for", client)
            .send()
    };
    for _ in 0..3 {
        guess("203.0.113.7").await.unwrap();
    }
    assert_eq!(guess("203.0.113.7").await.unwrap().status(), 429);
    assert_eq!(guess("203.0.113.8").await.unwrap().status(), 303);
}

#[tokio::test]
async fn limits_off_refuses_nothing() {
    let app = spawn_app_with(|config| {
        config.rate_limits = RateLimits {
            failures_per_sec: 1,
            failures_burst: 1,
            ..RateLimits::off()
        }
    })
    .await;
    for _ in 0..5 {
        let response = app.get("/account?authorizationCode=x", None).await;
        assert_eq!(response.status(), 303);
    }
}
