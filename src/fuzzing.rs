//! Entry points for fuzzing (cargo fuzz targets in `fuzz/`, and the
//! property tests that run the same code in `cargo test`). Each takes
//! arbitrary bytes and must return, never panic: every input is either
//! refused with an error or run to completion.

use crate::config::{apply_overrides, parse_model};
use crate::sim::{RunOptions, guard, simulate};

/// Runs what a model file says, if it is small: a model in RON, optionally
/// followed by lines `@set PATH=VALUE`.
pub fn model(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (model_text, sets): (Vec<&str>, Vec<&str>) = text.lines().partition(|l| !l.starts_with("@set "));
    let sets: Vec<String> = sets.iter().map(|l| l["@set ".len()..].to_string()).collect();
    let Ok(spec) = parse_model(&model_text.join("\n"), "fuzz.ron", "fuzz") else { return };
    let Ok(spec) = apply_overrides(spec, &sets) else { return };
    run_small(&spec);
}

/// Applies one `--set` argument to the reference model and runs it.
pub fn set(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(spec) = crate::builtin::load(crate::builtin::REFERENCE, "reference") else { return };
    let Ok(spec) = apply_overrides(spec, &[text.into_owned()]) else { return };
    run_small(&spec);
}

/// Simulates models small enough for a fuzzer's pace.
fn run_small(spec: &crate::config::ModelSpec) {
    if guard::check_size(spec, None).is_ok() && guard::expected_requests(spec) <= 2_000.0 {
        simulate(spec, 1, 0, RunOptions { max_events: 100_000, ..RunOptions::default() });
    }
}
