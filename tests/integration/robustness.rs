//! Hostile input and resource guards: nothing panics, hangs or exhausts
//! memory; every model that loads runs to completion and keeps its books.

use cachesim::config::{ModelSpec, parse_model};
use cachesim::engine::{EventQueue, Model, SimTime, run};
use cachesim::sim::{Event, RunOptions, World, simulate};
use proptest::prelude::*;

fn cachesim_cmd() -> assert_cmd::Command {
    assert_cmd::cargo::cargo_bin_cmd!("cachesim")
}

fn reference() -> &'static str {
    cachesim::builtin::REFERENCE
}

/// The engine driven through a wrapper that checks, before every event,
/// that the clock never went back.
struct ClockChecked {
    world: World,
    last: SimTime,
}

impl Model for ClockChecked {
    type Event = Event;
    fn handle(&mut self, q: &mut EventQueue<Event>, event: Event) {
        assert!(q.now() >= self.last, "the clock went back from {} to {}", self.last, q.now());
        self.last = q.now();
        self.world.handle(q, event);
    }
    fn stopped(&self) -> bool {
        self.world.stopped()
    }
    fn tag(event: &Event) -> u64 {
        World::tag(event)
    }
}

/// A valid model drawn from wide ranges of every section.
fn arb_model() -> impl Strategy<Value = String> {
    let latency = prop_oneof![
        (0u64..2000).prop_map(|ms| format!("Constant(\"{ms}ms\")")),
        (1u64..2000).prop_map(|ms| format!("Exponential(mean: \"{ms}ms\")")),
        (1u64..1000, 1u64..5).prop_map(|(m, k)| format!("LogNormal(median: \"{m}ms\", p99: \"{}ms\")", m * (k + 1))),
        (0u64..500, 0u64..500).prop_map(|(a, b)| format!("Uniform(low: \"{a}ms\", high: \"{}ms\")", a + b)),
        proptest::collection::vec(0u64..3000, 1..5).prop_map(|v| format!(
            "Empirical(samples: [{}])",
            v.iter().map(|x| format!("\"{x}ms\"")).collect::<Vec<_>>().join(", ")
        )),
    ];
    let workload = (1u32..200, 1u64..120, any::<bool>(), 0u64..3, proptest::option::of((1u64..60, 1u32..300)))
        .prop_map(|(rate, secs, constant, warm_tenths, step)| {
            let phases = step.map(|(at, r)| format!("phases: [Step(at: \"{at}s\", rate: {r})],")).unwrap_or_default();
            format!(
                "(arrivals: {}, rate: {rate}, duration: \"{secs}s\", warmup: \"{}ms\", drain: \"5s\", {phases})",
                if constant { "Constant" } else { "Poisson" },
                secs * 100 * warm_tenths / 3
            )
        });
    let servers =
        (1u32..5, proptest::option::of(1u32..20), any::<bool>(), latency.clone()).prop_map(|(n, c, random, h)| {
            let c = c.map(|c| format!("concurrency: {c},")).unwrap_or_default();
            format!("(count: {n}, {c} balancer: {}, handler: {h})", if random { "Random" } else { "RoundRobin" })
        });
    let cache = proptest::option::of((0u64..30_000, any::<bool>(), any::<bool>())).prop_map(|c| match c {
        None => String::new(),
        Some((ttl, warm, locked)) => format!(
            "cache: (ttl: \"{ttl}ms\", start: {}, refresh: {}),",
            if warm { "Warm" } else { "Cold" },
            if locked { "SingleFlight" } else { "None" }
        ),
    });
    let limit = proptest::option::of((1u32..50, 1u32..20, any::<bool>())).prop_map(|l| match l {
        None => String::new(),
        Some((r, b, retry)) => format!(
            "rate_limit: (rate: {r}, burst: {b}, when_empty: {}, retry: (deadline: \"5s\")),",
            if retry { "Retry" } else { "Fail" }
        ),
    });
    let db = proptest::option::of((0u32..6, 0u32..6, 0u64..2000, latency.clone())).prop_map(|d| match d {
        None => String::new(),
        Some((size, overflow, timeout, q)) => format!(
            "db: (pool_size: {}, max_overflow: {overflow}, pool_timeout: \"{timeout}ms\", query: {q}),",
            size.max(u32::from(overflow == 0))
        ),
    });
    (workload, servers, cache, latency, limit, db).prop_map(|(w, s, c, l, rl, d)| {
        format!("Model(workload: {w}, servers: {s}, {c} backend: (latency: {l}, {rl}), {d})")
    })
}

/// A valid model with the distributed parts: workers, every local and
/// shared refresh policy, Redis (lock, recheck, outages), a CDN (shield,
/// spread, lifetimes, stale-*), PgBouncer, replicas with writes, client
/// limits, a response cache, data versions and closed-loop users.
fn arb_distributed_model() -> impl Strategy<Value = String> {
    let local = prop_oneof![
        Just("None".to_string()),
        Just("SingleFlight".to_string()),
        (1u64..20).prop_map(|w| format!("StaleWhileRevalidate(window: \"{w}s\")")),
        (1u32..30, any::<bool>()).prop_map(|(b, l)| format!("XFetch(beta: {}, lock: {l})", f64::from(b) / 10.0)),
        (1u64..5).prop_map(|a| format!("Background(ahead: \"{a}s\")")),
        (1u64..3000, 1u64..200, any::<bool>())
            .prop_map(|(i, r, st)| format!("Lease(interval: \"{i}ms\", retry: \"{r}ms\", stale: {st})")),
    ];
    // Jitter at most 0.3: the shortest TTL (6 s × 0.7) stays above the
    // longest background `ahead` (4 s), which validation requires.
    let cache = proptest::option::of((6u64..40, any::<bool>(), local, 0u32..4)).prop_map(|c| match c {
        None => String::new(),
        Some((ttl, warm, refresh, jitter)) => format!(
            "cache: (ttl: \"{ttl}s\", start: {}, refresh: {refresh}, ttl_jitter: {}),",
            if warm { "Warm" } else { "Cold" },
            f64::from(jitter) / 10.0
        ),
    });
    let shared = prop_oneof![
        Just(("None".to_string(), true)),
        (1u32..30).prop_map(|b| (format!("XFetch(beta: {})", f64::from(b) / 10.0), true)),
        (1u64..20).prop_map(|w| (format!("StaleWhileRevalidate(window: \"{w}s\")"), true)),
        (1u64..5).prop_map(|a| (format!("Background(ahead: \"{a}s\")"), true)),
        (1u64..3000, 1u64..200, any::<bool>())
            .prop_map(|(i, r, st)| (format!("Lease(interval: \"{i}ms\", retry: \"{r}ms\", stale: {st})"), false)),
    ];
    let redis = proptest::option::of((6u64..40, shared, any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()))
        .prop_map(|r| match r {
            None => String::new(),
            Some((ttl, (refresh, lock_ok), lock, recheck, outage, warm)) => {
                let lock = if lock && lock_ok {
                    format!("lock: (timeout: \"2s\", blocking_timeout: \"1s\", on_give_up: FetchAnyway, recheck: {recheck}),")
                } else {
                    String::new()
                };
                let outage = if outage { "outages: [(from: \"3s\", to: \"5s\")]," } else { "" };
                format!(
                    "redis: (ttl: \"{ttl}s\", refresh: {refresh}, ttl_jitter: 0.2, start: {}, {lock} {outage}),",
                    if warm { "Warm" } else { "Cold" }
                )
            }
        });
    let cdn = proptest::option::of((1u32..5, 0u64..10, 0u64..5, 0u64..5, any::<bool>(), any::<bool>(), any::<bool>()))
        .prop_map(|c| match c {
            None => String::new(),
            Some((pops, age, swr, sie, collapse, revalidate, shield)) => format!(
                "cdn: (pops: {pops}, spread: Zipf(1.0), s_maxage: \"{age}s\", stale_while_revalidate: \"{swr}s\", \
                 stale_if_error: \"{sie}s\", collapse: {collapse}, revalidate: {revalidate}, {}),",
                if shield { "shield: (collapse: true)" } else { "" }
            ),
        });
    let db = proptest::option::of((1u32..6, any::<bool>(), 0u32..3, 1u64..500)).prop_map(|d| match d {
        None => String::new(),
        Some((size, bouncer, replicas, timeout_ms)) => {
            let bouncer = if bouncer {
                format!("pgbouncer: (default_pool_size: {size}, query_wait_timeout: \"{timeout_ms}ms\"),")
            } else {
                String::new()
            };
            let replicas = if replicas > 0 {
                format!("replicas: (count: {replicas}, read_share: 0.7), writes: Poisson(2),")
            } else {
                String::new()
            };
            format!(
                "db: (pool_size: {size}, max_overflow: 2, query: Exponential(mean: \"20ms\"), {bouncer} {replicas}),"
            )
        }
    });
    let extras =
        (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(limit, by_user, responses, writes)| {
            let mut s = String::new();
            if limit {
                let key = if by_user { "User" } else { "RemoteAddress" };
                s += &format!("client_limit: (limit: 20, per: \"10s\", users: 50, zipf: 0.8, key: {key}),");
            }
            if responses {
                s += "response_cache: (ttl: \"5s\", keys: 20, capacity: 10),";
            }
            if writes {
                s += "__writes__";
            }
            s
        });
    let workload = (1u32..60, any::<bool>()).prop_map(|(rate, closed)| {
        let closed = if closed { "closed: (users: 20, think: Exponential(mean: \"200ms\"))," } else { "" };
        format!("(rate: {rate}, duration: \"20s\", warmup: \"2s\", drain: \"30s\", {closed})")
    });
    (workload, 1u32..4, 1u32..3, cache, redis, cdn, db, extras).prop_map(|(w, n, workers, c, r, cdn, d, x)| {
        let writes = if x.contains("__writes__") { "writes: Some(Poisson(0.5))," } else { "" };
        let x = x.replace("__writes__", "");
        format!(
            "Model(workload: {w}, servers: (count: {n}, workers: {workers}, balancer: LeastConnections, handler: Constant(\"5ms\")), \
             {c} {r} {cdn} {x} backend: (latency: Uniform(low: \"100ms\", high: \"1500ms\"), {writes} \
             rate_limit: (rate: 5, burst: 5, when_empty: Retry, retry: (deadline: \"3s\"))), {d})"
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 120, ..ProptestConfig::default() })]

    /// The same books for models with the distributed parts: conservation,
    /// causes adding up, ordered percentiles, no panic, no clock going back
    /// (checked by the simulator's debug assertions), and runs that finish.
    #[test]
    fn any_distributed_model_runs_and_keeps_its_books(text in arb_distributed_model(), seed in 0u64..1000) {
        let spec: ModelSpec = parse_model(&text, "prop.ron", "prop").map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let r = simulate(&spec, seed, 0, RunOptions::default());
        let q = &r.requests;
        prop_assert_eq!(q.arrived, q.ok + q.failed + q.in_flight_at_end, "conservation in {}", text);
        prop_assert_eq!(q.failed, q.errors.values().sum::<u64>());
        prop_assert!(!r.engine.truncated, "{:?} in {}", r.engine.stop_reason, text);
        if let (Some(p50), Some(p99), Some(max)) = (r.latency_s.p50, r.latency_s.p99, r.latency_s.max) {
            prop_assert!(0.0 <= p50 && p50 <= p99 && p99 <= max * 1.001 + 1e-6, "{:?}", r.latency_s);
        }
        for (name, layer) in &r.cache.layers {
            prop_assert!((0.0..=1.0).contains(&layer.hit_ratio), "layer {} hit ratio {}", name, layer.hit_ratio);
        }
        prop_assert!((0.0..=1.0).contains(&r.cache.served_from_cache_ratio));
        prop_assert!(r.db.stale_reads <= r.db.replica_reads && r.db.replica_reads <= r.db.queries);
        // The same model and seed give the same trace.
        let again = simulate(&spec, seed, 0, RunOptions::default());
        prop_assert_eq!(&again.fingerprint.trace, &r.fingerprint.trace);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 120, ..ProptestConfig::default() })]

    /// Any model that loads runs to completion; requests are conserved
    /// (arrived = ok + failed + still in flight), failures add up by cause,
    /// latency percentiles are ordered, and the clock never goes back. (A
    /// request finishing before it arrived would trip a debug assertion in
    /// the simulator, and tests build with debug assertions on.)
    #[test]
    fn any_model_that_loads_runs_and_keeps_its_books(text in arb_model(), seed in 0u64..1000) {
        let spec: ModelSpec = parse_model(&text, "prop.ron", "prop").map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let r = simulate(&spec, seed, 0, RunOptions::default());
        let q = &r.requests;
        prop_assert_eq!(q.arrived, q.ok + q.failed + q.in_flight_at_end, "conservation in {}", text);
        prop_assert_eq!(q.failed, q.errors.values().sum::<u64>());
        prop_assert!(!r.engine.truncated);
        if let (Some(p50), Some(p99), Some(max)) = (r.latency_s.p50, r.latency_s.p99, r.latency_s.max) {
            prop_assert!(0.0 <= p50 && p50 <= p99 && p99 <= max * 1.001 + 1e-6, "{:?}", r.latency_s);
        }
        let mut queue = EventQueue::new();
        let world = World::new(&spec, seed, 0, &mut queue);
        let mut checked = ClockChecked { world, last: SimTime::ZERO };
        let stop = SimTime(spec.workload.duration.nanos()).after(spec.workload.drain.0);
        let end = run(&mut checked, &mut queue, stop, u64::MAX);
        // The same trace as the plain run: the wrapper observes, never steers.
        prop_assert_eq!(format!("{:016x}", end.fingerprint), r.fingerprint.trace);
    }

    /// Arbitrary text as a model file never panics.
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        cachesim::fuzzing::model(text.as_bytes());
    }

    /// Arbitrary bytes as a `--set` never panic.
    #[test]
    fn arbitrary_overrides_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
        cachesim::fuzzing::set(&bytes);
    }

    /// The reference model with random characters replaced, inserted or
    /// deleted (the typos people make) never panics.
    #[test]
    fn mutated_models_never_panic(edits in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..3, any::<char>()), 1..6)) {
        let mut text: Vec<char> = reference().chars().collect();
        for (at, kind, c) in edits {
            let i = at.index(text.len().max(1)).min(text.len().saturating_sub(1));
            match kind {
                0 => text[i] = c,
                1 => text.insert(i, c),
                _ => { text.remove(i); }
            }
        }
        let text: String = text.into_iter().collect();
        cachesim::fuzzing::model(text.as_bytes());
    }
}

/// The fuzzer's seed corpus loads and runs through the fuzz entry points.
#[test]
fn fuzz_seed_corpus_runs() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut n = 0;
    for (target, entry) in [("model", cachesim::fuzzing::model as fn(&[u8])), ("set", cachesim::fuzzing::set)] {
        for file in std::fs::read_dir(root.join(target)).unwrap() {
            entry(&std::fs::read(file.unwrap().path()).unwrap());
            n += 1;
        }
    }
    assert!(n >= 5, "the seed corpus has {n} inputs");
}

fn run_ref(args: &[&str]) -> std::process::Output {
    let model = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/seed/reference.ron");
    cachesim_cmd().arg("run").arg(model).args(args).timeout(std::time::Duration::from_secs(60)).output().unwrap()
}

/// Absurd rate × duration is refused before running, with what to change.
#[test]
fn absurd_runs_are_refused_before_they_start() {
    let out = run_ref(&["--set", "workload.rate=1e9", "--set", "workload.duration=1h"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("3.60e12 requests") && err.contains("--max-events"), "{err}");
}

/// `--max-events` lets such a run go, and stops it at the budget, saying so
/// in the report; the results are partial, so it exits 3.
#[test]
fn max_events_stops_a_run_and_says_why() {
    let out = run_ref(&["--set", "workload.rate=1e9", "--max-events", "50000", "--json"]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["engine"]["truncated"], true);
    assert_eq!(v["engine"]["events"], 50000);
    assert!(v["engine"]["stop_reason"].as_str().unwrap().contains("--max-events 50000"));
}

/// End to end: `cachesim run --max-events 2000` on a model that needs more
/// prints its report marked as stopped early, and exits 3 with a message
/// that says the run was truncated, names the budget, and how to raise it.
#[test]
fn a_run_stopped_by_max_events_exits_3_naming_the_budget() {
    let out = run_ref(&["--max-events", "2000"]);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stdout.contains("STOPPED EARLY") && stdout.contains("--max-events 2000"), "{stdout}");
    assert!(
        stderr.contains("1 run(s) truncated")
            && stderr.contains("event budget of 2000 events (--max-events 2000)")
            && stderr.contains("pass a larger --max-events N"),
        "{stderr}"
    );
    // A budget the run fits in: whole, exit 0.
    let out = run_ref(&["--max-events", "300000000"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A server that cannot keep up stops at the in-flight memory guard
/// instead of growing without bound.
#[test]
fn an_unbounded_backlog_stops_at_the_memory_guard() {
    let spec = parse_model(
        r#"Model(
            workload: (arrivals: Constant, rate: 1000000, duration: "20s"),
            servers: (concurrency: 1, handler: Constant("1s")),
            backend: (latency: Constant("1ms")),
        )"#,
        "t",
        "t",
    )
    .unwrap();
    let r = simulate(&spec, 1, 0, RunOptions::default());
    assert!(r.engine.truncated);
    assert!(r.engine.stop_reason.as_deref().unwrap().contains("memory guard"));
    assert_eq!(r.requests.in_flight_at_end, cachesim::sim::MAX_IN_FLIGHT);
}

/// Numeric edge cases are refused with exit 2, never a panic: NaN and
/// infinite rates, p99 equal to the median, a duration past u64
/// nanoseconds, a negative count.
#[test]
fn numeric_edge_cases_are_bad_input() {
    for set in [
        "workload.rate=NaN",
        "workload.rate=inf",
        "workload.rate=0",
        "backend.latency.p99=1s",
        "workload.duration=300000d",
        "servers.count=-1",
        "db.pool_timeout=-5s",
        "backend.rate_limit.retry.multiplier=0.5",
    ] {
        let out = run_ref(&["--set", set]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "--set {set}: {err}");
        assert!(!err.contains("panicked"), "--set {set}: {err}");
    }
}

/// Durations whose sum with the drain passes u64 nanoseconds saturate
/// instead of overflowing (the event budget still applies, so one is given).
#[test]
fn huge_durations_saturate_instead_of_overflowing() {
    let out = run_ref(&[
        "--set",
        "workload.duration=106000d",
        "--set",
        "workload.drain=106000d",
        "--set",
        "workload.rate=0.001",
        "--max-events",
        "20000",
        "--json",
    ]);
    // About 9,000 requests over 106,000 days need more than 20,000 events:
    // stopped at the budget (exit 3), with a report, not an overflow.
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["engine"]["truncated"], true);
}

/// Brackets nested ten thousand deep in a `--set` value are refused, not a
/// stack overflow.
#[test]
fn deep_nesting_is_refused() {
    let value = format!("workload.phases={}", "[".repeat(10_000));
    let out = run_ref(&["--set", &value]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nests deeper"));
}

/// A failed sweep (bad experiment) leaves an earlier sweep's results
/// untouched.
#[test]
fn a_failed_run_leaves_earlier_results_intact() {
    let dir = tempfile::tempdir().unwrap();
    let models = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/seed/reference_locked.ron");
    let exp = dir.path().join("e.ron");
    let write = |rate: &str| {
        std::fs::write(
            &exp,
            format!(
                r#"Experiment(models: ["{}"], duration: "30s", replications: 2, grid: Cartesian([(path: "workload.rate", values: [{rate}])]))"#,
                models.display()
            ),
        )
        .unwrap()
    };
    write("5");
    let out = dir.path().join("out");
    let sweep = || cachesim_cmd().arg("sweep").arg(&exp).arg("--out").arg(&out).arg("-q").output().unwrap();
    assert_eq!(sweep().status.code(), Some(0));
    let before: Vec<Vec<u8>> = ["runs.csv", "points.csv", "summary.json", "matrix.md"]
        .iter()
        .map(|f| std::fs::read(out.join(f)).unwrap())
        .collect();
    write("\"fast\"");
    assert_eq!(sweep().status.code(), Some(2));
    let after: Vec<Vec<u8>> = ["runs.csv", "points.csv", "summary.json", "matrix.md"]
        .iter()
        .map(|f| std::fs::read(out.join(f)).unwrap())
        .collect();
    assert_eq!(before, after);
}

/// Too many grid points are refused before anything runs.
#[test]
fn too_many_runs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let model = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/seed/reference.ron");
    let values: Vec<String> = (1..=2000).map(|i| i.to_string()).collect();
    let exp = dir.path().join("big.ron");
    std::fs::write(
        &exp,
        format!(
            r#"Experiment(models: ["{}"], replications: 1000, grid: Cartesian([(path: "workload.rate", values: [{}])]))"#,
            model.display(),
            values.join(", ")
        ),
    )
    .unwrap();
    let out = cachesim_cmd().arg("sweep").arg(&exp).arg("--out").arg(dir.path().join("o")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("the limit is") && stderr.contains("big.ron:1:"), "{stderr}");
    assert!(!dir.path().join("o").exists());
}

/// A grid of three axes of 300 values (27 M points) is refused from the
/// axis lengths before it is expanded: quickly, with the run count named,
/// and without writing anything.
#[test]
fn a_huge_grid_is_refused_from_its_axis_lengths_before_expanding() {
    let dir = tempfile::tempdir().unwrap();
    let model = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/seed/reference.ron");
    let values: Vec<String> = (1..=300).map(|i| i.to_string()).collect();
    let axis = |path: &str| format!(r#"(path: "{path}", values: [{}])"#, values.join(", "));
    let exp = dir.path().join("huge.ron");
    std::fs::write(
        &exp,
        format!(
            r#"Experiment(models: ["{}"], replications: 1, grid: Cartesian([{}, {}, {}]))"#,
            model.display(),
            axis("workload.rate"),
            axis("db.pool_size"),
            axis("db.max_overflow")
        ),
    )
    .unwrap();
    let out = cachesim_cmd().arg("sweep").arg(&exp).arg("--out").arg(dir.path().join("o")).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("27000000"), "names the run count: {stderr}");
    assert!(!dir.path().join("o").exists());
}

/// `limit` settings whose search could never end or would not fit are
/// load errors naming the field and the allowed range: a tolerance below
/// 1e-6 (at about 1e-16, `1 + tol == 1` and bisection would spin), a span
/// beyond 2^20, and a spike hold beyond a day.
#[test]
fn limit_settings_that_could_not_end_are_refused_with_their_range() {
    let dir = tempfile::tempdir().unwrap();
    let model = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/seed/reference.ron");
    for (limit, expect) in [
        ("tolerance: 1e-17", "at least 0.000001"),
        ("low: 1e-300, high: 1e300", "at most a factor of 1048576"),
        (r#"hold: "1000d""#, "between 1ns and 1d"),
    ] {
        let exp = dir.path().join("limit.ron");
        std::fs::write(
            &exp,
            format!(
                r#"Experiment(models: ["{}"], replications: 2, limit: (path: "workload.rate", {limit}))"#,
                model.display()
            ),
        )
        .unwrap();
        let out = cachesim_cmd().arg("limit").arg(&exp).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{limit}: {stderr}");
        assert!(stderr.contains(expect), "{limit}: expected {expect:?} in {stderr}");
    }
}

/// Devices and oversized files are refused at once, not read until memory
/// runs out: `run /dev/zero`, `sweep /dev/zero`, `check --baseline
/// /dev/zero` and a model file past the 16 MiB cap all exit 2 with a
/// message that says why.
#[test]
fn devices_and_oversized_input_files_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let exp = dir.path().join("exp.ron");
    let model = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/seed/reference.ron");
    std::fs::write(&exp, format!(r#"Experiment(models: ["{}"], replications: 2)"#, model.display())).unwrap();
    let big = dir.path().join("big.ron");
    std::fs::write(&big, vec![b' '; 17 * 1024 * 1024]).unwrap();
    let cases: Vec<(Vec<std::ffi::OsString>, &str)> = vec![
        (vec!["run".into(), "/dev/zero".into()], "not a regular file"),
        (vec!["sweep".into(), "/dev/zero".into()], "not a regular file"),
        (vec!["check".into(), exp.clone().into(), "--baseline".into(), "/dev/zero".into()], "not a regular file"),
        (vec!["run".into(), big.clone().into()], "larger than the 16 MiB"),
    ];
    for (args, expect) in cases {
        let out = cachesim_cmd()
            .args(&args)
            .current_dir(dir.path())
            .timeout(std::time::Duration::from_secs(30))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expect), "{args:?}: expected {expect:?} in {stderr}");
    }
}

/// `limit` and `bench --sweep` guard every run they plan before any
/// starts, as `run` does: a model that `run` refuses at its search's top
/// load (2000 req/s for 100 days) is refused by `limit` at once, and an
/// experiment over it by `bench --sweep`.
#[test]
fn limit_and_bench_sweep_refuse_runs_the_size_guard_refuses_before_starting() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("big.ron");
    std::fs::write(&model, r#"Model(workload: (rate: 2000, duration: "100d"), backend: (latency: Constant("1s")))"#)
        .unwrap();
    let exp = dir.path().join("exp.ron");
    std::fs::write(&exp, r#"Experiment(models: ["big.ron"], replications: 2)"#).unwrap();
    for args in [vec!["limit", "big.ron"], vec!["bench", "--sweep", "exp.ron"]] {
        let out = cachesim_cmd()
            .args(&args)
            .current_dir(dir.path())
            .timeout(std::time::Duration::from_secs(60))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("event budget"), "{args:?}: {stderr}");
    }
}

/// A model saved with a UTF-8 byte-order mark (as Windows editors do) runs
/// like the same model without one, and an error in it is still placed at
/// the line and column an editor shows.
#[test]
fn a_model_with_a_utf8_byte_order_mark_loads_and_errors_keep_their_column() {
    let dir = tempfile::tempdir().unwrap();
    let text = r#"Model(workload: (rate: 5, duration: "10s"), backend: (latency: Constant("1s")))"#;
    let path = dir.path().join("bom.ron");
    std::fs::write(&path, format!("\u{feff}{text}")).unwrap();
    let out = cachesim_cmd().arg("run").arg(&path).arg("--json").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::write(&path, format!("\u{feff}{}", text.replace("rate: 5", "rte: 5"))).unwrap();
    let out = cachesim_cmd().arg("run").arg(&path).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("bom.ron:1:18"), "the misspelt field sits at column 18: {stderr}");
}

/// Runs `cachesim run FILE` on `text` written to a fresh directory.
fn run_text(name: &str, text: &str, args: &[&str]) -> (std::process::Output, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    let out = cachesim_cmd()
        .arg("run")
        .arg(&path)
        .args(args)
        .current_dir(dir.path())
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stderr)
}

/// Durations with a space between the number and its unit, or a `_` that
/// groups no digits, are refused where they are written; `1_000ms` and
/// `1m 30s` still read.
#[test]
fn durations_with_a_detached_unit_or_a_stray_underscore_are_refused() {
    for (duration, expect) in [("5 m", "space between a number and its unit"), ("_5s", "may only group digits")] {
        let text = format!(r#"Model(workload: (rate: 1, duration: "{duration}"), backend: (latency: Constant("1s")))"#);
        let (out, stderr) = run_text("d.ron", &text, &[]);
        assert_eq!(out.status.code(), Some(2), "{duration}: {stderr}");
        assert!(stderr.contains("d.ron:1:") && stderr.contains(expect), "{duration}: {stderr}");
        let out = run_ref(&["--set", &format!("workload.duration={duration}")]);
        assert_eq!(out.status.code(), Some(2), "--set {duration}");
    }
    for fine in ["1_000ms", "1m 30s"] {
        let text = format!(r#"Model(workload: (rate: 1, duration: "{fine}"), backend: (latency: Constant("1s")))"#);
        let (out, stderr) = run_text("d.ron", &text, &[]);
        assert_eq!(out.status.code(), Some(0), "{fine}: {stderr}");
    }
}

/// A token bucket's rate below its 0.001/s resolution would be rounded up
/// silently; it is refused with the range instead.
#[test]
fn a_bucket_rate_below_its_resolution_is_refused() {
    let text = r#"Model(workload: (rate: 1, duration: "10s"),
    backend: (latency: Constant("1s"), rate_limit: (rate: 0.0001, burst: 1)))"#;
    let (out, stderr) = run_text("b.ron", text, &[]);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("b.ron:2:") && stderr.contains("between 0.001") && stderr.contains("resolution"),
        "{stderr}"
    );
    let out = run_ref(&["--set", "backend.rate_limit.rate=1e12"]);
    assert_eq!(out.status.code(), Some(2));
}

/// serde's type words never reach the user: a negative pool size and a
/// zero count say the field, the range and an example, in a file and in
/// a `--set`.
#[test]
fn type_errors_name_the_field_the_range_and_an_example() {
    let text = r#"Model(workload: (rate: 1, duration: "1s"), servers: (count: 0), backend: (latency: Constant("1s")))"#;
    let (out, stderr) = run_text("n.ron", text, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("`count`") && stderr.contains("from 1 to 4,294,967,295, e.g. 1"), "{stderr}");
    for (set, expect) in [
        ("db.pool_size=-1", "from 0 to 4,294,967,295, e.g. 10"),
        ("servers.count=0", "from 1 to 4,294,967,295, e.g. 1"),
        ("servers.count=1.5", "from 1 to 4,294,967,295"),
    ] {
        let out = run_ref(&["--set", set]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{set}: {stderr}");
        assert!(stderr.contains(expect), "{set}: {stderr}");
        for rust in ["u32", "u64", "nonzero", "integer `"] {
            assert!(!stderr.contains(rust), "{set}: Rust's words in {stderr}");
        }
    }
}

/// A file of comments only says so; a no-break space is named, at its
/// place; a megabyte identifier or string is echoed cut, not whole.
#[test]
fn comments_only_odd_spaces_and_long_echoes_are_reported_plainly() {
    let (out, stderr) = run_text("c.ron", "// a comment\n/* another */\n", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("only comments"), "{stderr}");
    let text = "Model(workload:\u{a0}(rate: 1, duration: \"1s\"), backend: (latency: Constant(\"1s\")))";
    let (out, stderr) = run_text("s.ron", text, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("s.ron:1:16") && stderr.contains("no-break space (U+00A0)"), "{stderr}");
    let long = "x".repeat(1_000_000);
    for text in [
        format!(r#"Model(workload: (rate: 1, duration: "1s"), backend: (latency: Constant("1s")), {long}: 1)"#),
        format!(r#"Model(workload: (rate: 1, duration: "{long}"), backend: (latency: Constant("1s")))"#),
    ] {
        let (out, stderr) = run_text("l.ron", &text, &[]);
        assert_eq!(out.status.code(), Some(2));
        assert!(stderr.len() < 2000 && stderr.contains('…'), "{} bytes: {}", stderr.len(), &stderr[..200]);
    }
}

/// An expectation's bound must be a finite number: `equals: "NaN"` is bad
/// input (exit 2) found as the experiment loads, not a failed check.
#[test]
fn a_nan_expectation_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let model = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/seed/reference.ron");
    let exp = dir.path().join("e.ron");
    std::fs::write(
        &exp,
        format!(
            r#"Experiment(models: ["{}"], duration: "10s", replications: 2,
    expect: [(model: "reference", metric: "requests.ok", equals: "NaN")])"#,
            model.display()
        ),
    )
    .unwrap();
    let out = cachesim_cmd().arg("check").arg(&exp).current_dir(dir.path()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not a finite number") && stderr.contains("e.ron:"), "{stderr}");
    assert!(!dir.path().join("results").exists(), "nothing ran");
}

/// An experiment's `warmup` and `duration` are applied as overrides; an
/// error they cause points at them in the experiment file.
#[test]
fn an_experiment_warmup_error_points_at_the_warmup() {
    let dir = tempfile::tempdir().unwrap();
    let model = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/seed/reference.ron");
    let exp = dir.path().join("w.ron");
    let text = format!(
        "Experiment(models: [\"{}\"], replications: 2,\n    duration: \"10s\",\n    warmup: \"1h\")",
        model.display()
    );
    std::fs::write(&exp, text).unwrap();
    let out = cachesim_cmd().arg("sweep").arg(&exp).current_dir(dir.path()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("w.ron:3:") && stderr.contains("warm-up"), "{stderr}");
    assert!(!stderr.contains("after the overrides"), "{stderr}");
}

/// `run --plot --bucket` is bounded to a million buckets (the narrowest
/// allowed width is named), and a plotted line keeps at most 2000 points,
/// by min/max decimation: a one-bucket spike keeps its height.
#[test]
fn time_series_are_bounded_and_plotted_lines_thinned() {
    let out = run_ref(&["--set", "workload.duration=2h", "--plot", "/nonexistent/p", "--bucket", "1ms"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("the limit is 1000000 buckets") && stderr.contains("--bucket 8ms"), "{stderr}");
    let mut points: Vec<(f64, f64)> = (0..100_000).map(|i| (i as f64, (i % 7) as f64)).collect();
    points[54_321].1 = 1000.0;
    let thin = cachesim::report::thin(points, cachesim::report::MAX_LINE_POINTS);
    assert!(thin.len() <= 2000, "{}", thin.len());
    assert!(thin.iter().any(|p| p.1 == 1000.0) && thin.iter().any(|p| p.1 == 0.0));
    assert!(thin.windows(2).all(|w| w[0].0 <= w[1].0), "in x order");
    let dir = tempfile::tempdir().unwrap();
    let plot = dir.path().join("p");
    let out = run_ref(&["--set", "workload.duration=1h", "--plot", plot.to_str().unwrap(), "--bucket", "100ms"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let svg = std::fs::metadata(plot.join("outcomes.svg")).unwrap().len();
    assert!(svg < 2_000_000, "outcomes.svg is {svg} bytes for 37,200 buckets");
}

/// `--threads` is 1 to 256, with the machine's core count as a hint.
#[test]
fn threads_beyond_the_bound_are_refused_with_a_hint() {
    let exp = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/regression.ron");
    for n in ["10000", "0"] {
        let out =
            cachesim_cmd().arg("sweep").arg(&exp).args(["--threads", n, "--out", "/nonexistent/x"]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("between 1 and 256") || stderr.contains("from 1 to 256"), "{stderr}");
        assert!(stderr.contains("core(s)"), "{stderr}");
    }
}

/// A baseline's `n` is bounded as the file is read (line and column), so
/// `n: 1000000000` is bad input at once instead of a Student-t inverse
/// that never ends.
#[test]
fn a_baseline_with_a_huge_n_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let model = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/seed/reference.ron");
    let exp = dir.path().join("e.ron");
    std::fs::write(&exp, format!(r#"Experiment(models: ["{}"], duration: "10s", replications: 2)"#, model.display()))
        .unwrap();
    let baseline = dir.path().join("b.json");
    std::fs::write(
        &baseline,
        r#"{"cachesim_version": "0", "experiment": "e", "points": [{"model": "reference", "params": [],
  "model_fingerprint": "", "trace_fingerprint": "",
  "metrics": {"requests.ok": {"mean": 1.0, "ci95": 0.1, "n": 1000000000}}}]}"#,
    )
    .unwrap();
    let out = cachesim_cmd()
        .arg("check")
        .arg(&exp)
        .arg("--baseline")
        .arg(&baseline)
        .current_dir(dir.path())
        .timeout(std::time::Duration::from_secs(30))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("line 3") && stderr.contains("between 0 and 1000000"), "{stderr}");
}

/// Every source of events is estimated before a run starts, and a run the
/// estimate refuses exits 2 at once, placed at the field that makes it
/// big, naming the budget and `--max-events`: background refreshes with a
/// 2 ns TTL, Redis lock waiters polling every 1 ms through a 1 h fetch,
/// token-bucket retries every 1 ms for 1000 days, a thousand closed-loop
/// users thinking 1 ms whose requests are refused at once, and 64 replicas
/// applying a write every millisecond for 500 days.
#[test]
fn every_event_source_is_estimated_before_the_run() {
    let cases = [
        (
            r#"Model(workload: (rate: 10, duration: "10m"),
    cache: (ttl: "2ns", refresh: Background(ahead: "1ns")), backend: (latency: Constant("1ns")))"#,
            "background refreshes",
            2,
        ),
        (
            r#"Model(workload: (rate: 100, duration: "10m"),
    redis: (ttl: "5m", lock: (sleep: "1ms")), backend: (latency: Constant("1h")))"#,
            "lock waiters",
            2,
        ),
        (
            r#"Model(workload: (rate: 100, duration: "10m"), backend: (latency: Constant("1s"),
    rate_limit: (rate: 1, burst: 1, when_empty: Retry, retry: (initial: "1ms", multiplier: 1, max_delay: "1ms", deadline: "1000d"))))"#,
            "token bucket",
            2,
        ),
        (
            r#"Model(workload: (rate: 1, duration: "10m",
    closed: (users: 1000, think: Constant("1ms"))), client_limit: (limit: 1, per: "1h"), backend: (latency: Constant("1s")))"#,
            "fewer users",
            2,
        ),
        (
            r#"Model(workload: (rate: 1, duration: "500d"), backend: (latency: Constant("1s")),
    db: (pool_size: 5, query: Constant("1ms"), writes: Every("1ms"), replicas: (count: 64, lag: Constant("10ms"), read_share: 1.0)))"#,
            "writes × replicas",
            2,
        ),
    ];
    for (text, expect, line) in cases {
        let started = std::time::Instant::now();
        let (out, stderr) = run_text("m.ron", text, &[]);
        assert_eq!(out.status.code(), Some(2), "{expect}: {stderr}");
        assert!(started.elapsed().as_secs() < 10, "{expect}: refused at once");
        assert!(
            stderr.contains(expect)
                && (expect == "writes × replicas"
                    || stderr.contains("--max-events") && stderr.contains("3.00e8-event budget")),
            "{stderr}"
        );
        assert!(stderr.contains(&format!("m.ron:{line}:")), "placed at its field: {stderr}");
    }
}

/// A replica keeps only the writes it has not applied: 64 replicas of a
/// write every millisecond, queried once after 10 minutes, hold at most
/// the writes of their 10 ms lag, and the run ends at once. Too many
/// writes in flight (write rate × lag × replicas) are refused up front.
#[test]
fn replicas_buffer_only_the_writes_they_have_not_applied() {
    let text = |lag: &str| {
        format!(
            r#"Model(workload: (rate: 0.002, arrivals: Constant, duration: "10m", drain: "0s"), backend: (latency: Constant("1ms")),
    db: (pool_size: 5, query: Constant("1ms"), writes: Every("1ms"), replicas: (count: 64, lag: Constant("{lag}"), read_share: 1.0)))"#
        )
    };
    let spec = parse_model(&text("10ms"), "t", "t").unwrap();
    let started = std::time::Instant::now();
    let report = simulate(&spec, 1, 0, RunOptions::default());
    assert_eq!(report.requests.arrived, 1);
    assert!(started.elapsed().as_secs() < 20);
    let (out, stderr) = run_text("r.ron", &text("1h"), &[]);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not yet applied") && stderr.contains("r.ron:2:"), "{stderr}");
}

/// A limit search's `path` is the experiment's field: an unknown one is
/// reported there, not as a `--set`.
#[test]
fn a_bad_limit_path_is_placed_in_the_experiment() {
    let dir = tempfile::tempdir().unwrap();
    let model = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/seed/reference.ron");
    let exp = dir.path().join("l.ron");
    std::fs::write(
        &exp,
        format!(
            "Experiment(models: [\"{}\"], replications: 2,\n  limit: (path: \"workload.nosuch\", high: 100))",
            model.display()
        ),
    )
    .unwrap();
    let out = cachesim_cmd().arg("limit").arg(&exp).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("l.ron:2:") && stderr.contains("limit.path") && !stderr.contains("--set"), "{stderr}");
}

/// A grid of more than 10,000 points (a 20,001-value axis, well under the
/// runs limit) is refused at once, placed at the grid, instead of writing a
/// summary.json of hundreds of megabytes.
#[test]
fn more_grid_points_than_the_cap_are_refused_up_front() {
    let dir = tempfile::tempdir().unwrap();
    let model = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/seed/reference.ron");
    let values: Vec<String> = (1..=20_001).map(|i| i.to_string()).collect();
    let exp = dir.path().join("points.ron");
    std::fs::write(
        &exp,
        format!(
            "Experiment(models: [\"{}\"], replications: 1, duration: \"1s\",\n  grid: Cartesian([(path: \"workload.rate\", values: [{}])]))",
            model.display(),
            values.join(", ")
        ),
    )
    .unwrap();
    let out = cachesim_cmd()
        .arg("sweep")
        .arg(&exp)
        .arg("--out")
        .arg(dir.path().join("o"))
        .timeout(std::time::Duration::from_secs(30))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("20001 points") && stderr.contains("the limit is 10000") && stderr.contains("points.ron:2:"),
        "{stderr}"
    );
    assert!(!dir.path().join("o").exists());
}

/// The cases `hostile_values_in_well_formed_models_never_panic_or_run_away`
/// found: work one event does that no event budget stops, refused by
/// `check_work` (so even under `--max-events`), at once, with exit 2.
fn refused_under_max_events(text: &str, expect: &str) {
    let spec = parse_model(text, "w.ron", "w").unwrap();
    let err = cachesim::sim::guard::check_work(&spec).expect_err("refused whatever the event budget").0;
    assert!(err.contains(expect), "{err}");
    let started = std::time::Instant::now();
    let (out, stderr) = run_text("w.ron", text, &["--max-events", "20000"]);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(expect), "{stderr}");
    assert!(started.elapsed().as_secs() < 10, "refused at once");
}

/// Poisson writes are made as the clock passes them, through the drain
/// too: a billion a second for 1 ns is one write in the duration, but the
/// default 60 s drain would make 6e10 of them in the first event after it
/// (a run of minutes under `--max-events 20000`, before the guard counted
/// the drain).
#[test]
fn poisson_writes_through_the_drain_are_refused_up_front() {
    refused_under_max_events(
        r#"Model(workload: (rate: 1, duration: "1ns", closed: (users: 64, think: Constant("1ns"))),
    db: (pool_size: 64, max_overflow: 64, query: Exponential(mean: "1us"), pool_timeout: "1us"),
    backend: (latency: LogNormal(median: "1us", p99: "1000d"), writes: Poisson(1e9)))"#,
        "6.00e10 backend writes over its duration and drain",
    );
}

/// One request after 1000 quiet days makes every write since in one event:
/// 0.5 a second is 4.3e7 writes (8 bytes each), which the old limit of 1e8
/// let through and which took seconds in a debug build; the history is now
/// held to 1e7.
#[test]
fn a_write_history_one_event_makes_at_once_is_held_to_1e7() {
    refused_under_max_events(
        r#"Model(workload: (rate: 1, duration: "1000d", closed: (users: 1, think: Constant("1000d"))),
    cache: (ttl: "1000d", refresh: Background(ahead: "0s")),
    backend: (latency: LogNormal(median: "1ns", p99: "1000d"), writes: Poisson(0.5)))"#,
        "4.32e7 backend writes",
    );
}

/// A query after ten quiet minutes makes 64 replicas catch up on 600,000
/// writes each in one event: 3.84e7 lag draws in the duration (4.2e7 with
/// the drain), which the old limit of 3e8 let through; now refused.
#[test]
fn replicas_catching_up_in_one_event_are_held_to_3e7_draws() {
    refused_under_max_events(
        r#"Model(workload: (rate: 1, duration: "10m", closed: (users: 1, think: Constant("10m"))),
    db: (pool_size: 1, query: Constant("1ms"), writes: Every("1ms"), replicas: (count: 64, lag: Constant("1s"), read_share: 1.0)),
    backend: (latency: Constant("1ms")))"#,
        "4.22e7 writes in all",
    );
}

/// Well-formed models with hostile values: huge counts, tiny durations,
/// extreme rates, in every part that schedules events or holds memory.
fn arb_hostile_model() -> impl Strategy<Value = String> {
    let rate = prop::sample::select(vec!["0.000001", "0.5", "1000", "1e6", "1e9"]);
    let dur = || prop::sample::select(vec!["1ns", "1us", "1ms", "1s", "10m", "1000d"]);
    let count = || prop::sample::select(vec!["1", "64", "10000"]);
    let part = prop::sample::select(vec![
        r#"cache: (ttl: "{d}", refresh: Background(ahead: "0s")),"#,
        r#"cache: (ttl: "{d}", refresh: Lease(retry: "1ms")),"#,
        r#"redis: (ttl: "{d}", lock: (sleep: "1ms")),"#,
        r#"db: (pool_size: {c}, query: Constant("{d}"), writes: Every("1ms"), replicas: (count: 64, lag: Constant("{d}"), read_share: 1.0)),"#,
        r#"db: (pool_size: {c}, max_overflow: {c}, query: Exponential(mean: "{d}"), pool_timeout: "{d}"),"#,
        r#"response_cache: (keys: 10000000, ttl: "{d}"),"#,
        r#"client_limit: (limit: {c}, per: "{d}", users: 10000000),"#,
        r#"servers: (count: {c}, workers: 1, handler: Constant("{d}")),"#,
    ]);
    let backend = prop::sample::select(vec![
        r#"backend: (latency: Constant("{d}"))"#,
        r#"backend: (latency: Constant("{d}"), rate_limit: (rate: 0.001, burst: 1, when_empty: Retry, retry: (initial: "1ms", multiplier: 1, max_delay: "1ms", deadline: "1000d")))"#,
        r#"backend: (latency: LogNormal(median: "{d}", p99: "1000d"), writes: Poisson({r}))"#,
    ]);
    let workload = prop::sample::select(vec![
        r#"workload: (rate: {r}, duration: "{d}"),"#,
        r#"workload: (rate: 1, duration: "{d}", closed: (users: {c}, think: Constant("{d}"))),"#,
        r#"workload: (rate: {r}, duration: "{d}", client: (timeout: "1ms", retries: 100)),"#,
    ]);
    (workload, part, backend, rate, dur(), dur(), dur(), count()).prop_map(|(w, p, b, r, d1, d2, d3, c)| {
        let fill = |t: &str, d: &str| t.replace("{d}", d).replace("{r}", r).replace("{c}", c);
        format!("Model({} {} {})", fill(w, d1), fill(p, d2), fill(b, d3))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    /// Load, guard and a run with a small event budget never panic, and
    /// never take long: what the guard lets through at the default budget
    /// and anything at `--max-events 20000`.
    #[test]
    fn hostile_values_in_well_formed_models_never_panic_or_run_away(text in arb_hostile_model(), seed in 0u64..100) {
        let Ok(spec) = parse_model(&text, "h.ron", "h") else { return Ok(()) };
        let refused = cachesim::sim::guard::check_size(&spec, None).is_err();
        // Work one event can do (replicas catching up, write histories) is
        // refused even under --max-events.
        if cachesim::sim::guard::check_work(&spec).is_err() {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let report = simulate(&spec, seed, 0, RunOptions { max_events: 20_000, ..RunOptions::default() });
        prop_assert!(report.engine.events <= 20_000);
        prop_assert!(started.elapsed().as_secs() < 10, "{} took {:?} (refused by the guard: {refused})", text, started.elapsed());
    }
}
