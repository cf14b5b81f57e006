//! Where commands write, and whether they may: an experiment's name is a
//! slug under `results/`, never a path; a directory that holds files
//! cachesim did not make is never written into; one writer at a time holds
//! an output directory; every output path is checked before anything is
//! written.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

fn cachesim() -> assert_cmd::Command {
    assert_cmd::cargo::cargo_bin_cmd!("cachesim")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A model of `rate` req/s for `duration`, written as `file` in `dir`.
fn model(dir: &Path, file: &str, rate: u32, duration: &str) -> PathBuf {
    let path = dir.join(file);
    fs::write(
        &path,
        format!(r#"Model(workload: (rate: {rate}, duration: "{duration}"), backend: (latency: Constant("1s")))"#),
    )
    .expect("write model");
    path
}

/// An experiment named `name` over `model`, written as `file` in `dir`.
fn experiment(dir: &Path, file: &str, name: &str, model: &Path, replications: u32) -> PathBuf {
    let path = dir.join(file);
    let name = serde_json::to_string(name).expect("a RON string");
    let stem = model.file_stem().and_then(|s| s.to_str()).expect("a model file name").to_string();
    let model = serde_json::to_string(&model.display().to_string()).expect("a RON string");
    fs::write(
        &path,
        format!(
            r#"Experiment(name: {name}, models: [{model}], replications: {replications}, slo: (p99: "2s"), expect: [(model: "{stem}", metric: "latency_s.p99", below: "2s")])"#
        ),
    )
    .expect("write experiment");
    path
}

/// A fast experiment named `name` (two runs of 10 s), written as `file` in
/// `dir`.
fn small(dir: &Path, file: &str, name: &str) -> PathBuf {
    let m = model(dir, "m.ron", 5, "10s");
    experiment(dir, file, name, &m, 2)
}

/// Asserts a refusal as bad input: exit 2, no panic, nothing on stdout,
/// stderr naming each of `words`. Returns stderr.
fn assert_refused(out: &Output, words: &[&str], what: &str) -> String {
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("panicked"), "{what}: cachesim panicked:\n{stderr}");
    assert_eq!(out.status.code(), Some(2), "{what}: expected exit 2; stderr:\n{stderr}");
    assert!(out.stdout.is_empty(), "{what}: printed:\n{}", text(&out.stdout));
    for w in words {
        assert!(stderr.contains(w), "{what}: stderr does not name {w:?}:\n{stderr}");
    }
    stderr
}

/// Every file under `dir`, with its bytes (directories as `None`).
fn tree(dir: &Path) -> Vec<(PathBuf, Option<Vec<u8>>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            stack.extend(fs::read_dir(&p).expect("read dir").map(|e| e.expect("entry").path()));
            out.push((p, None));
        } else {
            out.push((p.clone(), Some(fs::read(&p).expect("read"))));
        }
    }
    out.sort();
    out
}

/// Guards "the name is not a path": `name: "../../x"` and an absolute name,
/// swept and checked without `--out`, write under `results/<slug>` in the
/// working directory and nowhere else; the slug keeps letters, digits, `-`,
/// `_` and inner dots and turns every other character into `-`.
#[test]
fn a_name_with_dots_slashes_or_an_absolute_path_writes_only_under_results() {
    let sandbox = tempfile::tempdir().expect("temp dir");
    let work = sandbox.path().join("a/b");
    fs::create_dir_all(&work).expect("work dir");
    let escape = small(sandbox.path(), "escape.ron", "../../x");
    let out = cachesim().current_dir(&work).arg("sweep").arg(&escape).arg("-q").output().expect("starts");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!sandbox.path().join("x").exists(), "`../../x` wrote outside results/");
    assert!(work.join("results/-.-..-x/summary.json").is_file(), "{:?}", tree(&work.join("results")));

    // An absolute name: neither `sweep` nor `check` writes there.
    let abs = sandbox.path().join("abs");
    let absolute = small(sandbox.path(), "absolute.ron", &abs.display().to_string());
    for command in ["sweep", "check"] {
        let out = cachesim().current_dir(&work).arg(command).arg(&absolute).arg("-q").output().expect("starts");
        assert_eq!(out.status.code(), Some(0), "{command}: {}", text(&out.stderr));
        assert!(!abs.exists(), "{command} wrote to the absolute name {}", abs.display());
    }
    let slug: String = abs.display().to_string().chars().map(|c| if c == '/' { '-' } else { c }).collect();
    let slug = slug.to_ascii_lowercase();
    assert!(work.join("results").join(&slug).join("summary.json").is_file(), "{:?}", tree(&work.join("results")));
    let checks: Vec<_> = fs::read_dir(work.join("results").join(&slug))
        .expect("results/<slug>")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("check-"))
        .collect();
    assert_eq!(checks.len(), 1, "check writes results/<slug>/check-<fingerprint>");
}

/// Guards "never write into someone else's directory": a directory that
/// holds a `summary.json` cachesim did not make (no `.cachesim/marker`) is
/// refused by every command that writes (`sweep --out`, `check --out`,
/// `limit --out`, `run --plot`, `merge --out`), exit 2 naming the directory
/// and why, and left byte for byte as it was; an absolute name naming it
/// does not reach it at all.
#[test]
fn a_directory_cachesim_did_not_make_is_never_written_into() {
    let sandbox = tempfile::tempdir().expect("temp dir");
    let theirs = sandbox.path().join("theirs");
    fs::create_dir(&theirs).expect("dir");
    fs::write(theirs.join("summary.json"), "{\"mine\": true}").expect("write");
    let before = tree(&theirs);
    let exp = small(sandbox.path(), "small.ron", "small");
    let m = sandbox.path().join("m.ron");
    let shard = sandbox.path().join("shard");
    let out = cachesim().arg("sweep").arg(&exp).arg("--out").arg(&shard).arg("-q").output().expect("starts");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let t = theirs.display().to_string();
    let cases: Vec<Vec<std::ffi::OsString>> = vec![
        vec!["sweep".into(), exp.clone().into(), "--out".into(), t.clone().into()],
        vec!["check".into(), exp.clone().into(), "--out".into(), t.clone().into()],
        vec!["limit".into(), m.clone().into(), "--out".into(), t.clone().into()],
        vec!["run".into(), m.clone().into(), "--plot".into(), t.clone().into()],
        vec!["merge".into(), shard.clone().into(), "--out".into(), t.clone().into()],
    ];
    for args in cases {
        let out = cachesim().args(&args).output().expect("starts");
        assert_refused(&out, &[&t, "cachesim did not make it", "hint:"], &format!("{args:?}"));
        assert!(before == tree(&theirs), "{args:?} modified {t}");
    }
    // The absolute name of that directory, without --out: written under
    // results/, and the directory is untouched.
    let named = small(sandbox.path(), "named.ron", &t);
    let out = cachesim().current_dir(sandbox.path()).arg("sweep").arg(&named).arg("-q").output().expect("starts");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(before == tree(&theirs), "a sweep named after {t} modified it");
}

/// Guards resume across versions: a directory made before the marker
/// existed (it holds `.cachesim/plan.json` but no marker) is still
/// cachesim's, and a sweep into it reuses every run; an empty directory is
/// taken over and marked.
#[test]
fn a_sweep_directory_of_an_earlier_version_resumes_and_an_empty_one_is_taken() {
    let sandbox = tempfile::tempdir().expect("temp dir");
    let exp = small(sandbox.path(), "small.ron", "small");
    let out = sandbox.path().join("out");
    fs::create_dir(&out).expect("an empty directory");
    let sweep = || cachesim().arg("sweep").arg(&exp).arg("--out").arg(&out).output().expect("starts");
    let first = sweep();
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    assert!(out.join(".cachesim/marker").is_file(), "an empty directory taken over is marked");
    fs::remove_file(out.join(".cachesim/marker")).expect("unmark");
    fs::remove_file(out.join(".cachesim/lock")).expect("no lock either");
    let again = sweep();
    let stderr = text(&again.stderr);
    assert_eq!(again.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("0 runs computed, 2 reused"), "{stderr}");
}

/// Guards "one writer per directory": two `cachesim sweep` processes of
/// different experiments started together into one new `--out`: one
/// succeeds, the other exits 2 saying the directory is in use by the first
/// one's process id, and the results hold only the winner's experiment.
#[test]
fn two_concurrent_sweeps_into_one_directory_one_wins_and_the_other_names_the_lock() {
    let sandbox = tempfile::tempdir().expect("temp dir");
    // Runs long enough (seconds) that both processes are alive together.
    let slow = model(sandbox.path(), "slow.ron", 200, "1h");
    let other = model(sandbox.path(), "other.ron", 150, "1h");
    let a = experiment(sandbox.path(), "a.ron", "alpha", &slow, 6);
    let b = experiment(sandbox.path(), "b.ron", "beta", &other, 6);
    let out = sandbox.path().join("shared");
    let start = |exp: &Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_cachesim"))
            .arg("sweep")
            .arg(exp)
            .arg("--out")
            .arg(&out)
            .args(["--threads", "1", "-q"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("cachesim starts")
    };
    let (pa, pb) = (start(&a), start(&b));
    let ids = (pa.id(), pb.id());
    let (oa, ob) = (pa.wait_with_output().expect("a ends"), pb.wait_with_output().expect("b ends"));
    let codes = (oa.status.code(), ob.status.code());
    let (winner, loser, loser_output, winner_pid) = match codes {
        (Some(0), Some(2)) => ("alpha", "beta", &ob, ids.0),
        (Some(2), Some(0)) => ("beta", "alpha", &oa, ids.1),
        _ => panic!(
            "expected one sweep to succeed and one to exit 2, got {codes:?}\n--- a:\n{}\n--- b:\n{}",
            text(&oa.stderr),
            text(&ob.stderr)
        ),
    };
    let stderr = text(&loser_output.stderr);
    assert!(
        stderr.contains(&format!("is in use by process {winner_pid}")) && stderr.contains(".cachesim/lock"),
        "{loser}: does not name the lock and its holder {winner_pid}:\n{stderr}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.join("summary.json")).expect("summary.json")).expect("JSON");
    assert_eq!(summary["experiment"], winner, "summary.json is not the winner's");
    let runs = fs::read_to_string(out.join("runs.csv")).expect("runs.csv");
    let model = if winner == "alpha" { "slow" } else { "other" };
    assert!(runs.lines().skip(1).all(|l| l.split(',').nth(1) == Some(model)), "runs.csv mixes models:\n{runs}");
    assert_eq!(runs.lines().count(), 1 + 6, "runs.csv holds the winner's 6 runs only");
    assert_eq!(fs::read_dir(out.join(".cachesim/runs")).expect("runs").count(), 6, "stored runs of one experiment");
    assert_eq!(fs::read_to_string(out.join(".cachesim/lock")).expect("lock"), "", "the lock file is emptied on exit");
}

/// Guards "check every output path first, write the baseline last":
/// `check --update-baseline --baseline b.json --junit nodir/j.xml` and a
/// JUnit path that is a directory are refused (exit 2) before anything
/// runs, naming the path and what was expected, and the baseline stays as
/// it was; a baseline in a missing directory is refused the same way.
#[test]
fn check_refuses_unwritable_output_paths_before_replacing_the_baseline() {
    let sandbox = tempfile::tempdir().expect("temp dir");
    let exp = small(sandbox.path(), "small.ron", "small");
    let baseline = sandbox.path().join("b.json");
    fs::write(&baseline, "{\"committed\": true}").expect("write");
    let out = sandbox.path().join("out");
    let nodir = sandbox.path().join("nodir/j.xml");
    let a_dir = sandbox.path().join("adir");
    fs::create_dir(&a_dir).expect("dir");
    let b = baseline.display().to_string();
    let cases: Vec<(Vec<String>, String, &str)> = vec![
        (
            vec![
                "--baseline".into(),
                b.clone(),
                "--update-baseline".into(),
                "--junit".into(),
                nodir.display().to_string(),
            ],
            nodir.display().to_string(),
            "does not exist",
        ),
        (
            vec![
                "--baseline".into(),
                b.clone(),
                "--update-baseline".into(),
                "--junit".into(),
                a_dir.display().to_string(),
            ],
            a_dir.display().to_string(),
            "--junit expects a file, but this is a directory",
        ),
        (
            vec![
                "--baseline".into(),
                sandbox.path().join("nodir/b.json").display().to_string(),
                "--update-baseline".into(),
            ],
            sandbox.path().join("nodir/b.json").display().to_string(),
            "does not exist",
        ),
    ];
    for (args, path, why) in cases {
        let run = cachesim().arg("check").arg(&exp).arg("--out").arg(&out).args(&args).output().expect("starts");
        assert_refused(&run, &[&path, why, "hint:"], &format!("{args:?}"));
        assert_eq!(fs::read_to_string(&baseline).expect("baseline"), "{\"committed\": true}", "{args:?}");
        assert!(!out.exists(), "{args:?}: the check ran before refusing");
    }
    // With writable paths it writes both.
    let junit = sandbox.path().join("j.xml");
    let run = cachesim()
        .arg("check")
        .arg(&exp)
        .arg("--out")
        .arg(&out)
        .args(["--baseline", &b, "--update-baseline", "--junit"])
        .arg(&junit)
        .output()
        .expect("starts");
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    assert!(junit.is_file() && fs::read_to_string(&baseline).expect("baseline").contains("fingerprint"));
}

/// Guards "check first": `limit --out FILE` and `run --plot FILE` are
/// refused at once (exit 2, before any progress line), saying a directory
/// was expected, and the file is untouched.
#[test]
fn limit_and_run_refuse_a_file_as_output_directory_before_working() {
    let sandbox = tempfile::tempdir().expect("temp dir");
    let m = model(sandbox.path(), "m.ron", 5, "10s");
    let file = sandbox.path().join("limits.txt");
    fs::write(&file, "keep").expect("write");
    let f = file.display().to_string();
    for (args, flag) in [
        (vec!["limit".to_string(), m.display().to_string(), "--out".into(), f.clone()], "--out"),
        (vec!["run".to_string(), m.display().to_string(), "--plot".into(), f.clone()], "--plot"),
    ] {
        let out = cachesim().args(&args).output().expect("starts");
        let stderr = assert_refused(&out, &[&f, &format!("{flag} expects a directory, but this is a file")], &args[0]);
        assert!(stderr.starts_with("error: "), "{}: worked before refusing:\n{stderr}", args[0]);
        assert_eq!(fs::read_to_string(&file).expect("file"), "keep");
    }
}
