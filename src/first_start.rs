//! The first start of a box: its root Administrator, whose random credentials are shown once
//! (log and `initial-credentials`), beside the fingerprint of the TLS certificate the box
//! made, so that the administrator can pin it before the first HTTPS request.

use crate::admin::write_private;
use crate::clock;
use crate::crypto;
use crate::domain::{accounts, Password};
use crate::error::Result;
use crate::state::AppState;
use crate::tls::Tls;

/// On an empty store, creates the root Administrator with a random password, prints its
/// credentials once and writes them to `<data dir>/initial-credentials` (mode 0600), with the
/// TLS certificate's fingerprint beside them. On a store that has its administrator (an
/// upgraded box), a certificate made at this start is announced on its own.
pub fn ensure_admin(state: &AppState, tls: Option<&Tls>) -> Result<()> {
    if !state.store.is_empty()? {
        if let Some(tls) = tls.filter(|tls| tls.made) {
            log::warn!(
                "made a self-signed certificate for HTTPS and SIP over TLS ({}): SHA-256 \
                 fingerprint {}, public key pin {}",
                tls.cert_file.display(),
                tls.fingerprint,
                tls.pin
            );
        }
        return Ok(());
    }
    let password = loop {
        // 18 random bytes in base64url: 24 characters, 144 bits; retried until the password
        // policy (letters and digits) holds, which almost always is at once.
        let bytes = crypto::random_bytes::<18>()?;
        let text = base64_url(&bytes);
        if let Ok(password) = Password::parse(&text) {
            break password;
        }
    };
    let email = &state.config.admin_email;
    let file = state.config.data_dir.join("initial-credentials");
    // Written before the account exists: a crash in between leaves a file whose email and
    // password still work once the next start creates the account... with a new password, so
    // the next start rewrites it. Never the other way round (an account nobody can log into).
    write_private(
        &file,
        &format!("email={}\npassword={}\n", email.as_str(), password.expose()),
    )?;
    let issued = accounts::create_root(&state.store, email, &password, clock::now())?;
    let token = issued.auth_token.unwrap_or_default();
    let certificate = tls.map_or_else(String::new, |tls| {
        format!("tls_sha256={}\ntls_pin={}\n", tls.fingerprint, tls.pin)
    });
    let text = format!(
        "# edgecomm initial Administrator. Change the password, then delete this file.\n\
         email={}\nsid={}\npassword={}\nauth_token={token}\n{certificate}",
        email.as_str(),
        issued.account.sid,
        password.expose()
    );
    write_private(&file, &text)?;
    let certificate = tls.map_or_else(String::new, |tls| {
        format!(
            ", TLS certificate SHA-256 {} (pin {})",
            tls.fingerprint, tls.pin
        )
    });
    log::warn!(
        "created the root Administrator: email={} sid={} password={} auth_token={token}\
         {certificate} (also in {}; shown once)",
        email.as_str(),
        issued.account.sid,
        password.expose(),
        file.display()
    );
    Ok(())
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
