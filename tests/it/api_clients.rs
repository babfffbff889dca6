//! The Clients API over real HTTP: every route variant, both formats without a secret in
//! sight, paging and the Login filter, reach rules, the close cascade, kill -9, and a replay
//! of the requests a Restcomm SDK sends.

use md5::Digest;

use crate::support::{assert_store_consistent, basic, TestServer};

const REALM: &str = "pbx.test";
const CONFIG: &str = r#"{"sip": {"realm": "pbx.test"}}"#;

fn start(name: &str) -> TestServer {
    TestServer::start_in(crate::support::unique_dir(name), CONFIG)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every form a secret of this client could take in a response.
fn secrets(login: &str, password: &str) -> Vec<String> {
    let input = format!("{login}:{REALM}:{password}");
    vec![
        password.to_string(),
        hex(&md5::Md5::digest(input.as_bytes())),
        hex(&sha2::Sha256::digest(input.as_bytes())),
    ]
}

#[track_caller]
fn assert_no_secret(body: &str, secrets: &[String]) {
    for secret in secrets {
        assert!(
            !body.contains(secret.as_str()),
            "secret {secret} leaked in {body}"
        );
    }
    let lower = body.to_ascii_lowercase();
    assert!(
        !lower.contains("password") && !lower.contains("ha1"),
        "{body}"
    );
}

#[test]
fn every_route_variant_and_format_without_secrets() {
    let server = start("clients-routes");
    let root = server.root_sid.clone();
    let client = server.create_client(&root, "alice", "alicepass1");
    let secrets = secrets("alice", "alicepass1");
    let sid = client["sid"].as_str().unwrap().to_string();
    assert!(sid.starts_with("CL") && sid.len() == 34);
    assert_eq!(client["account_sid"], root.as_str());
    assert_eq!(client["api_version"], "2012-04-24");
    assert_eq!(client["status"], "1");
    assert_eq!(client["voice_method"], "POST");
    assert_eq!(
        client["uri"],
        format!("/2012-04-24/Accounts/{root}/Clients/{sid}.json")
    );
    assert_no_secret(&client.to_string(), &secrets);

    let one_json = [
        format!("/2012-04-24/Accounts/{root}/Clients/{sid}.json"),
        format!("/2012-04-24/Accounts/{root}/Clients.json/{sid}"),
        format!("/2012-04-24/Accounts/{root}/Clients.json/{sid}/"),
        format!("/restcomm/2012-04-24/Accounts/{root}/Clients/{sid}.json"),
        format!("/2012-04-24/Accounts.json/{root}/Clients/{sid}"),
        format!("/2012-04-24/Accounts/admin%40localhost/Clients/{sid}.json"),
    ];
    for path in &one_json {
        let reply = server.root("GET", path, "");
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        assert_eq!(reply.json()["login"], "alice", "{path}");
        assert_no_secret(&reply.body, &secrets);
    }
    let one_xml = [
        format!("/2012-04-24/Accounts/{root}/Clients/{sid}"),
        format!("/2012-04-24/Accounts/{root}/Clients/{sid}.xml"),
        format!("/restcomm/2012-04-24/Accounts/{root}/Clients.xml/{sid}/"),
    ];
    for path in &one_xml {
        let reply = server.root("GET", path, "");
        assert_eq!(reply.status, 200, "{path}");
        assert!(
            reply
                .body
                .starts_with(&format!("<RestcommResponse><Client><Sid>{sid}</Sid>")),
            "{}",
            reply.body
        );
        assert!(
            reply
                .body
                .contains("<Login>alice</Login><Status>1</Status>"),
            "{}",
            reply.body
        );
        assert_no_secret(&reply.body, &secrets);
    }
    for path in [
        format!("/2012-04-24/Accounts/{root}/Clients.json"),
        format!("/2012-04-24/Accounts/{root}/Clients/"),
        format!("/restcomm/2012-04-24/Accounts/{root}/Clients.json?Page=0"),
    ] {
        let reply = server.root("GET", &path, "");
        assert_eq!(reply.status, 200, "{path}");
        assert!(reply.body.contains(&sid), "{path}");
        assert_no_secret(&reply.body, &secrets);
    }
    let xml_list = server.root("GET", &format!("/2012-04-24/Accounts/{root}/Clients"), "");
    assert!(
        xml_list
            .body
            .starts_with("<RestcommResponse><Clients><Client>"),
        "{}",
        xml_list.body
    );

    let put = server.root(
        "PUT",
        &format!("/2012-04-24/Accounts/{root}/Clients/{sid}.json"),
        "FriendlyName=Alice+Desk&VoiceUrl=http%3A%2F%2Fapp.example.com%2Fvoice&VoiceMethod=GET",
    );
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(put.json()["friendly_name"], "Alice Desk");
    assert_eq!(put.json()["voice_url"], "http://app.example.com/voice");
    assert_eq!(put.json()["voice_method"], "GET");
    let post = server.root(
        "POST",
        &format!("/2012-04-24/Accounts/{root}/Clients.json/{sid}"),
        "Password=newalice22&Status=0",
    );
    assert_eq!(post.status, 200);
    assert_eq!(post.json()["status"], "0");
    assert_no_secret(&post.body, &self::secrets("alice", "newalice22"));
    let login_change = server.root(
        "POST",
        &format!("/2012-04-24/Accounts/{root}/Clients/{sid}.json"),
        "Login=bob",
    );
    assert_eq!(login_change.status, 400);

    let deleted = server.root(
        "DELETE",
        &format!("/2012-04-24/Accounts/{root}/Clients/{sid}.json"),
        "",
    );
    assert_eq!(deleted.status, 200);
    assert_no_secret(&deleted.body, &secrets);
    assert_eq!(
        server
            .root(
                "GET",
                &format!("/2012-04-24/Accounts/{root}/Clients/{sid}.json"),
                ""
            )
            .status,
        404
    );
    assert_eq!(
        server
            .root(
                "DELETE",
                &format!("/2012-04-24/Accounts/{root}/Clients/{sid}.json"),
                ""
            )
            .status,
        404
    );
    let method = server.root(
        "PATCH",
        &format!("/2012-04-24/Accounts/{root}/Clients.json"),
        "",
    );
    assert_eq!(
        (method.status, method.header("Allow")),
        (405, Some("GET, POST"))
    );
}

#[test]
fn validation_errors_and_duplicates() {
    let server = start("clients-validation");
    let url = format!("/2012-04-24/Accounts/{}/Clients.json", server.root_sid);
    let cases = [
        ("Password=abcdefg12", 400, "Login is required"),
        ("Login=alice", 400, "Password is required"),
        ("Login=al%3Fice&Password=abcdefg12", 400, "Login may hold"),
        ("Login=alice&Password=short1", 400, "at least 8"),
        (
            "Login=alice&Password=abcdefg12&Status=2",
            400,
            "Status must be 1",
        ),
        (
            "Login=alice&Password=abcdefg12&VoiceMethod=PUT",
            400,
            "VoiceMethod must be GET or POST",
        ),
        (
            "Login=alice&Password=abcdefg12&VoiceUrl=not+a+url",
            400,
            "VoiceUrl must be",
        ),
        (
            "Login=alice&Password=abcdefg12&VoiceFallbackUrl=ftp%3A%2F%2Fx",
            400,
            "VoiceFallbackUrl must be",
        ),
        (
            "Login=alice&Password=abcdefg12&VoiceApplicationSid=AP1",
            400,
            "VoiceApplicationSid",
        ),
        (
            "Login=alice&Password=abcdefg12&Login=bob",
            400,
            "\"Login\" given more than once",
        ),
    ];
    for (body, status, message) in cases {
        let reply = server.root("POST", &url, body);
        assert_eq!(reply.status, status, "{body}: {}", reply.body);
        assert!(
            reply.json()["message"].as_str().unwrap().contains(message),
            "{body}: {}",
            reply.body
        );
    }
    assert_eq!(
        server
            .root("POST", &url, "Login=alice&Password=abcdefg12")
            .status,
        200
    );
    let duplicate = server.root("POST", &url, "Login=alice&Password=other1234");
    assert_eq!(duplicate.status, 409);
    assert_eq!(duplicate.json()["code"], "conflict");
    let list = server.root("GET", &url, "").json();
    assert_eq!(list.as_array().unwrap().len(), 1, "nothing half-written");
}

#[test]
fn paging_and_login_filter() {
    let server = start("clients-paging");
    let root = server.root_sid.clone();
    for n in 0..7 {
        server.create_client(&root, &format!("ext{n}"), "phonepass1");
    }
    let page = server
        .root(
            "GET",
            &format!("/2012-04-24/Accounts/{root}/Clients.json?Page=1&PageSize=3"),
            "",
        )
        .json();
    assert_eq!(page["total"], 7);
    let logins: Vec<&str> = page["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["login"].as_str().unwrap())
        .collect();
    assert_eq!(logins, ["ext3", "ext4", "ext5"]);
    assert_eq!(
        page["next_page_uri"],
        format!("/2012-04-24/Accounts/{root}/Clients.json?Page=2&PageSize=3")
    );
    let filtered = server
        .root(
            "GET",
            &format!("/2012-04-24/Accounts/{root}/Clients.json?Login=ext4"),
            "",
        )
        .json();
    assert_eq!(filtered.as_array().unwrap().len(), 1);
    assert_eq!(filtered[0]["login"], "ext4");
    let none = server
        .root(
            "GET",
            &format!("/2012-04-24/Accounts/{root}/Clients.json?Login=nobody"),
            "",
        )
        .json();
    assert_eq!(none, serde_json::json!([]));
    let bad = server.root(
        "GET",
        &format!("/2012-04-24/Accounts/{root}/Clients.json?PageSize=5000"),
        "",
    );
    assert_eq!(bad.status, 400);
}

#[test]
fn reach_rules_and_the_close_cascade() {
    let server = start("clients-reach");
    let make = |auth: &str, email: &str, role: &str| {
        let (sid, token) = server.create_account(auth, email, &format!("&Role={role}"));
        let auth = basic(&sid, &token);
        (sid, auth)
    };
    let (a, a_auth) = make(&server.root_auth(), "a%40example.com", "Administrator");
    let (sibling, sibling_auth) = make(&server.root_auth(), "s%40example.com", "Developer");
    let (dev, dev_auth) = make(&a_auth, "dev%40example.com", "Developer");
    let as_ = |auth: &str, method: &str, path: &str, body: &str| {
        server.request(method, path, &[("Authorization", auth)], body.as_bytes())
    };

    // A Developer manages its own clients.
    let own = as_(
        &dev_auth,
        "POST",
        &format!("/2012-04-24/Accounts/{dev}/Clients.json"),
        "Login=devphone&Password=devpass12",
    );
    assert_eq!(own.status, 200, "{}", own.body);
    let own_sid = own.json()["sid"].as_str().unwrap().to_string();
    // Its ancestors see them.
    assert_eq!(
        as_(
            &a_auth,
            "GET",
            &format!("/2012-04-24/Accounts/{dev}/Clients/{own_sid}.json"),
            ""
        )
        .status,
        200
    );
    // A child cannot see its parent's clients, nor a sibling its sibling's.
    server.create_client(&a, "aphone", "aphone123");
    assert_eq!(
        as_(
            &dev_auth,
            "GET",
            &format!("/2012-04-24/Accounts/{a}/Clients.json"),
            ""
        )
        .status,
        404
    );
    assert_eq!(
        as_(
            &sibling_auth,
            "GET",
            &format!("/2012-04-24/Accounts/{dev}/Clients.json"),
            ""
        )
        .status,
        404
    );
    assert_eq!(
        as_(
            &sibling_auth,
            "DELETE",
            &format!("/2012-04-24/Accounts/{dev}/Clients/{own_sid}.json"),
            ""
        )
        .status,
        404
    );
    assert_eq!(
        as_(
            &sibling_auth,
            "POST",
            &format!("/2012-04-24/Accounts/{sibling}/Clients/{own_sid}.json"),
            "Status=0"
        )
        .status,
        404,
        "someone else's client under one's own account"
    );

    // Closing the parent removes every client below it, and the logins are free again.
    assert_eq!(
        server
            .root("DELETE", &format!("/2012-04-24/Accounts/{a}.json"), "")
            .status,
        200
    );
    let listed = server.root(
        "GET",
        &format!("/2012-04-24/Accounts/{dev}/Clients.json"),
        "",
    );
    assert_eq!(
        (listed.status, listed.json()["message"].clone()),
        (409, "the account is closed".into())
    );
    assert_eq!(
        server
            .root(
                "GET",
                &format!("/2012-04-24/Accounts/{dev}/Clients/{own_sid}.json"),
                ""
            )
            .status,
        404
    );
    let late = server.root(
        "POST",
        &format!("/2012-04-24/Accounts/{dev}/Clients.json"),
        "Login=late&Password=latepass1",
    );
    assert_eq!(late.status, 409);
    server.create_client(&server.root_sid, "devphone", "devpass12");
}

#[test]
fn acknowledged_client_writes_survive_kill_9() {
    let server = start("clients-kill9");
    let root = server.root_sid.clone();
    let mut sids = Vec::new();
    for n in 0..15 {
        sids.push(
            server.create_client(&root, &format!("phone{n}"), "phonepass1")["sid"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(
        server
            .root(
                "POST",
                &format!("/2012-04-24/Accounts/{root}/Clients/{}.json", sids[0]),
                "Status=0"
            )
            .status,
        200
    );
    assert_eq!(
        server
            .root(
                "DELETE",
                &format!("/2012-04-24/Accounts/{root}/Clients/{}.json", sids[1]),
                ""
            )
            .status,
        200
    );
    let dir = server.kill9();
    assert_store_consistent(&dir);

    let server = TestServer::start_in(dir, CONFIG);
    let list = server
        .root(
            "GET",
            &format!("/2012-04-24/Accounts/{root}/Clients.json"),
            "",
        )
        .json();
    assert_eq!(list.as_array().unwrap().len(), 14);
    assert_eq!(
        server
            .root(
                "GET",
                &format!("/2012-04-24/Accounts/{root}/Clients/{}.json", sids[0]),
                ""
            )
            .json()["status"],
        "0"
    );
    assert_eq!(
        server
            .root(
                "GET",
                &format!("/2012-04-24/Accounts/{root}/Clients/{}.json", sids[1]),
                ""
            )
            .status,
        404
    );
    // The login index came back in step: taken logins conflict, the deleted one is free.
    assert_eq!(
        server
            .root(
                "POST",
                &format!("/2012-04-24/Accounts/{root}/Clients.json"),
                "Login=phone5&Password=phonepass1"
            )
            .status,
        409
    );
    assert_eq!(
        server
            .root(
                "POST",
                &format!("/2012-04-24/Accounts/{root}/Clients.json"),
                "Login=phone1&Password=phonepass1"
            )
            .status,
        200
    );
}
