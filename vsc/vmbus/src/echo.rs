// SPDX-License-Identifier: GPL-2.0-only
//! The pvguest echo device class ([`crate::guid::ECHO`]), used only to test channels end to
//! end: whatever in-band packet one side sends, the other sends back unchanged (same payload,
//! same transaction id). Guest-originated packets have the top bit of the transaction id
//! clear, host-originated ones set ([`HOST_ORIGINATED`]), so each side knows which packets are
//! echoes of its own. Payloads are generated from (seed, sequence) so the originator can verify
//! an echo without keeping a copy.

/// Transaction-id bit of packets the host originated.
pub const HOST_ORIGINATED: u64 = 1 << 63;
/// Largest echo payload.
pub const MAX_PAYLOAD: usize = 4032;

/// xorshift64* step.
const fn mix(mut x: u64) -> u64 {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    x.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

/// The state for packet `seq` of a stream seeded with `seed` (never zero).
const fn state(seed: u64, seq: u64) -> u64 {
    let s = mix(seed ^ seq.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    if s == 0 { 1 } else { s }
}

/// Payload length of packet `seq`: uniform in `min..=max` (clamped to [`MAX_PAYLOAD`]).
pub fn payload_len(seed: u64, seq: u64, min: usize, max: usize) -> usize {
    let max = max.min(MAX_PAYLOAD);
    let min = min.min(max);
    let span = (max - min + 1) as u64;
    min + (state(seed, seq) % span) as usize
}

/// Fills `out` with the payload of packet `seq`.
pub fn fill(seed: u64, seq: u64, out: &mut [u8]) {
    let mut s = state(seed, seq);
    for chunk in out.chunks_mut(8) {
        s = mix(s);
        let b = s.to_le_bytes();
        chunk.copy_from_slice(&b[..chunk.len()]);
    }
}

/// Whether `data` is the payload of packet `seq`.
pub fn verify(seed: u64, seq: u64, data: &[u8]) -> bool {
    let mut s = state(seed, seq);
    for chunk in data.chunks(8) {
        s = mix(s);
        if chunk != &s.to_le_bytes()[..chunk.len()] {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_mismatch() {
        let mut b = [0u8; 100];
        fill(7, 3, &mut b);
        assert!(verify(7, 3, &b));
        assert!(!verify(7, 4, &b));
        b[50] ^= 1;
        assert!(!verify(7, 3, &b));
        for seq in 0..1000 {
            let n = payload_len(1, seq, 1, 4000);
            assert!((1..=4000).contains(&n));
        }
    }
}
