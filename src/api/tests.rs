//! In-process API tests: `api::handle` on a temporary store, no sockets. They pin the HTTP
//! conventions of SPEC.md §1 (paths, suffixes, negotiation, errors, paging, parameters).

use crate::api::{self, ApiRequest, ApiResponse};
use crate::config::{self, Command};
use crate::state::AppState;
use crate::store::check;
use crate::testing::credentials::basic;
use crate::testing::{World, NOW};

/// The shared fixture's store behind the whole API state, and the root's credentials.
struct Api {
    state: AppState,
    root_auth: String,
}

impl Api {
    fn new() -> Api {
        Api::with_flags(&[])
    }

    /// The API with these command-line settings over the defaults.
    fn with_flags(flags: &[&str]) -> Api {
        let args: Vec<String> = flags.iter().map(|flag| flag.to_string()).collect();
        let Ok(Command::Serve(config)) = config::load(&args, &[], &|_| Ok(String::new())) else {
            panic!("config from {flags:?}")
        };
        let world = World::new();
        let root_auth = basic(&world.root.sid.to_string(), &world.root_token);
        Api {
            state: AppState::new(world.store, config, |ip| ip.is_loopback(), NOW).unwrap(),
            root_auth,
        }
    }

    fn send(&self, method: &str, url: &str, body: &str, accept: Option<&str>) -> ApiResponse {
        self.send_as(&self.root_auth, method, url, body, accept)
    }

    fn send_as(
        &self,
        auth: &str,
        method: &str,
        url: &str,
        body: &str,
        accept: Option<&str>,
    ) -> ApiResponse {
        let req = ApiRequest {
            method: method.to_string(),
            url: url.to_string(),
            authorization: Some(auth.to_string()),
            accept: accept.map(str::to_string),
            content_type: Some("application/x-www-form-urlencoded".to_string()),
            remote: Some("127.0.0.1".parse().unwrap()),
            body: body.as_bytes().to_vec(),
        };
        api::handle(&self.state, &req, NOW)
    }

    /// Sends a request and checks the status; returns the body parsed as JSON when it is JSON.
    #[track_caller]
    fn check(&self, method: &str, url: &str, body: &str, status: u16) -> serde_json::Value {
        let res = self.send(method, url, body, None);
        let text = String::from_utf8(res.body.clone()).unwrap();
        assert_eq!(res.status, status, "{method} {url}: {text}");
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
    }

    fn create(&self, email: &str) -> serde_json::Value {
        self.check(
            "POST",
            "/2012-04-24/Accounts.json",
            &format!("EmailAddress={email}&Password=password1"),
            200,
        )
    }
}

#[test]
fn every_path_variant_reaches_the_same_account() {
    let api = Api::new();
    let sid = api.create("v@example.com")["sid"]
        .as_str()
        .unwrap()
        .to_string();
    for url in [
        format!("/2012-04-24/Accounts/{sid}.json"),
        format!("/2012-04-24/Accounts.json/{sid}"),
        format!("/2012-04-24/Accounts.json/{sid}/"),
        format!("/restcomm/2012-04-24/Accounts/{sid}.json"),
        format!("/restcomm/2012-04-24/Accounts.json/{sid}.json/"),
        "/2012-04-24/Accounts/v%40example.com.json".to_string(),
        "/2012-04-24/Accounts.json/V@Example.com".to_string(),
    ] {
        let body = api.check("GET", &url, "", 200);
        assert_eq!(body["sid"], sid.as_str(), "{url}");
    }
}

#[test]
fn format_follows_suffix_then_accept_then_xml() {
    let api = Api::new();
    let xml = api.send("GET", "/2012-04-24/Accounts", "", None);
    assert_eq!(xml.content_type, "application/xml");
    assert!(xml.body.starts_with(b"<RestcommResponse><Accounts"));
    let json = api.send("GET", "/2012-04-24/Accounts", "", Some("application/json"));
    assert_eq!(
        (json.content_type, json.body.as_slice()),
        ("application/json", &b"[]"[..])
    );
    let suffix_wins = api.send("GET", "/2012-04-24/Accounts.json", "", Some("*/*"));
    assert_eq!(suffix_wins.content_type, "application/json");
    let xml_suffix = api.send(
        "GET",
        "/2012-04-24/Accounts.xml",
        "",
        Some("application/json"),
    );
    assert_eq!(xml_suffix.content_type, "application/xml");
}

#[test]
fn create_answers_200_with_the_token_once() {
    let api = Api::new();
    let created = api.create("new@example.com");
    let sid = created["sid"].as_str().unwrap();
    assert!(sid.starts_with("AC") && sid.len() == 34);
    assert_eq!(created["status"], "active");
    assert_eq!(created["role"], "Administrator");
    assert_eq!(created["type"], "Full");
    assert_eq!(created["friendly_name"], "new@example.com");
    assert_eq!(created["date_created"], "Tue, 14 Nov 2023 22:13:20 +0000");
    assert_eq!(created["uri"], format!("/2012-04-24/Accounts/{sid}.json"));
    assert_eq!(
        created["subresource_uris"]["clients"],
        format!("/2012-04-24/Accounts/{sid}/Clients.json")
    );
    let token = created["auth_token"].as_str().unwrap();
    assert_eq!(token.len(), 32);
    let read = api.check("GET", &format!("/2012-04-24/Accounts/{sid}.json"), "", 200);
    assert!(
        read.get("auth_token").is_none(),
        "only the issuing answer shows the token"
    );
    let own = api.send_as(
        &basic(sid, token),
        "GET",
        &format!("/2012-04-24/Accounts/{sid}.json"),
        "",
        None,
    );
    assert_eq!(own.status, 200);
}

#[test]
fn bad_parameters_are_precise_400s() {
    let api = Api::new();
    let cases = [
        (
            "Password=password1",
            "missing_parameter",
            "EmailAddress is required",
        ),
        (
            "EmailAddress=x@example.com",
            "missing_parameter",
            "Password is required",
        ),
        (
            "EmailAddress=nope&Password=password1",
            "invalid_parameter",
            "not a valid email",
        ),
        (
            "EmailAddress=x@example.com&Password=short",
            "invalid_parameter",
            "at least 8",
        ),
        (
            "EmailAddress=x@example.com&Password=password1&Role=God",
            "invalid_parameter",
            "Role must be",
        ),
        (
            "EmailAddress=x@example.com&Password=password1&Status=zombie",
            "invalid_parameter",
            "Status must be",
        ),
        (
            "EmailAddress=x@example.com&Password=password1&Colour=red",
            "invalid_parameter",
            "unknown parameter \"Colour\"",
        ),
        (
            "EmailAddress=x@example.com&Password=password1&Password=other11",
            "invalid_parameter",
            "more than once",
        ),
        (
            "EmailAddress=x%ZZ&Password=password1",
            "invalid_parameter",
            "percent-escape",
        ),
    ];
    for (body, code, message) in cases {
        let res = api.check("POST", "/2012-04-24/Accounts.json", body, 400);
        assert_eq!(res["code"], code, "{body}");
        assert!(
            res["message"].as_str().unwrap().contains(message),
            "{body}: {res}"
        );
        assert_eq!(res["status"], 400);
    }
    let long_name = format!(
        "EmailAddress=x@example.com&Password=password1&FriendlyName={}",
        "n".repeat(5000)
    );
    api.check("POST", "/2012-04-24/Accounts.json", &long_name, 400);
    let mut req = ApiRequest {
        method: "POST".into(),
        url: "/2012-04-24/Accounts.json".into(),
        authorization: Some(api.root_auth.clone()),
        body: vec![b'E', b'=', 0xff, 0xfe],
        ..ApiRequest::default()
    };
    assert_eq!(api::handle(&api.state, &req, NOW).status, 400);
    req.body = br#"{"EmailAddress":"x@example.com"}"#.to_vec();
    req.content_type = Some("application/json".into());
    assert_eq!(api::handle(&api.state, &req, NOW).status, 415);
    assert!(check::run(&api.state.store).unwrap().is_empty());
    assert_eq!(
        api.check("GET", "/2012-04-24/Accounts.json", "", 200),
        serde_json::json!([])
    );
}

#[test]
fn routes_methods_and_auth_errors() {
    let api = Api::new();
    let res = api.send("PATCH", "/2012-04-24/Accounts.json", "", None);
    assert_eq!(res.status, 405);
    assert!(res.headers.contains(&("Allow", "GET, POST".to_string())));
    let res = api.send("PATCH", "/2012-04-24/Accounts/x", "", None);
    assert!(res
        .headers
        .contains(&("Allow", "GET, POST, PUT, DELETE".to_string())));
    assert_eq!(
        api.send("GET", "/2012-04-24/Nope.json", "", None).status,
        404
    );
    assert_eq!(api.send("GET", "/", "", None).status, 404);
    assert_eq!(
        api.send("GET", "/2012-04-24/Accounts/%E0%A4", "", None)
            .status,
        400
    );
    api.check(
        "GET",
        "/2012-04-24/Accounts/ACffffffffffffffffffffffffffffffff.json",
        "",
        404,
    );
    api.check(
        "GET",
        "/2012-04-24/Accounts/nobody@example.com.json",
        "",
        404,
    );
    for auth in [
        "",
        "Basic !!",
        "Bearer x",
        &basic("admin@localhost", "wrongpass1"),
    ] {
        let res = api.send_as(auth, "GET", "/2012-04-24/Accounts.json", "", None);
        assert_eq!(res.status, 401, "{auth}");
        assert!(res
            .headers
            .contains(&("WWW-Authenticate", "Basic realm=\"edgecomm\"".to_string())));
    }
    let health = api.send_as("", "GET", "/health", "", None);
    assert_eq!(
        (health.status, health.body.as_slice()),
        (200, &br#"{"status":"ok"}"#[..])
    );
}

#[test]
fn failed_logins_from_one_address_are_refused_with_429() {
    let api = Api::with_flags(&["--auth-backoff-secs", "45"]);
    let wrong = basic("admin@localhost", "wrongpass1");
    for _ in 0..10 {
        assert_eq!(
            api.send_as(&wrong, "GET", "/2012-04-24/Accounts.json", "", None)
                .status,
            401
        );
    }
    let res = api.send("GET", "/2012-04-24/Accounts.json", "", None);
    assert_eq!(
        res.status, 429,
        "even good credentials wait out the back-off"
    );
    let retry_after = res.headers.iter().find(|(name, _)| *name == "Retry-After");
    assert_eq!(
        retry_after.map(|(_, value)| value.as_str()),
        Some("45"),
        "the configured back-off, not a constant"
    );
}

#[test]
fn paging_returns_page_objects() {
    let api = Api::new();
    for n in 0..5 {
        api.create(&format!("p{n}@example.com"));
    }
    let page = api.check(
        "GET",
        "/2012-04-24/Accounts.json?Page=1&PageSize=2",
        "",
        200,
    );
    assert_eq!(page["page"], 1);
    assert_eq!(page["page_size"], 2);
    assert_eq!(page["total"], 5);
    assert_eq!(page["start"], 2);
    assert_eq!(page["end"], 3);
    assert_eq!(page["uri"], "/2012-04-24/Accounts.json?Page=1&PageSize=2");
    assert_eq!(
        page["next_page_uri"],
        "/2012-04-24/Accounts.json?Page=2&PageSize=2"
    );
    let emails: Vec<&str> = page["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["email_address"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["p2@example.com", "p3@example.com"]);
    let last = api.check(
        "GET",
        "/2012-04-24/Accounts.json?Page=2&PageSize=2",
        "",
        200,
    );
    assert_eq!(last["next_page_uri"], serde_json::Value::Null);
    assert_eq!(last["accounts"].as_array().unwrap().len(), 1);
    let default_size = api.check("GET", "/2012-04-24/Accounts.json?Page=0", "", 200);
    assert_eq!(default_size["page_size"], 50);
    for bad in [
        "PageSize=0",
        "PageSize=1001",
        "Page=-1",
        "Page=x",
        "Sort=asc",
    ] {
        api.check("GET", &format!("/2012-04-24/Accounts.json?{bad}"), "", 400);
    }
    assert_eq!(
        api.check("GET", "/2012-04-24/Accounts.json", "", 200)
            .as_array()
            .unwrap()
            .len(),
        5
    );
}

#[test]
fn update_and_delete_through_the_api() {
    let api = Api::new();
    let sid = api.create("u@example.com")["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let url = format!("/2012-04-24/Accounts/{sid}.json");
    let renamed = api.check("PUT", &url, "FriendlyName=Renamed+Account", 200);
    assert_eq!(renamed["friendly_name"], "Renamed Account");
    let changed = api.check("POST", &url, "Password=another99", 200);
    assert_eq!(changed["auth_token"].as_str().unwrap().len(), 32);
    let unchanged = api.check("POST", &url, "", 200);
    assert_eq!(unchanged["friendly_name"], "Renamed Account");
    let err = api.check("POST", &url, "EmailAddress=x@example.com", 400);
    assert!(err["message"]
        .as_str()
        .unwrap()
        .contains("cannot be changed"));
    let suspended = api.check("POST", &url, "Status=suspended", 200);
    assert_eq!(suspended["status"], "suspended");
    let closed = api.check("DELETE", &url, "", 200);
    assert_eq!(closed["status"], "closed");
    let err = api.check("POST", &url, "Status=active", 409);
    assert_eq!(err["code"], "conflict");
    assert!(check::run(&api.state.store).unwrap().is_empty());
}
