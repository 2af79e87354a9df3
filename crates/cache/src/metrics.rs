//! Per-family counters of cache outcomes, readable in process and as CloudWatch EMF.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// Counts for one key family.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FamilyStats {
    /// Fresh values served from Redis.
    pub hits: u64,
    /// Lookups that found nothing and loaded.
    pub misses: u64,
    /// Stale values served while a background refresh ran.
    pub stale: u64,
    /// Answers served from the loader without Redis (Redis failed or breaker open).
    pub bypass: u64,
    /// Redis or codec errors (each also ends in a bypass or a miss).
    pub errors: u64,
    /// Loader invocations.
    pub loads: u64,
    /// Loaded answers not stored because a write invalidated the key while they loaded.
    pub fills_refused: u64,
}

impl FamilyStats {
    fn minus(self, earlier: FamilyStats) -> FamilyStats {
        FamilyStats {
            hits: self.hits.saturating_sub(earlier.hits),
            misses: self.misses.saturating_sub(earlier.misses),
            stale: self.stale.saturating_sub(earlier.stale),
            bypass: self.bypass.saturating_sub(earlier.bypass),
            errors: self.errors.saturating_sub(earlier.errors),
            loads: self.loads.saturating_sub(earlier.loads),
            fills_refused: self.fills_refused.saturating_sub(earlier.fills_refused),
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) hits: AtomicU64,
    pub(crate) misses: AtomicU64,
    pub(crate) stale: AtomicU64,
    pub(crate) bypass: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) loads: AtomicU64,
    pub(crate) fills_refused: AtomicU64,
    emitted: Mutex<FamilyStats>,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn read(&self) -> FamilyStats {
        FamilyStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            stale: self.stale.load(Ordering::Relaxed),
            bypass: self.bypass.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            loads: self.loads.load(Ordering::Relaxed),
            fills_refused: self.fills_refused.load(Ordering::Relaxed),
        }
    }
}

/// The registry of per-family counters of one [`crate::Cache`].
#[derive(Debug, Default)]
pub struct CacheMetrics {
    families: RwLock<HashMap<String, Arc<Counters>>>,
}

impl CacheMetrics {
    pub(crate) fn family(&self, name: &str) -> Arc<Counters> {
        if let Some(c) = self
            .families
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
        {
            return c.clone();
        }
        self.families
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry(name.to_owned())
            .or_default()
            .clone()
    }

    /// Cumulative counts per family since the process started.
    pub fn snapshot(&self) -> BTreeMap<String, FamilyStats> {
        self.families
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, c)| (k.clone(), c.read()))
            .collect()
    }

    /// Cumulative counts of one family (zeros if it was never used).
    pub fn family_stats(&self, name: &str) -> FamilyStats {
        self.family(name).read()
    }

    /// One CloudWatch Embedded Metric Format JSON line per family with the counts since
    /// the previous call (so a Lambda can call it at the end of every invocation without
    /// double counting). Families with nothing new produce no line.
    pub fn emf_lines(&self, namespace: &str) -> Vec<String> {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let families = self.families.read().unwrap_or_else(|p| p.into_inner());
        let mut names: Vec<&String> = families.keys().collect();
        names.sort();
        let mut lines = Vec::new();
        for name in names {
            let counters = &families[name];
            let now = counters.read();
            let delta = {
                let mut emitted = counters.emitted.lock().unwrap_or_else(|p| p.into_inner());
                let delta = now.minus(*emitted);
                *emitted = now;
                delta
            };
            if delta == FamilyStats::default() {
                continue;
            }
            let metric_names = ["Hit", "Miss", "Stale", "Bypass", "Error", "Load"];
            let line = serde_json::json!({
                "_aws": {
                    "Timestamp": timestamp,
                    "CloudWatchMetrics": [{
                        "Namespace": namespace,
                        "Dimensions": [["Family"]],
                        "Metrics": metric_names
                            .iter()
                            .map(|n| serde_json::json!({"Name": n, "Unit": "Count"}))
                            .collect::<Vec<_>>(),
                    }],
                },
                "Family": name,
                "Hit": delta.hits,
                "Miss": delta.misses,
                "Stale": delta.stale,
                "Bypass": delta.bypass,
                "Error": delta.errors,
                "Load": delta.loads,
            });
            lines.push(line.to_string());
        }
        lines
    }

    /// Prints [`CacheMetrics::emf_lines`] to stdout, where the Lambda runtime forwards
    /// them to CloudWatch Logs, which extracts the metrics.
    pub fn emit_emf(&self, namespace: &str) {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        for line in self.emf_lines(namespace) {
            let _ = writeln!(out, "{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_lines_carry_deltas() {
        let m = CacheMetrics::default();
        let c = m.family("vendor");
        Counters::add(&c.hits);
        Counters::add(&c.hits);
        Counters::add(&c.misses);
        let lines = m.emf_lines("Roadcall/Cache");
        assert_eq!(lines.len(), 1);
        let v: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(v["Hit"], 2);
        assert_eq!(v["Miss"], 1);
        assert_eq!(v["Family"], "vendor");
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "Roadcall/Cache"
        );
        assert!(m.emf_lines("Roadcall/Cache").is_empty(), "no new counts");
        Counters::add(&c.bypass);
        let v: serde_json::Value = serde_json::from_str(&m.emf_lines("N")[0]).unwrap();
        assert_eq!(v["Hit"], 0);
        assert_eq!(v["Bypass"], 1);
        assert_eq!(m.snapshot()["vendor"].hits, 2);
    }
}
