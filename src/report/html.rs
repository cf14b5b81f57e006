//! `report.html`: one self-contained page (inline SVG, inline CSS, no
//! script, no network) that an architect can send on: the models, the SLO,
//! the matrix, the plots, the breaking points, and each architecture's
//! first failure. Written as well-formed XHTML so tools can parse it.

use std::fmt::Write;

use super::figures::Named;
use crate::config::{Latency, ModelSpec};
use crate::experiment::{LimitResult, Plan, PointResult, Row};

/// Escapes text for XML/HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn latency(l: &Latency) -> String {
    match l {
        Latency::Constant(d) => format!("constant {d}"),
        Latency::Exponential { mean } => format!("exponential, mean {mean}"),
        Latency::LogNormal { median, p99 } => format!("log-normal, median {median}, p99 {p99}"),
        Latency::Uniform { low, high } => format!("uniform {low} to {high}"),
        Latency::Empirical { samples } => format!("empirical, {} samples", samples.len()),
    }
}

fn model_row(m: &ModelSpec) -> String {
    let cache = m
        .cache
        .as_ref()
        .map_or("none".into(), |c| format!("TTL {}, {:?} start, refresh {:?}", c.ttl, c.start, c.refresh));
    let limit =
        m.backend.rate_limit.as_ref().map_or("unlimited".into(), |r| {
            format!("{}/s, burst {}, {:?} when empty", r.rate.0, r.burst, r.when_empty)
        });
    let pool = m.db.as_ref().map_or("none".into(), |p| {
        format!("{} + {}, timeout {}, query {}", p.pool_size, p.max_overflow, p.pool_timeout, latency(&p.query))
    });
    let cells = [
        m.name.clone(),
        m.description.clone(),
        format!("{} ({:?}), handler {}", m.servers.count, m.servers.balancer, latency(&m.servers.handler)),
        cache,
        format!("{}; {limit}", latency(&m.backend.latency)),
        pool,
        format!("${:.0}", m.monthly_cost()),
    ];
    format!("<tr>{}</tr>\n", cells.iter().map(|c| format!("<td>{}</td>", esc(c))).collect::<String>())
}

const STYLE: &str = "body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:4px 8px;font-size:13px;vertical-align:top}\
th{background:#eee}.READY{background:#86cb92}.NEEDS_TUNING{background:#f5d670}.RISKY{background:#f6a45c}.FAILS{background:#e76f6a}\
figure{margin:1.5em 0}figcaption{font-size:13px;color:#555}";

/// The whole page.
pub fn report_html(
    plan: &Plan,
    results: &[PointResult],
    rows: &[Row],
    figures: &[(Named, String)],
    limits: Option<&[LimitResult]>,
) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<title>cachesim report: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>cachesim report: {}</h1>\n<p>{}</p>\n<p>{} points × {} replications, base seed {}, experiment fingerprint {}.</p>\n",
        esc(&plan.spec.name),
        esc(&plan.spec.name),
        esc(&plan.spec.description),
        plan.points.len(),
        plan.spec.replications,
        plan.spec.seed,
        esc(&plan.fingerprint)
    );
    h += "<h2>Models</h2>\n<table>\n<tr><th>model</th><th>description</th><th>servers</th><th>cache</th><th>backend</th><th>DB pool</th><th>cost/month</th></tr>\n";
    let seen: Vec<&str> = plan.model_points().iter().map(|p| p.model.as_str()).collect();
    for p in plan.model_points() {
        h += &model_row(&p.spec);
    }
    h += "</table>\n";
    let slo = &plan.spec.slo;
    h += "<h2>Service-level objective</h2>\n<ul>\n";
    if let Some(p) = slo.p99 {
        h += &format!("<li>p99 latency at most {p}</li>\n");
    }
    if let Some(e) = slo.error_rate {
        h += &format!("<li>at most {}% of requests failing</li>\n", e * 100.0);
    }
    for (cause, b) in &slo.errors {
        h += &format!("<li>at most {}% failing with {}</li>\n", b * 100.0, esc(cause));
    }
    if let Some(b) = slo.backend_calls_per_s {
        h += &format!("<li>at most {b} backend calls per second</li>\n");
    }
    h +=
        &format!("<li>margin {}%: READY has the margin to spare, FAILS is beyond it</li>\n</ul>\n", slo.margin * 100.0);
    h += &matrix(plan, results, rows);
    h += "<h2>First failure of each architecture</h2>\n<ul>\n";
    for m in &seen {
        let first = results.iter().find(|r| &r.model == m && !r.verdict.level.meets_slo());
        h += &match first {
            Some(r) => format!(
                "<li><b>{}</b>: first misses the SLO at {} ({}): {}</li>\n",
                esc(m),
                esc(&r.params.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")),
                r.verdict.level,
                esc(r.verdict.cause.as_deref().unwrap_or(""))
            ),
            None => format!("<li><b>{}</b>: meets the SLO at every point of the grid</li>\n", esc(m)),
        };
    }
    h += "</ul>\n";
    if let Some(limits) = limits {
        h += "<h2>Breaking points</h2>\n<table>\n<tr><th>model</th><th>highest load meeting the SLO</th><th>breaks by</th><th>goodput collapse</th><th>after a spike</th></tr>\n";
        for l in limits {
            let limit = match (l.max_meeting, l.min_failing) {
                (None, _) => "fails at the lowest load tried".into(),
                (Some(m), None) => format!("{m:.1} or more (top of the search)"),
                (Some(m), Some(f)) => format!("{m:.1} (fails by {f:.1})"),
            };
            let collapse = l.collapse_at.map_or("none in the range".into(), |c| format!("by {c:.1}"));
            let spike = l.recovery.as_ref().map_or("-".into(), |r| {
                if r.recovered == r.replications {
                    format!("recovers within {:.0}s", r.slowest_recovery_s.unwrap_or(0.0))
                } else {
                    format!("stays failed in {} of {} runs", r.replications - r.recovered, r.replications)
                }
            });
            h += &format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                esc(&l.model),
                esc(&limit),
                esc(l.cause.as_deref().unwrap_or("")),
                esc(&collapse),
                esc(&spike)
            );
        }
        h += "</table>\n";
    }
    h += "<h2>Plots</h2>\n";
    for (named, svg) in figures {
        h += &format!(
            "<figure id=\"{}\">\n{}\n<figcaption>{}</figcaption>\n</figure>\n",
            esc(&named.name),
            svg_body(svg),
            esc(named.figure.title())
        );
    }
    h += "<p>Made by cachesim. Same experiment and seed give the same page.</p>\n</body>\n</html>\n";
    h
}

/// An SVG document without any XML declaration, for inlining.
fn svg_body(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    }
}

fn matrix(plan: &Plan, results: &[PointResult], rows: &[Row]) -> String {
    let axes = if plan.axes.is_empty() { vec!["point".to_string()] } else { plan.axes.clone() };
    let models: Vec<&str> =
        rows.first().map(|r| r.points.iter().map(|&i| results[i].model.as_str()).collect()).unwrap_or_default();
    let mut h = String::from("<h2>Verdict matrix</h2>\n<table>\n<tr>");
    for a in axes.iter().map(String::as_str).chain(models.iter().copied()).chain(["cheapest meeting the SLO"]) {
        h += &format!("<th>{}</th>", esc(a));
    }
    h += "</tr>\n";
    for row in rows {
        h += "<tr>";
        let first = &results[row.points[0]];
        if plan.axes.is_empty() {
            h += "<td>all</td>";
        }
        for ((_, v), l) in first.params.iter().zip(&row.labels) {
            let text = if l == v { v.clone() } else { format!("{l} ({v})") };
            h += &format!("<td>{}</td>", esc(&text));
        }
        for &i in &row.points {
            let r = &results[i];
            let mut text = r.verdict.level.name().to_string();
            if let Some(c) = &r.verdict.cause {
                text += &format!(": {c}");
            }
            if r.monthly_cost_usd > 0.0 {
                text += &format!(" (${:.0}/mo)", r.monthly_cost_usd);
            }
            h += &format!("<td class=\"{}\">{}</td>", r.verdict.level.name(), esc(&text));
        }
        h += &format!("<td>{}</td></tr>\n", esc(row.cheapest.as_deref().unwrap_or("none")));
    }
    h + "</table>\n"
}
