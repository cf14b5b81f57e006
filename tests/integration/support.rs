//! Helpers shared by the integration tests.

use cachesim::config::{ModelSpec, apply_overrides, parse_model};
use cachesim::metrics::RunReport;
use cachesim::sim::{RunOptions, simulate};
use statrs::distribution::{ContinuousCDF, StudentsT};

/// Parses a model written inline in a test (panics with the error: a test bug).
pub fn model(ron: &str) -> ModelSpec {
    parse_model(ron, "<test>", "test").unwrap_or_else(|e| panic!("test model does not parse:\n{e}"))
}

/// `spec` with `--set` style overrides.
pub fn with(spec: &ModelSpec, sets: &[&str]) -> ModelSpec {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    apply_overrides(spec.clone(), &sets).unwrap_or_else(|e| panic!("bad override in test:\n{e}"))
}

pub use cachesim::builtin::PROCESS_OFF;

/// `PROCESS_OFF` as `--set` arguments for the command line.
pub fn process_off_args() -> Vec<&'static str> {
    PROCESS_OFF.iter().flat_map(|s| ["--set", s]).collect()
}

/// Added to every base seed [`replicate`] is given, from the environment
/// variable `CACHESIM_SEED_OFFSET` (default 0): a statistical test must pass
/// for any base seed with its stated probability, and
/// `CACHESIM_SEED_OFFSET=1000 cargo test --test integration NAME` reruns it
/// with other seeds.
pub fn seed_offset() -> u64 {
    std::env::var("CACHESIM_SEED_OFFSET").ok().and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// Runs replications 0..n of `spec` with base seed `seed` (plus
/// [`seed_offset`]).
pub fn replicate(spec: &ModelSpec, seed: u64, n: u64) -> Vec<RunReport> {
    let seed = seed + seed_offset();
    (0..n).map(|run| simulate(spec, seed, run, RunOptions::default())).collect()
}

/// Mean and 95% confidence half-width (Student t) of per-replication values.
pub fn mean_ci95(values: &[f64]) -> (f64, f64) {
    mean_ci(values, 0.95)
}

/// Mean and confidence half-width (Student t) at `confidence` (e.g. 0.99).
pub fn mean_ci(values: &[f64], confidence: f64) -> (f64, f64) {
    let n = values.len() as f64;
    assert!(n >= 2.0, "a confidence interval needs at least two replications");
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let t = StudentsT::new(0.0, 1.0, n - 1.0).expect("valid t").inverse_cdf(0.5 + confidence / 2.0);
    (mean, t * (var / n).sqrt())
}

/// Asserts that the 95% confidence interval of `values` covers `expected`,
/// widened by `model_error` (a stated, absolute allowance for a known bias of
/// the oracle, e.g. an approximation; 0 when the formula is exact).
pub fn assert_covers(what: &str, values: &[f64], expected: f64, model_error: f64) {
    assert_covers_at(what, values, expected, model_error, 0.95);
}

/// [`assert_covers`] at another confidence level: a test that checks k
/// intervals uses 1 − 0.05/k each, so that (Bonferroni) all k cover with
/// probability at least 95%.
pub fn assert_covers_at(what: &str, values: &[f64], expected: f64, model_error: f64, confidence: f64) {
    let (mean, half) = mean_ci(values, confidence);
    eprintln!("{what}: {mean:.6} ± {half:.6} vs {expected:.6}");
    assert!(
        (mean - expected).abs() <= half + model_error,
        "{what}: simulated mean {mean:.6} ± {half:.6} ({}% CI, {} replications) does not cover the theory's {expected:.6} (allowance {model_error})",
        confidence * 100.0,
        values.len()
    );
}

/// The central interval of a Poisson(`mean`) count holding at least
/// `confidence` of its mass: (the (1−c)/2 quantile, the (1+c)/2 quantile).
pub fn poisson_interval(mean: f64, confidence: f64) -> (u64, u64) {
    use statrs::distribution::{DiscreteCDF, Poisson};
    let p = Poisson::new(mean).expect("a positive mean");
    let tail = (1.0 - confidence) / 2.0;
    (p.inverse_cdf(tail), p.inverse_cdf(1.0 - tail))
}

/// The 1-based number of the only line of `src` containing `marker`.
pub fn line_of(src: &str, marker: &str) -> usize {
    let hits: Vec<usize> = src.lines().enumerate().filter(|(_, l)| l.contains(marker)).map(|(i, _)| i + 1).collect();
    assert_eq!(hits.len(), 1, "test bug: marker {marker:?} must be on exactly one line of:\n{src}");
    hits[0]
}

/// The (line, column) printed as `PATH:LINE:COL:` on stderr.
pub fn position(stderr: &str, path: &str) -> (usize, usize) {
    let prefix = format!("{path}:");
    let at = stderr.find(&prefix).unwrap_or_else(|| panic!("no `{prefix}` in stderr:\n{stderr}"));
    let mut parts = stderr[at + prefix.len()..].splitn(3, ':');
    let mut next_number = || parts.next().and_then(|p| p.parse::<usize>().ok());
    match (next_number(), next_number()) {
        (Some(line), Some(col)) => (line, col),
        _ => panic!("no `{path}:LINE:COL:` position in stderr:\n{stderr}"),
    }
}

/// Runs `cachesim run FILE --json ARGS...`.
pub fn run_cli(file: &std::path::Path, args: &[&str]) -> std::process::Output {
    assert_cmd::cargo::cargo_bin_cmd!("cachesim")
        .arg("run")
        .arg(file)
        .arg("--json")
        .args(args)
        .output()
        .expect("cachesim starts")
}

/// Writes `text` as `name` in a fresh temporary directory (kept alive by
/// the returned guard) and runs it as [`run_cli`] does.
pub fn run_model_text(
    name: &str,
    text: &str,
    args: &[&str],
) -> (std::process::Output, std::path::PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write model");
    (run_cli(&path, args), path, dir)
}

/// Asserts that a run was refused as bad input: exit code 2, nothing on
/// stdout, no panic, and stderr naming `names`. Returns stderr.
pub fn assert_rejected(out: &std::process::Output, names: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "cachesim panicked:\n{stderr}");
    assert_eq!(out.status.code(), Some(2), "expected exit code 2 (bad input); stderr:\n{stderr}");
    assert!(out.stdout.is_empty(), "a rejected run printed to stdout");
    assert!(stderr.contains(names), "stderr does not name {names:?}:\n{stderr}");
    stderr
}

/// Erlang B by the stable recursion B(k) = a·B(k−1) / (k + a·B(k−1)), B(0) = 1.
pub fn erlang_b(c: u32, a: f64) -> f64 {
    (1..=c).fold(1.0, |b, k| a * b / (k as f64 + a * b))
}

/// Erlang C, the M/M/c probability of waiting (a < c): C = c·B / (c − a·(1 − B)).
pub fn erlang_c(c: u32, a: f64) -> f64 {
    let b = erlang_b(c, a);
    c as f64 * b / (c as f64 - a * (1.0 - b))
}
