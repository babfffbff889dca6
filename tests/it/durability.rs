//! Crash-only durability: every acknowledged write survives SIGKILL with its indexes intact.

use crate::support::{assert_store_consistent, basic, TestServer};

#[test]
fn acknowledged_writes_survive_kill_9() {
    let server = TestServer::start("durability");
    let mut created = Vec::new();
    for n in 0..20 {
        let reply = server.root(
            "POST",
            "/2012-04-24/Accounts.json",
            &format!("EmailAddress=d{n}%40example.com&Password=password{n}"),
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        created.push(reply.json());
    }
    let parent_sid = created[0]["sid"].as_str().unwrap().to_string();
    let parent_token = created[0]["auth_token"].as_str().unwrap().to_string();
    let child = server.request(
        "POST",
        "/2012-04-24/Accounts.json",
        &[("Authorization", &basic(&parent_sid, &parent_token))],
        b"EmailAddress=grandchild%40example.com&Password=password99",
    );
    assert_eq!(child.status, 200, "{}", child.body);
    let rotated = server.root(
        "POST",
        &format!(
            "/2012-04-24/Accounts/{}.json",
            created[1]["sid"].as_str().unwrap()
        ),
        "Password=rotated123",
    );
    assert_eq!(rotated.status, 200);
    let new_token = rotated.json()["auth_token"].as_str().unwrap().to_string();
    let suspended = server.root(
        "POST",
        &format!("/2012-04-24/Accounts/{parent_sid}.json"),
        "Status=suspended",
    );
    assert_eq!(suspended.status, 200);
    // Kill at once after the last 2xx: nothing gets a chance to flush in the background.
    let dir = server.kill9();

    assert_store_consistent(&dir);

    let server = TestServer::start_in(dir, "{}");
    let list = server.root("GET", "/2012-04-24/Accounts.json", "");
    let emails: Vec<String> = list
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["email_address"].as_str().unwrap().to_string())
        .collect();
    let mut expected: Vec<String> = (0..20).map(|n| format!("d{n}@example.com")).collect();
    expected.insert(20, "grandchild@example.com".to_string());
    assert_eq!(emails, expected, "all accounts, oldest first");
    for (n, account) in created.iter().enumerate() {
        // The email index survived: look each one up by email.
        let reply = server.root(
            "GET",
            &format!("/2012-04-24/Accounts/d{n}%40example.com.json"),
            "",
        );
        assert_eq!(reply.status, 200);
        assert_eq!(reply.json()["sid"], account["sid"]);
    }
    let grandchild = server.root(
        "GET",
        "/2012-04-24/Accounts/grandchild%40example.com.json",
        "",
    );
    assert_eq!(
        grandchild.json()["status"],
        "suspended",
        "the cascade survived"
    );
    assert_eq!(grandchild.json()["owner_account_sid"], parent_sid.as_str());
    let rotated_sid = created[1]["sid"].as_str().unwrap();
    let me = format!("/2012-04-24/Accounts/{rotated_sid}.json");
    assert_eq!(
        server
            .request(
                "GET",
                &me,
                &[("Authorization", &basic(rotated_sid, &new_token))],
                b""
            )
            .status,
        200
    );
    let old_token = created[1]["auth_token"].as_str().unwrap();
    assert_eq!(
        server
            .request(
                "GET",
                &me,
                &[("Authorization", &basic(rotated_sid, old_token))],
                b""
            )
            .status,
        401
    );
}

#[test]
fn sigterm_right_after_a_2xx_loses_nothing() {
    let server = TestServer::start("sigterm");
    let root = server.root_sid.clone();
    let mut logins = Vec::new();
    for n in 0..10 {
        let login = format!("term{n}");
        server.create_client(&root, &login, &format!("phone-pass{n}"));
        logins.push(login);
    }
    // No signal handler: SIGTERM ends the process at once. Crash-only is safe because every
    // 2xx followed a flush.
    let dir = server.terminate();
    let server = TestServer::start_in(dir, "{}");
    let list = server
        .root(
            "GET",
            &format!("/2012-04-24/Accounts/{root}/Clients.json"),
            "",
        )
        .json();
    let found: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["login"].as_str().unwrap())
        .collect();
    assert_eq!(found, logins);
}
