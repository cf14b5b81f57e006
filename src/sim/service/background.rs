//! Refreshes that no client waits for: stale-while-revalidate's one
//! background fetch (of a worker's cache, or of the Redis entry), and
//! `Background`'s timer ahead of expiry.
//!
//! A refresh is a request of its own, not a client's (it is in no request
//! statistic), that takes a client's way to the data: through Redis when
//! there is one (with its lock), retried under the backend's policy. It holds
//! the cache's refresh lock while it runs; when it fails, the waiters fetch
//! themselves.

use crate::config::{Refresh, SharedRefresh};
use crate::engine::{EventQueue, SimDuration, SimTime};

use crate::sim::request::{Background, ReqId, Request};
use crate::sim::world::{Event, World};

/// How long the Redis refresh job waits after a failed refresh.
const JOB_RETRY: SimDuration = SimDuration::from_secs(1);

impl World {
    /// Starts a refresh of `unit`'s cache.
    pub(in crate::sim) fn start_background(&mut self, q: &mut EventQueue<Event>, unit: usize) {
        let now = q.now();
        let server = unit as u32 / self.workers;
        let mut r = Request::new(now, unit as u32, server, false);
        r.background = Background::Local;
        let id = self.insert_request(r);
        let cache = self.units[unit].cache.as_mut().expect("background refresh needs a cache");
        cache.lock_held = true;
        self.join_local_expiry(unit, id);
        if self.obtain(q, id).is_err() {
            self.background_failed(q, id);
        }
    }

    /// Starts a refresh of the Redis entry, from `unit` (whose reader Redis
    /// told to refresh it): straight to the backend, then SETEX.
    pub(in crate::sim) fn start_shared_refresh(&mut self, q: &mut EventQueue<Event>, unit: u32) {
        let now = q.now();
        let mut r = Request::new(now, unit, unit / self.workers, false);
        r.background = Background::Shared;
        let id = self.insert_request(r);
        // The reader that saw the entry due sent it: same expiry.
        if let Some(span) = self.redis.as_ref().and_then(|r| r.open_expiry) {
            self.spans.enter(&mut self.requests.get_mut(id).span, span);
        }
        if self.start_backend_fetch(q, id).is_err() {
            self.background_failed(q, id);
        }
    }

    /// The refresh has the data: fill, plan the next one, let waiters go.
    pub(in crate::sim) fn background_obtained(
        &mut self,
        q: &mut EventQueue<Event>,
        id: ReqId,
        version: u64,
        took: SimDuration,
    ) {
        let req = *self.requests.get(id);
        let unit = req.unit as usize;
        self.requests.remove(id);
        self.spans.leave(req.span, &mut self.stats);
        if req.background == Background::Shared {
            return;
        }
        self.fill_with(q.now(), unit, version, took);
        self.schedule_background_refresh_of(q, unit);
        self.release_lock(q, unit);
    }

    /// The refresh failed (or gave up on the Redis lock): the cache keeps its
    /// entry, and waiters fetch themselves.
    pub(in crate::sim) fn background_failed(&mut self, q: &mut EventQueue<Event>, id: ReqId) {
        let req = *self.requests.get(id);
        let unit = req.unit as usize;
        self.requests.remove(id);
        self.spans.leave(req.span, &mut self.stats);
        if req.background == Background::Shared {
            // A later reader tries again, or the job after a pause.
            let redis = self.redis.as_mut().expect("a Redis refresh needs Redis");
            redis.refresh_failed();
            if matches!(redis.refresh, SharedRefresh::Background { .. }) {
                q.schedule_in(JOB_RETRY, Event::SharedRefreshDue);
            }
            return;
        }
        self.release_lock(q, unit);
    }

    /// For `Background`: the refresh timers of every warm cache at start.
    pub(in crate::sim) fn schedule_background_refresh(&mut self, q: &mut EventQueue<Event>) {
        for unit in 0..self.units.len() {
            self.schedule_background_refresh_of(q, unit);
        }
    }

    /// For `Background`: refresh `unit` `ahead` of its entry's expiry.
    pub(in crate::sim) fn schedule_background_refresh_of(&mut self, q: &mut EventQueue<Event>, unit: usize) {
        if let Refresh::Background { ahead } = self.refresh
            && let Some(expires) = self.units[unit].cache.as_ref().and_then(|c| c.expires_at)
        {
            let at = SimTime(expires.0.saturating_sub(ahead.nanos()));
            q.schedule_at(at, Event::BackgroundRefresh(unit as u32));
        }
    }

    pub(in crate::sim) fn on_background_refresh(&mut self, q: &mut EventQueue<Event>, unit: usize) {
        let now = q.now();
        let Refresh::Background { ahead } = self.refresh else { return };
        let Some(cache) = self.units[unit].cache.as_ref() else { return };
        // A timer made obsolete by a later fill, or a refresh under way.
        let due = cache.expires_at.is_some_and(|e| now.after(ahead.0) >= e);
        // The job stops with the workload: refreshes past it would only
        // stretch the drain.
        if due && !cache.lock_held && now <= self.arrivals_end {
            self.start_background(q, unit);
        }
    }

    /// For Redis's `Background`: the job's next run, `ahead` of the shared
    /// entry's expiry (at once when the entry is empty).
    pub(in crate::sim) fn schedule_shared_refresh(&mut self, q: &mut EventQueue<Event>) {
        if let Some(redis) = self.redis.as_ref()
            && let SharedRefresh::Background { ahead } = redis.refresh
        {
            let at = redis.expiry().map_or(q.now(), |e| SimTime(e.0.saturating_sub(ahead.nanos())));
            q.schedule_at(at.max(q.now()), Event::SharedRefreshDue);
        }
    }

    pub(in crate::sim) fn on_shared_refresh_due(&mut self, q: &mut EventQueue<Event>) {
        let now = q.now();
        let due = self.redis.as_mut().is_some_and(|r| r.background_due(now));
        if due && now <= self.arrivals_end {
            self.start_shared_refresh(q, 0);
        }
    }
}
