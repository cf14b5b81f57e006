//! From parsed arguments to work: load and check models, run them, print.
//! The only module that writes to stdout. One file per family of commands:
//! `single` (run, the default comparison), `experiments` (sweep, merge,
//! check, limit), `reports` (report, plots), `bench`, `fit`, `serve` (the what-if page).

mod bench;
mod experiments;
mod fit;
mod reports;
mod serve;
mod single;

pub(crate) use single::prepared;

use std::io::Write;

use crate::cli::{Cli, Command, ModelArgs};
use crate::config::ModelSpec;
use crate::error::AppError;
use crate::sim::RunOptions;

/// Runs what the command line asks for.
pub fn run(cli: Cli) -> Result<(), AppError> {
    match cli.command {
        None => single::default_comparison(),
        Some(Command::Run(args)) => single::run_model(args),
        Some(Command::Sweep(args)) => experiments::sweep(args),
        Some(Command::Merge(args)) => experiments::merge(args),
        Some(Command::Report(args)) => reports::report(args),
        Some(Command::Limit(args)) => experiments::limit(args),
        Some(Command::Check(args)) => experiments::check(args),
        Some(Command::Bench(args)) => bench::bench(args),
        Some(Command::Fit(args)) => fit::fit(args),
        Some(Command::Serve(args)) => serve::serve(args),
    }
}

/// Progress on stderr for `sweep`, `check` and `limit`: one bar with an ETA
/// on a terminal (at most 80 columns), a plain line every 10% otherwise,
/// nothing when quiet. Counts only ever go up: runs finish on several
/// threads, and a late report of a lower count is ignored.
pub(super) struct Progress {
    label: String,
    quiet: bool,
    bar: std::sync::OnceLock<Option<indicatif::ProgressBar>>,
    shown: std::sync::atomic::AtomicUsize,
}

impl Progress {
    pub(super) fn new(quiet: bool, label: &str) -> Progress {
        // The label is cut so that label, bar and counts fit 80 columns.
        let label: String = if label.chars().count() > 20 {
            label.chars().take(19).chain(std::iter::once('…')).collect()
        } else {
            label.to_string()
        };
        Progress { label, quiet, bar: std::sync::OnceLock::new(), shown: std::sync::atomic::AtomicUsize::new(0) }
    }

    /// `done` of `total` units of work are finished; `line` says what just
    /// finished, for the plain-line form.
    pub(super) fn advance(&self, done: usize, total: usize, line: Option<&str>) {
        use std::io::IsTerminal;
        use std::sync::atomic::Ordering;
        if self.quiet {
            return;
        }
        let done = done.min(total);
        let before = self.shown.fetch_max(done, Ordering::Relaxed);
        let first = before == 0 && done == 0;
        if done < before {
            return;
        }
        // The bar is made on the first report, once the total is known, so
        // that it never shows a full bar reading 0/0.
        let bar = self.bar.get_or_init(|| {
            std::io::stderr().is_terminal().then(|| {
                let bar = indicatif::ProgressBar::new(total as u64);
                if let Ok(style) =
                    indicatif::ProgressStyle::with_template("{msg:20} [{bar:24}] {pos}/{len} runs, ETA {eta:>4}")
                {
                    bar.set_style(style.progress_chars("=> "));
                }
                bar.set_message(self.label.clone());
                bar
            })
        });
        match bar {
            Some(bar) => {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
                if done == total {
                    bar.finish();
                }
            }
            None => {
                let step = (total / 10).max(1);
                if let Some(line) = line {
                    eprintln!("{}: {line}", self.label);
                } else if first || done == total || (done.is_multiple_of(step) && done > before) {
                    eprintln!("{}: {done}/{total} runs", self.label);
                }
            }
        }
    }
}

pub(super) fn options(a: &ModelArgs) -> RunOptions {
    RunOptions { max_events: a.max_events.unwrap_or(crate::sim::guard::DEFAULT_EVENT_BUDGET), ..RunOptions::default() }
}

/// Exit 3 when runs were truncated: their results were written and shown,
/// marked truncated, but they are not whole. `max_events` is the budget
/// the user gave (`None`: the default); `reason` what stopped a single run
/// (the memory guard stops a run too, and no budget raises that).
pub(super) fn truncated(runs: usize, max_events: Option<u64>, reason: Option<&str>) -> Result<(), AppError> {
    if runs == 0 {
        return Ok(());
    }
    if let Some(r) = reason.filter(|r| !r.contains("event budget")) {
        return Err(AppError::Truncated(format!("{runs} run(s) truncated (their results are partial): {r}")));
    }
    let budget = match max_events {
        Some(n) => format!("the event budget of {n} events (--max-events {n})"),
        None => format!(
            "the default event budget of {} events (under a minute of work each)",
            crate::sim::guard::DEFAULT_EVENT_BUDGET
        ),
    };
    Err(AppError::Truncated(format!(
        "{runs} run(s) truncated: stopped at {budget} before the end of the run, so their results are partial; \
         pass a larger --max-events N to raise the budget"
    )))
}

pub(super) fn print(text: &str) -> Result<(), AppError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        // A closed pipe (`cachesim run ... | head`) is not an error.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(AppError::Failed(format!("cannot write output: {e}")))
        }
        _ => Ok(()),
    }
}

/// Refuses a run that would not finish in reasonable time (exit 2), unless
/// the user set an explicit event budget, which then stops the run.
pub(super) fn guard(spec: &ModelSpec, max_events: Option<u64>, origin: &str) -> Result<(), AppError> {
    let checked = match max_events {
        // An explicit budget bounds the events, not what one event can do.
        Some(_) => crate::sim::guard::check_work(spec),
        None => crate::sim::guard::check_size_at(spec, None),
    };
    checked.map_err(|(m, field)| {
        // Placed at the field in a model file, or in an experiment file at
        // its duration (or grid) which set the size.
        AppError::Input(crate::config::ConfigError::in_file(
            origin,
            &[field, "workload.duration", "duration", "grid"],
            m,
        ))
    })
}
