//! API authentication: HTTP Basic credentials, checked against the store, with a per-address
//! limit on failures (SPEC.md §1 and §6).
//!
//! This module knows the `Authorization` header's syntax but no HTTP library. The secret
//! comparison itself lives in `domain::accounts::verify_credentials` (constant-time, same
//! answer and same work for an unknown user as for a wrong secret). Nothing here logs a
//! secret: the failure log line names the user part and the address only. That line is the
//! same for the API and for SIP ([`log_failure`]), so one fail2ban filter reads both, and the
//! last of those lines are kept in memory for the console ([`recent_failures`]). Console
//! sessions, the browser's stand-in for credentials, are in [`session`].

pub mod session;

use std::borrow::Borrow;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Mutex, MutexGuard};

use base64::Engine;

use crate::clock::UnixSecs;
use crate::domain::accounts::{self, Caller};
use crate::domain::rfc2822;
use crate::error::{Error, Result};
use crate::store::Store;
use crate::sync::lock;

/// Upper bound on tracked keys, so a scan from many sources cannot grow memory forever.
const MAX_TRACKED: usize = 10_000;

/// Counts failed logins per key (a source address; for SIP also a login) and refuses a key
/// that failed too often.
pub struct Limiter<K = IpAddr> {
    max_failures: u32,
    window_secs: UnixSecs,
    backoff_secs: UnixSecs,
    entries: Mutex<HashMap<K, Entry>>,
}

#[derive(Clone, Copy)]
struct Entry {
    window_start: UnixSecs,
    failures: u32,
    blocked_until: UnixSecs,
}

impl<K: Hash + Eq> Limiter<K> {
    /// A limiter that blocks a key for `backoff_secs` after `max_failures` failures within
    /// `window_secs`.
    pub fn new(max_failures: u32, window_secs: UnixSecs, backoff_secs: UnixSecs) -> Limiter<K> {
        Limiter {
            max_failures,
            window_secs,
            backoff_secs,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// How many keys are refused at `now` (for the metrics: a scrape, not a hot path).
    pub fn blocked(&self, now: UnixSecs) -> usize {
        let entries = self.lock();
        entries.values().filter(|e| e.blocked_until > now).count()
    }

    /// An empty limiter with the same thresholds, over another kind of key.
    pub fn same_limits<L: Hash + Eq>(&self) -> Limiter<L> {
        Limiter::new(self.max_failures, self.window_secs, self.backoff_secs)
    }

    /// `TooManyRequests`, with the seconds left, while the key is blocked.
    pub fn check<Q>(&self, key: &Q, now: UnixSecs) -> Result<()>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        match self.lock().get(key) {
            Some(entry) if entry.blocked_until > now => Err(Error::TooManyRequests {
                retry_after: entry.blocked_until - now,
            }),
            _ => Ok(()),
        }
    }

    /// Records one failure; the failure that reaches the limit starts the back-off, and then
    /// the answer is when it ends (callers log that once: a block that starts unseen cannot
    /// be told from an outage).
    #[must_use = "a block that starts should be logged"]
    pub fn record_failure(&self, key: K, now: UnixSecs) -> Option<UnixSecs> {
        let mut entries = self.lock();
        if entries.len() >= MAX_TRACKED && !entries.contains_key(&key) {
            let window = self.window_secs;
            entries
                .retain(|_, entry| entry.blocked_until > now || entry.window_start + window > now);
            if entries.len() >= MAX_TRACKED {
                // Still full of live entries: forget the oldest windows first.
                let mut starts: Vec<UnixSecs> =
                    entries.values().map(|entry| entry.window_start).collect();
                starts.sort_unstable();
                let cutoff = starts[starts.len() / 2];
                entries.retain(|_, entry| entry.window_start > cutoff || entry.blocked_until > now);
            }
            if entries.len() >= 2 * MAX_TRACKED {
                // Blocked entries are never forgotten early; past this a flood of new keys is
                // not tracked, so memory stays bounded (the other limiter still applies).
                return None;
            }
        }
        let entry = entries.entry(key).or_insert(Entry {
            window_start: now,
            failures: 0,
            blocked_until: 0,
        });
        if now >= entry.window_start + self.window_secs {
            entry.window_start = now;
            entry.failures = 0;
        }
        entry.failures += 1;
        if entry.failures < self.max_failures {
            return None;
        }
        entry.blocked_until = now + self.backoff_secs;
        entry.failures = 0;
        entry.window_start = now;
        Some(entry.blocked_until)
    }

    /// Forgets a key's failures after a successful login, unless it is blocked: a phone
    /// that may still register from a blocked address (it holds a live registration there)
    /// must not lift the block for the strangers beside it.
    pub fn record_success<Q>(&self, key: &Q, now: UnixSecs)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut entries = self.lock();
        if entries
            .get(key)
            .is_some_and(|entry| entry.blocked_until <= now)
        {
            entries.remove(key);
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<K, Entry>> {
        lock(&self.entries)
    }
}

/// Authenticates a request from its `Authorization` header value.
///
/// `peer` is the source address, used for the failure limit; `now` is Unix seconds.
pub fn authenticate(
    store: &Store,
    limiter: &Limiter,
    authorization: Option<&str>,
    peer: Option<SocketAddr>,
    now: UnixSecs,
) -> Result<Caller> {
    let Some(header) = authorization else {
        return Err(Error::Unauthorized);
    };
    let ip = peer.map(|peer| peer.ip());
    if let Some(ip) = ip {
        limiter.check(&ip, now)?;
    }
    let (user, secret) = parse_basic(header).ok_or(Error::Unauthorized)?;
    check_secret(store, limiter, &user, &secret, peer, now)
}

/// Checks a user (SID or email) and a secret (AuthToken or password) from `peer`, counting a
/// failure against its address: Basic credentials, and the console's sign-in.
pub fn check_secret(
    store: &Store,
    limiter: &Limiter,
    user: &str,
    secret: &str,
    peer: Option<SocketAddr>,
    now: UnixSecs,
) -> Result<Caller> {
    let ip = peer.map(|peer| peer.ip());
    if let Some(ip) = ip {
        limiter.check(&ip, now)?;
    }
    match accounts::verify_credentials(store, user, secret) {
        Ok(record) => {
            if let Some(ip) = ip {
                limiter.record_success(&ip, now);
            }
            Ok(record)
        }
        Err(Error::Unauthorized) => {
            // Unknown user, wrong secret and inactive account are one reason: the answer
            // must not tell them apart, and neither does the log.
            log_failure(Service::Api, user, peer, "bad_credentials");
            if let Some((ip, until)) =
                ip.and_then(|ip| Some((ip, limiter.record_failure(ip, now)?)))
            {
                log::warn!(
                    "api limit: source={ip} refused until {} (too many failed logins)",
                    rfc2822(until)
                );
            }
            Err(Error::Unauthorized)
        }
        Err(other) => Err(other),
    }
}

/// Splits `Basic base64(user:secret)`; `None` for any other shape.
pub fn parse_basic(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, secret) = text.split_once(':')?;
    Some((user.to_string(), secret.to_string()))
}

/// Who saw a failed authentication.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// The REST API (HTTP Basic).
    Api,
    /// The SIP registrar (digest).
    Sip,
}

impl Service {
    /// The name the log line and the metrics give it.
    pub fn name(self) -> &'static str {
        match self {
            Service::Api => "api",
            Service::Sip => "sip",
        }
    }
}

/// The one log line of a failed authentication, for both services, in the shape fail2ban's
/// filter in the README reads: `<service> auth failed: user=<login> source=<ip>:<port>
/// reason=<word>`. The user part is [`printable`], so no login can end the field early or
/// forge a `source=`.
pub fn failure_line(
    service: Service,
    user: &str,
    source: Option<SocketAddr>,
    reason: &str,
) -> String {
    let service = service.name();
    let source = source.map_or_else(|| "-".to_string(), |addr| addr.to_string());
    format!(
        "{service} auth failed: user={} source={source} reason={reason}",
        printable(user)
    )
}

/// Logs [`failure_line`] as a warning and keeps it among the [`recent_failures`].
pub fn log_failure(service: Service, user: &str, source: Option<SocketAddr>, reason: &str) {
    let line = failure_line(service, user, source, reason);
    crate::metrics::auth_failed(service.name(), reason);
    log::warn!("{line}");
    let mut recent = lock(&RECENT);
    if recent.len() == RECENT_KEPT {
        recent.pop_front();
    }
    recent.push_back(Failure {
        at: crate::clock::now(),
        line,
    });
}

/// How many failure lines the console can show.
const RECENT_KEPT: usize = 50;

/// The last failure lines, process-wide like the log they copy.
static RECENT: Mutex<VecDeque<Failure>> = Mutex::new(VecDeque::new());

/// A failed authentication, as fail2ban saw it in the log.
#[derive(Clone, Debug)]
pub struct Failure {
    /// When it was logged.
    pub at: UnixSecs,
    /// The log line ([`failure_line`]).
    pub line: String,
}

/// The last failed authentications (API and SIP), newest first.
pub fn recent_failures() -> Vec<Failure> {
    lock(&RECENT).iter().rev().cloned().collect()
}

/// A user name made safe for one log line (fail2ban parses these): at most 64 characters,
/// anything but visible ASCII (spaces too) shown as `?`.
pub fn printable(user: &str) -> String {
    user.chars()
        .take(64)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_header_parses_user_and_secret() {
        let header = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("a@b.c:pa:ss")
        );
        assert_eq!(parse_basic(&header), Some(("a@b.c".into(), "pa:ss".into())));
        assert_eq!(parse_basic("basic YTpi"), Some(("a".into(), "b".into())));
        assert_eq!(parse_basic("Bearer YTpi"), None);
        assert_eq!(parse_basic("Basic !!!"), None);
        assert_eq!(parse_basic("Basic YWI="), None); // "ab": no colon
        assert_eq!(parse_basic("Basic"), None);
    }

    #[test]
    fn limiter_blocks_after_max_failures_until_backoff_ends() {
        let limiter = Limiter::new(3, 60, 30);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        for t in 0..2 {
            let _ = limiter.record_failure(ip, 100 + t);
            assert!(limiter.check(&ip, 100 + t).is_ok());
        }
        let _ = limiter.record_failure(ip, 102);
        assert!(matches!(
            limiter.check(&ip, 102),
            Err(Error::TooManyRequests { retry_after: 30 })
        ));
        assert!(matches!(
            limiter.check(&ip, 131),
            Err(Error::TooManyRequests { retry_after: 1 })
        ));
        assert!(limiter.check(&other, 102).is_ok());
        assert!(limiter.check(&ip, 132).is_ok());
    }

    /// What the metrics' limited-addresses and limited-logins gauges read.
    #[test]
    fn limiter_counts_the_keys_blocked_now() {
        let limiter = Limiter::new(2, 60, 30);
        let (one, two): (IpAddr, IpAddr) =
            ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let _ = limiter.record_failure(one, 100);
        assert_eq!(limiter.blocked(100), 0, "one failure blocks nobody");
        let _ = limiter.record_failure(one, 101);
        let _ = limiter.record_failure(two, 101);
        assert_eq!(limiter.blocked(101), 1);
        assert_eq!(limiter.blocked(131), 0, "the back-off is over");
    }

    #[test]
    fn limiter_forgets_failures_outside_the_window_and_after_success() {
        let limiter = Limiter::new(3, 60, 30);
        let ip: IpAddr = "::1".parse().unwrap();
        let _ = limiter.record_failure(ip, 0);
        let _ = limiter.record_failure(ip, 1);
        let _ = limiter.record_failure(ip, 61); // new window
        assert!(limiter.check(&ip, 61).is_ok());
        let _ = limiter.record_failure(ip, 62);
        limiter.record_success(&ip, 62);
        let _ = limiter.record_failure(ip, 63);
        assert!(limiter.check(&ip, 63).is_ok());
    }

    #[test]
    fn the_failure_that_starts_a_block_says_until_when_and_a_success_does_not_lift_it() {
        let limiter = Limiter::new(2, 60, 30);
        let ip: IpAddr = "10.0.0.7".parse().unwrap();
        assert_eq!(limiter.record_failure(ip, 0), None);
        assert_eq!(limiter.record_failure(ip, 1), Some(31));
        limiter.record_success(&ip, 2);
        assert!(
            limiter.check(&ip, 2).is_err(),
            "still blocked for the others"
        );
        limiter.record_success(&ip, 31);
        assert!(limiter.check(&ip, 31).is_ok());
        assert_eq!(
            limiter.record_failure(ip, 32),
            None,
            "the success forgot the count"
        );
    }
}
