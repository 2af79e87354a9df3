//! Payment routes: idempotent create (`Idempotency-Key`), read.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::db;
use crate::db::payments::Created;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::identity::Caller;
use crate::model::{PaymentInput, check_id};
use crate::state::AppState;

/// The idempotency header.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The `Idempotency-Key` header, required.
fn idempotency_key(headers: &HeaderMap) -> Result<String, ApiError> {
    optional_idempotency_key(headers)?
        .ok_or_else(|| ApiError::invalid("Idempotency-Key", "the header is required"))
}

/// The `Idempotency-Key` header when present: 1 to 255 printable ASCII characters.
pub(crate) fn optional_idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
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
    Ok(Some(key.to_owned()))
}

/// SHA-256 of the canonical request, so a reused key with another body is detected.
pub(crate) fn request_hash(input: &impl serde::Serialize) -> String {
    let canonical = serde_json::to_vec(input).unwrap_or_default();
    ring::digest::digest(&ring::digest::SHA256, &canonical)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The header that marks an answer given again for a retried idempotent request.
pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";

/// 201 with `body` and `Idempotent-Replayed: true`: the first answer to a request retried
/// with the same `Idempotency-Key`.
pub(crate) fn replayed(body: impl IntoResponse) -> Response {
    let mut response = (StatusCode::CREATED, body).into_response();
    response.headers_mut().insert(
        IDEMPOTENT_REPLAYED,
        axum::http::HeaderValue::from_static("true"),
    );
    response
}

/// `POST /payments`: for an incident of the caller's own; the `Idempotency-Key` is the
/// caller's own.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(input): ApiJson<PaymentInput>,
) -> ApiResult<Response> {
    let key = idempotency_key(&headers)?;
    input.validate()?;
    let payment_id = format!("pay-{}", uuid::Uuid::new_v4().simple());
    db::idempotency::prune_now_and_then(&state.db);
    let unknown = |field: &str| {
        ApiError::invalid(field, "no such record")
            .with_status(StatusCode::UNPROCESSABLE_ENTITY, "unknown_reference")
    };
    let created = db::payments::create(
        &state.db,
        caller.id(),
        &key,
        &request_hash(&input),
        &payment_id,
        &input,
    )
    .await;
    match created {
        Ok(Created::New(view)) => Ok((StatusCode::CREATED, Json(view)).into_response()),
        Ok(Created::Replayed(view)) => Ok(replayed(Json(view))),
        Ok(Created::KeyReused) => Err(ApiError::conflict(
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different request body",
        )),
        Ok(Created::UnknownIncident) => Err(unknown("incidentId")),
        Err(e) if e.sqlstate() == Some("23503") => {
            let field = match db::violated_constraint(&e) {
                Some(db::payments::VENDOR_FK) => "vendorId",
                Some(db::payments::INCIDENT_FK) => "incidentId",
                _ => return Err(e.into()),
            };
            Err(unknown(field))
        }
        Err(e) => Err(e.into()),
    }
}

/// `GET /payments/{id}`: the caller's own payment; anyone else's is 404, as a missing one.
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    check_id(&id, "id")?;
    let payment = db::payments::get(&state.db, &id, caller.id())
        .await?
        .ok_or_else(|| ApiError::not_found("payment", &id))?;
    Ok(Json(payment).into_response())
}
