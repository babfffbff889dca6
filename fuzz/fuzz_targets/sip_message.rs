//! The SIP parser and framer, then the whole registrar path. The body is `edgecomm::fuzz::sip_message`, which the regression test replays too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| edgecomm::fuzz::sip_message(data));
