//! Incident routes: create (store, match the nearest available capable vendor, mark it
//! busy atomically) and read.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cache::{Availability, VendorQuery};

use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::model::{IncidentCreated, IncidentInput, ValidIncident, check_id};
use crate::state::AppState;

/// The nearest available vendors with the capability, from the geo index when it holds
/// every vendor; `None` sends the match to PostgreSQL's geographic query.
async fn nearest_candidates(
    state: &AppState,
    incident: &ValidIncident,
    radius: f64,
) -> Option<Vec<String>> {
    let vendors = state.vendors.as_ref()?;
    if !state.index.is_ready().await {
        return None;
    }
    let query = VendorQuery::available(incident.location, radius, incident.kind).limit(8);
    match vendors.search_index(&query).await {
        Ok(found) => Some(found.into_iter().map(|m| m.vendor_id).collect()),
        Err(e) => {
            tracing::warn!(error = %e, "geo index unavailable; matching in PostgreSQL");
            None
        }
    }
}

/// `POST /incidents`.
pub async fn create(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<IncidentInput>,
) -> ApiResult<Response> {
    let incident = input.validate()?;
    let id = format!("inc-{}", uuid::Uuid::new_v4().simple());
    let radius = state.config.match_radius_miles;
    let candidates = nearest_candidates(&state, &incident, radius).await;
    let (view, matched) =
        db::incidents::create_and_match(&state.db, &id, &incident, radius, candidates).await?;
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
