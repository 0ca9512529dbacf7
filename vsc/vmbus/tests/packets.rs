//! Packet extensions: transfer-page and GPA-direct headers, golden layouts, validation, and
//! a GPA-direct packet through a ring as storvsc sends it.
mod common;

use common::TestRing;
use proptest::prelude::*;
use vmbus_proto::gpadl::{GpaRange, Pfns};
use vmbus_proto::packet::{self as p, GpaDirectView, MultiPageBufferHeader, PacketError, PacketType, TransferPageView};
use vmbus_proto::ring::{OutgoingPacket, RingReader, RingWriter};
use zerocopy::IntoBytes;

#[test]
fn packet_types() {
    for (i, t) in PacketType::ALL.iter().enumerate() {
        assert_eq!(t.raw() as usize, i);
        assert_eq!(PacketType::from_raw(t.raw()), Some(*t));
    }
    assert_eq!(PacketType::from_raw(14), None);
    assert_eq!(PacketType::DataInband.raw(), 6);
    assert_eq!(PacketType::DataUsingXferPages.raw(), 7);
    assert_eq!(PacketType::DataUsingGpaDirect.raw(), 9);
    assert_eq!(PacketType::Completion.raw(), 11);
    assert_eq!(p::packet_len(0, 0), Some(16));
    assert_eq!(p::packet_len(0, 1), Some(24));
    assert_eq!(p::packet_len(16, 8), Some(40));
    assert_eq!(p::packet_len(0, p::MAX_PACKET_LEN - 16), Some(p::MAX_PACKET_LEN));
    assert_eq!(p::packet_len(0, p::MAX_PACKET_LEN - 15), None);
    assert_eq!(p::trailer(0x40), 0x40 << 32);
}

#[test]
fn transfer_page_golden() {
    // xfer_pageset_id 0xcafe, sender_owns_set 1, range_cnt 2, ranges (100 @ 0) (200 @ 4096).
    #[rustfmt::skip]
    let ext: [u8; 24] = [
        0xfe, 0xca, 0x01, 0x00, 0x02, 0, 0, 0,
        100, 0, 0, 0, 0, 0, 0, 0,
        200, 0, 0, 0, 0, 0x10, 0, 0,
    ];
    let v = TransferPageView::parse(&ext).unwrap();
    assert_eq!({ v.header.xfer_pageset_id }, 0xcafe);
    assert_eq!(v.header.sender_owns_set, 1);
    assert_eq!(v.range_count(), 2);
    let r: Vec<(u32, u32)> = v.ranges().map(|r| (r.byte_count, r.byte_offset)).collect();
    assert_eq!(r, [(100, 0), (200, 4096)]);
    assert_eq!(v.range(1).map(|r| r.byte_offset), Some(4096));
    assert_eq!(v.range(2), None);
    // range_cnt beyond the bytes.
    let mut bad = ext;
    bad[4] = 3;
    assert_eq!(TransferPageView::parse(&bad), Err(PacketError::RangesBeyondHeader));
    bad[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(TransferPageView::parse(&bad), Err(PacketError::RangesBeyondHeader));
    assert_eq!(TransferPageView::parse(&ext[..7]), Err(PacketError::TooShort));
}

#[test]
fn gpa_direct_golden() {
    // Two ranges: 0x2000 bytes at 0x100 (3 pages), 10 bytes at 0 (1 page).
    let mut ext = Vec::new();
    ext.extend_from_slice(&[0, 0, 0, 0, 2, 0, 0, 0]);
    ext.extend_from_slice(&[0, 0x20, 0, 0, 0, 1, 0, 0]);
    for pfn in [0x10u64, 0x11, 0x12] {
        ext.extend_from_slice(&pfn.to_le_bytes());
    }
    ext.extend_from_slice(&[10, 0, 0, 0, 0, 0, 0, 0]);
    ext.extend_from_slice(&0x99u64.to_le_bytes());
    let v = GpaDirectView::parse(&ext).unwrap();
    assert_eq!(v.range_cnt, 2);
    let r: Vec<(GpaRange, Vec<u64>)> = v.ranges().map(|r| (r.range, r.pfns.iter().collect())).collect();
    assert_eq!(r[0], (GpaRange { byte_count: 0x2000, byte_offset: 0x100 }, vec![0x10, 0x11, 0x12]));
    assert_eq!(r[1], (GpaRange { byte_count: 10, byte_offset: 0 }, vec![0x99]));
    assert_eq!(v.total_bytes(), 0x2000 + 10);
    // Missing PFN.
    assert_eq!(GpaDirectView::parse(&ext[..ext.len() - 8]), Err(PacketError::PfnsBeyondHeader));
    // Offset outside the page.
    let mut bad = ext.clone();
    bad[12..16].copy_from_slice(&4096u32.to_le_bytes());
    assert_eq!(GpaDirectView::parse(&bad), Err(PacketError::BadByteOffset));
    // Zero bytes.
    let mut bad = ext.clone();
    bad[8..12].copy_from_slice(&0u32.to_le_bytes());
    assert_eq!(GpaDirectView::parse(&bad), Err(PacketError::EmptyRange));
    // Huge count.
    let mut bad = ext.clone();
    bad[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(GpaDirectView::parse(&bad), Err(PacketError::RangesBeyondHeader));
    assert_eq!(GpaDirectView::parse(&[0; 4]), Err(PacketError::TooShort));
}

#[test]
fn gpa_direct_through_ring() {
    // As storvsc's vmbus_sendpacket_mpb_desc(): one range, completion requested.
    let mem = TestRing::new(4096);
    let mut w = RingWriter::new(&mem).unwrap();
    let mut r = RingReader::new(&mem).unwrap();
    let pfns = [0x1234u64, 0x1235, 0x1236];
    let mpb = MultiPageBufferHeader::new(2 * 4096 + 100, 300);
    let request = [0x5au8; 52];
    let pfn_bytes = pfns.as_bytes();
    let ext: [&[u8]; 2] = [mpb.as_bytes(), pfn_bytes];
    let payload: [&[u8]; 1] = [&request];
    w.write(&OutgoingPacket::gpa_direct(77, &ext, &payload)).unwrap();
    let mut b = r.batch();
    let pkt = b.next_packet().unwrap().unwrap();
    assert_eq!(pkt.packet_type(), Some(PacketType::DataUsingGpaDirect));
    assert!(pkt.completion_requested());
    assert_eq!(pkt.header_len(), 16 + 16 + 24);
    let d = pkt.descriptor();
    assert_eq!(({ d.offset8 }, { d.len8 }), (7, 14));
    let mut ext_buf = [0u8; 64];
    let n = b.copy_ext(&pkt, &mut ext_buf).unwrap();
    let v = GpaDirectView::parse(&ext_buf[..n]).unwrap();
    let range = v.ranges().next().unwrap();
    assert_eq!(range.range, GpaRange { byte_count: 2 * 4096 + 100, byte_offset: 300 });
    assert_eq!(range.pfns, Pfns::from_slice(&pfns));
    let mut pl = [0u8; 64];
    assert_eq!(b.copy_payload(&pkt, &mut pl).unwrap(), 56);
    assert_eq!(&pl[..52], &request);
    b.commit();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_extensions_never_panic(b in prop::collection::vec(any::<u8>(), 0..200), small_count in 0u32..6) {
        let mut b = b;
        if b.len() >= 8 {
            b[4..8].copy_from_slice(&small_count.to_le_bytes());
        }
        if let Ok(v) = TransferPageView::parse(&b) {
            prop_assert_eq!(v.ranges().count(), v.range_count());
        }
        if let Ok(v) = GpaDirectView::parse(&b) {
            prop_assert_eq!(v.ranges().count() as u32, v.range_cnt);
            for r in v.ranges() {
                prop_assert!(r.range.byte_offset < 4096 && r.range.byte_count > 0);
                prop_assert_eq!(r.pfns.len() as u32, r.range.pfn_count());
            }
        }
        let _ = p::read_descriptor(&b);
    }
}
