//! Statistics: what a run records as it goes ([`Recorder`]) and what it
//! reports ([`RunReport`], the `--json` contract).

mod recorder;
mod report;
mod series;

pub use recorder::Recorder;
pub use report::{
    BackendStats, CacheStats, Cause, EngineStats, Fingerprints, LatencyStats, PoolStats, RequestStats, RunReport,
};
pub use series::{Bucket, Series};
