//! The model file's schema: one architecture per file. Every field documents
//! its unit; defaults come from the real systems (see `docs/models.md`).

use std::fmt;
use std::num::NonZeroU32;

use serde::{Deserialize, Deserializer, Serialize, de};

use super::cache::Cache;
use super::duration::Dur;
use super::latency::Latency;

/// One architecture: a workload, servers, their caches, the backend and the
/// database pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "Model")]
pub struct ModelSpec {
    /// Shown in reports; defaults to the file's name without `.ron`.
    #[serde(default)]
    pub name: String,
    /// Free text shown in reports.
    #[serde(default)]
    pub description: String,
    /// Who sends requests, how fast and for how long.
    pub workload: Workload,
    /// The servers behind the load balancer.
    #[serde(default)]
    pub servers: Servers,
    /// An in-memory cache in each server; absent means every request fetches.
    #[serde(default)]
    pub cache: Option<Cache>,
    /// Client rate limiting (slowapi), checked before the endpoint runs.
    #[serde(default)]
    pub client_limit: Option<super::client_limit::ClientLimit>,
    /// A per-worker response cache keyed by query, in front of everything.
    #[serde(default)]
    pub response_cache: Option<super::response::ResponseCache>,
    /// A CDN in front of the load balancer; absent: clients reach the
    /// servers directly.
    #[serde(default)]
    pub cdn: Option<super::cdn::Cdn>,
    /// A shared Redis cache (and lock) between the workers and the backend.
    #[serde(default)]
    pub redis: Option<super::redis::Redis>,
    /// The slow data source behind the cache ("Firestore").
    pub backend: Backend,
    /// A database query through a connection pool after the handler; absent
    /// means no query.
    #[serde(default)]
    pub db: Option<super::db::Pool>,
    /// What the architecture costs per month, for the verdict matrix.
    #[serde(default)]
    pub cost: Cost,
}

/// Monthly prices of an architecture's parts, in dollars.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cost {
    /// Dollars per month for each server (default 0: set your instance price).
    #[serde(default)]
    pub per_server: f64,
    /// Other parts and their monthly prices: `[("load balancer", 35), ("redis", 75)]`.
    #[serde(default)]
    pub parts: Vec<(String, f64)>,
}

impl ModelSpec {
    /// Dollars per month: every server plus every part.
    pub fn monthly_cost(&self) -> f64 {
        self.cost.per_server * f64::from(self.servers.count.get()) + self.cost.parts.iter().map(|(_, p)| p).sum::<f64>()
    }
}

/// Open-loop arrivals: requests come whether or not earlier ones finished.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    /// `Poisson` (default: independent users) or `Constant` (evenly spaced).
    #[serde(default)]
    pub arrivals: Arrivals,
    /// Arrival rate at the start, in requests per second (alias for the first
    /// phase's rate).
    pub rate: Rate,
    /// Changes of rate over time, in time order: `Step(at: "10m", rate: 500)`
    /// jumps; `Ramp(from: "10m", to: "12m", rate: 500)` moves linearly from
    /// the rate in force at `from` to `rate` at `to`.
    #[serde(default)]
    pub phases: Vec<Phase>,
    /// Simulated time during which requests arrive.
    pub duration: Dur,
    /// Initial span whose requests are left out of the statistics (default 0s).
    #[serde(default)]
    pub warmup: Dur,
    /// After arrivals stop, how long requests in flight may still finish
    /// (default 60s); any left are reported as in flight.
    #[serde(default = "default_drain")]
    pub drain: Dur,
    /// A closed loop instead of open arrivals: `users` clients, each
    /// thinking for `think`, then sending a request and waiting for it (as
    /// wrk or locust drive a service). `rate`, `arrivals` and `phases` are
    /// then unused.
    #[serde(default)]
    pub closed: Option<ClosedLoop>,
    /// Clients that give up on a slow request and send it again: the
    /// classic sustaining effect of a metastable failure (open arrivals
    /// only; none by default).
    #[serde(default)]
    pub client: Option<ClientRetry>,
}

/// A client's timeout and retries, as HTTP client libraries do them.
///
/// Each request waits at most `timeout`. Then the client abandons it (the
/// server does not know and finishes its work, counted as
/// `requests.abandoned`) and, up to `retries` times, sends it again as a
/// new arrival after a backoff drawn uniformly from
/// [0, min(`max_backoff`, `backoff` × `multiplier`^(k−1))] before retry k
/// (AWS's "full jitter"; a `backoff` of 0s retries at once).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientRetry {
    /// How long the client waits for a response (required; above 0).
    pub timeout: Dur,
    /// Retries after the first attempt (default 2: the AWS SDKs' standard
    /// mode makes 3 attempts; 0 to 100).
    #[serde(default = "default_client_retries")]
    pub retries: u32,
    /// Backoff before the first retry, the top of its jitter (default 0s:
    /// urllib3's `Retry` with its default `backoff_factor` of 0 retries at
    /// once).
    #[serde(default)]
    pub backoff: Dur,
    /// Growth of the backoff per retry (default 2; 1 to 100).
    #[serde(default = "default_client_multiplier")]
    pub multiplier: f64,
    /// The largest backoff (default 20s, the AWS SDKs' cap).
    #[serde(default = "default_client_max_backoff")]
    pub max_backoff: Dur,
}

fn default_client_retries() -> u32 {
    2
}
fn default_client_multiplier() -> f64 {
    2.0
}
fn default_client_max_backoff() -> Dur {
    Dur::secs(20)
}

/// Users in a closed loop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClosedLoop {
    /// How many users (required; 1 to 1,000,000).
    pub users: NonZeroU32,
    /// Pause before each request.
    pub think: Latency,
    /// The users start one after another, evenly over this span: user `u`
    /// begins its first think at `u · start_spread / users`, as locust
    /// spawns `users / start_spread` users per second (default 0s: all at
    /// time zero, as wrk does). With constant think times a spread keeps
    /// the users from sending in lock step.
    #[serde(default)]
    pub start_spread: Dur,
}

fn default_drain() -> Dur {
    Dur::secs(60)
}

/// The arrival process.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Arrivals {
    /// Exponential gaps: many independent clients.
    #[default]
    Poisson,
    /// Evenly spaced arrivals (a load generator at a fixed rate).
    Constant,
    /// Recorded arrival instants replayed from `file` (one a line, see
    /// `docs/models.md`), from the first one at time zero; `rate` plays
    /// them faster (2: twice as fast). `workload.rate` and `phases` are
    /// then unused.
    Trace {
        /// The trace file, relative to the model file's directory.
        file: String,
        /// Speed-up factor: the gaps are divided by it (default 1; above 0).
        #[serde(default = "super::trace::default_speed")]
        rate: f64,
        /// The instants read from `file` as the model loads.
        #[serde(default)]
        loaded: super::trace::TraceTimes,
    },
}

/// A change of arrival rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Phase {
    /// From `at` on, the rate is `rate` req/s.
    Step { at: Dur, rate: Rate },
    /// Between `from` and `to` the rate moves linearly to `rate` req/s.
    Ramp { from: Dur, to: Dur, rate: Rate },
}

/// Servers behind one load balancer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Servers {
    /// Number of servers (default 1; 1 to 10,000).
    #[serde(default = "one")]
    pub count: NonZeroU32,
    /// `RoundRobin` (default, as nginx and AWS ALB) or `Random`.
    #[serde(default)]
    pub balancer: Balancer,
    /// Worker processes per server (uvicorn/gunicorn `--workers`, default 1;
    /// 1 to 10,000, and `count × workers` at most 10,000 in all). Each has
    /// its own in-memory cache, pool and rate-limit storage, since "multiple
    /// processes normally don't share any memory".
    #[serde(default = "one")]
    pub workers: NonZeroU32,
    /// Requests one worker works on at once; more wait in FIFO order. Absent
    /// (default) means unlimited, as one asyncio event loop accepts every
    /// request; a number (1 to 1,000,000) models sync workers or threads.
    #[serde(default)]
    pub concurrency: Option<NonZeroU32>,
    /// The endpoint's time once the data is at hand, also after a fetch: a
    /// distribution (time it waits, as in earlier versions) or
    /// `(cpu: Constant("2ms"), wait: Constant("48ms"))`: CPU on the worker's
    /// event loop, then waiting. Default zero.
    #[serde(default)]
    pub handler: super::process::Handler,
    /// CPU on the event loop per request before the endpoint runs: HTTP
    /// parsing, routing, validation. Default `Constant("0s")` (not modelled;
    /// a FastAPI GET costs about 0.1-0.2 ms: measure yours, docs/models.md).
    #[serde(default = "zero_latency")]
    pub parse: Latency,
    /// The JSON codec that prices payloads: `Json` (default, CPython's
    /// `json`), `Orjson`, `Pydantic` or `Rates(dumps: 41e6, loads: 39e6)`
    /// in bytes per CPU second.
    #[serde(default)]
    pub json: super::process::Codec,
    /// Bytes of JSON in each successful response, serialised on the event
    /// loop. Absent (default): the backend's `payload_bytes`.
    #[serde(default)]
    pub response_bytes: Option<u64>,
    /// CPU cores per server. The worker processes computing at once share
    /// them as the OS does (processor sharing). Absent (default): one core
    /// per worker process, so processes never slow each other.
    #[serde(default)]
    pub cores: Option<NonZeroU32>,
    /// Garbage-collection pauses of each worker process: `(every:
    /// Requests(1000), pause: Constant("30ms"))`. Absent (default): none.
    #[serde(default)]
    pub gc: Option<super::process::Gc>,
    /// What each worker process holds in memory, and the server's limit:
    /// `(process_bytes: 67000000, limit_bytes: Some(512000000))`. Absent
    /// (default): memory is not tracked.
    #[serde(default)]
    pub memory: Option<super::resources::Memory>,
    /// Each server's network link: `(bytes_per_s: 125e6)` for 1 Gbit/s.
    /// Absent (default): responses and payloads take no time on the wire.
    #[serde(default)]
    pub link: Option<super::resources::Link>,
    /// Restarts: at each `(at: "5m", server: 0)` that server's workers lose
    /// their in-memory caches (a deploy, a crash).
    #[serde(default)]
    pub restarts: Vec<Restart>,
}

/// A server restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Restart {
    pub at: Dur,
    /// Which server (0-based: 0 to `servers.count − 1`).
    pub server: u32,
}

impl Default for Servers {
    fn default() -> Self {
        Servers {
            count: one(),
            workers: one(),
            balancer: Balancer::default(),
            concurrency: None,
            handler: super::process::Handler::default(),
            parse: zero_latency(),
            json: super::process::Codec::default(),
            response_bytes: None,
            cores: None,
            gc: None,
            memory: None,
            link: None,
            restarts: Vec::new(),
        }
    }
}

fn one() -> NonZeroU32 {
    NonZeroU32::MIN
}

fn zero_latency() -> Latency {
    Latency::Constant(Dur::default())
}

/// How the load balancer spreads requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Balancer {
    /// Each server in turn.
    #[default]
    RoundRobin,
    /// A uniformly random server for each request.
    Random,
    /// The server with the fewest requests in flight; round robin among
    /// ties, as nginx `least_conn` and HAProxy `leastconn` do.
    LeastConnections,
}

/// The backend the cache protects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backend {
    /// Time to fetch the dataset. Firestore publishes no figure: calibrate
    /// from traces (the seed: about `LogNormal(median: "1s", p99: "2s")`).
    pub latency: Latency,
    /// A token bucket shared by every server; absent means unlimited.
    #[serde(default)]
    pub rate_limit: Option<RateLimit>,
    /// How the backend's data changes; every change is a new version. Absent
    /// means it never changes.
    #[serde(default)]
    pub writes: Option<Writes>,
    /// Windows when the backend is down or slow.
    #[serde(default)]
    pub faults: Vec<Fault>,
    /// Which version of the data a fetch returns: the one current when its
    /// (successful) call starts, or when it completes.
    #[serde(default)]
    pub snapshot: Snapshot,
    /// Bytes of JSON in the dataset a fetch returns (the seed's 200
    /// employee records: about 62,000). The fetching worker parses it on
    /// its event loop (`servers.json`), and so does a worker that reads it
    /// from Redis; a Redis write serialises it. Default 0: not modelled.
    #[serde(default)]
    pub payload_bytes: u64,
}

/// When a fetch reads the data it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Snapshot {
    /// At the start of the call (default): a Firestore read, like a
    /// PostgreSQL statement, reads one snapshot chosen when it runs, so what
    /// it returns is already as old as its own latency when it lands.
    #[default]
    AtStart,
    /// At completion: the newest version when the answer arrives (a best
    /// case, for comparison).
    AtEnd,
}

/// A backend fault over a window of time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Fault {
    /// Calls fail at once (ServiceUnavailable): retried under `Retry`, else
    /// the request fails with `backend_unavailable`.
    Outage { from: Dur, to: Dur },
    /// Calls sent in the window take `factor` times longer.
    Slow { from: Dur, to: Dur, factor: f64 },
}

impl Fault {
    /// The window (from, to).
    pub fn window(&self) -> (Dur, Dur) {
        match self {
            Fault::Outage { from, to } | Fault::Slow { from, to, .. } => (*from, *to),
        }
    }
}

/// Changes to the backend's data. A fetch returns the version current when
/// it completes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Writes {
    /// A new version every `period` (a nightly import, an hourly job).
    Every(Dur),
    /// New versions as a Poisson process, `rate` per second.
    Poisson(Rate),
}

/// A token bucket: `rate` tokens per second, at most `burst` saved up; full
/// at the start. Each fetch attempt takes one token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Tokens added per second.
    pub rate: Rate,
    /// Bucket capacity, in tokens (required; 1 to 4,294,967,295).
    pub burst: NonZeroU32,
    /// `Fail` (default: the request fails with `rate_limited`) or `Retry`
    /// (back off as the Firestore client does, see `retry`).
    #[serde(default)]
    pub when_empty: WhenEmpty,
    /// Backoff used by `Retry`.
    #[serde(default)]
    pub retry: Retry,
}

/// What a fetch does when the bucket is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum WhenEmpty {
    /// Give up at once: the request fails with cause `rate_limited`.
    #[default]
    Fail,
    /// Sleep and try again, with exponential backoff and full jitter, until
    /// the deadline (then the request fails with `backend_deadline`).
    Retry,
}

/// Exponential backoff with full jitter: before retry k (k = 0, 1, ...) sleep
/// U(0, min(initial·multiplierᵏ, max_delay)). Defaults are the Firestore
/// Python client's (google-api-core).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// First backoff bound (default 100ms).
    #[serde(default = "default_initial")]
    pub initial: Dur,
    /// Growth of the bound per retry (default 1.3; at least 1).
    #[serde(default = "default_multiplier")]
    pub multiplier: f64,
    /// Largest bound (default 60s).
    #[serde(default = "default_max_delay")]
    pub max_delay: Dur,
    /// Total time allowed from the first attempt (default 60s).
    #[serde(default = "default_deadline")]
    pub deadline: Dur,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            initial: default_initial(),
            multiplier: default_multiplier(),
            max_delay: default_max_delay(),
            deadline: default_deadline(),
        }
    }
}

fn default_initial() -> Dur {
    Dur::millis(100)
}
fn default_multiplier() -> f64 {
    1.3
}
fn default_max_delay() -> Dur {
    Dur::secs(60)
}
fn default_deadline() -> Dur {
    Dur::secs(60)
}

/// A rate in events per second: finite and above zero.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize)]
pub struct Rate(pub f64);

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Rate, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Rate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a rate per second above zero, like 100 or 2.5")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Rate, E> {
                if v.is_finite() && v > 0.0 {
                    Ok(Rate(v))
                } else {
                    Err(E::custom(format!("a rate must be a finite number above zero, not {v}")))
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Rate, E> {
                self.visit_f64(v as f64)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Rate, E> {
                self.visit_f64(v as f64)
            }
        }
        d.deserialize_any(V)
    }
}
