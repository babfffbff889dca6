//! Registrar tests on a temporary store with fixed clocks: the digest flow, nonce rules,
//! expiry arithmetic, RFC 3261 §10.3 edge cases, enforcement and the failure limit.

use super::*;
use crate::domain::accounts;
use crate::domain::{AccountRef, DigestAlgorithms, Role, Status, Transport};
use crate::sip::bursts::BURST_SECS;
use crate::sip::message;
use crate::testing::credentials::{digest_authorization, nonce_of as nonce_in};
use crate::testing::{World, REALM};
use authentication::login_key;
use std::net::SocketAddr;

const T0: UnixSecs = 1_700_000_000;
const SETTINGS: SipSettings = SipSettings::SMALL;

/// The shared fixture (clients `alice` and `bob` of the root) and a registrar over it.
struct Rig {
    world: World,
    reg: Registrar,
    peer: Peer,
}

impl Rig {
    fn new() -> Rig {
        Rig::with(SETTINGS)
    }

    fn with(settings: SipSettings) -> Rig {
        let world = World::new();
        for login in ["alice", "bob"] {
            world.client(&world.root, login);
        }
        let reg = Registrar::new(settings, Limiter::new(3, 60, 60), |ip| ip.is_loopback()).unwrap();
        let peer = Peer {
            addr: "127.0.0.1:5062".parse().unwrap(),
            transport: Transport::Udp,
        };
        Rig { world, reg, peer }
    }

    fn store(&self) -> &Store {
        &self.world.store
    }

    /// Sends a REGISTER for `user`; `extra` holds header lines (each ending in CRLF).
    fn send(&self, user: &str, cseq: u32, extra: &str, now: UnixSecs) -> Option<Response> {
        self.send_with_call_id(user, &format!("call-{user}"), cseq, extra, now)
    }

    /// The same, with a Call-ID of the caller's.
    fn send_with_call_id(
        &self,
        user: &str,
        call_id: &str,
        cseq: u32,
        extra: &str,
        now: UnixSecs,
    ) -> Option<Response> {
        let text = format!(
            "REGISTER sip:{REALM} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK{cseq}x{now}\r\n\
             From: <sip:{user}@{REALM}>;tag=t\r\nTo: <sip:{user}@{REALM}>\r\nCall-ID: {call_id}\r\n\
             CSeq: {cseq} REGISTER\r\n{extra}Content-Length: 0\r\n\r\n"
        );
        let req = message::parse(text.as_bytes()).unwrap();
        handle_register(&self.reg, self.store(), &req, self.peer, now)
    }

    /// Gets a challenge, answers it with `password` (MD5, nc=1).
    fn register(
        &self,
        user: &str,
        password: &str,
        cseq: u32,
        extra: &str,
        now: UnixSecs,
    ) -> Response {
        let challenge = self.send(user, cseq, extra, now).unwrap();
        assert_eq!(challenge.code, 401);
        let nonce = nonce_of(&challenge);
        self.send(
            user,
            cseq + 1,
            &format!("{}{extra}", auth(user, password, &nonce, 1, "MD5")),
            now,
        )
        .unwrap()
    }
}

fn header<'a>(res: &'a Response, name: &str) -> Vec<&'a str> {
    res.headers
        .iter()
        .filter(|(key, _)| *key == name)
        .map(|(_, value)| value.as_str())
        .collect()
}

fn nonce_of(res: &Response) -> String {
    nonce_in(header(res, "WWW-Authenticate")[0])
}

fn auth(user: &str, password: &str, nonce: &str, nc: u32, algorithm: &str) -> String {
    digest_authorization(user, password, REALM, nonce, nc, algorithm)
}

const CONTACT: &str = "Contact: <sip:alice@127.0.0.1:5062>\r\n";

#[test]
fn challenge_then_binding_with_remaining_expires() {
    let rig = Rig::new();
    let challenge = rig.send("alice", 1, CONTACT, T0).unwrap();
    let offers = header(&challenge, "WWW-Authenticate");
    assert_eq!(offers.len(), 1, "one MD5 challenge by default");
    assert!(
        offers[0].contains("algorithm=MD5")
            && offers[0].contains("qop=\"auth\"")
            && offers[0].contains("realm=\"pbx.test\"")
    );
    let ok = rig
        .send(
            "alice",
            2,
            &format!(
                "{}Contact: <sip:alice@127.0.0.1:5062>;expires=600\r\n",
                auth("alice", "alice-secret", &nonce_of(&challenge), 1, "MD5")
            ),
            T0,
        )
        .unwrap();
    assert_eq!(ok.code, 200);
    assert_eq!(
        header(&ok, "Contact"),
        vec!["<sip:alice@127.0.0.1:5062>;expires=600"]
    );
    assert_eq!(header(&ok, "Date").len(), 1);
    // A query 100 s later shows what is left.
    let later = rig
        .send(
            "alice",
            3,
            &auth("alice", "alice-secret", &nonce_of(&challenge), 2, "MD5"),
            T0 + 100,
        )
        .unwrap();
    assert_eq!(
        header(&later, "Contact"),
        vec!["<sip:alice@127.0.0.1:5062>;expires=500"]
    );
    // After expiry the binding is gone even before any sweep.
    let gone = rig.register("alice", "alice-secret", 10, "", T0 + 601);
    assert!(header(&gone, "Contact").is_empty());
    let binding = rig.store().bindings(
        &rig.store()
            .client_by_login(&rig.store().default_organization().unwrap(), "alice")
            .unwrap()
            .unwrap()
            .sid,
    );
    assert!(
        binding.is_empty(),
        "expired bindings are dropped on the next update"
    );
}

#[test]
fn sha256_digest_works_when_offered_and_only_then() {
    let answer = |rig: &Rig| {
        let challenge = rig.send("bob", 1, CONTACT, T0).unwrap();
        let sha = auth("bob", "bob-secret", &nonce_of(&challenge), 1, "SHA-256");
        rig.send("bob", 2, &format!("{sha}{CONTACT}"), T0).unwrap()
    };
    let both = SipSettings {
        digest_algorithms: DigestAlgorithms::parse("MD5,SHA-256").unwrap(),
        ..SETTINGS
    };
    assert_eq!(answer(&Rig::with(both)).code, 200);
    // Not offered: a fresh challenge, not an evaluation (and no failure counted).
    let rig = Rig::new();
    let res = answer(&rig);
    assert_eq!(res.code, 401);
    assert_eq!(header(&res, "WWW-Authenticate").len(), 1);
    assert_eq!(rig.register("bob", "bob-secret", 3, CONTACT, T0).code, 200);
}

#[test]
fn expires_default_clamp_minimum_and_removal() {
    let rig = Rig::new();
    let res = rig.register("alice", "alice-secret", 1, CONTACT, T0);
    assert_eq!(
        header(&res, "Contact"),
        vec!["<sip:alice@127.0.0.1:5062>;expires=3600"],
        "default"
    );
    let res = rig.register(
        "alice",
        "alice-secret",
        3,
        "Contact: <sip:alice@127.0.0.1:5062>\r\nExpires: 99999\r\n",
        T0,
    );
    assert_eq!(
        header(&res, "Contact"),
        vec!["<sip:alice@127.0.0.1:5062>;expires=7200"],
        "clamped"
    );
    let res = rig.register(
        "alice",
        "alice-secret",
        5,
        "Contact: <sip:alice@127.0.0.1:5062>;expires=30\r\n",
        T0,
    );
    assert_eq!(res.code, 423);
    assert_eq!(header(&res, "Min-Expires"), vec!["60"]);
    let res = rig.register(
        "alice",
        "alice-secret",
        7,
        "Contact: <sip:alice@127.0.0.1:5062>;expires=0\r\n",
        T0,
    );
    assert_eq!((res.code, header(&res, "Contact").len()), (200, 0));
}

#[test]
fn wildcard_needs_expires_zero_and_removes_all() {
    let rig = Rig::new();
    rig.register(
        "alice",
        "alice-secret",
        1,
        "Contact: <sip:a@10.0.0.1>, <sip:a@10.0.0.2>\r\n",
        T0,
    );
    let bad = rig.register(
        "alice",
        "alice-secret",
        3,
        "Contact: *\r\nExpires: 3600\r\n",
        T0,
    );
    assert_eq!(bad.code, 400);
    let bad = rig.register(
        "alice",
        "alice-secret",
        5,
        "Contact: *, <sip:a@10.0.0.3>\r\nExpires: 0\r\n",
        T0,
    );
    assert_eq!(bad.code, 400);
    let ok = rig.register(
        "alice",
        "alice-secret",
        7,
        "Contact: *\r\nExpires: 0\r\n",
        T0,
    );
    assert_eq!((ok.code, header(&ok, "Contact").len()), (200, 0));
}

#[test]
fn out_of_order_cseq_on_the_same_call_id_changes_nothing() {
    let rig = Rig::new();
    rig.register("alice", "alice-secret", 40, CONTACT, T0);
    let stale = rig.register(
        "alice",
        "alice-secret",
        5,
        "Contact: <sip:alice@127.0.0.1:5062>;expires=0\r\n",
        T0,
    );
    assert_eq!(stale.code, 400);
    let query = rig.register("alice", "alice-secret", 50, "", T0);
    assert_eq!(header(&query, "Contact").len(), 1, "the binding survived");
}

#[test]
fn too_many_contacts_are_refused_whole() {
    let rig = Rig::new();
    let four =
        "Contact: <sip:a@10.0.0.1>, <sip:a@10.0.0.2>, <sip:a@10.0.0.3>, <sip:a@10.0.0.4>\r\n";
    assert_eq!(rig.register("alice", "alice-secret", 1, four, T0).code, 403);
    rig.register(
        "alice",
        "alice-secret",
        3,
        "Contact: <sip:a@10.0.0.1>, <sip:a@10.0.0.2>, <sip:a@10.0.0.3>\r\n",
        T0,
    );
    assert_eq!(
        rig.register(
            "alice",
            "alice-secret",
            5,
            "Contact: <sip:a@10.0.0.9>\r\n",
            T0
        )
        .code,
        403
    );
    assert_eq!(
        header(&rig.register("alice", "alice-secret", 7, "", T0), "Contact").len(),
        3
    );
}

#[test]
fn stale_nonce_gets_stale_true_only_with_a_good_digest() {
    let rig = Rig::new();
    let challenge = rig.send("alice", 1, CONTACT, T0).unwrap();
    let nonce = nonce_of(&challenge);
    let late = T0 + digest::NONCE_LIFETIME_SECS + 1;
    let stale = rig
        .send(
            "alice",
            2,
            &format!(
                "{}{CONTACT}",
                auth("alice", "alice-secret", &nonce, 1, "MD5")
            ),
            late,
        )
        .unwrap();
    assert_eq!(stale.code, 401);
    assert!(header(&stale, "WWW-Authenticate")[0].ends_with("stale=true"));
    let wrong = rig
        .send(
            "alice",
            3,
            &format!("{}{CONTACT}", auth("alice", "wrong-pass", &nonce, 2, "MD5")),
            late,
        )
        .unwrap();
    assert_eq!(wrong.code, 401);
    assert!(!header(&wrong, "WWW-Authenticate")[0].contains("stale"));
}

#[test]
fn nc_must_grow_and_a_failed_response_kills_the_nonce() {
    let rig = Rig::new();
    let nonce = nonce_of(&rig.send("alice", 1, CONTACT, T0).unwrap());
    let send = |cseq, password: &str, nc| {
        rig.send(
            "alice",
            cseq,
            &format!("{}{CONTACT}", auth("alice", password, &nonce, nc, "MD5")),
            T0,
        )
        .unwrap()
        .code
    };
    assert_eq!(send(2, "alice-secret", 1), 200);
    assert_eq!(send(3, "alice-secret", 1), 401, "same nc: a replay");
    assert_eq!(
        send(4, "alice-secret", 2),
        401,
        "the replay killed the nonce"
    );
    let fresh = nonce_of(&rig.send("alice", 5, CONTACT, T0).unwrap());
    let send_fresh = |cseq, password: &str, nc| {
        rig.send(
            "alice",
            cseq,
            &format!("{}{CONTACT}", auth("alice", password, &fresh, nc, "MD5")),
            T0,
        )
        .unwrap()
        .code
    };
    assert_eq!(send_fresh(6, "alice-secret", 1), 200);
    assert_eq!(
        send_fresh(7, "alice-secret", 2),
        200,
        "growing nc on the same nonce"
    );
    assert_eq!(send_fresh(8, "wrong-pass", 3), 401);
    assert_eq!(
        send_fresh(9, "alice-secret", 4),
        401,
        "dead after a failure"
    );
}

#[test]
fn unknown_user_and_wrong_password_look_the_same() {
    let rig = Rig::new();
    let shape = |res: &Response| {
        let mut headers: Vec<(&str, String)> = res.headers.clone();
        for (name, value) in &mut headers {
            let name = *name;
            if name == "WWW-Authenticate" {
                *value = value.split("nonce=").next().unwrap().to_string();
            }
            if name == "From" || name == "To" || name == "Call-ID" {
                *value = value.replace("mallory", "alice");
            }
        }
        (res.code, headers)
    };
    let wrong = rig.register("alice", "not-her-password", 1, CONTACT, T0);
    let unknown = rig.register("mallory", "whatever-1", 1, CONTACT, T0);
    assert_eq!(shape(&wrong), shape(&unknown));
}

#[test]
fn failures_over_the_limit_silence_the_address() {
    let rig = Rig::new();
    // Three attempts, each outside the previous one's retry burst: three counted guesses.
    let mut at = T0;
    for n in 0..3 {
        at = T0 + UnixSecs::from(n) * BURST_SECS;
        let res = rig.register("alice", "bad-password", n * 2 + 1, CONTACT, at);
        assert_eq!(res.code, 401);
    }
    assert!(
        rig.send("alice", 20, CONTACT, at).is_none(),
        "dropped while backing off"
    );
    assert!(
        rig.send("alice", 21, CONTACT, at + 61).is_some(),
        "back after the back-off"
    );
}

#[test]
fn a_registered_phone_is_served_while_its_address_is_limited_and_strangers_are_not() {
    let rig = Rig::new();
    assert_eq!(
        rig.register("alice", "alice-secret", 1, CONTACT, T0).code,
        200
    );
    // A misconfigured neighbour behind the same address fails three attempts.
    let bob_contact = "Contact: <sip:bob@127.0.0.1:5070>\r\n";
    let mut at = T0;
    for n in 0..3 {
        at = T0 + UnixSecs::from(n) * BURST_SECS;
        assert_eq!(
            rig.register("bob", "bad", n * 2 + 1, bob_contact, at).code,
            401
        );
    }
    assert!(
        rig.send("bob", 20, bob_contact, at).is_none(),
        "the neighbour is dropped"
    );
    assert!(
        rig.send("mallory", 1, CONTACT, at).is_none(),
        "and strangers"
    );
    // The registered phone's refresh is still challenged and evaluated...
    assert_eq!(
        rig.register("alice", "alice-secret", 30, CONTACT, at).code,
        200
    );
    let wrong = rig.register("alice", "not-hers", 40, CONTACT, at + BURST_SECS);
    assert_eq!(wrong.code, 401, "evaluated: a wrong digest still fails");
    // ...and its success does not lift the block for the others.
    assert!(rig.send("bob", 50, bob_contact, at + 1).is_none());
}

#[test]
fn a_phones_retry_burst_is_answered_but_neither_evaluated_nor_counted() {
    let rig = Rig::new();
    // pjsip answers each fresh challenge at once with the same wrong password: one attempt.
    for n in 0..5 {
        let res = rig.register("alice", "bad-password", n * 2 + 1, CONTACT, T0);
        assert_eq!((res.code, header(&res, "WWW-Authenticate").len()), (401, 1));
    }
    let log_free = rig.register("alice", "alice-secret", 20, CONTACT, T0 + 1);
    assert_eq!(
        log_free.code, 401,
        "inside the burst even the right password waits"
    );
    // The next attempt, after the burst: the address and the login were not locked out.
    let fixed = rig.register("alice", "alice-secret", 30, CONTACT, T0 + BURST_SECS);
    assert_eq!(fixed.code, 200);
    // A guesser with a new Call-ID per guess (SIPVicious) is evaluated, counted, stopped.
    for n in 0..3u32 {
        let res = rig.send_with_call_id("bob", &format!("guess-{n}"), 1, "", T0);
        let nonce = nonce_of(&res.unwrap());
        let guess = auth("bob", "wrong-guess", &nonce, 1, "MD5");
        let call_id = format!("guess-{n}");
        let res = rig
            .send_with_call_id("bob", &call_id, 2, &guess, T0)
            .unwrap();
        assert_eq!(res.code, 401);
    }
    assert!(
        rig.send("bob", 9, CONTACT, T0).is_none(),
        "the address is limited"
    );
}

#[test]
fn digest_user_must_match_to_user() {
    let rig = Rig::new();
    let nonce = nonce_of(&rig.send("bob", 1, CONTACT, T0).unwrap());
    let res = rig
        .send(
            "bob",
            2,
            &format!(
                "{}{CONTACT}",
                auth("alice", "alice-secret", &nonce, 1, "MD5")
            ),
            T0,
        )
        .unwrap();
    assert_eq!(res.code, 403);
}

#[test]
fn disabled_clients_and_inactive_accounts_get_403_and_lose_bindings() {
    let rig = Rig::new();
    assert_eq!(
        rig.register("alice", "alice-secret", 1, CONTACT, T0).code,
        200
    );
    let alice = rig.world.client_named("alice");
    assert_eq!(rig.store().binding_count(&alice.sid, 0), 1);
    rig.world.set_enabled(&alice, false).unwrap();
    assert_eq!(
        rig.store().binding_count(&alice.sid, 0),
        0,
        "dropped at once"
    );
    assert_eq!(
        rig.register("alice", "alice-secret", 3, CONTACT, T0).code,
        403
    );
    rig.world.set_enabled(&alice, true).unwrap();
    assert_eq!(
        rig.register("alice", "alice-secret", 5, CONTACT, T0).code,
        200
    );

    // A sub-account's client, then the sub-account's parent is suspended.
    let tenant = rig
        .world
        .create(&rig.world.root, "tenant@example.com", Role::Administrator);
    let carol = rig.world.client(&tenant, "carol");
    assert_eq!(
        rig.register(
            "carol",
            "carol-secret",
            1,
            "Contact: <sip:carol@127.0.0.1:5064>\r\n",
            T0
        )
        .code,
        200
    );
    rig.world
        .set_status(&rig.world.root, &tenant, Status::Suspended)
        .unwrap();
    assert_eq!(rig.store().binding_count(&carol.sid, 0), 0);
    assert_eq!(
        rig.register(
            "carol",
            "carol-secret",
            3,
            "Contact: <sip:carol@127.0.0.1:5064>\r\n",
            T0
        )
        .code,
        403
    );
    assert_eq!(
        rig.store().binding_count(&alice.sid, 0),
        1,
        "other accounts keep theirs"
    );
}

#[test]
fn foreign_domains_and_required_extensions_are_refused() {
    let rig = Rig::new();
    let text = "REGISTER sip:other.example SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKa\r\nFrom: <sip:alice@pbx.test>;tag=1\r\n\
                To: <sip:alice@pbx.test>\r\nCall-ID: x\r\nCSeq: 1 REGISTER\r\n\r\n";
    let req = message::parse(text.as_bytes()).unwrap();
    assert_eq!(
        handle_register(&rig.reg, rig.store(), &req, rig.peer, T0)
            .unwrap()
            .code,
        404
    );
    let loopback = text.replace("sip:other.example", "sip:127.0.0.1:5060");
    let req = message::parse(loopback.as_bytes()).unwrap();
    assert_eq!(
        handle_register(&rig.reg, rig.store(), &req, rig.peer, T0)
            .unwrap()
            .code,
        401,
        "our address is our domain"
    );
    let required = rig.send("alice", 1, "Require: gruu\r\n", T0).unwrap();
    assert_eq!(
        (required.code, header(&required, "Unsupported")),
        (420, vec!["gruu"])
    );
    let source: SocketAddr = rig.peer.addr;
    assert!(
        rig.reg.serves(rig.store(), "PBX.TEST").unwrap()
            && rig.reg.serves(rig.store(), "[::1]").unwrap()
            && !rig.reg.serves(rig.store(), "10.9.9.9").unwrap()
            && !rig.reg.serves(rig.store(), "other.test").unwrap()
            && source.port() == 5062
    );
}

#[test]
fn a_nonce_older_than_the_trackers_horizon_is_renewed_not_trusted() {
    let rig = Rig::new();
    rig.register("alice", "alice-secret", 1, CONTACT, T0); // first record at T0
    let old_nonce = nonce_of(&rig.send("bob", 1, CONTACT, T0 + 100).unwrap());
    rig.register("alice", "alice-secret", 3, CONTACT, T0 + 160); // rotates by age
    rig.register("alice", "alice-secret", 5, CONTACT, T0 + 320); // rotates again: horizon T0 + 160
                                                                 // Still within its 300 s life, but its record could be gone: ask for a fresh nonce.
    let res = rig
        .send(
            "bob",
            2,
            &format!(
                "{}{CONTACT}",
                auth("bob", "bob-secret", &old_nonce, 1, "MD5")
            ),
            T0 + 321,
        )
        .unwrap();
    assert_eq!(res.code, 401);
    assert!(header(&res, "WWW-Authenticate")[0].ends_with("stale=true"));
}

#[test]
fn suspending_an_ancestor_drops_a_grandchild_accounts_bindings() {
    let rig = Rig::new();
    let mut parent = rig.world.root.clone();
    let mut chain = Vec::new();
    for level in 0..3 {
        let email = format!("level{level}@example.com");
        parent = rig.world.create(&parent, &email, Role::Administrator);
        chain.push(parent.clone());
    }
    let deep = rig.world.client(&chain[2], "deep");
    assert_eq!(
        rig.register(
            "deep",
            "deep-secret",
            1,
            "Contact: <sip:deep@127.0.0.1:5070>\r\n",
            T0
        )
        .code,
        200
    );
    let suspend = accounts::AccountChanges {
        status: Some(Status::Suspended),
        ..Default::default()
    };
    let top = AccountRef::parse(&chain[0].email);
    accounts::update(rig.store(), &rig.world.root.as_caller(), &top, suspend, 0).unwrap();
    assert_eq!(
        rig.store().binding_count(&deep.sid, 0),
        0,
        "three levels down, dropped at once"
    );
    assert_eq!(
        rig.register(
            "deep",
            "deep-secret",
            3,
            "Contact: <sip:deep@127.0.0.1:5070>\r\n",
            T0
        )
        .code,
        403
    );
}

#[test]
fn a_login_guessed_from_many_addresses_is_limited_but_not_its_registered_phone() {
    let mut rig = Rig::new();
    let desk = rig.peer;
    assert_eq!(
        rig.register("alice", "alice-secret", 1, CONTACT, T0).code,
        200
    );
    let from = |rig: &mut Rig, n: u8| {
        rig.peer.addr = SocketAddr::from(([10, 0, 0, n], 5060));
    };
    // One guess from each of three addresses: no address reaches its own limit.
    for n in 1..=3 {
        from(&mut rig, n);
        assert_eq!(rig.register("alice", "guess", 1, CONTACT, T0).code, 401);
        assert_eq!(rig.register("mallory", "guess", 1, CONTACT, T0).code, 401);
    }
    // Now even the right password is not tried from a new address...
    from(&mut rig, 4);
    let limited = rig.register("alice", "alice-secret", 1, CONTACT, T0 + 1);
    assert_eq!(limited.code, 401);
    assert_eq!(header(&limited, "WWW-Authenticate").len(), 1);
    // ...and an unknown login gets the very same answer.
    let unknown = rig.register("mallory", "anything", 1, CONTACT, T0 + 1);
    assert_eq!(
        (unknown.code, header(&unknown, "WWW-Authenticate").len()),
        (401, 1)
    );
    // Other logins are not affected.
    assert_eq!(rig.register("bob", "bob-secret", 1, "", T0 + 1).code, 200);
    // The phone that holds alice's binding keeps refreshing it.
    rig.peer = desk;
    assert_eq!(
        rig.register("alice", "alice-secret", 3, CONTACT, T0 + 2)
            .code,
        200
    );
    // After the back-off, alice can register from anywhere again.
    from(&mut rig, 5);
    assert_eq!(
        rig.register("alice", "alice-secret", 5, CONTACT, T0 + 62)
            .code,
        200
    );
}

#[test]
fn login_key_is_the_first_64_characters() {
    assert_eq!(login_key("alice"), "alice");
    let long = "é".repeat(100);
    assert_eq!(login_key(&long).chars().count(), 64);
    assert_eq!(login_key(&"a".repeat(64)), "a".repeat(64));
}
