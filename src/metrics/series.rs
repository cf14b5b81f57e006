//! Time series: per-bucket counters over simulated time (one bucket per
//! second by default), for plots and for judging recovery after a load
//! spike. Memory is one small record per bucket, bounded by the run's length
//! over the bucket width.

use serde::Serialize;

use crate::engine::{SimDuration, SimTime};

/// The most buckets a series may have (`run --plot --bucket`): 72 bytes
/// each, so at most 72 MB.
pub const MAX_SERIES_BUCKETS: u64 = 1_000_000;

/// The most cache fills a series keeps for its data-age plot, over all
/// servers; later fills are not drawn.
pub const MAX_SERIES_FILLS: usize = 1_000_000;

/// Counters of one time bucket. Requests are counted in the bucket where
/// they end (ok or failed) or arrive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Bucket {
    pub arrived: u64,
    pub ok: u64,
    pub failed: u64,
    /// Sum of the latencies of `ok` requests, nanoseconds.
    pub latency_sum_ns: u64,
    /// Largest latency of a request ending here, nanoseconds.
    pub latency_max_ns: u64,
    /// Successful requests slower than the series' `slow_above_ns`.
    pub slow: u64,
    /// Backend fetches sent.
    pub backend_calls: u64,
    /// Requests that found no fresh entry in their cache (local, or Redis
    /// where there is no local one): a sustaining effect when it stays high.
    pub misses: u64,
    /// Most requests in the system at once.
    pub in_flight_max: u64,
    /// Most pool connections in use at once, all pools together.
    pub pool_in_use_max: u64,
}

/// A series of buckets of equal width from time zero.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    /// Bucket width, nanoseconds.
    pub bucket_ns: u64,
    pub buckets: Vec<Bucket>,
    /// For each server, when its cache was filled (nanoseconds): the data
    /// version it serves changes at each fill.
    pub server_fills: Vec<Vec<u64>>,
    /// When any cache (local or the shared Redis) was filled by a fetch,
    /// nanoseconds: where the expiries' stampedes are.
    #[serde(skip)]
    pub refills: Vec<u64>,
    /// A successful request slower than this counts in its bucket's `slow`
    /// (nanoseconds; `u64::MAX`, the default, counts none).
    #[serde(skip)]
    pub slow_above_ns: u64,
    /// Fills kept in `server_fills`, at most [`MAX_SERIES_FILLS`].
    #[serde(skip)]
    pub fills_kept: usize,
}

impl Series {
    /// An empty series with buckets of `width`.
    pub fn new(width: SimDuration) -> Series {
        Series {
            bucket_ns: width.0.max(1),
            buckets: Vec::new(),
            server_fills: Vec::new(),
            refills: Vec::new(),
            slow_above_ns: u64::MAX,
            fills_kept: 0,
        }
    }

    /// Notes that `server`'s cache was filled at `t`.
    pub fn filled(&mut self, server: usize, t: SimTime) {
        if self.fills_kept >= MAX_SERIES_FILLS {
            return;
        }
        self.fills_kept += 1;
        if self.server_fills.len() <= server {
            self.server_fills.resize(server + 1, Vec::new());
        }
        self.server_fills[server].push(t.0);
    }

    /// Whether a cache was filled by a fetch in `[from, to)`.
    pub fn refilled_between(&self, from: SimTime, to: SimTime) -> bool {
        self.refills.iter().any(|&t| from.0 <= t && t < to.0)
    }

    /// Bucket width in seconds.
    pub fn bucket_secs(&self) -> f64 {
        self.bucket_ns as f64 / 1e9
    }

    /// The bucket holding `t`, created if needed.
    #[inline]
    pub fn at(&mut self, t: SimTime) -> &mut Bucket {
        let i = (t.0 / self.bucket_ns) as usize;
        if i >= self.buckets.len() {
            self.buckets.resize(i + 1, Bucket::default());
        }
        &mut self.buckets[i]
    }

    /// Sums the buckets whose start lies in [from, to).
    pub fn window(&self, from: SimTime, to: SimTime) -> Bucket {
        let (a, b) = ((from.0 / self.bucket_ns) as usize, (to.0.div_ceil(self.bucket_ns)) as usize);
        let mut sum = Bucket::default();
        for x in self.buckets.iter().take(b).skip(a) {
            sum.arrived += x.arrived;
            sum.ok += x.ok;
            sum.failed += x.failed;
            sum.latency_sum_ns += x.latency_sum_ns;
            sum.latency_max_ns = sum.latency_max_ns.max(x.latency_max_ns);
            sum.slow += x.slow;
            sum.backend_calls += x.backend_calls;
            sum.misses += x.misses;
            sum.in_flight_max = sum.in_flight_max.max(x.in_flight_max);
            sum.pool_in_use_max = sum.pool_in_use_max.max(x.pool_in_use_max);
        }
        sum
    }
}

impl Bucket {
    /// Share of ended requests that failed.
    pub fn error_rate(&self) -> f64 {
        let ended = self.ok + self.failed;
        if ended == 0 { 0.0 } else { self.failed as f64 / ended as f64 }
    }

    /// Mean latency of successful requests, seconds.
    pub fn mean_latency_s(&self) -> Option<f64> {
        (self.ok > 0).then(|| self.latency_sum_ns as f64 / self.ok as f64 / 1e9)
    }
}
