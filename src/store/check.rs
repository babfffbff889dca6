//! The store's invariant checker: every index entry points at a primary record that agrees
//! with it, every primary has its index entries, the account tree obeys the status rules,
//! and every account and client is in an existing organization (its parent's, except for a
//! top-level account), with logins unique per organization.
//!
//! Domain and black-box tests run it after each scenario; operators run `edgecomm check`.
//! It reads only, and reports every problem it finds rather than stopping at the first.

use std::collections::{HashMap, HashSet};

use crate::domain::{AccountSid, ClientSid, OrganizationSid, Status};
use crate::error::Result;
use crate::store::indexes::ClientRows;
use crate::store::records::{AccountRecord, ClientRecord, OrganizationRecord};
use crate::store::{keys, records, Store};

/// Returns one line per broken invariant; an empty list means the store is consistent.
pub fn run(store: &Store) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let mut accounts: HashMap<AccountSid, AccountRecord> = HashMap::new();
    for entry in store.accounts.iter() {
        let (key, value) = entry?;
        let record: AccountRecord = records::decode(&value)?;
        if keys::decode_account(&key)? != record.sid {
            problems.push(format!("account {} stored under another key", record.sid));
        }
        accounts.insert(record.sid, record);
    }

    let mut emails_seen = HashSet::new();
    for entry in store.account_emails.iter() {
        let (key, value) = entry?;
        let email = keys::decode_email(&key)?;
        let sid = keys::decode_account(&value)?;
        match accounts.get(&sid) {
            Some(record) if record.email.to_ascii_lowercase() == email => {
                emails_seen.insert(sid);
            }
            Some(_) => problems.push(format!(
                "email index {email} points at {sid} with another email"
            )),
            None => problems.push(format!(
                "email index {email} points at missing account {sid}"
            )),
        }
    }

    let mut edges = HashSet::new();
    for entry in store.account_children.iter() {
        let (key, _) = entry?;
        let (parent, child) = keys::decode_child(&key)?;
        match accounts.get(&child) {
            Some(record) if record.parent == Some(parent) => {
                edges.insert(child);
            }
            _ => problems.push(format!(
                "child edge {parent} -> {child} has no matching account"
            )),
        }
    }

    for record in accounts.values() {
        if !emails_seen.contains(&record.sid) {
            problems.push(format!(
                "account {} missing from the email index",
                record.sid
            ));
        }
        if record.parent.is_some() && !edges.contains(&record.sid) {
            problems.push(format!(
                "account {} missing from its parent's children",
                record.sid
            ));
        }
    }
    problems.extend(tree_problems(&accounts));
    let organizations = check_organizations(store, &mut problems)?;
    problems.extend(organization_problems(&accounts, &organizations));
    check_clients(store, &accounts, &organizations, &mut problems)?;
    Ok(problems)
}

/// Organizations: each in the domain index, every index entry pointing back at one with that
/// domain, and the default one present. Returns them by SID.
fn check_organizations(
    store: &Store,
    problems: &mut Vec<String>,
) -> Result<HashMap<OrganizationSid, OrganizationRecord>> {
    let mut organizations = HashMap::new();
    for entry in store.organizations.iter() {
        let (key, value) = entry?;
        let record: OrganizationRecord = records::decode(&value)?;
        if keys::decode_organization(&key)? != record.sid {
            problems.push(format!(
                "organization {} stored under another key",
                record.sid
            ));
        }
        organizations.insert(record.sid, record);
    }
    let mut indexed = HashSet::new();
    for entry in store.organization_domains.iter() {
        let (key, value) = entry?;
        let domain = keys::decode_domain(&key)?;
        let sid = keys::decode_organization(&value)?;
        match organizations.get(&sid) {
            Some(record) if record.domain.to_ascii_lowercase() == domain => {
                indexed.insert(sid);
            }
            _ => problems.push(format!(
                "domain index {domain} points at no matching organization {sid}"
            )),
        }
    }
    for sid in organizations.keys().filter(|sid| !indexed.contains(*sid)) {
        problems.push(format!("organization {sid} missing from the domain index"));
    }
    match store.default_organization() {
        Ok(sid) if organizations.contains_key(&sid) => {}
        Ok(sid) => problems.push(format!("default organization {sid} missing")),
        Err(_) => problems.push("no default organization".to_string()),
    }
    Ok(organizations)
}

/// Every account is in an existing organization, and in its parent's unless the parent is a
/// root (a top-level account may be placed or migrated elsewhere). `edgecomm check` and
/// `edgecomm import` both apply this.
pub fn organization_problems(
    accounts: &HashMap<AccountSid, AccountRecord>,
    organizations: &HashMap<OrganizationSid, OrganizationRecord>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for record in accounts.values() {
        if !organizations.contains_key(&record.organization) {
            problems.push(format!(
                "account {} in missing organization {}",
                record.sid, record.organization
            ));
        }
        let parent = record.parent.and_then(|parent| accounts.get(&parent));
        if let Some(parent) = parent.filter(|parent| parent.parent.is_some()) {
            if parent.organization != record.organization {
                problems.push(format!(
                    "account {} is in organization {}, its parent {} in {}",
                    record.sid, record.organization, parent.sid, parent.organization
                ));
            }
        }
    }
    problems
}

/// The rules of the account tree, on records alone: a root has depth 1, a child's parent
/// exists and is one level up (so there are no cycles), no account is active under one that is
/// not, and nothing is open under a closed account. `edgecomm check` and `edgecomm import`
/// both apply them.
pub fn tree_problems(accounts: &HashMap<AccountSid, AccountRecord>) -> Vec<String> {
    let mut problems = Vec::new();
    for record in accounts.values() {
        let Some(parent_sid) = record.parent else {
            if record.depth != 1 {
                problems.push(format!(
                    "root account {} has depth {}",
                    record.sid, record.depth
                ));
            }
            continue;
        };
        let Some(parent) = accounts.get(&parent_sid) else {
            problems.push(format!(
                "account {} has missing parent {parent_sid}",
                record.sid
            ));
            continue;
        };
        if record.depth != parent.depth.saturating_add(1) {
            problems.push(format!(
                "account {} has depth {} under depth {}",
                record.sid, record.depth, parent.depth
            ));
        }
        if record.status == Status::Active && parent.status != Status::Active {
            problems.push(format!(
                "account {} is active under a {} parent",
                record.sid,
                parent.status.as_str()
            ));
        }
        if parent.status == Status::Closed && record.status != Status::Closed {
            problems.push(format!(
                "account {} is open under a closed parent",
                record.sid
            ));
        }
    }
    problems
}

/// What is wrong with a client's account, if anything: it must exist, not be closed, and be
/// in the client's organization; the organization of its HA1 values must exist too.
pub fn client_account_problem(
    client: &ClientRecord,
    accounts: &HashMap<AccountSid, AccountRecord>,
    organizations: &HashMap<OrganizationSid, OrganizationRecord>,
) -> Option<String> {
    if let Some(realm) = client.realm_organization {
        if realm == client.organization || !organizations.contains_key(&realm) {
            return Some(format!(
                "client {} has HA1 values of organization {realm}, missing or its own",
                client.sid
            ));
        }
    }
    match accounts.get(&client.account) {
        Some(account) if account.organization != client.organization => Some(format!(
            "client {} is in organization {}, its account {} in {}",
            client.sid, client.organization, client.account, account.organization
        )),
        None => Some(format!(
            "client {} of missing account {}",
            client.sid, client.account
        )),
        Some(account) if account.status == Status::Closed => Some(format!(
            "client {} survives its closed account {}",
            client.sid, client.account
        )),
        Some(_) => None,
    }
}

/// Clients: each is in its account's edges and in the login index, its account exists and is
/// not closed, and every index entry points back at a client that agrees with it.
fn check_clients(
    store: &Store,
    accounts: &HashMap<AccountSid, AccountRecord>,
    organizations: &HashMap<OrganizationSid, OrganizationRecord>,
    problems: &mut Vec<String>,
) -> Result<()> {
    let mut clients: HashMap<ClientSid, ClientRecord> = HashMap::new();
    for entry in store.clients.iter() {
        let (key, value) = entry?;
        let record: ClientRecord = records::decode(&value)?;
        if keys::decode_client(&key)? != record.sid {
            problems.push(format!("client {} stored under another key", record.sid));
        }
        problems.extend(client_account_problem(&record, accounts, organizations));
        clients.insert(record.sid, record);
    }
    let mut with_edge = HashSet::new();
    for entry in store.account_clients.iter() {
        let (key, _) = entry?;
        let (account, client) = keys::decode_account_client(&key)?;
        match clients.get(&client) {
            Some(record) if record.account == account => {
                with_edge.insert(client);
            }
            _ => problems.push(format!(
                "client edge {account} -> {client} has no matching client"
            )),
        }
    }
    let mut logins = HashSet::new();
    for entry in store.client_logins.iter() {
        let (key, value) = entry?;
        let (organization, login) = keys::decode_login(&key)?;
        let sid = keys::decode_client(&value)?;
        let rows = clients.get(&sid).map(ClientRows::of);
        if rows.is_some_and(|rows| rows.logins.contains(&key.to_vec())) {
            logins.insert(key.to_vec());
        } else {
            problems.push(format!(
                "login index {login} of {organization} points at no matching client {sid}"
            ));
        }
    }
    for (sid, record) in &clients {
        if !with_edge.contains(sid) {
            problems.push(format!("client {sid} missing from its account's clients"));
        }
        if !ClientRows::of(record)
            .logins
            .iter()
            .all(|key| logins.contains(key))
        {
            problems.push(format!("client {sid} missing from the login index"));
        }
    }
    Ok(())
}
