//! Vendor routes: profile (cache-aside), nearby search (Redis geo index, PostgreSQL when
//! Redis cannot answer), and writes that go to PostgreSQL first, then to the cache.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cache::{AvailabilityStatus, CacheOutcome, Capability, GeoPoint, GeoUnit, Vendor, VendorQuery};

use super::with_cache_header;
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::model::{
    self, AvailabilityInput, Location, VendorInput, VendorView, check_id, check_lat, check_lon,
    parse_capability,
};
use crate::state::AppState;

/// Default search radius in miles.
pub const DEFAULT_RADIUS_MILES: f64 = 25.0;
/// Largest search radius in miles.
pub const MAX_RADIUS_MILES: f64 = 500.0;
/// Default and largest number of results.
pub const DEFAULT_LIMIT: usize = 10;
/// Largest number of results.
pub const MAX_LIMIT: usize = 100;

/// Keeps the cache in step after a database write; the database already holds the truth,
/// so a cache failure only costs freshness, and the entry is dropped if it can be.
async fn refresh_cache(state: &AppState, vendor: &Vendor) {
    let Some(vendors) = &state.vendors else {
        return;
    };
    if let Err(e) = vendors.put_profile(vendor).await {
        tracing::warn!(vendor = %vendor.id, error = %e, "cache refresh failed; dropping the entry");
        let _ = vendors.invalidate(&[vendor.id.as_str()]).await;
    }
}

/// `GET /vendors/{id}`.
pub async fn get_vendor(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    check_id(&id, "id")?;
    let (vendor, outcome) = match &state.vendors {
        Some(vendors) => {
            let db = state.db.clone();
            let owned = id.clone();
            let cached = vendors
                .get_or_load_profile(
                    &id,
                    move || async move { db::vendors::get(&db, &owned).await },
                )
                .await?;
            (cached.value, cached.outcome)
        }
        None => (
            db::vendors::get(&state.db, &id).await?,
            CacheOutcome::Bypass,
        ),
    };
    let vendor = vendor.ok_or_else(|| ApiError::not_found("vendor", &id))?;
    Ok(with_cache_header(outcome, Json(VendorView::from(&vendor))))
}

/// Validated search parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchParams {
    /// Center.
    pub center: GeoPoint,
    /// Radius in miles.
    pub radius_miles: f64,
    /// Required capability.
    pub capability: Option<Capability>,
    /// Only available vendors.
    pub available_only: bool,
    /// Result count.
    pub limit: usize,
}

fn number(value: &str, field: &str) -> Result<f64, ApiError> {
    value
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| ApiError::invalid(field, format!("`{value}` is not a number")))
}

/// Parses `lat`, `lon`, `radius`, `capability`, `availableOnly` and `limit`.
pub fn parse_search(pairs: &[(String, String)]) -> Result<SearchParams, ApiError> {
    let (mut lat, mut lon, mut radius, mut capability, mut available_only, mut limit) =
        (None, None, DEFAULT_RADIUS_MILES, None, true, DEFAULT_LIMIT);
    let mut seen = std::collections::BTreeSet::new();
    for (key, value) in pairs {
        if !seen.insert(key.as_str()) {
            return Err(ApiError::invalid(key.as_str(), "given more than once"));
        }
        match key.as_str() {
            "lat" => {
                let v = number(value, "lat")?;
                check_lat(v, "lat")?;
                lat = Some(v);
            }
            "lon" => {
                let v = number(value, "lon")?;
                check_lon(v, "lon")?;
                lon = Some(v);
            }
            "radius" => {
                radius = number(value, "radius")?;
                if !(radius > 0.0 && radius <= MAX_RADIUS_MILES) {
                    return Err(ApiError::invalid("radius", "must be miles in (0, 500]"));
                }
            }
            "capability" => capability = Some(parse_capability(value, "capability")?),
            "availableOnly" => {
                available_only = match value.as_str() {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => return Err(ApiError::invalid("availableOnly", "must be true or false")),
                }
            }
            "limit" => {
                limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|l| (1..=MAX_LIMIT).contains(l))
                    .ok_or_else(|| {
                        ApiError::invalid(
                            "limit",
                            format!("must be an integer in [1, {MAX_LIMIT}]"),
                        )
                    })?;
            }
            other => {
                return Err(ApiError::invalid(
                    other,
                    "unknown parameter; use lat, lon, radius, capability, availableOnly, limit",
                ));
            }
        }
    }
    Ok(SearchParams {
        center: GeoPoint::new(
            lat.ok_or_else(|| ApiError::invalid("lat", "required"))?,
            lon.ok_or_else(|| ApiError::invalid("lon", "required"))?,
        ),
        radius_miles: radius,
        capability,
        available_only,
        limit,
    })
}

fn round2(miles: f64) -> f64 {
    (miles * 100.0).round() / 100.0
}

/// Search answer body.
#[derive(Debug, serde::Serialize)]
struct SearchBody {
    vendors: Vec<VendorView>,
    count: usize,
}

fn search_response(outcome: CacheOutcome, found: Vec<(Vendor, f64)>) -> Response {
    let vendors: Vec<VendorView> = found
        .iter()
        .map(|(v, miles)| VendorView {
            distance_miles: Some(round2(*miles)),
            ..VendorView::from(v)
        })
        .collect();
    let count = vendors.len();
    with_cache_header(outcome, Json(SearchBody { vendors, count }))
}

/// The search through the geo index; `None` when Redis cannot answer.
async fn search_index(
    state: &AppState,
    p: &SearchParams,
) -> Option<(CacheOutcome, Vec<(Vendor, f64)>)> {
    let vendors = state.vendors.as_ref()?;
    let query = VendorQuery {
        center: p.center,
        radius: p.radius_miles,
        unit: GeoUnit::Miles,
        capability: p.capability,
        status: p.available_only.then_some(AvailabilityStatus::Available),
        limit: p.limit,
    };
    let found = match vendors.search_nearby(&query).await {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(error = %e, "geo search failed; answering from PostgreSQL");
            return None;
        }
    };
    let ids: Vec<&str> = found.matches.iter().map(|m| m.vendor_id.as_str()).collect();
    let profiles = match vendors.get_profiles(&ids).await {
        Ok(profiles) => profiles,
        Err(e) => {
            tracing::warn!(error = %e, "profile read failed; answering from PostgreSQL");
            return None;
        }
    };
    let mut out = Vec::with_capacity(ids.len());
    for (m, profile) in found.matches.iter().zip(profiles) {
        let vendor = match profile {
            Some(v) => v,
            // Expired between the search and the read: the database has it.
            None => match db::vendors::get(&state.db, &m.vendor_id).await {
                Ok(Some(v)) => v,
                _ => continue,
            },
        };
        // The index and the profile agree on the filters; re-check what the client asked.
        if p.available_only && vendor.availability.status != AvailabilityStatus::Available {
            continue;
        }
        out.push((vendor, m.distance));
    }
    Some((found.outcome, out))
}

/// `GET /vendors/search`.
pub async fn search(
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let Query(pairs) =
        query.map_err(|e| ApiError::bad_body(format!("cannot read the query string: {e}")))?;
    let params = parse_search(&pairs)?;
    let mut outcome = CacheOutcome::Bypass;
    if let Some(vendors) = &state.vendors {
        match state.index.readiness().await {
            Some(true) => {
                if let Some((hit, found)) = search_index(&state, &params).await {
                    return Ok(search_response(hit, found));
                }
            }
            Some(false) => {
                // The index is incomplete: answer from the database and refill it.
                outcome = CacheOutcome::Miss;
                state
                    .index
                    .reload_in_background(state.db.clone(), vendors.clone());
            }
            None => {}
        }
    }
    let found = db::vendors::search(
        &state.db,
        &db::vendors::SearchQuery {
            center: params.center,
            radius_miles: params.radius_miles,
            capability: params.capability,
            status: params
                .available_only
                .then_some(AvailabilityStatus::Available),
            limit: params.limit,
        },
    )
    .await?;
    Ok(search_response(outcome, found))
}

/// `POST /vendors`.
pub async fn create(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<VendorInput>,
) -> ApiResult<Response> {
    let valid = input.validate()?;
    let vendor = model::new_vendor(format!("ven-{}", uuid::Uuid::new_v4().simple()), &valid);
    db::vendors::insert(&state.db, &vendor).await?;
    refresh_cache(&state, &vendor).await;
    Ok((StatusCode::CREATED, Json(VendorView::from(&vendor))).into_response())
}

/// `PUT /vendors/{id}`.
pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<VendorInput>,
) -> ApiResult<Response> {
    check_id(&id, "id")?;
    let valid = input.validate()?;
    let vendor = db::vendors::update_profile(&state.db, &id, &valid)
        .await?
        .ok_or_else(|| ApiError::not_found("vendor", &id))?;
    refresh_cache(&state, &vendor).await;
    Ok(Json(VendorView::from(&vendor)).into_response())
}

/// `PATCH /vendors/{id}/availability`.
pub async fn set_availability(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<AvailabilityInput>,
) -> ApiResult<Response> {
    check_id(&id, "id")?;
    let availability = input.validate()?;
    use db::vendors::AvailabilityChange as Change;
    let vendor = match db::vendors::set_availability(&state.db, &id, &availability).await? {
        Change::Changed(vendor) => vendor,
        Change::NotFound => return Err(ApiError::not_found("vendor", &id)),
        Change::Refused { why, .. } => {
            return Err(ApiError::invalid("status", why.to_string())
                .with_status(StatusCode::CONFLICT, "transition_refused"));
        }
        Change::NoSuchIncident => {
            return Err(ApiError::invalid("incidentId", "no such incident")
                .with_status(StatusCode::UNPROCESSABLE_ENTITY, "unknown_reference"));
        }
        Change::IncidentTaken { by } => {
            return Err(ApiError::invalid(
                "incidentId",
                format!("the incident is matched to vendor {by}"),
            )
            .with_status(StatusCode::CONFLICT, "incident_taken"));
        }
        Change::IncidentClosed { status } => {
            return Err(ApiError::invalid(
                "incidentId",
                format!("the incident is {status} and takes no vendor"),
            )
            .with_status(StatusCode::CONFLICT, "incident_closed"));
        }
    };
    refresh_cache(&state, &vendor).await;
    Ok(Json(VendorView::from(&vendor)).into_response())
}

/// `POST /vendors/{id}/location`.
pub async fn set_location(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<Location>,
) -> ApiResult<Response> {
    check_id(&id, "id")?;
    let point = input.validate("")?;
    let vendor = db::vendors::set_location(&state.db, &id, point)
        .await?
        .ok_or_else(|| ApiError::not_found("vendor", &id))?;
    refresh_cache(&state, &vendor).await;
    Ok(Json(VendorView::from(&vendor)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn search_parameters_are_checked_and_defaulted() {
        let p = parse_search(&pairs(&[("lat", "40.7"), ("lon", "-74")])).unwrap();
        assert_eq!(
            (p.radius_miles, p.limit, p.available_only, p.capability),
            (25.0, 10, true, None)
        );
        for (q, field) in [
            (vec![("lon", "1")], "lat"),
            (vec![("lat", "91"), ("lon", "1")], "lat"),
            (vec![("lat", "1"), ("lon", "-181")], "lon"),
            (vec![("lat", "1"), ("lon", "1"), ("radius", "0")], "radius"),
            (
                vec![("lat", "1"), ("lon", "1"), ("radius", "501")],
                "radius",
            ),
            (
                vec![("lat", "1"), ("lon", "1"), ("radius", "NaN")],
                "radius",
            ),
            (vec![("lat", "1"), ("lon", "1"), ("limit", "0")], "limit"),
            (vec![("lat", "1"), ("lon", "1"), ("limit", "101")], "limit"),
            (
                vec![("lat", "1"), ("lon", "1"), ("capability", "plumbing")],
                "capability",
            ),
            (
                vec![("lat", "1"), ("lon", "1"), ("availableOnly", "yes")],
                "availableOnly",
            ),
            (vec![("lat", "1"), ("lon", "1"), ("lat", "2")], "lat"),
            (
                vec![("lat", "1"), ("lon", "1"), ("colour", "red")],
                "colour",
            ),
        ] {
            let err = parse_search(&pairs(&q)).unwrap_err();
            assert_eq!(err.field.as_deref(), Some(field), "{q:?}");
            assert_eq!(err.status, StatusCode::BAD_REQUEST);
        }
    }
}
