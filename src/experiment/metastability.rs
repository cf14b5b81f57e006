//! After a trigger ends: recovered, draining, or metastable.
//!
//! A metastable failure (Bronson et al., HotOS 2021; Huang et al., OSDI
//! 2022) is a bad state that persists after its trigger is removed, held
//! there by a sustaining effect (client retries, cache misses). Slow
//! recovery is not metastability, and neither is a backlog that is steadily
//! draining. So, on windows from the trigger's end (10 s, widened to whole
//! multiples of 10 s until the base phase's rate expects at least
//! [`MIN_EXPECTED`] completions in one):
//!
//! - **recovered** from the first window after which every window is as
//!   good as the base phase's: each window is tested against the steady
//!   base phase (past its first quarter, a cold start) on counts, and is
//!   bad only when it is *significantly* worse (see [`Judge`]); every test
//!   of every window is made at [`FALSE_ALARM`] divided by their number
//!   (Bonferroni), so a replication that is back to the base phase's
//!   behaviour from some window on is reported recovered from it, too late,
//!   with probability at most [`FALSE_ALARM`] when requests are independent.
//!   Slow requests cluster in a queue's busy periods, so a bad state must
//!   persist: a bad window counts only in a run that starts at the trigger's
//!   end or beside another bad window. A window in which a cache was
//!   filled holds an expiry's stampede, normal before the trigger and after
//!   it, and is not held against the recovery;
//! - otherwise **draining** when the requests in the system fall over the
//!   second half of the windows (a least-squares line with a negative
//!   slope, ending below where the trigger left them): the backlog clears
//!   by itself, at the time the line reaches the base phase's level;
//! - otherwise **metastable**: still bad and not draining when the run ends.

use serde::{Deserialize, Serialize};
use statrs::distribution::{Binomial, DiscreteCDF};

use crate::engine::{SimDuration, SimTime};
use crate::metrics::{Bucket, Series};

/// The shortest window recovery is judged on.
pub const WINDOW: SimDuration = SimDuration(10_000_000_000);

/// Completions the base phase's rate should expect in one window: windows
/// are widened (by whole [`WINDOW`]s) until it does, so that a window's
/// count tells a real shortfall from Poisson noise.
pub const MIN_EXPECTED: f64 = 30.0;

/// The probability that a replication which is back to the base phase's
/// behaviour from some window on is judged bad in any later window (a false
/// alarm, which would report its recovery late or not at all).
pub const FALSE_ALARM: f64 = 0.01;

/// The tests each window takes: goodput, errors, latency.
const TESTS: f64 = 3.0;

/// The share of successful requests a p99 bound lets be slower than it.
const SLOW_SHARE: f64 = 0.01;

/// How one replication came out after the trigger.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum AfterTrigger {
    /// Back to the base phase's behaviour this long after the trigger ended.
    Recovered { after_s: f64 },
    /// Still bad at the end, but the backlog is falling, by `falling_rps`
    /// requests a second: it clears this long after the trigger ended
    /// (extrapolated).
    Draining {
        clears_after_s: f64,
        #[serde(default)]
        falling_rps: f64,
    },
    /// Still bad at the end and not draining.
    Metastable,
}

/// What the steady base phase did, and how a window is judged against it.
///
/// A window of `L` seconds is bad when any of these holds at level `alpha`
/// (one-sided):
///
/// - **goodput**: its successful requests `k` are too few for the base
///   phase's rate: with `K` successes in the base phase's `T` seconds, under
///   equal rates `k` given `k + K` is Binomial(`k + K`, `L / (L + T)`) (the
///   exact test of two Poisson rates), and `P(X ≤ k) < alpha`;
/// - **errors**: its failures `f` of `n` ended requests are too many for the
///   error rate allowed, `p` = the larger of the SLO's and the base
///   phase's: `P(X ≥ f) < alpha` for X ~ Binomial(`n`, `p`);
/// - **latency**: its successful requests slower than the SLO's p99 bound
///   (`slow`, counted when the run is given the bound) are too many for the
///   share allowed, `q` = the larger of the p99's 1% and the base phase's:
///   `P(X ≥ slow) < alpha` for X ~ Binomial(`k`, `q`).
struct Judge {
    ok: u64,
    secs: f64,
    error_rate: f64,
    slow_share: f64,
    in_flight: f64,
    window: SimDuration,
    alpha: f64,
}

impl Judge {
    /// The base phase's record from `base_end / 4` to `base_end`, its
    /// windows sized for it, and the level of each test when `watched`
    /// seconds are judged.
    fn new(series: &Series, base_end: SimTime, watched: SimDuration, slo_error_rate: f64) -> Judge {
        let (from, whole) = base_phase(series, base_end);
        let secs = base_end.since(from).as_secs_f64();
        let rate = whole.ok as f64 / secs.max(1e-9);
        // Whole 10 s windows expecting MIN_EXPECTED, at least two of them
        // in the span watched.
        let widen = (MIN_EXPECTED / (rate * WINDOW.as_secs_f64())).ceil().max(1.0);
        let most = (watched.0 / WINDOW.0 / 2).max(1);
        let window = SimDuration(WINDOW.0 * (widen.min(most as f64) as u64));
        let windows = (watched.0 / window.0).max(1) as f64;
        let in_flight = (0..)
            .map(|i| SimTime(from.0 + i * WINDOW.0))
            .take_while(|t| t.0 + WINDOW.0 <= base_end.0)
            .map(|t| series.window(t, t.after(WINDOW)).in_flight_max as f64)
            .fold(1.0, f64::max);
        Judge {
            ok: whole.ok,
            secs,
            error_rate: whole.error_rate().max(slo_error_rate),
            slow_share: (whole.slow as f64 / whole.ok.max(1) as f64).max(SLOW_SHARE),
            in_flight,
            window,
            alpha: FALSE_ALARM / (TESTS * windows),
        }
    }

    /// Too few successes for the base phase's rate.
    fn goodput_low(&self, w: &Bucket) -> bool {
        if self.ok == 0 {
            return false;
        }
        let l = self.window.as_secs_f64();
        let p = l / (l + self.secs);
        Binomial::new(p, w.ok + self.ok).is_ok_and(|b| b.cdf(w.ok) < self.alpha)
    }

    /// Too many failures for the error rate allowed.
    fn errors_high(&self, w: &Bucket) -> bool {
        let n = w.ok + w.failed;
        if w.failed == 0 || self.error_rate >= 1.0 {
            return false;
        }
        // P(X ≥ f) = 1 − P(X ≤ f − 1).
        Binomial::new(self.error_rate, n).is_ok_and(|b| b.sf(w.failed - 1) < self.alpha)
    }

    /// Too many requests slower than the p99 bound for the share allowed.
    fn latency_high(&self, w: &Bucket) -> bool {
        if w.slow == 0 {
            return false;
        }
        Binomial::new(self.slow_share, w.ok).is_ok_and(|b| b.sf(w.slow - 1) < self.alpha)
    }

    fn bad(&self, w: &Bucket) -> bool {
        self.goodput_low(w) || self.errors_high(w) || self.latency_high(w)
    }
}

/// The steady base phase, from `base_end / 4` (past a cold start) to
/// `base_end`: where it starts, and its counts.
fn base_phase(series: &Series, base_end: SimTime) -> (SimTime, Bucket) {
    let from = SimTime(base_end.0 / 4);
    (from, series.window(from, base_end))
}

/// Judges one replication whose trigger ran until `trigger_end`, the base
/// phase before it until `base_end`, and the run until `end`.
pub fn after_trigger(
    series: &Series,
    base_end: SimTime,
    trigger_end: SimTime,
    end: SimTime,
    slo_error_rate: f64,
) -> AfterTrigger {
    let judge = Judge::new(series, base_end, end.since(trigger_end), slo_error_rate);
    let width = judge.window;
    let starts: Vec<SimTime> =
        (0..).map(|i| SimTime(trigger_end.0 + i * width.0)).take_while(|t| t.0 + width.0 <= end.0).collect();
    let windows: Vec<_> = starts.iter().map(|&t| series.window(t, t.after(width))).collect();
    // A window in which a cache was filled holds an expiry's stampede, as
    // normal after the trigger as before it; it neither ends nor delays a
    // recovery.
    let filled = |t: SimTime| series.refilled_between(t, t.after(width));
    let bad: Vec<bool> = windows.iter().zip(&starts).map(|(w, &t)| judge.bad(w) && !filled(t)).collect();
    // A bad state is one that persists: a bad window holds a recovery back
    // when it continues the trigger's (its run of bad windows starts at
    // the trigger's end) or when its neighbour is bad too. A lone bad
    // window later is an excursion of the kind the base phase has (a
    // queue's long busy period), not a failure to recover.
    let fine: Vec<bool> = (0..bad.len())
        .map(|i| {
            let from_trigger = bad[..=i].iter().all(|&b| b);
            let neighbour = (i > 0 && bad[i - 1]) || bad.get(i + 1).copied().unwrap_or(false);
            !(bad[i] && (from_trigger || neighbour))
        })
        .collect();
    // The first window after which every window is fine; a lone good last
    // window is not yet a recovery (unless it is the only one).
    let good_tail = fine.iter().rev().take_while(|&&f| f).count();
    if good_tail >= 2.min(windows.len()) && good_tail > 0 {
        let first = starts[windows.len() - good_tail];
        return AfterTrigger::Recovered { after_s: first.since(trigger_end).as_secs_f64() };
    }
    // Draining: fit the requests in the system over the second half. A
    // falling backlog peaks at a window's start, so that is its x.
    let half = &windows[windows.len() / 2..];
    let points: Vec<(f64, f64)> = half
        .iter()
        .zip(&starts[windows.len() / 2..])
        .map(|(w, t)| (t.since(trigger_end).as_secs_f64(), w.in_flight_max as f64))
        .collect();
    if let Some((slope, intercept)) = least_squares(&points)
        && slope < 0.0
        && points.last().is_some_and(|&(_, y)| y < windows[0].in_flight_max as f64)
    {
        let clears_after_s = ((judge.in_flight - intercept) / slope).max(0.0);
        return AfterTrigger::Draining { clears_after_s, falling_rps: -slope };
    }
    AfterTrigger::Metastable
}

/// The counts that name what holds a bad state in place, from the second
/// half of the span watched after the trigger (the state it settled in)
/// beside the steady base phase (past its first quarter, as the judge
/// takes it). Summed over replications with [`Sustaining::add`].
///
/// - **Retry amplification** = attempts ÷ in-time completions: attempts
///   are arrivals, a client's retries included; in-time completions are
///   the successful responses a client received (an abandoned request's
///   late answer is not one). Near 1 in a healthy service; a client that
///   times out and retries multiplies the work a completion costs.
/// - **Cache miss share** = misses ÷ attempts: requests that found no fresh
///   entry in their cache, each a fetch or a wait for one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Sustaining {
    pub attempts: u64,
    pub in_time: u64,
    pub misses: u64,
    /// Seconds the counts above cover.
    pub secs: f64,
    pub base_attempts: u64,
    pub base_in_time: u64,
    pub base_misses: u64,
    pub base_secs: f64,
}

/// Retry amplification this much above the base phase's is named as a
/// sustaining effect.
const AMPLIFIED: f64 = 1.1;

/// A cache miss share this much (absolute) above the base phase's is named
/// as a sustaining effect.
const MISSING: f64 = 0.05;

impl Sustaining {
    /// One replication's counts: the base phase as [`after_trigger`] judges
    /// it, and the second half of `[trigger_end, end)`.
    pub fn of(series: &Series, base_end: SimTime, trigger_end: SimTime, end: SimTime) -> Sustaining {
        let (from, base) = base_phase(series, base_end);
        let settled = SimTime(trigger_end.0 + end.since(trigger_end).0 / 2);
        let after = series.window(settled, end);
        Sustaining {
            attempts: after.arrived,
            in_time: after.ok,
            misses: after.misses,
            secs: end.since(settled).as_secs_f64(),
            base_attempts: base.arrived,
            base_in_time: base.ok,
            base_misses: base.misses,
            base_secs: base_end.since(from).as_secs_f64(),
        }
    }

    /// Adds another replication's counts.
    pub fn add(&mut self, o: &Sustaining) {
        self.attempts += o.attempts;
        self.in_time += o.in_time;
        self.misses += o.misses;
        self.secs += o.secs;
        self.base_attempts += o.base_attempts;
        self.base_in_time += o.base_in_time;
        self.base_misses += o.base_misses;
        self.base_secs += o.base_secs;
    }

    /// In-time completions per second after the trigger and before it.
    pub fn goodput(&self) -> (f64, f64) {
        (self.in_time as f64 / self.secs.max(1e-9), self.base_in_time as f64 / self.base_secs.max(1e-9))
    }

    /// Attempts ÷ in-time completions after the trigger and before it
    /// (`None` where nothing completed in time).
    pub fn amplification(&self) -> (Option<f64>, Option<f64>) {
        let ratio = |a: u64, c: u64| (c > 0).then(|| a as f64 / c as f64);
        (ratio(self.attempts, self.in_time), ratio(self.base_attempts, self.base_in_time))
    }

    /// Misses ÷ attempts after the trigger and before it.
    pub fn miss_share(&self) -> (f64, f64) {
        let share = |m: u64, a: u64| if a == 0 { 0.0 } else { m as f64 / a as f64 };
        (share(self.misses, self.attempts), share(self.base_misses, self.base_attempts))
    }

    /// The effects that rose above the base phase's, in words with their
    /// numbers; or, where neither did, both numbers and that neither holds
    /// the state in place.
    pub fn words(&self) -> String {
        let (amp, base_amp) = self.amplification();
        let (miss, base_miss) = self.miss_share();
        let before = base_amp.map_or("none completed before".into(), |b| format!("{b:.2}× before"));
        let amp_words = match amp {
            None if self.attempts > 0 => {
                Some(format!("retry amplification unbounded ({} attempts, none completed in time)", self.attempts))
            }
            Some(a) if a >= AMPLIFIED * base_amp.unwrap_or(1.0) => {
                Some(format!("retry amplification {a:.2}× (attempts ÷ in-time completions; {before})"))
            }
            _ => None,
        };
        let miss_words = (miss >= base_miss + MISSING)
            .then(|| format!("cache miss share {:.0}% ({:.0}% before)", 100.0 * miss, 100.0 * base_miss));
        match (amp_words, miss_words) {
            (Some(a), Some(m)) => format!("sustained by {a} and {m}"),
            (Some(a), None) => format!("sustained by {a}"),
            (None, Some(m)) => format!("sustained by {m}"),
            (None, None) => format!(
                "neither retries nor cache misses rose (retry amplification {}, cache miss share {:.0}%): the load alone is more than the service completes",
                amp.map_or("-".into(), |a| format!("{a:.2}×")),
                100.0 * miss
            ),
        }
    }
}

/// (slope, intercept) of the least-squares line through `points`; `None`
/// below two points or with no spread in x.
fn least_squares(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let (mx, my) = (points.iter().map(|p| p.0).sum::<f64>() / n, points.iter().map(|p| p.1).sum::<f64>() / n);
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx == 0.0 {
        return None;
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let slope = sxy / sxx;
    Some((slope, my - slope * mx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_squares_recovers_a_line() {
        let pts: Vec<(f64, f64)> = (0..10).map(|i| (f64::from(i), 300.0 - 2.0 * f64::from(i))).collect();
        let (m, b) = least_squares(&pts).unwrap();
        assert!((m + 2.0).abs() < 1e-12 && (b - 300.0).abs() < 1e-9);
        assert_eq!(least_squares(&pts[..1]), None);
    }
}
