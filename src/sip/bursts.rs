//! Retry bursts: a phone with a wrong password answers each fresh challenge again at once
//! (pjsip sends five per attempt), and counted one by one those retries lock its own address
//! and login out after two attempts. A retry is told by its key (address, login, Call-ID and
//! From tag: a phone keeps both for its registration, SIPVicious `svcrack` derives its From
//! tag from each password it tries) arriving within [`BURST_SECS`] of a counted failure; it
//! is answered with a challenge without being evaluated, so it guesses nothing and need not
//! be counted. A guesser that keeps the key gets no guess evaluated; one that changes it is
//! counted for every guess. Bounded like the other soft state (`sip::generations`).

use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::Mutex;

use crate::clock::UnixSecs;
use crate::sip::generations::Generations;
use crate::sync::lock;

/// How long after a counted failure the same key's digests are retries, not guesses.
pub const BURST_SECS: UnixSecs = 4;

/// Keys per generation: a flood of distinct keys rotates them out, never grows the map.
const CAPACITY: usize = 16_384;

/// What a UA keeps for one registration: its Call-ID and From tag.
#[derive(Clone, Copy, Debug, Hash)]
pub struct Dialog<'a> {
    /// The `Call-ID`.
    pub call_id: &'a str,
    /// The `tag` of `From`, if any.
    pub from_tag: Option<&'a str>,
}

/// The keys that failed within the last [`BURST_SECS`], with when.
pub struct RetryBursts {
    failed: Mutex<Generations<u64, UnixSecs>>,
}

impl RetryBursts {
    /// An empty tracker.
    pub fn new(now: UnixSecs) -> RetryBursts {
        RetryBursts {
            failed: Mutex::new(Generations::new(CAPACITY, BURST_SECS, now)),
        }
    }

    /// True when no failure is on record: then nothing is a retry, and callers need not even
    /// build a key (most REGISTERs pay this one lock).
    pub fn is_empty(&self) -> bool {
        lock(&self.failed).is_empty()
    }

    /// True when this key's last counted failure is under [`BURST_SECS`] old.
    pub fn is_retry(&self, ip: IpAddr, login: &str, dialog: &Dialog<'_>, now: UnixSecs) -> bool {
        lock(&self.failed)
            .get(&key(ip, login, dialog))
            .is_some_and(|at| now - *at < BURST_SECS)
    }

    /// Notes a counted failure of this key.
    pub fn failed(&self, ip: IpAddr, login: &str, dialog: &Dialog<'_>, now: UnixSecs) {
        lock(&self.failed).insert(key(ip, login, dialog), now, now);
    }

    /// Lets an idle tracker drop what it holds (see `Generations::expire`).
    pub fn expire(&self, now: UnixSecs) {
        lock(&self.failed).expire(now);
    }
}

/// A peer cannot steer this into collisions usefully: a collision only makes one request
/// of its own a retry, answered with a challenge.
fn key(ip: IpAddr, login: &str, dialog: &Dialog<'_>) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (ip, login, dialog).hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_is_the_same_key_soon_after_a_counted_failure() {
        let bursts = RetryBursts::new(100);
        let ip: IpAddr = "10.0.0.5".parse().unwrap();
        let dialog = |call_id, from_tag| Dialog { call_id, from_tag };
        let phone = dialog("c1", Some("t1"));
        assert!(!bursts.is_retry(ip, "alice", &phone, 100));
        bursts.failed(ip, "alice", &phone, 100);
        assert!(bursts.is_retry(ip, "alice", &phone, 100 + BURST_SECS - 1));
        assert!(
            !bursts.is_retry(ip, "alice", &phone, 100 + BURST_SECS),
            "a new attempt"
        );
        let new_call = dialog("c2", Some("t1"));
        assert!(
            !bursts.is_retry(ip, "alice", &new_call, 101),
            "a new Call-ID is a new guess"
        );
        let new_tag = dialog("c1", Some("t2"));
        assert!(
            !bursts.is_retry(ip, "alice", &new_tag, 101),
            "so is a new From tag"
        );
        assert!(!bursts.is_retry(ip, "bob", &phone, 101));
        let other: IpAddr = "10.0.0.6".parse().unwrap();
        assert!(!bursts.is_retry(other, "alice", &phone, 101));
    }
}
