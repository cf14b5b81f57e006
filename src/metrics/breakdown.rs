//! Where a request's time goes (phases) and when in the run it failed or
//! was slow (periods), so that a verdict can say *why*: "p99 1.2 s: 85% lock
//! wait, 10% pool wait; slow requests: 90% after an expiry".
//!
//! Each request carries a [`PhaseClock`]: the phase it is in and since
//! when. Every change of activity charges the time since to the phase it
//! leaves. When a request succeeds, its phase times land in a bucket of its
//! latency (log-spaced, at most 1/32 wide), with its period. The p99 is
//! known only at the end; then the buckets from the slowest down give the
//! requests above it (the bucket that holds the p99 in proportion).

use serde::Serialize;

use crate::engine::SimTime;

/// What a request is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Phase {
    /// Waiting for a worker slot (the server's concurrency).
    #[default]
    Queue,
    /// Waiting for another request's fetch: the cache lock, a lease, or the
    /// Redis lock's polling.
    LockWait,
    /// Its own backend fetch, backoff sleeps and retries included.
    Fetch,
    /// The endpoint's handler time.
    Handler,
    /// Waiting for a pool (or PgBouncer) connection.
    PoolWait,
    /// Its database query.
    Query,
    /// Redis commands: round trips and Redis's queue.
    Redis,
    /// At the CDN: a client's whole time there, the origin fetch it waits
    /// for included.
    Cdn,
    /// Ready to run but waiting for its process's event loop (loop lag).
    LoopWait,
    /// Computing on its process's event loop (parsing, handler CPU, JSON),
    /// slowed when the server's processes share too few cores.
    Cpu,
    /// Its response on the server's network link: queued behind other
    /// responses, then on the wire.
    Link,
}

/// The number of phases.
pub const PHASES: usize = 11;

impl Phase {
    /// Every phase, in report order.
    pub const ALL: [Phase; PHASES] = [
        Phase::Queue,
        Phase::LockWait,
        Phase::Fetch,
        Phase::Handler,
        Phase::PoolWait,
        Phase::Query,
        Phase::Redis,
        Phase::Cdn,
        Phase::LoopWait,
        Phase::Cpu,
        Phase::Link,
    ];

    /// The key stem in `latency_breakdown.<set>.<key>_s`.
    pub fn key(self) -> &'static str {
        match self {
            Phase::Queue => "queue",
            Phase::LockWait => "lock_wait",
            Phase::Fetch => "fetch",
            Phase::Handler => "handler",
            Phase::PoolWait => "pool_wait",
            Phase::Query => "query",
            Phase::Redis => "redis",
            Phase::Cdn => "cdn",
            Phase::LoopWait => "loop_wait",
            Phase::Cpu => "cpu",
            Phase::Link => "link",
        }
    }

    /// How a verdict names it.
    pub fn words(self) -> &'static str {
        match self {
            Phase::Queue => "worker queue",
            Phase::LockWait => "lock wait",
            Phase::Fetch => "backend fetch",
            Phase::Handler => "handler",
            Phase::PoolWait => "pool wait",
            Phase::Query => "query",
            Phase::Redis => "Redis",
            Phase::Cdn => "CDN",
            Phase::LoopWait => "event-loop wait",
            Phase::Cpu => "CPU",
            Phase::Link => "network link",
        }
    }
}

/// When in the run a request arrived, as far as its fate goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Period {
    /// None of the below.
    #[default]
    Other,
    /// It found its cache never filled (a cold start, or a restart).
    ColdStart,
    /// It found its cache entry expired (or due for an early refresh).
    AfterExpiry,
    /// It arrived during a fault window (backend or Redis down or slow).
    Fault,
}

/// The number of periods.
pub const PERIODS: usize = 4;

impl Period {
    /// Every period, in report order.
    pub const ALL: [Period; PERIODS] = [Period::ColdStart, Period::AfterExpiry, Period::Fault, Period::Other];

    fn index(self) -> usize {
        match self {
            Period::ColdStart => 0,
            Period::AfterExpiry => 1,
            Period::Fault => 2,
            Period::Other => 3,
        }
    }

    /// The key in `when.<set>.<key>`.
    pub fn key(self) -> &'static str {
        match self {
            Period::ColdStart => "cold_start",
            Period::AfterExpiry => "after_expiry",
            Period::Fault => "fault",
            Period::Other => "other",
        }
    }

    /// How a verdict names it.
    pub fn words(self) -> &'static str {
        match self {
            Period::ColdStart => "in the cold start",
            Period::AfterExpiry => "after an expiry",
            Period::Fault => "during a fault",
            Period::Other => "at other times",
        }
    }

    /// Marks a request: a fault outweighs a cold cache, which outweighs an
    /// expiry (the first explains the others).
    pub fn mark(&mut self, seen: Period) {
        let rank = |p: Period| match p {
            Period::Other => 0,
            Period::AfterExpiry => 1,
            Period::ColdStart => 2,
            Period::Fault => 3,
        };
        if rank(seen) > rank(*self) {
            *self = seen;
        }
    }
}

/// A request's phase and the time it has spent in each.
#[derive(Debug, Clone, Copy)]
pub struct PhaseClock {
    phase: Phase,
    since: SimTime,
    spent: [u64; PHASES],
}

impl PhaseClock {
    /// A request that arrived at `at`, in `phase`.
    pub fn new(at: SimTime, phase: Phase) -> PhaseClock {
        PhaseClock { phase, since: at, spent: [0; PHASES] }
    }

    /// From `now` on, the request is in `next`.
    #[inline]
    pub fn enter(&mut self, now: SimTime, next: Phase) {
        self.spent[self.phase as usize] += now.0.saturating_sub(self.since.0);
        (self.phase, self.since) = (next, now);
    }

    /// The phase the request is in.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Time per phase, in nanoseconds, up to `now`.
    pub fn spent(mut self, now: SimTime) -> [u64; PHASES] {
        self.enter(now, self.phase);
        self.spent
    }
}

/// Successful requests of one latency bucket.
#[derive(Debug, Clone, Copy, Default)]
struct Cell {
    requests: u64,
    /// Nanoseconds per phase, summed (saturating: beyond 584 years of
    /// summed time a bucket stops counting).
    phase_ns: [u64; PHASES],
    periods: [u64; PERIODS],
}

/// Sub-buckets per power of two: a bucket is at most 1/32 of its latency wide.
const SUB_BITS: u32 = 5;

/// The bucket of a latency in nanoseconds.
fn bucket(ns: u64) -> usize {
    let v = ns.max(1);
    let e = 63 - v.leading_zeros();
    let m = if e >= SUB_BITS { (v >> (e - SUB_BITS)) & ((1 << SUB_BITS) - 1) } else { (v << (SUB_BITS - e)) & 31 };
    ((e << SUB_BITS) | m as u32) as usize
}

/// Phase times and periods of every measured request, by latency.
#[derive(Debug, Default)]
pub struct Breakdown {
    cells: Vec<Cell>,
    /// Failed requests by period.
    failed: [u64; PERIODS],
}

/// Mean seconds per phase over a set of requests.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct PhaseMeans {
    pub queue_s: f64,
    pub lock_wait_s: f64,
    pub fetch_s: f64,
    pub handler_s: f64,
    pub pool_wait_s: f64,
    pub query_s: f64,
    pub redis_s: f64,
    pub cdn_s: f64,
    pub loop_wait_s: f64,
    pub cpu_s: f64,
    pub link_s: f64,
}

impl PhaseMeans {
    fn of(sums: [f64; PHASES], n: f64) -> PhaseMeans {
        let m = |i: usize| if n > 0.0 { sums[i] / n } else { 0.0 };
        PhaseMeans {
            queue_s: m(0),
            lock_wait_s: m(1),
            fetch_s: m(2),
            handler_s: m(3),
            pool_wait_s: m(4),
            query_s: m(5),
            redis_s: m(6),
            cdn_s: m(7),
            loop_wait_s: m(8),
            cpu_s: m(9),
            link_s: m(10),
        }
    }
}

/// `latency_breakdown` of the report: where the time of successful
/// requests goes, over all of them and over those above the p99.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct LatencyBreakdown {
    pub all: PhaseMeans,
    pub above_p99: PhaseMeans,
}

/// Shares by period (0 when there are none to share).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct PeriodShares {
    pub cold_start: f64,
    pub after_expiry: f64,
    pub fault: f64,
    pub other: f64,
}

impl PeriodShares {
    fn of(counts: [f64; PERIODS]) -> PeriodShares {
        let total: f64 = counts.iter().sum();
        let s = |i: usize| if total > 0.0 { counts[i] / total } else { 0.0 };
        PeriodShares { cold_start: s(0), after_expiry: s(1), fault: s(2), other: s(3) }
    }
}

/// `when` of the report: in which period the failed requests and the slow
/// ones (above the p99) arrived.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct WhenStats {
    pub failed: PeriodShares,
    pub slow: PeriodShares,
}

impl Breakdown {
    /// A measured request succeeded after `latency_ns`.
    pub fn succeeded(&mut self, latency_ns: u64, spent: [u64; PHASES], period: Period) {
        let b = bucket(latency_ns);
        if self.cells.len() <= b {
            self.cells.resize(b + 1, Cell::default());
        }
        let c = &mut self.cells[b];
        c.requests += 1;
        for (sum, ns) in c.phase_ns.iter_mut().zip(spent) {
            *sum = sum.saturating_add(ns);
        }
        c.periods[period.index()] += 1;
    }

    /// A measured request failed.
    pub fn failed(&mut self, period: Period) {
        self.failed[period.index()] += 1;
    }

    /// The breakdowns, with `above` the number of successful requests above
    /// the p99 (ranked beyond it).
    pub fn finish(&self, above: u64) -> (LatencyBreakdown, WhenStats) {
        let mut all = [0.0; PHASES];
        let mut n = 0.0;
        for c in &self.cells {
            n += c.requests as f64;
            all.iter_mut().zip(c.phase_ns).for_each(|(a, s)| *a += s as f64 / 1e9);
        }
        // From the slowest bucket down, until `above` requests are taken;
        // the last bucket in proportion.
        let (mut tail, mut periods, mut left) = ([0.0; PHASES], [0.0; PERIODS], above as f64);
        for c in self.cells.iter().rev() {
            if left <= 0.0 {
                break;
            }
            if c.requests == 0 {
                continue;
            }
            let take = (c.requests as f64).min(left) / c.requests as f64;
            tail.iter_mut().zip(c.phase_ns).for_each(|(t, s)| *t += s as f64 / 1e9 * take);
            periods.iter_mut().zip(c.periods).for_each(|(p, k)| *p += k as f64 * take);
            left -= c.requests as f64 * take;
        }
        let failed = self.failed.map(|k| k as f64);
        (
            LatencyBreakdown { all: PhaseMeans::of(all, n), above_p99: PhaseMeans::of(tail, above as f64 - left) },
            WhenStats { failed: PeriodShares::of(failed), slow: PeriodShares::of(periods) },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phase_clock_charges_each_stretch_to_the_phase_it_leaves() {
        let mut c = PhaseClock::new(SimTime(100), Phase::Queue);
        c.enter(SimTime(150), Phase::LockWait);
        c.enter(SimTime(400), Phase::Handler);
        let spent = c.spent(SimTime(1000));
        assert_eq!(spent[Phase::Queue as usize], 50);
        assert_eq!(spent[Phase::LockWait as usize], 250);
        assert_eq!(spent[Phase::Handler as usize], 600);
        assert_eq!(spent.iter().sum::<u64>(), 900, "the phases add up to the latency");
    }

    #[test]
    fn buckets_rise_with_latency_and_are_at_most_a_32nd_wide() {
        let mut last = 0;
        for ns in (1..2_000_000u64).step_by(997) {
            let b = bucket(ns);
            assert!(b >= last);
            last = b;
        }
        // Two latencies 1/16 apart never share a bucket.
        for ns in [1_000u64, 65_432, 1_000_000_007, 86_400_000_000_000] {
            assert_ne!(bucket(ns), bucket(ns + ns / 16), "{ns}");
        }
    }

    #[test]
    fn the_requests_above_the_p99_are_the_slowest_buckets() {
        let mut b = Breakdown::default();
        // 990 fast requests all handler; 10 slow ones, 90% lock wait.
        let fast = [0, 0, 0, 10_000_000, 0, 0, 0, 0, 0, 0, 0];
        let slow = [0, 900_000_000, 0, 100_000_000, 0, 0, 0, 0, 0, 0, 0];
        for _ in 0..990 {
            b.succeeded(10_000_000, fast, Period::Other);
        }
        for _ in 0..10 {
            b.succeeded(1_000_000_000, slow, Period::AfterExpiry);
        }
        b.failed(Period::ColdStart);
        let (lat, when) = b.finish(10);
        assert!((lat.above_p99.lock_wait_s - 0.9).abs() < 1e-12);
        assert!((lat.above_p99.handler_s - 0.1).abs() < 1e-12);
        assert!((lat.all.handler_s - (990.0 * 0.01 + 10.0 * 0.1) / 1000.0).abs() < 1e-12);
        assert_eq!(when.slow.after_expiry, 1.0);
        assert_eq!(when.failed.cold_start, 1.0);
    }
}
