//! `cachesim check` end to end, on small experiments written into temporary
//! directories: baselines (written, compared, corrupt or missing, with points
//! on one side only), the model and trace fingerprints that tell "the model
//! changed" from "the simulator changed", expectations (failing, passing, and
//! refused with a position), and the JUnit XML written for CI.
//!
//! The experiments are small: two models (mostly the two reference models)
//! at two or three rates, three minutes, three replications (12 to 18 short
//! runs), so that the whole module takes a few seconds in a debug build. No test states a simulated number: runs are
//! compared with each other, or with what holds by construction.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{line_of, position};

/// The `cachesim` binary built for this test run.
fn cachesim() -> assert_cmd::Command {
    assert_cmd::cargo::cargo_bin_cmd!("cachesim")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A path as a RON string literal.
fn ron_string(path: &Path) -> String {
    format!("{:?}", path.display().to_string())
}

/// A model shipped in `models/seed/`, by absolute path (model paths in an
/// experiment are relative to the experiment file, which lives in a
/// temporary directory).
fn seed_model(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models/seed").join(file)
}

/// The two models every experiment here runs, by name and file.
const MODELS: [(&str, &str); 2] = [("reference", "reference.ron"), ("reference_locked", "reference_locked.ron")];

/// An experiment named `name` over `models` (RON string literals of their
/// paths), three minutes at the rates `rates` (at 10 req/s, 54 requests
/// beyond the p99: enough to judge it), three replications, SLO `slo`;
/// `expect` is the inside of the `expect: [...]` list, one expectation a line.
fn experiment_with(name: &str, models: &[String], rates: &str, slo: &str, expect: &[&str]) -> String {
    let expect: String = expect.iter().map(|e| format!("        {e}\n")).collect();
    format!(
        "Experiment(\n    name: {name:?},\n    models: [{}],\n    duration: \"3m\",\n    \
         grid: Cartesian([(path: \"workload.rate\", values: [{rates}])]),\n    replications: 3,\n    \
         slo: {slo},\n    expect: [\n{expect}    ],\n)\n",
        models.join(", ")
    )
}

/// The usual experiment: both reference models at `rates`, SLO p99 ≤ 2s.
fn experiment(rates: &str, expect: &[&str]) -> String {
    let models: Vec<String> = MODELS.iter().map(|(_, file)| ron_string(&seed_model(file))).collect();
    experiment_with("small", &models, rates, "(p99: \"2s\")", expect)
}

/// The point labels a report uses for `models` at `rates`, in plan order.
fn labels(models: &[&str], rates: &[&str]) -> Vec<String> {
    models.iter().flat_map(|m| rates.iter().map(move |r| format!("{m} at workload.rate={r}"))).collect()
}

/// The two models' names.
fn model_names() -> Vec<&'static str> {
    MODELS.iter().map(|(name, _)| *name).collect()
}

/// The outcome of one `cachesim` command.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    /// The `--out` directory it was given.
    out: PathBuf,
}

impl Run {
    fn show(&self) -> String {
        format!("exit {:?}\n--- stdout:\n{}--- stderr:\n{}", self.code, self.stdout, self.stderr)
    }

    /// Asserts the exit code (and that nothing panicked).
    fn expect_code(&self, code: i32, what: &str) -> &Run {
        assert!(!self.stderr.contains("panicked"), "{what}: cachesim panicked:\n{}", self.show());
        assert_eq!(self.code, Some(code), "{what}: wrong exit code:\n{}", self.show());
        self
    }

    /// Asserts that `cachesim check` refused its input before running
    /// anything: exit 2, nothing on stdout, no sweep directory.
    fn expect_refused(&self, what: &str) -> &Run {
        self.expect_code(2, what);
        assert!(self.stdout.is_empty(), "{what}: a refused check printed on stdout:\n{}", self.show());
        assert!(!self.out.join(".cachesim").exists(), "{what}: a refused check started a sweep:\n{}", self.show());
        self
    }
}

/// A temporary directory with experiments, baselines and fresh `--out`
/// directories for `cachesim check`.
struct Sandbox {
    dir: tempfile::TempDir,
    outs: Cell<usize>,
}

impl Sandbox {
    fn new() -> Sandbox {
        Sandbox { dir: tempfile::tempdir().expect("temp dir"), outs: Cell::new(0) }
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    /// Writes `contents` to `file` in the sandbox and returns its path.
    fn write(&self, file: &str, contents: &str) -> PathBuf {
        let path = self.path(file);
        fs::write(&path, contents).expect("write into the sandbox");
        path
    }

    /// `cachesim check EXPERIMENT --out FRESH ARGS...`.
    fn check(&self, experiment: &Path, args: &[&str]) -> Run {
        self.outs.set(self.outs.get() + 1);
        let out = self.path(&format!("out{}", self.outs.get()));
        let output =
            cachesim().arg("check").arg(experiment).arg("--out").arg(&out).args(args).output().expect("starts");
        Run { code: output.status.code(), stdout: text(&output.stdout), stderr: text(&output.stderr), out }
    }

    /// Writes the baseline of `experiment` (run with `args`) to `file`; the
    /// run must pass. Returns the baseline's path.
    fn baseline(&self, experiment: &Path, file: &str, args: &[&str]) -> PathBuf {
        self.baseline_exiting(experiment, file, args, 0)
    }

    /// Like `baseline`, for a run that exits with `code` (1 when one of the
    /// experiment's expectations fails: the baseline is written all the same).
    fn baseline_exiting(&self, experiment: &Path, file: &str, args: &[&str], code: i32) -> PathBuf {
        let path = self.path(file);
        let mut all = vec!["--baseline", path.to_str().expect("UTF-8 temp path"), "--update-baseline"];
        all.extend_from_slice(args);
        let run = self.check(experiment, &all);
        run.expect_code(code, "writing a baseline");
        assert!(run.stdout.contains("baseline written to"), "no `baseline written to`:\n{}", run.show());
        assert!(path.is_file(), "no baseline at {path:?}:\n{}", run.show());
        path
    }
}

fn arg(path: &Path) -> &str {
    path.to_str().expect("UTF-8 temp path")
}

fn read_json(path: &Path) -> Value {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("cannot read {path:?}: {e}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{path:?} is not JSON: {e}"))
}

/// The label of a baseline point, as the report writes it.
fn point_label(point: &Value) -> String {
    let params: Vec<String> = point["params"]
        .as_array()
        .expect("params is an array")
        .iter()
        .map(|kv| format!("{}={}", kv[0].as_str().expect("path"), kv[1].as_str().expect("value")))
        .collect();
    format!("{} at {}", point["model"].as_str().expect("model"), params.join(", "))
}

/// One line of the baseline section of a report: `PASS`/`FAIL`, the point,
/// its status (or, for an unmatched point, where it is missing), and the
/// moved-metric lines under it.
#[derive(Debug)]
struct PointLine {
    passed: bool,
    point: String,
    status: String,
    moved: Vec<String>,
}

/// The baseline section of a check report: its header ("baseline FILE: N
/// points, M metrics moved") and its lines.
fn baseline_section(stdout: &str) -> (String, Vec<PointLine>) {
    let mut lines = stdout.lines().skip_while(|l| !l.starts_with("baseline "));
    let header = lines.next().unwrap_or_else(|| panic!("no baseline section in:\n{stdout}")).to_string();
    let mut points: Vec<PointLine> = Vec::new();
    for line in lines {
        if let Some(moved) = line.strip_prefix("       ") {
            points.last_mut().expect("a moved metric under a point").moved.push(moved.to_string());
            continue;
        }
        let Some(rest) = line.strip_prefix("  ") else { break };
        let (word, rest) = rest.split_once(' ').unwrap_or_else(|| panic!("odd line {line:?}"));
        assert!(word == "PASS" || word == "FAIL", "odd line {line:?} in:\n{stdout}");
        let (point, status) = rest.split_once(": ").unwrap_or_else(|| panic!("no `: ` in {line:?}"));
        points.push(PointLine {
            passed: word == "PASS",
            point: point.into(),
            status: status.into(),
            moved: Vec::new(),
        });
    }
    (header, points)
}

/// The expectations section of a check report: (passed, name, observed).
fn expectation_section(stdout: &str) -> Vec<(bool, String, String)> {
    let mut lines = stdout.lines().skip_while(|l| !l.starts_with("expectations: "));
    lines.next().unwrap_or_else(|| panic!("no expectations section in:\n{stdout}"));
    let mut out = Vec::new();
    while let Some(line) = lines.next() {
        let passed = match line.get(..7) {
            Some("  PASS ") => true,
            Some("  FAIL ") => false,
            _ => break,
        };
        let observed = lines.next().and_then(|l| l.strip_prefix("       ")).unwrap_or_else(|| {
            panic!("no observed value under {line:?} in:\n{stdout}");
        });
        out.push((passed, line[7..].to_string(), observed.to_string()));
    }
    out
}

/// The number in "METRIC = NUMBER ..." (an expectation's observed value).
fn observed_value(observed: &str, metric: &str) -> f64 {
    let rest = observed
        .strip_prefix(&format!("{metric} = "))
        .unwrap_or_else(|| panic!("observed {observed:?} does not start with `{metric} = `"));
    let number = rest.split(' ').next().unwrap_or("");
    number.parse().unwrap_or_else(|_| panic!("no number in observed {observed:?}"))
}

/// Asserts that every compared point is `identical` and passes, and that
/// they are exactly `expected` (in order), with nothing unmatched.
fn assert_all_identical(run: &Run, expected: &[String]) {
    let (header, points) = baseline_section(&run.stdout);
    assert!(header.ends_with(&format!("{} points, 0 metrics moved", expected.len())), "header {header:?}");
    let seen: Vec<&str> = points.iter().map(|p| p.point.as_str()).collect();
    assert_eq!(seen, expected.iter().map(String::as_str).collect::<Vec<_>>(), "points of:\n{}", run.show());
    for p in &points {
        assert!(p.passed && p.status == "identical" && p.moved.is_empty(), "{p:?} in:\n{}", run.show());
    }
    assert!(run.stdout.ends_with("result: PASS\n"), "no `result: PASS` at the end:\n{}", run.show());
}

// ---------------------------------------------------------------------------
// 1. Unchanged models pass
// ---------------------------------------------------------------------------

/// Guards the basic contract of a baseline: `--update-baseline` writes a
/// JSON file with one entry per grid point, and checking the unchanged
/// experiment against it (in a fresh output directory, so that everything
/// is recomputed) passes with every point `identical`, and leaves the
/// baseline file as it was.
#[test]
fn unchanged_model_passes_against_its_own_baseline() {
    let sandbox = Sandbox::new();
    let exp = sandbox.write("small.ron", &experiment("10, 100", &[]));
    let baseline = sandbox.baseline(&exp, "baseline.json", &[]);

    let json = read_json(&baseline);
    let points = json["points"].as_array().unwrap_or_else(|| panic!("no `points` array in the baseline:\n{json}"));
    let expected = labels(&model_names(), &["10", "100"]);
    assert_eq!(points.iter().map(point_label).collect::<Vec<_>>(), expected, "the baseline's points");
    for p in points {
        for key in ["model_fingerprint", "trace_fingerprint"] {
            assert!(p[key].as_str().is_some_and(|s| !s.is_empty()), "no {key} in {}", point_label(p));
        }
        assert!(p["metrics"].as_object().is_some_and(|m| !m.is_empty()), "no metrics in {}", point_label(p));
    }

    let before = fs::read(&baseline).expect("baseline");
    let run = sandbox.check(&exp, &["--baseline", arg(&baseline)]);
    run.expect_code(0, "an unchanged model");
    assert_all_identical(&run, &expected);
    assert_eq!(fs::read(&baseline).expect("baseline"), before, "a check without --update-baseline rewrote it");
}

// ---------------------------------------------------------------------------
// 2. A changed model fails, readably
// ---------------------------------------------------------------------------

/// Guards the report of a regression: a shorter cache TTL (30 s instead of
/// 5 min, in a 2-minute run, so more expiries by construction) makes the
/// check fail with exit 1, name every point as "the model changed", and list
/// the moved metrics as `KEY: OLD -> NEW (+P%)`, with a percentage that
/// agrees with the two values and a header that counts them.
#[test]
fn changed_parameter_fails_with_a_readable_report() {
    let sandbox = Sandbox::new();
    let exp = sandbox.write("small.ron", &experiment("10, 100", &[]));
    let baseline = sandbox.baseline(&exp, "baseline.json", &[]);

    let run = sandbox.check(&exp, &["--baseline", arg(&baseline), "--set", "cache.ttl=30s"]);
    run.expect_code(1, "a shorter TTL");
    assert!(run.stdout.ends_with("result: FAIL\n"), "no `result: FAIL` at the end:\n{}", run.show());
    let (header, points) = baseline_section(&run.stdout);
    let seen: Vec<String> = points.iter().map(|p| p.point.clone()).collect();
    assert_eq!(seen, labels(&model_names(), &["10", "100"]), "points of:\n{}", run.show());
    for p in &points {
        // Every model has a cache, so every resolved model changed.
        assert_eq!(p.status, "the model changed", "{p:?}");
        assert!(!p.passed && !p.moved.is_empty(), "a point with a shorter TTL did not move: {p:?}");
        assert!(
            p.moved.iter().any(|m| m.starts_with("backend.expiries: ")),
            "more expiries by construction, but backend.expiries did not move at {}: {:?}",
            p.point,
            p.moved
        );
    }
    let moved: usize = points.iter().map(|p| p.moved.len()).sum();
    assert!(header.ends_with(&format!("{} points, {moved} metrics moved", points.len())), "header {header:?}");

    let mut percentages = 0;
    for line in points.iter().flat_map(|p| &p.moved) {
        let (_, change) = line.split_once(": ").unwrap_or_else(|| panic!("no `KEY: ` in {line:?}"));
        let (old, rest) = change.split_once(" -> ").unwrap_or_else(|| panic!("no ` -> ` in {line:?}"));
        let new = rest.split(' ').next().unwrap_or("").trim_end_matches(',');
        let (Ok(old), Ok(new)) = (old.parse::<f64>(), new.parse::<f64>()) else {
            panic!("the values in {line:?} are not numbers");
        };
        let Some(percent) = rest.split_once(" (").and_then(|(_, p)| p.split_once("%)")).map(|(p, _)| p) else {
            assert_eq!(old, 0.0, "no percentage for a move from a non-zero value: {line:?}");
            continue;
        };
        percentages += 1;
        let percent: f64 = percent.parse().unwrap_or_else(|_| panic!("bad percentage in {line:?}"));
        if old.abs() >= 0.1 {
            let expected = (new - old) / old.abs() * 100.0;
            assert!((percent - expected).abs() <= 0.051, "{line:?}: {percent}% but the values give {expected:.3}%");
        }
    }
    assert!(percentages > 0, "no moved metric shows a percentage:\n{}", run.show());
}

// ---------------------------------------------------------------------------
// 3. Fingerprints: threads change nothing, the model and the seed do
// ---------------------------------------------------------------------------

/// Guards "results do not depend on the thread count" for baselines: the
/// baseline written with 1 thread and with 4 is the same file, byte for
/// byte, and checking with 2 and 4 threads against the 1-thread baseline
/// passes with every point `identical` (same model and trace fingerprints).
#[test]
fn thread_count_changes_no_fingerprint() {
    let sandbox = Sandbox::new();
    let exp = sandbox.write("small.ron", &experiment("10, 100", &[]));
    let one = sandbox.baseline(&exp, "one.json", &["--threads", "1"]);
    let four = sandbox.baseline(&exp, "four.json", &["--threads", "4"]);
    assert!(fs::read(&one).expect("one") == fs::read(&four).expect("four"), "baselines differ by thread count");

    let expected = labels(&model_names(), &["10", "100"]);
    for threads in ["2", "4"] {
        let run = sandbox.check(&exp, &["--baseline", arg(&one), "--threads", threads]);
        run.expect_code(0, &format!("{threads} threads against a 1-thread baseline"));
        assert_all_identical(&run, &expected);
    }
}

/// `cachesim run models/seed/reference.ron --json` (one minute at 10 req/s)
/// with `args`: (model name, model fingerprint, trace fingerprint).
fn run_fingerprints(args: &[&str]) -> (String, String, String) {
    let output = cachesim()
        .arg("run")
        .arg(seed_model("reference.ron"))
        .args(["--json", "--set", "workload.duration=1m", "--set", "workload.rate=10"])
        .args(args)
        .output()
        .expect("starts");
    assert_eq!(output.status.code(), Some(0), "cachesim run {args:?}:\n{}", text(&output.stderr));
    let json: Value = serde_json::from_slice(&output.stdout).expect("run --json prints JSON");
    let field = |v: &Value, what: &str| -> String {
        let s = v.as_str().unwrap_or_else(|| panic!("no string {what} in the JSON of run {args:?}"));
        assert!(!s.is_empty(), "empty {what}");
        s.to_string()
    };
    (
        field(&json["model"], "model"),
        field(&json["fingerprint"]["model"], "fingerprint.model"),
        field(&json["fingerprint"]["trace"], "fingerprint.trace"),
    )
}

/// Guards what the fingerprints of `cachesim run --json` mean: two runs of
/// the same model and seed agree on both; another seed changes the trace but
/// not the model; another parameter changes the model; another name alone
/// (`--set name=other`) changes neither, since the name labels results and
/// does not change them.
#[test]
fn run_fingerprints_follow_the_model_and_the_trace() {
    let (name, model, trace) = run_fingerprints(&[]);
    assert_eq!(name, "reference");
    let (_, model_again, trace_again) = run_fingerprints(&[]);
    assert_eq!((&model_again, &trace_again), (&model, &trace), "two identical runs differ");

    let (_, seed_model_fp, seed_trace) = run_fingerprints(&["--seed", "2"]);
    assert_eq!(seed_model_fp, model, "another seed changed the model fingerprint");
    assert_ne!(seed_trace, trace, "another seed left the trace fingerprint unchanged");

    let (_, ttl_model, _) = run_fingerprints(&["--set", "cache.ttl=30s"]);
    assert_ne!(ttl_model, model, "another TTL left the model fingerprint unchanged");

    let (renamed, renamed_model, renamed_trace) = run_fingerprints(&["--set", "name=other"]);
    assert_eq!(renamed, "other", "--set name=other did not rename the model");
    assert_eq!(renamed_model, model, "renaming the model changed its fingerprint");
    assert_eq!(renamed_trace, trace, "renaming the model changed its event trace");
}

// ---------------------------------------------------------------------------
// 4. "The simulator changed" versus "the model changed"
// ---------------------------------------------------------------------------

/// A fingerprint that differs from `old`.
fn other_fingerprint(old: &str) -> String {
    let new = if old == "0123456789abcdef" { "fedcba9876543210" } else { "0123456789abcdef" };
    new.to_string()
}

/// Guards the diagnosis of a baseline point: with the stored trace
/// fingerprint of one point edited (model fingerprint kept), the check says
/// `the simulator changed` for that point alone; with its model fingerprint
/// edited, `the model changed`. The metrics are unchanged, so both pass.
#[test]
fn edited_fingerprints_say_whether_the_simulator_or_the_model_changed() {
    let sandbox = Sandbox::new();
    let exp = sandbox.write("small.ron", &experiment("10, 100", &[]));
    let baseline = read_json(&sandbox.baseline(&exp, "baseline.json", &[]));
    let expected = labels(&model_names(), &["10", "100"]);

    for (index, key, status) in [
        (0, "trace_fingerprint", "the simulator changed (same model, different event trace)"),
        (3, "model_fingerprint", "the model changed"),
    ] {
        let mut edited = baseline.clone();
        let old = edited["points"][index][key].as_str().expect("a fingerprint").to_string();
        edited["points"][index][key] = Value::String(other_fingerprint(&old));
        let label = point_label(&edited["points"][index]);
        let file = sandbox.write(&format!("{key}.json"), &edited.to_string());

        let run = sandbox.check(&exp, &["--baseline", arg(&file)]);
        run.expect_code(0, &format!("{key} edited, metrics unchanged"));
        let (_, points) = baseline_section(&run.stdout);
        assert_eq!(points.iter().map(|p| p.point.clone()).collect::<Vec<_>>(), expected, "{}", run.show());
        for p in &points {
            let want = if p.point == label { status } else { "identical" };
            assert_eq!(p.status, want, "{key} of {label} edited:\n{}", run.show());
            assert!(p.passed && p.moved.is_empty(), "unchanged metrics moved: {p:?}");
        }
        assert!(run.stdout.ends_with("result: PASS\n"), "{}", run.show());
    }
}

// ---------------------------------------------------------------------------
// 5. Corrupt or missing baselines
// ---------------------------------------------------------------------------

/// Guards bad baselines: a truncated file, JSON of another shape, an empty
/// file and a missing path are each bad input (exit 2) naming the baseline
/// on stderr, with nothing on stdout and nothing run; `--update-baseline`
/// without `--baseline` is a usage error (exit 2); and `--update-baseline`
/// replaces a corrupt baseline instead of reading it.
#[test]
fn corrupt_or_missing_baselines_are_bad_input() {
    let sandbox = Sandbox::new();
    let exp = sandbox.write("small.ron", &experiment("10, 100", &[]));
    let good = fs::read_to_string(sandbox.baseline(&exp, "good.json", &[])).expect("baseline");

    let truncated = sandbox.write("truncated.json", &good[..good.len() / 2]);
    let other_shape = sandbox.write("other_shape.json", "{}");
    let array = sandbox.write("array.json", "[1, 2, 3]\n");
    let empty = sandbox.write("empty.json", "");
    let missing = sandbox.path("no_such_baseline.json");
    for (what, path) in [
        ("a truncated baseline", &truncated),
        ("a JSON object of another shape", &other_shape),
        ("a JSON array", &array),
        ("an empty baseline", &empty),
        ("a missing baseline", &missing),
    ] {
        let run = sandbox.check(&exp, &["--baseline", arg(path)]);
        run.expect_refused(what);
        assert!(run.stderr.contains(arg(path)), "{what}: stderr does not name {path:?}:\n{}", run.show());
    }
    assert!(!missing.exists(), "checking against a missing baseline created it");

    let run = sandbox.check(&exp, &["--update-baseline"]);
    run.expect_refused("--update-baseline without --baseline");
    assert!(run.stderr.contains("--baseline"), "the usage error does not name --baseline:\n{}", run.show());

    let run = sandbox.check(&exp, &["--baseline", arg(&truncated), "--update-baseline"]);
    run.expect_code(0, "--update-baseline over a corrupt baseline");
    assert_eq!(fs::read_to_string(&truncated).expect("rewritten"), good, "the rewritten baseline differs");
}

// ---------------------------------------------------------------------------
// 6. Expectations
// ---------------------------------------------------------------------------

/// Guards a failing expectation: no request of the reference models is
/// faster than its 50 ms handler, so `latency_s.p99 below "1ms"` fails (exit
/// 1), reported as FAIL with the observed mean, while the passing one beside
/// it is reported as PASS.
#[test]
fn failing_expectation_fails_with_the_observed_value() {
    let sandbox = Sandbox::new();
    let src = experiment(
        "10, 100",
        &[
            r#"(model: "reference_locked", at: {"workload.rate": 100}, metric: "latency_s.p99", below: "1ms"),"#,
            r#"(model: "reference_locked", at: {"workload.rate": 100}, metric: "latency_s.p99", below: "1h"),"#,
        ],
    );
    let run = sandbox.check(&sandbox.write("small.ron", &src), &[]);
    run.expect_code(1, "p99 below 1ms");
    assert!(run.stdout.contains("expectations: 1 of 2 hold\n"), "{}", run.show());
    let results = expectation_section(&run.stdout);
    let names: Vec<&str> = results.iter().map(|(_, n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "reference_locked at workload.rate=100: latency_s.p99 below 1ms",
            "reference_locked at workload.rate=100: latency_s.p99 below 1h"
        ]
    );
    assert_eq!(results.iter().map(|r| r.0).collect::<Vec<_>>(), [false, true], "{}", run.show());
    let failed = observed_value(&results[0].2, "latency_s.p99");
    let passed = observed_value(&results[1].2, "latency_s.p99");
    assert!(failed >= 0.001, "FAIL for p99 below 1ms, but observed {failed}");
    assert_eq!(failed, passed, "the same metric of the same point was observed twice differently");
    assert!(run.stdout.ends_with("result: FAIL\n"), "{}", run.show());
}

/// Guards `verdict_at_least`: under an SLO no request can meet (p99 ≤ 1 ms
/// with a 50 ms handler), `verdict_at_least: READY` fails (exit 1) and shows
/// the verdict it got; under a lax SLO (p99 ≤ 1 h) the same expectation
/// passes.
#[test]
fn verdict_at_least_ready_fails_under_an_impossible_slo() {
    let sandbox = Sandbox::new();
    let models: Vec<String> = MODELS.iter().map(|(_, file)| ron_string(&seed_model(file))).collect();
    let expect = [r#"(model: "reference_locked", at: {"workload.rate": 10}, verdict_at_least: READY),"#];

    let strict = experiment_with("strict", &models, "10, 100", "(p99: \"1ms\")", &expect);
    let run = sandbox.check(&sandbox.write("strict.ron", &strict), &[]);
    run.expect_code(1, "READY under p99 ≤ 1ms");
    let results = expectation_section(&run.stdout);
    assert_eq!(results.len(), 1, "{}", run.show());
    let (passed, name, observed) = &results[0];
    assert!(!passed, "READY under an impossible SLO passed:\n{}", run.show());
    assert_eq!(name, "reference_locked at workload.rate=10: verdict at least READY");
    let level = observed.strip_prefix("verdict ").unwrap_or_else(|| panic!("observed {observed:?}"));
    assert!(
        ["NEEDS_TUNING", "RISKY", "FAILS"].iter().any(|l| level.starts_with(l)),
        "observed {observed:?} is not a verdict worse than READY"
    );

    let lax = experiment_with("lax", &models, "10, 100", "(p99: \"1h\")", &expect);
    let run = sandbox.check(&sandbox.write("lax.ron", &lax), &[]);
    run.expect_code(0, "READY under p99 ≤ 1h");
    assert!(run.stdout.contains("\n       verdict READY\n"), "{}", run.show());
}

/// Guards durations and pooled percentiles in expectations: with unbounded
/// overflow, no request waits for a connection, so `pool.wait_p99_s equals
/// "0s"` holds, mean and pooled; `latency_s.p99.pooled` is at least the 50 ms
/// handler and below an hour; and the pooled p99 is at least the pooled p50.
#[test]
fn duration_bounds_and_pooled_metrics_work() {
    let sandbox = Sandbox::new();
    let at = r#"(model: "reference", at: {"workload.rate": 100}, metric:"#;
    let expect = [
        format!(r#"{at} "pool.wait_p99_s", equals: "0s"),"#),
        format!(r#"{at} "pool.wait_p99_s.pooled", equals: "0s"),"#),
        format!(r#"{at} "latency_s.p99.pooled", above: "50ms", below: "1h"),"#),
        format!(r#"{at} "latency_s.p50.pooled", above: 0.05),"#),
    ];
    let expect: Vec<&str> = expect.iter().map(String::as_str).collect();
    let src = experiment("10, 100", &expect)
        // An unbounded pool whose connections open at once: no checkout waits.
        .replace(
            "    duration:",
            "    set: [\"db.max_overflow=100000\", \"db.connect=Constant(\\\"0s\\\")\"],\n    duration:",
        );
    let run = sandbox.check(&sandbox.write("small.ron", &src), &[]);
    run.expect_code(0, "durations and pooled metrics");
    let results = expectation_section(&run.stdout);
    assert_eq!(results.len(), 4, "{}", run.show());
    assert!(results.iter().all(|r| r.0), "an expectation failed:\n{}", run.show());
    assert_eq!(observed_value(&results[0].2, "pool.wait_p99_s"), 0.0);
    assert_eq!(observed_value(&results[1].2, "pool.wait_p99_s.pooled"), 0.0);
    let p99 = observed_value(&results[2].2, "latency_s.p99.pooled");
    let p50 = observed_value(&results[3].2, "latency_s.p50.pooled");
    assert!(p99 >= p50, "pooled p99 {p99} below pooled p50 {p50}");
}

/// Asserts that `cachesim check` refuses the experiment `src` at load (exit
/// 2, nothing run) with FILE:LINE:COL at the model string of the only
/// expectation holding `marker`, and every one of `words` on stderr.
fn assert_refused_at_expectation(src: &str, marker: &str, words: &[&str]) {
    let sandbox = Sandbox::new();
    let exp = sandbox.write("bad.ron", src);
    let run = sandbox.check(&exp, &[]);
    run.expect_refused(marker);
    let (line, col) = position(&run.stderr, arg(&exp));
    let expected_line = line_of(src, marker);
    let shown = src.lines().nth(expected_line - 1).expect("the marker's line");
    let expected_col = shown.find("(model: \"").map(|c| c + "(model: ".len() + 1).expect("an expectation line");
    assert_eq!(
        (line, col),
        (expected_line, expected_col),
        "not at the model string of the expectation with {marker:?}:\n{}",
        run.show()
    );
    for word in words {
        assert!(run.stderr.contains(word), "stderr does not contain {word:?}:\n{}", run.show());
    }
}

/// Guards expectations that cannot be evaluated: each is bad input found
/// when the experiment loads (exit 2, nothing run, nothing on stdout),
/// reported as FILE:LINE:COL at the expectation's model string: an unknown
/// model (with the name it resembles), an `at` path that is not a grid axis,
/// a value not on the grid, a metric without below/above/equals, an axis
/// with several values left out, and a bound that is not a number.
#[test]
fn bad_expectations_are_reported_at_their_model_string() {
    let good = r#"(model: "reference", at: {"workload.rate": 10}, metric: "latency_s.p99", below: "2s"),"#;
    let cases: [(&str, &[&str]); 6] = [
        (
            r#"(model: "reference_lockd", at: {"workload.rate": 10}, metric: "latency_s.p99", below: "2s"),"#,
            &["no model named `reference_lockd`", "did you mean `reference_locked`"],
        ),
        (
            r#"(model: "reference_locked", at: {"servers.count": 1}, metric: "latency_s.p99", below: "2s"),"#,
            &["`servers.count` is not an axis", "workload.rate"],
        ),
        (
            r#"(model: "reference_locked", at: {"workload.rate": 50}, metric: "latency_s.p99", below: "2s"),"#,
            &["workload.rate=50", "no grid point"],
        ),
        (
            r#"(model: "reference_locked", at: {"workload.rate": 10}, metric: "latency_s.p99"),"#,
            &["latency_s.p99", "below, above or equals"],
        ),
        (r#"(model: "reference_locked", metric: "latency_s.p99", below: "2s"),"#, &["2 grid points match"]),
        (
            r#"(model: "reference_locked", at: {"workload.rate": 10}, metric: "latency_s.p99", below: "fast"),"#,
            &["`fast` is neither a number (like 0.01) nor a duration"],
        ),
    ];
    for (bad, words) in cases {
        let src = experiment("10, 100", &[good, bad]);
        assert_refused_at_expectation(&src, bad, words);
    }
}

/// Guards the position of a bad expectation when the model's name also
/// appears earlier in the file as a string: the error must point at the bad
/// expectation, not at the first `"NAME"` in the file (here an earlier, valid
/// expectation of the same model, or the experiment's own name).
#[test]
fn bad_expectation_is_reported_at_its_own_line_when_the_name_appears_earlier() {
    let good = r#"(model: "reference_locked", at: {"workload.rate": 10}, metric: "latency_s.p99", below: "2s"),"#;
    let bad = r#"(model: "reference_locked", at: {"workload.rate": 50}, metric: "latency_s.p99", below: "2s"),"#;
    assert_refused_at_expectation(&experiment("10, 100", &[good, bad]), bad, &["no grid point"]);

    let models: Vec<String> = MODELS.iter().map(|(_, file)| ron_string(&seed_model(file))).collect();
    let bad = r#"(model: "reference", at: {"workload.rate": 50}, metric: "latency_s.p99", below: "2s"),"#;
    let src = experiment_with("reference", &models, "10, 100", "(p99: \"2s\")", &[bad]);
    assert_refused_at_expectation(&src, bad, &["no grid point"]);
}

/// Guards an unknown metric key, which is found only after the runs: bad
/// input (exit 2), nothing on stdout, and a message naming the key and the
/// closest real one; likewise an unknown pooled percentile.
#[test]
fn unknown_metric_is_bad_input_with_the_closest_key() {
    let sandbox = Sandbox::new();
    let at = r#"(model: "reference", at: {"workload.rate": 10}, metric:"#;
    for (metric, words) in [
        ("backend.largest_brust", &["no metric `backend.largest_brust`", "did you mean `backend.largest_burst`"][..]),
        ("latency_s.p98.pooled", &["no pooled percentile `latency_s.p98.pooled`", "p99"][..]),
    ] {
        let expect = format!(r#"{at} {metric:?}, below: 1),"#);
        let exp = sandbox.write("bad.ron", &experiment("10, 100", &[&expect]));
        let run = sandbox.check(&exp, &[]);
        run.expect_code(2, metric);
        assert!(run.stdout.is_empty(), "{metric}: printed on stdout:\n{}", run.show());
        assert!(run.stderr.contains(arg(&exp)), "{metric}: the experiment is not named:\n{}", run.show());
        for word in words {
            assert!(run.stderr.contains(word), "{metric}: stderr does not contain {word:?}:\n{}", run.show());
        }
    }
}

/// Guards `check` as CI and people run it, without `--out`: after a first
/// check, a changed model is computed afresh in a directory of its own
/// (keyed by the plan's fingerprint) and reported as moved, exit 1, never
/// refused as "another experiment" (exit 2); the unchanged model then
/// reuses its own earlier runs and passes.
#[test]
fn check_without_out_computes_a_changed_model_afresh_and_reports_what_moved() {
    let sandbox = Sandbox::new();
    let model_text = fs::read_to_string(seed_model("reference.ron")).expect("seed model");
    let model = sandbox.write("model.ron", &model_text);
    let src = experiment_with("ci", &[ron_string(&model)], "10", "(p99: \"2s\")", &[]);
    let exp = sandbox.write("ci.ron", &src);
    let check = |args: &[&str]| {
        let output =
            cachesim().current_dir(sandbox.path("")).arg("check").arg(&exp).args(args).output().expect("starts");
        (output.status.code(), text(&output.stdout), text(&output.stderr))
    };
    let baseline = sandbox.path("baseline.json");
    let (code, out, err) = check(&["--baseline", arg(&baseline), "--update-baseline"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let (code, out, err) = check(&["--baseline", arg(&baseline)]);
    assert_eq!(code, Some(0), "the unchanged model passes:\n{out}{err}");

    let changed = model_text.replacen("ttl: \"5m\"", "ttl: \"1m\"", 1);
    assert_ne!(changed, model_text, "test bug: the seed model's TTL was not replaced");
    fs::write(&model, changed).expect("write model");
    let (code, out, err) = check(&["--baseline", arg(&baseline)]);
    assert_eq!(code, Some(1), "a changed model is a failed check, not bad input:\n{out}{err}");
    assert!(out.contains("the model changed") && out.contains("backend.expiries"), "{out}");
    let dirs = fs::read_dir(sandbox.path("results/ci"))
        .expect("results")
        .filter(|e| e.as_ref().is_ok_and(|e| e.file_name().to_string_lossy().starts_with("check-")))
        .count();
    assert_eq!(dirs, 2, "one directory per model version");
}

/// Guards names checked when the experiment loads: a misspelt SLO error
/// cause is bad input (exit 2) before anything runs, at its line and
/// column, with the closest cause and the list of causes.
#[test]
fn a_misspelt_slo_cause_is_refused_at_load_with_the_closest_name() {
    let sandbox = Sandbox::new();
    let src = experiment("10", &[]).replacen("slo: (", "slo: (errors: {\"pool_timout\": 0.001}, ", 1);
    assert!(src.contains("pool_timout"), "test bug: the SLO was not edited:\n{src}");
    let exp = sandbox.write("bad_slo.ron", &src);
    let run = sandbox.check(&exp, &[]);
    run.expect_code(2, "misspelt cause");
    assert!(run.stdout.is_empty(), "{}", run.show());
    let line = src.lines().position(|l| l.contains("pool_timout")).expect("the line") + 1;
    let col = src.lines().nth(line - 1).and_then(|l| l.find("\"pool_timout")).expect("the column") + 1;
    for word in [
        format!("{}:{line}:{col}", arg(&exp)),
        "no error cause `pool_timout`".into(),
        "did you mean `pool_timeout`".into(),
        "rate_limited".into(),
    ] {
        assert!(run.stderr.contains(&word), "stderr does not contain {word:?}:\n{}", run.show());
    }
    assert!(!run.out.join(".cachesim").exists(), "nothing ran");
}

// ---------------------------------------------------------------------------
// 7. JUnit
// ---------------------------------------------------------------------------

/// One element of a parsed XML document: its name, attributes and text
/// (both unescaped), and its parent's index.
#[derive(Debug)]
struct Element {
    name: String,
    attrs: BTreeMap<String, String>,
    text: String,
    parent: Option<usize>,
}

/// Replaces the five predefined entities and character references; panics
/// on a bare `&`, an unknown entity, or a raw `<` (not well-formed XML).
fn unescape(s: &str) -> String {
    assert!(!s.contains('<'), "a raw `<` in {s:?}");
    let mut out = String::new();
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out += &rest[..amp];
        let end = rest[amp..].find(';').unwrap_or_else(|| panic!("a bare `&` in {s:?}")) + amp;
        let entity = &rest[amp + 1..end];
        let c = match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = match entity.strip_prefix("#x") {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => entity.strip_prefix('#').and_then(|d| d.parse().ok()),
                };
                code.and_then(char::from_u32).unwrap_or_else(|| panic!("unknown entity `&{entity};` in {s:?}"))
            }
        };
        out.push(c);
        rest = &rest[end + 1..];
    }
    out + rest
}

/// Parses `name attr="value" ...` (the inside of a start tag).
fn parse_tag(tag: &str) -> (String, BTreeMap<String, String>) {
    let tag = tag.trim();
    let (name, mut rest) = tag.split_once(char::is_whitespace).unwrap_or((tag, ""));
    assert!(!name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || "_-:.".contains(c)), "tag {tag:?}");
    let mut attrs = BTreeMap::new();
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        let (key, after) = rest.split_once("=\"").unwrap_or_else(|| panic!("bad attribute in tag {tag:?}"));
        let (value, after) = after.split_once('"').unwrap_or_else(|| panic!("unclosed attribute in {tag:?}"));
        assert!(after.is_empty() || after.starts_with(char::is_whitespace), "no space after an attribute in {tag:?}");
        assert!(attrs.insert(key.trim().to_string(), unescape(value)).is_none(), "duplicate {key} in {tag:?}");
        rest = after;
    }
    (name.to_string(), attrs)
}

/// Parses `xml` strictly enough to catch what breaks a JUnit reader: the
/// XML declaration first, one root element, balanced tags, quoted attributes,
/// no raw `<` or `>` in values, and `&` only in entities. Returns the
/// elements in document order.
fn parse_xml(xml: &str) -> Vec<Element> {
    let rest = xml.strip_prefix("<?xml ").unwrap_or_else(|| panic!("no XML declaration first:\n{xml}"));
    let (declaration, mut rest) = rest.split_once("?>").expect("an unclosed XML declaration");
    assert!(declaration.contains("version=\"1.0\""), "declaration {declaration:?}");
    let mut elements: Vec<Element> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    let mut roots = 0;
    loop {
        let (chars, tag) = match rest.find('<') {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        assert!(!chars.contains('>'), "a raw `>` in text {chars:?}");
        match open.last() {
            Some(&i) => elements[i].text += &unescape(chars),
            None => assert!(chars.trim().is_empty(), "text outside the root element: {chars:?}"),
        }
        let Some(tag) = tag else { break };
        let (inside, after) = tag.split_once('>').unwrap_or_else(|| panic!("an unclosed tag: <{tag}"));
        rest = after;
        if let Some(name) = inside.strip_prefix('/') {
            let i = open.pop().unwrap_or_else(|| panic!("</{name}> closes nothing"));
            assert_eq!(elements[i].name, name.trim(), "</{name}> closes <{}>", elements[i].name);
            continue;
        }
        let (body, empty) = match inside.strip_suffix('/') {
            Some(body) => (body, true),
            None => (inside, false),
        };
        let (name, attrs) = parse_tag(body);
        roots += usize::from(open.is_empty());
        elements.push(Element { name, attrs, text: String::new(), parent: open.last().copied() });
        if !empty {
            open.push(elements.len() - 1);
        }
    }
    assert!(open.is_empty(), "unclosed elements: {:?}", open.iter().map(|&i| &elements[i].name).collect::<Vec<_>>());
    assert_eq!(roots, 1, "not exactly one root element");
    elements
}

/// The testcases of a JUnit document as (classname, name, failure message),
/// after checking that the counts of `<testsuites>` and `<testsuite>` agree
/// with them and that each `<failure>` is a testcase's only child.
fn junit_cases(xml: &str, experiment: &str) -> Vec<(String, String, Option<String>)> {
    let elements = parse_xml(xml);
    assert_eq!(elements[0].name, "testsuites", "the root is not <testsuites>:\n{xml}");
    let suites: Vec<usize> = (0..elements.len()).filter(|&i| elements[i].name == "testsuite").collect();
    assert_eq!(suites.len(), 1, "one <testsuite> expected:\n{xml}");
    let suite = &elements[suites[0]];
    assert_eq!(suite.parent, Some(0));
    assert_eq!(suite.attrs.get("name").map(String::as_str), Some(experiment), "the suite's name");
    let mut cases = Vec::new();
    for (i, e) in elements.iter().enumerate() {
        match e.name.as_str() {
            "testcase" => {
                assert_eq!(e.parent, Some(suites[0]), "a testcase outside the suite");
                let failures: Vec<&Element> = elements.iter().filter(|f| f.parent == Some(i)).collect();
                assert!(failures.iter().all(|f| f.name == "failure") && failures.len() <= 1, "{xml}");
                let failure = failures.first().map(|f| {
                    let message = f.attrs.get("message").expect("a failure message");
                    assert!(f.text.starts_with(message.as_str()), "the message is not the text's first line");
                    f.text.clone()
                });
                cases.push((e.attrs["classname"].clone(), e.attrs["name"].clone(), failure));
            }
            "failure" => assert_eq!(elements[e.parent.expect("a parent")].name, "testcase"),
            "testsuites" | "testsuite" => {}
            other => panic!("unexpected element <{other}>:\n{xml}"),
        }
    }
    let failed = cases.iter().filter(|c| c.2.is_some()).count();
    for e in [&elements[0], suite] {
        assert_eq!(e.attrs.get("tests"), Some(&cases.len().to_string()), "tests= of <{}>:\n{xml}", e.name);
        assert_eq!(e.attrs.get("failures"), Some(&failed.to_string()), "failures= of <{}>:\n{xml}", e.name);
    }
    cases
}

/// Guards `--junit`: a well-formed document with one test case per
/// expectation and per baseline point, the counts of tests and failures
/// matching the cases and the report, one `<failure>` per failing case
/// carrying what the report says, and names with `&`, `<`, `>` and quotes
/// (from a model and an experiment named so) escaped and read back intact.
#[test]
fn junit_is_well_formed_and_counts_the_cases() {
    let sandbox = Sandbox::new();
    let weird = "a&b<c>\"q\"'";
    let locked = fs::read_to_string(seed_model("reference_locked.ron")).expect("seed model");
    let renamed = locked.replacen("name: \"reference_locked\"", &format!("name: {weird:?}"), 1);
    assert_ne!(renamed, locked, "test bug: the seed model's name was not replaced");
    let weird_file = sandbox.write("weird.ron", &renamed);
    let models = [ron_string(&seed_model("reference.ron")), ron_string(&weird_file)];
    let experiment_name = "x&y<z>";
    let expect = [
        format!(r#"(model: {weird:?}, at: {{"workload.rate": 100}}, metric: "latency_s.p99", below: "1ms"),"#),
        format!(r#"(model: {weird:?}, at: {{"workload.rate": 10}}, metric: "latency_s.p99", below: "1h"),"#),
    ];
    let expect: Vec<&str> = expect.iter().map(String::as_str).collect();
    let src = experiment_with(experiment_name, &models, "10, 100", "(p99: \"2s\")", &expect);
    let exp = sandbox.write("weird_experiment.ron", &src);

    // One point moves: its stored expiries (the same in every replication)
    // are edited, so any difference counts.
    let mut baseline = read_json(&sandbox.baseline_exiting(&exp, "baseline.json", &[], 1));
    let expiries = &mut baseline["points"][1]["metrics"]["backend.expiries"]["mean"];
    *expiries = Value::from(expiries.as_f64().expect("stored expiries") + 1.0);
    let moved_point = point_label(&baseline["points"][1]);
    let edited = sandbox.write("edited.json", &baseline.to_string());

    let junit = sandbox.path("junit.xml");
    let run = sandbox.check(&exp, &["--baseline", arg(&edited), "--junit", arg(&junit)]);
    run.expect_code(1, "one failing expectation and one moved point");
    let xml = fs::read_to_string(&junit).unwrap_or_else(|e| panic!("no JUnit file: {e}\n{}", run.show()));
    let cases = junit_cases(&xml, experiment_name);

    let expectations = expectation_section(&run.stdout);
    let (_, points) = baseline_section(&run.stdout);
    assert_eq!((expectations.len(), points.len()), (2, 4), "{}", run.show());
    assert_eq!(cases.len(), expectations.len() + points.len(), "one case per expectation and point:\n{xml}");
    let report_failures = expectations.iter().filter(|e| !e.0).count() + points.iter().filter(|p| !p.passed).count();
    assert_eq!(report_failures, 2, "test bug: expected one failing expectation and one moved point:\n{}", run.show());
    assert_eq!(xml.matches("<failure").count(), report_failures, "<failure> elements:\n{xml}");

    for ((class, name, failure), (passed, expected, observed)) in cases.iter().zip(&expectations) {
        assert_eq!((class.as_str(), name), ("expectations", expected), "{xml}");
        assert!(name.starts_with(weird), "the model's name was not read back intact: {name:?}");
        match failure {
            None => assert!(passed, "{name}: FAIL in the report, no <failure> in JUnit"),
            Some(text) => {
                assert!(!passed, "{name}: PASS in the report, <failure> in JUnit");
                assert!(text.contains(observed.as_str()), "the failure does not say what was observed: {text:?}");
            }
        }
    }
    for ((class, name, failure), p) in cases[expectations.len()..].iter().zip(&points) {
        assert_eq!((class.as_str(), name), ("baseline", &p.point), "{xml}");
        assert_eq!(failure.is_some(), p.point == moved_point, "{name}: {failure:?}");
        if let Some(text) = failure {
            // The message (the first line) names the metric and its move.
            let message = text.lines().next().unwrap_or("");
            assert!(
                message.starts_with("moved: backend.expiries: ") && message.contains(" -> ") && message.contains('%'),
                "the failure message does not name the moved metric and by how much: {message:?}"
            );
            assert!(text.contains(&p.status), "the failure does not give the status: {text:?}");
        }
    }
    assert!(points.iter().any(|p| p.point.starts_with(weird)), "the weird model's points are missing");
}

// ---------------------------------------------------------------------------
// 8. Points on one side only
// ---------------------------------------------------------------------------

/// Guards points that the baseline and the run do not share: a grid value
/// added after the baseline was taken (the run has points the baseline does
/// not) and one removed (the baseline has points the run does not) each fail
/// the check (exit 1), naming every such point and the side it is missing
/// from, while the shared points are still compared (and identical); the
/// unmatched points are failing JUnit cases of their own.
#[test]
fn points_on_one_side_only_fail_and_are_named() {
    let sandbox = Sandbox::new();
    let taken = sandbox.write("small.ron", &experiment("10, 100", &[]));
    let baseline = sandbox.baseline(&taken, "baseline.json", &[]);

    for (rates, shared, unmatched, missing_from) in [
        ("10, 30, 100", &["10", "100"][..], "30", "in this run, not in the baseline"),
        ("10", &["10"][..], "100", "in the baseline, not in this run"),
    ] {
        let exp = sandbox.write("changed.ron", &experiment(rates, &[]));
        let junit = sandbox.path("junit.xml");
        let run = sandbox.check(&exp, &["--baseline", arg(&baseline), "--junit", arg(&junit)]);
        run.expect_code(1, &format!("rates {rates} against a baseline of 10, 100"));
        assert!(run.stdout.ends_with("result: FAIL\n"), "{}", run.show());
        let (_, lines) = baseline_section(&run.stdout);
        let (compared, others): (Vec<&PointLine>, Vec<&PointLine>) =
            lines.iter().partition(|p| !p.status.starts_with("in "));
        let compared_labels: Vec<String> = compared.iter().map(|p| p.point.clone()).collect();
        assert_eq!(compared_labels, labels(&model_names(), shared), "{}", run.show());
        assert!(compared.iter().all(|p| p.passed && p.status == "identical"), "{}", run.show());
        let other_labels: Vec<String> = others.iter().map(|p| p.point.clone()).collect();
        assert_eq!(other_labels, labels(&model_names(), &[unmatched]), "{}", run.show());
        for p in &others {
            assert!(!p.passed && p.status == missing_from, "{p:?}");
        }

        let cases = junit_cases(&fs::read_to_string(&junit).expect("junit"), "small");
        assert_eq!(cases.len(), lines.len(), "one case per compared and per unmatched point");
        let failing: Vec<&str> = cases.iter().filter(|c| c.2.is_some()).map(|c| c.1.as_str()).collect();
        let expected: Vec<String> = other_labels.iter().map(|l| format!("{l}: {missing_from}")).collect();
        assert_eq!(failing, expected, "the failing JUnit cases");
    }
}
