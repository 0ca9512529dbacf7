//! GPADLs: the split matches Linux's `create_gpadl_header()` for many sizes, split→assemble
//! round trips, and rejection of bad ranges and bad message sequences.
use proptest::prelude::*;
use vmbus_proto::gpadl::{self, GpaRange, GpadlAssembler, GpadlError, GpadlInfo, GpadlSplitter, Pfns, Progress};
use vmbus_proto::message::{self as m, ChannelMessage, GpadlBody, GpadlHeader};

fn pfns(n: usize, base: u64) -> Vec<u64> {
    (0..n as u64).map(|i| base + i * 3 + (i << 40)).collect()
}

/// Splits into encoded messages.
fn split(s: &mut GpadlSplitter<'_>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 240];
    while let Some(n) = s.next_message(&mut buf).unwrap() {
        out.push(buf[..n].to_vec());
    }
    out
}

/// Feeds parsed messages to an assembler.
fn assemble(msgs: &[Vec<u8>], out: &mut [u64]) -> Result<GpadlInfo, GpadlError> {
    let mut a = GpadlAssembler::new();
    let mut done = None;
    for b in msgs {
        let p = match m::parse(b).unwrap() {
            ChannelMessage::GpadlHeader(h) => a.header(&h, out)?,
            ChannelMessage::GpadlBody(body) => a.body(&body, out)?,
            other => panic!("{other:?}"),
        };
        if let Progress::Complete(i) = p {
            assert!(done.is_none(), "completed twice");
            done = Some(i);
        }
    }
    assert!(a.is_complete());
    Ok(done.unwrap())
}

#[test]
fn capacities_match_linux() {
    // pfnsize = 240 - sizeof(gpadl_header) (20) - sizeof(gpa_range) (8); body: 240 - 16.
    assert_eq!(gpadl::MAX_HEADER_PFNS, 26);
    assert_eq!(gpadl::MAX_BODY_PFNS, 28);
    assert_eq!(gpadl::MAX_GPADL_PFNS, 8190);
    assert_eq!(gpadl::pfn_count(0, 4096), 1);
    assert_eq!(gpadl::pfn_count(0, 4097), 2);
    assert_eq!(gpadl::pfn_count(4095, 2), 2);
    assert_eq!(gpadl::pfn_count(100, 4000), 2);
    assert_eq!(gpadl::pfn_count(0, u32::MAX), 1 << 20);
}

#[test]
fn split_like_create_gpadl_header() {
    for n in [1usize, 2, 25, 26, 27, 53, 54, 55, 82, 83, 100, 256, 1000, 4096, 8190] {
        let p = pfns(n, 0x1000);
        let mut s = GpadlSplitter::for_pages(14, 0xe1e10, &p).unwrap();
        let count = s.message_count();
        let msgs = split(&mut s);
        assert!(s.is_done());
        let bodies = n.saturating_sub(26).div_ceil(28);
        assert_eq!(msgs.len(), 1 + bodies, "n={n}");
        assert_eq!(count, msgs.len());
        // Header: 20 + 8 + 8 * min(n, 26) bytes, range_buflen 8 + 8n, one range, offset 0.
        let h = &msgs[0];
        assert_eq!(h.len(), 28 + 8 * n.min(26));
        assert_eq!(u16::from_le_bytes([h[16], h[17]]) as usize, 8 + 8 * n);
        assert_eq!(u16::from_le_bytes([h[18], h[19]]), 1);
        assert_eq!(u32::from_le_bytes(h[20..24].try_into().unwrap()) as usize, n * 4096);
        assert_eq!(u32::from_le_bytes(h[24..28].try_into().unwrap()), 0);
        // Bodies: full (28 PFNs) except the last, msgnumber 0, same gpadl.
        for (i, b) in msgs[1..].iter().enumerate() {
            let k = if i + 1 < bodies { 28 } else { n - 26 - 28 * (bodies - 1) };
            assert_eq!(b.len(), 16 + 8 * k, "n={n} body {i}");
            assert_eq!(&b[8..12], &[0, 0, 0, 0]);
            assert_eq!(&b[12..16], &0xe1e10u32.to_le_bytes());
        }
        assert!(msgs.iter().all(|b| b.len() <= 240));
        let mut out = vec![0u64; n];
        let info = assemble(&msgs, &mut out).unwrap();
        assert_eq!(out, p);
        assert_eq!(info, GpadlInfo { child_relid: 14, gpadl: 0xe1e10, byte_count: (n * 4096) as u32, byte_offset: 0, pfn_count: n });
    }
}

#[test]
fn views_without_encoding() {
    let p = pfns(60, 1);
    let s = GpadlSplitter::new(3, 4, 60 * 4096 - 100, 50, &p).unwrap();
    let msgs: Vec<ChannelMessage<'_>> = s.collect();
    assert_eq!(msgs.len(), 3);
    let ChannelMessage::GpadlHeader(h) = msgs[0] else { panic!() };
    assert_eq!(h.range, GpaRange { byte_count: 60 * 4096 - 100, byte_offset: 50 });
    assert_eq!(h.pfns.len(), 26);
    let mut out = vec![0u64; 60];
    let mut a = GpadlAssembler::new();
    assert_eq!(a.header(&h, &mut out), Ok(Progress::NeedMore { received: 26, total: 60 }));
    let ChannelMessage::GpadlBody(b1) = msgs[1] else { panic!() };
    assert_eq!(a.body(&b1, &mut out), Ok(Progress::NeedMore { received: 54, total: 60 }));
    assert_eq!(a.received(), 54);
    let ChannelMessage::GpadlBody(b2) = msgs[2] else { panic!() };
    assert!(matches!(a.body(&b2, &mut out), Ok(Progress::Complete(_))));
    assert_eq!(out, p);
    assert_eq!(a.gpadl(), Some(4));
}

#[test]
fn splitter_rejects_bad_ranges() {
    let p = pfns(3, 0);
    assert_eq!(GpadlSplitter::new(1, 1, 3 * 4096, 4096, &p).err(), Some(GpadlError::BadByteOffset(4096)));
    assert_eq!(GpadlSplitter::new(1, 1, 0, 0, &p).err(), Some(GpadlError::EmptyRange));
    assert_eq!(GpadlSplitter::new(1, 1, 2 * 4096, 0, &p).err(), Some(GpadlError::PfnCountMismatch { expected: 2, got: 3 }));
    assert_eq!(GpadlSplitter::new(1, 1, 2 * 4096, 1, &p).map(|s| s.message_count()), Ok(1));
    let big = vec![0u64; 8191];
    assert_eq!(GpadlSplitter::for_pages(1, 1, &big).err(), Some(GpadlError::TooManyPfns(8191)));
    assert!(GpadlSplitter::for_pages(1, 1, &big[..8190]).is_ok());
    assert_eq!(GpadlSplitter::for_pages(1, 1, &[]).err(), Some(GpadlError::EmptyRange));
}

#[test]
fn next_message_small_buffer_does_not_advance() {
    let p = pfns(30, 0);
    let mut s = GpadlSplitter::for_pages(1, 1, &p).unwrap();
    let mut small = [0u8; 100];
    assert!(matches!(s.next_message(&mut small), Err(GpadlError::Message(m::MessageError::BufferTooSmall))));
    let mut buf = [0u8; 240];
    assert_eq!(s.next_message(&mut buf).unwrap(), Some(28 + 26 * 8));
    assert_eq!(s.next_message(&mut buf).unwrap(), Some(16 + 4 * 8));
    assert_eq!(s.next_message(&mut buf).unwrap(), None);
}

fn header<'a>(n: usize, pf: &'a [u64]) -> GpadlHeader<'a> {
    GpadlHeader {
        child_relid: 9,
        gpadl: 100,
        range_buflen: (8 + 8 * n) as u16,
        rangecount: 1,
        range: GpaRange { byte_count: (n * 4096) as u32, byte_offset: 0 },
        pfns: Pfns::from_slice(pf),
    }
}

#[test]
fn assembler_rejects_bad_headers() {
    let pf = pfns(26, 0);
    let mut out = vec![0u64; 100];
    let check = |h: GpadlHeader<'_>, e: GpadlError| {
        let mut a = GpadlAssembler::new();
        let mut out = vec![0u64; 100];
        assert_eq!(a.header(&h, &mut out), Err(e));
        assert_eq!(a, GpadlAssembler::new(), "unchanged after an error");
    };
    check(GpadlHeader { rangecount: 0, ..header(40, &pf) }, GpadlError::NoRange);
    check(GpadlHeader { rangecount: 2, ..header(40, &pf) }, GpadlError::MultipleRanges(2));
    check(GpadlHeader { range_buflen: 8, ..header(40, &pf) }, GpadlError::BadRangeBufLen { expected: 328, got: 8 });
    check(GpadlHeader { range: GpaRange { byte_count: 40 * 4096, byte_offset: 4096 }, ..header(40, &pf) }, GpadlError::BadByteOffset(4096));
    check(GpadlHeader { range: GpaRange { byte_count: 0, byte_offset: 0 }, ..header(40, &pf) }, GpadlError::EmptyRange);
    check(GpadlHeader { pfns: Pfns::EMPTY, ..header(40, &pf) }, GpadlError::HeaderWithoutPfns);
    check(
        GpadlHeader { range: GpaRange { byte_count: u32::MAX, byte_offset: 0 }, range_buflen: u16::MAX, ..header(40, &pf) },
        GpadlError::TooManyPfns(1 << 20),
    );
    // Buffer shorter than the GPADL.
    let mut a = GpadlAssembler::new();
    assert_eq!(a.header(&header(40, &pf), &mut out[..39]), Err(GpadlError::BufferTooSmall { needed: 40 }));
    // The info is available before assembling, to size the buffer.
    assert_eq!(gpadl::header_info(&header(40, &pf)).map(|i| i.pfn_count), Ok(40));
}

#[test]
fn assembler_rejects_bad_sequences() {
    let pf = pfns(60, 7);
    let mut out = vec![0u64; 60];
    let body = |msgnumber: u32, gpadl: u32, p: &'static [u64]| GpadlBody { msgnumber, gpadl, pfns: Pfns::from_slice(p) };
    static P28: [u64; 28] = [5; 28];
    static P6: [u64; 6] = [6; 6];

    // Body before header.
    let mut a = GpadlAssembler::new();
    assert_eq!(a.body(&body(0, 100, &P28), &mut out), Err(GpadlError::BodyWithoutHeader));

    // Header twice.
    let mut a = GpadlAssembler::new();
    a.header(&header(60, &pf[..26]), &mut out).unwrap();
    assert_eq!(a.header(&header(60, &pf[..26]), &mut out), Err(GpadlError::HeaderAgain));
    // Another GPADL's body.
    assert_eq!(a.body(&body(0, 101, &P28), &mut out), Err(GpadlError::WrongGpadl { expected: 100, got: 101 }));
    // Numbered out of order: the first body must be 1 (or unnumbered 0).
    assert_eq!(a.body(&body(2, 100, &P28), &mut out), Err(GpadlError::OutOfOrder { expected: 1, got: 2 }));
    // Empty body.
    assert_eq!(a.body(&body(0, 100, &[]), &mut out), Err(GpadlError::EmptyBody));
    assert_eq!(a.received(), 26, "errors leave the state alone");
    // Numbered in order.
    assert_eq!(a.body(&body(1, 100, &P28), &mut out), Ok(Progress::NeedMore { received: 54, total: 60 }));
    assert_eq!(a.body(&body(1, 100, &P6), &mut out), Err(GpadlError::OutOfOrder { expected: 2, got: 1 }));
    assert!(matches!(a.body(&body(2, 100, &P6), &mut out), Ok(Progress::Complete(_))));
    // Duplicate / extra body after completion.
    assert_eq!(a.body(&body(0, 100, &P6), &mut out), Err(GpadlError::UnexpectedBody));
    assert_eq!(&out[26..54], &P28);
    // Reset makes it reusable.
    a.reset();
    assert_eq!(a.info(), None);
    assert!(a.header(&header(60, &pf[..26]), &mut out).is_ok());
}

#[test]
fn extra_words_in_a_full_slot_are_ignored() {
    // A caller passing the whole 240-byte slot: the header carries 26 words but only 3 PFNs.
    let p = pfns(3, 0x55);
    let mut s = GpadlSplitter::for_pages(1, 2, &p).unwrap();
    let mut slot = [0xffu8; 240];
    let n = s.next_message(&mut slot).unwrap().unwrap();
    assert_eq!(n, 28 + 24);
    let ChannelMessage::GpadlHeader(h) = m::parse(&slot).unwrap() else { panic!() };
    assert_eq!(h.pfns.len(), 26);
    let mut out = vec![0u64; 3];
    assert!(matches!(GpadlAssembler::new().header(&h, &mut out), Ok(Progress::Complete(_))));
    assert_eq!(out, p);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]

    /// Any valid range round trips through the messages.
    #[test]
    fn split_assemble_round_trip(offset in 0u32..4096, count in 1u32..(3000 * 4096), base in any::<u64>()) {
        let n = gpadl::pfn_count(offset, count) as usize;
        let p: Vec<u64> = (0..n as u64).map(|i| base.wrapping_add(i.wrapping_mul(0x9e37_79b9))).collect();
        let mut s = GpadlSplitter::new(1, 2, count, offset, &p).unwrap();
        let msgs = split(&mut s);
        let mut out = vec![0u64; n];
        let info = assemble(&msgs, &mut out).unwrap();
        prop_assert_eq!(out, p);
        prop_assert_eq!((info.byte_count, info.byte_offset, info.pfn_count), (count, offset, n));
    }

    /// Arbitrary messages fed to an assembler never panic and never write past the buffer.
    #[test]
    fn garbage_never_panics(msgs in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..240), 1..8), cap in 0usize..64) {
        let mut a = GpadlAssembler::new();
        let mut out = vec![0u64; cap];
        for mut b in msgs {
            if b.len() >= 4 {
                let t = 8 + (b.get(4).copied().unwrap_or(0) as u32 & 1);
                b[..4].copy_from_slice(&t.to_le_bytes());
            }
            match m::parse(&b) {
                Ok(ChannelMessage::GpadlHeader(h)) => { let _ = a.header(&h, &mut out); }
                Ok(ChannelMessage::GpadlBody(body)) => { let _ = a.body(&body, &mut out); }
                _ => {}
            }
            prop_assert!(a.received() <= cap.max(a.info().map_or(0, |i| i.pfn_count)));
        }
        prop_assert_eq!(out.len(), cap);
    }
}
