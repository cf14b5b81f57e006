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
#[derive(Debug)]
pub struct PoolState {
    pub capacity: u32,
    pub timeout: SimDuration,
    pub in_use: u32,
    pub waiters: VecDeque<Waiter>,
}

impl PoolState {
    /// An empty pool of `capacity` connections.
    pub fn new(capacity: u32, timeout: SimDuration) -> PoolState {
        PoolState { capacity, timeout, in_use: 0, waiters: VecDeque::new() }
    }

    /// Takes a connection if one is free.
    #[inline]
    pub fn try_checkout(&mut self) -> bool {
        if self.in_use < self.capacity {
            self.in_use += 1;
            true
        } else {
            false
        }
    }

    /// Returns a connection: hands it to the first waiter, if any (the
    /// connection stays in use), else frees it.
    pub fn checkin(&mut self) -> Option<Waiter> {
        let next = self.waiters.pop_front();
        if next.is_none() {
            self.in_use -= 1;
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
