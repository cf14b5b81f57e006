//! The triggers of `limit`'s metastability check: what knocks the service
//! out of its steady state at the highest load meeting the SLO, and when.
//!
//! The run holds the base load for `hold`, applies the trigger (for `hold`,
//! or at one instant for a flush), then holds the base load for two more
//! `hold`s, which are watched for recovery (see `metastability`).

use serde::{Deserialize, Serialize};

use crate::config::{Dur, Fault, ModelSpec, Phase, Rate, Restart};
use crate::engine::{SimDuration, SimTime};

/// What knocks the service out of its steady state.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub enum Trigger {
    /// A load spike: `spike` × the base load for `hold` (default).
    #[default]
    Spike,
    /// The backend down for `hold` (every call refused at once).
    Outage,
    /// Every backend call `factor` times slower for `hold`.
    Slow(f64),
    /// Every cache layer of the service emptied at once (a cache flush, or
    /// a deploy that flushes): every server restarts, its workers' local
    /// and response caches emptied, and the shared Redis is flushed
    /// (FLUSHALL: the entry and the lock key; see `Redis::flushes`).
    Flush,
}

/// A model with its trigger in place, and when the trigger starts and ends
/// and the run ends.
pub struct Triggered {
    pub spec: ModelSpec,
    pub start: SimTime,
    pub end: SimTime,
    pub run_end: SimTime,
}

/// The first expiry of the model's cache at or after `t`: with a TTL T, a
/// warm cache expires at k·T, a cold one at δ + k·T (δ the backend's mean
/// latency, the first fill). Jitter and refresh policies move real
/// expiries a little; this places the trigger on the expiry the model
/// plans. `None` without a cache.
fn next_expiry(model: &ModelSpec, t: SimDuration) -> Option<SimDuration> {
    let (ttl, warm) = match (&model.cache, &model.redis) {
        (Some(c), _) => (c.ttl.0, c.start == crate::config::CacheStart::Warm),
        (None, Some(r)) => (r.ttl.0, false),
        (None, None) => return None,
    };
    if ttl.0 == 0 {
        return None;
    }
    let offset = if warm { 0 } else { SimDuration::from_secs_f64(model.backend.latency.mean_secs()).0 };
    let k = t.0.saturating_sub(offset).div_ceil(ttl.0);
    Some(SimDuration(offset.saturating_add(k.saturating_mul(ttl.0))))
}

/// `model` at `base` load with `trigger` after `hold` (on the next expiry
/// after it, with `at_expiry`).
pub fn with_trigger(
    model: &ModelSpec,
    base: f64,
    trigger: Trigger,
    spike: f64,
    hold: SimDuration,
    at_expiry: bool,
) -> Triggered {
    let start = if at_expiry { next_expiry(model, hold).unwrap_or(hold) } else { hold };
    let end = if trigger == Trigger::Flush { start } else { start.saturating_add(hold) };
    let run_end = end.saturating_add(SimDuration(hold.0.saturating_mul(2)));
    let mut spec = model.clone();
    let w = &mut spec.workload;
    w.rate = Rate(base);
    w.phases = Vec::new();
    w.duration = Dur(run_end);
    w.warmup = Dur::default();
    match trigger {
        Trigger::Spike => {
            w.phases = vec![
                Phase::Step { at: Dur(start), rate: Rate(base * spike) },
                Phase::Step { at: Dur(end), rate: Rate(base) },
            ];
        }
        Trigger::Outage => spec.backend.faults.push(Fault::Outage { from: Dur(start), to: Dur(end) }),
        Trigger::Slow(factor) => spec.backend.faults.push(Fault::Slow { from: Dur(start), to: Dur(end), factor }),
        Trigger::Flush => {
            let servers = spec.servers.count.get();
            spec.servers.restarts.extend((0..servers).map(|server| Restart { at: Dur(start), server }));
            if let Some(redis) = spec.redis.as_mut() {
                redis.flushes.push(Dur(start));
            }
        }
    }
    Triggered { spec, start: SimTime(start.0), end: SimTime(end.0), run_end: SimTime(run_end.0) }
}
