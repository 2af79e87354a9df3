//! Incident routes: create (store, match the nearest available capable vendor, mark it
//! busy atomically; idempotent with an `Idempotency-Key`) and read.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::payments::{optional_idempotency_key, replayed, request_hash};
use crate::config::CandidateSource;
use crate::db;
use crate::db::incidents::{Created, IdempotencyKey, MatchError, NewIncident};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::identity::Caller;
use crate::model::{IncidentInput, ValidIncident, check_id};
use crate::state::AppState;

/// The nearest available vendors with the capability, from the geo index when it holds
/// every vendor and [`CandidateSource`] asks for it. Only a hint: the claim tries them
/// first and then the whole table, so an empty or stale list never leaves an incident
/// unmatched.
async fn nearest_candidates(
    state: &AppState,
    incident: &ValidIncident,
    radius: f64,
) -> Vec<String> {
    if state.config.incident_candidates == CandidateSource::Database {
        return Vec::new();
    }
    state
        .vendors
        .nearest_available(incident.location, radius, incident.kind, 8)
        .await
        .unwrap_or_default()
}

/// What the idempotency hash covers: the validated request, field by field.
fn canonical(incident: &ValidIncident) -> serde_json::Value {
    serde_json::json!({
        "driverId": incident.driver_id,
        "type": incident.kind.as_str(),
        "lat": incident.location.lat,
        "lon": incident.location.lon,
        "description": incident.description,
    })
}

/// Creates the incident through the matcher and then brings the claimed vendor's cache
/// entry up to date: the database has it busy, the index must stop offering it.
async fn create_and_cache(state: AppState, request: NewIncident) -> Result<Created, MatchError> {
    let created = state.incidents.create(request).await?;
    if let Created::New {
        vendor: Some(vendor),
        ..
    } = &created
    {
        state.vendors.committed(std::slice::from_ref(vendor)).await;
    }
    Ok(created)
}

/// `POST /incidents`: the incident belongs to the caller; an `Idempotency-Key` is the
/// caller's own.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(input): ApiJson<IncidentInput>,
) -> ApiResult<Response> {
    let key = optional_idempotency_key(&headers)?;
    let incident = input.validate()?;
    let radius = state.config.match_radius_miles;
    let candidates = nearest_candidates(&state, &incident, radius).await;
    let request = NewIncident {
        id: format!("inc-{}", uuid::Uuid::new_v4().simple()),
        caller: caller.id().to_owned(),
        idempotency: key.map(|key| IdempotencyKey {
            key,
            request_hash: request_hash(&canonical(&incident)),
        }),
        incident,
        radius_miles: radius,
        candidates,
    };
    // The write and the cache update run in their own task: a client that disconnects
    // drops this handler, not the task, so a committed claim always reaches the cache.
    let task = tokio::spawn(create_and_cache(state.clone(), request));
    match task.await.map_err(ApiError::internal)? {
        Ok(Created::New { body, .. }) => Ok((StatusCode::CREATED, Json(body)).into_response()),
        Ok(Created::Replayed(body)) => Ok(replayed(Json(body))),
        Ok(Created::KeyReused) => Err(ApiError::invalid(
            "Idempotency-Key",
            "this Idempotency-Key was used by this caller with a different request",
        )
        .with_status(StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused")),
        Err(MatchError::Database(e)) => Err(e.into()),
        Err(MatchError::Stopped) => Err(ApiError::unavailable("the incident matcher stopped")),
    }
}

/// `GET /incidents/{id}`: the caller's own incident; anyone else's is 404, as a missing
/// one, so ids cannot be probed.
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    check_id(&id, "id")?;
    let incident = db::incidents::get(&state.db, &id, caller.id())
        .await?
        .ok_or_else(|| ApiError::not_found("incident", &id))?;
    Ok(Json(incident).into_response())
}
