//! Fuzz target `app_document`: the body, its input and the properties it asserts are
//! `lxpack_fuzz_bodies::app_document` (crates/fuzz-bodies), which also replays the corpus.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lxpack_fuzz_bodies::app_document(data));
