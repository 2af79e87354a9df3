//! The routes, one module per service, and the routers that group them.

pub mod health;
pub mod incidents;
pub mod payments;
pub mod vendors;

use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use cache::CacheOutcome;

/// Adds `X-Cache` to a response.
pub fn with_cache_header(outcome: CacheOutcome, response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    response
        .headers_mut()
        .insert("x-cache", HeaderValue::from_static(outcome.as_header()));
    response
}
