//! The client trees: reads of `clients`, `client_logins` and `account_clients`, the writes
//! of one client (a new client with its indexes, an updated record, a removal), and the
//! mending at open of what a crash in the middle of one of those left.

use crate::domain::{AccountSid, ClientSid, OrganizationSid, Status};
use crate::error::{Error, Result};
use crate::store::indexes::ClientRows;
use crate::store::records::{self, ClientRecord};
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

    /// Inserts a new client with its indexes, then flushes. A taken login is a `Conflict`;
    /// an account that is gone or closed is a `Conflict` too.
    ///
    /// Plain writes, not a transaction: every client write holds the write lock, so nothing
    /// interleaves with them, and a sled transaction syncs its batch manifest on its own: a
    /// second flash page per API write (~9 KB at the device instead of ~5, README "Flash
    /// wear"). The record is written first and is the truth; a crash between the writes
    /// leaves derived rows missing or stale, and `repair_client_rows` mends them at open.
    pub fn insert_client(&self, _guard: &WriteGuard<'_>, record: &ClientRecord) -> Result<()> {
        let value = records::encode(record)?;
        let open = match self.account(&record.account)? {
            Some(account) => account.status != Status::Closed,
            None => false,
        };
        if !open {
            return Err(Error::Conflict("the account is closed".to_string()));
        }
        let rows = ClientRows::of(record);
        self.claimable(&rows, &record.login)?;
        self.clients.insert(rows.id, value)?;
        self.put_derived(&rows)?;
        self.written()
    }

    /// Replaces the client record `old` (read under the same guard) by `new` (never another
    /// login or account; its realm's organization may change, and its login rows with it),
    /// then flushes. Plain writes, record first, as in `insert_client`.
    pub fn update_client(
        &self,
        _guard: &WriteGuard<'_>,
        old: &ClientRecord,
        new: &ClientRecord,
    ) -> Result<()> {
        let value = records::encode(new)?;
        let (old_rows, new_rows) = (ClientRows::of(old), ClientRows::of(new));
        if !self.clients.contains_key(new_rows.id)? {
            return Err(Error::NotFound("client"));
        }
        self.claimable(&new_rows, &new.login)?;
        self.clients.insert(new_rows.id, value)?;
        for key in old_rows
            .logins
            .iter()
            .filter(|key| !new_rows.logins.contains(key))
        {
            self.client_logins.remove(key.as_slice())?;
        }
        self.put_derived(&new_rows)?;
        self.written()
    }

    /// Removes a client and its index entries, then flushes. Plain writes as in
    /// `insert_client`, the derived rows first so that no reader meets an edge to a
    /// missing record.
    pub fn delete_client(&self, _guard: &WriteGuard<'_>, record: &ClientRecord) -> Result<()> {
        let rows = ClientRows::of(record);
        for key in &rows.logins {
            self.client_logins.remove(key.as_slice())?;
        }
        self.account_clients.remove(rows.edge)?;
        self.clients.remove(rows.id)?;
        self.written()
    }

    /// Fails with a `Conflict` when another client holds one of these login rows.
    fn claimable(&self, rows: &ClientRows, login: &str) -> Result<()> {
        for key in &rows.logins {
            let owner = self.client_logins.get(key.as_slice())?;
            if let Some(err) = rows.login_taken(owner.as_deref(), login) {
                return Err(err);
            }
        }
        Ok(())
    }

    /// Writes the derived rows of a client that are not there yet (an unchanged row is not
    /// written again: flash), leaving a login row another client holds to `check`. Returns
    /// how many rows it wrote.
    fn put_derived(&self, rows: &ClientRows) -> Result<usize> {
        let mut written = 0;
        if !self.account_clients.contains_key(rows.edge)? {
            self.account_clients.insert(rows.edge, &[])?;
            written += 1;
        }
        for key in &rows.logins {
            if !self.client_logins.contains_key(key.as_slice())? {
                self.client_logins.insert(key.as_slice(), &rows.id)?;
                written += 1;
            }
        }
        Ok(written)
    }

    /// Makes `account_clients` and `client_logins` agree with `clients` again after a crash
    /// cut a client write short (see `insert_client`): rows no record justifies go, rows a
    /// record lacks come back. Writes and flushes only when something needed mending;
    /// returns how many rows changed.
    pub(super) fn repair_client_rows(&self) -> Result<usize> {
        let mut stale = self.unjustified(&self.account_clients, |key, _| {
            let (account, client) = keys::decode_account_client(key)?;
            Ok(self
                .client(&client)?
                .is_some_and(|record| record.account == account))
        })?;
        stale.extend(self.unjustified(&self.client_logins, |key, value| {
            Ok(self
                .client(&keys::decode_client(value)?)?
                .is_some_and(|record| ClientRows::of(&record).logins.iter().any(|k| k == key)))
        })?);
        self.mend("client", stale, || {
            let mut written = 0;
            for entry in self.clients.iter() {
                let record: ClientRecord = records::decode(&entry?.1)?;
                written += self.put_derived(&ClientRows::of(&record))?;
            }
            Ok(written)
        })
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
}
