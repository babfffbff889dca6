//! Export and import of the whole store as one versioned JSON document (SPEC.md §5, Backup):
//! for backups, and for upgrades across sled's on-disk format.
//!
//! The document holds the records exactly as stored: token and password hashes, HA1 values,
//! never a plaintext secret. Version 2 adds the organizations; a version 1 document (made
//! before them) still imports, everything in it placed in the store's default organization. It is deterministic (records in key order, no timestamp), so an
//! export, imported into an empty directory and exported again, gives the same bytes. Import
//! validates the whole document first (version, references, uniqueness), then writes every
//! record and index in one transaction, so a failed import leaves the store empty.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use sled::transaction::{abort, ConflictableTransactionResult, TransactionalTree};
use sled::Transactional;

use crate::domain::{OrganizationSid, Status};
use crate::error::{Error, Result};
use crate::store::indexes::{
    self, AccountRows, AccountTrees, ClientRows, ClientTrees, OrganizationRows,
};
use crate::store::organizations::DEFAULT_ORGANIZATION;
use crate::store::records::{self, AccountRecord, BindingRecord, ClientRecord, OrganizationRecord};
use crate::store::{check, Store};

/// The `format` field of an export.
const FORMAT: &str = "edgecomm-export";

/// The export format version this binary writes; it reads this one and version 1.
pub const VERSION: u32 = 2;

/// An export document.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    format: String,
    version: u32,
    default_organization: OrganizationSid,
    organizations: Vec<OrganizationRecord>,
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
        default_organization: store.default_organization()?,
        organizations: store.all_organizations()?,
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
    let placeholder = OrganizationRecord {
        sid: OrganizationSid::from_bytes([0; 16]),
        domain: "default.invalid".to_string(),
        status: Status::Active,
        created: 0,
        updated: 0,
    };
    validate(&parse(bytes, &placeholder)?)
}

/// Imports a document into an empty store. Its organizations replace the store's (an empty
/// store has only its default one, with no account in it).
pub fn import(store: &Store, bytes: &[u8]) -> Result<Imported> {
    let default = store
        .organization(&store.default_organization()?)?
        .ok_or_else(|| Error::Corrupt("default organization missing".to_string()))?;
    let document = parse(bytes, &default)?;
    validate(&document)?;
    let guard = store.write_lock();
    if !store.is_empty()? || !store.clients.is_empty() {
        return Err(Error::Conflict(
            "the data directory already holds data; import only into an empty one".to_string(),
        ));
    }
    write_all(store, &document)?;
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

/// Writes every record and index of a validated document in one transaction, replacing the
/// empty store's own organizations.
fn write_all(store: &Store, document: &Document) -> Result<()> {
    let organizations = NewOrganizations::of(store, document)?;
    let account_rows = document
        .accounts
        .iter()
        .map(AccountRows::of)
        .collect::<Result<Vec<_>>>()?;
    let client_rows = document
        .clients
        .iter()
        .map(|client| {
            let rows = ClientRows::of(client);
            Ok((rows, records::encode(client)?, client.login.as_str()))
        })
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
        &store.organizations,
        &store.organization_domains,
        &store.meta,
    );
    trees
        .transaction(
            |(
                accounts,
                emails,
                children,
                clients,
                account_clients,
                logins,
                bindings,
                org_tree,
                domains,
                meta,
            )| {
                organizations.replace(org_tree, domains, meta)?;
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
                for (rows, value, login) in &client_rows {
                    rows.insert(&client_trees, value, login)?;
                }
                for (key, value) in &binding_rows {
                    bindings.insert(key, value.as_slice())?;
                }
                Ok(())
            },
        )
        .map_err(Error::from)?;
    Ok(())
}

/// A document's organizations, to replace those of the empty store it is imported into.
struct NewOrganizations {
    old_keys: Vec<sled::IVec>,
    old_domains: Vec<sled::IVec>,
    rows: Vec<OrganizationRows>,
    default: [u8; 16],
}

impl NewOrganizations {
    fn of(store: &Store, document: &Document) -> Result<NewOrganizations> {
        Ok(NewOrganizations {
            old_keys: keys_of(&store.organizations)?,
            old_domains: keys_of(&store.organization_domains)?,
            rows: document
                .organizations
                .iter()
                .map(OrganizationRows::of)
                .collect::<Result<Vec<_>>>()?,
            default: indexes::organization_key(&document.default_organization),
        })
    }

    fn replace(
        &self,
        organizations: &TransactionalTree,
        domains: &TransactionalTree,
        meta: &TransactionalTree,
    ) -> ConflictableTransactionResult<(), Error> {
        for key in &self.old_keys {
            organizations.remove(key)?;
        }
        for key in &self.old_domains {
            domains.remove(key)?;
        }
        for rows in &self.rows {
            rows.insert(organizations, domains)?;
        }
        meta.insert(DEFAULT_ORGANIZATION, &self.default)?;
        Ok(())
    }
}

fn keys_of(tree: &sled::Tree) -> Result<Vec<sled::IVec>> {
    Ok(tree.iter().keys().collect::<std::result::Result<_, _>>()?)
}

/// Parses a document of either version; a version 1 one is read as version 2 with every
/// account and client in `default`.
fn parse(bytes: &[u8], default: &OrganizationRecord) -> Result<Document> {
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
    let malformed = |err: serde_json::Error| Error::Invalid(format!("malformed export: {err}"));
    match header.version {
        Some(VERSION) => serde_json::from_slice(bytes).map_err(malformed),
        Some(1) => {
            let mut value: serde_json::Value = serde_json::from_slice(bytes).map_err(malformed)?;
            place_v1(&mut value, default)?;
            serde_json::from_value(value).map_err(malformed)
        }
        Some(other) => Err(Error::Invalid(format!(
            "export format version {other} is not supported by this binary (it reads versions 1 and {VERSION})"
        ))),
        None => Err(Error::Invalid("export has no version".to_string())),
    }
}

/// Turns a version 1 document into version 2: `default` as its only organization, and
/// every account and client in it.
fn place_v1(value: &mut serde_json::Value, default: &OrganizationRecord) -> Result<()> {
    let not_an_export = || Error::Invalid("malformed export: not an object".to_string());
    let object = value.as_object_mut().ok_or_else(not_an_export)?;
    let sid = serde_json::Value::from(default.sid.to_string());
    for list in ["accounts", "clients"] {
        let Some(items) = object.get_mut(list).and_then(|items| items.as_array_mut()) else {
            continue;
        };
        for item in items {
            let item = item.as_object_mut().ok_or_else(not_an_export)?;
            item.insert("organization".to_string(), sid.clone());
        }
    }
    let record = serde_json::to_value(default).map_err(|err| Error::Corrupt(err.to_string()))?;
    object.insert("version".to_string(), VERSION.into());
    object.insert("default_organization".to_string(), sid);
    object.insert("organizations".to_string(), vec![record].into());
    Ok(())
}

/// Checks references and uniqueness before anything is written.
fn validate(document: &Document) -> Result<()> {
    let bad = |message: String| Err(Error::Invalid(message));
    let mut domains = HashSet::new();
    let mut organizations = HashMap::new();
    for organization in &document.organizations {
        if !domains.insert(organization.domain.to_ascii_lowercase())
            || organizations
                .insert(organization.sid, organization.clone())
                .is_some()
        {
            return bad(format!(
                "organization {} ({}) appears twice",
                organization.sid, organization.domain
            ));
        }
    }
    if !organizations.contains_key(&document.default_organization) {
        return bad(format!(
            "the default organization {} is not in the export",
            document.default_organization
        ));
    }
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
    let mut problems = check::tree_problems(&accounts);
    problems.extend(check::organization_problems(&accounts, &organizations));
    if let Some(problem) = problems.into_iter().min() {
        return bad(problem);
    }
    let mut client_sids = HashSet::new();
    let mut logins = HashSet::new();
    for client in &document.clients {
        if let Some(problem) = check::client_account_problem(client, &accounts, &organizations) {
            return bad(problem);
        }
        let rows = ClientRows::of(client);
        let unique = rows.logins.into_iter().all(|key| logins.insert(key));
        if !client_sids.insert(client.sid) || !unique {
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
