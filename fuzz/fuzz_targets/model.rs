//! Arbitrary bytes as a model file (plus `@set` lines): load, check, run.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| cachesim::fuzzing::model(data));
