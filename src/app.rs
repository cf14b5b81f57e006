//! From parsed arguments to work: load and check models, run them, print.
//! The only module that writes to stdout.

use std::io::Write;
use std::time::Instant;

use crate::builtin;
use crate::cli::{BenchArgs, CheckArgs, Cli, Command, LimitArgs, MergeArgs, ModelArgs, RunArgs, SweepArgs};
use crate::config::{ModelSpec, apply_overrides, load_model};
use crate::error::AppError;
use crate::experiment::{self, SweepOptions, load_experiment, matrix_md};
use crate::report::{comparison, count, summary};
use crate::sim::{RunOptions, simulate};

/// Runs what the command line asks for.
pub fn run(cli: Cli) -> Result<(), AppError> {
    match cli.command {
        None => default_comparison(),
        Some(Command::Run(args)) => run_model(args),
        Some(Command::Sweep(args)) => sweep(args),
        Some(Command::Merge(args)) => merge(args),
        Some(Command::Limit(args)) => limit(args),
        Some(Command::Check(args)) => check(args),
        Some(Command::Bench(args)) => bench(args),
    }
}

/// Progress on stderr: a bar with an ETA on a terminal, a line every 10%
/// otherwise, nothing when quiet.
fn progress_reporter(quiet: bool, label: String) -> Box<dyn Fn(usize, usize) + Sync> {
    use std::io::IsTerminal;
    if quiet {
        return Box::new(|_, _| {});
    }
    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(0);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} runs, {elapsed} elapsed, ETA {eta}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(label);
        return Box::new(move |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
            if done == total {
                bar.finish();
            }
        });
    }
    Box::new(move |done, total| {
        let step = (total / 10).max(1);
        if done % step == 0 || done == total {
            eprintln!("{label}: {done}/{total} runs");
        }
    })
}

fn sweep(args: SweepArgs) -> Result<(), AppError> {
    let plan = load_experiment(&args.experiment, &args.sets)?;
    for p in &plan.points {
        guard(&p.spec, args.max_events, &plan.origin)?;
    }
    let out = args.out.clone().unwrap_or_else(|| std::path::Path::new("results").join(&plan.spec.name));
    let opts = SweepOptions {
        threads: args.threads,
        shard: args.shard,
        run: RunOptions { max_events: args.max_events.unwrap_or(u64::MAX), ..RunOptions::default() },
    };
    let progress = progress_reporter(args.quiet, plan.spec.name.clone());
    let outcome = experiment::sweep(&plan, &out, opts, &*progress)?;
    if !args.quiet {
        eprintln!(
            "{}: {} runs computed, {} reused from {}",
            plan.spec.name,
            outcome.computed,
            outcome.reused,
            out.display()
        );
    }
    match outcome.results {
        Some((results, rows)) => {
            print(&matrix_md(&plan, &results, &rows))?;
            print(&format!(
                "
Wrote runs.csv, points.csv, summary.json and matrix.md to {}
",
                out.display()
            ))
        }
        None => print(&format!(
            "Shard written to {}; combine all shards with: cachesim merge DIR...
",
            out.display()
        )),
    }
}

fn check(args: CheckArgs) -> Result<(), AppError> {
    let plan = load_experiment(&args.experiment, &args.sets)?;
    for p in &plan.points {
        guard(&p.spec, None, &plan.origin)?;
    }
    let out = args.out.clone().unwrap_or_else(|| std::path::Path::new("results").join(&plan.spec.name));
    let baseline = match (&args.baseline, args.update_baseline) {
        (Some(path), false) => Some(experiment::load_baseline(path)?),
        _ => None,
    };
    let opts = SweepOptions { threads: args.threads, ..SweepOptions::default() };
    let outcome = experiment::sweep(&plan, &out, opts, &|_, _| {})?;
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
    if args.update_baseline {
        let path = args.baseline.as_ref().expect("clap requires --baseline");
        let json = serde_json::to_vec_pretty(&experiment::Baseline::of(&plan, &results)).expect("baselines serialize");
        crate::fsutil::write_atomic(path, &json)
            .map_err(|e| AppError::Failed(format!("cannot write {}: {e}", path.display())))?;
        text += &format!("baseline written to {}\n", path.display());
    }
    if let Some(path) = &args.junit {
        let xml = crate::report::junit(&plan.spec.name, &expectations, comparison.as_ref());
        crate::fsutil::write_atomic(path, xml.as_bytes())
            .map_err(|e| AppError::Failed(format!("cannot write {}: {e}", path.display())))?;
    }
    let passed = expectations.iter().all(|e| e.passed) && comparison.as_ref().is_none_or(|c| c.holds());
    text += if passed { "result: PASS\n" } else { "result: FAIL\n" };
    print(&text)?;
    if passed { Ok(()) } else { Err(AppError::CheckFailed) }
}

/// Whether a RON file holds an experiment (rather than a model).
fn is_experiment(path: &std::path::Path) -> Result<bool, AppError> {
    let text = crate::config::read_text(path, "input")?;
    let code: String = text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
    Ok(code.trim_start().starts_with("Experiment") || code.contains("models:"))
}

fn limit(args: LimitArgs) -> Result<(), AppError> {
    let plan = if is_experiment(&args.file)? {
        load_experiment(&args.file, &args.sets)?
    } else {
        let name = args.file.display().to_string();
        experiment::plan_for_model(&args.file, &args.sets, experiment::ExperimentSpec::for_model(&name))?
    };
    let pool = {
        let mut b = rayon::ThreadPoolBuilder::new();
        if let Some(t) = args.threads {
            b = b.num_threads(t);
        }
        b.build().map_err(|e| AppError::Failed(format!("cannot start worker threads: {e}")))?
    };
    let quiet = args.quiet;
    let progress = move |line: &str| {
        if !quiet {
            eprintln!("{line}");
        }
    };
    let results = pool.install(|| experiment::find_limits(&plan, RunOptions::default(), &progress))?;
    if args.json {
        let json = serde_json::to_string_pretty(&results).map_err(|e| AppError::Failed(e.to_string()))?;
        return print(&(json + "\n"));
    }
    print(&crate::report::limits_table(&plan, &results))
}

fn merge(args: MergeArgs) -> Result<(), AppError> {
    let dirs: Vec<&std::path::Path> = args.dirs.iter().map(|d| d.as_path()).collect();
    let out = args.out.clone().unwrap_or_else(|| args.dirs[0].clone());
    let (results, rows) = experiment::merge(&dirs, &out)?;
    let (_, plan) = experiment::load_plan(&out)?;
    print(&matrix_md(&plan, &results, &rows))?;
    print(&format!(
        "
Wrote runs.csv, points.csv, summary.json and matrix.md to {}
",
        out.display()
    ))
}

fn options(a: &ModelArgs) -> RunOptions {
    RunOptions { max_events: a.max_events.unwrap_or(u64::MAX), ..RunOptions::default() }
}

fn print(text: &str) -> Result<(), AppError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        // A closed pipe (`cachesim run ... | head`) is not an error.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(AppError::Failed(format!("cannot write output: {e}")))
        }
        _ => Ok(()),
    }
}

fn run_model(args: RunArgs) -> Result<(), AppError> {
    let spec = apply_overrides(load_model(&args.model)?, &args.model_args.sets)?;
    guard(&spec, args.model_args.max_events, &args.model.display().to_string())?;
    let report = simulate(&spec, args.model_args.seed, 0, options(&args.model_args));
    if args.json {
        let json = serde_json::to_string_pretty(&report).map_err(|e| AppError::Failed(e.to_string()))?;
        print(&(json + "\n"))
    } else {
        print(&summary(&report))
    }
}

/// Refuses a run that would not finish in reasonable time (exit 2), unless
/// the user set an explicit event budget, which then stops the run.
fn guard(spec: &ModelSpec, max_events: Option<u64>, origin: &str) -> Result<(), AppError> {
    if max_events.is_some() {
        return Ok(());
    }
    crate::sim::guard::check_size(spec, None).map_err(|m| AppError::Input(crate::config::ConfigError::new(origin, m)))
}

fn default_comparison() -> Result<(), AppError> {
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

/// The benchmark scenario: the reference at 500 req/s on 3 servers for 1 h.
fn bench_models(args: &BenchArgs) -> Result<Vec<ModelSpec>, AppError> {
    let mut sets = vec!["workload.rate=500".to_string(), "servers.count=3".into(), "workload.duration=1h".into()];
    sets.extend(args.model_args.sets.iter().cloned());
    if args.models.is_empty() {
        let (a, b) = builtin::reference_pair()?;
        return Ok(vec![apply_overrides(a, &sets)?, apply_overrides(b, &sets)?]);
    }
    args.models.iter().map(|p| Ok(apply_overrides(load_model(p)?, &args.model_args.sets)?)).collect()
}

/// Times a whole sweep with 1 and 2 threads.
fn bench_sweep(path: &std::path::Path, args: &BenchArgs) -> Result<(), AppError> {
    let plan = load_experiment(path, &args.model_args.sets)?;
    let runs = plan.runs().len();
    let mut text = format!(
        "sweep {}: {} points × {} replications = {runs} runs\n",
        plan.spec.name,
        plan.points.len(),
        plan.spec.replications
    );
    let mut times = Vec::new();
    for threads in [1usize, 2] {
        let dir = std::env::temp_dir().join(format!("cachesim-bench-{}-{threads}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let opts = SweepOptions { threads: Some(threads), ..SweepOptions::default() };
        let t = Instant::now();
        let result = experiment::sweep(&plan, &dir, opts, &|_, _| {});
        let secs = t.elapsed().as_secs_f64();
        let _ = std::fs::remove_dir_all(&dir);
        result?;
        text += &format!("  {threads} thread(s): {secs:.2}s wall, {:.0} runs/s\n", runs as f64 / secs);
        times.push(secs);
    }
    text += &format!("  speed-up with 2 threads: {:.2}x\n", times[0] / times[1]);
    print(&text)
}

fn bench(args: BenchArgs) -> Result<(), AppError> {
    if let Some(path) = &args.sweep {
        return bench_sweep(path, &args);
    }
    let models = bench_models(&args)?;
    for spec in &models {
        guard(spec, args.model_args.max_events, &spec.name)?;
    }
    let mut text =
        format!("{:<20} {:>12} {:>12} {:>14} {:>18}\n", "model", "events", "wall (best)", "events/s", "sim requests/s");
    for spec in &models {
        let mut best = f64::INFINITY;
        let mut report = None;
        for _ in 0..args.repeat.max(1) {
            let t = Instant::now();
            let r = simulate(spec, args.model_args.seed, 0, options(&args.model_args));
            best = best.min(t.elapsed().as_secs_f64());
            report = Some(r);
        }
        let r = report.expect("at least one repetition");
        text += &format!(
            "{:<20} {:>12} {:>11.3}s {:>14} {:>18}\n",
            r.model,
            count(r.engine.events),
            best,
            count((r.engine.events as f64 / best) as u64),
            count((r.requests.arrived as f64 / best) as u64),
        );
    }
    text += "(one core; wall-clock time of whole runs, best of the repetitions)\n";
    print(&text)
}
