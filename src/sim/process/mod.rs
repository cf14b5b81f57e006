//! The server process: each worker's event loop runs the CPU pieces of its
//! requests one at a time, and a server's processes share its cores.
//!
//! A request's way through its loop: it asks for `work` of CPU with
//! [`World::compute`]; the piece waits in the loop's ready queue (the loop
//! lag), runs, and then the request carries on where it was (`AfterCpu`).
//! A piece of zero CPU never waits, so that models without CPU costs run
//! exactly as before.

mod cores;
mod event_loop;
mod gc;
mod link;
mod memory;

pub use cores::Cores;
pub use event_loop::{AfterCpu, EventLoop, Job, Running};
pub use gc::{Collector, GcPolicy, NO_REQ};
pub use link::{Direction, Link};
pub use memory::MemoryState;

use crate::config::{ModelSpec, is_zero};
use crate::engine::{EventQueue, SimDuration};
use crate::metrics::Phase;

use crate::sim::request::ReqId;
use crate::sim::sampler::Sampler;
use crate::sim::world::{Event, World};

/// What each step of a request costs its process's CPU.
pub struct CpuCosts {
    /// Parsing and routing each request (`servers.parse`).
    pub parse: Option<Sampler>,
    /// The handler's CPU (`servers.handler.cpu`).
    pub handler: Option<Sampler>,
    /// Parsing a fetched or Redis-read payload, nanoseconds.
    pub decode: u64,
    /// Serialising the payload for a Redis write, nanoseconds.
    pub encode_payload: u64,
    /// Serialising a response, nanoseconds.
    pub encode_response: u64,
}

impl CpuCosts {
    pub fn new(spec: &ModelSpec) -> CpuCosts {
        let s = &spec.servers;
        let (dumps, loads) = s.json.rates();
        let nanos = |bytes: u64, rate: f64| (bytes as f64 / rate * 1e9).round() as u64;
        let payload = spec.backend.payload_bytes;
        let sampler = |l: &crate::config::Latency| (!is_zero(l)).then(|| Sampler::new(l));
        CpuCosts {
            parse: sampler(&s.parse),
            handler: sampler(&s.handler.cpu),
            decode: nanos(payload, loads),
            encode_payload: nanos(payload, dumps),
            encode_response: nanos(s.response_bytes.unwrap_or(payload), dumps),
        }
    }
}

impl World {
    /// Request `id` needs `work` of CPU on its process's loop, then goes on
    /// with `then`.
    pub(in crate::sim) fn compute(&mut self, q: &mut EventQueue<Event>, id: ReqId, work: SimDuration, then: AfterCpu) {
        if work.0 == 0 {
            return self.after_cpu(q, id, then);
        }
        let now = q.now();
        let unit = self.requests.get(id).unit as usize;
        let job = Job { req: id, work: work.0, then, ready: now, resume: self.phase_of(id) };
        let lp = &mut self.units[unit].cpu;
        if lp.running.is_none() && (lp.held_by == Some(id) || (lp.held_by.is_none() && lp.ready.is_empty())) {
            lp.held_by = None;
            self.start_job(q, unit, job);
        } else {
            lp.ready.push_back(job);
            self.phase(now, id, Phase::LoopWait);
        }
    }

    /// Puts `job` on the CPU of `unit`'s loop.
    fn start_job(&mut self, q: &mut EventQueue<Event>, unit: usize, job: Job) {
        let now = q.now();
        if job.req == NO_REQ {
            self.units[unit].collector.running = true;
        } else {
            let counted = self.requests.get(job.req).counted;
            self.stats.process.loop_lag(counted, now.since(job.ready));
            self.phase(now, job.req, Phase::Cpu);
        }
        let mut running = Running { job, remaining: job.work, key: None, started: now };
        if self.cores.is_empty() {
            q.schedule_in(SimDuration(job.work), Event::CpuDone(unit as u32));
        } else {
            let server = unit / self.workers as usize;
            self.reshare(q, server, 1);
            let cores = &self.cores[server];
            running.key =
                Some(q.schedule_cancellable_in(SimDuration(cores.time_for(job.work)), Event::CpuDone(unit as u32)));
        }
        let lp = &mut self.units[unit].cpu;
        lp.running = Some(running);
        // The next job starts when this one ends.
        if let Some(&Job { req, .. }) = lp.ready.front()
            && req != NO_REQ
        {
            self.prefetch_request(req);
        }
    }

    /// `unit`'s job is done: account for it, let its request go on (in the
    /// same step, so CPU it asks for at once runs next), then start the
    /// next ready job.
    pub(in crate::sim) fn on_cpu_done(&mut self, q: &mut EventQueue<Event>, unit: usize) {
        let now = q.now();
        let window = (self.stats.warmup, self.arrivals_end);
        let lp = &mut self.units[unit].cpu;
        let done = lp.running.take().expect("a CPU completion has a running job");
        lp.add_busy(done.started, now, window);
        if !self.cores.is_empty() {
            self.reshare(q, unit / self.workers as usize, -1);
        }
        if done.job.req == NO_REQ {
            self.collected(q, unit, done.started);
            if let Some(next) = self.units[unit].cpu.ready.pop_front() {
                self.start_job(q, unit, next);
            }
            return;
        }
        self.units[unit].cpu.held_by = Some(done.job.req);
        self.requests.get_mut(done.job.req).cpu_ns += done.job.work;
        self.phase(now, done.job.req, done.job.resume);
        self.after_cpu(q, done.job.req, done.job.then);
        let lp = &mut self.units[unit].cpu;
        lp.held_by = None;
        if lp.running.is_none()
            && let Some(next) = lp.ready.pop_front()
        {
            self.start_job(q, unit, next);
        }
    }

    /// The number of processes computing on `server` changes by `delta`:
    /// bring every running job's remaining work up to now at the old share,
    /// and, if the share changes, move their completions.
    fn reshare(&mut self, q: &mut EventQueue<Event>, server: usize, delta: i32) {
        let now = q.now();
        let workers = self.workers as usize;
        let before = self.cores[server];
        let elapsed = now.since(before.since).0;
        let mut after = before;
        after.active = before.active.checked_add_signed(delta).expect("active processes never go negative");
        after.since = now;
        self.cores[server] = after;
        let rate_changes = before.shared() || after.shared();
        for u in server * workers..(server + 1) * workers {
            let Some(r) = self.units[u].cpu.running.as_mut() else { continue };
            r.remaining = r.remaining.saturating_sub(before.progress(elapsed));
            if rate_changes && let Some(key) = r.key {
                q.cancel(key);
                r.key =
                    Some(q.schedule_cancellable_in(SimDuration(after.time_for(r.remaining)), Event::CpuDone(u as u32)));
            }
        }
    }

    /// What the request does once its CPU piece is done.
    fn after_cpu(&mut self, q: &mut EventQueue<Event>, id: ReqId, then: AfterCpu) {
        match then {
            AfterCpu::Parsed => self.admit_parsed(q, id),
            AfterCpu::HandlerWait => self.handler_wait(q, id),
            AfterCpu::Fetched => self.fetch_decoded(q, id),
            AfterCpu::FromRedis => self.redis_decoded(q, id),
            AfterCpu::ToRedis => self.redis_encoded(q, id),
            AfterCpu::Responded => self.finish(q, id, Ok(())),
            AfterCpu::Collected => unreachable!("a collection carries no request"),
        }
    }

    /// A draw of `servers.parse` for a request on `unit` (zero without one).
    pub(in crate::sim) fn parse_cpu(&mut self, unit: usize) -> SimDuration {
        match self.cpu.parse.as_ref() {
            Some(s) => s.sample(&mut self.units[unit].cpu_rng),
            None => SimDuration::ZERO,
        }
    }

    /// A draw of `servers.handler.cpu` (zero without one).
    pub(in crate::sim) fn handler_cpu(&mut self, unit: usize) -> SimDuration {
        match self.cpu.handler.as_ref() {
            Some(s) => s.sample(&mut self.units[unit].cpu_rng),
            None => SimDuration::ZERO,
        }
    }
}
