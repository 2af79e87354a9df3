//! The routers: one per service (`vendor`, `incidents`, `payments`) and one with every
//! route for the local server. Each adds `/health`, the caller check (401 without an
//! identity on every route but `/health`), invocation metrics, the body limit and a JSON
//! 404. The warmer's ping never reaches a router: the Lambda host answers it
//! ([`crate::host::LambdaHandler`]).

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::Router;
use axum::extract::Request;
use axum::http::HeaderName;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::serve::{IncomingStream, Listener};
use futures::future::{BoxFuture, Ready, ready};
use tower::Service;

use crate::error::ApiError;
use crate::identity::{self, Caller, LOCAL_CALLER_HEADER};
use crate::metrics;
use crate::routes::{health, incidents, payments, vendors};
use crate::state::AppState;

/// The one route that answers without a caller (load balancers and operators probe it).
pub const HEALTH_PATH: &str = "/health";

/// The vendor service's routes.
pub fn vendor_routes() -> Router<AppState> {
    Router::new()
        .route("/vendors", post(vendors::create))
        .route("/vendors/search", get(vendors::search))
        .route(
            "/vendors/{id}",
            get(vendors::get_vendor).put(vendors::update),
        )
        .route(
            "/vendors/{id}/availability",
            patch(vendors::set_availability),
        )
        .route("/vendors/{id}/location", post(vendors::set_location))
}

/// The incident service's routes.
pub fn incident_routes() -> Router<AppState> {
    Router::new()
        .route("/incidents", post(incidents::create))
        .route("/incidents/{id}", get(incidents::get))
}

/// The payment service's routes.
pub fn payment_routes() -> Router<AppState> {
    Router::new()
        .route("/payments", post(payments::create))
        .route("/payments/{id}", get(payments::get))
}

/// `routes` as one service's [`Api`]: with `/health`, the caller check, metrics and the
/// JSON 404 (the body limit is [`crate::extract::ApiJson`]'s). The caller is a [`Caller`]
/// request extension that the host put there (on Lambda, from the request context); this
/// API reads no identity header.
pub fn finish(routes: Router<AppState>, state: AppState) -> Api {
    Api::new(routes, state, false)
}

/// Every route of every service for the local server (the tests and the load runs): the
/// caller comes from the [`LOCAL_CALLER_HEADER`] header, which only this API honours.
pub fn app(state: AppState) -> Api {
    let routes = vendor_routes()
        .merge(incident_routes())
        .merge(payment_routes());
    Api::new(routes, state, true)
}

/// One service's HTTP API, ready to serve ([`finish`], [`app`]): its routes, `/health` and
/// the JSON fallbacks behind the caller check and the invocation metrics. A tower service
/// over axum requests and, like a `Router`, its own make-service, so `axum::serve(listener,
/// api)` takes it. Cheap to clone.
///
/// The checks wrap the router once, here, rather than as layers of every route: axum boxes
/// and clones a layered route's service on each request, and those layers with the outer
/// router that held them were about a quarter of a profile hit's instructions once the
/// allocator was fast (docs/PERFORMANCE.md, "Session 5").
#[derive(Clone)]
pub struct Api {
    router: Router,
    state: AppState,
    /// Whether the caller comes from [`LOCAL_CALLER_HEADER`] (the local server only).
    local_identity: bool,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("local_identity", &self.local_identity)
            .finish_non_exhaustive()
    }
}

impl Api {
    fn new(routes: Router<AppState>, state: AppState, local_identity: bool) -> Self {
        let router = routes
            .route(HEALTH_PATH, get(health::health))
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .with_state(state.clone());
        Self {
            router,
            state,
            local_identity,
        }
    }
}

/// Any request body, as a `Router` takes it (`lambda_http`'s on Lambda, hyper's locally).
impl<B> Service<axum::http::Request<B>> for Api
where
    B: axum::body::HttpBody<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // A `Router` is always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: axum::http::Request<B>) -> Self::Future {
        let mut request = request.map(axum::body::Body::new);
        if self.local_identity
            && let Some(refused) = local_caller(&mut request)
        {
            return Box::pin(ready(Ok(refused)));
        }
        let (router, state) = (self.router.clone(), self.state.clone());
        Box::pin(async move { Ok(invocation(state, request, router).await) })
    }
}

/// The make-service `axum::serve` asks for: every connection gets a clone.
impl<L: Listener> Service<IncomingStream<'_, L>> for Api {
    type Response = Api;
    type Error = Infallible;
    type Future = Ready<Result<Api, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: IncomingStream<'_, L>) -> Self::Future {
        ready(Ok(self.clone()))
    }
}

/// The local server's identity: the [`LOCAL_CALLER_HEADER`] header as the caller, with
/// the claims of [`identity::LOCAL_VENDOR_HEADER`] and [`identity::LOCAL_GROUPS_HEADER`];
/// with neither, an operator who acts for every vendor (see [`crate::identity`]). Returns
/// the refusal of a bad header.
fn local_caller(request: &mut Request) -> Option<Response> {
    // Names made once: a lookup by `&str` parses and lower-cases the name on every request.
    const CALLER: HeaderName = HeaderName::from_static(LOCAL_CALLER_HEADER);
    const VENDOR: HeaderName = HeaderName::from_static(identity::LOCAL_VENDOR_HEADER);
    const GROUPS: HeaderName = HeaderName::from_static(identity::LOCAL_GROUPS_HEADER);
    let value = request.headers().get(CALLER)?;
    let Some(caller) = value.to_str().ok().and_then(Caller::new) else {
        return Some(
            ApiError::invalid(
                LOCAL_CALLER_HEADER,
                format!(
                    "must be 1 to {} printable characters",
                    identity::MAX_CALLER_CHARS
                ),
            )
            .into_response(),
        );
    };
    let header = |name: HeaderName| {
        request
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap_or_default().to_owned())
    };
    let vendor = header(VENDOR);
    let groups = header(GROUPS);
    let caller = if vendor.is_none() && groups.is_none() {
        caller.with_any_vendor()
    } else {
        caller
            .with_vendor(vendor.as_deref())
            .with_groups(groups.as_deref())
    };
    request.extensions_mut().insert(caller);
    None
}

async fn not_found(request: Request) -> Response {
    ApiError {
        status: axum::http::StatusCode::NOT_FOUND,
        code: "route_not_found",
        message: format!("no route for {} {}", request.method(), request.uri().path()),
        field: None,
        detail: None,
    }
    .into_response()
}

async fn method_not_allowed(request: Request) -> Response {
    ApiError {
        status: axum::http::StatusCode::METHOD_NOT_ALLOWED,
        code: "method_not_allowed",
        message: format!(
            "{} is not allowed on {}",
            request.method(),
            request.uri().path()
        ),
        field: None,
        detail: None,
    }
    .into_response()
}

/// Refuses requests without a caller (but `/health`) and counts real invocations.
async fn invocation(state: AppState, request: Request, mut router: Router) -> Response {
    let cold = state.environment.take_cold_start();
    state.environment.count_invocation();
    // Kept for the error log; a `Uri` clone shares its bytes (no copy of the path).
    let (method, uri) = (request.method().clone(), request.uri().clone());
    let anonymous = request.extensions().get::<Caller>().is_none();
    let response = if anonymous && uri.path() != HEALTH_PATH {
        identity::unauthenticated().into_response()
    } else {
        let Ok(response) = router.call(request).await;
        response
    };
    // Errors are logged and counted here, once, from what the handler's error reported.
    if let Some(report) = response.extensions().get::<crate::error::ErrorReport>() {
        if report.detail.as_deref() == Some(crate::error::POOL_EXHAUSTED) {
            metrics::record_pool_exhausted();
        }
        if response.status().is_server_error() {
            tracing::error!(
                %method,
                path = uri.path(),
                status = response.status().as_u16(),
                code = report.code,
                detail = report.detail.as_deref().unwrap_or(""),
                "request failed"
            );
        }
    }
    if state.config.emf_metrics {
        metrics::emit_invocation(&state, cold);
    }
    // axum's own rejections (a path parameter that is not UTF-8, for example) answer
    // plain text; the contract is a JSON error for every failure.
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if response.status().is_client_error() && !is_json {
        let status = response.status();
        let text = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        return ApiError {
            status,
            code: "invalid_request",
            message: if text.is_empty() {
                status
                    .canonical_reason()
                    .unwrap_or("bad request")
                    .to_owned()
            } else {
                text
            },
            field: None,
            detail: None,
        }
        .into_response();
    }
    response
}
