//! RNDIS messages a network VSC receives in a receive section (`netvsc_proto::rndis`,
//! `packet`, `ppi`, `oid`, and the guest's `netvsc_proto::guest::parse_rx`, `response`,
//! `InitParams`, `query_*`, `set_status`, `channels_wanted`): data messages with their
//! per-packet info, control completions matched against the request the guest waits for and
//! read as the queried OID's object, status indications. Format: `pvguest_fuzz::rndis::Section`.
//!
//! Properties: no panic; a parsed message lies inside the section (`msg_len` at least the
//! header) and so does every buffer it points to; a data message's frame, OOB and PPI areas
//! lie inside it and apart; every PPI record lies inside the PPI area and the first record of
//! each known kind is what `PacketInfo` reports; a message re-encodes (canonical offsets) to
//! one that parses to the same contents; the message walk consumes the section exactly, in
//! at most `len / 8` steps; a frame the guest takes lies inside its message, is at least an
//! Ethernet header and carries the metadata of the message's PPIs; a response the guest
//! accepts is the completion of the request it waits for, with its id, no longer than the
//! response buffer; accepted results are no larger than asked (MAC addresses unicast and
//! non-zero, alignment a power of two, channel counts within the host's queues).
#![no_main]
use libfuzzer_sys::fuzz_target;
use netvsc_proto::oid::{ConfigParameter, NdisOffload, NdisOffloadEncapsulation, NdisRecvScaleCap, RssParams};
use netvsc_proto::packet::{self, PacketMessage};
use netvsc_proto::ppi::{self, PacketInfo, PpiIter};
use netvsc_proto::rndis::{self, Messages, RndisError, RndisMessage, RNDIS_HEADER_SIZE};
use netvsc_proto::guest::{self, InitParams, RxMessage, ETH_HLEN};
use netvsc_proto::nvsp::NvspVersion;
use netvsc_proto::rndis::{RNDIS_MAX_RESPONSE_SIZE, RNDIS_MSG_COMPLETION, RNDIS_MSG_INIT, RNDIS_MSG_QUERY, RNDIS_MSG_SET};
use pvguest_fuzz::rndis::{Section, OIDS, REQUESTS};
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

/// `rndis_filter_receive()`: one message of a transfer range, as the guest takes it.
fn check_rx(range: &[u8]) {
    match guest::parse_rx(range) {
        Ok(RxMessage::Data { frame, meta }) => {
            assert!(frame.len() >= ETH_HLEN && frame.end <= range.len());
            let h = packet::parse_packet_header(range).expect("a frame from a valid header");
            assert_eq!(frame, h.data);
            assert!(h.msg_len as usize <= range.len() && frame.end <= h.msg_len as usize);
            let info = PacketInfo::from_area(h.ppi);
            assert_eq!(meta.vlan_tci, info.vlan.map(|v| v.to_tci()));
            assert_eq!(meta.hash, info.hash_value);
            assert_eq!(meta.csum_verified, info.rx_checksum().is_some_and(|c| c.l4_verified()));
        }
        Ok(RxMessage::Response(m)) => assert!(m.msg_type() & RNDIS_MSG_COMPLETION != 0),
        Ok(RxMessage::Status(e)) => {
            let _ = guest::status_known(&e);
        }
        Ok(RxMessage::Ignored(t)) => assert_eq!(t, rndis::RNDIS_MSG_KEEPALIVE),
        Err(e) => assert!(guest::DropKind::ALL.contains(&e.kind())),
    }
}

/// `rndis_filter_receive_response()` and the request's reader: the message as the answer to
/// the request the guest waits for.
fn check_response(s: &Section<'_>) {
    let request = REQUESTS[usize::from(s.request) % REQUESTS.len()];
    let Ok(m) = guest::response(s.bytes, s.req_id, request) else { return };
    assert_eq!(m.msg_type(), request | RNDIS_MSG_COMPLETION);
    assert!(m.request_id().is_none_or(|id| id == s.req_id));
    let (_, len) = RndisMessage::parse(s.bytes).expect("accepted");
    assert!(len <= RNDIS_MAX_RESPONSE_SIZE);
    match request {
        RNDIS_MSG_INIT => {
            if let Ok(p) = InitParams::from_response(&m) {
                assert!(p.max_pkt_per_msg >= 1 && p.pkt_align.is_power_of_two());
            }
        }
        RNDIS_MSG_SET => {
            let _ = guest::set_status(&m);
        }
        RNDIS_MSG_QUERY => match usize::from(s.oid) % OIDS.len() {
            0 => {
                let _ = guest::query_offload(&m);
            }
            1 => {
                if let Ok(c) = guest::query_rss_caps(&m) {
                    for v in NvspVersion::NEWEST_FIRST {
                        let n = guest::channels_wanted(64, 0, 0, Some(&c), v);
                        let queues = c.num_recv_que;
                        assert!(n >= 1 && u32::from(n) <= netvsc_proto::nvsp::VRSS_CHANNEL_MAX);
                        assert!(n == 1 || u32::from(n) <= queues);
                    }
                }
            }
            5 => {
                if let Ok(mac) = guest::query_mac(&m) {
                    assert!(mac[0] & 1 == 0 && mac != [0; 6]);
                }
            }
            6 => {
                let _ = guest::query_u32(&m);
            }
            _ => {
                if let Ok(info) = guest::query_info(&m, 256) {
                    assert!(info.len() <= 256);
                }
            }
        },
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let s = Section::decode(&mut Input::new(data));
    let range = s.bytes;
    check_rx(range);
    check_response(&s);

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
