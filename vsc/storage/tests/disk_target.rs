//! The host's disk target against golden responses (SPC-4 / SBC-3 field layouts), and round
//! trips through the guest's parsers for many disk shapes, including the full path through
//! VSTOR packets.
use proptest::prelude::*;
use vstor_proto::cdb::{self, mode_page, opcode, vpd, PageControl};
use vstor_proto::disk::*;
use vstor_proto::response::{self as resp, DiscardMode};
use vstor_proto::sense::{asc, decode, key};
use vstor_proto::srb::{scsi_status, srb_status, Followup, Outcome, ScsiResult};
use vstor_proto::vstor::{
    self, CompletionBody, DataDirection, Expect, ProtocolVersion, RequestBody, ScsiAddress, SrbRequest,
};

const NAA: [u8; 8] = [0x50, 0, 0, 0, 0, 0, 0x12, 0x34];

fn config() -> DiskConfig<'static> {
    DiskConfig {
        capacity_blocks: 0x20_0000,
        logical_block_size: 512,
        physical_block_exponent: 3,
        vendor: b"PVGUEST",
        product: b"Virtual Disk",
        revision: b"1.0",
        serial: b"SN1",
        identifier: Identifier::Naa(NAA),
        write_cache: true,
        fua: true,
        read_only: false,
        rotation_rate: NON_ROTATING,
        max_transfer_blocks: 2048,
        optimal_transfer_blocks: 256,
        discard: Some(DiscardConfig {
            max_unmap_lba_count: 0x40_0000,
            max_unmap_descriptors: 16,
            granularity: 8,
            alignment: 0,
            lbprz: true,
        }),
        max_write_same_blocks: 0x1_0000,
    }
}

/// Runs a CDB with a data-in buffer of `len` bytes (or a data-out transfer of `len`).
fn run(d: &mut Disk<'_>, c: &[u8], dir: DataDirection, len: u32) -> (Action, Vec<u8>) {
    let mut buf = vec![0xeeu8; len.min(4096) as usize];
    let a = d.execute(c, dir, len, &mut buf);
    if let Action::Done(r) = a {
        buf.truncate(r.transferred as usize);
    }
    (a, buf)
}

fn data_in(d: &mut Disk<'_>, c: cdb::Cdb, len: u32) -> Vec<u8> {
    let (a, data) = run(d, c.as_bytes(), DataDirection::Read, len);
    let Action::Done(r) = a else { panic!("{a:?}") };
    assert_eq!(
        (r.srb_status, r.scsi_status),
        (srb_status::SUCCESS, scsi_status::GOOD),
        "{:?}",
        r.sense.map(|s| s.asc_ascq())
    );
    data
}

fn sense_of(a: Action) -> (u8, (u8, u8)) {
    let Action::Done(ScsiResult { scsi_status: scsi_status::CHECK_CONDITION, sense: Some(s), .. }) = a else {
        panic!("{a:?}")
    };
    (s.key(), s.asc_ascq())
}

// ---------------------------------------------------------------------------------------
// Golden responses.

#[test]
fn golden_standard_inquiry() {
    let mut d = Disk::new(config()).unwrap();
    let got = data_in(&mut d, cdb::inquiry(96), 96);
    let mut want = vec![0x00, 0x00, 0x06, 0x12, 31, 0x00, 0x00, 0x02];
    want.extend_from_slice(b"PVGUEST Virtual Disk    1.0 ");
    assert_eq!(got, want, "SPC-4 6.6.2: disk, SPC-4, HISUP|format 2, add. length 31, CMDQUE");
    assert_eq!(data_in(&mut d, cdb::inquiry(5), 5), want[..5]);
    assert_eq!(data_in(&mut d, cdb::inquiry(36), 20), want[..20], "the SRB's transfer length limits too");
}

#[test]
fn golden_vpd_pages() {
    let mut d = Disk::new(config()).unwrap();
    let p = |d: &mut Disk<'_>, page| data_in(d, cdb::inquiry_vpd(page, 255), 255);
    assert_eq!(p(&mut d, vpd::SUPPORTED_PAGES), [0, 0, 0, 6, 0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2]);
    assert_eq!(p(&mut d, vpd::UNIT_SERIAL_NUMBER), [0, 0x80, 0, 3, b'S', b'N', b'1']);

    let mut want = vec![0, 0x83, 0, 43];
    want.extend_from_slice(&[0x01, 0x03, 0x00, 8]); // binary, LU, NAA
    want.extend_from_slice(&NAA);
    want.extend_from_slice(&[0x02, 0x01, 0x00, 27]); // ASCII, LU, T10 vendor ID
    want.extend_from_slice(b"PVGUEST Virtual Disk    SN1");
    assert_eq!(p(&mut d, vpd::DEVICE_IDENTIFICATION), want);

    let mut bl = vec![0u8; 64];
    bl[1] = 0xb0;
    bl[3] = 0x3c;
    bl[4] = 0x01; // WSNZ
    bl[6..8].copy_from_slice(&8u16.to_be_bytes()); // optimal granularity: one physical block
    bl[8..12].copy_from_slice(&2048u32.to_be_bytes());
    bl[12..16].copy_from_slice(&256u32.to_be_bytes());
    bl[20..24].copy_from_slice(&0x40_0000u32.to_be_bytes());
    bl[24..28].copy_from_slice(&16u32.to_be_bytes());
    bl[28..32].copy_from_slice(&8u32.to_be_bytes());
    bl[32..36].copy_from_slice(&0x8000_0000u32.to_be_bytes()); // UGAVALID, alignment 0
    bl[36..44].copy_from_slice(&0x1_0000u64.to_be_bytes());
    assert_eq!(p(&mut d, vpd::BLOCK_LIMITS), bl, "SBC-3 6.5.3");

    let mut bc = vec![0u8; 64];
    bc[1] = 0xb1;
    bc[3] = 0x3c;
    bc[5] = 1; // non-rotating
    assert_eq!(p(&mut d, vpd::BLOCK_DEVICE_CHARACTERISTICS), bc, "SBC-3 6.5.2");
    assert_eq!(p(&mut d, vpd::LOGICAL_BLOCK_PROVISIONING), [0, 0xb2, 0, 4, 0, 0xc4, 0x02, 0], "LBPU|LBPWS|LBPRZ, thin");

    // Truncated by the allocation length; the page length still tells the whole.
    assert_eq!(data_in(&mut d, cdb::inquiry_vpd(0x83, 6), 255), want[..6]);
}

#[test]
fn golden_read_capacity() {
    let mut d = Disk::new(config()).unwrap();
    let mut want = vec![0u8; 32];
    want[..8].copy_from_slice(&0x1f_ffffu64.to_be_bytes());
    want[8..12].copy_from_slice(&512u32.to_be_bytes());
    want[13] = 3; // 8 logical blocks per physical block
    want[14] = 0xc0; // LBPME | LBPRZ
    assert_eq!(data_in(&mut d, cdb::read_capacity_16(32), 32), want, "SBC-3 5.16.2");
    assert_eq!(data_in(&mut d, cdb::read_capacity_10(), 8), [0, 0x1f, 0xff, 0xff, 0, 0, 2, 0], "SBC-3 5.15.2");
    let mut big = Disk::new(DiskConfig { capacity_blocks: 1 << 33, ..config() }).unwrap();
    let rc10 = resp::parse_read_capacity_10(&data_in(&mut big, cdb::read_capacity_10(), 8)).unwrap();
    assert!(rc10.needs_16());
    let rc16 = resp::parse_read_capacity_16(&data_in(&mut big, cdb::read_capacity_16(32), 32)).unwrap();
    assert_eq!(rc16.blocks(), 1 << 33);
}

#[test]
fn golden_mode_sense() {
    let mut d = Disk::new(config()).unwrap();
    let got = data_in(&mut d, cdb::mode_sense_6(true, PageControl::Current, mode_page::CACHING, 0, 255), 255);
    let mut want = vec![23, 0, 0x10, 0]; // length, medium, DPOFUA, no block descriptors
    let mut caching = [0u8; 20];
    caching[..3].copy_from_slice(&[0x08, 0x12, 0x04]); // WCE
    want.extend_from_slice(&caching);
    assert_eq!(got, want, "SPC-4 7.5.5 header, SBC-3 6.4.5 caching page");

    let got = data_in(&mut d, cdb::mode_sense_10(false, true, PageControl::Current, mode_page::ALL, 0, 512), 512);
    let mut want = vec![0, 54, 0, 0x10, 0x01, 0, 0, 16]; // LONGLBA, 16-byte descriptor
    want.extend_from_slice(&0x20_0000u64.to_be_bytes());
    want.extend_from_slice(&[0, 0, 0, 0, 0, 0, 2, 0]);
    want.extend_from_slice(&caching);
    want.extend_from_slice(&[0x0a, 0x0a, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0]); // control, QAM 1
    assert_eq!(got, want);

    let got = data_in(&mut d, cdb::mode_sense_6(false, PageControl::Changeable, mode_page::CONTROL, 0, 255), 255);
    assert_eq!(
        got,
        [23, 0, 0x10, 8, 0, 0x20, 0, 0, 0, 0, 2, 0, 0x0a, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        "short descriptor, mask zero"
    );
    // Truncated: the mode data length still describes all of it.
    assert_eq!(
        data_in(&mut d, cdb::mode_sense_6(true, PageControl::Current, mode_page::ALL, 0, 4), 255),
        [35, 0, 0x10, 0]
    );
}

#[test]
fn mode_sense_refusals() {
    let mut d = Disk::new(config()).unwrap();
    let (a, _) =
        run(&mut d, cdb::mode_sense_6(true, PageControl::Saved, 8, 0, 255).as_bytes(), DataDirection::Read, 255);
    assert_eq!(sense_of(a), (key::ILLEGAL_REQUEST, asc::SAVING_PARAMETERS_NOT_SUPPORTED));
    let (a, _) =
        run(&mut d, cdb::mode_sense_6(true, PageControl::Current, 0x1c, 0, 255).as_bytes(), DataDirection::Read, 255);
    assert_eq!(sense_of(a), (key::ILLEGAL_REQUEST, asc::INVALID_FIELD_IN_CDB));
    let (a, _) = run(
        &mut d,
        cdb::mode_sense_10(true, false, PageControl::Current, 8, 1, 255).as_bytes(),
        DataDirection::Read,
        255,
    );
    assert_eq!(sense_of(a), (key::ILLEGAL_REQUEST, asc::INVALID_FIELD_IN_CDB));
    assert!(!data_in(&mut d, cdb::mode_sense_6(true, PageControl::Default, 0x3f, 0xff, 255), 255).is_empty());
}

#[test]
fn vpd_refusals() {
    let mut d = Disk::new(DiskConfig { serial: b"", ..config() }).unwrap();
    for page in [0x80, 0x86, 0x89, 0xb3, 0xff] {
        let (a, _) = run(&mut d, cdb::inquiry_vpd(page, 255).as_bytes(), DataDirection::Read, 255);
        assert_eq!(sense_of(a), (key::ILLEGAL_REQUEST, asc::INVALID_FIELD_IN_CDB), "{page:#x}");
    }
    let pages = data_in(&mut d, cdb::inquiry_vpd(0, 255), 255);
    assert!(!resp::parse_supported_pages(&pages).unwrap().contains(0x80));
}

#[test]
fn golden_report_luns() {
    let mut out = [0u8; 64];
    let n = report_luns(&[0, 1, 200], 0, &mut out) as usize;
    assert_eq!(n, 32);
    assert_eq!(&out[..8], &[0, 0, 0, 24, 0, 0, 0, 0]);
    assert_eq!(&out[8..32], &[0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 200, 0, 0, 0, 0, 0, 0]);
    let l = resp::parse_report_luns(&out[..n]).unwrap();
    assert_eq!(l.iter().collect::<Vec<_>>(), [0, 1, 200]);
    assert!(!l.truncated());
    // Allocation length 16: header and first entry; the list length tells there are more.
    let n = report_luns(&[0, 1, 200], 0, &mut out[..16]) as usize;
    let l = resp::parse_report_luns(&out[..n]).unwrap();
    assert_eq!((l.len(), l.truncated(), l.list_len), (1, true, 24));
    // Well-known LUNs.
    let n = report_luns(&[0, 1], 1, &mut out) as usize;
    assert_eq!(&out[..n], &[0, 0, 0, 8, 0, 0, 0, 0, 0xc1, 0x01, 0, 0, 0, 0, 0, 0]);
    assert_eq!(resp::parse_report_luns(&out[..n]).unwrap().iter().next(), Some(0xc101));
    assert_eq!(report_luns(&[0, 1], 2, &mut out), 32);
    assert_eq!(encode_lun(0x123), [0x41, 0x23, 0, 0, 0, 0, 0, 0], "flat space addressing");
    assert_eq!(resp::lun_to_int(encode_lun(0x123)), 0x4123, "as Linux's scsilun_to_int keeps it");
    assert_eq!(resp::lun_as_u8(200), Some(200));
    assert_eq!(resp::lun_as_u8(0x4123), None);
}

// ---------------------------------------------------------------------------------------
// Data commands.

#[test]
fn reads_and_writes() {
    let mut d = Disk::new(config()).unwrap();
    let (a, _) = run(&mut d, cdb::read_10(16, 8, false).as_bytes(), DataDirection::Read, 4096);
    assert_eq!(a, Action::Read { offset: 16 * 512, len: 4096 });
    let (a, _) = run(&mut d, cdb::read_16(0x1f_fff8, 8, true).as_bytes(), DataDirection::Read, 4096);
    assert_eq!(a, Action::Read { offset: 0x1f_fff8 * 512, len: 4096 });
    let (a, _) = run(&mut d, cdb::write_10(0, 1, false).as_bytes(), DataDirection::Write, 512);
    assert_eq!(a, Action::Write { offset: 0, len: 512, durable: false });
    let (a, _) = run(&mut d, cdb::write_10(0, 1, true).as_bytes(), DataDirection::Write, 512);
    assert_eq!(a, Action::Write { offset: 0, len: 512, durable: true }, "FUA");
    let mut wt = Disk::new(DiskConfig { write_cache: false, ..config() }).unwrap();
    let (a, _) = run(&mut wt, cdb::write_10(0, 1, false).as_bytes(), DataDirection::Write, 512);
    assert_eq!(a, Action::Write { offset: 0, len: 512, durable: true }, "write-through cache");
    let (a, _) = run(&mut d, cdb::read_10(5, 0, false).as_bytes(), DataDirection::None, 0);
    assert_eq!(a, Action::Done(ScsiResult::good(0)), "zero blocks: nothing to do");

    // Out of range, above the maximum transfer, buffer too small, wrong direction.
    let (a, _) = run(&mut d, cdb::read_16(0x1f_fff9, 8, false).as_bytes(), DataDirection::Read, 4096);
    assert_eq!(sense_of(a), (key::ILLEGAL_REQUEST, asc::LBA_OUT_OF_RANGE));
    let (a, _) = run(&mut d, cdb::read_16(u64::MAX, 2, false).as_bytes(), DataDirection::Read, 1024);
    assert_eq!(sense_of(a), (key::ILLEGAL_REQUEST, asc::LBA_OUT_OF_RANGE));
    let (a, _) = run(&mut d, cdb::read_16(0, 2049, false).as_bytes(), DataDirection::Read, 2049 * 512);
    assert_eq!(sense_of(a), (key::ILLEGAL_REQUEST, asc::INVALID_FIELD_IN_CDB));
    let (a, _) = run(&mut d, cdb::read_10(0, 8, false).as_bytes(), DataDirection::Read, 4095);
    assert_eq!(a, Action::Done(ScsiResult::srb_error(srb_status::DATA_OVERRUN)));
    let (a, _) = run(&mut d, cdb::read_10(0, 8, false).as_bytes(), DataDirection::Write, 4096);
    assert_eq!(a, Action::Done(ScsiResult::srb_error(srb_status::INVALID_REQUEST)));
    let (a, _) = run(&mut d, cdb::write_10(0, 8, false).as_bytes(), DataDirection::Read, 4096);
    assert_eq!(a, Action::Done(ScsiResult::srb_error(srb_status::INVALID_REQUEST)));

    let mut ro = Disk::new(DiskConfig { read_only: true, ..config() }).unwrap();
    let (a, _) = run(&mut ro, cdb::write_10(0, 1, false).as_bytes(), DataDirection::Write, 512);
    assert_eq!(sense_of(a), (key::DATA_PROTECT, asc::WRITE_PROTECTED));
    let ms = data_in(&mut ro, cdb::mode_sense_6(true, PageControl::Current, 8, 0, 255), 255);
    let c = resp::parse_mode_sense(&ms, false).unwrap().caching().unwrap();
    assert!(c.wp && !c.wce, "sd turns WCE off on write-protected disks");
}

#[test]
fn synchronize_cache() {
    let mut d = Disk::new(config()).unwrap();
    for c in [cdb::synchronize_cache_10(0, 0), cdb::synchronize_cache_16(0x1f_ffff, 1), cdb::synchronize_cache_16(5, 0)]
    {
        assert_eq!(run(&mut d, c.as_bytes(), DataDirection::None, 0).0, Action::Flush);
    }
    let (a, _) = run(&mut d, cdb::synchronize_cache_16(0x20_0000, 0).as_bytes(), DataDirection::None, 0);
    assert_eq!(sense_of(a), (key::ILLEGAL_REQUEST, asc::LBA_OUT_OF_RANGE));
    let (a, _) = run(&mut d, cdb::synchronize_cache_16(0x1f_ffff, 2).as_bytes(), DataDirection::None, 0);
    assert_eq!(sense_of(a), (key::ILLEGAL_REQUEST, asc::LBA_OUT_OF_RANGE));
}

#[test]
fn unmap_and_write_same() {
    let mut d = Disk::new(config()).unwrap();
    let (a, _) = run(&mut d, cdb::unmap(24).as_bytes(), DataDirection::Write, 24);
    assert_eq!(a, Action::Unmap { param_len: 24 });
    let mut list = [0u8; 24];
    vstor_proto::unmap::build_param_list(&mut list, &[vstor_proto::unmap::UnmapRange { lba: 8, blocks: 16 }]).unwrap();
    let r = d.unmap_ranges(&list, 24).unwrap();
    let ranges: Vec<_> = r.iter().filter_map(|u| d.byte_range(u.lba, u64::from(u.blocks))).collect();
    assert_eq!(ranges, [(4096, 8192)]);
    vstor_proto::unmap::build_param_list(&mut list, &[vstor_proto::unmap::UnmapRange { lba: 0x1f_fff0, blocks: 17 }])
        .unwrap();
    assert_eq!(d.unmap_ranges(&list, 24).unwrap_err().asc_ascq(), asc::LBA_OUT_OF_RANGE);
    assert_eq!(run(&mut d, cdb::unmap(0).as_bytes(), DataDirection::None, 0).0, Action::Done(ScsiResult::good(0)));
    let (a, _) = run(&mut d, cdb::unmap(24).as_bytes(), DataDirection::Write, 16);
    assert_eq!(sense_of(a), (key::ILLEGAL_REQUEST, asc::PARAMETER_LIST_LENGTH_ERROR));
    let mut anchor = *cdb::unmap(24).raw();
    anchor[1] = 1;
    assert_eq!(
        sense_of(run(&mut d, &anchor[..10], DataDirection::Write, 24).0),
        (key::ILLEGAL_REQUEST, asc::INVALID_FIELD_IN_CDB)
    );

    let (a, _) = run(&mut d, cdb::write_same_16(8, 64, true).as_bytes(), DataDirection::Write, 512);
    assert_eq!(a, Action::WriteSame { offset: 4096, len: 64 * 512, block_len: 512, unmap: true, ndob: false });
    let (a, _) = run(&mut d, cdb::write_same_16(8, 0, false).as_bytes(), DataDirection::Write, 512);
    assert_eq!(sense_of(a), (key::ILLEGAL_REQUEST, asc::INVALID_FIELD_IN_CDB), "WSNZ");
    let (a, _) = run(&mut d, cdb::write_same_16(0, 0x1_0001, false).as_bytes(), DataDirection::Write, 512);
    assert_eq!(sense_of(a), (key::ILLEGAL_REQUEST, asc::INVALID_FIELD_IN_CDB), "above MAXIMUM WRITE SAME LENGTH");
    let (a, _) = run(&mut d, cdb::write_same_16(0x1f_ffff, 2, false).as_bytes(), DataDirection::Write, 512);
    assert_eq!(sense_of(a), (key::ILLEGAL_REQUEST, asc::LBA_OUT_OF_RANGE));
    let (a, _) = run(&mut d, cdb::write_same_16(0, 1, false).as_bytes(), DataDirection::Write, 100);
    assert_eq!(a, Action::Done(ScsiResult::srb_error(srb_status::DATA_OVERRUN)));

    // Thick disk: no UNMAP, WRITE SAME without deallocation, no LBP bits.
    let mut thick = Disk::new(DiskConfig { discard: None, ..config() }).unwrap();
    assert_eq!(
        sense_of(run(&mut thick, cdb::unmap(24).as_bytes(), DataDirection::Write, 24).0),
        (key::ILLEGAL_REQUEST, asc::INVALID_COMMAND_OPCODE)
    );
    let (a, _) = run(&mut thick, cdb::write_same_16(8, 1, true).as_bytes(), DataDirection::Write, 512);
    assert!(matches!(a, Action::WriteSame { unmap: false, .. }));
    assert_eq!(data_in(&mut thick, cdb::inquiry_vpd(0xb2, 255), 255), [0, 0xb2, 0, 4, 0, 0, 0, 0]);
    let mut no_ws = Disk::new(DiskConfig { max_write_same_blocks: 0, ..config() }).unwrap();
    assert_eq!(
        sense_of(run(&mut no_ws, cdb::write_same_16(8, 1, true).as_bytes(), DataDirection::Write, 512).0),
        (key::ILLEGAL_REQUEST, asc::INVALID_COMMAND_OPCODE)
    );
}

#[test]
fn unit_attention_and_resize() {
    let mut d = Disk::new(config()).unwrap();
    d.set_unit_attention(asc::POWER_ON_RESET);
    // INQUIRY and REPORT LUNS neither report nor clear it.
    data_in(&mut d, cdb::inquiry(36), 36);
    assert!(matches!(
        run(&mut d, cdb::report_luns(0, 64).as_bytes(), DataDirection::Read, 64).0,
        Action::ReportLuns { select: 0, alloc: 64 }
    ));
    assert_eq!(d.unit_attention(), Some(asc::POWER_ON_RESET));
    let (a, _) = run(&mut d, cdb::test_unit_ready().as_bytes(), DataDirection::None, 0);
    assert_eq!(sense_of(a), (key::UNIT_ATTENTION, asc::POWER_ON_RESET));
    assert_eq!(
        run(&mut d, cdb::test_unit_ready().as_bytes(), DataDirection::None, 0).0,
        Action::Done(ScsiResult::good(0))
    );

    d.resize(0x40_0000).unwrap();
    let (a, _) = run(&mut d, cdb::read_10(0, 1, false).as_bytes(), DataDirection::Read, 512);
    let Action::Done(r) = a else { panic!() };
    let c = vstor::srb_completion(ProtocolVersion::Win10, &read_req(cdb::read_10(0, 1, false), 512), &r);
    assert_eq!(c.disposition(opcode::READ_10).outcome, Outcome::Retry);
    assert_eq!(c.disposition(opcode::READ_10).followup, Followup::RescanDevice);
    let cap = resp::parse_read_capacity_16(&data_in(&mut d, cdb::read_capacity_16(32), 32)).unwrap();
    assert_eq!(cap.blocks(), 0x40_0000);

    // REQUEST SENSE reports and clears it.
    d.set_unit_attention(asc::REPORTED_LUNS_DATA_HAS_CHANGED);
    let s = data_in(&mut d, cdb::request_sense(18), 18);
    assert_eq!(decode(&s).unwrap().asc_ascq(), asc::REPORTED_LUNS_DATA_HAS_CHANGED);
    let s = data_in(&mut d, cdb::request_sense(18), 18);
    assert_eq!(decode(&s).unwrap().key, key::NO_SENSE);
    let mut desc = *cdb::request_sense(8).raw();
    desc[1] = 1;
    let (a, s) = run(&mut d, &desc[..6], DataDirection::Read, 8);
    assert!(matches!(a, Action::Done(_)));
    assert_eq!(s, [0x72, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(d.resize(0), Err(ConfigError::Capacity));
}

#[test]
fn unknown_and_malformed_cdbs() {
    let mut d = Disk::new(config()).unwrap();
    let (a, _) = run(&mut d, &[opcode::READ_6, 0, 0, 0, 1, 0], DataDirection::Read, 512);
    assert_eq!(sense_of(a), (key::ILLEGAL_REQUEST, asc::INVALID_COMMAND_OPCODE));
    let (a, _) = run(&mut d, &[opcode::READ_10, 0x20, 0, 0, 0, 0, 0, 0, 1, 0], DataDirection::Read, 512);
    assert_eq!(sense_of(a), (key::ILLEGAL_REQUEST, asc::INVALID_FIELD_IN_CDB));
    assert_eq!(run(&mut d, &[0x1b, 0, 0, 0, 1, 0], DataDirection::None, 0).0, Action::Done(ScsiResult::good(0)));
}

#[test]
fn config_validation() {
    let bad = [
        (DiskConfig { capacity_blocks: 0, ..config() }, ConfigError::Capacity),
        (DiskConfig { capacity_blocks: u64::MAX / 256, ..config() }, ConfigError::Capacity),
        (DiskConfig { logical_block_size: 520, ..config() }, ConfigError::BlockSize),
        (DiskConfig { logical_block_size: 8192, ..config() }, ConfigError::BlockSize),
        (DiskConfig { physical_block_exponent: 16, ..config() }, ConfigError::PhysicalExponent),
        (DiskConfig { vendor: b"TOO LONG VENDOR", ..config() }, ConfigError::IdentityString),
        (DiskConfig { product: b"\x01", ..config() }, ConfigError::IdentityString),
        (DiskConfig { serial: &[b'x'; 201], ..config() }, ConfigError::Serial),
        (DiskConfig { serial: b"a\nb", ..config() }, ConfigError::Serial),
        (DiskConfig { identifier: Identifier::Naa([0x60; 8]), ..config() }, ConfigError::Identifier),
        (DiskConfig { identifier: Identifier::NaaExtended([0x50; 16]), ..config() }, ConfigError::Identifier),
        (DiskConfig { optimal_transfer_blocks: 4096, ..config() }, ConfigError::OptimalTransfer),
        (DiskConfig { optimal_transfer_blocks: 12, ..config() }, ConfigError::OptimalTransfer),
    ];
    for (c, e) in bad {
        assert_eq!(Disk::new(c).unwrap_err(), e);
        assert!(!e.as_str().is_empty());
    }
    for dc in [
        DiscardConfig { max_unmap_lba_count: 0, ..config().discard.unwrap() },
        DiscardConfig { max_unmap_descriptors: 0, ..config().discard.unwrap() },
        DiscardConfig { granularity: 0, ..config().discard.unwrap() },
        DiscardConfig { alignment: 8, ..config().discard.unwrap() },
    ] {
        assert_eq!(Disk::new(DiskConfig { discard: Some(dc), ..config() }).unwrap_err(), ConfigError::Discard);
    }
    assert!(Disk::new(DiskConfig { identifier: Identifier::NaaExtended([0x60; 16]), ..config() }).is_ok());
    assert!(Disk::new(DiskConfig { identifier: Identifier::Eui64([0xff; 8]), ..config() }).is_ok());
}

// ---------------------------------------------------------------------------------------
// Round trips through the guest's parsers.

fn shape() -> impl Strategy<Value = DiskConfig<'static>> {
    let geometry =
        (prop_oneof![Just(512u32), Just(4096u32), Just(1024u32), Just(2048u32)], 0u8..=3, 1u64..(1u64 << 40));
    let limits = (any::<bool>(), 0u32..=0x10000, 0u32..=64, any::<u16>());
    let cache = (any::<bool>(), any::<bool>(), any::<bool>());
    let discard = proptest::option::of((1u32.., 1u32..256, 1u32..1024, any::<u32>(), any::<bool>()));
    let ws = prop_oneof![Just(0u64), 1u64..(1 << 40)];
    let id = prop_oneof![
        any::<[u8; 7]>().prop_map(|b| Identifier::Naa([0x50, b[0], b[1], b[2], b[3], b[4], b[5], b[6]])),
        any::<[u8; 15]>().prop_map(|b| {
            let mut x = [0x60u8; 16];
            x[1..].copy_from_slice(&b);
            Identifier::NaaExtended(x)
        }),
        any::<[u8; 8]>().prop_map(Identifier::Eui64),
    ];
    let serial = prop_oneof![
        Just(&b""[..]),
        Just(&b"S"[..]),
        Just(&b"6002248012345678901234567890abcdef"[..]),
        Just(&[b'Z'; 200][..])
    ];
    (geometry, limits, cache, discard, ws, id, serial).prop_map(
        |((bs, exp, cap), (limit, max, opt_mul, rot), (wce, fua, ro), discard, ws, identifier, serial)| {
            let cap = cap.min(u64::MAX / u64::from(bs));
            let per = 1u32 << exp;
            let max_transfer_blocks = if limit { max.max(per * 64) } else { 0 };
            let mut optimal_transfer_blocks = opt_mul * per;
            if max_transfer_blocks != 0 {
                optimal_transfer_blocks = optimal_transfer_blocks.min(max_transfer_blocks - max_transfer_blocks % per);
            }
            DiskConfig {
                capacity_blocks: cap,
                logical_block_size: bs,
                physical_block_exponent: exp,
                vendor: b"Msft",
                product: b"Virtual Disk",
                revision: b"1.0",
                serial,
                identifier,
                write_cache: wce,
                fua,
                read_only: ro,
                rotation_rate: rot,
                max_transfer_blocks,
                optimal_transfer_blocks,
                discard: discard.map(|(lba, desc, gran, align, lbprz)| DiscardConfig {
                    max_unmap_lba_count: lba,
                    max_unmap_descriptors: desc,
                    granularity: gran,
                    alignment: align % gran,
                    lbprz,
                }),
                max_write_same_blocks: ws,
            }
        },
    )
}

fn designator_bytes(id: &Identifier) -> (u8, Vec<u8>) {
    match id {
        Identifier::Naa(b) => (3, b.to_vec()),
        Identifier::NaaExtended(b) => (3, b.to_vec()),
        Identifier::Eui64(b) => (2, b.to_vec()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn disk_round_trips(cfg in shape()) {
        let mut d = Disk::new(cfg).unwrap();

        let inq = resp::parse_standard_inquiry(&data_in(&mut d, cdb::inquiry(255), 255)).unwrap();
        prop_assert!(inq.is_disk() && inq.lun_present() && inq.cmdque && !inq.removable);
        prop_assert_eq!(inq.vendor_trimmed(), b"Msft");
        prop_assert_eq!(inq.product_trimmed(), b"Virtual Disk");
        prop_assert_eq!(inq.revision_trimmed(), b"1.0");
        prop_assert_eq!(inq.version, 6);

        let pages = data_in(&mut d, cdb::inquiry_vpd(vpd::SUPPORTED_PAGES, 255), 255);
        let pages = resp::parse_supported_pages(&pages).unwrap();
        for p in [0x00, 0x83, 0xb0, 0xb1, 0xb2] {
            prop_assert!(pages.contains(p));
        }
        prop_assert_eq!(pages.contains(0x80), !cfg.serial.is_empty());
        prop_assert!(pages.pages.windows(2).all(|w| w[0] < w[1]), "ascending");
        if !cfg.serial.is_empty() {
            let sn = data_in(&mut d, cdb::inquiry_vpd(vpd::UNIT_SERIAL_NUMBER, 255), 255);
            prop_assert_eq!(resp::parse_unit_serial(&sn).unwrap(), cfg.serial);
        }

        let id = data_in(&mut d, cdb::inquiry_vpd(vpd::DEVICE_IDENTIFICATION, 255), 255);
        let wwn = resp::pick_wwn(&id).unwrap().unwrap();
        let (t, bytes) = designator_bytes(&cfg.identifier);
        prop_assert_eq!(wwn.designator_type, t);
        prop_assert_eq!(wwn.id, &bytes[..]);
        prop_assert_eq!(wwn.association, 0);
        let all: Vec<_> = resp::parse_designators(&id).unwrap().collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(all.len(), 2);
        prop_assert_eq!(all[1].designator_type, resp::designator_type::T10_VENDOR_ID);
        prop_assert!(all[1].id.ends_with(cfg.serial));

        let bl = resp::parse_block_limits(&data_in(&mut d, cdb::inquiry_vpd(vpd::BLOCK_LIMITS, 255), 255)).unwrap();
        prop_assert!(bl.extended && bl.wsnz);
        prop_assert_eq!(bl.max_transfer, cfg.max_transfer_blocks);
        prop_assert_eq!(bl.optimal_transfer, cfg.optimal_transfer_blocks);
        prop_assert_eq!(u32::from(bl.optimal_granularity), 1u32 << cfg.physical_block_exponent);
        prop_assert_eq!(bl.max_write_same, cfg.max_write_same_blocks);
        match cfg.discard {
            Some(dc) => {
                prop_assert_eq!(bl.max_unmap_lba_count, dc.max_unmap_lba_count);
                prop_assert_eq!(bl.max_unmap_descriptors, dc.max_unmap_descriptors);
                prop_assert_eq!(bl.unmap_granularity, dc.granularity);
                prop_assert_eq!(bl.unmap_alignment, Some(dc.alignment));
            }
            None => prop_assert_eq!(bl.max_unmap_blocks(), 0),
        }

        let bc = resp::parse_block_characteristics(&data_in(&mut d, cdb::inquiry_vpd(vpd::BLOCK_DEVICE_CHARACTERISTICS, 255), 255)).unwrap();
        prop_assert_eq!(bc.rotation_rate, cfg.rotation_rate);
        prop_assert_eq!(bc.non_rotational(), cfg.rotation_rate == 1);

        let lbp = resp::parse_provisioning(&data_in(&mut d, cdb::inquiry_vpd(vpd::LOGICAL_BLOCK_PROVISIONING, 255), 255)).unwrap();
        prop_assert_eq!(lbp.lbpu, cfg.discard.is_some());
        prop_assert_eq!(lbp.lbpws, cfg.discard.is_some() && cfg.max_write_same_blocks > 0);
        prop_assert_eq!(lbp.lbprz == 1, cfg.lbprz());

        let cap = resp::parse_read_capacity_16(&data_in(&mut d, cdb::read_capacity_16(32), 32)).unwrap();
        prop_assert_eq!(cap.blocks(), cfg.capacity_blocks);
        prop_assert_eq!(cap.block_len, cfg.logical_block_size);
        prop_assert_eq!(cap.physical_block_size(), cfg.physical_block_size());
        prop_assert_eq!((cap.lbpme, cap.lbprz, cap.prot_en), (cfg.lbpme(), cfg.lbprz(), false));
        let rc10 = resp::parse_read_capacity_10(&data_in(&mut d, cdb::read_capacity_10(), 8)).unwrap();
        prop_assert_eq!(rc10.last_lba, cfg.last_lba().min(0xffff_ffff));
        prop_assert_eq!(rc10.needs_16(), cfg.last_lba() >= 0xffff_ffff);

        for (ten, dbd, llbaa) in [(false, false, false), (false, true, false), (true, false, false), (true, false, true), (true, true, true)] {
            let c = if ten {
                cdb::mode_sense_10(dbd, llbaa, PageControl::Current, mode_page::ALL, 0, 512)
            } else {
                cdb::mode_sense_6(dbd, PageControl::Current, mode_page::ALL, 0, 255)
            };
            let raw = data_in(&mut d, c, 512);
            let ms = resp::parse_mode_sense(&raw, ten).unwrap();
            let caching = ms.caching().unwrap();
            prop_assert_eq!(caching.wce, cfg.write_cache && !cfg.read_only);
            prop_assert_eq!(caching.dpofua, cfg.fua);
            prop_assert_eq!(caching.wp, cfg.read_only);
            prop_assert!(ms.page(mode_page::CONTROL).is_some());
            prop_assert_eq!(ms.block_descriptor_len, if dbd { 0 } else if llbaa { 16 } else { 8 });
            prop_assert_eq!(ms.long_lba, !dbd && llbaa);
        }

        let mode = resp::discard_mode(&cap, Some(&bl), Some(&lbp));
        prop_assert_eq!(mode, if cfg.discard.is_some() { DiscardMode::Unmap } else { DiscardMode::Disabled });
        let max = resp::max_discard_blocks(mode, Some(&bl));
        prop_assert!(max <= resp::SD_MAX_WS16_BLOCKS);
        prop_assert_eq!(max == 0, cfg.discard.is_none());
    }

    /// Any allocation length: the data is a prefix of the full answer.
    #[test]
    fn allocation_length_truncates(cfg in shape(), alloc in 0u16..300, page_idx in 0usize..7) {
        let mut d = Disk::new(cfg).unwrap();
        let pages = [0x00u8, 0x80, 0x83, 0xb0, 0xb1, 0xb2, 0xff];
        let page = pages[page_idx];
        if page == 0xff {
            let full = data_in(&mut d, cdb::inquiry(255), 255);
            let cut = data_in(&mut d, cdb::inquiry(alloc), 512);
            prop_assert_eq!(&full[..cut.len()], &cut[..]);
            prop_assert_eq!(cut.len(), full.len().min(usize::from(alloc)));
        } else if page != 0x80 || !cfg.serial.is_empty() {
            let full = data_in(&mut d, cdb::inquiry_vpd(page, 255), 512);
            let cut = data_in(&mut d, cdb::inquiry_vpd(page, alloc), 512);
            prop_assert_eq!(cut.len(), full.len().min(usize::from(alloc)));
            prop_assert_eq!(&full[..cut.len()], &cut[..]);
        }
    }

    #[test]
    fn rw_ranges(cfg in shape(), lba in any::<u64>(), blocks in 0u32..4096, write in any::<bool>()) {
        let mut d = Disk::new(cfg).unwrap();
        let c = cdb::read_write(if write { cdb::Rw::Write } else { cdb::Rw::Read }, lba, blocks, false, true);
        let len = blocks * cfg.logical_block_size;
        let dir = if write { DataDirection::Write } else { DataDirection::Read };
        let (a, _) = run(&mut d, c.as_bytes(), dir, len);
        let inside = lba.checked_add(u64::from(blocks)).is_some_and(|e| e <= cfg.capacity_blocks);
        let too_long = cfg.max_transfer_blocks != 0 && blocks > cfg.max_transfer_blocks;
        match a {
            Action::Read { offset, len: l } => {
                prop_assert!(inside && !write && !too_long && blocks > 0);
                prop_assert_eq!(offset, lba * u64::from(cfg.logical_block_size));
                prop_assert_eq!(l, len);
            }
            Action::Write { offset, len: l, durable } => {
                prop_assert!(inside && write && !too_long && !cfg.read_only && blocks > 0);
                prop_assert_eq!(offset, lba * u64::from(cfg.logical_block_size));
                prop_assert_eq!(l, len);
                prop_assert_eq!(durable, !cfg.write_cache);
            }
            Action::Done(r) if r.scsi_status == scsi_status::GOOD => prop_assert_eq!(blocks, 0),
            Action::Done(r) => {
                let s = r.sense.unwrap();
                prop_assert!(!inside || too_long || (write && cfg.read_only), "{:?}", s.asc_ascq());
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn arbitrary_cdbs_against_the_disk_never_panic(c in proptest::collection::vec(any::<u8>(), 0..17), dir in 0u8..3, len in any::<u32>()) {
        let mut d = Disk::new(config()).unwrap();
        let dir = DataDirection::from_u8(dir).unwrap();
        let mut buf = [0u8; RESPONSE_MAX];
        if let Action::Done(r) = d.execute(&c, dir, len, &mut buf) {
            prop_assert!(r.transferred as usize <= RESPONSE_MAX);
            prop_assert!(r.transferred <= len);
        }
    }
}

// ---------------------------------------------------------------------------------------
// The whole path: guest SRB packet → host parse → disk → completion packet → guest.

fn read_req(c: cdb::Cdb, len: u32) -> SrbRequest {
    SrbRequest::new(
        ScsiAddress { port_number: 0, path_id: 0, target_id: 0, lun: 1 },
        c.as_bytes(),
        DataDirection::Read,
        len,
        true,
    )
    .unwrap()
}

fn through_vstor(v: ProtocolVersion, d: &mut Disk<'_>, srb: &SrbRequest) -> (vstor::SrbCompletion, Vec<u8>) {
    let mut pkt = [0u8; 64];
    let n = vstor::encode_execute_srb(&mut pkt, v, srb).unwrap();
    let RequestBody::ExecuteSrb(req) = vstor::parse_request(&pkt[..n], Some(v)).unwrap().body else { panic!() };
    req.check_transfer(req.data_transfer_length as usize, 0x20_0000).unwrap();
    let mut data = vec![0u8; req.data_transfer_length as usize];
    let result = match d.execute(req.cdb(), req.direction, req.data_transfer_length, &mut data) {
        Action::Done(r) => r,
        Action::ReportLuns { alloc, .. } => {
            let lim = (alloc as usize).min(data.len());
            ScsiResult::good(report_luns(&[0, 1], 0, &mut data[..lim]))
        }
        other => panic!("{other:?}"),
    };
    let mut out = [0u8; 64];
    let m = vstor::encode_srb_completion(&mut out, vstor::reply_len(n), v, &req, &result).unwrap();
    let CompletionBody::Srb(c) = vstor::parse_completion(&out[..m], Expect::Srb(v)).unwrap().body else { panic!() };
    let got = c.transferred(srb.data_transfer_length) as usize;
    data.truncate(got);
    (c, data)
}

#[test]
fn end_to_end_through_vstor_packets() {
    for v in ProtocolVersion::NEWEST_FIRST {
        let mut d = Disk::new(config()).unwrap();
        let (c, data) = through_vstor(v, &mut d, &read_req(cdb::inquiry(36), 36));
        assert_eq!(c.disposition(opcode::INQUIRY).outcome, Outcome::Ok);
        assert_eq!(resp::parse_standard_inquiry(&data).unwrap().product_trimmed(), b"Virtual Disk");

        let (c, data) = through_vstor(v, &mut d, &read_req(cdb::read_capacity_16(32), 32));
        assert_eq!(c.disposition(opcode::SERVICE_ACTION_IN_16).outcome, Outcome::Ok);
        assert_eq!(resp::parse_read_capacity_16(&data).unwrap().blocks(), 0x20_0000);

        let (c, data) = through_vstor(v, &mut d, &read_req(cdb::report_luns(0, 256), 256));
        assert_eq!(c.disposition(opcode::REPORT_LUNS).outcome, Outcome::Ok);
        assert_eq!(resp::parse_report_luns(&data).unwrap().iter().collect::<Vec<_>>(), [0, 1]);

        // A short answer: 36 bytes in a 255-byte buffer is SUCCESS with the real count.
        let (c, data) = through_vstor(v, &mut d, &read_req(cdb::inquiry(255), 255));
        assert_eq!((c.srb_status, data.len()), (srb_status::SUCCESS, 36));

        let (c, data) = through_vstor(v, &mut d, &read_req(cdb::read_16(0x20_0000, 1, false), 512));
        let disp = c.disposition(opcode::READ_16);
        assert_eq!(disp.outcome, Outcome::IllegalRequest, "{}", v.name());
        assert_eq!(decode(c.sense_data()).unwrap().asc_ascq(), asc::LBA_OUT_OF_RANGE);
        assert!(data.is_empty());
    }
}
