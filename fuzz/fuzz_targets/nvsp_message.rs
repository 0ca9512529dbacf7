//! NVSP messages a network VSC receives (`netvsc_proto::nvsp`), with the VMBus transfer-page
//! extension of receive packets (`vmbus_proto::packet::TransferPageView`) and the buffer
//! layouts the guest derives from the host's answers. Format: `pvguest_fuzz::nvsp::NvspPacket`.
//!
//! Properties: no panic; `parse_negotiated` accepts only what `parse` accepts, with the same
//! type, and only types of its version; a parsed message re-encodes to `encoded_len` bytes that
//! parse back to the same message (the send table: the same entries); a receive buffer layout
//! accepted from the host keeps every section inside the buffer and every transfer range it
//! accepts inside the buffer and no longer than a section; a send buffer layout's sections
//! all lie inside the buffer; PD batch entries lie inside the message.
#![no_main]
use libfuzzer_sys::fuzz_target;
use netvsc_proto::nvsp::{
    self, NvspMessage, NvspVersion, ReceiveBufferLayout, SendBufferLayout, Sender, NETVSC_MTU_MIN, NVSP_STAT_SUCCESS,
};
use pvguest_fuzz::nvsp::NvspPacket;
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

fuzz_target!(|data: &[u8]| {
    let p = NvspPacket::decode(&mut Input::new(data));
    let version = NvspVersion::NEWEST_FIRST.get(usize::from(p.version)).copied();
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
