//! Vendor routes: parse, call the vendor wing ([`vendors::Vendors`]) or write to
//! PostgreSQL, render. Profiles and searches answer `X-Cache`; writes commit to PostgreSQL
//! first and update the cache in a task the client cannot cancel.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use vendors::{Capability, GeoPoint, NearbyQuery};

use super::{rendered_json, write_vendors};
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::identity::{self, Caller};
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

/// The query string of `GET /vendors/search`, as axum's [`Query`] reads it. Values stay
/// text here so that a bad one is refused naming its field ([`SearchQuery::validate`]);
/// an unknown or repeated parameter is refused by the derive, named the same way.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SearchQuery {
    /// Latitude of the center (required).
    pub lat: Option<String>,
    /// Longitude of the center (required).
    pub lon: Option<String>,
    /// Radius in miles (default [`DEFAULT_RADIUS_MILES`]).
    pub radius: Option<String>,
    /// Required capability.
    pub capability: Option<String>,
    /// `true`/`1` (default) or `false`/`0`.
    pub available_only: Option<String>,
    /// Result count (default [`DEFAULT_LIMIT`]).
    pub limit: Option<String>,
}

fn number(value: &str, field: &str) -> Result<f64, ApiError> {
    value
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| ApiError::invalid(field, format!("`{value}` is not a number")))
}

impl SearchQuery {
    /// Checks every parameter and applies the defaults.
    pub fn validate(&self) -> Result<SearchParams, ApiError> {
        let lat = match &self.lat {
            Some(v) => number(v, "lat")?,
            None => return Err(ApiError::invalid("lat", "required")),
        };
        check_lat(lat, "lat")?;
        let lon = match &self.lon {
            Some(v) => number(v, "lon")?,
            None => return Err(ApiError::invalid("lon", "required")),
        };
        check_lon(lon, "lon")?;
        let radius = match &self.radius {
            Some(v) => number(v, "radius")?,
            None => DEFAULT_RADIUS_MILES,
        };
        if !(radius > 0.0 && radius <= MAX_RADIUS_MILES) {
            return Err(ApiError::invalid("radius", "must be miles in (0, 500]"));
        }
        let capability = self
            .capability
            .as_deref()
            .map(|v| parse_capability(v, "capability"))
            .transpose()?;
        let available_only = match self.available_only.as_deref() {
            None | Some("true" | "1") => true,
            Some("false" | "0") => false,
            Some(_) => return Err(ApiError::invalid("availableOnly", "must be true or false")),
        };
        let limit = match &self.limit {
            None => DEFAULT_LIMIT,
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|l| (1..=MAX_LIMIT).contains(l))
                .ok_or_else(|| {
                    ApiError::invalid("limit", format!("must be an integer in [1, {MAX_LIMIT}]"))
                })?,
        };
        Ok(SearchParams {
            center: GeoPoint::new(lat, lon),
            radius_miles: radius,
            capability,
            available_only,
            limit,
        })
    }
}

/// The search parameters of a request's query string, or a 400 naming the parameter.
pub fn parse_search(
    query: Result<Query<SearchQuery>, QueryRejection>,
) -> Result<SearchParams, ApiError> {
    let Query(query) = query.map_err(|rejection| {
        let message = rejection.body_text();
        // serde names the parameter in backticks: "unknown field `colour`, expected ...",
        // "duplicate field `lat`".
        let named = message.split('`').nth(1).map(str::to_owned);
        match named {
            Some(name) if message.contains("duplicate field") => {
                ApiError::invalid(name, "given more than once")
            }
            Some(name) if message.contains("unknown field") => ApiError::invalid(
                name,
                "unknown parameter; use lat, lon, radius, capability, availableOnly, limit",
            ),
            _ => ApiError::invalid("query", format!("cannot read the query string: {message}")),
        }
    })?;
    query.validate()
}

/// `GET /vendors/search`.
pub async fn search(
    State(state): State<AppState>,
    query: Result<Query<SearchQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let p = parse_search(query)?;
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

/// `PATCH /vendors/{id}/availability`: the vendor's own, or an admin's
/// ([`Caller::may_act_for_vendor`]; 403 for anyone else).
pub async fn set_availability(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<AvailabilityInput>,
) -> ApiResult<Response> {
    check_id(&id, "id")?;
    if !caller.may_act_for_vendor(&id) {
        return Err(identity::forbidden_for_vendor(&id));
    }
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

/// `POST /vendors/{id}/location`: the vendor's own, or an admin's
/// ([`Caller::may_act_for_vendor`]; 403 for anyone else).
pub async fn set_location(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<Location>,
) -> ApiResult<Response> {
    check_id(&id, "id")?;
    if !caller.may_act_for_vendor(&id) {
        return Err(identity::forbidden_for_vendor(&id));
    }
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

    fn parse(q: &[(&str, &str)]) -> Result<SearchParams, ApiError> {
        let query: String = q
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let uri: axum::http::Uri = format!("/vendors/search?{query}").parse().unwrap();
        parse_search(Query::try_from_uri(&uri))
    }

    #[test]
    fn search_parameters_are_checked_and_defaulted() {
        let p = parse(&[("lat", "40.7"), ("lon", "-74")]).unwrap();
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
            let err = parse(&q).unwrap_err();
            assert_eq!(err.field.as_deref(), Some(field), "{q:?}");
            assert_eq!(err.status, StatusCode::BAD_REQUEST);
        }
    }
}
