//! From run records to judged points: statistics, verdict and cost of every
//! point, and the cheapest architecture meeting the SLO at each grid row.

use std::collections::BTreeMap;

use serde::Serialize;

use super::plan::{Plan, Point, RunId};
use super::record::RunRecord;
use super::stats::{PointStats, aggregate};
use super::verdict::{Verdict, judge};

/// Seconds in a 30-day month, for $ per million requests.
const SECONDS_PER_MONTH: f64 = 30.0 * 86_400.0;

/// A point with everything the reports show.
#[derive(Debug, Clone, Serialize)]
pub struct PointResult {
    pub point: usize,
    pub model: String,
    pub params: Vec<(String, String)>,
    pub labels: Vec<String>,
    pub replications: usize,
    pub verdict: Verdict,
    /// Dollars per month for the architecture (servers and parts).
    pub monthly_cost_usd: f64,
    /// Dollars per million requests at this point's arrival rate.
    pub usd_per_million_requests: Option<f64>,
    pub stats: PointStats,
}

/// One row of the matrix: a grid combination across all models.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub labels: Vec<String>,
    /// Index into the results of each model's point at this row, model order.
    pub points: Vec<usize>,
    /// The cheapest model meeting the SLO here (first in file order on a tie).
    pub cheapest: Option<String>,
}

/// Judges every point that has at least one record.
pub fn analyze(plan: &Plan, records: &BTreeMap<RunId, RunRecord>) -> Vec<PointResult> {
    plan.points
        .iter()
        .filter_map(|p| {
            let mine: Vec<&RunRecord> = records
                .range(RunId { point: p.index, rep: 0 }..=RunId { point: p.index, rep: u32::MAX })
                .map(|(_, r)| r)
                .collect();
            (!mine.is_empty()).then(|| judge_point(plan, p, &mine))
        })
        .collect()
}

fn judge_point(plan: &Plan, p: &Point, records: &[&RunRecord]) -> PointResult {
    let stats = aggregate(records);
    let verdict = judge(&plan.spec.slo, &stats);
    let w = &p.spec.workload;
    let measured_s = w.duration.as_secs_f64() - w.warmup.as_secs_f64();
    let rate = stats.mean("requests.arrived").map(|n| n / measured_s);
    let monthly = p.spec.monthly_cost();
    let per_million = rate.filter(|r| *r > 0.0).map(|r| monthly / (r * SECONDS_PER_MONTH / 1e6));
    PointResult {
        point: p.index,
        model: p.model.clone(),
        params: p.params.clone(),
        labels: p.labels.clone(),
        replications: records.len(),
        verdict,
        monthly_cost_usd: monthly,
        usd_per_million_requests: per_million,
        stats,
    }
}

/// Groups results into matrix rows (grid combinations) across models.
pub fn rows(plan: &Plan, results: &[PointResult]) -> Vec<Row> {
    let models = plan.model_points();
    let per_model = plan.points.len() / models.len().max(1);
    (0..per_model)
        .map(|combo| {
            let points: Vec<usize> = (0..models.len())
                .filter_map(|m| results.iter().position(|r| r.point == m * per_model + combo))
                .collect();
            let cheapest = points
                .iter()
                .map(|&i| &results[i])
                .filter(|r| r.verdict.level.meets_slo())
                .fold(None::<&PointResult>, |best, r| match best {
                    Some(b) if b.monthly_cost_usd <= r.monthly_cost_usd => Some(b),
                    _ => Some(r),
                })
                .map(|r| r.model.clone());
            Row { labels: plan.points[combo].labels.clone(), points, cheapest }
        })
        .collect()
}
