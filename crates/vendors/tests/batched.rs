//! The incident path's coalesced index calls on a real Redis: pipelined candidate searches
//! answer exactly what single searches answer, and concurrent cache updates all reach the
//! index.

mod common;

use std::time::Duration;

use cache::{Cache, CacheConfig};
use common::{Table, vendor_of};
use testkit::fleet::fleet;
use testkit::redis::RedisServer;
use vendors::{
    Availability, Capability, GeoPoint, IndexAnswer, IndexQuery, VendorStore, Vendors,
    VendorsConfig,
};

async fn wing_over(server: &RedisServer, table: &Table, batch: usize) -> Vendors<Table> {
    let cache = Cache::connect(CacheConfig {
        command_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(2),
        ..CacheConfig::with_url(server.url())
    })
    .await
    .expect("connect");
    let wing = Vendors::new(
        table.clone(),
        Some(cache),
        VendorsConfig {
            index_batch_max: batch,
            ..VendorsConfig::default()
        },
    );
    wing.rebuild_index().await.expect("rebuild");
    wing
}

/// Incidents spread over the fleet's metros, every capability, a few limits and radii, and
/// one query only the database can answer (its circle reaches past Redis's latitudes).
fn queries() -> Vec<IndexQuery> {
    let mut out: Vec<IndexQuery> = fleet(60, 11, 25.0, Capability::ALL.len())
        .iter()
        .enumerate()
        .map(|(i, m)| IndexQuery {
            center: GeoPoint::new(m.lat, m.lon),
            radius_miles: [5.0, 25.0, 50.0][i % 3],
            capability: Some(Capability::ALL[i % Capability::ALL.len()]),
            available_only: true,
            limit: [1, 8, 20][i % 3],
        })
        .collect();
    out.insert(
        7,
        IndexQuery {
            center: GeoPoint::new(85.0, 10.0),
            radius_miles: 50.0,
            capability: Some(Capability::Tow),
            available_only: true,
            limit: 8,
        },
    );
    out
}

fn ids(answer: &IndexAnswer) -> Option<Vec<String>> {
    match answer {
        IndexAnswer::Found { hits, .. } => Some(hits.iter().map(|h| h.id.clone()).collect()),
        IndexAnswer::NotReady => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_candidates_are_what_single_searches_find() {
    let server = RedisServer::start();
    let table = Table::default();
    for m in fleet(3000, 5, 30.0, Capability::ALL.len()) {
        table.write(vendor_of(&m));
    }
    let wing = wing_over(&server, &table, 16).await;
    let index = wing.index().expect("index").clone();
    let queries = queries();

    let mut single = Vec::new();
    for q in &queries {
        single.push(ids(&index.search(q, false, &[]).await.expect("search")));
    }
    assert!(single[7].is_none(), "the polar query is the database's");
    assert!(
        single
            .iter()
            .flatten()
            .filter(|found| !found.is_empty())
            .count()
            > 40,
        "most queries find vendors: {single:?}"
    );

    // One pipeline, through the index and through the wing.
    let pipelined: Vec<Option<Vec<String>>> = index
        .search_many(&queries)
        .await
        .expect("pipeline")
        .iter()
        .map(ids)
        .collect();
    assert_eq!(pipelined, single);
    assert_eq!(wing.nearest_available_many(&queries).await, single);

    // Concurrent single calls, coalesced into pipelines by the wing.
    let concurrent =
        futures::future::join_all(queries.iter().map(|q| {
            wing.nearest_available(q.center, q.radius_miles, q.capability.unwrap(), q.limit)
        }))
        .await;
    assert_eq!(concurrent, single);

    // A pipeline works after Redis forgot its scripts (it loads them and runs again).
    server.cli(&["SCRIPT", "FLUSH"]);
    assert_eq!(wing.nearest_available_many(&queries).await, single);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_cache_updates_all_reach_the_index() {
    let server = RedisServer::start();
    let table = Table::default();
    let center = GeoPoint::new(41.88, -87.63);
    let mut written = Vec::new();
    for i in 0..120 {
        let mut v = vendor_of(&fleet(1, i, 0.0, 1)[0]);
        v.id = format!("ven-burst-{i:03}");
        v.capabilities = vec![Capability::Tow];
        v.location = GeoPoint::new(center.lat + f64::from(i as u32) * 0.001, center.lon);
        v.availability = Availability::available();
        written.push(table.write(v));
    }
    let wing = wing_over(&server, &table, 16).await;
    let near = |limit| wing.nearest_available(center, 20.0, Capability::Tow, limit);
    assert_eq!(near(200).await.expect("index").len(), 120);

    // 100 claims committed at once, each with its own cache update.
    let claimed: Vec<_> = written
        .iter()
        .take(100)
        .map(|v| {
            let mut v = v.clone();
            v.availability = Availability::busy(format!("inc-{}", v.id));
            table.write(v)
        })
        .collect();
    futures::future::join_all(
        claimed
            .iter()
            .map(|v| wing.committed(std::slice::from_ref(v))),
    )
    .await;

    let left = near(200).await.expect("index");
    let expected: Vec<String> = written[100..].iter().map(|v| v.id.clone()).collect();
    let mut sorted = left.clone();
    sorted.sort();
    assert_eq!(
        sorted, expected,
        "every claimed vendor left the available set"
    );
    for v in &claimed {
        let doc = wing.profile(&v.id).await.expect("profile");
        let doc = doc.value.expect("profile exists");
        assert!(doc.as_str().contains("\"busy\""), "{}", doc.as_str());
    }
    let truth = table.get(&claimed[0].id).await.unwrap().unwrap();
    assert_eq!(truth.availability, claimed[0].availability);
}
