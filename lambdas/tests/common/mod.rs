//! The harness of the `lambdas` integration tests: a private PostgreSQL (and Redis when
//! asked) from `testkit`, the migrated pool, and the router driven in process.
#![allow(dead_code)]

use std::time::Duration;

use aurora::{AuroraConfig, AuroraPool};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use lambdas::config::AppConfig;
use lambdas::identity::LOCAL_CALLER_HEADER;
use lambdas::router::Api;
use lambdas::state::AppState;
use serde_json::Value;
use testkit::postgres::PostgresServer;
use testkit::redis::RedisServer;
use tower::ServiceExt as _;

/// A migrated database on its own server.
pub struct Db {
    /// The server (stopped on drop).
    pub server: PostgresServer,
    /// The pool, migrated.
    pub pool: AuroraPool,
}

impl Db {
    /// Starts PostgreSQL and runs the migrations.
    pub async fn start() -> Self {
        let server = PostgresServer::start();
        let mut config = AuroraConfig::from_url(&server.url()).expect("url");
        config.max_size = 16;
        config.wait_timeout = Duration::from_secs(30);
        let pool = AuroraPool::connect(config).await.expect("connect");
        pool.migrate().await.expect("migrate");
        Self { server, pool }
    }

    /// Whether the server has PostGIS (the migration then added `vendors.geog`).
    pub async fn has_postgis(&self) -> bool {
        lambdas::db::geo::path(&self.pool).await.expect("detect")
            == lambdas::db::geo::GeoPath::Geography
    }

    /// Inserts a vendor row directly.
    pub async fn vendor(&self, id: &str, capabilities: &[&str], lat: f64, lon: f64) {
        let caps: Vec<String> = capabilities.iter().map(|c| (*c).to_owned()).collect();
        self.pool
            .execute(
                "INSERT INTO vendors (id, business_name, capabilities, lat, lon, availability) \
                 VALUES ($1, $1, $2, $3, $4, 'available')",
                &[&id, &caps, &lat, &lon],
            )
            .await
            .expect("insert vendor");
    }

    /// Inserts `n` tow vendors `v0`, `v1`, ... a few hundred feet apart in a row east of
    /// (34, -118).
    pub async fn tow_vendors_in_a_row(&self, n: u32) {
        for i in 0..n {
            let lon = -118.0 + f64::from(i) * 0.001;
            self.vendor(&format!("v{i}"), &["tow"], 34.0, lon).await;
        }
    }

    /// Inserts an unmatched incident directly.
    pub async fn incident(&self, id: &str) {
        self.pool
            .execute(
                "INSERT INTO incidents (id, driver_id, incident_type, lat, lon) \
                 VALUES ($1, 'driver', 'tow', 0, 0)",
                &[&id],
            )
            .await
            .expect("insert incident");
    }
}

/// The app over `db` (and `redis` when given), with every route.
pub async fn app(db: &Db, redis: Option<&RedisServer>) -> (Api, AppState) {
    app_with(db, redis, &[]).await
}

/// [`app`] with more configuration variables.
pub async fn app_with(
    db: &Db,
    redis: Option<&RedisServer>,
    variables: &[(&str, &str)],
) -> (Api, AppState) {
    let db_url = db.server.url();
    let redis_url = redis.map(RedisServer::url);
    let config = AppConfig::from_lookup(|name| match name {
        "DATABASE_URL" => Some(db_url.clone()),
        "REDIS_URL" => redis_url.clone(),
        "VENDOR_PROFILE_LOCAL_TTL_MS" => Some("0".to_owned()),
        "STAGE" => Some("test".to_owned()),
        _ => variables
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| (*v).to_owned()),
    })
    .expect("config");
    let cache = match &config.redis {
        Some(redis) => Some(cache::Cache::connect(redis.clone()).await.expect("redis")),
        None => None,
    };
    let state = AppState::with_parts(db.pool.clone(), cache, config);
    (lambdas::router::app(state.clone()), state)
}

/// The caller of [`call`] unless a test names another (also the `driver_id` of
/// [`Db::incident`]'s rows, which then belong to it).
pub const DRIVER: &str = "driver";

/// One request: (status, headers, JSON body or `Null`).
pub async fn call(
    app: &Api,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (StatusCode, axum::http::HeaderMap, Value) {
    let mut request = Request::builder().method(method).uri(path);
    // The local router's identity header, unless the test names a caller itself.
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case(LOCAL_CALLER_HEADER))
    {
        request = request.header(LOCAL_CALLER_HEADER, DRIVER);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = match body {
        Some(body) => request
            .header("content-type", "application/json")
            .body(Body::from(body.to_string())),
        None => request.body(Body::empty()),
    }
    .expect("request");
    let response = app.clone().oneshot(request).await.expect("infallible");
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (parts.status, parts.headers, json)
}
