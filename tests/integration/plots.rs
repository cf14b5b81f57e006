//! A sweep's plots, read from their SVG text: one line per model and
//! setting of the other axes (not one saw-tooth through the grid), named in
//! a legend that sits outside the plotting area; a log load axis when the
//! loads span more than a decade; the SLO bound as a dashed, labelled rule;
//! one dash per percentile; panels when the lines are too many for one
//! chart; and a verdict matrix that names its axes, values and causes.
//!
//! Each experiment runs in well under a second (at most 24 runs of a
//! minute's simulated traffic); the 2-axis one is swept once and shared.

use std::path::Path;
use std::sync::OnceLock;

/// An axis-aligned box in SVG pixels.
#[derive(Debug, Clone, Copy)]
struct Area {
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
}

impl Area {
    fn overlaps(&self, o: &Area) -> bool {
        self.x0 < o.x1 && o.x0 < self.x1 && self.y0 < o.y1 && o.y0 < self.y1
    }
    fn holds(&self, (x, y): (f64, f64)) -> bool {
        (self.x0..=self.x1).contains(&x) && (self.y0..=self.y1).contains(&y)
    }
}

/// A `<polyline>`: its points, stroke width and dash pattern.
#[derive(Debug)]
struct Polyline {
    points: Vec<(f64, f64)>,
    width: String,
    dash: Option<String>,
}

/// What the tests read of an SVG document.
struct Svg {
    /// (x, y, text) of every `<text>`, trimmed.
    texts: Vec<(f64, f64, String)>,
    polylines: Vec<Polyline>,
    /// Every mesh `<line>` (plotters draws the grid lines as such).
    grid: Vec<Area>,
    /// Every unfilled `<rect>` (the legend's frame).
    frames: Vec<Area>,
}

fn parse(svg: &str) -> Svg {
    let doc = roxmltree::Document::parse(svg).expect("the SVG parses as XML");
    let num = |n: &roxmltree::Node, a: &str| -> f64 {
        n.attribute(a).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("no number {a} on {n:?}"))
    };
    let nodes = |tag: &'static str| doc.descendants().filter(move |n| n.has_tag_name(tag));
    let texts =
        nodes("text").map(|n| (num(&n, "x"), num(&n, "y"), n.text().unwrap_or("").trim().to_string())).collect();
    let polylines = nodes("polyline")
        .map(|n| Polyline {
            points: n
                .attribute("points")
                .unwrap_or("")
                .split_whitespace()
                .map(|p| {
                    let (x, y) = p.split_once(',').expect("x,y");
                    (x.parse().unwrap(), y.parse().unwrap())
                })
                .collect(),
            width: n.attribute("stroke-width").unwrap_or("").to_string(),
            dash: n.attribute("stroke-dasharray").map(String::from),
        })
        .collect();
    let grid = nodes("line")
        .map(|n| {
            let (x1, y1, x2, y2) = (num(&n, "x1"), num(&n, "y1"), num(&n, "x2"), num(&n, "y2"));
            Area { x0: x1.min(x2), y0: y1.min(y2), x1: x1.max(x2), y1: y1.max(y2) }
        })
        .collect();
    let frames = nodes("rect")
        .filter(|n| n.attribute("fill") == Some("none"))
        .map(|n| {
            let (x, y) = (num(&n, "x"), num(&n, "y"));
            Area { x0: x, y0: y, x1: x + num(&n, "width"), y1: y + num(&n, "height") }
        })
        .collect();
    Svg { texts, polylines, grid, frames }
}

impl Svg {
    fn has_text(&self, t: &str) -> bool {
        self.texts.iter().any(|(_, _, s)| s == t)
    }

    fn all_text(&self) -> String {
        self.texts.iter().map(|t| t.2.as_str()).collect::<Vec<_>>().join("\n")
    }

    /// The plotting area of a single chart: where its grid lines run.
    fn plotting_area(&self) -> Area {
        assert!(!self.grid.is_empty(), "no grid lines");
        self.grid.iter().fold(self.grid[0], |a, b| Area {
            x0: a.x0.min(b.x0),
            y0: a.y0.min(b.y0),
            x1: a.x1.max(b.x1),
            y1: a.y1.max(b.y1),
        })
    }

    /// The legend's frame: the unfilled box holding the text `entry`.
    fn legend(&self, entry: &str) -> Area {
        let (x, y, _) = self.texts.iter().find(|t| t.2 == entry).unwrap_or_else(|| panic!("no text {entry:?}"));
        *self.frames.iter().find(|f| f.holds((*x, *y))).unwrap_or_else(|| panic!("no frame around {entry:?}"))
    }

    /// The lines of data: 2 pixels wide, `n` points, none in the legend.
    fn data_lines(&self, n: usize, legend: &Area) -> Vec<&Polyline> {
        self.polylines
            .iter()
            .filter(|p| p.width == "2" && p.points.len() == n && !p.points.iter().any(|&q| legend.holds(q)))
            .collect()
    }

    /// The x of each tick label `labels` below the plotting area.
    fn tick_x(&self, labels: &[&str]) -> Vec<f64> {
        let bottom = self.plotting_area().y1;
        labels
            .iter()
            .map(|l| {
                let tick = self.texts.iter().find(|(_, y, s)| s == l && *y > bottom);
                tick.unwrap_or_else(|| panic!("no x tick {l:?} in:\n{}", self.all_text())).0
            })
            .collect()
    }
}

fn seed_model(file: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models/seed").join(file).display().to_string()
}

/// Sweeps `experiment` (RON with `MODELS` standing for the model list)
/// with `cachesim sweep -q` and returns the SVG of each sweep plot.
fn sweep_plots(models: &[&str], experiment: &str) -> [String; 3] {
    let dir = tempfile::tempdir().expect("temp dir");
    let models: Vec<String> = models.iter().map(|m| format!("{:?}", seed_model(m))).collect();
    let exp = dir.path().join("plots.ron");
    std::fs::write(&exp, experiment.replace("MODELS", &models.join(", "))).expect("write experiment");
    let out = dir.path().join("out");
    let o = assert_cmd::cargo::cargo_bin_cmd!("cachesim")
        .arg("sweep")
        .arg(&exp)
        .arg("--out")
        .arg(&out)
        .arg("-q")
        .output()
        .expect("cachesim starts");
    assert_eq!(o.status.code(), Some(0), "sweep failed:\n{}", String::from_utf8_lossy(&o.stderr));
    ["latency_vs_load", "errors_vs_load", "verdict_matrix"].map(|name| {
        std::fs::read_to_string(out.join("plots").join(format!("{name}.svg"))).expect("the plot is written")
    })
}

/// Both reference models at 50, 100 and 200 req/s × pool sizes 5 and 10
/// (2 replications of a minute: 24 runs). From a cold cache, the unlocked
/// `reference` sends every request of its first second (50 or more) to a
/// backend whose bucket holds 10 tokens: some fail `rate_limited` in every
/// run, against an SLO that allows none; the locked one is READY. The loads
/// span 4×: a linear axis. p50 and p99 of 2 models at 2 pool sizes: 8
/// lines, which fit one chart.
fn two_axis() -> &'static [String; 3] {
    static PLOTS: OnceLock<[String; 3]> = OnceLock::new();
    PLOTS.get_or_init(|| {
        sweep_plots(
            &["reference.ron", "reference_locked.ron"],
            // Without the server process: one seed process could not serve
            // 100 or 200 req/s, and the plots are about the cache's causes.
            r#"Experiment(name: "two_axis", models: [MODELS], duration: "1m", replications: 2,
                set: ["servers.parse=Constant(\"0s\")", "backend.payload_bytes=0", "servers.memory=None", "servers.link=None"],
                grid: Cartesian([
                    (path: "workload.rate", values: [50, 100, 200]),
                    (path: "db.pool_size", values: [5, 10]),
                ]),
                slo: (p99: "5s", error_rate: None, errors: {"rate_limited": 0.0}))"#,
        )
    })
}

const LEGEND: [&str; 8] = [
    "reference p50, pool_size=5",
    "reference p99, pool_size=5",
    "reference_locked p50, pool_size=5",
    "reference_locked p99, pool_size=5",
    "reference p50, pool_size=10",
    "reference p99, pool_size=10",
    "reference_locked p50, pool_size=10",
    "reference_locked p99, pool_size=10",
];

#[test]
fn a_two_axis_grid_draws_one_line_per_model_percentile_and_pool_size_named_in_the_legend() {
    let svg = parse(&two_axis()[0]);
    for name in LEGEND {
        assert!(svg.has_text(name), "no legend entry {name:?} in:\n{}", svg.all_text());
    }
    let legend = svg.legend(LEGEND[0]);
    let lines = svg.data_lines(3, &legend);
    assert_eq!(lines.len(), LEGEND.len(), "one 3-point line per legend entry: {lines:?}");
    for line in &lines {
        assert!(line.points.windows(2).all(|w| w[0].0 < w[1].0), "a line goes back in load: {line:?}");
    }
    // Not one line through every point in plan order.
    let zigzag = svg.polylines.iter().filter(|p| p.width == "2" && p.points.len() > 3).count();
    assert_eq!(zigzag, 0, "a line runs through more points than there are loads");
}

#[test]
fn p50_lines_are_solid_and_p99_lines_dashed_in_the_chart_and_the_legend() {
    let svg = parse(&two_axis()[0]);
    let legend = svg.legend(LEGEND[0]);
    let lines = svg.data_lines(3, &legend);
    let dashed: Vec<&Option<String>> = lines.iter().map(|l| &l.dash).filter(|d| d.is_some()).collect();
    assert_eq!((dashed.len(), lines.len()), (4, 8), "the four p99 lines are dashed: {lines:?}");
    // Each legend sample is dashed as its entry's percentile is.
    for name in LEGEND {
        let (x, y, _) = svg.texts.iter().find(|t| t.2 == name).unwrap();
        let sample = svg
            .polylines
            .iter()
            .find(|p| {
                p.points.len() == 2 && p.points.iter().all(|&q| legend.holds(q) && (q.1 - y).abs() <= 2.0 && q.0 < *x)
            })
            .unwrap_or_else(|| panic!("no legend sample beside {name:?}"));
        assert_eq!(sample.dash.is_some(), name.contains("p99"), "{name}: {sample:?}");
    }
}

#[test]
fn the_slo_p99_bound_is_a_labelled_dashed_rule_across_the_latency_chart() {
    let svg = parse(&two_axis()[0]);
    let label = "SLO p99 ≤ 5 s";
    let labels = svg.texts.iter().filter(|t| t.2 == label).count();
    assert_eq!(labels, 2, "labelled on the rule and named in the legend:\n{}", svg.all_text());
    let area = svg.plotting_area();
    let rule = svg
        .polylines
        .iter()
        .find(|p| {
            let [a, b] = p.points[..] else { return false };
            p.width == "2" && a.1 == b.1 && (a.0 - area.x0).abs() <= 2.0 && (b.0 - area.x1).abs() <= 2.0
        })
        .expect("a line 2 pixels wide, level, across the plotting area");
    assert!(rule.dash.is_some(), "the rule is dashed: {rule:?}");
    // At 5 s on the y axis: level with the tick labelled 5.0.
    let five = svg.texts.iter().find(|t| t.2 == "5.0" && t.0 < area.x0).expect("a y tick 5.0");
    assert!((five.1 - rule.points[0].1).abs() <= 2.0, "rule at y {} but 5.0 at {}", rule.points[0].1, five.1);
    let errors = parse(&two_axis()[1]);
    assert!(errors.has_text("SLO rate_limited ≤ 0%"), "the error chart's rule:\n{}", errors.all_text());
}

#[test]
fn the_legend_box_lies_outside_the_plotting_area() {
    let svg = parse(&two_axis()[0]);
    let (legend, area) = (svg.legend(LEGEND[0]), svg.plotting_area());
    assert!(!legend.overlaps(&area), "legend {legend:?} overlaps the plotting area {area:?}");
    for name in LEGEND {
        assert!(legend.holds(svg.texts.iter().find(|t| t.2 == name).map(|t| (t.0, t.1)).unwrap()), "{name}");
    }
}

#[test]
fn the_verdict_heatmap_names_its_axes_their_values_and_each_cells_cause() {
    let svg = parse(&two_axis()[2]);
    let text = svg.all_text();
    for needle in [
        "workload.rate",
        "model × db.pool_size",
        "rate=50",
        "rate=100",
        "rate=200",
        "pool_size=5",
        "pool_size=10",
        "reference",
        "reference_locked",
    ] {
        assert!(svg.has_text(needle), "the heatmap has no text {needle:?}:\n{text}");
    }
    // Rows are the rates, columns model × pool size: 3 × 4 cells.
    let count = |t: &str| svg.texts.iter().filter(|s| s.2 == t).count();
    assert_eq!(count("rate_limited"), 6, "each unlocked cell names its cause:\n{text}");
    assert_eq!(count("READY"), 6, "each locked cell is READY:\n{text}");
}

#[test]
fn a_load_axis_spanning_more_than_ten_times_is_logarithmic() {
    let [latency, ..] = sweep_plots(
        &["reference_locked.ron"],
        r#"Experiment(name: "wide", models: [MODELS], duration: "20s", replications: 1,
            grid: Cartesian([(path: "workload.rate", values: [1, 10, 100])]))"#,
    );
    let svg = parse(&latency);
    assert!(svg.has_text("offered load (req/s), log scale"), "{}", svg.all_text());
    let x = svg.tick_x(&["1", "2", "10", "20", "100"]);
    // Equal ratios lie equally far apart: 1→10 as 10→100, 1→2 as 10→20.
    assert!(((x[2] - x[0]) - (x[4] - x[2])).abs() <= 2.0, "ticks 1, 10, 100 at {x:?}");
    assert!(((x[1] - x[0]) - (x[3] - x[2])).abs() <= 2.0, "ticks 1, 2, 10, 20 at {x:?}");
    // The 4× grid keeps a linear axis.
    let narrow = parse(&two_axis()[0]);
    assert!(narrow.has_text("offered load (req/s)"), "{}", narrow.all_text());
}

#[test]
fn more_than_eight_lines_become_one_panel_per_pool_size_with_the_legend_below() {
    let [latency, ..] = sweep_plots(
        &["reference_locked.ron"],
        r#"Experiment(name: "panels", models: [MODELS], duration: "20s", replications: 1,
            grid: Cartesian([
                (path: "workload.rate", values: [10, 40]),
                (path: "db.pool_size", values: [2, 3, 5, 8, 10]),
            ]))"#,
    );
    let svg = parse(&latency);
    for caption in ["pool_size=2", "pool_size=3", "pool_size=5", "pool_size=8", "pool_size=10"] {
        assert!(svg.has_text(caption), "no panel {caption:?}:\n{}", svg.all_text());
    }
    // The panel says the pool size; the legend names what differs within one.
    let legend = svg.legend("reference_locked p99");
    assert!(svg.has_text("reference_locked p50"));
    assert!(!svg.all_text().contains("p99, pool_size"), "{}", svg.all_text());
    let lowest = svg.grid.iter().map(|g| g.y1).fold(0.0, f64::max);
    assert!(legend.y0 > lowest, "the legend {legend:?} is below every panel (to y {lowest})");
    let two_point = svg.data_lines(2, &legend).len();
    assert_eq!(two_point, 10 + 5, "p50 and p99 at 5 pool sizes, and the SLO's rule in each panel");
}
