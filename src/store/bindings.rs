//! The live bindings: an in-memory map, sharded by client, that the registrar and the API
//! read, backed by the `bindings` tree that a restart loads it from. Soft state: written
//! without a flush of its own (the wiring's soft-state flusher covers any change within
//! half a second; phones re-register), and a refresh that changes nothing a restart needs is
//! not written at all (see `update_bindings`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::clock::UnixSecs;
use crate::domain::ClientSid;
use crate::error::Result;
use crate::store::indexes;
use crate::store::records::{self, BindingRecord};
use crate::sync::lock;

/// The bindings in memory, sharded by client, over the tree that keeps them for a restart.
/// A client's shard lock serialises every change to its bindings, so the tree follows the
/// map. Sharded so that UDP workers registering different phones do not queue on one lock
/// (or on one preempted holder) during a storm.
pub(super) struct LiveBindings {
    /// Client id ++ contact hash → `BindingRecord`. Soft state: written without a flush.
    tree: sled::Tree,
    shards: Vec<Mutex<Shard>>,
    /// True once the tree has changes no flush has covered yet (see `Store::flush_soft_state`).
    unflushed: AtomicBool,
}

/// One shard of the in-memory bindings.
type Shard = HashMap<ClientSid, Vec<BindingRecord>>;

/// Shards of the in-memory bindings; SIDs are random, so their first byte spreads clients evenly.
const BINDING_SHARDS: usize = 16;

fn shard_of(client: &ClientSid) -> usize {
    usize::from(client.as_bytes()[0]) % BINDING_SHARDS
}

impl LiveBindings {
    /// Empty shards over `tree` (call `load` to fill them).
    pub fn new(tree: sled::Tree) -> LiveBindings {
        LiveBindings {
            tree,
            shards: (0..BINDING_SHARDS)
                .map(|_| Mutex::new(HashMap::new()))
                .collect(),
            unflushed: AtomicBool::new(false),
        }
    }

    /// True (and cleared) when the tree has changed since the last call: a flush is due.
    pub fn take_unflushed(&self) -> bool {
        self.unflushed.swap(false, Ordering::SeqCst)
    }

    /// The tree, for export and import.
    pub fn tree(&self) -> &sled::Tree {
        &self.tree
    }
}

impl LiveBindings {
    /// Loads the persisted bindings into memory, dropping the expired ones and those of the
    /// clients `may_keep` refuses (asked once per client), from memory and from the tree.
    /// Returns how many were kept.
    pub fn load(
        &self,
        now: UnixSecs,
        mut may_keep: impl FnMut(&ClientSid) -> Result<bool>,
    ) -> Result<usize> {
        let mut live: Vec<Shard> = (0..BINDING_SHARDS).map(|_| HashMap::new()).collect();
        let mut stale = Vec::new();
        let mut usable: HashMap<ClientSid, bool> = HashMap::new();
        for entry in self.tree.iter() {
            let (key, value) = entry?;
            let record: BindingRecord = records::decode(&value)?;
            let ok = match usable.get(&record.client) {
                Some(ok) => *ok,
                None => {
                    let ok = may_keep(&record.client)?;
                    usable.insert(record.client, ok);
                    ok
                }
            };
            if ok && record.expires_at > now {
                let record = BindingRecord {
                    stored_expires_at: record.expires_at,
                    ..record
                };
                live[shard_of(&record.client)]
                    .entry(record.client)
                    .or_default()
                    .push(record);
            } else {
                stale.push(key);
            }
        }
        for key in stale {
            self.tree.remove(key)?;
            self.unflushed.store(true, Ordering::SeqCst);
        }
        let kept = live.iter().flat_map(HashMap::values).map(Vec::len).sum();
        for (shard, loaded) in self.shards.iter().zip(live) {
            *lock(shard) = loaded;
        }
        Ok(kept)
    }

    /// The current bindings of a client (expired ones included until the sweeper runs).
    pub fn of(&self, client: &ClientSid) -> Vec<BindingRecord> {
        self.live_of(client)
            .get(client)
            .cloned()
            .unwrap_or_default()
    }

    /// How many unexpired bindings a client has.
    pub fn count(&self, client: &ClientSid, now: UnixSecs) -> usize {
        self.live_of(client).get(client).map_or(0, |list| {
            list.iter()
                .filter(|binding| binding.expires_at > now)
                .count()
        })
    }

    /// Runs `change` on a client's bindings under the bindings lock: it gets the bindings as
    /// they are and returns them as they shall be (with a value for the caller); what changed
    /// goes to the tree without a flush (soft state: phones re-register). `change` may read
    /// the store (reads take no lock) to re-check that the client may still register.
    ///
    /// A refresh that changes only Call-ID, CSeq and a later expiry is written only when the
    /// stored expiry is less than half the newly granted time away. So the stored expiry never
    /// exceeds the real one, and after a restart it still reaches the phone's next refresh:
    /// a phone refreshing at intervals above half its grant is written every time, one
    /// refreshing more often is written before the stored copy runs out. A phone refreshing
    /// every half grant costs a write every other refresh, and one re-registering in a boot
    /// storm loop far fewer; a stale Call-ID or CSeq after a restart only skips an ordering
    /// check (RFC 3261 §10.3 step 7), it never refuses a newer request.
    pub fn update<T>(
        &self,
        client: &ClientSid,
        now: UnixSecs,
        change: impl FnOnce(&[BindingRecord]) -> Result<(Vec<BindingRecord>, T)>,
    ) -> Result<T> {
        let mut live = self.live_of(client);
        let before = live.get(client).map_or(&[][..], Vec::as_slice);
        let (mut after, out) = change(before)?;
        self.write(now, before, &mut after)?;
        if after.is_empty() {
            live.remove(client);
        } else {
            // Most phones hold one binding, and a Vec's first push reserves four: without
            // this, 10,000 registered phones kept ~5 MB of empty slots (measured, heaptrack).
            after.shrink_to_fit();
            live.insert(*client, after);
        }
        Ok(out)
    }

    /// Writes what changed between `before` and `after` to the tree (see `update` for when a
    /// refresh is written) and records in `after` what the tree now holds.
    fn write(
        &self,
        now: UnixSecs,
        before: &[BindingRecord],
        after: &mut [BindingRecord],
    ) -> Result<()> {
        for old in before {
            if !after.iter().any(|binding| binding.contact == old.contact) {
                self.tree.remove(indexes::binding_key(old))?;
                self.unflushed.store(true, Ordering::SeqCst);
            }
        }
        for binding in after.iter_mut() {
            let stored = before.iter().find(|old| old.contact == binding.contact);
            let write = stored.is_none_or(|old| {
                let granted = binding.expires_at - now;
                !old.same_binding(binding)
                    || binding.expires_at < old.stored_expires_at
                    || 2 * (old.stored_expires_at - now) < granted
            });
            if write {
                self.tree
                    .insert(indexes::binding_key(binding), records::encode(binding)?)?;
                self.unflushed.store(true, Ordering::SeqCst);
                binding.stored_expires_at = binding.expires_at;
            } else if let Some(old) = stored {
                binding.stored_expires_at = old.stored_expires_at;
            }
        }
        Ok(())
    }

    /// Drops every binding of these clients at once (disabled, deleted, account not active).
    pub fn drop(&self, clients: &[ClientSid]) -> Result<usize> {
        let mut dropped = 0;
        for client in clients {
            let mut live = self.live_of(client);
            for binding in live.remove(client).unwrap_or_default() {
                self.tree.remove(indexes::binding_key(&binding))?;
                self.unflushed.store(true, Ordering::SeqCst);
                dropped += 1;
            }
        }
        Ok(dropped)
    }

    /// Removes expired bindings from memory and from the tree; returns how many.
    pub fn purge_expired(&self, now: UnixSecs) -> Result<usize> {
        let mut purged = 0;
        for shard in &self.shards {
            let mut live = lock(shard);
            for list in live.values_mut() {
                for binding in list.iter().filter(|binding| binding.expires_at <= now) {
                    self.tree.remove(indexes::binding_key(binding))?;
                    self.unflushed.store(true, Ordering::SeqCst);
                    purged += 1;
                }
                list.retain(|binding| binding.expires_at > now);
            }
            live.retain(|_, list| !list.is_empty());
        }
        Ok(purged)
    }

    /// True when any binding satisfies `pred` (a scan of every shard, one lock at a time).
    pub fn any(&self, pred: impl Fn(&BindingRecord) -> bool) -> bool {
        self.shards
            .iter()
            .any(|shard| lock(shard).values().flatten().any(&pred))
    }

    /// Calls `tally` with every unexpired binding (a scan of every shard, one lock at a time).
    pub fn tally(&self, now: UnixSecs, mut tally: impl FnMut(&BindingRecord)) {
        for shard in &self.shards {
            let shard = lock(shard);
            shard
                .values()
                .flatten()
                .filter(|b| b.expires_at > now)
                .for_each(&mut tally);
        }
    }

    /// The locked shard that holds `client`'s bindings.
    fn live_of(&self, client: &ClientSid) -> MutexGuard<'_, Shard> {
        // A panic under a shard lock can at worst have taken one client's list out of memory
        // (soft state: the tree still has it for a restart, and the phone re-registers).
        lock(&self.shards[shard_of(client)])
    }
}
