//! The seed's architecture as a simulation: build it from a validated
//! [`ModelSpec`], run it on the engine, and report. Components never read
//! files or the wall clock; all randomness comes from `engine::stream`.

mod chunked;
mod data;
mod edge;
pub mod guard;
mod process;
mod request;
mod sampler;
mod service;
mod world;

pub use data::token_bucket::TokenBucket;
pub use edge::arrivals::{ArrivalStream, RateProfile};
pub use sampler::Sampler;
pub use world::{Event, MAX_IN_FLIGHT, World};

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use crate::config::ModelSpec;
use crate::engine::{EventQueue, SimDuration, SimTime, run};
use crate::metrics::{
    BackendStats, CacheStats, Cause, CdnStats, DbStats, DivergenceStats, EngineStats, Fingerprints, LatencyStats,
    LayerStats, PoolStats, Recorder, RedisStats, RequestStats, RunReport, Series, Spread, StalenessStats,
};

/// Limits on a run, from the command line rather than the model.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// Stop after this many events (the report says `truncated`); by
    /// default [`guard::DEFAULT_EVENT_BUDGET`].
    pub max_events: u64,
    /// Record a time series with buckets of this width.
    pub series: Option<SimDuration>,
    /// In the series, count the successful requests slower than this.
    pub slow_above: Option<SimDuration>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions { max_events: guard::DEFAULT_EVENT_BUDGET, series: None, slow_above: None }
    }
}

/// Runs replication `run` of `spec` with `seed` and reports what happened.
/// The same arguments always give the same report, bit for bit.
pub fn simulate(spec: &ModelSpec, seed: u64, run_index: u64, opts: RunOptions) -> RunReport {
    simulate_detailed(spec, seed, run_index, opts).0
}

/// Latency distributions of one run, for pooling across replications.
#[derive(Debug, Clone)]
pub struct RunHistograms {
    /// Successful requests' latency, microseconds.
    pub latency_us: Histogram<u64>,
    /// Pool checkout waits, microseconds.
    pub pool_wait_us: Histogram<u64>,
    /// The time series, if [`RunOptions::series`] asked for one.
    pub series: Option<Series>,
}

/// [`simulate`], also returning the run's histograms.
pub fn simulate_detailed(spec: &ModelSpec, seed: u64, run_index: u64, opts: RunOptions) -> (RunReport, RunHistograms) {
    let mut queue = EventQueue::new();
    let mut world = World::new(spec, seed, run_index, &mut queue);
    world.stats.series = opts
        .series
        .map(|width| Series { slow_above_ns: opts.slow_above.map_or(u64::MAX, |d| d.0), ..Series::new(width) });
    let w = &spec.workload;
    let stop = SimTime(w.duration.nanos()).after(w.drain.0);
    let ended = run(&mut world, &mut queue, stop, opts.max_events);
    let truncated = ended.truncated;
    let end = if queue.pending() == 0 || truncated { queue.now() } else { stop };
    queue.advance_to(end);
    let measured = SimTime(w.duration.nanos()).since(SimTime(w.warmup.nanos())).as_secs_f64();
    let mut report = report(spec, seed, run_index, &mut world, &queue, end, measured, truncated);
    report.engine.stop_reason = match (&world.stop_reason, truncated) {
        (Some(reason), _) => Some(reason.clone()),
        (None, true) if opts.max_events == guard::DEFAULT_EVENT_BUDGET => Some(format!(
            "the default event budget of {} events (under a minute of work) ran out; pass --max-events N to raise it",
            guard::DEFAULT_EVENT_BUDGET
        )),
        (None, true) => Some(format!("the event budget (--max-events {}) ran out", opts.max_events)),
        (None, false) => None,
    };
    report.fingerprint = Fingerprints { model: model_fingerprint(spec), trace: format!("{:016x}", ended.fingerprint) };
    let stats = world.stats;
    (
        report,
        RunHistograms {
            latency_us: stats.latency_us.into_histogram(),
            pool_wait_us: stats.pool_wait_us.into_histogram(),
            series: stats.series,
        },
    )
}

/// A hash of everything in the resolved model that can change results
/// (the name and description do not).
pub fn model_fingerprint(spec: &ModelSpec) -> String {
    let mut s = spec.clone();
    s.name.clear();
    s.description.clear();
    let json = serde_json::to_string(&s).expect("models serialize");
    format!("{:016x}", crate::engine::rng::fnv1a(json.as_bytes()))
}

/// Divergence windows as reported, with their share of the measured span.
fn divergence_stats(d: &crate::metrics::Divergence, measured_span: f64) -> DivergenceStats {
    DivergenceStats {
        windows: d.windows,
        max_window_s: d.longest_ns as f64 / 1e9,
        total_s: d.total_ns as f64 / 1e9,
        share: if measured_span > 0.0 { d.total_ns as f64 / 1e9 / measured_span } else { 0.0 },
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

fn secs_us(v: u64) -> f64 {
    v as f64 / 1e6
}

#[allow(clippy::too_many_arguments)]
fn report(
    spec: &ModelSpec,
    seed: u64,
    replication: u64,
    world: &mut World,
    queue: &EventQueue<Event>,
    end: SimTime,
    measured_s: f64,
    truncated: bool,
) -> RunReport {
    let redis = world.redis.as_ref();
    let db_peak = world.db.as_ref().map_or(0, |d| d.peak_connections());
    let dbc = world.db.as_ref().map(|d| d.counters.clone()).unwrap_or_default();
    let edge = world.edge.as_ref().map(|e| e.counters.clone()).unwrap_or_default();
    let measured_span = end.since(world.stats.warmup).as_secs_f64();
    let cdn_divergence = match world.edge.as_mut() {
        Some(e) => {
            e.divergence.finish(end, world.stats.warmup);
            divergence_stats(&e.divergence, measured_span)
        }
        None => divergence_stats(&crate::metrics::Divergence::default(), measured_span),
    };
    world.spans.finish(&mut world.stats);
    let s: &mut Recorder = &mut world.stats;
    s.flush_histograms();
    let failed: u64 = s.errors.iter().sum();
    let errors: BTreeMap<&'static str, u64> = Cause::ALL.iter().map(|&c| (c.key(), s.errors[c as usize])).collect();
    let any_ok = s.ok > 0;
    let pct = |q: f64| any_ok.then(|| secs_us(s.latency_us.flushed().value_at_quantile(q)));
    let latency_s = LatencyStats {
        mean: any_ok.then(|| s.latency_sum_ns as f64 / s.ok as f64 / 1e9),
        p50: pct(0.50),
        p95: pct(0.95),
        p99: pct(0.99),
        p999: pct(0.999),
        max: any_ok.then(|| s.latency_max_ns as f64 / 1e9),
    };
    // Requests ranked beyond the p99, as hdrhistogram ranks it.
    let above_p99 = s.ok - ((0.99 * s.ok as f64).ceil() as u64).clamp(u64::from(any_ok), s.ok);
    let (latency_breakdown, when) = s.breakdown.finish(above_p99);
    let in_flight_at_end = s.counted_in_flight();
    let in_flight_mean = s.in_flight_mean(end);
    s.divergence.finish(end, s.warmup);
    let served = s.staleness_us.flushed().len();
    let any_checkout = s.checkouts > 0;
    let window = world.arrivals_end.since(s.warmup).0;
    let mut servers = s.process.report(world.units.iter().map(|u| u.cpu.busy_ns), window, s.origin_arrived);
    if let Some(m) = &world.memory {
        servers.memory_bytes = crate::metrics::MemoryPeaks { peak: m.server_peak, process_peak: m.process_peak };
        servers.oom_kills = m.oom_kills;
    }
    servers.link_utilisation = Spread::of(world.links.iter().map(|l| l.busy_ns[0]), window);
    servers.link_in_utilisation = Spread::of(world.links.iter().map(|l| l.busy_ns[1]), window);
    RunReport {
        model: spec.name.clone(),
        seed,
        replication,
        requests: RequestStats {
            arrived: s.arrived,
            ok: s.ok,
            failed,
            in_flight_at_end,
            errors,
            error_rate: ratio(failed, s.arrived),
            throughput_rps: s.ok as f64 / measured_s,
            in_flight_mean,
            sojourn_mean_s: {
                let left = s.ok + failed;
                if left == 0 { 0.0 } else { s.sojourn_sum_ns as f64 / left as f64 / 1e9 }
            },
            abandoned: s.abandoned,
            client_retries: s.client_retries,
            in_flight_peak: s.in_flight_peak,
        },
        latency_s,
        latency_breakdown,
        when,
        servers,
        cache: CacheStats {
            // The first cache looked at: the PoP when there is a CDN.
            hit_ratio: if spec.cdn.is_some() { ratio(edge.pop_hits, s.arrived) } else { ratio(s.hits, s.arrived) },
            // Behind a CDN: the client requests the edge answered without a
            // forward of their own (the origin's caches are in the layers).
            served_from_cache_ratio: if spec.cdn.is_some() {
                ratio(edge.answered_at_edge, s.arrived)
            } else {
                ratio(s.hits + s.coalesced + s.stale_served + s.remote_hits + s.response_hits, s.arrived)
            },
            coalesced: s.coalesced,
            fills: s.fills,
            stale_served: s.stale_served,
            misses: s.misses,
            early_recomputes: s.early_recomputes,
            layers: {
                let mut layers = BTreeMap::new();
                if spec.cdn.is_some() {
                    let (lookups, hits) = (edge.pop_lookups, edge.pop_hits);
                    layers.insert("cdn", LayerStats { hit_ratio: ratio(hits, lookups), lookups });
                }
                if spec.cdn.as_ref().is_some_and(|c| c.shield.is_some()) {
                    let (lookups, hits) = (edge.shield_lookups, edge.shield_hits);
                    layers.insert("shield", LayerStats { hit_ratio: ratio(hits, lookups), lookups });
                }
                if spec.cache.is_some() {
                    let lookups = s.origin_arrived;
                    layers.insert("local", LayerStats { hit_ratio: ratio(s.hits, lookups), lookups });
                }
                if spec.response_cache.is_some() {
                    layers.insert(
                        "response",
                        LayerStats {
                            hit_ratio: ratio(s.response_hits, s.response_lookups),
                            lookups: s.response_lookups,
                        },
                    );
                }
                if let Some(r) = redis {
                    layers.insert("redis", LayerStats { hit_ratio: ratio(r.hits, r.gets), lookups: r.gets });
                }
                layers
            },
        },
        redis: RedisStats {
            commands: redis.map_or(0, |r| r.commands),
            gets: redis.map_or(0, |r| r.gets),
            hit_ratio: redis.map_or(0.0, |r| ratio(r.hits, r.gets)),
            lock_not_owned: redis.map_or(0, |r| r.lock_not_owned),
            lock_acquisitions: redis.map_or(0, |r| r.lock_acquisitions),
            lease_takeovers: redis.map_or(0, |r| r.lease_takeovers),
            fallback_fetches: redis.map_or(0, |r| r.fallback_fetches),
            lock_timeouts: s.lock_timeouts,
            peak_queue_wait_s: redis.map_or(0.0, |r| r.peak_wait.as_secs_f64()),
            connections_opened: s.redis_connects.count,
            connect_s: s.redis_connects.stats(),
            peak_connections: redis.map_or(0, |r| r.connections_peak),
            max_connections_errors: s.redis_max_connections_errors,
        },
        backend: BackendStats {
            calls: s.backend_calls,
            calls_per_s: s.backend_calls as f64 / measured_s,
            attempts: s.backend_attempts,
            rate_limited: s.backend_rate_limited,
            peak_concurrent: s.backend_peak,
            peak_per_second: s.backend_peak_per_second,
            expiries: s.expiries,
            fetches_per_expiry_mean: (s.expiries > 0).then(|| s.expiry_fetches as f64 / s.expiries as f64),
            refused_per_expiry_mean: (s.expiries > 0).then(|| s.expiry_refused as f64 / s.expiries as f64),
            largest_burst: s.largest_burst,
        },
        pool: PoolStats {
            checkouts: s.checkouts,
            peak_in_use: s.pool_peak,
            peak_in_use_per_pool: s.pool_peak_per_pool,
            wait_probability: ratio(s.waited, s.checkouts + s.pool_timeouts),
            wait_mean_s: any_checkout.then(|| s.pool_wait_sum_ns as f64 / s.checkouts as f64 / 1e9),
            wait_p99_s: any_checkout.then(|| secs_us(s.pool_wait_us.flushed().value_at_quantile(0.99))),
            timeouts: s.pool_timeouts,
            db_peak_connections: u64::from(db_peak),
            connections_opened: s.pool_connects.count,
            connect_s: s.pool_connects.stats(),
        },
        divergence: divergence_stats(&s.divergence, measured_span),
        staleness_s: StalenessStats {
            mean: (served > 0).then(|| s.staleness_sum_ns as f64 / served as f64 / 1e9),
            p99: (served > 0).then(|| secs_us(s.staleness_us.flushed().value_at_quantile(0.99))),
            max: (served > 0).then(|| s.staleness_max_ns as f64 / 1e9),
        },
        cdn: CdnStats {
            pop_hit_ratio: ratio(edge.pop_hits, edge.pop_lookups),
            shield_hit_ratio: ratio(edge.shield_hits, edge.shield_lookups),
            origin_requests: edge.origin_requests,
            origin_rps: edge.origin_requests as f64 / measured_s,
            origin_errors: edge.origin_errors,
            not_modified: edge.not_modified,
            full_responses: edge.full_responses,
            collapsed: edge.collapsed,
            stale_served: edge.stale_served,
            divergence: cdn_divergence,
        },
        db: DbStats {
            queries: dbc.queries,
            replica_reads: dbc.replica_reads,
            stale_reads: dbc.stale_reads,
            stale_read_share: ratio(dbc.stale_reads, dbc.replica_reads),
            stale_lag_mean_s: (dbc.stale_reads > 0).then(|| dbc.stale_lag_sum_ns as f64 / dbc.stale_reads as f64 / 1e9),
            stale_lag_max_s: (dbc.stale_reads > 0).then(|| dbc.stale_lag_max_ns as f64 / 1e9),
            bouncer_waits: dbc.bouncer_waits,
            bouncer_wait_mean_s: (dbc.bouncer_waits > 0)
                .then(|| dbc.bouncer_wait_sum_ns as f64 / dbc.bouncer_waits as f64 / 1e9),
            bouncer_timeouts: dbc.bouncer_timeouts,
            bouncer_connections_opened: s.bouncer_connects.count,
            bouncer_connect_s: s.bouncer_connects.stats(),
        },
        engine: EngineStats {
            events: queue.events_processed(),
            simulated_s: end.as_secs_f64(),
            truncated,
            stop_reason: None,
        },
        fingerprint: Fingerprints::default(),
    }
}
