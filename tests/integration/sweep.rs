//! Experiments end to end: `cachesim sweep` and `cachesim merge` (and the
//! library's `sweep`) on small experiment files written into temporary
//! directories: determinism across thread counts, resuming after an
//! interruption, shards and merge, refusing another experiment's results,
//! bad experiment files, the shape and arithmetic of the output files, and
//! verdicts whose answer is known by construction.
//!
//! Every experiment keeps its simulated work small (mostly 1- to 3-minute runs),
//! so that the whole module takes a few seconds in a debug build.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use cachesim::experiment::{SweepOptions, load_experiment, sweep};
use serde_json::Value;

use crate::support::{line_of, mean_ci95, position};

/// The four files a complete sweep (or a merge) writes.
const FILES: [&str; 4] = ["runs.csv", "points.csv", "summary.json", "matrix.md"];

/// The four verdict levels, as written in `points.csv`.
const LEVELS: [&str; 4] = ["READY", "NEEDS_TUNING", "RISKY", "FAILS"];

/// The `cachesim` binary built for this test run.
fn cachesim() -> assert_cmd::Command {
    assert_cmd::cargo::cargo_bin_cmd!("cachesim")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A model shipped in `models/seed/`, as a RON string literal of its
/// absolute path (model paths in an experiment are relative to the
/// experiment file, which lives in a temporary directory).
fn seed_model(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/seed").join(file);
    format!("{:?}", path.display().to_string())
}

/// The text of an experiment named `name` over the seed models `models`;
/// `fields` are further RON fields, each line indented and ending in a comma.
fn experiment_text(name: &str, models: &[&str], fields: &str) -> String {
    let models: Vec<String> = models.iter().map(|m| seed_model(m)).collect();
    format!("Experiment(\n    name: {name:?},\n    models: [{}],\n{fields})\n", models.join(", "))
}

/// Writes `contents` to `dir/file` and returns the path.
fn write(dir: &Path, file: &str, contents: &str) -> PathBuf {
    let path = dir.join(file);
    fs::write(&path, contents).expect("write experiment");
    path
}

/// The small experiment most tests use: both reference models, 3 minutes
/// (so that even at 10 req/s the three replications hold 54 requests
/// beyond the p99, enough to judge it), rates 10 and 50, three
/// replications: 12 runs.
fn small_text(slo: &str) -> String {
    experiment_text(
        "small",
        &["reference.ron", "reference_locked.ron"],
        &format!(
            "    set: [\"workload.duration=3m\"],\n    \
             grid: Cartesian([(path: \"workload.rate\", values: [10, 50], labels: [\"Light\", \"Moderate\"])]),\n    \
             replications: 3,\n    slo: {slo},\n"
        ),
    )
}

const SMALL_RUNS: usize = 2 * 2 * 3;

/// `cachesim sweep EXPERIMENT --out OUT ARGS...`, whatever its outcome.
fn sweep_cli(experiment: &Path, out: &Path, args: &[&str]) -> Output {
    cachesim().arg("sweep").arg(experiment).arg("--out").arg(out).args(args).output().expect("cachesim starts")
}

/// (computed, reused) from the line a sweep ends with on stderr:
/// "NAME: C runs computed, R reused from DIR".
fn counts(stderr: &str) -> (usize, usize) {
    let line = stderr
        .lines()
        .find(|l| l.contains(" runs computed, "))
        .unwrap_or_else(|| panic!("no `runs computed` line on stderr:\n{stderr}"));
    let (before, after) = line.split_once(" runs computed, ").expect("found above");
    let computed = before.rsplit(' ').next().and_then(|n| n.parse().ok());
    let reused = after.split(' ').next().and_then(|n| n.parse().ok());
    assert!(after.contains(" reused from "), "unexpected counts line: {line:?}");
    match (computed, reused) {
        (Some(c), Some(r)) => (c, r),
        _ => panic!("cannot read the counts in {line:?}"),
    }
}

/// Runs a sweep that must succeed; returns (computed, reused).
fn sweep_ok(experiment: &Path, out: &Path, args: &[&str]) -> (usize, usize) {
    let output = sweep_cli(experiment, out, args);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "cachesim sweep {experiment:?} --out {out:?} {args:?} failed:\n{stderr}");
    counts(&stderr)
}

/// `cachesim merge DIRS... --out OUT`, whatever its outcome.
fn merge_cli(dirs: &[&Path], out: &Path) -> Output {
    cachesim().arg("merge").args(dirs).arg("--out").arg(out).output().expect("cachesim starts")
}

/// Asserts that `actual` holds the same four files as `expected`, byte for
/// byte, showing where the first differing line differs otherwise.
fn assert_same_outputs(expected: &Path, actual: &Path, what: &str) {
    for file in FILES {
        let a =
            fs::read(expected.join(file)).unwrap_or_else(|e| panic!("{what}: cannot read {expected:?}/{file}: {e}"));
        let b = fs::read(actual.join(file)).unwrap_or_else(|e| panic!("{what}: cannot read {actual:?}/{file}: {e}"));
        if a != b {
            let (ta, tb) = (text(&a), text(&b));
            let (la, lb): (Vec<&str>, Vec<&str>) = (ta.lines().collect(), tb.lines().collect());
            let line = (0..la.len().max(lb.len())).find(|&i| la.get(i) != lb.get(i)).unwrap_or(0);
            let (x, y) = (la.get(line).copied().unwrap_or(""), lb.get(line).copied().unwrap_or(""));
            let (cx, cy): (Vec<char>, Vec<char>) = (x.chars().collect(), y.chars().collect());
            let col = cx.iter().zip(&cy).take_while(|(p, q)| p == q).count();
            let excerpt = |c: &[char]| -> String { c.iter().skip(col.saturating_sub(40)).take(120).collect() };
            panic!(
                "{what}: {file} differs from {expected:?}'s at line {}, column {}:\n  expected: ...{:?}\n  actual:   ...{:?}",
                line + 1,
                col + 1,
                excerpt(&cx),
                excerpt(&cy),
            );
        }
    }
}

/// The run records in `out/.cachesim/runs/`, by file name (temporary files
/// of runs cut short, which start with a dot, are left out).
fn records(out: &Path) -> Vec<PathBuf> {
    let dir = out.join(".cachesim/runs");
    let Ok(entries) = fs::read_dir(&dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.ends_with(".json") && !name.starts_with('.')
        })
        .collect();
    files.sort();
    files
}

/// Leaves what a sweep killed in the middle of writing leaves: temporary
/// files (`.NAME.tmp-PID`) with half of their contents, beside a run record
/// and beside an output file.
fn leave_temporary_files(out: &Path, pid: u32) {
    fs::write(out.join(format!(".cachesim/runs/.0-0.json.tmp-{pid}")), "{\"point\":0,\"rep\":").expect("write");
    fs::write(out.join(format!(".runs.csv.tmp-{pid}")), "point,model,wor").expect("write");
}

/// A CSV file as (header, rows).
fn table(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("cannot read {path:?}: {e}"));
    let header = reader.headers().expect("header").iter().map(String::from).collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap_or_else(|e| panic!("bad row in {path:?}: {e}")).iter().map(String::from).collect())
        .collect();
    (header, rows)
}

/// The index of column `name` (panics with the header if absent).
fn column(header: &[String], name: &str) -> usize {
    header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column `{name}` in {header:?}"))
}

/// The table lines of `matrix.md`, as trimmed cells (header, separator, rows).
fn matrix_rows(dir: &Path) -> Vec<Vec<String>> {
    let md = fs::read_to_string(dir.join("matrix.md")).expect("matrix.md");
    md.lines()
        .filter(|l| l.starts_with('|'))
        .map(|l| l.trim().trim_matches('|').split('|').map(|c| c.trim().to_string()).collect())
        .collect()
}

fn summary(dir: &Path) -> Value {
    let bytes = fs::read(dir.join("summary.json")).expect("summary.json");
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("summary.json does not parse: {e}"))
}

/// `a` and `b` agree to a relative 1e-9 (they come from the same formula
/// computed in two places).
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-300)
}

// ---------------------------------------------------------------------------
// 1. Determinism
// ---------------------------------------------------------------------------

/// Guards "results do not depend on the thread count": the same experiment
/// swept with 1, 2 and 4 threads (and by the library with 3) gives the
/// same bytes in all four files.
#[test]
fn sweep_outputs_do_not_depend_on_the_thread_count() {
    let dir = tempfile::tempdir().expect("temp dir");
    let exp = write(
        dir.path(),
        "threads.ron",
        &experiment_text(
            "threads",
            &["reference.ron", "reference_locked.ron"],
            "    set: [\"workload.duration=1m\"],\n    \
             grid: Cartesian([(path: \"workload.rate\", values: [10, 50, 100])]),\n    \
             replications: 4,\n",
        ),
    );
    let total = 2 * 3 * 4;
    let outs: Vec<PathBuf> = [1, 2, 4].iter().map(|t| dir.path().join(format!("t{t}"))).collect();
    for (threads, out) in [1, 2, 4].iter().zip(&outs) {
        assert_eq!(sweep_ok(&exp, out, &["--threads", &threads.to_string()]), (total, 0), "{threads} threads");
    }
    for out in &outs[1..] {
        assert_same_outputs(&outs[0], out, &format!("--threads {out:?} vs --threads 1"));
    }

    let plan = load_experiment(&exp, &[]).unwrap_or_else(|e| panic!("the experiment does not load:\n{e}"));
    assert_eq!(plan.runs().len(), total);
    let lib = dir.path().join("lib");
    let outcome = sweep(&plan, &lib, SweepOptions { threads: Some(3), ..Default::default() }, &|_, _| {})
        .unwrap_or_else(|e| panic!("library sweep failed: {e}"));
    assert_eq!((outcome.computed, outcome.reused), (total, 0));
    let (results, rows) = outcome.results.expect("a whole sweep returns results");
    assert_eq!((results.len(), rows.len()), (plan.points.len(), 3));
    assert_same_outputs(&outs[0], &lib, "library with 3 threads vs --threads 1");
}

// ---------------------------------------------------------------------------
// 2. Resume
// ---------------------------------------------------------------------------

/// Guards resuming: run records deleted after a complete sweep (as if it
/// had been interrupted), output files deleted, and temporary files left by
/// a write cut short; the rerun computes exactly the deleted runs, reuses
/// the rest, and writes the same bytes as an uninterrupted sweep. Likewise
/// through the library's `SweepOutcome`.
#[test]
fn resumed_sweep_computes_only_missing_runs_and_gives_the_same_bytes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let exp = write(dir.path(), "small.ron", &small_text("(p99: \"2s\")"));
    let (full, resumed) = (dir.path().join("full"), dir.path().join("resumed"));
    assert_eq!(sweep_ok(&exp, &full, &["--threads", "2"]), (SMALL_RUNS, 0));
    assert_eq!(sweep_ok(&exp, &resumed, &["--threads", "2"]), (SMALL_RUNS, 0));
    assert_eq!(records(&resumed).len(), SMALL_RUNS, "one record per run");

    // Every third record, the output files but one, and half-written temporaries.
    let deleted: Vec<PathBuf> = records(&resumed).into_iter().step_by(3).collect();
    for path in &deleted {
        fs::remove_file(path).expect("delete record");
    }
    for file in ["points.csv", "summary.json", "matrix.md"] {
        fs::remove_file(resumed.join(file)).expect("delete output");
    }
    leave_temporary_files(&resumed, 999_999);
    let (computed, reused) = sweep_ok(&exp, &resumed, &[]);
    assert_eq!((computed, reused), (deleted.len(), SMALL_RUNS - deleted.len()), "computed/reused after deleting");
    assert_eq!(records(&resumed).len(), SMALL_RUNS);
    assert_same_outputs(&full, &resumed, "resumed sweep");

    // Again through the library, deleting other records and `runs.csv`.
    let others: Vec<PathBuf> = records(&resumed).into_iter().skip(1).step_by(4).collect();
    for path in &others {
        fs::remove_file(path).expect("delete record");
    }
    fs::remove_file(resumed.join("runs.csv")).expect("delete output");
    let plan = load_experiment(&exp, &[]).unwrap_or_else(|e| panic!("the experiment does not load:\n{e}"));
    let outcome = sweep(&plan, &resumed, SweepOptions::default(), &|_, _| {})
        .unwrap_or_else(|e| panic!("library sweep failed: {e}"));
    assert_eq!((outcome.computed, outcome.reused), (others.len(), SMALL_RUNS - others.len()));
    assert!(outcome.results.is_some(), "a completed sweep returns its results");
    assert_same_outputs(&full, &resumed, "sweep resumed by the library");

    // Nothing missing: nothing computed, same bytes.
    assert_eq!(sweep_ok(&exp, &resumed, &[]), (0, SMALL_RUNS));
    assert_same_outputs(&full, &resumed, "sweep with nothing to do");
}

/// Progress counts every run of the sweep, those reused from disk included:
/// the first report is (reused, all runs) before any run, no report's total
/// differs, and the last count is the total. Off a terminal the CLI prints
/// plain lines whose counts never go down and never read "0/0".
#[test]
fn progress_starts_at_the_reused_runs_counts_up_to_all_runs_and_never_reads_0_of_0() {
    let dir = tempfile::tempdir().expect("temp dir");
    let exp = write(dir.path(), "small.ron", &small_text("(p99: \"2s\")"));
    let out = dir.path().join("out");
    assert_eq!(sweep_ok(&exp, &out, &["--threads", "2"]), (SMALL_RUNS, 0));
    let deleted: Vec<PathBuf> = records(&out).into_iter().step_by(2).collect();
    for path in &deleted {
        fs::remove_file(path).expect("delete record");
    }
    let plan = load_experiment(&exp, &[]).unwrap_or_else(|e| panic!("the experiment does not load:\n{e}"));
    let seen = std::sync::Mutex::new(Vec::new());
    let opts = SweepOptions { threads: Some(2), ..SweepOptions::default() };
    sweep(&plan, &out, opts, &|done, total| seen.lock().unwrap().push((done, total))).expect("library sweep");
    let seen = seen.into_inner().unwrap();
    let reused = SMALL_RUNS - deleted.len();
    assert_eq!(seen.first(), Some(&(reused, SMALL_RUNS)), "first report: {seen:?}");
    assert!(seen.iter().all(|&(_, total)| total == SMALL_RUNS), "a total changed: {seen:?}");
    assert_eq!(seen.iter().map(|&(done, _)| done).max(), Some(SMALL_RUNS), "{seen:?}");
    assert_eq!(seen.len(), deleted.len() + 1, "one report before the runs and one per run: {seen:?}");

    fs::remove_dir_all(&out).expect("delete output");
    let output = sweep_cli(&exp, &out, &["--threads", "2"]);
    let stderr = text(&output.stderr);
    let counts: Vec<(usize, usize)> = stderr
        .lines()
        .filter_map(|l| l.strip_suffix(" runs")?.rsplit(' ').next()?.split_once('/'))
        .map(|(d, t)| (d.parse().expect("count"), t.parse().expect("total")))
        .collect();
    assert!(!counts.is_empty(), "no progress lines:\n{stderr}");
    assert!(counts.windows(2).all(|w| w[0].0 <= w[1].0), "progress went backwards:\n{stderr}");
    assert!(counts.iter().all(|&(_, t)| t == SMALL_RUNS), "a total other than {SMALL_RUNS}:\n{stderr}");
    assert_eq!(counts.last(), Some(&(SMALL_RUNS, SMALL_RUNS)), "{stderr}");
}

/// Guards the run store against runs this build did not make: a record
/// whose metric was edited by hand, and one stamped for another plan, are
/// computed again (the sweep says so), never reused, and the outputs are
/// the bytes of an untouched sweep; a directory planned by another build of
/// cachesim is refused (exit 2) with a message that names the builds.
#[test]
fn edited_records_and_runs_of_another_build_are_never_reused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let exp = write(dir.path(), "small.ron", &small_text("(p99: \"2s\")"));
    let (full, edited) = (dir.path().join("full"), dir.path().join("edited"));
    assert_eq!(sweep_ok(&exp, &full, &[]), (SMALL_RUNS, 0));
    assert_eq!(sweep_ok(&exp, &edited, &[]), (SMALL_RUNS, 0));
    let files = records(&edited);
    // An edited metric value, keeping the record valid JSON.
    let mut record: Value = serde_json::from_str(&fs::read_to_string(&files[0]).expect("record")).expect("json");
    let metrics = record["metrics"].as_array_mut().expect("metrics");
    let first = metrics.iter_mut().find(|m| m[1].is_f64() || m[1].is_u64()).expect("a numeric metric");
    first[1] = Value::from(first[1].as_f64().expect("number") + 1000.0);
    fs::write(&files[0], record.to_string()).expect("write");
    // A record stamped for another plan.
    let mut other: Value = serde_json::from_str(&fs::read_to_string(&files[1]).expect("record")).expect("json");
    other["plan_fingerprint"] = Value::from("0123456789abcdef");
    fs::write(&files[1], other.to_string()).expect("write");
    let output = sweep_cli(&exp, &edited, &[]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(counts(&stderr), (2, SMALL_RUNS - 2), "both set-aside records are computed again:\n{stderr}");
    assert!(stderr.contains("2 stored runs were edited or made by another build"), "{stderr}");
    assert_same_outputs(&full, &edited, "sweep after edited records");

    // A directory planned by another build.
    let plan_path = edited.join(".cachesim/plan.json");
    let mut plan: Value = serde_json::from_str(&fs::read_to_string(&plan_path).expect("plan")).expect("json");
    plan["build"] = Value::from("feedfacefeedface");
    plan["fingerprint"] = Value::from("feedfacefeedface");
    fs::write(&plan_path, plan.to_string()).expect("write");
    let output = sweep_cli(&exp, &edited, &[]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("made by another build of cachesim (build feedfacefeedface; this is build "),
        "the refusal does not name the builds:\n{stderr}"
    );
}

/// Guards resuming after a real kill: a single-threaded sweep of 40
/// 10-minute runs is killed once some run records are on disk; the rerun
/// computes only what is missing (fewer runs than the total), is not
/// upset by temporary files, and writes the same bytes as an uninterrupted
/// sweep into another directory.
#[test]
fn sweep_killed_midway_resumes_to_the_same_bytes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let total = 40;
    let exp = write(
        dir.path(),
        "big.ron",
        &experiment_text(
            "big",
            &["reference.ron"],
            &format!(
                "    set: [\"workload.duration=10m\"],\n    \
                 grid: Cartesian([(path: \"workload.rate\", values: [100])]),\n    \
                 replications: {total},\n"
            ),
        ),
    );
    let killed = dir.path().join("killed");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cachesim"))
        .arg("sweep")
        .arg(&exp)
        .arg("--out")
        .arg(&killed)
        .args(["--threads", "1", "--quiet"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cachesim starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    while records(&killed).len() < 2 {
        if let Some(status) = child.try_wait().expect("wait") {
            panic!("the sweep ended ({status}) before two runs were on disk");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no two run records after 60 s");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let still_running = child.try_wait().expect("wait").is_none();
    child.kill().expect("kill the sweep");
    child.wait().expect("reap the sweep");
    assert!(still_running, "the sweep finished before it could be killed: make the experiment bigger");
    let done = records(&killed).len();
    assert!((2..total).contains(&done), "{done} of {total} runs on disk after the kill");
    assert!(!killed.join("runs.csv").exists(), "a killed sweep wrote the aggregated files");
    leave_temporary_files(&killed, child.id());

    let (computed, reused) = sweep_ok(&exp, &killed, &[]);
    assert!(computed < total, "the rerun recomputed everything ({computed} runs)");
    assert_eq!((computed, reused), (total - done, done), "computed/reused after the kill");

    let fresh = dir.path().join("fresh");
    assert_eq!(sweep_ok(&exp, &fresh, &[]), (total, 0));
    assert_same_outputs(&fresh, &killed, "sweep resumed after a kill");
}

// ---------------------------------------------------------------------------
// 3. Shards and merge
// ---------------------------------------------------------------------------

/// Guards sharding: three shards write only run records, share the runs
/// round-robin, and merged (in any order of directories) give the same
/// bytes as one whole sweep; two shards of three are refused, naming the
/// missing runs, and write no aggregated file.
#[test]
fn three_shards_merged_equal_one_sweep() {
    let dir = tempfile::tempdir().expect("temp dir");
    let exp = write(dir.path(), "small.ron", &small_text("(p99: \"2s\")"));
    let whole = dir.path().join("whole");
    assert_eq!(sweep_ok(&exp, &whole, &[]), (SMALL_RUNS, 0));

    let shards: Vec<PathBuf> = (1..=3).map(|k| dir.path().join(format!("shard{k}"))).collect();
    let mut sizes = Vec::new();
    for (k, out) in (1..=3).zip(&shards) {
        let expected = (0..SMALL_RUNS).filter(|i| i % 3 == k - 1).count();
        let output = sweep_cli(&exp, out, &["--shard", &format!("{k}/3")]);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "shard {k}/3 failed:\n{stderr}");
        assert_eq!(counts(&stderr), (expected, 0), "shard {k}/3");
        assert_eq!(records(out).len(), expected, "shard {k}/3: run records");
        for file in FILES {
            assert!(!out.join(file).exists(), "shard {k}/3 wrote {file}: shards write only run records");
        }
        sizes.push(expected);
    }
    let all: BTreeSet<_> =
        shards.iter().flat_map(|s| records(s).into_iter().map(|p| p.file_name().map(|n| n.to_owned()))).collect();
    assert_eq!(all.len(), SMALL_RUNS, "the shards together hold every run once");

    let (a, b, c) = (shards[0].as_path(), shards[1].as_path(), shards[2].as_path());
    for (order, name) in [([a, b, c], "merged"), ([c, a, b], "merged2")] {
        let out = dir.path().join(name);
        let output = merge_cli(&order, &out);
        assert_eq!(output.status.code(), Some(0), "merge {order:?} failed:\n{}", text(&output.stderr));
        assert_same_outputs(&whole, &out, &format!("merge of {order:?}"));
    }

    let partial = dir.path().join("partial");
    let output = merge_cli(&[a, b], &partial);
    let stderr = text(&output.stderr);
    assert!(!stderr.contains("panicked"), "merge panicked:\n{stderr}");
    assert!(!output.status.success(), "merging 2 of 3 shards succeeded:\n{}", text(&output.stdout));
    assert!(
        stderr.contains("missing") && stderr.contains(&format!("{} of {SMALL_RUNS}", sizes[2])),
        "does not say that {} of {SMALL_RUNS} runs are missing:\n{stderr}",
        sizes[2]
    );
    for file in FILES {
        assert!(!partial.join(file).exists(), "a failed merge wrote {file}");
    }
}

/// Guards the `--shard K/N` argument: 0/3, 4/3 and `x` are usage errors
/// (exit 2), naming the flag, printing nothing and creating nothing.
#[test]
fn bad_shard_values_are_usage_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let exp = write(dir.path(), "small.ron", &small_text("(p99: \"2s\")"));
    for shard in ["0/3", "4/3", "x"] {
        let out = dir.path().join("out");
        let output = sweep_cli(&exp, &out, &["--shard", shard]);
        let stderr = text(&output.stderr);
        assert!(!stderr.contains("panicked"), "--shard {shard} panicked:\n{stderr}");
        assert_eq!(output.status.code(), Some(2), "--shard {shard}: stderr:\n{stderr}");
        assert!(output.stdout.is_empty(), "--shard {shard} printed:\n{}", text(&output.stdout));
        assert!(stderr.contains("--shard"), "--shard {shard}: the flag is not named:\n{stderr}");
        assert!(!out.exists(), "--shard {shard} created the output directory");
    }
}

// ---------------------------------------------------------------------------
// 4. Another experiment's directory; an SLO change
// ---------------------------------------------------------------------------

/// Every file and directory under `dir`: (contents, or `None` for a
/// directory; modification time). The lock file is left out: every command
/// that claims the directory writes its process id there (and empties it on
/// exit), refused or not.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (Option<Vec<u8>>, SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        if path.ends_with(".cachesim/lock") {
            continue;
        }
        let meta = fs::metadata(&path).expect("metadata");
        let mtime = meta.modified().expect("mtime");
        if meta.is_dir() {
            stack.extend(fs::read_dir(&path).expect("read dir").map(|e| e.expect("entry").path()));
            out.insert(path, (None, mtime));
        } else {
            out.insert(path.clone(), (Some(fs::read(&path).expect("read")), mtime));
        }
    }
    out
}

/// Guards "never mix experiments": sweeping (or merging) another
/// experiment into a directory of results is refused as bad input, saying
/// so, and leaves every file and directory in it untouched.
#[test]
fn directory_of_another_experiment_is_refused_and_untouched() {
    let dir = tempfile::tempdir().expect("temp dir");
    let exp = write(dir.path(), "small.ron", &small_text("(p99: \"2s\")"));
    let other = write(dir.path(), "other.ron", &small_text("(p99: \"2s\")").replace("[10, 50]", "[10, 30]"));
    let (mine, theirs) = (dir.path().join("mine"), dir.path().join("theirs"));
    sweep_ok(&exp, &mine, &[]);
    sweep_ok(&other, &theirs, &[]);

    let before = snapshot(&mine);
    let output = sweep_cli(&other, &mine, &[]);
    let stderr = text(&output.stderr);
    assert!(!stderr.contains("panicked"), "cachesim panicked:\n{stderr}");
    assert_eq!(output.status.code(), Some(2), "stderr:\n{stderr}");
    assert!(output.stdout.is_empty(), "a refused sweep printed:\n{}", text(&output.stdout));
    assert!(stderr.contains("another experiment"), "does not say it is another experiment:\n{stderr}");
    assert!(before == snapshot(&mine), "the refused sweep modified {mine:?}");

    let merged = dir.path().join("merged");
    let output = merge_cli(&[&mine, &theirs], &merged);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "merging two experiments: stderr:\n{stderr}");
    assert!(stderr.contains("another experiment"), "does not say it is another experiment:\n{stderr}");
    assert!(before == snapshot(&mine), "the refused merge modified {mine:?}");
    for file in FILES {
        assert!(!merged.join(file).exists(), "a refused merge wrote {file}");
    }
}

/// SLOs whose verdicts are known by construction. Every request spends at
/// least the 50 ms handler, so every run's p99 is above 1 ms: under `TIGHT`
/// no point meets the SLO (its interval's upper end is at least its mean).
/// Under `LOOSE` (p99 ≤ 1 h and nothing else) every point is READY: no
/// request of a 3-minute run outlasts the run plus its 60 s drain, so even
/// three replications' interval stays far below 0.8 h.
const LOOSE: &str = "(p99: \"1h\", error_rate: None)";
const TIGHT: &str = "(p99: \"1ms\", error_rate: None)";

/// Guards "the SLO does not change the runs": an experiment whose only
/// change is its SLO reuses every run (computes 0), writes the same
/// `runs.csv`, and recomputes the verdicts and the matrix.
#[test]
fn changing_only_the_slo_reuses_runs_and_recomputes_verdicts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("out");
    let exp = write(dir.path(), "small.ron", &small_text(LOOSE));
    assert_eq!(sweep_ok(&exp, &out, &[]), (SMALL_RUNS, 0));
    let runs_before = fs::read(out.join("runs.csv")).expect("runs.csv");
    let verdicts = |dir: &Path| -> Vec<String> {
        let (header, rows) = table(&dir.join("points.csv"));
        let v = column(&header, "verdict");
        rows.iter().map(|r| r[v].clone()).collect()
    };
    assert!(verdicts(&out).iter().all(|v| v == "READY"), "under {LOOSE}: {:?}", verdicts(&out));

    write(dir.path(), "small.ron", &small_text(TIGHT));
    assert_eq!(sweep_ok(&exp, &out, &[]), (0, SMALL_RUNS), "an SLO change recomputed runs");
    assert_eq!(fs::read(out.join("runs.csv")).expect("runs.csv"), runs_before, "runs.csv changed with the SLO");
    let after = verdicts(&out);
    assert!(after.iter().all(|v| v == "RISKY" || v == "FAILS"), "under {TIGHT}: {after:?}");
    let rows = matrix_rows(&out);
    assert!(rows.len() > 2 && rows[2..].iter().all(|r| r.last().map(String::as_str) == Some("none")), "{rows:?}");
    let md = fs::read_to_string(out.join("matrix.md")).expect("matrix.md");
    assert!(md.contains("p99 ≤ 1ms"), "matrix.md does not show the new SLO:\n{md}");
}

/// Guards that a merge (which reads the plan stored in the directory)
/// judges with the experiment's current SLO: after an SLO-only change and
/// a rerun, re-aggregating the directory with `cachesim merge` must write
/// what the rerun wrote.
#[test]
fn merge_after_an_slo_change_uses_the_new_slo() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("out");
    let exp = write(dir.path(), "small.ron", &small_text(LOOSE));
    sweep_ok(&exp, &out, &[]);
    write(dir.path(), "small.ron", &small_text(TIGHT));
    assert_eq!(sweep_ok(&exp, &out, &[]), (0, SMALL_RUNS));
    let merged = dir.path().join("merged");
    let output = merge_cli(&[&out], &merged);
    assert_eq!(output.status.code(), Some(0), "merge failed:\n{}", text(&output.stderr));
    assert_same_outputs(&out, &merged, "merge after an SLO change");
}

// ---------------------------------------------------------------------------
// 5. Bad experiment files
// ---------------------------------------------------------------------------

/// Sweeps the experiment `src` and asserts the shape of a bad-input error:
/// exit 2, no panic, nothing on stdout, no output directory. Returns
/// (stderr, the experiment's path as printed).
fn reject(src: &str) -> (String, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let exp = write(dir.path(), "bad.ron", src);
    let out = dir.path().join("out");
    let output = sweep_cli(&exp, &out, &[]);
    let stderr = text(&output.stderr);
    assert!(!stderr.contains("panicked"), "cachesim panicked:\n{stderr}");
    assert_eq!(output.status.code(), Some(2), "expected exit 2 (bad input) for:\n{src}\nstderr:\n{stderr}");
    assert!(output.stdout.is_empty(), "a rejected sweep printed:\n{}", text(&output.stdout));
    assert!(!out.join(".cachesim").exists(), "a rejected experiment started a sweep directory");
    (stderr, exp.display().to_string())
}

/// Asserts that `src` is rejected at a line from the one holding `first`
/// to the one holding `last` (the same marker for an exact line), with a
/// column on that line, and with every one of `words` in the message.
fn assert_rejected_at(src: &str, first: &str, last: &str, words: &[&str]) {
    let (stderr, path) = reject(src);
    let (line, col) = position(&stderr, &path);
    let (from, to) = (line_of(src, first), line_of(src, last));
    assert!((from..=to).contains(&line), "error on line {line}, expected {from}..={to}:\n{stderr}");
    let shown = src.lines().nth(line - 1).expect("line exists");
    assert!((1..=shown.chars().count() + 1).contains(&col), "column {col} is off line {line}:\n{stderr}");
    for word in words {
        assert!(stderr.contains(word), "stderr does not contain {word:?}:\n{stderr}");
    }
}

/// An experiment over the reference model whose further fields are `fields`.
fn bad_experiment(fields: &str) -> String {
    experiment_text("bad", &["reference.ron"], &format!("    set: [\"workload.duration=1m\"],\n{fields}"))
}

/// Guards bad experiment files: each is bad input (exit 2) reported as
/// FILE:LINE:COL at the offending field, with no panic and nothing on
/// stdout; a model file that does not exist is bad input naming it.
#[test]
fn bad_experiment_files_are_reported_where_they_are_wrong() {
    // An unknown field, with the field it resembles.
    let src = bad_experiment("    replicatoins: 3,\n");
    assert_rejected_at(&src, "replicatoins", "replicatoins", &["replicatoins", "replications"]);

    // A grid path the model does not have: reported in the grid.
    let src = bad_experiment(
        "    grid: Cartesian([\n        (path: \"workload.rte\", values: [10, 20]),\n    ]),\n    replications: 2,\n",
    );
    assert_rejected_at(&src, "grid:", "workload.rte", &["rte", "did you mean `rate`"]);

    // A grid value of the wrong type for its path.
    let src = bad_experiment(
        "    grid: Cartesian([\n        (path: \"workload.rate\", values: [10, \"fast\"]),\n    ]),\n    replications: 2,\n",
    );
    assert_rejected_at(&src, "grid:", "\"fast\"", &["fast", "workload.rate"]);

    // Zero replications.
    let src = bad_experiment("    replications: 0,\n");
    assert_rejected_at(&src, "replications: 0", "replications: 0", &["replication"]);

    // A Zip grid with axes of different lengths.
    let src = bad_experiment(
        "    grid: Zip([\n        (path: \"workload.rate\", values: [10, 20]),\n        \
         (path: \"servers.count\", values: [1, 2, 3]),\n    ]),\n    replications: 2,\n",
    );
    assert_rejected_at(&src, "grid: Zip", "servers.count", &["Zip", "same number of values"]);

    // A model file that does not exist (relative to the experiment file).
    let src = "Experiment(\n    models: [\n        \"no_such_model.ron\",\n    ],\n)\n";
    let (stderr, _) = reject(src);
    assert!(stderr.contains("no_such_model.ron"), "the missing model is not named:\n{stderr}");
}

/// Guards that a missing model file is reported at its entry in the
/// experiment (FILE:LINE:COL of the experiment), as every other mistake
/// in an experiment file is: the model's own path alone does not say
/// which experiment, or which line of it, refers to it.
#[test]
fn missing_model_is_reported_at_its_line_in_the_experiment() {
    let src = "Experiment(\n    models: [\n        \"no_such_model.ron\",\n    ],\n)\n";
    assert_rejected_at(src, "models:", "no_such_model.ron", &["no_such_model.ron"]);
}

// ---------------------------------------------------------------------------
// 6. The output files
// ---------------------------------------------------------------------------

/// Guards the shape and arithmetic of the four files, on a two-axis grid
/// over two models: one `runs.csv` row per point × replication with the
/// documented columns; one `points.csv` row per point with a verdict and,
/// for every metric, `.mean` and `.ci95` equal to the mean and Student-t
/// 95% half-width of that point's runs; `summary.json` with every point;
/// `matrix.md` with a row per grid combination and a column per model.
#[test]
fn output_files_are_well_formed_and_consistent() {
    let dir = tempfile::tempdir().expect("temp dir");
    let reps = 3;
    let exp = write(
        dir.path(),
        "shape.ron",
        &experiment_text(
            "shape",
            &["reference.ron", "reference_locked.ron"],
            &format!(
                "    set: [\"workload.duration=1m\"],\n    grid: Cartesian([\n        \
                 (path: \"workload.rate\", values: [10, 40]),\n        \
                 (path: \"servers.count\", values: [1, 2], labels: [\"one\", \"two\"]),\n    ]),\n    \
                 replications: {reps},\n    seed: 7,\n"
            ),
        ),
    );
    let out = dir.path().join("out");
    let plan = load_experiment(&exp, &[]).unwrap_or_else(|e| panic!("the experiment does not load:\n{e}"));
    let (models, combos) = (2, 4);
    assert_eq!(plan.points.len(), models * combos);
    sweep_ok(&exp, &out, &[]);

    // runs.csv
    let (rh, runs) = table(&out.join("runs.csv"));
    let fixed = ["point", "model", "workload.rate", "servers.count", "replication", "seed"];
    assert_eq!(rh[..fixed.len()], fixed, "runs.csv leading columns");
    let metrics: Vec<&str> = rh[fixed.len()..].iter().map(String::as_str).collect();
    for key in ["latency_s.p99", "requests.errors.pool_timeout", "requests.arrived"] {
        assert!(metrics.contains(&key), "runs.csv has no `{key}` column: {rh:?}");
    }
    assert_eq!(runs.len(), plan.points.len() * reps, "runs.csv: one row per point × replication");
    let mut seen = BTreeSet::new();
    for row in &runs {
        assert_eq!(row.len(), rh.len(), "ragged runs.csv row {row:?}");
        let p: usize = row[0].parse().expect("point index");
        let point = &plan.points[p];
        assert_eq!(row[1], point.model, "runs.csv row {row:?}: model");
        let params: Vec<&str> = point.params.iter().map(|(_, v)| v.as_str()).collect();
        assert_eq!(row[2..4], params, "runs.csv row {row:?}: parameters");
        assert_eq!(row[5], "7", "runs.csv row {row:?}: the experiment's seed");
        assert!(seen.insert((p, row[4].parse::<usize>().expect("replication"))), "duplicate run {row:?}");
    }
    let expected: BTreeSet<_> = (0..plan.points.len()).flat_map(|p| (0..reps).map(move |r| (p, r))).collect();
    assert_eq!(seen, expected, "runs.csv: every (point, replication) once");

    // points.csv, against runs.csv
    let (ph, points) = table(&out.join("points.csv"));
    assert_eq!(points.len(), plan.points.len(), "points.csv: one row per point");
    let verdict = column(&ph, "verdict");
    for key in &metrics {
        column(&ph, &format!("{key}.mean"));
        column(&ph, &format!("{key}.ci95"));
    }
    for (i, row) in points.iter().enumerate() {
        assert_eq!(row.len(), ph.len(), "ragged points.csv row {row:?}");
        assert_eq!(row[0], i.to_string(), "points.csv in plan order");
        assert!(LEVELS.contains(&row[verdict].as_str()), "verdict {:?} of point {i}", row[verdict]);
        assert_eq!(row[column(&ph, "replications")], reps.to_string());
        let mine: Vec<&Vec<String>> = runs.iter().filter(|r| r[0] == row[0]).collect();
        for (k, key) in metrics.iter().enumerate() {
            let values: Vec<f64> = mine.iter().filter_map(|r| r[fixed.len() + k].parse().ok()).collect();
            if values.len() < reps {
                continue; // a run without the metric (e.g. no successful request)
            }
            let (mean, half) = mean_ci95(&values);
            let got = |suffix: &str| -> f64 {
                let cell = &row[column(&ph, &format!("{key}.{suffix}"))];
                cell.parse().unwrap_or_else(|_| panic!("point {i}: {key}.{suffix} is {cell:?}"))
            };
            assert!(close(got("mean"), mean), "point {i}: {key}.mean {} vs runs' mean {mean}", got("mean"));
            assert!(close(got("ci95"), half), "point {i}: {key}.ci95 {} vs t·s/√n {half}", got("ci95"));
        }
    }

    // summary.json
    let s = summary(&out);
    let entries = s["points"].as_array().expect("summary.json: `points` array");
    assert_eq!(entries.len(), plan.points.len(), "summary.json: one entry per point");
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e["point"].as_u64(), Some(i as u64), "summary.json point {i}");
        assert_eq!(e["model"].as_str(), Some(plan.points[i].model.as_str()), "summary.json point {i}");
        assert!(LEVELS.contains(&e["verdict"]["level"].as_str().unwrap_or("")), "summary.json point {i}: {e:#}");
    }
    assert_eq!(s["rows"].as_array().map(Vec::len), Some(combos), "summary.json: one row per grid combination");
    assert_eq!((s["replications"].as_u64(), s["seed"].as_u64()), (Some(reps as u64), Some(7)));

    // matrix.md
    let table = matrix_rows(&out);
    let header = ["workload.rate", "servers.count", "reference", "reference_locked", "cheapest meeting the SLO"];
    assert_eq!(table[0], header, "matrix.md header");
    assert_eq!(table.len(), 2 + combos, "matrix.md: header, separator and one row per combination");
    let cells: BTreeSet<(String, String)> = table[2..]
        .iter()
        .map(|r| {
            assert_eq!(r.len(), header.len(), "matrix.md row {r:?}");
            (r[0].clone(), r[1].clone())
        })
        .collect();
    let combos_shown: BTreeSet<(String, String)> = ["10", "40"]
        .iter()
        .flat_map(|rate| ["one (1)", "two (2)"].map(|count| (rate.to_string(), count.to_string())))
        .collect();
    assert_eq!(cells, combos_shown, "matrix.md: every combination once, labels with values");
}

// ---------------------------------------------------------------------------
// 7. Verdicts known by construction
// ---------------------------------------------------------------------------

/// The cells of the only data row of `matrix.md`.
fn only_matrix_row(dir: &Path) -> Vec<String> {
    let rows = matrix_rows(dir);
    assert_eq!(rows.len(), 3, "expected one matrix row: {rows:?}");
    rows[2].clone()
}

/// Guards READY: the locked reference at 10 req/s for 3 minutes (5400
/// requests over three replications, 54 beyond the p99) makes one
/// backend call (single flight, 3 minutes < the 5-minute TTL, well within
/// the 10-token burst), so no request fails; every request takes the 50 ms
/// handler plus at most that one LogNormal(median 1 s, p99 2 s) fetch, so
/// p99 far below 0.8 × 10 s. With a generous error bound, READY.
#[test]
fn locked_reference_at_light_load_is_ready() {
    let dir = tempfile::tempdir().expect("temp dir");
    let exp = write(
        dir.path(),
        "ready.ron",
        &experiment_text(
            "ready",
            &["reference_locked.ron"],
            "    set: [\"workload.duration=3m\"],\n    \
             grid: Cartesian([(path: \"workload.rate\", values: [10])]),\n    \
             replications: 3,\n    slo: (p99: \"10s\", error_rate: 0.5),\n",
        ),
    );
    let out = dir.path().join("out");
    sweep_ok(&exp, &out, &[]);
    let (rh, runs) = table(&out.join("runs.csv"));
    let (failed, calls) = (column(&rh, "requests.failed"), column(&rh, "backend.calls"));
    assert!(runs.iter().all(|r| r[failed] == "0" && r[calls] == "1"), "premise: one call, no failure: {runs:?}");

    let (ph, points) = table(&out.join("points.csv"));
    assert_eq!(points.len(), 1);
    assert_eq!(points[0][column(&ph, "verdict")], "READY", "{:?}", points[0]);
    assert_eq!(points[0][column(&ph, "cause")], "", "READY has no cause");
    let row = only_matrix_row(&out);
    assert!(row[1].contains("READY"), "matrix row {row:?}");
    assert_eq!(row.last().map(String::as_str), Some("reference_locked"), "cheapest meeting the SLO");
}

/// Guards FAILS and "cheapest meeting the SLO". At 100 req/s from a cold
/// cache, the unlocked reference sends every request that arrives during
/// the first fetch (about a second: some hundred requests) to the backend;
/// its token bucket holds 10 tokens and refills 10/s, so in every run some
/// of them fail `rate_limited`, and no replication can bring the share's
/// lower 95% bound to the SLO's 0 (Poisson arrivals times a LogNormal
/// fetch: the share varies far less than its mean). The locked reference
/// makes one call and never hits the bucket: READY, and the only model
/// meeting the SLO, so the matrix names it though `reference` comes first
/// (both cost the same, and ties go to the first).
#[test]
fn unlocked_stampede_fails_a_zero_rate_limited_slo() {
    let dir = tempfile::tempdir().expect("temp dir");
    let exp = write(
        dir.path(),
        "stampede.ron",
        &experiment_text(
            "stampede",
            &["reference.ron", "reference_locked.ron"],
            "    set: [\"workload.duration=1m\"],\n    \
             grid: Cartesian([(path: \"workload.rate\", values: [100])]),\n    \
             replications: 6,\n    \
             slo: (p99: \"1h\", error_rate: None, errors: {\"rate_limited\": 0.0}),\n",
        ),
    );
    let out = dir.path().join("out");
    sweep_ok(&exp, &out, &[]);
    let (rh, runs) = table(&out.join("runs.csv"));
    let limited = column(&rh, "requests.errors.rate_limited");
    for row in &runs {
        let n: u64 = row[limited].parse().expect("a count");
        match row[1].as_str() {
            "reference" => assert!(n > 0, "premise: the stampede is rate limited in every run: {row:?}"),
            _ => assert_eq!(n, 0, "premise: the locked model is never rate limited: {row:?}"),
        }
    }

    let (ph, points) = table(&out.join("points.csv"));
    let (verdict, cause) = (column(&ph, "verdict"), column(&ph, "cause"));
    assert_eq!(points.len(), 2);
    assert_eq!((points[0][1].as_str(), points[0][verdict].as_str()), ("reference", "FAILS"), "{:?}", points[0]);
    assert!(points[0][cause].contains("rate_limited"), "the cause does not name rate_limited: {:?}", points[0][cause]);
    assert_eq!((points[1][1].as_str(), points[1][verdict].as_str()), ("reference_locked", "READY"));

    let row = only_matrix_row(&out);
    assert!(row[1].contains("FAILS") && row[1].contains("rate_limited"), "matrix row {row:?}");
    assert!(row[2].contains("READY"), "matrix row {row:?}");
    assert_eq!(row.last().map(String::as_str), Some("reference_locked"), "cheapest meeting the SLO");
    assert_eq!(summary(&out)["rows"][0]["cheapest"].as_str(), Some("reference_locked"), "summary.json");
}

/// The shipped experiments load: every model, axis and value is valid.
#[test]
fn shipped_experiments_load() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let matrix = cachesim::experiment::load_experiment(&root.join("experiments/seed_matrix.ron"), &[]).unwrap();
    assert_eq!(matrix.points.len(), 6 * 6);
    assert_eq!(matrix.runs().len(), 6 * 6 * 10);
    let bench = cachesim::experiment::load_experiment(&root.join("experiments/bench_sweep.ron"), &[]).unwrap();
    assert_eq!((bench.points.len(), bench.spec.replications), (60, 10));
    for name in ["pool_sizing.ron", "regression.ron"] {
        let e = cachesim::experiment::load_experiment(&root.join("experiments").join(name), &[]);
        assert!(e.is_ok(), "{name} does not load: {:?}", e.err());
    }
    let cdn = cachesim::experiment::load_experiment(&root.join("experiments/cdn_edge.ron"), &[]).unwrap();
    assert_eq!(cdn.points.len(), 4 * 2);
}

/// `cachesim run MODEL --seed S --replication K` with the point's values as
/// `--set` replays replication K of a sweep point exactly: every metric of
/// its `--json` equals that run's row of runs.csv, and another replication
/// differs.
#[test]
fn run_with_replication_k_replays_that_sweep_run_exactly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let exp = write(dir.path(), "small.ron", &small_text("(p99: \"2s\")"));
    let out = dir.path().join("out");
    sweep_ok(&exp, &out, &[]);
    let (header, rows) = table(&out.join("runs.csv"));
    let at = |name: &str| column(&header, name);
    let row = rows
        .iter()
        .find(|r| r[at("model")] == "reference" && r[at("workload.rate")] == "50" && r[at("replication")] == "2")
        .expect("reference at 50 req/s, replication 2");
    let replay = |k: &str| -> Value {
        let output = cachesim()
            .arg("run")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("models/seed/reference.ron"))
            .args(["--set", "workload.duration=3m", "--set", "workload.rate=50", "--seed", &row[at("seed")]])
            .args(["--replication", k, "--json"])
            .output()
            .expect("cachesim starts");
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        serde_json::from_slice(&output.stdout).expect("json")
    };
    let leaf = |v: &Value, key: &str| key.split('.').try_fold(v, |v, k| v.get(k)).and_then(Value::as_f64);
    let json = replay("2");
    assert_eq!(json["replication"].as_u64(), Some(2));
    let mut compared = 0;
    for key in ["requests.arrived", "requests.ok", "latency_s.p99", "latency_s.max", "backend.calls", "engine.events"] {
        let csv: f64 = row[at(key)].parse().expect("a number");
        assert_eq!(leaf(&json, key), Some(csv), "{key}: the replay differs from runs.csv");
        compared += 1;
    }
    assert_eq!(compared, 6);
    let other = replay("1");
    assert_ne!(leaf(&other, "engine.events"), leaf(&json, "engine.events"), "replication 1 is another run");
}
