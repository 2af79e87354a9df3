//! Bad input never produces a 5xx, a panic or a non-JSON body.
//!
//! Two layers:
//! - the parsing functions (`parse_json`, `parse_search`) under random input and every
//!   file of the committed corpus in `tests/corpus/{json,query}` (this replaces a
//!   cargo-fuzz target, which needs a nightly toolchain this machine cannot install;
//!   see `docs/RELIABILITY.md`);
//! - every route of the router, driven in-process with `tower::ServiceExt::oneshot`
//!   against real PostgreSQL and Redis started once for the whole run, with random,
//!   boundary, wrong-typed, oversized and non-UTF-8 parameters and bodies.
//!
//! Case counts are modest (`CASES` per route) so the run stays in CI budgets; raise
//! them with `PROPTEST_CASES=5000` for a longer hunt.

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{Request, Uri};
use http_body_util::BodyExt;
use lambdas::extract::parse_json;
use lambdas::identity::LOCAL_CALLER_HEADER;
use lambdas::model::{AvailabilityInput, IncidentInput, Location, PaymentInput, VendorInput};
use lambdas::router::Api;
use lambdas::routes::vendors::parse_search;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use serde_json::{Value, json};
use tower::ServiceExt;

const CASES: u32 = 250;

fn config(cases: u32) -> Config {
    Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(cases),
        // Regressions are kept as corpus files instead (reviewed, committed).
        failure_persistence: None,
        ..Config::default()
    }
}

fn corpus(kind: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(kind);
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    files.sort();
    assert!(
        files.len() >= 10,
        "corpus {kind} has only {} files",
        files.len()
    );
    files
}

/// Percent-encodes every byte outside the unreserved set, so any bytes (including
/// invalid UTF-8) can travel in a path segment or a query.
fn pct(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

// ---- strategies -------------------------------------------------------------------

fn text() -> BoxedStrategy<String> {
    prop_oneof![
        Just(String::new()),
        Just(" ".to_owned()),
        Just("tow".to_owned()),
        Just("a\u{0}b".to_owned()),
        Just("\u{feff}tow".to_owned()),
        Just("x".repeat(64)),
        Just("x".repeat(65)),
        Just("y".repeat(201)),
        Just("z".repeat(2001)),
        Just("\u{1F697}".repeat(70)),
        "[a-z0-9_.:-]{1,70}",
        "\\PC{0,40}",
        any::<String>().prop_map(|s| s.chars().take(80).collect()),
    ]
    .boxed()
}

fn number() -> BoxedStrategy<Value> {
    prop_oneof![
        // In range often enough that requests get past validation to the database.
        12 => (-90.0f64..90.0).prop_map(|n| json!(n)),
        4 => (1i64..100_000).prop_map(|n| json!(n)),
        1 => Just(json!(1e-200)),
        1 => Just(json!(-5e-324)),
        1 => Just(json!(0)),
        1 => Just(json!(-0.0)),
        1 => Just(json!(90)),
        1 => Just(json!(90.000_000_1)),
        1 => Just(json!(-180)),
        1 => Just(json!(180.000_001)),
        1 => Just(json!(5)),
        1 => Just(json!(5.000_01)),
        1 => Just(json!(i64::MAX)),
        1 => Just(json!(i64::MIN)),
        1 => Just(json!(u64::MAX)),
        1 => Just(json!(f64::MAX)),
        1 => Just(json!(f64::MIN_POSITIVE)),
        1 => any::<i64>().prop_map(|n| json!(n)),
        1 => (-200.0f64..200.0).prop_map(|n| json!(n)),
        1 => any::<f64>()
            .prop_filter("JSON has no NaN/inf", |f| f.is_finite())
            .prop_map(|n| json!(n)),
    ]
    .boxed()
}

/// Any JSON value, a few levels deep.
fn any_json() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(text(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
    .boxed()
}

/// A field value: usually the right type with a hostile value, sometimes the wrong type.
fn field() -> BoxedStrategy<Value> {
    prop_oneof![
        4 => text().prop_map(Value::String),
        4 => number(),
        1 => any_json(),
    ]
    .boxed()
}

fn capability() -> BoxedStrategy<Value> {
    prop_oneof![
        3 => prop::sample::select(vec!["tire", "engine", "tow", "fuel", "lockout", "jumpstart"])
            .prop_map(|s| json!(s)),
        1 => field(),
    ]
    .boxed()
}

fn location() -> BoxedStrategy<Value> {
    prop_oneof![
        4 => (number(), number()).prop_map(|(lat, lon)| json!({"lat": lat, "lon": lon})),
        1 => any_json(),
    ]
    .boxed()
}

/// Randomly drops a key or adds an unknown one.
fn mutate(object: Value) -> BoxedStrategy<Value> {
    (Just(object), 0usize..8, text(), field())
        .prop_map(|(mut object, op, key, value)| {
            if let Value::Object(map) = &mut object {
                match op {
                    0 => {
                        if let Some(first) = map.keys().next().cloned() {
                            map.remove(&first);
                        }
                    }
                    1 => {
                        map.insert(key, value);
                    }
                    _ => {}
                }
            }
            object
        })
        .boxed()
}

fn vendor_body() -> BoxedStrategy<Value> {
    (text(), prop::collection::vec(capability(), 0..8), location(), field())
        .prop_flat_map(|(name, caps, loc, rating)| {
            mutate(json!({"businessName": name, "capabilities": caps, "location": loc, "rating": rating}))
        })
        .boxed()
}

fn availability_body(incident: String) -> BoxedStrategy<Value> {
    (
        prop::sample::select(vec!["available", "busy", "offline", "", "BUSY", "away"]),
        prop_oneof![Just(Value::Null), Just(json!(incident)), field()],
    )
        .prop_flat_map(|(status, incident)| {
            let mut body = json!({"status": status});
            if !incident.is_null() {
                body["incidentId"] = incident;
            }
            mutate(body)
        })
        .boxed()
}

fn incident_body() -> BoxedStrategy<Value> {
    (text(), capability(), location(), field())
        .prop_flat_map(|(driver, kind, loc, description)| {
            mutate(json!({"driverId": driver, "type": kind, "location": loc, "description": description}))
        })
        .boxed()
}

fn payment_body(incident: String, vendor: String) -> BoxedStrategy<Value> {
    let id = |known: String| prop_oneof![2 => Just(json!(known)), 1 => field()];
    (
        id(incident),
        id(vendor),
        number(),
        prop_oneof![Just(json!("USD")), field()],
        prop::collection::vec(
            (text(), number()).prop_map(|(d, a)| json!({"description": d, "amountCents": a})),
            0..4,
        ),
    )
        .prop_flat_map(|(incident, vendor, amount, currency, items)| {
            mutate(
                json!({"incidentId": incident, "vendorId": vendor, "amountCents": amount,
                          "currency": currency, "lineItems": items}),
            )
        })
        .boxed()
}

/// A body: the route's shape (mutated), any JSON, raw bytes, or an oversized one.
fn body(shape: BoxedStrategy<Value>) -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        6 => shape.prop_map(|v| serde_json::to_vec(&v).unwrap()),
        1 => any_json().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        1 => prop::collection::vec(any::<u8>(), 0..200),
        1 => Just(Vec::new()),
        1 => (0usize..3).prop_map(|n| {
            let pad = "x".repeat(64 * 1024 + n);
            format!("{{\"businessName\": \"{pad}\"}}").into_bytes()
        }),
    ]
    .boxed()
}

fn content_type() -> BoxedStrategy<Option<String>> {
    prop_oneof![
        6 => Just(Some("application/json".to_owned())),
        1 => Just(None),
        1 => Just(Some("text/plain".to_owned())),
        1 => Just(Some("application/merge-patch+json; charset=utf-8".to_owned())),
        1 => "[ -~]{0,30}".prop_map(Some),
    ]
    .boxed()
}

fn path_id(known: Vec<String>) -> BoxedStrategy<String> {
    prop_oneof![
        3 => prop::sample::select(known),
        2 => "[a-zA-Z0-9_.:-]{1,70}",
        2 => prop::collection::vec(any::<u8>(), 1..80).prop_map(|b| pct(&b)),
        1 => text().prop_map(|t| pct(t.as_bytes())),
    ]
    .boxed()
}

fn query() -> BoxedStrategy<String> {
    let key = prop_oneof![
        5 => prop::sample::select(vec!["lat", "lon", "radius", "capability", "availableOnly", "limit"])
            .prop_map(str::to_owned),
        1 => text(),
    ];
    let value = prop_oneof![
        3 => prop::sample::select(vec![
            "40.7", "-74", "90", "-90.0000001", "180", "-181", "0", "-0", "500", "500.0001", "1e308",
            "1e309", "NaN", "inf", "-inf", "0x10", "1_000", "25", "100", "101", "true", "false", "1",
            "tow", "TOW", "", " 1", "9999999999999999999999",
        ])
        .prop_map(str::to_owned),
        1 => text(),
        1 => any::<f64>().prop_map(|f| f.to_string()),
    ];
    let center = (-90.0f64..90.0, -180.0f64..180.0);
    prop_oneof![
        4 => (center, prop::collection::vec((key.clone(), value.clone()), 0..3)).prop_map(|((lat, lon), pairs)| {
            let mut q = format!("lat={lat}&lon={lon}");
            for (k, v) in pairs {
                q.push_str(&format!("&{}={}", pct(k.as_bytes()), pct(v.as_bytes())));
            }
            q
        }),
        8 => prop::collection::vec((key, value), 0..8).prop_map(|pairs| {
            pairs
                .iter()
                .map(|(k, v)| format!("{}={}", pct(k.as_bytes()), pct(v.as_bytes())))
                .collect::<Vec<_>>()
                .join("&")
        }),
        1 => prop::collection::vec(any::<u8>(), 0..100).prop_map(|b| pct(&b)),
        1 => "[ -~&=%]{0,60}".prop_map(|s| s.replace([' ', '#'], "+")),
    ]
    .boxed()
}

fn idempotency_key() -> BoxedStrategy<Option<Vec<u8>>> {
    prop_oneof![
        4 => "[!-~]{1,255}".prop_map(|s| Some(s.into_bytes())),
        1 => Just(None),
        1 => Just(Some(b"k".repeat(256))),
        1 => prop::collection::vec(0x20u8..=0xff, 0..40).prop_map(Some),
    ]
    .boxed()
}

// ---- in-process requests ----------------------------------------------------------

#[derive(Debug, Clone)]
struct Call {
    method: &'static str,
    uri: String,
    content_type: Option<String>,
    idempotency_key: Option<Vec<u8>>,
    body: Vec<u8>,
}

impl Call {
    fn new(method: &'static str, uri: String) -> Self {
        Self {
            method,
            uri,
            content_type: None,
            idempotency_key: None,
            body: Vec::new(),
        }
    }
}

/// Sends `call` through the router and checks the answer is a 2xx or 4xx JSON body.
async fn check(app: &Api, call: &Call) -> Result<u16, String> {
    let Ok(uri) = call.uri.parse::<Uri>() else {
        // Not a request a client could send (the HTTP layer refuses it first).
        return Ok(0);
    };
    let mut request = Request::builder()
        .method(call.method)
        .uri(uri)
        .header(LOCAL_CALLER_HEADER, "fuzzer");
    if let Some(kind) = &call.content_type {
        request = request.header("content-type", kind.as_str());
    }
    if let Some(key) = &call.idempotency_key {
        match axum::http::HeaderValue::from_bytes(key) {
            Ok(value) => request = request.header("idempotency-key", value),
            Err(_) => return Ok(0),
        }
    }
    let request = request
        .body(Body::from(call.body.clone()))
        .map_err(|e| e.to_string())?;
    let response = app
        .clone()
        .oneshot(request)
        .await
        .map_err(|e| format!("router error: {e}"))?;
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?
        .to_bytes();
    let text = String::from_utf8_lossy(&bytes);
    if !(200..300).contains(&status) && !(400..500).contains(&status) {
        return Err(format!("status {status}: {text}"));
    }
    if call.method == "HEAD" {
        return Ok(status); // a HEAD answer has no body by definition
    }
    if !kind.starts_with("application/json") {
        return Err(format!("status {status}, content-type `{kind}`: {text}"));
    }
    let body: Value =
        serde_json::from_slice(&bytes).map_err(|_| format!("status {status}: not JSON: {text}"))?;
    if status >= 400 && !(body["error"]["code"].is_string() && body["error"]["message"].is_string())
    {
        return Err(format!("status {status}: not the error shape: {body}"));
    }
    Ok(status)
}

struct Fixture {
    vendors: Vec<String>,
    incidents: Vec<String>,
    payments: Vec<String>,
}

async fn fixture(app: &Api) -> Fixture {
    let post = |uri: &str, body: Value, key: Option<&str>| {
        let mut request = Request::builder()
            .method("POST")
            .uri(uri)
            .header(LOCAL_CALLER_HEADER, "fuzzer")
            .header("content-type", "application/json");
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        let request = request.body(Body::from(body.to_string())).unwrap();
        let app = app.clone();
        async move {
            let response = app.oneshot(request).await.unwrap();
            assert!(response.status().is_success(), "{}", response.status());
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            serde_json::from_slice::<Value>(&bytes).unwrap()
        }
    };
    let mut fixture = Fixture {
        vendors: Vec::new(),
        incidents: Vec::new(),
        payments: Vec::new(),
    };
    for i in 0..4 {
        let v = post(
            "/vendors",
            json!({"businessName": format!("Fixture {i}"), "capabilities": ["tow", "tire"],
                   "location": {"lat": 40.7 + f64::from(i) * 0.01, "lon": -74.0}}),
            None,
        )
        .await;
        fixture
            .vendors
            .push(v["vendorId"].as_str().unwrap().to_owned());
    }
    let i = post(
        "/incidents",
        json!({"driverId": "d-1", "type": "tow", "location": {"lat": 40.7, "lon": -74.0}}),
        None,
    )
    .await;
    fixture
        .incidents
        .push(i["incidentId"].as_str().unwrap().to_owned());
    let vendor = i["match"]["vendorId"].as_str().unwrap().to_owned();
    let p = post(
        "/payments",
        json!({"incidentId": fixture.incidents[0], "vendorId": vendor, "amountCents": 500,
               "currency": "USD", "lineItems": [{"description": "tow", "amountCents": 500}]}),
        Some("fixture-key"),
    )
    .await;
    fixture
        .payments
        .push(p["paymentId"].as_str().unwrap().to_owned());
    fixture
}

#[test]
fn every_route_answers_bad_input_with_json_2xx_or_4xx() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let postgres = testkit::postgres::PostgresServer::start();
    let redis = testkit::redis::RedisServer::start();
    let (db_url, redis_url) = (postgres.url(), redis.url());
    let app = rt.block_on(async {
        let config = lambdas::config::AppConfig::from_lookup(|name| match name {
            "DATABASE_URL" => Some(db_url.clone()),
            "REDIS_URL" => Some(redis_url.clone()),
            "VENDOR_PROFILE_LOCAL_TTL_MS" => Some("0".to_owned()),
            _ => None,
        })
        .unwrap();
        let state = lambdas::state::AppState::connect(config).await.unwrap();
        state.db.migrate().await.unwrap();
        lambdas::router::app(state)
    });
    let fx = rt.block_on(fixture(&app));
    let vendor_ids = fx.vendors.clone();
    let ids = |known: &[String]| path_id(known.to_vec());

    let routes: Vec<(&str, BoxedStrategy<Call>)> = vec![
        (
            "GET /vendors/{id}",
            ids(&vendor_ids)
                .prop_map(|id| Call::new("GET", format!("/vendors/{id}")))
                .boxed(),
        ),
        (
            "GET /vendors/search",
            query()
                .prop_map(|q| Call::new("GET", format!("/vendors/search?{q}")))
                .boxed(),
        ),
        (
            "POST /vendors",
            (body(vendor_body()), content_type())
                .prop_map(|(body, kind)| Call {
                    body,
                    content_type: kind,
                    ..Call::new("POST", "/vendors".into())
                })
                .boxed(),
        ),
        (
            "PUT /vendors/{id}",
            (ids(&vendor_ids), body(vendor_body()), content_type())
                .prop_map(|(id, body, kind)| Call {
                    body,
                    content_type: kind,
                    ..Call::new("PUT", format!("/vendors/{id}"))
                })
                .boxed(),
        ),
        (
            "PATCH /vendors/{id}/availability",
            (
                ids(&vendor_ids),
                body(availability_body(fx.incidents[0].clone())),
                content_type(),
            )
                .prop_map(|(id, body, kind)| Call {
                    body,
                    content_type: kind,
                    ..Call::new("PATCH", format!("/vendors/{id}/availability"))
                })
                .boxed(),
        ),
        (
            "POST /vendors/{id}/location",
            (ids(&vendor_ids), body(location()), content_type())
                .prop_map(|(id, body, kind)| Call {
                    body,
                    content_type: kind,
                    ..Call::new("POST", format!("/vendors/{id}/location"))
                })
                .boxed(),
        ),
        (
            "POST /incidents",
            (body(incident_body()), content_type())
                .prop_map(|(body, kind)| Call {
                    body,
                    content_type: kind,
                    ..Call::new("POST", "/incidents".into())
                })
                .boxed(),
        ),
        (
            "GET /incidents/{id}",
            ids(&fx.incidents)
                .prop_map(|id| Call::new("GET", format!("/incidents/{id}")))
                .boxed(),
        ),
        (
            "POST /payments",
            (
                body(payment_body(fx.incidents[0].clone(), fx.vendors[0].clone())),
                content_type(),
                idempotency_key(),
            )
                .prop_map(|(body, kind, key)| Call {
                    body,
                    content_type: kind,
                    idempotency_key: key,
                    ..Call::new("POST", "/payments".into())
                })
                .boxed(),
        ),
        (
            "GET /payments/{id}",
            ids(&fx.payments)
                .prop_map(|id| Call::new("GET", format!("/payments/{id}")))
                .boxed(),
        ),
        (
            "any method, any path",
            (
                prop::sample::select(vec![
                    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS",
                ]),
                prop::collection::vec(path_id(vec!["vendors".into(), "search".into()]), 0..4),
                query(),
            )
                .prop_map(|(method, segments, q)| {
                    Call::new(method, format!("/{}?{q}", segments.join("/")))
                })
                .boxed(),
        ),
    ];

    let mut failures = Vec::new();
    let mut total = 0u32;
    for (route, strategy) in routes {
        let mut runner = TestRunner::new(config(CASES));
        let statuses = std::cell::RefCell::new(std::collections::BTreeMap::<u16, u32>::new());
        let result = runner.run(&strategy, |call| {
            let status = rt
                .block_on(check(&app, &call))
                .map_err(TestCaseError::fail)?;
            *statuses.borrow_mut().entry(status).or_default() += 1;
            Ok(())
        });
        let statuses = statuses.into_inner();
        total += statuses.values().sum::<u32>();
        eprintln!("{route}: statuses {statuses:?} (0 = not a sendable request)");
        if let Err(e) = result {
            let detail = match e {
                TestError::Fail(reason, call) => format!("{reason}\n    minimal input: {call:?}"),
                TestError::Abort(reason) => format!("aborted: {reason}"),
            };
            failures.push(format!("{route}: {detail}"));
        }
    }

    // The committed corpus, sent to every route with a body and to the search.
    let body_routes = [
        ("POST", "/vendors".to_owned()),
        ("PUT", format!("/vendors/{}", fx.vendors[1])),
        ("PATCH", format!("/vendors/{}/availability", fx.vendors[1])),
        ("POST", format!("/vendors/{}/location", fx.vendors[1])),
        ("POST", "/incidents".to_owned()),
        ("POST", "/payments".to_owned()),
    ];
    let mut replayed = 0;
    for (file, bytes) in corpus("json") {
        for (method, uri) in &body_routes {
            let call = Call {
                body: bytes.clone(),
                content_type: Some("application/json".into()),
                idempotency_key: Some(b"corpus-key".to_vec()),
                ..Call::new(method, uri.clone())
            };
            replayed += 1;
            if let Err(e) = rt.block_on(check(&app, &call)) {
                failures.push(format!("corpus {} to {method} {uri}: {e}", file.display()));
            }
        }
    }
    for (file, bytes) in corpus("query") {
        let call = Call::new("GET", format!("/vendors/search?{}", query_text(&bytes)));
        replayed += 1;
        if let Err(e) = rt.block_on(check(&app, &call)) {
            failures.push(format!("corpus {}: {e}", file.display()));
        }
    }
    eprintln!(
        "FIGURES bad_input_routes: {total} generated requests, {replayed} corpus requests, {} failures",
        failures.len()
    );
    drop(app);
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    drop((postgres, redis));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A corpus query file is the raw query string; bytes a URI cannot carry are
/// percent-encoded (that is what a client would send).
fn query_text(bytes: &[u8]) -> String {
    let trimmed = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    trimmed
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() && b != b'#' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

// ---- the parsing layer --------------------------------------------------------------

/// `parse_json` for every body type of the API: never a panic, and a refusal is a 400
/// with a code and a message.
fn parse_all(bytes: &[u8]) -> Result<(), String> {
    fn one<T: serde::de::DeserializeOwned>(bytes: &[u8], name: &str) -> Result<(), String> {
        match parse_json::<T>(bytes) {
            Ok(_) => Ok(()),
            Err(e) if e.status == 400 && !e.message.is_empty() => Ok(()),
            Err(e) => Err(format!("{name}: {e:?}")),
        }
    }
    one::<VendorInput>(bytes, "VendorInput")?;
    one::<IncidentInput>(bytes, "IncidentInput")?;
    one::<PaymentInput>(bytes, "PaymentInput")?;
    one::<AvailabilityInput>(bytes, "AvailabilityInput")?;
    one::<Location>(bytes, "Location")?;
    one::<Value>(bytes, "Value")
}

#[test]
fn parse_json_refuses_garbage_with_a_400_never_a_panic() {
    for (file, bytes) in corpus("json") {
        parse_all(&bytes).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    }
    let strategy = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        any_json().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        vendor_body().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        payment_body("inc-1".into(), "ven-1".into()).prop_map(|v| serde_json::to_vec(&v).unwrap()),
        // Valid JSON cut anywhere, or with one byte flipped.
        (incident_body(), any::<prop::sample::Index>(), any::<u8>()).prop_map(|(v, at, byte)| {
            let mut bytes = serde_json::to_vec(&v).unwrap();
            let i = at.index(bytes.len());
            if byte % 2 == 0 {
                bytes.truncate(i);
            } else {
                bytes[i] = byte;
            }
            bytes
        }),
    ];
    TestRunner::new(config(2_000))
        .run(&strategy, |bytes| {
            parse_all(&bytes).map_err(TestCaseError::fail)
        })
        .unwrap();
}

fn search(uri: &Uri) -> Result<(), String> {
    match parse_search(axum::extract::Query::try_from_uri(uri)) {
        Ok(p) => {
            // What is accepted is inside the documented bounds.
            let ok = (-90.0..=90.0).contains(&p.center.lat)
                && (-180.0..=180.0).contains(&p.center.lon)
                && p.radius_miles > 0.0
                && p.radius_miles <= 500.0
                && (1..=100).contains(&p.limit);
            if ok {
                Ok(())
            } else {
                Err(format!("accepted out of bounds: {p:?}"))
            }
        }
        Err(e) if e.status == 400 && e.field.is_some() => Ok(()),
        Err(e) => Err(format!("{e:?}")),
    }
}

#[test]
fn parse_search_refuses_bad_parameters_naming_the_field() {
    for (file, bytes) in corpus("query") {
        let uri: Uri = format!("/vendors/search?{}", query_text(&bytes))
            .parse()
            .unwrap();
        // The route reads the query exactly like this; a refusal here is a JSON 400 there.
        search(&uri).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    }
    let strategy = query().prop_map(|q| {
        format!("/s?{q}")
            .parse()
            .unwrap_or_else(|_| Uri::from_static("/s"))
    });
    TestRunner::new(config(2_000))
        .run(&strategy, |uri: Uri| {
            search(&uri).map_err(TestCaseError::fail)
        })
        .unwrap();
}
