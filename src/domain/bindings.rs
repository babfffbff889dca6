//! Registrations as the API shows them: the live bindings of a client or of an account's
//! clients (SPEC.md §4, Bindings). The registrar writes bindings; this module only reads,
//! with the same reach rules as Clients, and hides bindings that have expired but were not
//! swept yet.

use crate::domain::clients;
use crate::error::Result;
use crate::store::records::{AccountRecord, BindingRecord, ClientRecord};
use crate::store::Store;

/// The unexpired bindings of one client, soonest to expire last.
pub fn of_client(
    store: &Store,
    caller: &AccountRecord,
    account_id: &str,
    client_id: &str,
    now: i64,
) -> Result<Vec<(ClientRecord, BindingRecord)>> {
    let client = clients::find(store, caller, account_id, client_id)?;
    Ok(live(store, &client, now)
        .into_iter()
        .map(|binding| (client.clone(), binding))
        .collect())
}

/// The unexpired bindings of every client of one account, by login.
pub fn of_account(
    store: &Store,
    caller: &AccountRecord,
    account_id: &str,
    now: i64,
) -> Result<Vec<(ClientRecord, BindingRecord)>> {
    let mut out = Vec::new();
    for client in clients::list(store, caller, account_id, None)? {
        for binding in live(store, &client, now) {
            out.push((client.clone(), binding));
        }
    }
    Ok(out)
}

fn live(store: &Store, client: &ClientRecord, now: i64) -> Vec<BindingRecord> {
    let mut bindings: Vec<BindingRecord> = store
        .bindings(&client.sid)
        .into_iter()
        .filter(|binding| binding.expires_at > now)
        .collect();
    bindings.sort_by(|a, b| {
        b.expires_at
            .cmp(&a.expires_at)
            .then_with(|| a.contact.cmp(&b.contact))
    });
    bindings
}
