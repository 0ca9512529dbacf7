//! CDB builders (guest) against golden bytes from the SBC-3 / SPC-4 CDB layouts, and the host
//! parser: round trips, reserved-field refusals with the right sense, and arbitrary input.
use proptest::prelude::*;
use vstor_proto::cdb::{self, opcode, PageControl, Rw};
use vstor_proto::command::{parse, CdbError, Command};
use vstor_proto::sense::{decode, key};

#[test]
fn golden_cdbs() {
    let cases: [(cdb::Cdb, &[u8]); 20] = [
        // SPC-4 6.47 TEST UNIT READY
        (cdb::test_unit_ready(), &[0x00, 0, 0, 0, 0, 0]),
        // SPC-4 6.39 REQUEST SENSE: allocation length in byte 4
        (cdb::request_sense(18), &[0x03, 0, 0, 0, 18, 0]),
        // SPC-4 6.6.1 INQUIRY: EVPD bit 0 of byte 1, page code byte 2, allocation length 3-4
        (cdb::inquiry(36), &[0x12, 0, 0, 0, 36, 0]),
        (cdb::inquiry_vpd(0xb0, 0x40), &[0x12, 1, 0xb0, 0, 0x40, 0]),
        (cdb::inquiry_vpd(0x83, 0x1ff), &[0x12, 1, 0x83, 0x01, 0xff, 0]),
        // SBC-3 5.15 READ CAPACITY(10)
        (cdb::read_capacity_10(), &[0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        // SBC-3 5.16 READ CAPACITY(16): service action 0x10, allocation length 10-13
        (cdb::read_capacity_16(32), &[0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0]),
        // SBC-3 5.11 READ(10): FUA bit 3 of byte 1, LBA 2-5, transfer length 7-8
        (cdb::read_10(0x0102_0304, 0x0506, true), &[0x28, 0x08, 1, 2, 3, 4, 0, 5, 6, 0]),
        // SBC-3 5.13 READ(16): LBA 2-9, transfer length 10-13
        (
            cdb::read_16(0x0102_0304_0506_0708, 0x0a0b_0c0d, false),
            &[0x88, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0x0a, 0x0b, 0x0c, 0x0d, 0, 0],
        ),
        // SBC-3 5.32 / 5.34 WRITE(10) / WRITE(16)
        (cdb::write_10(7, 1, false), &[0x2a, 0, 0, 0, 0, 7, 0, 0, 1, 0]),
        (cdb::write_16(1 << 40, 256, true), &[0x8a, 0x08, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]),
        // SBC-3 5.22 / 5.23 SYNCHRONIZE CACHE(10) / (16)
        (cdb::synchronize_cache_10(0, 0), &[0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        (cdb::synchronize_cache_16(9, 3), &[0x91, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 3, 0, 0]),
        // SBC-3 5.28 UNMAP: parameter list length 7-8 (sd: 24)
        (cdb::unmap(24), &[0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0]),
        // SBC-3 5.42 WRITE SAME(16): UNMAP bit 3 of byte 1
        (cdb::write_same_16(0x10, 0x20, true), &[0x93, 0x08, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0x20, 0, 0]),
        (cdb::write_same_16(0x10, 0x20, false), &[0x93, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0x20, 0, 0]),
        // SPC-4 6.33 REPORT LUNS: select report byte 2, allocation length 6-9
        (cdb::report_luns(0, 4096), &[0xa0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0]),
        // SPC-4 6.13 MODE SENSE(6): DBD bit 3, PC bits 7-6 + page code byte 2, subpage 3, alloc 4
        (cdb::mode_sense_6(false, PageControl::Current, 0x08, 0, 192), &[0x1a, 0, 0x08, 0, 192, 0]),
        (cdb::mode_sense_6(true, PageControl::Default, 0x3f, 0xff, 4), &[0x1a, 0x08, 0xbf, 0xff, 4, 0]),
        // SPC-4 6.14 MODE SENSE(10): LLBAA bit 4, alloc 7-8
        (
            cdb::mode_sense_10(true, true, PageControl::Changeable, 0x3f, 0, 512),
            &[0x5a, 0x18, 0x7f, 0, 0, 0, 0, 2, 0, 0],
        ),
    ];
    for (c, want) in cases {
        assert_eq!(c.as_bytes(), want, "opcode {:#x}", c.opcode());
        assert_eq!(usize::from(c.len()), want.len());
        assert_eq!(cdb::group_len(c.opcode()), Some(want.len()));
        assert!(c.raw()[want.len()..].iter().all(|b| *b == 0));
        assert!(!c.is_empty());
    }
}

#[test]
fn read_write_picks_the_cdb_like_sd() {
    assert_eq!(cdb::read_write(Rw::Read, 0xffff_ffff, 0xffff, false, false).opcode(), opcode::READ_10);
    assert_eq!(cdb::read_write(Rw::Read, 1 << 32, 1, false, false).opcode(), opcode::READ_16);
    assert_eq!(cdb::read_write(Rw::Write, 0, 0x1_0000, false, false).opcode(), opcode::WRITE_16);
    assert_eq!(cdb::read_write(Rw::Write, 0, 8, true, true).opcode(), opcode::WRITE_16);
    assert_eq!(cdb::read_write(Rw::Write, 0, 8, true, false).as_bytes(), cdb::write_10(0, 8, true).as_bytes());
}

#[test]
fn builders_parse_back() {
    let cases = [
        (cdb::test_unit_ready(), Command::TestUnitReady),
        (cdb::request_sense(252), Command::RequestSense { desc: false, alloc: 252 }),
        (cdb::inquiry(96), Command::Inquiry { evpd: false, page: 0, alloc: 96 }),
        (cdb::inquiry_vpd(0x80, 255), Command::Inquiry { evpd: true, page: 0x80, alloc: 255 }),
        (cdb::read_capacity_10(), Command::ReadCapacity10),
        (cdb::read_capacity_16(32), Command::ReadCapacity16 { alloc: 32 }),
        (cdb::read_10(5, 6, true), Command::Read { lba: 5, blocks: 6, fua: true }),
        (cdb::write_16(u64::MAX, u32::MAX, false), Command::Write { lba: u64::MAX, blocks: u32::MAX, fua: false }),
        (cdb::synchronize_cache_10(1, 2), Command::SynchronizeCache { lba: 1, blocks: 2, immed: false }),
        (cdb::synchronize_cache_16(3, 4), Command::SynchronizeCache { lba: 3, blocks: 4, immed: false }),
        (cdb::unmap(24), Command::Unmap { anchor: false, param_len: 24 }),
        (
            cdb::write_same_16(8, 9, true),
            Command::WriteSame16 { lba: 8, blocks: 9, unmap: true, anchor: false, ndob: false },
        ),
        (cdb::report_luns(2, 16), Command::ReportLuns { select: 2, alloc: 16 }),
        (
            cdb::mode_sense_6(true, PageControl::Saved, 0x0a, 0, 4),
            Command::ModeSense {
                ten: false,
                dbd: true,
                llbaa: false,
                pc: PageControl::Saved,
                page: 0x0a,
                subpage: 0,
                alloc: 4,
            },
        ),
        (
            cdb::mode_sense_10(false, true, PageControl::Current, 0x3f, 0xff, 1024),
            Command::ModeSense {
                ten: true,
                dbd: false,
                llbaa: true,
                pc: PageControl::Current,
                page: 0x3f,
                subpage: 0xff,
                alloc: 1024,
            },
        ),
    ];
    for (c, want) in cases {
        assert_eq!(parse(c.as_bytes()), Ok(want));
        // A longer buffer (the whole 16-byte field) parses the same.
        assert_eq!(parse(c.raw()), Ok(want));
    }
    let ssu = [0x1b, 1, 0, 0, 0x21, 0];
    assert_eq!(parse(&ssu), Ok(Command::StartStopUnit { immed: true, start: true, loej: false, power_condition: 2 }));
}

fn invalid(byte: u16, bit: Option<u8>) -> Result<Command, CdbError> {
    Err(CdbError::InvalidField { byte, bit })
}

#[test]
fn refusals() {
    assert_eq!(parse(&[]), Err(CdbError::Empty));
    for op in [
        opcode::READ_6,
        opcode::WRITE_6,
        opcode::VERIFY_10,
        opcode::MODE_SELECT_6,
        opcode::ATA_16,
        opcode::MAINTENANCE_IN,
        opcode::READ_12,
        0x7f,
        0xc0,
        0xff,
    ] {
        let mut c = [0u8; 16];
        c[0] = op;
        assert_eq!(parse(&c), Err(CdbError::UnsupportedOpcode(op)), "{op:#x}");
    }
    assert_eq!(
        parse(&cdb::read_10(0, 1, false).as_bytes()[..9]),
        Err(CdbError::TooShort { opcode: 0x28, need: 10, got: 9 })
    );

    let patch = |c: cdb::Cdb, at: usize, v: u8| {
        let mut b = *c.raw();
        b[at] = v;
        parse(&b[..usize::from(c.len())])
    };
    assert_eq!(patch(cdb::read_10(0, 1, false), 1, 0x20), invalid(1, Some(5)), "RDPROTECT");
    assert_eq!(patch(cdb::write_16(0, 1, false), 1, 0x80), invalid(1, Some(7)), "WRPROTECT");
    assert_eq!(
        patch(cdb::read_10(0, 1, false), 1, 0x10 | 0x08 | 0x02).map(|_| ()),
        Ok(()),
        "DPO, FUA, FUA_NV accepted"
    );
    assert_eq!(patch(cdb::read_10(0, 1, false), 9, 0x04), invalid(9, Some(2)), "NACA");
    assert_eq!(patch(cdb::read_16(0, 1, false), 15, 0x01), invalid(15, Some(0)), "LINK");
    assert_eq!(patch(cdb::read_16(0, 1, false), 15, 0xc0).map(|_| ()), Ok(()), "vendor bits of control");
    assert_eq!(patch(cdb::inquiry(36), 2, 0x80), invalid(2, None), "page code without EVPD");
    assert_eq!(patch(cdb::inquiry(36), 1, 0x02), invalid(1, Some(1)), "CMDDT");
    assert_eq!(patch(cdb::read_capacity_10(), 5, 1), invalid(5, None), "LBA without PMI");
    assert_eq!(patch(cdb::read_capacity_10(), 8, 1), invalid(8, Some(0)), "PMI");
    assert_eq!(patch(cdb::read_capacity_16(32), 1, 0x12), invalid(1, Some(4)), "other service action");
    assert_eq!(patch(cdb::read_capacity_16(32), 9, 1), invalid(9, None));
    assert_eq!(patch(cdb::report_luns(0, 16), 2, 3), invalid(2, None), "select report");
    assert_eq!(patch(cdb::report_luns(0, 16), 9, 15), invalid(6, None), "allocation length below 16");
    assert_eq!(patch(cdb::unmap(24), 1, 1).map(|c| c == Command::Unmap { anchor: true, param_len: 24 }), Ok(true));
    assert_eq!(patch(cdb::unmap(24), 3, 1), invalid(3, Some(0)));
    assert_eq!(patch(cdb::write_same_16(0, 1, false), 1, 0x02), invalid(1, Some(1)), "LBDATA");
    assert_eq!(
        patch(cdb::write_same_16(0, 1, false), 1, 0x11)
            .map(|c| matches!(c, Command::WriteSame16 { anchor: true, ndob: true, .. })),
        Ok(true)
    );
    assert_eq!(patch(cdb::test_unit_ready(), 4, 1), invalid(4, Some(0)));
    assert_eq!(
        patch(cdb::mode_sense_6(false, PageControl::Current, 8, 0, 4), 1, 0x10),
        invalid(1, Some(4)),
        "LLBAA in MODE SENSE(6)"
    );
    assert_eq!(
        patch(cdb::synchronize_cache_10(0, 0), 1, 0x02)
            .map(|c| matches!(c, Command::SynchronizeCache { immed: true, .. })),
        Ok(true)
    );
}

#[test]
fn refusals_carry_the_right_sense() {
    let s = CdbError::UnsupportedOpcode(0x08).sense();
    let d = decode(s.as_bytes()).unwrap();
    assert_eq!((d.key, d.asc, d.ascq), (key::ILLEGAL_REQUEST, 0x20, 0));
    let s = CdbError::InvalidField { byte: 1, bit: Some(5) }.sense();
    let d = decode(s.as_bytes()).unwrap();
    assert_eq!((d.key, d.asc, d.ascq), (key::ILLEGAL_REQUEST, 0x24, 0));
    assert_eq!(d.key_specific, Some([0xcd, 0, 1]));
    let d = decode(CdbError::TooShort { opcode: 0x28, need: 10, got: 6 }.sense().as_bytes()).unwrap();
    assert_eq!(d.asc_ascq(), (0x24, 0));
    assert_eq!(CdbError::Empty.to_string(), "empty CDB");
}

proptest! {
    #[test]
    fn arbitrary_cdbs_never_panic(b in proptest::collection::vec(any::<u8>(), 0..20)) {
        match parse(&b) {
            Ok(_) => prop_assert!(b.len() >= cdb::group_len(b[0]).unwrap()),
            Err(e) => { let _ = e.sense(); }
        }
    }

    #[test]
    fn read_write_round_trip(lba in any::<u64>(), blocks in any::<u32>(), fua in any::<bool>(), write in any::<bool>(), use16 in any::<bool>()) {
        let rw = if write { Rw::Write } else { Rw::Read };
        let c = cdb::read_write(rw, lba, blocks, fua, use16);
        let want = if write { Command::Write { lba, blocks, fua } } else { Command::Read { lba, blocks, fua } };
        prop_assert_eq!(parse(c.as_bytes()), Ok(want));
    }
}
