//! The console's side of the HTTP surface (SPEC.md §5a): its files, embedded at build time from
//! `assets/console/`, and its session, `/console/session`, which turns an email and password
//! into an `HttpOnly` cookie so that the page never holds a credential.
//!
//! Everything else the console does goes through the public API with that cookie. A request
//! authenticated by the cookie must also carry the session's CSRF token in `X-CSRF-Token` and,
//! when the browser names its `Origin`, come from the box's own origin: a form or a script of
//! another site can make the browser send the cookie, but can neither read the token nor set
//! the header. Sign-in goes through the same check and failure limit as Basic credentials.

use crate::api::format::{self, Repr};
use crate::api::{ApiRequest, ApiResponse, Ctx};
use crate::auth::{self, session::Session};
use crate::crypto;
use crate::domain::accounts::{self, Caller};
use crate::domain::AccountRef;
use crate::error::{Error, Result};
use crate::state::AppState;

/// The session cookie's name.
pub const COOKIE: &str = "edgecomm_session";

/// The console's files: path segment, media type, bytes.
const FILES: &[(&str, &str, &[u8])] = &[
    (
        "",
        "text/html; charset=utf-8",
        include_bytes!("../../assets/console/index.html"),
    ),
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/console/console.js"),
    ),
    (
        "console.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/console/console.css"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_bytes!("../../assets/console/favicon.svg"),
    ),
];

/// True when `name` (a path's one segment; `""` is the page itself) is one of the console's.
pub fn is_file(name: &str) -> bool {
    FILES.iter().any(|(path, _, _)| *path == name)
}

/// Serves the console's file `name`.
pub fn serve_file(name: &str) -> Result<ApiResponse> {
    let (_, content_type, body) = FILES
        .iter()
        .find(|(path, _, _)| *path == name)
        .ok_or(Error::NotFound("resource"))?;
    Ok(ApiResponse {
        status: 200,
        content_type,
        headers: Vec::new(),
        body: body.to_vec(),
    })
}

/// `/console/session`: `POST` signs in (`User`, `Password`), `GET` answers what the page needs
/// after a reload (or `signed_in: false`), `DELETE` signs out.
pub fn session(state: &AppState, ctx: &Ctx<'_>) -> Result<ApiResponse> {
    check_origin(ctx.req)?;
    match ctx.req.method.as_str() {
        "POST" => sign_in(state, ctx),
        "GET" => match current(state, ctx, false) {
            Ok((caller, session)) => describe(state, ctx, &caller, &session.csrf, Vec::new()),
            // The page asks at every load; "not signed in" is an answer, not an error.
            Err(Error::Unauthorized) => {
                let mut res = json(ctx, Repr::Obj(vec![("signed_in", Repr::Bool(false))]));
                if cookie(ctx.req).is_some() {
                    res.headers.push(("Set-Cookie", set_cookie("", Some(0))));
                }
                Ok(res)
            }
            Err(err) => Err(err),
        },
        _ => {
            let (_, session) = current(state, ctx, true)?;
            if let Some(token) = cookie(ctx.req) {
                state.sessions.close(token);
            }
            log::info!("console: {} signed out", session.account);
            let mut res = json(ctx, Repr::Obj(vec![("signed_out", Repr::Bool(true))]));
            res.headers.push(("Set-Cookie", set_cookie("", Some(0))));
            Ok(res)
        }
    }
}

fn sign_in(state: &AppState, ctx: &Ctx<'_>) -> Result<ApiResponse> {
    let mut form = ctx.form()?;
    let user = form.require("User")?;
    let secret = form.require("Password")?;
    form.finish();
    let caller = auth::check_secret(
        &state.store,
        &state.limiter,
        &user,
        &secret,
        ctx.req.remote,
        ctx.now,
    )?;
    let stamp = accounts::credential_stamp(&state.store, &caller.sid)?;
    let opened = state.sessions.open(caller.sid, stamp, ctx.now)?;
    log::info!("console: {} signed in", caller.sid);
    let cookie = set_cookie(&opened.token, None);
    describe(
        state,
        ctx,
        &caller,
        &opened.csrf,
        vec![("Set-Cookie", cookie)],
    )
}

/// The signed-in account and the CSRF token, as JSON.
fn describe(
    state: &AppState,
    ctx: &Ctx<'_>,
    caller: &Caller,
    csrf: &str,
    headers: Vec<(&'static str, String)>,
) -> Result<ApiResponse> {
    let account = accounts::find(&state.store, caller, &AccountRef::Sid(caller.sid))?;
    let body = Repr::Obj(vec![
        ("signed_in", Repr::Bool(true)),
        ("account_sid", Repr::Str(account.sid.to_string())),
        ("email_address", Repr::Str(account.email.clone())),
        ("friendly_name", Repr::Str(account.friendly_name.clone())),
        ("role", Repr::Str(account.role.as_str().to_string())),
        ("root", Repr::Bool(account.parent.is_none())),
        ("csrf_token", Repr::Str(csrf.to_string())),
        ("idle_timeout", Repr::Int(state.sessions.idle_secs())),
    ]);
    let mut res = json(ctx, body);
    res.headers = headers;
    Ok(res)
}

fn json(ctx: &Ctx<'_>, body: Repr) -> ApiResponse {
    ApiResponse {
        content_type: "application/json",
        ..ctx.ok(format::json(&body).into_bytes())
    }
}

/// The caller of a request that carries the session cookie (and no `Authorization`), or
/// `None` when it carries none.
pub fn caller(state: &AppState, ctx: &Ctx<'_>) -> Option<Result<Caller>> {
    if ctx.req.authorization.is_some() {
        return None;
    }
    cookie(ctx.req)?;
    Some(check_origin(ctx.req).and_then(|()| current(state, ctx, true).map(|(caller, _)| caller)))
}

/// The session of the request's cookie, with the CSRF token checked when `csrf` is set; the
/// session ends when its account no longer may sign in.
fn current(state: &AppState, ctx: &Ctx<'_>, csrf: bool) -> Result<(Caller, Session)> {
    let token = cookie(ctx.req).ok_or(Error::Unauthorized)?;
    let touch = !ctx.req.console_poll;
    let session = state
        .sessions
        .find(token, ctx.now, touch)
        .ok_or(Error::Unauthorized)?;
    if csrf {
        let sent = ctx.req.csrf_token.as_deref().unwrap_or("");
        if !crypto::ct_eq(sent.as_bytes(), session.csrf.as_bytes()) {
            return Err(Error::Forbidden(
                "this request carries a console session but not its X-CSRF-Token: \
                 requests from other sites are refused"
                    .to_string(),
            ));
        }
    }
    match accounts::session_caller(&state.store, &session.account, &session.stamp) {
        Ok(caller) => Ok((caller, session)),
        Err(err) => {
            if matches!(err, Error::Unauthorized) {
                state.sessions.close(token);
            }
            Err(err)
        }
    }
}

/// A browser names the page that made a request in `Origin`; it must be the box's own.
fn check_origin(req: &ApiRequest) -> Result<()> {
    let Some(origin) = req.origin.as_deref() else {
        return Ok(());
    };
    let scheme = if req.secure { "https" } else { "http" };
    let own = req
        .host
        .as_deref()
        .is_some_and(|host| origin.eq_ignore_ascii_case(&format!("{scheme}://{host}")));
    if own {
        return Ok(());
    }
    Err(Error::Forbidden(format!(
        "requests from {:?} are refused: the console is served by this box only",
        origin.chars().take(100).collect::<String>()
    )))
}

/// The session token of the request's `Cookie` header.
pub fn cookie(req: &ApiRequest) -> Option<&str> {
    req.cookie.as_deref()?.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        (name == COOKIE && !value.is_empty()).then_some(value)
    })
}

/// True when the request came from the console (a sign-in, or a request with a session cookie
/// or the CSRF header): its 401 then carries no `WWW-Authenticate`, which would make the
/// browser ask for Basic credentials in a dialog of its own.
pub fn from_console(req: &ApiRequest) -> bool {
    let sign_in = req.url.split('?').next() == Some("/console/session");
    req.authorization.is_none() && (sign_in || req.csrf_token.is_some() || cookie(req).is_some())
}

/// The session cookie: a browser keeps it for this box only, sends it on the box's own pages
/// only, and never shows it to a script. Without `Max-Age` it ends with the browser; the box
/// ends it sooner, after the idle time.
fn set_cookie(token: &str, max_age: Option<u32>) -> String {
    let age = max_age.map_or_else(String::new, |age| format!("; Max-Age={age}"));
    format!("{COOKIE}={token}; Path=/; HttpOnly; Secure; SameSite=Strict{age}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(cookie: Option<&str>, origin: Option<&str>, secure: bool) -> ApiRequest {
        ApiRequest {
            cookie: cookie.map(str::to_string),
            origin: origin.map(str::to_string),
            host: Some("pbx.lan:8443".to_string()),
            secure,
            ..ApiRequest::default()
        }
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let with = |header| cookie(&req(Some(header), None, true)).map(str::to_string);
        assert_eq!(with("a=1; edgecomm_session=abc; b=2"), Some("abc".into()));
        assert_eq!(with("edgecomm_session="), None);
        assert_eq!(with("xedgecomm_session=abc"), None);
        assert_eq!(cookie(&req(None, None, true)), None);
    }

    #[test]
    fn only_the_box_s_own_origin_passes() {
        assert!(check_origin(&req(None, None, true)).is_ok());
        assert!(check_origin(&req(None, Some("https://pbx.lan:8443"), true)).is_ok());
        assert!(check_origin(&req(None, Some("http://pbx.lan:8443"), true)).is_err());
        assert!(check_origin(&req(None, Some("https://evil.example"), true)).is_err());
        assert!(check_origin(&req(None, Some("null"), true)).is_err());
        assert!(check_origin(&req(None, Some("http://pbx.lan:8443"), false)).is_ok());
    }

    #[test]
    fn the_cookie_is_http_only_secure_and_strict() {
        let value = set_cookie("t0k", None);
        for part in [
            "edgecomm_session=t0k",
            "HttpOnly",
            "Secure",
            "SameSite=Strict",
        ] {
            assert!(value.split("; ").any(|p| p == part), "{part} in {value}");
        }
        assert!(set_cookie("", Some(0)).ends_with("; Max-Age=0"));
    }

    #[test]
    fn every_embedded_file_is_served_with_its_type() {
        for name in ["", "console.js", "console.css", "favicon.svg"] {
            let res = serve_file(name).expect(name);
            assert_eq!(res.status, 200);
            assert!(!res.body.is_empty(), "{name} is empty");
        }
        assert!(!is_file("index.html.bak") && serve_file("index.html.bak").is_err());
    }
}
