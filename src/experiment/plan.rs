//! From an experiment file to the list of runs: load every model, apply the
//! shared overrides, expand the grid into points, and check it all before
//! anything runs.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::spec::{Axis, ExperimentSpec, Grid};
use crate::config::{
    ConfigError, ModelSpec, apply_overrides, load_model, locate, locate_nth_after, parse_ron, read_text,
};
use crate::engine::rng::fnv1a;

/// The most runs (points × replications) one experiment may ask for.
pub const MAX_RUNS: usize = 1_000_000;

/// The most points (models × grid values) one experiment may have.
pub const MAX_POINTS: usize = 10_000;

/// One grid point: a model with one combination of parameter values.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Point {
    /// Position in the plan (model-major, then grid order).
    pub index: usize,
    /// The model's name.
    pub model: String,
    /// (path, value) for each axis, in axis order.
    pub params: Vec<(String, String)>,
    /// A label per axis: the axis' label for this value, or the value.
    pub labels: Vec<String>,
    /// The fully resolved model this point runs.
    pub spec: ModelSpec,
}

/// One run: replication `rep` of point `point`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RunId {
    pub point: usize,
    pub rep: u32,
}

/// A loaded, checked experiment, ready to run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    pub spec: ExperimentSpec,
    /// The experiment file, for messages.
    pub origin: String,
    /// Axis paths, in order.
    pub axes: Vec<String>,
    pub points: Vec<Point>,
    /// A hash of everything that determines the results: resolved models,
    /// points, seed and replications. Stored with results, so that a resumed
    /// or merged sweep never mixes results of different experiments.
    pub fingerprint: String,
    /// The build that planned it ([`crate::BUILD_ID`]), part of the
    /// fingerprint: runs of another build are never reused.
    #[serde(default)]
    pub build: String,
}

impl Plan {
    /// The first point of each model, in model order.
    pub fn model_points(&self) -> Vec<&Point> {
        let mut out: Vec<&Point> = Vec::new();
        for p in &self.points {
            if !out.iter().any(|q| q.model == p.model) {
                out.push(p);
            }
        }
        out
    }

    /// Every run, point-major: the order of `runs.csv`.
    pub fn runs(&self) -> Vec<RunId> {
        let reps = self.spec.replications;
        self.points.iter().flat_map(|p| (0..reps).map(move |rep| RunId { point: p.index, rep })).collect()
    }
}

/// Loads the experiment at `path`, applying `sets` (from `--set`) to every
/// model after the file's own `set`.
pub fn load_experiment(path: &Path, sets: &[String]) -> Result<Plan, ConfigError> {
    let origin = path.display().to_string();
    let source = read_text(path, "experiment")?;
    if source.trim().is_empty() {
        return Err(ConfigError::new(&origin, "the experiment file is empty")
            .with_hint(Some("see experiments/seed_matrix.ron for a complete example".into())));
    }
    let mut spec: ExperimentSpec = parse_ron(&source, &origin)?;
    if spec.name.is_empty() {
        spec.name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("experiment").to_string();
    }
    let at = |field: &str, message: String| match locate(&source, field) {
        Some((line, col)) => ConfigError::at(&origin, &source, line, col, message),
        None => ConfigError::new(&origin, message),
    };
    // Errors about a value written as a string (a model path, an axis path)
    // point at that string.
    let at_string = |text: &str, field: &str, message: String| match string_position(&source, text) {
        Some((line, col)) => ConfigError::at(&origin, &source, line, col, message),
        None => at(field, message),
    };
    check(&spec).map_err(|(field, message)| at(&field, message))?;
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut models = Vec::new();
    for file in &spec.models {
        let model_path: PathBuf = base_dir.join(file);
        if !model_path.is_file() {
            return Err(at_string(file, "models", format!("no model file at {}", model_path.display()))
                .with_hint(Some("model paths are relative to the experiment file's directory".into())));
        }
        let model = load_model(&model_path)?;
        let mut shared = spec.set.clone();
        shared.extend(spec.duration.map(|d| format!("workload.duration={d}")));
        shared.extend(spec.warmup.map(|d| format!("workload.warmup={d}")));
        let model = apply_overrides(model, &shared).map_err(|e| {
            // The experiment's `duration` and `warmup` are overrides too: an
            // error they cause points at them.
            let field = if e.origin.starts_with("--set workload.duration=") {
                "duration"
            } else if e.origin.starts_with("--set workload.warmup=") {
                "warmup"
            } else {
                "set"
            };
            let message = e.message.trim_start_matches("after the overrides, ");
            match field {
                "set" => at(field, format!("in `set`, for {file}: {message}")),
                _ => at(field, format!("`{field}`, for {file}: {message}")),
            }
        })?;
        let model = apply_overrides(model, sets)?;
        if models.iter().any(|m: &ModelSpec| m.name == model.name) {
            return Err(at("models", format!("two models are named `{}`; names label the results", model.name)));
        }
        models.push(model);
    }
    // Counted from the axis lengths, before anything is expanded: a grid
    // too large to run is refused without the memory its expansion takes.
    let runs = grid_size(&spec.grid)
        .and_then(|g| g.checked_mul(models.len()))
        .and_then(|n| n.checked_mul(spec.replications as usize));
    match runs {
        Some(total) if total <= MAX_RUNS => {}
        Some(total) => {
            return Err(at("grid", format!("the experiment asks for {total} runs; the limit is {MAX_RUNS}")));
        }
        None => {
            return Err(at(
                "grid",
                format!("the experiment asks for more runs than can be counted; the limit is {MAX_RUNS}"),
            ));
        }
    }
    // Each point is a resolved model in plan.json and a summary in
    // summary.json (about 17 kB): bounded so that both stay small files.
    let points = grid_size(&spec.grid).and_then(|g| g.checked_mul(models.len()));
    if points.is_none_or(|n| n > MAX_POINTS) {
        let n = points.map_or("more than can be counted".to_string(), |n| n.to_string());
        return Err(at(
            "grid",
            format!(
                "the experiment has {n} points (models × grid values); the limit is {MAX_POINTS}, \
                 which keeps plan.json and summary.json to a few hundred MB at most"
            ),
        )
        .with_hint(Some("sweep fewer values per axis, or split the grid into several experiments".into())));
    }
    let (axes, combos) = expand(&spec.grid);
    let mut points = Vec::new();
    for model in &models {
        for combo in &combos {
            let sets: Vec<String> = combo.iter().map(|(p, v, _)| format!("{p}={v}")).collect();
            let resolved = apply_overrides(model.clone(), &sets).map_err(|e| {
                // Point at the axis whose value was refused, if the error names it.
                let axis = combo.iter().find(|c| e.origin.contains(&format!("{}={}", c.0, c.1))).or(combo.first());
                let message = format!("grid point {}: {}", sets.join(", "), e.message);
                at_string(axis.map_or("", |c| c.0.as_str()), "grid", message).with_hint(e.hint.clone())
            })?;
            points.push(Point {
                index: points.len(),
                model: model.name.clone(),
                params: combo.iter().map(|(p, v, _)| (p.clone(), v.clone())).collect(),
                labels: combo.iter().map(|(_, _, l)| l.clone()).collect(),
                spec: resolved,
            });
        }
    }
    let fingerprint = fingerprint(&spec, &points);
    let plan = Plan {
        spec,
        origin: origin.clone(),
        axes: axes.iter().map(|a| a.path.clone()).collect(),
        points,
        fingerprint,
        build: crate::BUILD_ID.into(),
    };
    check_names(&plan, &source, &origin)?;
    for (i, e) in plan.spec.expect.iter().enumerate() {
        e.point(&plan).map_err(|message| match locate_nth_after(&source, "expect", "model", i) {
            // Point at this expectation's model string, whatever else names it.
            Some((line, col)) => {
                let text = source.lines().nth(line - 1).unwrap_or("");
                let quote = text.chars().skip(col - 1).position(|c| c == '"').map_or(col, |p| col + p);
                ConfigError::at(&origin, &source, line, quote, message)
            }
            None => at("expect", message),
        })?;
    }
    Ok(plan)
}

/// Checks, before anything runs, that every SLO error cause and every
/// expectation's metric names something a run records: a misspelt name
/// would otherwise judge every point against a metric that is never there.
fn check_names(plan: &Plan, source: &str, origin: &str) -> Result<(), ConfigError> {
    let at_string = |text: &str, message: String| match string_position(source, text) {
        Some((line, col)) => ConfigError::at(origin, source, line, col, message),
        None => ConfigError::new(origin, message),
    };
    let causes: Vec<&str> = crate::metrics::Cause::ALL.iter().map(|c| c.key()).collect();
    for cause in plan.spec.slo.errors.keys() {
        if !causes.contains(&cause.as_str()) {
            let hint = crate::config::did_you_mean(cause, causes.iter().copied())
                .map(|m| format!("; did you mean `{m}`?"))
                .unwrap_or_default();
            return Err(at_string(cause, format!("no error cause `{cause}` in the SLO's `errors`{hint}"))
                .with_hint(Some(format!("the causes are {}", causes.join(", ")))));
        }
    }
    let Some(first) = plan.points.first() else { return Ok(()) };
    if plan.spec.expect.iter().all(|e| e.metric.is_none()) {
        return Ok(());
    }
    let keys = super::record::metric_keys(&first.spec);
    for e in &plan.spec.expect {
        if let Some(metric) = &e.metric {
            super::expect::check_metric(metric, &keys).map_err(|m| at_string(metric, format!("{}: {m}", e.name())))?;
        }
    }
    Ok(())
}

/// A plan for one model file with the default experiment settings (SLO,
/// replications, seed, limit search), for `cachesim limit MODEL.ron`.
pub fn plan_for_model(path: &Path, sets: &[String], spec: ExperimentSpec) -> Result<Plan, ConfigError> {
    let origin = path.display().to_string();
    check(&spec).map_err(|(field, message)| ConfigError::new(&origin, format!("{field}: {message}")))?;
    let model = apply_overrides(load_model(path)?, sets)?;
    let points =
        vec![Point { index: 0, model: model.name.clone(), params: Vec::new(), labels: Vec::new(), spec: model }];
    let fingerprint = fingerprint(&spec, &points);
    Ok(Plan { spec, origin, axes: Vec::new(), points, fingerprint, build: crate::BUILD_ID.into() })
}

/// The (line, column) of the string literal `"text"` in `source`.
fn string_position(source: &str, text: &str) -> Option<(usize, usize)> {
    let needle = format!("\"{text}\"");
    let offset = source.find(&needle)?;
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    Some((line, col))
}

/// The experiment's own rules: (field, message) of the first broken one.
fn check(spec: &ExperimentSpec) -> Result<(), (String, String)> {
    let bad = |field: &str, message: String| Err((field.to_string(), message));
    if spec.models.is_empty() {
        return bad("models", "an experiment needs at least one model".into());
    }
    if spec.replications == 0 {
        return bad(
            "replications",
            "at least one replication is needed (two or more give confidence intervals)".into(),
        );
    }
    let axes = match &spec.grid {
        Grid::Cartesian(a) | Grid::Zip(a) => a,
    };
    for axis in axes {
        if axis.values.is_empty() {
            return bad("grid", format!("the axis `{}` has no values", axis.path));
        }
        if !axis.labels.is_empty() && axis.labels.len() != axis.values.len() {
            return bad(
                "labels",
                format!("the axis `{}` has {} values but {} labels", axis.path, axis.values.len(), axis.labels.len()),
            );
        }
    }
    if let Grid::Zip(a) = &spec.grid
        && a.iter().any(|x| x.values.len() != a[0].values.len())
    {
        return bad("grid", "every axis of a Zip grid needs the same number of values".into());
    }
    let slo = &spec.slo;
    let bounds = slo.error_rate.iter().chain(slo.errors.values()).chain(slo.backend_calls_per_s.iter());
    if let Some(b) = bounds.into_iter().find(|b| !(b.is_finite() && **b >= 0.0)) {
        return bad("slo", format!("SLO bounds must be finite and at least 0, not {b}"));
    }
    if !(0.0..1.0).contains(&slo.margin) {
        return bad("margin", format!("the margin must be at least 0 and below 1, not {}", slo.margin));
    }
    let l = &spec.limit;
    if !(l.low.is_finite() && l.high.is_finite() && 0.0 < l.low && l.low < l.high) {
        return bad("limit", format!("the limit search needs 0 < low < high, not low {} and high {}", l.low, l.high));
    }
    if l.high / l.low > MAX_LIMIT_SPAN {
        return bad(
            "high",
            format!(
                "the limit search spans at most a factor of {MAX_LIMIT_SPAN} (20 doublings), not {} to {}",
                l.low, l.high
            ),
        );
    }
    if l.hold.is_zero() || l.hold.0.0 > MAX_LIMIT_HOLD || !(l.spike.is_finite() && l.spike >= 0.0) {
        return bad(
            "limit",
            format!(
                "the spike check needs hold between 1ns and 1d and spike at least 0, not {} and {}",
                l.hold, l.spike
            ),
        );
    }
    if let super::trigger::Trigger::Slow(f) = l.trigger
        && !(f.is_finite() && (1.0..=1000.0).contains(&f))
    {
        return bad("trigger", format!("a slow-down factor must be between 1 and 1000, not {f}"));
    }
    if !(MIN_LIMIT_TOLERANCE..1.0).contains(&l.tolerance) {
        return bad(
            "tolerance",
            format!("the tolerance must be at least {MIN_LIMIT_TOLERANCE} and below 1, not {}", l.tolerance),
        );
    }
    Ok(())
}

/// The widest `high / low` a limit search takes: 20 doublings.
pub const MAX_LIMIT_SPAN: f64 = 1_048_576.0;
/// The longest spike-check hold, one day: the check runs four holds and
/// keeps one series bucket per second.
const MAX_LIMIT_HOLD: u64 = 86_400 * 1_000_000_000;
/// The narrowest limit bracket, relative: below about 1e-16, `1 + tol`
/// equals 1 in floating point and bisection could never stop.
pub const MIN_LIMIT_TOLERANCE: f64 = 1e-6;

/// The number of grid points (`None` if it overflows).
fn grid_size(grid: &Grid) -> Option<usize> {
    match grid {
        Grid::Cartesian(axes) => axes.iter().try_fold(1usize, |n, a| n.checked_mul(a.values.len())),
        Grid::Zip(axes) => Some(axes.first().map_or(1, |a| a.values.len())),
    }
}

/// (path, value, label) triples of every grid point, in order.
type Combo = Vec<(String, String, String)>;

fn expand(grid: &Grid) -> (Vec<Axis>, Vec<Combo>) {
    let entry = |a: &Axis, i: usize| {
        let value = a.values[i].0.clone();
        let label = a.labels.get(i).cloned().unwrap_or_else(|| value.clone());
        (a.path.clone(), value, label)
    };
    match grid {
        Grid::Zip(axes) => {
            let n = axes.first().map_or(1, |a| a.values.len());
            (axes.clone(), (0..n).map(|i| axes.iter().map(|a| entry(a, i)).collect()).collect())
        }
        Grid::Cartesian(axes) => {
            let mut combos: Vec<Combo> = vec![Vec::new()];
            for axis in axes {
                combos = combos
                    .into_iter()
                    .flat_map(|c| {
                        (0..axis.values.len()).map(move |i| {
                            let mut c = c.clone();
                            c.push(entry(axis, i));
                            c
                        })
                    })
                    .collect();
            }
            (axes.clone(), combos)
        }
    }
}

fn fingerprint(spec: &ExperimentSpec, points: &[Point]) -> String {
    #[derive(Serialize)]
    struct Key<'a> {
        version: &'static str,
        build: &'static str,
        seed: u64,
        replications: u32,
        points: &'a [Point],
    }
    let json = serde_json::to_string(&Key {
        version: env!("CARGO_PKG_VERSION"),
        build: crate::BUILD_ID,
        seed: spec.seed,
        replications: spec.replications,
        points,
    })
    .expect("plans serialize");
    format!("{:016x}", fnv1a(json.as_bytes()))
}
