//! Payment routes: idempotent create (`Idempotency-Key`), read.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::db;
use crate::db::payments::Created;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::model::{PaymentInput, check_id};
use crate::state::AppState;

/// The idempotency header.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

fn idempotency_key(headers: &HeaderMap) -> Result<String, ApiError> {
    let value = headers
        .get(IDEMPOTENCY_KEY)
        .ok_or_else(|| ApiError::invalid("Idempotency-Key", "the header is required"))?;
    let key = value
        .to_str()
        .ok()
        .filter(|k| (1..=255).contains(&k.len()) && k.chars().all(|c| c.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::invalid(
                "Idempotency-Key",
                "must be 1 to 255 printable ASCII characters",
            )
        })?;
    Ok(key.to_owned())
}

/// SHA-256 of the canonical request, so a reused key with another body is detected.
fn request_hash(input: &PaymentInput) -> String {
    let canonical = serde_json::to_vec(input).unwrap_or_default();
    ring::digest::digest(&ring::digest::SHA256, &canonical)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `POST /payments`.
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<PaymentInput>,
) -> ApiResult<Response> {
    let key = idempotency_key(&headers)?;
    input.validate()?;
    let payment_id = format!("pay-{}", uuid::Uuid::new_v4().simple());
    match db::payments::create(&state.db, &key, &request_hash(&input), &payment_id, &input).await {
        Ok(Created::New(view)) => Ok((StatusCode::CREATED, Json(view)).into_response()),
        Ok(Created::Replayed(view)) => {
            let mut response = (StatusCode::CREATED, Json(view)).into_response();
            response.headers_mut().insert(
                "idempotent-replayed",
                axum::http::HeaderValue::from_static("true"),
            );
            Ok(response)
        }
        Ok(Created::KeyReused) => Err(ApiError::conflict(
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different request body",
        )),
        Err(e) if e.sqlstate() == Some("23503") => {
            let text = e.to_string();
            let field = if text.contains("vendor") {
                "vendorId"
            } else {
                "incidentId"
            };
            Err(ApiError::invalid(field, "no such record")
                .with_status(StatusCode::UNPROCESSABLE_ENTITY, "unknown_reference"))
        }
        Err(e) => Err(e.into()),
    }
}

/// `GET /payments/{id}`.
pub async fn get(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    check_id(&id, "id")?;
    let payment = db::payments::get(&state.db, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("payment", &id))?;
    Ok(Json(payment).into_response())
}
