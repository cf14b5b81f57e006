//! The request lifecycle, as one event handler over the whole architecture.
//!
//! ```text
//! arrival -> balancer -> server -> worker slot (FIFO if at its concurrency)
//!   -> cache (see refresh.rs): hit, stale hit, wait for a fetch, or fetch
//!   -> handler time -> pool checkout (FIFO, timeout) -> query -> done
//! ```
//!
//! A "unit" is one worker process: it has its own cache, pool and slots.

use std::collections::VecDeque;

use crate::config::{LimitKey, LimitStorage, ModelSpec, Refresh};
use crate::engine::{EventQueue, Model, SimDuration, SimRng, SimTime, stream};
use crate::metrics::{Cause, Period, Phase, PhaseClock, Recorder};

use crate::sim::chunked::ChunkedVec;
use crate::sim::data::backend::BackendState;
use crate::sim::data::database::Database;
use crate::sim::data::pool::PoolState;
use crate::sim::data::redis::RedisState;
use crate::sim::data::redis_clients::RedisClients;
use crate::sim::data::versions::Versions;
use crate::sim::edge::arrivals::ArrivalStream;
use crate::sim::edge::balancer::LoadBalancer;
use crate::sim::edge::cdn_nodes::EdgeState;
use crate::sim::edge::client::Clients;
use crate::sim::edge::client_limit::LimitStore;
use crate::sim::process::{AfterCpu, Collector, Cores, CpuCosts, Direction, EventLoop, GcPolicy, Link, MemoryState};
use crate::sim::request::{Background, ReqId, Request, Slab};
use crate::sim::sampler::Sampler;
use crate::sim::service::cache::CacheState;
use crate::sim::service::expiry::ExpirySpans;
use crate::sim::service::responses::{ResponseState, ZipfKeys};

/// Everything that can happen. Source -> destination in each comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Workload -> balancer: the next request arrives.
    Arrival,
    /// Backend -> request: its fetch completed.
    FetchDone(ReqId),
    /// Backend client -> backend: the backoff sleep is over; try again.
    RetryFetch(ReqId),
    /// Server -> request: the handler finished its work.
    HandlerDone(ReqId),
    /// Database -> request: its query finished; the connection returns.
    QueryDone(ReqId),
    /// Pool -> request: no connection within `pool_timeout`.
    PoolTimeout(ReqId),
    /// Worker -> queued request: a slot is free (the slot is already its).
    SlotFree(ReqId),
    /// Refresh job -> cache of a unit: time to refresh ahead of expiry.
    BackgroundRefresh(u32),
    /// Worker -> Redis: the request's command arrives.
    RedisArrive(ReqId),
    /// Redis -> worker: the reply to the request's command arrives.
    RedisReply(ReqId),
    /// Lock waiter -> Redis: the polling sleep is over; try the lock again.
    LockRetry(ReqId),
    /// Operator -> server: it restarts; its workers' caches are emptied.
    Restart(u32),
    /// Operator -> Redis: FLUSHALL.
    RedisFlush,
    /// A closed-loop user -> balancer: the user's think time is over.
    UserRequest(u32),
    /// CDN node -> the node above it (shield or origin): a forward request arrives.
    EdgeForward(u32),
    /// Upstream -> CDN node: the answer to its forward request arrives.
    EdgeBack(u32),
    /// PoP -> client: the response arrives.
    EdgeReply(u32),
    /// PgBouncer -> request: no server connection within `query_wait_timeout`.
    BouncerTimeout(ReqId),
    /// Lease waiter -> cache: the short wait is over; look again.
    LeaseRetry(ReqId),
    /// Redis lease waiter -> Redis: the short wait is over; GET again.
    SharedLeaseRetry(ReqId),
    /// Refresh job -> Redis: time to refresh the shared entry ahead of expiry.
    SharedRefreshDue,
    /// Client -> its request: the client's timeout passed; it gives up.
    ClientTimeout(ReqId),
    /// Client -> balancer: after its backoff, the client sends retry k.
    ClientRetry(u32),
    /// A worker's event loop: the CPU piece it was running is done.
    CpuDone(u32),
    /// Collector -> worker: an interval garbage collection is due.
    GcDue(u32),
    /// Worker -> request: the worker accepts its connection (held back by
    /// a garbage collection).
    Accept(ReqId),
    /// Database -> request: the connection it opened is ready.
    ConnectDone(ReqId),
    /// Pool -> woken waiter: it resumes, and takes the connection if it is
    /// still idle.
    PoolWake(ReqId),
    /// Server link -> client: the response's last byte has left.
    Sent(ReqId),
    /// Server link -> worker: the fetched payload's last byte has arrived.
    Received(ReqId),
    /// PostgreSQL -> PgBouncer of a node: the server connection it opened is ready.
    ServerConnected(u32),
}

/// One worker process: its slots, cache and pool.
pub(super) struct Unit {
    pub busy: u32,
    pub limit: u32,
    pub queue: VecDeque<ReqId>,
    pub cache: Option<CacheState>,
    /// One pool per database node (none without a database).
    pub pools: Vec<PoolState>,
    pub handler_rng: SimRng,
    pub query_rng: SimRng,
    pub responses: Option<ResponseState>,
    /// Client-limit counters in this worker's memory (`PerProcess`).
    pub limits: Option<LimitStore>,
    /// The process's event loop, and the stream its CPU costs are drawn from.
    pub cpu: EventLoop,
    pub cpu_rng: SimRng,
    /// Its garbage collector, and the stream of its pauses.
    pub collector: Collector,
    pub gc_rng: SimRng,
    /// Its pool of Redis connections (empty without Redis).
    pub redis_clients: RedisClients,
}

/// The most requests that may be in the system at once: beyond this the run
/// stops (a memory guard; about 100 bytes each).
pub const MAX_IN_FLIGHT: u64 = 5_000_000;

/// The simulated architecture.
pub struct World {
    pub(super) units: Vec<Unit>,
    pub(super) workers: u32,
    balancer: LoadBalancer,
    pub(super) refresh: Refresh,
    pub(super) early_rng: SimRng,
    /// The handler's waiting (`servers.handler.wait`).
    handler: Sampler,
    /// What each step costs the event loop.
    pub(super) cpu: CpuCosts,
    /// Each server's cores, when its processes can outnumber them (else
    /// empty: every process has a core of its own).
    pub(super) cores: Vec<Cores>,
    /// Garbage-collection pauses, if the model has them.
    pub(super) gc: Option<GcPolicy>,
    /// What each process holds in memory, if the model tracks it.
    pub(super) memory: Option<MemoryState>,
    /// Each server's network link (empty without `servers.link`).
    pub(super) links: Vec<Link>,
    /// Bytes of a response and of a fetched payload.
    pub(super) response_bytes: u64,
    pub(super) payload_bytes: u64,
    pub(super) backend: BackendState,
    pub(super) versions: Versions,
    pub(super) redis: Option<RedisState>,
    pub(super) db: Option<Database>,
    arrivals: ArrivalStream,
    /// Closed loop: think time and its stream.
    think: Option<(Sampler, SimRng)>,
    /// Response cache: which query each request asks.
    keys: Option<(ZipfKeys, SimRng)>,
    /// Client limit: which user sends each request, and shared counters.
    clients: Option<(ZipfKeys, SimRng)>,
    /// Client limit: behind a CDN, the limit counts by PoP.
    limit_by_peer: bool,
    shared_limits: Option<LimitStore>,
    pub(super) arrivals_end: SimTime,
    pub(super) requests: Slab<Request>,
    /// Each request's phase clock, by the same id as `requests` (apart, so
    /// that copying a `Request` in the handlers stays cheap).
    clocks: ChunkedVec<PhaseClock>,
    /// Which fetches each cache expiry caused.
    pub(super) spans: ExpirySpans,
    /// The CDN in front of everything, if any.
    pub(super) edge: Option<EdgeState>,
    /// Clients that time out and retry, if the workload has them.
    pub(super) clients_retry: Option<Clients>,
    pub stats: Recorder,
    /// Set when a guard stops the run: why.
    pub stop_reason: Option<String>,
}

impl World {
    /// Builds the architecture of `spec` for replication `run` of `seed`, and
    /// schedules the first arrival.
    pub fn new(spec: &ModelSpec, seed: u64, run: u64, queue: &mut EventQueue<Event>) -> World {
        let rng = |name: &str| stream(seed, run, name);
        let workers = spec.servers.workers.get();
        let warm_fetch = SimDuration::from_secs_f64(Sampler::new(&spec.backend.latency).mean_secs());
        // Loading a model bounds servers × workers to `config::MAX_WORKERS`.
        let units = spec.servers.count.get().checked_mul(workers).expect("servers × workers was validated");
        let unit_count = units as usize;
        let units = (0..units)
            .map(|i| {
                // Unit names keep the one-worker streams of earlier versions.
                let name = if workers == 1 {
                    format!("server[{i}]")
                } else {
                    format!("server[{}].worker[{}]", i / workers, i % workers)
                };
                Unit {
                    busy: 0,
                    limit: spec.servers.concurrency.map_or(u32::MAX, |c| c.get()),
                    queue: VecDeque::new(),
                    cache: spec.cache.as_ref().map(|c| CacheState::new(c, rng(&format!("{name}.cache")), warm_fetch)),
                    pools: spec.db.as_ref().map_or(Vec::new(), |p| {
                        (0..p.nodes())
                            .map(|_| {
                                let fifo = p.fairness == crate::config::Fairness::Fifo;
                                PoolState::new(p.pool_size, p.max_overflow, p.pool_timeout.0, fifo)
                            })
                            .collect()
                    }),
                    handler_rng: rng(&format!("{name}.handler")),
                    query_rng: rng(&format!("{name}.db")),
                    responses: spec.response_cache.as_ref().map(ResponseState::new),
                    limits: spec
                        .client_limit
                        .as_ref()
                        .filter(|c| c.storage == LimitStorage::PerProcess)
                        .map(|c| LimitStore::new(c.strategy, c.limit.get(), c.per.0)),
                    cpu: EventLoop::default(),
                    cpu_rng: rng(&format!("{name}.cpu")),
                    collector: Collector::default(),
                    gc_rng: rng(&format!("{name}.gc")),
                    redis_clients: RedisClients::default(),
                }
            })
            .collect();
        let w = &spec.workload;
        let mut world = World {
            units,
            workers,
            balancer: LoadBalancer::new(spec.servers.balancer, spec.servers.count.get(), rng("balancer")),
            refresh: spec.cache.as_ref().map_or(Refresh::None, |c| c.refresh),
            early_rng: rng("xfetch"),
            handler: Sampler::new(&spec.servers.handler.wait),
            cpu: CpuCosts::new(spec),
            cores: match spec.servers.cores {
                Some(c) if c.get() < workers => vec![Cores::new(c.get()); spec.servers.count.get() as usize],
                _ => Vec::new(),
            },
            gc: spec.servers.gc.as_ref().map(GcPolicy::new),
            memory: MemoryState::new(spec, unit_count, workers as usize),
            links: spec
                .servers
                .link
                .map_or(Vec::new(), |l| (0..spec.servers.count.get()).map(|_| Link::new(&l)).collect()),
            response_bytes: spec.servers.response_bytes.unwrap_or(spec.backend.payload_bytes),
            payload_bytes: spec.backend.payload_bytes,
            backend: BackendState::new(&spec.backend, rng("backend"), rng("backend.retry")),
            versions: Versions::new(spec.backend.writes.as_ref(), rng("backend.writes")),
            redis: spec.redis.as_ref().map(|r| {
                RedisState::new(
                    r,
                    rng("redis.rtt"),
                    rng("redis.connect"),
                    rng("redis.command"),
                    rng("redis.ttl"),
                    warm_fetch,
                )
            }),
            db: spec.db.as_ref().map(|p| Database::new(p, seed, run)),
            arrivals: ArrivalStream::new(w, rng("arrivals")),
            think: w.closed.as_ref().map(|c| (Sampler::new(&c.think), rng("users"))),
            keys: spec.response_cache.as_ref().map(|r| (ZipfKeys::new(r.keys, r.zipf), rng("keys"))),
            clients: spec.client_limit.as_ref().map(|c| (ZipfKeys::new(c.users.get(), c.zipf), rng("clients"))),
            limit_by_peer: spec.client_limit.as_ref().is_some_and(|c| c.key == LimitKey::RemoteAddress),
            shared_limits: spec
                .client_limit
                .as_ref()
                .filter(|c| c.storage == LimitStorage::Shared)
                .map(|c| LimitStore::new(c.strategy, c.limit.get(), c.per.0)),
            arrivals_end: SimTime(w.duration.nanos()),
            requests: Slab::default(),
            clocks: ChunkedVec::default(),
            spans: ExpirySpans::default(),
            edge: spec.cdn.as_ref().map(|c| EdgeState::new(c, seed, run)),
            clients_retry: w.client.as_ref().map(|c| Clients::new(c, rng("client.backoff"))),
            stats: Recorder::new(SimTime(w.warmup.nanos())),
            stop_reason: None,
        };
        for (u, unit) in world.units.iter().enumerate() {
            if unit.cache.as_ref().is_some_and(|c| c.expires_at.is_some()) {
                world.stats.cache_filled(u, 0, SimTime::ZERO);
            }
        }
        for u in 0..world.units.len() {
            world.memory_grew(SimTime::ZERO, u);
        }
        world.schedule_background_refresh(queue);
        world.schedule_first_collections(queue);
        world.schedule_shared_refresh(queue);
        for r in &spec.servers.restarts {
            queue.schedule_at(SimTime(r.at.nanos()), Event::Restart(r.server));
        }
        for at in spec.redis.iter().flat_map(|r| &r.flushes) {
            queue.schedule_at(SimTime(at.nanos()), Event::RedisFlush);
        }
        match &w.closed {
            // Every user thinks before its first request, from its start.
            Some(c) => {
                let (users, spread) = (c.users.get(), c.start_spread.nanos());
                for user in 0..users {
                    let start = (u128::from(spread) * u128::from(user) / u128::from(users)) as u64;
                    world.user_thinks_from(queue, SimTime(start), user);
                }
            }
            None => {
                let first = world.arrivals.next_arrival();
                if first <= world.arrivals_end {
                    queue.schedule_at(first, Event::Arrival);
                }
            }
        }
        world
    }

    /// A closed-loop user pauses, then sends its next request.
    pub(super) fn user_thinks(&mut self, q: &mut EventQueue<Event>, user: u32) {
        self.user_thinks_from(q, q.now(), user);
    }

    /// The user starts thinking at `from`.
    fn user_thinks_from(&mut self, q: &mut EventQueue<Event>, from: SimTime, user: u32) {
        let (sampler, rng) = self.think.as_mut().expect("closed loop");
        let at = from.after(sampler.sample(rng));
        if at <= self.arrivals_end {
            q.schedule_at(at, Event::UserRequest(user));
        }
    }

    fn on_arrival(&mut self, q: &mut EventQueue<Event>) {
        let next = self.arrivals.next_arrival();
        if next <= self.arrivals_end {
            q.schedule_at(next, Event::Arrival);
        }
        self.enter(q, u32::MAX);
    }

    /// A request (of `user`, or open) enters the system: at the CDN if
    /// there is one, else at the load balancer.
    fn enter(&mut self, q: &mut EventQueue<Event>, user: u32) {
        self.enter_attempt(q, user, 0);
    }

    /// A client's try `attempt` (0: the first) enters the system.
    pub(super) fn enter_attempt(&mut self, q: &mut EventQueue<Event>, user: u32, attempt: u32) {
        let now = q.now();
        if self.stats.in_flight() >= MAX_IN_FLIGHT {
            self.stop_reason = Some(format!(
                "{MAX_IN_FLIGHT} requests were in the system at {now}: the architecture cannot keep up (memory guard)"
            ));
            return;
        }
        if self.edge.is_some() {
            return self.edge_enter(q, user);
        }
        self.stats.request_entered(now, self.stats.measuring(now));
        let key = self.draw_key().unwrap_or(u32::MAX);
        self.enter_origin(q, user, key, u32::MAX, u32::MAX, attempt);
    }

    /// Whether requests carry a query key (there is a response cache).
    pub(super) fn has_keys(&self) -> bool {
        self.keys.is_some()
    }

    /// A query key by popularity, when requests carry one.
    pub(super) fn draw_key(&mut self) -> Option<u32> {
        self.keys.as_mut().map(|(keys, rng)| keys.draw(rng))
    }

    /// A request for `key` reaches the origin's load balancer: sent by
    /// `user`, or by CDN forward request `edge` (`u32::MAX`: none) from
    /// edge node `peer` (its address, for a limit by remote address).
    pub(super) fn enter_origin(
        &mut self,
        q: &mut EventQueue<Event>,
        user: u32,
        key: u32,
        edge: u32,
        peer: u32,
        attempt: u32,
    ) {
        let now = q.now();
        let server = self.balancer.pick();
        // The kernel hands the connection to one of the server's workers.
        let worker = self.balancer.pick_worker(self.workers);
        let unit = server * self.workers + worker;
        let counted = self.stats.measuring(now);
        let mut request = Request::new(now, unit, server, counted);
        (request.user, request.key, request.edge, request.attempt) = (user, key, edge, attempt);
        if let Some((users, rng)) = self.clients.as_mut() {
            request.client = if edge != u32::MAX && self.limit_by_peer { peer } else { users.draw(rng) };
        }
        let id = self.insert_request(request);
        self.stats.origin_arrived += u64::from(counted);
        if edge == u32::MAX {
            self.client_waits(q, id);
        }
        if self.collecting(unit as usize) {
            return self.hold(unit as usize, Some(id), Event::Accept(id));
        }
        self.accept(q, id);
    }

    /// The worker takes the request's connection: into a slot, or its queue.
    fn accept(&mut self, q: &mut EventQueue<Event>, id: ReqId) {
        let u = &mut self.units[self.requests.get(id).unit as usize];
        if u.busy < u.limit {
            u.busy += 1;
            self.admit(q, id);
        } else {
            u.queue.push_back(id);
        }
    }

    /// The request has a worker slot: its process parses it first.
    fn admit(&mut self, q: &mut EventQueue<Event>, id: ReqId) {
        let unit = self.requests.get(id).unit as usize;
        let cpu = self.parse_cpu(unit);
        self.compute(q, id, cpu, AfterCpu::Parsed);
    }

    /// The request is parsed: a response-cache hit is answered at once;
    /// otherwise it goes on to the data cache.
    pub(super) fn admit_parsed(&mut self, q: &mut EventQueue<Event>, id: ReqId) {
        let now = q.now();
        let req = *self.requests.get(id);
        let store = match self.shared_limits.as_mut() {
            Some(shared) => Some(shared),
            None => self.units[req.unit as usize].limits.as_mut(),
        };
        if let Some(store) = store
            && !store.hit(req.client, now)
        {
            self.requests.get_mut(id).key = u32::MAX;
            return self.finish(q, id, Err(Cause::TooManyRequests));
        }
        if let Some(responses) = self.units[req.unit as usize].responses.as_mut() {
            let hit = responses.lookup(req.key, now);
            if req.counted {
                self.stats.response_lookups += 1;
                self.stats.response_hits += u64::from(hit.is_some());
            }
            if let Some(version) = hit {
                // The stored response is already bytes: nothing to serialise.
                let req = self.requests.get_mut(id);
                (req.key, req.encoded) = (u32::MAX, true);
                self.serve(now, id, version);
                return self.finish(q, id, Ok(()));
            }
        }
        self.reach_cache(q, id);
    }

    /// A server restarts: its workers come back with empty local and
    /// response caches (requests already past the cache carry on; waiters
    /// keep waiting for the fetch in flight).
    fn on_restart(&mut self, server: u32) {
        let w = self.workers as usize;
        for unit in server as usize * w..(server as usize + 1) * w {
            self.empty_caches(unit);
            self.memory_changed(unit);
        }
    }

    /// Process `unit` forgets what its local and response caches held.
    pub(super) fn empty_caches(&mut self, unit: usize) {
        let u = &mut self.units[unit];
        // Its Redis connections end with it.
        let closed = u.redis_clients.end();
        if let Some(r) = self.redis.as_mut() {
            r.close_connections(closed.into());
        }
        if let Some(cache) = u.cache.as_mut() {
            cache.expires_at = None;
        }
        if let Some(responses) = u.responses.as_mut() {
            responses.clear();
        }
    }

    /// Request `id`'s response is through the link: it has left, unless the
    /// OOM killer ended its process meanwhile (its body went with it).
    fn on_sent(&mut self, q: &mut EventQueue<Event>, id: ReqId) {
        let req = *self.requests.get(id);
        if !req.killed {
            self.body_sent(req.unit as usize);
        }
        self.finish(q, id, Ok(()));
    }

    /// Stores a new request, its phase clock started at its arrival.
    pub(super) fn insert_request(&mut self, request: Request) -> ReqId {
        let clock = PhaseClock::new(request.arrived, Phase::Queue);
        let id = self.requests.insert(request);
        let i = id as usize;
        if i == self.clocks.len() {
            self.clocks.push(clock);
        } else {
            self.clocks[i] = clock;
        }
        id
    }

    /// Hints that request `id` and its phase clock are read soon: the next
    /// job of a busy event loop belongs to a request untouched since it
    /// queued, seconds of simulated time (and many cache misses) ago.
    pub(super) fn prefetch_request(&self, id: ReqId) {
        self.requests.prefetch(id);
        self.clocks.prefetch(id as usize);
    }

    /// The phase request `id` is in.
    pub(super) fn phase_of(&self, id: ReqId) -> Phase {
        self.clocks[id as usize].phase()
    }

    /// From now on, request `id` is in `phase` (see `metrics::breakdown`).
    #[inline]
    pub(super) fn phase(&mut self, now: SimTime, id: ReqId, phase: Phase) {
        self.clocks[id as usize].enter(now, phase);
    }

    /// The endpoint runs: its CPU on the event loop, then its waiting.
    pub(super) fn start_handler(&mut self, q: &mut EventQueue<Event>, id: ReqId) {
        self.phase(q.now(), id, Phase::Handler);
        let unit = self.requests.get(id).unit as usize;
        let cpu = self.handler_cpu(unit);
        self.compute(q, id, cpu, AfterCpu::HandlerWait);
    }

    /// The handler's CPU is done: it waits (`handler.wait`).
    pub(super) fn handler_wait(&mut self, q: &mut EventQueue<Event>, id: ReqId) {
        self.phase(q.now(), id, Phase::Handler);
        let unit = self.requests.get(id).unit as usize;
        let d = self.handler.sample(&mut self.units[unit].handler_rng);
        q.schedule_in(d, Event::HandlerDone(id));
    }

    /// Whether a fault window (the backend or Redis down or slow) overlaps
    /// `[from, to]`.
    pub(super) fn fault_during(&self, from: SimTime, to: SimTime) -> bool {
        self.backend.fault_during(from, to) || self.redis.as_ref().is_some_and(|r| r.outage_during(from, to))
    }

    /// The request leaves: record it, free its slot for the next in line,
    /// and free its slab entry.
    pub(super) fn finish(&mut self, q: &mut EventQueue<Event>, id: ReqId, outcome: Result<(), Cause>) {
        let now = q.now();
        // The steps before the last read a few fields: the whole request is
        // copied once, when it leaves.
        let r = self.requests.get(id);
        let outcome = if r.killed { Err(Cause::OomKilled) } else { outcome };
        let client = r.background == Background::No;
        // A response is serialised on the event loop before it leaves.
        if outcome.is_ok() && !r.encoded && self.cpu.encode_response > 0 && client {
            self.requests.get_mut(id).encoded = true;
            let work = SimDuration(self.cpu.encode_response);
            return self.compute(q, id, work, AfterCpu::Responded);
        }
        // Then it leaves on the server's link, its body held till then.
        if outcome.is_ok() && !r.sent && client && !self.links.is_empty() {
            let (server, unit) = (r.server as usize, r.unit as usize);
            self.requests.get_mut(id).sent = true;
            let measured = self.stats.measuring(now);
            let done = self.links[server].transfer(now, self.response_bytes, Direction::Out, measured);
            self.phase(now, id, Phase::Link);
            self.body_held(now, unit);
            q.schedule_at(done, Event::Sent(id));
            return;
        }
        let req = *self.requests.get(id);
        debug_assert!(now >= req.arrived, "a request finished before it arrived");
        if let Some(timer) = req.client_timer {
            q.cancel(timer);
        }
        if req.edge == u32::MAX {
            // Nobody receives the answer to an abandoned request.
            let seen = if req.abandoned { Err(Cause::ClientTimeout) } else { outcome };
            let mut period = req.period;
            if self.fault_during(req.arrived, now) {
                period.mark(Period::Fault);
            }
            self.stats.process.delayed_by_gc(req.counted && req.gc_delayed);
            self.stats.request_left(
                now,
                req.counted,
                now.since(req.arrived),
                seen,
                (self.clocks[id as usize].spent(now), period),
            );
        }
        self.stats.process.cpu_of_request(req.counted, client, outcome.is_ok(), req.cpu_ns);
        self.requests.remove(id);
        self.spans.leave(req.span, &mut self.stats);
        self.balancer.closed(req.server);
        if outcome.is_ok()
            && req.key != u32::MAX
            && let Some(responses) = self.units[req.unit as usize].responses.as_mut()
        {
            responses.store(req.key, now, req.version);
            self.memory_grew(now, req.unit as usize);
        }
        if req.edge != u32::MAX {
            self.origin_answered(q, req.edge, outcome.map(|()| req.version));
        }
        if req.user != u32::MAX {
            self.user_thinks(q, req.user);
        }
        let u = &mut self.units[req.unit as usize];
        match u.queue.pop_front() {
            // Through the queue rather than a direct call, so that a chain of
            // requests failing at once cannot grow the stack.
            Some(next) => {
                q.schedule_in(SimDuration::ZERO, Event::SlotFree(next));
            }
            None => u.busy -= 1,
        }
        if req.background == Background::No {
            self.count_finished(q, req.unit as usize);
        }
    }
}

impl Model for World {
    type Event = Event;

    #[inline]
    fn handle(&mut self, q: &mut EventQueue<Event>, event: Event) {
        if self.gc.is_some()
            && let Some((unit, id)) = self.woken(&event)
            && self.collecting(unit)
        {
            return self.hold(unit, id, event);
        }
        match event {
            Event::Arrival => self.on_arrival(q),
            Event::FetchDone(id) => self.on_fetch_done(q, id),
            Event::RetryFetch(id) => self.retry_fetch(q, id),
            Event::HandlerDone(id) => self.on_handler_done(q, id),
            Event::QueryDone(id) => self.on_query_done(q, id),
            Event::PoolTimeout(id) => self.on_pool_timeout(q, id),
            Event::SlotFree(id) => self.admit(q, id),
            Event::BackgroundRefresh(unit) => self.on_background_refresh(q, unit as usize),
            Event::RedisArrive(id) => self.on_redis_arrive(q, id),
            Event::RedisReply(id) => self.on_redis_reply(q, id),
            Event::LockRetry(id) => self.on_lock_retry(q, id),
            Event::Restart(server) => self.on_restart(server),
            Event::RedisFlush => {
                if let Some(r) = self.redis.as_mut() {
                    r.flush();
                }
            }
            Event::UserRequest(user) => self.enter(q, user),
            Event::EdgeForward(id) => self.on_edge_forward(q, id),
            Event::EdgeBack(id) => self.on_edge_back(q, id),
            Event::EdgeReply(id) => self.on_edge_reply(q, id),
            Event::BouncerTimeout(id) => self.on_bouncer_timeout(q, id),
            Event::LeaseRetry(id) => self.reach_cache(q, id),
            Event::SharedLeaseRetry(id) => self.on_shared_lease_retry(q, id),
            Event::SharedRefreshDue => self.on_shared_refresh_due(q),
            Event::ClientTimeout(id) => self.on_client_timeout(q, id),
            Event::ClientRetry(attempt) => self.on_client_retry(q, attempt),
            Event::CpuDone(unit) => self.on_cpu_done(q, unit as usize),
            Event::GcDue(unit) => self.on_gc_due(q, unit as usize),
            Event::Accept(id) => self.accept(q, id),
            Event::ConnectDone(id) => self.on_connect_done(q, id),
            Event::PoolWake(id) => self.on_pool_wake(q, id),
            Event::Sent(id) => self.on_sent(q, id),
            Event::Received(id) => self.fetch_arrived(q, id),
            Event::ServerConnected(node) => self.on_server_connected(q, node as usize),
        }
    }

    fn stopped(&self) -> bool {
        self.stop_reason.is_some()
    }

    fn tag(event: &Event) -> u64 {
        let (kind, id) = match *event {
            Event::Arrival => (0, 0),
            Event::FetchDone(id) => (1, id),
            Event::RetryFetch(id) => (2, id),
            Event::HandlerDone(id) => (3, id),
            Event::QueryDone(id) => (4, id),
            Event::PoolTimeout(id) => (5, id),
            Event::SlotFree(id) => (6, id),
            Event::BackgroundRefresh(u) => (7, u),
            Event::RedisArrive(id) => (9, id),
            Event::RedisReply(id) => (10, id),
            Event::LockRetry(id) => (11, id),
            Event::Restart(s) => (12, s),
            Event::UserRequest(u) => (13, u),
            Event::EdgeForward(f) => (14, f),
            Event::EdgeBack(f) => (15, f),
            Event::EdgeReply(c) => (16, c),
            Event::BouncerTimeout(id) => (17, id),
            Event::LeaseRetry(id) => (18, id),
            Event::SharedLeaseRetry(id) => (19, id),
            Event::SharedRefreshDue => (20, 0),
            Event::ClientTimeout(id) => (21, id),
            Event::ClientRetry(k) => (22, k),
            Event::CpuDone(u) => (23, u),
            Event::GcDue(u) => (24, u),
            Event::Accept(id) => (25, id),
            Event::ConnectDone(id) => (26, id),
            Event::PoolWake(id) => (27, id),
            Event::RedisFlush => (28, 0),
            Event::Sent(id) => (29, id),
            Event::Received(id) => (30, id),
            Event::ServerConnected(node) => (31, node),
        };
        (kind << 32) | u64::from(id)
    }
}
