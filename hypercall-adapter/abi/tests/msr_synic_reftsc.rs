//! Synthetic MSRs, SynIC pages and reference time.
use hcall_abi::msr::*;
use hcall_abi::reftsc::{self, RefTscError, TscRead, TscSample};
use hcall_abi::synic::{self, Delivery, EomAction, MessageType, SynicError};
use proptest::prelude::*;

#[test]
fn guest_os_id_golden() {
    // include/asm-generic/mshyperv.h hv_generate_guest_id(LINUX_VERSION_CODE) with
    // HV_LINUX_VENDOR_ID 0x8100 (include/hyperv/hvgdk.h): for 7.3.4, LINUX_VERSION_CODE is
    // 0x070304 (also checked against the kernel in tests/layout.rs).
    assert_eq!(linux_guest_id(7, 3, 4), 0x8100_0007_0304_0000);
    assert_eq!(linux_guest_id(6, 1, 0), 0x8100_0006_0100_0000);
    // KERNEL_VERSION caps the sublevel at 255.
    assert_eq!(linux_version_code(4, 9, 337), 0x0004_09ff);
    let id = GuestOsId::decode(linux_guest_id(7, 3, 4));
    // TLFS "Guest OS Identity MSR for Open Source Operating Systems": bit 63 open source,
    // 62:56 OS type (Linux = 0x1), 55:48 OS id, 47:16 version, 15:0 build.
    assert_eq!(id, GuestOsId::OpenSource { os_type: 1, os_id: 0, version: 0x070304, build: 0 });
    assert_eq!(id.linux_version(), Some((7, 3, 4)));
    assert_eq!(GuestOsId::decode(0), GuestOsId::Unset);
    // TLFS proprietary encoding: vendor 62:48 (Microsoft = 1), OS id 47:40 (4 = NT),
    // major 39:32, minor 31:24, service 23:16, build 15:0: Windows 10.0 build 19041.
    let win = GuestOsId::decode(0x0001_040a_0000_4a61);
    assert_eq!(win, GuestOsId::Proprietary { vendor: 1, os_id: 4, major: 10, minor: 0, service: 0, build: 19041 });
    assert_eq!(win.linux_version(), None);
}

#[test]
fn hypercall_and_page_msrs_golden() {
    // TLFS "Establishing the Hypercall Interface": 63:12 GPFN, 1 locked, 0 enable.
    let h = HypercallMsr::enabled_at(0x12345).unwrap();
    assert_eq!(h.to_raw(), Ok(0x1234_5001));
    assert_eq!(h.gpa(), 0x1234_5000);
    let locked = HypercallMsr::from_raw(0x1234_5003);
    assert!(locked.enable && locked.locked);
    assert_eq!(HypercallMsr::enabled_at(1 << 52), Err(MsrError::PfnTooLarge(1 << 52)));
    // SIMP/SIEFP/REFERENCE_TSC: enable bit 0, RsvdP 11:1 kept, base 63:12.
    let simp = PageMsr::from_raw(0xabc0_0ffe);
    assert_eq!((simp.enable, simp.reserved, simp.pfn), (false, 0x7ff, 0xabc00));
    let mut e = simp;
    e.enable = true;
    assert_eq!(e.to_raw(), Ok(0xabc0_0fff));
    assert_eq!(PageMsr::enabled_at(0x100, 0x800), Err(MsrError::FieldTooLarge(0x800)));
    assert_eq!(ScontrolMsr::from_raw(1), ScontrolMsr { enable: true, reserved: 0 });
    assert_eq!(msr_name(SIMP), Some("HV_X64_MSR_SIMP"));
    assert_eq!(sint(16), None);
    assert_eq!(stimer_config(3), Some(0x4000_00B6));
}

#[test]
fn sint_encodings_golden() {
    // drivers/hv/hv.c hv_hyp_synic_enable_regs(): the VMBus SINT (2) gets vector
    // vmbus_interrupt = HYPERVISOR_CALLBACK_VECTOR (0xf3, arch/x86/include/asm/irq_vectors.h),
    // masked = false, auto_eoi = !HV_DEPRECATING_AEOI_RECOMMENDED. TLFS "SINTx Registers":
    // vector 7:0, masked 16, auto-EOI 17, polling 18.
    assert_eq!(SintMsr::unmasked(0xf3, true).unwrap().to_raw(), Ok(0x2_00f3));
    assert_eq!(SintMsr::unmasked(0xf3, false).unwrap().to_raw(), Ok(0xf3));
    assert_eq!(SintMsr::default().to_raw(), Ok(0x1_0000), "reset value: masked");
    assert_eq!(SintMsr::unmasked(0x0f, false), Err(MsrError::InvalidVector(0x0f)));
    assert_eq!(SintMsr::check_write(0x5), Err(MsrError::InvalidVector(5)));
    assert!(SintMsr::check_write(0x1_0005).is_ok(), "a masked SINT may hold any vector");
    let p = SintMsr::from_raw(0x4_0030);
    assert!(p.polling && !p.masked && p.vector == 0x30);
    // Synthetic timer config (union hv_stimer_config): enable, periodic, SINT 2 in 19:16.
    let t = StimerConfig { enable: true, periodic: true, sintx: 2, ..StimerConfig::default() };
    assert_eq!(t.to_raw(), Ok(0x2_0003));
    assert_eq!(StimerConfig { sintx: 16, ..t }.to_raw(), Err(MsrError::InvalidSint(16)));
}

#[test]
fn message_slot_protocol() {
    let mut page = vec![0u8; synic::PAGE_SIZE];
    // HVMSG_TIMER_EXPIRED for timer 0 (struct hv_timer_message_payload, 24 bytes).
    let payload = synic::TimerMessagePayload { timer_index: 0, reserved: 0, expiration_time: 1000, delivery_time: 1005 };
    let pb = zerocopy::IntoBytes::as_bytes(&payload).to_vec();
    let slot = synic::slot_mut(&mut page, 0).unwrap();
    assert_eq!(synic::host_post(slot, MessageType::TimerExpired.raw(), 0, &pb), Ok(Delivery::Delivered));
    // Golden header bytes: type 0x80000010, size 24, flags 0, reserved, sender 0.
    assert_eq!(&slot[..16], &[0x10, 0, 0, 0x80, 24, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let m = synic::parse_slot(slot).unwrap().unwrap();
    assert_eq!((m.message_type, m.pending, m.payload), (MessageType::TimerExpired, false, &pb[..]));
    // The host has a second message: the slot is busy, so it sets msg_pending.
    assert_eq!(synic::host_post(slot, 1, 7, &[1, 2, 3]), Ok(Delivery::SlotBusy));
    assert!(synic::parse_slot(slot).unwrap().unwrap().pending);
    // Guest: free the slot, then the pending flag (read after) says EOM.
    assert_eq!(synic::consume(slot), Ok(EomAction::WriteEom));
    assert_eq!(synic::parse_slot(slot), Ok(None));
    // After EOM the host redelivers into the free slot; a posted VMBus message (type 1).
    assert_eq!(synic::host_post(slot, 1, 7, &[1, 2, 3]), Ok(Delivery::Delivered));
    let m = synic::parse_slot(slot).unwrap().unwrap();
    assert_eq!((m.message_type, m.sender, m.pending), (MessageType::Posted(1), 7, false));
    assert_eq!(synic::consume(slot), Ok(EomAction::Nothing));
    assert_eq!(synic::consume(slot), Ok(EomAction::Nothing), "freeing a free slot needs nothing");
    assert_eq!(synic::eom_action(synic::MESSAGE_FLAG_PENDING), EomAction::WriteEom);
    // Untrusted sizes.
    let mut bad = [0u8; 256];
    bad[0] = 1;
    bad[4] = 241;
    assert_eq!(synic::parse_slot(&bad), Err(SynicError::PayloadTooLarge(241)));
    assert!(matches!(synic::parse_slot(&bad[..255]), Err(SynicError::BufferTooShort { .. })));
    assert_eq!(synic::slot(&page, 16).unwrap_err(), SynicError::InvalidSint(16));
    assert_eq!(synic::host_post(&mut bad, 0, 0, &[]), Err(SynicError::NoneType));
}

#[test]
fn event_flags() {
    let mut page = vec![0u8; synic::PAGE_SIZE];
    // Flag n of SINT s is bit n%8 of byte s*256 + n/8 (hv_synic_event_flags flags8[]).
    assert_eq!(synic::flag_set(&mut page, synic::VMBUS_SINT, 13), Ok(false));
    assert_eq!(page[2 * 256 + 1], 1 << 5);
    assert_eq!(synic::flag_set(&mut page, 2, 13), Ok(true));
    assert_eq!(synic::flag_is_set(&page, 2, 13), Ok(true));
    assert_eq!(synic::flag_is_set(&page, 1, 13), Ok(false));
    synic::flag_set(&mut page, 2, 2047).unwrap();
    synic::flag_set(&mut page, 2, 0).unwrap();
    let area = synic::flags_area(&page, 2).unwrap();
    assert_eq!(synic::set_flags(area).collect::<Vec<_>>(), [0, 13, 2047]);
    assert_eq!(synic::flag_test_and_clear(&mut page, 2, 13), Ok(true));
    assert_eq!(synic::flag_test_and_clear(&mut page, 2, 13), Ok(false));
    assert_eq!(synic::flag_word(130), Ok((2, 2)));
    assert_eq!(synic::flag_location(2048), Err(SynicError::InvalidFlag(2048)));
    assert_eq!(synic::flag_set(&mut page, 16, 0), Err(SynicError::InvalidSint(16)));
    assert!(matches!(synic::flag_is_set(&page[..600], 2, 0), Err(SynicError::BufferTooShort { .. })));
}

#[test]
fn reference_tsc_golden() {
    // TLFS "Partition Reference TSC Mechanism": ReferenceTime = ((VirtualTsc * TscScale) >> 64)
    // + TscOffset, 100 ns units. For a 2.4 GHz TSC the scale is floor(10^7 * 2^64 / 2.4e9)
    // = floor(2^64 / 240) = 76861433640456465 (hand-checked: 2^64 = 18446744073709551616).
    let scale = reftsc::scale_for_tsc_hz(2_400_000_000).unwrap();
    assert_eq!(scale, 76_861_433_640_456_465);
    // One second of ticks is 10^7 units less the truncation of the scale: 9999999.
    assert_eq!(reftsc::reference_time(2_400_000_000, scale, 0), 9_999_999);
    assert_eq!(reftsc::reference_time(3_000_000_000, scale, 0), 12_499_999);
    // 100 s of ticks with an offset of -50 s.
    assert_eq!(reftsc::reference_time(240_000_000_000, scale, -500_000_000), 499_999_999);
    let off = reftsc::offset_for(240_000_000_000, scale, 42);
    assert_eq!(reftsc::reference_time(240_000_000_000, scale, off), 42);
    assert_eq!(reftsc::scale_for_tsc_hz(10_000_000), Err(RefTscError::FrequencyTooLow(10_000_000)));
    assert_eq!(reftsc::ref_time_to_ns(9_999_999), 999_999_900);
    assert_eq!(reftsc::ns_to_ref_time(1_000_000_099), 10_000_000);
    // Sequence rule (include/clocksource/hyperv_timer.h hv_read_tsc_page_tsc()): 0 = invalid.
    let s = TscSample { sequence_before: 0, scale, offset: 0, tsc: 1, sequence_after: 0 };
    assert_eq!(reftsc::evaluate(&s), TscRead::Invalid);
    let s = TscSample { sequence_before: 5, sequence_after: 6, ..s };
    assert_eq!(reftsc::evaluate(&s), TscRead::Retry);
    let mut n = 0;
    let t = reftsc::read_with_retry(3, || {
        n += 1;
        TscSample { sequence_before: 5, scale, offset: 0, tsc: 2_400_000_000, sequence_after: if n < 2 { 6 } else { 5 } }
    });
    assert_eq!((t, n), (Ok(9_999_999), 2));
    assert_eq!(reftsc::read_with_retry(4, || TscSample { sequence_before: 1, sequence_after: 2, ..s }), Err(RefTscError::TooManyRetries(4)));
    assert_eq!(reftsc::next_sequence(u32::MAX - 1), 1);
    assert_eq!(reftsc::next_sequence(0), 1);
    assert_eq!(reftsc::next_sequence(7), 8);
}

proptest! {
    #[test]
    fn msr_bitfields_round_trip(raw in any::<u64>()) {
        prop_assert_eq!(HypercallMsr::from_raw(raw).to_raw(), Ok(raw));
        prop_assert_eq!(PageMsr::from_raw(raw).to_raw(), Ok(raw));
        prop_assert_eq!(SintMsr::from_raw(raw).to_raw(), Ok(raw));
        prop_assert_eq!(ScontrolMsr::from_raw(raw).to_raw(), Ok(raw));
        let _ = GuestOsId::decode(raw).linux_version();
        let st = StimerConfig::from_raw(raw);
        prop_assert_eq!(st.to_raw(), Ok(raw));
        let _ = SintMsr::check_write(raw);
    }

    #[test]
    fn linux_guest_id_round_trip(a in any::<u8>(), b in any::<u8>(), c in 0u16..256) {
        let id = GuestOsId::decode(linux_guest_id(a, b, c));
        prop_assert_eq!(id.linux_version(), Some((a, b, c as u8)));
    }

    #[test]
    fn parse_slot_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(Some(m)) = synic::parse_slot(&bytes) {
            prop_assert!(m.payload.len() <= 240);
        }
        let mut b = bytes.clone();
        let _ = synic::consume(&mut b);
        let _ = synic::set_flags(&bytes).count();
    }

    #[test]
    fn host_post_round_trip(ty in 1u32.., sender in any::<u64>(), payload in proptest::collection::vec(any::<u8>(), 0..=240)) {
        let mut slot = [0u8; 256];
        prop_assert_eq!(synic::host_post(&mut slot, ty, sender, &payload), Ok(Delivery::Delivered));
        let m = synic::parse_slot(&slot).unwrap().unwrap();
        prop_assert_eq!((m.message_type.raw(), m.sender, m.payload), (ty, sender, &payload[..]));
    }

    #[test]
    fn event_flags_any(sint in any::<u8>(), flag in any::<u32>()) {
        let mut page = vec![0u8; synic::PAGE_SIZE];
        let valid = sint < 16 && flag < 2048;
        prop_assert_eq!(synic::flag_set(&mut page, sint, flag).is_ok(), valid);
        if valid {
            prop_assert_eq!(synic::set_flags(synic::flags_area(&page, sint).unwrap()).collect::<Vec<_>>(), vec![flag]);
            prop_assert_eq!(page.iter().map(|b| b.count_ones()).sum::<u32>(), 1);
        }
    }

    /// The host's scale reproduces real time within a tick per second and never drifts
    /// backwards.
    #[test]
    fn reftsc_scale_accuracy(hz in 10_000_001u64..20_000_000_000, secs in 0u64..100_000) {
        let scale = reftsc::scale_for_tsc_hz(hz).unwrap();
        let ticks = hz.saturating_mul(secs);
        let t = reftsc::reference_time(ticks, scale, 0);
        let want = secs * reftsc::REF_TIME_HZ;
        prop_assert!(t <= want && want - t <= secs + 1, "{} vs {}", t, want);
        prop_assert!(reftsc::reference_time(ticks + 1, scale, 0) >= t);
    }

    #[test]
    fn evaluate_any(a in any::<u32>(), b in any::<u32>(), scale in any::<u64>(), offset in any::<i64>(), tsc in any::<u64>()) {
        let r = reftsc::evaluate(&TscSample { sequence_before: a, scale, offset, tsc, sequence_after: b });
        prop_assert_eq!(matches!(r, TscRead::Time(_)), a != 0 && a == b);
    }
}
