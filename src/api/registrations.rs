//! Handlers for `/Accounts/{AccountSid}/Registrations` and
//! `/Accounts/{AccountSid}/Clients/{ClientSid}/Registrations`: the live SIP bindings.

use crate::api::format::{Names, Repr};
use crate::api::{self as api, ApiResponse, Ctx};
use crate::clock::UnixSecs;
use crate::domain::accounts::Caller;
use crate::domain::bindings::{self, Registration};
use crate::domain::{rfc2822, AccountRef};
use crate::error::Result;
use crate::state::AppState;

const NAMES: Names = Names {
    singular: "Registration",
    plural: "Registrations",
};

/// `GET …/Clients/{ClientSid}/Registrations`.
pub fn of_client(
    state: &AppState,
    caller: &Caller,
    ctx: &Ctx<'_>,
    account_id: &str,
    client_id: &str,
) -> Result<ApiResponse> {
    let (account, client) = (AccountRef::parse(account_id), api::client_sid(client_id)?);
    let found = bindings::of_client(&state.store, caller, &account, &client, ctx.now)?;
    respond(ctx, &found)
}

/// `GET /Accounts/{AccountSid}/Registrations`.
pub fn of_account(
    state: &AppState,
    caller: &Caller,
    ctx: &Ctx<'_>,
    account_id: &str,
) -> Result<ApiResponse> {
    let account = AccountRef::parse(account_id);
    let found = bindings::of_account(&state.store, caller, &account, ctx.now)?;
    respond(ctx, &found)
}

fn respond(ctx: &Ctx<'_>, found: &[Registration]) -> Result<ApiResponse> {
    let mut query = ctx.query()?;
    let paging = api::paging(&mut query)?;
    query.finish();
    let items = found
        .iter()
        .map(|registration| repr(registration, ctx.now))
        .collect();
    Ok(api::list_response(ctx, NAMES, items, paging, ""))
}

fn repr(binding: &Registration, now: UnixSecs) -> Repr {
    Repr::Obj(vec![
        ("client_sid", Repr::Str(binding.client.to_string())),
        ("account_sid", Repr::Str(binding.account.to_string())),
        ("login", Repr::Str(binding.login.clone())),
        ("contact", Repr::Str(binding.contact.clone())),
        ("expires", Repr::Int((binding.expires_at - now).max(0))),
        ("source", Repr::Str(binding.source.to_string())),
        (
            "transport",
            Repr::Str(binding.transport.as_str().to_string()),
        ),
        (
            "user_agent",
            binding
                .user_agent
                .as_deref()
                .map(|agent| Repr::Str(agent.to_string()))
                .unwrap_or(Repr::Null),
        ),
        ("date_registered", Repr::Str(rfc2822(binding.registered_at))),
        ("date_expires", Repr::Str(rfc2822(binding.expires_at))),
    ])
}
