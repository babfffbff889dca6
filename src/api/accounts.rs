//! Handlers for `/Accounts` and `/Accounts/{AccountSid|EmailAddress}` (SPEC.md §2).
//!
//! Each handler decodes parameters, calls one `domain::accounts` function and renders the
//! result. The representation shows the AuthToken only in the answer to the write that issued
//! it: the store keeps a hash, so there is nothing to show later.

use crate::api::clients;
use crate::api::form::Params;
use crate::api::format::{self, Names, Repr};
use crate::api::{self as api, ApiResponse, Ctx, API_VERSION};
use crate::domain::accounts::{self, Account, AccountChanges, Caller, Issued, Limits, NewAccount};
use crate::domain::organizations::{self, Migrated};
use crate::domain::{
    rfc2822, AccountRef, AccountSid, Email, FriendlyName, OrganizationRef, Password, Role, Status,
};
use crate::error::{Error, Result};
use crate::state::AppState;

const NAMES: Names = Names {
    singular: "Account",
    plural: "Accounts",
};

/// `GET /Accounts`: the caller's descendants, oldest first; `OrganizationSid` keeps those of
/// one organization.
pub fn list(state: &AppState, caller: &Caller, ctx: &Ctx<'_>) -> Result<ApiResponse> {
    let mut query = ctx.query()?;
    let paging = api::paging(&mut query)?;
    let organization = query.optional("OrganizationSid", organizations::parse_sid)?;
    query.finish();
    let all = accounts::list(&state.store, caller, organization)?;
    let items: Vec<Repr> = all.iter().map(|record| repr(record, None, ctx)).collect();
    let filter = organization.map_or_else(String::new, |sid| format!("OrganizationSid={sid}"));
    Ok(api::list_response(ctx, NAMES, items, paging, &filter))
}

/// `POST /Accounts`: creates a sub-account of the caller. 200, as Restcomm answers.
pub fn create(state: &AppState, caller: &Caller, ctx: &Ctx<'_>) -> Result<ApiResponse> {
    let form = ctx.form()?;
    create_under(state, caller, ctx, &AccountRef::Sid(caller.sid), form)
}

/// Creates a child of `parent` from the form: `POST /Accounts`, and the Accounts document's
/// `POST /Accounts/{Sid}.json` with an `EmailAddress` (SPEC.md §1).
fn create_under(
    state: &AppState,
    caller: &Caller,
    ctx: &Ctx<'_>,
    parent: &AccountRef,
    mut form: Params,
) -> Result<ApiResponse> {
    let new = NewAccount {
        email: Email::parse(&form.require("EmailAddress")?)?,
        password: Password::parse(&form.require("Password")?)?,
        friendly_name: form.optional("FriendlyName", FriendlyName::parse)?,
        role: form.optional("Role", Role::parse)?,
        status: form.optional("Status", Status::parse)?,
        organization: form.optional("OrganizationSid", organizations::parse_sid)?,
    };
    form.finish();
    let limits = Limits {
        max_depth: state.config.max_depth,
    };
    let issued = accounts::create(&state.store, caller, parent, new, limits, ctx.now)?;
    log::info!(
        "account {} created under {} by {}",
        issued.account.sid,
        issued
            .account
            .parent
            .map_or_else(String::new, |sid| sid.to_string()),
        caller.sid
    );
    Ok(ctx.ok(render(&issued, ctx)))
}

/// `GET /Accounts/{id}`.
pub fn get(state: &AppState, caller: &Caller, ctx: &Ctx<'_>, id: &str) -> Result<ApiResponse> {
    let record = accounts::find(&state.store, caller, &AccountRef::parse(id))?;
    Ok(ctx.ok(format::one(ctx.format, NAMES, &repr(&record, None, ctx))))
}

/// `POST`/`PUT /Accounts/{id}`: FriendlyName, Password, Status, Role. With an `EmailAddress`
/// it is the Accounts document's create of a sub-account of `id`, never an update of `id`.
pub fn update(state: &AppState, caller: &Caller, ctx: &Ctx<'_>, id: &str) -> Result<ApiResponse> {
    let mut form = ctx.form()?;
    if form.has("EmailAddress") {
        return create_under(state, caller, ctx, &AccountRef::parse(id), form);
    }
    let changes = AccountChanges {
        friendly_name: form.optional("FriendlyName", FriendlyName::parse)?,
        password: form.optional("Password", Password::parse)?,
        status: form.optional("Status", Status::parse)?,
        role: form.optional("Role", Role::parse)?,
    };
    form.finish();
    let nothing_to_do = changes.friendly_name.is_none()
        && changes.password.is_none()
        && changes.status.is_none()
        && changes.role.is_none();
    if nothing_to_do {
        return get(state, caller, ctx, id);
    }
    let issued = accounts::update(
        &state.store,
        caller,
        &AccountRef::parse(id),
        changes,
        ctx.now,
    )?;
    log::info!("account {} updated by {}", issued.account.sid, caller.sid);
    Ok(ctx.ok(render(&issued, ctx)))
}

/// `DELETE /Accounts/{id}`: closes the account and its subtree; 200 with the closed record.
/// The documented `Sid` parameter (body or query) may only repeat the path's account.
pub fn delete(state: &AppState, caller: &Caller, ctx: &Ctx<'_>, id: &str) -> Result<ApiResponse> {
    let id = AccountRef::parse(id);
    let named = match ctx.form()?.take("Sid")? {
        Some(sid) => Some(sid),
        None => ctx.query()?.take("Sid")?,
    };
    if let Some(named) = named {
        let target = accounts::find(&state.store, caller, &id)?;
        if AccountSid::parse(&named) != Some(target.sid) {
            return Err(Error::Invalid(format!(
                "Sid {:?} is not the account of the path ({}); nothing was closed",
                named.chars().take(64).collect::<String>(),
                target.sid
            )));
        }
    }
    let record = accounts::close(&state.store, caller, &id, ctx.now)?;
    log::info!("account {} closed by {}", record.sid, caller.sid);
    Ok(ctx.ok(format::one(ctx.format, NAMES, &repr(&record, None, ctx))))
}

/// `POST /Accounts/migrate/{AccountSid}` with `Organization` (SID or domain): moves a
/// top-level account and its subtree to another organization (root Administrator only).
/// The answer is the account, with the moved clients that need a new `Password` to
/// register at their new domain (until then their phones register at the old one).
pub fn migrate(state: &AppState, caller: &Caller, ctx: &Ctx<'_>, id: &str) -> Result<ApiResponse> {
    let mut form = ctx.form()?;
    let target = form.take("Organization")?;
    form.finish();
    if !caller.is_root() {
        return Err(Error::Forbidden(
            "only the root Administrator may migrate accounts".to_string(),
        ));
    }
    let target = target
        .filter(|target| !target.is_empty())
        .ok_or(Error::PreconditionFailed(
            "Organization (the target organization's SID or domain name) is required",
        ))?;
    let account = AccountSid::parse(id).ok_or(Error::NotFound("account"))?;
    let migrated = organizations::migrate(
        &state.store,
        caller,
        &AccountRef::Sid(account),
        &OrganizationRef::parse(&target),
        ctx.now,
    )?;
    log::info!(
        "account {} and {} below it migrated to organization {} by {}",
        migrated.account.sid,
        migrated.accounts - 1,
        migrated.account.organization,
        caller.sid
    );
    let body = migrated_repr(state, &migrated, ctx);
    Ok(ctx.ok(format::one(ctx.format, NAMES, &body)))
}

fn migrated_repr(state: &AppState, migrated: &Migrated, ctx: &Ctx<'_>) -> Repr {
    let Repr::Obj(mut fields) = repr(&migrated.account, None, ctx) else {
        unreachable!("an account is an object");
    };
    let count = i64::try_from(migrated.accounts).unwrap_or(i64::MAX);
    fields.push(("migrated_accounts", Repr::Int(count)));
    let clients = migrated
        .clients_needing_password
        .iter()
        .map(|client| clients::repr(client, state, ctx))
        .collect();
    fields.push(("clients_needing_password", Repr::List("Client", clients)));
    Repr::Obj(fields)
}

fn render(issued: &Issued, ctx: &Ctx<'_>) -> Vec<u8> {
    format::one(
        ctx.format,
        NAMES,
        &repr(&issued.account, issued.auth_token.as_deref(), ctx),
    )
}

/// The public representation of an account (the domain's view holds no hash to leak).
fn repr(record: &Account, auth_token: Option<&str>, ctx: &Ctx<'_>) -> Repr {
    let suffix = ctx.format.suffix();
    let base = format!("/{API_VERSION}/Accounts/{}", record.sid);
    let mut fields = vec![("sid", Repr::Str(record.sid.to_string()))];
    if let Some(parent) = record.parent {
        fields.push(("owner_account_sid", Repr::Str(parent.to_string())));
    }
    fields.push((
        "organization_sid",
        Repr::Str(record.organization.to_string()),
    ));
    fields.extend([
        ("friendly_name", Repr::Str(record.friendly_name.clone())),
        ("email_address", Repr::Str(record.email.clone())),
        ("type", Repr::Str("Full".to_string())),
        ("status", Repr::Str(record.status.as_str().to_string())),
        ("role", Repr::Str(record.role.as_str().to_string())),
    ]);
    if let Some(token) = auth_token {
        fields.push(("auth_token", Repr::Str(token.to_string())));
    }
    fields.extend([
        ("date_created", Repr::Str(rfc2822(record.created))),
        ("date_updated", Repr::Str(rfc2822(record.updated))),
        ("uri", Repr::Str(format!("{base}{suffix}"))),
        (
            "subresource_uris",
            Repr::Obj(vec![
                ("clients", Repr::Str(format!("{base}/Clients{suffix}"))),
                (
                    "registrations",
                    Repr::Str(format!("{base}/Registrations{suffix}")),
                ),
            ]),
        ),
    ]);
    Repr::Obj(fields)
}
