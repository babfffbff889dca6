//! On-disk record types and their (de)serialisation.
//!
//! Records are JSON so that a data directory can be inspected by hand. They are not the API's
//! wire types: they hold secrets (token and password hashes) that must never reach a response,
//! and they change for different reasons. New fields get `#[serde(default)]`; renames and
//! removals need a schema version bump in `store::migrate`.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::domain::{AccountSid, Role, Status};
use crate::error::{Error, Result};

/// One account, as stored in the `accounts` tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRecord {
    /// The account's identifier.
    pub sid: AccountSid,
    /// The owner account; `None` for a root account.
    pub parent: Option<AccountSid>,
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
