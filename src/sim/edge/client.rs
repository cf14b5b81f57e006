//! Clients that time out and retry (`workload.client`): the sustaining
//! effect of the classic metastable failure (Bronson et al., HotOS 2021).
//!
//! Each client request carries a timer. When it fires first, the client
//! abandons the request: the service does not know and finishes the work
//! (then counted as `client_timeout`, since nobody received it), and the
//! client sends the request again after its backoff, as a new arrival. Under
//! overload every attempt times out, so each request becomes 1 + retries
//! attempts of work: the load that keeps the service overloaded after the
//! trigger is gone.

use rand::RngExt;

use crate::config::ClientRetry;
use crate::engine::{EventQueue, SimDuration, SimRng};

use crate::sim::request::ReqId;
use crate::sim::world::{Event, World};

/// The clients' settings and their backoff stream.
pub struct Clients {
    timeout: SimDuration,
    retries: u32,
    backoff_s: f64,
    multiplier: f64,
    max_backoff_s: f64,
    rng: SimRng,
}

impl Clients {
    pub fn new(spec: &ClientRetry, rng: SimRng) -> Clients {
        Clients {
            timeout: spec.timeout.0,
            retries: spec.retries,
            backoff_s: spec.backoff.as_secs_f64(),
            multiplier: spec.multiplier,
            max_backoff_s: spec.max_backoff.as_secs_f64(),
            rng,
        }
    }

    /// The sleep before retry `k` (from 1): full jitter below the capped
    /// exponential backoff.
    fn backoff(&mut self, k: u32) -> SimDuration {
        let top = (self.backoff_s * self.multiplier.powi(k.saturating_sub(1).min(1000) as i32)).min(self.max_backoff_s);
        if top <= 0.0 {
            return SimDuration::ZERO;
        }
        SimDuration::from_secs_f64(self.rng.random::<f64>() * top)
    }
}

impl World {
    /// A client request entered: its client starts waiting.
    pub(in crate::sim) fn client_waits(&mut self, q: &mut EventQueue<Event>, id: ReqId) {
        if let Some(c) = self.clients_retry.as_ref() {
            let timer = q.schedule_cancellable_in(c.timeout, Event::ClientTimeout(id));
            self.requests.get_mut(id).client_timer = Some(timer);
        }
    }

    /// The client gave up on request `id`: it is abandoned (the service goes
    /// on), and sent again unless the client is out of retries.
    pub(in crate::sim) fn on_client_timeout(&mut self, q: &mut EventQueue<Event>, id: ReqId) {
        let now = q.now();
        let req = self.requests.get_mut(id);
        req.client_timer = None;
        req.abandoned = true;
        let (attempt, counted) = (req.attempt, req.counted);
        self.stats.abandoned += u64::from(counted);
        let c = self.clients_retry.as_mut().expect("a client timer needs clients");
        if attempt < c.retries {
            let sleep = c.backoff(attempt + 1);
            self.stats.client_retries += u64::from(self.stats.measuring(now.after(sleep)));
            q.schedule_in(sleep, Event::ClientRetry(attempt + 1));
        }
    }

    /// A client sends its request again (retry `attempt`).
    pub(in crate::sim) fn on_client_retry(&mut self, q: &mut EventQueue<Event>, attempt: u32) {
        self.enter_attempt(q, u32::MAX, attempt);
    }
}
