//! Commands on one model: `run`, and the default side-by-side comparison.

use super::reports::write_run_plots;
use super::{guard, options, print};
use crate::builtin;
use crate::cli::RunArgs;
use crate::config::{ModelSpec, apply_overrides, load_model};
use crate::error::AppError;
use crate::report::{comparison, summary};
use crate::sim::{RunOptions, simulate, simulate_detailed};

/// A loaded model with `--set` overrides applied and checked, refused if it
/// is too big to run (unless `max_events` bounds it): what `run` simulates,
/// and what `serve` simulates for the same file and overrides.
pub(crate) fn prepared(
    base: ModelSpec,
    sets: &[String],
    max_events: Option<u64>,
    origin: &str,
) -> Result<ModelSpec, AppError> {
    let spec = apply_overrides(base, sets)?;
    guard(&spec, max_events, origin)?;
    Ok(spec)
}

pub(super) fn run_model(args: RunArgs) -> Result<(), AppError> {
    let origin = args.model.display().to_string();
    let spec = prepared(load_model(&args.model)?, &args.model_args.sets, args.model_args.max_events, &origin)?;
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
    super::truncated(
        usize::from(report.engine.truncated),
        args.model_args.max_events,
        report.engine.stop_reason.as_deref(),
    )
}

/// The load of the built-in comparison: the note's "moderate" 50 req/s,
/// within what one seed process serves (about 72 req/s of CPU), so that
/// the lock's effect shows rather than the saturated loop's.
const COMPARISON_RATE: &str = "workload.rate=50";

pub(super) fn default_comparison() -> Result<(), AppError> {
    let (unlocked, locked) = builtin::reference_pair()?;
    let rate = [COMPARISON_RATE.to_string()];
    let (unlocked, locked) = (apply_overrides(unlocked, &rate)?, apply_overrides(locked, &rate)?);
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
    text += "\nOne process's event loop serves at most about 72 of these requests a second (14 ms of CPU each).\n\
             Next: cachesim run models/seed/reference_locked.ron --set workload.rate=100 --set servers.workers=2\n";
    print(&text)
}
