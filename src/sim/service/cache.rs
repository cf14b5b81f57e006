//! One worker's in-memory cache of the dataset, with its refresh lock.
//!
//! The entry is checked lazily: no timer fires at expiry; a request compares
//! the clock with `expires_at` when it reaches the cache, as the Python code
//! does. The TTL clock starts when a fetch completes (or, with `FromAccess`,
//! at every hit).

use std::collections::VecDeque;

use rand::RngExt;

use crate::config::{Cache, CacheStart, TtlFrom};
use crate::engine::{SimDuration, SimRng, SimTime};

use crate::sim::request::ReqId;

/// The cache of one worker process.
#[derive(Debug)]
pub struct CacheState {
    ttl: SimDuration,
    jitter: f64,
    from_access: bool,
    rng: SimRng,
    /// When the entry stops being fresh; `None` while empty.
    pub expires_at: Option<SimTime>,
    /// The data version held.
    pub version: u64,
    /// How long the fetch behind the entry took (XFetch's Δ).
    pub last_fetch: SimDuration,
    /// Whether a request (or the background job) holds the refresh lock.
    pub lock_held: bool,
    /// Requests waiting for the lock, in FIFO order.
    pub waiters: VecDeque<ReqId>,
    /// Fetches started since a request found the entry expired (or decided
    /// to refresh it early), or `None` when no such span is open.
    pub open_expiry: Option<u32>,
    /// `Lease`: the key's outstanding token and when it was issued.
    pub lease: Option<(u64, SimTime)>,
    /// `Lease`: the last token issued.
    pub last_token: u64,
}

impl CacheState {
    /// The cache a model describes; warm caches hold version 0 from time 0,
    /// as if a start-up fetch had taken `warm_fetch` (XFetch's first Δ).
    pub fn new(spec: &Cache, rng: SimRng, warm_fetch: SimDuration) -> CacheState {
        let mut c = CacheState {
            ttl: spec.ttl.0,
            jitter: spec.ttl_jitter,
            from_access: spec.ttl_from == TtlFrom::FromAccess,
            rng,
            expires_at: None,
            version: 0,
            last_fetch: SimDuration::ZERO,
            lock_held: false,
            waiters: VecDeque::new(),
            open_expiry: None,
            lease: None,
            last_token: 0,
        };
        if spec.start == CacheStart::Warm {
            c.last_fetch = warm_fetch;
            let ttl = c.next_ttl();
            c.expires_at = Some(SimTime::ZERO.after(ttl));
        }
        c
    }

    /// The TTL of the next fill, with jitter if configured.
    fn next_ttl(&mut self) -> SimDuration {
        if self.jitter == 0.0 {
            return self.ttl;
        }
        let u: f64 = self.rng.random();
        SimDuration::from_secs_f64(self.ttl.as_secs_f64() * (1.0 - self.jitter + 2.0 * self.jitter * u))
    }

    /// Whether the entry can be served at `now`.
    #[inline]
    pub fn is_fresh(&self, now: SimTime) -> bool {
        self.expires_at.is_some_and(|e| now < e)
    }

    /// A hit: with an expire-after-access TTL, the clock restarts.
    pub fn touched(&mut self, now: SimTime) {
        if self.from_access {
            let ttl = self.next_ttl();
            self.expires_at = Some(now.after(ttl));
        }
    }

    /// `Lease`: gives back the key's token if `token` is still it (tokens
    /// start at 1, so 0 never is); returns whether it was.
    pub fn return_lease(&mut self, token: u64) -> bool {
        let current = self.lease.is_some_and(|(t, _)| t == token);
        if current {
            self.lease = None;
        }
        current
    }

    /// Stores a completed fetch of `version` that took `took`; returns the
    /// expiry span this fill closes, if one was open.
    pub fn fill(&mut self, now: SimTime, version: u64, took: SimDuration) -> Option<u32> {
        let ttl = self.next_ttl();
        self.expires_at = Some(now.after(ttl));
        self.version = version;
        self.last_fetch = took;
        self.open_expiry.take()
    }
}
