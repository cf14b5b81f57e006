//! The human-readable summary of a run, and two runs side by side.

use std::fmt::Write;

use crate::metrics::RunReport;

/// Three significant digits, trailing zeros dropped.
fn sig3(x: f64) -> String {
    let digits = if x >= 100.0 {
        0
    } else if x >= 10.0 {
        1
    } else {
        2
    };
    let s = format!("{x:.digits$}");
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
}

/// Seconds, shown in a unit that keeps 3 significant digits.
pub fn secs(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(0.0) => "0".into(),
        Some(s) if s < 1e-3 => format!("{}µs", sig3(s * 1e6)),
        Some(s) if s < 1.0 => format!("{}ms", sig3(s * 1e3)),
        Some(s) => format!("{}s", sig3(s)),
    }
}

fn pct(v: f64) -> String {
    if v == 0.0 {
        "0%".into()
    } else if (0.999..1.0).contains(&v) {
        format!("{:.3}%", v * 100.0)
    } else {
        format!("{:.1}%", v * 100.0)
    }
}

/// Thousands separators: 1234567 -> "1,234,567".
pub fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Label/value rows, one metric group per line.
fn rows(r: &RunReport) -> Vec<(&'static str, String)> {
    let q = &r.requests;
    let l = &r.latency_s;
    let b = &r.backend;
    let p = &r.pool;
    let errors = q.errors.iter().map(|(k, v)| format!("{k} {}", count(*v))).collect::<Vec<_>>().join("   ");
    let mut rows = vec![
        (
            "requests",
            format!(
                "arrived {}   ok {}   failed {} ({})   in flight at end {}",
                count(q.arrived),
                count(q.ok),
                count(q.failed),
                pct(q.error_rate),
                count(q.in_flight_at_end)
            ),
        ),
        (
            "",
            format!(
                "throughput {:.1} req/s   mean in flight {:.2} (peak {})",
                q.throughput_rps, q.in_flight_mean, q.in_flight_peak
            ),
        ),
        (
            "latency",
            format!(
                "p50 {}   p95 {}   p99 {}   p99.9 {}   max {}   mean {}",
                secs(l.p50),
                secs(l.p95),
                secs(l.p99),
                secs(l.p999),
                secs(l.max),
                secs(l.mean)
            ),
        ),
        ("errors", errors),
        (
            "cache",
            format!(
                "hit ratio {}   served from cache {}   misses {}   coalesced waiters {}   fills {}{}",
                pct(r.cache.hit_ratio),
                pct(r.cache.served_from_cache_ratio),
                count(r.cache.misses),
                count(r.cache.coalesced),
                count(r.cache.fills),
                if r.cache.early_recomputes > 0 {
                    format!("   early recomputes {}", count(r.cache.early_recomputes))
                } else {
                    String::new()
                }
            ),
        ),
        (
            "backend",
            format!(
                "calls {} ({:.3}/s)   attempts {}   rate-limited {}",
                count(b.calls),
                b.calls_per_s,
                count(b.attempts),
                count(b.rate_limited)
            ),
        ),
        (
            "",
            format!(
                "peak concurrent {}   peak per second {}   expiries {}   fetches per expiry {} (refused {})   largest burst {}",
                b.peak_concurrent,
                b.peak_per_second,
                b.expiries,
                b.fetches_per_expiry_mean.map_or("-".into(), |m| format!("{m:.1}")),
                b.refused_per_expiry_mean.map_or("-".into(), |m| format!("{m:.1}")),
                b.largest_burst
            ),
        ),
        (
            "pool",
            format!(
                "peak in use {} (one pool {})   waited {}   wait mean {}   wait p99 {}   timeouts {}   opened {} (connect mean {}, p99 {})",
                p.peak_in_use,
                p.peak_in_use_per_pool,
                pct(p.wait_probability),
                secs(p.wait_mean_s),
                secs(p.wait_p99_s),
                count(p.timeouts),
                count(p.connections_opened),
                secs(p.connect_s.mean),
                secs(p.connect_s.p99)
            ),
        ),
        ("engine", engine_line(r)),
    ];
    rows.splice(5..5, optional_rows(r));
    if q.abandoned + q.client_retries > 0 {
        let text = format!(
            "clients gave up on {} (finished for nobody)   retries sent {}",
            count(q.abandoned),
            count(q.client_retries)
        );
        rows.insert(2, ("", text));
    }
    rows
}

/// Rows shown only when the model has the part: cache layers, the CDN, data
/// versions.
fn optional_rows(r: &RunReport) -> Vec<(&'static str, String)> {
    let mut rows = Vec::new();
    let sv = &r.servers;
    if sv.gc_pauses > 0 {
        rows.push((
            "gc",
            format!(
                "pauses {}   paused {}   requests held {}",
                count(sv.gc_pauses),
                secs(Some(sv.gc_pause_s.total)),
                pct(sv.gc_delayed_share)
            ),
        ));
    }
    if sv.cpu_s_per_request > 0.0 {
        rows.push((
            "event loop",
            format!(
                "busy {} (busiest process {})   lag p50 {}   p99 {}   max {}   CPU per request {}",
                pct(sv.loop_utilisation.mean),
                pct(sv.loop_utilisation.max),
                secs(sv.loop_lag_s.p50),
                secs(sv.loop_lag_s.p99),
                secs(sv.loop_lag_s.max),
                secs(Some(sv.cpu_s_per_request))
            ),
        ));
    }
    if sv.memory_bytes.peak > 0 {
        rows.push((
            "memory",
            format!(
                "server peak {}   process peak {}   OOM kills {}",
                bytes(sv.memory_bytes.peak),
                bytes(sv.memory_bytes.process_peak),
                count(sv.oom_kills)
            ),
        ));
    }
    if sv.link_utilisation.max > 0.0 || sv.link_in_utilisation.max > 0.0 {
        rows.push((
            "link",
            format!(
                "out busy {} (busiest server {})   in busy {} (busiest {})",
                pct(sv.link_utilisation.mean),
                pct(sv.link_utilisation.max),
                pct(sv.link_in_utilisation.mean),
                pct(sv.link_in_utilisation.max)
            ),
        ));
    }
    let d = &r.redis;
    if d.gets > 0 {
        rows.push((
            "redis",
            format!(
                "gets {}   hit ratio {}   lock acquisitions {}   lease takeovers {}   lock not owned {}   lock timeouts {}   fallback fetches {}   connections opened {} (connect mean {}; at most {} open; pool full {})",
                count(d.gets),
                pct(d.hit_ratio),
                count(d.lock_acquisitions),
                count(d.lease_takeovers),
                count(d.lock_not_owned),
                count(d.lock_timeouts),
                count(d.fallback_fetches),
                count(d.connections_opened),
                secs(d.connect_s.mean),
                d.peak_connections,
                count(d.max_connections_errors)
            ),
        ));
    }
    if r.cache.layers.len() > 1 {
        let layers = r.cache.layers.iter().map(|(k, l)| format!("{k} {}", pct(l.hit_ratio))).collect::<Vec<_>>();
        rows.push(("layers", format!("hit ratio by layer: {}", layers.join("   "))));
    }
    if r.cache.layers.contains_key("cdn") {
        let c = &r.cdn;
        rows.push((
            "cdn",
            format!(
                "origin requests {} ({:.3}/s)   304s {}   full responses {}   collapsed {}   stale served {}   PoPs diverged {}",
                count(c.origin_requests),
                c.origin_rps,
                count(c.not_modified),
                count(c.full_responses),
                count(c.collapsed),
                count(c.stale_served),
                pct(c.divergence.share)
            ),
        ));
    }
    let d = &r.db;
    if d.replica_reads > 0 || d.bouncer_waits > 0 || d.bouncer_timeouts > 0 || d.bouncer_connections_opened > 0 {
        rows.push((
            "db",
            format!(
                "queries {}   on replicas {} (stale {}, behind by {} on average)   PgBouncer waits {} (mean {})   timeouts {}   server connections opened {} (connect mean {})",
                count(d.queries),
                count(d.replica_reads),
                pct(d.stale_read_share),
                secs(d.stale_lag_mean_s),
                count(d.bouncer_waits),
                secs(d.bouncer_wait_mean_s),
                count(d.bouncer_timeouts),
                count(d.bouncer_connections_opened),
                secs(d.bouncer_connect_s.mean)
            ),
        ));
    }
    if r.staleness_s.max.is_some_and(|m| m > 0.0) || r.divergence.windows > 0 {
        let d = &r.divergence;
        rows.push((
            "data",
            format!(
                "staleness mean {}   p99 {}   max {}   divergence {} windows, longest {}, {} of the time",
                secs(r.staleness_s.mean),
                secs(r.staleness_s.p99),
                secs(r.staleness_s.max),
                count(d.windows),
                secs(Some(d.max_window_s)),
                pct(d.share)
            ),
        ));
    }
    rows
}

fn engine_line(r: &RunReport) -> String {
    format!(
        "{} events over {:.1} simulated s{}",
        count(r.engine.events),
        r.engine.simulated_s,
        if r.engine.truncated {
            format!("   STOPPED EARLY: {}", r.engine.stop_reason.as_deref().unwrap_or("cut short"))
        } else {
            String::new()
        }
    )
}

/// A compact aligned summary of one run.
pub fn summary(r: &RunReport) -> String {
    let mut out = if r.replication == 0 {
        format!("{:<9} {}   (seed {})\n", "model", r.model, r.seed)
    } else {
        format!("{:<9} {}   (seed {}, replication {})\n", "model", r.model, r.seed, r.replication)
    };
    for (label, value) in rows(r) {
        let _ = writeln!(out, "{label:<9} {value}");
    }
    out
}

/// Two runs of the same workload side by side, with a line on what differs.
pub fn comparison(a: &RunReport, b: &RunReport) -> String {
    let line = |label: &str, f: &dyn Fn(&RunReport) -> String| format!("{label:<28} {:>16} {:>16}\n", f(a), f(b));
    let mut out = line("", &|r| r.model.clone());
    out += &line("requests arrived", &|r| count(r.requests.arrived));
    out += &line("failed", &|r| format!("{} ({})", count(r.requests.failed), pct(r.requests.error_rate)));
    for cause in a.requests.errors.keys() {
        out += &line(&format!("  {cause}"), &|r| count(r.requests.errors[cause]));
    }
    out += &line("latency p50", &|r| secs(r.latency_s.p50));
    out += &line("latency p99", &|r| secs(r.latency_s.p99));
    out += &line("latency p99.9", &|r| secs(r.latency_s.p999));
    out += &line("latency max", &|r| secs(r.latency_s.max));
    out += &line("cache hit ratio", &|r| pct(r.cache.hit_ratio));
    out += &line("served from cache", &|r| pct(r.cache.served_from_cache_ratio));
    out += &line("backend calls", &|r| count(r.backend.calls));
    out += &line("backend attempts", &|r| count(r.backend.attempts));
    out +=
        &line("fetches per expiry", &|r| r.backend.fetches_per_expiry_mean.map_or("-".into(), |m| format!("{m:.1}")));
    out +=
        &line("refused per expiry", &|r| r.backend.refused_per_expiry_mean.map_or("-".into(), |m| format!("{m:.1}")));
    out += &line("backend peak concurrent", &|r| r.backend.peak_concurrent.to_string());
    out += &line("pool peak in use", &|r| r.pool.peak_in_use.to_string());
    out += &line("pool wait p99", &|r| secs(r.pool.wait_p99_s));
    out += &line("pool timeouts", &|r| count(r.pool.timeouts));
    out += &line("events simulated", &|r| count(r.engine.events));
    out.push('\n');
    out += &verdict_line(a, b);
    out
}

/// One or two sentences that say what the difference between the runs means.
fn verdict_line(a: &RunReport, b: &RunReport) -> String {
    let burst = |r: &RunReport| {
        let sent = format!("{:.1}", r.backend.fetches_per_expiry_mean.unwrap_or(0.0));
        match r.backend.refused_per_expiry_mean.filter(|&m| m > 0.0) {
            Some(m) => format!("{sent} (and {m:.1} attempts the rate limit or an outage refused)"),
            None => sent,
        }
    };
    let mut s = format!(
        "What it means: {} sends {} backend fetches per cache expiry (largest burst {}) against {} for {}; ",
        a.model,
        burst(a),
        a.backend.largest_burst,
        burst(b),
        b.model,
    );
    let (fa, fb) = (a.requests.failed, b.requests.failed);
    if fa == fb {
        s += &format!("both fail {} requests.", count(fa));
    } else {
        let (better, worse) = if fa < fb { (a, b) } else { (b, a) };
        s += &format!(
            "{} fails {} requests ({}) where {} fails {} ({}).",
            worse.model,
            count(worse.requests.failed),
            pct(worse.requests.error_rate),
            better.model,
            count(better.requests.failed),
            pct(better.requests.error_rate),
        );
        let causes: Vec<String> =
            worse.requests.errors.iter().filter(|(_, n)| **n > 0).map(|(k, n)| format!("{k} {}", count(*n))).collect();
        if !causes.is_empty() {
            s += &format!(" The failures are {}.", causes.join(", "));
        }
    }
    s.push('\n');
    s
}

/// Bytes in decimal units: "512 B", "67.0 MB", "1.20 GB".
fn bytes(n: u64) -> String {
    let x = n as f64;
    if x >= 1e9 {
        format!("{:.2} GB", x / 1e9)
    } else if x >= 1e6 {
        format!("{:.1} MB", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1} kB", x / 1e3)
    } else {
        format!("{n} B")
    }
}
