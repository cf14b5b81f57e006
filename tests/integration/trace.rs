//! `workload.arrivals: Trace(file: ..)`: replayed instants behave as the
//! process that made them, a speed-up divides the gaps, and a bad trace
//! line is exit 2 with its line number.

use std::path::{Path, PathBuf};

use cachesim::engine::stream;
use cachesim::metrics::RunReport;
use cachesim::sim::{RunOptions, simulate};
use rand::RngExt;
use rand_distr::Exp1;
use serde_json::Value;

use crate::support::{assert_rejected, mean_ci, model, replicate, run_cli, seed_offset};

/// Epoch seconds (in nanoseconds) at which the generated traces start, so
/// that replaying them relative to their first instant is exercised.
const EPOCH_NS: u64 = 1_700_000_000_000_000_000;

/// An instant as a trace line: decimal epoch seconds, exact to the ns.
fn line(ns: u64) -> String {
    format!("{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000)
}

/// Writes a Poisson process of `rate` per second covering `secs` seconds
/// from its first arrival (drawn from its own stream, not the simulator's)
/// as an access-log-like trace; returns the file and how many of its
/// instants lie within `secs` of the first.
fn poisson_trace(dir: &Path, rate: f64, secs: f64, replication: u64) -> (PathBuf, usize) {
    let mut rng = stream(900 + seed_offset(), replication, "test.trace");
    let (mut t, mut text, mut first, mut within) = (EPOCH_NS, String::new(), None, 0);
    loop {
        t += (rng.sample::<f64, _>(Exp1) / rate * 1e9).round() as u64;
        let from_first = t - *first.get_or_insert(t);
        if from_first as f64 > (secs + 10.0) * 1e9 {
            break;
        }
        within += usize::from(from_first as f64 <= secs * 1e9);
        text += &format!("{} GET /data 200\n", line(t));
    }
    let path = dir.join(format!("poisson-{replication}.log"));
    std::fs::write(&path, text).unwrap();
    (path, within)
}

/// A metric of a run, by its JSON name.
type Metric = fn(&RunReport) -> f64;

const BODY: &str = r#"cache: (ttl: "2s", refresh: None),
    backend: (latency: LogNormal(median: "300ms", p99: "1s")),"#;

/// Replaying Poisson traces gives what the Poisson model gives. The cache
/// (2 s TTL, no lock) makes the metrics depend on the arrival process:
/// each expiry lets every request arriving during the fetch fetch too.
///
/// Replication r of the Poisson model (seed s) is compared with a run of
/// trace r (an independent Poisson process of the same rate, seed s + 1),
/// over R = 30 replications each: two independent samples of R values.
/// The difference of their means has standard error √(se₁² + se₂²), so the
/// test asserts |m₁ − m₂| ≤ √(h₁² + h₂²) with hᵢ = t_{R−1}·seᵢ each sample's
/// half-width: that is t_{R−1}·√(se₁² + se₂²), at least Welch's interval
/// (whose degrees of freedom are at least R − 1), so the level is at least
/// the one asked. Three metrics at 1 − 0.01/3 each: all three hold with
/// probability ≥ 99% (Bonferroni). The arrivals only differ by the trace's
/// first instant, which is at time zero where the process's is not: one
/// request in 6000, far below the intervals (≈ 3% of a mean).
#[test]
fn a_replayed_poisson_trace_reproduces_the_poisson_model() {
    let (rate, secs, reps) = (20.0, 300.0, 30u64);
    let poisson = model(&format!(r#"Model(workload: (arrivals: Poisson, rate: {rate}, duration: "{secs}s"), {BODY})"#));
    let dir = tempfile::tempdir().unwrap();
    let from_model = replicate(&poisson, 1, reps);
    let from_trace: Vec<RunReport> = (0..reps)
        .map(|r| {
            let (path, within) = poisson_trace(dir.path(), rate, secs, r);
            let spec = model(&format!(
                r#"Model(workload: (arrivals: Trace(file: "{}"), rate: 1, duration: "{secs}s"), {BODY})"#,
                path.display()
            ));
            let report = simulate(&spec, 2 + seed_offset(), r, RunOptions::default());
            // Every instant within the duration arrives, and no other.
            assert_eq!(report.requests.arrived, within as u64, "trace {r}");
            report
        })
        .collect();
    let metrics: [(&str, Metric); 3] = [
        ("cache.hit_ratio", |r| r.cache.hit_ratio),
        ("backend.calls", |r| r.backend.calls as f64),
        ("latency_s.mean", |r| r.latency_s.mean.unwrap()),
    ];
    let confidence = 1.0 - 0.01 / metrics.len() as f64;
    for (name, metric) in metrics {
        let a: Vec<f64> = from_model.iter().map(metric).collect();
        let b: Vec<f64> = from_trace.iter().map(metric).collect();
        let ((ma, ha), (mb, hb)) = (mean_ci(&a, confidence), mean_ci(&b, confidence));
        let allowed = (ha * ha + hb * hb).sqrt();
        eprintln!("{name}: Poisson model {ma:.5} ± {ha:.5}, replayed traces {mb:.5} ± {hb:.5}");
        assert!(
            (ma - mb).abs() <= allowed,
            "{name}: the Poisson model's {ma} ± {ha} and the replayed traces' {mb} ± {hb} differ by more than {allowed}"
        );
    }
}

/// A trace of 2000 instants 0.1 s apart (199.9 s in all) in a model file
/// that names it relative to its own directory: in 99.95 s the first 1000
/// arrive, and played twice as fast all 2000, whether the speed-up is in
/// the file or set on the command line. The same model gives the same
/// bytes twice, and another speed another model fingerprint.
#[test]
fn a_trace_at_rate_two_doubles_the_request_count() {
    let dir = tempfile::tempdir().unwrap();
    let text: String = (0..2000u64).map(|k| format!("{}\n", line(EPOCH_NS + k * 100_000_000))).collect();
    std::fs::write(dir.path().join("arrivals.txt"), text).unwrap();
    let write = |name: &str, arrivals: &str| {
        let path = dir.path().join(name);
        std::fs::write(
            &path,
            format!(r#"Model(workload: (arrivals: {arrivals}, rate: 1, duration: "99.95s"), {BODY})"#),
        )
        .unwrap();
        path
    };
    let at_one = write("one.ron", r#"Trace(file: "arrivals.txt")"#);
    let at_two = write("two.ron", r#"Trace(file: "arrivals.txt", rate: 2)"#);
    let json = |path: &Path, args: &[&str]| -> (Value, Vec<u8>) {
        // From another directory, so that only the model's directory can
        // resolve the trace's name.
        let out = run_cli(path, args);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        (serde_json::from_slice(&out.stdout).unwrap(), out.stdout)
    };
    let (one, one_bytes) = json(&at_one, &[]);
    let (two, _) = json(&at_two, &[]);
    let (set_two, _) = json(&at_one, &["--set", "workload.arrivals.rate=2"]);
    let arrived = |v: &Value| v["requests"]["arrived"].as_u64().unwrap();
    assert_eq!((arrived(&one), arrived(&two), arrived(&set_two)), (1000, 2000, 2000));
    assert_eq!(two["fingerprint"]["model"], set_two["fingerprint"]["model"]);
    assert_ne!(one["fingerprint"]["model"], two["fingerprint"]["model"]);
    assert_eq!(json(&at_one, &[]).1, one_bytes, "the same trace model gives the same bytes");
}

/// A bad instant, instants out of order and a missing trace file are bad
/// input: exit 2, naming the trace file and line (or the model's line).
#[test]
fn a_bad_trace_line_is_exit_2_with_its_line_number() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("arrivals.txt");
    let model_path = dir.path().join("m.ron");
    std::fs::write(
        &model_path,
        format!("Model(\n    workload: (arrivals: Trace(file: \"arrivals.txt\"), rate: 1, duration: \"60s\"),\n    {BODY}\n)\n"),
    )
    .unwrap();
    let shown = trace.display().to_string();
    std::fs::write(&trace, "# instants\n0.5\n1.0 GET /\n1.5s\n[10/Oct/2000:13:55:36 -0700]\n3\n").unwrap();
    let stderr = assert_rejected(&run_cli(&model_path, &[]), &format!("{shown}:5:1:"));
    assert!(stderr.contains("not an arrival instant"), "{stderr}");
    std::fs::write(&trace, "1\n2\n3\n2.5\n").unwrap();
    let stderr = assert_rejected(&run_cli(&model_path, &[]), &format!("{shown}:4:1:"));
    assert!(stderr.contains("must not decrease"), "{stderr}");
    std::fs::remove_file(&trace).unwrap();
    let stderr = assert_rejected(&run_cli(&model_path, &[]), &format!("{}:2:", model_path.display()));
    assert!(stderr.contains("cannot read the trace file"), "{stderr}");
    // Phases and a speed-up of zero are refused by the checks.
    std::fs::write(&trace, "0\n1\n").unwrap();
    assert_rejected(&run_cli(&model_path, &["--set", "workload.arrivals.rate=0"]), "workload.arrivals.rate");
    assert_rejected(
        &run_cli(&model_path, &["--set", r#"workload.phases=[Step(at: "10s", rate: 5)]"#]),
        "phases do not apply to a trace",
    );
}
