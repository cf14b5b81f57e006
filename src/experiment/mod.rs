//! Experiments: grids of points over several models, replications with
//! confidence intervals, SLO verdicts and costs, run in parallel, resumable,
//! shardable. Configuration flows one way: experiment file -> [`Plan`] ->
//! runs (via `sim`) -> records on disk -> aggregated files.

mod analysis;
mod baseline;
mod expect;
mod limit;
mod metastability;
mod output;
mod percentile;
mod plan;
mod record;
mod spec;
mod stats;
mod store;
mod sweep;
mod trigger;
mod verdict;

pub use analysis::{PointResult, Row, analyze, rows};
pub use baseline::{Baseline, Comparison, compare, load_baseline};
pub use expect::{Expectation, ExpectationResult};
pub use limit::{Evaluation, LimitResult, Recovery, find_limits, spike_recovery};
pub use metastability::{AfterTrigger, Sustaining, after_trigger};
pub use output::matrix_md;
pub use percentile::{MIN_BEYOND, PooledQuantile, pooled_quantile};
pub use plan::{MAX_RUNS, Plan, Point, RunId, load_experiment, plan_for_model};
pub use record::RunRecord;
pub use spec::{Axis, ExperimentSpec, Grid, GridValue, LimitSearch, Slo};
pub use stats::{Estimate, PointStats, Pooled, aggregate, t_975};
pub use store::Store;
pub use sweep::{Shard, SweepOptions, SweepOutcome, finish, load_plan, merge, sweep};
pub use trigger::{Trigger, Triggered, with_trigger};
pub use verdict::{Level, Verdict, judge};
