//! Ring buffer: packet layout in the ring, wrap-around, the never-full rule, signalling
//! (cases of `hv_signal_on_write()` and `hv_pkt_iter_close()`), batching, polling, corrupted
//! indices and descriptors, random interleavings of writer and reader, two threads, and a
mod common;

use common::{pattern, SharedRing, TestRing};
use proptest::prelude::*;
use std::collections::VecDeque;
use vmbus_proto::packet::{self, PacketType};
use vmbus_proto::ring::{self, HeaderField, OutgoingPacket, RingError, RingReader, RingWriter};

fn inband<'a>(trans_id: u64, payload: &'a [&'a [u8]]) -> OutgoingPacket<'a> {
    OutgoingPacket::inband(trans_id, 0, payload)
}

#[test]
fn one_packet_layout_golden() {
    let mem = TestRing::new(256);
    let mut w = RingWriter::new(&mem).unwrap();
    let payload = [1u8, 2, 3, 4, 5];
    let signal = w.write(&OutgoingPacket::inband(0x1122_3344_5566_7788, packet::FLAG_COMPLETION_REQUESTED, &[&payload])).unwrap();
    assert!(signal, "empty ring, reader not masked: signal");
    // 16 descriptor + 5 payload = 21 -> 24 bytes, then the 8-byte trailer.
    assert_eq!(mem.peek(HeaderField::WriteIndex), 32);
    let d = mem.data.borrow();
    let expected: [u8; 32] = [
        0x06, 0x00, // type VM_PKT_DATA_INBAND
        0x02, 0x00, // offset8: 16 bytes
        0x03, 0x00, // len8: 24 bytes
        0x01, 0x00, // flags: completion requested
        0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, // trans_id
        1, 2, 3, 4, 5, 0, 0, 0, // payload and zero padding
        0, 0, 0, 0, 0, 0, 0, 0, // trailer: start offset 0 << 32
    ];
    assert_eq!(&d[..32], &expected);
    drop(d);

    // A second packet's trailer carries its own start offset in the high half.
    let signal = w.write(&OutgoingPacket::completion(9, &[&[0xaa; 8]])).unwrap();
    assert!(!signal, "ring was not empty: no signal");
    let d = mem.data.borrow();
    assert_eq!(&d[32..36], &[0x0b, 0, 2, 0]);
    assert_eq!(u64::from_le_bytes(d[56..64].try_into().unwrap()), 32u64 << 32);
}

#[test]
fn read_back_payload_ext_and_raw() {
    let mem = TestRing::new(512);
    let mut w = RingWriter::new(&mem).unwrap();
    let ext = [7u8; 16];
    let pkt = OutgoingPacket { packet_type: PacketType::DataUsingXferPages, flags: 0, trans_id: 5, ext: &[&ext], payload: &[b"abc", b"defg"] };
    w.write(&pkt).unwrap();
    let mut r = RingReader::new(&mem).unwrap();
    let mut b = r.batch();
    let p = b.next_packet().unwrap().unwrap();
    assert_eq!(p.packet_type(), Some(PacketType::DataUsingXferPages));
    assert_eq!(p.trans_id(), 5);
    assert_eq!(p.header_len(), 32);
    assert_eq!(p.ext_len(), 16);
    assert_eq!(p.payload_len(), 8);
    let mut buf = [0u8; 64];
    assert_eq!(b.copy_ext(&p, &mut buf).unwrap(), 16);
    assert_eq!(&buf[..16], &ext);
    assert_eq!(b.copy_payload(&p, &mut buf).unwrap(), 8);
    assert_eq!(&buf[..8], b"abcdefg\0");
    assert_eq!(b.copy_raw(&p, &mut buf).unwrap(), 40);
    assert_eq!({ packet::read_descriptor(&buf).unwrap().len8 }, 5);
    assert_eq!(b.copy_payload(&p, &mut [0u8; 7]), Err(RingError::BufferTooSmall { needed: 8 }));
    assert!(b.next_packet().unwrap().is_none());
    assert!(!b.commit());
    assert_eq!(mem.peek(HeaderField::ReadIndex), 48);
}

#[test]
fn extension_must_be_aligned() {
    let mem = TestRing::new(256);
    let mut w = RingWriter::new(&mem).unwrap();
    let pkt = OutgoingPacket { packet_type: PacketType::DataUsingGpaDirect, flags: 0, trans_id: 0, ext: &[&[0u8; 12]], payload: &[] };
    assert_eq!(w.write(&pkt), Err(RingError::ExtNotAligned));
    assert_eq!(mem.peek(HeaderField::WriteIndex), 0);
}

#[test]
fn never_completely_full() {
    // 64 data bytes; a packet with 8 payload bytes takes 24 + 8 trailer = 32.
    let mem = TestRing::new(64);
    let mut w = RingWriter::new(&mem).unwrap();
    let p8 = [&[0u8; 8][..]];
    assert!(w.can_write(32).unwrap());
    w.write(&inband(1, &p8)).unwrap();
    // 32 free, 32 needed: Linux refuses (bytes_avail_towrite <= totalbytes_towrite).
    assert!(!w.can_write(32).unwrap());
    assert_eq!(w.write(&inband(2, &p8)), Err(RingError::RingFull));
    // A 24-byte packet still fits (32 > 24).
    w.write(&inband(3, &[])).unwrap();
    assert_eq!(w.bytes_free().unwrap(), 8);
    // Never fits at all: 16 + 40 + 8 = 64 >= 64.
    let mem2 = TestRing::new(64);
    let mut w2 = RingWriter::new(&mem2).unwrap();
    assert_eq!(w2.write(&inband(4, &[&[0u8; 40]])), Err(RingError::PacketTooLarge));
    assert_eq!(w2.max_ring_len(), 56);
    w2.write(&inband(5, &[&[0u8; 32]])).unwrap();
}

#[test]
fn too_large_for_a_descriptor() {
    let mem = TestRing::new(1 << 20);
    let mut w = RingWriter::new(&mem).unwrap();
    let big = vec![0u8; 0x80000];
    assert_eq!(w.write(&inband(1, &[&big])), Err(RingError::PacketTooLarge));
}

#[test]
fn wraps_descriptor_payload_and_trailer() {
    // Place the write index near the end so every part of a packet may straddle the wrap.
    for start in (0..128u32).step_by(8) {
        for len in 0..40usize {
            let mem = TestRing::new(128);
            mem.poke(HeaderField::WriteIndex, start);
            mem.poke(HeaderField::ReadIndex, start);
            let mut w = RingWriter::new(&mem).unwrap();
            let mut r = RingReader::new(&mem).unwrap();
            let data = pattern(start as u64, len);
            let (a, b) = data.split_at(len / 3);
            w.write(&inband(start as u64, &[a, b])).unwrap();
            let mut buf = vec![0u8; 64];
            let (p, n, _) = r.recv(&mut buf).unwrap().unwrap();
            assert_eq!(p.trans_id(), start as u64);
            assert_eq!(n, (len + 7) & !7);
            assert_eq!(&buf[..len], &data[..]);
            assert!(buf[len..n].iter().all(|&x| x == 0), "padding is zero");
            let total = 16 + n as u32 + 8;
            assert_eq!(mem.peek(HeaderField::ReadIndex), (start + total) % 128);
            assert_eq!(mem.peek(HeaderField::WriteIndex), (start + total) % 128);
        }
    }
}

#[test]
fn copies_are_bulk_and_in_range() {
    let mem = TestRing::new(8192);
    mem.poke(HeaderField::WriteIndex, 8192 - 1024);
    mem.poke(HeaderField::ReadIndex, 8192 - 1024);
    let mut w = RingWriter::new(&mem).unwrap();
    let mut r = RingReader::new(&mem).unwrap();
    let data = pattern(1, 4096);
    mem.start_log();
    w.write(&inband(1, &[&data])).unwrap();
    let log = mem.take_log();
    // descriptor, payload in two segments (wrap), trailer; no padding.
    assert_eq!(log.iter().filter(|e| e.2).count(), 4, "{log:?}");
    assert!(log.iter().all(|&(off, len, _)| off as usize + len <= 8192));
    let mut buf = vec![0u8; 4096];
    mem.start_log();
    r.recv(&mut buf).unwrap().unwrap();
    let log = mem.take_log();
    // descriptor, then the payload in two segments.
    assert_eq!(log.len(), 3, "{log:?}");
    assert_eq!(buf, data);
}

#[test]
fn signal_on_write_rules() {
    let mem = TestRing::new(1024);
    let mut w = RingWriter::new(&mem).unwrap();
    let mut r = RingReader::new(&mem).unwrap();
    // Empty ring, unmasked: signal.
    assert!(w.write(&inband(1, &[b"x"])).unwrap());
    // Not empty: no signal.
    assert!(!w.write(&inband(2, &[b"y"])).unwrap());
    // Drain; empty again: signal.
    let mut b = r.batch();
    while b.next_packet().unwrap().is_some() {}
    b.commit();
    assert!(w.write(&inband(3, &[b"z"])).unwrap());
    let mut b = r.batch();
    b.next_packet().unwrap();
    b.commit();
    // Reader masked (draining/polling): no signal even though the ring was empty.
    r.mask_interrupts();
    assert!(w.reader_masked());
    assert!(!w.write(&inband(4, &[b"w"])).unwrap());
    // hv_end_read(): unmask reports the data that arrived without a signal.
    assert!(r.unmask_interrupts().unwrap());
    let mut b = r.batch();
    b.next_packet().unwrap();
    b.commit();
    assert!(!r.unmask_interrupts().unwrap());
}

#[test]
fn batch_publishes_once_and_signals_once() {
    let mem = TestRing::new(1024);
    let mut w = RingWriter::new(&mem).unwrap();
    let mut b = w.batch().unwrap();
    let o1 = b.push(&inband(1, &[b"one"])).unwrap();
    let o2 = b.push(&inband(2, &[b"two"])).unwrap();
    let o3 = b.push(&inband(3, &[b"three"])).unwrap();
    assert_eq!((o1, o2, o3), (0, 32, 64));
    assert_eq!(b.packets(), 3);
    // Nothing visible before the commit.
    assert_eq!(mem.peek(HeaderField::WriteIndex), 0);
    assert!(b.commit());
    assert_eq!(mem.peek(HeaderField::WriteIndex), 96);
    // An empty batch publishes nothing and does not signal.
    assert!(!w.batch().unwrap().commit());
    // A dropped batch is discarded.
    {
        let mut b = w.batch().unwrap();
        b.push(&inband(4, &[b"four"])).unwrap();
    }
    assert_eq!(mem.peek(HeaderField::WriteIndex), 96);
    assert_eq!(w.write_index(), 96);
    let mut r = RingReader::new(&mem).unwrap();
    let mut rb = r.batch();
    let ids: Vec<u64> = std::iter::from_fn(|| rb.next_packet().unwrap()).map(|p| p.trans_id()).collect();
    assert_eq!(ids, [1, 2, 3]);
    assert_eq!(rb.bytes_read(), 96);
    rb.commit();
}

#[test]
fn batch_rereads_read_index_when_full() {
    let mem = TestRing::new(128);
    let mut w = RingWriter::new(&mem).unwrap();
    let mut r = RingReader::new(&mem).unwrap();
    for i in 0..3 {
        w.write(&inband(i, &[&[0u8; 8]])).unwrap();
    }
    let mut b = w.batch().unwrap();
    assert_eq!(b.push(&inband(9, &[&[0u8; 8]])), Err(RingError::RingFull));
    // The reader frees space while the batch is open; the next push sees it.
    let mut rb = r.batch();
    rb.next_packet().unwrap();
    rb.commit();
    b.push(&inband(9, &[&[0u8; 8]])).unwrap();
    b.commit();
}

/// Fills a 128-byte ring with three 32-byte packets (32 bytes free) and returns it.
fn filled() -> TestRing {
    let mem = TestRing::new(128);
    let mut w = RingWriter::new(&mem).unwrap();
    for i in 0..3 {
        w.write(&inband(i, &[&[0u8; 8]])).unwrap();
    }
    mem
}

fn read_n(r: &mut RingReader<&TestRing>, n: usize) -> bool {
    let mut b = r.batch();
    for _ in 0..n {
        b.next_packet().unwrap().unwrap();
    }
    b.commit()
}

#[test]
fn signal_writer_rules_pkt_iter_close() {
    // Writer waits for 48 bytes; 32 free before, 64 after reading one: signal.
    let mem = filled();
    let mut r = RingReader::new(&mem).unwrap();
    RingWriter::new(&mem).unwrap().set_pending_send_size(48);
    assert!(read_n(&mut r, 1));

    // Waits for 80: one packet (64 free) is not enough, the second (96) is.
    let mem = filled();
    let mut r = RingReader::new(&mem).unwrap();
    RingWriter::new(&mem).unwrap().set_pending_send_size(80);
    assert!(!read_n(&mut r, 1));
    assert!(read_n(&mut r, 1));
    // Already enough before the next read (96 > 80): no second signal.
    assert!(!read_n(&mut r, 1));

    // Waits for 16 but had 32 free already: no signal.
    let mem = filled();
    let mut r = RingReader::new(&mem).unwrap();
    RingWriter::new(&mem).unwrap().set_pending_send_size(16);
    assert!(!read_n(&mut r, 1));

    // Exactly filling is "not enough": waits for 64, 64 free after one read -> no signal.
    let mem = filled();
    let mut r = RingReader::new(&mem).unwrap();
    RingWriter::new(&mem).unwrap().set_pending_send_size(64);
    assert!(!read_n(&mut r, 1));
    assert!(read_n(&mut r, 1));

    // Not waiting: no signal.
    let mem = filled();
    let mut r = RingReader::new(&mem).unwrap();
    assert!(!read_n(&mut r, 3));

    // Without FEAT_PENDING_SEND_SZ the reader never signals.
    let mem = filled();
    mem.poke(HeaderField::FeatureBits, 0);
    let mut r = RingReader::new(&mem).unwrap();
    RingWriter::new(&mem).unwrap().set_pending_send_size(48);
    assert!(!read_n(&mut r, 3));

    // Nothing read: nothing to signal, read index untouched.
    let mem = filled();
    let mut r = RingReader::new(&mem).unwrap();
    RingWriter::new(&mem).unwrap().set_pending_send_size(48);
    assert!(!r.batch().commit());
    assert_eq!(mem.peek(HeaderField::ReadIndex), 0);

    // A garbage write index at commit time: no signal, no panic.
    let mem = filled();
    let mut r = RingReader::new(&mem).unwrap();
    RingWriter::new(&mem).unwrap().set_pending_send_size(48);
    let mut b = r.batch();
    b.next_packet().unwrap();
    mem.poke(HeaderField::WriteIndex, 12345);
    assert!(!b.commit());
}

#[test]
fn flow_control_round_trip() {
    // A writer that finds the ring full sets pending_send_sz, re-checks, and is signalled.
    let mem = filled();
    let mut w = RingWriter::new(&mem).unwrap();
    let mut r = RingReader::new(&mem).unwrap();
    let p = [&[0u8; 40][..]];
    let need = inband(0, &p).ring_len().unwrap();
    assert_eq!(need, 64);
    assert_eq!(w.write(&inband(7, &p)), Err(RingError::RingFull));
    w.set_pending_send_size(need);
    assert!(!w.can_write(need).unwrap());
    assert!(!read_n(&mut r, 1), "64 free is not more than 64");
    assert!(read_n(&mut r, 1), "96 free now: signal the writer");
    assert!(w.can_write(need).unwrap());
    w.set_pending_send_size(0);
    w.write(&inband(7, &p)).unwrap();
}

#[test]
fn corrupted_indices_rejected() {
    let mem = TestRing::new(256);
    mem.poke(HeaderField::WriteIndex, 256);
    assert_eq!(RingWriter::new(&mem).err(), Some(RingError::IndexOutOfRange(256)));
    mem.poke(HeaderField::WriteIndex, 12);
    assert_eq!(RingWriter::new(&mem).err(), Some(RingError::IndexMisaligned(12)));
    mem.poke(HeaderField::WriteIndex, 0);
    mem.poke(HeaderField::ReadIndex, 0xffff_fff8);
    assert_eq!(RingReader::new(&mem).err(), Some(RingError::IndexOutOfRange(0xffff_fff8)));
    // The writer refuses to write when the reader's index is garbage.
    let mut w = RingWriter::new(&mem).unwrap();
    assert_eq!(w.write(&inband(1, &[])).err(), Some(RingError::IndexOutOfRange(0xffff_fff8)));
    mem.poke(HeaderField::ReadIndex, 4);
    assert_eq!(w.bytes_free().err(), Some(RingError::IndexMisaligned(4)));
    // The reader refuses a garbage write index.
    mem.poke(HeaderField::ReadIndex, 0);
    let mut r = RingReader::new(&mem).unwrap();
    mem.poke(HeaderField::WriteIndex, 300);
    assert_eq!(r.batch().peek().err(), Some(RingError::IndexOutOfRange(300)));
    mem.poke(HeaderField::WriteIndex, 9);
    assert_eq!(r.bytes_to_read().err(), Some(RingError::IndexMisaligned(9)));
    // Fewer bytes than a descriptor and trailer.
    mem.poke(HeaderField::WriteIndex, 16);
    assert_eq!(r.batch().peek().err(), Some(RingError::Truncated));
    // Bad sizes.
    assert_eq!(RingWriter::new(&TestRing::new(100)).err(), Some(RingError::BadDataLen(100)));
    assert_eq!(RingReader::new(&TestRing::new(24)).err(), Some(RingError::BadDataLen(24)));
}

/// Found by `fuzz/ring_read`: a host that moves its write index back over (or all the way
/// around) packets a batch already read. Measured from the batch's own position, the lapped
/// ring looked like 32 more bytes of packets; the batch then ended where it started, so
/// `commit` released nothing and both packets would have been delivered again.
#[test]
fn write_index_moved_back_during_a_batch() {
    let mem = TestRing::new(64);
    let mut w = RingWriter::new(&mem).unwrap();
    w.write(&inband(1, &[&[1u8; 8]])).unwrap(); // 16 + 8 bytes, trailer: 0..32
    drop(w);
    let mut second = Vec::new();
    for v in [6u16, 2, 3, 0] {
        second.extend_from_slice(&v.to_le_bytes());
    }
    second.extend_from_slice(&2u64.to_le_bytes());
    second.extend_from_slice(&[2u8; 8]);
    second.extend_from_slice(&(32u64 << 32).to_le_bytes());
    mem.scribble(32, &second); // 32..64: a full ring, which no writer may publish

    let mut r = RingReader::new(&mem).unwrap();
    let mut b = r.batch();
    assert_eq!(b.next_packet().unwrap().unwrap().trans_id(), 1);
    mem.poke(HeaderField::WriteIndex, 0);
    assert_eq!(b.peek().err(), Some(RingError::WriteIndexMovedBack(0)));
    assert_eq!(b.next_packet().err(), Some(RingError::WriteIndexMovedBack(0)));
    assert_eq!(b.bytes_read(), 32);
    b.commit();
    assert_eq!(mem.peek(HeaderField::ReadIndex), 32, "the packet read is released");

    // Moved back into the middle of what a batch read.
    let mem = TestRing::new(256);
    let mut w = RingWriter::new(&mem).unwrap();
    w.write(&inband(1, &[&[1u8; 8]])).unwrap();
    w.write(&inband(2, &[&[2u8; 8]])).unwrap();
    let mut r = RingReader::new(&mem).unwrap();
    let mut b = r.batch();
    b.next_packet().unwrap().unwrap();
    mem.poke(HeaderField::WriteIndex, 16);
    assert_eq!(b.next_packet().err(), Some(RingError::WriteIndexMovedBack(16)));
    // Back to exactly where the batch is: nothing more to read.
    mem.poke(HeaderField::WriteIndex, 32);
    assert_eq!(b.next_packet(), Ok(None));
}

fn ring_with_descriptor(desc: [u16; 4], write: u32) -> TestRing {
    let mem = TestRing::new(256);
    let mut bytes = Vec::new();
    for v in desc {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    bytes.extend_from_slice(&7u64.to_le_bytes());
    mem.scribble(0, &bytes);
    mem.poke(HeaderField::WriteIndex, write);
    mem
}

#[test]
fn corrupted_descriptors_rejected() {
    let cases: [([u16; 4], u32, RingError); 6] = [
        ([6, 2, 1, 0], 64, RingError::DescriptorTooShort), // len 8 < 16
        ([6, 2, 0, 0], 64, RingError::DescriptorTooShort), // len 0
        ([6, 1, 4, 0], 64, RingError::BadDataOffset),      // offset 8 < 16
        ([6, 5, 4, 0], 64, RingError::BadDataOffset),      // offset 40 > len 32
        ([6, 2, 8, 0], 64, RingError::PacketBeyondWrite),  // 64 + 8 > 64 available
        ([6, 2, 0xffff, 0], 64, RingError::PacketBeyondWrite),
    ];
    for (desc, write, err) in cases {
        let mem = ring_with_descriptor(desc, write);
        let mut r = RingReader::new(&mem).unwrap();
        let mut b = r.batch();
        assert_eq!(b.peek().err(), Some(err), "{desc:?}");
        assert_eq!(b.next_packet().err(), Some(err));
        assert!(!b.commit());
        assert_eq!(mem.peek(HeaderField::ReadIndex), 0, "nothing consumed");
    }
    // Exactly fitting is fine: 56 + 8 = 64.
    let mem = ring_with_descriptor([6, 2, 7, 0], 64);
    let mut r = RingReader::new(&mem).unwrap();
    assert_eq!(r.batch().peek().unwrap().unwrap().packet_len(), 56);
}

#[test]
fn recv_keeps_packet_when_buffer_small() {
    let mem = TestRing::new(256);
    let mut w = RingWriter::new(&mem).unwrap();
    let mut r = RingReader::new(&mem).unwrap();
    w.write(&inband(1, &[&[9u8; 20]])).unwrap();
    assert_eq!(r.recv(&mut [0u8; 8]), Err(RingError::BufferTooSmall { needed: 24 }));
    let mut buf = [0u8; 24];
    let (p, n, _) = r.recv(&mut buf).unwrap().unwrap();
    assert_eq!((p.trans_id(), n), (1, 24));
    assert_eq!(r.recv(&mut buf), Ok(None));
}

#[test]
fn peek_then_consume() {
    let mem = TestRing::new(256);
    let mut w = RingWriter::new(&mem).unwrap();
    w.write(&inband(1, &[b"first"])).unwrap();
    w.write(&inband(2, &[b"second"])).unwrap();
    let mut r = RingReader::new(&mem).unwrap();
    let mut b = r.batch();
    let p1 = b.peek().unwrap().unwrap();
    assert_eq!(b.peek().unwrap(), Some(p1), "peek does not move");
    // The other side rewrites the descriptor after the peek: consume skips what was peeked.
    mem.scribble(4, &[0x20, 0]);
    b.consume(&p1).unwrap();
    assert_eq!(b.consume(&p1), Err(RingError::StalePacket), "not the next packet any more");
    let p2 = b.next_packet().unwrap().unwrap();
    assert_eq!(p2.trans_id(), 2);
    assert_eq!(b.bytes_read(), 64);
    b.commit();
}

#[test]
fn packet_handle_from_another_ring_is_stale() {
    let big = TestRing::new(4096);
    let mut w = RingWriter::new(&big).unwrap();
    w.write(&inband(1, &[&[1u8; 1000]])).unwrap();
    w.write(&inband(1, &[&[1u8; 1000]])).unwrap();
    let mut r = RingReader::new(&big).unwrap();
    let mut b = r.batch();
    b.next_packet().unwrap();
    let p = b.next_packet().unwrap().unwrap();
    let small = TestRing::new(256);
    let mut r2 = RingReader::new(&small).unwrap();
    let b2 = r2.batch();
    assert_eq!(b2.copy_payload(&p, &mut [0u8; 2048]), Err(RingError::StalePacket));
}

#[test]
fn ring_sizes() {
    assert_eq!(ring::data_len_of_ring(8192), Ok(4096));
    assert!(ring::data_len_of_ring(4096).is_err());
    assert!(ring::data_len_of_ring(8000).is_err());
    assert_eq!(ring::ring_size_for_payload(4096), Some(8192));
    assert_eq!(ring::ring_size_for_payload(u32::MAX), None);
    let s = ring::split_ring_gpadl(10, 4).unwrap();
    assert_eq!((s.guest_to_host_pages, s.host_to_guest_start, s.host_to_guest_pages), (4, 4, 6));
    assert!(ring::split_ring_gpadl(10, 9).is_err());
    assert!(ring::split_ring_gpadl(10, 1).is_err());
    assert!(ring::split_ring_gpadl(10, 11).is_err());
    assert!(ring::split_ring_gpadl(3, 2).is_err());
}

#[derive(Clone, Debug)]
enum Op {
    /// Write packets with these payload sizes and part counts in one batch.
    Write(Vec<(usize, usize)>),
    /// Read up to this many packets in one batch.
    Read(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        prop::collection::vec((0usize..200, 1usize..4), 1..4).prop_map(Op::Write),
        (1usize..5).prop_map(Op::Read),
    ]
}

fn check_invariants(mem: &TestRing, size: u32, queued: &VecDeque<(u64, Vec<u8>)>) {
    let w = mem.peek(HeaderField::WriteIndex);
    let r = mem.peek(HeaderField::ReadIndex);
    assert!(w < size && w % 8 == 0 && r < size && r % 8 == 0);
    let used: u32 = queued.iter().map(|(_, d)| 16 + ((d.len() as u32 + 7) & !7) + 8).sum();
    let dist = if w >= r { w - r } else { size - r + w };
    assert_eq!(dist, used, "bytes between indices = queued packets");
    assert!(used < size, "never completely full");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    /// Random interleavings of batched writes and batched reads on small rings: contents and
    /// order preserved, index invariants hold, the full rule is exact, signals follow Linux.
    #[test]
    fn random_interleavings(size8 in 8u32..160, ops in prop::collection::vec(op(), 1..80)) {
        let size = size8 * 8;
        let mem = TestRing::new(size as usize);
        let mut w = RingWriter::new(&mem).unwrap();
        let mut r = RingReader::new(&mem).unwrap();
        let mut queued: VecDeque<(u64, Vec<u8>)> = VecDeque::new();
        let mut seq = 0u64;
        let mut buf = vec![0u8; 4096];
        for op in ops {
            match op {
                Op::Write(pkts) => {
                    let was_empty = queued.is_empty();
                    let mut b = w.batch().unwrap();
                    let mut pushed = 0;
                    for (len, parts) in pkts {
                        let data = pattern(seq, len);
                        let chunk = len.div_ceil(parts).max(1);
                        let slices: Vec<&[u8]> = data.chunks(chunk).collect();
                        let used: u32 = queued.iter().map(|(_, d)| 16 + ((d.len() as u32 + 7) & !7) + 8).sum();
                        let need = 16 + ((len as u32 + 7) & !7) + 8;
                        match b.push(&inband(seq, &slices)) {
                            Ok(_) => {
                                prop_assert!(size - used > need);
                                queued.push_back((seq, data));
                                pushed += 1;
                            }
                            Err(RingError::RingFull) => prop_assert!(size - used <= need && need < size),
                            Err(RingError::PacketTooLarge) => prop_assert!(need >= size),
                            Err(e) => prop_assert!(false, "unexpected {e:?}"),
                        }
                        seq += 1;
                    }
                    let signal = b.commit();
                    prop_assert_eq!(signal, pushed > 0 && was_empty);
                }
                Op::Read(n) => {
                    let mut b = r.batch();
                    for _ in 0..n {
                        match b.next_packet().unwrap() {
                            None => { prop_assert!(queued.is_empty()); break; }
                            Some(p) => {
                                let (id, data) = queued.pop_front().unwrap();
                                prop_assert_eq!(p.trans_id(), id);
                                let got = b.copy_payload(&p, &mut buf).unwrap();
                                prop_assert_eq!(got, (data.len() + 7) & !7);
                                prop_assert_eq!(&buf[..data.len()], &data[..]);
                            }
                        }
                    }
                    prop_assert!(!b.commit(), "writer never waits here");
                }
            }
            check_invariants(&mem, size, &queued);
        }
    }

    /// Garbage in the ring (data, indices) never panics, never reads outside the data area
    /// (the test memory asserts), and the read loop terminates.
    #[test]
    fn garbage_ring_never_panics(size8 in 4u32..64, data in prop::collection::vec(any::<u8>(), 512), write in any::<u32>(), read in any::<u32>(), pending in any::<u32>()) {
        let size = size8 * 8;
        let mem = TestRing::new(size as usize);
        mem.scribble(0, &data[..size as usize]);
        mem.poke(HeaderField::WriteIndex, write % (size + 16));
        mem.poke(HeaderField::ReadIndex, read % (size + 16));
        mem.poke(HeaderField::PendingSendSz, pending);
        if let Ok(mut r) = RingReader::new(&mem) {
            let mut b = r.batch();
            let mut buf = vec![0u8; 1 << 20];
            for _ in 0..(size / 24 + 2) {
                match b.next_packet() {
                    Ok(Some(p)) => {
                        prop_assert!(p.packet_len() >= 16 && p.header_len() >= 16 && p.header_len() <= p.packet_len());
                        b.copy_raw(&p, &mut buf).unwrap();
                        b.copy_ext(&p, &mut buf).unwrap();
                        b.copy_payload(&p, &mut buf).unwrap();
                    }
                    Ok(None) | Err(_) => break,
                }
            }
            b.commit();
            let _ = r.unmask_interrupts();
        }
        if let Ok(mut w) = RingWriter::new(&mem) {
            let _ = w.write(&inband(1, &[&data[..(write % 64) as usize]]));
        }
    }
}

#[test]
fn two_threads_stream() {
    use std::sync::Arc;
    let mem = Arc::new(SharedRing::new(4096));
    let count = 20_000u64;
    let wm = mem.clone();
    let writer = std::thread::spawn(move || {
        let mut w = RingWriter::new(&*wm).unwrap();
        let mut signals = 0;
        for seq in 0..count {
            let data = pattern(seq, (seq as usize * 37) % 700);
            loop {
                match w.write(&inband(seq, &[&data])) {
                    Ok(s) => {
                        signals += s as u32;
                        break;
                    }
                    Err(RingError::RingFull) => std::thread::yield_now(),
                    Err(e) => panic!("{e:?}"),
                }
            }
        }
        signals
    });
    let mut r = RingReader::new(&*mem).unwrap();
    let mut buf = vec![0u8; 1024];
    let mut seq = 0u64;
    while seq < count {
        let mut b = r.batch();
        let mut got = 0;
        while let Some(p) = b.next_packet().unwrap() {
            let data = pattern(seq, (seq as usize * 37) % 700);
            assert_eq!(p.trans_id(), seq);
            b.copy_payload(&p, &mut buf).unwrap();
            assert_eq!(&buf[..data.len()], &data[..]);
            seq += 1;
            got += 1;
        }
        b.commit();
        if got == 0 {
            std::thread::yield_now();
        }
    }
    assert!(writer.join().unwrap() >= 1);
}
