//! The event queue: events run in (time, scheduling order), so that events
//! at the same instant run in the order they were scheduled.
//!
//! Simulated time never goes back, so the queue is a *radix heap* (Ahuja,
//! Mehlhorn, Orlin and Tarjan 1990) on integer nanoseconds rather than a
//! comparison heap: no comparisons to mispredict, and pushing is O(1).
//! - `last` is the time of the entries last taken out; every pending entry
//!   is at or after it. An entry at `last` waits in `at_last`, a FIFO; one
//!   whose time first differs from `last` in bit `b - 1` (from the top) waits
//!   in `buckets[b]`. A push computes `b` from one XOR and a leading-zero count.
//! - When `at_last` is empty, the lowest non-empty bucket is emptied: `last`
//!   moves to its earliest time, and each of its entries drops to a lower
//!   bucket (or to `at_last`). An entry drops at most 64 times in its life,
//!   and in practice a few.
//! - Ties keep scheduling order without sequence numbers: entries with equal
//!   times always share a bucket (the bucket is a function of the time and
//!   `last`), each bucket is appended to in scheduling order, and emptying a
//!   bucket keeps its order. So `at_last` pops in the order of scheduling.
//!
//! Two more details keep the hot loop cheap:
//! - events scheduled for the current instant (a lock release or a cache fill
//!   that wakes hundreds of waiters) go to a FIFO deque, not the buckets: O(1)
//!   each, and still in (time, sequence) order, because every bucketed entry at
//!   the current instant was scheduled before any deque entry;
//! - cancellation is O(1) and hash-free: a cancellable event holds a slot in a
//!   small slab, and its key is (slot, generation). Cancelling marks the slot;
//!   the event is dropped when it surfaces, *without moving the clock* and
//!   without ever counting as pending. When an event runs or is dropped its slot's
//!   generation moves on, so cancelling a key whose event already ran finds a
//!   newer generation and leaves nothing behind.

use std::collections::VecDeque;

use super::time::{SimDuration, SimTime};

/// Identifies one cancellable event, for [`EventQueue::cancel`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventKey {
    slot: u32,
    generation: u32,
}

/// The slot of an event that cannot be cancelled.
const NO_SLOT: u32 = u32::MAX;

/// `buckets[1..=64]`, by the highest bit in which a time differs from `last`
/// (`buckets[0]` stays empty: entries at `last` are in `at_last`).
const BUCKETS: usize = 65;

/// A pending event: when it runs, its cancellation slot, and the event.
struct Entry<E> {
    time: u64,
    slot: u32,
    event: E,
}

/// One cancellable event's slot: its generation, and whether it was cancelled.
#[derive(Clone, Copy, Default)]
struct Slot {
    generation: u32,
    cancelled: bool,
}

/// The radix bucket of `time` relative to `last`: 0 if equal, else one more
/// than the index of the highest bit in which they differ.
#[inline(always)]
fn bucket_of(time: u64, last: u64) -> usize {
    (u64::BITS - (time ^ last).leading_zeros()) as usize
}

/// A deterministic future-event list with a simulated clock.
pub struct EventQueue<E> {
    now: SimTime,
    /// The time of the entries last taken from the buckets; no pending entry
    /// is earlier, and between pops it is never after `now` (so every push
    /// lands after it: see [`EventQueue::rebase`]).
    last: u64,
    /// Entries at `last`, in reverse scheduling order (the next on top).
    at_last: Vec<Entry<E>>,
    buckets: [Vec<Entry<E>>; BUCKETS],
    /// The earliest time in each bucket (`u64::MAX` when empty).
    mins: [u64; BUCKETS],
    /// Bit `b - 1` is set when `buckets[b]` holds entries.
    occupied: u64,
    /// Entries in `at_last` and the buckets, cancelled ones included.
    bucketed: usize,
    /// Events scheduled for `now` while the clock stood at `now`, with their slots.
    current: VecDeque<(u32, E)>,
    slots: Vec<Slot>,
    free_slots: Vec<u32>,
    /// Cancelled events still in the buckets or the deque.
    cancelled: usize,
    popped: u64,
    /// Calls of `rebase`, for the tests that aim at it.
    #[cfg(test)]
    rebases: u64,
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
            last: 0,
            at_last: Vec::with_capacity(64),
            buckets: std::array::from_fn(|_| Vec::new()),
            mins: [u64::MAX; BUCKETS],
            occupied: 0,
            bucketed: 0,
            current: VecDeque::with_capacity(256),
            slots: Vec::new(),
            free_slots: Vec::new(),
            cancelled: 0,
            popped: 0,
            #[cfg(test)]
            rebases: 0,
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
        self.bucketed + self.current.len() - self.cancelled
    }

    // Always inlined: it is small once the rare paths are out of line, and a
    // call per event costs as much as the rest of the bookkeeping.
    #[inline(always)]
    fn push(&mut self, time: SimTime, slot: u32, event: E) {
        if time <= self.now {
            self.current.push_back((slot, event));
            return;
        }
        // `last <= now` between pops (`pop_until` sees to it), so the entry
        // is after `last` and lands in a bucket.
        debug_assert!(time.0 > self.last, "the radix base is never ahead of the clock between pops");
        self.bucketed += 1;
        self.place(Entry { time: time.0, slot, event });
    }

    /// Files an entry (at or after `last`) in its bucket. Only emptying a
    /// bucket files entries at `last` itself (pushes and `rebase` never do,
    /// as `last <= now` for them): those go on `at_last`, which the emptying
    /// then reverses.
    #[inline(always)]
    fn place(&mut self, entry: Entry<E>) {
        let b = bucket_of(entry.time, self.last);
        if b == 0 {
            self.at_last.push(entry);
            return;
        }
        if entry.time < self.mins[b] {
            self.mins[b] = entry.time;
        }
        self.occupied |= 1 << (b - 1);
        self.buckets[b].push(entry);
    }

    /// The earliest pending time in the buckets, if any.
    #[inline(always)]
    fn earliest(&self) -> Option<u64> {
        if !self.at_last.is_empty() {
            Some(self.last)
        } else if self.occupied != 0 {
            Some(self.mins[self.occupied.trailing_zeros() as usize + 1])
        } else {
            None
        }
    }

    /// Takes the earliest bucketed entry (there is one).
    #[inline(always)]
    fn take(&mut self) -> Entry<E> {
        self.bucketed -= 1;
        match self.at_last.pop() {
            Some(entry) => entry,
            None => self.empty_lowest_bucket(),
        }
    }

    /// Moves `last` to the earliest time of the lowest non-empty bucket and
    /// files that bucket's entries again, in their order: each lands lower
    /// (or on `at_last`, empty until now). Returns the first entry at `last`.
    #[inline(never)]
    fn empty_lowest_bucket(&mut self) -> Entry<E> {
        let b = self.occupied.trailing_zeros() as usize + 1;
        self.last = self.mins[b];
        self.mins[b] = u64::MAX;
        self.occupied &= !(1 << (b - 1));
        let mut bucket = std::mem::take(&mut self.buckets[b]);
        // Most buckets hold one entry when they are emptied: it is the
        // earliest, and nothing else needs filing.
        let earliest = if bucket.len() == 1 {
            bucket.pop()
        } else {
            for entry in bucket.drain(..) {
                self.place(entry);
            }
            self.at_last.reverse();
            self.at_last.pop()
        };
        // Its allocation stays for the bucket's next entries.
        self.buckets[b] = bucket;
        earliest.expect("the lowest occupied bucket holds its minimum")
    }

    /// Files every entry again relative to an earlier `last`. Needed only when
    /// `pop_until` returns with the base ahead of the clock: cancelled events
    /// at `last` were dropped without moving the clock and nothing live is due
    /// by the limit. Moving the base back to the clock then keeps every later
    /// push O(1) (an event may be scheduled between the two). Rare, and
    /// O(pending): in a run, once at its end. Entries at equal times keep
    /// their order, because they share a container.
    #[cold]
    #[inline(never)]
    fn rebase(&mut self, last: u64) {
        #[cfg(test)]
        {
            self.rebases += 1;
        }
        let mut all: Vec<Entry<E>> = self.at_last.drain(..).rev().collect();
        for bucket in &mut self.buckets {
            all.append(bucket);
        }
        self.mins = [u64::MAX; BUCKETS];
        self.occupied = 0;
        self.last = last;
        for entry in all {
            self.place(entry);
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
            let earliest = self.earliest();
            let (slot, event) = if earliest.is_some_and(|t| t <= self.now.0) {
                // Bucketed entries at the current instant predate the deque's.
                let entry = self.take();
                (entry.slot, entry.event)
            } else if let Some(item) = self.current.pop_front() {
                item
            } else {
                let Some(time) = earliest.filter(|&t| t <= limit.0) else {
                    if self.last > self.now.0 {
                        self.rebase(self.now.0);
                    }
                    return None;
                };
                let entry = self.take();
                if self.leaves(entry.slot) {
                    continue;
                }
                self.now = SimTime(time);
                self.popped += 1;
                return Some((self.now, entry.event));
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
    fn scheduling_between_the_clock_and_dropped_cancelled_events_keeps_the_order() {
        let mut q = EventQueue::new();
        let a = q.schedule_cancellable_at(SimTime(100), 1);
        let b = q.schedule_cancellable_at(SimTime(100), 2);
        q.schedule_at(SimTime(1_000), 3);
        q.schedule_at(SimTime(1_000), 4);
        q.cancel(a);
        q.cancel(b);
        // Dropping both takes the radix base to 100 but not the clock; the
        // pop that returns nothing brings the base back to the clock.
        assert_eq!(q.pop_until(SimTime(500)), None);
        assert_eq!(q.now(), SimTime(0));
        assert_eq!((q.last, q.rebases), (0, 1));
        q.schedule_at(SimTime(50), 5);
        q.schedule_at(SimTime(1_000), 6);
        q.schedule_at(SimTime(50), 7);
        assert_eq!(drain(&mut q), vec![(50, 5), (50, 7), (1_000, 3), (1_000, 4), (1_000, 6)]);
    }

    #[test]
    fn a_burst_where_dropped_timers_were_pops_in_scheduling_order() {
        // Many events at the time of a dropped timer, the clock behind it
        // (with the base left there, each once went in front of a Vec).
        let mut q = EventQueue::new();
        let a = q.schedule_cancellable_at(SimTime(100), 0);
        q.schedule_at(SimTime(1_000), 1);
        q.cancel(a);
        assert_eq!(q.pop_until(SimTime(500)), None);
        for e in 2..100_002 {
            q.schedule_at(SimTime(100), e);
        }
        let mut want: Vec<(u64, u32)> = (2..100_002).map(|e| (100, e)).collect();
        want.push((1_000, 1));
        assert_eq!(drain(&mut q), want);
        assert_eq!(q.rebases, 1);
    }

    #[test]
    fn times_across_the_whole_range_pop_in_order() {
        let mut q = EventQueue::new();
        let times = [u64::MAX - 1, 1, 1 << 63, 3, (1 << 63) + 1, 2, u64::MAX - 1, 1 << 40];
        for (e, &t) in times.iter().enumerate() {
            q.schedule_at(SimTime(t), e as u32);
        }
        let mut want: Vec<(u64, u32)> = times.iter().enumerate().map(|(e, &t)| (t, e as u32)).collect();
        want.sort();
        assert_eq!(drain(&mut q), want);
    }

    /// The queue against a reference: a sorted map keyed by (the time an
    /// event runs, the order it was scheduled in), with cancelled ones
    /// removed, under random schedules (past, present, ties, and now and then
    /// far ahead, so that entries drop through many buckets), cancellations,
    /// limits and clock moves.
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
                let now = q.now().0;
                match rng.random_range(0..10u32) {
                    0..=4 => {
                        // Coarse times, so that ties are common; one in
                        // eight far ahead, at a coarse random bit pattern.
                        let t = if rng.random_range(0..8u32) == 0 {
                            now + (rng.random_range(0..1u64 << 40) & !0xFF)
                        } else {
                            now.saturating_sub(20) + 10 * rng.random_range(0..20u64)
                        };
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

    /// The same reference under schedules aimed at the rare paths: cancelled
    /// timers dropped by a limit short of the next live event, so that the
    /// radix base would run ahead of the clock (`pop_until` then moves it
    /// back: `rebase`), then schedules between the clock and where the base
    /// was, or at it;
    /// bursts of equal times; times over the whole u64 range, around powers
    /// of two and up to `u64::MAX`; schedules in the past; `advance_to`
    /// backwards, or forwards up to (never past) the next pending event, as a
    /// run's close does; stale and repeated cancellations. The clock, the
    /// pending count and the events run are checked after every operation.
    #[test]
    fn matches_a_sorted_map_under_hostile_schedules() {
        use super::super::rng::SimRng;
        use rand::RngExt;
        use std::collections::BTreeMap;

        type Reference = BTreeMap<(u64, u64), u32>;

        /// A time to schedule at, given the clock. (Between pops the radix
        /// base is never ahead of the clock, so there is no time between the
        /// two to aim at: the trap below aims where the base went instead.)
        fn pick(rng: &mut SimRng, now: u64, hot: &[u64; 3]) -> u64 {
            match rng.random_range(0..14u32) {
                0 => rng.random_range(0..=now),
                1 => now,
                5..=7 => hot[rng.random_range(0..3usize)],
                8 => now.saturating_add(rng.random_range(1..64u64)),
                9 => now.saturating_add(rng.random::<u64>() >> rng.random_range(0..64u32)),
                10 => u64::MAX - rng.random_range(0..3u64),
                11 => (1u64 << rng.random_range(0..64u32)).wrapping_add(rng.random_range(0..3u64)).wrapping_sub(1),
                12 => rng.random::<u64>(),
                _ => now.saturating_add(rng.random_range(0..2000u64)),
            }
        }

        /// Schedules `n` events at `t` with the clock at `now`, some
        /// cancellable.
        #[allow(clippy::too_many_arguments)]
        fn schedule(
            rng: &mut SimRng,
            q: &mut EventQueue<u32>,
            reference: &mut Reference,
            keys: &mut Vec<(EventKey, (u64, u64))>,
            order: &mut u64,
            now: u64,
            t: u64,
            n: u32,
        ) {
            for _ in 0..n {
                let at = (t.max(now), *order);
                let e = *order as u32;
                *order += 1;
                if rng.random_range(0..2u32) == 0 {
                    keys.push((q.schedule_cancellable_at(SimTime(t), e), at));
                } else {
                    q.schedule_at(SimTime(t), e);
                }
                reference.insert(at, e);
            }
        }

        /// One `pop_until(limit)`, against the reference: the time of the
        /// event run, if one ran.
        fn pop_checked(q: &mut EventQueue<u32>, reference: &mut Reference, limit: u64, at: (u64, u32)) -> Option<u64> {
            let want = reference.first_key_value().filter(|(k, _)| k.0 <= limit).map(|(&k, &e)| (k, e));
            let got = q.pop_until(SimTime(limit));
            match want {
                Some((k, e)) => {
                    reference.remove(&k);
                    assert_eq!(got, Some((SimTime(k.0), e)), "seed {} step {}: pop_until({limit})", at.0, at.1);
                    Some(k.0)
                }
                None => {
                    assert!(got.is_none(), "seed {} step {}: pop_until({limit}) ran {got:?}", at.0, at.1);
                    None
                }
            }
        }

        let (seeds, steps) = (40u64, 3000u32);
        let mut rebases = 0u64;
        for seed in 0..seeds {
            let mut rng = super::super::rng::stream(seed, 0, "queue-hostile");
            let mut q = EventQueue::new();
            let mut reference = Reference::new();
            let mut keys: Vec<(EventKey, (u64, u64))> = Vec::new();
            let mut order = 0u64;
            let mut clock = 0u64;
            let mut ran = 0u64;
            let mut hot = [0u64; 3];
            if seed % 4 == 3 {
                // Start near the top of the range.
                clock = u64::MAX - rng.random_range(0..1u64 << 16);
                q.advance_to(SimTime(clock));
            }
            for step in 0..steps {
                let at = (seed, step);
                let now = clock;
                match rng.random_range(0..20u32) {
                    // Schedule one, or a burst at one time.
                    0..=5 => {
                        let t = pick(&mut rng, now, &hot);
                        let n = if rng.random_range(0..4u32) == 0 { rng.random_range(2..=16u32) } else { 1 };
                        schedule(&mut rng, &mut q, &mut reference, &mut keys, &mut order, now, t, n);
                    }
                    // Cancel: pending, already run, or already cancelled.
                    6..=8 => {
                        for _ in 0..rng.random_range(1..=4u32) {
                            if keys.is_empty() {
                                break;
                            }
                            let i = rng.random_range(0..keys.len());
                            let (key, when) = keys[i];
                            if rng.random_range(0..4u32) != 0 {
                                keys.swap_remove(i);
                            }
                            q.cancel(key);
                            reference.remove(&when);
                        }
                    }
                    // The trap: run everything before `t`, schedule timers at
                    // `t` and cancel them, drop them by a limit short of the
                    // next live event (the radix base is then ahead of the
                    // clock), and schedule between the two or at the base.
                    9..=11 => {
                        let t = now.saturating_add(rng.random_range(1..=3000u64));
                        for _ in 0..64 {
                            match pop_checked(&mut q, &mut reference, t.saturating_sub(1).max(now), at) {
                                Some(time) => (clock, ran) = (time, ran + 1),
                                None => break,
                            }
                        }
                        for _ in 0..rng.random_range(1..=6u32) {
                            let e = order as u32;
                            order += 1;
                            let key = q.schedule_cancellable_at(SimTime(t), e);
                            q.cancel(key);
                        }
                        let next = reference.first_key_value().map_or(u64::MAX, |(k, _)| k.0);
                        if next > t {
                            let limit = rng.random_range(t..next.min(t.saturating_add(8)));
                            assert_eq!(pop_checked(&mut q, &mut reference, limit, at), None);
                            for _ in 0..rng.random_range(0..=3u32) {
                                // Between the clock and the dropped timers' time
                                // (where the base went), or at it.
                                let u = if t > clock + 1 && rng.random_range(0..3u32) != 0 {
                                    rng.random_range(clock + 1..t)
                                } else {
                                    t
                                };
                                let n = rng.random_range(1..=3u32);
                                schedule(&mut rng, &mut q, &mut reference, &mut keys, &mut order, clock, u, n);
                            }
                        }
                    }
                    // Pop a few with a short limit, or with none.
                    12..=16 => {
                        let next = reference.first_key_value().map(|(k, _)| k.0);
                        let limit = match rng.random_range(0..8u32) {
                            0 => now,
                            1 => next.map_or(now, |n| n.saturating_sub(1).max(now)),
                            2 => next.unwrap_or(now),
                            3 => now,
                            4 => u64::MAX,
                            _ => now.saturating_add(rng.random_range(0..2000u64)),
                        };
                        for _ in 0..rng.random_range(1..=4u32) {
                            if let Some(time) = pop_checked(&mut q, &mut reference, limit, at) {
                                (clock, ran) = (time, ran + 1);
                            }
                        }
                    }
                    // Move the clock: backwards (no effect), or forwards but
                    // never past a pending event.
                    17 => {
                        let next = reference.first_key_value().map_or(u64::MAX, |(k, _)| k.0);
                        let t = match rng.random_range(0..4u32) {
                            0 => rng.random_range(0..=now),
                            1 => next,
                            2 => now,
                            _ => rng.random_range(now..=next.min(now.saturating_add(5000))),
                        };
                        q.advance_to(SimTime(t));
                        clock = clock.max(t);
                    }
                    // New instants for bursts of equal times.
                    _ => {
                        let i = rng.random_range(0..3usize);
                        hot[i] = match rng.random_range(0..4u32) {
                            0 => u64::MAX - rng.random_range(0..2u64),
                            1 => now.saturating_add(rng.random_range(0..2u64)),
                            _ => now.saturating_add(rng.random_range(0..500u64)),
                        };
                    }
                }
                if keys.len() > 1000 {
                    keys.retain(|(_, when)| reference.contains_key(when));
                }
                assert_eq!(q.now(), SimTime(clock), "seed {seed} step {step}");
                assert_eq!(q.pending(), reference.len(), "seed {seed} step {step}");
                assert_eq!(q.events_processed(), ran, "seed {seed} step {step}");
                assert!(q.last <= q.now().0, "seed {seed} step {step}: the radix base is ahead of the clock");
            }
            rebases += q.rebases;
            let rest: Vec<(u64, u32)> = reference.iter().map(|(k, &e)| (k.0, e)).collect();
            assert_eq!(drain(&mut q), rest, "seed {seed}");
            assert_eq!(q.pending(), 0, "seed {seed}");
        }
        // Each trap whose limit falls short of the next live event moves the
        // base back to the clock.
        eprintln!("{rebases} pops moved the radix base back");
        assert!(rebases > 100 * seeds, "only {rebases} pops moved the radix base back");
    }
}
