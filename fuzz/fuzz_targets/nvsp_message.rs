//! NVSP messages a network VSC receives (`netvsc_proto::nvsp`), the guest's handling of
//! every packet from the host (`netvsc_proto::guest`: `classify`, `completion`, `rx_range`,
//! the `NvspSetup` negotiation, `subchannels_granted`), with the VMBus transfer-page extension
//! of receive packets and the buffer layouts the guest derives from the host's answers.
//! Format: `pvguest_fuzz::nvsp::NvspPacket` (with the `SETUP` flag: the host's completions of
//! the setup requests, as chunks).
//!
//! Properties: no panic; `parse_negotiated` accepts only what `parse` accepts, with the same
//! type, and only types of its version; a parsed message re-encodes to `encoded_len` bytes that
//! parse back to the same message (the send table: the same entries); a receive buffer layout
//! accepted from the host keeps every section inside the buffer and every transfer range it
//! accepts inside the buffer and no longer than a section; a send buffer layout's sections
//! all lie inside the buffer; PD batch entries lie inside the message; a classified packet is
//! what its type says (a receive on the receive buffer's page set with a `SEND_RNDIS_PKT`, an
//! inband send table or VF association), a resolved completion names a queue, slot and
//! generation the device has (or a control sequence), every refusal has its drop counter;
//! the setup ends (done or failed) within a bounded number of steps and, done, holds a
//! proposed version and both buffer layouts inside the buffers it asked for; granted
//! sub-channels never exceed the request.
#![no_main]
use libfuzzer_sys::fuzz_target;
use netvsc_proto::nvsp::{
    self, NvspMessage, NvspVersion, ReceiveBufferLayout, SendBufferLayout, Sender, NETVSC_MTU_MIN, NVSP_STAT_SUCCESS,
};
use netvsc_proto::guest::{self, Completed, Inbound, NvspSetup, SetupAction, SetupConfig, TransId};
use pvguest_fuzz::nvsp::{NvspPacket, SETUP};
use pvguest_fuzz::Input;
use vmbus_proto::packet::{PacketType, TransferPageView};

/// A receive buffer layout and the transfer ranges it accepts.
fn check_receive_layout(l: &ReceiveBufferLayout, buffer: u32, ranges: Option<&TransferPageView<'_>>) {
    assert_eq!(l.buffer_size, buffer);
    assert!(l.section_size >= NETVSC_MTU_MIN);
    assert!(u64::from(l.section_size) * u64::from(l.section_count) <= u64::from(buffer));
    let Some(v) = ranges else { return };
    for r in v.ranges().take(64) {
        let (off, len) = (r.byte_offset, r.byte_count);
        if let Ok(range) = l.range(off, len) {
            assert!(range.end <= buffer as usize && range.start == off as usize);
            assert_eq!(range.len(), len as usize);
            assert!(len <= l.section_size);
        }
    }
    assert_eq!(v.ranges().count(), v.range_count());
    assert!(v.range(v.range_count()).is_none());
}

fn check_send_layout(l: &SendBufferLayout, buffer: u32) {
    assert!(l.section_size >= NETVSC_MTU_MIN && l.section_count >= 1);
    let last = l.section_offset(l.section_count - 1).expect("the last section");
    assert!(u64::from(last) + u64::from(l.section_size) <= u64::from(buffer));
    assert_eq!(l.section_offset(l.section_count), None);
}

/// Encodes `m` and parses it back.
fn round_trip(m: &NvspMessage<'_>) {
    let len = m.encoded_len();
    assert!(len >= 8);
    let mut out = vec![0xa5u8; len + 8];
    assert!(m.encode(&mut out[..len - 1]).is_err(), "encode into a short buffer");
    assert_eq!(m.encode(&mut out), Ok(len));
    assert!(out[len..].iter().all(|b| *b == 0xa5), "encode wrote past its length");
    let back = nvsp::parse(&out[..len], Sender::Host).expect("a re-encoded message parses");
    match (m, &back) {
        (NvspMessage::SendIndirectionTable(a), NvspMessage::SendIndirectionTable(b)) => assert_eq!(a.entries, b.entries),
        // Encoding pads to a whole `struct nvsp_message` with zeros, which a type without a
        // layout keeps as payload.
        (NvspMessage::Unhandled { msg_type: a, payload: pa }, NvspMessage::Unhandled { msg_type: b, payload: pb }) => {
            assert_eq!(a, b);
            assert!(pb.starts_with(pa) && pb[pa.len()..].iter().all(|x| *x == 0));
        }
        _ => assert_eq!(&back, m),
    }
}

/// The guest's NVSP negotiation fed with the host's completions (`chunks` of `payload`).
fn setup(p: &NvspPacket<'_>) {
    let versions = NvspVersion::NEWEST_FIRST;
    let newest = versions[usize::from(p.version & !SETUP) % versions.len()];
    let cfg = SetupConfig { newest, mtu: 1500, isolated: p.send_buf & 1 != 0, recv_buf_size: p.recv_buf, send_buf_size: p.send_buf };
    let mut s = NvspSetup::new(cfg);
    let mut answers = Input::new(p.payload);
    let mut gpadl = 0;
    for step in 0.. {
        // INIT for each version, two buffers: a bounded conversation.
        assert!(step < 2 * versions.len() + 12, "the NVSP setup does not end");
        match s.next_action() {
            Ok(SetupAction::Send { msg, completion }) => {
                assert!(msg.encoded_len() >= 8);
                if completion {
                    if answers.is_empty() {
                        return;
                    }
                    if s.completion(answers.chunk()).is_err() {
                        assert!(s.next_action().is_err(), "the setup goes on after failing");
                        return;
                    }
                }
            }
            Ok(SetupAction::CreateReceiveBuffer { size } | SetupAction::CreateSendBuffer { size }) => {
                assert!(size >= 4096 && size % 4096 == 0);
                gpadl += 1;
                s.buffer_created(gpadl).expect("a buffer was asked for");
            }
            Ok(SetupAction::Done) => {
                let v = s.version().expect("a version once done");
                assert!(versions.iter().position(|x| *x == v) >= versions.iter().position(|x| *x == newest));
                let r = s.receive_layout().expect("a receive buffer once done");
                assert!(u64::from(r.section_size) * u64::from(r.section_count) <= u64::from(r.buffer_size));
                assert!(r.buffer_size <= v.max_receive_buffer_size().max(4096));
                let w = s.send_layout().expect("a send buffer once done");
                assert!(w.buffer_size <= nvsp::NETVSC_SEND_BUFFER_SIZE.max(4096));
                check_send_layout(&w, w.buffer_size);
                for n in [0, 1, 7, u32::MAX] {
                    if let Ok(g) = guest::subchannels_granted(p.payload, n) {
                        assert!(g <= n);
                    }
                }
                return;
            }
            Err(_) => return,
        }
    }
}

/// `netvsc_channel_cb()`'s view: the packet as the VMBus core copies it, classified.
fn classify(p: &NvspPacket<'_>, version: Option<NvspVersion>) {
    let ext_len = (p.ext.len() + 7) & !7;
    let mut pkt = vec![0u8; 16 + ext_len];
    pkt[16..16 + p.ext.len()].copy_from_slice(p.ext);
    pkt.extend_from_slice(p.payload);
    let (queues, slots) = (1 + (p.recv_buf >> 28), 1 + (p.send_buf >> 24));
    match guest::classify(&pkt, p.packet_type, p.trans_id, 16 + ext_len, version) {
        Ok(Inbound::Completion { id, payload }) => {
            assert_eq!(id, p.trans_id);
            assert_eq!(payload, p.payload);
            match guest::completion(id, payload, queues, slots) {
                Ok(Completed::Send { queue, slot, generation, .. }) => {
                    assert!(u32::from(queue) < queues && u32::from(slot) < slots && generation != 0);
                    assert_eq!(TransId::Send { queue, slot, generation }.encode(), id);
                }
                Ok(Completed::Control { seq, payload: q }) => {
                    assert!(seq != 0 && q == payload);
                    assert_eq!(TransId::Control { seq }.encode(), id);
                }
                Err(e) => {
                    let _ = (e.kind().name(), e.as_str());
                }
            }
        }
        Ok(Inbound::Transfer { id, ranges }) => {
            assert_eq!(id, p.trans_id);
            assert_eq!(p.packet_type, PacketType::DataUsingXferPages.raw());
            let set = ranges.header.xfer_pageset_id;
            assert_eq!(set, nvsp::NETVSC_RECEIVE_BUFFER_ID);
            assert!(matches!(nvsp::parse(p.payload, Sender::Host), Ok(NvspMessage::SendRndisPacket(_))));
            if let Ok(l) = ReceiveBufferLayout::host(p.recv_buf, 1728) {
                for r in ranges.ranges().take(64) {
                    if let Ok(range) = guest::rx_range(&l, r) {
                        assert!(range.end <= p.recv_buf as usize && range.len() <= 1728);
                    }
                }
            }
        }
        Ok(Inbound::Message(m)) => {
            assert_eq!(p.packet_type, PacketType::DataInband.raw());
            assert!(matches!(m, NvspMessage::SendIndirectionTable(_) | NvspMessage::SendVfAssociation(_)));
        }
        Err(e) => {
            // Every refusal is counted somewhere.
            assert!(guest::DropKind::ALL.contains(&e.kind()));
            let _ = e.as_str();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let p = NvspPacket::decode(&mut Input::new(data));
    if p.version & SETUP != 0 {
        setup(&p);
        return;
    }
    let version = NvspVersion::NEWEST_FIRST.get(usize::from(p.version)).copied();
    classify(&p, version);
    let xfer = (p.packet_type == PacketType::DataUsingXferPages.raw()).then(|| TransferPageView::parse(p.ext).ok()).flatten();

    let parsed = nvsp::parse(p.payload, Sender::Host);
    if let Some(v) = version {
        match (nvsp::parse_negotiated(p.payload, Sender::Host, v), &parsed) {
            (Ok(n), Ok(m)) => {
                assert_eq!(n.msg_type(), m.msg_type());
                assert!(n.msg_type() <= v.max_message_type());
                if !matches!(n, NvspMessage::SendIndirectionTable(_)) {
                    assert_eq!(&n, m);
                }
            }
            // Linux's fix-up for version 6 hosts reads the table at a fixed offset whatever
            // the message says.
            (Ok(NvspMessage::SendIndirectionTable(_)), Err(nvsp::NvspError::SendTableOutside(_))) => {
                assert!(v.send_table_offset_quirk());
            }
            (Ok(n), Err(e)) => panic!("parse_negotiated accepted {n:?} that parse refused ({e:?})"),
            (Err(_), _) => {}
        }
    }
    let Ok(m) = parsed else { return };
    round_trip(&m);
    let recv_buf = p.recv_buf;
    match m {
        NvspMessage::InitComplete(c) => {
            let _ = NvspVersion::from_raw(c.negotiated_protocol_ver);
        }
        NvspMessage::SendReceiveBufferComplete(c) => {
            for i in 0..c.num_sections.min(8) {
                if c.status == NVSP_STAT_SUCCESS {
                    assert!(c.section(i).is_some(), "section {i} of {} missing", c.num_sections);
                }
            }
            if let Ok(l) = ReceiveBufferLayout::from_complete(&c, recv_buf) {
                assert_eq!(c.status, NVSP_STAT_SUCCESS);
                assert_eq!(c.num_sections, 1);
                check_receive_layout(&l, recv_buf, xfer.as_ref());
            }
        }
        NvspMessage::SendSendBufferComplete(c) => {
            if let Ok(l) = SendBufferLayout::from_complete(&c, p.send_buf) {
                check_send_layout(&l, p.send_buf);
            }
        }
        NvspMessage::SendRndisPacket(r) => {
            // A receive: the RNDIS messages are in the transfer ranges of a host-sized layout.
            let _ = (r.channel_type, r.send_buf_section_index, r.send_buf_section_size);
            if let Ok(l) = ReceiveBufferLayout::host(recv_buf, 1728.max(NETVSC_MTU_MIN)) {
                check_receive_layout(&l, recv_buf, xfer.as_ref());
            }
        }
        NvspMessage::PdPostBatch(b) => {
            for i in 0..b.count() {
                assert!(b.buf(i).is_some());
            }
            assert!(b.buf(b.count()).is_none());
        }
        NvspMessage::SendIndirectionTable(t) => {
            // Without a version, the table is read where the host says it is.
            assert!(t.offset as usize + 4 * t.entries.len() <= p.payload.len());
        }
        _ => {}
    }
});
