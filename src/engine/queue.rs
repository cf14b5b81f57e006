//! The event queue: a binary heap ordered by (time, insertion sequence), so
//! that events at the same instant run in the order they were scheduled.
//!
//! Three details keep the hot loop cheap:
//! - the heap holds only 16-byte keys, (time, sequence << 32 | index), as
//!   small as a bare `BinaryHeap<Reverse<(u64, u64)>>`'s; the events
//!   themselves wait in a slab at `index`, so sifting moves half the bytes
//!   (with a million events pending, half the cache misses). Sequence numbers
//!   are unique, so the keys order exactly as (time, sequence) would. When the
//!   32 sequence bits run out, the entries are renumbered by rank, which keeps
//!   their order (see [`EventQueue::renumber`]);
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

use std::cmp::Reverse;
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

/// The low bits of a heap key: the event's index in the slab.
const INDEX_BITS: u32 = 32;
const INDEX_MASK: u64 = (1 << INDEX_BITS) - 1;
/// The first sequence number that no longer fits above the index bits.
const SEQ_LIMIT: u64 = 1 << (64 - INDEX_BITS);

/// A heap entry: (time in nanoseconds, sequence << INDEX_BITS | slab index),
/// reversed because `BinaryHeap` is a max-heap and we want the earliest first.
type Key = Reverse<(u64, u64)>;

/// An event waiting in the slab for its heap key to surface, with its slot.
struct Waiting<E> {
    event: Option<E>,
    slot: u32,
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
    /// Sequence numbers of the heap's entries so far (since the last renumbering).
    next_seq: u64,
    heap: BinaryHeap<Key>,
    /// The events of the heap's entries, at their keys' indices.
    waiting: Vec<Waiting<E>>,
    /// Indices of `waiting` whose event has left.
    free_waiting: Vec<u32>,
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
            waiting: Vec::with_capacity(1024),
            free_waiting: Vec::with_capacity(1024),
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

    // Always inlined: it is small once the rare paths are out of line, and a
    // call per event costs as much as the rest of the bookkeeping.
    #[inline(always)]
    fn push(&mut self, time: SimTime, slot: u32, event: E) {
        if time <= self.now {
            self.current.push_back((slot, event));
            return;
        }
        if self.next_seq == SEQ_LIMIT {
            self.renumber();
        }
        let index = match self.free_waiting.pop() {
            Some(index) => {
                self.waiting[index as usize] = Waiting { event: Some(event), slot };
                index
            }
            None => self.wait_new(slot, event),
        };
        self.heap.push(Reverse((time.0, self.next_seq << INDEX_BITS | u64::from(index))));
        self.next_seq += 1;
    }

    /// A new place in the slab, for when no freed one is left.
    #[cold]
    #[inline(never)]
    fn wait_new(&mut self, slot: u32, event: E) -> u32 {
        // Each waiting event takes more than 16 bytes: 2^32 of them cannot
        // fit in memory (nor within the memory guard).
        let index = u32::try_from(self.waiting.len()).expect("fewer than 2^32 pending events");
        self.waiting.push(Waiting { event: Some(event), slot });
        index
    }

    /// Gives the heap's entries new sequence numbers 0, 1, 2, ... in the
    /// order of their old ones, so that numbering can go on. Keys compare as
    /// they did (time first, then a sequence number that kept its rank), so
    /// the pop order is unchanged.
    #[cold]
    #[inline(never)]
    fn renumber(&mut self) {
        let mut entries = std::mem::take(&mut self.heap).into_vec();
        let mut by_seq: Vec<usize> = (0..entries.len()).collect();
        by_seq.sort_unstable_by_key(|&i| entries[i].0.1 >> INDEX_BITS);
        for (rank, &i) in by_seq.iter().enumerate() {
            let key = &mut entries[i].0.1;
            *key = (rank as u64) << INDEX_BITS | (*key & INDEX_MASK);
        }
        self.next_seq = entries.len() as u64;
        self.heap = BinaryHeap::from(entries);
    }

    /// Pops the heap's earliest entry: its time, event and slot.
    #[inline(always)]
    fn pop_heap(&mut self) -> Option<(SimTime, E, u32)> {
        let Reverse((time, key)) = self.heap.pop()?;
        let index = (key & INDEX_MASK) as u32;
        let w = &mut self.waiting[index as usize];
        let event = w.event.take().expect("a heap key's event waits at its index");
        let slot = w.slot;
        self.free_waiting.push(index);
        Some((SimTime(time), event, slot))
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
            let (slot, event) = if self.heap.peek().is_some_and(|k| k.0.0 <= self.now.0) {
                // Heap entries at the current instant predate the deque's.
                let (_, event, slot) = self.pop_heap().expect("peeked");
                (slot, event)
            } else if let Some(item) = self.current.pop_front() {
                item
            } else {
                if self.heap.peek()?.0.0 > limit.0 {
                    return None;
                }
                let (time, event, slot) = self.pop_heap().expect("peeked");
                if self.leaves(slot) {
                    continue;
                }
                self.now = time;
                self.popped += 1;
                return Some((self.now, event));
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

    #[test]
    fn renumbering_when_sequence_numbers_run_out_keeps_the_order() {
        let mut q = EventQueue::new();
        q.next_seq = SEQ_LIMIT - 3;
        for (t, e) in [(7, 1), (5, 2), (7, 3), (5, 4), (9, 5), (7, 6)] {
            q.schedule_at(SimTime(t), e);
        }
        assert!(q.next_seq < 10, "renumbered");
        assert_eq!(q.pop(), Some((SimTime(5), 2)));
        q.next_seq = SEQ_LIMIT;
        q.schedule_at(SimTime(7), 7);
        assert_eq!(q.next_seq, 6, "five entries renumbered, one new");
        assert_eq!(drain(&mut q), vec![(5, 4), (7, 1), (7, 3), (7, 6), (7, 7), (9, 5)]);
    }

    /// The queue against a reference: a sorted map keyed by (the time an
    /// event runs, the order it was scheduled in), with cancelled ones
    /// removed, under random schedules (past, present, ties), cancellations,
    /// limits and clock moves, with sequence numbers run out on the way.
    #[test]
    fn matches_a_sorted_map_of_time_then_scheduling_order() {
        use rand::RngExt;
        use std::collections::BTreeMap;
        for seed in 0..20 {
            let mut rng = super::super::rng::stream(seed, 0, "queue-reference");
            let mut q = EventQueue::new();
            let mut reference: BTreeMap<(u64, u64), u32> = BTreeMap::new();
            let mut keys: Vec<(EventKey, (u64, u64))> = Vec::new();
            let mut order = 0u64;
            for step in 0..4000u32 {
                if step % 1000 == 999 {
                    q.next_seq = SEQ_LIMIT - rng.random_range(0..5u64);
                }
                let now = q.now().0;
                match rng.random_range(0..10u32) {
                    0..=4 => {
                        // Coarse times, so that ties are common.
                        let t = now.saturating_sub(20) + 10 * rng.random_range(0..20u64);
                        let at = (t.max(now), order);
                        order += 1;
                        if rng.random_range(0..3u32) == 0 {
                            keys.push((q.schedule_cancellable_at(SimTime(t), step), at));
                        } else {
                            q.schedule_at(SimTime(t), step);
                        }
                        reference.insert(at, step);
                    }
                    5 if !keys.is_empty() => {
                        let (key, at) = keys.swap_remove(rng.random_range(0..keys.len()));
                        q.cancel(key);
                        reference.remove(&at);
                    }
                    6 => {
                        // As a run closes: only past events all run.
                        let t = now + rng.random_range(0..15u64);
                        if reference.first_key_value().is_none_or(|(k, _)| k.0 > t) {
                            q.advance_to(SimTime(t));
                        }
                    }
                    _ => {
                        let limit = now + rng.random_range(0..40u64);
                        let want = reference.first_key_value().filter(|(k, _)| k.0 <= limit).map(|(&k, &e)| (k, e));
                        let got = q.pop_until(SimTime(limit));
                        match want {
                            Some((k, e)) => {
                                reference.remove(&k);
                                assert_eq!(got, Some((SimTime(k.0), e)), "seed {seed} step {step}");
                            }
                            None => assert_eq!(got, None, "seed {seed} step {step}"),
                        }
                    }
                }
                assert_eq!(q.pending(), reference.len(), "seed {seed} step {step}");
            }
            let rest: Vec<(u64, u32)> = reference.iter().map(|(k, &e)| (k.0, e)).collect();
            assert_eq!(drain(&mut q), rest, "seed {seed}");
        }
    }
}
