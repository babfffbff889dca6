//! The permission matrix (issue #7 item 6, issue #18 item 6): in a tree of accounts spread
//! over two organizations, no account can read or change anything outside its own subtree,
//! on any route and with any method, and the answer is always 404, as if the resource did not
//! exist; no account but the root sees or touches another organization. Afterwards every
//! resource, and every organization, is as it was.

use crate::support::{basic, sid_of, TestServer};

struct Node {
    name: &'static str,
    sid: String,
    auth: String,
    client: String,
}

/// Every route and method that names an account (and a client of it), with a body that would
/// change something if it were let through.
fn requests(account: &str, client: &str) -> Vec<(&'static str, String, &'static str)> {
    let acc = format!("/2012-04-24/Accounts/{account}");
    let cl = format!("{acc}/Clients/{client}");
    vec![
        ("GET", format!("{acc}.json"), ""),
        ("GET", acc.clone(), ""),
        ("POST", format!("{acc}.json"), "FriendlyName=hijacked"),
        ("PUT", format!("{acc}.json"), "Status=suspended"),
        ("POST", format!("{acc}.json"), "Password=Hijacked99"),
        ("DELETE", format!("{acc}.json"), ""),
        ("GET", format!("{acc}/Clients.json"), ""),
        (
            "POST",
            format!("{acc}/Clients.json"),
            "Login=intruder&Password=intruder-1",
        ),
        ("GET", format!("{acc}/Registrations.json"), ""),
        ("GET", format!("{cl}.json"), ""),
        ("POST", format!("{cl}.json"), "Password=hijacked-2"),
        ("PUT", format!("{cl}.json"), "Status=0"),
        ("DELETE", format!("{cl}.json"), ""),
        ("GET", format!("{cl}/Registrations.json"), ""),
    ]
}

/// What root sees of every account and client, and of the organizations: the state that must
/// not change.
fn snapshot(server: &TestServer, nodes: &[Node]) -> Vec<String> {
    let organizations = server.root("GET", "/2012-04-24/Organizations.json", "");
    assert_eq!(organizations.status, 200, "{}", organizations.body);
    let mut seen = vec![organizations.body];
    for node in nodes {
        for path in [
            format!("/2012-04-24/Accounts/{}.json", node.sid),
            format!("/2012-04-24/Accounts/{}/Clients.json", node.sid),
        ] {
            let reply = server.root("GET", &path, "");
            assert_eq!(reply.status, 200, "{path}: {}", reply.body);
            seen.push(reply.body);
        }
    }
    seen
}

/// What an account other than the root gets when it reaches for the organization it is not
/// in (`other`): never seen (404), never created in, listed from or migrated to (403), while
/// its own organization (`own`) is the one it sees. Returns the number of requests checked.
fn check_other_organization(
    server: &TestServer,
    actor: &Node,
    own: &(String, String),
    other: &(String, String),
) -> usize {
    let send = |method: &str, path: &str, body: &str| {
        let auth = [("Authorization", actor.auth.as_str())];
        server.request(method, path, &auth, body.as_bytes())
    };
    let listed = send("GET", "/2012-04-24/Organizations.json", "");
    assert_eq!(listed.status, 200, "{}: {}", actor.name, listed.body);
    let seen: Vec<serde_json::Value> = listed.json().as_array().unwrap().to_vec();
    assert_eq!(seen.len(), 1, "{} lists {seen:?}", actor.name);
    assert_eq!(seen[0]["sid"], own.0.as_str(), "{}", actor.name);
    let create = format!(
        "EmailAddress=x-{}%40t.test&Password=Passw0rd-x&OrganizationSid={}",
        actor.name, other.0
    );
    let migrate = format!("Organization={}", other.0);
    let cases = [
        (
            "GET",
            format!("/2012-04-24/Organizations/{}.json", other.0),
            "",
            404,
        ),
        (
            "GET",
            format!("/2012-04-24/Organizations/{}", other.1),
            "",
            404,
        ),
        (
            "PUT",
            "/2012-04-24/Organizations/evil.test.json".to_string(),
            "",
            403,
        ),
        (
            "POST",
            "/2012-04-24/Accounts.json".to_string(),
            create.as_str(),
            403,
        ),
        (
            "POST",
            format!("/2012-04-24/Accounts/migrate/{}.json", actor.sid),
            migrate.as_str(),
            403,
        ),
    ];
    for (method, path, body, status) in &cases {
        let reply = send(method, path, body);
        assert_eq!(
            reply.status, *status,
            "{} {method} {path}: {}",
            actor.name, reply.body
        );
    }
    cases.len() + 1
}

#[test]
fn no_account_reaches_outside_its_subtree_on_any_route() {
    let server = TestServer::start("permission-matrix");
    let root_auth = server.root_auth();
    // root ─┬─ a (Administrator) ─┬─ a1 (Developer)
    //       │                     └─ a2 (Administrator) ── a3 (Developer)
    //       ├─ b (ProvisioningAgent)
    //       └─ c (Administrator, organization tenant.test) ── c1 (Administrator)
    let tenant = server.root("PUT", "/2012-04-24/Organizations/tenant.test.json", "");
    assert_eq!(tenant.status, 200, "{}", tenant.body);
    let tenant = sid_of(&tenant.json());
    let (a, a_token) = server.create_account(&root_auth, "a%40t.test", "&Role=Administrator");
    let a_auth = basic(&a, &a_token);
    let (a1, a1_token) = server.create_account(&a_auth, "a1%40t.test", "&Role=Developer");
    let (a2, a2_token) = server.create_account(&a_auth, "a2%40t.test", "&Role=Administrator");
    let a2_auth = basic(&a2, &a2_token);
    let (a3, a3_token) = server.create_account(&a2_auth, "a3%40t.test", "&Role=Developer");
    let (b, b_token) = server.create_account(&root_auth, "b%40t.test", "&Role=ProvisioningAgent");
    let in_tenant = format!("&Role=Administrator&OrganizationSid={tenant}");
    let (c, c_token) = server.create_account(&root_auth, "c%40tenant.test", &in_tenant);
    let c_auth = basic(&c, &c_token);
    let (c1, c1_token) = server.create_account(&c_auth, "c1%40tenant.test", "&Role=Administrator");
    let node = |name, sid: &str, auth: String| Node {
        name,
        sid: sid.to_string(),
        auth,
        client: sid_of(&server.create_client(
            sid,
            &format!("phone-{name}"),
            &format!("secret-phone-{name}"),
        )),
    };
    let nodes = vec![
        node("root", &server.root_sid, root_auth.clone()),
        node("a", &a, a_auth.clone()),
        node("a1", &a1, basic(&a1, &a1_token)),
        node("a2", &a2, a2_auth),
        node("a3", &a3, basic(&a3, &a3_token)),
        node("b", &b, basic(&b, &b_token)),
        node("c", &c, c_auth),
        node("c1", &c1, basic(&c1, &c1_token)),
    ];
    // Who may reach whom: an account and its descendants.
    let subtree = |actor: &str| -> &[&str] {
        match actor {
            "root" => &["root", "a", "a1", "a2", "a3", "b", "c", "c1"],
            "a" => &["a", "a1", "a2", "a3"],
            "a1" => &["a1"],
            "a2" => &["a2", "a3"],
            "a3" => &["a3"],
            "b" => &["b"],
            "c" => &["c", "c1"],
            "c1" => &["c1"],
            _ => unreachable!(),
        }
    };
    // (sid, domain) of the default organization and the tenant's.
    let listed = server
        .root("GET", "/2012-04-24/Organizations.json", "")
        .json();
    let default_org = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["default"] == true);
    let default_org = default_org.expect("a default organization").clone();
    let orgs = [
        (
            sid_of(&default_org),
            default_org["domain_name"].as_str().unwrap().to_string(),
        ),
        (tenant.clone(), "tenant.test".to_string()),
    ];
    let before = snapshot(&server, &nodes);
    let mut checked = 0;
    for actor in &nodes {
        let reach = subtree(actor.name);
        for target in nodes.iter().filter(|t| !reach.contains(&t.name)) {
            // The target's own account and client; then the actor's own account with the
            // target's client in it (a foreign client reached through one's own path).
            let mut cases = requests(&target.sid, &target.client);
            cases.extend(
                requests(&actor.sid, &target.client)
                    .into_iter()
                    .filter(|(_, path, _)| path.contains("/Clients/")),
            );
            for (method, path, body) in cases {
                let reply = server.request(
                    method,
                    &path,
                    &[("Authorization", &actor.auth)],
                    body.as_bytes(),
                );
                assert_eq!(
                    reply.status, 404,
                    "{} {method} {path} ({}): {}",
                    actor.name, target.name, reply.body
                );
                checked += 1;
            }
        }
        if actor.name != "root" {
            let (own, other) = if actor.name.starts_with('c') {
                (&orgs[1], &orgs[0])
            } else {
                (&orgs[0], &orgs[1])
            };
            checked += check_other_organization(&server, actor, own, other);
        }
        // Lists show the caller's descendants (SPEC §1: not the caller itself) and nothing else.
        let list = server.request(
            "GET",
            "/2012-04-24/Accounts.json?PageSize=1000",
            &[("Authorization", &actor.auth)],
            b"",
        );
        if list.status == 403 {
            // Only Administrators list sub-accounts (a role rule that names nobody).
            assert!(!list.body.contains("AC"), "{}", list.body);
            continue;
        }
        assert_eq!(list.status, 200, "{}", list.body);
        let listed: Vec<String> = list.json()["accounts"]
            .as_array()
            .unwrap_or_else(|| panic!("no accounts array: {}", list.body))
            .iter()
            .map(|account| account["sid"].as_str().unwrap().to_string())
            .collect();
        for other in &nodes {
            assert_eq!(
                listed.contains(&other.sid),
                reach.contains(&other.name) && other.name != actor.name,
                "{} lists {}: {listed:?}",
                actor.name,
                other.name
            );
        }
    }
    assert!(checked > 300, "only {checked} requests checked");
    assert_eq!(
        before,
        snapshot(&server, &nodes),
        "something outside a subtree changed"
    );
}

#[test]
fn api_brute_force_is_refused_per_address_with_429() {
    let server = TestServer::start_in(
        crate::support::unique_dir("api-brute-force"),
        r#"{"http": {"listen": "[::]:0"}, "auth": {"max_failures": 5}}"#,
    );
    let attacker = std::net::SocketAddr::new("127.0.0.1".parse().unwrap(), server.http.port());
    let neighbour = std::net::SocketAddr::new("::1".parse().unwrap(), server.http.port());
    let path = format!("/2012-04-24/Accounts/{}.json", server.root_sid);
    let get = |to, auth: &str| {
        let bytes =
            crate::support::request_bytes(to, "GET", &path, &[("Authorization", auth)], b"");
        crate::support::send_http(to, &bytes).status
    };
    for guess in 0..5 {
        let wrong = basic(&server.root_sid, &format!("{guess:032x}"));
        assert_eq!(get(attacker, &wrong), 401, "guess {guess}");
    }
    // Over the limit: refused before the password is even looked at, right or wrong.
    assert_eq!(get(attacker, &basic(&server.root_sid, "x")), 429);
    assert_eq!(get(attacker, &server.root_auth()), 429);
    // Another address is not affected.
    assert_eq!(get(neighbour, &server.root_auth()), 200);
}
