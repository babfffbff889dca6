// edgecomm: ported to rustls 0.23, and the handshake bounded (see VENDORED.md). The context
// takes a whole `rustls::ServerConfig`, so that the embedder chooses the crypto provider, the
// protocol versions and how certificates are resolved (and reloaded). The handshake runs on
// the connection's own thread, on its first read, under the request deadline armed at accept.
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

impl Write for TlsSocket {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.connection.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.connection.flush()
    }
}

type Tls = rustls::StreamOwned<rustls::ServerConnection, TlsSocket>;

/// A wrapper around an owned Rustls connection and corresponding stream.
///
/// Uses an internal Mutex to permit disparate reader & writer threads to access the stream independently.
pub(crate) struct RustlsStream(Arc<Mutex<Tls>>);

impl RustlsStream {
    fn lock(&self) -> MutexGuard<'_, Tls> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn peer_addr(&mut self) -> std::io::Result<Option<SocketAddr>> {
        self.lock().sock.connection.peer_addr()
    }

    pub(crate) fn shutdown(&mut self, how: Shutdown) -> std::io::Result<()> {
        self.lock().sock.connection.shutdown(how)
    }
}

impl Clone for RustlsStream {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl Read for RustlsStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut tls = self.lock();
        if tls.conn.is_handshaking() {
            let Tls { conn, sock, .. } = &mut *tls;
            while conn.is_handshaking() {
                conn.complete_io(sock)?;
            }
            // The handshake is done: until the first byte of a request, only the idle
            // timeout holds the connection.
            sock.deadline.disarm();
        }
        tls.read(buf)
    }
}

impl Write for RustlsStream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.lock().write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.lock().flush()
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
        let connection = rustls::ServerConnection::new(self.0.clone())?;
        deadline.arm();
        let sock = TlsSocket {
            connection: stream,
            deadline: deadline.clone(),
        };
        Ok(RustlsStream(Arc::new(Mutex::new(rustls::StreamOwned::new(
            connection, sock,
        )))))
    }
}

impl From<RustlsStream> for RefinedStream {
    fn from(stream: RustlsStream) -> Self {
        Self::Https(stream)
    }
}
