//! Handlers for `/Accounts/{AccountSid}/Registrations` and
//! `/Accounts/{AccountSid}/Clients/{ClientSid}/Registrations`: the live SIP bindings.

use crate::api::format::{Names, Repr};
use crate::api::{self as api, ApiResponse, Ctx};
use crate::domain::{bindings, rfc2822};
use crate::error::Result;
use crate::state::AppState;
use crate::store::records::{AccountRecord, BindingRecord, ClientRecord};

const NAMES: Names = Names {
    singular: "Registration",
    plural: "Registrations",
};

/// `GET …/Clients/{ClientSid}/Registrations`.
pub fn of_client(
    state: &AppState,
    caller: &AccountRecord,
    ctx: &Ctx<'_>,
    account_id: &str,
    client_id: &str,
) -> Result<ApiResponse> {
    let found = bindings::of_client(&state.store, caller, account_id, client_id, ctx.now)?;
    respond(ctx, &found)
}

/// `GET /Accounts/{AccountSid}/Registrations`.
pub fn of_account(
    state: &AppState,
    caller: &AccountRecord,
    ctx: &Ctx<'_>,
    account_id: &str,
) -> Result<ApiResponse> {
    let found = bindings::of_account(&state.store, caller, account_id, ctx.now)?;
    respond(ctx, &found)
}

fn respond(ctx: &Ctx<'_>, found: &[(ClientRecord, BindingRecord)]) -> Result<ApiResponse> {
    let mut query = ctx.query()?;
    let paging = api::paging(&mut query)?;
    query.finish()?;
    let items = found
        .iter()
        .map(|(client, binding)| repr(client, binding, ctx.now))
        .collect();
    Ok(api::list_response(ctx, NAMES, items, paging, ""))
}

fn repr(client: &ClientRecord, binding: &BindingRecord, now: i64) -> Repr {
    Repr::Obj(vec![
        ("client_sid", Repr::Str(client.sid.to_string())),
        ("account_sid", Repr::Str(client.account.to_string())),
        ("login", Repr::Str(client.login.clone())),
        ("contact", Repr::Str(binding.contact.to_string())),
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
