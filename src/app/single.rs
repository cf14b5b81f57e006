//! Commands on one model: `run`, and the default side-by-side comparison.

use super::reports::write_run_plots;
use super::{guard, options, print};
use crate::builtin;
use crate::cli::RunArgs;
use crate::config::{apply_overrides, load_model};
use crate::error::AppError;
use crate::report::{comparison, summary};
use crate::sim::{RunOptions, simulate, simulate_detailed};

pub(super) fn run_model(args: RunArgs) -> Result<(), AppError> {
    let spec = apply_overrides(load_model(&args.model)?, &args.model_args.sets)?;
    guard(&spec, args.model_args.max_events, &args.model.display().to_string())?;
    let report = match &args.plot {
        None => simulate(&spec, args.model_args.seed, args.model_args.replication, options(&args.model_args)),
        Some(dir) => {
            let span = spec.workload.duration.nanos().saturating_add(spec.workload.drain.nanos());
            let max = crate::metrics::MAX_SERIES_BUCKETS;
            let buckets = span.div_ceil(args.bucket.nanos().max(1));
            if args.bucket.nanos() < 1_000_000 || buckets > max {
                // The narrowest bucket allowed, in whole milliseconds.
                let least = crate::config::Dur::millis(span.div_ceil(max).div_ceil(1_000_000).max(1));
                return Err(AppError::Input(crate::config::ConfigError::new(
                    "--bucket",
                    format!(
                        "a bucket of {} over {} (duration + drain) gives {buckets} time-series buckets; \
                         the limit is {max} buckets of at least 1ms: use --bucket {least} or wider",
                        args.bucket,
                        crate::config::Dur(crate::engine::SimDuration(span)),
                    ),
                )));
            }
            let _claim = crate::outdir::OutputDir::claim(dir, "--plot")?;
            let opts = RunOptions { series: Some(args.bucket.0), ..options(&args.model_args) };
            let (report, hist) = simulate_detailed(&spec, args.model_args.seed, args.model_args.replication, opts);
            write_run_plots(dir, &spec.name, hist.series.as_ref().expect("asked for a series"))?;
            report
        }
    };
    if args.json {
        let json = serde_json::to_string_pretty(&report).map_err(|e| AppError::Failed(e.to_string()))?;
        print(&(json + "\n"))?;
    } else {
        print(&summary(&report))?;
    }
    super::truncated(usize::from(report.engine.truncated), args.model_args.max_events.is_some())
}

pub(super) fn default_comparison() -> Result<(), AppError> {
    let (unlocked, locked) = builtin::reference_pair()?;
    let w = &unlocked.workload;
    let mut text = format!(
        "The seed note's service at {} req/s for {} on {} server(s): TTL {} cache, Firestore {} behind a {}/s token bucket, QueuePool {} + {}.\n\
         Same workload and seed (1); left without a cache lock, right with the asyncio.Lock.\n\n",
        w.rate.0,
        w.duration,
        unlocked.servers.count,
        unlocked.cache.as_ref().map_or("-".into(), |c| c.ttl.to_string()),
        "LogNormal(median 1s, p99 2s)",
        unlocked.backend.rate_limit.as_ref().map_or(0.0, |r| r.rate.0),
        unlocked.db.as_ref().map_or(0, |p| p.pool_size),
        unlocked.db.as_ref().map_or(0, |p| p.max_overflow),
    );
    let a = simulate(&unlocked, 1, 0, RunOptions::default());
    let b = simulate(&locked, 1, 0, RunOptions::default());
    text += &comparison(&a, &b);
    text += "\nNext: cachesim run models/seed/reference.ron --set workload.rate=500 --set servers.count=3\n";
    print(&text)
}
