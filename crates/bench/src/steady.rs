//! `--steady SECS`: a fixed, moderate rate of the real flow (a signed
//! user-sync, then the redemption of the code it returned) with the
//! service's purge running, printing row counts and storage size as it
//! goes, to show the nonce, code and session tables stay bounded.
//!
//! The run is long and its timestamp window short, so requests cannot all
//! be signed up front: a background thread signs them just in time, a
//! couple of seconds ahead. This mode measures boundedness, not speed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::header::{HOST, HeaderValue, SET_COOKIE};
use hyper::{Request, StatusCode};
use serde_json::json;
use tokio::sync::{Mutex, Semaphore, mpsc};

use crate::backend::{Backend, Storage};
use crate::load::{Kind, Prepared, connect, new_histogram};
use crate::presign::{buyer_for, mix, signed_sync};
use crate::{Args, Setup};

#[derive(Default)]
struct Totals {
    syncs: u64,
    redeems: u64,
    errors: u64,
}

pub async fn run(
    args: &Args,
    setup: &Setup,
    backend: &Backend,
    seconds: u64,
) -> anyhow::Result<()> {
    anyhow::ensure!(args.rate > 0, "--rate must be positive");
    let rate = args.rate;
    let duration = Duration::from_secs(seconds);
    eprintln!(
        "steady: {rate} user-syncs/s, each followed by its redemption, for {seconds} s \
         (window {} s, code TTL {} s, sessions {} s, purge every {} s)",
        args.steady_window_secs,
        args.steady_code_ttl_secs,
        args.steady_session_secs,
        args.steady_purge_secs
    );

    // Signer: keeps about two seconds of signed requests ready.
    let (signed_tx, signed_rx) = mpsc::channel::<Prepared>((rate as usize * 2).max(16));
    let signed_rx = Arc::new(Mutex::new(signed_rx));
    let stop = Arc::new(AtomicBool::new(false));
    let signer = {
        let stop = stop.clone();
        let keys = setup.keys.clone();
        let merchant_ids = setup.merchants.clone();
        let stored = setup.buyers_stored;
        let new_percent = args.new_buyer_percent;
        std::thread::Builder::new()
            .name("steady-signer".into())
            .spawn(move || {
                let merchants = merchant_ids.len();
                let mut serial = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let kind = if stored == 0 || mix(serial as u64 ^ 0xABCD) % 100 < new_percent {
                        Kind::SyncNew
                    } else {
                        Kind::SyncReturning
                    };
                    let buyer = buyer_for(kind, serial, stored, merchants);
                    serial += 1;
                    let prepared = signed_sync(&keys, &merchant_ids, &buyer);
                    if signed_tx.blocking_send(prepared).is_err() {
                        break;
                    }
                }
            })?
    };

    let permits = Arc::new(Semaphore::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let ticker = {
        let permits = permits.clone();
        tokio::spawn(async move {
            let period = Duration::from_secs_f64(1.0 / rate as f64);
            let mut interval = tokio::time::interval(period);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            while Instant::now() < deadline {
                interval.tick().await;
                permits.add_permits(1);
            }
        })
    };

    let totals = Arc::new(std::sync::Mutex::new(Totals::default()));
    let workers = args.connections.min(rate as usize * 2).max(1);
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let sender = connect(setup.address).await?;
        let permits = permits.clone();
        let signed_rx = signed_rx.clone();
        let totals = totals.clone();
        let address = setup.address;
        let host = HeaderValue::from_str(&address.to_string())?;
        tasks.push(tokio::spawn(async move {
            let mut sender = sender;
            let mut sync_latency = new_histogram();
            let mut redeem_latency = new_histogram();
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                match tokio::time::timeout(left, permits.acquire()).await {
                    Ok(Ok(permit)) => permit.forget(),
                    _ => break,
                }
                let Some(prepared) = signed_rx.lock().await.recv().await else {
                    break;
                };
                let outcome = flow(
                    &mut sender,
                    &host,
                    &prepared,
                    &mut sync_latency,
                    &mut redeem_latency,
                )
                .await;
                {
                    let mut totals = totals.lock().expect("totals lock");
                    match outcome {
                        Ok(()) => {
                            totals.syncs += 1;
                            totals.redeems += 1;
                        }
                        Err(_) => totals.errors += 1,
                    }
                }
                if sender.is_closed()
                    && let Ok(fresh) = connect(address).await
                {
                    sender = fresh;
                }
            }
            (sync_latency, redeem_latency)
        }));
    }

    let mut samples: Vec<(u64, Storage)> = Vec::new();
    let every = Duration::from_secs(args.report_every.max(1));
    let mut next_report = started + every;
    print_header();
    loop {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        tokio::time::sleep(next_report.min(deadline).saturating_duration_since(now)).await;
        if Instant::now() >= next_report {
            let storage = backend.storage_report().await?;
            let elapsed = started.elapsed().as_secs();
            print_row(elapsed, &totals, &storage);
            samples.push((elapsed, storage));
            next_report += every;
        }
    }

    let mut sync_latency: Histogram<u64> = new_histogram();
    let mut redeem_latency: Histogram<u64> = new_histogram();
    for task in tasks {
        let (sync, redeem) = task.await?;
        sync_latency.add(&sync)?;
        redeem_latency.add(&redeem)?;
    }
    let _ = ticker.await;
    stop.store(true, Ordering::Relaxed);
    // Unblocks the signer if it waits on a full channel.
    signed_rx.lock().await.close();
    drop(signed_rx);
    let _ = signer.join();

    let storage = backend.storage_report().await?;
    let elapsed = started.elapsed().as_secs();
    print_row(elapsed, &totals, &storage);
    samples.push((elapsed, storage));

    let totals = totals.lock().expect("totals lock");
    let ms = |h: &Histogram<u64>, q| h.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "steady: {} user-syncs + {} redemptions in {:.0} s, {} errors; user-sync p50 {:.2} ms p99 {:.2} ms; redeem p50 {:.2} ms p99 {:.2} ms",
        totals.syncs,
        totals.redeems,
        started.elapsed().as_secs_f64(),
        totals.errors,
        ms(&sync_latency, 0.5),
        ms(&sync_latency, 0.99),
        ms(&redeem_latency, 0.5),
        ms(&redeem_latency, 0.99)
    );
    let peak = |table: &str| {
        samples
            .iter()
            .filter_map(|(_, storage)| storage.rows.iter().find(|(t, _)| t == table))
            .map(|(_, rows)| *rows)
            .max()
            .unwrap_or(0)
    };
    println!(
        "steady: peak rows: nonces {}, codes {}, sessions {}; bound expected ≈ rate × lifetime + rate × purge interval",
        peak("nonces"),
        peak("codes"),
        peak("sessions")
    );
    if args.json {
        let last = &samples.last().expect("one sample at least").1;
        let mut object = serde_json::Map::new();
        object.insert("mode".into(), json!("steady"));
        object.insert("backend".into(), json!(backend.label()));
        object.insert("seconds".into(), json!(seconds));
        object.insert("rate".into(), json!(rate));
        object.insert("syncs".into(), json!(totals.syncs));
        object.insert("redeems".into(), json!(totals.redeems));
        object.insert("errors".into(), json!(totals.errors));
        object.insert("storage_bytes".into(), json!(last.total_bytes));
        for (table, rows) in &last.rows {
            object.insert(format!("rows_{table}"), json!(rows));
            object.insert(format!("peak_rows_{table}"), json!(peak(table)));
        }
        object.insert(
            "samples".into(),
            json!(
                samples
                    .iter()
                    .map(|(t, storage)| {
                        let mut sample = serde_json::Map::new();
                        sample.insert("t".into(), json!(t));
                        sample.insert("bytes".into(), json!(storage.total_bytes));
                        for (table, rows) in &storage.rows {
                            sample.insert(table.clone(), json!(rows));
                        }
                        serde_json::Value::Object(sample)
                    })
                    .collect::<Vec<_>>()
            ),
        );
        println!("{}", serde_json::Value::Object(object));
    }
    Ok(())
}

/// One buyer's trip: the merchant's signed user-sync, then the browser's
/// redemption of the code.
async fn flow(
    sender: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    host: &HeaderValue,
    prepared: &Prepared,
    sync_latency: &mut Histogram<u64>,
    redeem_latency: &mut Histogram<u64>,
) -> anyhow::Result<()> {
    let begun = Instant::now();
    sender.ready().await?;
    let response = sender.send_request(prepared.request(host)).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    sync_latency.saturating_record(begun.elapsed().as_micros() as u64);
    anyhow::ensure!(status == StatusCode::OK, "user-sync answered {status}");
    let value: serde_json::Value = serde_json::from_slice(&body)?;
    let code = value["data"]["authorizationCode"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no code"))?;

    let begun = Instant::now();
    let request = Request::get(format!("/account?authorizationCode={code}"))
        .header(HOST, host.clone())
        .body(Full::new(Bytes::new()))?;
    sender.ready().await?;
    let response = sender.send_request(request).await?;
    let status = response.status();
    let signed_in = response.headers().contains_key(SET_COOKIE);
    let _ = response.into_body().collect().await?;
    redeem_latency.saturating_record(begun.elapsed().as_micros() as u64);
    anyhow::ensure!(
        status == StatusCode::SEE_OTHER && signed_in,
        "redemption answered {status}"
    );
    Ok(())
}

fn print_header() {
    println!(
        "{:>6} {:>9} {:>9} {:>7} | {:>9} {:>9} {:>9} {:>9} | {:>9} | {:>8}",
        "t (s)",
        "syncs",
        "redeems",
        "errors",
        "nonces",
        "codes",
        "sessions",
        "buyers",
        "MiB",
        "RSS MiB"
    );
}

fn print_row(elapsed: u64, totals: &std::sync::Mutex<Totals>, storage: &Storage) {
    let totals = totals.lock().expect("totals lock");
    let rows = |table: &str| {
        storage
            .rows
            .iter()
            .find(|(t, _)| t == table)
            .map_or(0, |(_, rows)| *rows)
    };
    println!(
        "{:>6} {:>9} {:>9} {:>7} | {:>9} {:>9} {:>9} {:>9} | {:>9.1} | {:>8.1}",
        elapsed,
        totals.syncs,
        totals.redeems,
        totals.errors,
        rows("nonces"),
        rows("codes"),
        rows("sessions"),
        rows("buyers"),
        storage.total_bytes as f64 / 1_048_576.0,
        payfac_server::observability::rss_kib() as f64 / 1024.0
    );
}
