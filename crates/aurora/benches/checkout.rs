//! Pool checkout overhead: `SELECT 1` through the pool vs on a raw connection, and a bare
//! checkout. Starts its own postgres via the test kit. Run:
//! `CARGO_TARGET_DIR=/work/target-aurora cargo bench -p aurora --bench checkout`

use std::time::Duration;

use aurora::{AuroraConfig, AuroraPool};
use criterion::{Criterion, criterion_group, criterion_main};
use testkit::postgres::PostgresServer;

fn checkout(c: &mut Criterion) {
    let server = PostgresServer::start();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let pool = runtime.block_on(async {
        let mut config = AuroraConfig::from_url(&server.url()).expect("url");
        config.min_size = 1;
        config.max_size = 2;
        AuroraPool::connect(config).await.expect("pool")
    });
    let raw = runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(&server.url(), tokio_postgres::NoTls)
            .await
            .expect("raw connection");
        tokio::spawn(connection);
        client
    });
    let mut group = c.benchmark_group("aurora");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("raw_connection_select_1", |b| {
        b.to_async(&runtime).iter(|| async {
            raw.query_one("SELECT 1", &[]).await.expect("select");
        });
    });
    group.bench_function("pool_query_one_select_1", |b| {
        b.to_async(&runtime).iter(|| async {
            pool.query_one("SELECT 1", &[]).await.expect("select");
        });
    });
    group.bench_function("pool_checkout_only", |b| {
        b.to_async(&runtime).iter(|| async {
            drop(pool.writer_connection().await.expect("checkout"));
        });
    });
    group.finish();
}

criterion_group!(benches, checkout);
criterion_main!(benches);
