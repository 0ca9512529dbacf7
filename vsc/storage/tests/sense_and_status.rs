//! Sense data (SPC-4 4.5) decoding and building, and the guest's classification of a
//! completed command (`storvsc_handle_error()` + `scsi_check_sense()` +
//! `scsi_io_completion_action()`).
use proptest::prelude::*;
use vstor_proto::cdb::opcode;
use vstor_proto::sense::{self, asc, decode, key, FixedSense, Sense, SenseError, SenseFormat};
use vstor_proto::srb::{
    self, blk_status, classify, scsi_status as st, srb_status as ss, Disposition, Followup, Outcome, ScsiResult,
};
use vstor_proto::vstor::{self, DataDirection, ProtocolVersion, ScsiAddress, SrbRequest};

// ---------------------------------------------------------------------------------------
// Building: SPC-4 4.5.3 fixed format, table 28; field pointer 4.5.2.4.2.

#[test]
fn golden_fixed_sense_invalid_field_in_cdb() {
    let s = FixedSense::invalid_field_in_cdb(2, None);
    assert_eq!(
        s.as_bytes(),
        &[0x70, 0, 0x05, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0x24, 0x00, 0, 0xc0, 0x00, 0x02],
        "current, ILLEGAL REQUEST, add. length 10, 24/00, SKSV|C/D, field byte 2"
    );
    let s = FixedSense::invalid_field_in_cdb(1, Some(4));
    assert_eq!(&s.as_bytes()[15..], &[0xcc, 0x00, 0x01], "SKSV|C/D|BPV|bit 4");
    let s = FixedSense::invalid_field_in_parameter_list(0x102);
    assert_eq!(&s.as_bytes()[12..], &[0x26, 0, 0, 0x80, 0x01, 0x02], "C/D clear: parameter list");
    assert_eq!(FixedSense::invalid_opcode().asc_ascq(), (0x20, 0));
}

#[test]
fn golden_fixed_sense_with_information() {
    let s = FixedSense::medium_error(asc::UNRECOVERED_READ_ERROR, Some(0x1234_5678));
    assert_eq!(
        s.as_bytes(),
        &[0xf0, 0, 0x03, 0x12, 0x34, 0x56, 0x78, 0x0a, 0, 0, 0, 0, 0x11, 0, 0, 0, 0, 0],
        "VALID, MEDIUM ERROR, INFORMATION = LBA, 11/00"
    );
    let s = FixedSense::medium_error(asc::WRITE_ERROR, Some(1 << 32));
    assert_eq!(s.as_bytes()[0], 0x70, "an LBA above 32 bits is not reported in fixed format");
    assert_eq!(decode(s.as_bytes()).unwrap().information, None);
}

#[test]
fn named_constructors() {
    let cases: [(FixedSense, u8, (u8, u8)); 8] = [
        (FixedSense::lba_out_of_range(), key::ILLEGAL_REQUEST, (0x21, 0)),
        (FixedSense::unit_attention(asc::POWER_ON_RESET), key::UNIT_ATTENTION, (0x29, 0)),
        (FixedSense::unit_attention(asc::CAPACITY_DATA_HAS_CHANGED), key::UNIT_ATTENTION, (0x2a, 0x09)),
        (FixedSense::unit_attention(asc::REPORTED_LUNS_DATA_HAS_CHANGED), key::UNIT_ATTENTION, (0x3f, 0x0e)),
        (FixedSense::write_protected(), key::DATA_PROTECT, (0x27, 0)),
        (FixedSense::medium_not_present(), key::NOT_READY, (0x3a, 0)),
        (FixedSense::internal_target_failure(), key::HARDWARE_ERROR, (0x44, 0)),
        (FixedSense::medium_error(asc::WRITE_ERROR, None), key::MEDIUM_ERROR, (0x0c, 0)),
    ];
    for (s, k, a) in cases {
        assert_eq!((s.key(), s.asc_ascq()), (k, a));
        let d = decode(s.as_bytes()).unwrap();
        assert_eq!((d.key, d.asc_ascq(), d.format, d.deferred), (k, a, SenseFormat::Fixed, false));
        assert_eq!(s.to_descriptor(), [0x72, k, a.0, a.1, 0, 0, 0, 0]);
        assert_eq!(decode(&s.to_descriptor()).unwrap().asc_ascq(), a);
    }
    assert_eq!(key::name(key::ILLEGAL_REQUEST), "ILLEGAL REQUEST");
    assert_eq!(key::name(0x0c), "RESERVED");
}

// ---------------------------------------------------------------------------------------
// Decoding.

#[test]
fn decode_fixed_with_key_specific_and_information() {
    let s = FixedSense::invalid_field_in_cdb(7, Some(3)).with_information(0xdead_beef);
    let d = decode(s.as_bytes()).unwrap();
    assert_eq!(d.information, Some(0xdead_beef));
    assert_eq!(d.key_specific, Some([0xcb, 0x00, 0x07]));
}

#[test]
fn decode_deferred_fixed() {
    let mut b = *FixedSense::new(key::MEDIUM_ERROR, asc::WRITE_ERROR).as_bytes();
    b[0] = 0x71;
    let d = decode(&b).unwrap();
    assert!(d.deferred);
    assert_eq!(d.key, key::MEDIUM_ERROR);
}

/// Descriptor format (SPC-4 4.5.2): 8-byte header, an information descriptor (type 0,
/// length 0x0A, VALID) and a sense-key specific descriptor (type 2, length 6).
#[test]
fn decode_descriptor_format() {
    let b = [
        0x72, 0x03, 0x11, 0x00, 0, 0, 0, 20, // header, additional length 20
        0x00, 0x0a, 0x80, 0x00, 0, 0, 0, 1, 0, 0, 0, 0x10, // information = 0x1_0000_0010
        0x02, 0x06, 0, 0, 0x80, 0x12, 0x34, 0, // sense-key specific
    ];
    let d = decode(&b).unwrap();
    assert_eq!(d.format, SenseFormat::Descriptor);
    assert_eq!((d.key, d.asc, d.ascq), (key::MEDIUM_ERROR, 0x11, 0));
    assert_eq!(d.information, Some(0x1_0000_0010));
    assert_eq!(d.key_specific, Some([0x80, 0x12, 0x34]));
    assert_eq!(sense::descriptors(&b).count(), 2);
    assert_eq!(sense::find_descriptor(&b, 2).map(|d| d.len()), Some(8));
    assert_eq!(sense::find_descriptor(&b, 5), None);
    let mut deferred = b;
    deferred[0] = 0x73;
    assert!(decode(&deferred).unwrap().deferred);
    // The additional length hides the descriptors beyond it.
    let mut short = b;
    short[7] = 8;
    assert_eq!(decode(&short).unwrap().key_specific, None);
    // A descriptor whose length runs past the data is ignored.
    let mut bad = b;
    bad[9] = 0x40;
    let d = decode(&bad).unwrap();
    assert_eq!((d.information, d.key_specific), (None, None));
    // No VALID bit: no information.
    let mut invalid = b;
    invalid[10] = 0;
    assert_eq!(decode(&invalid).unwrap().information, None);
}

#[test]
fn decode_truncated_like_scsi_normalize_sense() {
    assert_eq!(decode(&[]), Err(SenseError::Empty));
    let d = decode(&[0x70]).unwrap();
    assert_eq!((d.key, d.asc, d.ascq), (0, 0, 0));
    assert_eq!(decode(&[0x70, 0, 0x05]).unwrap().key, 5);
    // Additional length 4: ASC at byte 12 is outside it and reads as zero.
    let mut b = *FixedSense::lba_out_of_range().as_bytes();
    b[7] = 4;
    assert_eq!(decode(&b).unwrap().asc_ascq(), (0, 0));
    b[7] = 5;
    assert_eq!(decode(&b).unwrap().asc_ascq(), (0x21, 0));
    // Buffer shorter than the additional length says.
    let full = FixedSense::lba_out_of_range();
    assert_eq!(decode(&full.as_bytes()[..13]).unwrap().asc_ascq(), (0x21, 0));
    assert_eq!(decode(&full.as_bytes()[..12]).unwrap().asc_ascq(), (0, 0));
    // Descriptor header cut short.
    assert_eq!(decode(&[0x72, 0x06, 0x29]).unwrap().asc_ascq(), (0x29, 0));
    // VALID bit on byte 0 does not change the response code.
    assert_eq!(decode(&[0xf0, 0, 2]).unwrap().key, 2);
}

#[test]
fn decode_refuses_other_response_codes() {
    for b in [0x00u8, 0x05, 0x6f, 0x74, 0x7f, 0xff] {
        assert_eq!(decode(&[b, 0, 0, 0]), Err(SenseError::ResponseCode(b & 0x7f)));
    }
    assert_eq!(SenseError::Empty.to_string(), "no sense data");
}

proptest! {
    #[test]
    fn arbitrary_sense_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(s) = decode(&b) {
            prop_assert!(s.key <= 0x0f);
            let _ = srb::classify_sense(b.first().copied().unwrap_or(0), &s);
        }
        let _ = sense::descriptors(&b).count();
    }

    #[test]
    fn fixed_round_trip(k in 0u8..16, a in any::<u8>(), q in any::<u8>(), info in any::<u32>()) {
        let s = FixedSense::new(k, (a, q)).with_information(info);
        let d: Sense = decode(s.as_bytes()).unwrap();
        prop_assert_eq!((d.key, d.asc, d.ascq, d.information), (k, a, q, Some(u64::from(info))));
    }
}

// ---------------------------------------------------------------------------------------
// Classification.

fn dsp(outcome: Outcome, followup: Followup) -> Disposition {
    Disposition { outcome, followup }
}

fn sense_of(k: u8, code: (u8, u8)) -> [u8; 18] {
    *FixedSense::new(k, code).as_bytes()
}

const ERR_AS: u8 = ss::ERROR | ss::AUTOSENSE_VALID;

#[test]
fn classification_table() {
    let r = opcode::READ_10;
    let cases: Vec<(u8, u8, u8, Vec<u8>, Disposition)> = vec![
        (r, ss::SUCCESS, st::GOOD, vec![], dsp(Outcome::Ok, Followup::None)),
        (r, ss::SUCCESS, st::CONDITION_MET, vec![], dsp(Outcome::Ok, Followup::None)),
        // storvsc_handle_error: capacity change and operating-parameter changes rescan.
        (
            r,
            ERR_AS,
            st::CHECK_CONDITION,
            sense_of(key::UNIT_ATTENTION, (0x2a, 0x09)).to_vec(),
            dsp(Outcome::Retry, Followup::RescanDevice),
        ),
        (
            r,
            ERR_AS,
            st::CHECK_CONDITION,
            sense_of(key::UNIT_ATTENTION, (0x3f, 0x01)).to_vec(),
            dsp(Outcome::Retry, Followup::RescanDevice),
        ),
        (
            r,
            ERR_AS,
            st::CHECK_CONDITION,
            sense_of(key::UNIT_ATTENTION, (0x3f, 0x0e)).to_vec(),
            dsp(Outcome::Retry, Followup::RescanBus),
        ),
        (
            r,
            ERR_AS,
            st::CHECK_CONDITION,
            sense_of(key::UNIT_ATTENTION, (0x3f, 0x03)).to_vec(),
            dsp(Outcome::Retry, Followup::None),
        ),
        (
            r,
            ERR_AS,
            st::CHECK_CONDITION,
            sense_of(key::UNIT_ATTENTION, (0x29, 0)).to_vec(),
            dsp(Outcome::Retry, Followup::None),
        ),
        // The same sense with SRB SUCCESS goes through the midlayer alone.
        (
            r,
            ss::SUCCESS,
            st::CHECK_CONDITION,
            sense_of(key::UNIT_ATTENTION, (0x2a, 0x09)).to_vec(),
            dsp(Outcome::Retry, Followup::RescanDevice),
        ),
        (
            r,
            ERR_AS,
            st::CHECK_CONDITION,
            sense_of(key::ILLEGAL_REQUEST, (0x24, 0)).to_vec(),
            dsp(Outcome::IllegalRequest, Followup::None),
        ),
        (
            r,
            ERR_AS,
            st::CHECK_CONDITION,
            sense_of(key::ILLEGAL_REQUEST, (0x21, 0)).to_vec(),
            dsp(Outcome::IllegalRequest, Followup::None),
        ),
        (
            r,
            ERR_AS,
            st::CHECK_CONDITION,
            sense_of(key::MEDIUM_ERROR, (0x11, 0)).to_vec(),
            dsp(Outcome::MediumError, Followup::None),
        ),
        (
            r,
            ERR_AS,
            st::CHECK_CONDITION,
            sense_of(key::MEDIUM_ERROR, (0x0c, 0)).to_vec(),
            dsp(Outcome::MediumError, Followup::None),
        ),
        (
            r,
            ERR_AS,
            st::CHECK_CONDITION,
            sense_of(key::NOT_READY, (0x3a, 0)).to_vec(),
            dsp(Outcome::NotReady, Followup::None),
        ),
        (
            r,
            ERR_AS,
            st::CHECK_CONDITION,
            sense_of(key::NOT_READY, (0x04, 0x01)).to_vec(),
            dsp(Outcome::Retry, Followup::None),
        ),
        (
            r,
            ERR_AS,
            st::CHECK_CONDITION,
            sense_of(key::NOT_READY, (0x04, 0x02)).to_vec(),
            dsp(Outcome::NotReady, Followup::None),
        ),
        (
            r,
            ERR_AS,
            st::CHECK_CONDITION,
            sense_of(key::HARDWARE_ERROR, (0x44, 0)).to_vec(),
            dsp(Outcome::TargetFailure, Followup::None),
        ),
        (
            r,
            ERR_AS,
            st::CHECK_CONDITION,
            sense_of(key::DATA_PROTECT, (0x27, 0)).to_vec(),
            dsp(Outcome::TargetFailure, Followup::None),
        ),
        (
            r,
            ERR_AS,
            st::CHECK_CONDITION,
            sense_of(key::ABORTED_COMMAND, (0, 0)).to_vec(),
            dsp(Outcome::Retry, Followup::None),
        ),
        (
            r,
            ERR_AS,
            st::CHECK_CONDITION,
            sense_of(key::RECOVERED_ERROR, (0x17, 0)).to_vec(),
            dsp(Outcome::Ok, Followup::None),
        ),
        (r, ERR_AS, st::CHECK_CONDITION, sense_of(key::NO_SENSE, (0, 0)).to_vec(), dsp(Outcome::Ok, Followup::None)),
        (
            r,
            ERR_AS,
            st::CHECK_CONDITION,
            sense_of(key::VENDOR_SPECIFIC, (0, 0)).to_vec(),
            dsp(Outcome::IoError, Followup::None),
        ),
        (
            opcode::TEST_UNIT_READY,
            ERR_AS,
            st::CHECK_CONDITION,
            sense_of(key::VENDOR_SPECIFIC, (0, 0)).to_vec(),
            dsp(Outcome::Ok, Followup::None),
        ),
        (r, ERR_AS, st::CHECK_CONDITION, vec![0x71, 0, 3, 0, 0, 0, 0, 10], dsp(Outcome::Retry, Followup::None)),
        (r, ERR_AS, st::CHECK_CONDITION, vec![0x00, 0, 3], dsp(Outcome::IoError, Followup::None)),
        // No autosense: storvsc_handle_error's own decisions.
        (r, ss::ERROR, st::GOOD, vec![], dsp(Outcome::IoError, Followup::None)),
        (opcode::TEST_UNIT_READY, ss::ERROR, st::GOOD, vec![], dsp(Outcome::Ok, Followup::None)),
        (opcode::ATA_16, ss::ERROR, st::GOOD, vec![], dsp(Outcome::IoError, Followup::None)),
        (r, ss::TIMEOUT, st::GOOD, vec![], dsp(Outcome::Timeout, Followup::None)),
        (r, ss::SELECTION_TIMEOUT, st::GOOD, vec![], dsp(Outcome::Timeout, Followup::None)),
        (r, ss::BUS_RESET, st::GOOD, vec![], dsp(Outcome::Retry, Followup::None)),
        (r, ss::ABORTED | ss::QUEUE_FROZEN, st::GOOD, vec![], dsp(Outcome::Retry, Followup::None)),
        (r, ss::INVALID_REQUEST, st::GOOD, vec![], dsp(Outcome::IllegalRequest, Followup::None)),
        (r, ss::INTERNAL_ERROR, st::GOOD, vec![], dsp(Outcome::TargetFailure, Followup::None)),
        (r, ss::DATA_OVERRUN, st::GOOD, vec![], dsp(Outcome::IoError, Followup::None)),
        (r, ss::INVALID_LUN, st::GOOD, vec![], dsp(Outcome::NoDevice, Followup::RemoveLun)),
        (r, ss::INVALID_TARGET_ID, st::GOOD, vec![], dsp(Outcome::NoDevice, Followup::None)),
        (r, ss::NO_DEVICE, st::GOOD, vec![], dsp(Outcome::NoDevice, Followup::None)),
        (r, ss::BUSY, st::GOOD, vec![], dsp(Outcome::Retry, Followup::None)),
        (r, ss::PENDING, st::GOOD, vec![], dsp(Outcome::IoError, Followup::None)),
        (r, 0x3f, st::GOOD, vec![], dsp(Outcome::IoError, Followup::None)),
        // SCSI status with SRB success.
        (r, ss::SUCCESS, st::BUSY, vec![], dsp(Outcome::Retry, Followup::None)),
        (r, ss::SUCCESS, st::TASK_SET_FULL, vec![], dsp(Outcome::Retry, Followup::None)),
        (r, ss::SUCCESS, st::TASK_ABORTED, vec![], dsp(Outcome::Retry, Followup::None)),
        (r, ss::SUCCESS, st::RESERVATION_CONFLICT, vec![], dsp(Outcome::IoError, Followup::None)),
        (r, ss::SUCCESS, st::CHECK_CONDITION, vec![], dsp(Outcome::IoError, Followup::None)),
        (r, ss::SUCCESS, 0x7e, vec![], dsp(Outcome::IoError, Followup::None)),
    ];
    for (i, (op, s, sc, sense, want)) in cases.into_iter().enumerate() {
        assert_eq!(classify(op, s, sc, &sense), want, "case {i}: op {op:#x} srb {s:#x} scsi {sc:#x} sense {sense:x?}");
    }
}

#[test]
fn blk_status_mapping() {
    let table = [
        (Outcome::Ok, blk_status::OK),
        (Outcome::Retry, blk_status::IOERR),
        (Outcome::MediumError, blk_status::MEDIUM),
        (Outcome::TargetFailure, blk_status::TARGET),
        (Outcome::IllegalRequest, blk_status::TARGET),
        (Outcome::NotReady, blk_status::IOERR),
        (Outcome::Timeout, blk_status::TIMEOUT),
        (Outcome::NoDevice, blk_status::OFFLINE),
        (Outcome::IoError, blk_status::IOERR),
    ];
    for (o, b) in table {
        assert_eq!(o.blk_status(), b, "{}", o.as_str());
    }
}

#[test]
fn host_mishandles_cmd_like_storvsc() {
    for op in [opcode::INQUIRY, opcode::MODE_SENSE_6, opcode::MODE_SENSE_10] {
        assert!(srb::host_mishandles_cmd(op, false));
    }
    assert!(!srb::host_mishandles_cmd(opcode::MAINTENANCE_IN, false));
    assert!(srb::host_mishandles_cmd(opcode::PERSISTENT_RESERVE_IN, true));
    assert!(!srb::host_mishandles_cmd(opcode::READ_16, true));
}

/// Host result → SRB completion → guest disposition, for every version.
#[test]
fn host_results_reach_the_guest_as_intended() {
    let srb = SrbRequest::new(
        ScsiAddress::default(),
        &[opcode::READ_10, 0, 0, 0, 0, 0, 0, 0, 1, 0],
        DataDirection::Read,
        512,
        true,
    )
    .unwrap();
    let cases = [
        (ScsiResult::good(512), Outcome::Ok),
        (ScsiResult::check_condition(FixedSense::lba_out_of_range()), Outcome::IllegalRequest),
        (
            ScsiResult::check_condition(FixedSense::medium_error(asc::UNRECOVERED_READ_ERROR, Some(7))),
            Outcome::MediumError,
        ),
        (ScsiResult::check_condition(FixedSense::unit_attention(asc::CAPACITY_DATA_HAS_CHANGED)), Outcome::Retry),
        (ScsiResult::invalid_lun(), Outcome::NoDevice),
        (ScsiResult::busy(), Outcome::Retry),
        (ScsiResult::srb_error(ss::INTERNAL_ERROR), Outcome::TargetFailure),
    ];
    for v in ProtocolVersion::NEWEST_FIRST {
        let mut req = srb;
        req.sense_info_length = v.sense_buffer_size() as u8;
        for (r, want) in cases {
            let c = vstor::srb_completion(v, &req, &r);
            assert_eq!(c.disposition(req.opcode()).outcome, want, "{} {r:?}", v.name());
        }
    }
    // Sense without AUTOSENSE_VALID is not looked at.
    let mut c = vstor::srb_completion(
        ProtocolVersion::Win10,
        &srb,
        &ScsiResult::check_condition(FixedSense::lba_out_of_range()),
    );
    c.srb_status = ss::SUCCESS;
    assert!(c.sense_data().is_empty());
    assert_eq!(c.disposition(opcode::READ_10).outcome, Outcome::IoError);
}

proptest! {
    #[test]
    fn classify_never_panics(op in any::<u8>(), s in any::<u8>(), sc in any::<u8>(), sense in proptest::collection::vec(any::<u8>(), 0..24)) {
        let d = classify(op, s, sc, &sense);
        let _ = d.outcome.blk_status();
        let _ = ss::name(s);
    }
}
