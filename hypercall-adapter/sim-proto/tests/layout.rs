//! The offsets both sides hard-code must match the structs.
use core::mem::{offset_of, size_of};
use proptest::prelude::*;
use sim_proto::*;
use zerocopy::FromBytes;

#[test]
fn bar_header_offsets() {
    assert_eq!(offset_of!(BarHeader, slots_gpa), bar_offset::SLOTS_GPA);
    assert_eq!(offset_of!(BarHeader, vps), bar_offset::VPS);
    assert_eq!(offset_of!(BarHeader, guest_state), bar_offset::GUEST_STATE);
    assert_eq!(offset_of!(BarHeader, guest_generation), bar_offset::GUEST_GENERATION);
    assert_eq!(offset_of!(BarHeader, host_generation), bar_offset::HOST_GENERATION);
    assert_eq!(offset_of!(BarHeader, signal_pfn), bar_offset::SIGNAL_PFN);
    assert_eq!(size_of::<BarHeader>(), 56);
    assert!(size_of::<BarHeader>() <= BAR_SIZE);
}

#[test]
fn slot_offsets() {
    assert_eq!(size_of::<Slot>(), SLOT_SIZE);
    assert_eq!(offset_of!(Slot, state), slot_offset::STATE);
    assert_eq!(offset_of!(Slot, seq), slot_offset::SEQ);
    assert_eq!(offset_of!(Slot, op), slot_offset::OP);
    assert_eq!(offset_of!(Slot, done_seq), slot_offset::DONE_SEQ);
    assert_eq!(offset_of!(Slot, args), slot_offset::ARGS);
    assert_eq!(offset_of!(Slot, result), slot_offset::RESULT);
    assert_eq!(offset_of!(Slot, value), slot_offset::VALUE);
}

#[test]
fn host_header_round_trip() {
    let h = BarHeader::new_host(4, 2 << 30, 1);
    assert_eq!(h.check_host(), Ok(()));
    let mut bad = h;
    bad.magic[0] = b'X';
    assert_eq!(bad.check_host(), Err(HeaderError::NotSimulator));
    let mut bad = h;
    bad.vectors = 3;
    assert_eq!(bad.check_host(), Err(HeaderError::Limits));
    let mut g = h;
    g.vps = 4;
    g.slots_gpa = 0x1234_5000;
    assert_eq!(g.check_guest(), Ok((0x1234_5000, 256)));
    g.slots_gpa = 0x1234_5008;
    assert_eq!(g.check_guest(), Err(HeaderError::GuestFields));
    g.slots_gpa = 0x1000;
    g.vps = 5;
    assert_eq!(g.check_guest(), Err(HeaderError::GuestFields));
    g.vps = 4;
    g.slots_gpa = u64::MAX - 63;
    assert_eq!(g.check_guest(), Err(HeaderError::GuestFields));
}

#[test]
fn vectors() {
    assert_eq!(vector_for_vp(0), 1);
    assert_eq!(vp_for_vector(1, 4), Some(0));
    assert_eq!(vp_for_vector(4, 4), Some(3));
    assert_eq!(vp_for_vector(5, 4), None);
    assert_eq!(vp_for_vector(0, 4), None);
}

#[test]
fn polling() {
    assert_eq!(poll(state_word(7, slot_state::REQUEST), 7), Poll::Pending);
    assert_eq!(poll(state_word(6, slot_state::DONE), 7), Poll::WrongSeq(6));
    assert_eq!(poll(state_word(7, slot_state::DONE), 7), Poll::Done);
    // state and seq share one little-endian u64 at the start of the slot
    let s = Slot { state: slot_state::DONE, seq: 9, ..Slot::default() };
    let b = zerocopy::IntoBytes::as_bytes(&s);
    assert_eq!(u64::from_le_bytes(b[..8].try_into().unwrap()), state_word(9, slot_state::DONE));
}

#[test]
fn q35_ram_layout() {
    let small = RamLayout::q35(2 << 30);
    assert_eq!(small.offset(0x1000, 4096), Some(0x1000));
    assert_eq!(small.offset((2 << 30) - 4096, 4096), Some((2 << 30) - 4096));
    assert_eq!(small.offset((2 << 30) - 4095, 4096), None);
    let big = RamLayout::q35(4 << 30);
    assert_eq!(big.below_4g, 2 << 30);
    assert_eq!(big.offset(0x7fff_f000, 4096), Some(0x7fff_f000));
    assert_eq!(big.offset(0x8000_0000, 8), None); // in the hole
    assert_eq!(big.offset(FOUR_GIB, 8), Some(2 << 30));
    assert_eq!(big.offset(FOUR_GIB + (2 << 30) - 8, 8), Some((4 << 30) - 8));
    assert_eq!(big.offset(FOUR_GIB + (2 << 30) - 4, 8), None);
    assert_eq!(big.offset(u64::MAX - 2, 8), None);
}

proptest! {
    #[test]
    fn arbitrary_headers_never_panic(bytes in proptest::collection::vec(any::<u8>(), size_of::<BarHeader>())) {
        let h = BarHeader::read_from_bytes(&bytes[..]).unwrap();
        let _ = h.check_host();
        let _ = h.check_guest();
    }

    #[test]
    fn ram_offsets_stay_in_file(total in 1u64..(64 << 30), gpa in any::<u64>(), len in 0u64..(1 << 20)) {
        let l = RamLayout::q35(total);
        if let Some(off) = l.offset(gpa, len) {
            prop_assert!(off + len <= total);
        }
    }
}

#[test]
fn signal_page_layout() {
    use signal_page::*;
    assert_eq!(BITMAP + WORDS * 8, 4096);
    assert!(WORDS.div_ceil(WORDS_PER_GROUP) <= 64, "the summary must have a bit per group");
    assert_eq!(IDS, 32256);
    assert_eq!(bit(0), Some(Bit { word_offset: 64, mask: 1, summary_mask: 1 }));
    assert_eq!(bit(0x1000 + 5), Some(Bit { word_offset: 64 + 64 * 8, mask: 1 << 5, summary_mask: 1 << 8 }));
    assert_eq!(bit(IDS - 1).map(|b| (b.word_offset, b.mask)), Some((4088, 1 << 63)));
    assert_eq!(bit(IDS), None);
    assert_eq!(bit(u32::MAX), None);
    // The adapter's self-test signals a connection the page cannot carry (the call path).
    assert_eq!(bit(TEST_CONNECTION_ID + 1), None);
    // A garbage summary names only real words.
    assert!(words_of(u64::MAX).all(|w| w < WORDS));
    assert_eq!(words_of(u64::MAX).count(), WORDS);
    assert_eq!(words_of(0).count(), 0);
    assert_eq!(word_offset(WORDS), None);
}

proptest! {
    /// What the guest sets for an id is exactly what the host's drain finds.
    #[test]
    fn signal_bits_round_trip(ids in proptest::collection::vec(0u32..signal_page::IDS, 1..40)) {
        use signal_page::*;
        let mut page = [0u64; 512];
        let mut summary = 0u64;
        for &id in &ids {
            let b = bit(id).unwrap();
            page[b.word_offset / 8] |= b.mask;
            summary |= b.summary_mask;
        }
        let mut found: Vec<u32> = words_of(summary)
            .flat_map(|w| ids_of(w, page[word_offset(w).unwrap() / 8]))
            .collect();
        let mut want = ids.clone();
        want.sort_unstable();
        want.dedup();
        found.sort_unstable();
        prop_assert_eq!(found, want);
    }
}
