//! Bringing a data directory to the current schema when `Store::open` finds an older one,
//! and keeping the default organization's domain equal to `sip.realm`.
//!
//! Schema 1 (before organizations) becomes 2 in one transaction, so a crash leaves either
//! the old data, which the next start upgrades again, or the new: the default organization
//! is created with the configured domain, every account and client is placed in it, and the
//! login index is re-keyed per organization. Records are upgraded as JSON values, so the
//! upgrade needs no copy of the old record types, and each is decoded as a current record
//! before anything is written.

use sled::Transactional;

use crate::clock::UnixSecs;
use crate::domain::{OrganizationSid, Status};
use crate::error::{Error, Result};
use crate::store::indexes::{self, ClientRows, OrganizationRows};
use crate::store::organizations::DEFAULT_ORGANIZATION;
use crate::store::records::{self, AccountRecord, ClientRecord, OrganizationRecord};
use crate::store::{Store, SCHEMA_VERSION};

impl Store {
    /// Upgrades schema 1 (or a new, empty store) to 2; see the module's comment.
    pub(super) fn upgrade_to_2(&self, default_domain: &str, now: UnixSecs) -> Result<()> {
        let organization = OrganizationRecord {
            sid: OrganizationSid::random()?,
            domain: default_domain.to_string(),
            status: Status::Active,
            created: now,
            updated: now,
        };
        let accounts: Vec<AccountRecord> = placed(&self.accounts, organization.sid)?;
        let clients: Vec<ClientRecord> = placed(&self.clients, organization.sid)?;
        let old_logins = self
            .client_logins
            .iter()
            .keys()
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let org_rows = OrganizationRows::of(&organization)?;
        let accounts = indexes::encoded_accounts(&accounts)?;
        let clients = clients
            .iter()
            .map(|record| Ok((ClientRows::of(record), records::encode(record)?)))
            .collect::<Result<Vec<_>>>()?;
        let trees = (
            &self.meta,
            &self.organizations,
            &self.organization_domains,
            &self.accounts,
            &self.clients,
            &self.client_logins,
        );
        trees
            .transaction(
                |(meta, organizations, domains, accounts_tree, clients_tree, logins)| {
                    org_rows.insert(organizations, domains)?;
                    meta.insert(DEFAULT_ORGANIZATION, &org_rows.id)?;
                    for (id, value) in &accounts {
                        accounts_tree.insert(id, value.as_slice())?;
                    }
                    for key in &old_logins {
                        logins.remove(key)?;
                    }
                    for (rows, value) in &clients {
                        clients_tree.insert(&rows.id, value.as_slice())?;
                        for key in &rows.logins {
                            logins.insert(key.as_slice(), &rows.id)?;
                        }
                    }
                    meta.insert(b"schema_version", &SCHEMA_VERSION.to_be_bytes())?;
                    Ok(())
                },
            )
            .map_err(Error::from)?;
        if !accounts.is_empty() {
            log::info!(
                "data upgraded to schema {SCHEMA_VERSION}: {} accounts and {} clients placed \
                 in the default organization {} ({default_domain})",
                accounts.len(),
                clients.len(),
                organization.sid
            );
        }
        self.written()
    }

    /// Renames the default organization when `sip.realm` changed. Its clients' HA1 values
    /// are for the old name, so their phones are refused with a 403 that says why until
    /// they get new passwords.
    pub(super) fn follow_default_domain(&self, domain: &str, now: UnixSecs) -> Result<()> {
        let sid = self.default_organization()?;
        let mut record = self
            .organization(&sid)?
            .ok_or_else(|| Error::Corrupt(format!("default organization {sid} missing")))?;
        if record.domain == domain {
            return Ok(());
        }
        if let Some(owner) = self.organization_by_domain(&domain.to_ascii_lowercase())? {
            if owner.sid != sid {
                return Err(Error::Io(std::io::Error::other(format!(
                    "sip.realm {domain} is the domain of organization {}; the default \
                     organization needs a domain of its own",
                    owner.sid
                ))));
            }
        }
        let old = OrganizationRows::of(&record)?;
        log::warn!(
            "sip.realm changed from {} to {domain}: the default organization follows; its \
             clients need new passwords (their HA1 values are for the old realm)",
            record.domain
        );
        record.domain = domain.to_string();
        record.updated = now;
        let new = OrganizationRows::of(&record)?;
        (&self.organizations, &self.organization_domains)
            .transaction(|(organizations, domains)| {
                domains.remove(old.domain.as_slice())?;
                new.insert(organizations, domains)
            })
            .map_err(Error::from)?;
        self.written()
    }
}

/// Every record of `tree` as JSON with `"organization"` set, decoded as a current record.
fn placed<T: serde::de::DeserializeOwned>(
    tree: &sled::Tree,
    organization: OrganizationSid,
) -> Result<Vec<T>> {
    tree.iter()
        .map(|entry| {
            let (_, bytes) = entry?;
            let mut value: serde_json::Value = records::decode(&bytes)?;
            let object = value
                .as_object_mut()
                .ok_or_else(|| Error::Corrupt("a record that is not an object".to_string()))?;
            object
                .entry("organization")
                .or_insert_with(|| organization.to_string().into());
            serde_json::from_value(value).map_err(|err| Error::Corrupt(format!("upgrade: {err}")))
        })
        .collect()
}
