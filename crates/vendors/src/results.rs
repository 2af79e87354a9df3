//! Search answers kept in this process and reused only after Redis confirms, in one
//! `HMGET`, that nothing changed in the cells they cover: the live-availability guarantee
//! holds across every environment (a write bumps the counters before it answers), while a
//! repeated search costs one small command instead of a search.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A rendered answer and what it depends on.
#[derive(Debug)]
pub(crate) struct KeptAnswer {
    pub(crate) generation: String,
    pub(crate) cells: Vec<String>,
    pub(crate) counters: Vec<String>,
    pub(crate) body: Arc<str>,
    kept_until: Instant,
}

/// A bounded map from query to answer.
#[derive(Debug)]
pub(crate) struct ResultTier {
    entries: Mutex<HashMap<String, Arc<KeptAnswer>>>,
    capacity: usize,
    ttl: Duration,
}

impl ResultTier {
    pub(crate) fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            capacity,
            ttl,
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<Arc<KeptAnswer>> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(key)
            .filter(|e| e.kept_until > Instant::now())
            .cloned()
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
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            let now = Instant::now();
            entries.retain(|_, e| e.kept_until > now);
            if entries.len() >= self.capacity {
                // Still full of live entries: drop an arbitrary one (HashMap order is
                // random per process, which is as good as LRU for uniform traffic).
                if let Some(k) = entries.keys().next().cloned() {
                    entries.remove(&k);
                }
            }
        }
        entries.insert(
            key,
            Arc::new(KeptAnswer {
                generation,
                cells,
                counters,
                body,
                kept_until: Instant::now() + self.ttl,
            }),
        );
    }

    pub(crate) fn remove(&self, key: &str) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
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
        assert_eq!(tier.entries.lock().unwrap().len(), 2);
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
}
