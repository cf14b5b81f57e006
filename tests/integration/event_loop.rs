//! The server process against queueing theory: one event loop is a FIFO
//! single server for CPU (M/D/1, M/G/1 by Pollaczek–Khinchine), and
//! processes beyond a server's cores share them (M/G/1-PS: S/(1 − ρ)).
//!
//! Each statistical test runs independent replications and asserts that the
//! confidence interval of the replication means covers the analytic value;
//! a test of k quantities uses 1 − 0.05/k each (Bonferroni). Allowances are
//! stated where the model departs from the formula.

use std::path::Path;

use cachesim::experiment::{ExperimentSpec, find_limits, plan_for_model};
use cachesim::sim::RunOptions;

use crate::support::*;

/// A warm cache that never expires, so nothing fetches: all a request does
/// is its CPU (and waiting) on one process's loop, with no slot limit.
fn loop_model(servers: &str) -> String {
    format!(
        r#"Model(
            workload: (rate: 8, duration: "2000s", warmup: "200s", drain: "1h"),
            servers: ({servers}),
            cache: (ttl: "1000d", start: Warm),
            backend: (latency: Constant("1s")),
        )"#
    )
}

/// M/D/1 on the loop: λ = 8/s, 100 ms of handler CPU (ρ = 0.8). P-K gives
/// Wq = ρS/(2(1 − ρ)) = 0.2 s, so W = 0.3 s; the loop is busy ρ of the
/// time, and each request costs exactly 0.1 CPU seconds.
#[test]
fn one_event_loop_is_an_md1_queue_for_cpu() {
    let spec = model(&loop_model(r#"handler: (cpu: Constant("100ms"), wait: Constant("0s"))"#));
    let runs = replicate(&spec, 21, 12);
    let w: Vec<f64> = runs.iter().map(|r| r.latency_s.mean.unwrap()).collect();
    let util: Vec<f64> = runs.iter().map(|r| r.servers.loop_utilisation.mean).collect();
    let cpu: Vec<f64> = runs.iter().map(|r| r.servers.cpu_s_per_request).collect();
    let wait: Vec<f64> = runs.iter().map(|r| r.latency_breakdown.all.loop_wait_s).collect();
    assert_covers_at("M/D/1 mean sojourn", &w, 0.3, 0.0, 1.0 - 0.05 / 3.0);
    assert_covers_at("M/D/1 mean loop wait", &wait, 0.2, 0.0, 1.0 - 0.05 / 3.0);
    assert_covers_at("loop utilisation ρ", &util, 0.8, 0.0, 1.0 - 0.05 / 3.0);
    for c in cpu {
        assert!((c - 0.1).abs() < 1e-9, "CPU per request {c}, not 0.1 s");
    }
}

/// Waiting overlaps, CPU does not: a 100 ms CPU part then a 900 ms wait
/// gives W = 0.3 + 0.9 s, the wait adding to each request but not to the
/// loop's queue.
#[test]
fn the_handlers_wait_overlaps_other_requests_cpu() {
    let spec = model(&loop_model(r#"handler: (cpu: Constant("100ms"), wait: Constant("900ms"))"#));
    let w: Vec<f64> = replicate(&spec, 22, 12).iter().map(|r| r.latency_s.mean.unwrap()).collect();
    assert_covers("M/D/1 sojourn plus the overlapping wait", &w, 1.2, 0.0);
}

/// M/G/1 (Pollaczek–Khinchine) with log-normal CPU, median 50 ms and p99
/// 200 ms: σ = ln 4 / z99, E[S] = m·e^{σ²/2}, E[S²] = m²·e^{2σ²}, and
/// W = E[S] + λE[S²]/(2(1 − λE[S])).
#[test]
fn one_event_loop_follows_pollaczek_khinchine_for_lognormal_cpu() {
    let spec = model(&loop_model(r#"handler: (cpu: LogNormal(median: "50ms", p99: "200ms"), wait: Constant("0s"))"#));
    let sigma = 4f64.ln() / cachesim::config::Z99;
    let (es, es2) = (0.05 * (sigma * sigma / 2.0).exp(), 0.0025 * (2.0 * sigma * sigma).exp());
    let rho = 8.0 * es;
    let expected = es + 8.0 * es2 / (2.0 * (1.0 - rho));
    let w: Vec<f64> = replicate(&spec, 23, 16).iter().map(|r| r.latency_s.mean.unwrap()).collect();
    assert_covers("M/G/1 mean sojourn", &w, expected, 0.0);
}

/// Processor sharing: 1000 processes on one core, exponential CPU of mean
/// 100 ms at λ = 5/s (ρ = 0.5). The core serves at full rate whenever any
/// request computes, and service is memoryless, so the number computing is
/// M/M/1's whatever the order: W = S/(1 − ρ) = 0.2 s exactly.
#[test]
fn processes_sharing_one_core_give_the_ps_mean_sojourn() {
    let spec = model(&loop_model(
        r#"workers: 1000, cores: 1, handler: (cpu: Exponential(mean: "100ms"), wait: Constant("0s"))"#,
    ));
    let spec = with(&spec, &["workload.rate=5"]);
    let w: Vec<f64> = replicate(&spec, 24, 12).iter().map(|r| r.latency_s.mean.unwrap()).collect();
    assert_covers("M/M/1-PS mean sojourn", &w, 0.2, 0.0);
}

/// M/G/1-PS is insensitive to the service distribution: constant 100 ms
/// CPU at ρ = 0.5 also gives W = S/(1 − ρ) = 0.2 s (M/D/1 FIFO would give
/// 0.15 s). Requests land on a uniformly random one of 1000 processes, so
/// about 1 in 1000 finds its process already computing and queues behind
/// it instead of sharing; that changes its sojourn by at most a few S,
/// hence the allowance of 0.001 s.
#[test]
fn processor_sharing_is_insensitive_to_constant_cpu() {
    let spec =
        model(&loop_model(r#"workers: 1000, cores: 1, handler: (cpu: Constant("100ms"), wait: Constant("0s"))"#));
    let spec = with(&spec, &["workload.rate=5"]);
    let w: Vec<f64> = replicate(&spec, 25, 12).iter().map(|r| r.latency_s.mean.unwrap()).collect();
    assert_covers("M/D/1-PS mean sojourn", &w, 0.2, 0.001);
}

/// Two cores shared by 1000 processes: exponential CPU of mean 100 ms at
/// λ = 10/s is M/M/2 (a = 1), W = 1/μ + C(2, 1)/(2μ − λ) = 0.1 + (1/3)/10,
/// up to the same 1-in-1000 collisions (allowance 0.001 s).
#[test]
fn processes_sharing_two_cores_are_an_mm2_queue() {
    let spec = model(&loop_model(
        r#"workers: 1000, cores: 2, handler: (cpu: Exponential(mean: "100ms"), wait: Constant("0s"))"#,
    ));
    let spec = with(&spec, &["workload.rate=10"]);
    let expected = 0.1 + erlang_c(2, 1.0) / 10.0;
    let w: Vec<f64> = replicate(&spec, 26, 12).iter().map(|r| r.latency_s.mean.unwrap()).collect();
    assert_covers("M/M/2 via shared cores, mean sojourn", &w, expected, 0.001);
}

/// Payloads cost CPU in proportion to their bytes: a fetched 62,000-byte
/// payload parsed at CPython json's 39 MB/s, and a 62,000-byte response
/// serialised at 41 MB/s, on an otherwise idle loop: a fetch of exactly 1 s
/// and no handler give each cold request 1 s + 62e3/39e6 + 62e3/41e6, and
/// a warm one 62e3/41e6. Deterministic: one request, no randomness.
#[test]
fn payload_bytes_cost_json_time_at_the_codec_rates() {
    let text = |start: &str| {
        format!(
            r#"Model(
                workload: (arrivals: Constant, rate: 1, duration: "1s"),
                cache: (ttl: "1000d", start: {start}),
                backend: (latency: Constant("1s"), payload_bytes: 62000),
            )"#
        )
    };
    let decode = (62e3 / 39e6 * 1e9f64).round() / 1e9;
    let encode = (62e3 / 41e6 * 1e9f64).round() / 1e9;
    let cold = cachesim::sim::simulate(&model(&text("Cold")), 1, 0, RunOptions::default());
    let warm = cachesim::sim::simulate(&model(&text("Warm")), 1, 0, RunOptions::default());
    let close = |a: f64, b: f64| (a - b).abs() < 2e-6;
    assert!(close(cold.latency_s.max.unwrap(), 1.0 + decode + encode), "{:?}", cold.latency_s);
    assert!(close(warm.latency_s.max.unwrap(), encode), "{:?}", warm.latency_s);
    // orjson serialises at 150 MB/s.
    let fast = with(&model(&text("Warm")), &["servers.json=Orjson"]);
    let fast = cachesim::sim::simulate(&fast, 1, 0, RunOptions::default());
    assert!(close(fast.latency_s.max.unwrap(), 62e3 / 150e6), "{:?}", fast.latency_s);
}

/// `limit` finds the loop's saturation point λ = 1/E[cpu]: with evenly
/// spaced arrivals and 100 ms of constant CPU, the loop is the one-slot
/// queue of `limits.rs`, whose p99 stays within 0.5 s while
/// r ≤ 10·(1 + 0.4/(0.99·60)) = 10.0673.
#[test]
fn limit_finds_the_event_loops_saturation_point() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("one_loop.ron");
    std::fs::write(
        &path,
        r#"Model(
            workload: (arrivals: Constant, rate: 5, duration: "60s", drain: "1h"),
            servers: (handler: (cpu: Constant("100ms"), wait: Constant("0s"))),
            cache: (ttl: "1000d", start: Warm),
            backend: (latency: Constant("1s")),
        )"#,
    )
    .unwrap();
    let mut e = ExperimentSpec::for_model(&path.display().to_string());
    (e.seed, e.replications) = (1 + seed_offset(), 50);
    e.slo.p99 = Some("500ms".parse().unwrap());
    e.slo.margin = 0.0;
    (e.limit.low, e.limit.high, e.limit.tolerance, e.limit.spike) = (2.0, 64.0, 0.001, 0.0);
    let plan = plan_for_model(Path::new(&path), &[], e).unwrap();
    let r = &find_limits(&plan, RunOptions::default(), &|_, _, _| {}).unwrap()[0];
    let analytic = 10.0 * (1.0 + 0.4 / (0.99 * 60.0));
    let (met, missed) = (r.max_meeting.unwrap(), r.min_failing.unwrap());
    assert!(met <= analytic * 1.0001 && analytic <= missed * 1.0001, "bracket {met}..{missed} misses {analytic}");
    // The cause names the phase and the saturated loop.
    let cause = r.cause.as_deref().unwrap_or_default();
    assert!(cause.contains("event-loop wait"), "the cause does not name the loop wait: {cause}");
    assert!(cause.contains("event loop") && cause.contains("at most 1/100ms = 10 req/s"), "{cause}");
}

/// CPU per request is counted as requests leave, so a saturated loop's
/// unfinished backlog cannot lower it: 20 req/s (evenly spaced) on a loop
/// that serves 10, with no drain, leaves about half of them queued at the
/// end, and every request that left used exactly its 100 ms.
#[test]
fn cpu_per_request_stays_exact_when_the_loop_is_saturated() {
    let spec = model(
        r#"Model(
            workload: (arrivals: Constant, rate: 20, duration: "60s", drain: "0s"),
            servers: (handler: (cpu: Constant("100ms"), wait: Constant("0s"))),
            cache: (ttl: "1000d", start: Warm),
            backend: (latency: Constant("1s")),
        )"#,
    );
    let r = cachesim::sim::simulate(&spec, 1, 0, RunOptions::default());
    assert!(r.requests.in_flight_at_end > 500, "the loop is saturated: {:?}", r.requests);
    assert!((r.servers.cpu_s_per_request - 0.1).abs() < 1e-9, "{}", r.servers.cpu_s_per_request);
    assert!((r.servers.cpu_s_per_response - 0.1).abs() < 1e-9, "{}", r.servers.cpu_s_per_response);
}

/// A failure skips the work after it, so the loop's capacity for answers
/// is priced by the successful requests alone: every request fetches (no
/// cache) through a 1/s token bucket that fails the rest at once, a success
/// then costs 10 ms of handler CPU and 1 ms serialising 41,000 bytes at
/// 41 MB/s, a failure costs nothing. So `cpu_s_per_response` is exactly
/// 11 ms and `cpu_s_per_request` 11 ms × ok / left.
#[test]
fn cpu_per_response_prices_the_successful_requests_alone() {
    let spec = model(
        r#"Model(
            workload: (rate: 20, duration: "60s", drain: "1h"),
            servers: (handler: (cpu: Constant("10ms"), wait: Constant("0s")), response_bytes: 41000),
            backend: (latency: Constant("10ms"), rate_limit: (rate: 1, burst: 1, when_empty: Fail)),
        )"#,
    );
    let r = cachesim::sim::simulate(&spec, 1, 0, RunOptions::default());
    let (ok, failed) = (r.requests.ok as f64, r.requests.failed as f64);
    assert!(ok > 0.0 && failed > 0.0, "{:?}", r.requests);
    assert!((r.servers.cpu_s_per_response - 0.011).abs() < 1e-9, "{}", r.servers.cpu_s_per_response);
    let per_request = 0.011 * ok / (ok + failed);
    assert!(
        (r.servers.cpu_s_per_request - per_request).abs() < 1e-9,
        "{} vs {per_request}",
        r.servers.cpu_s_per_request
    );
}

/// Rates that are not bytes per CPU second, and payloads past 1 GiB, are
/// refused at load with the field and the range.
#[test]
fn codec_rates_and_payload_sizes_are_checked_at_load() {
    let text = |servers: &str, bytes: &str| {
        format!(
            r#"Model(workload: (rate: 1, duration: "1s"), servers: ({servers}),
                     backend: (latency: Constant("1s"), payload_bytes: {bytes}))"#
        )
    };
    for (servers, bytes, names) in [
        ("json: Rates(dumps: 0, loads: 39e6)", "0", "servers.json"),
        ("json: Rates(dumps: 41e6, loads: inf)", "0", "servers.json"),
        ("", "2000000000", "backend.payload_bytes"),
        ("response_bytes: 2000000000", "0", "servers.response_bytes"),
        ("cores: 0", "0", "`cores`: this count is a whole number from 1 to 4,294,967,295, e.g. 1, not 0"),
    ] {
        let (out, _, _dir) = run_model_text("m.ron", &text(servers, bytes), &[]);
        assert_rejected(&out, names);
    }
}

/// Garbage-collection pauses against their exact effect: pauses of a
/// constant d = 20 ms every T = 1 s per process, Poisson arrivals (λ = 20/s)
/// and a 100 ms handler wait h. A request is held when it arrives during a
/// pause (its accept waits) or when its handler ends during one (its reply
/// waits); with h > d and T > 2(h + d) these are disjoint, so by PASTA a
/// share 2d/T = 4% is delayed, each by d − U with U uniform on [0, d): on
/// average d/2, so the mean latency is h + (2d/T)(d/2) = h + d²/T.
#[test]
fn gc_pauses_delay_the_share_and_time_that_theory_gives() {
    let spec =
        model(&loop_model(r#"handler: Constant("100ms"), gc: (every: Interval("1s"), pause: Constant("20ms"))"#));
    let spec = with(&spec, &["workload.rate=20"]);
    let runs = replicate(&spec, 27, 12);
    let share: Vec<f64> = runs.iter().map(|r| r.servers.gc_delayed_share).collect();
    let added: Vec<f64> = runs.iter().map(|r| r.latency_s.mean.unwrap() - 0.1).collect();
    assert_covers_at("share of requests a pause delays", &share, 2.0 * 0.02, 0.0, 1.0 - 0.05 / 2.0);
    assert_covers_at("mean added delay", &added, 0.02 * 0.02, 0.0, 1.0 - 0.05 / 2.0);
    for r in &runs {
        // One pause a second from the warm-up (200 s) to the end (2000 s),
        // the first at a random phase: 1800 or 1801 of them.
        assert!((1800..=1801).contains(&r.servers.gc_pauses), "{} pauses", r.servers.gc_pauses);
        let total = r.servers.gc_pause_s.total;
        assert!((total - r.servers.gc_pauses as f64 * 0.02).abs() < 1e-9, "pause total {total}");
    }
}

/// `Requests(N)`: a collection after every N-th finished request, exactly:
/// 1000 requests 100 ms apart (the k-th arrives at k/10 s) and N = 100 give
/// 10 pauses, the last after request 1000 ends at 100.01 s, past the
/// measured window (which ends at 100 s), so 9 are reported.
#[test]
fn gc_every_n_requests_pauses_after_each_nth() {
    let spec = model(
        r#"Model(
            workload: (arrivals: Constant, rate: 10, duration: "100s"),
            servers: (handler: Constant("10ms"), gc: (every: Requests(100), pause: Constant("5ms"))),
            cache: (ttl: "1000d", start: Warm),
            backend: (latency: Constant("1s")),
        )"#,
    );
    let r = cachesim::sim::simulate(&spec, 1, 0, RunOptions::default());
    assert_eq!(r.requests.ok, 1000);
    assert_eq!(r.servers.gc_pauses, 9);
    // The pause follows a request's end; requests arrive 100 ms apart and
    // take 10 ms, so none is ever held.
    assert_eq!(r.servers.gc_delayed_share, 0.0);
}
