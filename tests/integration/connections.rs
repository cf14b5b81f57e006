//! The pool's physical connections: opening costs time, and who gets a
//! returned connection (SQLAlchemy's async pool over `asyncio.Queue`).
//! Arrivals are replayed from constructed traces, so every number here is
//! exact.

use cachesim::config::{ModelSpec, parse_model_in};
use cachesim::sim::{RunOptions, simulate};

/// A model whose requests arrive at `instants` (seconds), each running one
/// 100 ms query through a pool of `db`.
fn burst_model(instants: &[f64], db: &str) -> (ModelSpec, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let lines: String = instants.iter().map(|t| format!("{t}\n")).collect();
    std::fs::write(dir.path().join("arrivals.txt"), lines).unwrap();
    let text = format!(
        r#"Model(
            workload: (arrivals: Trace(file: "arrivals.txt"), rate: 1, duration: "100s"),
            cache: (ttl: "1000d", start: Warm),
            backend: (latency: Constant("1s")),
            db: (query: Constant("100ms"), {db}),
        )"#
    );
    (parse_model_in(&text, "<test>", "burst", dir.path()).unwrap(), dir)
}

/// Five bursts of 8 simultaneous requests, 1 s apart, through a pool of
/// 5 + 10 whose connections take 5 ms to open. The pool opens lazily and
/// keeps at most 5 idle, so each burst raises in-use from 0 to 8 and opens
/// one connection per level it crosses above the idle ones: 8 in the first
/// burst (5 + the upcrossings of levels 6, 7, 8), 3 in each later one, 20
/// in all. Each opening checkout waits exactly 5 ms, so the mean pool wait
/// over the 40 checkouts is 20 × 5 ms / 40 = 2.5 ms.
#[test]
fn opens_equal_the_upcrossings_above_the_idle_connections_and_add_their_connect_time() {
    let instants: Vec<f64> = (0..5).flat_map(|b| std::iter::repeat_n(f64::from(b), 8)).collect();
    let (spec, _dir) = burst_model(&instants, r#"pool_size: 5, max_overflow: 10, connect: Constant("5ms")"#);
    let r = simulate(&spec, 1, 0, RunOptions::default());
    assert_eq!(r.requests.ok, 40);
    assert_eq!(r.pool.connections_opened, 20);
    assert!((r.pool.connect_s.mean.unwrap() - 0.005).abs() < 1e-12, "{:?}", r.pool.connect_s);
    assert!((r.pool.wait_mean_s.unwrap() - 0.0025).abs() < 1e-9, "pool wait {:?}", r.pool.wait_mean_s);
    assert!((r.latency_s.mean.unwrap() - 0.1025).abs() < 1e-9, "latency {:?}", r.latency_s.mean);
    assert_eq!(r.pool.db_peak_connections, 8);
}

/// One connection; three requests at 0 s and one at 0.1 s, when the first
/// query returns its connection. `Barging` (SQLAlchemy's async pool): the
/// return wakes the oldest waiter, but the newcomer's checkout is already
/// due at that instant and takes the connection; the woken waiter queues
/// again behind the third. Service order 0, 3, 2, 1: waits 0, 0, 0.2, 0.3.
/// `Fifo`: order 0, 1, 2, 3, waits 0, 0.1, 0.2, 0.2.
#[test]
fn a_returned_connection_goes_to_a_newcomer_before_the_woken_waiter_unless_fifo() {
    let instants = [0.0, 0.0, 0.0, 0.1];
    let pool = r#"pool_size: 1, max_overflow: 0, connect: Constant("0s")"#;
    let (barging, _a) = burst_model(&instants, pool);
    let (fifo, _b) = burst_model(&instants, &format!("{pool}, fairness: Fifo"));
    let b = simulate(&barging, 1, 0, RunOptions::default());
    let f = simulate(&fifo, 1, 0, RunOptions::default());
    // Means and maxima are exact; percentiles hold 3 significant digits.
    let close = |a: Option<f64>, b: f64| (a.unwrap() - b).abs() <= 0.001 * b;
    assert!(close(b.pool.wait_p99_s, 0.3) && close(b.latency_s.max, 0.4), "barging {:?} {:?}", b.pool, b.latency_s);
    assert!(close(f.pool.wait_p99_s, 0.2) && close(f.latency_s.max, 0.3), "fifo {:?} {:?}", f.pool, f.latency_s);
    // The same total work either way.
    assert!(close(b.pool.wait_mean_s, 0.5 / 4.0) && close(f.pool.wait_mean_s, 0.5 / 4.0));
}
