//! `cachesim fit`: maximum-likelihood fits recover the parameters of
//! generated samples, the KS p-value tells the right family from a wrong
//! one, the printed RON runs in a model, and bad input is exit 2 with its
//! line.

use std::path::Path;

use cachesim::config::{Latency, lognormal_params, parse_ron};
use cachesim::engine::stream;
use rand::RngExt;
use rand_distr::{Exp1, StandardNormal};
use serde_json::Value;

use crate::support::{assert_rejected, seed_offset};

fn cachesim() -> assert_cmd::Command {
    assert_cmd::cargo::cargo_bin_cmd!("cachesim")
}

/// `n` draws of a log-normal with ln X ~ Normal(`mu`, `sigma`²), in seconds.
fn lognormal_samples(n: usize, mu: f64, sigma: f64, seed: u64) -> Vec<f64> {
    let mut rng = stream(seed + seed_offset(), 0, "fit-test");
    (0..n).map(|_| (mu + sigma * rng.sample::<f64, _>(StandardNormal)).exp()).collect()
}

/// Writes samples as a CSV with a header and a second column, every tenth
/// value in milliseconds with its unit (the rest plain seconds).
fn write_csv(dir: &Path, values: &[f64]) -> std::path::PathBuf {
    let mut text = String::from("request,latency\n");
    for (i, v) in values.iter().enumerate() {
        if i % 10 == 0 {
            text += &format!("{i},{:.6}ms\n", v * 1e3);
        } else {
            text += &format!("{i},{v:.9}\n");
        }
    }
    let path = dir.join("samples.csv");
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `cachesim fit ARGS`, asserts success, returns stdout.
fn fit_cli(args: &[&str]) -> String {
    let out = cachesim().arg("fit").args(args).output().expect("cachesim starts");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "cachesim fit {args:?} failed:\n{stderr}");
    String::from_utf8(out.stdout).unwrap()
}

/// The printed line that starts with `family(`.
fn ron_line<'a>(stdout: &'a str, family: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.starts_with(&format!("{family}(")))
        .unwrap_or_else(|| panic!("no {family} line in:\n{stdout}"))
}

/// The p-value printed in `family`'s comment: `p = 0.43` or `p < 0.001`
/// (taken as 0).
fn printed_p(stdout: &str, family: &str) -> f64 {
    let line = stdout.lines().find(|l| l.starts_with(&format!("// {family}:"))).expect("a comment line");
    if line.contains("p < 0.001") {
        return 0.0;
    }
    let at = line.rfind("p = ").unwrap_or_else(|| panic!("no p in {line}"));
    line[at + 4..].trim().parse().unwrap_or_else(|_| panic!("no p in {line}"))
}

/// The maximum-likelihood estimates of a log-normal's (μ, σ) are
/// asymptotically normal with standard errors σ/√n and σ/√(2n) (the
/// inverse Fisher information). With n = 2000 and σ = 0.5 these are
/// 0.0112 and 0.0079; each estimate must lie within 4 of them (a normal
/// deviate beyond 4 has probability 6.3·10⁻⁵, so both hold with
/// probability > 0.9998). Printing rounds the median and p99 to 5
/// significant digits (≤ 5·10⁻⁵ relative, so ≤ 5·10⁻⁵ on μ and ≤ 4·10⁻⁵ on
/// σ), far inside that.
#[test]
fn lognormal_mle_recovers_the_parameters_within_their_standard_errors() {
    let (n, mu, sigma) = (2000usize, 0.2f64.ln(), 0.5f64);
    let values = lognormal_samples(n, mu, sigma, 11);
    let dir = tempfile::tempdir().unwrap();
    let csv = write_csv(dir.path(), &values);
    let stdout = fit_cli(&[csv.to_str().unwrap(), "--column", "latency"]);
    eprintln!("{stdout}");
    let fitted: Latency = parse_ron(ron_line(&stdout, "LogNormal"), "stdout").expect("the LogNormal line parses");
    let Latency::LogNormal { median, p99 } = fitted else { panic!("{fitted:?}") };
    let (mu_hat, sigma_hat) = lognormal_params(median, p99);
    let (se_mu, se_sigma) = (sigma / (n as f64).sqrt(), sigma / (2.0 * n as f64).sqrt());
    eprintln!("mu {mu_hat:.5} vs {mu:.5} (se {se_mu:.4}); sigma {sigma_hat:.5} vs {sigma} (se {se_sigma:.4})");
    assert!((mu_hat - mu).abs() <= 4.0 * se_mu, "mu {mu_hat} vs {mu} ± 4·{se_mu}");
    assert!((sigma_hat - sigma).abs() <= 4.0 * se_sigma, "sigma {sigma_hat} vs {sigma} ± 4·{se_sigma}");
    // The exponential's MLE is the sample mean, to 5 digits.
    let mean = values.iter().sum::<f64>() / n as f64;
    let Latency::Exponential { mean: m } = parse_ron(ron_line(&stdout, "Exponential"), "stdout").unwrap() else {
        panic!()
    };
    assert!((m.as_secs_f64() - mean).abs() <= 1e-4 * mean, "{m} vs {mean}");
}

/// Under the right family the KS p-value is uniform for known parameters
/// and larger for fitted ones (Lilliefors), so p < 0.01 has probability
/// below 1%. A wrong family at these sample sizes sits at a distance D of
/// about 0.3 (an exponential for log-normal samples with σ = 0.5) or 0.06
/// (a log-normal for exponential ones), i.e. λ = √n·D ≈ 13 and 4.2: p is
/// below 10⁻¹⁵ — "tiny" is taken as < 10⁻⁶ (and printed as < 0.001).
#[test]
fn the_ks_p_value_tells_the_right_family_from_a_wrong_one() {
    // Log-normal samples: LogNormal fits, Exponential does not.
    let ln = cachesim::fit::fit(&lognormal_samples(2000, 0.2f64.ln(), 0.5, 12), 100);
    let p = |r: &cachesim::fit::FitReport, family: &str| {
        let f = r.fits.iter().find(|f| f.family == family).unwrap();
        f.goodness.as_ref().unwrap().clone()
    };
    eprintln!("log-normal samples: LogNormal {:?}, Exponential {:?}", p(&ln, "LogNormal"), p(&ln, "Exponential"));
    assert!(p(&ln, "LogNormal").p >= 0.01, "{:?}", p(&ln, "LogNormal"));
    assert!(p(&ln, "Exponential").p < 1e-6, "{:?}", p(&ln, "Exponential"));
    assert!(ln.hint.starts_with("LogNormal fits (KS p = "), "{}", ln.hint);
    assert!(ln.hint.contains("Exponential does not (p < 0.001)"), "{}", ln.hint);
    // Exponential samples (mean 50 ms): the other way round.
    let mut rng = stream(13 + seed_offset(), 0, "fit-test");
    let exp: Vec<f64> = (0..5000).map(|_| 0.05 * rng.sample::<f64, _>(Exp1)).collect();
    let ex = cachesim::fit::fit(&exp, 100);
    eprintln!("exponential samples: LogNormal {:?}, Exponential {:?}", p(&ex, "LogNormal"), p(&ex, "Exponential"));
    assert!(p(&ex, "Exponential").p >= 0.01, "{:?}", p(&ex, "Exponential"));
    assert!(p(&ex, "LogNormal").p < 1e-6, "{:?}", p(&ex, "LogNormal"));
    assert!(ex.hint.starts_with("Exponential fits"), "{}", ex.hint);
    // The Empirical table is 100 of the samples' quantiles: within 1/200
    // of their step function by construction (plus 1/n for each sample
    // tied with a quantile at the nanosecond: allow two).
    assert!(p(&ex, "Empirical").d <= 0.005 + 2.0 / 5000.0 + 1e-9, "{:?}", p(&ex, "Empirical"));
    // The command prints the same verdict.
    let dir = tempfile::tempdir().unwrap();
    let csv = write_csv(dir.path(), &exp);
    let stdout = fit_cli(&[csv.to_str().unwrap(), "--column", "latency"]);
    assert!(printed_p(&stdout, "Exponential") >= 0.01, "{stdout}");
    assert_eq!(printed_p(&stdout, "LogNormal"), 0.0, "{stdout}");
    assert!(stdout.contains("// Exponential fits (KS p = "), "{stdout}");
}

/// Every printed distribution is a model's latency: set as the backend's
/// (`--set`) or written in a model file, it runs; and with no cache, where
/// every request's latency is one backend fetch, the run's mean latency
/// is the fitted distribution's mean. The coefficient of variation of
/// each is at most 1 (the exponential's; the log-normal's with σ = 0.5 is
/// √(e^{σ²} − 1) = 0.53, the table's about the samples'), so the mean of
/// N ≈ 6000 fetches has a standard error of at most 1/√N = 1.3% of it;
/// the band is 5 standard errors (6.5%).
#[test]
fn printed_distributions_run_in_a_model() {
    let values = lognormal_samples(500, 0.1f64.ln(), 0.5, 14);
    let dir = tempfile::tempdir().unwrap();
    let csv = write_csv(dir.path(), &values);
    let stdout = fit_cli(&[csv.to_str().unwrap(), "--column", "latency", "--quantiles", "50"]);
    let base = "Model(workload: (rate: 100, duration: \"60s\"), backend: (latency: Constant(\"1s\")))";
    let model = dir.path().join("base.ron");
    std::fs::write(&model, base).unwrap();
    for family in ["LogNormal", "Exponential", "Empirical"] {
        let line = ron_line(&stdout, family);
        let latency: Latency = parse_ron(line, "stdout").unwrap_or_else(|e| panic!("{line}:\n{e}"));
        if let Latency::Empirical { samples } = &latency {
            assert_eq!(samples.len(), 50);
        }
        // Through --set, and through a model file.
        let set = format!("backend.latency={line}");
        let by_set = cachesim().arg("run").arg(&model).args(["--json", "--set", &set]).output().unwrap();
        assert_eq!(by_set.status.code(), Some(0), "{family}: {}", String::from_utf8_lossy(&by_set.stderr));
        let file = dir.path().join(format!("{family}.ron"));
        std::fs::write(&file, base.replace("Constant(\"1s\")", line)).unwrap();
        let by_file = cachesim().arg("run").arg(&file).arg("--json").output().unwrap();
        assert_eq!(by_file.status.code(), Some(0), "{family}: {}", String::from_utf8_lossy(&by_file.stderr));
        let a: Value = serde_json::from_slice(&by_set.stdout).unwrap();
        let b: Value = serde_json::from_slice(&by_file.stdout).unwrap();
        assert_eq!(a["latency_s"], b["latency_s"], "{family}: --set and the file run the same model");
        let (mean, expected) = (a["latency_s"]["mean"].as_f64().unwrap(), latency.mean_secs());
        let requests = a["requests"]["ok"].as_u64().unwrap();
        eprintln!("{family}: mean latency {mean:.5}s vs {expected:.5}s over {requests} requests");
        let band = 5.0 / (requests as f64).sqrt() * expected;
        assert!((mean - expected).abs() <= band, "{family}: {mean} vs {expected} ± {band}");
    }
}

/// A bad value is bad input: exit 2, nothing on stdout, the file and the
/// line (and column) of the value on stderr.
#[test]
fn a_bad_line_is_exit_2_with_its_line_number() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.csv");
    std::fs::write(&path, "id,latency\n1,0.25\n2,300ms\n3,12 parsecs\n4,0.5\n").unwrap();
    let shown = path.display().to_string();
    let out = cachesim().arg("fit").arg(&path).args(["--column", "latency"]).output().unwrap();
    let stderr = assert_rejected(&out, &format!("{shown}:4:3:"));
    assert!(stderr.contains("unknown unit \"parsecs\""), "{stderr}");
    // Without a header, one value a line: the line number is the file's.
    std::fs::write(&path, "0.1\n0.2\n# a comment\n\n-0.3\n").unwrap();
    let stderr = assert_rejected(&cachesim().arg("fit").arg(&path).output().unwrap(), &format!("{shown}:5:1:"));
    assert!(stderr.contains("negative"), "{stderr}");
    // A column that is not there, too few values, a device.
    std::fs::write(&path, "id,latency\n1,0.25\n2,0.5\n").unwrap();
    let stderr = assert_rejected(
        &cachesim().arg("fit").arg(&path).args(["--column", "latency_ms"]).output().unwrap(),
        "no column named `latency_ms`",
    );
    assert!(stderr.contains("did you mean `latency`?"), "{stderr}");
    std::fs::write(&path, "0.25\n").unwrap();
    assert_rejected(&cachesim().arg("fit").arg(&path).output().unwrap(), "a fit needs at least 2");
    assert_rejected(&cachesim().args(["fit", "/dev/zero"]).output().unwrap(), "not a regular file");
}
