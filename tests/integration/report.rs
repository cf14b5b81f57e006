//! Plots and the HTML report: every figure exists with its title and axis
//! labels, the page is self-contained and parses, and a browser renders it.

use std::path::{Path, PathBuf};
use std::process::Command;

fn cachesim() -> assert_cmd::Command {
    assert_cmd::cargo::cargo_bin_cmd!("cachesim")
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The text of every `<text>` element of an SVG document.
fn svg_texts(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).expect("the SVG parses as XML");
    doc.descendants().filter(|n| n.has_tag_name("text")).filter_map(|n| n.text().map(str::to_string)).collect()
}

fn assert_figure(dir: &Path, name: &str, title_part: &str, labels: &[&str]) {
    let svg = std::fs::read_to_string(dir.join(format!("{name}.svg"))).unwrap_or_else(|e| panic!("{name}.svg: {e}"));
    let texts = svg_texts(&svg).join("\n");
    assert!(texts.contains(title_part), "{name}.svg has no title containing {title_part:?}:\n{texts}");
    for label in labels {
        assert!(texts.contains(label), "{name}.svg has no {label:?} label:\n{texts}");
    }
    let png = std::fs::read(dir.join(format!("{name}.png"))).unwrap();
    assert_eq!(&png[1..4], b"PNG", "{name}.png is not a PNG");
}

/// A small sweep (2 models × 3 rates × 2 replications) and its report.
fn swept() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let exp = dir.path().join("small.ron");
    let m = |f: &str| root().join("models/seed").join(f).display().to_string();
    std::fs::write(
        &exp,
        format!(
            r#"Experiment(name: "small", models: ["{}", "{}"], duration: "1m", replications: 2,
                grid: Cartesian([(path: "workload.rate", values: [5, 50, 100], labels: ["low", "mid", "high"])]))"#,
            m("reference.ron"),
            m("reference_locked.ron")
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let run = |args: &[&str]| {
        let o = cachesim().args(args).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    };
    let (e, o) = (exp.display().to_string(), out.display().to_string());
    run(&["sweep", &e, "--out", &o, "-q"]);
    run(&["limit", &e, "--out", &o, "-q"]);
    run(&["report", &o]);
    (dir, out)
}

/// The sweep's three figures exist as SVG and PNG with their titles and
/// axis labels (read from the SVG text).
#[test]
fn sweep_plots_have_titles_and_axis_labels() {
    let (_dir, out) = swept();
    let plots = out.join("plots");
    assert_figure(
        &plots,
        "latency_vs_load",
        "Latency percentiles against load",
        &["offered load (req/s)", "latency (s)", "reference p99"],
    );
    assert_figure(
        &plots,
        "errors_vs_load",
        "Errors by cause against load",
        &["offered load (req/s)", "share of requests failing"],
    );
    assert_figure(
        &plots,
        "verdict_matrix",
        "Verdicts: small",
        &["reference", "reference_locked", "low", "mid", "high"],
    );
}

/// A run's time-series figures exist with their titles and axis labels,
/// and series.csv has a row per second.
#[test]
fn run_plots_have_titles_and_axis_labels() {
    let dir = tempfile::tempdir().unwrap();
    let model = root().join("models/seed/reference.ron");
    let o = cachesim()
        .arg("run")
        .arg(&model)
        .args(["--set", "workload.duration=2m", "--set", "servers.count=2", "--plot"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    for (name, title, y) in [
        ("backend_calls", "backend calls per second", "fetches per second"),
        ("pool_in_use", "pool connections in use", "connections"),
        ("in_flight", "requests in flight", "requests"),
        ("outcomes", "completed and failed", "requests per second"),
        ("data_age", "age of the data each server serves", "age (s)"),
    ] {
        assert_figure(dir.path(), name, title, &["simulated time (s)", y]);
    }
    let data_age = svg_texts(&std::fs::read_to_string(dir.path().join("data_age.svg")).unwrap()).join("\n");
    assert!(data_age.contains("server 0") && data_age.contains("server 1"), "one line per server:\n{data_age}");
    let csv = std::fs::read_to_string(dir.path().join("series.csv")).unwrap();
    // 120 s of arrivals plus the drain: at least 120 one-second rows.
    assert!(csv.lines().count() > 120, "{} rows", csv.lines().count());
}

/// report.html parses, embeds every plot inline (one <svg> per figure),
/// carries the matrix and breaking points, and loads nothing from outside.
#[test]
fn the_report_is_self_contained_and_complete() {
    let (_dir, out) = swept();
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let opts = roxmltree::ParsingOptions { allow_dtd: true, ..Default::default() };
    let doc = roxmltree::Document::parse_with_options(&html, opts).expect("report.html is well-formed");
    let figures = doc.descendants().filter(|n| n.has_tag_name("figure")).count();
    let svgs = doc.descendants().filter(|n| n.has_tag_name("svg")).count();
    let plots = std::fs::read_dir(out.join("plots"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().unwrap() == "svg")
        .count();
    assert_eq!((figures, svgs), (plots, plots), "every plot inline, once");
    for needle in [
        "Verdict matrix",
        "Breaking points",
        "First failure of each architecture",
        "Service-level objective",
        "reference_locked",
    ] {
        assert!(html.contains(needle), "report.html lacks {needle:?}");
    }
    for n in doc.descendants() {
        for a in n.attributes() {
            let v = a.value();
            assert!(
                !(a.name() == "src" || (a.name() == "href" && !v.starts_with('#'))),
                "external reference {}={v}",
                a.name()
            );
        }
    }
}

/// A browser renders the report to something that is not blank: the test
/// installs Debian's Chromium (scripts/install-chromium.sh) if it is missing.
#[test]
fn chromium_renders_the_report() {
    let status = Command::new("bash").arg(root().join("scripts/install-chromium.sh")).status().expect("bash runs");
    assert!(status.success(), "scripts/install-chromium.sh failed");
    let (dir, out) = swept();
    let shot = dir.path().join("shot.png");
    let profile = dir.path().join("profile");
    let o = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1200,1800",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", out.join("report.html").display()))
        .output()
        .expect("chromium starts");
    assert!(shot.exists(), "no screenshot; chromium said:\n{}", String::from_utf8_lossy(&o.stderr));
    let img = image::open(&shot).expect("the screenshot decodes").to_rgb8();
    let mut colors = std::collections::HashSet::new();
    let mut inked = 0usize;
    for p in img.pixels() {
        colors.insert(p.0);
        if p.0.iter().any(|&c| c < 200) {
            inked += 1;
        }
    }
    let total = (img.width() * img.height()) as usize;
    // Text, tables, coloured verdict cells and plots: many colours, and a
    // real share of the page inked.
    assert!(colors.len() > 50, "only {} colours: blank?", colors.len());
    assert!(inked * 100 > total, "only {inked} of {total} pixels inked");
}
