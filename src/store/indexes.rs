//! Every index of every entity, in one place: the keys a record occupies in its primary tree
//! and in each secondary one, and how they are written or removed inside a transaction.
//! Every write of the store (create, update, delete, cascade, import) goes through these, so
//! a new index is added here once and `check` is the only other code that must learn of it.

use sled::transaction::{ConflictableTransactionResult, TransactionalTree};

use crate::error::{Error, Result};
use crate::store::keys;
use crate::store::records::{self, AccountRecord, BindingRecord, ClientRecord};

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

/// The rows a client occupies: `clients`, `account_clients`, `client_logins`.
pub(super) struct ClientRows {
    /// Key in `clients`.
    pub id: [u8; 16],
    /// Key in `account_clients`.
    pub edge: [u8; 32],
    /// Key in `client_logins`.
    pub login: Vec<u8>,
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
            login: keys::login(&record.login),
        }
    }

    /// Writes every row of a new client, `value` being its encoded record.
    pub fn insert(
        &self,
        trees: &ClientTrees<'_>,
        value: &[u8],
    ) -> ConflictableTransactionResult<(), Error> {
        trees.clients.insert(&self.id, value)?;
        trees.account_clients.insert(&self.edge, &[])?;
        trees.logins.insert(self.login.as_slice(), &self.id)?;
        Ok(())
    }

    /// Removes every row of a client.
    pub fn remove(&self, trees: &ClientTrees<'_>) -> ConflictableTransactionResult<(), Error> {
        trees.clients.remove(&self.id)?;
        trees.account_clients.remove(&self.edge)?;
        trees.logins.remove(self.login.as_slice())?;
        Ok(())
    }
}

/// The one row a binding occupies in `bindings` (no index: the live map is its index).
pub(super) fn binding_key(binding: &BindingRecord) -> [u8; 32] {
    keys::binding(&binding.client, &binding.contact)
}
