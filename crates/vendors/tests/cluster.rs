//! The vendor index on a real 3-master Redis Cluster: the rebuild, live writes, searches and
//! kept answers, all under one hash tag (no CROSSSLOT, no key outside the tag).

mod common;

use std::time::Duration;

use cache::{Cache, CacheConfig, Mode};
use common::{Table, vendor_of};
use testkit::fleet::fleet;
use testkit::redis::RedisCluster;
use vendors::{
    Availability, CacheOutcome, Capability, GeoPoint, NearbyQuery, VendorStore, Vendors,
    VendorsConfig,
};

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
    // The incident path's pipelined candidates route to the region's one slot too.
    let candidates = wing
        .nearest_available_many(&[vendors::IndexQuery {
            center,
            radius_miles: 40.0,
            capability: Some(Capability::Tow),
            available_only: true,
            limit: 10,
        }])
        .await;
    assert_eq!(candidates, vec![Some(expected.clone())]);
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
