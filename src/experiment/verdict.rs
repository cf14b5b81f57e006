//! Judging a point against the SLO, with the seed note's four levels.
//!
//! For each bound B of the SLO, with the metric's 95% interval [lo, hi] and
//! margin m:
//! - READY: hi ≤ (1 − m)·B (meets it with room to spare);
//! - NEEDS_TUNING: hi ≤ B (meets it, but close);
//! - RISKY: lo ≤ (1 + m)·B (misses it, or may: within the margin or noise);
//! - FAILS: lo > (1 + m)·B (clearly misses).
//!
//! A point's level is its worst bound's; its cause is that bound's metric.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::spec::Slo;
use super::stats::PointStats;
use crate::report::secs;

/// The four levels, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Level {
    Ready,
    NeedsTuning,
    Risky,
    Fails,
}

impl Level {
    /// The name used in files and tables.
    pub fn name(self) -> &'static str {
        match self {
            Level::Ready => "READY",
            Level::NeedsTuning => "NEEDS_TUNING",
            Level::Risky => "RISKY",
            Level::Fails => "FAILS",
        }
    }

    /// Whether the SLO is met.
    pub fn meets_slo(self) -> bool {
        self <= Level::NeedsTuning
    }

    /// The seed note's colour mark.
    pub fn mark(self) -> &'static str {
        match self {
            Level::Ready => "🟢",
            Level::NeedsTuning => "🟡",
            Level::Risky => "🟠",
            Level::Fails => "🔴",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A point's verdict and, unless READY, the bound that decided it, as
/// "<metric> <mean> ± <95% half-width> vs <bound>".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub level: Level,
    /// E.g. "pool_timeout 4.1% > 0.1%"; `None` when READY.
    pub cause: Option<String>,
}

/// A bound of the SLO: what it reads and how to show it.
struct Check {
    key: String,
    bound: f64,
    show: fn(f64) -> String,
    name: String,
}

fn percent(v: f64) -> String {
    let p = v * 100.0;
    let digits = if p == 0.0 || p.abs() >= 10.0 {
        1
    } else if p.abs() >= 0.1 {
        2
    } else {
        3
    };
    format!("{p:.digits$}%")
}

fn seconds(v: f64) -> String {
    secs(Some(v))
}

fn per_second(v: f64) -> String {
    format!("{v:.2}/s")
}

fn checks(slo: &Slo) -> Vec<Check> {
    let mut out = Vec::new();
    if let Some(p99) = slo.p99 {
        out.push(Check {
            key: "latency_s.p99".into(),
            bound: p99.as_secs_f64(),
            show: seconds,
            name: "p99 latency".into(),
        });
    }
    if let Some(rate) = slo.error_rate {
        out.push(Check { key: "requests.error_rate".into(), bound: rate, show: percent, name: "error rate".into() });
    }
    for (cause, &bound) in &slo.errors {
        out.push(Check { key: format!("requests.error_share.{cause}"), bound, show: percent, name: cause.clone() });
    }
    if let Some(b) = slo.backend_calls_per_s {
        out.push(Check { key: "backend.calls_per_s".into(), bound: b, show: per_second, name: "backend calls".into() });
    }
    out
}

/// Judges one point.
pub fn judge(slo: &Slo, stats: &PointStats) -> Verdict {
    let m = slo.margin;
    let mut worst: Option<(Level, String)> = None;
    for c in checks(slo) {
        let (level, text) = match stats.get(&c.key).and_then(|e| e.bounds().map(|b| (e.mean.unwrap_or(0.0), b))) {
            // No value at all: for latency, no request succeeded.
            None => (Level::Fails, format!("{}: no successful request to measure", c.name)),
            Some((mean, (lo, hi))) => {
                let level = if hi <= (1.0 - m) * c.bound {
                    Level::Ready
                } else if hi <= c.bound {
                    Level::NeedsTuning
                } else if lo <= (1.0 + m) * c.bound {
                    Level::Risky
                } else {
                    Level::Fails
                };
                let spread = if hi > mean { format!(" ± {}", (c.show)(hi - mean)) } else { String::new() };
                (level, format!("{} {}{spread} vs {}", c.name, (c.show)(mean), (c.show)(c.bound)))
            }
        };
        if worst.as_ref().is_none_or(|(w, _)| level > *w) {
            worst = Some((level, text));
        }
    }
    match worst {
        None | Some((Level::Ready, _)) => Verdict { level: Level::Ready, cause: None },
        Some((level, text)) => Verdict { level, cause: Some(text) },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Dur;
    use crate::experiment::stats::{Estimate, PointStats, Pooled};

    fn point(p99: &[f64], errors: &[f64]) -> PointStats {
        PointStats {
            metrics: vec![
                ("latency_s.p99".into(), Estimate::of(p99)),
                ("requests.error_rate".into(), Estimate::of(errors)),
            ],
            pooled: Pooled {
                latency_p50_s: None,
                latency_p95_s: None,
                latency_p99_s: None,
                latency_p999_s: None,
                pool_wait_p99_s: None,
            },
            model_fingerprint: String::new(),
            trace_fingerprint: String::new(),
        }
    }

    fn slo() -> Slo {
        Slo { p99: Some(Dur::secs(2)), error_rate: Some(0.01), margin: 0.2, ..Slo::default() }
    }

    #[test]
    fn levels_follow_the_bounds_and_the_margin() {
        assert_eq!(judge(&slo(), &point(&[1.0, 1.2, 1.1], &[0.0, 0.0])).level, Level::Ready);
        // Upper bound between 0.8·B and B.
        assert_eq!(judge(&slo(), &point(&[1.85, 1.9, 1.88], &[0.0, 0.0])).level, Level::NeedsTuning);
        // Mean above B, lower bound under 1.2·B.
        let v = judge(&slo(), &point(&[2.1, 2.3, 2.2], &[0.0, 0.0]));
        assert_eq!(v.level, Level::Risky);
        assert!(v.cause.as_deref().unwrap().starts_with("p99 latency 2.2s ± 248ms"), "{v:?}");
        assert!(v.cause.as_deref().unwrap().ends_with("vs 2s"), "{v:?}");
        // Clearly beyond 1.2·B.
        let v = judge(&slo(), &point(&[1.0, 1.0, 1.0], &[0.05, 0.055, 0.06]));
        assert_eq!(v.level, Level::Fails);
        assert!(v.cause.as_deref().unwrap().starts_with("error rate 5.50% ± "), "{v:?}");
    }

    #[test]
    fn the_worst_bound_decides_and_no_success_fails() {
        let v = judge(&slo(), &point(&[1.9, 1.9], &[0.5, 0.5]));
        assert_eq!(v.level, Level::Fails);
        assert!(v.cause.unwrap().starts_with("error rate"));
        let v = judge(&slo(), &point(&[], &[1.0, 1.0]));
        assert_eq!(v.level, Level::Fails);
        assert!(v.cause.unwrap().contains("p99 latency"));
        assert!(Level::NeedsTuning.meets_slo() && !Level::Risky.meets_slo());
    }
}
