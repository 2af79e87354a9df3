//! The run summary and its JSON file (`--json PATH`).
//!
//! The JSON is the machine-readable record of a run: CI archives it, and the HTML
//! report is rendered from the same structure so the two never disagree.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::calibrate::CalibrationSummary;
use crate::matching::MatchSummary;
use crate::priority::SchedulingReport;
use crate::probe::ProbeSummary;
use crate::stats::{LatencySummary, StartSummary, TimePoint};
use crate::threshold::ThresholdResult;

/// Version of the JSON shape; bumped when a field changes meaning or disappears
/// (version 1 plus `matches`, `probe`, `calibration` and `generatorScheduling` is
/// still 1: fields were only added).
pub const SCHEMA_VERSION: u32 = 1;

/// Everything a run measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    /// Version of this shape ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// Profile name.
    pub profile: String,
    /// Base URL of the target.
    pub target: String,
    /// Seed of the random choices.
    pub seed: u64,
    /// Wall-clock start, RFC 3339 UTC.
    pub started_at: String,
    /// Length of the schedule, seconds.
    pub schedule_seconds: f64,
    /// Actual run time including the drain of in-flight flows, seconds.
    pub elapsed_seconds: f64,
    /// True when the run was stopped early (Ctrl-C).
    pub interrupted: bool,
    /// Flows still running when the drain time ran out (aborted, not counted as
    /// requests).
    pub unfinished: u64,
    /// All measured requests.
    pub overall: LatencySummary,
    /// Per endpoint key (`create_incident`, ...).
    pub endpoints: BTreeMap<String, LatencySummary>,
    /// Per phase, in order.
    pub phases: Vec<PhaseSummary>,
    /// Start accounting over the whole run.
    pub starts: StartSummary,
    /// Flows started per scenario.
    pub scenarios: BTreeMap<String, u64>,
    /// The unmeasured set-up requests (`POST /vendors`), when there were any.
    pub setup: Option<LatencySummary>,
    /// One point per second.
    pub timeline: Vec<TimePoint>,
    /// Verdict of every threshold.
    pub thresholds: Vec<ThresholdResult>,
    /// Vendors the created incidents were matched to, and whether any was named twice.
    pub matches: MatchSummary,
    /// The sequential probe beside the load, when it ran.
    pub probe: Option<ProbeSummary>,
    /// The generator's own latency against a stub that answers at once, when measured.
    pub calibration: Option<CalibrationSummary>,
    /// How the generator's threads were scheduled (`None` when the runner was driven
    /// from a runtime that did not set it, e.g. a test).
    pub generator_scheduling: Option<SchedulingReport>,
    /// True when every threshold passed and no vendor was double-booked.
    pub passed: bool,
}

/// Figures of one phase.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhaseSummary {
    /// Phase name.
    pub name: String,
    /// Offset of the phase start from the run start, seconds.
    pub start_seconds: f64,
    /// Scheduled length, seconds.
    pub duration_seconds: f64,
    /// The arrival pattern, e.g. `10 -> 50 /s` or `burst 1000`.
    pub arrivals: String,
    /// Start accounting of the phase.
    pub starts: StartSummary,
    /// All requests of flows that arrived in this phase.
    pub overall: LatencySummary,
    /// Per endpoint key.
    pub endpoints: BTreeMap<String, LatencySummary>,
}

impl RunSummary {
    /// Failed checks, one line each: thresholds, then double-booked vendors.
    pub fn failures(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .thresholds
            .iter()
            .filter(|t| !t.passed)
            .map(|t| t.message.clone())
            .collect();
        if !self.matches.all_distinct() {
            out.push(format!(
                "FAIL matches: {} vendor(s) matched to more than one incident ({})",
                self.matches.double_booked_vendors,
                self.matches.double_booked_examples.join(", ")
            ));
        }
        out
    }

    /// Pretty-printed JSON.
    pub fn to_json(&self) -> String {
        // Serialising plain structs, string-keyed maps and finite floats cannot fail;
        // the fallback keeps the signature infallible without a panic path.
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

/// Writes the summary as JSON.
pub fn write(summary: &RunSummary, path: &Path) -> std::io::Result<()> {
    std::fs::write(path, summary.to_json() + "\n")
}

/// Formats seconds since the Unix epoch as RFC 3339 UTC (`2026-11-29T04:10:00Z`).
pub fn rfc3339(unix_seconds: u64) -> String {
    let days = (unix_seconds / 86_400) as i64;
    let rem = unix_seconds % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm), to avoid a date crate for one line.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::stats::{Bucket, Outcome, Starts};
    use std::time::Duration;

    /// A small but complete summary for report tests.
    pub(crate) fn sample() -> RunSummary {
        let mut b = Bucket::default();
        for ms in [5, 10, 20, 400] {
            b.record(Some(Duration::from_millis(ms)), &Outcome::Ok);
        }
        b.record(
            Some(Duration::from_millis(3)),
            &Outcome::Error("http_500".into()),
        );
        let s = b.summary(Duration::from_secs(2));
        let starts = Starts::default().summary(Duration::from_millis(100));
        let mut endpoints = BTreeMap::new();
        endpoints.insert("get_vendor".to_string(), s.clone());
        RunSummary {
            schema_version: SCHEMA_VERSION,
            profile: "smoke <test>".into(),
            target: "http://127.0.0.1:3000".into(),
            seed: 1,
            started_at: rfc3339(0),
            schedule_seconds: 2.0,
            elapsed_seconds: 2.5,
            interrupted: false,
            unfinished: 0,
            overall: s.clone(),
            endpoints: endpoints.clone(),
            phases: vec![PhaseSummary {
                name: "steady".into(),
                start_seconds: 0.0,
                duration_seconds: 2.0,
                arrivals: "5 /s".into(),
                starts: starts.clone(),
                overall: s.clone(),
                endpoints,
            }],
            starts,
            scenarios: BTreeMap::from([("vendor_profile".to_string(), 5)]),
            setup: None,
            timeline: vec![TimePoint {
                t: 1.0,
                phase: "steady".into(),
                started: 5,
                completed: 5,
                errors: 1,
                in_flight: 0,
                p50_ms: 10.0,
                p95_ms: 400.0,
                p99_ms: 400.0,
                max_ms: 400.0,
            }],
            thresholds: crate::threshold::evaluate(
                &crate::threshold::api_defaults(),
                &s,
                &BTreeMap::from([(crate::scenario::Endpoint::GetVendor, s.clone())]),
            ),
            matches: crate::matching::MatchLedger::default().summary(),
            probe: Some(crate::probe::ProbeSummary {
                interval_ms: 100.0,
                endpoints: BTreeMap::from([("get_vendor".to_string(), s.clone())]),
                comparison: vec![crate::probe::ProbeComparison {
                    endpoint: "get_vendor".into(),
                    load_p95_ms: 400.0,
                    probe_p95_ms: 20.0,
                    limit_ms: 42.0,
                    within: false,
                }],
            }),
            calibration: Some(crate::calibrate::CalibrationSummary {
                arrivals: "5 /s for 2 s".into(),
                throughput_per_sec: 5.0,
                overall: s.clone(),
                endpoints: BTreeMap::from([("get_vendor".to_string(), s.clone())]),
                starts: Starts::default().summary(Duration::from_millis(100)),
                cpu: Some(crate::calibrate::CpuCost {
                    generator_us_per_request: 61.0,
                    stub_us_per_request: 40.0,
                }),
            }),
            generator_scheduling: Some(SchedulingReport {
                requested: "fifo".into(),
                granted: "SCHED_FIFO priority 1".into(),
            }),
            passed: false,
        }
    }

    #[test]
    fn json_shape() {
        let v: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        for key in [
            "schemaVersion",
            "profile",
            "target",
            "startedAt",
            "elapsedSeconds",
            "overall",
            "endpoints",
            "phases",
            "starts",
            "scenarios",
            "timeline",
            "thresholds",
            "matches",
            "probe",
            "calibration",
            "generatorScheduling",
            "passed",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        let ep = &v["endpoints"]["get_vendor"];
        for key in [
            "count",
            "errorRate",
            "errorKinds",
            "throughputPerSec",
            "p50Ms",
            "p95Ms",
            "p99Ms",
            "maxMs",
        ] {
            assert!(ep.get(key).is_some(), "missing endpoints.get_vendor.{key}");
        }
        assert_eq!(ep["count"], 5);
        assert_eq!(ep["errorKinds"]["http_500"], 1);
        assert_eq!(v["phases"][0]["starts"]["dropped"], 0);
        assert_eq!(v["thresholds"][0]["metric"], "error_rate");
        assert_eq!(v["passed"], false);
        assert_eq!(v["calibration"]["cpu"]["generatorUsPerRequest"], 61.0);
        assert_eq!(v["generatorScheduling"]["requested"], "fifo");
    }

    #[test]
    fn failures_lists_failed_messages() {
        let s = sample();
        let failures = s.failures();
        assert!(
            failures
                .iter()
                .any(|m| m.starts_with("FAIL get_vendor error rate 20.00 %")),
            "{failures:?}"
        );
    }

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_925_400), "2026-11-29T04:10:00Z");
    }
}
