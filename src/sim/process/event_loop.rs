//! One worker process's asyncio event loop: CPU work runs one piece at a
//! time, in the order it became ready (asyncio's ready queue is FIFO), while
//! awaits overlap. Only CPU goes through here; waiting never does.

use std::collections::VecDeque;

use crate::engine::{EventKey, SimTime};
use crate::metrics::Phase;

use crate::sim::request::ReqId;

/// What a request does once its piece of CPU is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterCpu {
    /// The request is parsed and routed: on to the endpoint.
    Parsed,
    /// The handler's CPU is done: now it waits (`handler.wait`).
    HandlerWait,
    /// The fetched payload is parsed: fill the caches and serve it.
    Fetched,
    /// The payload read from Redis is parsed.
    FromRedis,
    /// The payload is serialised for Redis: send the SET.
    ToRedis,
    /// The response is serialised: it leaves.
    Responded,
    /// A garbage collection's pause is over.
    Collected,
}

/// A piece of CPU work for one request.
#[derive(Debug, Clone, Copy)]
pub struct Job {
    pub req: ReqId,
    /// CPU time it needs at a full core, nanoseconds.
    pub work: u64,
    pub then: AfterCpu,
    /// When it became ready (the loop lag runs from here).
    pub ready: SimTime,
    /// The phase the request returns to afterwards.
    pub resume: Phase,
}

/// The job on the CPU.
#[derive(Debug, Clone, Copy)]
pub struct Running {
    pub job: Job,
    /// Work still to do at a full core, as of the server's last rate change.
    pub remaining: u64,
    /// Its completion event, when core sharing may move it.
    pub key: Option<EventKey>,
    pub started: SimTime,
}

/// The loop's state.
#[derive(Debug, Default)]
pub struct EventLoop {
    pub ready: VecDeque<Job>,
    pub running: Option<Running>,
    /// Set while a finished job's request continues in the same step: CPU it
    /// asks for next runs at once, ahead of the ready queue, as the rest of
    /// a coroutine's step does.
    pub held_by: Option<ReqId>,
    /// CPU busy time inside the measured window, nanoseconds.
    pub busy_ns: u64,
}

impl EventLoop {
    /// Adds the part of `[from, to]` inside `[window.0, window.1]` to the
    /// busy time.
    pub fn add_busy(&mut self, from: SimTime, to: SimTime, window: (SimTime, SimTime)) {
        let (a, b) = (from.max(window.0), to.min(window.1));
        if b > a {
            self.busy_ns += b.since(a).0;
        }
    }
}
