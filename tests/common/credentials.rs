//! Credentials as a client sends them, for the tests of every tier (the in-crate tests
//! include this file by path, the black-box tests as a module): one copy of each.

use base64::Engine;

/// `Basic` credentials.
pub fn basic(user: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"))
    )
}

/// The nonce of the first challenge in a response (or in one `WWW-Authenticate` value).
pub fn nonce_of(challenge: &str) -> String {
    let after = challenge
        .split("nonce=\"")
        .nth(1)
        .expect("a challenge with a nonce");
    after.split('"').next().unwrap_or_default().to_string()
}

/// A digest `Authorization` header line (RFC 7616, `qop=auth`) answering `nonce` for a
/// REGISTER to `sip:{realm}`; `algorithm` is `MD5` or `SHA-256`.
pub fn digest_authorization(
    user: &str,
    password: &str,
    realm: &str,
    nonce: &str,
    nc: u32,
    algorithm: &str,
) -> String {
    use sha2::Digest as _;
    let hash = |text: String| -> String {
        let bytes: Vec<u8> = match algorithm {
            "MD5" => md5::Md5::digest(text.as_bytes()).to_vec(),
            _ => sha2::Sha256::digest(text.as_bytes()).to_vec(),
        };
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    };
    let uri = format!("sip:{realm}");
    let ha1 = hash(format!("{user}:{realm}:{password}"));
    let ha2 = hash(format!("REGISTER:{uri}"));
    let response = hash(format!("{ha1}:{nonce}:{nc:08x}:cn0nce:auth:{ha2}"));
    format!(
        "Authorization: Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", \
         uri=\"{uri}\", response=\"{response}\", algorithm={algorithm}, qop=auth, \
         nc={nc:08x}, cnonce=\"cn0nce\"\r\n"
    )
}
