//! The sweep's files: `runs.csv` (one tidy row per run), `points.csv`
//! (aggregated, with intervals), `summary.json` and `matrix.md`, each
//! written atomically.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::analysis::{PointResult, Row};
use super::plan::{Plan, RunId};
use super::record::RunRecord;
use crate::error::AppError;
use crate::fsutil::write_all_atomic;

fn num(v: Option<f64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

fn csv_bytes(header: Vec<String>, rows: Vec<Vec<String>>) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&header).expect("in-memory CSV");
    for row in rows {
        w.write_record(&row).expect("in-memory CSV");
    }
    w.into_inner().expect("in-memory CSV")
}

/// Every key of every list, in first-seen order: models with different parts
/// report different metrics (`cache.layers.redis`, `cache.layers.cdn`), and
/// each column must hold one metric.
fn union_keys<'a>(lists: impl Iterator<Item = impl Iterator<Item = &'a String>>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut keys = Vec::new();
    for list in lists {
        for k in list {
            if seen.insert(k.as_str()) {
                keys.push(k.clone());
            }
        }
    }
    keys
}

/// One row per run, every metric a column (empty where a run's model has
/// no such metric).
pub fn runs_csv(plan: &Plan, records: &BTreeMap<RunId, RunRecord>) -> Vec<u8> {
    let keys = union_keys(records.values().map(|r| r.metrics.iter().map(|(k, _)| k)));
    let mut header: Vec<String> = vec!["point".into(), "model".into()];
    header.extend(plan.axes.iter().cloned());
    header.extend(["replication".into(), "seed".into()]);
    header.extend(keys.iter().cloned());
    let rows = records
        .values()
        .map(|r| {
            let p = &plan.points[r.point];
            let mut row = vec![p.index.to_string(), p.model.clone()];
            row.extend(p.params.iter().map(|(_, v)| v.clone()));
            row.extend([r.rep.to_string(), plan.spec.seed.to_string()]);
            row.extend(keys.iter().map(|k| num(r.get(k))));
            row
        })
        .collect();
    csv_bytes(header, rows)
}

/// One row per point: verdict, cost, and mean and 95% half-width of every
/// metric, plus percentiles pooled over all replications' requests.
pub fn points_csv(plan: &Plan, results: &[PointResult]) -> Vec<u8> {
    let keys = union_keys(results.iter().map(|r| r.stats.metrics.iter().map(|(k, _)| k)));
    let mut header: Vec<String> = vec!["point".into(), "model".into()];
    header.extend(plan.axes.iter().cloned());
    header.extend(
        ["label", "replications", "verdict", "cause", "monthly_cost_usd", "usd_per_million_requests"].map(String::from),
    );
    header.extend(
        [
            "latency_s.p50.pooled",
            "latency_s.p95.pooled",
            "latency_s.p99.pooled",
            "latency_s.p99.pooled_lo",
            "latency_s.p99.pooled_hi",
            "latency_s.p99.beyond",
            "latency_s.p999.pooled",
            "pool.wait_p99_s.pooled",
        ]
        .map(String::from),
    );
    for k in &keys {
        header.push(format!("{k}.mean"));
        header.push(format!("{k}.ci95"));
    }
    let rows = results
        .iter()
        .map(|r| {
            let mut row = vec![r.point.to_string(), r.model.clone()];
            row.extend(r.params.iter().map(|(_, v)| v.clone()));
            row.push(r.labels.join(" / "));
            row.extend([
                r.replications.to_string(),
                r.verdict.level.name().to_string(),
                r.verdict.cause.clone().unwrap_or_default(),
                r.monthly_cost_usd.to_string(),
                num(r.usd_per_million_requests),
            ]);
            let p = &r.stats.pooled;
            let q = p.latency_p99.as_ref();
            row.extend(
                [
                    p.latency_p50_s,
                    p.latency_p95_s,
                    p.latency_p99_s,
                    q.and_then(|q| q.ci95_s).map(|c| c.0),
                    q.and_then(|q| q.ci95_s).map(|c| c.1),
                    q.map(|q| q.beyond as f64),
                    p.latency_p999_s,
                    p.pool_wait_p99_s,
                ]
                .map(num),
            );
            for k in &keys {
                let e = r.stats.get(k);
                row.push(num(e.and_then(|e| e.mean)));
                row.push(num(e.and_then(|e| e.ci95)));
            }
            row
        })
        .collect();
    csv_bytes(header, rows)
}

/// Text made safe for one Markdown table cell: a `|` is escaped and line
/// breaks become spaces, so a model named "a|b" cannot add a column.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// The verdict matrix in the seed note's shape: a row per grid combination,
/// a column per architecture, and the cheapest that meets the SLO.
pub fn matrix_md(plan: &Plan, results: &[PointResult], rows: &[Row]) -> String {
    let models: Vec<String> =
        rows.first().map(|r| r.points.iter().map(|&i| cell(&results[i].model)).collect()).unwrap_or_default();
    let slo = &plan.spec.slo;
    let mut bounds = Vec::new();
    if let Some(p99) = slo.p99 {
        bounds.push(format!("p99 ≤ {p99}"));
    }
    if let Some(e) = slo.error_rate {
        bounds.push(format!("errors ≤ {}%", e * 100.0));
    }
    for (cause, b) in &slo.errors {
        bounds.push(format!("{cause} ≤ {}%", b * 100.0));
    }
    if let Some(b) = slo.backend_calls_per_s {
        bounds.push(format!("backend ≤ {b} calls/s"));
    }
    let mut out = format!(
        "# {}\n\n{}SLO: {} (margin {}%). {} replications per point, base seed {}.\n\n",
        plan.spec.name,
        if plan.spec.description.is_empty() { String::new() } else { format!("{}\n\n", plan.spec.description) },
        bounds.join(", "),
        slo.margin * 100.0,
        plan.spec.replications,
        plan.spec.seed,
    );
    let axes: Vec<String> =
        if plan.axes.is_empty() { vec!["point".into()] } else { plan.axes.iter().map(|a| cell(a)).collect() };
    out += &format!("| {} | {} | cheapest meeting the SLO |\n", axes.join(" | "), models.join(" | "));
    out += &format!("|{}\n", "---|".repeat(axes.len() + models.len() + 1));
    for row in rows {
        let first = &results[row.points[0]];
        let cells: Vec<String> = if plan.axes.is_empty() {
            vec!["all".into()]
        } else {
            first
                .params
                .iter()
                .zip(&row.labels)
                .map(|((_, v), l)| cell(&if l == v { v.clone() } else { format!("{l} ({v})") }))
                .collect()
        };
        let verdicts: Vec<String> = row
            .points
            .iter()
            .map(|&i| {
                let r = &results[i];
                let mut cell = format!("{} {}", r.verdict.level.mark(), r.verdict.level.name());
                if let Some(c) = &r.verdict.cause {
                    cell += &format!(": {c}");
                }
                if r.monthly_cost_usd > 0.0 {
                    cell += &format!(" · ${:.0}/mo", r.monthly_cost_usd);
                    if let Some(pm) = r.usd_per_million_requests {
                        cell += &format!(", ${pm:.2}/M req");
                    }
                }
                self::cell(&cell)
            })
            .collect();
        out += &format!(
            "| {} | {} | {} |\n",
            cells.join(" | "),
            verdicts.join(" | "),
            cell(row.cheapest.as_deref().unwrap_or("none"))
        );
    }
    out += "\nLevels: READY meets every bound with the margin to spare (upper 95% bound); NEEDS_TUNING meets them, but within the margin; RISKY misses one, or may (within the margin or the noise); FAILS clearly misses one (lower 95% bound beyond the margin). The cause is the bound that decided.\n";
    out
}

#[derive(Serialize)]
struct Summary<'a> {
    experiment: &'a str,
    description: &'a str,
    fingerprint: &'a str,
    seed: u64,
    replications: u32,
    slo: &'a super::spec::Slo,
    points: &'a [PointResult],
    rows: &'a [Row],
}

/// Writes all four files into `out`.
pub fn write_all(
    out: &Path,
    plan: &Plan,
    records: &BTreeMap<RunId, RunRecord>,
    results: &[PointResult],
    rows: &[Row],
) -> Result<(), AppError> {
    let summary = Summary {
        experiment: &plan.spec.name,
        description: &plan.spec.description,
        fingerprint: &plan.fingerprint,
        seed: plan.spec.seed,
        replications: plan.spec.replications,
        slo: &plan.spec.slo,
        points: results,
        rows,
    };
    let files = vec![
        (out.join("runs.csv"), runs_csv(plan, records)),
        (out.join("points.csv"), points_csv(plan, results)),
        (out.join("summary.json"), summary_json(&summary, results.len())),
        (out.join("matrix.md"), matrix_md(plan, results, rows).into_bytes()),
    ];
    write_all_atomic(&files)
        .map_err(|e| AppError::Failed(format!("cannot write the results into {}: {e}", out.display())))
}

/// Past this many points summary.json is written without indentation
/// (about a third smaller); below it, indented for people to read.
pub const COMPACT_SUMMARY_PAST: usize = 1000;

fn summary_json<T: serde::Serialize>(summary: &T, points: usize) -> Vec<u8> {
    if points > COMPACT_SUMMARY_PAST {
        serde_json::to_vec(summary).expect("summaries serialize")
    } else {
        serde_json::to_vec_pretty(summary).expect("summaries serialize")
    }
}

#[cfg(test)]
mod cell_tests {
    use super::cell;

    #[test]
    fn a_pipe_or_a_line_break_in_a_name_cannot_break_the_matrix_table() {
        assert_eq!(cell("a|b\nc\r"), "a\\|b c ");
        assert_eq!(cell("reference_locked"), "reference_locked");
    }
}
