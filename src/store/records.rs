//! On-disk record types and their (de)serialisation.
//!
//! Records are JSON so that a data directory can be inspected by hand. They are not the API's
//! wire types: they hold secrets (token and password hashes) that must never reach a response,
//! and they change for different reasons. New fields get `#[serde(default)]`; renames and
//! removals need a bump of `SCHEMA_VERSION` (in `store/mod.rs`, checked by `Store::open`)
//! and a conversion of the older records.

use std::net::SocketAddr;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::crypto;
use crate::domain::{
    AccountSid, ClientSid, DigestAlgorithm, OrganizationSid, Role, Status, Transport,
};
use crate::error::{Error, Result};

/// One organization (one SIP domain), as stored in the `organizations` tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationRecord {
    /// The organization's identifier.
    pub sid: OrganizationSid,
    /// The SIP domain, exactly as phones see it in challenges (the digest realm); the index
    /// holds it lowercase. The default organization's is the configured `sip.realm`.
    pub domain: String,
    /// Lifecycle status (organizations are `active`).
    pub status: Status,
    /// Unix seconds of creation.
    pub created: i64,
    /// Unix seconds of the last change.
    pub updated: i64,
}

/// One account, as stored in the `accounts` tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRecord {
    /// The account's identifier.
    pub sid: AccountSid,
    /// The owner account; `None` for a root account.
    pub parent: Option<AccountSid>,
    /// The organization: the parent's, except for a top-level account placed or migrated
    /// elsewhere by the root Administrator. Schema 1 records had none (see `upgrade.rs`).
    pub organization: OrganizationSid,
    /// The email address as given at creation (the index holds the case-folded form).
    pub email: String,
    /// Display name, 1–64 characters.
    pub friendly_name: String,
    /// Lifecycle status.
    pub status: Status,
    /// True when `status` was set by a cascade from an ancestor rather than on this account
    /// itself: re-activating the ancestor then re-activates this account too.
    #[serde(default)]
    pub inherited: bool,
    /// What the account may do.
    pub role: Role,
    /// SHA-256 (hex) of the current AuthToken. The token itself is never stored.
    pub token_hash: String,
    /// The salted, iterated hash of the account's password.
    pub password: PasswordHash,
    /// 1 for a root account, parent's depth + 1 otherwise.
    pub depth: u32,
    /// Monotonic creation sequence number: lists are "oldest first" by this.
    pub seq: u64,
    /// Unix seconds of creation.
    pub created: i64,
    /// Unix seconds of the last change.
    pub updated: i64,
}

/// One SIP client (a user's credentials), as stored in the `clients` tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRecord {
    /// The client's identifier.
    pub sid: ClientSid,
    /// The owning account.
    pub account: AccountSid,
    /// The account's organization (kept here so that the login index is known from the
    /// record alone). Schema 1 records had none (see `upgrade.rs`).
    pub organization: OrganizationSid,
    /// The organization `realm` belongs to, when it is not `organization`: the client's
    /// account migrated and its HA1 values are still for its former domain, where its phones
    /// keep registering (the login stays reserved there) until it gets a new password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realm_organization: Option<OrganizationSid>,
    /// The SIP user part; unique in its organization.
    pub login: String,
    /// Display name.
    pub friendly_name: String,
    /// False when disabled (`Status=0`): such a client cannot register.
    pub enabled: bool,
    /// Voice settings, kept for Restcomm compatibility.
    pub voice_url: Option<String>,
    /// `GET` or `POST`.
    pub voice_method: String,
    /// Fallback URL.
    pub voice_fallback_url: Option<String>,
    /// `GET` or `POST`.
    pub voice_fallback_method: String,
    /// A voice application that overrides the URLs.
    pub voice_application_sid: Option<String>,
    /// The realm the HA1 values were computed for.
    pub realm: String,
    /// MD5(login:realm:password), hex. The password itself is never stored.
    pub ha1_md5: String,
    /// SHA-256(login:realm:password), hex.
    pub ha1_sha256: String,
    /// Unix seconds of creation.
    pub created: i64,
    /// Unix seconds of the last change.
    pub updated: i64,
}

/// What the registrar needs of a client, on every REGISTER: no display fields, no voice URLs.
/// Held in memory for every client that registers, so it is kept small: HA1 values as bytes,
/// the realm shared between the clients of one organization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientAuth {
    /// The client.
    pub sid: ClientSid,
    /// Its account.
    pub account: AccountSid,
    /// Its login.
    pub login: Box<str>,
    /// False when disabled.
    pub enabled: bool,
    /// The realm of the HA1 values.
    pub realm: Arc<str>,
    ha1_md5: [u8; 16],
    ha1_sha256: [u8; 32],
}

impl ClientAuth {
    /// The registrar's view of a stored client; `realm` is `record.realm`, passed in so that
    /// callers can share one allocation.
    pub fn of(record: &ClientRecord, realm: Arc<str>) -> Result<ClientAuth> {
        debug_assert_eq!(*realm, *record.realm);
        let corrupt = || Error::Corrupt(format!("client {}: bad HA1", record.sid));
        Ok(ClientAuth {
            sid: record.sid,
            account: record.account,
            login: record.login.as_str().into(),
            enabled: record.enabled,
            realm,
            ha1_md5: crypto::unhex(&record.ha1_md5).ok_or_else(corrupt)?,
            ha1_sha256: crypto::unhex(&record.ha1_sha256).ok_or_else(corrupt)?,
        })
    }

    /// The HA1 for `algorithm`, hex, as digest computations take it.
    pub fn ha1_hex(&self, algorithm: DigestAlgorithm) -> String {
        match algorithm {
            DigestAlgorithm::Md5 => self.ha1_md5_hex(),
            DigestAlgorithm::Sha256 => self.ha1_sha256_hex(),
        }
    }

    /// MD5(login:realm:password), hex, as digest computations take it.
    pub fn ha1_md5_hex(&self) -> String {
        crypto::hex(&self.ha1_md5)
    }

    /// SHA-256(login:realm:password), hex.
    pub fn ha1_sha256_hex(&self) -> String {
        crypto::hex(&self.ha1_sha256)
    }
}

/// One registration binding of a client (soft state, RFC 3261 §10). One is held in memory
/// per registered phone, so text fields are boxed (no spare capacity) and the address and
/// transport are kept as values, not text; the JSON form is the same as with strings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindingRecord {
    /// The client that registered.
    pub client: ClientSid,
    /// The contact URI, as registered (without angle brackets).
    pub contact: Box<str>,
    /// The contact's `q` parameter, if it had one.
    #[serde(default)]
    pub q: Option<Box<str>>,
    /// Unix seconds when the binding expires.
    pub expires_at: i64,
    /// Call-ID of the REGISTER that last refreshed it.
    pub call_id: Box<str>,
    /// CSeq number of that REGISTER.
    pub cseq: u32,
    /// Source address of that REGISTER (stored as `ip:port`).
    pub source: SocketAddr,
    /// `UDP` or `TCP`.
    pub transport: Transport,
    /// The phone's User-Agent header, if it sent one.
    #[serde(default)]
    pub user_agent: Option<Box<str>>,
    /// Unix seconds of the first registration of this contact.
    pub registered_at: i64,
    /// When the stored copy of this binding expires; 0 when there is none yet. Not itself
    /// stored (the stored copy's own `expires_at` is this). See `Store::update_bindings`.
    #[serde(skip)]
    pub stored_expires_at: i64,
}

impl BindingRecord {
    /// True when `other` differs from this binding only in what a refresh changes every
    /// time and a restart does not need exactly: Call-ID, CSeq and the expiry.
    pub fn same_binding(&self, other: &BindingRecord) -> bool {
        self.client == other.client
            && self.contact == other.contact
            && self.q == other.q
            && self.source == other.source
            && self.transport == other.transport
            && self.user_agent == other.user_agent
            && self.registered_at == other.registered_at
    }
}

/// A PBKDF2-HMAC-SHA256 password hash with its parameters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordHash {
    /// Random salt, hex.
    pub salt: String,
    /// PBKDF2 iteration count used for `hash`.
    pub iterations: u32,
    /// Derived key, hex.
    pub hash: String,
}

/// Encodes a record for storage.
pub fn encode<T: Serialize>(record: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(record).map_err(|err| Error::Corrupt(format!("encode: {err}")))
}

/// Decodes a stored record; failure means corruption (or a bug), never bad user input.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|err| Error::Corrupt(format!("decode: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_binding_keeps_its_json_form() {
        // As every earlier version wrote it: address and transport as text.
        let stored = r#"{"client":"CL0123456789abcdef0123456789abcdef","contact":"sip:alice@[2001:db8::1]:5062","q":"0.5","expires_at":1700003600,"call_id":"c1@phone","cseq":7,"source":"[2001:db8::1]:5062","transport":"TCP","user_agent":"Desk/1.0","registered_at":1700000000}"#;
        let binding: BindingRecord = decode(stored.as_bytes()).unwrap();
        assert_eq!(binding.source, "[2001:db8::1]:5062".parse().unwrap());
        assert_eq!(binding.transport, Transport::Tcp);
        assert_eq!(binding.user_agent.as_deref(), Some("Desk/1.0"));
        assert_eq!(
            String::from_utf8(encode(&binding).unwrap()).unwrap(),
            stored
        );
        let older = stored
            .replace(r#","q":"0.5""#, "")
            .replace(r#","user_agent":"Desk/1.0""#, "");
        let binding: BindingRecord = decode(older.as_bytes()).unwrap();
        assert_eq!((binding.q, binding.user_agent), (None, None));
        assert!(decode::<BindingRecord>(stored.replace("TCP", "SCTP").as_bytes()).is_err());
    }
}
