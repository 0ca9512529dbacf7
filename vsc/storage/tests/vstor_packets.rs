//! VSTOR packets: per-version sizes (`vmscsi_size_delta`), golden bytes built by hand from the
//! C structs of `drivers/scsi/storvsc_drv.c`, validation of every length and field, and
//! round trips between the guest encoders and the host parsers (and back).
use proptest::prelude::*;
use vstor_proto::cdb;
use vstor_proto::sense::FixedSense;
use vstor_proto::srb::{scsi_status, srb_flags, srb_status, Outcome, ScsiResult};
use vstor_proto::vstor::*;

const ALL: [ProtocolVersion; 5] = ProtocolVersion::NEWEST_FIRST;

#[test]
fn version_table() {
    // (version, wire value, vm_srb size, packet size, size delta, sense buffer, multi-channel)
    let table = [
        (ProtocolVersion::Win6, 0x0200, 0x24, 48, 16, 0x12, false),
        (ProtocolVersion::Win7, 0x0402, 0x24, 48, 16, 0x12, false),
        (ProtocolVersion::Win8, 0x0501, 0x34, 64, 0, 0x14, true),
        (ProtocolVersion::Win8_1, 0x0600, 0x34, 64, 0, 0x14, true),
        (ProtocolVersion::Win10, 0x0602, 0x34, 64, 0, 0x14, true),
    ];
    for (v, mm, srb, pkt, delta, sense, mc) in table {
        assert_eq!(v.major_minor(), mm, "{}", v.name());
        assert_eq!(ProtocolVersion::from_major_minor(mm), Some(v));
        assert_eq!(v.srb_size(), srb, "{}", v.name());
        assert_eq!(v.packet_size(), pkt, "{}", v.name());
        assert_eq!(v.size_delta(), delta, "{}", v.name());
        assert_eq!(v.sense_buffer_size(), sense, "{}", v.name());
        assert_eq!(v.multi_channel_allowed(), mc, "{}", v.name());
        assert_eq!(v.has_win8_extension(), mc);
    }
    assert!(!ProtocolVersion::Win6.enumerate_bus_allowed());
    assert!(ProtocolVersion::Win7.enumerate_bus_allowed());
    for bad in [0u16, 0x0100, 0x0401, 0x0601, 0x0603, 0x0700, 0xffff] {
        assert_eq!(ProtocolVersion::from_major_minor(bad), None, "{bad:#x}");
    }
}

#[test]
fn guest_tries_newest_first() {
    let w: Vec<u16> = ALL.iter().map(|v| v.major_minor()).collect();
    assert!(w.windows(2).all(|p| p[0] > p[1]), "{w:x?}");
    assert!(ALL.windows(2).all(|p| p[0] > p[1]));
    assert_eq!(ProtocolVersion::LINUX_ORDER, [ProtocolVersion::Win10, ProtocolVersion::Win8_1]);
}

#[test]
fn version_set() {
    let s = VersionSet::from_version(ProtocolVersion::Win8);
    assert!(
        !s.contains(ProtocolVersion::Win7) && s.contains(ProtocolVersion::Win8) && s.contains(ProtocolVersion::Win10)
    );
    assert!(ALL.iter().all(|v| VersionSet::ALL.contains(*v) && !VersionSet::EMPTY.contains(*v)));
    let only = VersionSet::of(&[ProtocolVersion::Win7]);
    assert_eq!(ALL.iter().filter(|v| only.contains(**v)).count(), 1);
}

fn read_srb() -> SrbRequest {
    let addr = ScsiAddress { port_number: 2, path_id: 0, target_id: 1, lun: 3 };
    let c = cdb::read_10(0x1234_5678, 8, false);
    SrbRequest::new(addr, c.as_bytes(), DataDirection::Read, 4096, true).unwrap()
}

/// `vstor_packet` with `vm_srb` for a tagged READ(10) on a WIN10 host, byte by byte.
#[test]
fn golden_execute_srb_win10() {
    let mut buf = [0xaau8; 80];
    let n = encode_execute_srb(&mut buf, ProtocolVersion::Win10, &read_srb()).unwrap();
    assert_eq!(n, 64);
    let mut want = [0u8; 64];
    want[0] = 3; // VSTOR_OPERATION_EXECUTE_SRB
    want[4] = 1; // REQUEST_COMPLETION_FLAG
    want[12] = 0x34; // vm_srb.length = sizeof(struct vmscsi_request)
    want[16] = 2; // port_number
    want[18] = 1; // target_id
    want[19] = 3; // lun
    want[20] = 10; // cdb_length
    want[21] = 0x14; // sense_info_length = STORVSC_SENSE_BUFFER_SIZE
    want[22] = 1; // data_in = READ_TYPE
    want[24..28].copy_from_slice(&4096u32.to_le_bytes());
    want[28..38].copy_from_slice(&[0x28, 0, 0x12, 0x34, 0x56, 0x78, 0, 0, 8, 0]);
    want[50] = 0xff; // queue_tag = SP_UNTAGGED
    want[51] = 0x20; // queue_action = SRB_SIMPLE_TAG_REQUEST
    let flags = srb_flags::DISABLE_SYNCH_TRANSFER
        | srb_flags::DATA_IN
        | srb_flags::QUEUE_ACTION_ENABLE
        | srb_flags::NO_QUEUE_FREEZE;
    assert_eq!(flags, 0x14a);
    want[52..56].copy_from_slice(&flags.to_le_bytes());
    want[56] = 60; // time_out_value
    assert_eq!(&buf[..64], &want[..]);
    assert_eq!(&buf[64..], &[0xaa; 16], "nothing written past the packet");
}

/// The same request to a WIN7 host: the vmscsi_size_delta rule drops the Win8 extension and
/// the sense buffer shrinks to 0x12.
#[test]
fn golden_execute_srb_win7() {
    let mut buf = [0xaau8; 64];
    let n = encode_execute_srb(&mut buf, ProtocolVersion::Win7, &read_srb()).unwrap();
    assert_eq!(n, 48);
    let mut want = [0u8; 48];
    want[0] = 3;
    want[4] = 1;
    want[12] = 0x24;
    want[16] = 2;
    want[18] = 1;
    want[19] = 3;
    want[20] = 10;
    want[21] = 0x12;
    want[22] = 1;
    want[24..28].copy_from_slice(&4096u32.to_le_bytes());
    want[28..38].copy_from_slice(&[0x28, 0, 0x12, 0x34, 0x56, 0x78, 0, 0, 8, 0]);
    assert_eq!(&buf[..48], &want[..]);
    assert_eq!(&buf[48..], &[0xaa; 16]);
}

#[test]
fn host_parses_what_the_guest_sends() {
    for v in ALL {
        let mut buf = [0u8; 64];
        let n = encode_execute_srb(&mut buf, v, &read_srb()).unwrap();
        let req = parse_request(&buf[..n], Some(v)).unwrap();
        assert_eq!(req.flags, REQUEST_COMPLETION_FLAG);
        let RequestBody::ExecuteSrb(srb) = req.body else { panic!("{req:?}") };
        let mut want = read_srb();
        want.sense_info_length = v.sense_buffer_size() as u8;
        if !v.has_win8_extension() {
            (want.srb_flags, want.queue_tag, want.queue_action, want.time_out_value) = (0, 0, 0, 0);
        }
        assert_eq!(srb, want, "{}", v.name());
        assert_eq!(srb.cdb(), cdb::read_10(0x1234_5678, 8, false).as_bytes());
        assert_eq!(srb.opcode(), cdb::opcode::READ_10);
    }
}

#[test]
fn win8_srb_parsed_as_pre_win8_is_accepted_and_the_extension_ignored() {
    // A host that negotiated WIN7 receiving a full-size packet (length field 0x34).
    let mut buf = [0u8; 64];
    encode_execute_srb(&mut buf, ProtocolVersion::Win10, &read_srb()).unwrap();
    buf[21] = 0x12;
    let req = parse_request(&buf, Some(ProtocolVersion::Win7)).unwrap();
    let RequestBody::ExecuteSrb(srb) = req.body else { panic!() };
    assert_eq!(srb.srb_flags, 0);
}

fn srb_packet(v: ProtocolVersion) -> [u8; 64] {
    let mut buf = [0u8; 64];
    encode_execute_srb(&mut buf, v, &read_srb()).unwrap();
    buf
}

#[test]
fn srb_validation() {
    let v = ProtocolVersion::Win10;
    let check = |patch: &dyn Fn(&mut [u8; 64]), want: VstorError| {
        let mut p = srb_packet(v);
        patch(&mut p);
        assert_eq!(parse_request(&p, Some(v)), Err(want));
    };
    check(&|p| p[20] = 0, VstorError::CdbLength(0));
    check(&|p| p[20] = 17, VstorError::CdbLength(17));
    check(&|p| p[21] = 0x15, VstorError::SenseInfoLength(0x15));
    check(&|p| p[22] = 3, VstorError::DataDirection(3));
    check(&|p| p[22] = 2, VstorError::TransferWithoutDirection(4096));
    check(&|p| p[12] = 0x24, VstorError::SrbLength(0x24));
    check(&|p| p[12] = 0x35, VstorError::SrbLength(0x35));
    check(&|p| p[13] = 1, VstorError::SrbLength(0x134));
    // Pre-Win8: 0x13 sense bytes are too many, the 0x24-byte SRB is fine.
    let w7 = ProtocolVersion::Win7;
    let mut p = srb_packet(w7);
    assert!(parse_request(&p[..48], Some(w7)).is_ok());
    p[21] = 0x13;
    assert_eq!(parse_request(&p[..48], Some(w7)), Err(VstorError::SenseInfoLength(0x13)));
    p[21] = 0x12;
    p[12] = 0x23;
    assert_eq!(parse_request(&p[..48], Some(w7)), Err(VstorError::SrbLength(0x23)));
}

#[test]
fn srb_packet_length_is_checked_against_the_version() {
    let p = srb_packet(ProtocolVersion::Win10);
    assert_eq!(parse_request(&p[..48], Some(ProtocolVersion::Win10)), Err(VstorError::TooShort { need: 64, got: 48 }));
    assert_eq!(parse_request(&p[..63], Some(ProtocolVersion::Win8)), Err(VstorError::TooShort { need: 64, got: 63 }));
    assert_eq!(parse_request(&p[..47], Some(ProtocolVersion::Win7)), Err(VstorError::TooShort { need: 48, got: 47 }));
    assert!(parse_request(&p[..48], Some(ProtocolVersion::Win6)).is_err(), "length field 0x34 but sense 0x14 > 0x12");
    assert_eq!(parse_request(&p[..11], None), Err(VstorError::TooShort { need: 12, got: 11 }));
    // Longer than needed is fine (VMBus pads packets to 8 bytes).
    let mut long = [0u8; 72];
    long[..64].copy_from_slice(&p);
    assert!(parse_request(&long, Some(ProtocolVersion::Win10)).is_ok());
}

#[test]
fn operations_from_the_wrong_side_are_refused() {
    let mut p = [0u8; 64];
    for op in [0u32, 14, 0xffff_ffff] {
        p[..4].copy_from_slice(&op.to_le_bytes());
        assert_eq!(parse_request(&p, None), Err(VstorError::UnknownOperation(op)));
        assert_eq!(parse_completion(&p, Expect::Status), Err(VstorError::UnknownOperation(op)));
    }
    for op in [Operation::CompleteIo, Operation::RemoveDevice, Operation::EnumerateBus] {
        p[..4].copy_from_slice(&op.as_u32().to_le_bytes());
        assert_eq!(parse_request(&p, None), Err(VstorError::UnexpectedOperation(op)));
    }
    p[..4].copy_from_slice(&Operation::EndInitialization.as_u32().to_le_bytes());
    assert_eq!(
        parse_completion(&p, Expect::Status),
        Err(VstorError::UnexpectedOperation(Operation::EndInitialization))
    );
}

#[test]
fn golden_initialization_requests() {
    let mut buf = [0xaau8; 64];
    let n = encode_request(&mut buf, None, &RequestBody::BeginInitialization).unwrap();
    assert_eq!(n, 64, "full-size before the version is known, as current Linux");
    let mut want = [0u8; 64];
    want[0] = 7;
    want[4] = 1;
    assert_eq!(buf, want);

    let q = RequestBody::QueryProtocolVersion { major_minor: VERSION_WIN10, revision: 0 };
    encode_request(&mut buf, None, &q).unwrap();
    want[0] = 9;
    want[12..14].copy_from_slice(&[0x02, 0x06]);
    assert_eq!(buf, want);
    assert_eq!(parse_request(&buf, None).unwrap().body, q);

    let n = encode_request(&mut buf, Some(ProtocolVersion::Win7), &RequestBody::CreateSubChannels(3)).unwrap();
    assert_eq!(n, 48);
    assert_eq!(&buf[..16], &[13, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0]);
    assert_eq!(parse_request(&buf[..n], Some(ProtocolVersion::Win7)).unwrap().body, RequestBody::CreateSubChannels(3));

    encode_request(&mut buf, Some(ProtocolVersion::Win10), &RequestBody::ResetBus { path_id: 5 }).unwrap();
    assert_eq!(
        &buf[..18],
        &[6, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5],
        "vm_srb.path_id at payload offset 5"
    );
    assert_eq!(parse_request(&buf, None).unwrap().body, RequestBody::ResetBus { path_id: 5 });

    for body in [
        RequestBody::EndInitialization,
        RequestBody::QueryProperties,
        RequestBody::ResetLun,
        RequestBody::ResetAdapter,
        RequestBody::FcHbaData,
    ] {
        let n = encode_request(&mut buf, Some(ProtocolVersion::Win8), &body).unwrap();
        assert!(buf[4..n].iter().skip(8).all(|b| *b == 0));
        assert_eq!(parse_request(&buf[..n], Some(ProtocolVersion::Win8)).unwrap().body, body);
    }
}

#[test]
fn short_init_payloads_are_refused() {
    let mut p = [0u8; 18];
    p[0] = 9;
    assert_eq!(parse_request(&p[..15], None), Err(VstorError::TooShort { need: 16, got: 15 }));
    p[0] = 13;
    assert_eq!(parse_request(&p[..13], None), Err(VstorError::TooShort { need: 14, got: 13 }));
    p[0] = 6;
    assert_eq!(parse_request(&p[..17], None), Err(VstorError::TooShort { need: 18, got: 17 }));
    p[0] = 7;
    assert!(parse_request(&p[..12], None).is_ok(), "BEGIN_INITIALIZATION needs only the header");
}

/// The `QUERY_PROPERTIES` answer: `vmstorage_channel_properties` at payload offset 0.
#[test]
fn golden_properties_completion() {
    let props = ChannelProperties {
        max_channel_count: 7,
        flags: STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL,
        max_transfer_bytes: 0x40000,
    };
    let mut buf = [0xaau8; 64];
    encode_completion(&mut buf, 64, nt_status::SUCCESS, &CompletionBody::Properties(props)).unwrap();
    let mut want = [0u8; 64];
    want[0] = 1;
    want[16..18].copy_from_slice(&[7, 0]);
    want[20] = 1;
    want[24..28].copy_from_slice(&[0, 0, 4, 0]);
    assert_eq!(buf, want);
    let c = parse_completion(&buf, Expect::Properties).unwrap();
    assert!(c.ok());
    assert_eq!(c.body, CompletionBody::Properties(props));
    assert_eq!(parse_completion(&buf[..35], Expect::Properties), Err(VstorError::TooShort { need: 36, got: 35 }));
}

#[test]
fn version_and_wwn_completions() {
    let mut buf = [0u8; 64];
    let body = CompletionBody::Version { major_minor: VERSION_WIN8_1, revision: 7 };
    encode_completion(&mut buf, 48, nt_status::REVISION_MISMATCH, &body).unwrap();
    assert_eq!(&buf[8..16], &[0x59, 0, 0, 0xc0, 0, 6, 7, 0]);
    let c = parse_completion(&buf[..48], Expect::Version).unwrap();
    assert!(!c.ok());
    assert_eq!(c.body, body);

    let wwn = HvFcWwnPacket {
        primary_active: 0,
        reserved1: [0; 3],
        primary_port_wwn: [1; 8],
        primary_node_wwn: [2; 8],
        secondary_port_wwn: [0x10, 0, 0, 0, 0, 0, 0, 3],
        secondary_node_wwn: [0x20, 0, 0, 0, 0, 0, 0, 4],
    };
    encode_completion(&mut buf, 64, 0, &CompletionBody::FcWwn(wwn)).unwrap();
    let CompletionBody::FcWwn(got) = parse_completion(&buf, Expect::FcWwn).unwrap().body else { panic!() };
    assert_eq!(got, wwn);
    assert_eq!(got.active_names(), (0x2000_0000_0000_0004, 0x1000_0000_0000_0003));
    assert_eq!(
        HvFcWwnPacket { primary_active: 1, ..wwn }.active_names(),
        (0x0202_0202_0202_0202, 0x0101_0101_0101_0101)
    );
}

/// A CHECK CONDITION completion on a WIN10 host, byte by byte, and how the guest reads it.
#[test]
fn golden_srb_check_condition_completion() {
    let req = read_srb();
    let sense = FixedSense::invalid_field_in_cdb(2, None);
    let mut buf = [0xaau8; 64];
    let n =
        encode_srb_completion(&mut buf, 64, ProtocolVersion::Win10, &req, &ScsiResult::check_condition(sense)).unwrap();
    assert_eq!(n, 64);
    let mut want = [0u8; 64];
    want[0] = 1; // COMPLETE_IO
    want[8..12].copy_from_slice(&nt_status::IO_DEVICE_ERROR.to_le_bytes());
    want[12] = 0x34;
    want[14] = 0x84; // SRB_STATUS_ERROR | SRB_STATUS_AUTOSENSE_VALID
    want[15] = 0x02; // CHECK CONDITION
    want[20] = 16;
    want[21] = 18; // sense_info_length
    want[28..46].copy_from_slice(sense.as_bytes());
    assert_eq!(buf, want);

    let c = parse_completion(&buf, Expect::Srb(ProtocolVersion::Win10)).unwrap();
    let CompletionBody::Srb(s) = c.body else { panic!() };
    assert_eq!(s.sense_data(), sense.as_bytes());
    assert_eq!(s.transferred(4096), 0);
    let d = s.disposition(req.opcode());
    assert_eq!(d.outcome, Outcome::IllegalRequest);
}

#[test]
fn sense_is_cut_to_what_the_guest_offered_and_the_version_carries() {
    let sense = FixedSense::lba_out_of_range();
    let mut req = read_srb();
    req.sense_info_length = 8;
    let c = srb_completion(ProtocolVersion::Win10, &req, &ScsiResult::check_condition(sense));
    assert_eq!(c.sense_len, 8);
    assert_eq!(c.sense_data(), &sense.as_bytes()[..8]);
    req.sense_info_length = 0;
    let c = srb_completion(ProtocolVersion::Win10, &req, &ScsiResult::check_condition(sense));
    assert_eq!(c.srb_status, srb_status::ERROR, "no sense returned: no AUTOSENSE_VALID");
    assert!(c.sense_data().is_empty());
    // WIN7: 18 bytes travel in a 48-byte packet.
    req.sense_info_length = 0x12;
    let mut buf = [0u8; 48];
    encode_srb_completion(&mut buf, 48, ProtocolVersion::Win7, &req, &ScsiResult::check_condition(sense)).unwrap();
    let CompletionBody::Srb(s) = parse_completion(&buf, Expect::Srb(ProtocolVersion::Win7)).unwrap().body else {
        panic!()
    };
    assert_eq!(s.sense_data(), sense.as_bytes());
}

#[test]
fn guest_caps_a_bad_sense_length_like_linux() {
    let mut buf = [0u8; 64];
    let ok = ScsiResult {
        srb_status: srb_status::ERROR,
        scsi_status: scsi_status::CHECK_CONDITION,
        sense: Some(FixedSense::lba_out_of_range()),
        transferred: 0,
    };
    encode_srb_completion(&mut buf, 64, ProtocolVersion::Win10, &read_srb(), &ok).unwrap();
    buf[21] = 0xff;
    let CompletionBody::Srb(s) = parse_completion(&buf, Expect::Srb(ProtocolVersion::Win10)).unwrap().body else {
        panic!()
    };
    assert_eq!(s.sense_len, 0x14);
    let CompletionBody::Srb(s) = parse_completion(&buf[..48], Expect::Srb(ProtocolVersion::Win7)).unwrap().body else {
        panic!()
    };
    assert_eq!(s.sense_len, 0x12);
    assert_eq!(
        parse_completion(&buf[..63], Expect::Srb(ProtocolVersion::Win10)),
        Err(VstorError::TooShort { need: 64, got: 63 })
    );
}

#[test]
fn transferred_follows_storvsc_command_completion() {
    let mut c = srb_completion(ProtocolVersion::Win10, &read_srb(), &ScsiResult::good(4096));
    assert_eq!(c.transferred(4096), 4096);
    assert_eq!(c.transferred(512), 512, "clamped to the request");
    c.data_transfer_length = 100;
    c.srb_status = srb_status::DATA_OVERRUN;
    assert_eq!(c.transferred(4096), 100);
    c.srb_status = srb_status::ERROR | srb_status::AUTOSENSE_VALID;
    assert_eq!(c.transferred(4096), 0);
    // The host never reports more than asked for.
    assert_eq!(
        srb_completion(ProtocolVersion::Win10, &read_srb(), &ScsiResult::good(1 << 20)).data_transfer_length,
        4096
    );
}

#[test]
fn unsolicited_messages() {
    let mut buf = [0u8; 64];
    for n in [Notification::RemoveDevice, Notification::EnumerateBus] {
        encode_notification(&mut buf, 64, n).unwrap();
        assert_eq!(parse_unsolicited(&buf), Ok(n));
        assert_eq!(parse_unsolicited(&buf[..4]), Ok(n), "only the operation is required");
    }
    assert_eq!(buf[0], 11);
    buf[0] = 1;
    assert_eq!(parse_unsolicited(&buf), Err(VstorError::UnsolicitedNotAllowed(Operation::CompleteIo)));
    buf[0] = 12;
    assert_eq!(parse_unsolicited(&buf), Err(VstorError::UnsolicitedNotAllowed(Operation::FcHbaData)));
    buf[0] = 3;
    assert_eq!(parse_unsolicited(&buf), Err(VstorError::UnexpectedOperation(Operation::ExecuteSrb)));
    assert_eq!(parse_unsolicited(&buf[..3]), Err(VstorError::TooShort { need: 4, got: 3 }));
}

#[test]
fn encoder_errors() {
    let mut small = [0u8; 63];
    assert_eq!(
        encode_request(&mut small, None, &RequestBody::BeginInitialization),
        Err(VstorError::BufferTooSmall { need: 64, got: 63 })
    );
    let mut buf = [0u8; 80];
    assert_eq!(encode_packet(&mut buf, 47, Operation::CompleteIo, 0, 0, &[]), Err(VstorError::WireLength(47)));
    assert_eq!(encode_packet(&mut buf, 65, Operation::CompleteIo, 0, 0, &[]), Err(VstorError::WireLength(65)));
    assert_eq!(encode_packet(&mut buf, 48, Operation::CompleteIo, 0, 0, &[1; 37]), Err(VstorError::WireLength(48)));
    assert_eq!(
        encode_request(&mut buf, None, &RequestBody::ExecuteSrb(read_srb())),
        Err(VstorError::UnexpectedOperation(Operation::ExecuteSrb))
    );
    let addr = ScsiAddress::default();
    assert_eq!(SrbRequest::new(addr, &[], DataDirection::None, 0, false), Err(VstorError::CdbLength(0)));
    assert_eq!(SrbRequest::new(addr, &[0; 17], DataDirection::None, 0, false), Err(VstorError::CdbLength(17)));
    assert_eq!(
        SrbRequest::new(addr, &[0; 6], DataDirection::None, 1, false),
        Err(VstorError::TransferWithoutDirection(1))
    );
    for e in [VstorError::WireLength(1), VstorError::CdbLength(0), VstorError::UnknownOperation(9)] {
        assert!(!e.as_str().is_empty());
        assert_eq!(e.to_string(), e.as_str());
    }
}

#[test]
fn reply_len_echoes_the_request() {
    assert_eq!(reply_len(64), 64);
    assert_eq!(reply_len(48), 48);
    assert_eq!(reply_len(12), 48);
    assert_eq!(reply_len(72), 64);
    assert_eq!(wire_len(None), 64);
    assert_eq!(wire_len(Some(ProtocolVersion::Win6)), 48);
}

#[test]
fn untagged_no_data_request() {
    let s = SrbRequest::new(ScsiAddress::default(), cdb::test_unit_ready().as_bytes(), DataDirection::None, 0, false)
        .unwrap();
    assert_eq!(s.srb_flags, srb_flags::DISABLE_SYNCH_TRANSFER);
    assert_eq!((s.queue_tag, s.queue_action), (0, 0));
    let mut buf = [0u8; 64];
    encode_execute_srb(&mut buf, ProtocolVersion::Win8_1, &s).unwrap();
    assert_eq!(buf[22], 2, "UNKNOWN_TYPE");
    let w =
        SrbRequest::new(ScsiAddress::default(), cdb::write_10(0, 1, true).as_bytes(), DataDirection::Write, 512, false)
            .unwrap();
    assert_eq!(w.srb_flags, srb_flags::DISABLE_SYNCH_TRANSFER | srb_flags::DATA_OUT);
}

#[test]
fn check_transfer() {
    let s = read_srb();
    assert_eq!(s.check_transfer(4096, 0x40000), Ok(()));
    assert_eq!(s.check_transfer(4095, 0x40000), Err(VstorError::TransferExceedsBuffer { length: 4096, buffer: 4095 }));
    assert_eq!(s.check_transfer(8192, 2048), Err(VstorError::TransferTooLarge { length: 4096, max: 2048 }));
}

#[test]
fn channel_properties_as_linux_uses_them() {
    let p = ChannelProperties {
        max_channel_count: 8,
        flags: STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL,
        max_transfer_bytes: 0x40001,
    };
    assert_eq!(p.max_transfer_aligned(), 0x40000);
    assert_eq!(p.max_sectors(), 512);
    assert_eq!(p.max_segments(), 65);
    assert_eq!(p.sub_channels_to_request(ProtocolVersion::Win10, 4), 3);
    assert_eq!(p.sub_channels_to_request(ProtocolVersion::Win10, 64), 8);
    assert_eq!(p.sub_channels_to_request(ProtocolVersion::Win10, 1), 0);
    assert_eq!(p.sub_channels_to_request(ProtocolVersion::Win10, 0), 0);
    assert_eq!(p.sub_channels_to_request(ProtocolVersion::Win7, 4), 0);
    let no_mc = ChannelProperties { flags: 0, ..p };
    assert_eq!(no_mc.sub_channels_to_request(ProtocolVersion::Win10, 4), 0);
    assert_eq!(ChannelProperties::from_wire(&p.to_wire()), p);
}

fn any_srb() -> impl Strategy<Value = (ScsiAddress, Vec<u8>, u8, u32, bool)> {
    (any::<[u8; 4]>(), proptest::collection::vec(any::<u8>(), 1..=16), 0u8..3, any::<u32>(), any::<bool>()).prop_map(
        |(a, cdb, dir, len, tagged)| {
            let addr = ScsiAddress { port_number: a[0], path_id: a[1], target_id: a[2], lun: a[3] };
            let len = if dir == 2 { 0 } else { len };
            (addr, cdb, dir, len, tagged)
        },
    )
}

proptest! {
    #[test]
    fn srb_round_trip_every_version((addr, cdb, dir, len, tagged) in any_srb(), vi in 0usize..5) {
        let v = ALL[vi];
        let dir = DataDirection::from_u8(dir).unwrap();
        let srb = SrbRequest::new(addr, &cdb, dir, len, tagged).unwrap();
        let mut buf = [0x55u8; 64];
        let n = encode_execute_srb(&mut buf, v, &srb).unwrap();
        prop_assert_eq!(n, v.packet_size());
        prop_assert_eq!(buf[23], 0, "reserved byte zero");
        prop_assert!(buf[12 + 16 + cdb.len()..12 + 36].iter().all(|b| *b == 0), "CDB padding zero");
        let RequestBody::ExecuteSrb(got) = parse_request(&buf[..n], Some(v)).unwrap().body else { panic!() };
        prop_assert_eq!(got.cdb(), &cdb[..]);
        prop_assert_eq!(got.addr, addr);
        prop_assert_eq!(got.direction, dir);
        prop_assert_eq!(got.data_transfer_length, len);
        prop_assert_eq!(usize::from(got.sense_info_length), v.sense_buffer_size());
    }

    #[test]
    fn completion_round_trip(srb in any::<u8>(), scsi in any::<u8>(), sense in proptest::collection::vec(any::<u8>(), 18),
                             xfer in any::<u32>(), vi in 0usize..5) {
        let v = ALL[vi];
        let mut s = [0u8; 18];
        s.copy_from_slice(&sense);
        s[0] = 0x70;
        s[7] = 10;
        let fixed = vstor_proto::sense::decode(&s).map(|d| FixedSense::new(d.key, (d.asc, d.ascq))).unwrap();
        let result = ScsiResult { srb_status: srb & 0x3f, scsi_status: scsi, sense: Some(fixed), transferred: xfer };
        let mut req = read_srb();
        req.sense_info_length = v.sense_buffer_size() as u8;
        let mut buf = [0u8; 64];
        let n = encode_srb_completion(&mut buf, v.packet_size(), v, &req, &result).unwrap();
        let c = parse_completion(&buf[..n], Expect::Srb(v)).unwrap();
        let CompletionBody::Srb(got) = c.body else { panic!() };
        prop_assert_eq!(got, srb_completion(v, &req, &result));
        prop_assert_eq!(c.status, nt_status::for_srb_status(got.srb_status));
        prop_assert!(got.data_transfer_length <= req.data_transfer_length);
    }

    #[test]
    fn arbitrary_packets_never_panic(p in proptest::collection::vec(any::<u8>(), 0..80), vi in 0usize..6) {
        let v = ALL.get(vi).copied();
        let _ = parse_request(&p, v);
        let _ = parse_unsolicited(&p);
        for e in [Expect::Status, Expect::Version, Expect::Properties, Expect::FcWwn, Expect::Srb(v.unwrap_or(ProtocolVersion::Win10))] {
            if let Ok(c) = parse_completion(&p, e) {
                if let CompletionBody::Srb(s) = c.body {
                    let _ = s.sense_data();
                    let _ = s.transferred(4096);
                    let _ = s.disposition(p.first().copied().unwrap_or(0));
                }
            }
        }
    }

    #[test]
    fn parsed_requests_re_encode_identically(p in proptest::collection::vec(any::<u8>(), 12..72), vi in 0usize..5) {
        let v = ALL[vi];
        if let Ok(r) = parse_request(&p, Some(v)) {
            let mut buf = [0u8; 64];
            let n = encode_request(&mut buf, Some(v), &r.body).unwrap();
            prop_assert_eq!(parse_request(&buf[..n], Some(v)).unwrap().body, r.body);
        }
    }
}
