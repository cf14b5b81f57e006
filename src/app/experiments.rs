//! Commands on experiments: `sweep`, `merge`, `check`, `limit`.

use super::reports::write_sweep_plots;
use super::{Progress, guard, print};
use crate::cli::{CheckArgs, LimitArgs, MergeArgs, SweepArgs};
use crate::error::AppError;
use crate::experiment::{self, SweepOptions, load_experiment, matrix_md};
use crate::outdir::{OutputDir, check_file_target};
use crate::sim::RunOptions;

pub(super) fn sweep(args: SweepArgs) -> Result<(), AppError> {
    let plan = load_experiment(&args.experiment, &args.sets)?;
    for p in &plan.points {
        guard(&p.spec, args.max_events, &plan.origin)?;
    }
    let flag = "--out";
    let out = args.out.clone().unwrap_or_else(|| crate::outdir::default_dir(&plan.spec.name));
    // Claimed (checked, made, locked) before anything is written, and held
    // until the plots are written.
    let _claim = OutputDir::claim(&out, flag)?;
    let opts = SweepOptions {
        threads: args.threads,
        shard: args.shard,
        run: RunOptions {
            max_events: args.max_events.unwrap_or(crate::sim::guard::DEFAULT_EVENT_BUDGET),
            ..RunOptions::default()
        },
    };
    let progress = Progress::new(args.quiet, &plan.spec.name);
    let outcome = experiment::sweep(&plan, &out, opts, &|done, total| progress.advance(done, total, None))?;
    if !args.quiet {
        eprintln!(
            "{}: {} runs computed, {} reused from {}",
            plan.spec.name,
            outcome.computed,
            outcome.reused,
            out.display()
        );
        if outcome.set_aside > 0 {
            eprintln!(
                "{}: {} stored runs were edited or made by another build, and were computed again",
                plan.spec.name, outcome.set_aside
            );
        }
    }
    match outcome.results {
        Some((results, rows)) => {
            write_sweep_plots(&out, &plan, &results, &rows)?;
            print(&matrix_md(&plan, &results, &rows))?;
            print(&format!("\nWrote runs.csv, points.csv, summary.json, matrix.md and plots/ to {}\n", out.display()))?;
            super::truncated(truncated_runs(&results), args.max_events, None)
        }
        None => print(&format!("Shard written to {}; combine all shards with: cachesim merge DIR...\n", out.display())),
    }
}

pub(super) fn merge(args: MergeArgs) -> Result<(), AppError> {
    let dirs: Vec<&std::path::Path> = args.dirs.iter().map(|d| d.as_path()).collect();
    let out = args.out.clone().unwrap_or_else(|| args.dirs[0].clone());
    // The first directory's plan is what is merged: refused before the
    // target is made, if there is none.
    experiment::load_plan(&args.dirs[0])?;
    let _claim = OutputDir::claim(&out, if args.out.is_some() { "--out" } else { "merge's first directory" })?;
    let (results, rows) = experiment::merge(&dirs, &out)?;
    let (_, plan) = experiment::load_plan(&out)?;
    write_sweep_plots(&out, &plan, &results, &rows)?;
    print(&matrix_md(&plan, &results, &rows))?;
    print(&format!("\nWrote runs.csv, points.csv, summary.json, matrix.md and plots/ to {}\n", out.display()))
}

pub(super) fn check(args: CheckArgs) -> Result<(), AppError> {
    let plan = load_experiment(&args.experiment, &args.sets)?;
    for p in &plan.points {
        guard(&p.spec, None, &plan.origin)?;
    }
    // By default a directory of this plan's own (its fingerprint covers the
    // models, the grid and the build), so that a changed model or a new
    // build computes afresh instead of meeting an earlier check's runs.
    let flag = "--out";
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| crate::outdir::default_dir(&plan.spec.name).join(format!("check-{}", plan.fingerprint)));
    // Every file this check will write is checked before anything is.
    if let Some(path) = &args.junit {
        check_file_target(path, "--junit")?;
    }
    let baseline = match (&args.baseline, args.update_baseline) {
        (Some(path), false) => Some(experiment::load_baseline(path)?),
        (Some(path), true) => {
            check_file_target(path, "--baseline")?;
            None
        }
        _ => None,
    };
    let _claim = OutputDir::claim(&out, flag)?;
    let opts = SweepOptions { threads: args.threads, ..SweepOptions::default() };
    let progress = Progress::new(args.quiet, &plan.spec.name);
    let outcome = experiment::sweep(&plan, &out, opts, &|done, total| progress.advance(done, total, None))?;
    let (results, _) = outcome.results.expect("an unsharded sweep has results");
    let mut expectations = Vec::new();
    for e in &plan.spec.expect {
        let point = e.point(&plan).map_err(|m| AppError::Input(crate::config::ConfigError::new(&plan.origin, m)))?;
        let result = results.iter().find(|r| r.point == point).expect("every point ran");
        expectations
            .push(e.evaluate(result).map_err(|m| AppError::Input(crate::config::ConfigError::new(&plan.origin, m)))?);
    }
    let comparison = baseline.as_ref().map(|b| experiment::compare(b, &plan, &results));
    let mut text = format!("cachesim check {}\n", args.experiment.display());
    let held = expectations.iter().filter(|e| e.passed).count();
    text += &format!("expectations: {held} of {} hold\n", expectations.len());
    for e in &expectations {
        text += &format!("  {} {}\n       {}\n", if e.passed { "PASS" } else { "FAIL" }, e.name, e.observed);
    }
    if let Some(c) = &comparison {
        let path = args.baseline.as_ref().expect("compared with a baseline");
        let moved: usize = c.points.iter().map(|p| p.moved.len()).sum();
        text += &format!("baseline {}: {} points, {moved} metrics moved\n", path.display(), c.points.len());
        for p in &c.points {
            text += &format!("  {} {}: {}\n", if p.moved.is_empty() { "PASS" } else { "FAIL" }, p.point, p.status);
            for m in &p.moved {
                text += &format!("       {m}\n");
            }
        }
        for u in &c.unmatched {
            text += &format!("  FAIL {u}\n");
        }
    }
    if let Some(path) = &args.junit {
        let xml = crate::report::junit(&plan.spec.name, &expectations, comparison.as_ref());
        crate::fsutil::write_atomic(path, xml.as_bytes())
            .map_err(|e| AppError::Failed(format!("cannot write {}: {e}", path.display())))?;
    }
    // The baseline last: a check that fails to write anything else leaves
    // the committed baseline as it was.
    if args.update_baseline {
        let path = args.baseline.as_ref().expect("clap requires --baseline");
        let json = serde_json::to_vec_pretty(&experiment::Baseline::of(&plan, &results)).expect("baselines serialize");
        crate::fsutil::write_atomic(path, &json)
            .map_err(|e| AppError::Failed(format!("cannot write {}: {e}", path.display())))?;
        text += &format!("baseline written to {}\n", path.display());
    }
    let passed = expectations.iter().all(|e| e.passed) && comparison.as_ref().is_none_or(|c| c.holds());
    text += if passed { "result: PASS\n" } else { "result: FAIL\n" };
    print(&text)?;
    // A check on truncated runs judged partial results: it fails, saying why.
    super::truncated(truncated_runs(&results), None, None)?;
    if passed { Ok(()) } else { Err(AppError::CheckFailed) }
}

/// Whether a RON file holds an experiment (rather than a model).
pub(super) fn is_experiment(path: &std::path::Path) -> Result<bool, AppError> {
    let text = crate::config::read_text(path, "input")?;
    let code: String = text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
    Ok(code.trim_start().starts_with("Experiment") || code.contains("models:"))
}

pub(super) fn limit(args: LimitArgs) -> Result<(), AppError> {
    let plan = if is_experiment(&args.file)? {
        load_experiment(&args.file, &args.sets)?
    } else {
        let name = args.file.display().to_string();
        experiment::plan_for_model(&args.file, &args.sets, experiment::ExperimentSpec::for_model(&name))?
    };
    // Claimed before the search, which can take long: a path that cannot
    // be written is refused at once.
    let claim = args.out.as_deref().map(|dir| OutputDir::claim(dir, "--out")).transpose()?;
    let pool = {
        let mut b = rayon::ThreadPoolBuilder::new();
        if let Some(t) = args.threads {
            b = b.num_threads(t);
        }
        b.build().map_err(|e| AppError::Failed(format!("cannot start worker threads: {e}")))?
    };
    let progress = Progress::new(args.quiet, &plan.spec.name);
    let results = pool.install(|| {
        let run = RunOptions {
            max_events: args.max_events.unwrap_or(crate::sim::guard::DEFAULT_EVENT_BUDGET),
            ..RunOptions::default()
        };
        experiment::find_limits(&plan, run, &|done, total, line| progress.advance(done, total, Some(line)))
    })?;
    if let Some(claim) = &claim {
        let dir = claim.path();
        // Stamped with the plan's fingerprint: `cachesim report DIR` shows
        // them only beside a sweep of this very experiment.
        if let Ok((_, swept)) = experiment::load_plan(dir)
            && swept.fingerprint != plan.fingerprint
        {
            eprintln!(
                "{}: note: {} holds a sweep of another experiment (`{}`, fingerprint {}; this is {}), whose report will refuse these limits",
                plan.spec.name,
                dir.display(),
                swept.spec.name,
                swept.fingerprint,
                plan.fingerprint
            );
        }
        let file = crate::report::LimitsFile::of(&plan, &results);
        let json = serde_json::to_vec_pretty(&file).expect("limits serialize");
        crate::fsutil::write_atomic(&dir.join("limits.json"), &json)
            .map_err(|e| AppError::Failed(format!("cannot write limits.json: {e}")))?;
    }
    if args.json {
        let json = serde_json::to_string_pretty(&results).map_err(|e| AppError::Failed(e.to_string()))?;
        print(&(json + "\n"))?;
    } else {
        print(&crate::report::limits_table(&plan, &results))?;
    }
    // Loads judged on truncated runs, and spike-check runs cut short, were
    // shown as such: the search is not whole.
    let runs: usize = results.iter().flat_map(|r| &r.evaluations).map(|e| e.truncated).sum::<usize>()
        + results.iter().filter_map(|r| r.recovery.as_ref()).map(|r| r.truncated).sum::<usize>();
    let reason = results.iter().flat_map(|r| &r.evaluations).find_map(|e| e.stop_reason.as_deref());
    super::truncated(runs, args.max_events, reason)
}

/// How many runs stopped at their event budget: `engine.truncated` is 1 in
/// each, so its mean times the replications.
fn truncated_runs(results: &[crate::experiment::PointResult]) -> usize {
    results
        .iter()
        .filter_map(|r| r.stats.get("engine.truncated").map(|e| (e.mean.unwrap_or(0.0) * e.n as f64).round() as usize))
        .sum()
}
