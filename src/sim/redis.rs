//! The shared Redis: one entry (the dataset) with a TTL, one lock key, a
//! single command thread that serves commands in arrival order, and outage
//! windows. Commands are applied when they reach Redis.

use crate::config::{GiveUp, Redis, WhenDown};
use crate::engine::{SimDuration, SimRng, SimTime};

use super::sampler::Sampler;

/// Redis as the simulation sees it.
pub struct RedisState {
    rtt: Sampler,
    rtt_rng: SimRng,
    command: Sampler,
    command_rng: SimRng,
    ttl: SimDuration,
    /// (expiry, version) of the shared entry.
    entry: Option<(SimTime, u64)>,
    /// (token, lease end) of the lock key.
    lock: Option<(u64, SimTime)>,
    pub lease: Option<SimDuration>,
    pub sleep: SimDuration,
    pub blocking_timeout: Option<SimDuration>,
    pub on_give_up: GiveUp,
    pub has_lock: bool,
    /// The lock holder reads the entry again before fetching.
    pub recheck: bool,
    busy_until: SimTime,
    outages: Vec<(SimTime, SimTime)>,
    pub when_down: WhenDown,
    next_token: u64,
    /// Backend fetches since a GET found the entry missing, while open.
    pub open_expiry: Option<u64>,
    pub gets: u64,
    pub hits: u64,
    pub commands: u64,
    pub lock_not_owned: u64,
    pub peak_wait: SimDuration,
}

impl RedisState {
    /// Redis as a model describes it.
    pub fn new(spec: &Redis, rtt_rng: SimRng, command_rng: SimRng) -> RedisState {
        let lock = spec.lock.as_ref();
        RedisState {
            rtt: Sampler::new(&spec.rtt),
            rtt_rng,
            command: Sampler::new(&spec.command_time),
            command_rng,
            ttl: spec.ttl.0,
            entry: None,
            lock: None,
            lease: lock.and_then(|l| l.timeout.map(|d| d.0)),
            sleep: lock.map_or(SimDuration::ZERO, |l| l.sleep.0),
            blocking_timeout: lock.and_then(|l| l.blocking_timeout.map(|d| d.0)),
            on_give_up: lock.map_or(GiveUp::Fail, |l| l.on_give_up),
            has_lock: lock.is_some(),
            recheck: lock.is_some_and(|l| l.recheck),
            busy_until: SimTime::ZERO,
            outages: spec.outages.iter().map(|w| (SimTime(w.from.nanos()), SimTime(w.to.nanos()))).collect(),
            when_down: spec.when_down,
            next_token: 1,
            open_expiry: None,
            gets: 0,
            hits: 0,
            commands: 0,
            lock_not_owned: 0,
            peak_wait: SimDuration::ZERO,
        }
    }

    /// Whether Redis is unreachable at `now`.
    pub fn is_down(&self, now: SimTime) -> bool {
        self.outages.iter().any(|&(a, b)| a <= now && now < b)
    }

    /// Half a round trip: the way there or back.
    pub fn half_rtt(&mut self) -> SimDuration {
        SimDuration(self.rtt.sample(&mut self.rtt_rng).0 / 2)
    }

    /// A command reaching Redis at `now` is executed after those before it:
    /// returns when it completes.
    pub fn execute_at(&mut self, now: SimTime) -> SimTime {
        self.commands += 1;
        let start = now.max(self.busy_until);
        self.peak_wait = self.peak_wait.max(start.since(now));
        self.busy_until = start.after(self.command.sample(&mut self.command_rng));
        self.busy_until
    }

    /// GET: the entry's version if fresh at `now`.
    pub fn get(&mut self, now: SimTime) -> Option<u64> {
        self.gets += 1;
        let hit = self.entry.filter(|&(exp, _)| now < exp).map(|(_, v)| v);
        if hit.is_some() {
            self.hits += 1;
        }
        hit
    }

    /// SETEX: stores `version` for one TTL; returns the fetches counted in
    /// the expiry span this closes, if one was open.
    pub fn set(&mut self, now: SimTime, version: u64) -> Option<u64> {
        self.entry = Some((now.after(self.ttl), version));
        self.open_expiry.take()
    }

    /// SET lock NX PX lease: a token if taken.
    pub fn try_lock(&mut self, now: SimTime) -> Option<u64> {
        let free = self.lock.is_none_or(|(_, until)| now >= until);
        free.then(|| {
            let token = self.next_token;
            self.next_token += 1;
            let until = self.lease.map_or(SimTime::MAX, |l| now.after(l));
            self.lock = Some((token, until));
            token
        })
    }

    /// The Lua check-and-delete of `release()`: false if the lease ran out
    /// and the key is gone or someone else's (LockNotOwnedError).
    pub fn release(&mut self, now: SimTime, token: u64) -> bool {
        match self.lock {
            Some((t, until)) if t == token && now < until => {
                self.lock = None;
                true
            }
            _ => {
                self.lock_not_owned += 1;
                false
            }
        }
    }
}
