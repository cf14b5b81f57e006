//! The engine's clock on models with timers: a cancelled timer (a pool or
//! PgBouncer wait that was served in time) never moves the clock, so a run
//! ends at its last real event and every time average (in flight,
//! utilisation, divergence share) is taken over the right span.
//!
//! Oracle: Little's law, L = λW, with L the reported time-average number in
//! the system, λ the run's arrivals over its arrival window and W the mean time in the
//! system of every request (`requests.sojourn_mean_s`, failures included).
//! n = 10 replications per model; the 95% Student-t interval of L − λW must
//! cover 0, widened by the stated end effect: the run's span outlasts the
//! arrivals by the last request's remaining sojourn (asserted below `tail`),
//! which inflates the span by (span − duration)/duration, so the allowance is
//! λW·(span − duration)/duration, the largest over the replications.
//!
//! Each run also checks the sample-path identity L·span = Σ sojourns (exact,
//! with no warm-up and everything drained) and that the span ends within
//! `tail` of the last arrival, not at a cancelled timer's time.

use crate::support::*;
use cachesim::metrics::RunReport;

const RUNS: u64 = 10;

fn check_little(what: &str, spec: &cachesim::config::ModelSpec, seed: u64, tail_s: f64) -> Vec<RunReport> {
    let duration = spec.workload.duration.nanos() as f64 / 1e9;
    assert_eq!(spec.workload.warmup.nanos(), 0, "the identity below needs no warm-up");
    let runs = replicate(spec, seed, RUNS);
    let mut diffs = Vec::new();
    let mut bias = 0.0f64;
    for r in &runs {
        let (l, w, span) = (r.requests.in_flight_mean, r.requests.sojourn_mean_s, r.engine.simulated_s);
        let rate = r.requests.arrived as f64 / duration;
        assert_eq!(r.requests.in_flight_at_end, 0, "{what}: every request drained");
        assert!(
            span <= duration + tail_s,
            "{what}: the run ends at {span} s, more than {tail_s} s after the last arrival at {duration} s"
        );
        let area = r.requests.arrived as f64 * w;
        assert!((l * span - area).abs() <= 1e-9 * area, "{what}: L·span = {} but Σ sojourns = {area}", l * span);
        diffs.push(l - rate * w);
        bias = bias.max(rate * w * (span - duration).max(0.0) / duration);
    }
    assert_covers(&format!("{what}: L − λW"), &diffs, 0.0, bias);
    runs
}

/// The example: the locked reference at 500 req/s schedules a 30 s
/// pool timeout for every checkout that waits; almost all are cancelled. The
/// longest sojourn is a fetch's (LogNormal, p99 2 s) plus the pool: 10 s bounds it.
#[test]
fn littles_law_holds_with_pool_timeouts_cancelled() {
    let spec = with(
        &cachesim::builtin::reference_pair().unwrap().1,
        &[&["workload.rate=500", "workload.duration=120s", "workload.warmup=0s"][..], &PROCESS_OFF].concat(),
    );
    let runs = check_little("pool timeouts", &spec, 301, 10.0);
    assert!(runs.iter().all(|r| r.pool.wait_probability > 0.0), "the pool made requests wait, so timers were set");
}

/// PgBouncer with its default 120 s `query_wait_timeout`: every query that
/// waits for one of the 4 server connections sets a timer that is cancelled
/// when a connection frees. (At λ = 150/s and 20 ms queries, a = 3 of 4.)
#[test]
fn littles_law_holds_with_pgbouncer_waits_cancelled() {
    let spec = with(
        &cachesim::builtin::reference_pair().unwrap().1,
        &[
            &[
                "workload.rate=150",
                "workload.duration=120s",
                "workload.warmup=0s",
                "db.pgbouncer=(default_pool_size: 4, query_wait_timeout: \"120s\")",
            ][..],
            &PROCESS_OFF,
        ]
        .concat(),
    );
    let runs = check_little("pgbouncer waits", &spec, 302, 10.0);
    assert!(runs.iter().all(|r| r.requests.errors["query_wait_timeout"] == 0), "no PgBouncer timer fired");
}

/// The note's Redis lock (lease 10 s, polling 0.1 s, blocking timeout 5 s):
/// waiters poll and give up; a 13 s fetch bounds the longest sojourn (with
/// the lease takeover, 2 × 13 s + 5 s).
#[test]
fn littles_law_holds_with_the_redis_lock() {
    let spec = with(
        &model(include_str!("../../models/seed/redis_locked.ron")),
        &["workload.rate=50", "workload.duration=120s", "workload.warmup=0s"],
    );
    check_little("redis lock", &spec, 303, 31.0);
}
