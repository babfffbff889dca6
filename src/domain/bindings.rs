//! Registrations: the rules of a binding update (RFC 3261 §10.3 steps 6 to 8) as one pure
//! function, [`update`], and the read side the API shows (the live bindings of a client or of
//! an account's clients, SPEC.md §4) with the same reach rules as Clients, hiding bindings
//! that have expired but were not swept yet.
//!
//! The registrar does the protocol work (parsing, digest, answers) and hands [`update`] what
//! the REGISTER asked as a [`Request`]; the store runs it under the client's bindings lock.

use std::net::SocketAddr;

use crate::clock::UnixSecs;
use crate::domain::accounts::Caller;
use crate::domain::clients::{self, Client};
use crate::domain::{AccountRef, AccountSid, ClientSid, Status, Transport};
use crate::error::{Error, Result};
use crate::store::records::BindingRecord;
use crate::store::Store;

/// What the configuration allows of bindings.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Below this (and above 0) a contact is refused: `IntervalTooBrief`.
    pub min_expires: u32,
    /// Longer requests are cut to this.
    pub max_expires: u32,
    /// When neither the contact nor the request says.
    pub default_expires: u32,
    /// Bindings per client.
    pub max_contacts: usize,
}

/// One `Contact` of a REGISTER.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Contact {
    /// `*`: every binding of the client.
    Wildcard,
    /// A contact URI (without angle brackets), its `q` and its own `expires`, if given.
    Uri {
        /// The URI.
        uri: String,
        /// The `q` parameter.
        q: Option<String>,
        /// The `expires` parameter.
        expires: Option<u32>,
    },
}

/// What a REGISTER from an authenticated client asks of its bindings.
#[derive(Clone, Debug)]
pub struct Request<'a> {
    /// The client.
    pub client: ClientSid,
    /// Its `Contact` values; none means a query.
    pub contacts: &'a [Contact],
    /// The `Expires` header, if any.
    pub expires: Option<u32>,
    /// The `Call-ID`.
    pub call_id: &'a str,
    /// The `CSeq` number.
    pub cseq: u32,
    /// Where it came from.
    pub source: SocketAddr,
    /// How it came.
    pub transport: Transport,
    /// The `User-Agent`, if any (already cut to a sane length).
    pub user_agent: Option<&'a str>,
}

/// A client may register when it is enabled and its account is active (an active account's
/// ancestors are all active: the cascade keeps that invariant). Reads the store's current
/// view (its cache is cleared by every account or client write), not a caller's copy.
pub fn may_register(store: &Store, client: &ClientSid) -> Result<bool> {
    let Some(fresh) = store.auth_by_sid(client)? else {
        return Ok(false);
    };
    let account_active = store.account_status(&fresh.account)? == Some(Status::Active);
    Ok(fresh.enabled && account_active)
}

/// Applies `req` to its client's bindings (see [`update`]) under the client's bindings lock,
/// after checking there that the client may still register, so that a concurrent disable or
/// suspension (which drops bindings after its commit, under the same lock) cannot be
/// outrun. `answer` sees the new bindings under the lock, so a reply is built from them
/// without a copy of the list.
pub fn register<T>(
    store: &Store,
    req: &Request<'_>,
    limits: &Limits,
    now: UnixSecs,
    answer: impl FnOnce(&[BindingRecord]) -> T,
) -> Result<T> {
    check(req, limits)?;
    store.update_bindings(&req.client, now, |old| {
        if !may_register(store, &req.client)? {
            return Err(Error::Forbidden(
                "client disabled or account not active".to_string(),
            ));
        }
        let new = update(old, req, limits, now)?;
        let out = answer(&new);
        Ok((new, out))
    })
}

/// At start: loads the stored bindings, dropping what a crash may have left behind (they are
/// written without a flush): expired ones, and those of clients that may no longer register.
pub fn restore(store: &Store, now: UnixSecs) -> Result<usize> {
    store.load_bindings(now, |client| may_register(store, client))
}

/// Removes expired bindings from memory and from disk (they are hidden from every answer as
/// soon as they expire; this frees them). Returns how many.
pub fn sweep(store: &Store, now: UnixSecs) -> Result<usize> {
    store.purge_expired_bindings(now)
}

/// True when a live binding was registered from `source` over `transport`: a stream
/// connection that carries one stays open, since the phone is reached through it. A scan of
/// every binding, so callers ask only when a connection has been idle for a while.
pub fn registered_over(
    store: &Store,
    source: SocketAddr,
    transport: Transport,
    now: UnixSecs,
) -> bool {
    store.any_binding(|binding| {
        binding.source == source && binding.transport == transport && binding.expires_at > now
    })
}

/// The rules that need only the request: `*` alone and with `Expires: 0`, the contact cap,
/// the minimum expiry. [`update`] applies them too; [`register`] checks them first, so that a
/// malformed request is refused before the client's bindings are even looked at.
pub fn check(req: &Request<'_>, limits: &Limits) -> Result<()> {
    if req.contacts.contains(&Contact::Wildcard)
        && (req.contacts.len() != 1 || req.expires != Some(0))
    {
        return Err(Error::Invalid(
            "Contact: * needs Expires: 0 and no other contact".to_string(),
        ));
    }
    if req.contacts.len() > limits.max_contacts {
        return Err(too_many(limits));
    }
    for contact in req.contacts {
        let asked = asked_expires(contact, req, limits);
        if asked > 0 && asked < limits.min_expires {
            return Err(Error::IntervalTooBrief {
                min: limits.min_expires,
            });
        }
    }
    Ok(())
}

/// The bindings after `req`, from the client's bindings before it (RFC 3261 §10.3): expired
/// ones drop out; `*` removes all; each contact is added, refreshed (keeping its first
/// registration time) or, with expiry 0, removed, its expiry the one asked (contact, then
/// header, then the default) capped at the maximum. A request whose CSeq is not above the
/// last one of the same Call-ID for a binding it touches changes nothing (step 7), and the
/// result may not exceed the contact cap.
pub fn update(
    old: &[BindingRecord],
    req: &Request<'_>,
    limits: &Limits,
    now: UnixSecs,
) -> Result<Vec<BindingRecord>> {
    check(req, limits)?;
    let mut list: Vec<BindingRecord> = old
        .iter()
        .filter(|binding| binding.expires_at > now)
        .cloned()
        .collect();
    let out_of_order =
        |binding: &BindingRecord| *binding.call_id == *req.call_id && binding.cseq >= req.cseq;
    for contact in req.contacts {
        let Contact::Uri { uri, q, .. } = contact else {
            if list.iter().any(out_of_order) {
                return Err(cseq_out_of_order());
            }
            list.clear();
            continue;
        };
        let existing = list.iter().position(|binding| *binding.contact == **uri);
        let registered_at = match existing {
            Some(idx) if out_of_order(&list[idx]) => return Err(cseq_out_of_order()),
            Some(idx) => list.remove(idx).registered_at,
            None => now,
        };
        let granted = asked_expires(contact, req, limits).min(limits.max_expires);
        if granted > 0 {
            list.push(BindingRecord {
                client: req.client,
                contact: uri.as_str().into(),
                q: q.as_deref().map(Box::from),
                expires_at: now + UnixSecs::from(granted),
                call_id: req.call_id.into(),
                cseq: req.cseq,
                source: req.source,
                transport: req.transport,
                user_agent: req.user_agent.map(Box::from),
                registered_at,
                stored_expires_at: 0,
            });
        }
    }
    if list.len() > limits.max_contacts {
        return Err(too_many(limits));
    }
    Ok(list)
}

/// The expiry a contact asks for: its own, else the request's, else the default.
fn asked_expires(contact: &Contact, req: &Request<'_>, limits: &Limits) -> u32 {
    let own = match contact {
        Contact::Uri { expires, .. } => *expires,
        Contact::Wildcard => None,
    };
    own.or(req.expires).unwrap_or(limits.default_expires)
}

fn cseq_out_of_order() -> Error {
    Error::Invalid("CSeq out of order for this Call-ID".to_string())
}

fn too_many(limits: &Limits) -> Error {
    Error::Forbidden(format!(
        "at most {} contacts per client",
        limits.max_contacts
    ))
}

/// One live binding as callers see it, with the client it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    /// The client that registered.
    pub client: ClientSid,
    /// Its account.
    pub account: AccountSid,
    /// Its login.
    pub login: String,
    /// The contact URI.
    pub contact: String,
    /// Unix seconds when the binding expires.
    pub expires_at: UnixSecs,
    /// Where the last REGISTER came from.
    pub source: SocketAddr,
    /// How it came.
    pub transport: Transport,
    /// The phone's User-Agent, if it sent one.
    pub user_agent: Option<String>,
    /// Unix seconds of the first registration of this contact.
    pub registered_at: UnixSecs,
}

/// The unexpired bindings of one client, soonest to expire last.
pub fn of_client(
    store: &Store,
    caller: &Caller,
    account_id: &AccountRef,
    client_id: &ClientSid,
    now: UnixSecs,
) -> Result<Vec<Registration>> {
    let client = clients::find(store, caller, account_id, client_id)?;
    Ok(live(store, &client, now))
}

/// The unexpired bindings of every client of one account, by login.
pub fn of_account(
    store: &Store,
    caller: &Caller,
    account_id: &AccountRef,
    now: UnixSecs,
) -> Result<Vec<Registration>> {
    let mut out = Vec::new();
    for client in clients::list(store, caller, account_id, None)? {
        out.extend(live(store, &client, now));
    }
    Ok(out)
}

/// Makes the bindings' latest changes durable, if there are any; true when it flushed.
pub fn make_durable(store: &Store) -> Result<bool> {
    store.flush_soft_state()
}

/// Live registrations of the whole box by transport (`udp`, `tcp`, `tls`), for the metrics.
pub fn count_by_transport(store: &Store, now: UnixSecs) -> Vec<(&'static str, usize)> {
    let mut counts = [("udp", 0), ("tcp", 0), ("tls", 0)];
    store.tally_bindings(now, |binding| {
        let idx = match binding.transport {
            Transport::Udp => 0,
            Transport::Tcp => 1,
            Transport::Tls => 2,
        };
        counts[idx].1 += 1;
    });
    counts.to_vec()
}

/// How many unexpired bindings a client has.
pub fn count(store: &Store, client: &ClientSid, now: UnixSecs) -> usize {
    store.binding_count(client, now)
}

fn live(store: &Store, client: &Client, now: UnixSecs) -> Vec<Registration> {
    let mut bindings: Vec<Registration> = store
        .bindings(&client.sid)
        .into_iter()
        .filter(|binding| binding.expires_at > now)
        .map(|binding| Registration {
            client: client.sid,
            account: client.account,
            login: client.login.clone(),
            contact: binding.contact.into(),
            expires_at: binding.expires_at,
            source: binding.source,
            transport: binding.transport,
            user_agent: binding.user_agent.map(String::from),
            registered_at: binding.registered_at,
        })
        .collect();
    bindings.sort_by(|a, b| {
        b.expires_at
            .cmp(&a.expires_at)
            .then_with(|| a.contact.cmp(&b.contact))
    });
    bindings
}

#[cfg(test)]
mod tests {
    //! The rules of RFC 3261 §10.3 steps 6 to 8, one by one, with no store and no digest.

    use super::*;

    const NOW: UnixSecs = 1_700_000_000;
    const LIMITS: Limits = Limits {
        min_expires: 60,
        max_expires: 7200,
        default_expires: 3600,
        max_contacts: 3,
    };

    fn client() -> ClientSid {
        ClientSid::from_bytes([7; 16])
    }

    fn uri(uri: &str, expires: Option<u32>) -> Contact {
        Contact::Uri {
            uri: uri.to_string(),
            q: None,
            expires,
        }
    }

    fn request<'a>(contacts: &'a [Contact], expires: Option<u32>, cseq: u32) -> Request<'a> {
        Request {
            client: client(),
            contacts,
            expires,
            call_id: "call-1",
            cseq,
            source: "192.0.2.1:5060".parse().unwrap(),
            transport: Transport::Udp,
            user_agent: Some("Desk/1.0"),
        }
    }

    /// The bindings after registering `contacts` (each with the default expiry) at `now`.
    fn registered(contacts: &[&str], now: UnixSecs) -> Vec<BindingRecord> {
        let asked: Vec<Contact> = contacts.iter().map(|c| uri(c, None)).collect();
        update(&[], &request(&asked, None, 1), &LIMITS, now).unwrap()
    }

    fn expiries(list: &[BindingRecord]) -> Vec<(&str, UnixSecs)> {
        list.iter()
            .map(|binding| (&*binding.contact, binding.expires_at - NOW))
            .collect()
    }

    #[test]
    fn no_contact_is_a_query_that_changes_nothing_but_expiry() {
        let old = registered(&["sip:a@1", "sip:b@1"], NOW - 3599);
        let after = update(&old, &request(&[], None, 2), &LIMITS, NOW).unwrap();
        assert_eq!(after, old, "nothing expired yet");
        let later = update(&old, &request(&[], None, 2), &LIMITS, NOW + 1).unwrap();
        assert!(
            later.is_empty(),
            "expired bindings drop out of every answer"
        );
    }

    #[test]
    fn expiry_is_the_contacts_then_the_headers_then_the_default_capped_at_the_maximum() {
        let asked = [uri("sip:a@1", Some(120)), uri("sip:b@1", None)];
        let after = update(&[], &request(&asked, Some(600), 1), &LIMITS, NOW).unwrap();
        assert_eq!(expiries(&after), [("sip:a@1", 120), ("sip:b@1", 600)]);
        let after = update(&[], &request(&asked[1..], None, 1), &LIMITS, NOW).unwrap();
        assert_eq!(expiries(&after), [("sip:b@1", 3600)]);
        let long = [uri("sip:a@1", Some(u32::MAX))];
        let after = update(&[], &request(&long, None, 1), &LIMITS, NOW).unwrap();
        assert_eq!(expiries(&after), [("sip:a@1", 7200)]);
    }

    #[test]
    fn an_expiry_below_the_minimum_is_too_brief_but_zero_removes() {
        let old = registered(&["sip:a@1"], NOW);
        let brief = [uri("sip:a@1", Some(59))];
        let err = update(&old, &request(&brief, None, 2), &LIMITS, NOW).unwrap_err();
        assert!(
            matches!(err, Error::IntervalTooBrief { min: 60 }),
            "{err:?}"
        );
        let err = update(
            &old,
            &request(&[uri("sip:a@1", None)], Some(1), 2),
            &LIMITS,
            NOW,
        );
        assert!(matches!(err, Err(Error::IntervalTooBrief { .. })));
        let remove = [uri("sip:a@1", Some(0))];
        assert!(update(&old, &request(&remove, None, 2), &LIMITS, NOW)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn a_refresh_replaces_the_binding_and_keeps_its_first_registration() {
        let old = registered(&["sip:a@1"], NOW - 100);
        let contacts = [uri("sip:a@1", Some(300))];
        let mut asked = request(&contacts, None, 2);
        asked.source = "192.0.2.9:5070".parse().unwrap();
        let after = update(&old, &asked, &LIMITS, NOW).unwrap();
        assert_eq!(after.len(), 1);
        let binding = &after[0];
        assert_eq!(binding.registered_at, NOW - 100);
        assert_eq!((binding.expires_at, binding.cseq), (NOW + 300, 2));
        assert_eq!(binding.source.to_string(), "192.0.2.9:5070");
        assert_eq!(binding.user_agent.as_deref(), Some("Desk/1.0"));
    }

    #[test]
    fn an_old_cseq_on_the_same_call_id_changes_nothing() {
        let old = registered(&["sip:a@1"], NOW);
        for cseq in [0, 1] {
            let asked = [uri("sip:a@1", Some(0))];
            let err = update(&old, &request(&asked, None, cseq), &LIMITS, NOW).unwrap_err();
            assert!(matches!(err, Error::Invalid(_)), "{err:?}");
        }
        // Another Call-ID starts its own order: a lower CSeq is fine there.
        let asked = [uri("sip:a@1", Some(0))];
        let mut other = request(&asked, None, 1);
        other.call_id = "call-2";
        assert!(update(&old, &other, &LIMITS, NOW).unwrap().is_empty());
        // A contact the old REGISTER did not touch has no order to keep.
        let fresh = [uri("sip:b@1", None)];
        assert_eq!(
            update(&old, &request(&fresh, None, 1), &LIMITS, NOW)
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn a_wildcard_needs_expires_zero_and_no_other_contact_and_removes_all() {
        let old = registered(&["sip:a@1", "sip:b@1"], NOW);
        let star = [Contact::Wildcard];
        for (contacts, expires) in [(&star[..], None), (&star[..], Some(60))] {
            let err = update(&old, &request(contacts, expires, 2), &LIMITS, NOW).unwrap_err();
            assert!(matches!(err, Error::Invalid(_)), "{err:?}");
        }
        let mixed = [Contact::Wildcard, uri("sip:c@1", None)];
        assert!(check(&request(&mixed, Some(0), 2), &LIMITS).is_err());
        let err = update(&old, &request(&star, Some(0), 1), &LIMITS, NOW).unwrap_err();
        assert!(
            matches!(err, Error::Invalid(_)),
            "CSeq order holds for * too: {err:?}"
        );
        assert!(update(&old, &request(&star, Some(0), 2), &LIMITS, NOW)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn the_contact_cap_holds_for_a_request_and_for_the_result() {
        let four: Vec<Contact> = (1..=4).map(|n| uri(&format!("sip:{n}@1"), None)).collect();
        let err = check(&request(&four, None, 1), &LIMITS).unwrap_err();
        assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
        let old = registered(&["sip:1@1", "sip:2@1", "sip:3@1"], NOW);
        let err = update(&old, &request(&four[3..], None, 2), &LIMITS, NOW).unwrap_err();
        assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
        // Replacing one of the three keeps the count, and an expired one frees its place.
        assert_eq!(
            update(&old, &request(&four[..1], None, 2), &LIMITS, NOW)
                .unwrap()
                .len(),
            3
        );
        let later = NOW + 3600;
        assert_eq!(
            update(&old, &request(&four[3..], None, 2), &LIMITS, later)
                .unwrap()
                .len(),
            1
        );
    }
}
