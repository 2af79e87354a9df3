//! The vendor index on a real 3-master Redis Cluster: the rebuild, live writes, searches and
//! kept answers, all under one hash tag (no CROSSSLOT, no key outside the tag).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cache::{Cache, CacheConfig, Mode};
use testkit::fleet::{FleetStatus, fleet};
use testkit::redis::RedisCluster;
use vendors::{
    Availability, CacheOutcome, Capability, GeoPoint, NearbyQuery, Vendor, VendorMetrics,
    VendorStore, Vendors, VendorsConfig,
};

/// The truth for this test: a versioned table in memory (the database side is tested
/// against PostgreSQL in `lambdas` and `tests`; this file is about Redis Cluster).
#[derive(Clone, Default)]
struct Table(Arc<Mutex<BTreeMap<String, Vendor>>>);

#[derive(Debug, thiserror::Error)]
#[error("never")]
struct Never;

impl Table {
    fn write(&self, mut v: Vendor) -> Vendor {
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

fn vendor_of(m: &testkit::fleet::FleetMember) -> Vendor {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_index_works_on_a_cluster_under_one_hash_tag() {
    let cluster = RedisCluster::start(3, 0);
    let cache = Cache::connect(CacheConfig {
        urls: cluster.urls(),
        mode: Mode::Cluster,
        command_timeout: Duration::from_secs(2),
        ..CacheConfig::with_url("redis://unused")
    })
    .await
    .expect("connect");
    let table = Table::default();
    for m in fleet(2000, 3, 30.0, Capability::ALL.len()) {
        table.write(vendor_of(&m));
    }
    let wing = Vendors::new(
        table.clone(),
        Some(cache.clone()),
        VendorsConfig {
            build_page: 300,
            build_chunk: 70,
            ..VendorsConfig::default()
        },
    );
    let report = wing.rebuild_index().await.expect("rebuild on the cluster");
    assert_eq!(report.vendors, 2000);

    let center = GeoPoint::new(40.7128, -74.006);
    let q = NearbyQuery {
        center,
        radius_miles: 40.0,
        capability: Some(Capability::Tow),
        available_only: true,
        limit: 10,
    };
    let expected: Vec<String> = table
        .search(&q)
        .await
        .unwrap()
        .into_iter()
        .map(|(v, _)| v.id)
        .collect();
    assert!(!expected.is_empty());
    let answer = wing.search(&q).await.expect("search");
    assert_eq!(answer.outcome, CacheOutcome::Miss);
    let got: Vec<String> =
        serde_json::from_str::<serde_json::Value>(&answer.body).unwrap()["vendors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["vendorId"].as_str().unwrap().to_owned())
            .collect();
    assert_eq!(got, expected);
    // Kept from its second sighting on, reused (after one confirmation) from the third.
    assert_eq!(wing.search(&q).await.unwrap().outcome, CacheOutcome::Miss);
    assert_eq!(wing.search(&q).await.unwrap().outcome, CacheOutcome::Hit);

    // A committed write reaches the index and retires the kept answer.
    let mut first = table.get(&expected[0]).await.unwrap().unwrap();
    first.availability = Availability::offline();
    let first = table.write(first);
    wing.committed(std::slice::from_ref(&first)).await;
    let after = wing.search(&q).await.unwrap();
    assert_eq!(after.outcome, CacheOutcome::Miss);
    assert!(!after.body.contains(&format!("\"{}\"", first.id)));

    // Profiles through the key family (its keys spread over the slots).
    assert_eq!(
        wing.profile(&first.id).await.unwrap().outcome,
        CacheOutcome::Miss
    );
    assert_eq!(
        wing.profile(&first.id).await.unwrap().outcome,
        CacheOutcome::Hit
    );

    // Every index key carries the region's hash tag.
    let tag = wing.index().unwrap().tag().to_owned();
    assert!(tag.contains("{vendors:default}"), "{tag}");
    for node in cluster.nodes() {
        for key in node.cli(&["--scan"]).lines() {
            assert!(
                key.contains("{vendors:default}") || key.contains(":vendor:"),
                "key outside the tag: {key}"
            );
        }
    }
}
