//! `bench`: simulation speed, and sweep speed-up with threads.

use std::time::Instant;

use super::{guard, options, print};
use crate::builtin;
use crate::cli::BenchArgs;
use crate::config::{ModelSpec, apply_overrides, load_model};
use crate::error::AppError;
use crate::experiment::{self, SweepOptions, load_experiment};
use crate::report::count;
use crate::sim::simulate;

/// The benchmark scenario: the reference, unlocked and locked, at 500
/// req/s on 3 servers of 4 worker processes for 1 h (each event loop about
/// 58% busy with the seed's CPU costs), first with the server process as the
/// seed models declare it (CPU on the loops, memory, the link), then with
/// those features off (no CPU costs, memory or link: the engine's speed as
/// before they existed).
pub(super) fn bench_models(args: &BenchArgs) -> Result<Vec<ModelSpec>, AppError> {
    let mut sets: Vec<String> = ["workload.rate=500", "servers.count=3", "servers.workers=4", "workload.duration=1h"]
        .map(String::from)
        .to_vec();
    sets.extend(args.model_args.sets.iter().cloned());
    if args.models.is_empty() {
        let (a, b) = builtin::reference_pair()?;
        let (a, b) = (apply_overrides(a, &sets)?, apply_overrides(b, &sets)?);
        let without = |m: &ModelSpec| -> Result<ModelSpec, AppError> {
            let mut m = apply_overrides(m.clone(), &builtin::PROCESS_OFF.map(String::from))?;
            m.name = format!("{} (off)", m.name);
            Ok(m)
        };
        let (a_off, b_off) = (without(&a)?, without(&b)?);
        return Ok(vec![a, b, a_off, b_off]);
    }
    args.models.iter().map(|p| Ok(apply_overrides(load_model(p)?, &args.model_args.sets)?)).collect()
}

pub(super) fn bench_sweep(path: &std::path::Path, args: &BenchArgs) -> Result<(), AppError> {
    let plan = load_experiment(path, &args.model_args.sets)?;
    for p in &plan.points {
        super::guard(&p.spec, args.model_args.max_events, &plan.origin)?;
    }
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

/// The line a child of `bench --memory` ends with.
const PEAK_RSS: &str = "peak resident memory: ";

/// This process's peak resident set (`VmHWM`), bytes, where /proc has it.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb * 1024)
}

/// `bench --memory`: the benchmark's runs at 1 h and at 24 h of simulated
/// time, each in a child process of this binary (so each peak is its own),
/// with their peak resident memory and its ratio.
fn bench_memory(args: &BenchArgs) -> Result<(), AppError> {
    let exe = std::env::current_exe().map_err(|e| AppError::Failed(format!("cannot find this program's path: {e}")))?;
    let mut text = String::from("peak resident memory of the benchmark's runs, each duration in a fresh process\n");
    let mut peaks = Vec::new();
    for duration in ["1h", "24h"] {
        let mut cmd = std::process::Command::new(&exe);
        cmd.args(["bench", "--repeat", "1", "--peak-rss", "--seed", &args.model_args.seed.to_string()]);
        cmd.args(&args.models);
        for set in &args.model_args.sets {
            cmd.args(["--set", set]);
        }
        cmd.args(["--set", &format!("workload.duration={duration}")]);
        // A day at 500 req/s is past the default event budget, on purpose.
        let budget = args.model_args.max_events.unwrap_or(2_000_000_000);
        cmd.args(["--max-events", &budget.to_string()]);
        let t = Instant::now();
        let out = cmd.output().map_err(|e| AppError::Failed(format!("cannot run {}: {e}", exe.display())))?;
        let secs = t.elapsed().as_secs_f64();
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(AppError::Failed(format!(
                "the {duration} run failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let peak = stdout.lines().find_map(|l| l.strip_prefix(PEAK_RSS)).and_then(|v| v.trim().parse::<u64>().ok());
        let Some(peak) = peak else {
            return Err(AppError::Failed("peak resident memory is not available here (it is read from /proc)".into()));
        };
        text += &format!("  {duration:>4}: {:>8.1} MB peak   ({secs:.1}s wall)\n", peak as f64 / 1e6);
        peaks.push(peak as f64);
    }
    text += &format!("  24 h / 1 h: {:.2}x (flat means within 1.2x)\n", peaks[1] / peaks[0]);
    print(&text)
}

pub(super) fn bench(args: BenchArgs) -> Result<(), AppError> {
    if let Some(path) = &args.sweep {
        return bench_sweep(path, &args);
    }
    if args.memory {
        return bench_memory(&args);
    }
    let models = bench_models(&args)?;
    for spec in &models {
        guard(spec, args.model_args.max_events, &spec.name)?;
    }
    let mut text =
        format!("{:<24} {:>12} {:>12} {:>14} {:>18}\n", "model", "events", "wall (best)", "events/s", "sim requests/s");
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
            "{:<24} {:>12} {:>11.3}s {:>14} {:>18}\n",
            r.model,
            count(r.engine.events),
            best,
            count((r.engine.events as f64 / best) as u64),
            count((r.requests.arrived as f64 / best) as u64),
        );
    }
    text += "(one core; wall-clock time of whole runs, best of the repetitions; (off): without the server process's CPU, memory and link)\n";
    if args.peak_rss
        && let Some(bytes) = peak_rss()
    {
        text += &format!("{PEAK_RSS}{bytes}\n");
    }
    print(&text)
}
