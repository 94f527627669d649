//! Seeded random streams. Every stochastic purpose of every recipient gets its own
//! stream, derived from (seed, replication, notification, recipient, purpose), so that
//! results do not depend on evaluation order or thread count, and two scenarios run
//! with the same seed share their random numbers (common random numbers).

use rand_core::Infallible;

/// What a stream is used for; the discriminant is part of the stream's key, so it must
/// never be renumbered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum Purpose {
    Notification = 1,
    Attributes = 2,
    Validation = 3,
    Courtesy = 4,
    View = 5,
    Digital = 6,
    PostalFirst = 7,
    PostalSecond = 8,
    PostalSimple = 9,
    Payment = 10,
    Baseline = 11,
    Cancellation = 12,
}

/// SplitMix64 (Steele, Lea, Flood 2014): used to derive stream keys and as a tiny
/// generator for sub-samples; fixed here so it cannot drift with crate versions.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    #[inline]
    pub fn advance(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl rand_core::TryRng for SplitMix64 {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok((self.advance() >> 32) as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(self.advance())
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let w = self.advance().to_le_bytes();
            chunk.copy_from_slice(&w[..chunk.len()]);
        }
        Ok(())
    }
}

/// The generator of every stream. Streams are short (a few dozen draws per recipient
/// and purpose), so SplitMix64, whose every output is a full avalanche of a counter, is
/// both sound and cheap to seed; a notification's streams come from one key hash.
pub type Stream = SplitMix64;

/// Key of one notification's streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamKey {
    pub seed: u64,
    pub replication: u32,
    pub notification: u64,
}

/// One round of mixing a word into a hash.
#[inline]
fn mix(h: u64, word: u64) -> u64 {
    SplitMix64(h ^ word.wrapping_mul(0xD6E8_FEB8_6659_FD93)).advance()
}

impl StreamKey {
    /// The hash all of this notification's streams derive from.
    #[inline]
    pub fn base(&self) -> u64 {
        let h = SplitMix64(self.seed).advance();
        mix(mix(h, self.replication as u64), self.notification)
    }

    /// The stream of one purpose of one recipient (`recipient` is the recipient index;
    /// notification-level purposes use 0).
    #[inline]
    pub fn stream(&self, recipient: u32, purpose: Purpose) -> Stream {
        Self::stream_from(self.base(), recipient, purpose)
    }

    /// As `stream`, from a precomputed `base()`.
    #[inline]
    pub fn stream_from(base: u64, recipient: u32, purpose: Purpose) -> Stream {
        SplitMix64(mix(base, ((recipient as u64) << 8) | purpose as u64))
    }

    /// A stream of a purpose that is not tied to a recipient or notification (e.g. a
    /// carrier's capacity), keyed by `label`.
    pub fn stream_for(seed: u64, replication: u32, label: u64) -> Stream {
        SplitMix64(mix(
            mix(SplitMix64(seed).advance(), replication as u64),
            label ^ 0xABCD_EF01,
        ))
    }
}

/// A stream keyed by an arbitrary string (the mock seeds a notification by its IUN).
pub fn seed_from_label(label: &str) -> u64 {
    // FNV-1a, then one SplitMix64 round to spread the bits.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in label.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    SplitMix64(h).advance()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn streams_are_stable_and_distinct() {
        let k = StreamKey {
            seed: 1,
            replication: 0,
            notification: 42,
        };
        let a = k.stream(0, Purpose::View).next_u64();
        assert_eq!(a, k.stream(0, Purpose::View).next_u64());
        assert_ne!(a, k.stream(0, Purpose::Payment).next_u64());
        assert_ne!(a, k.stream(1, Purpose::View).next_u64());
        let other = StreamKey {
            replication: 1,
            ..k
        };
        assert_ne!(a, other.stream(0, Purpose::View).next_u64());
    }
}
