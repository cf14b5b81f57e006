//! The shared Redis: one entry (the dataset) with a TTL, one lock key, a
//! single command thread that serves commands in arrival order, and outage
//! windows. Commands are applied when they reach Redis. The refresh policy
//! at the entry (XFetch, stale-while-revalidate, leases) answers each GET
//! with what its reader should do.

use rand::RngExt;

use crate::config::{CacheStart, GiveUp, Redis, SharedRefresh, WhenDown};
use crate::engine::{SimDuration, SimRng, SimTime};

use crate::sim::sampler::Sampler;

/// Redis as the simulation sees it.
pub struct RedisState {
    rtt: Sampler,
    rtt_rng: SimRng,
    /// Opening a connection (`None`: two round trips), and its stream.
    connect: Option<Sampler>,
    connect_rng: SimRng,
    /// Each process's pool's `max_connections`.
    pub max_connections: u32,
    /// Connections open now and at most, all processes together.
    pub connections: u64,
    pub connections_peak: u64,
    command: Sampler,
    command_rng: SimRng,
    ttl: SimDuration,
    jitter: f64,
    jitter_rng: SimRng,
    entry: Option<Entry>,
    pub refresh: SharedRefresh,
    /// Stale-while-revalidate and `Background`: a refresh is under way (until
    /// it SETs, or its refresher reports that it failed).
    refreshing: bool,
    /// Leases: the outstanding token and when it was issued.
    lease_token: Option<(u64, SimTime)>,
    /// (token, lease end) of the lock key.
    lock: Option<(u64, SimTime)>,
    pub lease: Option<SimDuration>,
    pub sleep: SimDuration,
    pub blocking_timeout: Option<SimDuration>,
    pub on_give_up: GiveUp,
    pub has_lock: bool,
    /// The lock holder reads the entry again before fetching.
    pub recheck: bool,
    /// A waiter reads the entry again at its blocking timeout.
    pub recheck_on_give_up: bool,
    busy_until: SimTime,
    outages: Vec<(SimTime, SimTime)>,
    pub when_down: WhenDown,
    next_token: u64,
    /// The expiry span a GET that found the entry missing (or due) opened,
    /// until the SETEX that ends it.
    pub open_expiry: Option<u32>,
    pub gets: u64,
    pub hits: u64,
    pub commands: u64,
    pub lock_not_owned: u64,
    /// Successful SET NX of the lock key.
    pub lock_acquisitions: u64,
    /// Acquisitions while the key still held a holder's token whose lease
    /// had run out (that holder was overtaken).
    pub lease_takeovers: u64,
    /// Backend fetches of waiters that gave up (`on_give_up: FetchAnyway`).
    pub fallback_fetches: u64,
    pub peak_wait: SimDuration,
}

impl RedisState {
    /// Redis as a model describes it.
    pub fn new(
        spec: &Redis,
        rtt_rng: SimRng,
        connect_rng: SimRng,
        command_rng: SimRng,
        jitter_rng: SimRng,
        warm_fetch: SimDuration,
    ) -> RedisState {
        let lock = spec.lock.as_ref();
        let entry = (spec.start == CacheStart::Warm).then_some(Entry {
            expiry: SimTime::ZERO.after(spec.ttl.0),
            version: 0,
            delta: warm_fetch,
        });
        RedisState {
            rtt: Sampler::new(&spec.rtt),
            rtt_rng,
            connect: spec.connect.as_ref().map(Sampler::new),
            connect_rng,
            max_connections: spec.max_connections,
            connections: 0,
            connections_peak: 0,
            command: Sampler::new(&spec.command_time),
            command_rng,
            ttl: spec.ttl.0,
            jitter: spec.ttl_jitter,
            jitter_rng,
            entry,
            refresh: spec.refresh,
            refreshing: false,
            lease_token: None,
            lock: None,
            lease: lock.and_then(|l| l.timeout.map(|d| d.0)),
            sleep: lock.map_or(SimDuration::ZERO, |l| l.sleep.0),
            blocking_timeout: lock.and_then(|l| l.blocking_timeout.map(|d| d.0)),
            on_give_up: lock.map_or(GiveUp::Fail, |l| l.on_give_up),
            has_lock: lock.is_some(),
            recheck: lock.is_some_and(|l| l.recheck),
            recheck_on_give_up: lock.is_some_and(|l| l.recheck_on_give_up),
            busy_until: SimTime::ZERO,
            outages: spec.outages.iter().map(|w| (SimTime(w.from.nanos()), SimTime(w.to.nanos()))).collect(),
            when_down: spec.when_down,
            next_token: 1,
            open_expiry: None,
            gets: 0,
            hits: 0,
            commands: 0,
            lock_not_owned: 0,
            lock_acquisitions: 0,
            lease_takeovers: 0,
            fallback_fetches: 0,
            peak_wait: SimDuration::ZERO,
        }
    }

    /// Whether an outage overlaps `[from, to]`.
    pub fn outage_during(&self, from: SimTime, to: SimTime) -> bool {
        self.outages.iter().any(|&(a, b)| a <= to && from < b)
    }

    /// Whether nothing was ever stored (or the entry was flushed).
    pub fn is_empty(&self) -> bool {
        self.entry.is_none()
    }

    /// Whether Redis is unreachable at `now`.
    pub fn is_down(&self, now: SimTime) -> bool {
        self.outages.iter().any(|&(a, b)| a <= now && now < b)
    }

    /// Half a round trip: the way there or back.
    pub fn half_rtt(&mut self) -> SimDuration {
        SimDuration(self.rtt.sample(&mut self.rtt_rng).0 / 2)
    }

    /// Time to open a new connection; it counts as open from now.
    pub fn open_connection(&mut self) -> SimDuration {
        self.connections += 1;
        self.connections_peak = self.connections_peak.max(self.connections);
        match &self.connect {
            Some(c) => c.sample(&mut self.connect_rng),
            // The TCP handshake, then CLIENT SETINFO LIB-NAME and LIB-VER
            // pipelined in one round trip (their turns on Redis's thread,
            // about 2 × 12 µs, are left out).
            None => {
                let handshake = self.rtt.sample(&mut self.connect_rng);
                handshake.saturating_add(self.rtt.sample(&mut self.connect_rng))
            }
        }
    }

    /// `n` connections closed.
    pub fn close_connections(&mut self, n: u64) {
        self.connections -= n;
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

    /// GET at `now`: what the reader gets and should do. `early_u` is the
    /// reader's uniform draw in (0, 1] for XFetch.
    pub fn get(&mut self, now: SimTime, early_u: f64) -> GetReply {
        self.gets += 1;
        let Some(e) = self.entry else { return self.miss(now, None) };
        if now < e.expiry {
            self.hits += 1;
            let early = match self.refresh {
                SharedRefresh::XFetch { beta } => {
                    now.as_secs_f64() - e.delta.as_secs_f64() * beta * early_u.ln() >= e.expiry.as_secs_f64()
                }
                _ => false,
            };
            let kind = if early { SharedGet::Early } else { SharedGet::Hit };
            return GetReply { kind, version: e.version, token: 0 };
        }
        if let SharedRefresh::StaleWhileRevalidate { window } = self.refresh
            && now < e.expiry.after(window.0)
        {
            let kind = if !self.refreshing {
                self.refreshing = true;
                SharedGet::StaleRefresh
            } else {
                SharedGet::Stale
            };
            return GetReply { kind, version: e.version, token: 0 };
        }
        self.miss(now, Some(e.version))
    }

    /// A GET that found no fresh entry (`stale`: the expired one's version).
    fn miss(&mut self, now: SimTime, stale: Option<u64>) -> GetReply {
        let SharedRefresh::Lease { interval, stale: serve_stale, .. } = self.refresh else {
            return GetReply { kind: SharedGet::Miss, version: 0, token: 0 };
        };
        if self.lease_token.is_none_or(|(_, at)| now >= at.after(interval.0)) {
            let token = self.next_token;
            self.next_token += 1;
            self.lease_token = Some((token, now));
            return GetReply { kind: SharedGet::Token, version: 0, token };
        }
        match stale.filter(|_| serve_stale) {
            Some(version) => GetReply { kind: SharedGet::Stale, version, token: 0 },
            None => GetReply { kind: SharedGet::HotMiss, version: 0, token: 0 },
        }
    }

    /// SETEX: stores `version`, fetched in `delta`, for one (jittered) TTL;
    /// returns the fetches counted in the expiry span this closes, if one was
    /// open. With leases a SET whose `token` is not the key's is dropped
    /// (`None`, the span stays open).
    pub fn set(&mut self, now: SimTime, version: u64, delta: SimDuration, token: u64) -> Option<u32> {
        if matches!(self.refresh, SharedRefresh::Lease { .. }) {
            if self.lease_token.is_none_or(|(t, _)| t != token) {
                return None;
            }
            self.lease_token = None;
        }
        let ttl = if self.jitter == 0.0 {
            self.ttl
        } else {
            let u: f64 = self.jitter_rng.random();
            SimDuration::from_secs_f64(self.ttl.as_secs_f64() * (1.0 - self.jitter + 2.0 * self.jitter * u))
        };
        self.entry = Some(Entry { expiry: now.after(ttl), version, delta });
        self.refreshing = false;
        self.open_expiry.take()
    }

    /// The refresher of a stale-while-revalidate or `Background` refresh
    /// failed: the next reader (or the job's next run) tries again.
    pub fn refresh_failed(&mut self) {
        self.refreshing = false;
    }

    /// When the entry expires, if there is one.
    pub fn expiry(&self) -> Option<SimTime> {
        self.entry.map(|e| e.expiry)
    }

    /// `Background`: whether the job should refresh now (the entry is due and
    /// no refresh is under way); if so, marks the refresh as started.
    pub fn background_due(&mut self, now: SimTime) -> bool {
        let SharedRefresh::Background { ahead } = self.refresh else { return false };
        let due = self.entry.is_none_or(|e| now.after(ahead.0) >= e.expiry);
        if due && !self.refreshing {
            self.refreshing = true;
            true
        } else {
            false
        }
    }

    /// FLUSHALL: every key is gone, the entry, the lock key, a lease's
    /// token and a refresh's mark (see `Redis::flushes`).
    pub fn flush(&mut self) {
        self.entry = None;
        self.lock = None;
        self.lease_token = None;
        self.refreshing = false;
    }

    /// SET lock NX PX lease: a token if taken.
    pub fn try_lock(&mut self, now: SimTime) -> Option<u64> {
        let free = self.lock.is_none_or(|(_, until)| now >= until);
        free.then(|| {
            self.lock_acquisitions += 1;
            self.lease_takeovers += u64::from(self.lock.is_some());
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
            // The lease ran out: the key expired and is gone.
            Some((t, _)) if t == token => {
                self.lock = None;
                self.lock_not_owned += 1;
                false
            }
            _ => {
                self.lock_not_owned += 1;
                false
            }
        }
    }
}

/// The shared entry.
#[derive(Debug, Clone, Copy)]
struct Entry {
    expiry: SimTime,
    version: u64,
    /// How long the fetch behind it took (XFetch's Δ, stored with the value).
    delta: SimDuration,
}

/// What a GET tells its reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SharedGet {
    /// No fresh entry: fetch (under the lock if there is one).
    #[default]
    Miss,
    /// A fresh entry.
    Hit,
    /// A fresh entry, but XFetch says recompute it now.
    Early,
    /// An expired entry to serve (stale-while-revalidate, or a lease's stale value).
    Stale,
    /// An expired entry to serve, and this reader refreshes it in the background.
    StaleRefresh,
    /// No entry, and the lease token: fetch and SET with it.
    Token,
    /// No entry and another reader holds the lease: look again shortly.
    HotMiss,
}

/// A GET's reply.
#[derive(Debug, Clone, Copy)]
pub struct GetReply {
    pub kind: SharedGet,
    pub version: u64,
    /// With `Token`: the lease token.
    pub token: u64,
}
