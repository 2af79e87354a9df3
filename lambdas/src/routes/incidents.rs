//! Incident routes: create (store, match the nearest available capable vendor, mark it
//! busy atomically) and read.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::model::{IncidentCreated, IncidentInput, ValidIncident, check_id};
use crate::state::AppState;

/// The nearest available vendors with the capability, from the geo index; `None` sends
/// the match to PostgreSQL's geographic query.
async fn nearest_candidates(
    state: &AppState,
    incident: &ValidIncident,
    radius: f64,
) -> Option<Vec<String>> {
    state
        .vendors
        .nearest_available(incident.location, radius, incident.kind, 8)
        .await
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
    let owned = id.clone();
    let (view, matched) = super::write_vendors(&state, move |db| async move {
        let (view, matched) =
            db::incidents::create_and_match(&db, &owned, &incident, radius, candidates).await?;
        // The claimed vendor's committed row, for the cache.
        let claimed = match &matched {
            Some(m) => db::vendors::get(&db, &m.vendor_id).await?.into_iter().collect(),
            None => Vec::new(),
        };
        Ok::<_, aurora::AuroraError>(((view, matched), claimed))
    })
    .await?;
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
