//! Latency histograms and the counters around them.
//!
//! Every request lands in one [`Bucket`] per (phase, endpoint); per-endpoint,
//! per-phase and overall figures are merges of those buckets, so the numbers in
//! the different report sections always add up.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Highest latency the histograms hold (one hour, in microseconds); longer values
/// are clamped, which only happens to requests that outlive any sane timeout.
const MAX_MICROS: u64 = 3_600_000_000;

/// Quantiles sampled for the percentile-distribution chart.
pub const CHART_QUANTILES: [f64; 11] = [
    0.0, 0.5, 0.75, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 0.9999, 1.0,
];

/// A latency histogram in microseconds with 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    // The bounds are constants that satisfy the crate's preconditions (low >= 1,
    // high >= 2 * low, sigfig <= 5), so construction cannot fail.
    Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("constant histogram bounds are valid")
}

/// Microseconds of a duration, saturating.
pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

/// How one request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx answer whose body held what the flow needed.
    Ok,
    /// Anything else; the string is the error kind (`http_500`, `timeout`, ...).
    Error(String),
}

/// Counters and latencies of one group of requests.
#[derive(Debug, Clone)]
pub struct Bucket {
    /// Latencies of requests that got an answer (any status).
    pub histogram: Histogram<u64>,
    /// Requests that succeeded.
    pub ok: u64,
    /// Failed requests by kind.
    pub errors: BTreeMap<String, u64>,
    /// Steps not sent because an earlier answer had nothing to capture.
    pub skipped: u64,
}

impl Default for Bucket {
    fn default() -> Self {
        Self {
            histogram: new_histogram(),
            ok: 0,
            errors: BTreeMap::new(),
            skipped: 0,
        }
    }
}

impl Bucket {
    /// Records one request. `latency` is `None` for transport failures (timeout,
    /// refused connection): they have no answer time, only a count.
    pub fn record(&mut self, latency: Option<Duration>, outcome: &Outcome) {
        if let Some(latency) = latency {
            self.histogram.saturating_record(micros(latency).max(1));
        }
        match outcome {
            Outcome::Ok => self.ok += 1,
            Outcome::Error(kind) => *self.errors.entry(kind.clone()).or_insert(0) += 1,
        }
    }

    /// Number of requests sent (successful or not).
    pub fn count(&self) -> u64 {
        self.ok + self.error_count()
    }

    /// Number of failed requests.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &Bucket) {
        // Both histograms share the same bounds, so `add` cannot go out of range; a
        // failure would only lose samples of a report, never abort the run.
        let _ = self.histogram.add(&other.histogram);
        self.ok += other.ok;
        self.skipped += other.skipped;
        for (kind, n) in &other.errors {
            *self.errors.entry(kind.clone()).or_insert(0) += n;
        }
    }

    /// Report figures; `window` is the time the requests were spread over.
    pub fn summary(&self, window: Duration) -> LatencySummary {
        let h = &self.histogram;
        let count = self.count();
        let errors = self.error_count();
        let q = |quantile: f64| {
            if h.is_empty() {
                0.0
            } else {
                ms(h.value_at_quantile(quantile))
            }
        };
        let secs = window.as_secs_f64();
        LatencySummary {
            count,
            ok: self.ok,
            errors,
            error_rate: if count == 0 {
                0.0
            } else {
                errors as f64 / count as f64
            },
            error_kinds: self.errors.clone(),
            skipped: self.skipped,
            throughput_per_sec: if secs > 0.0 { count as f64 / secs } else { 0.0 },
            samples: h.len(),
            min_ms: if h.is_empty() { 0.0 } else { ms(h.min()) },
            mean_ms: if h.is_empty() { 0.0 } else { h.mean() / 1000.0 },
            p50_ms: q(0.5),
            p90_ms: q(0.9),
            p95_ms: q(0.95),
            p99_ms: q(0.99),
            p999_ms: q(0.999),
            max_ms: if h.is_empty() { 0.0 } else { ms(h.max()) },
            percentiles: if h.is_empty() {
                Vec::new()
            } else {
                CHART_QUANTILES.iter().map(|&p| [p * 100.0, q(p)]).collect()
            },
        }
    }
}

/// Figures of one group of requests, as reported.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LatencySummary {
    /// Requests sent.
    pub count: u64,
    /// Successful requests.
    pub ok: u64,
    /// Failed requests.
    pub errors: u64,
    /// `errors / count` (0 when nothing was sent).
    pub error_rate: f64,
    /// Failed requests by kind.
    pub error_kinds: BTreeMap<String, u64>,
    /// Steps skipped for lack of a captured value.
    pub skipped: u64,
    /// Requests per second over the group's window.
    pub throughput_per_sec: f64,
    /// Requests with a latency sample (those that got an answer).
    pub samples: u64,
    /// Fastest answer.
    pub min_ms: f64,
    /// Mean answer time.
    pub mean_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Slowest answer.
    pub max_ms: f64,
    /// `[percentile, ms]` pairs for the distribution chart.
    pub percentiles: Vec<[f64; 2]>,
}

/// Start-time accounting of a phase or run: the open model's own health.
#[derive(Debug, Clone)]
pub struct Starts {
    /// Arrivals the schedule asked for.
    pub scheduled: u64,
    /// Flows actually started.
    pub started: u64,
    /// Arrivals not started because too many flows were in flight.
    pub dropped: u64,
    /// Started later than the lateness limit after their scheduled time.
    pub late: u64,
    /// How late each start was, in microseconds.
    pub lateness: Histogram<u64>,
}

impl Default for Starts {
    fn default() -> Self {
        Self {
            scheduled: 0,
            started: 0,
            dropped: 0,
            late: 0,
            lateness: new_histogram(),
        }
    }
}

impl Starts {
    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &Starts) {
        self.scheduled += other.scheduled;
        self.started += other.started;
        self.dropped += other.dropped;
        self.late += other.late;
        let _ = self.lateness.add(&other.lateness);
    }

    /// Report figures.
    pub fn summary(&self, late_limit: Duration) -> StartSummary {
        let h = &self.lateness;
        let q = |quantile: f64| {
            if h.is_empty() {
                0.0
            } else {
                ms(h.value_at_quantile(quantile))
            }
        };
        StartSummary {
            scheduled: self.scheduled,
            started: self.started,
            dropped: self.dropped,
            late: self.late,
            late_limit_ms: late_limit.as_secs_f64() * 1000.0,
            lateness_p50_ms: q(0.5),
            lateness_p99_ms: q(0.99),
            lateness_max_ms: if h.is_empty() { 0.0 } else { ms(h.max()) },
        }
    }
}

/// Start-time figures, as reported.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StartSummary {
    /// Arrivals the schedule asked for.
    pub scheduled: u64,
    /// Flows started.
    pub started: u64,
    /// Arrivals dropped (in-flight limit reached).
    pub dropped: u64,
    /// Starts later than `lateLimitMs`.
    pub late: u64,
    /// The lateness limit.
    pub late_limit_ms: f64,
    /// Median start lateness.
    pub lateness_p50_ms: f64,
    /// 99th percentile of start lateness.
    pub lateness_p99_ms: f64,
    /// Worst start lateness.
    pub lateness_max_ms: f64,
}

/// One second of the run, for the latency-over-time chart and progress lines.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TimePoint {
    /// Seconds since the run started (end of the one-second window).
    pub t: f64,
    /// Phase running at the end of the window.
    pub phase: String,
    /// Flows started in the window.
    pub started: u64,
    /// Requests completed in the window.
    pub completed: u64,
    /// Failed requests completed in the window.
    pub errors: u64,
    /// Flows in flight at the end of the window.
    pub in_flight: u64,
    /// Median latency of the window.
    pub p50_ms: f64,
    /// 95th percentile of the window.
    pub p95_ms: f64,
    /// 99th percentile of the window.
    pub p99_ms: f64,
    /// Slowest request of the window.
    pub max_ms: f64,
}

/// Percentiles of a one-second window (zeros when it is empty).
pub fn window_percentiles(h: &Histogram<u64>) -> [f64; 4] {
    if h.is_empty() {
        return [0.0; 4];
    }
    [
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.95)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(latencies_ms: &[u64], errors: &[&str]) -> Bucket {
        let mut b = Bucket::default();
        for &l in latencies_ms {
            b.record(Some(Duration::from_millis(l)), &Outcome::Ok);
        }
        for &e in errors {
            b.record(None, &Outcome::Error(e.to_string()));
        }
        b
    }

    fn close(a: f64, b: f64) -> bool {
        // 3 significant digits: values are exact to 0.1 %.
        (a - b).abs() <= b.abs() * 0.001 + 0.001
    }

    #[test]
    fn percentiles_of_a_uniform_sample() {
        let b = bucket(&(1..=1000).collect::<Vec<_>>(), &[]);
        let s = b.summary(Duration::from_secs(10));
        assert_eq!(s.count, 1000);
        assert!(close(s.p50_ms, 500.0), "{}", s.p50_ms);
        assert!(close(s.p95_ms, 950.0), "{}", s.p95_ms);
        assert!(close(s.p99_ms, 990.0), "{}", s.p99_ms);
        assert!(close(s.max_ms, 1000.0), "{}", s.max_ms);
        assert!(close(s.min_ms, 1.0));
        assert!(close(s.mean_ms, 500.5));
        assert!(close(s.throughput_per_sec, 100.0));
        assert_eq!(s.percentiles.first().map(|p| p[0]), Some(0.0));
        assert_eq!(s.percentiles.last().map(|p| p[0]), Some(100.0));
    }

    #[test]
    fn errors_count_without_latency() {
        let b = bucket(&[10, 20, 30], &["timeout", "http_500", "http_500"]);
        let s = b.summary(Duration::from_secs(1));
        assert_eq!((s.count, s.ok, s.errors, s.samples), (6, 3, 3, 3));
        assert!(close(s.error_rate, 0.5));
        assert_eq!(s.error_kinds.get("http_500"), Some(&2));
        assert_eq!(s.error_kinds.get("timeout"), Some(&1));
    }

    #[test]
    fn merge_adds_everything() {
        let mut a = bucket(&[10], &["timeout"]);
        let b = bucket(&[1000, 1000], &["timeout"]);
        a.merge(&b);
        a.skipped += 1;
        let s = a.summary(Duration::ZERO);
        assert_eq!((s.count, s.errors, s.skipped), (5, 2, 1));
        assert!(close(s.max_ms, 1000.0));
        assert_eq!(s.throughput_per_sec, 0.0);
    }

    #[test]
    fn empty_bucket_is_all_zeros() {
        let s = Bucket::default().summary(Duration::from_secs(1));
        assert_eq!((s.count, s.p99_ms, s.error_rate), (0, 0.0, 0.0));
        assert!(s.percentiles.is_empty());
    }

    #[test]
    fn starts_summary() {
        let mut a = Starts {
            scheduled: 10,
            started: 9,
            dropped: 1,
            late: 2,
            ..Starts::default()
        };
        a.lateness.saturating_record(5_000);
        let b = a.clone();
        a.merge(&b);
        let s = a.summary(Duration::from_millis(100));
        assert_eq!((s.scheduled, s.started, s.dropped, s.late), (20, 18, 2, 4));
        assert!(close(s.lateness_max_ms, 5.0));
        assert!(close(s.late_limit_ms, 100.0));
    }
}
