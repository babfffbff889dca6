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
