//! The command line as a user runs it: output, exit codes and error messages
//! of the real `cachesim` binary.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use predicates::prelude::*;
use serde_json::Value;

use crate::support::{line_of, position};

/// The `cachesim` binary built for this test run.
fn cachesim() -> assert_cmd::Command {
    assert_cmd::cargo::cargo_bin_cmd!("cachesim")
}

/// A model shipped in `models/seed/`, by absolute path.
fn seed_model(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models/seed").join(file)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `cachesim run <model> --json <extra...>`, asserts success and
/// returns the parsed report.
fn run_json(model: &Path, extra: &[&str]) -> Value {
    let out = cachesim().arg("run").arg(model).arg("--json").args(extra).output().expect("cachesim starts");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "cachesim run {model:?} {extra:?} failed:\n{stderr}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", text(&out.stdout)))
}

/// The value at a dotted path of nested objects, e.g. `requests.errors.rate_limited`.
fn get<'a>(v: &'a Value, dotted: &str) -> Option<&'a Value> {
    dotted.split('.').try_fold(v, |node, key| node.as_object()?.get(key))
}

/// The unsigned integer at a dotted path (panics with the path if absent).
fn uint(v: &Value, dotted: &str) -> u64 {
    get(v, dotted).and_then(Value::as_u64).unwrap_or_else(|| panic!("`{dotted}` is not an unsigned integer in {v:#}"))
}

/// The number at a dotted path (panics with the path if absent or null).
fn num(v: &Value, dotted: &str) -> f64 {
    get(v, dotted).and_then(Value::as_f64).unwrap_or_else(|| panic!("`{dotted}` is not a number in {v:#}"))
}

/// Asserts the shape every bad-input error must have: exit code exactly 2,
/// nothing on stdout (even with `--json`), no panic, and `names` (usually the
/// file path or the offending argument) on stderr. Returns stderr.
fn assert_input_error(out: &Output, names: &str) -> String {
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("panicked"), "cachesim panicked:\n{stderr}");
    assert_eq!(out.status.code(), Some(2), "expected exit code 2 (bad input); stderr:\n{stderr}");
    assert!(out.stdout.is_empty(), "a failed run printed to stdout:\n{}", text(&out.stdout));
    assert!(stderr.contains(names), "stderr does not name {names:?}:\n{stderr}");
    stderr
}

/// `cachesim run <reference.ron> --json <args...>`, whatever its outcome.
fn run_reference_with(args: &[&str]) -> Output {
    cachesim().arg("run").arg(seed_model("reference.ron")).arg("--json").args(args).output().expect("cachesim starts")
}

// ---------------------------------------------------------------------------
// No arguments, `run`, `bench`
// ---------------------------------------------------------------------------

/// With no arguments the binary runs the built-in side-by-side comparison
/// of both reference models and explains it.
#[test]
fn no_arguments_prints_the_reference_comparison() {
    let out = cachesim().output().expect("cachesim starts");
    assert_eq!(out.status.code(), Some(0), "stderr:\n{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("reference_locked"), "no `reference_locked` column:\n{stdout}");
    // `reference` alone, not only as the prefix of `reference_locked`.
    assert!(
        stdout.split_whitespace().any(|word| word == "reference"),
        "no `reference` column (only `reference_locked`?):\n{stdout}"
    );
    assert!(stdout.lines().any(|l| l.starts_with("What it means:")), "no `What it means:` line:\n{stdout}");
}

/// Every key of the `--json` contract (documented as stable for CI users)
/// is present, with the model's name and the default seed.
#[test]
fn run_json_has_every_documented_key() {
    let v = run_json(&seed_model("reference.ron"), &[]);
    let keys = [
        "model",
        "seed",
        "requests.arrived",
        "requests.ok",
        "requests.failed",
        "requests.errors.rate_limited",
        "requests.errors.pool_timeout",
        "latency_s.mean",
        "latency_s.p50",
        "latency_s.p95",
        "latency_s.p99",
        "latency_s.p999",
        "latency_s.max",
        "cache.hit_ratio",
        "cache.served_from_cache_ratio",
        "backend.calls",
        "backend.attempts",
        "backend.rate_limited",
        "backend.peak_concurrent",
        "pool.peak_in_use",
        "pool.timeouts",
        "engine.events",
    ];
    let missing: Vec<&str> = keys.iter().copied().filter(|k| get(&v, k).is_none()).collect();
    assert!(missing.is_empty(), "missing keys {missing:?} in:\n{v:#}");
    assert_eq!(get(&v, "model").and_then(Value::as_str), Some("reference"), "model name (from the file)");
    assert_eq!(uint(&v, "seed"), 1, "`--seed` defaults to 1");
}

/// The report's counts add up: every arrived request is ok, failed or still
/// in flight; failures are the sum of their causes; ratios and quantiles
/// are in range and in order.
#[test]
fn run_json_counts_are_consistent() {
    for file in ["reference.ron", "reference_locked.ron"] {
        let v = run_json(&seed_model(file), &["--set", "workload.duration=2m"]);
        let (arrived, ok, failed) =
            (uint(&v, "requests.arrived"), uint(&v, "requests.ok"), uint(&v, "requests.failed"));
        let in_flight = uint(&v, "requests.in_flight_at_end");
        assert!(arrived > 0, "{file}: nothing arrived");
        assert_eq!(arrived, ok + failed + in_flight, "{file}: arrived != ok + failed + in_flight_at_end");

        let errors = get(&v, "requests.errors").and_then(Value::as_object).expect("errors object");
        let by_cause: u64 = errors.values().map(|n| n.as_u64().expect("error counts are integers")).sum();
        assert_eq!(failed, by_cause, "{file}: failed != sum of errors {errors:?}");

        let hit = num(&v, "cache.hit_ratio");
        let served = num(&v, "cache.served_from_cache_ratio");
        assert!((0.0..=1.0).contains(&hit) && (hit..=1.0).contains(&served), "{file}: ratios {hit} {served}");

        let quantiles = ["latency_s.p50", "latency_s.p95", "latency_s.p99", "latency_s.p999"].map(|k| num(&v, k));
        assert!(quantiles.windows(2).all(|w| w[0] <= w[1]), "{file}: quantiles out of order {quantiles:?}");
        assert!(num(&v, "latency_s.mean") <= num(&v, "latency_s.max"), "{file}: mean above max");

        assert!(uint(&v, "backend.attempts") >= uint(&v, "backend.calls"), "{file}: fewer attempts than calls");
        assert!(uint(&v, "backend.attempts") >= uint(&v, "backend.rate_limited"), "{file}: refusals > attempts");
        assert_eq!(get(&v, "engine.truncated"), Some(&Value::Bool(false)), "{file}: run cut short");
    }
}

/// `--seed` reaches the report.
#[test]
fn seed_flag_is_reported() {
    let v = run_json(&seed_model("reference.ron"), &["--seed", "7", "--set", "workload.duration=1m"]);
    assert_eq!(uint(&v, "seed"), 7);
}

/// `--set workload.rate=R` changes the arrival rate: Poisson arrivals over
/// T seconds number λT ± 5√(λT) (the count is Poisson(λT), so its standard
/// deviation is √(λT); 5σ makes a false failure negligible). The model's
/// own rate (100/s) would land far outside the band, so the check has teeth.
#[test]
fn set_workload_rate_scales_arrivals_within_a_poisson_band() {
    let duration_s: f64 = 120.0; // "2m"; the reference has no warm-up, so all of it is measured
    for rate in [20.0, 5.0] {
        let v = run_json(
            &seed_model("reference.ron"),
            &["--set", &format!("workload.rate={rate}"), "--set", "workload.duration=2m"],
        );
        let expected = rate * duration_s;
        let band = 5.0 * expected.sqrt();
        let arrived = uint(&v, "requests.arrived") as f64;
        assert!(
            (arrived - expected).abs() <= band,
            "rate {rate}/s for {duration_s}s: {arrived} arrivals, expected {expected} ± {band:.0}"
        );
    }
}

/// `--set servers.count=N` gives N servers, each with its own cold cache.
/// In the locked model (single flight) each cache is filled exactly once
/// when the TTL (5m) outlasts the arrivals (2m) and the token bucket's burst
/// (10) covers the N first fetches: so fills == backend calls == N.
#[test]
fn set_servers_count_gives_one_cold_cache_per_server() {
    for n in [1u64, 3, 7] {
        let v = run_json(
            &seed_model("reference_locked.ron"),
            &["--set", &format!("servers.count={n}"), "--set", "workload.duration=2m"],
        );
        assert_eq!(uint(&v, "cache.fills"), n, "{n} servers: cache fills");
        assert_eq!(uint(&v, "backend.calls"), n, "{n} servers: backend calls");
    }
}

/// Bounds on the number of single-flight cache fills over `duration_s` of
/// arrivals with a TTL of `ttl_s`. Fill k+1 needs the k-th expiry, after at
/// least k·TTL, to come before arrivals stop: at most ceil(T/TTL) fills. Each
/// cycle lasts at most TTL + `slack_s` (the wait for the next arrival plus
/// one fetch), so fill k+1 surely happens if k·(TTL + slack) + slack < T.
fn ttl_fill_bounds(duration_s: f64, ttl_s: f64, slack_s: f64) -> (u64, u64) {
    let most = (duration_s / ttl_s).ceil() as u64;
    let least = 1 + (1..).take_while(|&k| k as f64 * (ttl_s + slack_s) + slack_s < duration_s).count() as u64;
    (least, most)
}

/// `--set cache.ttl=2m` changes the TTL: the number of cache fills in a
/// 5-minute locked run follows from the TTL (see `ttl_fill_bounds`), for the
/// file's TTL (5m) and for the override.
#[test]
fn set_cache_ttl_changes_how_often_the_cache_refills() {
    // At 100 req/s the next arrival is milliseconds away, and a
    // LogNormal(median 1s, p99 2s) fetch above 9 s is a 7σ event: 10 s is ample.
    let slack_s = 10.0;
    for (ttl, ttl_s) in [(None, 300.0), (Some("cache.ttl=2m"), 120.0), (Some("cache.ttl=1m"), 60.0)] {
        let mut args = vec!["--set", "workload.duration=5m"];
        args.extend(crate::support::process_off_args());
        if let Some(set) = ttl {
            args.extend(["--set", set]);
        }
        let v = run_json(&seed_model("reference_locked.ron"), &args);
        let (least, most) = ttl_fill_bounds(300.0, ttl_s, slack_s);
        let fills = uint(&v, "cache.fills");
        assert!((least..=most).contains(&fills), "TTL {ttl_s}s over 300s: {fills} fills, expected {least}..={most}");
    }
}

/// A misspelt override path exits 2, names the bad part and suggests the
/// field it resembles.
#[test]
fn misspelt_override_suggests_the_field() {
    let out = run_reference_with(&["--set", "cache.tll=2m"]);
    let stderr = assert_input_error(&out, "tll");
    assert!(stderr.contains("ttl"), "no suggestion of `ttl`:\n{stderr}");
}

/// An override is checked like the file: a negative rate exits 2.
#[test]
fn negative_rate_override_is_rejected() {
    let out = run_reference_with(&["--set", "workload.rate=-5"]);
    let stderr = assert_input_error(&out, "workload.rate");
    assert!(stderr.contains("above zero"), "does not say what a rate must be:\n{stderr}");
}

/// An override without `=` exits 2 and shows the expected form.
#[test]
fn override_without_equals_sign_is_rejected() {
    let out = run_reference_with(&["--set", "nonsense"]);
    let stderr = assert_input_error(&out, "nonsense");
    assert!(stderr.contains("PATH=VALUE"), "does not show the expected form:\n{stderr}");
}

/// Overrides that only fail once all are applied (warm-up no longer
/// shorter than the duration) are still input errors, not run failures.
#[test]
fn override_breaking_a_cross_field_rule_is_rejected() {
    let out = run_reference_with(&["--set", "workload.warmup=20m"]);
    let stderr = assert_input_error(&out, "warmup");
    assert!(stderr.contains("shorter than the duration"), "does not say what is wrong:\n{stderr}");
}

/// No output of a failed `--json` run may reach stdout, where a script would
/// read it as a report: checked for several kinds of failure.
#[test]
fn failed_json_run_prints_nothing_on_stdout() {
    let missing = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/seed/no_such_model.ron");
    for out in [
        run_reference_with(&["--set", "cache.tll=2m"]),
        run_reference_with(&["--set", "workload.duration=0s"]),
        cachesim().arg("run").arg(&missing).arg("--json").output().expect("cachesim starts"),
    ] {
        assert_eq!(out.status.code(), Some(2), "stderr:\n{}", text(&out.stderr));
        assert!(out.stdout.is_empty(), "stdout of a failed run:\n{}", text(&out.stdout));
        assert!(!out.stderr.is_empty(), "a failed run must say why on stderr");
    }
}

/// An unknown flag is clap's usage error: exit 2 with the usage line.
#[test]
fn unknown_flag_is_a_usage_error() {
    cachesim()
        .arg("run")
        .arg(seed_model("reference.ron"))
        .arg("--bogus")
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("--bogus").and(predicate::str::contains("Usage")));
}

/// `run` without a model is a usage error too.
#[test]
fn run_without_a_model_is_a_usage_error() {
    cachesim().arg("run").assert().code(2).stderr(predicate::str::contains("<MODEL>"));
}

/// `bench` prints a table with the speed columns and one row per built-in
/// model (kept to 10 simulated seconds).
#[test]
fn bench_prints_speed_columns() {
    let out = cachesim()
        .args(["bench", "--repeat", "1", "--set", "workload.duration=10s"])
        .output()
        .expect("cachesim starts");
    assert_eq!(out.status.code(), Some(0), "stderr:\n{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let header = stdout.lines().next().unwrap_or_default();
    assert!(header.contains("events/s") && header.contains("sim requests/s"), "header: {header:?}");
    for model in ["reference", "reference_locked"] {
        assert!(stdout.lines().any(|l| l.split_whitespace().next() == Some(model)), "no row for {model}:\n{stdout}");
    }
}

/// `bench --memory` runs the benchmark at 1 h and 24 h of simulated time
/// in fresh processes and prints both peaks and their ratio, which stays
/// within 1.2× (kept to 2 req/s here, so that the day takes seconds; the
/// state a run keeps does not grow with its length at any rate).
#[test]
fn bench_memory_stays_flat_from_one_hour_to_a_day() {
    let out = cachesim().args(["bench", "--memory", "--set", "workload.rate=2"]).output().expect("cachesim starts");
    assert_eq!(out.status.code(), Some(0), "stderr:\n{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for duration in ["1h:", "24h:"] {
        assert!(stdout.lines().any(|l| l.trim_start().starts_with(duration)), "no {duration} line:\n{stdout}");
    }
    let ratio: f64 = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("24 h / 1 h: "))
        .and_then(|r| r.split('x').next())
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("no ratio:\n{stdout}"));
    assert!(ratio > 0.0 && ratio <= 1.2, "peak memory grew {ratio}x from 1 h to 24 h:\n{stdout}");
}

// ---------------------------------------------------------------------------
// Bad model files
// ---------------------------------------------------------------------------

/// Writes `contents` to a file named `name` in a fresh temporary directory
/// and runs `cachesim run FILE --json` on it.
fn run_file(name: &str, contents: &[u8]) -> (Output, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(name);
    std::fs::write(&path, contents).expect("write model");
    let out = cachesim().arg("run").arg(&path).arg("--json").output().expect("cachesim starts");
    (out, path.display().to_string(), dir)
}

/// Asserts that the model `src` is rejected as bad input, at the line holding
/// `marker` (with that line shown), with one of `words` in the message.
fn assert_rejected_at(src: &str, marker: &str, words: &[&str]) {
    let (out, path, _dir) = run_file("model.ron", src.as_bytes());
    let stderr = assert_input_error(&out, &path);
    let (line, col) = position(&stderr, &path);
    let expected = line_of(src, marker);
    assert_eq!(line, expected, "error reported on the wrong line:\n{stderr}");
    let shown = src.lines().nth(expected - 1).expect("line exists");
    assert!((1..=shown.chars().count() + 1).contains(&col), "column {col} is off the line:\n{stderr}");
    assert!(stderr.contains(shown.trim()), "the offending line is not shown:\n{stderr}");
    assert!(words.iter().any(|w| stderr.contains(w)), "stderr has none of {words:?}:\n{stderr}");
}

/// (a) A misspelt field is reported where it is, with the field it resembles.
#[test]
fn model_with_unknown_field() {
    let src = r#"Model(
    workload: (
        rate: 10,
        duration: "2m",
        warmpu: "1m",
    ),
    backend: (latency: Constant("1s")),
)
"#;
    assert_rejected_at(src, "warmpu", &["did you mean `warmup`"]);
}

/// (b) A string where a number belongs is reported at that field, saying a
/// number was expected.
#[test]
fn model_with_wrong_type() {
    let src = r#"Model(
    workload: (
        rate: "fast",
        duration: "2m",
    ),
    backend: (latency: Constant("1s")),
)
"#;
    assert_rejected_at(src, "\"fast\"", &["float", "number", "rate per second"]);
}

/// (c) A missing required field is reported at the end of its section (where
/// the parser finds it missing), naming the field.
#[test]
fn model_with_missing_required_field() {
    let src = r#"Model(
    workload: (
        rate: 10,
    ), // end of workload
    backend: (latency: Constant("1s")),
)
"#;
    assert_rejected_at(src, "end of workload", &["missing field `duration`"]);
}

/// (d) A LogNormal whose p99 is below its median is reported at the latency.
#[test]
fn model_with_lognormal_p99_below_median() {
    let src = r#"Model(
    workload: (rate: 10, duration: "2m"),
    backend: (
        latency: LogNormal(median: "2s", p99: "1s"),
    ),
)
"#;
    assert_rejected_at(src, "LogNormal", &["must be above its median"]);
}

/// (d) A pool of 0 + 0 connections is reported at `pool_size`.
#[test]
fn model_with_empty_pool() {
    let src = r#"Model(
    workload: (rate: 10, duration: "2m"),
    backend: (latency: Constant("1s")),
    db: (
        pool_size: 0,
        max_overflow: 0,
        query: Constant("1ms"),
    ),
)
"#;
    assert_rejected_at(src, "pool_size", &["pool_size or max_overflow above zero"]);
}

/// (d) A zero or negative rate is reported at the rate.
#[test]
fn model_with_zero_or_negative_rate() {
    for rate in ["0", "-5", "0.0"] {
        let src = format!(
            "Model(\n    workload: (\n        rate: {rate},\n        duration: \"2m\",\n    ),\n    backend: (latency: Constant(\"1s\")),\n)\n"
        );
        assert_rejected_at(&src, "rate:", &["above zero"]);
    }
}

/// (d) A warm-up longer than the duration (a cross-field check, made after
/// parsing) is still reported at the warm-up's line.
#[test]
fn model_with_warmup_longer_than_duration() {
    let src = r#"Model(
    workload: (
        rate: 10,
        duration: "2m",
        warmup: "5m",
    ),
    backend: (latency: Constant("1s")),
)
"#;
    assert_rejected_at(src, "warmup", &["shorter than the duration"]);
}

/// (e) A missing comma between two fields on one line is reported on that
/// line, saying a comma was expected.
#[test]
fn model_with_missing_comma() {
    let src = r#"Model(
    workload: (rate: 10 duration: "2m"),
    backend: (latency: Constant("1s")),
)
"#;
    assert_rejected_at(src, "rate: 10 duration", &["comma"]);
}

/// (e) A missing comma at the end of a line is reported where the parser
/// meets the next field, which is the next line.
#[test]
fn model_with_missing_comma_at_end_of_line() {
    let src = r#"Model(
    workload: (
        rate: 10
        duration: "2m",
    ),
    backend: (latency: Constant("1s")),
)
"#;
    assert_rejected_at(src, "duration", &["comma"]);
}

/// (e) An unclosed parenthesis can only be noticed at the end of the file:
/// reported on the last line, saying the file ended too soon.
#[test]
fn model_with_unclosed_paren() {
    let src = r#"Model(
    workload: (rate: 10, duration: "2m"),
    backend: (latency: Constant("1s")), // last line
"#;
    assert_rejected_at(src, "last line", &["end"]);
}

/// (f) An empty file is bad input naming the file.
#[test]
fn empty_model_file() {
    let (out, path, _dir) = run_file("empty.ron", b"");
    assert_input_error(&out, &path);
}

/// (g) A file that does not exist is bad input naming the file.
#[test]
fn model_file_that_does_not_exist() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("absent.ron");
    let out = cachesim().arg("run").arg(&path).arg("--json").output().expect("cachesim starts");
    let stderr = assert_input_error(&out, &path.display().to_string());
    assert!(stderr.contains("cannot read"), "does not say it cannot be read:\n{stderr}");
}

/// (h) A directory passed as the model is bad input naming it.
#[test]
fn directory_as_model() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = cachesim().arg("run").arg(dir.path()).arg("--json").output().expect("cachesim starts");
    let stderr = assert_input_error(&out, &dir.path().display().to_string());
    assert!(stderr.contains("cannot read"), "does not say it cannot be read:\n{stderr}");
}

/// (i) A file that is not UTF-8 is bad input naming the file and the encoding.
#[test]
fn model_file_with_invalid_utf8() {
    let (out, path, _dir) = run_file("latin1.ron", b"Model(\n    name: \"caf\xe9 \xff\xfe\",\n)\n");
    let stderr = assert_input_error(&out, &path);
    assert!(stderr.contains("UTF-8"), "does not say the encoding is wrong:\n{stderr}");
}

// ---------------------------------------------------------------------------
// Regressions: bugs found while writing these tests, now fixed.
// ---------------------------------------------------------------------------

/// A retry backoff capped at zero (`max_delay: "0s"`) makes every retry
/// sleep 0 ns, so simulated time stops and the run never ends. It should be
/// rejected like `initial: "0s"` is.
#[test]
fn zero_max_delay_is_rejected_not_an_endless_run() {
    let src = r#"Model(
    workload: (rate: 20, duration: "2m"),
    backend: (
        latency: Constant("1s"),
        rate_limit: (
            rate: 1,
            burst: 1,
            when_empty: Retry,
            retry: (max_delay: "0s"),
        ),
    ),
)
"#;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("model.ron");
    std::fs::write(&path, src).expect("write model");
    let out = cachesim()
        .arg("run")
        .arg(&path)
        .arg("--json")
        .timeout(Duration::from_secs(10))
        .output()
        .expect("cachesim starts");
    assert!(out.status.code().is_some(), "still running after 10 s (killed): the simulated clock does not advance");
    let stderr = assert_input_error(&out, &path.display().to_string());
    assert!(stderr.contains("max_delay"), "does not name `max_delay`:\n{stderr}");
}

/// A huge server count must not abort the process on memory allocation: it
/// should either be rejected as bad input (exit 2) or run.
#[test]
fn huge_server_count_does_not_abort() {
    let out = cachesim()
        .arg("run")
        .arg(seed_model("reference.ron"))
        .args(["--json", "--set", "servers.count=4294967295", "--set", "workload.duration=1s"])
        .timeout(Duration::from_secs(10))
        .output()
        .expect("cachesim starts");
    let stderr = text(&out.stderr);
    assert!(matches!(out.status.code(), Some(0 | 2)), "status {:?}; stderr:\n{stderr}", out.status);
    assert!(!stderr.contains("memory allocation"), "aborted on allocation:\n{stderr}");
}

/// `--set` takes values "written as in a model file", and the shipped models
/// write handlers as `Constant("50ms")`. A 1 s handler delays every request
/// by at least 1 s, so the median latency must then be at least 1 s.
#[test]
fn set_accepts_a_newtype_variant_value() {
    let v = run_json(
        &seed_model("reference.ron"),
        &["--set", "workload.duration=1m", "--set", r#"servers.handler=Constant("1s")"#],
    );
    assert!(num(&v, "latency_s.p50") >= 1.0, "handler override had no effect: {v:#}");
}

/// Enum values inside a list or section given to `--set` keep their
/// variant names, as in a model file. With a step from 100/s to 50/s at
/// 1 minute, 2 minutes of Poisson arrivals number 9000 ± 5√9000.
#[test]
fn set_accepts_enum_values_inside_compound_values() {
    let v = run_json(
        &seed_model("reference.ron"),
        &["--set", "workload.duration=2m", "--set", r#"workload.phases=[Step(at: "1m", rate: 50)]"#],
    );
    let (expected, arrived) = (100.0 * 60.0 + 50.0 * 60.0, uint(&v, "requests.arrived") as f64);
    assert!((arrived - expected).abs() <= 5.0 * f64::sqrt(expected), "{arrived} arrivals, expected about {expected}");

    run_json(
        &seed_model("reference.ron"),
        &["--set", "workload.duration=1m", "--set", r#"db=(query: Exponential(mean: "1ms"))"#],
    );
}

/// `None` names both a unit variant and an absent section, whatever the
/// current value: a policy with fields set back to `None` (the reference's
/// unlocked stampede: 1 + λδ fetches per expiry, far above XFetch's few), a
/// section removed, and a struct variant given as `Name()` with defaults.
#[test]
fn set_none_works_over_variants_with_fields_and_sections() {
    let xfetch = ["--set", "workload.duration=11m", "--set", "cache.refresh=XFetch(beta: 1.0)"];
    let back = run_json(&seed_model("reference.ron"), &[&xfetch[..], &["--set", "cache.refresh=None"]].concat());
    let plain = run_json(&seed_model("reference.ron"), &["--set", "workload.duration=11m"]);
    assert_eq!(back["backend"], plain["backend"], "refresh=None after XFetch is the unlocked reference");
    let no_cdn = run_json(&seed_model("scenario4.ron"), &["--set", "workload.duration=1m", "--set", "cdn=None"]);
    assert_eq!(uint(&no_cdn, "cdn.origin_requests"), 0);
    assert!(no_cdn["cache"]["layers"].get("cdn").is_none());
    let lease = run_json(
        &seed_model("reference.ron"),
        &[
            &["--set", "workload.duration=11m", "--set", "cache.refresh=Lease()"][..],
            &crate::support::process_off_args(),
        ]
        .concat(),
    );
    assert_eq!(num(&lease, "backend.fetches_per_expiry_mean"), 1.0, "a lease lets one fetch through per expiry");
}

/// Every field of the model schema is documented: each key of a model with
/// every section filled in (Scenario 4, plus the sections it lacks) appears
/// in docs/models.md as `name`.
#[test]
fn every_model_field_is_documented() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let docs = std::fs::read_to_string(root.join("docs/models.md")).unwrap();
    let text = std::fs::read_to_string(root.join("models/seed/scenario4.ron")).unwrap();
    let spec = cachesim::config::parse_model(&text, "scenario4.ron", "scenario4").unwrap();
    let sets = [
        r#"cache=(refresh: Lease())"#,
        r#"response_cache=(keys: 10, capacity: 5)"#,
        r#"cdn.shield=(collapse: true)"#,
        r#"cdn.s_maxage="1m""#,
        r#"backend.rate_limit=(rate: 1, burst: 1, when_empty: Retry)"#,
        r#"backend.writes=Poisson(1)"#,
        r#"backend.faults=[Outage(from: "1s", to: "2s"), Slow(from: "3s", to: "4s", factor: 2)]"#,
        r#"servers.concurrency=4"#,
        r#"servers.restarts=[(at: "5m", server: 0)]"#,
        r#"redis.outages=[(from: "1s", to: "2s")]"#,
        r#"redis.lock.timeout="10s""#,
        r#"db.writes=Poisson(1)"#,
        r#"workload.closed=(users: 10, think: Constant("1s"))"#,
        r#"workload.phases=[Step(at: "1m", rate: 5)]"#,
    ];
    let spec = cachesim::config::apply_overrides(spec, &sets.map(String::from)).unwrap();
    fn keys(v: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, child) in m {
                    out.insert(k.clone());
                    keys(child, out);
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|c| keys(c, out)),
            _ => {}
        }
    }
    let mut all = std::collections::BTreeSet::new();
    keys(&serde_json::to_value(&spec).unwrap(), &mut all);
    // A field is documented as `name` (in a table or text) or inside a
    // documented form such as `LogNormal(median: "1s", p99: "2s")`.
    let missing: Vec<&String> = all
        .iter()
        .filter(|k| [format!("`{k}"), format!("({k}:"), format!(", {k}:")].iter().all(|f| !docs.contains(f)))
        .collect();
    assert!(missing.is_empty(), "fields not in docs/models.md: {missing:?}");
    assert!(all.len() > 80, "the model covered only {} fields", all.len());
}

/// The text summary shows the parts a model has: the CDN's row, the cache
/// layers, and the database's replicas and PgBouncer (Scenario 4 with
/// writes on the primary, so some replica reads are stale).
#[test]
fn the_summary_shows_the_cdn_and_database_rows() {
    let out = cachesim()
        .arg("run")
        .arg(seed_model("scenario4.ron"))
        .args(["--set", "workload.duration=2m", "--set", "db.writes=Poisson(5)", "--set", "cdn.max_age=1s"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let row = |label: &str| {
        text.lines().find(|l| l.starts_with(label)).unwrap_or_else(|| panic!("no `{label}` row:\n{text}"))
    };
    assert!(row("cdn ").contains("origin requests"));
    assert!(row("layers ").contains("cdn"));
    assert!(row("db ").contains("on replicas"));
    // The plain reference has none of these rows.
    let plain = cachesim().arg("run").arg(seed_model("reference.ron")).output().unwrap();
    let plain = String::from_utf8(plain.stdout).unwrap();
    assert!(!plain.lines().any(|l| l.starts_with("cdn ") || l.starts_with("db ")), "{plain}");
}
