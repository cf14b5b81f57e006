//! The one word a verdict comes down to, for a heatmap cell: the error
//! cause or the latency phase that dominates, read from the verdict's cause
//! text ("p99 latency 0.9s vs 0.5s: 85% lock wait, …" gives "lock_wait").

use crate::experiment::Verdict;
use crate::metrics::Phase;

/// The dominant cause of a verdict, as a word: an error cause's key
/// ("rate_limited"), a phase's key ("lock_wait"), or else the bound's name
/// ("error_rate", "backend_calls"). `None` for a verdict without a cause
/// (READY).
pub fn cause_word(v: &Verdict) -> Option<String> {
    let text = v.cause.as_deref()?;
    if v.inconclusive {
        return Some("too_few_requests".into());
    }
    // The error-rate bound names the error that dominates it.
    if let Some((_, rest)) = text.split_once(", mostly ") {
        return rest.split_whitespace().next().map(String::from);
    }
    let name = bound_name(text);
    if name == "p99 latency" {
        if text.contains("no successful request") {
            return Some("no_success".into());
        }
        if let Some(phase) = largest_phase(text) {
            return Some(phase);
        }
    }
    Some(name.replace(' ', "_"))
}

/// The words before the bound's value ("p99 latency" of "p99 latency 2.2s
/// vs 2s"; "pool_timeout" of "pool_timeout 4.1% ± 0.3% vs 0.10%").
fn bound_name(text: &str) -> String {
    let mut words = Vec::new();
    for w in text.split_whitespace() {
        if w.starts_with(|c: char| c.is_ascii_digit()) {
            break;
        }
        if let Some(w) = w.strip_suffix(':') {
            words.push(w);
            break;
        }
        words.push(w);
    }
    words.join(" ")
}

/// The first (largest) phase of "…vs 2s: 85% lock wait, 10% pool wait".
fn largest_phase(text: &str) -> Option<String> {
    let (_, after) = text.split_once(" vs ")?;
    // The phases end at the first ';' (the periods follow).
    let (_, shares) = after.split(';').next()?.split_once(": ")?;
    let first = shares.split([',', ';']).next()?.trim();
    let words = first.split_once(' ').map_or(first, |(_, w)| w);
    let phase = Phase::ALL.iter().find(|p| p.words() == words);
    Some(phase.map_or_else(|| words.replace(' ', "_"), |p| p.key().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::Level;

    fn verdict(cause: &str) -> Verdict {
        Verdict { level: Level::Fails, cause: Some(cause.into()), inconclusive: false }
    }

    #[test]
    fn the_word_is_the_dominant_error_or_phase_or_else_the_bound() {
        let word = |c: &str| cause_word(&verdict(c)).unwrap();
        assert_eq!(word("error rate 5.50% ± 0.2% vs 1.00%, mostly rate_limited 1.50% (75% of errors)"), "rate_limited");
        assert_eq!(word("p99 latency 2.2s [1.95s, 2.45s] vs 2s: 85% lock wait, 10% pool wait"), "lock_wait");
        assert_eq!(word("p99 latency 2.2s vs 2s; slow requests: 70% in the cold start"), "p99_latency");
        assert_eq!(word("pool_timeout 4.1% ± 0.3% vs 0.10%; failed requests: 100% at other times"), "pool_timeout");
        assert_eq!(word("p99 latency: no successful request to measure"), "no_success");
        assert_eq!(word("backend calls 3.00/s vs 2.00/s"), "backend_calls");
        let ready = Verdict { level: Level::Ready, cause: None, inconclusive: false };
        assert_eq!(cause_word(&ready), None);
    }
}
