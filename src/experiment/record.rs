//! One finished run as it is stored on disk: every metric under its dotted
//! key, and the histograms as sparse (value, count) lists, so that percentiles
//! can be pooled across replications after a resume or a merge.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::plan::RunId;
use crate::metrics::RunReport;
use crate::sim::RunHistograms;

/// A finished run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub point: usize,
    pub rep: u32,
    /// Every numeric metric of the report, by dotted key, in report order;
    /// `None` where the report has `null`.
    pub metrics: Vec<(String, Option<f64>)>,
    /// Latency histogram: (value µs, count) for each non-empty bucket.
    pub latency_us: Vec<(u64, u64)>,
    /// Pool-wait histogram, likewise.
    pub pool_wait_us: Vec<(u64, u64)>,
    /// Hash of the resolved model this run simulated.
    #[serde(default)]
    pub model_fingerprint: String,
    /// Hash of this run's event trace.
    #[serde(default)]
    pub trace_fingerprint: String,
    /// The fingerprint of the plan (experiment, models and build) that made
    /// this run; a store reuses only its own plan's runs.
    #[serde(default)]
    pub plan_fingerprint: String,
    /// Hash of the record's contents with this field empty: a record edited
    /// by hand no longer matches it, and is computed again, not reused.
    #[serde(default)]
    pub digest: String,
}

impl RunRecord {
    /// The record of run `id`.
    pub fn new(id: RunId, report: &RunReport, hist: &RunHistograms) -> RunRecord {
        let mut metrics = Vec::new();
        let tree = serde_json::to_value(report).expect("reports serialize");
        flatten("", &tree, &mut metrics);
        // Each cause's share of arrived requests, for per-cause SLO bounds.
        let arrived = report.requests.arrived;
        for (cause, n) in &report.requests.errors {
            let share = if arrived == 0 { 0.0 } else { *n as f64 / arrived as f64 };
            metrics.push((format!("requests.error_share.{cause}"), Some(share)));
        }
        RunRecord {
            point: id.point,
            rep: id.rep,
            metrics,
            latency_us: sparse(&hist.latency_us),
            pool_wait_us: sparse(&hist.pool_wait_us),
            model_fingerprint: report.fingerprint.model.clone(),
            trace_fingerprint: report.fingerprint.trace.clone(),
            plan_fingerprint: String::new(),
            digest: String::new(),
        }
    }

    /// This record stamped as made for `plan_fingerprint`, with its digest.
    pub fn sealed(mut self, plan_fingerprint: &str) -> RunRecord {
        self.plan_fingerprint = plan_fingerprint.to_string();
        self.digest = self.content_digest();
        self
    }

    /// Whether this record is intact and was made for `plan_fingerprint`.
    pub fn is_sealed_for(&self, plan_fingerprint: &str) -> bool {
        self.plan_fingerprint == plan_fingerprint && self.digest == self.content_digest()
    }

    fn content_digest(&self) -> String {
        let unsealed = RunRecord { digest: String::new(), ..self.clone() };
        let json = serde_json::to_vec(&unsealed).expect("records serialize");
        format!("{:016x}", crate::engine::rng::fnv1a(&json))
    }

    /// The run this records.
    pub fn id(&self) -> RunId {
        RunId { point: self.point, rep: self.rep }
    }

    /// A metric by dotted key (`None` if absent or null).
    pub fn get(&self, key: &str) -> Option<f64> {
        self.metrics.iter().find(|(k, _)| k == key).and_then(|(_, v)| *v)
    }
}

/// Every metric key a run of `spec` records (what expectations may name),
/// read from the record of a run stopped at its first event: the report's
/// shape does not depend on how long it ran.
pub fn metric_keys(spec: &crate::config::ModelSpec) -> Vec<String> {
    let opts = crate::sim::RunOptions { max_events: 1, ..crate::sim::RunOptions::default() };
    let (report, hist) = crate::sim::simulate_detailed(spec, 0, 0, opts);
    RunRecord::new(RunId { point: 0, rep: 0 }, &report, &hist).metrics.into_iter().map(|(k, _)| k).collect()
}

/// Numeric leaves of a report, skipping the identifying `model`, `seed`
/// and `replication`.
fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, Option<f64>)>) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                if prefix.is_empty() && (k == "model" || k == "seed" || k == "replication") {
                    continue;
                }
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&key, child, out);
            }
        }
        Value::Number(n) => out.push((prefix.to_string(), n.as_f64())),
        Value::Bool(b) => out.push((prefix.to_string(), Some(f64::from(u8::from(*b))))),
        Value::Null => out.push((prefix.to_string(), None)),
        Value::String(_) | Value::Array(_) => {}
    }
}

fn sparse(h: &Histogram<u64>) -> Vec<(u64, u64)> {
    h.iter_recorded().map(|v| (v.value_iterated_to(), v.count_at_value())).collect()
}

/// Rebuilds a histogram from its sparse form and adds it to `into`.
pub fn add_sparse(into: &mut Histogram<u64>, sparse: &[(u64, u64)]) {
    for &(value, count) in sparse {
        if into.record_n(value, count).is_err() {
            into.saturating_record_n(value, count);
        }
    }
}
