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
pub mod check;
pub mod keys;
pub mod records;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

use crate::clock::UnixSecs;
use crate::domain::{AccountSid, ClientSid, Status};
use crate::error::{Error, Result};
use records::{AccountRecord, BindingRecord, ClientAuth, ClientRecord};

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
    /// Decoded copies of what the registrar reads on every REGISTER (see `RecordCache`).
    cache: Mutex<RecordCache>,
    write_lock: Mutex<()>,
}

/// What the registrar reads on every REGISTER, decoded once: client credentials by login and
/// by id, and account statuses. Decoding JSON records was a third of all instructions of a
/// REGISTER (callgrind). Kept trivially in step with the store: every write of an account or
/// a client clears it whole (admin writes are rare) and bumps `generation`; a reader that
/// read the tree before such a write sees the generation changed and does not insert, so a
/// stale entry can never outlive the write that made it stale.
#[derive(Default)]
struct RecordCache {
    generation: u64,
    by_login: HashSet<ByLogin>,
    by_sid: HashMap<ClientSid, Arc<ClientAuth>>,
    /// The realm every cached client shares, unless a record names another.
    realm: Option<Arc<str>>,
    statuses: HashMap<AccountSid, Status>,
}

fn shard_of(client: &ClientSid) -> usize {
    usize::from(client.as_bytes()[0]) % BINDING_SHARDS
}

/// A panic under a shard lock can at worst have taken one client's list out of memory (soft
/// state: the tree still has it for a restart, and the phone re-registers); take it over.
fn lock_live(shard: &Mutex<LiveBindings>) -> MutexGuard<'_, LiveBindings> {
    shard.lock().unwrap_or_else(|poison| poison.into_inner())
}

/// A cached client keyed by its own login, so that the login is not stored twice.
struct ByLogin(Arc<ClientAuth>);

impl std::borrow::Borrow<str> for ByLogin {
    fn borrow(&self) -> &str {
        &self.0.login
    }
}

impl std::hash::Hash for ByLogin {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Must hash exactly as the borrowed `str` does.
        self.0.login.hash(state);
    }
}

impl PartialEq for ByLogin {
    fn eq(&self, other: &ByLogin) -> bool {
        self.0.login == other.0.login
    }
}

impl Eq for ByLogin {}

/// One shard of the in-memory bindings.
type LiveBindings = HashMap<ClientSid, Vec<BindingRecord>>;

/// Shards of the in-memory bindings; SIDs are random, so their first byte spreads clients evenly.
const BINDING_SHARDS: usize = 16;

/// Entries beyond which the cache starts over (a box with more clients just decodes more).
const CACHE_MAX: usize = 200_000;

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

    /// Loads the persisted bindings into memory, dropping those that may no longer exist:
    /// expired, of a deleted or disabled client, or under an account that is not active (a
    /// crash can leave such leftovers, since bindings are written without a flush).
    /// Returns how many were kept.
    pub fn load_bindings(&self, now: UnixSecs) -> Result<usize> {
        let mut live: Vec<LiveBindings> = (0..BINDING_SHARDS).map(|_| HashMap::new()).collect();
        let mut stale = Vec::new();
        let mut usable: HashMap<ClientSid, bool> = HashMap::new();
        for entry in self.bindings.iter() {
            let (key, value) = entry?;
            let record: BindingRecord = records::decode(&value)?;
            let ok = match usable.get(&record.client) {
                Some(ok) => *ok,
                None => {
                    let ok = match self.auth_by_sid(&record.client)? {
                        Some(client) => {
                            client.enabled
                                && self.account_status(&client.account)? == Some(Status::Active)
                        }
                        None => false,
                    };
                    usable.insert(record.client, ok);
                    ok
                }
            };
            if ok && record.expires_at > now {
                let record = BindingRecord {
                    stored_expires_at: record.expires_at,
                    ..record
                };
                live[shard_of(&record.client)]
                    .entry(record.client)
                    .or_default()
                    .push(record);
            } else {
                stale.push(key);
            }
        }
        for key in stale {
            self.bindings.remove(key)?;
        }
        let kept = live.iter().flat_map(HashMap::values).map(Vec::len).sum();
        for (shard, loaded) in self.live_bindings.iter().zip(live) {
            *lock_live(shard) = loaded;
        }
        Ok(kept)
    }

    /// The current bindings of a client (expired ones included until the sweeper runs).
    pub fn bindings(&self, client: &ClientSid) -> Vec<BindingRecord> {
        self.live_of(client)
            .get(client)
            .cloned()
            .unwrap_or_default()
    }

    /// How many unexpired bindings a client has.
    pub fn binding_count(&self, client: &ClientSid, now: UnixSecs) -> usize {
        self.live_of(client).get(client).map_or(0, |list| {
            list.iter()
                .filter(|binding| binding.expires_at > now)
                .count()
        })
    }

    /// Runs `change` on a client's bindings under the bindings lock: it gets the bindings as
    /// they are and returns them as they shall be (with a value for the caller); what changed
    /// goes to the tree without a flush (soft state: phones re-register). `change` may read
    /// the store (reads take no lock) to re-check that the client may still register.
    ///
    /// A refresh that changes only Call-ID, CSeq and a later expiry is written only when the
    /// stored expiry is less than half the newly granted time away. So the stored expiry never
    /// exceeds the real one, and after a restart it still reaches the phone's next refresh:
    /// a phone refreshing at intervals above half its grant is written every time, one
    /// refreshing more often is written before the stored copy runs out. A phone refreshing
    /// every half grant costs a write every other refresh, and one re-registering in a boot
    /// storm loop far fewer; a stale Call-ID or CSeq after a restart only skips an ordering
    /// check (RFC 3261 §10.3 step 7), it never refuses a newer request.
    pub fn update_bindings<T>(
        &self,
        client: &ClientSid,
        now: UnixSecs,
        change: impl FnOnce(&[BindingRecord]) -> Result<(Vec<BindingRecord>, T)>,
    ) -> Result<T> {
        let mut live = self.live_of(client);
        let before = live.get(client).map_or(&[][..], Vec::as_slice);
        let (mut after, out) = change(before)?;
        self.write_bindings(client, now, before, &mut after)?;
        if after.is_empty() {
            live.remove(client);
        } else {
            // Most phones hold one binding, and a Vec's first push reserves four: without
            // this, 10,000 registered phones kept ~5 MB of empty slots (measured, heaptrack).
            after.shrink_to_fit();
            live.insert(*client, after);
        }
        Ok(out)
    }

    /// Writes what changed between `before` and `after` to the tree (see `update_bindings`
    /// for when a refresh is written) and records in `after` what the tree now holds.
    fn write_bindings(
        &self,
        client: &ClientSid,
        now: UnixSecs,
        before: &[BindingRecord],
        after: &mut [BindingRecord],
    ) -> Result<()> {
        for old in before {
            if !after.iter().any(|binding| binding.contact == old.contact) {
                self.bindings.remove(keys::binding(client, &old.contact))?;
            }
        }
        for binding in after.iter_mut() {
            let stored = before.iter().find(|old| old.contact == binding.contact);
            let write = stored.is_none_or(|old| {
                let granted = binding.expires_at - now;
                !old.same_binding(binding)
                    || binding.expires_at < old.stored_expires_at
                    || 2 * (old.stored_expires_at - now) < granted
            });
            if write {
                self.bindings.insert(
                    keys::binding(client, &binding.contact),
                    records::encode(binding)?,
                )?;
                binding.stored_expires_at = binding.expires_at;
            } else if let Some(old) = stored {
                binding.stored_expires_at = old.stored_expires_at;
            }
        }
        Ok(())
    }

    /// Drops every binding of these clients at once (disabled, deleted, account not active).
    pub fn drop_bindings(&self, clients: &[ClientSid]) -> Result<usize> {
        let mut dropped = 0;
        for client in clients {
            let mut live = self.live_of(client);
            for binding in live.remove(client).unwrap_or_default() {
                self.bindings
                    .remove(keys::binding(client, &binding.contact))?;
                dropped += 1;
            }
        }
        Ok(dropped)
    }

    /// Removes expired bindings from memory and from the tree; returns how many.
    pub fn purge_expired_bindings(&self, now: UnixSecs) -> Result<usize> {
        let mut purged = 0;
        for shard in &self.live_bindings {
            let mut live = lock_live(shard);
            for (client, list) in live.iter_mut() {
                for binding in list.iter().filter(|binding| binding.expires_at <= now) {
                    self.bindings
                        .remove(keys::binding(client, &binding.contact))?;
                    purged += 1;
                }
                list.retain(|binding| binding.expires_at > now);
            }
            live.retain(|_, list| !list.is_empty());
        }
        Ok(purged)
    }

    /// The locked shard that holds `client`'s bindings.
    fn live_of(&self, client: &ClientSid) -> MutexGuard<'_, LiveBindings> {
        lock_live(&self.live_bindings[shard_of(client)])
    }

    /// Takes the write lock. A panic while it was held leaves no partial state behind
    /// (transactions are atomic), so a poisoned lock is simply taken over.
    pub fn write_lock(&self) -> WriteGuard<'_> {
        WriteGuard(
            self.write_lock
                .lock()
                .unwrap_or_else(|poison| poison.into_inner()),
        )
    }

    /// A fresh, strictly increasing sequence number (survives restarts).
    pub fn next_seq(&self) -> Result<u64> {
        Ok(self.db.generate_id()? + self.seq_floor.load(Ordering::SeqCst))
    }

    /// The registration credentials of a client, by login (cached).
    pub fn auth_by_login(&self, login: &str) -> Result<Option<Arc<ClientAuth>>> {
        let generation = {
            let cache = self.lock_cache();
            if let Some(found) = cache.by_login.get(login) {
                return Ok(Some(found.0.clone()));
            }
            cache.generation
        };
        let Some(record) = self.client_by_login(login)? else {
            return Ok(None);
        };
        self.remember(generation, &record).map(Some)
    }

    /// The registration credentials of a client, by id (cached).
    pub fn auth_by_sid(&self, sid: &ClientSid) -> Result<Option<Arc<ClientAuth>>> {
        let generation = {
            let cache = self.lock_cache();
            if let Some(found) = cache.by_sid.get(sid) {
                return Ok(Some(found.clone()));
            }
            cache.generation
        };
        let Some(record) = self.client(sid)? else {
            return Ok(None);
        };
        self.remember(generation, &record).map(Some)
    }

    /// An account's status (cached).
    pub fn account_status(&self, sid: &AccountSid) -> Result<Option<Status>> {
        let generation = {
            let cache = self.lock_cache();
            if let Some(status) = cache.statuses.get(sid) {
                return Ok(Some(*status));
            }
            cache.generation
        };
        let Some(record) = self.account(sid)? else {
            return Ok(None);
        };
        let mut cache = self.lock_cache();
        if cache.generation == generation && cache.statuses.len() < CACHE_MAX {
            cache.statuses.insert(*sid, record.status);
        }
        Ok(Some(record.status))
    }

    fn remember(&self, generation: u64, record: &ClientRecord) -> Result<Arc<ClientAuth>> {
        let mut cache = self.lock_cache();
        let realm = match &cache.realm {
            Some(realm) if **realm == *record.realm => realm.clone(),
            _ => Arc::from(record.realm.as_str()),
        };
        let auth = Arc::new(ClientAuth::of(record, realm.clone())?);
        if cache.generation == generation && cache.by_sid.len() < CACHE_MAX {
            cache.realm.get_or_insert(realm);
            cache.by_login.replace(ByLogin(auth.clone()));
            cache.by_sid.insert(auth.sid, auth.clone());
        }
        Ok(auth)
    }

    fn lock_cache(&self) -> MutexGuard<'_, RecordCache> {
        self.cache
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Every account or client write ends here: the cache starts over, then the flush.
    fn written(&self) -> Result<()> {
        self.invalidate();
        self.flush()
    }

    fn invalidate(&self) {
        let mut cache = self.lock_cache();
        let generation = cache.generation + 1;
        *cache = RecordCache {
            generation,
            ..RecordCache::default()
        };
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
        let value = records::encode(record)?;
        let id = keys::account(&record.sid);
        let email_key = keys::email(&record.email.to_ascii_lowercase());
        let child_key = record
            .parent
            .map(|parent| keys::child(&parent, &record.sid));
        (&self.accounts, &self.account_emails, &self.account_children)
            .transaction(|(accounts, emails, children)| {
                if emails.get(&email_key)?.is_some() {
                    return abort(Error::Conflict(format!(
                        "an account with EmailAddress {} already exists",
                        record.email
                    )));
                }
                if accounts.get(id)?.is_some() {
                    return abort(Error::Conflict("account sid collision".to_string()));
                }
                accounts.insert(&id, value.as_slice())?;
                emails.insert(email_key.as_slice(), &id)?;
                if let Some(key) = &child_key {
                    children.insert(key, &[])?;
                }
                Ok(())
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
        let removals: Vec<ClientKeys> = removed_clients.iter().map(ClientKeys::of).collect();
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
                for keys in &removals {
                    clients.remove(&keys.id)?;
                    account_clients.remove(&keys.edge)?;
                    logins.remove(keys.login.as_slice())?;
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
        let keys = ClientKeys::of(record);
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
                if logins.get(keys.login.as_slice())?.is_some() {
                    return abort(Error::Conflict(format!(
                        "a client with Login {} already exists",
                        record.login
                    )));
                }
                clients.insert(&keys.id, value.as_slice())?;
                account_clients.insert(&keys.edge, &[])?;
                logins.insert(keys.login.as_slice(), &keys.id)?;
                Ok(())
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

/// The three keys a client occupies.
struct ClientKeys {
    id: [u8; 16],
    edge: [u8; 32],
    login: Vec<u8>,
}

impl ClientKeys {
    fn of(record: &ClientRecord) -> ClientKeys {
        ClientKeys {
            id: keys::client(&record.sid),
            edge: keys::account_client(&record.account, &record.sid),
            login: keys::login(&record.login),
        }
    }
}

pub(crate) fn abort<T>(err: Error) -> std::result::Result<T, ConflictableTransactionError<Error>> {
    Err(ConflictableTransactionError::Abort(err))
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
