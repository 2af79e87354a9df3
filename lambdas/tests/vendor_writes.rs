//! Vendor writes whose client goes away (vendor-wing finding 2): the route's database write
//! and the cache update run in a task of their own, so once PostgreSQL has committed a
//! location or availability change, the geo index follows even if the request future was
//! dropped, the way a disconnecting client drops it in the server. Real PostgreSQL and Redis.

mod common;

use std::time::Duration;

use ::vendors::{AvailabilityStatus, Capability, GeoPoint, IndexAnswer, IndexQuery};
use axum::http::StatusCode;
use common::{Db, app, call};
use serde_json::json;
use testkit::redis::RedisServer;

/// The vendor the index finds within a mile of `at`, if any, and its indexed status.
async fn indexed_near(
    index: &vendors::GeoIndex,
    at: GeoPoint,
) -> Option<(String, AvailabilityStatus)> {
    let q = IndexQuery {
        center: at,
        radius_miles: 1.0,
        capability: Some(Capability::Tow),
        available_only: false,
        limit: 1,
    };
    match index.search(&q, true, &[]).await.expect("redis") {
        IndexAnswer::Found { hits, .. } => hits.first().map(|h| {
            let doc: vendors::VendorView =
                serde_json::from_str(h.doc.as_deref().expect("doc")).expect("doc json");
            (h.id.clone(), doc.availability.status)
        }),
        IndexAnswer::NotReady => panic!("the index is built"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committed_move_or_status_reaches_the_index_when_the_client_leaves() {
    let db = Db::start().await;
    let redis = RedisServer::start();
    let (router, state) = app(&db, Some(&redis)).await;
    state
        .vendors
        .rebuild_index()
        .await
        .expect("empty index built");
    let index = state.vendors.index().expect("redis configured").clone();
    for round in 0..12 {
        let lat = 30.0 + f64::from(round);
        let (from, to) = (GeoPoint::new(lat, -100.0), GeoPoint::new(lat, -99.0));
        let (status, _, vendor) = call(
            &router,
            "POST",
            "/vendors",
            &[],
            Some(
                json!({"businessName": format!("Mover {round}"), "capabilities": ["tow"],
                        "location": {"lat": lat, "lon": -100.0}, "rating": 4}),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{vendor}");
        let id = vendor["vendorId"].as_str().expect("id").to_owned();
        let moving = round % 2 == 0;
        let (path, body) = if moving {
            (
                format!("/vendors/{id}/location"),
                json!({"lat": lat, "lon": -99.0}),
            )
        } else {
            (
                format!("/vendors/{id}/availability"),
                json!({"status": "offline"}),
            )
        };
        let method = if moving { "POST" } else { "PATCH" };
        let request = call(&router, method, &path, &[], Some(body));
        // The client leaves as soon as PostgreSQL has the change (or earlier).
        let committed = async {
            loop {
                let row = db
                    .pool
                    .query_one(
                        "SELECT lon, availability FROM vendors WHERE id = $1",
                        &[&id],
                    )
                    .await
                    .expect("poll");
                let (lon, availability): (f64, String) = (row.get(0), row.get(1));
                if (moving && lon > -99.5) || (!moving && availability == "offline") {
                    return;
                }
                tokio::task::yield_now().await;
            }
        };
        tokio::select! {
            _ = request => {}
            () = committed => {}
        }
        let committed = lambdas::db::vendors::get(&db.pool, &id)
            .await
            .expect("db")
            .expect("row");
        if committed.version == 1 {
            // The request was dropped before its write committed; nothing to follow.
            continue;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let (at_from, at_to) = (
                indexed_near(&index, from).await,
                indexed_near(&index, to).await,
            );
            let followed = if moving {
                at_from.is_none() && at_to.as_ref().is_some_and(|(v, _)| *v == id)
            } else {
                at_from == Some((id.clone(), AvailabilityStatus::Offline))
            };
            if followed {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "round {round}: PostgreSQL has {committed:?}, the index {at_from:?} / {at_to:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
