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

/// A backend outage [300 s, 360 s) with no cache: every request fetches at
/// its arrival.
///
/// Without retries (oracle: exact), exactly the requests arriving in the
/// window fail with `backend_unavailable`, so over n = 10 replications of
/// Poisson arrivals at λ = 10/s their total is Poisson(n·λ·60 = 6000); it
/// must lie in that distribution's central 97.5% interval. Every other
/// request succeeds.
///
/// With `Retry` (oracle: exact construction): constant arrivals every
/// 0.1 s, sleeps U(0, 1 s) (multiplier 1), deadline D = 30 s. A request
/// with R = 360 − t of outage left succeeds iff one of its attempts, a
/// renewal process with U(0, 1) gaps, falls in [R, D]. So the 301 arriving
/// at 300.0 … 330.0 s (R ≥ D) all fail with `backend_deadline`, those from
/// 331.0 s on all succeed, and each of the 9 between (u = D − R = 0.1 …
/// 0.9 s) fails with P(no renewal in u) = (1 − u)², the equilibrium
/// forward-recurrence tail after ~58 gaps: 301 + Σ(1 − u)² = 303.85
/// expected, 301 to 310 possible. The 97.5% interval (Student t) of 10
/// replications must cover 303.85. Both checks together pass with
/// probability ≥ 95%.
#[test]
fn backend_outages_fail_the_requests_in_the_window_or_retry_them_to_the_deadline() {
    let spec = model(
        r#"Model(
            workload: (rate: 10, duration: "10m"),
            backend: (latency: Constant("100ms"), faults: [Outage(from: "5m", to: "6m")]),
        )"#,
    );
    let runs = replicate(&spec, 51, 10);
    let mut failed = 0;
    for r in &runs {
        assert_eq!(r.requests.failed, r.requests.errors["backend_unavailable"]);
        assert_eq!(r.requests.ok + r.requests.failed, r.requests.arrived);
        assert_eq!(r.backend.rate_limited, 0, "an outage is not the rate limit");
        failed += r.requests.failed;
    }
    let (low, high) = poisson_interval(10.0 * 10.0 * 60.0, 0.975);
    eprintln!("failed in the outage: {failed} in [{low}, {high}]");
    assert!((low..=high).contains(&failed), "{failed} failures over 10 runs, Poisson(6000) gives [{low}, {high}]");

    let retrying = with(
        &spec,
        &[
            "workload.arrivals=Constant",
            r#"backend.rate_limit=(rate: 1000, burst: 1000, when_empty: Retry,
                retry: (initial: "1s", multiplier: 1, max_delay: "1s", deadline: "30s"))"#,
        ],
    );
    let mut failed = Vec::new();
    for r in replicate(&retrying, 51, 10) {
        let n = r.requests.errors["backend_deadline"];
        assert_eq!(r.requests.failed, n, "only the deadline fails requests");
        assert!((301..=310).contains(&n), "{n} requests failed at the deadline");
        assert_eq!(r.requests.ok + n, r.requests.arrived);
        assert!(r.latency_s.max.unwrap() > 28.9, "someone waited out the outage: {:?}", r.latency_s.max);
        failed.push(n as f64);
    }
    let expected = 301.0 + (1..=9).map(|j| (1.0 - j as f64 / 10.0).powi(2)).sum::<f64>();
    assert_covers_at("requests failed at the retry deadline", &failed, expected, 0.0, 0.975);
}

/// One request every 10 s (at 10 s, 20 s, …, 990 s: 99), each at the start
/// of an outage of `outage` seconds, no cache, instant fetches and handler,
/// and a backoff with the given initial bound, multiplier, largest bound
/// and deadline (a bucket that never empties, so only the outages refuse).
fn retried_through_outages(outage: f64, initial: f64, multiplier: f64, max: f64, deadline: f64) -> ModelSpec {
    let faults: Vec<String> =
        (1..=100).map(|k| format!("Outage(from: \"{}s\", to: \"{}s\")", 10 * k, 10.0 * k as f64 + outage)).collect();
    model(&format!(
        r#"Model(
            workload: (arrivals: Constant, rate: 0.1, duration: "995s"),
            backend: (latency: Constant("0s"), faults: [{}],
                      rate_limit: (rate: 1000, burst: 1000, when_empty: Retry,
                                   retry: (initial: "{initial}s", multiplier: {multiplier},
                                           max_delay: "{max}s", deadline: "{deadline}s"))),
        )"#,
        faults.join(", ")
    ))
}

/// The backoff bounds d_1, d_2, …: d_k = min(max, initial·multiplier^(k−1)),
/// the bound of the sleep before attempt k + 1.
fn bounds(initial: f64, multiplier: f64, max: f64) -> impl Iterator<Item = f64> {
    (0..60).map(move |k| (initial * multiplier.powi(k)).min(max))
}

/// Retry with exponential backoff and full jitter: the sleep before attempt
/// k + 1 is S_k ~ U(0, d_k), d_k = min(max, initial·multiplier^(k−1)), so
/// its mean is d_k/2; the client gives up before a retry that would start
/// past the deadline D.
///
/// Oracle (exact): the outage lasts R, with R ≤ d_k for every k, and
/// P(S_1 + … + S_k < x) = x^k/(k!·d_1⋯d_k) for x ≤ min d. So
/// - the outage ends first (R = 1 s, D = 60 s unreachable: d = 1, 2, 2, …):
///   attempt k + 1 fails iff S_1 + … + S_k < R, so E[attempts] = 1 +
///   Σ_{k≥0} R^k/(k!·d_1⋯d_k) = 3.2974 (the one that succeeds too), and the added
///   latency (every sleep before the attempt that succeeds) is
///   Σ_{k≥1} (d_k/2)·P(S_1+…+S_{k−1} < R) = Σ_k (d_k/2)·R^{k−1}/((k−1)!·d_1⋯d_{k−1})
///   = 1.7974 (without the 2 s cap it would be 2.09; with the bounds one
///   step ahead, d = 2, 2, …, e^{1/2} = 1.65);
/// - the deadline cuts first (D = 0.5 s < R = 5 s): every request fails
///   with `backend_deadline` after E[attempts] = Σ_{k≥0} D^k/(k!·d_1⋯d_k)
///   = 1.5681, at E[Σ accepted sleeps] = Σ_{k≥1} D^{k+1}/((k+1)!·d_1⋯d_k)
///   = 0.1361 s (sojourn of failed requests);
/// - with multiplier 1 (d = 0.4 s always) and D = 1 s = 2.5·d the attempts
///   are 1 + the renewal count of U(0, 1) gaps in t = 2.5:
///   Σ_{k=0}^{⌊t⌋} (−1)^k (t−k)^k e^{t−k}/k! = 5.666.
///
/// n = 10 replications of 99 requests each; five intervals, each at
/// 1 − 0.05/5 = 99% (Student t), so all cover with probability ≥ 95%.
#[test]
fn retries_back_off_by_half_the_bound_on_average_until_the_outage_or_the_deadline_ends() {
    let fact = |k: usize| (1..=k).map(|i| i as f64).product::<f64>();
    // Σ_{k≥0} x^k/(k!·d_1⋯d_k): the expected attempts when every attempt
    // before x fails (x ≤ min d).
    let attempts_until = |x: f64, d: &[f64]| {
        (0..d.len()).map(|k| x.powi(k as i32) / (fact(k) * d[..k].iter().product::<f64>())).sum::<f64>()
    };
    let confidence = 1.0 - 0.05 / 5.0;

    let d: Vec<f64> = bounds(1.0, 2.0, 2.0).take(30).collect();
    let runs = replicate(&retried_through_outages(1.0, 1.0, 2.0, 2.0, 60.0), 58, 10);
    let mut attempts = Vec::new();
    let mut added = Vec::new();
    for r in &runs {
        assert_eq!((r.requests.arrived, r.requests.ok), (99, 99), "every request outlives its outage");
        attempts.push(r.backend.attempts as f64 / 99.0);
        added.push(r.latency_s.mean.unwrap());
    }
    let expected_attempts = 1.0 + attempts_until(1.0, &d);
    let expected_added: f64 =
        (1..d.len()).map(|k| d[k - 1] / 2.0 * 1.0 / (fact(k - 1) * d[..k - 1].iter().product::<f64>())).sum();
    assert!((expected_attempts - 3.2974).abs() < 1e-4 && (expected_added - 1.7974).abs() < 1e-4);
    assert_covers_at("attempts per fetch, outage ends first", &attempts, expected_attempts, 0.0, confidence);
    assert_covers_at("added latency, outage ends first", &added, expected_added, 0.0, confidence);

    let runs = replicate(&retried_through_outages(5.0, 1.0, 2.0, 2.0, 0.5), 58, 10);
    let mut attempts = Vec::new();
    let mut to_failure = Vec::new();
    for r in &runs {
        assert_eq!(r.requests.errors["backend_deadline"], 99, "the deadline cuts every request");
        attempts.push(r.backend.attempts as f64 / 99.0);
        to_failure.push(r.requests.sojourn_mean_s);
    }
    let expected_attempts = attempts_until(0.5, &d);
    let expected_time: f64 =
        (1..d.len()).map(|k| 0.5f64.powi(k as i32 + 1) / (fact(k + 1) * d[..k].iter().product::<f64>())).sum();
    assert!((expected_attempts - 1.5681).abs() < 1e-4 && (expected_time - 0.1361).abs() < 1e-4);
    assert_covers_at("attempts per fetch, deadline cuts", &attempts, expected_attempts, 0.0, confidence);
    assert_covers_at("time to give up, deadline cuts", &to_failure, expected_time, 0.0, confidence);

    let runs = replicate(&retried_through_outages(5.0, 0.4, 1.0, 0.4, 1.0), 58, 10);
    let attempts: Vec<f64> = runs
        .iter()
        .inspect(|r| assert_eq!(r.requests.errors["backend_deadline"], 99))
        .map(|r| r.backend.attempts as f64 / 99.0)
        .collect();
    let t: f64 = 2.5;
    let renewal: f64 =
        (0..=2).map(|k| (-1f64).powi(k) * (t - k as f64).powi(k) * (t - k as f64).exp() / fact(k as usize)).sum();
    assert!((renewal - 5.666).abs() < 1e-3, "{renewal}");
    assert_covers_at("attempts per fetch, constant bound, deadline cuts", &attempts, renewal, 0.0, confidence);
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
/// 20 s, a 500 ms recompute, no protection.
///
/// Oracle (renewal argument, see [`ia_unprotected_fetches_per_expiry`]):
/// a hit takes no time, so each worker's reads are a renewal process with
/// gaps X ~ U(0.01, 1), E[X] = 0.505 s, independent of the others. An
/// expiry comes 20 s (about 40 gaps) after the last fill, so each worker is
/// then in equilibrium: the wait F to its next read has density
/// P(X > x)/E[X]. The first read, at m = min F, misses and fetches for
/// δ = 0.5 s; every worker whose next read comes before m + δ misses too,
/// once (it then waits for its own fetch). So fetches per expiry =
/// #{i : F_i < m + δ}, with mean N·∫ f(x)·S(x − δ)^{N−1} dx = 38.0 (S the
/// survival function of F, 1 below 0). The published 484/"~14" ≈ 35 is a
/// little lower because the harness's reads took time (93 req/s, not 99).
///
/// n = 20 replications of 610 measured seconds (29 expiries each, after a
/// 30 s warm-up that leaves out the cold start); the 95% interval of their
/// mean must cover 38.0 (no allowance: the equilibrium after 40 gaps is
/// exact to far below the interval; 20 000 s runs give 38.02). Passes with
/// probability 95%. A cycle lasts T + about 1 s, so expiries come near
/// multiples of 21 s: the run ends at 640 s, mid-cycle, because one ending
/// at 630 s cuts its last expiry short when the users stop (biasing the
/// mean down by about 1).
/// With a lock (single flight), exactly 1 per expiry.
#[test]
fn the_internet_archive_harness_stampedes_as_the_renewal_argument_says() {
    let per_expiry = |refresh: &str, n: u64| -> Vec<f64> {
        replicate(&ia_harness(refresh, "640s", "30s"), 54, n)
            .iter()
            .map(|r| r.backend.fetches_per_expiry_mean.unwrap())
            .collect()
    };
    let expected = ia_unprotected_fetches_per_expiry(50, 0.01, 1.0, 0.5);
    assert!((expected - 38.0).abs() < 0.05, "test bug: the oracle gives {expected}");
    assert_covers("unprotected fetches per expiry", &per_expiry("None", 20), expected, 0.0);
    assert!(per_expiry("SingleFlight", 5).iter().all(|&x| x == 1.0));
    // A closed loop never has more requests in flight than users.
    let r = replicate(&ia_harness("None", "600s", "0s"), 54, 1).remove(0);
    assert!(r.requests.in_flight_peak <= 50);
}

/// The mean number of the N workers (think U(a, b), fetch δ) that miss one
/// expiry: N·∫ f(x)·S(x − δ)^{N−1} dx with f(x) = P(X > x)/E[X] the
/// equilibrium density of the wait for a worker's next read and S its
/// survival function (Simpson's rule on 20 000 intervals).
fn ia_unprotected_fetches_per_expiry(n: u32, a: f64, b: f64, delta: f64) -> f64 {
    let mean = (a + b) / 2.0;
    let tail = |x: f64| {
        if x < a {
            1.0
        } else if x > b {
            0.0
        } else {
            (b - x) / (b - a)
        }
    };
    // ∫_0^y P(X > x) dx.
    let area = |y: f64| {
        let y = y.clamp(0.0, b);
        if y < a { y } else { a + (b * y - y * y / 2.0 - (b * a - a * a / 2.0)) / (b - a) }
    };
    let survival = |y: f64| if y <= 0.0 { 1.0 } else { (area(b) - area(y)) / mean };
    let g = |x: f64| tail(x) / mean * survival(x - delta).powi(n as i32 - 1);
    let steps = 20_000;
    let h = b / steps as f64;
    let sum: f64 = (0..=steps)
        .map(|i| {
            let w = if i == 0 || i == steps {
                1.0
            } else if i % 2 == 1 {
                4.0
            } else {
                2.0
            };
            w * g(i as f64 * h)
        })
        .sum();
    n as f64 * sum * h / 3.0
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
    // The moving window lets through only the limit per trailing minute: the
    // two early hits and the burst's first 8 (before 60 s) fill it; the hit
    // from 0.5 s leaves it at 60.5 s, with burst arrivals still to come, so
    // at least one more passes (11); the one from 1.0 s leaves at 61.0 s,
    // the last arrival, which passes too if a hit exactly `per` old no
    // longer counts (12). Never fewer than 11 nor more than 12.
    assert!((11..=12).contains(&m.requests.ok), "moving window passed {}", m.requests.ok);
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
