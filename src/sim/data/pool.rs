//! A SQLAlchemy QueuePool: at most `pool_size + max_overflow` connections
//! checked out; further checkouts wait until a connection is returned or
//! `pool_timeout` passes. The async pool's waiters are an `asyncio.Queue`'s:
//! a returned connection wakes the oldest, which takes it only if no other
//! checkout ran first (docs/models.md, "Pool fairness").

use std::collections::VecDeque;

use crate::engine::{EventKey, SimDuration, SimTime};

use crate::sim::request::ReqId;

/// A waiting checkout: who, since when, and its timeout timer.
#[derive(Debug, Clone, Copy)]
pub struct Waiter {
    pub req: ReqId,
    pub since: SimTime,
    pub timeout: Option<EventKey>,
}

/// One server's pool.
///
/// Like QueuePool it starts empty and opens connections on demand; it keeps
/// at most `pool_size` idle ones open, and closes the others when they come
/// back. Opening one takes a slot of the database's `max_connections`,
/// shared by every pool.
#[derive(Debug)]
pub struct PoolState {
    pub capacity: u32,
    pool_size: u32,
    pub timeout: SimDuration,
    pub in_use: u32,
    /// Connections open (in use or idle).
    pub open: u32,
    pub waiters: VecDeque<Waiter>,
    /// `Barging`: waiters woken for an idle connection, not yet resumed.
    pub woken: Vec<Waiter>,
    /// `Fifo`: hand connections to waiters directly.
    fifo: bool,
}

/// The database's connection slots, shared by every pool of every worker.
#[derive(Debug)]
pub struct DbServer {
    /// Connections that may be open (`max_connections` less the reserved).
    pub limit: u32,
    pub open: u32,
    pub peak: u32,
}

impl DbServer {
    fn try_open(&mut self) -> bool {
        if self.open < self.limit {
            self.open += 1;
            self.peak = self.peak.max(self.open);
            true
        } else {
            false
        }
    }
}

/// What a checkout got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checkout {
    /// An idle connection.
    Connection,
    /// A slot for a new connection, which it must open first.
    Open,
    /// Every connection the pool may have is in use.
    Wait,
    /// A new connection was needed and the database refused it
    /// ("FATAL: sorry, too many clients already").
    Refused,
}

/// What a returned connection does.
#[derive(Debug, Clone, Copy)]
pub enum Returned {
    /// Idle (or closed): nobody waits.
    Idle,
    /// `Fifo`: handed straight to this waiter.
    Handed(Waiter),
    /// `Barging`: idle, and this waiter is woken; it takes the connection
    /// when it resumes, if nobody took it first.
    Woken(Waiter),
}

impl PoolState {
    /// An empty pool. Loading a model bounds `pool_size + max_overflow` to
    /// `config::MAX_POOL_CONNECTIONS`; a spec built in code that skips that
    /// check gets a pool of at most `u32::MAX` (unlimited), never a wrapped one.
    pub fn new(pool_size: u32, max_overflow: u32, timeout: SimDuration, fifo: bool) -> PoolState {
        PoolState {
            capacity: pool_size.saturating_add(max_overflow),
            pool_size,
            timeout,
            in_use: 0,
            open: 0,
            waiters: VecDeque::new(),
            woken: Vec::new(),
            fifo,
        }
    }

    /// Takes an idle connection, or a slot to open one if the pool may
    /// (SQLAlchemy's `_do_get`: a caller never waits while fewer than
    /// `pool_size + max_overflow` are open).
    #[inline]
    pub fn checkout(&mut self, db: &mut DbServer) -> Checkout {
        if self.open > self.in_use {
            self.in_use += 1;
            Checkout::Connection
        } else {
            self.open_new(db).unwrap_or(Checkout::Wait)
        }
    }

    /// A slot for a new connection, if the pool may open one (`None`: it
    /// is full).
    pub fn open_new(&mut self, db: &mut DbServer) -> Option<Checkout> {
        if self.open >= self.capacity {
            return None;
        }
        if !db.try_open() {
            return Some(Checkout::Refused);
        }
        self.open += 1;
        self.in_use += 1;
        Some(Checkout::Open)
    }

    /// Returns a connection. With waiters it goes to the first (`Fifo`) or
    /// wakes it (`Barging`); else it is idle, or closed if more than
    /// `pool_size` would be idle.
    pub fn checkin(&mut self, db: &mut DbServer) -> Returned {
        if let Some(w) = self.waiters.pop_front() {
            if self.fifo {
                return Returned::Handed(w);
            }
            self.in_use -= 1;
            self.woken.push(w);
            return Returned::Woken(w);
        }
        self.in_use -= 1;
        if self.open - self.in_use > self.pool_size {
            self.open -= 1;
            db.open -= 1;
        }
        Returned::Idle
    }

    /// A woken waiter resumes: the connection if one is still idle (the
    /// waiter, for its wait and timeout), else it waits again at the back.
    pub fn resume(&mut self, req: ReqId) -> Option<Waiter> {
        let i = self.woken.iter().position(|w| w.req == req)?;
        let w = self.woken.swap_remove(i);
        if self.open > self.in_use {
            self.in_use += 1;
            Some(w)
        } else {
            self.waiters.push_back(w);
            None
        }
    }

    /// Removes a waiter whose timeout fired, parked or woken; a woken one
    /// passes its wake-up on to the next waiter (asyncio.Queue.get does) if
    /// a connection is idle. Returns the waiter, and whom to wake.
    pub fn remove_waiter(&mut self, req: ReqId) -> (Option<Waiter>, Option<Waiter>) {
        if let Some(i) = self.waiters.iter().position(|w| w.req == req) {
            return (self.waiters.remove(i), None);
        }
        let Some(i) = self.woken.iter().position(|w| w.req == req) else { return (None, None) };
        let gone = self.woken.swap_remove(i);
        let next = match self.open > self.in_use + self.woken.len() as u32 {
            true => self.waiters.pop_front(),
            false => None,
        };
        if let Some(w) = next {
            self.woken.push(w);
        }
        (Some(gone), next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// QueuePool: opens on demand up to size + overflow, keeps at most
    /// `pool_size` idle, and the database's limit applies to opening only.
    #[test]
    fn opens_on_demand_and_closes_overflow_on_return() {
        let mut db = DbServer { limit: 3, open: 0, peak: 0 };
        let mut pool = PoolState::new(2, 2, SimDuration::ZERO, false);
        assert_eq!(pool.checkout(&mut db), Checkout::Open);
        assert_eq!(pool.checkout(&mut db), Checkout::Open);
        assert_eq!(pool.checkout(&mut db), Checkout::Open);
        // The fourth needs a fourth database slot: refused.
        assert_eq!(pool.checkout(&mut db), Checkout::Refused);
        assert_eq!((pool.open, db.open), (3, 3));
        for _ in 0..3 {
            assert!(matches!(pool.checkin(&mut db), Returned::Idle));
        }
        // Back to pool_size idle connections; the overflow one is closed.
        assert_eq!((pool.open, pool.in_use, db.open, db.peak), (2, 0, 2, 3));
        // Idle connections are reused without opening.
        assert_eq!(pool.checkout(&mut db), Checkout::Connection);
        assert_eq!(db.open, 2);
        let mut full = PoolState::new(1, 0, SimDuration::ZERO, false);
        assert_eq!(full.checkout(&mut db), Checkout::Open);
        assert_eq!(full.checkout(&mut db), Checkout::Wait);
    }

    /// Barging: a returned connection wakes the first waiter, but a
    /// checkout before it resumes takes the connection, and the waiter
    /// queues again behind the others.
    #[test]
    fn a_woken_waiter_loses_to_a_checkout_that_runs_first_and_requeues_at_the_back() {
        let mut db = DbServer { limit: 10, open: 0, peak: 0 };
        let mut pool = PoolState::new(1, 0, SimDuration::ZERO, false);
        assert_eq!(pool.checkout(&mut db), Checkout::Open);
        for req in [1, 2] {
            assert_eq!(pool.checkout(&mut db), Checkout::Wait);
            pool.waiters.push_back(Waiter { req, since: SimTime::ZERO, timeout: None });
        }
        assert!(matches!(pool.checkin(&mut db), Returned::Woken(w) if w.req == 1));
        assert_eq!(pool.checkout(&mut db), Checkout::Connection, "the newcomer barges");
        assert!(pool.resume(1).is_none());
        assert_eq!(pool.waiters.iter().map(|w| w.req).collect::<Vec<_>>(), [2, 1]);
        let mut fifo = PoolState::new(1, 0, SimDuration::ZERO, true);
        assert_eq!(fifo.checkout(&mut db), Checkout::Open);
        fifo.waiters.push_back(Waiter { req: 1, since: SimTime::ZERO, timeout: None });
        assert!(matches!(fifo.checkin(&mut db), Returned::Handed(w) if w.req == 1));
    }
}
