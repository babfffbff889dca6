//! Handlers for `/Organizations` and `/Organizations/{Sid|DomainName}` (SPEC.md §2.1): one
//! SIP domain each. `PUT /Organizations/{DomainName}` creates one, as Restcomm does, and
//! answers 200 with it; a second `PUT` of the same domain is a 409.

use crate::api::format::{self, Names, Repr};
use crate::api::{self as api, ApiResponse, Ctx, API_VERSION};
use crate::domain::accounts::Caller;
use crate::domain::organizations::{self, Organization};
use crate::domain::{rfc2822, DomainName, OrganizationRef};
use crate::error::Result;
use crate::state::AppState;

const NAMES: Names = Names {
    singular: "Organization",
    plural: "Organizations",
};

/// `GET /Organizations`: every organization for the root Administrator, one's own otherwise.
pub fn list(state: &AppState, caller: &Caller, ctx: &Ctx<'_>) -> Result<ApiResponse> {
    let mut query = ctx.query()?;
    let paging = api::paging(&mut query)?;
    query.finish();
    let all = organizations::list(&state.store, caller)?;
    let items = all.iter().map(|org| repr(org, ctx)).collect();
    Ok(api::list_response(ctx, NAMES, items, paging, ""))
}

/// `GET /Organizations/{Sid|DomainName}`.
pub fn get(state: &AppState, caller: &Caller, ctx: &Ctx<'_>, id: &str) -> Result<ApiResponse> {
    ctx.query()?.finish();
    let found = organizations::find(&state.store, caller, &OrganizationRef::parse(id))?;
    Ok(ctx.ok(format::one(ctx.format, NAMES, &repr(&found, ctx))))
}

/// `PUT /Organizations/{DomainName}`: creates the organization of that domain.
pub fn create(state: &AppState, caller: &Caller, ctx: &Ctx<'_>, id: &str) -> Result<ApiResponse> {
    ctx.form()?.finish();
    let domain = DomainName::parse(id)?;
    let created = organizations::create(&state.store, caller, &domain, ctx.now)?;
    log::info!(
        "organization {} ({}) created by {}",
        created.sid,
        created.domain,
        caller.sid
    );
    Ok(ctx.ok(format::one(ctx.format, NAMES, &repr(&created, ctx))))
}

fn repr(org: &Organization, ctx: &Ctx<'_>) -> Repr {
    Repr::Obj(vec![
        ("sid", Repr::Str(org.sid.to_string())),
        ("domain_name", Repr::Str(org.domain.clone())),
        ("status", Repr::Str(org.status.as_str().to_string())),
        ("default", Repr::Bool(org.default)),
        ("date_created", Repr::Str(rfc2822(org.created))),
        ("date_updated", Repr::Str(rfc2822(org.updated))),
        (
            "uri",
            Repr::Str(format!(
                "/{API_VERSION}/Organizations/{}{}",
                org.sid,
                ctx.format.suffix()
            )),
        ),
    ])
}
