//! Incidents in PostgreSQL, and the atomic match of the nearest available vendor.

use aurora::tokio_postgres::Row;
use aurora::{AuroraError, AuroraPool};
use cache::GeoPoint;

use super::{RFC3339_UTC, bounding_box, haversine_miles, sql_distance};
use crate::model::{IncidentView, Location, MatchView, ValidIncident};

const COLUMNS: &str =
    "id, driver_id, incident_type, lat, lon, description, status, matched_vendor_id";

fn incident_from_row(row: &Row) -> Result<IncidentView, AuroraError> {
    let status: String = row.try_get(6)?;
    Ok(IncidentView {
        incident_id: row.try_get(0)?,
        driver_id: row.try_get(1)?,
        kind: row.try_get(2)?,
        location: Location {
            lat: row.try_get(3)?,
            lon: row.try_get(4)?,
        },
        description: row.try_get(5)?,
        // `pending` in the table is what clients know as `unmatched`.
        status: if status == "pending" {
            "unmatched".to_owned()
        } else {
            status
        },
        vendor_id: row.try_get(7)?,
        created_at: row.try_get(8)?,
    })
}

/// One incident.
pub async fn get(pool: &AuroraPool, id: &str) -> Result<Option<IncidentView>, AuroraError> {
    let sql = format!("SELECT {COLUMNS}, {RFC3339_UTC} FROM incidents WHERE id = $1");
    pool.query_opt(&sql, &[&id])
        .await?
        .as_ref()
        .map(incident_from_row)
        .transpose()
}

/// Stores the incident and, in the same statement, marks the nearest available vendor
/// with the needed capability within `radius_miles` busy with it.
///
/// One statement (a CTE) is one round trip and atomic on its own: `FOR UPDATE SKIP LOCKED`
/// makes concurrent incidents take different vendors (a vendor being claimed by another
/// statement is skipped, never claimed twice), and the incident is inserted already
/// matched. The statement is never sent twice ([`AuroraPool::write`]).
///
/// `candidates`, when given, are the ids the cache's geo index found nearest first: the
/// claim then looks them up by primary key (cheap). When every candidate was taken
/// meanwhile, a second statement claims from the whole table. An empty list means the
/// index knows no available vendor in range: the incident stays unmatched.
pub async fn create_and_match(
    pool: &AuroraPool,
    id: &str,
    incident: &ValidIncident,
    radius_miles: f64,
    candidates: Option<Vec<String>>,
) -> Result<(IncidentView, Option<MatchView>), AuroraError> {
    let (lat_min, lat_max, lon_min, lon_max) = bounding_box(incident.location, radius_miles);
    let distance = sql_distance(1, 2);
    // Two shapes, so each gets its own plan: candidates from the index are found by
    // primary key; without them the bounding box narrows the table on (lat, lon).
    let region = if candidates.is_some() {
        "id = ANY($10) AND $4::float8 IS NOT NULL AND $5::float8 IS NOT NULL AND $6::float8 IS NOT NULL AND $7::float8 IS NOT NULL"
    } else {
        "lat BETWEEN $4 AND $5 AND lon BETWEEN $6 AND $7 AND $10::text[] IS NULL"
    };
    let candidate = format!(
        "SELECT id FROM vendors \
         WHERE availability = 'available' AND $3 = ANY(capabilities) AND {region} AND {distance} <= $8 \
         ORDER BY {distance}, id LIMIT 1 \
         FOR UPDATE SKIP LOCKED"
    );
    let any_candidate = format!(
        "SELECT id FROM vendors \
         WHERE availability = 'available' AND $3 = ANY(capabilities) \
           AND lat BETWEEN $4 AND $5 AND lon BETWEEN $6 AND $7 AND $10::text[] IS NULL AND {distance} <= $8 \
         ORDER BY {distance}, id LIMIT 1 \
         FOR UPDATE SKIP LOCKED"
    );
    let claim = "UPDATE vendors v SET availability = 'busy', current_incident_id = $9, updated_at = now() \
                 FROM candidate WHERE v.id = candidate.id \
                 RETURNING v.id, v.business_name, v.lat, v.lon";
    let create_sql = format!(
        "WITH candidate AS ({candidate}), claim AS ({claim}), \
         ins AS (INSERT INTO incidents (id, driver_id, incident_type, lat, lon, description, status, matched_vendor_id) \
                 SELECT $9, $11, $3, $1, $2, $12, CASE WHEN c.id IS NULL THEN 'pending' ELSE 'matched' END, c.id \
                 FROM (SELECT 1) AS one LEFT JOIN claim c ON true \
                 RETURNING {COLUMNS}, {RFC3339_UTC}) \
         SELECT ins.*, c.id, c.business_name, c.lat, c.lon FROM ins LEFT JOIN claim c ON true"
    );
    // The fallback when every listed candidate was taken: the incident exists already.
    let rematch_sql = format!(
        "WITH candidate AS ({any_candidate}), claim AS ({claim}), \
         upd AS (UPDATE incidents i SET status = 'matched', matched_vendor_id = c.id, updated_at = now() \
                 FROM claim c WHERE i.id = $9) \
         SELECT c.id, c.business_name, c.lat, c.lon FROM claim c"
    );
    let listed: Option<Vec<String>> = candidates.map(|c| c.into_iter().take(32).collect());
    let matched_from = |row: &Row, at: usize| -> Result<Option<MatchView>, AuroraError> {
        let Some(vendor_id) = row.try_get::<_, Option<String>>(at)? else {
            return Ok(None);
        };
        let point = GeoPoint::new(row.try_get(at + 2)?, row.try_get(at + 3)?);
        Ok(Some(MatchView {
            vendor_id,
            business_name: row.try_get(at + 1)?,
            distance_miles: (haversine_miles(incident.location, point) * 100.0).round() / 100.0,
        }))
    };
    let send = |sql: String, candidates: Option<Vec<String>>| {
        let (id, driver, description) = (
            id.to_owned(),
            incident.driver_id.clone(),
            incident.description.clone(),
        );
        let (kind, location) = (incident.kind.as_str(), incident.location);
        pool.write(move |client| {
            let (sql, id, driver, description, candidates) = (
                sql.clone(),
                id.clone(),
                driver.clone(),
                description.clone(),
                candidates.clone(),
            );
            Box::pin(async move {
                Ok(client
                    .query_one(
                        &sql,
                        &[
                            &location.lat,
                            &location.lon,
                            &kind,
                            &lat_min,
                            &lat_max,
                            &lon_min,
                            &lon_max,
                            &radius_miles,
                            &id,
                            &candidates,
                            &driver,
                            &description,
                        ],
                    )
                    .await?)
            })
        })
    };
    let row = send(create_sql, listed.clone()).await?;
    let mut view = incident_from_row(&row)?;
    let mut matched = matched_from(&row, 9)?;
    if matched.is_none() && listed.as_ref().is_some_and(|l| !l.is_empty()) {
        // $11/$12 are unused by this statement but keep the parameter list shared.
        let sql =
            format!("{rematch_sql} WHERE $11::text IS NOT NULL OR $12::text IS NOT NULL OR true");
        let row = send(sql, None).await;
        if let Ok(row) = row
            && let Some(m) = matched_from(&row, 0)?
        {
            view.status = "matched".to_owned();
            view.vendor_id = Some(m.vendor_id.clone());
            matched = Some(m);
        }
    }
    Ok((view, matched))
}
