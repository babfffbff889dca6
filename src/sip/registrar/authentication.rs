//! Digest authentication of a REGISTER: the challenge, the evaluation of an `Authorization`
//! (nonce, per-login limit, HA1, response, nonce use) and what a failure leaves behind (a
//! fail2ban line, a count against the address and the login, a dead nonce).

use std::sync::Arc;

use super::request::AddressOfRecord;
use super::{LoginKey, Registrar};
use crate::auth::{log_failure, printable, Service};
use crate::clock::UnixSecs;
use crate::crypto;
use crate::domain::rfc2822;
use crate::error::{Error, Result};
use crate::sip::bursts::{Dialog, BURST_SECS};
use crate::sip::digest::{self, Algorithm, Credentials, NonceCheck};
use crate::sip::message::{Message, NameAddr, Peer, Response, SipUri};
use crate::sip::nonces::NonceUseCheck;
use crate::store::records::ClientAuth;
use crate::store::Store;

impl Registrar {
    /// False while `login` is over the failed-authentication limit, counted from every
    /// address (a password guessed from many addresses), unless `peer` is where that client
    /// is registered right now: an attack on one extension must not lock out the phone on the
    /// desk. An unknown login is limited the same way, so the limit tells nothing about
    /// which logins exist.
    fn login_admits(
        &self,
        store: &Store,
        aor: &AddressOfRecord,
        client: Option<&ClientAuth>,
        peer: Peer,
        now: UnixSecs,
    ) -> bool {
        if self.logins.check(&limit_key(aor), now).is_ok() {
            return true;
        }
        client.is_some_and(|client| holds_registration(store, client, peer, now))
    }

    fn challenge(
        &self,
        req: &Message,
        peer: Peer,
        now: UnixSecs,
        realm: &str,
        stale: bool,
    ) -> Response {
        // A CSPRNG failure would be extraordinary; a zero salt still gives a valid (if less
        // unique) nonce, which beats failing the whole request.
        let salt = crypto::random_bytes::<8>().unwrap_or_default();
        let nonce = digest::mint_nonce(&self.secret, peer.addr.ip(), now, salt);
        let mut res = Response::to(req, 401, "Unauthorized", peer.addr);
        for value in digest::challenge(self.settings.digest_algorithms, realm, &nonce, stale) {
            res = res.with("WWW-Authenticate", value);
        }
        res
    }

    /// Records the use of a nonce whose digest was right; `Some(stale)` when it may not be
    /// used (again) and the answer is a fresh challenge.
    fn use_nonce(
        &self,
        creds: &Credentials,
        minted: UnixSecs,
        peer: Peer,
        now: UnixSecs,
    ) -> Option<bool> {
        match self.nonces.commit(&creds.nonce, minted, creds.nc, now) {
            NonceUseCheck::Fresh => None,
            NonceUseCheck::Forgotten => Some(true),
            NonceUseCheck::Replay => {
                // Refused, but not counted against the address: the digest was right, so this
                // is no password guess. Overloaded phones retransmit, and a retransmission
                // whose cached answer was evicted arrives here; banning the phone for that
                // would turn a load spike into an outage.
                log::info!(
                    "auth replay refused: user={} source={} (not counted)",
                    creds.username,
                    peer.addr
                );
                self.nonces.kill(&creds.nonce, now);
                Some(false)
            }
        }
    }

    /// True (and logged) when this digest is a phone's retry within a burst: the same phone
    /// answering again at once. Nothing is evaluated, so nothing is guessed and nothing is
    /// counted (no fail2ban line either); the answer is a fresh challenge.
    fn is_burst_retry(
        &self,
        req: &Message,
        creds: &Credentials,
        peer: Peer,
        now: UnixSecs,
    ) -> bool {
        if self.bursts.is_empty() {
            return false;
        }
        let from = req.header("From").and_then(NameAddr::parse);
        let dialog = dialog(req, &from);
        if !self
            .bursts
            .is_retry(peer.addr.ip(), &creds.username, &dialog, now)
        {
            return false;
        }
        log::info!(
            "auth retry not evaluated: user={} source={} (within {BURST_SECS} s of a failure)",
            printable(&creds.username),
            peer.addr
        );
        self.nonces.kill(&creds.nonce, now);
        true
    }

    fn fail(
        &self,
        req: &Message,
        peer: Peer,
        now: UnixSecs,
        aor: &AddressOfRecord,
        reason: &str,
        nonce: &str,
    ) -> Response {
        // Not forgotten on a success: a phone refreshing its binding must not hand an
        // attacker a fresh allowance of guesses.
        let user = aor.user.as_str();
        let login_blocked = self.logins.record_failure(limit_key(aor), now);
        log_failure(Service::Sip, user, Some(peer.addr), reason);
        let shown = printable(user);
        if let Some(until) = login_blocked {
            log::warn!(
                "sip limit: user={shown} refused until {} (too many failed authentications)",
                rfc2822(until)
            );
        }
        if let Some(until) = self.limiter.record_failure(peer.addr.ip(), now) {
            log::warn!(
                "sip limit: source={} refused until {} (too many failed authentications)",
                peer.addr.ip(),
                rfc2822(until)
            );
        }
        let from = req.header("From").and_then(NameAddr::parse);
        self.bursts
            .failed(peer.addr.ip(), user, &dialog(req, &from), now);
        self.nonces.kill(nonce, now);
        self.challenge(req, peer, now, &aor.domain.realm, false)
    }
}

/// What identifies the UA's registration, for telling its retries (see `sip::bursts`).
fn dialog<'a>(req: &'a Message, from: &'a Option<NameAddr>) -> Dialog<'a> {
    Dialog {
        call_id: req.header("Call-ID").unwrap_or(""),
        from_tag: from.as_ref().and_then(|from| from.param("tag")),
    }
}

/// True when `client` holds a live registration made from `peer`'s address.
fn holds_registration(store: &Store, client: &ClientAuth, peer: Peer, now: UnixSecs) -> bool {
    store
        .bindings(&client.sid)
        .iter()
        .any(|binding| binding.expires_at > now && binding.source.ip() == peer.addr.ip())
}

/// True when `req` is for a client (its digest user, else its To user) that holds a live
/// registration from `peer`'s address: such a phone is still served while that address is
/// over its failure limit, and its digests are still evaluated.
pub(super) fn from_registered_phone(
    store: &Store,
    req: &Message,
    peer: Peer,
    now: UnixSecs,
) -> bool {
    let to = req
        .header("To")
        .and_then(NameAddr::parse)
        .and_then(|to| SipUri::parse(&to.uri));
    let Some(to) = to else {
        return false;
    };
    let login = match req.header("Authorization").and_then(Credentials::parse) {
        Some(creds) => Some(creds.username),
        None => to.user,
    };
    let bare = to.host.trim_start_matches('[').trim_end_matches(']');
    let Ok(domain) = store.sip_domain(bare) else {
        return false;
    };
    let client = login.and_then(|login| store.auth_by_login(&domain.sid, &login).ok().flatten());
    client.is_some_and(|client| holds_registration(store, &client, peer, now))
}

/// The outcome of authentication: the client, or the answer to send instead.
pub(super) enum Authenticated {
    Client(Arc<ClientAuth>),
    Answer(Response),
}

/// Authenticates a REGISTER addressed to `aor`, in its organization's realm.
pub(super) fn authenticate(
    reg: &Registrar,
    store: &Store,
    req: &Message,
    peer: Peer,
    now: UnixSecs,
    aor: &AddressOfRecord,
) -> Result<Authenticated> {
    let realm = &*aor.domain.realm;
    let challenge = |stale| {
        Ok(Authenticated::Answer(
            reg.challenge(req, peer, now, realm, stale),
        ))
    };
    let Some(creds) = req.header("Authorization").and_then(Credentials::parse) else {
        return challenge(false);
    };
    if creds.realm != realm {
        return challenge(false);
    }
    if creds.username != aor.user {
        return Err(Error::Forbidden(
            "digest username does not match the To user".to_string(),
        ));
    }
    // Only an answer to a challenge we offer: a change of the setting takes effect at once.
    let offered = |algorithm: &Algorithm| reg.settings.digest_algorithms.offers(*algorithm);
    let Some(algorithm) = creds.algorithm().filter(offered) else {
        return challenge(false);
    };
    let nonce_state = digest::check_nonce(&reg.secret, &creds.nonce, peer.addr.ip(), now);
    if nonce_state == NonceCheck::Invalid {
        // Most often a nonce from before a restart (the secret is per boot): just challenge.
        log::debug!("REGISTER from {}: nonce not ours", peer.addr);
        return challenge(false);
    }
    let fail = |reason: &str| {
        Ok(Authenticated::Answer(reg.fail(
            req,
            peer,
            now,
            aor,
            reason,
            &creds.nonce,
        )))
    };
    if reg.is_burst_retry(req, &creds, peer, now) {
        return challenge(false);
    }
    let client = store.auth_by_login(&aor.domain.sid, &creds.username)?;
    if !reg.login_admits(store, aor, client.as_deref(), peer, now) {
        // Not evaluated: while a login is limited, no guess at its password is tried. The
        // answer is that of a wrong password, and the address pays for it.
        return fail("login_limited");
    }
    check_realm(client.as_deref(), realm)?;
    let ha1 = client.as_ref().map(|client| client.ha1_hex(algorithm));
    let method = req.method().unwrap_or("REGISTER");
    let client = match (
        digest::verify(algorithm, ha1.as_deref(), &creds, method),
        client,
    ) {
        (Ok(()), Some(client)) => client,
        (Err(refused), _) => return fail(refused.reason()),
        (Ok(()), None) => return fail(digest::Refused::UnknownUser.reason()),
    };
    let NonceCheck::Valid { minted } = nonce_state else {
        return challenge(true);
    };
    if let Some(stale) = reg.use_nonce(&creds, minted, peer, now) {
        return challenge(stale);
    }
    reg.limiter.record_success(&peer.addr.ip(), now);
    Ok(Authenticated::Client(client))
}

/// A client whose HA1 values are for another domain (its account migrated, or `sip.realm`
/// changed) cannot have a digest for this realm checked, and a silent 401 loop would leave
/// the phone's owner guessing: it is told, with a 403. Nothing was guessed, so nothing is
/// counted.
fn check_realm(client: Option<&ClientAuth>, realm: &str) -> Result<()> {
    match client {
        Some(client) if *client.realm != *realm => Err(Error::Forbidden(format!(
            "{} needs a new password for {realm}: set one through the API (its account moved \
             to this domain)",
            client.login
        ))),
        _ => Ok(()),
    }
}

/// The per-login limiter's key: the login in its organization, so that guesses at `alice`
/// of one tenant do not lock out the other's `alice`.
fn limit_key(aor: &AddressOfRecord) -> LoginKey {
    (aor.domain.sid, login_key(&aor.user).into())
}

/// A login is at most 64 characters, so a longer user name cannot name one, and its first
/// 64 characters are as good a key as any.
pub(super) fn login_key(user: &str) -> &str {
    match user.char_indices().nth(64) {
        Some((end, _)) => &user[..end],
        None => user,
    }
}
