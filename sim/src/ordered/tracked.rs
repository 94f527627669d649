//! Notifications with a delayed letter, until all their requests are settled. Most
//! requests belong to notifications that never waited, so a bit per notification answers
//! "tracked?" without probing the map.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasherDefault, Hasher};

use smallvec::SmallVec;

/// Hashes a notification index to itself in the low bits, so notifications close in
/// index (and so in arrival time, which is the order the queue meets them) sit close in
/// the table; the top bits, which the table uses to tell keys apart, are mixed.
#[derive(Default)]
pub(super) struct IndexHasher(u64);

impl Hasher for IndexHasher {
    fn write(&mut self, _: &[u8]) {
        unreachable!("only notification indices are hashed")
    }

    fn write_u32(&mut self, n: u32) {
        let n = n as u64;
        self.0 = n | (n.wrapping_mul(0x9E37_79B9_7F4A_7C15) & 0xFE00_0000_0000_0000);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type IndexMap<V> = HashMap<u32, V, BuildHasherDefault<IndexHasher>>;

/// A recipient with a delayed letter: its epoch and the delays known so far (seconds,
/// by letter index).
#[derive(Debug, Clone, Default)]
pub(super) struct RecDelays {
    pub rec: u16,
    pub epoch: u8,
    pub delays: SmallVec<[u32; 2]>,
}

pub(super) type Delays = SmallVec<[RecDelays; 1]>;

/// A notification with a delayed letter, until all its requests are settled.
pub(super) struct Tracked {
    /// Requests of it still queued or waiting in a lane.
    pub pending: u32,
    pub recs: Delays,
    /// Its final tally is already counted (a re-run that settled it).
    pub counted: bool,
    /// Its speculative tally was never counted.
    pub deferred: bool,
}

pub(super) struct TrackedSet {
    map: IndexMap<Tracked>,
    bits: Vec<u64>,
}

impl TrackedSet {
    pub fn new(notifications: usize) -> Self {
        TrackedSet {
            map: IndexMap::default(),
            bits: vec![0; notifications.div_ceil(64)],
        }
    }

    #[inline]
    pub fn has(&self, n: u32) -> bool {
        self.bits[n as usize / 64] >> (n % 64) & 1 == 1
    }

    pub fn get_mut(&mut self, n: u32) -> Option<&mut Tracked> {
        if self.has(n) {
            self.map.get_mut(&n)
        } else {
            None
        }
    }

    pub fn insert(&mut self, n: u32, t: Tracked) {
        self.bits[n as usize / 64] |= 1 << (n % 64);
        self.map.insert(n, t);
    }

    pub fn remove(&mut self, n: u32) -> Option<Tracked> {
        self.bits[n as usize / 64] &= !(1 << (n % 64));
        self.map.remove(&n)
    }

    pub fn get_or_insert_with(&mut self, n: u32, f: impl FnOnce() -> Tracked) -> &mut Tracked {
        self.bits[n as usize / 64] |= 1 << (n % 64);
        self.map.entry(n).or_insert_with(f)
    }

    /// Applies `f` to a tracked notification; if nothing of it is pending afterwards, it
    /// is no longer tracked and is returned.
    pub fn update<R>(
        &mut self,
        n: u32,
        f: impl FnOnce(&mut Tracked) -> R,
    ) -> Option<(R, Option<Tracked>)> {
        if !self.has(n) {
            return None;
        }
        let Entry::Occupied(mut o) = self.map.entry(n) else {
            return None;
        };
        let r = f(o.get_mut());
        if o.get().pending > 0 {
            return Some((r, None));
        }
        self.bits[n as usize / 64] &= !(1 << (n % 64));
        Some((r, Some(o.remove())))
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}
