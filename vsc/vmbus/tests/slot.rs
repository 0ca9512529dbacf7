//! Completion slots and the transaction ids naming them (`vmbus_proto::slot`): the id layout
//! both VSCs use, every refusal of an id the guest could not have sent, and a slot's request
//! ended exactly once (a duplicate, a stale generation and a racing claim refused).

use proptest::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use vmbus_proto::slot::{next_generation, IdError, Slot, SlotBusy, SlotId, MAX_QUEUES, MAX_SLOTS, TRANS_CONTROL};

#[test]
fn id_layout() {
    let s = SlotId::Slot { queue: 3, slot: 0x1234, generation: 0xdead_beef };
    assert_eq!(s.encode(), 0x0003_1234_dead_beef);
    assert_eq!(SlotId::Control { seq: 7 }.encode(), 0x8000_0000_0000_0007);
    assert_eq!(SlotId::Slot { queue: 0x7fff, slot: 0xffff, generation: 1 }.encode(), 0x7fff_ffff_0000_0001);
    assert_eq!(SlotId::decode(s.encode(), 4, 0x2000), Ok(s));
    assert_eq!(SlotId::decode(TRANS_CONTROL | 7, 1, 1), Ok(SlotId::Control { seq: 7 }));
    assert_eq!((MAX_QUEUES, MAX_SLOTS), (1 << 15, 1 << 16));
}

#[test]
fn id_refusals() {
    assert_eq!(SlotId::decode(0, 4, 4), Err(IdError::ZeroGeneration));
    assert_eq!(SlotId::decode(0x0003_0001_0000_0000, 4, 16), Err(IdError::ZeroGeneration));
    assert_eq!(SlotId::decode(TRANS_CONTROL, 4, 4), Err(IdError::ZeroGeneration));
    assert_eq!(SlotId::decode(TRANS_CONTROL | (1 << 40) | 1, 4, 4), Err(IdError::ReservedBits));
    assert_eq!(SlotId::decode(TRANS_CONTROL | (1 << 62) | 1, 4, 4), Err(IdError::ReservedBits));
    assert_eq!(SlotId::decode((4u64 << 48) | 1, 4, 4), Err(IdError::Queue(4)));
    assert_eq!(SlotId::decode((1u64 << 48) | (4u64 << 32) | 1, 4, 4), Err(IdError::Slot(4)));
    assert_eq!(SlotId::decode(u64::MAX, 64, 1024), Err(IdError::ReservedBits));
    // Every refusal has a description for the log line.
    for e in [IdError::ReservedBits, IdError::ZeroGeneration, IdError::Queue(1), IdError::Slot(2)] {
        assert!(!e.as_str().is_empty());
        assert_eq!(e.to_string(), e.as_str());
    }
}

proptest! {
    #[test]
    fn id_round_trip(queue in 0u16..0x8000, slot: u16, generation in 1u32.., seq in 1u32..) {
        let id = SlotId::Slot { queue, slot, generation };
        prop_assert_eq!(SlotId::decode(id.encode(), MAX_QUEUES, MAX_SLOTS), Ok(id));
        prop_assert_ne!(id.encode(), 0);
        prop_assert_eq!(id.encode() & TRANS_CONTROL, 0);
        let c = SlotId::Control { seq };
        prop_assert_eq!(SlotId::decode(c.encode(), 1, 1), Ok(c));
    }

    /// Whatever the host sends, decoding never panics and accepts only what the guest could
    /// have sent: a queue and slot in range and a non-zero generation, or a control id with
    /// nothing but bit 63 and a non-zero sequence; such an id encodes back to itself.
    #[test]
    fn id_decode_accepts_only_guest_ids(id: u64, queues in 0u32..=MAX_QUEUES, slots in 0u32..=MAX_SLOTS) {
        match SlotId::decode(id, queues, slots) {
            Ok(s @ SlotId::Slot { queue, slot, generation }) => {
                prop_assert!(u32::from(queue) < queues && u32::from(slot) < slots && generation != 0);
                prop_assert_eq!(s.encode(), id);
            }
            Ok(c @ SlotId::Control { seq }) => {
                prop_assert!(seq != 0);
                prop_assert_eq!(c.encode(), id);
            }
            Err(_) => {}
        }
    }
}

#[test]
fn generations_skip_zero() {
    assert_eq!(next_generation(0), 1);
    assert_eq!(next_generation(41), 42);
    assert_eq!(next_generation(u32::MAX), 1);
}

#[test]
fn slot_claims_once_per_issue() {
    let s = Slot::new();
    assert_eq!(s.inflight(), None);
    assert_eq!(s.claim_current(), None);
    let g1 = s.issue().unwrap();
    assert_eq!(s.inflight(), Some(g1));
    assert_eq!(s.issue(), Err(SlotBusy), "a slot in flight is not issued twice");
    assert!(!s.claim(g1.wrapping_add(1)), "a forged generation is refused");
    assert!(s.claim(g1));
    assert!(!s.claim(g1), "a repeated completion is refused");
    assert_eq!(s.claim_current(), None);
    let g2 = s.issue().unwrap();
    assert_ne!(g1, g2);
    assert!(!s.claim(g1), "a stale completion of the previous use of the slot is refused");
    assert_eq!(s.claim_current(), Some(g2));
    assert!(!s.claim(g2));
}

#[test]
fn slot_claims_race_exactly_once() {
    // A host completion, a timeout and a teardown all try to end the same request.
    for _ in 0..200 {
        let slot = Arc::new(Slot::new());
        let g = slot.issue().unwrap();
        let wins = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let (slot, wins) = (slot.clone(), wins.clone());
                std::thread::spawn(move || {
                    let won = if i % 2 == 0 { slot.claim(g) } else { slot.claim_current().is_some() };
                    if won {
                        wins.fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(wins.load(Ordering::SeqCst), 1);
    }
}

#[test]
fn slot_many_issues_and_stale_storm() {
    // Reissuing a slot while a hostile host replays every old generation never lets an old
    // id through.
    let s = Slot::new();
    let mut old = Vec::new();
    for _ in 0..1000 {
        let g = s.issue().unwrap();
        for o in &old {
            assert!(!s.claim(*o));
        }
        assert!(s.claim(g));
        old.push(g);
        if old.len() > 8 {
            old.remove(0);
        }
    }
}
