//! Domain tests on a temporary store: value types, the hierarchy, roles, every rule of the
//! status cascade, and the Clients' rules. Each scenario ends with the store's invariant check.

use crate::domain::accounts::{self, Account, AccountChanges};
use crate::domain::{rfc2822, AccountRef, AccountSid, Email, FriendlyName, Password, Role, Status};
use crate::error::Error;
use crate::testing::{World, NOW};

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
    let listed: Vec<_> = accounts::list(&world.store, &world.root.as_caller(), None)
        .unwrap()
        .into_iter()
        .map(|a| a.sid)
        .collect();
    assert_eq!(listed, vec![child.sid, grandchild.sid]);
    let listed: Vec<_> = accounts::list(&world.store, &child.as_caller(), None)
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
    let found = accounts::find(
        &world.store,
        &world.root.as_caller(),
        &AccountRef::parse("Dup@Example.com"),
    )
    .unwrap();
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
            accounts::list(&world.store, &caller.as_caller(), None),
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
        &world.root.as_caller(),
        &AccountRef::parse("devowner@example.com"),
        demote,
        NOW,
    )
    .unwrap()
    .account;

    let sees = |caller: &Account, target: &Account| {
        accounts::find(&world.store, &caller.as_caller(), &target.sid.into()).is_ok()
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
    let err =
        accounts::find(&world.store, &a.as_caller(), &AccountRef::parse(&b.email)).unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    world.assert_consistent();
}

#[test]
fn role_and_status_rules_on_updates() {
    let world = World::new();
    let dev = world.create(&world.root, "dev@example.com", Role::Developer);
    let own = |changes| {
        accounts::update(
            &world.store,
            &dev.as_caller(),
            &dev.sid.into(),
            changes,
            NOW,
        )
    };
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
    let err = accounts::update(
        &world.store,
        &world.root.as_caller(),
        &AccountRef::parse("admin@localhost"),
        root_self,
        NOW,
    )
    .unwrap_err();
    assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
    let err = accounts::close(
        &world.store,
        &world.root.as_caller(),
        &AccountRef::parse("admin@localhost"),
        NOW,
    )
    .unwrap_err();
    assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
    let promote = AccountChanges {
        role: Some(Role::Administrator),
        ..Default::default()
    };
    let promoted = world.update(&world.root, &dev, promote).unwrap();
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
    let issued = accounts::update(
        &world.store,
        &child.as_caller(),
        &AccountRef::parse(&sid),
        changes,
        NOW,
    )
    .unwrap();
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
    let closed =
        accounts::close(&world.store, &world.root.as_caller(), &a.sid.into(), NOW).unwrap();
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
    let err = world.update(&world.root, &c, rename).unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    // Closed records stay: their SIDs and emails are never reused.
    let err = world
        .try_create(&world.root, "a@example.com", Role::Developer, None)
        .unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    assert_eq!(
        accounts::list(&world.store, &world.root.as_caller(), None)
            .unwrap()
            .len(),
        3
    );
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
    let issued = world.update(&world.root, &a, changes).unwrap();
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
    let err = world.update(&world.root, &b, changes).unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    let changes = AccountChanges {
        password: Some(Password::parse("initial99").unwrap()),
        ..Default::default()
    };
    world.update(&world.root, &a, changes).unwrap();
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

mod clients {
    use super::*;
    use crate::domain::clients::Client;
    use crate::domain::clients::{self, ClientChanges, NewClient, VoiceChanges};
    use crate::domain::Login;

    use crate::testing::REALM;

    fn new_client(login: &str) -> NewClient {
        NewClient {
            login: Login::parse(login).unwrap(),
            password: Password::parse("sippass123").unwrap(),
            friendly_name: None,
            enabled: None,
            voice: VoiceChanges::default(),
        }
    }

    fn add(world: &World, owner: &Account, login: &str) -> Client {
        clients::create(
            &world.store,
            &world.root.as_caller(),
            &owner.sid.into(),
            new_client(login),
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
        assert_eq!(
            world.store.client(&alice.sid).unwrap().unwrap().realm,
            REALM
        );
        assert!(!format!("{alice:?}").contains("sippass123"));
        let err = clients::create(
            &world.store,
            &world.root.as_caller(),
            &b.sid.into(),
            new_client("alice"),
            NOW,
        )
        .unwrap_err();
        assert!(matches!(err, Error::Conflict(_)), "{err:?}");
        assert!(clients::create(
            &world.store,
            &world.root.as_caller(),
            &b.sid.into(),
            new_client("Alice"),
            NOW
        )
        .is_ok());
        assert_eq!(
            world
                .store
                .client_by_login(&world.org(), "alice")
                .unwrap()
                .unwrap()
                .sid,
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
        let sees = |caller: &Account, client: &Client| {
            clients::find(
                &world.store,
                &caller.as_caller(),
                &client.account.into(),
                &client.sid,
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
            &world.root.as_caller(),
            &a.sid.into(),
            &dev_client.sid,
        )
        .unwrap_err();
        assert!(matches!(err, Error::NotFound("client")), "{err:?}");
        let own = clients::create(
            &world.store,
            &dev.as_caller(),
            &dev.sid.into(),
            new_client("devphone2"),
            NOW,
        );
        assert!(own.is_ok());
        let err = clients::create(
            &world.store,
            &dev.as_caller(),
            &a.sid.into(),
            new_client("x"),
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
            &world.root.as_caller(),
            &AccountRef::parse(&world.root.email),
            &alice.sid,
            changes,
            NOW + 5,
        )
        .unwrap();
        let stored = world.store.client(&updated.sid).unwrap().unwrap();
        assert_ne!(
            stored.ha1_md5,
            crate::crypto::md5_hex(b"alice:pbx.test:sippass123")
        );
        assert_eq!(stored.realm, REALM);
        assert_eq!(
            stored.ha1_md5,
            crate::crypto::md5_hex(b"alice:pbx.test:newsecret9")
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
            &world.root.as_caller(),
            &AccountRef::parse(&world.root.email),
            &alice.sid,
            clear,
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
            &world.root.as_caller(),
            &world.root.sid.into(),
            &alice.sid,
        )
        .unwrap();
        assert!(world.store.client(&alice.sid).unwrap().is_none());
        assert!(world
            .store
            .client_by_login(&world.org(), "alice")
            .unwrap()
            .is_none());
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
        let gone: Vec<Client> = [(&a, "a1"), (&a, "a2"), (&b, "b1"), (&c, "c1")]
            .into_iter()
            .map(|(owner, login)| add(&world, owner, login))
            .collect();
        accounts::close(&world.store, &world.root.as_caller(), &a.sid.into(), NOW).unwrap();
        for client in &gone {
            assert!(
                world.store.client(&client.sid).unwrap().is_none(),
                "{}",
                client.login
            );
            assert!(
                world
                    .store
                    .client_by_login(&world.org(), &client.login)
                    .unwrap()
                    .is_none(),
                "{}",
                client.login
            );
        }
        assert!(world.store.client(&keep.sid).unwrap().is_some());
        world.assert_consistent();
        let err =
            clients::list(&world.store, &world.root.as_caller(), &c.sid.into(), None).unwrap_err();
        assert!(matches!(err, Error::Conflict(_)), "{err:?}");
        let err = clients::create(
            &world.store,
            &world.root.as_caller(),
            &c.sid.into(),
            new_client("late"),
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
            clients::list(&world.store, &world.root.as_caller(), &a.sid.into(), None)
                .unwrap()
                .into_iter()
                .map(|client| client.login)
                .collect();
        assert_eq!(logins, ["amy", "kim", "zed"]);
        let filtered = clients::list(
            &world.store,
            &world.root.as_caller(),
            &a.sid.into(),
            Some("kim"),
        )
        .unwrap();
        assert_eq!(filtered.len(), 1);
        world.assert_consistent();
    }
}

mod organizations {
    use super::*;
    use crate::domain::organizations::{self, Migrated};
    use crate::domain::{DomainName, OrganizationRef};

    fn tenant(world: &World) -> crate::domain::organizations::Organization {
        let domain = DomainName::parse("Tenant.Test").unwrap();
        organizations::create(&world.store, &world.root.as_caller(), &domain, NOW).unwrap()
    }

    fn migrate(world: &World, account: &Account, domain: &str) -> crate::error::Result<Migrated> {
        organizations::migrate(
            &world.store,
            &world.root.as_caller(),
            &AccountRef::Sid(account.sid),
            &OrganizationRef::parse(domain),
            NOW + 1,
        )
    }

    #[test]
    fn domain_names_are_host_names_kept_lowercase() {
        assert_eq!(
            DomainName::parse("PBX.Example.COM").unwrap().as_str(),
            "pbx.example.com"
        );
        assert!(DomainName::parse("office").is_ok());
        for bad in [
            "",
            "a..b",
            "-a.b",
            "a-.b",
            "a_b.c",
            "10.0.0.1",
            "a.b.",
            &"x".repeat(64),
        ] {
            assert!(DomainName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn only_the_root_creates_and_sees_every_organization() {
        let world = World::new();
        let org = tenant(&world);
        assert_eq!(org.domain, "tenant.test");
        let again = DomainName::parse("TENANT.TEST").unwrap();
        let err = organizations::create(&world.store, &world.root.as_caller(), &again, NOW);
        assert!(matches!(err, Err(Error::Conflict(_))), "{err:?}");
        let admin = world.create(&world.root, "a@example.com", Role::Administrator);
        let other = DomainName::parse("other.test").unwrap();
        let err = organizations::create(&world.store, &admin.as_caller(), &other, NOW);
        assert!(matches!(err, Err(Error::Forbidden(_))), "{err:?}");
        assert_eq!(
            organizations::list(&world.store, &world.root.as_caller())
                .unwrap()
                .len(),
            2
        );
        let own = organizations::list(&world.store, &admin.as_caller()).unwrap();
        assert_eq!((own.len(), own[0].default), (1, true));
        let hidden = organizations::find(
            &world.store,
            &admin.as_caller(),
            &OrganizationRef::Sid(org.sid),
        );
        assert!(matches!(hidden, Err(Error::NotFound(_))), "{hidden:?}");
        world.assert_consistent();
    }

    #[test]
    fn a_migration_moves_the_subtree_and_keeps_old_ha1_values_where_they_belong() {
        let world = World::new();
        let org = tenant(&world);
        let top = world.create(&world.root, "top@example.com", Role::Administrator);
        let below = world.create(&top, "below@example.com", Role::Developer);
        let alice = world.client(&below, "alice");
        let err = migrate(&world, &below, "tenant.test").unwrap_err();
        assert!(matches!(err, Error::Invalid(_)), "{err:?}");
        let moved = migrate(&world, &top, "tenant.test").unwrap();
        assert_eq!(moved.accounts, 2);
        assert_eq!(moved.clients_needing_password[0].sid, alice.sid);
        let stored = world.store.client(&alice.sid).unwrap().unwrap();
        assert_eq!(
            (stored.organization, stored.realm_organization),
            (org.sid, Some(world.org()))
        );
        // The login stays taken where its phones still register, and is found in both.
        assert!(world
            .store
            .client_by_login(&world.org(), "alice")
            .unwrap()
            .is_some());
        assert!(world
            .store
            .client_by_login(&org.sid, "alice")
            .unwrap()
            .is_some());
        world.assert_consistent();
        let err = migrate(&world, &top, &org.sid.to_string()).unwrap_err();
        assert!(matches!(err, Error::Invalid(_)), "{err:?}");
        // Back home: nothing needs a password, one login row again.
        let back = migrate(&world, &top, "pbx.test").unwrap();
        assert!(back.clients_needing_password.is_empty());
        assert!(world
            .store
            .client_by_login(&org.sid, "alice")
            .unwrap()
            .is_none());
        world.assert_consistent();
        // A login the target already has stops the whole migration.
        let there = world.create(&world.root, "there@example.com", Role::Administrator);
        migrate(&world, &there, "tenant.test").unwrap();
        world.client(&there, "bob");
        world.client(&below, "bob");
        let err = migrate(&world, &top, "tenant.test").unwrap_err();
        assert!(matches!(err, Error::Conflict(_)), "{err:?}");
        let unmoved = world.store.account(&below.sid).unwrap().unwrap();
        assert_eq!(unmoved.organization, world.org());
        world.assert_consistent();
    }
}
