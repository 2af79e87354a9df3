//! The routers: one per service (`vendor`, `incidents`, `payments`) and one with every
//! route for the local server. Each adds `/health`, the caller check (401 without an
//! identity on every route but `/health`), invocation metrics, the body limit and a JSON
//! 404. The warmer's ping never reaches a router: the Lambda host answers it
//! ([`crate::host::LambdaHandler`]).

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};

use crate::error::ApiError;
use crate::extract::MAX_BODY_BYTES;
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

/// Adds `/health`, the caller check, metrics, the body limit and the JSON 404 to `routes`.
/// The caller is a [`Caller`] request extension that the host put there (on Lambda, from
/// the request context); this router reads no identity header.
pub fn finish(routes: Router<AppState>, state: AppState) -> Router {
    routes
        .route(HEALTH_PATH, get(health::health))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), invocation))
        .with_state(state)
}

/// Every route of every service for the local server (the tests and the load runs): the
/// caller comes from the [`LOCAL_CALLER_HEADER`] header, which only this router honours.
pub fn app(state: AppState) -> Router {
    finish(
        vendor_routes()
            .merge(incident_routes())
            .merge(payment_routes()),
        state,
    )
    .layer(middleware::from_fn(local_caller))
}

/// The local server's identity: the [`LOCAL_CALLER_HEADER`] header as the caller, with
/// the claims of [`identity::LOCAL_VENDOR_HEADER`] and [`identity::LOCAL_GROUPS_HEADER`];
/// with neither, an operator who acts for every vendor (see [`crate::identity`]).
async fn local_caller(mut request: Request, next: Next) -> Response {
    if let Some(value) = request.headers().get(LOCAL_CALLER_HEADER) {
        match value.to_str().ok().and_then(Caller::new) {
            Some(caller) => {
                let header = |name: &str| {
                    request
                        .headers()
                        .get(name)
                        .map(|v| v.to_str().unwrap_or_default().to_owned())
                };
                let vendor = header(identity::LOCAL_VENDOR_HEADER);
                let groups = header(identity::LOCAL_GROUPS_HEADER);
                let caller = if vendor.is_none() && groups.is_none() {
                    caller.with_any_vendor()
                } else {
                    caller
                        .with_vendor(vendor.as_deref())
                        .with_groups(groups.as_deref())
                };
                request.extensions_mut().insert(caller);
            }
            None => {
                return ApiError::invalid(
                    LOCAL_CALLER_HEADER,
                    format!(
                        "must be 1 to {} printable characters",
                        identity::MAX_CALLER_CHARS
                    ),
                )
                .into_response();
            }
        }
    }
    next.run(request).await
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
async fn invocation(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let cold = state.environment.take_cold_start();
    state.environment.count_invocation();
    // Kept for the error log; a `Uri` clone shares its bytes (no copy of the path).
    let (method, uri) = (request.method().clone(), request.uri().clone());
    let anonymous = request.extensions().get::<Caller>().is_none();
    let response = if anonymous && uri.path() != HEALTH_PATH {
        identity::unauthenticated().into_response()
    } else {
        next.run(request).await
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
