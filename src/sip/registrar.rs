//! The REGISTER logic of RFC 3261 §10.3, with digest authentication (SPEC.md §4).
//!
//! `handle_register` is a function of the registrar's state, the store, one parsed request,
//! its source and `now`: no sockets. A missing or failed credential is the protocol working,
//! so it answers a 401 challenge as a value, not an error. Every failed authentication writes
//! one fail2ban line (`auth failed: user=… source=ip:port reason=…`) and counts against the
//! source address; an address over the limit is ignored (`None`: nothing is sent back).
//! Unknown user, wrong password, replayed or dead nonce all get the same fresh challenge.
//!
//! The registrar does the protocol work only: `request.rs` reads what a REGISTER says,
//! `authentication.rs` evaluates its credentials, and this file answers. What the bindings
//! become is decided by `domain::bindings`, which owns the rules of RFC 3261 §10.3.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use crate::auth::Limiter;
use crate::clock::UnixSecs;
use crate::config::SipSettings;
use crate::crypto;
use crate::domain::{bindings, http_date, OrganizationSid};
use crate::error::{Error, Result};
use crate::metrics;
use crate::sip::bursts::RetryBursts;
use crate::sip::digest;
use crate::sip::message::{Message, Peer, Response};
use crate::sip::nonces::NonceTracker;
use crate::store::Store;
use crate::sync::lock;
use authentication::{authenticate, from_registered_phone, Authenticated};
use request::{addressed, contact_value, contacts_of};

/// A login in its organization, as the per-login limiter counts it.
type LoginKey = (OrganizationSid, Box<str>);

/// The registrar's state: configuration, the nonce secret, nonce uses and the failure limit.
pub struct Registrar {
    /// Limits from the configuration.
    pub settings: SipSettings,
    secret: digest::NonceKey,
    nonces: NonceTracker,
    /// A phone's retries of a wrong password, answered without being counted.
    bursts: RetryBursts,
    /// Failures per source address.
    limiter: Limiter,
    /// Failures per login, from any address, with the same thresholds (SPEC.md §4).
    logins: Limiter<LoginKey>,
    is_local: fn(IpAddr) -> bool,
    local_hosts: Mutex<HashMap<String, bool>>,
    /// The 200's `Date` value of the current second: formatting it was 5 % of a REGISTER.
    date: Mutex<(UnixSecs, String)>,
}

impl Registrar {
    /// A registrar with a fresh nonce secret. `is_local` tells whether an IP address is one of
    /// this machine's (the transport probes it); a Request-URI may name one instead of a
    /// domain.
    pub fn new(
        settings: SipSettings,
        limiter: Limiter,
        is_local: fn(IpAddr) -> bool,
    ) -> Result<Registrar> {
        Ok(Registrar {
            settings,
            secret: digest::NonceKey::new(&crypto::random_bytes()?),
            nonces: NonceTracker::new(0),
            bursts: RetryBursts::new(0),
            logins: limiter.same_limits(),
            limiter,
            is_local,
            local_hosts: Mutex::new(HashMap::new()),
            date: Mutex::new((UnixSecs::MIN, String::new())),
        })
    }

    /// True when `host` (from a Request-URI) names a domain served here: an organization's,
    /// `localhost`, or one of this machine's addresses.
    pub fn serves(&self, store: &Store, host: &str) -> Result<bool> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if bare.eq_ignore_ascii_case("localhost") || store.sip_domain_named(bare)?.is_some() {
            return Ok(true);
        }
        Ok(self.is_local_address(bare))
    }

    fn is_local_address(&self, bare: &str) -> bool {
        let Ok(ip) = bare.parse::<IpAddr>() else {
            return false;
        };
        let mut cache = lock(&self.local_hosts);
        if cache.len() > 1024 {
            cache.clear();
        }
        *cache
            .entry(bare.to_string())
            .or_insert_with(|| (self.is_local)(ip))
    }

    /// How many (source addresses, logins) are over the failed-authentication limit now.
    pub fn limited(&self, now: UnixSecs) -> (usize, usize) {
        (self.limiter.blocked(now), self.logins.blocked(now))
    }

    /// False while `ip` is over the failed-authentication limit: its requests are dropped.
    pub fn admits(&self, ip: IpAddr, now: UnixSecs) -> bool {
        self.limiter.check(&ip, now).is_ok()
    }

    /// The binding rules' limits, from the configuration.
    fn limits(&self) -> bindings::Limits {
        bindings::Limits {
            min_expires: self.settings.min_expires,
            max_expires: self.settings.max_expires,
            default_expires: self.settings.default_expires,
            max_contacts: self.settings.max_contacts,
        }
    }

    /// `now` as a SIP `Date` value, formatted once per second.
    fn date(&self, now: UnixSecs) -> String {
        let mut date = lock(&self.date);
        if date.0 != now {
            *date = (now, http_date(now));
        }
        date.1.clone()
    }

    /// Lets the nonce and retry trackers drop what a storm left once it has aged out.
    pub fn sweep(&self, now: UnixSecs) {
        self.nonces.expire(now);
        self.bursts.expire(now);
    }
}

/// Handles one REGISTER. `None` means: send nothing (the source is over the failure limit,
/// and the request is not from a phone registered there: behind one office NAT, a
/// misconfigured phone must not take its registered neighbours offline).
pub fn handle_register(
    reg: &Registrar,
    store: &Store,
    req: &Message,
    peer: Peer,
    now: UnixSecs,
) -> Option<Response> {
    if !reg.admits(peer.addr.ip(), now) && !from_registered_phone(store, req, peer, now) {
        return None;
    }
    let res = match register(reg, store, req, peer, now) {
        Ok(res) => res,
        Err(err) => {
            if err.is_internal() {
                log::error!("REGISTER from {}: {err}", peer.addr);
            }
            let (code, reason) = err.sip_status();
            let res = Response::to(req, code, reason, peer.addr);
            match err {
                Error::Invalid(message) | Error::Forbidden(message) => res.with(
                    "Warning",
                    format!("399 edgecomm \"{}\"", message.replace('"', "'")),
                ),
                Error::IntervalTooBrief { min } => res.with("Min-Expires", min.to_string()),
                _ => res,
            }
        }
    };
    metrics::register_answered(res.code);
    if let Some(to) = req.header("To") {
        log::info!(
            "REGISTER {} from {}/{} -> {}",
            to,
            peer.addr,
            peer.transport.as_str(),
            res.code
        );
    }
    Some(res)
}

fn register(
    reg: &Registrar,
    store: &Store,
    req: &Message,
    peer: Peer,
    now: UnixSecs,
) -> Result<Response> {
    let (aor, cseq) = match addressed(reg, store, req, peer)? {
        Ok(addressed) => addressed,
        Err(answer) => return Ok(answer),
    };
    let client = match authenticate(reg, store, req, peer, now, &aor)? {
        Authenticated::Client(client) => client,
        Authenticated::Answer(res) => return Ok(res),
    };
    let (contacts, expires) = contacts_of(req)?;
    let user_agent = req
        .header("User-Agent")
        .map(|ua| ua.chars().take(256).collect::<String>());
    let asked = bindings::Request {
        client: client.sid,
        contacts: &contacts,
        expires,
        call_id: req.header("Call-ID").unwrap_or(""),
        cseq,
        source: peer.addr,
        transport: peer.transport,
        user_agent: user_agent.as_deref(),
    };
    // The 200's Contact values, built under the lock rather than from a copy of the list.
    let contact_values = bindings::register(store, &asked, &reg.limits(), now, |list| {
        let values: Vec<String> = list.iter().map(|b| contact_value(b, now)).collect();
        values
    })?;
    let mut res = Response::to(req, 200, "OK", peer.addr);
    for value in contact_values {
        res = res.with("Contact", value);
    }
    Ok(res.with("Date", reg.date(now)))
}

mod authentication;
mod request;
#[cfg(test)]
mod tests;
