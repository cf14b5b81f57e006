//! Breaking points: for each model, the highest load that meets the SLO (by
//! bisection, each step judged on replications with confidence intervals),
//! the load where goodput collapses, and whether the service recovers when
//! a load spike passes (metastability).
//!
//! The search walks a ×2 ladder of loads from `low` to `high`, takes the
//! highest step that meets the SLO, and bisects (geometrically, since loads
//! span orders of magnitude) between it and the next step up. Every step is
//! judged on the experiment's replications, with confidence intervals.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::metastability::{AfterTrigger, Sustaining, after_trigger};
use super::plan::{Plan, RunId};
use super::record::RunRecord;
use super::stats::aggregate;
use super::trigger::{Triggered, with_trigger};
use super::verdict::{Level, judge};
use crate::config::{ModelSpec, apply_overrides};
use crate::engine::SimDuration;
use crate::error::AppError;
use crate::sim::{RunOptions, simulate_detailed};

/// One load tried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub value: f64,
    pub level: Level,
    pub cause: Option<String>,
    /// Too few requests to judge the deciding bound (a low load's p99).
    #[serde(default)]
    pub inconclusive: bool,
    /// Successful requests per second (mean over replications).
    pub goodput_rps: f64,
    pub error_rate: f64,
    /// The p99 of every replication's requests pooled.
    pub p99_s: Option<f64>,
    /// Replications stopped before their end (the event budget, or the
    /// memory guard): their results are partial, so a load with any is
    /// never counted as meeting the SLO.
    #[serde(default)]
    pub truncated: usize,
    /// What stopped the first of them.
    #[serde(default)]
    pub stop_reason: Option<String>,
}

impl Evaluation {
    /// Whether this load counts as meeting the SLO: judged so on runs that
    /// all ran to their end.
    pub fn passes(&self) -> bool {
        self.level.meets_slo() && self.truncated == 0
    }
}

/// What happened after a load spike.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recovery {
    pub base: f64,
    pub spike: f64,
    /// What knocked the service out, and when it started (seconds).
    #[serde(default)]
    pub trigger: super::trigger::Trigger,
    #[serde(default)]
    pub trigger_start_s: f64,
    pub hold_s: f64,
    /// Replications back to the base phase's behaviour after the spike.
    pub recovered: usize,
    /// Replications still bad at the end whose backlog was falling.
    #[serde(default)]
    pub draining: usize,
    /// Replications still bad at the end and not draining: metastable.
    #[serde(default)]
    pub metastable: usize,
    /// Replications judged (those truncated are not).
    pub replications: usize,
    /// Replications stopped by the event budget or a guard: their series
    /// end early, which would read as a failure, so they are left out of
    /// the counts above (and `limit` exits 3).
    #[serde(default)]
    pub truncated: usize,
    /// The slowest recovery among those that recovered, seconds after the
    /// spike ended.
    pub slowest_recovery_s: Option<f64>,
    /// The latest a draining replication's backlog clears (extrapolated),
    /// seconds after the spike ended.
    #[serde(default)]
    pub slowest_clear_s: Option<f64>,
    /// How fast the draining replications' backlogs fall, requests a second
    /// (their mean).
    #[serde(default)]
    pub falling_rps: Option<f64>,
    /// What held the replications that did not recover in their state: the
    /// counts of retry amplification and cache misses, summed over them
    /// (`None` when every replication recovered).
    #[serde(default)]
    pub sustaining: Option<Sustaining>,
    /// Each replication's outcome, in order.
    #[serde(default)]
    pub outcomes: Vec<AfterTrigger>,
}

/// A model's breaking points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LimitResult {
    pub model: String,
    pub path: String,
    /// The highest value tried that met the SLO (`None`: even `low` fails).
    pub max_meeting: Option<f64>,
    /// The lowest value tried that missed it (`None`: `high` still meets).
    pub min_failing: Option<f64>,
    /// How badly, and what broke first, at `min_failing`.
    #[serde(default)]
    pub level: Option<Level>,
    pub cause: Option<String>,
    /// Where goodput peaked, and the first higher load where it fell below
    /// 90% of that peak (congestion collapse), if any.
    pub goodput_peak_at: Option<f64>,
    pub collapse_at: Option<f64>,
    pub recovery: Option<Recovery>,
    /// The loads judged on truncated runs (counted as not meeting the SLO),
    /// in increasing order.
    #[serde(default)]
    pub truncated_at: Vec<f64>,
    /// Every load tried, in increasing order.
    pub evaluations: Vec<Evaluation>,
}

/// Judges `model` at `value` of `path` on the plan's replications.
fn evaluate(plan: &Plan, model: &ModelSpec, value: f64, opts: RunOptions) -> Result<Evaluation, AppError> {
    let path = &plan.spec.limit.path;
    let spec = apply_overrides(model.clone(), &[format!("{path}={value}")])?;
    let runs: Vec<(RunRecord, Option<String>)> = (0..plan.spec.replications)
        .into_par_iter()
        .map(|rep| {
            let (report, hist) = simulate_detailed(&spec, plan.spec.seed, u64::from(rep), opts);
            let stopped = report.engine.truncated.then(|| report.engine.stop_reason.clone().unwrap_or_default());
            (RunRecord::new(RunId { point: 0, rep }, &report, &hist), stopped)
        })
        .collect();
    let refs: Vec<&RunRecord> = runs.iter().map(|r| &r.0).collect();
    let mut stopped = runs.iter().filter_map(|r| r.1.clone());
    let stop_reason = stopped.next();
    let stats = aggregate(&refs);
    let verdict = judge(&plan.spec.slo, &stats);
    Ok(Evaluation {
        value,
        level: verdict.level,
        cause: verdict.cause,
        inconclusive: verdict.inconclusive,
        goodput_rps: stats.mean("requests.throughput_rps").unwrap_or(0.0),
        error_rate: stats.mean("requests.error_rate").unwrap_or(0.0),
        p99_s: stats.pooled.latency_p99.as_ref().map(|p| p.value_s),
        truncated: usize::from(stop_reason.is_some()) + stopped.count(),
        stop_reason,
    })
}

/// The most bisection steps a search takes: ample for the smallest
/// tolerance a plan accepts, and a bound whatever the arithmetic does.
const MAX_BISECTIONS: usize = 64;

/// Finds the breaking points of every model of the plan.
/// `progress(done, total, line)` counts loads judged (each on all
/// replications) against the most the search can take, and says what was
/// just judged; `total` never changes and `done` only grows.
pub fn find_limits(
    plan: &Plan,
    opts: RunOptions,
    progress: &(dyn Fn(usize, usize, &str) + Sync),
) -> Result<Vec<LimitResult>, AppError> {
    let l = &plan.spec.limit;
    let per_model = ladder(l.low, l.high).len() + bisections(l.tolerance) + usize::from(l.spike > 0.0);
    let models = plan.model_points();
    // Every run the search may make passes the size guard before any
    // starts: the largest is at `high`, and the check's at `high` too.
    for p in &models {
        let refuse = |m: String| {
            AppError::Input(crate::config::ConfigError::in_file(
                &plan.origin,
                &["limit.high", "limit", "workload.duration", "duration"],
                format!("{} at {} = {}: {m}", p.spec.name, l.path, l.high),
            ))
        };
        if l.path == "workload.rate" && matches!(p.spec.workload.arrivals, crate::config::Arrivals::Trace { .. }) {
            return Err(refuse(
                "it replays a trace, which workload.rate does not change; search the trace's speed-up instead \
                 (limit: (path: \"workload.arrivals.rate\", spike: 0, ...))"
                    .into(),
            ));
        }
        // `limit.path` is the experiment's field, not a `--set`: an error
        // in it points there.
        let top = apply_overrides(p.spec.clone(), &[format!("{}={}", l.path, l.high)]).map_err(|e| {
            crate::config::ConfigError::in_file(
                &plan.origin,
                &["limit.path", "limit"],
                format!("limit.path `{}` (searched up to {}): {}", l.path, l.high, e.message),
            )
            .with_hint(e.hint)
        })?;
        check_budget(&top, opts).map_err(refuse)?;
        if l.spike > 0.0 && l.path == "workload.rate" {
            checked_trigger(plan, &top, l.high, opts).map_err(refuse)?;
        }
    }
    let total = per_model * models.len();
    let mut results = Vec::new();
    for (i, p) in models.into_iter().enumerate() {
        let before = i * per_model;
        let judged = |n: usize, line: &str| progress(before + n, total, line);
        results.push(limit_of(plan, &p.spec, opts, &judged)?);
        progress(before + per_model, total, &format!("{}: done", p.spec.name));
    }
    Ok(results)
}

/// The ×2 ladder of loads from `low` to `high`, both included.
fn ladder(low: f64, high: f64) -> Vec<f64> {
    let mut ladder = Vec::new();
    let mut v = low;
    while v < high {
        ladder.push(v);
        v *= 2.0;
    }
    ladder.push(high);
    ladder
}

/// How many bisection steps narrow a ×2 step to within `tolerance`.
fn bisections(tolerance: f64) -> usize {
    let mut ratio: f64 = 2.0;
    let mut steps = 0;
    while ratio > 1.0 + tolerance && steps < MAX_BISECTIONS {
        ratio = ratio.sqrt();
        steps += 1;
    }
    steps
}

fn limit_of(
    plan: &Plan,
    model: &ModelSpec,
    opts: RunOptions,
    progress: &dyn Fn(usize, &str),
) -> Result<LimitResult, AppError> {
    let l = &plan.spec.limit;
    let mut evals: Vec<Evaluation> = Vec::new();
    let eval = |v: f64, evals: &mut Vec<Evaluation>| -> Result<bool, AppError> {
        let e = evaluate(plan, model, v, opts)?;
        // A load judged on truncated runs is not a pass.
        let meets = e.passes();
        let line = match e.truncated {
            0 => format!("{}: {} = {v:.4}: {}", model.name, l.path, e.level),
            n => format!("{}: {} = {v:.4}: {} on {n} truncated run(s), not a pass", model.name, l.path, e.level),
        };
        evals.push(e);
        progress(evals.len(), &line);
        Ok(meets)
    };
    // A ×2 ladder from low to high finds the highest load that passes
    // (a small load can miss a percentile bound on too few requests, so the
    // search does not trust `low` alone), then bisection narrows the step
    // above it.
    let ladder = ladder(l.low, l.high);
    let mut passes = Vec::new();
    for &v in &ladder {
        passes.push(eval(v, &mut evals)?);
    }
    let (max_meeting, min_failing) = match passes.iter().rposition(|&p| p) {
        None => (None, Some(l.low)),
        Some(i) if i + 1 == ladder.len() => (Some(l.high), None),
        Some(i) => {
            let (mut lo, mut hi) = (ladder[i], ladder[i + 1]);
            let mut steps = 0;
            while hi / lo > 1.0 + l.tolerance && steps < MAX_BISECTIONS {
                steps += 1;
                let mid = (lo * hi).sqrt();
                if eval(mid, &mut evals)? {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            (Some(lo), Some(hi))
        }
    };
    evals.sort_by(|a, b| a.value.total_cmp(&b.value));
    let (peak_at, collapse_at) = collapse(&evals);
    let failing = min_failing.and_then(|f| evals.iter().find(|e| e.value == f));
    let (level, mut cause) = (failing.map(|e| e.level), failing.and_then(|e| e.cause.clone()));
    if let Some(e) = failing.filter(|e| e.truncated > 0 && e.level.meets_slo()) {
        cause = Some(format!(
            "{} of {} runs truncated ({}), so the load is not counted as meeting the SLO",
            e.truncated,
            plan.spec.replications,
            e.stop_reason.as_deref().unwrap_or("stopped early")
        ));
    }
    let truncated_at = evals.iter().filter(|e| e.truncated > 0).map(|e| e.value).collect();
    let recovery = match max_meeting {
        Some(base) if l.spike > 0.0 => Some(spike_recovery(plan, model, base, opts)?),
        _ => None,
    };
    Ok(LimitResult {
        model: model.name.clone(),
        path: l.path.clone(),
        max_meeting,
        min_failing,
        level,
        cause,
        goodput_peak_at: peak_at,
        collapse_at,
        recovery,
        truncated_at,
        evaluations: evals,
    })
}

/// (where goodput peaks, first higher load with goodput < 90% of the peak).
fn collapse(evals: &[Evaluation]) -> (Option<f64>, Option<f64>) {
    let mut peak: Option<&Evaluation> = None;
    for e in evals {
        match peak {
            Some(p) if e.goodput_rps < 0.9 * p.goodput_rps => return (Some(p.value), Some(e.value)),
            Some(p) if e.goodput_rps <= p.goodput_rps => {}
            _ => peak = Some(e),
        }
    }
    (peak.map(|p| p.value), None)
}

/// The metastability check's run of `model` at `base`, with the plan's
/// trigger in place, if the size guard lets it run (else its message).
fn checked_trigger(plan: &Plan, model: &ModelSpec, base: f64, opts: RunOptions) -> Result<Triggered, String> {
    let l = &plan.spec.limit;
    let t = with_trigger(model, base, l.trigger, l.spike, l.hold.0, l.at_expiry);
    check_budget(&t.spec, opts)?;
    Ok(t)
}

/// The size guard for the search's runs: every event source estimated
/// against the default budget, or, when the caller set a budget of its own
/// (`--max-events`), which then stops the runs, only the work one event can
/// do.
fn check_budget(spec: &ModelSpec, opts: RunOptions) -> Result<(), String> {
    if opts.max_events == crate::sim::guard::DEFAULT_EVENT_BUDGET {
        crate::sim::guard::check_size(spec, None)
    } else {
        crate::sim::guard::check_work(spec).map_err(|(m, _)| m)
    }
}

/// The base load for `hold`, the trigger (see `trigger`), then the base
/// load for two holds; each replication is judged recovered, draining or
/// metastable (see `metastability`).
pub fn spike_recovery(plan: &Plan, model: &ModelSpec, base: f64, opts: RunOptions) -> Result<Recovery, AppError> {
    let l = &plan.spec.limit;
    let hold = l.hold.0;
    let spike = base * l.spike;
    if l.path != "workload.rate" {
        return Err(AppError::Failed(
            "the metastability check holds workload.rate; set limit.spike: 0 for other paths".into(),
        ));
    }
    let t = checked_trigger(plan, model, base, opts).map_err(|m| {
        AppError::Input(crate::config::ConfigError::new(&plan.origin, format!("the metastability check: {m}")))
    })?;
    // Requests slower than the p99 bound are counted, for the latency test.
    let slow_above = plan.spec.slo.p99.map(|d| d.0);
    let run_opts = RunOptions { series: Some(SimDuration::from_secs(1)), slow_above, ..opts };
    let slo_errors = plan.spec.slo.error_rate.unwrap_or(1.0);
    let runs: Vec<Option<(AfterTrigger, Sustaining)>> = (0..plan.spec.replications)
        .into_par_iter()
        .map(|rep| {
            let (report, hist) = simulate_detailed(&t.spec, plan.spec.seed, u64::from(rep), run_opts);
            if report.engine.truncated {
                return None;
            }
            let series = hist.series.expect("asked for a series");
            let outcome = after_trigger(&series, t.start, t.end, t.run_end, slo_errors);
            Some((outcome, Sustaining::of(&series, t.start, t.end, t.run_end)))
        })
        .collect();
    let truncated = runs.iter().filter(|r| r.is_none()).count();
    let judged: Vec<(AfterTrigger, Sustaining)> = runs.into_iter().flatten().collect();
    let outcomes: Vec<AfterTrigger> = judged.iter().map(|j| j.0).collect();
    let sustaining =
        judged.iter().filter(|(o, _)| !matches!(o, AfterTrigger::Recovered { .. })).map(|j| j.1).reduce(|mut a, b| {
            a.add(&b);
            a
        });
    let recovered: Vec<f64> = outcomes
        .iter()
        .filter_map(|o| if let AfterTrigger::Recovered { after_s } = o { Some(*after_s) } else { None })
        .collect();
    let clears: Vec<f64> = outcomes
        .iter()
        .filter_map(
            |o| if let AfterTrigger::Draining { clears_after_s, .. } = o { Some(*clears_after_s) } else { None },
        )
        .collect();
    let falling: Vec<f64> = outcomes
        .iter()
        .filter_map(|o| if let AfterTrigger::Draining { falling_rps, .. } = o { Some(*falling_rps) } else { None })
        .collect();
    Ok(Recovery {
        base,
        spike,
        trigger: l.trigger,
        trigger_start_s: t.start.as_secs_f64(),
        hold_s: hold.as_secs_f64(),
        recovered: recovered.len(),
        draining: clears.len(),
        metastable: outcomes.iter().filter(|o| matches!(o, AfterTrigger::Metastable)).count(),
        replications: outcomes.len(),
        truncated,
        slowest_recovery_s: recovered.iter().copied().reduce(f64::max),
        slowest_clear_s: clears.iter().copied().reduce(f64::max),
        falling_rps: (!falling.is_empty()).then(|| falling.iter().sum::<f64>() / falling.len() as f64),
        sustaining,
        outcomes,
    })
}
