//! A cold start's state ([`AppState::start`], what the Lambda host builds) with its Redis
//! Cluster down: the environment starts, reads answer `BYPASS` from PostgreSQL, and the
//! same state uses the cluster once it answers (the slot map is read again in the
//! background), without a new environment.

mod common;

use std::time::Duration;

use common::{Db, call};
use lambdas::config::AppConfig;
use lambdas::state::AppState;
use testkit::redis::RedisCluster;

#[tokio::test(flavor = "multi_thread")]
async fn a_cold_start_with_the_redis_cluster_down_recovers_by_itself() {
    let db = Db::start().await;
    db.vendor("v1", &["tow"], 34.0, -118.0).await;
    let mut cluster = RedisCluster::start(3, 0);
    for node in 0..3 {
        cluster.kill_node(node);
    }
    let db_url = db.server.url();
    let seeds = cluster.urls().join(",");
    let config = AppConfig::from_lookup(|name| {
        let value = match name {
            "DATABASE_URL" => db_url.as_str(),
            "REDIS_URL" => seeds.as_str(),
            "REDIS_MODE" => "cluster",
            "REDIS_CLUSTER_CONNECT_RETRY_MS" => "100",
            "CACHE_BREAKER_COOL_OFF_MS" => "100",
            // Generous: the machine is shared, and a timeout would read as BYPASS.
            "REDIS_COMMAND_TIMEOUT_MS" | "REDIS_CONNECT_TIMEOUT_MS" => "2000",
            "VENDOR_PROFILE_LOCAL_TTL_MS" => "0",
            "STAGE" => "test",
            _ => return None,
        };
        Some(value.to_owned())
    })
    .expect("config");
    let state = AppState::start(config)
        .await
        .expect("the cold start survives");
    let cache = state
        .cache
        .clone()
        .expect("a cache, waiting for its cluster");
    assert!(cache.client().is_pending());
    let app = lambdas::router::app(state);

    let x_cache = |headers: &axum::http::HeaderMap| {
        headers
            .get("x-cache")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (status, headers, body) = call(&app, "GET", "/vendors/v1", &[], None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["businessName"], "v1");
    assert_eq!(x_cache(&headers).as_deref(), Some("BYPASS"));

    for node in 0..3 {
        cluster.restart_node(node);
    }
    cluster.wait_until_ok(Duration::from_secs(30));
    // The reads find the cluster themselves: a fill (MISS), then a HIT from Redis. The
    // bound only stops a broken build from hanging.
    let mut outcomes = Vec::new();
    for _ in 0..100 {
        let (status, headers, body) = call(&app, "GET", "/vendors/v1", &[], None).await;
        assert_eq!(
            (status.as_u16(), &body["businessName"]),
            (200, &"v1".into())
        );
        let outcome = x_cache(&headers).unwrap_or_default();
        let hit = outcome == "HIT";
        outcomes.push(outcome);
        if hit {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        outcomes.last().map(String::as_str),
        Some("HIT"),
        "the same state reached the cluster: {outcomes:?}"
    );
    assert!(outcomes.iter().any(|o| o == "MISS"), "{outcomes:?}");
    assert!(!cache.client().is_pending());
}
