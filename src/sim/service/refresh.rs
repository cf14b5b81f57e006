//! What a request does at the cache, by refresh policy, and the fetches
//! that fill it: the request's own, or a background one.
//!
//! | policy | fresh | expired |
//! |---|---|---|
//! | `None` | hit | own fetch (the stampede) |
//! | `SingleFlight` | hit | lock, or wait for the holder's fetch |
//! | `XFetch` | hit, or (with probability exp(−t/(βΔ))) own early fetch | own fetch, or lock/wait with `lock` |
//! | `StaleWhileRevalidate` | hit | within the window: stale hit + one background fetch; past it: lock/wait |
//! | `Background` | hit (a timer refreshes ahead of expiry) | lock/wait |
//! | `Lease` | hit | take the lease and fetch, or (token out) retry shortly / stale hit |

use rand::RngExt;

use crate::config::{Refresh, Snapshot};
use crate::engine::{EventQueue, SimDuration};
use crate::metrics::{Cause, Period, Phase};

use crate::sim::data::backend::Attempt;
use crate::sim::process::{AfterCpu, Direction};
use crate::sim::request::{Background, ReqId};
use crate::sim::world::{Event, World};

impl World {
    /// Whether the policy serializes fetches with the lock.
    fn locks(&self) -> bool {
        match self.refresh {
            Refresh::None | Refresh::Lease { .. } => false,
            Refresh::XFetch { lock, .. } => lock,
            Refresh::SingleFlight | Refresh::StaleWhileRevalidate { .. } | Refresh::Background { .. } => true,
        }
    }

    /// The request has a worker slot and looks at the cache.
    pub(in crate::sim) fn reach_cache(&mut self, q: &mut EventQueue<Event>, id: ReqId) {
        let now = q.now();
        let req = *self.requests.get(id);
        let unit = req.unit as usize;
        let locks = self.locks();
        let Some(cache) = self.units[unit].cache.as_mut() else {
            return self.begin_fetch(q, id);
        };
        let fresh = cache.is_fresh(now);
        if fresh {
            let early = match self.refresh {
                Refresh::XFetch { beta, lock } if !(lock && cache.lock_held) => {
                    // Vattani et al.: recompute if now − Δ·β·ln(U) ≥ expiry.
                    let u = 1.0 - self.early_rng.random::<f64>();
                    let expiry = cache.expires_at.expect("fresh").as_secs_f64();
                    now.as_secs_f64() - cache.last_fetch.as_secs_f64() * beta * u.ln() >= expiry
                }
                _ => false,
            };
            if !early {
                cache.touched(now);
                let version = cache.version;
                if req.counted {
                    if req.lease_waited {
                        self.stats.coalesced += 1;
                    } else {
                        self.stats.hits += 1;
                    }
                }
                self.serve(now, id, version);
                return self.start_handler(q, id);
            }
            if locks {
                cache.lock_held = true;
            }
            self.stats.early_recomputes += u64::from(req.counted);
            self.requests.get_mut(id).period.mark(Period::AfterExpiry);
            self.join_local_expiry(unit, id);
            return self.begin_fetch(q, id);
        }
        if !req.lease_waited {
            self.stats.cache_missed(now, req.counted);
        }
        let met = if cache.expires_at.is_none() { Period::ColdStart } else { Period::AfterExpiry };
        self.requests.get_mut(id).period.mark(met);
        if let Refresh::StaleWhileRevalidate { window } = self.refresh
            && cache.expires_at.is_some_and(|e| now < e.after(window.0))
        {
            let (version, refreshing) = (cache.version, cache.lock_held);
            if req.counted {
                self.stats.stale_served += 1;
            }
            self.serve(now, id, version);
            if !refreshing {
                self.start_background(q, unit);
            }
            return self.start_handler(q, id);
        }
        if let Refresh::Lease { interval, retry, stale } = self.refresh {
            let outstanding = cache.lease.is_some_and(|(_, at)| now < at.after(interval.0));
            if !outstanding {
                cache.last_token += 1;
                let token = cache.last_token;
                cache.lease = Some((token, now));
                self.requests.get_mut(id).lease = token;
                self.join_local_expiry(unit, id);
                return self.begin_fetch(q, id);
            }
            if stale && cache.expires_at.is_some() {
                let version = cache.version;
                self.stats.stale_served += u64::from(req.counted);
                self.serve(now, id, version);
                return self.start_handler(q, id);
            }
            self.requests.get_mut(id).lease_waited = true;
            self.phase(now, id, Phase::LockWait);
            q.schedule_in(retry.0, Event::LeaseRetry(id));
            return;
        }
        if !locks {
            self.join_local_expiry(unit, id);
            return self.begin_fetch(q, id);
        }
        if cache.lock_held {
            cache.waiters.push_back(id);
            self.phase(now, id, Phase::LockWait);
        } else {
            cache.lock_held = true;
            self.join_local_expiry(unit, id);
            self.begin_fetch(q, id);
        }
    }

    /// Request `id` fetches because `unit`'s entry expired (or is due): it
    /// joins the cache's expiry span, opening one if none is open. With
    /// Redis, expiries are counted at Redis instead (its backend fetches).
    pub(in crate::sim) fn join_local_expiry(&mut self, unit: usize, id: ReqId) {
        if self.redis.is_some() {
            return;
        }
        if let Some(cache) = self.units[unit].cache.as_mut() {
            let span = *cache.open_expiry.get_or_insert_with(|| self.spans.open());
            self.spans.enter(&mut self.requests.get_mut(id).span, span);
        }
    }

    /// Records what request `id` is served: data of `version`, at `now`.
    /// Behind a CDN the client's staleness is measured at the edge instead.
    pub(in crate::sim) fn serve(&mut self, now: crate::engine::SimTime, id: ReqId, version: u64) {
        let req = self.requests.get_mut(id);
        req.version = version;
        let (counted, edge) = (req.counted, req.edge);
        if edge == u32::MAX {
            let staleness = self.versions.staleness(version, now);
            self.stats.served(counted, staleness);
        }
    }

    /// Gets the data for the request: from Redis if there is one, else from
    /// the backend; a failure at once fails it.
    fn begin_fetch(&mut self, q: &mut EventQueue<Event>, id: ReqId) {
        if let Err(cause) = self.obtain(q, id) {
            self.fetch_failed(q, id, cause);
        }
    }

    /// Starts getting the data; `Err` if that failed at once.
    pub(in crate::sim) fn obtain(&mut self, q: &mut EventQueue<Event>, id: ReqId) -> Result<(), Cause> {
        self.requests.get_mut(id).fetch_started = q.now();
        if self.redis.is_some() { self.redis_get(q, id) } else { self.start_backend_fetch(q, id) }
    }

    /// Starts a backend fetch for the request (counted in Redis's expiry
    /// span when there is Redis).
    pub(in crate::sim) fn start_backend_fetch(&mut self, q: &mut EventQueue<Event>, id: ReqId) -> Result<(), Cause> {
        let req = self.requests.get_mut(id);
        (req.retries, req.fetch_started) = (0, q.now());
        self.phase(q.now(), id, Phase::Fetch);
        self.send_fetch(q, id)
    }

    pub(in crate::sim) fn retry_fetch(&mut self, q: &mut EventQueue<Event>, id: ReqId) {
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
        self.stats.fetch_attempt(now, matches!(outcome, Attempt::Sent(_)), !self.backend.last_attempt_down);
        match outcome {
            Attempt::Sent(_) => self.spans.reached(req.span),
            _ => self.spans.refused(req.span),
        }
        match outcome {
            Attempt::Sent(latency) => {
                if self.backend.snapshot == Snapshot::AtStart {
                    self.requests.get_mut(id).version = self.versions.current(now);
                }
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
            Attempt::Unavailable => Err(Cause::BackendUnavailable),
        }
    }

    /// Stores `version`, obtained after `took`, in `unit`'s cache.
    pub(in crate::sim) fn fill_with(
        &mut self,
        now: crate::engine::SimTime,
        unit: usize,
        version: u64,
        took: SimDuration,
    ) {
        if let Some(cache) = self.units[unit].cache.as_mut() {
            if let Some(span) = cache.fill(now, version, took) {
                self.spans.close(span, self.stats.measuring(now), &mut self.stats);
            }
            self.stats.fill(now);
            self.stats.cache_filled(unit, version, now);
            self.memory_grew(now, unit);
        }
    }

    pub(in crate::sim) fn on_fetch_done(&mut self, q: &mut EventQueue<Event>, id: ReqId) {
        let now = q.now();
        self.stats.fetch_done(now);
        if self.backend.snapshot == Snapshot::AtEnd {
            self.requests.get_mut(id).version = self.versions.current(now);
        }
        // The payload arrives over the server's link.
        if !self.links.is_empty() {
            let server = self.requests.get(id).server as usize;
            let measured = self.stats.measuring(now);
            let done = self.links[server].transfer(now, self.payload_bytes, Direction::In, measured);
            q.schedule_at(done, Event::Received(id));
            return;
        }
        self.fetch_arrived(q, id);
    }

    /// The fetched payload is at the worker.
    pub(in crate::sim) fn fetch_arrived(&mut self, q: &mut EventQueue<Event>, id: ReqId) {
        // The worker parses the payload on its event loop before using it.
        let work = SimDuration(self.cpu.decode);
        self.compute(q, id, work, AfterCpu::Fetched);
    }

    /// The fetched payload is parsed: store it (in Redis, or in the
    /// worker's cache) and serve it.
    pub(in crate::sim) fn fetch_decoded(&mut self, q: &mut EventQueue<Event>, id: ReqId) {
        let now = q.now();
        let version = self.requests.get(id).version;
        if self.redis.is_some() {
            return self.redis_store(q, id, version);
        }
        let took = now.since(self.requests.get(id).fetch_started);
        self.obtained(q, id, version, took);
    }

    /// The request has the data (`version`, after `took`): fill its worker's
    /// cache, serve it, and let the cache's waiters go.
    pub(in crate::sim) fn obtained(&mut self, q: &mut EventQueue<Event>, id: ReqId, version: u64, took: SimDuration) {
        let now = q.now();
        let req = *self.requests.get(id);
        if req.background != Background::No {
            return self.background_obtained(q, id, version, took);
        }
        let unit = req.unit as usize;
        if self.lease_allows_fill(unit, req.lease) {
            self.fill_with(now, unit, version, took);
        }
        self.serve(now, id, version);
        self.start_handler(q, id);
        if self.locks() && self.units[unit].cache.is_some() {
            self.schedule_background_refresh_of(q, unit);
            self.release_lock(q, unit);
        }
    }

    /// `Lease`: a fill is kept only under the key's current token, which it
    /// then returns. Other policies always fill.
    fn lease_allows_fill(&mut self, unit: usize, token: u64) -> bool {
        if !matches!(self.refresh, Refresh::Lease { .. }) {
            return true;
        }
        self.units[unit].cache.as_mut().is_none_or(|c| c.return_lease(token))
    }

    /// A lock waiter that gave up is served the worker's expired entry.
    pub(in crate::sim) fn served_stale_after_wait(&mut self, q: &mut EventQueue<Event>, id: ReqId, version: u64) {
        let now = q.now();
        let req = *self.requests.get(id);
        if req.background != Background::No {
            return self.background_failed(q, id);
        }
        self.serve(now, id, version);
        self.start_handler(q, id);
        if self.locks() && self.units[req.unit as usize].cache.is_some() {
            self.release_lock(q, req.unit as usize);
        }
    }

    pub(in crate::sim) fn fetch_failed(&mut self, q: &mut EventQueue<Event>, id: ReqId, cause: Cause) {
        let req = *self.requests.get(id);
        let unit = req.unit as usize;
        self.release_redis_lock_at_once(q, id);
        if req.background != Background::No {
            return self.background_failed(q, id);
        }
        // A local lease holder whose fetch failed gives its token back.
        if let Some(cache) = self.units[unit].cache.as_mut() {
            cache.return_lease(req.lease);
        }
        self.finish(q, id, Err(cause));
        if self.locks() && self.units[unit].cache.is_some() {
            self.release_lock(q, unit);
        }
    }

    /// A Redis lock holder whose fetch failed lets the lock go, as
    /// redis-py's `finally: lock.release()` does (applied at once: the
    /// request does not wait for it).
    fn release_redis_lock_at_once(&mut self, q: &mut EventQueue<Event>, id: ReqId) {
        if let (Some(token), Some(redis)) = (self.requests.get_mut(id).lock_token.take(), self.redis.as_mut()) {
            redis.release(q.now(), token);
        }
    }

    /// The lock holder is done: waiters acquire it in FIFO order at this same
    /// instant; each re-checks the cache (the double check). All are released
    /// at once after a fill; after a failed fetch the first becomes the holder
    /// and tries its own fetch.
    pub(in crate::sim) fn release_lock(&mut self, q: &mut EventQueue<Event>, unit: usize) {
        let now = q.now();
        loop {
            let cache = self.units[unit].cache.as_mut().expect("a lock needs a cache");
            cache.lock_held = false;
            let Some(next) = cache.waiters.pop_front() else { return };
            if cache.is_fresh(now) {
                let version = cache.version;
                let counted = self.requests.get(next).counted;
                if counted {
                    self.stats.coalesced += 1;
                }
                self.serve(now, next, version);
                self.start_handler(q, next);
                continue;
            }
            cache.lock_held = true;
            self.join_local_expiry(unit, next);
            match self.obtain(q, next) {
                Ok(()) => return,
                // Refused at once: this waiter fails and the lock passes on.
                Err(cause) => self.finish(q, next, Err(cause)),
            }
        }
    }
}
