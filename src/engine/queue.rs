//! The event queue: a binary heap ordered by (time, insertion sequence), so
//! that events at the same instant run in the order they were scheduled.
//!
//! Two details keep the hot loop cheap:
//! - events scheduled for the current instant (a lock release or a cache fill
//!   that wakes hundreds of waiters) go to a FIFO deque, not the heap: O(1)
//!   each, and still in (time, sequence) order, because every heap entry at the
//!   current instant was scheduled before any deque entry;
//! - cancellation is O(1) and hash-free: a cancellable event holds a slot in a
//!   small slab, and its key is (slot, generation). Cancelling marks the slot;
//!   the event is dropped when it surfaces, *without moving the clock* and
//!   without ever counting as pending. When an event runs or is dropped its slot's
//!   generation moves on, so cancelling a key whose event already ran finds a
//!   newer generation and leaves nothing behind.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

use super::time::{SimDuration, SimTime};

/// Identifies one cancellable event, for [`EventQueue::cancel`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventKey {
    slot: u32,
    generation: u32,
}

/// The slot of an event that cannot be cancelled.
const NO_SLOT: u32 = u32::MAX;

struct Entry<E> {
    time: SimTime,
    seq: u64,
    slot: u32,
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

/// One cancellable event's slot: its generation, and whether it was cancelled.
#[derive(Clone, Copy, Default)]
struct Slot {
    generation: u32,
    cancelled: bool,
}

/// A deterministic future-event list with a simulated clock.
pub struct EventQueue<E> {
    now: SimTime,
    next_seq: u64,
    heap: BinaryHeap<Entry<E>>,
    /// Events scheduled for `now` while the clock stood at `now`, with their slots.
    current: VecDeque<(u32, E)>,
    slots: Vec<Slot>,
    free_slots: Vec<u32>,
    /// Cancelled events still in the heap or the deque.
    cancelled: usize,
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
            slots: Vec::new(),
            free_slots: Vec::new(),
            cancelled: 0,
            popped: 0,
        }
    }

    /// The simulated clock: the time of the event last run.
    #[inline]
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// How many events have run (cancelled ones not counted).
    pub fn events_processed(&self) -> u64 {
        self.popped
    }

    /// Events still to run; cancelled ones are not counted.
    pub fn pending(&self) -> usize {
        self.heap.len() + self.current.len() - self.cancelled
    }

    #[inline]
    fn push(&mut self, time: SimTime, slot: u32, event: E) {
        let seq = self.next_seq;
        self.next_seq += 1;
        if time <= self.now {
            self.current.push_back((slot, event));
        } else {
            self.heap.push(Entry { time, seq, slot, event });
        }
    }

    /// Schedules `event` at `time`. A time in the past is treated as now: the
    /// clock never goes back.
    #[inline]
    pub fn schedule_at(&mut self, time: SimTime, event: E) {
        self.push(time, NO_SLOT, event);
    }

    /// Schedules `event` after `delay`.
    #[inline]
    pub fn schedule_in(&mut self, delay: SimDuration, event: E) {
        self.schedule_at(self.now.after(delay), event)
    }

    /// Schedules `event` at `time`, returning a key that can cancel it.
    pub fn schedule_cancellable_at(&mut self, time: SimTime, event: E) -> EventKey {
        let slot = match self.free_slots.pop() {
            Some(slot) => slot,
            None => {
                // More live timers than u32 slots cannot exist within the
                // memory guard's bound on requests in flight.
                let slot = u32::try_from(self.slots.len()).expect("fewer than 2^32 live timers");
                self.slots.push(Slot::default());
                slot
            }
        };
        let generation = self.slots[slot as usize].generation;
        self.push(time, slot, event);
        EventKey { slot, generation }
    }

    /// Schedules `event` after `delay`, returning a key that can cancel it.
    pub fn schedule_cancellable_in(&mut self, delay: SimDuration, event: E) -> EventKey {
        self.schedule_cancellable_at(self.now.after(delay), event)
    }

    /// Cancels an event: it will not run, will not move the clock and no
    /// longer counts as pending. Cancelling one that already ran, or was
    /// already cancelled, does nothing.
    pub fn cancel(&mut self, key: EventKey) {
        if let Some(s) = self.slots.get_mut(key.slot as usize)
            && s.generation == key.generation
            && !s.cancelled
        {
            s.cancelled = true;
            self.cancelled += 1;
        }
    }

    /// Frees the slot of an event leaving the queue; true if it was cancelled.
    #[inline]
    fn leaves(&mut self, slot: u32) -> bool {
        if slot == NO_SLOT {
            return false;
        }
        let s = &mut self.slots[slot as usize];
        let was_cancelled = s.cancelled;
        s.cancelled = false;
        s.generation = s.generation.wrapping_add(1);
        self.free_slots.push(slot);
        if was_cancelled {
            self.cancelled -= 1;
        }
        was_cancelled
    }

    /// Pops the next event at or before `limit`, advancing the clock to it.
    /// Returns `None` (and leaves the clock alone) when none remains by then.
    /// Cancelled events are dropped on the way and never move the clock.
    #[inline]
    pub fn pop_until(&mut self, limit: SimTime) -> Option<(SimTime, E)> {
        loop {
            let (slot, event) = if self.heap.peek().is_some_and(|e| e.time <= self.now) {
                // Heap entries at the current instant predate the deque's.
                let e = self.heap.pop().expect("peeked");
                (e.slot, e.event)
            } else if let Some(item) = self.current.pop_front() {
                item
            } else {
                let next = self.heap.peek()?;
                if next.time > limit {
                    return None;
                }
                let e = self.heap.pop().expect("peeked");
                if self.leaves(e.slot) {
                    continue;
                }
                self.now = e.time;
                self.popped += 1;
                return Some((self.now, e.event));
            };
            if self.leaves(slot) {
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
        let a = q.schedule_cancellable_at(SimTime(1), 1);
        q.schedule_at(SimTime(2), 2);
        q.cancel(a);
        assert_eq!(q.pending(), 1);
        assert_eq!(drain(&mut q), vec![(2, 2)]);
        assert_eq!(q.events_processed(), 1);
    }

    #[test]
    fn a_cancelled_event_never_moves_the_clock() {
        let mut q = EventQueue::new();
        q.schedule_at(SimTime(5), 1);
        let late = q.schedule_cancellable_at(SimTime(1_000), 2);
        q.cancel(late);
        assert_eq!(q.pop(), Some((SimTime(5), 1)));
        assert_eq!(q.pending(), 0);
        assert_eq!(q.pop(), None);
        assert_eq!(q.now(), SimTime(5), "the clock stays at the last real event");
    }

    #[test]
    fn a_cancelled_event_at_the_current_instant_is_dropped() {
        let mut q = EventQueue::new();
        q.schedule_at(SimTime(3), 1);
        assert_eq!(q.pop(), Some((SimTime(3), 1)));
        let now = q.schedule_cancellable_in(SimDuration::ZERO, 2);
        q.schedule_in(SimDuration::ZERO, 3);
        q.cancel(now);
        assert_eq!(drain(&mut q), vec![(3, 3)]);
    }

    #[test]
    fn cancelling_an_event_that_already_ran_leaves_nothing_behind() {
        let mut q = EventQueue::new();
        let a = q.schedule_cancellable_at(SimTime(1), 1);
        assert_eq!(q.pop(), Some((SimTime(1), 1)));
        // The slot is reused by a new timer; the stale key must not cancel it.
        let b = q.schedule_cancellable_at(SimTime(2), 2);
        q.cancel(a);
        q.cancel(a);
        assert_eq!(q.pending(), 1);
        assert_eq!(drain(&mut q), vec![(2, 2)]);
        q.cancel(b);
        assert_eq!(q.pending(), 0);
        assert_eq!(q.slots.len(), 1, "one slot served both timers");
    }

    #[test]
    fn cancelling_twice_counts_once() {
        let mut q = EventQueue::new();
        let a = q.schedule_cancellable_at(SimTime(1), 1);
        q.schedule_at(SimTime(2), 2);
        q.cancel(a);
        q.cancel(a);
        assert_eq!(q.pending(), 1);
        assert_eq!(drain(&mut q), vec![(2, 2)]);
        assert_eq!(q.pending(), 0);
    }

    #[test]
    fn pop_until_drops_cancelled_events_before_the_limit_without_moving_the_clock() {
        let mut q = EventQueue::new();
        let a = q.schedule_cancellable_at(SimTime(10), 1);
        q.schedule_at(SimTime(100), 2);
        q.cancel(a);
        assert_eq!(q.pop_until(SimTime(50)), None);
        assert_eq!(q.now(), SimTime(0));
        assert_eq!(q.pending(), 1);
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
