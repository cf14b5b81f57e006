//! Which figures a sweep and a run produce, built from results: latency and
//! errors against load, the verdict matrix, and a run's time series.
//!
//! Styles carry meaning: one hue per model, a shade per setting of the
//! other axes (dark to light, in the grid's order), one dash per percentile
//! (p50 solid, p99 dashed) or per error cause; the SLO's bounds are dashed
//! grey rules on the charts of the metrics they bound.

mod cause;
mod grid;

use std::collections::HashMap;

use plotters::style::RGBColor;

use super::plot::{Chart, Dash, Figure, Heatmap, Line, Rule, color};
use crate::experiment::{Grid as GridKind, Level, Plan, PointResult, PointStats, Row, Slo};
use crate::metrics::Series;
use grid::Drawn;

/// A figure and the file name (without extension) it is saved under.
pub struct Named {
    pub name: String,
    pub figure: Figure,
}

/// (value, lower, upper) of a metric at a point: the p99 over every
/// replication's requests pooled, with its bootstrap interval (as the
/// verdicts judge it); any other metric's mean with its 95% interval.
pub fn value_band(stats: &PointStats, key: &str) -> Option<(f64, f64, f64)> {
    if key == "latency_s.p99" {
        let p = stats.pooled.latency_p99.as_ref()?;
        let (lo, hi) = p.ci95_s.unwrap_or((p.value_s, p.value_s));
        return Some((p.value_s, lo, hi));
    }
    stats.get(key).and_then(|e| e.mean.map(|m| (m, m - e.ci95.unwrap_or(0.0), m + e.ci95.unwrap_or(0.0))))
}

/// One metric against one knob (`serve`'s "sweep this knob"): the values
/// with their 95% bands, and the SLO's bound as a rule.
pub fn knob_figure(
    title: &str,
    knob: &str,
    metric: &str,
    points: &[(f64, (f64, f64, f64))],
    bound: Option<f64>,
) -> Figure {
    let line = Line {
        name: metric.to_string(),
        points: points.iter().map(|&(x, (v, _, _))| (x, v)).collect(),
        band: points.iter().map(|&(x, (_, lo, hi))| (x, lo.max(0.0), hi)).collect(),
        color: color(0, 0, 1),
        dash: Dash::Solid,
    };
    Figure::Lines(Chart {
        title: title.to_string(),
        x_label: knob.to_string(),
        y_label: metric.to_string(),
        lines: vec![line],
        rules: bound.into_iter().map(|b| Rule { y: b, label: format!("SLO {metric} ≤ {}", short(b)) }).collect(),
        ..Chart::default()
    })
}

/// A number as a bound shows it: at most four significant digits.
fn short(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let digits = (3 - v.abs().log10().floor() as i32).clamp(0, 12) as usize;
    let text = format!("{v:.digits$}");
    if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_string() } else { text }
}

fn percent(v: f64) -> String {
    format!("{}%", short(v * 100.0))
}

/// The line of one group for metric `key`, with its band if `band`.
fn line_of(g: &grid::Group, key: &str, what: &str, dash: Dash, band: bool) -> Drawn {
    let values: Vec<(f64, (f64, f64, f64))> =
        g.points.iter().filter_map(|&(x, r)| value_band(&r.stats, key).map(|v| (x, v))).collect();
    let line = Line {
        name: format!("{} {what}", g.model_name),
        points: values.iter().map(|&(x, (v, _, _))| (x, v)).collect(),
        band: if band { values.iter().map(|&(x, (_, lo, hi))| (x, lo.max(0.0), hi)).collect() } else { Vec::new() },
        // The colour is the chart's to choose (`grid::arrange`).
        color: color(g.model, 0, 1),
        dash,
    };
    Drawn { model: g.model, settings: g.settings.clone(), line }
}

/// The SLO's bounds on the error charts: each cause's, and the overall rate.
fn error_rules(slo: &Slo) -> Vec<Rule> {
    let mut rules: Vec<Rule> =
        slo.errors.iter().map(|(c, &b)| Rule { y: b, label: format!("SLO {c} ≤ {}", percent(b)) }).collect();
    rules.extend(slo.error_rate.map(|b| Rule { y: b, label: format!("SLO error rate ≤ {} (all causes)", percent(b)) }));
    rules
}

/// Figures of a sweep.
pub fn sweep_figures(plan: &Plan, results: &[PointResult], rows: &[Row]) -> Vec<Named> {
    let x = grid::x_axis(plan);
    let groups = grid::groups(plan, &x, results);
    let mut latency = Vec::new();
    for g in &groups.groups {
        latency.push(line_of(g, "latency_s.p50", "p50", Dash::Solid, false));
        latency.push(line_of(g, "latency_s.p99", "p99", Dash::Dashed, true));
    }
    let mut chart = x.chart("Latency percentiles against load (p99 pooled; bands: 95% interval)", "latency (s)");
    chart.rules = plan
        .spec
        .slo
        .p99
        .map(|b| b.as_secs_f64())
        .into_iter()
        .map(|b| Rule { y: b, label: format!("SLO p99 ≤ {} s", short(b)) })
        .collect();
    let mut out = vec![Named { name: "latency_vs_load".into(), figure: grid::arrange(chart, latency, &groups.panels) }];

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
    let mut shown = 0;
    for cause in &causes {
        let key = format!("requests.error_share.{cause}");
        let dash = [Dash::Solid, Dash::Dashed, Dash::Dotted][shown % 3];
        let lines: Vec<Drawn> = groups
            .groups
            .iter()
            .map(|g| line_of(g, &key, cause, dash, true))
            .filter(|d| d.line.points.iter().any(|p| p.1 > 0.0))
            .collect();
        shown += usize::from(!lines.is_empty());
        errors.extend(lines);
    }
    let mut chart = x.chart("Errors by cause against load", "share of requests failing");
    chart.rules = error_rules(&plan.spec.slo);
    out.push(Named { name: "errors_vs_load".into(), figure: grid::arrange(chart, errors, &groups.panels) });
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

/// The verdict matrix: a row per combination of the axes and a column per
/// model; on a Cartesian grid of two or more axes, the last axis' values
/// are columns too (model by value), so that a rate × pool size grid reads
/// as a table. Each cell: the level, the cause word, and "cheapest" where
/// several models compete and this one is the cheapest meeting the SLO.
fn heatmap(plan: &Plan, results: &[PointResult], rows: &[Row]) -> Heatmap {
    let names = grid::short_names(&plan.axes);
    let models: Vec<String> = plan.model_points().iter().map(|p| p.model.clone()).collect();
    let pivot = matches!(plan.spec.grid, GridKind::Cartesian(_)) && plan.axes.len() >= 2;
    let row_axes = if pivot { plan.axes.len() - 1 } else { plan.axes.len() };
    let per_model = plan.points.len() / models.len().max(1);
    let by_point: HashMap<usize, &PointResult> = results.iter().map(|r| (r.point, r)).collect();
    let (mut row_keys, mut col_keys): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    let mut place = Vec::new();
    for p in &plan.points {
        let at = |k: usize| grid::setting(&names[k], &p.params[k].1, p.labels.get(k).map_or("", String::as_str));
        let row = (0..row_axes).map(at).collect::<Vec<_>>().join(", ");
        let row = if row.is_empty() { "every point".to_string() } else { row };
        let mut col = if models.len() > 1 || !pivot { p.model.clone() } else { String::new() };
        if pivot {
            col = [col, at(row_axes)].iter().filter(|s| !s.is_empty()).cloned().collect::<Vec<_>>().join("\n");
        }
        let index = |keys: &mut Vec<String>, key: String| {
            keys.iter().position(|k| *k == key).unwrap_or_else(|| {
                keys.push(key);
                keys.len() - 1
            })
        };
        place.push((index(&mut row_keys, row), index(&mut col_keys, col), p));
    }
    let mut cells = vec![vec![("not run".to_string(), RGBColor(230, 230, 230)); col_keys.len()]; row_keys.len()];
    for (i, j, p) in place {
        let Some(r) = by_point.get(&p.index) else { continue };
        let mut text = r.verdict.level.name().to_string();
        if let Some(word) = cause::cause_word(&r.verdict) {
            text = format!("{text}\n{word}");
        }
        let cheapest = rows.get(p.index % per_model.max(1)).and_then(|row| row.cheapest.as_ref());
        if models.len() > 1 && cheapest == Some(&r.model) {
            text.push_str("\ncheapest");
        }
        cells[i][j] = (text, level_color(r.verdict.level));
    }
    let column_axis = match (pivot, models.len() > 1) {
        (true, true) => format!("model × {}", plan.axes[row_axes]),
        (true, false) => format!("{} ({})", plan.axes[row_axes], models.join(", ")),
        (false, _) => "model".to_string(),
    };
    let row_axis = if row_axes == 0 { "grid".to_string() } else { plan.axes[..row_axes].join(" × ") };
    Heatmap {
        title: format!("Verdicts: {}", plan.spec.name),
        row_axis,
        column_axis,
        columns: col_keys,
        rows: row_keys,
        cells,
    }
}

/// Figures of one run's time series.
pub fn series_figures(model: &str, s: &Series) -> Vec<Named> {
    let w = s.bucket_secs();
    let t = |i: usize| i as f64 * w;
    // The k-th line of a chart takes the k-th colour.
    let line = |k: usize, name: &str, f: &dyn Fn(&crate::metrics::Bucket) -> f64| {
        Line::new(name, s.buckets.iter().enumerate().map(|(i, b)| (t(i), f(b))).collect(), color(k, 0, 1))
    };
    let chart = |name: &str, title: String, y: &str, lines: Vec<Line>| Named {
        name: name.into(),
        figure: Figure::Lines(Chart {
            title,
            x_label: "simulated time (s)".into(),
            y_label: y.into(),
            lines,
            ..Chart::default()
        }),
    };
    let per_s = 1.0 / w;
    let mut out = vec![
        chart(
            "backend_calls",
            format!("{model}: backend calls per second (each spike is a cache expiry)"),
            "fetches per second",
            vec![line(0, "backend calls", &|b| b.backend_calls as f64 * per_s)],
        ),
        chart(
            "pool_in_use",
            format!("{model}: pool connections in use (peak per bucket)"),
            "connections",
            vec![line(0, "in use", &|b| b.pool_in_use_max as f64)],
        ),
        chart(
            "in_flight",
            format!("{model}: requests in flight (peak per bucket)"),
            "requests",
            vec![line(0, "in flight", &|b| b.in_flight_max as f64)],
        ),
        chart(
            "outcomes",
            format!("{model}: requests completed and failed per second"),
            "requests per second",
            vec![line(0, "ok", &|b| b.ok as f64 * per_s), line(1, "failed", &|b| b.failed as f64 * per_s)],
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
            Line::new(format!("server {i}"), points, color(i, 0, 1))
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
