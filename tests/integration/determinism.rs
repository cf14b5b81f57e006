//! Determinism: the same model and seed give the same bytes, whatever else
//! runs before or beside them; different seeds and replications differ.

use std::path::{Path, PathBuf};

use cachesim::config::{ModelSpec, load_model};
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
