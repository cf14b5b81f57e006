//! Where a request's time goes (`latency_breakdown`) and when the slow and
//! failed requests arrived (`when`), against constructions whose answer is
//! exact: constant times, evenly spaced arrivals, one cache.

use std::path::Path;

use cachesim::sim::{RunOptions, simulate};

use crate::support::*;

fn phase_sum(r: &serde_json::Value, set: &str) -> f64 {
    r["latency_breakdown"][set].as_object().expect("phases").values().map(|v| v.as_f64().expect("seconds")).sum()
}

/// Every phase of a successful request is charged exactly once, so the
/// phase means over all successful requests add up to the mean latency,
/// on every shipped seed model; and the requests above the p99 spend, on
/// average, at least the p99 less the 1/32 width of a latency bucket.
#[test]
fn phase_means_add_up_to_the_mean_latency_on_every_seed_model() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/seed");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("models/seed") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "ron") {
            continue;
        }
        let spec = cachesim::config::load_model(&path).expect("a seed model loads");
        let spec = with(&spec, &["workload.duration=2m"]);
        let report = simulate(&spec, 1 + seed_offset(), 0, RunOptions::default());
        let v = serde_json::to_value(&report).expect("json");
        let (Some(mean), Some(p99)) = (report.latency_s.mean, report.latency_s.p99) else { continue };
        let sum = phase_sum(&v, "all");
        assert!((sum - mean).abs() <= 1e-9 * mean.max(1.0), "{}: phases add to {sum}, mean latency {mean}", spec.name);
        let tail = phase_sum(&v, "above_p99");
        assert!(tail >= p99 * (1.0 - 1.0 / 32.0) - 1e-6, "{}: above-p99 mean {tail} under p99 {p99}", spec.name);
        seen += 1;
    }
    assert!(seen >= 5, "only {seen} seed models had successful requests");
}

/// Constant handler 50 ms and query 20 ms, a warm cache that never
/// expires, one request every 100 ms (nothing ever waits): every request
/// spends exactly 50 ms in the handler and 20 ms in its query.
#[test]
fn with_nothing_waiting_the_breakdown_is_the_handler_and_the_query() {
    let spec = model(
        r#"Model(
            workload: (arrivals: Constant, rate: 10, duration: "60s"),
            servers: (handler: Constant("50ms")),
            cache: (ttl: "1000d", start: Warm),
            backend: (latency: Constant("1s")),
            db: (query: Constant("20ms"), connect: Constant("0s")),
        )"#,
    );
    let r = simulate(&spec, 1 + seed_offset(), 0, RunOptions::default());
    let b = r.latency_breakdown.all;
    assert!((b.handler_s - 0.05).abs() < 1e-12 && (b.query_s - 0.02).abs() < 1e-12, "{b:?}");
    assert_eq!(
        (b.queue_s, b.lock_wait_s, b.fetch_s, b.pool_wait_s, b.redis_s, b.cdn_s),
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    );
    assert_eq!(r.when.slow.other, 1.0, "no cold start, expiry or fault: {:?}", r.when);
}

/// A cold single-flight cache, a constant 1 s fetch, a 10 ms handler, one
/// request every 10 ms for 60 s (6000 requests, 60 beyond the p99).
/// Request k arrives at k/100 s; request 0 fetches (1 s) and requests
/// 1..99 wait for its fetch, 1 − k/100 s. The 60 slowest are requests
/// 0..59, all of the cold start: their mean fetch is 1/60 s, their mean
/// lock wait Σ_{k=1}^{59} (1 − k/100) / 60 = 41.3/60 s, and their handler
/// 10 ms. Only the last latency bucket is shared out in proportion, which
/// moves the means by at most one request's difference over 60: 0.1%.
#[test]
fn the_slow_requests_of_a_cold_start_are_its_lock_waiters_and_the_fill() {
    let spec = model(
        r#"Model(
            workload: (arrivals: Constant, rate: 100, duration: "60s"),
            servers: (handler: Constant("10ms")),
            cache: (ttl: "1000d", start: Cold, refresh: SingleFlight),
            backend: (latency: Constant("1s")),
        )"#,
    );
    let r = simulate(&spec, 1 + seed_offset(), 0, RunOptions::default());
    assert_eq!(r.requests.ok, 6000, "premise: 6000 requests");
    let t = r.latency_breakdown.above_p99;
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-3 * b.max(0.01);
    assert!(close(t.fetch_s, 1.0 / 60.0), "fetch {t:?}");
    assert!(close(t.lock_wait_s, 41.3 / 60.0), "lock wait {t:?}");
    assert!(close(t.handler_s, 0.01), "handler {t:?}");
    assert_eq!(r.when.slow.cold_start, 1.0, "{:?}", r.when);
}

/// A backend outage from 20 s to 30 s behind a 1 s cache: every failed
/// request (the backend is down when its cache needs a fetch) lived through
/// the outage, so all of them are "during a fault"; and some did fail.
#[test]
fn requests_failing_in_an_outage_are_counted_during_the_fault() {
    let spec = model(
        r#"Model(
            workload: (arrivals: Constant, rate: 20, duration: "60s"),
            servers: (handler: Constant("10ms")),
            cache: (ttl: "1s", start: Warm),
            backend: (latency: Constant("100ms"), faults: [Outage(from: "20s", to: "30s")]),
        )"#,
    );
    let r = simulate(&spec, 1 + seed_offset(), 0, RunOptions::default());
    assert!(r.requests.failed >= 9, "premise: the outage fails about one fetch a second: {:?}", r.requests);
    assert_eq!(r.when.failed.fault, 1.0, "{:?}", r.when);
}
