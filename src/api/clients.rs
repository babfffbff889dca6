//! Handlers for `/Accounts/{AccountSid}/Clients` and `…/Clients/{ClientSid}` (SPEC.md §3).
//!
//! The representation never holds the password or its HA1 values: `repr` builds the public
//! fields one by one from the record, and the record's secrets have no path into it.

use crate::api::form::Params;
use crate::api::format::{self, Names, Repr};
use crate::api::{self as api, ApiResponse, Ctx, API_VERSION};
use crate::domain::accounts::Caller;
use crate::domain::clients::{self, Client, ClientChanges, NewClient, VoiceChanges};
use crate::domain::{bindings, rfc2822, AccountRef, FriendlyName, Login, Password};
use crate::error::{Error, Result};
use crate::state::AppState;

const NAMES: Names = Names {
    singular: "Client",
    plural: "Clients",
};

/// `GET …/Clients`: by login, optionally filtered by `Login`, optionally paged.
pub fn list(
    state: &AppState,
    caller: &Caller,
    ctx: &Ctx<'_>,
    account_id: &str,
) -> Result<ApiResponse> {
    let mut query = ctx.query()?;
    let paging = api::paging(&mut query)?;
    let login = query.take("Login")?;
    query.finish();
    let account = AccountRef::parse(account_id);
    let found = clients::list(&state.store, caller, &account, login.as_deref())?;
    let items: Vec<Repr> = found
        .iter()
        .map(|client| repr(client, state, ctx))
        .collect();
    let filter = match &login {
        Some(login) => format!("Login={}", percent_encode(login)),
        None => String::new(),
    };
    Ok(api::list_response(ctx, NAMES, items, paging, &filter))
}

/// `POST …/Clients`: creates a client. 200 with the new client, as Restcomm answers.
pub fn create(
    state: &AppState,
    caller: &Caller,
    ctx: &Ctx<'_>,
    account_id: &str,
) -> Result<ApiResponse> {
    let mut form = ctx.form()?;
    let new = NewClient {
        login: Login::parse(&form.require("Login")?)?,
        password: Password::parse_sip(&form.require("Password")?)?,
        friendly_name: form.optional("FriendlyName", FriendlyName::parse)?,
        enabled: form.optional("Status", clients::parse_status)?,
        voice: voice(&mut form)?,
    };
    form.finish();
    let client = clients::create(
        &state.store,
        caller,
        &AccountRef::parse(account_id),
        new,
        ctx.now,
    )?;
    log::info!(
        "client {} ({}) created under {}",
        client.sid,
        client.login,
        client.account
    );
    Ok(render(&client, state, ctx))
}

/// `GET …/Clients/{ClientSid}`.
pub fn get(
    state: &AppState,
    caller: &Caller,
    ctx: &Ctx<'_>,
    account_id: &str,
    client_id: &str,
) -> Result<ApiResponse> {
    let (account, client) = (AccountRef::parse(account_id), api::client_sid(client_id)?);
    let client = clients::find(&state.store, caller, &account, &client)?;
    Ok(render(&client, state, ctx))
}

/// `POST`/`PUT …/Clients/{ClientSid}`: every parameter but `Login`.
pub fn update(
    state: &AppState,
    caller: &Caller,
    ctx: &Ctx<'_>,
    account_id: &str,
    client_id: &str,
) -> Result<ApiResponse> {
    let mut form = ctx.form()?;
    if form.take("Login")?.is_some() {
        return Err(Error::Invalid(
            "Login cannot be changed; create a new client instead".to_string(),
        ));
    }
    let changes = ClientChanges {
        friendly_name: form.optional("FriendlyName", FriendlyName::parse)?,
        password: form.optional("Password", Password::parse_sip)?,
        enabled: form.optional("Status", clients::parse_status)?,
        voice: voice(&mut form)?,
    };
    form.finish();
    if changes.is_empty() {
        return get(state, caller, ctx, account_id, client_id);
    }
    let client = clients::update(
        &state.store,
        caller,
        &AccountRef::parse(account_id),
        &api::client_sid(client_id)?,
        changes,
        ctx.now,
    )?;
    log::info!(
        "client {} ({}) updated by {}",
        client.sid,
        client.login,
        caller.sid
    );
    Ok(render(&client, state, ctx))
}

/// `DELETE …/Clients/{ClientSid}`: 200 with the deleted client's representation.
pub fn delete(
    state: &AppState,
    caller: &Caller,
    ctx: &Ctx<'_>,
    account_id: &str,
    client_id: &str,
) -> Result<ApiResponse> {
    let (account, client) = (AccountRef::parse(account_id), api::client_sid(client_id)?);
    let client = clients::delete(&state.store, caller, &account, &client)?;
    log::info!(
        "client {} ({}) deleted by {}",
        client.sid,
        client.login,
        caller.sid
    );
    Ok(render(&client, state, ctx))
}

fn voice(form: &mut Params) -> Result<VoiceChanges> {
    Ok(VoiceChanges {
        url: form.optional("VoiceUrl", |value| clients::parse_url("VoiceUrl", value))?,
        method: form.optional("VoiceMethod", |value| {
            clients::parse_method("VoiceMethod", value)
        })?,
        fallback_url: form.optional("VoiceFallbackUrl", |value| {
            clients::parse_url("VoiceFallbackUrl", value)
        })?,
        fallback_method: form.optional("VoiceFallbackMethod", |value| {
            clients::parse_method("VoiceFallbackMethod", value)
        })?,
        application_sid: form.optional("VoiceApplicationSid", clients::parse_application_sid)?,
    })
}

fn render(client: &Client, state: &AppState, ctx: &Ctx<'_>) -> ApiResponse {
    ctx.ok(format::one(ctx.format, NAMES, &repr(client, state, ctx)))
}

/// The public representation of a client: never the password, never an HA1.
/// `sip_domain` is where its phones register: its organization's domain, or for a migrated
/// client the former one until it gets a new `Password`.
pub(crate) fn repr(client: &Client, state: &AppState, ctx: &Ctx<'_>) -> Repr {
    let optional = |value: &Option<String>| value.clone().map(Repr::Str).unwrap_or(Repr::Null);
    Repr::Obj(vec![
        ("sid", Repr::Str(client.sid.to_string())),
        ("account_sid", Repr::Str(client.account.to_string())),
        ("api_version", Repr::Str(API_VERSION.to_string())),
        ("friendly_name", Repr::Str(client.friendly_name.clone())),
        ("login", Repr::Str(client.login.clone())),
        (
            "status",
            Repr::Str(if client.enabled { "1" } else { "0" }.to_string()),
        ),
        ("voice_url", optional(&client.voice_url)),
        ("voice_method", Repr::Str(client.voice_method.clone())),
        ("voice_fallback_url", optional(&client.voice_fallback_url)),
        (
            "voice_fallback_method",
            Repr::Str(client.voice_fallback_method.clone()),
        ),
        (
            "voice_application_sid",
            optional(&client.voice_application_sid),
        ),
        ("sip_domain", Repr::Str(client.sip_domain.clone())),
        ("date_created", Repr::Str(rfc2822(client.created))),
        ("date_updated", Repr::Str(rfc2822(client.updated))),
        (
            "registrations",
            Repr::Int(count(bindings::count(&state.store, &client.sid, ctx.now))),
        ),
        (
            "uri",
            Repr::Str(format!(
                "/{API_VERSION}/Accounts/{}/Clients/{}{}",
                client.account,
                client.sid,
                ctx.format.suffix()
            )),
        ),
    ])
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Percent-encodes a value for a query string (page URIs).
fn percent_encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
