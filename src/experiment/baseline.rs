//! Baselines: a stored copy of an experiment's per-point results, and the
//! comparison that tells CI whether predictions moved, by how much, and
//! whether the model or the simulator changed.
//!
//! A metric moved when its means differ by more than the 99% interval of
//! their difference (Welch: t at the combined degrees of freedom times the
//! combined standard error, each side's standard error recovered from its
//! stored 95% half-width). A metric whose replications all agree (half-width
//! 0, e.g. a deterministic count) must match to 1e-9 relative. 99% rather
//! than 95% because a baseline has hundreds of metrics: with unchanged
//! inputs the results are bit-identical anyway, so this level only matters
//! when something did change.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::analysis::PointResult;
use super::plan::Plan;
use super::stats::t_975;
use crate::config::ConfigError;
use crate::error::AppError;

/// A metric as stored: mean, 95% half-width, replications.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stored {
    pub mean: Option<f64>,
    pub ci95: Option<f64>,
    /// Replications, at most [`MAX_RUNS`](super::plan::MAX_RUNS): checked
    /// as the file is read, so the error has its line and column.
    #[serde(deserialize_with = "replications")]
    pub n: usize,
}

fn replications<'de, D: serde::Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let n = u64::deserialize(d)?;
    let max = super::plan::MAX_RUNS;
    usize::try_from(n).ok().filter(|&n| n <= max).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "`n` (replications) is between 0 and {max} (an experiment's most runs), e.g. 10, not {n}"
        ))
    })
}

/// One point as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselinePoint {
    pub model: String,
    pub params: Vec<(String, String)>,
    pub model_fingerprint: String,
    pub trace_fingerprint: String,
    pub metrics: BTreeMap<String, Stored>,
}

/// A baseline file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub cachesim_version: String,
    pub experiment: String,
    pub points: Vec<BaselinePoint>,
}

impl Baseline {
    /// The baseline of these results.
    pub fn of(plan: &Plan, results: &[PointResult]) -> Baseline {
        Baseline {
            cachesim_version: env!("CARGO_PKG_VERSION").into(),
            experiment: plan.spec.name.clone(),
            points: results.iter().map(point_of).collect(),
        }
    }
}

fn point_of(r: &PointResult) -> BaselinePoint {
    BaselinePoint {
        model: r.model.clone(),
        params: r.params.clone(),
        model_fingerprint: r.stats.model_fingerprint.clone(),
        trace_fingerprint: r.stats.trace_fingerprint.clone(),
        metrics: r
            .stats
            .metrics
            .iter()
            .map(|(k, e)| (k.clone(), Stored { mean: e.mean, ci95: e.ci95, n: e.n }))
            .collect(),
    }
}

/// Reads a baseline; a missing or corrupt file is bad input.
pub fn load_baseline(path: &Path) -> Result<Baseline, AppError> {
    let origin = path.display().to_string();
    let text =
        crate::fsutil::read_input(path).map_err(|e| {
            AppError::Input(ConfigError::new(&origin, format!("cannot read the baseline: {e}")).with_hint(Some(
                "create one with `cachesim check EXPERIMENT --baseline FILE --update-baseline`".into(),
            )))
        })?;
    serde_json::from_str(&text).map_err(|e| {
        AppError::Input(
            ConfigError::new(
                &origin,
                format!("not a cachesim baseline (line {}, column {}): {e}", e.line(), e.column()),
            )
            .with_hint(Some("regenerate it with --update-baseline".into())),
        )
    })
}

/// What changed at one point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PointChange {
    /// "reference_locked at workload.rate=100".
    pub point: String,
    /// "identical", "the model changed", or "the simulator changed (same
    /// model, different event trace)".
    pub status: String,
    /// Metrics beyond tolerance, one line each.
    pub moved: Vec<String>,
}

/// The comparison of results with a baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub points: Vec<PointChange>,
    /// Points in one but not the other.
    pub unmatched: Vec<String>,
}

impl Comparison {
    /// Whether every metric is within tolerance and every point matched.
    pub fn holds(&self) -> bool {
        self.unmatched.is_empty() && self.points.iter().all(|p| p.moved.is_empty())
    }
}

fn label(model: &str, params: &[(String, String)]) -> String {
    if params.is_empty() {
        model.to_string()
    } else {
        let at: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{model} at {}", at.join(", "))
    }
}

/// Compares `results` with `baseline`.
pub fn compare(baseline: &Baseline, plan: &Plan, results: &[PointResult]) -> Comparison {
    let now: Vec<BaselinePoint> = Baseline::of(plan, results).points;
    let mut points = Vec::new();
    let mut unmatched = Vec::new();
    for old in &baseline.points {
        let Some(new) = now.iter().find(|p| p.model == old.model && p.params == old.params) else {
            unmatched.push(format!("{}: in the baseline, not in this run", label(&old.model, &old.params)));
            continue;
        };
        let status = if old.model_fingerprint != new.model_fingerprint {
            "the model changed"
        } else if old.trace_fingerprint != new.trace_fingerprint {
            "the simulator changed (same model, different event trace)"
        } else {
            "identical"
        };
        let mut moved = Vec::new();
        for (key, o) in &old.metrics {
            let Some(n) = new.metrics.get(key) else {
                moved.push(format!("{key}: in the baseline, not in this run"));
                continue;
            };
            if let Some(line) = movement(key, o, n) {
                moved.push(line);
            }
        }
        points.push(PointChange { point: label(&old.model, &old.params), status: status.into(), moved });
    }
    for new in &now {
        if !baseline.points.iter().any(|p| p.model == new.model && p.params == new.params) {
            unmatched.push(format!("{}: in this run, not in the baseline", label(&new.model, &new.params)));
        }
    }
    Comparison { points, unmatched }
}

/// The line describing a metric's move, if it moved beyond tolerance.
fn movement(key: &str, old: &Stored, new: &Stored) -> Option<String> {
    let (a, b) = match (old.mean, new.mean) {
        (None, None) => return None,
        (Some(a), Some(b)) => (a, b),
        (a, b) => return Some(format!("{key}: {a:?} -> {b:?}")),
    };
    let se = |s: &Stored| match (s.ci95, s.n) {
        (Some(h), n) if n >= 2 && h > 0.0 => Some((h / t_975(n - 1), n)),
        _ => None,
    };
    let relative = if a != 0.0 { format!(" ({:+.1}%)", (b - a) / a.abs() * 100.0) } else { String::new() };
    let sides: Vec<(f64, usize)> = [se(old), se(new)].into_iter().flatten().collect();
    if sides.is_empty() {
        return (!approx::relative_eq!(a, b, max_relative = 1e-9, epsilon = 1e-12)).then(|| {
            format!("{key}: {a:.6} -> {b:.6}{relative} (every replication agrees on both sides, so any change counts)")
        });
    }
    // A side whose replications all agree contributes no variance.
    let combined = sides.iter().map(|(s, _)| s * s).sum::<f64>().sqrt();
    let df = sides.iter().map(|(_, n)| (n - 1) as f64).sum::<f64>();
    let t = super::stats::t_quantile(0.995, df);
    // Never tighter than an exact match allows: replications that agree up
    // to floating-point rounding have a half-width of about 1e-17, and a
    // change of summation order must not count as a move.
    let allowed = (t * combined).max(1e-9 * a.abs().max(b.abs())).max(1e-12);
    ((b - a).abs() > allowed).then(|| {
        format!("{key}: {a:.6} -> {b:.6}{relative}, beyond the 99% interval of the difference (±{allowed:.6})")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(mean: f64, ci95: f64, n: usize) -> Stored {
        Stored { mean: Some(mean), ci95: Some(ci95), n }
    }

    #[test]
    fn moves_are_judged_against_the_combined_interval() {
        // n = 10 each, half-width 1.0: se = 1/2.262 = 0.442; combined 0.625;
        // t(0.995, 18) = 2.878, so up to 1.80 is noise.
        assert_eq!(movement("m", &s(10.0, 1.0, 10), &s(11.7, 1.0, 10)), None);
        assert!(movement("m", &s(10.0, 1.0, 10), &s(11.9, 1.0, 10)).unwrap().contains("+19.0%"));
        // One exact side: only the other's variance, t(0.995, 9) = 3.25,
        // so up to 1.44 is noise.
        assert_eq!(movement("m", &s(10.0, 1.0, 10), &s(11.4, 0.0, 10)), None);
        assert!(movement("m", &s(10.0, 1.0, 10), &s(11.5, 0.0, 10)).is_some());
        // Deterministic metrics must match exactly.
        assert_eq!(movement("m", &s(5.0, 0.0, 10), &s(5.0, 0.0, 10)), None);
        assert!(movement("m", &s(5.0, 0.0, 10), &s(5.0001, 0.0, 10)).is_some());
        assert!(movement("m", &Stored { mean: None, ci95: None, n: 0 }, &s(1.0, 0.1, 3)).is_some());
    }

    #[test]
    fn rounding_noise_within_an_exact_match_is_not_a_move() {
        // Replications agreeing to rounding (half-width 1e-17) and a mean
        // that moved by 2e-14 relative: within 1e-9, no move.
        assert_eq!(movement("m", &s(0.049999999999998816, 1e-17, 10), &s(0.05, 0.0, 10)), None);
        assert!(movement("m", &s(0.05, 1e-17, 10), &s(0.0501, 0.0, 10)).is_some());
    }
}
