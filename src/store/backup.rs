//! Export and import of the whole store as one versioned JSON document (SPEC.md §5, Backup):
//! for backups, and for upgrades across sled's on-disk format.
//!
//! The document holds the records exactly as stored: token and password hashes, HA1 values,
//! never a plaintext secret. It is deterministic (records in key order, no timestamp), so an
//! export, imported into an empty directory and exported again, gives the same bytes. Import
//! validates the whole document first (version, references, uniqueness), then writes every
//! record and index in one transaction, so a failed import leaves the store empty.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use sled::transaction::abort;
use sled::Transactional;

use crate::error::{Error, Result};
use crate::store::indexes::{self, AccountRows, AccountTrees, ClientRows, ClientTrees};
use crate::store::records::{self, AccountRecord, BindingRecord, ClientRecord};
use crate::store::{check, Store};

/// The `format` field of an export.
const FORMAT: &str = "edgecomm-export";

/// The export format version this binary writes and reads.
pub const VERSION: u32 = 1;

/// An export document.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    format: String,
    version: u32,
    accounts: Vec<AccountRecord>,
    clients: Vec<ClientRecord>,
    #[serde(default)]
    bindings: Vec<BindingRecord>,
}

/// What an import wrote.
#[derive(Debug, PartialEq, Eq)]
pub struct Imported {
    /// Accounts written.
    pub accounts: usize,
    /// Clients written.
    pub clients: usize,
    /// Bindings written.
    pub bindings: usize,
}

/// Exports every account and client, and the bindings when asked, as pretty JSON.
pub fn export(store: &Store, with_bindings: bool) -> Result<Vec<u8>> {
    let accounts: Vec<AccountRecord> = store.all_accounts()?;
    let mut clients = Vec::new();
    for entry in store.clients.iter() {
        clients.push(records::decode::<ClientRecord>(&entry?.1)?);
    }
    let mut bindings = Vec::new();
    if with_bindings {
        for entry in store.live.tree().iter() {
            bindings.push(records::decode::<BindingRecord>(&entry?.1)?);
        }
    }
    let document = Document {
        format: FORMAT.to_string(),
        version: VERSION,
        accounts,
        clients,
        bindings,
    };
    let mut out = serde_json::to_vec_pretty(&document)
        .map_err(|err| Error::Corrupt(format!("export: {err}")))?;
    out.push(b'\n');
    Ok(out)
}

/// Parses and validates a document without touching a store: what [`import`] checks before
/// it writes anything (and the entry point of the `import` fuzz target).
pub fn verify(bytes: &[u8]) -> Result<()> {
    validate(&parse(bytes)?)
}

/// Imports a document into an empty store.
pub fn import(store: &Store, bytes: &[u8]) -> Result<Imported> {
    let document = parse(bytes)?;
    validate(&document)?;
    let guard = store.write_lock();
    if !store.is_empty()? || !store.clients.is_empty() {
        return Err(Error::Conflict(
            "the data directory already holds data; import only into an empty one".to_string(),
        ));
    }
    let account_rows = document
        .accounts
        .iter()
        .map(AccountRows::of)
        .collect::<Result<Vec<_>>>()?;
    let client_rows = document
        .clients
        .iter()
        .map(|client| Ok((ClientRows::of(client), records::encode(client)?)))
        .collect::<Result<Vec<_>>>()?;
    let binding_rows = document
        .bindings
        .iter()
        .map(|binding| Ok((indexes::binding_key(binding), records::encode(binding)?)))
        .collect::<Result<Vec<_>>>()?;
    let trees = (
        &store.accounts,
        &store.account_emails,
        &store.account_children,
        &store.clients,
        &store.account_clients,
        &store.client_logins,
        store.live.tree(),
    );
    trees
        .transaction(
            |(accounts, emails, children, clients, account_clients, logins, bindings)| {
                let account_trees = AccountTrees {
                    accounts,
                    emails,
                    children,
                };
                for rows in &account_rows {
                    if accounts.get(rows.id)?.is_some() {
                        return abort(Error::Conflict(
                            "the data directory is not empty".to_string(),
                        ));
                    }
                    rows.insert(&account_trees)?;
                }
                let client_trees = ClientTrees {
                    clients,
                    account_clients,
                    logins,
                };
                for (rows, value) in &client_rows {
                    rows.insert(&client_trees, value)?;
                }
                for (key, value) in &binding_rows {
                    bindings.insert(key, value.as_slice())?;
                }
                Ok(())
            },
        )
        .map_err(Error::from)?;
    // New accounts must number after the imported ones, so lists stay oldest first.
    let next = document
        .accounts
        .iter()
        .map(|account| account.seq + 1)
        .max()
        .unwrap_or(0);
    store.set_seq_floor(&guard, next)?;
    store.written()?;
    Ok(Imported {
        accounts: document.accounts.len(),
        clients: document.clients.len(),
        bindings: document.bindings.len(),
    })
}

fn parse(bytes: &[u8]) -> Result<Document> {
    // Read the header first, so that a future version gets a clear error rather than a
    // complaint about a field this binary does not know.
    #[derive(Deserialize)]
    struct Header {
        format: Option<String>,
        version: Option<u32>,
    }
    let header: Header = serde_json::from_slice(bytes)
        .map_err(|err| Error::Invalid(format!("not an edgecomm export (invalid JSON: {err})")))?;
    if header.format.as_deref() != Some(FORMAT) {
        return Err(Error::Invalid(format!(
            "not an edgecomm export (format must be {FORMAT:?})"
        )));
    }
    match header.version {
        Some(VERSION) => {}
        Some(other) => {
            return Err(Error::Invalid(format!(
                "export format version {other} is not supported by this binary (it reads version {VERSION})"
            )))
        }
        None => return Err(Error::Invalid("export has no version".to_string())),
    }
    serde_json::from_slice(bytes).map_err(|err| Error::Invalid(format!("malformed export: {err}")))
}

/// Checks references and uniqueness before anything is written.
fn validate(document: &Document) -> Result<()> {
    let bad = |message: String| Err(Error::Invalid(message));
    let mut sids = HashSet::new();
    let mut emails = HashSet::new();
    for account in &document.accounts {
        if !sids.insert(account.sid) {
            return bad(format!("account {} appears twice", account.sid));
        }
        if !emails.insert(account.email.to_ascii_lowercase()) {
            return bad(format!("email {} appears twice", account.email));
        }
    }
    // The same tree rules as `edgecomm check`: an import never writes what check would flag.
    let accounts: HashMap<_, _> = document
        .accounts
        .iter()
        .map(|account| (account.sid, account.clone()))
        .collect();
    if let Some(problem) = check::tree_problems(&accounts).into_iter().min() {
        return bad(problem);
    }
    let mut client_sids = HashSet::new();
    let mut logins = HashSet::new();
    for client in &document.clients {
        if let Some(problem) = check::client_account_problem(client, &accounts) {
            return bad(problem);
        }
        if !client_sids.insert(client.sid) || !logins.insert(client.login.clone()) {
            return bad(format!(
                "client {} ({}) appears twice",
                client.sid, client.login
            ));
        }
    }
    for binding in &document.bindings {
        if !client_sids.contains(&binding.client) {
            return bad(format!(
                "a binding belongs to client {} not in the export",
                binding.client
            ));
        }
    }
    Ok(())
}
