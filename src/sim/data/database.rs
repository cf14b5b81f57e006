//! The database after the handler: each worker's QueuePool per node, the
//! node's connection limit, PgBouncer's server connections, and replicas
//! that apply writes after a lag.
//!
//! ```text
//! handler done -> route (primary, or a replica with `read_share`)
//!   -> pool checkout (FIFO, pool_timeout; opening past max_connections is refused)
//!   -> [PgBouncer: a server connection, FIFO, query_wait_timeout]
//!   -> query (a replica read is stale if the replica lags the newest write)
//!   -> server connection back, pool connection back -> done
//! ```

use std::collections::VecDeque;

use rand::RngExt;

use crate::config::Pool;
use crate::engine::{EventQueue, SimDuration, SimRng, SimTime, stream};
use crate::metrics::{Cause, Phase};

use crate::sim::data::pool::{Checkout, DbServer, Returned, Waiter};
use crate::sim::data::versions::Versions;
use crate::sim::request::ReqId;
use crate::sim::sampler::Sampler;
use crate::sim::world::{Event, World};

/// PgBouncer's server connections for one node (transaction pooling), as
/// src/objects.c and src/janitor.c run them: opened lazily while queries
/// wait, one attempt at a time (`launch_new_connection`); a released
/// server goes to the front of the idle list and the next query takes the
/// front one (LIFO, `server_round_robin = 0`); an idle server is closed
/// after `server_idle_timeout`.
pub struct Bouncer {
    size: u32,
    /// Servers linked to a query.
    busy: u32,
    /// When each idle server was released, oldest first: the newest is
    /// taken, the oldest time out.
    idle: VecDeque<SimTime>,
    /// A connection attempt is under way.
    connecting: bool,
    /// Most server connections open at once (PostgreSQL's view).
    pub peak: u32,
    wait_timeout: SimDuration,
    idle_timeout: SimDuration,
    waiters: VecDeque<Waiter>,
}

impl Bouncer {
    /// Server connections open or opening.
    fn open(&self) -> u32 {
        self.busy + self.idle.len() as u32 + u32::from(self.connecting)
    }

    /// Takes an idle server, after closing those idle past the timeout
    /// (PgBouncer's janitor would have closed them by `now`).
    fn take_idle(&mut self, now: SimTime) -> bool {
        if self.idle_timeout.0 > 0 {
            while self.idle.front().is_some_and(|&since| since.after(self.idle_timeout) <= now) {
                self.idle.pop_front();
            }
        }
        if self.idle.pop_back().is_some() {
            self.busy += 1;
            true
        } else {
            false
        }
    }

    /// Whether to start opening a server connection: queries wait, none is
    /// being opened, and the pool has room.
    fn should_launch(&self) -> bool {
        !self.waiters.is_empty() && !self.connecting && self.open() < self.size
    }
}

/// A replica's progress through the primary's writes.
pub struct Replica {
    lag: Sampler,
    rng: SimRng,
    /// Writes whose apply time is known.
    seen: u64,
    /// (apply time, version) of writes not yet applied, in order.
    pending: VecDeque<(SimTime, u64)>,
    applied: u64,
    last_apply: SimTime,
}

impl Replica {
    /// The version this replica has applied by `now`. Write k's lag is the
    /// k-th draw of the replica's stream, whenever it is asked for; writes
    /// apply in order (a write cannot overtake an earlier one).
    fn version_at(&mut self, now: SimTime, primary: &mut Versions) -> u64 {
        let newest = primary.current(now);
        while self.seen < newest {
            self.seen += 1;
            let at = primary.written_at(self.seen).after(self.lag.sample(&mut self.rng)).max(self.last_apply);
            self.last_apply = at;
            if at <= now {
                // Apply times only grow: every write before this one is
                // applied too. Only writes still to apply are kept, so a
                // long gap between two queries costs no memory.
                self.pending.clear();
                self.applied = self.seen;
            } else {
                self.pending.push_back((at, self.seen));
            }
        }
        while let Some(&(at, v)) = self.pending.front() {
            if at > now {
                break;
            }
            self.applied = v;
            self.pending.pop_front();
        }
        self.applied
    }
}

/// One database node: the primary (0) or a replica.
pub struct DbNode {
    /// Connections the pools may open: PostgreSQL's limit, or PgBouncer's
    /// `max_client_conn` when there is a PgBouncer.
    pub conns: DbServer,
    pub bouncer: Option<Bouncer>,
    pub replica: Option<Replica>,
}

impl DbNode {
    /// Most connections PostgreSQL itself saw at once on this node.
    pub fn server_peak(&self) -> u32 {
        self.bouncer.as_ref().map_or(self.conns.peak, |b| b.peak)
    }
}

/// What the database counts (measured queries).
#[derive(Debug, Default, Clone)]
pub struct DbCounters {
    pub queries: u64,
    pub replica_reads: u64,
    pub stale_reads: u64,
    /// How far behind the newest write the stale reads were, summed and
    /// at most (ns).
    pub stale_lag_sum_ns: u128,
    pub stale_lag_max_ns: u64,
    /// Queries that waited for a PgBouncer server connection, and the total wait.
    pub bouncer_waits: u64,
    pub bouncer_wait_sum_ns: u128,
    pub bouncer_timeouts: u64,
}

/// The database: its nodes, the router and the write history.
pub struct Database {
    pub nodes: Vec<DbNode>,
    read_share: f64,
    route_rng: SimRng,
    writes: Versions,
    pub query: Sampler,
    /// Opening a physical connection, and its stream.
    connect: Sampler,
    connect_rng: SimRng,
    /// PgBouncer opening a server connection, and its stream.
    server_connect: Option<Sampler>,
    server_connect_rng: SimRng,
    pub counters: DbCounters,
}

impl Database {
    pub fn new(spec: &Pool, seed: u64, run: u64) -> Database {
        let limit = match &spec.pgbouncer {
            Some(b) => b.max_client_conn,
            None => spec.max_connections.saturating_sub(spec.reserved_connections),
        };
        let nodes = (0..spec.nodes())
            .map(|i| DbNode {
                conns: DbServer { limit, open: 0, peak: 0 },
                bouncer: spec.pgbouncer.as_ref().map(|b| Bouncer {
                    size: b.default_pool_size,
                    busy: 0,
                    idle: VecDeque::new(),
                    connecting: false,
                    peak: 0,
                    wait_timeout: b.query_wait_timeout.0,
                    idle_timeout: b.server_idle_timeout.0,
                    waiters: VecDeque::new(),
                }),
                replica: spec.replicas.as_ref().filter(|_| i > 0).map(|r| Replica {
                    lag: Sampler::new(&r.lag),
                    rng: stream(seed, run, &format!("db.replica[{i}].lag")),
                    seen: 0,
                    pending: VecDeque::new(),
                    applied: 0,
                    last_apply: SimTime::ZERO,
                }),
            })
            .collect();
        Database {
            nodes,
            read_share: spec.replicas.as_ref().map_or(0.0, |r| r.read_share),
            route_rng: stream(seed, run, "db.route"),
            writes: Versions::new(spec.writes.as_ref(), stream(seed, run, "db.writes")),
            query: Sampler::new(&spec.query),
            connect: Sampler::new(&spec.connect),
            connect_rng: stream(seed, run, "db.connect"),
            server_connect: spec.pgbouncer.as_ref().map(|b| Sampler::new(&b.server_connect)),
            server_connect_rng: stream(seed, run, "db.pgbouncer.connect"),
            counters: DbCounters::default(),
        }
    }

    /// The node a query goes to: a replica, uniformly, with `read_share`.
    #[inline]
    fn route(&mut self) -> usize {
        let replicas = self.nodes.len() - 1;
        if replicas == 0 || self.read_share <= 0.0 {
            return 0;
        }
        if self.read_share >= 1.0 || self.route_rng.random::<f64>() < self.read_share {
            1 + self.route_rng.random_range(0..replicas)
        } else {
            0
        }
    }

    /// Most connections PostgreSQL saw at once on any node.
    pub fn peak_connections(&self) -> u32 {
        self.nodes.iter().map(DbNode::server_peak).max().unwrap_or(0)
    }
}

impl World {
    /// The handler is done: the request checks a connection out of its
    /// worker's pool for the node its query goes to (no database: done).
    pub(in crate::sim) fn on_handler_done(&mut self, q: &mut EventQueue<Event>, id: ReqId) {
        let now = q.now();
        let req = *self.requests.get(id);
        let Some(db) = self.db.as_mut() else {
            return self.finish(q, id, Ok(()));
        };
        let node = db.route();
        self.requests.get_mut(id).db_node = node as u32;
        let pool = &mut self.units[req.unit as usize].pools[node];
        match pool.checkout(&mut db.nodes[node].conns) {
            Checkout::Connection => {
                let in_use = u64::from(pool.in_use);
                self.stats.checkout(now, req.counted, SimDuration::ZERO, in_use);
                self.start_query(q, id);
            }
            Checkout::Open => self.connect(q, id, now),
            Checkout::Refused => self.finish(q, id, Err(Cause::TooManyConnections)),
            Checkout::Wait if pool.timeout.0 == 0 => {
                self.stats.pool_timeout(req.counted);
                self.finish(q, id, Err(Cause::PoolTimeout));
            }
            Checkout::Wait => {
                let timeout = Some(q.schedule_cancellable_in(pool.timeout, Event::PoolTimeout(id)));
                pool.waiters.push_back(Waiter { req: id, since: now, timeout });
                self.phase(now, id, Phase::PoolWait);
            }
        }
    }

    /// The request has a slot for a new connection: it opens one (waiting
    /// since `since`), then checks it out.
    fn connect(&mut self, q: &mut EventQueue<Event>, id: ReqId, since: SimTime) {
        let db = self.db.as_mut().expect("a query needs a database");
        let d = db.connect.sample(&mut db.connect_rng);
        self.stats.connect_started(self.requests.get(id).counted, d);
        let r = self.requests.get_mut(id);
        r.pool_since = since;
        self.phase(q.now(), id, Phase::PoolWait);
        q.schedule_in(d, Event::ConnectDone(id));
    }

    /// The new connection is open: the checkout is done.
    pub(in crate::sim) fn on_connect_done(&mut self, q: &mut EventQueue<Event>, id: ReqId) {
        let now = q.now();
        let req = *self.requests.get(id);
        let in_use = u64::from(self.units[req.unit as usize].pools[req.db_node as usize].in_use);
        self.stats.checkout(now, req.counted, now.since(req.pool_since), in_use);
        self.start_query(q, id);
    }

    /// A woken pool waiter resumes: it takes the connection if it is still
    /// idle, or waits again at the back.
    pub(in crate::sim) fn on_pool_wake(&mut self, q: &mut EventQueue<Event>, id: ReqId) {
        let req = *self.requests.get(id);
        let pool = &mut self.units[req.unit as usize].pools[req.db_node as usize];
        if let Some(w) = pool.resume(id) {
            self.waiter_served(q, w);
        }
    }

    /// A waiter has its connection: its timeout is off, its wait counted,
    /// and its query starts.
    fn waiter_served(&mut self, q: &mut EventQueue<Event>, w: Waiter) {
        if let Some(key) = w.timeout {
            q.cancel(key);
        }
        let req = *self.requests.get(w.req);
        let in_use = u64::from(self.units[req.unit as usize].pools[req.db_node as usize].in_use);
        self.stats.checkout(q.now(), req.counted, q.now().since(w.since), in_use);
        self.start_query(q, w.req);
    }

    /// The request has a pool connection: through PgBouncer, its query
    /// needs a server connection too, and may wait for one.
    #[inline]
    fn start_query(&mut self, q: &mut EventQueue<Event>, id: ReqId) {
        let now = q.now();
        let node = self.requests.get(id).db_node as usize;
        let db = self.db.as_mut().expect("a query needs a database");
        if let Some(b) = db.nodes[node].bouncer.as_mut()
            && !b.take_idle(now)
        {
            // PgBouncer: a query_wait_timeout of 0 waits forever.
            let timeout =
                (b.wait_timeout.0 > 0).then(|| q.schedule_cancellable_in(b.wait_timeout, Event::BouncerTimeout(id)));
            b.waiters.push_back(Waiter { req: id, since: now, timeout });
            self.phase(now, id, Phase::PoolWait);
            self.launch_server_connection(q, node);
            return;
        }
        self.run_query(q, id);
    }

    /// PgBouncer opens a server connection for node `node` if queries wait
    /// for one, none is being opened and its pool has room.
    fn launch_server_connection(&mut self, q: &mut EventQueue<Event>, node: usize) {
        let db = self.db.as_mut().expect("a query needs a database");
        let Some(b) = db.nodes[node].bouncer.as_mut().filter(|b| b.should_launch()) else { return };
        b.connecting = true;
        b.peak = b.peak.max(b.open());
        let sampler = db.server_connect.as_ref().expect("PgBouncer has its connect time");
        let d = sampler.sample(&mut db.server_connect_rng);
        if self.stats.measuring(q.now()) {
            self.stats.bouncer_connects.add(d);
        }
        q.schedule_in(d, Event::ServerConnected(node as u32));
    }

    /// PgBouncer's new server connection is ready: the first waiting query
    /// takes it (or it waits idle), and the next attempt starts if queries
    /// still wait.
    pub(in crate::sim) fn on_server_connected(&mut self, q: &mut EventQueue<Event>, node: usize) {
        let db = self.db.as_mut().expect("a query needs a database");
        let b = db.nodes[node].bouncer.as_mut().expect("PgBouncer opened it");
        b.connecting = false;
        b.busy += 1;
        self.server_free(q, node);
        self.launch_server_connection(q, node);
    }

    /// A busy server connection of node `node` is free: the first waiting
    /// query runs on it, or it goes idle.
    fn server_free(&mut self, q: &mut EventQueue<Event>, node: usize) {
        let now = q.now();
        let db = self.db.as_mut().expect("a query needs a database");
        let b = db.nodes[node].bouncer.as_mut().expect("a server connection needs PgBouncer");
        match b.waiters.pop_front() {
            Some(w) => {
                if let Some(key) = w.timeout {
                    q.cancel(key);
                }
                if self.requests.get(w.req).counted {
                    db.counters.bouncer_waits += 1;
                    db.counters.bouncer_wait_sum_ns += u128::from(now.since(w.since).0);
                }
                self.run_query(q, w.req);
            }
            None => {
                b.busy -= 1;
                b.idle.push_back(now);
            }
        }
    }

    /// The query runs on its node; a replica read that misses the newest
    /// write is counted stale.
    #[inline]
    fn run_query(&mut self, q: &mut EventQueue<Event>, id: ReqId) {
        let now = q.now();
        let req = *self.requests.get(id);
        let db = self.db.as_mut().expect("a query needs a database");
        if req.counted {
            db.counters.queries += 1;
        }
        if let Some(replica) = db.nodes[req.db_node as usize].replica.as_mut() {
            let seen = replica.version_at(now, &mut db.writes);
            if req.counted {
                db.counters.replica_reads += 1;
                let behind = db.writes.staleness(seen, now);
                if behind.0 > 0 {
                    db.counters.stale_reads += 1;
                    db.counters.stale_lag_sum_ns += u128::from(behind.0);
                    db.counters.stale_lag_max_ns = db.counters.stale_lag_max_ns.max(behind.0);
                }
            }
        }
        let d = db.query.sample(&mut self.units[req.unit as usize].query_rng);
        self.phase(now, id, Phase::Query);
        q.schedule_in(d, Event::QueryDone(id));
    }

    pub(in crate::sim) fn on_query_done(&mut self, q: &mut EventQueue<Event>, id: ReqId) {
        let node = self.requests.get(id).db_node as usize;
        if self.db.as_ref().expect("a query needs a database").nodes[node].bouncer.is_some() {
            self.server_free(q, node);
        }
        self.return_connection(q, id);
        self.finish(q, id, Ok(()));
    }

    /// The request gives its pool connection back: the pool's first waiter
    /// gets it.
    #[inline]
    fn return_connection(&mut self, q: &mut EventQueue<Event>, id: ReqId) {
        let req = *self.requests.get(id);
        let node = req.db_node as usize;
        let db = self.db.as_mut().expect("a query needs a database");
        let pool = &mut self.units[req.unit as usize].pools[node];
        self.stats.checkin();
        match pool.checkin(&mut db.nodes[node].conns) {
            Returned::Idle => {}
            Returned::Handed(w) => self.waiter_served(q, w),
            // It resumes after what is already due now (asyncio's ready
            // queue), so a checkout due now runs first.
            Returned::Woken(w) => q.schedule_in(SimDuration::ZERO, Event::PoolWake(w.req)),
        }
    }

    pub(in crate::sim) fn on_pool_timeout(&mut self, q: &mut EventQueue<Event>, id: ReqId) {
        let req = *self.requests.get(id);
        let node = req.db_node as usize;
        let pool = &mut self.units[req.unit as usize].pools[node];
        let (gone, wake) = pool.remove_waiter(id);
        if let Some(w) = wake {
            q.schedule_in(SimDuration::ZERO, Event::PoolWake(w.req));
        }
        let Some(w) = gone else { return };
        // QueuePool checks again at the timeout: a slot freed meanwhile
        // opens a connection instead of failing.
        let db = self.db.as_mut().expect("a query needs a database");
        match pool.open_new(&mut db.nodes[node].conns) {
            Some(Checkout::Open) => self.connect(q, id, w.since),
            Some(_) => self.finish(q, id, Err(Cause::TooManyConnections)),
            None => {
                self.stats.pool_timeout(req.counted);
                self.finish(q, id, Err(Cause::PoolTimeout));
            }
        }
    }

    /// PgBouncer's `query_wait_timeout`: the query is cancelled, the pool
    /// connection goes back, and the request fails.
    pub(in crate::sim) fn on_bouncer_timeout(&mut self, q: &mut EventQueue<Event>, id: ReqId) {
        let req = *self.requests.get(id);
        let db = self.db.as_mut().expect("a query needs a database");
        let Some(b) = db.nodes[req.db_node as usize].bouncer.as_mut() else { return };
        let Some(i) = b.waiters.iter().position(|w| w.req == id) else { return };
        b.waiters.remove(i);
        db.counters.bouncer_timeouts += u64::from(req.counted);
        self.return_connection(q, id);
        self.finish(q, id, Err(Cause::QueryWaitTimeout));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Dur, Latency, Writes};

    /// A replica asked once after 600,000 writes, with a 10 ms lag, keeps
    /// only the writes it has not applied (about 10), never all of them at
    /// once, and has applied every write older than its lag.
    #[test]
    fn a_replica_keeps_only_the_writes_it_has_not_applied() {
        let mut primary = Versions::new(Some(&Writes::Every(Dur::millis(1))), stream(1, 0, "w"));
        let mut replica = Replica {
            lag: Sampler::new(&Latency::Constant(Dur::millis(10))),
            rng: stream(1, 0, "lag"),
            seen: 0,
            pending: VecDeque::new(),
            applied: 0,
            last_apply: SimTime::ZERO,
        };
        let now = SimTime(600_000_000_000);
        let applied = replica.version_at(now, &mut primary);
        assert_eq!(applied, 600_000 - 10);
        assert!(replica.pending.len() <= 10, "{}", replica.pending.len());
        assert!(replica.pending.capacity() < 1000, "buffered {} at once", replica.pending.capacity());
    }
}
