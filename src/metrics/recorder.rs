//! Collects a run's statistics as it goes, in bounded memory: counters,
//! streaming histograms (hdrhistogram) and time integrals; never a list of
//! every latency.

use hdrhistogram::Histogram;

use super::breakdown::{Breakdown, PHASES, Period};
use super::divergence::Divergence;
use super::report::Cause;
use super::run_length::RunLengthHistogram;
use super::series::Series;
use crate::engine::{SimDuration, SimTime};

/// A histogram of 3 significant digits whose range starts at 1 – `high`
/// and grows if a value needs it.
pub(super) fn histogram_up_to(high: u64) -> Histogram<u64> {
    let mut h = Histogram::new_with_bounds(1, high, 3).expect("valid bounds");
    h.auto(true);
    h
}

/// Latencies are recorded in microseconds: 1 µs – 1 h at first.
pub fn histogram() -> Histogram<u64> {
    histogram_up_to(3_600_000_000)
}

/// Records `v`, growing the range if needed (saturating only if it cannot).
fn record(h: &mut Histogram<u64>, v: u64) {
    if h.record(v).is_err() {
        h.saturating_record(v);
    }
}

fn micros(d: SimDuration) -> u64 {
    d.0.div_ceil(1_000)
}

/// Connections opened, and how long opening them took.
pub struct Connects {
    pub count: u64,
    sum_ns: u128,
    us: Histogram<u64>,
}

impl Default for Connects {
    fn default() -> Connects {
        Connects { count: 0, sum_ns: 0, us: histogram() }
    }
}

impl Connects {
    /// One more connection, opened in `d`.
    pub fn add(&mut self, d: SimDuration) {
        self.count += 1;
        self.sum_ns += u128::from(d.0);
        record(&mut self.us, micros(d));
    }

    /// Mean and 99th percentile of the time to open one, seconds (`None`
    /// when none was opened).
    pub fn stats(&self) -> super::ConnectStats {
        let any = self.count > 0;
        super::ConnectStats {
            mean: any.then(|| self.sum_ns as f64 / self.count as f64 / 1e9),
            p99: any.then(|| self.us.value_at_quantile(0.99) as f64 / 1e6),
        }
    }
}

/// Running statistics of one run. Only events at or after `warmup` count.
pub struct Recorder {
    pub warmup: SimTime,
    pub arrived: u64,
    /// Requests that reached the origin's servers (all of them without a CDN).
    pub origin_arrived: u64,
    pub ok: u64,
    pub errors: [u64; Cause::ALL.len()],
    pub latency_us: RunLengthHistogram,
    pub latency_sum_ns: u128,
    pub latency_max_ns: u64,
    /// Time in the system of every measured request that left, failures included.
    pub sojourn_sum_ns: u128,
    pub hits: u64,
    pub coalesced: u64,
    pub fills: u64,
    pub backend_calls: u64,
    pub backend_attempts: u64,
    pub backend_rate_limited: u64,
    pub backend_in_flight: u64,
    pub backend_peak: u64,
    second: u64,
    second_count: u64,
    pub backend_peak_per_second: u64,
    pub expiries: u64,
    pub expiry_fetches: u64,
    pub expiry_refused: u64,
    pub largest_burst: u64,
    pub checkouts: u64,
    pub waited: u64,
    pub pool_wait_us: RunLengthHistogram,
    pub pool_wait_sum_ns: u128,
    /// Most connections in use at once, all pools together, and in any one.
    pub pool_peak: u64,
    pub pool_peak_per_pool: u64,
    /// Connections in use now, all pools together.
    pool_in_use: u64,
    pub pool_timeouts: u64,
    /// Connections the measured requests' pools opened, PgBouncer's server
    /// connections opened in measured time, and Redis connections the
    /// measured requests opened: how many, and how long each took.
    pub pool_connects: Connects,
    pub bouncer_connects: Connects,
    pub redis_connects: Connects,
    pub redis_max_connections_errors: u64,
    in_flight: u64,
    /// Requests in the system that arrived after the warm-up.
    counted_in_flight: u64,
    pub in_flight_peak: u64,
    in_flight_area: u128,
    last_change: SimTime,
    /// Per-bucket counters, when asked for (whole run, warm-up included).
    pub series: Option<Series>,
    /// The worker processes' event loops.
    pub process: super::ProcessRecorder,
    /// Versions held by the caches, and divergence windows.
    pub divergence: Divergence,
    /// Age behind the newest version of what was served, microseconds.
    pub staleness_us: RunLengthHistogram,
    pub staleness_sum_ns: u128,
    pub staleness_max_ns: u64,
    /// Requests served an expired entry (stale-while-revalidate).
    pub stale_served: u64,
    pub misses: u64,
    pub early_recomputes: u64,
    /// Redis lock waiters that gave up.
    pub lock_timeouts: u64,
    /// Requests that missed in memory and were served by a Redis hit.
    pub remote_hits: u64,
    /// Response-cache lookups and hits (measured requests).
    pub response_lookups: u64,
    pub response_hits: u64,
    /// Requests whose client gave up, and retries sent (`workload.client`).
    pub abandoned: u64,
    pub client_retries: u64,
    /// Where measured requests' time went, and when they failed or were slow.
    pub breakdown: Breakdown,
}

impl Recorder {
    /// Empty statistics; nothing before `warmup` counts.
    pub fn new(warmup: SimTime) -> Recorder {
        Recorder {
            warmup,
            arrived: 0,
            origin_arrived: 0,
            ok: 0,
            errors: [0; Cause::ALL.len()],
            latency_us: RunLengthHistogram::new(histogram()),
            latency_sum_ns: 0,
            latency_max_ns: 0,
            sojourn_sum_ns: 0,
            hits: 0,
            coalesced: 0,
            fills: 0,
            backend_calls: 0,
            backend_attempts: 0,
            backend_rate_limited: 0,
            backend_in_flight: 0,
            backend_peak: 0,
            second: u64::MAX,
            second_count: 0,
            backend_peak_per_second: 0,
            expiries: 0,
            expiry_fetches: 0,
            expiry_refused: 0,
            largest_burst: 0,
            checkouts: 0,
            waited: 0,
            pool_wait_us: RunLengthHistogram::new(histogram()),
            pool_wait_sum_ns: 0,
            pool_peak: 0,
            pool_peak_per_pool: 0,
            pool_in_use: 0,
            pool_timeouts: 0,
            pool_connects: Connects::default(),
            bouncer_connects: Connects::default(),
            redis_connects: Connects::default(),
            redis_max_connections_errors: 0,
            in_flight: 0,
            counted_in_flight: 0,
            in_flight_peak: 0,
            in_flight_area: 0,
            last_change: SimTime::ZERO,
            series: None,
            process: super::ProcessRecorder::default(),
            divergence: Divergence::default(),
            staleness_us: RunLengthHistogram::new(histogram()),
            staleness_sum_ns: 0,
            staleness_max_ns: 0,
            stale_served: 0,
            misses: 0,
            early_recomputes: 0,
            lock_timeouts: 0,
            remote_hits: 0,
            response_lookups: 0,
            response_hits: 0,
            abandoned: 0,
            client_retries: 0,
            breakdown: Breakdown::default(),
        }
    }

    /// Moves every histogram's last run of equal samples in, so that the
    /// histograms can be read: once, when the run ends.
    pub fn flush_histograms(&mut self) {
        self.latency_us.flush();
        self.pool_wait_us.flush();
        self.staleness_us.flush();
        self.process.lag_ns.flush();
    }

    /// Whether `now` is past the warm-up (what happens then is counted).
    #[inline]
    pub fn measuring(&self, now: SimTime) -> bool {
        now >= self.warmup
    }

    /// Accumulates ∫ in_flight dt over the measured span up to `now`.
    fn integrate(&mut self, now: SimTime) {
        let from = self.last_change.max(self.warmup);
        if now > from {
            self.in_flight_area += u128::from(self.in_flight) * u128::from(now.0 - from.0);
        }
        self.last_change = now;
    }

    /// A request entered the system.
    pub fn request_entered(&mut self, now: SimTime, counted: bool) {
        self.integrate(now);
        self.in_flight += 1;
        if counted {
            self.arrived += 1;
            self.counted_in_flight += 1;
        }
        if let Some(s) = &mut self.series {
            let b = s.at(now);
            b.arrived += 1;
            b.in_flight_max = b.in_flight_max.max(self.in_flight);
        }
        if self.measuring(now) {
            self.in_flight_peak = self.in_flight_peak.max(self.in_flight);
        }
    }

    /// A request left the system after `sojourn`, successfully or with a
    /// cause, having spent `spent` in each phase, in `period` of the run.
    pub fn request_left(
        &mut self,
        now: SimTime,
        counted: bool,
        sojourn: SimDuration,
        outcome: Result<(), Cause>,
        (spent, period): ([u64; PHASES], Period),
    ) {
        let outcome = outcome.map(|()| sojourn);
        self.integrate(now);
        self.in_flight -= 1;
        if let Some(s) = &mut self.series {
            let slow_above = s.slow_above_ns;
            let b = s.at(now);
            match outcome {
                Ok(latency) => {
                    b.ok += 1;
                    b.latency_sum_ns += latency.0;
                    b.latency_max_ns = b.latency_max_ns.max(latency.0);
                    b.slow += u64::from(latency.0 > slow_above);
                }
                Err(_) => b.failed += 1,
            }
        }
        if !counted {
            return;
        }
        self.counted_in_flight -= 1;
        self.sojourn_sum_ns += u128::from(sojourn.0);
        match outcome {
            Ok(latency) => {
                self.ok += 1;
                self.latency_us.record(micros(latency));
                self.latency_sum_ns += u128::from(latency.0);
                self.latency_max_ns = self.latency_max_ns.max(latency.0);
                self.breakdown.succeeded(latency.0, spent, period);
            }
            Err(cause) => {
                self.errors[cause as usize] += 1;
                self.breakdown.failed(period);
            }
        }
    }

    /// Requests still in the system.
    pub fn in_flight(&self) -> u64 {
        self.in_flight
    }

    /// Requests still in the system that arrived after the warm-up, so that
    /// arrived = ok + failed + this.
    pub fn counted_in_flight(&self) -> u64 {
        self.counted_in_flight
    }

    /// A fetch attempt went to the backend (`admitted`) or was refused, by
    /// the rate limit (`by_limit`) or an outage.
    pub fn fetch_attempt(&mut self, now: SimTime, admitted: bool, by_limit: bool) {
        let measuring = self.measuring(now);
        if measuring {
            self.backend_attempts += 1;
        }
        if !admitted {
            if measuring && by_limit {
                self.backend_rate_limited += 1;
            }
            return;
        }
        self.backend_in_flight += 1;
        if let Some(s) = &mut self.series {
            s.at(now).backend_calls += 1;
        }
        if measuring {
            self.backend_peak = self.backend_peak.max(self.backend_in_flight);
            let second = now.0 / 1_000_000_000;
            if second != self.second {
                self.second = second;
                self.second_count = 0;
            }
            self.second_count += 1;
            self.backend_peak_per_second = self.backend_peak_per_second.max(self.second_count);
        }
    }

    /// A fetch came back.
    pub fn fetch_done(&mut self, now: SimTime) {
        self.backend_in_flight -= 1;
        if self.measuring(now) {
            self.backend_calls += 1;
        }
    }

    /// A measured expiry span is over: `reached` fetches it caused reached
    /// the backend and `refused` attempts were refused.
    pub fn expiry_counted(&mut self, reached: u64, refused: u64) {
        self.expiries += 1;
        self.expiry_fetches += reached;
        self.expiry_refused += refused;
        self.largest_burst = self.largest_burst.max(reached);
    }

    /// `cache` was filled with `version` (divergence and the time series).
    pub fn cache_filled(&mut self, cache: usize, version: u64, now: SimTime) {
        self.divergence.filled(cache, version, now, self.warmup);
        if let Some(s) = &mut self.series {
            s.filled(cache, now);
        }
    }

    /// A measured request was served data `staleness` behind the newest.
    pub fn served(&mut self, counted: bool, staleness: SimDuration) {
        if counted {
            self.staleness_us.record(micros(staleness));
            self.staleness_sum_ns += u128::from(staleness.0);
            self.staleness_max_ns = self.staleness_max_ns.max(staleness.0);
        }
    }

    /// A request found no fresh entry in its cache (`counted`: a measured
    /// one, which the totals count; the series counts every one).
    pub fn cache_missed(&mut self, now: SimTime, counted: bool) {
        self.misses += u64::from(counted);
        if let Some(s) = &mut self.series {
            s.at(now).misses += 1;
        }
    }

    /// A cache (or Redis) was filled.
    pub fn fill(&mut self, now: SimTime) {
        if self.measuring(now) {
            self.fills += 1;
        }
        if let Some(s) = &mut self.series {
            s.refills.push(now.0);
        }
    }

    /// A request began opening a pool connection that takes `d`.
    pub fn connect_started(&mut self, counted: bool, d: SimDuration) {
        if counted {
            self.pool_connects.add(d);
        }
    }

    /// A pool checkout succeeded after waiting `wait`, with `in_use`
    /// connections now checked out of that pool.
    pub fn checkout(&mut self, now: SimTime, counted: bool, wait: SimDuration, in_use: u64) {
        self.pool_in_use += 1;
        if let Some(s) = &mut self.series {
            let b = s.at(now);
            b.pool_in_use_max = b.pool_in_use_max.max(self.pool_in_use);
        }
        if self.measuring(now) {
            self.pool_peak_per_pool = self.pool_peak_per_pool.max(in_use);
            self.pool_peak = self.pool_peak.max(self.pool_in_use);
        }
        if counted {
            self.checkouts += 1;
            if wait.0 > 0 {
                self.waited += 1;
            }
            self.pool_wait_us.record(micros(wait));
            self.pool_wait_sum_ns += u128::from(wait.0);
        }
    }

    /// A connection went back to its pool.
    pub fn checkin(&mut self) {
        self.pool_in_use -= 1;
    }

    /// A pool wait timed out (or found the pool full with no patience).
    pub fn pool_timeout(&mut self, counted: bool) {
        if counted {
            self.pool_timeouts += 1;
            self.waited += 1;
        }
    }

    /// Closes the time integrals at `end`, returning the mean in flight.
    pub fn in_flight_mean(&mut self, end: SimTime) -> f64 {
        self.integrate(end);
        let span = end.0.saturating_sub(self.warmup.0);
        if span == 0 { 0.0 } else { self.in_flight_area as f64 / span as f64 }
    }
}
