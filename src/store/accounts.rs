//! The account trees: reads of `accounts`, `account_emails` and `account_children`, and the
//! transactions that write them (a new account with its indexes; updated records, with the
//! clients a close removes).

use sled::transaction::abort;
use sled::Transactional;

use crate::domain::AccountSid;
use crate::error::{Error, Result};
use crate::store::indexes::{self, AccountRows, AccountTrees, ClientRows, ClientTrees};
use crate::store::records::{self, AccountRecord, ClientRecord};
use crate::store::{keys, Store, WriteGuard};

impl Store {
    /// Reads one account.
    pub fn account(&self, sid: &AccountSid) -> Result<Option<AccountRecord>> {
        match self.accounts.get(keys::account(sid))? {
            Some(bytes) => Ok(Some(records::decode(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Reads one account through the email index (`email_key` is case-folded).
    pub fn account_by_email(&self, email_key: &str) -> Result<Option<AccountRecord>> {
        match self.account_emails.get(keys::email(email_key))? {
            Some(id) => self.account(&keys::decode_account(&id)?),
            None => Ok(None),
        }
    }

    /// The direct children of an account.
    pub fn children(&self, parent: &AccountSid) -> Result<Vec<AccountSid>> {
        let mut out = Vec::new();
        for entry in self.account_children.scan_prefix(keys::account(parent)) {
            let (key, _) = entry?;
            out.push(keys::decode_child(&key)?.1);
        }
        Ok(out)
    }

    /// Every account record, in key order (for checks and export).
    pub fn all_accounts(&self) -> Result<Vec<AccountRecord>> {
        self.accounts
            .iter()
            .map(|entry| records::decode(&entry?.1))
            .collect()
    }

    /// Inserts a new account with its email and parent indexes, atomically, then flushes.
    /// A taken email is a `Conflict`, found inside the transaction.
    pub fn insert_account(&self, _guard: &WriteGuard<'_>, record: &AccountRecord) -> Result<()> {
        let rows = AccountRows::of(record)?;
        (&self.accounts, &self.account_emails, &self.account_children)
            .transaction(|(accounts, emails, children)| {
                if emails.get(&rows.email)?.is_some() {
                    return abort(Error::Conflict(format!(
                        "an account with EmailAddress {} already exists",
                        record.email
                    )));
                }
                if accounts.get(rows.id)?.is_some() {
                    return abort(Error::Conflict("account sid collision".to_string()));
                }
                rows.insert(&AccountTrees {
                    accounts,
                    emails,
                    children,
                })
            })
            .map_err(Error::from)?;
        self.written()
    }

    /// Replaces existing account records (never their email or parent) and removes the given
    /// clients with their index entries, all in one transaction, then flushes. Used for single
    /// updates and for whole-subtree status cascades (closing removes the subtree's clients).
    pub fn update_accounts(
        &self,
        _guard: &WriteGuard<'_>,
        updated: &[AccountRecord],
        removed_clients: &[ClientRecord],
    ) -> Result<()> {
        let encoded = indexes::encoded_accounts(updated)?;
        let removals: Vec<ClientRows> = removed_clients.iter().map(ClientRows::of).collect();
        (
            &self.accounts,
            &self.clients,
            &self.account_clients,
            &self.client_logins,
        )
            .transaction(|(accounts, clients, account_clients, logins)| {
                for (id, value) in &encoded {
                    if accounts.get(id)?.is_none() {
                        return abort(Error::NotFound("account"));
                    }
                    accounts.insert(id, value.as_slice())?;
                }
                let trees = ClientTrees {
                    clients,
                    account_clients,
                    logins,
                };
                for rows in &removals {
                    rows.remove(&trees)?;
                }
                Ok(())
            })
            .map_err(Error::from)?;
        self.written()
    }
}
