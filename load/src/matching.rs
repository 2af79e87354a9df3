//! Which vendor each created incident was matched to, as the `POST /incidents`
//! answers said: the check that no vendor was double-booked.
//!
//! The platform promises that a vendor is marked busy atomically with the match, so
//! within one run (where nothing frees a vendor again) every matched incident must
//! name a different vendor. A vendor named twice is a correctness failure, whatever
//! the latency.

use std::collections::BTreeMap;

use serde::Serialize;

/// Most double-booked vendor ids listed in a report (the count is always exact).
const LISTED_DUPLICATES: usize = 20;

/// Matches seen so far.
#[derive(Debug, Default, Clone)]
pub struct MatchLedger {
    created: u64,
    unmatched: u64,
    by_vendor: BTreeMap<String, u64>,
}

impl MatchLedger {
    /// Records one successful `POST /incidents` answer and the vendor it named.
    pub fn record(&mut self, vendor: Option<&str>) {
        self.created += 1;
        match vendor {
            Some(v) => *self.by_vendor.entry(v.to_string()).or_insert(0) += 1,
            None => self.unmatched += 1,
        }
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &MatchLedger) {
        self.created += other.created;
        self.unmatched += other.unmatched;
        for (vendor, n) in &other.by_vendor {
            *self.by_vendor.entry(vendor.clone()).or_insert(0) += n;
        }
    }

    /// Report figures.
    pub fn summary(&self) -> MatchSummary {
        let matched: u64 = self.by_vendor.values().sum();
        let doubles: Vec<(&String, &u64)> =
            self.by_vendor.iter().filter(|(_, n)| **n > 1).collect();
        MatchSummary {
            incidents: self.created,
            matched,
            unmatched: self.unmatched,
            distinct_vendors: self.by_vendor.len() as u64,
            double_booked_vendors: doubles.len() as u64,
            double_booked_examples: doubles
                .iter()
                .take(LISTED_DUPLICATES)
                .map(|(v, n)| format!("{v} x{n}"))
                .collect(),
        }
    }
}

/// Match figures, as reported.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MatchSummary {
    /// Incidents created (2xx answers with an `incidentId`).
    pub incidents: u64,
    /// Of those, matched to a vendor.
    pub matched: u64,
    /// Of those, `"match": null` (no available capable vendor in range).
    pub unmatched: u64,
    /// Different vendors named by the matches.
    pub distinct_vendors: u64,
    /// Vendors named by more than one match: must be 0.
    pub double_booked_vendors: u64,
    /// Up to 20 of them, as `vendorId xN`.
    pub double_booked_examples: Vec<String>,
}

impl MatchSummary {
    /// Whether every matched incident got a vendor of its own.
    pub fn all_distinct(&self) -> bool {
        self.double_booked_vendors == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vendor_named_twice_is_double_booked() {
        let mut a = MatchLedger::default();
        a.record(Some("v-1"));
        a.record(Some("v-2"));
        a.record(None);
        let s = a.summary();
        assert_eq!(
            (s.incidents, s.matched, s.unmatched, s.distinct_vendors),
            (3, 2, 1, 2)
        );
        assert!(s.all_distinct());

        let mut b = MatchLedger::default();
        b.record(Some("v-2"));
        a.merge(&b);
        let s = a.summary();
        assert_eq!(
            (s.matched, s.distinct_vendors, s.double_booked_vendors),
            (3, 2, 1)
        );
        assert_eq!(s.double_booked_examples, ["v-2 x2"]);
        assert!(!s.all_distinct());
    }
}
