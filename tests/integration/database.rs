//! The database after the handler: PgBouncer's server connections against
//! Erlang C, `query_wait_timeout`, the connection budget PgBouncer moves,
//! read-replica routing and replication-lag staleness (DOMAIN.md A3, B).
//!
//! Every model here has a warm in-memory cache with a one-hour TTL and a
//! constant 1 ms handler, so no request fetches and the handler only shifts
//! each arrival by 1 ms (a shifted Poisson process is Poisson): the query is
//! the only thing that matters. Statistical tests assert that the 95%
//! Student-t interval over independent replications (fixed base seed,
//! replication index 0..n) covers the analytic value, with no widening
//! unless a stated, justified allowance says otherwise.

use crate::support::*;

/// A single server (or `servers`) with a warm 1 h cache and a 1 ms handler,
/// the given workload and database.
fn db_model(workload: &str, servers: &str, db: &str) -> String {
    format!(
        r#"Model(
            workload: ({workload}),
            servers: ({servers}handler: Constant("1ms")),
            cache: (ttl: "1h", start: Warm),
            backend: (latency: Constant("1s")),
            db: ({db}),
        )"#
    )
}

/// (1) PgBouncer's server connections are an M/M/c queue. λ = 40/s Poisson
/// queries of Exp(mean 0.1 s) (μ = 10/s) share c = `default_pool_size` = 5
/// server connections: a = λ/μ = 4. The app pools never bind: 2 servers × 2
/// workers, each with 50 + 0 connections (a query holds its pool connection
/// while it waits in PgBouncer too, so a pool binds only with ≥ 50 of the
/// worker's queries in the system; for the whole M/M/5 at ρ = 0.8 already
/// P(N ≥ 50) = C·ρ^45 ≈ 2.4e-5), and max_client_conn 1000 ≥ 4 × 50. The 120 s
/// query_wait_timeout is never reached (P ≈ C·e^{−(cμ−λ)·120} = C·e^{−1200}).
/// Erlang C: P(wait) = C(5, 4) = 0.554113 and Wq = C/(cμ − λ) = C/10 =
/// 0.0554113 s, the mean over all queries (zeros included), which is the
/// report's mean wait of the waiting queries × bouncer_waits / queries.
#[test]
fn pgbouncer_server_connections_are_an_mmc_queue() {
    let spec = model(&db_model(
        r#"rate: 40, duration: "440s", warmup: "40s""#,
        "count: 2, workers: 2, ",
        r#"pool_size: 50, max_overflow: 0, query: Exponential(mean: "100ms"),
           pgbouncer: (default_pool_size: 5, max_client_conn: 1000)"#,
    ));
    let runs = replicate(&spec, 101, 20);
    let c = erlang_c(5, 4.0);
    let p_wait: Vec<f64> = runs.iter().map(|r| r.db.bouncer_waits as f64 / r.db.queries as f64).collect();
    let wq: Vec<f64> = runs
        .iter()
        .map(|r| r.db.bouncer_wait_mean_s.unwrap() * r.db.bouncer_waits as f64 / r.db.queries as f64)
        .collect();
    assert_covers("PgBouncer Erlang C P(wait)", &p_wait, c, 0.0);
    assert_covers("PgBouncer Erlang C Wq", &wq, c / (50.0 - 40.0), 0.0);
    for r in &runs {
        assert_eq!(r.requests.failed, 0, "{:?}", r.requests.errors);
        assert_eq!((r.db.bouncer_timeouts, r.pool.timeouts), (0, 0));
        // PostgreSQL itself sees PgBouncer's server connections only.
        assert_eq!(r.pool.db_peak_connections, 5);
    }
}

/// (2a) `query_wait_timeout` under a deterministic overload. Constant
/// arrivals every g = 1/30 s, a Constant 100 ms query (S), c = 2 server
/// connections (capacity 20/s < 30/s), timeout τ = 80 ms.
///
/// Oracle: the server connections are never idle. Suppose one frees at t
/// and finds no waiter. The last c arrivals lie in (t − c·g, t) with
/// c·g = 66.7 ms ≤ τ, so none has timed out: each is running, having started
/// in (t − c·g, t), and still runs at t⁻ since S > c·g. With the freeing
/// connection, busy since t − S, that is c + 1 queries at once on c
/// connections: impossible. So each connection starts a query every S, and
/// the queries started in the measured 100 s are c·100/S = 2000 ± c (one
/// partial query per connection). Of those, at most ⌈τ/g⌉ = 3 belong to
/// requests that arrived before the warm-up ended (waiting at 10 s), and at
/// most 3 counted requests still waiting when arrivals stop start later.
/// Every other counted request fails with `query_wait_timeout`, so
/// failures = arrived − 2000 within ±(c + 3) = ±5.
#[test]
fn an_overloaded_pgbouncer_cancels_queries_at_query_wait_timeout() {
    let spec = model(&db_model(
        r#"arrivals: Constant, rate: 30, duration: "110s", warmup: "10s""#,
        "",
        r#"query: Constant("100ms"),
           pgbouncer: (default_pool_size: 2, query_wait_timeout: "80ms")"#,
    ));
    let r = replicate(&spec, 102, 1).remove(0);
    let failed = r.requests.errors["query_wait_timeout"];
    eprintln!("query_wait_timeout: {failed} of {} arrived, db {:?}", r.requests.arrived, r.db);
    assert_eq!(failed, r.db.bouncer_timeouts, "the cause and PgBouncer's own count disagree");
    assert_eq!(r.requests.failed, failed, "other failures: {:?}", r.requests.errors);
    let expected = r.requests.arrived as f64 - 2.0 * 100.0 / 0.1;
    assert!(
        (failed as f64 - expected).abs() <= 5.0,
        "{failed} query_wait_timeout failures, expected {expected} ± 5 (arrived {})",
        r.requests.arrived
    );
    assert_eq!(r.db.queries + failed, r.requests.arrived, "a counted request neither ran nor failed");
    // Those that did wait got a connection within τ.
    assert!(r.db.bouncer_waits > 0 && r.db.bouncer_wait_mean_s.unwrap() <= 0.080);
    assert_eq!(r.pool.db_peak_connections, 2);
}

/// (2b) No overload and the default 120 s timeout: M/M/2 at λ = 10/s,
/// Exp(0.1 s) queries (a = 1), so queries do wait (C(2, 1) = 1/3 of them)
/// but P(wait > 120 s) = C·e^{−(cμ−λ)·120} = e^{−1200}/3: no timeouts.
#[test]
fn a_pgbouncer_within_capacity_cancels_nothing() {
    let spec = model(&db_model(
        r#"rate: 10, duration: "220s", warmup: "20s""#,
        "",
        r#"query: Exponential(mean: "100ms"), pgbouncer: (default_pool_size: 2)"#,
    ));
    for r in replicate(&spec, 103, 3) {
        assert!(r.db.bouncer_waits > 0, "nothing waited: the test does not exercise the queue");
        assert_eq!(r.db.bouncer_timeouts, 0);
        assert_eq!(r.requests.errors["query_wait_timeout"], 0);
        assert_eq!(r.requests.failed, 0, "{:?}", r.requests.errors);
    }
}

/// (3) PgBouncer moves the connection budget (DOMAIN.md B). 3 servers × 4
/// workers × (5 + 10) = 180 pool connections may be asked for, past
/// PostgreSQL's 100 − 3 reserved = 97. The load: a spike of Constant arrivals
/// at 5000/s for 0.1 s (500 requests, ~42 per worker) whose 100 ms queries
/// all overlap, so every worker's pool wants its 15 connections at once:
/// 180 > 97, and directly the database refuses the excess
/// (`too_many_connections`) and never has more than 97 open.
///
/// Through PgBouncer (max_client_conn 1000 ≥ 180, default_pool_size 20) no
/// pool connection is refused; PostgreSQL sees exactly the 20 server
/// connections (the spike has ≥ 20 queries at once), and the 500 queries
/// drain through them at 200/s in about 2.5 s, far below both pool_timeout
/// (30 s) and query_wait_timeout (120 s): nothing fails at all.
#[test]
fn pgbouncer_moves_the_connection_budget() {
    let workload = r#"arrivals: Constant, rate: 10, duration: "40s", warmup: "10s",
        phases: [Step(at: "20s", rate: 5000), Step(at: "20100ms", rate: 10)]"#;
    let servers = "count: 3, workers: 4, ";
    let direct = model(&db_model(workload, servers, r#"query: Constant("100ms")"#));
    let r = replicate(&direct, 104, 1).remove(0);
    eprintln!("direct: errors {:?}, db peak {}", r.requests.errors, r.pool.db_peak_connections);
    assert!(r.requests.errors["too_many_connections"] > 0, "{:?}", r.requests.errors);
    assert_eq!(r.pool.db_peak_connections, 97);

    let bounced = model(&db_model(
        workload,
        servers,
        r#"query: Constant("100ms"), pgbouncer: (max_client_conn: 1000, default_pool_size: 20)"#,
    ));
    let r = replicate(&bounced, 104, 1).remove(0);
    eprintln!("pgbouncer: errors {:?}, db peak {}, db {:?}", r.requests.errors, r.pool.db_peak_connections, r.db);
    assert_eq!(r.requests.errors["too_many_connections"], 0);
    assert_eq!(r.requests.failed, 0, "{:?}", r.requests.errors);
    assert_eq!(r.pool.db_peak_connections, 20);
    assert!(r.db.bouncer_waits > 0);
}

/// The replica model for the staleness tests: every query is a read on the
/// one replica (read_share 1), Poisson reads at 50/s for 200 measured
/// seconds (~10,000 per replication), after a warm-up longer than the lag.
fn replica_model(lag: &str, writes: &str) -> String {
    db_model(
        r#"rate: 50, duration: "220s", warmup: "20s""#,
        "",
        &format!(r#"query: Constant("1ms"), replicas: (count: 1, lag: {lag}, read_share: 1.0), writes: {writes}"#),
    )
}

/// (4) Poisson(λw = 1/s) writes and a Constant lag L = 0.5 s. With a
/// constant lag, write k applies at w_k + L ≥ w_{k−1} + L, so in-order
/// application is independent application. A read at t is stale iff a write
/// fell in (t − L, t]: the reads are Poisson and independent of the writes
/// (PASTA), so stale_read_share = 1 − e^{−λw·L} = 0.393469.
///
/// The staleness of a stale read is how long its version has been out of
/// date: t minus the first write in (t − L, t]. That write is t − L + X with
/// X ~ Exp(λw) conditioned on X < L, so the mean is
/// L − E[X | X < L] = L − 1/λw + L·e^{−λw·L}/(1 − e^{−λw·L}) = 0.270750 s;
/// it is always below L. (The per-replication mean is a ratio of sums whose
/// reads cluster around ~200 writes; its bias is O(1/200) of the spread,
/// and over 200 replications the mean of ratios and the pooled ratio differ
/// by 0.00005 s, a tenth of that run's interval. Cross-checks: 200
/// replications of 200 s gave 0.27070 ± 0.00050 s, and 40 of 2000 s
/// 0.27067 ± 0.00033 s.)
#[test]
fn constant_lag_and_poisson_writes_give_exponential_staleness() {
    let spec = model(&replica_model(r#"Constant("500ms")"#, "Poisson(1.0)"));
    let runs = replicate(&spec, 115, 20);
    let (lw, l) = (1.0f64, 0.5f64);
    let p = 1.0 - (-lw * l).exp();
    let share: Vec<f64> = runs.iter().map(|r| r.db.stale_read_share).collect();
    assert_covers("stale_read_share, Poisson writes, constant lag", &share, p, 0.0);
    let age: Vec<f64> = runs.iter().map(|r| r.db.stale_lag_mean_s.unwrap()).collect();
    let expected_age = l - 1.0 / lw + l * (-lw * l).exp() / p;
    assert_covers("stale_lag_mean_s, Poisson writes, constant lag", &age, expected_age, 0.0);
    for r in &runs {
        assert_eq!(r.db.replica_reads, r.db.queries);
        assert!(r.db.stale_lag_max_s.unwrap() < l, "a read was stale for {:?} s ≥ L", r.db.stale_lag_max_s);
    }
}

/// (5) Every(W = 2 s) writes and a Constant lag L = 0.5 s < W: write k at kW
/// applies at kW + L before write k + 1, so a read at t is stale iff
/// t mod W < L. The measured 200 s are 100 whole periods, so by PASTA the
/// stale share is L/W = 0.25 exactly in expectation, and a stale read's age
/// t − kW is uniform on [0, L): mean L/2 = 0.25 s, always below L.
#[test]
fn periodic_writes_are_stale_for_lag_over_period_of_the_time() {
    let spec = model(&replica_model(r#"Constant("500ms")"#, r#"Every("2s")"#));
    let runs = replicate(&spec, 106, 20);
    let share: Vec<f64> = runs.iter().map(|r| r.db.stale_read_share).collect();
    assert_covers("stale_read_share, Every(2s) writes, 0.5 s lag", &share, 0.5 / 2.0, 0.0);
    let age: Vec<f64> = runs.iter().map(|r| r.db.stale_lag_mean_s.unwrap()).collect();
    assert_covers("stale_lag_mean_s, Every(2s) writes, 0.5 s lag", &age, 0.5 / 2.0, 0.0);
    assert!(runs.iter().all(|r| r.db.stale_lag_max_s.unwrap() < 0.5));
}

/// (6) read_share 0.5 with two replicas: each query goes to a replica with
/// probability 1/2, independently, so over all N queries of 10 replications
/// the replica reads are Binomial(N, 1/2): the pooled share must lie within
/// 1.96·√(1/4N) of 0.5 (95%). The data never changes, so nothing is stale.
#[test]
fn read_share_sends_that_share_of_queries_to_the_replicas() {
    let spec = model(&db_model(
        r#"rate: 100, duration: "110s", warmup: "10s""#,
        "",
        r#"query: Constant("1ms"), replicas: (count: 2, read_share: 0.5)"#,
    ));
    let runs = replicate(&spec, 107, 10);
    let n: u64 = runs.iter().map(|r| r.db.queries).sum();
    let reads: u64 = runs.iter().map(|r| r.db.replica_reads).sum();
    let share = reads as f64 / n as f64;
    let half = 1.96 * (0.25 / n as f64).sqrt();
    eprintln!("replica share: {share:.6} vs 0.5 ± {half:.6} ({n} queries)");
    assert!((share - 0.5).abs() <= half, "replica share {share} of {n} queries, expected 0.5 ± {half}");
    assert!(runs.iter().all(|r| r.db.stale_reads == 0 && r.db.stale_lag_mean_s.is_none()));
}

/// (7) With no replicas every query runs on the primary, which is always
/// current: no replica reads and no stale reads, however often the data
/// changes.
#[test]
fn without_replicas_nothing_is_read_stale() {
    let spec = model(&db_model(
        r#"rate: 50, duration: "60s", warmup: "10s""#,
        "",
        r#"query: Constant("1ms"), writes: Poisson(5.0)"#,
    ));
    let r = replicate(&spec, 108, 1).remove(0);
    assert!(r.db.queries > 2000, "{} queries", r.db.queries);
    assert_eq!((r.db.replica_reads, r.db.stale_reads), (0, 0));
    assert_eq!(r.db.stale_read_share, 0.0);
    assert_eq!(r.db.stale_lag_mean_s, None);
}

/// Runs `cachesim run` on `db` written into a model file.
fn run_db_model(db: &str) -> std::process::Output {
    run_model_text("db.ron", &db_model(r#"rate: 10, duration: "10s""#, "", db), &[]).0
}

/// (8) Bad database settings are bad input: exit code 2, nothing on stdout,
/// no panic, and stderr names the field. PgBouncer's default_pool_size can
/// be at most the 100 − 3 = 97 usable PostgreSQL connections (97 runs, 98
/// does not); a read share is a probability (1.5 is not).
#[test]
fn bad_database_settings_are_rejected_naming_the_field() {
    let out = run_db_model(r#"query: Constant("1ms"), pgbouncer: (default_pool_size: 97)"#);
    assert_eq!(out.status.code(), Some(0), "default_pool_size 97 is the limit and valid");
    for (db, field) in [
        (r#"query: Constant("1ms"), pgbouncer: (default_pool_size: 98)"#, "db.pgbouncer.default_pool_size"),
        (r#"query: Constant("1ms"), replicas: (read_share: 1.5)"#, "db.replicas.read_share"),
    ] {
        assert_rejected(&run_db_model(db), field);
    }
}

/// PgBouncer's `query_wait_timeout = 0` disables the timeout. Two server
/// connections, 20 ms queries, 90 queries/s (ρ = 0.9, M/D/2): many queries
/// wait (Erlang-C-like, well over a third) and some wait past 50 ms, so a
/// 50 ms timeout cancels queries while 0 cancels none. The app pool (50
/// connections) never binds.
#[test]
fn a_zero_query_wait_timeout_waits_forever() {
    let spec = model(
        r#"Model(
            workload: (rate: 90, duration: "60s"),
            servers: (handler: Constant("1ms")),
            backend: (latency: Constant("1ms")),
            db: (pool_size: 50, max_overflow: 0, query: Constant("20ms"),
                 pgbouncer: (default_pool_size: 2, query_wait_timeout: "0s")),
        )"#,
    );
    let r = replicate(&spec, 109, 1).remove(0);
    assert_eq!(r.requests.failed, 0);
    assert_eq!(r.db.bouncer_timeouts, 0);
    assert!(r.db.bouncer_waits > r.db.queries / 3, "{} of {} waited", r.db.bouncer_waits, r.db.queries);
    let short = replicate(&with(&spec, &[r#"db.pgbouncer.query_wait_timeout="50ms""#]), 109, 1).remove(0);
    assert!(short.db.bouncer_timeouts > 0);
    assert_eq!(short.requests.errors["query_wait_timeout"], short.db.bouncer_timeouts);
}
