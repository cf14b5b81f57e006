//! What a request asks the library for, without HTTP: a model with
//! overrides simulated over a few replications (the same calls as `cachesim
//! run`), its statistics and verdict, its figures; and a small sweep of one
//! knob.

use rayon::prelude::*;
use serde_json::{Value, json};

use crate::config::ModelSpec;
use crate::engine::SimDuration;
use crate::error::AppError;
use crate::experiment::{PointStats, RunId, RunRecord, Slo, Verdict, aggregate, judge};
use crate::metrics::{RunReport, Series};
use crate::report::{knob_figure, series_figures, summary, svg, value_band};
use crate::sim::{RunHistograms, RunOptions, simulate_detailed};

/// Whether the work is still wanted (a newer request supersedes it).
pub type Wanted<'a> = &'a (dyn Fn() -> bool + Sync);

/// Why a simulation gave no result.
#[derive(Debug)]
pub enum Refused {
    /// The input, in the CLI's words (HTTP 400).
    Input(String),
    /// A newer request took its place.
    Superseded,
}

impl From<AppError> for Refused {
    fn from(e: AppError) -> Refused {
        Refused::Input(e.to_string())
    }
}

/// The model `run` would simulate for `base` (from `origin`) with `sets`.
pub fn prepare(base: &ModelSpec, sets: &[String], origin: &str) -> Result<ModelSpec, Refused> {
    Ok(crate::app::prepared(base.clone(), sets, None, origin)?)
}

/// The width of the time series' buckets: a second, or wider so that a
/// long run has at most about 3,600 points to draw.
fn bucket_of(spec: &ModelSpec) -> SimDuration {
    let span = spec.workload.duration.nanos().saturating_add(spec.workload.drain.nanos());
    let secs = span.div_ceil(3_600 * 1_000_000_000).max(1);
    SimDuration(secs * 1_000_000_000)
}

/// Replications `0..reps` of `spec` with `seed`, in parallel on the rayon
/// pool; replication 0 is what `cachesim run --seed SEED` prints.
fn replicate(
    spec: &ModelSpec,
    seed: u64,
    reps: u32,
    series: bool,
    wanted: Wanted,
) -> Result<Vec<(RunReport, RunHistograms)>, Refused> {
    let opts = RunOptions { series: series.then(|| bucket_of(spec)), ..RunOptions::default() };
    let runs: Vec<Option<(RunReport, RunHistograms)>> = (0..reps)
        .into_par_iter()
        .map(|rep| wanted().then(|| simulate_detailed(spec, seed, u64::from(rep), opts)))
        .collect();
    if !wanted() {
        return Err(Refused::Superseded);
    }
    runs.into_iter().map(|r| r.ok_or(Refused::Superseded)).collect()
}

fn stats_of(runs: &[(RunReport, RunHistograms)]) -> PointStats {
    let records: Vec<RunRecord> = runs
        .iter()
        .enumerate()
        .map(|(rep, (report, hist))| RunRecord::new(RunId { point: 0, rep: rep as u32 }, report, hist))
        .collect();
    aggregate(&records.iter().collect::<Vec<_>>())
}

/// A mean and its 95% half-width as JSON.
fn estimate(stats: &PointStats, key: &str) -> Value {
    match stats.get(key) {
        Some(e) => json!({ "mean": e.mean, "ci95": e.ci95 }),
        None => Value::Null,
    }
}

/// The time series the page draws, as data.
fn series_data(s: &Series) -> Value {
    let w = s.bucket_secs();
    let t: Vec<f64> = (0..s.buckets.len()).map(|i| i as f64 * w).collect();
    let calls: Vec<f64> = s.buckets.iter().map(|b| b.backend_calls as f64 / w).collect();
    let pool: Vec<u64> = s.buckets.iter().map(|b| b.pool_in_use_max).collect();
    json!({ "bucket_s": w, "t_s": t, "backend_calls_per_s": calls, "pool_in_use": pool })
}

/// Simulates `spec` and returns everything the page shows, as JSON: `report`
/// (replication 0, the same object as `cachesim run --json`), `summary`
/// (its text), `stats` across replications, `verdict` against `slo`,
/// `percentiles`, `errors`, `series` and `svg` (backend calls, pool in use).
pub fn simulate(spec: &ModelSpec, seed: u64, reps: u32, slo: &Slo, wanted: Wanted) -> Result<Value, Refused> {
    let runs = replicate(spec, seed, reps, true, wanted)?;
    let stats = stats_of(&runs);
    let verdict: Verdict = judge(slo, &stats);
    let (report, hist) = &runs[0];
    let mut figures = serde_json::Map::new();
    if let Some(series) = &hist.series {
        for f in series_figures(&spec.name, series) {
            if f.name == "backend_calls" || f.name == "pool_in_use" {
                figures.insert(f.name.clone(), svg(&f.figure).map_err(Refused::Input)?.into());
            }
        }
    }
    let p = &stats.pooled;
    let errors: Vec<Value> = report
        .requests
        .errors
        .iter()
        .map(|(cause, n)| json!({ "cause": cause, "count": n, "share": estimate(&stats, &format!("requests.error_share.{cause}")) }))
        .collect();
    Ok(json!({
        "model": spec.name,
        "seed": seed,
        "replications": reps,
        "report": report,
        "summary": summary(report),
        "verdict": verdict,
        "latency_breakdown": report.latency_breakdown,
        "percentiles": {
            "p50_s": p.latency_p50_s, "p95_s": p.latency_p95_s, "p99_s": p.latency_p99_s, "p999_s": p.latency_p999_s,
            "p99_ci95_s": p.latency_p99.as_ref().and_then(|q| q.ci95_s),
            "pool_wait_p99_s": p.pool_wait_p99_s,
        },
        "stats": {
            "error_rate": estimate(&stats, "requests.error_rate"),
            "throughput_rps": estimate(&stats, "requests.throughput_rps"),
            "hit_ratio": estimate(&stats, "cache.hit_ratio"),
            "backend_calls": estimate(&stats, "backend.calls"),
            "latency_p99_s": p.latency_p99.as_ref().map(|q| json!({ "value": q.value_s, "ci95": q.ci95_s })),
        },
        "errors": errors,
        "series": hist.series.as_ref().map(series_data),
        "svg": figures,
    }))
}

/// The metrics a knob can be swept against: (key, label, its SLO bound).
pub fn sweep_metric(key: &str, slo: &Slo) -> Option<(&'static str, Option<f64>)> {
    match key {
        "latency_s.p99" => Some(("p99 latency (s)", slo.p99.map(|d| d.as_secs_f64()))),
        "requests.error_rate" => Some(("error rate", slo.error_rate)),
        "requests.throughput_rps" => Some(("throughput (req/s)", None)),
        "backend.calls" => Some(("backend calls", None)),
        "cache.hit_ratio" => Some(("cache hit ratio", None)),
        _ => None,
    }
}

/// Where a line crosses `bound`: x values, interpolated between points.
pub fn crossings(points: &[(f64, f64)], bound: f64) -> Vec<f64> {
    points
        .windows(2)
        .filter_map(|w| {
            let ((x0, y0), (x1, y1)) = (w[0], w[1]);
            let (a, b) = (y0 - bound, y1 - bound);
            if a == 0.0 {
                Some(x0)
            } else if a * b < 0.0 {
                Some(x0 + (x1 - x0) * a / (a - b))
            } else {
                None
            }
        })
        .chain(points.last().filter(|p| p.1 == bound && points.len() > 1).map(|p| p.0))
        .collect()
}

/// Sweeps `knob` over `values` (each a `--set` value) on top of `sets`:
/// `reps` replications at each, the metric's value and 95% band, the SLO
/// line and where the metric crosses it, and the chart as SVG.
#[allow(clippy::too_many_arguments)]
pub fn sweep(
    base: &ModelSpec,
    origin: &str,
    sets: &[String],
    knob: &str,
    values: &[f64],
    metric: &str,
    seed: u64,
    reps: u32,
    slo: &Slo,
    wanted: Wanted,
) -> Result<Value, Refused> {
    let (label, bound) = sweep_metric(metric, slo).ok_or_else(|| {
        Refused::Input(format!(
            "unknown metric `{metric}`; expected latency_s.p99, requests.error_rate, requests.throughput_rps, backend.calls or cache.hit_ratio"
        ))
    })?;
    let specs: Vec<ModelSpec> = values
        .iter()
        .map(|v| {
            let mut all = sets.to_vec();
            all.push(format!("{knob}={v}"));
            prepare(base, &all, origin)
        })
        .collect::<Result<_, _>>()?;
    let mut points = Vec::new();
    for (spec, &x) in specs.iter().zip(values) {
        let runs = replicate(spec, seed, reps, false, wanted)?;
        if let Some(band) = value_band(&stats_of(&runs), metric) {
            points.push((x, band));
        }
    }
    let line: Vec<(f64, f64)> = points.iter().map(|&(x, (v, _, _))| (x, v)).collect();
    let crossing = bound.map(|b| crossings(&line, b)).unwrap_or_default();
    let figure = knob_figure(&format!("{}: {label} against {knob}", base.name), knob, label, &points, bound);
    Ok(json!({
        "knob": knob,
        "metric": metric,
        "bound": bound,
        "points": points.iter().map(|&(x, (v, lo, hi))| json!({ "x": x, "value": v, "lo": lo, "hi": hi })).collect::<Vec<_>>(),
        "crossings": crossing,
        "svg": svg(&figure).map_err(Refused::Input)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crossings_are_interpolated() {
        let pts = [(1.0, 0.0), (2.0, 2.0), (3.0, 4.0), (4.0, 1.0)];
        assert_eq!(crossings(&pts, 1.0), vec![1.5, 4.0]);
        let at3 = crossings(&pts, 3.0);
        assert_eq!(at3.len(), 2);
        assert!((at3[0] - 2.5).abs() < 1e-12 && (at3[1] - 10.0 / 3.0).abs() < 1e-12, "{at3:?}");
        assert!(crossings(&pts, 10.0).is_empty());
    }
}
