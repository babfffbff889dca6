//! The permission matrix (issue #7 item 6): in a tree of accounts, no account can read or
//! change anything outside its own subtree, on any route and with any method, and the answer
//! is always 404, as if the resource did not exist. Afterwards every resource is as it was.

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

/// What root sees of every account and client: the state that must not change.
fn snapshot(server: &TestServer, nodes: &[Node]) -> Vec<String> {
    let mut seen = Vec::new();
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

#[test]
fn no_account_reaches_outside_its_subtree_on_any_route() {
    let server = TestServer::start("permission-matrix");
    let root_auth = server.root_auth();
    // root ─┬─ a (Administrator) ─┬─ a1 (Developer)
    //       │                     └─ a2 (Administrator) ── a3 (Developer)
    //       └─ b (ProvisioningAgent)
    let (a, a_token) = server.create_account(&root_auth, "a%40t.test", "&Role=Administrator");
    let a_auth = basic(&a, &a_token);
    let (a1, a1_token) = server.create_account(&a_auth, "a1%40t.test", "&Role=Developer");
    let (a2, a2_token) = server.create_account(&a_auth, "a2%40t.test", "&Role=Administrator");
    let a2_auth = basic(&a2, &a2_token);
    let (a3, a3_token) = server.create_account(&a2_auth, "a3%40t.test", "&Role=Developer");
    let (b, b_token) = server.create_account(&root_auth, "b%40t.test", "&Role=ProvisioningAgent");
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
    ];
    // Who may reach whom: an account and its descendants.
    let subtree = |actor: &str| -> &[&str] {
        match actor {
            "root" => &["root", "a", "a1", "a2", "a3", "b"],
            "a" => &["a", "a1", "a2", "a3"],
            "a1" => &["a1"],
            "a2" => &["a2", "a3"],
            "a3" => &["a3"],
            "b" => &["b"],
            _ => unreachable!(),
        }
    };
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
