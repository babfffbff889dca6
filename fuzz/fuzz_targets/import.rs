//! The import format, and `edgecomm check` on what an accepted document imports. The body is `edgecomm::fuzz::import`, which the regression test replays too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| edgecomm::fuzz::import(data));
