//! The `limits` library's strategies, per user key.
//!
//! - Fixed window (MemoryStorage.incr): a key's counter starts with its
//!   first hit and expires `per` later; every hit counts, and a hit passes
//!   while the count is at most the limit.
//! - Moving window: a hit passes if fewer than `limit` passed in the
//!   trailing `per`.

use std::collections::{HashMap, VecDeque};

use crate::config::LimitStrategy;
use crate::engine::{SimDuration, SimTime};

/// Counters of one store (a worker's memory, or a shared store).
pub struct LimitStore {
    strategy: LimitStrategy,
    limit: u32,
    per: SimDuration,
    /// Fixed window: key -> (count, window end).
    fixed: HashMap<u32, (u64, SimTime)>,
    /// Moving window: key -> times of the hits that passed.
    moving: HashMap<u32, VecDeque<SimTime>>,
}

impl LimitStore {
    /// Empty counters.
    pub fn new(strategy: LimitStrategy, limit: u32, per: SimDuration) -> LimitStore {
        LimitStore { strategy, limit, per, fixed: HashMap::new(), moving: HashMap::new() }
    }

    /// A hit by `user` at `now`: whether it passes.
    pub fn hit(&mut self, user: u32, now: SimTime) -> bool {
        match self.strategy {
            LimitStrategy::FixedWindow => {
                let e = self.fixed.entry(user).or_insert((0, SimTime::ZERO));
                if now >= e.1 {
                    *e = (0, now.after(self.per));
                }
                // Counted in u64: more hits in one window than a u32 holds
                // stay refused, never wrap back under the limit.
                e.0 += 1;
                e.0 <= u64::from(self.limit)
            }
            LimitStrategy::MovingWindow => {
                let hits = self.moving.entry(user).or_default();
                while hits.front().is_some_and(|&t| now.since(t) >= self.per) {
                    hits.pop_front();
                }
                let pass = (hits.len() as u32) < self.limit;
                if pass {
                    hits.push_back(now);
                }
                pass
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(ms: u64) -> SimTime {
        SimTime(ms * 1_000_000)
    }

    /// "10/minute" with a fixed window from the first hit: one hit at 0,
    /// nine at 59.9 s, ten at 60.0–60.1 s: twenty pass within 0.2 s. The
    /// moving window lets through only ten of those twenty.
    #[test]
    fn a_fixed_window_admits_twice_the_limit_across_its_end() {
        let sequence: Vec<SimTime> = std::iter::once(s(0))
            .chain((0..9).map(|i| s(59_900 + i)))
            .chain((0..10).map(|i| s(60_000 + 10 * i)))
            .collect();
        let mut fixed = LimitStore::new(LimitStrategy::FixedWindow, 10, SimDuration::from_secs(60));
        let passed: Vec<bool> = sequence.iter().map(|&t| fixed.hit(7, t)).collect();
        assert!(passed.iter().all(|&p| p), "the fixed window passes all 20");
        let mut moving = LimitStore::new(LimitStrategy::MovingWindow, 10, SimDuration::from_secs(60));
        let passed = sequence.iter().filter(|&&t| moving.hit(7, t)).count();
        // 10 by 59.9 s; at 60.0 s the hit from 0 s leaves the window: one more.
        assert_eq!(passed, 11);
        // Another user has counters of its own.
        assert!(fixed.hit(8, s(60_050)));
    }
}
