//! The Redis geo index of one region: every vendor's live state, placed in geo sets per
//! availability and capability, with its rendered document; versioned writes; the
//! nearest-first search. The rebuild lives in [`crate::build`].
//!
//! The index is derived state: it holds only what the database told it, each vendor at
//! the newest version it saw. It is trusted only while its metadata says it is complete and
//! every key a search reads exists; otherwise [`IndexAnswer::NotReady`] sends the caller
//! to the database. None of its keys has a TTL, so a `volatile-*` eviction policy (the
//! stages' `volatile-lru`) never takes part of it; an `allkeys-*` policy may take a whole
//! key, which the sentinel members make visible.

use std::sync::Arc;

use cache::{Cache, CacheError, GeoPoint, RedisClient};
use redis::Value;

use crate::config::VendorsConfig;
use crate::model::{AvailabilityStatus, Capability, Vendor};
use crate::scripts::scripts;
use crate::view::VendorDoc;

/// The geo-set name part meaning "whatever it is": the set `g:<scope>:any` holds every
/// vendor of its scope whatever its capabilities, and the scope `any` every placed vendor
/// whatever its status.
pub const ANY: &str = "any";

/// The scopes of the geo sets: the available vendors (what `availableOnly=true` and the
/// incident matcher walk) and everyone (what `availableOnly=false` walks: one set, not one
/// per status merged in Lua, which cost Redis about twice as much per search).
pub(crate) fn scopes() -> [&'static str; 2] {
    [AvailabilityStatus::Available.as_str(), ANY]
}

/// Redis cannot place latitudes beyond this (its geohash covers ±85.05112878°).
pub const INDEX_MAX_ABS_LAT: f64 = 85.051_128_78;

/// The member every geo set and hash of the index holds from birth, and the field every
/// counters hash holds from its first rebuild: a missing one means Redis lost the key.
/// The Lua scripts get it as `SENTINEL` ([`crate::scripts`]).
pub(crate) const SENTINEL: &str = "~";

/// Size of the cells whose change counters validate cached search answers, in degrees.
const CELL_DEGREES: f64 = 1.0;

/// A search of the index.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexQuery {
    /// Center.
    pub center: GeoPoint,
    /// Radius in miles.
    pub radius_miles: f64,
    /// Required capability; `None` for any.
    pub capability: Option<Capability>,
    /// Only `available` vendors.
    pub available_only: bool,
    /// At most this many, nearest first.
    pub limit: usize,
}

/// One vendor found in the index.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexHit {
    /// Vendor id.
    pub id: String,
    /// Distance from the center in miles (Redis's, from its geohash).
    pub miles: f64,
    /// The vendor document, when asked for.
    pub doc: Option<String>,
}

/// What the index answered.
#[derive(Debug, Clone, PartialEq)]
pub enum IndexAnswer {
    /// The index cannot answer (not built, incomplete, or a key lost): ask the database.
    NotReady,
    /// The nearest matching vendors.
    Found {
        /// The live generation that answered.
        generation: String,
        /// When that generation was built (Unix ms).
        built_at_ms: u64,
        /// Nearest first.
        hits: Vec<IndexHit>,
        /// The change counters of `cells` at the time of the search.
        cell_counters: Vec<String>,
    },
}

/// The index's metadata, for `/health` and operators.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexStatus {
    /// Whether searches may trust it.
    pub complete: bool,
    /// The live generation.
    pub generation: Option<String>,
    /// Vendors in the live generation.
    pub vendors_indexed: u64,
    /// When the live generation was built (Unix ms).
    pub built_at_ms: Option<u64>,
    /// How long that build took.
    pub build_ms: Option<u64>,
    /// A rebuild in progress (its generation).
    pub building: Option<String>,
}

/// The geo index of one region on one Redis. Cheap to clone.
#[derive(Clone)]
pub struct GeoIndex {
    cache: Cache,
    tag: Arc<str>,
    config: Arc<VendorsConfig>,
}

impl std::fmt::Debug for GeoIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoIndex").field("tag", &self.tag).finish()
    }
}

fn bad_reply(what: &str) -> CacheError {
    CacheError::Command(format!("unexpected vendor index reply: {what}").into())
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Okay => Some("OK".to_owned()),
        _ => None,
    }
}

/// [`text`] without a copy, for the parts of a reply that are kept.
fn into_text(v: Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b).ok(),
        Value::SimpleString(s) => Some(s),
        other => text(&other),
    }
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        other => text(other).and_then(|s| s.parse().ok()),
    }
}

/// The cell of a position, `row:column` of the 1-degree grid (column 180 is column -180).
pub(crate) fn cell_of(p: &GeoPoint) -> String {
    let row = (p.lat / CELL_DEGREES).floor() as i64;
    let mut col = (p.lon / CELL_DEGREES).floor() as i64;
    let cols = (360.0 / CELL_DEGREES) as i64;
    if col >= cols / 2 {
        col -= cols;
    }
    format!("{row}:{col}")
}

/// The cells a circle may touch, or `None` when it reaches a pole's neighbourhood or
/// covers too many cells to validate cheaply (such answers are not kept).
pub(crate) fn cells_covering(center: &GeoPoint, radius_miles: f64) -> Option<Vec<String>> {
    // Conservative: a degree of latitude is 69.1 miles on Redis's sphere.
    let dlat = radius_miles / 69.0 * 1.01;
    let (lat_lo, lat_hi) = (center.lat - dlat, center.lat + dlat);
    let max_abs = lat_lo.abs().max(lat_hi.abs());
    if max_abs >= 84.0 {
        return None;
    }
    let dlon = radius_miles / (69.0 * max_abs.to_radians().cos()) * 1.01;
    if dlon >= 90.0 {
        return None;
    }
    let rows = (lat_lo / CELL_DEGREES).floor() as i64..=(lat_hi / CELL_DEGREES).floor() as i64;
    let cols = ((center.lon - dlon) / CELL_DEGREES).floor() as i64
        ..=((center.lon + dlon) / CELL_DEGREES).floor() as i64;
    let n = (rows.end() - rows.start() + 1) * (cols.end() - cols.start() + 1);
    if n > 64 {
        return None;
    }
    let width = (360.0 / CELL_DEGREES) as i64;
    let mut out = Vec::with_capacity(n as usize);
    for r in rows {
        for c in cols.clone() {
            // Wrap across the antimeridian into [-180, 180).
            let c = (c + width / 2).rem_euclid(width) - width / 2;
            out.push(format!("{r}:{c}"));
        }
    }
    out.sort();
    out.dedup();
    Some(out)
}

/// The capability csv Lua sees: sorted, unique.
fn caps_csv(caps: &[Capability]) -> String {
    let mut names: Vec<&str> = caps.iter().map(|c| c.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names.join(",")
}

/// Whether Redis can place `p` in a geo set.
pub fn placeable(p: &GeoPoint) -> bool {
    p.lat.is_finite()
        && p.lon.is_finite()
        && p.lat.abs() <= INDEX_MAX_ABS_LAT
        && p.lon.abs() <= 180.0
}

impl GeoIndex {
    /// The index of `config.region` on `cache`'s Redis, under its key prefix.
    pub fn new(cache: Cache, config: Arc<VendorsConfig>) -> Self {
        let tag = format!(
            "{}:{{vendors:{}}}",
            cache.config().key_prefix,
            config.region
        );
        Self {
            cache,
            tag: Arc::from(tag),
            config,
        }
    }

    /// The key every index key starts with (`<prefix>:{vendors:<region>}`).
    pub fn tag(&self) -> &str {
        &self.tag
    }

    pub(crate) fn cache(&self) -> &Cache {
        &self.cache
    }

    pub(crate) fn config(&self) -> &VendorsConfig {
        &self.config
    }

    pub(crate) fn meta_key(&self) -> String {
        format!("{}:meta", self.tag)
    }

    /// The cell change counters (common.lua's `CELLS`).
    fn cells_key(&self) -> String {
        format!("{}:cells", self.tag)
    }

    /// Every key of generation `g` (to delete a replaced or abandoned one).
    pub(crate) fn generation_keys(&self, g: &str) -> Vec<String> {
        let mut keys = vec![
            format!("{}:{g}:st", self.tag),
            format!("{}:{g}:doc", self.tag),
            format!("{}:{g}:polar", self.tag),
        ];
        for scope in scopes() {
            for cap in Capability::ALL.iter().map(|c| c.as_str()).chain([ANY]) {
                keys.push(format!("{}:{g}:g:{scope}:{cap}", self.tag));
            }
        }
        keys
    }

    /// The script arguments of one vendor for `apply.lua`.
    fn apply_args(vendor: &Vendor, out: &mut Vec<Vec<u8>>) {
        let p = vendor.location;
        out.push(vendor.id.clone().into_bytes());
        out.push(vendor.version.max(0).to_string().into_bytes());
        out.push(vendor.availability.status.as_str().as_bytes().to_vec());
        out.push(caps_csv(&vendor.capabilities).into_bytes());
        out.push(p.lon.to_string().into_bytes());
        out.push(p.lat.to_string().into_bytes());
        out.push(if placeable(&p) {
            b"1".to_vec()
        } else {
            b"0".to_vec()
        });
        out.push(cell_of(&p).into_bytes());
        out.push(VendorDoc::render(vendor).into_string().into_bytes());
    }

    /// Applies committed rows to the live generation(s), on the request path (guarded by
    /// the circuit breaker). Rows older than what the index holds are ignored.
    pub async fn apply(&self, vendors: &[Vendor]) -> Result<u64, CacheError> {
        let client = self.cache.client().clone();
        self.cache
            .guarded(self.apply_with(&client, "", vendors))
            .await
    }

    /// Applies rows to generation `generation` (`""`: the live ones) through `client`.
    pub(crate) async fn apply_with(
        &self,
        client: &RedisClient,
        generation: &str,
        vendors: &[Vendor],
    ) -> Result<u64, CacheError> {
        if vendors.is_empty() {
            return Ok(0);
        }
        let mut args = Vec::with_capacity(2 + vendors.len() * 9);
        args.push(self.tag.as_bytes().to_vec());
        args.push(generation.as_bytes().to_vec());
        for v in vendors {
            if !crate::model::is_valid_id(&v.id) {
                return Err(CacheError::InvalidInput(format!("vendor id {:?}", v.id)));
            }
            Self::apply_args(v, &mut args);
        }
        let script = &scripts().apply.script;
        let mut inv = script.key(self.meta_key());
        for a in &args {
            inv.arg(a.as_slice());
        }
        let changed: i64 = client.invoke(&inv).await?;
        Ok(u64::try_from(changed).unwrap_or(0))
    }

    /// The nearest vendors matching `q`, with their documents when `with_docs`, and the
    /// change counters of `cells` read in the same atomic step.
    pub async fn search(
        &self,
        q: &IndexQuery,
        with_docs: bool,
        cells: &[String],
    ) -> Result<IndexAnswer, CacheError> {
        let Some(inv) = self.search_invocation(q, with_docs, cells)? else {
            return Ok(IndexAnswer::NotReady);
        };
        let reply: Value = self.cache.guarded(self.cache.client().invoke(&inv)).await?;
        parse_search(reply)
    }

    /// The script call of a search (`None`: only the database can answer it); shared by
    /// [`GeoIndex::search`] and the pipelined [`GeoIndex::search_many`].
    pub(crate) fn search_invocation(
        &self,
        q: &IndexQuery,
        with_docs: bool,
        cells: &[String],
    ) -> Result<Option<redis::ScriptInvocation<'static>>, CacheError> {
        if !(q.radius_miles.is_finite() && q.radius_miles > 0.0) || q.limit == 0 {
            return Err(CacheError::InvalidInput(
                "radius must be positive and limit at least 1".into(),
            ));
        }
        // A circle reaching past Redis's latitude limit may hold vendors the geo sets
        // cannot: only the database sees them.
        if q.center.lat.abs() + q.radius_miles / 69.0 * 1.01 > INDEX_MAX_ABS_LAT
            || !placeable(&q.center)
        {
            return Ok(None);
        }
        let scope = if q.available_only {
            AvailabilityStatus::Available.as_str()
        } else {
            ANY
        };
        let cap = q.capability.map_or(ANY, Capability::as_str);
        let script = &scripts().search.script;
        let mut inv = script.key(self.meta_key());
        inv.arg(&*self.tag)
            .arg(q.center.lon)
            .arg(q.center.lat)
            .arg(q.radius_miles)
            .arg(q.limit)
            .arg(scope)
            .arg(cap)
            .arg(self.config.first_radius_miles.min(q.radius_miles))
            .arg(if with_docs { "1" } else { "0" })
            .arg(cells.join(","));
        Ok(Some(inv))
    }

    /// The change counters of `cells` and the live generation, in one round trip (the
    /// check behind every reuse of a cached answer). The two reads need not be atomic:
    /// each happens after any write that answered before the check was sent, and that is
    /// all a reuse must see. `None` for the generation when the index is not complete or
    /// the counters were lost (their sentinel is gone).
    pub(crate) async fn counters(
        &self,
        cells: &[String],
    ) -> Result<(Option<String>, Vec<String>), CacheError> {
        let mut pipe = redis::pipe();
        pipe.cmd("HMGET")
            .arg(self.meta_key())
            .arg("complete")
            .arg("cur");
        pipe.cmd("HMGET")
            .arg(self.cells_key())
            .arg(SENTINEL)
            .arg(cells);
        let (meta, counters): (Vec<Option<String>>, Vec<Option<String>>) = self
            .cache
            .guarded(self.cache.client().query_pipeline(&pipe))
            .await?;
        let mut meta = meta.into_iter();
        let complete = meta.next().flatten();
        let cur = meta.next().flatten();
        let mut counters = counters.into_iter();
        let sentinel = counters.next().flatten();
        let live = if complete.as_deref() == Some("1") && sentinel.is_some() {
            cur
        } else {
            None
        };
        Ok((
            live,
            counters.map(|v| v.unwrap_or_else(|| "0".into())).collect(),
        ))
    }

    /// The index's metadata.
    pub async fn status(&self) -> Result<IndexStatus, CacheError> {
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(self.meta_key()).arg(&[
            "complete", "cur", "count", "built_at", "build_ms", "building",
        ]);
        let v: Vec<Option<String>> = self.cache.guarded(self.cache.client().query(&cmd)).await?;
        let num = |i: usize| {
            v.get(i)
                .cloned()
                .flatten()
                .and_then(|s| s.parse::<u64>().ok())
        };
        Ok(IndexStatus {
            complete: v.first().cloned().flatten().as_deref() == Some("1"),
            generation: v.get(1).cloned().flatten(),
            vendors_indexed: num(2).unwrap_or(0),
            built_at_ms: num(3),
            build_ms: num(4),
            building: v.get(5).cloned().flatten(),
        })
    }
}

pub(crate) fn parse_search(reply: Value) -> Result<IndexAnswer, CacheError> {
    let Value::Array(parts) = reply else {
        return Err(bad_reply("search"));
    };
    if parts.first().and_then(int) != Some(1) {
        return Ok(IndexAnswer::NotReady);
    }
    // Taken apart by value: the documents are most of the reply and are moved, not copied.
    let Ok::<[Value; 7], _>([_, generation, built_at, ids, dists, docs, counters]) =
        parts.try_into()
    else {
        return Err(bad_reply("search parts"));
    };
    let list = |v: Value| match v {
        Value::Array(items) => Ok(items),
        Value::Nil => Ok(Vec::new()),
        _ => Err(bad_reply("search list")),
    };
    let (ids, dists, docs) = (list(ids)?, list(dists)?, list(docs)?);
    let mut dists = dists.into_iter();
    let mut docs = docs.into_iter();
    let mut hits = Vec::with_capacity(ids.len());
    for id in ids {
        let id = into_text(id).ok_or_else(|| bad_reply("id"))?;
        let miles = dists
            .next()
            .as_ref()
            .and_then(text)
            .and_then(|d| d.parse::<f64>().ok())
            .ok_or_else(|| bad_reply("distance"))?;
        let doc = docs.next().and_then(into_text);
        hits.push(IndexHit { id, miles, doc });
    }
    Ok(IndexAnswer::Found {
        generation: text(&generation).ok_or_else(|| bad_reply("generation"))?,
        built_at_ms: text(&built_at)
            .and_then(|s| s.parse::<f64>().ok())
            .map_or(0, |ms| ms as u64),
        hits,
        cell_counters: list(counters)?.into_iter().filter_map(into_text).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_wrap_at_the_antimeridian_and_give_up_near_the_poles() {
        assert_eq!(cell_of(&GeoPoint::new(34.05, -118.24)), "34:-119");
        assert_eq!(cell_of(&GeoPoint::new(0.5, 180.0)), "0:-180");
        let cells = cells_covering(&GeoPoint::new(0.0, 179.9), 20.0).unwrap();
        assert!(cells.contains(&"0:179".to_owned()) && cells.contains(&"0:-180".to_owned()));
        assert!(cells_covering(&GeoPoint::new(83.5, 0.0), 100.0).is_none());
        assert!(cells_covering(&GeoPoint::new(40.0, 0.0), 500.0).is_none());
        // The cell of any point within the radius is covered.
        let center = GeoPoint::new(34.05, -118.24);
        let cells = cells_covering(&center, 50.0).unwrap();
        for (dlat, dlon) in [(0.72, 0.0), (-0.72, 0.0), (0.0, 0.87), (0.0, -0.87)] {
            let p = GeoPoint::new(center.lat + dlat, center.lon + dlon);
            assert!(center.haversine_m(&p) / 1609.344 <= 50.0, "{p:?}");
            assert!(cells.contains(&cell_of(&p)), "{p:?}");
        }
    }
}
