//! Stampede mitigations across processes and tiers (DOMAIN.md C, D): leases
//! in the style of Facebook's memcache (`cache.refresh: Lease`), the Redis
//! lock's re-check after acquiring (`redis.lock.recheck`), and the client
//! limit's key behind a CDN (`client_limit.key`). Notation: λ rate, T TTL,
//! δ fetch time, r the lease's retry, h one network half round trip.
//!
//! Exact checks use Constant arrivals and latencies (every instant is a whole
//! number of nanoseconds, so no rounding enters); statistical checks assert
//! that the 95% Student-t interval over the replications covers the formula,
//! with any allowance stated next to it.

use std::path::Path;

use cachesim::config::ModelSpec;
use statrs::distribution::{Binomial, Discrete};

use crate::support::*;

fn seed(file: &str) -> ModelSpec {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/seed").join(file);
    cachesim::config::load_model(&path).unwrap()
}

/// One server, TTL 10 s, a constant 1 s fetch, 50 ms of handler time, Poisson
/// arrivals at 20/s; `refresh` is the policy.
fn one_cache(refresh: &str) -> ModelSpec {
    model(&format!(
        r#"Model(
            workload: (rate: 20, duration: "2000s", warmup: "200s"),
            servers: (count: 1, handler: Constant("50ms")),
            cache: (ttl: "10s", refresh: {refresh}),
            backend: (latency: Constant("1s")),
        )"#
    ))
}

/// The lease stops the stampede. Without protection an expiry brings the
/// trigger's fetch plus one per request arriving during it: 1 + λδ = 21
/// (DOMAIN A1). With `Lease()` (interval 10 s ≫ δ = 1 s) the trigger takes
/// the only token and the fetch fills long before a second token could be
/// issued: exactly 1 fetch per expiry, always. The others arriving during the
/// fetch wait and hit after the fill: arrivals in (t0, t0 + δ) after the
/// trigger at t0 are Poisson(λδ) by memorylessness, so the coalesced waiters
/// per expiry have mean λδ = 20.
///
/// Latency bound: a waiter arriving at a > t0 looks again at a + k·r and hits
/// at its first look at or after the fill at t0 + δ (one look later if it ties
/// with the fill and is handled first), so it is served by t0 + δ + r, and its
/// latency is below δ + r + handler = 1.06 s; the trigger itself takes exactly
/// δ + handler = 1.05 s. Slack 1e-9 s: latencies are whole nanoseconds read
/// back as f64 seconds.
#[test]
fn a_lease_fetches_once_per_expiry_and_waiters_are_served_after_the_fill() {
    let (lambda, delta, retry, handler) = (20.0, 1.0, 0.010, 0.050);
    let unprotected: Vec<f64> = replicate(&one_cache("None"), 61, 10)
        .iter()
        .map(|r| r.backend.fetches_per_expiry_mean.expect("expiries were measured"))
        .collect();
    assert_covers("unprotected fetches per expiry", &unprotected, 1.0 + lambda * delta, 0.0);

    let runs = replicate(&one_cache("Lease()"), 61, 10);
    let mut waiters = Vec::new();
    for r in &runs {
        assert_eq!(r.backend.fetches_per_expiry_mean, Some(1.0), "a lease fetches exactly once per expiry");
        assert_eq!(r.backend.largest_burst, 1);
        assert_eq!(r.backend.peak_concurrent, 1);
        assert_eq!((r.requests.failed, r.requests.in_flight_at_end), (0, 0), "every request is served");
        let max = r.latency_s.max.expect("requests succeeded");
        assert!(max >= delta + handler - 1e-9, "the token holder waits for its fetch: max {max}");
        assert!(max <= delta + retry + handler + 1e-9, "a waiter was not served by fill + retry: max {max}");
        waiters.push(r.cache.coalesced as f64 / r.backend.expiries as f64);
    }
    assert_covers("coalesced waiters per expiry", &waiters, lambda * delta, 0.0);
}

/// `Lease(stale: true)` after a fill: nobody but the token holder waits.
/// Exact, with Constant arrivals every 125 ms (8/s), a warm cache with TTL
/// 10 s, a 1.052 s fetch and 50 ms of handler time, for 60 s (480 arrivals,
/// at k·0.125 s for k = 1..480).
///
/// The warm entry expires at 10 s, an arrival instant: that request takes the
/// token and fetches until 11.052 s. The 8 arrivals in between (10.125 to
/// 11.0 s) get the expired entry at once (`stale_served`). The fill expires
/// at 21.052 s, so the next token is taken at 21.125 s: a cycle of 89
/// arrivals (1 holder, 8 stale, 80 hits). Holders at 10, 21.125, 32.25,
/// 43.375 and 54.5 s: 5 fetches, 5 × 8 = 40 stale, 480 − 45 = 435 hits.
/// Latency: the 5 holders take δ + handler = 1.102 s, the 475 others the
/// handler's 50 ms; the mean is exact, (5·1.102 + 475·0.05)/480.
///
/// The twin with `stale: false` has the same holders, but the 8 waiters look
/// again every 10 ms: waiter j (arrived 125j ms after its holder) is served at
/// its first look after the fill, ⌈(1052 − 125j)/10⌉·10 ms later (1052 − 125j
/// is never a multiple of 10, so no look ties with the fill). They count as
/// coalesced instead of stale.
#[test]
fn a_stale_lease_serves_the_expired_entry_at_once() {
    let spec = model(
        r#"Model(
            workload: (arrivals: Constant, rate: 8, duration: "60s"),
            servers: (handler: Constant("50ms")),
            cache: (ttl: "10s", start: Warm, refresh: Lease(stale: true)),
            backend: (latency: Constant("1052ms")),
        )"#,
    );
    let (holders, stale, hits, n) = (5u64, 40u64, 435u64, 480u64);
    let (delta, handler) = (1.052, 0.050);
    let r = replicate(&spec, 62, 1).remove(0);
    assert_eq!((r.requests.arrived, r.requests.ok), (n, n));
    assert_eq!(r.backend.calls, holders);
    assert_eq!(r.backend.fetches_per_expiry_mean, Some(1.0));
    assert_eq!(r.cache.stale_served, stale);
    assert_eq!(r.cache.coalesced, 0, "nobody waited for the fill");
    approx::assert_abs_diff_eq!(r.cache.hit_ratio, hits as f64 / n as f64, epsilon = 1e-12);
    let mean = (holders as f64 * (delta + handler) + (n - holders) as f64 * handler) / n as f64;
    approx::assert_abs_diff_eq!(r.latency_s.mean.unwrap(), mean, epsilon = 1e-9);
    approx::assert_abs_diff_eq!(r.latency_s.max.unwrap(), delta + handler, epsilon = 1e-9);
    // The median request is a hit or a stale serve: handler time only
    // (hdrhistogram keeps 3 significant digits).
    approx::assert_abs_diff_eq!(r.latency_s.p50.unwrap(), handler, epsilon = 1e-4);

    let waiting = with(&spec, &[r#"cache.refresh=Lease(stale: false)"#]);
    let w = replicate(&waiting, 62, 1).remove(0);
    assert_eq!(w.backend.calls, holders);
    assert_eq!((w.cache.stale_served, w.cache.coalesced), (0, stale));
    approx::assert_abs_diff_eq!(w.cache.hit_ratio, hits as f64 / n as f64, epsilon = 1e-12);
    let waits_ms: u64 = (1..=8u64).map(|j| (1052 - 125 * j).div_ceil(10) * 10).sum();
    let total =
        holders as f64 * (delta + handler) + holders as f64 * waits_ms as f64 / 1000.0 + (n - holders) as f64 * handler;
    approx::assert_abs_diff_eq!(w.latency_s.mean.unwrap(), total / n as f64, epsilon = 1e-9);
}

/// A lease interval (400 ms) shorter than the fetch (Constant 1 s) lets a new
/// token out every 400 ms while the fetch runs, and the fill of a superseded
/// token is dropped. Exact, with Constant arrivals every 10 ms for 0.5 s (50
/// requests at 10, 20, ..., 500 ms) and waiters looking again every 10 ms, so
/// that some request reaches the cache at every 10 ms instant while any is
/// waiting.
///
/// Token k is issued at t_k = 10 + 400(k − 1) ms and its fetch ends at
/// t_k + 1000 ms, after t_{k+1} = t_k + 400 ms whenever a request is still
/// waiting then: its fill is dropped (it is still served). Each token turns
/// one waiter into a holder, and every request misses (nothing is kept), so
/// all 50 requests become holders; the 50th token's fill is the only one kept
/// (nobody is left to take a 51st). So: 50 backend calls, all in one expiry
/// span (fetches per expiry 50, one fill), at most ⌈1000/400⌉ = 3 in flight.
/// It livelocks while demand lasts: with arrivals continuing, no fill would
/// ever be kept. The mean latency is exact whatever the order in which the
/// waiters win the tokens: Σ_k (t_k + 1000) − Σ_j 10j over 50 requests,
/// (50·1010 + 400·1225 − 10·1275)/50 ms = 10.555 s.
///
/// With the default 10 s interval the same load makes 1 fetch, and without
/// protection 50 (every arrival comes before the fill at 1.01 s): the
/// too-short lease is no better than none for the backend, and far worse for
/// latency.
#[test]
fn a_lease_shorter_than_the_fetch_reissues_tokens_and_drops_their_fills() {
    let spec = |refresh: &str| {
        model(&format!(
            r#"Model(
                workload: (arrivals: Constant, rate: 100, duration: "500ms"),
                cache: (ttl: "10s", refresh: {refresh}),
                backend: (latency: Constant("1s")),
            )"#
        ))
    };
    let n = 50u64;
    let short = replicate(&spec(r#"Lease(interval: "400ms")"#), 63, 1).remove(0);
    assert_eq!((short.requests.arrived, short.requests.ok), (n, n));
    assert_eq!(short.backend.calls, n, "every request ends up holding a token");
    assert_eq!(short.backend.expiries, 1);
    assert_eq!(short.backend.fetches_per_expiry_mean, Some(n as f64));
    assert_eq!(short.cache.fills, 1, "only the last token's fill is kept");
    assert_eq!(short.backend.peak_concurrent, 3);
    assert_eq!(short.cache.coalesced, 0, "nobody ever finds the entry filled");
    let completions: u64 = (1..=n).map(|k| 10 + 400 * (k - 1) + 1000).sum();
    let arrivals: u64 = (1..=n).map(|j| 10 * j).sum();
    let mean = (completions - arrivals) as f64 / 1000.0 / n as f64;
    approx::assert_abs_diff_eq!(short.latency_s.mean.unwrap(), mean, epsilon = 1e-9);

    let long = replicate(&spec("Lease()"), 63, 1).remove(0);
    assert_eq!((long.backend.calls, long.backend.fetches_per_expiry_mean), (1, Some(1.0)));
    assert_eq!(long.cache.coalesced, n - 1);
    let none = replicate(&spec("None"), 63, 1).remove(0);
    assert_eq!(none.backend.fetches_per_expiry_mean, Some(n as f64));
}

/// Facebook's comparison (NSDI'13, DOMAIN D: peak DB query rate 17K/s
/// without leases, 1.3K/s with, ≈13×), with the memcache clients as 16
/// worker processes (4 servers × 4 workers, each its own cache), Poisson
/// λ = 800/s spread at random, so each cache sees Poisson λ_u = 50/s; T 10 s,
/// δ 1 s. TTL jitter 0.5 keeps the mean TTL (E[T'] = T) but stops the 16
/// cold-started caches from staying in phase, which would otherwise make the
/// window count whole synchronized cycles instead of the long-run rate.
///
/// Per cache, by renewal-reward:
/// - no protection: 1 + λ_u·δ = 51 fetches per expiry; the last starts just
///   before the first fill at t0 + δ (the backward gap to it averages 1/λ_u)
///   and refills at about t0 + 2δ − 1/λ_u; the next trigger comes 1/λ_u after
///   that fill's expiry: cycle T + 2δ, rate (1 + λ_u·δ)/(T + 2δ);
/// - lease: 1 fetch per cycle T + δ + 1/λ_u.
///
/// So 16·51/12 = 68 calls/s against 16/11.02 = 1.452, a ratio of
/// 51·11.02/12 = 46.8, well above Facebook's 13×. A lease issues at most
/// one token per cache per 10 s, so at most 16 fetches start in any second.
#[test]
fn leases_cut_backend_calls_across_many_worker_caches() {
    let spec = |refresh: &str| {
        model(&format!(
            r#"Model(
                workload: (rate: 800, duration: "330s", warmup: "30s"),
                servers: (count: 4, workers: 4, balancer: Random),
                cache: (ttl: "10s", ttl_jitter: 0.5, refresh: {refresh}),
                backend: (latency: Constant("1s")),
            )"#
        ))
    };
    let (units, lu, t, d) = (16.0, 50.0, 10.0, 1.0);
    let none = replicate(&spec("None"), 64, 10);
    let lease = replicate(&spec("Lease()"), 64, 10);
    let per_expiry: Vec<f64> = none.iter().map(|r| r.backend.fetches_per_expiry_mean.unwrap()).collect();
    assert_covers("unprotected fetches per expiry per cache", &per_expiry, 1.0 + lu * d, 0.0);
    let rate =
        |runs: &[cachesim::metrics::RunReport]| -> Vec<f64> { runs.iter().map(|r| r.backend.calls_per_s).collect() };
    assert_covers("unprotected backend calls/s", &rate(&none), units * (1.0 + lu * d) / (t + 2.0 * d), 0.0);
    assert_covers("leased backend calls/s", &rate(&lease), units / (t + d + 1.0 / lu), 0.0);
    for r in &lease {
        assert_eq!(r.backend.fetches_per_expiry_mean, Some(1.0));
        assert!(
            r.backend.peak_per_second <= 16,
            "more than one token per cache per second: {}",
            r.backend.peak_per_second
        );
        assert_eq!(r.requests.failed, 0);
    }
    let ratio: Vec<f64> =
        none.iter().zip(&lease).map(|(n, l)| n.backend.calls as f64 / l.backend.calls as f64).collect();
    let expected = (1.0 + lu * d) * (t + d + 1.0 / lu) / (t + 2.0 * d);
    assert_covers("backend calls, none over lease", &ratio, expected, 0.0);
    let (m, h) = mean_ci95(&ratio);
    assert!(m - h > 17.0 / 1.3, "the lease's saving {m} ± {h} is below Facebook's 13×");
}

/// The seed's Redis lock (`redis_locked.ron`: lease 10 s, polling every
/// 100 ms, blocking timeout B = 5 s, `Fail` on give-up; no in-memory cache,
/// so every request GETs Redis) with a Constant 1 s fetch, Redis TTL 30 s,
/// 100 s of Poisson arrivals at λ = 100/s. RTT LogNormal(0.5 ms, p99 2 ms):
/// mean half trip h = 0.5 ms·e^{σ²/2}/2 = 0.2986 ms, σ = ln 4/2.3263.
///
/// Every request whose GET misses waits for the lock, then either acquires
/// it or gives up (`lock_timeout`). The misses of one expiry are the holder
/// plus the GETs executed before its SETEX: the window is δ plus the holder's
/// GET reply, lock round trip and SETEX trip, δ + 4h (δ + 6h with the
/// re-check's extra GET), so 1 + Poisson(λ(δ + 4h)) misses.
///
/// Without the re-check each acquirer fetches again, although the entry is
/// already in Redis, so misses = calls + lock_timeouts exactly, and fetches
/// chain one after another. Upper bound: fetch k starts at least (k − 1)·δ
/// after the first; its holder's last try started within B of its wait's
/// start, itself at most δ + (a few RTTs) after the first fetch started: so
/// k − 1 ≤ 1 + 5 + ε, k ≤ 7. Lower bound: ~40 waiters arrive in the last
/// 0.4 s of the first fetch and poll until ≥ 5.6 s after it started; a
/// release is taken within one poll (100 ms + an RTT), so each link of the
/// chain is ≤ 1.1 s + a few RTTs and the 6th fetch is acquired by about
/// 1 + 4·1.1 + 0.1 = 5.5 s < 5.6 s: at least 6 fetches per expiry. The
/// later fetches belong to the expiry whose misses sent them, so
/// `fetches_per_expiry_mean` counts them too (within one fetch of
/// calls/expiries: a fetch still in flight at the end is sent, not done).
///
/// With `recheck: true` each acquirer GETs again, hits and releases: exactly
/// one fetch per expiry, and every other miss is coalesced (none times out:
/// each holds the lock for a few RTTs, ~100 waiters drain in well under 5 s).
///
/// Allowance 0.01 in both coverage checks: the neglected Redis command
/// times and queue waits (≤ 3 × 12 µs + the queue) times λ.
#[test]
fn a_redis_lock_recheck_coalesces_the_waiters() {
    let (lambda, delta, h) = (100.0, 1.0, 0.5e-3 * ((4.0f64.ln() / 2.3263).powi(2) / 2.0).exp() / 2.0);
    let base = with(
        &seed("redis_locked.ron"),
        &[&[r#"backend.latency=Constant("1s")"#, "workload.duration=100s", "redis.ttl=30s"][..], &PROCESS_OFF].concat(),
    );
    let plain = replicate(&base, 65, 10);
    let mut misses = Vec::new();
    for r in &plain {
        let (calls, expiries) = (r.backend.calls, r.backend.expiries);
        assert!(expiries >= 2, "expected a cold start and a later expiry: {expiries}");
        assert!(
            6 * expiries <= calls && calls <= 7 * expiries,
            "without the re-check: {calls} calls over {expiries} expiries, expected 6 to 7 each"
        );
        let per_expiry = r.backend.fetches_per_expiry_mean.unwrap() * expiries as f64;
        assert!((per_expiry - calls as f64).abs() <= 1.0, "{per_expiry} fetches in expiries, {calls} calls");
        assert!(r.redis.lock_timeouts > 0, "the early waiters run out of their 5 s");
        assert_eq!(r.requests.errors["lock_timeout"], r.redis.lock_timeouts);
        assert_eq!((r.backend.rate_limited, r.redis.lock_not_owned), (0, 0));
        misses.push((calls + r.redis.lock_timeouts) as f64 / expiries as f64);
    }
    assert_covers("misses per expiry without re-check", &misses, 1.0 + lambda * (delta + 4.0 * h), 0.01);

    let rechecked = with(&base, &["redis.lock.recheck=true"]);
    let mut coalesced = Vec::new();
    for r in replicate(&rechecked, 65, 10) {
        assert_eq!(r.backend.calls, r.backend.expiries, "one fetch per expiry of the shared entry");
        assert_eq!(r.backend.fetches_per_expiry_mean, Some(1.0));
        assert!(r.cache.coalesced > 0);
        assert_eq!((r.redis.lock_timeouts, r.requests.failed), (0, 0));
        coalesced.push(r.cache.coalesced as f64 / r.backend.expiries as f64);
    }
    assert_covers("coalesced per expiry with re-check", &coalesced, lambda * (delta + 6.0 * h), 0.01);
}

/// The exact expected number of refused requests when `n` requests go to
/// `users` equally likely users, each allowed `limit` (all in one window):
/// users · E[(C − limit)⁺], C ~ Binomial(n, 1/users).
fn expected_refusals(n: u64, users: u64, limit: u64) -> f64 {
    let c = Binomial::new(1.0 / users as f64, n).unwrap();
    users as f64 * (limit + 1..=n).map(|k| (k - limit) as f64 * c.pmf(k)).sum::<f64>()
}

/// `client_limit` behind a CDN that forwards everything (`max_age: "0s"`,
/// no collapsing: one origin request per client request), "10/minute",
/// in-process counters, 1000 users of equal activity, Constant arrivals for
/// 30 s (shorter than the window, which opens at each key's first hit).
///
/// `RemoteAddress`: the origin sees the 4 PoPs as its clients. Each PoP gets
/// ~N/4 ≫ 10 requests, so exactly 10 per PoP per worker process pass: 40
/// with 1 worker, 80 with 2 (each worker counts alone), 10 behind a shield
/// (one peer); every other request is a 429, passed on to the client.
///
/// `User`: each origin request is keyed by its user, so refusals are
/// users·E[(C − 10)⁺] with C ~ Binomial(N, 1/1000). At N = 2400 that is
/// 0.053: by Markov, P(more than 5) ≤ 0.053/6 < 1%, against 2360 refused by
/// address. At N = 6000 (6 per user on average) it is 77.1, which the
/// replications must cover.
#[test]
fn the_limit_key_behind_a_cdn() {
    let spec = |rate: u32, key: &str| {
        model(&format!(
            r#"Model(
                workload: (arrivals: Constant, rate: {rate}, duration: "30s"),
                cdn: (pops: 4, max_age: "0s", collapse: false),
                client_limit: (limit: 10, per: "1m", users: 1000, key: {key}),
                backend: (latency: Constant("1ms")),
            )"#
        ))
    };
    let by_address = spec(80, "RemoteAddress");
    let n = 2400;
    for (sets, admitted) in [
        (vec![], 40),
        (vec!["servers.workers=2"], 80),
        (vec![r#"cdn.shield=(rtt: Constant("10ms"), collapse: false)"#], 10),
    ] {
        let r = replicate(&with(&by_address, &sets), 66, 1).remove(0);
        assert_eq!(r.requests.arrived, n);
        assert_eq!(r.cdn.origin_requests, n, "every client request reaches the origin ({sets:?})");
        assert_eq!(r.requests.ok, admitted, "by address ({sets:?})");
        assert_eq!(r.requests.errors["too_many_requests"], n - admitted, "{sets:?}");
    }

    let light = expected_refusals(n, 1000, 10);
    let r = replicate(&spec(80, "User"), 66, 1).remove(0);
    let refused = r.requests.errors["too_many_requests"];
    eprintln!("by user, N = {n}: {refused} refused, expected {light:.4}");
    assert!(refused <= 5, "{refused} refused by user key, expected {light:.3} on average");
    assert_eq!(r.requests.ok + refused, n);

    let heavy: Vec<f64> = replicate(&spec(200, "User"), 66, 10)
        .iter()
        .map(|r| {
            assert_eq!(r.requests.arrived, 6000);
            r.requests.errors["too_many_requests"] as f64
        })
        .collect();
    assert_covers("refused by user key at N = 6000", &heavy, expected_refusals(6000, 1000, 10), 0.0);
}

/// A lease needs an interval above 0 and a retry of at least 1 ms (a 0 s
/// retry would loop at one instant forever): rejected as bad input (exit
/// code 2, nothing on stdout), naming `cache.refresh`, from `--set` and from
/// a model file (at the `refresh` line).
#[test]
fn a_lease_without_interval_or_retry_is_rejected() {
    let reference = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/seed/reference.ron");
    for bad in [r#"Lease(interval: "0s")"#, r#"Lease(retry: "0s")"#, r#"Lease(retry: "500us")"#] {
        assert_rejected(&run_cli(&reference, &["--set", &format!("cache.refresh={bad}")]), "cache.refresh");
    }
    let src = r#"Model(
    workload: (rate: 1, duration: "10s"),
    cache: (refresh: Lease(interval: "0s")),
    backend: (latency: Constant("1s")),
)
"#;
    let (out, path, _dir) = run_model_text("lease.ron", src, &[]);
    let stderr = assert_rejected(&out, "cache.refresh");
    let (line, _) = position(&stderr, &path.display().to_string());
    assert_eq!(line, line_of(src, "refresh:"), "reported on the wrong line:\n{stderr}");
}

/// Redis `Background(ahead)`: one job refreshes the shared entry `ahead` of
/// its expiry, from time zero when Redis starts empty, so no reader ever
/// misses. Exact: each refresh is SET δ + (Redis round trips) after it starts
/// and the next starts `ahead` before the new expiry, so the cycle is
/// T − ahead + δ + ε with ε < 10 ms; over D seconds there are
/// ⌈D/(T − ahead + δ + ε)⌉ refreshes started before the workload ends:
/// T = 60 s, ahead = 5 s, δ = 1 s, D = 1200 s: 1200/56.0x → 22 refreshes
/// (21.4 cycles, the first at 0). A warm Redis starts its first refresh at
/// 55 s instead: 1 + ⌊(1200 − 55)/56.0x⌋ = 21.
#[test]
fn a_redis_background_job_refreshes_ahead_and_no_reader_misses() {
    let spec = model(
        r#"Model(
            workload: (rate: 100, duration: "20m"),
            servers: (count: 3),
            redis: (ttl: "60s", refresh: Background(ahead: "5s")),
            backend: (latency: Constant("1s")),
        )"#,
    );
    let cold = replicate(&spec, 71, 1).remove(0);
    // Readers in the first second find Redis still empty and fetch themselves
    // (no lock): about λδ = 100 of them, and no other reader misses.
    let misses = cold.requests.arrived - (cold.cache.hit_ratio * cold.requests.arrived as f64).round() as u64;
    assert_eq!(cold.backend.calls, 22 + misses, "the job's 22 refreshes and the first second's misses");
    assert!((60..=140).contains(&misses), "{misses} misses: about 100 ± 4√100 arrive in the first second");
    assert_eq!(cold.backend.expiries, 1, "one expiry span: the empty start");
    let warm = replicate(&with(&spec, &["redis.start=Warm"]), 71, 1).remove(0);
    assert_eq!(warm.backend.calls, 21);
    assert_eq!(warm.cache.hit_ratio, 1.0, "a warm Redis with a refresh job never misses");
    assert!(warm.latency_s.max.unwrap() < 0.01, "nobody waits for the backend: {:?}", warm.latency_s.max);
}

/// A lease holder whose fetch fails (a 2 s backend outage over the expiry)
/// gives its token back at once, so the next request takes the lease and
/// waiters do not poll out the 10 s interval: the slowest request waits
/// about the outage plus one fetch, not the interval.
#[test]
fn a_failed_lease_holder_gives_its_token_back() {
    let spec = model(
        r#"Model(
            workload: (rate: 100, duration: "120s"),
            servers: (handler: Constant("5ms")),
            cache: (ttl: "30s", refresh: Lease()),
            backend: (latency: Constant("200ms"), faults: [Outage(from: "29s", to: "31s")]),
        )"#,
    );
    let r = replicate(&spec, 72, 1).remove(0);
    assert!(r.requests.errors["backend_unavailable"] > 0);
    let max = r.latency_s.max.unwrap();
    assert!(max < 2.5, "a waiter waited {max} s: the failed holder's lease was kept");
}

/// XFetch counts its early recomputes apart from its misses: every
/// measured request is a hit, a miss or an early recompute, exactly. With
/// β = 1, λ = 10/s and δ = 1 s, the early recomputes come before almost
/// every expiry; with β = 1e-9 there are none, and every expiry is a miss.
#[test]
fn xfetch_counts_early_recomputes_apart_from_misses() {
    let spec = model(
        r#"Model(
            workload: (arrivals: Poisson, rate: 10, duration: "600s", warmup: "0s"),
            servers: (count: 1, handler: Constant("0s")),
            cache: (ttl: "10s", refresh: XFetch(beta: 1.0, lock: false)),
            backend: (latency: Constant("1s")),
        )"#,
    );
    let eager = replicate(&spec, 48, 1).remove(0);
    let c = &eager.cache;
    let hits = (c.hit_ratio * eager.requests.arrived as f64).round() as u64;
    assert_eq!(hits + c.misses + c.early_recomputes, eager.requests.arrived);
    assert!(c.early_recomputes >= 40, "early recomputes {}", c.early_recomputes);
    let lazy = replicate(&with(&spec, &["cache.refresh=XFetch(beta: 1e-9, lock: false)"]), 48, 1).remove(0);
    assert_eq!(lazy.cache.early_recomputes, 0);
    assert!(lazy.cache.misses >= lazy.backend.expiries, "each expiry is found by a miss");
}
