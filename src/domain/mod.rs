//! The domain layer: identifiers, validated value types and the rules of each entity.
//!
//! Values of the newtypes here are valid by construction (`parse` is the only way in), so the
//! entity modules below never re-check them. Domain code decides *what* changes; it never
//! builds keys or opens transactions (that is `store/`), and it never sees HTTP (that is
//! `api/`). Time is always an argument (`now`, Unix seconds), so tests can fix it.

pub mod accounts;
pub mod bindings;
pub mod clients;
pub mod organizations;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::crypto;
use crate::error::{Error, Result};

/// Defines a resource identifier: a two-letter prefix and 32 lowercase hex digits (16 random
/// bytes), stored as its 16 bytes and shown in its textual form.
macro_rules! sid_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; 16]);

        impl $name {
            /// Parses the textual form; `None` when the text is not a well-formed SID.
            pub fn parse(text: &str) -> Option<$name> {
                let hex = text.strip_prefix($prefix)?;
                if hex.bytes().any(|b| b.is_ascii_uppercase()) {
                    return None;
                }
                crypto::unhex::<16>(hex).map($name)
            }

            /// A fresh random SID.
            pub fn random() -> Result<$name> {
                Ok($name(crypto::random_bytes()?))
            }

            /// The 16 bytes the store keys on.
            pub fn as_bytes(&self) -> &[u8; 16] {
                &self.0
            }

            /// Rebuilds a SID from its 16 stored bytes.
            pub fn from_bytes(bytes: [u8; 16]) -> $name {
                $name(bytes)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{}", $prefix, crypto::hex(&self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                $name::parse(&text)
                    .ok_or_else(|| serde::de::Error::custom(format!("bad sid {text:?}")))
            }
        }
    };
}

sid_type!(
    /// An account identifier: `AC` followed by 32 lowercase hex digits.
    AccountSid,
    "AC"
);
sid_type!(
    /// A client identifier: `CL` followed by 32 lowercase hex digits.
    ClientSid,
    "CL"
);

sid_type!(
    /// An organization identifier: `OR` followed by 32 lowercase hex digits.
    OrganizationSid,
    "OR"
);

/// A SIP domain name: what names an organization (SPEC.md §2.1). A host name of RFC 1123:
/// dot-separated labels of letters, digits and inner hyphens, 1–63 characters each, at most
/// 253 in all, the last not all digits (that would be an IPv4 address, which means the box
/// itself). Kept in lowercase: it is the digest realm phones answer with, and one spelling of
/// it is what the box challenges with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainName(String);

impl DomainName {
    /// Parses a host name (any case; kept lowercase).
    pub fn parse(text: &str) -> Result<DomainName> {
        let shown: String = text.chars().take(64).collect();
        let invalid =
            |why: &str| Error::Invalid(format!("{shown:?} is not a valid domain name ({why})"));
        if text.is_empty() || text.len() > 253 {
            return Err(invalid("1 to 253 characters"));
        }
        let labels: Vec<&str> = text.split('.').collect();
        for label in &labels {
            let ok = (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-');
            if !ok {
                return Err(invalid(
                    "labels of letters, digits and inner hyphens, 1 to 63 characters, between dots",
                ));
            }
        }
        if labels
            .last()
            .is_some_and(|last| last.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(invalid("an address is not a domain name"));
        }
        Ok(DomainName(text.to_ascii_lowercase()))
    }

    /// The name, lowercase.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How a request names an organization: by SID, or else by domain name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrganizationRef {
    /// `OR` and 32 hex digits.
    Sid(OrganizationSid),
    /// Anything else is looked up as a domain name (case-insensitive).
    Domain(String),
}

impl OrganizationRef {
    /// Reads a path segment or parameter: a well-formed SID is a SID, anything else a domain.
    pub fn parse(text: &str) -> OrganizationRef {
        match OrganizationSid::parse(text) {
            Some(sid) => OrganizationRef::Sid(sid),
            None => OrganizationRef::Domain(text.to_string()),
        }
    }
}

/// How a path names an account: by SID, or else by email address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountRef {
    /// `AC` and 32 hex digits.
    Sid(AccountSid),
    /// Anything else is looked up as an email (case-insensitive).
    Email(String),
}

impl AccountRef {
    /// Reads a path segment: a well-formed SID is a SID, anything else an email.
    pub fn parse(text: &str) -> AccountRef {
        match AccountSid::parse(text) {
            Some(sid) => AccountRef::Sid(sid),
            None => AccountRef::Email(text.to_string()),
        }
    }
}

impl From<AccountSid> for AccountRef {
    fn from(sid: AccountSid) -> AccountRef {
        AccountRef::Sid(sid)
    }
}

/// How a phone's REGISTER arrived, and so how to reach it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Transport {
    /// A datagram.
    #[serde(rename = "UDP")]
    Udp,
    /// A stream connection.
    #[serde(rename = "TCP")]
    Tcp,
    /// A stream connection under TLS.
    #[serde(rename = "TLS")]
    Tls,
}

impl Transport {
    /// `UDP`, `TCP` or `TLS`, as shown in registrations.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        }
    }
}

/// A digest algorithm (RFC 7616): what a challenge offers and a phone answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigestAlgorithm {
    /// RFC 2617's MD5: what every phone speaks.
    Md5,
    /// RFC 8760's SHA-256: newer phones only.
    Sha256,
}

impl DigestAlgorithm {
    /// The token in `algorithm=`.
    pub fn token(self) -> &'static str {
        match self {
            DigestAlgorithm::Md5 => "MD5",
            DigestAlgorithm::Sha256 => "SHA-256",
        }
    }
}

/// The digest challenges a 401 offers, in order: one algorithm or both. Many phones answer
/// only the first challenge, others only the last, and some fail on one they do not know, so
/// the default is MD5 alone (as Kamailio, Asterisk and FreeSWITCH offer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DigestAlgorithms([Option<DigestAlgorithm>; 2]);

impl DigestAlgorithms {
    /// MD5 alone, the default.
    pub const MD5: DigestAlgorithms = DigestAlgorithms([Some(DigestAlgorithm::Md5), None]);

    /// Parses a comma-separated list of `MD5` and `SHA-256` (any case), each at most once.
    pub fn parse(text: &str) -> Option<DigestAlgorithms> {
        let mut out = [None; 2];
        for (count, name) in text.split(',').map(str::trim).enumerate() {
            let algorithm = if name.eq_ignore_ascii_case("MD5") {
                DigestAlgorithm::Md5
            } else if name.eq_ignore_ascii_case("SHA-256") {
                DigestAlgorithm::Sha256
            } else {
                return None;
            };
            if count == 2 || out.contains(&Some(algorithm)) {
                return None;
            }
            out[count] = Some(algorithm);
        }
        Some(DigestAlgorithms(out))
    }

    /// The algorithms, in the order the challenges go out.
    pub fn iter(self) -> impl Iterator<Item = DigestAlgorithm> {
        self.0.into_iter().flatten()
    }

    /// True when a challenge for `algorithm` is offered.
    pub fn offers(self, algorithm: DigestAlgorithm) -> bool {
        self.0.contains(&Some(algorithm))
    }
}

/// The lifecycle state of an account (SPEC.md §2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Created but waiting for a password to be set; cannot authenticate.
    Uninitialized,
    /// The only status that authenticates on the API and registers phones.
    Active,
    /// Temporarily disabled; can be re-activated.
    Suspended,
    /// Final: the account and its subtree are gone for good, the record stays.
    Closed,
}

impl Status {
    /// Parses the API spelling, ignoring case.
    pub fn parse(text: &str) -> Result<Status> {
        match text.to_ascii_lowercase().as_str() {
            "uninitialized" => Ok(Status::Uninitialized),
            "active" => Ok(Status::Active),
            "suspended" => Ok(Status::Suspended),
            "closed" => Ok(Status::Closed),
            _ => Err(Error::Invalid(format!(
                "Status must be one of active, suspended, closed, uninitialized (got {text:?})"
            ))),
        }
    }

    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Uninitialized => "uninitialized",
            Status::Active => "active",
            Status::Suspended => "suspended",
            Status::Closed => "closed",
        }
    }
}

/// What an account may do (SPEC.md §2, Roles).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// Acts on itself and all its descendants; the only role that manages sub-accounts.
    Administrator,
    /// Manages its own record and Clients, not sub-accounts.
    Developer,
    /// Like Developer (the difference in Restcomm concerns SMS and recordings).
    ProvisioningAgent,
}

impl Role {
    /// Parses the API spelling, ignoring case.
    pub fn parse(text: &str) -> Result<Role> {
        match text.to_ascii_lowercase().as_str() {
            "administrator" => Ok(Role::Administrator),
            "developer" => Ok(Role::Developer),
            "provisioningagent" => Ok(Role::ProvisioningAgent),
            _ => Err(Error::Invalid(format!(
                "Role must be one of Administrator, Developer, ProvisioningAgent (got {text:?})"
            ))),
        }
    }

    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Administrator => "Administrator",
            Role::Developer => "Developer",
            Role::ProvisioningAgent => "ProvisioningAgent",
        }
    }
}

/// A syntactically valid email address, kept as given; uniqueness uses [`Email::key`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Accepts `local@domain` with printable ASCII, no spaces, at most 254 characters.
    /// Deliberately loose beyond that: the address is an identifier here, nothing is mailed.
    pub fn parse(text: &str) -> Result<Email> {
        let invalid = || Error::Invalid(format!("EmailAddress {text:?} is not a valid email"));
        if text.len() > 254 {
            return Err(Error::Invalid(
                "EmailAddress is longer than 254 characters".to_string(),
            ));
        }
        let (local, domain) = text.split_once('@').ok_or_else(invalid)?;
        let printable = |s: &str| s.bytes().all(|b| b.is_ascii_graphic() && b != b'@');
        let domain_ok = !domain.is_empty()
            && printable(domain)
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
        if local.is_empty() || local.len() > 64 || !printable(local) || !domain_ok {
            return Err(invalid());
        }
        Ok(Email(text.to_string()))
    }

    /// The address as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-insensitive identity of the address, used by the unique index.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// A password that meets a policy: 8–128 characters, no control characters, and a mix of
/// character classes (see [`Password::parse`] and [`Password::parse_sip`]).
pub struct Password(String);

impl Password {
    /// The account policy (SPEC.md §2): letters and digits, both.
    pub fn parse(text: &str) -> Result<Password> {
        Password::checked(
            text,
            |letters, digits, _| letters && digits,
            "both letters and digits",
        )
    }

    /// The SIP client policy: at least two of letters, digits and symbols. Looser than the
    /// account rule because provisioning systems and test kits (the SIPp user lists) hand out
    /// SIP passwords such as `alice-secret`; one-class passwords are still refused.
    pub fn parse_sip(text: &str) -> Result<Password> {
        let rule = |letters: bool, digits: bool, symbols: bool| {
            u8::from(letters) + u8::from(digits) + u8::from(symbols) >= 2
        };
        Password::checked(text, rule, "at least two of letters, digits and symbols")
    }

    fn checked(text: &str, rule: fn(bool, bool, bool) -> bool, wanted: &str) -> Result<Password> {
        let chars = text.chars().count();
        if chars < 8 {
            return Err(Error::Invalid(
                "Password must be at least 8 characters long".to_string(),
            ));
        }
        if chars > 128 {
            return Err(Error::Invalid(
                "Password must be at most 128 characters long".to_string(),
            ));
        }
        if text.chars().any(char::is_control) {
            return Err(Error::Invalid(
                "Password must not contain control characters".to_string(),
            ));
        }
        let letters = text.chars().any(char::is_alphabetic);
        let digits = text.chars().any(|c| c.is_ascii_digit());
        let symbols = text.chars().any(|c| !c.is_alphanumeric());
        if !rule(letters, digits, symbols) {
            return Err(Error::Invalid(format!("Password must contain {wanted}")));
        }
        Ok(Password(text.to_string()))
    }

    /// The secret itself; callers only hash it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A display name: 1–64 characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FriendlyName(String);

impl FriendlyName {
    /// Checks length and characters.
    pub fn parse(text: &str) -> Result<FriendlyName> {
        let chars = text.chars().count();
        if chars == 0 || chars > 64 {
            return Err(Error::Invalid(
                "FriendlyName must be 1 to 64 characters long".to_string(),
            ));
        }
        if text.chars().any(char::is_control) {
            return Err(Error::Invalid(
                "FriendlyName must not contain control characters".to_string(),
            ));
        }
        Ok(FriendlyName(text.to_string()))
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A SIP login: the user part phones register with (SPEC.md §3). 1–64 characters from
/// RFC 3261's user part without those that break Restcomm clients (`?`, `=`, `@`, `:`).
/// Case-sensitive, as SIP user parts are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Login(String);

impl Login {
    /// Checks length and characters, naming the first bad one.
    pub fn parse(text: &str) -> Result<Login> {
        if text.is_empty() || text.chars().count() > 64 {
            return Err(Error::Invalid(
                "Login must be 1 to 64 characters long".to_string(),
            ));
        }
        if let Some(bad) = text
            .chars()
            .find(|c| !c.is_ascii_alphanumeric() && !"-_.!~*'()&+$,;/".contains(*c))
        {
            return Err(Error::Invalid(format!(
                "Login may hold letters, digits and -_.!~*'()&+$,;/ only, not {bad:?}"
            )));
        }
        Ok(Login(text.to_string()))
    }

    /// The login as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Formats Unix seconds as RFC 2822, the way Restcomm does: `Mon, 4 Nov 2013 16:33:39 +0000`.
pub fn rfc2822(unix_secs: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix_secs.div_euclid(86_400);
    let secs_of_day = unix_secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let weekday = DAYS[usize::try_from(days.rem_euclid(7)).unwrap_or(0)];
    let month_name = MONTHS[usize::try_from(month - 1).unwrap_or(0)];
    format!(
        "{weekday}, {day} {month_name} {year} {:02}:{:02}:{:02} +0000",
        secs_of_day / 3600,
        secs_of_day % 3600 / 60,
        secs_of_day % 60
    )
}

/// Formats Unix seconds as an HTTP/SIP date (RFC 1123, always GMT): `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn http_date(unix_secs: i64) -> String {
    let text = rfc2822(unix_secs);
    // "Sun, 6 Nov 1994 08:49:37 +0000" → two-digit day, "GMT".
    let (weekday, rest) = text.split_once(", ").unwrap_or(("", &text));
    let (day, rest) = rest.split_once(' ').unwrap_or(("", rest));
    let rest = rest.strip_suffix(" +0000").unwrap_or(rest);
    format!("{weekday}, {day:0>2} {rest} GMT")
}

/// Converts days since 1970-01-01 to (year, month 1–12, day 1–31).
/// Howard Hinnant's `civil_from_days`, exact for the proleptic Gregorian calendar.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests;
