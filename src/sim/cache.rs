//! One server's in-memory cache of the dataset, with its refresh lock.
//!
//! The entry is checked lazily: no timer fires at expiry; a request compares
//! the clock with `expires_at` when it reaches the cache, as the Python code
//! does. The TTL clock starts when a fetch completes.

use std::collections::VecDeque;

use crate::engine::{SimDuration, SimTime};

use super::request::ReqId;

/// The cache of one server.
#[derive(Debug)]
pub struct CacheState {
    pub ttl: SimDuration,
    /// When the entry stops being fresh; `None` while empty.
    pub expires_at: Option<SimTime>,
    /// Single-flight: whether a request holds the refresh lock.
    pub lock_held: bool,
    /// Single-flight: requests waiting for the lock, in FIFO order.
    pub waiters: VecDeque<ReqId>,
    /// Fetches started since a request found the entry expired, or `None`
    /// when no expiry is open.
    pub open_expiry: Option<u64>,
}

impl CacheState {
    /// An empty cache, or one filled at time zero if `warm`.
    pub fn new(ttl: SimDuration, warm: bool) -> CacheState {
        CacheState {
            ttl,
            expires_at: warm.then(|| SimTime::ZERO.after(ttl)),
            lock_held: false,
            waiters: VecDeque::new(),
            open_expiry: None,
        }
    }

    /// Whether the entry can be served at `now`.
    #[inline]
    pub fn is_fresh(&self, now: SimTime) -> bool {
        self.expires_at.is_some_and(|e| now < e)
    }

    /// Counts a fetch started because the entry was found expired.
    pub fn fetch_started(&mut self) {
        *self.open_expiry.get_or_insert(0) += 1;
    }

    /// Stores a completed fetch; returns the fetch count of the expiry span
    /// this fill closes, if one was open.
    pub fn fill(&mut self, now: SimTime) -> Option<u64> {
        self.expires_at = Some(now.after(self.ttl));
        self.open_expiry.take()
    }
}
