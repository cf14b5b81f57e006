//! The backend's data versions: version k is current from the k-th write
//! on. Writes are generated lazily as the clock passes them (time only moves
//! forward), so a model with no reads of old versions costs nothing.

use rand::RngExt;
use rand_distr::Exp1;

use crate::config::Writes;
use crate::engine::{SimDuration, SimRng, SimTime};

/// The backend's version history.
pub struct Versions {
    kind: Option<Writes>,
    rng: SimRng,
    /// Poisson: the write times generated so far, in order.
    writes: Vec<SimTime>,
    /// Poisson: the next write not yet in `writes`.
    next: SimTime,
}

impl Versions {
    /// A history for `writes` (absent: the data never changes).
    pub fn new(writes: Option<&Writes>, mut rng: SimRng) -> Versions {
        let next = match writes {
            Some(Writes::Poisson(rate)) => SimTime::ZERO.after(exp_gap(&mut rng, rate.0)),
            _ => SimTime::MAX,
        };
        Versions { kind: writes.cloned(), rng, writes: Vec::new(), next }
    }

    fn advance(&mut self, now: SimTime) {
        if let Some(Writes::Poisson(rate)) = &self.kind {
            while self.next <= now {
                self.writes.push(self.next);
                self.next = self.next.after(exp_gap(&mut self.rng, rate.0));
            }
        }
    }

    /// The version current at `now`.
    pub fn current(&mut self, now: SimTime) -> u64 {
        match &self.kind {
            None => 0,
            Some(Writes::Every(period)) => now.0 / period.nanos().max(1),
            Some(Writes::Poisson(_)) => {
                self.advance(now);
                self.writes.len() as u64
            }
        }
    }

    /// When version `v` was written (version 0 is the initial data).
    pub fn written_at(&mut self, v: u64) -> SimTime {
        match &self.kind {
            _ if v == 0 => SimTime::ZERO,
            None => SimTime::MAX,
            Some(Writes::Every(period)) => SimTime(v.saturating_mul(period.nanos())),
            Some(Writes::Poisson(_)) => {
                while (self.writes.len() as u64) < v {
                    let next = self.next;
                    self.advance(next);
                }
                self.writes[v as usize - 1]
            }
        }
    }

    /// How long version `v` has been out of date at `now` (zero if current).
    pub fn staleness(&mut self, v: u64, now: SimTime) -> SimDuration {
        if self.current(now) <= v {
            return SimDuration::ZERO;
        }
        let superseded = match &self.kind {
            Some(Writes::Every(period)) => SimTime((v + 1).saturating_mul(period.nanos())),
            Some(Writes::Poisson(_)) => self.writes[v as usize],
            None => return SimDuration::ZERO,
        };
        now.since(superseded)
    }
}

fn exp_gap(rng: &mut SimRng, rate: f64) -> SimDuration {
    let e: f64 = rng.sample(Exp1);
    SimDuration::from_secs_f64(e / rate).max(SimDuration(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Dur, Rate};
    use crate::engine::stream;

    #[test]
    fn periodic_writes() {
        let mut v = Versions::new(Some(&Writes::Every(Dur::secs(10))), stream(1, 0, "v"));
        assert_eq!(v.current(SimTime(9_999_999_999)), 0);
        assert_eq!(v.current(SimTime(10_000_000_000)), 1);
        assert_eq!(v.staleness(0, SimTime(12_000_000_000)), SimDuration::from_secs(2));
        assert_eq!(v.staleness(1, SimTime(12_000_000_000)), SimDuration::ZERO);
    }

    #[test]
    fn poisson_writes_count_at_their_rate() {
        // N(1000 s) ~ Poisson(500): sd 22.4, so ±5 sd = ±112.
        let mut v = Versions::new(Some(&Writes::Poisson(Rate(0.5))), stream(2, 0, "v"));
        let n = v.current(SimTime(1_000_000_000_000));
        assert!((n as f64 - 500.0).abs() < 112.0, "{n}");
        let mut none = Versions::new(None, stream(2, 0, "v"));
        assert_eq!(none.current(SimTime::MAX), 0);
    }
}
