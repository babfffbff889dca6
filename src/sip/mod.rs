//! The SIP side: a registrar for REGISTER, plus the answers RFC 3261 requires to everything
//! else (SPEC.md §4).
//!
//! `handle_message` is a pure function of the state, the bytes of one message, their source
//! and `now`; it returns the bytes to send back, if any. Only `transport.rs` owns sockets.
//! Layout: `message` (parse and print), `digest` (credentials and nonces), `nonces` (their
//! uses), `generations` (the bounded map under the caches), `registrar` (REGISTER),
//! `transport` (UDP and TCP).

pub mod bursts;
pub mod digest;
pub mod generations;
pub mod message;
pub mod nonces;
pub mod registrar;
pub mod transport;

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::SocketAddr;
use std::sync::Mutex;

use crate::clock::UnixSecs;
use crate::domain::Transport;
use crate::store::Store;
use crate::sync::lock;
use generations::Generations;
use message::{Message, Peer, Response, StartLine};
use registrar::Registrar;

/// Methods this server answers itself.
const ALLOW: &str = "REGISTER, OPTIONS";

/// Methods of RFC 3261 and its common extensions: known, but not served here (405).
const KNOWN_METHODS: &[&str] = &[
    "INVITE",
    "ACK",
    "BYE",
    "CANCEL",
    "SUBSCRIBE",
    "NOTIFY",
    "PUBLISH",
    "MESSAGE",
    "INFO",
    "PRACK",
    "UPDATE",
    "REFER",
];

/// How long a UDP response is kept for retransmissions: 64·T1 (RFC 3261 §17.2.2).
const CACHE_SECS: UnixSecs = 32;

/// Responses kept per cache generation: about 5 MB at most for both generations.
const CACHE_CAPACITY: usize = 4096;

/// The SIP service: the registrar, the UDP retransmission cache and the To-tag seed.
pub struct SipService {
    /// REGISTER processing.
    pub registrar: Registrar,
    cache: Mutex<Generations<CacheKey, Vec<u8>>>,
    /// Keys the To tags: random per boot, so tags are unpredictable and differ per request.
    tag_seed: RandomState,
}

/// A request's identity for retransmission matching (RFC 3261 §17.2.3): source, top Via
/// branch, Call-ID and CSeq.
#[derive(Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    source: SocketAddr,
    branch: String,
    call_id: String,
    cseq: String,
}

impl SipService {
    /// A service around a registrar.
    pub fn new(registrar: Registrar, now: UnixSecs) -> SipService {
        SipService {
            registrar,
            cache: Mutex::new(Generations::new(CACHE_CAPACITY, CACHE_SECS, now)),
            tag_seed: RandomState::new(),
        }
    }

    /// Frees soft state that has aged out, even when no new message would rotate it: the
    /// retransmission cache and the nonce tracker. The sweeper calls it periodically.
    pub fn sweep(&self, now: UnixSecs) {
        lock(&self.cache).expire(now);
        self.registrar.sweep(now);
    }

    /// Handles one message; returns the bytes to send to its source, if any.
    pub fn handle_message(
        &self,
        store: &Store,
        bytes: &[u8],
        peer: Peer,
        now: UnixSecs,
    ) -> Option<Vec<u8>> {
        let req = match message::parse(bytes) {
            Ok(req) => req,
            Err(err) => {
                log::debug!("dropped unparsable message from {}: {}", peer.addr, err.0);
                return None;
            }
        };
        let StartLine::Request { method, .. } = &req.start else {
            return None; // A response to a request we never sent.
        };
        if method == "ACK" {
            return None; // ACK is never answered (RFC 3261 §17).
        }
        // Only answers to credentialed requests need the cache: re-evaluating them would fail
        // the nonce's nc check; anything else gives the same answer when re-evaluated.
        let cached = peer.transport == Transport::Udp && req.header("Authorization").is_some();
        let key = cached.then(|| cache_key(&req, peer.addr)).flatten();
        if let Some(key) = &key {
            if let Some(bytes) = lock(&self.cache).get(key) {
                return Some(bytes.clone());
            }
        }
        let res = self.respond(store, &req, method, peer, now)?;
        let bytes = res.with_to_tag(&self.to_tag(&req, peer)).to_bytes();
        if let Some(key) = key {
            lock(&self.cache).insert(key, bytes.clone(), now);
        }
        Some(bytes)
    }

    /// The To tag of the answers to `req` (RFC 3261 §19.3: random, 32 bits or more): a keyed
    /// hash of what identifies the request (its source, top Via, From, Call-ID and CSeq), so
    /// every retransmission of one request gets the same tag, whether or not it was cached.
    fn to_tag(&self, req: &Message, peer: Peer) -> String {
        let mut hasher = self.tag_seed.build_hasher();
        peer.addr.hash(&mut hasher);
        for name in ["Via", "From", "Call-ID", "CSeq"] {
            req.header(name).hash(&mut hasher);
        }
        format!("{:016x}", hasher.finish())
    }

    fn respond(
        &self,
        store: &Store,
        req: &Message,
        method: &str,
        peer: Peer,
        now: UnixSecs,
    ) -> Option<Response> {
        let complete = ["Via", "From", "To", "Call-ID", "CSeq"]
            .iter()
            .all(|name| req.header(name).is_some());
        if !complete {
            // Without them no response can be routed or matched (RFC 3261 §8.1.1).
            log::debug!(
                "dropped {method} from {}: missing mandatory headers",
                peer.addr
            );
            return None;
        }
        match method {
            "REGISTER" => registrar::handle_register(&self.registrar, store, req, peer, now),
            "OPTIONS" => Some(
                Response::to(req, 200, "OK", peer.addr)
                    .with("Allow", ALLOW)
                    .with("Accept", "application/sdp"),
            ),
            known if KNOWN_METHODS.contains(&known) => {
                Some(Response::to(req, 405, "Method Not Allowed", peer.addr).with("Allow", ALLOW))
            }
            _ => Some(Response::to(req, 501, "Not Implemented", peer.addr).with("Allow", ALLOW)),
        }
    }
}

fn cache_key(req: &Message, source: SocketAddr) -> Option<CacheKey> {
    let via = req.header_list("Via").into_iter().next()?;
    let branch = message::parse_params(via.split_once(';').map_or("", |(_, params)| params))
        .into_iter()
        .find(|(name, _)| name == "branch")
        .and_then(|(_, value)| value)?;
    Some(CacheKey {
        source,
        branch,
        call_id: req.header("Call-ID")?.to_string(),
        cseq: req.header("CSeq")?.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Limiter;
    use crate::config::SipSettings;

    fn options(cseq: u32) -> Vec<u8> {
        format!(
            "OPTIONS sip:pbx.test SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bK{cseq}\r\n\
             From: <sip:alice@pbx.test>;tag=a\r\nTo: <sip:pbx.test>\r\nCall-ID: c1\r\n\
             CSeq: {cseq} OPTIONS\r\nContent-Length: 0\r\n\r\n"
        )
        .into_bytes()
    }

    fn to_tag(reply: &[u8]) -> String {
        let text = String::from_utf8_lossy(reply);
        let to = text.lines().find(|line| line.starts_with("To: ")).unwrap();
        to.split(";tag=").nth(1).unwrap().to_string()
    }

    #[test]
    fn to_tags_are_random_per_request_and_stable_for_its_retransmissions() {
        let store = Store::open_temporary("pbx.test").unwrap();
        let service = |now| {
            let limiter = Limiter::new(10, 60, 60);
            let registrar = Registrar::new(SipSettings::SMALL, limiter, |_| false).unwrap();
            SipService::new(registrar, now)
        };
        let (one, other) = (service(0), service(0));
        let peer = Peer {
            addr: "192.0.2.7:5060".parse().unwrap(),
            transport: Transport::Udp,
        };
        let answer = |sip: &SipService, cseq| {
            to_tag(&sip.handle_message(&store, &options(cseq), peer, 0).unwrap())
        };
        let tag = answer(&one, 1);
        assert_eq!(tag.len(), 16, "64 bits, hex: {tag}");
        assert_eq!(answer(&one, 1), tag, "a retransmission gets the same tag");
        assert_ne!(answer(&one, 2), tag, "another request, another tag");
        assert_ne!(answer(&other, 1), tag, "another boot, another tag");
    }
}
