//! A running local server over real PostgreSQL and Redis, for the end-to-end tests.
#![allow(dead_code)]

use std::net::SocketAddr;

use lambdas::config::AppConfig;
use lambdas::state::AppState;
use serde_json::{Value, json};
use testkit::postgres::PostgresServer;
use testkit::redis::RedisServer;

/// The caller every request of [`TestApp::http`] names (the local router's header).
pub const TEST_CALLER: &str = "e2e-driver";

/// A header map naming `caller` the way the local router reads it.
pub fn caller_headers(caller: &str) -> reqwest::header::HeaderMap {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        lambdas::identity::LOCAL_CALLER_HEADER,
        reqwest::header::HeaderValue::from_str(caller).expect("caller header"),
    );
    headers
}

/// The servers and the app under test.
pub struct TestApp {
    /// PostgreSQL (kept alive for the test).
    pub postgres: PostgresServer,
    /// Redis (stop and restart it for fault tests).
    pub redis: RedisServer,
    /// The shared state of the app.
    pub state: AppState,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// An HTTP client.
    pub http: reqwest::Client,
}

impl TestApp {
    /// Starts PostgreSQL, Redis, the migrations and the local router on a free port.
    pub async fn start() -> Self {
        let postgres = PostgresServer::start();
        let redis = RedisServer::start();
        let (db_url, redis_url) = (postgres.url(), redis.url());
        let config = AppConfig::from_lookup(|name| match name {
            "DATABASE_URL" => Some(db_url.clone()),
            "REDIS_URL" => Some(redis_url.clone()),
            "STAGE" => Some("test".to_owned()),
            // Behaviour tests on a machine shared with compilers: a 25 ms command timeout
            // would turn a HIT into a BYPASS now and then (the fault tests set their own).
            "REDIS_COMMAND_TIMEOUT_MS" => Some("1000".to_owned()),
            // These tests assert what Redis answered per request; the in-process profile
            // tier has its own test (vendor_wing.rs).
            "VENDOR_PROFILE_LOCAL_TTL_MS" => Some("0".to_owned()),
            _ => None,
        })
        .expect("config");
        let state = AppState::connect(config).await.expect("connect");
        state.db.migrate().await.expect("migrate");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        let app = lambdas::router::app(state.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        // `cargo test --workspace` unifies the load crate's reqwest features, which
        // leave the TLS crypto provider to the program: install the one the workspace uses.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Self {
            postgres,
            redis,
            state,
            base: format!("http://{addr}"),
            // The local router takes the caller from this header.
            http: reqwest::Client::builder()
                .default_headers(caller_headers(TEST_CALLER))
                .build()
                .expect("client"),
        }
    }

    /// `GET path`: (status, X-Cache, JSON body).
    pub async fn get(&self, path: &str) -> (u16, String, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("send");
        split(response).await
    }

    /// `method path` with a JSON body: (status, X-Cache, JSON body).
    pub async fn send(&self, method: &str, path: &str, body: Value) -> (u16, String, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let response = self
            .http
            .request(method, format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .expect("send");
        split(response).await
    }

    /// `POST path` with raw bytes and a content type.
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> (u16, String, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("send");
        split(response).await
    }

    /// Creates a vendor and returns its id.
    pub async fn vendor(&self, name: &str, capabilities: &[&str], lat: f64, lon: f64) -> String {
        let (status, _, body) = self
            .send(
                "POST",
                "/vendors",
                json!({"businessName": name, "capabilities": capabilities, "location": {"lat": lat, "lon": lon}, "rating": 4.5}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["vendorId"].as_str().expect("vendorId").to_owned()
    }

    /// Loads the geo index from the database (as the local server does at start).
    pub async fn load_index(&self) {
        assert!(self.state.cache.is_some(), "redis configured");
        self.state.vendors.rebuild_index().await.expect("rebuild");
    }
}

async fn split(response: reqwest::Response) -> (u16, String, Value) {
    let status = response.status().as_u16();
    let cache = response
        .headers()
        .get("x-cache")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("status {status}: body is not JSON: {text}"));
    (status, cache, body)
}

/// Asserts an API error: status, code and (optionally) field.
pub fn assert_error(got: &(u16, String, Value), status: u16, field: Option<&str>) {
    assert_eq!(got.0, status, "{}", got.2);
    let error = &got.2["error"];
    assert!(
        error["code"].is_string() && error["message"].is_string(),
        "{}",
        got.2
    );
    if let Some(field) = field {
        assert_eq!(error["field"], field, "{}", got.2);
    }
}
