//! The Kolmogorov–Smirnov distance between samples and a distribution, and
//! its asymptotic p-value.

/// D = sup_x |F_n(x) − F(x)| for sorted samples and a continuous CDF `cdf`:
/// the supremum is reached at a sample, just before or at its jump, so
/// D = max_i max(i/n − F(x_(i)), F(x_(i)) − (i−1)/n).
pub fn distance(sorted: &[f64], cdf: impl Fn(f64) -> f64) -> f64 {
    let n = sorted.len() as f64;
    sorted
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let f = cdf(x);
            (((i + 1) as f64 / n) - f).max(f - i as f64 / n)
        })
        .fold(0.0, f64::max)
}

/// D between the samples' step function and that of `table`, a
/// distribution putting mass 1/k on each of its k (sorted) values. Both are
/// right-continuous steps that jump only at their own values, so the
/// supremum is reached at one of those values (or just before it, which is
/// the value at the previous one).
pub fn distance_to_table(sorted: &[f64], table: &[f64]) -> f64 {
    let (n, k) = (sorted.len(), table.len());
    let (mut i, mut j, mut d) = (0usize, 0usize, 0.0f64);
    while i < n || j < k {
        let x = match (sorted.get(i), table.get(j)) {
            (Some(&a), Some(&b)) => a.min(b),
            (Some(&a), None) => a,
            (None, Some(&b)) => b,
            (None, None) => break,
        };
        while i < n && sorted[i] <= x {
            i += 1;
        }
        while j < k && table[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / n as f64 - j as f64 / k as f64).abs());
    }
    d
}

/// P(D_n ≥ `d`) for `n` samples from the distribution tested, by the
/// asymptotic Kolmogorov distribution with Stephens' small-sample
/// correction:
///
/// Q_KS(λ) = 2 Σ_{j≥1} (−1)^{j−1} e^{−2j²λ²},  λ = (√n + 0.12 + 0.11/√n)·D
///
/// (Kolmogorov 1933; the correction is Stephens, JRSS B 32 (1970); the
/// form is Numerical Recipes, 3rd ed., §14.3.3, eqs. 14.3.13 and 14.3.18).
/// For λ < 1.18 the alternating series converges slowly and the equivalent
/// 1 − (√(2π)/λ) Σ_{j≥1} e^{−(2j−1)²π²/(8λ²)} is summed instead.
///
/// The distribution must be fixed in advance: with its parameters
/// estimated from the same samples the true p-value is smaller (Lilliefors,
/// JASA 62 (1967)), so this one errs on the side of "fits".
pub fn p_value(d: f64, n: usize) -> f64 {
    let sqrt_n = (n as f64).sqrt();
    kolmogorov_q((sqrt_n + 0.12 + 0.11 / sqrt_n) * d)
}

/// Q_KS(λ) = P(K > λ) for Kolmogorov's K = sup |Brownian bridge|.
pub fn kolmogorov_q(lambda: f64) -> f64 {
    if lambda.is_nan() || lambda <= 0.0 {
        return 1.0;
    }
    let q = if lambda < 1.18 {
        let c = std::f64::consts::PI * std::f64::consts::PI / (8.0 * lambda * lambda);
        let sum: f64 = (1..=8).map(|j| (-((2 * j - 1) as f64).powi(2) * c).exp()).sum();
        1.0 - (2.0 * std::f64::consts::PI).sqrt() / lambda * sum
    } else {
        let sum: f64 = (1..=8)
            .map(|j| {
                let term = (-2.0 * (j * j) as f64 * lambda * lambda).exp();
                if j % 2 == 1 { term } else { -term }
            })
            .sum();
        2.0 * sum
    };
    q.clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kolmogorov_distribution_matches_its_tables() {
        // The classic critical values: P(K > 1.3581) = 0.05, P(K > 1.6276) =
        // 0.01, P(K > 1.2238) = 0.10 (Smirnov's table); and Q(0.5) = 0.9639,
        // Q(1) = 0.2700 from the series itself.
        for (lambda, q) in [(1.3581, 0.05), (1.6276, 0.01), (1.2238, 0.10), (0.5, 0.963_945), (1.0, 0.269_999)] {
            assert!((kolmogorov_q(lambda) - q).abs() < 2e-4, "Q({lambda}) = {} not {q}", kolmogorov_q(lambda));
        }
        // The two series agree where they meet.
        let c = std::f64::consts::PI * std::f64::consts::PI / (8.0 * 1.18 * 1.18);
        let low = 1.0
            - (2.0 * std::f64::consts::PI).sqrt() / 1.18
                * (1..=8).map(|j| (-((2 * j - 1) as f64).powi(2) * c).exp()).sum::<f64>();
        assert!((low - kolmogorov_q(1.18)).abs() < 1e-12);
        assert_eq!(kolmogorov_q(0.0), 1.0);
        assert!(kolmogorov_q(10.0) < 1e-80);
    }

    #[test]
    fn distances() {
        // Four samples against U(0, 1): F_n jumps by 1/4 at each.
        let d = distance(&[0.1, 0.4, 0.6, 0.9], |x| x.clamp(0.0, 1.0));
        assert!((d - 0.15).abs() < 1e-12, "{d}");
        // A table made of the samples themselves is at distance 0, and one
        // of every other sample at 1/4 (the steps of 2 samples vs 1 value).
        assert_eq!(distance_to_table(&[1.0, 2.0, 3.0, 4.0], &[1.0, 2.0, 3.0, 4.0]), 0.0);
        assert!((distance_to_table(&[1.0, 2.0, 3.0, 4.0], &[2.0, 4.0]) - 0.25).abs() < 1e-12);
        assert!((distance_to_table(&[1.0, 1.0, 1.0, 4.0], &[1.0, 4.0]) - 0.25).abs() < 1e-12);
    }
}
