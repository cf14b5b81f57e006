//! Determinism: the same model and seed give the same bytes, whatever else
//! runs before or beside them, on any number of threads, for every shipped
//! model and experiment; different seeds and replications differ.

use std::path::{Path, PathBuf};

use cachesim::config::{Dur, ModelSpec, load_model};
use cachesim::experiment::load_experiment;
use cachesim::metrics::RunReport;
use cachesim::sim::{RunOptions, simulate};

use crate::support::*;

/// Both shipped reference models.
const MODELS: [&str; 2] = ["reference.ron", "reference_locked.ron"];

/// Keeps each run to two simulated minutes.
const SHORT: &str = "workload.duration=2m";

fn model_path(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models/seed").join(file)
}

/// A shipped model, shortened to two minutes, as the library sees it.
fn short_model(file: &str) -> ModelSpec {
    let spec = load_model(&model_path(file)).unwrap_or_else(|e| panic!("{file} does not load:\n{e}"));
    with(&spec, &[SHORT])
}

fn sim(spec: &ModelSpec, seed: u64, run: u64) -> RunReport {
    simulate(spec, seed, run, RunOptions::default())
}

/// The stdout of `cachesim run <model> --set workload.duration=2m --seed
/// <seed> [extra...]`, asserting success.
fn binary_stdout(file: &str, seed: u64, extra: &[&str]) -> Vec<u8> {
    let out = assert_cmd::cargo::cargo_bin_cmd!("cachesim")
        .arg("run")
        .arg(model_path(file))
        .args(["--set", SHORT, "--seed", &seed.to_string()])
        .args(extra)
        .output()
        .expect("cachesim starts");
    assert_eq!(out.status.code(), Some(0), "{file}: {}", String::from_utf8_lossy(&out.stderr));
    assert!(!out.stdout.is_empty(), "{file}: no output");
    out.stdout
}

/// Two runs of the binary with the same model and seed print byte-identical
/// JSON.
#[test]
fn binary_json_is_byte_identical_across_runs() {
    for file in MODELS {
        let first = binary_stdout(file, 42, &["--json"]);
        let second = binary_stdout(file, 42, &["--json"]);
        assert!(first == second, "{file}: two runs differ:\n{}\n---\n{}", lossy(&first), lossy(&second));
    }
}

/// Two runs of the binary print byte-identical human summaries too (no
/// wall-clock time or other nondeterminism leaks into the text).
#[test]
fn binary_summary_is_byte_identical_across_runs() {
    for file in MODELS {
        let first = binary_stdout(file, 42, &[]);
        let second = binary_stdout(file, 42, &[]);
        assert!(first == second, "{file}: two runs differ:\n{}\n---\n{}", lossy(&first), lossy(&second));
    }
}

/// The binary's `--json` is exactly the library's report for replication 0,
/// serialized: the binary adds no state of its own.
#[test]
fn binary_json_is_the_library_report() {
    for file in MODELS {
        let from_binary = binary_stdout(file, 9, &["--json"]);
        let report = sim(&short_model(file), 9, 0);
        let from_library = serde_json::to_string_pretty(&report).expect("report serializes") + "\n";
        assert!(
            from_binary == from_library.as_bytes(),
            "{file}: binary and library differ:\n{}\n---\n{from_library}",
            lossy(&from_binary)
        );
    }
}

/// The library gives equal reports for equal (model, seed, run).
#[test]
fn library_reports_are_equal_for_the_same_seed_and_run() {
    for file in MODELS {
        let spec = short_model(file);
        assert_eq!(sim(&spec, 5, 0), sim(&spec, 5, 0), "{file}: run 0");
        assert_eq!(sim(&spec, 5, 3), sim(&spec, 5, 3), "{file}: run 3");
    }
}

/// Different seeds give different runs, not merely a different `seed` field.
#[test]
fn different_seeds_give_different_reports() {
    for file in MODELS {
        let spec = short_model(file);
        let a = sim(&spec, 1, 0);
        let mut b = sim(&spec, 2, 0);
        assert_ne!(a.latency_s.mean, b.latency_s.mean, "{file}: same mean latency for seeds 1 and 2");
        b.seed = a.seed;
        assert_ne!(a, b, "{file}: seeds 1 and 2 give the same report apart from the seed");
    }
}

/// Different seeds also change the binary's output beyond the seed line.
#[test]
fn different_seeds_give_different_binary_output() {
    for file in MODELS {
        let parse = |seed| -> serde_json::Value {
            serde_json::from_slice(&binary_stdout(file, seed, &["--json"])).expect("stdout is JSON")
        };
        let (a, b) = (parse(1), parse(2));
        assert_ne!(a["latency_s"], b["latency_s"], "{file}: same latencies for seeds 1 and 2");
    }
}

/// Different replication indices give independent runs of the same seed.
#[test]
fn different_replications_give_different_reports() {
    for file in MODELS {
        let runs = replicate(&short_model(file), 11, 3);
        for i in 0..runs.len() {
            for j in i + 1..runs.len() {
                assert_ne!(runs[i], runs[j], "{file}: replications {i} and {j} are equal");
                assert_ne!(runs[i].latency_s.mean, runs[j].latency_s.mean, "{file}: replications {i} and {j}");
            }
        }
    }
}

/// A run does not depend on runs made before it in the same process:
/// A, then B, then A again gives A's report twice.
#[test]
fn runs_do_not_leak_state_between_each_other() {
    let a = short_model("reference.ron");
    let b = short_model("reference_locked.ron");
    let first = sim(&a, 3, 0);
    let other = sim(&b, 3, 0);
    let again = sim(&a, 3, 0);
    assert_eq!(first, again, "running B in between changed A");
    assert_ne!(first, other, "test bug: A and B should differ");
}

/// Runs on several threads at once give the same reports as one run alone.
#[test]
fn concurrent_runs_equal_the_sequential_one() {
    for file in MODELS {
        let spec = short_model(file);
        let alone = sim(&spec, 21, 1);
        let together: Vec<RunReport> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4).map(|_| s.spawn(|| sim(&spec, 21, 1))).collect();
            handles.into_iter().map(|h| h.join().expect("run thread")).collect()
        });
        for (i, r) in together.iter().enumerate() {
            assert_eq!(&alone, r, "{file}: thread {i} differs from the sequential run");
        }
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

// ---------------------------------------------------------------------------
// Every shipped model and experiment (issue 11). The lists are read from
// disk at test time, so a model or experiment added later is covered
// without editing this file.

/// Every `*.ron` under `models/`, recursively, sorted.
fn shipped_models() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display())) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "ron") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("models"), &mut out);
    out.sort();
    assert!(out.len() >= 6, "test bug: found only {out:?} under models/");
    out
}

/// Every experiment file `experiments/*.ron`, sorted. Baselines
/// (`*.baseline.json`) are results, not experiments, and are not `.ron`.
fn shipped_experiments() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("experiments/ exists")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "ron"))
        .collect();
    out.sort();
    assert!(out.len() >= 5, "test bug: found only {out:?} under experiments/");
    out
}

/// Replications per model in the model tests: enough that 4 threads each get
/// one, and replications finish out of order.
const MODEL_REPLICATIONS: u64 = 6;

/// Everything a run of `spec` produces, as bytes: the JSON report, the text
/// summary, the stored run record (every metric and both histograms) and a
/// 1 s time series. Models run at full length: a 10-minute seed model takes
/// milliseconds, and its whole length is what covers its TTL expiries.
fn run_bytes(spec: &ModelSpec, seed: u64, run: u64) -> Vec<u8> {
    use cachesim::experiment::{RunId, RunRecord};
    let opts = RunOptions { series: Some(cachesim::engine::SimDuration::from_secs(1)), ..RunOptions::default() };
    let (report, hist) = cachesim::sim::simulate_detailed(spec, seed, run, opts);
    let record = RunRecord::new(RunId { point: 0, rep: run as u32 }, &report, &hist);
    let mut out = serde_json::to_vec_pretty(&report).expect("report serializes");
    out.extend(cachesim::report::summary(&report).into_bytes());
    out.extend(serde_json::to_vec(&record).expect("record serializes"));
    out.extend(serde_json::to_vec(hist.series.as_ref().expect("asked for a series")).expect("series serializes"));
    out
}

/// Replications 0..n of `spec`, run on a pool of `threads` worker threads.
fn replications_on(spec: &ModelSpec, seed: u64, threads: usize) -> Vec<Vec<u8>> {
    use rayon::prelude::*;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("thread pool");
    pool.install(|| (0..MODEL_REPLICATIONS).into_par_iter().map(|run| run_bytes(spec, seed, run)).collect())
}

/// Every shipped model gives the same bytes (report JSON, summary, record,
/// series) for every replication when run twice in this process and when its
/// replications run in parallel on 1, 2 and 4 threads.
#[test]
fn every_shipped_model_gives_identical_bytes_twice_in_process_and_on_1_2_4_threads() {
    for path in shipped_models() {
        let name = path.display().to_string();
        let spec = load_model(&path).unwrap_or_else(|e| panic!("{name} does not load:\n{e}"));
        let first: Vec<Vec<u8>> = (0..MODEL_REPLICATIONS).map(|run| run_bytes(&spec, 7, run)).collect();
        let second: Vec<Vec<u8>> = (0..MODEL_REPLICATIONS).map(|run| run_bytes(&spec, 7, run)).collect();
        assert_same_runs(&name, "the second sequential pass", &first, &second);
        for threads in [1, 2, 4] {
            let parallel = replications_on(&spec, 7, threads);
            assert_same_runs(&name, &format!("{threads} threads"), &first, &parallel);
        }
        assert_ne!(first[0], first[1], "{name}: test bug: replications 0 and 1 are identical");
    }
}

fn assert_same_runs(model: &str, what: &str, expected: &[Vec<u8>], got: &[Vec<u8>]) {
    assert_eq!(expected.len(), got.len());
    for (run, (a, b)) in expected.iter().zip(got).enumerate() {
        assert!(
            a == b,
            "{model}, replication {run}: {what} differs from the first sequential pass\n{}",
            first_diff(a, b)
        );
    }
}

/// The first differing line of two byte strings, for messages.
fn first_diff(a: &[u8], b: &[u8]) -> String {
    let (a, b) = (lossy(a), lossy(b));
    match a.lines().zip(b.lines()).enumerate().find(|(_, (x, y))| x != y) {
        Some((i, (x, y))) => format!("line {}:\n  {x}\n  {y}", i + 1),
        None => format!("one is a prefix of the other ({} vs {} bytes)", a.len(), b.len()),
    }
}

/// Most replications per point in the sweep tests: two, the fewest that give
/// confidence intervals (the `ci95` columns and the verdicts use them).
const SWEEP_REPLICATIONS: u32 = 2;

/// Longest simulated time per run in the sweep tests: over the seed models'
/// 5-minute TTLs, so that every run still has a cold start and an expiry.
const SWEEP_DURATION: &str = "6m";

/// A shortened copy of a shipped experiment, written into `dir`: the same
/// models (by absolute path), `set`, grid, seed, SLO and expectations, with
/// at most [`SWEEP_REPLICATIONS`] replications and [`SWEEP_DURATION`] per run.
fn shortened_experiment(file: &Path, dir: &Path) -> PathBuf {
    let name = file.display().to_string();
    let plan = load_experiment(file, &[]).unwrap_or_else(|e| panic!("{name} does not load:\n{e}"));
    let plan_points = plan.clone();
    let mut spec = plan.spec;
    let base = file.parent().expect("experiments/ is a directory");
    spec.models = spec.models.iter().map(|m| base.join(m).display().to_string()).collect();
    spec.replications = spec.replications.min(SWEEP_REPLICATIONS);
    let cap: Dur = SWEEP_DURATION.parse().expect("a duration");
    // The experiment's `duration` is applied after its `set`, so it also
    // shortens an experiment that sets `workload.duration` there.
    spec.duration = Some(spec.duration.map_or(cap, |d| d.min(cap)));
    let text = ron::ser::to_string_pretty(
        &spec,
        ron::ser::PrettyConfig::default()
            .struct_names(true)
            // Grid values are newtypes read from bare numbers and strings.
            .extensions(ron::extensions::Extensions::UNWRAP_NEWTYPES),
    )
    .expect("experiments serialize");
    let path = dir.join(file.file_name().expect("a file name"));
    std::fs::write(&path, text).expect("write the shortened experiment");
    let short = load_experiment(&path, &[]).unwrap_or_else(|e| panic!("{name}, shortened, does not load:\n{e}"));
    let grid = |p: &cachesim::experiment::Plan| -> Vec<_> {
        p.points.iter().map(|q| (q.model.clone(), q.params.clone(), q.labels.clone())).collect()
    };
    assert_eq!(grid(&short), grid(&plan_points), "{name}: shortening changed the grid");
    assert_eq!(short.spec.expect, plan_points.spec.expect, "{name}: shortening changed the expectations");
    path
}

/// Every file under `dir`, by path relative to it, with its bytes.
fn tree(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut std::collections::BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display())) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).expect("under root").display().to_string();
                out.insert(rel, std::fs::read(&path).expect("read output file"));
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Asserts two output trees hold the same files with the same bytes.
fn assert_same_tree(
    what: &str,
    expected: &std::collections::BTreeMap<String, Vec<u8>>,
    got: &std::collections::BTreeMap<String, Vec<u8>>,
) {
    let names = |t: &std::collections::BTreeMap<String, Vec<u8>>| t.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(expected), names(got), "{what}: different files");
    for (file, bytes) in expected {
        assert!(bytes == &got[file], "{what}: {file} differs\n{}", first_diff(bytes, &got[file]));
    }
}

/// `cachesim sweep EXPERIMENT --out OUT --threads T -q`: its output tree and
/// its stdout with OUT replaced by `<out>` (the last line names the
/// directory, which differs per run).
fn cli_sweep(experiment: &Path, out: &Path, threads: usize) -> (std::collections::BTreeMap<String, Vec<u8>>, String) {
    let run = assert_cmd::cargo::cargo_bin_cmd!("cachesim")
        .arg("sweep")
        .arg(experiment)
        .arg("--out")
        .arg(out)
        .args(["--threads", &threads.to_string(), "-q"])
        .output()
        .expect("cachesim starts");
    let name = experiment.display();
    assert_eq!(run.status.code(), Some(0), "{name} at {threads} threads: {}", lossy(&run.stderr));
    (tree(out), lossy(&run.stdout).replace(&out.display().to_string(), "<out>"))
}

/// What `cachesim sweep` writes, made in this process through the library:
/// the sweep (runs.csv, points.csv, summary.json, matrix.md and
/// .cachesim/), then its plots as the command writes them.
fn library_sweep(experiment: &Path, out: &Path, threads: usize) -> std::collections::BTreeMap<String, Vec<u8>> {
    use cachesim::experiment::{SweepOptions, sweep};
    let plan = load_experiment(experiment, &[]).expect("the shortened experiment loads");
    let opts = SweepOptions { threads: Some(threads), ..SweepOptions::default() };
    // Claimed as the command claims it (marker and lock).
    let claim = cachesim::outdir::OutputDir::claim(out, "--out").expect("the directory is claimed");
    let outcome = sweep(&plan, out, opts, &|_, _| {}).expect("the sweep runs");
    let (results, rows) = outcome.results.expect("an unsharded sweep has results");
    cachesim::report::write_figures(&out.join("plots"), cachesim::report::sweep_figures(&plan, &results, &rows))
        .expect("plots are written");
    drop(claim);
    tree(out)
}

/// Every shipped experiment, shortened, sweeps to byte-identical output
/// files with `cachesim sweep --threads 1`, `2` and `4`, and twice in this
/// process through the library; the library's files equal the binary's.
///
/// Every file is compared, none excluded: runs.csv, points.csv,
/// summary.json, matrix.md, plots/*.svg and *.png, .cachesim/plan.json,
/// .cachesim/runs/*.json, .cachesim/marker and .cachesim/lock (emptied when
/// the command ends). None holds wall-clock time or the thread count
/// (only `cachesim bench` measures time, and it writes only to stdout and
/// temporary directories; the progress bar's elapsed time goes to stderr,
/// silenced by -q). plan.json holds the experiment's path, which is why every
/// run here reads the same shortened copy.
#[test]
fn every_shipped_experiment_sweeps_to_identical_files_on_1_2_4_threads_and_twice_in_process() {
    for file in shipped_experiments() {
        let name = file.display().to_string();
        let dir = tempfile::tempdir().expect("temp dir");
        let experiment = shortened_experiment(&file, dir.path());
        let (one, stdout_one) = cli_sweep(&experiment, &dir.path().join("t1"), 1);
        assert!(
            one.contains_key("runs.csv") && one.contains_key("plots/verdict_matrix.svg"),
            "{name}: {:?}",
            one.keys()
        );
        for threads in [2, 4] {
            let (other, stdout) = cli_sweep(&experiment, &dir.path().join(format!("t{threads}")), threads);
            assert_same_tree(&format!("{name}: --threads {threads} against --threads 1"), &one, &other);
            assert_eq!(stdout_one, stdout, "{name}: stdout at --threads {threads} differs from --threads 1");
        }
        let first = library_sweep(&experiment, &dir.path().join("lib1"), 2);
        let second = library_sweep(&experiment, &dir.path().join("lib2"), 2);
        assert_same_tree(&format!("{name}: the second in-process sweep against the first"), &first, &second);
        assert_same_tree(&format!("{name}: the library's sweep against the binary's"), &one, &first);
    }
}
