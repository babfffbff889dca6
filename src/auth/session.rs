//! Console sessions: what a signed-in browser holds instead of credentials (SPEC.md §5a).
//!
//! The browser gets a random session token in an `HttpOnly` cookie and a second random value,
//! the CSRF token, in the sign-in answer, which the console keeps in memory and sends as the
//! `X-CSRF-Token` header. A request with the cookie but without the matching header is
//! refused: a page of another site can make a browser send the cookie (a form post), never
//! the header. Sessions live in memory only (a restart signs everyone out) and are keyed by
//! the SHA-256 of their token, so the table holds nothing a reader could replay. Each one
//! remembers the account's credential stamp (the hash of its AuthToken, which every password
//! change replaces): changing the password ends every session of that account.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::clock::UnixSecs;
use crate::crypto;
use crate::domain::AccountSid;
use crate::error::Result;
use crate::sync::lock;

/// Most sessions kept at once; opening one more ends the longest idle.
const MAX_SESSIONS: usize = 1_000;

/// A session ends this long after sign-in, however busy.
pub const MAX_LIFETIME_SECS: UnixSecs = 12 * 3600;

/// The open sessions.
pub struct Sessions {
    idle_secs: UnixSecs,
    entries: Mutex<HashMap<[u8; 32], Session>>,
}

/// What a session knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// The signed-in account.
    pub account: AccountSid,
    /// The account's credential stamp at sign-in.
    pub stamp: String,
    /// The value the `X-CSRF-Token` header must carry.
    pub csrf: String,
    created: UnixSecs,
    last_active: UnixSecs,
}

/// A new session's two secrets, for the browser.
pub struct Opened {
    /// The cookie's value.
    pub token: String,
    /// The CSRF token.
    pub csrf: String,
}

impl Sessions {
    /// No sessions; each ends after `idle_secs` without a user action.
    pub fn new(idle_secs: UnixSecs) -> Sessions {
        Sessions {
            idle_secs,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds without a user action after which a session ends.
    pub fn idle_secs(&self) -> UnixSecs {
        self.idle_secs
    }

    /// Opens a session for `account`, whose credential stamp is `stamp`.
    pub fn open(&self, account: AccountSid, stamp: String, now: UnixSecs) -> Result<Opened> {
        let token = crypto::hex(&crypto::random_bytes::<32>()?);
        let csrf = crypto::hex(&crypto::random_bytes::<32>()?);
        let mut entries = lock(&self.entries);
        entries.retain(|_, session| self.alive(session, now));
        if entries.len() >= MAX_SESSIONS {
            let idlest = entries
                .iter()
                .min_by_key(|(_, session)| session.last_active)
                .map(|(key, _)| *key);
            if let Some(key) = idlest {
                entries.remove(&key);
            }
        }
        let session = Session {
            account,
            stamp,
            csrf: csrf.clone(),
            created: now,
            last_active: now,
        };
        entries.insert(crypto::sha256(token.as_bytes()), session);
        Ok(Opened { token, csrf })
    }

    /// The live session of `token`. A user action (`touch`) restarts its idle time; the
    /// console's own polling does not, so an open but unattended tab still times out.
    pub fn find(&self, token: &str, now: UnixSecs, touch: bool) -> Option<Session> {
        let key = crypto::sha256(token.as_bytes());
        let mut entries = lock(&self.entries);
        let session = entries.get_mut(&key)?;
        if !self.alive(session, now) {
            entries.remove(&key);
            return None;
        }
        if touch {
            session.last_active = now;
        }
        Some(session.clone())
    }

    /// Ends the session of `token`, if there is one.
    pub fn close(&self, token: &str) {
        lock(&self.entries).remove(&crypto::sha256(token.as_bytes()));
    }

    fn alive(&self, session: &Session, now: UnixSecs) -> bool {
        now < session.last_active + self.idle_secs && now < session.created + MAX_LIFETIME_SECS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sid() -> AccountSid {
        AccountSid::parse("AC0123456789abcdef0123456789abcdef").unwrap()
    }

    #[test]
    fn a_session_is_found_by_its_token_only_and_ends_when_closed() {
        let sessions = Sessions::new(60);
        let opened = sessions.open(sid(), "stamp".into(), 100).unwrap();
        assert_ne!(opened.token, opened.csrf);
        let found = sessions.find(&opened.token, 101, true).unwrap();
        assert_eq!((found.account, found.csrf.as_str()), (sid(), &*opened.csrf));
        assert!(sessions.find(&opened.csrf, 101, true).is_none());
        sessions.close(&opened.token);
        assert!(sessions.find(&opened.token, 102, true).is_none());
    }

    #[test]
    fn idle_time_runs_through_polls_and_restarts_on_actions() {
        let sessions = Sessions::new(60);
        let token = sessions.open(sid(), "s".into(), 0).unwrap().token;
        assert!(sessions.find(&token, 50, false).is_some(), "a poll");
        assert!(sessions.find(&token, 59, true).is_some(), "an action");
        assert!(sessions.find(&token, 118, false).is_some());
        assert!(sessions.find(&token, 119, false).is_none(), "idle 60 s");
        assert!(sessions.find(&token, 50, true).is_none(), "gone for good");
    }

    #[test]
    fn no_session_outlives_its_maximum_lifetime() {
        let sessions = Sessions::new(3600);
        let token = sessions.open(sid(), "s".into(), 0).unwrap().token;
        let mut now = 0;
        while now + 1800 < MAX_LIFETIME_SECS {
            now += 1800;
            assert!(sessions.find(&token, now, true).is_some());
        }
        assert!(sessions.find(&token, MAX_LIFETIME_SECS, true).is_none());
    }

    #[test]
    fn the_table_is_bounded_and_drops_the_longest_idle() {
        let sessions = Sessions::new(1_000_000);
        let first = sessions.open(sid(), "s".into(), 0).unwrap().token;
        let second = sessions.open(sid(), "s".into(), 1).unwrap().token;
        assert!(sessions.find(&first, 2, true).is_some());
        for n in 0..MAX_SESSIONS - 1 {
            sessions.open(sid(), "s".into(), 3 + n as UnixSecs).unwrap();
        }
        assert!(sessions.find(&second, 5000, false).is_none(), "idlest went");
        assert!(sessions.find(&first, 5000, false).is_some());
    }
}
