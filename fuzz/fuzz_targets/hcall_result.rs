//! What the hypervisor hands back besides CPUID (`hcall_abi`), as the adapter module reads it:
//! hypercall result values and the rep-call continuation (`tlfs::next_rep`, the loop of
//! `hypercall-adapter/module/hvcalls.rs`), status to errno, Xen return values, SynIC message
//! slots and event flags the host writes, the reference TSC page and the Xen pvclock records.
//!
//! The input: a selector byte, then the fields of that part (little-endian, zeros past the end).
//!
//! Properties: no panic; result values decode to their status and reps completed and
//! re-encode to the same bits; errnos are 0 or in -4095..=-1; a rep call ends (done or an
//! error) within `rep_count + 1` results, its start index strictly increasing, never beyond
//! the count; a SynIC slot's payload lies inside the slot and is at most 240 bytes, a message
//! posted into a freed slot reads back the same, consuming a slot frees it and asks for EOM
//! exactly when the pending flag is set; every flag the iterator reports is set and below
//! 2048; TSC page and pvclock reads give a time, a retry or "invalid" exactly by the sequence
//! rules, and their retry loops end within the attempts allowed.
#![no_main]
use hcall_abi::reftsc::{self, TscRead, TscSample};
use hcall_abi::status::{self, Status};
use hcall_abi::synic::{self, EomAction, EVENT_FLAGS_BYTES, EVENT_FLAGS_COUNT, MESSAGE_FLAG_PENDING, MESSAGE_SIZE, PAYLOAD_BYTES, SINT_COUNT};
use hcall_abi::tlfs::{self, HypercallInput, HypercallResult, RepStep, MAX_REP_COUNT, REP_COMP_MASK, RESULT_MASK};
use hcall_abi::xen::{self, PvclockSample, PvclockVcpuTimeInfo, PvclockWallClock, XenError};
use libfuzzer_sys::fuzz_target;
use pvguest_fuzz::Input;

fn check_result(raw: u64) {
    let r = HypercallResult::decode(raw);
    assert_eq!(r.status.code(), raw as u16);
    assert_eq!(u64::from(r.reps_completed), (raw & REP_COMP_MASK) >> 32);
    assert!(r.reps_completed <= MAX_REP_COUNT);
    assert_eq!(r.encode(), Ok(raw & (RESULT_MASK | REP_COMP_MASK)));
    assert_eq!(HypercallResult::decode_strict(raw).is_ok(), raw & !(RESULT_MASK | REP_COMP_MASK) == 0);
    assert_eq!(Status::from_code(raw as u16), r.status);
    let e = status::result_to_errno(raw);
    assert!(e <= 0 && e >= -4095);
    assert_eq!(e == 0, raw != status::RESULT_NO_HYPERCALL_PAGE && r.status.is_success());
    assert!(!status::result_to_str(raw).is_empty());
    match xen::decode_return(raw) {
        Ok(v) => assert_eq!(v, raw),
        Err(XenError::Errno(e)) => {
            assert!((raw as i64) < 0);
            let _ = (e.name(), e.to_linux_errno());
        }
        Err(_) => assert!((raw as i64) < -4095),
    }
}

/// `hv_do_rep_hypercall()`'s loop against results the host picks.
fn rep_call(i: &mut Input<'_>) {
    let code = i.u16();
    let count = i.u16() & MAX_REP_COUNT;
    let mut input = HypercallInput::new(code).with_reps(count);
    if i.u8() & 1 != 0 {
        input = input.with_var_header(u16::from(i.u8() & 3));
    }
    let mut calls = 0u32;
    loop {
        calls += 1;
        assert!(calls <= u32::from(count) + 1, "rep call of {count} goes on after {calls} results");
        let raw = i.u64();
        match tlfs::next_rep(&input, raw) {
            Ok(RepStep::Done(r)) => {
                assert!(r.status.is_success());
                if input.is_rep() {
                    assert_eq!(r.reps_completed, count);
                }
                return;
            }
            Ok(RepStep::Continue(next)) => {
                assert!(input.is_rep());
                assert!(next.rep_start > input.rep_start && next.rep_start < count);
                assert_eq!((next.code, next.rep_count), (input.code, input.rep_count));
                input = next;
            }
            Err(e) => {
                assert!(e.to_errno() < 0);
                return;
            }
        }
    }
}

fn synic_slot(i: &mut Input<'_>) {
    let mut slot = [0u8; MESSAGE_SIZE];
    let b = i.bytes(MESSAGE_SIZE);
    slot[..b.len()].copy_from_slice(b);
    match synic::parse_slot(&slot) {
        Ok(Some(m)) => {
            assert!(m.payload.len() <= PAYLOAD_BYTES);
            assert_eq!(m.payload.len(), usize::from(slot[4]));
            assert_eq!(m.payload, &slot[16..16 + m.payload.len()]);
            assert_eq!(m.pending, slot[5] & MESSAGE_FLAG_PENDING != 0);
        }
        Ok(None) => assert_eq!(&slot[..4], &[0; 4]),
        Err(_) => assert!(usize::from(slot[4]) > PAYLOAD_BYTES),
    }
    // The guest frees the slot; EOM exactly when another message waits.
    let busy = slot[..4] != [0; 4];
    let mut copy = slot;
    let eom = synic::consume(&mut copy).expect("a whole slot");
    assert_eq!(&copy[..4], &[0; 4]);
    assert_eq!(eom == EomAction::WriteEom, busy && slot[5] & MESSAGE_FLAG_PENDING != 0);
    // A message posted into the freed slot reads back as posted; a busy slot only gets the
    // pending flag.
    let (ty, sender, n) = (i.u32() | 1, i.u64(), usize::from(i.u8()) % (PAYLOAD_BYTES + 1));
    let payload: Vec<u8> = (0..n).map(|k| k as u8 ^ 0x5a).collect();
    let mut busy_slot = slot;
    match synic::host_post(&mut busy_slot, ty & 0x7fff_ffff | 1, sender, &payload) {
        Ok(synic::Delivery::SlotBusy) => {
            assert!(busy);
            assert!(busy_slot[5] & MESSAGE_FLAG_PENDING != 0);
        }
        Ok(synic::Delivery::Delivered) => assert!(!busy),
        Err(e) => panic!("host_post: {e:?}"),
    }
    assert_eq!(synic::host_post(&mut copy, ty & 0x7fff_ffff | 1, sender, &payload), Ok(synic::Delivery::Delivered));
    let m = synic::parse_slot(&copy).expect("posted").expect("a message");
    assert_eq!((m.message_type.raw(), m.sender, m.payload, m.pending), (ty & 0x7fff_ffff | 1, sender, &payload[..], false));
}

fn event_flags(i: &mut Input<'_>) {
    let sint = i.u8() % SINT_COUNT as u8;
    let mut page = vec![0u8; synic::PAGE_SIZE];
    let b = i.bytes(EVENT_FLAGS_BYTES);
    let at = usize::from(sint) * EVENT_FLAGS_BYTES;
    page[at..at + b.len()].copy_from_slice(b);
    let area = synic::flags_area(&page, sint).expect("a whole page").to_vec();
    let set: Vec<u32> = synic::set_flags(&area).collect();
    assert!(set.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(set.len(), area.iter().map(|b| b.count_ones() as usize).sum::<usize>());
    for f in &set {
        assert!(*f < EVENT_FLAGS_COUNT);
        assert_eq!(synic::flag_test_and_clear(&mut page, sint, *f), Ok(true));
    }
    assert!(synic::flags_area(&page, sint).unwrap().iter().all(|b| *b == 0), "flags left after clearing every reported one");
    assert!(synic::flag_is_set(&page, sint, EVENT_FLAGS_COUNT).is_err());
}

fn tsc_page(i: &mut Input<'_>) {
    let max = u32::from(i.u8() % 16);
    let samples: Vec<TscSample> = (0..4)
        .map(|_| TscSample { sequence_before: i.u32(), scale: i.u64(), offset: i.u64() as i64, tsc: i.u64(), sequence_after: i.u32() })
        .collect();
    for s in &samples {
        match reftsc::evaluate(s) {
            TscRead::Time(t) => {
                assert!(s.sequence_before != 0 && s.sequence_before == s.sequence_after);
                assert_eq!(t, reftsc::reference_time(s.tsc, s.scale, s.offset));
            }
            TscRead::Retry => assert!(s.sequence_before != 0 && s.sequence_before != s.sequence_after),
            TscRead::Invalid => assert_eq!(s.sequence_before, 0),
        }
    }
    let mut n = 0;
    let _ = reftsc::read_with_retry(max, || {
        n += 1;
        samples[(n - 1) % samples.len()]
    });
    assert!(n <= max as usize, "{n} attempts of {max}");
}

fn pvclock(i: &mut Input<'_>) {
    let info = PvclockVcpuTimeInfo {
        version: i.u32(),
        pad0: 0,
        tsc_timestamp: i.u64(),
        system_time: i.u64(),
        tsc_to_system_mul: i.u32(),
        tsc_shift: i.u8() as i8,
        flags: i.u8(),
        pad: [0; 2],
    };
    let (tsc, after) = (i.u64(), i.u32());
    match info.time_at(tsc) {
        Ok(_) => assert!((-63..=63).contains(&info.tsc_shift)),
        Err(e) => assert_eq!(e, XenError::BadShift(info.tsc_shift)),
    }
    if let Some(khz) = info.tsc_khz() {
        assert!(info.tsc_to_system_mul != 0);
        let _ = khz;
    }
    let max = u32::from(i.u8() % 8);
    let mut n = 0;
    let r = xen::read_with_retry(max, || {
        n += 1;
        PvclockSample { info, tsc, version_after: after }
    });
    assert!(n <= max as usize);
    if r.is_ok() {
        assert!(xen::version_consistent(info.version, after));
    }
    let wall = PvclockWallClock { version: i.u32(), sec: i.u32(), nsec: i.u32() };
    let _ = xen::wallclock(&wall, i.u32(), i.u64());
}

fuzz_target!(|data: &[u8]| {
    let mut i = Input::new(data);
    match i.u8() % 6 {
        0 => check_result(i.u64()),
        1 => rep_call(&mut i),
        2 => synic_slot(&mut i),
        3 => event_flags(&mut i),
        4 => tsc_page(&mut i),
        _ => pvclock(&mut i),
    }
});
