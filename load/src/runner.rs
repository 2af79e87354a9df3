//! The open-model runner: starts flows on the schedule, sends the requests,
//! records what came back.
//!
//! One task walks the schedule and spawns a task per arrival; it never waits for
//! a flow, so a slow server shows up as latency (measured from the scheduled start)
//! and as flows in flight, not as a lower request rate. When too many flows are in
//! flight the arrival is dropped and counted rather than queued, because queueing
//! would reintroduce coordinated omission.
//!
//! Beside the flows, an optional [`probe`](crate::probe) sends one request at a time
//! on its own connection, and the summary carries the
//! [`calibration`](crate::calibrate) the caller measured before the run.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Url;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::calibrate::CalibrationSummary;
use crate::client::{self, ClientConfig, ClientError};
use crate::exchange;
use crate::probe::{self, ProbeRecord, ProbeRecording};
use crate::profile::Profile;
use crate::recorder::{Recorder, Start};
use crate::report_json::{self, PhaseSummary, RunSummary};
use crate::requests::{self, Captured};
use crate::scenario::{Endpoint, ScenarioMix, Step};
use crate::schedule::{Arrivals, Schedule};
use crate::setup;
use crate::stats::{self, Bucket, Starts};
use crate::testdata::Metros;
use crate::threshold;

/// Errors that stop a run before it produces a summary.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Bad target or header, or the HTTP client could not be built.
    #[error(transparent)]
    Client(#[from] ClientError),
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
    /// Run the sequential probe beside the load, one request per this interval.
    pub probe_interval: Option<Duration>,
    /// The generator's own latency, measured before the run, for the reports.
    pub calibration: Option<CalibrationSummary>,
}

impl RunConfig {
    /// A quiet run of `profile` against `target`: no extra headers, no probe, no
    /// calibration.
    pub fn new(target: impl Into<String>, profile: Profile, metros: Metros) -> Self {
        Self {
            target: target.into(),
            headers: Vec::new(),
            profile,
            metros,
            progress: false,
            probe_interval: None,
            calibration: None,
        }
    }
}

struct Shared {
    client: reqwest::Client,
    base: Url,
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

    fn close_window(&self, progress: bool) {
        let t = self.run_start.elapsed();
        let in_flight = self.in_flight.load(Ordering::Relaxed);
        let line = self
            .recorder()
            .close_window(t, &self.profile.schedule, in_flight, progress);
        if let Some(line) = line {
            eprintln!("{line}");
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

/// Runs a profile against a target and returns the summary (thresholds evaluated).
pub async fn run(config: RunConfig) -> Result<RunSummary, RunError> {
    let base = client::parse_target(&config.target)?;
    let headers = client::parse_headers(&config.headers)?;
    let profile = config.profile;
    let mix = profile
        .mix()
        .ok_or_else(|| RunError::NoScenario(profile.name.clone()))?;
    let client_config = ClientConfig {
        headers,
        request_timeout: profile.request_timeout,
        max_idle_connections: profile.max_in_flight,
    };
    let client = client::build(&client_config)?;

    let setup = if profile.setup_vendors > 0 {
        let bucket = setup::create_vendors(
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
                target: config.target.trim_end_matches('/').to_string(),
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

    // A burst's connections are opened first (unmeasured): see `setup::open_connections`.
    let burst = largest_burst(&profile.schedule).min(profile.max_in_flight);
    if burst > 1 {
        let answered = setup::open_connections(&client, &base, burst).await;
        if config.progress {
            eprintln!("load: {answered} of {burst} connections opened before the burst");
        }
    }

    let started_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let phases = profile.schedule.phases.len();
    let probe_record = ProbeRecord::default();
    let probe_task = match config.probe_interval {
        Some(interval) => {
            // Its own client with one connection: the probe must never wait for a
            // connection the load holds, nor open a second one.
            let probe_client = client::build(&ClientConfig {
                max_idle_connections: 1,
                ..client_config.clone()
            })?;
            Some(tokio::spawn(probe::run(
                probe_client,
                base.clone(),
                config.metros.clone(),
                profile.seed,
                interval,
                probe_record.clone(),
            )))
        }
        None => None,
    };
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
    if let Some(task) = probe_task {
        task.abort();
        let _ = task.await;
    }
    let elapsed = shared.run_start.elapsed();
    shared.close_window(config.progress);

    let probe = config.probe_interval.map(|interval| {
        let record = probe_record.lock().unwrap_or_else(|e| e.into_inner());
        (interval, record.clone())
    });
    if let Some((_, record)) = &probe {
        shared.recorder().matches.merge(&record.matches);
    }
    Ok(summarise(
        &shared,
        Extras {
            setup,
            probe,
            calibration: config.calibration,
            started_at,
            elapsed,
            interrupted,
            unfinished,
        },
    ))
}

/// Walks the schedule, spawns flows, then waits (bounded) for them to finish.
/// Returns whether Ctrl-C stopped it and how many flows were aborted.
async fn drive(shared: Arc<Shared>) -> (bool, u64) {
    let (interrupt, mut interrupted_rx) = tokio::sync::watch::channel(false);
    let watcher = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = interrupt.send(true);
        }
    });
    let scheduler_shared = shared.clone();
    let scheduler_interrupt = interrupted_rx.clone();
    // The schedule is walked on a thread of its own with the OS's sleep, whose slack
    // is tens of microseconds: tokio's timer wheel ticks in whole milliseconds and
    // rounds every deadline up, which added up to 1 ms of start lateness (counted as
    // latency) to every flow.
    let mut flows =
        tokio::task::spawn_blocking(move || start_flows(&scheduler_shared, &scheduler_interrupt))
            .await
            .unwrap_or_default();
    let mut interrupted = *interrupted_rx.borrow();

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
            _ = interrupted_rx.changed(), if !interrupted => { interrupted = true; break; }
        }
    }
    watcher.abort();
    let unfinished = flows.len() as u64;
    flows.abort_all();
    while flows.join_next().await.is_some() {}
    (interrupted, unfinished)
}

/// Longest single sleep of the scheduling thread, so that Ctrl-C is noticed quickly
/// during a quiet phase.
const SCHEDULER_NAP: Duration = Duration::from_millis(50);

/// The schedule walk (on a blocking thread, inside the runtime): sleeps until each
/// arrival, records its start, and spawns its flow onto the runtime.
fn start_flows(
    shared: &Arc<Shared>,
    interrupted: &tokio::sync::watch::Receiver<bool>,
) -> JoinSet<()> {
    let mut rng = StdRng::seed_from_u64(shared.profile.seed);
    let mut flows = JoinSet::new();
    let max_in_flight = shared.profile.max_in_flight as u64;
    let late_limit = shared.profile.late_limit;
    let run_start = shared.run_start.into_std();

    for arrival in shared.profile.schedule.iter() {
        let scheduled = run_start + arrival.at;
        loop {
            if *interrupted.borrow() {
                return flows;
            }
            let now = std::time::Instant::now();
            if now >= scheduled {
                break;
            }
            std::thread::sleep((scheduled - now).min(SCHEDULER_NAP));
        }
        // Draw both values even for a dropped arrival so that the rest of the run
        // makes the same choices whatever the server's speed.
        let scenario = shared.mix.pick(&mut rng);
        let flow_seed: u64 = rng.random();
        let lateness = std::time::Instant::now().saturating_duration_since(scheduled);
        let dropped = shared.in_flight.load(Ordering::Relaxed) >= max_in_flight;
        shared.recorder().start(Start {
            phase: arrival.phase,
            scenario: &shared.mix.scenarios()[scenario].name,
            lateness,
            late: lateness > late_limit,
            dropped,
        });
        if dropped {
            continue;
        }
        shared.in_flight.fetch_add(1, Ordering::Relaxed);
        let flow_shared = shared.clone();
        let scheduled = Instant::from_std(scheduled);
        flows.spawn(async move {
            let _guard = InFlight(&flow_shared.in_flight);
            run_flow(&flow_shared, scenario, arrival.phase, scheduled, flow_seed).await;
        });
        while flows.try_join_next().is_some() {}
    }
    flows
}

/// Arrivals of the schedule's largest burst phase (0 without one).
fn largest_burst(schedule: &Schedule) -> usize {
    schedule
        .phases
        .iter()
        .filter_map(|p| match p.arrivals {
            Arrivals::Burst { count } => usize::try_from(count).ok(),
            Arrivals::Rate { .. } => None,
        })
        .max()
        .unwrap_or(0)
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
                let Some(request) = requests::build(
                    &shared.client,
                    &shared.base,
                    &shared.metros,
                    *endpoint,
                    here,
                    &captured,
                    &mut rng,
                ) else {
                    shared.recorder().skip(phase, *endpoint);
                    continue;
                };
                let answer = exchange::send(request, *endpoint, from).await;
                exchange::capture(*endpoint, answer.body.as_ref(), &mut captured);
                let done = shared.run_start.elapsed();
                let mut r = shared.recorder();
                r.answer(phase, *endpoint, answer.latency, &answer.outcome, done);
                if *endpoint == Endpoint::CreateIncident
                    && let Some(body) = &answer.body
                {
                    r.matches.record(exchange::matched_vendor(body));
                }
            }
        }
    }
}

/// Once a second: close the one-second window into the timeline, print progress.
async fn tick(shared: Arc<Shared>, progress: bool) {
    let mut interval = tokio::time::interval_at(
        shared.run_start + Duration::from_secs(1),
        Duration::from_secs(1),
    );
    loop {
        interval.tick().await;
        shared.close_window(progress);
    }
}

/// What the summary needs besides the recordings.
struct Extras {
    setup: Option<Bucket>,
    probe: Option<(Duration, ProbeRecording)>,
    calibration: Option<CalibrationSummary>,
    started_at: u64,
    elapsed: Duration,
    interrupted: bool,
    unfinished: u64,
}

fn summarise(shared: &Shared, extras: Extras) -> RunSummary {
    let profile = &shared.profile;
    let schedule: &Schedule = &profile.schedule;
    let elapsed = extras.elapsed;
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
    let matches = r.matches.summary();
    let passed = thresholds.iter().all(|t| t.passed) && matches.all_distinct();
    let probe = extras.probe.map(|(interval, record)| {
        probe::summarise(interval, &record.endpoints, &endpoint_summaries, elapsed)
    });
    RunSummary {
        schema_version: report_json::SCHEMA_VERSION,
        profile: profile.name.clone(),
        target: shared.base.as_str().trim_end_matches('/').to_string(),
        seed: profile.seed,
        started_at: report_json::rfc3339(extras.started_at),
        schedule_seconds: schedule.duration().as_secs_f64(),
        elapsed_seconds: elapsed.as_secs_f64(),
        interrupted: extras.interrupted,
        unfinished: extras.unfinished,
        overall,
        endpoints: endpoint_summaries
            .into_iter()
            .map(|(e, s)| (e.key().to_string(), s))
            .collect(),
        phases,
        starts: starts.summary(profile.late_limit),
        scenarios: r.scenarios.clone(),
        setup: extras.setup.map(|b| b.summary(Duration::ZERO)),
        timeline: r.timeline.clone(),
        thresholds,
        matches,
        probe,
        calibration: extras.calibration,
        generator_scheduling: crate::priority::report(),
        passed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "tls")]
    #[tokio::test]
    async fn https_client_builds_without_a_preinstalled_provider() {
        // Port 1 on loopback refuses at once; what matters is that building the TLS
        // client did not panic for want of a crypto provider.
        let mut profile = Profile::builtin("smoke").unwrap();
        profile.setup_vendors = 1;
        let err = run(RunConfig::new(
            "https://127.0.0.1:1",
            profile,
            Metros::embedded().unwrap(),
        ))
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
