//! RNDIS messages a network VSC receives in a receive section (`netvsc_proto::rndis`,
//! `packet`, `ppi`, `oid`): data messages with their per-packet info, control completions
//! with their information buffers read as the queried OID's object, status indications.
//! Format: `pvguest_fuzz::rndis::Section`.
//!
//! Properties: no panic; a parsed message lies inside the section (`msg_len` at least the
//! header) and so does every buffer it points to; a data message's frame, OOB and PPI areas
//! lie inside it and apart; every PPI record lies inside the PPI area and the first record of
//! each known kind is what `PacketInfo` reports; a message re-encodes (canonical offsets) to
//! one that parses to the same contents; the message walk consumes the section exactly, in
//! at most `len / 8` steps; OID objects accepted from a query answer are no larger than the
//! answer.
#![no_main]
use libfuzzer_sys::fuzz_target;
use netvsc_proto::oid::{ConfigParameter, NdisOffload, NdisOffloadEncapsulation, NdisRecvScaleCap, RssParams};
use netvsc_proto::packet::{self, PacketMessage};
use netvsc_proto::ppi::{self, PacketInfo, PpiIter};
use netvsc_proto::rndis::{Messages, RndisError, RndisMessage, RNDIS_HEADER_SIZE};
use pvguest_fuzz::rndis::{Section, OIDS};
use pvguest_fuzz::Input;

/// Whether `inner` lies inside `outer` (same memory).
fn within(inner: &[u8], outer: &[u8]) -> bool {
    let (o, i) = (outer.as_ptr() as usize, inner.as_ptr() as usize);
    inner.is_empty() || (i >= o && i + inner.len() <= o + outer.len())
}

fn apart(a: &[u8], b: &[u8]) -> bool {
    let (x, y) = (a.as_ptr() as usize, b.as_ptr() as usize);
    a.is_empty() || b.is_empty() || x + a.len() <= y || y + b.len() <= x
}

fn check_packet(p: &PacketMessage<'_>, msg: &[u8]) {
    for part in [p.data, p.oob, p.ppi] {
        assert!(within(part, msg));
    }
    assert!(apart(p.data, p.oob) && apart(p.data, p.ppi) && apart(p.oob, p.ppi));
    assert_eq!(p.data.len(), p.header.data_len as usize);
    assert!(ppi::validate_area(p.ppi).is_ok());
    // The iterator walks the whole area: records back to back, each inside it.
    let mut total = 0;
    let mut first = PacketInfo::default();
    for r in p.ppis() {
        assert!(within(r.data, p.ppi));
        total += 1;
        let v = r.value_u32();
        match (r.ppi_type, r.internal) {
            (ppi::TCPIP_CHKSUM_PKTINFO, false) => first.checksum = first.checksum.or(v),
            (ppi::IEEE_8021Q_INFO, false) => first.vlan = first.vlan.or(v.map(ppi::VlanInfo::from_bits)),
            (ppi::NBL_HASH_VALUE, false) => first.hash_value = first.hash_value.or(v),
            _ => {}
        }
    }
    assert!(total <= p.ppi.len() / 12);
    let info = p.info();
    assert_eq!((info.checksum, info.vlan, info.hash_value), (first.checksum, first.vlan, first.hash_value));
    if let Some(c) = info.rx_checksum() {
        assert_eq!(c.to_bits(), info.checksum.unwrap_or(0) & 0x1ff);
    }
    if let Some(v) = info.vlan {
        let _ = (v.to_tci(), v.to_bits());
    }
    assert_eq!(PpiIter::new(p.ppi).count(), total);
}

/// The information buffer of a query answer read as the object of the OID asked for.
fn check_query_info(oid: u8, info: &[u8]) {
    match usize::from(oid) % OIDS.len() {
        0 => {
            if let Ok(o) = NdisOffload::parse_caps(info) {
                let size = o.header.size;
                assert!(usize::from(size) <= info.len());
            }
        }
        1 => {
            if let Ok(c) = NdisRecvScaleCap::parse(info) {
                assert!(info.len() <= 18);
                let n = c.linux_table_size();
                assert!(n >= 1 && n <= netvsc_proto::oid::ITAB_NUM_MAX);
            }
        }
        2 => {
            let _ = NdisOffloadEncapsulation::parse(info);
        }
        3 => {
            if let Ok(p) = RssParams::parse(info) {
                let _ = p;
            }
        }
        4 => {
            let _ = ConfigParameter::parse(info);
        }
        // The MAC address and the 32-bit OIDs (MTU, link speed, media state).
        5 => {
            let _ = info.get(..6);
        }
        _ => {
            let _ = info.get(..4).map(|b| u32::from_le_bytes(b.try_into().unwrap()));
        }
    }
}

/// A message parsed from `msg` (exactly its `msg_len` bytes, `rest` what follows in the
/// range), checked and re-encoded.
fn check_message(m: &RndisMessage<'_>, msg: &[u8], range: &[u8], s: &Section<'_>) {
    match m {
        RndisMessage::Packet(p) => check_packet(p, msg),
        RndisMessage::QueryComplete(q) => {
            assert!(within(q.info, msg));
            assert_eq!(q.info.len(), q.cmplt.info_buflen as usize);
            if q.cmplt.req_id == s.req_id {
                check_query_info(s.oid, q.info);
            }
        }
        RndisMessage::Query(q) => assert!(within(q.info, msg)),
        RndisMessage::Set(q) => assert!(within(q.info, msg)),
        RndisMessage::IndicateStatus(i) => {
            // Checked against the whole range, not msg_len (pre-Fe vSwitches).
            assert!(within(i.buffer, range));
            match i.event() {
                Ok(_) => {}
                Err(e) => assert!(matches!(e, RndisError::StatusBufferTooShort(_))),
            }
        }
        RndisMessage::InitComplete(c) => {
            if let Ok(a) = c.pkt_align() {
                assert!(a.is_power_of_two());
            }
        }
        _ => {}
    }

    // Canonical re-encoding parses to the same contents.
    let mut out = vec![0u8; msg.len().max(range.len()) + 256];
    let Ok(n) = m.encode(&mut out) else { return };
    let (back, len) = RndisMessage::parse(&out[..n]).expect("a re-encoded message parses");
    assert_eq!(len, n);
    assert_eq!(back.msg_type(), m.msg_type());
    assert_eq!(back.request_id(), m.request_id());
    match (m, &back) {
        (RndisMessage::Packet(a), RndisMessage::Packet(b)) => {
            assert_eq!((a.data, a.ppi), (b.data, b.ppi));
            assert_eq!(a.info(), b.info());
        }
        (RndisMessage::QueryComplete(a), RndisMessage::QueryComplete(b)) => {
            assert_eq!((a.info, a.cmplt.status), (b.info, b.cmplt.status));
        }
        (RndisMessage::IndicateStatus(a), RndisMessage::IndicateStatus(b)) => assert_eq!(a, b),
        (RndisMessage::Query(a), RndisMessage::Query(b)) => assert_eq!((a.info, a.req.oid), (b.info, b.req.oid)),
        (RndisMessage::Set(a), RndisMessage::Set(b)) => assert_eq!((a.info, a.req.oid), (b.info, b.req.oid)),
        (a, b) => assert_eq!(a, b),
    }
}

fuzz_target!(|data: &[u8]| {
    let s = Section::decode(&mut Input::new(data));
    let range = s.bytes;

    // One message per transfer range (`rndis_filter_receive()`).
    match RndisMessage::parse(range) {
        Ok((m, len)) => {
            assert!(len >= RNDIS_HEADER_SIZE && len <= range.len());
            check_message(&m, &range[..len], range, &s);
            if let RndisMessage::Packet(p) = m {
                // The host's view of the same header (split data).
                let h = packet::parse_packet_header(range).expect("a parsed data message has a valid header");
                assert_eq!(h.header, p.header);
                assert_eq!(&range[h.data.clone()], p.data);
            }
        }
        Err(_) => {}
    }

    // A batch of messages (a send section, or a host packing several into one range).
    let mut walk = Messages::new(range);
    let mut steps = 0;
    let mut consumed = 0;
    while let Some(r) = walk.next() {
        steps += 1;
        assert!(steps <= range.len() / RNDIS_HEADER_SIZE + 1, "the message walk loops");
        let Ok(m) = r else { break };
        let rest = walk.remaining();
        let msg = &range[consumed..range.len() - rest.len()];
        consumed = range.len() - rest.len();
        check_message(&m, msg, &range[range.len() - rest.len() - msg.len()..], &s);
    }
    if walk.remaining().is_empty() {
        assert_eq!(consumed, range.len());
    }
});
