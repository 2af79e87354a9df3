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

/// Stores the incident and, in the same transaction, marks the nearest available vendor
/// with the needed capability within `radius_miles` busy with it.
///
/// `FOR UPDATE SKIP LOCKED` makes concurrent incidents take different vendors: a vendor
/// being claimed by another transaction is skipped, never claimed twice.
pub async fn create_and_match(
    pool: &AuroraPool,
    id: &str,
    incident: &ValidIncident,
    radius_miles: f64,
) -> Result<(IncidentView, Option<MatchView>), AuroraError> {
    let (lat_min, lat_max, lon_min, lon_max) = bounding_box(incident.location, radius_miles);
    let distance = sql_distance(1, 2);
    let claim_sql = format!(
        "WITH candidate AS ( \
             SELECT id FROM vendors \
             WHERE availability = 'available' AND $3 = ANY(capabilities) \
               AND lat BETWEEN $4 AND $5 AND lon BETWEEN $6 AND $7 AND {distance} <= $8 \
             ORDER BY {distance}, id LIMIT 1 \
             FOR UPDATE SKIP LOCKED) \
         UPDATE vendors v SET availability = 'busy', current_incident_id = $9, updated_at = now() \
         FROM candidate WHERE v.id = candidate.id \
         RETURNING v.id, v.business_name, v.lat, v.lon"
    );
    let select_sql = format!("SELECT {COLUMNS}, {RFC3339_UTC} FROM incidents WHERE id = $1");
    pool.transaction(|tx| {
        let (claim_sql, select_sql, id) = (claim_sql.clone(), select_sql.clone(), id.to_owned());
        let driver = incident.driver_id.clone();
        let kind = incident.kind.as_str();
        let description = incident.description.clone();
        let location = incident.location;
        Box::pin(async move {
            tx.execute(
                "INSERT INTO incidents (id, driver_id, incident_type, lat, lon, description, status) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'pending')",
                &[&id, &driver, &kind, &location.lat, &location.lon, &description],
            )
            .await?;
            let claimed = tx
                .query_opt(
                    &claim_sql,
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
                    ],
                )
                .await?;
            let matched = match claimed {
                Some(row) => {
                    let vendor_id: String = row.try_get(0)?;
                    let business_name: String = row.try_get(1)?;
                    let at = GeoPoint::new(row.try_get(2)?, row.try_get(3)?);
                    tx.execute(
                        "UPDATE incidents SET status = 'matched', matched_vendor_id = $2, updated_at = now() WHERE id = $1",
                        &[&id, &vendor_id],
                    )
                    .await?;
                    Some(MatchView {
                        vendor_id,
                        business_name,
                        distance_miles: (haversine_miles(location, at) * 100.0).round() / 100.0,
                    })
                }
                None => None,
            };
            let row = tx.query_one(&select_sql, &[&id]).await?;
            Ok((incident_from_row(&row)?, matched))
        })
    })
    .await
}
