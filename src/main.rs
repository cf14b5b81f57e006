//! The `cachesim` binary: parse arguments, run, print any error once, exit
//! with 0 (success), 1 (failure while working) or 2 (bad input).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cachesim::cli::Cli::parse();
    match cachesim::app::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
