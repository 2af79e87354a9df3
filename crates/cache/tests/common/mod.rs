//! Shared set-up of the integration tests: a real redis-server per test.
#![allow(dead_code)]

use std::time::Duration;

use cache::{Cache, CacheConfig};
use testkit::redis::RedisServer;

/// Generous timeouts: the test machine is shared with compilers, and a timeout here
/// would turn a HIT into a BYPASS and make a behaviour test flaky.
pub fn test_config(url: &str) -> CacheConfig {
    CacheConfig {
        command_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(2),
        ..CacheConfig::with_url(url)
    }
}

pub async fn cache_on(server: &RedisServer) -> Cache {
    Cache::connect(test_config(&server.url()))
        .await
        .expect("connect to test redis")
}

/// Polls `check` every 50 ms until it returns true or `within` passes.
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
