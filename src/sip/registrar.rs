//! The REGISTER logic of RFC 3261 §10.3, with digest authentication (SPEC.md §4).
//!
//! `handle_register` is a function of the registrar's state, the store, one parsed request,
//! its source and `now`: no sockets. A missing or failed credential is the protocol working,
//! so it answers a 401 challenge as a value, not an error. Every failed authentication writes
//! one fail2ban line (`auth failed: user=… source=ip:port reason=…`) and counts against the
//! source address; an address over the limit is ignored (`None`: nothing is sent back).
//! Unknown user, wrong password, replayed or dead nonce all get the same fresh challenge.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use crate::auth::Limiter;
use crate::clock::UnixSecs;
use crate::config::SipSettings;
use crate::crypto;
use crate::domain::{http_date, Status};
use crate::error::{Error, Result};
use crate::sip::digest::{self, Algorithm, Credentials, NonceCheck};
use crate::sip::generations::Generations;
use crate::sip::message::{Message, NameAddr, Response, SipUri, StartLine};
use crate::sip::Peer;
use crate::store::records::{BindingRecord, ClientAuth};
use crate::store::Store;
use crate::sync::lock;

/// The registrar's state: configuration, the nonce secret, nonce uses and the failure limit.
pub struct Registrar {
    /// The realm and domain served.
    pub realm: String,
    /// Limits from the configuration.
    pub settings: SipSettings,
    secret: digest::NonceKey,
    nonces: NonceTracker,
    /// Failures per source address.
    limiter: Limiter,
    /// Failures per login, from any address, with the same thresholds (SPEC.md §4).
    logins: Limiter<Box<str>>,
    is_local: fn(IpAddr) -> bool,
    local_hosts: Mutex<HashMap<String, bool>>,
}

impl Registrar {
    /// A registrar with a fresh nonce secret. `is_local` tells whether an IP address is one of
    /// this machine's (the transport probes it); a Request-URI may name one instead of the realm.
    pub fn new(
        realm: &str,
        settings: SipSettings,
        limiter: Limiter,
        is_local: fn(IpAddr) -> bool,
    ) -> Result<Registrar> {
        Ok(Registrar {
            realm: realm.to_string(),
            settings,
            secret: digest::NonceKey::new(&crypto::random_bytes()?),
            nonces: NonceTracker::new(0),
            logins: limiter.same_limits(),
            limiter,
            is_local,
            local_hosts: Mutex::new(HashMap::new()),
        })
    }

    /// True when `host` (from a URI) names this registrar's domain: the realm, `localhost`, or
    /// one of this machine's addresses.
    pub fn serves(&self, host: &str) -> bool {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if bare.eq_ignore_ascii_case(&self.realm) || bare.eq_ignore_ascii_case("localhost") {
            return true;
        }
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

    /// False while `ip` is over the failed-authentication limit: its requests are dropped.
    pub fn admits(&self, ip: IpAddr, now: UnixSecs) -> bool {
        self.limiter.check(&ip, now).is_ok()
    }

    /// Lets the nonce tracker drop what a storm left once it has aged out.
    pub fn sweep(&self, now: UnixSecs) {
        self.nonces.expire(now);
    }

    /// False while `login` is over the failed-authentication limit, counted from every
    /// address (a password guessed from many addresses), unless `peer` is where that client
    /// is registered right now: an attack on one extension must not lock out the phone on the
    /// desk. An unknown login is limited the same way, so the limit tells nothing about
    /// which logins exist.
    fn login_admits(
        &self,
        store: &Store,
        login: &str,
        client: Option<&ClientAuth>,
        peer: Peer,
        now: UnixSecs,
    ) -> bool {
        if self.logins.check(login_key(login), now).is_ok() {
            return true;
        }
        client.is_some_and(|client| {
            store
                .bindings(&client.sid)
                .iter()
                .any(|binding| binding.expires_at > now && binding.source.ip() == peer.addr.ip())
        })
    }

    fn challenge(&self, req: &Message, peer: Peer, now: UnixSecs, stale: bool) -> Response {
        // A CSPRNG failure would be extraordinary; a zero salt still gives a valid (if less
        // unique) nonce, which beats failing the whole request.
        let salt = crypto::random_bytes::<8>().unwrap_or_default();
        let nonce = digest::mint_nonce(&self.secret, peer.addr.ip(), now, salt);
        let mut res = Response::to(req, 401, "Unauthorized", peer.addr);
        for value in digest::challenge(&self.realm, &nonce, stale) {
            res = res.with("WWW-Authenticate", value);
        }
        res
    }

    fn fail(
        &self,
        req: &Message,
        peer: Peer,
        now: UnixSecs,
        user: &str,
        reason: &str,
        nonce: &str,
    ) -> Response {
        // Not forgotten on a success: a phone refreshing its binding must not hand an
        // attacker a fresh allowance of guesses.
        self.logins.record_failure(login_key(user).into(), now);
        let user: String = user
            .chars()
            .take(64)
            .map(|c| if c.is_ascii_graphic() { c } else { '?' })
            .collect();
        log::warn!(
            "auth failed: user={user} source={} reason={reason}",
            peer.addr
        );
        self.limiter.record_failure(peer.addr.ip(), now);
        self.nonces.kill(nonce, now);
        self.challenge(req, peer, now, false)
    }
}

/// Handles one REGISTER. `None` means: send nothing (the source is over the failure limit).
pub fn handle_register(
    reg: &Registrar,
    store: &Store,
    req: &Message,
    peer: Peer,
    now: UnixSecs,
) -> Option<Response> {
    if !reg.admits(peer.addr.ip(), now) {
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
                _ => res,
            }
        }
    };
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
    let StartLine::Request { uri, .. } = &req.start else {
        return Err(Error::Invalid("not a request".to_string()));
    };
    for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
        if req.header(name).is_none() {
            return Err(Error::Invalid(format!("missing {name} header")));
        }
    }
    let cseq = parse_cseq(req.header("CSeq").unwrap_or(""))?;
    let request_uri =
        SipUri::parse(uri).ok_or_else(|| Error::Invalid("bad Request-URI".to_string()))?;
    if !reg.serves(&request_uri.host) {
        return Ok(Response::to(req, 404, "Not Found", peer.addr)
            .with("Warning", "399 edgecomm \"domain not served here\""));
    }
    if let Some(require) = req.header("Require") {
        return Ok(Response::to(req, 420, "Bad Extension", peer.addr)
            .with("Unsupported", require.to_string()));
    }
    let to = req
        .header("To")
        .and_then(NameAddr::parse)
        .and_then(|to| SipUri::parse(&to.uri));
    let Some(aor) = to else {
        return Err(Error::Invalid("bad To header".to_string()));
    };
    let Some(aor_user) = aor.user.clone().filter(|_| reg.serves(&aor.host)) else {
        return Ok(Response::to(req, 404, "Not Found", peer.addr).with(
            "Warning",
            "399 edgecomm \"address-of-record not served here\"",
        ));
    };

    let client = match authenticate(reg, store, req, peer, now, &aor_user)? {
        Authenticated::Client(client) => client,
        Authenticated::Answer(res) => return Ok(res),
    };
    let changes = contact_changes(reg, req)?;
    let changes = match changes {
        Contacts::TooBrief => {
            return Ok(Response::to(req, 423, "Interval Too Brief", peer.addr)
                .with("Min-Expires", reg.settings.min_expires.to_string()))
        }
        other => other,
    };
    let call_id = req.header("Call-ID").unwrap_or("").to_string();
    let user_agent = req
        .header("User-Agent")
        .map(|ua| ua.chars().take(256).collect::<String>());
    let contacts = store.update_bindings(&client.sid, now, |list| {
        // Checked under the bindings lock (and only here: it costs two reads), so a concurrent
        // disable or suspension, which drops bindings after its commit under the same lock,
        // cannot be outrun.
        if !may_register(store, &client)? {
            return Err(Error::Forbidden(
                "client disabled or account not active".to_string(),
            ));
        }
        list.retain(|binding| binding.expires_at > now);
        match &changes {
            Contacts::Query | Contacts::TooBrief => {}
            Contacts::RemoveAll => {
                if list
                    .iter()
                    .any(|binding| *binding.call_id == *call_id && binding.cseq >= cseq)
                {
                    return Err(Error::Invalid(
                        "CSeq out of order for this Call-ID".to_string(),
                    ));
                }
                list.clear();
            }
            Contacts::Update(contacts) => {
                for (contact, q, expires) in contacts {
                    let existing = list
                        .iter()
                        .position(|binding| *binding.contact == **contact);
                    if let Some(idx) = existing {
                        if *list[idx].call_id == *call_id && list[idx].cseq >= cseq {
                            return Err(Error::Invalid(
                                "CSeq out of order for this Call-ID".to_string(),
                            ));
                        }
                    }
                    let registered_at = existing.map_or(now, |idx| list[idx].registered_at);
                    if let Some(idx) = existing {
                        list.remove(idx);
                    }
                    if *expires > 0 {
                        list.push(BindingRecord {
                            client: client.sid,
                            contact: contact.as_str().into(),
                            q: q.as_deref().map(Box::from),
                            expires_at: now + i64::from(*expires),
                            call_id: call_id.as_str().into(),
                            cseq,
                            source: peer.addr,
                            transport: peer.transport,
                            user_agent: user_agent.as_deref().map(Box::from),
                            registered_at,
                            stored_expires_at: 0,
                        });
                    }
                }
                if list.len() > reg.settings.max_contacts {
                    return Err(Error::Forbidden(format!(
                        "at most {} contacts per client",
                        reg.settings.max_contacts
                    )));
                }
            }
        }
        // The 200's Contact values, built here rather than from a copy of the whole list.
        Ok(list
            .iter()
            .map(|binding| {
                let mut value = format!(
                    "<{}>;expires={}",
                    binding.contact,
                    (binding.expires_at - now).max(0)
                );
                if let Some(q) = &binding.q {
                    value.push_str(&format!(";q={q}"));
                }
                value
            })
            .collect::<Vec<String>>())
    })?;

    let mut res = Response::to(req, 200, "OK", peer.addr);
    for value in contacts {
        res = res.with("Contact", value);
    }
    Ok(res.with("Date", http_date(now)))
}

enum Authenticated {
    Client(std::sync::Arc<ClientAuth>),
    Answer(Response),
}

fn authenticate(
    reg: &Registrar,
    store: &Store,
    req: &Message,
    peer: Peer,
    now: UnixSecs,
    aor_user: &str,
) -> Result<Authenticated> {
    let challenge = |stale| Ok(Authenticated::Answer(reg.challenge(req, peer, now, stale)));
    let Some(creds) = req.header("Authorization").and_then(Credentials::parse) else {
        return challenge(false);
    };
    if creds.realm != reg.realm {
        return challenge(false);
    }
    if creds.username != aor_user {
        return Err(Error::Forbidden(
            "digest username does not match the To user".to_string(),
        ));
    }
    let Some(algorithm) = creds.algorithm() else {
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
            &creds.username,
            reason,
            &creds.nonce,
        )))
    };
    let client = store.auth_by_login(&creds.username)?;
    if !reg.login_admits(store, &creds.username, client.as_deref(), peer, now) {
        // Not evaluated: while a login is limited, no guess at its password is tried. The
        // answer is that of a wrong password, and the address pays for it.
        return fail("login_limited");
    }
    let ha1 = client
        .as_ref()
        .filter(|client| *client.realm == *reg.realm)
        .map(|client| match algorithm {
            Algorithm::Md5 => client.ha1_md5_hex(),
            Algorithm::Sha256 => client.ha1_sha256_hex(),
        });
    // Without a usable HA1, compare against a random one: same work, same answer.
    let ha1_or_dummy = ha1
        .clone()
        .unwrap_or_else(|| crypto::hex(&crypto::random_bytes::<16>().unwrap_or_default()));
    let method = req.method().unwrap_or("REGISTER");
    let Some(expected) = digest::expected_response(algorithm, &ha1_or_dummy, &creds, method) else {
        return fail("unsupported_qop");
    };
    let response_ok = crypto::ct_eq(expected.as_bytes(), creds.response.as_bytes());
    let client = match (client, ha1.is_some(), response_ok) {
        (Some(client), true, true) => client,
        (_, false, _) => return fail("unknown_user"),
        _ => return fail("wrong_password"),
    };
    let NonceCheck::Valid { minted } = nonce_state else {
        return challenge(true);
    };
    match reg.nonces.commit(&creds.nonce, minted, creds.nc, now) {
        NonceUseCheck::Fresh => {}
        NonceUseCheck::Forgotten => return challenge(true),
        NonceUseCheck::Replay => {
            // Refused, but not counted against the address: the digest was right, so this is
            // no password guess. Overloaded phones retransmit, and a retransmission whose
            // cached answer was evicted arrives here; banning the phone for that would turn
            // a load spike into an outage.
            log::info!(
                "auth replay refused: user={} source={} (not counted)",
                creds.username,
                peer.addr
            );
            reg.nonces.kill(&creds.nonce, now);
            return challenge(false);
        }
    }
    reg.limiter.record_success(&peer.addr.ip());
    Ok(Authenticated::Client(client))
}

/// A client may register when it is enabled and its account is active (an active account's
/// ancestors are all active: the cascade keeps that invariant). Reads the store's current
/// view (its cache is cleared by every account or client write), not the caller's copy.
fn may_register(store: &Store, client: &ClientAuth) -> Result<bool> {
    let Some(fresh) = store.auth_by_sid(&client.sid)? else {
        return Ok(false);
    };
    let account_active = store.account_status(&fresh.account)? == Some(Status::Active);
    Ok(fresh.enabled && account_active)
}

/// What a REGISTER asks to do with the bindings.
enum Contacts {
    /// No Contact: list the bindings.
    Query,
    /// `Contact: *` with `Expires: 0`.
    RemoveAll,
    /// (contact URI, q, granted expires); 0 removes.
    Update(Vec<(String, Option<String>, u32)>),
    /// A contact asked for less than `min_expires`: 423.
    TooBrief,
}

fn contact_changes(reg: &Registrar, req: &Message) -> Result<Contacts> {
    let header_expires = match req.header("Expires") {
        Some(text) => Some(
            parse_delta(text.trim())
                .ok_or_else(|| Error::Invalid("bad Expires header".to_string()))?,
        ),
        None => None,
    };
    let contacts = req.header_list("Contact");
    if contacts.is_empty() {
        return Ok(Contacts::Query);
    }
    if contacts.iter().any(|contact| contact.trim() == "*") {
        if contacts.len() != 1 || header_expires != Some(0) {
            return Err(Error::Invalid(
                "Contact: * needs Expires: 0 and no other contact".to_string(),
            ));
        }
        return Ok(Contacts::RemoveAll);
    }
    if contacts.len() > reg.settings.max_contacts {
        return Err(Error::Forbidden(format!(
            "at most {} contacts per client",
            reg.settings.max_contacts
        )));
    }
    let mut out = Vec::new();
    for text in contacts {
        let contact = NameAddr::parse(text)
            .ok_or_else(|| Error::Invalid("bad Contact header".to_string()))?;
        let asked = match contact.param("expires") {
            Some(value) => parse_delta(value)
                .ok_or_else(|| Error::Invalid("bad expires parameter".to_string()))?,
            None => header_expires.unwrap_or(reg.settings.default_expires),
        };
        if asked > 0 && asked < reg.settings.min_expires {
            return Ok(Contacts::TooBrief);
        }
        let granted = asked.min(reg.settings.max_expires);
        let q = contact.param("q").map(str::to_string);
        out.push((contact.uri, q, granted));
    }
    Ok(Contacts::Update(out))
}

/// A delta-seconds value; huge values are capped rather than refused (RFC 3261 §20.19).
fn parse_delta(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        text.parse::<u64>()
            .map_or(u32::MAX, |value| u32::try_from(value).unwrap_or(u32::MAX)),
    )
}

fn parse_cseq(text: &str) -> Result<u32> {
    let mut parts = text.split_whitespace();
    let number = parts.next().and_then(|n| n.parse::<u32>().ok());
    let method = parts.next();
    match (number, method) {
        (Some(number), Some(method)) if method.eq_ignore_ascii_case("REGISTER") => Ok(number),
        _ => Err(Error::Invalid("bad CSeq header".to_string())),
    }
}

/// The per-login limiter's key: a login is at most 64 characters, so a longer user name
/// cannot name one, and its first 64 characters are as good a key as any.
fn login_key(user: &str) -> &str {
    match user.char_indices().nth(64) {
        Some((end, _)) => &user[..end],
        None => user,
    }
}

/// Which nonces were used with which `nc`, and which died after a failed response, in a
/// bounded two-generation map (see `sip::generations`): a flood cannot grow it, and every
/// operation is O(1). A nonce minted before the map's horizon may have lost its record, so
/// its use is answered with a fresh nonce (`stale=true`) rather than trusted.
pub struct NonceTracker {
    uses: Mutex<Generations<u64, NonceUse>>,
}

/// Nonce records per generation: about 2 MB at most for both.
const NONCE_CAPACITY: usize = 32_768;

#[derive(Clone, Copy)]
struct NonceUse {
    last_nc: u32,
    dead: bool,
}

/// What the tracker says about one use of a nonce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonceUseCheck {
    /// First use, or a growing `nc`: recorded.
    Fresh,
    /// A dead nonce, or an `nc` that did not grow.
    Replay,
    /// Minted before the horizon: its record may be gone, ask for a new nonce.
    Forgotten,
}

impl NonceTracker {
    /// An empty tracker.
    pub fn new(now: UnixSecs) -> NonceTracker {
        NonceTracker {
            uses: Mutex::new(Generations::new(
                NONCE_CAPACITY,
                digest::NONCE_LIFETIME_SECS / 2,
                now,
            )),
        }
    }

    /// Records a successful use of a nonce minted at `minted`. Without qop there is no `nc`:
    /// such a nonce is good for one use.
    pub fn commit(
        &self,
        nonce: &str,
        minted: UnixSecs,
        nc: Option<u32>,
        now: UnixSecs,
    ) -> NonceUseCheck {
        let nc = nc.unwrap_or(1);
        let key = nonce_key(nonce);
        let mut uses = self
            .uses
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        match uses.get(&key).copied() {
            Some(entry) if entry.dead || nc <= entry.last_nc => NonceUseCheck::Replay,
            None if minted <= uses.horizon() => NonceUseCheck::Forgotten,
            _ => {
                uses.insert(
                    key,
                    NonceUse {
                        last_nc: nc,
                        dead: false,
                    },
                    now,
                );
                NonceUseCheck::Fresh
            }
        }
    }

    /// Lets an idle tracker drop what a storm left (see `Generations::expire`).
    pub fn expire(&self, now: UnixSecs) {
        self.uses
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .expire(now);
    }

    /// Kills a nonce after a failed response.
    pub fn kill(&self, nonce: &str, now: UnixSecs) {
        let mut uses = self
            .uses
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        uses.insert(
            nonce_key(nonce),
            NonceUse {
                last_nc: u32::MAX,
                dead: true,
            },
            now,
        );
    }
}

/// Nonces are signed by us, so a fixed-key hash of one cannot be steered by a peer.
fn nonce_key(nonce: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    nonce.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests;
