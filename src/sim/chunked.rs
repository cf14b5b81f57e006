//! A growable array stored in fixed-size chunks: growing never moves what
//! it holds.
//!
//! A saturated run keeps some 10^5 requests in flight. A `Vec` of them
//! doubles by copying (glibc's `realloc` copies blocks on the heap, where
//! `main.rs` keeps large blocks so that the next run reuses their pages):
//! in the 600-run sweep benchmark 7-9% of the time went to those copies.
//! Each chunk here is allocated once, at its full size, and never grows.

use std::ops::{Index, IndexMut};

/// Items per chunk, as a power of two.
const SHIFT: u32 = 10;
const CHUNK: usize = 1 << SHIFT;
const MASK: usize = CHUNK - 1;

/// A `Vec`-like array of `T` that only grows at its end.
#[derive(Debug)]
pub struct ChunkedVec<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for ChunkedVec<T> {
    fn default() -> Self {
        ChunkedVec { chunks: Vec::new(), len: 0 }
    }
}

impl<T> ChunkedVec<T> {
    /// How many items it holds.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Appends `item` at index `len()`.
    #[inline]
    pub fn push(&mut self, item: T) {
        if self.len & MASK == 0 {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        let last = self.chunks.last_mut().expect("a chunk has room for the item");
        debug_assert!(last.len() < CHUNK, "a chunk never grows past its first allocation");
        last.push(item);
        self.len += 1;
    }

    /// Asks the CPU to bring item `i` (every cache line of it) into its
    /// cache, for a read soon after: a hint, with no effect on results, and
    /// none at all past the end or off x86-64.
    #[inline]
    pub fn prefetch(&self, i: usize) {
        #[cfg(target_arch = "x86_64")]
        if let Some(item) = self.chunks.get(i >> SHIFT).and_then(|c| c.get(i & MASK)) {
            let p: *const u8 = (item as *const T).cast();
            // Every line from the item's first byte to its last.
            let size = std::mem::size_of::<T>();
            let skew = p as usize % 64;
            for offset in (0..size + skew).step_by(64).map(|o| o.wrapping_sub(skew)) {
                // SAFETY: a prefetch reads nothing into the program and
                // cannot fault, whatever the address (`wrapping_add` makes
                // none); SSE, which provides it, is part of every x86-64 CPU.
                unsafe {
                    std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.wrapping_add(offset).cast())
                };
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = i;
    }
}

impl<T> Index<usize> for ChunkedVec<T> {
    type Output = T;

    #[inline]
    fn index(&self, i: usize) -> &T {
        &self.chunks[i >> SHIFT][i & MASK]
    }
}

impl<T> IndexMut<usize> for ChunkedVec<T> {
    #[inline]
    fn index_mut(&mut self, i: usize) -> &mut T {
        &mut self.chunks[i >> SHIFT][i & MASK]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_keep_their_index_and_their_address_as_the_array_grows() {
        let mut v = ChunkedVec::default();
        v.push(0u64);
        let first: *const u64 = &v[0];
        for i in 1..(3 * CHUNK as u64 + 5) {
            v.push(i);
        }
        assert_eq!(v.len(), 3 * CHUNK + 5);
        assert!(std::ptr::eq(first, &v[0]), "growing moved the first item");
        for i in 0..v.len() {
            assert_eq!(v[i], i as u64);
        }
        v[CHUNK] = 7;
        assert_eq!(v[CHUNK], 7);
        assert_eq!(v[CHUNK - 1], CHUNK as u64 - 1);
    }

    #[test]
    fn prefetching_any_index_leaves_the_items_as_they_were() {
        let mut v = ChunkedVec::default();
        for i in 0..(CHUNK as u32 + 3) {
            v.push([i; 37]);
        }
        for i in [0, 1, CHUNK - 1, CHUNK, CHUNK + 2, CHUNK + 3, 10 * CHUNK, usize::MAX] {
            v.prefetch(i);
        }
        assert!((0..v.len()).all(|i| v[i] == [i as u32; 37]));
    }

    #[test]
    #[should_panic]
    fn an_index_past_the_end_panics() {
        let mut v = ChunkedVec::default();
        v.push(1u8);
        let _ = v[1];
    }
}
