//! Latency distributions as written in model files.

use serde::{Deserialize, Serialize};

use super::duration::Dur;

/// The z-score of the 99th percentile of the standard normal distribution.
pub const Z99: f64 = 2.326_347_874_040_840_8;

/// A distribution of durations (handler times, fetch and query latencies).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawLatency")]
pub enum Latency {
    /// Always the same: `Constant("50ms")`.
    Constant(Dur),
    /// Exponential with the given mean: `Exponential(mean: "20ms")`.
    Exponential { mean: Dur },
    /// Log-normal fixed by its median and 99th percentile, as latencies are
    /// usually reported: `LogNormal(median: "1s", p99: "2s")`.
    LogNormal { median: Dur, p99: Dur },
    /// Uniform between two bounds: `Uniform(low: "1s", high: "2s")`.
    Uniform { low: Dur, high: Dur },
    /// Resampled from measured values, each equally likely:
    /// `Empirical(samples: ["0.9s", "1.1s", "4s"])`.
    Empirical { samples: Vec<Dur> },
}

/// The same shape, before its values are checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "Latency")]
enum RawLatency {
    Constant(Dur),
    Exponential { mean: Dur },
    LogNormal { median: Dur, p99: Dur },
    Uniform { low: Dur, high: Dur },
    Empirical { samples: Vec<Dur> },
}

impl TryFrom<RawLatency> for Latency {
    type Error = String;

    fn try_from(raw: RawLatency) -> Result<Latency, String> {
        Ok(match raw {
            RawLatency::Constant(d) => Latency::Constant(d),
            RawLatency::Exponential { mean } => {
                if mean.is_zero() {
                    return Err("Exponential mean must be above zero (use Constant(\"0s\") for no delay)".into());
                }
                Latency::Exponential { mean }
            }
            RawLatency::LogNormal { median, p99 } => {
                if median.is_zero() {
                    return Err("LogNormal median must be above zero".into());
                }
                if p99 <= median {
                    return Err(format!(
                        "LogNormal p99 ({p99}) must be above its median ({median}); for a fixed latency use Constant(\"{median}\")"
                    ));
                }
                Latency::LogNormal { median, p99 }
            }
            RawLatency::Uniform { low, high } => {
                if high < low {
                    return Err(format!("Uniform high ({high}) must not be below low ({low})"));
                }
                Latency::Uniform { low, high }
            }
            RawLatency::Empirical { samples } => {
                if samples.is_empty() {
                    return Err("Empirical needs at least one sample".into());
                }
                Latency::Empirical { samples }
            }
        })
    }
}

impl Latency {
    /// The distribution's mean, in seconds.
    pub fn mean_secs(&self) -> f64 {
        match self {
            Latency::Constant(d) => d.as_secs_f64(),
            Latency::Exponential { mean } => mean.as_secs_f64(),
            Latency::LogNormal { median, p99 } => {
                let (mu, sigma) = lognormal_params(*median, *p99);
                (mu + sigma * sigma / 2.0).exp()
            }
            Latency::Uniform { low, high } => (low.as_secs_f64() + high.as_secs_f64()) / 2.0,
            Latency::Empirical { samples } => {
                samples.iter().map(|d| d.as_secs_f64()).sum::<f64>() / samples.len() as f64
            }
        }
    }
}

/// (μ, σ) of ln(latency in seconds) for a log-normal with this median and p99.
pub fn lognormal_params(median: Dur, p99: Dur) -> (f64, f64) {
    let mu = median.as_secs_f64().ln();
    let sigma = (p99.as_secs_f64() / median.as_secs_f64()).ln() / Z99;
    (mu, sigma)
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn lognormal_parameters_reproduce_the_p99() {
        let (mu, sigma) = lognormal_params(Dur::secs(1), Dur::secs(2));
        assert_relative_eq!((mu + Z99 * sigma).exp(), 2.0, max_relative = 1e-12);
        assert_relative_eq!(mu.exp(), 1.0);
    }

    #[test]
    fn means() {
        assert_relative_eq!(Latency::Exponential { mean: Dur::millis(20) }.mean_secs(), 0.02);
        assert_relative_eq!(Latency::Uniform { low: Dur::secs(1), high: Dur::secs(3) }.mean_secs(), 2.0);
        // ln-normal mean = exp(μ + σ²/2) with σ = ln 2 / z99.
        let s = 2f64.ln() / Z99;
        assert_relative_eq!(
            Latency::LogNormal { median: Dur::secs(1), p99: Dur::secs(2) }.mean_secs(),
            (s * s / 2.0).exp(),
            max_relative = 1e-12
        );
    }
}
