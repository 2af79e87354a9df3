//! The vendor wing's promises under races and faults, against real PostgreSQL and Redis:
//! the database is the truth, and no search offers a vendor whose committed state does not
//! match. Each test names the finding of the vendor-wing issue it guards.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};
use support::App;
use testkit::postgres::PostgresServer;

fn ids(body: &Value) -> Vec<String> {
    body["vendors"]
        .as_array()
        .expect("vendors")
        .iter()
        .map(|v| v["vendorId"].as_str().expect("id").to_owned())
        .collect()
}

async fn db_status(app: &App, id: &str) -> String {
    app.state
        .db
        .query_one("SELECT availability FROM vendors WHERE id = $1", &[&id])
        .await
        .expect("row")
        .get(0)
}

/// Finding 1: a miss that refills a profile while a write commits must not leave the old
/// state in the cache. Many rounds of "entry gone, 4 reads and 1 write at once".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refill_racing_a_write_never_leaves_the_older_state_cached() {
    let app = App::standalone().await;
    let id = app.vendor("Racy Tow", &["tow"], 34.05, -118.24).await;
    app.load_index().await;
    let family = app
        .state
        .cache
        .as_ref()
        .unwrap()
        .family(vendors::PROFILE_FAMILY);
    let search = "/vendors/search?lat=34.05&lon=-118.24&radius=5&capability=tow";
    for round in 0..150 {
        let next = if round % 2 == 0 {
            "offline"
        } else {
            "available"
        };
        family.invalidate(&id).await.expect("invalidate");
        let (path, patch) = (
            format!("/vendors/{id}"),
            format!("/vendors/{id}/availability"),
        );
        let reads = (0..4).map(|_| app.get(&path));
        let write = app.send("PATCH", &patch, json!({ "status": next }));
        let (_, written) = tokio::join!(futures::future::join_all(reads), write);
        assert_eq!(written.0, 200, "{}", written.2);
        let truth = db_status(&app, &id).await;
        assert_eq!(truth, next);
        // Every later read, from the cache or not, shows the truth.
        let (_, cache, body) = app.get(&format!("/vendors/{id}")).await;
        assert_eq!(
            body["availability"]["status"], truth,
            "round {round}: cache {cache} shows an older state than PostgreSQL"
        );
        let (_, _, found) = app.get(search).await;
        assert_eq!(
            ids(&found).contains(&id),
            truth == "available",
            "round {round}: search disagrees with PostgreSQL ({truth})"
        );
    }
}

/// Findings 3 and 4: a lost index key (what an `allkeys-*` eviction takes) or another
/// deployment's index on the same Redis never makes a search trust what is not there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_index_key_or_a_neighbour_deployment_sends_searches_to_postgres() {
    let app = App::standalone().await;
    let mut created = Vec::new();
    for i in 0..12 {
        created.push(
            app.vendor(
                &format!("Tow {i}"),
                &["tow"],
                40.0 + f64::from(i) * 0.01,
                -75.0,
            )
            .await,
        );
    }
    app.load_index().await;
    let q = "/vendors/search?lat=40.05&lon=-75&radius=30&capability=tow&limit=100";
    let (_, cache, body) = app.get(q).await;
    assert_eq!((cache.as_str(), ids(&body).len()), ("MISS", 12), "{body}");

    // The geo set of available tow vendors disappears, as an eviction would take it.
    let tag = app.state.vendors.index().unwrap().tag().to_owned();
    let status = app.state.vendors.index_status().await.expect("status");
    let generation = status.generation.expect("live generation");
    app.redis_server()
        .cli(&["DEL", &format!("{tag}:{generation}:g:available:tow")]);
    let (_, cache, body) = app.get(q).await;
    assert_eq!(
        ids(&body).len(),
        12,
        "answered from PostgreSQL: {cache} {body}"
    );
    // An incident placed at a vendor is matched (the index is not trusted to say "none").
    let (status, _, incident) = app
        .send(
            "POST",
            "/incidents",
            json!({"driverId": "d-evicted", "type": "tow", "location": {"lat": 40.0, "lon": -75.0}}),
        )
        .await;
    assert_eq!(status, 201, "{incident}");
    assert_eq!(
        incident["match"]["vendorId"],
        created[0].as_str(),
        "{incident}"
    );

    // A second deployment on the same Redis with another key prefix and its own database
    // (with one vendor, and no index built): it must not read the first one's index.
    let postgres = PostgresServer::start();
    let (db_url, redis_url) = (postgres.url(), app.redis_server().url());
    let config = lambdas::config::AppConfig::from_lookup(|name| match name {
        "DATABASE_URL" => Some(db_url.clone()),
        "REDIS_URL" => Some(redis_url.clone()),
        "REDIS_KEY_PREFIX" => Some("other".to_owned()),
        "REDIS_COMMAND_TIMEOUT_MS" => Some("1000".to_owned()),
        _ => None,
    })
    .expect("config");
    let other = lambdas::state::AppState::connect(config)
        .await
        .expect("connect");
    other.db.migrate().await.expect("migrate");
    let router = lambdas::router::app(other.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let response = app
        .http
        .post(format!("{base}/vendors"))
        .json(&json!({"businessName": "Neighbour Tow", "capabilities": ["tow"], "location": {"lat": 40.0, "lon": -75.0}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let body: Value = app
        .http
        .get(format!("{base}{q}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        ids(&body).len(),
        1,
        "the neighbour's own vendor, from its own truth: {body}"
    );
    assert_ne!(
        other.vendors.index().unwrap().tag(),
        tag,
        "key prefixes keep the indexes apart"
    );
}

/// Finding 5: a vendor beyond Redis's latitude limit neither breaks the rebuild nor
/// disappears: searches that could reach it go to PostgreSQL.
#[tokio::test]
async fn a_polar_vendor_does_not_break_the_index_and_is_still_found() {
    let app = App::standalone().await;
    let polar = app.vendor("Polar Tow", &["tow"], 89.5, 10.0).await;
    let city = app.vendor("City Tow", &["tow"], 51.5, -0.12).await;
    app.load_index().await;
    let status = app.state.vendors.index_status().await.expect("status");
    assert!(status.complete, "{status:?}");
    assert_eq!(status.vendors_indexed, 2);
    let (_, _, body) = app
        .get("/vendors/search?lat=89.9&lon=0&radius=50&capability=tow")
        .await;
    assert_eq!(ids(&body), vec![polar.clone()], "{body}");
    let (_, cache, body) = app
        .get("/vendors/search?lat=51.5&lon=-0.12&radius=10&capability=tow")
        .await;
    assert_eq!((cache.as_str(), ids(&body)), ("MISS", vec![city]), "{body}");
}

/// Finding 8: a vendor 4 miles away across the antimeridian is found by the index too.
#[tokio::test]
async fn the_index_finds_vendors_across_the_antimeridian() {
    let app = App::standalone().await;
    let east = app.vendor("Fiji Tow", &["tow"], -16.5, 179.97).await;
    app.load_index().await;
    let (_, cache, body) = app
        .get("/vendors/search?lat=-16.5&lon=-179.97&radius=10&capability=tow")
        .await;
    assert_eq!((cache.as_str(), ids(&body)), ("MISS", vec![east]), "{body}");
    let miles = body["vendors"][0]["distanceMiles"].as_f64().unwrap();
    assert!((3.0..5.0).contains(&miles), "{miles}");
}

/// Finding 7: illegal transitions are refused with a 409 naming the field; a vendor busy
/// on one incident cannot take another.
#[tokio::test]
async fn illegal_availability_transitions_are_409s() {
    let app = App::standalone().await;
    let a = app.vendor("A Tow", &["tow"], 30.0, -90.0).await;
    let b = app.vendor("B Tow", &["tow"], 30.001, -90.0).await;
    let (status, _, incident) = app
        .send(
            "POST",
            "/incidents",
            json!({"driverId": "d-1", "type": "tow", "location": {"lat": 30.0, "lon": -90.0}}),
        )
        .await;
    assert_eq!(status, 201, "{incident}");
    let taken = incident["incidentId"].as_str().unwrap().to_owned();
    assert_eq!(incident["match"]["vendorId"], a.as_str());
    // B cannot become busy on A's incident; A cannot go busy on another.
    let (status, _, body) = app
        .send(
            "PATCH",
            &format!("/vendors/{b}/availability"),
            json!({"status": "busy", "incidentId": taken}),
        )
        .await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (409, &json!("incidentId")),
        "{body}"
    );
    let (status, _, body) = app
        .send(
            "PATCH",
            &format!("/vendors/{b}/availability"),
            json!({"status": "offline"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = app
        .send(
            "PATCH",
            &format!("/vendors/{b}/availability"),
            json!({"status": "busy", "incidentId": taken}),
        )
        .await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (409, &json!("status")),
        "{body}"
    );
}

/// Finding 9: one rebuild per fleet: a second environment that asks while the first holds
/// the lease is told so, and does not load the table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_rebuild_per_fleet() {
    let app = App::standalone().await;
    lambdas::db::vendors::insert_many(&app.state.db, &lambdas::seed::vendors(3000, 7))
        .await
        .expect("seed");
    // Another environment: same database and Redis, its own process state.
    let other = lambdas::state::AppState::with_parts(
        app.state.db.clone(),
        app.state.cache.clone(),
        (*app.state.config).clone(),
    );
    let (first, second) = tokio::join!(app.state.vendors.rebuild_index(), async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        other.vendors.rebuild_index().await
    });
    let results = [first, second];
    let built = results.iter().filter(|r| r.is_ok()).count();
    let busy = results
        .iter()
        .filter(|r| matches!(r, Err(vendors::BuildError::Busy)))
        .count();
    assert_eq!((built, busy), (1, 1), "{results:?}");
    let status = app.state.vendors.index_status().await.expect("status");
    assert!(
        status.complete && status.vendors_indexed == 3000,
        "{status:?}"
    );
}

/// The in-process profile tier: this environment's writes are seen at once; another
/// environment's within `VENDOR_PROFILE_LOCAL_TTL_MS`, its stated bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_process_profile_tier_keeps_its_staleness_bound() {
    let app = App::standalone().await;
    let id = app.vendor("Local Tow", &["tow"], 33.0, -97.0).await;
    let environment = |ttl_ms: &str| {
        let mut config = (*app.state.config).clone();
        config.vendors.profile_local_ttl = Duration::from_millis(ttl_ms.parse().unwrap());
        lambdas::state::AppState::with_parts(app.state.db.clone(), app.state.cache.clone(), config)
    };
    let (reader, writer) = (environment("300"), environment("0"));
    let read = |state: lambdas::state::AppState, id: String| async move {
        let got = state.vendors.profile(&id).await.expect("profile");
        let doc: Value = serde_json::from_str(got.value.expect("found").as_str()).unwrap();
        (
            got.outcome,
            doc["availability"]["status"].as_str().unwrap().to_owned(),
        )
    };
    read(reader.clone(), id.clone()).await; // MISS: fills Redis
    read(reader.clone(), id.clone()).await; // HIT from Redis: kept in process
    // Its own write: evicted at once.
    let row =
        lambdas::db::vendors::set_location(&app.state.db, &id, vendors::GeoPoint::new(33.1, -97.0))
            .await
            .unwrap()
            .unwrap();
    reader.vendors.committed(&[row]).await;
    let (outcome, _) = read(reader.clone(), id.clone()).await;
    assert_eq!(
        outcome,
        vendors::CacheOutcome::Miss,
        "own write seen at once"
    );
    read(reader.clone(), id.clone()).await;
    // Another environment's write: seen within the bound.
    let change = lambdas::db::vendors::set_availability(
        &app.state.db,
        &id,
        &vendors::Availability::offline(),
    )
    .await
    .unwrap();
    let lambdas::db::vendors::AvailabilityChange::Changed(row) = change else {
        panic!("{change:?}");
    };
    writer.vendors.committed(&[row]).await;
    tokio::time::sleep(Duration::from_millis(350)).await;
    let (_, status) = read(reader.clone(), id.clone()).await;
    assert_eq!(status, "offline", "older than the bound");
}

/// The result tier shares one confirmation among concurrent repeats of a search: a search
/// that begins after a write answered must still see that write. Many rounds of 12 clients
/// repeating one search while the vendor in it goes offline and back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_repeats_of_a_kept_search_never_outlive_a_write_that_answered() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio::time::Instant;

    let app = Arc::new(App::standalone().await);
    let id = app.vendor("Flipping Tow", &["tow"], 34.05, -118.24).await;
    for i in 0..3 {
        app.vendor(
            &format!("Steady {i}"),
            &["tow"],
            34.06 + f64::from(i) * 0.01,
            -118.25,
        )
        .await;
    }
    app.load_index().await;
    let search = "/vendors/search?lat=34.05&lon=-118.24&radius=10&capability=tow&limit=10";
    let mut hits = 0;
    for round in 0..24 {
        let next = if round % 2 == 0 {
            "offline"
        } else {
            "available"
        };
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..12)
            .map(|_| {
                let (app, stop) = (app.clone(), stop.clone());
                tokio::spawn(async move {
                    let mut seen = Vec::new();
                    while !stop.load(Ordering::Acquire) {
                        let began = Instant::now();
                        let (status, cache, body) = app.get(search).await;
                        assert_eq!(status, 200, "{body}");
                        seen.push((began, cache, ids(&body)));
                    }
                    seen
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(40)).await;
        let written = app
            .send(
                "PATCH",
                &format!("/vendors/{id}/availability"),
                json!({ "status": next }),
            )
            .await;
        assert_eq!(written.0, 200, "{}", written.2);
        let answered = Instant::now();
        tokio::time::sleep(Duration::from_millis(60)).await;
        stop.store(true, Ordering::Release);
        let mut after = 0;
        for client in clients {
            for (began, cache, found) in client.await.expect("client") {
                hits += usize::from(cache == "HIT");
                if began > answered {
                    after += 1;
                    assert_eq!(
                        found.contains(&id),
                        next == "available",
                        "round {round}: a search begun after the write answered ({cache}) \
                         shows the vendor as before it went {next}"
                    );
                }
            }
        }
        assert!(after > 0, "round {round}: no search began after the write");
    }
    // The shared confirmations were in play (a kept answer reused), not only fresh searches.
    assert!(hits > 0, "no search answer was reused");
}

/// The geo sets' scopes (available vendors, and everyone whatever their status) follow
/// every status change and move: after each of many writes, what the index finds for
/// `availableOnly` true and false, with and without a capability, is exactly what
/// PostgreSQL holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_scopes_of_the_index_follow_every_status_change_and_move() {
    use vendors::{IndexAnswer, IndexQuery};
    let app = App::standalone().await;
    let center = cache::GeoPoint::new(34.05, -118.24);
    let mut ids_made = Vec::new();
    for i in 0..16 {
        let caps: &[&str] = if i % 2 == 0 {
            &["tow", "tire"]
        } else {
            &["fuel"]
        };
        let (dlat, dlon) = (f64::from(i % 4) * 0.01, f64::from(i / 4) * 0.012);
        ids_made.push(
            app.vendor(&format!("Scope {i}"), caps, 34.03 + dlat, -118.26 + dlon)
                .await,
        );
    }
    // Vendors start offline; most go available (before the index loads, and after it).
    for (i, id) in ids_made.iter().enumerate() {
        if i == 8 {
            app.load_index().await;
        }
        if i % 5 != 4 {
            let (status, _, body) = app
                .send(
                    "PATCH",
                    &format!("/vendors/{id}/availability"),
                    json!({"status": "available"}),
                )
                .await;
            assert_eq!(status, 200, "{body}");
        }
    }
    let index = app.state.vendors.index().expect("index").clone();
    // A fixed walk of legal writes: statuses (busy -> offline included) and moves. "busy"
    // is an incident near the vendor: the matcher makes its nearest available vendor busy.
    let steps: [(usize, &str); 14] = [
        (0, "busy"),
        (1, "offline"),
        (0, "offline"),
        (2, "far"),
        (4, "far"),
        (2, "move"),
        (3, "busy"),
        (1, "available"),
        (3, "move"),
        (0, "available"),
        (4, "offline"),
        (4, "move"),
        (3, "available"),
        (5, "busy"),
    ];
    for (round, (who, what)) in steps.iter().enumerate() {
        let id = &ids_made[*who];
        let (status, _, body) = if *what == "busy" {
            let (status, cache, body) = app
                .send(
                    "POST",
                    "/incidents",
                    json!({"driverId": "driver-1", "type": "tow",
                           "location": {"lat": 34.04, "lon": -118.25}}),
                )
                .await;
            (if status == 201 { 200 } else { status }, cache, body)
        } else if *what == "move" || *what == "far" {
            // "far" leaves the 20-mile circle (35 miles north); "move" stays inside.
            let lat = if *what == "far" {
                34.55
            } else {
                34.02 + (round as f64) * 0.003
            };
            app.send(
                "POST",
                &format!("/vendors/{id}/location"),
                json!({"lat": lat, "lon": -118.23}),
            )
            .await
        } else {
            app.send(
                "PATCH",
                &format!("/vendors/{id}/availability"),
                json!({ "status": what }),
            )
            .await
        };
        assert_eq!(status, 200, "round {round}: {body}");
        let rows = app
            .state
            .db
            .query(
                "SELECT id, availability, capabilities, lat, lon FROM vendors",
                &[],
            )
            .await
            .expect("vendors");
        for available_only in [false, true] {
            for capability in [None, Some(vendors::Capability::Tow)] {
                let mut truth: Vec<String> = rows
                    .iter()
                    .filter(|r| {
                        let p = cache::GeoPoint::new(r.get(3), r.get(4));
                        center.haversine_m(&p) / 1609.344 <= 20.0
                    })
                    .filter(|r| !available_only || r.get::<_, String>(1) == "available")
                    .filter(|r| {
                        capability.is_none_or(|c| {
                            r.get::<_, Vec<String>>(2).iter().any(|x| x == c.as_str())
                        })
                    })
                    .map(|r| r.get::<_, String>(0))
                    .collect();
                truth.sort();
                let q = IndexQuery {
                    center,
                    radius_miles: 20.0,
                    capability,
                    available_only,
                    limit: 100,
                };
                let IndexAnswer::Found { hits, .. } =
                    index.search(&q, false, &[]).await.expect("search")
                else {
                    panic!("round {round}: the index is not ready");
                };
                let mut found: Vec<String> = hits.into_iter().map(|h| h.id).collect();
                found.sort();
                assert_eq!(
                    found, truth,
                    "round {round} ({what} {id}), availableOnly={available_only}, {capability:?}"
                );
            }
        }
    }
}

/// The cell counters that vouch for kept search answers live in their own hash: if Redis
/// loses it, counters restart at 0. An answer kept over a lost hash (every counter 0) would
/// then be vouched for again after a vendor arrives and the hash is lost once more. The
/// hash's sentinel makes a loss visible, so the index does not answer over it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_counters_hash_never_vouches_for_a_kept_answer() {
    let app = App::standalone().await;
    for i in 0..3 {
        app.vendor(
            &format!("Tow {i}"),
            &["tow"],
            40.0 + f64::from(i) * 0.01,
            -75.0,
        )
        .await;
    }
    app.load_index().await;
    let q = "/vendors/search?lat=40.05&lon=-75&radius=30&capability=tow&limit=100";
    let tag = app.state.vendors.index().unwrap().tag().to_owned();
    let lose_counters = || app.redis_server().cli(&["DEL", &format!("{tag}:cells")]);
    lose_counters();
    // Asked twice: kept from its second sighting, were the index to answer.
    for _ in 0..2 {
        let (_, _, body) = app.get(q).await;
        assert_eq!(ids(&body).len(), 3, "{body}");
    }
    // A vendor arrives (its cell's counter goes to 1), then the counters are lost again.
    let newcomer = app.vendor("Newcomer Tow", &["tow"], 39.9, -75.2).await;
    lose_counters();
    for round in 0..3 {
        let (_, cache, body) = app.get(q).await;
        assert!(
            ids(&body).contains(&newcomer),
            "round {round}: {cache} answer misses the newcomer: {body}"
        );
    }
    // A rebuild restores the counters and the reuse of kept answers.
    app.load_index().await;
    for _ in 0..2 {
        app.get(q).await;
    }
    let (_, cache, body) = app.get(q).await;
    assert_eq!((cache.as_str(), ids(&body).len()), ("HIT", 4), "{body}");
}

/// Issue 15's burst path: simultaneous incidents get their candidates from pipelined index
/// searches and their vendors' cache updates coalesced. More incidents than vendors: by
/// the answers and by PostgreSQL, every vendor goes to one incident at most and every
/// vendor is taken; afterwards the index offers none of them and every cached profile shows
/// the vendor busy.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_through_pipelined_candidates_gives_no_vendor_twice_and_the_index_learns_every_claim()
 {
    let app = App::standalone().await;
    let mut created = BTreeSet::new();
    for i in 0..60 {
        let lat = 39.95 + f64::from(i) * 0.003;
        created.insert(
            app.vendor(&format!("Burst Tow {i}"), &["tow"], lat, -75.16)
                .await,
        );
    }
    app.load_index().await;
    for id in &created {
        app.warm_profile(id).await;
    }
    let sends = (0..90).map(|i| {
        let lat = 39.95 + f64::from(i % 60) * 0.003;
        app.send(
            "POST",
            "/incidents",
            json!({"driverId": format!("burst-{i}"), "type": "tow", "location": {"lat": lat, "lon": -75.16}}),
        )
    });
    let answers = futures::future::join_all(sends).await;
    let mut matched = Vec::new();
    for (status, _, body) in &answers {
        assert_eq!(*status, 201, "{body}");
        if let Some(v) = body["match"]["vendorId"].as_str() {
            matched.push(v.to_owned());
        }
    }
    let distinct: BTreeSet<String> = matched.iter().cloned().collect();
    assert_eq!(distinct.len(), matched.len(), "a vendor was matched twice");
    assert_eq!(distinct, created, "90 incidents take all 60 vendors");
    let stored = app
        .count("SELECT count(DISTINCT matched_vendor_id) FROM incidents WHERE status = 'matched'")
        .await;
    let claims = app
        .count("SELECT count(*) FROM incidents WHERE status = 'matched'")
        .await;
    assert_eq!(
        (stored, claims),
        (60, 60),
        "PostgreSQL: one incident per vendor"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM vendors WHERE availability = 'busy'")
            .await,
        60
    );

    let left = app
        .state
        .vendors
        .nearest_available(
            vendors::GeoPoint::new(40.0, -75.16),
            30.0,
            vendors::Capability::Tow,
            100,
        )
        .await;
    assert_eq!(
        left,
        Some(Vec::new()),
        "the index still offers a taken vendor"
    );
    for id in &created {
        let (status, cache, body) = app.get(&format!("/vendors/{id}")).await;
        assert_eq!(status, 200);
        assert_eq!(
            body["availability"]["status"], "busy",
            "{id} ({cache}) shows an older state than PostgreSQL"
        );
    }
}
