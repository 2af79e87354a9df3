//! The built function binaries under an independent Lambda emulator: cargo-lambda's
//! (`cargo lambda watch --only-lambda-apis` serves the Runtime and Invoke APIs, the test
//! starts the binary against them, `cargo lambda invoke --data-file` sends the events in
//! `tests/events/`). Real PostgreSQL and Redis from testkit, stopped and started again to
//! show that a cold start with a dependency down initialises, answers 503 (or `BYPASS`),
//! and recovers by itself. The vendor binary runs as the emulator's default function; the
//! incidents and payments binaries run side by side in one session under their own names
//! (`AWS_LAMBDA_RUNTIME_API=.../.rt/<name>`, `cargo lambda invoke <name>`).
//!
//! cargo-lambda comes from PyPI (`requirements/cargo-lambda.txt`, which `scripts/test`
//! installs into `.venv-cargo-lambda` and puts on `PATH`); without it the tests print why
//! they skip and pass.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use testkit::moto::MotoServer;
use testkit::postgres::PostgresServer;
use testkit::redis::RedisServer;

/// The workspace root (cargo-lambda reads its `Cargo.toml`).
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_path_buf()
}

/// cargo-lambda's binary: on `PATH`, or in the virtualenv `scripts/test` makes.
fn cargo_lambda() -> Option<PathBuf> {
    let venv = workspace().join(".venv-cargo-lambda/bin/cargo-lambda");
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("cargo-lambda"))
            .find(|candidate| candidate.is_file())
    });
    let found = on_path.or_else(|| venv.is_file().then_some(venv));
    if found.is_none() {
        eprintln!(
            "skipping: cargo-lambda is not installed (scripts/test installs it from \
             requirements/cargo-lambda.txt into .venv-cargo-lambda)"
        );
    }
    found
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A child process killed on drop.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// cargo-lambda's emulator on a free port, and the function binaries running against it:
/// one as its default function, others under their binary's name (one watch session
/// serves them all).
struct Emulator {
    tool: PathBuf,
    port: u16,
    _server: Process,
    function: Option<Process>,
    named: Vec<(String, Process)>,
}

impl Emulator {
    fn start(tool: PathBuf) -> Self {
        let port = free_port();
        let server = Command::new(&tool)
            .args(["lambda", "watch", "--only-lambda-apis", "--invoke-address"])
            .arg("127.0.0.1")
            .arg("--invoke-port")
            .arg(port.to_string())
            .current_dir(workspace())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cargo lambda watch");
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the emulator did not listen");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            tool,
            port,
            _server: Process(server),
            function: None,
            named: Vec::new(),
        }
    }

    /// Starts `binary` (a new execution environment) with `env`, replacing any running one.
    /// It must stay up: init succeeds even with a dependency down.
    fn run_function(&mut self, binary: &str, env: &[(&str, String)]) {
        self.function = None;
        self.function = Some(self.spawn("_", "/.rt", binary, env));
    }

    /// Starts `binary` as the emulator's function `name` (the binary's own name, which
    /// `cargo lambda invoke NAME` routes to), next to the default one.
    fn run_named(&mut self, name: &str, binary: &str, env: &[(&str, String)]) {
        let process = self.spawn(name, &format!("/.rt/{name}"), binary, env);
        self.named.push((name.to_owned(), process));
    }

    fn spawn(
        &self,
        name: &str,
        runtime_path: &str,
        binary: &str,
        env: &[(&str, String)],
    ) -> Process {
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://127.0.0.1:{}{runtime_path}", self.port),
            )
            .env("STAGE", "test")
            .env("EMF_METRICS", "false")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("function binary");
        // Its log goes to this test's output (what an operator would read in CloudWatch).
        if let Some(stderr) = child.stderr.take() {
            let name = name.to_owned();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    eprintln!("[function {name}] {line}");
                }
            });
        }
        Process(child)
    }

    /// Whether the function process is still running (an init failure exits it).
    fn function_alive(&mut self) -> bool {
        match &mut self.function {
            Some(Process(child)) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Whether the function started as `name` is still running.
    fn named_alive(&mut self, name: &str) -> bool {
        self.named
            .iter_mut()
            .find(|(n, _)| n == name)
            .is_some_and(|(_, Process(child))| matches!(child.try_wait(), Ok(None)))
    }

    /// `cargo lambda invoke --data-file` with `event`; the function's JSON answer.
    fn invoke(&self, event: &Value) -> Value {
        self.invoke_on(None, event)
    }

    /// [`Emulator::invoke`] of the function started as `name` (`None`: the default one).
    fn invoke_on(&self, name: Option<&str>, event: &Value) -> Value {
        let file = tempfile::NamedTempFile::new().expect("event file");
        std::fs::write(file.path(), event.to_string()).expect("write event");
        let output = Command::new(&self.tool)
            .args(["lambda", "invoke"])
            .args(name)
            .args(["--invoke-address", "127.0.0.1"])
            .arg("--invoke-port")
            .arg(self.port.to_string())
            .arg("--data-file")
            .arg(file.path())
            .args(["--output-format", "json"])
            .current_dir(workspace())
            .output()
            .expect("cargo lambda invoke");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "invoke failed: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_str(stdout.trim()).unwrap_or_else(|_| panic!("not JSON: {stdout}"))
    }

    /// An HTTP event: (status, X-Cache, JSON body).
    fn http(&self, event: &Value) -> (u16, Option<String>, Value) {
        self.http_on(None, event)
    }

    /// [`Emulator::http`] to the function started as `name` (`None`: the default one).
    fn http_on(&self, name: Option<&str>, event: &Value) -> (u16, Option<String>, Value) {
        let out = self.invoke_on(name, event);
        let header = |name: &str| {
            out["headers"][name]
                .as_str()
                .or_else(|| out["multiValueHeaders"][name][0].as_str())
                .map(str::to_owned)
        };
        let body = out["body"].as_str().unwrap_or_default();
        (
            out["statusCode"]
                .as_u64()
                .unwrap_or_else(|| panic!("{out}")) as u16,
            header("x-cache"),
            serde_json::from_str(body).unwrap_or_else(|_| panic!("body is not JSON: {out}")),
        )
    }
}

/// The HTTP API fixture on the named stage `dev`, for `method path`, with a caller or none.
fn http_api(method: &str, path: &str, caller: Option<&str>) -> Value {
    let mut e: Value =
        serde_json::from_str(include_str!("events/http-v2-named-stage.json")).expect("fixture");
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    e["rawPath"] = json!(format!("/dev{path}"));
    e["rawQueryString"] = json!(query);
    e["requestContext"]["http"]["path"] = json!(format!("/dev{path}"));
    e["requestContext"]["http"]["method"] = json!(method);
    match caller {
        Some(c) => e["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = json!(c),
        None => {
            e["requestContext"]
                .as_object_mut()
                .expect("context")
                .remove("authorizer");
        }
    }
    e
}

/// [`http_api`] with a JSON `body` (and an `Idempotency-Key` when given), the way API
/// Gateway passes a client's `POST`.
fn http_api_post(path: &str, caller: &str, body: &Value, idempotency_key: Option<&str>) -> Value {
    let mut e = http_api("POST", path, Some(caller));
    let text = body.to_string();
    e["headers"]["content-type"] = json!("application/json");
    e["headers"]["content-length"] = json!(text.len().to_string());
    if let Some(key) = idempotency_key {
        e["headers"]["idempotency-key"] = json!(key);
    }
    e["body"] = json!(text);
    e
}

/// The REST API fixture on stage `prod`, for `GET path`, with the driver's claims.
fn rest_api(path: &str) -> Value {
    let mut e: Value =
        serde_json::from_str(include_str!("events/rest-v1-prod.json")).expect("fixture");
    e["path"] = json!(path);
    e["pathParameters"] = json!({"proxy": path.trim_start_matches('/')});
    e["requestContext"]["path"] = json!(format!("/prod{path}"));
    e["requestContext"]["authorizer"]["claims"]["sub"] = json!("driver");
    e
}

async fn seeded_postgres() -> PostgresServer {
    let postgres = PostgresServer::start();
    let pool =
        aurora::AuroraPool::connect(aurora::AuroraConfig::from_url(&postgres.url()).unwrap())
            .await
            .expect("connect");
    pool.migrate().await.expect("migrate");
    pool.execute(
        "INSERT INTO vendors (id, business_name, capabilities, lat, lon, availability) \
         VALUES ('v1', 'Emulated Tow', '{tow}', 34, -118, 'available')",
        &[],
    )
    .await
    .expect("vendor");
    pool.shutdown(Duration::from_secs(1)).await;
    postgres
}

/// Invokes until `done` holds (a dependency that came back is found by the next request
/// that needs it; reconnection may take a request or two). Not a timing assertion: the
/// bound only stops a broken build from hanging.
fn eventually(
    emulator: &Emulator,
    event: &Value,
    done: impl Fn(&(u16, Option<String>, Value)) -> bool,
) -> (u16, Option<String>, Value) {
    eventually_on(emulator, None, event, done)
}

/// [`eventually`] for the function started as `name`.
fn eventually_on(
    emulator: &Emulator,
    name: Option<&str>,
    event: &Value,
    done: impl Fn(&(u16, Option<String>, Value)) -> bool,
) -> (u16, Option<String>, Value) {
    let mut last = emulator.http_on(name, event);
    for _ in 0..30 {
        if done(&last) {
            return last;
        }
        std::thread::sleep(Duration::from_millis(200));
        last = emulator.http_on(name, event);
    }
    last
}

#[tokio::test(flavor = "multi_thread")]
async fn the_vendor_binary_answers_every_event_source_under_the_emulator() {
    let Some(tool) = cargo_lambda() else { return };
    let postgres = seeded_postgres().await;
    let redis = RedisServer::start();
    let mut emulator = Emulator::start(tool);
    emulator.run_function(
        env!("CARGO_BIN_EXE_vendor"),
        &[("DATABASE_URL", postgres.url()), ("REDIS_URL", redis.url())],
    );
    let (status, _, health) = emulator.http(&http_api("GET", "/health", None));
    assert_eq!((status, &health["status"]), (200, &json!("ok")), "{health}");
    // A named HTTP API stage and a REST stage: the same vendor.
    let (status, _, named) = emulator.http(&http_api("GET", "/vendors/v1", Some("driver")));
    assert_eq!(status, 200, "{named}");
    assert_eq!(named["businessName"], "Emulated Tow");
    let (status, _, rest) = emulator.http(&rest_api("/vendors/v1"));
    assert_eq!((status, &rest), (200, &named));
    // No claims: 401 JSON.
    let (status, _, anonymous) = emulator.http(&http_api("GET", "/vendors/v1", None));
    assert_eq!(
        (status, &anonymous["error"]["code"]),
        (401, &json!("unauthenticated"))
    );
    // The warmer's direct ping, and its header over HTTP (an ordinary 404).
    let answer = emulator.invoke(&lambdas::warmer::ping::ping_event(Some(
        Duration::from_millis(1),
    )));
    assert_eq!(answer["warmed"], true, "{answer}");
    let mut fake = http_api("GET", "/_warmer?holdMs=10000", Some("driver"));
    fake["headers"]["x-roadcall-warmer"] = json!("1");
    let (status, _, body) = emulator.http(&fake);
    assert_eq!(
        (status, &body["error"]["code"]),
        (404, &json!("route_not_found"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cold_start_with_postgres_down_initialises_and_recovers() {
    let Some(tool) = cargo_lambda() else { return };
    let mut postgres = seeded_postgres().await;
    postgres.stop_fast();
    let mut emulator = Emulator::start(tool);
    emulator.run_function(
        env!("CARGO_BIN_EXE_vendor"),
        &[("DATABASE_URL", postgres.url())],
    );
    let read = http_api("GET", "/vendors/v1", Some("driver"));
    let (status, _, body) = emulator.http(&read);
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "service_unavailable");
    let (status, _, health) = emulator.http(&http_api("GET", "/health", None));
    assert_eq!((status, &health["status"]), (503, &json!("unavailable")));
    assert!(
        emulator.function_alive(),
        "the environment must survive its init"
    );
    postgres.start_again();
    let (status, _, body) = eventually(&emulator, &read, |(s, _, _)| *s == 200);
    assert_eq!(status, 200, "recovered without a new environment: {body}");
    assert_eq!(body["businessName"], "Emulated Tow");
    assert!(emulator.function_alive());
}

/// The incidents and payments binaries in one emulator session, both cold-started while
/// PostgreSQL is down: 503 JSON (and `/health` 503) while it is, then, once it is started,
/// the same environments serve their routes for the caller in the claims, and nobody
/// else's.
#[tokio::test(flavor = "multi_thread")]
async fn the_incidents_and_payments_binaries_start_without_postgres_and_serve_their_routes() {
    let Some(tool) = cargo_lambda() else { return };
    let mut postgres = seeded_postgres().await;
    let redis = RedisServer::start();
    postgres.stop_fast();
    let mut emulator = Emulator::start(tool);
    let env = [("DATABASE_URL", postgres.url()), ("REDIS_URL", redis.url())];
    emulator.run_named("incidents", env!("CARGO_BIN_EXE_incidents"), &env);
    emulator.run_named("payments", env!("CARGO_BIN_EXE_payments"), &env);
    let (incidents, payments) = (Some("incidents"), Some("payments"));
    let driver = "driver-7";

    for (name, path) in [
        (incidents, "/incidents/inc-1"),
        (payments, "/payments/pay-1"),
    ] {
        let (status, _, body) = emulator.http_on(name, &http_api("GET", path, Some(driver)));
        assert_eq!(
            (status, &body["error"]["code"]),
            (503, &json!("service_unavailable")),
            "{name:?} {body}"
        );
        let (status, _, health) = emulator.http_on(name, &http_api("GET", "/health", None));
        assert_eq!(
            (status, &health["status"]),
            (503, &json!("unavailable")),
            "{name:?}"
        );
    }
    assert!(emulator.named_alive("incidents") && emulator.named_alive("payments"));

    postgres.start_again();
    // The incident, in the same environment once the database answers: matched to the
    // seeded vendor next to it, and owned by the caller in the claims.
    let report = json!({"driverId": driver, "type": "tow",
                        "location": {"lat": 34.001, "lon": -118.0}, "description": "flat tire"});
    let create = http_api_post("/incidents", driver, &report, Some("inc-key-1"));
    let (status, _, created) = eventually_on(&emulator, incidents, &create, |(s, _, _)| *s != 503);
    assert_eq!(
        status, 201,
        "recovered without a new environment: {created}"
    );
    assert_eq!(created["match"]["vendorId"], "v1", "{created}");
    let incident_id = created["incidentId"]
        .as_str()
        .expect("incidentId")
        .to_owned();
    let read = http_api("GET", &format!("/incidents/{incident_id}"), Some(driver));
    let (status, _, incident) = emulator.http_on(incidents, &read);
    assert_eq!(
        (status, &incident["driverId"]),
        (200, &json!(driver)),
        "{incident}"
    );
    let theirs = http_api(
        "GET",
        &format!("/incidents/{incident_id}"),
        Some("driver-8"),
    );
    let (status, _, body) = emulator.http_on(incidents, &theirs);
    assert_eq!((status, &body["error"]["code"]), (404, &json!("not_found")));
    let (status, _, body) = emulator.http_on(
        incidents,
        &http_api("GET", &format!("/incidents/{incident_id}"), None),
    );
    assert_eq!(
        (status, &body["error"]["code"]),
        (401, &json!("unauthenticated"))
    );

    // The payment for it, from the payments function, and its idempotent replay.
    let payment = json!({"incidentId": incident_id, "vendorId": "v1", "amountCents": 12500,
                         "currency": "USD", "lineItems": [
                             {"description": "tow", "amountCents": 10000},
                             {"description": "mileage", "amountCents": 2500}]});
    let pay = http_api_post("/payments", driver, &payment, Some("pay-key-1"));
    let (status, _, paid) = eventually_on(&emulator, payments, &pay, |(s, _, _)| *s != 503);
    assert_eq!(status, 201, "recovered without a new environment: {paid}");
    assert_eq!(
        (&paid["amountCents"], &paid["vendorId"]),
        (&json!(12500), &json!("v1")),
        "{paid}"
    );
    let payment_id = paid["paymentId"].as_str().expect("paymentId").to_owned();
    let (status, _, again) = emulator.http_on(payments, &pay);
    assert_eq!(
        (status, &again["paymentId"]),
        (201, &json!(payment_id)),
        "replayed: {again}"
    );
    let read = http_api("GET", &format!("/payments/{payment_id}"), Some(driver));
    let (status, _, body) = emulator.http_on(payments, &read);
    assert_eq!(
        (status, &body["paymentId"]),
        (200, &json!(payment_id)),
        "{body}"
    );
    let theirs = http_api("GET", &format!("/payments/{payment_id}"), Some("driver-8"));
    let (status, _, body) = emulator.http_on(payments, &theirs);
    assert_eq!((status, &body["error"]["code"]), (404, &json!("not_found")));
    // Someone else paying for this driver's incident: as if it did not exist.
    let other = http_api_post("/payments", "driver-8", &payment, Some("pay-key-1"));
    let (status, _, body) = emulator.http_on(payments, &other);
    assert_eq!(
        (status, &body["error"]["code"], &body["error"]["field"]),
        (422, &json!("unknown_reference"), &json!("incidentId")),
        "{body}"
    );
    assert!(emulator.named_alive("incidents") && emulator.named_alive("payments"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cold_start_with_redis_down_answers_bypass_and_recovers() {
    let Some(tool) = cargo_lambda() else { return };
    let postgres = seeded_postgres().await;
    let mut redis = RedisServer::start();
    redis.stop();
    let mut emulator = Emulator::start(tool);
    emulator.run_function(
        env!("CARGO_BIN_EXE_vendor"),
        &[
            ("DATABASE_URL", postgres.url()),
            ("REDIS_URL", redis.url()),
            ("VENDOR_PROFILE_LOCAL_TTL_MS", "0".to_owned()),
        ],
    );
    let read = http_api("GET", "/vendors/v1", Some("driver"));
    let (status, cache, body) = emulator.http(&read);
    assert_eq!((status, cache.as_deref()), (200, Some("BYPASS")), "{body}");
    redis.restart();
    let (status, cache, _) = eventually(&emulator, &read, |(_, c, _)| c.as_deref() == Some("HIT"));
    assert_eq!(
        (status, cache.as_deref()),
        (200, Some("HIT")),
        "the cache came back"
    );
    assert!(emulator.function_alive());
}

/// `CreateSecret` in moto; the new secret's ARN.
fn create_secret(moto: &MotoServer, name: &str, value: &str) -> String {
    let body = json!({"Name": name, "SecretString": value}).to_string();
    let (status, answer) = moto
        .aws_json("secretsmanager", "secretsmanager.CreateSecret", &body)
        .expect("CreateSecret");
    assert_eq!(status, 200, "{answer}");
    let answer: Value = serde_json::from_str(&answer).expect("JSON");
    answer["ARN"].as_str().expect("ARN").to_owned()
}

/// `PutSecretValue` in moto: what a rotation's last step leaves in the secret.
fn put_secret(moto: &MotoServer, arn: &str, value: &str) {
    let body = json!({"SecretId": arn, "SecretString": value}).to_string();
    let (status, answer) = moto
        .aws_json("secretsmanager", "secretsmanager.PutSecretValue", &body)
        .expect("PutSecretValue");
    assert_eq!(status, 200, "{answer}");
}

/// What the function needs to reach a TLS Redis whose token is in `arn` (a secret in
/// `moto`): the URL without a token, like the services stack's `REDIS_URL`.
fn redis_with_secret(
    postgres: &PostgresServer,
    redis: &RedisServer,
    moto: &MotoServer,
    arn: &str,
) -> Vec<(&'static str, String)> {
    let mut env = moto.sdk_env();
    env.extend([
        ("DATABASE_URL", postgres.url()),
        ("REDIS_URL", format!("rediss://127.0.0.1:{}", redis.port())),
        (
            "REDIS_TLS_CA_FILE",
            redis.tls().expect("tls").ca.display().to_string(),
        ),
        ("REDIS_AUTH_SECRET_ARN", arn.to_owned()),
        // Short waits keep the test quick; the behaviour is the same at the defaults.
        ("REDIS_AUTH_RETRY_MS", "200".to_owned()),
        ("CACHE_BREAKER_COOL_OFF_MS", "200".to_owned()),
        ("VENDOR_PROFILE_LOCAL_TTL_MS", "0".to_owned()),
    ]);
    env
}

#[tokio::test(flavor = "multi_thread")]
async fn the_redis_token_comes_from_its_secret_and_survives_a_rotation_without_a_restart() {
    let Some(tool) = cargo_lambda() else { return };
    let postgres = seeded_postgres().await;
    let redis = RedisServer::start_tls_auth("first-token-0123456789abcdef");
    let moto = MotoServer::start();
    let arn = create_secret(
        &moto,
        "roadcall-perf/test/redis-auth-token",
        "first-token-0123456789abcdef",
    );
    let mut emulator = Emulator::start(tool);
    emulator.run_function(
        env!("CARGO_BIN_EXE_vendor"),
        &redis_with_secret(&postgres, &redis, &moto, &arn),
    );
    let read = http_api("GET", "/vendors/v1", Some("driver"));
    let (status, cache, body) =
        eventually(&emulator, &read, |(_, c, _)| c.as_deref() == Some("HIT"));
    assert_eq!((status, cache.as_deref()), (200, Some("HIT")), "{body}");

    // The rotation: Redis takes the new token, the secret holds it, and the connections
    // made with the old token go (a failover, or the end of ElastiCache's ROTATE window).
    let ok = redis.cli(&[
        "CONFIG",
        "SET",
        "requirepass",
        "second-token-fedcba9876543210",
    ]);
    assert!(ok.contains("OK"), "{ok}");
    put_secret(&moto, &arn, "second-token-fedcba9876543210");
    let new_token = ["--no-auth-warning", "-a", "second-token-fedcba9876543210"];
    let killed = redis.cli(&[&new_token[..], &["CLIENT", "KILL", "TYPE", "normal"]].concat());
    assert!(!killed.trim().is_empty(), "no client killed: {killed}");

    let (status, cache, body) =
        eventually(&emulator, &read, |(_, c, _)| c.as_deref() == Some("HIT"));
    assert_eq!(
        (status, cache.as_deref()),
        (200, Some("HIT")),
        "back on the cache with the rotated token: {body}"
    );
    let clients = redis.cli(&[&new_token[..], &["CLIENT", "LIST", "TYPE", "normal"]].concat());
    assert!(
        clients.lines().count() >= 2,
        "the function reconnected (besides this redis-cli): {clients}"
    );
    assert!(emulator.function_alive(), "the same environment recovered");
}

/// Accepts on `port` and forwards every connection to `to`, from now on (until then
/// nothing listens on `port`: connections are refused, as from an unreachable endpoint).
fn forward(port: u16, to: u16) {
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind the forwarder");
    std::thread::spawn(move || {
        for client in listener.incoming().map_while(Result::ok) {
            let Ok(server) = TcpStream::connect(("127.0.0.1", to)) else {
                continue;
            };
            let (mut client_in, mut server_out) = (
                client.try_clone().expect("clone"),
                server.try_clone().expect("clone"),
            );
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut client_in, &mut server_out);
                let _ = server_out.shutdown(std::net::Shutdown::Write);
            });
            std::thread::spawn(move || {
                let (mut client, mut server) = (client, server);
                let _ = std::io::copy(&mut server, &mut client);
                let _ = client.shutdown(std::net::Shutdown::Write);
            });
        }
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cold_start_with_secrets_manager_unreachable_answers_bypass_and_recovers() {
    let Some(tool) = cargo_lambda() else { return };
    let postgres = seeded_postgres().await;
    let redis = RedisServer::start_tls_auth("only-token-0123456789abcdef");
    let moto = MotoServer::start();
    let arn = create_secret(
        &moto,
        "roadcall-perf/test/redis-auth-token",
        "only-token-0123456789abcdef",
    );
    // Secrets Manager's endpoint is a port nobody listens on (yet).
    let endpoint_port = free_port();
    let mut env = redis_with_secret(&postgres, &redis, &moto, &arn);
    env.retain(|(name, _)| *name != "AWS_ENDPOINT_URL");
    env.push((
        "AWS_ENDPOINT_URL_SECRETS_MANAGER",
        format!("http://127.0.0.1:{endpoint_port}"),
    ));
    let mut emulator = Emulator::start(tool);
    emulator.run_function(env!("CARGO_BIN_EXE_vendor"), &env);
    let read = http_api("GET", "/vendors/v1", Some("driver"));
    let (status, cache, body) = emulator.http(&read);
    assert_eq!((status, cache.as_deref()), (200, Some("BYPASS")), "{body}");
    assert_eq!(body["businessName"], "Emulated Tow");
    assert!(
        emulator.function_alive(),
        "init survived Secrets Manager being down"
    );

    forward(endpoint_port, moto.port());
    let (status, cache, body) =
        eventually(&emulator, &read, |(_, c, _)| c.as_deref() == Some("HIT"));
    assert_eq!(
        (status, cache.as_deref()),
        (200, Some("HIT")),
        "the token was fetched once Secrets Manager answered: {body}"
    );
    assert!(emulator.function_alive());
}
