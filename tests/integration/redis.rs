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
/// window fail: about λ·60 s = 600 (Poisson: ±5 sd = ±122). With `Backend`,
/// they go to the backend instead, and its rate limit refuses most.
#[test]
fn redis_outages_fail_or_fall_back() {
    let down = [
        "workload.rate=10",
        "workload.duration=10m",
        "redis.outages=[(from: \"5m\", to: \"6m\")]",
        "redis.when_down=Fail",
    ];
    let r = replicate(&with(&seed("redis.ron"), &down), 44, 1).remove(0);
    let n = r.requests.errors["redis_unavailable"] as f64;
    assert!((n - 600.0).abs() < 122.0, "{n} failures");
    let fallback = with(&seed("redis.ron"), &down[..3]);
    let r = replicate(&fallback, 44, 1).remove(0);
    assert_eq!(r.requests.errors["redis_unavailable"], 0);
    assert!(r.backend.attempts > 500, "every request in the window goes to the backend: {}", r.backend.attempts);
}

/// The note's claim that Redis fixes "3× Firestore calls": three servers
/// with their own caches make about three times the backend calls of one
/// shared Redis entry (which makes one per TTL cycle).
#[test]
fn a_shared_redis_cache_does_not_multiply_backend_calls() {
    let load = [
        "workload.rate=30",
        "workload.duration=30m",
        "servers.count=3",
        "servers.balancer=Random",
        "backend.rate_limit=None",
    ];
    let local = replicate(&with(&seed("reference_locked.ron"), &load), 45, 3);
    let shared = replicate(&with(&seed("redis.ron"), &load), 45, 3);
    for (l, s) in local.iter().zip(&shared) {
        // One entry, TTL 5 min, 30 min: at most 7 fills; each expiry brings
        // a burst of fetches (no lock) but fetches stop at the first fill.
        assert!(l.backend.calls >= 3 * 6, "local caches: {}", l.backend.calls);
        assert!(s.redis.hit_ratio > 0.99, "Redis hit ratio {}", s.redis.hit_ratio);
        assert!(s.cache.hit_ratio > 0.99);
    }
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
