//! Running a service's API on Lambda or locally, with the shared start-up: configuration from
//! the environment, logs, connections.
//!
//! On Lambda one invocation is either the warmer's direct ping (a payload of its own,
//! [`crate::warmer::ping::PingRequest`], answered here without touching the router or any
//! dependency) or an HTTP event from API Gateway (REST v1 or HTTP API v2, on any stage), an
//! ALB or a function URL. HTTP events go through `lambda_http`'s own conversion, then
//! [`prepare`] (the one place that takes the stage and CloudFront's `/api` prefix off the
//! path and reads the caller from the request context), then the router; the answer goes
//! back in the shape the event source expects.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use axum::http::Uri;
use axum::response::Response;
use lambda_http::request::{LambdaRequest, RequestContext};
use lambda_http::{Adapter, LambdaEvent, RequestExt};
use serde_json::Value;
use serde_json::value::RawValue;
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceExt};

use crate::config::AppConfig;
use crate::identity;
use crate::router::Api;
use crate::state::AppState;
use crate::warmer::ping::{PingAnswer, PingRequest};

/// The prefix CloudFront's `/api/*` behaviour forwards (the distribution strips it too;
/// taking it off here as well keeps a distribution without that function working).
pub const CDN_PREFIX: &str = "/api";

/// The longest hold a ping may ask for.
pub const MAX_PING_HOLD: Duration = Duration::from_secs(10);

/// JSON logs on Lambda (with the request id that the runtime's span carries), pretty
/// logs locally; `RUST_LOG` filters.
pub fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = if json {
        builder
            .json()
            .with_current_span(true)
            .without_time()
            .try_init()
    } else {
        builder.try_init()
    };
}

/// Runs one service on Lambda: `build` makes its API from the shared state. The state
/// is created once per execution environment and reused by every invocation.
///
/// Only a bad configuration fails the start: PostgreSQL or Redis being down is not an
/// init error ([`AppState::start`]); requests answer 503 (or `X-Cache: BYPASS`) until the
/// dependency is back.
pub async fn run_lambda(build: fn(AppState) -> Api) -> Result<(), lambda_http::Error> {
    init_tracing(true);
    let config = AppConfig::from_env().map_err(|e| format!("configuration: {e}"))?;
    let state = AppState::start(config)
        .await
        .map_err(|e| format!("start-up: {e}"))?;
    // A cold start never waits for the vendor index: at most it starts the fleet's rebuild.
    state.vendors.start_rebuild();
    let handler = LambdaHandler::new(build(state.clone()), state);
    lambda_runtime::run(lambda_runtime::service_fn(move |event| {
        let handler = handler.clone();
        async move { handler.handle(event).await }
    }))
    .await
}

/// The router behind [`prepare`], as `lambda_http` drives it.
type HttpService = BoxCloneSyncService<lambda_http::Request, Response, Infallible>;

/// One function's invocation handler: the warmer ping or an HTTP event through the
/// router. Cheap to clone.
#[derive(Clone)]
pub struct LambdaHandler {
    http: HttpService,
    state: AppState,
}

impl std::fmt::Debug for LambdaHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LambdaHandler")
            .field("environment", &self.state.environment.id)
            .finish()
    }
}

impl LambdaHandler {
    /// `api` (a service's API from [`crate::router::finish`]) over `state`.
    pub fn new(api: Api, state: AppState) -> Self {
        let trust_alb_oidc = state.config.alb_oidc_identity;
        let service = api.map_request(move |request| prepare(request, trust_alb_oidc));
        Self {
            http: BoxCloneSyncService::new(service),
            state,
        }
    }

    /// Answers one invocation: the ping's answer, or the event source's HTTP response.
    /// A payload that is neither is the invocation's error.
    pub async fn handle(
        &self,
        event: LambdaEvent<Box<RawValue>>,
    ) -> Result<Value, lambda_http::Error> {
        let LambdaEvent { payload, context } = event;
        if let Ok(ping) = serde_json::from_str::<PingRequest>(payload.get()) {
            return Ok(serde_json::to_value(self.ping(ping).await)?);
        }
        let request: LambdaRequest = serde_json::from_str(payload.get())?;
        let mut http = self.http.clone();
        http.ready().await?;
        // The adapter is `lambda_http`'s own: the event's conversion to a request and the
        // router's answer back to the source's response shape. Made per call and dropped
        // before the await (it is neither `Send` nor `Sync`), so this future is `Send`.
        let answer = Adapter::from(http).call(LambdaEvent::new(request, context));
        let response = answer.await?;
        Ok(serde_json::to_value(response)?)
    }

    /// [`Self::handle`] for a JSON payload with an empty Lambda context (tests, tools).
    pub async fn handle_json(&self, payload: &str) -> Result<Value, lambda_http::Error> {
        let payload = RawValue::from_string(payload.to_owned())?;
        self.handle(LambdaEvent::new(payload, lambda_http::Context::default()))
            .await
    }

    /// Holds the environment for the ping's hold (so concurrent pings land on distinct
    /// environments) and says which environment answered. Touches no dependency.
    async fn ping(&self, ping: PingRequest) -> PingAnswer {
        let cold = self.state.environment.take_cold_start();
        let hold = ping
            .hold()
            .unwrap_or(self.state.config.warmer_hold)
            .min(MAX_PING_HOLD);
        tokio::time::sleep(hold).await;
        PingAnswer {
            warmed: true,
            environment_id: self.state.environment.id.clone(),
            cold_start: cold,
        }
    }
}

/// What the router sees of a Lambda HTTP event: the path without the API Gateway stage
/// (REST v1 on any stage; HTTP API on a named stage, whose `rawPath` carries it) and
/// without [`CDN_PREFIX`], and the caller from the request context
/// ([`identity::from_context`]) as a [`identity::Caller`] extension.
///
/// `lambda_http` puts a REST stage into the path (unless
/// `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` is set) and leaves an HTTP API `rawPath` as it
/// came; either way the stage named by the context is taken off here, once.
pub fn prepare(mut request: lambda_http::Request, trust_alb_oidc: bool) -> lambda_http::Request {
    let (stage, caller) = match request.request_context_ref() {
        Some(context) => {
            let stage = match context {
                RequestContext::ApiGatewayV1(ctx) => ctx.stage.clone(),
                RequestContext::ApiGatewayV2(ctx) => ctx.stage.clone(),
                _ => None,
            };
            let caller = identity::from_context(context, request.headers(), trust_alb_oidc);
            (stage.filter(|s| !s.is_empty() && s != "$default"), caller)
        }
        None => (None, None),
    };
    if let Some(caller) = caller {
        request.extensions_mut().insert(caller);
    }
    let path = request.uri().path();
    let mut routed = path;
    if let Some(stage) = &stage {
        routed = strip_segment(routed, &format!("/{stage}"));
    }
    routed = strip_segment(routed, CDN_PREFIX);
    if routed.len() != path.len() {
        let routed = if routed.is_empty() { "/" } else { routed };
        let path_and_query = match request.uri().query() {
            Some(query) => format!("{routed}?{query}"),
            None => routed.to_owned(),
        };
        let mut parts = request.uri().clone().into_parts();
        // The path came from a valid URI, so its remainder is a valid one too.
        if let Ok(pq) = path_and_query.parse() {
            parts.path_and_query = Some(pq);
            if let Ok(uri) = Uri::from_parts(parts) {
                *request.uri_mut() = uri;
            }
        }
    }
    request
}

/// `path` without a leading `prefix` segment (`/dev/vendors` less `/dev` is `/vendors`;
/// `/devices` keeps its `/dev`).
fn strip_segment<'a>(path: &'a str, prefix: &str) -> &'a str {
    match path.strip_prefix(prefix) {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
        _ => path,
    }
}

/// Serves `api` on `addr` until Ctrl-C or SIGTERM, then lets requests in flight end.
pub async fn serve_local(addr: SocketAddr, api: Api) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "listening");
    axum::serve(listener, api)
        .with_graceful_shutdown(async {
            let ctrl_c = tokio::signal::ctrl_c();
            #[cfg(unix)]
            {
                let mut term =
                    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    {
                        Ok(s) => s,
                        Err(_) => {
                            let _ = ctrl_c.await;
                            return;
                        }
                    };
                tokio::select! {
                    _ = ctrl_c => {},
                    _ = term.recv() => {},
                }
            }
            #[cfg(not(unix))]
            {
                let _ = ctrl_c.await;
            }
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_whole_leading_segments_are_stripped() {
        assert_eq!(strip_segment("/dev/vendors/v1", "/dev"), "/vendors/v1");
        assert_eq!(strip_segment("/dev", "/dev"), "");
        assert_eq!(strip_segment("/devices", "/dev"), "/devices");
        assert_eq!(strip_segment("/vendors/dev", "/dev"), "/vendors/dev");
        assert_eq!(strip_segment("/api/health", CDN_PREFIX), "/health");
    }
}
