//! The digest Authorization parser and the nonce checker. The body is `edgecomm::fuzz::digest_authorization`, which the regression test replays too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| edgecomm::fuzz::digest_authorization(data));
