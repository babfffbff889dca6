//! Clients: the SIP credentials of an account (SPEC.md §3).
//!
//! Reach: any account (whatever its role) manages its own Clients and those of its
//! descendants; anything else is `NotFound`. The password of a client is never stored, only
//! its digest HA1 values for its organization's domain, the realm (MD5 and SHA-256 of
//! `login:realm:password`), so a new domain needs new passwords (see `organizations.rs` for
//! a migration). Disabling or deleting a client drops its live bindings right after the
//! commit. Logins are unique per organization; the store enforces that inside the same
//! transaction that writes the client.

use crate::clock::UnixSecs;
use crate::crypto;
use crate::domain::accounts::{self, Caller};
use crate::domain::organizations;
use crate::domain::{
    AccountRef, AccountSid, ClientSid, FriendlyName, Login, OrganizationSid, Password, Status,
};
use crate::error::{Error, Result};
use crate::store::records::{AccountRecord, ClientRecord};
use crate::store::Store;

/// A client as callers see it: every public field of the record, never an HA1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    /// The client's identifier.
    pub sid: ClientSid,
    /// The owning account.
    pub account: AccountSid,
    /// The account's organization.
    pub organization: OrganizationSid,
    /// The SIP user part; unique in its organization.
    pub login: String,
    /// The domain its HA1 values are for, where its phones register: its organization's,
    /// or a former one's after its account migrated, until it gets a new password.
    pub sip_domain: String,
    /// True in that second case.
    pub needs_password: bool,
    /// Display name.
    pub friendly_name: String,
    /// False when disabled (`Status=0`).
    pub enabled: bool,
    /// `VoiceUrl`.
    pub voice_url: Option<String>,
    /// `VoiceMethod`: `GET` or `POST`.
    pub voice_method: String,
    /// `VoiceFallbackUrl`.
    pub voice_fallback_url: Option<String>,
    /// `VoiceFallbackMethod`: `GET` or `POST`.
    pub voice_fallback_method: String,
    /// `VoiceApplicationSid`.
    pub voice_application_sid: Option<String>,
    /// Unix seconds of creation.
    pub created: UnixSecs,
    /// Unix seconds of the last change.
    pub updated: UnixSecs,
}

impl Client {
    pub(crate) fn of(record: &ClientRecord) -> Client {
        Client {
            sid: record.sid,
            account: record.account,
            organization: record.organization,
            login: record.login.clone(),
            sip_domain: record.realm.clone(),
            needs_password: record.realm_organization.is_some(),
            friendly_name: record.friendly_name.clone(),
            enabled: record.enabled,
            voice_url: record.voice_url.clone(),
            voice_method: record.voice_method.clone(),
            voice_fallback_url: record.voice_fallback_url.clone(),
            voice_fallback_method: record.voice_fallback_method.clone(),
            voice_application_sid: record.voice_application_sid.clone(),
            created: record.created,
            updated: record.updated,
        }
    }
}

/// Voice settings of a create or update; `None` leaves a setting as it is (or at its default),
/// `Some(None)` clears an optional one.
#[derive(Debug, Default)]
pub struct VoiceChanges {
    /// `VoiceUrl`.
    pub url: Option<Option<String>>,
    /// `VoiceMethod`.
    pub method: Option<String>,
    /// `VoiceFallbackUrl`.
    pub fallback_url: Option<Option<String>>,
    /// `VoiceFallbackMethod`.
    pub fallback_method: Option<String>,
    /// `VoiceApplicationSid`.
    pub application_sid: Option<Option<String>>,
}

/// A client to create.
#[derive(Debug)]
pub struct NewClient {
    /// Required; unique in its organization.
    pub login: Login,
    /// Required; only its HA1 values are kept.
    pub password: Password,
    /// Defaults to the login.
    pub friendly_name: Option<FriendlyName>,
    /// Defaults to enabled.
    pub enabled: Option<bool>,
    /// Voice settings.
    pub voice: VoiceChanges,
}

/// Changes to a client; `None` leaves a field as it is. The login never changes.
#[derive(Debug, Default)]
pub struct ClientChanges {
    /// New display name.
    pub friendly_name: Option<FriendlyName>,
    /// New password: replaces the HA1 values.
    pub password: Option<Password>,
    /// Enable or disable.
    pub enabled: Option<bool>,
    /// Voice settings.
    pub voice: VoiceChanges,
}

impl ClientChanges {
    /// True when nothing would change.
    pub fn is_empty(&self) -> bool {
        self.friendly_name.is_none()
            && self.password.is_none()
            && self.enabled.is_none()
            && self.voice.url.is_none()
            && self.voice.method.is_none()
            && self.voice.fallback_url.is_none()
            && self.voice.fallback_method.is_none()
            && self.voice.application_sid.is_none()
    }
}

/// Parses `Status`: `1` enabled, `0` disabled.
pub fn parse_status(text: &str) -> Result<bool> {
    match text.trim() {
        "1" => Ok(true),
        "0" => Ok(false),
        _ => Err(Error::Invalid(format!(
            "Status must be 1 (enabled) or 0 (disabled), got {:?}",
            short(text)
        ))),
    }
}

/// Parses a voice method parameter (`GET` or `POST`, any case).
pub fn parse_method(name: &str, text: &str) -> Result<String> {
    match text.to_ascii_uppercase().as_str() {
        method @ ("GET" | "POST") => Ok(method.to_string()),
        _ => Err(Error::Invalid(format!(
            "{name} must be GET or POST, got {:?}",
            short(text)
        ))),
    }
}

/// Parses a voice URL parameter: empty clears it; otherwise an absolute `http`/`https` URL
/// with a host, no spaces, at most 1024 characters.
pub fn parse_url(name: &str, text: &str) -> Result<Option<String>> {
    if text.is_empty() {
        return Ok(None);
    }
    let invalid = || {
        Error::Invalid(format!(
            "{name} must be an http or https URL, got {:?}",
            short(text)
        ))
    };
    if text.len() > 1024 {
        return Err(Error::Invalid(format!(
            "{name} is longer than 1024 characters"
        )));
    }
    let rest = text
        .strip_prefix("http://")
        .or_else(|| text.strip_prefix("https://"))
        .ok_or_else(invalid)?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_ok = !host.is_empty() && !host.starts_with(':') && !host.contains('@');
    if !host_ok || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid());
    }
    Ok(Some(text.to_string()))
}

/// Parses `VoiceApplicationSid`: empty clears it; otherwise `AP` and 32 hex digits.
pub fn parse_application_sid(text: &str) -> Result<Option<String>> {
    if text.is_empty() {
        return Ok(None);
    }
    let well_formed = text.len() == 34
        && text.starts_with("AP")
        && text[2..].bytes().all(|b| b.is_ascii_hexdigit());
    if !well_formed {
        return Err(Error::Invalid(format!(
            "VoiceApplicationSid must be AP followed by 32 hex digits, got {:?}",
            short(text)
        )));
    }
    Ok(Some(text.to_string()))
}

/// Creates a client under the account named by `account_id` (SID or email).
pub fn create(
    store: &Store,
    caller: &Caller,
    account_id: &AccountRef,
    new: NewClient,
    now: UnixSecs,
) -> Result<Client> {
    let account = account_in_reach(store, caller, account_id)?;
    if account.status == Status::Closed {
        return Err(Error::Conflict("the account is closed".to_string()));
    }
    let realm = organizations::realm(store, &account.organization)?;
    let (ha1_md5, ha1_sha256) = ha1(new.login.as_str(), &realm, &new.password);
    let mut record = ClientRecord {
        sid: ClientSid::random()?,
        account: account.sid,
        organization: account.organization,
        realm_organization: None,
        login: new.login.as_str().to_string(),
        friendly_name: new
            .friendly_name
            .map(|name| name.as_str().to_string())
            .unwrap_or_else(|| new.login.as_str().to_string()),
        enabled: new.enabled.unwrap_or(true),
        voice_url: None,
        voice_method: "POST".to_string(),
        voice_fallback_url: None,
        voice_fallback_method: "POST".to_string(),
        voice_application_sid: None,
        realm,
        ha1_md5,
        ha1_sha256,
        created: now,
        updated: now,
    };
    apply_voice(&mut record, new.voice);
    let guard = store.write_lock();
    store.insert_client(&guard, &record)?;
    Ok(Client::of(&record))
}

/// The clients of an account, by login; only `login` when a filter is given. A closed
/// account is a `Conflict`, as for create: closing removed its clients for good.
pub fn list(
    store: &Store,
    caller: &Caller,
    account_id: &AccountRef,
    login: Option<&str>,
) -> Result<Vec<Client>> {
    let account = account_in_reach(store, caller, account_id)?;
    if account.status == Status::Closed {
        return Err(Error::Conflict("the account is closed".to_string()));
    }
    let mut clients = store.account_clients(&account.sid)?;
    if let Some(login) = login {
        clients.retain(|client| client.login == login);
    }
    clients.sort_by(|a, b| a.login.cmp(&b.login));
    Ok(clients.iter().map(Client::of).collect())
}

/// One client of an account in reach.
pub fn find(
    store: &Store,
    caller: &Caller,
    account_id: &AccountRef,
    client_id: &ClientSid,
) -> Result<Client> {
    find_record(store, caller, account_id, client_id).map(|record| Client::of(&record))
}

fn find_record(
    store: &Store,
    caller: &Caller,
    account_id: &AccountRef,
    client_id: &ClientSid,
) -> Result<ClientRecord> {
    let account = account_in_reach(store, caller, account_id)?;
    match store.client(client_id)? {
        Some(client) if client.account == account.sid => Ok(client),
        _ => Err(Error::NotFound("client")),
    }
}

/// Applies `changes` to a client; a new password replaces the HA1 values, for its
/// organization's domain (so a migrated client then registers there, and only there).
pub fn update(
    store: &Store,
    caller: &Caller,
    account_id: &AccountRef,
    client_id: &ClientSid,
    changes: ClientChanges,
    now: UnixSecs,
) -> Result<Client> {
    find_record(store, caller, account_id, client_id)?;
    let guard = store.write_lock();
    // Re-read under the lock: the client may have been deleted, changed or migrated.
    let old = store.client(client_id)?.ok_or(Error::NotFound("client"))?;
    let mut record = old.clone();
    let hashes = match &changes.password {
        Some(password) => {
            let realm = organizations::realm(store, &record.organization)?;
            Some((ha1(&record.login, &realm, password), realm))
        }
        None => None,
    };
    if let Some(name) = changes.friendly_name {
        record.friendly_name = name.as_str().to_string();
    }
    if let Some(enabled) = changes.enabled {
        record.enabled = enabled;
    }
    if let Some(((ha1_md5, ha1_sha256), realm)) = hashes {
        record.ha1_md5 = ha1_md5;
        record.ha1_sha256 = ha1_sha256;
        record.realm = realm;
        record.realm_organization = None;
    }
    apply_voice(&mut record, changes.voice);
    record.updated = now;
    store.update_client(&guard, &old, &record)?;
    if !record.enabled {
        // A disabled client may not stay registered (SPEC.md §3).
        store.drop_bindings(&[record.sid])?;
    }
    Ok(Client::of(&record))
}

/// Deletes a client and its index entries.
pub fn delete(
    store: &Store,
    caller: &Caller,
    account_id: &AccountRef,
    client_id: &ClientSid,
) -> Result<Client> {
    let found = find_record(store, caller, account_id, client_id)?;
    let guard = store.write_lock();
    let record = store.client(&found.sid)?.ok_or(Error::NotFound("client"))?;
    store.delete_client(&guard, &record)?;
    store.drop_bindings(&[record.sid])?;
    Ok(Client::of(&record))
}

/// The digest HA1 values of a credential: (MD5, SHA-256) of `login:realm:password`.
pub fn ha1(login: &str, realm: &str, password: &Password) -> (String, String) {
    let input = format!("{login}:{realm}:{}", password.expose());
    (
        crypto::md5_hex(input.as_bytes()),
        crypto::sha256_hex(input.as_bytes()),
    )
}

/// The account named by `account_id` if the caller is it or one of its ancestors.
fn account_in_reach(
    store: &Store,
    caller: &Caller,
    account_id: &AccountRef,
) -> Result<AccountRecord> {
    let account = accounts::lookup(store, account_id)?.ok_or(Error::NotFound("account"))?;
    if account.sid == caller.sid || accounts::is_ancestor(store, &caller.sid, &account)? {
        return Ok(account);
    }
    Err(Error::NotFound("account"))
}

fn apply_voice(record: &mut ClientRecord, voice: VoiceChanges) {
    if let Some(url) = voice.url {
        record.voice_url = url;
    }
    if let Some(method) = voice.method {
        record.voice_method = method;
    }
    if let Some(url) = voice.fallback_url {
        record.voice_fallback_url = url;
    }
    if let Some(method) = voice.fallback_method {
        record.voice_fallback_method = method;
    }
    if let Some(sid) = voice.application_sid {
        record.voice_application_sid = sid;
    }
}

fn short(text: &str) -> String {
    text.chars().take(64).collect()
}

/// Every client of the box by status (`enabled`, `disabled`), for the metrics.
pub fn count_by_status(store: &Store) -> Result<Vec<(&'static str, usize)>> {
    let (enabled, disabled) = store.client_counts()?;
    Ok(vec![("enabled", enabled), ("disabled", disabled)])
}
