//! The warmer against a local Lambda: an in-process server speaking the Lambda Invoke API
//! that runs the real service routers, one router (with its own `AppState`, hence its own
//! environment id) per execution environment. An environment serves one invocation at a
//! time and a new one is created when all are busy, as Lambda scales. The warmer talks to
//! it through the real `aws-sdk-lambda` client.
//!
//! Counts, not timings, are asserted: the ping hold only makes it very likely that
//! concurrent pings overlap on a busy machine.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_lambda::config::retry::RetryConfig;
use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use lambdas::config::AppConfig;
use lambdas::host::LambdaHandler;
use lambdas::router;
use lambdas::state::AppState;
use lambdas::warmer::{LambdaInvoker, Target, TargetReport, Warmer, WarmerConfig, WarmerInput};

/// Long enough that concurrent pings overlap even on a loaded two-core machine.
const HOLD: Duration = Duration::from_millis(750);

/// Makes a service's router from an environment's state.
type Build = fn(AppState) -> router::Api;

/// One function version: its router factory and its execution environments.
struct Function {
    build: Build,
    /// Most environments (reserved concurrency); beyond it invocations are throttled.
    cap: Option<usize>,
    /// Each environment's handler (what the function binary runs) and whether it is
    /// serving an invocation.
    environments: Mutex<Vec<(LambdaHandler, bool)>>,
    invocations: AtomicU32,
}

impl Function {
    fn created(&self) -> usize {
        self.environments.lock().unwrap().len()
    }
}

/// The functions this fake Lambda serves, by (name, qualifier or `$LATEST`).
struct Fleet {
    functions: HashMap<(String, String), Function>,
    invocation_types: Mutex<Vec<String>>,
}

impl Fleet {
    fn function(&self, name: &str, qualifier: &str) -> &Function {
        &self.functions[&(name.to_owned(), qualifier.to_owned())]
    }
}

fn vendor(state: AppState) -> router::Api {
    router::finish(router::vendor_routes(), state)
}

fn incidents(state: AppState) -> router::Api {
    router::finish(router::incident_routes(), state)
}

fn payments(state: AppState) -> router::Api {
    router::finish(router::payment_routes(), state)
}

/// A fresh state per environment. The ping touches no dependency, so the pool is built
/// without connecting (`build` opens nothing) to an address nothing listens on.
fn new_state() -> AppState {
    let config = AppConfig::from_lookup(|name| match name {
        "DATABASE_URL" => {
            Some("postgres://roadcall@127.0.0.1:9/roadcall?sslmode=disable".to_owned())
        }
        "STAGE" => Some("test".to_owned()),
        "EMF_METRICS" => Some("false".to_owned()),
        _ => None,
    })
    .expect("test configuration");
    let db = aurora::AuroraPool::builder(config.database.clone())
        .build()
        .expect("lazy pool");
    AppState::with_parts(db, None, config)
}

fn lambda_error(status: StatusCode, kind: &str, message: String) -> Response {
    let body = serde_json::json!({"Type": "User", "message": message}).to_string();
    (
        status,
        [
            ("x-amzn-ErrorType", kind),
            ("content-type", "application/json"),
        ],
        body,
    )
        .into_response()
}

/// `POST /2015-03-31/functions/{name}/invocations`: runs the event through an idle
/// environment's router (or a new one) and answers the API Gateway response.
async fn invoke(
    State(fleet): State<Arc<Fleet>>,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    event: Bytes,
) -> Response {
    let qualifier = query
        .get("Qualifier")
        .cloned()
        .unwrap_or_else(|| "$LATEST".to_owned());
    let invocation_type = headers
        .get("x-amz-invocation-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("RequestResponse")
        .to_owned();
    fleet.invocation_types.lock().unwrap().push(invocation_type);
    let Some(function) = fleet.functions.get(&(name.clone(), qualifier.clone())) else {
        let arn = format!("arn:aws:lambda:us-east-1:123456789012:function:{name}:{qualifier}");
        return lambda_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            format!("Function not found: {arn}"),
        );
    };
    function.invocations.fetch_add(1, Ordering::SeqCst);
    let acquired = {
        let mut environments = function.environments.lock().unwrap();
        match environments.iter().position(|(_, busy)| !busy) {
            Some(i) => Some(i),
            None if function.cap.is_some_and(|cap| environments.len() >= cap) => None,
            None => {
                let state = new_state();
                let handler = LambdaHandler::new((function.build)(state.clone()), state);
                environments.push((handler, false));
                Some(environments.len() - 1)
            }
        }
        .map(|i| {
            environments[i].1 = true;
            (i, environments[i].0.clone())
        })
    };
    let Some((index, app)) = acquired else {
        return lambda_error(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequestsException",
            "Rate Exceeded.".to_owned(),
        );
    };
    let payload = run_handler(app, &event).await;
    function.environments.lock().unwrap()[index].1 = false;
    match payload {
        Ok(payload) => (
            StatusCode::OK,
            [("x-amz-executed-version", qualifier.as_str())],
            payload,
        )
            .into_response(),
        Err(message) => {
            let body =
                serde_json::json!({"errorType": "Runtime.HandlerError", "errorMessage": message})
                    .to_string();
            (
                StatusCode::OK,
                [("x-amz-function-error", "Unhandled")],
                body,
            )
                .into_response()
        }
    }
}

/// What the function binary does with an invocation: the ping, or an HTTP event through
/// the router.
async fn run_handler(handler: LambdaHandler, event: &[u8]) -> Result<Vec<u8>, String> {
    let text = std::str::from_utf8(event).map_err(|e| e.to_string())?;
    let answer = handler.handle_json(text).await.map_err(|e| e.to_string())?;
    serde_json::to_vec(&answer).map_err(|e| e.to_string())
}

struct LocalLambda {
    fleet: Arc<Fleet>,
    addr: SocketAddr,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for LocalLambda {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn local_lambda(functions: Vec<(&str, &str, Build, Option<usize>)>) -> LocalLambda {
    let functions = functions
        .into_iter()
        .map(|(name, qualifier, build, cap)| {
            let function = Function {
                build,
                cap,
                environments: Mutex::default(),
                invocations: AtomicU32::new(0),
            };
            ((name.to_owned(), qualifier.to_owned()), function)
        })
        .collect();
    let fleet = Arc::new(Fleet {
        functions,
        invocation_types: Mutex::default(),
    });
    let app = Router::new()
        .route("/2015-03-31/functions/{name}/invocations", post(invoke))
        .with_state(Arc::clone(&fleet));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    LocalLambda {
        fleet,
        addr,
        server,
    }
}

/// A real SDK client aimed at the local endpoint. SDK retries are off so that every
/// invocation the server counts is one the warmer decided to make.
fn warmer_for(lambda: &LocalLambda) -> Warmer<LambdaInvoker> {
    let sdk = aws_sdk_lambda::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(format!("http://{}", lambda.addr))
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "static"))
        .retry_config(RetryConfig::disabled())
        .build();
    let config = WarmerConfig {
        stage: "test".to_owned(),
        hold: Some(HOLD),
        emit_emf: true,
    };
    Warmer::new(
        LambdaInvoker::new(aws_sdk_lambda::Client::from_conf(sdk)),
        config,
    )
}

fn target(function: &str, qualifier: Option<&str>, concurrency: u32) -> Target {
    Target {
        function: function.to_owned(),
        qualifier: qualifier.map(str::to_owned),
        concurrency,
    }
}

fn report<'a>(reports: &'a [TargetReport], function: &str) -> &'a TargetReport {
    reports
        .iter()
        .find(|r| r.function == function)
        .expect("a report per target")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_pings_reach_distinct_environments_then_reuse_them() {
    let lambda = local_lambda(vec![("roadcall-vendor", "live", vendor, None)]).await;
    let warmer = warmer_for(&lambda);
    let input = WarmerInput {
        targets: vec![target("roadcall-vendor", Some("live"), 3)],
    };

    let first = warmer.run(&input).await;
    let vendor_fn = lambda.fleet.function("roadcall-vendor", "live");
    let r = &first.targets[0];
    assert_eq!(
        (r.wanted, r.reached, r.cold_starts, r.error_count),
        (3, 3, 3, 0),
        "{r:?}"
    );
    assert!(!r.retried);
    assert_eq!(vendor_fn.created(), 3);

    let second = warmer.run(&input).await;
    let r = &second.targets[0];
    assert_eq!(
        (r.reached, r.cold_starts, r.error_count),
        (3, 0, 0),
        "{r:?}"
    );
    assert_eq!(
        vendor_fn.created(),
        3,
        "warm environments are reused, none created"
    );
    assert_eq!(vendor_fn.invocations.load(Ordering::SeqCst), 6);
    let types = lambda.fleet.invocation_types.lock().unwrap().clone();
    assert!(types.iter().all(|t| t == "RequestResponse"), "{types:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unknown_target_fails_alone() {
    let lambda = local_lambda(vec![
        ("roadcall-vendor", "$LATEST", vendor, None),
        ("roadcall-payments", "live", payments, None),
    ])
    .await;
    let warmer = warmer_for(&lambda);
    let input = WarmerInput {
        targets: vec![
            target("roadcall-vendor", None, 2),
            target("roadcall-nope", None, 1),
            target("roadcall-payments", Some("old"), 1),
            target("roadcall-payments", Some("live"), 1),
        ],
    };
    let summary = warmer.run(&input).await;
    assert_eq!(
        (summary.wanted, summary.reached, summary.incomplete),
        (5, 3, 2),
        "{summary:?}"
    );
    assert!(report(&summary.targets, "roadcall-vendor").complete());
    let missing = report(&summary.targets, "roadcall-nope");
    assert_eq!(
        (missing.reached, missing.error_count),
        (0, 2),
        "{missing:?}"
    );
    assert!(
        missing.errors[0].contains("ResourceNotFoundException"),
        "{:?}",
        missing.errors
    );
    let old = &summary.targets[2];
    assert_eq!((old.qualifier.as_deref(), old.reached), (Some("old"), 0));
    assert!(
        old.errors[0].contains("ResourceNotFoundException"),
        "{:?}",
        old.errors
    );
    assert_eq!(summary.targets[3].reached, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_shortfall_is_retried_exactly_once() {
    // Reserved concurrency 2: at most two environments, the other pings are throttled.
    let lambda = local_lambda(vec![("roadcall-incidents", "$LATEST", incidents, Some(2))]).await;
    let warmer = warmer_for(&lambda);
    let input = WarmerInput {
        targets: vec![target("roadcall-incidents", None, 4)],
    };
    let summary = warmer.run(&input).await;
    let r = &summary.targets[0];
    assert!(r.retried, "{r:?}");
    assert!(r.reached >= 1 && r.reached <= 2 && !r.complete(), "{r:?}");
    assert_eq!(
        r.invocations,
        4 + (4 - r.reached_first_round),
        "one retry, only the shortfall: {r:?}"
    );
    let function = lambda.fleet.function("roadcall-incidents", "$LATEST");
    assert_eq!(function.invocations.load(Ordering::SeqCst), r.invocations);
    assert!(function.created() <= 2);
    assert!(
        r.errors
            .iter()
            .any(|e| e.contains("TooManyRequestsException")),
        "{:?}",
        r.errors
    );
    assert_eq!(summary.incomplete, 1);
}
