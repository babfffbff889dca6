//! The API's form, query, percent and path decoders. The body is `edgecomm::fuzz::form_and_path`, which the regression test replays too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| edgecomm::fuzz::form_and_path(data));
