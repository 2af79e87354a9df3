//! Vendor routes: parse, call the vendor wing ([`vendors::Vendors`]) or write to
//! PostgreSQL, render. Profiles and searches answer `X-Cache`; writes commit to PostgreSQL
//! first and update the cache in a task the client cannot cancel.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use vendors::{Capability, GeoPoint, NearbyQuery};

use super::{rendered_json, write_vendors};
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

/// `GET /vendors/{id}`.
pub async fn get_vendor(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    check_id(&id, "id")?;
    let cached = state.vendors.profile(&id).await?;
    let doc = cached
        .value
        .ok_or_else(|| ApiError::not_found("vendor", &id))?;
    Ok(rendered_json(
        StatusCode::OK,
        cached.outcome,
        doc.into_string(),
    ))
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

/// `GET /vendors/search`.
pub async fn search(
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let Query(pairs) =
        query.map_err(|e| ApiError::bad_body(format!("cannot read the query string: {e}")))?;
    let p = parse_search(&pairs)?;
    let answer = state
        .vendors
        .search(&NearbyQuery {
            center: p.center,
            radius_miles: p.radius_miles,
            capability: p.capability,
            available_only: p.available_only,
            limit: p.limit,
        })
        .await?;
    Ok(rendered_json(
        StatusCode::OK,
        answer.outcome,
        answer.body.to_string(),
    ))
}

/// `POST /vendors`.
pub async fn create(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<VendorInput>,
) -> ApiResult<Response> {
    let valid = input.validate()?;
    let vendor = model::new_vendor(format!("ven-{}", uuid::Uuid::new_v4().simple()), &valid);
    let vendor = write_vendors(&state, move |db| async move {
        let stored = db::vendors::insert(&db, &vendor).await?;
        Ok::<_, aurora::AuroraError>((stored.clone(), vec![stored]))
    })
    .await?;
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
    let owned = id.clone();
    let vendor = write_vendors(&state, move |db| async move {
        let v = db::vendors::update_profile(&db, &owned, &valid).await?;
        Ok::<_, aurora::AuroraError>((v.clone(), v.into_iter().collect()))
    })
    .await?
    .ok_or_else(|| ApiError::not_found("vendor", &id))?;
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
    let owned = id.clone();
    let change = write_vendors(&state, move |db| async move {
        let change = db::vendors::set_availability(&db, &owned, &availability).await?;
        let committed = match &change {
            Change::Changed(vendor) => vec![vendor.clone()],
            _ => Vec::new(),
        };
        Ok::<_, aurora::AuroraError>((change, committed))
    })
    .await?;
    let vendor = match change {
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
    let owned = id.clone();
    let vendor = write_vendors(&state, move |db| async move {
        let v = db::vendors::set_location(&db, &owned, point).await?;
        Ok::<_, aurora::AuroraError>((v.clone(), v.into_iter().collect()))
    })
    .await?
    .ok_or_else(|| ApiError::not_found("vendor", &id))?;
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
