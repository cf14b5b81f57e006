//! The backend ("Firestore"): fetch latency, a token bucket shared by every
//! server, and what a fetch does when the bucket is empty.

use rand::RngExt;

use crate::config::{Backend, Fault, Snapshot, WhenEmpty};
use crate::engine::{SimDuration, SimRng, SimTime};

use crate::sim::data::token_bucket::TokenBucket;
use crate::sim::sampler::Sampler;

/// Exponential backoff with full jitter (google-api-core's retry).
#[derive(Debug, Clone)]
pub struct Backoff {
    initial_s: f64,
    multiplier: f64,
    max_s: f64,
    deadline: SimDuration,
}

/// What became of a fetch attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// The call is under way and completes after this latency.
    Sent(SimDuration),
    /// Refused; try again after this sleep.
    RetryAfter(SimDuration),
    /// Refused, and the policy says fail now.
    Refused,
    /// Refused, and the next retry would pass the deadline.
    DeadlineExceeded,
    /// The backend is down and the policy does not retry.
    Unavailable,
}

/// The shared backend.
pub struct BackendState {
    /// When a fetch reads the version it returns.
    pub snapshot: Snapshot,
    /// Whether the last attempt found the backend down (not rate-limited).
    pub last_attempt_down: bool,
    /// (from, to) of outages, and (from, to, factor) of slow-downs.
    outages: Vec<(SimTime, SimTime)>,
    slow: Vec<(SimTime, SimTime, f64)>,
    latency: Sampler,
    latency_rng: SimRng,
    bucket: Option<TokenBucket>,
    retry: Option<Backoff>,
    jitter_rng: SimRng,
}

impl BackendState {
    /// The backend a model describes, drawing from the given streams.
    pub fn new(spec: &Backend, latency_rng: SimRng, jitter_rng: SimRng) -> BackendState {
        let bucket = spec.rate_limit.as_ref().map(|rl| TokenBucket::new(rl.rate.0, rl.burst.get()));
        let retry = spec.rate_limit.as_ref().filter(|rl| rl.when_empty == WhenEmpty::Retry).map(|rl| Backoff {
            initial_s: rl.retry.initial.as_secs_f64(),
            multiplier: rl.retry.multiplier,
            max_s: rl.retry.max_delay.as_secs_f64(),
            deadline: rl.retry.deadline.0,
        });
        let at = |d: crate::config::Dur| SimTime(d.nanos());
        let outages = spec
            .faults
            .iter()
            .filter_map(|f| match f {
                Fault::Outage { from, to } => Some((at(*from), at(*to))),
                Fault::Slow { .. } => None,
            })
            .collect();
        let slow = spec
            .faults
            .iter()
            .filter_map(|f| match f {
                Fault::Slow { from, to, factor } => Some((at(*from), at(*to), *factor)),
                Fault::Outage { .. } => None,
            })
            .collect();
        BackendState {
            snapshot: spec.snapshot,
            last_attempt_down: false,
            outages,
            slow,
            latency: Sampler::new(&spec.latency),
            latency_rng,
            bucket,
            retry,
            jitter_rng,
        }
    }

    /// Whether an outage or slow window overlaps `[from, to]`.
    pub fn fault_during(&self, from: SimTime, to: SimTime) -> bool {
        let overlaps = |a: SimTime, b: SimTime| a <= to && from < b;
        self.outages.iter().any(|&(a, b)| overlaps(a, b)) || self.slow.iter().any(|&(a, b, _)| overlaps(a, b))
    }

    /// Tries to send a fetch at `now`: `retries` earlier attempts of the same
    /// fetch were refused, and it started at `started`.
    pub fn attempt(&mut self, now: SimTime, started: SimTime, retries: u32) -> Attempt {
        let down = self.outages.iter().any(|&(a, b)| a <= now && now < b);
        self.last_attempt_down = down;
        let admitted = !down && self.bucket.as_mut().is_none_or(|b| b.try_take(now));
        if admitted {
            let latency = self.latency.sample(&mut self.latency_rng);
            let factor = self.slow.iter().filter(|&&(a, b, _)| a <= now && now < b).map(|s| s.2).product::<f64>();
            let latency =
                if factor == 1.0 { latency } else { SimDuration::from_secs_f64(latency.as_secs_f64() * factor) };
            return Attempt::Sent(latency);
        }
        let Some(b) = &self.retry else { return if down { Attempt::Unavailable } else { Attempt::Refused } };
        let bound = (b.initial_s * b.multiplier.powi(retries.min(10_000) as i32)).min(b.max_s);
        let sleep = SimDuration::from_secs_f64(self.jitter_rng.random::<f64>() * bound);
        if now.after(sleep) > started.after(b.deadline) {
            Attempt::DeadlineExceeded
        } else {
            Attempt::RetryAfter(sleep)
        }
    }
}
