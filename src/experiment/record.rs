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
        }
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

/// Numeric leaves of a report, skipping the identifying `model` and `seed`.
fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, Option<f64>)>) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                if prefix.is_empty() && (k == "model" || k == "seed") {
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
