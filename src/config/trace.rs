//! Recorded arrival instants (`workload.arrivals: Trace(file: ..)`), read
//! from their file as the model loads: the simulator only ever sees the
//! checked instants, in integer nanoseconds from the first.
//!
//! The file has one instant a line: its first field (up to the first
//! space, tab or comma) is seconds as a decimal number (`12.5`,
//! `1700000000.123`, as nginx's `$msec` writes them) or a duration with
//! units (`"250ms"`, `"1m30s"`). Blank lines and lines starting with `#`
//! are skipped; instants must not decrease.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::duration::Dur;
use super::error::ConfigError;
use super::model::{Arrivals, ModelSpec};

/// The default of `Trace`'s `rate`: the trace at its recorded speed.
pub fn default_speed() -> f64 {
    1.0
}

/// The instants of a trace, filled in when the model loads (never written
/// in a model file). Model fingerprints and stored plans see only its
/// summary (count, span and a hash of the instants), never the instants.
#[derive(Clone, Default)]
pub struct TraceTimes {
    /// Nanoseconds from the first instant, not decreasing; empty until
    /// loaded (and in a plan read back from disk).
    times: Arc<Vec<u64>>,
    /// What was loaded: `None` until then.
    summary: Option<Summary>,
}

/// What identifies a loaded trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Summary {
    /// How many instants.
    arrivals: u64,
    /// From the first instant to the last, in seconds.
    span_s: f64,
    /// FNV-1a of the instants (little-endian nanoseconds).
    fnv1a: String,
}

impl TraceTimes {
    /// Instants in nanoseconds from the first (empty if not loaded).
    pub fn times(&self) -> &Arc<Vec<u64>> {
        &self.times
    }

    /// Whether the instants were read (from a file, not a stored summary).
    pub fn is_loaded(&self) -> bool {
        self.summary.is_some() && !self.times.is_empty()
    }

    /// Wraps instants in nanoseconds from the first, not decreasing.
    pub fn new(times: Vec<u64>) -> TraceTimes {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for t in &times {
            for b in t.to_le_bytes() {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0000_0100_0000_01B3);
            }
        }
        let span = times.last().copied().unwrap_or(0);
        let summary = Summary { arrivals: times.len() as u64, span_s: span as f64 / 1e9, fnv1a: format!("{h:016x}") };
        TraceTimes { times: Arc::new(times), summary: Some(summary) }
    }
}

impl PartialEq for TraceTimes {
    fn eq(&self, other: &TraceTimes) -> bool {
        self.summary == other.summary
    }
}

impl fmt::Debug for TraceTimes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.summary {
            Some(s) => write!(f, "TraceTimes({} arrivals over {}s, fnv1a {})", s.arrivals, s.span_s, s.fnv1a),
            None => f.write_str("TraceTimes(not loaded)"),
        }
    }
}

impl Serialize for TraceTimes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.summary.serialize(s)
    }
}

impl<'de> Deserialize<'de> for TraceTimes {
    /// A summary only (from a stored plan, or the JSON tree `--set` edits):
    /// the instants are read again from the file, or carried over.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<TraceTimes, D::Error> {
        Ok(TraceTimes { times: Arc::new(Vec::new()), summary: Option::<Summary>::deserialize(d)? })
    }
}

/// Reads the instants of a trace file: see the module's documentation.
pub fn parse_trace(text: &str, origin: &str) -> Result<Vec<u64>, ConfigError> {
    let mut times: Vec<u64> = Vec::new();
    let mut previous: Option<(u64, usize)> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let field = line.split([' ', '\t', ',']).next().unwrap_or(line);
        let col = raw.find(field).map_or(0, |b| raw[..b].chars().count()) + 1;
        let at = |message: String| ConfigError::at(origin, text, i + 1, col, message);
        let t = Dur::parse_seconds(field)
            .map_err(|e| {
                at(format!("not an arrival instant: {e}")).with_hint(Some(
                    "each line's first field is seconds (a decimal number such as 12.5 or 1700000000.123, as nginx's \
                     $msec) or a duration such as 250ms; convert Common Log Format dates to seconds first"
                        .into(),
                ))
            })?
            .nanos();
        if let Some((before, line_before)) = previous
            && t < before
        {
            return Err(at(format!(
                "instants must not decrease: {field} is before line {line_before}'s {}s (sort the file, e.g. sort -n)",
                Dur(crate::engine::SimDuration(before)).as_secs_f64()
            )));
        }
        previous = Some((t, i + 1));
        times.push(t);
    }
    let Some(&first) = times.first() else {
        return Err(ConfigError::new(origin, "the trace has no arrival instants (one a line)"));
    };
    for t in &mut times {
        *t -= first;
    }
    Ok(times)
}

/// Reads the trace file at `path` (at most 16 MiB, a regular file).
fn read_trace(path: &Path) -> Result<TraceTimes, TraceError> {
    let origin = path.display().to_string();
    let text = crate::fsutil::read_input(path)
        .map_err(|e| TraceError::Field(format!("workload.arrivals.file: cannot read the trace file {origin}: {e}")))?;
    Ok(TraceTimes::new(parse_trace(&text, &origin)?))
}

/// Loads the trace a freshly parsed model names, its `file` relative to
/// `dir` (the model file's directory). `Err` carries a message for the
/// model's `workload.arrivals` field, or the trace file's own error.
pub(super) fn load(spec: &mut ModelSpec, dir: &Path) -> Result<(), TraceError> {
    let Arrivals::Trace { file, loaded, .. } = &mut spec.workload.arrivals else { return Ok(()) };
    if loaded.summary.is_some() {
        return Err(TraceError::Field(
            "workload.arrivals.loaded: `loaded` is filled in by cachesim from `file` as the model loads; leave it out"
                .into(),
        ));
    }
    *loaded = read_trace(&resolve(dir, file))?;
    Ok(())
}

/// After a `--set`: the trace `before` had, if the file is the same, else
/// the file read anew (relative to the current directory, as a path on
/// the command line is).
pub(super) fn carry_over(before: &ModelSpec, after: &mut ModelSpec) -> Result<(), TraceError> {
    let Arrivals::Trace { file, loaded, .. } = &mut after.workload.arrivals else { return Ok(()) };
    if let Arrivals::Trace { file: old_file, loaded: old, .. } = &before.workload.arrivals
        && old_file == file
        && old.is_loaded()
    {
        *loaded = old.clone();
        return Ok(());
    }
    *loaded = read_trace(Path::new(file.as_str()))?;
    Ok(())
}

fn resolve(dir: &Path, file: &str) -> PathBuf {
    dir.join(file)
}

/// Why a trace did not load.
pub(super) enum TraceError {
    /// Something about the model's `workload.arrivals` itself: `loaded`
    /// written in it, or a `file` that cannot be read.
    Field(String),
    /// The trace file: unreadable, or a bad line (with its position).
    File(ConfigError),
}

impl From<ConfigError> for TraceError {
    fn from(e: ConfigError) -> TraceError {
        TraceError::File(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_are_relative_to_the_first() {
        let text = "# epoch seconds\n1700000000.5 GET /a 200\n\n1700000000.75,x\n1700000002\t1\n1700000002\n";
        assert_eq!(parse_trace(text, "t.txt").unwrap(), vec![0, 250_000_000, 1_500_000_000, 1_500_000_000]);
        assert_eq!(parse_trace("0\n250ms\n1.5s\n", "t.txt").unwrap(), vec![0, 250_000_000, 1_500_000_000]);
    }

    #[test]
    fn bad_lines_are_named() {
        let e = parse_trace("0\n1\n  127.0.0.1 - - [10/Oct/2000:13:55:36 -0700]\n", "t.txt").unwrap_err();
        assert_eq!(e.position, Some((3, 3)), "{e}");
        let e = parse_trace("0\n2\n1\n", "t.txt").unwrap_err();
        assert_eq!(e.position, Some((3, 1)), "{e}");
        assert!(e.message.contains("must not decrease"), "{e}");
        assert!(parse_trace("# nothing\n\n", "t.txt").unwrap_err().message.contains("no arrival instants"));
    }

    #[test]
    fn summaries_identify_the_instants() {
        let (a, b) = (TraceTimes::new(vec![0, 1, 2]), TraceTimes::new(vec![0, 1, 3]));
        assert_ne!(a, b);
        assert_eq!(a, TraceTimes::new(vec![0, 1, 2]));
        let json = serde_json::to_value(&a).unwrap();
        assert_eq!(json["arrivals"], 3);
        let back: TraceTimes = serde_json::from_value(json).unwrap();
        assert_eq!(back, a);
        assert!(!back.is_loaded() && back.times().is_empty());
    }
}
