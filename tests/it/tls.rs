//! HTTPS and SIP over TLS on the real binary: the API and the registrar behind the box's own
//! certificate, the fingerprint it announces, slow and garbage clients on the TLS ports, a
//! certificate replaced while serving, and a data directory from before TLS.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::support::{
    basic, request_bytes, send_https, sip_status, tls_connect, unique_dir, Phone, TestServer,
};

const CONFIG: &str = r#"{"sip": {"realm": "pbx.test", "idle_timeout_secs": 1, "message_timeout_secs": 2},
    "http": {"request_timeout_secs": 2, "idle_timeout_secs": 30}}"#;

fn start(name: &str) -> TestServer {
    TestServer::start_in(unique_dir(name), CONFIG)
}

/// A GET as root over HTTPS.
fn https_get(server: &TestServer, path: &str) -> crate::support::Reply {
    let auth = server.root_auth();
    let bytes = request_bytes(
        server.https.unwrap(),
        "GET",
        path,
        &[("Authorization", &auth)],
        b"",
    );
    send_https(server, &bytes)
}

/// The SHA-256 fingerprint of the certificate a TLS handshake with `addr` presents.
fn presented_fingerprint(server: &TestServer, addr: SocketAddr) -> String {
    let mut stream = tls_connect(server, addr);
    stream.flush().unwrap(); // completes the handshake
    let cert = stream.conn.peer_certificates().unwrap()[0].clone();
    fingerprint_of(cert.as_ref())
}

fn fingerprint_of(der: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(der);
    let hex: Vec<String> = digest.iter().map(|byte| format!("{byte:02X}")).collect();
    hex.join(":")
}

fn credentials_field(server: &TestServer, name: &str) -> String {
    let text = std::fs::read_to_string(server.dir.join("data/initial-credentials")).unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
        .to_string()
}

#[test]
fn https_serves_the_api_behind_the_certificate_the_box_announced() {
    let server = start("tls-api");
    let me = format!("/2012-04-24/Accounts/{}.json", server.root_sid);
    let reply = https_get(&server, &me);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["sid"], server.root_sid.as_str());
    let announced = credentials_field(&server, "tls_sha256");
    assert_eq!(
        presented_fingerprint(&server, server.https.unwrap()),
        announced
    );
    assert_eq!(
        presented_fingerprint(&server, server.sip_tls.unwrap()),
        announced
    );
    assert!(server.log().contains(&announced), "the log shows it too");
    // Wrong credentials over HTTPS: the same 401 and the same fail2ban line as over HTTP.
    let bytes = request_bytes(
        server.https.unwrap(),
        "GET",
        &me,
        &[("Authorization", &basic(&server.root_sid, "wrong-token"))],
        b"",
    );
    assert_eq!(send_https(&server, &bytes).status, 401);
    assert!(server.log().contains("api auth failed: user="));
}

#[test]
fn a_phone_registers_over_tls_and_its_connection_outlives_the_idle_timeout() {
    let server = start("tls-sip");
    let root = server.root_sid.clone();
    let client = server.create_client(&root, "alice", "alice-secret");
    let mut phone = Phone::tls(&server, "alice", "alice-secret");
    let contact = phone.contact("");
    assert!(contact.contains("transport=tls"), "{contact}");
    let answer = phone.register(&contact);
    assert_eq!(sip_status(&answer), 200, "{answer}");
    assert!(answer.contains("transport=tls"), "{answer}");
    let sid = client["sid"].as_str().unwrap();
    let path = format!("/2012-04-24/Accounts/{root}/Clients/{sid}/Registrations.json");
    let bindings = server.root("GET", &path, "").json();
    assert_eq!(bindings[0]["transport"], "TLS", "{bindings}");
    // The idle timeout is 1 s: a connection that carries a registration stays open.
    assert!(!phone.closed_by_server(Duration::from_millis(2500)));
    let refresh = phone.register(&contact);
    assert_eq!(sip_status(&refresh), 200, "{refresh}");
    // Over TLS, OPTIONS and the rest behave as over TCP.
    assert_eq!(sip_status(&phone.call("OPTIONS", "")), 200);
}

#[test]
fn plain_protocols_and_garbage_on_tls_ports_close_only_their_connection() {
    let server = start("tls-garbage");
    let inputs: [&[u8]; 3] = [
        b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
        b"OPTIONS sip:pbx.test SIP/2.0\r\nContent-Length: 0\r\n\r\n",
        &[0x16, 0x03, 0x01, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0],
    ];
    for addr in [server.https.unwrap(), server.sip_tls.unwrap()] {
        for input in inputs {
            let mut stream = TcpStream::connect(addr).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            stream.write_all(input).unwrap();
            let started = Instant::now();
            let mut answer = Vec::new();
            let _ = stream.read_to_end(&mut answer);
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "{addr}: held open"
            );
            assert!(!answer.starts_with(b"HTTP/") && !answer.starts_with(b"SIP/"));
        }
    }
    assert_eq!(https_get(&server, "/health").status, 200);
    let mut phone = Phone::tls(&server, "nobody", "x");
    assert_eq!(sip_status(&phone.call("OPTIONS", "")), 200);
}

#[test]
fn slow_and_silent_handshakes_neither_hold_the_tls_ports_nor_block_the_others() {
    let server = start("tls-slow");
    let (https, sip_tls) = (server.https.unwrap(), server.sip_tls.unwrap());
    // Silent connections: each is closed by the deadline (2 s), and meanwhile real clients
    // are served at once.
    let silent: Vec<TcpStream> = (0..20)
        .map(|i| TcpStream::connect(if i % 2 == 0 { https } else { sip_tls }).unwrap())
        .collect();
    let started = Instant::now();
    assert_eq!(https_get(&server, "/health").status, 200);
    let mut phone = Phone::tls(&server, "nobody", "x");
    assert_eq!(sip_status(&phone.call("OPTIONS", "")), 200);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "served behind 20 silent handshakes"
    );
    // A byte every 300 ms of a ClientHello that never completes: closed at the deadline
    // (2 s on both ports here), not when the idle timeout (30 s over HTTPS) would have.
    for addr in [https, sip_tls] {
        let mut slow = TcpStream::connect(addr).unwrap();
        let started = Instant::now();
        let hello = [
            0x16u8, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
        ];
        let mut closed = false;
        for byte in hello.iter().cycle().take(40) {
            if slow.write_all(&[*byte]).is_err() {
                closed = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        let elapsed = started.elapsed();
        assert!(closed, "{addr}: a slow handshake was held for {elapsed:?}");
        assert!(
            elapsed < Duration::from_secs(6),
            "{addr}: closed after {elapsed:?}"
        );
    }
    for mut stream in silent.into_iter().step_by(2) {
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        assert_eq!(
            stream.read(&mut [0u8; 16]).unwrap_or(0),
            0,
            "silent HTTPS closed"
        );
    }
}

#[test]
fn a_replaced_certificate_serves_new_connections_without_a_restart() {
    let server = start("tls-reload");
    let other = start("tls-reload-other");
    let before = presented_fingerprint(&server, server.https.unwrap());
    let tls = server.dir.join("data/tls");
    // As an administrator replaces them: the key, then the certificate.
    std::fs::copy(other.dir.join("data/tls/key.pem"), tls.join("key.pem")).unwrap();
    std::fs::copy(other.dir.join("data/tls/cert.pem"), tls.join("cert.pem")).unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    let after = presented_fingerprint(&server, server.https.unwrap());
    assert_ne!(after, before);
    assert_eq!(after, credentials_field(&other, "tls_sha256"));
    assert_eq!(
        presented_fingerprint(&server, server.sip_tls.unwrap()),
        after
    );
    assert!(server.log().contains("reloaded"), "{}", server.log());
}

#[test]
fn a_data_directory_from_before_tls_gets_its_certificate_at_the_first_start() {
    let server = start("tls-upgrade");
    let (sid, token) = (server.root_sid.clone(), server.root_token.clone());
    let dir = server.kill9();
    // What the previous release left: the store and the credentials, no tls/.
    std::fs::remove_dir_all(dir.join("data/tls")).unwrap();
    let again = TestServer::start_in(dir, CONFIG);
    assert_eq!(
        (again.root_sid.clone(), again.root_token.clone()),
        (sid, token)
    );
    assert!(again.dir.join("data/tls/cert.pem").exists());
    let log = again.log();
    let made = log
        .lines()
        .find(|line| line.contains("made a self-signed certificate"))
        .unwrap_or_else(|| panic!("{log}"));
    let fingerprint = presented_fingerprint(&again, again.https.unwrap());
    assert!(made.contains(&fingerprint), "{made}");
    let me = format!("/2012-04-24/Accounts/{}.json", again.root_sid);
    assert_eq!(https_get(&again, &me).status, 200);
}

#[test]
fn an_installed_certificate_that_cannot_be_read_stops_the_start_naming_it() {
    let dir = unique_dir("tls-missing");
    let missing = dir.join("no-such-cert.pem");
    let out = crate::support::edgecomm()
        .args(["--data-dir"])
        .arg(dir.join("data"))
        .args(["--http-listen", "127.0.0.1:0", "--sip-listen", "off"])
        .args(["--https-listen", "127.0.0.1:0", "--sip-tls-listen", "off"])
        .arg("--tls-cert-file")
        .arg(&missing)
        .args(["--tls-key-file", "/dev/null"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&*missing.to_string_lossy()), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    let out = crate::support::edgecomm()
        .args(["--tls-cert-file", "/etc/hostname"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "one of the pair alone is a config error"
    );
}

#[test]
fn a_plain_http_listener_beyond_loopback_starts_with_one_warning() {
    let open = TestServer::start_in(
        unique_dir("tls-plain-lan"),
        r#"{"http": {"listen": "0.0.0.0:0"}}"#,
    );
    let warned = |server: &TestServer| {
        server
            .log()
            .lines()
            .filter(|line| line.contains("plain HTTP listens on") && line.contains("clear text"))
            .count()
    };
    assert_eq!(warned(&open), 1, "{}", open.log());
    let local = start("tls-plain-loopback");
    assert_eq!(warned(&local), 0, "{}", local.log());
}
