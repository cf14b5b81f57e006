//! The breaking-point table of `cachesim limit`.

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
            let after = format!(
                "{} for {}s, then {} for {}s, then back",
                value(Some(rec.base)),
                rec.hold_s,
                value(Some(rec.spike)),
                rec.hold_s
            );
            out += &if rec.recovered == rec.replications {
                format!(
                    "  spike      {after}: recovers in every replication, within {:.0}s\n",
                    rec.slowest_recovery_s.unwrap_or(0.0)
                )
            } else {
                format!(
                    "  spike      {after}: STAYS FAILED in {} of {} replications (metastable)\n",
                    rec.replications - rec.recovered,
                    rec.replications
                )
            };
        }
        out.push('\n');
    }
    out
}
