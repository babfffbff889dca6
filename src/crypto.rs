//! Secrets: random bytes, hashing of tokens and passwords, constant-time comparison.
//!
//! Everything that makes or checks a secret goes through here, so that there is one place to
//! audit. Passwords are hashed with PBKDF2-HMAC-SHA256 (salted, iterated, RFC 8018) written
//! over `sha2`; random tokens carry 128 bits of entropy and need only one SHA-256. Nothing in
//! this module logs, and no function returns early on the contents of a secret.

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// PBKDF2 iterations for new password hashes. Stored with each hash, so it can be raised
/// later without invalidating old ones. Chosen so that one check stays around 10 ms on a
/// slow ARM core: password authentication runs on every API request that uses it.
pub const PBKDF2_ITERATIONS: u32 = 10_000;

/// Fills an array with bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut buf = [0u8; N];
    getrandom::getrandom(&mut buf)
        .map_err(|err| Error::Io(std::io::Error::other(format!("getrandom: {err}"))))?;
    Ok(buf)
}

/// Lowercase hexadecimal encoding.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Decodes lowercase or uppercase hexadecimal into exactly `N` bytes.
pub fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let digits = text.as_bytes();
    if digits.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    for (idx, pair) in digits.chunks_exact(2).enumerate() {
        let hi = char::from(pair[0]).to_digit(16)?;
        let lo = char::from(pair[1]).to_digit(16)?;
        out[idx] = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

/// SHA-256 of `data`, hex-encoded.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// MD5 of `data`, hex-encoded. Only for SIP digest (RFC 2617), which phones still speak.
pub fn md5_hex(data: &[u8]) -> String {
    hex(&md5::Md5::digest(data))
}

/// MD5 of the concatenation of `parts`, lowercase hex (no joined copy is made).
pub fn md5_hex_of(parts: &[impl AsRef<[u8]>]) -> String {
    let mut hasher = md5::Md5::new();
    parts.iter().for_each(|part| hasher.update(part.as_ref()));
    hex(&hasher.finalize())
}

/// SHA-256 of the concatenation of `parts`, lowercase hex.
pub fn sha256_hex_of(parts: &[impl AsRef<[u8]>]) -> String {
    let mut hasher = Sha256::new();
    parts.iter().for_each(|part| hasher.update(part.as_ref()));
    hex(&hasher.finalize())
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    // black_box keeps the optimiser from turning the fold into an early exit.
    std::hint::black_box(diff) == 0
}

/// HMAC-SHA256 (RFC 2104).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    HmacKey::new(key).mac(message)
}

/// PBKDF2-HMAC-SHA256 with a 32-byte output (RFC 8018 §5.2, one block).
pub fn pbkdf2_sha256(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    // The keyed state is computed once; each iteration then costs two compressions instead
    // of four, which matters on a slow core.
    let key = HmacKey::new(password);
    let mut first = Vec::with_capacity(salt.len() + 4);
    first.extend_from_slice(salt);
    first.extend_from_slice(&1u32.to_be_bytes());
    let mut u = key.mac(&first);
    let mut out = u;
    for _ in 1..iterations {
        u = key.mac(&u);
        for (o, x) in out.iter_mut().zip(u) {
            *o ^= x;
        }
    }
    out
}

/// An HMAC-SHA256 key with its inner and outer pads already absorbed.
pub struct HmacKey {
    inner: Sha256,
    outer: Sha256,
}

impl HmacKey {
    /// Absorbs the key's pads once.
    pub fn new(key: &[u8]) -> HmacKey {
        let mut block = [0u8; 64];
        if key.len() > 64 {
            block[..32].copy_from_slice(&Sha256::digest(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let mut inner = Sha256::new();
        inner.update(block.map(|b| b ^ 0x36));
        let mut outer = Sha256::new();
        outer.update(block.map(|b| b ^ 0x5c));
        HmacKey { inner, outer }
    }

    /// HMAC-SHA256 of `message` under this key.
    pub fn mac(&self, message: &[u8]) -> [u8; 32] {
        let mut inner = self.inner.clone();
        inner.update(message);
        let mut outer = self.outer.clone();
        outer.update(inner.finalize());
        outer.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn pbkdf2_matches_known_vectors() {
        // Vectors from RFC 7914 §11 (PBKDF2-HMAC-SHA256, first 32 bytes).
        let one = pbkdf2_sha256(b"passwd", b"salt", 1);
        assert_eq!(
            hex(&one),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        );
        let many = pbkdf2_sha256(b"Password", b"NaCl", 80000);
        assert_eq!(
            hex(&many),
            "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
        );
    }

    #[test]
    fn md5_matches_rfc1321() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
    }

    #[test]
    fn hex_round_trips_and_rejects_bad_input() {
        let bytes = [0x00, 0x7f, 0x80, 0xff];
        assert_eq!(hex(&bytes), "007f80ff");
        assert_eq!(unhex::<4>("007f80ff"), Some(bytes));
        assert_eq!(unhex::<4>("007F80FF"), Some(bytes));
        assert_eq!(unhex::<4>("007f80f"), None);
        assert_eq!(unhex::<4>("007f80fg"), None);
        assert_eq!(unhex::<2>("é1"), None);
    }

    #[test]
    fn ct_eq_compares_whole_strings() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
        assert!(ct_eq(b"", b""));
    }
}
