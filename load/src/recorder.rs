//! Everything a run records while it goes: starts, answers per (phase, endpoint),
//! matches, and the one-second windows behind the timeline and the progress lines.
//!
//! The runner keeps one [`Recorder`] behind one lock. Every update is a few counter
//! and histogram increments; nothing that can block (printing, I/O) happens while
//! the lock is held.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::matching::MatchLedger;
use crate::scenario::Endpoint;
use crate::schedule::{Arrivals, Schedule};
use crate::stats::{self, Bucket, Outcome, Starts, TimePoint};

/// Recordings of one phase.
#[derive(Debug, Default)]
pub(crate) struct PhaseRecord {
    pub(crate) starts: Starts,
    pub(crate) endpoints: BTreeMap<Endpoint, Bucket>,
    /// When the last answer of a flow that arrived in this phase came in.
    pub(crate) last_done: Duration,
}

/// The run's recordings.
#[derive(Debug)]
pub(crate) struct Recorder {
    pub(crate) phases: Vec<PhaseRecord>,
    pub(crate) scenarios: BTreeMap<String, u64>,
    pub(crate) matches: MatchLedger,
    pub(crate) timeline: Vec<TimePoint>,
    window: hdrhistogram::Histogram<u64>,
    window_started: u64,
    window_completed: u64,
    window_errors: u64,
    total_started: u64,
    total_completed: u64,
    total_errors: u64,
    total_dropped: u64,
    total_late: u64,
}

/// What the schedule asked for at one arrival, and whether it could start.
pub(crate) struct Start<'a> {
    pub(crate) phase: usize,
    pub(crate) scenario: &'a str,
    pub(crate) lateness: Duration,
    pub(crate) late: bool,
    pub(crate) dropped: bool,
}

impl Recorder {
    pub(crate) fn new(phases: usize) -> Self {
        Self {
            phases: (0..phases).map(|_| PhaseRecord::default()).collect(),
            scenarios: BTreeMap::new(),
            matches: MatchLedger::default(),
            timeline: Vec::new(),
            window: stats::new_histogram(),
            window_started: 0,
            window_completed: 0,
            window_errors: 0,
            total_started: 0,
            total_completed: 0,
            total_errors: 0,
            total_dropped: 0,
            total_late: 0,
        }
    }

    pub(crate) fn start(&mut self, start: Start<'_>) {
        if start.dropped {
            self.total_dropped += 1;
        } else {
            self.total_started += 1;
            self.window_started += 1;
            if start.late {
                self.total_late += 1;
            }
            *self
                .scenarios
                .entry(start.scenario.to_string())
                .or_insert(0) += 1;
        }
        let Some(p) = self.phases.get_mut(start.phase) else {
            return;
        };
        p.starts.scheduled += 1;
        if start.dropped {
            p.starts.dropped += 1;
        } else {
            p.starts.started += 1;
            p.starts
                .lateness
                .saturating_record(stats::micros(start.lateness).max(1));
            if start.late {
                p.starts.late += 1;
            }
        }
    }

    pub(crate) fn answer(
        &mut self,
        phase: usize,
        endpoint: Endpoint,
        latency: Option<Duration>,
        outcome: &Outcome,
        done: Duration,
    ) {
        if let Some(p) = self.phases.get_mut(phase) {
            p.endpoints
                .entry(endpoint)
                .or_default()
                .record(latency, outcome);
            p.last_done = p.last_done.max(done);
        }
        if let Some(l) = latency {
            self.window.saturating_record(stats::micros(l).max(1));
        }
        self.window_completed += 1;
        self.total_completed += 1;
        if matches!(outcome, Outcome::Error(_)) {
            self.window_errors += 1;
            self.total_errors += 1;
        }
    }

    pub(crate) fn skip(&mut self, phase: usize, endpoint: Endpoint) {
        if let Some(p) = self.phases.get_mut(phase) {
            p.endpoints.entry(endpoint).or_default().skipped += 1;
        }
    }

    /// Closes the current one-second window into the timeline; returns the progress
    /// line to print (after the lock is released) when `progress` is on.
    pub(crate) fn close_window(
        &mut self,
        t: Duration,
        schedule: &Schedule,
        in_flight: u64,
        progress: bool,
    ) -> Option<String> {
        if self.window_completed == 0
            && self.window_started == 0
            && !self.timeline.is_empty()
            && in_flight == 0
        {
            // Nothing happened since the last point (e.g. the final close right after
            // a tick); an empty point would only add a zero to the chart.
            return None;
        }
        let phase_index = schedule.phase_at(t);
        let phase = schedule.phases.get(phase_index);
        let [p50, p95, p99, max] = stats::window_percentiles(&self.window);
        let point = TimePoint {
            t: (t.as_secs_f64() * 10.0).round() / 10.0,
            phase: phase.map(|p| p.name.clone()).unwrap_or_default(),
            started: self.window_started,
            completed: self.window_completed,
            errors: self.window_errors,
            in_flight,
            p50_ms: p50,
            p95_ms: p95,
            p99_ms: p99,
            max_ms: max,
        };
        self.window.reset();
        self.window_started = 0;
        self.window_completed = 0;
        self.window_errors = 0;
        let line = progress.then(|| {
            let target = match phase {
                Some(p) if t <= schedule.duration() => match p.arrivals {
                    Arrivals::Burst { count } => format!("burst {count}"),
                    Arrivals::Rate { .. } => {
                        let starts = schedule.phase_starts();
                        let into = t
                            .saturating_sub(starts.get(phase_index).copied().unwrap_or_default());
                        format!("{:.1}/s", p.rate_at(into))
                    }
                },
                _ => "drain".to_string(),
            };
            let error_pct = if self.total_completed == 0 {
                0.0
            } else {
                self.total_errors as f64 / self.total_completed as f64 * 100.0
            };
            format!(
                "[{:>5.0}s] {:<12} target {:>9}  started {:>6} (+{:<4}) done {:>7}  err {} ({:.2} %)  in-flight {:>5}  dropped {}  late {}  p50 {:.1} p95 {:.1} p99 {:.1} ms",
                point.t,
                point.phase,
                target,
                self.total_started,
                point.started,
                self.total_completed,
                self.total_errors,
                error_pct,
                in_flight,
                self.total_dropped,
                self.total_late,
                p50,
                p95,
                p99,
            )
        });
        self.timeline.push(point);
        line
    }
}
