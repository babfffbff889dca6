// edgecomm: ported to rustls 0.23, the handshake bounded, reads and writes split (see
// VENDORED.md). The context takes a whole `rustls::ServerConfig`, so that the embedder chooses
// the crypto provider, the protocol versions and how certificates are resolved (and
// reloaded). The handshake runs on the connection's own thread, on its first read, under the
// request deadline armed at accept.
use crate::connection::Connection;
use crate::limits::{timeout_error, Deadline};
use crate::util::refined_tcp_stream::Stream as RefinedStream;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::error::Error;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use zeroize::Zeroizing;

/// The socket under TLS: every read honours the connection's deadline.
pub(crate) struct TlsSocket {
    connection: Connection,
    deadline: Arc<Deadline>,
}

impl Read for TlsSocket {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let connection = &self.connection;
        self.deadline
            .before_read(&mut |timeout| connection.set_read_timeout(timeout))?;
        self.connection.read(buf).map_err(timeout_error)
    }
}

/// The TLS state, shared by the read and the write half, with the socket it writes to.
struct Shared {
    conn: rustls::ServerConnection,
    out: Connection,
}

impl Shared {
    /// Sends every record rustls has ready.
    fn flush_tls(&mut self) -> std::io::Result<()> {
        while self.conn.wants_write() {
            self.conn.write_tls(&mut self.out)?;
        }
        Ok(())
    }
}

/// One TLS connection, read and written from two threads: the read half waits for the socket
/// without holding the TLS state, so that a response can be written while the connection's
/// thread waits for the next request (as with plain TCP, no hand-over between requests).
pub(crate) struct RustlsStream {
    shared: Arc<Mutex<Shared>>,
    /// The read half's own socket handle (a clone), read without the lock.
    socket: Arc<Mutex<TlsSocket>>,
}

impl RustlsStream {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn peer_addr(&mut self) -> std::io::Result<Option<SocketAddr>> {
        self.lock().out.peer_addr()
    }

    pub(crate) fn shutdown(&mut self, how: Shutdown) -> std::io::Result<()> {
        self.lock().out.shutdown(how)
    }

    /// The handshake, on the first read (a client speaks first, so nothing writes yet).
    fn handshake(&self, shared: &mut Shared) -> std::io::Result<()> {
        let mut socket = self.socket.lock().unwrap_or_else(|e| e.into_inner());
        while shared.conn.is_handshaking() {
            let Shared { conn, out } = &mut *shared;
            conn.complete_io(&mut Duplex {
                reader: &mut *socket,
                writer: out,
            })?;
        }
        // Until the first byte of a request, only the idle timeout holds the connection.
        socket.deadline.disarm();
        Ok(())
    }
}

/// A reader and a writer seen as one stream, for rustls's handshake.
struct Duplex<'a> {
    reader: &'a mut TlsSocket,
    writer: &'a mut Connection,
}

impl Read for Duplex<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.reader.read(buf)
    }
}

impl Write for Duplex<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writer.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.writer.flush()
    }
}

impl Clone for RustlsStream {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            socket: self.socket.clone(),
        }
    }
}

impl Read for RustlsStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut records = [0u8; 16 * 1024];
        loop {
            {
                let mut shared = self.lock();
                if shared.conn.is_handshaking() {
                    self.handshake(&mut shared)?;
                }
                match shared.conn.reader().read(buf) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
            }
            // Nothing decrypted is waiting: wait for the socket without the lock.
            let n = self
                .socket
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .read(&mut records)?;
            if n == 0 {
                return Ok(0);
            }
            let mut shared = self.lock();
            let mut fresh = &records[..n];
            while !fresh.is_empty() {
                shared.conn.read_tls(&mut fresh)?;
                if let Err(err) = shared.conn.process_new_packets() {
                    let _ = shared.flush_tls(); // the alert
                    return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, err));
                }
            }
            shared.flush_tls()?;
        }
    }
}

impl Write for RustlsStream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut shared = self.lock();
        let n = shared.conn.writer().write(buf)?;
        shared.flush_tls()?;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.lock().flush_tls()
    }
}

pub(crate) struct RustlsContext(Arc<rustls::ServerConfig>);

impl RustlsContext {
    /// edgecomm: a context over the embedder's own configuration.
    pub(crate) fn new(config: Arc<rustls::ServerConfig>) -> Self {
        Self(config)
    }

    /// Upstream's constructor, with the process's default crypto provider.
    pub(crate) fn from_pem(
        certificates: Vec<u8>,
        private_key: Zeroizing<Vec<u8>>,
    ) -> Result<Self, Box<dyn Error + Send + Sync>> {
        let certificate_chain = CertificateDer::pem_slice_iter(&certificates)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("certificate: {e}"))?;
        if certificate_chain.is_empty() {
            return Err("Couldn't extract certificate chain from config.".into());
        }
        let private_key = PrivateKeyDer::from_pem_slice(&private_key)
            .map_err(|e| format!("private key: {e}"))?;
        let tls_conf = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(certificate_chain, private_key)?;
        Ok(Self(Arc::new(tls_conf)))
    }

    /// Wraps an accepted connection; no byte is read or written here (that would hold the
    /// accept thread), the handshake happens on the connection's first read.
    pub(crate) fn accept(
        &self,
        stream: Connection,
        deadline: &Arc<Deadline>,
    ) -> Result<RustlsStream, Box<dyn Error + Send + Sync + 'static>> {
        let conn = rustls::ServerConnection::new(self.0.clone())?;
        deadline.arm();
        let socket = TlsSocket {
            connection: stream.try_clone()?,
            deadline: deadline.clone(),
        };
        Ok(RustlsStream {
            shared: Arc::new(Mutex::new(Shared { conn, out: stream })),
            socket: Arc::new(Mutex::new(socket)),
        })
    }
}

impl From<RustlsStream> for RefinedStream {
    fn from(stream: RustlsStream) -> Self {
        Self::Https(stream)
    }
}
