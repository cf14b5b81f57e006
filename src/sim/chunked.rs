//! A growable array stored in fixed-size chunks: growing never moves what
//! it holds.
//!
//! A saturated run keeps some 10^5 requests in flight. A `Vec` of them
//! doubles by copying (glibc's `realloc` copies blocks on the heap, where
//! `main.rs` keeps large blocks so that the next run reuses their pages):
//! in the 600-run sweep benchmark a tenth of the time went to those copies.
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
    #[should_panic]
    fn an_index_past_the_end_panics() {
        let mut v = ChunkedVec::default();
        v.push(1u8);
        let _ = v[1];
    }
}
