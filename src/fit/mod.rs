//! Latency distributions fitted to measured durations (`cachesim fit`):
//! LogNormal and Exponential by maximum likelihood, an Empirical table of
//! quantiles, each with its Kolmogorov–Smirnov distance and p-value, written
//! in the model files' syntax. Nothing here reads files or prints.

pub mod ks;
pub mod samples;

use statrs::function::erf::erfc;

use crate::config::{Dur, Latency, Z99, lognormal_params};
use crate::engine::SimDuration;

pub use samples::{Samples, parse_samples};

/// A fit is said to fit when its KS p-value is at least this.
pub const ALPHA: f64 = 0.05;

/// The Empirical table's default number of quantiles.
pub const DEFAULT_QUANTILES: usize = 100;

/// Significant digits of a fitted parameter as printed: a relative
/// rounding of at most 5·10⁻⁵, below the standard error of any fit to
/// fewer than 10⁸ samples.
const DIGITS: i32 = 5;

/// How well one distribution describes the samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Goodness {
    /// The Kolmogorov–Smirnov distance sup |F_n − F|.
    pub d: f64,
    /// Its asymptotic p-value (see [`ks::p_value`]).
    pub p: f64,
}

/// One fitted family.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    /// `LogNormal`, `Exponential` or `Empirical`.
    pub family: &'static str,
    /// The distribution as a model file writes it; `None` when the family
    /// cannot describe the samples (see `note`).
    pub latency: Option<Latency>,
    /// How it was fitted (estimates and standard errors), or why it was not.
    pub note: String,
    /// Its goodness of fit (of the printed, rounded parameters).
    pub goodness: Option<Goodness>,
}

/// Everything `cachesim fit` says about a set of samples.
#[derive(Debug, Clone, PartialEq)]
pub struct FitReport {
    /// How many values.
    pub n: usize,
    /// Smallest, median and largest value and the mean, in seconds.
    pub min: f64,
    pub median: f64,
    pub max: f64,
    pub mean: f64,
    /// `Constant` when every value is the same (then nothing else is fitted).
    pub constant: Option<Latency>,
    /// LogNormal, Exponential, Empirical, in that order (empty for a constant).
    pub fits: Vec<Fit>,
    /// Which to use, in a sentence.
    pub hint: String,
}

/// Fits the three families to `values` (seconds, at least two, none
/// negative; taken to the nanosecond); the Empirical table has at most
/// `quantiles` values.
pub fn fit(values: &[f64], quantiles: usize) -> FitReport {
    // To the nanosecond, as the simulator and the printed values have them.
    let mut sorted: Vec<f64> = values.iter().map(|&x| dur(x).as_secs_f64()).collect();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let mean = sorted.iter().sum::<f64>() / n as f64;
    let (min, max) = (sorted[0], sorted[n - 1]);
    let median = if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 };
    let mut report = FitReport { n, min, median, max, mean, constant: None, fits: Vec::new(), hint: String::new() };
    if min == max {
        report.constant = Some(Latency::Constant(dur(min)));
        report.hint = format!("All {n} values are {}: use Constant(\"{}\").", dur(min), dur(min));
        return report;
    }
    report.fits = vec![lognormal(&sorted), exponential(&sorted, mean), empirical(&sorted, quantiles.max(1))];
    report.hint = hint(&report.fits);
    report
}

/// ln X ~ Normal(μ, σ²): the maximum-likelihood estimates are the mean of
/// ln x and the root mean square deviation from it (over n, not n − 1),
/// with standard errors σ/√n and σ/√(2n) (the inverse Fisher information).
fn lognormal(sorted: &[f64]) -> Fit {
    let n = sorted.len();
    let zeros = sorted.iter().take_while(|&&x| x <= 0.0).count();
    let mut fit = Fit { family: "LogNormal", latency: None, note: String::new(), goodness: None };
    if zeros > 0 {
        fit.note = format!("does not apply: {zeros} of the {n} values are 0, which a log-normal never gives");
        return fit;
    }
    let logs: Vec<f64> = sorted.iter().map(|x| x.ln()).collect();
    let mu = logs.iter().sum::<f64>() / n as f64;
    let sigma = (logs.iter().map(|l| (l - mu).powi(2)).sum::<f64>() / n as f64).sqrt();
    let (se_mu, se_sigma) = (sigma / (n as f64).sqrt(), sigma / (2.0 * n as f64).sqrt());
    // The median and p99 as written, at DIGITS significant digits, or to
    // the nanosecond if that rounding would merge them.
    let (mut median, mut p99) = (dur(round_sig(mu.exp())), dur(round_sig((mu + Z99 * sigma).exp())));
    if p99 <= median {
        (median, p99) = (dur(mu.exp()), dur((mu + Z99 * sigma).exp()));
    }
    fit.note = format!(
        "maximum likelihood: mu = ln(median/1s) = {} ± {}, sigma = {} ± {} (ln seconds; ± one standard error)",
        sig(mu, 5),
        sig(se_mu, 2),
        sig(sigma, 5),
        sig(se_sigma, 2)
    );
    if median.is_zero() || p99 <= median {
        fit.note = format!("does not apply: sigma = {} is too small to write (use Constant)", sig(sigma, 3));
        return fit;
    }
    let (m, s) = lognormal_params(median, p99);
    let d =
        ks::distance(
            sorted,
            |x| if x <= 0.0 { 0.0 } else { 0.5 * erfc(-(x.ln() - m) / (s * std::f64::consts::SQRT_2)) },
        );
    fit.goodness = Some(Goodness { d, p: ks::p_value(d, n) });
    fit.latency = Some(Latency::LogNormal { median, p99 });
    fit
}

/// The maximum-likelihood mean of an exponential is the sample mean, with
/// standard error mean/√n.
fn exponential(sorted: &[f64], mean: f64) -> Fit {
    let n = sorted.len();
    let written = dur(round_sig(mean));
    let m = written.as_secs_f64();
    let d = ks::distance(sorted, |x| if x <= 0.0 { 0.0 } else { 1.0 - (-x / m).exp() });
    Fit {
        family: "Exponential",
        latency: Some(Latency::Exponential { mean: written }),
        note: format!("maximum likelihood: mean = {}s ± {}s", sig(mean, 5), sig(mean / (n as f64).sqrt(), 2)),
        goodness: Some(Goodness { d, p: ks::p_value(d, n) }),
    }
}

/// `k` = min(n, `quantiles`) values, each equally likely: the samples'
/// quantiles at probabilities (i − ½)/k, i = 1..k, each an actual sample
/// (x_(⌈n(i−½)/k⌉), the inverse of the samples' step function). With n ≤ k
/// they are the samples themselves.
fn empirical(sorted: &[f64], quantiles: usize) -> Fit {
    let n = sorted.len();
    let k = n.min(quantiles);
    let table: Vec<Dur> = (0..k)
        .map(|i| {
            let rank = ((n as f64) * (i as f64 + 0.5) / k as f64).ceil() as usize;
            dur(sorted[rank.clamp(1, n) - 1])
        })
        .collect();
    let secs: Vec<f64> = table.iter().map(|d| d.as_secs_f64()).collect();
    let d = ks::distance_to_table(sorted, &secs);
    let note = if k == n {
        format!("the {n} values themselves, each equally likely")
    } else {
        format!("{k} quantiles at probabilities (i - 0.5)/{k}, each an actual sample, each equally likely")
    };
    Fit {
        family: "Empirical",
        latency: Some(Latency::Empirical { samples: table }),
        note,
        goodness: Some(Goodness { d, p: ks::p_value(d, n) }),
    }
}

/// "LogNormal fits (KS p = 0.43); Exponential does not (p < 0.001); ...".
fn hint(fits: &[Fit]) -> String {
    let mut tested: Vec<(&str, f64)> = fits
        .iter()
        .filter(|f| f.family != "Empirical")
        .filter_map(|f| Some((f.family, f.goodness.as_ref()?.p)))
        .collect();
    tested.sort_by(|a, b| b.1.total_cmp(&a.1));
    let empirical = fits.iter().find(|f| f.family == "Empirical").and_then(|f| match &f.latency {
        Some(Latency::Empirical { samples }) => Some(samples.len()),
        _ => None,
    });
    let table = match empirical {
        Some(k) => format!("Empirical reproduces the samples exactly at its {k} quantiles"),
        None => "Empirical reproduces the samples".to_string(),
    };
    let absent: Vec<String> = fits
        .iter()
        .filter(|f| f.family != "Empirical" && f.goodness.is_none())
        .map(|f| format!("{} {}", f.family, f.note))
        .collect();
    let mut parts = Vec::new();
    match tested.as_slice() {
        [(best, p), rest @ ..] if *p >= ALPHA => {
            parts.push(format!("{best} fits (KS p = {})", p_text(*p)));
            for (other, q) in rest {
                if *q >= ALPHA {
                    parts.push(format!("{other} fits too, less well (p = {})", p_text(*q)));
                } else {
                    parts.push(format!("{other} does not (p {})", p_rel(*q)));
                }
            }
            parts.extend(absent);
            parts.push(table);
            format!("{}. Use {best}.", parts.join("; "))
        }
        _ => {
            let named: Vec<String> = tested.iter().map(|(f, p)| format!("{f} (KS p {})", p_rel(*p))).collect();
            let none = match named.as_slice() {
                [] => String::new(),
                [one] => format!("{one} does not fit; "),
                many => format!("neither {} fits; ", many.join(" nor ")),
            };
            parts.extend(absent);
            let absent = if parts.is_empty() { String::new() } else { format!("{}; ", parts.join("; ")) };
            let text = format!("{none}{absent}use Empirical: it reproduces the samples exactly at its quantiles.");
            let mut chars = text.chars();
            chars.next().map_or(String::new(), |c| c.to_uppercase().chain(chars).collect())
        }
    }
}

/// A p-value as a hint says it: "0.43", "0.012", "< 0.001".
pub fn p_text(p: f64) -> String {
    if p < 0.001 { "< 0.001".into() } else { sig(p, 2) }
}

/// "= 0.43" or "< 0.001".
fn p_rel(p: f64) -> String {
    if p < 0.001 { "< 0.001".into() } else { format!("= {}", sig(p, 2)) }
}

/// `x` seconds as a duration, to the nearest nanosecond.
fn dur(x: f64) -> Dur {
    Dur(SimDuration::from_secs_f64(x))
}

/// `x` rounded to [`DIGITS`] significant digits.
fn round_sig(x: f64) -> f64 {
    round_to(x, DIGITS)
}

/// `x` rounded to `digits` significant digits.
pub fn round_to(x: f64, digits: i32) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(digits - 1 - x.abs().log10().floor() as i32);
    (x * scale).round() / scale
}

/// `x` with `digits` significant digits, without trailing zeros.
pub fn sig(x: f64, digits: usize) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let decimals = (digits as i32 - 1 - x.abs().log10().floor() as i32).max(0) as usize;
    let text = format!("{x:.decimals$}");
    if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_string() } else { text }
}

/// A latency distribution in the model files' syntax, e.g.
/// `LogNormal(median: "1s", p99: "2.5s")`, its durations as [`readable`].
pub fn to_ron(latency: &Latency) -> String {
    let r = |d: &Dur| readable(*d);
    match latency {
        Latency::Constant(d) => format!("Constant(\"{}\")", r(d)),
        Latency::Exponential { mean } => format!("Exponential(mean: \"{}\")", r(mean)),
        Latency::LogNormal { median, p99 } => format!("LogNormal(median: \"{}\", p99: \"{}\")", r(median), r(p99)),
        Latency::Uniform { low, high } => format!("Uniform(low: \"{}\", high: \"{}\")", r(low), r(high)),
        Latency::Empirical { samples } => {
            let list: Vec<String> = samples.iter().map(|d| format!("\"{}\"", r(d))).collect();
            format!("Empirical(samples: [{}])", list.join(", "))
        }
    }
}

/// A duration exactly, in the unit that puts it between 1 and 1000 (or
/// seconds from 1s up): "999.34ms", "1.9932s", "57.814us", "90s".
pub fn readable(d: Dur) -> String {
    let ns = d.nanos();
    let (unit, scale) = match ns {
        0..1_000 => ("ns", 1),
        1_000..1_000_000 => ("us", 1_000),
        1_000_000..1_000_000_000 => ("ms", 1_000_000),
        _ => ("s", 1_000_000_000u64),
    };
    let (whole, rest) = (ns / scale, ns % scale);
    let digits = scale.ilog10() as usize;
    let text = if rest == 0 {
        format!("{whole}{unit}")
    } else {
        format!("{whole}.{}{unit}", format!("{rest:0digits$}").trim_end_matches('0'))
    };
    // The parser reads the number as a float: keep the form only if it
    // reads back exactly (it does below about 10^15 ns).
    if text.parse::<Dur>() == Ok(d) { text } else { d.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_ron;

    #[test]
    fn written_distributions_parse_back() {
        for l in [
            Latency::Constant(Dur::millis(12)),
            Latency::Exponential { mean: Dur(SimDuration(1_234_567)) },
            Latency::LogNormal { median: Dur(SimDuration(1_000_100_000)), p99: Dur::secs(2) },
            Latency::Empirical { samples: vec![Dur::millis(1), Dur(SimDuration(1_500_000_001))] },
        ] {
            let text = to_ron(&l);
            assert_eq!(parse_ron::<Latency>(&text, "t").unwrap(), l, "{text}");
        }
    }

    #[test]
    fn rounding_and_numbers() {
        assert_eq!(round_sig(1.234_567), 1.2346);
        assert_eq!(round_sig(0.000_123_456_7), 0.000_123_46);
        assert_eq!(sig(0.4321, 2), "0.43");
        assert_eq!(sig(12.0, 3), "12");
        assert_eq!(p_text(0.0004), "< 0.001");
        for (ns, text) in [
            (999_340_000, "999.34ms"),
            (1_993_200_000, "1.9932s"),
            (57_814, "57.814us"),
            (90_000_000_000, "90s"),
            (1_500_000_001, "1.500000001s"),
            (7, "7ns"),
            (0, "0ns"),
        ] {
            assert_eq!(readable(Dur(SimDuration(ns))), text);
        }
    }

    #[test]
    fn degenerate_samples() {
        let r = fit(&[0.5, 0.5, 0.5], 100);
        assert_eq!(r.constant, Some(Latency::Constant(Dur::millis(500))));
        assert!(r.hint.contains("Constant(\"500ms\")"), "{}", r.hint);
        // Zeros rule out a log-normal, and the hint says so.
        let r = fit(&[0.0, 0.1, 0.2, 0.3], 100);
        assert!(r.fits[0].latency.is_none());
        assert!(r.hint.contains("LogNormal does not apply"), "{}", r.hint);
        // Few samples: the table is the samples, at distance 0.
        let Some(Latency::Empirical { samples }) = &r.fits[2].latency else { panic!() };
        assert_eq!(samples.len(), 4);
        assert_eq!(r.fits[2].goodness.as_ref().unwrap().d, 0.0);
    }
}
