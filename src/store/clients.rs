//! The client trees: reads of `clients`, `client_logins` and `account_clients`, and the
//! transactions that write them (a new client with its indexes, an updated record, a
//! removal).

use sled::transaction::abort;
use sled::Transactional;

use crate::domain::{AccountSid, ClientSid, OrganizationSid, Status};
use crate::error::{Error, Result};
use crate::store::indexes::{ClientRows, ClientTrees};
use crate::store::records::{self, AccountRecord, ClientRecord};
use crate::store::{keys, Store, WriteGuard};

impl Store {
    /// Reads one client.
    pub fn client(&self, sid: &ClientSid) -> Result<Option<ClientRecord>> {
        match self.clients.get(keys::client(sid))? {
            Some(bytes) => Ok(Some(records::decode(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Reads one client through the login index of an organization: its own clients, and
    /// those that migrated away with HA1 values still for this organization's domain.
    pub fn client_by_login(
        &self,
        organization: &OrganizationSid,
        login: &str,
    ) -> Result<Option<ClientRecord>> {
        match self.client_logins.get(keys::login(organization, login))? {
            Some(id) => self.client(&keys::decode_client(&id)?),
            None => Ok(None),
        }
    }

    /// The clients of one account, in no particular order.
    pub fn account_clients(&self, account: &AccountSid) -> Result<Vec<ClientRecord>> {
        let mut out = Vec::new();
        for entry in self.account_clients.scan_prefix(keys::account(account)) {
            let (key, _) = entry?;
            let (_, client) = keys::decode_account_client(&key)?;
            let record = self.client(&client)?.ok_or_else(|| {
                Error::Corrupt(format!("account edge to missing client {client}"))
            })?;
            out.push(record);
        }
        Ok(out)
    }

    /// How many clients are (enabled, disabled): a scan, for the metrics.
    pub fn client_counts(&self) -> Result<(usize, usize)> {
        let mut counts = (0, 0);
        for entry in self.clients.iter() {
            let record: ClientRecord = records::decode(&entry?.1)?;
            if record.enabled {
                counts.0 += 1;
            } else {
                counts.1 += 1;
            }
        }
        Ok(counts)
    }

    /// Inserts a new client with its indexes, atomically, then flushes. A taken login is a
    /// `Conflict`; an account that is gone or closed is a `Conflict` too, both found inside
    /// the transaction.
    pub fn insert_client(&self, _guard: &WriteGuard<'_>, record: &ClientRecord) -> Result<()> {
        let value = records::encode(record)?;
        let rows = ClientRows::of(record);
        let account_key = keys::account(&record.account);
        (
            &self.accounts,
            &self.clients,
            &self.account_clients,
            &self.client_logins,
        )
            .transaction(|(accounts, clients, account_clients, logins)| {
                let open = match accounts.get(account_key)? {
                    Some(bytes) => records::decode::<AccountRecord>(&bytes)
                        .map(|account| account.status != Status::Closed)
                        .unwrap_or(false),
                    None => false,
                };
                if !open {
                    return abort(Error::Conflict("the account is closed".to_string()));
                }
                let trees = ClientTrees {
                    clients,
                    account_clients,
                    logins,
                };
                rows.insert(&trees, &value, &record.login)
            })
            .map_err(Error::from)?;
        self.written()
    }

    /// Replaces the client record `old` (read under the same guard) by `new` (never another
    /// login or account; its realm's organization may change, and its login rows with it),
    /// then flushes.
    pub fn update_client(
        &self,
        _guard: &WriteGuard<'_>,
        old: &ClientRecord,
        new: &ClientRecord,
    ) -> Result<()> {
        let value = records::encode(new)?;
        let (old_rows, new_rows) = (ClientRows::of(old), ClientRows::of(new));
        (&self.clients, &self.account_clients, &self.client_logins)
            .transaction(|(clients, account_clients, logins)| {
                if clients.get(new_rows.id)?.is_none() {
                    return abort(Error::NotFound("client"));
                }
                let trees = ClientTrees {
                    clients,
                    account_clients,
                    logins,
                };
                old_rows.remove(&trees)?;
                new_rows.insert(&trees, &value, &new.login)
            })
            .map_err(Error::from)?;
        self.written()
    }

    /// Writes a login index entry with no client behind it: for tests of `check` only.
    #[cfg(test)]
    pub(crate) fn corrupt_login_index(&self, login: &str, sid: &ClientSid) -> Result<()> {
        self.client_logins.insert(
            keys::login(&self.default_organization()?, login),
            &sid.as_bytes()[..],
        )?;
        Ok(())
    }

    /// Removes a client and its index entries in one transaction, then flushes.
    pub fn delete_client(&self, guard: &WriteGuard<'_>, record: &ClientRecord) -> Result<()> {
        self.update_accounts(guard, &[], std::slice::from_ref(record))
    }
}
