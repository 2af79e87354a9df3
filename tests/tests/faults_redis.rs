//! Redis failing under steady load: the cache is optional, so answers only get slower
//! (`X-Cache: BYPASS`), never fail, and the cache comes back without serving stale data.
//! Only loopback servers started by the test are touched; every loop is bounded.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::{App, RedisKind, Sample, print_figures, secs};

const RATE: u32 = 100;
const RUN: Duration = Duration::from_secs(15);
const KILL_AT: Duration = Duration::from_secs(4);
const RESTART_AT: Duration = Duration::from_secs(8);

fn first_at(
    samples: &[Sample],
    after: Duration,
    pred: impl Fn(&Sample) -> bool,
) -> Option<Duration> {
    samples
        .iter()
        .filter(|s| s.at >= after && pred(s))
        .map(|s| s.at)
        .min()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_killed_under_load_bypasses_then_resumes_without_stale_data() {
    let mut app = App::start(RedisKind::Standalone, &[]).await;
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(
            app.vendor(
                &format!("Tow {i}"),
                &["tow"],
                34.05 + f64::from(i) * 0.001,
                -118.24,
            )
            .await,
        );
    }
    // The vendor updated while Redis is down; it is read by the load too, so an old
    // cached copy would show up as a HIT with the old name.
    let watched = ids[0].clone();
    app.load_index().await;
    for id in &ids {
        app.warm_profile(id).await;
    }

    let start = Instant::now();
    let (base, http, load_ids) = (app.base.clone(), app.http.clone(), ids.clone());
    let load = tokio::spawn(support::open_load(start, RATE, RUN, move |i| {
        if i % 4 == 3 {
            let url = format!("{base}/vendors/search?lat=34.05&lon=-118.24&radius=5&limit=5");
            ("search", http.get(url))
        } else {
            let id = &load_ids[(i as usize) % load_ids.len()];
            ("get", http.get(format!("{base}/vendors/{id}")))
        }
    }));

    tokio::time::sleep_until((start + KILL_AT).into()).await;
    tokio::task::block_in_place(|| app.redis.as_mut().unwrap().stop());
    let killed = start.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, _, body) = app
        .call(
            "PUT",
            &format!("/vendors/{watched}"),
            Some(
                json!({"businessName": "Renamed While Redis Was Down", "capabilities": ["tow"],
                        "location": {"lat": 34.05, "lon": -118.24}, "rating": 4.5}),
            ),
        )
        .await;
    assert_eq!(
        status, 200,
        "writes go to PostgreSQL while Redis is down: {body}"
    );
    tokio::time::sleep_until((start + RESTART_AT).into()).await;
    tokio::task::block_in_place(|| app.redis.as_mut().unwrap().restart());
    let restarted = start.elapsed();
    let samples = load.await.unwrap();

    let failed: Vec<&Sample> = samples.iter().filter(|s| !s.ok()).collect();
    assert!(
        failed.is_empty(),
        "{} failed requests, first: {:?}",
        failed.len(),
        failed.first()
    );

    // Every request sent from one second after the kill until the restart answered from
    // PostgreSQL; the measured switch time is printed.
    let late_non_bypass: Vec<&Sample> = samples
        .iter()
        .filter(|s| {
            s.at >= killed + Duration::from_secs(1) && s.end() <= restarted && s.cache != "BYPASS"
        })
        .collect();
    assert!(
        late_non_bypass.is_empty(),
        "not BYPASS within a second of the kill: {:?}",
        late_non_bypass.first()
    );
    let bypass_after = first_at(&samples, killed, |s| s.cache == "BYPASS").map(|t| t - killed);

    // Hits resume after the restart, and no HIT ever carries the old name.
    let hit_after = first_at(&samples, restarted, |s| s.kind == "get" && s.cache == "HIT")
        .map(|t| t - restarted);
    assert!(hit_after.is_some(), "no cache hit after Redis restarted");
    for s in samples.iter().filter(|s| s.at > killed && s.kind == "get") {
        if s.body["vendorId"] == watched.as_str() && s.end() > restarted {
            assert_eq!(
                s.body["businessName"], "Renamed While Redis Was Down",
                "stale vendor served after the restart ({}): {}",
                s.cache, s.body
            );
        }
    }
    let (_, cache, body) = app.call("GET", &format!("/vendors/{watched}"), None).await;
    assert_eq!(
        body["businessName"], "Renamed While Redis Was Down",
        "{cache}"
    );
    let searches_hit_after = first_at(&samples, restarted, |s| {
        s.kind == "search" && (s.cache == "HIT" || s.cache == "MISS")
    })
    .map(|t| t - restarted);

    print_figures(
        "redis_killed_under_load",
        &format!(
            "{RATE} req/s for {}s (3/4 GET /vendors/{{id}}, 1/4 search)",
            RUN.as_secs()
        ),
        &format!(
            "redis-server SIGKILL at {}, restarted empty at {}",
            secs(killed),
            secs(restarted)
        ),
        &samples,
        &format!(
            "bypass {} after kill; first profile HIT {} after restart; first non-BYPASS search {} after restart",
            bypass_after.map(secs).unwrap_or_default(),
            hit_after.map(secs).unwrap_or_default(),
            searches_hit_after.map(secs).unwrap_or("none".into()),
        ),
    );
}

/// Kills a master of a 3-master, 3-replica cluster under load: no request fails, and once
/// a replica is promoted (and the breaker's cool-off is over) every profile is a HIT again.
async fn cluster_failover() {
    let mut app = App::start(
        RedisKind::Cluster {
            masters: 3,
            replicas: 1,
        },
        &[],
    )
    .await;
    let mut ids = Vec::new();
    for i in 0..30 {
        ids.push(
            app.vendor(
                &format!("Fuel {i}"),
                &["fuel"],
                41.88 + f64::from(i) * 0.001,
                -87.63,
            )
            .await,
        );
    }
    app.load_index().await;
    for id in &ids {
        app.warm_profile(id).await;
    }
    // A replica that has not finished its first sync (Redis delays a diskless sync by 5 s)
    // refuses to take over; wait until every replica is in sync, as in production.
    let synced = tokio::task::block_in_place(|| {
        let cluster = app.cluster.as_ref().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let all = cluster.nodes().iter().all(|n| {
                let info = n.cli(&["info", "replication"]);
                info.contains("role:master") || info.contains("master_link_status:up")
            });
            if all {
                return true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        false
    });
    assert!(synced, "replicas did not sync within 20 s");

    let rate = 60;
    let run = Duration::from_secs(15);
    let start = Instant::now();
    let (base, http, load_ids) = (app.base.clone(), app.http.clone(), ids.clone());
    let load = tokio::spawn(support::open_load(start, rate, run, move |i| {
        if i % 5 == 4 {
            let url =
                format!("{base}/vendors/search?lat=41.88&lon=-87.63&radius=5&capability=fuel");
            ("search", http.get(url))
        } else {
            let id = &load_ids[(i as usize) % load_ids.len()];
            ("get", http.get(format!("{base}/vendors/{id}")))
        }
    }));

    tokio::time::sleep_until((start + Duration::from_secs(4)).into()).await;
    // Node 0 is a master (the cluster is created masters first).
    tokio::task::block_in_place(|| app.cluster.as_mut().unwrap().kill_node(0));
    let killed = start.elapsed();
    // Failover: cluster-node-timeout is 2 s, then a replica is elected; done when a live
    // node sees three healthy masters again.
    let promoted = tokio::task::block_in_place(|| {
        let cluster = app.cluster.as_ref().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let nodes = cluster.nodes()[1].cli(&["cluster", "nodes"]);
            let healthy_masters = nodes
                .lines()
                .filter(|l| l.contains("master") && !l.contains("fail"))
                .count();
            if healthy_masters == 3 && nodes.contains("fail") {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    });
    assert!(promoted, "no replica was promoted within 20 s");
    let failed_over = start.elapsed();
    let samples = load.await.unwrap();

    // After the load (well past the failover and the breaker's cool-off), poll every
    // vendor for up to 12 s and keep what the cache answered.
    let mut outcomes: std::collections::BTreeMap<String, usize> = Default::default();
    let mut resumed = false;
    let deadline = Instant::now() + Duration::from_secs(12);
    while !resumed && Instant::now() < deadline {
        let mut all_hit = true;
        for id in &ids {
            let (status, cache, _) = app.call("GET", &format!("/vendors/{id}"), None).await;
            assert_eq!(status, 200);
            *outcomes.entry(cache.clone()).or_default() += 1;
            all_hit &= cache == "HIT";
        }
        resumed = all_hit;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let bypassed = samples.iter().filter(|s| s.cache == "BYPASS").count();
    let last_bypass = samples
        .iter()
        .filter(|s| s.cache == "BYPASS")
        .map(|s| s.at)
        .max();
    print_figures(
        "redis_cluster_master_killed",
        &format!(
            "{rate} req/s for {}s (4/5 GET /vendors/{{id}}, 1/5 search), 3 masters + 3 replicas",
            run.as_secs()
        ),
        &format!("master node SIGKILL at {}", secs(killed)),
        &samples,
        &format!(
            "replica promoted {} after kill; {bypassed} BYPASS answers, last sent {} after kill; \
             after the run: every profile HIT again = {resumed}, answers {outcomes:?}",
            secs(failed_over - killed),
            last_bypass
                .map(|t| secs(t.saturating_sub(killed)))
                .unwrap_or("none".into()),
        ),
    );

    let failed: Vec<&Sample> = samples.iter().filter(|s| !s.ok()).collect();
    assert!(
        failed.is_empty(),
        "{} failed requests, first: {:?}",
        failed.len(),
        failed.first()
    );
    assert!(
        resumed,
        "the cache never served hits again after the failover: {outcomes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_cluster_master_killed_under_load_keeps_answering_and_hits_resume() {
    cluster_failover().await;
}

/// Vendor-wing finding 6: while Redis hangs (SIGSTOP: connections open, nothing answered),
/// searches go through the circuit breaker like every other command. After a few timeouts
/// the breaker opens and searches answer from PostgreSQL without sending Redis anything:
/// counted by what the frozen server finds queued when it resumes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searches_during_a_redis_hang_stop_asking_it_once_the_breaker_opens() {
    let app = App::start(RedisKind::Standalone, &[]).await;
    let id = app.vendor("Hung Tow", &["tow"], 34.05, -118.24).await;
    app.load_index().await;
    let redis = app.redis.as_ref().expect("standalone redis");
    redis.cli(&["CONFIG", "RESETSTAT"]);
    redis.pause();
    const SEARCHES: usize = 60;
    for i in 0..SEARCHES {
        // A different centre each time: every search asks the index, none reuses an answer.
        let lat = 34.05 + 0.0001 * i as f64;
        let (status, cache, body) = app
            .call(
                "GET",
                &format!("/vendors/search?lat={lat}&lon=-118.24&radius=10&capability=tow"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(cache, "BYPASS", "search {i} during the hang");
        let found: Vec<&str> = body["vendors"]
            .as_array()
            .expect("vendors")
            .iter()
            .filter_map(|v| v["vendorId"].as_str())
            .collect();
        assert_eq!(found, [id.as_str()], "search {i} answers from PostgreSQL");
    }
    redis.resume();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stats = redis.cli(&["INFO", "commandstats"]);
    let sent: u64 = stats
        .lines()
        .filter(|l| l.starts_with("cmdstat_") && !l.starts_with("cmdstat_info:"))
        .filter(|l| !l.starts_with("cmdstat_config:"))
        .filter_map(|l| {
            l.split("calls=")
                .nth(1)?
                .split(',')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum();
    // The breaker opens after 5 failures; a cool-off of 5 s allows a probe or two more.
    assert!(
        sent <= 12,
        "{sent} commands reached the hung Redis for {SEARCHES} searches:\n{stats}"
    );
}
