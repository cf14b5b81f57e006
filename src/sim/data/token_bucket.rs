//! A token bucket in exact integer arithmetic, so that "admits rate·t + burst
//! over a span t" holds to the token, without float drift.

use crate::engine::SimTime;

/// Sub-units per token: rates resolve to 0.001 token/s.
const SCALE: u128 = 1_000_000_000_000;

/// `rate` tokens per second, at most `burst` stored; full at the start.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    /// Sub-units added per nanosecond (= tokens/s × 1000).
    per_ns: u128,
    capacity: u128,
    level: u128,
    last: SimTime,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate_per_sec: f64, burst: u32) -> TokenBucket {
        let per_ns = ((rate_per_sec * 1000.0).round() as u128).max(1);
        let capacity = u128::from(burst) * SCALE;
        TokenBucket { per_ns, capacity, level: capacity, last: SimTime::ZERO }
    }

    /// Takes one token at `now` if there is one.
    #[inline]
    pub fn try_take(&mut self, now: SimTime) -> bool {
        let elapsed = u128::from(now.0.saturating_sub(self.last.0));
        self.level = (self.level + elapsed * self.per_ns).min(self.capacity);
        self.last = now;
        if self.level >= SCALE {
            self.level -= SCALE;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bucket_gives_its_burst_then_refills_at_rate() {
        let mut b = TokenBucket::new(10.0, 10);
        let now = SimTime(0);
        assert_eq!((0..25).filter(|_| b.try_take(now)).count(), 10);
        // 100 ms later, exactly one more.
        assert!(b.try_take(SimTime(100_000_000)));
        assert!(!b.try_take(SimTime(100_000_000)));
        assert!(!b.try_take(SimTime(199_999_999)));
        assert!(b.try_take(SimTime(200_000_000)));
    }
}
