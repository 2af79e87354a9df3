//! Vendor routes end to end: cache-aside HIT/MISS/BYPASS, search, writes, validation, and
//! Redis stopped mid-test.

mod support;

use serde_json::json;
use support::{App, assert_error};

#[tokio::test]
async fn profile_reads_are_cached_and_writes_refresh_them() {
    let app = App::standalone().await;
    let id = app
        .vendor("Midtown Towing", &["tow", "jumpstart"], 40.7484, -73.9857)
        .await;

    // Created through the API: writes invalidate, so the first read loads it (MISS) and
    // the second is served from Redis.
    let (status, cache, body) = app.get(&format!("/vendors/{id}")).await;
    assert_eq!((status, cache.as_str()), (200, "MISS"), "{body}");
    assert_eq!(app.get(&format!("/vendors/{id}")).await.1, "HIT");
    assert_eq!(body["businessName"], "Midtown Towing");
    assert_eq!(body["capabilities"], json!(["jumpstart", "tow"]));
    assert_eq!(
        body["availability"],
        json!({"status": "available", "incidentId": null})
    );

    // Dropped from the cache: a MISS loads it from PostgreSQL, then HIT.
    app.state
        .cache
        .as_ref()
        .unwrap()
        .family(vendors::PROFILE_FAMILY)
        .invalidate(&id)
        .await
        .unwrap();
    assert_eq!(app.get(&format!("/vendors/{id}")).await.1, "MISS");
    assert_eq!(app.get(&format!("/vendors/{id}")).await.1, "HIT");

    // Writes go to the database and the cache: the next read sees them.
    let (status, _, body) = app
        .send(
            "PUT",
            &format!("/vendors/{id}"),
            json!({"businessName": "Midtown Towing & Tire", "capabilities": ["tow", "tire"], "location": {"lat": 40.75, "lon": -73.99}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, cache, body) = app.get(&format!("/vendors/{id}")).await;
    assert_eq!(
        (cache.as_str(), body["businessName"].as_str()),
        ("MISS", Some("Midtown Towing & Tire"))
    );
    let (status, _, body) = app
        .send(
            "POST",
            &format!("/vendors/{id}/location"),
            json!({"lat": 40.76, "lon": -73.98}),
        )
        .await;
    assert_eq!(
        (status, body["location"]["lat"].as_f64()),
        (200, Some(40.76))
    );
    let (status, _, body) = app
        .send(
            "PATCH",
            &format!("/vendors/{id}/availability"),
            json!({"status": "offline"}),
        )
        .await;
    assert_eq!(
        (status, &body["availability"]["status"]),
        (200, &json!("offline"))
    );
    assert_eq!(
        app.get(&format!("/vendors/{id}")).await.2["availability"]["status"],
        "offline"
    );

    assert_error(&app.get("/vendors/ven-nope").await, 404, None);
}

#[tokio::test]
async fn search_finds_nearest_capable_available_vendors_and_never_busy_ones() {
    let app = App::standalone().await;
    let near = app.vendor("Near Tow", &["tow"], 40.7130, -74.0060).await;
    let far = app.vendor("Far Tow", &["tow"], 40.9000, -74.0060).await;
    let _tire = app.vendor("Tire Only", &["tire"], 40.7131, -74.0061).await;
    let _remote = app.vendor("Boston Tow", &["tow"], 42.3601, -71.0589).await;

    let q = "/vendors/search?lat=40.7128&lon=-74.0060&radius=25&capability=tow";
    // The index has not been loaded since start: PostgreSQL answers, and the index is refilled.
    let (status, cache, body) = app.get(q).await;
    assert_eq!((status, cache.as_str()), (200, "MISS"), "{body}");
    let ids: Vec<&str> = body["vendors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["vendorId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![near.as_str(), far.as_str()]);
    assert!(body["vendors"][0]["distanceMiles"].as_f64().unwrap() < 0.1);

    app.load_index().await;
    let (status, cache, body) = app.get(q).await;
    assert!(
        status == 200 && (cache == "MISS" || cache == "HIT"),
        "{cache} {body}"
    );
    let (_, cache, body2) = app.get(q).await;
    assert_eq!(cache, "HIT");
    assert_eq!(body2["vendors"], body["vendors"]);

    // A busy vendor disappears from "available" searches at once (no stale availability).
    let (status, _, incident) = app
        .send("POST", "/incidents", json!({"driverId": "d-1", "type": "tow", "location": {"lat": 40.7128, "lon": -74.0060}}))
        .await;
    assert_eq!(status, 201, "{incident}");
    assert_eq!(incident["match"]["vendorId"], near.as_str());
    let (_, _, body) = app.get(q).await;
    let ids: Vec<&str> = body["vendors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["vendorId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![far.as_str()]);
    // ... and shows as busy when availability is not filtered.
    let (_, _, body) = app.get(&format!("{q}&availableOnly=false")).await;
    assert_eq!(body["count"], 2);
}

#[tokio::test]
async fn redis_down_means_bypass_not_errors_and_hits_resume_after() {
    let mut app = App::standalone().await;
    let id = app
        .vendor("Resilient Tow", &["tow"], 34.0522, -118.2437)
        .await;
    app.load_index().await;
    app.get(&format!("/vendors/{id}")).await;
    assert_eq!(app.get(&format!("/vendors/{id}")).await.1, "HIT");

    app.redis_server_mut().stop();
    let search = "/vendors/search?lat=34.05&lon=-118.24&radius=10";
    for _ in 0..5 {
        let (status, cache, body) = app.get(&format!("/vendors/{id}")).await;
        assert_eq!((status, cache.as_str()), (200, "BYPASS"), "{body}");
        let (status, cache, body) = app.get(search).await;
        assert_eq!((status, cache.as_str()), (200, "BYPASS"), "{body}");
        assert_eq!(body["vendors"][0]["vendorId"], id.as_str());
    }
    // Writes still work (the database is the truth).
    let (status, _, _) = app
        .send(
            "POST",
            &format!("/vendors/{id}/location"),
            json!({"lat": 34.06, "lon": -118.25}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _, health) = app.get("/health").await;
    assert_eq!((status, health["status"].as_str()), (200, Some("degraded")));

    app.redis_server_mut().restart();
    // The circuit breaker probes again after its cool-off; hits resume with fresh data.
    let mut resumed = false;
    for _ in 0..100 {
        let (_, cache, body) = app.get(&format!("/vendors/{id}")).await;
        if cache == "HIT" {
            assert_eq!(
                body["location"]["lat"], 34.06,
                "no stale entry after the restart"
            );
            resumed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(resumed, "cache hits did not resume after Redis restarted");
}

#[tokio::test]
async fn every_validation_error_is_a_json_4xx_naming_the_field() {
    let app = App::standalone().await;
    let ok =
        json!({"businessName": "A", "capabilities": ["tow"], "location": {"lat": 1.0, "lon": 2.0}});
    let cases = [
        (
            json!({"capabilities": ["tow"], "location": {"lat": 1.0, "lon": 2.0}}),
            "businessName",
        ),
        (
            json!({"businessName": " ", "capabilities": ["tow"], "location": {"lat": 1.0, "lon": 2.0}}),
            "businessName",
        ),
        (
            json!({"businessName": "A", "capabilities": [], "location": {"lat": 1.0, "lon": 2.0}}),
            "capabilities",
        ),
        (
            json!({"businessName": "A", "capabilities": ["plumbing"], "location": {"lat": 1.0, "lon": 2.0}}),
            "capabilities[0]",
        ),
        (
            json!({"businessName": "A", "capabilities": ["tow"], "location": {"lat": 91.0, "lon": 2.0}}),
            "location.lat",
        ),
        (
            json!({"businessName": "A", "capabilities": ["tow"], "location": {"lat": 1.0, "lon": 181.0}}),
            "location.lon",
        ),
        (
            json!({"businessName": "A", "capabilities": ["tow"], "location": {"lat": "x", "lon": 2.0}}),
            "location.lat",
        ),
        (
            json!({"businessName": "A", "capabilities": ["tow"], "location": {"lat": 1.0, "lon": 2.0}, "rating": 6}),
            "rating",
        ),
        (
            json!({"businessName": "A", "capabilities": ["tow"], "location": {"lat": 1.0, "lon": 2.0}, "extra": 1}),
            "extra",
        ),
    ];
    for (body, field) in cases {
        assert_error(&app.send("POST", "/vendors", body).await, 400, Some(field));
    }
    assert_eq!(app.send("POST", "/vendors", ok).await.0, 201);
    for (query, field) in [
        ("lat=1", "lon"),
        ("lat=abc&lon=1", "lat"),
        ("lat=1&lon=1&radius=-5", "radius"),
        ("lat=1&lon=1&limit=1000", "limit"),
        ("lat=1&lon=1&capability=x", "capability"),
    ] {
        assert_error(
            &app.get(&format!("/vendors/search?{query}")).await,
            400,
            Some(field),
        );
    }
    assert_error(
        &app.post_raw("/vendors", "application/json", b"{not json".to_vec())
            .await,
        400,
        None,
    );
    assert_error(
        &app.post_raw("/vendors", "application/json", vec![0xff, 0xfe, 0x00])
            .await,
        400,
        None,
    );
    assert_error(
        &app.post_raw("/vendors", "text/plain", b"{}".to_vec()).await,
        415,
        None,
    );
    assert_error(
        &app.post_raw("/vendors", "application/json", vec![b' '; 70 * 1024])
            .await,
        413,
        None,
    );
    assert_error(
        &app.send(
            "PATCH",
            "/vendors/ven-x/availability",
            json!({"status": "busy"}),
        )
        .await,
        400,
        Some("incidentId"),
    );
    assert_error(
        &app.send(
            "PATCH",
            "/vendors/ven-x/availability",
            json!({"status": "asleep"}),
        )
        .await,
        400,
        Some("status"),
    );
    assert_error(&app.get("/vendors/bad%20id").await, 400, Some("id"));
    assert_error(&app.get("/no/such/route").await, 404, None);
    assert_error(
        &app.send("DELETE", "/vendors/ven-x", json!({})).await,
        405,
        None,
    );
}
