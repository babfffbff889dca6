//! The REST API: our own request and response types, the route table, and the mapping of
//! errors to responses.
//!
//! `handle` is a pure function of the application state and an [`ApiRequest`]; it knows no
//! HTTP library (that is `http.rs`) and names no store type: handlers pass `state.store` to
//! the domain functions, which alone read and write it, and get back views without secrets
//! (`Caller`, `Account`, `Client`, `Registration`). The order of work is
//! fixed and visible: normalise the path and pick the format, match the route (404/405 need no
//! credentials), authenticate, run the handler, and turn any error into a body in the
//! negotiated format. Internal errors are logged here, once, and never shown.

pub mod about;
pub mod accounts;
pub mod clients;
pub mod console;
pub mod form;
pub mod format;
pub mod metrics;
pub mod organizations;
pub mod registrations;

use std::net::SocketAddr;

use crate::auth;
use crate::clock::UnixSecs;
use crate::domain::accounts::Caller;
use crate::domain::ClientSid;
use crate::error::{Error, Result};
use crate::state::AppState;
use form::Params;
use format::Format;

/// The API version segment of every resource path.
pub const API_VERSION: &str = "2012-04-24";

/// Request bodies above this many bytes get 413 (SPEC.md §6).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A request, as the HTTP adapter hands it over.
#[derive(Clone, Debug, Default)]
pub struct ApiRequest {
    /// Method name as sent (`GET`, `POST`, …).
    pub method: String,
    /// The request target: path and optional query string, still percent-encoded.
    pub url: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// The `Accept` header, if any.
    pub accept: Option<String>,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The `Cookie` header, if any (the console's session).
    pub cookie: Option<String>,
    /// The `X-CSRF-Token` header, if any (the console's proof that it made the request).
    pub csrf_token: Option<String>,
    /// The `Origin` header, if any.
    pub origin: Option<String>,
    /// The `Host` header, if any.
    pub host: Option<String>,
    /// True for the console's background refreshes (`X-Console-Poll`), which are no user
    /// action and so do not keep a session from its idle expiry.
    pub console_poll: bool,
    /// The client's address and port, for the failed-login limit and its log line.
    pub remote: Option<SocketAddr>,
    /// True when the request came over TLS (the HTTPS listener).
    pub secure: bool,
    /// The body, already capped at [`MAX_BODY_BYTES`].
    pub body: Vec<u8>,
}

/// A response for the HTTP adapter to send.
#[derive(Clone, Debug)]
pub struct ApiResponse {
    /// HTTP status code.
    pub status: u16,
    /// `Content-Type` of `body`.
    pub content_type: &'static str,
    /// Extra headers (`WWW-Authenticate`, `Allow`).
    pub headers: Vec<(&'static str, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

/// What a handler needs to know about the request, beyond the path ids.
pub struct Ctx<'a> {
    /// The negotiated response format.
    pub format: Format,
    /// The normalised path (no `/restcomm`, no suffixes, no trailing slash), for page URIs.
    pub path: String,
    /// The request itself.
    pub req: &'a ApiRequest,
    /// Unix seconds, read once per request.
    pub now: UnixSecs,
}

impl Ctx<'_> {
    /// The form parameters of the body. Refuses bodies that are not form-encoded.
    pub fn form(&self) -> Result<Params> {
        let media = self.req.content_type.as_deref().unwrap_or("");
        let media = media.split(';').next().unwrap_or("").trim();
        if !self.req.body.is_empty()
            && !media.is_empty()
            && !media.eq_ignore_ascii_case("application/x-www-form-urlencoded")
        {
            return Err(Error::UnsupportedMediaType(format!(
                "send parameters as application/x-www-form-urlencoded, not {media}"
            )));
        }
        Params::parse(&self.req.body)
    }

    /// The query-string parameters.
    pub fn query(&self) -> Result<Params> {
        let query = self
            .req
            .url
            .split_once('?')
            .map(|(_, query)| query)
            .unwrap_or("");
        Params::parse(query.as_bytes())
    }

    /// A 200 response in the negotiated format.
    pub fn ok(&self, body: Vec<u8>) -> ApiResponse {
        ApiResponse {
            status: 200,
            content_type: self.format.content_type(),
            headers: Vec::new(),
            body,
        }
    }
}

/// The resources a path can name.
enum Route<'a> {
    Health,
    Metrics,
    ConsoleFile(&'a str),
    ConsoleSession,
    Box,
    Accounts,
    Account(&'a str),
    Migrate(&'a str),
    Organizations,
    Organization(&'a str),
    Clients(&'a str),
    Client(&'a str, &'a str),
    AccountRegistrations(&'a str),
    ClientRegistrations(&'a str, &'a str),
}

/// Handles one request. Never panics on input; `now` is Unix seconds.
pub fn handle(state: &AppState, req: &ApiRequest, now: UnixSecs) -> ApiResponse {
    let format = negotiate(req);
    let segments = match split_path(&req.url) {
        Ok((segments, _)) => segments,
        Err(err) => return error_response(req, format, &err),
    };
    let ctx = Ctx {
        format,
        path: format!("/{}", segments.join("/")),
        req,
        now,
    };
    match route(state, &ctx, &segments) {
        Ok(res) => res,
        Err(err) => error_response(req, format, &err),
    }
}

fn route(state: &AppState, ctx: &Ctx<'_>, segments: &[String]) -> Result<ApiResponse> {
    let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
    let route = match parts.as_slice() {
        ["health"] => Route::Health,
        ["metrics"] => Route::Metrics,
        [] => Route::ConsoleFile(""),
        [name] if console::is_file(name) => Route::ConsoleFile(name),
        ["console", "session"] => Route::ConsoleSession,
        [API_VERSION, "Box"] => Route::Box,
        [API_VERSION, "Accounts"] => Route::Accounts,
        [API_VERSION, "Accounts", "migrate", id] => Route::Migrate(id),
        [API_VERSION, "Organizations"] => Route::Organizations,
        [API_VERSION, "Organizations", id] => Route::Organization(id),
        [API_VERSION, "Accounts", id] => Route::Account(id),
        [API_VERSION, "Accounts", id, "Clients"] => Route::Clients(id),
        [API_VERSION, "Accounts", id, "Clients", client] => Route::Client(id, client),
        [API_VERSION, "Accounts", id, "Registrations"] => Route::AccountRegistrations(id),
        [API_VERSION, "Accounts", id, "Clients", client, "Registrations"] => {
            Route::ClientRegistrations(id, client)
        }
        _ => return Err(Error::NotFound("resource")),
    };
    let method = ctx.req.method.as_str();
    // Method checks come before authentication: a 405 reveals nothing about any account.
    let allow = allowed(&route);
    if !allow.split(", ").any(|allowed| allowed == method) {
        return Err(Error::MethodNotAllowed(allow));
    }
    match route {
        Route::Health => {
            return Ok(ApiResponse {
                status: 200,
                content_type: "application/json",
                headers: Vec::new(),
                body: br#"{"status":"ok"}"#.to_vec(),
            })
        }
        Route::Metrics => return metrics::get(state, ctx),
        Route::ConsoleFile(name) => return console::serve_file(name),
        Route::ConsoleSession => return console::session(state, ctx),
        _ => {}
    }
    let caller = authenticate(state, ctx)?;
    match (method, route) {
        ("GET", Route::Box) => about::get(state, &caller, ctx),
        ("GET", Route::Accounts) => accounts::list(state, &caller, ctx),
        ("POST", Route::Accounts) => accounts::create(state, &caller, ctx),
        ("GET", Route::Account(id)) => accounts::get(state, &caller, ctx, id),
        ("POST" | "PUT", Route::Account(id)) => accounts::update(state, &caller, ctx, id),
        ("DELETE", Route::Account(id)) => accounts::delete(state, &caller, ctx, id),
        ("POST", Route::Migrate(id)) => accounts::migrate(state, &caller, ctx, id),
        ("GET", Route::Organizations) => organizations::list(state, &caller, ctx),
        ("GET", Route::Organization(id)) => organizations::get(state, &caller, ctx, id),
        ("PUT", Route::Organization(id)) => organizations::create(state, &caller, ctx, id),
        ("GET", Route::AccountRegistrations(id)) => {
            registrations::of_account(state, &caller, ctx, id)
        }
        ("GET", Route::ClientRegistrations(id, client)) => {
            registrations::of_client(state, &caller, ctx, id, client)
        }
        ("GET", Route::Clients(id)) => clients::list(state, &caller, ctx, id),
        ("POST", Route::Clients(id)) => clients::create(state, &caller, ctx, id),
        ("GET", Route::Client(id, client)) => clients::get(state, &caller, ctx, id, client),
        ("POST" | "PUT", Route::Client(id, client)) => {
            clients::update(state, &caller, ctx, id, client)
        }
        ("DELETE", Route::Client(id, client)) => clients::delete(state, &caller, ctx, id, client),
        _ => Err(Error::MethodNotAllowed(allow)),
    }
}

/// The methods a route serves, as an `Allow` header lists them.
fn allowed(route: &Route<'_>) -> &'static str {
    match route {
        Route::Health
        | Route::Metrics
        | Route::ConsoleFile(_)
        | Route::Box
        | Route::Organizations
        | Route::AccountRegistrations(_)
        | Route::ClientRegistrations(..) => "GET",
        Route::ConsoleSession => "GET, POST, DELETE",
        Route::Migrate(_) => "POST",
        Route::Organization(_) => "GET, PUT",
        Route::Accounts | Route::Clients(_) => "GET, POST",
        Route::Account(_) | Route::Client(..) => "GET, POST, PUT, DELETE",
    }
}

/// The paging a list request asked for with `Page` and `PageSize`.
#[derive(Clone, Copy, Debug)]
pub struct Paging {
    /// Zero-based page number.
    pub page: u64,
    /// Items per page, 1 to 1000.
    pub page_size: u64,
}

/// Takes `Page` and `PageSize` out of the query; `None` when neither is given.
pub fn paging(query: &mut Params) -> Result<Option<Paging>> {
    let page = query.take("Page")?;
    let page_size = query.take("PageSize")?;
    if page.is_none() && page_size.is_none() {
        return Ok(None);
    }
    let page = match page {
        Some(text) => text
            .parse::<u64>()
            .ok()
            .filter(|page| *page <= 1_000_000)
            .ok_or_else(|| {
                Error::Invalid(format!("Page must be a whole number from 0, got {text:?}"))
            })?,
        None => 0,
    };
    let page_size = match page_size {
        Some(text) => text
            .parse::<u64>()
            .ok()
            .filter(|size| (1..=1000).contains(size))
            .ok_or_else(|| {
                Error::Invalid(format!("PageSize must be from 1 to 1000, got {text:?}"))
            })?,
        None => 50,
    };
    Ok(Some(Paging { page, page_size }))
}

/// Renders a whole list (no paging asked) or one page of it. `filter` is the query string of
/// the list's own filters (without paging), kept in the page URIs.
pub fn list_response(
    ctx: &Ctx<'_>,
    names: format::Names,
    items: Vec<format::Repr>,
    paging: Option<Paging>,
    filter: &str,
) -> ApiResponse {
    let Some(Paging { page, page_size }) = paging else {
        return ctx.ok(format::list(ctx.format, names, &items, None));
    };
    let total = u64::try_from(items.len()).unwrap_or(u64::MAX);
    let start = page.saturating_mul(page_size);
    let uri = |page: u64| {
        let filter = if filter.is_empty() {
            String::new()
        } else {
            format!("{filter}&")
        };
        format!(
            "{}{}?{filter}Page={page}&PageSize={page_size}",
            ctx.path,
            ctx.format.suffix()
        )
    };
    let shown: Vec<format::Repr> = items
        .into_iter()
        .skip(usize::try_from(start).unwrap_or(usize::MAX))
        .take(usize::try_from(page_size).unwrap_or(usize::MAX))
        .collect();
    let info = format::Page {
        page,
        page_size,
        total,
        uri: uri(page),
        next_page_uri: (start.saturating_add(page_size) < total).then(|| uri(page + 1)),
    };
    ctx.ok(format::list(ctx.format, names, &shown, Some(&info)))
}

/// A client SID from a path; anything else names no client.
pub fn client_sid(text: &str) -> Result<ClientSid> {
    ClientSid::parse(text).ok_or(Error::NotFound("client"))
}

/// The caller: by the console's session cookie when the request has one and no
/// `Authorization`, else by Basic credentials.
fn authenticate(state: &AppState, ctx: &Ctx<'_>) -> Result<Caller> {
    if let Some(caller) = console::caller(state, ctx) {
        return caller;
    }
    auth::authenticate(
        &state.store,
        &state.limiter,
        ctx.req.authorization.as_deref(),
        ctx.req.remote,
        ctx.now,
    )
}

/// Splits a request target into decoded path segments and the format a `.json`/`.xml`
/// suffix asked for. Drops the `/restcomm` prefix, empty segments and the query string.
pub fn split_path(url: &str) -> Result<(Vec<String>, Option<Format>)> {
    let mut segments = Vec::new();
    for raw in raw_segments(url) {
        let (stem, _) = strip_suffix(raw);
        segments.push(form::percent_decode(stem, false)?);
    }
    if segments.first().map(String::as_str) == Some("restcomm") {
        segments.remove(0);
    }
    Ok((segments, suffix_format(url)))
}

/// The format named by the last `.json`/`.xml` suffix on any path segment. Suffixes are
/// ASCII, so this works on the raw target even when its escapes do not decode.
fn suffix_format(url: &str) -> Option<Format> {
    raw_segments(url)
        .filter_map(|raw| strip_suffix(raw).1)
        .last()
}

fn raw_segments(url: &str) -> impl Iterator<Item = &str> {
    let path = url.split(['?', '#']).next().unwrap_or("");
    path.split('/').filter(|segment| !segment.is_empty())
}

fn strip_suffix(segment: &str) -> (&str, Option<Format>) {
    for (suffix, format) in [(".json", Format::Json), (".xml", Format::Xml)] {
        let cut = segment.len().saturating_sub(suffix.len());
        if segment.len() > suffix.len()
            && segment.is_char_boundary(cut)
            && segment[cut..].eq_ignore_ascii_case(suffix)
        {
            return (&segment[..cut], Some(format));
        }
    }
    (segment, None)
}

/// Turns an error into a response in `format`. Internal errors are logged here, once.
pub fn error_response(req: &ApiRequest, format: Format, err: &Error) -> ApiResponse {
    let status = err.http_status();
    if err.is_internal() {
        let path = req.url.split('?').next().unwrap_or("");
        log::error!("{} {path}: {err}", req.method);
    }
    let mut headers = Vec::new();
    match err {
        Error::Unauthorized if !console::from_console(req) => {
            headers.push(("WWW-Authenticate", "Basic realm=\"edgecomm\"".to_string()));
        }
        Error::MethodNotAllowed(allow) => headers.push(("Allow", allow.to_string())),
        Error::TooManyRequests { retry_after } => {
            headers.push(("Retry-After", retry_after.to_string()))
        }
        _ => {}
    }
    ApiResponse {
        status,
        content_type: format.content_type(),
        headers,
        body: format::error(format, status, err.code(), &err.public_message()),
    }
}

/// The response for a request that failed before it could be parsed (body too large,
/// unreadable) or whose handler panicked.
pub fn early_error(req: &ApiRequest, err: &Error) -> ApiResponse {
    error_response(req, negotiate(req), err)
}

/// The response format: a path suffix wins, then `Accept`, then XML.
fn negotiate(req: &ApiRequest) -> Format {
    suffix_format(&req.url).unwrap_or_else(|| Format::from_accept(req.accept.as_deref()))
}

#[cfg(test)]
mod tests;
