//! Across replications: mean and 95% confidence interval of every metric,
//! and percentiles pooled from the runs' histograms.

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, StudentsT};

use super::percentile::{PooledQuantile, pooled_quantile};
use super::record::{RunRecord, add_sparse};
use crate::metrics::histogram;

/// One metric at one point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    /// Replications with a value (a run with no successes has no latency).
    pub n: usize,
    pub mean: Option<f64>,
    /// Half-width of the 95% Student-t interval; `None` below 2 values.
    pub ci95: Option<f64>,
}

impl Estimate {
    /// Mean and interval of `values`.
    pub fn of(values: &[f64]) -> Estimate {
        let n = values.len();
        if n == 0 {
            return Estimate { n, mean: None, ci95: None };
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let ci95 = (n >= 2).then(|| {
            let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            t_975(n - 1) * (var / n as f64).sqrt()
        });
        Estimate { n, mean: Some(mean), ci95 }
    }

    /// (lower, upper) ends of the interval; the mean twice without one.
    pub fn bounds(&self) -> Option<(f64, f64)> {
        let m = self.mean?;
        let h = self.ci95.unwrap_or(0.0);
        Some((m - h, m + h))
    }
}

/// The 97.5% quantile of Student's t with `df` degrees of freedom.
pub fn t_975(df: usize) -> f64 {
    t_quantile(0.975, df as f64)
}

/// Past this many degrees of freedom Student's t is taken as the normal
/// distribution: its 99.5% quantile is then within 0.2% of the normal's
/// (2.581 against 2.576), and statrs's inverse slows down without bound
/// as the degrees of freedom grow.
pub const NORMAL_PAST_DF: f64 = 1000.0;

/// The `p` quantile of Student's t with `df` degrees of freedom (at least
/// 1), the normal quantile past [`NORMAL_PAST_DF`].
pub fn t_quantile(p: f64, df: f64) -> f64 {
    if df > NORMAL_PAST_DF || !df.is_finite() {
        return statrs::distribution::Normal::new(0.0, 1.0).expect("the standard normal").inverse_cdf(p);
    }
    StudentsT::new(0.0, 1.0, df.max(1.0)).expect("df >= 1").inverse_cdf(p)
}

/// Percentiles of latency and pool wait over all replications' requests.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pooled {
    /// The p99 the SLO is judged on, with its bootstrap interval and how
    /// many requests lie beyond it.
    pub latency_p99: Option<PooledQuantile>,
    pub latency_p50_s: Option<f64>,
    pub latency_p95_s: Option<f64>,
    pub latency_p99_s: Option<f64>,
    pub latency_p999_s: Option<f64>,
    pub pool_wait_p99_s: Option<f64>,
}

/// Everything known about one point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PointStats {
    /// (metric key, estimate), in the records' key order.
    pub metrics: Vec<(String, Estimate)>,
    pub pooled: Pooled,
    /// Hash of the resolved model (the same for every replication).
    pub model_fingerprint: String,
    /// Hash of the replications' trace fingerprints, in order.
    pub trace_fingerprint: String,
}

impl PointStats {
    /// The estimate of a metric.
    pub fn get(&self, key: &str) -> Option<&Estimate> {
        self.metrics.iter().find(|(k, _)| k == key).map(|(_, e)| e)
    }

    /// The mean of a metric, if any replication had it.
    pub fn mean(&self, key: &str) -> Option<f64> {
        self.get(key).and_then(|e| e.mean)
    }
}

/// Aggregates the records of one point (in replication order).
pub fn aggregate(records: &[&RunRecord]) -> PointStats {
    let keys: Vec<String> =
        records.first().map(|r| r.metrics.iter().map(|(k, _)| k.clone()).collect()).unwrap_or_default();
    let metrics = keys
        .into_iter()
        .map(|k| {
            let values: Vec<f64> = records.iter().filter_map(|r| r.get(&k)).collect();
            let e = Estimate::of(&values);
            (k, e)
        })
        .collect();
    let mut latency = histogram();
    let mut wait = histogram();
    for r in records {
        add_sparse(&mut latency, &r.latency_us);
        add_sparse(&mut wait, &r.pool_wait_us);
    }
    let q = |h: &hdrhistogram::Histogram<u64>, q: f64| (!h.is_empty()).then(|| h.value_at_quantile(q) as f64 / 1e6);
    let traces: String = records.iter().map(|r| r.trace_fingerprint.as_str()).collect::<Vec<_>>().join(",");
    let trace_hash = crate::engine::rng::fnv1a(traces.as_bytes());
    let latencies: Vec<&[(u64, u64)]> = records.iter().map(|r| r.latency_us.as_slice()).collect();
    PointStats {
        metrics,
        model_fingerprint: records.first().map(|r| r.model_fingerprint.clone()).unwrap_or_default(),
        trace_fingerprint: format!("{trace_hash:016x}"),
        pooled: Pooled {
            // The bootstrap's stream comes from the runs themselves, so the
            // same runs always give the same interval.
            latency_p99: pooled_quantile(&latencies, 0.99, trace_hash),
            latency_p50_s: q(&latency, 0.5),
            latency_p95_s: q(&latency, 0.95),
            latency_p99_s: q(&latency, 0.99),
            latency_p999_s: q(&latency, 0.999),
            pool_wait_p99_s: q(&wait, 0.99),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Past 1000 degrees of freedom the normal quantile is used: at once,
    /// however large, and within 0.2% of Student's t at the switch.
    #[test]
    fn t_quantiles_at_huge_degrees_of_freedom_are_the_normal_ones_and_fast() {
        let started = std::time::Instant::now();
        let z = t_quantile(0.995, 2e9);
        assert!((z - 2.5758).abs() < 1e-3, "{z}");
        assert!(started.elapsed().as_millis() < 100);
        let (below, above) = (t_quantile(0.995, NORMAL_PAST_DF), t_quantile(0.995, NORMAL_PAST_DF + 1.0));
        assert!((below - above).abs() / above < 0.002, "{below} {above}");
    }

    #[test]
    fn student_t_interval() {
        // t(0.975, 4) = 2.776; values 1..5: mean 3, sd sqrt(2.5).
        let e = Estimate::of(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(e.mean, Some(3.0));
        approx::assert_abs_diff_eq!(e.ci95.unwrap(), 2.776445 * (2.5f64 / 5.0).sqrt(), epsilon = 1e-5);
        assert_eq!(Estimate::of(&[7.0]).ci95, None);
        assert_eq!(Estimate::of(&[]).mean, None);
    }
}
