//! The discrete-event engine: a clock, an event queue, random streams and a
//! run loop. It knows nothing about caches, RON files or the command line:
//! a model is any type that handles its own event enum.

pub mod queue;
pub mod rng;
pub mod time;

pub use queue::{EventKey, EventQueue};
pub use rng::{SimRng, stream};
pub use time::{NANOS_PER_SEC, SimDuration, SimTime, round_nanos};

/// A simulation model: owns its state and reacts to its events.
///
/// Events are a plain enum dispatched by one `match`: no allocation or
/// dynamic dispatch per event.
pub trait Model {
    /// The model's event type.
    type Event;

    /// Handles one event at `queue.now()`, scheduling any follow-ups on `queue`.
    fn handle(&mut self, queue: &mut EventQueue<Self::Event>, event: Self::Event);

    /// A number that identifies the event (its kind and subject) in the
    /// trace fingerprint. The default, 0, fingerprints times alone.
    fn tag(_event: &Self::Event) -> u64 {
        0
    }

    /// Whether the model asks to stop now (e.g. a memory guard tripped).
    fn stopped(&self) -> bool {
        false
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunEnd {
    /// The event budget, or the model itself, stopped the run early.
    pub truncated: bool,
    /// A hash of every event's time and tag, in order (as OMNeT++'s
    /// fingerprints): equal for equal traces, and almost surely different
    /// when anything in the simulation changed.
    pub fingerprint: u64,
}

/// Folds one event into a trace fingerprint.
#[inline]
fn fold(fp: u64, time: SimTime, tag: u64) -> u64 {
    ((fp ^ time.0).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(31) ^ tag).wrapping_mul(0xBF58_476D_1CE4_E5B9)
}

/// Runs `model` until no event remains at or before `until`, or `max_events`
/// have been processed.
pub fn run<M: Model>(model: &mut M, queue: &mut EventQueue<M::Event>, until: SimTime, max_events: u64) -> RunEnd {
    let mut fingerprint = 0xCBF2_9CE4_8422_2325;
    while let Some((time, event)) = queue.pop_until(until) {
        fingerprint = fold(fingerprint, time, M::tag(&event));
        model.handle(queue, event);
        if queue.events_processed() >= max_events || model.stopped() {
            return RunEnd { truncated: true, fingerprint };
        }
    }
    RunEnd { truncated: false, fingerprint }
}
