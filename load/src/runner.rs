//! The open-model runner: starts flows on the schedule, sends the requests,
//! records what came back.
//!
//! One task walks the schedule and spawns a task per arrival; it never waits for
//! a flow, so a slow server shows up as latency (measured from the scheduled start)
//! and as flows in flight, not as a lower request rate. When too many flows are in
//! flight the arrival is dropped and counted rather than queued, because queueing
//! would reintroduce coordinated omission.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::profile::Profile;
use crate::report_json::{self, PhaseSummary, RunSummary};
use crate::scenario::{Endpoint, ScenarioMix, Step};
use crate::schedule::{Arrivals, Schedule};
use crate::stats::{self, Bucket, Outcome, Starts, TimePoint};
use crate::testdata::{Metros, Point, round5};
use crate::threshold;

/// Incident types and vendor capabilities share one list (docs/api.md).
pub const INCIDENT_TYPES: [&str; 6] = ["tire", "engine", "tow", "fuel", "lockout", "jumpstart"];

/// Set-up requests in flight at once: enough to be quick, few enough not to be a
/// load test of their own.
const SETUP_CONCURRENCY: usize = 8;

/// Errors that stop a run before it produces a summary.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The base URL is not an absolute http(s) URL.
    #[error("invalid --host `{0}`: expected an absolute http:// or https:// URL")]
    InvalidHost(String),
    /// An https:// target with the crate built without its `tls` feature.
    #[error("cannot load {0}: https:// needs the `tls` feature (on by default) of the load crate")]
    NoTls(String),
    /// A `--header` value is malformed.
    #[error("invalid --header `{0}`: expected `Name: value` with a valid header name and value")]
    InvalidHeader(String),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    /// Every scenario has weight 0.
    #[error("profile `{0}` has no scenario with a weight above 0")]
    NoScenario(String),
    /// Not a single set-up request succeeded, so the target is not usable.
    #[error(
        "set-up failed: none of the {count} POST /vendors requests to {target} succeeded (errors: {errors})"
    )]
    Setup {
        /// Requests attempted.
        count: u32,
        /// Base URL.
        target: String,
        /// Error kinds seen.
        errors: String,
    },
}

/// What to run and where.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Base URL, e.g. `http://127.0.0.1:3000`.
    pub target: String,
    /// Extra headers sent with every request, as `Name: value` lines.
    pub headers: Vec<String>,
    /// The profile.
    pub profile: Profile,
    /// Where request coordinates come from.
    pub metros: Metros,
    /// Print one progress line per second to stderr.
    pub progress: bool,
}

/// Parses `Name: value` header lines into a map.
pub fn parse_headers(lines: &[String]) -> Result<HeaderMap, RunError> {
    let mut map = HeaderMap::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| RunError::InvalidHeader(line.clone()))?;
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| RunError::InvalidHeader(line.clone()))?;
        let value = HeaderValue::from_str(value.trim())
            .map_err(|_| RunError::InvalidHeader(line.clone()))?;
        map.append(name, value);
    }
    Ok(map)
}

/// Checks and normalises a base URL (no trailing slash).
pub fn parse_target(target: &str) -> Result<reqwest::Url, RunError> {
    let url = reqwest::Url::parse(target).map_err(|_| RunError::InvalidHost(target.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(RunError::InvalidHost(target.to_string()));
    }
    if url.scheme() == "https" && !cfg!(feature = "tls") {
        return Err(RunError::NoTls(target.to_string()));
    }
    Ok(url)
}

/// Per-phase recordings.
#[derive(Debug, Default)]
struct PhaseRecord {
    starts: Starts,
    endpoints: BTreeMap<Endpoint, Bucket>,
    last_done: Duration,
}

/// Everything recorded while the run goes; one lock, held for microseconds.
#[derive(Debug)]
struct Recorder {
    phases: Vec<PhaseRecord>,
    scenarios: BTreeMap<String, u64>,
    window: hdrhistogram::Histogram<u64>,
    window_started: u64,
    window_completed: u64,
    window_errors: u64,
    timeline: Vec<TimePoint>,
    total_started: u64,
    total_completed: u64,
    total_errors: u64,
    total_dropped: u64,
    total_late: u64,
}

impl Recorder {
    fn new(phases: usize) -> Self {
        Self {
            phases: (0..phases).map(|_| PhaseRecord::default()).collect(),
            scenarios: BTreeMap::new(),
            window: stats::new_histogram(),
            window_started: 0,
            window_completed: 0,
            window_errors: 0,
            timeline: Vec::new(),
            total_started: 0,
            total_completed: 0,
            total_errors: 0,
            total_dropped: 0,
            total_late: 0,
        }
    }
}

struct Shared {
    client: reqwest::Client,
    base: String,
    profile: Profile,
    mix: ScenarioMix,
    metros: Metros,
    recorder: Mutex<Recorder>,
    in_flight: AtomicU64,
    run_start: Instant,
}

impl Shared {
    fn recorder(&self) -> MutexGuard<'_, Recorder> {
        // A panic inside a critical section cannot leave the counters half-updated in
        // a way that matters for a report, so a poisoned lock is still usable.
        self.recorder.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn record(
        &self,
        phase: usize,
        endpoint: Endpoint,
        latency: Option<Duration>,
        outcome: &Outcome,
    ) {
        let done = self.run_start.elapsed();
        let mut r = self.recorder();
        if let Some(p) = r.phases.get_mut(phase) {
            p.endpoints
                .entry(endpoint)
                .or_default()
                .record(latency, outcome);
            p.last_done = p.last_done.max(done);
        }
        if let Some(l) = latency {
            r.window.saturating_record(stats::micros(l).max(1));
        }
        r.window_completed += 1;
        r.total_completed += 1;
        if matches!(outcome, Outcome::Error(_)) {
            r.window_errors += 1;
            r.total_errors += 1;
        }
    }

    fn skip(&self, phase: usize, endpoint: Endpoint) {
        let mut r = self.recorder();
        if let Some(p) = r.phases.get_mut(phase) {
            p.endpoints.entry(endpoint).or_default().skipped += 1;
        }
    }
}

/// Decrements the in-flight count however the flow ends (including abort).
struct InFlight<'a>(&'a AtomicU64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Values captured by earlier steps of a flow.
#[derive(Debug, Default)]
struct Captured {
    incident_id: Option<String>,
    vendor_ids: Vec<String>,
}

/// What a request produced.
struct Answer {
    latency: Option<Duration>,
    outcome: Outcome,
    body: Option<Value>,
}

/// Runs a profile against a target and returns the summary (thresholds evaluated).
pub async fn run(config: RunConfig) -> Result<RunSummary, RunError> {
    let url = parse_target(&config.target)?;
    let headers = parse_headers(&config.headers)?;
    let profile = config.profile;
    let mix = profile
        .mix()
        .ok_or_else(|| RunError::NoScenario(profile.name.clone()))?;
    #[cfg(feature = "tls")]
    {
        // reqwest is built without a default crypto provider; installing ring here is
        // a no-op (an `Err` we can ignore) when the process already has one.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .user_agent(concat!("roadcall-load/", env!("CARGO_PKG_VERSION")))
        .timeout(profile.request_timeout)
        .connect_timeout(profile.request_timeout.min(Duration::from_secs(5)))
        .pool_max_idle_per_host(profile.max_in_flight)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| RunError::Client(e.to_string()))?;
    let base = url.as_str().trim_end_matches('/').to_string();

    let setup = if profile.setup_vendors > 0 {
        let bucket = setup_vendors(
            &client,
            &base,
            &config.metros,
            profile.setup_vendors,
            profile.seed,
        )
        .await;
        if bucket.ok == 0 {
            return Err(RunError::Setup {
                count: profile.setup_vendors,
                target: base,
                errors: bucket
                    .errors
                    .iter()
                    .map(|(k, n)| format!("{k} x{n}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        Some(bucket)
    } else {
        None
    };

    let started_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let phases = profile.schedule.phases.len();
    let shared = Arc::new(Shared {
        client,
        base,
        mix,
        metros: config.metros,
        recorder: Mutex::new(Recorder::new(phases)),
        in_flight: AtomicU64::new(0),
        run_start: Instant::now(),
        profile,
    });

    let ticker = tokio::spawn(tick(shared.clone(), config.progress));
    let (interrupted, unfinished) = drive(shared.clone()).await;
    ticker.abort();
    let elapsed = shared.run_start.elapsed();
    close_window(&shared, config.progress);

    Ok(summarise(
        &shared,
        setup,
        started_at,
        elapsed,
        interrupted,
        unfinished,
    ))
}

/// Walks the schedule, spawns flows, then waits (bounded) for them to finish.
/// Returns whether Ctrl-C stopped it and how many flows were aborted.
async fn drive(shared: Arc<Shared>) -> (bool, u64) {
    let mut rng = StdRng::seed_from_u64(shared.profile.seed);
    let mut flows = JoinSet::new();
    let mut interrupted = false;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let max_in_flight = shared.profile.max_in_flight as u64;
    let late_limit = shared.profile.late_limit;

    for arrival in shared.profile.schedule.iter() {
        let scheduled = shared.run_start + arrival.at;
        tokio::select! {
            _ = tokio::time::sleep_until(scheduled) => {}
            _ = &mut ctrl_c => { interrupted = true; break; }
        }
        // Draw both values even for a dropped arrival so that the rest of the run
        // makes the same choices whatever the server's speed.
        let scenario = shared.mix.pick(&mut rng);
        let flow_seed: u64 = rng.random();
        let now = Instant::now();
        let lateness = now.saturating_duration_since(scheduled);
        let dropped = shared.in_flight.load(Ordering::Relaxed) >= max_in_flight;
        {
            let mut r = shared.recorder();
            if dropped {
                r.total_dropped += 1;
            } else {
                r.total_started += 1;
                r.window_started += 1;
                if lateness > late_limit {
                    r.total_late += 1;
                }
                let name = shared.mix.scenarios()[scenario].name.clone();
                *r.scenarios.entry(name).or_insert(0) += 1;
            }
            if let Some(p) = r.phases.get_mut(arrival.phase) {
                p.starts.scheduled += 1;
                if dropped {
                    p.starts.dropped += 1;
                } else {
                    p.starts.started += 1;
                    p.starts
                        .lateness
                        .saturating_record(stats::micros(lateness).max(1));
                    if lateness > late_limit {
                        p.starts.late += 1;
                    }
                }
            }
        }
        if dropped {
            continue;
        }
        shared.in_flight.fetch_add(1, Ordering::Relaxed);
        let flow_shared = shared.clone();
        flows.spawn(async move {
            let _guard = InFlight(&flow_shared.in_flight);
            run_flow(&flow_shared, scenario, arrival.phase, scheduled, flow_seed).await;
        });
        while flows.try_join_next().is_some() {}
    }

    // Every flow ends within its steps' timeouts and think times; the drain waits
    // that long at most (shorter after Ctrl-C) and aborts the rest.
    let drain = if interrupted {
        Duration::from_secs(2)
    } else {
        drain_limit(&shared.profile)
    };
    let deadline = Instant::now() + drain;
    loop {
        tokio::select! {
            next = flows.join_next() => if next.is_none() { break },
            _ = tokio::time::sleep_until(deadline) => break,
            _ = &mut ctrl_c, if !interrupted => { interrupted = true; break; }
        }
    }
    let unfinished = flows.len() as u64;
    flows.abort_all();
    while flows.join_next().await.is_some() {}
    (interrupted, unfinished)
}

/// Longest a flow can take after it starts: each request's timeout plus each think
/// time, plus a second of slack.
pub fn drain_limit(profile: &Profile) -> Duration {
    let longest = profile
        .scenarios
        .iter()
        .map(|s| {
            s.steps
                .iter()
                .map(|step| match step {
                    Step::Request(_) => profile.request_timeout,
                    Step::Think { max, .. } => *max,
                })
                .sum::<Duration>()
        })
        .max()
        .unwrap_or_default();
    longest + Duration::from_secs(1)
}

async fn run_flow(shared: &Shared, scenario: usize, phase: usize, scheduled: Instant, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let here = shared.metros.sample(&mut rng);
    let mut captured = Captured::default();
    let mut first_request = true;
    let Some(scenario) = shared.mix.scenarios().get(scenario) else {
        return;
    };
    for step in &scenario.steps {
        match step {
            Step::Think { min, max } => {
                tokio::time::sleep(Step::think_time(*min, *max, &mut rng)).await
            }
            Step::Request(endpoint) => {
                // The first request of a flow is what the schedule started: its
                // latency counts from the scheduled instant, so start lateness and
                // client-side queueing are part of what users would have seen.
                // Later steps follow the previous answer and count from their send.
                let from = if first_request {
                    scheduled
                } else {
                    Instant::now()
                };
                first_request = false;
                let Some(request) = build_request(shared, *endpoint, here, &captured, &mut rng)
                else {
                    shared.skip(phase, *endpoint);
                    continue;
                };
                let answer = send(request, *endpoint, from).await;
                capture(*endpoint, answer.body.as_ref(), &mut captured);
                shared.record(phase, *endpoint, answer.latency, &answer.outcome);
            }
        }
    }
}

/// Builds the request of a step, or `None` when a needed value was not captured.
fn build_request<R: Rng>(
    shared: &Shared,
    endpoint: Endpoint,
    here: Point,
    captured: &Captured,
    rng: &mut R,
) -> Option<reqwest::RequestBuilder> {
    let base = &shared.base;
    let client = &shared.client;
    let request = match endpoint {
        Endpoint::CreateIncident => client
            .post(format!("{base}/incidents"))
            .json(&incident_body(here, rng)),
        Endpoint::GetIncident => {
            let id = captured.incident_id.as_deref()?;
            client.get(format!("{base}/incidents/{}", encode_segment(id)))
        }
        Endpoint::SearchVendors => {
            client.get(format!("{base}/vendors/search?{}", search_query(here, rng)))
        }
        Endpoint::GetVendor => {
            let id = pick(&captured.vendor_ids, rng)?;
            client.get(format!("{base}/vendors/{}", encode_segment(id)))
        }
        Endpoint::UpdateLocation => {
            let id = pick(&captured.vendor_ids, rng)?;
            let to = shared.metros.nudge(rng, here);
            client
                .post(format!("{base}/vendors/{}/location", encode_segment(id)))
                .json(&json!({"lat": round5(to.lat), "lon": round5(to.lon)}))
        }
        Endpoint::CreateVendor => client
            .post(format!("{base}/vendors"))
            .json(&vendor_body(0, here, rng)),
    };
    Some(request)
}

fn pick<'a, R: Rng>(ids: &'a [String], rng: &mut R) -> Option<&'a str> {
    if ids.is_empty() {
        return None;
    }
    ids.get(rng.random_range(0..ids.len())).map(String::as_str)
}

/// `POST /incidents` body, as the platform's clients send it.
pub fn incident_body<R: Rng>(at: Point, rng: &mut R) -> Value {
    let kind = INCIDENT_TYPES[rng.random_range(0..INCIDENT_TYPES.len())];
    let description = match kind {
        "tire" => "flat tire on the shoulder",
        "engine" => "engine overheating, steam from the hood",
        "tow" => "car will not start, needs a tow",
        "fuel" => "ran out of fuel",
        "lockout" => "keys locked inside the car",
        _ => "battery dead, needs a jump start",
    };
    json!({
        "driverId": format!("load-driver-{}", rng.random_range(0..100_000u32)),
        "type": kind,
        "location": {"lat": round5(at.lat), "lon": round5(at.lon)},
        "description": description,
    })
}

/// `GET /vendors/search` query string: around `at`, 25 miles, 10 results, a
/// capability filter on half of the searches.
pub fn search_query<R: Rng>(at: Point, rng: &mut R) -> String {
    let mut q = format!(
        "lat={}&lon={}&radius=25&limit=10",
        round5(at.lat),
        round5(at.lon)
    );
    if rng.random_bool(0.5) {
        q.push_str("&capability=");
        q.push_str(INCIDENT_TYPES[rng.random_range(0..INCIDENT_TYPES.len())]);
    }
    q
}

/// `POST /vendors` body for the set-up vendors.
pub fn vendor_body<R: Rng>(n: u32, at: Point, rng: &mut R) -> Value {
    // Two or three capabilities per vendor so every incident type finds someone.
    let first = rng.random_range(0..INCIDENT_TYPES.len());
    let count = rng.random_range(2..=3);
    let capabilities: Vec<&str> = (0..count)
        .map(|i| INCIDENT_TYPES[(first + i * 2) % INCIDENT_TYPES.len()])
        .collect();
    json!({
        "businessName": format!("Load Test Roadside {n}"),
        "capabilities": capabilities,
        "location": {"lat": round5(at.lat), "lon": round5(at.lon)},
        "rating": (rng.random_range(30..=50) as f64) / 10.0,
    })
}

/// Percent-encodes a captured id for use as one path segment, so an id the server
/// invents (with `/` or spaces) cannot change the route.
pub fn encode_segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Sends a request and classifies the answer. Latency is measured to the end of the
/// body, from `from`.
async fn send(request: reqwest::RequestBuilder, endpoint: Endpoint, from: Instant) -> Answer {
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => {
            return Answer {
                latency: None,
                outcome: Outcome::Error(transport_kind(&e).into()),
                body: None,
            };
        }
    };
    let status = response.status();
    let bytes = response.bytes().await;
    let latency = Some(from.elapsed());
    let bytes = match bytes {
        Ok(b) => b,
        Err(e) => {
            return Answer {
                latency,
                outcome: Outcome::Error(transport_kind(&e).into()),
                body: None,
            };
        }
    };
    if !status.is_success() {
        return Answer {
            latency,
            outcome: Outcome::Error(format!("http_{}", status.as_u16())),
            body: None,
        };
    }
    // Only answers that feed a capture are parsed: the others are measured, not judged.
    let needs_body = matches!(endpoint, Endpoint::CreateIncident | Endpoint::SearchVendors);
    if !needs_body {
        return Answer {
            latency,
            outcome: Outcome::Ok,
            body: None,
        };
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(body) if capture_shape_ok(endpoint, &body) => Answer {
            latency,
            outcome: Outcome::Ok,
            body: Some(body),
        },
        Ok(_) => Answer {
            latency,
            outcome: Outcome::Error("unexpected_body".into()),
            body: None,
        },
        Err(_) => Answer {
            latency,
            outcome: Outcome::Error("invalid_json".into()),
            body: None,
        },
    }
}

fn transport_kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_body() || e.is_decode() {
        "body"
    } else {
        "request"
    }
}

/// Whether a 2xx answer has the field the flow captures: `incidentId` (string) for
/// an incident, a `vendors` array for a search.
fn capture_shape_ok(endpoint: Endpoint, body: &Value) -> bool {
    match endpoint {
        Endpoint::CreateIncident => body.get("incidentId").and_then(Value::as_str).is_some(),
        Endpoint::SearchVendors => body.get("vendors").and_then(Value::as_array).is_some(),
        _ => true,
    }
}

fn capture(endpoint: Endpoint, body: Option<&Value>, captured: &mut Captured) {
    let Some(body) = body else { return };
    match endpoint {
        Endpoint::CreateIncident => {
            captured.incident_id = body
                .get("incidentId")
                .and_then(Value::as_str)
                .map(str::to_string);
        }
        Endpoint::SearchVendors => {
            captured.vendor_ids = body
                .get("vendors")
                .and_then(Value::as_array)
                .map(|vendors| {
                    vendors
                        .iter()
                        .filter_map(|v| v.get("vendorId").and_then(Value::as_str))
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
        }
        _ => {}
    }
}

/// Creates vendors around the metros so searches and matching find someone.
async fn setup_vendors(
    client: &reqwest::Client,
    base: &str,
    metros: &Metros,
    count: u32,
    seed: u64,
) -> Bucket {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5e7u64);
    let mut bucket = Bucket::default();
    let mut tasks = JoinSet::new();
    for n in 0..count {
        if tasks.len() >= SETUP_CONCURRENCY
            && let Some(Ok(answer)) = tasks.join_next().await
        {
            let answer: Answer = answer;
            bucket.record(answer.latency, &answer.outcome);
        }
        let at = metros.sample(&mut rng);
        let request = client
            .post(format!("{base}/vendors"))
            .json(&vendor_body(n, at, &mut rng));
        tasks.spawn(send(request, Endpoint::CreateVendor, Instant::now()));
    }
    while let Some(result) = tasks.join_next().await {
        if let Ok(answer) = result {
            bucket.record(answer.latency, &answer.outcome);
        }
    }
    bucket
}

/// Once a second: close the one-second window into the timeline, print progress.
async fn tick(shared: Arc<Shared>, progress: bool) {
    let mut interval = tokio::time::interval_at(
        shared.run_start + Duration::from_secs(1),
        Duration::from_secs(1),
    );
    loop {
        interval.tick().await;
        close_window(&shared, progress);
    }
}

fn close_window(shared: &Shared, progress: bool) {
    let t = shared.run_start.elapsed();
    let schedule = &shared.profile.schedule;
    let phase_index = schedule.phase_at(t);
    let phase = schedule.phases.get(phase_index);
    let in_flight = shared.in_flight.load(Ordering::Relaxed);
    let mut r = shared.recorder();
    if r.window_completed == 0 && r.window_started == 0 && !r.timeline.is_empty() && in_flight == 0
    {
        // Nothing happened since the last point (e.g. the final close right after a
        // tick); an empty point would only add a zero to the chart.
        return;
    }
    let [p50, p95, p99, max] = stats::window_percentiles(&r.window);
    let point = TimePoint {
        t: (t.as_secs_f64() * 10.0).round() / 10.0,
        phase: phase.map(|p| p.name.clone()).unwrap_or_default(),
        started: r.window_started,
        completed: r.window_completed,
        errors: r.window_errors,
        in_flight,
        p50_ms: p50,
        p95_ms: p95,
        p99_ms: p99,
        max_ms: max,
    };
    r.window.reset();
    r.window_started = 0;
    r.window_completed = 0;
    r.window_errors = 0;
    if progress {
        let target = match phase {
            Some(p) if t <= schedule.duration() => match p.arrivals {
                Arrivals::Burst { count } => format!("burst {count}"),
                Arrivals::Rate { .. } => {
                    let starts = schedule.phase_starts();
                    let into =
                        t.saturating_sub(starts.get(phase_index).copied().unwrap_or_default());
                    format!("{:.1}/s", p.rate_at(into))
                }
            },
            _ => "drain".to_string(),
        };
        let error_pct = if r.total_completed == 0 {
            0.0
        } else {
            r.total_errors as f64 / r.total_completed as f64 * 100.0
        };
        eprintln!(
            "[{:>5.0}s] {:<12} target {:>9}  started {:>6} (+{:<4}) done {:>7}  err {} ({:.2} %)  in-flight {:>5}  dropped {}  late {}  p50 {:.1} p95 {:.1} p99 {:.1} ms",
            point.t,
            point.phase,
            target,
            r.total_started,
            point.started,
            r.total_completed,
            r.total_errors,
            error_pct,
            in_flight,
            r.total_dropped,
            r.total_late,
            p50,
            p95,
            p99,
        );
    }
    r.timeline.push(point);
}

fn summarise(
    shared: &Shared,
    setup: Option<Bucket>,
    started_at: u64,
    elapsed: Duration,
    interrupted: bool,
    unfinished: u64,
) -> RunSummary {
    let profile = &shared.profile;
    let schedule: &Schedule = &profile.schedule;
    let r = shared.recorder();
    let mut overall = Bucket::default();
    let mut per_endpoint: BTreeMap<Endpoint, Bucket> = BTreeMap::new();
    let mut starts = Starts::default();
    let mut phases = Vec::new();
    for ((phase, record), start) in schedule
        .phases
        .iter()
        .zip(&r.phases)
        .zip(schedule.phase_starts())
    {
        let mut phase_overall = Bucket::default();
        let mut endpoints = BTreeMap::new();
        // A burst phase may last 0 s; its throughput is over the time its requests
        // actually took.
        let window = phase.duration.max(record.last_done.saturating_sub(start));
        for (endpoint, bucket) in &record.endpoints {
            phase_overall.merge(bucket);
            per_endpoint.entry(*endpoint).or_default().merge(bucket);
            endpoints.insert(endpoint.key().to_string(), bucket.summary(window));
        }
        overall.merge(&phase_overall);
        starts.merge(&record.starts);
        phases.push(PhaseSummary {
            name: phase.name.clone(),
            start_seconds: start.as_secs_f64(),
            duration_seconds: phase.duration.as_secs_f64(),
            arrivals: match phase.arrivals {
                Arrivals::Rate { from, to } if from == to => format!("{from} /s"),
                Arrivals::Rate { from, to } => format!("{from} -> {to} /s"),
                Arrivals::Burst { count } => format!("burst {count}"),
            },
            starts: record.starts.summary(profile.late_limit),
            overall: phase_overall.summary(window),
            endpoints,
        });
    }
    let overall = overall.summary(elapsed);
    let endpoint_summaries: BTreeMap<Endpoint, stats::LatencySummary> = per_endpoint
        .iter()
        .map(|(e, b)| (*e, b.summary(elapsed)))
        .collect();
    let thresholds = threshold::evaluate(&profile.thresholds, &overall, &endpoint_summaries);
    let passed = thresholds.iter().all(|t| t.passed);
    RunSummary {
        schema_version: report_json::SCHEMA_VERSION,
        profile: profile.name.clone(),
        target: shared.base.clone(),
        seed: profile.seed,
        started_at: report_json::rfc3339(started_at),
        schedule_seconds: schedule.duration().as_secs_f64(),
        elapsed_seconds: elapsed.as_secs_f64(),
        interrupted,
        unfinished,
        overall,
        endpoints: endpoint_summaries
            .into_iter()
            .map(|(e, s)| (e.key().to_string(), s))
            .collect(),
        phases,
        starts: starts.summary(profile.late_limit),
        scenarios: r.scenarios.clone(),
        setup: setup.map(|b| b.summary(Duration::ZERO)),
        timeline: r.timeline.clone(),
        thresholds,
        passed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_parse() {
        let map = parse_headers(&["Authorization: Bearer x:y".to_string()]).unwrap();
        assert_eq!(map.get("authorization").unwrap(), "Bearer x:y");
        assert!(parse_headers(&["no colon".to_string()]).is_err());
        assert!(parse_headers(&["bad name: v".to_string()]).is_err());
    }

    #[test]
    fn targets() {
        assert!(parse_target("http://127.0.0.1:3000").is_ok());
        assert!(parse_target("ftp://127.0.0.1").is_err());
        assert!(parse_target("127.0.0.1:3000").is_err());
    }

    #[test]
    fn segments_are_encoded() {
        assert_eq!(encode_segment("c0a8-1_2.x~"), "c0a8-1_2.x~");
        assert_eq!(encode_segment("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn bodies_follow_the_contract() {
        let mut rng = StdRng::seed_from_u64(1);
        let at = Point {
            lat: 40.7,
            lon: -74.0,
        };
        let b = incident_body(at, &mut rng);
        assert!(INCIDENT_TYPES.contains(&b["type"].as_str().unwrap()));
        assert!(b["driverId"].as_str().unwrap().starts_with("load-driver-"));
        assert_eq!(b["location"]["lat"], 40.7);
        let v = vendor_body(3, at, &mut rng);
        assert_eq!(v["businessName"], "Load Test Roadside 3");
        assert!(v["capabilities"].as_array().unwrap().len() >= 2);
        let q = search_query(at, &mut rng);
        assert!(q.starts_with("lat=40.7&lon=-74&radius=25&limit=10"), "{q}");
    }

    #[test]
    fn captures_read_the_contract_fields() {
        let mut c = Captured::default();
        capture(
            Endpoint::CreateIncident,
            Some(&json!({"incidentId": "i-1"})),
            &mut c,
        );
        capture(
            Endpoint::SearchVendors,
            Some(&json!({"vendors": [{"vendorId": "v-1"}, {"vendorId": "v-2"}, {}], "count": 3})),
            &mut c,
        );
        assert_eq!(c.incident_id.as_deref(), Some("i-1"));
        assert_eq!(c.vendor_ids, ["v-1", "v-2"]);
        assert!(!capture_shape_ok(
            Endpoint::CreateIncident,
            &json!({"id": "x"})
        ));
        assert!(!capture_shape_ok(
            Endpoint::SearchVendors,
            &json!({"vendors": {}})
        ));
    }

    #[cfg(feature = "tls")]
    #[tokio::test]
    async fn https_client_builds_without_a_preinstalled_provider() {
        // Port 1 on loopback refuses at once; what matters is that building the TLS
        // client did not panic for want of a crypto provider.
        let mut profile = Profile::builtin("smoke").unwrap();
        profile.setup_vendors = 1;
        let err = run(RunConfig {
            target: "https://127.0.0.1:1".into(),
            headers: Vec::new(),
            profile,
            metros: Metros::embedded().unwrap(),
            progress: false,
        })
        .await
        .unwrap_err();
        assert!(err.to_string().contains("set-up failed"), "{err}");
    }

    #[test]
    fn drain_covers_the_longest_flow() {
        let p = Profile::builtin("smoke").unwrap();
        // Two requests of 10 s, one think of at most 0.5 s, one second of slack.
        assert_eq!(drain_limit(&p), Duration::from_millis(21_500));
    }
}
