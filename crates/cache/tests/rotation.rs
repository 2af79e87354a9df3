//! A password that changes while the client runs: Redis refuses the one in use, the client
//! asks its `PasswordSource` (at most once per retry interval, in the background) and
//! reconnects with the answer. Real redis-server with `requirepass`, changed with
//! `CONFIG SET` the way a rotation changes an ElastiCache AUTH token.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cache::{BoxError, BoxFuture, Cache, CacheConfig, CacheError, CacheOutcome, PasswordSource};
use testkit::redis::RedisServer;

/// A password store the test controls: what `current` answers, and how often it was asked.
#[derive(Debug)]
struct Store {
    answer: Mutex<Result<Option<String>, String>>,
    reads: AtomicUsize,
}

impl Store {
    fn answering(answer: Result<&str, &str>) -> Arc<Self> {
        let store = Self {
            answer: Mutex::new(Ok(None)),
            reads: AtomicUsize::new(0),
        };
        store.set(answer);
        Arc::new(store)
    }

    fn set(&self, answer: Result<&str, &str>) {
        *self.answer.lock().unwrap() = answer.map(|p| Some(p.to_owned())).map_err(str::to_owned);
    }

    fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }
}

impl PasswordSource for Store {
    fn current(&self) -> BoxFuture<'_, Result<Option<String>, BoxError>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        let answer = self.answer.lock().unwrap().clone();
        Box::pin(async move { answer.map_err(BoxError::from) })
    }
}

fn config(url: String, password: Option<&str>, store: &Arc<Store>, retry: Duration) -> CacheConfig {
    CacheConfig {
        urls: vec![url],
        password: password.map(str::to_owned),
        password_source: Some(Arc::clone(store) as Arc<dyn PasswordSource>),
        password_retry_interval: retry,
        ..common::test_config("redis://unused")
    }
}

/// `redis-cli -a password args...` (the server's own `cli` authenticates with the password
/// it was started with, which a rotation retires).
fn cli_as(server: &RedisServer, password: &str, args: &[&str]) -> String {
    let mut all = vec!["--no-auth-warning", "-a", password];
    all.extend_from_slice(args);
    server.cli(&all)
}

async fn read(cache: &Cache) -> CacheOutcome {
    cache
        .family("rotation")
        .get_or_load("k", Duration::from_secs(60), || async {
            Ok::<_, std::convert::Infallible>(Some(7))
        })
        .await
        .expect("the loader cannot fail")
        .outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_password_is_read_again_and_the_client_reconnects() {
    let server = RedisServer::start_tls_auth("first-token-0123456789");
    let store = Store::answering(Ok("first-token-0123456789"));
    let cfg = CacheConfig {
        tls_ca_file: Some(server.tls().expect("tls").ca.clone()),
        ..config(
            format!("rediss://127.0.0.1:{}", server.port()),
            Some("first-token-0123456789"),
            &store,
            Duration::from_millis(100),
        )
    };
    let cache = Cache::connect(cfg).await.expect("connect");
    assert_eq!(read(&cache).await, CacheOutcome::Miss);
    assert_eq!(read(&cache).await, CacheOutcome::Hit);
    assert_eq!(store.reads(), 0, "an accepted password is never read again");

    // The rotation: Redis takes the new token, the store holds it, and the connections
    // authenticated with the old one go (a failover or the end of the rotation window).
    let ok = server.cli(&["CONFIG", "SET", "requirepass", "second-token-9876543210"]);
    assert!(ok.contains("OK"), "{ok}");
    store.set(Ok("second-token-9876543210"));
    let killed = cli_as(
        &server,
        "second-token-9876543210",
        &["CLIENT", "KILL", "TYPE", "normal"],
    );
    assert!(!killed.trim().is_empty(), "no client killed: {killed}");
    let refused = cli_as(&server, "first-token-0123456789", &["PING"]);
    assert!(
        !refused.contains("PONG"),
        "the old token still works: {refused}"
    );

    // Reads answer from the loader while the client reconnects, then hit again, without a
    // new client.
    let recovered = common::eventually(Duration::from_secs(20), || async {
        read(&cache).await == CacheOutcome::Hit
    })
    .await;
    assert!(recovered, "never hit again after the rotation");
    assert!(store.reads() >= 1, "the new password was never read");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_read_the_source_at_most_once_per_interval() {
    let server = RedisServer::start_with(
        Vec::new(),
        None,
        Some("the-right-one".into()),
        testkit::free_port(),
    );
    // Both the first password and the source's answer are wrong: every command is refused.
    let store = Store::answering(Ok("still-wrong"));
    let cfg = config(
        format!("redis://127.0.0.1:{}", server.port()),
        Some("wrong"),
        &store,
        Duration::from_secs(3600),
    );
    let cache = Cache::connect(cfg).await.expect("connect");
    for _ in 0..20 {
        let err = cache.client().get::<String>("k").await.unwrap_err();
        assert!(matches!(err, CacheError::Connection(_)), "{err:?}");
    }
    assert!(
        common::eventually(Duration::from_secs(10), || async { store.reads() == 1 }).await,
        "the refusal never reached the source"
    );
    for _ in 0..20 {
        assert!(cache.client().get::<String>("k").await.is_err());
    }
    assert_eq!(read(&cache).await, CacheOutcome::Bypass);
    assert_eq!(
        store.reads(),
        1,
        "a refused password must not storm the store"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_that_was_down_is_asked_again_after_the_interval() {
    let server = RedisServer::start_with(
        Vec::new(),
        None,
        Some("the-right-one".into()),
        testkit::free_port(),
    );
    // A cold start whose secret store did not answer: no password at all (NOAUTH).
    let store = Store::answering(Err("secrets store unreachable"));
    let cfg = config(
        format!("redis://127.0.0.1:{}", server.port()),
        None,
        &store,
        Duration::from_millis(100),
    );
    let cache = Cache::connect(cfg).await.expect("connect");
    assert_eq!(read(&cache).await, CacheOutcome::Bypass);
    assert!(
        common::eventually(Duration::from_secs(10), || async { store.reads() >= 1 }).await,
        "NOAUTH never reached the source"
    );
    store.set(Ok("the-right-one"));
    let recovered = common::eventually(Duration::from_secs(20), || async {
        read(&cache).await == CacheOutcome::Hit
    })
    .await;
    assert!(recovered, "never reached Redis once the store answered");
    assert!(store.reads() >= 2, "the store was not asked again");
}

/// A source whose passwords expire (like ElastiCache IAM tokens): it hands out whatever
/// the test set, counting `fresh` (a new connection) and `current` (after a refusal)
/// apart.
#[derive(Debug)]
struct Expiring {
    password: Mutex<String>,
    fresh: AtomicUsize,
    refused: AtomicUsize,
}

impl PasswordSource for Expiring {
    fn current(&self) -> BoxFuture<'_, Result<Option<String>, BoxError>> {
        self.refused.fetch_add(1, Ordering::SeqCst);
        let password = self.password.lock().unwrap().clone();
        Box::pin(async move { Ok(Some(password)) })
    }

    fn renew_every(&self) -> Option<Duration> {
        // Longer than the test: no renewal of a live connection happens meanwhile.
        Some(Duration::from_secs(3600))
    }

    fn fresh(&self) -> BoxFuture<'_, Result<Option<String>, BoxError>> {
        self.fresh.fetch_add(1, Ordering::SeqCst);
        let password = self.password.lock().unwrap().clone();
        Box::pin(async move { Ok(Some(password)) })
    }
}

/// How many refused `AUTH`s Redis logged (`ACL LOG` entries whose reason is `auth`).
fn auth_denials(server: &RedisServer) -> usize {
    let log = server.cli(&["ACL", "LOG"]);
    let lines: Vec<&str> = log.lines().map(str::trim).collect();
    lines
        .windows(2)
        .filter(|w| w[0] == "reason" && w[1] == "auth")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_expiring_passwords_every_new_connection_takes_a_fresh_one() {
    // `default` needs a password (what testkit's cli uses); the cache is user `app`.
    let server = RedisServer::start_with(
        Vec::new(),
        None,
        Some("admin-0123456789".into()),
        testkit::free_port(),
    );
    let ok = server.cli(&[
        "ACL", "SETUSER", "app", "on", ">token-1", "~*", "&*", "+@all",
    ]);
    assert!(ok.contains("OK"), "{ok}");
    let source = Arc::new(Expiring {
        password: Mutex::new("token-1".to_owned()),
        fresh: AtomicUsize::new(0),
        refused: AtomicUsize::new(0),
    });
    let cfg = CacheConfig {
        urls: vec![format!("redis://127.0.0.1:{}", server.port())],
        username: Some("app".to_owned()),
        // What the first connection would use without the source: the first token.
        password: Some("token-1".to_owned()),
        password_source: Some(Arc::clone(&source) as Arc<dyn PasswordSource>),
        password_retry_interval: Duration::from_millis(100),
        ..common::test_config("redis://unused")
    };
    // The check itself: a refused AUTH is logged.
    let refused = server.cli(&[
        "--user",
        "app",
        "--pass",
        "not-the-token",
        "--no-auth-warning",
        "PING",
    ]);
    assert!(!refused.contains("PONG"), "{refused}");
    assert_eq!(auth_denials(&server), 1);
    server.cli(&["ACL", "LOG", "RESET"]);

    let cache = Cache::connect(cfg).await.expect("connect");
    assert_eq!(read(&cache).await, CacheOutcome::Miss);
    assert_eq!(read(&cache).await, CacheOutcome::Hit);
    assert!(
        source.fresh.load(Ordering::SeqCst) >= 1,
        "the first connection asked"
    );

    // The first token expires (Redis stops taking it) while the source already signs
    // another; then the connection drops, and the client's own reconnection must not
    // offer the expired one.
    let ok = server.cli(&["ACL", "SETUSER", "app", "resetpass", ">token-2"]);
    assert!(ok.contains("OK"), "{ok}");
    *source.password.lock().unwrap() = "token-2".to_owned();
    let killed = server.cli(&["CLIENT", "KILL", "USER", "app"]);
    assert!(killed.trim().parse::<u64>().unwrap_or(0) >= 1, "{killed}");
    let recovered = common::eventually(Duration::from_secs(20), || async {
        read(&cache).await == CacheOutcome::Hit
    })
    .await;
    assert!(recovered, "never hit again after the reconnection");
    assert_eq!(
        (auth_denials(&server), source.refused.load(Ordering::SeqCst)),
        (0, 0),
        "the reconnection authenticated with the fresh token, never with the expired one"
    );
    assert!(
        source.fresh.load(Ordering::SeqCst) >= 2,
        "the reconnection asked"
    );
}
