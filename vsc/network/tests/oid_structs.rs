//! The NDIS structures carried by OIDs: offload capabilities and parameters as
//! `rndis_filter.c` builds and checks them, RSS capabilities and parameters (table and key at
//! validated offsets), the `NetworkAddress` config parameter, the multicast list.
use netvsc_proto::nvsp::NvspVersion;
use netvsc_proto::oid::*;
use proptest::prelude::*;
use zerocopy::IntoBytes;

#[test]
fn offload_caps_query_and_answer() {
    let mut b = [0xffu8; 200];
    for (v, rev, size) in [(NvspVersion::V61, 3, 156), (NvspVersion::V5, 3, 156), (NvspVersion::V4, 2, 144), (NvspVersion::V2, 1, 112)] {
        let n = build_offload_caps_query(&mut b, v).unwrap();
        assert_eq!(n, size);
        assert_eq!(&b[..4], &[NDIS_OBJECT_TYPE_OFFLOAD, rev, size as u8, 0]);
        assert!(b[4..n].iter().all(|x| *x == 0));
        // The host answers with the size asked for, which Linux accepts.
        let caps = NdisOffload::typical(62780, true);
        let req = NdisObjectHeader { obj_type: NDIS_OBJECT_TYPE_OFFLOAD, revision: rev, size: size as u16 };
        let m = caps.write_caps(&mut b, Some(req)).unwrap();
        assert_eq!(m, size);
        let back = NdisOffload::parse_caps(&b[..m]).unwrap();
        assert_eq!(back.header.revision, rev);
        assert_eq!(back.csum, caps.csum);
        assert_eq!(back.lsov2, caps.lsov2);
        assert_eq!(back.rsc.ip4, if size == 156 { 1 } else { 0 }, "rsc is past the 6.1 size");
    }
    let full = NdisOffload::typical(1 << 16, false).write_caps(&mut b, None).unwrap();
    assert_eq!(full, NDIS_OFFLOAD_SIZE);

    // rndis_query_hwcaps() checks.
    let good = b[..full].to_vec();
    let with = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut v = good.clone();
        f(&mut v);
        NdisOffload::parse_caps(&v)
    };
    assert_eq!(with(&|v| v[0] = NDIS_OBJECT_TYPE_DEFAULT), Err(NdisError::ObjectType(0x80)));
    assert_eq!(with(&|v| v[1] = 0), Err(NdisError::Revision(0)));
    assert_eq!(with(&|v| v[2] = 111), Err(NdisError::ObjectSize(111)));
    assert_eq!(with(&|v| v.truncate(150)), Err(NdisError::ObjectSize(156)));
    assert_eq!(with(&|v| v.push(0)), Err(NdisError::TooShort { need: 157, have: 156 }));
    assert_eq!(NdisOffload::parse_caps(&[0xa7, 1]), Err(NdisError::TooShort { need: 4, have: 2 }));
}

#[test]
fn offload_plan_like_rndis_netdev_set_hwcaps() {
    let caps = NdisOffload::typical(62780, false);
    let plan = OffloadPlan::linux(&caps, false);
    let p = plan.params;
    assert_eq!(
        [p.ip_v4_csum, p.tcp_ip_v4_csum, p.udp_ip_v4_csum, p.tcp_ip_v6_csum, p.udp_ip_v6_csum, p.lso_v2_ipv4, p.lso_v2_ipv6, p.rsc_ip_v4],
        [1, 4, 4, 4, 4, 2, 2, 0]
    );
    assert!(plan.ip_csum && plan.ipv6_csum && plan.tso && plan.tso6 && !plan.lro);
    assert_eq!(plan.tx_checksum_mask, TRANSPORT_INFO_IPV4_TCP | TRANSPORT_INFO_IPV4_UDP | TRANSPORT_INFO_IPV6_TCP | TRANSPORT_INFO_IPV6_UDP);
    assert_eq!(plan.gso_max_size, 62780);

    let rsc = NdisOffload::typical(1 << 20, true);
    assert_eq!(OffloadPlan::linux(&rsc, true).params.rsc_ip_v6, NDIS_OFFLOAD_PARAMETERS_RSC_ENABLED);
    assert_eq!(OffloadPlan::linux(&rsc, false).params.rsc_ip_v4, NDIS_OFFLOAD_PARAMETERS_RSC_DISABLED);
    assert_eq!(OffloadPlan::linux(&rsc, true).gso_max_size, GSO_LEGACY_MAX_SIZE);

    // Nothing offered: only the IP header checksum "disabled" request.
    let none = OffloadPlan::linux(&NdisOffload::default(), true);
    assert_eq!(none.params, NdisOffloadParams { ip_v4_csum: 1, ..Default::default() });
    assert_eq!(none.tx_checksum_mask, 0);
    // TCP4 without TCP options: no IPv4 checksum or TSO.
    let mut c = caps;
    c.csum.ip4_txcsum = NDIS_TXCSUM_CAP_TCP4;
    assert!(!OffloadPlan::linux(&c, false).tso);
}

#[test]
fn offload_params_wire() {
    let p = OffloadPlan::linux(&NdisOffload::typical(62780, false), false).params;
    let mut b = [0u8; 64];
    // NVSP 4: 22 bytes, UDP fields cleared; header 0x80 / 3 / size.
    let n = p.write(&mut b, NvspVersion::V4).unwrap();
    assert_eq!(n, VERSION_4_OFFLOAD_SIZE);
    assert_eq!(&b[..n], &[0x80, 3, 22, 0, 1, 4, 0, 4, 0, 0, 0, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let back = NdisOffloadParams::parse(&b[..n]).unwrap();
    assert_eq!((back.tcp_ip_v4_csum, back.udp_ip_v4_csum, back.rsc_ip_v4), (4, 0, 0));
    let n = p.write(&mut b, NvspVersion::V61).unwrap();
    assert_eq!(n, NDIS_OFFLOAD_PARAMS_SIZE);
    let back = NdisOffloadParams::parse(&b[..n]).unwrap();
    assert_eq!(back.udp_ip_v6_csum, 4);
    assert_eq!(back.as_bytes()[4..], p.as_bytes()[4..]);

    let bad = |f: &dyn Fn(&mut [u8])| {
        let mut v = b[..28].to_vec();
        f(&mut v);
        NdisOffloadParams::parse(&v)
    };
    assert_eq!(bad(&|v| v[0] = 0xa7), Err(NdisError::ObjectType(0xa7)));
    assert_eq!(bad(&|v| v[2] = 19), Err(NdisError::ObjectSize(19)));
    assert_eq!(bad(&|v| v[2] = 29), Err(NdisError::ObjectSize(29)));
    assert_eq!(bad(&|v| v[5] = 5), Err(NdisError::FieldValue(5)));
    assert_eq!(bad(&|v| v[11] = 3), Err(NdisError::FieldValue(3)));
    assert_eq!(NdisOffloadParams::parse(&[0x80]), Err(NdisError::TooShort { need: 4, have: 1 }));
}

#[test]
fn rss_params_build_and_parse() {
    let table: Vec<u16> = (0..128).map(|i| default_rx_table_entry(i, 4) as u16).collect();
    let mut b = vec![0u8; 1200];
    let n = RssParams::build(&mut b, 0, LINUX_RSS_HASH_INFO, &table, &NETVSC_HASH_KEY).unwrap();
    assert_eq!(n, 40 + 4 * 128 + 40);
    // rndis_set_rss_param_msg(): header, flag, hashinfo, table size/offset, key size/offset.
    let w = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    assert_eq!(&b[..4], &[NDIS_OBJECT_TYPE_RSS_PARAMETERS, 2, 40, 0]);
    assert_eq!(w(8), 0x1701);
    assert_eq!((u16::from_le_bytes([b[12], b[13]]), w(16)), (512, 40));
    assert_eq!((u16::from_le_bytes([b[20], b[21]]), w(24)), (40, 552));
    assert_eq!(w(40 + 4 * 5), 1);
    let p = RssParams::parse(&b[..n]).unwrap();
    assert_eq!(p.entry_count(), 128);
    assert!(p.entries().zip(table.iter()).all(|(a, b)| a == u32::from(*b)));
    assert_eq!(p.key, &NETVSC_HASH_KEY[..]);
    assert!(!p.disables());

    // Linux's ITAB_NUM_MAX (256 entries) goes past the NDIS revision 2 maximum and is taken.
    let big: Vec<u16> = vec![1; 256];
    let n2 = RssParams::build(&mut b, 0, LINUX_RSS_HASH_INFO, &big, &NETVSC_HASH_KEY).unwrap();
    assert_eq!(RssParams::parse(&b[..n2]).unwrap().entry_count(), 256);

    let n = RssParams::build(&mut b, 0, LINUX_RSS_HASH_INFO, &table, &NETVSC_HASH_KEY).unwrap();
    let good = b[..n].to_vec();
    let put16 = |v: &mut Vec<u8>, o: usize, x: u16| v[o..o + 2].copy_from_slice(&x.to_le_bytes());
    let put32 = |v: &mut Vec<u8>, o: usize, x: u32| v[o..o + 4].copy_from_slice(&x.to_le_bytes());
    let with = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut v = good.clone();
        f(&mut v);
        RssParams::parse(&v).map(|p| (p.entry_count(), p.key.len()))
    };
    assert_eq!(with(&|v| v[0] = 0x88), Err(NdisError::ObjectType(0x88)));
    assert_eq!(with(&|v| put16(v, 2, 27)), Err(NdisError::ObjectSize(27)));
    assert_eq!(with(&|v| put16(v, 2, 2000)), Err(NdisError::ObjectSize(2000)));
    assert_eq!(with(&|v| put32(v, 8, 0x1702)), Err(NdisError::FieldValue(0x1702)));
    assert_eq!(with(&|v| put16(v, 12, 6)), Err(NdisError::TableSize(6)));
    assert_eq!(with(&|v| put16(v, 12, 4 * 257)), Err(NdisError::TableSize(1028)));
    assert_eq!(with(&|v| put32(v, 16, 20)), Err(NdisError::TableOutside { offset: 20, size: 512 }));
    assert_eq!(with(&|v| put32(v, 16, 41)), Err(NdisError::TableOutside { offset: 41, size: 512 }));
    assert_eq!(with(&|v| put32(v, 16, 100)), Err(NdisError::TableOutside { offset: 100, size: 512 }));
    assert_eq!(with(&|v| put32(v, 16, u32::MAX)), Err(NdisError::TableOutside { offset: u32::MAX, size: 512 }));
    assert_eq!(with(&|v| put16(v, 20, 41)), Err(NdisError::KeySize(41)));
    assert_eq!(with(&|v| put32(v, 24, 553)), Err(NdisError::KeyOutside { offset: 553, size: 40 }));
    assert_eq!(with(&|v| put32(v, 24, 36)), Err(NdisError::KeyOutside { offset: 36, size: 40 }));
    assert_eq!(with(&|v| put32(v, 24, 100)), Err(NdisError::TableKeyOverlap));
    // Flags: unchanged parts are not looked at; disable ignores table and key.
    assert_eq!(with(&|v| {
        put16(v, 4, NDIS_RSS_PARAM_FLAG_ITABLE_UNCHANGED);
        put32(v, 16, u32::MAX);
    }), Ok((0, 40)));
    assert_eq!(with(&|v| {
        put16(v, 4, NDIS_RSS_PARAM_FLAG_HASH_KEY_UNCHANGED | NDIS_RSS_PARAM_FLAG_HASH_INFO_UNCHANGED);
        put32(v, 24, u32::MAX);
        put32(v, 8, 0);
    }), Ok((128, 0)));
    assert_eq!(with(&|v| {
        put16(v, 4, NDIS_RSS_PARAM_FLAG_DISABLE_RSS);
        put32(v, 8, 0);
        put32(v, 16, u32::MAX);
    }), Ok((0, 0)));
    assert_eq!(RssParams::build(&mut b, 0, 0, &table, &[0; 41]), Err(NdisError::KeySize(41)));
    assert_eq!(RssParams::build(&mut b[..100], 0, 0, &table, &[]), Err(NdisError::BufferTooSmall { need: 552, have: 100 }));
}

#[test]
fn rss_capabilities() {
    let mut b = [0u8; 32];
    assert_eq!(NdisRecvScaleCap::build_query(&mut b), Ok(18));
    assert_eq!(&b[..4], &[0x88, 2, 18, 0]);
    assert!(b[4..18].iter().all(|x| *x == 0));
    let c = NdisRecvScaleCap::new(8, 128);
    assert_eq!(c.write(&mut b), Ok(18));
    let back = NdisRecvScaleCap::parse(&b[..18]).unwrap();
    assert_eq!(back, c);
    assert_eq!(back.linux_table_size(), 128);
    assert_eq!(NdisRecvScaleCap { num_indirect_tabent: 0, ..c }.linux_table_size(), ITAB_NUM);
    assert_eq!(NdisRecvScaleCap { num_indirect_tabent: 300, ..c }.linux_table_size(), ITAB_NUM);
    assert_eq!(NdisRecvScaleCap { num_indirect_tabent: 256, ..c }.linux_table_size(), 256);
    // Linux's result buffer is 18 bytes: longer answers fail, shorter read as zero.
    assert_eq!(NdisRecvScaleCap::parse(&[0; 20]), Err(NdisError::TooShort { need: 20, have: 18 }));
    let short = NdisRecvScaleCap::parse(&b[..12]).unwrap();
    assert_eq!({ short.num_recv_que }, 0);
    assert_eq!(NdisRecvScaleCap::parse(&[0x89, 2, 18, 0]), Err(NdisError::ObjectType(0x89)));
}

#[test]
fn network_address_parameter() {
    let mac = [0x00, 0x15, 0x5d, 0xab, 0xcd, 0xef];
    let mut b = [0u8; 128];
    // rndis_filter_set_device_mac(): 20 + 2 * 14 + 4 * 6 = 72 bytes.
    let n = ConfigParameter::build_mac(&mut b, &mac).unwrap();
    assert_eq!(n, 72);
    let w = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    assert_eq!([w(0), w(4), w(8), w(12), w(16)], [20, 28, RNDIS_CONFIG_PARAM_TYPE_STRING, 48, 24]);
    let utf16: Vec<u8> = "NetworkAddress00155dabcdef".encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
    assert_eq!(&b[20..72], &utf16[..]);
    let p = ConfigParameter::parse(&b[..n]).unwrap();
    assert!(p.name_is("NetworkAddress") && p.name_is("networkaddress") && !p.name_is("NetworkAddres"));
    assert_eq!(p.value_mac(), Some(mac));
    assert_eq!(p.value_u32(), None);

    let n = ConfigParameter::build_string(&mut b, "NetworkAddress", "00-15-5D-AB-CD-EF").unwrap();
    assert_eq!(ConfigParameter::parse(&b[..n]).unwrap().value_mac(), Some(mac));
    let n = ConfigParameter::build_string(&mut b, "NetworkAddress", "00155dabcdeg").unwrap();
    assert_eq!(ConfigParameter::parse(&b[..n]).unwrap().value_mac(), None);
    let n = ConfigParameter::build_string(&mut b, "NetworkAddress", "00155dabcd").unwrap();
    assert_eq!(ConfigParameter::parse(&b[..n]).unwrap().value_mac(), None);

    // An integer parameter.
    let mut v = [20u32, 4, RNDIS_CONFIG_PARAM_TYPE_INTEGER, 24, 4].iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    v.extend("Jumb".bytes());
    v.extend(9014u32.to_le_bytes());
    assert_eq!(ConfigParameter::parse(&v).unwrap().value_u32(), Some(9014));
    // Outside the buffer, inside the fixed part, odd lengths.
    let bad = |w: [u32; 5]| {
        let mut v: Vec<u8> = w.iter().flat_map(|x| x.to_le_bytes()).collect();
        v.extend([0u8; 12]);
        ConfigParameter::parse(&v).map(|_| ())
    };
    assert_eq!(bad([20, 40, 2, 20, 0]), Err(NdisError::ParameterOutside { offset: 20, len: 40 }));
    assert_eq!(bad([4, 4, 2, 20, 0]), Err(NdisError::ParameterOutside { offset: 4, len: 4 }));
    assert_eq!(bad([20, 4, 2, u32::MAX, 2]), Err(NdisError::ParameterOutside { offset: u32::MAX, len: 2 }));
    assert_eq!(bad([20, 3, 2, 24, 0]), Err(NdisError::OddStringLength(3)));
    assert_eq!(bad([20, 4, 2, 24, 3]), Err(NdisError::OddStringLength(3)));
    assert_eq!(ConfigParameter::parse(&[0; 19]), Err(NdisError::TooShort { need: 20, have: 19 }));
}

#[test]
fn multicast_and_filters() {
    let list: Vec<u8> = (0..18).collect();
    let a: Vec<[u8; 6]> = multicast_addresses(&list).unwrap().collect();
    assert_eq!(a, [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11], [12, 13, 14, 15, 16, 17]]);
    assert!(matches!(multicast_addresses(&list[..7]), Err(NdisError::MulticastLength(7))));
    assert_eq!(multicast_addresses(&[]).unwrap().count(), 0);
    assert_eq!(LINUX_OPEN_PACKET_FILTER, 0xd);
    assert_eq!(linux_packet_filter(true, true, true), NDIS_PACKET_TYPE_PROMISCUOUS);
    assert_eq!(linux_packet_filter(false, false, true), NDIS_PACKET_TYPE_DIRECTED | NDIS_PACKET_TYPE_BROADCAST);
    assert_eq!(linux_packet_filter(false, true, true), LINUX_OPEN_PACKET_FILTER);

    let e = NdisOffloadEncapsulation::ethernet();
    assert_eq!(NdisOffloadEncapsulation::parse(e.as_bytes()), Ok(e));
    assert_eq!(NdisOffloadEncapsulation::parse(&e.as_bytes()[..27]), Err(NdisError::TooShort { need: 28, have: 27 }));
    for err in [NdisError::TableKeyOverlap, NdisError::KeySize(0), NdisError::MulticastLength(1)] {
        assert_eq!(err.to_string(), err.as_str());
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..700)) {
        let _ = NdisOffload::parse_caps(&b);
        let _ = NdisOffloadParams::parse(&b);
        if let Ok(p) = RssParams::parse(&b) {
            prop_assert!(p.entry_count() <= ITAB_NUM_MAX as usize && p.key.len() <= 40);
            let _ = p.entries().count();
        }
        let _ = NdisRecvScaleCap::parse(&b);
        if let Ok(c) = ConfigParameter::parse(&b) {
            let _ = (c.name_is("NetworkAddress"), c.value_mac(), c.value_u32());
        }
        let _ = NdisOffloadEncapsulation::parse(&b);
        if let Ok(i) = multicast_addresses(&b) { let _ = i.count(); }
    }

    #[test]
    fn rss_header_fields_never_panic(w in any::<[u32; 10]>(), tail in proptest::collection::vec(any::<u8>(), 0..128)) {
        let mut b: Vec<u8> = w.iter().flat_map(|x| x.to_le_bytes()).collect();
        b[0] = NDIS_OBJECT_TYPE_RSS_PARAMETERS;
        b[2..4].copy_from_slice(&40u16.to_le_bytes());
        b.extend(tail);
        let _ = RssParams::parse(&b);
    }

    #[test]
    fn rss_round_trip(table in proptest::collection::vec(any::<u16>(), 0..256), key in proptest::collection::vec(any::<u8>(), 1..=40)) {
        let mut b = vec![0u8; 1200];
        let n = RssParams::build(&mut b, 0, LINUX_RSS_HASH_INFO, &table, &key).unwrap();
        let p = RssParams::parse(&b[..n]).unwrap();
        prop_assert_eq!(p.entries().collect::<Vec<u32>>(), table.iter().map(|x| u32::from(*x)).collect::<Vec<u32>>());
        prop_assert_eq!(p.key, &key[..]);
    }

    #[test]
    fn mac_round_trip(mac in any::<[u8; 6]>()) {
        let mut b = [0u8; 80];
        let n = ConfigParameter::build_mac(&mut b, &mac).unwrap();
        prop_assert_eq!(ConfigParameter::parse(&b[..n]).unwrap().value_mac(), Some(mac));
    }
}
