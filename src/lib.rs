//! edgecomm: a Restcomm-compatible management API (Accounts, Clients) and SIP registrar for
//! on-prem PBX appliances, in one process over an embedded sled database.
//!
//! Reading order: `config` (what can be set), `app` (start-up and wiring; nothing imports it),
//! `admin` (the offline commands), `state` (what handlers reach), `http` (the only tiny_http
//! code) → `api` (routes and wire formats) → `domain` (the rules) → `store` (the only sled
//! code); `sip` is the registrar, beside `api` over the same domain and store. `error` maps
//! every failure to a status in one place; `auth` and `crypto` hold everything about
//! credentials; `clock` is the only code that reads the time. ARCHITECTURE.md has the map
//! and the invariants.

pub mod admin;
pub mod alloc;
pub mod api;
pub mod app;
pub mod auth;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod error;
pub mod first_start;
#[doc(hidden)]
pub mod fuzz;
pub mod http;
pub mod metrics;
pub mod sip;
pub mod state;
pub mod store;
pub mod sync;
#[cfg(test)]
mod testing;
pub mod tls;
