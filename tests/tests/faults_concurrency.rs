//! Concurrency under faults: idempotent payments retried through killed connections, and
//! incidents that never share a vendor. Loopback servers only; concurrency and counts are
//! bounded.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};
use support::{App, RedisKind, Sample, measure, print_figures, secs};

const KEYS: usize = 1_000;
const SENDS_PER_KEY: usize = 10;
const IN_FLIGHT: usize = 64;
const MAX_ATTEMPTS: usize = 8;

/// Terminates every backend of the app's pool (not the caller's): in-flight transactions
/// die mid-statement or mid-COMMIT, which is where double-charging would come from.
async fn kill_app_backends(admin: &aurora::tokio_postgres::Client) -> i64 {
    admin
        .query_one(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name = 'roadcall-aurora' AND pid <> pg_backend_pid()",
            &[],
        )
        .await
        .map(|row| row.get::<_, i64>(0))
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn payments_retried_concurrently_through_killed_connections_are_created_once() {
    let app = App::start(RedisKind::Standalone, &[]).await;
    let vendor = app.vendor("Payee", &["tow"], 33.44, -112.07).await;
    let incident = app.incident("tow", 33.44, -112.07).await;
    let admin = app.admin().await;

    // Every key is sent SENDS_PER_KEY times, interleaved so copies of one key race.
    let order: Vec<usize> = (0..KEYS * SENDS_PER_KEY)
        .map(|n| (n * 7_919) % (KEYS * SENDS_PER_KEY))
        .map(|n| n % KEYS)
        .collect();
    let body = |k: usize| -> Value {
        let amount = 1_000 + k as i64;
        json!({"incidentId": incident, "vendorId": vendor, "amountCents": amount, "currency": "USD",
               "lineItems": [{"description": "tow", "amountCents": amount - 100},
                             {"description": "fee", "amountCents": 100}]})
    };
    let start = Instant::now();
    let (base, http) = (app.base.clone(), app.http.clone());
    let bodies: Arc<Vec<Value>> = Arc::new((0..KEYS).map(body).collect());
    let sends = futures::stream::iter(order.into_iter().map(move |k| {
        let (base, http, bodies) = (base.clone(), http.clone(), bodies.clone());
        async move {
            // A client retries what the server says is temporary (503) or what never
            // answered, with the same key and body.
            let mut attempts = Vec::new();
            for attempt in 0..MAX_ATTEMPTS {
                let request = http
                    .post(format!("{base}/payments"))
                    .header("Idempotency-Key", format!("fault-key-{k}"))
                    .json(&bodies[k]);
                let sample = measure("pay", start, request).await;
                let retry = sample.status.is_none() || sample.status == Some(503);
                attempts.push(sample);
                if !retry {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20 << attempt.min(5))).await;
            }
            (k, attempts)
        }
    }))
    .buffer_unordered(IN_FLIGHT)
    .collect::<Vec<_>>();
    let sender = tokio::spawn(sends);

    // Three rounds of killed connections while the burst runs.
    let mut killed = 0;
    let mut kill_times = Vec::new();
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        if sender.is_finished() {
            break;
        }
        killed += kill_app_backends(&admin).await;
        kill_times.push(secs(start.elapsed()));
    }
    let results = sender.await.unwrap();
    let elapsed = start.elapsed();

    let mut per_key: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
    let mut all: Vec<Sample> = Vec::new();
    for (k, attempts) in results {
        let last = attempts.last().unwrap();
        assert_eq!(last.status, Some(201), "key {k} never succeeded: {last:?}");
        per_key
            .entry(k)
            .or_default()
            .insert(last.body["paymentId"].as_str().unwrap().to_owned());
        all.extend(attempts);
    }
    assert_eq!(per_key.len(), KEYS);
    let split: Vec<_> = per_key.iter().filter(|(_, ids)| ids.len() != 1).collect();
    assert!(
        split.is_empty(),
        "keys answered with several payments: {split:?}"
    );
    assert!(all.iter().all(|s| !s.timed_out), "a request hung");
    for s in all.iter().filter(|s| !s.ok()) {
        assert_eq!(s.status, Some(503), "only temporary failures: {s:?}");
    }
    assert_eq!(
        app.count("SELECT count(*) FROM payments").await,
        KEYS as i64
    );
    assert_eq!(
        app.count("SELECT count(*) FROM payment_audit_log").await,
        KEYS as i64
    );
    assert_eq!(
        app.count("SELECT count(*) FROM payment_line_items").await,
        2 * KEYS as i64
    );
    assert_eq!(
        app.count("SELECT count(*) FROM idempotency_keys WHERE payment_id IS NOT NULL")
            .await,
        KEYS as i64
    );

    let first_sends = KEYS * SENDS_PER_KEY;
    print_figures(
        "payments_idempotent_under_faults",
        &format!(
            "{first_sends} POST /payments, {KEYS} keys x {SENDS_PER_KEY}, {IN_FLIGHT} in flight, client retries 503 up to {MAX_ATTEMPTS} attempts"
        ),
        &format!(
            "pg_terminate_backend of the app's connections at {kill_times:?} ({killed} backends)"
        ),
        &all,
        &format!(
            "all {KEYS} keys answered 201 within {}; retries sent {}",
            secs(elapsed),
            all.len() - first_sends
        ),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_incidents_never_share_a_vendor_and_leave_none_orphaned() {
    let mut app = App::start(RedisKind::Standalone, &[]).await;
    let mut vendors = BTreeSet::new();
    for i in 0..40 {
        vendors.insert(
            app.vendor(
                &format!("Tow {i}"),
                &["tow", "tire"],
                29.76 + f64::from(i) * 0.002,
                -95.37,
            )
            .await,
        );
    }
    app.load_index().await;
    let admin = app.admin().await;

    let start = Instant::now();
    let (base, http) = (app.base.clone(), app.http.clone());
    let incidents = 800;
    let sends = futures::stream::iter((0..incidents).map(move |i| {
        let (base, http) = (base.clone(), http.clone());
        async move {
            let request = http.post(format!("{base}/incidents")).json(&json!({
                "driverId": format!("driver-{i}"), "type": if i % 4 == 0 { "tire" } else { "tow" },
                "location": {"lat": 29.76, "lon": -95.37}}));
            measure("incident", start, request).await
        }
    }))
    .buffer_unordered(16)
    .collect::<Vec<Sample>>();
    let sender = tokio::spawn(sends);
    // Faults during the burst: connections killed mid-transaction, and Redis killed (the
    // index must not keep offering a vendor the database already gave away).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let killed = kill_app_backends(&admin).await;
    let pg_killed = start.elapsed();
    tokio::task::block_in_place(|| app.redis.as_mut().unwrap().stop());
    let redis_killed = start.elapsed();
    tokio::time::sleep(Duration::from_millis(700)).await;
    tokio::task::block_in_place(|| app.redis.as_mut().unwrap().restart());
    let samples = sender.await.unwrap();

    let mut matched = Vec::new();
    for s in &samples {
        assert!(!s.timed_out, "{s:?}");
        if s.status == Some(503) {
            continue; // its connection died under it; what it did is checked below
        }
        assert_eq!(s.status, Some(201), "{s:?}");
        if let Some(v) = s.body["match"]["vendorId"].as_str() {
            matched.push(v.to_owned());
        }
    }
    let distinct: BTreeSet<String> = matched.iter().cloned().collect();
    assert_eq!(
        distinct.len(),
        matched.len(),
        "a vendor was given to two incidents"
    );
    assert!(distinct.is_subset(&vendors));
    assert_eq!(
        distinct.len(),
        vendors.len(),
        "more incidents than vendors: every vendor ends up taken"
    );
    let orphans = app
        .count(
            "SELECT count(*) FROM vendors v WHERE v.availability = 'busy' AND NOT EXISTS \
             (SELECT 1 FROM incidents i WHERE i.id = v.current_incident_id AND i.matched_vendor_id = v.id)",
        )
        .await;
    assert_eq!(orphans, 0, "busy vendors without their incident");
    let doubly = app
        .count(
            "SELECT count(*) FROM (SELECT matched_vendor_id FROM incidents WHERE status = 'matched' \
             GROUP BY 1 HAVING count(*) > 1) d",
        )
        .await;
    assert_eq!(doubly, 0, "incidents stored with a shared vendor");
    // Searches (from the index once it is reloaded, or from PostgreSQL) offer none of them.
    // The first command on the connection that saw Redis die fails once (the client then
    // reconnects), so the reload is retried, boundedly.
    let mut reloaded = false;
    for _ in 0..20 {
        if app.state.vendors.rebuild_index().await.is_ok() {
            reloaded = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        reloaded,
        "the index could not be reloaded after Redis restarted"
    );
    let (status, cache, body) = app
        .call(
            "GET",
            "/vendors/search?lat=29.76&lon=-95.37&radius=20&limit=100",
            None,
        )
        .await;
    assert_eq!(
        (status, body["count"].as_u64()),
        (200, Some(0)),
        "{cache} {body}"
    );

    let unavailable = samples.iter().filter(|s| s.status == Some(503)).count();
    print_figures(
        "concurrent_incidents",
        &format!("{incidents} POST /incidents, 16 in flight, 40 vendors"),
        &format!(
            "{killed} backends terminated at {}; redis-server SIGKILL at {} for 0.7s",
            secs(pg_killed),
            secs(redis_killed)
        ),
        &samples,
        &format!(
            "{} matched, {} distinct, 0 orphaned; {unavailable} answered 503",
            matched.len(),
            distinct.len()
        ),
    );
}
