//! [`Vendors`]: the vendor use cases a handler calls — read a profile, search nearby, find
//! candidates for an incident, and keep the cache behind every committed write.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cache::{Cache, CacheOutcome, Cached, GeoPoint, KeyFamily};

use crate::batch::Coalescer;
use crate::build::{BuildError, BuildReport, rebuild};
use crate::config::VendorsConfig;
use crate::index::{GeoIndex, IndexAnswer, IndexQuery, IndexStatus, cells_covering};
use crate::model::{Capability, Vendor};
use crate::results::{ProfileTier, ResultTier};
use crate::store::{NearbyQuery, VendorStore};
use crate::view::VendorDoc;

/// The key family of cached vendor profiles.
pub const PROFILE_FAMILY: &str = "vendor";

/// A rendered search answer: `{"vendors":[...],"count":n}`.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchAnswer {
    /// The JSON body.
    pub body: Arc<str>,
    /// `HIT` (a kept answer, confirmed unchanged), `MISS` (the index, or the database while
    /// the index is not ready) or `BYPASS` (Redis failed or is not configured).
    pub outcome: CacheOutcome,
}

struct RedisSide {
    index: GeoIndex,
    profiles: KeyFamily,
    local_profiles: ProfileTier,
    results: ResultTier,
    search_turns: Arc<tokio::sync::Semaphore>,
    /// Candidate searches of the incident path, pipelined (see [`crate::batch`]).
    candidates: Coalescer<IndexQuery, Option<IndexAnswer>>,
    /// Cache updates after committed writes, coalesced.
    updates: Coalescer<Vec<Vendor>, Result<(), String>>,
    rebuilding: AtomicBool,
    last_rebuild_attempt_ms: AtomicU64,
    epoch: Instant,
}

/// The vendor wing over a database (`S`) and, optionally, Redis. Cheap to clone.
pub struct Vendors<S> {
    store: S,
    redis: Option<Arc<RedisSide>>,
    config: Arc<VendorsConfig>,
}

impl<S: Clone> Clone for Vendors<S> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            redis: self.redis.clone(),
            config: self.config.clone(),
        }
    }
}

impl<S> std::fmt::Debug for Vendors<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vendors")
            .field(
                "redis",
                &self.redis.as_ref().map(|r| r.index.tag().to_owned()),
            )
            .field("config", &self.config)
            .finish()
    }
}

fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Renders search results, nearest first.
fn render<'a>(found: impl ExactSizeIterator<Item = (&'a str, f64)>) -> Arc<str> {
    let count = found.len();
    let mut body = String::with_capacity(64 + count * 400);
    body.push_str("{\"vendors\":[");
    for (i, (doc, miles)) in found.enumerate() {
        if i > 0 {
            body.push(',');
        }
        VendorDoc::write_with_distance(doc, miles, &mut body);
    }
    body.push_str("],\"count\":");
    body.push_str(&count.to_string());
    body.push('}');
    Arc::from(body)
}

/// The key of a search in the result tier: every parameter, exactly.
fn result_key(q: &NearbyQuery) -> String {
    format!(
        "{}:{}:{}:{}:{}:{}",
        q.center.lat,
        q.center.lon,
        q.radius_miles,
        q.capability.map_or("any", Capability::as_str),
        u8::from(q.available_only),
        q.limit
    )
}

impl<S: VendorStore> Vendors<S> {
    /// The wing over `store`, with the Redis cache when `cache` is given.
    pub fn new(store: S, cache: Option<Cache>, config: VendorsConfig) -> Self {
        let config = Arc::new(config);
        let redis = cache.map(|cache| {
            let mut profiles = cache.family(PROFILE_FAMILY);
            if let Some(window) = config.profile_stale_window {
                profiles = profiles.with_stale_while_revalidate(window);
            }
            Arc::new(RedisSide {
                index: GeoIndex::new(cache, config.clone()),
                profiles,
                local_profiles: ProfileTier::new(
                    config.profile_local_capacity,
                    config.profile_local_ttl,
                ),
                results: ResultTier::new(config.result_capacity, config.result_ttl),
                search_turns: Arc::new(tokio::sync::Semaphore::new(
                    config.searches_in_flight.max(1),
                )),
                candidates: Coalescer::new(),
                updates: Coalescer::new(),
                rebuilding: AtomicBool::new(false),
                last_rebuild_attempt_ms: AtomicU64::new(0),
                epoch: Instant::now(),
            })
        });
        Self {
            store,
            redis,
            config,
        }
    }

    /// The database side.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The geo index, when Redis is configured.
    pub fn index(&self) -> Option<&GeoIndex> {
        self.redis.as_ref().map(|r| &r.index)
    }

    /// One vendor's document: cache-aside through the `vendor` key family (single-flight,
    /// negative caching, stale-while-revalidate, TTL jitter, fenced fills), behind a short
    /// in-process tier (`profile_local_ttl`, the stated staleness bound across
    /// environments; this environment's own writes evict it at once).
    pub async fn profile(&self, id: &str) -> Result<Cached<VendorDoc>, S::Error> {
        // The in-process tier first: its hit allocates nothing for the loader below.
        if let Some(r) = &self.redis
            && r.local_profiles.enabled()
            && let Some(doc) = r.local_profiles.get(id)
        {
            return Ok(Cached {
                value: Some(doc),
                outcome: CacheOutcome::Hit,
            });
        }
        // Boxed: the shared path's future (Redis, single-flight, the loader) is kilobytes,
        // and unboxed it would be allocated and copied on every hit above too.
        Box::pin(self.profile_shared(id)).await
    }

    /// [`Self::profile`] past the in-process tier.
    async fn profile_shared(&self, id: &str) -> Result<Cached<VendorDoc>, S::Error> {
        let local = self
            .redis
            .as_ref()
            .is_some_and(|r| r.local_profiles.enabled());
        let store = self.store.clone();
        let owned = id.to_owned();
        let load =
            move || async move { Ok(store.get(&owned).await?.as_ref().map(VendorDoc::render)) };
        match &self.redis {
            Some(r) => {
                let epoch = r.local_profiles.epoch();
                let cached = r
                    .profiles
                    .get_or_load(id, self.config.profile_ttl, load)
                    .await?;
                if local
                    && cached.outcome == CacheOutcome::Hit
                    && let Some(doc) = &cached.value
                {
                    r.local_profiles.put(id, doc.clone(), epoch);
                }
                Ok(cached)
            }
            None => Ok(Cached {
                value: load().await?,
                outcome: CacheOutcome::Bypass,
            }),
        }
    }

    /// The nearest vendors matching `q`, rendered. Never offers a vendor whose last
    /// committed state does not match: a kept answer is reused only after Redis confirms
    /// that no vendor in its cells changed, and the index holds each vendor's newest state.
    pub async fn search(&self, q: &NearbyQuery) -> Result<SearchAnswer, S::Error> {
        let Some(r) = &self.redis else {
            return self.search_database(q, CacheOutcome::Bypass).await;
        };
        let key = result_key(q);
        // Only circles `cells_covering` can describe are ever kept.
        let kept = r.results.get(&key);
        if let Some(kept) = &kept {
            match kept.confirm(&r.index).await {
                Ok(true) => {
                    return Ok(SearchAnswer {
                        body: kept.body.clone(),
                        outcome: CacheOutcome::Hit,
                    });
                }
                Ok(false) => r.results.remove_if(&key, kept),
                Err(e) => {
                    tracing::warn!(error = %e, "vendor index unavailable; searching the database");
                    return self.search_database(q, CacheOutcome::Bypass).await;
                }
            }
        }
        let query = IndexQuery {
            center: q.center,
            radius_miles: q.radius_miles,
            capability: q.capability,
            available_only: q.available_only,
            limit: q.limit,
        };
        // Counters are read, and the answer kept, for a query asked before (or whose kept
        // answer just went out of date), not for every one-off position.
        let cells = if kept.is_some() || r.results.admits(&key) {
            cells_covering(&q.center, q.radius_miles)
        } else {
            None
        };
        let keep = cells.is_some();
        let cell_list = cells.unwrap_or_default();
        let turn = r.search_turns.acquire().await.ok();
        let found = r.index.search(&query, true, &cell_list).await;
        drop(turn);
        match found {
            Ok(IndexAnswer::Found {
                generation,
                built_at_ms,
                hits,
                cell_counters,
            }) if hits.iter().all(|h| h.doc.is_some()) => {
                self.rebuild_if_old(built_at_ms);
                let body = render(
                    hits.iter()
                        .map(|h| (h.doc.as_deref().unwrap_or("{}"), h.miles)),
                );
                if keep {
                    r.results
                        .put(key, generation, cell_list, cell_counters, body.clone());
                }
                Ok(SearchAnswer {
                    body,
                    outcome: CacheOutcome::Miss,
                })
            }
            Ok(_) => {
                // Not ready (or a document missing, which a complete index never lacks).
                self.start_rebuild();
                self.search_database(q, CacheOutcome::Miss).await
            }
            Err(e) => {
                tracing::warn!(error = %e, "vendor index unavailable; searching the database");
                self.search_database(q, CacheOutcome::Bypass).await
            }
        }
    }

    async fn search_database(
        &self,
        q: &NearbyQuery,
        outcome: CacheOutcome,
    ) -> Result<SearchAnswer, S::Error> {
        let found = self.store.search(q).await?;
        let docs: Vec<(VendorDoc, f64)> = found
            .iter()
            .map(|(v, miles)| (VendorDoc::render(v), *miles))
            .collect();
        Ok(SearchAnswer {
            body: render(docs.iter().map(|(d, m)| (d.as_str(), *m))),
            outcome,
        })
    }

    /// Ids of the nearest available vendors with `capability` (for matching an incident),
    /// nearest first; `None` when the index cannot answer (the database must search).
    ///
    /// Concurrent calls share round trips: every call that arrives while earlier ones are
    /// in flight goes out in one pipeline (at most `index_batch_max`), see
    /// [`Vendors::nearest_available_many`].
    pub async fn nearest_available(
        &self,
        center: GeoPoint,
        radius_miles: f64,
        capability: Capability,
        limit: usize,
    ) -> Option<Vec<String>> {
        let r = self.redis.as_ref()?;
        let query = IndexQuery {
            center,
            radius_miles,
            capability: Some(capability),
            available_only: true,
            limit,
        };
        let index = r.index.clone();
        let answer = r
            .candidates
            .call(query, self.config.index_batch_max, &r.search_turns, || {
                move |queries: Vec<IndexQuery>| {
                    let index = index.clone();
                    async move { candidate_batch(&index, &queries).await }
                }
            })
            .await
            .flatten()?;
        self.candidates_from(answer)
    }

    /// The candidates of several incidents at once, in one pipeline: what
    /// [`Vendors::nearest_available`] gives for each, in order. Waits for one index turn
    /// (outside the command timeout); `None` for every query when Redis fails.
    pub async fn nearest_available_many(&self, queries: &[IndexQuery]) -> Vec<Option<Vec<String>>> {
        let Some(r) = self.redis.as_ref() else {
            return vec![None; queries.len()];
        };
        let turn = r.search_turns.acquire().await.ok();
        let answers = candidate_batch(&r.index, queries).await;
        drop(turn);
        answers
            .into_iter()
            .map(|a| a.and_then(|a| self.candidates_from(a)))
            .collect()
    }

    fn candidates_from(&self, answer: IndexAnswer) -> Option<Vec<String>> {
        match answer {
            IndexAnswer::Found {
                hits, built_at_ms, ..
            } => {
                self.rebuild_if_old(built_at_ms);
                Some(hits.into_iter().map(|h| h.id).collect())
            }
            IndexAnswer::NotReady => {
                self.start_rebuild();
                None
            }
        }
    }

    /// Brings the cache in line with rows the database committed: the index takes each
    /// row unless it already holds a newer version, and cached profiles are invalidated
    /// (revoking fills in flight). Call it after the commit, from a task that outlives the
    /// request (a client that disconnects must not cancel it). When Redis fails, a
    /// background task re-reads the rows and retries with back-off.
    pub async fn committed(&self, vendors: &[Vendor]) {
        let Some(r) = &self.redis else {
            return;
        };
        if vendors.is_empty() {
            return;
        }
        let ids: Vec<String> = vendors.iter().map(|v| v.id.clone()).collect();
        r.local_profiles.evict(&ids);
        // Concurrent writes' updates share one script call and one pipeline.
        let index = r.index.clone();
        let profiles = r.profiles.clone();
        let updated = r
            .updates
            .call(
                vendors.to_vec(),
                self.config.index_batch_max,
                &r.search_turns,
                || {
                    move |writes: Vec<Vec<Vendor>>| {
                        let (index, profiles) = (index.clone(), profiles.clone());
                        async move { update_batch(&index, &profiles, writes).await }
                    }
                },
            )
            .await
            .unwrap_or_else(|| Err("the cache update worker stopped".to_owned()));
        let Err(error) = updated else {
            return;
        };
        tracing::warn!(
            vendors = ?ids,
            %error,
            "cache update after a write failed; repairing in the background"
        );
        let wing = self.clone();
        tokio::spawn(async move { wing.repair(ids).await });
    }

    async fn repair(&self, ids: Vec<String>) {
        let Some(r) = &self.redis else {
            return;
        };
        let mut delay = Duration::from_millis(100);
        for _ in 0..self.config.repair_attempts.max(1) {
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
            let mut rows = Vec::with_capacity(ids.len());
            let mut read_all = true;
            for id in &ids {
                match self.store.get(id).await {
                    Ok(Some(v)) => rows.push(v),
                    Ok(None) => {}
                    Err(_) => read_all = false,
                }
            }
            if !read_all {
                continue;
            }
            if r.index.apply(&rows).await.is_ok() && r.profiles.invalidate_many(&ids).await.is_ok()
            {
                tracing::info!(vendors = ?ids, "cache repaired after a failed update");
                return;
            }
        }
        tracing::error!(
            vendors = ?ids,
            "cache update lost; the index heals at its next rebuild (max_index_age)"
        );
    }

    /// The index's metadata; `None` without Redis or when Redis does not answer.
    pub async fn index_status(&self) -> Option<IndexStatus> {
        self.redis.as_ref()?.index.status().await.ok()
    }

    /// Rebuilds the index now and waits for it (start-up of the local server, tests,
    /// operators). [`BuildError::Busy`] when another environment holds the lease.
    pub async fn rebuild_index(&self) -> Result<BuildReport, BuildError> {
        let Some(r) = &self.redis else {
            return Ok(BuildReport {
                generation: String::new(),
                vendors: 0,
                took: Duration::ZERO,
            });
        };
        rebuild(&r.index, &self.store).await
    }

    fn rebuild_if_old(&self, built_at_ms: u64) {
        let age = Duration::from_millis(now_unix_ms().saturating_sub(built_at_ms));
        if age > self.config.max_index_age {
            self.start_rebuild();
        }
    }

    /// Starts a background rebuild unless this process started one within
    /// `rebuild_interval` or one is running here; the fleet-wide lease keeps other
    /// environments from building at the same time. Never waits.
    pub fn start_rebuild(&self) {
        let Some(r) = &self.redis else {
            return;
        };
        let now = r.epoch.elapsed().as_millis() as u64 + 1;
        let last = r.last_rebuild_attempt_ms.load(Ordering::Relaxed);
        let interval = self.config.rebuild_interval.as_millis() as u64;
        if last != 0 && now.saturating_sub(last) < interval {
            return;
        }
        if r.last_rebuild_attempt_ms
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        if r.rebuilding.swap(true, Ordering::AcqRel) {
            return;
        }
        let wing = self.clone();
        tokio::spawn(async move {
            let result = wing.rebuild_index().await;
            if let Some(r) = &wing.redis {
                r.rebuilding.store(false, Ordering::Release);
            }
            match result {
                Ok(report) => tracing::info!(
                    vendors = report.vendors,
                    generation = %report.generation,
                    took_ms = report.took.as_millis() as u64,
                    "vendor index rebuilt"
                ),
                Err(BuildError::Busy) => tracing::debug!("vendor index rebuild running elsewhere"),
                Err(e) => tracing::warn!(error = %e, "vendor index rebuild failed"),
            }
        });
    }
}

/// One pipeline of candidate searches; `None` for each when Redis fails (logged once).
async fn candidate_batch(index: &GeoIndex, queries: &[IndexQuery]) -> Vec<Option<IndexAnswer>> {
    match index.search_many(queries).await {
        Ok(answers) => answers.into_iter().map(Some).collect(),
        Err(e) => {
            tracing::warn!(error = %e, searches = queries.len(), "vendor index unavailable; matching in the database");
            vec![None; queries.len()]
        }
    }
}

/// The cache updates of several committed writes at once: every row in one `apply.lua`
/// call (the script keeps the newest version of a vendor that appears twice), then every
/// cached profile invalidated in one pipeline. The same outcome for each write.
async fn update_batch(
    index: &GeoIndex,
    profiles: &KeyFamily,
    writes: Vec<Vec<Vendor>>,
) -> Vec<Result<(), String>> {
    let count = writes.len();
    let rows: Vec<Vendor> = writes.into_iter().flatten().collect();
    let ids: Vec<&str> = rows.iter().map(|v| v.id.as_str()).collect();
    let applied = index.apply(&rows).await;
    let invalidated = profiles.invalidate_many(&ids).await;
    let outcome = match (applied, invalidated) {
        (Ok(_), Ok(_)) => Ok(()),
        (applied, invalidated) => Err(format!(
            "index: {:?}, profiles: {:?}",
            applied.err(),
            invalidated.err()
        )),
    };
    vec![outcome; count]
}

#[cfg(test)]
mod tests {
    use super::*;
    use cache::{BreakerState, CacheConfig};

    /// A table with no vendors: its index is complete and empty.
    #[derive(Clone)]
    struct NoVendors;

    impl VendorStore for NoVendors {
        type Error = std::convert::Infallible;
        async fn get(&self, _: &str) -> Result<Option<Vendor>, Self::Error> {
            Ok(None)
        }
        async fn page(&self, _: Option<String>, _: usize) -> Result<Vec<Vendor>, Self::Error> {
            Ok(Vec::new())
        }
        async fn search(&self, _: &NearbyQuery) -> Result<Vec<(Vendor, f64)>, Self::Error> {
            Ok(Vec::new())
        }
    }

    /// A burst queues for the index turns in this process; that wait is not Redis's, so no
    /// candidate search overruns its command timeout for it and the breaker stays closed.
    /// The turns are held here for four command timeouts while 40 searches wait.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn waiting_for_an_index_turn_is_not_a_redis_failure() {
        let server = testkit::redis::RedisServer::start();
        let timeout = Duration::from_millis(250);
        let cache = Cache::connect(CacheConfig {
            command_timeout: timeout,
            connect_timeout: Duration::from_secs(2),
            breaker_failure_threshold: 1,
            ..CacheConfig::with_url(server.url())
        })
        .await
        .expect("connect");
        let config = VendorsConfig {
            searches_in_flight: 2,
            index_batch_max: 4,
            ..VendorsConfig::default()
        };
        let wing = Vendors::new(NoVendors, Some(cache.clone()), config);
        wing.rebuild_index().await.expect("empty index");
        let turns = wing.redis.as_ref().expect("redis").search_turns.clone();
        let held = turns.acquire_many_owned(2).await.expect("turns");
        let searches: Vec<_> = (0..40)
            .map(|i| {
                let wing = wing.clone();
                let center = GeoPoint::new(40.0 + f64::from(i) * 0.01, -75.0);
                tokio::spawn(async move {
                    wing.nearest_available(center, 10.0, Capability::Tow, 8)
                        .await
                })
            })
            .collect();
        tokio::time::sleep(timeout * 4).await;
        assert_eq!(cache.breaker_state(), BreakerState::Closed);
        drop(held);
        for search in searches {
            assert_eq!(
                search.await.expect("task"),
                Some(Vec::new()),
                "answered by the index"
            );
        }
        assert_eq!(cache.breaker_state(), BreakerState::Closed);
    }

    #[test]
    fn results_render_as_the_search_body() {
        let body = render(
            [
                ("{\"vendorId\":\"a\"}", 1.234),
                ("{\"vendorId\":\"b\"}", 2.0),
            ]
            .into_iter(),
        );
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["count"], 2);
        assert_eq!(v["vendors"][0]["distanceMiles"], 1.23);
        assert_eq!(v["vendors"][1]["vendorId"], "b");
        let empty = render(std::iter::empty());
        assert_eq!(&*empty, "{\"vendors\":[],\"count\":0}");
    }
}
