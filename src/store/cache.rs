//! The registrar's decoded view of the records it reads on every REGISTER: client
//! credentials by login and by id, and account statuses. Decoding JSON records was a third
//! of all instructions of a REGISTER (callgrind).
//!
//! Kept trivially in step with the trees: every write of an account or a client clears it
//! whole (admin writes are rare) and bumps a generation; a reader that read a tree before
//! such a write sees the generation changed and does not insert, so a stale entry can never
//! outlive the write that made it stale.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::domain::{AccountSid, ClientSid, Status};
use crate::error::Result;
use crate::store::records::{AccountRecord, ClientAuth, ClientRecord};
use crate::sync::lock;

/// The cache. Each lookup is given the tree read to run on a miss, so this file knows no
/// tree and the store's methods stay one line each.
#[derive(Default)]
pub(super) struct RecordCache(Mutex<Entries>);

#[derive(Default)]
struct Entries {
    generation: u64,
    by_login: HashSet<ByLogin>,
    by_sid: HashMap<ClientSid, Arc<ClientAuth>>,
    /// The realm every cached client shares, unless a record names another.
    realm: Option<Arc<str>>,
    statuses: HashMap<AccountSid, Status>,
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

/// Entries beyond which the cache starts over (a box with more clients just decodes more).
const CACHE_MAX: usize = 200_000;

type Read<T> = Result<Option<T>>;

impl RecordCache {
    /// A client's credentials by login; `read` reads the record on a miss.
    pub fn by_login(
        &self,
        login: &str,
        read: impl FnOnce() -> Read<ClientRecord>,
    ) -> Read<Arc<ClientAuth>> {
        self.client(
            |cache| cache.by_login.get(login).map(|found| &found.0),
            read,
        )
    }

    /// A client's credentials by id; `read` reads the record on a miss.
    pub fn by_sid(
        &self,
        sid: &ClientSid,
        read: impl FnOnce() -> Read<ClientRecord>,
    ) -> Read<Arc<ClientAuth>> {
        self.client(|cache| cache.by_sid.get(sid), read)
    }

    /// A cached client `hit` finds, or else the record `read` finds, remembered unless a
    /// write came between (the generation changed).
    fn client(
        &self,
        hit: impl FnOnce(&Entries) -> Option<&Arc<ClientAuth>>,
        read: impl FnOnce() -> Read<ClientRecord>,
    ) -> Read<Arc<ClientAuth>> {
        let generation = {
            let cache = self.lock();
            if let Some(found) = hit(&cache) {
                return Ok(Some(found.clone()));
            }
            cache.generation
        };
        let Some(record) = read()? else {
            return Ok(None);
        };
        self.remember(generation, &record).map(Some)
    }

    /// An account's status; `read` reads the record on a miss.
    pub fn status(
        &self,
        sid: &AccountSid,
        read: impl FnOnce() -> Read<AccountRecord>,
    ) -> Read<Status> {
        let generation = {
            let cache = self.lock();
            if let Some(status) = cache.statuses.get(sid) {
                return Ok(Some(*status));
            }
            cache.generation
        };
        let Some(record) = read()? else {
            return Ok(None);
        };
        let mut cache = self.lock();
        if cache.generation == generation && cache.statuses.len() < CACHE_MAX {
            cache.statuses.insert(*sid, record.status);
        }
        Ok(Some(record.status))
    }

    fn remember(&self, generation: u64, record: &ClientRecord) -> Result<Arc<ClientAuth>> {
        let mut cache = self.lock();
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

    /// Empties the cache; called after every account or client write, before its flush.
    pub fn invalidate(&self) {
        let mut cache = self.lock();
        let generation = cache.generation + 1;
        *cache = Entries {
            generation,
            ..Entries::default()
        };
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        lock(&self.0)
    }
}
