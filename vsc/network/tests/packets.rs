//! RNDIS data messages ([MS-RNDIS] 2.2 `REMOTE_NDIS_PACKET_MSG`, `struct rndis_packet` and the
//! PPI records of `hyperv_net.h`): the guest's transmit header as `netvsc_xmit()` builds it,
//! the host's receive messages, guest → host and host → guest round trips, batches with
//! Linux's padding, and one malformed message per validation error.
use netvsc_proto::packet::*;
use netvsc_proto::ppi::*;
use netvsc_proto::rndis::*;
use proptest::prelude::*;

fn words(w: &[u32]) -> Vec<u8> {
    w.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn frame(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + 3) as u8).collect()
}

fn tx_message(info: &TxInfo, data: &[u8]) -> Vec<u8> {
    let mut hdr = [0u8; RNDIS_AND_PPI_SIZE];
    let n = build_tx_header(&mut hdr, data.len() as u32, info).unwrap();
    assert_eq!(n, info.header_len());
    [&hdr[..n], data].concat()
}

fn packet(b: &[u8]) -> PacketMessage<'_> {
    match RndisMessage::parse(b) {
        Ok((RndisMessage::Packet(p), n)) if n == b.len() => p,
        other => panic!("{other:?}"),
    }
}

fn perr(b: &[u8]) -> RndisError {
    RndisMessage::parse(b).unwrap_err()
}

#[test]
fn golden_tx_header() {
    // A 60-byte TCP/IPv4 frame with a flow hash and checksum offload (transport header at 34).
    let csum = TxChecksum { is_ipv4: true, tcp_checksum: true, tcp_header_offset: 34, ..Default::default() };
    let info = TxInfo { hash: Some(0x1234_5678), checksum: Some(csum), ..Default::default() };
    let data = frame(60);
    let m = tx_message(&info, &data);
    let expect = [
        words(&[RNDIS_MSG_PACKET, 44 + 32 + 60, 36 + 32, 60, 0, 0, 0, 36, 32, 0, 0]),
        words(&[16, NBL_HASH_VALUE, 12, 0x1234_5678]),
        words(&[16, TCPIP_CHKSUM_PKTINFO, 12, 1 | 4 | (34 << 16)]),
        data.clone(),
    ]
    .concat();
    assert_eq!(m, expect);

    // Without PPIs: data right after rndis_packet, per_pkt_info_offset still 36.
    let m = tx_message(&TxInfo::default(), &data);
    assert_eq!(&m[..44], &words(&[1, 104, 36, 60, 0, 0, 0, 36, 0, 0, 0])[..]);

    // All four: hash, VLAN, LSO, checksum in netvsc_xmit()'s order; fits RNDIS_AND_PPI_SIZE.
    let all = TxInfo {
        hash: Some(1),
        vlan: Some(VlanInfo { priority: 5, cfi: false, vlan_id: 100 }),
        lso: Some(LsoV2Tx { mss: 1448, tcp_header_offset: 54, ipv6: true }),
        checksum: Some(TxChecksum { is_ipv6: true, udp_checksum: true, tcp_header_offset: 54, ..Default::default() }),
    };
    assert_eq!(all.header_len(), 44 + NDIS_ALL_PPI_SIZE);
    assert!(all.header_len() <= RNDIS_AND_PPI_SIZE);
    let m = tx_message(&all, &data);
    let types: Vec<u32> = packet(&m).ppis().map(|p| p.ppi_type).collect();
    assert_eq!(types, [NBL_HASH_VALUE, IEEE_8021Q_INFO, TCP_LARGESEND_PKTINFO, TCPIP_CHKSUM_PKTINFO]);
    assert_eq!(&m[44 + 16 + 12..44 + 16 + 16], &(5 | (100 << 4) as u32).to_le_bytes());
    assert_eq!(&m[44 + 32 + 12..44 + 32 + 16], &(1448 | (54 << 20) | (1 << 30) | (1 << 31) as u32).to_le_bytes());
    assert_eq!(offsets_for(64), (100, 36));
}

#[test]
fn guest_to_host() {
    let info = TxInfo {
        hash: Some(0xdead_beef),
        vlan: Some(VlanInfo::from_tci(0xa00c)),
        lso: Some(LsoV2Tx { mss: 9000, tcp_header_offset: 34, ipv6: false }),
        checksum: None,
    };
    let data = frame(3000);
    let m = tx_message(&info, &data);
    let p = packet(&m);
    assert_eq!(p.data, &data[..]);
    let got = p.info();
    assert_eq!(got.hash_value, Some(0xdead_beef));
    assert_eq!(got.vlan, info.vlan);
    assert_eq!(got.vlan.unwrap().to_tci(), 0xa00c);
    assert_eq!(got.lso_v2(), info.lso);
    assert_eq!(got.tx_checksum(), None);

    // The host may see only the header (in a send section or the first GPA range).
    let h = parse_packet_header(&m[..info.header_len()]).unwrap();
    assert_eq!(h.msg_len as usize, m.len());
    assert_eq!(h.data, info.header_len()..m.len());
    assert_eq!(PacketInfo::from_area(h.ppi).hash_value, Some(0xdead_beef));
    // ... but never less than the PPIs.
    assert_eq!(parse_packet_header(&m[..50]).unwrap_err(), RndisError::PpiPastMessage { offset: 36, len: 48 });
}

#[test]
fn host_to_guest() {
    let info = RxInfo {
        checksum: Some(RxChecksum { ip_checksum_succeeded: true, tcp_checksum_succeeded: true, ..Default::default() }),
        vlan: Some(VlanInfo { priority: 1, cfi: true, vlan_id: 4095 }),
        hash_value: Some(0x51cc_c178),
        hash_info: Some(0x201),
        pktinfo_id: Some(RndisPktinfoId { ver: RNDIS_PKTINFO_ID_V1, flag: RNDIS_PKTINFO_SUBALLOC | RNDIS_PKTINFO_1ST_FRAG, pkt_id: 7 }),
    };
    let data = frame(1514);
    let mut buf = vec![0u8; 1728];
    let n = build_rx_packet(&mut buf, &data, &info).unwrap();
    assert_eq!(Some(n), info.message_len(data.len()));
    let p = packet(&buf[..n]);
    assert_eq!(p.data, &data[..]);
    let got = p.info();
    assert_eq!(got.rx_checksum(), info.checksum);
    assert!(got.rx_checksum().unwrap().l4_verified());
    assert_eq!((got.vlan, got.hash_value, got.hash_info, got.pktinfo_id), (info.vlan, info.hash_value, info.hash_info, info.pktinfo_id));
    // The packet id record is internal type 1, not IPSEC_PKTINFO.
    let id = p.ppis().find(|r| r.internal).unwrap();
    assert_eq!((id.ppi_type, id.data), (RNDIS_PKTINFO_ID, &[1u8, 3, 7, 0][..]));
    // Re-encoding the parsed message gives the same bytes.
    let mut again = vec![0u8; 1728];
    let m = build_packet(&mut again, &p).unwrap();
    assert_eq!(&again[..m], &buf[..n]);

    // Too small a section; fields too large.
    assert_eq!(build_rx_packet(&mut buf[..100], &data, &RxInfo::default()), Err(RndisError::BufferTooSmall { need: 1558, have: 100 }));
    let big = RxInfo { vlan: Some(VlanInfo { vlan_id: 4096, ..Default::default() }), ..Default::default() };
    assert_eq!(build_rx_packet(&mut buf, &data, &big), Err(RndisError::ValueTooLarge));
    let big = TxInfo { lso: Some(LsoV2Tx { mss: 1 << 20, ..Default::default() }), ..Default::default() };
    assert_eq!(build_tx_header(&mut [0u8; 200], 1, &big), Err(RndisError::ValueTooLarge));
    let big = TxInfo { checksum: Some(TxChecksum { tcp_header_offset: 1024, ..Default::default() }), ..Default::default() };
    assert_eq!(build_tx_header(&mut [0u8; 200], 1, &big), Err(RndisError::ValueTooLarge));
    assert_eq!(build_tx_header(&mut [0u8; 43], 1, &TxInfo::default()), Err(RndisError::BufferTooSmall { need: 44, have: 43 }));
}

#[test]
fn batch_with_padding() {
    // netvsc_copy_to_send_buf(): every message but the last padded to pkt_align (8).
    let info = TxInfo { hash: Some(9), ..Default::default() };
    let mut section = Vec::new();
    let sizes = [61usize, 100, 1, 42];
    for (i, n) in sizes.iter().enumerate() {
        let mut m = tx_message(&info, &frame(*n));
        if i + 1 < sizes.len() {
            let pad = padding(m.len() as u32, 8).unwrap();
            assert_eq!(add_padding(&mut m, pad), Ok((m.len() as u32) + pad));
            m.resize(m.len() + pad as usize, 0);
            assert_eq!(m.len() % 8, 0);
        }
        section.extend(m);
    }
    let lens: Vec<usize> = Messages::new(&section)
        .map(|m| match m.unwrap() {
            RndisMessage::Packet(p) => p.data.len(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(lens, sizes);
    // cp_partial: the last message has only its header in the section.
    let last = tx_message(&info, &frame(500));
    let partial = [&section[..], &last[..info.header_len()]].concat();
    let mut walk = Messages::new(&partial);
    assert_eq!(walk.by_ref().filter(|m| m.is_ok()).count(), sizes.len());
    assert_eq!(walk.next(), None, "the walk stops at the error");
    let mut walk = Messages::new(&partial);
    for _ in 0..sizes.len() {
        walk.next().unwrap().unwrap();
    }
    assert_eq!(walk.next(), Some(Err(RndisError::LengthPastBuffer { msg_len: last.len() as u32, have: info.header_len() })));
    let h = parse_packet_header(walk.remaining()).unwrap();
    assert_eq!(h.data, info.header_len()..last.len());
    assert_eq!(PacketInfo::from_area(h.ppi).hash_value, Some(9));
    assert_eq!(padding(136, 8), Some(0));
    assert_eq!(padding(137, 8), Some(7));
    assert_eq!(padding(5, 6), None);
    assert_eq!(add_padding(&mut [0u8; 7], 1), Err(RndisError::Truncated(7)));
}

/// A 44-byte header (+ `extra` bytes) with the given `rndis_packet` words.
fn raw(msg_len: u32, pkt: [u32; 9], extra: &[u8]) -> Vec<u8> {
    let mut v = words(&[RNDIS_MSG_PACKET, msg_len]);
    v.extend(words(&pkt));
    v.extend(extra);
    v
}

#[test]
fn malformed_messages_each_rejected() {
    let body = frame(64);
    // [data_offset, data_len, oob_off, oob_len, num_oob, ppi_off, ppi_len, vc, reserved]
    let ok = raw(44 + 64, [36, 64, 0, 0, 0, 36, 0, 0, 0], &body);
    assert_eq!(packet(&ok).data, &body[..]);

    assert_eq!(perr(&raw(40, [36, 0, 0, 0, 0, 0, 0, 0, 0], &[])[..40]), RndisError::TooShortForType { msg_type: 1, msg_len: 40 });
    assert_eq!(perr(&raw(108, [20, 64, 0, 0, 0, 0, 0, 0, 0], &body)), RndisError::DataOffsetInHeader(20));
    assert_eq!(perr(&raw(108, [36, 65, 0, 0, 0, 0, 0, 0, 0], &body)), RndisError::DataPastMessage { offset: 36, len: 65 });
    assert_eq!(perr(&raw(108, [101, 0, 0, 0, 0, 0, 0, 0, 0], &body)), RndisError::DataPastMessage { offset: 101, len: 0 });
    assert_eq!(perr(&raw(108, [36, u32::MAX, 0, 0, 0, 0, 0, 0, 0], &body)), RndisError::DataPastMessage { offset: 36, len: u32::MAX });
    // msg_len past the range / section.
    assert_eq!(perr(&raw(109, [36, 64, 0, 0, 0, 0, 0, 0, 0], &body)), RndisError::LengthPastBuffer { msg_len: 109, have: 108 });

    // OOB area: inside the header, past the message, over the data.
    assert_eq!(perr(&raw(108, [52, 48, 8, 12, 1, 0, 0, 0, 0], &body)), RndisError::OobOutside { offset: 8, len: 12 });
    assert_eq!(perr(&raw(108, [36, 16, 60, 48, 1, 0, 0, 0, 0], &body)), RndisError::OobOutside { offset: 60, len: 48 });
    assert_eq!(perr(&raw(108, [36, 64, 40, 12, 1, 0, 0, 0, 0], &body)), RndisError::OobOverlapsData);
    let with_oob = raw(108, [48, 52, 36, 12, 1, 0, 0, 0, 0], &body);
    assert_eq!(packet(&with_oob).oob.len(), 12);

    // PPI area: inside the header, misaligned, past the message, over data or OOB.
    let rec = words(&[16, NBL_HASH_VALUE, 12, 7]);
    let with_ppi = |pkt: [u32; 9]| raw(44 + 16 + 48, pkt, &[rec.clone(), frame(48)].concat());
    assert_eq!(packet(&with_ppi([52, 48, 0, 0, 0, 36, 16, 0, 0])).info().hash_value, Some(7));
    assert_eq!(perr(&with_ppi([52, 48, 0, 0, 0, 8, 16, 0, 0])), RndisError::PpiOffsetInHeader(8));
    assert_eq!(perr(&with_ppi([52, 48, 0, 0, 0, 38, 16, 0, 0])), RndisError::PpiMisaligned(38));
    assert_eq!(perr(&with_ppi([52, 48, 0, 0, 0, 36, 18, 0, 0])), RndisError::PpiMisaligned(18));
    assert_eq!(perr(&with_ppi([52, 48, 0, 0, 0, 96, 16, 0, 0])), RndisError::PpiPastMessage { offset: 96, len: 16 });
    assert_eq!(perr(&with_ppi([52, 48, 0, 0, 0, 36, u32::MAX - 3, 0, 0])), RndisError::PpiPastMessage { offset: 36, len: u32::MAX - 3 });
    assert_eq!(perr(&with_ppi([36, 64, 0, 0, 0, 36, 16, 0, 0])), RndisError::PpiOverlapsData);
    assert_eq!(perr(&with_ppi([52, 48, 40, 8, 1, 36, 16, 0, 0])), RndisError::PpiOverlapsOob);

    // PPI records: truncated header, size below the header, past the area, not a multiple
    // of 4, data offset inside the header or at the end, too little data for the type.
    let with_area = |area: Vec<u8>| {
        let n = area.len() as u32;
        raw(44 + n + 8, [36 + n, 8, 0, 0, 0, 36, n, 0, 0], &[area, frame(8)].concat())
    };
    assert_eq!(perr(&with_area([rec.clone(), words(&[16])].concat())), RndisError::PpiTruncated(4));
    assert_eq!(perr(&with_area(words(&[8, 0, 12, 0]))), RndisError::PpiSizeTooSmall(8));
    assert_eq!(perr(&with_area(words(&[0, 0, 12, 0]))), RndisError::PpiSizeTooSmall(0));
    assert_eq!(perr(&with_area(words(&[20, 0, 12, 0]))), RndisError::PpiSizePastArea(20));
    assert_eq!(perr(&with_area(words(&[18, 0, 12, 0, 0]))), RndisError::PpiMisaligned(18));
    assert_eq!(perr(&with_area(words(&[16, 0, 4, 0]))), RndisError::PpiDataOffset(4));
    assert_eq!(perr(&with_area(words(&[16, 0, 16, 0]))), RndisError::PpiDataOffset(16));
    assert_eq!(perr(&with_area(words(&[16, IEEE_8021Q_INFO, 14, 0]))), RndisError::PpiDataTooShort(IEEE_8021Q_INFO));
    assert_eq!(perr(&with_area(words(&[16, RNDIS_PKTINFO_ID | PPI_INTERNAL, 14, 0]))), RndisError::PpiDataTooShort(RNDIS_PKTINFO_ID));
    // Unknown types may carry any amount of data; records are walked by their size.
    let two = with_area(words(&[16, 77, 14, 0, 16, TCPIP_CHKSUM_PKTINFO, 12, 9]));
    let p = packet(&two);
    assert_eq!(p.ppis().count(), 2);
    assert_eq!(p.info().checksum, Some(9));
    // The first record of a kind wins, as in rndis_get_ppi().
    let dup = with_area(words(&[16, NBL_HASH_VALUE, 12, 1, 16, NBL_HASH_VALUE, 12, 2]));
    assert_eq!(packet(&dup).info().hash_value, Some(1));

    // A batch whose middle message has msg_len 0 is rejected there.
    let batch = [ok.clone(), words(&[RNDIS_MSG_PACKET, 0]), ok].concat();
    assert_eq!(Messages::new(&batch).nth(1), Some(Err(RndisError::ZeroLength)));
}

#[test]
fn bit_fields() {
    let t = TxChecksum { is_ipv4: true, is_ipv6: false, tcp_checksum: true, udp_checksum: false, ip_header_checksum: true, tcp_header_offset: 0x3ff };
    assert_eq!(TxChecksum::from_bits(t.to_bits().unwrap()), t);
    let r = RxChecksum { tcp_checksum_failed: true, loopback: true, ip_checksum_value_invalid: true, ..Default::default() };
    assert_eq!(RxChecksum::from_bits(r.to_bits()), r);
    assert_eq!(r.to_bits(), 1 | 64 | 256);
    assert_eq!(VlanInfo::from_bits(0xffff_ffff), VlanInfo { priority: 7, cfi: true, vlan_id: 0xfff });
    assert_eq!(VlanInfo::from_tci(0xffff).to_tci(), 0xffff);
    assert_eq!(LsoV2Tx::from_bits(0), None, "LSOv1 type");
    let l = LsoV2Tx { mss: LSO_MSS_MAX, tcp_header_offset: HEADER_OFFSET_MAX, ipv6: true };
    assert_eq!(LsoV2Tx::from_bits(l.to_bits().unwrap()), Some(l));
    let h = RndisPerPacketInfo { size: 16, type_internal: RNDIS_PKTINFO_ID | PPI_INTERNAL, ppi_offset: 12 };
    assert_eq!((h.ppi_type(), h.internal()), (RNDIS_PKTINFO_ID, true));
}

fn arb_tx() -> impl Strategy<Value = TxInfo> {
    (
        proptest::option::of(any::<u32>()),
        proptest::option::of((0u8..8, any::<bool>(), 0u16..4096)),
        proptest::option::of((0u32..=LSO_MSS_MAX, 0u16..1024, any::<bool>())),
        proptest::option::of((any::<[bool; 5]>(), 0u16..1024)),
    )
        .prop_map(|(hash, vlan, lso, csum)| TxInfo {
            hash,
            vlan: vlan.map(|(priority, cfi, vlan_id)| VlanInfo { priority, cfi, vlan_id }),
            lso: lso.map(|(mss, tcp_header_offset, ipv6)| LsoV2Tx { mss, tcp_header_offset, ipv6 }),
            checksum: csum.map(|(b, off)| TxChecksum {
                is_ipv4: b[0],
                is_ipv6: b[1],
                tcp_checksum: b[2],
                udp_checksum: b[3],
                ip_header_checksum: b[4],
                tcp_header_offset: off,
            }),
        })
}

proptest! {
    #[test]
    fn tx_round_trip(info in arb_tx(), n in 0usize..300) {
        let data = frame(n);
        let m = tx_message(&info, &data);
        let p = packet(&m);
        prop_assert_eq!(p.data, &data[..]);
        let got = p.info();
        prop_assert_eq!(got.hash_value, info.hash);
        prop_assert_eq!(got.vlan, info.vlan);
        prop_assert_eq!(got.lso_v2(), info.lso);
        prop_assert_eq!(got.tx_checksum(), info.checksum);
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_packet_header(&b);
        let _ = PacketMessage::parse_message(&b);
        for m in Messages::new(&b) {
            if let Ok(RndisMessage::Packet(p)) = m {
                let _ = p.info();
                let _ = p.ppis().count();
            }
        }
        let _ = validate_area(&b);
        let _ = PpiIter::new(&b).count();
        let _ = PacketInfo::from_area(&b);
    }

    #[test]
    fn arbitrary_packet_fields_never_panic(pkt in any::<[u32; 9]>(), len in 0u32..200, tail in proptest::collection::vec(any::<u8>(), 0..160)) {
        let b = raw(len, pkt, &tail);
        if let Ok((RndisMessage::Packet(p), n)) = RndisMessage::parse(&b) {
            prop_assert!(n <= b.len());
            prop_assert!(p.data.len() == pkt[1] as usize);
        }
    }

    #[test]
    fn small_offsets_never_panic(p in [0u32..120, 0u32..120, 0u32..120, 0u32..40, 0u32..3, 0u32..120, 0u32..60],
                                 tail in proptest::collection::vec(any::<u8>(), 0..100)) {
        let len = 44 + tail.len() as u32;
        let pkt = [p[0], p[1], p[2], p[3], p[4], p[5], p[6], 0, 0];
        let _ = RndisMessage::parse(&raw(len, pkt, &tail));
    }
}
