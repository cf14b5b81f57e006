//! Drawing durations from a [`Latency`] distribution.

use rand::RngExt;
use rand_distr::{Exp1, StandardNormal};

use crate::config::{Latency, lognormal_params};
use crate::engine::{NANOS_PER_SEC, SimDuration, SimRng, round_nanos};

/// A latency distribution prepared for fast sampling (parameters in ns).
#[derive(Debug, Clone)]
pub enum Sampler {
    Constant(SimDuration),
    Exponential {
        mean_ns: f64,
    },
    /// ln(seconds) ~ Normal(mu, sigma).
    LogNormal {
        mu: f64,
        sigma: f64,
    },
    Uniform {
        low_ns: f64,
        span_ns: f64,
    },
    Empirical(Vec<SimDuration>),
}

impl Sampler {
    /// Prepares `latency` for sampling.
    pub fn new(latency: &Latency) -> Sampler {
        match latency {
            Latency::Constant(d) => Sampler::Constant(d.0),
            Latency::Exponential { mean } => Sampler::Exponential { mean_ns: mean.nanos() as f64 },
            Latency::LogNormal { median, p99 } => {
                let (mu, sigma) = lognormal_params(*median, *p99);
                Sampler::LogNormal { mu, sigma }
            }
            Latency::Uniform { low, high } => {
                Sampler::Uniform { low_ns: low.nanos() as f64, span_ns: (high.nanos() - low.nanos()) as f64 }
            }
            Latency::Empirical { samples } => Sampler::Empirical(samples.iter().map(|d| d.0).collect()),
        }
    }

    /// One draw. `Constant` draws no random number.
    #[inline]
    pub fn sample(&self, rng: &mut SimRng) -> SimDuration {
        match self {
            Sampler::Constant(d) => *d,
            Sampler::Exponential { mean_ns } => {
                let e: f64 = rng.sample(Exp1);
                SimDuration(round_nanos(e * mean_ns))
            }
            Sampler::LogNormal { mu, sigma } => {
                let z: f64 = rng.sample(StandardNormal);
                SimDuration::from_secs_f64((mu + sigma * z).exp())
            }
            Sampler::Uniform { low_ns, span_ns } => {
                let u: f64 = rng.random();
                SimDuration(round_nanos(low_ns + u * span_ns))
            }
            Sampler::Empirical(samples) => samples[rng.random_range(0..samples.len())],
        }
    }

    /// The mean of the draws, in seconds.
    pub fn mean_secs(&self) -> f64 {
        match self {
            Sampler::Constant(d) => d.as_secs_f64(),
            Sampler::Exponential { mean_ns } => mean_ns / NANOS_PER_SEC as f64,
            Sampler::LogNormal { mu, sigma } => (mu + sigma * sigma / 2.0).exp(),
            Sampler::Uniform { low_ns, span_ns } => (low_ns + span_ns / 2.0) / NANOS_PER_SEC as f64,
            Sampler::Empirical(s) => s.iter().map(|d| d.as_secs_f64()).sum::<f64>() / s.len() as f64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Dur;
    use crate::engine::stream;

    /// Golden draws: catch a silent change of rand_distr's algorithms after
    /// `cargo update`, which would change every published number.
    #[test]
    fn draws_are_stable() {
        let mut rng = stream(7, 0, "golden");
        let exp = Sampler::new(&Latency::Exponential { mean: Dur::secs(1) });
        let ln = Sampler::new(&Latency::LogNormal { median: Dur::secs(1), p99: Dur::secs(2) });
        let got = [exp.sample(&mut rng).0, ln.sample(&mut rng).0, exp.sample(&mut rng).0];
        assert_eq!(got, GOLDEN);
    }
    const GOLDEN: [u64; 3] = [50140590, 897827196, 121246517];

    #[test]
    fn sample_means_match_the_distribution() {
        // 200k draws; the standard error of the mean is sd/sqrt(n) (< 0.3% of
        // the mean for these), so 4 standard errors is a 1.5% band.
        let n = 200_000;
        for latency in [
            Latency::Exponential { mean: Dur::millis(20) },
            Latency::LogNormal { median: Dur::secs(1), p99: Dur::secs(2) },
            Latency::Uniform { low: Dur::secs(1), high: Dur::secs(3) },
        ] {
            let s = Sampler::new(&latency);
            let mut rng = stream(1, 0, "means");
            let mean = (0..n).map(|_| s.sample(&mut rng).as_secs_f64()).sum::<f64>() / n as f64;
            let rel = (mean - latency.mean_secs()).abs() / latency.mean_secs();
            assert!(rel < 0.015, "{latency:?}: sample mean {mean} vs {}", latency.mean_secs());
        }
    }
}
