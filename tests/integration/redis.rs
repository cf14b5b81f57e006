//! The shared Redis cache and the seed note's distributed lock: queueing at
//! Redis's single thread, the hazards of a lease shorter than the fetch and
//! a blocking timeout shorter than the fetch, outages, and what Redis does
//! to the backend calls that N servers multiply.

use crate::support::*;

fn seed(file: &str) -> cachesim::config::ModelSpec {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/seed").join(file);
    cachesim::config::load_model(&path).unwrap()
}

/// Redis's command thread is a single-server queue: with no network delay,
/// exponential command times of mean 1 ms and Poisson GETs at 800/s, a GET
/// (and so a request, whose handler takes no time) spends
/// W = 1/(μ − λ) = 5 ms. The TTL outlasts the run, so after the first fill
/// every request is one GET.
#[test]
fn redis_is_an_mm1_queue() {
    let spec = model(
        r#"Model(
            workload: (rate: 800, duration: "200s", warmup: "20s"),
            redis: (rtt: Constant("0s"), command_time: Exponential(mean: "1ms"), ttl: "1000d"),
            backend: (latency: Constant("10ms")),
        )"#,
    );
    let w: Vec<f64> = replicate(&spec, 41, 10).iter().map(|r| r.latency_s.mean.unwrap()).collect();
    assert_covers("GET sojourn at Redis", &w, 1.0 / (1000.0 - 800.0), 0.0);
}

/// The note's lock with a 10 s lease and a 12–15 s fetch: the lease runs
/// out mid-fetch, a second holder fetches again, and the first holder's
/// release fails (LockNotOwnedError). A 30 s lease has neither.
#[test]
fn a_lease_shorter_than_the_fetch_lets_a_second_holder_in() {
    let slow = [
        "workload.rate=20",
        "workload.duration=20m",
        r#"backend.latency=Uniform(low: "12s", high: "15s")"#,
        "redis.lock.blocking_timeout=None",
        "backend.rate_limit=None",
    ];
    let hazard = with(&seed("redis_locked.ron"), &slow);
    for r in replicate(&hazard, 42, 3) {
        assert!(r.redis.lock_not_owned > 0, "no LockNotOwnedError");
        assert!(r.requests.errors["lock_not_owned"] > 0);
        assert!(r.backend.largest_burst >= 2, "no double fetch: {}", r.backend.largest_burst);
    }
    let long_lease = with(&hazard, &["redis.lock.timeout=30s"]);
    for r in replicate(&long_lease, 42, 3) {
        assert_eq!(r.redis.lock_not_owned, 0);
        assert_eq!(r.requests.errors["lock_not_owned"], 0);
    }
}

/// A blocking timeout (5 s) shorter than the fetch (12–15 s): the waiters
/// give up. With `Fail` they fail (`lock_timeout`); with `FetchAnyway` none
/// fails, and the backend pays in fetches.
#[test]
fn a_blocking_timeout_shorter_than_the_fetch_makes_waiters_give_up() {
    let slow = [
        "workload.rate=20",
        "workload.duration=10m",
        r#"backend.latency=Uniform(low: "12s", high: "15s")"#,
        "backend.rate_limit=None",
    ];
    let fail = with(&seed("redis_locked.ron"), &slow);
    let anyway = with(&fail, &["redis.lock.on_give_up=FetchAnyway"]);
    let (f, a) = (replicate(&fail, 43, 1).remove(0), replicate(&anyway, 43, 1).remove(0));
    assert!(f.requests.errors["lock_timeout"] > 0);
    assert_eq!(f.requests.errors["lock_timeout"], f.redis.lock_timeouts);
    assert_eq!(a.requests.errors["lock_timeout"], 0);
    assert!(a.redis.lock_timeouts > 0);
    assert!(a.backend.calls > 2 * f.backend.calls, "fetch-anyway {} vs fail {}", a.backend.calls, f.backend.calls);
}

/// While Redis is down with `Fail`, exactly the requests that arrive in the
/// window fail (oracle: exact), so over n = 10 replications of Poisson
/// arrivals at λ = 10/s for a 60 s outage their total is Poisson(6000): it
/// must lie in that distribution's central 95% interval (probability 95%).
/// With `Backend`, they go to the backend instead and none fails for Redis.
#[test]
fn redis_outages_fail_the_requests_in_the_window_or_fall_back() {
    let down = [
        "workload.rate=10",
        "workload.duration=10m",
        "redis.outages=[(from: \"5m\", to: \"6m\")]",
        "redis.when_down=Fail",
    ];
    let failed: u64 = replicate(&with(&seed("redis.ron"), &down), 44, 10)
        .iter()
        .map(|r| r.requests.errors["redis_unavailable"])
        .sum();
    let (low, high) = poisson_interval(6000.0, 0.95);
    eprintln!("failed while Redis was down: {failed} in [{low}, {high}]");
    assert!((low..=high).contains(&failed), "{failed} failures over 10 runs, Poisson(6000) gives [{low}, {high}]");
    let fallback = with(&seed("redis.ron"), &down[..3]);
    let r = replicate(&fallback, 44, 1).remove(0);
    assert_eq!(r.requests.errors["redis_unavailable"], 0);
    assert!(r.backend.attempts > 500, "every request in the window goes to the backend: {}", r.backend.attempts);
}

/// N = 3 servers (random balancer, λ in all, handler 0), a mean TTL of
/// T = 60 s from each fill (jittered ±50%, which keeps the mean cycle and
/// makes the count of cycles in a run vary, so that calls per second is an
/// estimator with a spread rather than nearly one integer), a constant
/// δ = 1 s fetch, no rate limit: each server's own single-flight cache
/// (`LOCAL`), or one shared Redis entry with instant commands.
fn fleet(rate: f64, duration: &str, cache: &str) -> cachesim::config::ModelSpec {
    model(&format!(
        r#"Model(
            workload: (rate: {rate}, duration: "{duration}", warmup: "100s"),
            servers: (count: 3, balancer: Random, handler: Constant("0s")),
            {cache},
            backend: (latency: Constant("1s")),
        )"#
    ))
}

const LOCAL: &str = r#"cache: (ttl: "60s", ttl_jitter: 0.5, refresh: SingleFlight)"#;

fn shared(lock: &str) -> String {
    format!(r#"redis: (rtt: Constant("0s"), command_time: Constant("0s"), ttl: "60s", ttl_jitter: 0.5{lock})"#)
}

/// The note's claim that Redis fixes "3× Firestore calls", where it holds:
/// a shared entry whose refresh is locked (redis-py `Lock` with a re-check
/// after acquiring, so a waiter that gets the lock after the fill does not
/// fetch again) makes exactly 1 fetch per expiry for the whole fleet, so
/// its backend rate is one cache's 1/(T + 1/λ + δ) = 1/61.5; the N local
/// caches make N independent single-flight cycles, N/(T + N/λ + δ) =
/// 3/62.5 (DOMAIN A1), about N = 3 times as many (λ = 2/s, λT = 120 ≫ N;
/// with jitter as with `ttl_jitter_keeps_the_mean_cycle`).
/// n = 10 replications of 19 900 measured seconds each (the edge effect
/// of a renewal count, under one cycle in ~320, is left to the interval); two intervals at
/// 97.5% (Student t), both cover with probability ≥ 95%; and the local
/// caches' calls exceed 2.5× the shared entry's in every replication.
#[test]
fn a_shared_redis_cache_with_a_lock_does_not_multiply_backend_calls() {
    let local = replicate(&fleet(2.0, "20000s", LOCAL), 45, 10);
    let locked = replicate(&fleet(2.0, "20000s", &shared(", lock: (recheck: true)")), 45, 10);
    for (l, s) in local.iter().zip(&locked) {
        assert_eq!(l.backend.fetches_per_expiry_mean, Some(1.0), "single flight in each local cache");
        assert_eq!(s.backend.fetches_per_expiry_mean, Some(1.0), "one fetch per expiry for the fleet");
        assert!(
            l.backend.calls as f64 > 2.5 * s.backend.calls as f64,
            "local caches {} vs shared Redis {} backend calls",
            l.backend.calls,
            s.backend.calls
        );
    }
    let rate =
        |runs: &[cachesim::metrics::RunReport]| -> Vec<f64> { runs.iter().map(|r| r.backend.calls_per_s).collect() };
    assert_covers_at("backend rate, 3 local caches", &rate(&local), 3.0 / 62.5, 0.0, 0.975);
    assert_covers_at("backend rate, one locked Redis entry", &rate(&locked), 1.0 / 61.5, 0.0, 0.975);
}

/// Where the claim fails: a shared Redis entry without a lock, under a
/// stampede, makes more backend calls than local single-flight caches. The
/// reason: the shared entry has one expiry for the whole fleet, but every
/// request of the fleet that misses it during the fetch fetches too, 1 + λδ
/// per expiry with λ the fleet's total rate (DOMAIN A1, exact for Poisson
/// arrivals and instant commands), while each local cache's asyncio.Lock
/// keeps its own expiry to 1 fetch: N per TTL against 1 + λδ, so the shared
/// entry loses whenever 1 + λδ > N. At λ = 30/s, δ = 1 s: 31 per expiry
/// against 3. n = 10 replications of 2900 measured seconds; the 95% interval (Student t) of the
/// fetches per expiry must cover 1 + λδ = 31 (probability 95%), and the
/// shared entry must make more calls in every replication.
#[test]
fn a_shared_redis_cache_without_a_lock_makes_more_backend_calls_than_local_caches_under_a_stampede() {
    let local = replicate(&fleet(30.0, "3000s", LOCAL), 49, 10);
    let unlocked = replicate(&fleet(30.0, "3000s", &shared("")), 49, 10);
    let mut per_expiry = Vec::new();
    for (l, s) in local.iter().zip(&unlocked) {
        assert_eq!(l.backend.fetches_per_expiry_mean, Some(1.0));
        assert!(
            s.backend.calls > 3 * l.backend.calls,
            "shared Redis without a lock {} vs local caches {} backend calls",
            s.backend.calls,
            l.backend.calls
        );
        per_expiry.push(s.backend.fetches_per_expiry_mean.unwrap());
    }
    assert_covers("fetches per expiry of the shared entry", &per_expiry, 1.0 + 30.0, 0.0);
}

/// A lock holder whose backend fetch fails lets the lock go (redis-py
/// releases in `finally`): with no lease, a failed holder must not block
/// every later refresh. Here the bucket refuses most fetches; the backend
/// keeps being tried after failures instead of only once.
#[test]
fn a_failed_holder_releases_the_lock() {
    let spec = with(
        &seed("redis_locked.ron"),
        &[
            "workload.duration=2m",
            "redis.ttl=10s",
            "backend.rate_limit.rate=0.01",
            "backend.rate_limit.burst=1",
            "redis.lock.timeout=None",
        ],
    );
    let r = replicate(&spec, 46, 1).remove(0);
    assert!(r.requests.errors["rate_limited"] > 1, "only the first holder ever tried: {:?}", r.requests.errors);
}

/// The note's Redis lock at 50 req/s (Poisson) for 900 s against a constant
/// 13 s fetch with no rate limit, plus `extra` overrides.
fn note_hazard(extra: &[&str]) -> cachesim::config::ModelSpec {
    let base = with(
        &seed("redis_locked.ron"),
        &[
            "workload.rate=50",
            "workload.duration=900s",
            "workload.warmup=0s",
            r#"backend.latency=Constant("13s")"#,
            "backend.rate_limit=None",
        ],
    );
    with(&base, extra)
}

/// The note's lock hazard, counted exactly: 50 req/s (Poisson) for 900 s,
/// a constant 13 s fetch, a 10 s lease, a 5 s blocking timeout, 0.1 s
/// polling, TTL 5 min. Each expiry: the first reader takes the lock and
/// fetches; its lease runs out at +10 s and the next poll takes the lock
/// over (a second acquisition and fetch); the first holder's SETEX at +13 s
/// ends the misses, and both holders' releases find the lease gone
/// (`lock_not_owned`, at +13 s and +23 s). The second SETEX at +23 s sets
/// the next expiry, so the cycles start near 0, 323 and 646 s: three. Every
/// other reader whose GET came before the first SETEX polls until its 5 s
/// run out (the second holder keeps the lock to +20 s), so per cycle
///   acquisitions 2, takeovers 1, lock_not_owned 2, fallbacks 0,
///   lock timeouts = misses − 2 exactly,
/// and the misses are the first reader plus the Poisson(λ·(13 s + ε))
/// arrivals before the SETEX (ε: a few Redis round trips, ≤ 10 ms), so the
/// lock timeouts per cycle have mean λ·13 + 1 − 2 = 649, within the
/// replications' 95% interval (n = 10, allowance λ·ε = 0.5).
#[test]
fn the_notes_lock_hazard_has_exact_counts() {
    let hazard = note_hazard(&[]);
    let runs = replicate(&hazard, 46, 10);
    let mut timeouts = Vec::new();
    for r in &runs {
        assert_eq!(r.backend.expiries, 3, "three cycles");
        assert_eq!(
            (r.redis.lock_acquisitions, r.redis.lease_takeovers, r.redis.lock_not_owned, r.redis.fallback_fetches),
            (6, 3, 6, 0),
            "per cycle: 2 acquisitions, 1 takeover, 2 lock_not_owned"
        );
        assert_eq!(r.requests.errors["lock_not_owned"], 6);
        assert_eq!(r.redis.lock_timeouts, r.cache.misses - 6, "every other miss times out");
        assert_eq!(r.requests.errors["lock_timeout"], r.redis.lock_timeouts);
        // Both holders' fetches belong to their expiry.
        assert_eq!((r.backend.fetches_per_expiry_mean, r.backend.largest_burst), (Some(2.0), 2));
        timeouts.push(r.redis.lock_timeouts as f64 / 3.0);
    }
    assert_covers("lock timeouts per cycle", &timeouts, 50.0 * 13.0 + 1.0 - 2.0, 0.5);
}

/// `recheck_on_give_up`: one holder (no lease) fetches for 13 s and the
/// waiters give up after 5 s (on their last poll before it, within 0.1 s).
/// Those giving up after the SETEX at +13 s, the arrivals of about the last
/// 13 − 4.95 = 8.05 s … 13 s, find the entry when they read Redis again and
/// are served it: λ·4.95 ≈ 247.5 per cycle (3 cycles in 900 s), within the
/// replications' 95% interval (n = 10, allowance λ·0.05 for the polling
/// phase). The others fail as before; without the re-read all time out.
#[test]
fn a_waiter_that_reads_redis_again_at_its_timeout_is_served_the_holders_fill() {
    let base = note_hazard(&["redis.lock.timeout=None"]);
    let plain = replicate(&base, 47, 10);
    let again = replicate(&with(&base, &["redis.lock.recheck_on_give_up=true"]), 47, 10);
    let mut served = Vec::new();
    for (p, a) in plain.iter().zip(&again) {
        assert_eq!(p.requests.errors["lock_timeout"], p.redis.lock_timeouts);
        assert_eq!(p.cache.coalesced, 0);
        assert_eq!(a.backend.expiries, 3);
        assert_eq!(a.requests.errors["lock_timeout"] + a.cache.coalesced, a.redis.lock_timeouts);
        served.push(a.cache.coalesced as f64 / 3.0);
    }
    assert_covers("waiters served at their give-up, per cycle", &served, 50.0 * 4.95, 50.0 * 0.05);
}

/// A FLUSHALL (`redis.flushes`) deletes the lock key too: the first request
/// (at 0 s, evenly spaced arrivals at 20/s) takes the lock and fetches for
/// 1 s; a flush at 0.5 s deletes the lock, so the next waiter to poll (every
/// 100 ms) takes it and, reading the entry again (`recheck`) and finding it
/// still empty, fetches again; the first holder's release at 1 s finds the
/// key someone else's (LockNotOwnedError). Without the flush: one fetch, no
/// error.
#[test]
fn a_flush_deletes_the_entry_and_the_lock_key() {
    let base = model(
        r#"Model(
            workload: (arrivals: Constant, rate: 20, duration: "10s"),
            redis: (rtt: Constant("0s"), command_time: Constant("0s"), ttl: "1000d",
                lock: (timeout: "10s", sleep: "100ms", recheck: true)),
            backend: (latency: Constant("1s")),
        )"#,
    );
    let r = &replicate(&base, 1, 1)[0];
    assert_eq!((r.backend.calls, r.redis.lock_not_owned), (1, 0), "{:?}", r.redis);
    let flushed = with(&base, &[r#"redis.flushes=["500ms"]"#]);
    let r = &replicate(&flushed, 1, 1)[0];
    assert_eq!((r.backend.calls, r.redis.lock_not_owned), (2, 1), "{:?}", r.redis);
    assert_eq!(r.requests.errors["lock_not_owned"], 1);
    // After the fills, a flush at 5 s empties the entry: the next GET misses
    // and one more fetch (under the lock) refills it.
    let later = with(&base, &[r#"redis.flushes=["5s"]"#]);
    let r = &replicate(&later, 1, 1)[0];
    assert_eq!((r.backend.calls, r.redis.lock_not_owned), (2, 0), "{:?}", r.redis);
}
