//! The registrar's decoded view of the records it reads on every REGISTER: the
//! organizations by domain, client credentials by organization and login and by id, and
//! account statuses. Decoding JSON records was a third
//! of all instructions of a REGISTER (callgrind).
//!
//! Kept trivially in step with the trees: every write of an account or a client clears it
//! whole (admin writes are rare) and bumps a generation; a reader that read a tree before
//! such a write sees the generation changed and does not insert, so a stale entry can never
//! outlive the write that made it stale.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::domain::{AccountSid, ClientSid, OrganizationSid, Status};
use crate::error::Result;
use crate::store::records::{AccountRecord, ClientAuth, ClientRecord, OrganizationRecord};
use crate::sync::lock;

/// The cache. Each lookup is given the tree read to run on a miss, so this file knows no
/// tree and the store's methods stay one line each.
#[derive(Default)]
pub(super) struct RecordCache(Mutex<Entries>);

#[derive(Default)]
struct Entries {
    generation: u64,
    by_login: HashMap<OrganizationSid, HashSet<ByLogin>>,
    by_sid: HashMap<ClientSid, Arc<ClientAuth>>,
    /// One allocation per realm, shared by the cached clients of each organization.
    realms: HashSet<Arc<str>>,
    statuses: HashMap<AccountSid, Status>,
    organizations: Option<Arc<Organizations>>,
}

/// An organization as the registrar needs it: its SID and its domain, the digest realm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SipDomain {
    /// The organization.
    pub sid: OrganizationSid,
    /// Its domain, exactly as challenges carry it.
    pub realm: Arc<str>,
}

/// Every organization by lowercase domain, and the default one.
#[derive(Debug)]
pub(super) struct Organizations {
    by_domain: HashMap<Box<str>, SipDomain>,
    default: SipDomain,
}

impl Organizations {
    /// The directory of `records`, `default` being the default organization's SID.
    pub fn of(records: &[OrganizationRecord], default: OrganizationSid) -> Option<Organizations> {
        let by_domain: HashMap<Box<str>, SipDomain> = records
            .iter()
            .map(|record| {
                let domain = SipDomain {
                    sid: record.sid,
                    realm: Arc::from(record.domain.as_str()),
                };
                (record.domain.to_ascii_lowercase().into_boxed_str(), domain)
            })
            .collect();
        let default = by_domain.values().find(|d| d.sid == default)?.clone();
        Some(Organizations { by_domain, default })
    }

    /// The organization whose domain is `host` (any case), if one is.
    pub fn find(&self, host: &str) -> Option<&SipDomain> {
        if host.bytes().any(|b| b.is_ascii_uppercase()) {
            self.by_domain.get(host.to_ascii_lowercase().as_str())
        } else {
            self.by_domain.get(host)
        }
    }

    /// The default organization.
    pub fn default(&self) -> &SipDomain {
        &self.default
    }
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
    /// A client's credentials by organization and login; `read` reads the record on a miss.
    pub fn by_login(
        &self,
        organization: &OrganizationSid,
        login: &str,
        read: impl FnOnce() -> Read<ClientRecord>,
    ) -> Read<Arc<ClientAuth>> {
        self.client(
            |cache| {
                let logins = cache.by_login.get(organization)?;
                logins.get(login).map(|found| &found.0)
            },
            Some(organization),
            read,
        )
    }

    /// The organizations; `read` loads them on a miss.
    pub fn organizations(
        &self,
        read: impl FnOnce() -> Result<Organizations>,
    ) -> Result<Arc<Organizations>> {
        let generation = {
            let cache = self.lock();
            if let Some(found) = &cache.organizations {
                return Ok(found.clone());
            }
            cache.generation
        };
        let loaded = Arc::new(read()?);
        let mut cache = self.lock();
        if cache.generation == generation {
            cache.organizations = Some(loaded.clone());
        }
        Ok(loaded)
    }

    /// A client's credentials by id; `read` reads the record on a miss.
    pub fn by_sid(
        &self,
        sid: &ClientSid,
        read: impl FnOnce() -> Read<ClientRecord>,
    ) -> Read<Arc<ClientAuth>> {
        self.client(|cache| cache.by_sid.get(sid), None, read)
    }

    /// A cached client `hit` finds, or else the record `read` finds, remembered unless a
    /// write came between (the generation changed).
    fn client(
        &self,
        hit: impl FnOnce(&Entries) -> Option<&Arc<ClientAuth>>,
        organization: Option<&OrganizationSid>,
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
        self.remember(generation, &record, organization).map(Some)
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

    /// Decodes `record` and keeps it (by id, and by login in `organization` when it was
    /// looked up there) unless a write came between.
    fn remember(
        &self,
        generation: u64,
        record: &ClientRecord,
        organization: Option<&OrganizationSid>,
    ) -> Result<Arc<ClientAuth>> {
        let mut cache = self.lock();
        let realm = match cache.realms.get(record.realm.as_str()) {
            Some(realm) => realm.clone(),
            None => Arc::from(record.realm.as_str()),
        };
        let auth = Arc::new(ClientAuth::of(record, realm.clone())?);
        if cache.generation == generation && cache.by_sid.len() < CACHE_MAX {
            cache.realms.insert(realm);
            if let Some(organization) = organization {
                let logins = cache.by_login.entry(*organization).or_default();
                logins.replace(ByLogin(auth.clone()));
            }
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
