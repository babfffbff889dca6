//! The black-box harness: start the real binary in a fresh directory, wait for its READY line,
//! and talk raw HTTP/1.1 to it. No client crates: the protocol bytes are the test.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine;

/// The path of the binary under test.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_edgecomm")
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
        let mut config: serde_json::Value = serde_json::from_str(extra).expect("extra config");
        config["data_dir"] = dir.join("data").to_string_lossy().into();
        config["http"] = serde_json::json!({"listen": "127.0.0.1:0", "workers": 2});
        if config.get("sip").is_none() {
            config["sip"] = serde_json::json!({});
        }
        config["sip"]["listen"] = "127.0.0.1:0".into();
        std::fs::write(dir.join("config.json"), config.to_string()).expect("write config");
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("stderr.log"))
            .expect("log file");
        let mut child = Command::new(binary())
            .arg("--config")
            .arg(dir.join("config.json"))
            .env_remove("EDGECOMM_CONFIG")
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn edgecomm");
        let line = read_ready_line(&mut child, &dir);
        let http = line
            .split_whitespace()
            .find_map(|word| word.strip_prefix("http="))
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("no http address in {line:?}"));
        let sip = line
            .split_whitespace()
            .find_map(|word| word.strip_prefix("sip="))
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("no sip address in {line:?}"));
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

    /// `Authorization` value for the root Administrator.
    pub fn root_auth(&self) -> String {
        basic(&self.root_sid, &self.root_token)
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

    /// A request with explicit headers and raw body bytes.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.http
        );
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
        self.raw(&bytes)
    }

    /// Sends raw bytes and parses the reply.
    pub fn raw(&self, bytes: &[u8]) -> Reply {
        let mut stream = TcpStream::connect(self.http).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        // The server may answer (413) before reading everything; a reset on write is fine.
        let _ = stream.write_all(bytes);
        let mut reader = BufReader::new(stream);
        let mut status_line = String::new();
        reader.read_line(&mut status_line).expect("status line");
        let status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("header line");
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
                reader.read_exact(&mut body).expect("body");
            }
            None => {
                let _ = reader.read_to_end(&mut body);
            }
        }
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `Basic` credentials.
pub fn basic(user: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"))
    )
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
