//! The whole HTTP surface in process: `payfac_server::router` on a real
//! SQLite store in a temporary directory, merchant `MERCHANT001`
//! registered with the test vectors' public key, driven by fuzzed
//! method, path, query, headers and body.
//!
//! Input: one flags byte, then path, query, timestamp, nonce, signature,
//! Content-Type and extra header lines (`name: value`, one a line)
//! separated by NUL bytes, then the body. Flags: bits 0-2 pick the method,
//! bit 3 makes the harness sign the request itself with the vectors'
//! private key over the *model* signature string, bit 4 sets the
//! timestamp to now, bit 5 flips one byte of the signature. An empty path
//! is `/pay-fac/MERCHANT001/v1/user`.
//!
//! Asserted on every request:
//! - no 5xx other than 503;
//! - `0000` only for a POST to the merchant route whose signature the
//!   vectors' key made over the model signature string of what was sent,
//!   checked with aws-lc-rs directly, with a timestamp inside the window,
//!   and a nonce not answered `0000` before for a timestamp that is still
//!   inside the window (docs/PROTOCOL.md §5: a nonce is refused until its
//!   timestamp + window, and free again after);
//! - a request the harness signed correctly, with a fresh nonce, the time
//!   now, `application/json` and a body the parser accepts, gets `0000`.
#![no_main]

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Method, Request, StatusCode};
use http_body_util::BodyExt;
use libfuzzer_sys::fuzz_target;
use payfac_domain::MerchantId;
use payfac_fuzz::{
    VECTOR_PRIVATE_KEY_PEM, fields, model_base64_decode, model_signature_string, vector_key_signed,
};
use payfac_server::Config;
use payfac_server::ratelimit::RateLimits;
use payfac_signing::{SigningKey, VerifyingKey};
use payfac_store::StoredKey;
use tower::ServiceExt;

const MERCHANT: &str = "MERCHANT001";
const ROUTE: &str = "/pay-fac/MERCHANT001/v1/user";
const WINDOW: i64 = 300;

struct Harness {
    runtime: tokio::runtime::Runtime,
    router: Router,
    key: SigningKey,
    /// Nonces of requests answered `0000`, with the latest such request's
    /// timestamp: the nonce is refused until that timestamp + `WINDOW`.
    used_nonces: Mutex<HashMap<String, i64>>,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        // PAYFAC_FUZZ_TMP (scripts/fuzz.sh sets and removes it), else
        // the system's temporary directory.
        let base = std::env::var_os("PAYFAC_FUZZ_TMP")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let dir = base.join(format!("payfac-fuzz-http-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        let url = format!("sqlite://{}", dir.join("payfac.db").display());
        let public = VerifyingKey::parse(include_str!("../../tests/vectors/merchant-test.pub.pem"))
            .expect("the vector public key parses");
        let router = runtime.block_on(async {
            let store = payfac_store::open(&url)
                .await
                .expect("the SQLite store opens");
            store
                .add_merchant(
                    &MerchantId::parse(MERCHANT).expect("merchant id"),
                    StoredKey {
                        key_id: public.key_id(),
                        spki_der: public.spki_der().to_vec(),
                    },
                )
                .await
                .expect("the merchant is added");
            let config = Config {
                timestamp_window_secs: WINDOW,
                // The target sends many refused calls from one client;
                // the abuse limits would answer 429 before the checks
                // it is here to drive.
                rate_limits: RateLimits::off(),
                ..Config::default()
            };
            payfac_server::fuzzing::router(config, store)
                .await
                .expect("the service builds")
        });
        Harness {
            runtime,
            router,
            key: SigningKey::from_pem(VECTOR_PRIVATE_KEY_PEM).expect("the vector private key"),
            used_nonces: Mutex::new(HashMap::new()),
        }
    })
}

const METHODS: [&str; 8] = [
    "POST", "GET", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "QUERY",
];

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let parts = fields(rest, 8);
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    let method = METHODS[usize::from(flags & 0b111)];
    let harness_signs = flags & 0b1000 != 0;
    let time_now = flags & 0b1_0000 != 0;
    let corrupt = flags & 0b10_0000 != 0;

    let path = if parts[0].is_empty() {
        ROUTE.to_owned()
    } else {
        text(parts[0])
    };
    let query = text(parts[1]);
    let timestamp = if time_now {
        now().to_string()
    } else {
        text(parts[2])
    };
    let nonce = text(parts[3]);
    let body = parts[7];
    let mut signature = if harness_signs {
        harness()
            .key
            .sign(&model_signature_string(&query, &timestamp, &nonce, body))
    } else {
        text(parts[4])
    };
    if corrupt && !signature.is_empty() {
        // Another base64 character in the middle: still decodable, wrong.
        let mut bytes = signature.into_bytes();
        let at = bytes.len() / 2;
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        signature = String::from_utf8_lossy(&bytes).into_owned();
    }
    let content_type = text(parts[5]);

    let uri = if query.is_empty() {
        path.clone()
    } else {
        format!("{path}?{query}")
    };
    let mut builder = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).unwrap())
        .uri(&uri);
    for (name, value) in [
        ("timestamp", &timestamp),
        ("nonce", &nonce),
        ("signature", &signature),
        ("content-type", &content_type),
    ] {
        if !value.is_empty() {
            builder = builder.header(name, value.as_str());
        }
    }
    let mut extra = Vec::new();
    for line in parts[6].split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(line[colon + 1..].trim_ascii()),
        ) else {
            continue;
        };
        extra.push(name.clone());
        builder = builder.header(name, value);
    }
    let Ok(request) = builder.body(Body::from(body.to_vec())) else {
        // Not a request hyper would ever hand over (a bad URI or header).
        return;
    };
    // What the server sees, for the oracle: the URI as parsed.
    let sent_query = request.uri().query().unwrap_or("").to_owned();
    let sent_path = request.uri().path().to_owned();
    let single = |name: &str| {
        let mut values = request.headers().get_all(name).iter();
        match (values.next(), values.next()) {
            (Some(value), None) => value.to_str().ok().map(str::to_owned),
            _ => None,
        }
    };
    let (sent_ts, sent_nonce, sent_sig) =
        (single("timestamp"), single("nonce"), single("signature"));

    let h = harness();
    let (status, response) = h.runtime.block_on(async {
        let response = h
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("the body is read")
            .to_bytes();
        (status, bytes)
    });

    assert!(
        !status.is_server_error() || status == StatusCode::SERVICE_UNAVAILABLE,
        "answered {status}"
    );
    let code = serde_json::from_slice::<serde_json::Value>(&response)
        .ok()
        .and_then(|value| {
            value
                .get("code")
                .and_then(|code| code.as_str().map(str::to_owned))
        });
    let success = code.as_deref() == Some("0000");

    let at = now();
    if success {
        assert_eq!(method, "POST", "0000 for another method");
        assert_eq!(sent_path, ROUTE, "0000 on another path");
        let (Some(ts), Some(nonce), Some(sig)) = (&sent_ts, &sent_nonce, &sent_sig) else {
            panic!("0000 without exactly one of each signing header");
        };
        let ts_value: i64 = ts.parse().expect("0000 with a non-numeric timestamp");
        assert!(
            (at - ts_value).abs() <= WINDOW + 5,
            "0000 outside the timestamp window"
        );
        let signature = model_base64_decode(sig).expect("0000 with an undecodable signature");
        let message = model_signature_string(&sent_query, ts, nonce, body);
        assert!(
            vector_key_signed(&message, &signature),
            "0000 for a request not signed by the merchant's key"
        );
        // `at` is read after the answer, so the server decided at or
        // before it: a nonce live at `at` was live then too.
        let earlier = h
            .used_nonces
            .lock()
            .unwrap()
            .insert(nonce.clone(), ts_value);
        assert!(
            earlier.is_none_or(|earlier| at > earlier + WINDOW),
            "0000 for a nonce still inside the window of an earlier 0000"
        );
    } else if harness_signs
        && !corrupt
        && time_now
        && method == "POST"
        && sent_path == ROUTE
        && sent_query == query
        && sent_ts.as_deref() == Some(timestamp.as_str())
        && sent_nonce.as_deref() == Some(nonce.as_str())
        && sent_sig.as_deref() == Some(signature.as_str())
        && content_type == "application/json"
        && extra.is_empty()
        && (6..=32).contains(&nonce.len())
        && nonce.bytes().all(|b| b.is_ascii_alphanumeric())
        // `timestamp` is the clock before sending: the nonce was free
        // when the server decided.
        && h.used_nonces.lock().unwrap().get(&nonce).is_none_or(|&earlier| {
            timestamp.parse::<i64>().is_ok_and(|before| before > earlier + WINDOW)
        })
        && payfac_server::fuzzing::parse_profile(body).is_ok()
        && status != StatusCode::SERVICE_UNAVAILABLE
    {
        panic!("a correctly signed, well-formed request was refused with {status}");
    }
});
