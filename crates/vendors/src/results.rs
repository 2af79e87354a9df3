//! Search answers kept in this process and reused only after Redis confirms, in one
//! `HMGET`, that nothing changed in the cells they cover: the live-availability guarantee
//! holds across every environment (a write bumps the counters before it answers), while a
//! repeated search costs one small command instead of a search.
//!
//! Concurrent reuses of one answer share a confirmation ([`KeptAnswer::confirm`]): requests
//! that arrive while one `HMGET` is in flight wait for it and then share the next one. A
//! request never accepts a confirmation that was sent before it arrived, so an answer is
//! never older than a write that had answered when the request came in; under 50
//! concurrent clients Redis sees a handful of confirmations per round trip instead of one
//! per request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use cache::CacheError;
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};

use crate::index::GeoIndex;

/// What one confirmation found: `Ok(true)` when the generation and every counter are as
/// they were when the answer was kept.
pub(crate) type Verdict = Result<bool, Arc<CacheError>>;

type Round = Shared<BoxFuture<'static, Verdict>>;

/// The confirmation in flight and the one that collects requests for after it.
#[derive(Default)]
struct Rounds {
    in_flight: Option<Round>,
    next: Option<Round>,
}

/// A rendered answer and what it depends on.
pub(crate) struct KeptAnswer {
    pub(crate) generation: String,
    pub(crate) cells: Arc<[String]>,
    pub(crate) counters: Arc<[String]>,
    pub(crate) body: Arc<str>,
    kept_until: Instant,
    rounds: Arc<Mutex<Rounds>>,
}

impl std::fmt::Debug for KeptAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeptAnswer")
            .field("generation", &self.generation)
            .field("cells", &self.cells)
            .finish_non_exhaustive()
    }
}

impl KeptAnswer {
    /// Whether the index still holds what this answer was computed from, asked of Redis
    /// after this call began (shared with concurrent callers, see the module doc).
    pub(crate) async fn confirm(&self, index: &GeoIndex) -> Verdict {
        let round = {
            let mut rounds = self.rounds.lock().unwrap_or_else(|p| p.into_inner());
            match &rounds.next {
                // Not sent yet: it will read Redis after this request arrived.
                Some(next) => next.clone(),
                None => {
                    let round = self.start_round(rounds.in_flight.clone(), index.clone());
                    rounds.next = Some(round.clone());
                    round
                }
            }
        };
        round.await
    }

    fn start_round(&self, before: Option<Round>, index: GeoIndex) -> Round {
        // The round holds no strong reference to the answer: a round nobody awaits any
        // more must not keep it (and itself) alive.
        let rounds: Weak<Mutex<Rounds>> = Arc::downgrade(&self.rounds);
        let generation = self.generation.clone();
        let cells = self.cells.clone();
        let counters = self.counters.clone();
        async move {
            if let Some(before) = before {
                let _ = before.await;
            }
            if let Some(rounds) = rounds.upgrade() {
                let mut rounds = rounds.lock().unwrap_or_else(|p| p.into_inner());
                // From here on this round is in flight: later requests start the next.
                rounds.in_flight = rounds.next.take();
            }
            match index.counters(&cells).await {
                Ok((live, now)) => {
                    Ok(live.as_deref() == Some(generation.as_str()) && now[..] == counters[..])
                }
                Err(e) => Err(Arc::new(e)),
            }
        }
        .boxed()
        .shared()
    }
}

/// A bounded map from query to answer. A query is kept only from its second sighting on:
/// one-off searches (a driver's exact position) would otherwise churn the map and make the
/// index script read change counters that nobody will check.
#[derive(Debug)]
pub(crate) struct ResultTier {
    state: Mutex<TierState>,
    capacity: usize,
    ttl: Duration,
}

#[derive(Debug, Default)]
struct TierState {
    entries: HashMap<String, Arc<KeptAnswer>>,
    /// Hashes of queries seen once and not kept; cleared when it reaches its bound.
    seen_once: std::collections::HashSet<u64>,
    last_sweep: Option<Instant>,
}

fn query_hash(key: &str) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    BuildHasherDefault::<DefaultHasher>::default().hash_one(key)
}

impl ResultTier {
    pub(crate) fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            state: Mutex::new(TierState::default()),
            capacity,
            ttl,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TierState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn get(&self, key: &str) -> Option<Arc<KeptAnswer>> {
        self.lock()
            .entries
            .get(key)
            .filter(|e| e.kept_until > Instant::now())
            .cloned()
    }

    /// Whether an answer to `key` should be kept: true from the second time a query that
    /// is not kept is asked (and records the first).
    pub(crate) fn admits(&self, key: &str) -> bool {
        if self.capacity == 0 {
            return false;
        }
        let mut state = self.lock();
        let hash = query_hash(key);
        if state.seen_once.remove(&hash) {
            return true;
        }
        if state.seen_once.len() >= self.capacity.saturating_mul(4) {
            state.seen_once.clear();
        }
        state.seen_once.insert(hash);
        false
    }

    pub(crate) fn put(
        &self,
        key: String,
        generation: String,
        cells: Vec<String>,
        counters: Vec<String>,
        body: Arc<str>,
    ) {
        if self.capacity == 0 || counters.len() != cells.len() {
            return;
        }
        let mut state = self.lock();
        if state.entries.len() >= self.capacity && !state.entries.contains_key(&key) {
            let now = Instant::now();
            // A sweep reads every entry: at most one a second, not one per search.
            if state
                .last_sweep
                .is_none_or(|at| now.duration_since(at) >= Duration::from_secs(1))
            {
                state.entries.retain(|_, e| e.kept_until > now);
                state.last_sweep = Some(now);
            }
            if state.entries.len() >= self.capacity {
                // Still full of live entries: drop an arbitrary one (HashMap order is
                // random per process, which is as good as LRU for uniform traffic).
                if let Some(k) = state.entries.keys().next().cloned() {
                    state.entries.remove(&k);
                }
            }
        }
        state.entries.insert(
            key,
            Arc::new(KeptAnswer {
                generation,
                cells: cells.into(),
                counters: counters.into(),
                body,
                kept_until: Instant::now() + self.ttl,
                rounds: Arc::default(),
            }),
        );
    }

    /// Drops `kept` unless a newer answer already took its place (many requests find the
    /// same answer outdated at once, and one of them may have stored its successor).
    pub(crate) fn remove_if(&self, key: &str, kept: &Arc<KeptAnswer>) {
        let mut state = self.lock();
        if state.entries.get(key).is_some_and(|e| Arc::ptr_eq(e, kept)) {
            state.entries.remove(key);
        }
    }
}

/// Profiles this process read from Redis, reused for a short, stated time. A write in this
/// process bumps `epoch` and evicts; a read that started before the bump does not store.
#[derive(Debug)]
pub(crate) struct ProfileTier {
    entries: Mutex<HashMap<String, (Instant, crate::view::VendorDoc)>>,
    epoch: std::sync::atomic::AtomicU64,
    capacity: usize,
    ttl: Duration,
}

impl ProfileTier {
    pub(crate) fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            epoch: std::sync::atomic::AtomicU64::new(0),
            capacity,
            ttl,
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.capacity > 0 && !self.ttl.is_zero()
    }

    pub(crate) fn get(&self, id: &str) -> Option<crate::view::VendorDoc> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(id)
            .filter(|(until, _)| *until > Instant::now())
            .map(|(_, doc)| doc.clone())
    }

    /// The epoch to pass to [`ProfileTier::put`]; take it before reading.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(std::sync::atomic::Ordering::Acquire)
    }

    pub(crate) fn put(&self, id: &str, doc: crate::view::VendorDoc, epoch: u64) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        // Checked under the lock that `evict` takes too: a write in between wins.
        if self.epoch() != epoch {
            return;
        }
        if entries.len() >= self.capacity && !entries.contains_key(id) {
            let now = Instant::now();
            entries.retain(|_, (until, _)| *until > now);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(id.to_owned(), (Instant::now() + self.ttl, doc));
    }

    pub(crate) fn evict(&self, ids: &[String]) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        self.epoch.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        for id in ids {
            entries.remove(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tier_stays_within_its_capacity() {
        let tier = ResultTier::new(2, Duration::from_secs(60));
        for i in 0..5 {
            tier.put(format!("q{i}"), "1".into(), vec![], vec![], Arc::from("{}"));
        }
        assert_eq!(tier.lock().entries.len(), 2);
        assert!(tier.get("q4").is_some());
        tier.put(
            "bad".into(),
            "1".into(),
            vec!["0:0".into()],
            vec![],
            Arc::from("{}"),
        );
        assert!(tier.get("bad").is_none(), "counters must match the cells");
    }

    #[test]
    fn a_query_is_admitted_on_its_second_sighting() {
        let tier = ResultTier::new(2, Duration::from_secs(60));
        assert!(!tier.admits("a"));
        assert!(!tier.admits("b"));
        assert!(tier.admits("a"));
        // Admitted once, forgotten: a third sighting of an unkept query starts over.
        assert!(!tier.admits("a"));
        // The record of one-off queries stays bounded (4 x capacity).
        for i in 0..100 {
            assert!(!tier.admits(&format!("once-{i}")));
        }
        assert!(tier.lock().seen_once.len() <= 8);
        assert!(!ResultTier::new(0, Duration::from_secs(60)).admits("a"));
    }
}
