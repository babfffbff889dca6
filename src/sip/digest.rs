//! HTTP digest for SIP (RFC 2617, RFC 7616, RFC 8760): the `Authorization` parser, response
//! computation for MD5 and SHA-256, and stateless HMAC-signed nonces.
//!
//! Pure code. A nonce is `base64url(timestamp ‖ salt ‖ HMAC-SHA256(secret, timestamp ‖ salt ‖
//! source IP)[..16])`: the server keeps no table to know it minted a nonce, for whom, and when.
//! The 8-byte random salt makes every challenge's nonce unique, even two in the same second
//! to the same address, so that per-nonce `nc` tracking never mixes two phones. What does need
//! state (the highest `nc` seen, nonces killed by a failed response) is the registrar's
//! small [`crate::sip::registrar::NonceTracker`].

use std::net::IpAddr;

use base64::Engine;

use crate::clock::UnixSecs;
use crate::crypto;
use crate::domain::DigestAlgorithms;
use crate::sip::message::split_list;

/// How long a nonce is accepted, in seconds (SPEC.md §4).
pub const NONCE_LIFETIME_SECS: UnixSecs = 300;

/// The algorithms a digest may use (the type lives with the other value types, since the
/// configuration names them too).
pub use crate::domain::DigestAlgorithm as Algorithm;

/// The hash of the concatenation of `parts` under `algorithm`, hex. In parts rather than
/// from a formatted string: this runs on every authenticated REGISTER.
fn hash(algorithm: Algorithm, parts: &[&str]) -> String {
    match algorithm {
        Algorithm::Md5 => crypto::md5_hex_of(parts),
        Algorithm::Sha256 => crypto::sha256_hex_of(parts),
    }
}

/// The parameters of a `Digest` credentials header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Credentials {
    /// `username`.
    pub username: String,
    /// `realm`.
    pub realm: String,
    /// `nonce`.
    pub nonce: String,
    /// `uri`.
    pub uri: String,
    /// `response`.
    pub response: String,
    /// `algorithm` token as sent (`MD5` when absent).
    pub algorithm: String,
    /// `qop`, if any.
    pub qop: Option<String>,
    /// `nc`, parsed from hex.
    pub nc: Option<u32>,
    /// `cnonce`.
    pub cnonce: Option<String>,
}

impl Credentials {
    /// Parses `Digest k=v, k="v", …`; `None` for another scheme or a missing required field.
    pub fn parse(header: &str) -> Option<Credentials> {
        let header = header.trim();
        let scheme_end = header.find(char::is_whitespace)?;
        if !header[..scheme_end].eq_ignore_ascii_case("digest") {
            return None;
        }
        let mut creds = Credentials {
            algorithm: "MD5".to_string(),
            ..Credentials::default()
        };
        for item in split_list(&header[scheme_end..]) {
            let (name, value) = item.split_once('=')?;
            // Compared in place: this runs on every authenticated REGISTER.
            let name = name.trim();
            let is = |known: &str| name.eq_ignore_ascii_case(known);
            let value = || unquote(value.trim());
            if is("username") {
                creds.username = value();
            } else if is("realm") {
                creds.realm = value();
            } else if is("nonce") {
                creds.nonce = value();
            } else if is("uri") {
                creds.uri = value();
            } else if is("response") {
                creds.response = value().to_ascii_lowercase();
            } else if is("algorithm") {
                creds.algorithm = value();
            } else if is("qop") {
                creds.qop = Some(value());
            } else if is("nc") {
                creds.nc = Some(u32::from_str_radix(&value(), 16).ok()?);
            } else if is("cnonce") {
                creds.cnonce = Some(value());
            }
        }
        let complete =
            !creds.username.is_empty() && !creds.nonce.is_empty() && !creds.response.is_empty();
        complete.then_some(creds)
    }

    /// The algorithm asked for, if we support it.
    pub fn algorithm(&self) -> Option<Algorithm> {
        [Algorithm::Md5, Algorithm::Sha256]
            .into_iter()
            .find(|algorithm| self.algorithm.eq_ignore_ascii_case(algorithm.token()))
    }
}

/// The expected `response` for `creds` given the stored HA1 (RFC 7616 §3.4.1). With
/// `qop=auth` it covers nonce, nc, cnonce and qop; without qop it is RFC 2069's form.
/// `None` for a qop we do not support (`auth-int`) or a qop without nc/cnonce.
pub fn expected_response(
    algorithm: Algorithm,
    ha1: &str,
    creds: &Credentials,
    method: &str,
) -> Option<String> {
    let ha2 = hash(algorithm, &[method, ":", &creds.uri]);
    let nonce = creds.nonce.as_str();
    match creds.qop.as_deref() {
        None => Some(hash(algorithm, &[ha1, ":", nonce, ":", &ha2])),
        Some(qop) if qop.eq_ignore_ascii_case("auth") => {
            let nc = crypto::hex(&creds.nc?.to_be_bytes()); // 8 hex digits, as {nc:08x}
            let cnonce = creds.cnonce.as_deref()?;
            let parts = [ha1, ":", nonce, ":", &nc, ":", cnonce, ":auth:", &ha2];
            Some(hash(algorithm, &parts))
        }
        Some(_) => None,
    }
}

/// Why a digest response was refused, as the fail2ban line names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// No usable HA1: no such login (or one made for another realm).
    UnknownUser,
    /// The response does not match.
    WrongPassword,
    /// A qop we do not support, or `auth` without nc or cnonce.
    UnsupportedQop,
}

impl Refused {
    /// The `reason=` of the log line.
    pub fn reason(self) -> &'static str {
        match self {
            Refused::UnknownUser => "unknown_user",
            Refused::WrongPassword => "wrong_password",
            Refused::UnsupportedQop => "unsupported_qop",
        }
    }
}

/// Checks `creds` against `ha1`, the stored HA1 for their algorithm. Without one (unknown
/// user) the response is compared with a random HA1's: the same work, the same answer, so
/// timing does not tell which logins exist.
pub fn verify(
    algorithm: Algorithm,
    ha1: Option<&str>,
    creds: &Credentials,
    method: &str,
) -> Result<(), Refused> {
    let dummy;
    let ha1_or_dummy = match ha1 {
        Some(ha1) => ha1,
        None => {
            // A CSPRNG failure leaves zeros: still no HA1 anyone could have answered for.
            dummy = crypto::hex(&crypto::random_bytes::<16>().unwrap_or_default());
            &dummy
        }
    };
    let expected =
        expected_response(algorithm, ha1_or_dummy, creds, method).ok_or(Refused::UnsupportedQop)?;
    let matches = crypto::ct_eq(expected.as_bytes(), creds.response.as_bytes());
    match (ha1.is_some(), matches) {
        (true, true) => Ok(()),
        (false, _) => Err(Refused::UnknownUser),
        (true, false) => Err(Refused::WrongPassword),
    }
}

/// What a nonce turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonceCheck {
    /// Ours, for this address, and young enough; minted at this Unix second.
    Valid {
        /// When it was minted.
        minted: UnixSecs,
    },
    /// Ours and for this address, but older than [`NONCE_LIFETIME_SECS`].
    Stale,
    /// Not ours, altered, or minted for another address.
    Invalid,
}

/// The per-boot nonce secret as a keyed HMAC state: two SHA-256 compressions per nonce
/// instead of four (recomputing the key's pads was 9 % of a REGISTER's instructions).
pub struct NonceKey(crypto::HmacKey);

impl NonceKey {
    /// The key for a 32-byte secret.
    pub fn new(secret: &[u8; 32]) -> NonceKey {
        NonceKey(crypto::HmacKey::new(secret))
    }
}

/// Mints a nonce for `source` at `now`; `salt` comes from the caller's CSPRNG.
pub fn mint_nonce(secret: &NonceKey, source: IpAddr, now: UnixSecs, salt: [u8; 8]) -> String {
    let mut raw = [0u8; 32];
    raw[..8].copy_from_slice(&now.to_be_bytes());
    raw[8..16].copy_from_slice(&salt);
    let mac = nonce_mac(secret, source, &raw[..16]);
    raw[16..].copy_from_slice(&mac);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// Checks a nonce's signature, address and age.
pub fn check_nonce(secret: &NonceKey, nonce: &str, source: IpAddr, now: UnixSecs) -> NonceCheck {
    let Ok(raw) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(nonce) else {
        return NonceCheck::Invalid;
    };
    let Ok(raw) = <[u8; 32]>::try_from(raw.as_slice()) else {
        return NonceCheck::Invalid;
    };
    if !crypto::ct_eq(&raw[16..], &nonce_mac(secret, source, &raw[..16])) {
        return NonceCheck::Invalid;
    }
    let mut stamp = [0u8; 8];
    stamp.copy_from_slice(&raw[..8]);
    let minted = UnixSecs::from_be_bytes(stamp);
    if minted > now.saturating_add(5) {
        return NonceCheck::Invalid;
    }
    if now.saturating_sub(minted) > NONCE_LIFETIME_SECS {
        return NonceCheck::Stale;
    }
    NonceCheck::Valid { minted }
}

/// `stamp_and_salt` is the nonce's first 16 bytes.
fn nonce_mac(secret: &NonceKey, source: IpAddr, stamp_and_salt: &[u8]) -> [u8; 16] {
    let mut message = [0u8; 32];
    message[..16].copy_from_slice(stamp_and_salt);
    let len = match source {
        IpAddr::V4(ip) => {
            message[16..20].copy_from_slice(&ip.octets());
            20
        }
        IpAddr::V6(ip) => {
            message[16..].copy_from_slice(&ip.octets());
            32
        }
    };
    let mac = secret.0.mac(&message[..len]);
    let mut out = [0u8; 16];
    out.copy_from_slice(&mac[..16]);
    out
}

/// The `WWW-Authenticate` values of a challenge: one per offered algorithm, in order.
pub fn challenge(offer: DigestAlgorithms, realm: &str, nonce: &str, stale: bool) -> Vec<String> {
    offer
        .iter()
        .map(|algorithm| {
            let mut value = format!(
                "Digest realm=\"{realm}\", nonce=\"{nonce}\", qop=\"auth\", algorithm={}",
                algorithm.token()
            );
            if stale {
                value.push_str(", stale=true");
            }
            value
        })
        .collect()
}

fn unquote(value: &str) -> String {
    match value
        .strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
    {
        Some(inner) if !inner.contains('\\') => inner.to_string(),
        Some(inner) => {
            let mut out = String::with_capacity(inner.len());
            let mut escaped = false;
            for c in inner.chars() {
                if escaped || c != '\\' {
                    out.push(c);
                    escaped = false;
                } else {
                    escaped = true;
                }
            }
            out
        }
        None => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2617_example_vector() {
        // RFC 2617 §3.5 (an HTTP example; the math is the same for SIP).
        let creds = Credentials::parse(
            r#"Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        )
        .unwrap();
        assert_eq!(creds.nc, Some(1));
        let ha1 = crypto::md5_hex(b"Mufasa:testrealm@host.com:Circle Of Life");
        assert_eq!(
            expected_response(Algorithm::Md5, &ha1, &creds, "GET").unwrap(),
            creds.response
        );
    }

    #[test]
    fn rfc7616_sha256_vector() {
        // RFC 7616 §3.9.1, SHA-256.
        let creds = Credentials::parse(
            r#"Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#,
        )
        .unwrap();
        assert_eq!(creds.algorithm(), Some(Algorithm::Sha256));
        let ha1 = crypto::sha256_hex(b"Mufasa:http-auth@example.org:Circle of Life");
        assert_eq!(
            expected_response(Algorithm::Sha256, &ha1, &creds, "GET").unwrap(),
            creds.response
        );
        let md5_creds = Credentials {
            algorithm: "MD5".into(),
            ..creds.clone()
        };
        let md5_ha1 = crypto::md5_hex(b"Mufasa:http-auth@example.org:Circle of Life");
        assert_eq!(
            expected_response(Algorithm::Md5, &md5_ha1, &md5_creds, "GET").unwrap(),
            "8ca523f5e9506fed4657c9700eebdbec"
        );
    }

    #[test]
    fn rfc2069_form_without_qop_and_unsupported_qop() {
        let creds = Credentials::parse(
            r#"Digest username="a", realm="r", nonce="n", uri="sip:r", response="x""#,
        )
        .unwrap();
        let ha1 = crypto::md5_hex(b"a:r:p");
        let ha2 = crypto::md5_hex(b"REGISTER:sip:r");
        assert_eq!(
            expected_response(Algorithm::Md5, &ha1, &creds, "REGISTER").unwrap(),
            crypto::md5_hex(format!("{ha1}:n:{ha2}").as_bytes())
        );
        let auth_int = Credentials {
            qop: Some("auth-int".into()),
            nc: Some(1),
            cnonce: Some("c".into()),
            ..creds
        };
        assert_eq!(
            expected_response(Algorithm::Md5, &ha1, &auth_int, "REGISTER"),
            None
        );
    }

    #[test]
    fn credentials_parser_rejects_junk() {
        for bad in [
            "",
            "Basic abc",
            "Digest",
            "Digest username=\"a\"",
            "Digest username=a, nonce=n, response=r, nc=zz",
            "Digest ,,,=",
        ] {
            assert_eq!(Credentials::parse(bad), None, "{bad}");
        }
        let odd =
            Credentials::parse(r#"DIGEST username="a\"b", nonce=n, response=ABC, realm="x,y""#)
                .unwrap();
        assert_eq!(
            (
                odd.username.as_str(),
                odd.realm.as_str(),
                odd.response.as_str()
            ),
            ("a\"b", "x,y", "abc")
        );
    }

    #[test]
    fn nonces_are_bound_to_address_and_age() {
        let secret = NonceKey::new(&[7u8; 32]);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let nonce = mint_nonce(&secret, ip, 1000, [1; 8]);
        assert_ne!(
            nonce,
            mint_nonce(&secret, ip, 1000, [2; 8]),
            "salted: unique per challenge"
        );
        assert_eq!(
            check_nonce(&secret, &nonce, ip, 1000),
            NonceCheck::Valid { minted: 1000 }
        );
        assert_eq!(
            check_nonce(&secret, &nonce, ip, 1300),
            NonceCheck::Valid { minted: 1000 }
        );
        assert_eq!(check_nonce(&secret, &nonce, ip, 1301), NonceCheck::Stale);
        assert_eq!(
            check_nonce(&secret, &nonce, "192.0.2.2".parse().unwrap(), 1000),
            NonceCheck::Invalid
        );
        assert_eq!(
            check_nonce(&NonceKey::new(&[8u8; 32]), &nonce, ip, 1000),
            NonceCheck::Invalid
        );
        assert_eq!(
            check_nonce(&secret, "garbage", ip, 1000),
            NonceCheck::Invalid
        );
        let mut tampered = nonce.into_bytes();
        tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            check_nonce(&secret, &String::from_utf8(tampered).unwrap(), ip, 1000),
            NonceCheck::Invalid
        );
        assert_eq!(
            check_nonce(&secret, &mint_nonce(&secret, ip, 2000, [1; 8]), ip, 1000),
            NonceCheck::Invalid
        );
    }

    #[test]
    fn a_challenge_offers_each_configured_algorithm_in_order() {
        let values = challenge(DigestAlgorithms::MD5, "pbx.test", "n1", true);
        assert_eq!(values.len(), 1, "the default: one challenge");
        let both = DigestAlgorithms::parse("SHA-256, md5").unwrap();
        let values = challenge(both, "pbx.test", "n1", true);
        assert_eq!(values.len(), 2);
        assert!(values[0].contains("algorithm=SHA-256"));
        assert!(
            values[1].contains("algorithm=MD5")
                && values[1].contains("qop=\"auth\"")
                && values[1].ends_with("stale=true")
        );
        for bad in ["", "MD5,MD5", "SHA1", "MD5,SHA-256,MD5", "MD5;SHA-256"] {
            assert_eq!(DigestAlgorithms::parse(bad), None, "{bad:?}");
        }
    }
}
