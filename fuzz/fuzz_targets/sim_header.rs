//! The simulator transport's BAR header and slot polling, from either side's view
//! (`sim_proto`): the header the host publishes (checked by the guest), the guest's fields
//! (checked by the host) and the RAM offsets derived from them, and the state word of a call
//! slot. Input: the header bytes (zeros past the end), then a state word and a sequence.
//!
//! Properties: no panic; a header the guest accepts has the magic, the version and
//! consistent limits, and re-checks the same; a guest slot area the host accepts is aligned,
//! within `max_vps` slots and without overflow; a RAM offset lies inside the RAM file and
//! below or above the PCI hole as q35 lays it out; `poll` says done only for the slot's own
//! sequence with the done state. (Every result is checked, so the optimizer cannot drop the
//! calls: before, it did, and the target covered 14 edges.)
#![no_main]
use libfuzzer_sys::fuzz_target;
use pvguest_fuzz::Input;
use sim_proto::{poll, slot_state, BarHeader, Poll, RamLayout, FOUR_GIB, MAGIC, MAX_VPS, SLOT_SIZE, VERSION};
use zerocopy::FromBytes;

fuzz_target!(|data: &[u8]| {
    let mut i = Input::new(data);
    let mut raw = [0u8; size_of::<BarHeader>()];
    let b = i.bytes(raw.len());
    raw[..b.len()].copy_from_slice(b);
    let h = BarHeader::read_from_bytes(&raw).expect("exact size");
    if h.check_host().is_ok() {
        assert_eq!((h.magic, h.version), (MAGIC, VERSION));
        assert!(h.max_vps >= 1 && h.max_vps <= MAX_VPS);
    }
    if let Ok((gpa, len)) = h.check_guest() {
        assert!(h.vps >= 1 && h.vps <= h.max_vps);
        assert_eq!(gpa % SLOT_SIZE as u64, 0);
        assert_eq!(len, u64::from(h.vps) * SLOT_SIZE as u64);
        assert!(gpa.checked_add(len).is_some());
        let l = RamLayout::q35(h.ram_size);
        assert!(l.below_4g <= l.total && l.below_4g <= FOUR_GIB);
        if let Some(off) = l.offset(gpa, len) {
            assert!(off.checked_add(len).is_some_and(|end| end <= l.total), "offset {off:#x}+{len:#x} beyond RAM {:#x}", l.total);
            if gpa < FOUR_GIB {
                assert_eq!(off, gpa);
                assert!(gpa + len <= l.below_4g);
            } else {
                assert_eq!(off, gpa - FOUR_GIB + l.below_4g);
            }
        }
    }
    let (word, seq) = (i.u64(), i.u32());
    match poll(word, seq) {
        Poll::Done => assert!((word >> 32) as u32 == seq && word as u32 == slot_state::DONE),
        Poll::Pending => assert!((word >> 32) as u32 == seq && word as u32 != slot_state::DONE),
        Poll::WrongSeq(s) => assert!(s != seq && s == (word >> 32) as u32),
    }
});
