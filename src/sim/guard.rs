//! Guards against runs that would take hours or exhaust memory, checked
//! before a run starts, from the model alone.

use super::arrivals::RateProfile;
use crate::config::ModelSpec;

/// Events a run may be expected to simulate unless `--max-events` says
/// otherwise: about 7 minutes at 12 million events per second.
pub const DEFAULT_EVENT_BUDGET: u64 = 5_000_000_000;

/// Events per request, roughly: arrival, handler, query, and a share of
/// fetches and timers.
const EVENTS_PER_REQUEST: f64 = 4.0;

/// The number of requests a run is expected to see.
pub fn expected_requests(spec: &ModelSpec) -> f64 {
    let w = &spec.workload;
    match &w.closed {
        // At most one request per user per think time (less when waiting).
        Some(c) => {
            let think = c.think.mean_secs().max(1e-9);
            f64::from(c.users.get()) * w.duration.as_secs_f64() / think
        }
        None => RateProfile::new(w).expected_between(0.0, w.duration.as_secs_f64()),
    }
}

/// Refuses a model whose expected events exceed `budget` (`None`: the
/// default), with a message that says what to change.
pub fn check_size(spec: &ModelSpec, budget: Option<u64>) -> Result<(), String> {
    let requests = expected_requests(spec);
    // Poisson writes are kept in memory (8 bytes each).
    if let Some(crate::config::Writes::Poisson(rate)) = &spec.backend.writes {
        let writes = rate.0 * spec.workload.duration.as_secs_f64();
        if writes > 1e8 {
            return Err(format!(
                "`{}` would make about {writes:.2e} backend writes; at most 1e8 fit in memory",
                spec.name
            ));
        }
    }
    let events = requests * EVENTS_PER_REQUEST;
    let limit = budget.unwrap_or(DEFAULT_EVENT_BUDGET);
    if events.is_finite() && events <= limit as f64 {
        return Ok(());
    }
    Err(format!(
        "`{}` would simulate about {:.2e} requests ({:.2e} events), more than the {:.2e}-event budget of one run; \
         shorten workload.duration or lower the rate, or pass --max-events N to run anyway and stop after N events",
        spec.name, requests, events, limit as f64
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_model;

    #[test]
    fn absurd_models_are_refused_and_ordinary_ones_pass() {
        let m = |rate: &str, duration: &str| {
            parse_model(
                &format!(
                    r#"Model(workload: (rate: {rate}, duration: "{duration}"), backend: (latency: Constant("1s")))"#
                ),
                "t",
                "t",
            )
            .unwrap()
        };
        assert!(check_size(&m("500", "1h"), None).is_ok());
        let err = check_size(&m("1e9", "1h"), None).unwrap_err();
        assert!(err.contains("3.60e12 requests"), "{err}");
        // An explicit budget replaces the default both ways.
        assert!(check_size(&m("1e9", "1h"), Some(u64::MAX)).is_ok());
        assert!(check_size(&m("500", "1h"), Some(1000)).is_err());
    }
}
