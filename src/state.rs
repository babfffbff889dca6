//! What a request handler can reach: the store, the configuration, the API's failure limiter,
//! the console's sessions, the SIP service, and what the box says about itself. Built by the wiring (`app`) and handed down; it spawns nothing and
//! binds nothing.

use std::fs;
use std::net::{IpAddr, SocketAddr};

use crate::auth::session::Sessions;
use crate::auth::Limiter;
use crate::clock::{self, UnixSecs};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::metrics::Probe;
use crate::sip::registrar::Registrar;
use crate::sip::SipService;
use crate::store::Store;

/// Everything a request handler can reach.
pub struct AppState {
    /// The database.
    pub store: Store,
    /// The validated configuration.
    pub config: Config,
    /// Failed-login limiter for the API.
    pub limiter: Limiter,
    /// Open console sessions.
    pub sessions: Sessions,
    /// The SIP registrar and its per-boot state.
    pub sip: SipService,
    /// The box's own facts, for `GET /Box`; the wiring fills them in once it has bound.
    pub about: About,
    /// Each connection listener's count of open connections, by metrics label (the wiring
    /// fills them in once it has bound).
    pub connections: Vec<(&'static str, Probe)>,
}

/// What the box says about itself: when it started, where it listens, its certificate.
#[derive(Clone, Debug, Default)]
pub struct About {
    /// Unix seconds of the start.
    pub started: UnixSecs,
    /// Every listener by its READY name (`http`, `sip`, `https`, `sip_tls`); `None` when off.
    pub listeners: Vec<(&'static str, Option<SocketAddr>)>,
    /// The TLS certificate's SHA-256 fingerprint and public-key pin.
    pub certificate: Option<(String, String)>,
}

impl AppState {
    /// Opens the store of `config` (creating its data directory) and builds the state around
    /// it. `is_local` tells whether an address is one of this machine's (see `Registrar::new`).
    pub fn open(config: Config, is_local: fn(IpAddr) -> bool) -> Result<AppState> {
        fs::create_dir_all(&config.data_dir).map_err(|err| {
            Error::Io(std::io::Error::other(format!(
                "cannot create data directory {}: {err}",
                config.data_dir.display()
            )))
        })?;
        let store = Store::open(
            &config.data_dir.join("db"),
            config.cache_bytes,
            &config.realm,
            clock::now(),
        )?;
        AppState::new(store, config, is_local, clock::now())
    }

    /// Builds the state around an already open store (tests use a temporary one).
    pub fn new(
        store: Store,
        config: Config,
        is_local: fn(IpAddr) -> bool,
        now: UnixSecs,
    ) -> Result<AppState> {
        // The API and SIP count failures separately: a phone's bad password must not lock
        // the administrator's browser out, nor the reverse.
        let limiter = || {
            Limiter::new(
                config.auth_max_failures,
                config.auth_window_secs,
                config.auth_backoff_secs,
            )
        };
        let registrar = Registrar::new(config.sip, limiter(), is_local)?;
        Ok(AppState {
            limiter: limiter(),
            sessions: Sessions::new(config.console_idle_secs),
            about: About {
                started: now,
                ..About::default()
            },
            sip: SipService::new(registrar, now),
            connections: Vec::new(),
            store,
            config,
        })
    }
}
