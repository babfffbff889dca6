//! The HTTP adapter: the only code that names `tiny_http`.
//!
//! It turns each tiny_http request into an [`ApiRequest`] (capping the body at 64 KiB before
//! reading it), calls the handler it was given (the wiring passes `api::handle`) with the
//! time of arrival inside `catch_unwind` so that a bug answers 500 instead of
//! killing a worker, writes one access-log line, and sends the [`ApiResponse`]. The access
//! line has the method, the path, the status, the size and the time: never the query string,
//! the `Authorization` header or the body, which may hold secrets.

use std::io::Read;
use std::net::SocketAddr;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::api::{self, ApiRequest, ApiResponse, MAX_BODY_BYTES};
use crate::clock::{self, UnixSecs};
use crate::config::HttpSettings;
use crate::error::{Error, Result};

/// What the listener serves: a request and its time of arrival to a response.
pub type Handler = Arc<Serve>;

type Serve = dyn Fn(&ApiRequest, UnixSecs) -> ApiResponse + Send + Sync;

/// A bound HTTP listener, not yet serving.
pub struct HttpServer {
    server: Arc<tiny_http::Server>,
    addr: SocketAddr,
    /// `http` or `https`, for the worker threads' names.
    name: &'static str,
}

/// Largest request head (request line and headers); a larger one gets 431.
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Binds an HTTP listener, or an HTTPS one when given a TLS configuration; port 0 picks a free
/// port, reported by [`HttpServer::local_addr`]. `limits` bound the connections (tiny_http
/// runs a thread per connection, so these bound the threads too; under TLS the handshake runs
/// on that thread, within the request deadline): see `vendor/tiny_http/VENDORED.md`.
pub fn bind(
    addr: SocketAddr,
    limits: &HttpSettings,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> Result<HttpServer> {
    let scheme = if tls.is_some() { "HTTPS" } else { "HTTP" };
    let fail = |err: String| {
        Error::Io(std::io::Error::other(format!(
            "cannot listen for {scheme} on {addr}: {err}"
        )))
    };
    let listener = std::net::TcpListener::bind(addr).map_err(|err| fail(err.to_string()))?;
    set_nodelay_inherited(&listener).map_err(|err| fail(err.to_string()))?;
    let limits = tiny_http::ConnectionLimits {
        max_connections: limits.max_connections,
        max_per_address: limits.max_per_address,
        idle_timeout: Some(Duration::from_secs(limits.idle_timeout_secs)),
        request_timeout: Some(Duration::from_secs(limits.request_timeout_secs)),
        max_head_bytes: MAX_HEAD_BYTES,
        // The body is read with the head, under the request deadline, so a slow body holds
        // its connection's thread, never one of the workers.
        eager_body_bytes: MAX_BODY_BYTES,
    };
    let server = match tls {
        Some(tls) => tiny_http::Server::from_listener_with_tls(listener, tls, limits),
        None => tiny_http::Server::from_listener_with_limits(listener, None, limits),
    }
    .map_err(|err| fail(err.to_string()))?;
    let addr = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| Error::Io(std::io::Error::other("HTTP listener has no IP address")))?;
    Ok(HttpServer {
        server: Arc::new(server),
        addr,
        name: if scheme == "HTTPS" { "https" } else { "http" },
    })
}

/// Sets TCP_NODELAY on the listening socket; Linux copies it to every accepted connection.
/// tiny_http writes a response's head and a large body in separate segments and never sets
/// TCP_NODELAY itself, so without this a 60 KB list waited ~40 ms on each request for the
/// client's delayed ACK (measured with scripts/bench-api.sh).
fn set_nodelay_inherited(listener: &std::net::TcpListener) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::fd::{AsRawFd, FromRawFd};
        // SAFETY: the fd stays owned by `listener`; ManuallyDrop keeps this temporary view from
        // closing it. setsockopt(TCP_NODELAY) is valid on any TCP socket, listening or not.
        let view = std::mem::ManuallyDrop::new(unsafe {
            std::net::TcpStream::from_raw_fd(listener.as_raw_fd())
        });
        view.set_nodelay(true)?;
    }
    Ok(())
}

impl HttpServer {
    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many connections are open, for the metrics.
    pub fn open_connections(&self) -> crate::metrics::Probe {
        let server = self.server.clone();
        Box::new(move || server.open_connections())
    }

    /// Starts `workers` threads that serve requests with `handler` until the process ends.
    pub fn spawn_workers(&self, handler: Handler, workers: usize) -> Vec<JoinHandle<()>> {
        (0..workers)
            .map(|idx| {
                let (server, handler) = (self.server.clone(), handler.clone());
                thread::Builder::new()
                    .name(format!("{}-{idx}", self.name))
                    .spawn(move || {
                        for request in server.incoming_requests() {
                            serve_one(&*handler, request);
                        }
                    })
                    .expect("spawning a worker thread at start-up only fails when out of resources")
            })
            .collect()
    }
}

fn serve_one(handler: &Serve, mut request: tiny_http::Request) {
    let started = Instant::now();
    let header = |name: &str| {
        request
            .headers()
            .iter()
            .find(|field| field.field.as_str().as_str().eq_ignore_ascii_case(name))
            .map(|field| field.value.as_str().to_string())
    };
    let mut req = ApiRequest {
        method: request.method().as_str().to_string(),
        url: request.url().to_string(),
        authorization: header("Authorization"),
        accept: header("Accept"),
        content_type: header("Content-Type"),
        cookie: header("Cookie"),
        csrf_token: header("X-CSRF-Token"),
        origin: header("Origin"),
        host: header("Host"),
        console_poll: header("X-Console-Poll").is_some(),
        remote: request.remote_addr().copied(),
        secure: request.secure(),
        body: Vec::new(),
    };
    let res = match read_body(&mut request) {
        Ok(body) => {
            req.body = body;
            panic::catch_unwind(AssertUnwindSafe(|| handler(&req, clock::now()))).unwrap_or_else(
                |_| api::early_error(&req, &Error::Io(std::io::Error::other("handler panicked"))),
            )
        }
        Err(err) => api::early_error(&req, &err),
    };
    crate::metrics::http_answered(&req.method, res.status, started.elapsed());
    let path = req.url.split('?').next().unwrap_or("");
    let source = req
        .remote
        .map(|addr| addr.ip().to_string())
        .unwrap_or_else(|| "-".to_string());
    log::info!(
        "{source} {} {path} {} {}B {}ms",
        req.method,
        res.status,
        res.body.len(),
        started.elapsed().as_millis()
    );
    // The client may have gone away; there is no one left to tell.
    let _ = request.respond(to_tiny(res, req.secure));
}

/// What a browser may do with any answer of the box (the console's page and the API alike):
/// run scripts and styles from the box's own files only (no inline script, no other site),
/// talk to the box only, post forms to it only, and never show it inside a frame.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; \
    frame-ancestors 'none'; base-uri 'none'";

/// Headers on every answer: answers carry AuthTokens and account data, so no cache keeps them,
/// no browser guesses their type, frames them or tells another site where it came from; over
/// HTTPS, browsers are told to stay on it.
fn transport_headers(secure: bool) -> impl Iterator<Item = (&'static str, String)> {
    let hsts = secure.then(|| ("Strict-Transport-Security", "max-age=31536000".to_string()));
    [
        ("Cache-Control", "no-store".to_string()),
        ("X-Content-Type-Options", "nosniff".to_string()),
        (
            "Content-Security-Policy",
            CONTENT_SECURITY_POLICY.to_string(),
        ),
        ("X-Frame-Options", "DENY".to_string()),
        ("Referrer-Policy", "no-referrer".to_string()),
    ]
    .into_iter()
    .chain(hsts)
}

/// Reads the body, refusing more than [`MAX_BODY_BYTES`] without reading it all.
fn read_body(request: &mut tiny_http::Request) -> Result<Vec<u8>> {
    if request
        .body_length()
        .is_some_and(|len| len > MAX_BODY_BYTES)
    {
        return Err(Error::TooLarge {
            limit: MAX_BODY_BYTES,
        });
    }
    let mut body = Vec::new();
    let limit = u64::try_from(MAX_BODY_BYTES + 1).unwrap_or(u64::MAX);
    request
        .as_reader()
        .take(limit)
        .read_to_end(&mut body)
        .map_err(|_| Error::Invalid("could not read the request body".to_string()))?;
    if body.len() > MAX_BODY_BYTES {
        return Err(Error::TooLarge {
            limit: MAX_BODY_BYTES,
        });
    }
    Ok(body)
}

fn to_tiny(res: ApiResponse, secure: bool) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    // Bodies are complete in memory: always send Content-Length. tiny_http would switch to
    // chunked encoding above 32 KiB, and its small trailing chunk writes met delayed ACKs:
    // a 100-client list took ~40 ms per request (measured with scripts/bench-api.sh).
    let mut response = tiny_http::Response::from_data(res.body)
        .with_status_code(res.status)
        .with_chunked_threshold(usize::MAX);
    let headers = std::iter::once(("Content-Type", res.content_type.to_string()))
        .chain(res.headers)
        .chain(transport_headers(secure));
    for (name, value) in headers {
        if let Ok(header) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            response.add_header(header);
        }
    }
    response
}
