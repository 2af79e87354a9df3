//! `POST /incidents` against a real PostgreSQL (and Redis where the cache matters): the
//! batched claims under concurrency, idempotency keys, candidates as a hint only, the
//! cache kept in step after the commit, key retention, and payments' reference errors.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ::vendors::{Availability, AvailabilityStatus, Capability, GeoPoint};
use axum::http::StatusCode;
use common::{Db, app, app_with, call};
use lambdas::db::idempotency;
use lambdas::db::incidents::{self, Created, IdempotencyKey, NewIncident};
use lambdas::model::ValidIncident;
use serde_json::{Value, json};
use testkit::redis::RedisServer;

fn incident_body(driver: &str, lat: f64, lon: f64) -> Value {
    json!({"driverId": driver, "type": "tow", "location": {"lat": lat, "lon": lon}, "description": "flat"})
}

/// Every vendor that is busy, with its incident; every incident that is matched, with its
/// vendor. The two must be the same pairs.
async fn assignments(db: &Db) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let busy = db
        .pool
        .query(
            "SELECT id, current_incident_id FROM vendors WHERE availability = 'busy'",
            &[],
        )
        .await
        .expect("busy")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let matched = db
        .pool
        .query(
            "SELECT matched_vendor_id, id FROM incidents WHERE status = 'matched'",
            &[],
        )
        .await
        .expect("matched")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    (busy, matched)
}

#[tokio::test]
async fn a_burst_of_incidents_takes_distinct_vendors() {
    burst_on_a_small_fleet("1000").await;
}

#[tokio::test]
async fn a_burst_without_batching_takes_distinct_vendors_too() {
    burst_on_a_small_fleet("1").await;
}

async fn burst_on_a_small_fleet(batch_max: &str) {
    let db = Db::start().await;
    let fleet = 40;
    for i in 0..fleet {
        let offset = f64::from(i) * 0.002;
        db.vendor(
            &format!("tow-{i:02}"),
            &["tow"],
            34.0 + offset,
            -118.0 - offset,
        )
        .await;
    }
    db.vendor("tires-only", &["tire"], 34.0, -118.0).await;
    let (router, _state) = app_with(&db, None, &[("INCIDENT_BATCH_MAX", batch_max)]).await;
    let requests = 240;
    let answers = futures::future::join_all((0..requests).map(|i| {
        let router = router.clone();
        async move {
            let body = incident_body(&format!("driver-{i}"), 34.01, -118.01);
            call(&router, "POST", "/incidents", &[], Some(body)).await
        }
    }))
    .await;
    let mut matched = BTreeMap::new();
    let mut unmatched = 0;
    for (status, _, body) in &answers {
        assert_eq!(*status, StatusCode::CREATED, "{body}");
        let incident = body["incidentId"].as_str().expect("id").to_owned();
        match body["match"]["vendorId"].as_str() {
            Some(vendor) => {
                assert_eq!(body["incident"]["status"], "matched");
                assert_eq!(body["incident"]["vendorId"], vendor);
                let previous = matched.insert(vendor.to_owned(), incident);
                assert!(previous.is_none(), "{vendor} claimed twice");
            }
            None => {
                assert_eq!(body["incident"]["status"], "unmatched");
                unmatched += 1;
            }
        }
    }
    assert_eq!(
        matched.len(),
        fleet as usize,
        "every tow vendor is in range"
    );
    assert_eq!(unmatched, requests - fleet as usize);
    assert!(!matched.contains_key("tires-only"));
    let (busy, in_db) = assignments(&db).await;
    assert_eq!(
        busy, matched,
        "vendors are busy exactly with their incident"
    );
    assert_eq!(
        in_db, matched,
        "incidents are matched exactly to their vendor"
    );
}

#[tokio::test]
async fn sequential_incidents_take_the_nearest_first() {
    let db = Db::start().await;
    db.vendor("one-mile", &["tow"], 34.0 + 1.0 / 69.0, -118.0)
        .await;
    db.vendor("three-miles", &["tow"], 34.0 + 3.0 / 69.0, -118.0)
        .await;
    db.vendor("two-miles", &["tow"], 34.0 - 2.0 / 69.0, -118.0)
        .await;
    let (router, _) = app(&db, None).await;
    let mut order = Vec::new();
    for i in 0..4 {
        let (status, _, body) = call(
            &router,
            "POST",
            "/incidents",
            &[],
            Some(incident_body(&format!("d{i}"), 34.0, -118.0)),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        order.push(body["match"]["vendorId"].as_str().map(str::to_owned));
    }
    assert_eq!(
        order,
        [
            Some("one-mile".to_owned()),
            Some("two-miles".to_owned()),
            Some("three-miles".to_owned()),
            None
        ]
    );
}

fn new_incident(
    id: &str,
    driver: &str,
    candidates: &[&str],
    key: Option<(&str, &str)>,
) -> NewIncident {
    NewIncident {
        id: id.to_owned(),
        // The driver asks for themselves: keys are scoped to the caller.
        caller: driver.to_owned(),
        incident: ValidIncident {
            driver_id: driver.to_owned(),
            kind: Capability::Tow,
            location: GeoPoint::new(34.0, -118.0),
            description: String::new(),
        },
        radius_miles: 25.0,
        candidates: candidates.iter().map(|c| (*c).to_owned()).collect(),
        idempotency: key.map(|(key, hash)| IdempotencyKey {
            key: key.to_owned(),
            request_hash: hash.to_owned(),
        }),
    }
}

fn claimed(created: &Created) -> Option<String> {
    match created {
        Created::New { body, vendor } => {
            assert_eq!(
                body.matched.as_ref().map(|m| &m.vendor_id),
                vendor.as_ref().map(|v| &v.id)
            );
            vendor.as_ref().map(|v| {
                assert_eq!(v.availability, Availability::busy(body.incident_id.clone()));
                assert!(v.version >= 2, "the claim raised the version: {v:?}");
                v.id.clone()
            })
        }
        other => panic!("not new: {other:?}"),
    }
}

#[tokio::test]
async fn candidates_are_a_hint_never_the_last_word() {
    let db = Db::start().await;
    db.vendor("near", &["tow"], 34.0, -118.0).await;
    db.vendor("farther", &["tow"], 34.1, -118.0).await;
    db.vendor("out-of-range", &["tow"], 36.0, -118.0).await;
    db.vendor("wrong-kind", &["fuel"], 34.0, -118.0).await;
    db.vendor("also-near", &["tow"], 34.001, -118.0).await;
    db.vendor("last", &["tow"], 34.2, -118.0).await;
    let create = |n: NewIncident| {
        let pool = db.pool.clone();
        async move { incidents::create(&pool, &n).await.expect("create") }
    };
    // An empty list from the index: the table still has a vendor.
    assert_eq!(
        claimed(&create(new_incident("i1", "d", &[], None)).await).as_deref(),
        Some("near")
    );
    // Candidates are taken nearest first, when they qualify.
    let listed = create(new_incident("i2", "d", &["farther", "also-near"], None)).await;
    assert_eq!(claimed(&listed).as_deref(), Some("also-near"));
    // Candidates that no longer qualify (busy, out of range, wrong capability) fall
    // through to the table.
    let stale = create(new_incident(
        "i3",
        "d",
        &["near", "out-of-range", "wrong-kind"],
        None,
    ))
    .await;
    assert_eq!(claimed(&stale).as_deref(), Some("farther"));
    assert_eq!(
        claimed(&create(new_incident("i4", "d", &[], None)).await).as_deref(),
        Some("last")
    );
    assert_eq!(
        claimed(&create(new_incident("i5", "d", &["out-of-range"], None)).await),
        None
    );
}

#[tokio::test]
async fn one_batch_with_repeated_and_reused_keys() {
    let db = Db::start().await;
    db.tow_vendors_in_a_row(3).await;
    let batch = vec![
        new_incident("i-a", "alice", &[], Some(("k1", "hash-1"))),
        new_incident("i-b", "bob", &[], None),
        new_incident("i-a2", "alice", &[], Some(("k1", "hash-1"))),
        new_incident("i-a3", "alice", &[], Some(("k1", "hash-2"))),
        new_incident("i-c", "carol", &[], Some(("k1", "hash-9"))),
    ];
    let answers = incidents::create_batch(&db.pool, &batch)
        .await
        .expect("batch");
    let first = match &answers[0] {
        Created::New { body, .. } => body.clone(),
        other => panic!("{other:?}"),
    };
    assert!(matches!(&answers[1], Created::New { .. }));
    assert_eq!(answers[2], Created::Replayed(first.clone()));
    assert_eq!(answers[3], Created::KeyReused);
    assert!(
        matches!(&answers[4], Created::New { .. }),
        "keys are per driver"
    );
    // After the commit, a retry in a later batch replays too.
    let again = incidents::create_batch(
        &db.pool,
        &[
            new_incident("i-a4", "alice", &[], Some(("k1", "hash-1"))),
            new_incident("i-a5", "alice", &[], Some(("k1", "hash-3"))),
        ],
    )
    .await
    .expect("retry");
    assert_eq!(again, vec![Created::Replayed(first), Created::KeyReused]);
    let count: i64 = db
        .pool
        .query_one("SELECT count(*) FROM incidents", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(count, 3);
    let (busy, matched) = assignments(&db).await;
    assert_eq!((busy.len(), &busy), (3, &matched));
}

#[tokio::test]
async fn concurrent_retries_with_one_key_create_one_incident() {
    let db = Db::start().await;
    db.tow_vendors_in_a_row(5).await;
    let (router, _) = app(&db, None).await;
    let body = incident_body("driver-7", 34.0, -118.0);
    for round in 0..5 {
        let key = format!("retry-{round}");
        let answers = futures::future::join_all((0..25).map(|_| {
            let (router, body, key) = (router.clone(), body.clone(), key.clone());
            async move {
                call(
                    &router,
                    "POST",
                    "/incidents",
                    &[("idempotency-key", &key)],
                    Some(body),
                )
                .await
            }
        }))
        .await;
        let firsts: BTreeSet<String> = answers
            .iter()
            .map(|(status, _, body)| {
                assert_eq!(*status, StatusCode::CREATED, "{body}");
                body.to_string()
            })
            .collect();
        assert_eq!(
            firsts.len(),
            1,
            "every retry gets the first answer: {firsts:?}"
        );
        let replays = answers
            .iter()
            .filter(|(_, headers, _)| headers.get("idempotent-replayed").is_some())
            .count();
        assert_eq!(replays, 24);
    }
    let count: i64 = db
        .pool
        .query_one(
            "SELECT count(*) FROM incidents WHERE driver_id = 'driver-7'",
            &[],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(count, 5, "one incident per key");
    let (busy, _) = assignments(&db).await;
    assert_eq!(busy.len(), 5, "one vendor per incident");

    // The same key with another request: 422 naming the header.
    let other = incident_body("driver-7", 34.5, -118.0);
    let (status, _, error) = call(
        &router,
        "POST",
        "/incidents",
        &[("idempotency-key", "retry-0")],
        Some(other),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["error"]["field"], "Idempotency-Key");
    assert_eq!(error["error"]["code"], "idempotency_key_reused");
    // Another caller may use the same key (keys are scoped to the caller).
    let (status, headers, _) = call(
        &router,
        "POST",
        "/incidents",
        &[
            ("idempotency-key", "retry-0"),
            ("x-roadcall-caller", "driver-8"),
        ],
        Some(incident_body("driver-8", 34.0, -118.0)),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(headers.get("idempotent-replayed").is_none());
    let long = "k".repeat(256);
    let (status, _, error) = call(
        &router,
        "POST",
        "/incidents",
        &[("idempotency-key", &long)],
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["error"]["field"], "Idempotency-Key");
}

#[tokio::test]
async fn a_claim_reaches_the_cache_even_when_the_client_leaves() {
    let db = Db::start().await;
    let redis = RedisServer::start();
    let (router, state) = app(&db, Some(&redis)).await;
    let vendors = state.vendors.clone();
    vendors.rebuild_index().await.expect("empty index built");
    let index = vendors.index().expect("redis configured").clone();
    for round in 0..10 {
        let (status, _, vendor) = call(
            &router,
            "POST",
            "/vendors",
            &[],
            Some(
                json!({"businessName": format!("Tow {round}"), "capabilities": ["tow"],
                         "location": {"lat": 40.0 + f64::from(round), "lon": -100.0}, "rating": 4}),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{vendor}");
        let id = vendor["vendorId"].as_str().expect("id").to_owned();
        let at = GeoPoint::new(40.0 + f64::from(round), -100.0);
        let indexed = |index: vendors::GeoIndex| async move {
            let q = vendors::IndexQuery {
                center: at,
                radius_miles: 1.0,
                capability: Some(Capability::Tow),
                available_only: false,
                limit: 1,
            };
            match index.search(&q, true, &[]).await.expect("redis") {
                vendors::IndexAnswer::Found { hits, .. } => hits
                    .first()
                    .and_then(|h| h.doc.clone())
                    .map(|d| serde_json::from_str::<vendors::VendorView>(&d).expect("doc")),
                vendors::IndexAnswer::NotReady => None,
            }
        };
        let cached = indexed(index.clone()).await.expect("indexed");
        assert_eq!(cached.availability.status, AvailabilityStatus::Available);
        let driver = format!("leaving-{round}");
        let request = call(
            &router,
            "POST",
            "/incidents",
            &[],
            Some(incident_body(&driver, 40.0 + f64::from(round), -100.0)),
        );
        // The client goes away as soon as the incident is committed (or earlier).
        let committed = async {
            loop {
                let n: i64 = db
                    .pool
                    .query_one(
                        "SELECT count(*) FROM incidents WHERE driver_id = $1",
                        &[&driver],
                    )
                    .await
                    .expect("poll")
                    .get(0);
                if n > 0 {
                    return;
                }
                tokio::task::yield_now().await;
            }
        };
        tokio::select! {
            _ = request => {}
            () = committed => {}
        }
        let in_db = lambdas::db::vendors::get(&db.pool, &id)
            .await
            .expect("db")
            .expect("row");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let cached = indexed(index.clone()).await;
            if cached
                .as_ref()
                .is_some_and(|c| c.availability.status != AvailabilityStatus::Available)
            {
                let cached = cached.expect("cached");
                assert_eq!(
                    (cached.availability.status, cached.availability.incident_id),
                    (
                        in_db.availability.status,
                        in_db.availability.current_incident_id.clone()
                    ),
                    "round {round}"
                );
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "round {round}: the cache still says {cached:?}, the database {in_db:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn old_idempotency_keys_are_pruned() {
    let db = Db::start().await;
    db.vendor("v1", &["tow"], 34.0, -118.0).await;
    let answers = incidents::create_batch(
        &db.pool,
        &[
            new_incident("i-old", "d", &[], Some(("old", "h"))),
            new_incident("i-new", "d", &[], Some(("new", "h"))),
        ],
    )
    .await
    .expect("create");
    assert_eq!(answers.len(), 2);
    db.pool
        .execute(
            "INSERT INTO idempotency_keys (key, request_hash) VALUES ('pay-old', 'h'), ('pay-new', 'h')",
            &[],
        )
        .await
        .expect("payment keys");
    let day = idempotency::RETENTION;
    for (table, key) in [
        ("incident_idempotency_keys", "old"),
        ("idempotency_keys", "pay-old"),
    ] {
        db.pool
            .execute(
                &format!(
                    "UPDATE {table} SET created_at = now() - make_interval(secs => $1) - interval '1 minute' \
                     WHERE key = $2"
                ),
                &[&day.as_secs_f64(), &key],
            )
            .await
            .expect("age");
    }
    let pruned = idempotency::prune(&db.pool, day).await.expect("prune");
    assert_eq!((pruned.incidents, pruned.payments), (1, 1));
    let left: Vec<String> = db
        .pool
        .query(
            "SELECT key FROM incident_idempotency_keys UNION ALL SELECT key FROM idempotency_keys ORDER BY 1",
            &[],
        )
        .await
        .expect("left")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(left, ["new", "pay-new"]);
    // The old key no longer answers: the same key is a new request again.
    let again = incidents::create(
        &db.pool,
        &new_incident("i-old-2", "d", &[], Some(("old", "other"))),
    )
    .await
    .expect("again");
    assert!(matches!(again, Created::New { .. }), "{again:?}");
    assert_eq!(
        idempotency::prune(&db.pool, day).await.expect("prune"),
        Default::default()
    );
}

#[tokio::test]
async fn a_payment_names_the_reference_that_does_not_exist() {
    let db = Db::start().await;
    db.vendor("v1", &["tow"], 34.0, -118.0).await;
    db.incident("inc-1").await;
    let (router, _) = app(&db, None).await;
    let payment = |incident: &str, vendor: &str| {
        json!({"incidentId": incident, "vendorId": vendor, "amountCents": 1000, "currency": "USD",
               "lineItems": [{"description": "tow", "amountCents": 1000}]})
    };
    for (n, (incident, vendor, field)) in [
        ("inc-1", "ven-unknown", "vendorId"),
        ("inc-unknown", "v1", "incidentId"),
        // Ids that contain the other field's word must not confuse the mapping.
        ("inc-1", "vendor-incident", "vendorId"),
        ("incident-vendor", "v1", "incidentId"),
    ]
    .into_iter()
    .enumerate()
    {
        let key = format!("pay-{n}");
        let (status, _, body) = call(
            &router,
            "POST",
            "/payments",
            &[("idempotency-key", &key)],
            Some(payment(incident, vendor)),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["field"], field, "{body}");
    }
    let (status, _, body) = call(
        &router,
        "POST",
        "/payments",
        &[("idempotency-key", "pay-ok")],
        Some(payment("inc-1", "v1")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn one_key_in_concurrent_transactions_creates_one_incident() {
    // As from several Lambda environments: each request its own transaction, no shared
    // matcher. The key's primary key makes the later ones wait, then replay.
    let db = Db::start().await;
    db.tow_vendors_in_a_row(12).await;
    let answers = futures::future::join_all((0..12).map(|i| {
        let pool = db.pool.clone();
        async move {
            let request = new_incident(&format!("i-{i}"), "dora", &[], Some(("same", "h")));
            incidents::create(&pool, &request).await.expect("create")
        }
    }))
    .await;
    let new: Vec<&Created> = answers
        .iter()
        .filter(|a| matches!(a, Created::New { .. }))
        .collect();
    assert_eq!(new.len(), 1, "{answers:?}");
    let Created::New { body, .. } = new[0] else {
        unreachable!()
    };
    for answer in &answers {
        match answer {
            Created::New { body: b, .. } | Created::Replayed(b) => assert_eq!(b, body),
            Created::KeyReused => panic!("same request, same key: {answer:?}"),
        }
    }
    let (busy, _) = assignments(&db).await;
    assert_eq!(busy.len(), 1);
}
