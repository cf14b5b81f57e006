//! Many caches and stampede mitigations (issue 3, first part): worker
//! processes, balancers, data versions and divergence, TTL jitter, resetting
//! TTLs, XFetch, stale-while-revalidate and background refresh, against
//! their formulas (DOMAIN.md A1, A2). Notation: λ rate, T TTL, δ fetch time.

use cachesim::config::ModelSpec;

use crate::support::*;

fn cached(rate: f64, servers: &str, cache: &str, backend: &str, secs: u64) -> ModelSpec {
    model(&format!(
        r#"Model(
            workload: (rate: {rate}, duration: "{secs}s", warmup: "200s"),
            servers: {servers},
            cache: {cache},
            backend: {backend},
        )"#
    ))
}

/// Worker processes are caches of their own: 1 server × 3 workers picked at
/// random sees the backend rate of 3 independent caches,
/// N/(T + N/λ + δ) = 3/(10 + 1 + 1) = 0.25/s at λ = 3/s.
#[test]
fn workers_multiply_backend_calls_like_servers() {
    let spec = cached(
        3.0,
        "(count: 1, workers: 3)",
        "(ttl: \"10s\", refresh: SingleFlight)",
        "(latency: Constant(\"1s\"))",
        3000,
    );
    let rate: Vec<f64> = replicate(&spec, 31, 10).iter().map(|r| r.backend.calls_per_s).collect();
    assert_covers("backend rate with 3 worker caches", &rate, 3.0 / 12.0, 0.0);
}

/// TTL jitter spreads expiries but keeps the mean TTL, so one cache's
/// backend rate stays 1/(T + 1/λ + δ) = 1/11.5 (renewal-reward with E[T'] = T).
#[test]
fn ttl_jitter_keeps_the_mean_cycle() {
    let spec = cached(
        2.0,
        "(count: 1)",
        "(ttl: \"10s\", refresh: SingleFlight, ttl_jitter: 0.5)",
        "(latency: Constant(\"1s\"))",
        3000,
    );
    let rate: Vec<f64> = replicate(&spec, 32, 10).iter().map(|r| r.backend.calls_per_s).collect();
    assert_covers("backend rate with jittered TTLs", &rate, 1.0 / 11.5, 0.0);
}

/// A resetting (expire-after-access) TTL with instant fetches: a request hits
/// when the previous one came within T, so h = 1 − e^{−λT} = 1 − e^{−1.2}.
#[test]
fn resetting_ttl_hit_ratio() {
    let spec =
        cached(1.0, "(count: 1)", "(ttl: \"1200ms\", ttl_from: FromAccess)", "(latency: Constant(\"0s\"))", 3000);
    let h: Vec<f64> = replicate(&spec, 33, 10).iter().map(|r| r.cache.hit_ratio).collect();
    assert_covers("resetting TTL hit ratio", &h, 1.0 - (-1.2f64).exp(), 0.0);
}

/// XFetch without a lock recomputes about e^{1/β} times per cycle (DOMAIN
/// A2; λβΔ ≫ 1, here λΔ = 100). The formula is an approximation: its
/// Monte Carlo check gave 2.65–2.81, 1.91–1.99 and 1.63–1.68 for λΔ from 10
/// to 400, so the allowance is that spread around e^{1/β} (0.07, 0.04,
/// 0.02). With the lock, exactly one.
#[test]
fn xfetch_recomputes_e_to_the_one_over_beta_per_cycle() {
    for (beta, allowance) in [(1.0f64, 0.07), (1.5, 0.04), (2.0, 0.02)] {
        let spec = cached(
            100.0,
            "(count: 1)",
            &format!("(ttl: \"20s\", refresh: XFetch(beta: {beta}))"),
            "(latency: Constant(\"1s\"))",
            2000,
        );
        let per_cycle: Vec<f64> =
            replicate(&spec, 34, 10).iter().map(|r| r.backend.fetches_per_expiry_mean.unwrap()).collect();
        assert_covers(&format!("XFetch recomputes per cycle, beta {beta}"), &per_cycle, (1.0 / beta).exp(), allowance);
    }
    let locked = cached(
        100.0,
        "(count: 1)",
        "(ttl: \"60s\", refresh: XFetch(beta: 1.0, lock: true))",
        "(latency: Constant(\"1s\"))",
        1000,
    );
    for r in replicate(&locked, 34, 3) {
        assert_eq!(r.backend.largest_burst, 1);
        // Early recomputes keep the entry fresh: after the cold start,
        // nobody finds it expired.
        assert_eq!(r.cache.coalesced, 0);
    }
}

/// Stale-while-revalidate: after an expiry the first request is served the
/// stale entry and starts one background fetch, so nobody waits after the
/// cold start, one fetch per expiry, and the backend rate is that of single
/// flight: 1/(T + 1/λ + δ) = 1/11.5.
#[test]
fn stale_while_revalidate_serves_stale_and_refreshes_once() {
    let spec = cached(
        2.0,
        "(count: 1)",
        "(ttl: \"10s\", refresh: StaleWhileRevalidate(window: \"30s\"))",
        "(latency: Constant(\"1s\"))",
        3000,
    );
    let runs = replicate(&spec, 35, 10);
    let rate: Vec<f64> = runs.iter().map(|r| r.backend.calls_per_s).collect();
    assert_covers("backend rate with stale-while-revalidate", &rate, 1.0 / 11.5, 0.0);
    for r in &runs {
        assert_eq!(r.backend.largest_burst, 1);
        assert_eq!(r.cache.served_from_cache_ratio, 1.0, "everyone after the warm-up is served from cache");
        assert!(r.cache.stale_served > 0);
        assert!(r.latency_s.max.unwrap() < 1e-9, "nobody waits: {:?}", r.latency_s.max);
    }
}

/// A background job refreshing `ahead` of expiry: with a warm start nobody
/// ever finds the entry expired, and the refresh cycle is T − ahead + δ
/// exactly: 1/(10 − 2 + 1) per second.
#[test]
fn background_refresh_keeps_the_cache_fresh() {
    let spec = cached(
        5.0,
        "(count: 1)",
        "(ttl: \"10s\", start: Warm, refresh: Background(ahead: \"2s\"))",
        "(latency: Constant(\"1s\"))",
        2000,
    );
    for r in replicate(&spec, 36, 3) {
        assert_eq!(r.cache.hit_ratio, 1.0);
        // Refreshes in the measured 1800 s, one per 9 s cycle (±1 at the ends).
        let expected = 1800.0 / 9.0;
        assert!((r.backend.calls as f64 - expected).abs() <= 1.0, "{} refreshes, expected {expected}", r.backend.calls);
    }
}

/// Balancers: joining the shortest queue beats round robin, which beats a
/// random pick (two single-slot servers, exponential service, ρ = 0.9).
#[test]
fn least_connections_beats_round_robin_beats_random() {
    let base = |balancer: &str| {
        model(&format!(
            r#"Model(
                workload: (rate: 18, duration: "2000s", warmup: "200s", drain: "1h"),
                servers: (count: 2, balancer: {balancer}, concurrency: 1, handler: Exponential(mean: "100ms")),
                cache: (ttl: "1000d", start: Warm),
                backend: (latency: Constant("1s")),
            )"#
        ))
    };
    let mean = |b: &str| {
        let w: Vec<f64> = replicate(&base(b), 37, 8).iter().map(|r| r.latency_s.mean.unwrap()).collect();
        mean_ci95(&w)
    };
    let (lc, rr, rnd) = (mean("LeastConnections"), mean("RoundRobin"), mean("Random"));
    assert!(lc.0 + lc.1 < rr.0 - rr.1, "least connections {lc:?} vs round robin {rr:?}");
    assert!(rr.0 + rr.1 < rnd.0 - rnd.1, "round robin {rr:?} vs random {rnd:?}");
}

/// Least connections at low load: with instant handlers and fetches every
/// request finds all 3 servers idle, so the tie-break alone decides. nginx
/// `least_conn` and HAProxy `leastconn` rotate among tied servers, so the
/// servers take equal shares in turn and the backend sees round robin's N
/// caches: N/(T + (N+1)/(2λ) + δ) = 3/(10 + 1 + 0) at λ = 2/s, T = 10 s,
/// δ = 0 (10 replications, 95% interval, no allowance). Taking the first
/// server on a tie would give one cache's 1/(T + 1/λ) = 0.095/s. The run is
/// also the same, event for event, as round robin's.
#[test]
fn least_connections_rotates_ties_so_low_load_sees_round_robins_caches() {
    let spec = |balancer: &str| {
        cached(
            2.0,
            &format!("(count: 3, balancer: {balancer}, handler: Constant(\"0s\"))"),
            "(ttl: \"10s\", refresh: SingleFlight)",
            "(latency: Constant(\"0s\"))",
            3000,
        )
    };
    let lc = replicate(&spec("LeastConnections"), 38, 10);
    let rate: Vec<f64> = lc.iter().map(|r| r.backend.calls_per_s).collect();
    assert_covers("backend rate, least connections over 3 idle servers", &rate, 3.0 / 11.0, 0.0);
    let rr = replicate(&spec("RoundRobin"), 38, 10);
    for (a, b) in lc.iter().zip(&rr) {
        assert_eq!(a.backend.calls, b.backend.calls);
        assert_eq!(a.fingerprint.trace, b.fingerprint.trace, "least connections over idle servers is round robin");
    }
}

/// Divergence, exactly: two servers take alternate requests every 0.5 s
/// (each server one per second, at .5 and .0), TTL 10 s, instant fetches, so
/// server 0 fills at 0.5 + 10k s and server 1 at 1.0 + 10k s. The backend
/// writes every 65 s; after each write the servers pick the new version up
/// at their next fills, and hold different versions in between.
#[test]
fn divergence_windows_are_measured_exactly() {
    let spec = model(
        r#"Model(
            workload: (arrivals: Constant, rate: 2, duration: "590s"),
            servers: (count: 2),
            cache: (ttl: "10s"),
            backend: (latency: Constant("0s"), writes: Every("65s")),
        )"#,
    );
    let r = replicate(&spec, 38, 1).remove(0);
    let next_fill = |offset: f64, w: f64| offset + 10.0 * ((w - offset) / 10.0).ceil();
    let (mut windows, mut total, mut longest) = (0u64, 0.0f64, 0.0f64);
    for k in 1..=9 {
        let w = 65.0 * k as f64;
        let (a, b) = (next_fill(0.5, w), next_fill(1.0, w));
        if a.max(b) <= 590.0 {
            windows += 1;
            total += (a - b).abs();
            longest = longest.max((a - b).abs());
        }
    }
    assert_eq!(r.divergence.windows, windows);
    approx::assert_abs_diff_eq!(r.divergence.total_s, total, epsilon = 1e-9);
    approx::assert_abs_diff_eq!(r.divergence.max_window_s, longest, epsilon = 1e-9);
    // Served data is at most 5 s behind: server 1's hit at 70.0 s serves the
    // version the 65 s write superseded.
    approx::assert_abs_diff_eq!(r.staleness_s.max.unwrap(), 5.0, epsilon = 1e-6);
    // Without writes there is one version and no divergence.
    let still = with(&spec, &["backend.writes=None"]);
    let r = replicate(&still, 38, 1).remove(0);
    assert_eq!((r.divergence.windows, r.staleness_s.max), (0, Some(0.0)));
}

/// A backend outage: with `Fail` on an empty bucket, every fetch attempted in
/// the window fails with `backend_unavailable` (no cache: every request
/// fetches, so about λ·60 = 600 of them, Poisson ±5 sd = ±122); with
/// `Retry`, the client backs off and the requests succeed after the window
/// if the deadline allows (60 s outage, 60 s deadline: some fail by it).
#[test]
fn backend_outages_fail_requests_or_are_retried() {
    let spec = model(
        r#"Model(
            workload: (rate: 10, duration: "10m"),
            backend: (latency: Constant("100ms"), faults: [Outage(from: "5m", to: "6m")]),
        )"#,
    );
    let r = replicate(&spec, 51, 1).remove(0);
    let n = r.requests.errors["backend_unavailable"] as f64;
    assert!((n - 600.0).abs() < 122.0, "{n}");
    assert_eq!(r.backend.rate_limited, 0, "an outage is not the rate limit");
    let retrying = with(&spec, &["backend.rate_limit=(rate: 1000, burst: 1000, when_empty: Retry)"]);
    let r = replicate(&retrying, 51, 1).remove(0);
    assert_eq!(r.requests.errors["backend_unavailable"], 0);
    assert!(r.requests.ok > r.requests.arrived / 2);
    assert!(r.latency_s.max.unwrap() > 30.0, "someone waited out the outage: {:?}", r.latency_s.max);
}

/// A slow window multiplies fetch latency: a constant 100 ms fetch becomes
/// exactly 1 s for calls sent during it.
#[test]
fn a_slow_backend_window_multiplies_latency() {
    let spec = model(
        r#"Model(
            workload: (arrivals: Constant, rate: 10, duration: "60s"),
            backend: (latency: Constant("100ms"), faults: [Slow(from: "10s", to: "20s", factor: 10)]),
        )"#,
    );
    let r = replicate(&spec, 52, 1).remove(0);
    approx::assert_abs_diff_eq!(r.latency_s.max.unwrap(), 1.0, epsilon = 1e-9);
    // 100 of 600 requests were slow: the median stays at 100 ms.
    approx::assert_abs_diff_eq!(r.latency_s.p50.unwrap(), 0.1, epsilon = 0.0002);
}

/// A restart empties the restarted server's caches: a warm single-flight
/// cache with a TTL longer than the run fetches once per restart.
#[test]
fn a_restart_empties_the_cache() {
    let spec = model(
        r#"Model(
            workload: (rate: 5, duration: "10m"),
            servers: (count: 2, restarts: [(at: "2m", server: 0), (at: "4m", server: 1), (at: "6m", server: 0)]),
            cache: (ttl: "1h", start: Warm, refresh: SingleFlight),
            backend: (latency: Constant("1s")),
        )"#,
    );
    let r = replicate(&spec, 53, 1).remove(0);
    assert_eq!(r.backend.calls, 3);
}

/// The Internet Archive's XFetch harness (RedisConf'17, DOMAIN.md D): 50
/// closed-loop workers each pausing U(0.01 s, 1 s) before every read, TTL
/// 20 s, a 500 ms recompute. Published: unprotected about 35 recomputes per
/// expiry (484 misses over "~14" expiries: 32 to 37 for 13 to 15), locked
/// exactly 1; the band below is that range, widened by the estimate's 95%
/// interval over 5 replications.
#[test]
fn the_internet_archive_harness() {
    let per_expiry = |refresh: &str| -> Vec<f64> {
        replicate(&ia_harness(refresh, "600s", "0s"), 54, 5)
            .iter()
            .map(|r| r.backend.fetches_per_expiry_mean.unwrap())
            .collect()
    };
    let (m, h) = mean_ci95(&per_expiry("None"));
    assert!(m + h >= 32.0 && m - h <= 37.0, "unprotected: {m} ± {h} per expiry");
    assert!(per_expiry("SingleFlight").iter().all(|&x| x == 1.0));
    // A closed loop never has more requests in flight than users.
    let r = replicate(&ia_harness("None", "600s", "0s"), 54, 1).remove(0);
    assert!(r.requests.in_flight_peak <= 50);
}

fn ia_harness(refresh: &str, duration: &str, warmup: &str) -> cachesim::config::ModelSpec {
    model(&format!(
        r#"Model(
            workload: (rate: 1, duration: "{duration}", warmup: "{warmup}",
                       closed: (users: 50, think: Uniform(low: "10ms", high: "1s"))),
            cache: (ttl: "20s", refresh: {refresh}),
            backend: (latency: Constant("500ms")),
        )"#
    ))
}

/// XFetch (β = 1) in the same harness. The published run reports "0 misses"
/// and 52 recomputes over ~22 cycles (≈2.4 per cycle), so its count leaves
/// out the cold start, when all 50 workers miss the empty cache together: a
/// 30 s warm-up does the same here (counting it would add ~45 fetches to
/// one of ~22 cycles, about +2 per cycle). Each replication runs 400
/// measured seconds, ~22 cycles, like the published run, so the spread of
/// the replications is the spread of a 22-cycle estimate. Checks: the
/// published 52/22 lies within the central 95% (2.5th to 97.5th
/// percentile) of 40 such estimates; and the 95% CI of their mean overlaps
/// the issue's "about 2.4–2.7" (the open-loop theory, e^{1/β} = 2.72, is
/// tested above).
#[test]
fn xfetch_in_the_internet_archive_harness_recomputes_about_twice_and_a_half_per_cycle() {
    let spec = ia_harness("XFetch(beta: 1.0)", "430s", "30s");
    let mut per_cycle: Vec<f64> =
        replicate(&spec, 57, 40).iter().map(|r| r.backend.fetches_per_expiry_mean.unwrap()).collect();
    let (m, h) = mean_ci95(&per_cycle);
    eprintln!("XFetch per cycle: {m:.3} ± {h:.3}");
    assert!(m - h <= 2.7 && m + h >= 2.4, "XFetch: {m} ± {h} per cycle, published about 2.4–2.7");
    per_cycle.sort_by(f64::total_cmp);
    let (low, high) = (per_cycle[1], per_cycle[38]); // 2.5% and 97.5% of 40
    let published = 52.0 / 22.0;
    assert!(low <= published && published <= high, "52/22 outside the 22-cycle range [{low}, {high}]");
}

/// slowapi's default storage is per process (`memory://`): one user at a
/// high rate against "10/minute" on one server with four workers (picked at
/// random) gets 10 from each worker within the first minute, 40 in all
/// (DOMAIN.md A5: up to W·L); with shared storage, exactly 10. The rest are
/// answered 429 (`too_many_requests`).
#[test]
fn per_process_rate_limits_multiply_by_the_workers() {
    let spec = model(
        r#"Model(
            workload: (rate: 100, duration: "59s"),
            servers: (workers: 4),
            client_limit: (limit: 10, per: "1m", users: 1),
            backend: (latency: Constant("1ms")),
        )"#,
    );
    let r = replicate(&spec, 55, 1).remove(0);
    assert_eq!(r.requests.ok, 40);
    assert_eq!(r.requests.errors["too_many_requests"], r.requests.arrived - 40);
    let shared = with(&spec, &["client_limit.storage=Shared"]);
    assert_eq!(replicate(&shared, 55, 1).remove(0).requests.ok, 10);
    // A moving window over the same minute admits the same ten per store.
    let moving = with(&spec, &["client_limit.strategy=MovingWindow"]);
    assert_eq!(replicate(&moving, 55, 1).remove(0).requests.ok, 40);
}

/// Across a fixed window's end, one user passes twice the limit within
/// moments: "10/minute", one request at 0.5 s opens the window, a burst
/// from 59.5 s to 61 s gets the rest of this window's ten and a whole new
/// window's ten.
#[test]
fn a_fixed_window_admits_twice_the_limit_across_its_end() {
    let spec = model(
        r#"Model(
            workload: (arrivals: Constant, rate: 2, duration: "61s",
                       phases: [Step(at: "1s", rate: 0.01), Step(at: "59.5s", rate: 20)]),
            client_limit: (limit: 10, per: "1m", users: 1),
            backend: (latency: Constant("1ms")),
        )"#,
    );
    let r = replicate(&spec, 56, 1).remove(0);
    // One at 0.5 s and one at 1.0 s open the window; 20 pass in all.
    assert_eq!(r.requests.ok, 20);
    let moving = with(&spec, &["client_limit.strategy=MovingWindow"]);
    let m = replicate(&moving, 56, 1).remove(0);
    // The moving window lets through only the limit per trailing minute, plus
    // the two early hits leaving it at 60.5 s and 61.0 s.
    assert!(m.requests.ok <= 12, "{}", m.requests.ok);
}

/// The exact construction for one cache with a lock, constant arrivals
/// every `gap`, a constant fetch `delta`, a TTL `ttl` from each fill and a
/// write every `period` (all in ns): a request finding the cache fresh is
/// served its version; one finding it expired starts a fetch (or waits for
/// the one in flight) and is served the fetched version when it lands. The
/// fetch reads version `t / period` at its start `t` (`AtStart`) or at its
/// end. Returns every served request's staleness, in seconds: how long its
/// version had been superseded.
fn exact_staleness(at_start: bool, gap: u64, delta: u64, ttl: u64, period: u64, end: u64) -> Vec<f64> {
    let stale = |v: u64, s: u64| if s / period <= v { 0.0 } else { (s - (v + 1) * period) as f64 / 1e9 };
    let (mut out, mut cached, mut expires, mut in_flight) = (Vec::new(), 0u64, 0u64, None::<(u64, u64)>);
    let mut waiting = 0usize;
    let mut t = gap;
    while t <= end {
        if let Some((done, v)) = in_flight.filter(|&(done, _)| done <= t) {
            out.extend(std::iter::repeat_n(stale(v, done), waiting));
            (cached, expires, in_flight, waiting) = (v, done + ttl, None, 0);
        }
        if t < expires {
            out.push(stale(cached, t));
        } else {
            if in_flight.is_none() {
                let v = if at_start { t / period } else { (t + delta) / period };
                in_flight = Some((t + delta, v));
            }
            waiting += 1;
        }
        t += gap;
    }
    if let Some((done, v)) = in_flight {
        out.extend(std::iter::repeat_n(stale(v, done), waiting));
    }
    out
}

/// When a fetch reads its data: with `AtStart` (a snapshot read, the
/// default) served data is up to T + δ old, as theory says; with `AtEnd` up
/// to T. Mean and max match the exact construction above to the
/// nanosecond; p99 to the histogram's precision (3 significant digits).
#[test]
fn staleness_follows_the_snapshot_a_fetch_reads() {
    let (gap, delta, ttl, period, end) =
        (100_000_000u64, 2_250_000_000, 10_000_000_000, 3_730_000_000, 600_000_000_000);
    for (snapshot, at_start) in [("AtStart", true), ("AtEnd", false)] {
        let spec = model(&format!(
            r#"Model(
                workload: (arrivals: Constant, rate: 10, duration: "600s", warmup: "0s"),
                servers: (count: 1, handler: Constant("0s")),
                cache: (ttl: "10s", refresh: SingleFlight),
                backend: (latency: Constant("2.25s"), writes: Every("3.73s"), snapshot: {snapshot}),
            )"#
        ));
        let r = replicate(&spec, 7, 1).remove(0);
        let mut exact = exact_staleness(at_start, gap, delta, ttl, period, end);
        let mean = exact.iter().sum::<f64>() / exact.len() as f64;
        exact.sort_by(f64::total_cmp);
        let max = *exact.last().unwrap();
        let p99 = exact[(exact.len() as f64 * 0.99).ceil() as usize - 1];
        assert_eq!(r.requests.ok as usize, exact.len(), "{snapshot}: every request served once");
        approx::assert_abs_diff_eq!(r.staleness_s.mean.unwrap(), mean, epsilon = 1e-6);
        approx::assert_abs_diff_eq!(r.staleness_s.max.unwrap(), max, epsilon = 1e-6);
        approx::assert_relative_eq!(r.staleness_s.p99.unwrap(), p99, max_relative = 2e-3);
        let bound = if at_start { 12.25 } else { 10.0 };
        assert!(max <= bound && max > bound - 0.5, "{snapshot}: max {max} reaches its bound {bound}");
    }
}
