//! Start-up and wiring: opens the store, makes or loads the TLS certificate, creates the first
//! Administrator on an empty store, binds every listener, then serves and reports readiness.
//!
//! `App::build` does everything that can fail (so a bad port, a locked data directory or an
//! unreadable certificate stops the start with one line) and `App::run` only spawns threads.
//! Readiness is one line on stdout, `READY http=<addr> sip=<addr|off> https=<addr|off>
//! sip_tls=<addr|off>`, which tests and scripts wait for, plus `READY=1` to systemd when
//! `NOTIFY_SOCKET` is set.
//!
//! This is the top of the house: it hands each listener the handler it serves (`api::handle`
//! for HTTP and HTTPS, `SipService::handle_message` for SIP) and nothing imports it but
//! `main.rs`.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::api::{self, ApiRequest};
use crate::clock::{self, UnixSecs};
use crate::domain::bindings;
use crate::error::Result;
use crate::first_start;
use crate::http::{self, HttpServer};
use crate::metrics::Probe;
use crate::sip::message::Peer;
use crate::sip::transport::{self, SipListeners, SipTlsListener};
use crate::state::AppState;
use crate::tls::{self, Tls};

/// A server whose sockets are bound but which does not serve yet.
pub struct App {
    state: AppState,
    http: HttpServer,
    https: Option<HttpServer>,
    sip: Option<SipListeners>,
    sip_tls: Option<(SipTlsListener, Arc<rustls::ServerConfig>)>,
}

impl App {
    /// Opens the store, loads (or makes) the certificate, creates the first Administrator if
    /// needed, binds the listeners.
    pub fn build(config: crate::config::Config) -> Result<App> {
        let state = AppState::open(config, transport::is_local_ip)?;
        let config = &state.config;
        let tls = match config.https_listen.is_some() || config.sip_tls_listen.is_some() {
            true => Some(certificate(config)?),
            false => None,
        };
        first_start::ensure_admin(&state, tls.as_ref())?;
        let kept = bindings::restore(&state.store, clock::now())?;
        log::info!("{kept} registrations restored");
        let tls_config = tls.as_ref().map(|tls| tls.config.clone());
        let http = http::bind(config.http_listen, &config.http, None)?;
        if !config.http_listen.ip().is_loopback() {
            log::warn!(
                "plain HTTP listens on {}, beyond this machine: credentials cross the network \
                 in clear text; give the LAN https.listen and keep http.listen on 127.0.0.1",
                config.http_listen
            );
        }
        let https = match (config.https_listen, &tls_config) {
            (Some(addr), Some(tls)) => Some(http::bind(addr, &config.http, Some(tls.clone()))?),
            _ => None,
        };
        let sip = config.sip_listen.map(transport::bind).transpose()?;
        let sip_tls = match (config.sip_tls_listen, tls_config) {
            (Some(addr), Some(tls)) => Some((transport::bind_tls(addr)?, tls)),
            _ => None,
        };
        let certificate = tls.map(|tls| (tls.fingerprint, tls.pin));
        let mut app = App {
            state,
            http,
            https,
            sip,
            sip_tls,
        };
        app.state.about.listeners = app.listener_addrs().to_vec();
        app.state.about.certificate = certificate;
        app.state.connections = app.connection_probes();
        Ok(app)
    }

    /// What the metrics read of each connection listener that is on.
    fn connection_probes(&self) -> Vec<(&'static str, Probe)> {
        let mut probes = vec![("http", self.http.open_connections())];
        probes.extend(
            self.https
                .as_ref()
                .map(|https| ("https", https.open_connections())),
        );
        probes.extend(
            self.sip
                .as_ref()
                .map(|sip| ("sip_tcp", sip.open_connections())),
        );
        let tls = self.sip_tls.as_ref();
        probes.extend(tls.map(|(sip, _)| ("sip_tls", sip.open_connections())));
        probes
    }

    /// Every listener's bound address, `None` when off.
    fn listener_addrs(&self) -> [(&'static str, Option<SocketAddr>); 4] {
        [
            ("http", Some(self.http.local_addr())),
            (
                "sip",
                self.sip.as_ref().and_then(|sip| sip.local_addr().ok()),
            ),
            ("https", self.https.as_ref().map(HttpServer::local_addr)),
            (
                "sip_tls",
                self.sip_tls
                    .as_ref()
                    .and_then(|(sip, _)| sip.local_addr().ok()),
            ),
        ]
    }

    /// What READY and the start log say: every listener's bound address, or `off`.
    fn listeners(&self) -> Vec<(&'static str, String)> {
        self.listener_addrs()
            .into_iter()
            .map(|(name, addr)| {
                (
                    name,
                    addr.map_or_else(|| "off".to_string(), |a| a.to_string()),
                )
            })
            .collect()
    }

    /// Serves until the process is stopped. Crash-only: there is no shutdown path, because
    /// every acknowledged write is already flushed.
    pub fn run(self) -> Result<()> {
        let listeners = self.listeners();
        let shared = Arc::new(self.state);
        let state = shared.clone();
        let serve_api =
            Arc::new(move |req: &ApiRequest, now: UnixSecs| api::handle(&state, req, now));
        let workers_each = shared.config.http_workers;
        let mut workers = self.http.spawn_workers(serve_api.clone(), workers_each);
        if let Some(https) = &self.https {
            workers.extend(https.spawn_workers(serve_api, workers_each));
        }
        let serve_sip = Arc::new(SipServer(shared.clone()));
        if let Some(sip) = self.sip {
            workers.extend(sip.spawn(serve_sip.clone(), &shared.config.sip)?);
        }
        if let Some((sip_tls, tls)) = self.sip_tls {
            workers.push(sip_tls.spawn(serve_sip, &shared.config.sip, tls)?);
        }
        workers.push(spawn_sweeper(shared.clone())?);
        workers.push(spawn_soft_flusher(shared.clone())?);
        let shown: Vec<String> = listeners
            .iter()
            .map(|(name, addr)| format!("{name}={addr}"))
            .collect();
        log::info!(
            "serving {} (SIP realm {})",
            shown.join(" "),
            shared.config.realm
        );
        println!("READY {}", shown.join(" "));
        let _ = std::io::stdout().flush();
        notify_systemd("READY=1");
        if let Some(watchdog) = spawn_watchdog(shared.clone())? {
            workers.push(watchdog);
        }
        for worker in workers {
            let _ = worker.join();
        }
        Ok(())
    }
}

/// The TLS listeners' certificate. The names of a self-signed one (which take a look at the
/// box's addresses) are worked out only when one is made.
fn certificate(config: &crate::config::Config) -> Result<Tls> {
    let names = || {
        let mut addresses = transport::primary_addresses();
        let listeners = [
            config.https_listen,
            config.sip_tls_listen,
            config.sip_listen,
        ];
        for listen in listeners.into_iter().flatten() {
            if !listen.ip().is_unspecified() {
                addresses.push(listen.ip());
            }
        }
        tls::certificate_names(&config.host_name, &config.realm, &addresses)
    };
    let tls = tls::setup(&config.tls, &config.data_dir, names, clock::now())?;
    log::info!(
        "TLS certificate {}: SHA-256 fingerprint {}, public key pin {}",
        tls.cert_file.display(),
        tls.fingerprint,
        tls.pin
    );
    Ok(tls)
}

/// The SIP listeners' handler: the SIP service over the store.
struct SipServer(Arc<AppState>);

impl transport::Serve for SipServer {
    fn message(&self, bytes: &[u8], peer: Peer, now: UnixSecs) -> Option<Vec<u8>> {
        self.0.sip.handle_message(&self.0.store, bytes, peer, now)
    }

    fn holds_registration(&self, peer: Peer, now: UnixSecs) -> bool {
        bindings::registered_over(&self.0.store, peer.addr, peer.transport, now)
    }
}

/// When systemd asks for a watchdog (`WATCHDOG_USEC`, for this process), pings it at half the
/// interval, but only while the store answers a read: a wedged store stops the pings, and
/// systemd restarts the service (crash-only, so that loses nothing acknowledged).
fn spawn_watchdog(state: Arc<AppState>) -> Result<Option<std::thread::JoinHandle<()>>> {
    let Some(usec) = std::env::var("WATCHDOG_USEC")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    else {
        return Ok(None);
    };
    let for_us = std::env::var("WATCHDOG_PID")
        .ok()
        .and_then(|pid| pid.parse::<u32>().ok())
        .is_none_or(|pid| pid == std::process::id());
    if !for_us || usec == 0 {
        return Ok(None);
    }
    let period = std::time::Duration::from_micros(usec / 2);
    let thread = std::thread::Builder::new()
        .name("watchdog".to_string())
        .spawn(move || loop {
            if state.store.is_empty().is_ok() {
                notify_systemd("WATCHDOG=1");
            }
            std::thread::sleep(period);
        })?;
    Ok(Some(thread))
}

/// Removes expired bindings every 30 seconds (they are hidden from answers as soon as they
/// expire; this frees their memory and their records), lets the SIP soft state age out, then
/// hands freed heap pages back.
/// Flushes changed bindings twice a second. sled's own flusher is off (see `Store::open`):
/// this one writes only when something changed, so an idle box writes nothing.
fn spawn_soft_flusher(state: Arc<AppState>) -> Result<std::thread::JoinHandle<()>> {
    Ok(std::thread::Builder::new()
        .name("soft-flush".to_string())
        .spawn(move || loop {
            std::thread::sleep(std::time::Duration::from_millis(500));
            if let Err(err) = bindings::make_durable(&state.store) {
                log::error!("flushing registrations: {err}");
            }
        })?)
}

fn spawn_sweeper(state: Arc<AppState>) -> Result<std::thread::JoinHandle<()>> {
    Ok(std::thread::Builder::new()
        .name("sweeper".to_string())
        .spawn(move || loop {
            std::thread::sleep(std::time::Duration::from_secs(30));
            let now = clock::now();
            match bindings::sweep(&state.store, now) {
                Ok(0) => {}
                Ok(purged) => log::debug!("{purged} expired registrations removed"),
                Err(err) => log::error!("sweeping registrations: {err}"),
            }
            state.sip.sweep(now);
            crate::alloc::trim();
        })?)
}

/// Sends a state line to systemd's notification socket, if there is one (sd_notify(3)).
fn notify_systemd(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let result = (|| -> std::io::Result<()> {
        let socket = std::os::unix::net::UnixDatagram::unbound()?;
        let bytes = path.as_encoded_bytes();
        if let Some(name) = bytes.strip_prefix(b"@") {
            #[cfg(target_os = "linux")]
            {
                use std::os::linux::net::SocketAddrExt;
                let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
                socket.send_to_addr(state.as_bytes(), &addr)?;
            }
        } else {
            socket.send_to(state.as_bytes(), &path)?;
        }
        Ok(())
    })();
    if let Err(err) = result {
        log::warn!("cannot notify systemd: {err}");
    }
}
