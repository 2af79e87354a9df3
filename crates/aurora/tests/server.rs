//! Behaviour against real PostgreSQL servers started by the test kit (one per test).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aurora::auth::{
    BoxFuture, Credentials, PasswordError, PasswordSource, SecretFetcher, SharedCredentialsProvider,
};
use aurora::{AuroraConfig, AuroraError, AuroraPool, IsolationLevel, RetryPolicy, SslMode};
use testkit::postgres::PostgresServer;

fn config_for(server: &PostgresServer) -> AuroraConfig {
    let mut config = AuroraConfig::from_url(&server.url()).expect("test url");
    config.min_size = 1;
    config.max_size = 4;
    config.wait_timeout = Duration::from_secs(10);
    // Enough attempts to ride out a server restart, short delays to keep tests quick.
    config.retry = RetryPolicy {
        max_attempts: 30,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
    };
    config
}

/// A pool on `server` with the test configuration, its `min_size` connections open.
async fn pool_for(server: &PostgresServer) -> AuroraPool {
    AuroraPool::connect(config_for(server))
        .await
        .expect("connect")
}

async fn admin(server: &PostgresServer) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&server.url(), tokio_postgres::NoTls)
        .await
        .expect("admin connection");
    tokio::spawn(connection);
    client
}

/// The one value a one-row, one-column read returns.
async fn scalar<T: for<'r> aurora::tokio_postgres::types::FromSql<'r>>(
    pool: &AuroraPool,
    sql: &str,
) -> T {
    pool.query_one(sql, &[]).await.expect(sql).get(0)
}

async fn backend_pid(pool: &AuroraPool) -> i32 {
    scalar(pool, "SELECT pg_backend_pid()").await
}

#[tokio::test]
async fn pool_honours_min_and_max_size() {
    let server = PostgresServer::start();
    let mut config = config_for(&server);
    config.min_size = 2;
    config.max_size = 2;
    config.wait_timeout = Duration::from_millis(300);
    let pool = AuroraPool::connect(config).await.expect("connect");
    let stats = pool.stats();
    assert_eq!(stats.writer.size, 2, "min_size connections opened at start");
    assert_eq!(stats.writer.available, 2);
    assert_eq!(stats.created, 2);

    let first = pool.writer_connection().await.expect("first");
    let second = pool.writer_connection().await.expect("second");
    let third = pool.writer_connection().await;
    assert!(
        matches!(third, Err(AuroraError::PoolTimeout(_))),
        "{third:?}"
    );
    assert_eq!(pool.stats().writer.size, 2, "never more than max_size");
    drop((first, second));
    assert!(pool.writer_connection().await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_are_retried_across_a_server_restart() {
    let mut server = PostgresServer::start();
    let pool = pool_for(&server).await;
    assert!(backend_pid(&pool).await > 0);
    server.stop_fast();
    let restarter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        server.start_again();
        server
    });
    let row = pool
        .query_one("SELECT 41 + 1", &[])
        .await
        .expect("read retried until the restart");
    assert_eq!(row.get::<_, i32>(0), 42);
    assert!(
        pool.stats().retries >= 1,
        "the first attempt cannot have succeeded"
    );
    let _server = restarter.join().expect("restart thread");
}

/// Terminates the backend running a statement that contains `marker`, once it shows up.
async fn terminate_backend_running(admin: &tokio_postgres::Client, marker: &str) {
    for _ in 0..500 {
        let rows = admin
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE query LIKE '%' || $1 || '%' AND pid <> pg_backend_pid()",
                &[&marker],
            )
            .await
            .expect("terminate");
        if !rows.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no backend ran {marker}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_killed_mid_statement_is_retried() {
    let server = PostgresServer::start();
    let pool = pool_for(&server).await;
    let admin = admin(&server).await;
    let reader = {
        let pool = pool.clone();
        tokio::spawn(async move {
            // Only the first attempt sleeps long enough to be killed.
            pool.query_one(
                "SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM pg_stat_activity \
                   WHERE query LIKE '%kill_me_read%' AND pid <> pg_backend_pid() AND false) \
                 THEN pg_sleep(0.5)::text END, 'kill_me_read'",
                &[],
            )
            .await
        })
    };
    terminate_backend_running(&admin, "kill_me_read").await;
    let result = reader.await.expect("task");
    assert!(result.is_ok(), "{result:?}");
    assert!(pool.stats().retries >= 1);
    assert!(
        pool.stats().evicted >= 1,
        "the killed connection was thrown away"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_write_is_never_run_twice() {
    let server = PostgresServer::start();
    let pool = pool_for(&server).await;
    let admin = admin(&server).await;
    admin
        .batch_execute("CREATE TABLE writes (n int)")
        .await
        .expect("table");
    let writer = {
        let pool = pool.clone();
        tokio::spawn(async move {
            pool.execute(
                "INSERT INTO writes SELECT 1 FROM pg_sleep(0.5) -- kill_me_write",
                &[],
            )
            .await
        })
    };
    terminate_backend_running(&admin, "kill_me_write").await;
    let result = writer.await.expect("task");
    let error = result.expect_err("the write's connection was killed");
    assert!(
        error.is_transient(),
        "connection loss is transient: {error}"
    );
    assert_eq!(pool.stats().retries, 0, "a write must not be retried");
    let count: i64 = admin
        .query_one("SELECT count(*) FROM writes", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(count, 0, "a retry would have inserted the row");
    // The pool recovers for the next call.
    assert_eq!(
        pool.execute("INSERT INTO writes VALUES (2)", &[])
            .await
            .expect("insert"),
        1
    );
}

#[tokio::test]
async fn transactions_commit_roll_back_and_survive_panics() {
    let server = PostgresServer::start();
    let pool = pool_for(&server).await;
    pool.execute("CREATE TABLE items (name text PRIMARY KEY)", &[])
        .await
        .expect("table");

    let inserted = pool
        .transaction(|tx| {
            Box::pin(async move {
                Ok(tx
                    .execute("INSERT INTO items VALUES ('committed')", &[])
                    .await?)
            })
        })
        .await
        .expect("commit");
    assert_eq!(inserted, 1);

    let rolled_back: Result<(), AuroraError> = pool
        .transaction(|tx| {
            Box::pin(async move {
                tx.execute("INSERT INTO items VALUES ('rolled back')", &[])
                    .await?;
                Err(AuroraError::application("business rule says no"))
            })
        })
        .await;
    assert!(
        matches!(rolled_back, Err(AuroraError::Application(_))),
        "{rolled_back:?}"
    );

    let panicked: Result<(), AuroraError> = pool
        .transaction(|tx| {
            Box::pin(async move {
                tx.execute("INSERT INTO items VALUES ('panicked')", &[])
                    .await?;
                panic!("bug in the handler");
            })
        })
        .await;
    assert!(
        matches!(panicked, Err(AuroraError::Panicked)),
        "{panicked:?}"
    );

    let failed_statement: Result<u64, AuroraError> = pool
        .transaction(|tx| {
            Box::pin(async move {
                tx.execute("INSERT INTO items VALUES ('dup')", &[]).await?;
                Ok(tx.execute("INSERT INTO items VALUES ('dup')", &[]).await?)
            })
        })
        .await;
    assert_eq!(
        failed_statement.expect_err("duplicate").sqlstate(),
        Some("23505"),
        "a constraint violation is returned, not retried"
    );

    let names: Vec<String> = pool
        .query("SELECT name FROM items ORDER BY name", &[])
        .await
        .expect("read")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(names, vec!["committed".to_owned()]);
    assert_eq!(pool.stats().retries, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serialization_failures_retry_the_whole_transaction() {
    let server = PostgresServer::start();
    let mut config = config_for(&server);
    config.max_size = 4;
    let pool = AuroraPool::connect(config).await.expect("connect");
    pool.execute(
        "CREATE TABLE on_call (doctor text PRIMARY KEY, on_duty boolean NOT NULL)",
        &[],
    )
    .await
    .expect("table");
    pool.execute(
        "INSERT INTO on_call VALUES ('alice', true), ('bob', true)",
        &[],
    )
    .await
    .expect("rows");

    // Classic write skew: both read "two on duty", then each takes a different doctor
    // off duty. SERIALIZABLE must fail one of them; the helper retries it, and on the
    // retry it sees only one doctor left and changes nothing.
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let attempts = Arc::new(AtomicUsize::new(0));
    let go_off_duty = |doctor: &'static str| {
        let pool = pool.clone();
        let barrier = Arc::clone(&barrier);
        let attempts = Arc::clone(&attempts);
        async move {
            pool.transaction_with(IsolationLevel::Serializable, |tx| {
                let barrier = Arc::clone(&barrier);
                let attempt = attempts.fetch_add(1, Ordering::SeqCst);
                Box::pin(async move {
                    let on_duty: i64 = tx
                        .query_one("SELECT count(*) FROM on_call WHERE on_duty", &[])
                        .await?
                        .get(0);
                    if attempt < 2 {
                        barrier.wait().await;
                    }
                    if on_duty >= 2 {
                        tx.execute(
                            "UPDATE on_call SET on_duty = false WHERE doctor = $1",
                            &[&doctor],
                        )
                        .await?;
                    }
                    Ok(on_duty)
                })
            })
            .await
        }
    };
    let (a, b) = tokio::join!(
        tokio::spawn(go_off_duty("alice")),
        tokio::spawn(go_off_duty("bob"))
    );
    let a = a.expect("task a").expect("transaction a");
    let b = b.expect("task b").expect("transaction b");
    assert!(
        attempts.load(Ordering::SeqCst) >= 3,
        "one transaction ran again"
    );
    assert!(pool.stats().retries >= 1);
    assert_eq!(
        a.min(b),
        1,
        "the retried transaction saw the other one's commit"
    );
    let on_duty: i64 = pool
        .query_one("SELECT count(*) FROM on_call WHERE on_duty", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(
        on_duty, 1,
        "serializable outcome: exactly one doctor went off duty"
    );
}

async fn set_read_only(admin: &tokio_postgres::Client, on: bool) {
    let statement = if on {
        "ALTER SYSTEM SET default_transaction_read_only = on"
    } else {
        "ALTER SYSTEM RESET default_transaction_read_only"
    };
    admin
        .batch_execute("SET default_transaction_read_only = off")
        .await
        .expect("admin session writable");
    admin.batch_execute(statement).await.expect("alter system");
    admin
        .batch_execute("SELECT pg_reload_conf()")
        .await
        .expect("reload");
    // The reload is asynchronous: wait until a new session sees the new default.
    let wanted = if on { "on" } else { "off" };
    for _ in 0..500 {
        let row = admin
            .query_one(
                "SELECT reset_val FROM pg_settings WHERE name = 'default_transaction_read_only'",
                &[],
            )
            .await
            .expect("show");
        if row.get::<_, String>(0) == wanted {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("default_transaction_read_only did not become {wanted}");
}

#[tokio::test]
async fn read_only_connections_are_evicted_after_failover() {
    let server = PostgresServer::start();
    let mut config = config_for(&server);
    config.min_size = 1;
    config.max_size = 1;
    let pool = AuroraPool::connect(config).await.expect("connect");
    let admin = admin(&server).await;
    pool.execute("CREATE TABLE events (n int)", &[])
        .await
        .expect("table");
    let pid_before = backend_pid(&pool).await;
    assert!(pool.health().await.expect("health").writable);

    set_read_only(&admin, true).await;
    let refused = pool.execute("INSERT INTO events VALUES (1)", &[]).await;
    assert!(
        matches!(refused, Err(AuroraError::ReadOnly(_))),
        "{refused:?}"
    );
    assert!(pool.stats().evicted >= 1);
    assert!(!pool.health().await.expect("health").writable);

    // "Failover" completes: the endpoint is writable again and the pool serves writes
    // on a new connection instead of repeating errors.
    set_read_only(&admin, false).await;
    assert_eq!(
        pool.execute("INSERT INTO events VALUES (2)", &[])
            .await
            .expect("write"),
        1
    );
    let pid_after = backend_pid(&pool).await;
    assert_ne!(
        pid_before, pid_after,
        "the read-only connection was replaced"
    );
}

#[tokio::test]
async fn a_transaction_refused_as_read_only_is_retried_on_a_new_connection() {
    let server = PostgresServer::start();
    let mut config = config_for(&server);
    config.max_size = 1;
    let pool = AuroraPool::connect(config).await.expect("connect");
    let admin = admin(&server).await;
    pool.execute("CREATE TABLE events (n int)", &[])
        .await
        .expect("table");
    set_read_only(&admin, true).await;
    let attempts = Arc::new(AtomicUsize::new(0));
    let admin = Arc::new(admin);
    let result = pool
        .transaction(|tx| {
            let attempts = Arc::clone(&attempts);
            let admin = Arc::clone(&admin);
            Box::pin(async move {
                if attempts.fetch_add(1, Ordering::SeqCst) == 1 {
                    // The second attempt: the new writer is ready.
                    set_read_only(&admin, false).await;
                }
                Ok(tx.execute("INSERT INTO events VALUES (1)", &[]).await?)
            })
        })
        .await;
    // The first attempt started before the reset (read-only); later ones may too, until
    // a new transaction sees the reset default.
    assert_eq!(result.expect("retried transaction"), 1);
    assert!(attempts.load(Ordering::SeqCst) >= 2);
    assert!(pool.stats().evicted >= 1);
}

#[tokio::test]
async fn health_and_stats_report_the_pool() {
    let server = PostgresServer::start();
    let pool = pool_for(&server).await;
    let health = pool.health().await.expect("health");
    assert!(health.writable);
    assert!(
        health.server_version.starts_with("15"),
        "{}",
        health.server_version
    );
    let error = pool
        .query("SELECT * FROM missing_table", &[])
        .await
        .expect_err("no table");
    assert_eq!(error.sqlstate(), Some("42P01"));
    assert!(!error.is_transient());
    let stats = pool.stats();
    assert!(stats.created >= 1);
    assert_eq!(stats.errors, 1);
    assert_eq!(stats.retries, 0, "a permanent error is not retried");
    assert_eq!(stats.in_flight, 0);
    assert_eq!(stats.writer.max_size, 4);
    assert!(stats.reader.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_then_refuses_new_work() {
    let server = PostgresServer::start();
    let pool = pool_for(&server).await;
    let slow = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.query_one("SELECT pg_sleep(0.3)::text", &[]).await })
    };
    while pool.stats().in_flight == 0 {
        tokio::task::yield_now().await;
    }
    assert!(
        pool.shutdown(Duration::from_secs(30)).await,
        "drained within the grace period"
    );
    assert!(slow.await.expect("task").is_ok(), "work in flight finished");
    assert!(matches!(
        pool.query("SELECT 1", &[]).await,
        Err(AuroraError::ShutDown)
    ));
    assert!(matches!(
        pool.transaction(|_tx| Box::pin(async { Ok(()) })).await,
        Err(AuroraError::ShutDown)
    ));
    assert!(matches!(
        pool.writer_connection().await,
        Err(AuroraError::ShutDown)
    ));
    assert!(pool.is_closing());
}

/// The role a pooled connection is logged in as.
async fn current_user(pool: &AuroraPool) -> String {
    scalar(pool, "SELECT current_user::text").await
}

/// Whether the server sees the session of a pooled connection as TLS.
async fn session_is_encrypted(pool: &AuroraPool) -> bool {
    scalar(
        pool,
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
    )
    .await
}

#[tokio::test]
async fn tls_verifies_the_server_certificate() {
    let server = PostgresServer::start_with_tls();
    let ca = server.ca_cert_path().expect("tls server has a CA");
    let base = AuroraConfig::from_url(&server.base_url()).expect("url");
    assert_eq!(
        base.tls.mode,
        SslMode::VerifyFull,
        "verification is the default"
    );

    let mut trusted = base.clone();
    trusted.min_size = 1;
    trusted.tls.ca_bundle = Some(ca);
    let pool = AuroraPool::connect(trusted)
        .await
        .expect("TLS with the right CA");
    assert!(session_is_encrypted(&pool).await);

    let mut untrusted = base.clone();
    untrusted.min_size = 1;
    untrusted.retry.max_attempts = 1;
    let error = AuroraPool::connect(untrusted)
        .await
        .expect_err("unknown CA must be refused");
    assert!(matches!(error, AuroraError::Connect(_)), "{error:?}");

    let mut plain = base;
    plain.min_size = 1;
    plain.tls.mode = SslMode::Disable;
    let pool = AuroraPool::connect(plain)
        .await
        .expect("explicitly disabled");
    assert!(!session_is_encrypted(&pool).await);

    let mut bad_bundle = AuroraConfig::from_url(&server.base_url()).expect("url");
    bad_bundle.tls.ca_bundle = Some(server.dir().join("no-such-file.pem"));
    assert!(matches!(
        AuroraPool::builder(bad_bundle).build(),
        Err(AuroraError::Tls(aurora::TlsError::ReadCaBundle { .. }))
    ));
}

/// Counts how often the pool asks for a password (an IAM token source would sign here).
#[derive(Debug, Default)]
struct CountingSource {
    calls: AtomicUsize,
}

impl PasswordSource for CountingSource {
    fn password(&self) -> BoxFuture<'_, Result<Option<String>, PasswordError>> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move { Ok(Some(format!("token-{n}"))) })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_source_is_asked_once_per_new_connection() {
    let server = PostgresServer::start();
    let mut config = config_for(&server);
    config.min_size = 0;
    config.max_size = 3;
    let source = Arc::new(CountingSource::default());
    let pool = AuroraPool::builder(config)
        .password_source(source.clone())
        .connect()
        .await
        .expect("connect");
    for _ in 0..5 {
        pool.query_one("SELECT 1", &[]).await.expect("query");
    }
    assert_eq!(
        source.calls.load(Ordering::SeqCst),
        1,
        "reused connection, no new password"
    );
    let held: Vec<_> = futures::future::join_all((0..3).map(|_| pool.writer_connection()))
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .expect("three connections");
    assert_eq!(
        source.calls.load(Ordering::SeqCst),
        3,
        "every new connection got a freshly generated password"
    );
    drop(held);
    assert_eq!(pool.stats().created, 3);
}

/// A secret store whose first answer is stale (the secret was rotated since).
#[derive(Debug)]
struct RotatingFetcher {
    /// The secret strings, or the messages of failed fetches, in order.
    answers: Vec<Result<String, String>>,
    calls: AtomicUsize,
}

impl SecretFetcher for RotatingFetcher {
    fn fetch(&self) -> BoxFuture<'_, Result<String, PasswordError>> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let answer = self.answers.get(n).or(self.answers.last()).cloned();
        Box::pin(async move {
            answer
                .unwrap_or_else(|| Err("no answers".to_owned()))
                .map_err(PasswordError::fetch)
        })
    }
}

/// Creates role `app` with password `new-secret` and makes the server require password
/// (SCRAM) authentication for it; everyone else keeps trust authentication.
async fn require_password_for_app(server: &PostgresServer) {
    let admin = admin(server).await;
    admin
        .batch_execute("CREATE ROLE app LOGIN PASSWORD 'new-secret'; GRANT pg_read_all_data TO app")
        .await
        .expect("role");
    // First match wins, so this line goes before initdb's trust lines.
    let hba_path = server.dir().join("data").join("pg_hba.conf");
    let hba = std::fs::read_to_string(&hba_path).expect("read hba");
    std::fs::write(
        &hba_path,
        format!("host all app 127.0.0.1/32 scram-sha-256\n{hba}"),
    )
    .expect("write hba");
    admin
        .batch_execute("SELECT pg_reload_conf()")
        .await
        .expect("reload");
    // The postmaster reloads asynchronously: wait until a wrong password is refused.
    let url = format!(
        "postgres://app:wrong@127.0.0.1:{}/postgres?sslmode=disable",
        server.port()
    );
    for _ in 0..500 {
        if tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .is_err()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("pg_hba.conf change not picked up");
}

/// A stand-in for the Secrets Manager endpoint on loopback: answers every request with
/// `status` and `body`, and hands the raw requests back.
async fn fake_secrets_manager(
    status: &'static str,
    body: String,
) -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "http://127.0.0.1:{}",
        listener.local_addr().expect("addr").port()
    );
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            // Read the headers, then as many body bytes as content-length says.
            loop {
                let n = socket.read(&mut buf).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&request).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length: "))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if request.len() >= end + 4 + length {
                        break;
                    }
                }
            }
            let _ = sender.send(String::from_utf8_lossy(&request).to_string());
            let response = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/x-amz-json-1.1\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
            let _ = socket.shutdown().await;
        }
    });
    (url, receiver)
}

fn test_credentials() -> SharedCredentialsProvider {
    SharedCredentialsProvider::new(Credentials::new(
        "AKIDTEST",
        "secret-key",
        Some("session-token".to_owned()),
        None,
        "test",
    ))
}

#[tokio::test]
async fn the_built_in_secrets_manager_fetcher_signs_and_parses() {
    let server = PostgresServer::start();
    require_password_for_app(&server).await;
    let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbC";
    let secret = serde_json::json!({
        "ARN": arn,
        "Name": "db",
        "SecretString": r#"{"username":"app","password":"new-secret"}"#,
    });
    let (endpoint, mut requests) = fake_secrets_manager("200 OK", secret.to_string()).await;
    let fetcher = aurora::auth::SecretsManagerFetcher::new(arn, "eu-west-1", test_credentials())
        .with_endpoint(&endpoint)
        .expect("loopback endpoint");
    let mut config = config_for(&server);
    config.user = "app".to_owned();
    config.password = aurora::PasswordConfig::SecretsManager {
        secret_id: arn.to_owned(),
        region: "eu-west-1".to_owned(),
    };
    let pool = AuroraPool::builder(config)
        .secret_fetcher(Arc::new(fetcher))
        .connect()
        .await
        .expect("connect with the fetched password");
    assert_eq!(current_user(&pool).await, "app");
    let request = requests.recv().await.expect("one request");
    assert!(request.starts_with("POST / HTTP/1.1\r\n"), "{request}");
    assert!(request.contains("x-amz-target: secretsmanager.GetSecretValue\r\n"));
    assert!(request.contains("content-type: application/x-amz-json-1.1\r\n"));
    assert!(request.contains("x-amz-security-token: session-token\r\n"));
    assert!(request.contains("authorization: AWS4-HMAC-SHA256 Credential=AKIDTEST/"));
    assert!(
        request.contains("/eu-west-1/secretsmanager/aws4_request, SignedHeaders="),
        "{request}"
    );
    // The SDK signs a few headers of its own (user agent, content length) besides these.
    let signed: Vec<&str> = request
        .split("SignedHeaders=")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_default()
        .split(';')
        .collect();
    for header in [
        "content-type",
        "host",
        "x-amz-date",
        "x-amz-security-token",
        "x-amz-target",
    ] {
        assert!(signed.contains(&header), "{header} not signed: {signed:?}");
    }
    assert!(
        request.ends_with(&format!("{{\"SecretId\":\"{arn}\"}}")),
        "{request}"
    );
    assert!(requests.try_recv().is_err(), "fetched once, then cached");

    let (endpoint, _requests) = fake_secrets_manager(
        "400 Bad Request",
        r#"{"__type":"ResourceNotFoundException","message":"can't find the specified secret."}"#
            .to_owned(),
    )
    .await;
    let fetcher =
        aurora::auth::SecretsManagerFetcher::new("missing", "eu-west-1", test_credentials())
            .with_endpoint(&endpoint)
            .expect("loopback endpoint");
    let mut config = config_for(&server);
    config.min_size = 0;
    config.retry.max_attempts = 1;
    let pool = AuroraPool::builder(config)
        .secret_fetcher(Arc::new(fetcher))
        .build()
        .expect("build");
    let error = pool
        .query("SELECT 1", &[])
        .await
        .expect_err("secret missing");
    match &error {
        AuroraError::Password(password_error)
            if matches!(**password_error, PasswordError::Fetch { .. }) =>
        {
            assert_eq!(
                password_error.service_code(),
                Some("ResourceNotFoundException")
            );
            assert!(
                error.to_string().contains("ResourceNotFoundException"),
                "{error}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

/// Against moto's Secrets Manager (the pinned `moto_server`, started by testkit).
#[tokio::test]
async fn secrets_manager_fetch_against_moto() {
    use aurora::auth::SecretFetcher;
    let moto = testkit::moto::MotoServer::start();
    let (status, body) = moto
        .aws_json(
            "secretsmanager",
            "secretsmanager.CreateSecret",
            r#"{"Name": "roadcall/db", "SecretString": "{\"password\":\"new-secret\"}"}"#,
        )
        .expect("create secret");
    assert_eq!(status, 200, "{body}");
    let endpoint = moto.endpoint();
    let credentials =
        SharedCredentialsProvider::new(Credentials::new("testing", "testing", None, None, "test"));
    let fetcher =
        aurora::auth::SecretsManagerFetcher::new("roadcall/db", "us-east-1", credentials.clone())
            .with_endpoint(&endpoint)
            .expect("endpoint");
    let secret = fetcher.fetch().await.expect("fetch from moto");
    assert_eq!(
        aurora::auth::password_from_secret(&secret).ok().as_deref(),
        Some("new-secret")
    );
    let missing = aurora::auth::SecretsManagerFetcher::new("nope", "us-east-1", credentials)
        .with_endpoint(&endpoint)
        .expect("endpoint");
    let error = missing.fetch().await.expect_err("missing secret");
    assert!(
        error.to_string().contains("ResourceNotFoundException"),
        "{error}"
    );
    assert_eq!(error.service_code(), Some("ResourceNotFoundException"));
}

#[tokio::test]
async fn a_rotated_secret_is_fetched_again_after_an_authentication_failure() {
    let server = PostgresServer::start();
    require_password_for_app(&server).await;

    let mut config = config_for(&server);
    config.user = "app".to_owned();
    config.min_size = 0;
    config.password = aurora::PasswordConfig::SecretsManager {
        secret_id: "arn:aws:secretsmanager:us-east-1:123456789012:secret:db".to_owned(),
        region: "us-east-1".to_owned(),
    };
    let fetcher = Arc::new(RotatingFetcher {
        answers: vec![
            Ok(r#"{"username":"app","password":"old-secret"}"#.to_owned()),
            Ok(r#"{"username":"app","password":"new-secret"}"#.to_owned()),
        ],
        calls: AtomicUsize::new(0),
    });
    let pool = AuroraPool::builder(config)
        .secret_fetcher(fetcher.clone())
        .connect()
        .await
        .expect("connect");
    assert_eq!(current_user(&pool).await, "app");
    assert_eq!(
        fetcher.calls.load(Ordering::SeqCst),
        2,
        "fetched, rejected, fetched again"
    );
    let _second = pool.writer_connection().await.expect("one");
    let _third = pool.writer_connection().await.expect("two");
    assert_eq!(
        fetcher.calls.load(Ordering::SeqCst),
        2,
        "cached while it works"
    );

    let mut broken = config_for(&server);
    broken.min_size = 0;
    broken.retry.max_attempts = 1;
    broken.password = aurora::PasswordConfig::SecretsManager {
        secret_id: "db".to_owned(),
        region: "us-east-1".to_owned(),
    };
    let failing = Arc::new(RotatingFetcher {
        answers: vec![Err("AccessDeniedException".to_owned())],
        calls: AtomicUsize::new(0),
    });
    let pool = AuroraPool::builder(broken)
        .secret_fetcher(failing)
        .build()
        .expect("build");
    let error = pool.query("SELECT 1", &[]).await.expect_err("no password");
    assert!(
        matches!(&error, AuroraError::Password(p) if matches!(**p, PasswordError::Fetch { .. })),
        "{error:?}"
    );
}

#[tokio::test]
async fn reads_use_the_reader_pool_when_configured() {
    let server = PostgresServer::start();
    let mut config = config_for(&server);
    // A second name for the same server plays the reader endpoint.
    config.reader_host = Some("localhost".to_owned());
    let pool = AuroraPool::connect(config).await.expect("connect");
    pool.query_one("SELECT 1", &[]).await.expect("read");
    let stats = pool.stats();
    let reader = stats.reader.expect("reader pool");
    assert!(reader.size >= 1);
    assert_eq!(stats.created, 2, "min_size on each pool");
}

/// A stand-in PostgreSQL server on loopback that asks every client for a clear-text
/// password, hands the password back and hangs up.
async fn password_recording_server() -> (u16, tokio::sync::mpsc::UnboundedReceiver<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let sender = sender.clone();
            tokio::spawn(async move {
                // StartupMessage: a length that counts itself, then the body.
                let length = socket.read_i32().await.unwrap_or(0);
                let mut startup = vec![0; usize::try_from(length - 4).unwrap_or(0)];
                if socket.read_exact(&mut startup).await.is_err() {
                    return;
                }
                // AuthenticationCleartextPassword.
                let _ = socket.write_all(&[b'R', 0, 0, 0, 8, 0, 0, 0, 3]).await;
                // PasswordMessage: 'p', a length, the password and a NUL.
                if socket.read_u8().await.ok() != Some(b'p') {
                    return;
                }
                let length = socket.read_i32().await.unwrap_or(0);
                let mut password = vec![0; usize::try_from(length - 4).unwrap_or(0)];
                if socket.read_exact(&mut password).await.is_ok() {
                    let text = String::from_utf8_lossy(&password);
                    let _ = sender.send(text.trim_end_matches('\0').to_owned());
                }
            });
        }
    });
    (port, receiver)
}

#[tokio::test]
async fn each_pool_signs_its_iam_tokens_for_its_own_host() {
    let (port, mut passwords) = password_recording_server().await;
    let config = AuroraConfig {
        host: "127.0.0.1".to_owned(),
        // Another name of the same listener plays the reader endpoint.
        reader_host: Some("localhost".to_owned()),
        port,
        user: "app".to_owned(),
        password: aurora::PasswordConfig::IamToken {
            region: "eu-west-1".to_owned(),
        },
        tls: aurora::TlsConfig {
            mode: SslMode::Disable,
            ..aurora::TlsConfig::default()
        },
        min_size: 0,
        retry: RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        },
        ..AuroraConfig::default()
    };
    let pool = AuroraPool::builder(config)
        .credentials_provider(test_credentials())
        .build()
        .expect("build");
    // The reader refuses (the stand-in hangs up), then the read falls back to the writer.
    pool.query("SELECT 1", &[])
        .await
        .expect_err("the stand-in never authenticates");
    let reader_token = passwords.recv().await.expect("the reader pool connected");
    let writer_token = passwords.recv().await.expect("the writer pool connected");
    assert!(
        reader_token.starts_with(&format!("localhost:{port}/?Action=connect&DBUser=app&")),
        "{reader_token}"
    );
    assert!(
        writer_token.starts_with(&format!("127.0.0.1:{port}/?Action=connect&DBUser=app&")),
        "{writer_token}"
    );
    for token in [&reader_token, &writer_token] {
        assert!(
            token.contains("X-Amz-Credential=AKIDTEST%2F")
                && token.contains("%2Feu-west-1%2Frds-db%2Faws4_request&")
                && token.contains("&X-Amz-Security-Token=session-token&"),
            "{token}"
        );
    }
}

#[tokio::test]
async fn the_global_pool_is_created_once() {
    let server = PostgresServer::start();
    let first = aurora::global_with(config_for(&server))
        .await
        .expect("global");
    let mut other = config_for(&server);
    other.max_size = 9;
    let second = aurora::global_with(other).await.expect("global again");
    assert!(std::ptr::eq(first, second));
    assert_eq!(second.config().max_size, 4, "the first configuration wins");
}
