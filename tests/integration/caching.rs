//! TTL caches, stampedes and rate limits against their formulas
//! (DOMAIN.md A1). Notation: λ request rate, T TTL, δ fetch time.
//!
//! Statistical tests assert that the 95% Student-t confidence interval of the
//! replication means covers the formula; allowances, where any, are stated.

use cachesim::engine::SimTime;
use cachesim::sim::TokenBucket;
use proptest::prelude::*;

use crate::support::*;

/// One cache in front of a backend with a constant fetch time δ = 1 s and
/// no rate limit; no database.
fn cache_model(rate: f64, servers: u32, balancer: &str, refresh: &str) -> cachesim::config::ModelSpec {
    model(&format!(
        r#"Model(
            workload: (rate: {rate}, duration: "3000s", warmup: "200s"),
            servers: (count: {servers}, balancer: {balancer}),
            cache: (ttl: "10s", refresh: {refresh}),
            backend: (latency: Constant("1s")),
        )"#
    ))
}

/// Single flight, one server, λ = 2/s, T = 10 s, δ = 1 s. A cycle is T of
/// hits, a wait of 1/λ for the next request, which fetches for δ while
/// λδ more wait: h = λT/(λT + 1 + λδ) = 20/23, and one backend call per
/// cycle: 1/(T + 1/λ + δ) = 1/11.5 per second.
#[test]
fn single_flight_hit_ratio_and_backend_rate() {
    let spec = cache_model(2.0, 1, "RoundRobin", "SingleFlight");
    let runs = replicate(&spec, 21, 10);
    let (lt, ld) = (20.0, 2.0);
    let hits: Vec<f64> = runs.iter().map(|r| r.cache.hit_ratio).collect();
    let served: Vec<f64> = runs.iter().map(|r| r.cache.served_from_cache_ratio).collect();
    let rate: Vec<f64> = runs.iter().map(|r| r.backend.calls_per_s).collect();
    assert_covers("single-flight hit ratio", &hits, lt / (lt + 1.0 + ld), 0.0);
    // Waiters reuse the one fetch: all but the trigger are served from cache.
    assert_covers("served from cache", &served, (lt + ld) / (lt + 1.0 + ld), 0.0);
    assert_covers("backend calls per second", &rate, 1.0 / 11.5, 0.0);
    for r in &runs {
        assert_eq!(r.backend.largest_burst, 1, "single flight must fetch once per expiry");
    }
}

/// Without protection every request that finds the entry expired fetches:
/// the trigger plus the λδ that arrive during the first fetch, so
/// 1 + λδ = 21 fetches per expiry at λ = 20/s, δ = 1 s.
#[test]
fn unprotected_stampede_is_one_plus_lambda_delta() {
    let spec = cache_model(20.0, 1, "RoundRobin", "None");
    let runs = replicate(&spec, 22, 10);
    let per_expiry: Vec<f64> = runs.iter().map(|r| r.backend.fetches_per_expiry_mean.unwrap()).collect();
    assert_covers("fetches per expiry", &per_expiry, 21.0, 0.0);
    // And the locked twin fetches exactly once per expiry.
    let locked = with(&spec, &["cache.refresh=SingleFlight"]);
    for r in replicate(&locked, 22, 3) {
        assert_eq!(r.backend.fetches_per_expiry_mean, Some(1.0));
    }
}

/// N = 3 independent caches behind a uniformly random balancer see Poisson
/// λ/N each, so the backend rate is N/(T + N/λ + δ) = 3/12 = 0.25/s at
/// λ = 3/s: three times one cache's calls, the note's "3× Firestore calls".
#[test]
fn n_servers_multiply_backend_calls_random_balancer() {
    let spec = cache_model(3.0, 3, "Random", "SingleFlight");
    let rate: Vec<f64> = replicate(&spec, 23, 10).iter().map(|r| r.backend.calls_per_s).collect();
    assert_covers("backend rate with 3 caches (random LB)", &rate, 3.0 / (10.0 + 3.0 / 3.0 + 1.0), 0.0);
}

/// With round robin a server gets every N-th request. After its expiry the
/// next request it gets is the k-th global arrival, k uniform on 1..N (the
/// global count over T + δ ≫ 1/λ is uniform mod N), so it waits (N+1)/(2λ)
/// on average, not N/λ: the rate is N/(T + (N+1)/(2λ) + δ) = 3/11.667.
#[test]
fn n_servers_multiply_backend_calls_round_robin() {
    let spec = cache_model(3.0, 3, "RoundRobin", "SingleFlight");
    let rate: Vec<f64> = replicate(&spec, 24, 10).iter().map(|r| r.backend.calls_per_s).collect();
    assert_covers("backend rate with 3 caches (round robin)", &rate, 3.0 / (10.0 + 4.0 / 6.0 + 1.0), 0.0);
}

/// A token bucket never admits more than rate·t + burst over any span t, and
/// under saturating demand it admits exactly that, to the token: 10/s, burst
/// 10, a request every 10 ms from t = 10 ms to 60 s with no cache. The span
/// of demand is t = 59.99 s, so floor(10 · 59.99 + 10) = 609 calls (the
/// bucket is full during the first 10 ms, so that refill is lost), and the
/// rest are refused with `rate_limited`.
#[test]
fn token_bucket_admits_rate_times_t_plus_burst() {
    let spec = model(
        r#"Model(
            workload: (arrivals: Constant, rate: 100, duration: "60s"),
            backend: (latency: Constant("10ms"), rate_limit: (rate: 10, burst: 10, when_empty: Fail)),
        )"#,
    );
    let r = replicate(&spec, 25, 1).remove(0);
    // Arrivals at 10 ms, 20 ms, ... 60 s: the bucket refills one token per
    // 100 ms, and an arrival comes at that same instant to take it.
    assert_eq!(r.requests.arrived, 6000);
    let admitted = (10.0f64 * (60.0 - 0.01) + 10.0).floor() as u64;
    assert_eq!(r.backend.calls, admitted);
    assert_eq!(r.requests.errors["rate_limited"], 6000 - admitted);
    assert_eq!(r.backend.attempts, 6000);
}

proptest! {
    /// For any sequence of take times, the tokens granted within [0, t] are
    /// at most rate·t + burst.
    #[test]
    fn token_bucket_never_exceeds_its_envelope(
        rate in 0.5f64..500.0,
        burst in 1u32..50,
        gaps in proptest::collection::vec(0u64..50_000_000, 1..400),
    ) {
        let mut bucket = TokenBucket::new(rate, burst);
        let (mut now, mut granted) = (0u64, 0u64);
        for gap in gaps {
            now += gap;
            if bucket.try_take(SimTime(now)) {
                granted += 1;
            }
            let rate_used = (rate * 1000.0).round() / 1000.0;
            let envelope = rate_used * now as f64 / 1e9 + f64::from(burst);
            prop_assert!(granted as f64 <= envelope + 1e-9, "{granted} > {envelope}");
        }
    }
}

/// With `Retry`, a refused fetch backs off and tries again instead of
/// failing; with a deadline too short for any retry it fails with
/// `backend_deadline`.
#[test]
fn retry_policy_backs_off_until_its_deadline() {
    let base = model(
        r#"Model(
            workload: (rate: 50, duration: "60s"),
            backend: (latency: Constant("100ms"), rate_limit: (rate: 20, burst: 5, when_empty: Retry)),
        )"#,
    );
    // 50 req/s against 20 tokens/s, no cache: demand exceeds supply, the
    // backlog grows, and requests fail once their 60 s deadline is spent.
    let r = replicate(&base, 26, 1).remove(0);
    assert_eq!(r.requests.errors["rate_limited"], 0);
    assert!(r.backend.attempts > r.backend.calls, "retries must show as extra attempts");
    assert!(r.backend.calls as f64 <= 20.0 * r.engine.simulated_s + 5.0, "the bucket bounds the calls");
    assert!(r.requests.errors["backend_deadline"] > 0, "a 2.5x overload must exhaust some deadlines");
    // No retry starts past the 60 s deadline, so no success takes longer
    // than the deadline plus one 100 ms call.
    assert!(r.latency_s.max.unwrap() <= 60.1 + 1e-9, "max latency {:?}", r.latency_s.max);
    // Below capacity (10 req/s with a cache-less backend at 20/s), retries
    // absorb bursts and nothing fails.
    let light = with(&base, &["workload.rate=10"]);
    let r = replicate(&light, 26, 1).remove(0);
    assert_eq!(r.requests.failed, 0);
    assert_eq!(r.requests.ok, r.requests.arrived);
    // A deadline shorter than the first backoff can be: every refusal fails.
    let hopeless = with(&base, &["backend.rate_limit.retry.deadline=1ns"]);
    let r = replicate(&hopeless, 26, 1).remove(0);
    assert!(r.requests.errors["backend_deadline"] > 0);
    assert_eq!(r.requests.errors["backend_deadline"], r.requests.failed);
}

/// A warm cache serves from the first request; a cold one fetches first.
#[test]
fn warm_start_avoids_the_first_fetch() {
    let cold = cache_model(2.0, 1, "RoundRobin", "SingleFlight");
    let cold = with(&cold, &["workload.warmup=0s", "workload.duration=5s"]);
    let warm = with(&cold, &["cache.start=Warm"]);
    let (c, w) = (replicate(&cold, 27, 1).remove(0), replicate(&warm, 27, 1).remove(0));
    assert_eq!(c.backend.calls, 1);
    assert_eq!(w.backend.calls, 0);
    assert_eq!(w.cache.hit_ratio, 1.0);
}

/// Che's approximation for LRU under independent requests (DOMAIN.md A4):
/// solve Σ(1 − e^{−λᵢ·t_C}) = C, then h = Σ λᵢ(1 − e^{−λᵢ·t_C}) / Σ λᵢ.
fn che(n: u32, s: f64, capacity: f64) -> (f64, f64) {
    let w: Vec<f64> = (1..=n).map(|k| (k as f64).powf(-s)).collect();
    let total: f64 = w.iter().sum();
    let lambda: Vec<f64> = w.iter().map(|x| x / total).collect();
    let filled = |t: f64| lambda.iter().map(|l| 1.0 - (-l * t).exp()).sum::<f64>();
    let (mut lo, mut hi) = (0.0, 1e9);
    for _ in 0..200 {
        let mid = (lo + hi) / 2.0;
        if filled(mid) < capacity { lo = mid } else { hi = mid }
    }
    let h = lambda.iter().map(|l| l * (1.0 - (-l * lo).exp())).sum::<f64>();
    (lo, h)
}

/// A response cache of 100 entries over 1,000 queries of Zipf(0.8)
/// popularity, with Poisson requests and no expiry, is an LRU cache under
/// the independent reference model: its hit ratio is Che's 0.3778 (the
/// DOMAIN test vector, checked here), up to the approximation's own error
/// against exact LRU (0.3771 by simulation: allowance 0.001).
#[test]
fn lru_response_cache_matches_che() {
    let (t_c, h) = che(1000, 0.8, 100.0);
    approx::assert_abs_diff_eq!(t_c, 133.86, epsilon = 0.01);
    approx::assert_abs_diff_eq!(h, 0.3778, epsilon = 0.0001);
    let spec = model(
        r#"Model(
            workload: (rate: 100, duration: "1200s", warmup: "200s"),
            response_cache: (ttl: "1000d", keys: 1000, zipf: 0.8, capacity: 100),
            backend: (latency: Constant("0s")),
        )"#,
    );
    let hits: Vec<f64> = replicate(&spec, 28, 8).iter().map(|r| r.cache.layers["response"].hit_ratio).collect();
    assert_covers("LRU hit ratio (Che)", &hits, h, 0.001);
}

/// Expiry counters count what reached the backend. Constant arrivals every
/// 10 ms, a 1.005 s fetch, no lock: 101 requests find each expiry (those
/// before the first fill). The bucket (burst 5, 0.5 tokens/s) is full again
/// after each 10 s TTL, so exactly 5 fetches reach the backend and 96
/// attempts are refused, in every expiry. The cycles are 11.05 s long
/// (fetch, 4 more fills 10 ms apart, TTL) from 0.01 s: nine fit in 95 s.
#[test]
fn expiry_counters_separate_fetches_that_reached_the_backend_from_refused_ones() {
    let spec = model(
        r#"Model(
            workload: (arrivals: Constant, rate: 100, duration: "95s", warmup: "0s"),
            servers: (count: 1, handler: Constant("0s")),
            cache: (ttl: "10s", refresh: None),
            backend: (latency: Constant("1.005s"), rate_limit: (rate: 0.5, burst: 5, when_empty: Fail)),
        )"#,
    );
    let r = replicate(&spec, 47, 1).remove(0);
    assert_eq!(r.backend.expiries, 9);
    assert_eq!(r.backend.fetches_per_expiry_mean, Some(5.0));
    assert_eq!(r.backend.refused_per_expiry_mean, Some(96.0));
    assert_eq!(r.backend.largest_burst, 5);
    assert_eq!(r.requests.errors["rate_limited"], r.backend.rate_limited);
}
