//! What the server processes did: their event loops' lag and CPU.

use super::recorder::histogram_up_to;
use super::run_length::RunLengthHistogram;
use serde::Serialize;

use crate::engine::SimDuration;

/// Recorded during a run, for requests that arrived after the warm-up.
pub struct ProcessRecorder {
    /// How long each CPU piece waited for its loop, nanoseconds.
    pub lag_ns: RunLengthHistogram,
    pub lag_max_ns: u64,
    /// CPU the measured requests that left used, full-core nanoseconds,
    /// and those requests (background refreshes' CPU counts, but not the
    /// refreshes themselves).
    pub cpu_ns: u128,
    pub cpu_requests: u64,
    /// The same for the successful client requests alone.
    pub cpu_ok_ns: u128,
    pub cpu_ok: u64,
    /// Garbage collections that started in the measured window, and their
    /// pauses' total, nanoseconds.
    pub gc_pauses: u64,
    pub gc_pause_ns: u128,
    /// Measured requests that a collection held back at least once.
    pub gc_delayed: u64,
}

impl Default for ProcessRecorder {
    fn default() -> Self {
        ProcessRecorder {
            // 1 ns to 1 h at first.
            lag_ns: RunLengthHistogram::new(histogram_up_to(3_600_000_000_000)),
            lag_max_ns: 0,
            cpu_ns: 0,
            cpu_requests: 0,
            cpu_ok_ns: 0,
            cpu_ok: 0,
            gc_pauses: 0,
            gc_pause_ns: 0,
            gc_delayed: 0,
        }
    }
}

impl ProcessRecorder {
    /// A CPU piece of a request started after waiting `lag` for its loop.
    pub fn loop_lag(&mut self, counted: bool, lag: SimDuration) {
        if counted {
            // Zero lags count too: the histogram's floor is 1 ns.
            let v = lag.0.max(1);
            self.lag_ns.record(v);
            self.lag_max_ns = self.lag_max_ns.max(lag.0);
        }
    }

    /// A collection that paused its loop for `took` ended.
    pub fn collection(&mut self, measuring: bool, took: SimDuration) {
        if measuring {
            self.gc_pauses += 1;
            self.gc_pause_ns += u128::from(took.0);
        }
    }

    /// A request left; `delayed` if it was measured and a collection held it.
    pub fn delayed_by_gc(&mut self, delayed: bool) {
        self.gc_delayed += u64::from(delayed);
    }

    /// A request that used `cpu_ns` of CPU left (`client`: one a client
    /// sent, not a background refresh). Counting at the end, not per
    /// piece, keeps the CPU per request right when a saturated loop leaves
    /// many requests half done.
    pub fn cpu_of_request(&mut self, counted: bool, client: bool, ok: bool, cpu_ns: u64) {
        if counted {
            self.cpu_ns += u128::from(cpu_ns);
            self.cpu_requests += u64::from(client);
            if client && ok {
                self.cpu_ok_ns += u128::from(cpu_ns);
                self.cpu_ok += 1;
            }
        }
    }
}

/// `servers` in the report: the worker processes' event loops.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct ServerStats {
    /// Share of the measured window each process's loop spent computing:
    /// the mean and the largest over processes.
    pub loop_utilisation: Spread,
    /// How long a ready piece of CPU waited for its loop, seconds (`null`
    /// when nothing computed).
    pub loop_lag_s: LagStats,
    /// CPU seconds per measured request, over those that left (a
    /// background refresh's CPU counts towards them).
    pub cpu_s_per_request: f64,
    /// CPU seconds per successful measured request (a failure skips its
    /// response's serialising): a loop's capacity is 1 / this.
    pub cpu_s_per_response: f64,
    /// Garbage-collection pauses that started in the measured window.
    pub gc_pauses: u64,
    /// Their total length, seconds.
    pub gc_pause_s: GcPauseStats,
    /// Share of the measured requests that reached the servers and that a
    /// pause held back at least once.
    pub gc_delayed_share: f64,
    /// Bytes held over the whole run (`servers.memory`; 0 without it).
    pub memory_bytes: MemoryPeaks,
    /// Processes the OOM killer ended in the measured window.
    pub oom_kills: u64,
    /// Share of the measured window each server's link spent sending
    /// responses: the mean and the largest over servers (`servers.link`).
    pub link_utilisation: Spread,
    /// The same for fetched payloads arriving.
    pub link_in_utilisation: Spread,
}

/// The most memory held at once.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct MemoryPeaks {
    /// By one server (its processes together).
    pub peak: u64,
    /// By one worker process.
    pub process_peak: u64,
}

impl Spread {
    /// The mean and the largest of `busy_ns` each over `window_ns`.
    pub fn of(busy_ns: impl Iterator<Item = u64>, window_ns: u64) -> Spread {
        let (mut n, mut sum, mut max) = (0u64, 0.0, 0.0f64);
        for busy in busy_ns {
            let u = if window_ns > 0 { busy as f64 / window_ns as f64 } else { 0.0 };
            (n, sum, max) = (n + 1, sum + u, max.max(u));
        }
        Spread { mean: if n > 0 { sum / n as f64 } else { 0.0 }, max }
    }
}

/// The pauses' total.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct GcPauseStats {
    pub total: f64,
}

/// The mean and the largest of a per-process figure.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct Spread {
    pub mean: f64,
    pub max: f64,
}

/// Percentiles of the loop lag.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct LagStats {
    pub p50: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
}

impl ProcessRecorder {
    /// The report, given each loop's busy nanoseconds in a window of
    /// `window_ns`, and the requests that left.
    pub fn report(&self, busy_ns: impl Iterator<Item = u64>, window_ns: u64, left: u64) -> ServerStats {
        let lag_ns = self.lag_ns.flushed();
        let lags = !lag_ns.is_empty();
        let q = |p: f64| lags.then(|| lag_ns.value_at_quantile(p) as f64 / 1e9);
        ServerStats {
            loop_utilisation: Spread::of(busy_ns, window_ns),
            loop_lag_s: LagStats { p50: q(0.5), p99: q(0.99), max: lags.then(|| self.lag_max_ns as f64 / 1e9) },
            cpu_s_per_request: if self.cpu_requests > 0 {
                self.cpu_ns as f64 / 1e9 / self.cpu_requests as f64
            } else {
                0.0
            },
            cpu_s_per_response: if self.cpu_ok > 0 { self.cpu_ok_ns as f64 / 1e9 / self.cpu_ok as f64 } else { 0.0 },
            gc_pauses: self.gc_pauses,
            gc_pause_s: GcPauseStats { total: self.gc_pause_ns as f64 / 1e9 },
            gc_delayed_share: if left > 0 { self.gc_delayed as f64 / left as f64 } else { 0.0 },
            ..ServerStats::default()
        }
    }
}
