//! The guest's response parsers on hand-built data (SPC-4 / SBC-3 layouts) and on arbitrary
//! bytes: truncation, wrong pages, malformed designators and mode pages give typed errors,
//! never a panic.
use proptest::prelude::*;
use vstor_proto::response::*;

#[test]
fn standard_inquiry_needs_36_bytes() {
    let mut b = [0u8; 36];
    b[0] = 0x7f; // qualifier 3, type 0x1f: no LU
    b[1] = 0x80;
    b[8..16].copy_from_slice(b"Msft    ");
    assert_eq!(parse_standard_inquiry(&b[..35]), Err(ResponseError::TooShort { need: 36, got: 35 }));
    let i = parse_standard_inquiry(&b).unwrap();
    assert_eq!((i.qualifier, i.device_type, i.removable), (3, 0x1f, true));
    assert!(!i.lun_present() && !i.is_disk());
    assert_eq!(i.vendor_trimmed(), b"Msft");
    assert_eq!(i.product_trimmed(), b"");
    assert_eq!(trim_ascii(b"  a b\0\0 "), b"a b");
    assert_eq!(trim_ascii(b"   "), b"");
}

#[test]
fn vpd_header_checks() {
    assert_eq!(vpd_body(&[0, 0x80, 0], 0x80), Err(ResponseError::TooShort { need: 4, got: 3 }));
    assert_eq!(vpd_body(&[0, 0x83, 0, 0], 0x80), Err(ResponseError::WrongPage { expected: 0x80, got: 0x83 }));
    // Page length larger than the buffer: the buffer limits; smaller: the page length does.
    assert_eq!(vpd_body(&[0, 0x80, 0, 9, b'a', b'b'], 0x80), Ok(&b"ab"[..]));
    assert_eq!(vpd_body(&[0, 0x80, 0, 1, b'a', b'b'], 0x80), Ok(&b"a"[..]));
    assert_eq!(parse_unit_serial(&[0, 0x80, 0, 6, b' ', b'S', b'N', b' ', 0, 0]), Ok(&b"SN"[..]));
}

/// SPC-4 7.8.6: designators with (code set, PIV/association/type, reserved, length).
#[test]
fn designators_and_wwn_preference() {
    let mut page = vec![0, 0x83, 0, 0];
    page.extend_from_slice(&[0x02, 0x01, 0, 4, b'M', b's', b'f', b't']); // T10 vendor ID: prio 1
    page.extend_from_slice(&[0x01, 0x13, 0, 8, 0x50, 1, 2, 3, 4, 5, 6, 7]); // NAA 5, target port: ignored
    page.extend_from_slice(&[0x01, 0x02, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8]); // EUI-64 8 bytes: prio 3
    page.extend_from_slice(&[0x01, 0x03, 0, 8, 0x50, 9, 9, 9, 9, 9, 9, 9]); // NAA 5: prio 5
    page.extend_from_slice(&[0x01, 0x02, 0, 0]); // empty: prio 0
    let len = (page.len() - 4) as u16;
    page[2..4].copy_from_slice(&len.to_be_bytes());
    let all: Vec<_> = parse_designators(&page).unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(all.iter().map(|d| d.priority()).collect::<Vec<_>>(), [1, 0, 3, 5, 0]);
    assert_eq!(all[1].association, 1);
    let w = pick_wwn(&page).unwrap().unwrap();
    assert_eq!(w.id, &[0x50, 9, 9, 9, 9, 9, 9, 9]);

    // NAA 6 beats it.
    let mut p2 = page.clone();
    p2.extend_from_slice(&[0x01, 0x03, 0, 16, 0x60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    let len = (p2.len() - 4) as u16;
    p2[2..4].copy_from_slice(&len.to_be_bytes());
    assert_eq!(pick_wwn(&p2).unwrap().unwrap().priority(), 8);

    // A designator running past the page.
    let mut bad = page.clone();
    bad.extend_from_slice(&[0x01, 0x03, 0, 200, 0x50]);
    let len = (bad.len() - 4) as u16;
    bad[2..4].copy_from_slice(&len.to_be_bytes());
    let items: Vec<_> = parse_designators(&bad).unwrap().collect();
    assert_eq!(items.len(), 6);
    assert_eq!(items[5], Err(ResponseError::MalformedDesignator { offset: 52 }));
    assert_eq!(pick_wwn(&bad), Err(ResponseError::MalformedDesignator { offset: 52 }));
    // A header cut short.
    let cut = [0, 0x83, 0, 2, 0x01, 0x03];
    assert_eq!(parse_designators(&cut).unwrap().next(), Some(Err(ResponseError::MalformedDesignator { offset: 4 })));
    assert_eq!(pick_wwn(&[0, 0x83, 0, 0]), Ok(None));
}

#[test]
fn block_limits_short_and_long() {
    let mut b = vec![0u8; 64];
    b[1] = 0xb0;
    b[3] = 12;
    b[8..12].copy_from_slice(&1024u32.to_be_bytes());
    b[20..24].copy_from_slice(&99u32.to_be_bytes());
    let bl = parse_block_limits(&b).unwrap();
    assert_eq!(
        (bl.max_transfer, bl.extended, bl.max_unmap_lba_count),
        (1024, false, 0),
        "page length 12: no unmap fields"
    );
    b[3] = 0x3c;
    b[24..28].copy_from_slice(&0u32.to_be_bytes());
    b[32] = 0x00;
    let bl = parse_block_limits(&b).unwrap();
    assert_eq!((bl.extended, bl.max_unmap_lba_count, bl.max_unmap_blocks(), bl.unmap_alignment), (true, 99, 0, None));
    b[3] = 11;
    assert_eq!(parse_block_limits(&b), Err(ResponseError::TooShort { need: 16, got: 15 }));
    assert_eq!(parse_block_limits(&b[..14]).unwrap_err(), ResponseError::TooShort { need: 16, got: 14 });
}

#[test]
fn characteristics_and_provisioning() {
    let b = [0, 0xb1, 0, 5, 0x1c, 0x20, 0, 0x02, 0x10];
    let c = parse_block_characteristics(&b).unwrap();
    assert_eq!((c.rotation_rate, c.form_factor, c.zoned, c.non_rotational()), (7200, 2, 1, false));
    assert_eq!(parse_block_characteristics(&b[..8]), Err(ResponseError::TooShort { need: 9, got: 8 }));
    let p = parse_provisioning(&[0, 0xb2, 0, 4, 3, 0xe7, 0x01, 0]).unwrap();
    assert!(p.lbpu && p.lbpws && p.lbpws10 && p.anc_sup && p.dp);
    assert_eq!((p.lbprz, p.threshold_exponent, p.provisioning_type), (1, 3, 1));
    assert_eq!(parse_provisioning(&[0, 0xb2, 0, 3, 0, 0, 0]), Err(ResponseError::TooShort { need: 8, got: 7 }));
}

#[test]
fn read_capacity_checks() {
    let mut b = [0u8; 32];
    b[..8].copy_from_slice(&u64::MAX.to_be_bytes());
    b[8..12].copy_from_slice(&512u32.to_be_bytes());
    assert_eq!(parse_read_capacity_16(&b), Err(ResponseError::Capacity));
    b[..8].copy_from_slice(&99u64.to_be_bytes());
    b[12] = 1;
    b[13] = 0x13;
    b[14] = 0x40 | 0x01;
    b[15] = 0x02;
    let c = parse_read_capacity_16(&b[..16]).unwrap();
    assert_eq!((c.blocks(), c.phys_exponent, c.lowest_aligned, c.prot_en), (100, 3, 0x102, true));
    assert!(!c.lbpme && !c.lbprz, "LBPRZ means nothing without LBPME");
    assert_eq!(c.physical_block_size(), Some(4096));
    assert_eq!(c.bytes(), Some(51200));
    assert_eq!(parse_read_capacity_16(&b[..15]), Err(ResponseError::TooShort { need: 16, got: 15 }));
    for bad in [0u32, 256, 520, 8192] {
        b[8..12].copy_from_slice(&bad.to_be_bytes());
        assert_eq!(parse_read_capacity_16(&b), Err(ResponseError::BlockSize(bad)));
        assert_eq!(parse_read_capacity_10(&[0, 0, 0, 1, b[8], b[9], b[10], b[11]]), Err(ResponseError::BlockSize(bad)));
    }
    let c = Capacity {
        last_lba: u64::MAX - 1,
        block_len: 4096,
        phys_exponent: 15,
        lowest_aligned: 0,
        lbpme: false,
        lbprz: false,
        prot_en: false,
    };
    assert_eq!((c.bytes(), c.physical_block_size()), (None, Some(4096 << 15)));
}

/// SPC-4 7.5.5 mode parameter header, 7.5.7 page_0 / sub_page formats; sd's walk.
#[test]
fn mode_pages() {
    // MODE SENSE(6): control page first (page_0), a subpage-format page, then caching.
    let mut b = vec![0, 0, 0x10, 0];
    b.extend_from_slice(&[0x0a, 2, 0, 0]);
    b.extend_from_slice(&[0x48, 1, 0, 2, 0xaa, 0xbb]); // SPF: page 8 subpage 1 (skipped by page())
    b.extend_from_slice(&[0x08, 0x12, 0x05]);
    b.extend_from_slice(&[0; 17]);
    b[0] = (b.len() - 1) as u8;
    let ms = parse_mode_sense(&b, false).unwrap();
    let pages: Vec<_> = ms.iter().map(|p| (p.code, p.subpage, p.bytes.len())).collect();
    assert_eq!(pages, [(0x0a, 0, 4), (0x08, 1, 6), (0x08, 0, 20)]);
    let c = ms.caching().unwrap();
    assert!(c.wce && c.rcd && c.dpofua && !c.wp);

    // Data length shorter than the buffer: pages beyond it are not seen.
    let mut short = b.clone();
    short[0] = 3 + 4 + 6 + 2;
    assert_eq!(parse_mode_sense(&short, false).unwrap().caching(), Err(ResponseError::IncompleteCachingPage));
    short[0] = 3 + 4;
    assert_eq!(parse_mode_sense(&short, false).unwrap().caching(), Err(ResponseError::NoCachingPage));
    // Block descriptor length beyond the data: no pages.
    let mut bd = b.clone();
    bd[3] = 200;
    assert_eq!(parse_mode_sense(&bd, false).unwrap().iter().count(), 0);
    assert_eq!(parse_mode_sense(&b[..3], false), Err(ResponseError::TooShort { need: 4, got: 3 }));

    // MODE SENSE(10) with a long block descriptor.
    let mut t = vec![0, 0, 0, 0x80, 0x01, 0, 0, 16];
    t.extend_from_slice(&[0; 16]);
    t.extend_from_slice(&[0x08, 0x12, 0x04]);
    t.extend_from_slice(&[0; 17]);
    let l = (t.len() - 2) as u16;
    t[..2].copy_from_slice(&l.to_be_bytes());
    let ms = parse_mode_sense(&t, true).unwrap();
    assert!(ms.long_lba && ms.wp);
    assert_eq!(ms.block_descriptor_len, 16);
    let c = ms.caching().unwrap();
    assert!(!c.wce && c.wp, "write protected: WCE off");
    assert_eq!(parse_mode_sense(&t[..7], true), Err(ResponseError::TooShort { need: 8, got: 7 }));
}

#[test]
fn report_luns_parsing() {
    assert_eq!(parse_report_luns(&[0; 7]), Err(ResponseError::TooShort { need: 8, got: 7 }));
    let mut b = vec![0, 0, 0, 16, 0, 0, 0, 0];
    b.extend_from_slice(&[0, 3, 0, 0, 0, 0, 0, 0]);
    b.extend_from_slice(&[0, 4, 0, 5, 0, 0, 0, 0]); // two levels
    b.extend_from_slice(&[0, 9, 0, 0]); // beyond the list length, partial anyway
    let l = parse_report_luns(&b).unwrap();
    assert_eq!(l.iter().collect::<Vec<_>>(), [3, 4 | (5 << 16)]);
    assert!(!l.truncated() && !l.is_empty());
    let l = parse_report_luns(&b[..20]).unwrap();
    assert_eq!((l.len(), l.truncated()), (1, true));
}

#[test]
fn discard_mode_like_sd() {
    let cap = |lbpme| Capacity {
        last_lba: 9,
        block_len: 512,
        phys_exponent: 0,
        lowest_aligned: 0,
        lbpme,
        lbprz: false,
        prot_en: false,
    };
    let bl = BlockLimits {
        max_unmap_lba_count: 100,
        max_unmap_descriptors: 1,
        max_write_same: 1 << 40,
        extended: true,
        ..Default::default()
    };
    let no_unmap = BlockLimits { max_unmap_descriptors: 0, ..bl };
    let lbp = |lbpu, lbpws, lbpws10| Provisioning {
        threshold_exponent: 0,
        lbpu,
        lbpws,
        lbpws10,
        lbprz: 0,
        anc_sup: false,
        dp: false,
        provisioning_type: 2,
    };
    assert_eq!(discard_mode(&cap(false), Some(&bl), Some(&lbp(true, true, true))), DiscardMode::Disabled);
    assert_eq!(discard_mode(&cap(true), Some(&bl), None), DiscardMode::Unmap);
    assert_eq!(discard_mode(&cap(true), Some(&no_unmap), None), DiscardMode::WriteSame16);
    assert_eq!(discard_mode(&cap(true), None, None), DiscardMode::WriteSame16);
    assert_eq!(discard_mode(&cap(true), Some(&bl), Some(&lbp(true, false, false))), DiscardMode::Unmap);
    assert_eq!(discard_mode(&cap(true), Some(&no_unmap), Some(&lbp(true, true, false))), DiscardMode::WriteSame16);
    assert_eq!(discard_mode(&cap(true), Some(&bl), Some(&lbp(false, false, true))), DiscardMode::Disabled);
    assert_eq!(max_discard_blocks(DiscardMode::Unmap, Some(&bl)), 100);
    assert_eq!(max_discard_blocks(DiscardMode::WriteSame16, Some(&bl)), SD_MAX_WS16_BLOCKS);
    assert_eq!(max_discard_blocks(DiscardMode::WriteSame16, None), SD_MAX_WS16_BLOCKS);
    assert_eq!(max_discard_blocks(DiscardMode::Disabled, Some(&bl)), 0);
    assert_eq!(ResponseError::Capacity.to_string(), "capacity overflows");
}

proptest! {
    #[test]
    fn arbitrary_responses_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300), ten in any::<bool>()) {
        let _ = parse_standard_inquiry(&b).map(|i| (i.vendor_trimmed().len(), i.lun_present()));
        let _ = parse_supported_pages(&b).map(|p| p.contains(0x83));
        let _ = parse_unit_serial(&b);
        if let Ok(ds) = parse_designators(&b) {
            for d in ds.take(300).flatten() {
                let _ = d.priority();
            }
        }
        let _ = pick_wwn(&b);
        let bl = parse_block_limits(&b).ok();
        let _ = parse_block_characteristics(&b);
        let lbp = parse_provisioning(&b).ok();
        if let Ok(c) = parse_read_capacity_16(&b) {
            let _ = (c.bytes(), c.physical_block_size(), c.blocks());
            let m = discard_mode(&c, bl.as_ref(), lbp.as_ref());
            let _ = max_discard_blocks(m, bl.as_ref());
        }
        let _ = parse_read_capacity_10(&b);
        if let Ok(ms) = parse_mode_sense(&b, ten) {
            prop_assert!(ms.iter().take(1000).count() <= b.len());
            let _ = ms.caching();
        }
        if let Ok(l) = parse_report_luns(&b) {
            prop_assert!(l.len() * 8 + 8 <= b.len());
            let _ = (l.iter().count(), l.truncated());
        }
    }

    /// Vary a valid VPD page's length field over everything.
    #[test]
    fn lying_length_fields(page in prop_oneof![Just(0x00u8), Just(0x80), Just(0x83), Just(0xb0), Just(0xb1), Just(0xb2)],
                           len in any::<u16>(), body in proptest::collection::vec(any::<u8>(), 0..80)) {
        let mut b = vec![0, page];
        b.extend_from_slice(&len.to_be_bytes());
        b.extend_from_slice(&body);
        let _ = parse_supported_pages(&b);
        let _ = parse_unit_serial(&b);
        let _ = pick_wwn(&b);
        let _ = parse_block_limits(&b);
        let _ = parse_block_characteristics(&b);
        let _ = parse_provisioning(&b);
        if let Ok(v) = vpd_body(&b, page) {
            prop_assert!(v.len() <= body.len() && v.len() <= usize::from(len));
        }
    }
}
