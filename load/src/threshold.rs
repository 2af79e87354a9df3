//! Pass/fail thresholds on the run's figures.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::scenario::Endpoint;
use crate::stats::LatencySummary;

/// What a threshold applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// All measured requests together.
    Overall,
    /// Every measured endpoint, each on its own.
    Each,
    /// One endpoint.
    Endpoint(Endpoint),
}

impl Scope {
    /// Parses `overall`, `each` or an endpoint key.
    pub fn parse(key: &str) -> Option<Self> {
        match key {
            "overall" => Some(Scope::Overall),
            "each" => Some(Scope::Each),
            other => Endpoint::from_key(other).map(Scope::Endpoint),
        }
    }

    /// Keys accepted by [`Scope::parse`].
    pub fn allowed_keys() -> String {
        format!("overall, each, {}", Endpoint::allowed_keys())
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Overall => f.write_str("overall"),
            Scope::Each => f.write_str("each"),
            Scope::Endpoint(e) => f.write_str(e.key()),
        }
    }
}

/// The figure a threshold bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Median latency, ms.
    P50,
    /// 95th percentile latency, ms.
    P95,
    /// 99th percentile latency, ms.
    P99,
    /// Slowest request, ms.
    Max,
    /// Mean latency, ms.
    Mean,
    /// Failed / sent, as a fraction (0.01 = 1 %).
    ErrorRate,
}

impl Metric {
    /// Name used in profile files.
    pub fn key(self) -> &'static str {
        match self {
            Metric::P50 => "p50_ms",
            Metric::P95 => "p95_ms",
            Metric::P99 => "p99_ms",
            Metric::Max => "max_ms",
            Metric::Mean => "mean_ms",
            Metric::ErrorRate => "error_rate",
        }
    }

    /// Every metric, in the order of [`Metric::allowed_keys`].
    pub const ALL: [Metric; 6] = [
        Metric::P50,
        Metric::P95,
        Metric::P99,
        Metric::Max,
        Metric::Mean,
        Metric::ErrorRate,
    ];

    /// Parses a key as written by [`Metric::key`].
    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.key() == key)
    }

    /// Keys accepted by [`Metric::from_key`].
    pub fn allowed_keys() -> String {
        Self::ALL.map(Metric::key).join(", ")
    }

    /// Checks a limit: a positive number of ms, or a fraction in (0, 1].
    pub fn check_limit(self, v: f64) -> Result<f64, String> {
        match self {
            Metric::ErrorRate if v.is_finite() && v > 0.0 && v <= 1.0 => Ok(v),
            Metric::ErrorRate => Err(format!(
                "must be a fraction in (0, 1] (0.01 = 1 %), got {v}"
            )),
            _ if v.is_finite() && v > 0.0 => Ok(v),
            _ => Err(format!(
                "must be a positive number of milliseconds, got {v}"
            )),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Metric::P50 => "p50",
            Metric::P95 => "p95",
            Metric::P99 => "p99",
            Metric::Max => "max",
            Metric::Mean => "mean",
            Metric::ErrorRate => "error rate",
        }
    }

    fn value(self, s: &LatencySummary) -> f64 {
        match self {
            Metric::P50 => s.p50_ms,
            Metric::P95 => s.p95_ms,
            Metric::P99 => s.p99_ms,
            Metric::Max => s.max_ms,
            Metric::Mean => s.mean_ms,
            Metric::ErrorRate => s.error_rate,
        }
    }

    fn format(self, v: f64) -> String {
        match self {
            Metric::ErrorRate => format!("{:.2} %", v * 100.0),
            _ => format!("{v:.1} ms"),
        }
    }
}

/// "`metric` of `scope` must stay below `limit`".
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    /// What it applies to.
    pub scope: Scope,
    /// The bounded figure.
    pub metric: Metric,
    /// Exclusive upper bound (ms, or a fraction for the error rate).
    pub limit: f64,
}

impl Threshold {
    /// A threshold.
    pub fn new(scope: Scope, metric: Metric, limit: f64) -> Self {
        Self {
            scope,
            metric,
            limit,
        }
    }
}

/// Parses a command-line threshold, `SCOPE.METRIC=LIMIT` (e.g. `each.p95_ms=800`,
/// `overall.error_rate=0.02`).
pub fn parse_override(text: &str) -> Result<Threshold, String> {
    let usage = || {
        format!("invalid --threshold `{text}`: expected SCOPE.METRIC=LIMIT, e.g. each.p95_ms=800")
    };
    let (lhs, value) = text.split_once('=').ok_or_else(usage)?;
    let (scope, metric) = lhs.trim().split_once('.').ok_or_else(usage)?;
    let scope = Scope::parse(scope).ok_or_else(|| {
        format!(
            "invalid --threshold `{text}`: unknown scope `{scope}`; allowed: {}",
            Scope::allowed_keys()
        )
    })?;
    let metric = Metric::from_key(metric).ok_or_else(|| {
        format!(
            "invalid --threshold `{text}`: unknown metric `{metric}`; allowed: {}",
            Metric::allowed_keys()
        )
    })?;
    let limit = value.trim().parse::<f64>().map_err(|_| {
        format!(
            "invalid --threshold `{text}`: `{}` is not a number",
            value.trim()
        )
    })?;
    let limit = metric
        .check_limit(limit)
        .map_err(|m| format!("invalid --threshold `{text}`: {m}"))?;
    Ok(Threshold::new(scope, metric, limit))
}

/// Adds `new` to `thresholds`, replacing one with the same scope and metric.
pub fn apply_override(thresholds: &mut Vec<Threshold>, new: Threshold) {
    thresholds.retain(|t| !(t.scope == new.scope && t.metric == new.metric));
    thresholds.push(new);
}

/// The verdict on one threshold for one scope.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThresholdResult {
    /// `overall` or an endpoint key.
    pub scope: String,
    /// Metric key (`p95_ms`, `error_rate`, ...).
    pub metric: String,
    /// The limit.
    pub limit: f64,
    /// The measured value (`None` when the scope sent no request).
    pub actual: Option<f64>,
    /// Whether the value stayed below the limit.
    pub passed: bool,
    /// One human line, e.g. `FAIL get_vendor p95 612.0 ms (limit < 300.0 ms)`.
    pub message: String,
}

/// Thresholds of the previous suite for the API traffic mix: error rate under 1 %,
/// p95 under 300 ms and p99 under 500 ms, overall and for every endpoint.
pub fn api_defaults() -> Vec<Threshold> {
    let mut out = Vec::new();
    for scope in [Scope::Overall, Scope::Each] {
        out.push(Threshold::new(scope, Metric::ErrorRate, 0.01));
        out.push(Threshold::new(scope, Metric::P95, 300.0));
        out.push(Threshold::new(scope, Metric::P99, 500.0));
    }
    out
}

/// Thresholds of the previous suite for the concurrent incident test: error rate
/// under 1 %, p95 under 5 s, p99 under 10 s.
pub fn incident_defaults() -> Vec<Threshold> {
    let scope = Scope::Endpoint(Endpoint::CreateIncident);
    vec![
        Threshold::new(scope, Metric::ErrorRate, 0.01),
        Threshold::new(scope, Metric::P95, 5000.0),
        Threshold::new(scope, Metric::P99, 10000.0),
    ]
}

/// Evaluates every threshold. `each` expands to the endpoints that saw traffic; a
/// named endpoint that saw none passes with no value (there is nothing to judge,
/// and the report's counts show it).
pub fn evaluate(
    thresholds: &[Threshold],
    overall: &LatencySummary,
    endpoints: &BTreeMap<Endpoint, LatencySummary>,
) -> Vec<ThresholdResult> {
    let mut out = Vec::new();
    for t in thresholds {
        let targets: Vec<(String, Option<&LatencySummary>)> = match t.scope {
            Scope::Overall => vec![("overall".to_string(), Some(overall))],
            Scope::Endpoint(e) => vec![(
                e.key().to_string(),
                endpoints.get(&e).filter(|s| s.count > 0),
            )],
            Scope::Each => endpoints
                .iter()
                .filter(|(_, s)| s.count > 0)
                .map(|(e, s)| (e.key().to_string(), Some(s)))
                .collect(),
        };
        for (scope, summary) in targets {
            out.push(judge(t, scope, summary));
        }
    }
    out
}

fn judge(t: &Threshold, scope: String, summary: Option<&LatencySummary>) -> ThresholdResult {
    let label = t.metric.label();
    let limit = t.metric.format(t.limit);
    // Latency thresholds over a scope whose every request failed at the transport
    // level have no sample; the error-rate threshold is what judges that case.
    let actual = summary
        .filter(|s| t.metric == Metric::ErrorRate || s.samples > 0)
        .map(|s| t.metric.value(s));
    let (passed, message) = match actual {
        None => (
            true,
            format!("SKIP {scope} {label}: no samples (limit < {limit})"),
        ),
        Some(v) if v < t.limit => (
            true,
            format!(
                "ok   {scope} {label} {} (limit < {limit})",
                t.metric.format(v)
            ),
        ),
        Some(v) => (
            false,
            format!(
                "FAIL {scope} {label} {} (limit < {limit})",
                t.metric.format(v)
            ),
        ),
    };
    ThresholdResult {
        scope,
        metric: t.metric.key().to_string(),
        limit: t.limit,
        actual,
        passed,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{Bucket, Outcome};
    use std::time::Duration;

    fn summary(latency_ms: u64, n: u64, errors: u64) -> LatencySummary {
        let mut b = Bucket::default();
        for _ in 0..n {
            b.record(Some(Duration::from_millis(latency_ms)), &Outcome::Ok);
        }
        for _ in 0..errors {
            b.record(
                Some(Duration::from_millis(1)),
                &Outcome::Error("http_500".into()),
            );
        }
        b.summary(Duration::from_secs(1))
    }

    #[test]
    fn api_defaults_pass_and_fail() {
        let mut endpoints = BTreeMap::new();
        endpoints.insert(Endpoint::SearchVendors, summary(50, 100, 0));
        endpoints.insert(Endpoint::GetVendor, summary(400, 100, 0));
        endpoints.insert(Endpoint::GetIncident, summary(10, 0, 0));
        let overall = summary(100, 200, 0);
        let results = evaluate(&api_defaults(), &overall, &endpoints);
        // 3 overall + 3 for each of the 2 endpoints with traffic.
        assert_eq!(results.len(), 9);
        let failed: Vec<&str> = results
            .iter()
            .filter(|r| !r.passed)
            .map(|r| r.message.as_str())
            .collect();
        // HDR reports the highest value equivalent to 400 ms at 3 significant digits.
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert!(
            failed[0].starts_with("FAIL get_vendor p95 400."),
            "{failed:?}"
        );
        assert!(failed[0].ends_with(" ms (limit < 300.0 ms)"), "{failed:?}");
    }

    #[test]
    fn error_rate_is_a_fraction() {
        let mut endpoints = BTreeMap::new();
        endpoints.insert(Endpoint::CreateIncident, summary(10, 98, 2));
        let t = [Threshold::new(
            Scope::Endpoint(Endpoint::CreateIncident),
            Metric::ErrorRate,
            0.01,
        )];
        let r = &evaluate(&t, &summary(10, 1, 0), &endpoints)[0];
        assert!(!r.passed);
        assert_eq!(r.actual, Some(0.02));
        assert_eq!(
            r.message,
            "FAIL create_incident error rate 2.00 % (limit < 1.00 %)"
        );
    }

    #[test]
    fn limit_is_exclusive() {
        let endpoints = BTreeMap::new();
        let t = [Threshold::new(Scope::Overall, Metric::P50, 100.0)];
        assert!(!evaluate(&t, &summary(100, 10, 0), &endpoints)[0].passed);
        assert!(evaluate(&t, &summary(99, 10, 0), &endpoints)[0].passed);
    }

    #[test]
    fn endpoint_without_traffic_is_skipped() {
        let t = [Threshold::new(
            Scope::Endpoint(Endpoint::UpdateLocation),
            Metric::P99,
            1.0,
        )];
        let r = &evaluate(&t, &summary(10, 1, 0), &BTreeMap::new())[0];
        assert!(r.passed);
        assert_eq!(r.actual, None);
        assert!(r.message.starts_with("SKIP update_location"));
    }

    #[test]
    fn command_line_overrides() {
        let t = parse_override("each.p95_ms=800").unwrap();
        assert_eq!(t, Threshold::new(Scope::Each, Metric::P95, 800.0));
        let mut list = api_defaults();
        let before = list.len();
        apply_override(&mut list, t);
        assert_eq!(list.len(), before);
        assert!(list.contains(&t));
        assert!(!list.contains(&Threshold::new(Scope::Each, Metric::P95, 300.0)));
        apply_override(&mut list, parse_override("get_vendor.max_ms=2000").unwrap());
        assert_eq!(list.len(), before + 1);
        assert!(
            parse_override("overall.error_rate=2")
                .unwrap_err()
                .contains("fraction")
        );
        assert!(
            parse_override("all.p95_ms=1")
                .unwrap_err()
                .contains("allowed: overall, each")
        );
        assert!(
            parse_override("overall.p97_ms=1")
                .unwrap_err()
                .contains("allowed: p50_ms")
        );
        assert!(
            parse_override("overall.p95_ms")
                .unwrap_err()
                .contains("SCOPE.METRIC=LIMIT")
        );
        assert!(
            parse_override("overall.p95_ms=fast")
                .unwrap_err()
                .contains("not a number")
        );
    }

    #[test]
    fn scope_parsing() {
        assert_eq!(Scope::parse("each"), Some(Scope::Each));
        assert_eq!(
            Scope::parse("get_vendor"),
            Some(Scope::Endpoint(Endpoint::GetVendor))
        );
        assert_eq!(Scope::parse("create_vendor"), None);
        assert!(Scope::allowed_keys().contains("update_location"));
    }
}
