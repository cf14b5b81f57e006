//! A server's memory and its network link against their closed forms: the
//! memory a process holds is exact, and each direction of a link is a FIFO
//! single server with a deterministic time per transfer (M/D/1 under
//! Poisson arrivals: Wq = ρS/(2(1 − ρ))).
//!
//! Statistical tests assert that the confidence interval of the replication
//! means covers the analytic value; a test of k quantities uses 1 − 0.05/k
//! each (Bonferroni).

use crate::support::*;

/// JSON priced at 1 TB/s, so that serialising costs the loop about 1 ns:
/// the link is the only queue.
const FREE_JSON: &str = "json: Rates(dumps: 1e12, loads: 1e12)";

/// 1448 bytes of payload are 1538 bytes on the wire; at 30,760 bytes/s a
/// response of 1448 bytes takes S = 50 ms. At λ = 8/s, ρ = 0.4: a response
/// waits Wq = 0.4 × 0.05 / (2 × 0.6) = 16.7 ms for the link, then 50 ms on
/// it. The link is busy S per response it sent in the measured window
/// (1800 s): the measured requests' responses, give or take those in
/// flight at the warm-up's edge (more than 10 of them at ρ = 0.4 has
/// probability below 1e-4).
#[test]
fn a_servers_link_is_an_md1_queue_for_responses() {
    let spec = model(&format!(
        r#"Model(
            workload: (rate: 8, duration: "2000s", warmup: "200s", drain: "1h"),
            servers: ({FREE_JSON}, response_bytes: 1448, link: (bytes_per_s: 30760)),
            cache: (ttl: "1000d", start: Warm),
            backend: (latency: Constant("1s")),
        )"#
    ));
    let runs = replicate(&spec, 41, 12);
    let (s, rho) = (0.05, 0.4);
    let link: Vec<f64> = runs.iter().map(|r| r.latency_breakdown.all.link_s).collect();
    assert_covers("M/D/1 time on the link", &link, s + rho * s / (2.0 * (1.0 - rho)), 0.0);
    for r in &runs {
        let sent = r.servers.link_utilisation.mean * 1800.0 / s;
        assert!((sent - r.requests.ok as f64).abs() <= 10.0, "busy for {sent} responses, {} measured", r.requests.ok);
        assert_eq!(r.servers.link_in_utilisation.max, 0.0, "nothing was fetched, so nothing arrived");
    }
}

/// Without a cache every request fetches, and each 1448-byte payload
/// arrives on the link in S = 50 ms (after a constant 200 ms call): at
/// λ = 8/s the inbound direction is M/D/1 with ρ = 0.4, busy 40% of the
/// time, and the fetch's time is 0.2 s + S + Wq. Responses go out on the
/// other direction at the same time without waiting for payloads. The
/// inbound busy time is exactly S per fetch that came back in the measured
/// window (1800 s), whatever the arrivals did.
#[test]
fn fetched_payloads_queue_on_the_links_inbound_direction() {
    let spec = model(&format!(
        r#"Model(
            workload: (rate: 8, duration: "2000s", warmup: "200s", drain: "1h"),
            servers: ({FREE_JSON}, response_bytes: 0, link: (bytes_per_s: 30760)),
            backend: (latency: Constant("200ms"), payload_bytes: 1448),
        )"#
    ));
    let runs = replicate(&spec, 42, 12);
    let (s, rho) = (0.05, 0.4);
    let fetch: Vec<f64> = runs.iter().map(|r| r.latency_breakdown.all.fetch_s).collect();
    assert_covers("call plus M/D/1 inbound", &fetch, 0.2 + s + rho * s / (2.0 * (1.0 - rho)), 0.0);
    for r in &runs {
        let busy = r.servers.link_in_utilisation.mean * 1800.0;
        assert!((busy - r.backend.calls as f64 * s).abs() < 1e-6, "busy {busy} s for {} payloads", r.backend.calls);
    }
}

/// Two processes, each with the dataset (5,000 bytes of JSON, held as
/// 2.8 × 5,000 bytes of objects by default) and a response cache that,
/// over 2000 s at 20/s, has stored every one of its 10 keys (1,000 bytes
/// each) long before the end: a process's peak is exactly 1,000,000 +
/// 14,000 + 10 × 1,000, and the server's is twice that.
#[test]
fn memory_peaks_are_the_idle_size_the_dataset_and_the_response_cache_exactly() {
    let spec = model(
        r#"Model(
            workload: (rate: 20, duration: "2000s"),
            servers: (workers: 2, response_bytes: 1000, memory: (process_bytes: 1000000)),
            cache: (ttl: "1000d", start: Warm),
            response_cache: (keys: 10, zipf: 0, ttl: "1000d"),
            backend: (latency: Constant("10ms"), payload_bytes: 5000),
        )"#,
    );
    for r in replicate(&spec, 43, 3) {
        let process = 1_000_000 + 14_000 + 10 * 1_000;
        assert_eq!(r.servers.memory_bytes.process_peak, process);
        assert_eq!(r.servers.memory_bytes.peak, 2 * process);
        assert_eq!(r.servers.oom_kills, 0);
    }
}

/// A limit below what the filled cache needs (1,000 idle + 2.8 × 500 of
/// dataset > 2,000): every fill kills the process, which restarts cold, so every
/// request fails as `oom_killed` (the one whose fetch filled it and every
/// other in flight there), and there are exactly as many kills as fills.
#[test]
fn a_limit_below_the_filled_cache_kills_at_every_fill_and_fails_every_request() {
    let spec = model(
        r#"Model(
            workload: (rate: 5, duration: "600s"),
            servers: (memory: (process_bytes: 1000, limit_bytes: Some(2000))),
            cache: (ttl: "5m"),
            backend: (latency: Constant("100ms"), payload_bytes: 500),
        )"#,
    );
    for r in replicate(&spec, 44, 3) {
        assert!(r.servers.oom_kills > 0);
        assert_eq!(r.servers.oom_kills, r.cache.fills, "one kill per fill");
        assert_eq!(r.requests.ok, 0, "no request outlives its process");
        assert_eq!(r.requests.errors.get("oom_killed").copied(), Some(r.requests.failed));
    }
}

/// A limit the idle processes alone pass is refused, naming the fields.
#[test]
fn a_memory_limit_below_the_idle_processes_is_refused() {
    let (out, _path, _dir) = run_model_text(
        "small_limit.ron",
        r#"Model(
            workload: (rate: 5, duration: "60s"),
            servers: (workers: 4, memory: (process_bytes: 1000, limit_bytes: Some(3999))),
            backend: (latency: Constant("100ms")),
        )"#,
        &[],
    );
    let err = assert_rejected(&out, "servers.memory.limit_bytes");
    assert!(err.contains("at least the idle processes' 4000 bytes"), "{err}");
}
