//! The discrete-event engine: a clock, an event queue, random streams and a
//! run loop. It knows nothing about caches, RON files or the command line:
//! a model is any type that handles its own event enum.

pub mod queue;
pub mod rng;
pub mod time;

pub use queue::{EventKey, EventQueue};
pub use rng::{SimRng, stream};
pub use time::{NANOS_PER_SEC, SimDuration, SimTime};

/// A simulation model: owns its state and reacts to its events.
///
/// Events are a plain enum dispatched by one `match`: no allocation or
/// dynamic dispatch per event.
pub trait Model {
    /// The model's event type.
    type Event;

    /// Handles one event at `queue.now()`, scheduling any follow-ups on `queue`.
    fn handle(&mut self, queue: &mut EventQueue<Self::Event>, event: Self::Event);
}

/// Runs `model` until no event remains at or before `until`, or `max_events`
/// have been processed. Returns whether the event budget stopped the run.
pub fn run<M: Model>(model: &mut M, queue: &mut EventQueue<M::Event>, until: SimTime, max_events: u64) -> bool {
    while let Some((_, event)) = queue.pop_until(until) {
        model.handle(queue, event);
        if queue.events_processed() >= max_events {
            return true;
        }
    }
    false
}
