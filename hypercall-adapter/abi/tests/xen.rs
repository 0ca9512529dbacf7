//! Xen hypercall conventions, operations, errors and pvclock.
use hcall_abi::cpuid::CpuVendor;
use hcall_abi::xen::*;
use proptest::prelude::*;

#[test]
fn hypercall_numbers_and_registers() {
    // include/xen/interface/xen.h.
    assert_eq!((hc::SCHED_OP, hc::EVENT_CHANNEL_OP, hc::HVM_OP, hc::XEN_VERSION, hc::VCPU_OP, hc::MEMORY_OP, hc::GRANT_TABLE_OP), (29, 32, 34, 17, 24, 12, 20));
    assert_eq!(hc::name(29), Some("__HYPERVISOR_sched_op"));
    // Hypercall page: 32-byte stubs; Linux's old HYPERCALL_STR(name) called
    // "hypercall_page+(__HYPERVISOR_##name * 32)" (arch/x86/include/asm/xen/hypercall.h).
    assert_eq!(hypercall_page_offset(hc::SCHED_OP), Ok(928));
    assert_eq!(hypercall_page_offset(hc::EVENT_CHANNEL_OP), Ok(1024));
    assert_eq!(hypercall_page_offset(127), Ok(4064));
    assert_eq!(hypercall_page_offset(128), Err(XenError::NumberOutOfRange(128)));
    // __HYPERCALL_ARG1REG..5: rdi, rsi, rdx, r10, r8; number and result in rax.
    let call = XenCall::new(hc::EVENT_CHANNEL_OP, [evtchn::EVTCHNOP_SEND.into(), 0xffff_8880_0000_1000, 0, 0, 0]);
    let r = call.to_regs();
    assert_eq!((r.rax, r.rdi, r.rsi, r.rdx, r.r10, r.r8), (32, 4, 0xffff_8880_0000_1000, 0, 0, 0));
    assert_eq!(XenCall::from_regs(&r), Ok(call));
    assert_eq!(XenCall::from_regs(&XenRegs { rax: 1 << 32, ..r }), Err(XenError::InvalidValue(1 << 32)));
    // Intel: vmcall 0F 01 C1; AMD: vmmcall 0F 01 D9 (xen_hypercall_intel/amd in Linux).
    assert_eq!(XenInsn::for_cpu(CpuVendor::Intel).bytes(), [0x0f, 0x01, 0xc1]);
    assert_eq!(XenInsn::for_cpu(CpuVendor::Amd).bytes(), [0x0f, 0x01, 0xd9]);
    assert_eq!(XenInsn::for_cpu(CpuVendor::Other), XenInsn::Vmcall);
}

#[test]
fn returns_and_errno() {
    // XENVER_version returns major << 16 | minor; Xen 4.11 (as AWS's CPUID leaf says).
    assert_eq!(decode_return(0x0004_000b).and_then(version::decode_version), Ok((4, 11)));
    // -EINVAL and -ENOSYS come back as two's complement in rax.
    assert_eq!(decode_return((-22i64) as u64), Err(XenError::Errno(XenErrno::Einval)));
    assert_eq!(decode_return((-38i64) as u64).unwrap_err().to_errno(), -38);
    assert_eq!(decode_return((-4095i64) as u64), Err(XenError::Errno(XenErrno::Unknown(4095))));
    assert_eq!(XenError::Errno(XenErrno::Unknown(4095)).to_errno(), -5, "unknown numbers become -EIO");
    assert_eq!(decode_return((-4096i64) as u64), Err(XenError::BadReturn((-4096i64) as u64)));
    assert_eq!(encode_error(XenErrno::Eagain), (-11i64) as u64);
    // xen/include/public/errno.h: every value, in order.
    let golden: &[(&str, u16)] = &[
        ("XEN_EPERM", 1), ("XEN_ENOENT", 2), ("XEN_ESRCH", 3), ("XEN_EINTR", 4), ("XEN_EIO", 5), ("XEN_ENXIO", 6),
        ("XEN_E2BIG", 7), ("XEN_ENOEXEC", 8), ("XEN_EBADF", 9), ("XEN_ECHILD", 10), ("XEN_EAGAIN", 11), ("XEN_ENOMEM", 12),
        ("XEN_EACCES", 13), ("XEN_EFAULT", 14), ("XEN_EBUSY", 16), ("XEN_EEXIST", 17), ("XEN_EXDEV", 18), ("XEN_ENODEV", 19),
        ("XEN_EINVAL", 22), ("XEN_ENFILE", 23), ("XEN_EMFILE", 24), ("XEN_ENOSPC", 28), ("XEN_EMLINK", 31), ("XEN_EDOM", 33),
        ("XEN_ERANGE", 34), ("XEN_EDEADLK", 35), ("XEN_ENAMETOOLONG", 36), ("XEN_ENOLCK", 37), ("XEN_ENOSYS", 38),
        ("XEN_EBADRQC", 56), ("XEN_EBADSLT", 57), ("XEN_ENODATA", 61), ("XEN_ETIME", 62), ("XEN_EBADMSG", 74),
        ("XEN_EOVERFLOW", 75), ("XEN_EILSEQ", 84), ("XEN_ERESTART", 85), ("XEN_EUSERS", 87), ("XEN_ENOTSOCK", 88),
        ("XEN_EOPNOTSUPP", 95), ("XEN_EADDRINUSE", 98), ("XEN_EADDRNOTAVAIL", 99), ("XEN_ENOBUFS", 105), ("XEN_EISCONN", 106),
        ("XEN_ENOTCONN", 107), ("XEN_ESHUTDOWN", 108), ("XEN_ETOOMANYREFS", 109), ("XEN_ETIMEDOUT", 110),
    ];
    assert_eq!(golden.len(), XenErrno::ALL.len());
    for (e, &(name, code)) in XenErrno::ALL.iter().zip(golden) {
        assert_eq!((e.name(), e.code()), (name, code));
        assert_eq!(XenErrno::from_code(code), *e);
    }
}

#[test]
fn operations() {
    // EVTCHNOP_send with struct evtchn_send { port }.
    assert_eq!(evtchn::parse(evtchn::EVTCHNOP_SEND, &[4, 0, 0, 0]), Ok(evtchn::EvtchnOp::Send(evtchn::EvtchnSend { port: 4 })));
    assert_eq!(evtchn::parse(evtchn::EVTCHNOP_SEND, &[4, 0]), Err(XenError::BufferTooShort { needed: 4, have: 2 }));
    assert_eq!(evtchn::parse(99, &[0; 64]), Err(XenError::InvalidValue(99)));
    let b = [0xf0, 0x7f, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0];
    assert_eq!(
        evtchn::parse(evtchn::EVTCHNOP_BIND_INTERDOMAIN, &b),
        Ok(evtchn::EvtchnOp::BindInterdomain(evtchn::EvtchnBindInterdomain { remote_dom: domid::SELF, _pad: 0, remote_port: 5, local_port: 0 }))
    );
    assert_eq!(evtchn::port_word_bit(130), Ok((2, 2)));
    assert!(evtchn::port_word_bit(4096).is_err());
    // SCHEDOP_shutdown with SHUTDOWN_reboot; an unknown reason is refused.
    assert_eq!(sched::parse(sched::SCHEDOP_SHUTDOWN, &[1, 0, 0, 0]), Ok(sched::SchedOp::Shutdown(sched::ShutdownReason::Reboot)));
    assert_eq!(sched::parse(sched::SCHEDOP_SHUTDOWN, &[6, 0, 0, 0]), Err(XenError::InvalidValue(6)));
    assert_eq!(sched::parse(sched::SCHEDOP_YIELD, &[]), Ok(sched::SchedOp::Yield));
    let mut poll = [0u8; 24];
    poll[8] = 129;
    assert_eq!(sched::parse(sched::SCHEDOP_POLL, &poll), Err(XenError::InvalidValue(129)));
    poll[8] = 2;
    assert!(matches!(sched::parse(sched::SCHEDOP_POLL, &poll), Ok(sched::SchedOp::Poll(p)) if p.nr_ports == 2));
    // XENVER_extraversion text.
    let mut ev = [0u8; 16];
    ev[..2].copy_from_slice(b".0");
    assert_eq!(version::c_str(&ev), Ok(".0"));
    assert_eq!(version::c_str(b"no terminator"), Err(XenError::BadString));
    assert_eq!(version::c_str(b"\x1b[31m\0"), Err(XenError::BadString));
    assert!(features::has(&[1 << features::XENFEAT_HVM_CALLBACK_VECTOR], features::XENFEAT_HVM_CALLBACK_VECTOR));
    assert!(!features::has(&[u32::MAX], 40));
    // HVM_PARAM_CALLBACK_IRQ "via vector": type 2 in bits 63:56 (hvm/params.h).
    assert_eq!(hvm::callback_via_vector(0xf3), 0x0200_0000_0000_00f3);
}

#[test]
fn pvclock_golden() {
    // pvclock_scale_delta(): (delta << shift) * mul_frac >> 32. With mul 0x80000000 (0.5)
    // and shift 1 the scale is exactly 1 ns per tick.
    let info = PvclockVcpuTimeInfo { version: 2, tsc_timestamp: 1000, system_time: 5_000_000_000, tsc_to_system_mul: 0x8000_0000, tsc_shift: 1, ..Default::default() };
    assert_eq!(info.time_at(1_001_000), Ok(5_001_000_000));
    assert_eq!(scale_delta(1000, 0x8000_0000, -1), Ok(250));
    // A 2.5 GHz TSC: 0.4 ns per tick -> shift -1, mul 0.8 * 2^32 = 0xCCCCCCCC (3435973836,
    // truncated). 2.5e9 ticks: (2.5e9 >> 1) * 0xCCCCCCCC >> 32 = 999999999 (hand-checked:
    // 1.25e9 * 0.79999999981 = 999999999.77).
    assert_eq!(scale_for_tsc_hz(2_500_000_000), Ok((0xCCCC_CCCC, -1)));
    assert_eq!(scale_delta(2_500_000_000, 0xCCCC_CCCC, -1), Ok(999_999_999));
    // A 1 GHz TSC: exactly 1 ns per tick (mul 0.5, shift 1).
    assert_eq!(scale_for_tsc_hz(1_000_000_000), Ok((0x8000_0000, 1)));
    // pvclock_tsc_khz(): (10^6 << 32) / mul, then the shift undone.
    let t = PvclockVcpuTimeInfo { tsc_to_system_mul: 0xCCCC_CCCC, tsc_shift: -1, ..Default::default() };
    assert_eq!(t.tsc_khz(), Some(2_500_000));
    assert_eq!(scale_delta(1, 1, 64), Err(XenError::BadShift(64)));
    // Odd or changed version: read again (pvclock_read_begin/retry).
    assert!(version_consistent(2, 2));
    assert!(!version_consistent(3, 3));
    assert!(!version_consistent(2, 4));
    let mut n = 0;
    let r = read_with_retry(5, || {
        n += 1;
        let version = if n == 1 { 3 } else { 4 };
        PvclockSample { info: PvclockVcpuTimeInfo { version, flags: PVCLOCK_TSC_STABLE_BIT, ..info }, tsc: 2000, version_after: 4 }
    });
    assert_eq!((r, n), (Ok((5_000_001_000, PVCLOCK_TSC_STABLE_BIT)), 2));
    assert_eq!(read_with_retry(2, || PvclockSample { info: PvclockVcpuTimeInfo { version: 1, ..info }, tsc: 0, version_after: 1 }), Err(XenError::TooManyRetries(2)));
    // pvclock_read_wallclock(): boot wall time + system time, normalized.
    let wall = PvclockWallClock { version: 6, sec: 1_700_000_000, nsec: 999_999_999 };
    assert_eq!(wallclock(&wall, 6, 1), Ok((1_700_000_001, 0)));
    assert_eq!(wallclock(&wall, 8, 1), Err(XenError::TooManyRetries(0)));
}

proptest! {
    #[test]
    fn parsers_never_panic(cmd in 0u32..20, bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = evtchn::parse(cmd, &bytes);
        let _ = sched::parse(cmd, &bytes);
        let _ = version::c_str(&bytes);
    }

    #[test]
    fn decode_return_any(rax in any::<u64>()) {
        match decode_return(rax) {
            Ok(v) => prop_assert!((v as i64) >= 0),
            Err(XenError::Errno(e)) => {
                prop_assert!(e.code() >= 1 && u64::from(e.code()) <= MAX_ERRNO);
                prop_assert_eq!(encode_error(e), rax);
                prop_assert!(e.to_linux_errno() < 0);
            }
            Err(XenError::BadReturn(v)) => prop_assert_eq!(v, rax),
            Err(e) => prop_assert!(false, "{:?}", e),
        }
    }

    #[test]
    fn regs_round_trip(nr in any::<u32>(), args in any::<[u64; 5]>()) {
        let c = XenCall::new(nr, args);
        prop_assert_eq!(XenCall::from_regs(&c.to_regs()), Ok(c));
    }

    #[test]
    fn scale_delta_matches_wide_math(delta in any::<u64>(), mul in any::<u32>(), shift in any::<i8>()) {
        match scale_delta(delta, mul, shift) {
            Ok(v) => {
                let d = if shift < 0 { delta >> (-i32::from(shift)) } else { delta << shift };
                prop_assert_eq!(u128::from(v), (u128::from(d) * u128::from(mul)) >> 32);
            }
            Err(e) => prop_assert_eq!(e, XenError::BadShift(shift)),
        }
        let info = PvclockVcpuTimeInfo { tsc_to_system_mul: mul, tsc_shift: shift, ..Default::default() };
        let _ = info.tsc_khz();
        let _ = info.time_at(delta);
    }

    /// The host's (mul, shift) converts one second of ticks to within 2 ns of 10^9.
    #[test]
    fn pvclock_scale_accuracy(hz in 1_000_000u64..20_000_000_000) {
        let (mul, shift) = scale_for_tsc_hz(hz).unwrap();
        prop_assert!(mul >= 0x8000_0000);
        let ns = scale_delta(hz, mul, shift).unwrap();
        prop_assert!(ns <= 1_000_000_000 && 1_000_000_000 - ns <= 2 + (1u64 << shift.max(0)) , "{} -> {}", hz, ns);
    }

    #[test]
    fn wallclock_any(version in any::<u32>(), after in any::<u32>(), sec in any::<u32>(), nsec in any::<u32>(), now in any::<u64>()) {
        let w = PvclockWallClock { version, sec, nsec };
        if let Ok((s, ns)) = wallclock(&w, after, now) {
            prop_assert!(ns < 1_000_000_000);
            prop_assert!(s >= u64::from(sec));
        }
    }
}
