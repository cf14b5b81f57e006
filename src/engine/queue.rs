//! The event queue: a binary heap ordered by (time, insertion sequence), so
//! that events at the same instant run in the order they were scheduled.
//!
//! Two details keep the hot loop cheap:
//! - events scheduled for the current instant (a lock release or a cache fill
//!   that wakes hundreds of waiters) go to a FIFO deque, not the heap: O(1)
//!   each, and still in (time, sequence) order, because every heap entry at the
//!   current instant was scheduled before any deque entry;
//! - cancellation is lazy: a cancelled key is remembered and its event skipped
//!   when it surfaces, so timers that rarely fire (pool-wait timeouts) cost one
//!   set insert to cancel.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashSet, VecDeque};

use super::time::{SimDuration, SimTime};

/// Identifies one scheduled event, for [`EventQueue::cancel`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventKey(u64);

struct Entry<E> {
    time: SimTime,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.time == other.time && self.seq == other.seq
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    // Reversed: BinaryHeap is a max-heap and we want the earliest first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

/// A deterministic future-event list with a simulated clock.
pub struct EventQueue<E> {
    now: SimTime,
    next_seq: u64,
    heap: BinaryHeap<Entry<E>>,
    /// Events scheduled for `now` while the clock stood at `now`.
    current: VecDeque<(u64, E)>,
    cancelled: HashSet<u64>,
    popped: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    /// An empty queue with the clock at zero.
    pub fn new() -> Self {
        EventQueue {
            now: SimTime::ZERO,
            next_seq: 0,
            heap: BinaryHeap::with_capacity(1024),
            current: VecDeque::with_capacity(256),
            cancelled: HashSet::new(),
            popped: 0,
        }
    }

    /// The simulated clock: the time of the event last popped.
    #[inline]
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// How many events have been popped (cancelled ones not counted).
    pub fn events_processed(&self) -> u64 {
        self.popped
    }

    /// Events waiting, including cancelled ones not yet skipped.
    pub fn pending(&self) -> usize {
        self.heap.len() + self.current.len()
    }

    /// Schedules `event` at `time`. A time in the past is treated as now: the
    /// clock never goes back.
    #[inline]
    pub fn schedule_at(&mut self, time: SimTime, event: E) -> EventKey {
        let seq = self.next_seq;
        self.next_seq += 1;
        if time <= self.now {
            self.current.push_back((seq, event));
        } else {
            self.heap.push(Entry { time, seq, event });
        }
        EventKey(seq)
    }

    /// Schedules `event` after `delay`.
    #[inline]
    pub fn schedule_in(&mut self, delay: SimDuration, event: E) -> EventKey {
        self.schedule_at(self.now.after(delay), event)
    }

    /// Cancels an event. Cancelling one that already ran is a no-op.
    pub fn cancel(&mut self, key: EventKey) {
        if key.0 < self.next_seq {
            self.cancelled.insert(key.0);
        }
    }

    /// Pops the next event at or before `limit`, advancing the clock to it.
    /// Returns `None` (and leaves the clock alone) when none remains by then.
    #[inline]
    pub fn pop_until(&mut self, limit: SimTime) -> Option<(SimTime, E)> {
        loop {
            let (seq, event) = if self.heap.peek().is_some_and(|e| e.time <= self.now) {
                // Heap entries at the current instant predate the deque's.
                let e = self.heap.pop().expect("peeked");
                (e.seq, e.event)
            } else if let Some(item) = self.current.pop_front() {
                item
            } else {
                let next = self.heap.peek()?;
                if next.time > limit {
                    return None;
                }
                let e = self.heap.pop().expect("peeked");
                self.now = e.time;
                (e.seq, e.event)
            };
            if !self.cancelled.is_empty() && self.cancelled.remove(&seq) {
                continue;
            }
            self.popped += 1;
            return Some((self.now, event));
        }
    }

    /// Pops the next event, whenever it is.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        self.pop_until(SimTime::MAX)
    }

    /// Moves the clock forward to `time` without an event (used to close a run
    /// at its end time). Never moves it back.
    pub fn advance_to(&mut self, time: SimTime) {
        if time > self.now {
            self.now = time;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(q: &mut EventQueue<u32>) -> Vec<(u64, u32)> {
        std::iter::from_fn(|| q.pop().map(|(t, e)| (t.0, e))).collect()
    }

    #[test]
    fn orders_by_time_then_insertion() {
        let mut q = EventQueue::new();
        q.schedule_at(SimTime(5), 1);
        q.schedule_at(SimTime(3), 2);
        q.schedule_at(SimTime(5), 3);
        q.schedule_at(SimTime(3), 4);
        assert_eq!(drain(&mut q), vec![(3, 2), (3, 4), (5, 1), (5, 3)]);
    }

    #[test]
    fn same_instant_events_keep_fifo_order_across_heap_and_deque() {
        let mut q = EventQueue::new();
        q.schedule_at(SimTime(10), 1);
        q.schedule_at(SimTime(10), 2);
        // Pop the first; while at t=10 schedule more for "now".
        assert_eq!(q.pop(), Some((SimTime(10), 1)));
        q.schedule_at(SimTime(10), 3);
        q.schedule_in(SimDuration::ZERO, 4);
        // 2 was scheduled before 3 and 4, so it must come first.
        assert_eq!(drain(&mut q), vec![(10, 2), (10, 3), (10, 4)]);
    }

    #[test]
    fn cancelled_events_are_skipped_and_not_counted() {
        let mut q = EventQueue::new();
        let a = q.schedule_at(SimTime(1), 1);
        q.schedule_at(SimTime(2), 2);
        q.cancel(a);
        assert_eq!(drain(&mut q), vec![(2, 2)]);
        assert_eq!(q.events_processed(), 1);
    }

    #[test]
    fn pop_until_stops_at_limit_and_clock_never_goes_back() {
        let mut q = EventQueue::new();
        q.schedule_at(SimTime(100), 1);
        assert_eq!(q.pop_until(SimTime(50)), None);
        assert_eq!(q.now(), SimTime(0));
        q.advance_to(SimTime(60));
        q.schedule_at(SimTime(10), 2); // in the past: runs now
        assert_eq!(q.pop(), Some((SimTime(60), 2)));
        assert_eq!(q.pop(), Some((SimTime(100), 1)));
        q.advance_to(SimTime(5));
        assert_eq!(q.now(), SimTime(100));
    }
}
