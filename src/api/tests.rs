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
    root_sid: String,
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
        let root_sid = world.root.sid.to_string();
        let root_auth = basic(&root_sid, &world.root_token);
        Api {
            state: AppState::new(world.store, config, |ip| ip.is_loopback(), NOW).unwrap(),
            root_auth,
            root_sid,
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
            remote: Some("127.0.0.1:40000".parse().unwrap()),
            secure: false,
            body: body.as_bytes().to_vec(),
            ..ApiRequest::default()
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

    fn create_sid(&self, email: &str) -> String {
        self.create(email)["sid"].as_str().unwrap().to_string()
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
    let sid = api.create_sid("v@example.com");
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
    assert_eq!(api.send("GET", "/nope", "", None).status, 404);
    assert_eq!(api.send("GET", "/", "", None).status, 200, "the console");
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
        "Page=1&Page=2",
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
    let sid = api.create_sid("u@example.com");
    let url = format!("/2012-04-24/Accounts/{sid}.json");
    let renamed = api.check("PUT", &url, "FriendlyName=Renamed+Account", 200);
    assert_eq!(renamed["friendly_name"], "Renamed Account");
    let changed = api.check("POST", &url, "Password=another99", 200);
    assert_eq!(changed["auth_token"].as_str().unwrap().len(), 32);
    let unchanged = api.check("POST", &url, "", 200);
    assert_eq!(unchanged["friendly_name"], "Renamed Account");
    // With an EmailAddress the POST is a create under the account (here without a Password),
    // never an update of it.
    let err = api.check("POST", &url, "EmailAddress=x@example.com", 400);
    assert_eq!(err["message"], "Password is required");
    assert_eq!(
        api.check("GET", &url, "", 200)["email_address"],
        "u@example.com"
    );
    let suspended = api.check("POST", &url, "Status=suspended", 200);
    assert_eq!(suspended["status"], "suspended");
    let closed = api.check("DELETE", &url, "", 200);
    assert_eq!(closed["status"], "closed");
    let err = api.check("POST", &url, "Status=active", 409);
    assert_eq!(err["code"], "conflict");
    assert!(check::run(&api.state.store).unwrap().is_empty());
}

#[test]
fn parameters_nobody_uses_are_ignored_on_every_route() {
    let api = Api::new();
    let extras = "AccountSid=AC00000000000000000000000000000000&ApiVersion=2010-04-01&Colour=red";
    let account = api.check(
        "POST",
        "/2012-04-24/Accounts.json",
        &format!("EmailAddress=e@example.com&Password=password1&{extras}"),
        200,
    );
    let sid = account["sid"].as_str().unwrap();
    let url = format!("/2012-04-24/Accounts/{sid}.json");
    let renamed = api.check("POST", &url, &format!("FriendlyName=Renamed&{extras}"), 200);
    assert_eq!(renamed["friendly_name"], "Renamed");
    // Only extras: nothing to change, the account as it is.
    assert_eq!(
        api.check("PUT", &url, extras, 200)["friendly_name"],
        "Renamed"
    );
    api.check("GET", &format!("{url}?{extras}"), "", 200);
    api.check(
        "GET",
        &format!("/2012-04-24/Accounts.json?{extras}&Sort=asc"),
        "",
        200,
    );
    let clients = format!("/2012-04-24/Accounts/{sid}/Clients.json");
    let client = api.check(
        "POST",
        &clients,
        &format!("Login=alice&Password=secret123&{extras}&Colour=blue"),
        200,
    );
    let client_url = format!(
        "/2012-04-24/Accounts/{sid}/Clients/{}.json",
        client["sid"].as_str().unwrap()
    );
    let updated = api.check("POST", &client_url, &format!("Status=0&{extras}"), 200);
    assert_eq!(updated["status"], "0");
    api.check("GET", &format!("{clients}?Login=alice&{extras}"), "", 200);
    api.check(
        "GET",
        &format!("/2012-04-24/Accounts/{sid}/Registrations.json?{extras}"),
        "",
        200,
    );
    api.check("DELETE", &client_url, extras, 200);
    // A parameter that is used still gets a precise 400, extras or not.
    let err = api.check("POST", &url, &format!("Status=zombie&{extras}"), 400);
    assert!(err["message"].as_str().unwrap().contains("Status must be"));
    assert!(check::run(&api.state.store).unwrap().is_empty());
}

#[test]
fn a_post_on_an_account_with_an_email_address_creates_its_child() {
    let api = Api::new();
    let parent = api.create("parent@example.com");
    let parent_sid = parent["sid"].as_str().unwrap();
    let url = format!("/2012-04-24/Accounts/{parent_sid}.json");
    let body = "FriendlyName=MySubAccount&EmailAddress=test@example.com&Password=restcomm1";
    let child = api.check("POST", &url, body, 200);
    assert_eq!(child["owner_account_sid"], parent_sid);
    assert_eq!(child["friendly_name"], "MySubAccount");
    assert_eq!(child["auth_token"].as_str().unwrap().len(), 32);
    let parent_after = api.check("GET", &url, "", 200);
    assert_eq!(parent_after, parent_without_token(&parent));
    // The same rules as a create on the collection: a duplicate email is 409...
    assert_eq!(api.check("POST", &url, body, 409)["code"], "conflict");
    // ...and the root's own instance URL makes a child of the root.
    let root = &api.root_sid;
    let of_root = api.check(
        "POST",
        &format!("/2012-04-24/Accounts/{root}.json"),
        "EmailAddress=second@example.com&Password=restcomm1",
        200,
    );
    assert_eq!(of_root["owner_account_sid"], root.as_str());
    // A Developer may not create sub-accounts, through either URL.
    let developer = api.check(
        "POST",
        "/2012-04-24/Accounts.json",
        "EmailAddress=dev@example.com&Password=password1&Role=Developer",
        200,
    );
    let dev_auth = basic(
        developer["sid"].as_str().unwrap(),
        developer["auth_token"].as_str().unwrap(),
    );
    let dev_url = format!(
        "/2012-04-24/Accounts/{}.json",
        developer["sid"].as_str().unwrap()
    );
    let res = api.send_as(
        &dev_auth,
        "POST",
        &dev_url,
        "EmailAddress=d2@example.com&Password=password1",
        None,
    );
    assert_eq!(res.status, 403);
    // A suspended parent takes no child, and nothing is written.
    api.check("POST", &url, "Status=suspended", 200);
    let err = api.check(
        "POST",
        &url,
        "EmailAddress=late@example.com&Password=restcomm1",
        409,
    );
    assert!(err["message"]
        .as_str()
        .unwrap()
        .contains("needs an active parent"));
    assert!(check::run(&api.state.store).unwrap().is_empty());
    let emails: Vec<_> = api
        .check("GET", "/2012-04-24/Accounts.json", "", 200)
        .as_array()
        .unwrap()
        .iter()
        .map(|account| account["email_address"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        emails,
        [
            "parent@example.com",
            "test@example.com",
            "second@example.com",
            "dev@example.com"
        ]
    );
}

/// An account's representation as a later read shows it: the AuthToken only in the create.
fn parent_without_token(created: &serde_json::Value) -> serde_json::Value {
    let mut shown = created.clone();
    shown.as_object_mut().unwrap().remove("auth_token");
    shown
}

#[test]
fn delete_takes_a_sid_that_repeats_the_path_and_refuses_another() {
    let api = Api::new();
    let a = api.create_sid("a@example.com");
    let b = api.create_sid("b@example.com");
    let url = format!("/2012-04-24/Accounts/{a}.json");
    for named in [format!("Sid={b}"), "Sid=nonsense".to_string()] {
        // In the body, as curl -d sends it, and in the query.
        for (url, body) in [
            (url.clone(), named.as_str()),
            (format!("{url}?{named}"), ""),
        ] {
            let err = api.check("DELETE", &url, body, 400);
            let message = err["message"].as_str().unwrap();
            assert!(message.contains("nothing was closed"), "{err}");
        }
    }
    for sid in [&a, &b] {
        let url = format!("/2012-04-24/Accounts/{sid}.json");
        assert_eq!(api.check("GET", &url, "", 200)["status"], "active");
    }
    // By email in the path, with the matching Sid in the body.
    let closed = api.check(
        "DELETE",
        "/2012-04-24/Accounts/a%40example.com.json",
        &format!("Sid={a}"),
        200,
    );
    assert_eq!(closed["status"], "closed");
    let closed = api.check(
        "DELETE",
        &format!("/2012-04-24/Accounts/{b}.json?Sid={b}"),
        "",
        200,
    );
    assert_eq!(closed["status"], "closed");
    assert!(check::run(&api.state.store).unwrap().is_empty());
}
