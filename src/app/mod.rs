//! From parsed arguments to work: load and check models, run them, print.
//! The only module that writes to stdout. One file per family of commands:
//! `single` (run, the default comparison), `experiments` (sweep, merge,
//! check, limit), `reports` (report, plots), `bench`.

mod bench;
mod experiments;
mod reports;
mod single;

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
    }
}

/// Progress on stderr: a bar with an ETA on a terminal, a line every 10%
/// otherwise, nothing when quiet.
pub(super) fn progress_reporter(quiet: bool, label: String) -> Box<dyn Fn(usize, usize) + Sync> {
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

pub(super) fn options(a: &ModelArgs) -> RunOptions {
    RunOptions { max_events: a.max_events.unwrap_or(u64::MAX), ..RunOptions::default() }
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
    if max_events.is_some() {
        return Ok(());
    }
    crate::sim::guard::check_size(spec, None).map_err(|m| AppError::Input(crate::config::ConfigError::new(origin, m)))
}
