//! Divergence across caches: the spans of time during which the caches that
//! hold data hold different versions of it (the seed note's "inconsistent
//! data across servers"). A cache holds data from its first fill on.

use std::collections::BTreeMap;

use crate::engine::SimTime;

/// Tracks which version each cache holds and the divergence windows.
#[derive(Debug, Default)]
pub struct Divergence {
    held: Vec<Option<u64>>,
    /// Caches holding each version.
    counts: BTreeMap<u64, u32>,
    open_since: Option<SimTime>,
    /// Windows within the measured span: count, total and longest (ns).
    pub windows: u64,
    pub total_ns: u64,
    pub longest_ns: u64,
}

impl Divergence {
    /// `cache` now holds `version`, from `now`; only time after `from`
    /// (the warm-up) counts.
    pub fn filled(&mut self, cache: usize, version: u64, now: SimTime, from: SimTime) {
        if self.held.len() <= cache {
            self.held.resize(cache + 1, None);
        }
        if let Some(old) = self.held[cache].replace(version)
            && let Some(c) = self.counts.get_mut(&old)
        {
            *c -= 1;
            if *c == 0 {
                self.counts.remove(&old);
            }
        }
        *self.counts.entry(version).or_insert(0) += 1;
        match (self.counts.len() > 1, self.open_since) {
            (true, None) => self.open_since = Some(now),
            (false, Some(since)) => {
                self.close(since, now, from);
                self.open_since = None;
            }
            _ => {}
        }
    }

    fn close(&mut self, since: SimTime, until: SimTime, from: SimTime) {
        let start = since.max(from);
        if until > start {
            let d = until.0 - start.0;
            self.windows += 1;
            self.total_ns += d;
            self.longest_ns = self.longest_ns.max(d);
        }
    }

    /// Closes a window still open at the end of the run.
    pub fn finish(&mut self, end: SimTime, from: SimTime) {
        if let Some(since) = self.open_since.take() {
            self.close(since, end, from);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: u64) -> SimTime {
        SimTime(x * 1_000_000_000)
    }

    #[test]
    fn windows_open_when_versions_differ_and_close_when_they_agree() {
        let mut d = Divergence::default();
        d.filled(0, 0, s(0), s(0));
        d.filled(1, 0, s(1), s(0));
        assert_eq!(d.windows, 0);
        d.filled(0, 1, s(10), s(0)); // server 0 moves to v1: diverged
        d.filled(1, 1, s(13), s(0)); // server 1 follows: 3 s window
        d.filled(1, 2, s(20), s(0)); // diverged again until the end
        d.finish(s(25), s(0));
        assert_eq!((d.windows, d.total_ns, d.longest_ns), (2, 8_000_000_000, 5_000_000_000));
    }
}
