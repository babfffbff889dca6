//! The clock: the one place that reads the time, and the one type every time has.
//!
//! Everything else takes `now` as an argument (domain rules, the API, the registrar, the
//! limiters), so tests fix it. Records, rules and SIP soft state all count Unix seconds in
//! [`UnixSecs`]: signed, so that "seconds left" can go below zero before it is clamped.

use std::time::{SystemTime, UNIX_EPOCH};

/// Unix seconds.
pub type UnixSecs = i64;

/// The current time. A clock before 1970 reads as 0.
pub fn now() -> UnixSecs {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| UnixSecs::try_from(elapsed.as_secs()).unwrap_or(UnixSecs::MAX))
        .unwrap_or(0)
}
