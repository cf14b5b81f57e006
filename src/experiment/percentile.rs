//! A latency percentile over the requests of every replication pooled (their
//! histograms merged), with a 95% interval from a bootstrap over
//! replications.
//!
//! Why not the mean of per-run percentiles: at 1 req/s over 10 minutes a
//! run's p99 rests on its 6 slowest requests, so per-run values are noisy
//! and often bimodal (one run has a slow cold start, the next does not),
//! and their mean is not the p99 of anything. Pooling estimates the
//! percentile of the whole population of requests; resampling whole
//! replications (not requests) keeps what correlates requests within a run
//! (a stampede slows many at once) in the interval. With fewer than
//! [`MIN_BEYOND`] requests beyond the percentile, no interval is trusted
//! and the verdict says so. See docs/experiments.md.

use serde::Serialize;

use crate::engine::rng::splitmix64;

/// Fewer requests than this beyond a percentile, over all replications,
/// and it is not judged.
pub const MIN_BEYOND: u64 = 50;
/// Bootstrap resamples: the 2.5% and 97.5% ends rest on 25 of them each.
const RESAMPLES: usize = 1000;

/// A pooled percentile and its interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PooledQuantile {
    /// The quantile, e.g. 0.99.
    pub q: f64,
    /// The pooled value, seconds.
    pub value_s: f64,
    /// The 95% bootstrap interval (percentile method), seconds; `None`
    /// with a single replication.
    pub ci95_s: Option<(f64, f64)>,
    /// Requests ranked beyond the percentile, over all replications.
    pub beyond: u64,
    /// Requests measured, over all replications.
    pub requests: u64,
}

impl PooledQuantile {
    /// Whether enough requests lie beyond the percentile to judge it.
    pub fn judgeable(&self) -> bool {
        self.beyond >= MIN_BEYOND
    }
}

/// The rank (1-based) of quantile `q` among `n` values, as hdrhistogram
/// takes it.
fn rank(q: f64, n: u64) -> u64 {
    ((q * n as f64).ceil() as u64).clamp(1, n)
}

/// Quantile `q` of the replications' histograms (each sparse: (value in
/// µs, count), values ascending), bootstrapped with the random stream
/// `seed`. `None` when no replication has a request.
pub fn pooled_quantile(reps: &[&[(u64, u64)]], q: f64, seed: u64) -> Option<PooledQuantile> {
    let mut values: Vec<u64> = reps.iter().flat_map(|r| r.iter().map(|&(v, _)| v)).collect();
    values.sort_unstable();
    values.dedup();
    if values.is_empty() {
        return None;
    }
    // cum[r][k]: requests of replication r at or below values[k]. Each row
    // rises with k, so any weighted sum of rows does too, and a resample's
    // quantile is found by bisection over k.
    let cum: Vec<Vec<u64>> = reps
        .iter()
        .map(|r| {
            let mut row = Vec::with_capacity(values.len());
            let (mut i, mut acc) = (0, 0);
            for &v in &values {
                while i < r.len() && r[i].0 <= v {
                    acc += r[i].1;
                    i += 1;
                }
                row.push(acc);
            }
            row
        })
        .collect();
    let weights_all = vec![1u64; reps.len()];
    let at = |weights: &[u64]| -> Option<u64> {
        let total: u64 = weights.iter().zip(&cum).map(|(w, row)| w * row[row.len() - 1]).sum();
        if total == 0 {
            return None;
        }
        let want = rank(q, total);
        let below = |k: usize| weights.iter().zip(&cum).map(|(w, row)| w * row[k]).sum::<u64>() < want;
        // The first k with `want` requests at or below it; the last has all.
        let (mut lo, mut hi) = (0, values.len() - 1);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if below(mid) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Some(values[lo])
    };
    let value = at(&weights_all)?;
    let requests: u64 = cum.iter().map(|row| row[row.len() - 1]).sum();
    let beyond = requests - rank(q, requests);
    let ci95_s = (reps.len() >= 2).then(|| {
        let mut state = seed;
        let mut weights = vec![0u64; reps.len()];
        let mut draws: Vec<u64> = Vec::with_capacity(RESAMPLES);
        for _ in 0..RESAMPLES {
            weights.iter_mut().for_each(|w| *w = 0);
            for _ in 0..reps.len() {
                // Multiply-shift maps 64 random bits onto 0..n without bias
                // worth noting (n is at most thousands).
                let i = ((u128::from(splitmix64(&mut state)) * reps.len() as u128) >> 64) as usize;
                weights[i] += 1;
            }
            // A resample of only empty replications has no quantile; it
            // counts as the pooled value (it cannot widen the interval).
            draws.push(at(&weights).unwrap_or(value));
        }
        draws.sort_unstable();
        let end = |p: f64| draws[((p * RESAMPLES as f64) as usize).min(RESAMPLES - 1)] as f64 / 1e6;
        (end(0.025), end(0.975))
    });
    Some(PooledQuantile { q, value_s: value as f64 / 1e6, ci95_s, beyond, requests })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Requests 1..=n µs, one each: the p99 is the value of rank ⌈0.99 n⌉.
    fn uniform(from: u64, n: u64) -> Vec<(u64, u64)> {
        (from..from + n).map(|v| (v, 1)).collect()
    }

    #[test]
    fn the_pooled_p99_of_known_values_is_their_rank_ceil_q_n() {
        // Two replications: 1..=1000 and 1001..=2000 µs; pooled 1..=2000,
        // p99 = rank 1980 = 1980 µs, 20 requests beyond it.
        let (a, b) = (uniform(1, 1000), uniform(1001, 1000));
        let p = pooled_quantile(&[&a, &b], 0.99, 1).unwrap();
        assert_eq!(p.value_s, 1980e-6);
        assert_eq!((p.beyond, p.requests), (20, 2000));
        assert!(!p.judgeable(), "20 beyond p99 is fewer than {MIN_BEYOND}");
        // Resamples are {a,a} (p99 990), {a,b} (1980) or {b,b} (1990): the
        // interval spans from the lowest to the highest.
        let (lo, hi) = p.ci95_s.unwrap();
        assert_eq!((lo, hi), (990e-6, 1990e-6));
    }

    #[test]
    fn identical_replications_give_a_zero_width_interval_and_one_gives_none() {
        let a = uniform(1, 10_000);
        let p = pooled_quantile(&[&a, &a, &a], 0.99, 7).unwrap();
        assert_eq!(p.value_s, 9900e-6);
        assert_eq!(p.ci95_s, Some((9900e-6, 9900e-6)));
        assert_eq!(p.beyond, 300);
        assert!(p.judgeable());
        assert_eq!(pooled_quantile(&[&a], 0.99, 7).unwrap().ci95_s, None);
        assert_eq!(pooled_quantile(&[&[], &[]], 0.99, 7), None);
    }

    #[test]
    fn the_same_seed_gives_the_same_interval() {
        let reps: Vec<Vec<(u64, u64)>> = (0..10).map(|r| uniform(1 + 37 * r, 500 + 11 * r)).collect();
        let refs: Vec<&[(u64, u64)]> = reps.iter().map(Vec::as_slice).collect();
        assert_eq!(pooled_quantile(&refs, 0.99, 42), pooled_quantile(&refs, 0.99, 42));
    }
}
