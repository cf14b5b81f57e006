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

/// Runs cachesim, returning (exit code, stdout, stderr).
fn run_cachesim(args: &[&str]) -> (Option<i32>, String, String) {
    let o = cachesim().args(args).output().unwrap();
    (o.status.code(), String::from_utf8_lossy(&o.stdout).into(), String::from_utf8_lossy(&o.stderr).into())
}

/// An experiment over `models` (paths), one minute per run, 2 replications
/// and a short breaking-point search, with `extra` fields; written to
/// `dir/name.ron`.
fn short_experiment(dir: &Path, name: &str, models: &[PathBuf], extra: &str) -> String {
    let exp = dir.join(format!("{name}.ron"));
    let list = models.iter().map(|m| format!("{:?}", m.display().to_string())).collect::<Vec<_>>().join(", ");
    std::fs::write(
        &exp,
        format!(
            r#"Experiment(name: "{name}", models: [{list}], set: ["workload.duration=1m"], replications: 2,
                limit: (low: 5, high: 20, tolerance: 0.5, spike: 0){extra})"#
        ),
    )
    .unwrap();
    exp.display().to_string()
}

fn seed_model(file: &str) -> PathBuf {
    root().join("models/seed").join(file)
}

/// Sweeps `exp` into `out` (exit 0).
fn sweep_into(exp: &str, out: &Path) {
    let (code, _, err) = run_cachesim(&["sweep", exp, "--out", &out.display().to_string(), "-q"]);
    assert_eq!(code, Some(0), "sweep: {err}");
}

/// Parses report.html and returns each model row's text (its model name,
/// description, parts and cost), by model.
fn model_rows(html: &str) -> std::collections::BTreeMap<String, (Vec<String>, String)> {
    let opts = roxmltree::ParsingOptions { allow_dtd: true, ..Default::default() };
    let doc = roxmltree::Document::parse_with_options(html, opts).expect("report.html is well-formed");
    let table = doc
        .descendants()
        .find(|n| n.has_tag_name("table") && n.descendants().any(|t| t.has_tag_name("th") && t.text() == Some("parts")))
        .expect("a model table with a parts column");
    let text =
        |n: roxmltree::Node| n.descendants().filter(|d| d.is_text()).filter_map(|d| d.text()).collect::<String>();
    table
        .children()
        .filter(|n| n.has_tag_name("tr"))
        .filter_map(|tr| {
            let cells: Vec<roxmltree::Node> = tr.children().filter(|c| c.has_tag_name("td")).collect();
            (cells.len() == 4).then(|| {
                let parts = cells[2].descendants().filter(|d| d.has_tag_name("li")).map(text).collect();
                (text(cells[0]), (parts, text(cells[3])))
            })
        })
        .collect()
}

/// The model table of a report over redis_locked and scenario4 names the
/// shared Redis with its lock's lease, blocking timeout and polling, and
/// scenario4's PgBouncer with its pool size (and CDN, replica, client
/// limit), instead of the old "cache: none" and a bare "5 + 10" pool.
#[test]
fn model_table_names_redis_with_its_lock_and_pgbouncer_with_its_pool_size() {
    let dir = tempfile::tempdir().unwrap();
    let exp = short_experiment(dir.path(), "parts", &[seed_model("redis_locked.ron"), seed_model("scenario4.ron")], "");
    let out = dir.path().join("out");
    sweep_into(&exp, &out);
    let (code, _, err) = run_cachesim(&["report", &out.display().to_string()]);
    assert_eq!(code, Some(0), "report: {err}");
    let rows = model_rows(&std::fs::read_to_string(out.join("report.html")).unwrap());
    let lock = "lock: lease 10s, blocking timeout 5s, poll 100ms";
    for model in ["redis_locked", "scenario4"] {
        let (parts, _) = rows.get(model).unwrap_or_else(|| panic!("no row for {model}: {rows:?}"));
        let all = parts.join("\n");
        assert!(
            parts.iter().any(|l| l.starts_with("Redis (shared)") && l.contains(lock)),
            "{model}: no Redis line with its lock:\n{all}"
        );
        assert!(parts.iter().any(|l| l == "local cache: none (the shared Redis serves)"), "{model}:\n{all}");
        // No part is described as a bare "cache: none" (the Redis serves),
        // and the pool is given by name, not as a bare "5 + 10".
        assert!(!parts.iter().any(|l| l.starts_with("cache: none") || l == "none"), "{model}:\n{all}");
        assert!(!all.contains("5 + 10"), "{model}:\n{all}");
        assert!(all.contains("pool_size 5 + max_overflow 10"), "{model}:\n{all}");
        assert!(all.contains("servers: ") && all.contains("backend: log-normal"), "{model}:\n{all}");
    }
    let (s4, cost) = &rows["scenario4"];
    let s4_all = s4.join("\n");
    for needle in [
        "PgBouncer (pool_mode transaction) per node: default_pool_size 20, max_client_conn 100",
        "read replicas: 1",
        "CDN: 4 PoPs",
        "client rate limit: 10 per 1m per remote address",
        "servers: 3 × 1 worker process",
    ] {
        assert!(s4_all.contains(needle), "scenario4 lacks {needle:?}:\n{s4_all}");
    }
    assert!(!rows["redis_locked"].0.join("\n").contains("PgBouncer"), "redis_locked has no PgBouncer");
    assert!(cost.contains("$260") && cost.contains("servers unpriced"), "scenario4 cost: {cost}");
}

/// `cachesim limit --out DIR` of another experiment (another seed) over a
/// sweep makes `cachesim report DIR` exit 2 naming both fingerprints and
/// the command that writes a matching file; so do an edited fingerprint
/// and an older limits.json without one. Nothing is written.
#[test]
fn report_refuses_limits_json_of_another_experiment_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let models = [seed_model("reference.ron")];
    let exp = short_experiment(dir.path(), "mine", &models, "");
    let other = short_experiment(dir.path(), "other", &models, ", seed: 7");
    let out = dir.path().join("out");
    let o = out.display().to_string();
    sweep_into(&exp, &out);
    let (code, _, err) = run_cachesim(&["limit", &other, "--out", &o, "-q"]);
    assert_eq!(code, Some(0), "limit: {err}");
    assert!(err.contains("whose report will refuse these limits"), "limit warns: {err}");
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join(".cachesim/plan.json")).unwrap()).unwrap();
    let mine = plan["fingerprint"].as_str().unwrap().to_string();
    let limits_path = out.join("limits.json");
    let written: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&limits_path).unwrap()).unwrap();
    let theirs = written["fingerprint"].as_str().unwrap().to_string();
    assert_ne!(mine, theirs);
    let refused = |what: &str, fingerprints: &[&str]| {
        let _ = std::fs::remove_file(out.join("report.html"));
        let (code, _, err) = run_cachesim(&["report", &o]);
        assert_eq!(code, Some(2), "{what}: report exit code; stderr: {err}");
        for f in fingerprints {
            assert!(err.contains(f), "{what}: the message names fingerprint {f}: {err}");
        }
        assert!(err.contains(&format!("cachesim limit {exp} --out {o}")), "{what}: how to fix: {err}");
        assert!(!out.join("report.html").exists(), "{what}: no report written");
        err
    };
    let err = refused("another experiment", &[&mine, &theirs]);
    assert!(err.contains("another experiment") && err.contains("`other`"), "{err}");

    // The same file, its fingerprint edited.
    let mut edited = written.clone();
    edited["fingerprint"] = "0123456789abcdef".into();
    edited["experiment"] = "mine".into();
    std::fs::write(&limits_path, serde_json::to_vec(&edited).unwrap()).unwrap();
    refused("edited fingerprint", &[&mine, "0123456789abcdef"]);

    // An older limits.json: the bare array, no fingerprint.
    std::fs::write(&limits_path, serde_json::to_vec(&written["limits"]).unwrap()).unwrap();
    let err = refused("older limits.json", &[&mine]);
    assert!(err.contains("no experiment fingerprint"), "{err}");
}

/// limits.json from `cachesim limit` of the sweep's own experiment carries
/// its fingerprint and name, and the report accepts it and shows the
/// breaking points.
#[test]
fn report_accepts_and_shows_limits_json_of_its_own_experiment() {
    let dir = tempfile::tempdir().unwrap();
    let exp = short_experiment(dir.path(), "mine", &[seed_model("reference.ron")], "");
    let out = dir.path().join("out");
    let o = out.display().to_string();
    sweep_into(&exp, &out);
    let (code, _, err) = run_cachesim(&["limit", &exp, "--out", &o, "-q"]);
    assert_eq!(code, Some(0), "limit: {err}");
    assert!(!err.contains("refuse"), "no warning for the sweep's own experiment: {err}");
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join(".cachesim/plan.json")).unwrap()).unwrap();
    let limits: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("limits.json")).unwrap()).unwrap();
    assert_eq!(limits["fingerprint"], plan["fingerprint"]);
    assert_eq!(limits["experiment"], "mine");
    assert_eq!(limits["limits"][0]["model"], "reference");
    let (code, _, err) = run_cachesim(&["report", &o]);
    assert_eq!(code, Some(0), "report: {err}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let breaking = &html[html.find("<h2>Breaking points</h2>").expect("breaking points shown")..];
    assert!(breaking.contains(plan["fingerprint"].as_str().unwrap()), "names the fingerprint");
    assert!(breaking.contains("<td>reference</td>"), "a row for the model");
}

/// The verdict matrix gives $/month and $ per million requests beside each
/// verdict of a priced model (saying so when only its parts are priced),
/// "unpriced" for a model without `cost:`, and a note under the table.
#[test]
fn matrix_shows_dollars_for_priced_models_and_unpriced_for_unpriced_ones() {
    let dir = tempfile::tempdir().unwrap();
    // The reference model with a price per server.
    let text = std::fs::read_to_string(seed_model("reference.ron")).unwrap();
    let end = text.rfind(')').unwrap();
    let priced =
        format!("{}    cost: (per_server: 20),\n)\n", &text[..end]).replace("name: \"reference\"", "name: \"priced\"");
    let priced_path = dir.path().join("priced.ron");
    std::fs::write(&priced_path, priced).unwrap();
    let exp = short_experiment(
        dir.path(),
        "costs",
        &[priced_path, seed_model("redis_locked.ron"), seed_model("reference.ron")],
        r#", grid: Cartesian([(path: "workload.rate", values: [5, 50])])"#,
    );
    let out = dir.path().join("out");
    sweep_into(&exp, &out);
    let (code, _, err) = run_cachesim(&["report", &out.display().to_string()]);
    assert_eq!(code, Some(0), "report: {err}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let opts = roxmltree::ParsingOptions { allow_dtd: true, ..Default::default() };
    let doc = roxmltree::Document::parse_with_options(&html, opts).expect("report.html is well-formed");
    let heading = doc.descendants().find(|n| n.has_tag_name("h2") && n.text() == Some("Verdict matrix")).unwrap();
    let table = heading.next_siblings().find(|n| n.has_tag_name("table")).unwrap();
    let text =
        |n: roxmltree::Node| n.descendants().filter(|d| d.is_text()).filter_map(|d| d.text()).collect::<String>();
    let rows: Vec<Vec<String>> = table
        .children()
        .filter(|n| n.has_tag_name("tr"))
        .map(|tr| tr.children().filter(|c| c.has_tag_name("td") || c.has_tag_name("th")).map(text).collect())
        .collect();
    assert_eq!(rows[0][1..4], ["priced", "redis_locked", "reference"], "{rows:?}");
    assert_eq!(rows.len(), 3, "a header and two rates: {rows:?}");
    for row in &rows[1..] {
        let (priced, parts_only, unpriced) = (&row[1], &row[2], &row[3]);
        assert!(priced.contains("$20/month") && priced.contains("per million requests"), "{priced}");
        assert!(!priced.contains("unpriced"), "{priced}");
        assert!(
            parts_only.contains("$75/month")
                && parts_only.contains("per million requests")
                && parts_only.contains("(servers unpriced)"),
            "{parts_only}"
        );
        assert!(unpriced.ends_with("unpriced") && !unpriced.contains('$'), "{unpriced}");
    }
    let notes: String =
        table.next_siblings().take_while(|n| !n.has_tag_name("h2")).filter(|n| n.has_tag_name("p")).map(text).collect();
    assert!(notes.contains("Unpriced: reference (the model has no cost:)"), "{notes}");
    assert!(notes.contains("Servers unpriced: redis_locked"), "{notes}");
}
