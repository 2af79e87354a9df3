//! Criterion benches of the cache against a real local redis-server (started here).
//!
//! `CARGO_TARGET_DIR=/work/target-cache cargo bench -p cache --bench cache`
//!
//! * `hit/raw_get` vs `hit/get_or_load`: the cost cache-aside adds to a hit.
//!
//! The vendor index's benches are in `crates/vendors/benches/index.rs`.

use std::time::{Duration, Instant};

use cache::{Cache, CacheConfig};
use criterion::{Criterion, criterion_group, criterion_main};
use testkit::redis::RedisServer;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn config(server: &RedisServer) -> CacheConfig {
    CacheConfig {
        // Benches measure, they must not bypass: allow for a busy machine.
        command_timeout: Duration::from_secs(2),
        ..CacheConfig::with_url(server.url())
    }
}

fn hit_path(c: &mut Criterion) {
    let server = RedisServer::start();
    let rt = runtime();
    let cache = rt
        .block_on(Cache::connect(config(&server)))
        .expect("connect");
    let fam = cache.family("bench");
    let profile = testkit::fleet::fleet(1, 1, 10.0, 6).remove(0).name;
    let raw_key = rt.block_on(async {
        let p = profile.clone();
        fam.get_or_load("v1", Duration::from_secs(3600), move || async move {
            Ok::<_, std::convert::Infallible>(Some(p))
        })
        .await
        .expect("warm");
        fam.key("v1").await.expect("key")
    });
    // Criterion runs the two functions a few seconds apart, and on a machine shared with
    // compilers the load changes in between; alternating them call by call gives a ratio
    // that load drift cannot skew.
    let (raw, aside) = rt.block_on(async {
        let (mut raw, mut aside) = (Vec::new(), Vec::new());
        for _ in 0..20_000 {
            let start = Instant::now();
            std::hint::black_box(cache.client().get_bytes(&raw_key).await.expect("get"));
            raw.push(start.elapsed().as_nanos());
            let start = Instant::now();
            let got = fam
                .get_or_load("v1", Duration::from_secs(3600), || async {
                    Ok::<Option<String>, std::convert::Infallible>(None)
                })
                .await
                .expect("infallible");
            aside.push(start.elapsed().as_nanos());
            assert_eq!(got.outcome, cache::CacheOutcome::Hit);
        }
        (raw, aside)
    });
    let median = |mut v: Vec<u128>| {
        v.sort_unstable();
        v[v.len() / 2]
    };
    let (raw_p50, aside_p50) = (median(raw), median(aside));
    println!(
        "hit, interleaved x20000: raw GET p50 {:.1} us, get_or_load p50 {:.1} us, ratio {:.2}",
        raw_p50 as f64 / 1000.0,
        aside_p50 as f64 / 1000.0,
        aside_p50 as f64 / raw_p50 as f64
    );

    let mut group = c.benchmark_group("hit");
    group
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    group.bench_function("raw_get", |b| {
        b.to_async(&rt).iter(|| async {
            cache
                .client()
                .get_bytes(&raw_key)
                .await
                .expect("get")
                .expect("present")
        })
    });
    group.bench_function("get_or_load", |b| {
        b.to_async(&rt).iter(|| async {
            let got = fam
                .get_or_load("v1", Duration::from_secs(3600), || async {
                    Ok::<Option<String>, std::convert::Infallible>(None)
                })
                .await
                .expect("infallible");
            assert_eq!(got.outcome, cache::CacheOutcome::Hit);
            got
        })
    });
    group.finish();
}

criterion_group!(benches, hit_path);
criterion_main!(benches);
