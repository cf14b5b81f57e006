//! The response cache: an LRU map from query key to (expiry), with keys
//! drawn by Zipf popularity. Lookups only (no iteration over the hash map),
//! so hashing order never reaches the results.

use std::collections::{BTreeMap, HashMap};

use rand::RngExt;

use crate::config::ResponseCache;
use crate::engine::{SimDuration, SimRng, SimTime};

/// Draws keys 0..K with probability ∝ (k + 1)^-s by inverting the CDF.
pub struct ZipfKeys {
    cdf: Vec<f64>,
}

impl ZipfKeys {
    /// Keys 0..`n` with exponent `s`.
    pub fn new(n: u32, s: f64) -> ZipfKeys {
        let weights: Vec<f64> = (1..=n).map(|k| (k as f64).powf(-s)).collect();
        ZipfKeys::weighted(&weights)
    }

    /// Keys 0..`weights.len()`, key k with probability ∝ `weights[k]`.
    pub fn weighted(weights: &[f64]) -> ZipfKeys {
        let mut acc = 0.0;
        let mut cdf: Vec<f64> = weights
            .iter()
            .map(|w| {
                acc += w;
                acc
            })
            .collect();
        for c in &mut cdf {
            *c /= acc;
        }
        ZipfKeys { cdf }
    }

    /// One key.
    pub fn draw(&self, rng: &mut SimRng) -> u32 {
        let u: f64 = rng.random();
        self.cdf.partition_point(|&c| c <= u).min(self.cdf.len() - 1) as u32
    }
}

/// One worker's response cache.
pub struct ResponseState {
    ttl: SimDuration,
    capacity: usize,
    /// key -> (expiry, last use tick, data version)
    entries: HashMap<u32, (SimTime, u64, u64)>,
    /// last use tick -> key, oldest first.
    order: BTreeMap<u64, u32>,
    tick: u64,
}

impl ResponseState {
    /// An empty cache.
    pub fn new(spec: &ResponseCache) -> ResponseState {
        ResponseState {
            ttl: spec.ttl.0,
            capacity: spec.capacity.map_or(usize::MAX, |c| c as usize),
            entries: HashMap::new(),
            order: BTreeMap::new(),
            tick: 0,
        }
    }

    /// Responses held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Forgets every response (the process restarted).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.order.clear();
    }

    fn touch(&mut self, key: u32) {
        self.tick += 1;
        if let Some(e) = self.entries.get_mut(&key) {
            self.order.remove(&e.1);
            e.1 = self.tick;
            self.order.insert(self.tick, key);
        }
    }

    /// The data version of `key`'s response if it is fresh at `now` (a hit
    /// makes it the most recently used).
    pub fn lookup(&mut self, key: u32, now: SimTime) -> Option<u64> {
        let version = self.entries.get(&key).filter(|e| now < e.0).map(|e| e.2);
        if version.is_some() {
            self.touch(key);
        }
        version
    }

    /// Stores a response for `key` made of data `version`, evicting the least
    /// recently used.
    pub fn store(&mut self, key: u32, now: SimTime, version: u64) {
        let expiry = now.after(self.ttl);
        if let Some(e) = self.entries.get_mut(&key) {
            (e.0, e.2) = (expiry, version);
            self.touch(key);
            return;
        }
        if self.capacity == 0 {
            return;
        }
        while self.entries.len() >= self.capacity {
            let Some((_, old)) = self.order.pop_first() else { break };
            self.entries.remove(&old);
        }
        self.tick += 1;
        self.entries.insert(key, (expiry, self.tick, version));
        self.order.insert(self.tick, key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Dur;
    use crate::engine::stream;

    #[test]
    fn lru_evicts_the_least_recently_used() {
        let spec = ResponseCache { ttl: Dur::secs(100), keys: 10, zipf: 0.0, capacity: Some(2) };
        let mut c = ResponseState::new(&spec);
        let t = SimTime(1);
        c.store(1, t, 7);
        c.store(2, t, 7);
        assert_eq!(c.lookup(1, t), Some(7)); // 1 is now the most recent
        c.store(3, t, 8); // evicts 2
        assert!(c.lookup(1, t).is_some() && c.lookup(3, t) == Some(8) && c.lookup(2, t).is_none());
        assert!(c.lookup(1, SimTime(200_000_000_000)).is_none(), "expired");
    }

    #[test]
    fn zipf_keys_follow_their_weights() {
        // s = 1 over 2 keys: P(0) = 1/(1 + 1/2) = 2/3. 60k draws: sd 0.0019.
        let z = ZipfKeys::new(2, 1.0);
        let mut rng = stream(1, 0, "z");
        let zeros = (0..60_000).filter(|_| z.draw(&mut rng) == 0).count() as f64 / 60_000.0;
        assert!((zeros - 2.0 / 3.0).abs() < 0.01, "{zeros}");
    }
}
