//! Migrations and schema constraints against a real PostgreSQL.

use std::time::Duration;

use aurora::{AuroraConfig, AuroraError, AuroraPool};
use testkit::postgres::PostgresServer;

async fn migrated_pool(server: &PostgresServer) -> AuroraPool {
    let mut config = AuroraConfig::from_url(&server.url()).expect("url");
    config.min_size = 1;
    config.wait_timeout = Duration::from_secs(10);
    let pool = AuroraPool::connect(config).await.expect("connect");
    pool.migrate().await.expect("migrate");
    pool
}

async fn exec(pool: &AuroraPool, sql: &str) -> Result<u64, AuroraError> {
    pool.execute(sql, &[]).await
}

#[tokio::test]
async fn migrations_are_idempotent() {
    let server = PostgresServer::start();
    let mut config = AuroraConfig::from_url(&server.url()).expect("url");
    config.min_size = 1;
    let pool = AuroraPool::connect(config).await.expect("connect");
    let first = pool.migrate().await.expect("first run");
    let all: Vec<String> = aurora::embedded_migrations()
        .iter()
        .map(|(version, name)| format!("V{version}__{name}"))
        .collect();
    assert_eq!(first.applied, all);
    assert_eq!(first.applied[0], "V1__initial_schema");
    let last = aurora::embedded_migrations().last().expect("migrations").0;
    assert_eq!(first.current_version, last);
    let second = pool.migrate().await.expect("second run");
    assert!(second.applied.is_empty(), "{second:?}");
    assert_eq!(second.current_version, last);
    // Concurrent runs serialize on the advisory lock.
    let (a, b) = tokio::join!(pool.migrate(), pool.migrate());
    assert!(a.expect("a").applied.is_empty() && b.expect("b").applied.is_empty());
    for table in [
        "vendors",
        "incidents",
        "payments",
        "payment_line_items",
        "payment_audit_log",
        "idempotency_keys",
    ] {
        let row = pool
            .query_one("SELECT to_regclass($1)::text", &[&table])
            .await
            .expect("regclass");
        assert_eq!(row.get::<_, Option<String>>(0).as_deref(), Some(table));
    }
}

#[tokio::test]
async fn schema_constraints_hold() {
    let server = PostgresServer::start();
    let pool = migrated_pool(&server).await;
    exec(
        &pool,
        "INSERT INTO vendors (id, business_name, capabilities, lat, lon, availability) VALUES \
         ('v1', 'Acme Towing', '{tow,jumpstart}', 40.7, -74.0, 'available'), \
         ('v2', 'Far Away Tires', '{tire}', 51.5, -0.1, 'available')",
    )
    .await
    .expect("vendors");
    let violation = |sql: &'static str, code: &'static str| {
        let pool = pool.clone();
        async move {
            let error = exec(&pool, sql).await.expect_err(sql);
            assert_eq!(error.sqlstate(), Some(code), "{sql}: {error}");
        }
    };
    violation(
        "INSERT INTO vendors (id, business_name, lat, lon) VALUES ('x', 'n', 91, 0)",
        "23514",
    )
    .await;
    violation(
        "INSERT INTO vendors (id, business_name, lat, lon) VALUES ('x', 'n', 0, -180.5)",
        "23514",
    )
    .await;
    violation(
        "INSERT INTO vendors (id, business_name, capabilities, lat, lon) VALUES ('x', 'n', '{plumbing}', 0, 0)",
        "23514",
    )
    .await;
    violation("INSERT INTO vendors (id, business_name, lat, lon, availability) VALUES ('x', 'n', 0, 0, 'asleep')", "23514").await;
    // Busy only with a current incident.
    violation(
        "UPDATE vendors SET availability = 'busy' WHERE id = 'v1'",
        "23514",
    )
    .await;
    violation(
        "INSERT INTO incidents (id, driver_id, incident_type, lat, lon) VALUES ('i', 'd', 'flight', 0, 0)",
        "23514",
    )
    .await;
    exec(
        &pool,
        "INSERT INTO incidents (id, driver_id, incident_type, lat, lon, description) \
         VALUES ('i1', 'd1', 'tow', 40.71, -74.01, 'flat on the bridge')",
    )
    .await
    .expect("incident");
    // Busy with an incident is fine (matched in one transaction).
    pool.transaction(|tx| {
        Box::pin(async move {
            tx.execute(
                "UPDATE incidents SET status = 'matched', matched_vendor_id = 'v1' WHERE id = 'i1'",
                &[],
            )
            .await?;
            Ok(tx
                .execute(
                    "UPDATE vendors SET availability = 'busy', current_incident_id = 'i1' WHERE id = 'v1'",
                    &[],
                )
                .await?)
        })
    })
    .await
    .expect("match");
    violation(
        "UPDATE incidents SET matched_vendor_id = NULL WHERE id = 'i1'",
        "23514",
    )
    .await;

    violation(
        "INSERT INTO payments (id, incident_id, vendor_id, amount_cents, currency) VALUES ('p0', 'i1', 'v1', 0, 'USD')",
        "23514",
    )
    .await;
    violation(
        "INSERT INTO payments (id, incident_id, vendor_id, amount_cents, currency) VALUES ('p0', 'i1', 'v1', 100, 'usd')",
        "23514",
    )
    .await;
    // A payment without line items adding up is rejected at COMMIT.
    violation(
        "INSERT INTO payments (id, incident_id, vendor_id, amount_cents, currency) VALUES ('p0', 'i1', 'v1', 100, 'USD')",
        "23514",
    )
    .await;
    let mismatch = pool
        .transaction(|tx| {
            Box::pin(async move {
                tx.batch_execute(
                    "INSERT INTO payments (id, incident_id, vendor_id, amount_cents, currency) \
                       VALUES ('p1', 'i1', 'v1', 7500, 'USD'); \
                     INSERT INTO payment_line_items (payment_id, description, amount_cents) \
                       VALUES ('p1', 'tow', 5000), ('p1', 'mileage', 2000)",
                )
                .await?;
                Ok(())
            })
        })
        .await
        .expect_err("7000 != 7500");
    assert_eq!(mismatch.sqlstate(), Some("23514"), "{mismatch}");
    pool.transaction(|tx| {
        Box::pin(async move {
            tx.batch_execute(
                "INSERT INTO payments (id, incident_id, vendor_id, amount_cents, currency) \
                   VALUES ('p1', 'i1', 'v1', 7500, 'USD'); \
                 INSERT INTO payment_line_items (payment_id, description, amount_cents) \
                   VALUES ('p1', 'tow', 5000), ('p1', 'mileage', 2500); \
                 INSERT INTO payment_audit_log (payment_id, event, detail) \
                   VALUES ('p1', 'created', '{\"by\": \"test\"}'); \
                 INSERT INTO idempotency_keys (key, request_hash, payment_id) \
                   VALUES ('key-1', 'sha256:abc', 'p1')",
            )
            .await?;
            Ok(())
        })
    })
    .await
    .expect("consistent payment (the sum is checked at commit)");
    violation("INSERT INTO payment_line_items (payment_id, description, amount_cents) VALUES ('p1', 'tip', -5)", "23514").await;
    violation(
        "UPDATE payment_line_items SET amount_cents = 1 WHERE description = 'tow'",
        "23514",
    )
    .await;
    violation(
        "INSERT INTO idempotency_keys (key, request_hash) VALUES ('key-1', 'other')",
        "23505",
    )
    .await;
    violation("UPDATE payment_audit_log SET event = 'edited'", "42501").await;
    violation("DELETE FROM payment_audit_log", "42501").await;

    // Bounding-box search around New York finds v1 only.
    let rows = pool
        .query(
            "SELECT id FROM vendors WHERE lat BETWEEN $1 AND $2 AND lon BETWEEN $3 AND $4 ORDER BY id",
            &[&40.0_f64, &41.0_f64, &-75.0_f64, &-73.0_f64],
        )
        .await
        .expect("bbox");
    let ids: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(ids, vec!["v1".to_owned()]);
    let rows = pool
        .query(
            "SELECT id FROM vendors WHERE point(lon, lat) <@ box(point($1, $2), point($3, $4))",
            &[&-1.0_f64, &51.0_f64, &1.0_f64, &52.0_f64],
        )
        .await
        .expect("gist bbox");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, String>(0), "v2");
}
