//! `VendorCache`: vendor profiles, a geo index that never returns stale availability or
//! expired vendors, a search-result cache invalidated by relevant changes, and an atomic
//! "claim the nearest available vendor" primitive.

mod model;
mod scripts;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use redis::Value;

use crate::aside::{Cache, CacheOutcome, Cached};
use crate::client::ttl_millis;
use crate::error::CacheError;
use crate::geo::{GeoPoint, GeoUnit, value_to_f64, value_to_string};
use crate::metrics::Counters;

pub use model::{
    Availability, AvailabilityStatus, Capability, MAX_ABS_LAT, MAX_ABS_LON, MAX_ID_CHARS,
    TransitionRefused, UnknownCapability, UnknownStatus, Vendor, VendorMatch, VendorMetrics,
    is_valid_id,
};
use scripts::{LuaScript, Scripts};

/// Pipelines of one bulk update sent before waiting for the first reply.
const PIPELINES_IN_FLIGHT: usize = 4;

/// Settings of a [`VendorCache`].
#[derive(Debug, Clone)]
pub struct VendorCacheConfig {
    /// Region (market) name; all of a region's vendor keys share the hash tag
    /// `{geo:<region>}`, so one region lives on one cluster slot and its updates are atomic.
    pub region: String,
    /// TTL of a cached profile (and of its place in the geo index).
    pub profile_ttl: Duration,
    /// TTL of a cached search result.
    pub search_ttl: Duration,
    /// Decimal places the search center is rounded to, both for the search and its cache
    /// key (3 = about 110 m), so nearby callers share entries.
    pub search_precision: u32,
    /// Size in degrees of the grid cells whose change counters invalidate cached searches.
    pub cell_degrees: f64,
    /// Commands per pipeline for bulk updates (each pipeline must fit in the command timeout).
    pub pipeline_chunk: usize,
}

impl Default for VendorCacheConfig {
    fn default() -> Self {
        Self {
            region: "default".to_owned(),
            profile_ttl: Duration::from_secs(300),
            search_ttl: Duration::from_secs(60),
            search_precision: 3,
            cell_degrees: 0.5,
            pipeline_chunk: 256,
        }
    }
}

/// "Nearest vendors with capability X within R" query.
#[derive(Debug, Clone, PartialEq)]
pub struct VendorQuery {
    /// Where the incident is.
    pub center: GeoPoint,
    /// Search radius in `unit`.
    pub radius: f64,
    /// Unit of `radius` and of returned distances.
    pub unit: GeoUnit,
    /// Required capability; `None` for any.
    pub capability: Option<Capability>,
    /// Statuses to return; `None` for every status.
    pub status: Option<AvailabilityStatus>,
    /// At most this many vendors, nearest first.
    pub limit: usize,
}

impl VendorQuery {
    /// Available vendors with `capability` within `radius_miles` of `center`, 10 at most.
    pub fn available(center: GeoPoint, radius_miles: f64, capability: Capability) -> Self {
        Self {
            center,
            radius: radius_miles,
            unit: GeoUnit::Miles,
            capability: Some(capability),
            status: Some(AvailabilityStatus::Available),
            limit: 10,
        }
    }

    /// Sets the result limit.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }
}

/// Search results and whether they came from the search cache (`HIT`) or the index (`MISS`).
#[derive(Debug, Clone, PartialEq)]
pub struct VendorSearch {
    /// Nearest first.
    pub matches: Vec<VendorMatch>,
    /// `HIT` or `MISS`.
    pub outcome: CacheOutcome,
}

/// A vendor taken by [`VendorCache::claim_nearest`].
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    /// The vendor now marked busy with the incident.
    pub vendor_id: String,
    /// Its distance from the incident, in the query's unit.
    pub distance: f64,
    /// Its indexed position.
    pub location: GeoPoint,
}

/// Vendor profiles and the vendor geo index of one region. Cheap to clone.
#[derive(Clone)]
pub struct VendorCache {
    cache: Cache,
    config: Arc<VendorCacheConfig>,
    tag: Arc<str>,
    scripts: Arc<Scripts>,
    counters: Arc<Counters>,
    search_counters: Arc<Counters>,
}

impl std::fmt::Debug for VendorCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VendorCache")
            .field("tag", &self.tag)
            .field("config", &self.config)
            .finish()
    }
}

fn validate_id(id: &str) -> Result<(), CacheError> {
    if id.is_empty()
        || id.len() > 200
        || id.contains(|c: char| c == ',' || c.is_whitespace() || c.is_control())
    {
        return Err(CacheError::InvalidInput(format!(
            "vendor id {id:?} must be 1-200 characters without commas or whitespace"
        )));
    }
    Ok(())
}

fn caps_csv(caps: &[Capability]) -> String {
    let mut names: Vec<&str> = caps.iter().map(|c| c.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names.join(",")
}

fn bad_reply(what: &str) -> CacheError {
    CacheError::Command(format!("unexpected vendor script reply: {what}"))
}

fn is_noscript(e: &CacheError) -> bool {
    // Pipelines report per-command failures in the message ("NoScript: ..."); the
    // server's own code is NOSCRIPT.
    matches!(e, CacheError::Command(m) if m.to_ascii_lowercase().contains("noscript"))
}

impl VendorCache {
    /// A vendor cache of `config.region` on top of `cache` (sharing its client, breaker
    /// and metrics; profile counters go to the `vendor` family, search-cache hits and
    /// misses to `vendor-search`).
    pub fn new(cache: Cache, config: VendorCacheConfig) -> Self {
        let tag = format!("{}:{{geo:{}}}", cache.config().key_prefix, config.region);
        let counters = cache.inner.metrics.family("vendor");
        let search_counters = cache.inner.metrics.family("vendor-search");
        Self {
            cache,
            config: Arc::new(config),
            tag: Arc::from(tag),
            scripts: Arc::new(Scripts::new()),
            counters,
            search_counters,
        }
    }

    /// The settings in use.
    pub fn config(&self) -> &VendorCacheConfig {
        &self.config
    }

    fn state_key(&self, id: &str) -> String {
        format!("{}:s:{}", self.tag, id)
    }

    fn profile_key(&self, id: &str) -> String {
        format!("{}:p:{}", self.tag, id)
    }

    /// The cell a position falls in, as `row:column` of the `cell_degrees` grid.
    fn cell(&self, p: &GeoPoint) -> String {
        let size = self.config.cell_degrees;
        format!(
            "{}:{}",
            (p.lat / size).floor() as i64,
            (p.lon / size).floor() as i64
        )
    }

    /// Cells a search may see, or `None` when there are too many to track (huge radius,
    /// poles, antimeridian): such searches are not cached.
    fn cells_covering(&self, center: &GeoPoint, radius_m: f64) -> Option<Vec<String>> {
        // Slightly conservative degree sizes (110.5 km per degree of latitude, plus 1%).
        let dlat = radius_m / 110_500.0 * 1.01;
        let (lat_lo, lat_hi) = (center.lat - dlat, center.lat + dlat);
        let max_abs_lat = lat_lo.abs().max(lat_hi.abs());
        if max_abs_lat >= 84.0 {
            return None;
        }
        let dlon = radius_m / (111_320.0 * max_abs_lat.to_radians().cos()) * 1.01;
        let (lon_lo, lon_hi) = (center.lon - dlon, center.lon + dlon);
        if lon_lo < -180.0 || lon_hi > 180.0 {
            return None;
        }
        let size = self.config.cell_degrees;
        let (r0, r1) = (
            (lat_lo / size).floor() as i64,
            (lat_hi / size).floor() as i64,
        );
        let (c0, c1) = (
            (lon_lo / size).floor() as i64,
            (lon_hi / size).floor() as i64,
        );
        if (r1 - r0 + 1) * (c1 - c0 + 1) > 100 {
            return None;
        }
        Some(
            (r0..=r1)
                .flat_map(|r| (c0..=c1).map(move |c| format!("{r}:{c}")))
                .collect(),
        )
    }

    async fn run_script<T: redis::FromRedisValue>(
        &self,
        script: &LuaScript,
        key: &str,
        args: &[&[u8]],
    ) -> Result<T, CacheError> {
        let mut inv = script.script.key(key);
        inv.arg(&*self.tag);
        for a in args {
            inv.arg(*a);
        }
        self.cache
            .guarded(self.cache.client().invoke::<T>(&inv))
            .await
    }

    /// Caches a profile (TTL `profile_ttl`) and (re)indexes it under its availability and
    /// capabilities, atomically. Call it after the database write.
    pub async fn put_profile(&self, vendor: &Vendor) -> Result<(), CacheError> {
        self.put_profiles(std::slice::from_ref(vendor)).await
    }

    /// [`VendorCache::put_profile`] for many vendors, pipelined.
    pub async fn put_profiles(&self, vendors: &[Vendor]) -> Result<(), CacheError> {
        let codec = self.cache.client().codec();
        let ttl = ttl_millis(self.config.profile_ttl).to_string();
        // As in `update_locations`: concurrent pipelines, so one write per vendor.
        let mut last: HashMap<&str, &Vendor> = HashMap::with_capacity(vendors.len());
        for v in vendors {
            last.insert(v.id.as_str(), v);
        }
        let mut prepared = Vec::with_capacity(last.len());
        for v in vendors.iter().filter(|v| {
            last.get(v.id.as_str())
                .is_some_and(|l| std::ptr::eq(*l, *v))
        }) {
            validate_id(&v.id)?;
            v.location.validate()?;
            prepared.push((
                self.state_key(&v.id),
                vec![
                    v.id.clone().into_bytes(),
                    codec.encode(v)?,
                    ttl.clone().into_bytes(),
                    v.availability.status.as_str().as_bytes().to_vec(),
                    v.availability
                        .current_incident_id
                        .clone()
                        .unwrap_or_default()
                        .into_bytes(),
                    caps_csv(&v.capabilities).into_bytes(),
                    v.location.lon.to_string().into_bytes(),
                    v.location.lat.to_string().into_bytes(),
                    self.cell(&v.location).into_bytes(),
                ],
            ));
        }
        self.pipelined(&self.scripts.put, prepared)
            .await
            .map(|_| ())
    }

    /// Runs `script` once per (key, args) in pipelines of `pipeline_chunk`, a few
    /// pipelines in flight at once so the server never waits for the client's round
    /// trip, reloading the script once if the server forgot it (restart, failover).
    async fn pipelined(
        &self,
        script: &LuaScript,
        calls: Vec<(String, Vec<Vec<u8>>)>,
    ) -> Result<Vec<i64>, CacheError> {
        use futures::{StreamExt, TryStreamExt};
        // Owned chunks: a stream over borrowed slices makes this future not `Send` for
        // every lifetime (a rustc limitation), and callers spawn it or serve it from axum.
        let size = self.config.pipeline_chunk.max(1);
        let mut owned: Vec<Vec<(String, Vec<Vec<u8>>)>> =
            Vec::with_capacity(calls.len() / size + 1);
        let mut rest = calls.into_iter().peekable();
        while rest.peek().is_some() {
            owned.push(rest.by_ref().take(size).collect());
        }
        let chunks: Vec<Vec<i64>> = futures::stream::iter(owned)
            .map(|chunk| async move { self.pipelined_chunk(script, &chunk).await })
            .buffered(PIPELINES_IN_FLIGHT)
            .try_collect()
            .await?;
        Ok(chunks.into_iter().flatten().collect())
    }

    async fn pipelined_chunk(
        &self,
        script: &LuaScript,
        chunk: &[(String, Vec<Vec<u8>>)],
    ) -> Result<Vec<i64>, CacheError> {
        let mut pipe = redis::pipe();
        for (key, args) in chunk {
            pipe.cmd("EVALSHA")
                .arg(script.script.get_hash())
                .arg(1)
                .arg(key)
                .arg(&*self.tag)
                .arg(args);
        }
        let client = self.cache.client();
        let result = self
            .cache
            .guarded(client.query_pipeline::<Vec<i64>>(&pipe))
            .await;
        if !result.as_ref().is_err_and(is_noscript) {
            return result;
        }
        // In cluster mode SCRIPT LOAD goes to every primary, the region's included.
        let mut load = redis::cmd("SCRIPT");
        load.arg("LOAD").arg(&script.source);
        self.cache.guarded(client.query::<Value>(&load)).await?;
        self.cache
            .guarded(client.query_pipeline::<Vec<i64>>(&pipe))
            .await
    }

    /// Moves vendors in the index; returns, per update, whether the vendor was cached (an
    /// uncached vendor is not indexed: load its profile first). Pipelined; each update
    /// is atomic and invalidates cached searches covering the old and new position. When
    /// a vendor appears more than once, its last position wins.
    pub async fn update_locations(
        &self,
        updates: &[(impl AsRef<str>, GeoPoint)],
    ) -> Result<Vec<bool>, CacheError> {
        // Pipelines run concurrently and may land in any order, so only the last update
        // of each vendor is sent.
        let mut last: HashMap<&str, usize> = HashMap::with_capacity(updates.len());
        for (i, (id, p)) in updates.iter().enumerate() {
            validate_id(id.as_ref())?;
            p.validate()?;
            last.insert(id.as_ref(), i);
        }
        let mut sent: Vec<usize> = last.values().copied().collect();
        sent.sort_unstable();
        let calls = sent
            .iter()
            .map(|&i| {
                let (id, p) = &updates[i];
                (
                    self.state_key(id.as_ref()),
                    vec![
                        id.as_ref().as_bytes().to_vec(),
                        p.lon.to_string().into_bytes(),
                        p.lat.to_string().into_bytes(),
                        self.cell(p).into_bytes(),
                    ],
                )
            })
            .collect();
        let replies = self.pipelined(&self.scripts.location, calls).await?;
        let applied: HashMap<&str, bool> = sent
            .iter()
            .zip(replies)
            .map(|(&i, r)| (updates[i].0.as_ref(), r == 1))
            .collect();
        Ok(updates
            .iter()
            .map(|(id, _)| applied.get(id.as_ref()).copied().unwrap_or(false))
            .collect())
    }

    /// Moves one vendor; `false` when it is not cached.
    pub async fn update_location(&self, id: &str, location: GeoPoint) -> Result<bool, CacheError> {
        Ok(self
            .update_locations(&[(id, location)])
            .await?
            .first()
            .copied()
            .unwrap_or(false))
    }

    /// Changes a vendor's availability, moving it between geo sets atomically; `false`
    /// when it is not cached.
    pub async fn set_availability(
        &self,
        id: &str,
        availability: &Availability,
    ) -> Result<bool, CacheError> {
        validate_id(id)?;
        let reply: i64 = self
            .run_script(
                &self.scripts.availability,
                &self.state_key(id),
                &[
                    id.as_bytes(),
                    availability.status.as_str().as_bytes(),
                    availability
                        .current_incident_id
                        .as_deref()
                        .unwrap_or("")
                        .as_bytes(),
                    b"",
                ],
            )
            .await?;
        Ok(reply == 1)
    }

    /// [`VendorCache::set_availability`] for many vendors, pipelined; per update, whether
    /// the vendor was cached. When a vendor appears more than once, its last entry wins.
    pub async fn set_availabilities(
        &self,
        updates: &[(impl AsRef<str>, Availability)],
    ) -> Result<Vec<bool>, CacheError> {
        let mut last: HashMap<&str, usize> = HashMap::with_capacity(updates.len());
        for (i, (id, _)) in updates.iter().enumerate() {
            validate_id(id.as_ref())?;
            last.insert(id.as_ref(), i);
        }
        let mut sent: Vec<usize> = last.values().copied().collect();
        sent.sort_unstable();
        let calls = sent
            .iter()
            .map(|&i| {
                let (id, a) = &updates[i];
                (
                    self.state_key(id.as_ref()),
                    vec![
                        id.as_ref().as_bytes().to_vec(),
                        a.status.as_str().as_bytes().to_vec(),
                        a.current_incident_id
                            .clone()
                            .unwrap_or_default()
                            .into_bytes(),
                        Vec::new(),
                    ],
                )
            })
            .collect();
        let replies = self.pipelined(&self.scripts.availability, calls).await?;
        let applied: HashMap<&str, bool> = sent
            .iter()
            .zip(replies)
            .map(|(&i, r)| (updates[i].0.as_ref(), r == 1))
            .collect();
        Ok(updates
            .iter()
            .map(|(id, _)| applied.get(id.as_ref()).copied().unwrap_or(false))
            .collect())
    }

    /// Marks a vendor available again only if it is currently busy (`true` when
    /// released), so a late release cannot revive an offline vendor.
    pub async fn release(&self, id: &str) -> Result<bool, CacheError> {
        validate_id(id)?;
        let reply: i64 = self
            .run_script(
                &self.scripts.availability,
                &self.state_key(id),
                &[id.as_bytes(), b"available", b"", b"busy"],
            )
            .await?;
        Ok(reply == 1)
    }

    /// Removes vendors from the cache and the index (profile, state, geo entries) and
    /// invalidates cached searches around them. Returns how many were cached.
    pub async fn invalidate(&self, ids: &[impl AsRef<str>]) -> Result<u64, CacheError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut total = 0;
        for chunk in ids.chunks(self.config.pipeline_chunk.max(1)) {
            let mut args: Vec<&[u8]> = Vec::with_capacity(chunk.len());
            for id in chunk {
                validate_id(id.as_ref())?;
                args.push(id.as_ref().as_bytes());
            }
            let n: i64 = self
                .run_script(
                    &self.scripts.remove,
                    &self.state_key(chunk[0].as_ref()),
                    &args,
                )
                .await?;
            total += u64::try_from(n).unwrap_or(0);
        }
        Ok(total)
    }

    /// A cached profile with its live availability and location, or `None`.
    pub async fn get_profile(&self, id: &str) -> Result<Option<Vendor>, CacheError> {
        Ok(self.get_profiles(&[id]).await?.pop().flatten())
    }

    /// Cached profiles in the order of `ids` (one round trip).
    pub async fn get_profiles(
        &self,
        ids: &[impl AsRef<str>],
    ) -> Result<Vec<Option<Vendor>>, CacheError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in ids {
            validate_id(id.as_ref())?;
            pipe.cmd("GET").arg(self.profile_key(id.as_ref()));
            pipe.cmd("HMGET")
                .arg(self.state_key(id.as_ref()))
                .arg(&["a", "i", "lon", "lat"]);
        }
        let replies: Vec<Value> = self
            .cache
            .guarded(self.cache.client().query_pipeline(&pipe))
            .await?;
        let codec = self.cache.client().codec();
        replies
            .chunks(2)
            .map(|pair| {
                let [profile, state] = pair else {
                    return Err(bad_reply("profile pipeline"));
                };
                let Value::BulkString(bytes) = profile else {
                    return Ok(None);
                };
                let Value::Array(state) = state else {
                    return Ok(None);
                };
                let field = |i: usize| state.get(i).and_then(value_to_string);
                // The state hash is the live truth; without it the vendor is not cached.
                let Some(status) = field(0).and_then(|s| AvailabilityStatus::parse(&s)) else {
                    return Ok(None);
                };
                let mut vendor: Vendor = codec.decode(bytes)?;
                vendor.availability = Availability {
                    status,
                    current_incident_id: field(1).filter(|s| !s.is_empty()),
                };
                if let (Some(lon), Some(lat)) = (
                    state.get(2).and_then(value_to_f64),
                    state.get(3).and_then(value_to_f64),
                ) {
                    vendor.location = GeoPoint { lat, lon };
                }
                Ok(Some(vendor))
            })
            .collect()
    }

    /// Cache-aside for one profile: `HIT` from the cache; otherwise the loader's answer,
    /// cached and indexed (`MISS`), or straight through when Redis fails (`BYPASS`).
    pub async fn get_or_load_profile<E, F, Fut>(
        &self,
        id: &str,
        loader: F,
    ) -> Result<Cached<Vendor>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<Vendor>, E>>,
    {
        match self.get_profile(id).await {
            Ok(Some(vendor)) => {
                Counters::add(&self.counters.hits);
                Ok(Cached {
                    value: Some(vendor),
                    outcome: CacheOutcome::Hit,
                })
            }
            Ok(None) => {
                Counters::add(&self.counters.misses);
                Counters::add(&self.counters.loads);
                let value = loader().await?;
                if let Some(v) = &value
                    && let Err(e) = self.put_profile(v).await
                {
                    Counters::add(&self.counters.errors);
                    tracing::warn!(error = %e, "vendor profile write failed");
                }
                Ok(Cached {
                    value,
                    outcome: CacheOutcome::Miss,
                })
            }
            Err(e) => {
                if !matches!(e, CacheError::CircuitOpen) {
                    Counters::add(&self.counters.errors);
                }
                Counters::add(&self.counters.bypass);
                Counters::add(&self.counters.loads);
                Ok(Cached {
                    value: loader().await?,
                    outcome: CacheOutcome::Bypass,
                })
            }
        }
    }

    fn search_cache_key(
        &self,
        q: &VendorQuery,
        center: &GeoPoint,
        statuses: &str,
        cap: &str,
    ) -> String {
        let p = self.config.search_precision as usize;
        format!(
            "{}:q:{:.p$}:{:.p$}:{}:{}:{}:{}:{}",
            self.tag,
            center.lat,
            center.lon,
            q.radius,
            q.unit.as_redis(),
            cap,
            statuses,
            q.limit
        )
    }

    /// Nearest vendors matching `query`, nearest first. The center is rounded to
    /// `search_precision` decimals. Results are cached for `search_ttl` under a key made of
    /// every query parameter; an entry is discarded when any vendor moves or changes
    /// availability in a grid cell the search covers, or when a listed vendor's profile
    /// expired or was invalidated.
    pub async fn search_nearby(&self, query: &VendorQuery) -> Result<VendorSearch, CacheError> {
        self.search(query, true).await
    }

    /// Like [`VendorCache::search_nearby`] but always asks the geo index, neither reading
    /// nor writing the search-result cache (for callers that must see the latest state).
    pub async fn search_index(&self, query: &VendorQuery) -> Result<Vec<VendorMatch>, CacheError> {
        Ok(self.search(query, false).await?.matches)
    }

    async fn search(
        &self,
        query: &VendorQuery,
        use_cache: bool,
    ) -> Result<VendorSearch, CacheError> {
        if !(query.radius.is_finite() && query.radius > 0.0) || query.limit == 0 {
            return Err(CacheError::InvalidInput(
                "radius must be positive and limit at least 1".into(),
            ));
        }
        query.center.validate()?;
        let scale = 10f64.powi(self.config.search_precision as i32);
        let center = GeoPoint {
            lat: (query.center.lat * scale).round() / scale,
            lon: (query.center.lon * scale).round() / scale,
        };
        let statuses = match query.status {
            Some(s) => s.as_str().to_owned(),
            None => "available,busy,offline".to_owned(),
        };
        let cap = query.capability.map_or("any", Capability::as_str);
        let cells = if use_cache {
            self.cells_covering(&center, query.radius * query.unit.meters())
        } else {
            None
        };
        let cache_key = self.search_cache_key(query, &center, &statuses, cap);
        let codec = self.cache.client().codec();

        if cells.is_some() {
            let cached: Option<Vec<u8>> = self
                .run_script(&self.scripts.search_cached, &cache_key, &[])
                .await?;
            if let Some(matches) =
                cached.and_then(|body| codec.decode::<Vec<VendorMatch>>(&body).ok())
            {
                Counters::add(&self.search_counters.hits);
                return Ok(VendorSearch {
                    matches,
                    outcome: CacheOutcome::Hit,
                });
            }
            Counters::add(&self.search_counters.misses);
        }

        let cells_csv = cells.as_ref().map(|c| c.join(",")).unwrap_or_default();
        let reply: Value = self
            .run_script(
                &self.scripts.search,
                &cache_key,
                &[
                    center.lon.to_string().as_bytes(),
                    center.lat.to_string().as_bytes(),
                    query.radius.to_string().as_bytes(),
                    query.unit.as_redis().as_bytes(),
                    query.limit.to_string().as_bytes(),
                    statuses.as_bytes(),
                    cap.as_bytes(),
                    cells_csv.as_bytes(),
                ],
            )
            .await?;
        let Value::Array(parts) = reply else {
            return Err(bad_reply("search"));
        };
        let [rows, gens] = parts.as_slice() else {
            return Err(bad_reply("search parts"));
        };
        let matches = parse_rows(rows)?;

        if let (Some(cells), Value::Array(gens)) = (cells, gens) {
            let gens: Vec<String> = gens.iter().filter_map(value_to_string).collect();
            let ids: Vec<&str> = matches.iter().map(|m| m.vendor_id.as_str()).collect();
            // MULTI so an entry never exists without its TTL.
            let mut pipe = redis::pipe();
            pipe.atomic()
                .cmd("HSET")
                .arg(&cache_key)
                .arg("cells")
                .arg(cells.join(","))
                .arg("gens")
                .arg(gens.join(","))
                .arg("ids")
                .arg(ids.join(","))
                .arg("body")
                .arg(codec.encode(&matches)?)
                .ignore()
                .cmd("PEXPIRE")
                .arg(&cache_key)
                .arg(ttl_millis(self.config.search_ttl))
                .ignore();
            if let Err(e) = self
                .cache
                .guarded(self.cache.client().query_pipeline::<()>(&pipe))
                .await
            {
                tracing::warn!(error = %e, "search cache write failed");
            }
        }
        Ok(VendorSearch {
            matches,
            outcome: CacheOutcome::Miss,
        })
    }

    /// Atomically takes the nearest available vendor with the query's capability within
    /// its radius and marks it busy with `incident_id`, so two concurrent incidents never
    /// get the same vendor from the cache. The database must still confirm the
    /// assignment; on conflict call [`VendorCache::set_availability`] to fix the cache.
    pub async fn claim_nearest(
        &self,
        query: &VendorQuery,
        incident_id: &str,
    ) -> Result<Option<Claim>, CacheError> {
        query.center.validate()?;
        if !(query.radius.is_finite() && query.radius > 0.0) {
            return Err(CacheError::InvalidInput("radius must be positive".into()));
        }
        let cap = query.capability.map_or("any", Capability::as_str);
        let reply: Value = self
            .run_script(
                &self.scripts.claim,
                &self.state_key("claim"),
                &[
                    query.center.lon.to_string().as_bytes(),
                    query.center.lat.to_string().as_bytes(),
                    query.radius.to_string().as_bytes(),
                    query.unit.as_redis().as_bytes(),
                    cap.as_bytes(),
                    incident_id.as_bytes(),
                ],
            )
            .await?;
        match reply {
            Value::Nil => Ok(None),
            Value::Array(f) if f.len() == 4 => {
                let vendor_id = value_to_string(&f[0]).ok_or_else(|| bad_reply("claim id"))?;
                let distance = value_to_f64(&f[1]).ok_or_else(|| bad_reply("claim dist"))?;
                let lon = value_to_f64(&f[2]).ok_or_else(|| bad_reply("claim lon"))?;
                let lat = value_to_f64(&f[3]).ok_or_else(|| bad_reply("claim lat"))?;
                Ok(Some(Claim {
                    vendor_id,
                    distance,
                    location: GeoPoint { lat, lon },
                }))
            }
            _ => Err(bad_reply("claim")),
        }
    }
}

fn parse_rows(rows: &Value) -> Result<Vec<VendorMatch>, CacheError> {
    let Value::Array(rows) = rows else {
        return Err(bad_reply("rows"));
    };
    rows.iter()
        .map(|row| {
            let Value::Array(f) = row else {
                return Err(bad_reply("row"));
            };
            let [id, dist, lon, lat, status] = f.as_slice() else {
                return Err(bad_reply("row fields"));
            };
            Ok(VendorMatch {
                vendor_id: value_to_string(id).ok_or_else(|| bad_reply("id"))?,
                distance: value_to_f64(dist).ok_or_else(|| bad_reply("distance"))?,
                location: GeoPoint {
                    lon: value_to_f64(lon).ok_or_else(|| bad_reply("lon"))?,
                    lat: value_to_f64(lat).ok_or_else(|| bad_reply("lat"))?,
                },
                status: value_to_string(status)
                    .and_then(|s| AvailabilityStatus::parse(&s))
                    .ok_or_else(|| bad_reply("status"))?,
            })
        })
        .collect()
}
