//! PostgreSQL failing under load: a restart and a read-only phase (what an Aurora
//! failover looks like to the old writer's sessions). Failures must stay inside the fault
//! window, be clear 503 JSON errors, and the pool must heal by itself.
//! Only loopback servers started by the test are touched; every loop is bounded.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::{App, RedisKind, Sample, print_figures, secs};

/// Reads and writes that all reach PostgreSQL (no Redis: a cache hit would hide the
/// database from the test).
fn db_request(
    base: &str,
    http: &reqwest::Client,
    vendors: &[String],
    incidents: &[String],
    i: u64,
) -> (&'static str, reqwest::RequestBuilder) {
    let vendor = &vendors[(i as usize) % vendors.len()];
    match i % 3 {
        0 => (
            "read",
            http.get(format!(
                "{base}/incidents/{}",
                incidents[(i as usize) % incidents.len()]
            )),
        ),
        1 => ("read", http.get(format!("{base}/vendors/{vendor}"))),
        _ => (
            "write",
            http.post(format!("{base}/vendors/{vendor}/location"))
                .json(&json!({"lat": 39.74 + (i % 100) as f64 * 1e-4, "lon": -104.99})),
        ),
    }
}

async fn seed(app: &App) -> (Vec<String>, Vec<String>) {
    let mut vendors = Vec::new();
    for i in 0..10 {
        vendors.push(
            app.vendor(&format!("V{i}"), &["tire"], 39.74, -104.99)
                .await,
        );
    }
    let mut incidents = Vec::new();
    for _ in 0..5 {
        incidents.push(app.incident("lockout", 39.74, -104.99).await);
    }
    (vendors, incidents)
}

fn assert_clear_503(s: &Sample) {
    assert!(!s.timed_out, "request hung until the client timeout: {s:?}");
    assert_eq!(s.status, Some(503), "a database outage is a 503: {s:?}");
    assert!(s.json, "the 503 has a JSON body: {s:?}");
    assert_eq!(s.body["error"]["code"], "service_unavailable", "{s:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_restart_under_load_fails_only_inside_the_window() {
    let mut app = App::start(RedisKind::None, &[]).await;
    let (vendors, incidents) = seed(&app).await;

    let rate = 60;
    let run = Duration::from_secs(16);
    let start = Instant::now();
    let (base, http) = (app.base.clone(), app.http.clone());
    let load = tokio::spawn(support::open_load(start, rate, run, move |i| {
        db_request(&base, &http, &vendors, &incidents, i)
    }));

    tokio::time::sleep_until((start + Duration::from_secs(4)).into()).await;
    let stopped = start.elapsed();
    tokio::task::block_in_place(|| app.postgres.stop_fast());
    tokio::time::sleep(Duration::from_secs(2)).await;
    tokio::task::block_in_place(|| app.postgres.start_again());
    let back = start.elapsed();
    let samples = load.await.unwrap();

    let healthy_by = back + Duration::from_secs(5);
    let failed: Vec<&Sample> = samples.iter().filter(|s| !s.ok()).collect();
    for s in &failed {
        assert_clear_503(s);
        // A request already in flight when the stop began may fail, hence the margin.
        assert!(
            s.at + Duration::from_millis(500) >= stopped && s.at <= healthy_by,
            "failure outside the restart window [{}, {}]: {s:?}",
            secs(stopped),
            secs(healthy_by)
        );
    }
    assert!(samples.iter().all(|s| !s.timed_out), "a request hung");
    // The pool is healthy within 5 s of the server being back: nothing sent after that fails.
    let after: Vec<&Sample> = samples.iter().filter(|s| s.at > healthy_by).collect();
    assert!(!after.is_empty() && after.iter().all(|s| s.ok()));
    // Signed offsets from the moment the server accepted connections again.
    let offset = |t: Duration| format!("{:+.3}s", t.as_secs_f64() - back.as_secs_f64());
    let last_failure = failed.iter().map(|s| s.end()).max().map(offset);
    let first_success = samples
        .iter()
        .filter(|s| s.at > stopped + Duration::from_millis(200) && s.ok())
        .map(|s| s.end())
        .min()
        .map(offset);
    let (status, _, health) = app.call("GET", "/health", None).await;
    assert_eq!(status, 200, "{health}");

    print_figures(
        "postgres_restart_under_load",
        &format!(
            "{rate} req/s for {}s (1/3 GET incident, 1/3 GET vendor, 1/3 POST location; no Redis)",
            run.as_secs()
        ),
        &format!(
            "postgres fast shutdown at {}, down 2 s, accepting again at {}",
            secs(stopped),
            secs(back)
        ),
        &samples,
        &format!(
            "relative to the server accepting again: last failure ended {}, first success after the stop ended {}; failures {} (reads {}, writes {})",
            last_failure.unwrap_or_default(),
            first_success.unwrap_or_default(),
            failed.len(),
            failed.iter().filter(|s| s.kind == "read").count(),
            failed.iter().filter(|s| s.kind == "write").count(),
        ),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_read_only_fails_writes_fast_and_recovers() {
    let app = App::start(RedisKind::None, &[]).await;
    let (vendors, incidents) = seed(&app).await;
    let admin = app.admin().await;

    let rate = 60;
    let run = Duration::from_secs(14);
    let start = Instant::now();
    let (base, http) = (app.base.clone(), app.http.clone());
    let load = tokio::spawn(support::open_load(start, rate, run, move |i| {
        db_request(&base, &http, &vendors, &incidents, i)
    }));

    tokio::time::sleep_until((start + Duration::from_secs(4)).into()).await;
    // ALTER SYSTEM cannot run in a transaction block: one statement per call.
    admin
        .batch_execute("ALTER SYSTEM SET default_transaction_read_only = on")
        .await
        .unwrap();
    admin
        .batch_execute("SELECT pg_reload_conf()")
        .await
        .unwrap();
    let read_only = start.elapsed();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (status, _, health) = app.call("GET", "/health", None).await;
    assert_eq!(
        (status, &health["database"]["writable"]),
        (503, &json!(false)),
        "{health}"
    );
    admin
        .batch_execute("ALTER SYSTEM RESET default_transaction_read_only")
        .await
        .unwrap();
    admin
        .batch_execute("SELECT pg_reload_conf()")
        .await
        .unwrap();
    let writable = start.elapsed();
    let samples = load.await.unwrap();

    let reads: Vec<&Sample> = samples.iter().filter(|s| s.kind == "read").collect();
    assert!(
        reads.iter().all(|s| s.ok()),
        "reads keep working on a read-only server"
    );
    let writes: Vec<&Sample> = samples.iter().filter(|s| s.kind == "write").collect();
    let refused: Vec<&&Sample> = writes.iter().filter(|s| !s.ok()).collect();
    assert!(
        !refused.is_empty(),
        "the read-only phase refused no write: the fault was not injected"
    );
    for s in &refused {
        assert_clear_503(s);
        assert!(
            s.body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("read-only"),
            "{s:?}"
        );
        assert!(s.end() + Duration::from_millis(500) >= read_only, "{s:?}");
    }
    // No connection keeps serving read-only errors: after the first write that succeeds
    // once the server is writable, no write fails.
    let first_ok = writes
        .iter()
        .filter(|s| s.at >= writable && s.ok())
        .map(|s| s.at)
        .min()
        .expect("a write succeeded after the reset");
    let late: Vec<&&Sample> = writes
        .iter()
        .filter(|s| s.at > first_ok && !s.ok())
        .collect();
    assert!(
        late.is_empty(),
        "read-only errors after recovery: {:?}",
        late.first()
    );
    let slowest_refusal = refused.iter().map(|s| s.latency).max().unwrap_or_default();
    let (status, _, health) = app.call("GET", "/health", None).await;
    assert_eq!(status, 200, "{health}");

    print_figures(
        "postgres_read_only",
        &format!(
            "{rate} req/s for {}s (2/3 reads, 1/3 POST location; no Redis)",
            run.as_secs()
        ),
        &format!(
            "default_transaction_read_only=on at {}, reset at {}",
            secs(read_only),
            secs(writable)
        ),
        &samples,
        &format!(
            "first write OK {} after the reset; {} writes refused with 503, slowest refusal {}",
            secs(first_ok.saturating_sub(writable)),
            refused.len(),
            secs(slowest_refusal),
        ),
    );
}
