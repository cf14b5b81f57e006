//! After a trigger ends: recovered, draining, or metastable.
//!
//! A metastable failure (Bronson et al., HotOS 2021; Huang et al., OSDI
//! 2022) is a bad state that persists after its trigger is removed, held
//! there by a sustaining effect (client retries, cache misses). Slow
//! recovery is not metastability, and neither is a backlog that is steadily
//! draining. So, on 10-second windows from the trigger's end:
//!
//! - **recovered** from the first window after which every window is as
//!   good as the base phase's (errors within the SLO or the base phase's
//!   worst window, mean latency within twice the base mean or the base
//!   phase's worst window, its first fill's window included); a window in
//!   which a cache was filled holds an expiry's stampede, normal before the
//!   trigger and after it, and is not held against the recovery;
//! - otherwise **draining** when the requests in the system fall over the
//!   second half of the windows (a least-squares line with a negative
//!   slope, ending below where the trigger left them): the backlog clears
//!   by itself, at the time the line reaches the base phase's level;
//! - otherwise **metastable**: still bad and not draining when the run ends.

use serde::{Deserialize, Serialize};

use crate::engine::{SimDuration, SimTime};
use crate::metrics::Series;

/// Windows recovery is judged on.
pub const WINDOW: SimDuration = SimDuration(10_000_000_000);

/// How one replication came out after the trigger.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum AfterTrigger {
    /// Back to the base phase's behaviour this long after the trigger ended.
    Recovered { after_s: f64 },
    /// Still bad at the end, but the backlog is falling: it clears this
    /// long after the trigger ended (extrapolated).
    Draining { clears_after_s: f64 },
    /// Still bad at the end and not draining.
    Metastable,
}

/// What the base phase allows a window.
struct Allowance {
    errors: f64,
    latency_s: f64,
    in_flight: f64,
}

/// The base phase's allowances, from its windows past its first quarter
/// (a cold start is not the steady state a recovery returns to), and
/// those of its windows in which a cache was filled: the first fill is the
/// base phase's only sight of what each later expiry does (a stampede), so
/// an expiry after the trigger is judged against it, not taken for a
/// failure to recover.
fn allowance(series: &Series, base_end: SimTime, slo_error_rate: f64) -> Allowance {
    let from = base_end.0 / 4;
    let filled = |i: u64| series.refilled_between(SimTime(i * WINDOW.0), SimTime((i + 1) * WINDOW.0));
    let windows: Vec<_> = (0..base_end.0 / WINDOW.0)
        .filter(|&i| i * WINDOW.0 >= from || filled(i))
        .map(|i| series.window(SimTime(i * WINDOW.0), SimTime((i + 1) * WINDOW.0)))
        .collect();
    let whole = series.window(SimTime(from), base_end);
    let mean = whole.mean_latency_s().unwrap_or(0.0).max(1e-6);
    Allowance {
        errors: windows.iter().map(|w| w.error_rate()).fold(slo_error_rate, f64::max),
        latency_s: windows.iter().filter_map(|w| w.mean_latency_s()).fold(2.0 * mean, f64::max),
        in_flight: windows.iter().map(|w| w.in_flight_max as f64).fold(1.0, f64::max),
    }
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
    let allowed = allowance(series, base_end, slo_error_rate);
    let starts: Vec<SimTime> =
        (0..).map(|i| SimTime(trigger_end.0 + i * WINDOW.0)).take_while(|t| t.0 + WINDOW.0 <= end.0).collect();
    let windows: Vec<_> = starts.iter().map(|&t| series.window(t, t.after(WINDOW))).collect();
    let ok = |w: &crate::metrics::Bucket| {
        w.error_rate() <= allowed.errors && w.mean_latency_s().is_none_or(|m| m <= allowed.latency_s)
    };
    // A window in which a cache was filled holds an expiry's stampede, as
    // normal after the trigger as before it; it neither ends nor delays a
    // recovery.
    let filled = |t: SimTime| series.refilled_between(t, t.after(WINDOW));
    let fine: Vec<bool> = windows.iter().zip(&starts).map(|(w, &t)| ok(w) || filled(t)).collect();
    // The first window after which every window is fine; a lone good last
    // window is not yet a recovery.
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
        let clears_after_s = ((allowed.in_flight - intercept) / slope).max(0.0);
        return AfterTrigger::Draining { clears_after_s };
    }
    AfterTrigger::Metastable
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
