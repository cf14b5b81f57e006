//! `report.html`: one self-contained page (inline SVG, inline CSS, no
//! script, no network) that an architect can send on: the models, the SLO,
//! the matrix, the plots, the breaking points, and each architecture's
//! first failure. Written as well-formed XHTML so tools can parse it.

use std::fmt::Write;

use super::figures::Named;
use crate::config::{
    Backend, Balancer, CacheStart, Cdn, ClientLimit, Dur, Fault, GiveUp, Latency, LimitKey, LimitStorage,
    LimitStrategy, ModelSpec, Pool, Redis, Refresh, ResponseCache, SharedRefresh, Spread, TtlFrom, WhenDown, WhenEmpty,
    Writes,
};
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

fn dur_opt(d: Option<Dur>, none: &str) -> String {
    d.map_or(none.to_string(), |d| d.to_string())
}

fn plural(n: u32, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn servers(m: &ModelSpec) -> String {
    let s = &m.servers;
    let concurrency = s.concurrency.map_or("unlimited concurrency (asyncio)".into(), |c| format!("concurrency {c}"));
    let balancer = match s.balancer {
        Balancer::RoundRobin => "round robin",
        Balancer::Random => "random",
        Balancer::LeastConnections => "least connections",
    };
    let handler = match s.handler.has_cpu() {
        true => format!("CPU {} then wait {}", latency(&s.handler.cpu), latency(&s.handler.wait)),
        false => latency(&s.handler.wait),
    };
    let mut line = format!(
        "servers: {} × {} × {concurrency} ({balancer}), handler {handler}",
        s.count,
        plural(s.workers.get(), "worker process", "worker processes"),
    );
    if let Some(cores) = s.cores {
        line += &format!(", {} per server", plural(cores.get(), "core", "cores"));
    }
    if !crate::config::is_zero(&s.parse) {
        line += &format!(", parse CPU {}", latency(&s.parse));
    }
    if m.backend.payload_bytes > 0 || s.response_bytes.is_some_and(|b| b > 0) {
        let bytes = s.response_bytes.unwrap_or(m.backend.payload_bytes);
        line += &format!(", JSON {:?}: payload {} B, response {bytes} B", s.json, m.backend.payload_bytes);
    }
    if !s.restarts.is_empty() {
        line += &format!(", {} at {}", plural(s.restarts.len() as u32, "restart", "restarts"), {
            s.restarts.iter().map(|r| format!("{} (server {})", r.at, r.server)).collect::<Vec<_>>().join(", ")
        });
    }
    line
}

fn refresh(r: &Refresh) -> String {
    match r {
        Refresh::None => "no stampede protection (every request finding it expired fetches)".into(),
        Refresh::SingleFlight => "stampede lock: single flight (one fetch, waiters reuse it)".into(),
        Refresh::StaleWhileRevalidate { window } => format!("stale-while-revalidate {window}"),
        Refresh::XFetch { beta, lock } => {
            format!("XFetch early refresh, beta {beta}{}", if *lock { ", with lock" } else { ", no lock" })
        }
        Refresh::Background { ahead } => format!("background refresh {ahead} ahead of expiry"),
        Refresh::Lease { interval, retry, stale } => lease(*interval, *retry, *stale),
    }
}

fn lease(interval: Dur, retry: Dur, stale: bool) -> String {
    format!(
        "leases (one per {interval}, others {})",
        if stale { "served the expired entry".to_string() } else { format!("retry every {retry}") }
    )
}

fn local_cache(m: &ModelSpec) -> String {
    let Some(c) = &m.cache else {
        return if m.redis.is_some() {
            "local cache: none (the shared Redis serves)".into()
        } else if m.cdn.is_some() {
            "local cache: none (every request reaching a server fetches)".into()
        } else {
            "local cache: none (every request fetches)".into()
        };
    };
    let mut line = format!(
        "local cache (per worker): TTL {}{}, {} start, {}",
        c.ttl,
        if c.ttl_from == TtlFrom::FromAccess { " from the last hit" } else { "" },
        match c.start {
            CacheStart::Cold => "cold",
            CacheStart::Warm => "warm",
        },
        refresh(&c.refresh)
    );
    if c.ttl_jitter > 0.0 {
        line += &format!(", TTL jitter ±{}%", c.ttl_jitter * 100.0);
    }
    line
}

fn redis(r: &Redis) -> String {
    let mut line = format!(
        "Redis (shared{}): TTL {}, round trip {}, command {}",
        match r.start {
            CacheStart::Cold => "",
            CacheStart::Warm => ", warm",
        },
        r.ttl,
        latency(&r.rtt),
        latency(&r.command_time)
    );
    line += &match &r.lock {
        Some(l) => {
            let mut lock = format!(
                "; lock: lease {}, blocking timeout {}, poll {}, on give-up {}",
                dur_opt(l.timeout, "none (held until released)"),
                dur_opt(l.blocking_timeout, "none (waits forever)"),
                l.sleep,
                match l.on_give_up {
                    GiveUp::Fail => "fail",
                    GiveUp::FetchAnyway => "fetch anyway",
                    GiveUp::ServeStale => "serve stale",
                }
            );
            if l.recheck {
                lock += ", re-read after acquiring";
            }
            if l.recheck_on_give_up {
                lock += ", re-read before giving up";
            }
            lock
        }
        None => "; no lock (every miss fetches)".into(),
    };
    match r.refresh {
        SharedRefresh::None => {}
        SharedRefresh::XFetch { beta } => line += &format!("; XFetch early refresh, beta {beta}"),
        SharedRefresh::StaleWhileRevalidate { window } => line += &format!("; stale-while-revalidate {window}"),
        SharedRefresh::Lease { interval, retry, stale } => line += &format!("; {}", lease(interval, retry, stale)),
        SharedRefresh::Background { ahead } => line += &format!("; background refresh {ahead} ahead of expiry"),
    }
    if r.ttl_jitter > 0.0 {
        line += &format!("; TTL jitter ±{}%", r.ttl_jitter * 100.0);
    }
    if !r.outages.is_empty() {
        line += &format!(
            "; down {} (then {})",
            r.outages.iter().map(|w| format!("{} to {}", w.from, w.to)).collect::<Vec<_>>().join(", "),
            match r.when_down {
                WhenDown::Backend => "requests go to the backend",
                WhenDown::Fail => "requests fail",
            }
        );
    }
    line
}

fn cdn(c: &Cdn) -> String {
    let ttl = c.lifetime();
    let mut line = format!(
        "CDN: {} ({}), TTL {ttl}{}",
        plural(c.pops, "PoP", "PoPs"),
        match &c.spread {
            Spread::Even => "even spread".to_string(),
            Spread::Zipf(s) => format!("Zipf {s} spread"),
            Spread::Shares(v) => format!("shares {v:?}"),
        },
        if ttl.nanos() == 0 {
            " (not cached)"
        } else if c.s_maxage.is_some() {
            " (s-maxage)"
        } else {
            " (max-age)"
        }
    );
    if c.stale_while_revalidate.nanos() > 0 {
        line += &format!(", stale-while-revalidate {}", c.stale_while_revalidate);
    }
    if c.stale_if_error.nanos() > 0 {
        line += &format!(", stale-if-error {}", c.stale_if_error);
    }
    line += if c.revalidate { ", ETag revalidation" } else { ", no revalidation" };
    line += if c.collapse { ", request collapsing" } else { ", no collapsing" };
    line += &format!(", client round trip {}", latency(&c.client_rtt));
    line += &match &c.shield {
        Some(s) => format!(", shield (round trip {})", latency(&s.rtt)),
        None => ", no shield".into(),
    };
    line
}

fn client_limit(c: &ClientLimit) -> String {
    format!(
        "client rate limit: {} per {} per {} ({}, {}), {} (Zipf {})",
        c.limit,
        c.per,
        match c.key {
            LimitKey::RemoteAddress => "remote address",
            LimitKey::User => "user",
        },
        match c.strategy {
            LimitStrategy::FixedWindow => "fixed window",
            LimitStrategy::MovingWindow => "moving window",
        },
        match c.storage {
            LimitStorage::PerProcess => "counted per process",
            LimitStorage::Shared => "shared counters",
        },
        plural(c.users.get(), "user", "users"),
        c.zipf
    )
}

fn response_cache(r: &ResponseCache) -> String {
    format!(
        "response cache (per worker): TTL {}, {} (Zipf {}), {}",
        r.ttl,
        plural(r.keys, "query", "queries"),
        r.zipf,
        r.capacity.map_or("unlimited capacity".into(), |c| format!("at most {c} kept (LRU)"))
    )
}

fn backend(b: &Backend) -> String {
    let mut line = format!("backend: {}", latency(&b.latency));
    line += &match &b.rate_limit {
        None => "; no rate limit".into(),
        Some(r) => format!(
            "; rate limit {}/s, burst {}, {}",
            r.rate.0,
            r.burst,
            match r.when_empty {
                WhenEmpty::Fail => "fail when empty".to_string(),
                WhenEmpty::Retry => format!(
                    "retry when empty (backoff {} × {}, at most {}, deadline {})",
                    r.retry.initial, r.retry.multiplier, r.retry.max_delay, r.retry.deadline
                ),
            }
        ),
    };
    if let Some(w) = &b.writes {
        line += &format!("; {}", writes(w));
    }
    if !b.faults.is_empty() {
        let faults: Vec<String> = b
            .faults
            .iter()
            .map(|f| match f {
                Fault::Outage { from, to } => format!("outage {from} to {to}"),
                Fault::Slow { from, to, factor } => format!("{factor}× slower {from} to {to}"),
            })
            .collect();
        line += &format!("; {}", faults.join(", "));
    }
    line
}

fn writes(w: &Writes) -> String {
    match w {
        Writes::Every(d) => format!("data changes every {d}"),
        Writes::Poisson(r) => format!("data changes {}/s (Poisson)", r.0),
    }
}

fn database(p: &Pool) -> Vec<String> {
    let pool = format!(
        "SQLAlchemy pool per worker: pool_size {} + max_overflow {} (at most {}), timeout {}",
        p.pool_size,
        p.max_overflow,
        u64::from(p.pool_size) + u64::from(p.max_overflow),
        p.pool_timeout
    );
    let postgres = format!(
        "PostgreSQL max_connections {} ({} reserved), query {}",
        p.max_connections,
        p.reserved_connections,
        latency(&p.query)
    );
    let mut lines = vec![match &p.pgbouncer {
        Some(b) => format!(
            "database: PgBouncer (pool_mode transaction) per node: default_pool_size {}, max_client_conn {}, query_wait_timeout {}; in front of it each {pool}; {postgres}",
            b.default_pool_size, b.max_client_conn, b.query_wait_timeout
        ),
        None => format!("database: {pool}, straight to {postgres}"),
    }];
    if let Some(r) = &p.replicas {
        lines.push(format!(
            "read replicas: {}, lag {}, {}% of queries read from a replica",
            r.count,
            latency(&r.lag),
            r.read_share * 100.0
        ));
    }
    if let Some(w) = &p.writes {
        lines.push(format!("database writes: {}", writes(w)));
    }
    lines
}

/// Every part of a model, one short line each, in the order a request
/// meets them.
fn parts(m: &ModelSpec) -> Vec<String> {
    let mut lines = Vec::new();
    lines.extend(m.cdn.as_ref().map(cdn));
    lines.extend(m.client_limit.as_ref().map(client_limit));
    lines.push(servers(m));
    lines.extend(m.response_cache.as_ref().map(response_cache));
    lines.push(local_cache(m));
    lines.extend(m.redis.as_ref().map(redis));
    lines.push(backend(&m.backend));
    if let Some(p) = &m.db {
        lines.extend(database(p));
    }
    lines
}

/// The model's monthly cost with its parts, and whether servers are priced.
fn cost(m: &ModelSpec) -> String {
    let c = &m.cost;
    if spec_pricing(m) == Pricing::Unpriced {
        return "unpriced (no cost:)".into();
    }
    let mut items: Vec<String> = Vec::new();
    if c.per_server > 0.0 {
        items.push(format!("{} servers × ${:.0}", m.servers.count, c.per_server));
    }
    items.extend(c.parts.iter().map(|(name, p)| format!("{name} ${p:.0}")));
    if c.per_server <= 0.0 {
        items.push("servers unpriced".into());
    }
    format!("${:.0} ({})", m.monthly_cost(), items.join(", "))
}

fn model_row(m: &ModelSpec) -> String {
    let list: String = parts(m).iter().map(|l| format!("<li>{}</li>", esc(l))).collect();
    format!(
        "<tr><td>{}</td><td>{}</td><td><ul class=\"parts\">{list}</ul></td><td>{}</td></tr>\n",
        esc(&m.name),
        esc(&m.description),
        esc(&cost(m))
    )
}

const STYLE: &str = "body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:4px 8px;font-size:13px;vertical-align:top}\
th{background:#eee}.READY{background:#86cb92}.NEEDS_TUNING{background:#f5d670}.RISKY{background:#f6a45c}.FAILS{background:#e76f6a}\
figure{margin:1.5em 0}figcaption{font-size:13px;color:#555}ul.parts{margin:0;padding-left:1.2em}\
.cost{font-size:12px;color:#333}p.note{font-size:13px;color:#555}";

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
    h += "<h2>Models</h2>\n<table>\n<tr><th>model</th><th>description</th><th>parts</th><th>cost/month</th></tr>\n";
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
        h += &format!(
            "<h2>Breaking points</h2>\n<p class=\"note\">From limits.json (<code>cachesim limit</code>), found for this experiment (fingerprint {}).</p>\n",
            esc(&plan.fingerprint)
        );
        h += "<table>\n<tr><th>model</th><th>highest load meeting the SLO</th><th>breaks by</th><th>goodput collapse</th><th>after a spike</th></tr>\n";
        for l in limits {
            let limit = match (l.max_meeting, l.min_failing) {
                (None, _) => "fails at the lowest load tried".into(),
                (Some(m), None) => format!("{m:.1} or more (top of the search)"),
                (Some(m), Some(f)) => format!("{m:.1} (fails by {f:.1})"),
            };
            let collapse = l.collapse_at.map_or("none in the range".into(), |c| format!("by {c:.1}"));
            let spike = l.recovery.as_ref().map_or("-".into(), super::limits::recovery_brief);
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
            let cost = match pricing(plan, r) {
                Pricing::Unpriced => "unpriced".to_string(),
                p => {
                    let mut c = format!("${:.0}/month", r.monthly_cost_usd);
                    if let Some(m) = r.usd_per_million_requests {
                        c += &format!(", ${m:.2} per million requests");
                    }
                    if p == Pricing::PartsOnly {
                        c += " (servers unpriced)";
                    }
                    c
                }
            };
            h += &format!(
                "<td class=\"{}\">{}<br/><span class=\"cost\">{}</span></td>",
                r.verdict.level.name(),
                esc(&text),
                esc(&cost)
            );
        }
        h += &format!("<td>{}</td></tr>\n", esc(row.cheapest.as_deref().unwrap_or("none")));
    }
    h += "</table>\n";
    let named = |which: Pricing| -> Vec<&str> {
        models.iter().copied().filter(|m| model_pricing(plan, m) == Some(which)).collect()
    };
    let (unpriced, parts_only) = (named(Pricing::Unpriced), named(Pricing::PartsOnly));
    if !unpriced.is_empty() {
        h += &format!(
            "<p class=\"note\">Unpriced: {} (the model has no <code>cost:</code>), shown as \"unpriced\" and counted as $0 for \"cheapest meeting the SLO\". Give it <code>cost: (per_server: ..., parts: [...])</code> to compare its price.</p>\n",
            esc(&unpriced.join(", "))
        );
    }
    if !parts_only.is_empty() {
        h += &format!(
            "<p class=\"note\">Servers unpriced: {} (the model's <code>cost:</code> sets no <code>per_server</code>): $/month and $ per million requests count only the parts listed with it.</p>\n",
            esc(&parts_only.join(", "))
        );
    }
    h
}

/// How much of a model's cost its file gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pricing {
    /// Servers priced (`per_server` above 0).
    Priced,
    /// Parts priced, servers not.
    PartsOnly,
    /// No price at all: no `cost:` (or an empty one).
    Unpriced,
}

fn spec_pricing(m: &ModelSpec) -> Pricing {
    match (m.cost.per_server > 0.0, m.cost.parts.is_empty()) {
        (true, _) => Pricing::Priced,
        (false, false) => Pricing::PartsOnly,
        (false, true) => Pricing::Unpriced,
    }
}

fn pricing(plan: &Plan, r: &PointResult) -> Pricing {
    plan.points.iter().find(|p| p.index == r.point).map_or(Pricing::Unpriced, |p| spec_pricing(&p.spec))
}

fn model_pricing(plan: &Plan, model: &str) -> Option<Pricing> {
    plan.points.iter().find(|p| p.model == model).map(|p| spec_pricing(&p.spec))
}
