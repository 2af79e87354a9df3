//! The vendor table against a real PostgreSQL: the schema's vocabulary matches the Rust
//! one, the SQL distance is the Rust distance, and the database search (PostGIS and
//! bounding box) finds vendors across the antimeridian, near the poles and at the exact
//! edge of a radius the same way Redis and `GeoPoint::haversine_m` do.

mod common;

use ::vendors::{AvailabilityStatus, Capability, GeoPoint, MAX_ID_CHARS};
use common::Db;
use lambdas::db::geo::{GeoPath, destination};
use lambdas::db::vendors::{self, SearchQuery};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const V1: &str = include_str!("../../crates/aurora/migrations/V1__initial_schema.sql");

/// The quoted words of the first `(...)` or `[...]` list after `marker` in V1.
fn quoted_list_after(marker: &str) -> Vec<String> {
    let at = V1
        .find(marker)
        .unwrap_or_else(|| panic!("{marker:?} not in V1"));
    let rest = &V1[at + marker.len()..];
    let end = rest.find([')', ']']).expect("list end");
    rest[..end]
        .split(',')
        .map(|w| w.trim().trim_matches('\'').to_owned())
        .collect()
}

#[test]
fn the_schema_speaks_the_model_vocabulary() {
    let capabilities: Vec<String> = Capability::ALL
        .iter()
        .map(|c| c.as_str().to_owned())
        .collect();
    assert_eq!(quoted_list_after("capabilities <@ ARRAY["), capabilities);
    assert_eq!(quoted_list_after("incident_type IN ("), capabilities);
    let statuses: Vec<String> = AvailabilityStatus::ALL
        .iter()
        .map(|s| s.as_str().to_owned())
        .collect();
    assert_eq!(quoted_list_after("availability IN ("), statuses);
    let id_rule = format!("length(id) BETWEEN 1 AND {MAX_ID_CHARS})");
    assert_eq!(
        V1.matches(&id_rule).count(),
        3,
        "vendors, incidents and payments ids"
    );
    assert!(V1.contains(&format!("length(driver_id) BETWEEN 1 AND {MAX_ID_CHARS})")));
}

async fn paths(db: &Db) -> Vec<GeoPath> {
    if db.has_postgis().await {
        vec![GeoPath::Geography, GeoPath::BoundingBox]
    } else {
        println!("PostGIS is not installed on this server: only the bounding-box path is tested");
        vec![GeoPath::BoundingBox]
    }
}

async fn ids(db: &Db, path: GeoPath, q: &SearchQuery) -> Vec<String> {
    vendors::search_on(&db.pool, path, q)
        .await
        .expect("search")
        .into_iter()
        .map(|(v, _)| v.id)
        .collect()
}

fn query(lat: f64, lon: f64, radius_miles: f64) -> SearchQuery {
    SearchQuery {
        center: GeoPoint::new(lat, lon),
        radius_miles,
        capability: None,
        status: None,
        limit: 100,
    }
}

/// `geo_distance_m` (migration V2) from `a` to `b`.
async fn sql_distance(db: &Db, a: GeoPoint, b: GeoPoint) -> f64 {
    db.pool
        .query_one(
            "SELECT geo_distance_m($1, $2, $3, $4)",
            &[&a.lat, &a.lon, &b.lat, &b.lon],
        )
        .await
        .expect("distance")
        .get(0)
}

#[tokio::test]
async fn sql_distance_is_the_rust_distance() {
    let db = Db::start().await;
    let mut rng = StdRng::seed_from_u64(12);
    for _ in 0..2000 {
        let a = GeoPoint::new(
            rng.random_range(-90.0..=90.0),
            rng.random_range(-180.0..=180.0),
        );
        let b = if rng.random_bool(0.5) {
            destination(
                a,
                rng.random_range(0.0..360.0),
                rng.random_range(0.0..200_000.0),
            )
        } else {
            GeoPoint::new(
                rng.random_range(-90.0..=90.0),
                rng.random_range(-180.0..=180.0),
            )
        };
        assert_eq!(
            sql_distance(&db, a, b).await,
            a.haversine_m(&b),
            "{a:?} {b:?}"
        );
    }
    // Tiny but legal coordinates and differences do not underflow.
    for (a, b) in [
        (GeoPoint::new(0.0, 1e-200), GeoPoint::new(0.0, 0.0)),
        (GeoPoint::new(-5e-324, 0.0), GeoPoint::new(40.7, -74.0)),
        (GeoPoint::new(5e-324, 5e-324), GeoPoint::new(0.0, 0.0)),
        (GeoPoint::new(90.0, 0.0), GeoPoint::new(-90.0, 180.0)),
    ] {
        let sql = sql_distance(&db, a, b).await;
        assert!((sql - a.haversine_m(&b)).abs() < 1e-6, "{a:?} {b:?}");
    }
}

#[tokio::test]
async fn search_crosses_the_antimeridian_and_the_poles() {
    let db = Db::start().await;
    // 0.06 degrees of longitude at latitude 10 is about 4.1 miles.
    db.vendor("east-of-180", &["tow"], 10.0, 179.98).await;
    db.vendor("west-of-180", &["tow"], 10.0, -179.98).await;
    db.vendor("polar", &["tow"], 89.5, 30.0).await;
    db.vendor("far", &["tow"], 10.0, 170.0).await;
    // Among the nearest rows of every search on PostGIS, wherever it is.
    db.vendor("subnormal", &["fuel"], 5e-324, -5e-324).await;
    for path in paths(&db).await {
        let from_east = ids(&db, path, &query(10.0, 179.98, 5.0)).await;
        assert_eq!(from_east, ["east-of-180", "west-of-180"], "{path:?}");
        let from_west = ids(&db, path, &query(10.0, -179.98, 5.0)).await;
        assert_eq!(from_west, ["west-of-180", "east-of-180"], "{path:?}");
        // Across the pole: 0.5 + 0.6 degrees of latitude, about 76 miles.
        let over_the_pole = ids(&db, path, &query(89.4, -150.0, 80.0)).await;
        assert_eq!(over_the_pole, ["polar"], "{path:?}");
        // About 0.475 degrees (33 miles) away, 70 degrees of longitude round.
        let near_the_pole = ids(&db, path, &query(89.9, 100.0, 40.0)).await;
        assert_eq!(near_the_pole, ["polar"], "{path:?}");
        assert!(ids(&db, path, &query(89.4, -150.0, 70.0)).await.is_empty());
        assert_eq!(
            ids(&db, path, &query(0.0, 1e-200, 1.0)).await,
            ["subnormal"]
        );
    }
}

#[tokio::test]
async fn the_radius_edge_is_where_haversine_puts_it() {
    let db = Db::start().await;
    let center = GeoPoint::new(34.0522, -118.2437);
    let radius_miles = 25.0;
    let radius_m = radius_miles * 1609.344;
    let mut expected = Vec::new();
    let mut n = 0;
    for bearing in (0..360).step_by(15) {
        for scale in [1.0 - 1e-9, 1.0 - 1e-12, 1.0, 1.0 + 1e-12, 1.0 + 1e-9] {
            n += 1;
            let p = destination(center, f64::from(bearing), radius_m * scale);
            let id = format!("edge-{n:03}");
            db.vendor(&id, &["tow"], p.lat, p.lon).await;
            if center.haversine_m(&p) <= radius_m {
                expected.push(id);
            }
        }
    }
    expected.sort();
    assert!(
        expected.len() > 24 && expected.len() < n,
        "the edge case must have points on both sides: {} of {n}",
        expected.len()
    );
    for path in paths(&db).await {
        let mut found = ids(
            &db,
            path,
            &SearchQuery {
                limit: 1000,
                ..query(center.lat, center.lon, radius_miles)
            },
        )
        .await;
        found.sort();
        assert_eq!(found, expected, "{path:?}");
    }
}

#[tokio::test]
async fn postgis_and_the_bounding_box_give_the_same_answers() {
    let db = Db::start().await;
    if !db.has_postgis().await {
        println!(
            "skipped: PostGIS is not installed on this server (scripts/test installs postgresql-15-postgis-3)"
        );
        return;
    }
    let fleet = lambdas::seed::vendors(3000, 5);
    vendors::insert_many(&db.pool, &fleet).await.expect("seed");
    db.pool
        .execute(
            "UPDATE vendors SET availability = 'offline' WHERE right(id, 1) IN ('3', '7')",
            &[],
        )
        .await
        .expect("some offline");
    let mut rng = StdRng::seed_from_u64(99);
    let mut compared = 0;
    for _ in 0..60 {
        let anchor = &fleet[rng.random_range(0..fleet.len())];
        let q = SearchQuery {
            center: GeoPoint::new(
                anchor.location.lat + rng.random_range(-0.3..0.3),
                anchor.location.lon + rng.random_range(-0.3..0.3),
            ),
            radius_miles: rng.random_range(1.0..60.0),
            capability: rng
                .random_bool(0.5)
                .then(|| Capability::ALL[rng.random_range(0..Capability::ALL.len())]),
            status: rng
                .random_bool(0.5)
                .then_some(AvailabilityStatus::Available),
            limit: rng.random_range(1..=50),
        };
        let postgis = ids(&db, GeoPath::Geography, &q).await;
        let boxed = ids(&db, GeoPath::BoundingBox, &q).await;
        assert_eq!(postgis, boxed, "{q:?}");
        compared += postgis.len();
    }
    assert!(
        compared > 200,
        "the queries found too little to compare: {compared}"
    );
    // Vendors at one spot tie: both paths cut the tie by id.
    for twin in ["twin-c", "twin-a", "twin-b"] {
        db.vendor(twin, &["lockout"], 12.5, 12.5).await;
    }
    let twins = SearchQuery {
        limit: 2,
        ..query(12.5, 12.5001, 5.0)
    };
    for path in [GeoPath::Geography, GeoPath::BoundingBox] {
        assert_eq!(
            ids(&db, path, &twins).await,
            ["twin-a", "twin-b"],
            "{path:?}"
        );
    }
    // `search` picks PostGIS on this server.
    assert_eq!(
        lambdas::db::geo::path(&db.pool).await.expect("path"),
        GeoPath::Geography
    );
}

#[tokio::test]
async fn bulk_reads_page_by_id() {
    let db = Db::start().await;
    let fleet = lambdas::seed::vendors(250, 3);
    vendors::insert_many(&db.pool, &fleet).await.expect("seed");
    assert_eq!(vendors::count(&db.pool).await.expect("count"), 250);
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = vendors::page(&db.pool, after.as_deref(), 64)
            .await
            .expect("page");
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 64);
        after = page.last().map(|v| v.id.clone());
        seen.extend(page.into_iter().map(|v| v.id));
    }
    let mut all: Vec<String> = fleet.iter().map(|v| v.id.clone()).collect();
    all.sort();
    assert_eq!(seen, all);
    let wanted = vec![all[3].clone(), "ven-none".to_owned(), all[0].clone()];
    let many = vendors::get_many(&db.pool, &wanted)
        .await
        .expect("get_many");
    let got: Vec<&str> = many.iter().map(|v| v.id.as_str()).collect();
    assert_eq!(got, [all[0].as_str(), all[3].as_str()]);
    assert!(
        many.iter()
            .all(|v| v.version == 1 && v.updated_at.ends_with('Z'))
    );
}

#[tokio::test]
async fn every_update_raises_the_version() {
    let db = Db::start().await;
    db.vendor("v1", &["tow"], 1.0, 1.0).await;
    let first = vendors::get(&db.pool, "v1")
        .await
        .expect("get")
        .expect("v1");
    assert_eq!(first.version, 1);
    let moved = vendors::set_location(&db.pool, "v1", GeoPoint::new(2.0, 2.0))
        .await
        .expect("move")
        .expect("v1");
    assert_eq!(moved.version, 2);
    assert!(moved.updated_at >= first.updated_at, "{moved:?} {first:?}");
    db.pool
        .execute(
            "UPDATE vendors SET rating = 4, version = 1 WHERE id = 'v1'",
            &[],
        )
        .await
        .expect("raw update");
    let raw = vendors::get(&db.pool, "v1")
        .await
        .expect("get")
        .expect("v1");
    assert_eq!(
        raw.version, 3,
        "the trigger, not the statement, sets the version"
    );
}
