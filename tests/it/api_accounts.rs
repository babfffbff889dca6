//! The Accounts API over real HTTP: shapes in both formats, the permission rules, and the
//! bad-input guarantees (precise 4xx, never a 5xx, nothing half-written).

use crate::support::{basic, TestServer};

#[test]
fn restcomm_client_style_requests_work() {
    let server = TestServer::start("restcomm-style");
    // What the Restcomm SDKs send: form body, Accept */*, the suffix on the collection.
    let reply = server.request(
        "POST",
        "/restcomm/2012-04-24/Accounts.json/",
        &[("Authorization", &server.root_auth()), ("Accept", "*/*"), ("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")],
        b"EmailAddress=jane.doe%40company.com&Password=Secret123&FriendlyName=Jane+Doe&Role=Developer",
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("Content-Type"), Some("application/json"));
    let jane = reply.json();
    assert_eq!(jane["friendly_name"], "Jane Doe");
    assert_eq!(jane["role"], "Developer");
    assert_eq!(jane["owner_account_sid"], server.root_sid.as_str());
    let sid = jane["sid"].as_str().unwrap();
    let read = server.request(
        "GET",
        &format!("/restcomm/2012-04-24/Accounts.json/{sid}"),
        &[("Authorization", &server.root_auth()), ("Accept", "*/*")],
        b"",
    );
    assert_eq!(read.status, 200);
    assert_eq!(read.json()["email_address"], "jane.doe@company.com");
    // Update by email, as the Restcomm docs show, with PUT.
    let update = server.request(
        "PUT",
        "/restcomm/2012-04-24/Accounts/jane.doe%40company.com.json",
        &[("Authorization", &basic("jane.doe@company.com", "Secret123"))],
        b"Password=NewSecret456",
    );
    assert_eq!(update.status, 200, "{}", update.body);
    let token = update.json()["auth_token"].as_str().unwrap().to_string();
    let me = server.request(
        "GET",
        &format!("/2012-04-24/Accounts/{sid}.json"),
        &[("Authorization", &basic(sid, &token))],
        b"",
    );
    assert_eq!(me.status, 200);
}

#[test]
fn xml_is_the_default_and_wrapped_in_restcomm_response() {
    let server = TestServer::start("xml");
    let (sid, _) = server.create_account(&server.root_auth(), "x%40example.com", "");
    let one = server.root("GET", &format!("/2012-04-24/Accounts/{sid}"), "");
    assert_eq!(one.header("Content-Type"), Some("application/xml"));
    assert!(
        one.body.starts_with(&format!(
            "<RestcommResponse><Account><Sid>{sid}</Sid><OwnerAccountSid>{}</OwnerAccountSid>",
            server.root_sid
        )),
        "{}",
        one.body
    );
    for element in [
        "<FriendlyName>x@example.com</FriendlyName>",
        "<Status>active</Status>",
        "<Type>Full</Type>",
        "<Role>Administrator</Role>",
        "<DateCreated>",
        "<SubresourceUris><Clients>",
    ] {
        assert!(one.body.contains(element), "{element} in {}", one.body);
    }
    let list = server.request(
        "GET",
        "/2012-04-24/Accounts",
        &[
            ("Authorization", &server.root_auth()),
            ("Accept", "text/xml"),
        ],
        b"",
    );
    assert!(
        list.body
            .starts_with("<RestcommResponse><Accounts><Account>"),
        "{}",
        list.body
    );
    assert!(list
        .body
        .ends_with("</Account></Accounts></RestcommResponse>"));
    let error = server.request(
        "GET",
        "/2012-04-24/Accounts/nobody%40example.com",
        &[("Authorization", &server.root_auth())],
        b"",
    );
    assert_eq!(error.status, 404);
    assert!(
        error
            .body
            .contains("<RestException><Status>404</Status><Code>not_found</Code>"),
        "{}",
        error.body
    );
    let json_list = server.request(
        "GET",
        "/2012-04-24/Accounts",
        &[
            ("Authorization", &server.root_auth()),
            ("Accept", "application/json"),
        ],
        b"",
    );
    assert!(json_list.json().is_array(), "bare JSON array");
}

#[test]
fn children_see_neither_parent_nor_siblings_and_developers_cannot_create() {
    let server = TestServer::start("permissions");
    let root = server.root_auth();
    let (a, a_token) = server.create_account(&root, "a%40example.com", "");
    let (b, _) = server.create_account(&root, "b%40example.com", "");
    let (dev, dev_token) = server.create_account(&root, "dev%40example.com", "&Role=Developer");
    let a_auth = basic(&a, &a_token);
    let (a_child, _) = server.create_account(&a_auth, "a-child%40example.com", "");
    let get = |auth: &str, target: &str| {
        server
            .request(
                "GET",
                &format!("/2012-04-24/Accounts/{target}.json"),
                &[("Authorization", auth)],
                b"",
            )
            .status
    };
    assert_eq!(get(&a_auth, &a), 200);
    assert_eq!(get(&a_auth, &a_child), 200);
    assert_eq!(get(&a_auth, &server.root_sid), 404, "parent");
    assert_eq!(get(&a_auth, &b), 404, "sibling");
    assert_eq!(get(&a_auth, "b%40example.com"), 404, "sibling by email");
    let update_sibling = server.request(
        "POST",
        &format!("/2012-04-24/Accounts/{b}.json"),
        &[("Authorization", &a_auth)],
        b"Status=suspended",
    );
    assert_eq!(update_sibling.status, 404);
    let delete_parent = server.request(
        "DELETE",
        &format!("/2012-04-24/Accounts/{}.json", server.root_sid),
        &[("Authorization", &a_auth)],
        b"",
    );
    assert_eq!(delete_parent.status, 404);
    let listed = server
        .request(
            "GET",
            "/2012-04-24/Accounts.json",
            &[("Authorization", &a_auth)],
            b"",
        )
        .json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["sid"], a_child.as_str());

    let dev_auth = basic(&dev, &dev_token);
    let denied = server.request(
        "POST",
        "/2012-04-24/Accounts.json",
        &[("Authorization", &dev_auth)],
        b"EmailAddress=z%40example.com&Password=password1",
    );
    assert_eq!(denied.status, 403);
    assert_eq!(denied.json()["code"], "forbidden");
    let own_status = server.request(
        "POST",
        &format!("/2012-04-24/Accounts/{dev}.json"),
        &[("Authorization", &dev_auth)],
        b"Status=active",
    );
    assert_eq!(own_status.status, 403);
    let own_name = server.request(
        "POST",
        &format!("/2012-04-24/Accounts/{dev}.json"),
        &[("Authorization", &dev_auth)],
        b"FriendlyName=Dev",
    );
    assert_eq!(own_name.status, 200);
}

#[test]
fn suspension_cascades_to_credentials_of_the_subtree() {
    let server = TestServer::start("cascade");
    let (a, a_token) = server.create_account(&server.root_auth(), "a%40example.com", "");
    let a_auth = basic(&a, &a_token);
    let (b, b_token) = server.create_account(&a_auth, "b%40example.com", "");
    let (c, c_token) = server.create_account(&basic(&b, &b_token), "c%40example.com", "");
    let me = |sid: &str, token: &str| {
        server
            .request(
                "GET",
                &format!("/2012-04-24/Accounts/{sid}.json"),
                &[("Authorization", &basic(sid, token))],
                b"",
            )
            .status
    };
    assert_eq!(me(&c, &c_token), 200);
    assert_eq!(
        server
            .root(
                "POST",
                &format!("/2012-04-24/Accounts/{a}.json"),
                "Status=suspended"
            )
            .status,
        200
    );
    assert_eq!(me(&a, &a_token), 401);
    assert_eq!(me(&c, &c_token), 401, "a grandchild is suspended too");
    let reactivate_child = server.root(
        "POST",
        &format!("/2012-04-24/Accounts/{b}.json"),
        "Status=active",
    );
    assert_eq!(reactivate_child.status, 409);
    assert_eq!(
        server
            .root(
                "POST",
                &format!("/2012-04-24/Accounts/{a}.json"),
                "Status=active"
            )
            .status,
        200
    );
    assert_eq!(me(&c, &c_token), 200);
    let closed = server.root("DELETE", &format!("/2012-04-24/Accounts/{a}.json"), "");
    assert_eq!(closed.status, 200);
    assert_eq!(closed.json()["status"], "closed");
    assert_eq!(me(&c, &c_token), 401);
    let grandchild = server
        .root("GET", &format!("/2012-04-24/Accounts/{c}.json"), "")
        .json();
    assert_eq!(grandchild["status"], "closed");
    assert_eq!(
        server
            .root(
                "POST",
                &format!("/2012-04-24/Accounts/{a}.json"),
                "Status=active"
            )
            .status,
        409
    );
}

#[test]
fn bad_input_gets_4xx_and_never_5xx() {
    let server = TestServer::start("bad-input");
    let auth = server.root_auth();
    let big = vec![b'a'; 64 * 1024 + 1];
    let too_large = server.request(
        "POST",
        "/2012-04-24/Accounts.json",
        &[("Authorization", &auth)],
        &big,
    );
    assert_eq!(too_large.status, 413);
    assert_eq!(too_large.json()["code"], "body_too_large");
    let cases: Vec<(&str, &str, Vec<u8>, u16)> = vec![
        (
            "POST",
            "/2012-04-24/Accounts.json",
            vec![b'E', b'=', 0xC3, 0x28],
            400,
        ),
        (
            "POST",
            "/2012-04-24/Accounts.json",
            b"EmailAddress=%%%".to_vec(),
            400,
        ),
        ("POST", "/2012-04-24/Accounts.json", b"&&&===".to_vec(), 400),
        (
            "POST",
            "/2012-04-24/Accounts.json",
            format!(
                "EmailAddress={}%40x.com&Password=password1",
                "a".repeat(60_000)
            )
            .into_bytes(),
            400,
        ),
        (
            "POST",
            "/2012-04-24/Accounts.json",
            b"EmailAddress=q%40x.com&Password=password1&Password=password2".to_vec(),
            400,
        ),
        ("DELETE", "/2012-04-24/Accounts.json", Vec::new(), 405),
        ("BREW", "/2012-04-24/Accounts.json", Vec::new(), 405),
        ("GET", "/2012-04-24/Calls.json", Vec::new(), 404),
        ("GET", "/2012-04-24/Accounts/%FF%FE.json", Vec::new(), 400),
        ("GET", "/../../etc/passwd", Vec::new(), 404),
    ];
    for (method, path, body, status) in cases {
        let reply = server.request(
            method,
            path,
            &[("Authorization", &auth), ("Accept", "application/json")],
            &body,
        );
        assert_eq!(reply.status, status, "{method} {path}: {}", reply.body);
        assert_eq!(reply.json()["status"], status);
    }
    let wrong_allow = server.request(
        "DELETE",
        "/2012-04-24/Accounts.json",
        &[("Authorization", &auth)],
        b"",
    );
    assert_eq!(wrong_allow.header("Allow"), Some("GET, POST"));
    let garbage = server.raw(b"\x00\x01\x02 nonsense\r\n\r\n");
    assert!((400..500).contains(&garbage.status), "{}", garbage.status);
    // After all that, nothing was written and the server still answers.
    let list = server.root("GET", "/2012-04-24/Accounts.json", "");
    assert_eq!(list.json(), serde_json::json!([]));
    let log = server.log();
    assert!(!log.contains("ERROR"), "{log}");
    // Once in the first-start banner (SPEC.md §2), never in an access line.
    assert_eq!(log.matches(&server.root_token).count(), 1, "{log}");
}

#[test]
fn health_needs_no_credentials_and_unauthenticated_calls_get_a_challenge() {
    let server = TestServer::start("health");
    let health = server.request("GET", "/health", &[], b"");
    assert_eq!(
        (health.status, health.body.as_str()),
        (200, r#"{"status":"ok"}"#)
    );
    let anonymous = server.request("GET", "/2012-04-24/Accounts.json", &[], b"");
    assert_eq!(anonymous.status, 401);
    assert_eq!(
        anonymous.header("WWW-Authenticate"),
        Some("Basic realm=\"edgecomm\"")
    );
}
