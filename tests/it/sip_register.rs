//! The registrar over real sockets: phones register over UDP and TCP with the full digest
//! flow, and the API shows and controls what they did.

use std::net::SocketAddr;
use std::time::Duration;

use crate::support::{nonce_of, sid_of, sip_status, unique_dir, Phone, TestServer};

const CONFIG: &str = r#"{"sip": {"realm": "pbx.test"}, "auth": {"max_failures": 5}}"#;

fn start(name: &str) -> TestServer {
    TestServer::start_in(unique_dir(name), CONFIG)
}

/// The one log line per failed authentication that fail2ban reads (SPEC.md §4).
fn assert_fail2ban_line(server: &TestServer, user: &str, source: SocketAddr, reason: &str) {
    let log = server.log();
    let line = format!("auth failed: user={user} source={source} reason={reason}");
    assert!(log.contains(&line), "no {line:?} in:\n{log}");
}

/// The `WWW-Authenticate` lines of a response text.
fn offers(challenge: &str) -> Vec<&str> {
    challenge
        .lines()
        .filter(|line| line.starts_with("WWW-Authenticate:"))
        .collect()
}

#[test]
fn the_challenges_offered_follow_sip_digest_algorithms() {
    let config = r#"{"sip": {"realm": "pbx.test", "digest_algorithms": ["SHA-256", "MD5"]}}"#;
    let server = TestServer::start_in(unique_dir("sip-digest-both"), config);
    let root = server.root_sid.clone();
    server.create_client(&root, "alice", "alice-secret");
    let mut phone = Phone::udp(&server, "alice", "alice-secret");
    let contact = phone.contact("");
    let challenge = phone.call("REGISTER", &contact);
    let offered = offers(&challenge);
    assert_eq!(offered.len(), 2, "{challenge}");
    assert!(offered[0].contains("algorithm=SHA-256") && offered[1].contains("algorithm=MD5"));
    // An MD5 answer still works: the client kept both HA1 values.
    assert_eq!(sip_status(&phone.register(&contact)), 200);

    let bad = r#"{"sip": {"digest_algorithms": ["MD5", "SHA1"]}}"#;
    let dir = unique_dir("sip-digest-bad");
    std::fs::write(dir.join("config.json"), bad).unwrap();
    let out = crate::support::edgecomm()
        .arg("--config")
        .arg(dir.join("config.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("sip.digest_algorithms"), "{stderr}");
}

#[test]
fn a_tcp_connection_that_carries_a_registration_outlives_the_idle_timeout() {
    let config = r#"{"sip": {"realm": "pbx.test", "idle_timeout_secs": 1}}"#;
    let server = TestServer::start_in(unique_dir("sip-tcp-keep"), config);
    let root = server.root_sid.clone();
    let alice = sid_of(&server.create_client(&root, "alice", "alice-secret"));
    let mut phone = Phone::tcp(&server, "alice", "alice-secret");
    let contact = phone.contact(";expires=60");
    assert_eq!(sip_status(&phone.register(&contact)), 200);
    let mut idle = Phone::tcp(&server, "bob", "bob-secret");
    assert!(
        idle.closed_by_server(Duration::from_secs(4)),
        "no registration: closed"
    );
    assert!(
        !phone.closed_by_server(Duration::from_secs(3)),
        "three idle timeouts later the registered connection is open"
    );
    assert_eq!(sip_status(&phone.call("OPTIONS", "")), 200);
    // Keep-alives are answered on it (RFC 5626 §4.4.1).
    phone.send_raw(b"\r\n\r\n");
    let pong = phone.recv_bytes(2, Duration::from_secs(2));
    assert_eq!(pong, b"\r\n");
    // Once its binding is gone (the client is disabled), the idle timeout applies again.
    let path = format!("/2012-04-24/Accounts/{root}/Clients/{alice}.json");
    assert_eq!(server.root("POST", &path, "Status=0").status, 200);
    assert!(phone.closed_by_server(Duration::from_secs(4)));
}

#[test]
fn phone_registers_over_udp_and_the_api_shows_it() {
    let server = start("sip-udp");
    let root = server.root_sid.clone();
    let client = sid_of(&server.create_client(&root, "alice", "alice-secret"));
    let mut phone = Phone::udp(&server, "alice", "alice-secret");
    let challenge = {
        let contact = phone.contact("");
        phone.call("REGISTER", &contact)
    };
    assert_eq!(sip_status(&challenge), 401);
    let offers: Vec<&str> = challenge
        .lines()
        .filter(|line| line.starts_with("WWW-Authenticate:"))
        .collect();
    assert_eq!(offers.len(), 1, "one MD5 challenge by default: {challenge}");
    assert!(offers[0].contains("algorithm=MD5"));
    assert!(
        challenge.contains(&format!(";rport={};received=127.0.0.1", phone.local.port())),
        "{challenge}"
    );

    let ok = {
        let contact = phone.contact(";expires=1800");
        phone.register(&contact)
    };
    assert_eq!(sip_status(&ok), 200, "{ok}");
    assert!(
        ok.contains(&format!(
            "Contact: <sip:alice@{};transport=udp>;expires=1800",
            phone.local
        )),
        "{ok}"
    );
    assert!(
        ok.lines()
            .any(|line| line.starts_with("Date: ") && line.ends_with(" GMT")),
        "{ok}"
    );

    let regs = server
        .root(
            "GET",
            &format!("/2012-04-24/Accounts/{root}/Clients/{client}/Registrations.json"),
            "",
        )
        .json();
    assert_eq!(regs.as_array().unwrap().len(), 1);
    assert_eq!(
        regs[0]["contact"],
        format!("sip:alice@{};transport=udp", phone.local)
    );
    assert_eq!(regs[0]["source"], phone.local.to_string());
    assert_eq!(regs[0]["transport"], "UDP");
    assert_eq!(regs[0]["user_agent"], "test-phone/1.0");
    assert!(regs[0]["expires"].as_i64().unwrap() > 1790);
    let account_regs = server
        .root(
            "GET",
            &format!("/2012-04-24/Accounts/{root}/Registrations.json"),
            "",
        )
        .json();
    assert_eq!(account_regs.as_array().unwrap().len(), 1);
    let client_json = server
        .root(
            "GET",
            &format!("/2012-04-24/Accounts/{root}/Clients/{client}.json"),
            "",
        )
        .json();
    assert_eq!(client_json["registrations"], 1);
    let xml = server.root(
        "GET",
        &format!("/2012-04-24/Accounts/{root}/Registrations"),
        "",
    );
    assert!(
        xml.body
            .starts_with("<RestcommResponse><Registrations><Registration><ClientSid>"),
        "{}",
        xml.body
    );

    // Unregister with expires=0.
    let gone = {
        let contact = phone.contact(";expires=0");
        phone.register(&contact)
    };
    assert_eq!(sip_status(&gone), 200);
    assert!(!gone.contains("Contact:"));
    let client_json = server
        .root(
            "GET",
            &format!("/2012-04-24/Accounts/{root}/Clients/{client}.json"),
            "",
        )
        .json();
    assert_eq!(client_json["registrations"], 0);
}

#[test]
fn phone_registers_over_tcp_on_one_connection() {
    let server = start("sip-tcp");
    server.create_client(&server.root_sid, "bob", "bob-secret1");
    let mut phone = Phone::tcp(&server, "bob", "bob-secret1");
    let ok = {
        let contact = phone.contact("");
        phone.register(&contact)
    };
    assert_eq!(sip_status(&ok), 200, "{ok}");
    assert!(ok.contains(";expires=3600"));
    // A CRLF keep-alive gets a CRLF pong on the same connection, and the connection lives on.
    phone.send_raw(b"\r\n\r\n");
    assert_eq!(phone.recv(Duration::from_secs(5)).as_deref(), Some("\r\n"));
    let options = phone.call("OPTIONS", "");
    assert_eq!(sip_status(&options), 200);
    let regs = server
        .root(
            "GET",
            &format!(
                "/2012-04-24/Accounts/{}/Registrations.json",
                server.root_sid
            ),
            "",
        )
        .json();
    assert_eq!(regs[0]["transport"], "TCP");
}

#[test]
fn other_methods_get_the_rfc_answers() {
    let server = start("sip-methods");
    let mut phone = Phone::udp(&server, "probe", "x");
    let options = phone.call("OPTIONS", "");
    assert_eq!(sip_status(&options), 200);
    assert!(options.contains("Allow: REGISTER, OPTIONS"));
    let invite = phone.call("INVITE", "");
    assert_eq!(sip_status(&invite), 405);
    assert!(invite.contains("Allow: REGISTER, OPTIONS"));
    assert_eq!(sip_status(&phone.call("FOOBAR", "")), 501);
    phone.fire("ACK", "");
    assert!(
        phone.recv(Duration::from_millis(500)).is_none(),
        "ACK is never answered"
    );
    phone.send_raw(b"\x00\x01garbage\r\n\r\n");
    assert!(
        phone.recv(Duration::from_millis(300)).is_none(),
        "garbage is dropped"
    );
    assert_eq!(sip_status(&phone.call("OPTIONS", "")), 200, "still serving");
}

#[test]
fn wrong_password_and_unknown_user_get_the_same_401_and_a_fail2ban_line() {
    let server = start("sip-auth-fail");
    server.create_client(&server.root_sid, "alice", "alice-secret");
    let mut wrong = Phone::udp(&server, "alice", "not-the-password");
    let mut unknown = Phone::udp(&server, "mallory", "whatever-1");
    let a = {
        let contact = wrong.contact("");
        wrong.register(&contact)
    };
    let b = {
        let contact = unknown.contact("");
        unknown.register(&contact)
    };
    let shape = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|line| line.starts_with("SIP/2.0") || line.starts_with("WWW-Authenticate"))
            .map(|line| line.split("nonce=").next().unwrap().to_string())
            .collect()
    };
    assert_eq!(sip_status(&a), 401);
    assert_eq!(shape(&a), shape(&b));
    assert_fail2ban_line(&server, "alice", wrong.local, "wrong_password");
    assert_fail2ban_line(&server, "mallory", unknown.local, "unknown_user");
}

#[test]
fn a_replayed_authorization_is_refused_but_a_retransmission_is_answered() {
    let server = start("sip-replay");
    server.create_client(&server.root_sid, "alice", "alice-secret");
    let mut phone = Phone::udp(&server, "alice", "alice-secret");
    let challenge = {
        let contact = phone.contact("");
        phone.call("REGISTER", &contact)
    };
    let nonce = nonce_of(&challenge);
    let auth = phone.authorization(&nonce, 1);
    let request = phone.request("REGISTER", &format!("{auth}{}", phone.contact("")));
    let first = phone.exchange(&request);
    assert_eq!(sip_status(&first), 200);
    // Same bytes again (a UDP retransmission): the cached answer, not a new evaluation.
    assert_eq!(phone.exchange(&request), first);
    // Same credentials in a new transaction (new branch and CSeq): a replay.
    let replay = phone.request("REGISTER", &format!("{auth}{}", phone.contact("")));
    assert_eq!(sip_status(&phone.exchange(&replay)), 401);
}

#[test]
fn disabling_suspending_and_deleting_drop_bindings_at_once() {
    let server = start("sip-enforce");
    let root = server.root_sid.clone();
    let tenant = server
        .root(
            "POST",
            "/2012-04-24/Accounts.json",
            "EmailAddress=tenant%40example.com&Password=password1",
        )
        .json();
    let tenant_sid = tenant["sid"].as_str().unwrap().to_string();
    let alice = sid_of(&server.create_client(&root, "alice", "alice-secret"));
    let carol = sid_of(&server.create_client(&tenant_sid, "carol", "carol-secret"));
    let mut alice_phone = Phone::udp(&server, "alice", "alice-secret");
    let mut carol_phone = Phone::tcp(&server, "carol", "carol-secret");
    assert_eq!(
        sip_status(&{
            let contact = alice_phone.contact("");
            alice_phone.register(&contact)
        }),
        200
    );
    assert_eq!(
        sip_status(&{
            let contact = carol_phone.contact("");
            carol_phone.register(&contact)
        }),
        200
    );
    let count = |account: &str, client: &str| {
        server
            .root(
                "GET",
                &format!("/2012-04-24/Accounts/{account}/Clients/{client}.json"),
                "",
            )
            .json()["registrations"]
            .clone()
    };

    assert_eq!(
        server
            .root(
                "POST",
                &format!("/2012-04-24/Accounts/{root}/Clients/{alice}.json"),
                "Status=0"
            )
            .status,
        200
    );
    assert_eq!(count(&root, &alice), 0);
    assert_eq!(
        sip_status(&{
            let contact = alice_phone.contact("");
            alice_phone.register(&contact)
        }),
        403
    );
    assert_eq!(
        server
            .root(
                "POST",
                &format!("/2012-04-24/Accounts/{root}/Clients/{alice}.json"),
                "Status=1"
            )
            .status,
        200
    );
    assert_eq!(
        sip_status(&{
            let contact = alice_phone.contact("");
            alice_phone.register(&contact)
        }),
        200
    );

    assert_eq!(
        server
            .root(
                "POST",
                &format!("/2012-04-24/Accounts/{tenant_sid}.json"),
                "Status=suspended"
            )
            .status,
        200
    );
    assert_eq!(count(&tenant_sid, &carol), 0);
    assert_eq!(
        sip_status(&{
            let contact = carol_phone.contact("");
            carol_phone.register(&contact)
        }),
        403
    );
    assert_eq!(count(&root, &alice), 1, "other accounts keep theirs");
    assert_eq!(
        server
            .root(
                "POST",
                &format!("/2012-04-24/Accounts/{tenant_sid}.json"),
                "Status=active"
            )
            .status,
        200
    );
    assert_eq!(
        sip_status(&{
            let contact = carol_phone.contact("");
            carol_phone.register(&contact)
        }),
        200
    );

    assert_eq!(
        server
            .root(
                "DELETE",
                &format!("/2012-04-24/Accounts/{root}/Clients/{alice}.json"),
                ""
            )
            .status,
        200
    );
    let regs = server
        .root(
            "GET",
            &format!("/2012-04-24/Accounts/{root}/Registrations.json"),
            "",
        )
        .json();
    assert_eq!(regs, serde_json::json!([]));
    assert_eq!(
        sip_status(&{
            let contact = alice_phone.contact("");
            alice_phone.register(&contact)
        }),
        401,
        "unknown now"
    );
    assert_eq!(
        server
            .root(
                "DELETE",
                &format!("/2012-04-24/Accounts/{tenant_sid}.json"),
                ""
            )
            .status,
        200
    );
    assert_eq!(
        sip_status(&{
            let contact = carol_phone.contact("");
            carol_phone.register(&contact)
        }),
        401,
        "closed: the client is gone"
    );
}

#[test]
fn bindings_survive_a_restart() {
    let server = start("sip-restart");
    let root = server.root_sid.clone();
    let client = sid_of(&server.create_client(&root, "alice", "alice-secret"));
    let mut phone = Phone::udp(&server, "alice", "alice-secret");
    assert_eq!(
        sip_status(&{
            let contact = phone.contact("");
            phone.register(&contact)
        }),
        200
    );
    // Bindings are soft state, flushed by sled's background flush (every 500 ms).
    std::thread::sleep(Duration::from_millis(1500));
    let dir = server.kill9();
    let server = TestServer::start_in(dir, CONFIG);
    let regs = server
        .root(
            "GET",
            &format!("/2012-04-24/Accounts/{root}/Clients/{client}/Registrations.json"),
            "",
        )
        .json();
    assert_eq!(regs.as_array().unwrap().len(), 1, "{regs}");
    assert_eq!(
        regs[0]["contact"],
        format!("sip:alice@{};transport=udp", phone.local)
    );
}

#[test]
fn an_address_over_the_failure_limit_is_ignored() {
    let server = start("sip-limit");
    server.create_client(&server.root_sid, "alice", "alice-secret");
    let mut attacker = Phone::udp(&server, "alice", "guess-0000");
    for _ in 0..5 {
        // A new Call-ID per guess, as SIPVicious does: each one is evaluated and counted.
        attacker.new_call_id();
        assert_eq!(sip_status(&attacker.register("")), 401);
    }
    attacker.fire("REGISTER", "");
    assert!(
        attacker.recv(Duration::from_millis(500)).is_none(),
        "dropped while backing off"
    );
    let log = server.log();
    let started: Vec<&str> = log.lines().filter(|l| l.contains("sip limit: ")).collect();
    assert!(
        started
            .iter()
            .any(|l| l.contains("source=127.0.0.1 refused until ")),
        "one line says the block started, and until when: {started:?}"
    );
    // The API has its own limiter: the administrator is not locked out by a phone.
    assert_eq!(
        server.root("GET", "/2012-04-24/Accounts.json", "").status,
        200
    );
}

#[test]
fn a_password_guessed_from_many_addresses_is_limited_per_login() {
    let server = start("sip-login-limit");
    server.create_client(&server.root_sid, "alice", "alice-secret");
    let mut desk = Phone::udp(&server, "alice", "alice-secret");
    let contact = desk.contact("");
    assert_eq!(sip_status(&desk.register(&contact)), 200);
    // Five addresses, one guess each: no address reaches its own limit of five.
    for n in 2..7 {
        let mut guesser = Phone::udp_from(&server, &format!("127.0.0.{n}:0"), "alice", "guess");
        assert_eq!(sip_status(&guesser.register("")), 401);
    }
    let mut laptop = Phone::udp_from(&server, "127.0.0.7:0", "alice", "alice-secret");
    let contact = laptop.contact("");
    assert_eq!(
        sip_status(&laptop.register(&contact)),
        401,
        "even the right password is not tried while the login is limited"
    );
    assert_fail2ban_line(&server, "alice", laptop.local, "login_limited");
    let contact = desk.contact("");
    assert_eq!(
        sip_status(&desk.register(&contact)),
        200,
        "the phone registered from its own address is not locked out"
    );
    let mut bob = Phone::udp_from(&server, "127.0.0.8:0", "bob", "bob-secret-1");
    server.create_client(&server.root_sid, "bob", "bob-secret-1");
    let contact = bob.contact("");
    assert_eq!(
        sip_status(&bob.register(&contact)),
        200,
        "other logins are not limited"
    );
}

#[test]
fn phones_register_over_ipv6() {
    if std::net::UdpSocket::bind("[::1]:0").is_err() {
        // Some containers have no IPv6 loopback at all; there is nothing to listen on then.
        eprintln!("skipped: no IPv6 loopback on this machine");
        return;
    }
    let dir = unique_dir("sip-ipv6");
    let server = TestServer::start_in_with_sip(dir, CONFIG, "[::1]:0");
    server.create_client(&server.root_sid, "alice", "alice-secret");
    for mut phone in [
        Phone::udp(&server, "alice", "alice-secret"),
        Phone::tcp(&server, "alice", "alice-secret"),
    ] {
        let ok = {
            let contact = phone.contact("");
            phone.register(&contact)
        };
        assert_eq!(sip_status(&ok), 200, "{ok}");
        assert!(ok.contains("received=::1"), "{ok}");
    }
}
