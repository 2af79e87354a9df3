//! Incident routes: create (store, match the nearest available capable vendor, mark it
//! busy atomically) and read.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cache::Availability;

use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::model::{IncidentCreated, IncidentInput, check_id};
use crate::state::AppState;

/// `POST /incidents`.
pub async fn create(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<IncidentInput>,
) -> ApiResult<Response> {
    let incident = input.validate()?;
    let id = format!("inc-{}", uuid::Uuid::new_v4().simple());
    let (view, matched) =
        db::incidents::create_and_match(&state.db, &id, &incident, state.config.match_radius_miles)
            .await?;
    if let (Some(m), Some(vendors)) = (&matched, &state.vendors) {
        // The database already holds the assignment; the index must stop offering the
        // vendor. If Redis cannot be told, drop the vendor from it instead.
        if let Err(e) = vendors
            .set_availability(&m.vendor_id, &Availability::busy(id.clone()))
            .await
        {
            tracing::warn!(vendor = %m.vendor_id, error = %e, "cache availability update failed");
            let _ = vendors.invalidate(&[m.vendor_id.as_str()]).await;
        }
    }
    let body = IncidentCreated {
        incident_id: id,
        incident: view,
        matched,
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `GET /incidents/{id}`.
pub async fn get(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    check_id(&id, "id")?;
    let incident = db::incidents::get(&state.db, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("incident", &id))?;
    Ok(Json(incident).into_response())
}
