//! Hypercall inputs: golden layouts, guest encoders, host parsers.
use hcall_abi::hypercall::*;
use hcall_abi::status::Status;
use hcall_abi::tlfs::{HypercallInput, MAX_REP_COUNT};
use proptest::prelude::*;

fn page() -> Vec<u8> {
    vec![0xaa; HV_PAGE_SIZE]
}

#[test]
fn post_message_layout_golden() {
    // VMBus CHANNELMSG_REQUESTOFFERS (3) as Linux sends it: vmbus_request_offers()
    // (drivers/hv/channel_mgmt.c) posts a `struct vmbus_channel_message_header` {msgtype 3,
    // padding 0} through vmbus_post_msg() -> hv_post_message(conn_id, 1, ...)
    // (drivers/hv/connection.c) on VMBUS_MESSAGE_CONNECTION_ID (1). Layout per TLFS
    // HvCallPostMessage: ConnectionId 0, RsvdZ 4, MessageType 8, PayloadSize 12, Message 16.
    let mut out = page();
    let (input, used) = encode_post_message(&mut out, 1, 1, &[3, 0, 0, 0, 0, 0, 0, 0]).unwrap();
    assert_eq!(input.encode(), Ok(0x5c));
    assert_eq!(used, 256);
    let mut golden = vec![0u8; 256];
    golden[..24].copy_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 8, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(&out[..256], &golden[..], "stale bytes after the payload are zeroed");
    assert_eq!(out[256], 0xaa, "nothing written past the input");
    match parse_call(&input, InputBlock::Memory(&out)).unwrap() {
        GuestCall::PostMessage(m) => {
            assert_eq!((m.connection_id, m.message_type), (1, 1));
            assert_eq!(m.payload, &[3, 0, 0, 0, 0, 0, 0, 0]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn post_message_validation() {
    let mut out = page();
    assert_eq!(encode_post_message(&mut out, 1, 1, &[0; 241]).unwrap_err(), HcError::PayloadTooLarge(241));
    assert!(encode_post_message(&mut out, 1, 1, &[0; 240]).is_ok());
    assert_eq!(encode_post_message(&mut out, 1, 0, &[]).unwrap_err(), HcError::InvalidMessageType(0));
    assert_eq!(encode_post_message(&mut out, 1, 0x8000_0001, &[]).unwrap_err(), HcError::InvalidMessageType(0x8000_0001));
    assert_eq!(encode_post_message(&mut out, 0x0100_0001, 1, &[]).unwrap_err(), HcError::InvalidConnectionId(0x0100_0001));
    // VMBUS_MESSAGE_CONNECTION_ID_REDIRECT (0x800074) still fits the 24-bit id.
    assert!(encode_post_message(&mut out, 0x80_0074, 1, &[]).is_ok());
    assert!(matches!(encode_post_message(&mut [0u8; 100], 1, 1, &[]), Err(HcError::OutputTooSmall { .. })));
    // Host side: each TLFS error condition and the status Hyper-V returns for it.
    let input = HypercallInput::new(code::POST_MESSAGE);
    let mut b = [0u8; 256];
    b[0] = 1;
    b[8] = 1;
    b[12] = 241;
    let e = parse_call(&input, InputBlock::Memory(&b)).unwrap_err();
    assert_eq!((e, e.status()), (HcError::PayloadTooLarge(241), Status::InvalidParameter));
    b[12] = 0;
    b[4] = 1;
    assert_eq!(parse_call(&input, InputBlock::Memory(&b)).unwrap_err(), HcError::ReservedNonZero);
    b[4] = 0;
    b[3] = 0x80;
    assert_eq!(parse_call(&input, InputBlock::Memory(&b)).unwrap_err().status(), Status::InvalidConnectionId);
    b[3] = 0;
    let e = parse_call(&input.with_reps(1), InputBlock::Memory(&b)).unwrap_err();
    assert_eq!((e, e.status()), (HcError::RepMismatch, Status::InvalidHypercallInput));
    assert_eq!(parse_call(&input.with_fast(), InputBlock::Fast { rdx: 0, r8: 0 }).unwrap_err(), HcError::CallingConvention);
    assert_eq!(parse_call(&input, InputBlock::Fast { rdx: 0, r8: 0 }).unwrap_err(), HcError::CallingConvention);
    b[12] = 240;
    let e = parse_call(&input, InputBlock::Memory(&b[..100])).unwrap_err();
    assert_eq!((e, e.status()), (HcError::InputTooShort { needed: 256, have: 100 }, Status::InvalidAlignment));
}

#[test]
fn signal_event_fast_golden() {
    // drivers/hv/connection.c vmbus_set_event(): hv_do_fast_hypercall8(HVCALL_SIGNAL_EVENT,
    // channel->sig_event), sig_event being the connection id (flag number 0); TLFS
    // HvCallSignalEvent: ConnectionId 0..4, FlagNumber 4..6, RsvdZ 6..8.
    let (input, rdx) = signal_event_fast(0x0002, 0).unwrap();
    assert_eq!((input.encode(), rdx), (Ok(0x1005d), 2));
    let (_, rdx) = signal_event_fast(0x1234, 7).unwrap();
    assert_eq!(rdx, 0x0007_0000_1234);
    assert_eq!(
        parse_call(&input, InputBlock::Fast { rdx, r8: 0 }),
        Ok(GuestCall::SignalEvent(SignalEvent { connection_id: 0x1234, flag_number: 7 }))
    );
    assert_eq!(parse_call(&input, InputBlock::Fast { rdx: 1 << 48, r8: 0 }).unwrap_err(), HcError::ReservedNonZero);
    assert_eq!(parse_call(&HypercallInput::new(code::SIGNAL_EVENT), InputBlock::Memory(&rdx.to_le_bytes())).unwrap(), GuestCall::SignalEvent(SignalEvent { connection_id: 0x1234, flag_number: 7 }));
}

#[test]
fn vp_set_tlfs_example() {
    // TLFS HV_VP_SET, "Processor Set Example": { 0, 5, 130 } -> ValidBanksMask 0x05,
    // BankContents { 0x21, 0x04 }.
    let s = VpSet::sparse_from_vp_indices([0, 5, 130]).unwrap();
    assert_eq!((s.valid_bank_mask(), s.bank_count()), (0x5, 2));
    let mut b = [0u8; 64];
    assert_eq!(s.write_to(&mut b), Ok(32));
    let golden: [u8; 32] = [0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0x21, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0];
    assert_eq!(&b[..32], &golden);
    let (v, used) = VpSetView::parse(&b).unwrap();
    assert_eq!(used, 32);
    assert_eq!(v.iter(200).collect::<Vec<_>>(), [0, 5, 130]);
    assert!(v.contains(130) && !v.contains(129) && !v.contains(64));
    // Linux's cpumask_to_vpset() marks every bank up to the highest one valid (empty bank 1
    // included): mask 0x7, contents { 0x21, 0, 0x04 }.
    let l = VpSet::from_vp_indices([0, 5, 130]).unwrap();
    assert_eq!((l.valid_bank_mask(), l.bank_count()), (0x7, 3));
    assert_eq!((l.bank(0), l.bank(1), l.bank(2)), (0x21, 0, 0x4));
    assert_eq!(l.as_mask64(), None);
    // ... and always at least bank 0.
    let e = VpSet::from_vp_indices([]).unwrap();
    assert_eq!((e.valid_bank_mask(), e.bank_count()), (1, 1));
    assert_eq!(VpSet::from_vp_indices([1, 3]).unwrap().as_mask64(), Some(0b1010));
    assert_eq!(VpSet::from_vp_indices([4096]).unwrap_err(), HcError::VpIndexOutOfRange(4096));
    assert_eq!(VpSet::from_vp_indices([4095]).unwrap().valid_bank_mask(), u64::MAX);
    assert_eq!(VpSet::all().bank_count(), 0);
    let mut bad = b;
    bad[0] = 2;
    assert_eq!(VpSetView::parse(&bad).unwrap_err(), HcError::InvalidVpSetFormat(2));
    assert!(matches!(VpSetView::parse(&b[..24]), Err(HcError::InputTooShort { needed: 32, .. })));
}

#[test]
fn gva_list_packing_as_fill_gva_list() {
    // arch/x86/hyperv/mmu.c fill_gva_list(): low 12 bits = additional pages; each entry up
    // to HV_TLB_FLUSH_UNIT (4096 pages); TLFS HvCallFlushVirtualAddressList: "each entry
    // [encodes] a range of 1 to 4096 pages".
    let base = 0x7f12_3456_7000u64;
    let enc = |s, e| gva_ranges(s, e).map(|r| r.encode().unwrap()).collect::<Vec<_>>();
    assert_eq!(enc(base, base + 0x3000), [base | 2]);
    assert_eq!(enc(base, base + 0x1000), [base]);
    assert_eq!(enc(base, base), [base], "an empty range still names the start page");
    assert_eq!(enc(base, base + GVA_FLUSH_UNIT), [base | 0xfff]);
    assert_eq!(enc(base, base + GVA_FLUSH_UNIT + 0x2000), [base | 0xfff, (base + GVA_FLUSH_UNIT) | 1]);
    assert_eq!(gva_count(base, base + 3 * GVA_FLUSH_UNIT + 1), 4);
    // Unaligned start: rounded down so the last page stays covered.
    assert_eq!(enc(base + 0x800, base + 0x1800), [base | 1]);
    assert_eq!(GvaRange::decode(base | 0xfff).page_count(), 4096);
    assert_eq!(GvaRange { base: base + 1, additional_pages: 0 }.encode(), Err(HcError::ReservedNonZero));
    assert_eq!(max_gvas(24), 509, "(PAGE_SIZE - sizeof(hv_tlb_flush)) / 8, mmu.c max_gvas");
}

#[test]
fn flush_list_ex_golden() {
    // What hyperv_flush_tlb_others_ex() (mmu.c) sends for CR3 0x1234000 on VPs {1, 65}
    // and a 3-page range: AddressSpace, Flags 0, HV_VP_SET {0, mask 0x3, {0x2, 0x2}}, one
    // GVA entry; var header 2 (nr_bank), rep count 1.
    let set = VpSet::from_vp_indices([1, 65]).unwrap();
    let mut out = page();
    let (input, used) = encode_flush_list_ex(&mut out, 0x1234000, 0, &set, 0x40_0000, 0x40_3000).unwrap();
    assert_eq!(input.encode(), Ok(0x0000_0001_0004_0014));
    assert_eq!(used, 56);
    let q = |i: usize| u64::from_le_bytes(out[i * 8..i * 8 + 8].try_into().unwrap());
    assert_eq!((q(0), q(1), q(2), q(3), q(4), q(5), q(6)), (0x1234000, 0, 0, 3, 2, 2, 0x40_0002));
    match parse_call(&input, InputBlock::Memory(&out)).unwrap() {
        GuestCall::Flush(f) => {
            assert_eq!(f.address_space, Some(0x1234000));
            assert!(f.processors.contains(1) && f.processors.contains(65) && !f.processors.contains(0));
            let g: Vec<_> = f.gvas.unwrap().iter().collect();
            assert_eq!(g, [GvaRange { base: 0x40_0000, additional_pages: 2 }]);
        }
        other => panic!("{other:?}"),
    }
    // Bank count and variable header must agree.
    let e = parse_call(&input.with_var_header(1), InputBlock::Memory(&out)).unwrap_err();
    assert_eq!((e, e.status()), (HcError::VarHeaderMismatch { expected: 2, got: 1 }, Status::InvalidHypercallInput));
}

#[test]
fn flush_space_and_mask_forms() {
    // TLFS HvCallFlushVirtualAddressList: "a mask of 0x0000000000000051 indicates ... virtual
    // processors 0, 4 and 6".
    let mut out = page();
    let (input, used) = encode_flush_space(&mut out, 0, flush_flags::ALL_VIRTUAL_ADDRESS_SPACES | flush_flags::NON_GLOBAL_MAPPINGS_ONLY, 0x51).unwrap();
    assert_eq!((input.encode(), used), (Ok(0x2), 24));
    let GuestCall::Flush(f) = parse_call(&input, InputBlock::Memory(&out)).unwrap() else { panic!() };
    assert_eq!(f.address_space, None);
    assert!(f.gvas.is_none());
    assert_eq!((0..8).filter(|v| f.processors.contains(*v)).collect::<Vec<_>>(), [0, 4, 6]);
    // NON_GLOBAL_MAPPINGS_ONLY "does not make sense" for list calls; unknown flags fail.
    assert_eq!(encode_flush_list(&mut out, 0, flush_flags::NON_GLOBAL_MAPPINGS_ONLY, 1, 0, 0x1000).unwrap_err(), HcError::InvalidFlushFlags(4));
    assert_eq!(encode_flush_space(&mut out, 0, 1 << 4, 1).unwrap_err(), HcError::InvalidFlushFlags(16));
    // ALL_PROCESSORS overrides the mask.
    let (i, _) = encode_flush_list(&mut out, 0x5000, flush_flags::ALL_PROCESSORS, 0, 0x1000, 0x2000).unwrap();
    assert_eq!(i.encode(), Ok(0x1_0000_0003));
    let GuestCall::Flush(f) = parse_call(&i, InputBlock::Memory(&out)).unwrap() else { panic!() };
    assert_eq!(f.processors, Processors::All);
    // A range needing more entries than fit the page: the caller flushes the space instead.
    assert!(matches!(encode_flush_list(&mut out, 0, 0, 1, 0, 600 * GVA_FLUSH_UNIT), Err(HcError::TooManyGvas { needed: 600, max: 509 })));
    // Rep count must match the call kind.
    assert_eq!(parse_call(&HypercallInput::new(code::FLUSH_VIRTUAL_ADDRESS_LIST), InputBlock::Memory(&out)).unwrap_err(), HcError::RepMismatch);
    assert_eq!(parse_call(&HypercallInput::new(code::FLUSH_VIRTUAL_ADDRESS_SPACE).with_reps(1), InputBlock::Memory(&out)).unwrap_err(), HcError::RepMismatch);
}

#[test]
fn send_ipi_golden() {
    // arch/x86/hyperv/hv_apic.c __send_ipi_mask(): hv_do_fast_hypercall16(HVCALL_SEND_IPI,
    // vector, cpu_mask); vectors outside HV_IPI_LOW_VECTOR..HV_IPI_HIGH_VECTOR are refused.
    let (input, rdx, r8) = send_ipi_fast(0xfc, 0b1010).unwrap();
    assert_eq!((input.encode(), rdx, r8), (Ok(0x1000b), 0xfc, 0b1010));
    assert_eq!(send_ipi_fast(0x0f, 1).unwrap_err(), HcError::InvalidVector(0x0f));
    assert_eq!(send_ipi_fast(0x100, 1).unwrap_err(), HcError::InvalidVector(0x100));
    assert!(send_ipi_fast(0x10, 1).is_ok() && send_ipi_fast(0xff, 1).is_ok());
    let GuestCall::SendIpi(s) = parse_call(&input, InputBlock::Fast { rdx, r8 }).unwrap() else { panic!() };
    assert_eq!(s.vector, 0xfc);
    assert!(s.processors.contains(1) && s.processors.contains(3) && !s.processors.contains(2));
    // Target VTL byte (TLFS offset 4) and padding.
    assert_eq!(parse_call(&input, InputBlock::Fast { rdx: 0xfc | 1 << 32, r8 }).unwrap_err(), HcError::UnsupportedVtl(1));
    assert_eq!(parse_call(&input, InputBlock::Fast { rdx: 0xfc | 1 << 40, r8 }).unwrap_err(), HcError::ReservedNonZero);
    // Memory form, 16 bytes (struct hv_send_ipi).
    let mut out = page();
    let (mi, used) = encode_send_ipi(&mut out, 0x30, 1).unwrap();
    assert_eq!((mi.encode(), used), (Ok(0xb), 16));
    assert_eq!(&out[..16], &[0x30, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    // Ex form on VP 70: {vector, 0, format 0, mask 0x3, {0, 1 << 6}}, var header 2.
    let set = VpSet::from_vp_indices([70]).unwrap();
    let (xi, used) = encode_send_ipi_ex(&mut out, 0x30, &set).unwrap();
    assert_eq!((xi.encode(), used), (Ok(0x4_0015), 40));
    let GuestCall::SendIpi(s) = parse_call(&xi, InputBlock::Memory(&out)).unwrap() else { panic!() };
    assert!(s.processors.contains(70) && !s.processors.contains(6));
    // "All" format, as Linux sends to every present CPU: no banks, var header 0.
    let (ai, used) = encode_send_ipi_ex(&mut out, 0x30, &VpSet::all()).unwrap();
    assert_eq!((ai.encode(), used), (Ok(0x15), 24));
    let GuestCall::SendIpi(s) = parse_call(&ai, InputBlock::Memory(&out)).unwrap() else { panic!() };
    assert!(s.processors.contains(4000));
}

#[test]
fn other_calls() {
    let (i, rdx) = notify_long_spin_wait_fast(0xfff);
    assert_eq!((i.encode(), rdx), (Ok(0x1_0008), 0xfff));
    assert_eq!(parse_call(&i, InputBlock::Fast { rdx, r8: 0 }), Ok(GuestCall::NotifyLongSpinWait { spin_count: 0xfff }));
    let e = parse_call(&HypercallInput::new(0x7777), InputBlock::Memory(&[])).unwrap_err();
    assert_eq!((e, e.status()), (HcError::UnknownCall(0x7777), Status::InvalidHypercallCode));
    assert_eq!(call_name(code::POST_MESSAGE), Some("HvCallPostMessage"));
    assert_eq!(call_kind(code::FLUSH_VIRTUAL_ADDRESS_LIST_EX), Some(CallKind::Rep));
    assert_eq!(call_kind(code::SEND_IPI_EX), Some(CallKind::Simple));
    assert_eq!(call_kind(code::CREATE_VP), None);
    assert_eq!(format!("{}", HcError::UnknownCall(0x7777)), "unknown call code 0x7777");
}

fn arb_vps() -> impl Strategy<Value = Vec<u32>> {
    proptest::collection::vec(prop_oneof![0u32..64, 0u32..VP_SET_LIMIT], 0..40)
}

proptest! {
    #[test]
    fn parse_call_never_panics(raw in any::<u64>(), bytes in proptest::collection::vec(any::<u8>(), 0..600), rdx in any::<u64>(), r8 in any::<u64>(), pick in 0usize..10) {
        let codes = [code::POST_MESSAGE, code::SIGNAL_EVENT, code::FLUSH_VIRTUAL_ADDRESS_SPACE, code::FLUSH_VIRTUAL_ADDRESS_LIST, code::FLUSH_VIRTUAL_ADDRESS_SPACE_EX, code::FLUSH_VIRTUAL_ADDRESS_LIST_EX, code::SEND_IPI, code::SEND_IPI_EX, code::NOTIFY_LONG_SPIN_WAIT, raw as u16];
        // Steer the call code so every parser gets arbitrary bytes, keep the rest arbitrary.
        let raw = (raw & !0xffff) | u64::from(codes[pick]);
        if let Ok(input) = HypercallInput::decode(raw & !(0xf << 27) & !(0xf << 44) & !(0xf << 60)) {
            let block = if input.fast { InputBlock::Fast { rdx, r8 } } else { InputBlock::Memory(&bytes) };
            if let Ok(call) = parse_call(&input, block) {
                match call {
                    GuestCall::PostMessage(m) => prop_assert!(m.payload.len() <= 240),
                    GuestCall::SendIpi(s) => prop_assert!(s.vector >= 0x10),
                    GuestCall::Flush(f) => if let Some(g) = f.gvas { prop_assert_eq!(g.len(), usize::from(input.rep_count)) },
                    _ => {}
                }
            }
            let _ = VpSetView::parse(&bytes).map(|(v, _)| v.iter(5000).count());
        }
    }

    #[test]
    fn post_message_round_trip(conn in 0u32..0x100_0000, ty in 1u32..0x8000_0000, payload in proptest::collection::vec(any::<u8>(), 0..=240)) {
        let mut out = vec![0u8; 256];
        let (input, _) = encode_post_message(&mut out, conn, ty, &payload).unwrap();
        let GuestCall::PostMessage(m) = parse_call(&input, InputBlock::Memory(&out)).unwrap() else { panic!() };
        prop_assert_eq!((m.connection_id, m.message_type, m.payload), (conn, ty, &payload[..]));
    }

    #[test]
    fn vp_set_round_trip(vps in arb_vps(), sparse in any::<bool>()) {
        let set = if sparse { VpSet::sparse_from_vp_indices(vps.clone()) } else { VpSet::from_vp_indices(vps.clone()) }.unwrap();
        let mut b = vec![0u8; 16 + 64 * 8];
        let used = set.write_to(&mut b).unwrap();
        prop_assert_eq!(used, set.encoded_len());
        let (view, n) = VpSetView::parse(&b).unwrap();
        prop_assert_eq!(n, used);
        prop_assert_eq!(view.bank_count(), set.bank_count());
        let mut want = vps.clone();
        want.sort_unstable();
        want.dedup();
        prop_assert_eq!(view.iter(VP_SET_LIMIT).collect::<Vec<_>>(), want.clone());
        for v in want.iter() {
            prop_assert!(set.contains(*v));
        }
        prop_assert_eq!(set.as_mask64().is_some(), want.iter().all(|v| *v < 64));
    }

    #[test]
    fn gva_ranges_cover_exactly(start in any::<u64>(), len in 0u64..(64 * GVA_FLUSH_UNIT)) {
        let end = start.saturating_add(len);
        let ranges: Vec<_> = gva_ranges(start, end).collect();
        prop_assert_eq!(ranges.len() as u64, gva_count(start, end));
        let mut next = start & !0xfff;
        for r in &ranges {
            prop_assert_eq!(r.base, next);
            prop_assert_eq!(GvaRange::decode(r.encode().unwrap()), *r);
            match r.end() { Some(e) => next = e, None => { next = u64::MAX; break; } }
        }
        // Every page of [start, end) is covered, and at most one page of slack per range.
        if end > start { prop_assert!(next >= end && next - end < 0x1000); }
    }

    #[test]
    fn flush_list_ex_round_trip(vps in arb_vps(), start in 0u64..(1 << 47), len in 0u64..(100 * GVA_FLUSH_UNIT), cr3 in any::<u64>()) {
        let set = VpSet::from_vp_indices(vps.clone()).unwrap();
        let mut out = vec![0u8; HV_PAGE_SIZE];
        match encode_flush_list_ex(&mut out, cr3, 0, &set, start, start + len) {
            Ok((input, used)) => {
                prop_assert!(used <= HV_PAGE_SIZE);
                prop_assert!(input.rep_count <= MAX_REP_COUNT);
                let GuestCall::Flush(f) = parse_call(&input, InputBlock::Memory(&out)).unwrap() else { panic!() };
                prop_assert_eq!(f.address_space, Some(cr3));
                for v in &vps { prop_assert!(f.processors.contains(*v)); }
                let got: Vec<_> = f.gvas.unwrap().iter().collect();
                let want: Vec<_> = gva_ranges(start, start + len).collect();
                prop_assert_eq!(got, want);
            }
            Err(HcError::TooManyGvas { .. }) => prop_assert!(gva_count(start, start + len) > max_gvas(16 + set.encoded_len()) as u64),
            Err(e) => prop_assert!(false, "{e}"),
        }
    }
}
