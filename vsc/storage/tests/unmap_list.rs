//! The UNMAP parameter list (SBC-3 5.28.2): builder golden bytes (the layout Linux's
//! `sd_setup_unmap_cmnd()` writes), and the host's validation.
use proptest::prelude::*;
use vstor_proto::sense::decode;
use vstor_proto::unmap::*;

const LIMITS: UnmapLimits = UnmapLimits { capacity: 1 << 20, max_descriptors: 4, max_lba_count: 1 << 16 };

#[test]
fn golden_single_descriptor_like_sd() {
    let mut buf = [0xffu8; 32];
    let n = build_param_list(&mut buf, &[UnmapRange { lba: 0x1_0000_1000, blocks: 8 }]).unwrap();
    assert_eq!(n, 24);
    assert_eq!(param_list_len(1), Some(24));
    assert_eq!(
        &buf[..24],
        &[
            0x00, 0x16, 0x00, 0x10, 0, 0, 0, 0, // 6 + 16, 16
            0, 0, 0, 1, 0, 0, 0x10, 0, // LBA
            0, 0, 0, 8, 0, 0, 0, 0, // blocks, reserved
        ]
    );
    assert_eq!(&buf[24..], &[0xff; 8]);
}

#[test]
fn parse_valid_lists() {
    let ranges = [
        UnmapRange { lba: 0, blocks: 8 },
        UnmapRange { lba: 100, blocks: 0 },
        UnmapRange { lba: (1 << 20) - 1, blocks: 1 },
    ];
    let mut buf = [0u8; 64];
    let n = build_param_list(&mut buf, &ranges).unwrap();
    let got = parse_param_list(&buf, n as u16, &LIMITS).unwrap();
    assert_eq!(got.len(), 3);
    assert_eq!(got.iter().collect::<Vec<_>>(), ranges);
    // Zero parameter list length: nothing to do.
    assert!(parse_param_list(&[], 0, &LIMITS).unwrap().is_empty());
    // Header only.
    let n = build_param_list(&mut buf, &[]).unwrap();
    assert_eq!(n, 8);
    assert!(parse_param_list(&buf, 8, &LIMITS).unwrap().is_empty());
}

#[test]
fn trailing_partial_descriptor_is_ignored() {
    let mut buf = [0u8; 64];
    build_param_list(&mut buf, &[UnmapRange { lba: 1, blocks: 1 }, UnmapRange { lba: 2, blocks: 2 }]).unwrap();
    // Claim 24 descriptor bytes: one and a half descriptors.
    buf[0..4].copy_from_slice(&[0, 30, 0, 24]);
    let got = parse_param_list(&buf, 32, &LIMITS).unwrap();
    assert_eq!(got.iter().collect::<Vec<_>>(), [UnmapRange { lba: 1, blocks: 1 }]);
}

#[test]
fn refusals() {
    let mut buf = [0u8; 64];
    let n = build_param_list(&mut buf, &[UnmapRange { lba: 0, blocks: 8 }]).unwrap() as u16;
    let asc = |e: UnmapError| decode(e.sense().as_bytes()).unwrap().asc_ascq();

    for l in 1..8 {
        assert_eq!(parse_param_list(&buf, l, &LIMITS).unwrap_err(), UnmapError::ParameterListLength(l));
    }
    assert_eq!(asc(UnmapError::ParameterListLength(1)), (0x1a, 0));
    assert_eq!(parse_param_list(&buf[..20], n, &LIMITS).unwrap_err(), UnmapError::ShortData { need: 24, got: 20 });

    let mut bad = buf;
    bad[1] = 0x17; // UNMAP DATA LENGTH 23 > 24 - 2
    assert_eq!(parse_param_list(&bad, n, &LIMITS).unwrap_err(), UnmapError::HeaderLength { field: 0 });
    let mut bad = buf;
    bad[3] = 0x20; // 32 descriptor bytes in a 24-byte list
    assert_eq!(parse_param_list(&bad, n, &LIMITS).unwrap_err(), UnmapError::HeaderLength { field: 2 });
    let mut bad = buf;
    bad[1] = 0x08; // data length 8 leaves 2 bytes for descriptors, 16 claimed
    assert_eq!(parse_param_list(&bad, n, &LIMITS).unwrap_err(), UnmapError::HeaderLength { field: 2 });
    assert_eq!(asc(UnmapError::HeaderLength { field: 2 }), (0x26, 0));

    let five = [UnmapRange { lba: 0, blocks: 1 }; 5];
    let mut big = [0u8; 128];
    let m = build_param_list(&mut big, &five).unwrap() as u16;
    assert_eq!(parse_param_list(&big, m, &LIMITS).unwrap_err(), UnmapError::TooManyDescriptors(5));

    let mut one = [0u8; 24];
    for (r, e) in [
        (UnmapRange { lba: 1 << 20, blocks: 1 }, UnmapError::LbaOutOfRange { index: 0 }),
        (UnmapRange { lba: (1 << 20) - 1, blocks: 2 }, UnmapError::LbaOutOfRange { index: 0 }),
        (UnmapRange { lba: u64::MAX, blocks: 2 }, UnmapError::LbaOutOfRange { index: 0 }),
        (UnmapRange { lba: 0, blocks: (1 << 16) + 1 }, UnmapError::TooManyBlocks),
    ] {
        build_param_list(&mut one, &[r]).unwrap();
        assert_eq!(parse_param_list(&one, 24, &LIMITS).unwrap_err(), e, "{r:?}");
    }
    assert_eq!(asc(UnmapError::LbaOutOfRange { index: 0 }), (0x21, 0));
    assert_eq!(asc(UnmapError::TooManyBlocks), (0x26, 0));
    // The sum counts, not each descriptor.
    let halves = [UnmapRange { lba: 0, blocks: 1 << 15 }, UnmapRange { lba: 1 << 15, blocks: (1 << 15) + 1 }];
    let mut two = [0u8; 40];
    build_param_list(&mut two, &halves).unwrap();
    assert_eq!(parse_param_list(&two, 40, &LIMITS).unwrap_err(), UnmapError::TooManyBlocks);
}

#[test]
fn builder_errors() {
    let mut small = [0u8; 23];
    assert_eq!(build_param_list(&mut small, &[UnmapRange { lba: 0, blocks: 1 }]), Err(UnmapError::BufferTooSmall));
    assert_eq!(param_list_len(MAX_DESCRIPTORS), Some((8 + 16 * MAX_DESCRIPTORS) as u16));
    assert_eq!(param_list_len(MAX_DESCRIPTORS + 1), None);
    assert!(!UnmapError::TooManyBlocks.to_string().is_empty());
}

proptest! {
    #[test]
    fn build_parse_round_trip(ranges in proptest::collection::vec((0u64..(1 << 20), 0u32..64), 0..4)) {
        let ranges: Vec<UnmapRange> = ranges.into_iter().map(|(lba, blocks)| UnmapRange { lba: lba.min((1 << 20) - 64), blocks }).collect();
        let mut buf = [0u8; 128];
        let n = build_param_list(&mut buf, &ranges).unwrap();
        let got = parse_param_list(&buf, n as u16, &LIMITS).unwrap();
        prop_assert_eq!(got.iter().collect::<Vec<_>>(), ranges);
    }

    #[test]
    fn arbitrary_lists_never_panic(b in proptest::collection::vec(any::<u8>(), 0..100), plen in any::<u16>()) {
        if let Ok(r) = parse_param_list(&b, plen, &LIMITS) {
            let total: u64 = r.iter().map(|x| u64::from(x.blocks)).sum();
            prop_assert!(total <= u64::from(LIMITS.max_lba_count));
            prop_assert!(r.iter().all(|x| x.lba + u64::from(x.blocks) <= LIMITS.capacity));
        }
    }
}
