//! A bounded map for soft state that only matters for a while (nonce uses, retransmission
//! answers): two generations of a `HashMap`, the older one dropped whole when the newer one
//! is full or old enough.
//!
//! Every operation is O(1) amortised and memory never exceeds two full generations, even in
//! a flood. Entries inserted at or after [`Generations::horizon`] are guaranteed to be still
//! there; older ones may be gone, and callers must treat "absent" accordingly (the nonce
//! tracker then asks for a fresh nonce).

use std::collections::HashMap;
use std::hash::Hash;

use crate::clock::UnixSecs;

/// Two generations of a map, rotated by size and by age.
pub struct Generations<K, V> {
    current: HashMap<K, V>,
    previous: HashMap<K, V>,
    current_started: UnixSecs,
    previous_started: UnixSecs,
    capacity: usize,
    max_age: UnixSecs,
}

impl<K: Hash + Eq, V> Generations<K, V> {
    /// Each generation holds at most `capacity` entries and lives at most `max_age` seconds.
    pub fn new(capacity: usize, max_age: UnixSecs, now: UnixSecs) -> Generations<K, V> {
        Generations {
            current: HashMap::new(),
            previous: HashMap::new(),
            current_started: now,
            previous_started: now,
            capacity,
            max_age,
        }
    }

    /// Everything inserted at or after this time is still present.
    pub fn horizon(&self) -> UnixSecs {
        self.previous_started
    }

    /// Looks in both generations, newest first.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.current.get(key).or_else(|| self.previous.get(key))
    }

    /// Inserts into the current generation, rotating first when it is full or too old.
    pub fn insert(&mut self, key: K, value: V, now: UnixSecs) {
        if self.current.len() >= self.capacity || now >= self.current_started + self.max_age {
            self.rotate(now);
        }
        self.current.insert(key, value);
    }

    /// Rotates when the current generation is too old, as the next insert would. Without
    /// inserts (the quiet after a storm) nothing else would ever free what the storm left:
    /// called periodically, this empties an idle map within two `max_age`s.
    pub fn expire(&mut self, now: UnixSecs) {
        if !self.is_empty() && now >= self.current_started + self.max_age {
            self.rotate(now);
        }
    }

    fn rotate(&mut self, now: UnixSecs) {
        // `take` leaves an empty map with no allocation: the storm's tables are freed whole.
        self.previous = std::mem::take(&mut self.current);
        self.previous_started = self.current_started;
        self.current_started = now;
    }

    /// Entries held, both generations.
    pub fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_by_size_and_age_and_keeps_the_horizon_promise() {
        let mut map = Generations::new(2, 10, 100);
        map.insert(1, "a", 100);
        map.insert(2, "b", 101);
        assert_eq!(map.horizon(), 100);
        map.insert(3, "c", 102); // full: rotate
        assert_eq!((map.get(&1), map.get(&3)), (Some(&"a"), Some(&"c")));
        assert_eq!(map.horizon(), 100);
        map.insert(4, "d", 103);
        map.insert(5, "e", 104); // full again: 1 and 2 are gone
        assert_eq!(map.get(&1), None);
        assert_eq!(map.horizon(), 102);
        assert_eq!(map.get(&3), Some(&"c"));
        map.insert(6, "f", 120); // too old: rotate by age
        assert_eq!(map.len(), 2);
        assert!(map.len() <= 4, "never more than two generations");
    }

    #[test]
    fn an_idle_map_empties_by_age_and_keeps_the_horizon_promise() {
        let mut map = Generations::new(100, 10, 0);
        map.insert(1, "a", 0);
        map.insert(2, "b", 5);
        map.expire(9);
        assert_eq!(map.len(), 2, "nothing is older than max_age yet");
        map.expire(10);
        assert_eq!((map.get(&1), map.get(&2)), (Some(&"a"), Some(&"b")));
        assert_eq!(
            map.horizon(),
            0,
            "a rotation keeps what was inserted since the horizon"
        );
        map.expire(19);
        assert_eq!(map.len(), 2);
        map.expire(20);
        assert!(map.is_empty());
        assert_eq!(map.horizon(), 10);
        map.insert(3, "c", 21);
        assert_eq!(map.get(&3), Some(&"c"));
    }

    #[test]
    fn a_flood_costs_constant_memory() {
        let mut map = Generations::new(1000, 300, 0);
        for key in 0..1_000_000u64 {
            map.insert(key, (), 1);
        }
        assert!(map.len() <= 2000);
        assert!(map.get(&999_999).is_some());
    }
}
