//! The black-box harness: start the real binary in a fresh directory, wait for its READY line,
//! and talk raw HTTP/1.1 and SIP to it. No client crates but rustls (TLS is not ours to
//! write): the protocol bytes are the test.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

#[path = "../common/credentials.rs"]
mod credentials;
pub use credentials::{basic, digest_authorization, nonce_of};

/// The path of the binary under test.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_edgecomm")
}

/// A command that runs the binary under test. Under emulation (the ARM CI, where qemu-user
/// runs the tests and the kernel cannot exec an ARM binary by itself), the server is started
/// through the runner named by `EDGECOMM_TEST_RUNNER` (`.ci/cross-arm.sh` sets it).
pub fn edgecomm() -> Command {
    let runner = std::env::var("EDGECOMM_TEST_RUNNER").unwrap_or_default();
    let mut parts = runner.split_whitespace();
    let mut command = match parts.next() {
        Some(program) => {
            let mut command = Command::new(program);
            command.args(parts).arg(binary());
            command
        }
        None => Command::new(binary()),
    };
    // edgecomm refuses unknown EDGECOMM_* variables, as it should: do not pass this one on.
    command.env_remove("EDGECOMM_TEST_RUNNER");
    command
}

/// A fresh, empty directory for one test.
pub fn unique_dir(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join("edgecomm-tests").join(format!(
        "{name}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create test dir");
    dir
}

/// A running server.
pub struct TestServer {
    child: Child,
    /// The test's directory (config, data, logs).
    pub dir: PathBuf,
    /// The bound HTTP address.
    pub http: SocketAddr,
    /// The bound SIP address (UDP and TCP).
    pub sip: SocketAddr,
    /// The bound HTTPS address, unless the test turned it off.
    pub https: Option<SocketAddr>,
    /// The bound SIP-over-TLS address, unless the test turned it off.
    pub sip_tls: Option<SocketAddr>,
    /// Root Administrator SID, from `initial-credentials`.
    pub root_sid: String,
    /// Root Administrator AuthToken, from `initial-credentials`.
    pub root_token: String,
    /// Root Administrator password, from `initial-credentials`.
    pub root_password: String,
}

/// An HTTP response as received.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|err| panic!("{err}: {}", self.body))
    }

    /// A header value by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

impl TestServer {
    /// Starts a server in a new directory.
    pub fn start(name: &str) -> TestServer {
        TestServer::start_in(unique_dir(name), "{}")
    }

    /// Starts a server in `dir` with extra top-level config JSON merged in (`extra` is an
    /// object literal).
    pub fn start_in(dir: PathBuf, extra: &str) -> TestServer {
        TestServer::start_in_with_sip(dir, extra, "127.0.0.1:0")
    }

    /// Like [`TestServer::start_in`], with SIP on `sip_listen`.
    pub fn start_in_with_sip(dir: PathBuf, extra: &str, sip_listen: &str) -> TestServer {
        let mut config: serde_json::Value = serde_json::from_str(extra).expect("extra config");
        config["data_dir"] = dir.join("data").to_string_lossy().into();
        if config.get("http").is_none() {
            config["http"] = serde_json::json!({});
        }
        if config["http"].get("listen").is_none() {
            config["http"]["listen"] = "127.0.0.1:0".into();
        }
        config["http"]["workers"] = 2.into();
        if config.get("https").is_none() {
            config["https"] = serde_json::json!({"listen": "127.0.0.1:0"});
        }
        if config.get("sip").is_none() {
            config["sip"] = serde_json::json!({});
        }
        config["sip"]["listen"] = sip_listen.into();
        if config["sip"].get("tls_listen").is_none() {
            config["sip"]["tls_listen"] = "127.0.0.1:0".into();
        }
        std::fs::write(dir.join("config.json"), config.to_string()).expect("write config");
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("stderr.log"))
            .expect("log file");
        let mut child = edgecomm()
            .arg("--config")
            .arg(dir.join("config.json"))
            .env_remove("EDGECOMM_CONFIG")
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn edgecomm");
        let line = read_ready_line(&mut child, &dir);
        let listener = |name: &str| -> Option<SocketAddr> {
            line.split_whitespace()
                .find_map(|word| word.strip_prefix(&format!("{name}=")))
                .and_then(|addr| addr.parse().ok())
        };
        let http = listener("http").unwrap_or_else(|| panic!("no http address in {line:?}"));
        let sip = listener("sip").unwrap_or_else(|| panic!("no sip address in {line:?}"));
        let (https, sip_tls) = (listener("https"), listener("sip_tls"));
        let credentials =
            std::fs::read_to_string(dir.join("data/initial-credentials")).expect("credentials");
        let field = |name: &str| {
            credentials
                .lines()
                .find_map(|line| line.strip_prefix(&format!("{name}=")))
                .unwrap_or_else(|| panic!("no {name} in credentials"))
                .to_string()
        };
        TestServer {
            child,
            http,
            sip,
            https,
            sip_tls,
            root_sid: field("sid"),
            root_token: field("auth_token"),
            root_password: field("password"),
            dir,
        }
    }

    /// Kills the server with SIGKILL, as a power cut would, and returns its directory.
    pub fn kill9(mut self) -> PathBuf {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.dir.clone()
    }

    /// Stops the server with SIGTERM, as systemd does, and returns its directory.
    pub fn terminate(mut self) -> PathBuf {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .expect("kill(1)");
        assert!(status.success());
        let _ = self.child.wait();
        self.dir.clone()
    }

    /// `Authorization` value for the root Administrator.
    pub fn root_auth(&self) -> String {
        basic(&self.root_sid, &self.root_token)
    }

    /// What the server wrote to stderr so far (its log).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr.log")).unwrap()
    }

    /// A request as root, with a form body.
    pub fn root(&self, method: &str, path: &str, form: &str) -> Reply {
        self.request(
            method,
            path,
            &[("Authorization", &self.root_auth())],
            form.as_bytes(),
        )
    }

    /// Creates an account as `auth` (form fields `extra` appended, e.g. `&Role=Developer`)
    /// and returns its (sid, auth token).
    pub fn create_account(&self, auth: &str, email: &str, extra: &str) -> (String, String) {
        let body = format!("EmailAddress={email}&Password=password1{extra}");
        let reply = self.request(
            "POST",
            "/2012-04-24/Accounts.json",
            &[("Authorization", auth)],
            body.as_bytes(),
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        let json = reply.json();
        (
            json["sid"].as_str().unwrap().to_string(),
            json["auth_token"].as_str().unwrap().to_string(),
        )
    }

    /// Creates a Client of `account` as root and returns its JSON.
    pub fn create_client(&self, account: &str, login: &str, password: &str) -> serde_json::Value {
        let reply = self.root(
            "POST",
            &format!("/2012-04-24/Accounts/{account}/Clients.json"),
            &format!("Login={login}&Password={password}"),
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()
    }

    /// A request with explicit headers and raw body bytes.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        let bytes = request_bytes(self.http, method, path, headers, body);
        self.raw(&bytes)
    }

    /// Sends raw bytes and parses the reply.
    pub fn raw(&self, bytes: &[u8]) -> Reply {
        send_http(self.http, bytes)
    }
}

/// The `sid` field of a created resource.
pub fn sid_of(json: &serde_json::Value) -> String {
    json["sid"].as_str().expect("a sid").to_string()
}

/// The bytes of one request (`Connection: close`; a form body unless a type is given).
pub fn request_bytes(
    host: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    let mut has_type = false;
    for (name, value) in headers {
        has_type |= name.eq_ignore_ascii_case("content-type");
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() && !has_type {
        head.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// Sends raw bytes to `addr` on a new connection and parses the reply.
pub fn send_http(addr: SocketAddr, bytes: &[u8]) -> Reply {
    try_send_http(addr, bytes).unwrap_or_else(|err| panic!("HTTP exchange with {addr}: {err}"))
}

/// Like [`send_http`], for callers that expect the server to go away (the crash tests).
pub fn try_send_http(addr: SocketAddr, bytes: &[u8]) -> std::io::Result<Reply> {
    let stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    exchange_http(stream, bytes)
}

/// Sends one HTTPS request (TLS to the server's certificate, as `localhost`) and parses the
/// reply.
pub fn send_https(server: &TestServer, bytes: &[u8]) -> Reply {
    let stream = tls_connect(server, server.https.expect("an HTTPS listener"));
    exchange_http(stream, bytes).expect("an HTTPS exchange")
}

/// Writes a request on `stream` and reads one reply.
fn exchange_http(mut stream: impl Read + Write, bytes: &[u8]) -> std::io::Result<Reply> {
    let broken = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
    // The server may answer (413) before reading everything; a reset on write is fine.
    let _ = stream.write_all(bytes);
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line)?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| broken(format!("bad status line {status_line:?}")))?;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(broken("end of stream in the head".to_string()));
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    let length = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.parse::<usize>().ok());
    let mut body = Vec::new();
    match length {
        Some(length) => {
            body.resize(length, 0);
            reader.read_exact(&mut body)?;
        }
        None => {
            let _ = reader.read_to_end(&mut body);
        }
    }
    Ok(Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `edgecomm check` on a stopped server's directory and asserts the store is consistent;
/// returns how many index rows opening it mended (left by a write a crash cut short).
#[track_caller]
pub fn assert_store_consistent(dir: &Path) -> usize {
    let check = edgecomm()
        .arg("check")
        .arg("--config")
        .arg(dir.join("config.json"))
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{report}");
    assert_eq!(report.trim(), "store is consistent");
    let log = String::from_utf8_lossy(&check.stderr);
    log.split("mended ")
        .skip(1)
        .filter_map(|rest| rest.split(' ').next()?.parse::<usize>().ok())
        .sum()
}

/// Waits (at most 20 s) for the READY line, then keeps draining stdout so the server never
/// blocks on a full pipe.
fn read_ready_line(child: &mut Child, dir: &Path) -> String {
    let stdout = child.stdout.take().expect("piped stdout");
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut ready_sent = false;
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) if !ready_sent && line.starts_with("READY ") => {
                    ready_sent = true;
                    let _ = sender.send(line.trim().to_string());
                }
                Ok(_) => {}
            }
        }
    });
    receiver
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| {
            let log = std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default();
            panic!("server did not print READY; stderr:\n{log}")
        })
}

/// The client side of a TLS connection to the server under test.
pub type TlsStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A TLS client that trusts the server's certificate file, named `localhost`: what an
/// administrator gets with `curl --cacert data/tls/cert.pem`.
pub fn tls_connect(server: &TestServer, addr: SocketAddr) -> TlsStream {
    tls_connect_trusting(&server.dir.join("data/tls/cert.pem"), addr)
}

/// Like [`tls_connect`], trusting the certificate in `cert_file`.
pub fn tls_connect_trusting(cert_file: &Path, addr: SocketAddr) -> TlsStream {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(cert_file).expect("cert file") {
        roots
            .add(cert.expect("a certificate"))
            .expect("a trust anchor");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("a name");
    let conn = rustls::ClientConnection::new(Arc::new(config), name).expect("a TLS client");
    let tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    rustls::StreamOwned::new(conn, tcp)
}

/// What a stream phone talks through: TCP, or TLS over it.
pub trait Wire: Read + Write + Send {
    /// The longest the next read may wait.
    fn set_wait(&self, wait: Duration);
}

impl Wire for TcpStream {
    fn set_wait(&self, wait: Duration) {
        self.set_read_timeout(Some(wait)).unwrap();
    }
}

impl Wire for TlsStream {
    fn set_wait(&self, wait: Duration) {
        self.sock.set_read_timeout(Some(wait)).unwrap();
    }
}

/// A tiny SIP user agent over UDP, TCP or TLS, enough to drive the registrar like a phone.
pub struct Phone {
    udp: Option<std::net::UdpSocket>,
    tcp: Option<BufReader<Box<dyn Wire>>>,
    /// `UDP`, `TCP` or `TLS`: its Via and its Contact's transport.
    transport: &'static str,
    server: SocketAddr,
    /// The phone's own address (the Contact it registers).
    pub local: SocketAddr,
    pub user: String,
    pub password: String,
    /// The domain it registers to (Request-URI, From, To and the digest realm).
    pub domain: String,
    cseq: u32,
    call_id: String,
    branch: u32,
}

impl Phone {
    /// A phone on UDP.
    pub fn udp(server: &TestServer, user: &str, password: &str) -> Phone {
        let any = if server.sip.is_ipv6() {
            "[::1]:0"
        } else {
            "127.0.0.1:0"
        };
        Phone::udp_from(server, any, user, password)
    }

    /// A phone on UDP from `local` (any of 127.0.0.0/8 works on Linux: a phone at another
    /// address without another machine).
    pub fn udp_from(server: &TestServer, local: &str, user: &str, password: &str) -> Phone {
        let socket = std::net::UdpSocket::bind(local).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let local = socket.local_addr().unwrap();
        Phone::new(server.sip, Some(socket), None, local, user, password)
    }

    /// A phone on one TCP connection.
    pub fn tcp(server: &TestServer, user: &str, password: &str) -> Phone {
        let stream = TcpStream::connect(server.sip).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let local = stream.local_addr().unwrap();
        let mut phone = Phone::new(server.sip, None, None, local, user, password);
        phone.tcp = Some(BufReader::new(Box::new(stream)));
        phone.transport = "TCP";
        phone
    }

    /// A phone on one TLS connection to the SIP-over-TLS listener.
    pub fn tls(server: &TestServer, user: &str, password: &str) -> Phone {
        let addr = server.sip_tls.expect("a SIP TLS listener");
        let stream = tls_connect(server, addr);
        let local = stream.sock.local_addr().unwrap();
        let mut phone = Phone::new(addr, None, None, local, user, password);
        phone.tcp = Some(BufReader::new(Box::new(stream)));
        phone.transport = "TLS";
        phone
    }

    /// Starts a new Call-ID, as a guesser does for every guess (a phone keeps its own).
    pub fn new_call_id(&mut self) {
        self.call_id = format!("{}-{}", self.call_id, self.cseq);
    }

    fn new(
        server: SocketAddr,
        udp: Option<std::net::UdpSocket>,
        tcp: Option<BufReader<Box<dyn Wire>>>,
        local: SocketAddr,
        user: &str,
        password: &str,
    ) -> Phone {
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        Phone {
            udp,
            tcp,
            transport: "UDP",
            server,
            local,
            user: user.to_string(),
            password: password.to_string(),
            domain: "pbx.test".to_string(),
            cseq: 0,
            call_id: format!(
                "call-{}-{}@test",
                std::process::id(),
                CALLS.fetch_add(1, Ordering::SeqCst)
            ),
            branch: 0,
        }
    }

    /// Builds a request with fresh CSeq and branch; `extra` lines end in CRLF.
    pub fn request(&mut self, method: &str, extra: &str) -> String {
        self.cseq += 1;
        self.branch += 1;
        let (transport, domain) = (self.transport, &self.domain);
        format!(
            "{method} sip:{domain} SIP/2.0\r\nVia: SIP/2.0/{transport} {};branch=z9hG4bK{}-{};rport\r\nMax-Forwards: 70\r\n\
             From: <sip:{}@{domain}>;tag=ph{}\r\nTo: <sip:{}@{domain}>\r\nCall-ID: {}\r\nCSeq: {} {method}\r\n\
             User-Agent: test-phone/1.0\r\n{extra}Content-Length: 0\r\n\r\n",
            self.local, self.call_id, self.branch, self.user, self.branch, self.user, self.call_id, self.cseq
        )
    }

    /// Sends raw bytes.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        match (&self.udp, &mut self.tcp) {
            (Some(socket), _) => {
                socket.send_to(bytes, self.server).unwrap();
            }
            (None, Some(stream)) => stream.get_mut().write_all(bytes).unwrap(),
            (None, None) => unreachable!("a phone has a transport"),
        }
    }

    /// Receives one response (`None` on timeout after `wait`).
    pub fn recv(&mut self, wait: Duration) -> Option<String> {
        match (&self.udp, &mut self.tcp) {
            (Some(socket), _) => {
                socket.set_read_timeout(Some(wait)).unwrap();
                let mut buf = vec![0u8; 65_536];
                let (len, _) = socket.recv_from(&mut buf).ok()?;
                Some(String::from_utf8_lossy(&buf[..len]).into_owned())
            }
            (None, Some(stream)) => {
                stream.get_ref().set_wait(wait);
                let mut text = String::new();
                loop {
                    let mut line = String::new();
                    if stream.read_line(&mut line).ok()? == 0 {
                        return None;
                    }
                    let end = line == "\r\n";
                    text.push_str(&line);
                    if end {
                        return Some(text);
                    }
                }
            }
            (None, None) => None,
        }
    }

    /// Reads exactly `len` bytes from the TCP connection (a keep-alive's pong, say).
    pub fn recv_bytes(&mut self, len: usize, wait: Duration) -> Vec<u8> {
        let reader = self.tcp.as_mut().expect("a TCP phone");
        reader.get_ref().set_wait(wait);
        let mut out = vec![0u8; len];
        reader.read_exact(&mut out).unwrap();
        out
    }

    /// True when the server closed this phone's TCP connection within `wait` (end of stream),
    /// false when it is still open after `wait`.
    pub fn closed_by_server(&mut self, wait: Duration) -> bool {
        let stream = self.tcp.as_mut().expect("a TCP phone").get_mut();
        stream.set_wait(wait);
        let mut byte = [0u8; 1];
        match stream.read(&mut byte) {
            Ok(0) => true,
            Ok(_) => false,
            Err(err) => !matches!(
                err.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
        }
    }

    /// Builds a request, sends it and waits for its response.
    pub fn call(&mut self, method: &str, extra: &str) -> String {
        let text = self.request(method, extra);
        self.exchange(&text)
    }

    /// Builds a request and sends it without waiting.
    pub fn fire(&mut self, method: &str, extra: &str) {
        let text = self.request(method, extra);
        self.send_raw(text.as_bytes());
    }

    /// Sends a request and waits for its response.
    pub fn exchange(&mut self, text: &str) -> String {
        self.send_raw(text.as_bytes());
        self.recv(Duration::from_secs(5)).expect("a response")
    }

    /// The full flow: REGISTER, 401, REGISTER with credentials. Returns the final response.
    pub fn register(&mut self, extra: &str) -> String {
        let challenge = self.call("REGISTER", extra);
        assert!(challenge.starts_with("SIP/2.0 401 "), "{challenge}");
        let nonce = nonce_of(&challenge);
        let auth = self.authorization(&nonce, 1);
        self.call("REGISTER", &format!("{auth}{extra}"))
    }

    /// An MD5 `Authorization` line for `nonce` and `nc`.
    pub fn authorization(&self, nonce: &str, nc: u32) -> String {
        digest_authorization(&self.user, &self.password, &self.domain, nonce, nc, "MD5")
    }

    /// The Contact line for this phone.
    pub fn contact(&self, extra_params: &str) -> String {
        let transport = self.transport.to_ascii_lowercase();
        format!(
            "Contact: <sip:{}@{};transport={transport}>{extra_params}\r\n",
            self.user, self.local
        )
    }
}

/// The status code of a SIP response text.
pub fn sip_status(text: &str) -> u16 {
    text.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}
