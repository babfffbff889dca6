//! `GET /metrics`: the Prometheus scrape (`crate::metrics` writes it). Open to a peer on this
//! machine over the plain HTTP listener, where a Prometheus agent on the box or an SSH tunnel
//! scrapes it; anywhere else (HTTPS on the LAN, or plain HTTP bound to a LAN address) only
//! with an Administrator's credentials, since the counts cover every tenant.

use crate::api::{ApiResponse, Ctx};
use crate::domain::{accounts, bindings, clients, Role};
use crate::error::{Error, Result};
use crate::metrics::{self, Gauges};
use crate::state::AppState;

/// The exposition format's media type (text format 0.0.4).
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET /metrics`.
pub fn get(state: &AppState, ctx: &Ctx<'_>) -> Result<ApiResponse> {
    let local = ctx.req.remote.is_some_and(|addr| addr.ip().is_loopback());
    if ctx.req.secure || !local {
        let caller = super::authenticate(state, ctx)?;
        if caller.role != Role::Administrator {
            return Err(Error::Forbidden(
                "the metrics are for an Administrator".to_string(),
            ));
        }
    }
    ctx.query()?.finish();
    Ok(ApiResponse {
        status: 200,
        content_type: CONTENT_TYPE,
        headers: Vec::new(),
        body: metrics::render(&gauges(state, ctx.now)?).into_bytes(),
    })
}

/// What the scrape reads where it lives: the store, the limiters and the listeners.
fn gauges(state: &AppState, now: i64) -> Result<Gauges> {
    let (sip_addresses, sip_logins) = state.sip.registrar.limited(now);
    Ok(Gauges {
        version: env!("CARGO_PKG_VERSION"),
        started: state.about.started,
        registrations: bindings::count_by_transport(&state.store, now),
        accounts: accounts::count_by_status(&state.store)?,
        clients: clients::count_by_status(&state.store)?,
        limited_addresses: vec![("api", state.limiter.blocked(now)), ("sip", sip_addresses)],
        limited_logins: sip_logins,
        store_bytes: accounts::store_bytes(&state.store)?,
        connections: state
            .connections
            .iter()
            .map(|(name, probe)| (*name, probe()))
            .collect(),
    })
}
