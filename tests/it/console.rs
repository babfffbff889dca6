//! The console's HTTP side, over real sockets: its files and their headers, and the session
//! that stands in for credentials (cookie, CSRF token, origin, idle expiry, sign-out, the
//! failure limit), plus `GET /Box`. The page itself is driven in a real browser by
//! `scripts/console-check.sh`.

use crate::support::{basic, Reply, TestServer};

/// A signed-in console: the session cookie and the CSRF token.
struct Session {
    cookie: String,
    csrf: String,
}

fn sign_in(server: &TestServer, user: &str, password: &str) -> Reply {
    let form = format!("User={user}&Password={password}");
    server.request("POST", "/console/session", &[], form.as_bytes())
}

/// The root Administrator's email, from `initial-credentials`.
fn root_email(server: &TestServer) -> String {
    let text = std::fs::read_to_string(server.dir.join("data/initial-credentials")).unwrap();
    let line = text
        .lines()
        .find(|line| line.starts_with("email="))
        .unwrap();
    line["email=".len()..].to_string()
}

/// The session a successful sign-in answered.
fn session_of(reply: &Reply) -> Session {
    assert_eq!(reply.status, 200, "{}", reply.body);
    let set = reply.header("Set-Cookie").expect("a session cookie");
    Session {
        cookie: set.split(';').next().unwrap().to_string(),
        csrf: reply.json()["csrf_token"].as_str().unwrap().to_string(),
    }
}

fn session(server: &TestServer) -> Session {
    session_of(&sign_in(server, &root_email(server), &server.root_password))
}

fn with(server: &TestServer, s: &Session, method: &str, path: &str, form: &str) -> Reply {
    let headers = [
        ("Cookie", s.cookie.as_str()),
        ("X-CSRF-Token", s.csrf.as_str()),
    ];
    server.request(method, path, &headers, form.as_bytes())
}

#[test]
fn the_page_and_its_files_are_served_with_a_strict_policy() {
    let server = TestServer::start("console-files");
    let page = server.request("GET", "/", &[], b"");
    assert_eq!(page.status, 200);
    assert!(page
        .header("Content-Type")
        .unwrap()
        .starts_with("text/html"));
    let policy = page.header("Content-Security-Policy").unwrap();
    for part in [
        "default-src 'none'",
        "script-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(part), "{part} in {policy}");
    }
    assert!(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"));
    assert_eq!(page.header("X-Frame-Options"), Some("DENY"));
    // No inline script or style the policy would have to allow, no handler attribute.
    for (index, tag) in page.body.match_indices("<script") {
        let end = page.body[index..].find('>').unwrap();
        assert!(
            page.body[index..index + end].contains("src="),
            "{tag} at {index}"
        );
    }
    assert!(!page.body.contains("<style") && !page.body.contains(" style="));
    assert!(!page.body.contains(" onclick=") && !page.body.contains(" onload="));
    let mut total = page.body.len();
    for (path, kind) in [
        ("/console.js", "text/javascript"),
        ("/console.css", "text/css"),
        ("/favicon.svg", "image/svg+xml"),
    ] {
        let reply = server.request("GET", path, &[], b"");
        assert_eq!(reply.status, 200, "{path}");
        assert!(reply.header("Content-Type").unwrap().starts_with(kind));
        assert!(
            page.body.contains(&path[1..]),
            "{path} is what the page loads"
        );
        total += reply.body.len();
    }
    assert!(total <= 100 * 1024, "first load {total} bytes");
    let script = server.request("GET", "/console.js", &[], b"").body;
    for storage in [
        "localStorage",
        "sessionStorage",
        "document.cookie",
        "innerHTML",
    ] {
        assert!(!script.contains(storage), "the console uses {storage}");
    }
    assert_eq!(server.request("POST", "/", &[], b"").status, 405);
}

#[test]
fn a_session_is_an_http_only_strict_cookie_and_needs_its_csrf_token() {
    let server = TestServer::start("console-session");
    let reply = sign_in(&server, &root_email(&server), &server.root_password);
    assert_eq!(reply.status, 200);
    let set = reply.header("Set-Cookie").unwrap();
    for part in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(set.split("; ").any(|p| p == part), "{part} in {set}");
    }
    let body = reply.json();
    assert_eq!(body["account_sid"], server.root_sid.as_str());
    assert_eq!(body["role"], "Administrator");
    assert!(!reply.body.contains(&server.root_password) && body.get("auth_token").is_none());
    let s = session(&server);
    let me = format!("/2012-04-24/Accounts/{}.json", server.root_sid);
    assert_eq!(with(&server, &s, "GET", &me, "").status, 200);

    // The cookie alone, as a form of another site sends it: refused, nothing made.
    let forged = server.request(
        "POST",
        "/2012-04-24/Accounts.json",
        &[("Cookie", &s.cookie)],
        b"EmailAddress=evil@example.com&Password=evil-pass1",
    );
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert!(forged.json()["message"]
        .as_str()
        .unwrap()
        .contains("X-CSRF-Token"));
    let wrong = [("Cookie", s.cookie.as_str()), ("X-CSRF-Token", "0000")];
    assert_eq!(server.request("GET", &me, &wrong, b"").status, 403);
    let foreign = [
        ("Cookie", s.cookie.as_str()),
        ("X-CSRF-Token", s.csrf.as_str()),
        ("Origin", "https://evil.example"),
    ];
    assert_eq!(
        server
            .request(
                "POST",
                "/2012-04-24/Accounts.json",
                &foreign,
                b"EmailAddress=e@x.y"
            )
            .status,
        403
    );
    let own_origin = format!("http://{}", server.http);
    let own = [
        ("Cookie", s.cookie.as_str()),
        ("X-CSRF-Token", s.csrf.as_str()),
        ("Origin", own_origin.as_str()),
    ];
    assert_eq!(server.request("GET", &me, &own, b"").status, 200);
    let evil = server.root("GET", "/2012-04-24/Accounts/evil@example.com.json", "");
    assert_eq!(evil.status, 404, "the forged post made nothing");

    // After a reload the page asks for its token again; after sign-out the cookie is dead.
    let again = server.request("GET", "/console/session", &[("Cookie", &s.cookie)], b"");
    assert_eq!(again.json()["csrf_token"], s.csrf.as_str());
    assert_eq!(
        with(&server, &s, "DELETE", "/console/session", "").status,
        200
    );
    let after = with(&server, &s, "GET", &me, "");
    assert_eq!(after.status, 401);
    assert_eq!(after.header("WWW-Authenticate"), None, "no browser dialog");
    let asked = server.request("GET", "/console/session", &[("Cookie", &s.cookie)], b"");
    assert_eq!(
        (asked.status, &asked.json()["signed_in"]),
        (200, &false.into())
    );
}

#[test]
fn a_password_change_or_a_suspension_ends_the_sessions_of_that_account() {
    let server = TestServer::start("console-end");
    let (sid, _) = server.create_account(&server.root_auth(), "tenant@example.com", "");
    let tenant = sign_in(&server, "tenant@example.com", "password1");
    let s = session_of(&tenant);
    let me = format!("/2012-04-24/Accounts/{sid}.json");
    assert_eq!(with(&server, &s, "GET", &me, "").status, 200);
    let changed = with(&server, &s, "POST", &me, "Password=another-pass2");
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(with(&server, &s, "GET", &me, "").status, 401);
    assert_eq!(
        sign_in(&server, "tenant@example.com", "another-pass2").status,
        200
    );

    let second = sign_in(&server, "tenant@example.com", "another-pass2");
    let s = session_of(&second);
    assert_eq!(server.root("POST", &me, "Status=suspended").status, 200);
    assert_eq!(with(&server, &s, "GET", &me, "").status, 401);
    assert_eq!(server.root("POST", &me, "Status=active").status, 200);
    assert_eq!(with(&server, &s, "GET", &me, "").status, 401, "still ended");
}

#[test]
fn polls_do_not_keep_an_idle_session_alive() {
    let dir = crate::support::unique_dir("console-idle");
    let server = TestServer::start_in(dir, r#"{"console": {"idle_secs": 2}}"#);
    let s = session(&server);
    let me = format!("/2012-04-24/Accounts/{}.json", server.root_sid);
    let poll = [
        ("Cookie", s.cookie.as_str()),
        ("X-CSRF-Token", s.csrf.as_str()),
        ("X-Console-Poll", "1"),
    ];
    let started = std::time::Instant::now();
    let mut last = 200;
    while started.elapsed() < std::time::Duration::from_millis(3500) {
        last = server.request("GET", &me, &poll, b"").status;
        if last != 200 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    assert_eq!(last, 401, "polled for {:?}", started.elapsed());
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
}

#[test]
fn failed_sign_ins_are_logged_and_limited_like_basic_failures() {
    let server = TestServer::start("console-limit");
    let unknown = sign_in(&server, "nobody@example.com", "whatever1");
    let email = root_email(&server);
    let wrong = sign_in(&server, &email, "wrong-pass1");
    assert_eq!((unknown.status, wrong.status), (401, 401));
    assert_eq!(unknown.body, wrong.body, "the same answer for both");
    assert_eq!(wrong.header("Set-Cookie"), None);
    assert_eq!(wrong.header("WWW-Authenticate"), None, "no browser dialog");
    assert!(server
        .log()
        .contains(&format!("api auth failed: user={email} source=127.0.0.1:")));
    for _ in 0..8 {
        sign_in(&server, &email, "wrong-pass1");
    }
    let blocked = sign_in(&server, &email, &server.root_password);
    assert_eq!(blocked.status, 429, "{}", blocked.body);
    let basic_too = server.root("GET", "/2012-04-24/Accounts.json", "");
    assert_eq!(basic_too.status, 429, "one limit per address");
}

#[test]
fn the_box_shows_its_facts_and_the_root_alone_sees_failed_logins() {
    let server = TestServer::start("console-box");
    assert_eq!(sign_in(&server, "mallory", "guess-pass1").status, 401);
    let reply = server.root("GET", "/2012-04-24/Box.json", "");
    assert_eq!(reply.status, 200, "{}", reply.body);
    let facts = reply.json();
    assert_eq!(facts["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(facts["listeners"]["http"], server.http.to_string().as_str());
    assert_eq!(facts["listeners"]["sip"], server.sip.to_string().as_str());
    let pin = std::fs::read_to_string(server.dir.join("data/initial-credentials")).unwrap();
    let fingerprint = facts["tls_sha256"].as_str().unwrap();
    assert!(pin.contains(&format!("tls_sha256={fingerprint}")));
    let failures = facts["recent_auth_failures"].as_array().unwrap();
    assert!(failures[0]["line"]
        .as_str()
        .unwrap()
        .starts_with("api auth failed: user=mallory source=127.0.0.1:"));

    let (sid, token) = server.create_account(
        &server.root_auth(),
        "tenant@example.com",
        "&Role=Administrator",
    );
    let tenant = server.request(
        "GET",
        "/2012-04-24/Box.json",
        &[("Authorization", &basic(&sid, &token))],
        b"",
    );
    assert_eq!(tenant.status, 200);
    assert!(tenant.json().get("recent_auth_failures").is_none());
    assert!(tenant.json()["tls_sha256"].is_string());
    let xml = server.root("GET", "/2012-04-24/Box", "");
    assert!(xml.body.contains("<RecentAuthFailures><Failure><Date>"));
    assert_eq!(
        server
            .request("GET", "/2012-04-24/Box.json", &[], b"")
            .status,
        401
    );
}
