//! A server's network link: transfers go one at a time in each direction,
//! FIFO, at the line rate (full duplex). A transfer's time is known when it
//! starts, so the link needs no events of its own: each transfer's end is
//! the later of now and the previous transfer's end, plus its own time.

use crate::config::WIRE_PER_PAYLOAD;
use crate::engine::{SimDuration, SimTime};

/// Which way a transfer goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Responses leaving the server.
    Out = 0,
    /// Fetched payloads arriving.
    In = 1,
}

/// One server's link.
pub struct Link {
    /// Wire nanoseconds per byte of payload.
    ns_per_byte: f64,
    /// When each direction's last transfer ends.
    free_at: [SimTime; 2],
    /// Each direction's busy nanoseconds in the measured window.
    pub busy_ns: [u64; 2],
}

impl Link {
    pub fn new(spec: &crate::config::Link) -> Link {
        Link { ns_per_byte: WIRE_PER_PAYLOAD * 1e9 / spec.bytes_per_s, free_at: [SimTime::ZERO; 2], busy_ns: [0; 2] }
    }

    /// The time `bytes` of payload take on the wire.
    pub fn time(&self, bytes: u64) -> SimDuration {
        SimDuration(crate::engine::round_nanos(bytes as f64 * self.ns_per_byte))
    }

    /// Queues a transfer of `bytes` at `now`; returns when its last byte is
    /// through. Its wire time counts as busy when `measured` (the window
    /// holds `now`; a transfer is short beside the window, so its start
    /// decides).
    pub fn transfer(&mut self, now: SimTime, bytes: u64, dir: Direction, measured: bool) -> SimTime {
        let d = dir as usize;
        let took = self.time(bytes);
        let done = self.free_at[d].max(now).after(took);
        self.free_at[d] = done;
        if measured {
            self.busy_ns[d] += took.0;
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfers_queue_in_order_and_directions_do_not_wait_for_each_other() {
        // 1448 bytes of payload at 1538 bytes/s: one second each.
        let mut l = Link::new(&crate::config::Link { bytes_per_s: 1538.0 });
        let s = SimTime(1_000_000_000);
        assert_eq!(l.transfer(SimTime::ZERO, 1448, Direction::Out, true), s);
        assert_eq!(l.transfer(SimTime::ZERO, 1448, Direction::Out, true), SimTime(2 * s.0));
        assert_eq!(l.transfer(SimTime::ZERO, 1448, Direction::In, false), s);
        assert_eq!(l.busy_ns, [2 * s.0, 0]);
        // An idle link starts a transfer at once.
        assert_eq!(l.transfer(SimTime(5 * s.0), 1448, Direction::Out, false), SimTime(6 * s.0));
    }
}
