//! The one harness of the end-to-end tests: the local router over real PostgreSQL and
//! Redis (standalone or cluster) with configurable variables ([`App::start`], or
//! [`App::standalone`] for the behaviour tests), request helpers, an open-model load driver
//! that records every request, and the figures the fault tests print.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lambdas::config::AppConfig;
use lambdas::identity::LOCAL_CALLER_HEADER;
use lambdas::state::AppState;
use serde_json::{Value, json};
use testkit::postgres::PostgresServer;
use testkit::redis::{RedisCluster, RedisServer};

/// Where the app's cache lives.
pub enum RedisKind {
    /// No Redis at all.
    None,
    /// One `redis-server`.
    Standalone,
    /// A Redis Cluster of `masters` primaries with `replicas` replicas each.
    Cluster { masters: usize, replicas: usize },
}

/// The servers and the app under test.
pub struct App {
    /// PostgreSQL (stop/start it for fault tests).
    pub postgres: PostgresServer,
    /// Standalone Redis, when chosen.
    pub redis: Option<RedisServer>,
    /// Redis Cluster, when chosen.
    pub cluster: Option<RedisCluster>,
    /// The app's shared state.
    pub state: AppState,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// HTTP client with a per-request timeout ([`CLIENT_TIMEOUT`]).
    pub http: reqwest::Client,
}

/// The caller every request of [`App::http`] names (the local router's identity header).
pub const TEST_CALLER: &str = "e2e-driver";

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

/// Every request of the fault tests gives up after this long; a request that reaches it
/// counts as hung.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(15);

impl App {
    /// Starts PostgreSQL, the chosen Redis, the migrations and the router on a free
    /// loopback port. `vars` override or add configuration variables.
    pub async fn start(redis: RedisKind, vars: &[(&str, &str)]) -> Self {
        let postgres = PostgresServer::start();
        let (standalone, cluster) = match redis {
            RedisKind::None => (None, None),
            RedisKind::Standalone => (Some(RedisServer::start()), None),
            RedisKind::Cluster { masters, replicas } => {
                (None, Some(RedisCluster::start(masters, replicas)))
            }
        };
        let mut env: HashMap<String, String> = HashMap::new();
        env.insert("DATABASE_URL".into(), postgres.url());
        env.insert("STAGE".into(), "test".into());
        if let Some(server) = &standalone {
            env.insert("REDIS_URL".into(), server.url());
            // The fault tests assert what Redis answered per request.
            env.insert("VENDOR_PROFILE_LOCAL_TTL_MS".into(), "0".into());
        }
        if let Some(cluster) = &cluster {
            env.insert("REDIS_URL".into(), cluster.urls().join(","));
            env.insert("VENDOR_PROFILE_LOCAL_TTL_MS".into(), "0".into());
            env.insert("REDIS_MODE".into(), "cluster".into());
        }
        for (name, value) in vars {
            env.insert((*name).to_owned(), (*value).to_owned());
        }
        let config = AppConfig::from_lookup(|name| env.get(name).cloned()).expect("config");
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
            redis: standalone,
            cluster,
            state,
            base: format!("http://{addr}"),
            // The local router takes the caller from this header.
            http: reqwest::Client::builder()
                .default_headers(
                    [(
                        reqwest::header::HeaderName::from_static(LOCAL_CALLER_HEADER),
                        reqwest::header::HeaderValue::from_static(TEST_CALLER),
                    )]
                    .into_iter()
                    .collect(),
                )
                .timeout(CLIENT_TIMEOUT)
                .build()
                .expect("client"),
        }
    }

    /// The behaviour tests' app: one standalone Redis, and a command timeout of 1 s, since
    /// on a machine shared with compilers the default 25 ms would turn a HIT into a BYPASS
    /// now and then (the fault tests choose their own).
    pub async fn standalone() -> Self {
        Self::start(
            RedisKind::Standalone,
            &[("REDIS_COMMAND_TIMEOUT_MS", "1000")],
        )
        .await
    }

    /// The standalone Redis.
    pub fn redis_server(&self) -> &RedisServer {
        self.redis.as_ref().expect("a standalone redis")
    }

    /// The standalone Redis, to stop or restart it.
    pub fn redis_server_mut(&mut self) -> &mut RedisServer {
        self.redis.as_mut().expect("a standalone redis")
    }

    /// `GET path`: (status, X-Cache, JSON body).
    pub async fn get(&self, path: &str) -> (u16, String, Value) {
        self.call("GET", path, None).await
    }

    /// `method path` with a JSON body: (status, X-Cache, JSON body).
    pub async fn send(&self, method: &str, path: &str, body: Value) -> (u16, String, Value) {
        self.call(method, path, Some(body)).await
    }

    /// `POST path` with raw bytes and a content type: (status, X-Cache, JSON body).
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
        answer(response).await
    }

    /// `method path` with an optional JSON body: (status, X-Cache, JSON body).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, String, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        answer(request.send().await.expect("send")).await
    }

    /// Creates a vendor and returns its id.
    pub async fn vendor(&self, name: &str, capabilities: &[&str], lat: f64, lon: f64) -> String {
        let (status, _, body) = self
            .call(
                "POST",
                "/vendors",
                Some(json!({"businessName": name, "capabilities": capabilities,
                            "location": {"lat": lat, "lon": lon}, "rating": 4.5})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["vendorId"].as_str().expect("vendorId").to_owned()
    }

    /// Creates an incident and returns its id.
    pub async fn incident(&self, kind: &str, lat: f64, lon: f64) -> String {
        let (status, _, body) = self
            .call(
                "POST",
                "/incidents",
                Some(json!({"driverId": "driver-1", "type": kind, "location": {"lat": lat, "lon": lon}})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["incidentId"].as_str().expect("incidentId").to_owned()
    }

    /// Reads a profile until Redis serves it (`HIT`): cache-aside fills on a read and hits
    /// on a later one; a few tries, since on a loaded machine one fill may miss the fault
    /// tests' short command timeout.
    pub async fn warm_profile(&self, id: &str) {
        let mut outcomes = Vec::new();
        for _ in 0..10 {
            let (status, cache, _) = self.call("GET", &format!("/vendors/{id}"), None).await;
            assert_eq!(status, 200);
            outcomes.push(cache.clone());
            if cache == "HIT" {
                return;
            }
        }
        panic!("{id} never became a HIT: {outcomes:?}");
    }

    /// Loads the geo index from the database (as the local server does at start).
    pub async fn load_index(&self) {
        assert!(self.state.cache.is_some(), "redis configured");
        self.state.vendors.rebuild_index().await.expect("rebuild");
    }

    /// `SELECT count(*) ...` through the app's pool.
    pub async fn count(&self, sql: &str) -> i64 {
        self.state
            .db
            .query_one(sql, &[])
            .await
            .expect("count")
            .get::<_, i64>(0)
    }

    /// A direct superuser connection, outside the app's pool (for fault injection).
    pub async fn admin(&self) -> aurora::tokio_postgres::Client {
        let url = self.postgres.url();
        let (client, connection) =
            aurora::tokio_postgres::connect(&url, aurora::tokio_postgres::NoTls)
                .await
                .expect("admin connection");
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
    }
}

/// (status, X-Cache, JSON body) of a response.
async fn answer(response: reqwest::Response) -> (u16, String, Value) {
    let status = response.status().as_u16();
    let cache = header(&response, "x-cache");
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("status {status}: body is not JSON: {text}"));
    (status, cache, body)
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// One request of a load run.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Which kind of request (the test's label).
    pub kind: &'static str,
    /// When it was sent, from the start of the run.
    pub at: Duration,
    /// How long it took.
    pub latency: Duration,
    /// HTTP status; `None` when no answer came (connection error or client timeout).
    pub status: Option<u16>,
    /// The client timeout fired.
    pub timed_out: bool,
    /// `X-Cache`.
    pub cache: String,
    /// The JSON body (`Null` when none or not JSON).
    pub body: Value,
    /// Whether the body was JSON.
    pub json: bool,
}

impl Sample {
    /// A 2xx answer.
    pub fn ok(&self) -> bool {
        matches!(self.status, Some(s) if (200..300).contains(&s))
    }

    /// End of the request, from the start of the run.
    pub fn end(&self) -> Duration {
        self.at + self.latency
    }
}

/// Sends one request and records it.
pub async fn measure(
    kind: &'static str,
    start: Instant,
    request: reqwest::RequestBuilder,
) -> Sample {
    let sent = Instant::now();
    let at = sent.duration_since(start);
    match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let cache = header(&response, "x-cache");
            let text = response.text().await;
            let latency = sent.elapsed();
            let (body, json) = match text.as_deref().map(serde_json::from_str::<Value>) {
                Ok(Ok(v)) => (v, true),
                _ => (Value::Null, false),
            };
            Sample {
                kind,
                at,
                latency,
                status: Some(status),
                timed_out: false,
                cache,
                body,
                json,
            }
        }
        Err(e) => Sample {
            kind,
            at,
            latency: sent.elapsed(),
            status: None,
            timed_out: e.is_timeout(),
            cache: String::new(),
            body: Value::String(e.to_string()),
            json: false,
        },
    }
}

/// Open-model load: `rate` requests per second for `duration`, whatever the answers
/// (a slow server does not slow the sender down), at most `rate * duration` requests.
/// `make(i)` builds request `i`. Returns every sample, in send order.
pub async fn open_load<F>(start: Instant, rate: u32, duration: Duration, make: F) -> Vec<Sample>
where
    F: Fn(u64) -> (&'static str, reqwest::RequestBuilder) + Send + Sync + 'static,
{
    let make = Arc::new(make);
    let total = (f64::from(rate) * duration.as_secs_f64()).round() as u64;
    let period = Duration::from_secs_f64(1.0 / f64::from(rate));
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        ticker.tick().await;
        let (kind, request) = make(i);
        tasks.push(tokio::spawn(measure(kind, start, request)));
    }
    let mut samples = Vec::with_capacity(tasks.len());
    for task in tasks {
        samples.push(task.await.expect("request task"));
    }
    samples
}

/// Latency percentile in milliseconds.
pub fn percentile_ms(samples: &[Sample], p: f64) -> f64 {
    let mut ms: Vec<f64> = samples
        .iter()
        .map(|s| s.latency.as_secs_f64() * 1000.0)
        .collect();
    if ms.is_empty() {
        return 0.0;
    }
    ms.sort_by(f64::total_cmp);
    let index = ((ms.len() - 1) as f64 * p).round() as usize;
    ms[index]
}

/// Prints the figures every fault test reports (captured by `cargo test`, shown with
/// `--nocapture`; `docs/RELIABILITY.md` quotes them).
pub fn print_figures(test: &str, load: &str, faults: &str, samples: &[Sample], recovered: &str) {
    let failed = samples.iter().filter(|s| !s.ok()).count();
    let hung = samples.iter().filter(|s| s.timed_out).count();
    let mut by_cache: std::collections::BTreeMap<&str, usize> = Default::default();
    for s in samples {
        *by_cache
            .entry(if s.cache.is_empty() {
                "-"
            } else {
                s.cache.as_str()
            })
            .or_default() += 1;
    }
    eprintln!(
        "FIGURES {test}: load={load}; faults={faults}; sent={}; failed={failed}; hung={hung}; \
         recovered-after={recovered}; x-cache={by_cache:?}; p50={:.1}ms p99={:.1}ms max={:.1}ms",
        samples.len(),
        percentile_ms(samples, 0.5),
        percentile_ms(samples, 0.99),
        percentile_ms(samples, 1.0),
    );
}

/// Seconds with millisecond precision, for the figures.
pub fn secs(d: Duration) -> String {
    format!("{:.3}s", d.as_secs_f64())
}
