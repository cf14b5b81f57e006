//! Simulated time: integer nanoseconds, so that event order never depends on
//! floating-point rounding.

use std::fmt;

/// Nanoseconds per second.
pub const NANOS_PER_SEC: u64 = 1_000_000_000;

/// An instant of simulated time, in nanoseconds since the start of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimTime(pub u64);

/// A span of simulated time, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimDuration(pub u64);

impl SimTime {
    /// The start of every run.
    pub const ZERO: SimTime = SimTime(0);
    /// Later than any event a run can schedule.
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// Seconds since the start, for reports.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }

    /// The span from `earlier` to `self`; zero if `earlier` is later.
    pub fn since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }

    /// `self + d`, saturating at [`SimTime::MAX`] instead of wrapping.
    pub fn after(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}

/// `x.round() as u64` (halves away from zero; negative and NaN give 0, huge
/// values saturate), bit for bit, without a call to libm's `round`: on
/// baseline x86-64 there is no rounding instruction, and the call was 4% of a
/// run. For `x < 2^64` truncation is exact and so is `x - trunc(x)` (Sterbenz:
/// `trunc(x)` is within a factor 2 of `x` once `x >= 1`, and 0 below).
#[inline]
pub fn round_nanos(x: f64) -> u64 {
    if x.is_nan() || x <= 0.0 {
        return 0;
    }
    if x >= u64::MAX as f64 {
        return u64::MAX;
    }
    let whole = x as u64;
    if x - whole as f64 >= 0.5 { whole + 1 } else { whole }
}

impl SimDuration {
    /// No time at all.
    pub const ZERO: SimDuration = SimDuration(0);

    /// Whole seconds.
    pub const fn from_secs(s: u64) -> SimDuration {
        SimDuration(s * NANOS_PER_SEC)
    }

    /// Whole milliseconds.
    pub const fn from_millis(ms: u64) -> SimDuration {
        SimDuration(ms * 1_000_000)
    }

    /// Converts seconds to nanoseconds, rounding to the nearest nanosecond.
    /// Negative and NaN inputs give zero; huge ones saturate.
    #[inline]
    pub fn from_secs_f64(s: f64) -> SimDuration {
        SimDuration(round_nanos(s * NANOS_PER_SEC as f64))
    }

    /// The sum of two spans, at most the longest representable.
    #[inline]
    pub fn saturating_add(self, other: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(other.0))
    }

    /// The span in seconds.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.9}s", self.as_secs_f64())
    }
}

impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.9}s", self.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_nanos_equals_round_then_cast_on_edges_and_random_bits() {
        let edges = [
            0.0,
            -0.0,
            -1.5,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            0.49999999999999994,
            0.5,
            1.5,
            2.5,
            4503599627370495.5,
            4503599627370497.0,
            9007199254740993.0,
            18446744073709549568.0,
            u64::MAX as f64,
            1e30,
        ];
        let mut bits = 0x9E37_79B9_7F4A_7C15u64;
        let random = (0..200_000).map(|_| {
            bits = bits.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            // Positive doubles up to about 2^66, and their halves.
            let x = f64::from_bits((bits >> 2) & 0x7FFF_FFFF_FFFF_FFFF);
            if x < 1.3e20 { x } else { (bits >> 11) as f64 / 2.0 }
        });
        for x in edges.into_iter().chain(random) {
            assert_eq!(round_nanos(x), x.round() as u64, "{x:e}");
        }
    }

    #[test]
    fn seconds_round_to_nearest_nanosecond() {
        assert_eq!(SimDuration::from_secs_f64(0.05).0, 50_000_000);
        assert_eq!(SimDuration::from_secs_f64(1e-10).0, 0);
        assert_eq!(SimDuration::from_secs_f64(-3.0).0, 0);
        assert_eq!(SimDuration::from_secs_f64(f64::NAN).0, 0);
        assert_eq!(SimDuration::from_secs_f64(1e30).0, u64::MAX);
    }

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(SimTime(5).since(SimTime(9)), SimDuration::ZERO);
        assert_eq!(SimTime::MAX.after(SimDuration(1)), SimTime::MAX);
        assert_eq!(SimTime(5).after(SimDuration(2)), SimTime(7));
    }
}
