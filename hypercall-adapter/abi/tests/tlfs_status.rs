//! Hypercall input/result values, rep continuation and status codes.
use hcall_abi::errno;
use hcall_abi::hypercall::code;
use hcall_abi::status::{result_to_errno, result_to_str, Status};
use hcall_abi::tlfs::*;
use proptest::prelude::*;

#[test]
fn rep_flush_input_value_golden() {
    // TLFS "Hypercall Inputs": call code 15:0, rep count 43:32. HvCallFlushVirtualAddressList
    // is call code 0x0003 (Rep) (TLFS HvCallFlushVirtualAddressList, "Call Code").
    let i = HypercallInput::new(code::FLUSH_VIRTUAL_ADDRESS_LIST).with_reps(25);
    assert_eq!(i.encode(), Ok(0x0000_0019_0000_0003));
    // TLFS "Hypercall Classes": "if a caller specifies a rep count of 25, and only 20
    // iterations are completed ... the hypercall returns ... after updating the rep start
    // index to 20". The host's result value: status 0, reps completed 20 (bits 43:32).
    let r = rep_result(Status::Success, 20).unwrap();
    assert_eq!(r, 0x0000_0014_0000_0000);
    let next = match next_rep(&i, r).unwrap() {
        RepStep::Continue(n) => n,
        other => panic!("{other:?}"),
    };
    assert_eq!(next.rep_start, 20);
    assert_eq!(next.encode(), Ok(0x0014_0019_0000_0003));
    // "... will resume at element 20 and complete the remaining 5 elements".
    assert!(matches!(next_rep(&next, rep_result(Status::Success, 25).unwrap()), Ok(RepStep::Done(_))));
    // TLFS "Hypercall Outputs": "if the caller specified a rep start index of 5, and a rep
    // count of 10, the reps complete field would indicate 10 upon successful completion".
    let mut i5 = HypercallInput::new(code::FLUSH_VIRTUAL_ADDRESS_LIST).with_reps(10);
    i5.rep_start = 5;
    assert_eq!(next_rep(&i5, 10 << 32), Ok(RepStep::Done(HypercallResult::new(Status::Success, 10))));
}

#[test]
fn linux_input_values_golden() {
    // arch/x86/hyperv/hv_init.c: HV_HYPERCALL_REP_COMP_1 | HVCALL_GET_VP_INDEX_FROM_APIC_ID.
    assert_eq!(HypercallInput::new(code::GET_VP_INDEX_FROM_APIC_ID).with_reps(1).encode(), Ok(0x1_0000_009a));
    // drivers/hv/connection.c vmbus_set_event(): hv_do_fast_hypercall8(HVCALL_SIGNAL_EVENT),
    // with HV_HYPERCALL_NESTED when nested.
    assert_eq!(HypercallInput::new(code::SIGNAL_EVENT).with_fast().encode(), Ok(0x1_005d));
    assert_eq!(HypercallInput::new(code::SIGNAL_EVENT).with_fast().with_nested().encode(), Ok(0x8001_005d));
    // arch/x86/hyperv/mmu.c: hv_do_rep_hypercall(HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST_EX,
    // gva_n = 1, nr_bank = 2, ...): variable header 2 in bits 26:17.
    let i = HypercallInput::new(code::FLUSH_VIRTUAL_ADDRESS_LIST_EX).with_var_header(2).with_reps(1);
    assert_eq!(i.encode(), Ok(0x0000_0001_0004_0014));
    // arch/x86/hyperv/hv_apic.c: hv_do_rep_hypercall(HVCALL_SEND_IPI_EX, 0, nr_bank = 1, ...).
    assert_eq!(HypercallInput::new(code::SEND_IPI_EX).with_var_header(1).encode(), Ok(0x0002_0015));
    assert_eq!(HypercallInput::decode(0x0014_0019_0000_0003).unwrap().rep_start, 20);
}

#[test]
fn out_of_range_fields_are_errors_not_truncation() {
    let base = HypercallInput::new(code::FLUSH_VIRTUAL_ADDRESS_LIST);
    assert_eq!(base.with_var_header(1024).encode(), Err(InputError::VarHeaderTooLarge(1024)));
    assert_eq!(base.with_reps(4096).encode(), Err(InputError::RepCountTooLarge(4096)));
    let mut i = base.with_reps(3);
    i.rep_start = 3;
    assert_eq!(i.encode(), Err(InputError::RepStartNotBelowCount { start: 3, count: 3 }));
    let mut s = base;
    s.rep_start = 1;
    assert_eq!(s.encode(), Err(InputError::RepStartNotBelowCount { start: 1, count: 0 }));
    i.rep_start = 5000;
    assert_eq!(i.encode(), Err(InputError::RepStartTooLarge(5000)));
    // Reserved bits 30:27, 47:44, 63:60; bit 31 is the nested flag.
    assert_eq!(HypercallInput::decode(1 << 27), Err(InputError::ReservedBitsSet(1 << 27)));
    assert_eq!(HypercallInput::decode(1 << 44), Err(InputError::ReservedBitsSet(1 << 44)));
    assert_eq!(HypercallInput::decode(1 << 63), Err(InputError::ReservedBitsSet(1 << 63)));
    assert!(HypercallInput::decode(1 << 31).unwrap().nested);
    assert_eq!(InputError::ReservedBitsSet(0).status(), Status::InvalidHypercallInput);
    assert_eq!(HypercallResult::new(Status::Success, 4096).encode(), Err(InputError::RepsCompletedTooLarge(4096)));
    // Results: callers ignore reserved bits; the strict decoder does not.
    assert_eq!(HypercallResult::decode(0xffff_0000_0005).status, Status::InvalidParameter);
    assert!(HypercallResult::decode_strict(0xffff_0000_0005).is_err());
}

#[test]
fn misbehaving_hosts_are_caught() {
    let mut i = HypercallInput::new(code::FLUSH_VIRTUAL_ADDRESS_LIST).with_reps(10);
    i.rep_start = 4;
    assert_eq!(next_rep(&i, 3 << 32), Err(RepError::Backwards { start: 4, completed: 3 }));
    assert_eq!(next_rep(&i, 11 << 32), Err(RepError::BeyondCount { count: 10, completed: 11 }));
    assert_eq!(next_rep(&i, 4 << 32), Err(RepError::NoProgress { start: 4 }));
    // A failure with partial progress keeps both.
    let r = rep_result(Status::InvalidParameter, 7).unwrap();
    assert_eq!(next_rep(&i, r), Err(RepError::Failed { status: Status::InvalidParameter, completed: 7 }));
    assert_eq!(next_rep(&i, r).unwrap_err().to_errno(), -errno::EINVAL);
    assert_eq!(RepError::NoProgress { start: 0 }.to_errno(), -errno::EIO);
    // Linux's "no hypercall page" value on a simple call.
    let s = HypercallInput::new(code::POST_MESSAGE);
    assert_eq!(next_rep(&s, u64::MAX).unwrap_err(), RepError::Failed { status: Status::Unknown(0xffff), completed: 0xfff });
}

#[test]
fn status_table_matches_hv_result_to_errno() {
    // drivers/hv/hv_common.c hv_status_infos[]: (code, errno).
    let kernel: &[(u16, &str, i32)] = &[
        (0x0, "HV_STATUS_SUCCESS", 0),
        (0x2, "HV_STATUS_INVALID_HYPERCALL_CODE", -22),
        (0x3, "HV_STATUS_INVALID_HYPERCALL_INPUT", -22),
        (0x4, "HV_STATUS_INVALID_ALIGNMENT", -5),
        (0x5, "HV_STATUS_INVALID_PARAMETER", -22),
        (0x6, "HV_STATUS_ACCESS_DENIED", -13),
        (0x7, "HV_STATUS_INVALID_PARTITION_STATE", -5),
        (0x8, "HV_STATUS_OPERATION_DENIED", -13),
        (0x9, "HV_STATUS_UNKNOWN_PROPERTY", -22),
        (0xA, "HV_STATUS_PROPERTY_VALUE_OUT_OF_RANGE", -22),
        (0xB, "HV_STATUS_INSUFFICIENT_MEMORY", -12),
        (0x75, "HV_STATUS_INSUFFICIENT_CONTIGUOUS_MEMORY", -12),
        (0x73, "HV_STATUS_INSUFFICIENT_ROOT_MEMORY", -12),
        (0x83, "HV_STATUS_INSUFFICIENT_CONTIGUOUS_ROOT_MEMORY", -12),
        (0xD, "HV_STATUS_INVALID_PARTITION_ID", -22),
        (0xE, "HV_STATUS_INVALID_VP_INDEX", -22),
        (0x10, "HV_STATUS_NOT_FOUND", -5),
        (0x11, "HV_STATUS_INVALID_PORT_ID", -22),
        (0x12, "HV_STATUS_INVALID_CONNECTION_ID", -22),
        (0x13, "HV_STATUS_INSUFFICIENT_BUFFERS", -5),
        (0x14, "HV_STATUS_NOT_ACKNOWLEDGED", -5),
        (0x15, "HV_STATUS_INVALID_VP_STATE", -5),
        (0x1D, "HV_STATUS_NO_RESOURCES", -5),
        (0x20, "HV_STATUS_PROCESSOR_FEATURE_NOT_SUPPORTED", -95),
        (0x41, "HV_STATUS_INVALID_LP_INDEX", -22),
        (0x50, "HV_STATUS_INVALID_REGISTER_VALUE", -22),
        (0x71, "HV_STATUS_OPERATION_FAILED", -5),
        (0x78, "HV_STATUS_TIME_OUT", -5),
        (0x79, "HV_STATUS_CALL_PENDING", -5),
        (0x86, "HV_STATUS_VTL_ALREADY_ENABLED", -5),
    ];
    assert_eq!(kernel.len(), Status::ALL.len());
    for &(c, name, e) in kernel {
        let s = Status::from_code(c);
        assert!(!matches!(s, Status::Unknown(_)), "{name}");
        assert_eq!((s.name(), s.to_errno(), s.code()), (name, e, c));
        assert_eq!(result_to_str(u64::from(c)), name);
    }
    // Codes the kernel does not know: "Unknown" and -EIO, as hv_result_to_string/errno.
    assert_eq!(Status::from_code(0xC), Status::Unknown(0xC));
    assert_eq!(Status::from_code(0xC).to_errno(), -errno::EIO);
    assert_eq!(result_to_str(0x19), "Unknown");
    assert_eq!(result_to_errno(u64::MAX), -errno::EOPNOTSUPP);
    assert_eq!(result_to_str(u64::MAX), "Hypercall page missing!");
    assert_eq!(result_to_errno(0x0000_0003_0000_0012), -errno::EINVAL, "reps completed bits are ignored");
    assert_eq!(format!("{}", Status::Unknown(0x19)), "Unknown (0x19)");
}

fn arb_input() -> impl Strategy<Value = HypercallInput> {
    (any::<u16>(), any::<bool>(), 0..=MAX_VAR_HEADER_QWORDS, any::<bool>(), 0..=MAX_REP_COUNT).prop_flat_map(|(code, fast, vh, nested, count)| {
        let start = if count == 0 { (0..=0u16).boxed() } else { (0..count).boxed() };
        start.prop_map(move |rep_start| HypercallInput { code, fast, var_header_qwords: vh, nested, rep_count: count, rep_start })
    })
}

proptest! {
    #[test]
    fn input_round_trip(i in arb_input()) {
        let raw = i.encode().unwrap();
        prop_assert_eq!(raw & INPUT_RESERVED_MASK, 0);
        prop_assert_eq!(HypercallInput::decode(raw), Ok(i));
    }

    #[test]
    fn decode_any_input_value(raw in any::<u64>()) {
        if let Ok(i) = HypercallInput::decode(raw) {
            prop_assert_eq!(i.encode(), Ok(raw));
        }
    }

    #[test]
    fn result_round_trip(code in any::<u16>(), reps in 0..=MAX_REP_COUNT) {
        let r = HypercallResult::new(Status::from_code(code), reps);
        let raw = r.encode().unwrap();
        prop_assert_eq!(HypercallResult::decode(raw), r);
        prop_assert_eq!(HypercallResult::decode_strict(raw), Ok(r));
        prop_assert_eq!(Status::from_code(code).code(), code);
    }

    #[test]
    fn next_rep_on_anything(i in arb_input(), raw in any::<u64>()) {
        match next_rep(&i, raw) {
            Ok(RepStep::Continue(n)) => {
                prop_assert!(n.rep_start > i.rep_start && n.rep_start < n.rep_count);
                prop_assert_eq!((n.code, n.rep_count, n.var_header_qwords), (i.code, i.rep_count, i.var_header_qwords));
            }
            Ok(RepStep::Done(r)) => prop_assert!(r.status.is_success()),
            Err(_) => {}
        }
    }

    /// A host that answers arbitrarily cannot keep a rep call going for more steps than
    /// there are reps.
    #[test]
    fn rep_loop_terminates(count in 1..=MAX_REP_COUNT, answers in proptest::collection::vec(any::<u64>(), 1..64)) {
        let mut i = HypercallInput::new(code::FLUSH_VIRTUAL_ADDRESS_LIST).with_reps(count);
        let mut steps = 0u32;
        for a in answers.iter().cycle().take(5000) {
            steps += 1;
            match next_rep(&i, *a) {
                Ok(RepStep::Continue(n)) => i = n,
                _ => break,
            }
        }
        prop_assert!(steps <= u32::from(count));
    }
}
