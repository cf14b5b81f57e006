//! What a server process computes: the handler's split into CPU on the
//! event loop and waiting, and the JSON codec whose speed prices a payload.
//!
//! One asyncio event loop runs each worker process: CPU work on it runs one
//! piece at a time, while awaits (network, sleeps) overlap (see
//! `docs/models.md`, "The server process").

use serde::{Deserialize, Serialize};

use super::duration::Dur;
use super::latency::Latency;

/// The endpoint's own time once the data is at hand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "RawHandler")]
pub struct Handler {
    /// CPU on the process's event loop (Python code between awaits), first.
    pub cpu: Latency,
    /// Then waiting that overlaps with other requests (awaits).
    pub wait: Latency,
}

/// Either form a model file may write: a bare distribution (the form of
/// earlier versions, meaning waiting) or `(cpu: ..., wait: ...)`.
/// Both fields are required: a misspelt distribution must not match the
/// struct form with defaults.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawHandler {
    Wait(Latency),
    Split(Split),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Split {
    cpu: Latency,
    wait: Latency,
}

impl From<RawHandler> for Handler {
    fn from(raw: RawHandler) -> Handler {
        match raw {
            RawHandler::Split(Split { cpu, wait }) => Handler { cpu, wait },
            RawHandler::Wait(wait) => Handler { cpu: zero(), wait },
        }
    }
}

impl Default for Handler {
    fn default() -> Handler {
        Handler { cpu: zero(), wait: zero() }
    }
}

impl Handler {
    /// Whether the handler costs the event loop anything.
    pub fn has_cpu(&self) -> bool {
        !is_zero(&self.cpu)
    }
}

/// The message for a handler that matches neither form (serde's own says
/// only "did not match any variant").
pub const HANDLER_FORMS: &str = "expected the handler's time: a distribution such as Constant(\"48ms\") (time it \
     waits), or (cpu: Constant(\"2ms\"), wait: Constant(\"48ms\")) (CPU on the event loop, then waiting)";

/// `Constant("0s")`.
pub fn zero() -> Latency {
    Latency::Constant(Dur::default())
}

/// Whether a distribution is always zero.
pub fn is_zero(l: &Latency) -> bool {
    matches!(l, Latency::Constant(d) if d.is_zero())
}

/// How fast the process turns a payload into JSON and back, in bytes of JSON
/// per CPU second. Measured on this machine kind (CPython 3.11, a 62 KB
/// payload of 200 records; `docs/models.md` gives the sources).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Codec {
    /// The standard library's `json` (default): dumps 41 MB/s, loads 39 MB/s.
    #[default]
    Json,
    /// `orjson`: dumps 150 MB/s (measured); loads 78 MB/s (2× `json`, the
    /// middle of orjson's published 1.2×–4× over the standard library).
    Orjson,
    /// Pydantic v2 `TypeAdapter.dump_json` 136 MB/s; loads with validation
    /// (`json.loads` then 0.35 ms per 62 KB): 32 MB/s.
    Pydantic,
    /// Rates of your own: `Rates(dumps: 41e6, loads: 39e6)` bytes per second.
    Rates { dumps: f64, loads: f64 },
}

impl Codec {
    /// Bytes per CPU second to serialise (dumps) and to parse (loads).
    pub fn rates(self) -> (f64, f64) {
        match self {
            Codec::Json => (41e6, 39e6),
            Codec::Orjson => (150e6, 78e6),
            Codec::Pydantic => (136e6, 1.0 / (1.0 / 39e6 + 0.35e-3 / 62e3)),
            Codec::Rates { dumps, loads } => (dumps, loads),
        }
    }
}

/// CPython's garbage collector, as pauses of a whole process: a full
/// (generation-2) collection walks every tracked object and stops the
/// event loop meanwhile, so every request on that process is delayed at
/// the same moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gc {
    /// When a pause comes: `Requests(1000)` (after every 1000 requests the
    /// process finished; the default, about every few seconds at a few
    /// hundred req/s, as DOMAIN.md E reports) or `Interval("5s")`.
    #[serde(default)]
    pub every: GcEvery,
    /// How long each pause stops the loop (default `Constant("30ms")`:
    /// "tens of ms"; a full pass costs about 0.4 µs per live tracked object
    /// on this machine kind, so 30 ms is a heap of about 75,000 objects).
    #[serde(default = "default_pause")]
    pub pause: Latency,
}

/// What triggers a collection.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum GcEvery {
    /// After every N requests the process finished (1 to 4,294,967,295).
    Requests(u32),
    /// At a fixed interval per process, the processes out of phase.
    Interval(Dur),
}

impl Default for GcEvery {
    fn default() -> GcEvery {
        GcEvery::Requests(1000)
    }
}

impl Default for Gc {
    fn default() -> Gc {
        Gc { every: GcEvery::default(), pause: default_pause() }
    }
}

fn default_pause() -> Latency {
    Latency::Constant(Dur::millis(30))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handler(text: &str) -> Result<Handler, String> {
        crate::config::parse_model(
            &format!(r#"Model(workload: (rate: 1, duration: "1s"), servers: (handler: {text}), backend: (latency: Constant("1s")))"#),
            "t",
            "t",
        )
        .map(|m| m.servers.handler)
        .map_err(|e| e.to_string())
    }

    #[test]
    fn a_bare_distribution_is_waiting_and_the_split_form_gives_both() {
        let h = handler(r#"Constant("50ms")"#).unwrap();
        assert_eq!((h.cpu, h.wait), (zero(), Latency::Constant(Dur::millis(50))));
        let h = handler(r#"(cpu: Constant("2ms"), wait: Exponential(mean: "48ms"))"#).unwrap();
        assert_eq!(h.cpu, Latency::Constant(Dur::millis(2)));
        assert_eq!(h.wait, Latency::Exponential { mean: Dur::millis(48) });
    }

    #[test]
    fn a_misspelt_handler_is_refused_with_both_forms_named() {
        for bad in
            [r#"Constnt("50ms")"#, r#"(cpu: Constant("2ms"))"#, r#"(cpu: Constant("2ms"), wiat: Constant("1ms"))"#]
        {
            let err = handler(bad).unwrap_err();
            assert!(err.contains("(cpu: Constant(\"2ms\"), wait: Constant(\"48ms\"))"), "{bad}: {err}");
        }
    }

    #[test]
    fn codec_rates_are_the_measured_ones() {
        assert_eq!(Codec::Json.rates(), (41e6, 39e6));
        let (_, loads) = Codec::Pydantic.rates();
        // json.loads then validation: 62 KB costs 62e3/39e6 + 0.35 ms.
        assert!((62e3 / loads - (62e3 / 39e6 + 0.35e-3)).abs() < 1e-12);
    }
}
