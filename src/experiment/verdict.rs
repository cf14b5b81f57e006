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
//!
//! The p99 bound is judged on the requests of every replication pooled,
//! with a bootstrap interval (see `percentile`). With too few requests
//! beyond the p99 to judge it, the point is RISKY and says so, instead of
//! guessing. When the overall error rate decides, the cause names the
//! error that dominates it and its share.

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
    /// E.g. "pool_timeout 4.1% ± 0.3% vs 0.10%"; `None` when READY.
    pub cause: Option<String>,
    /// The deciding bound could not be judged on the requests measured
    /// (too few beyond the p99): run longer or add replications.
    pub inconclusive: bool,
}

/// A bound of the SLO: what it reads and how to show it.
struct Check {
    key: String,
    bound: f64,
    show: fn(f64) -> String,
    name: String,
}

/// How one bound came out: its level, the text that explains it, and
/// whether it was judged at all.
struct Outcome {
    level: Level,
    text: String,
    inconclusive: bool,
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

/// The level of a value whose 95% interval is `[lo, hi]`, against `bound`.
fn level_of(lo: f64, hi: f64, bound: f64, margin: f64) -> Level {
    if hi <= (1.0 - margin) * bound {
        Level::Ready
    } else if hi <= bound {
        Level::NeedsTuning
    } else if lo <= (1.0 + margin) * bound {
        Level::Risky
    } else {
        Level::Fails
    }
}

/// The p99 bound, on the pooled requests.
fn judge_p99(c: &Check, stats: &PointStats, margin: f64) -> Outcome {
    match &stats.pooled.latency_p99 {
        None => Outcome {
            level: Level::Fails,
            text: format!("{}: no successful request to measure", c.name),
            inconclusive: false,
        },
        Some(p) if !p.judgeable() => Outcome {
            level: Level::Risky,
            text: format!(
                "too few requests to judge {} ({} of {} lie beyond it; {} needed): run longer or add replications",
                c.name,
                p.beyond,
                p.requests,
                super::percentile::MIN_BEYOND
            ),
            inconclusive: true,
        },
        Some(p) => {
            let (lo, hi) = p.ci95_s.unwrap_or((p.value_s, p.value_s));
            let spread = if hi > lo { format!(" [{}, {}]", (c.show)(lo), (c.show)(hi)) } else { String::new() };
            Outcome {
                level: level_of(lo, hi, c.bound, margin),
                text: format!("{} {}{spread} vs {}", c.name, (c.show)(p.value_s), (c.show)(c.bound)),
                inconclusive: false,
            }
        }
    }
}

/// A bound on a per-run metric, on its mean over replications.
fn judge_mean(c: &Check, stats: &PointStats, margin: f64) -> Outcome {
    match stats.get(&c.key).and_then(|e| e.bounds().map(|b| (e.mean.unwrap_or(0.0), b))) {
        None => Outcome { level: Level::Fails, text: format!("{}: nothing to measure", c.name), inconclusive: false },
        Some((mean, (lo, hi))) => {
            let spread = if hi > mean { format!(" ± {}", (c.show)(hi - mean)) } else { String::new() };
            Outcome {
                level: level_of(lo, hi, c.bound, margin),
                text: format!("{} {}{spread} vs {}", c.name, (c.show)(mean), (c.show)(c.bound)),
                inconclusive: false,
            }
        }
    }
}

/// ", mostly <cause> <share> (<n>% of errors)": the error cause with the
/// largest mean share of requests, when any request failed.
fn dominant_error(stats: &PointStats) -> Option<String> {
    let total = stats.mean("requests.error_rate").filter(|&t| t > 0.0)?;
    let (cause, share) = stats
        .metrics
        .iter()
        .filter_map(|(k, e)| Some((k.strip_prefix("requests.error_share.")?, e.mean?)))
        .filter(|&(_, share)| share > 0.0)
        // The largest share; on a tie, the first cause in the records' order.
        .fold(None, |best: Option<(&str, f64)>, (c, s)| match best {
            Some((_, b)) if b >= s => best,
            _ => Some((c, s)),
        })?;
    Some(format!(", mostly {cause} {} ({:.0}% of errors)", percent(share), (share / total * 100.0).min(100.0)))
}

/// ": 85% lock wait, 10% pool wait": where the time of the requests above
/// the p99 went (mean over replications), the phases of at least 5%, the
/// largest first, at most three.
fn slow_phases(stats: &PointStats) -> Option<String> {
    let times = crate::metrics::Phase::ALL
        .iter()
        .filter_map(|&p| Some((p.words(), stats.mean(&format!("latency_breakdown.above_p99.{}_s", p.key()))?)));
    Some(format!(": {}", largest_shares(times.collect(), 0.05, 3)?))
}

/// "; event loop 97% busy (one process serves at most 1/0.01 s = 100
/// req/s)": the busiest process's loop, when it computes at least 90% of
/// the time, is the bottleneck whatever the phases say.
fn saturated_loop(stats: &PointStats) -> Option<String> {
    let busy = stats.mean("servers.loop_utilisation.max").filter(|&u| u >= 0.9)?;
    let cpu = stats
        .mean("servers.cpu_s_per_response")
        .filter(|&c| c > 0.0)
        .or_else(|| stats.mean("servers.cpu_s_per_request").filter(|&c| c > 0.0))?;
    Some(format!(
        "; event loop {:.0}% busy (one process serves at most 1/{} = {} req/s)",
        busy * 100.0,
        secs(Some(cpu)),
        (10.0 / cpu).round() / 10.0
    ))
}

/// "; network link 96% busy sending responses": the busiest server's link,
/// in either direction, when it is busy at least 90% of the time (a
/// saturated link queues every response or payload behind the others).
fn saturated_link(stats: &PointStats) -> Option<String> {
    let out = stats.mean("servers.link_utilisation.max").unwrap_or(0.0);
    let inbound = stats.mean("servers.link_in_utilisation.max").unwrap_or(0.0);
    let (busy, what) = if out >= inbound { (out, "sending responses") } else { (inbound, "receiving payloads") };
    (busy >= 0.9).then(|| format!("; network link {:.0}% busy {what}", busy * 100.0))
}

/// "; the OOM killer ended 3.2 processes per run (server memory peak 512
/// MB)": processes killed past the memory limit, which restarts them cold.
fn out_of_memory(stats: &PointStats) -> Option<String> {
    let kills = stats.mean("servers.oom_kills").filter(|&k| k > 0.0)?;
    let peak = stats.mean("servers.memory_bytes.peak").unwrap_or(0.0);
    Some(format!(
        "; the OOM killer ended {} processes per run (server memory peak {:.0} MB), each restarting cold",
        (kills * 10.0).round() / 10.0,
        peak / 1e6
    ))
}

/// "; failed requests: 64% in the cold start, 36% after an expiry": when
/// the requests of `set` (`failed` or `slow`) arrived, the periods of at
/// least 10%, the largest first. A replication with none of these
/// requests has every share 0, so the means are rescaled to their total.
fn periods(stats: &PointStats, set: &str, what: &str) -> Option<String> {
    let means = crate::metrics::Period::ALL
        .iter()
        .filter_map(|&p| Some((p.words(), stats.mean(&format!("when.{set}.{}", p.key()))?)));
    Some(format!("; {what}: {}", largest_shares(means.collect(), 0.1, usize::MAX)?))
}

/// "85% lock wait, 10% pool wait": each part's share of the parts' total,
/// those of at least `at_least`, the largest first (on a tie, in the order
/// given), at most `at_most` of them. `None` when the total is not positive
/// or no part is large enough.
fn largest_shares(parts: Vec<(&str, f64)>, at_least: f64, at_most: usize) -> Option<String> {
    let total: f64 = parts.iter().map(|(_, v)| v).sum();
    if total <= 0.0 {
        return None;
    }
    let mut shares: Vec<(&str, f64)> =
        parts.into_iter().map(|(name, v)| (name, v / total)).filter(|&(_, s)| s >= at_least).collect();
    if shares.is_empty() {
        return None;
    }
    // The sort is stable, so ties keep the order given.
    shares.sort_by(|a, b| b.1.total_cmp(&a.1));
    let words: Vec<String> = shares.iter().take(at_most).map(|(name, s)| format!("{:.0}% {name}", s * 100.0)).collect();
    Some(words.join(", "))
}

/// Judges one point.
pub fn judge(slo: &Slo, stats: &PointStats) -> Verdict {
    let m = slo.margin;
    let mut worst: Option<Outcome> = None;
    for c in checks(slo) {
        let mut outcome = if c.key == "latency_s.p99" { judge_p99(&c, stats, m) } else { judge_mean(&c, stats, m) };
        if outcome.level > Level::Ready && !outcome.inconclusive {
            if c.key == "latency_s.p99" {
                outcome.text += &slow_phases(stats).unwrap_or_default();
                outcome.text += &saturated_loop(stats).unwrap_or_default();
                outcome.text += &saturated_link(stats).unwrap_or_default();
                outcome.text += &out_of_memory(stats).unwrap_or_default();
                outcome.text += &periods(stats, "slow", "slow requests").unwrap_or_default();
            } else if c.key.starts_with("requests.error") {
                if c.key == "requests.error_rate" {
                    outcome.text += &dominant_error(stats).unwrap_or_default();
                }
                outcome.text += &out_of_memory(stats).unwrap_or_default();
                outcome.text += &periods(stats, "failed", "failed requests").unwrap_or_default();
            }
        }
        if worst.as_ref().is_none_or(|w| outcome.level > w.level) {
            worst = Some(outcome);
        }
    }
    match worst {
        None => Verdict { level: Level::Ready, cause: None, inconclusive: false },
        Some(w) if w.level == Level::Ready => Verdict { level: Level::Ready, cause: None, inconclusive: false },
        Some(w) => Verdict { level: w.level, cause: Some(w.text), inconclusive: w.inconclusive },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Dur;
    use crate::experiment::percentile::PooledQuantile;
    use crate::experiment::stats::{Estimate, PointStats, Pooled};

    /// A point whose pooled p99 has the mean and Student-t interval of
    /// `p99` (as if the bootstrap had found them), 1000 requests beyond it.
    fn point(p99: &[f64], errors: &[f64]) -> PointStats {
        let e = Estimate::of(p99);
        let latency_p99 = e.mean.map(|value_s| PooledQuantile {
            q: 0.99,
            value_s,
            ci95_s: e.bounds(),
            beyond: 1000,
            requests: 100_000,
        });
        PointStats {
            metrics: vec![
                ("latency_s.p99".into(), Estimate::of(p99)),
                ("requests.error_rate".into(), Estimate::of(errors)),
            ],
            pooled: Pooled {
                latency_p99,
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
        assert!(v.cause.as_deref().unwrap().starts_with("p99 latency 2.2s [1.95s, 2.45s]"), "{v:?}");
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

    #[test]
    fn too_few_requests_beyond_the_p99_make_the_point_risky_and_say_so() {
        let mut p = point(&[0.1, 0.1], &[0.0, 0.0]);
        if let Some(q) = p.pooled.latency_p99.as_mut() {
            (q.beyond, q.requests) = (12, 1200);
        }
        let v = judge(&slo(), &p);
        assert_eq!(v.level, Level::Risky);
        assert!(v.inconclusive);
        let cause = v.cause.unwrap();
        assert!(
            cause.starts_with("too few requests to judge p99 latency (12 of 1200 lie beyond it; 50 needed)"),
            "{cause}"
        );
        // A clear failure elsewhere still decides.
        let mut p = point(&[0.1, 0.1], &[0.5, 0.5]);
        if let Some(q) = p.pooled.latency_p99.as_mut() {
            q.beyond = 12;
        }
        let v = judge(&slo(), &p);
        assert_eq!((v.level, v.inconclusive), (Level::Fails, false));
    }

    #[test]
    fn an_error_rate_verdict_names_the_dominant_cause_and_its_share_of_errors() {
        let mut p = point(&[1.0, 1.0], &[0.02, 0.02]);
        p.metrics.push(("requests.error_share.pool_timeout".into(), Estimate::of(&[0.005, 0.005])));
        p.metrics.push(("requests.error_share.rate_limited".into(), Estimate::of(&[0.015, 0.015])));
        let v = judge(&slo(), &p);
        assert_eq!(v.level, Level::Fails);
        let cause = v.cause.unwrap();
        assert!(cause.ends_with(", mostly rate_limited 1.50% (75% of errors)"), "{cause}");
    }

    #[test]
    fn a_p99_verdict_names_the_phases_and_the_period_of_the_slow_requests() {
        let mut p = point(&[3.0, 3.0], &[0.0, 0.0]);
        for (phase, t) in [("lock_wait", 0.85), ("pool_wait", 0.10), ("handler", 0.05), ("query", 0.0)] {
            p.metrics.push((format!("latency_breakdown.above_p99.{phase}_s"), Estimate::of(&[t, t])));
        }
        for (period, share) in [("cold_start", 0.7), ("after_expiry", 0.25), ("other", 0.05)] {
            p.metrics.push((format!("when.slow.{period}"), Estimate::of(&[share, share])));
        }
        let cause = judge(&slo(), &p).cause.unwrap();
        assert!(
            cause.ends_with(
                ": 85% lock wait, 10% pool wait, 5% handler; slow requests: 70% in the cold start, 25% after an expiry"
            ),
            "{cause}"
        );
    }
}
