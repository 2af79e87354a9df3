//! VendorCache against a real redis-server: search correctness against brute force,
//! availability and expiry never served stale, invalidation, atomic claims.

mod common;
#[path = "common/fleet.rs"]
mod fleet;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use cache::{
    Availability, AvailabilityStatus, Cache, CacheOutcome, Capability, GeoPoint, GeoUnit, Vendor,
    VendorCache, VendorCacheConfig, VendorMetrics, VendorQuery,
};
use common::cache_on;
use testkit::redis::RedisServer;

async fn vendors_on(server: &RedisServer, config: VendorCacheConfig) -> (Cache, VendorCache) {
    let cache = cache_on(server).await;
    let vendors = VendorCache::new(cache.clone(), config);
    (cache, vendors)
}

fn vendor(id: &str, at: GeoPoint, caps: &[Capability], availability: Availability) -> Vendor {
    Vendor {
        id: id.into(),
        business_name: format!("{id} roadside"),
        capabilities: caps.to_vec(),
        location: at,
        availability,
        rating: 4.2,
        metrics: VendorMetrics::default(),
        version: 0,
        updated_at: String::new(),
    }
}

fn ids(search: &cache::VendorSearch) -> Vec<String> {
    search.matches.iter().map(|m| m.vendor_id.clone()).collect()
}

fn round3(p: GeoPoint) -> GeoPoint {
    GeoPoint::new(
        (p.lat * 1000.0).round() / 1000.0,
        (p.lon * 1000.0).round() / 1000.0,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_agrees_with_brute_force_haversine() {
    let server = RedisServer::start();
    let (_, vc) = vendors_on(&server, VendorCacheConfig::default()).await;
    let fleet = fleet::fleet(4000, 7, 30.0);
    vc.put_profiles(&fleet).await.unwrap();
    let metros = fleet::metros();
    let mut checked = 0;
    for (i, metro) in metros.iter().take(12).enumerate() {
        let center = round3(GeoPoint::new(
            metro.center.lat + 0.05,
            metro.center.lon - 0.07,
        ));
        let capability = Capability::ALL[i % 6];
        for (radius, status) in [
            (25.0, Some(AvailabilityStatus::Available)),
            (50.0, Some(AvailabilityStatus::Available)),
            (40.0, None),
        ] {
            let query = VendorQuery {
                center,
                radius,
                unit: GeoUnit::Miles,
                capability: Some(capability),
                status,
                limit: 10_000,
            };
            let got = vc.search_nearby(&query).await.unwrap();
            let mut expected: Vec<(f64, &str)> = fleet
                .iter()
                .filter(|v| v.capabilities.contains(&capability))
                .filter(|v| status.is_none_or(|s| v.availability.status == s))
                .map(|v| {
                    (
                        center.haversine_m(&v.location) / GeoUnit::Miles.meters(),
                        v.id.as_str(),
                    )
                })
                .filter(|(d, _)| *d <= radius)
                .collect();
            expected.sort_by(|a, b| a.0.total_cmp(&b.0));
            // Redis stores 52-bit geohashes (about 0.6 m error): ignore the boundary band.
            let near_edge = |d: f64| (d - radius).abs() < 0.01;
            let got_set: HashSet<&str> = got
                .matches
                .iter()
                .filter(|m| !near_edge(m.distance))
                .map(|m| m.vendor_id.as_str())
                .collect();
            let want_set: HashSet<&str> = expected
                .iter()
                .filter(|(d, _)| !near_edge(*d))
                .map(|(_, id)| *id)
                .collect();
            assert_eq!(
                got_set, want_set,
                "{} r={radius} {capability} {status:?}",
                metro.name
            );
            assert!(
                got.matches
                    .windows(2)
                    .all(|w| w[0].distance <= w[1].distance)
            );
            for m in &got.matches {
                let truth = fleet.iter().find(|v| v.id == m.vendor_id).unwrap();
                let d = center.haversine_m(&truth.location) / GeoUnit::Miles.meters();
                assert!((d - m.distance).abs() < 0.01, "distance of {}", m.vendor_id);
            }
            // Nearest-k agrees too (compare distances; ids may tie).
            let top = vc
                .search_nearby(&VendorQuery {
                    limit: 5,
                    ..query.clone()
                })
                .await
                .unwrap();
            let want_top: Vec<f64> = expected.iter().take(5).map(|e| e.0).collect();
            let got_top: Vec<f64> = top.matches.iter().map(|m| m.distance).collect();
            assert_eq!(got_top.len(), want_top.len());
            for (g, w) in got_top.iter().zip(&want_top) {
                assert!((g - w).abs() < 0.01, "top-5 {got_top:?} vs {want_top:?}");
            }
            checked += want_set.len();
        }
    }
    assert!(
        checked > 500,
        "the queries found enough vendors to mean something: {checked}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn availability_changes_are_never_served_stale() {
    let server = RedisServer::start();
    let (_, vc) = vendors_on(&server, VendorCacheConfig::default()).await;
    let center = GeoPoint::new(40.713, -74.006);
    let near = GeoPoint::new(40.75, -73.99);
    vc.put_profiles(&[
        vendor(
            "tow-1",
            near,
            &[Capability::Tow, Capability::Tire],
            Availability::available(),
        ),
        vendor(
            "tow-2",
            GeoPoint::new(40.80, -73.95),
            &[Capability::Tow],
            Availability::available(),
        ),
        vendor(
            "fuel-1",
            near,
            &[Capability::Fuel],
            Availability::available(),
        ),
    ])
    .await
    .unwrap();
    let query = VendorQuery::available(center, 20.0, Capability::Tow);
    let first = vc.search_nearby(&query).await.unwrap();
    assert_eq!(first.outcome, CacheOutcome::Miss);
    assert_eq!(ids(&first), ["tow-1", "tow-2"]);
    let second = vc.search_nearby(&query).await.unwrap();
    assert_eq!(second.outcome, CacheOutcome::Hit);
    assert_eq!(ids(&second), ["tow-1", "tow-2"]);

    // Busy: gone from "available" at once, even though a cached search listed it.
    assert!(
        vc.set_availability("tow-1", &Availability::busy("inc-1"))
            .await
            .unwrap()
    );
    let after = vc.search_nearby(&query).await.unwrap();
    assert_eq!(
        after.outcome,
        CacheOutcome::Miss,
        "cached search invalidated"
    );
    assert_eq!(ids(&after), ["tow-2"]);
    let busy = vc
        .search_nearby(&VendorQuery {
            status: Some(AvailabilityStatus::Busy),
            ..query.clone()
        })
        .await
        .unwrap();
    assert_eq!(ids(&busy), ["tow-1"]);
    let profile = vc.get_profile("tow-1").await.unwrap().unwrap();
    assert_eq!(profile.availability, Availability::busy("inc-1"));

    // Cache the search again, then a vendor becomes available: it must appear.
    assert_eq!(
        vc.search_nearby(&query).await.unwrap().outcome,
        CacheOutcome::Hit
    );
    assert!(vc.release("tow-1").await.unwrap());
    assert!(
        !vc.release("tow-1").await.unwrap(),
        "release only from busy"
    );
    let back = vc.search_nearby(&query).await.unwrap();
    assert_eq!(ids(&back), ["tow-1", "tow-2"]);

    // Bulk availability changes (pipelined) behave the same.
    let changed = vc
        .set_availabilities(&[
            ("tow-2", Availability::offline()),
            ("nobody", Availability::offline()),
        ])
        .await
        .unwrap();
    assert_eq!(changed, [true, false]);
    assert_eq!(ids(&vc.search_nearby(&query).await.unwrap()), ["tow-1"]);
    assert_eq!(
        vc.set_availabilities(&[("tow-2", Availability::available())])
            .await
            .unwrap(),
        [true]
    );

    // Location change out of the area invalidates and drops it; back in restores it.
    vc.search_nearby(&query).await.unwrap();
    assert!(
        vc.update_location("tow-1", GeoPoint::new(42.36, -71.06))
            .await
            .unwrap()
    );
    assert_eq!(ids(&vc.search_nearby(&query).await.unwrap()), ["tow-2"]);
    assert!(
        vc.update_location("tow-1", GeoPoint::new(40.714, -74.0))
            .await
            .unwrap()
    );
    let moved = vc.search_nearby(&query).await.unwrap();
    assert_eq!(ids(&moved), ["tow-1", "tow-2"]);
    assert!(moved.matches[0].distance < 1.0);
    let profile = vc.get_profile("tow-1").await.unwrap().unwrap();
    assert!(
        (profile.location.lat - 40.714).abs() < 1e-6,
        "live location overlaid"
    );

    // The cache key covers every parameter: a different limit is a different entry.
    let limited = vc.search_nearby(&query.clone().limit(1)).await.unwrap();
    assert_eq!(ids(&limited), ["tow-1"]);
    let other_cap = vc
        .search_nearby(&VendorQuery::available(center, 20.0, Capability::Fuel))
        .await
        .unwrap();
    assert_eq!(ids(&other_cap), ["fuel-1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_or_invalidated_vendors_are_not_returned() {
    let server = RedisServer::start();
    let config = VendorCacheConfig {
        profile_ttl: Duration::from_millis(700),
        ..VendorCacheConfig::default()
    };
    let (_, vc) = vendors_on(&server, config).await;
    let center = GeoPoint::new(34.052, -118.244);
    let at = GeoPoint::new(34.06, -118.25);
    vc.put_profile(&vendor(
        "short",
        at,
        &[Capability::Lockout],
        Availability::available(),
    ))
    .await
    .unwrap();
    let query = VendorQuery::available(center, 10.0, Capability::Lockout);
    assert_eq!(ids(&vc.search_nearby(&query).await.unwrap()), ["short"]);
    assert_eq!(
        vc.search_nearby(&query).await.unwrap().outcome,
        CacheOutcome::Hit
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let after = vc.search_nearby(&query).await.unwrap();
    assert!(
        after.matches.is_empty(),
        "expired profile not returned: {after:?}"
    );
    assert_eq!(vc.get_profile("short").await.unwrap(), None);
    assert!(
        !vc.update_location("short", at).await.unwrap(),
        "not re-indexed by a move"
    );
    assert!(vc.claim_nearest(&query, "inc").await.unwrap().is_none());

    // Re-cached busy: the old "available" entry must not resurrect it.
    vc.put_profile(&vendor(
        "short",
        at,
        &[Capability::Lockout],
        Availability::busy("i"),
    ))
    .await
    .unwrap();
    assert!(vc.search_nearby(&query).await.unwrap().matches.is_empty());

    // Bulk invalidation.
    let many: Vec<Vendor> = (0..50)
        .map(|i| {
            vendor(
                &format!("bulk-{i}"),
                GeoPoint::new(34.05 + i as f64 * 0.001, -118.24),
                &[Capability::Lockout],
                Availability::available(),
            )
        })
        .collect();
    vc.put_profiles(&many).await.unwrap();
    let wide = query.clone().limit(100);
    assert_eq!(vc.search_nearby(&wide).await.unwrap().matches.len(), 50);
    let gone: Vec<String> = (0..40).map(|i| format!("bulk-{i}")).collect();
    assert_eq!(vc.invalidate(&gone).await.unwrap(), 40);
    let left = vc.search_nearby(&wide).await.unwrap();
    assert_eq!(left.matches.len(), 10);
    assert!(
        left.matches
            .iter()
            .all(|m| m.vendor_id.as_str() >= "bulk-40")
    );
    assert_eq!(vc.get_profile("bulk-3").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims_never_share_a_vendor() {
    let server = RedisServer::start();
    let (_, vc) = vendors_on(&server, VendorCacheConfig::default()).await;
    let center = GeoPoint::new(41.85, -87.65);
    let fleet: Vec<Vendor> = (0..8)
        .map(|i| {
            vendor(
                &format!("c{i}"),
                GeoPoint::new(41.85 + i as f64 * 0.01, -87.65),
                &[Capability::Jumpstart],
                Availability::available(),
            )
        })
        .collect();
    vc.put_profiles(&fleet).await.unwrap();
    let query = VendorQuery::available(center, 30.0, Capability::Jumpstart);
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let vc = vc.clone();
            let query = query.clone();
            tokio::spawn(
                async move { vc.claim_nearest(&query, &format!("inc-{i}")).await.unwrap() },
            )
        })
        .collect();
    let mut claimed = Vec::new();
    for t in tasks {
        if let Some(c) = t.await.unwrap() {
            claimed.push(c.vendor_id);
        }
    }
    let unique: HashSet<&String> = claimed.iter().collect();
    assert_eq!(claimed.len(), 8, "every vendor claimed once: {claimed:?}");
    assert_eq!(unique.len(), 8);
    for id in &claimed {
        let p = vc.get_profile(id).await.unwrap().unwrap();
        assert_eq!(p.availability.status, AvailabilityStatus::Busy);
        assert!(p.availability.current_incident_id.is_some());
    }
    assert!(vc.search_nearby(&query).await.unwrap().matches.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_cache_aside_and_pipelined_updates() {
    let server = RedisServer::start();
    let (cache, vc) = vendors_on(&server, VendorCacheConfig::default()).await;
    let v = vendor(
        "p1",
        GeoPoint::new(29.76, -95.36),
        &[Capability::Engine],
        Availability::offline(),
    );
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let load = |calls: &Arc<std::sync::atomic::AtomicUsize>| {
        let calls = calls.clone();
        let v = v.clone();
        move || async move {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok::<_, std::convert::Infallible>(Some(v))
        }
    };
    let a = vc.get_or_load_profile("p1", load(&calls)).await.unwrap();
    assert_eq!(a.outcome, CacheOutcome::Miss);
    let b = vc.get_or_load_profile("p1", load(&calls)).await.unwrap();
    assert_eq!(b.outcome, CacheOutcome::Hit);
    assert_eq!(b.value.as_ref(), Some(&v));
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(cache.metrics().family_stats("vendor").hits, 1);

    let updates: Vec<(String, GeoPoint)> = (0..600)
        .map(|i| {
            (
                "p1".to_owned(),
                GeoPoint::new(29.0 + i as f64 * 0.001, -95.0),
            )
        })
        .chain([("unknown".to_owned(), GeoPoint::new(29.0, -95.0))])
        .collect();
    let applied = vc.update_locations(&updates).await.unwrap();
    assert_eq!(applied.len(), 601);
    assert!(applied[..600].iter().all(|&a| a));
    assert!(!applied[600], "unknown vendor not indexed");
    let p = vc.get_profile("p1").await.unwrap().unwrap();
    assert!((p.location.lat - 29.599).abs() < 1e-6, "last update wins");

    assert!(matches!(
        vc.put_profile(&vendor(
            "bad id",
            GeoPoint::new(1.0, 1.0),
            &[],
            Availability::offline()
        ))
        .await,
        Err(cache::CacheError::InvalidInput(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_survive_a_server_restart() {
    let mut server = RedisServer::start();
    let (_, vc) = vendors_on(&server, VendorCacheConfig::default()).await;
    let at = GeoPoint::new(47.6, -122.3);
    vc.put_profile(&vendor(
        "r1",
        at,
        &[Capability::Tire],
        Availability::available(),
    ))
    .await
    .unwrap();
    server.restart(); // empty server, no scripts loaded
    let ok = common::eventually(Duration::from_secs(10), || {
        let vc = vc.clone();
        async move {
            vc.put_profile(&vendor(
                "r1",
                at,
                &[Capability::Tire],
                Availability::available(),
            ))
            .await
            .is_ok()
        }
    })
    .await;
    assert!(ok);
    assert_eq!(vc.update_locations(&[("r1", at)]).await.unwrap(), [true]);
}
