//! Incidents and payments end to end: matching, concurrency, idempotency, validation.

mod support;

use std::collections::BTreeSet;

use serde_json::{Value, json};
use support::{App, assert_error};

#[tokio::test]
async fn an_incident_gets_the_nearest_capable_vendor_or_no_match() {
    let app = App::standalone().await;
    let _far = app.vendor("Far", &["engine"], 41.90, -87.62).await;
    let near = app
        .vendor("Near", &["engine", "tow"], 41.8781, -87.6298)
        .await;
    let _wrong = app.vendor("Tires", &["tire"], 41.8781, -87.6298).await;
    let incident = json!({"driverId": "driver-42", "type": "engine", "location": {"lat": 41.878, "lon": -87.63}, "description": "won't start"});
    let (status, _, body) = app.send("POST", "/incidents", incident.clone()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["match"]["vendorId"], near.as_str());
    assert_eq!(body["incident"]["status"], "matched");
    let id = body["incidentId"].as_str().unwrap();
    let (status, _, got) = app.get(&format!("/incidents/{id}")).await;
    assert_eq!((status, &got), (200, &body["incident"]));
    let (_, _, vendor) = app.get(&format!("/vendors/{near}")).await;
    assert_eq!(
        vendor["availability"],
        json!({"status": "busy", "incidentId": id})
    );

    // Nobody with the capability in range: still created, no match.
    let (status, _, body) = app
        .send(
            "POST",
            "/incidents",
            json!({"driverId": "d", "type": "lockout", "location": {"lat": 41.878, "lon": -87.63}}),
        )
        .await;
    assert_eq!(
        (status, &body["match"], &body["incident"]["status"]),
        (201, &Value::Null, &json!("unmatched"))
    );

    for (body, field) in [
        (
            json!({"type": "tow", "location": {"lat": 1, "lon": 1}}),
            "driverId",
        ),
        (
            json!({"driverId": "d", "type": "flood", "location": {"lat": 1, "lon": 1}}),
            "type",
        ),
        (
            json!({"driverId": "d", "type": "tow", "location": {"lat": -91, "lon": 1}}),
            "location.lat",
        ),
        (json!({"driverId": "d", "type": "tow"}), "location"),
        (
            json!({"driverId": "d", "type": "tow", "location": {"lat": 1, "lon": 1}, "description": "x".repeat(2001)}),
            "description",
        ),
    ] {
        assert_error(
            &app.send("POST", "/incidents", body).await,
            400,
            Some(field),
        );
    }
    assert_error(&app.get("/incidents/inc-unknown").await, 404, None);
}

#[tokio::test]
async fn concurrent_incidents_never_share_a_vendor() {
    let app = App::standalone().await;
    let mut vendors = BTreeSet::new();
    for i in 0..6 {
        vendors.insert(
            app.vendor(
                &format!("Tow {i}"),
                &["tow"],
                29.76 + f64::from(i) * 0.01,
                -95.37,
            )
            .await,
        );
    }
    let requests = (0..30).map(|i| {
        let app = &app;
        async move {
            app.send("POST", "/incidents", json!({"driverId": format!("d-{i}"), "type": "tow", "location": {"lat": 29.76, "lon": -95.37}}))
                .await
        }
    });
    let results = futures::future::join_all(requests).await;
    let mut matched = Vec::new();
    for (status, _, body) in &results {
        assert_eq!(*status, 201, "{body}");
        if let Some(v) = body["match"]["vendorId"].as_str() {
            matched.push(v.to_owned());
        }
    }
    let distinct: BTreeSet<_> = matched.iter().cloned().collect();
    assert_eq!(matched.len(), 6, "every vendor taken once");
    assert_eq!(distinct, vendors, "no vendor taken twice");
    // Again with the geo index loaded: candidates come from Redis, the claim from PostgreSQL.
    let mut indexed = BTreeSet::new();
    for i in 0..6 {
        indexed.insert(
            app.vendor(
                &format!("Indexed Tow {i}"),
                &["tow"],
                32.78 + f64::from(i) * 0.01,
                -96.80,
            )
            .await,
        );
    }
    app.load_index().await;
    let requests = (0..30).map(|i| {
        let app = &app;
        async move {
            app.send("POST", "/incidents", json!({"driverId": format!("e-{i}"), "type": "tow", "location": {"lat": 32.78, "lon": -96.80}}))
                .await
        }
    });
    let mut matched = Vec::new();
    for (status, _, body) in futures::future::join_all(requests).await {
        assert_eq!(status, 201, "{body}");
        if let Some(v) = body["match"]["vendorId"].as_str() {
            matched.push(v.to_owned());
        }
    }
    let distinct: BTreeSet<_> = matched.iter().cloned().collect();
    assert_eq!(
        (matched.len(), &distinct),
        (6, &indexed),
        "indexed path: every vendor taken once"
    );

    // No vendor is busy without an incident pointing at it.
    let orphans = app
        .state
        .db
        .query_one(
            "SELECT count(*) FROM vendors v WHERE v.availability = 'busy' AND NOT EXISTS \
             (SELECT 1 FROM incidents i WHERE i.id = v.current_incident_id AND i.matched_vendor_id = v.id)",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(orphans.get::<_, i64>(0), 0);
}

fn payment(incident: &str, vendor: &str, amount: i64) -> Value {
    json!({"incidentId": incident, "vendorId": vendor, "amountCents": amount, "currency": "USD",
           "lineItems": [{"description": "tow", "amountCents": amount - 500}, {"description": "mileage", "amountCents": 500}]})
}

async fn pay(app: &App, key: Option<&str>, body: &Value) -> (u16, Value) {
    let mut request = app.http.post(format!("{}/payments", app.base)).json(body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn payments_are_idempotent_under_concurrent_retries() {
    let app = App::standalone().await;
    let vendor = app.vendor("Pay Me", &["tow"], 33.44, -112.07).await;
    let (_, _, incident) = app
        .send(
            "POST",
            "/incidents",
            json!({"driverId": "d", "type": "tow", "location": {"lat": 33.44, "lon": -112.07}}),
        )
        .await;
    let incident = incident["incidentId"].as_str().unwrap().to_owned();

    let body = payment(&incident, &vendor, 12_500);
    let (status, first) = pay(&app, Some("key-1"), &body).await;
    assert_eq!(status, 201, "{first}");
    let (status, again) = pay(&app, Some("key-1"), &body).await;
    assert_eq!(
        (status, &again),
        (201, &first),
        "the same key and body replay the first answer"
    );
    let (status, other) = pay(&app, Some("key-1"), &payment(&incident, &vendor, 9_900)).await;
    assert_eq!(status, 409, "{other}");
    let (status, got) = app
        .get(&format!(
            "/payments/{}",
            first["paymentId"].as_str().unwrap()
        ))
        .await
        .split_status();
    assert_eq!((status, &got), (200, &first));

    // 10 keys, each sent 8 times at once.
    let sends = (0..80).map(|i| {
        let (app, body) = (&app, &body);
        async move { pay(app, Some(&format!("burst-{}", i % 10)), body).await }
    });
    let results = futures::future::join_all(sends).await;
    let mut ids = BTreeSet::new();
    for (status, body) in &results {
        assert_eq!(*status, 201, "{body}");
        ids.insert(body["paymentId"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 10);
    let count = |sql: &'static str| {
        let db = app.state.db.clone();
        async move { db.query_one(sql, &[]).await.unwrap().get::<_, i64>(0) }
    };
    assert_eq!(count("SELECT count(*) FROM payments").await, 11);
    assert_eq!(count("SELECT count(*) FROM payment_audit_log").await, 11);
    assert_eq!(count("SELECT count(*) FROM payment_line_items").await, 22);

    assert_error(
        &(pay(&app, None, &body).await).into_triple(),
        400,
        Some("Idempotency-Key"),
    );
    let mut bad_sum = body.clone();
    bad_sum["amountCents"] = json!(1);
    assert_error(
        &(pay(&app, Some("k2"), &bad_sum).await).into_triple(),
        400,
        Some("lineItems"),
    );
    let mut bad_currency = body.clone();
    bad_currency["currency"] = json!("usd");
    assert_error(
        &(pay(&app, Some("k3"), &bad_currency).await).into_triple(),
        400,
        Some("currency"),
    );
    let mut negative = body.clone();
    negative["lineItems"][1]["amountCents"] = json!(-5);
    assert_error(
        &(pay(&app, Some("k4"), &negative).await).into_triple(),
        400,
        Some("lineItems[1].amountCents"),
    );
    let unknown = payment("inc-nope", &vendor, 1000);
    assert_error(
        &(pay(&app, Some("k5"), &unknown).await).into_triple(),
        422,
        Some("incidentId"),
    );
    assert_error(&app.get("/payments/pay-nope").await, 404, None);
}

#[tokio::test]
async fn health_reports_database_and_redis() {
    let app = App::standalone().await;
    let (status, _, body) = app.get("/health").await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("ok")),
        "{body}"
    );
    assert_eq!(body["database"]["writable"], true);
    assert!(body["pool"]["size"].as_u64().unwrap() >= 1);
}

trait Triple {
    fn into_triple(self) -> (u16, String, Value);
}

impl Triple for (u16, Value) {
    fn into_triple(self) -> (u16, String, Value) {
        (self.0, String::new(), self.1)
    }
}

trait SplitStatus {
    fn split_status(self) -> (u16, Value);
}

impl SplitStatus for (u16, String, Value) {
    fn split_status(self) -> (u16, Value) {
        (self.0, self.2)
    }
}
