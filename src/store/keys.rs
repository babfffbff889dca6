//! Every key layout of the store, and nothing else: the only place bytes are concatenated.
//!
//! Layouts (one tree per entity, one per index):
//! - `accounts`: account id (16 bytes) → `AccountRecord` JSON.
//! - `account_emails`: lowercase email ++ `0xFF` → account id (16 bytes). Unique index.
//!   The `0xFF` terminator is never valid UTF-8, so a prefix scan for `a@b` cannot match
//!   `a@bc`.
//! - `account_children`: parent id (16) ++ child id (16) → empty. A prefix scan on a parent id
//!   is exact because ids are fixed-width.
//! - `clients`: client id (16) → `ClientRecord` JSON.
//! - `account_clients`: account id (16) ++ client id (16) → empty.
//! - `client_logins`: organization id (16) ++ login ++ `0xFF` → client id (16). Unique per
//!   organization (one SIP domain each). A client has its organization's row and, while its
//!   HA1 values are for the organization it migrated from, that one's too.
//! - `organizations`: organization id (16) → `OrganizationRecord` JSON.
//! - `organization_domains`: lowercase domain ++ `0xFF` → organization id (16). Unique.
//! - `bindings`: client id (16) ++ SHA-256(contact URI)[..16] → `BindingRecord` JSON. Fixed
//!   width, so a prefix scan on a client id is exact whatever the contact's length.

use sha2::Digest;

use crate::domain::{AccountSid, ClientSid, OrganizationSid};
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
    terminated(email_key)
}

/// Decodes an email index key back into the case-folded address.
pub fn decode_email(bytes: &[u8]) -> Result<String> {
    decode_terminated(bytes, "email")
}

fn terminated(text: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(text.len() + 1);
    key.extend_from_slice(text.as_bytes());
    key.push(TERMINATOR);
    key
}

fn decode_terminated(bytes: &[u8], what: &str) -> Result<String> {
    let body = bytes
        .strip_suffix(&[TERMINATOR])
        .ok_or_else(|| Error::Corrupt(format!("{what} key without terminator")))?;
    String::from_utf8(body.to_vec()).map_err(|_| Error::Corrupt(format!("{what} key not UTF-8")))
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

/// The primary key of a client.
pub fn client(sid: &ClientSid) -> [u8; 16] {
    *sid.as_bytes()
}

/// Decodes a client primary key (or an index value holding one).
pub fn decode_client(bytes: &[u8]) -> Result<ClientSid> {
    let fixed: [u8; 16] = bytes
        .try_into()
        .map_err(|_| Error::Corrupt(format!("client key of {} bytes", bytes.len())))?;
    Ok(ClientSid::from_bytes(fixed))
}

/// The account → client edge key.
pub fn account_client(account: &AccountSid, client: &ClientSid) -> [u8; 32] {
    let mut key = [0u8; 32];
    key[..16].copy_from_slice(account.as_bytes());
    key[16..].copy_from_slice(client.as_bytes());
    key
}

/// Decodes an account → client edge key into (account, client).
pub fn decode_account_client(bytes: &[u8]) -> Result<(AccountSid, ClientSid)> {
    if bytes.len() != 32 {
        return Err(Error::Corrupt(format!(
            "account client key of {} bytes",
            bytes.len()
        )));
    }
    Ok((decode_account(&bytes[..16])?, decode_client(&bytes[16..])?))
}

/// The key of one binding of a client.
pub fn binding(client: &ClientSid, contact: &str) -> [u8; 32] {
    let digest = sha2::Sha256::digest(contact.as_bytes());
    let mut key = [0u8; 32];
    key[..16].copy_from_slice(client.as_bytes());
    key[16..].copy_from_slice(&digest[..16]);
    key
}

/// The unique-index key of a SIP login in an organization.
pub fn login(organization: &OrganizationSid, login: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(16 + login.len() + 1);
    key.extend_from_slice(organization.as_bytes());
    key.extend_from_slice(&terminated(login));
    key
}

/// Decodes a login index key into (organization, login).
pub fn decode_login(bytes: &[u8]) -> Result<(OrganizationSid, String)> {
    if bytes.len() < 17 {
        return Err(Error::Corrupt(format!(
            "login key of {} bytes",
            bytes.len()
        )));
    }
    let organization = decode_organization(&bytes[..16])?;
    Ok((organization, decode_terminated(&bytes[16..], "login")?))
}

/// The key schema 1 gave a login (no organization), for the upgrade only.
pub fn login_v1(login: &str) -> Vec<u8> {
    terminated(login)
}

/// The primary key of an organization.
pub fn organization(sid: &OrganizationSid) -> [u8; 16] {
    *sid.as_bytes()
}

/// Decodes an organization primary key (or an index value holding one).
pub fn decode_organization(bytes: &[u8]) -> Result<OrganizationSid> {
    let fixed: [u8; 16] = bytes
        .try_into()
        .map_err(|_| Error::Corrupt(format!("organization key of {} bytes", bytes.len())))?;
    Ok(OrganizationSid::from_bytes(fixed))
}

/// The unique-index key of a domain name; `domain_key` is already lowercase.
pub fn domain(domain_key: &str) -> Vec<u8> {
    terminated(domain_key)
}

/// Decodes a domain index key.
pub fn decode_domain(bytes: &[u8]) -> Result<String> {
    decode_terminated(bytes, "domain")
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
    fn client_keys_round_trip() {
        let (account, client) = (sid(3), ClientSid::from_bytes([4; 16]));
        assert_eq!(decode_client(&super::client(&client)).unwrap(), client);
        let key = account_client(&account, &client);
        assert_eq!(decode_account_client(&key).unwrap(), (account, client));
        assert!(key.starts_with(&super::account(&account)));
        let org = OrganizationSid::from_bytes([6; 16]);
        let other = OrganizationSid::from_bytes([7; 16]);
        assert_eq!(
            decode_login(&login(&org, "alice")).unwrap(),
            (org, "alice".to_string())
        );
        assert!(!login(&org, "alice2").starts_with(&login(&org, "alice")));
        assert_ne!(login(&org, "alice"), login(&other, "alice"));
        assert!(decode_login(&login(&org, "alice")[..16]).is_err());
        assert_eq!(decode_domain(&domain("pbx.test")).unwrap(), "pbx.test");
        assert!(decode_account_client(&key[1..]).is_err());
    }

    #[test]
    fn binding_keys_are_fixed_width_per_client() {
        let client = ClientSid::from_bytes([5; 16]);
        let a = binding(&client, "sip:alice@10.0.0.1:5060");
        let b = binding(&client, &format!("sip:alice@{}", "x".repeat(500)));
        assert!(a.starts_with(client.as_bytes()) && b.starts_with(client.as_bytes()));
        assert_ne!(a, b);
        assert_eq!(a, binding(&client, "sip:alice@10.0.0.1:5060"));
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
