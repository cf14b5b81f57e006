//! Random streams. Every component draws from its own stream, derived from
//! (seed, run, component name), so adding a component or drawing more numbers
//! in one never shifts the numbers another sees, and runs in parallel threads
//! get exactly what they would get alone.
//!
//! The generator is xoshiro256++, documented by `rand` as a portable generator
//! with stable output; the derivation below (FNV-1a and SplitMix64) is ours
//! and fixed, so streams do not change with crate versions.

use rand::SeedableRng;
pub use rand::rngs::Xoshiro256PlusPlus as SimRng;

/// SplitMix64: a bijective mixer with good avalanche, used to expand seeds.
#[inline]
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a over the bytes of a name: stable across platforms and versions.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

/// The stream for `component` in replication `run` of a model seeded `seed`.
pub fn stream(seed: u64, run: u64, component: &str) -> SimRng {
    let mut state = seed;
    let a = splitmix64(&mut state);
    state ^= run.wrapping_mul(0xD6E8_FEB8_6659_FD93);
    let b = splitmix64(&mut state);
    state ^= fnv1a(component.as_bytes());
    let mut bytes = [0u8; 32];
    for (i, chunk) in bytes.chunks_exact_mut(8).enumerate() {
        let word = splitmix64(&mut state) ^ if i == 0 { a } else { b.rotate_left(i as u32 * 16) };
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    SimRng::from_seed(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let x: u64 = stream(42, 0, "backend").random();
        let y: u64 = stream(42, 0, "backend").random();
        assert_eq!(x, y);
        assert_ne!(x, stream(42, 0, "arrivals").random::<u64>());
        assert_ne!(x, stream(42, 1, "backend").random::<u64>());
        assert_ne!(x, stream(43, 0, "backend").random::<u64>());
    }

    /// Golden values: if this fails, every published result changes. Only
    /// update it deliberately, with a note in the changelog.
    #[test]
    fn stream_output_is_stable_across_versions() {
        let mut r = stream(1, 0, "arrivals");
        let got: [u64; 2] = [r.random(), r.random()];
        assert_eq!(got, GOLDEN);
    }
    const GOLDEN: [u64; 2] = [6616075041862661522, 13379226137404216788];
}
