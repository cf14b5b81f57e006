//! The breaking-point table of `cachesim limit`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::ConfigError;
use crate::experiment::{LimitResult, Plan};

fn value(v: Option<f64>) -> String {
    v.map_or("-".into(), |x| {
        if x >= 100.0 {
            format!("{x:.0}")
        } else {
            format!("{x:.3}").trim_end_matches('0').trim_end_matches('.').to_string()
        }
    })
}

/// One block per model: the limit with its bracket, the first cause, the
/// collapse, and the recovery after a spike.
pub fn limits_table(plan: &Plan, results: &[LimitResult]) -> String {
    let l = &plan.spec.limit;
    let mut out = format!(
        "Breaking points of {} ({} replications per load, seed {}; {} searched from {} to {}, to {}%)\n\n",
        plan.origin,
        plan.spec.replications,
        plan.spec.seed,
        l.path,
        value(Some(l.low)),
        value(Some(l.high)),
        l.tolerance * 100.0
    );
    for r in results {
        out += &format!("{}\n", r.model);
        let limit = match (r.max_meeting, r.min_failing) {
            (None, _) => format!("fails already at {} = {}", r.path, value(Some(l.low))),
            (Some(m), None) => format!("meets the SLO up to {} = {} (the top of the search)", r.path, value(Some(m))),
            (Some(m), Some(f)) => {
                format!("meets the SLO up to {} (bracket {} to {})", value(Some(m)), value(Some(m)), value(Some(f)))
            }
        };
        out += &format!("  limit      {limit}\n");
        if !r.truncated_at.is_empty() {
            let runs: usize = r.evaluations.iter().map(|e| e.truncated).sum();
            let reason = r.evaluations.iter().find_map(|e| e.stop_reason.as_deref()).unwrap_or("stopped early");
            let at: Vec<String> = r.truncated_at.iter().map(|&v| value(Some(v))).collect();
            out += &format!(
                "  truncated  {runs} run(s) at {} = {} stopped before their end ({reason}): those loads are not counted as meeting the SLO\n",
                r.path,
                at.join(", ")
            );
        }
        if let Some(c) = &r.cause {
            let level = r.level.map(|l| format!("{l}: ")).unwrap_or_default();
            out += &format!("  breaks by  {level}{c}\n");
        }
        out += &match (r.goodput_peak_at, r.collapse_at) {
            (Some(p), Some(c)) => format!(
                "  collapse   goodput peaks at {} and falls below 90% of it by {}\n",
                value(Some(p)),
                value(Some(c))
            ),
            (Some(p), None) => {
                format!("  collapse   none up to {} (goodput highest at {})\n", value(Some(l.high)), value(Some(p)))
            }
            _ => String::new(),
        };
        if let Some(rec) = &r.recovery {
            use crate::experiment::Trigger;
            let (base, at, hold) = (value(Some(rec.base)), rec.trigger_start_s, rec.hold_s);
            let after = match rec.trigger {
                Trigger::Spike => {
                    format!("{base} until {at}s, then {} for {hold}s, then back", value(Some(rec.spike)))
                }
                Trigger::Outage => format!("{base}; the backend down from {at}s for {hold}s"),
                Trigger::Slow(f) => format!("{base}; the backend {f}× slower from {at}s for {hold}s"),
                Trigger::Flush => format!("{base}; every server restarts (caches emptied) at {at}s"),
            };
            let label = if rec.trigger == Trigger::Spike { "spike" } else { "trigger" };
            out += &format!("  {label:<10} {after}: {}\n", recovery_words(rec));
        }
        out.push('\n');
    }
    out
}

/// What the check found after the trigger, worst first: metastable
/// replications ("stays failed"), then draining ones (how fast the backlog
/// falls and when it clears), then how fast the rest recovered; for those
/// that did not recover, their goodput against the base phase's and the
/// sustaining effect, named with its numbers.
pub fn recovery_words(rec: &crate::experiment::Recovery) -> String {
    let n = rec.replications;
    let mut parts = Vec::new();
    if rec.metastable > 0 {
        parts.push(format!(
            "stays failed in {} of {n}: still worse than the base phase at the end of the {:.0}s watched, backlog not falling (metastable)",
            rec.metastable,
            2.0 * rec.hold_s
        ));
    }
    if rec.draining > 0 {
        parts.push(format!(
            "drains in {} of {n}: backlog falling at {} req/s, clear in about {:.0}s",
            rec.draining,
            value(rec.falling_rps),
            rec.slowest_clear_s.unwrap_or(0.0)
        ));
    }
    if let Some(s) = rec.sustaining.as_ref().filter(|_| rec.metastable > 0) {
        let (after, before) = s.goodput();
        parts.push(format!(
            "goodput {} req/s against {} before; {}",
            value(Some(after)),
            value(Some(before)),
            s.words()
        ));
    }
    parts.extend(recovered_words(rec, true));
    parts.extend(truncated_words(rec));
    parts.join("; ")
}

/// How fast the replications that recovered did so ("recovers in 150s");
/// when `explained`, a 0 s recovery of every replication reads "at once"
/// with the reason. `None` when none recovered.
fn recovered_words(rec: &crate::experiment::Recovery, explained: bool) -> Option<String> {
    let n = rec.replications;
    let t = rec.slowest_recovery_s.unwrap_or(0.0);
    let every = if explained { " (every replication)" } else { "" };
    Some(match rec.recovered {
        0 => return None,
        k if k == n && t == 0.0 && explained => {
            "recovers at once (every replication: the first window after the trigger is as good as before)".into()
        }
        k if k == n => format!("recovers in {t:.0}s{every}"),
        k => format!("recovers in {k} of {n}, within {t:.0}s"),
    })
}

/// [`recovery_words`] for a table cell: the outcomes without the numbers
/// behind the sustaining effect.
pub fn recovery_brief(rec: &crate::experiment::Recovery) -> String {
    let n = rec.replications;
    let mut parts = Vec::new();
    if rec.metastable > 0 {
        parts.push(format!("stays failed (metastable) in {} of {n}", rec.metastable));
    }
    if rec.draining > 0 {
        parts.push(format!(
            "drains in {} of {n}, clear in about {:.0}s",
            rec.draining,
            rec.slowest_clear_s.unwrap_or(0.0)
        ));
    }
    parts.extend(recovered_words(rec, false));
    parts.extend(truncated_words(rec));
    parts.join("; ")
}

/// The replications left unjudged because they were truncated, if any.
fn truncated_words(rec: &crate::experiment::Recovery) -> Option<String> {
    (rec.truncated > 0).then(|| {
        format!(
            "{} of {} replications truncated (their series end early; not judged)",
            rec.truncated,
            rec.truncated + rec.replications
        )
    })
}

/// `limits.json` as `cachesim limit --out DIR` writes it: the breaking
/// points with the fingerprint and name of the experiment they were found
/// for, so that `cachesim report` never shows one experiment's limits beside
/// another's sweep.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsFile {
    /// The plan's fingerprint ([`Plan::fingerprint`]).
    pub fingerprint: String,
    /// The experiment's name.
    pub experiment: String,
    /// The experiment file (or model file) the search ran on.
    #[serde(default)]
    pub origin: String,
    pub limits: Vec<LimitResult>,
}

impl LimitsFile {
    /// The breaking points of `plan`, stamped with its fingerprint.
    pub fn of(plan: &Plan, limits: &[LimitResult]) -> LimitsFile {
        LimitsFile {
            fingerprint: plan.fingerprint.clone(),
            experiment: plan.spec.name.clone(),
            origin: plan.origin.clone(),
            limits: limits.to_vec(),
        }
    }
}

/// Reads `limits.json` in the sweep directory `dir`, if there is one: its
/// breaking points if they were found for `plan` (the sweep's), else an
/// error (exit 2) naming both fingerprints and how to write a matching file.
pub fn read_limits(dir: &Path, plan: &Plan) -> Result<Option<Vec<LimitResult>>, ConfigError> {
    let path = dir.join("limits.json");
    let text = match crate::fsutil::read_input(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ConfigError::new(path.display().to_string(), format!("cannot read: {e}"))),
    };
    let origin = path.display().to_string();
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| ConfigError::new(&origin, format!("not a limits file: {e}")))?;
    let hint = Some(format!(
        "re-run `cachesim limit {} --out {}` (with the sweep's --set options, by the same build of cachesim), or delete {}",
        if plan.origin.is_empty() { "EXPERIMENT" } else { &plan.origin },
        dir.display(),
        path.display()
    ));
    let sweep = format!("this sweep directory holds `{}`, fingerprint {}", plan.spec.name, plan.fingerprint);
    let file: LimitsFile = match value {
        // Before fingerprints, limits.json was the bare array.
        serde_json::Value::Array(_) => {
            return Err(ConfigError::new(
                origin,
                format!(
                    "limits.json carries no experiment fingerprint (written by an older cachesim), so it may belong to another experiment; {sweep}"
                ),
            )
            .with_hint(hint));
        }
        v => serde_json::from_value(v).map_err(|e| ConfigError::new(&origin, format!("not a limits file: {e}")))?,
    };
    if file.fingerprint != plan.fingerprint {
        return Err(ConfigError::new(
            origin,
            format!(
                "limits.json holds the breaking points of another experiment or model version (`{}`, fingerprint {}); {sweep}",
                file.experiment, file.fingerprint
            ),
        )
        .with_hint(hint));
    }
    Ok(Some(file.limits))
}
