//! Slow and greedy clients (issue #7 item 4, SPEC §6): a slowloris on HTTP and on SIP over TCP
//! must not stop a normal client from being served, and the caps and timeouts that see to it
//! are configurable.
//!
//! The servers listen on `[::]`, so one test can be two clients: the attacker connects from
//! 127.0.0.1 (seen as `::ffff:127.0.0.1`) and the normal client from `::1`, which the
//! per-address caps count apart.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::{send_http, sip_status, unique_dir, Phone, TestServer};

fn on(addr: SocketAddr, ip: &str) -> SocketAddr {
    SocketAddr::new(ip.parse().unwrap(), addr.port())
}

/// `count` connections that each send `at_once`, then `slowly` a byte every `every`; each
/// reports what it read back (empty when the server closed without a word) once the server
/// stops it.
fn dribblers(
    count: usize,
    to: SocketAddr,
    at_once: &'static [u8],
    slowly: &'static [u8],
    every: Duration,
) -> Vec<thread::JoinHandle<String>> {
    (0..count)
        .map(|_| dribble(to, at_once, slowly, every))
        .collect()
}

fn dribble(
    to: SocketAddr,
    at_once: &'static [u8],
    slowly: &'static [u8],
    every: Duration,
) -> thread::JoinHandle<String> {
    let mut stream = TcpStream::connect(to).expect("connect");
    stream.write_all(at_once).expect("send");
    stream
        .set_read_timeout(Some(Duration::from_millis(1)))
        .unwrap();
    thread::spawn(move || {
        let started = Instant::now();
        let mut answer = Vec::new();
        for byte in slowly.iter().cycle() {
            if stream.write_all(&[*byte]).is_err() || started.elapsed() > Duration::from_secs(60) {
                break;
            }
            let mut buf = [0u8; 512];
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => break,
            }
            thread::sleep(every);
        }
        String::from_utf8_lossy(&answer).into_owned()
    })
}

/// GET /health on a fresh connection to `addr`, the status.
fn health(addr: SocketAddr) -> u16 {
    send_http(
        addr,
        b"GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .status
}

#[test]
fn http_slowloris_is_capped_per_address_and_timed_out() {
    let server = TestServer::start_in(
        unique_dir("slowloris-http"),
        r#"{"http": {"listen": "[::]:0", "max_connections_per_address": 6,
                     "request_timeout_secs": 2}}"#,
    );
    let (attacker, neighbour) = (on(server.http, "127.0.0.1"), on(server.http, "::1"));
    let slow = dribblers(
        6,
        attacker,
        b"",
        b"GET /health HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaa",
        Duration::from_millis(200),
    );
    // The attacker's address is at its cap: a seventh connection from it is refused...
    thread::sleep(Duration::from_millis(300));
    assert_eq!(health(attacker), 503, "over the per-address cap");
    // ...while another address is served at once.
    assert_eq!(
        health(neighbour),
        200,
        "a neighbour is served during the attack"
    );
    // The request deadline ends every slow connection with 408.
    for handle in slow {
        let answer = handle.join().unwrap();
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    }
    assert_eq!(health(attacker), 200, "the address is served again");
}

#[test]
fn a_slow_body_does_not_hold_a_worker() {
    // Two workers; four clients announce a body and send it a byte at a time. The bodies are
    // read by the connections' own threads, so the workers stay free for everyone else.
    let server = TestServer::start_in(
        unique_dir("slow-body"),
        r#"{"http": {"request_timeout_secs": 2}}"#,
    );
    let slow = dribblers(
        4,
        server.http,
        b"POST /2012-04-24/Accounts.json HTTP/1.1\r\nContent-Length: 4000\r\n\r\n",
        b"FriendlyName=slow&",
        Duration::from_millis(20),
    );
    thread::sleep(Duration::from_millis(500));
    let reply = server.root(
        "GET",
        &format!("/2012-04-24/Accounts/{}.json", server.root_sid),
        "",
    );
    assert_eq!(reply.status, 200, "served while four bodies trickle in");
    for handle in slow {
        let answer = handle.join().unwrap();
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    }
}

#[test]
fn http_connection_cap_and_oversized_heads() {
    let server = TestServer::start_in(
        unique_dir("http-caps"),
        r#"{"http": {"max_connections": 3}}"#,
    );
    let idle: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(server.http).unwrap())
        .collect();
    thread::sleep(Duration::from_millis(200));
    assert_eq!(health(server.http), 503, "over the total cap");
    drop(idle);
    thread::sleep(Duration::from_millis(200));
    assert_eq!(
        health(server.http),
        200,
        "slots come back when connections close"
    );

    // A head past 16 KiB: 431, and the server is still fine.
    let huge = format!(
        "GET /health HTTP/1.1\r\nX-Big: {}\r\n\r\n",
        "a".repeat(20 * 1024)
    );
    assert_eq!(send_http(server.http, huge.as_bytes()).status, 431);
    assert_eq!(health(server.http), 200);
}

#[test]
fn sip_tcp_slowloris_is_capped_per_address_and_timed_out() {
    let server = TestServer::start_in_with_sip(
        unique_dir("slowloris-sip"),
        r#"{"sip": {"tcp_max_per_address": 4, "message_timeout_secs": 2}}"#,
        "[::]:0",
    );
    let attacker = on(server.sip, "127.0.0.1");
    let slow = dribblers(
        4,
        attacker,
        b"",
        b"REGISTER sip:pbx.test SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bKslow\r\n",
        Duration::from_millis(200),
    );
    thread::sleep(Duration::from_millis(300));
    // A fifth connection from the attacker is closed at once, without an answer.
    let mut fifth = TcpStream::connect(attacker).unwrap();
    fifth
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = fifth.write_all(b"\r\n\r\n");
    let mut buf = [0u8; 16];
    assert!(
        matches!(fifth.read(&mut buf), Ok(0) | Err(_)),
        "over the per-address cap: closed"
    );
    // A phone at another address (::1) is served during the attack.
    let mut phone = Phone::tcp(&server, "nobody", "irrelevant1");
    assert_eq!(sip_status(&phone.call("OPTIONS", "")), 200);
    // The message deadline closes every slow connection, silently.
    for handle in slow {
        assert_eq!(handle.join().unwrap(), "");
    }
    let mut phone = Phone::tcp(&server, "nobody", "irrelevant1");
    assert_eq!(sip_status(&phone.call("OPTIONS", "")), 200);
}

#[test]
fn sip_tcp_keepalives_do_not_start_the_message_clock() {
    let server = TestServer::start_in_with_sip(
        unique_dir("sip-keepalive"),
        r#"{"sip": {"message_timeout_secs": 1}}"#,
        "127.0.0.1:0",
    );
    let mut phone = Phone::tcp(&server, "nobody", "irrelevant1");
    // A single CRLF (as some phones send), then quiet for longer than the message timeout:
    // the connection stays open and still serves.
    phone.send_raw(b"\r\n");
    thread::sleep(Duration::from_millis(1500));
    assert_eq!(sip_status(&phone.call("OPTIONS", "")), 200);
}
