//! Every index of every entity, in one place: the keys a record occupies in its primary tree
//! and in each secondary one, and how they are written or removed inside a transaction.
//! Every write of the store (create, update, delete, cascade, import) goes through these, so
//! a new index is added here once and `check` is the only other code that must learn of it.

use sled::transaction::{ConflictableTransactionResult, TransactionalTree};

use crate::error::{Error, Result};
use crate::store::keys;
use crate::store::records::{self, AccountRecord, BindingRecord, ClientRecord, OrganizationRecord};

/// The rows an account occupies: `accounts`, `account_emails`, `account_children`.
pub(super) struct AccountRows {
    /// Key in `accounts`.
    pub id: [u8; 16],
    /// The encoded record.
    pub value: Vec<u8>,
    /// Key in `account_emails` (case-folded email).
    pub email: Vec<u8>,
    /// Key in `account_children`, for an account with a parent.
    pub edge: Option<[u8; 32]>,
}

/// The trees an account's rows live in, inside a transaction.
pub(super) struct AccountTrees<'a> {
    pub accounts: &'a TransactionalTree,
    pub emails: &'a TransactionalTree,
    pub children: &'a TransactionalTree,
}

impl AccountRows {
    /// The rows of `record`.
    pub fn of(record: &AccountRecord) -> Result<AccountRows> {
        Ok(AccountRows {
            id: keys::account(&record.sid),
            value: records::encode(record)?,
            email: keys::email(&record.email.to_ascii_lowercase()),
            edge: record
                .parent
                .map(|parent| keys::child(&parent, &record.sid)),
        })
    }

    /// Writes every row of a new account.
    pub fn insert(&self, trees: &AccountTrees<'_>) -> ConflictableTransactionResult<(), Error> {
        trees.accounts.insert(&self.id, self.value.as_slice())?;
        trees.emails.insert(self.email.as_slice(), &self.id)?;
        if let Some(edge) = &self.edge {
            trees.children.insert(edge, &[])?;
        }
        Ok(())
    }
}

/// The rows an organization occupies: `organizations`, `organization_domains`.
pub(super) struct OrganizationRows {
    /// Key in `organizations`.
    pub id: [u8; 16],
    /// The encoded record.
    pub value: Vec<u8>,
    /// Key in `organization_domains` (lowercase domain).
    pub domain: Vec<u8>,
}

impl OrganizationRows {
    /// The rows of `record`.
    pub fn of(record: &OrganizationRecord) -> Result<OrganizationRows> {
        Ok(OrganizationRows {
            id: keys::organization(&record.sid),
            value: records::encode(record)?,
            domain: keys::domain(&record.domain.to_ascii_lowercase()),
        })
    }

    /// Writes both rows; a domain already taken by another organization is a `Conflict`.
    pub fn insert(
        &self,
        organizations: &TransactionalTree,
        domains: &TransactionalTree,
    ) -> ConflictableTransactionResult<(), Error> {
        if let Some(owner) = domains.get(self.domain.as_slice())? {
            if owner.as_ref() != self.id {
                return Err(sled::transaction::ConflictableTransactionError::Abort(
                    Error::Conflict(format!(
                        "an organization with domain {} already exists",
                        String::from_utf8_lossy(&self.domain[..self.domain.len() - 1])
                    )),
                ));
            }
        }
        organizations.insert(&self.id, self.value.as_slice())?;
        domains.insert(self.domain.as_slice(), &self.id)?;
        Ok(())
    }
}

/// The rows a client occupies: `clients`, `account_clients`, `client_logins`.
pub(super) struct ClientRows {
    /// Key in `clients`.
    pub id: [u8; 16],
    /// Key in `account_clients`.
    pub edge: [u8; 32],
    /// Keys in `client_logins`: its organization's, then its realm's when that is another.
    pub logins: Vec<Vec<u8>>,
}

/// The trees a client's rows live in, inside a transaction.
pub(super) struct ClientTrees<'a> {
    pub clients: &'a TransactionalTree,
    pub account_clients: &'a TransactionalTree,
    pub logins: &'a TransactionalTree,
}

impl ClientRows {
    /// The rows of `record`.
    pub fn of(record: &ClientRecord) -> ClientRows {
        ClientRows {
            id: keys::client(&record.sid),
            edge: keys::account_client(&record.account, &record.sid),
            logins: std::iter::once(record.organization)
                .chain(record.realm_organization)
                .map(|organization| keys::login(&organization, &record.login))
                .collect(),
        }
    }

    /// Writes every row of a client, `value` being its encoded record. A login row held by
    /// another client is a `Conflict` (logins are unique per organization).
    pub fn insert(
        &self,
        trees: &ClientTrees<'_>,
        value: &[u8],
        login: &str,
    ) -> ConflictableTransactionResult<(), Error> {
        for key in &self.logins {
            let owner = trees.logins.get(key.as_slice())?;
            if let Some(err) = self.login_taken(owner.as_deref(), login) {
                return Err(sled::transaction::ConflictableTransactionError::Abort(err));
            }
        }
        trees.clients.insert(&self.id, value)?;
        trees.account_clients.insert(&self.edge, &[])?;
        for key in &self.logins {
            trees.logins.insert(key.as_slice(), &self.id)?;
        }
        Ok(())
    }

    /// The `Conflict` to answer when `owner`, the client id a login row holds, is another
    /// client's (logins are unique per organization).
    pub fn login_taken(&self, owner: Option<&[u8]>, login: &str) -> Option<Error> {
        owner.filter(|owner| *owner != self.id).map(|_| {
            Error::Conflict(format!(
                "a client with Login {login} already exists in this organization"
            ))
        })
    }

    /// Removes every row of a client.
    pub fn remove(&self, trees: &ClientTrees<'_>) -> ConflictableTransactionResult<(), Error> {
        trees.clients.remove(&self.id)?;
        trees.account_clients.remove(&self.edge)?;
        for key in &self.logins {
            trees.logins.remove(key.as_slice())?;
        }
        Ok(())
    }
}

/// Each account's key in `accounts` with its encoded record: what a replacement of
/// existing records (update, cascade, migration, upgrade) writes.
pub(super) fn encoded_accounts(records: &[AccountRecord]) -> Result<Vec<([u8; 16], Vec<u8>)>> {
    records
        .iter()
        .map(|record| Ok((keys::account(&record.sid), records::encode(record)?)))
        .collect()
}

/// The key of an organization (for the `meta` pointer to the default one).
pub(super) fn organization_key(sid: &crate::domain::OrganizationSid) -> [u8; 16] {
    keys::organization(sid)
}

/// The one row a binding occupies in `bindings` (no index: the live map is its index).
pub(super) fn binding_key(binding: &BindingRecord) -> [u8; 32] {
    keys::binding(&binding.client, &binding.contact)
}
