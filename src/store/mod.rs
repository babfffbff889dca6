//! The embedded database: the only code that names `sled`.
//!
//! `Store` owns one tree per entity and one per secondary index (layouts in `keys.rs`), and
//! offers typed reads and typed atomic writes. Every write keeps the indexes in step with the
//! primaries: inside one multi-tree transaction, or, for the writes of one account or one
//! client (kept to one synced flash page), as plain writes, the record first, that `open`
//! mends after a crash cut them short. Every write method flushes before it returns, so the API may
//! acknowledge it (the durability rule of SPEC.md §5).
//!
//! Structural writes are serialised by a coarse write lock, taken by the domain layer as a
//! [`WriteGuard`] and passed back in: sled 0.34 cannot scan inside a transaction (sled#1143),
//! so a cascade scans under the lock and then commits everything it found in one transaction.
//! Reads never take the lock.
//!
//! Layout: this file opens the database and holds the trees; `upgrade.rs` brings older data
//! to the current schema at open; `organizations.rs`, `accounts.rs` and `clients.rs` read
//! and write each entity, `indexes.rs` knows every row a record occupies, `keys.rs` every
//! key layout, `records.rs` the stored forms; `bindings.rs` and `cache.rs` are the two parts
//! held in memory (live bindings, the registrar's decoded records), reached through the
//! methods here.

mod accounts;
pub mod backup;
mod bindings;
mod cache;
pub mod check;
mod clients;
mod indexes;
pub mod keys;
mod organizations;
pub mod records;
mod relayout;
mod upgrade;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use sled::transaction::TransactionError;

use crate::clock::UnixSecs;
use crate::domain::{AccountSid, ClientSid, OrganizationSid, Status};
use crate::error::{Error, Result};
use crate::sync::lock;
use bindings::LiveBindings;
pub use cache::SipDomain;
use cache::{Organizations, RecordCache};
use records::{BindingRecord, ClientAuth};

/// The schema version this binary writes; `open` upgrades older data and refuses newer.
/// 1: before organizations. 2: organizations; accounts and clients name theirs, logins are
/// keyed per organization.
const SCHEMA_VERSION: u32 = 2;

/// Handles to every tree, plus the write lock.
pub struct Store {
    db: sled::Db,
    /// `b"schema_version"` → u32 BE; `b"seq_floor"` → u64 BE (see `next_seq`);
    /// `b"default_organization"` → organization id (16 bytes).
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
    /// Organization id ++ login ++ 0xFF → client id. Unique.
    client_logins: sled::Tree,
    /// Organization id → `OrganizationRecord`.
    organizations: sled::Tree,
    /// Lowercase domain ++ 0xFF → organization id. Unique.
    organization_domains: sled::Tree,

    /// The bindings, in memory (what the registrar and the API read) and in their tree.
    live: LiveBindings,
    /// Decoded copies of what the registrar reads on every REGISTER.
    cache: RecordCache,
    write_lock: Mutex<()>,
}

/// Proof that the caller holds the store's write lock.
pub struct WriteGuard<'a>(#[allow(dead_code)] MutexGuard<'a, ()>);

impl Store {
    /// Opens (creating if needed) the store in `dir` with a page cache of `cache_bytes`;
    /// `default_domain` is the default organization's domain (`sip.realm`), created with an
    /// empty store or an upgraded one, renamed when the setting changed.
    ///
    /// Fails with a clear message when another process holds the directory.
    pub fn open(
        dir: &Path,
        cache_bytes: u64,
        default_domain: &str,
        now: UnixSecs,
    ) -> Result<Store> {
        relayout::take_complete_copy(dir)?;
        let open = |dir: &Path, segments: usize| {
            Store::open_with(dir, cache_bytes, segments, default_domain, now)
        };
        let made_with = made_with_segments(dir).unwrap_or(SEGMENT_BYTES);
        let store = open(dir, made_with)?;
        relayout::remove_leftovers(dir)?;
        if made_with == SEGMENT_BYTES {
            return Ok(store);
        }
        relayout::move_to_small_segments(store, dir, made_with, open)
    }

    /// Opens `dir` with `segment_bytes`-byte segments, which must be the ones it was made
    /// with (sled refuses others).
    pub(crate) fn open_with(
        dir: &Path,
        cache_bytes: u64,
        segment_bytes: usize,
        default_domain: &str,
        now: UnixSecs,
    ) -> Result<Store> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_bytes)
            // No background flusher: besides flushing, it cleans segments on its own, and
            // after churn that kept writing on an idle box (scripts/soak.sh). API writes flush
            // themselves; soft state is flushed by `flush_soft_state` when it changed.
            .flush_every_ms(None)
            .segment_size(segment_bytes)
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
        Store::from_db(db, default_domain, now)
    }

    /// Makes the bindings' changes durable when there are any (the wiring calls it twice a
    /// second); returns whether it flushed. Nothing changed, nothing written.
    pub fn flush_soft_state(&self) -> Result<bool> {
        if !self.live.take_unflushed() {
            return Ok(false);
        }
        self.db.flush()?;
        Ok(true)
    }

    /// A store in a temporary directory that disappears when dropped (tests).
    pub fn open_temporary(default_domain: &str) -> Result<Store> {
        let db = sled::Config::new().temporary(true).open()?;
        Store::from_db(db, default_domain, 0)
    }

    fn from_db(db: sled::Db, default_domain: &str, now: UnixSecs) -> Result<Store> {
        // `b"schema_version"` → u32 big-endian; checked before any other tree is touched.
        let meta = db.open_tree("meta")?;
        let version = match meta.get(b"schema_version")? {
            None => None,
            Some(bytes) => Some(
                <[u8; 4]>::try_from(bytes.as_ref())
                    .map(u32::from_be_bytes)
                    .map_err(|_| Error::Corrupt("schema_version".to_string()))?,
            ),
        };
        if let Some(version) = version.filter(|version| *version > SCHEMA_VERSION) {
            return Err(Error::Io(std::io::Error::other(format!(
                "data directory has schema version {version}, newer than this \
                 binary's {SCHEMA_VERSION}: upgrade edgecomm or use `edgecomm export` \
                 from the newer one"
            ))));
        }
        let seq_floor = match meta.get(b"seq_floor")? {
            Some(bytes) => <[u8; 8]>::try_from(bytes.as_ref())
                .map(u64::from_be_bytes)
                .map_err(|_| Error::Corrupt("seq_floor".to_string()))?,
            None => 0,
        };
        let store = Store {
            meta,
            seq_floor: AtomicU64::new(seq_floor),
            accounts: db.open_tree("accounts")?,
            account_emails: db.open_tree("account_emails")?,
            account_children: db.open_tree("account_children")?,
            clients: db.open_tree("clients")?,
            account_clients: db.open_tree("account_clients")?,
            client_logins: db.open_tree("client_logins")?,
            organizations: db.open_tree("organizations")?,
            organization_domains: db.open_tree("organization_domains")?,
            live: LiveBindings::new(db.open_tree("bindings")?),
            cache: RecordCache::default(),
            db,
            write_lock: Mutex::new(()),
        };
        if version != Some(SCHEMA_VERSION) {
            store.upgrade_to_2(default_domain, now)?;
        }
        store.follow_default_domain(default_domain, now)?;
        store.repair_account_rows()?;
        store.repair_client_rows()?;
        Ok(store)
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
        self.cache.invalidate();
        self.flush()
    }

    /// The registration credentials of a client, by organization and login (cached).
    pub fn auth_by_login(
        &self,
        organization: &OrganizationSid,
        login: &str,
    ) -> Result<Option<Arc<ClientAuth>>> {
        self.cache.by_login(organization, login, || {
            self.client_by_login(organization, login)
        })
    }

    /// The organization a SIP host names: the one with that domain (any case), else the
    /// default one (the box's own addresses, unknown names). Cached.
    pub fn sip_domain(&self, host: &str) -> Result<SipDomain> {
        let all = self.cache.organizations(|| self.load_organizations())?;
        Ok(all.find(host).unwrap_or(all.default()).clone())
    }

    /// The organization whose domain is exactly `host` (any case), if one is. Cached.
    pub fn sip_domain_named(&self, host: &str) -> Result<Option<SipDomain>> {
        let all = self.cache.organizations(|| self.load_organizations())?;
        Ok(all.find(host).cloned())
    }

    fn load_organizations(&self) -> Result<Organizations> {
        let default = self.default_organization()?;
        Organizations::of(&self.all_organizations()?, default)
            .ok_or_else(|| Error::Corrupt(format!("default organization {default} missing")))
    }

    /// The registration credentials of a client, by id (cached).
    pub fn auth_by_sid(&self, sid: &ClientSid) -> Result<Option<Arc<ClientAuth>>> {
        self.cache.by_sid(sid, || self.client(sid))
    }

    /// An account's status (cached).
    pub fn account_status(&self, sid: &AccountSid) -> Result<Option<Status>> {
        self.cache.status(sid, || self.account(sid))
    }

    /// Loads the stored bindings into memory, dropping expired ones and those of the clients
    /// `may_keep` refuses, from memory and from disk. Returns how many were kept.
    pub fn load_bindings(
        &self,
        now: UnixSecs,
        may_keep: impl FnMut(&ClientSid) -> Result<bool>,
    ) -> Result<usize> {
        self.live.load(now, may_keep)
    }

    /// The current bindings of a client (expired ones included until the sweeper runs).
    pub fn bindings(&self, client: &ClientSid) -> Vec<BindingRecord> {
        self.live.of(client)
    }

    /// True when any binding satisfies `pred` (a scan of them all).
    pub fn any_binding(&self, pred: impl Fn(&BindingRecord) -> bool) -> bool {
        self.live.any(pred)
    }

    /// Calls `tally` with every unexpired binding of every client.
    pub fn tally_bindings(&self, now: UnixSecs, tally: impl FnMut(&BindingRecord)) {
        self.live.tally(now, tally)
    }

    /// How many unexpired bindings a client has.
    pub fn binding_count(&self, client: &ClientSid, now: UnixSecs) -> usize {
        self.live.count(client, now)
    }

    /// Runs `change` on a client's bindings under its shard lock: it gets them as they are
    /// and returns them as they shall be, with a value for the caller. What changed reaches
    /// the tree without a flush, and a refresh a restart does not need is not written at all
    /// (see `bindings.rs`). `change` may read the store (reads take no lock).
    pub fn update_bindings<T>(
        &self,
        client: &ClientSid,
        now: UnixSecs,
        change: impl FnOnce(&[BindingRecord]) -> Result<(Vec<BindingRecord>, T)>,
    ) -> Result<T> {
        self.live.update(client, now, change)
    }

    /// Drops every binding of these clients at once (disabled, deleted, account not active).
    pub fn drop_bindings(&self, clients: &[ClientSid]) -> Result<usize> {
        self.live.drop(clients)
    }

    /// Removes expired bindings from memory and from the tree; returns how many.
    pub fn purge_expired_bindings(&self, now: UnixSecs) -> Result<usize> {
        self.live.purge_expired(now)
    }

    /// The rows of an index tree that `justified(key, value)` finds no record for: what the
    /// mending at open removes (see `repair_client_rows`).
    fn unjustified<'t>(
        &self,
        tree: &'t sled::Tree,
        justified: impl Fn(&[u8], &[u8]) -> Result<bool>,
    ) -> Result<Vec<(&'t sled::Tree, sled::IVec)>> {
        let mut stale = Vec::new();
        for entry in tree.iter() {
            let (key, value) = entry?;
            if !justified(&key, &value)? {
                stale.push((tree, key));
            }
        }
        Ok(stale)
    }

    /// Removes the `stale` rows of `what`'s indexes, then lets `complete` write the missing
    /// ones (returning how many); logs and flushes when anything changed, else writes nothing.
    fn mend(
        &self,
        what: &str,
        stale: Vec<(&sled::Tree, sled::IVec)>,
        complete: impl FnOnce() -> Result<usize>,
    ) -> Result<usize> {
        let mut changed = stale.len();
        for (tree, key) in stale {
            tree.remove(key)?;
        }
        changed += complete()?;
        if changed > 0 {
            log::warn!("mended {changed} {what} index rows left by an interrupted write");
            self.flush()?;
        }
        Ok(changed)
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

    /// Bytes the database takes on disk.
    pub fn size_on_disk(&self) -> Result<u64> {
        Ok(self.db.size_on_disk()?)
    }

    /// True when no account exists yet (first start).
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.accounts.is_empty())
    }
}

/// sled's segment size: small segments are cleaned at a finer grain, so API churn leaves a
/// directory within 2x its live data, where the default 512 KiB ones left 2.7x
/// (scripts/soak.sh); below 32 KiB most tree nodes become separate blob files. A directory
/// made with others is moved to these at open (`relayout.rs`).
const SEGMENT_BYTES: usize = 32 * 1024;

/// The segment size `dir` was made with, from sled's `conf` file; none for a new directory.
fn made_with_segments(dir: &Path) -> Option<usize> {
    let conf = std::fs::read(dir.join("conf")).ok()?;
    let text = String::from_utf8_lossy(&conf).into_owned();
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("segment_size: "))?;
    line.trim().parse::<usize>().ok()
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
