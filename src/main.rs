//! The `cachesim` binary: parse arguments, run, print any error once, exit
//! with 0 (success), 1 (failure while working) or 2 (bad input).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    keep_freed_memory();
    let cli = cachesim::cli::Cli::parse();
    match cachesim::app::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// Asks glibc's malloc to keep memory a run frees for the next run, instead
/// of returning it to the kernel. A saturated run holds some 100 MB of
/// requests in flight; by default each such run maps that afresh and the
/// kernel zeroes every page again (in a 600-run sweep a third of the CPU time
/// went to page faults). Both thresholds are bytes; allocations above the
/// mmap threshold (1 GiB) still get their own mapping.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets malloc's parameters; it is called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}
