//! A response cache keyed by query, as the seed note's "2-minute TTL for
//! response cache": each request asks for one of `keys` queries, by Zipf
//! popularity; a hit is answered at once, a miss goes through the service
//! and its response is stored, evicting the least recently used past
//! `capacity`.

use serde::{Deserialize, Serialize};

use super::duration::Dur;

/// Per-worker response cache.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseCache {
    /// TTL of a stored response (default 2m, the seed note's).
    #[serde(default = "default_ttl")]
    pub ttl: Dur,
    /// Distinct queries (keys; required, 1 to 10,000,000).
    pub keys: u32,
    /// Zipf exponent of their popularity: key k (from 1) is asked with
    /// weight k^-zipf (default 0.8; 0 is uniform).
    #[serde(default = "default_zipf")]
    pub zipf: f64,
    /// Most responses kept per worker (LRU eviction; 0 to 4,294,967,295, 0
    /// keeps none); absent: unlimited.
    #[serde(default)]
    pub capacity: Option<u32>,
}

fn default_ttl() -> Dur {
    Dur::secs(120)
}
fn default_zipf() -> f64 {
    0.8
}
