//! The embedded database: the only code that names `sled`.
//!
//! `Store` owns one tree per entity and one per secondary index (layouts in `keys.rs`), and
//! offers typed reads and typed atomic writes. Every write keeps the indexes in step with the
//! primaries inside one multi-tree transaction, and every write method flushes before it
//! returns, so the API may acknowledge it (the durability rule of SPEC.md §5).
//!
//! Structural writes are serialised by a coarse write lock, taken by the domain layer as a
//! [`WriteGuard`] and passed back in: sled 0.34 cannot scan inside a transaction (sled#1143),
//! so a cascade scans under the lock and then commits everything it found in one transaction.
//! Reads never take the lock.

pub mod backup;
mod bindings;
mod cache;
pub mod check;
mod indexes;
pub mod keys;
pub mod records;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use sled::transaction::{abort, TransactionError};
use sled::Transactional;

use crate::domain::{AccountSid, ClientSid, Status};
use crate::error::{Error, Result};
use crate::sync::lock;
use bindings::{LiveBindings, BINDING_SHARDS};
use cache::RecordCache;
use indexes::{AccountRows, AccountTrees, ClientRows, ClientTrees};
use records::{AccountRecord, ClientRecord};

/// The schema version this binary writes; `open` refuses newer data.
const SCHEMA_VERSION: u32 = 1;

/// Handles to every tree, plus the write lock.
pub struct Store {
    db: sled::Db,
    /// `b"schema_version"` → u32 BE; `b"seq_floor"` → u64 BE (see `next_seq`).
    meta: sled::Tree,
    /// Added to sled's id generator: an import raises it above the imported sequence numbers.
    seq_floor: AtomicU64,
    /// Account id → `AccountRecord`.
    accounts: sled::Tree,
    /// Case-folded email ++ 0xFF → account id. Unique.
    account_emails: sled::Tree,
    /// Parent id ++ child id → empty.
    account_children: sled::Tree,
    /// Client id → `ClientRecord`.
    clients: sled::Tree,
    /// Account id ++ client id → empty.
    account_clients: sled::Tree,
    /// Login ++ 0xFF → client id. Unique.
    client_logins: sled::Tree,
    /// Client id ++ contact hash → `BindingRecord`. Soft state: written without a flush.
    bindings: sled::Tree,
    /// The bindings, in memory: the registrar and the API read only this. A client's shard
    /// lock also serialises every change to its bindings, so the tree follows the map.
    /// Sharded by client so that UDP workers registering different phones do not queue on
    /// one lock (or on one preempted holder) during a storm.
    live_bindings: Vec<Mutex<LiveBindings>>,
    /// Decoded copies of what the registrar reads on every REGISTER (see `cache.rs`).
    cache: Mutex<RecordCache>,
    write_lock: Mutex<()>,
}

/// Proof that the caller holds the store's write lock.
pub struct WriteGuard<'a>(#[allow(dead_code)] MutexGuard<'a, ()>);

impl Store {
    /// Opens (creating if needed) the store in `dir` with a page cache of `cache_bytes`.
    ///
    /// Fails with a clear message when another process holds the directory.
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<Store> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_bytes)
            // Bindings (soft state) rely on this background flush; API writes flush themselves.
            .flush_every_ms(Some(500))
            .open()
            .map_err(|err| {
                // sled reports a held directory lock as a generic I/O error; name the cause.
                let detail = err.to_string();
                let cause = if detail.contains("lock") {
                    "it is in use by another edgecomm process".to_string()
                } else {
                    detail
                };
                Error::Io(std::io::Error::other(format!(
                    "cannot open data directory {}: {cause}",
                    dir.display()
                )))
            })?;
        Store::from_db(db)
    }

    /// A store in a temporary directory that disappears when dropped (tests).
    pub fn open_temporary() -> Result<Store> {
        let db = sled::Config::new().temporary(true).open()?;
        Store::from_db(db)
    }

    fn from_db(db: sled::Db) -> Result<Store> {
        // `b"schema_version"` → u32 big-endian; checked before any other tree is touched.
        let meta = db.open_tree("meta")?;
        match meta.get(b"schema_version")? {
            None => {
                meta.insert(b"schema_version", &SCHEMA_VERSION.to_be_bytes())?;
            }
            Some(bytes) => {
                let version = <[u8; 4]>::try_from(bytes.as_ref())
                    .map(u32::from_be_bytes)
                    .map_err(|_| Error::Corrupt("schema_version".to_string()))?;
                if version > SCHEMA_VERSION {
                    return Err(Error::Io(std::io::Error::other(format!(
                        "data directory has schema version {version}, newer than this \
                         binary's {SCHEMA_VERSION}: upgrade edgecomm or use `edgecomm export` \
                         from the newer one"
                    ))));
                }
            }
        }
        let seq_floor = match meta.get(b"seq_floor")? {
            Some(bytes) => <[u8; 8]>::try_from(bytes.as_ref())
                .map(u64::from_be_bytes)
                .map_err(|_| Error::Corrupt("seq_floor".to_string()))?,
            None => 0,
        };
        Ok(Store {
            meta,
            seq_floor: AtomicU64::new(seq_floor),
            accounts: db.open_tree("accounts")?,
            account_emails: db.open_tree("account_emails")?,
            account_children: db.open_tree("account_children")?,
            clients: db.open_tree("clients")?,
            account_clients: db.open_tree("account_clients")?,
            client_logins: db.open_tree("client_logins")?,
            bindings: db.open_tree("bindings")?,
            live_bindings: (0..BINDING_SHARDS)
                .map(|_| Mutex::new(HashMap::new()))
                .collect(),
            cache: Mutex::new(RecordCache::default()),
            db,
            write_lock: Mutex::new(()),
        })
    }

    /// Takes the write lock. A panic while it was held leaves no partial state behind
    /// (transactions are atomic), so a poisoned lock is simply taken over.
    pub fn write_lock(&self) -> WriteGuard<'_> {
        WriteGuard(lock(&self.write_lock))
    }

    /// A fresh, strictly increasing sequence number (survives restarts).
    pub fn next_seq(&self) -> Result<u64> {
        Ok(self.db.generate_id()? + self.seq_floor.load(Ordering::SeqCst))
    }

    /// Every account or client write ends here: the cache starts over, then the flush.
    fn written(&self) -> Result<()> {
        self.invalidate();
        self.flush()
    }

    /// Makes every later sequence number at least `floor` (after an import).
    pub fn set_seq_floor(&self, _guard: &WriteGuard<'_>, floor: u64) -> Result<()> {
        self.meta.insert(b"seq_floor", &floor.to_be_bytes())?;
        self.seq_floor.store(floor, Ordering::SeqCst);
        Ok(())
    }

    /// Makes every write so far durable.
    pub fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }

    /// True when no account exists yet (first start).
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.accounts.is_empty())
    }

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
        let encoded = updated
            .iter()
            .map(|record| Ok((keys::account(&record.sid), records::encode(record)?)))
            .collect::<Result<Vec<_>>>()?;
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

    /// Reads one client.
    pub fn client(&self, sid: &ClientSid) -> Result<Option<ClientRecord>> {
        match self.clients.get(keys::client(sid))? {
            Some(bytes) => Ok(Some(records::decode(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Reads one client through the login index.
    pub fn client_by_login(&self, login: &str) -> Result<Option<ClientRecord>> {
        match self.client_logins.get(keys::login(login))? {
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
                if logins.get(rows.login.as_slice())?.is_some() {
                    return abort(Error::Conflict(format!(
                        "a client with Login {} already exists",
                        record.login
                    )));
                }
                let trees = ClientTrees {
                    clients,
                    account_clients,
                    logins,
                };
                rows.insert(&trees, &value)
            })
            .map_err(Error::from)?;
        self.written()
    }

    /// Replaces an existing client record (never its login or account), then flushes.
    pub fn update_client(&self, _guard: &WriteGuard<'_>, record: &ClientRecord) -> Result<()> {
        let value = records::encode(record)?;
        let id = keys::client(&record.sid);
        self.clients
            .transaction(|clients| {
                if clients.get(id)?.is_none() {
                    return abort(Error::NotFound("client"));
                }
                clients.insert(&id, value.as_slice())?;
                Ok(())
            })
            .map_err(Error::from)?;
        self.written()
    }

    /// Writes a login index entry with no client behind it: for tests of `check` only.
    #[cfg(test)]
    pub(crate) fn corrupt_login_index(&self, login: &str, sid: &ClientSid) -> Result<()> {
        self.client_logins
            .insert(keys::login(login), &sid.as_bytes()[..])?;
        Ok(())
    }

    /// Removes a client and its index entries in one transaction, then flushes.
    pub fn delete_client(&self, guard: &WriteGuard<'_>, record: &ClientRecord) -> Result<()> {
        self.update_accounts(guard, &[], std::slice::from_ref(record))
    }
}

impl From<sled::Error> for Error {
    fn from(err: sled::Error) -> Error {
        Error::Store(err.to_string())
    }
}

impl From<TransactionError<Error>> for Error {
    fn from(err: TransactionError<Error>) -> Error {
        match err {
            TransactionError::Abort(inner) => inner,
            TransactionError::Storage(storage) => Error::from(storage),
        }
    }
}

#[cfg(test)]
mod tests;
