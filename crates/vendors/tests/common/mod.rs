//! Shared set-up of the vendor wing's tests: the truth as a versioned table in memory (the
//! database side is tested against PostgreSQL in `lambdas` and `tests`; these files are
//! about Redis), and fleet members as vendors.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use testkit::fleet::{FleetMember, FleetStatus};
use vendors::{
    Availability, Capability, GeoPoint, NearbyQuery, Vendor, VendorMetrics, VendorStore,
};

/// The truth: a versioned table in memory.
#[derive(Clone, Default)]
pub struct Table(Arc<Mutex<BTreeMap<String, Vendor>>>);

#[derive(Debug, thiserror::Error)]
#[error("never")]
pub struct Never;

impl Table {
    pub fn write(&self, mut v: Vendor) -> Vendor {
        let mut rows = self.0.lock().unwrap();
        v.version = rows.get(&v.id).map_or(1, |old| old.version + 1);
        rows.insert(v.id.clone(), v.clone());
        v
    }
}

impl VendorStore for Table {
    type Error = Never;
    async fn get(&self, id: &str) -> Result<Option<Vendor>, Never> {
        Ok(self.0.lock().unwrap().get(id).cloned())
    }
    async fn page(&self, after: Option<String>, limit: usize) -> Result<Vec<Vendor>, Never> {
        let rows = self.0.lock().unwrap();
        Ok(rows
            .values()
            .filter(|v| after.as_ref().is_none_or(|a| v.id > *a))
            .take(limit)
            .cloned()
            .collect())
    }
    async fn search(&self, q: &NearbyQuery) -> Result<Vec<(Vendor, f64)>, Never> {
        let rows = self.0.lock().unwrap();
        let mut found: Vec<(Vendor, f64)> = rows
            .values()
            .filter(|v| q.capability.is_none_or(|c| v.capabilities.contains(&c)))
            .filter(|v| !q.available_only || v.availability == Availability::available())
            .map(|v| (v.clone(), q.center.haversine_m(&v.location) / 1609.344))
            .filter(|(_, miles)| *miles <= q.radius_miles)
            .collect();
        found.sort_by(|a, b| a.1.total_cmp(&b.1));
        found.truncate(q.limit);
        Ok(found)
    }
}

pub fn vendor_of(m: &FleetMember) -> Vendor {
    Vendor {
        id: m.id.clone(),
        business_name: m.name.clone(),
        capabilities: m.capabilities.iter().map(|&i| Capability::ALL[i]).collect(),
        location: GeoPoint::new(m.lat, m.lon),
        availability: match m.status {
            FleetStatus::Available => Availability::available(),
            FleetStatus::Busy => Availability::busy(format!("inc-{}", m.id)),
            FleetStatus::Offline => Availability::offline(),
        },
        rating: m.rating,
        metrics: VendorMetrics::default(),
        version: 0,
        updated_at: String::new(),
    }
}
