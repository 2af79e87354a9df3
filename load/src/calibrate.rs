//! Calibration: the generator measured against a server that answers at once.
//!
//! A load tool's figures are the server's latency plus the tool's own (scheduling,
//! connection handling, timers, parsing). Running the same generator against a stub
//! that does no work gives that second part alone: whatever latency the stub run
//! reports is the tool's error bar. `load calibrate` reports it at several rates;
//! every normal run also calibrates briefly at its own peak rate and the reports show
//! the result beside the measured figures.
//!
//! The stub runs on its own OS thread with its own single-threaded runtime, so its
//! work never queues behind the generator's tasks (it still shares the CPU, as a
//! loopback server would).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::cpu;
use crate::priority::{self, Scheduling};
use crate::profile::Profile;
use crate::report_json::RunSummary;
use crate::runner::{self, RunConfig, RunError};
use crate::scenario::{Endpoint, Scenario, Step};
use crate::schedule::{Arrivals, Phase, Schedule};
use crate::stats::{LatencySummary, StartSummary};
use crate::testdata::Metros;

/// Rates `load calibrate` measures by default, requests per second.
pub const DEFAULT_RATES: [f64; 3] = [15.0, 500.0, 1000.0];

/// Accept queue of the stub, as deep as Linux allows by default (`somaxconn`).
const STUB_BACKLOG: u32 = 4096;

/// Most flows per second a run's own calibration uses; above it the calibration
/// would measure the stub rather than the generator.
const MAX_CALIBRATION_RATE: f64 = 1000.0;

/// A server on 127.0.0.1 that answers every route of the API at once with the
/// smallest body the load suite accepts. Stops when dropped.
pub struct StubServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    /// Returns the CPU time the stub's thread used, when the OS reports it.
    thread: Option<std::thread::JoinHandle<Option<Duration>>>,
}

impl StubServer {
    /// Binds a free loopback port and starts serving on a thread of its own, scheduled
    /// as `scheduling` (see [`priority`]).
    pub fn start(scheduling: Scheduling) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let listener = {
            // Registers the socket with the stub's own reactor (the caller may be
            // inside another runtime, so no `block_on` here).
            let _context = runtime.enter();
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
            // A burst profile opens a thousand connections at once: a short accept
            // queue (std's default is 128) would drop SYNs and the retries would
            // show up as the tool's latency.
            socket.listen(STUB_BACKLOG)?
        };
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("load-stub".into())
            .spawn(move || {
                // The stub stands in for a server that answers at once: it must not
                // wait for the CPU any more than the generator does.
                priority::enter(scheduling);
                runtime.block_on(async move {
                    // Answers leave at once, not after the peer's delayed ACK.
                    let listener = listener.tap_io(|tcp| {
                        let _ = tcp.set_nodelay(true);
                    });
                    let _ = axum::serve(listener, stub_routes())
                        .with_graceful_shutdown(async {
                            let _ = stopped.await;
                        })
                        .await;
                });
                cpu::thread_time()
            })?;
        Ok(Self {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the stub and returns the CPU time its thread used (blocks until the
    /// thread has ended).
    pub fn stop(mut self) -> Option<Duration> {
        self.shut_down()
    }

    fn shut_down(&mut self) -> Option<Duration> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.thread.take().and_then(|t| t.join().ok().flatten())
    }
}

impl Drop for StubServer {
    fn drop(&mut self) {
        self.shut_down();
    }
}

type Ids = Arc<AtomicU64>;

fn stub_routes() -> Router {
    Router::new()
        .route("/health", get(stub_health))
        .route("/vendors", post(stub_create_vendor))
        .route("/vendors/search", get(stub_search))
        .route("/vendors/{id}", get(stub_vendor))
        .route("/vendors/{id}/location", post(stub_vendor))
        .route("/incidents", post(stub_create_incident))
        .route("/incidents/{id}", get(stub_incident))
        .with_state(Ids::default())
}

async fn stub_create_vendor(State(ids): State<Ids>) -> (StatusCode, Json<Value>) {
    let n = ids.fetch_add(1, Ordering::Relaxed);
    (
        StatusCode::CREATED,
        Json(json!({"vendorId": format!("stub-v{n}")})),
    )
}

async fn stub_health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn stub_search() -> Json<Value> {
    Json(json!({"count": 2, "vendors": [{"vendorId": "stub-v1"}, {"vendorId": "stub-v2"}]}))
}

async fn stub_vendor(Path(id): Path<String>) -> Json<Value> {
    Json(json!({"vendorId": id}))
}

async fn stub_create_incident(State(ids): State<Ids>) -> (StatusCode, Json<Value>) {
    let n = ids.fetch_add(1, Ordering::Relaxed);
    let id = format!("stub-i{n}");
    (
        StatusCode::CREATED,
        Json(json!({"incidentId": id, "match": {"vendorId": format!("stub-v{n}")}})),
    )
}

async fn stub_incident(Path(id): Path<String>) -> Json<Value> {
    Json(json!({"incidentId": id}))
}

/// `load calibrate`'s profile: `rate` requests per second for `duration`, each flow
/// one request (6 searches to 4 incident creations, the two answers the generator
/// parses), so flows per second are requests per second.
pub fn rate_profile(rate: f64, duration: Duration, seed: u64) -> Profile {
    let single = |name: &str, weight: u32, endpoint: Endpoint| Scenario {
        name: name.into(),
        weight,
        steps: vec![Step::Request(endpoint)],
    };
    Profile {
        name: format!("calibrate {rate}/s"),
        schedule: Schedule::new(vec![Phase::constant("calibrate", duration, rate)]),
        scenarios: vec![
            single("incident", 4, Endpoint::CreateIncident),
            single("vendor_search", 6, Endpoint::SearchVendors),
        ],
        thresholds: Vec::new(),
        seed,
        request_timeout: Duration::from_secs(10),
        max_in_flight: 10_000,
        late_limit: Duration::from_millis(100),
        setup_vendors: 0,
    }
}

/// A run's own calibration: the profile's scenarios at its highest arrival rate
/// (at most 1,000/s) for `duration`, or its largest burst.
pub fn profile_for(profile: &Profile, duration: Duration) -> Profile {
    let phases = &profile.schedule.phases;
    let burst = phases
        .iter()
        .filter_map(|p| match p.arrivals {
            Arrivals::Burst { count } => Some(count),
            Arrivals::Rate { .. } => None,
        })
        .max();
    let peak = phases
        .iter()
        .filter_map(|p| match p.arrivals {
            Arrivals::Rate { from, to } => Some(from.max(to)),
            Arrivals::Burst { .. } => None,
        })
        .fold(0.0, f64::max)
        .min(MAX_CALIBRATION_RATE);
    let phase = match burst {
        Some(count) if peak == 0.0 || count as f64 > peak => {
            Phase::burst("calibrate", count, Duration::ZERO)
        }
        _ => Phase::constant("calibrate", duration, peak.max(1.0)),
    };
    Profile {
        name: format!("{} (calibration)", profile.name),
        schedule: Schedule::new(vec![phase]),
        thresholds: Vec::new(),
        setup_vendors: 0,
        ..profile.clone()
    }
}

/// The generator's own latency, from a run against the stub.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CalibrationSummary {
    /// What was calibrated, e.g. `500 /s for 10 s`.
    pub arrivals: String,
    /// Requests per second actually completed.
    pub throughput_per_sec: f64,
    /// Latency of every request against the stub: the tool's own share.
    pub overall: LatencySummary,
    /// Per endpoint key.
    pub endpoints: std::collections::BTreeMap<String, LatencySummary>,
    /// How punctually flows started.
    pub starts: StartSummary,
    /// CPU time per completed request, when the OS reports it.
    pub cpu: Option<CpuCost>,
}

/// CPU time per request of a calibration run: the generator's (every thread of the
/// process but the stub's) and the stub's, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CpuCost {
    /// The generator: scheduling, building, sending, reading, recording.
    pub generator_us_per_request: f64,
    /// The stub server's thread.
    pub stub_us_per_request: f64,
}

impl CpuCost {
    /// Per-request figures from the process's CPU time over the run and the stub
    /// thread's; `None` without a figure or without requests.
    pub fn new(process: Option<Duration>, stub: Option<Duration>, requests: u64) -> Option<Self> {
        let (process, stub) = (process?, stub?);
        if requests == 0 {
            return None;
        }
        let per = |d: Duration| d.as_secs_f64() * 1e6 / requests as f64;
        Some(Self {
            generator_us_per_request: per(process.saturating_sub(stub)),
            stub_us_per_request: per(stub),
        })
    }
}

impl CalibrationSummary {
    /// Takes the calibration figures out of a stub run's summary.
    pub fn from_run(summary: &RunSummary) -> Self {
        let arrivals = summary
            .phases
            .first()
            .map(|p| {
                if p.duration_seconds > 0.0 {
                    format!("{} for {} s", p.arrivals, p.duration_seconds)
                } else {
                    p.arrivals.clone()
                }
            })
            .unwrap_or_default();
        Self {
            arrivals,
            throughput_per_sec: summary.overall.throughput_per_sec,
            overall: summary.overall.clone(),
            endpoints: summary.endpoints.clone(),
            starts: summary.starts.clone(),
            cpu: None,
        }
    }
}

/// Why a calibration could not run.
#[derive(Debug, thiserror::Error)]
pub enum CalibrationError {
    /// The stub server did not start.
    #[error("cannot start the calibration stub server on 127.0.0.1")]
    Stub(#[source] std::io::Error),
    /// The run against it failed.
    #[error("calibration run failed")]
    Run(#[source] RunError),
}

/// Runs `profile` against a fresh stub (its thread scheduled as `scheduling`) and
/// returns the calibration figures.
pub async fn calibrate(
    profile: Profile,
    metros: Metros,
    scheduling: Scheduling,
) -> Result<CalibrationSummary, CalibrationError> {
    let stub = StubServer::start(scheduling).map_err(CalibrationError::Stub)?;
    let cpu_before = cpu::process_time();
    let summary = runner::run(RunConfig::new(stub.url(), profile, metros))
        .await
        .map_err(CalibrationError::Run)?;
    let mut figures = CalibrationSummary::from_run(&summary);
    // Stopping joins the stub's thread; leave the async context first so the join
    // cannot stall a runtime worker while the stub winds down its connections.
    let stub_cpu = tokio::task::spawn_blocking(move || stub.stop())
        .await
        .map_err(|e| CalibrationError::Stub(std::io::Error::other(e)))?;
    // After the join, so the process's figure includes all of the stub's time.
    let process_cpu = cpu::process_time()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    figures.cpu = CpuCost::new(process_cpu, stub_cpu, summary.overall.count);
    Ok(figures)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_calibrates_at_its_peak_rate_or_burst() {
        let smoke = Profile::builtin("smoke").unwrap();
        let c = profile_for(&smoke, Duration::from_secs(3));
        assert_eq!(c.schedule.phases.len(), 1);
        assert_eq!(c.schedule.arrival_count(), 90);
        assert_eq!(c.scenarios, smoke.scenarios);
        assert!(c.thresholds.is_empty());
        assert_eq!(c.setup_vendors, 0);

        let full = Profile::builtin("full").unwrap();
        assert_eq!(
            profile_for(&full, Duration::from_secs(2))
                .schedule
                .arrival_count(),
            1000
        );
        let incidents = Profile::builtin("incidents").unwrap();
        let c = profile_for(&incidents, Duration::from_secs(3));
        assert_eq!(
            c.schedule.phases[0].arrivals,
            Arrivals::Burst { count: 1000 }
        );
    }

    #[test]
    fn calibrate_profiles_send_one_request_per_flow() {
        let p = rate_profile(500.0, Duration::from_secs(2), 1);
        assert_eq!(p.schedule.arrival_count(), 1000);
        assert!(p.scenarios.iter().all(|s| s.steps.len() == 1));
    }
}
