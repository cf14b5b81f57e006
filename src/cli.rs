//! The command line, as clap structs only: what the user typed, checked for
//! shape. `app` turns it into work.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// cachesim: a deterministic discrete-event simulator of web-service cache
/// architectures. With no command, runs the seed note's reference scenario
/// at 100 req/s, without and with the cache lock, side by side.
#[derive(Debug, Parser)]
#[command(name = "cachesim", version = concat!(env!("CARGO_PKG_VERSION"), " (build ", env!("CACHESIM_BUILD_ID"), ")"), about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one model once and print a summary (or JSON).
    Run(RunArgs),
    /// Run an experiment's grid × replications in parallel; write runs.csv,
    /// points.csv, summary.json and matrix.md. Resumes where it stopped.
    Sweep(SweepArgs),
    /// Combine shard directories into what one whole sweep writes.
    Merge(MergeArgs),
    /// Write report.html (self-contained: models, SLO, matrix, plots,
    /// breaking points) for a sweep's output directory.
    Report(ReportArgs),
    /// Check an experiment for regressions: its expectations, and every
    /// metric against a stored baseline. Exit 0 if all hold, 1 if any fails.
    Check(CheckArgs),
    /// Find each model's breaking points: the highest load meeting the SLO,
    /// where goodput collapses, and whether it recovers after a spike.
    Limit(LimitArgs),
    /// Measure simulation speed: events/s and simulated requests/s.
    Bench(BenchArgs),
    /// Fit latency distributions (LogNormal, Exponential, Empirical) to
    /// measured durations; print them as model-file RON with their
    /// Kolmogorov–Smirnov distance, p-value and which to use.
    Fit(FitArgs),
    /// Serve an interactive what-if page for models on a local port: its
    /// controls re-simulate as they move (see docs/serve.md).
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Model files, or directories whose `*.ron` model files to serve. The
    /// server reads these files and no others.
    #[arg(required = true, value_name = "MODEL.ron | DIR")]
    pub models: Vec<PathBuf>,
    /// The port to listen on; 0 picks a free one (the address is printed).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Listen on this address instead of 127.0.0.1 (anyone who can reach it
    /// can run simulations on this machine).
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<std::net::IpAddr>,
    /// Open the page in the default browser.
    #[arg(long)]
    pub open: bool,
}

#[derive(Debug, Args)]
pub struct FitArgs {
    /// CSV of measured durations, one a row: plain numbers are seconds,
    /// others durations with units ("12ms", "1.5s"). A header row is
    /// optional; `#` lines are comments.
    pub samples: PathBuf,
    /// The column to read, by its name in the header row (default: the
    /// first column).
    #[arg(long, value_name = "NAME")]
    pub column: Option<String>,
    /// The most values in the Empirical table: the samples' quantiles at
    /// probabilities (i − 0.5)/K (all the samples when there are fewer).
    #[arg(long, value_name = "K", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub quantiles: u32,
}

#[derive(Debug, Args)]
pub struct SweepArgs {
    /// The experiment file (RON), e.g. experiments/seed_matrix.ron.
    pub experiment: PathBuf,
    /// Output directory (default: results/<experiment name>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Worker threads, 1 to 256 (default: all cores). Results do not depend on it.
    #[arg(long, value_parser = threads)]
    pub threads: Option<usize>,
    /// Run only the K-th of N slices of the runs (1-based), e.g. 2/4; then
    /// combine the directories with `cachesim merge`.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<crate::experiment::Shard>,
    /// Override a field of every model by dotted path (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub sets: Vec<String>,
    /// Stop each run after this many events.
    #[arg(long, value_name = "N")]
    pub max_events: Option<u64>,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The experiment file, with its `expect: [...]` list.
    pub experiment: PathBuf,
    /// Baseline file to compare every metric with.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Write (or replace) the baseline from this run instead of comparing.
    #[arg(long, requires = "baseline")]
    pub update_baseline: bool,
    /// Also write the results as JUnit XML here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Sweep output directory (default: results/<experiment name>/check-<fingerprint>,
    /// one per experiment, model version and build, so runs are reused only
    /// when nothing that determines them changed).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Worker threads, 1 to 256 (default: all cores). Results do not depend on it.
    #[arg(long, value_parser = threads)]
    pub threads: Option<usize>,
    /// Override a field of every model by dotted path (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub sets: Vec<String>,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct LimitArgs {
    /// An experiment file (its models, SLO, replications and `limit`
    /// settings), or a model file (with the default SLO: p99 ≤ 2s, errors
    /// ≤ 1%, 10 replications).
    pub file: PathBuf,
    /// Override a field of every model by dotted path (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub sets: Vec<String>,
    /// Worker threads, 1 to 256 (default: all cores). Results do not depend on it.
    #[arg(long, value_parser = threads)]
    pub threads: Option<usize>,
    /// Print one JSON array instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also write limits.json here (e.g. a sweep's directory, for its report).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Stop each run after this many events (default: the size guard
    /// refuses searches whose runs would need more than 3e8); a load judged
    /// on runs stopped so is reported as truncated, never as a pass.
    #[arg(long, value_name = "N")]
    pub max_events: Option<u64>,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A sweep's output directory (with .cachesim/ and, optionally,
    /// limits.json from `cachesim limit --out DIR`).
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Shard output directories of the same experiment.
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Where to write the combined results (default: the first directory).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Options shared by commands that run a model.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// Seed for every random stream; same model + same seed = same output.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Which replication's random streams to use (default 0): with a
    /// sweep's seed and the point's values as `--set`, replays replication K
    /// of that point exactly (runs.csv `replication`).
    #[arg(long, value_name = "K", default_value_t = 0)]
    pub replication: u64,
    /// Override a field by dotted path, e.g. `--set cache.ttl=2m`
    /// (repeatable; checked like the file).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub sets: Vec<String>,
    /// Stop a run after this many events (a guard for runaway models).
    #[arg(long, value_name = "N")]
    pub max_events: Option<u64>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The model file (RON), e.g. models/seed/reference.ron.
    pub model: PathBuf,
    #[command(flatten)]
    pub model_args: ModelArgs,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    pub json: bool,
    /// Also write the run's time-series plots (SVG and PNG), series.csv and
    /// fills.csv into this directory.
    #[arg(long, value_name = "DIR")]
    pub plot: Option<PathBuf>,
    /// Width of a time-series bucket, e.g. 1s or 100ms.
    #[arg(long, default_value = "1s", value_name = "DURATION")]
    pub bucket: crate::config::Dur,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Models to time; default: the built-in reference, unlocked and locked,
    /// at 500 req/s on 3 servers of 4 workers for 1 hour, with the server
    /// process's features as the seed declares them and off.
    pub models: Vec<PathBuf>,
    #[command(flatten)]
    pub model_args: ModelArgs,
    /// Timed repetitions of each model (the best is reported).
    #[arg(long, default_value_t = 3)]
    pub repeat: u32,
    /// Instead, time a whole sweep of this experiment with 1 thread and with
    /// 2, into temporary directories, and print the speed-up.
    #[arg(long, value_name = "EXPERIMENT", conflicts_with = "memory")]
    pub sweep: Option<PathBuf>,
    /// Instead, run the benchmark models for 1 h and for 24 h of simulated
    /// time, each in a fresh process, and print their peak resident memory
    /// and its ratio (memory should not grow with simulated time).
    #[arg(long)]
    pub memory: bool,
    /// Print this process's peak resident memory after the runs (what
    /// `--memory` reads from its child processes; Linux only).
    #[arg(long, hide = true)]
    pub peak_rss: bool,
}

/// The most worker threads a command may start (`--threads`).
pub const MAX_THREADS: usize = 256;

/// `--threads N`: 1 to [`MAX_THREADS`]; more only adds threads that wait.
fn threads(text: &str) -> Result<usize, String> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let hint = format!("this machine has {cores} core(s); the default uses them all");
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_THREADS).contains(&n) => Ok(n),
        Ok(n) => Err(format!("between 1 and {MAX_THREADS} threads, not {n}; {hint}")),
        Err(_) => Err(format!("a whole number of threads from 1 to {MAX_THREADS}, e.g. 4; {hint}")),
    }
}
