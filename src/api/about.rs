//! `GET /Box`: what the box says about itself, for the console's "This box" panel and for
//! scripts: version, uptime, the caller's SIP domain, listeners and the TLS certificate's fingerprint, all of
//! which anyone on the LAN can learn by connecting. The recent failed authentications (the
//! lines fail2ban reads) name logins and addresses of every tenant, so only the root
//! Administrator sees them.

use crate::api::format::{self, Names, Repr};
use crate::api::{ApiResponse, Ctx};
use crate::auth;
use crate::domain::accounts::Caller;
use crate::domain::organizations;
use crate::domain::{rfc2822, OrganizationRef, Role};
use crate::error::Result;
use crate::state::AppState;

const NAMES: Names = Names {
    singular: "Box",
    plural: "Boxes",
};

/// `GET /Box`.
pub fn get(state: &AppState, caller: &Caller, ctx: &Ctx<'_>) -> Result<ApiResponse> {
    ctx.query()?.finish();
    let about = &state.about;
    // The caller's phones register to its organization's domain.
    let own = organizations::find(
        &state.store,
        caller,
        &OrganizationRef::Sid(caller.organization),
    )?;
    let listeners = about
        .listeners
        .iter()
        .map(|(name, addr)| {
            let shown = addr.map_or(Repr::Null, |addr| Repr::Str(addr.to_string()));
            (*name, shown)
        })
        .collect();
    let (fingerprint, pin) = match &about.certificate {
        Some((fingerprint, pin)) => (Repr::Str(fingerprint.clone()), Repr::Str(pin.clone())),
        None => (Repr::Null, Repr::Null),
    };
    let mut fields = vec![
        ("version", Repr::Str(env!("CARGO_PKG_VERSION").to_string())),
        ("date_started", Repr::Str(rfc2822(about.started))),
        ("uptime", Repr::Int((ctx.now - about.started).max(0))),
        ("sip_domain", Repr::Str(own.domain)),
        ("organization_sid", Repr::Str(own.sid.to_string())),
        ("listeners", Repr::Obj(listeners)),
        ("tls_sha256", fingerprint),
        ("tls_pin", pin),
    ];
    if caller.depth == 1 && caller.role == Role::Administrator {
        let failures = auth::recent_failures()
            .into_iter()
            .map(|failure| {
                Repr::Obj(vec![
                    ("date", Repr::Str(rfc2822(failure.at))),
                    ("line", Repr::Str(failure.line)),
                ])
            })
            .collect();
        fields.push(("recent_auth_failures", Repr::List("Failure", failures)));
    }
    Ok(ctx.ok(format::one(ctx.format, NAMES, &Repr::Obj(fields))))
}
