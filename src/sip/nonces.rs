//! The nonce-use tracker: which nonces were used with which `nc`, and which died after a
//! failed response. Nonces themselves are stateless (`digest::mint_nonce`); only their uses
//! are remembered here, in a bounded two-generation map, so replay protection costs O(1) per
//! REGISTER and capped memory even in a flood.

use std::sync::Mutex;

use crate::clock::UnixSecs;
use crate::sip::digest;
use crate::sip::generations::Generations;
use crate::sync::lock;

/// Which nonces were used with which `nc`, and which died after a failed response, in a
/// bounded two-generation map (see `sip::generations`): a flood cannot grow it, and every
/// operation is O(1). A nonce minted before the map's horizon may have lost its record, so
/// its use is answered with a fresh nonce (`stale=true`) rather than trusted.
pub struct NonceTracker {
    uses: Mutex<Generations<u64, NonceUse>>,
}

/// Nonce records per generation: about 2 MB at most for both.
const NONCE_CAPACITY: usize = 32_768;

#[derive(Clone, Copy)]
struct NonceUse {
    last_nc: u32,
    dead: bool,
}

/// What the tracker says about one use of a nonce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonceUseCheck {
    /// First use, or a growing `nc`: recorded.
    Fresh,
    /// A dead nonce, or an `nc` that did not grow.
    Replay,
    /// Minted before the horizon: its record may be gone, ask for a new nonce.
    Forgotten,
}

impl NonceTracker {
    /// An empty tracker.
    pub fn new(now: UnixSecs) -> NonceTracker {
        NonceTracker {
            uses: Mutex::new(Generations::new(
                NONCE_CAPACITY,
                digest::NONCE_LIFETIME_SECS / 2,
                now,
            )),
        }
    }

    /// Records a successful use of a nonce minted at `minted`. Without qop there is no `nc`:
    /// such a nonce is good for one use.
    pub fn commit(
        &self,
        nonce: &str,
        minted: UnixSecs,
        nc: Option<u32>,
        now: UnixSecs,
    ) -> NonceUseCheck {
        let nc = nc.unwrap_or(1);
        let key = nonce_key(nonce);
        let mut uses = lock(&self.uses);
        match uses.get(&key).copied() {
            Some(entry) if entry.dead || nc <= entry.last_nc => NonceUseCheck::Replay,
            None if minted <= uses.horizon() => NonceUseCheck::Forgotten,
            _ => {
                uses.insert(
                    key,
                    NonceUse {
                        last_nc: nc,
                        dead: false,
                    },
                    now,
                );
                NonceUseCheck::Fresh
            }
        }
    }

    /// Lets an idle tracker drop what a storm left (see `Generations::expire`).
    pub fn expire(&self, now: UnixSecs) {
        lock(&self.uses).expire(now);
    }

    /// Kills a nonce after a failed response.
    pub fn kill(&self, nonce: &str, now: UnixSecs) {
        let mut uses = lock(&self.uses);
        uses.insert(
            nonce_key(nonce),
            NonceUse {
                last_nc: u32::MAX,
                dead: true,
            },
            now,
        );
    }
}

/// Nonces are signed by us, so a fixed-key hash of one cannot be steered by a peer.
fn nonce_key(nonce: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    nonce.hash(&mut hasher);
    hasher.finish()
}
