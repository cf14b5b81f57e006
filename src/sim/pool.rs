//! A SQLAlchemy QueuePool: at most `pool_size + max_overflow` connections
//! checked out; further checkouts wait FIFO until a connection is returned or
//! `pool_timeout` passes.

use std::collections::VecDeque;

use crate::engine::{EventKey, SimDuration, SimTime};

use super::request::ReqId;

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
    Connection,
    /// Every connection the pool may have is in use.
    Wait,
    /// A new connection was needed and the database refused it
    /// ("FATAL: sorry, too many clients already").
    Refused,
}

impl PoolState {
    /// An empty pool. Loading a model bounds `pool_size + max_overflow` to
    /// `config::MAX_POOL_CONNECTIONS`; a spec built in code that skips that
    /// check gets a pool of at most `u32::MAX` (unlimited), never a wrapped one.
    pub fn new(pool_size: u32, max_overflow: u32, timeout: SimDuration) -> PoolState {
        PoolState {
            capacity: pool_size.saturating_add(max_overflow),
            pool_size,
            timeout,
            in_use: 0,
            open: 0,
            waiters: VecDeque::new(),
        }
    }

    /// Takes an idle connection, or opens one if the pool may.
    #[inline]
    pub fn checkout(&mut self, db: &mut DbServer) -> Checkout {
        if self.open > self.in_use {
            self.in_use += 1;
            Checkout::Connection
        } else if self.open < self.capacity {
            if !db.try_open() {
                return Checkout::Refused;
            }
            self.open += 1;
            self.in_use += 1;
            Checkout::Connection
        } else {
            Checkout::Wait
        }
    }

    /// Returns a connection: hands it to the first waiter, if any (the
    /// connection stays in use), else makes it idle, closing it if more
    /// than `pool_size` would be idle.
    pub fn checkin(&mut self, db: &mut DbServer) -> Option<Waiter> {
        let next = self.waiters.pop_front();
        if next.is_none() {
            self.in_use -= 1;
            if self.open - self.in_use > self.pool_size {
                self.open -= 1;
                db.open -= 1;
            }
        }
        next
    }

    /// Removes a waiter whose timeout fired. Waiters time out in FIFO order
    /// (one timeout for all), so this is almost always the front.
    pub fn remove_waiter(&mut self, req: ReqId) -> Option<Waiter> {
        let i = self.waiters.iter().position(|w| w.req == req)?;
        self.waiters.remove(i)
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
        let mut pool = PoolState::new(2, 2, SimDuration::ZERO);
        assert_eq!(pool.checkout(&mut db), Checkout::Connection);
        assert_eq!(pool.checkout(&mut db), Checkout::Connection);
        assert_eq!(pool.checkout(&mut db), Checkout::Connection);
        // The fourth needs a fourth database slot: refused.
        assert_eq!(pool.checkout(&mut db), Checkout::Refused);
        assert_eq!((pool.open, db.open), (3, 3));
        for _ in 0..3 {
            assert!(pool.checkin(&mut db).is_none());
        }
        // Back to pool_size idle connections; the overflow one is closed.
        assert_eq!((pool.open, pool.in_use, db.open, db.peak), (2, 0, 2, 3));
        // Idle connections are reused without opening.
        assert_eq!(pool.checkout(&mut db), Checkout::Connection);
        assert_eq!(db.open, 2);
        let mut full = PoolState::new(1, 0, SimDuration::ZERO);
        assert_eq!(full.checkout(&mut db), Checkout::Connection);
        assert_eq!(full.checkout(&mut db), Checkout::Wait);
    }
}
