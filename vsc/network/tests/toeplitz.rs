//! The Toeplitz hash against Microsoft's published verification suite ("Verifying the RSS Hash
//! Calculation", NDIS documentation; the same vectors appear in the Intel 82599 datasheet,
//! 7.1.2.8.3), flow hashing of whole frames, and queue selection.
use netvsc_proto::oid::*;
use netvsc_proto::toeplitz::*;
use proptest::prelude::*;
use std::net::{Ipv4Addr, Ipv6Addr};

/// (destination, destination port, source, source port, IPv4 hash, IPv4 with TCP hash).
const V4: [(&str, u16, &str, u16, u32, u32); 5] = [
    ("161.142.100.80", 1766, "66.9.149.187", 2794, 0x323e_8fc2, 0x51cc_c178),
    ("65.69.140.83", 4739, "199.92.111.2", 14230, 0xd718_262a, 0xc626_b0ea),
    ("12.22.207.184", 38024, "24.19.198.95", 12898, 0xd2d0_a5de, 0x5c2b_394a),
    ("209.142.163.6", 2217, "38.27.205.30", 48228, 0x8298_9176, 0xafc7_327f),
    ("202.188.127.2", 1303, "153.39.163.191", 44251, 0x5d18_09c5, 0x10e8_28a2),
];

/// The IPv6 vectors of the same suite.
const V6: [(&str, u16, &str, u16, u32, u32); 3] = [
    ("3ffe:2501:200:3::1", 1766, "3ffe:2501:200:1fff::7", 2794, 0x2cc1_8cd5, 0x4020_7d3d),
    ("ff02::1", 4739, "3ffe:501:8::260:97ff:fe40:efab", 14230, 0x0f0c_461c, 0xdde5_1bbf),
    ("fe80::200:f8ff:fe21:67cf", 38024, "3ffe:1900:4545:3:200:f8ff:fe21:67cf", 44251, 0x4b61_e985, 0x02d1_feef),
];

fn v4(s: &str) -> [u8; 4] {
    s.parse::<Ipv4Addr>().unwrap().octets()
}

fn v6(s: &str) -> [u8; 16] {
    s.parse::<Ipv6Addr>().unwrap().octets()
}

#[test]
fn microsoft_ipv4_vectors() {
    for (dst, dport, src, sport, h2, h4) in V4 {
        assert_eq!(hash_ipv4(&DEFAULT_KEY, v4(src), v4(dst)), h2, "{src} -> {dst}");
        assert_eq!(hash_ipv4_ports(&DEFAULT_KEY, v4(src), v4(dst), sport, dport), h4, "{src}:{sport} -> {dst}:{dport}");
    }
}

#[test]
fn microsoft_ipv6_vectors() {
    for (dst, dport, src, sport, h2, h4) in V6 {
        assert_eq!(hash_ipv6(&DEFAULT_KEY, v6(src), v6(dst)), h2, "{src} -> {dst}");
        assert_eq!(hash_ipv6_ports(&DEFAULT_KEY, v6(src), v6(dst), sport, dport), h4, "{src}:{sport} -> {dst}:{dport}");
    }
}

#[test]
fn default_key_is_linux_netvsc_hash_key() {
    assert_eq!(DEFAULT_KEY, NETVSC_HASH_KEY);
    assert_eq!(hash(&DEFAULT_KEY, &[]), 0);
    // One input bit selects the key window starting at that bit.
    assert_eq!(hash(&DEFAULT_KEY, &[0x80]), 0x6d5a_56da);
    assert_eq!(hash(&DEFAULT_KEY, &[0x40]), 0x6d5a_56da << 1);
    // Key bits past a short key count as zero; nothing panics.
    assert_eq!(hash(&[0xff], &[0x80]), 0xff00_0000);
    assert_eq!(hash(&[], &[0xff; 64]), 0);
}

fn eth(ethertype: u16, vlan: bool, l3: &[u8]) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
    if vlan {
        f.extend([0x81, 0x00, 0x20, 0x0a]);
    }
    f.extend(ethertype.to_be_bytes());
    f.extend(l3);
    f
}

fn ipv4(proto: u8, src: [u8; 4], dst: [u8; 4], frag: u16, l4: &[u8]) -> Vec<u8> {
    let mut h = vec![0x45, 0, 0, 0, 0, 0];
    h.extend(frag.to_be_bytes());
    h.extend([64, proto, 0, 0]);
    h.extend(src);
    h.extend(dst);
    h.extend(l4);
    h
}

fn ports(s: u16, d: u16) -> Vec<u8> {
    [s.to_be_bytes(), d.to_be_bytes()].concat()
}

#[test]
fn frames() {
    let (dst, dport, src, sport, h2, h4) = V4[0];
    let all = LINUX_RSS_HASH_INFO | NDIS_HASH_UDP_IPV4 | NDIS_HASH_UDP_IPV6;
    let tcp = eth(0x0800, false, &ipv4(6, v4(src), v4(dst), 0, &ports(sport, dport)));
    let f = hash_frame(&DEFAULT_KEY, all, &tcp).unwrap();
    assert_eq!(f, FlowHash { hash: h4, hash_info: NDIS_HASH_FUNC_TOEPLITZ | NDIS_HASH_TCP_IPV4 });
    // VLAN-tagged: same flow.
    let tagged = eth(0x0800, true, &ipv4(6, v4(src), v4(dst), 0, &ports(sport, dport)));
    assert_eq!(hash_frame(&DEFAULT_KEY, all, &tagged), Some(f));
    // Fragments and TCP hashing off: the 2-tuple.
    let frag = eth(0x0800, false, &ipv4(6, v4(src), v4(dst), 0x2000, &ports(sport, dport)));
    assert_eq!(hash_frame(&DEFAULT_KEY, all, &frag).unwrap().hash, h2);
    assert_eq!(hash_frame(&DEFAULT_KEY, NDIS_HASH_IPV4, &tcp).unwrap(), FlowHash { hash: h2, hash_info: 0x101 });
    // UDP: 4-tuple only when UDP hashing is on (Linux enables only TCP).
    let udp = eth(0x0800, false, &ipv4(17, v4(src), v4(dst), 0, &ports(sport, dport)));
    assert_eq!(hash_frame(&DEFAULT_KEY, all, &udp).unwrap().hash, h4);
    assert_eq!(hash_frame(&DEFAULT_KEY, LINUX_RSS_HASH_INFO, &udp).unwrap().hash, h2);
    assert_eq!(hash_frame(&DEFAULT_KEY, NDIS_HASH_TCP_IPV4, &udp), None);
    // Truncated L4: 2-tuple; truncated L3 or not IP: none.
    assert_eq!(hash_frame(&DEFAULT_KEY, all, &tcp[..36]).unwrap().hash, h2);
    assert_eq!(hash_frame(&DEFAULT_KEY, all, &tcp[..30]), None);
    assert_eq!(hash_frame(&DEFAULT_KEY, all, &eth(0x0806, false, &[0; 28])), None);

    let (dst, dport, src, sport, h2, h4) = V6[0];
    let mut ip6 = vec![0x60, 0, 0, 0, 0, 4, 6, 64];
    ip6.extend(v6(src));
    ip6.extend(v6(dst));
    ip6.extend(ports(sport, dport));
    let f6 = eth(0x86dd, false, &ip6);
    assert_eq!(hash_frame(&DEFAULT_KEY, all, &f6), Some(FlowHash { hash: h4, hash_info: 1 | NDIS_HASH_TCP_IPV6 }));
    assert_eq!(hash_frame(&DEFAULT_KEY, NDIS_HASH_IPV6, &f6).unwrap().hash, h2);
    ip6[6] = 0; // hop-by-hop header: not walked, 2-tuple
    assert_eq!(hash_frame(&DEFAULT_KEY, all, &eth(0x86dd, false, &ip6)).unwrap().hash, h2);
}

#[test]
fn queue_selection() {
    let table: Vec<u32> = (0..128).map(|i| default_rx_table_entry(i, 3)).collect();
    assert_eq!(select_queue(&table, 0x51cc_c178), Some(table[0x78]));
    assert_eq!(select_queue(&table, 130), Some(table[2]));
    assert_eq!(select_queue(&[], 5), None);
    let mut tx = [0u32; 16];
    for (i, e) in tx.iter_mut().enumerate() {
        *e = i as u32 % 4;
    }
    assert_eq!(send_queue(&tx, 0x1235), 5 % 4);
}

proptest! {
    #[test]
    fn frames_never_panic(key in proptest::collection::vec(any::<u8>(), 0..48), info in any::<u32>(),
                          frame in proptest::collection::vec(any::<u8>(), 0..128)) {
        let _ = hash_frame(&key, info, &frame);
        let _ = hash(&key, &frame);
    }

    #[test]
    fn linear_in_the_input(a in any::<[u8; 12]>(), b in any::<[u8; 12]>()) {
        // Toeplitz is linear over GF(2): h(a ^ b) = h(a) ^ h(b).
        let x: Vec<u8> = a.iter().zip(b.iter()).map(|(p, q)| p ^ q).collect();
        prop_assert_eq!(hash(&DEFAULT_KEY, &x), hash(&DEFAULT_KEY, &a) ^ hash(&DEFAULT_KEY, &b));
    }

    #[test]
    fn selected_queue_is_a_table_entry(table in proptest::collection::vec(0u32..64, 1..256), h in any::<u32>()) {
        let q = select_queue(&table, h).unwrap();
        prop_assert!(table.contains(&q));
    }
}
