//! SIP over TCP and over TLS: an accept thread per listener and one thread per connection,
//! at most `sip.tcp_max_connections` in all and `sip.tcp_max_per_address` from one address
//! (each listener counts its own). Messages are cut by Content-Length, CRLF keep-alives are
//! answered (RFC 5626 §4.4.1), an idle connection is closed after `sip.idle_timeout_secs`
//! unless it carries a live registration, a message begun must be whole within
//! `sip.message_timeout_secs` (so a sender of a byte a second cannot hold a connection), and a
//! framing error closes that connection only.
//!
//! Over TLS, rustls runs the handshake on the connection's own thread, within
//! `sip.message_timeout_secs` of the accept, and every timeout is a deadline on the socket:
//! however many reads one TLS record takes, a slow sender cannot stretch it.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::{Handler, Serve};
use crate::clock;
use crate::config::SipSettings;
use crate::domain::Transport;
use crate::sip::message::{self, Peer};
use crate::sync::lock;

/// What a stream connection reads and writes through: a TCP socket, or TLS over one.
trait SipStream: Read + Write {
    /// The longest the next read may wait.
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> std::io::Result<()>;
}

impl SipStream for TcpStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> std::io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }
}

/// A TCP socket whose reads all end by one deadline, as TLS needs: rustls reads a record, or
/// a handshake, in as many socket reads as it takes.
struct DeadlineSocket {
    tcp: TcpStream,
    until: Option<Instant>,
}

impl Read for DeadlineSocket {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Some(until) = self.until {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(std::io::ErrorKind::TimedOut.into());
            }
            self.tcp.set_read_timeout(Some(left))?;
        }
        self.tcp.read(buf)
    }
}

impl Write for DeadlineSocket {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tcp.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.tcp.flush()
    }
}

/// TLS over a [`DeadlineSocket`]: each read, however many records and socket reads it
/// takes, returns within the read timeout, as a read of a TCP socket does.
struct TlsStream {
    tls: rustls::StreamOwned<rustls::ServerConnection, DeadlineSocket>,
    timeout: Option<Duration>,
}

impl Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.tls.sock.until = self.timeout.map(|timeout| Instant::now() + timeout);
        self.tls.read(buf)
    }
}

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tls.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.tls.flush()
    }
}

impl SipStream for TlsStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> std::io::Result<()> {
        self.timeout = timeout;
        Ok(())
    }
}

/// A listener's open connections, shared by its accept loop and the metrics.
pub(super) type Open = Arc<Mutex<OpenConnections>>;

/// How many connections of a listener are open now.
pub(super) fn open_count(open: &Open) -> usize {
    lock(open).total
}

/// Open TCP connections, in all and per address.
#[derive(Default)]
pub(super) struct OpenConnections {
    total: usize,
    per_address: HashMap<IpAddr, usize>,
}

impl OpenConnections {
    fn try_open(&mut self, ip: IpAddr, max_total: usize, max_per_address: usize) -> bool {
        let from_ip = self.per_address.entry(ip).or_insert(0);
        if self.total >= max_total || *from_ip >= max_per_address {
            if *from_ip == 0 {
                self.per_address.remove(&ip);
            }
            return false;
        }
        *from_ip += 1;
        self.total += 1;
        true
    }

    fn close(&mut self, ip: IpAddr) {
        self.total -= 1;
        if let Some(from_ip) = self.per_address.get_mut(&ip) {
            *from_ip -= 1;
            if *from_ip == 0 {
                self.per_address.remove(&ip);
            }
        }
    }
}

/// Accepts connections on `listener` and serves each on its own thread, over TLS when given
/// a configuration.
pub(super) fn accept_loop(
    handler: &Handler,
    settings: &SipSettings,
    listener: &TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    open: &Open,
) {
    let name = if tls.is_some() { "TLS" } else { "TCP" };
    let mut backoff = Duration::from_millis(100);
    loop {
        let (stream, source) = match listener.accept() {
            Ok(accepted) => {
                backoff = Duration::from_millis(100);
                accepted
            }
            Err(err) => {
                log::error!("SIP {name} accept: {err}");
                thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        let admitted = lock(open).try_open(
            source.ip(),
            settings.tcp_max_connections,
            settings.tcp_max_per_address,
        );
        if !admitted {
            log::warn!("SIP {name} connection from {source} refused: at the connection limit");
            continue; // Dropping the stream closes it.
        }
        let (handler, settings, open) = (handler.clone(), *settings, open.clone());
        let tls = tls.clone();
        let spawned = thread::Builder::new()
            .name(format!("sip-{}-conn", name.to_ascii_lowercase()))
            .spawn(move || {
                let served = stream.set_write_timeout(Some(WRITE_TIMEOUT));
                let served = served.and_then(|()| match tls {
                    None => serve_connection(&*handler, &settings, stream, source, Transport::Tcp),
                    Some(tls) => serve_tls(&*handler, &settings, stream, source, tls),
                });
                if let Err(err) = served {
                    log::debug!("SIP {name} {source}: {err}");
                }
                lock(&open).close(source.ip());
            });
        if let Err(err) = spawned {
            log::warn!("SIP {name} connection from {source} dropped: {err}");
        }
    }
}

/// The TLS handshake, within the message timeout of the accept, then the connection.
fn serve_tls(
    handler: &dyn Serve,
    settings: &SipSettings,
    tcp: TcpStream,
    source: SocketAddr,
    tls: Arc<rustls::ServerConfig>,
) -> std::io::Result<()> {
    let mut conn = rustls::ServerConnection::new(tls).map_err(std::io::Error::other)?;
    let mut sock = DeadlineSocket {
        tcp,
        until: Some(Instant::now() + Duration::from_secs(settings.message_timeout_secs)),
    };
    while conn.is_handshaking() {
        conn.complete_io(&mut sock)?;
    }
    let stream = TlsStream {
        tls: rustls::StreamOwned::new(conn, sock),
        timeout: None,
    };
    serve_connection(handler, settings, stream, source, Transport::Tls)
}

/// The longest a write to a phone may wait.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

fn serve_connection(
    handler: &dyn Serve,
    settings: &SipSettings,
    mut stream: impl SipStream,
    source: SocketAddr,
    transport: Transport,
) -> std::io::Result<()> {
    let idle = Duration::from_secs(settings.idle_timeout_secs);
    let message_timeout = Duration::from_secs(settings.message_timeout_secs);
    stream.set_read_timeout(Some(idle))?;
    let peer = Peer {
        addr: source,
        transport,
    };
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    // When the first byte of the message now in `buf` arrived.
    let mut message_started: Option<Instant> = None;
    loop {
        // Answer every complete message in the buffer before reading more.
        if !answer_buffered(handler, &mut stream, &mut buf, peer)? {
            return Ok(());
        }
        // Bare CRLFs are keep-alives, not the start of a message: they never start the clock.
        if buf.iter().all(|b| matches!(b, b'\r' | b'\n')) {
            if message_started.take().is_some() {
                stream.set_read_timeout(Some(idle))?;
            }
        } else {
            let started = *message_started.get_or_insert_with(Instant::now);
            let left = message_timeout.saturating_sub(started.elapsed());
            if left.is_zero() {
                log::warn!(
                    "SIP {} {source}: closing, a message took longer than {message_timeout:?}",
                    transport.as_str()
                );
                return Ok(());
            }
            stream.set_read_timeout(Some(left.min(idle)))?;
        }
        let read = match stream.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(read) => read,
            Err(err) if is_timeout(&err) && message_started.is_none() => {
                // Idle: a connection that carries a live registration stays open.
                if handler.holds_registration(peer, clock::now()) {
                    continue;
                }
                log::debug!(
                    "SIP {} {source}: closing an idle connection",
                    transport.as_str()
                );
                return Ok(());
            }
            Err(err) => return Err(err),
        };
        buf.extend_from_slice(&chunk[..read]);
    }
}

/// Answers every complete message in `buf` (and every CRLF keep-alive ping), leaving what
/// is incomplete; false after a framing error, which closes the connection.
fn answer_buffered(
    handler: &dyn Serve,
    stream: &mut impl SipStream,
    buf: &mut Vec<u8>,
    peer: Peer,
) -> std::io::Result<bool> {
    loop {
        if buf.starts_with(b"\r\n\r\n") {
            stream.write_all(b"\r\n")?; // Keep-alive ping → pong.
            buf.drain(..4);
            continue;
        }
        let skip = buf
            .iter()
            .position(|b| !matches!(b, b'\r' | b'\n'))
            .unwrap_or(buf.len());
        if skip == buf.len() {
            if buf.len() > 4 {
                buf.clear();
            }
            return Ok(true);
        }
        match message::frame_length(buf) {
            Ok(Some(len)) => {
                let frame: Vec<u8> = buf.drain(..len).collect();
                if let Some(reply) = handler.message(&frame, peer, clock::now()) {
                    stream.write_all(&reply)?;
                }
            }
            Ok(None) => return Ok(true),
            Err(err) => {
                log::warn!(
                    "SIP {} {}: closing after a framing error: {}",
                    peer.transport.as_str(),
                    peer.addr,
                    err.0
                );
                return Ok(false);
            }
        }
    }
}

/// A read timeout: Unix reports it as `WouldBlock`, Windows as `TimedOut`.
fn is_timeout(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}
