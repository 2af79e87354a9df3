//! Vendors in PostgreSQL.

use aurora::tokio_postgres::Row;
use aurora::{AuroraError, AuroraPool};
use vendors::{Availability, AvailabilityStatus, Capability, GeoPoint, Vendor, VendorMetrics};

use super::{bounding_box, haversine_miles, sql_distance};
use crate::model::ValidVendor;

const COLUMNS: &str = "id, business_name, capabilities, lat, lon, availability, current_incident_id, rating, completed_jobs";

/// A vendor from a row selected with [`COLUMNS`].
fn vendor_from_row(row: &Row) -> Result<Vendor, AuroraError> {
    let capabilities: Vec<String> = row.try_get(2)?;
    let status: String = row.try_get(5)?;
    let incident: Option<String> = row.try_get(6)?;
    let availability = match status.as_str() {
        "available" => Availability::available(),
        "busy" => Availability::busy(incident.unwrap_or_default()),
        _ => Availability::offline(),
    };
    let completed: i32 = row.try_get(8)?;
    Ok(Vendor {
        id: row.try_get(0)?,
        business_name: row.try_get(1)?,
        capabilities: capabilities
            .iter()
            .filter_map(|c| c.parse::<Capability>().ok())
            .collect(),
        location: GeoPoint::new(row.try_get(3)?, row.try_get(4)?),
        availability,
        rating: row.try_get(7)?,
        metrics: VendorMetrics {
            completed_jobs: u64::try_from(completed).unwrap_or(0),
            ..VendorMetrics::default()
        },
        version: 0,
        updated_at: String::new(),
    })
}

fn capability_names(capabilities: &[Capability]) -> Vec<String> {
    capabilities.iter().map(|c| c.as_str().to_owned()).collect()
}

/// One vendor.
pub async fn get(pool: &AuroraPool, id: &str) -> Result<Option<Vendor>, AuroraError> {
    let sql = format!("SELECT {COLUMNS} FROM vendors WHERE id = $1");
    pool.query_opt(&sql, &[&id])
        .await?
        .as_ref()
        .map(vendor_from_row)
        .transpose()
}

/// Up to `limit` vendors with ids after `after`, by id (the index rebuild's pages).
pub async fn page(
    pool: &AuroraPool,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<Vendor>, AuroraError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM vendors WHERE ($1::text IS NULL OR id > $1) ORDER BY id LIMIT $2"
    );
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    pool.query(&sql, &[&after, &limit])
        .await?
        .iter()
        .map(vendor_from_row)
        .collect()
}

/// Every vendor, for loading the cache's geo index.
pub async fn all(pool: &AuroraPool) -> Result<Vec<Vendor>, AuroraError> {
    let sql = format!("SELECT {COLUMNS} FROM vendors ORDER BY id");
    pool.query(&sql, &[])
        .await?
        .iter()
        .map(vendor_from_row)
        .collect()
}

/// Vendors changed at or after `since` (database clock, seconds since the epoch).
pub async fn changed_since(
    pool: &AuroraPool,
    since_epoch: f64,
) -> Result<Vec<Vendor>, AuroraError> {
    let sql = format!("SELECT {COLUMNS} FROM vendors WHERE updated_at >= to_timestamp($1)");
    pool.query(&sql, &[&since_epoch])
        .await?
        .iter()
        .map(vendor_from_row)
        .collect()
}

/// The database clock, seconds since the epoch.
pub async fn now_epoch(pool: &AuroraPool) -> Result<f64, AuroraError> {
    Ok(pool
        .query_one("SELECT extract(epoch FROM clock_timestamp())::float8", &[])
        .await?
        .try_get(0)?)
}

/// Inserts a new vendor (available).
pub async fn insert(pool: &AuroraPool, vendor: &Vendor) -> Result<(), AuroraError> {
    let caps = capability_names(&vendor.capabilities);
    pool.execute(
        "INSERT INTO vendors (id, business_name, capabilities, lat, lon, availability, rating) \
         VALUES ($1, $2, $3, $4, $5, 'available', $6)",
        &[
            &vendor.id,
            &vendor.business_name,
            &caps,
            &vendor.location.lat,
            &vendor.location.lon,
            &vendor.rating,
        ],
    )
    .await?;
    Ok(())
}

/// Inserts many vendors in one statement per chunk (demo and test data).
pub async fn insert_many(pool: &AuroraPool, vendors: &[Vendor]) -> Result<(), AuroraError> {
    for chunk in vendors.chunks(1000) {
        let ids: Vec<&str> = chunk.iter().map(|v| v.id.as_str()).collect();
        let names: Vec<&str> = chunk.iter().map(|v| v.business_name.as_str()).collect();
        let caps: Vec<String> = chunk
            .iter()
            .map(|v| capability_names(&v.capabilities).join(","))
            .collect();
        let lats: Vec<f64> = chunk.iter().map(|v| v.location.lat).collect();
        let lons: Vec<f64> = chunk.iter().map(|v| v.location.lon).collect();
        let ratings: Vec<f64> = chunk.iter().map(|v| v.rating).collect();
        pool.execute(
            "INSERT INTO vendors (id, business_name, capabilities, lat, lon, availability, rating) \
             SELECT id, name, string_to_array(caps, ','), lat, lon, 'available', rating \
             FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::float8[], $6::float8[]) \
                  AS t(id, name, caps, lat, lon, rating) \
             ON CONFLICT (id) DO NOTHING",
            &[&ids, &names, &caps, &lats, &lons, &ratings],
        )
        .await?;
    }
    Ok(())
}

/// Replaces a vendor's profile fields; `None` when it does not exist.
pub async fn update_profile(
    pool: &AuroraPool,
    id: &str,
    input: &ValidVendor,
) -> Result<Option<Vendor>, AuroraError> {
    let sql = format!(
        "UPDATE vendors SET business_name = $2, capabilities = $3, lat = $4, lon = $5, rating = $6, updated_at = now() \
         WHERE id = $1 RETURNING {COLUMNS}"
    );
    let row = pool
        .write(|client| {
            // The closure may run again after a failover: it owns what it sends.
            let (sql, id, name) = (sql.clone(), id.to_owned(), input.business_name.clone());
            let caps = capability_names(&input.capabilities);
            let (lat, lon, rating) = (input.location.lat, input.location.lon, input.rating);
            Box::pin(async move {
                Ok(client
                    .query_opt(&sql, &[&id, &name, &caps, &lat, &lon, &rating])
                    .await?)
            })
        })
        .await?;
    row.as_ref().map(vendor_from_row).transpose()
}

/// Moves a vendor; `None` when it does not exist.
pub async fn set_location(
    pool: &AuroraPool,
    id: &str,
    location: GeoPoint,
) -> Result<Option<Vendor>, AuroraError> {
    let sql = format!(
        "UPDATE vendors SET lat = $2, lon = $3, updated_at = now() WHERE id = $1 RETURNING {COLUMNS}"
    );
    let row = pool
        .write(|client| {
            let (sql, id) = (sql.clone(), id.to_owned());
            Box::pin(async move {
                Ok(client
                    .query_opt(&sql, &[&id, &location.lat, &location.lon])
                    .await?)
            })
        })
        .await?;
    row.as_ref().map(vendor_from_row).transpose()
}

/// Sets availability; `None` when the vendor does not exist. A busy vendor's incident
/// must exist (the foreign key is checked at commit).
pub async fn set_availability(
    pool: &AuroraPool,
    id: &str,
    availability: &Availability,
) -> Result<Option<Vendor>, AuroraError> {
    let sql = format!(
        "UPDATE vendors SET availability = $2, current_incident_id = $3, updated_at = now() WHERE id = $1 RETURNING {COLUMNS}"
    );
    let row = pool
        .transaction(|tx| {
            let (sql, id) = (sql.clone(), id.to_owned());
            let status = availability.status.as_str();
            let incident = availability.current_incident_id.clone();
            Box::pin(async move { Ok(tx.query_opt(&sql, &[&id, &status, &incident]).await?) })
        })
        .await?;
    row.as_ref().map(vendor_from_row).transpose()
}

/// What a search asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchQuery {
    /// Center.
    pub center: GeoPoint,
    /// Radius in miles.
    pub radius_miles: f64,
    /// Required capability.
    pub capability: Option<Capability>,
    /// Only vendors with this availability.
    pub status: Option<AvailabilityStatus>,
    /// At most this many, nearest first.
    pub limit: usize,
}

/// Nearest vendors within the radius, nearest first, with their distance in miles.
pub async fn search(pool: &AuroraPool, q: &SearchQuery) -> Result<Vec<(Vendor, f64)>, AuroraError> {
    let (lat_min, lat_max, lon_min, lon_max) = bounding_box(q.center, q.radius_miles);
    let distance = sql_distance(1, 2);
    let sql = format!(
        "SELECT {COLUMNS}, {distance} AS miles FROM vendors \
         WHERE lat BETWEEN $3 AND $4 AND lon BETWEEN $5 AND $6 \
           AND ($7::text IS NULL OR $7 = ANY(capabilities)) \
           AND ($8::text IS NULL OR availability = $8) \
           AND {distance} <= $9 \
         ORDER BY miles, id LIMIT $10"
    );
    let capability = q.capability.map(|c| c.as_str());
    let status = q.status.map(|s| s.as_str());
    let limit = i64::try_from(q.limit).unwrap_or(100);
    let rows = pool
        .query(
            &sql,
            &[
                &q.center.lat,
                &q.center.lon,
                &lat_min,
                &lat_max,
                &lon_min,
                &lon_max,
                &capability,
                &status,
                &q.radius_miles,
                &limit,
            ],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let vendor = vendor_from_row(row)?;
            let miles = haversine_miles(q.center, vendor.location);
            Ok((vendor, miles))
        })
        .collect()
}
