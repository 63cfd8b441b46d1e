//! Fuzz target `event_json`: the body, its input and the properties it asserts are
//! `lxpack_fuzz_bodies::event_json` (crates/fuzz-bodies), which also replays the corpus.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lxpack_fuzz_bodies::event_json(data));
