//! Every key layout of the store, and nothing else: the only place bytes are concatenated.
//!
//! Layouts (one tree per entity, one per index):
//! - `accounts`: account id (16 bytes) → `AccountRecord` JSON.
//! - `account_emails`: lowercase email ++ `0xFF` → account id (16 bytes). Unique index.
//!   The `0xFF` terminator is never valid UTF-8, so a prefix scan for `a@b` cannot match
//!   `a@bc`.
//! - `account_children`: parent id (16) ++ child id (16) → empty. A prefix scan on a parent id
//!   is exact because ids are fixed-width.

use crate::domain::AccountSid;
use crate::error::{Error, Result};

/// Terminates variable-length strings inside keys.
const TERMINATOR: u8 = 0xFF;

/// The primary key of an account.
pub fn account(sid: &AccountSid) -> [u8; 16] {
    *sid.as_bytes()
}

/// Decodes an account primary key (or an index value holding one).
pub fn decode_account(bytes: &[u8]) -> Result<AccountSid> {
    let fixed: [u8; 16] = bytes
        .try_into()
        .map_err(|_| Error::Corrupt(format!("account key of {} bytes", bytes.len())))?;
    Ok(AccountSid::from_bytes(fixed))
}

/// The unique-index key of an email address; `email_key` is already case-folded.
pub fn email(email_key: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(email_key.len() + 1);
    key.extend_from_slice(email_key.as_bytes());
    key.push(TERMINATOR);
    key
}

/// Decodes an email index key back into the case-folded address.
pub fn decode_email(bytes: &[u8]) -> Result<String> {
    let body = bytes
        .strip_suffix(&[TERMINATOR])
        .ok_or_else(|| Error::Corrupt("email key without terminator".to_string()))?;
    String::from_utf8(body.to_vec()).map_err(|_| Error::Corrupt("email key not UTF-8".to_string()))
}

/// The parent → child edge key.
pub fn child(parent: &AccountSid, child: &AccountSid) -> [u8; 32] {
    let mut key = [0u8; 32];
    key[..16].copy_from_slice(parent.as_bytes());
    key[16..].copy_from_slice(child.as_bytes());
    key
}

/// Decodes a parent → child edge key into (parent, child).
pub fn decode_child(bytes: &[u8]) -> Result<(AccountSid, AccountSid)> {
    if bytes.len() != 32 {
        return Err(Error::Corrupt(format!(
            "child key of {} bytes",
            bytes.len()
        )));
    }
    Ok((decode_account(&bytes[..16])?, decode_account(&bytes[16..])?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sid(fill: u8) -> AccountSid {
        AccountSid::from_bytes([fill; 16])
    }

    #[test]
    fn account_keys_round_trip() {
        let id = sid(7);
        assert_eq!(decode_account(&account(&id)).unwrap(), id);
        assert!(decode_account(&[1, 2, 3]).is_err());
    }

    #[test]
    fn email_keys_round_trip_and_are_prefix_free() {
        let key = email("a@b");
        assert_eq!(decode_email(&key).unwrap(), "a@b");
        assert!(!email("a@bc").starts_with(&key));
        assert!(decode_email(b"a@b").is_err());
        assert!(decode_email(&[0xC3, 0x28, TERMINATOR]).is_err());
    }

    #[test]
    fn child_keys_round_trip_and_group_by_parent() {
        let (parent, kid) = (sid(1), sid(2));
        let key = child(&parent, &kid);
        assert_eq!(decode_child(&key).unwrap(), (parent, kid));
        assert!(key.starts_with(&account(&parent)));
        assert!(decode_child(&key[..31]).is_err());
    }
}
