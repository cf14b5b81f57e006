//! Breaking points (`cachesim limit`) on models whose answers are known in
//! closed form: deterministic arrivals and service, so every replication is
//! identical and the only tolerance is hdrhistogram's 0.1% resolution.

use std::path::Path;

use cachesim::experiment::{ExperimentSpec, Plan, find_limits, plan_for_model, spike_recovery};
use cachesim::sim::RunOptions;

/// One server, one slot, a constant 100 ms handler (capacity 10/s), evenly
/// spaced arrivals, for 60 s: below 10/s nothing waits; above, request k
/// (arriving at k/r) leaves at 0.1·(k+1), so its latency is
/// 0.1 + k·(0.1 − 1/r), and the 99th percentile over r·60 requests is
/// 0.1 + 0.99·60·(0.1·r − 1). That stays within a 0.5 s bound while
/// r ≤ 10·(1 + 0.4/(0.99·60)) = 10.0673.
fn write_model(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("one_slot.ron");
    std::fs::write(
        &path,
        r#"Model(
            workload: (arrivals: Constant, rate: 5, duration: "60s", drain: "1h"),
            servers: (concurrency: 1, handler: Constant("100ms")),
            cache: (ttl: "1000d", start: Warm),
            backend: (latency: Constant("1s")),
        )"#,
    )
    .unwrap();
    path
}

fn spec(path: &Path) -> ExperimentSpec {
    let mut e = ExperimentSpec::for_model(&path.display().to_string());
    // Every replication is identical, but the p99 is judged on all of them
    // pooled and needs 50 requests beyond it: 50 × 60 s × 2/s × 1% = 60.
    e.seed = 1 + crate::support::seed_offset();
    e.replications = 50;
    e.slo.p99 = Some("500ms".parse().unwrap());
    e.slo.error_rate = Some(0.01);
    e.slo.margin = 0.0;
    e.limit.low = 2.0;
    e.limit.high = 64.0;
    e.limit.tolerance = 0.001;
    e.limit.spike = 0.0;
    e
}

/// The one-slot model's plan with a spike of `spike` × the base held for 60 s.
fn spike_plan(dir: &Path, spike: f64) -> Plan {
    let path = write_model(dir);
    let mut e = spec(&path);
    e.limit.spike = spike;
    e.limit.hold = "60s".parse().unwrap();
    plan_for_model(&path, &[], e).unwrap()
}

/// Runs `cachesim limit` with `args` on an experiment of the one-slot model
/// whose fields after `models` are `fields`: exit code, stdout, stderr.
fn limit_cli(dir: &Path, fields: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let model = write_model(dir);
    let exp = dir.join("l.ron");
    std::fs::write(&exp, format!(r#"Experiment(models: ["{}"], {fields})"#, model.display())).unwrap();
    let out = assert_cmd::cargo::cargo_bin_cmd!("cachesim").arg("limit").arg(&exp).args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_limit_brackets_the_analytic_breaking_point() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_model(dir.path());
    let plan = plan_for_model(&path, &[], spec(&path)).unwrap();
    let results = find_limits(&plan, RunOptions::default(), &|_, _, _| {}).unwrap();
    let r = &results[0];
    let analytic = 10.0 * (1.0 + 0.4 / (0.99 * 60.0));
    let (met, missed) = (r.max_meeting.unwrap(), r.min_failing.unwrap());
    // The bracket is as narrow as asked, and holds the analytic limit up to
    // the p99's 0.1% resolution (which moves the crossing by 0.1% of 0.5 s,
    // i.e. by 0.0005/(0.99·60·0.1) of a request per second, well within).
    assert!(missed / met <= 1.001 + 1e-12, "bracket {met}..{missed} too wide");
    assert!(met <= analytic * 1.0001 && analytic <= missed * 1.0001, "bracket {met}..{missed} misses {analytic}");
    assert!(r.cause.as_deref().is_some_and(|c| c.starts_with("p99 latency")), "{:?}", r.cause);
    // Goodput: a saturated single slot still completes 10/s (everything
    // finishes in the drain), so nothing collapses.
    assert_eq!(r.collapse_at, None);
    // Every evaluation below the limit met the SLO and every one above missed.
    for e in &r.evaluations {
        assert_eq!(e.level.meets_slo(), e.value <= met, "{e:?}");
    }
}

/// `limit`'s progress has one total for the whole search (ladder steps,
/// the most bisections the tolerance needs, and the spike check, per
/// model), its count never goes down, and it ends at the total even when
/// the search needed fewer steps.
#[test]
fn limit_progress_has_one_total_counts_up_and_ends_at_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_model(dir.path());
    let mut e = spec(&path);
    e.limit.tolerance = 0.01;
    let plan = plan_for_model(&path, &[], e).unwrap();
    let seen = std::sync::Mutex::new(Vec::new());
    find_limits(&plan, RunOptions::default(), &|done, total, line: &str| {
        seen.lock().unwrap().push((done, total, line.to_string()))
    })
    .unwrap();
    let seen = seen.into_inner().unwrap();
    // Ladder 2, 4, ..., 64 (6 loads), then ceil(log2(ln 2 / ln 1.01)) = 7
    // halvings of the log-ratio, no spike check: 13 in all.
    assert!(seen.iter().all(|s| s.1 == 13), "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0), "progress went backwards: {seen:?}");
    assert_eq!(seen.last().map(|s| s.0), Some(13), "{seen:?}");
    assert!(seen.iter().any(|s| s.2.contains("workload.rate = 8.0000")), "names each load judged: {seen:?}");
}

/// Base 5/s on a 10/s slot, then 15/s for 60 s, then 5/s again for 120 s:
/// the spike leaves a backlog of (15 − 10)·60 = 300 requests, which drains
/// at 10 − 5 = 5/s, so latency is back within twice the base's (backlog ≤ 1)
/// 59.8 s after the spike ends. Recovery is judged on 10-second windows laid
/// from the end of the run (240 s) back to the spike's end (120 s), so it is
/// reported at the window start just after that: 60 s (or 70 s if the last
/// stragglers of the backlog complete in the 60–70 s window).
#[test]
fn a_backlog_after_a_spike_recovers_when_it_drains() {
    let dir = tempfile::tempdir().unwrap();
    let plan = spike_plan(dir.path(), 3.0);
    let rec = spike_recovery(&plan, &plan.points[0].spec, 5.0, RunOptions::default()).unwrap();
    assert_eq!(rec.recovered, rec.replications);
    let t = rec.slowest_recovery_s.unwrap();
    assert!(t == 60.0 || t == 70.0, "recovered after {t} s");
}

/// A spike run stopped by the event budget ends its series early, which
/// would read as a collapse: such replications are counted as truncated and
/// left out of the recovered / draining / metastable counts. The same check
/// without the budget judges every replication. (The whole run here is about
/// 240 s of 5–15 req/s, thousands of events; the budget is 1,000.)
#[test]
fn truncated_spike_runs_are_not_judged() {
    let dir = tempfile::tempdir().unwrap();
    let plan = spike_plan(dir.path(), 3.0);
    let n = plan.spec.replications as usize;
    let whole = spike_recovery(&plan, &plan.points[0].spec, 5.0, RunOptions::default()).unwrap();
    assert_eq!((whole.truncated, whole.replications), (0, n), "{whole:?}");
    let opts = RunOptions { max_events: 1_000, ..RunOptions::default() };
    let cut = spike_recovery(&plan, &plan.points[0].spec, 5.0, opts).unwrap();
    assert_eq!((cut.truncated, cut.replications), (n, 0), "{cut:?}");
    assert_eq!((cut.recovered, cut.draining, cut.metastable), (0, 0, 0), "{cut:?}");
    let words = cachesim::report::recovery_brief(&cut);
    assert!(words.contains(&format!("{n} of {n} replications truncated")), "{words}");
}

/// `limit` exits 3 when the spike check's runs were truncated, even though
/// every ladder load finished: a ladder run at 8/s is 480 requests (960
/// events), a spike run from 8/s some 2,900 requests (8/s for 60 s, 24/s for
/// 60 s, 8/s for 120 s), so a budget of 2,000 events stops only the latter.
#[test]
fn limit_exits_3_when_the_spike_check_runs_were_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let fields = r#"replications: 50, slo: (p99: "500ms", error_rate: 0.01),
  limit: (path: "workload.rate", low: 2, high: 8, tolerance: 0.5, spike: 3, hold: "60s")"#;
    let run = |args: &[&str]| limit_cli(dir.path(), fields, args);
    let (code, stdout, _) = run(&["-q"]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("drains in 50 of 50"), "{stdout}");
    let (code, stdout, stderr) = run(&["-q", "--max-events", "2000"]);
    assert_eq!(code, Some(3), "{stdout}{stderr}");
    assert!(stdout.contains("meets the SLO up to workload.rate = 8"), "{stdout}");
    assert!(stdout.contains("50 of 50 replications truncated"), "{stdout}");
    assert!(stderr.contains("--max-events 2000"), "{stderr}");
}

/// With the base load at capacity, the spike's backlog can never drain:
/// the check reports neither a recovery nor a drain.
#[test]
fn a_backlog_that_cannot_drain_is_reported_as_not_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let plan = spike_plan(dir.path(), 2.0);
    let rec = spike_recovery(&plan, &plan.points[0].spec, 10.0, RunOptions::default()).unwrap();
    assert_eq!((rec.recovered, rec.draining, rec.metastable), (0, 0, rec.replications), "{rec:?}");
}

/// Base 9/s (evenly spaced) on the 10/s slot, then 15/s for 60 s: a
/// backlog of (15 − 10)·60 = 300 that drains at 10 − 9 = 1/s, so it clears
/// 300 s after the spike, past the 120 s the check watches. That is a
/// drain, not metastability; the extrapolated clear time is 300 s less the
/// base phase's own few requests in flight, within one 10 s window.
#[test]
fn a_slowly_draining_backlog_is_judged_draining_with_its_clear_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_model(dir.path());
    let mut e = spec(&path);
    e.replications = 2;
    e.limit.spike = 15.0 / 9.0;
    e.limit.hold = "60s".parse().unwrap();
    let plan = plan_for_model(&path, &[], e).unwrap();
    let rec = spike_recovery(&plan, &plan.points[0].spec, 9.0, RunOptions::default()).unwrap();
    assert_eq!((rec.recovered, rec.draining, rec.metastable), (0, rec.replications, 0), "{rec:?}");
    let clears = rec.slowest_clear_s.unwrap();
    assert!((290.0..=310.0).contains(&clears), "clears after {clears} s, not about 300 s");
    // The backlog falls at the spare capacity, 10 − 9 = 1 request a second
    // (requests are evenly spaced and served in a constant time, so the
    // fitted slope has only the windows' edges as noise: within 10%).
    let falling = rec.falling_rps.unwrap();
    assert!((0.9..=1.1).contains(&falling), "backlog falling at {falling}/s, not about 1/s");
    let words = cachesim::report::recovery_words(&rec);
    assert!(words.contains("drains in 2 of 2: backlog falling at"), "{words}");
}

/// The classic sustaining effect: clients that give up after 1 s and retry
/// 3 times, against one 10/s slot at a base of 3/s (Poisson). A spike to
/// 15/s for 90 s fills the queue past 10 requests, so every attempt times
/// out, and each request becomes 4 attempts: 12/s of work > 10/s. The
/// overload then sustains itself after the spike: metastable, in every
/// replication. The same clients with a full-jitter backoff of up to 20
/// minutes (doubling, at most 1 h) spread the spike's 1350 retries to
/// about one a second, so the backlog of (15 + 1 − 10)·90 ≈ 540 drains at
/// about 10 − 3 − 1 = 6/s, in about 90 s of the 180 s watched: recovered,
/// in every replication.
#[test]
fn client_retries_without_backoff_are_metastable_and_with_backoff_recover() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, backoff: &str| {
        let path = dir.path().join(name);
        std::fs::write(
            &path,
            format!(
                r#"Model(
                    workload: (rate: 3, duration: "60s", drain: "0s",
                        client: (timeout: "1s", retries: 3, backoff: "{backoff}", max_backoff: "1h")),
                    servers: (concurrency: 1, handler: Constant("100ms")),
                    cache: (ttl: "1000d", start: Warm),
                    backend: (latency: Constant("1s")),
                )"#
            ),
        )
        .unwrap();
        path
    };
    for (name, backoff, metastable) in [("retry_at_once.ron", "0s", true), ("retry_with_backoff.ron", "20m", false)] {
        let path = write(name, backoff);
        let mut e = spec(&path);
        e.replications = 5;
        e.slo.p99 = Some("2s".parse().unwrap());
        e.limit.spike = 5.0;
        e.limit.hold = "90s".parse().unwrap();
        let plan = plan_for_model(&path, &[], e).unwrap();
        let rec = spike_recovery(&plan, &plan.points[0].spec, 3.0, RunOptions::default()).unwrap();
        if metastable {
            assert_eq!(rec.metastable, rec.replications, "{name}: {rec:?}");
            // The sustaining effect is named: each in-time completion costs
            // more than the base phase's attempts (at 3/s on a 10/s slot,
            // none time out before the spike: amplification 1).
            let s = rec.sustaining.unwrap();
            let (after, before) = s.amplification();
            assert!(before.is_some_and(|b| b < 1.05), "{name}: base amplification {before:?}");
            assert!(after.is_none_or(|a| a > 2.0), "{name}: amplification {after:?} after the spike");
            let words = cachesim::report::recovery_words(&rec);
            assert!(words.contains("(metastable)") && words.contains("sustained by retry amplification"), "{words}");
        } else {
            assert_eq!(rec.recovered, rec.replications, "{name}: {rec:?}");
        }
    }
}

/// The other triggers, on a model with nothing to sustain a bad state (no
/// retries, capacity to spare): a backend outage for 60 s behind a 1 s
/// cache fails requests only while it lasts, and a flush of every cache is
/// refilled by the next fetch (100 ms). Both are back to the base phase's
/// behaviour within the first 10 s window after the trigger ends, in every
/// replication. With `at_expiry`, a warm cache with a 50 s TTL places the
/// trigger on its first expiry after the 60 s hold: at 100 s.
#[test]
fn outages_and_flushes_without_a_sustaining_effect_recover_at_once_and_can_start_on_an_expiry() {
    use cachesim::experiment::Trigger;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fragile.ron");
    std::fs::write(
        &path,
        r#"Model(
            workload: (rate: 20, duration: "60s"),
            servers: (count: 2, handler: Constant("10ms")),
            cache: (ttl: "1s", start: Warm),
            backend: (latency: Constant("100ms")),
        )"#,
    )
    .unwrap();
    for trigger in [Trigger::Outage, Trigger::Flush] {
        let mut e = spec(&path);
        e.replications = 4;
        e.slo.error_rate = Some(0.01);
        e.limit.spike = 1.0;
        e.limit.hold = "60s".parse().unwrap();
        e.limit.trigger = trigger;
        let plan = plan_for_model(&path, &[], e).unwrap();
        let rec = spike_recovery(&plan, &plan.points[0].spec, 20.0, RunOptions::default()).unwrap();
        assert_eq!(rec.recovered, rec.replications, "{trigger:?}: {rec:?}");
        assert_eq!(rec.slowest_recovery_s, Some(0.0), "{trigger:?}: {rec:?}");
        assert_eq!(rec.trigger_start_s, 60.0);
    }
    let long_ttl = dir.path().join("long_ttl.ron");
    std::fs::write(&long_ttl, std::fs::read_to_string(&path).unwrap().replace(r#"ttl: "1s""#, r#"ttl: "50s""#))
        .unwrap();
    let mut e = spec(&long_ttl);
    e.replications = 2;
    e.limit.spike = 1.0;
    e.limit.hold = "60s".parse().unwrap();
    e.limit.trigger = Trigger::Outage;
    e.limit.at_expiry = true;
    let plan = plan_for_model(&long_ttl, &[], e).unwrap();
    let rec = spike_recovery(&plan, &plan.points[0].spec, 20.0, RunOptions::default()).unwrap();
    assert_eq!(rec.trigger_start_s, 100.0, "{rec:?}");
}

/// The `Flush` trigger empties every cache layer: on a model with a warm
/// local cache, a response cache and a warm shared Redis with the lock (all
/// with TTLs far beyond the run), nothing reaches the backend unless the
/// flush empties Redis too; then exactly one request (the lock's holder;
/// the others read the entry again when they get the lock, `recheck`)
/// refetches, and the response cache and Redis each miss after the flush.
/// Before Redis was flushed, the restarted workers refilled their local
/// caches from Redis and the backend saw no call.
#[test]
fn a_flush_trigger_empties_the_local_response_and_redis_caches() {
    use cachesim::experiment::{Trigger, with_trigger};
    let spec = crate::support::model(
        r#"Model(
            workload: (rate: 5, duration: "60s"),
            servers: (count: 2, workers: 2, handler: Constant("10ms")),
            cache: (ttl: "1000d", start: Warm),
            response_cache: (ttl: "1000d", keys: 3),
            redis: (ttl: "1000d", start: Warm, lock: (timeout: "10s", sleep: "100ms", recheck: true)),
            backend: (latency: Constant("1s")),
        )"#,
    );
    let hold = cachesim::engine::SimDuration::from_secs(60);
    let quiet = with_trigger(&spec, 5.0, Trigger::Spike, 1.0, hold, false);
    let flushed = with_trigger(&spec, 5.0, Trigger::Flush, 1.0, hold, false);
    assert_eq!(flushed.spec.redis.as_ref().unwrap().flushes.len(), 1);
    let response_misses = |r: &cachesim::metrics::RunReport| {
        let l = &r.cache.layers["response"];
        (l.lookups as f64 * (1.0 - l.hit_ratio)).round() as u64
    };
    for rep in 0..4 {
        let seed = 1 + crate::support::seed_offset();
        let quiet = cachesim::sim::simulate(&quiet.spec, seed, rep, RunOptions::default());
        assert_eq!(quiet.backend.calls, 0, "no flush: every cache stays warm");
        assert_eq!(quiet.cache.layers["redis"].lookups, 0, "the local caches answer every request");
        let r = cachesim::sim::simulate(&flushed.spec, seed, rep, RunOptions::default());
        assert_eq!(r.backend.calls, 1, "one refetch, under the lock: {:?}", r.redis);
        let redis = &r.cache.layers["redis"];
        assert!(redis.lookups > 0 && redis.hit_ratio < 1.0, "Redis misses after the flush: {:?}", r.cache.layers);
        // Requests past the response cache that missed the local one.
        let local_misses = |r: &cachesim::metrics::RunReport| {
            let l = &r.cache.layers["local"];
            response_misses(r) - (l.lookups as f64 * l.hit_ratio).round() as u64
        };
        assert_eq!(local_misses(&quiet), 0);
        assert!(local_misses(&r) >= 1, "{:?}", r.cache.layers);
        // The response caches start empty (4 workers × 3 keys: about 12
        // misses); the flush empties them again.
        let (before, after) = (response_misses(&quiet), response_misses(&r));
        assert!(before < after, "response misses {before} without the flush, {after} with it");
    }
}

/// At a low rate (5/s) the windows hold few requests, and a queue at half
/// load (one slot, exponential 100 ms service: M/M/1, ρ = 0.5, p99 of the
/// sojourn 0.2·ln 100 = 0.92 s under the 1 s bound) has busy periods that
/// put several slow requests in one window. Judged window by window against
/// the base phase's worst window, that noise read as a late recovery, or
/// none. Two triggers with known answers, 20 replications each:
///
/// - a backend outage behind a warm cache that outlives the run changes
///   nothing (no request fetches): recovered at once, 0 s (at most two
///   replications in 20 judged a window or two later, the false alarms of
///   queueing clusters; none draining or metastable);
/// - a spike to 15/s for 60 s leaves a backlog of (15 − 10)·60 = 300
///   (± √(900 + 600) ≈ 39, Poisson arrivals and services), which drains at
///   10 − 5 = 5/s: clear 60 s (± about 10 s) after the spike, so judged
///   recovered at the 10 s window after that: within 30 to 90 s in every
///   replication.
#[test]
fn recovery_at_a_low_rate_is_judged_on_counts_not_noise() {
    use cachesim::experiment::{AfterTrigger, Trigger};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("half_loaded.ron");
    std::fs::write(
        &path,
        r#"Model(
            workload: (rate: 5, duration: "60s"),
            servers: (concurrency: 1, handler: Exponential(mean: "100ms")),
            cache: (ttl: "1000d", start: Warm),
            backend: (latency: Constant("100ms")),
        )"#,
    )
    .unwrap();
    for (trigger, spike) in [(Trigger::Outage, 1.0), (Trigger::Spike, 3.0)] {
        let mut e = spec(&path);
        e.replications = 20;
        e.slo.error_rate = Some(0.001);
        e.slo.p99 = Some("1s".parse().unwrap());
        e.limit.spike = spike;
        e.limit.hold = "60s".parse().unwrap();
        e.limit.trigger = trigger;
        let plan = plan_for_model(&path, &[], e).unwrap();
        let rec = spike_recovery(&plan, &plan.points[0].spec, 5.0, RunOptions::default()).unwrap();
        assert_eq!(rec.recovered, rec.replications, "{trigger:?}: {:?}", rec.outcomes);
        let after: Vec<f64> = rec
            .outcomes
            .iter()
            .map(|o| if let AfterTrigger::Recovered { after_s } = o { *after_s } else { f64::NAN })
            .collect();
        if trigger == Trigger::Outage {
            let late = after.iter().filter(|&&t| t > 0.0).count();
            assert!(late <= 2, "{late} of 20 judged late after an outage that changed nothing: {after:?}");
        } else {
            assert!(after.iter().all(|t| (30.0..=90.0).contains(t)), "a 60 s drain judged at {after:?}");
        }
    }
}

/// Runs stopped by the event budget cannot be judged as meeting the SLO:
/// with a budget between what 4 req/s and 8 req/s need, the load of 8
/// (which meets the SLO when whole, below the one slot's 10/s) is judged
/// on truncated runs, so it is marked truncated, not counted as a pass, and
/// the table and the JSON say so; the limit found stays below it.
#[test]
fn a_load_judged_on_truncated_runs_is_not_a_pass() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_model(dir.path());
    let mut e = spec(&path);
    e.limit.high = 16.0;
    e.limit.tolerance = 0.5;
    let plan = plan_for_model(&path, &[], e).unwrap();
    let events = |rate: &str| {
        let m = cachesim::config::apply_overrides(plan.points[0].spec.clone(), &[format!("workload.rate={rate}")]);
        cachesim::sim::simulate(&m.unwrap(), plan.spec.seed, 0, RunOptions::default()).engine.events
    };
    let (four, eight) = (events("4"), events("8"));
    assert!(four < eight, "{four} {eight}");
    let whole = find_limits(&plan, RunOptions::default(), &|_, _, _| {}).unwrap();
    let at8 = whole[0].evaluations.iter().find(|e| e.value == 8.0).unwrap();
    assert!(at8.passes() && at8.truncated == 0, "whole, 8 req/s meets the SLO: {at8:?}");
    let opts = RunOptions { max_events: (four + eight) / 2, ..RunOptions::default() };
    let results = find_limits(&plan, opts, &|_, _, _| {}).unwrap();
    let r = &results[0];
    let at8 = r.evaluations.iter().find(|e| e.value == 8.0).unwrap();
    assert_eq!(at8.truncated, plan.spec.replications as usize, "{at8:?}");
    assert!(at8.level.meets_slo() && !at8.passes(), "{at8:?}");
    assert!(at8.stop_reason.as_deref().is_some_and(|s| s.contains("--max-events")), "{at8:?}");
    assert!(r.truncated_at.contains(&8.0), "{:?}", r.truncated_at);
    assert!(r.max_meeting.is_some_and(|m| m < 8.0), "{:?}", r.max_meeting);
    for e in r.evaluations.iter().filter(|e| e.truncated > 0) {
        assert!(!e.passes(), "{e:?}");
        assert!(r.max_meeting.is_none_or(|m| m < e.value), "{e:?} {:?}", r.max_meeting);
    }
    let table = cachesim::report::limits_table(&plan, &results);
    assert!(table.contains("truncated") && table.contains("not counted as meeting the SLO"), "{table}");
    let json = serde_json::to_value(&results).unwrap();
    assert!(json[0]["truncated_at"].as_array().unwrap().contains(&serde_json::json!(8.0)), "{json}");
}

/// `cachesim limit --max-events N` whose runs stop at the budget prints its
/// result with the truncated loads and exits 3, naming the budget.
#[test]
fn limit_with_truncated_runs_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let fields = r#"replications: 2, slo: (p99: "500ms", error_rate: 0.01),
  limit: (path: "workload.rate", low: 2, high: 8, tolerance: 0.5, spike: 0)"#;
    let (code, stdout, stderr) = limit_cli(dir.path(), fields, &["--max-events", "300", "-q"]);
    assert_eq!(code, Some(3), "{stdout}{stderr}");
    assert!(stdout.contains("truncated") && stdout.contains("not counted as meeting the SLO"), "{stdout}");
    assert!(stderr.contains("truncated") && stderr.contains("--max-events 300"), "{stderr}");
}
