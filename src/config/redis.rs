//! A shared Redis cache, its distributed lock, and its outages.

use serde::{Deserialize, Serialize};

use super::duration::Dur;
use super::latency::Latency;

/// Redis in front of the backend, shared by every worker: behind each
/// worker's in-memory cache if the model has one (an L2), or alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redis {
    /// Network round trip between a worker and Redis (default: same-zone,
    /// `LogNormal(median: "500us", p99: "2ms")`).
    #[serde(default = "default_rtt")]
    pub rtt: Latency,
    /// Time Redis's single command thread spends on one command (default
    /// 12us: about 81k GET/s without pipelining, as redis-benchmark shows).
    /// Commands queue for it in arrival order.
    #[serde(default = "default_command_time")]
    pub command_time: Latency,
    /// Time for a worker to open a connection to Redis. Default (absent):
    /// two round trips drawn from `rtt`, as redis-py's asyncio client
    /// connects: the TCP handshake, then the pipelined `CLIENT SETINFO`
    /// pair it sends on connect. Each process keeps a pool (redis-py's
    /// `ConnectionPool`): a command takes an idle connection, most
    /// recently used first, or opens one; connections stay open until the
    /// process restarts, and one whose command found Redis down is closed.
    #[serde(default)]
    pub connect: Option<Latency>,
    /// Most connections one process's pool may have in use (redis-py's
    /// `max_connections`: 100 since redis-py 8.1 (#4082), 2^31 before;
    /// 1 to 2,147,483,648). A command that would need one more fails at
    /// once with `MaxConnectionsError`, which `when_down` handles as an
    /// unreachable Redis.
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
    /// TTL of the shared entry, set with SETEX after a fetch (default 5m).
    #[serde(default = "default_ttl")]
    pub ttl: Dur,
    /// A distributed lock around the refresh (redis-py `Lock`); absent: every
    /// request that misses fetches.
    #[serde(default)]
    pub lock: Option<RedisLock>,
    /// Windows of time during which Redis cannot be reached.
    #[serde(default)]
    pub outages: Vec<Window>,
    /// Instants of a FLUSHALL: every key is deleted, the shared entry and
    /// the lock key with it (a holder still fetching then finds its lock
    /// gone at release, LockNotOwnedError, and a waiter may take the lock
    /// meanwhile), and a lease's token or a stale-while-revalidate refresh
    /// mark. Commands already at Redis are not affected; the next GET misses.
    #[serde(default)]
    pub flushes: Vec<Dur>,
    /// What a request does when Redis is down: `Backend` (default: go to the
    /// backend directly) or `Fail` (cause `redis_unavailable`).
    #[serde(default)]
    pub when_down: WhenDown,
    /// What readers do about the shared entry's expiry (default `None`: a
    /// reader that misses fetches, under the lock if there is one).
    #[serde(default)]
    pub refresh: SharedRefresh,
    /// Spread each SETEX TTL uniformly over ±this fraction (default 0).
    #[serde(default)]
    pub ttl_jitter: f64,
    /// `Cold` (default: empty at start) or `Warm` (filled at time zero, as a
    /// deploy's warming script does).
    #[serde(default)]
    pub start: super::CacheStart,
}

/// Stampede mitigations at the shared entry.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum SharedRefresh {
    /// A reader that misses fetches (under the lock if there is one).
    #[default]
    None,
    /// XFetch: a reader whose GET hits recomputes anyway if
    /// `now − Δ·beta·ln(rand) ≥ expiry`, with Δ (the last fetch's duration)
    /// stored beside the value; under the lock if there is one.
    XFetch { beta: f64 },
    /// The value outlives its TTL by `window`; the first reader past the TTL
    /// is told to refresh it in the background (Redis marks the refresh for
    /// up to 10 s), and every reader in the window is served it.
    StaleWhileRevalidate { window: Dur },
    /// memcache leases (Facebook, NSDI'13 §3.2.1) kept by the shared cache: a
    /// GET that misses gets the key's token, at most one per `interval`, and
    /// its reader fetches; the others are told to retry after `retry`, or
    /// with `stale` get the expired value. A SET with a superseded token is
    /// dropped.
    Lease {
        #[serde(default = "super::cache::default_lease_interval")]
        interval: Dur,
        #[serde(default = "super::cache::default_lease_retry")]
        retry: Dur,
        #[serde(default)]
        stale: bool,
    },
    /// One job (not every worker) refreshes the entry `ahead` of its expiry,
    /// so readers never miss after the first fill; it stops with the
    /// workload.
    Background { ahead: Dur },
}

fn default_rtt() -> Latency {
    Latency::LogNormal { median: Dur(crate::engine::SimDuration(500_000)), p99: Dur::millis(2) }
}
fn default_command_time() -> Latency {
    Latency::Constant(Dur(crate::engine::SimDuration(12_000)))
}
fn default_max_connections() -> u32 {
    100
}
fn default_ttl() -> Dur {
    Dur::secs(300)
}

/// redis-py's `Lock(redis, name, timeout, sleep, blocking_timeout)`: each
/// attempt is `SET name token NX PX timeout`; waiters poll every `sleep`
/// (not FIFO) until `blocking_timeout`; `release()` deletes the key only if
/// it still holds the token, else raises LockNotOwnedError.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisLock {
    /// The lease: the key expires this long after it was taken (redis-py
    /// default: none; the seed note uses 10s). A fetch longer than the lease
    /// lets a second holder in.
    #[serde(default)]
    pub timeout: Option<Dur>,
    /// Pause between attempts (default 100ms).
    #[serde(default = "default_sleep")]
    pub sleep: Dur,
    /// How long to keep trying (default: forever; the seed note uses 5s).
    #[serde(default)]
    pub blocking_timeout: Option<Dur>,
    /// What a waiter does when it gives up.
    #[serde(default)]
    pub on_give_up: GiveUp,
    /// After acquiring, GET the entry again and skip the fetch if another
    /// holder filled it meanwhile: coalescing across processes (default
    /// false, as the seed note's code, which fetches again).
    #[serde(default)]
    pub recheck: bool,
    /// At the blocking timeout, GET the entry once more before giving up
    /// (before `on_give_up` fails, fetches or serves stale), as careful
    /// redis-py code does: a waiter whose holder filled Redis meanwhile is
    /// served that (default false, as the seed note's code). With `recheck`
    /// as well, this is both re-reads.
    #[serde(default)]
    pub recheck_on_give_up: bool,
}

fn default_sleep() -> Dur {
    Dur::millis(100)
}

/// What a lock waiter does at its blocking timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum GiveUp {
    /// The request fails with cause `lock_timeout` (the seed's code returns
    /// nothing).
    #[default]
    Fail,
    /// Fetch from the backend without the lock.
    FetchAnyway,
    /// Serve the worker's expired in-memory entry if it has one, else fail.
    ServeStale,
}

/// What a request does while Redis is unreachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum WhenDown {
    /// Fetch from the backend directly.
    #[default]
    Backend,
    /// Fail with cause `redis_unavailable`.
    Fail,
}

/// A span of simulated time: `(from: "5m", to: "6m")`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    pub from: Dur,
    pub to: Dur,
}
