//! Expectations written in an experiment file, checked by `cachesim check`:
//!
//! ```ron
//! expect: [
//!     (model: "reference_locked", at: {"workload.rate": 100}, metric: "latency_s.p99", below: "2s"),
//!     (model: "reference_locked", at: {"workload.rate": 100}, metric: "requests.errors.pool_timeout", equals: 0),
//!     (model: "locked_tuned", at: {"workload.rate": 500}, verdict_at_least: READY),
//! ]
//! ```
//!
//! A metric is compared by its mean over the replications (`<key>.pooled`
//! reads a percentile pooled over all of them); durations are seconds.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::analysis::PointResult;
use super::plan::Plan;
use super::spec::GridValue;
use super::verdict::Level;
use crate::config::{Dur, did_you_mean};

/// One expectation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// The model's name.
    pub model: String,
    /// The grid point: a value for each axis (axes left out must have one value).
    #[serde(default)]
    pub at: BTreeMap<String, GridValue>,
    /// A metric key, as in `--json` (`latency_s.p99`, `requests.errors.pool_timeout`).
    #[serde(default)]
    pub metric: Option<String>,
    /// The metric's mean must be below this (a number, or a duration for seconds).
    #[serde(default)]
    pub below: Option<GridValue>,
    /// ... above this.
    #[serde(default)]
    pub above: Option<GridValue>,
    /// ... equal to this (within 1e-9, relative).
    #[serde(default)]
    pub equals: Option<GridValue>,
    /// The point's verdict must be this good or better.
    #[serde(default)]
    pub verdict_at_least: Option<Level>,
}

/// The outcome of one expectation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExpectationResult {
    /// What was expected, in words.
    pub name: String,
    pub passed: bool,
    /// What was observed.
    pub observed: String,
}

/// A number from an expectation: plain, or a duration in seconds.
/// Only finite numbers: `NaN` never compares, and an infinite bound holds
/// for every value or none.
fn number(v: &GridValue) -> Result<f64, String> {
    match v.0.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(x),
        Ok(_) => Err(format!("`{}` is not a finite number; give one like 0.01 or a duration like \"2s\"", v.0)),
        Err(_) => v.0.parse::<Dur>().map(Dur::as_secs_f64).map_err(|_| {
            format!("`{}` is neither a number (like 0.01) nor a duration (like \"2s\")", crate::config::cut(&v.0))
        }),
    }
}

fn same_value(a: &str, b: &str) -> bool {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

impl Expectation {
    /// A readable name: "reference_locked at workload.rate=100: latency_s.p99 below 2s".
    pub fn name(&self) -> String {
        let at: Vec<String> = self.at.iter().map(|(k, v)| format!("{k}={}", v.0)).collect();
        let mut s = self.model.clone();
        if !at.is_empty() {
            s += &format!(" at {}", at.join(", "));
        }
        s += ":";
        if let Some(m) = &self.metric {
            s += &format!(" {m}");
            for (word, v) in [("below", &self.below), ("above", &self.above), ("equals", &self.equals)] {
                if let Some(v) = v {
                    s += &format!(" {word} {}", v.0);
                }
            }
        }
        if let Some(level) = self.verdict_at_least {
            s += &format!(" verdict at least {level}");
        }
        s
    }

    /// Checks the expectation's shape and finds its point; `Err` is a
    /// message for the user (bad input).
    pub fn point(&self, plan: &Plan) -> Result<usize, String> {
        if self.metric.is_none() && self.verdict_at_least.is_none() {
            return Err(format!("{}: give a metric with below/above/equals, or verdict_at_least", self.name()));
        }
        if self.metric.is_some() && self.below.is_none() && self.above.is_none() && self.equals.is_none() {
            return Err(format!("{}: a metric needs below, above or equals", self.name()));
        }
        for v in [&self.below, &self.above, &self.equals].into_iter().flatten() {
            number(v).map_err(|e| format!("{}: {e}", self.name()))?;
        }
        let models: Vec<&str> = plan.points.iter().map(|p| p.model.as_str()).collect();
        if !models.contains(&self.model.as_str()) {
            let hint = did_you_mean(&self.model, models.iter().copied())
                .map(|m| format!("; did you mean `{m}`?"))
                .unwrap_or_default();
            return Err(format!("no model named `{}` in this experiment{hint}", self.model));
        }
        for path in self.at.keys() {
            if !plan.axes.contains(path) {
                return Err(format!("`{path}` is not an axis of the grid (axes: {})", plan.axes.join(", ")));
            }
        }
        let matches: Vec<usize> = plan
            .points
            .iter()
            .filter(|p| p.model == self.model)
            .filter(|p| {
                self.at.iter().all(|(path, want)| p.params.iter().any(|(k, v)| k == path && same_value(v, &want.0)))
            })
            .map(|p| p.index)
            .collect();
        match matches.as_slice() {
            [one] => Ok(*one),
            [] => Err(format!("{}: no grid point has these values", self.name())),
            _ => Err(format!("{}: {} grid points match; give a value for every axis", self.name(), matches.len())),
        }
    }

    /// Evaluates the expectation on its point's result.
    pub fn evaluate(&self, result: &PointResult) -> Result<ExpectationResult, String> {
        let mut passed = true;
        let mut observed = Vec::new();
        if let Some(metric) = &self.metric {
            let (value, spread) = match metric.strip_suffix(".pooled") {
                Some(base) => (pooled(result, base)?, None),
                None => {
                    let e = result.stats.get(metric).ok_or_else(|| {
                        let keys = result.stats.metrics.iter().map(|(k, _)| k.as_str());
                        let hint =
                            did_you_mean(metric, keys).map(|m| format!("; did you mean `{m}`?")).unwrap_or_default();
                        format!("no metric `{metric}`{hint}")
                    })?;
                    (e.mean, e.ci95)
                }
            };
            match value {
                None => {
                    passed = false;
                    observed.push(format!("{metric} has no value (no successful request?)"));
                }
                Some(v) => {
                    if let Some(b) = &self.below {
                        passed &= v < number(b)?;
                    }
                    if let Some(a) = &self.above {
                        passed &= v > number(a)?;
                    }
                    if let Some(e) = &self.equals {
                        let want = number(e)?;
                        passed &= approx::relative_eq!(v, want, max_relative = 1e-9, epsilon = 1e-12);
                    }
                    let spread = spread.map(|h| format!(" ± {h:.6}")).unwrap_or_default();
                    observed.push(format!("{metric} = {v:.6}{spread}"));
                }
            }
        }
        if let Some(want) = self.verdict_at_least {
            let got = result.verdict.level;
            passed &= got <= want;
            let cause = result.verdict.cause.as_ref().map(|c| format!(" ({c})")).unwrap_or_default();
            observed.push(format!("verdict {got}{cause}"));
        }
        Ok(ExpectationResult { name: self.name(), passed, observed: observed.join("; ") })
    }
}

/// The percentiles `<key>.pooled` can name.
const POOLED: [&str; 5] = ["latency_s.p50", "latency_s.p95", "latency_s.p99", "latency_s.p999", "pool.wait_p99_s"];

/// Checks that `metric` names one of `keys` (or a pooled percentile), with
/// the closest real key as a hint.
pub fn check_metric(metric: &str, keys: &[String]) -> Result<(), String> {
    if let Some(base) = metric.strip_suffix(".pooled") {
        if POOLED.contains(&base) {
            return Ok(());
        }
        let hint = did_you_mean(base, POOLED).map(|m| format!("; did you mean `{m}.pooled`?")).unwrap_or_default();
        return Err(format!("no pooled percentile `{metric}` (latency_s.p50/p95/p99/p999, pool.wait_p99_s){hint}"));
    }
    if keys.iter().any(|k| k == metric) {
        return Ok(());
    }
    let hint = did_you_mean(metric, keys.iter().map(String::as_str))
        .map(|m| format!("; did you mean `{m}`?"))
        .unwrap_or_default();
    Err(format!("no metric `{metric}`{hint}"))
}

fn pooled(result: &PointResult, base: &str) -> Result<Option<f64>, String> {
    let p = &result.stats.pooled;
    Ok(match base {
        "latency_s.p50" => p.latency_p50_s,
        "latency_s.p95" => p.latency_p95_s,
        "latency_s.p99" => p.latency_p99_s,
        "latency_s.p999" => p.latency_p999_s,
        "pool.wait_p99_s" => p.pool_wait_p99_s,
        other => {
            return Err(format!("no pooled percentile `{other}.pooled` (latency_s.p50/p95/p99/p999, pool.wait_p99_s)"));
        }
    })
}
