//! NVSP messages: golden bytes built by hand from the `hyperv_net.h` structs and what
//! `netvsc.c` fills in, round trips between every encoder and the parser of the other side,
//! each validation error, Linux's version-dependent behaviour and the buffer layouts.
use netvsc_proto::nvsp::*;
use proptest::prelude::*;

fn le32(v: u32) -> [u8; 4] {
    v.to_le_bytes()
}

/// A 40-byte message: type, then `payload` bytes, zero padded.
fn msg40(msg_type: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8; NVSP_MESSAGE_SIZE];
    v[..4].copy_from_slice(&le32(msg_type));
    v[4..4 + payload.len()].copy_from_slice(payload);
    v
}

fn encode(m: &NvspMessage<'_>) -> Vec<u8> {
    let mut buf = vec![0xa5u8; 256];
    let n = m.encode(&mut buf).expect("encode");
    assert_eq!(n, m.encoded_len());
    buf.truncate(n);
    buf
}

#[test]
fn golden_guest_messages() {
    // negotiate_nvsp_ver(): min == max == version.
    let mut p = le32(NVSP_PROTOCOL_VERSION_61).to_vec();
    p.extend(le32(NVSP_PROTOCOL_VERSION_61));
    assert_eq!(encode(&NvspMessage::init(NvspVersion::V61)), msg40(1, &p));

    // NVSP_MSG2_TYPE_SEND_NDIS_CONFIG: mtu + ETH_HLEN, ieee8021q|sriov|teaming|rsc on 6.1.
    let mut p = le32(1514).to_vec();
    p.extend(le32(0));
    p.extend(0xACu64.to_le_bytes());
    assert_eq!(encode(&NvspMessage::ndis_config(NvspVersion::V61, 1500, false)), msg40(125, &p));
    // Isolated guests do not announce SR-IOV; version 4 announces only 802.1Q; version 5 teaming.
    assert_eq!({ NvspVersion::V61.ndis_config_capability(true).data }, 0xA8);
    assert_eq!({ NvspVersion::V4.ndis_config_capability(false).data }, NVSP_CAP_IEEE8021Q);
    assert_eq!({ NvspVersion::V5.ndis_config_capability(false).data }, 0x2C);

    // NVSP_MSG1_TYPE_SEND_NDIS_VER: 6.30 from version 5, 6.1 before.
    let mut p = le32(6).to_vec();
    p.extend(le32(30));
    assert_eq!(encode(&NvspMessage::ndis_version(NvspVersion::V5)), msg40(100, &p));
    let mut p = le32(6).to_vec();
    p.extend(le32(1));
    assert_eq!(encode(&NvspMessage::ndis_version(NvspVersion::V4)), msg40(100, &p));

    // Receive / send buffer: gpadl handle then the u16 id (packed: id at payload offset 4).
    let mut p = le32(0x1234_5678).to_vec();
    p.extend(0xcafeu16.to_le_bytes());
    assert_eq!(encode(&NvspMessage::send_receive_buffer(0x1234_5678)), msg40(101, &p));
    let mut p = le32(7).to_vec();
    p.extend(0u16.to_le_bytes());
    assert_eq!(encode(&NvspMessage::send_send_buffer(7)), msg40(104, &p));
    assert_eq!(encode(&NvspMessage::revoke_receive_buffer()), msg40(103, &[0xfe, 0xca]));
    assert_eq!(encode(&NvspMessage::revoke_send_buffer()), msg40(106, &[0, 0]));

    // netvsc_send_pkt(): data in section 5 (300 bytes used); control outside the send buffer.
    let mut p = le32(0).to_vec();
    p.extend(le32(5));
    p.extend(le32(300));
    assert_eq!(encode(&NvspMessage::rndis_packet(false, Some((5, 300)))), msg40(107, &p));
    let mut p = le32(1).to_vec();
    p.extend(le32(0xffff_ffff));
    p.extend(le32(0));
    assert_eq!(encode(&NvspMessage::rndis_packet(true, None)), msg40(107, &p));

    // send_recv_completions(): 8 bytes, header and status.
    assert_eq!(encode(&NvspMessage::rndis_packet_complete(NVSP_STAT_SUCCESS)), [108, 0, 0, 0, 1, 0, 0, 0]);

    // rndis_set_subchannel() and netvsc_switch_datapath().
    let mut p = le32(1).to_vec();
    p.extend(le32(3));
    assert_eq!(encode(&NvspMessage::subchannel_request(3)), msg40(133, &p));
    assert_eq!(encode(&NvspMessage::switch_data_path(true)), msg40(129, &le32(1)));
    assert_eq!(encode(&NvspMessage::switch_data_path(false)), msg40(129, &le32(0)));
}

#[test]
fn golden_host_messages() {
    let mut p = le32(NVSP_PROTOCOL_VERSION_5).to_vec();
    p.extend(le32(34));
    p.extend(le32(NVSP_STAT_SUCCESS));
    assert_eq!(encode(&NvspMessage::init_complete(Some(NvspVersion::V5), 34)), msg40(2, &p));
    let refused = encode(&NvspMessage::init_complete(None, 0));
    assert_eq!(&refused[12..16], &le32(NVSP_STAT_FAIL));

    // Receive buffer completion: one section covering 100 sections of 1728 bytes.
    let layout = ReceiveBufferLayout::host(100 * 1728 + 5, 1728).unwrap();
    let m = NvspMessage::SendReceiveBufferComplete(ReceiveBufferComplete::single(layout.section()));
    let mut p = le32(NVSP_STAT_SUCCESS).to_vec();
    p.extend(le32(1));
    for v in [0, 1728, 100, 172_800] {
        p.extend(le32(v));
    }
    assert_eq!(encode(&m), msg40(102, &p));

    let mut p = le32(NVSP_STAT_SUCCESS).to_vec();
    p.extend(le32(6144));
    assert_eq!(encode(&NvspMessage::send_buffer_complete(NVSP_STAT_SUCCESS, 6144)), msg40(105, &p));

    // The send indirection table: count 16, offset 40, entries after a full message.
    let t = encode(&NvspMessage::send_table_round_robin(3));
    assert_eq!(t.len(), 40 + 64);
    assert_eq!(&t[..12], [134, 0, 0, 0, 16, 0, 0, 0, 40, 0, 0, 0]);
    assert!(t[12..40].iter().all(|b| *b == 0));
    for i in 0..16u32 {
        assert_eq!(&t[40 + 4 * i as usize..44 + 4 * i as usize], &le32(i % 3));
    }

    let mut p = le32(1).to_vec();
    p.extend(le32(42));
    assert_eq!(encode(&NvspMessage::vf_association(Some(42))), msg40(128, &p));
}

/// Every variant, with the side that sends it.
fn all_messages(bufs: &[u8]) -> Vec<(NvspMessage<'_>, Sender)> {
    use NvspMessage as M;
    let sec = Nvsp1ReceiveBufferSection { offset: 0, sub_alloc_size: 1728, num_sub_allocs: 10, end_offset: 17280 };
    let pd_req = Nvsp6PdApiReq { op: PD_API_OP_CREATE_QUEUE, params: [7; PD_API_REQ_PARAMS_SIZE] };
    let pd_comp = Nvsp6PdApiComp { op: PD_API_OP_CONFIG, status: 0, params: [9; PD_API_COMP_PARAMS_SIZE] };
    vec![
        (M::init(NvspVersion::V2), Sender::Guest),
        (M::init_complete(Some(NvspVersion::V2), 0), Sender::Host),
        (M::ndis_version(NvspVersion::V61), Sender::Guest),
        (M::send_receive_buffer(3), Sender::Guest),
        (M::SendReceiveBufferComplete(ReceiveBufferComplete::single(sec)), Sender::Host),
        (
            M::SendReceiveBufferComplete(ReceiveBufferComplete { status: 1, num_sections: 3, first: sec, more: &bufs[..32] }),
            Sender::Host,
        ),
        (M::revoke_receive_buffer(), Sender::Guest),
        (M::send_send_buffer(4), Sender::Guest),
        (M::send_buffer_complete(1, 6144), Sender::Host),
        (M::revoke_send_buffer(), Sender::Guest),
        (M::rndis_packet(false, Some((1, 2))), Sender::Guest),
        (M::rndis_packet(true, None), Sender::Host),
        (M::rndis_packet_complete(1), Sender::Guest),
        (M::rndis_packet_complete(2), Sender::Host),
        (M::ndis_config(NvspVersion::V5, 9000, false), Sender::Guest),
        (M::AllocRxBuf(Nvsp2AllocRxbuf { alloc_id: 1, len: 2 }), Sender::Host),
        (M::AllocRxBufComplete(Nvsp2AllocRxbufComp { status: 1, alloc_id: 1, gpadl_handle: 5, recv_buf_id: 1 << 40 }), Sender::Guest),
        (M::FreeRxBuf(Nvsp2FreeRxbuf { recv_buf_id: 77 }), Sender::Host),
        (M::vf_association(None), Sender::Host),
        (M::switch_data_path(true), Sender::Guest),
        (M::OidQueryEx(Nvsp5OidQueryEx { header_type: 0x96, header_revision: 1, header_size: 8, oid: 0x10203 }), Sender::Guest),
        (M::OidQueryExComplete(Nvsp5OidQueryExComplete { status: 0, bytes: 18 }), Sender::Host),
        (M::subchannel_request(7), Sender::Guest),
        (M::subchannel_complete(1, 5), Sender::Host),
        (M::send_table_round_robin(4), Sender::Host),
        (M::PdApiRequest(pd_req), Sender::Guest),
        (M::PdApiComplete(pd_comp), Sender::Host),
        (M::PdPostBatch(PdPostBatch { flags: PD_BATCH_GUEST2HOST, bufs: &bufs[..24] }), Sender::Guest),
        (M::Unhandled { msg_type: NVSP_MSG2_TYPE_SEND_CHIMNEY_PKT, payload: &bufs[..36] }, Sender::Guest),
        (M::Unhandled { msg_type: NVSP_MSG4_TYPE_UPLINK_CONNECT_STATE_DEPRECATED, payload: &bufs[..50] }, Sender::Host),
    ]
}

#[test]
fn every_message_round_trips() {
    let bufs: Vec<u8> = (0..64u8).collect();
    let msgs = all_messages(&bufs);
    assert!(msgs.len() >= 30);
    for (m, from) in &msgs {
        let wire = encode(m);
        let back = parse(&wire, *from).unwrap_or_else(|e| panic!("{m:?}: {e}"));
        assert_eq!(&back, m);
        assert_eq!(back.msg_type(), m.msg_type());
        // With the negotiated version (6.1 knows every type) the result is the same.
        assert_eq!(&parse_negotiated(&wire, *from, NvspVersion::V61).unwrap(), m);
    }
    // The PD API union accessors.
    let r = Nvsp6PdApiReq { op: PD_API_OP_CONFIG, params: [0; PD_API_REQ_PARAMS_SIZE] };
    let q: PdApiConfigReq = r.params_as().unwrap();
    assert_eq!(q, PdApiConfigReq::default());
    let mut params = [0u8; PD_API_REQ_PARAMS_SIZE];
    params[..4].copy_from_slice(&le32(9));
    params[4..6].copy_from_slice(&3u16.to_le_bytes());
    let cq: PdApiCreateQueueReq = Nvsp6PdApiReq { op: PD_API_OP_CREATE_QUEUE, params }.params_as().unwrap();
    assert_eq!((cq.prov_id, cq.q_id), (9, 3));
    // Batch entries.
    if let (NvspMessage::PdPostBatch(b), _) = msgs[27] {
        assert_eq!(b.count(), 3);
        let e = b.buf(1).unwrap();
        assert_eq!({ e.region_offset }, u32::from_le_bytes([8, 9, 10, 11]));
        assert!(b.buf(3).is_none());
    }
    if let (NvspMessage::SendReceiveBufferComplete(c), _) = msgs[5] {
        assert_eq!({ c.section(1).unwrap().offset }, u32::from_le_bytes([0, 1, 2, 3]));
        assert!(c.section(2).is_some() && c.section(3).is_none());
    }
}

#[test]
fn legacy_and_short_messages() {
    // A version 1 host's 28-byte messages and Linux's 8-byte receive completion parse.
    let mut m = msg40(NVSP_MSG_TYPE_INIT_COMPLETE, &[2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]);
    m.truncate(NVSP_LEGACY_MESSAGE_SIZE);
    assert!(matches!(parse(&m, Sender::Host), Ok(NvspMessage::InitComplete(c)) if c.status == 1));
    m.truncate(16);
    assert!(parse(&m, Sender::Host).is_ok());
    assert!(matches!(parse(&[108, 0, 0, 0, 1, 0, 0, 0], Sender::Host), Ok(NvspMessage::SendRndisPacketComplete(_))));
    // Revoke messages need only their 2-byte id.
    assert!(parse(&[103, 0, 0, 0, 0xfe, 0xca], Sender::Guest).is_ok());
}

#[test]
fn each_error() {
    let e = |b: &[u8], from| parse(b, from).unwrap_err();
    assert_eq!(e(&[1, 0, 0], Sender::Guest), NvspError::NoHeader(3));
    assert_eq!(e(&msg40(1, &[])[..11], Sender::Guest), NvspError::TooShort { msg_type: 1, need: 12, have: 11 });
    for t in [0u32, 3, 99, 137, 0xffff_ffff] {
        assert_eq!(e(&msg40(t, &[]), Sender::Guest), NvspError::UnknownType(t), "type {t}");
    }
    assert_eq!(e(&msg40(1, &[]), Sender::Host), NvspError::WrongSender(1));
    assert_eq!(e(&msg40(2, &[]), Sender::Guest), NvspError::WrongSender(2));
    assert_eq!(e(&msg40(134, &[]), Sender::Guest), NvspError::WrongSender(134));
    assert_eq!(e(&msg40(125, &[]), Sender::Host), NvspError::WrongSender(125));
    assert_eq!(e(&msg40(107, &le32(2)), Sender::Guest), NvspError::ChannelType(2));

    // Receive buffer completion: success without sections, sections past the message.
    let mut p = le32(1).to_vec();
    p.extend(le32(0));
    assert_eq!(e(&msg40(102, &p), Sender::Host), NvspError::NoReceiveSections);
    let mut p = le32(1).to_vec();
    p.extend(le32(3));
    assert_eq!(e(&msg40(102, &p), Sender::Host), NvspError::ReceiveSectionsTruncated(3));
    let mut p = le32(1).to_vec();
    p.extend(le32(u32::MAX));
    assert_eq!(e(&msg40(102, &p), Sender::Host), NvspError::ReceiveSectionsTruncated(u32::MAX));
    // A failed completion need not carry its sections.
    let mut p = le32(2).to_vec();
    p.extend(le32(9));
    assert!(matches!(parse(&msg40(102, &p), Sender::Host), Ok(NvspMessage::SendReceiveBufferComplete(c)) if c.more.is_empty()));

    // Send indirection table: wrong count, table outside the message.
    let mut p = le32(8).to_vec();
    p.extend(le32(12));
    assert_eq!(e(&msg40(134, &p), Sender::Host), NvspError::SendTableCount(8));
    let mut p = le32(16).to_vec();
    p.extend(le32(12));
    assert_eq!(e(&msg40(134, &p), Sender::Host), NvspError::SendTableOutside(12));
    let mut p = le32(16).to_vec();
    p.extend(le32(u32::MAX));
    let mut long = msg40(134, &p);
    long.resize(200, 0);
    assert_eq!(e(&long, Sender::Host), NvspError::SendTableOutside(u32::MAX));

    // PacketDirect: bad op, batch count past the message.
    assert_eq!(e(&msg40(135, &le32(0)), Sender::Guest), NvspError::PdApiOp(0));
    assert_eq!(e(&msg40(135, &le32(PD_API_OP_MAX)), Sender::Host), NvspError::PdApiOp(PD_API_OP_MAX));
    let mut b = msg40(136, &[]);
    b[4..6].copy_from_slice(&5u16.to_le_bytes());
    assert_eq!(e(&b, Sender::Host), NvspError::PdBatchTruncated(5));

    // Types above the negotiated version.
    let sub = encode(&NvspMessage::subchannel_request(1));
    assert_eq!(parse_negotiated(&sub, Sender::Guest, NvspVersion::V4).unwrap_err(), NvspError::NotInVersion(133));
    assert!(parse_negotiated(&sub, Sender::Guest, NvspVersion::V5).is_ok());
    let pd = msg40(135, &le32(PD_API_OP_CONFIG));
    assert_eq!(parse_negotiated(&pd, Sender::Guest, NvspVersion::V6).unwrap_err(), NvspError::NotInVersion(135));
    assert!(parse_negotiated(&pd, Sender::Guest, NvspVersion::V61).is_ok());
    let cfg = encode(&NvspMessage::ndis_config(NvspVersion::V2, 1500, false));
    assert_eq!(parse_negotiated(&cfg, Sender::Guest, NvspVersion::V1).unwrap_err(), NvspError::NotInVersion(125));

    // Encoding into a short buffer.
    let mut small = [0u8; 39];
    assert_eq!(NvspMessage::init(NvspVersion::V1).encode(&mut small), Err(NvspError::BufferTooSmall { need: 40, have: 39 }));
    for err in [NvspError::NoHeader(0), NvspError::PdApiOp(0), NvspError::SendTableCount(1)] {
        assert!(!err.as_str().is_empty() && err.to_string() == err.as_str());
    }
}

#[test]
fn send_table_offset_quirk() {
    // An OpenVMM-style message: table right after the 8-byte payload, offset 12, 76 bytes.
    let mut m = msg40(134, &[]);
    m[4..8].copy_from_slice(&le32(16));
    m[8..12].copy_from_slice(&le32(12));
    m.truncate(12);
    for i in 0..16u32 {
        m.extend(le32(i % 2));
    }
    for v in [NvspVersion::V5, NvspVersion::V6, NvspVersion::V61] {
        // Shorter than 40 + 64 bytes: every version uses the stated offset.
        let Ok(NvspMessage::SendIndirectionTable(t)) = parse_negotiated(&m, Sender::Host, v) else { panic!("{v:?}") };
        assert_eq!(t.entries[3], 1);
    }
    assert_eq!(parse_negotiated(&m, Sender::Host, NvspVersion::V4).unwrap_err(), NvspError::NotInVersion(134));
    // A buggy host states offset 12 but puts the table at 40: Linux (and we) fix it up on
    // version 6 and older only.
    let mut bug = msg40(134, &[]);
    bug[4..8].copy_from_slice(&le32(16));
    bug[8..12].copy_from_slice(&le32(12));
    for i in 0..16u32 {
        bug.extend(le32(100 + i));
    }
    let Ok(NvspMessage::SendIndirectionTable(t)) = parse_negotiated(&bug, Sender::Host, NvspVersion::V6) else { panic!() };
    assert_eq!(t.entries[0], 100);
    assert_eq!(t.offset, 12);
    let Ok(NvspMessage::SendIndirectionTable(t)) = parse_negotiated(&bug, Sender::Host, NvspVersion::V61) else { panic!() };
    assert_eq!(t.entries[0], 0, "6.1 trusts the stated offset");
    // Our encoder's placement works both ways.
    let ours = encode(&NvspMessage::send_table_round_robin(2));
    for v in [NvspVersion::V5, NvspVersion::V61] {
        let Ok(NvspMessage::SendIndirectionTable(t)) = parse_negotiated(&ours, Sender::Host, v) else { panic!() };
        assert_eq!(t.entries, core::array::from_fn(|i| i as u32 % 2));
    }
}

#[test]
fn versions_and_negotiation() {
    let raw: Vec<u32> = NvspVersion::NEWEST_FIRST.iter().map(|v| v.raw()).collect();
    assert!(raw.windows(2).all(|w| w[0] > w[1]));
    for v in NvspVersion::NEWEST_FIRST {
        assert_eq!(NvspVersion::from_raw(v.raw()), Some(v));
        assert!(!v.name().is_empty());
    }
    assert_eq!(NvspVersion::from_raw(0x30000), None);
    // The guest walks newest first with min == max; a host allowing up to 5 accepts 5.
    let host = [NvspVersion::V1, NvspVersion::V2, NvspVersion::V4, NvspVersion::V5];
    let agreed = NvspVersion::NEWEST_FIRST.iter().find_map(|v| NvspVersion::negotiate(v.raw(), v.raw(), &host));
    assert_eq!(agreed, Some(NvspVersion::V5));
    assert_eq!(NvspVersion::negotiate(0, u32::MAX, &host), Some(NvspVersion::V5));
    assert_eq!(NvspVersion::negotiate(NVSP_PROTOCOL_VERSION_6, NVSP_PROTOCOL_VERSION_61, &host), None);

    assert_eq!(NvspVersion::V2.max_receive_buffer_size(), NETVSC_RECEIVE_BUFFER_SIZE_LEGACY);
    assert_eq!(NvspVersion::V4.max_receive_buffer_size(), NETVSC_RECEIVE_BUFFER_SIZE);
    assert!(!NvspVersion::V4.supports_vrss() && NvspVersion::V5.supports_vrss());
    assert!(!NvspVersion::V4.supports_udp_checksum_offload());
    assert!(!NvspVersion::V1.sends_ndis_config() && NvspVersion::V2.sends_ndis_config());
    assert!(NvspVersion::V6.send_table_offset_quirk() && !NvspVersion::V61.send_table_offset_quirk());
    assert_eq!(NvspVersion::V6.max_message_type(), NVSP_MSG5_MAX);
}

#[test]
fn receive_buffer_layout() {
    let buf = 16 * 1024 * 1024;
    let ok = Nvsp1ReceiveBufferSection { offset: 0, sub_alloc_size: 1728, num_sub_allocs: 9709, end_offset: 0 };
    let l = ReceiveBufferLayout::from_complete(&ReceiveBufferComplete::single(ok), buf).unwrap();
    assert_eq!((l.section_size, l.section_count), (1728, 9709));
    let bad = |s: Nvsp1ReceiveBufferSection| ReceiveBufferLayout::from_complete(&ReceiveBufferComplete::single(s), buf);
    assert_eq!(bad(Nvsp1ReceiveBufferSection { offset: 4, ..ok }), Err(NvspError::ReceiveSectionOffset(4)));
    assert_eq!(bad(Nvsp1ReceiveBufferSection { sub_alloc_size: 67, ..ok }), Err(NvspError::ReceiveSectionSize(67)));
    assert_eq!(bad(Nvsp1ReceiveBufferSection { num_sub_allocs: 9710, ..ok }), Err(NvspError::ReceiveSectionsExceedBuffer));
    assert_eq!(
        bad(Nvsp1ReceiveBufferSection { sub_alloc_size: u32::MAX, num_sub_allocs: u32::MAX, ..ok }),
        Err(NvspError::ReceiveSectionsExceedBuffer)
    );
    let two = ReceiveBufferComplete { num_sections: 2, ..ReceiveBufferComplete::single(ok) };
    assert_eq!(ReceiveBufferLayout::from_complete(&two, buf), Err(NvspError::ReceiveSectionCount(2)));
    assert_eq!(ReceiveBufferLayout::from_complete(&ReceiveBufferComplete::failed(2), buf), Err(NvspError::ReceiveBufferStatus(2)));

    // netvsc_receive(): ranges inside the buffer and no longer than a section.
    assert_eq!(l.range(1728, 1500), Ok(1728..3228));
    assert_eq!(l.range(buf, 0), Ok(buf as usize..buf as usize));
    assert_eq!(l.range(buf - 10, 11), Err(NvspError::RangeOutsideBuffer { offset: buf - 10, len: 11 }));
    assert_eq!(l.range(u32::MAX, 1), Err(NvspError::RangeOutsideBuffer { offset: u32::MAX, len: 1 }));
    assert_eq!(l.range(0, 1729), Err(NvspError::RangeTooLong(1729)));

    let h = ReceiveBufferLayout::host(buf, 1728).unwrap();
    assert_eq!(h.section_offset(2), Some(3456));
    assert_eq!(h.section_offset(h.section_count), None);
    assert_eq!(ReceiveBufferLayout::host(buf, 10), Err(NvspError::ReceiveSectionSize(10)));
}

#[test]
fn send_buffer_layout() {
    let s = SendBufferLayout::new(1024 * 1024, 6144).unwrap();
    assert_eq!(s.section_count, 170);
    let pkt = |i, n| Nvsp1SendRndisPacket { channel_type: 0, send_buf_section_index: i, send_buf_section_size: n };
    assert_eq!(s.message_range(&pkt(NETVSC_INVALID_INDEX, 0)), Ok(None));
    assert_eq!(s.message_range(&pkt(2, 100)), Ok(Some(12288..12388)));
    assert_eq!(s.message_range(&pkt(170, 100)), Err(NvspError::SendSectionIndex(170)));
    assert_eq!(s.message_range(&pkt(0, 0)), Err(NvspError::SendSectionUsed(0)));
    assert_eq!(s.message_range(&pkt(0, 6145)), Err(NvspError::SendSectionUsed(6145)));
    assert_eq!(SendBufferLayout::new(1024, 67), Err(NvspError::SendSectionSize(67)));
    assert_eq!(SendBufferLayout::new(1024, 2048), Err(NvspError::SendSectionSize(2048)));
    let c = Nvsp1SendSendBufferComplete { status: NVSP_STAT_FAIL, section_size: 6144 };
    assert_eq!(SendBufferLayout::from_complete(&c, 1 << 20), Err(NvspError::SendBufferStatus(NVSP_STAT_FAIL)));
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..160)) {
        for from in [Sender::Guest, Sender::Host] {
            if let Ok(m) = parse(&b, from) {
                // Whatever parses re-encodes and parses to the same message.
                let mut out = vec![0u8; m.encoded_len()];
                let n = m.encode(&mut out).unwrap();
                prop_assert_eq!(parse(&out[..n], from).unwrap(), m);
            }
            for v in NvspVersion::NEWEST_FIRST {
                let _ = parse_negotiated(&b, from, v);
            }
        }
    }

    #[test]
    fn arbitrary_typed_bytes_never_panic(t in 0u32..140, body in proptest::collection::vec(any::<u8>(), 0..120)) {
        let mut b = t.to_le_bytes().to_vec();
        b.extend(body);
        for from in [Sender::Guest, Sender::Host] {
            let _ = parse(&b, from);
            let _ = parse_negotiated(&b, from, NvspVersion::V6);
        }
    }

    #[test]
    fn rndis_packet_round_trip(ctl in any::<bool>(), idx in any::<u32>(), size in any::<u32>()) {
        let m = NvspMessage::rndis_packet(ctl, Some((idx, size)));
        let mut out = [0u8; NVSP_MESSAGE_SIZE];
        m.encode(&mut out).unwrap();
        prop_assert_eq!(parse(&out, Sender::Guest).unwrap(), m);
    }

    #[test]
    fn layouts_never_panic(buf in any::<u32>(), sec in any::<u32>(), off in any::<u32>(), len in any::<u32>(), idx in any::<u32>()) {
        if let Ok(l) = ReceiveBufferLayout::host(buf, sec) {
            if let Ok(r) = l.range(off, len) {
                prop_assert!(r.end <= buf as usize && r.len() <= sec as usize);
            }
            let _ = l.section_offset(idx);
        }
        if let Ok(s) = SendBufferLayout::new(buf, sec) {
            let p = Nvsp1SendRndisPacket { channel_type: 0, send_buf_section_index: idx, send_buf_section_size: len };
            if let Ok(Some(r)) = s.message_range(&p) {
                prop_assert!(r.end as u64 <= u64::from(s.section_count) * u64::from(sec));
            }
        }
    }
}
