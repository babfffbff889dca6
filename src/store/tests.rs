//! Tests of the store's own machinery on a temporary store: the invariant checker, the live
//! bindings and their write policy, and the registrar's decoded-record cache.

use crate::domain::clients::Client;
use crate::domain::{self, clients};
use crate::domain::{AccountRef, Role, Status};
use crate::store::check;
use crate::store::records::BindingRecord;
use crate::testing::{World, NOW};

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

#[test]
fn store_check_reports_a_dangling_login() {
    let world = World::new();
    let alice = world.client(&world.root, "alice");
    // Bypass the store's API to break the index on purpose.
    world
        .store
        .corrupt_login_index("ghost", &alice.sid)
        .unwrap();
    let problems = check::run(&world.store).unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("ghost"));
}

/// What a crash between the plain writes of one client can leave (see `insert_client`),
/// mended by the repair `open` runs: the record is the truth.
mod interrupted_client_writes {
    use super::*;
    use crate::store::indexes::ClientRows;

    fn rows(world: &World, client: &Client) -> ClientRows {
        ClientRows::of(&world.store.client(&client.sid).unwrap().unwrap())
    }

    #[test]
    fn a_record_without_its_rows_gets_them_back() {
        let world = World::new();
        let alice = world.client(&world.root, "alice");
        let rows = rows(&world, &alice);
        world.store.account_clients.remove(rows.edge).unwrap();
        world.store.client_logins.remove(&rows.logins[0]).unwrap();
        assert_eq!(check::run(&world.store).unwrap().len(), 2);
        assert_eq!(world.store.repair_client_rows().unwrap(), 2);
        world.assert_consistent();
        let found = world.store.client_by_login(&world.org(), "alice").unwrap();
        assert_eq!(found.map(|record| record.sid), Some(alice.sid));
    }

    #[test]
    fn rows_without_their_record_go() {
        let world = World::new();
        let alice = world.client(&world.root, "alice");
        let bob = world.client(&world.root, "bob");
        world.store.clients.remove(rows(&world, &alice).id).unwrap();
        assert_eq!(world.store.repair_client_rows().unwrap(), 2);
        world.assert_consistent();
        assert!(world
            .store
            .client_by_login(&world.org(), "alice")
            .unwrap()
            .is_none());
        let left = world.store.account_clients(&world.root.sid).unwrap();
        assert_eq!(left.iter().map(|c| c.sid).collect::<Vec<_>>(), [bob.sid]);
    }

    #[test]
    fn a_login_row_the_record_no_longer_names_goes() {
        let world = World::new();
        let alice = world.client(&world.root, "alice");
        let stale =
            crate::store::keys::login(&crate::domain::OrganizationSid::random().unwrap(), "alice");
        world
            .store
            .client_logins
            .insert(stale.as_slice(), &rows(&world, &alice).id)
            .unwrap();
        assert_eq!(check::run(&world.store).unwrap().len(), 1);
        assert_eq!(world.store.repair_client_rows().unwrap(), 1);
        world.assert_consistent();
    }

    #[test]
    fn an_account_without_its_rows_gets_them_back_and_stray_rows_go() {
        let world = World::new();
        let a = world.create(&world.root, "a@example.com", Role::Developer);
        let rows =
            crate::store::indexes::AccountRows::of(&world.store.account(&a.sid).unwrap().unwrap())
                .unwrap();
        world.store.account_emails.remove(&rows.email).unwrap();
        world
            .store
            .account_children
            .remove(rows.edge.unwrap())
            .unwrap();
        let ghost = crate::domain::AccountSid::random().unwrap();
        let stray = crate::store::keys::email("ghost@example.com");
        world
            .store
            .account_emails
            .insert(stray, &crate::store::keys::account(&ghost))
            .unwrap();
        assert_eq!(check::run(&world.store).unwrap().len(), 3);
        assert_eq!(world.store.repair_account_rows().unwrap(), 3);
        world.assert_consistent();
        let found = world.store.account_by_email("a@example.com").unwrap();
        assert_eq!(found.map(|record| record.sid), Some(a.sid));
        assert_eq!(world.store.children(&world.root.sid).unwrap(), [a.sid]);
    }

    #[test]
    fn a_consistent_store_is_left_unwritten() {
        let world = World::new();
        let a = world.create(&world.root, "a@example.com", Role::Developer);
        world.client(&world.root, "alice");
        world.client(&a, "bob");
        world.store.flush().unwrap();
        let before = world.store.db.size_on_disk().unwrap();
        assert_eq!(world.store.repair_account_rows().unwrap(), 0);
        assert_eq!(world.store.repair_client_rows().unwrap(), 0);
        assert_eq!(world.store.db.size_on_disk().unwrap(), before);
    }

    #[test]
    fn opening_a_data_directory_mends_it() {
        let dir = std::env::temp_dir().join(format!("edgecomm-mend-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let world = World::in_dir(&dir);
        let alice = world.client(&world.root, "alice");
        let rows = rows(&world, &alice);
        world.store.account_clients.remove(rows.edge).unwrap();
        world.store.client_logins.remove(&rows.logins[0]).unwrap();
        world.store.flush().unwrap();
        drop(world);
        let store = crate::store::Store::open(&dir, 1 << 20, crate::testing::REALM, NOW).unwrap();
        assert_eq!(check::run(&store).unwrap(), Vec::<String>::new());
        let org = store.default_organization().unwrap();
        assert!(store.client_by_login(&org, "alice").unwrap().is_some());
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

mod bindings {
    use super::*;

    pub(super) fn binding(client: &Client, contact: &str, expires_at: i64) -> BindingRecord {
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

    /// Adds one binding to its client's, as the registrar would.
    pub(super) fn add(world: &World, new: BindingRecord) {
        let client = new.client;
        world
            .store
            .update_bindings(&client, NOW, |old| {
                let mut list = old.to_vec();
                list.push(new);
                Ok((list, ()))
            })
            .unwrap();
    }

    #[test]
    fn refreshes_are_written_only_when_a_restart_would_need_them() {
        let world = World::new();
        let alice = world.client(&world.root, "alice");
        let refresh = |at: i64, expires: i64, cseq: u32, source: &str| {
            world
                .store
                .update_bindings(&alice.sid, at, |_| {
                    let mut fresh = binding(&alice, "sip:a@1", at + expires);
                    fresh.cseq = cseq;
                    fresh.source = source.parse().unwrap();
                    Ok((vec![fresh], ()))
                })
                .unwrap();
        };
        let live = || world.store.bindings(&alice.sid)[0].clone();
        // A restart: the map is rebuilt from what was written.
        let restart = |at: i64| {
            assert_eq!(domain::bindings::restore(&world.store, at).unwrap(), 1);
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
    fn soft_state_is_flushed_only_after_it_changed() {
        let world = World::new();
        let alice = world.client(&world.root, "alice");
        assert!(
            !world.store.flush_soft_state().unwrap(),
            "nothing changed yet"
        );
        add(&world, binding(&alice, "sip:alice@192.0.2.1", NOW + 3600));
        assert!(
            world.store.flush_soft_state().unwrap(),
            "a new binding is due"
        );
        assert!(!world.store.flush_soft_state().unwrap(), "and only once");
        world.store.drop_bindings(&[alice.sid]).unwrap();
        assert!(world.store.flush_soft_state().unwrap(), "a dropped one too");
    }

    #[test]
    fn the_sweeper_removes_only_expired_bindings() {
        let world = World::new();
        let alice = world.client(&world.root, "alice");
        add(&world, binding(&alice, "sip:a@1", NOW + 10));
        add(&world, binding(&alice, "sip:a@2", NOW + 100));
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
            domain::bindings::restore(&world.store, NOW).unwrap(),
            0,
            "the tree followed the map"
        );
    }

    #[test]
    fn loading_keeps_live_bindings_and_drops_leftovers() {
        let world = World::new();
        let tenant = world.create(&world.root, "t@example.com", Role::Administrator);
        let alice = world.client(&world.root, "alice");
        let bob = world.client(&world.root, "bob");
        let carol = world.client(&tenant, "carol");
        for (client, contact) in [(&alice, "sip:a@1"), (&bob, "sip:b@1"), (&carol, "sip:c@1")] {
            add(&world, binding(client, contact, NOW + 100));
        }
        // Leftovers a crash could leave: bindings written after their client lost the right.
        add(&world, binding(&alice, "sip:a@old", NOW - 1));
        clients::delete(
            &world.store,
            &world.root.as_caller(),
            &AccountRef::parse(&world.root.email),
            &bob.sid,
        )
        .unwrap();
        add(&world, binding(&bob, "sip:b@1", NOW + 100));
        world
            .set_status(&world.root, &tenant, Status::Suspended)
            .unwrap();
        add(&world, binding(&carol, "sip:c@1", NOW + 100));
        assert_eq!(domain::bindings::restore(&world.store, NOW).unwrap(), 1);
        assert_eq!(world.store.bindings(&alice.sid).len(), 1);
        assert!(world.store.bindings(&bob.sid).is_empty());
        assert!(world.store.bindings(&carol.sid).is_empty());
    }
}

mod record_cache {
    use super::*;
    use crate::domain::clients::{self, ClientChanges};

    fn stored_ha1(world: &World, client: &Client) -> String {
        world.store.client(&client.sid).unwrap().unwrap().ha1_md5
    }

    #[test]
    fn the_registrars_cached_view_follows_client_writes() {
        let world = World::new();
        let tenant = world.create(&world.root, "t@example.com", Role::Administrator);
        let alice = world.client(&tenant, "alice");
        let cached = world
            .store
            .auth_by_login(&world.org(), "alice")
            .unwrap()
            .unwrap();
        assert!(cached.enabled);
        let by_sid = world.store.auth_by_sid(&alice.sid).unwrap().unwrap();
        assert_eq!(by_sid.ha1_md5_hex(), stored_ha1(&world, &alice));

        world.set_enabled(&alice, false).unwrap();
        assert!(
            !world
                .store
                .auth_by_login(&world.org(), "alice")
                .unwrap()
                .unwrap()
                .enabled
        );
        assert!(
            !world
                .store
                .auth_by_sid(&alice.sid)
                .unwrap()
                .unwrap()
                .enabled
        );

        let rekey = ClientChanges {
            password: Some(crate::domain::Password::parse_sip("other-pass2").unwrap()),
            ..ClientChanges::default()
        };
        let tenant_ref = AccountRef::parse(&tenant.email);
        let root = world.root.as_caller();
        let rekeyed =
            clients::update(&world.store, &root, &tenant_ref, &alice.sid, rekey, NOW).unwrap();
        let cached = world
            .store
            .auth_by_login(&world.org(), "alice")
            .unwrap()
            .unwrap();
        assert_eq!(cached.ha1_md5_hex(), stored_ha1(&world, &rekeyed));

        clients::delete(&world.store, &root, &tenant_ref, &alice.sid).unwrap();
        assert!(world
            .store
            .auth_by_login(&world.org(), "alice")
            .unwrap()
            .is_none());
        assert!(world.store.auth_by_sid(&alice.sid).unwrap().is_none());
        let again = world.client(&world.root, "alice");
        assert_eq!(
            world
                .store
                .auth_by_login(&world.org(), "alice")
                .unwrap()
                .unwrap()
                .sid,
            again.sid
        );
    }

    #[test]
    fn the_registrars_cached_view_follows_account_writes() {
        let world = World::new();
        let tenant = world.create(&world.root, "t@example.com", Role::Administrator);
        assert_eq!(
            world.store.account_status(&tenant.sid).unwrap(),
            Some(Status::Active)
        );
        world
            .set_status(&world.root, &tenant, Status::Suspended)
            .unwrap();
        assert_eq!(
            world.store.account_status(&tenant.sid).unwrap(),
            Some(Status::Suspended)
        );
    }
}

/// The organization invariants of `edgecomm check` (and of an import), one corruption each.
mod organizations {
    use std::collections::HashMap;

    use super::*;
    use crate::domain::{AccountSid, OrganizationSid};
    use crate::store::records::{AccountRecord, OrganizationRecord};

    type Maps = (
        HashMap<AccountSid, AccountRecord>,
        HashMap<OrganizationSid, OrganizationRecord>,
    );

    /// The records of `accounts` and of every organization, as the checker reads them.
    fn maps(world: &World, accounts: &[AccountSid]) -> Maps {
        let record = |sid: &AccountSid| world.store.account(sid).unwrap().unwrap();
        let accounts = accounts.iter().map(|sid| (*sid, record(sid))).collect();
        let all = world.store.all_organizations().unwrap();
        (
            accounts,
            all.into_iter().map(|org| (org.sid, org)).collect(),
        )
    }

    /// An organization the store does not hold, shaped like the default one.
    fn another(world: &World, domain: &str) -> OrganizationRecord {
        let mut record = world.store.organization(&world.org()).unwrap().unwrap();
        record.sid = OrganizationSid::random().unwrap();
        record.domain = domain.to_string();
        record
    }

    #[test]
    fn a_sub_account_must_be_in_its_parents_organization_and_every_one_must_exist() {
        let world = World::new();
        let a = world.create(&world.root, "a@example.com", Role::Administrator);
        let b = world.create(&a, "b@example.com", Role::Developer);
        let (mut accounts, mut orgs) = maps(&world, &[world.root.sid, a.sid, b.sid]);
        assert_eq!(
            check::organization_problems(&accounts, &orgs),
            Vec::<String>::new()
        );
        // A top-level account may be elsewhere (placed there or migrated)…
        let tenant = another(&world, "tenant.test");
        orgs.insert(tenant.sid, tenant.clone());
        accounts.get_mut(&a.sid).unwrap().organization = tenant.sid;
        let problems = check::organization_problems(&accounts, &orgs);
        // …but its sub-accounts go with it.
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains(&b.sid.to_string()), "{problems:?}");
        accounts.get_mut(&b.sid).unwrap().organization = tenant.sid;
        assert_eq!(
            check::organization_problems(&accounts, &orgs),
            Vec::<String>::new()
        );
        orgs.remove(&tenant.sid);
        let problems = check::organization_problems(&accounts, &orgs);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems
            .iter()
            .all(|p| p.contains("in missing organization")));
    }

    #[test]
    fn a_client_must_be_in_its_accounts_organization_with_ha1_values_of_an_existing_other_one() {
        let world = World::new();
        let alice = world.client(&world.root, "alice");
        let mut client = world.store.client(&alice.sid).unwrap().unwrap();
        let (accounts, mut orgs) = maps(&world, &[world.root.sid]);
        let problem = |client: &_, orgs: &_| check::client_account_problem(client, &accounts, orgs);
        assert_eq!(problem(&client, &orgs), None);
        let tenant = another(&world, "tenant.test");
        orgs.insert(tenant.sid, tenant.clone());
        client.organization = tenant.sid;
        let moved = problem(&client, &orgs).expect("a client outside its account's organization");
        assert!(moved.contains("its account"), "{moved}");
        client.organization = world.org();
        // HA1 values of another organization: fine while that one exists (after a migration).
        client.realm_organization = Some(tenant.sid);
        assert_eq!(problem(&client, &orgs), None);
        for realm in [world.org(), OrganizationSid::random().unwrap()] {
            client.realm_organization = Some(realm);
            let bad = problem(&client, &orgs).expect("HA1 values of its own or a missing one");
            assert!(bad.contains("HA1 values"), "{bad}");
        }
    }

    #[test]
    fn store_check_reports_a_broken_domain_index_and_a_missing_default() {
        let world = World::new();
        let default = world.store.organization(&world.org()).unwrap().unwrap();
        // Bypass the store's API to break the index on purpose.
        world.store.organization_domains.clear().unwrap();
        let problems = check::run(&world.store).unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("missing from the domain index"),
            "{problems:?}"
        );
        world.store.organizations.clear().unwrap();
        // The index back, but no record for it to point at.
        let key = crate::store::keys::domain(&default.domain);
        let sid = default.sid.as_bytes().to_vec();
        world.store.organization_domains.insert(key, sid).unwrap();
        let problems = check::run(&world.store).unwrap();
        assert!(
            problems
                .iter()
                .any(|p| p.contains("points at no matching organization")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("default organization")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("in missing organization")),
            "{problems:?}"
        );
    }
}

/// New data directories get small segments; one made with sled's default 512 KiB ones (the
/// releases before) is moved to them at open with every record and binding, and a move a
/// crash interrupted is finished or undone at the next open.
#[test]
fn a_data_directory_made_with_large_segments_is_moved_to_small_ones() {
    use crate::store::Store;
    let base = std::env::temp_dir().join(format!("edgecomm-segments-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let db = base.join("db");
    let conf = || String::from_utf8_lossy(&std::fs::read(db.join("conf")).unwrap()).into_owned();
    let open = || Store::open(&db, 1 << 20, crate::testing::REALM, NOW).unwrap();
    let (new, old) = (base.join("db.new"), base.join("db.old"));

    let world = World::with(
        Store::open_with(&db, 1 << 20, 512 * 1024, crate::testing::REALM, NOW).unwrap(),
    );
    let alice = world.client(&world.root, "alice");
    bindings::add(
        &world,
        bindings::binding(&alice, "sip:alice@10.0.0.5", NOW + 600),
    );
    world.store.flush_soft_state().unwrap();
    let root = world.root.sid;
    drop(world);
    assert!(conf().contains("segment_size: 524288"), "{}", conf());

    let kept = |store: &Store| {
        assert_eq!(check::run(store).unwrap(), Vec::<String>::new());
        assert!(store.account(&root).unwrap().is_some());
        let org = store.default_organization().unwrap();
        assert!(store.client_by_login(&org, "alice").unwrap().is_some());
        assert_eq!(store.load_bindings(NOW, |_| Ok(true)).unwrap(), 1);
        assert_eq!(store.bindings(&alice.sid).len(), 1);
    };
    let store = open();
    assert!(conf().contains("segment_size: 32768"), "{}", conf());
    kept(&store);
    drop(store);
    assert!(!new.exists() && !old.exists());

    // A crash between the renames: `db` is gone, `db.new` is the complete copy.
    std::fs::rename(&db, &new).unwrap();
    std::fs::create_dir(&old).unwrap();
    let store = open();
    kept(&store);
    drop(store);
    assert!(!new.exists() && !old.exists());

    // What a crash during a copy leaves: `db` whole, a partial `db.new`, removed at open.
    std::fs::create_dir(&new).unwrap();
    std::fs::write(new.join("conf"), "segment_size: 32768\n").unwrap();
    let store = open();
    kept(&store);
    drop(store);
    assert!(!new.exists());
    std::fs::remove_dir_all(&base).unwrap();
}
