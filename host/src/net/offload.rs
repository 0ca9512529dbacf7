//! What a NIC does to a frame in "hardware": Internet checksums, TCP segmentation (LSOv2),
//! 802.1Q tag insertion and stripping.
//!
//! Frames come from the guest (untrusted): every header offset is checked against the frame
//! and a frame whose headers do not parse is refused with a reason, never indexed blindly.

/// Ethernet header length.
pub const ETH_HLEN: usize = 14;
/// 802.1Q tag length.
pub const VLAN_HLEN: usize = 4;
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
/// IP protocol number of TCP.
pub const IPPROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const IPPROTO_UDP: u8 = 17;
const TCP_FIN: u8 = 0x01;
const TCP_PSH: u8 = 0x08;
const TCP_CWR: u8 = 0x80;

/// Where the headers of an IP frame are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Headers {
    /// Offset of the IP header.
    pub l3: usize,
    /// IPv6 (else IPv4).
    pub ipv6: bool,
    /// Offset of the transport header.
    pub l4: usize,
    /// Transport protocol (IPv6: the first next-header; extension headers are not walked).
    pub proto: u8,
}

fn be16(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(off)?, *b.get(off.checked_add(1)?)?]))
}

fn put_be16(b: &mut [u8], off: usize, v: u16) -> Option<()> {
    let end = off.checked_add(2)?;
    b.get_mut(off..end)?.copy_from_slice(&v.to_be_bytes());
    Some(())
}

fn be32(b: &[u8], off: usize) -> Option<u32> {
    let end = off.checked_add(4)?;
    let s = b.get(off..end)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Parses the Ethernet (one optional VLAN tag), IP and transport header offsets.
pub fn headers(frame: &[u8]) -> Option<Headers> {
    let mut off = 12;
    let mut ty = be16(frame, off)?;
    if ty == ETHERTYPE_VLAN {
        off += VLAN_HLEN;
        ty = be16(frame, off)?;
    }
    let l3 = off + 2;
    match ty {
        ETHERTYPE_IPV4 => {
            let vihl = *frame.get(l3)?;
            let ihl = usize::from(vihl & 0xf) * 4;
            if vihl >> 4 != 4 || ihl < 20 || frame.len() < l3 + ihl {
                return None;
            }
            Some(Headers { l3, ipv6: false, l4: l3 + ihl, proto: *frame.get(l3 + 9)? })
        }
        ETHERTYPE_IPV6 => {
            if frame.get(l3)? >> 4 != 6 || frame.len() < l3 + 40 {
                return None;
            }
            Some(Headers { l3, ipv6: true, l4: l3 + 40, proto: *frame.get(l3 + 6)? })
        }
        _ => None,
    }
}

/// Adds `data` to a ones'-complement sum (RFC 1071), as 16-bit big-endian words.
pub fn sum(mut acc: u64, data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let v = u64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        acc = acc.wrapping_add(v >> 32).wrapping_add(v & 0xffff_ffff);
    }
    let rest = chunks.remainder();
    let mut pairs = rest.chunks_exact(2);
    for p in &mut pairs {
        acc = acc.wrapping_add(u64::from(u16::from_be_bytes([p[0], p[1]])));
    }
    if let [last] = pairs.remainder() {
        acc = acc.wrapping_add(u64::from(*last) << 8);
    }
    acc
}

/// Folds a sum to 16 bits (not complemented).
pub fn fold(mut acc: u64) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The pseudo-header sum for a transport segment of `l4_len` bytes.
fn pseudo(frame: &[u8], h: &Headers, l4_len: usize) -> Option<u64> {
    let (src, n) = if h.ipv6 { (h.l3 + 8, 32) } else { (h.l3 + 12, 8) };
    let addrs = frame.get(src..src + n)?;
    Some(sum(0, addrs) + u64::from(h.proto) + l4_len as u64)
}

/// Offset of the checksum field in the transport header.
fn csum_field(proto: u8) -> Option<usize> {
    match proto {
        IPPROTO_TCP => Some(16),
        IPPROTO_UDP => Some(6),
        _ => None,
    }
}

/// Recomputes the IPv4 header checksum.
pub fn fill_ipv4_checksum(frame: &mut [u8], h: &Headers) -> Option<()> {
    if h.ipv6 {
        return Some(());
    }
    put_be16(frame, h.l3 + 10, 0)?;
    let c = !fold(sum(0, frame.get(h.l3..h.l4)?));
    put_be16(frame, h.l3 + 10, c)
}

/// Fixes the IP length fields to the frame's real length (LSO senders zero them).
fn fix_ip_length(frame: &mut [u8], h: &Headers) -> Option<()> {
    let l3_len = frame.len().checked_sub(h.l3)?;
    if h.ipv6 {
        put_be16(frame, h.l3 + 4, u16::try_from(l3_len.checked_sub(40)?).ok()?)
    } else {
        put_be16(frame, h.l3 + 2, u16::try_from(l3_len).ok()?)?;
        fill_ipv4_checksum(frame, h)
    }
}

/// Computes the full TCP or UDP checksum of the frame from scratch (whatever the field held).
pub fn fill_l4_checksum(frame: &mut [u8], h: &Headers) -> Option<()> {
    let field = h.l4.checked_add(csum_field(h.proto)?)?;
    let l4_len = frame.len().checked_sub(h.l4)?;
    put_be16(frame, field, 0)?;
    let mut c = !fold(pseudo(frame, h, l4_len)? + sum(0, frame.get(h.l4..)?));
    if c == 0 && h.proto == IPPROTO_UDP {
        c = 0xffff;
    }
    put_be16(frame, field, c)
}

/// Whether the frame's IPv4 header and TCP/UDP checksums are correct (frames that are not
/// TCP/UDP over IP: `None`).
pub fn checksums_ok(frame: &[u8]) -> Option<bool> {
    let h = headers(frame)?;
    csum_field(h.proto)?;
    if !h.ipv6 && fold(sum(0, frame.get(h.l3..h.l4)?)) != 0xffff {
        return Some(false);
    }
    if h.proto == IPPROTO_UDP && be16(frame, h.l4 + 6)? == 0 && !h.ipv6 {
        return Some(true);
    }
    let l4_len = frame.len().checked_sub(h.l4)?;
    Some(fold(pseudo(frame, &h, l4_len)? + sum(0, frame.get(h.l4..)?)) == 0xffff)
}

/// Completes a partial checksum (virtio `NEEDS_CSUM`): the sum of `frame[start..]` goes into
/// the 16 bits at `start + offset`, which hold the pseudo-header sum.
pub fn complete_partial(frame: &mut [u8], start: usize, offset: usize) -> Option<()> {
    let field = start.checked_add(offset)?;
    be16(frame, field)?;
    let c = !fold(sum(0, frame.get(start..)?));
    put_be16(frame, field, c)
}

/// A TCP segmentation request for a frame, normalised: IP lengths real, IPv4 header checksum
/// correct, TCP checksum field = pseudo-header sum over the whole segment (the virtio/Linux
/// `CHECKSUM_PARTIAL` convention, so a TAP device can take it as is).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gso {
    /// Segment payload size.
    pub mss: u16,
    /// IPv6 (else IPv4).
    pub ipv6: bool,
    /// Offset of the TCP header.
    pub l4: usize,
    /// Bytes of all headers (Ethernet to TCP options).
    pub hdr_len: usize,
}

/// Prepares an LSOv2 frame (`tcp_header_offset` as the guest said, `mss`): checks that the
/// headers are where the guest says, that it is TCP, and normalises it ([`Gso`]).
pub fn prepare_lso(frame: &mut [u8], tcp_offset: usize, mss: u32, ipv6: bool) -> Result<Gso, &'static str> {
    let h = headers(frame).ok_or("LSO frame without an IP header")?;
    if h.l4 != tcp_offset || h.ipv6 != ipv6 {
        return Err("LSO header offset or IP version does not match the frame");
    }
    if h.proto != IPPROTO_TCP {
        return Err("LSO frame is not TCP");
    }
    let doff = usize::from(*frame.get(h.l4 + 12).ok_or("LSO frame shorter than its TCP header")? >> 4) * 4;
    let hdr_len = h.l4 + doff;
    if doff < 20 || frame.len() < hdr_len {
        return Err("LSO frame with a bad TCP header length");
    }
    let mss = u16::try_from(mss).ok().filter(|m| *m >= 64).ok_or("LSO MSS out of range")?;
    fix_ip_length(frame, &h).ok_or("LSO frame too long for its IP header")?;
    let l4_len = frame.len() - h.l4;
    let p = fold(pseudo(frame, &h, l4_len).ok_or("LSO frame too short")?);
    put_be16(frame, h.l4 + 16, p).ok_or("LSO frame too short")?;
    Ok(Gso { mss, ipv6, l4: h.l4, hdr_len })
}

/// Splits a frame prepared by [`prepare_lso`] into frames of at most `mss` payload bytes,
/// each with correct IP lengths, IPv4 id and checksum, TCP sequence number, flags and
/// checksum.
pub fn segment(frame: &[u8], g: &Gso) -> Vec<Vec<u8>> {
    let Some(hdr) = frame.get(..g.hdr_len) else { return Vec::new() };
    let Some(h) = headers(frame) else { return Vec::new() };
    let payload = &frame[g.hdr_len..];
    let mss = usize::from(g.mss.max(1));
    if payload.len() <= mss {
        let mut f = frame.to_vec();
        let _ = fill_l4_checksum(&mut f, &h);
        return vec![f];
    }
    let seq0 = be32(frame, h.l4 + 4).unwrap_or(0);
    let id0 = if h.ipv6 { 0 } else { be16(frame, h.l3 + 4).unwrap_or(0) };
    let flags = frame.get(h.l4 + 13).copied().unwrap_or(0);
    let n = payload.len().div_ceil(mss);
    let mut out = Vec::with_capacity(n);
    for (i, chunk) in payload.chunks(mss).enumerate() {
        let mut f = Vec::with_capacity(hdr.len() + chunk.len());
        f.extend_from_slice(hdr);
        f.extend_from_slice(chunk);
        let seq = seq0.wrapping_add((i * mss) as u32);
        f[h.l4 + 4..h.l4 + 8].copy_from_slice(&seq.to_be_bytes());
        let mut fl = flags;
        if i + 1 != n {
            fl &= !(TCP_FIN | TCP_PSH);
        }
        if i != 0 {
            fl &= !TCP_CWR;
        }
        f[h.l4 + 13] = fl;
        if !h.ipv6 {
            let _ = put_be16(&mut f, h.l3 + 4, id0.wrapping_add(i as u16));
        }
        let _ = fix_ip_length(&mut f, &h);
        let _ = fill_l4_checksum(&mut f, &h);
        out.push(f);
    }
    out
}

/// Inserts an 802.1Q tag with control field `tci` after the MAC addresses.
pub fn insert_vlan(frame: &mut Vec<u8>, tci: u16) -> Option<()> {
    if frame.len() < 12 {
        return None;
    }
    let mut tag = [0u8; 4];
    tag[..2].copy_from_slice(&ETHERTYPE_VLAN.to_be_bytes());
    tag[2..].copy_from_slice(&tci.to_be_bytes());
    frame.splice(12..12, tag);
    Some(())
}

/// Removes an 802.1Q tag, returning its control field.
pub fn strip_vlan(frame: &mut Vec<u8>) -> Option<u16> {
    if be16(frame, 12)? != ETHERTYPE_VLAN || frame.len() < ETH_HLEN + VLAN_HLEN {
        return None;
    }
    let tci = be16(frame, 14)?;
    frame.drain(12..16);
    Some(tci)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An Ethernet + IPv4 + TCP frame with `payload`, correct checksums.
    pub(crate) fn tcp4(payload: &[u8], seq: u32, flags: u8) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 20];
        f[..6].copy_from_slice(&[0x00, 0x15, 0x5d, 0, 0, 0x10]);
        f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 1]);
        f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        f[14] = 0x45;
        f[22] = 64;
        f[23] = IPPROTO_TCP;
        f[26..30].copy_from_slice(&[10, 99, 0, 1]);
        f[30..34].copy_from_slice(&[10, 99, 0, 2]);
        f[34..36].copy_from_slice(&5001u16.to_be_bytes());
        f[36..38].copy_from_slice(&40000u16.to_be_bytes());
        f[38..42].copy_from_slice(&seq.to_be_bytes());
        f[46] = 5 << 4;
        f[47] = flags;
        f.extend_from_slice(payload);
        let h = headers(&f).unwrap();
        fix_ip_length(&mut f, &h).unwrap();
        fill_l4_checksum(&mut f, &h).unwrap();
        f
    }

    /// An Ethernet + IPv6 + UDP frame.
    pub(crate) fn udp6(payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 40 + 8];
        f[12..14].copy_from_slice(&0x86ddu16.to_be_bytes());
        f[14] = 0x60;
        f[20] = IPPROTO_UDP;
        f[21] = 64;
        f[22..38].copy_from_slice(&[0xfd, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        f[38..54].copy_from_slice(&[0xfd, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        f[54..56].copy_from_slice(&53u16.to_be_bytes());
        f[56..58].copy_from_slice(&5353u16.to_be_bytes());
        f[58..60].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        f.extend_from_slice(payload);
        let h = headers(&f).unwrap();
        fix_ip_length(&mut f, &h).unwrap();
        fill_l4_checksum(&mut f, &h).unwrap();
        f
    }

    #[test]
    fn checksum_golden() {
        // RFC 1071's example words sum to 0xddf2.
        assert_eq!(fold(sum(0, &[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7])), 0xddf2);
        // Odd lengths pad with a zero byte.
        assert_eq!(fold(sum(0, &[0x12, 0x34, 0x56])), 0x6834);
    }

    #[test]
    fn frames_have_good_checksums_and_corruption_is_seen() {
        let mut f = tcp4(b"hello world", 1, TCP_PSH);
        assert_eq!(checksums_ok(&f), Some(true));
        f[60] ^= 1;
        assert_eq!(checksums_ok(&f), Some(false));
        let u = udp6(b"abc");
        assert_eq!(checksums_ok(&u), Some(true));
        assert_eq!(checksums_ok(&[0u8; 20]), None);
    }

    #[test]
    fn partial_checksum_completion() {
        let good = tcp4(&[7u8; 333], 5, 0);
        let mut f = good.clone();
        let h = headers(&f).unwrap();
        let p = fold(pseudo(&f, &h, f.len() - h.l4).unwrap());
        put_be16(&mut f, h.l4 + 16, p).unwrap();
        complete_partial(&mut f, h.l4, 16).unwrap();
        assert_eq!(f, good);
    }

    #[test]
    fn lso_segments_are_valid_tcp() {
        let payload: Vec<u8> = (0..10_000u32).map(|i| (i * 7 + 3) as u8).collect();
        let mut f = tcp4(&payload, 1000, TCP_PSH | TCP_FIN | TCP_CWR);
        // As Linux's netvsc sends it: IP length and checksums zeroed.
        f[16..18].fill(0);
        f[24..26].fill(0);
        f[50..52].fill(0);
        let g = prepare_lso(&mut f, 34, 1448, false).unwrap();
        assert_eq!(g.hdr_len, 54);
        let segs = segment(&f, &g);
        assert_eq!(segs.len(), 7);
        let mut joined = Vec::new();
        for (i, s) in segs.iter().enumerate() {
            assert_eq!(checksums_ok(s), Some(true), "segment {i}");
            assert_eq!(be32(s, 38).unwrap(), 1000 + (i * 1448) as u32);
            let fl = s[47];
            assert_eq!(fl & TCP_FIN != 0, i == 6);
            assert_eq!(fl & TCP_CWR != 0, i == 0);
            assert_eq!(usize::from(be16(s, 16).unwrap()), s.len() - 14);
            joined.extend_from_slice(&s[54..]);
        }
        assert_eq!(joined, payload);
        // Bad requests are refused.
        let mut f2 = tcp4(&payload, 0, 0);
        assert!(prepare_lso(&mut f2, 30, 1448, false).is_err());
        assert!(prepare_lso(&mut f2, 34, 1448, true).is_err());
        assert!(prepare_lso(&mut f2, 34, 10, false).is_err());
        let mut u = udp6(b"x");
        assert!(prepare_lso(&mut u, 54, 1448, true).is_err());
    }

    /// An Ethernet + IPv6 + TCP frame with `payload`, correct checksums.
    pub(crate) fn tcp6(payload: &[u8], seq: u32, flags: u8) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 40 + 20];
        f[12..14].copy_from_slice(&0x86ddu16.to_be_bytes());
        f[14] = 0x60;
        f[20] = IPPROTO_TCP;
        f[21] = 64;
        f[22..38].copy_from_slice(&[0xfd, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        f[38..54].copy_from_slice(&[0xfd, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        f[54..56].copy_from_slice(&5001u16.to_be_bytes());
        f[56..58].copy_from_slice(&40000u16.to_be_bytes());
        f[58..62].copy_from_slice(&seq.to_be_bytes());
        f[66] = 5 << 4;
        f[67] = flags;
        f.extend_from_slice(payload);
        let h = headers(&f).unwrap();
        fix_ip_length(&mut f, &h).unwrap();
        fill_l4_checksum(&mut f, &h).unwrap();
        f
    }

    #[test]
    fn lso_ipv6_and_odd_tail() {
        // 5000 bytes at MSS 1220: four full segments and a 120-byte tail.
        let payload: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        let mut f = tcp6(&payload, 0xffff_f000, TCP_PSH);
        // As Linux sends it: payload length zero.
        f[18..20].fill(0);
        let g = prepare_lso(&mut f, 54, 1220, true).unwrap();
        assert_eq!((g.hdr_len, g.ipv6), (74, true));
        let segs = segment(&f, &g);
        assert_eq!(segs.iter().map(|s| s.len() - 74).collect::<Vec<_>>(), vec![1220, 1220, 1220, 1220, 120]);
        let mut joined = Vec::new();
        for (i, s) in segs.iter().enumerate() {
            assert_eq!(checksums_ok(s), Some(true), "segment {i}");
            assert_eq!(usize::from(be16(s, 18).unwrap()), s.len() - 54);
            // Sequence numbers wrap around 2^32.
            assert_eq!(be32(s, 58).unwrap(), 0xffff_f000u32.wrapping_add(i as u32 * 1220));
            assert_eq!(s[67] & TCP_PSH != 0, i == 4);
            joined.extend_from_slice(&s[74..]);
        }
        assert_eq!(joined, payload);
        // A frame that fits one segment is sent as is, with its checksum completed.
        let mut small = tcp6(b"short", 1, 0);
        let want = small.clone();
        let g = prepare_lso(&mut small, 54, 1220, true).unwrap();
        assert_eq!(segment(&small, &g), vec![want]);
    }

    #[test]
    fn ipv4_header_checksum_and_udp_zero() {
        let mut f = tcp4(b"abc", 0, 0);
        let h = headers(&f).unwrap();
        f[24..26].copy_from_slice(&[0x12, 0x34]);
        assert_eq!(checksums_ok(&f), Some(false));
        fill_ipv4_checksum(&mut f, &h).unwrap();
        assert_eq!(checksums_ok(&f), Some(true));
        // A UDP checksum computing to 0 is sent as 0xffff (RFC 768).
        let mut u = udp6(&[0u8; 2]);
        let h = headers(&u).unwrap();
        for v in 0..=u16::MAX {
            u[62..64].copy_from_slice(&v.to_be_bytes());
            fill_l4_checksum(&mut u, &h).unwrap();
            if be16(&u, 60) == Some(0xffff) {
                assert_eq!(checksums_ok(&u), Some(true));
                return;
            }
        }
        panic!("no payload gives a zero UDP checksum");
    }

    #[test]
    fn vlan_round_trip() {
        let f0 = tcp4(b"v", 0, 0);
        let mut f = f0.clone();
        insert_vlan(&mut f, 0x2005).unwrap();
        assert_eq!(f.len(), f0.len() + 4);
        let h = headers(&f).unwrap();
        assert_eq!(h.l3, 18);
        assert_eq!(checksums_ok(&f), Some(true));
        assert_eq!(strip_vlan(&mut f), Some(0x2005));
        assert_eq!(f, f0);
        assert_eq!(strip_vlan(&mut f), None);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_frames_never_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..200), off in 0usize..100, mss in 0u32..3000) {
            let mut f = data.clone();
            let _ = headers(&f);
            let _ = checksums_ok(&f);
            let _ = complete_partial(&mut f, off, 16);
            if let Ok(g) = prepare_lso(&mut f, off, mss, false) {
                let _ = segment(&f, &g);
            }
            let mut v = data;
            let _ = strip_vlan(&mut v);
            let _ = insert_vlan(&mut v, 5);
        }
    }
}
