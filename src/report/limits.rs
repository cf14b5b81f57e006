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

/// What the spike check found, worst first: metastable replications,
/// then draining ones, then how fast the rest recovered.
fn recovery_words(rec: &crate::experiment::Recovery) -> String {
    let n = rec.replications;
    let mut parts = Vec::new();
    if rec.metastable > 0 {
        parts.push(format!(
            "METASTABLE in {} of {n} replications (still failing {}s after the spike ended, and not draining)",
            rec.metastable,
            2.0 * rec.hold_s
        ));
    }
    if rec.draining > 0 {
        parts.push(format!(
            "draining in {} of {n} (a backlog falling steadily; clears by about {:.0}s after the spike)",
            rec.draining,
            rec.slowest_clear_s.unwrap_or(0.0)
        ));
    }
    if rec.recovered > 0 {
        let which =
            if rec.recovered == n { "every replication".to_string() } else { format!("{} of {n}", rec.recovered) };
        parts.push(format!("recovers in {which}, within {:.0}s", rec.slowest_recovery_s.unwrap_or(0.0)));
    }
    parts.join("; ")
}
