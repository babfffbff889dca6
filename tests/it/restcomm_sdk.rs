//! The nine calls of the Restcomm Python SDK (restcomm-sdk-python 1.3.2, its `Account` and
//! `Client` modules) replayed byte for byte as python-requests sends them, and the answers the
//! SDK relies on: it parses every body as JSON and tells errors apart by status alone (401, 404,
//! 400 "Password is too weak", 409 "Duplicate Name not allowed").
//!
//! What the SDK sends, from its request shapes: a base URL ending in `/restcomm/2012-04-24`;
//! account paths as `/Accounts.json/{Sid}` and `/Accounts.json/` (a trailing slash); Basic
//! auth with the SID and AuthToken; `Accept: */*`, `Accept-Encoding: gzip, deflate`,
//! `Connection: keep-alive` on every request; no `Content-Type` on GET, a form body in the
//! dict's order on POST, `Content-Length: 0` on DELETE; and `AccountSid` beside `Password` on
//! the account password change.

use std::net::SocketAddr;

use crate::support::{basic, send_http, Reply, TestServer};

const BASE: &str = "/restcomm/2012-04-24";

/// One SDK client: the SID and AuthToken it was built with.
struct Sdk {
    http: SocketAddr,
    sid: String,
    token: String,
}

impl Sdk {
    /// `requests.get(url, auth=(sid, token))`.
    fn get(&self, path: &str) -> Reply {
        self.send("GET", path, None)
    }

    /// `requests.post(url, data={...}, auth=(sid, token))`: the dict urlencoded in order.
    fn post(&self, path: &str, data: &[(&str, &str)]) -> Reply {
        let body: Vec<String> = data
            .iter()
            .map(|(name, value)| format!("{name}={}", quote_plus(value)))
            .collect();
        self.send("POST", path, Some(body.join("&")))
    }

    /// `requests.delete(url, auth=(sid, token))`.
    fn delete(&self, path: &str) -> Reply {
        self.send("DELETE", path, Some(String::new()))
    }

    fn send(&self, method: &str, path: &str, body: Option<String>) -> Reply {
        let mut head = format!(
            "{method} {BASE}{path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: python-requests/2.31.0\r\n\
             Accept-Encoding: gzip, deflate\r\nAccept: */*\r\nConnection: keep-alive\r\n",
            self.http
        );
        if let Some(body) = &body {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
            if !body.is_empty() {
                head.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
            }
        }
        head.push_str(&format!(
            "Authorization: {}\r\n\r\n",
            basic(&self.sid, &self.token)
        ));
        head.push_str(body.as_deref().unwrap_or(""));
        let reply = send_http(self.http, head.as_bytes());
        // The SDK calls json.loads on every answer it does not map to a message itself.
        let _ = reply.json();
        reply
    }
}

/// `urllib.parse.quote_plus`, as requests encodes form values.
fn quote_plus(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                char::from(byte).to_string()
            }
            b' ' => "+".to_string(),
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

#[test]
fn the_nine_sdk_calls_get_the_answers_the_sdk_relies_on() {
    let server = TestServer::start("restcomm-sdk");
    let mut sdk = Sdk {
        http: server.http,
        sid: server.root_sid.clone(),
        token: server.root_token.clone(),
    };
    let sid = sdk.sid.clone();

    // AccountDetails.Details
    let me = sdk.get(&format!("/Accounts.json/{sid}"));
    assert_eq!((me.status, me.json()["sid"].as_str()), (200, Some(&*sid)));

    // ChangeAccountPassword: a weak password is 400, a good one issues a new AuthToken.
    let path = format!("/Accounts.json/{sid}");
    let weak = sdk.post(&path, &[("AccountSid", &sid), ("Password", "weak")]);
    assert_eq!(weak.status, 400, "{}", weak.body);
    let changed = sdk.post(&path, &[("AccountSid", &sid), ("Password", "NewPassw0rd")]);
    assert_eq!(changed.status, 200, "{}", changed.body);
    let new_token = changed.json()["auth_token"].as_str().unwrap().to_string();
    assert_ne!(new_token, sdk.token);
    assert_eq!(
        sdk.get(&path).status,
        401,
        "the old AuthToken stops at once"
    );
    sdk.token = new_token;

    // CreateSubAccount: 200, then 409 for the same email, 400 for a weak password.
    let form = [
        ("FriendlyName", "My Sub Account"),
        ("EmailAddress", "sub@company.com"),
        ("Password", "Secret123"),
    ];
    let created = sdk.post("/Accounts.json/", &form);
    assert_eq!(created.status, 200, "{}", created.body);
    let sub = created.json()["sid"].as_str().unwrap().to_string();
    assert_eq!(created.json()["owner_account_sid"], sid.as_str());
    assert_eq!(sdk.post("/Accounts.json/", &form).status, 409);
    let weak = [
        ("EmailAddress", "other@company.com"),
        ("Password", "secret"),
    ];
    assert_eq!(sdk.post("/Accounts.json/", &weak[..]).status, 400);

    // SubAccountDetails: the list holds the sub-account.
    let list = sdk.get("/Accounts.json/");
    assert_eq!(list.status, 200);
    assert_eq!(list.json()[0]["sid"], sub.as_str());

    // CreateClient: 200, and 400 for a weak password.
    let clients = format!("/Accounts/{sid}/Clients.json");
    let client = sdk.post(&clients, &[("Login", "alice"), ("Password", "alice1234")]);
    assert_eq!(client.status, 200, "{}", client.body);
    let client_sid = client.json()["sid"].as_str().unwrap().to_string();
    assert!(!client.body.contains("alice1234"), "{}", client.body);
    let weak = sdk.post(&clients, &[("Login", "bob"), ("Password", "1234")]);
    assert_eq!(weak.status, 400);

    // ChangeClientPassword: 200, and 400 for a weak password.
    let one = format!("/Accounts/{sid}/Clients/{client_sid}.json");
    let changed = sdk.post(&one, &[("Password", "alice5678")]);
    assert_eq!(changed.status, 200);
    assert!(!changed.body.contains("alice5678"), "{}", changed.body);
    assert_eq!(sdk.post(&one, &[("Password", "short")]).status, 400);

    // ClientList
    let list = sdk.get(&clients);
    assert_eq!(
        (list.status, list.json()[0]["login"].as_str()),
        (200, Some("alice"))
    );

    // DeleteClient: 200, then 404.
    assert_eq!(sdk.delete(&one).status, 200);
    assert_eq!(sdk.delete(&one).status, 404);

    // CloseSubAccount: 200 with the closed account, 404 for a SID that is not there.
    let closed = sdk.post(&format!("/Accounts.json/{sub}"), &[("Status", "closed")]);
    assert_eq!(
        (closed.status, closed.json()["status"].as_str()),
        (200, Some("closed"))
    );
    let nobody = format!("/Accounts.json/AC{}", "0".repeat(32));
    assert_eq!(sdk.post(&nobody, &[("Status", "closed")]).status, 404);

    // Wrong credentials: 401, with a JSON body too.
    sdk.token = "0".repeat(32);
    assert_eq!(sdk.get(&format!("/Accounts.json/{sid}")).status, 401);
}
