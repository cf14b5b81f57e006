//! The pool's physical connections: opening costs time, and who gets a
//! returned connection (SQLAlchemy's async pool over `asyncio.Queue`).
//! Arrivals are replayed from constructed traces, so every number here is
//! exact.

use cachesim::config::{ModelSpec, parse_model_in};
use cachesim::sim::{RunOptions, simulate};

/// A model whose requests arrive at `instants` (seconds), each running one
/// 100 ms query through a pool of `db`.
fn burst_model(instants: &[f64], db: &str) -> (ModelSpec, tempfile::TempDir) {
    let body = format!(
        r#"cache: (ttl: "1000d", start: Warm), backend: (latency: Constant("1s")),
           db: (query: Constant("100ms"), {db})"#
    );
    trace_model(instants, "100s", &body)
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

/// A model whose requests arrive at `instants` (seconds) over `duration`,
/// with `body` as the rest of the model.
fn trace_model(instants: &[f64], duration: &str, body: &str) -> (ModelSpec, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let lines: String = instants.iter().map(|t| format!("{t}\n")).collect();
    std::fs::write(dir.path().join("arrivals.txt"), lines).unwrap();
    let text =
        format!(r#"Model(workload: (arrivals: Trace(file: "arrivals.txt"), rate: 1, duration: "{duration}"), {body})"#);
    (parse_model_in(&text, "<test>", "trace", dir.path()).unwrap(), dir)
}

/// PgBouncer with 2 server connections that take 10 ms each to open, four
/// 100 ms queries at 0 s and one at 700 s. PgBouncer opens one server
/// connection at a time while queries wait: the first is ready at 10 ms
/// (query 1 runs), the second at 20 ms (query 2); queries 3 and 4 take
/// them as 1 and 2 return, at 110 and 120 ms. Both then sit idle from 210
/// and 220 ms, past the 600 s `server_idle_timeout` by 700 s, so query 5
/// waits 10 ms for a third opening. Waits 10, 20, 110, 120, 10 ms: mean
/// 54 ms. Without the idle timeout (`"0s"`) the fifth query finds one idle:
/// two opened, four waits averaging 65 ms.
#[test]
fn pgbouncer_opens_server_connections_one_at_a_time_and_closes_idle_ones_after_the_timeout() {
    let instants = [0.0, 0.0, 0.0, 0.0, 700.0];
    let body = |idle: &str| {
        format!(
            r#"cache: (ttl: "1000d", start: Warm), backend: (latency: Constant("1s")),
            db: (query: Constant("100ms"), connect: Constant("0s"),
                 pgbouncer: (default_pool_size: 2, server_connect: Constant("10ms"){idle}))"#
        )
    };
    let (timed_out, _a) = trace_model(&instants, "800s", &body(""));
    let (kept, _b) = trace_model(&instants, "800s", &body(r#", server_idle_timeout: "0s""#));
    let t = simulate(&timed_out, 1, 0, RunOptions::default());
    let k = simulate(&kept, 1, 0, RunOptions::default());
    assert_eq!((t.requests.ok, k.requests.ok), (5, 5));
    assert_eq!(t.db.bouncer_connections_opened, 3);
    assert_eq!(k.db.bouncer_connections_opened, 2);
    assert!((t.db.bouncer_connect_s.mean.unwrap() - 0.010).abs() < 1e-12, "{:?}", t.db.bouncer_connect_s);
    assert_eq!((t.db.bouncer_waits, k.db.bouncer_waits), (5, 4));
    assert!((t.db.bouncer_wait_mean_s.unwrap() - 0.054).abs() < 1e-9, "{:?}", t.db.bouncer_wait_mean_s);
    assert!((k.db.bouncer_wait_mean_s.unwrap() - 0.065).abs() < 1e-9, "{:?}", k.db.bouncer_wait_mean_s);
    // PostgreSQL never saw more than the pool's 2 server connections.
    assert_eq!((t.pool.db_peak_connections, k.pool.db_peak_connections), (2, 2));
    assert!((t.latency_s.max.unwrap() - 0.220).abs() < 1e-9, "{:?}", t.latency_s);
}

/// Redis at a constant 2 ms round trip, warm, no in-memory cache: three
/// requests at 0 s and one at 1 s. Each process's pool opens a connection
/// per command in flight beyond its idle ones, and opening costs redis-py's
/// two round trips (TCP, then the pipelined CLIENT SETINFO pair): the first
/// three wait 4 ms + 2 ms, the fourth reuses an idle connection (2 ms).
/// With `max_connections: 2` the third command finds the pool full
/// (`MaxConnectionsError`), goes to the 50 ms backend as when Redis is
/// down, and SETs the value on a connection the first two returned: 52 ms.
#[test]
fn redis_connections_open_per_command_in_flight_cost_two_round_trips_and_stop_at_max_connections() {
    let instants = [0.0, 0.0, 0.0, 1.0];
    let body = |extra: &str| {
        format!(
            r#"redis: (rtt: Constant("2ms"), command_time: Constant("0s"), ttl: "1000d", start: Warm{extra}),
            backend: (latency: Constant("50ms"))"#
        )
    };
    let (open, _a) = trace_model(&instants, "10s", &body(""));
    let (capped, _b) = trace_model(&instants, "10s", &body(", max_connections: 2"));
    let o = simulate(&open, 1, 0, RunOptions::default());
    let c = simulate(&capped, 1, 0, RunOptions::default());
    assert_eq!((o.requests.ok, c.requests.ok), (4, 4));
    assert_eq!((o.redis.connections_opened, o.redis.peak_connections), (3, 3));
    assert!((o.redis.connect_s.mean.unwrap() - 0.004).abs() < 1e-12, "{:?}", o.redis.connect_s);
    assert!((o.latency_s.max.unwrap() - 0.006).abs() < 1e-12, "{:?}", o.latency_s);
    assert!((o.latency_s.mean.unwrap() - 0.005).abs() < 1e-12, "{:?}", o.latency_s);
    assert_eq!(o.backend.calls, 0);
    assert_eq!((c.redis.connections_opened, c.redis.max_connections_errors, c.backend.calls), (2, 1, 1));
    assert!((c.latency_s.max.unwrap() - 0.052).abs() < 1e-12, "{:?}", c.latency_s);
}

/// A command that reaches Redis during an outage fails, and redis-py
/// closes its connection: the request at 0 s opens one, the one at
/// 4.9995 s reuses it and arrives at 5.0005 s, inside the outage (5 s to
/// 6 s); its SETEX after the 50 ms backend fetch opens a second, which
/// fails and closes too, so the request at 10 s must open a third. Never
/// more than one is open at once.
#[test]
fn a_command_failed_by_an_outage_closes_its_connection() {
    let (spec, _dir) = trace_model(
        &[0.0, 4.9995, 10.0],
        "20s",
        r#"redis: (rtt: Constant("1ms"), command_time: Constant("0s"), ttl: "1000d", start: Warm,
                   outages: [(from: "5s", to: "6s")]),
           backend: (latency: Constant("50ms"))"#,
    );
    let r = simulate(&spec, 1, 0, RunOptions::default());
    assert_eq!(r.requests.ok, 3);
    assert_eq!((r.redis.connections_opened, r.redis.peak_connections), (3, 1));
    assert_eq!(r.backend.calls, 1);
}
