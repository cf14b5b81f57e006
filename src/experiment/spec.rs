//! The experiment file's schema: which models, which parameters to vary,
//! how many replications, and the SLO that turns results into verdicts.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, de};

use crate::config::Dur;

/// An experiment: a grid of parameter values over several models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "Experiment")]
pub struct ExperimentSpec {
    /// Shown in reports; defaults to the file's name without `.ron`.
    #[serde(default)]
    pub name: String,
    /// Free text shown in reports.
    #[serde(default)]
    pub description: String,
    /// Model files, relative to the experiment file.
    pub models: Vec<String>,
    /// Overrides applied to every model before the grid, as `--set` takes
    /// them: `["workload.duration=10m", "workload.warmup=1m"]`.
    #[serde(default)]
    pub set: Vec<String>,
    /// Simulated time of every run (overrides the models' `workload.duration`).
    #[serde(default)]
    pub duration: Option<Dur>,
    /// Warm-up left out of every run's statistics (overrides the models'
    /// `workload.warmup`).
    #[serde(default)]
    pub warmup: Option<Dur>,
    /// The parameters to vary.
    #[serde(default)]
    pub grid: Grid,
    /// Independent runs of every point (default 10).
    #[serde(default = "default_replications")]
    pub replications: u32,
    /// Base seed (default 1). Replication r of every point uses run index r,
    /// so points are compared on common random numbers.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// The service-level objective every point is judged against.
    #[serde(default)]
    pub slo: Slo,
    /// Breaking-point search for `cachesim limit`.
    #[serde(default)]
    pub limit: LimitSearch,
    /// What `cachesim check` asserts about the results.
    #[serde(default)]
    pub expect: Vec<super::expect::Expectation>,
}

impl ExperimentSpec {
    /// Default settings around one model file (for `cachesim limit MODEL`).
    pub fn for_model(model_file: &str) -> ExperimentSpec {
        ExperimentSpec {
            name: "limit".into(),
            description: String::new(),
            models: vec![model_file.to_string()],
            set: Vec::new(),
            duration: None,
            warmup: None,
            grid: Grid::default(),
            replications: default_replications(),
            seed: default_seed(),
            slo: Slo::default(),
            limit: LimitSearch::default(),
            expect: Vec::new(),
        }
    }
}

fn default_replications() -> u32 {
    10
}
fn default_seed() -> u64 {
    1
}

/// Parameter axes. `Cartesian` runs every combination; `Zip` runs the i-th
/// value of every axis together (all axes the same length).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Grid {
    Cartesian(Vec<Axis>),
    Zip(Vec<Axis>),
}

impl Default for Grid {
    fn default() -> Self {
        Grid::Cartesian(Vec::new())
    }
}

/// One parameter and its values: `(path: "workload.rate", values: [1, 10, 100])`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Axis {
    /// A dotted path, as `--set` takes it.
    pub path: String,
    /// The values, as `--set` takes them (numbers, or strings such as "2m").
    pub values: Vec<GridValue>,
    /// Optional names for the values, shown in the matrix ("Light", ...).
    #[serde(default)]
    pub labels: Vec<String>,
}

/// A grid value, kept as the text `--set` would receive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GridValue(pub String);

impl<'de> Deserialize<'de> for GridValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<GridValue, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = GridValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or a string such as \"2m\" or \"SingleFlight\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<GridValue, E> {
                Ok(GridValue(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<GridValue, E> {
                Ok(GridValue(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<GridValue, E> {
                Ok(GridValue(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<GridValue, E> {
                Ok(GridValue(v.to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<GridValue, E> {
                Ok(GridValue(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// Service-level objective: every bound given must hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slo {
    /// Largest acceptable 99th-percentile latency (default 2s).
    #[serde(default = "default_p99")]
    pub p99: Option<Dur>,
    /// Largest acceptable share of failed requests (default 0.01).
    #[serde(default = "default_error_rate")]
    pub error_rate: Option<f64>,
    /// Largest acceptable share of requests failing with each cause:
    /// `{"pool_timeout": 0.001}`.
    #[serde(default)]
    pub errors: BTreeMap<String, f64>,
    /// Largest acceptable backend calls per second (a quota), if any.
    #[serde(default)]
    pub backend_calls_per_s: Option<f64>,
    /// How close to a bound counts as close: READY needs every metric's
    /// upper 95% bound within (1 − margin)·bound; FAILS means the lower
    /// bound exceeds (1 + margin)·bound (default 0.2).
    #[serde(default = "default_margin")]
    pub margin: f64,
}

fn default_p99() -> Option<Dur> {
    Some(Dur::secs(2))
}
fn default_error_rate() -> Option<f64> {
    Some(0.01)
}
fn default_margin() -> f64 {
    0.2
}

impl Default for Slo {
    fn default() -> Self {
        Slo {
            p99: default_p99(),
            error_rate: default_error_rate(),
            errors: BTreeMap::new(),
            backend_calls_per_s: None,
            margin: default_margin(),
        }
    }
}

/// The search `cachesim limit` makes for the highest rate meeting the SLO.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitSearch {
    /// The parameter searched (default `workload.rate`).
    #[serde(default = "default_limit_path")]
    pub path: String,
    /// Lowest value tried (default 1).
    #[serde(default = "default_low")]
    pub low: f64,
    /// Highest value tried (default 2000; at most 2^20 × low).
    #[serde(default = "default_high")]
    pub high: f64,
    /// Stop when the bracket is this narrow, relative (default 0.05; at
    /// least 1e-6, below 1).
    #[serde(default = "default_tolerance")]
    pub tolerance: f64,
    /// Metastability check: hold the highest load meeting the SLO, apply
    /// the trigger, then hold that load again for two `hold`s, watched for
    /// recovery (default "2m", at most "1d").
    #[serde(default = "default_hold")]
    pub hold: Dur,
    /// The spike, as a multiple of the highest value meeting the SLO
    /// (default 2; 0 skips the check, whatever the trigger).
    #[serde(default = "default_spike")]
    pub spike: f64,
    /// What knocks the service out of its steady state: `Spike` (default),
    /// `Outage` or `Slow(factor)` of the backend for `hold`, or `Flush`
    /// (every server restarts, caches emptied).
    #[serde(default)]
    pub trigger: super::trigger::Trigger,
    /// Start the trigger on the first cache expiry after `hold` instead of
    /// at `hold` (default false).
    #[serde(default)]
    pub at_expiry: bool,
}

fn default_hold() -> Dur {
    Dur::secs(120)
}
fn default_spike() -> f64 {
    2.0
}

fn default_limit_path() -> String {
    "workload.rate".into()
}
fn default_low() -> f64 {
    1.0
}
fn default_high() -> f64 {
    2000.0
}
fn default_tolerance() -> f64 {
    0.05
}

impl Default for LimitSearch {
    fn default() -> Self {
        LimitSearch {
            path: default_limit_path(),
            low: default_low(),
            high: default_high(),
            tolerance: default_tolerance(),
            hold: default_hold(),
            spike: default_spike(),
            trigger: Default::default(),
            at_expiry: false,
        }
    }
}
