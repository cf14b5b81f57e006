//! The database behind the handler: SQLAlchemy's QueuePool in every worker,
//! PostgreSQL's connection limit, PgBouncer, and read replicas with lag.

use serde::{Deserialize, Serialize};

use super::duration::Dur;
use super::latency::Latency;
use super::model::Writes;

/// A SQLAlchemy QueuePool per server: at most `pool_size + max_overflow`
/// connections checked out; further checkouts wait in FIFO order up to
/// `pool_timeout`, then fail with `pool_timeout`. A connection is held only
/// for its query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pool {
    /// Connections kept open (default 5; 0 to 1,000,000, and
    /// `pool_size + max_overflow` 1 to 1,000,000).
    #[serde(default = "default_pool_size")]
    pub pool_size: u32,
    /// Extra connections opened on demand (default 10; 0 to 1,000,000, and
    /// `pool_size + max_overflow` 1 to 1,000,000).
    #[serde(default = "default_max_overflow")]
    pub max_overflow: u32,
    /// Longest wait for a connection (default 30s); `"0s"` fails at once.
    #[serde(default = "default_pool_timeout")]
    pub pool_timeout: Dur,
    /// How long a query holds its connection.
    pub query: Latency,
    /// The database's `max_connections`, shared by every pool of every
    /// worker (PostgreSQL's default 100; 1 to 262,143, PostgreSQL's
    /// `MAX_BACKENDS`). Opening a connection past it fails the request with
    /// `too_many_connections`.
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
    /// Of those, the slots kept for superusers (PostgreSQL's
    /// `superuser_reserved_connections`, default 3; 0 to `max_connections − 1`).
    #[serde(default = "default_reserved")]
    pub reserved_connections: u32,
    /// PgBouncer between the pools and the database (default: absent, the
    /// pools connect to PostgreSQL directly).
    #[serde(default)]
    pub pgbouncer: Option<PgBouncer>,
    /// Read replicas that take a share of the queries (default: absent).
    #[serde(default)]
    pub replicas: Option<Replicas>,
    /// How the database's data changes (default: absent, never). Replicas
    /// apply each write after their replication lag; a read on a replica
    /// that has not applied the newest write is a stale read.
    #[serde(default)]
    pub writes: Option<Writes>,
    /// Time to open one of the pool's physical connections: TCP,
    /// PostgreSQL's startup and SCRAM authentication (about four round
    /// trips) and the fork of a backend process. The pool opens lazily, so
    /// the first `pool_size` checkouts and every overflow checkout pay it.
    /// Default `LogNormal(median: "5ms", p99: "20ms")`: a few ms on one host.
    /// Through PgBouncer the pool connects to PgBouncer instead (the same
    /// exchange without the fork: lower it), and PgBouncer's own server
    /// connections pay `pgbouncer.server_connect`.
    #[serde(default = "default_connect")]
    pub connect: Latency,
    /// Who gets a returned connection when checkouts wait: `Barging`
    /// (default: SQLAlchemy's async pool over `asyncio.Queue` wakes the
    /// oldest waiter, but a checkout that runs before it resumes takes the
    /// connection and the waiter queues again at the back) or `Fifo` (the
    /// oldest waiter always gets it).
    #[serde(default)]
    pub fairness: Fairness,
}

/// The pool's wake-up order (docs/models.md, "Pool fairness").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Fairness {
    #[default]
    Barging,
    Fifo,
}

fn default_connect() -> Latency {
    Latency::LogNormal { median: Dur::millis(5), p99: Dur::millis(20) }
}

fn default_max_connections() -> u32 {
    100
}
fn default_reserved() -> u32 {
    3
}

fn default_pool_size() -> u32 {
    5
}
fn default_max_overflow() -> u32 {
    10
}
fn default_pool_timeout() -> Dur {
    Dur::secs(30)
}

impl Pool {
    /// Database nodes: the primary and each replica (replicas are at most
    /// [`MAX_REPLICAS`](super::MAX_REPLICAS) in a loaded model).
    pub fn nodes(&self) -> u32 {
        self.replicas.as_ref().map_or(0, |r| r.count).saturating_add(1)
    }
}

/// PgBouncer in transaction pooling, one in front of each database node (`pool_mode = transaction`): the pools'
/// connections go to PgBouncer, which lends one of its `default_pool_size`
/// server connections to each query for the length of its transaction. A
/// query with no free server connection waits in PgBouncer's queue, FIFO, up
/// to `query_wait_timeout`, then fails with `query_wait_timeout`. Each query
/// is one transaction here, so `statement` pooling would behave the same.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PgBouncer {
    /// Server connections per database node (default 20; 1 to the usable
    /// `max_connections − reserved_connections`).
    #[serde(default = "default_bouncer_pool")]
    pub default_pool_size: u32,
    /// Client connections PgBouncer accepts (default 100; 1 to 1,000,000), all pools
    /// together; with replicas, each node has its own PgBouncer. Past it a
    /// pool's new connection is refused (`too_many_connections`).
    #[serde(default = "default_max_client_conn")]
    pub max_client_conn: u32,
    /// Longest a query waits for a server connection (default 120s; 0s
    /// waits forever, as in PgBouncer).
    #[serde(default = "default_query_wait_timeout")]
    pub query_wait_timeout: Dur,
    /// Time for PgBouncer to open a server connection to PostgreSQL: TCP,
    /// startup, authentication and the backend's fork, as a direct pool's
    /// `connect` (default `LogNormal(median: "5ms", p99: "20ms")`).
    /// PgBouncer opens server connections lazily, one attempt at a time
    /// per pool (`launch_new_connection`), while queries wait.
    #[serde(default = "default_connect")]
    pub server_connect: Latency,
    /// An idle server connection is closed after this long unused
    /// (PgBouncer's `server_idle_timeout`, default 600s; `"0s"` never).
    #[serde(default = "default_server_idle_timeout")]
    pub server_idle_timeout: Dur,
}

fn default_bouncer_pool() -> u32 {
    20
}
fn default_max_client_conn() -> u32 {
    100
}
fn default_query_wait_timeout() -> Dur {
    Dur::secs(120)
}
fn default_server_idle_timeout() -> Dur {
    Dur::secs(600)
}

/// Streaming read replicas: each worker keeps one pool per node (the
/// primary and each replica, as with a read-only engine per replica), and a
/// query goes to a replica with probability `read_share`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replicas {
    /// Number of replicas (default 1; 1 to 64).
    #[serde(default = "default_replica_count")]
    pub count: u32,
    /// Replication lag of each write on each replica (default
    /// `LogNormal(median: "50ms", p99: "1s")`: streaming replication within a
    /// region, with occasional spikes). Writes apply in order.
    #[serde(default = "default_lag")]
    pub lag: Latency,
    /// Share of queries sent to a replica, chosen uniformly (default 1: every
    /// query is a read).
    #[serde(default = "default_read_share")]
    pub read_share: f64,
}

fn default_replica_count() -> u32 {
    1
}
fn default_lag() -> Latency {
    Latency::LogNormal { median: Dur::millis(50), p99: Dur::secs(1) }
}
fn default_read_share() -> f64 {
    1.0
}
