//! The in-memory cache's settings and refresh policies.

use serde::{Deserialize, Serialize};

use super::duration::Dur;

/// One cached dataset per server (the seed's "all employees").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cache {
    /// Time to live, counted from when a fetch completes (default 5m, the
    /// seed's TTL).
    #[serde(default = "default_ttl")]
    pub ttl: Dur,
    /// `Cold` (default: empty at start) or `Warm` (filled at start, as a
    /// start-up warming hook does).
    #[serde(default)]
    pub start: CacheStart,
    /// What happens when requests find the entry expired.
    #[serde(default)]
    pub refresh: Refresh,
    /// Spread each fill's TTL uniformly over ±this fraction (default 0; 0.1
    /// gives TTL·U(0.9, 1.1)).
    #[serde(default)]
    pub ttl_jitter: f64,
    /// `FromFill` (default: the TTL runs from each fill, as the seed's code)
    /// or `FromAccess` (every hit restarts it: expire-after-access).
    #[serde(default)]
    pub ttl_from: TtlFrom,
}

/// When the TTL clock starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum TtlFrom {
    /// From the fill: a non-resetting TTL.
    #[default]
    FromFill,
    /// From the latest hit: a resetting TTL.
    FromAccess,
}

fn default_ttl() -> Dur {
    Dur::secs(300)
}

/// The cache's state at the start of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum CacheStart {
    /// Empty: the first request fetches.
    #[default]
    Cold,
    /// Filled at time zero; expires after one TTL.
    Warm,
}

/// The refresh policy.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Refresh {
    /// Every request that finds the entry expired fetches it itself (the
    /// stampede). Each completed fetch overwrites the entry.
    #[default]
    None,
    /// An asyncio.Lock with a double check: one fetch at a time, waiters in
    /// FIFO order reuse its result; a waiter behind a failed fetch tries its
    /// own.
    SingleFlight,
    /// Serve the expired entry for up to `window` while one background fetch
    /// refreshes it (RFC 5861, Varnish grace, nginx `use_stale updating`);
    /// past the window, requests wait as with `SingleFlight`.
    StaleWhileRevalidate { window: Dur },
    /// Probabilistic early expiration (Vattani et al., VLDB'15): a request
    /// that finds the entry fresh recomputes it anyway if
    /// `now − Δ·beta·ln(rand) ≥ expiry`, Δ being the last fetch's duration.
    /// With `lock`, one recompute at a time (others are served the entry).
    XFetch {
        beta: f64,
        #[serde(default)]
        lock: bool,
    },
    /// A background job refreshes the entry `ahead` of its expiry, so
    /// requests never wait for it (after the first fill). Requests that find
    /// it expired (a failed refresh) wait as with `SingleFlight`.
    Background { ahead: Dur },
    /// Leases in the style of Facebook's memcache (NSDI'13 §3.2.1): a
    /// request that misses gets the key's lease token, at most once per
    /// `interval` (default 10s), and fetches. Others that miss while the
    /// token is out wait `retry` (default 10ms) and look again, or with
    /// `stale` are served the expired entry at once. A fill is kept only if
    /// its token is still the key's (a later token invalidates it).
    Lease {
        #[serde(default = "default_lease_interval")]
        interval: Dur,
        #[serde(default = "default_lease_retry")]
        retry: Dur,
        #[serde(default)]
        stale: bool,
    },
}

pub(super) fn default_lease_interval() -> Dur {
    Dur::secs(10)
}
pub(super) fn default_lease_retry() -> Dur {
    Dur::millis(10)
}
