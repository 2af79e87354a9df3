//! Vendors in PostgreSQL: profile writes, availability transitions (checked against the
//! one transition table and the incident they concern, in one transaction), bulk reads for
//! the geo index, and the database's own nearest-vendor search.

use aurora::tokio_postgres::Row;
use aurora::tokio_postgres::types::ToSql;
use aurora::{AuroraError, AuroraPool};
use vendors::{
    Availability, AvailabilityStatus, Capability, GeoPoint, TransitionRefused, Vendor,
    VendorMetrics,
};

use super::geo::{self, GeoPath, Nearby, NearbySql};
use super::{haversine_miles, miles_to_m, rfc3339_utc};
use crate::model::ValidVendor;

/// The columns [`vendor_from_row`] reads, in its order.
pub(crate) const COLUMNS: &str = concat!(
    "id, business_name, capabilities, lat, lon, availability, current_incident_id, rating, \
     completed_jobs, version, ",
    rfc3339_utc!("updated_at")
);

/// The same columns qualified by the table alias `v` (for statements that join).
pub(crate) const V_COLUMNS: &str = concat!(
    "v.id, v.business_name, v.capabilities, v.lat, v.lon, v.availability, \
     v.current_incident_id, v.rating, v.completed_jobs, v.version, ",
    rfc3339_utc!("v.updated_at")
);

/// A vendor from a row whose first columns are [`COLUMNS`] (or [`V_COLUMNS`]).
pub(crate) fn vendor_from_row(row: &Row) -> Result<Vendor, AuroraError> {
    vendor_from_row_at(row, 0)
}

/// A vendor from the [`COLUMNS`] of `row` that start at column `at`.
pub(crate) fn vendor_from_row_at(row: &Row, at: usize) -> Result<Vendor, AuroraError> {
    let capabilities: Vec<String> = row.try_get(at + 2)?;
    let status: String = row.try_get(at + 5)?;
    let incident: Option<String> = row.try_get(at + 6)?;
    // The table's CHECKs allow only the three names, and busy exactly with an incident.
    let availability = match (status.as_str(), incident) {
        ("available", _) => Availability::available(),
        ("busy", Some(incident)) => Availability::busy(incident),
        _ => Availability::offline(),
    };
    let completed: i32 = row.try_get(at + 8)?;
    Ok(Vendor {
        id: row.try_get(at)?,
        business_name: row.try_get(at + 1)?,
        capabilities: capabilities
            .iter()
            .filter_map(|c| c.parse::<Capability>().ok())
            .collect(),
        location: GeoPoint::new(row.try_get(at + 3)?, row.try_get(at + 4)?),
        availability,
        rating: row.try_get(at + 7)?,
        metrics: VendorMetrics {
            completed_jobs: u64::try_from(completed).unwrap_or(0),
            ..VendorMetrics::default()
        },
        version: row.try_get(at + 9)?,
        updated_at: row.try_get(at + 10)?,
    })
}

fn vendors_from_rows(rows: &[Row]) -> Result<Vec<Vendor>, AuroraError> {
    rows.iter().map(vendor_from_row).collect()
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

/// The vendors among `ids` that exist, in id order (one round trip, any number of ids).
pub async fn get_many(pool: &AuroraPool, ids: &[String]) -> Result<Vec<Vendor>, AuroraError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!("SELECT {COLUMNS} FROM vendors WHERE id = ANY($1) ORDER BY id");
    vendors_from_rows(&pool.query(&sql, &[&ids]).await?)
}

/// Up to `limit` vendors in id order, starting after the id `after` (keyset pagination:
/// each page is one index range scan, however deep, and a page boundary never skips or
/// repeats a vendor).
pub async fn page(
    pool: &AuroraPool,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<Vendor>, AuroraError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let sql = format!(
        "SELECT {COLUMNS} FROM vendors WHERE $1::text IS NULL OR id > $1 ORDER BY id LIMIT $2"
    );
    vendors_from_rows(&pool.query(&sql, &[&after, &limit]).await?)
}

/// How many vendors there are.
pub async fn count(pool: &AuroraPool) -> Result<u64, AuroraError> {
    let n: i64 = pool
        .query_one("SELECT count(*) FROM vendors", &[])
        .await?
        .try_get(0)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Inserts a new vendor (available) and returns the stored row (its version and time).
pub async fn insert(pool: &AuroraPool, vendor: &Vendor) -> Result<Vendor, AuroraError> {
    let caps = capability_names(&vendor.capabilities);
    let sql = format!(
        "INSERT INTO vendors (id, business_name, capabilities, lat, lon, availability, rating) \
         VALUES ($1, $2, $3, $4, $5, 'available', $6) RETURNING {COLUMNS}"
    );
    let row = pool
        .write(|client| {
            let (sql, id, name, caps) = (
                sql.clone(),
                vendor.id.clone(),
                vendor.business_name.clone(),
                caps.clone(),
            );
            let (lat, lon, rating) = (vendor.location.lat, vendor.location.lon, vendor.rating);
            Box::pin(async move {
                Ok(client
                    .query_one(&sql, &[&id, &name, &caps, &lat, &lon, &rating])
                    .await?)
            })
        })
        .await?;
    vendor_from_row(&row)
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
        "UPDATE vendors SET business_name = $2, capabilities = $3, lat = $4, lon = $5, rating = $6 \
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
    let sql = format!("UPDATE vendors SET lat = $2, lon = $3 WHERE id = $1 RETURNING {COLUMNS}");
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

/// What [`set_availability`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum AvailabilityChange {
    /// The vendor now has the requested availability (the row as stored; unchanged, same
    /// version, when it already had it).
    Changed(Vendor),
    /// No vendor has this id.
    NotFound,
    /// The transition table refuses the change; nothing was written.
    Refused {
        /// The vendor as it is.
        current: Vendor,
        /// Which rule refused it.
        why: TransitionRefused,
    },
    /// `busy` with an incident that does not exist.
    NoSuchIncident,
    /// `busy` with an incident another vendor already took.
    IncidentTaken {
        /// The vendor matched to the incident.
        by: String,
    },
    /// `busy` with an incident that no longer takes a vendor (in progress, completed,
    /// cancelled).
    IncidentClosed {
        /// The incident's status.
        status: String,
    },
}

/// Changes a vendor's availability, in one transaction: the vendor row is locked, the
/// change is checked with [`Availability::check_transition`] (the one table), and `busy`
/// additionally needs the incident to be unmatched (`pending`) or already matched to this
/// vendor; an unmatched incident becomes matched to this vendor in the same transaction,
/// so two vendors can never be busy with one incident. Leaving `busy` closes the vendor's
/// side of that incident: to `available` it is `completed` (and counted in
/// `completed_jobs`), to `offline` it returns to `pending` without a vendor.
pub async fn set_availability(
    pool: &AuroraPool,
    id: &str,
    next: &Availability,
) -> Result<AvailabilityChange, AuroraError> {
    let lock = format!("SELECT {COLUMNS} FROM vendors WHERE id = $1 FOR UPDATE");
    let update = format!(
        "UPDATE vendors SET availability = $2, current_incident_id = $3, \
         completed_jobs = completed_jobs + $4 WHERE id = $1 RETURNING {COLUMNS}"
    );
    pool.transaction(|tx| {
        let (lock, update, id, next) = (lock.clone(), update.clone(), id.to_owned(), next.clone());
        Box::pin(async move {
            let Some(row) = tx.query_opt(&lock, &[&id]).await? else {
                return Ok(AvailabilityChange::NotFound);
            };
            let current = vendor_from_row(&row)?;
            if let Err(why) = current.availability.check_transition(&next) {
                return Ok(AvailabilityChange::Refused { current, why });
            }
            if current.availability == next {
                // A retried request: nothing to write, and no new version to order.
                return Ok(AvailabilityChange::Changed(current));
            }
            if let (AvailabilityStatus::Busy, Some(incident)) =
                (next.status, next.current_incident_id.as_ref())
            {
                let Some(row) = tx
                    .query_opt(
                        "SELECT status, matched_vendor_id FROM incidents WHERE id = $1 FOR UPDATE",
                        &[incident],
                    )
                    .await?
                else {
                    return Ok(AvailabilityChange::NoSuchIncident);
                };
                let status: String = row.try_get(0)?;
                let matched: Option<String> = row.try_get(1)?;
                match (status.as_str(), matched) {
                    ("pending", _) => {
                        tx.execute(
                            "UPDATE incidents SET status = 'matched', matched_vendor_id = $2, \
                             updated_at = now() WHERE id = $1",
                            &[incident, &id],
                        )
                        .await?;
                    }
                    ("matched", Some(by)) if by == id => {}
                    ("matched", Some(by)) => return Ok(AvailabilityChange::IncidentTaken { by }),
                    _ => return Ok(AvailabilityChange::IncidentClosed { status }),
                }
            }
            let mut completed_jobs = 0i32;
            if let Some(left) = current.availability.current_incident_id.as_ref()
                && next.current_incident_id.as_ref() != Some(left)
            {
                // The vendor leaves the incident it was busy with: back to `available`
                // means the job is done; `offline` means it was dropped, and the incident
                // waits for another vendor instead of staying matched to this one.
                let done = next.status == AvailabilityStatus::Available;
                let released = tx
                    .execute(
                        "UPDATE incidents SET \
                         status = CASE WHEN $3 THEN 'completed' ELSE 'pending' END, \
                         matched_vendor_id = CASE WHEN $3 THEN matched_vendor_id END, \
                         updated_at = now() \
                         WHERE id = $1 AND matched_vendor_id = $2 \
                         AND status IN ('matched', 'in_progress')",
                        &[left, &id, &done],
                    )
                    .await?;
                if done && released > 0 {
                    completed_jobs = 1;
                }
            }
            let row = tx
                .query_one(
                    &update,
                    &[
                        &id,
                        &next.status.as_str(),
                        &next.current_incident_id,
                        &completed_jobs,
                    ],
                )
                .await?;
            Ok(AvailabilityChange::Changed(vendor_from_row(&row)?))
        })
    })
    .await
}

/// Rows the inner level of a search reads beyond the limit (see [`search_on`]).
const TIE_SLACK: i64 = 8;

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

/// Nearest vendors within the radius, nearest first, with their distance in miles: the
/// PostGIS nearest-neighbour query where the database has it, else the bounding box
/// ([`geo::path`], asked once per pool).
pub async fn search(pool: &AuroraPool, q: &SearchQuery) -> Result<Vec<(Vendor, f64)>, AuroraError> {
    let path = geo::path(pool).await?;
    search_on(pool, path, q).await
}

/// [`search`] on a given path (both answer the same; tests compare them).
pub async fn search_on(
    pool: &AuroraPool,
    path: GeoPath,
    q: &SearchQuery,
) -> Result<Vec<(Vendor, f64)>, AuroraError> {
    let nearby = Nearby::new(path, q.center, miles_to_m(q.radius_miles));
    let near = nearby.sql(1);
    let mut params: Vec<&(dyn ToSql + Sync)> = nearby.params().collect();
    let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
    // The inner level reads a few rows more than asked: PostGIS orders by its own
    // distance, and rows that tie (or nearly) at the cut are then ordered by ours and by
    // id, as on the bounding-box path.
    let inner_limit = limit.saturating_add(TIE_SLACK);
    params.push(&limit);
    params.push(&inner_limit);
    let (limit_param, inner_limit_param) = (params.len() - 1, params.len());
    let mut filters = String::new();
    let capability = q.capability.map(Capability::as_str);
    if let Some(capability) = &capability {
        params.push(capability);
        filters.push_str(&format!(" AND ${} = ANY(capabilities)", params.len()));
    }
    if let Some(status) = q.status {
        // A literal from the enum, so the planner can pick the partial index of
        // available vendors.
        filters.push_str(&format!(" AND availability = '{}'", status.as_str()));
    }
    let NearbySql {
        narrow,
        order,
        distance,
        within,
    } = near;
    let sql = format!(
        "SELECT * FROM (SELECT {COLUMNS} FROM vendors WHERE {narrow}{filters} \
         ORDER BY {order} LIMIT ${inner_limit_param}) AS nearest \
         WHERE {within} ORDER BY {distance}, id LIMIT ${limit_param}"
    );
    let rows = pool.query(&sql, &params).await?;
    rows.iter()
        .map(|row| {
            let vendor = vendor_from_row(row)?;
            let miles = haversine_miles(q.center, vendor.location);
            Ok((vendor, miles))
        })
        .collect()
}
