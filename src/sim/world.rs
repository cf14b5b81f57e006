//! The request lifecycle, as one event handler over the whole architecture.
//!
//! ```text
//! arrival -> balancer -> server slot (FIFO if at its concurrency)
//!   -> cache: fresh? hit : (None: own fetch | SingleFlight: lock or wait)
//!   -> handler time -> pool checkout (FIFO, timeout) -> query -> done
//! ```

use rand::RngExt;

use crate::config::{Balancer, CacheStart, ModelSpec, Refresh};
use crate::engine::{EventQueue, Model, SimRng, SimTime, stream};
use crate::metrics::{Cause, Recorder};

use super::arrivals::ArrivalStream;
use super::backend::{Attempt, BackendState};
use super::cache::CacheState;
use super::pool::{PoolState, Waiter};
use super::request::{ReqId, Request, Slab};
use super::sampler::Sampler;

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
    /// Server -> queued request: a slot is free (the slot is already its).
    SlotFree(ReqId),
}

/// One server: its concurrency slots, cache and pool.
struct Server {
    busy: u32,
    limit: u32,
    queue: std::collections::VecDeque<ReqId>,
    cache: Option<CacheState>,
    pool: Option<PoolState>,
    handler_rng: SimRng,
    query_rng: SimRng,
}

/// The simulated architecture.
pub struct World {
    servers: Vec<Server>,
    balancer: Balancer,
    balancer_rng: SimRng,
    next_server: u32,
    refresh: Refresh,
    handler: Sampler,
    query: Option<Sampler>,
    backend: BackendState,
    arrivals: ArrivalStream,
    arrivals_end: SimTime,
    requests: Slab,
    pub stats: Recorder,
    /// Set when a guard stops the run: why.
    pub stop_reason: Option<String>,
}

/// The most requests that may be in the system at once: beyond this the run
/// stops (a memory guard; about 100 bytes each).
pub const MAX_IN_FLIGHT: u64 = 5_000_000;

impl World {
    /// Builds the architecture of `spec` for replication `run` of `seed`, and
    /// schedules the first arrival.
    pub fn new(spec: &ModelSpec, seed: u64, run: u64, queue: &mut EventQueue<Event>) -> World {
        let rng = |name: &str| stream(seed, run, name);
        let servers = (0..spec.servers.count.get())
            .map(|i| Server {
                busy: 0,
                limit: spec.servers.concurrency.map_or(u32::MAX, |c| c.get()),
                queue: Default::default(),
                cache: spec.cache.as_ref().map(|c| CacheState::new(c.ttl.0, c.start == CacheStart::Warm)),
                pool: spec.db.as_ref().map(|p| PoolState::new(p.pool_size + p.max_overflow, p.pool_timeout.0)),
                handler_rng: rng(&format!("server[{i}].handler")),
                query_rng: rng(&format!("server[{i}].db")),
            })
            .collect();
        let w = &spec.workload;
        let mut world = World {
            servers,
            balancer: spec.servers.balancer,
            balancer_rng: rng("balancer"),
            next_server: 0,
            refresh: spec.cache.as_ref().map_or(Refresh::None, |c| c.refresh),
            handler: Sampler::new(&spec.servers.handler),
            query: spec.db.as_ref().map(|p| Sampler::new(&p.query)),
            backend: BackendState::new(&spec.backend, rng("backend"), rng("backend.retry")),
            arrivals: ArrivalStream::new(w, rng("arrivals")),
            arrivals_end: SimTime(w.duration.nanos()),
            requests: Slab::default(),
            stats: Recorder::new(SimTime(w.warmup.nanos())),
            stop_reason: None,
        };
        let first = world.arrivals.next_arrival();
        if first <= world.arrivals_end {
            queue.schedule_at(first, Event::Arrival);
        }
        world
    }

    fn on_arrival(&mut self, q: &mut EventQueue<Event>) {
        let now = q.now();
        if self.stats.in_flight() >= MAX_IN_FLIGHT {
            self.stop_reason = Some(format!(
                "{MAX_IN_FLIGHT} requests were in the system at {now}: the architecture cannot keep up (memory guard)"
            ));
            return;
        }
        let next = self.arrivals.next_arrival();
        if next <= self.arrivals_end {
            q.schedule_at(next, Event::Arrival);
        }
        let n = self.servers.len() as u32;
        let server = match self.balancer {
            Balancer::RoundRobin => {
                let s = self.next_server;
                self.next_server = (s + 1) % n;
                s
            }
            Balancer::Random => self.balancer_rng.random_range(0..n),
        };
        let counted = now >= self.stats.warmup;
        let id = self.requests.insert(Request { arrived: now, server, counted, fetch_started: now, retries: 0 });
        self.stats.request_entered(now, counted);
        let s = &mut self.servers[server as usize];
        if s.busy < s.limit {
            s.busy += 1;
            self.reach_cache(q, id);
        } else {
            s.queue.push_back(id);
        }
    }

    /// The request has a server slot and looks at the cache.
    fn reach_cache(&mut self, q: &mut EventQueue<Event>, id: ReqId) {
        let now = q.now();
        let req = *self.requests.get(id);
        let Some(cache) = self.servers[req.server as usize].cache.as_mut() else {
            return self.begin_fetch(q, id);
        };
        if cache.is_fresh(now) {
            if req.counted {
                self.stats.hits += 1;
            }
            return self.start_handler(q, id);
        }
        match self.refresh {
            Refresh::None => {
                cache.fetch_started();
                self.begin_fetch(q, id);
            }
            Refresh::SingleFlight => {
                if cache.lock_held {
                    cache.waiters.push_back(id);
                } else {
                    cache.lock_held = true;
                    cache.fetch_started();
                    self.begin_fetch(q, id);
                }
            }
        }
    }

    /// Starts the request's own fetch; a fetch refused at once fails it.
    fn begin_fetch(&mut self, q: &mut EventQueue<Event>, id: ReqId) {
        let req = self.requests.get_mut(id);
        req.fetch_started = q.now();
        req.retries = 0;
        self.retry_fetch(q, id);
    }

    fn retry_fetch(&mut self, q: &mut EventQueue<Event>, id: ReqId) {
        if let Err(cause) = self.send_fetch(q, id) {
            self.fetch_failed(q, id, cause);
        }
    }

    /// One attempt: sends the call, or schedules a retry, or says why the
    /// fetch failed (the caller decides what failing means).
    fn send_fetch(&mut self, q: &mut EventQueue<Event>, id: ReqId) -> Result<(), Cause> {
        let now = q.now();
        let req = *self.requests.get(id);
        let outcome = self.backend.attempt(now, req.fetch_started, req.retries);
        self.stats.fetch_attempt(now, matches!(outcome, Attempt::Sent(_)));
        match outcome {
            Attempt::Sent(latency) => {
                q.schedule_in(latency, Event::FetchDone(id));
                Ok(())
            }
            Attempt::RetryAfter(sleep) => {
                self.requests.get_mut(id).retries += 1;
                q.schedule_in(sleep, Event::RetryFetch(id));
                Ok(())
            }
            Attempt::Refused => Err(Cause::RateLimited),
            Attempt::DeadlineExceeded => Err(Cause::BackendDeadline),
        }
    }

    fn on_fetch_done(&mut self, q: &mut EventQueue<Event>, id: ReqId) {
        let now = q.now();
        self.stats.fetch_done(now);
        let server = self.requests.get(id).server as usize;
        if let Some(cache) = self.servers[server].cache.as_mut() {
            self.stats.cache_filled(server, now);
            match cache.fill(now) {
                Some(fetches) => self.stats.expiry_closed(now, fetches),
                None => self.stats.refill(now),
            }
        }
        self.start_handler(q, id);
        if self.refresh == Refresh::SingleFlight {
            self.release_lock(q, server);
        }
    }

    fn fetch_failed(&mut self, q: &mut EventQueue<Event>, id: ReqId, cause: Cause) {
        let server = self.requests.get(id).server as usize;
        self.finish(q, id, Err(cause));
        if self.refresh == Refresh::SingleFlight && self.servers[server].cache.is_some() {
            self.release_lock(q, server);
        }
    }

    /// The lock holder is done: waiters acquire it in FIFO order at this same
    /// instant; each re-checks the cache (the double check). All are released
    /// at once after a fill; after a failed fetch the first becomes the holder
    /// and tries its own fetch.
    fn release_lock(&mut self, q: &mut EventQueue<Event>, server: usize) {
        let now = q.now();
        loop {
            let cache = self.servers[server].cache.as_mut().expect("single-flight needs a cache");
            cache.lock_held = false;
            let Some(next) = cache.waiters.pop_front() else { return };
            if cache.is_fresh(now) {
                if self.requests.get(next).counted {
                    self.stats.coalesced += 1;
                }
                self.start_handler(q, next);
                continue;
            }
            cache.lock_held = true;
            cache.fetch_started();
            let req = self.requests.get_mut(next);
            req.fetch_started = now;
            req.retries = 0;
            match self.send_fetch(q, next) {
                Ok(()) => return,
                // Refused at once: this waiter fails and the lock passes on.
                Err(cause) => self.finish(q, next, Err(cause)),
            }
        }
    }

    fn start_handler(&mut self, q: &mut EventQueue<Event>, id: ReqId) {
        let server = self.requests.get(id).server as usize;
        let d = self.handler.sample(&mut self.servers[server].handler_rng);
        q.schedule_in(d, Event::HandlerDone(id));
    }

    fn on_handler_done(&mut self, q: &mut EventQueue<Event>, id: ReqId) {
        let now = q.now();
        let req = *self.requests.get(id);
        let s = &mut self.servers[req.server as usize];
        let Some(pool) = s.pool.as_mut() else {
            return self.finish(q, id, Ok(()));
        };
        if pool.try_checkout() {
            let in_use = u64::from(pool.in_use);
            let d = self.query.as_ref().expect("pool implies query").sample(&mut s.query_rng);
            self.stats.checkout(now, req.counted, crate::engine::SimDuration::ZERO, in_use);
            q.schedule_in(d, Event::QueryDone(id));
        } else if pool.timeout.0 == 0 {
            self.stats.pool_timeout(req.counted);
            self.finish(q, id, Err(Cause::PoolTimeout));
        } else {
            let timeout = Some(q.schedule_in(pool.timeout, Event::PoolTimeout(id)));
            pool.waiters.push_back(Waiter { req: id, since: now, timeout });
        }
    }

    fn on_query_done(&mut self, q: &mut EventQueue<Event>, id: ReqId) {
        let now = q.now();
        let server = self.requests.get(id).server as usize;
        let s = &mut self.servers[server];
        let pool = s.pool.as_mut().expect("query implies pool");
        if let Some(w) = pool.checkin() {
            if let Some(key) = w.timeout {
                q.cancel(key);
            }
            let in_use = u64::from(pool.in_use);
            let d = self.query.as_ref().expect("pool implies query").sample(&mut s.query_rng);
            let counted = self.requests.get(w.req).counted;
            self.stats.checkout(now, counted, now.since(w.since), in_use);
            q.schedule_in(d, Event::QueryDone(w.req));
        }
        self.finish(q, id, Ok(()));
    }

    fn on_pool_timeout(&mut self, q: &mut EventQueue<Event>, id: ReqId) {
        let req = *self.requests.get(id);
        let pool = self.servers[req.server as usize].pool.as_mut().expect("timeout implies pool");
        if pool.remove_waiter(id).is_some() {
            self.stats.pool_timeout(req.counted);
            self.finish(q, id, Err(Cause::PoolTimeout));
        }
    }

    /// The request leaves: record it, free its server slot for the next in
    /// line, and free its slab entry.
    fn finish(&mut self, q: &mut EventQueue<Event>, id: ReqId, outcome: Result<(), Cause>) {
        let now = q.now();
        let req = *self.requests.get(id);
        debug_assert!(now >= req.arrived, "a request finished before it arrived");
        self.stats.request_left(now, req.counted, outcome.map(|()| now.since(req.arrived)));
        self.requests.remove(id);
        let s = &mut self.servers[req.server as usize];
        match s.queue.pop_front() {
            // Through the queue rather than a direct call, so that a chain of
            // requests failing at once cannot grow the stack.
            Some(next) => {
                q.schedule_in(crate::engine::SimDuration::ZERO, Event::SlotFree(next));
            }
            None => s.busy -= 1,
        }
    }
}

impl Model for World {
    type Event = Event;

    #[inline]
    fn handle(&mut self, q: &mut EventQueue<Event>, event: Event) {
        match event {
            Event::Arrival => self.on_arrival(q),
            Event::FetchDone(id) => self.on_fetch_done(q, id),
            Event::RetryFetch(id) => self.retry_fetch(q, id),
            Event::SlotFree(id) => self.reach_cache(q, id),
            Event::HandlerDone(id) => self.on_handler_done(q, id),
            Event::QueryDone(id) => self.on_query_done(q, id),
            Event::PoolTimeout(id) => self.on_pool_timeout(q, id),
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
        };
        (kind << 32) | u64::from(id)
    }
}
