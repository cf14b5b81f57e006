//! Garbage-collection pauses: a full CPython collection stops its
//! process's event loop, so every request of that process is held at the
//! same moment, a correlated tail (DOMAIN.md E).
//!
//! A pause is a piece of CPU that runs next on the loop (a collection
//! starts inside whatever Python code allocates, and cannot start during
//! another). While it runs, everything that would wake a request of that
//! process (a reply, a timer, a new connection) waits, and is let go in its
//! original order when the pause ends.

use crate::config::{Gc, GcEvery};
use crate::engine::{EventQueue, SimDuration, SimRng, SimTime};
use crate::metrics::Phase;

use super::{AfterCpu, Job};
use crate::sim::request::ReqId;
use crate::sim::sampler::Sampler;
use crate::sim::world::{Event, World};

/// The request id a collection's piece of CPU carries: none.
pub const NO_REQ: ReqId = u32::MAX;

/// The collector's settings, as the simulation uses them.
pub struct GcPolicy {
    pub every: GcEvery,
    pub pause: Sampler,
}

impl GcPolicy {
    pub fn new(gc: &Gc) -> GcPolicy {
        GcPolicy { every: gc.every, pause: Sampler::new(&gc.pause) }
    }
}

/// One process's collector state.
#[derive(Debug, Default)]
pub struct Collector {
    /// A collection is queued or running (at most one at a time).
    pub pending: bool,
    /// A collection is running: the loop is stopped.
    pub running: bool,
    /// What arrived for the process's requests meanwhile, in order.
    pub held: Vec<Event>,
    /// Requests the process finished (for `Requests(N)`).
    pub finished: u64,
}

impl World {
    /// Schedules each process's first interval collection, the processes
    /// out of phase (uniform within the first interval).
    pub(in crate::sim) fn schedule_first_collections(&mut self, q: &mut EventQueue<Event>) {
        let Some(GcEvery::Interval(every)) = self.gc.as_ref().map(|g| g.every) else { return };
        for unit in 0..self.units.len() {
            let offset = (every.nanos() as f64 * uniform(&mut self.units[unit].gc_rng)) as u64;
            self.schedule_collection(q, unit, SimTime(offset));
        }
    }

    fn schedule_collection(&mut self, q: &mut EventQueue<Event>, unit: usize, at: SimTime) {
        if at <= self.arrivals_end {
            q.schedule_at(at, Event::GcDue(unit as u32));
        }
    }

    /// An interval collection is due on `unit`.
    pub(in crate::sim) fn on_gc_due(&mut self, q: &mut EventQueue<Event>, unit: usize) {
        if let Some(GcEvery::Interval(every)) = self.gc.as_ref().map(|g| g.every) {
            let next = q.now().after(SimDuration(every.nanos()));
            self.schedule_collection(q, unit, next);
        }
        self.collect(q, unit);
    }

    /// `unit` finished a request: with `Requests(N)`, every N-th starts a
    /// collection.
    pub(in crate::sim) fn count_finished(&mut self, q: &mut EventQueue<Event>, unit: usize) {
        let Some(GcEvery::Requests(n)) = self.gc.as_ref().map(|g| g.every) else { return };
        let c = &mut self.units[unit].collector;
        c.finished += 1;
        if c.finished.is_multiple_of(u64::from(n)) {
            self.collect(q, unit);
        }
    }

    /// Starts a collection on `unit`'s loop now, or next if the loop is
    /// computing (none if one is already queued or running).
    fn collect(&mut self, q: &mut EventQueue<Event>, unit: usize) {
        if self.units[unit].collector.pending {
            return;
        }
        let u = &mut self.units[unit];
        let pause = self.gc.as_ref().expect("a collector").pause.sample(&mut u.gc_rng);
        u.collector.pending = true;
        let job =
            Job { req: NO_REQ, work: pause.0.max(1), then: AfterCpu::Collected, ready: q.now(), resume: Phase::Queue };
        if u.cpu.running.is_none() {
            self.start_job(q, unit, job);
        } else {
            u.cpu.ready.push_front(job);
        }
    }

    /// Whether `unit`'s loop is stopped by a collection.
    #[inline]
    pub(in crate::sim) fn collecting(&self, unit: usize) -> bool {
        self.gc.is_some() && self.units[unit].collector.running
    }

    /// Holds `event` of request `id` (if any) until `unit`'s collection ends.
    pub(in crate::sim) fn hold(&mut self, unit: usize, id: Option<ReqId>, event: Event) {
        if let Some(id) = id {
            self.requests.get_mut(id).gc_delayed = true;
        }
        self.units[unit].collector.held.push(event);
    }

    /// `unit`'s collection ended after `took`: count it, and let go what it held.
    pub(in crate::sim) fn collected(&mut self, q: &mut EventQueue<Event>, unit: usize, started: SimTime) {
        let now = q.now();
        let c = &mut self.units[unit].collector;
        (c.pending, c.running) = (false, false);
        let measuring = started >= self.stats.warmup && started <= self.arrivals_end;
        self.stats.process.collection(measuring, now.since(started));
        for event in std::mem::take(&mut self.units[unit].collector.held) {
            q.schedule_in(SimDuration::ZERO, event);
        }
    }

    /// The process `event` wakes, and the request it is for, if the event
    /// belongs to a request's life on a worker (replies, its timers);
    /// `None` for the client's, Redis's, PgBouncer's and the CDN's own
    /// events, which no collection on a worker stops.
    pub(in crate::sim) fn woken(&self, event: &Event) -> Option<(usize, Option<ReqId>)> {
        let id = match *event {
            Event::FetchDone(id)
            | Event::RetryFetch(id)
            | Event::HandlerDone(id)
            | Event::QueryDone(id)
            | Event::PoolTimeout(id)
            | Event::SlotFree(id)
            | Event::RedisReply(id)
            | Event::LockRetry(id)
            | Event::LeaseRetry(id)
            | Event::SharedLeaseRetry(id)
            | Event::Accept(id)
            | Event::ConnectDone(id)
            | Event::PoolWake(id) => id,
            Event::BackgroundRefresh(unit) => return Some((unit as usize, None)),
            _ => return None,
        };
        Some((self.requests.get(id).unit as usize, Some(id)))
    }
}

/// A uniform draw in [0, 1).
fn uniform(rng: &mut SimRng) -> f64 {
    use rand::RngExt;
    rng.random::<f64>()
}
