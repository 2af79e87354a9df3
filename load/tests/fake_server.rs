//! Runs short profiles against an in-process fake of the API's routes (a test
//! double of the target described in docs/api.md) and checks behaviour: request
//! counts, captured values, threshold verdicts, reports. Never timings.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::{Json, Router};
use load::profile::Profile;
use load::runner::{self, RunConfig};
use load::testdata::Metros;
use serde_json::{Value, json};

#[derive(Default)]
struct Fake {
    /// Answer 500 on GET /vendors/{id}.
    fail_vendor_profile: bool,
    /// Sleep this long before answering a search.
    slow_search_ms: u64,
    /// Match every incident to the same vendor (a double-booking server).
    double_book: bool,
    hits: BTreeMap<&'static str, u64>,
    created_incidents: Vec<String>,
    read_incidents: Vec<String>,
    vendors: Vec<String>,
    searched_vendor_ids: BTreeSet<String>,
    used_vendor_ids: Vec<String>,
    /// `GET /health` requests answered before the first `POST /incidents`.
    health_before_first_incident: Option<u64>,
    /// TCP connections accepted.
    connections: u64,
}

type Shared = Arc<Mutex<Fake>>;

fn hit<'a>(state: &'a Shared, route: &'static str) -> std::sync::MutexGuard<'a, Fake> {
    let mut f = state.lock().unwrap();
    *f.hits.entry(route).or_insert(0) += 1;
    f
}

async fn create_vendor(
    State(s): State<Shared>,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let mut f = hit(&s, "create_vendor");
    assert!(body["businessName"].is_string() && body["capabilities"].is_array());
    let id = format!("vendor-{}", f.vendors.len() + 1);
    f.vendors.push(id.clone());
    (
        StatusCode::CREATED,
        Json(json!({"vendorId": id, "businessName": body["businessName"]})),
    )
}

async fn search(State(s): State<Shared>) -> Json<Value> {
    let delay = hit(&s, "search_vendors").slow_search_ms;
    if delay > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
    }
    let mut f = s.lock().unwrap();
    let ids: Vec<String> = f.vendors.iter().take(3).cloned().collect();
    f.searched_vendor_ids.extend(ids.iter().cloned());
    let vendors: Vec<Value> = ids
        .iter()
        .map(|id| json!({"vendorId": id, "businessName": "x", "distanceMiles": 1.5}))
        .collect();
    Json(json!({"count": vendors.len(), "vendors": vendors}))
}

async fn get_vendor(State(s): State<Shared>, Path(id): Path<String>) -> (StatusCode, Json<Value>) {
    let mut f = hit(&s, "get_vendor");
    f.used_vendor_ids.push(id.clone());
    if f.fail_vendor_profile {
        let body = json!({"error": {"code": "internal", "message": "injected failure"}});
        return (StatusCode::INTERNAL_SERVER_ERROR, Json(body));
    }
    (StatusCode::OK, Json(json!({"vendorId": id})))
}

async fn update_location(
    State(s): State<Shared>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Json<Value> {
    let mut f = hit(&s, "update_location");
    assert!(body["lat"].is_f64() && body["lon"].is_f64());
    f.used_vendor_ids.push(id.clone());
    Json(json!({"vendorId": id, "location": body}))
}

async fn create_incident(
    State(s): State<Shared>,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let mut f = hit(&s, "create_incident");
    if f.health_before_first_incident.is_none() {
        f.health_before_first_incident = Some(f.hits.get("health").copied().unwrap_or(0));
    }
    assert!(
        body["driverId"].is_string()
            && body["type"].is_string()
            && body["location"]["lat"].is_f64()
    );
    let n = f.created_incidents.len() + 1;
    let id = format!("inc-{n}");
    f.created_incidents.push(id.clone());
    // Every third incident finds nobody, the others a vendor of their own (or all the
    // same one when the fake double-books).
    let vendor = if n.is_multiple_of(3) {
        Value::Null
    } else if f.double_book {
        json!({"vendorId": "vendor-busy"})
    } else {
        json!({"vendorId": format!("vendor-match-{n}")})
    };
    let incident = json!({"incidentId": id, "status": "matched", "type": body["type"]});
    (
        StatusCode::CREATED,
        Json(json!({"incidentId": id, "incident": incident, "match": vendor})),
    )
}

async fn get_incident(
    State(s): State<Shared>,
    Path(id): Path<String>,
) -> (StatusCode, Json<Value>) {
    let mut f = hit(&s, "get_incident");
    f.read_incidents.push(id.clone());
    if f.created_incidents.contains(&id) {
        (StatusCode::OK, Json(json!({"incidentId": id})))
    } else {
        (
            StatusCode::NOT_FOUND,
            Json(json!({"error": {"code": "not_found", "message": "no such incident"}})),
        )
    }
}

async fn health(State(s): State<Shared>) -> Json<Value> {
    drop(hit(&s, "health"));
    Json(json!({"status": "ok"}))
}

async fn start_fake(fake: Fake) -> (String, Shared) {
    let state: Shared = Arc::new(Mutex::new(fake));
    let app = Router::new()
        .route("/health", get(health))
        .route("/vendors", post(create_vendor))
        .route("/vendors/search", get(search))
        .route("/vendors/{id}", get(get_vendor))
        .route("/vendors/{id}/location", post(update_location))
        .route("/incidents", post(create_incident))
        .route("/incidents/{id}", get(get_incident))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let counted = state.clone();
    let listener = listener.tap_io(move |_| counted.lock().unwrap().connections += 1);
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://{addr}"), state)
}

/// 2 s at 10 flows/s, then 20 simultaneous flows: 40 flows of the default mix.
/// Thresholds bound only the error rate, or latency at a minute, so a slow test
/// machine cannot fail them.
const SHORT_PROFILE: &str = r#"
name = "short"
seed = 7
request_timeout_ms = 10000
setup_vendors = 5
think_ms = [0, 20]
[[phases]]
name = "steady"
duration_s = 2
rate = 10
[[phases]]
name = "burst"
burst = 20
[thresholds.overall]
error_rate = 0.01
[thresholds.each]
error_rate = 0.01
p99_ms = 60000
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_run_counts_captures_and_reports() {
    let (host, fake) = start_fake(Fake::default()).await;
    let profile = Profile::from_toml(SHORT_PROFILE, "short.toml").unwrap();
    let summary = runner::run(RunConfig {
        headers: vec!["Authorization: Bearer test".into()],
        ..RunConfig::new(host.clone(), profile, Metros::embedded().unwrap())
    })
    .await
    .unwrap();

    assert!(summary.passed, "{:?}", summary.failures());
    assert_eq!(
        (
            summary.starts.scheduled,
            summary.starts.started,
            summary.starts.dropped
        ),
        (40, 40, 0)
    );
    assert_eq!(summary.unfinished, 0);
    assert_eq!(summary.phases.len(), 2);
    assert_eq!(summary.phases[1].starts.started, 20);
    assert_eq!(summary.scenarios.values().sum::<u64>(), 40);

    let flows = |name: &str| summary.scenarios.get(name).copied().unwrap_or(0);
    let count = |key: &str| summary.endpoints.get(key).map_or(0, |e| e.count);
    // Every flow ran all its steps: the fake always has vendors to capture.
    assert_eq!(count("create_incident"), flows("incident"));
    assert_eq!(count("get_incident"), flows("incident"));
    assert_eq!(
        count("search_vendors"),
        flows("vendor_search") + flows("vendor_profile") + flows("location_update")
    );
    assert_eq!(count("get_vendor"), flows("vendor_profile"));
    assert_eq!(count("update_location"), flows("location_update"));
    assert_eq!(
        summary.overall.count,
        summary.endpoints.values().map(|e| e.count).sum::<u64>()
    );
    assert_eq!(summary.overall.errors, 0);
    assert_eq!(summary.setup.as_ref().map(|s| s.ok), Some(5));
    let m = &summary.matches;
    assert_eq!(m.incidents, count("create_incident"));
    assert_eq!(m.matched + m.unmatched, m.incidents);
    assert_eq!(m.unmatched, m.incidents / 3);
    assert_eq!(
        (m.distinct_vendors, m.double_booked_vendors),
        (m.matched, 0)
    );
    assert!(summary.probe.is_none() && summary.calibration.is_none());

    let f = fake.lock().unwrap();
    // What the client counted is what the server saw.
    for key in [
        "create_incident",
        "get_incident",
        "search_vendors",
        "get_vendor",
        "update_location",
    ] {
        assert_eq!(f.hits.get(key).copied().unwrap_or(0), count(key), "{key}");
    }
    // Captured values flowed: each read-back used an id a POST returned, once each.
    let created: BTreeSet<&String> = f.created_incidents.iter().collect();
    let read: BTreeSet<&String> = f.read_incidents.iter().collect();
    assert_eq!(f.read_incidents.len(), f.created_incidents.len());
    assert_eq!(read, created);
    assert!(
        f.used_vendor_ids
            .iter()
            .all(|id| f.searched_vendor_ids.contains(id))
    );

    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("summary.json");
    let html_path = dir.path().join("report.html");
    load::report_json::write(&summary, &json_path).unwrap();
    load::report_html::write(&summary, &html_path).unwrap();
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    assert_eq!(v["passed"], true);
    assert_eq!(v["starts"]["scheduled"], 40);
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.contains("PASS") && html.contains("<svg"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_route_fails_the_run_with_the_threshold_named() {
    let (host, fake) = start_fake(Fake {
        fail_vendor_profile: true,
        ..Fake::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let profile_path = dir.path().join("profile.toml");
    std::fs::write(
        &profile_path,
        r#"
        name = "failing"
        setup_vendors = 3
        think_ms = [0, 10]
        [[phases]]
        duration_s = 1
        rate = 10
        [[scenarios]]
        name = "vendor_profile"
        weight = 1
        steps = ["search_vendors", "think", "get_vendor"]
        [thresholds.each]
        error_rate = 0.01
        "#,
    )
    .unwrap();
    let json_path = dir.path().join("out.json");
    let html_path = dir.path().join("out.html");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_load"))
        .arg("--host")
        .arg(&host)
        .arg("--profile-file")
        .arg(&profile_path)
        .arg("--json")
        .arg(&json_path)
        .arg("--html")
        .arg(&html_path)
        .args(["--quiet", "--calibrate-s", "0.5", "--probe-ms", "20"])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "stdout: {stdout}");
    assert!(
        stdout.contains("FAIL get_vendor error rate 100.00 % (limit < 1.00 %)"),
        "{stdout}"
    );
    assert!(!stdout.contains("FAIL search_vendors"), "{stdout}");

    let v: Value = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    assert_eq!(v["passed"], false);
    assert_eq!(v["endpoints"]["get_vendor"]["errorKinds"]["http_500"], 10);
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.contains("FAIL"));
    // The probe ran beside the load on the same server, and its requests are counted
    // apart from the load's.
    let probe_gets = v["probe"]["endpoints"]["get_vendor"]["count"]
        .as_u64()
        .unwrap_or(0);
    assert_eq!(
        fake.lock().unwrap().hits.get("get_vendor").copied(),
        Some(10 + probe_gets)
    );
    assert!(v["probe"]["endpoints"]["search_vendors"]["count"].as_u64() > Some(0));
    // The calibration ran the same scenario against the built-in stub, which answers
    // every GET /vendors/{id}: no errors there.
    let calibration = &v["calibration"]["overall"];
    assert!(calibration["count"].as_u64() > Some(0), "{calibration}");
    assert_eq!(calibration["errors"], 0);
    assert!(html.contains("generator alone (calibration)"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_search_skips_dependent_steps() {
    // No set-up vendors: searches answer an empty list, so nothing can be captured.
    let (host, fake) = start_fake(Fake::default()).await;
    let profile = Profile::from_toml(
        r#"
        setup_vendors = 0
        think_ms = [0, 0]
        [[phases]]
        duration_s = 1
        rate = 5
        [[scenarios]]
        name = "location_update"
        weight = 1
        steps = ["search_vendors", "think", "update_location"]
        "#,
        "empty.toml",
    )
    .unwrap();
    let summary = runner::run(RunConfig::new(host, profile, Metros::embedded().unwrap()))
        .await
        .unwrap();
    assert_eq!(summary.endpoints["search_vendors"].count, 5);
    assert_eq!(summary.endpoints["update_location"].count, 0);
    assert_eq!(summary.endpoints["update_location"].skipped, 5);
    assert_eq!(fake.lock().unwrap().hits.get("update_location"), None);
}

/// One search flow every 100 ms for 1 s.
fn search_only(max_in_flight: u32, thresholds: &str) -> Profile {
    Profile::from_toml(
        &format!(
            r#"
            setup_vendors = 0
            max_in_flight = {max_in_flight}
            [[phases]]
            duration_s = 1
            rate = 10
            [[scenarios]]
            name = "vendor_search"
            weight = 1
            steps = ["search_vendors"]
            {thresholds}
            "#
        ),
        "search.toml",
    )
    .unwrap()
}

async fn run_against(host: String, profile: Profile) -> load::report_json::RunSummary {
    runner::run(RunConfig::new(host, profile, Metros::embedded().unwrap()))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_route_shows_as_latency_not_as_fewer_requests() {
    // Each answer takes 300 ms, three times the arrival interval: a closed model
    // would send fewer requests; the open model sends all ten on schedule.
    let (host, fake) = start_fake(Fake {
        slow_search_ms: 300,
        ..Fake::default()
    })
    .await;
    let summary = run_against(
        host,
        search_only(100, "[thresholds.search_vendors]\np95_ms = 100"),
    )
    .await;
    assert_eq!((summary.starts.started, summary.starts.dropped), (10, 0));
    assert_eq!(fake.lock().unwrap().hits.get("search_vendors"), Some(&10));
    let search = &summary.endpoints["search_vendors"];
    assert_eq!(search.errors, 0);
    // A lower bound set by the fake's sleep, not a performance assertion.
    assert!(search.p50_ms >= 300.0, "{}", search.p50_ms);
    assert!(!summary.passed);
    assert_eq!(summary.failures().len(), 1);
    assert!(
        summary.failures()[0].starts_with("FAIL search_vendors p95 "),
        "{:?}",
        summary.failures()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_limit_drops_arrivals_instead_of_queueing() {
    // Answers take 2 s; with room for 2 flows, the arrivals at 0 and 100 ms start and
    // the 8 that follow within the first second find the limit reached.
    let (host, fake) = start_fake(Fake {
        slow_search_ms: 2000,
        ..Fake::default()
    })
    .await;
    let summary = run_against(host, search_only(2, "")).await;
    assert_eq!(
        (
            summary.starts.scheduled,
            summary.starts.started,
            summary.starts.dropped
        ),
        (10, 2, 8)
    );
    assert_eq!(summary.phases[0].starts.dropped, 8);
    assert_eq!(summary.endpoints["search_vendors"].count, 2);
    assert_eq!(fake.lock().unwrap().hits.get("search_vendors"), Some(&2));
}

#[test]
fn bad_profile_file_exits_2_naming_file_key_and_allowed_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "base = \"smoke\"\n[thresholds.everything]\np95_ms = 1\n",
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_load"))
        .arg("--profile-file")
        .arg(&path)
        .arg("--quiet")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("bad.toml"), "{stderr}");
    assert!(stderr.contains("`thresholds.everything`"), "{stderr}");
    assert!(
        stderr.contains("allowed: overall, each, create_incident"),
        "{stderr}"
    );
}

#[test]
fn unreachable_target_fails_setup_with_exit_2() {
    // Bind then drop a listener so the port is (almost certainly) closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_load"))
        .args([
            "--host",
            &format!("http://127.0.0.1:{port}"),
            "--setup-vendors",
            "2",
            "--calibrate-s",
            "0",
            "--quiet",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("set-up failed"), "{stderr}");
}

/// The soft limit on open files of this process, from `/proc/self/limits`.
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// The built-in `incidents` profile (1,000 simultaneous incident creations) against
/// the fake. It needs ~2,000 file descriptors; where the soft limit is lower it says so
/// and stops (this machine and CI allow 20,000).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incidents_profile_creates_a_thousand_at_once() {
    if let Some(limit) = open_files_limit().filter(|&l| l < 2_500) {
        eprintln!("SKIPPED: the open-files limit is {limit}, the burst needs about 2,000");
        return;
    }
    let (host, fake) = start_fake(Fake::default()).await;
    let summary = runner::run(RunConfig::new(
        host,
        Profile::builtin("incidents").unwrap(),
        Metros::embedded().unwrap(),
    ))
    .await
    .unwrap();
    assert_eq!(summary.starts.started, 1000);
    assert_eq!(summary.endpoints["create_incident"].count, 1000);
    assert_eq!(
        summary.overall.errors, 0,
        "{:?}",
        summary.overall.error_kinds
    );
    assert_eq!(fake.lock().unwrap().created_incidents.len(), 1000);
}

/// A burst's connections are opened before it: as many `GET /health` requests as the
/// burst has arrivals, all answered before the first measured request, and none of
/// them counted as a request of the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_finds_its_connections_open() {
    let (host, fake) = start_fake(Fake::default()).await;
    let mut profile = Profile::builtin("incidents").unwrap();
    profile.schedule = load::schedule::Schedule::new(vec![load::schedule::Phase::burst(
        "burst",
        50,
        std::time::Duration::ZERO,
    )]);
    profile.setup_vendors = 0;
    let summary = runner::run(RunConfig::new(host, profile, Metros::embedded().unwrap()))
        .await
        .unwrap();
    assert_eq!(summary.overall.count, 50);
    assert_eq!(summary.overall.errors, 0);
    let f = fake.lock().unwrap();
    assert_eq!(f.hits.get("health"), Some(&50));
    assert_eq!(f.health_before_first_incident, Some(50));
    // The warm-up opened the connections (at least one, at most one per request); the
    // burst may add some where a warm-up request reused a connection, never 50 more.
    assert!(
        (1..100).contains(&f.connections),
        "{} connections",
        f.connections
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn double_booked_vendor_fails_the_run() {
    let (host, _fake) = start_fake(Fake {
        double_book: true,
        ..Fake::default()
    })
    .await;
    let profile = Profile::from_toml(
        r#"
        setup_vendors = 0
        [[phases]]
        duration_s = 1
        rate = 6
        [[scenarios]]
        name = "incident"
        weight = 1
        steps = ["create_incident"]
        [thresholds.overall]
        error_rate = 0.01
        "#,
        "double.toml",
    )
    .unwrap();
    let summary = run_against(host, profile).await;
    assert_eq!(summary.overall.errors, 0);
    // Incidents 1, 2, 4 and 5 all named `vendor-busy`; 3 and 6 were unmatched.
    let m = &summary.matches;
    assert_eq!((m.incidents, m.matched, m.unmatched), (6, 4, 2));
    assert_eq!((m.distinct_vendors, m.double_booked_vendors), (1, 1));
    assert_eq!(m.double_booked_examples, ["vendor-busy x4"]);
    assert!(!summary.passed);
    assert!(
        summary
            .failures()
            .iter()
            .any(|f| f.starts_with("FAIL matches")),
        "{:?}",
        summary.failures()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_sends_one_request_at_a_time_beside_the_load() {
    let (host, fake) = start_fake(Fake::default()).await;
    let profile = Profile::from_toml(SHORT_PROFILE, "short.toml").unwrap();
    let summary = runner::run(RunConfig {
        probe_interval: Some(std::time::Duration::from_millis(10)),
        ..RunConfig::new(host, profile, Metros::embedded().unwrap())
    })
    .await
    .unwrap();
    let probe = summary.probe.as_ref().expect("probe figures");
    let probe_count = |key: &str| probe.endpoints.get(key).map_or(0, |e| e.count);
    // The cycle starts with a search, so every endpoint got its turn after it.
    for key in [
        "search_vendors",
        "get_vendor",
        "create_incident",
        "get_incident",
    ] {
        assert!(probe_count(key) > 0, "{key}: {:?}", probe.endpoints.keys());
    }
    let f = fake.lock().unwrap();
    for (key, load) in &summary.endpoints {
        assert_eq!(
            f.hits.get(key.as_str()).copied().unwrap_or(0),
            load.count + probe_count(key),
            "{key}"
        );
    }
    // Each endpoint both measured has a comparison row.
    assert!(
        probe
            .comparison
            .iter()
            .any(|c| c.endpoint == "search_vendors")
    );
    // The probe's incidents count toward the match check as well as the load's.
    assert_eq!(
        summary.matches.incidents,
        summary.endpoints["create_incident"].count + probe_count("create_incident")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calibration_runs_against_the_builtin_stub() {
    let profile = load::calibrate::rate_profile(40.0, std::time::Duration::from_secs(1), 3);
    // Normal scheduling: the test harness's threads keep theirs.
    let figures = load::calibrate::calibrate(
        profile,
        Metros::embedded().unwrap(),
        load::priority::Scheduling::Normal,
    )
    .await
    .unwrap();
    assert_eq!(figures.overall.count, 40);
    // 40 requests cost the generator and the stub some CPU, and it is reported.
    let cpu = figures.cpu.expect("CPU time on Linux");
    assert!(cpu.generator_us_per_request > 0.0, "{cpu:?}");
    assert_eq!(
        figures.overall.errors, 0,
        "{:?}",
        figures.overall.error_kinds
    );
    assert_eq!(figures.starts.started, 40);
    let per_endpoint: u64 = figures.endpoints.values().map(|e| e.count).sum();
    assert_eq!(per_endpoint, 40);
}

#[test]
fn calibrate_subcommand_writes_every_rate() {
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("calibration.json");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_load"))
        .args([
            "calibrate",
            "--rates",
            "20,40",
            "--seconds",
            "0.5",
            "--json",
        ])
        .arg(&json_path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("20 /s for 0.5 s"), "{stdout}");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    let rates = v.as_array().unwrap();
    assert_eq!(rates.len(), 2);
    assert_eq!(rates[0]["overall"]["count"], 10);
    assert_eq!(rates[1]["overall"]["count"], 20);
}
