//! Runtime metrics as CloudWatch Embedded Metric Format lines on stdout: the namespace
//! and dimension the stacks' alarms read (`RoadcallPerf`, `Stage`).

use std::sync::atomic::{AtomicU64, Ordering};

use crate::state::AppState;

/// CloudWatch namespace (the same as the `monitoring` stack's alarms).
pub const NAMESPACE: &str = "RoadcallPerf";

static POOL_EXHAUSTED: AtomicU64 = AtomicU64::new(0);

/// Records that a request found the database pool exhausted.
pub fn record_pool_exhausted() {
    POOL_EXHAUSTED.fetch_add(1, Ordering::Relaxed);
}

/// One EMF document for an invocation: `Invocation`, `ColdStart`, `PoolExhausted` (since
/// the previous line) and `PoolWaiting` (requests waiting for a connection now), with the
/// `Stage` dimension.
pub fn invocation_line(
    stage: &str,
    cold: bool,
    pool_exhausted: u64,
    pool_waiting: usize,
    timestamp_ms: u128,
) -> String {
    serde_json::json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Stage"]],
                "Metrics": [
                    {"Name": "Invocation", "Unit": "Count"},
                    {"Name": "ColdStart", "Unit": "Count"},
                    {"Name": "PoolExhausted", "Unit": "Count"},
                    {"Name": "PoolWaiting", "Unit": "Count"}
                ]
            }]
        },
        "Stage": stage,
        "Invocation": 1,
        "ColdStart": u8::from(cold),
        "PoolExhausted": pool_exhausted,
        "PoolWaiting": pool_waiting,
    })
    .to_string()
}

/// Prints the invocation's EMF line and the cache counters' lines.
pub fn emit_invocation(state: &AppState, cold: bool) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let exhausted = POOL_EXHAUSTED.swap(0, Ordering::Relaxed);
    let waiting = state.db.stats().writer.waiting;
    println!(
        "{}",
        invocation_line(&state.config.stage, cold, exhausted, waiting, now)
    );
    if let Some(cache) = &state.cache {
        cache.metrics().emit_emf("RoadcallPerf/Cache");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_line_matches_the_alarm_contract() {
        let line: serde_json::Value =
            serde_json::from_str(&invocation_line("dev", true, 2, 3, 1)).unwrap();
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "RoadcallPerf"
        );
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            serde_json::json!([["Stage"]])
        );
        assert_eq!(
            (line["Stage"].as_str(), line["ColdStart"].as_u64()),
            (Some("dev"), Some(1))
        );
        assert_eq!(
            (line["PoolExhausted"].as_u64(), line["PoolWaiting"].as_u64()),
            (Some(2), Some(3))
        );
    }
}
