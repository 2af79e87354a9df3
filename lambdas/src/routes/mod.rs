//! The routes, one module per service, and the routers that group them.

pub mod health;
pub mod incidents;
pub mod payments;
pub mod vendors;

use std::future::Future;

use ::vendors::Vendor;
use aurora::AuroraPool;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cache::CacheOutcome;

use crate::error::ApiError;
use crate::state::AppState;

/// The `X-Cache` header, named once (a name given as `&str` is parsed on every insert).
const X_CACHE: HeaderName = HeaderName::from_static("x-cache");

/// Adds `X-Cache` to a response.
pub fn with_cache_header(outcome: CacheOutcome, response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    response
        .headers_mut()
        .insert(X_CACHE, HeaderValue::from_static(outcome.as_header()));
    response
}

/// A JSON body that is already rendered (a vendor document, a search answer), with
/// `X-Cache`.
pub fn rendered_json(
    status: StatusCode,
    outcome: CacheOutcome,
    body: impl Into<axum::body::Body>,
) -> Response {
    let mut response = (status, body.into()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(X_CACHE, HeaderValue::from_static(outcome.as_header()));
    response
}

/// Runs a database write and then brings the vendor cache in line with the vendor rows it
/// committed, in a task of its own: a client that disconnects drops this handler's
/// future, not the task, so no committed write is left without its cache update.
pub async fn write_vendors<T, E, F, Fut>(state: &AppState, write: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    E: Into<ApiError> + Send + 'static,
    F: FnOnce(AuroraPool) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(T, Vec<Vendor>), E>> + Send + 'static,
{
    let db = state.db.clone();
    let wing = state.vendors.clone();
    let task = tokio::spawn(async move {
        let (answer, committed) = write(db).await?;
        wing.committed(&committed).await;
        Ok::<T, E>(answer)
    });
    match task.await {
        Ok(result) => result.map_err(Into::into),
        Err(e) => Err(ApiError::internal(format!("write task failed: {e}"))),
    }
}
