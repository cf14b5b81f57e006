//! Guards against runs that would take hours or exhaust memory, checked
//! before a run starts, from the model alone.

use crate::config::ModelSpec;
use crate::sim::edge::arrivals::RateProfile;
use crate::sim::sampler::Sampler;

/// Events a run may simulate unless `--max-events` says otherwise: under a
/// minute of work (20–45 s at the 7–15 million events per second `cachesim
/// bench` measures on a two-core machine). A run expected to need more is refused
/// before it starts; one that reaches it anyway (an estimate can miss) is
/// stopped there and reported as truncated.
pub const DEFAULT_EVENT_BUDGET: u64 = 300_000_000;

/// Replica writes waiting to apply that a run may hold at once, in all
/// (16 bytes each).
pub const MAX_PENDING_REPLICA_WRITES: f64 = 1e7;

/// Events per request, roughly: arrival, handler, query, and a share of
/// fetches and timers.
const EVENTS_PER_REQUEST: f64 = 4.0;

/// The number of requests a run is expected to see.
pub fn expected_requests(spec: &ModelSpec) -> f64 {
    let w = &spec.workload;
    match &w.closed {
        // At most one request per user per think time (less when waiting).
        Some(c) => {
            let think = c.think.mean_secs().max(1e-9);
            f64::from(c.users.get()) * w.duration.as_secs_f64() / think
        }
        None => match &w.arrivals {
            // A trace: exactly its instants within the duration.
            crate::config::Arrivals::Trace { rate, loaded, .. } => {
                crate::sim::edge::arrivals::trace_arrivals_within(loaded.times(), *rate, w.duration.nanos()) as f64
            }
            _ => RateProfile::new(w).expected_between(0.0, w.duration.as_secs_f64()),
        },
    }
}

/// Refuses a model whose expected events exceed `budget` (`None`: the
/// default), with a message that says what to change.
pub fn check_size(spec: &ModelSpec, budget: Option<u64>) -> Result<(), String> {
    check_size_at(spec, budget).map_err(|(message, _)| message)
}

/// [`check_size`], also naming the field (dotted path) that gives most of
/// the size, for the error's position.
pub fn check_size_at(spec: &ModelSpec, budget: Option<u64>) -> Result<(), (String, &'static str)> {
    check_work(spec)?;
    let requests = expected_requests(spec);
    check_events(spec, requests, budget)
}

/// The most lag draws replicas may make in one run: writes × replicas.
/// One event can make many of them (a query after a long quiet spell
/// catches up on every write since), so `--max-events` cannot bound them:
/// held to a few tenths of a second of work.
pub const MAX_REPLICA_WORK: f64 = 3e7;

/// The most Poisson writes a run may make (8 bytes each, 80 MB). They are
/// made as the clock passes them, all at once by the first event after a
/// long quiet spell, so `--max-events` cannot bound them either: held, like
/// the replicas' work, to a few tenths of a second.
pub const MAX_WRITE_HISTORY: f64 = 1e7;

/// Work and memory that one event can take and so no event budget bounds:
/// the write histories, and replicas catching up. Checked even when
/// `--max-events` is given.
pub fn check_work(spec: &ModelSpec) -> Result<(), (String, &'static str)> {
    // Poisson writes are kept in memory (8 bytes each), made as the clock
    // passes them: up to the end of the drain, when a request is still
    // being served then.
    let histories = [
        ("backend", "backend.writes", spec.backend.writes.as_ref()),
        ("database", "db.writes", spec.db.as_ref().and_then(|d| d.writes.as_ref())),
    ];
    for (part, field, writes) in histories {
        if let Some(crate::config::Writes::Poisson(rate)) = writes {
            let writes = rate.0 * run_span_secs(spec);
            if writes.is_nan() || writes > MAX_WRITE_HISTORY {
                return Err((
                    format!(
                        "`{}` would make about {writes:.2e} {part} writes over its duration and drain, more than \
                         {MAX_WRITE_HISTORY:.0e} (each is kept, and one event can make them all); write less often \
                         or shorten workload.duration and workload.drain",
                        spec.name
                    ),
                    field,
                ));
            }
        }
    }
    replica_memory(spec).map_err(|m| (m, "db.replicas"))?;
    let work = replica_work(spec);
    if !(work.is_finite() && work <= MAX_REPLICA_WORK) {
        return Err((
            format!(
                "`{}`'s replicas would apply about {work:.2e} writes in all (writes × replicas), more than {MAX_REPLICA_WORK:.0e}; \
                 write less often (db.writes), use fewer replicas or a shorter duration",
                spec.name
            ),
            "db.writes",
        ));
    }
    Ok(())
}

fn check_events(spec: &ModelSpec, requests: f64, budget: Option<u64>) -> Result<(), (String, &'static str)> {
    // Clients that retry can send every request 1 + retries times (under
    // overload, every attempt times out), each with its timer.
    let (attempts, timers) = spec.workload.client.as_ref().map_or((1.0, 0.0), |c| (1.0 + f64::from(c.retries), 2.0));
    // A checkout that opens a connection, or a woken pool waiter, is one
    // more event.
    // Through PgBouncer, a query may wait for a server connection to open:
    // one more, at most.
    let pool = match &spec.db {
        Some(db) if db.pgbouncer.is_some() => 2.0,
        Some(_) => 1.0,
        None => 0.0,
    };
    let per = requests * attempts;
    let basic = per * (EVENTS_PER_REQUEST + pool + timers);
    // A link sends each response (and brings each fetched payload, at most
    // one a request) with one event.
    let link = if spec.servers.link.is_some() { 2.0 } else { 0.0 };
    // Each source of events, with the field that controls it.
    let sources: [(f64, &'static str, &str); 9] = [
        (basic, "workload.rate", "requests"),
        (per * lease_polls_per_request(spec), "cache.refresh", "lease waiters polling"),
        (per * lock_polls_per_request(spec), "redis.lock.sleep", "Redis lock waiters polling (every redis.lock.sleep)"),
        (
            per * bucket_retries_per_request(spec, requests),
            "backend.rate_limit.retry",
            "fetches retrying an empty token bucket until their deadline",
        ),
        (per * cpu_events_per_request(spec), "servers", "pieces of CPU on the event loops"),
        (per * link, "servers.link", "transfers on the servers' links"),
        (gc_events(spec, requests), "servers.gc", "garbage-collection pauses"),
        (background_events(spec), "refresh", "background refreshes (about one per TTL per cache)"),
        (replica_work(spec), "db.replicas", "replicas applying every write"),
    ];
    let events: f64 = sources.iter().map(|s| s.0).sum();
    let limit = budget.unwrap_or(DEFAULT_EVENT_BUDGET);
    if events.is_finite() && events <= limit as f64 {
        return Ok(());
    }
    let (most, mut field, what) =
        sources.iter().copied().max_by(|a, b| a.0.total_cmp(&b.0)).expect("there are sources");
    let change = if field == "workload.rate" {
        if spec.workload.closed.is_some() {
            field = "workload.closed";
            "shorten workload.duration, use fewer users or longer think times".to_string()
        } else {
            "shorten workload.duration or lower the rate".to_string()
        }
    } else {
        if field == "refresh" {
            field = if spec
                .cache
                .as_ref()
                .is_some_and(|c| matches!(c.refresh, crate::config::Refresh::Background { .. }))
            {
                "cache.ttl"
            } else {
                "redis.ttl"
            };
        }
        format!("most ({most:.2e}) from {what}: change {field}")
    };
    Err((
        format!(
            "`{}` would simulate about {:.2e} requests ({:.2e} events), more than the {:.2e}-event budget of one run \
             (under a minute of work); {change}, or pass --max-events N to run anyway and stop after N events",
            spec.name, requests, events, limit as f64
        ),
        field,
    ))
}

/// How long the clock can run: the workload's duration and its drain.
/// Writes happen (and replicas catch up on them) until the last event.
fn run_span_secs(spec: &ModelSpec) -> f64 {
    spec.workload.duration.as_secs_f64() + spec.workload.drain.as_secs_f64()
}

/// The database's writes in a run, and the replicas that apply each.
fn db_writes(spec: &ModelSpec) -> (f64, f64) {
    let Some(db) = &spec.db else { return (0.0, 0.0) };
    let duration = run_span_secs(spec);
    let writes = match &db.writes {
        Some(crate::config::Writes::Every(period)) => duration / period.as_secs_f64().max(1e-9),
        Some(crate::config::Writes::Poisson(rate)) => rate.0 * duration,
        None => 0.0,
    };
    (writes, db.replicas.as_ref().map_or(0.0, |r| f64::from(r.count)))
}

/// Every replica draws a lag for every write it learns of: one unit of
/// work each, counted as an event.
fn replica_work(spec: &ModelSpec) -> f64 {
    let (writes, replicas) = db_writes(spec);
    writes * replicas
}

/// A replica keeps the writes it has not applied yet: about the write rate
/// times the mean lag, each.
fn replica_memory(spec: &ModelSpec) -> Result<(), String> {
    let (writes, replicas) = db_writes(spec);
    let Some(r) = spec.db.as_ref().and_then(|d| d.replicas.as_ref()) else { return Ok(()) };
    let rate = writes / run_span_secs(spec).max(1e-9);
    let pending = rate * Sampler::new(&r.lag).mean_secs() * replicas;
    if pending.is_finite() && pending <= MAX_PENDING_REPLICA_WRITES {
        return Ok(());
    }
    Err(format!(
        "`{}`'s {replicas} replicas would hold about {pending:.2e} writes not yet applied (write rate × mean lag × replicas); \
         at most {MAX_PENDING_REPLICA_WRITES:.0e} fit in memory: write less often (db.writes), shorten db.replicas.lag or use fewer replicas",
        spec.name
    ))
}

/// Refreshes no request asks for: `Background` refreshes each worker's
/// cache (or the Redis entry) `ahead` of its expiry, one fetch after the
/// last: one every `fetch + ttl − ahead`, about 4 events each.
fn background_events(spec: &ModelSpec) -> f64 {
    let duration = spec.workload.duration.as_secs_f64();
    let fetch = Sampler::new(&spec.backend.latency).mean_secs();
    let units = f64::from(spec.servers.count.get()) * f64::from(spec.servers.workers.get());
    let every = |ttl: crate::config::Dur, ahead: crate::config::Dur| {
        (fetch + (ttl.as_secs_f64() - ahead.as_secs_f64()).max(0.0)).max(1e-9)
    };
    let local = spec.cache.as_ref().map_or(0.0, |c| match c.refresh {
        crate::config::Refresh::Background { ahead } => units * duration / every(c.ttl, ahead),
        _ => 0.0,
    });
    let shared = spec.redis.as_ref().map_or(0.0, |r| match r.refresh {
        crate::config::SharedRefresh::Background { ahead } => duration / every(r.ttl, ahead),
        _ => 0.0,
    });
    (local + shared) * EVENTS_PER_REQUEST
}

/// Redis lock waiters try again every `sleep` while the holder fetches
/// (until their `blocking_timeout`): as for leases, about δ/(T + δ) of the
/// requests wait, each about min(δ, blocking_timeout)/sleep times.
fn lock_polls_per_request(spec: &ModelSpec) -> f64 {
    let Some(r) = &spec.redis else { return 0.0 };
    let Some(lock) = &r.lock else { return 0.0 };
    let fetch = Sampler::new(&spec.backend.latency).mean_secs();
    let waiting = fetch / (r.ttl.as_secs_f64() + fetch).max(1e-9);
    let wait = lock.blocking_timeout.map_or(fetch, |b| fetch.min(b.as_secs_f64()));
    waiting * wait / lock.sleep.as_secs_f64().max(1e-9)
}

/// A fetch that finds the token bucket empty under `Retry` sleeps a mean
/// of half its backoff bound and tries again until its deadline. At an
/// arrival rate λ above the bucket's rate r, about 1 − r/λ of the fetches
/// find it empty (every request is counted as a fetch: a stampede can
/// make it so).
fn bucket_retries_per_request(spec: &ModelSpec, requests: f64) -> f64 {
    let Some(rl) = &spec.backend.rate_limit else { return 0.0 };
    if rl.when_empty != crate::config::WhenEmpty::Retry {
        return 0.0;
    }
    let rate = requests / spec.workload.duration.as_secs_f64().max(1e-9);
    let empty = (1.0 - rl.rate.0 / rate.max(1e-300)).clamp(0.0, 1.0);
    empty * retries_until_deadline(&rl.retry)
}

/// Retries before the deadline: sleeps of mean min(initial·mᵏ, max)/2 until
/// they add up to the deadline.
fn retries_until_deadline(r: &crate::config::Retry) -> f64 {
    let deadline = r.deadline.as_secs_f64();
    let (mut bound, mut slept, mut k) = (r.initial.as_secs_f64().max(1e-9), 0.0, 0.0);
    let cap = r.max_delay.as_secs_f64().max(1e-9);
    for _ in 0..10_000 {
        if slept >= deadline {
            return k;
        }
        bound = bound.min(cap);
        slept += bound / 2.0;
        k += 1.0;
        bound *= r.multiplier;
    }
    // The bound no longer grows enough to matter: the rest at its value.
    k + (deadline - slept).max(0.0) / (bound.min(cap) / 2.0)
}

/// Each piece of CPU on an event loop is one completion event. Where a
/// server's processes outnumber its cores, every start and end of a piece
/// moves the completions of the others computing then: about twice the
/// server's offered CPU load a = λ·E[cpu] of them (at least one, at most
/// every process).
fn cpu_events_per_request(spec: &ModelSpec) -> f64 {
    let s = &spec.servers;
    let costs = crate::sim::process::CpuCosts::new(spec);
    let mean = |x: &Option<Sampler>| x.as_ref().map_or(0.0, |x| x.mean_secs());
    let pieces = [costs.parse.is_some(), costs.handler.is_some(), costs.encode_response > 0, costs.decode > 0]
        .iter()
        .filter(|&&p| p)
        .count() as f64;
    let cpu_s = mean(&costs.parse) + mean(&costs.handler) + (costs.encode_response + costs.decode) as f64 / 1e9;
    let workers = f64::from(s.workers.get());
    let moved = match s.cores {
        Some(c) if c.get() < s.workers.get() => {
            let rate = expected_requests(spec) / spec.workload.duration.as_secs_f64().max(1e-9);
            let load = rate / f64::from(s.count.get()) * cpu_s;
            (2.0 * load).clamp(1.0, workers)
        }
        _ => 0.0,
    };
    pieces * (1.0 + 2.0 * moved)
}

/// Garbage collections: a due timer and a pause per interval on every
/// process, or a pause per N requests; each event a pause holds back is
/// scheduled again (at most the request events, counted above, once more).
fn gc_events(spec: &ModelSpec, requests: f64) -> f64 {
    let s = &spec.servers;
    let Some(gc) = &s.gc else { return 0.0 };
    let processes = f64::from(s.count.get()) * f64::from(s.workers.get());
    let duration = spec.workload.duration.as_secs_f64().max(1e-9);
    let (pauses, events_per_pause) = match gc.every {
        crate::config::GcEvery::Interval(every) => (processes * duration / every.as_secs_f64().max(1e-9), 2.0),
        crate::config::GcEvery::Requests(n) => (requests / f64::from(n.max(1)), 1.0),
    };
    // The share of time a process is paused: what share of its events wait.
    let paused = (pauses / processes / duration * gc.pause.mean_secs()).min(1.0);
    pauses * events_per_pause + requests * EVENTS_PER_REQUEST * paused
}

/// Lease waiters look again every `retry` while a fetch runs: about
/// δ/(T + δ) of the requests arrive during a fetch (δ the backend's mean
/// latency, T the TTL), and each polls about δ/retry times.
fn lease_polls_per_request(spec: &ModelSpec) -> f64 {
    let fetch = Sampler::new(&spec.backend.latency).mean_secs();
    let local = spec.cache.as_ref().and_then(|c| match c.refresh {
        crate::config::Refresh::Lease { retry, .. } => Some((c.ttl, retry)),
        _ => None,
    });
    let shared = spec.redis.as_ref().and_then(|r| match r.refresh {
        crate::config::SharedRefresh::Lease { retry, .. } => Some((r.ttl, retry)),
        _ => None,
    });
    [local, shared]
        .into_iter()
        .flatten()
        .map(|(ttl, retry)| {
            let waiting = fetch / (ttl.0.as_secs_f64() + fetch).max(1e-9);
            waiting * fetch / retry.0.as_secs_f64().max(1e-3)
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_model;

    #[test]
    fn absurd_models_are_refused_and_ordinary_ones_pass() {
        let m = |rate: &str, duration: &str| {
            parse_model(
                &format!(
                    r#"Model(workload: (rate: {rate}, duration: "{duration}"), backend: (latency: Constant("1s")))"#
                ),
                "t",
                "t",
            )
            .unwrap()
        };
        assert!(check_size(&m("500", "1h"), None).is_ok());
        let err = check_size(&m("1e9", "1h"), None).unwrap_err();
        assert!(err.contains("3.60e12 requests"), "{err}");
        // An explicit budget replaces the default both ways.
        assert!(check_size(&m("1e9", "1h"), Some(u64::MAX)).is_ok());
        assert!(check_size(&m("500", "1h"), Some(1000)).is_err());
    }

    /// CPU pieces are events, and processes sharing too few cores move each
    /// other's completions: 1000 processes on one core at a load of 0.5
    /// core cost about 1 + 2·1 events per piece, against 1 with a core each.
    #[test]
    fn cpu_pieces_and_core_sharing_count_in_the_budget() {
        let text = |cores: &str| {
            format!(
                r#"Model(workload: (rate: 5, duration: "1h"), cache: (ttl: "1000d", start: Warm),
                         servers: (workers: 1000, {cores} handler: (cpu: Constant("100ms"), wait: Constant("0s"))),
                         backend: (latency: Constant("1s")))"#
            )
        };
        let own = parse_model(&text(""), "t", "t").unwrap();
        assert!((cpu_events_per_request(&own) - 1.0).abs() < 1e-12);
        let shared = parse_model(&text("cores: 1,"), "t", "t").unwrap();
        assert!((cpu_events_per_request(&shared) - 3.0).abs() < 1e-9);
        let plain =
            parse_model(r#"Model(workload: (rate: 5, duration: "1h"), backend: (latency: Constant("1s")))"#, "t", "t");
        assert_eq!(cpu_events_per_request(&plain.unwrap()), 0.0);
    }

    /// A trace is counted, not estimated: its instants within the
    /// duration, at its speed.
    #[test]
    fn trace_arrivals_are_counted() {
        let dir = tempfile::tempdir().unwrap();
        let lines: String = (0..1000).map(|i| format!("{}\n", i as f64 * 0.1)).collect();
        std::fs::write(dir.path().join("t.txt"), lines).unwrap();
        let model = |speed: &str| {
            crate::config::parse_model_in(
                &format!(
                    r#"Model(workload: (arrivals: Trace(file: "t.txt", rate: {speed}), rate: 1, duration: "50s"),
                             backend: (latency: Constant("1s")))"#
                ),
                "t",
                "t",
                dir.path(),
            )
            .unwrap()
        };
        // 0, 0.1, ..., 50.0 s: 501 instants; twice as fast, all 1000.
        assert_eq!(expected_requests(&model("1")), 501.0);
        assert_eq!(expected_requests(&model("2.0")), 1000.0);
        // About 4 events a request: 2004 and 4000 against a budget of 3000.
        assert!(check_size(&model("1"), Some(3000)).is_ok());
        assert!(check_size(&model("2.0"), Some(3000)).is_err());
    }

    /// Lease waiters poll: with a 1 s fetch, a 2 s TTL and a 1 ms retry,
    /// a third of the requests wait and each polls about 1000 times, so a
    /// load the default budget allows without leases is refused with them.
    #[test]
    fn lease_polling_counts_in_the_budget() {
        let text = |refresh: &str| {
            format!(
                r#"Model(workload: (rate: 10000, duration: "1h"), cache: (ttl: "2s", refresh: {refresh}),
                         backend: (latency: Constant("1s")))"#
            )
        };
        let plain = parse_model(&text("SingleFlight"), "t", "t").unwrap();
        assert!(check_size(&plain, None).is_ok());
        let leased = parse_model(&text(r#"Lease(retry: "1ms")"#), "t", "t").unwrap();
        assert!((lease_polls_per_request(&leased) - 1000.0 / 3.0).abs() < 1.0);
        assert!(check_size(&leased, None).is_err());
    }
}
