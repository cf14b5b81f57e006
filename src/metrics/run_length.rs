//! A streaming histogram that records a run of equal values in one step.
//!
//! Many of a run's samples repeat the previous one exactly: a pool checkout
//! that did not wait (0 µs), a CPU piece whose loop was idle (the 1 ns
//! floor), a hit on fresh data (0 µs stale). Counting the repeats and
//! recording them with one `record_n` gives the same histogram as recording
//! each (counts add, and the range grows to cover the same largest value),
//! for a fraction of the cost on the per-request path.

use hdrhistogram::Histogram;

/// An hdrhistogram fed through a run-length counter.
pub struct RunLengthHistogram {
    histogram: Histogram<u64>,
    /// The value of the current run, and how many times it came in a row
    /// (not yet in `histogram`).
    value: u64,
    repeats: u64,
}

impl RunLengthHistogram {
    /// Records into `histogram` (give it a growing range, `auto(true)`, so
    /// that no sample saturates).
    pub fn new(histogram: Histogram<u64>) -> Self {
        RunLengthHistogram { histogram, value: 0, repeats: 0 }
    }

    /// One sample.
    #[inline]
    pub fn record(&mut self, v: u64) {
        if v == self.value {
            self.repeats += 1;
        } else {
            self.flush();
            self.value = v;
            self.repeats = 1;
        }
    }

    /// Moves the current run into the histogram.
    pub fn flush(&mut self) {
        if self.repeats > 0 {
            // Growing the range if needed; saturating only if it cannot.
            if self.histogram.record_n(self.value, self.repeats).is_err() {
                self.histogram.saturating_record_n(self.value, self.repeats);
            }
            self.repeats = 0;
        }
    }

    /// The histogram of every sample, once [`flush`](Self::flush)ed.
    ///
    /// # Panics
    /// If samples are still waiting for a flush: reading them would be wrong.
    pub fn flushed(&self) -> &Histogram<u64> {
        assert_eq!(self.repeats, 0, "a run-length histogram is read only after a flush");
        &self.histogram
    }

    /// The histogram of every sample.
    pub fn into_histogram(mut self) -> Histogram<u64> {
        self.flush();
        self.histogram
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn growing() -> Histogram<u64> {
        let mut h = Histogram::new_with_bounds(1, 1_000, 3).unwrap();
        h.auto(true);
        h
    }

    fn plain(values: &[u64]) -> Histogram<u64> {
        let mut h = growing();
        for &v in values {
            h.record(v).unwrap();
        }
        h
    }

    #[test]
    fn runs_of_equal_values_give_the_same_histogram_as_recording_each() {
        // Repeats, a zero first (the initial run value), and values that
        // make the range grow, in between runs.
        let values = [0, 0, 0, 5, 5, 7, 0, 1_000_000, 1_000_000, 3, 3, 3, 3, 9_999_999_999, 0];
        let mut h = RunLengthHistogram::new(growing());
        for &v in &values {
            h.record(v);
        }
        let got = h.into_histogram();
        let want = plain(&values);
        assert_eq!(got, want);
        assert_eq!(got.len(), values.len() as u64);
        assert_eq!(got.max(), want.max());
        let buckets = |h: &Histogram<u64>| {
            h.iter_recorded().map(|v| (v.value_iterated_to(), v.count_at_value())).collect::<Vec<_>>()
        };
        assert_eq!(buckets(&got), buckets(&want));
    }

    #[test]
    fn a_flushed_histogram_can_be_read_and_recorded_into_again() {
        let mut h = RunLengthHistogram::new(growing());
        h.record(4);
        h.record(4);
        h.flush();
        assert_eq!(h.flushed().count_at(4), 2);
        h.record(4);
        h.flush();
        assert_eq!(h.flushed().count_at(4), 3);
    }

    #[test]
    #[should_panic(expected = "read only after a flush")]
    fn reading_before_a_flush_panics_rather_than_missing_samples() {
        let mut h = RunLengthHistogram::new(growing());
        h.record(4);
        let _ = h.flushed();
    }
}
