//! The organization trees: reads of `organizations` and `organization_domains`, the default
//! organization's pointer in `meta`, a new organization, and the one transaction of a
//! migration (accounts moved to another organization with their clients' login rows).

use sled::transaction::abort;
use sled::Transactional;

use crate::domain::OrganizationSid;
use crate::error::{Error, Result};
use crate::store::indexes::{self, ClientRows, ClientTrees, OrganizationRows};
use crate::store::records::{self, AccountRecord, ClientRecord, OrganizationRecord};
use crate::store::{keys, Store, WriteGuard};

/// The `meta` key of the default organization's id.
pub(super) const DEFAULT_ORGANIZATION: &[u8] = b"default_organization";

impl Store {
    /// Reads one organization.
    pub fn organization(&self, sid: &OrganizationSid) -> Result<Option<OrganizationRecord>> {
        match self.organizations.get(keys::organization(sid))? {
            Some(bytes) => Ok(Some(records::decode(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Reads one organization through the domain index (`domain_key` is lowercase).
    pub fn organization_by_domain(&self, domain_key: &str) -> Result<Option<OrganizationRecord>> {
        match self.organization_domains.get(keys::domain(domain_key))? {
            Some(id) => self.organization(&keys::decode_organization(&id)?),
            None => Ok(None),
        }
    }

    /// Every organization, in key order.
    pub fn all_organizations(&self) -> Result<Vec<OrganizationRecord>> {
        self.organizations
            .iter()
            .map(|entry| records::decode(&entry?.1))
            .collect()
    }

    /// The default organization: where the root Administrator, the box's own addresses and
    /// unknown domains belong.
    pub fn default_organization(&self) -> Result<OrganizationSid> {
        let bytes = self
            .meta
            .get(DEFAULT_ORGANIZATION)?
            .ok_or_else(|| Error::Corrupt("no default organization".to_string()))?;
        keys::decode_organization(&bytes)
    }

    /// Inserts a new organization with its domain index, then flushes. A taken domain is a
    /// `Conflict`, found inside the transaction.
    pub fn insert_organization(
        &self,
        _guard: &WriteGuard<'_>,
        record: &OrganizationRecord,
    ) -> Result<()> {
        let rows = OrganizationRows::of(record)?;
        (&self.organizations, &self.organization_domains)
            .transaction(|(organizations, domains)| {
                if organizations.get(rows.id)?.is_some() {
                    return abort(Error::Conflict("organization sid collision".to_string()));
                }
                rows.insert(organizations, domains)
            })
            .map_err(Error::from)?;
        self.written()
    }

    /// Moves accounts to another organization: replaces their records and each client
    /// `(old, new)` with its login rows, in one transaction, then flushes. A login row the
    /// target organization already gives another client is a `Conflict`, and nothing moves.
    pub fn move_accounts(
        &self,
        _guard: &WriteGuard<'_>,
        accounts: &[AccountRecord],
        clients: &[(ClientRecord, ClientRecord)],
    ) -> Result<()> {
        let accounts = indexes::encoded_accounts(accounts)?;
        let clients = clients
            .iter()
            .map(|(old, new)| {
                let rows = (ClientRows::of(old), ClientRows::of(new));
                Ok((rows, records::encode(new)?, new.login.as_str()))
            })
            .collect::<Result<Vec<_>>>()?;
        let trees = (
            &self.accounts,
            &self.clients,
            &self.account_clients,
            &self.client_logins,
        );
        trees
            .transaction(|(accounts_tree, clients_tree, account_clients, logins)| {
                for (id, value) in &accounts {
                    if accounts_tree.get(id)?.is_none() {
                        return abort(Error::NotFound("account"));
                    }
                    accounts_tree.insert(id, value.as_slice())?;
                }
                let trees = ClientTrees {
                    clients: clients_tree,
                    account_clients,
                    logins,
                };
                // Every old row goes first, so that clients moving together never collide
                // with each other's former rows.
                for ((old, _), _, _) in &clients {
                    old.remove(&trees)?;
                }
                for ((_, new), value, login) in &clients {
                    new.insert(&trees, value, login)?;
                }
                Ok(())
            })
            .map_err(Error::from)?;
        self.written()
    }
}
