//! The store's invariant checker: every index entry points at a primary record that agrees
//! with it, every primary has its index entries, and the account tree obeys the status rules.
//!
//! Domain and black-box tests run it after each scenario; operators run `edgecomm check`.
//! It reads only, and reports every problem it finds rather than stopping at the first.

use std::collections::{HashMap, HashSet};

use crate::domain::{AccountSid, Status};
use crate::error::Result;
use crate::store::records::{AccountRecord, ClientRecord};
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
    check_clients(store, &accounts, &mut problems)?;
    Ok(problems)
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

/// What is wrong with a client's account, if anything: it must exist and not be closed.
pub fn client_account_problem(
    client: &ClientRecord,
    accounts: &HashMap<AccountSid, AccountRecord>,
) -> Option<String> {
    match accounts.get(&client.account) {
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
    problems: &mut Vec<String>,
) -> Result<()> {
    let mut clients: HashMap<crate::domain::ClientSid, ClientRecord> = HashMap::new();
    for entry in store.clients.iter() {
        let (key, value) = entry?;
        let record: ClientRecord = records::decode(&value)?;
        if keys::decode_client(&key)? != record.sid {
            problems.push(format!("client {} stored under another key", record.sid));
        }
        problems.extend(client_account_problem(&record, accounts));
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
    let mut with_login = HashSet::new();
    for entry in store.client_logins.iter() {
        let (key, value) = entry?;
        let login = keys::decode_login(&key)?;
        let sid = keys::decode_client(&value)?;
        match clients.get(&sid) {
            Some(record) if record.login == login => {
                with_login.insert(sid);
            }
            _ => problems.push(format!(
                "login index {login} points at no matching client {sid}"
            )),
        }
    }
    for sid in clients.keys() {
        if !with_edge.contains(sid) {
            problems.push(format!("client {sid} missing from its account's clients"));
        }
        if !with_login.contains(sid) {
            problems.push(format!("client {sid} missing from the login index"));
        }
    }
    Ok(())
}
