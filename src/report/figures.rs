//! Which figures a sweep and a run produce, built from results: latency and
//! errors against load, the verdict matrix, and a run's time series.

use plotters::style::RGBColor;

use super::plot::{Chart, Figure, Heatmap, Line};
use crate::experiment::{Level, Plan, PointResult, Row};
use crate::metrics::Series;

/// A figure and the file name (without extension) it is saved under.
pub struct Named {
    pub name: String,
    pub figure: Figure,
}

/// The x value of a point: its first axis' value if numeric, else its index.
fn x_of(r: &PointResult, index: usize) -> f64 {
    r.params.first().and_then(|(_, v)| v.parse::<f64>().ok()).unwrap_or(index as f64)
}

fn models(results: &[PointResult]) -> Vec<String> {
    let mut m: Vec<String> = Vec::new();
    for r in results {
        if !m.contains(&r.model) {
            m.push(r.model.clone());
        }
    }
    m
}

/// (value, lower, upper) of a metric at a point: the p99 over every
/// replication's requests pooled, with its bootstrap interval (as the
/// verdicts judge it); any other metric's mean with its 95% interval.
fn value_band(r: &PointResult, key: &str) -> Option<(f64, f64, f64)> {
    if key == "latency_s.p99" {
        let p = r.stats.pooled.latency_p99.as_ref()?;
        let (lo, hi) = p.ci95_s.unwrap_or((p.value_s, p.value_s));
        return Some((p.value_s, lo, hi));
    }
    r.stats.get(key).and_then(|e| e.mean.map(|m| (m, m - e.ci95.unwrap_or(0.0), m + e.ci95.unwrap_or(0.0))))
}

/// Figures of a sweep.
pub fn sweep_figures(plan: &Plan, results: &[PointResult], rows: &[Row]) -> Vec<Named> {
    let x_label = plan.axes.first().map_or("point".to_string(), |a| {
        if a == "workload.rate" { "offered load (req/s)".to_string() } else { a.clone() }
    });
    let mut out = Vec::new();
    let per_model = |key: &str, suffix: &str, band: bool| -> Vec<Line> {
        models(results)
            .into_iter()
            .map(|m| {
                let mine: Vec<(usize, &PointResult)> =
                    results.iter().enumerate().filter(|(_, r)| r.model == m).collect();
                let values: Vec<(f64, f64, f64, f64)> = mine
                    .iter()
                    .enumerate()
                    .filter_map(|(i, (_, r))| value_band(r, key).map(|(v, lo, hi)| (x_of(r, i), v, lo, hi)))
                    .collect();
                Line {
                    name: format!("{m}{suffix}"),
                    points: values.iter().map(|&(x, v, _, _)| (x, v)).collect(),
                    band: if band {
                        values.iter().map(|&(x, _, lo, hi)| (x, lo.max(0.0), hi)).collect()
                    } else {
                        Vec::new()
                    },
                }
            })
            .collect()
    };
    let mut latency = per_model("latency_s.p99", " p99", true);
    latency.extend(per_model("latency_s.p50", " p50", false));
    out.push(Named {
        name: "latency_vs_load".into(),
        figure: Figure::Lines(Chart {
            title: "Latency percentiles against load (p99 pooled; bands: 95% interval)".into(),
            x_label: x_label.clone(),
            y_label: "latency (s)".into(),
            lines: latency,
        }),
    });
    let causes: Vec<String> = results
        .first()
        .map(|r| {
            r.stats
                .metrics
                .iter()
                .filter_map(|(k, _)| k.strip_prefix("requests.error_share.").map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let mut errors = Vec::new();
    for cause in &causes {
        let lines = per_model(&format!("requests.error_share.{cause}"), &format!(" {cause}"), true);
        errors.extend(lines.into_iter().filter(|l| l.points.iter().any(|p| p.1 > 0.0)));
    }
    out.push(Named {
        name: "errors_vs_load".into(),
        figure: Figure::Lines(Chart {
            title: "Errors by cause against load".into(),
            x_label,
            y_label: "share of requests failing".into(),
            lines: errors,
        }),
    });
    out.push(Named { name: "verdict_matrix".into(), figure: Figure::Cells(heatmap(plan, results, rows)) });
    out
}

fn level_color(level: Level) -> RGBColor {
    match level {
        Level::Ready => RGBColor(134, 203, 146),
        Level::NeedsTuning => RGBColor(245, 214, 112),
        Level::Risky => RGBColor(246, 164, 92),
        Level::Fails => RGBColor(231, 111, 106),
    }
}

fn heatmap(plan: &Plan, results: &[PointResult], rows: &[Row]) -> Heatmap {
    let columns =
        rows.first().map(|r| r.points.iter().map(|&i| results[i].model.clone()).collect()).unwrap_or_default();
    Heatmap {
        title: format!("Verdicts: {}", plan.spec.name),
        columns,
        rows: rows.iter().map(|r| if r.labels.is_empty() { "all".into() } else { r.labels.join(" / ") }).collect(),
        cells: rows
            .iter()
            .map(|r| {
                r.points
                    .iter()
                    .map(|&i| (results[i].verdict.level.name().to_string(), level_color(results[i].verdict.level)))
                    .collect()
            })
            .collect(),
    }
}

/// Figures of one run's time series.
pub fn series_figures(model: &str, s: &Series) -> Vec<Named> {
    let w = s.bucket_secs();
    let t = |i: usize| i as f64 * w;
    let line = |name: &str, f: &dyn Fn(&crate::metrics::Bucket) -> f64| Line {
        name: name.into(),
        points: s.buckets.iter().enumerate().map(|(i, b)| (t(i), f(b))).collect(),
        band: Vec::new(),
    };
    let chart = |name: &str, title: String, y: &str, lines: Vec<Line>| Named {
        name: name.into(),
        figure: Figure::Lines(Chart { title, x_label: "simulated time (s)".into(), y_label: y.into(), lines }),
    };
    let per_s = 1.0 / w;
    let mut out = vec![
        chart(
            "backend_calls",
            format!("{model}: backend calls per second (each spike is a cache expiry)"),
            "fetches per second",
            vec![line("backend calls", &|b| b.backend_calls as f64 * per_s)],
        ),
        chart(
            "pool_in_use",
            format!("{model}: pool connections in use (peak per bucket)"),
            "connections",
            vec![line("in use", &|b| b.pool_in_use_max as f64)],
        ),
        chart(
            "in_flight",
            format!("{model}: requests in flight (peak per bucket)"),
            "requests",
            vec![line("in flight", &|b| b.in_flight_max as f64)],
        ),
        chart(
            "outcomes",
            format!("{model}: requests completed and failed per second"),
            "requests per second",
            vec![line("ok", &|b| b.ok as f64 * per_s), line("failed", &|b| b.failed as f64 * per_s)],
        ),
    ];
    // Each server's data: its age (time since its cache was last filled);
    // each drop is a new version. Servers out of step serve different data.
    let end = s.buckets.len() as f64 * w;
    let lines: Vec<Line> = s
        .server_fills
        .iter()
        .enumerate()
        .map(|(i, fills)| {
            let mut points = Vec::new();
            let fills: Vec<f64> = fills.iter().map(|&ns| ns as f64 / 1e9).collect();
            for (k, &f) in fills.iter().enumerate() {
                let next = fills.get(k + 1).copied().unwrap_or(end);
                points.push((f, 0.0));
                points.push((next, next - f));
            }
            Line { name: format!("server {i}"), points, band: Vec::new() }
        })
        .collect();
    out.push(chart(
        "data_age",
        format!("{model}: age of the data each server serves (each drop is a new version)"),
        "age (s)",
        lines,
    ));
    out
}
