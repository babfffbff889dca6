//! Registrations: the read side the API shows (the live bindings of a client or of an
//! account's clients, SPEC.md §4) with the same reach rules as Clients, hiding bindings that
//! have expired but were not swept yet.

use std::net::SocketAddr;

use crate::clock::UnixSecs;
use crate::domain::accounts::Caller;
use crate::domain::clients::{self, Client};
use crate::domain::{AccountRef, AccountSid, ClientSid, Transport};
use crate::error::Result;
use crate::store::Store;

/// One live binding as callers see it, with the client it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    /// The client that registered.
    pub client: ClientSid,
    /// Its account.
    pub account: AccountSid,
    /// Its login.
    pub login: String,
    /// The contact URI.
    pub contact: String,
    /// Unix seconds when the binding expires.
    pub expires_at: UnixSecs,
    /// Where the last REGISTER came from.
    pub source: SocketAddr,
    /// How it came.
    pub transport: Transport,
    /// The phone's User-Agent, if it sent one.
    pub user_agent: Option<String>,
    /// Unix seconds of the first registration of this contact.
    pub registered_at: UnixSecs,
}

/// The unexpired bindings of one client, soonest to expire last.
pub fn of_client(
    store: &Store,
    caller: &Caller,
    account_id: &AccountRef,
    client_id: &ClientSid,
    now: UnixSecs,
) -> Result<Vec<Registration>> {
    let client = clients::find(store, caller, account_id, client_id)?;
    Ok(live(store, &client, now))
}

/// The unexpired bindings of every client of one account, by login.
pub fn of_account(
    store: &Store,
    caller: &Caller,
    account_id: &AccountRef,
    now: UnixSecs,
) -> Result<Vec<Registration>> {
    let mut out = Vec::new();
    for client in clients::list(store, caller, account_id, None)? {
        out.extend(live(store, &client, now));
    }
    Ok(out)
}

/// How many unexpired bindings a client has.
pub fn count(store: &Store, client: &ClientSid, now: UnixSecs) -> usize {
    store.binding_count(client, now)
}

fn live(store: &Store, client: &Client, now: UnixSecs) -> Vec<Registration> {
    let mut bindings: Vec<Registration> = store
        .bindings(&client.sid)
        .into_iter()
        .filter(|binding| binding.expires_at > now)
        .map(|binding| Registration {
            client: client.sid,
            account: client.account,
            login: client.login.clone(),
            contact: binding.contact.into(),
            expires_at: binding.expires_at,
            source: binding.source,
            transport: binding.transport,
            user_agent: binding.user_agent.map(String::from),
            registered_at: binding.registered_at,
        })
        .collect();
    bindings.sort_by(|a, b| {
        b.expires_at
            .cmp(&a.expires_at)
            .then_with(|| a.contact.cmp(&b.contact))
    });
    bindings
}
