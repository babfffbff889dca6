//! TLS for the HTTPS and SIP-over-TLS listeners: which certificate, which protocol versions,
//! and when a replaced certificate is picked up. rustls (with ring) does all of TLS itself;
//! nothing here touches a socket.
//!
//! The certificate is the administrator's (`tls.cert_file`, `tls.key_file`) or, without one,
//! the box's own: a self-signed ECDSA P-256 pair made at the first start that needs it, kept in
//! `<data dir>/tls/` (key mode 0600). Either way a start with a file that cannot be read, or a
//! key that does not match its certificate, stops with one line naming the file. Both
//! listeners share one [`rustls::ServerConfig`] whose certificate resolver looks at the files
//! at most once a second during handshakes: a replaced pair serves the next connection, and a
//! broken replacement is logged once and the old pair kept.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::admin::write_private;
use crate::clock::UnixSecs;
use crate::config::TlsFiles;
use crate::crypto;
use crate::error::{Error, Result};
use crate::sync::lock;

/// The TLS side of the listeners, ready to serve.
pub struct Tls {
    /// What both listeners hand to rustls.
    pub config: Arc<rustls::ServerConfig>,
    /// The certificate's SHA-256 fingerprint, `AB:CD:…`, as browsers and phones show it.
    pub fingerprint: String,
    /// The public key's pin, `sha256//<base64>`, as `curl --pinnedpubkey` takes it.
    pub pin: String,
    /// The certificate file in use.
    pub cert_file: PathBuf,
    /// True when this start made the self-signed pair.
    pub made: bool,
}

/// Loads (or, for a box without an installed certificate, makes) the certificate and builds
/// the configuration. `names` gives a self-signed certificate's names (asked only when one is
/// made), `now` dates it.
pub fn setup(
    files: &TlsFiles,
    data_dir: &Path,
    names: impl FnOnce() -> Vec<String>,
    now: UnixSecs,
) -> Result<Tls> {
    let (cert_file, key_file, made) = match files {
        TlsFiles::Installed { cert, key } => (cert.clone(), key.clone(), false),
        TlsFiles::SelfSigned => {
            let dir = data_dir.join("tls");
            let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
            // Both or neither: a pair half-written by a crash is ours to make again.
            let made = !(cert.exists() && key.exists());
            if made {
                make_self_signed(&dir, &cert, &key, &names(), now)?;
            }
            (cert, key, made)
        }
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = load(&cert_file, &key_file, &provider)
        .map_err(|err| Error::Io(std::io::Error::other(err)))?;
    let (fingerprint, pin) = (fingerprint(&key), pin(&key));
    let resolver = Reloading {
        loaded: Mutex::new(Loaded {
            key,
            stamp: stamp(&cert_file, &key_file),
            checked: Instant::now(),
        }),
        cert_file: cert_file.clone(),
        key_file,
        provider: provider.clone(),
    };
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|err| Error::Io(std::io::Error::other(format!("TLS setup: {err}"))))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    // rustls's suites are listed strongest first: choose from them in that order, not in
    // the client's (an old client may list a weaker suite first).
    config.ignore_client_order = true;
    Ok(Tls {
        config: Arc::new(config),
        fingerprint,
        pin,
        cert_file,
        made,
    })
}

/// Reads a certificate chain and its key; the message names the file at fault.
fn load(
    cert_file: &Path,
    key_file: &Path,
    provider: &CryptoProvider,
) -> std::result::Result<Arc<CertifiedKey>, String> {
    let chain = CertificateDer::pem_file_iter(cert_file)
        .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|err| format!("TLS certificate {}: {err}", cert_file.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "TLS certificate {}: no certificate in it",
            cert_file.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|err| format!("TLS key {}: {err}", key_file.display()))?;
    CertifiedKey::from_der(chain, key, provider)
        .map(Arc::new)
        .map_err(|err| {
            format!(
                "TLS key {} does not go with certificate {}: {err}",
                key_file.display(),
                cert_file.display()
            )
        })
}

/// Makes the box's own certificate: ECDSA P-256, valid ten years from the start of this year.
fn make_self_signed(
    dir: &Path,
    cert: &Path,
    key: &Path,
    names: &[String],
    now: UnixSecs,
) -> Result<()> {
    let failed = |err: rcgen::Error| {
        Error::Io(std::io::Error::other(format!(
            "making the self-signed certificate: {err}"
        )))
    };
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(failed)?;
    let mut params = rcgen::CertificateParams::new(names.to_vec()).map_err(failed)?;
    let mut subject = rcgen::DistinguishedName::new();
    subject.push(
        rcgen::DnType::CommonName,
        format!("edgecomm {}", names.first().map_or("", String::as_str)),
    );
    params.distinguished_name = subject;
    let year = i32::try_from(1970 + now / 31_556_952).unwrap_or(2026);
    params.not_before = rcgen::date_time_ymd(year, 1, 1);
    params.not_after = rcgen::date_time_ymd(year + 10, 1, 1);
    let certificate = params.self_signed(&pair).map_err(failed)?;
    std::fs::create_dir_all(dir)?;
    write_private(key, &pair.serialize_pem())?;
    write_private(cert, &certificate.pem())?;
    Ok(())
}

/// The names of a self-signed certificate: the host name and the SIP domain, `localhost`,
/// and the box's addresses, each once.
pub fn certificate_names(
    host_name: &str,
    realm: &str,
    addresses: &[std::net::IpAddr],
) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let loopback = ["127.0.0.1".to_string(), "::1".to_string()];
    let candidates = [
        host_name.to_string(),
        realm.to_string(),
        "localhost".to_string(),
    ]
    .into_iter()
    .chain(loopback)
    .chain(addresses.iter().map(|ip| ip.to_string()));
    for name in candidates {
        let usable = !name.is_empty() && name.is_ascii() && !name.contains(['*', ' ']);
        if usable && !names.iter().any(|seen| seen.eq_ignore_ascii_case(&name)) {
            names.push(name);
        }
    }
    names
}

/// SHA-256 of the leaf certificate, `AB:CD:…`.
fn fingerprint(key: &CertifiedKey) -> String {
    let digest = key
        .cert
        .first()
        .map(|cert| crypto::sha256(cert.as_ref()))
        .unwrap_or_default();
    let hex = crypto::hex(&digest).to_ascii_uppercase();
    let pairs: Vec<&str> = (0..hex.len())
        .step_by(2)
        .map(|at| &hex[at..at + 2])
        .collect();
    pairs.join(":")
}

/// `sha256//` and the base64 SHA-256 of the public key (SubjectPublicKeyInfo).
fn pin(key: &CertifiedKey) -> String {
    use base64::Engine;
    let spki = key
        .key
        .public_key()
        .map(|spki| crypto::sha256(spki.as_ref()));
    let digest = spki.unwrap_or_default();
    format!(
        "sha256//{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// What identifies a version of the two files: a replaced file has another.
type Stamp = Option<[u64; 6]>;

fn stamp(cert: &Path, key: &Path) -> Stamp {
    let of = |path: &Path| -> Option<[u64; 3]> {
        let meta = std::fs::metadata(path).ok()?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            #[allow(clippy::cast_sign_loss)] // bits of a time stamp, compared, never computed
            let (secs, nanos) = (meta.mtime() as u64, meta.mtime_nsec() as u64);
            Some([meta.ino() ^ meta.len(), secs, nanos])
        }
        #[cfg(not(unix))]
        Some([meta.len(), 0, 0])
    };
    let (c, k) = (of(cert)?, of(key)?);
    Some([c[0], c[1], c[2], k[0], k[1], k[2]])
}

/// The certificate resolver: the pair in use, and the files it came from.
#[derive(Debug)]
struct Reloading {
    loaded: Mutex<Loaded>,
    cert_file: PathBuf,
    key_file: PathBuf,
    provider: Arc<CryptoProvider>,
}

#[derive(Debug)]
struct Loaded {
    key: Arc<CertifiedKey>,
    stamp: Stamp,
    checked: Instant,
}

/// How often a handshake looks at the files.
const RELOAD_CHECK: Duration = Duration::from_secs(1);

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

impl Reloading {
    /// The pair to serve, reloaded first when the files changed since the last look.
    fn current(&self) -> Arc<CertifiedKey> {
        let mut loaded = lock(&self.loaded);
        if loaded.checked.elapsed() >= RELOAD_CHECK {
            loaded.checked = Instant::now();
            let now = stamp(&self.cert_file, &self.key_file);
            if now != loaded.stamp {
                // Remembered even when the new files fail: one line per change, not per second.
                loaded.stamp = now;
                match load(&self.cert_file, &self.key_file, &self.provider) {
                    Ok(key) => {
                        log::info!(
                            "TLS certificate {} reloaded: SHA-256 {}",
                            self.cert_file.display(),
                            fingerprint(&key)
                        );
                        loaded.key = key;
                    }
                    Err(err) => log::warn!("{err}; still serving the previous certificate"),
                }
            }
        }
        loaded.key.clone()
    }
}

#[cfg(test)]
mod tests;
