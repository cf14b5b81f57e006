//! Arbitrary bytes as one `--set PATH=VALUE` on the reference model.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| cachesim::fuzzing::set(data));
