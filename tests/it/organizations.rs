//! Organizations over the real binary: one SIP domain each, the same login in two of them,
//! phones registering to their own domain over UDP and TCP, the API's rules, migration with
//! registered phones, and the upgrade of a data directory made by the release before them.

use crate::support::{
    assert_store_consistent, basic, sid_of, sip_status, unique_dir, Phone, TestServer,
};

const CONFIG: &str = r#"{"sip": {"realm": "pbx.test"}}"#;

fn start(name: &str) -> TestServer {
    TestServer::start_in(unique_dir(name), CONFIG)
}

fn phone_at(server: &TestServer, tcp: bool, domain: &str, user: &str, pass: &str) -> Phone {
    let mut phone = if tcp {
        Phone::tcp(server, user, pass)
    } else {
        Phone::udp(server, user, pass)
    };
    phone.domain = domain.to_string();
    phone
}

fn register(phone: &mut Phone) -> String {
    let contact = phone.contact("");
    phone.register(&contact)
}

/// Creates the organization of `domain` as root; returns its SID.
fn organization(server: &TestServer, domain: &str) -> String {
    let reply = server.root(
        "PUT",
        &format!("/2012-04-24/Organizations/{domain}.json"),
        "",
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["domain_name"], domain.to_ascii_lowercase());
    sid_of(&reply.json())
}

#[test]
fn organizations_are_created_by_the_root_alone_and_seen_by_their_own() {
    let server = start("org-api");
    let list = server.root("GET", "/2012-04-24/Organizations.json", "");
    assert_eq!(list.status, 200);
    let default = list.json()[0].clone();
    assert_eq!(
        (
            default["domain_name"].as_str(),
            default["default"].as_bool()
        ),
        (Some("pbx.test"), Some(true))
    );
    let tenant = organization(&server, "Tenant.Test");
    assert!(tenant.starts_with("OR") && tenant.len() == 34);
    for (name, status) in [
        ("tenant.test", 409),
        ("TENANT.test", 409),
        ("bad_name", 400),
        ("10.0.0.1", 400),
        ("-x.test", 400),
    ] {
        let reply = server.root("PUT", &format!("/2012-04-24/Organizations/{name}.json"), "");
        assert_eq!(reply.status, status, "{name}: {}", reply.body);
    }
    let xml = server.root("GET", "/2012-04-24/Organizations/tenant.test", "");
    assert!(xml.body.starts_with(&format!("<RestcommResponse><Organization><Sid>{tenant}</Sid><DomainName>tenant.test</DomainName>")), "{}", xml.body);

    // A top-level Administrator placed in the tenant's organization sees only that one.
    let form = format!("&Role=Administrator&OrganizationSid={tenant}");
    let (admin, token) = server.create_account(&server.root_auth(), "t@tenant.test", &form);
    let auth = basic(&admin, &token);
    let get = |path: &str| server.request("GET", path, &[("Authorization", &auth)], b"");
    let own = get("/2012-04-24/Organizations.json").json();
    assert_eq!(own.as_array().unwrap().len(), 1);
    assert_eq!(own[0]["sid"], tenant.as_str());
    let default_sid = default["sid"].as_str().unwrap();
    assert_eq!(
        get(&format!("/2012-04-24/Organizations/{default_sid}.json")).status,
        404
    );
    assert_eq!(get("/2012-04-24/Organizations/pbx.test.json").status, 404);
    let put = server.request(
        "PUT",
        "/2012-04-24/Organizations/x.test",
        &[("Authorization", &auth)],
        b"",
    );
    assert_eq!(put.status, 403);
    assert_eq!(
        get("/2012-04-24/Box.json").json()["sip_domain"],
        "tenant.test"
    );

    // OrganizationSid on a create: its own is fine, another is 403; a child stays in its
    // parent's organization even for the root (400); malformed and unknown are 400.
    let create = |auth: &str, parent: &str, email: &str, org: &str| {
        let body = format!("EmailAddress={email}&Password=password1&OrganizationSid={org}");
        server.request(
            "POST",
            &format!("/2012-04-24/Accounts/{parent}.json"),
            &[("Authorization", auth)],
            body.as_bytes(),
        )
    };
    let child = create(&auth, &admin, "c@tenant.test", &tenant);
    assert_eq!(child.status, 200, "{}", child.body);
    assert_eq!(child.json()["organization_sid"], tenant.as_str());
    assert_eq!(
        create(&auth, &admin, "d@tenant.test", default_sid).status,
        403
    );
    assert_eq!(
        create(&server.root_auth(), &admin, "e@tenant.test", default_sid).status,
        400
    );
    assert_eq!(
        create(
            &server.root_auth(),
            &server.root_sid,
            "f@x.test",
            "ORnothex"
        )
        .status,
        400
    );
    let unknown = format!("OR{}", "0".repeat(32));
    assert_eq!(
        create(&server.root_auth(), &server.root_sid, "g@x.test", &unknown).status,
        400
    );

    // Listing by organization: the root's filter; another Administrator only its own.
    let filtered = server.root(
        "GET",
        &format!("/2012-04-24/Accounts.json?OrganizationSid={tenant}"),
        "",
    );
    let emails: Vec<_> = filtered
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["email_address"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(emails, ["t@tenant.test", "c@tenant.test"]);
    assert_eq!(
        get(&format!(
            "/2012-04-24/Accounts.json?OrganizationSid={default_sid}"
        ))
        .status,
        403
    );
    assert_eq!(
        get(&format!("/2012-04-24/Accounts/{}.json", server.root_sid)).status,
        404
    );
    assert_store_consistent(&server.terminate());
}

#[test]
fn the_same_login_registers_in_two_organizations_each_to_its_own_domain() {
    let server = start("org-sip");
    let tenant = organization(&server, "tenant.test");
    let form = format!("&Role=Administrator&OrganizationSid={tenant}");
    let (admin, _) = server.create_account(&server.root_auth(), "t@tenant.test", &form);
    let home = server.create_client(&server.root_sid, "alice", "home-pass1");
    let away = server.create_client(&admin, "alice", "away-pass1");
    assert_eq!(
        (home["sip_domain"].as_str(), away["sip_domain"].as_str()),
        (Some("pbx.test"), Some("tenant.test"))
    );
    let again = server.root(
        "POST",
        &format!("/2012-04-24/Accounts/{admin}/Clients.json"),
        "Login=alice&Password=third-pass1",
    );
    assert_eq!(again.status, 409, "{}", again.body);
    for tcp in [false, true] {
        let mut one = phone_at(&server, tcp, "pbx.test", "alice", "home-pass1");
        assert_eq!(sip_status(&register(&mut one)), 200);
        let mut two = phone_at(&server, tcp, "tenant.test", "alice", "away-pass1");
        let challenge = two.call("REGISTER", &two.contact(""));
        assert!(challenge.contains("realm=\"tenant.test\""), "{challenge}");
        assert_eq!(sip_status(&register(&mut two)), 200);
        // Each password only in its own realm.
        let mut wrong = phone_at(&server, tcp, "tenant.test", "alice", "home-pass1");
        assert_eq!(sip_status(&register(&mut wrong)), 401);
    }
    let count = |account: &str| {
        server
            .root(
                "GET",
                &format!("/2012-04-24/Accounts/{account}/Registrations.json"),
                "",
            )
            .json()
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!((count(&server.root_sid), count(&admin)), (2, 2));
    assert_store_consistent(&server.terminate());
}

#[test]
fn a_migration_keeps_phones_registering_until_their_clients_get_new_passwords() {
    let server = start("org-migrate");
    organization(&server, "tenant.test");
    let (moving, token) =
        server.create_account(&server.root_auth(), "m@pbx.test", "&Role=Administrator");
    let (below, _) = server.create_account(&basic(&moving, &token), "b@pbx.test", "");
    let carol = sid_of(&server.create_client(&below, "carol", "carol-pass1"));
    let mut desk = phone_at(&server, false, "pbx.test", "carol", "carol-pass1");
    assert_eq!(sip_status(&register(&mut desk)), 200);

    let path = format!("/2012-04-24/Accounts/migrate/{moving}.json");
    let as_moving = server.request(
        "POST",
        &path,
        &[("Authorization", &basic(&moving, &token))],
        b"Organization=tenant.test",
    );
    assert_eq!(as_moving.status, 403);
    assert_eq!(server.root("POST", &path, "").status, 412);
    assert_eq!(
        server
            .root(
                "POST",
                &format!("/2012-04-24/Accounts/migrate/AC{}.json", "0".repeat(32)),
                "Organization=tenant.test"
            )
            .status,
        404
    );
    assert_eq!(
        server
            .root(
                "POST",
                &format!("/2012-04-24/Accounts/migrate/{below}.json"),
                "Organization=tenant.test"
            )
            .status,
        400
    );
    assert_eq!(
        server
            .root("POST", &path, "Organization=nowhere.test")
            .status,
        400
    );
    let moved = server.root("POST", &path, "Organization=tenant.test");
    assert_eq!(moved.status, 200, "{}", moved.body);
    let moved = moved.json();
    assert_eq!(moved["migrated_accounts"], 2);
    assert_eq!(moved["clients_needing_password"][0]["sid"], carol.as_str());
    assert_eq!(
        server
            .root("POST", &path, "Organization=tenant.test")
            .status,
        400
    );
    let below_now = server
        .root("GET", &format!("/2012-04-24/Accounts/{below}.json"), "")
        .json();
    assert_eq!(below_now["organization_sid"], moved["organization_sid"]);

    // The phone on the desk goes on registering at the old domain, unchanged; at the new one
    // it is told why it is refused.
    assert_eq!(sip_status(&register(&mut desk)), 200);
    let mut fresh = phone_at(&server, true, "tenant.test", "carol", "carol-pass1");
    let refused = register(&mut fresh);
    assert_eq!(sip_status(&refused), 403, "{refused}");
    assert!(
        refused.contains("Warning: 399") && refused.contains("new password"),
        "{refused}"
    );

    // A new password moves it for good: the new domain works, the old one no longer.
    let client = format!("/2012-04-24/Accounts/{below}/Clients/{carol}.json");
    let updated = server.root("POST", &client, "Password=carol-pass2");
    assert_eq!(updated.json()["sip_domain"], "tenant.test");
    let mut fresh = phone_at(&server, true, "tenant.test", "carol", "carol-pass2");
    assert_eq!(sip_status(&register(&mut fresh)), 200);
    let mut stale = phone_at(&server, false, "pbx.test", "carol", "carol-pass2");
    assert_eq!(sip_status(&register(&mut stale)), 401);
    // The default organization's login is free again.
    server.create_client(&server.root_sid, "carol", "other-pass1");
    assert_store_consistent(&server.terminate());
}

/// A data directory made by the release before organizations (tests/fixtures/release-1,
/// by scripts/make-upgrade-fixture.sh) opens unchanged, everything in the default organization,
/// and moves to small segments on the way.
#[test]
fn a_data_directory_and_an_export_of_the_previous_release_open_unchanged() {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/release-1");
    let facts = std::fs::read_to_string(fixture.join("facts.env")).unwrap();
    let fact = |name: &str| {
        facts
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap()
            .to_string()
    };
    let dir = unique_dir("org-upgrade");
    let copy = std::process::Command::new("cp")
        .arg("-r")
        .arg(fixture.join("data"))
        .arg(dir.join("data"))
        .status()
        .unwrap();
    assert!(copy.success());
    let server = TestServer::start_in(dir, CONFIG);
    assert_eq!(server.root_sid, fact("root_sid"));
    let list = server.root("GET", "/2012-04-24/Accounts.json", "").json();
    let orgs = server
        .root("GET", "/2012-04-24/Organizations.json", "")
        .json();
    assert_eq!(orgs.as_array().unwrap().len(), 1);
    let default = orgs[0]["sid"].as_str().unwrap();
    assert_eq!(list.as_array().unwrap().len(), 4);
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["organization_sid"] == default));
    let held = server
        .root(
            "GET",
            &format!("/2012-04-24/Accounts/{}.json", fact("held")),
            "",
        )
        .json();
    assert_eq!(held["status"], "suspended");
    // The old password registers (the fixture's binding has long expired), and the
    // disabled client stays refused.
    let dev = fact("dev");
    let mut alice = Phone::udp(&server, "alice", "alicepass1");
    assert_eq!(sip_status(&register(&mut alice)), 200);
    let mut bob = Phone::udp(&server, "bob", "bobpass123");
    assert_eq!(sip_status(&register(&mut bob)), 403);
    let tenant = basic("tenant@example.com", "tenantpass1");
    let own = server.request(
        "GET",
        &format!("/2012-04-24/Accounts/{dev}.json"),
        &[("Authorization", &tenant)],
        b"",
    );
    assert_eq!(own.status, 200);
    let dir = server.terminate();
    assert_store_consistent(&dir);
    // It was moved from sled's 512 KiB segments to the small ones at open (flash wear).
    let conf = std::fs::read(dir.join("data/db/conf")).unwrap();
    assert!(String::from_utf8_lossy(&conf).contains("segment_size: 32768"));
    assert!(!dir.join("data/db.new").exists() && !dir.join("data/db.old").exists());

    // The old export (format version 1) imports into an empty directory and checks clean.
    let fresh = unique_dir("org-upgrade-import");
    let out = crate::support::edgecomm()
        .args([
            "import",
            fixture.join("export.json").to_str().unwrap(),
            "--sip-realm",
            "pbx.test",
        ])
        .arg("--data-dir")
        .arg(fresh.join("data"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let check = crate::support::edgecomm()
        .args(["check", "--sip-realm", "pbx.test", "--data-dir"])
        .arg(fresh.join("data"))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
}
