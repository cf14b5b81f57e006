//! Statistics: what a run records as it goes ([`Recorder`]) and what it
//! reports ([`RunReport`], the `--json` contract).

mod breakdown;
mod divergence;
mod process;
mod recorder;
mod report;
mod run_length;
mod series;

pub use breakdown::{
    Breakdown, LatencyBreakdown, PHASES, Period, PeriodShares, Phase, PhaseClock, PhaseMeans, WhenStats,
};
pub use divergence::Divergence;
pub use process::{GcPauseStats, LagStats, MemoryPeaks, ProcessRecorder, ServerStats, Spread};
pub use recorder::{Recorder, histogram};
pub use report::{
    BackendStats, CacheStats, Cause, CdnStats, ConnectStats, DbStats, DivergenceStats, EngineStats, Fingerprints,
    LatencyStats, LayerStats, PoolStats, RedisStats, RequestStats, RunReport, StalenessStats,
};
pub use run_length::RunLengthHistogram;
pub use series::{Bucket, MAX_SERIES_BUCKETS, MAX_SERIES_FILLS, Series};
