//! The same client against a real 3-master Redis Cluster: multi-key operations across
//! slots, cache-aside. (The vendor index on a cluster: `crates/vendors/tests/cluster.rs`.)

mod common;

use std::time::Duration;

use cache::{Cache, CacheConfig, CacheOutcome, Mode, SetCondition, key_slot};
use testkit::redis::RedisCluster;

async fn cluster_cache(cluster: &RedisCluster) -> Cache {
    let cfg = CacheConfig {
        urls: cluster.urls(),
        mode: Mode::Cluster,
        ..common::test_config("redis://unused")
    };
    Cache::connect(cfg).await.expect("connect to cluster")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_operations_and_vendor_index() {
    let cluster = RedisCluster::start(3, 0);
    let cache = cluster_cache(&cluster).await;
    let c = cache.client();
    assert!(c.is_cluster());

    // Keys on many slots: MGET, DEL and the per-key-TTL pipeline are split per slot.
    let keys: Vec<String> = (0..40).map(|i| format!("k{i}")).collect();
    let slots: std::collections::HashSet<u16> = keys.iter().map(|k| key_slot(k)).collect();
    assert!(slots.len() > 10);
    let entries: Vec<(String, u32, Duration)> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.clone(), i as u32, Duration::from_secs(60)))
        .collect();
    c.mset_with_ttl(&entries).await.unwrap();
    let got: Vec<Option<u32>> = c.mget(&keys).await.unwrap();
    assert_eq!(got, (0..40).map(Some).collect::<Vec<_>>());
    assert_eq!(c.del(&keys[..20]).await.unwrap(), 20);
    assert!(!c.exists("k3").await.unwrap());
    assert!(c.set("nx", &1, None, SetCondition::IfAbsent).await.unwrap());
    assert_eq!(c.incr("ctr", 3).await.unwrap(), 3);
    // Each node holds part of the data.
    let with_keys = cluster
        .nodes()
        .iter()
        .filter(|n| n.cli(&["DBSIZE"]).trim() != "0")
        .count();
    assert!(with_keys >= 2, "keys spread over nodes");

    // Cache-aside.
    let fam = cache.family("cl");
    let miss = fam
        .get_or_load("x", Duration::from_secs(60), || async {
            Ok::<_, std::convert::Infallible>(Some(5u32))
        })
        .await
        .unwrap();
    assert_eq!(miss.outcome, CacheOutcome::Miss);
    let hit = fam
        .get_or_load("x", Duration::from_secs(60), || async {
            Ok::<_, std::convert::Infallible>(Some(6u32))
        })
        .await
        .unwrap();
    assert_eq!((hit.outcome, hit.value), (CacheOutcome::Hit, Some(5)));
    fam.invalidate_all().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_master_degrades_to_bypass() {
    let mut cluster = RedisCluster::start(3, 0);
    let cfg = CacheConfig {
        urls: cluster.urls(),
        mode: Mode::Cluster,
        command_timeout: Duration::from_millis(500),
        breaker_failure_threshold: 3,
        breaker_cool_off: Duration::from_secs(60),
        ..common::test_config("redis://unused")
    };
    let cache = Cache::connect(cfg).await.unwrap();
    let fam = cache.family("kill");
    let ids: Vec<String> = (0..30).map(|i| format!("id{i}")).collect();
    let get = |id: String| {
        let fam = fam.clone();
        async move {
            let expected = format!("db-{id}");
            let value = expected.clone();
            let got = fam
                .get_or_load(&id, Duration::from_secs(60), move || async move {
                    Ok::<_, std::convert::Infallible>(Some(value))
                })
                .await
                .unwrap();
            assert_eq!(
                got.value.as_deref(),
                Some(expected.as_str()),
                "always the right answer"
            );
            got.outcome
        }
    };
    for id in &ids {
        assert_eq!(get(id.clone()).await, CacheOutcome::Miss);
    }
    // One master dies: its keys (and, once the cluster notices, all keys) fail over to
    // the loader; callers never see an error.
    cluster.kill_node(0);
    let mut bypassed = 0;
    for id in &ids {
        let outcome = get(id.clone()).await;
        assert!(matches!(outcome, CacheOutcome::Hit | CacheOutcome::Bypass));
        if outcome == CacheOutcome::Bypass {
            bypassed += 1;
        }
    }
    assert!(bypassed > 0, "the dead node's keys were bypassed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_down_at_start_is_used_once_it_answers() {
    let mut cluster = RedisCluster::start(3, 0);
    for node in 0..3 {
        cluster.kill_node(node);
    }
    let cfg = CacheConfig {
        urls: cluster.urls(),
        mode: Mode::Cluster,
        cluster_connect_retry: Duration::from_millis(50),
        breaker_cool_off: Duration::from_millis(50),
        ..common::test_config("redis://unused")
    };
    // The strict constructor needs the slot map; the lazy one starts without it.
    assert!(Cache::connect(cfg.clone()).await.is_err());
    let cache = Cache::connect_lazy(cfg).await.expect("a lazy client");
    assert!(cache.client().is_cluster() && cache.client().is_pending());
    let fam = cache.family("lazy");
    let read = || async {
        fam.get_or_load("x", Duration::from_secs(60), || async {
            Ok::<_, std::convert::Infallible>(Some(7u32))
        })
        .await
        .unwrap()
    };
    let first = read().await;
    assert_eq!(
        (first.outcome, first.value),
        (CacheOutcome::Bypass, Some(7))
    );

    for node in 0..3 {
        cluster.restart_node(node);
    }
    cluster.wait_until_ok(Duration::from_secs(30));
    // Found by the reads themselves (each one may start a background attempt); the
    // bound only stops a broken build from hanging.
    let hit = common::eventually(Duration::from_secs(30), || async {
        read().await.outcome == CacheOutcome::Hit
    })
    .await;
    assert!(hit, "the same client reached the cluster and filled it");
    assert!(!cache.client().is_pending());
    let keys: usize = cluster
        .nodes()
        .iter()
        .map(|n| n.cli(&["DBSIZE"]).trim().parse::<usize>().unwrap())
        .sum();
    assert!(keys >= 1, "the fill is in the cluster");
}
