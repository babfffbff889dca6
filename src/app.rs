//! Start-up and wiring: opens the store, creates the first Administrator on an empty store,
//! binds every listener, then serves and reports readiness.
//!
//! `App::build` does everything that can fail (so a bad port or a locked data directory stops
//! the start with one line) and `App::run` only spawns threads. Readiness is one line on
//! stdout, `READY http=<addr> sip=<addr|off>`, which tests and scripts wait for, plus
//! `READY=1` to systemd when `NOTIFY_SOCKET` is set.
//!
//! This is the top of the house: it hands each listener the handler it serves (`api::handle`
//! for HTTP, `SipService::handle_message` for SIP) and nothing imports it but `main.rs`.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::admin::write_private;
use crate::api::{self, ApiRequest};
use crate::clock::{self, UnixSecs};
use crate::config::Config;
use crate::crypto;
use crate::domain::{accounts, bindings, Password};
use crate::error::Result;
use crate::http::{self, HttpServer};
use crate::sip::message::Peer;
use crate::sip::transport::{self, SipListeners};
use crate::state::AppState;

/// A server whose sockets are bound but which does not serve yet.
pub struct App {
    state: Arc<AppState>,
    http: HttpServer,
    sip: Option<SipListeners>,
}

impl App {
    /// Opens the store, creates the first Administrator if needed, binds the listeners.
    pub fn build(config: Config) -> Result<App> {
        let state = AppState::open(config, transport::is_local_ip)?;
        ensure_admin(&state)?;
        let kept = bindings::restore(&state.store, clock::now())?;
        log::info!("{kept} registrations restored");
        let http = http::bind(state.config.http_listen, &state.config.http)?;
        let sip = state.config.sip_listen.map(transport::bind).transpose()?;
        Ok(App {
            state: Arc::new(state),
            http,
            sip,
        })
    }

    /// The SIP address actually bound (UDP and TCP), if SIP is on.
    pub fn sip_addr(&self) -> Option<SocketAddr> {
        self.sip.as_ref().and_then(|sip| sip.local_addr().ok())
    }

    /// The HTTP address actually bound.
    pub fn http_addr(&self) -> SocketAddr {
        self.http.local_addr()
    }

    /// Serves until the process is stopped. Crash-only: there is no shutdown path, because
    /// every acknowledged write is already flushed.
    pub fn run(self) -> Result<()> {
        let state = self.state.clone();
        let serve_api = move |req: &ApiRequest, now: UnixSecs| api::handle(&state, req, now);
        let mut workers = self
            .http
            .spawn_workers(Arc::new(serve_api), self.state.config.http_workers);
        let (http_addr, sip_addr) = (self.http_addr(), self.sip_addr());
        if let Some(sip) = self.sip {
            let serve_sip = Arc::new(SipServer(self.state.clone()));
            workers.extend(sip.spawn(serve_sip, &self.state.config.sip)?);
        }
        workers.push(spawn_sweeper(self.state.clone())?);
        let sip_text = sip_addr.map_or_else(|| "off".to_string(), |addr| addr.to_string());
        match sip_addr {
            Some(addr) => log::info!(
                "serving HTTP on {http_addr}, SIP on {addr} (UDP and TCP, realm {})",
                self.state.config.realm
            ),
            None => log::info!("serving HTTP on {http_addr}; SIP is off (sip.listen)"),
        }
        println!("READY http={http_addr} sip={sip_text}");
        let _ = std::io::stdout().flush();
        notify_systemd("READY=1");
        if let Some(watchdog) = spawn_watchdog(self.state.clone())? {
            workers.push(watchdog);
        }
        for worker in workers {
            let _ = worker.join();
        }
        Ok(())
    }
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

/// On an empty store, creates the root Administrator with a random password, prints its
/// credentials once and writes them to `<data dir>/initial-credentials` (mode 0600).
fn ensure_admin(state: &AppState) -> Result<()> {
    if !state.store.is_empty()? {
        return Ok(());
    }
    let password = loop {
        // 18 random bytes in base64url: 24 characters, 144 bits; retried until the password
        // policy (letters and digits) holds, which almost always is at once.
        let bytes = crypto::random_bytes::<18>()?;
        let text = base64_url(&bytes);
        if let Ok(password) = Password::parse(&text) {
            break password;
        }
    };
    let email = &state.config.admin_email;
    let file = state.config.data_dir.join("initial-credentials");
    // Written before the account exists: a crash in between leaves a file whose email and
    // password still work once the next start creates the account... with a new password, so
    // the next start rewrites it. Never the other way round (an account nobody can log into).
    write_private(
        &file,
        &format!("email={}\npassword={}\n", email.as_str(), password.expose()),
    )?;
    let issued = accounts::create_root(&state.store, email, &password, clock::now())?;
    let token = issued.auth_token.unwrap_or_default();
    let text = format!(
        "# edgecomm initial Administrator. Change the password, then delete this file.\n\
         email={}\nsid={}\npassword={}\nauth_token={token}\n",
        email.as_str(),
        issued.account.sid,
        password.expose()
    );
    write_private(&file, &text)?;
    log::warn!(
        "created the root Administrator: email={} sid={} password={} auth_token={token} \
         (also in {}; shown once)",
        email.as_str(),
        issued.account.sid,
        password.expose(),
        file.display()
    );
    Ok(())
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
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
