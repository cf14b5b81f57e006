//! The result of one run: plain numbers, serialized as the `--json` contract.
//! Key names here are a stable interface for CI users; add, never rename.

use std::collections::BTreeMap;

use serde::Serialize;

/// Why a request failed. The names are the `requests.errors.<cause>` keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cause {
    /// The backend's token bucket was empty and the policy was `Fail`.
    RateLimited,
    /// No pool connection within `pool_timeout`.
    PoolTimeout,
    /// Retries on an empty bucket ran past the retry deadline.
    BackendDeadline,
    /// Redis was down and the policy was `Fail`.
    RedisUnavailable,
    /// A Redis lock waiter gave up at its blocking timeout.
    LockTimeout,
    /// The Redis lock's lease ran out mid-fetch: `release()` raised
    /// LockNotOwnedError.
    LockNotOwned,
    /// The database refused a new connection (`max_connections`).
    TooManyConnections,
    /// The backend was down (a fault window) and the policy does not retry.
    BackendUnavailable,
    /// The client rate limit answered 429 Too Many Requests.
    TooManyRequests,
    /// PgBouncer found no server connection within `query_wait_timeout`.
    QueryWaitTimeout,
    /// The client gave up at its timeout (`workload.client`) before the
    /// service answered; the service finished the work anyway.
    ClientTimeout,
    /// The kernel's OOM killer ended the worker process serving it (the
    /// server passed `servers.memory.limit_bytes`).
    OomKilled,
}

impl Cause {
    /// Every cause, in report order.
    pub const ALL: [Cause; 12] = [
        Cause::RateLimited,
        Cause::PoolTimeout,
        Cause::BackendDeadline,
        Cause::RedisUnavailable,
        Cause::LockTimeout,
        Cause::LockNotOwned,
        Cause::TooManyConnections,
        Cause::BackendUnavailable,
        Cause::TooManyRequests,
        Cause::QueryWaitTimeout,
        Cause::ClientTimeout,
        Cause::OomKilled,
    ];

    /// The stable key.
    pub fn key(self) -> &'static str {
        match self {
            Cause::RateLimited => "rate_limited",
            Cause::PoolTimeout => "pool_timeout",
            Cause::BackendDeadline => "backend_deadline",
            Cause::RedisUnavailable => "redis_unavailable",
            Cause::LockTimeout => "lock_timeout",
            Cause::LockNotOwned => "lock_not_owned",
            Cause::TooManyConnections => "too_many_connections",
            Cause::BackendUnavailable => "backend_unavailable",
            Cause::TooManyRequests => "too_many_requests",
            Cause::QueryWaitTimeout => "query_wait_timeout",
            Cause::ClientTimeout => "client_timeout",
            Cause::OomKilled => "oom_killed",
        }
    }
}

/// Everything `cachesim run` reports about one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    /// The model's name.
    pub model: String,
    /// The seed the run used.
    pub seed: u64,
    /// The replication: with the seed, it names the run's random streams
    /// (`cachesim run --replication K` replays a sweep's replication K).
    pub replication: u64,
    pub requests: RequestStats,
    /// Latency of successful requests, arrival to completion, in seconds
    /// (`null` when none succeeded).
    pub latency_s: LatencyStats,
    /// Where the time of successful requests went, per phase: mean seconds
    /// over all of them and over those above the p99.
    pub latency_breakdown: super::LatencyBreakdown,
    /// When in the run the failed requests, and the slow ones (above the
    /// p99), arrived: shares by period.
    pub when: super::WhenStats,
    /// The worker processes: their event loops' load and lag, and the CPU
    /// per request.
    pub servers: super::ServerStats,
    pub cache: CacheStats,
    pub backend: BackendStats,
    pub pool: PoolStats,
    /// The shared Redis, if the model has one (zeros otherwise).
    pub redis: RedisStats,
    /// How long the caches held different versions of the data.
    pub divergence: DivergenceStats,
    /// How far behind the newest version the data served was, seconds.
    pub staleness_s: StalenessStats,
    /// The CDN, if the model has one (zeros otherwise).
    pub cdn: CdnStats,
    /// The database's replicas and PgBouncer, if any (zeros otherwise).
    pub db: DbStats,
    pub engine: EngineStats,
    pub fingerprint: Fingerprints,
}

/// The shared Redis (whole run, warm-up included).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RedisStats {
    /// Commands executed (GET, SET NX, SETEX, release).
    pub commands: u64,
    /// GETs, and the share that found the entry fresh.
    pub gets: u64,
    pub hit_ratio: f64,
    /// Lock releases that found the lease gone (LockNotOwnedError).
    pub lock_not_owned: u64,
    /// Successful SET NX of the lock key (whole run).
    pub lock_acquisitions: u64,
    /// Acquisitions that overtook a holder whose lease ran out (whole run).
    pub lease_takeovers: u64,
    /// Backend fetches of waiters that gave up (`FetchAnyway`, whole run).
    pub fallback_fetches: u64,
    /// Lock waiters that gave up at their blocking timeout (measured requests).
    pub lock_timeouts: u64,
    /// Longest a command waited for Redis's single thread, seconds.
    pub peak_queue_wait_s: f64,
    /// Connections the measured requests' commands opened (each process
    /// keeps its own pool), and how long opening one took, seconds.
    pub connections_opened: u64,
    pub connect_s: ConnectStats,
    /// Most connections open to Redis at once, all processes together
    /// (Redis's `connected_clients`; whole run).
    pub peak_connections: u64,
    /// Commands refused by a full pool (`MaxConnectionsError`, measured).
    pub max_connections_errors: u64,
}

/// The CDN's tiers and what reached the origin (measured requests).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CdnStats {
    /// Client requests answered fresh by their PoP, over all client requests.
    pub pop_hit_ratio: f64,
    /// PoP forward requests answered fresh by the shield, over those sent.
    pub shield_hit_ratio: f64,
    /// Requests that reached the origin, and per second of measured time.
    pub origin_requests: u64,
    pub origin_rps: f64,
    /// Origin requests that failed.
    pub origin_errors: u64,
    /// Upstream answers that were 304 Not Modified, and those with a body.
    pub not_modified: u64,
    pub full_responses: u64,
    /// Misses that joined another's forward request (request collapsing),
    /// at the PoPs and the shield together.
    pub collapsed: u64,
    /// Expired entries served (stale-while-revalidate, stale-if-error), to
    /// clients by the PoPs and to PoPs by the shield together.
    pub stale_served: u64,
    /// Spans during which the PoPs holding the most popular URL hold
    /// different versions of it (clients of different regions see different
    /// data).
    pub divergence: DivergenceStats,
}

/// Queries on the database nodes (measured requests).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DbStats {
    /// Queries run, and those run on a replica.
    pub queries: u64,
    pub replica_reads: u64,
    /// Replica reads that missed the newest write, and their share of
    /// replica reads.
    pub stale_reads: u64,
    pub stale_read_share: f64,
    /// How long the version a stale read saw had been superseded (since the
    /// first write the replica had not applied), seconds.
    pub stale_lag_mean_s: Option<f64>,
    pub stale_lag_max_s: Option<f64>,
    /// Queries that waited for a PgBouncer server connection, and their mean wait.
    pub bouncer_waits: u64,
    pub bouncer_wait_mean_s: Option<f64>,
    /// Queries cancelled at `query_wait_timeout`.
    pub bouncer_timeouts: u64,
    /// Server connections PgBouncer opened to PostgreSQL in measured time
    /// (lazily, one at a time per node; idle ones close after
    /// `server_idle_timeout`), and how long opening one took, seconds.
    pub bouncer_connections_opened: u64,
    pub bouncer_connect_s: ConnectStats,
}

/// One cache layer's hits.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerStats {
    /// Lookups that found the entry fresh, over lookups.
    pub hit_ratio: f64,
    pub lookups: u64,
}

/// Spans during which the caches that hold data hold different versions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DivergenceStats {
    /// Number of such spans.
    pub windows: u64,
    /// The longest, seconds.
    pub max_window_s: f64,
    /// Their total, seconds.
    pub total_s: f64,
    /// Their total over the measured time.
    pub share: f64,
}

/// Age of the served data behind the newest version (0 when current).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StalenessStats {
    pub mean: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
}

/// What exactly ran: a hash of the resolved model, and of the event trace.
/// Same model hash and a different trace hash means the simulator changed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Fingerprints {
    /// Hash of the resolved model (every parameter; not its name).
    pub model: String,
    /// Hash of every event's time, kind and subject, in order.
    pub trace: String,
}

/// Request counts, after the warm-up.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestStats {
    pub arrived: u64,
    pub ok: u64,
    pub failed: u64,
    /// Still unfinished when the run stopped (after the drain).
    pub in_flight_at_end: u64,
    /// Failures by cause; every cause is listed, zeros included.
    pub errors: BTreeMap<&'static str, u64>,
    /// Share of arrived requests that failed.
    pub error_rate: f64,
    /// Successful requests per second of measured time.
    pub throughput_rps: f64,
    /// Time-average number of requests in the system (for Little's law).
    pub in_flight_mean: f64,
    /// Mean time in the system of the requests that left, failures
    /// included, seconds (Little's law: in_flight_mean = arrival rate × this).
    pub sojourn_mean_s: f64,
    /// Most requests in the system at once.
    pub in_flight_peak: u64,
    /// Requests whose client gave up at its timeout (`workload.client`);
    /// the service finished them anyway (as `errors.client_timeout`).
    pub abandoned: u64,
    /// Retries the clients sent, each counted again in `arrived`.
    pub client_retries: u64,
}

/// Latency percentiles in seconds (3 significant digits; mean and max exact).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatencyStats {
    pub mean: Option<f64>,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub p999: Option<f64>,
    pub max: Option<f64>,
}

/// The per-server caches, summed over servers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CacheStats {
    /// Share of requests that found the entry fresh in the first cache they
    /// looked at (the worker's memory, or Redis when there is no other).
    pub hit_ratio: f64,
    /// Share served without their own fetch: hits, stale hits, Redis hits
    /// after an in-memory miss, and waiters that reused another's fetch.
    pub served_from_cache_ratio: f64,
    /// Requests that waited on another request's fetch (single-flight).
    pub coalesced: u64,
    /// Times a fetch filled a cache.
    pub fills: u64,
    /// Requests served an expired entry (stale-while-revalidate).
    pub stale_served: u64,
    /// Requests that found no fresh entry in the first cache they looked at
    /// (missing or expired; they fetched, waited or were served stale).
    pub misses: u64,
    /// XFetch: requests that found the entry fresh and recomputed it early
    /// (not misses).
    pub early_recomputes: u64,
    /// Each layer: `local` (the workers' in-memory caches), `redis`.
    pub layers: BTreeMap<&'static str, LayerStats>,
}

/// The backend, as seen from all servers together.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackendStats {
    /// Completed fetches.
    pub calls: u64,
    /// Completed fetches per second of measured time.
    pub calls_per_s: f64,
    /// Fetch attempts, including those the rate limit refused and retries.
    pub attempts: u64,
    /// Attempts refused by the rate limit.
    pub rate_limited: u64,
    /// Most fetches in flight at once.
    pub peak_concurrent: u64,
    /// Most fetches started within one second of simulated time.
    pub peak_per_second: u64,
    /// Stampedes: each span from a request finding a cache expired to that
    /// cache's next fill; the span counts every fetch its requests make, even
    /// after the fill (a Redis lock waiter that fetches again).
    pub expiries: u64,
    /// Mean fetches per expiry that reached the backend (1 + λδ without
    /// protection).
    pub fetches_per_expiry_mean: Option<f64>,
    /// Mean attempts per expiry that the rate limit or an outage refused.
    pub refused_per_expiry_mean: Option<f64>,
    /// The most fetches one expiry sent to the backend.
    pub largest_burst: u64,
}

/// The DB connection pools, summed over servers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolStats {
    /// Checkouts that got a connection.
    pub checkouts: u64,
    /// Most connections in use at once, all pools together.
    pub peak_in_use: u64,
    /// Most connections in use at once in any one pool (a pool's own
    /// `pool_size + max_overflow` bounds this one).
    pub peak_in_use_per_pool: u64,
    /// Share of checkouts that had to wait (Erlang C's P(wait)).
    pub wait_probability: f64,
    /// Mean wait of checkouts that got a connection, zeros included, seconds.
    pub wait_mean_s: Option<f64>,
    /// 99th percentile of that wait, seconds.
    pub wait_p99_s: Option<f64>,
    /// Checkouts that gave up after `pool_timeout`.
    pub timeouts: u64,
    /// Most connections open on the database at once, all pools together.
    pub db_peak_connections: u64,
    /// Physical connections the measured requests opened (the pools open
    /// lazily and close overflow connections on return).
    pub connections_opened: u64,
    /// How long opening one took, seconds (`null` when none was opened).
    pub connect_s: ConnectStats,
}

/// Time to open a connection.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ConnectStats {
    pub mean: Option<f64>,
    pub p99: Option<f64>,
}

/// The engine's own counters: deterministic, no wall-clock time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EngineStats {
    /// Events processed.
    pub events: u64,
    /// Simulated seconds until the run stopped.
    pub simulated_s: f64,
    /// Whether the run was cut short (event budget or a guard).
    pub truncated: bool,
    /// Why, when it was.
    pub stop_reason: Option<String>,
}
