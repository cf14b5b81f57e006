//! Expiry spans: which fetches each cache expiry caused.
//!
//! A span opens when a request finds an entry expired (or due for an early
//! refresh) and closes at the fill that follows. Every request that joined
//! it counts its fetch in it, even one that reaches the backend after the
//! fill: a Redis lock waiter that acquires the lock after the first SETEX
//! and fetches again was still sent by that expiry. So a span lives until
//! it is closed and its last request has left; the table reuses its slot
//! then, which keeps memory bounded by the requests in flight.

use crate::metrics::Recorder;

/// A request that belongs to no span.
pub const NO_SPAN: u32 = u32::MAX;

#[derive(Clone, Copy, Default)]
struct Span {
    /// Fetches that reached the backend.
    reached: u64,
    /// Attempts the rate limit or an outage refused.
    refused: u64,
    /// The cache, while the span is open, and each request in it.
    holders: u32,
    closed: bool,
    /// Whether it closed after the warm-up (only those are reported).
    measured: bool,
}

#[derive(Default)]
pub struct ExpirySpans {
    spans: Vec<Span>,
    free: Vec<u32>,
}

impl ExpirySpans {
    /// A new open span, held by its cache.
    pub fn open(&mut self) -> u32 {
        let span = Span { holders: 1, ..Span::default() };
        match self.free.pop() {
            Some(i) => {
                self.spans[i as usize] = span;
                i
            }
            None => {
                self.spans.push(span);
                (self.spans.len() - 1) as u32
            }
        }
    }

    /// A request whose span is `member` joins `span`, unless it is in one
    /// already (the first expiry it met sent it).
    pub fn enter(&mut self, member: &mut u32, span: u32) {
        if *member == NO_SPAN {
            *member = span;
            self.spans[span as usize].holders += 1;
        }
    }

    /// A fetch of a request in `span` reached the backend.
    pub fn reached(&mut self, span: u32) {
        if span != NO_SPAN {
            self.spans[span as usize].reached += 1;
        }
    }

    /// An attempt of a request in `span` was refused.
    pub fn refused(&mut self, span: u32) {
        if span != NO_SPAN {
            self.spans[span as usize].refused += 1;
        }
    }

    /// The fill that ends `span`; its cache lets go of it.
    pub fn close(&mut self, span: u32, measured: bool, stats: &mut Recorder) {
        let s = &mut self.spans[span as usize];
        (s.closed, s.measured) = (true, measured);
        self.leave(span, stats);
    }

    /// A request (or the cache) lets go of `span`; the last one out reports
    /// a closed span.
    pub fn leave(&mut self, span: u32, stats: &mut Recorder) {
        if span == NO_SPAN {
            return;
        }
        let s = &mut self.spans[span as usize];
        s.holders -= 1;
        if s.holders == 0 {
            if s.measured {
                stats.expiry_counted(s.reached, s.refused);
            }
            self.free.push(span);
        }
    }

    /// The run ended: closed spans whose requests are still in flight
    /// report what they have (spans never closed are no expiry yet).
    pub fn finish(&mut self, stats: &mut Recorder) {
        for s in &mut self.spans {
            if s.holders > 0 && s.closed && s.measured {
                stats.expiry_counted(s.reached, s.refused);
                s.holders = 0;
            }
        }
    }
}
