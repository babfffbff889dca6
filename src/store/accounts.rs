//! The account trees: reads of `accounts`, `account_emails` and `account_children`, the
//! writes of them (a new account with its indexes; updated records, with the clients a close
//! removes), and the mending at open of what a crash in the middle of a new account left.

use sled::transaction::abort;
use sled::Transactional;

use crate::domain::AccountSid;
use crate::error::{Error, Result};
use crate::store::indexes::{self, AccountRows, ClientRows, ClientTrees};
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

    /// Inserts a new account with its email and parent indexes, then flushes. A taken email
    /// is a `Conflict`.
    ///
    /// Plain writes under the write lock, record first, as for a client (see
    /// `insert_client`: one synced flash page instead of a transaction's two);
    /// `repair_account_rows` mends at open what a crash between them left.
    pub fn insert_account(&self, _guard: &WriteGuard<'_>, record: &AccountRecord) -> Result<()> {
        let rows = AccountRows::of(record)?;
        if self.account_emails.contains_key(&rows.email)? {
            return Err(Error::Conflict(format!(
                "an account with EmailAddress {} already exists",
                record.email
            )));
        }
        if self.accounts.contains_key(rows.id)? {
            return Err(Error::Conflict("account sid collision".to_string()));
        }
        self.accounts.insert(rows.id, rows.value.as_slice())?;
        self.put_account_rows(&rows)?;
        self.written()
    }

    /// Writes the email and parent rows of an account that are not there yet, leaving an
    /// email row another account holds to `check`. Returns how many rows it wrote.
    fn put_account_rows(&self, rows: &AccountRows) -> Result<usize> {
        let mut written = 0;
        if !self.account_emails.contains_key(&rows.email)? {
            self.account_emails
                .insert(rows.email.as_slice(), &rows.id)?;
            written += 1;
        }
        if let Some(edge) = rows.edge {
            if !self.account_children.contains_key(edge)? {
                self.account_children.insert(edge, &[])?;
                written += 1;
            }
        }
        Ok(written)
    }

    /// Makes `account_emails` and `account_children` agree with `accounts` again after a
    /// crash cut `insert_account` short: rows no record justifies go, rows a record lacks
    /// come back. Writes and flushes only when something needed mending; returns how many
    /// rows changed.
    pub(super) fn repair_account_rows(&self) -> Result<usize> {
        let mut stale = self.unjustified(&self.account_emails, |key, value| {
            let email = keys::decode_email(key)?;
            Ok(self
                .account(&keys::decode_account(value)?)?
                .is_some_and(|record| record.email.to_ascii_lowercase() == email))
        })?;
        stale.extend(self.unjustified(&self.account_children, |key, _| {
            let (parent, child) = keys::decode_child(key)?;
            Ok(self
                .account(&child)?
                .is_some_and(|record| record.parent == Some(parent)))
        })?);
        self.mend("account", stale, || {
            let mut written = 0;
            for entry in self.accounts.iter() {
                let record: AccountRecord = records::decode(&entry?.1)?;
                written += self.put_account_rows(&AccountRows::of(&record)?)?;
            }
            Ok(written)
        })
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
        if let ([(id, value)], []) = (encoded.as_slice(), removed_clients) {
            // One record: a single insert is atomic by itself, and a transaction would sync
            // a second flash page (see `insert_client`).
            if !self.accounts.contains_key(id)? {
                return Err(Error::NotFound("account"));
            }
            self.accounts.insert(id, value.as_slice())?;
            return self.written();
        }
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
