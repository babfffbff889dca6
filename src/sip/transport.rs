//! SIP sockets: the only SIP code that touches the network.
//!
//! UDP: `sip.udp_workers` threads read one socket (cloned handles), hand each datagram to
//! `SipService::handle_message`, and send the answer to the source address. TCP and TLS:
//! `transport/stream.rs`, a thread per connection under the same caps and timeouts.

mod stream;

use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::clock::{self, UnixSecs};
use crate::config::SipSettings;
use crate::domain::Transport;
use crate::error::{Error, Result};
use crate::metrics::Probe;
use crate::sip::message::{Peer, MAX_MESSAGE_BYTES};

/// What the listeners serve (the wiring passes the `SipService` and its store).
pub trait Serve: Send + Sync {
    /// One message, its source and its time of arrival to the bytes to send back, if any.
    fn message(&self, bytes: &[u8], peer: Peer, now: UnixSecs) -> Option<Vec<u8>>;

    /// True while a binding registered over the connection from `peer` lives: such a
    /// connection stays open past the idle timeout, since the phone is reached through it.
    fn holds_registration(&self, peer: Peer, now: UnixSecs) -> bool;
}

/// The listeners' handler.
pub type Handler = Arc<dyn Serve>;

/// Bound SIP sockets, UDP and TCP on the same address.
pub struct SipListeners {
    udp: UdpSocket,
    tcp: TcpListener,
    tcp_open: stream::Open,
}

/// A bound SIP-over-TLS socket.
pub struct SipTlsListener(TcpListener, stream::Open);

/// Binds the SIP-over-TLS listener (port 0 picks a free port).
pub fn bind_tls(addr: SocketAddr) -> Result<SipTlsListener> {
    let listener = TcpListener::bind(addr).map_err(|err| {
        Error::Io(std::io::Error::other(format!(
            "cannot listen for SIP over TLS on {addr}: {err}"
        )))
    })?;
    Ok(SipTlsListener(listener, stream::Open::default()))
}

/// A count of open connections the metrics read.
fn probe(open: &stream::Open) -> Probe {
    let open = open.clone();
    Box::new(move || stream::open_count(&open))
}

impl SipTlsListener {
    /// The bound address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        Ok(self.0.local_addr()?)
    }

    /// How many connections are open, for the metrics.
    pub fn open_connections(&self) -> Probe {
        probe(&self.1)
    }

    /// Starts the acceptor: each connection's handshake and messages on its own thread.
    pub fn spawn(
        self,
        handler: Handler,
        settings: &SipSettings,
        tls: Arc<rustls::ServerConfig>,
    ) -> Result<JoinHandle<()>> {
        let (listener, open, settings) = (self.0, self.1, *settings);
        let serve = move || stream::accept_loop(&handler, &settings, &listener, Some(tls), &open);
        Ok(thread::Builder::new()
            .name("sip-tls".to_string())
            .spawn(serve)?)
    }
}

/// Binds UDP, then TCP on the same port (with port 0, retries until both are free).
pub fn bind(addr: SocketAddr) -> Result<SipListeners> {
    let fail = |err: std::io::Error| {
        Error::Io(std::io::Error::other(format!(
            "cannot listen for SIP on {addr}: {err}"
        )))
    };
    for _ in 0..20 {
        let udp = UdpSocket::bind(addr).map_err(fail)?;
        let bound = udp.local_addr().map_err(fail)?;
        match TcpListener::bind(bound) {
            Ok(tcp) => {
                let tcp_open = stream::Open::default();
                return Ok(SipListeners { udp, tcp, tcp_open });
            }
            Err(err) if addr.port() != 0 => return Err(fail(err)),
            Err(_) => continue, // The kernel's UDP pick is taken on TCP: try another.
        }
    }
    Err(fail(std::io::Error::other(
        "no port free for both UDP and TCP",
    )))
}

/// This machine's addresses on its default routes, IPv4 and IPv6: the source a datagram to a
/// documentation address would have (connecting a UDP socket sends nothing).
pub fn primary_addresses() -> Vec<IpAddr> {
    [("0.0.0.0:0", "192.0.2.1:9"), ("[::]:0", "[2001:db8::1]:9")]
        .iter()
        .filter_map(|(local, remote)| {
            let socket = UdpSocket::bind(local).ok()?;
            socket.connect(remote).ok()?;
            Some(socket.local_addr().ok()?.ip())
        })
        .filter(|ip| !ip.is_unspecified() && !ip.is_loopback())
        .collect()
}

/// True when `ip` is an address of this machine: binding to it succeeds only then.
pub fn is_local_ip(ip: IpAddr) -> bool {
    ip.is_loopback() || UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}

impl SipListeners {
    /// The bound address (UDP and TCP share it).
    pub fn local_addr(&self) -> Result<SocketAddr> {
        Ok(self.udp.local_addr()?)
    }

    /// How many TCP connections are open, for the metrics.
    pub fn open_connections(&self) -> Probe {
        probe(&self.tcp_open)
    }

    /// Starts the UDP readers and the TCP acceptor, serving with `handler`.
    pub fn spawn(self, handler: Handler, settings: &SipSettings) -> Result<Vec<JoinHandle<()>>> {
        let asked = settings.udp_receive_buffer_bytes;
        match set_receive_buffer(&self.udp, asked) {
            Ok(granted) => log::info!("{}", receive_buffer_line(asked, granted)),
            Err(err) => log::warn!("SIP UDP receive buffer left as it was: {err}"),
        }
        let mut threads = Vec::new();
        for idx in 0..settings.udp_workers {
            let socket = self.udp.try_clone()?;
            let handler = handler.clone();
            threads.push(
                thread::Builder::new()
                    .name(format!("sip-udp-{idx}"))
                    .spawn(move || udp_loop(&*handler, &socket))?,
            );
        }
        let (tcp, open, settings) = (self.tcp, self.tcp_open, *settings);
        let serve = move || stream::accept_loop(&handler, &settings, &tcp, None, &open);
        threads.push(
            thread::Builder::new()
                .name("sip-tcp".to_string())
                .spawn(serve)?,
        );
        Ok(threads)
    }
}

/// What the start log says of the receive buffer. Linux grants twice the size it sets (it
/// counts its bookkeeping in), after capping the request at `net.core.rmem_max`: a grant below
/// twice the request means the cap cut it.
fn receive_buffer_line(asked: usize, granted: usize) -> String {
    if granted >= asked.saturating_mul(2) {
        format!(
            "SIP UDP receive buffer: {asked} bytes, as asked (the kernel reports {granted}, \
             its bookkeeping included)"
        )
    } else {
        format!(
            "SIP UDP receive buffer: {} bytes, less than the {asked} asked: net.core.rmem_max \
             caps it (sysctl -w net.core.rmem_max={asked} lifts the cap)",
            granted / 2
        )
    }
}

/// Asks for a receive buffer of `bytes` and returns what the kernel granted (Linux counts its
/// bookkeeping in, so that is about twice what is asked, up to twice `net.core.rmem_max`).
/// A boot storm arrives in bursts: with the default ~200 KB only about a hundred datagrams
/// wait while the readers are off the CPU, the rest are dropped and come back 500 ms later
/// as retransmissions (the benchmark's `udp_rcvbuf_drops`). The memory is charged only
/// while datagrams wait. std has no setter for it, hence the two libc calls.
#[cfg(target_os = "linux")]
fn set_receive_buffer(socket: &UdpSocket, bytes: usize) -> std::io::Result<usize> {
    use std::ffi::{c_int, c_void};
    use std::os::fd::AsRawFd;
    // <asm-generic/socket.h>; MIPS and SPARC kept the values of the systems they came from.
    const BSD_STYLE: bool = cfg!(any(
        target_arch = "mips",
        target_arch = "mips64",
        target_arch = "sparc64"
    ));
    const SOL_SOCKET: c_int = if BSD_STYLE { 0xffff } else { 1 };
    const SO_RCVBUF: c_int = if BSD_STYLE { 0x1002 } else { 8 };
    extern "C" {
        fn setsockopt(
            fd: c_int,
            level: c_int,
            name: c_int,
            value: *const c_void,
            len: u32,
        ) -> c_int;
        fn getsockopt(
            fd: c_int,
            level: c_int,
            name: c_int,
            value: *mut c_void,
            len: *mut u32,
        ) -> c_int;
    }
    let asked = c_int::try_from(bytes).unwrap_or(c_int::MAX);
    let mut granted: c_int = 0;
    let mut len = std::mem::size_of::<c_int>() as u32;
    // SAFETY: the fd is open for the life of `socket`; both calls read or write exactly one
    // c_int through pointers to locals, with its size as the length.
    unsafe {
        let int_len = std::mem::size_of::<c_int>() as u32;
        let value = (&asked as *const c_int).cast::<c_void>();
        if setsockopt(socket.as_raw_fd(), SOL_SOCKET, SO_RCVBUF, value, int_len) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let out = (&mut granted as *mut c_int).cast::<c_void>();
        if getsockopt(socket.as_raw_fd(), SOL_SOCKET, SO_RCVBUF, out, &mut len) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(usize::try_from(granted).unwrap_or(0))
}

/// Elsewhere the socket keeps the system's default.
#[cfg(not(target_os = "linux"))]
fn set_receive_buffer(_socket: &UdpSocket, _bytes: usize) -> std::io::Result<usize> {
    Err(std::io::Error::other("not supported on this platform"))
}

fn udp_loop(handler: &dyn Serve, socket: &UdpSocket) {
    let mut buf = vec![0u8; 65_536];
    loop {
        let (len, source) = match socket.recv_from(&mut buf) {
            Ok(received) => received,
            Err(err) => {
                log::warn!("SIP UDP receive: {err}");
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        if len > MAX_MESSAGE_BYTES {
            log::warn!("dropped a {len}-byte datagram from {source}");
            continue;
        }
        let peer = Peer {
            addr: source,
            transport: Transport::Udp,
        };
        if let Some(reply) = handler.message(&buf[..len], peer, clock::now()) {
            if let Err(err) = socket.send_to(&reply, source) {
                log::debug!("SIP UDP send to {source}: {err}");
            }
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn the_receive_buffer_line_says_whether_the_kernel_cut_the_request() {
        let doubled = receive_buffer_line(4_194_304, 8_388_608);
        assert!(doubled.contains("4194304 bytes, as asked"), "{doubled}");
        let capped = receive_buffer_line(4_194_304, 425_984);
        assert!(
            capped.contains("212992 bytes, less than the 4194304 asked"),
            "{capped}"
        );
        assert!(capped.contains("net.core.rmem_max"), "{capped}");
    }

    /// The kernel's answer moves with what we ask, below and above its ~200 KB default, so the
    /// option is really set (the upper bound on a box is net.core.rmem_max, hence no exact
    /// figure for large asks).
    #[test]
    fn receive_buffer_follows_what_is_asked() {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let small = set_receive_buffer(&socket, 8192).unwrap();
        assert!((8192..100_000).contains(&small), "granted {small}");
        let larger = set_receive_buffer(&socket, 150_000).unwrap();
        assert!(larger >= 150_000, "granted {larger}");
    }
}
