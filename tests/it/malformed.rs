//! The malformed-input corpus (issue #7 item 3): well over a thousand broken or hostile SIP
//! messages (each over UDP and over TCP) and HTTP requests, generated deterministically from
//! valid ones. The server must not panic, must not answer with a server error, and must still
//! serve valid requests afterwards; its store must pass `edgecomm check`.
//!
//! "Server error" means 500 and 503 for SIP (a 501 is RFC 3261's correct answer to a method it
//! does not implement, which a mutated method name is), and any 5xx for HTTP except 505, the
//! correct answer to a request line that asks for an HTTP version above 1.1.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::{assert_store_consistent, basic, sip_status, unique_dir, Phone, TestServer};

/// xorshift64*: deterministic, so a failure names an input that can be rebuilt.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const REGISTER: &str = "REGISTER sip:pbx.test SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKcorpus;rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:alice@pbx.test>;tag=abc\r\n\
To: <sip:alice@pbx.test>\r\n\
Call-ID: corpus-1@test\r\n\
CSeq: 7 REGISTER\r\n\
Contact: <sip:alice@127.0.0.1:5999>;expires=600\r\n\
Authorization: Digest username=\"alice\", realm=\"pbx.test\", nonce=\"bm9uY2U=\", uri=\"sip:pbx.test\", response=\"0123456789abcdef0123456789abcdef\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"c1\"\r\n\
Expires: 600\r\n\
Content-Length: 0\r\n\r\n";

fn replace_header(message: &str, name: &str, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in message.split_inclusive("\r\n") {
        if line.starts_with(&format!("{name}:")) {
            out.extend_from_slice(format!("{name}: ").as_bytes());
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        } else {
            out.extend_from_slice(line.as_bytes());
        }
    }
    out
}

fn sip_corpus() -> Vec<Vec<u8>> {
    let base = REGISTER.as_bytes();
    let mut corpus: Vec<Vec<u8>> = Vec::new();
    // Every truncation.
    for cut in (1..base.len()).step_by(3) {
        corpus.push(base[..cut].to_vec());
    }
    // Random byte changes.
    let mut rng = Rng(0x5eed_0001);
    for _ in 0..300 {
        let mut message = base.to_vec();
        for _ in 0..=rng.below(5) {
            let at = rng.below(message.len());
            message[at] = rng.next() as u8;
        }
        corpus.push(message);
    }
    // Hostile header values, for every header.
    let headers = [
        "Via",
        "Max-Forwards",
        "From",
        "To",
        "Call-ID",
        "CSeq",
        "Contact",
        "Authorization",
        "Expires",
        "Content-Length",
    ];
    let values: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"\xff\xfe\xfd".to_vec(),
        vec![b'A'; 6000],
        b"\"unterminated".to_vec(),
        b"<sip:".to_vec(),
        b"<>".to_vec(),
        b"-1".to_vec(),
        b"99999999999999999999999".to_vec(),
        b"0x10".to_vec(),
        b"a\rb".to_vec(),
        b"a\nb".to_vec(),
        b";;;;,,,,".to_vec(),
        b"*".to_vec(),
        b"\0\0\0".to_vec(),
        "\u{202e}\u{fffd}".as_bytes().to_vec(),
    ];
    for header in headers {
        for value in &values {
            corpus.push(replace_header(REGISTER, header, value));
        }
        // Repeated many times, and dropped.
        let line = REGISTER
            .split("\r\n")
            .find(|line| line.starts_with(&format!("{header}:")))
            .unwrap_or("X: y");
        let mut repeated = REGISTER.replacen(line, &format!("{line}\r\n").repeat(200), 1);
        repeated.truncate(60_000);
        corpus.push(repeated.into_bytes());
        corpus.push(
            REGISTER
                .split_inclusive("\r\n")
                .filter(|l| !l.starts_with(&format!("{header}:")))
                .collect::<String>()
                .into_bytes(),
        );
    }
    // Digest parameters, one at a time.
    let params = [
        "username",
        "realm",
        "nonce",
        "uri",
        "response",
        "algorithm",
        "qop",
        "nc",
        "cnonce",
    ];
    let bad_params = [
        "",
        "\"",
        "\"\\\"",
        "zzzzzzzz",
        "ffffffffffffffff",
        "\"a\", x=\"",
        "SHA-512-256",
        "auth-int",
        "00000000",
    ];
    for param in params {
        for bad in bad_params {
            let auth = format!(
                "Digest username=\"alice\", realm=\"pbx.test\", nonce=\"bm9uY2U=\", uri=\"sip:pbx.test\", response=\"0123\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"c1\", {param}={bad}"
            );
            corpus.push(replace_header(REGISTER, "Authorization", auth.as_bytes()));
        }
    }
    // Start lines and framing.
    for start in [
        "REGISTER",
        "REGISTER sip:pbx.test",
        "REGISTER sip:pbx.test SIP/3.0",
        "REGISTER sip:pbx.test HTTP/1.1",
        " REGISTER sip:pbx.test SIP/2.0",
        "register sip:pbx.test SIP/2.0",
        "REGISTER <sip:pbx.test> SIP/2.0",
        "REGISTER sip: SIP/2.0",
        "SIP/2.0 200 OK",
        "SIP/2.0 999999 Huge",
        "GET / HTTP/1.1",
        "\u{ff}\u{fe} sip:x SIP/2.0",
    ] {
        corpus.push(
            REGISTER
                .replacen("REGISTER sip:pbx.test SIP/2.0", start, 1)
                .into_bytes(),
        );
    }
    for length in ["5", "100000", "-5", "abc", "0, 5"] {
        let mut message = replace_header(REGISTER, "Content-Length", length.as_bytes());
        message.extend_from_slice(b"body");
        corpus.push(message);
    }
    corpus.push(format!("{}{}", REGISTER, "\r\n".repeat(1000)).into_bytes());
    corpus.push(REGISTER.replace("\r\n", "\n").into_bytes());
    corpus.push(REGISTER.replace("\r\n", "\r").into_bytes());
    corpus.push(REGISTER.replace("\r\n\r\n", "\r\n").into_bytes());
    corpus.push(vec![b'A'; 65_000]);
    // Random junk.
    for _ in 0..100 {
        let len = 1 + rng.below(1500);
        corpus.push((0..len).map(|_| rng.next() as u8).collect());
    }
    corpus
}

fn http_corpus(auth: &str, sid: &str) -> Vec<Vec<u8>> {
    let mut corpus: Vec<Vec<u8>> = Vec::new();
    let get = |path: &str, extra: &str| {
        format!("GET {path} HTTP/1.1\r\nHost: t\r\nAuthorization: {auth}\r\n{extra}\r\n")
            .into_bytes()
    };
    let post = |path: &str, headers: &str, body: &[u8]| {
        let mut bytes =
            format!("POST {path} HTTP/1.1\r\nHost: t\r\nAuthorization: {auth}\r\n{headers}\r\n")
                .into_bytes();
        bytes.extend_from_slice(body);
        bytes
    };
    let account = format!("/2012-04-24/Accounts/{sid}");
    for method in [
        "FOO", "get", "G ET", "", "CONNECT", "TRACE", "OPTIONS", "PATCH", "HEAD", "\u{ff}",
    ] {
        corpus.push(
            format!("{method} {account}.json HTTP/1.1\r\nAuthorization: {auth}\r\n\r\n")
                .into_bytes(),
        );
    }
    corpus.push(format!("{} / HTTP/1.1\r\n\r\n", "M".repeat(5000)).into_bytes());
    for version in [
        "HTTP/1.2",
        "HTTP/2.0",
        "HTTP/0.9",
        "HTTP/x",
        "",
        "SIP/2.0",
        "HTTP/1.1 extra",
    ] {
        corpus.push(
            format!("GET {account}.json {version}\r\nAuthorization: {auth}\r\n\r\n").into_bytes(),
        );
    }
    let paths = [
        "%zz".to_string(),
        "%00".to_string(),
        "%".to_string(),
        "//".to_string(),
        "/../../etc/passwd".to_string(),
        "/2012-04-24/Accounts/../Accounts.json".to_string(),
        format!("{account}/Clients/%2e%2e.json"),
        format!("{account}.json?PageSize=-1"),
        format!("{account}.json?Page=99999999999999999999"),
        format!("{account}/Clients.json?PageSize=abc&Page=%ff"),
        format!("{account}/Clients.json?Login=%00"),
        format!("/2012-04-24/Accounts/{}.json", "x".repeat(10_000)),
        "/2012-04-24/Accounts/%C0%AF.json".to_string(),
        "/2012-04-24/Accounts.xml.json".to_string(),
        "/2012-04-24/Accounts/.json".to_string(),
        "http://evil.test/2012-04-24/Accounts.json".to_string(),
        "*".to_string(),
        "/health?%".to_string(),
    ];
    for path in &paths {
        corpus.push(get(path, ""));
        corpus.push(post(path, "Content-Length: 3\r\n", b"a=b"));
    }
    let mut raw_path = format!("GET {account}/Clients/").into_bytes();
    raw_path.extend_from_slice(b"\xff\xfe.json HTTP/1.1\r\n\r\n");
    corpus.push(raw_path);
    // Headers.
    for header in [
        "NoColon".to_string(),
        ": empty-name".to_string(),
        format!("X-Big: {}", "b".repeat(20_000)),
        (0..1000)
            .map(|i| format!("X-{i}: v\r\n"))
            .collect::<String>(),
        "Accept: \u{ff}".to_string(),
        "Accept: application/json;q=abc, */*;q=-1".to_string(),
        "Expect: 100-continue".to_string(),
        "Expect: teapot".to_string(),
        "Content-Length: 5".to_string(),
        "Transfer-Encoding: gzip".to_string(),
        "Connection: upgrade".to_string(),
    ] {
        corpus.push(get(&format!("{account}.json"), &format!("{header}\r\n")));
    }
    for authorization in [
        "Basic".to_string(),
        "Basic !!!!".to_string(),
        format!("Basic {}", "QQ==".repeat(3000)),
        "Basic dXNlcg==".to_string(), // "user", no colon
        "Basic //79/w==".to_string(), // not UTF-8
        "Bearer abc".to_string(),
        basic(sid, ""),
        basic("", "x"),
        basic("nobody@nowhere.test", "password1"),
        basic(&"A".repeat(5000), "x"),
        "Digest username=\"x\"".to_string(),
    ] {
        corpus.push(
            format!("GET {account}.json HTTP/1.1\r\nAuthorization: {authorization}\r\n\r\n")
                .into_bytes(),
        );
    }
    // Bodies: bad forms to every write route, with every broken length and encoding.
    let targets = [
        "/2012-04-24/Accounts.json".to_string(),
        format!("{account}.json"),
        format!("{account}/Clients.json"),
    ];
    let bodies: Vec<Vec<u8>> = vec![
        b"%".to_vec(),
        b"%zz=1".to_vec(),
        b"FriendlyName=%ff%fe".to_vec(),
        b"\xff\xfe=\xfd".to_vec(),
        b"=====&&&&".to_vec(),
        b"Status=whatever".to_vec(),
        b"Role=Emperor&EmailAddress=x%40y.test&Password=password1".to_vec(),
        b"Login=&Password=".to_vec(),
        b"Login=a%00b&Password=short".to_vec(),
        b"EmailAddress=not-an-email&Password=password1".to_vec(),
        b"Password=short".to_vec(),
        b"FriendlyName=a&FriendlyName=b".to_vec(),
        format!("FriendlyName={}", "n".repeat(5000)).into_bytes(),
        b"{\"json\": true}".to_vec(),
        vec![b'x'; 70_000],
    ];
    let mut rng = Rng(0x5eed_0002);
    for target in &targets {
        for body in &bodies {
            let form = "Content-Type: application/x-www-form-urlencoded\r\n";
            corpus.push(post(
                target,
                &format!("{form}Content-Length: {}\r\n", body.len()),
                body,
            ));
            corpus.push(post(
                target,
                &format!("{form}Content-Length: {}\r\n", body.len() + 50),
                body,
            ));
            corpus.push(post(
                target,
                &format!("{form}Content-Length: {}\r\n", body.len() / 2),
                body,
            ));
            corpus.push(post(target, &format!("{form}Content-Length: -1\r\n"), body));
            corpus.push(post(target, &format!("{form}Content-Length: x\r\n"), body));
            corpus.push(post(
                target,
                "Content-Type: application/json\r\nContent-Length: 2\r\n",
                b"{}",
            ));
            let mut chunked = format!("{:x}\r\n", body.len()).into_bytes();
            chunked.extend_from_slice(body);
            chunked.extend_from_slice(b"\r\n0\r\n\r\n");
            corpus.push(post(
                target,
                &format!("{form}Transfer-Encoding: chunked\r\n"),
                &chunked,
            ));
            corpus.push(post(
                target,
                &format!("{form}Transfer-Encoding: chunked\r\n"),
                b"zz\r\nabc\r\n",
            ));
            // A random byte changed in the whole request.
            let mut mutated = post(
                target,
                &format!("{form}Content-Length: {}\r\n", body.len()),
                body,
            );
            for _ in 0..3 {
                let at = rng.below(mutated.len());
                mutated[at] = rng.next() as u8;
            }
            corpus.push(mutated);
        }
    }
    for _ in 0..100 {
        let len = 1 + rng.below(3000);
        corpus.push((0..len).map(|_| rng.next() as u8).collect());
    }
    corpus
}

/// Every status line in a stream of HTTP responses.
fn http_statuses(answer: &[u8]) -> Vec<(u16, String)> {
    let text = String::from_utf8_lossy(answer);
    text.match_indices("HTTP/1.")
        .filter_map(|(at, _)| {
            let line = text[at..].lines().next()?;
            let code = line.split_whitespace().nth(1)?.parse().ok()?;
            Some((code, line.to_string()))
        })
        .collect()
}

/// One connection per input: send it, half-close, read everything the server says.
fn over_tcp(addr: std::net::SocketAddr, input: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let _ = stream.write_all(input);
    let _ = stream.shutdown(Shutdown::Write);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    answer
}

/// Runs `inputs` through `f` on four threads; returns each input's index and its answer.
fn parallel(inputs: &[Vec<u8>], f: impl Fn(&[u8]) -> Vec<u8> + Sync) -> Vec<(usize, Vec<u8>)> {
    let f = &f;
    thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|lane| {
                scope.spawn(move || {
                    (lane..inputs.len())
                        .step_by(4)
                        .map(|i| (i, f(&inputs[i])))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    })
}

#[test]
fn a_thousand_malformed_messages_get_no_server_error_and_change_nothing_valid() {
    let server = TestServer::start_in(
        unique_dir("malformed"),
        // The corpus is one address's thousands of failures: lift the limits, which have tests
        // of their own, so that every input reaches the parsers and handlers.
        r#"{"auth": {"max_failures": 1000000}, "http": {"request_timeout_secs": 3},
            "sip": {"realm": "pbx.test"}}"#,
    );
    // alice exists, so mutated REGISTERs reach the digest check with a real HA1.
    server.create_client(&server.root_sid, "alice", "alice-secret");
    let sip = sip_corpus();
    let http = http_corpus(&server.root_auth(), &server.root_sid);
    assert!(
        sip.len() + http.len() >= 1000,
        "{} + {}",
        sip.len(),
        http.len()
    );

    // SIP over UDP: send everything, then collect what comes back until it goes quiet.
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut answers = Vec::new();
    for input in &sip {
        let _ = socket.send_to(input, server.sip);
        thread::sleep(Duration::from_micros(200));
    }
    let mut buf = vec![0u8; 65_536];
    let quiet_since = Instant::now();
    while let Ok(len) = socket.recv(&mut buf) {
        answers.push(String::from_utf8_lossy(&buf[..len]).into_owned());
        if quiet_since.elapsed() > Duration::from_secs(30) {
            break;
        }
    }
    // Most broken messages are dropped unanswered (RFC 3261 §16.3 lets a server discard what
    // it cannot parse), and an answer to a mangled Via goes where that Via says.
    assert!(
        answers.len() >= 100,
        "only {} SIP/UDP answers",
        answers.len()
    );
    for answer in &answers {
        let code = sip_status(answer);
        assert!(code != 500 && code != 503, "SIP/UDP answered {answer}");
    }

    // SIP over TCP, each input on its own connection.
    for (i, answer) in parallel(&sip, |input| over_tcp(server.sip, input)) {
        let text = String::from_utf8_lossy(&answer);
        for start in text.match_indices("SIP/2.0 ").map(|(at, _)| &text[at..]) {
            let code = sip_status(start);
            assert!(
                code != 500 && code != 503,
                "SIP/TCP input {i} answered {start}"
            );
        }
    }

    // HTTP, each request on its own connection.
    let mut answered = 0;
    for (i, answer) in parallel(&http, |input| over_tcp(server.http, input)) {
        for (code, line) in http_statuses(&answer) {
            answered += 1;
            let version_refused = code == 505
                && String::from_utf8_lossy(&http[i])
                    .lines()
                    .next()
                    .is_some_and(|l| l.contains("HTTP/1.2") || l.contains("HTTP/2.0"));
            assert!(
                code < 500 || version_refused,
                "HTTP input {i} ({:?}) answered {line}",
                String::from_utf8_lossy(&http[i][..http[i].len().min(200)])
            );
        }
    }
    assert!(answered > http.len() / 2, "only {answered} HTTP answers");

    // Still serving, on every transport.
    let reply = server.root(
        "GET",
        &format!("/2012-04-24/Accounts/{}.json", server.root_sid),
        "",
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        sip_status(&Phone::udp(&server, "alice", "x").call("OPTIONS", "")),
        200
    );
    assert_eq!(
        sip_status(&Phone::tcp(&server, "alice", "x").call("OPTIONS", "")),
        200
    );
    let dir = server.terminate();
    let log = std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default();
    assert!(!log.contains("panicked"), "a panic in the log:\n{log}");
    assert_store_consistent(&dir);
}
