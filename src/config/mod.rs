//! Model files: the RON schema, its defaults and checks, and `--set`
//! overrides. Configuration flows one way: text -> [`ModelSpec`] (validated)
//! -> `scenario`. Nothing here runs a simulation.

mod cache;
mod cdn;
mod client_limit;
mod db;
mod duration;
mod error;
mod latency;
mod load;
mod locate;
mod model;
mod overrides;
mod process;
mod redis;
mod resources;
mod response;
mod ron_value;
mod suggest;
mod trace;
mod validate;

pub use cache::{Cache, CacheStart, Refresh, TtlFrom};
pub use cdn::{Cdn, Shield, Spread};
pub use client_limit::{ClientLimit, LimitKey, LimitStorage, LimitStrategy};
pub use db::{Fairness, PgBouncer, Pool, Replicas};
pub use duration::Dur;
pub use error::{ConfigError, cut};
pub use latency::{Latency, Z99, lognormal_params};
pub use load::{apply_overrides, load_model, parse_model, parse_model_in, parse_ron, read_text};
pub use locate::{locate, locate_nth_after};
pub use model::{
    Arrivals, Backend, Balancer, ClientRetry, ClosedLoop, Cost, Fault, ModelSpec, Phase, Rate, RateLimit, Restart,
    Retry, Servers, Snapshot, WhenEmpty, Workload, Writes,
};
pub use process::{Codec, Gc, GcEvery, HANDLER_FORMS, Handler, is_zero};
pub use redis::{GiveUp, Redis, RedisLock, SharedRefresh, WhenDown, Window};
pub use resources::{Link, Memory, WIRE_PER_PAYLOAD};
pub use response::ResponseCache;
pub use suggest::did_you_mean;
pub use trace::{TraceTimes, parse_trace};
pub use validate::{
    MAX_CLIENT_CONN, MAX_CONCURRENCY, MAX_DB_CONNECTIONS, MAX_KEYS, MAX_LIMIT_USERS, MAX_POOL_CONNECTIONS, MAX_POPS,
    MAX_REPLICAS, MAX_SERVERS, MAX_USERS, MAX_WORKERS,
};
