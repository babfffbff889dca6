//! The in-crate test fixture, one for every tier below the binary: a temporary store with a
//! root Administrator, and the few steps every test repeats (sub-accounts, clients, a status
//! change, the invariant check). Domain, store, registrar and API tests build on it.

use crate::clock::UnixSecs;
use crate::domain::accounts::{self, Account, AccountChanges, Issued, Limits, NewAccount};
use crate::domain::clients::{self, Client, ClientChanges, NewClient, VoiceChanges};
use crate::domain::{AccountRef, Email, Login, Password, Role, Status};
use crate::error::Result;
use crate::store::{check, Store};

#[path = "../tests/common/credentials.rs"]
pub mod credentials;

/// The clock of every fixture: a fixed moment.
pub const NOW: UnixSecs = 1_700_000_000;

/// The realm the fixture's clients are made for.
pub const REALM: &str = "pbx.test";

/// The root Administrator's password.
pub const ROOT_PASSWORD: &str = "rootpass123";

/// Account tree limits for the fixture.
pub const LIMITS: Limits = Limits { max_depth: 16 };

/// A temporary store with its root Administrator.
pub struct World {
    /// The store.
    pub store: Store,
    /// The root Administrator (`admin@localhost`).
    pub root: Account,
    /// The root's AuthToken.
    pub root_token: String,
}

impl World {
    /// An empty store with its first Administrator, created at [`NOW`].
    pub fn new() -> World {
        World::with(Store::open_temporary(REALM).unwrap())
    }

    /// The same in the data directory `dir`, made there (tests that reopen it).
    pub fn in_dir(dir: &std::path::Path) -> World {
        World::with(Store::open(dir, 1 << 20, REALM, NOW).unwrap())
    }

    /// The same around `store`, which must be empty.
    pub fn with(store: Store) -> World {
        let issued = accounts::create_root(
            &store,
            &Email::parse("admin@localhost").unwrap(),
            &Password::parse(ROOT_PASSWORD).unwrap(),
            NOW,
        )
        .unwrap();
        World {
            store,
            root: issued.account,
            root_token: issued.auth_token.unwrap(),
        }
    }

    /// The default organization (whose domain is [`REALM`]).
    pub fn org(&self) -> crate::domain::OrganizationSid {
        self.store.default_organization().unwrap()
    }

    /// A sub-account of `parent`, created by `parent`.
    pub fn create(&self, parent: &Account, email: &str, role: Role) -> Account {
        self.try_create(parent, email, role, None).unwrap()
    }

    /// The same, with a status, as a `Result`.
    pub fn try_create(
        &self,
        parent: &Account,
        email: &str,
        role: Role,
        status: Option<Status>,
    ) -> Result<Account> {
        let new = NewAccount {
            email: Email::parse(email).unwrap(),
            password: Password::parse("password1").unwrap(),
            friendly_name: None,
            role: Some(role),
            status,
            organization: None,
        };
        accounts::create(
            &self.store,
            &parent.as_caller(),
            &AccountRef::Sid(parent.sid),
            new,
            LIMITS,
            NOW,
        )
        .map(|issued| issued.account)
    }

    /// `caller` applies `changes` to `target` (named by its email) at [`NOW`].
    pub fn update(
        &self,
        caller: &Account,
        target: &Account,
        changes: AccountChanges,
    ) -> Result<Issued> {
        let target = AccountRef::parse(&target.email);
        accounts::update(&self.store, &caller.as_caller(), &target, changes, NOW)
    }

    /// `caller` sets `target`'s status (one second after [`NOW`]).
    pub fn set_status(&self, caller: &Account, target: &Account, status: Status) -> Result<()> {
        let changes = AccountChanges {
            status: Some(status),
            ..AccountChanges::default()
        };
        let target = target.sid.into();
        accounts::update(&self.store, &caller.as_caller(), &target, changes, NOW + 1).map(|_| ())
    }

    /// An account's status as stored now.
    pub fn status(&self, account: &Account) -> Status {
        self.store.account(&account.sid).unwrap().unwrap().status
    }

    /// A client of `owner` with password `{login}-secret`, created by the root for [`REALM`].
    pub fn client(&self, owner: &Account, login: &str) -> Client {
        let new = new_client(login, &format!("{login}-secret"));
        let owner = owner.sid.into();
        clients::create(&self.store, &self.root.as_caller(), &owner, new, NOW).unwrap()
    }

    /// The client with this login, as the API would show it.
    pub fn client_named(&self, login: &str) -> Client {
        Client::of(
            &self
                .store
                .client_by_login(&self.org(), login)
                .unwrap()
                .unwrap(),
        )
    }

    /// The root enables or disables `client`.
    pub fn set_enabled(&self, client: &Client, enabled: bool) -> Result<Client> {
        let changes = ClientChanges {
            enabled: Some(enabled),
            ..ClientChanges::default()
        };
        let (account, root) = (client.account.into(), self.root.as_caller());
        clients::update(&self.store, &root, &account, &client.sid, changes, NOW)
    }

    /// Fails the test when the store's invariant check finds anything.
    #[track_caller]
    pub fn assert_consistent(&self) {
        let problems = check::run(&self.store).unwrap();
        assert!(problems.is_empty(), "store check: {problems:#?}");
    }
}

/// What a create of client `login` with `password` asks for, defaults otherwise.
pub fn new_client(login: &str, password: &str) -> NewClient {
    NewClient {
        login: Login::parse(login).unwrap(),
        password: Password::parse_sip(password).unwrap(),
        friendly_name: None,
        enabled: None,
        voice: VoiceChanges::default(),
    }
}
