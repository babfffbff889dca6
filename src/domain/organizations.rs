//! Organizations: one SIP domain each (SPEC.md §2.1), and the migration of a top-level
//! account with its subtree from one to another.
//!
//! Reach: the root Administrator (the Accounts document's super-admin) sees and creates
//! every organization; any other account sees its own only (its phones' domain), and
//! anything else is `NotFound`. The box's first organization, the default one, has the
//! domain `sip.realm` and holds the root Administrator.
//!
//! A client's HA1 values are bound to the domain they were made for, so a migration cannot
//! carry them over. It does not break the phones either: a moved client keeps its login
//! (and its HA1 values) in the organization it left, where its phones go on registering
//! unchanged, and is answered 403 with a `Warning` at its new domain until it gets a new
//! `Password`, which moves it there for good. The migration's answer lists those clients.

use crate::clock::UnixSecs;
use crate::domain::accounts::{self, Account, Caller};
use crate::domain::clients::Client;
use crate::domain::{AccountRef, DomainName, OrganizationRef, OrganizationSid, Status};
use crate::error::{Error, Result};
use crate::store::records::{ClientRecord, OrganizationRecord};
use crate::store::Store;

/// An organization as callers see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Organization {
    /// The organization's identifier.
    pub sid: OrganizationSid,
    /// Its SIP domain (the realm its phones answer challenges for).
    pub domain: String,
    /// Lifecycle status.
    pub status: Status,
    /// True for the box's default organization.
    pub default: bool,
    /// Unix seconds of creation.
    pub created: UnixSecs,
    /// Unix seconds of the last change.
    pub updated: UnixSecs,
}

impl Organization {
    fn of(record: &OrganizationRecord, default: OrganizationSid) -> Organization {
        Organization {
            sid: record.sid,
            domain: record.domain.clone(),
            status: record.status,
            default: record.sid == default,
            created: record.created,
            updated: record.updated,
        }
    }
}

/// What a migration did.
#[derive(Debug)]
pub struct Migrated {
    /// The top-level account, as stored after the move.
    pub account: Account,
    /// How many accounts moved (the account and its descendants).
    pub accounts: usize,
    /// The moved clients whose HA1 values are for another domain than their new one: they
    /// need a new `Password` to register at the new domain.
    pub clients_needing_password: Vec<Client>,
}

/// Creates an organization for `domain` (root Administrator only; a taken domain is a
/// `Conflict`).
pub fn create(
    store: &Store,
    caller: &Caller,
    domain: &DomainName,
    now: UnixSecs,
) -> Result<Organization> {
    if !caller.is_root() {
        return Err(Error::Forbidden(
            "only the root Administrator may create organizations".to_string(),
        ));
    }
    let record = OrganizationRecord {
        sid: OrganizationSid::random()?,
        domain: domain.as_str().to_string(),
        status: Status::Active,
        created: now,
        updated: now,
    };
    let guard = store.write_lock();
    store.insert_organization(&guard, &record)?;
    Ok(Organization::of(&record, store.default_organization()?))
}

/// The organizations the caller sees, oldest first: all of them for the root
/// Administrator, its own for anyone else.
pub fn list(store: &Store, caller: &Caller) -> Result<Vec<Organization>> {
    let default = store.default_organization()?;
    let mut all = store.all_organizations()?;
    all.retain(|record| caller.is_root() || record.sid == caller.organization);
    all.sort_by_key(|record| (record.sid != default, record.created, record.sid));
    Ok(all
        .iter()
        .map(|record| Organization::of(record, default))
        .collect())
}

/// One organization by SID or domain, if the caller sees it (else `NotFound`).
pub fn find(store: &Store, caller: &Caller, id: &OrganizationRef) -> Result<Organization> {
    let record = lookup(store, id)?
        .filter(|record| caller.is_root() || record.sid == caller.organization)
        .ok_or(Error::NotFound("organization"))?;
    Ok(Organization::of(&record, store.default_organization()?))
}

/// Parses an `OrganizationSid` parameter: `OR` and 32 lowercase hex digits.
pub fn parse_sid(text: &str) -> Result<OrganizationSid> {
    OrganizationSid::parse(text).ok_or_else(|| {
        Error::Invalid(format!(
            "OrganizationSid must be OR followed by 32 lowercase hex digits, got {:?}",
            text.chars().take(64).collect::<String>()
        ))
    })
}

/// The organization `sid` names; an unknown one is a bad parameter.
pub(crate) fn existing(store: &Store, sid: &OrganizationSid) -> Result<OrganizationRecord> {
    store
        .organization(sid)?
        .ok_or_else(|| Error::Invalid(format!("OrganizationSid {sid} names no organization")))
}

/// The domain of an organization: the realm its clients' HA1 values are made for.
pub(crate) fn realm(store: &Store, sid: &OrganizationSid) -> Result<String> {
    store
        .organization(sid)?
        .map(|record| record.domain)
        .ok_or_else(|| Error::Corrupt(format!("organization {sid} missing")))
}

fn lookup(store: &Store, id: &OrganizationRef) -> Result<Option<OrganizationRecord>> {
    match id {
        OrganizationRef::Sid(sid) => store.organization(sid),
        OrganizationRef::Domain(domain) => {
            store.organization_by_domain(&domain.to_ascii_lowercase())
        }
    }
}

/// Moves a top-level account and its whole subtree to the organization `target` names
/// (root Administrator only). See the module's comment for what happens to its clients.
pub fn migrate(
    store: &Store,
    caller: &Caller,
    account: &AccountRef,
    target: &OrganizationRef,
    now: UnixSecs,
) -> Result<Migrated> {
    if !caller.is_root() {
        return Err(Error::Forbidden(
            "only the root Administrator may migrate accounts".to_string(),
        ));
    }
    let target = lookup(store, target)?.ok_or_else(|| {
        Error::Invalid("Organization names no organization (give its SID or domain)".into())
    })?;
    let guard = store.write_lock();
    let top = accounts::find_record(store, caller, account)?;
    if top.parent != Some(caller.sid) {
        return Err(Error::Invalid(format!(
            "account {} is not a top-level account (a child of the root Administrator); \
             only those migrate, with their subtree",
            top.sid
        )));
    }
    if top.organization == target.sid {
        return Err(Error::Invalid(format!(
            "account {} is already in organization {} ({})",
            top.sid, target.sid, target.domain
        )));
    }
    if top.status == Status::Closed {
        return Err(Error::Conflict(
            "the account is closed and cannot be modified".to_string(),
        ));
    }
    let mut moved = accounts::subtree(store, top)?;
    let mut clients = Vec::new();
    for record in &mut moved {
        record.organization = target.sid;
        record.updated = now;
        for old in store.account_clients(&record.sid)? {
            let new = moved_client(&old, target.sid, now);
            clients.push((old, new));
        }
    }
    store.move_accounts(&guard, &moved, &clients)?;
    drop(guard);
    Ok(Migrated {
        account: Account::of(&moved[0]),
        accounts: moved.len(),
        clients_needing_password: clients
            .iter()
            .filter(|(_, new)| new.realm_organization.is_some())
            .map(|(_, new)| Client::of(new))
            .collect(),
    })
}

/// A client after its account moved to `target`: its HA1 values stay for the organization
/// they were made for, which keeps its login row unless that is `target` itself.
fn moved_client(old: &ClientRecord, target: OrganizationSid, now: UnixSecs) -> ClientRecord {
    let realm_organization = old.realm_organization.unwrap_or(old.organization);
    ClientRecord {
        organization: target,
        realm_organization: (realm_organization != target).then_some(realm_organization),
        updated: now,
        ..old.clone()
    }
}
