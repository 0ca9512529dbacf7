//! RNDIS control messages: golden bytes from the [MS-RNDIS] message layouts (the message
//! names below are the section titles of [MS-RNDIS] 2.2, "Message Syntax") and the
//! `hyperv_net.h` structs, builder → parser round trips in both directions, status
//! indications, each validation error and batches.
use netvsc_proto::oid;
use netvsc_proto::rndis::*;
use proptest::prelude::*;

fn words(w: &[u32]) -> Vec<u8> {
    w.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn build(f: impl FnOnce(&mut [u8]) -> Result<usize, RndisError>) -> Vec<u8> {
    let mut buf = vec![0xa5u8; 512];
    let n = f(&mut buf).unwrap();
    buf.truncate(n);
    buf
}

fn parsed(b: &[u8]) -> RndisMessage<'_> {
    let (m, len) = RndisMessage::parse(b).unwrap();
    assert_eq!(len, b.len());
    m
}

#[test]
fn golden_requests() {
    // REMOTE_NDIS_INITIALIZE_MSG: type 2, length 24, RequestId, 1.0, MaxTransferSize.
    assert_eq!(build(|b| build_init(b, 1, LINUX_MAX_XFER_SIZE)), words(&[2, 24, 1, 1, 0, 0x4000]));
    // REMOTE_NDIS_HALT_MSG: type 3, length 12.
    assert_eq!(build(|b| build_halt(b, 9)), words(&[3, 12, 9]));
    // REMOTE_NDIS_QUERY_MSG: type 4, 28 + input; offset 20 from RequestId even when empty.
    assert_eq!(build(|b| build_query(b, 2, oid::RNDIS_OID_802_3_PERMANENT_ADDRESS, &[])), words(&[4, 28, 2, 0x0101_0101, 0, 20, 0]));
    assert_eq!(
        build(|b| build_query(b, 3, oid::RNDIS_OID_GEN_LINK_SPEED, &[1, 2, 3, 4])),
        [words(&[4, 32, 3, 0x0001_0107, 4, 20, 0]), vec![1, 2, 3, 4]].concat()
    );
    // REMOTE_NDIS_SET_MSG: rndis_filter_set_packet_filter().
    assert_eq!(
        build(|b| build_set(b, 4, oid::RNDIS_OID_GEN_CURRENT_PACKET_FILTER, &oid::LINUX_OPEN_PACKET_FILTER.to_le_bytes())),
        words(&[5, 32, 4, 0x0001_010E, 4, 20, 0, 0x0d])
    );
    // REMOTE_NDIS_RESET_MSG and REMOTE_NDIS_KEEPALIVE_MSG.
    assert_eq!(build(build_reset), words(&[6, 12, 0]));
    assert_eq!(build(|b| build_keepalive(b, 5)), words(&[8, 12, 5]));
}

#[test]
fn golden_completions() {
    // REMOTE_NDIS_INITIALIZE_CMPLT: 52 bytes.
    let c = RndisInitializeComplete {
        req_id: 1,
        status: 0,
        major_ver: 1,
        minor_ver: 0,
        dev_flags: RNDIS_DF_CONNECTIONLESS,
        medium: RNDIS_MEDIUM_802_3,
        max_pkt_per_msg: 8,
        max_xfer_size: 0x4000,
        pkt_alignment_factor: 3,
        af_list_offset: 0,
        af_list_size: 0,
    };
    assert_eq!(build(|b| build_init_complete(b, &c)), words(&[0x8000_0002, 52, 1, 0, 1, 0, 1, 0, 8, 0x4000, 3, 0, 0]));
    assert_eq!(c.pkt_align(), Ok(8));
    // REMOTE_NDIS_QUERY_CMPLT: offset 16 from RequestId.
    let mac = [0, 0x15, 0x5d, 1, 2, 3];
    assert_eq!(build(|b| build_query_complete(b, 2, 0, &mac)), [words(&[0x8000_0004, 30, 2, 0, 6, 16]), mac.to_vec()].concat());
    assert_eq!(build(|b| build_query_complete(b, 2, RNDIS_STATUS_NOT_SUPPORTED, &[])), words(&[0x8000_0004, 24, 2, 0xC000_00BB, 0, 16]));
    // REMOTE_NDIS_SET_CMPLT, RESET_CMPLT, KEEPALIVE_CMPLT.
    assert_eq!(build(|b| build_set_complete(b, 4, 0)), words(&[0x8000_0005, 16, 4, 0]));
    assert_eq!(build(|b| build_reset_complete(b, 0, true)), words(&[0x8000_0006, 16, 0, 1]));
    assert_eq!(build(|b| build_keepalive_complete(b, 5, 0)), words(&[0x8000_0008, 16, 5, 0]));
    // REMOTE_NDIS_INDICATE_STATUS_MSG: no buffer (offset 0), and a link speed (offset 12).
    assert_eq!(build(|b| build_indicate_status(b, RNDIS_STATUS_MEDIA_CONNECT, &[])), words(&[7, 20, 0x4001_000B, 0, 0]));
    assert_eq!(build(|b| build_link_speed_indication(b, 100_000_000)), words(&[7, 24, 0x4001_0013, 4, 12, 100_000_000]));
}

#[test]
fn round_trips() {
    let info: Vec<u8> = (0..40).collect();
    let msgs: Vec<Vec<u8>> = vec![
        build(|b| build_init(b, 1, 0x4000)),
        build(|b| build_init_complete(b, &RndisInitializeComplete { req_id: 7, max_pkt_per_msg: 8, ..Default::default() })),
        build(|b| build_halt(b, 2)),
        build(|b| build_query(b, 3, oid::OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES, &info)),
        build(|b| build_query_complete(b, 3, 0, &info[..18])),
        build(|b| build_set(b, 4, oid::OID_GEN_RECEIVE_SCALE_PARAMETERS, &info)),
        build(|b| build_set_complete(b, 4, RNDIS_STATUS_INVALID_DATA)),
        build(build_reset),
        build(|b| build_reset_complete(b, 0, false)),
        build(|b| build_indicate_status(b, RNDIS_STATUS_NETWORK_CHANGE, &info[..8])),
        build(|b| build_keepalive(b, 5)),
        build(|b| build_keepalive_complete(b, 5, 0)),
    ];
    let types = [
        RNDIS_MSG_INIT,
        RNDIS_MSG_INIT_C,
        RNDIS_MSG_HALT,
        RNDIS_MSG_QUERY,
        RNDIS_MSG_QUERY_C,
        RNDIS_MSG_SET,
        RNDIS_MSG_SET_C,
        RNDIS_MSG_RESET,
        RNDIS_MSG_RESET_C,
        RNDIS_MSG_INDICATE,
        RNDIS_MSG_KEEPALIVE,
        RNDIS_MSG_KEEPALIVE_C,
    ];
    for (wire, t) in msgs.iter().zip(types) {
        let m = parsed(wire);
        assert_eq!(m.msg_type(), t);
        // Canonical re-encoding reproduces the builder's bytes exactly.
        assert_eq!(&build(|b| m.encode(b)), wire, "type {t:#x}");
    }
    match parsed(&msgs[3]) {
        RndisMessage::Query(q) => assert_eq!((q.req.oid, q.info), (oid::OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES, &info[..])),
        m => panic!("{m:?}"),
    }
    match parsed(&msgs[4]) {
        RndisMessage::QueryComplete(q) => assert_eq!(q.info, &info[..18]),
        m => panic!("{m:?}"),
    }
    assert_eq!(parsed(&msgs[1]).request_id(), Some(7));
    assert_eq!(parsed(&msgs[7]).request_id(), None);
    assert_eq!(parsed(&msgs[9]).request_id(), None);
}

#[test]
fn status_indications() {
    let ev = |b: &[u8]| match parsed(b) {
        RndisMessage::IndicateStatus(s) => s.event(),
        m => panic!("{m:?}"),
    };
    assert_eq!(ev(&build(|b| build_indicate_status(b, RNDIS_STATUS_MEDIA_CONNECT, &[]))), Ok(StatusEvent::MediaConnect));
    assert_eq!(ev(&build(|b| build_indicate_status(b, RNDIS_STATUS_MEDIA_DISCONNECT, &[]))), Ok(StatusEvent::MediaDisconnect));
    assert_eq!(ev(&build(|b| build_indicate_status(b, RNDIS_STATUS_NETWORK_CHANGE, &[]))), Ok(StatusEvent::NetworkChange));
    assert_eq!(
        ev(&build(|b| build_link_speed_indication(b, 400_000_000))),
        Ok(StatusEvent::LinkSpeedChange { speed_100bps: 400_000_000 })
    );
    assert_eq!(ev(&build(|b| build_indicate_status(b, 0x4001_0099, &[1]))), Ok(StatusEvent::Other(0x4001_0099)));
    assert_eq!(ev(&build(|b| build_indicate_status(b, RNDIS_STATUS_LINK_SPEED_CHANGE, &[1, 2]))), Err(RndisError::StatusBufferTooShort(2)));

    // Pre-Fe vSwitch: msg_len leaves out the status buffer, which follows in the range.
    let mut quirk = words(&[7, 20, RNDIS_STATUS_LINK_SPEED_CHANGE, 4, 12]);
    quirk.extend(100_000u32.to_le_bytes());
    let (m, len) = RndisMessage::parse(&quirk).unwrap();
    assert_eq!(len, 20);
    assert!(matches!(m, RndisMessage::IndicateStatus(s) if s.event() == Ok(StatusEvent::LinkSpeedChange { speed_100bps: 100_000 })));
    // ... but not past the range.
    assert_eq!(RndisMessage::parse(&quirk[..22]).unwrap_err(), RndisError::InfoPastMessage { offset: 12, len: 4 });
}

#[test]
fn each_error() {
    let e = |b: &[u8]| RndisMessage::parse(b).unwrap_err();
    assert_eq!(e(&[2, 0, 0, 0, 24, 0, 0]), RndisError::Truncated(7));
    assert_eq!(e(&words(&[2, 0, 1, 1, 0, 0])), RndisError::ZeroLength);
    assert_eq!(e(&words(&[2, 4, 1, 1, 0, 0])), RndisError::LengthBelowHeader(4));
    assert_eq!(e(&words(&[2, 28, 1, 1, 0, 0])), RndisError::LengthPastBuffer { msg_len: 28, have: 24 });
    assert_eq!(e(&words(&[2, u32::MAX, 1, 1, 0, 0])), RndisError::LengthPastBuffer { msg_len: u32::MAX, have: 24 });
    for t in [0u32, 9, 0x8000_0001, 0x8000_0003, 0x8000_8001, 0x0000_8001, RNDIS_MSG_BUS] {
        assert_eq!(e(&words(&[t, 12, 0])), RndisError::UnknownType(t), "type {t:#x}");
    }
    assert_eq!(e(&words(&[2, 16, 1, 1])), RndisError::TooShortForType { msg_type: 2, msg_len: 16 });
    assert_eq!(e(&words(&[0x8000_0002, 48, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])), RndisError::TooShortForType { msg_type: 0x8000_0002, msg_len: 48 });
    // Information buffers: inside the fixed part, past the message.
    assert_eq!(e(&words(&[4, 32, 1, 0, 4, 8, 0, 0])), RndisError::InfoOffsetInHeader(8));
    assert_eq!(e(&words(&[4, 32, 1, 0, 8, 20, 0, 0])), RndisError::InfoPastMessage { offset: 20, len: 8 });
    assert_eq!(e(&words(&[5, 32, 1, 0, 4, u32::MAX, 0, 0])), RndisError::InfoPastMessage { offset: u32::MAX, len: 4 });
    assert_eq!(e(&words(&[0x8000_0004, 24, 1, 0, 4, 12])), RndisError::InfoOffsetInHeader(12));
    assert_eq!(e(&words(&[7, 20, 0, 4, 4])), RndisError::InfoOffsetInHeader(4));
    // An empty information buffer's offset is not looked at.
    assert!(RndisMessage::parse(&words(&[4, 28, 1, 0, 0, 0xdead, 0])).is_ok());

    let c = |f| RndisInitializeComplete { pkt_alignment_factor: f, ..Default::default() }.pkt_align();
    assert_eq!(c(0), Ok(1));
    assert_eq!(c(MAX_PKT_ALIGNMENT_FACTOR), Ok(4096));
    assert_eq!(c(13), Err(RndisError::AlignmentFactor(13)));
    assert_eq!(c(32), Err(RndisError::AlignmentFactor(32)));

    let mut small = [0u8; 23];
    assert_eq!(build_init(&mut small, 1, 0), Err(RndisError::BufferTooSmall { need: 24, have: 23 }));
    assert!(!RndisError::ZeroLength.as_str().is_empty());
}

#[test]
fn batches() {
    let a = build(|b| build_keepalive(b, 1));
    let b = build(|b| build_set_complete(b, 2, 0));
    let batch = [a.clone(), b.clone(), a.clone()].concat();
    let ids: Vec<_> = Messages::new(&batch).map(|m| m.unwrap().request_id()).collect();
    assert_eq!(ids, [Some(1), Some(2), Some(1)]);
    assert_eq!(Messages::new(&[]).count(), 0);

    // A zero-length message in the middle: its own error, and the walk stops there.
    let bad = [a.clone(), words(&[1, 0, 0]), a.clone()].concat();
    let r: Vec<_> = Messages::new(&bad).collect();
    assert_eq!(r.len(), 2);
    assert_eq!(r[1], Err(RndisError::ZeroLength));
    // Fewer bytes than a header at the end.
    let tail = [a.clone(), vec![0; 5]].concat();
    let r: Vec<_> = Messages::new(&tail).collect();
    assert_eq!(r[1], Err(RndisError::TrailingBytes(5)));
    // A length past the section.
    let past = [a, b[..12].to_vec()].concat();
    assert_eq!(Messages::new(&past).nth(1), Some(Err(RndisError::LengthPastBuffer { msg_len: 16, have: 12 })));
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok((m, len)) = RndisMessage::parse(&b) {
            prop_assert!(len <= b.len());
            let _ = m.request_id();
            if let RndisMessage::IndicateStatus(s) = m { let _ = s.event(); }
            if let RndisMessage::InitComplete(c) = m { let _ = c.pkt_align(); }
            let mut out = vec![0u8; 512];
            let _ = m.encode(&mut out);
        }
        for r in Messages::new(&b) { let _ = r; }
    }

    #[test]
    fn arbitrary_headers_never_panic(t in prop::sample::select(vec![1u32, 2, 3, 4, 5, 6, 7, 8, 0x8000_0002, 0x8000_0004, 0x8000_0005, 0x8000_0006, 0x8000_0008]),
                                     len in 0u32..120, body in proptest::collection::vec(any::<u8>(), 0..112)) {
        let mut b = words(&[t, len]);
        b.extend(body);
        let _ = RndisMessage::parse(&b);
        for r in Messages::new(&b) { let _ = r; }
    }

    #[test]
    fn query_round_trip(id in any::<u32>(), o in any::<u32>(), info in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut buf = vec![0u8; 128];
        let n = build_query(&mut buf, id, o, &info).unwrap();
        let (m, len) = RndisMessage::parse(&buf[..n]).unwrap();
        prop_assert_eq!(len, n);
        match m {
            RndisMessage::Query(q) => { prop_assert_eq!((q.req.req_id, q.req.oid, q.info), (id, o, &info[..])); }
            _ => prop_assert!(false),
        }
    }
}
