//! Accounts: the hierarchy, roles, credentials and the status cascade (SPEC.md §2).
//!
//! Reach rules: an Administrator acts on itself and every descendant; a Developer or a
//! ProvisioningAgent only on its own record. Anything out of reach is `NotFound`, so existence
//! is not leaked. Every mutation runs under the store's write lock: it reads what it needs,
//! decides every new record (for a cascade, the whole subtree), and hands them to the store,
//! which commits them in one transaction and flushes.
//!
//! The cascade keeps two invariants, checked by `store::check`:
//! an active account has an active parent (or none), and a closed account has only closed
//! descendants. A status set by a cascade is marked `inherited`, so that re-activating an
//! ancestor re-activates exactly the accounts that the cascade suspended.

use std::collections::HashMap;

use crate::clock::UnixSecs;
use crate::crypto;
use crate::domain::organizations;
use crate::domain::{
    AccountRef, AccountSid, Email, FriendlyName, OrganizationSid, Password, Role, Status,
};
use crate::error::{Error, Result};
use crate::store::records::{AccountRecord, PasswordHash};
use crate::store::{Store, WriteGuard};

/// Who is calling: what the rules need of an authenticated account, and no secret. Only
/// [`verify_credentials`] makes one from a request; rules that depend on the caller's
/// current state re-read it under the write lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The account.
    pub sid: AccountSid,
    /// What it may do.
    pub role: Role,
    /// Its depth in the tree (a root is 1).
    pub depth: u32,
    /// Its organization.
    pub organization: OrganizationSid,
}

impl Caller {
    /// True for the root Administrator, the super-admin of the Accounts document: the only
    /// account whose reach spans organizations.
    pub fn is_root(&self) -> bool {
        self.role == Role::Administrator && self.depth == 1
    }
}

/// An account as callers see it: every public field of the record, none of its hashes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// The account's identifier.
    pub sid: AccountSid,
    /// The owner account; `None` for a root account.
    pub parent: Option<AccountSid>,
    /// Its organization.
    pub organization: OrganizationSid,
    /// The email address as given at creation.
    pub email: String,
    /// Display name.
    pub friendly_name: String,
    /// Lifecycle status.
    pub status: Status,
    /// What the account may do.
    pub role: Role,
    /// Its depth in the tree (a root is 1).
    pub depth: u32,
    /// Unix seconds of creation.
    pub created: UnixSecs,
    /// Unix seconds of the last change.
    pub updated: UnixSecs,
}

impl Account {
    pub(crate) fn of(record: &AccountRecord) -> Account {
        Account {
            sid: record.sid,
            parent: record.parent,
            organization: record.organization,
            email: record.email.clone(),
            friendly_name: record.friendly_name.clone(),
            status: record.status,
            role: record.role,
            depth: record.depth,
            created: record.created,
            updated: record.updated,
        }
    }

    /// This account as the caller of a request (once it has authenticated).
    pub fn as_caller(&self) -> Caller {
        Caller {
            sid: self.sid,
            role: self.role,
            depth: self.depth,
            organization: self.organization,
        }
    }
}

/// What a caller asks for when creating a sub-account.
#[derive(Debug)]
pub struct NewAccount {
    /// Required, unique (case-insensitive).
    pub email: Email,
    /// Required; becomes the password hash and a fresh AuthToken.
    pub password: Password,
    /// Defaults to the email.
    pub friendly_name: Option<FriendlyName>,
    /// Defaults to the creator's role.
    pub role: Option<Role>,
    /// Defaults to `active`.
    pub status: Option<Status>,
    /// Defaults to the parent's; another one only for a top-level account, and only by the
    /// root Administrator.
    pub organization: Option<OrganizationSid>,
}

/// The fields an update may change; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct AccountChanges {
    /// New display name.
    pub friendly_name: Option<FriendlyName>,
    /// New password; also issues a new AuthToken and activates an uninitialized account.
    pub password: Option<Password>,
    /// New status, cascaded over the subtree.
    pub status: Option<Status>,
    /// New role; Administrators only, never on oneself.
    pub role: Option<Role>,
}

/// An account after a write, with the AuthToken in clear when the write issued one.
/// The token exists in clear only here: the store keeps its hash.
#[derive(Debug)]
pub struct Issued {
    /// The account as stored after the write.
    pub account: Account,
    /// The new AuthToken, when this write created one.
    pub auth_token: Option<String>,
}

/// Limits that come from the configuration.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Maximum depth of the account tree (a root is at depth 1).
    pub max_depth: u32,
}

/// Creates the root Administrator on an empty store (first start).
pub fn create_root(
    store: &Store,
    email: &Email,
    password: &Password,
    now: UnixSecs,
) -> Result<Issued> {
    let guard = store.write_lock();
    if !store.is_empty()? {
        return Err(Error::Conflict(
            "the store already has accounts".to_string(),
        ));
    }
    let (token, token_hash) = new_token()?;
    let record = AccountRecord {
        sid: AccountSid::random()?,
        parent: None,
        organization: store.default_organization()?,
        email: email.as_str().to_string(),
        friendly_name: default_friendly_name(email),
        status: Status::Active,
        inherited: false,
        role: Role::Administrator,
        token_hash,
        password: hash_password(password)?,
        depth: 1,
        seq: 0,
        created: now,
        updated: now,
    };
    commit_new(store, &guard, record, token)
}

/// Creates a sub-account of `parent`, which is the caller or one of its descendants
/// (Administrators only; anything else out of reach is `NotFound`). The parent must be
/// active: a child may not be more active than its parent, and a closed one takes no more.
pub fn create(
    store: &Store,
    caller: &Caller,
    parent: &AccountRef,
    new: NewAccount,
    limits: Limits,
    now: UnixSecs,
) -> Result<Issued> {
    if caller.role != Role::Administrator {
        return Err(Error::Forbidden(
            "only an Administrator may create sub-accounts".to_string(),
        ));
    }
    let parent = find_record(store, caller, parent)?;
    if parent.depth >= limits.max_depth {
        return Err(Error::Invalid(format!(
            "the account tree is limited to {} levels",
            limits.max_depth
        )));
    }
    let status = new.status.unwrap_or(Status::Active);
    if status == Status::Closed {
        return Err(Error::Invalid("a new account cannot be closed".to_string()));
    }
    // Random values and hashing happen before the lock: they are slow and need no state.
    let (token, token_hash) = new_token()?;
    let password = hash_password(&new.password)?;
    let sid = AccountSid::random()?;
    let guard = store.write_lock();
    // Re-read under the lock, so that a cascade that just suspended the parent (or the caller,
    // whose cascade reaches the parent too) cannot be outrun.
    let parent = store
        .account(&parent.sid)?
        .ok_or(Error::NotFound("account"))?;
    check_can_adopt(&parent, caller)?;
    let organization = placement(store, caller, &parent, new.organization)?;
    let record = AccountRecord {
        sid,
        parent: Some(parent.sid),
        organization,
        email: new.email.as_str().to_string(),
        friendly_name: new
            .friendly_name
            .map(|name| name.as_str().to_string())
            .unwrap_or_else(|| default_friendly_name(&new.email)),
        status,
        inherited: false,
        role: new.role.unwrap_or(caller.role),
        token_hash,
        password,
        depth: parent.depth + 1,
        seq: 0,
        created: now,
        updated: now,
    };
    commit_new(store, &guard, record, token)
}

/// A new child needs an active parent. When the parent is the caller, an inactive one means
/// the caller's credentials stopped working mid-request (401, as the next request would get).
fn check_can_adopt(parent: &AccountRecord, caller: &Caller) -> Result<()> {
    match parent.status {
        Status::Active => Ok(()),
        _ if parent.sid == caller.sid => Err(Error::Unauthorized),
        Status::Closed => Err(Error::Conflict(
            "the account is closed and cannot be modified".to_string(),
        )),
        other => Err(Error::Conflict(format!(
            "the account is {}; a sub-account needs an active parent",
            other.as_str()
        ))),
    }
}

/// The organization of a new child of `parent`: the parent's, unless `asked` names another,
/// which only the root Administrator may do (403), for a top-level account only (400), and
/// which must exist (400). Checked in that order, so that another Administrator learns
/// nothing about which organizations exist.
fn placement(
    store: &Store,
    caller: &Caller,
    parent: &AccountRecord,
    asked: Option<OrganizationSid>,
) -> Result<OrganizationSid> {
    let Some(asked) = asked.filter(|asked| *asked != parent.organization) else {
        return Ok(parent.organization);
    };
    if !caller.is_root() {
        return Err(Error::Forbidden(
            "only the root Administrator may place an account in another organization".to_string(),
        ));
    }
    if parent.parent.is_some() {
        return Err(Error::Invalid(format!(
            "a sub-account belongs to its parent's organization ({}); only a top-level \
             account may be placed in another one",
            parent.organization
        )));
    }
    organizations::existing(store, &asked)?;
    Ok(asked)
}

/// Numbers a new account (lists are oldest first by this) and inserts it.
fn commit_new(
    store: &Store,
    guard: &WriteGuard<'_>,
    mut record: AccountRecord,
    token: String,
) -> Result<Issued> {
    record.seq = store.next_seq()?;
    store.insert_account(guard, &record)?;
    Ok(Issued {
        account: Account::of(&record),
        auth_token: Some(token),
    })
}

/// Finds an account by SID or email within the caller's reach; anything else is `NotFound`.
pub fn find(store: &Store, caller: &Caller, id: &AccountRef) -> Result<Account> {
    find_record(store, caller, id).map(|record| Account::of(&record))
}

pub(crate) fn find_record(
    store: &Store,
    caller: &Caller,
    id: &AccountRef,
) -> Result<AccountRecord> {
    let record = lookup(store, id)?.ok_or(Error::NotFound("account"))?;
    if record.sid == caller.sid {
        return Ok(record);
    }
    if caller.role == Role::Administrator && is_ancestor(store, &caller.sid, &record)? {
        return Ok(record);
    }
    Err(Error::NotFound("account"))
}

/// Every descendant of the caller (all depths), oldest first; only those of `organization`
/// when one is given (another than the caller's own for the root Administrator only).
/// Administrators only.
pub fn list(
    store: &Store,
    caller: &Caller,
    organization: Option<OrganizationSid>,
) -> Result<Vec<Account>> {
    if caller.role != Role::Administrator {
        return Err(Error::Forbidden(
            "only an Administrator may list sub-accounts".to_string(),
        ));
    }
    if let Some(asked) = organization.filter(|asked| *asked != caller.organization) {
        if !caller.is_root() {
            return Err(Error::Forbidden(
                "only the root Administrator may list the accounts of another organization"
                    .to_string(),
            ));
        }
        organizations::existing(store, &asked)?;
    }
    let mut all = descendants(store, &caller.sid)?;
    if let Some(asked) = organization {
        all.retain(|record| record.organization == asked);
    }
    all.sort_by_key(|record| record.seq);
    Ok(all.iter().map(Account::of).collect())
}

/// Applies `changes` to the account named by `sid_or_email`, cascading a status change over
/// its subtree, all in one transaction.
pub fn update(
    store: &Store,
    caller: &Caller,
    id: &AccountRef,
    changes: AccountChanges,
    now: UnixSecs,
) -> Result<Issued> {
    let target = find_record(store, caller, id)?;
    let on_self = target.sid == caller.sid;
    if on_self && changes.status.is_some() {
        return Err(Error::Forbidden(
            "an account cannot change its own Status".to_string(),
        ));
    }
    if changes.role.is_some() && (on_self || caller.role != Role::Administrator) {
        return Err(Error::Forbidden(
            "only an Administrator may set Role, and not on itself".to_string(),
        ));
    }
    let issued = match &changes.password {
        Some(password) => Some((new_token()?, hash_password(password)?)),
        None => None,
    };

    let guard = store.write_lock();
    let mut record = store
        .account(&target.sid)?
        .ok_or(Error::NotFound("account"))?;
    if record.status == Status::Closed {
        return Err(Error::Conflict(
            "the account is closed and cannot be modified".to_string(),
        ));
    }
    let new_status = next_status(store, &record, changes.status, issued.is_some())?;
    if let Some(name) = changes.friendly_name {
        record.friendly_name = name.as_str().to_string();
    }
    if let Some(role) = changes.role {
        record.role = role;
    }
    let auth_token = issued.map(|((token, token_hash), password)| {
        record.token_hash = token_hash;
        record.password = password;
        token
    });
    record.updated = now;
    let mut writes = Vec::new();
    if let Some(status) = new_status {
        record.status = status;
        record.inherited = false;
        writes = cascade(store, &record, now)?;
    }
    writes.insert(0, record.clone());
    commit_statuses(store, &guard, &writes)?;
    drop(guard);
    Ok(Issued {
        account: Account::of(&record),
        auth_token,
    })
}

/// The status an update leaves `record` in, if it changes: the one asked for, or `active`
/// for an uninitialized account given a password (that is what initialises it, SPEC.md
/// §2.1). Activation needs an initialised account and an active parent. Runs under the lock.
fn next_status(
    store: &Store,
    record: &AccountRecord,
    asked: Option<Status>,
    password_set: bool,
) -> Result<Option<Status>> {
    let initialising = password_set && record.status == Status::Uninitialized;
    let next = asked.or(initialising.then_some(Status::Active));
    if next == Some(Status::Active) {
        if record.status == Status::Uninitialized && !password_set {
            return Err(Error::Conflict(
                "an uninitialized account becomes active when its Password is set".to_string(),
            ));
        }
        let parent_status = match record.parent {
            Some(parent) => store.account(&parent)?.map(|parent| parent.status),
            None => None,
        };
        if parent_status.is_some_and(|status| status != Status::Active) {
            return Err(Error::Conflict(
                "an account cannot be more active than its parent; activate the parent first"
                    .to_string(),
            ));
        }
    }
    Ok(next)
}

/// Commits `writes` (an account and what its cascade changed) in one transaction. Closing
/// removes the clients of every account it closes in the same transaction; any account left
/// not active loses its clients' live bindings right after the commit.
fn commit_statuses(store: &Store, guard: &WriteGuard<'_>, writes: &[AccountRecord]) -> Result<()> {
    let mut removed_clients = Vec::new();
    let mut silenced = Vec::new();
    for account in writes
        .iter()
        .filter(|account| account.status != Status::Active)
    {
        let clients = store.account_clients(&account.sid)?;
        silenced.extend(clients.iter().map(|client| client.sid));
        if account.status == Status::Closed {
            removed_clients.extend(clients);
        }
    }
    store.update_accounts(guard, writes, &removed_clients)?;
    store.drop_bindings(&silenced)?;
    Ok(())
}

/// Closes an account and its whole subtree (the API's DELETE). Closing oneself is refused.
pub fn close(store: &Store, caller: &Caller, id: &AccountRef, now: UnixSecs) -> Result<Account> {
    let changes = AccountChanges {
        status: Some(Status::Closed),
        ..AccountChanges::default()
    };
    Ok(update(store, caller, id, changes, now)?.account)
}

/// Checks Basic credentials: `user` is a SID or an email, `secret` the AuthToken or the
/// password. Unknown user, wrong secret and an account that is not active all give the same
/// `Unauthorized`, after the same amount of hashing.
pub fn verify_credentials(store: &Store, user: &str, secret: &str) -> Result<Caller> {
    let record = lookup(store, &AccountRef::parse(user))?;
    let Some(record) = record else {
        // Burn the same time as a real password check, so timing does not reveal the user.
        let _ = crypto::pbkdf2_sha256(secret.as_bytes(), &[0u8; 16], crypto::PBKDF2_ITERATIONS);
        return Err(Error::Unauthorized);
    };
    let token_ok = crypto::ct_eq(
        crypto::sha256_hex(secret.as_bytes()).as_bytes(),
        record.token_hash.as_bytes(),
    );
    let secret_ok = token_ok || password_matches(&record.password, secret);
    if !secret_ok || record.status != Status::Active {
        return Err(Error::Unauthorized);
    }
    Ok(caller_of(&record))
}

/// The account's credential stamp: the hash of its AuthToken, which every password change
/// replaces. A console session remembers it, so a new password ends the old sessions.
pub fn credential_stamp(store: &Store, sid: &AccountSid) -> Result<String> {
    let record = store.account(sid)?.ok_or(Error::Unauthorized)?;
    Ok(record.token_hash)
}

/// The caller behind a console session: `Unauthorized` once the account is no longer active
/// or its credentials changed since sign-in (its stamp is no longer `stamp`).
pub fn session_caller(store: &Store, sid: &AccountSid, stamp: &str) -> Result<Caller> {
    let record = store.account(sid)?.ok_or(Error::Unauthorized)?;
    let same = crypto::ct_eq(record.token_hash.as_bytes(), stamp.as_bytes());
    if !same || record.status != Status::Active {
        return Err(Error::Unauthorized);
    }
    Ok(caller_of(&record))
}

fn caller_of(record: &AccountRecord) -> Caller {
    Caller {
        sid: record.sid,
        role: record.role,
        depth: record.depth,
        organization: record.organization,
    }
}

/// Reads an account by SID, or else by email (case-insensitive).
pub(crate) fn lookup(store: &Store, id: &AccountRef) -> Result<Option<AccountRecord>> {
    match id {
        AccountRef::Sid(sid) => store.account(sid),
        AccountRef::Email(email) => store.account_by_email(&email.to_ascii_lowercase()),
    }
}

/// True when `ancestor` is a proper ancestor of `record`. Walks up at most the tree depth.
pub(crate) fn is_ancestor(
    store: &Store,
    ancestor: &AccountSid,
    record: &AccountRecord,
) -> Result<bool> {
    let mut next = record.parent;
    while let Some(sid) = next {
        if sid == *ancestor {
            return Ok(true);
        }
        next = store.account(&sid)?.and_then(|parent| parent.parent);
    }
    Ok(false)
}

/// Every descendant of `root`, parents before children (breadth-first).
pub(crate) fn descendants(store: &Store, root: &AccountSid) -> Result<Vec<AccountRecord>> {
    let mut out = Vec::new();
    let mut queue = std::collections::VecDeque::from([*root]);
    while let Some(sid) = queue.pop_front() {
        for child in store.children(&sid)? {
            let record = store
                .account(&child)?
                .ok_or_else(|| Error::Corrupt(format!("child edge to missing account {child}")))?;
            queue.push_back(child);
            out.push(record);
        }
    }
    Ok(out)
}

/// `record` and every descendant, parents before children.
pub(crate) fn subtree(store: &Store, record: AccountRecord) -> Result<Vec<AccountRecord>> {
    let mut all = descendants(store, &record.sid)?;
    all.insert(0, record);
    Ok(all)
}

/// The new records of `root`'s descendants after `root` took its (already set) new status.
/// Must run under the write lock, so that the scan and the commit see the same tree.
fn cascade(store: &Store, root: &AccountRecord, now: UnixSecs) -> Result<Vec<AccountRecord>> {
    let mut new_status: HashMap<AccountSid, Status> = HashMap::from([(root.sid, root.status)]);
    let mut changed = Vec::new();
    // Breadth-first order means a parent's new status is known before its children's.
    for mut record in descendants(store, &root.sid)? {
        let parent_status = record
            .parent
            .and_then(|parent| new_status.get(&parent).copied())
            .ok_or_else(|| Error::Corrupt(format!("account {} outside its tree", record.sid)))?;
        let next = match (root.status, record.status) {
            (_, Status::Closed) => None,
            (Status::Closed, _) => Some(Status::Closed),
            (Status::Uninitialized, _) => Some(Status::Uninitialized),
            (Status::Suspended, Status::Active) => Some(Status::Suspended),
            (Status::Active, Status::Suspended)
                if record.inherited && parent_status == Status::Active =>
            {
                Some(Status::Active)
            }
            _ => None,
        };
        if let Some(status) = next.filter(|status| *status != record.status) {
            record.status = status;
            // Re-activated accounts are back on their own footing; cascaded ones remember it.
            record.inherited = status != Status::Active;
            record.updated = now;
            new_status.insert(record.sid, status);
            changed.push(record);
        } else {
            new_status.insert(record.sid, record.status);
        }
    }
    Ok(changed)
}

fn default_friendly_name(email: &Email) -> String {
    email.as_str().chars().take(64).collect()
}

/// A fresh AuthToken (32 hex characters) and the hash the store keeps of it.
fn new_token() -> Result<(String, String)> {
    let token = crypto::hex(&crypto::random_bytes::<16>()?);
    let hash = crypto::sha256_hex(token.as_bytes());
    Ok((token, hash))
}

fn hash_password(password: &Password) -> Result<PasswordHash> {
    let salt = crypto::random_bytes::<16>()?;
    let hash = crypto::pbkdf2_sha256(
        password.expose().as_bytes(),
        &salt,
        crypto::PBKDF2_ITERATIONS,
    );
    Ok(PasswordHash {
        salt: crypto::hex(&salt),
        iterations: crypto::PBKDF2_ITERATIONS,
        hash: crypto::hex(&hash),
    })
}

fn password_matches(stored: &PasswordHash, candidate: &str) -> bool {
    let Some(salt) = crypto::unhex::<16>(&stored.salt) else {
        return false;
    };
    let derived = crypto::pbkdf2_sha256(candidate.as_bytes(), &salt, stored.iterations);
    crypto::ct_eq(crypto::hex(&derived).as_bytes(), stored.hash.as_bytes())
}

/// Bytes the box's store takes on disk, for the metrics.
pub fn store_bytes(store: &Store) -> Result<u64> {
    store.size_on_disk()
}

/// Every account of the box by status, for the metrics (a scan of them all).
pub fn count_by_status(store: &Store) -> Result<Vec<(&'static str, usize)>> {
    let statuses = [
        Status::Active,
        Status::Suspended,
        Status::Closed,
        Status::Uninitialized,
    ];
    let mut counts = statuses.map(|status| (status.as_str(), 0));
    for record in store.all_accounts()? {
        if let Some(idx) = statuses.iter().position(|status| *status == record.status) {
            counts[idx].1 += 1;
        }
    }
    Ok(counts.to_vec())
}
