//! The backend ("Firestore"): fetch latency, a token bucket shared by every
//! server, and what a fetch does when the bucket is empty.

use rand::RngExt;

use crate::config::{Backend, WhenEmpty};
use crate::engine::{SimDuration, SimRng, SimTime};

use super::sampler::Sampler;
use super::token_bucket::TokenBucket;

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
}

/// The shared backend.
pub struct BackendState {
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
        BackendState { latency: Sampler::new(&spec.latency), latency_rng, bucket, retry, jitter_rng }
    }

    /// Tries to send a fetch at `now`: `retries` earlier attempts of the same
    /// fetch were refused, and it started at `started`.
    pub fn attempt(&mut self, now: SimTime, started: SimTime, retries: u32) -> Attempt {
        let admitted = self.bucket.as_mut().is_none_or(|b| b.try_take(now));
        if admitted {
            return Attempt::Sent(self.latency.sample(&mut self.latency_rng));
        }
        let Some(b) = &self.retry else { return Attempt::Refused };
        let bound = (b.initial_s * b.multiplier.powi(retries.min(10_000) as i32)).min(b.max_s);
        let sleep = SimDuration::from_secs_f64(self.jitter_rng.random::<f64>() * bound);
        if now.after(sleep) > started.after(b.deadline) {
            Attempt::DeadlineExceeded
        } else {
            Attempt::RetryAfter(sleep)
        }
    }
}
