//! Domain tests on a temporary store: value types, the hierarchy, roles and every rule of the
//! status cascade. Each scenario ends with the store's invariant check.

use crate::domain::accounts::{self, AccountChanges, Limits, NewAccount};
use crate::domain::{rfc2822, AccountSid, Email, FriendlyName, Password, Role, Status};
use crate::error::Error;
use crate::store::records::AccountRecord;
use crate::store::{check, Store};

const NOW: i64 = 1_700_000_000;
const LIMITS: Limits = Limits { max_depth: 16 };

struct World {
    store: Store,
    root: AccountRecord,
}

impl World {
    fn new() -> World {
        let store = Store::open_temporary().unwrap();
        let root = accounts::create_root(
            &store,
            &Email::parse("admin@localhost").unwrap(),
            &Password::parse("rootpass123").unwrap(),
            NOW,
        )
        .unwrap()
        .account;
        World { store, root }
    }

    fn create(&self, parent: &AccountRecord, email: &str, role: Role) -> AccountRecord {
        self.try_create(parent, email, role, None).unwrap()
    }

    fn try_create(
        &self,
        parent: &AccountRecord,
        email: &str,
        role: Role,
        status: Option<Status>,
    ) -> Result<AccountRecord, Error> {
        let new = NewAccount {
            email: Email::parse(email).unwrap(),
            password: Password::parse("password1").unwrap(),
            friendly_name: None,
            role: Some(role),
            status,
        };
        accounts::create(&self.store, parent, new, LIMITS, NOW).map(|issued| issued.account)
    }

    fn set_status(
        &self,
        caller: &AccountRecord,
        target: &AccountRecord,
        status: Status,
    ) -> Result<(), Error> {
        let changes = AccountChanges {
            status: Some(status),
            ..AccountChanges::default()
        };
        accounts::update(
            &self.store,
            caller,
            &target.sid.to_string(),
            changes,
            NOW + 1,
        )
        .map(|_| ())
    }

    fn status(&self, record: &AccountRecord) -> Status {
        self.store.account(&record.sid).unwrap().unwrap().status
    }

    #[track_caller]
    fn assert_consistent(&self) {
        let problems = check::run(&self.store).unwrap();
        assert!(problems.is_empty(), "store check: {problems:#?}");
    }
}

#[test]
fn value_types_parse_only_valid_input() {
    let sid = AccountSid::random().unwrap();
    assert_eq!(AccountSid::parse(&sid.to_string()), Some(sid));
    assert_eq!(sid.to_string().len(), 34);
    assert!(AccountSid::parse("AC0123").is_none());
    assert!(AccountSid::parse(&sid.to_string().to_uppercase()).is_none());
    assert!(AccountSid::parse(&format!("CL{}", &sid.to_string()[2..])).is_none());

    assert!(Email::parse("jane.doe+pbx@example.co").is_ok());
    assert!(Email::parse("admin@localhost").is_ok());
    for bad in [
        "",
        "jane",
        "@example.com",
        "jane@",
        "ja ne@x.com",
        "a@b@c",
        "a@.com",
        "a@x..com",
    ] {
        assert!(Email::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(
        Email::parse("Jane@Example.COM").unwrap().key(),
        "jane@example.com"
    );

    assert!(Password::parse("abcdefg1").is_ok());
    for weak in ["short1", "abcdefgh", "12345678", "abcdefg\u{1}1"] {
        assert!(Password::parse(weak).is_err(), "{weak}");
    }
    assert!(Password::parse(&"a1".repeat(65)).is_err());
    assert!(
        Password::parse("alice-secret").is_err(),
        "accounts need a digit"
    );
    assert!(
        Password::parse_sip("alice-secret").is_ok(),
        "SIP passwords need two classes"
    );
    assert!(Password::parse_sip("pw-u00001").is_ok());
    for weak in ["abcdefgh", "12345678", "--------", "short-1"] {
        assert!(Password::parse_sip(weak).is_err(), "{weak}");
    }
    assert!(!format!("{:?}", Password::parse("secret123").unwrap()).contains("secret"));

    assert!(FriendlyName::parse(&"x".repeat(64)).is_ok());
    assert!(FriendlyName::parse(&"x".repeat(65)).is_err());
    assert!(FriendlyName::parse("").is_err());
    assert_eq!(Status::parse("Suspended").unwrap(), Status::Suspended);
    assert!(Status::parse("gone").is_err());
    assert_eq!(
        Role::parse("provisioningagent").unwrap(),
        Role::ProvisioningAgent
    );
    assert!(Role::parse("root").is_err());
}

#[test]
fn dates_are_rfc2822_like_restcomm() {
    assert_eq!(rfc2822(0), "Thu, 1 Jan 1970 00:00:00 +0000");
    assert_eq!(rfc2822(1_383_582_819), "Mon, 4 Nov 2013 16:33:39 +0000");
    assert_eq!(rfc2822(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
    assert_eq!(rfc2822(4_102_444_799), "Thu, 31 Dec 2099 23:59:59 +0000");
    assert_eq!(
        crate::domain::http_date(784_111_777),
        "Sun, 06 Nov 1994 08:49:37 GMT"
    );
    assert_eq!(
        crate::domain::http_date(1_383_582_819),
        "Mon, 04 Nov 2013 16:33:39 GMT"
    );
}

#[test]
fn sub_accounts_hang_under_their_creator() {
    let world = World::new();
    let child = world.create(&world.root, "child@example.com", Role::Administrator);
    let grandchild = world.create(&child, "grand@example.com", Role::Developer);
    assert_eq!(child.parent, Some(world.root.sid));
    assert_eq!(grandchild.parent, Some(child.sid));
    assert_eq!(grandchild.depth, 3);
    assert_eq!(child.friendly_name, "child@example.com");
    let listed: Vec<_> = accounts::list(&world.store, &world.root)
        .unwrap()
        .into_iter()
        .map(|a| a.sid)
        .collect();
    assert_eq!(listed, vec![child.sid, grandchild.sid]);
    let listed: Vec<_> = accounts::list(&world.store, &child)
        .unwrap()
        .into_iter()
        .map(|a| a.sid)
        .collect();
    assert_eq!(listed, vec![grandchild.sid]);
    world.assert_consistent();
}

#[test]
fn emails_are_unique_case_insensitively() {
    let world = World::new();
    world.create(&world.root, "dup@example.com", Role::Developer);
    let err = world
        .try_create(&world.root, "DUP@example.com", Role::Developer, None)
        .unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    let err = world
        .try_create(&world.root, "ADMIN@localhost", Role::Developer, None)
        .unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    let found = accounts::find(&world.store, &world.root, "Dup@Example.com").unwrap();
    assert_eq!(found.email, "dup@example.com");
    world.assert_consistent();
}

#[test]
fn only_administrators_create_and_depth_is_limited() {
    let world = World::new();
    let developer = world.create(&world.root, "dev@example.com", Role::Developer);
    let agent = world.create(&world.root, "agent@example.com", Role::ProvisioningAgent);
    for caller in [&developer, &agent] {
        let err = world
            .try_create(caller, "x@example.com", Role::Developer, None)
            .unwrap_err();
        assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
        assert!(matches!(
            accounts::list(&world.store, caller),
            Err(Error::Forbidden(_))
        ));
    }
    let mut parent = world.root.clone();
    for level in 2..=16 {
        parent = world.create(
            &parent,
            &format!("level{level}@example.com"),
            Role::Administrator,
        );
    }
    let err = world
        .try_create(&parent, "deep@example.com", Role::Developer, None)
        .unwrap_err();
    assert!(matches!(err, Error::Invalid(_)), "{err:?}");
    let err = world
        .try_create(
            &world.root,
            "closed@example.com",
            Role::Developer,
            Some(Status::Closed),
        )
        .unwrap_err();
    assert!(matches!(err, Error::Invalid(_)), "{err:?}");
    world.assert_consistent();
}

#[test]
fn reach_is_self_and_descendants_for_administrators_only() {
    let world = World::new();
    let a = world.create(&world.root, "a@example.com", Role::Administrator);
    let b = world.create(&world.root, "b@example.com", Role::Administrator);
    let a_child = world.create(&a, "a-child@example.com", Role::Developer);
    let dev = world.create(&world.root, "dev@example.com", Role::Developer);
    let dev_child_owner = world.create(&world.root, "devowner@example.com", Role::Administrator);
    let below_dev = world.create(&dev_child_owner, "below@example.com", Role::Developer);
    // A Developer with a descendant: demote its parent after the fact.
    let demote = AccountChanges {
        role: Some(Role::Developer),
        ..AccountChanges::default()
    };
    let demoted = accounts::update(
        &world.store,
        &world.root,
        "devowner@example.com",
        demote,
        NOW,
    )
    .unwrap()
    .account;

    let sees = |caller: &AccountRecord, target: &AccountRecord| {
        accounts::find(&world.store, caller, &target.sid.to_string()).is_ok()
    };
    assert!(sees(&world.root, &a_child));
    assert!(sees(&a, &a_child));
    assert!(sees(&a, &a));
    assert!(!sees(&a, &world.root), "a child cannot see its parent");
    assert!(!sees(&a, &b), "nor its sibling");
    assert!(!sees(&a_child, &a));
    assert!(sees(&dev, &dev));
    assert!(
        !sees(&demoted, &below_dev),
        "a Developer does not reach sub-accounts"
    );
    let err = accounts::find(&world.store, &a, &b.email).unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    world.assert_consistent();
}

#[test]
fn role_and_status_rules_on_updates() {
    let world = World::new();
    let dev = world.create(&world.root, "dev@example.com", Role::Developer);
    let own = |changes| accounts::update(&world.store, &dev, &dev.sid.to_string(), changes, NOW);
    let rename = AccountChanges {
        friendly_name: Some(FriendlyName::parse("Dev").unwrap()),
        ..Default::default()
    };
    assert_eq!(own(rename).unwrap().account.friendly_name, "Dev");
    let err = own(AccountChanges {
        status: Some(Status::Suspended),
        ..Default::default()
    })
    .unwrap_err();
    assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
    let err = own(AccountChanges {
        role: Some(Role::Administrator),
        ..Default::default()
    })
    .unwrap_err();
    assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
    let root_self = AccountChanges {
        role: Some(Role::Developer),
        ..Default::default()
    };
    let err =
        accounts::update(&world.store, &world.root, "admin@localhost", root_self, NOW).unwrap_err();
    assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
    let err = accounts::close(&world.store, &world.root, "admin@localhost", NOW).unwrap_err();
    assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
    let promote = AccountChanges {
        role: Some(Role::Administrator),
        ..Default::default()
    };
    let promoted = accounts::update(&world.store, &world.root, &dev.email, promote, NOW).unwrap();
    assert_eq!(promoted.account.role, Role::Administrator);
    world.assert_consistent();
}

#[test]
fn password_change_replaces_the_token_and_old_secrets_stop_working() {
    let world = World::new();
    let child = world.create(&world.root, "c@example.com", Role::Developer);
    let sid = child.sid.to_string();
    assert!(accounts::verify_credentials(&world.store, &sid, "password1").is_ok());
    assert!(accounts::verify_credentials(&world.store, "C@EXAMPLE.com", "password1").is_ok());
    let changes = AccountChanges {
        password: Some(Password::parse("newpass99").unwrap()),
        ..Default::default()
    };
    let issued = accounts::update(&world.store, &child, &sid, changes, NOW).unwrap();
    let token = issued.auth_token.expect("a password change issues a token");
    assert_eq!(token.len(), 32);
    assert!(accounts::verify_credentials(&world.store, &sid, &token).is_ok());
    assert!(accounts::verify_credentials(&world.store, &sid, "newpass99").is_ok());
    assert!(matches!(
        accounts::verify_credentials(&world.store, &sid, "password1"),
        Err(Error::Unauthorized)
    ));
    assert!(matches!(
        accounts::verify_credentials(&world.store, "nobody@x.com", "password1"),
        Err(Error::Unauthorized)
    ));
    // Nothing in the stored record is the password or the token.
    let stored = format!("{:?}", world.store.account(&child.sid).unwrap().unwrap());
    assert!(!stored.contains("newpass99") && !stored.contains(&token));
}

#[test]
fn suspending_parent_suspends_grandchildren_and_reactivation_restores_them() {
    let world = World::new();
    let a = world.create(&world.root, "a@example.com", Role::Administrator);
    let b = world.create(&a, "b@example.com", Role::Administrator);
    let c = world.create(&b, "c@example.com", Role::Administrator);
    let d = world.create(&c, "d@example.com", Role::Developer);
    world
        .set_status(&world.root, &a, Status::Suspended)
        .unwrap();
    for account in [&a, &b, &c, &d] {
        assert_eq!(
            world.status(account),
            Status::Suspended,
            "{}",
            account.email
        );
    }
    world.assert_consistent();
    for account in [&b, &d] {
        assert!(matches!(
            accounts::verify_credentials(&world.store, &account.email, "password1"),
            Err(Error::Unauthorized)
        ));
    }
    world.set_status(&world.root, &a, Status::Active).unwrap();
    for account in [&a, &b, &c, &d] {
        assert_eq!(world.status(account), Status::Active, "{}", account.email);
    }
    world.assert_consistent();
}

#[test]
fn no_child_may_be_more_active_than_its_parent() {
    let world = World::new();
    let a = world.create(&world.root, "a@example.com", Role::Administrator);
    let b = world.create(&a, "b@example.com", Role::Administrator);
    world
        .set_status(&world.root, &a, Status::Suspended)
        .unwrap();
    let err = world
        .set_status(&world.root, &b, Status::Active)
        .unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    assert_eq!(world.status(&b), Status::Suspended);
    world.assert_consistent();
}

#[test]
fn reactivation_keeps_accounts_that_were_suspended_on_their_own() {
    let world = World::new();
    let a = world.create(&world.root, "a@example.com", Role::Administrator);
    let b = world.create(&a, "b@example.com", Role::Administrator);
    let b_child = world.create(&b, "bc@example.com", Role::Developer);
    let sibling = world.create(&a, "s@example.com", Role::Developer);
    world
        .set_status(&world.root, &b, Status::Suspended)
        .unwrap();
    world
        .set_status(&world.root, &a, Status::Suspended)
        .unwrap();
    world.set_status(&world.root, &a, Status::Active).unwrap();
    assert_eq!(world.status(&a), Status::Active);
    assert_eq!(
        world.status(&sibling),
        Status::Active,
        "suspended by the cascade, so re-activated"
    );
    assert_eq!(
        world.status(&b),
        Status::Suspended,
        "suspended on its own, so it stays"
    );
    assert_eq!(
        world.status(&b_child),
        Status::Suspended,
        "its parent stays suspended"
    );
    world.set_status(&world.root, &b, Status::Active).unwrap();
    assert_eq!(world.status(&b_child), Status::Active);
    world.assert_consistent();
}

#[test]
fn closing_is_final_and_covers_the_subtree() {
    let world = World::new();
    let a = world.create(&world.root, "a@example.com", Role::Administrator);
    let b = world.create(&a, "b@example.com", Role::Administrator);
    let c = world.create(&b, "c@example.com", Role::Developer);
    world
        .set_status(&world.root, &b, Status::Suspended)
        .unwrap();
    let closed = accounts::close(&world.store, &world.root, &a.sid.to_string(), NOW).unwrap();
    assert_eq!(closed.status, Status::Closed);
    for account in [&a, &b, &c] {
        assert_eq!(world.status(account), Status::Closed, "{}", account.email);
    }
    world.assert_consistent();
    for status in [Status::Active, Status::Suspended, Status::Closed] {
        let err = world.set_status(&world.root, &a, status).unwrap_err();
        assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    }
    let rename = AccountChanges {
        friendly_name: Some(FriendlyName::parse("x").unwrap()),
        ..Default::default()
    };
    let err = accounts::update(&world.store, &world.root, &c.email, rename, NOW).unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    // Closed records stay: their SIDs and emails are never reused.
    let err = world
        .try_create(&world.root, "a@example.com", Role::Developer, None)
        .unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    assert_eq!(accounts::list(&world.store, &world.root).unwrap().len(), 3);
    world.assert_consistent();
}

#[test]
fn uninitialized_accounts_need_a_password_to_become_active() {
    let world = World::new();
    let a = world
        .try_create(
            &world.root,
            "u@example.com",
            Role::Developer,
            Some(Status::Uninitialized),
        )
        .unwrap();
    assert!(matches!(
        accounts::verify_credentials(&world.store, &a.email, "password1"),
        Err(Error::Unauthorized)
    ));
    let err = world
        .set_status(&world.root, &a, Status::Active)
        .unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    let changes = AccountChanges {
        password: Some(Password::parse("initial99").unwrap()),
        ..Default::default()
    };
    let issued = accounts::update(&world.store, &world.root, &a.email, changes, NOW).unwrap();
    assert_eq!(issued.account.status, Status::Active);
    assert!(accounts::verify_credentials(&world.store, &a.email, "initial99").is_ok());
    world.assert_consistent();
}

#[test]
fn uninitialized_cascade_and_suspension_keep_uninitialized_descendants() {
    let world = World::new();
    let a = world.create(&world.root, "a@example.com", Role::Administrator);
    let b = world.create(&a, "b@example.com", Role::Developer);
    world
        .set_status(&world.root, &a, Status::Uninitialized)
        .unwrap();
    assert_eq!(world.status(&b), Status::Uninitialized);
    // A password on the child alone cannot make it more active than its parent.
    let changes = AccountChanges {
        password: Some(Password::parse("initial99").unwrap()),
        ..Default::default()
    };
    let err = accounts::update(&world.store, &world.root, &b.email, changes, NOW).unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    let changes = AccountChanges {
        password: Some(Password::parse("initial99").unwrap()),
        ..Default::default()
    };
    accounts::update(&world.store, &world.root, &a.email, changes, NOW).unwrap();
    assert_eq!(world.status(&a), Status::Active);
    assert_eq!(
        world.status(&b),
        Status::Uninitialized,
        "each account sets its own password"
    );
    world
        .set_status(&world.root, &a, Status::Suspended)
        .unwrap();
    world.set_status(&world.root, &a, Status::Active).unwrap();
    assert_eq!(world.status(&b), Status::Uninitialized);
    world.assert_consistent();
}

#[test]
fn a_suspended_creator_cannot_create() {
    let world = World::new();
    let a = world.create(&world.root, "a@example.com", Role::Administrator);
    world
        .set_status(&world.root, &a, Status::Suspended)
        .unwrap();
    // `a` was authenticated before the suspension; the create re-checks under the lock.
    let err = world
        .try_create(&a, "late@example.com", Role::Developer, None)
        .unwrap_err();
    assert!(matches!(err, Error::Unauthorized), "{err:?}");
    world.assert_consistent();
}

#[test]
fn store_check_reports_broken_invariants() {
    let world = World::new();
    let a = world.create(&world.root, "a@example.com", Role::Administrator);
    let b = world.create(&a, "b@example.com", Role::Administrator);
    // Bypass the domain rules: an active child under a suspended parent.
    let mut parent = world.store.account(&a.sid).unwrap().unwrap();
    parent.status = Status::Suspended;
    let guard = world.store.write_lock();
    world.store.update_accounts(&guard, &[parent], &[]).unwrap();
    drop(guard);
    let problems = check::run(&world.store).unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains(&b.sid.to_string()), "{problems:?}");
}

mod clients {
    use super::*;
    use crate::domain::clients::{self, ClientChanges, NewClient, VoiceChanges};
    use crate::domain::Login;
    use crate::store::records::ClientRecord;

    const REALM: &str = "pbx.example.com";

    fn new_client(login: &str) -> NewClient {
        NewClient {
            login: Login::parse(login).unwrap(),
            password: Password::parse("sippass123").unwrap(),
            friendly_name: None,
            enabled: None,
            voice: VoiceChanges::default(),
        }
    }

    fn add(world: &World, owner: &AccountRecord, login: &str) -> ClientRecord {
        clients::create(
            &world.store,
            &world.root,
            &owner.sid.to_string(),
            new_client(login),
            REALM,
            NOW,
        )
        .unwrap()
    }

    #[test]
    fn logins_follow_the_restcomm_safe_user_part() {
        for good in [
            "alice",
            "bob.smith",
            "ext-100",
            "a_b!~*'()&+$,;/",
            "X",
            &"a".repeat(64),
        ] {
            assert!(Login::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "al ice",
            "a?b",
            "a=b",
            "a@b",
            "a:b",
            "é",
            "a%20",
            &"a".repeat(65),
        ] {
            assert!(Login::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn voice_parameters_are_validated() {
        assert!(clients::parse_status("1").unwrap());
        assert!(!clients::parse_status("0").unwrap());
        assert!(clients::parse_status("yes").is_err());
        assert_eq!(clients::parse_method("VoiceMethod", "get").unwrap(), "GET");
        assert!(clients::parse_method("VoiceMethod", "PATCH").is_err());
        assert_eq!(clients::parse_url("VoiceUrl", "").unwrap(), None);
        assert!(
            clients::parse_url("VoiceUrl", "https://app.example.com:8443/v?x=1")
                .unwrap()
                .is_some()
        );
        for bad in [
            "ftp://x",
            "http://",
            "http:// x",
            "example.com/voice",
            "http://u@h/",
        ] {
            assert!(clients::parse_url("VoiceUrl", bad).is_err(), "{bad}");
        }
        assert!(
            clients::parse_application_sid(&format!("AP{}", "a".repeat(32)))
                .unwrap()
                .is_some()
        );
        assert!(clients::parse_application_sid("AP123").is_err());
    }

    #[test]
    fn ha1_values_match_the_digest_definition() {
        // RFC 2617 §3.5: Mufasa / testrealm@host.com / Circle Of Life.
        let password = Password::parse("Circle Of Life 1").unwrap();
        let (md5, sha) = clients::ha1("Mufasa", "testrealm@host.com", &password);
        assert_eq!(
            md5,
            crate::crypto::md5_hex(b"Mufasa:testrealm@host.com:Circle Of Life 1")
        );
        assert_eq!(
            sha,
            crate::crypto::sha256_hex(b"Mufasa:testrealm@host.com:Circle Of Life 1")
        );
        let rfc = crate::crypto::md5_hex(b"Mufasa:testrealm@host.com:Circle Of Life");
        assert_eq!(rfc, "939e7578ed9e3c518a452acee763bce9");
    }

    #[test]
    fn clients_store_only_ha1_and_logins_are_unique_on_the_box() {
        let world = World::new();
        let a = world.create(&world.root, "a@example.com", Role::Administrator);
        let b = world.create(&world.root, "b@example.com", Role::Administrator);
        let alice = add(&world, &a, "alice");
        assert_eq!(alice.friendly_name, "alice");
        assert!(alice.enabled);
        assert_eq!(
            (
                alice.voice_method.as_str(),
                alice.voice_fallback_method.as_str()
            ),
            ("POST", "POST")
        );
        assert_eq!(alice.realm, REALM);
        assert!(!format!("{alice:?}").contains("sippass123"));
        let err = clients::create(
            &world.store,
            &world.root,
            &b.sid.to_string(),
            new_client("alice"),
            REALM,
            NOW,
        )
        .unwrap_err();
        assert!(matches!(err, Error::Conflict(_)), "{err:?}");
        assert!(clients::create(
            &world.store,
            &world.root,
            &b.sid.to_string(),
            new_client("Alice"),
            REALM,
            NOW
        )
        .is_ok());
        assert_eq!(
            world.store.client_by_login("alice").unwrap().unwrap().sid,
            alice.sid
        );
        world.assert_consistent();
    }

    #[test]
    fn reach_is_own_and_descendant_clients_for_any_role() {
        let world = World::new();
        let a = world.create(&world.root, "a@example.com", Role::Administrator);
        let dev = world.create(&a, "dev@example.com", Role::Developer);
        let sibling = world.create(&world.root, "s@example.com", Role::Developer);
        let dev_client = add(&world, &dev, "devphone");
        let a_client = add(&world, &a, "aphone");
        let sees = |caller: &AccountRecord, client: &ClientRecord| {
            clients::find(
                &world.store,
                caller,
                &client.account.to_string(),
                &client.sid.to_string(),
            )
            .is_ok()
        };
        assert!(
            sees(&dev, &dev_client),
            "a Developer manages its own clients"
        );
        assert!(sees(&a, &dev_client));
        assert!(sees(&world.root, &dev_client));
        assert!(!sees(&dev, &a_client), "not its parent's");
        assert!(!sees(&sibling, &dev_client), "nor a sibling's");
        // A client named under the wrong account is not found either.
        let err = clients::find(
            &world.store,
            &world.root,
            &a.sid.to_string(),
            &dev_client.sid.to_string(),
        )
        .unwrap_err();
        assert!(matches!(err, Error::NotFound("client")), "{err:?}");
        let own = clients::create(
            &world.store,
            &dev,
            &dev.sid.to_string(),
            new_client("devphone2"),
            REALM,
            NOW,
        );
        assert!(own.is_ok());
        let err = clients::create(
            &world.store,
            &dev,
            &a.sid.to_string(),
            new_client("x"),
            REALM,
            NOW,
        )
        .unwrap_err();
        assert!(matches!(err, Error::NotFound("account")), "{err:?}");
        world.assert_consistent();
    }

    #[test]
    fn updates_replace_ha1_and_keep_the_login() {
        let world = World::new();
        let alice = add(&world, &world.root, "alice");
        let changes = ClientChanges {
            password: Some(Password::parse("newsecret9").unwrap()),
            enabled: Some(false),
            voice: VoiceChanges {
                url: Some(Some("http://h/v".into())),
                ..VoiceChanges::default()
            },
            ..ClientChanges::default()
        };
        let updated = clients::update(
            &world.store,
            &world.root,
            &world.root.email,
            &alice.sid.to_string(),
            changes,
            "new.realm",
            NOW + 5,
        )
        .unwrap();
        assert_ne!(updated.ha1_md5, alice.ha1_md5);
        assert_eq!(updated.realm, "new.realm");
        assert_eq!(
            updated.ha1_md5,
            crate::crypto::md5_hex(b"alice:new.realm:newsecret9")
        );
        assert!(!updated.enabled);
        assert_eq!(updated.voice_url.as_deref(), Some("http://h/v"));
        assert_eq!(updated.login, "alice");
        assert_eq!(updated.updated, NOW + 5);
        let clear = ClientChanges {
            voice: VoiceChanges {
                url: Some(None),
                ..VoiceChanges::default()
            },
            ..ClientChanges::default()
        };
        let cleared = clients::update(
            &world.store,
            &world.root,
            &world.root.email,
            &alice.sid.to_string(),
            clear,
            REALM,
            NOW,
        )
        .unwrap();
        assert_eq!(cleared.voice_url, None);
        world.assert_consistent();
    }

    #[test]
    fn delete_frees_the_login() {
        let world = World::new();
        let alice = add(&world, &world.root, "alice");
        clients::delete(
            &world.store,
            &world.root,
            &world.root.sid.to_string(),
            &alice.sid.to_string(),
        )
        .unwrap();
        assert!(world.store.client(&alice.sid).unwrap().is_none());
        assert!(world.store.client_by_login("alice").unwrap().is_none());
        world.assert_consistent();
        let again = add(&world, &world.root, "alice");
        assert_ne!(again.sid, alice.sid);
        world.assert_consistent();
    }

    #[test]
    fn closing_an_account_removes_the_clients_of_its_whole_subtree() {
        let world = World::new();
        let a = world.create(&world.root, "a@example.com", Role::Administrator);
        let b = world.create(&a, "b@example.com", Role::Administrator);
        let c = world.create(&b, "c@example.com", Role::Developer);
        let keep = add(&world, &world.root, "keeper");
        let gone: Vec<ClientRecord> = [(&a, "a1"), (&a, "a2"), (&b, "b1"), (&c, "c1")]
            .into_iter()
            .map(|(owner, login)| add(&world, owner, login))
            .collect();
        accounts::close(&world.store, &world.root, &a.sid.to_string(), NOW).unwrap();
        for client in &gone {
            assert!(
                world.store.client(&client.sid).unwrap().is_none(),
                "{}",
                client.login
            );
            assert!(
                world
                    .store
                    .client_by_login(&client.login)
                    .unwrap()
                    .is_none(),
                "{}",
                client.login
            );
        }
        assert!(world.store.client(&keep.sid).unwrap().is_some());
        world.assert_consistent();
        let err = clients::list(&world.store, &world.root, &c.sid.to_string(), None).unwrap_err();
        assert!(matches!(err, Error::Conflict(_)), "{err:?}");
        let err = clients::create(
            &world.store,
            &world.root,
            &c.sid.to_string(),
            new_client("late"),
            REALM,
            NOW,
        )
        .unwrap_err();
        assert!(matches!(err, Error::Conflict(_)), "{err:?}");
        // The freed logins can be used again elsewhere.
        add(&world, &world.root, "a1");
        world.assert_consistent();
    }

    #[test]
    fn suspending_keeps_clients_and_lists_are_sorted_and_filtered() {
        let world = World::new();
        let a = world.create(&world.root, "a@example.com", Role::Administrator);
        for login in ["zed", "amy", "kim"] {
            add(&world, &a, login);
        }
        world
            .set_status(&world.root, &a, Status::Suspended)
            .unwrap();
        let logins: Vec<String> =
            clients::list(&world.store, &world.root, &a.sid.to_string(), None)
                .unwrap()
                .into_iter()
                .map(|client| client.login)
                .collect();
        assert_eq!(logins, ["amy", "kim", "zed"]);
        let filtered =
            clients::list(&world.store, &world.root, &a.sid.to_string(), Some("kim")).unwrap();
        assert_eq!(filtered.len(), 1);
        world.assert_consistent();
    }

    #[test]
    fn store_check_reports_a_dangling_login() {
        let world = World::new();
        let alice = add(&world, &world.root, "alice");
        // Bypass the store's API to break the index on purpose.
        world
            .store
            .corrupt_login_index("ghost", &alice.sid)
            .unwrap();
        let problems = check::run(&world.store).unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("ghost"));
    }
}

mod bindings {
    use super::*;
    use crate::domain::clients::{self, NewClient, VoiceChanges};
    use crate::domain::Login;
    use crate::store::records::BindingRecord;

    fn binding(
        client: &crate::store::records::ClientRecord,
        contact: &str,
        expires_at: i64,
    ) -> BindingRecord {
        BindingRecord {
            client: client.sid,
            contact: contact.into(),
            q: None,
            expires_at,
            call_id: "c".into(),
            cseq: 1,
            source: "127.0.0.1:5060".parse().unwrap(),
            transport: crate::domain::Transport::Udp,
            user_agent: None,
            registered_at: NOW,
            stored_expires_at: 0,
        }
    }

    fn phone(
        world: &World,
        owner: &AccountRecord,
        login: &str,
    ) -> crate::store::records::ClientRecord {
        let new = NewClient {
            login: Login::parse(login).unwrap(),
            password: Password::parse_sip("phone-pass1").unwrap(),
            friendly_name: None,
            enabled: None,
            voice: VoiceChanges::default(),
        };
        clients::create(
            &world.store,
            &world.root,
            &owner.sid.to_string(),
            new,
            "r",
            NOW,
        )
        .unwrap()
    }

    #[test]
    fn refreshes_are_written_only_when_a_restart_would_need_them() {
        let world = World::new();
        let alice = phone(&world, &world.root, "alice");
        let refresh = |at: i64, expires: i64, cseq: u32, source: &str| {
            world
                .store
                .update_bindings(&alice.sid, at, |list| {
                    list.clear();
                    let mut fresh = binding(&alice, "sip:a@1", at + expires);
                    fresh.cseq = cseq;
                    fresh.source = source.parse().unwrap();
                    list.push(fresh);
                    Ok(())
                })
                .unwrap();
        };
        let live = || world.store.bindings(&alice.sid)[0].clone();
        // A restart: the map is rebuilt from what was written.
        let restart = |at: i64| {
            assert_eq!(world.store.load_bindings(at).unwrap(), 1);
            live()
        };
        refresh(NOW, 3600, 1, "10.0.0.1:5060");
        // Soon after: the stored copy still has more than half the grant left, so only the
        // map changes; a restart brings back the stored copy, which outlives the next refresh.
        refresh(NOW + 600, 3600, 2, "10.0.0.1:5060");
        assert_eq!((live().expires_at, live().cseq), (NOW + 4200, 2));
        let stored = restart(NOW + 600);
        assert_eq!((stored.expires_at, stored.cseq), (NOW + 3600, 1));
        // Past half of it: written.
        refresh(NOW + 1900, 3600, 3, "10.0.0.1:5060");
        assert_eq!(restart(NOW + 1900).expires_at, NOW + 5500);
        // Shorter than stored: written, so a restart never keeps a binding longer.
        refresh(NOW + 2000, 60, 4, "10.0.0.1:5060");
        assert_eq!(restart(NOW + 2000).expires_at, NOW + 2060);
        // Anything else that changes (here the source after a NAT rebinding): written.
        refresh(NOW + 2001, 3600, 5, "10.0.0.9:5060");
        assert_eq!(restart(NOW + 2001).source.to_string(), "10.0.0.9:5060");
    }

    #[test]
    fn the_sweeper_removes_only_expired_bindings() {
        let world = World::new();
        let alice = phone(&world, &world.root, "alice");
        world
            .store
            .update_bindings(&alice.sid, NOW, |list| {
                list.push(binding(&alice, "sip:a@1", NOW + 10));
                list.push(binding(&alice, "sip:a@2", NOW + 100));
                Ok(())
            })
            .unwrap();
        assert_eq!(world.store.binding_count(&alice.sid, NOW), 2);
        assert_eq!(
            world.store.binding_count(&alice.sid, NOW + 10),
            1,
            "expired ones stop counting at once"
        );
        assert_eq!(world.store.purge_expired_bindings(NOW + 10).unwrap(), 1);
        assert_eq!(world.store.bindings(&alice.sid).len(), 1);
        assert_eq!(world.store.purge_expired_bindings(NOW + 100).unwrap(), 1);
        assert!(world.store.bindings(&alice.sid).is_empty());
        assert_eq!(
            world.store.load_bindings(NOW).unwrap(),
            0,
            "the tree followed the map"
        );
    }

    #[test]
    fn loading_keeps_live_bindings_and_drops_leftovers() {
        let world = World::new();
        let tenant = world.create(&world.root, "t@example.com", Role::Administrator);
        let alice = phone(&world, &world.root, "alice");
        let bob = phone(&world, &world.root, "bob");
        let carol = phone(&world, &tenant, "carol");
        for (client, contact) in [(&alice, "sip:a@1"), (&bob, "sip:b@1"), (&carol, "sip:c@1")] {
            world
                .store
                .update_bindings(&client.sid, NOW, |list| {
                    list.push(binding(client, contact, NOW + 100));
                    Ok(())
                })
                .unwrap();
        }
        // Leftovers a crash could leave: bindings written after their client lost the right.
        world
            .store
            .update_bindings(&alice.sid, NOW, |list| {
                list.push(binding(&alice, "sip:a@old", NOW - 1));
                Ok(())
            })
            .unwrap();
        clients::delete(
            &world.store,
            &world.root,
            &world.root.email,
            &bob.sid.to_string(),
        )
        .unwrap();
        world
            .store
            .update_bindings(&bob.sid, NOW, |list| {
                list.push(binding(&bob, "sip:b@1", NOW + 100));
                Ok(())
            })
            .unwrap();
        world
            .set_status(&world.root, &tenant, Status::Suspended)
            .unwrap();
        world
            .store
            .update_bindings(&carol.sid, NOW, |list| {
                list.push(binding(&carol, "sip:c@1", NOW + 100));
                Ok(())
            })
            .unwrap();
        assert_eq!(world.store.load_bindings(NOW).unwrap(), 1);
        assert_eq!(world.store.bindings(&alice.sid).len(), 1);
        assert!(world.store.bindings(&bob.sid).is_empty());
        assert!(world.store.bindings(&carol.sid).is_empty());
    }
}

mod record_cache {
    use super::*;
    use crate::domain::clients::{self, ClientChanges, NewClient, VoiceChanges};
    use crate::domain::Login;

    #[test]
    fn the_registrars_cached_view_follows_every_write() {
        let world = World::new();
        let tenant = world.create(&world.root, "t@example.com", Role::Administrator);
        let new = |login: &str| NewClient {
            login: Login::parse(login).unwrap(),
            password: Password::parse_sip("phone-pass1").unwrap(),
            friendly_name: None,
            enabled: None,
            voice: VoiceChanges::default(),
        };
        let alice = clients::create(
            &world.store,
            &world.root,
            &tenant.email,
            new("alice"),
            "r",
            NOW,
        )
        .unwrap();
        let cached = world.store.auth_by_login("alice").unwrap().unwrap();
        assert!(cached.enabled);
        assert_eq!(
            world
                .store
                .auth_by_sid(&alice.sid)
                .unwrap()
                .unwrap()
                .ha1_md5_hex(),
            alice.ha1_md5
        );
        assert_eq!(
            world.store.account_status(&tenant.sid).unwrap(),
            Some(Status::Active)
        );

        let disable = ClientChanges {
            enabled: Some(false),
            ..ClientChanges::default()
        };
        clients::update(
            &world.store,
            &world.root,
            &tenant.email,
            &alice.sid.to_string(),
            disable,
            "r",
            NOW,
        )
        .unwrap();
        assert!(!world.store.auth_by_login("alice").unwrap().unwrap().enabled);
        assert!(
            !world
                .store
                .auth_by_sid(&alice.sid)
                .unwrap()
                .unwrap()
                .enabled
        );

        let rekey = ClientChanges {
            password: Some(Password::parse_sip("other-pass2").unwrap()),
            ..ClientChanges::default()
        };
        let rekeyed = clients::update(
            &world.store,
            &world.root,
            &tenant.email,
            &alice.sid.to_string(),
            rekey,
            "r",
            NOW,
        )
        .unwrap();
        assert_eq!(
            world
                .store
                .auth_by_login("alice")
                .unwrap()
                .unwrap()
                .ha1_md5_hex(),
            rekeyed.ha1_md5
        );

        world
            .set_status(&world.root, &tenant, Status::Suspended)
            .unwrap();
        assert_eq!(
            world.store.account_status(&tenant.sid).unwrap(),
            Some(Status::Suspended)
        );

        clients::delete(
            &world.store,
            &world.root,
            &tenant.email,
            &alice.sid.to_string(),
        )
        .unwrap();
        assert!(world.store.auth_by_login("alice").unwrap().is_none());
        assert!(world.store.auth_by_sid(&alice.sid).unwrap().is_none());
        let again = clients::create(
            &world.store,
            &world.root,
            &world.root.email,
            new("alice"),
            "r",
            NOW,
        )
        .unwrap();
        assert_eq!(
            world.store.auth_by_login("alice").unwrap().unwrap().sid,
            again.sid
        );
    }
}
