//! Cache-aside behaviour against a real redis-server, including killing it.

mod common;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cache::{BreakerState, Cache, CacheConfig, CacheOutcome};
use common::{cache_on, eventually, test_config};
use testkit::redis::RedisServer;

type Calls = Arc<AtomicUsize>;
type LoadFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Option<String>, Infallible>> + Send>>;

fn counting_loader(
    calls: &Calls,
    value: Option<String>,
    delay: Duration,
) -> impl FnOnce() -> LoadFuture + Send + 'static + use<> {
    let calls = calls.clone();
    move || {
        Box::pin(async move {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(delay).await;
            Ok(value)
        })
    }
}

const TTL: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn miss_then_hit_and_metrics() {
    let server = RedisServer::start();
    let cache = cache_on(&server).await;
    let fam = cache.family("profile");
    let calls = Calls::default();
    let first = fam
        .get_or_load(
            "42",
            TTL,
            counting_loader(&calls, Some("v".into()), Duration::ZERO),
        )
        .await
        .unwrap();
    assert_eq!(first.outcome, CacheOutcome::Miss);
    assert_eq!(first.value.as_deref(), Some("v"));
    let second = fam
        .get_or_load(
            "42",
            TTL,
            counting_loader(&calls, Some("other".into()), Duration::ZERO),
        )
        .await
        .unwrap();
    assert_eq!(second.outcome, CacheOutcome::Hit);
    assert_eq!(second.value.as_deref(), Some("v"), "served from redis");
    assert_eq!(second.outcome.as_header(), "HIT");
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    let stats = cache.metrics().family_stats("profile");
    assert_eq!((stats.hits, stats.misses, stats.loads), (1, 1, 1));
    let lines = cache.metrics().emf_lines("Roadcall/Cache");
    assert!(lines.iter().any(|l| l.contains(r#""Family":"profile""#)));

    // The TTL carries jitter within the configured fraction (default 10%).
    let key = fam.key("42").await.unwrap();
    let ttl = cache.client().ttl(&key).await.unwrap().unwrap();
    assert!(ttl <= TTL.mul_f64(1.1) && ttl > TTL.mul_f64(0.9), "{ttl:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_load_once() {
    let server = RedisServer::start();
    let cache = cache_on(&server).await;
    let fam = cache.family("single-flight");
    let calls = Calls::default();
    let tasks: Vec<_> = (0..25)
        .map(|_| {
            let fam = fam.clone();
            let loader = counting_loader(&calls, Some("db".into()), Duration::from_millis(300));
            tokio::spawn(async move { fam.get_or_load("hot", TTL, loader).await.unwrap() })
        })
        .collect();
    for t in tasks {
        let got = t.await.unwrap();
        assert_eq!(got.value.as_deref(), Some("db"));
        assert_eq!(got.outcome, CacheOutcome::Miss);
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "one load for 25 concurrent misses"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_found_is_cached_briefly() {
    let server = RedisServer::start();
    let cfg = CacheConfig {
        negative_ttl: Duration::from_millis(400),
        ..test_config(&server.url())
    };
    let cache = Cache::connect(cfg).await.unwrap();
    let fam = cache.family("negative");
    let calls = Calls::default();
    let a = fam
        .get_or_load("ghost", TTL, counting_loader(&calls, None, Duration::ZERO))
        .await
        .unwrap();
    assert_eq!((a.value, a.outcome), (None, CacheOutcome::Miss));
    let b = fam
        .get_or_load("ghost", TTL, counting_loader(&calls, None, Duration::ZERO))
        .await
        .unwrap();
    assert_eq!(
        (b.value, b.outcome),
        (None, CacheOutcome::Hit),
        "negative hit"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let c = fam
        .get_or_load(
            "ghost",
            TTL,
            counting_loader(&calls, Some("born".into()), Duration::ZERO),
        )
        .await
        .unwrap();
    assert_eq!(c.outcome, CacheOutcome::Miss, "negative entry expired");
    assert_eq!(c.value.as_deref(), Some("born"));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_expire_after_ttl() {
    let server = RedisServer::start();
    let cfg = CacheConfig {
        ttl_jitter: 0.0,
        ..test_config(&server.url())
    };
    let cache = Cache::connect(cfg).await.unwrap();
    let fam = cache.family("short");
    let calls = Calls::default();
    let ttl = Duration::from_millis(300);
    fam.get_or_load(
        "k",
        ttl,
        counting_loader(&calls, Some("1".into()), Duration::ZERO),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let again = fam
        .get_or_load(
            "k",
            ttl,
            counting_loader(&calls, Some("2".into()), Duration::ZERO),
        )
        .await
        .unwrap();
    assert_eq!(again.outcome, CacheOutcome::Miss);
    assert_eq!(again.value.as_deref(), Some("2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_while_revalidate_refreshes_once() {
    let server = RedisServer::start();
    let cfg = CacheConfig {
        ttl_jitter: 0.0,
        ..test_config(&server.url())
    };
    let cache = Cache::connect(cfg).await.unwrap();
    let fam = cache
        .family("swr")
        .with_stale_while_revalidate(Duration::from_secs(30));
    let calls = Calls::default();
    let ttl = Duration::from_millis(300);
    fam.get_or_load(
        "k",
        ttl,
        counting_loader(&calls, Some("old".into()), Duration::ZERO),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let fam = fam.clone();
            let loader = counting_loader(&calls, Some("new".into()), Duration::from_millis(300));
            tokio::spawn(async move { fam.get_or_load("k", ttl, loader).await.unwrap() })
        })
        .collect();
    for t in tasks {
        let got = t.await.unwrap();
        assert_eq!(got.outcome, CacheOutcome::Stale);
        assert_eq!(
            got.value.as_deref(),
            Some("old"),
            "stale value served at once"
        );
    }
    let refreshed = eventually(Duration::from_secs(10), || {
        let fam = fam.clone();
        let loader = counting_loader(&Calls::default(), Some("never".into()), Duration::ZERO);
        async move {
            let got = fam.get_or_load("k", ttl, loader).await.unwrap();
            got.outcome == CacheOutcome::Hit && got.value.as_deref() == Some("new")
        }
    })
    .await;
    assert!(refreshed, "background refresh stored the new value");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "initial load + exactly one refresh"
    );
    assert!(cache.metrics().family_stats("swr").stale >= 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalidate_one_many_and_family() {
    let server = RedisServer::start();
    let cache = cache_on(&server).await;
    // A second process with a short generation refresh sees family invalidation.
    let other = Cache::connect(CacheConfig {
        generation_refresh: Duration::from_millis(100),
        ..test_config(&server.url())
    })
    .await
    .unwrap();
    let fam = cache.family("inv");
    let other_fam = other.family("inv");
    let calls = Calls::default();
    for id in ["a", "b", "c", "d"] {
        fam.get_or_load(
            id,
            TTL,
            counting_loader(&calls, Some(id.into()), Duration::ZERO),
        )
        .await
        .unwrap();
    }
    let outcome = |f: cache::KeyFamily, id: &'static str| {
        let calls = calls.clone();
        async move {
            f.get_or_load(
                id,
                TTL,
                counting_loader(&calls, Some(id.into()), Duration::ZERO),
            )
            .await
            .unwrap()
            .outcome
        }
    };
    assert_eq!(outcome(other_fam.clone(), "a").await, CacheOutcome::Hit);

    fam.invalidate("a").await.unwrap();
    assert_eq!(outcome(fam.clone(), "a").await, CacheOutcome::Miss);
    assert_eq!(fam.invalidate_many(&["b", "c", "zz"]).await.unwrap(), 2);
    assert_eq!(outcome(fam.clone(), "b").await, CacheOutcome::Miss);
    assert_eq!(outcome(fam.clone(), "c").await, CacheOutcome::Miss);
    assert_eq!(outcome(fam.clone(), "d").await, CacheOutcome::Hit);

    let old_key = fam.key("d").await.unwrap();
    let generation = fam.invalidate_all().await.unwrap();
    assert_eq!(generation, 1);
    assert_ne!(
        fam.key("d").await.unwrap(),
        old_key,
        "new generation in the key"
    );
    assert_eq!(outcome(fam.clone(), "d").await, CacheOutcome::Miss);
    assert!(
        eventually(Duration::from_secs(5), || {
            let f = other_fam.clone();
            let old_key = old_key.clone();
            async move { f.key("d").await.unwrap() != old_key }
        })
        .await,
        "other process moved to the new generation"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_bypasses_then_breaker_recovers() {
    let mut server = RedisServer::start();
    let cfg = CacheConfig {
        command_timeout: Duration::from_millis(500),
        breaker_failure_threshold: 2,
        breaker_cool_off: Duration::from_millis(300),
        ..test_config(&server.url())
    };
    let cache = Cache::connect(cfg).await.unwrap();
    let fam = cache.family("breaker");
    let calls = Calls::default();
    let get = |v: &'static str| {
        let fam = fam.clone();
        let loader = counting_loader(&calls, Some(v.into()), Duration::ZERO);
        async move { fam.get_or_load("k", TTL, loader).await.unwrap() }
    };
    assert_eq!(get("v1").await.outcome, CacheOutcome::Miss);
    assert_eq!(get("v1").await.outcome, CacheOutcome::Hit);

    server.stop();
    for _ in 0..10 {
        let got = get("from-db").await;
        assert_eq!(got.outcome, CacheOutcome::Bypass);
        assert_eq!(
            got.value.as_deref(),
            Some("from-db"),
            "loader answers, no error"
        );
    }
    assert_eq!(cache.breaker_state(), BreakerState::Open);
    let stats = cache.metrics().family_stats("breaker");
    assert_eq!(stats.bypass, 10);
    assert!(
        stats.errors >= 2 && stats.errors < 10,
        "breaker skipped redis: {stats:?}"
    );

    server.restart();
    let recovered = eventually(Duration::from_secs(20), || async move {
        get("v2").await.outcome == CacheOutcome::Hit
    })
    .await;
    assert!(recovered, "hits resume after restart");
    assert_eq!(cache.breaker_state(), BreakerState::Closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loader_errors_are_returned_and_not_cached() {
    let server = RedisServer::start();
    let cache = cache_on(&server).await;
    let fam = cache.family("errs");
    let err = fam
        .get_or_load("k", TTL, || async { Err::<Option<String>, _>("db down") })
        .await
        .unwrap_err();
    assert_eq!(err, "db down");
    let ok = fam
        .get_or_load("k", TTL, || async { Ok::<_, &str>(Some("x".to_owned())) })
        .await
        .unwrap();
    assert_eq!(ok.outcome, CacheOutcome::Miss);
}

/// A call that overran its timeout while Redis kept answering this process's other calls
/// waited behind them (a burst queued on the connection, in Redis or for a CPU): Redis is
/// up, and the breaker stays closed. A timeout with no answer to anyone meanwhile, and a
/// frozen Redis, still open it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_timeouts_while_nothing_is_answered_open_the_breaker() {
    let server = RedisServer::start();
    let cfg = CacheConfig {
        command_timeout: Duration::from_millis(300),
        breaker_failure_threshold: 1,
        breaker_cool_off: Duration::from_secs(60),
        ..test_config(&server.url())
    };
    let overrun = || cache::CacheError::Timeout(Duration::from_millis(300));

    // The overrun (as the breaker sees it: a timeout error) ends after another call of
    // this process was answered.
    let cache = Cache::connect(cfg.clone()).await.unwrap();
    let (answered, heard) = tokio::sync::oneshot::channel::<()>();
    let queued = cache.guarded(async move {
        let _ = heard.await;
        Err::<(), _>(overrun())
    });
    let other = async {
        let pong: String = cache
            .guarded(cache.client().query(&redis::cmd("PING")))
            .await
            .expect("redis answers");
        assert_eq!(pong, "PONG");
        let _ = answered.send(());
    };
    let (queued, ()) = tokio::join!(queued, other);
    assert!(matches!(queued, Err(cache::CacheError::Timeout(_))));
    assert_eq!(cache.breaker_state(), BreakerState::Closed);

    // The same timeout with nothing answered while it waited opens it (threshold 1).
    let alone = cache.guarded(async { Err::<(), _>(overrun()) }).await;
    assert!(matches!(alone, Err(cache::CacheError::Timeout(_))));
    assert_eq!(cache.breaker_state(), BreakerState::Open);

    // A frozen Redis answers nobody: its timeouts open the breaker.
    let cache = Cache::connect(cfg).await.unwrap();
    server.pause();
    let frozen: Result<Option<String>, _> = cache.guarded(cache.client().get("k")).await;
    server.resume();
    assert!(
        matches!(frozen, Err(cache::CacheError::Timeout(_))),
        "{frozen:?}"
    );
    assert_eq!(cache.breaker_state(), BreakerState::Open);
}
