//! The sequential probe: one client, one keep-alive connection, one request at a
//! time, running beside the load for the whole run.
//!
//! It answers "how fast is this endpoint right now, seen by a client that never
//! queues behind itself?". Its latency is the server's (plus one loopback round
//! trip); the load's latency is the server's under load plus whatever the generator
//! adds. The report puts the two side by side per endpoint, so a gap between them
//! points at queueing in the server or at the tool, and the calibration tells which.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use reqwest::Url;
use serde::Serialize;
use tokio::time::Instant;

use crate::exchange;
use crate::matching::MatchLedger;
use crate::requests::{self, Captured};
use crate::scenario::Endpoint;
use crate::stats::{Bucket, LatencySummary};
use crate::testdata::Metros;

/// The probe's request cycle: a search supplies vendor ids, an incident supplies an
/// incident id, so every measured endpoint gets its share.
const CYCLE: [Endpoint; 5] = [
    Endpoint::SearchVendors,
    Endpoint::GetVendor,
    Endpoint::CreateIncident,
    Endpoint::GetIncident,
    Endpoint::UpdateLocation,
];

/// How much a loaded endpoint's p95 may exceed the probe's before the report flags
/// it: twice the probe's, plus 2 ms for the scheduling noise of a shared machine.
pub const P95_FACTOR: f64 = 2.0;
/// See [`P95_FACTOR`].
pub const P95_SLACK_MS: f64 = 2.0;

/// What the probe recorded.
#[derive(Debug, Default, Clone)]
pub(crate) struct ProbeRecording {
    pub(crate) endpoints: BTreeMap<Endpoint, Bucket>,
    /// Its incidents claim vendors too, so they take part in the match check.
    pub(crate) matches: MatchLedger,
}

/// The probe's recordings, shared with the runner that reads them at the end.
pub(crate) type ProbeRecord = Arc<Mutex<ProbeRecording>>;

/// The probe's figures next to the load's, per endpoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeSummary {
    /// Pause between two probe requests.
    pub interval_ms: f64,
    /// The probe's own latency per endpoint key.
    pub endpoints: BTreeMap<String, LatencySummary>,
    /// Load p95 against probe p95, per endpoint both measured.
    pub comparison: Vec<ProbeComparison>,
}

/// One endpoint's load p95 against its probe p95.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeComparison {
    /// Endpoint key.
    pub endpoint: String,
    /// p95 of the load's requests.
    pub load_p95_ms: f64,
    /// p95 of the probe's requests.
    pub probe_p95_ms: f64,
    /// `P95_FACTOR * probe + P95_SLACK_MS`.
    pub limit_ms: f64,
    /// `load_p95_ms <= limit_ms`.
    pub within: bool,
}

/// Runs the probe until the task is aborted; results go into `record`.
pub(crate) async fn run(
    client: reqwest::Client,
    base: Url,
    metros: Metros,
    seed: u64,
    interval: Duration,
    record: ProbeRecord,
) {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x9e0be);
    let mut captured = Captured::default();
    for endpoint in CYCLE.iter().copied().cycle() {
        tokio::time::sleep(interval).await;
        let here = metros.sample(&mut rng);
        let Some(request) =
            requests::build(&client, &base, &metros, endpoint, here, &captured, &mut rng)
        else {
            continue;
        };
        let answer = exchange::send(request, endpoint, Instant::now()).await;
        exchange::capture(endpoint, answer.body.as_ref(), &mut captured);
        let mut r = record.lock().unwrap_or_else(|e| e.into_inner());
        r.endpoints
            .entry(endpoint)
            .or_default()
            .record(answer.latency, &answer.outcome);
        if endpoint == Endpoint::CreateIncident
            && let Some(body) = &answer.body
        {
            r.matches.record(exchange::matched_vendor(body));
        }
    }
}

/// Puts the probe's figures beside the load's.
pub(crate) fn summarise(
    interval: Duration,
    probe: &BTreeMap<Endpoint, Bucket>,
    load: &BTreeMap<Endpoint, LatencySummary>,
    window: Duration,
) -> ProbeSummary {
    let endpoints: BTreeMap<Endpoint, LatencySummary> =
        probe.iter().map(|(e, b)| (*e, b.summary(window))).collect();
    let comparison = endpoints
        .iter()
        .filter_map(|(endpoint, probe)| {
            let load = load.get(endpoint)?;
            if probe.samples == 0 || load.samples == 0 {
                return None;
            }
            let limit_ms = P95_FACTOR * probe.p95_ms + P95_SLACK_MS;
            Some(ProbeComparison {
                endpoint: endpoint.key().to_string(),
                load_p95_ms: load.p95_ms,
                probe_p95_ms: probe.p95_ms,
                limit_ms,
                within: load.p95_ms <= limit_ms,
            })
        })
        .collect();
    ProbeSummary {
        interval_ms: interval.as_secs_f64() * 1000.0,
        endpoints: endpoints
            .into_iter()
            .map(|(e, s)| (e.key().to_string(), s))
            .collect(),
        comparison,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Outcome;

    #[test]
    fn comparison_allows_twice_plus_two_ms() {
        let bucket = |ms: u64| {
            let mut b = Bucket::default();
            for _ in 0..100 {
                b.record(Some(Duration::from_millis(ms)), &Outcome::Ok);
            }
            b
        };
        let probe = BTreeMap::from([
            (Endpoint::GetVendor, bucket(4)),
            (Endpoint::SearchVendors, bucket(4)),
        ]);
        let load = BTreeMap::from([
            (
                Endpoint::GetVendor,
                bucket(9).summary(Duration::from_secs(1)),
            ),
            (
                Endpoint::SearchVendors,
                bucket(11).summary(Duration::from_secs(1)),
            ),
        ]);
        let s = summarise(
            Duration::from_millis(100),
            &probe,
            &load,
            Duration::from_secs(1),
        );
        assert_eq!(s.comparison.len(), 2);
        let by = |key: &str| s.comparison.iter().find(|c| c.endpoint == key).unwrap();
        assert!(by("get_vendor").within);
        assert!(!by("search_vendors").within);
        assert!((by("search_vendors").limit_ms - 10.0).abs() < 0.01);
    }
}
