//! TLS (`rediss://`, self-signed CA) plus AUTH, like ElastiCache with in-transit
//! encryption and an auth token.

mod common;

use cache::{Cache, CacheConfig, CacheError, CacheOutcome, SetCondition};
use testkit::redis::{RedisServer, TEST_PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_auth_token() {
    let server = RedisServer::start_tls_auth(TEST_PASSWORD);
    let tls = server.tls().unwrap().clone();
    assert!(server.url().starts_with("rediss://"));
    let cfg = CacheConfig {
        tls_ca_file: Some(tls.ca.clone()),
        ..common::test_config(&server.url())
    };
    let cache = Cache::connect(cfg.clone()).await.unwrap();
    assert!(
        cache
            .client()
            .set("t", &"secret", None, SetCondition::Always)
            .await
            .unwrap()
    );
    assert_eq!(
        cache.client().get::<String>("t").await.unwrap().as_deref(),
        Some("secret")
    );
    let hit = cache
        .family("tls")
        .get_or_load("a", std::time::Duration::from_secs(5), || async {
            Ok::<_, std::convert::Infallible>(Some(1))
        })
        .await
        .unwrap();
    assert_eq!(hit.outcome, CacheOutcome::Miss);

    // Password given separately (REDIS_PASSWORD) instead of in the URL.
    let separate = CacheConfig {
        urls: vec![format!("rediss://127.0.0.1:{}", server.port())],
        password: Some(TEST_PASSWORD.into()),
        ..cfg.clone()
    };
    let c2 = Cache::connect(separate).await.unwrap();
    assert!(c2.client().exists("t").await.unwrap());

    // Wrong token: a connection error the caller can match, not a panic.
    let wrong = CacheConfig {
        password: Some("wrong".into()),
        ..cfg.clone()
    };
    let c3 = Cache::connect(wrong).await.unwrap();
    let err = c3.client().get::<String>("t").await.unwrap_err();
    assert!(matches!(err, CacheError::Connection(_)), "{err:?}");

    // Untrusted certificate (no CA given): refused.
    let untrusted = CacheConfig {
        tls_ca_file: None,
        ..cfg
    };
    let c4 = Cache::connect(untrusted).await.unwrap();
    assert!(c4.client().get::<String>("t").await.is_err());
}
