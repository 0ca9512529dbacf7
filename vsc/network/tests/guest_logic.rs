//! The network VSC's decisions (`netvsc_proto::guest`), tested without a kernel: transaction
//! ids and send slots, the lock-free index allocator, the NVSP negotiation against a host
//! answering as the simulator's NetVSP does, RNDIS control responses, the classification of
//! every packet the host can send (each hostile kind of the NetVSP contract dropped into its
//! own counter), receive parsing, transmit planning and page lists, queues, filters, MTU, and
//! the whole RNDIS conversation against the crate's host adapter. Arbitrary input never
//! panics.
use std::collections::HashSet;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use netvsc_proto::device::{DeviceConfig, Reply, RndisDevice};
use netvsc_proto::guest::*;
use netvsc_proto::nvsp::{self, NvspMessage, NvspVersion, ReceiveBufferLayout, Sender};
use netvsc_proto::oid::{self, OffloadPlan, RssParams};
use netvsc_proto::packet::{self, RxInfo, TxInfo};
use netvsc_proto::ppi::{self, LsoV2Tx, RndisPktinfoId, RxChecksum, TxChecksum, VlanInfo};
use netvsc_proto::rndis::{self, RndisError, RndisMessage, StatusEvent};
use proptest::prelude::*;
use vmbus_proto::packet::{PacketType, TransferPageHeader, TransferPageRange, DESCRIPTOR_SIZE};
use zerocopy::IntoBytes;

const MAC: [u8; 6] = [0x00, 0x15, 0x5d, 0x00, 0x00, 0x10];

// ---------------------------------------------------------------------------------------
// Helpers: packets as the host sends them.

fn nvsp_bytes(m: &NvspMessage<'_>) -> Vec<u8> {
    let mut b = vec![0u8; m.encoded_len()];
    let n = m.encode(&mut b).unwrap();
    b.truncate(n);
    b
}

/// A packet as `pvg_vmbus_recv` copies it: descriptor, extension, payload. Returns the
/// bytes and the payload offset.
fn packet(ty: PacketType, ext: &[u8], payload: &[u8]) -> (Vec<u8>, usize) {
    let data_offset = DESCRIPTOR_SIZE as usize + ext.len();
    let mut p = vec![0u8; DESCRIPTOR_SIZE as usize];
    p[0..2].copy_from_slice(&ty.raw().to_le_bytes());
    p[2..4].copy_from_slice(&((data_offset / 8) as u16).to_le_bytes());
    p.extend_from_slice(ext);
    p.extend_from_slice(payload);
    (p, data_offset)
}

fn xfer_ext(pageset: u16, ranges: &[(u32, u32)]) -> Vec<u8> {
    let h = TransferPageHeader { xfer_pageset_id: pageset, sender_owns_set: 0, reserved: 0, range_cnt: ranges.len() as u32 };
    let mut e = h.as_bytes().to_vec();
    for (off, len) in ranges {
        e.extend_from_slice(TransferPageRange { byte_count: *len, byte_offset: *off }.as_bytes());
    }
    e
}

fn rndis_pkt(control: bool) -> Vec<u8> {
    nvsp_bytes(&NvspMessage::rndis_packet(control, None))
}

/// A data message as the NetVSP builds it in a receive section.
fn rx_message(frame: &[u8], info: &RxInfo) -> Vec<u8> {
    let mut b = vec![0u8; 9216];
    let n = packet::build_rx_packet(&mut b, frame, info).unwrap();
    b.truncate(n);
    b
}

fn frame(len: usize) -> Vec<u8> {
    let mut f: Vec<u8> = (0..len).map(|i| i as u8).collect();
    f[..6].copy_from_slice(&MAC);
    f
}

fn put32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

fn get32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}

// ---------------------------------------------------------------------------------------
// Transaction ids.

#[test]
fn trans_id_layout() {
    let s = TransId::Send { queue: 3, slot: 0x1234, generation: 0xdead_beef };
    assert_eq!(s.encode(), (3u64 << 48) | (0x1234u64 << 32) | 0xdead_beef);
    assert_eq!(TransId::Control { seq: 7 }.encode(), TRANS_CONTROL | 7);
    assert_eq!(TransId::decode(s.encode(), 4, 0x2000), Ok(s));
    assert_eq!(TransId::decode(TRANS_CONTROL | 7, 1, 1), Ok(TransId::Control { seq: 7 }));
}

#[test]
fn trans_id_refusals() {
    assert_eq!(TransId::decode(0, 4, 4), Err(IdError::ZeroGeneration));
    assert_eq!(TransId::decode(TRANS_CONTROL, 4, 4), Err(IdError::ZeroGeneration));
    assert_eq!(TransId::decode(TRANS_CONTROL | (1 << 40) | 1, 4, 4), Err(IdError::ReservedBits));
    assert_eq!(TransId::decode((4u64 << 48) | 1, 4, 4), Err(IdError::Queue(4)));
    assert_eq!(TransId::decode((1u64 << 48) | (4u64 << 32) | 1, 4, 4), Err(IdError::Slot(4)));
    // The ids the NetVSP's `inject send-completion-unknown` may use all fail or name a slot
    // whose generation does not match (checked in `completions_claim_once`).
    assert!(TransId::decode(u64::MAX, 64, 1024).is_err());
}

proptest! {
    #[test]
    fn trans_id_round_trip(queue in 0u16..0x8000, slot: u16, generation in 1u32..) {
        let id = TransId::Send { queue, slot, generation };
        prop_assert_eq!(TransId::decode(id.encode(), 0x8000, 0x10000), Ok(id));
        prop_assert_ne!(id.encode(), 0);
        prop_assert_eq!(id.encode() & TRANS_CONTROL, 0);
    }

    #[test]
    fn trans_id_decode_never_panics(id: u64, queues: u32, slots: u32) {
        if let Ok(TransId::Send { queue, slot, generation }) = TransId::decode(id, queues, slots) {
            prop_assert!(u32::from(queue) < queues && u32::from(slot) < slots && generation != 0);
        }
    }
}

// ---------------------------------------------------------------------------------------
// The index bitmap.

#[test]
fn index_bitmap_basics() {
    let words: Vec<AtomicU64> = (0..IndexBitmap::words_for(100)).map(|_| AtomicU64::new(0)).collect();
    assert_eq!(words.len(), 2);
    assert!(IndexBitmap::new(&words[..1], 100).is_none(), "too few words");
    let b = IndexBitmap::new(&words, 100).unwrap();
    assert_eq!(b.count(), 100);
    let mut got = HashSet::new();
    for i in 0..100 {
        let x = b.alloc(i * 7).unwrap();
        assert!(x < 100, "index {x} beyond the count");
        assert!(got.insert(x));
        assert!(b.in_use(x));
    }
    assert_eq!(b.alloc(0), None, "all in use");
    assert_eq!(b.used(), 100);
    assert_eq!(b.free(100), Err(FreeError::OutOfRange(100)));
    b.free(42).unwrap();
    assert_eq!(b.free(42), Err(FreeError::NotAllocated(42)));
    assert!(!b.in_use(42));
    assert_eq!(b.alloc(99), Some(42));
    let empty: [AtomicU64; 0] = [];
    let e = IndexBitmap::new(&empty, 0).unwrap();
    assert_eq!(e.alloc(3), None);
}

#[test]
fn index_bitmap_concurrent_unique() {
    let words: Arc<Vec<AtomicU64>> = Arc::new((0..IndexBitmap::words_for(300)).map(|_| AtomicU64::new(0)).collect());
    let handles: Vec<_> = (0..4u32)
        .map(|t| {
            let w = words.clone();
            std::thread::spawn(move || {
                let b = IndexBitmap::new(&w, 300).unwrap();
                let mut mine = Vec::new();
                for round in 0..2000u32 {
                    if let Some(i) = b.alloc(t * 64 + round) {
                        mine.push(i);
                    }
                    if mine.len() > 50 {
                        for i in mine.drain(..25) {
                            b.free(i).unwrap();
                        }
                    }
                }
                mine
            })
        })
        .collect();
    let mut all = HashSet::new();
    for h in handles {
        for i in h.join().unwrap() {
            assert!(all.insert(i), "index {i} held twice");
        }
    }
    let b = IndexBitmap::new(&words, 300).unwrap();
    assert_eq!(b.used() as usize, all.len());
}

// ---------------------------------------------------------------------------------------
// NVSP setup against a host that answers as the NetVSP contract says.

/// The host side of the NVSP negotiation (contract: versions 1, 2, 4, 5, 6, 6.1; receive
/// sections of 9216; send sections of 6144).
struct Host {
    allowed: Vec<NvspVersion>,
    recv_status: u32,
    recv_section: u32,
    /// Sections announced beyond what the buffer holds.
    recv_extra: u32,
    send_section: u32,
    seen: Vec<u32>,
    mtu: Option<u32>,
}

impl Host {
    fn new() -> Self {
        Host { allowed: NvspVersion::NEWEST_FIRST.to_vec(), recv_status: nvsp::NVSP_STAT_SUCCESS, recv_section: 9216, recv_extra: 0, send_section: 6144, seen: vec![], mtu: None }
    }

    /// The completion payload for a request, if it asks for one.
    fn answer(&mut self, req: &[u8], recv_size: u32) -> Option<Vec<u8>> {
        let m = nvsp::parse(req, Sender::Guest).unwrap();
        self.seen.push(m.msg_type());
        match m {
            NvspMessage::Init(i) => {
                let v = NvspVersion::negotiate(i.min_protocol_ver, i.max_protocol_ver, &self.allowed);
                Some(nvsp_bytes(&NvspMessage::init_complete(v, 34)))
            }
            NvspMessage::SendNdisConfig(c) => {
                self.mtu = Some(c.mtu);
                None
            }
            NvspMessage::SendNdisVersion(_) => None,
            NvspMessage::SendReceiveBuffer(_) => {
                let section = nvsp::Nvsp1ReceiveBufferSection {
                    offset: 0,
                    sub_alloc_size: self.recv_section,
                    num_sub_allocs: recv_size / self.recv_section + self.recv_extra,
                    end_offset: recv_size,
                };
                let mut c = nvsp::ReceiveBufferComplete::single(section);
                c.status = self.recv_status;
                Some(nvsp_bytes(&NvspMessage::SendReceiveBufferComplete(c)))
            }
            NvspMessage::SendSendBuffer(_) => {
                Some(nvsp_bytes(&NvspMessage::send_buffer_complete(nvsp::NVSP_STAT_SUCCESS, self.send_section)))
            }
            other => panic!("unexpected request {other:?}"),
        }
    }
}

fn config() -> SetupConfig {
    SetupConfig { newest: NvspVersion::V61, mtu: 9000, isolated: false, recv_buf_size: 4 << 20, send_buf_size: 1 << 20 }
}

/// Runs the negotiation; returns the setup and how many GPADLs were made.
fn negotiate(host: &mut Host, cfg: SetupConfig) -> Result<NvspSetup, SetupError> {
    let mut s = NvspSetup::new(cfg);
    let mut recv_size = 0;
    for _ in 0..64 {
        match s.next_action()? {
            SetupAction::Send { msg, completion } => {
                let req = nvsp_bytes(&msg);
                let ans = host.answer(&req, recv_size);
                assert_eq!(ans.is_some(), completion, "completion expected for {:?}", msg.msg_type());
                if let Some(a) = ans {
                    s.completion(&a)?;
                }
            }
            SetupAction::CreateReceiveBuffer { size } => {
                assert_eq!(size % 4096, 0);
                recv_size = size;
                s.buffer_created(0x100)?;
            }
            SetupAction::CreateSendBuffer { size } => {
                assert_eq!(size % 4096, 0);
                s.buffer_created(0x101)?;
            }
            SetupAction::Done => return Ok(s),
        }
    }
    panic!("negotiation did not end");
}

#[test]
fn setup_newest_version() {
    let mut h = Host::new();
    let s = negotiate(&mut h, config()).unwrap();
    assert_eq!(s.version(), Some(NvspVersion::V61));
    assert_eq!(h.mtu, Some(9014), "NDIS config announces MTU + ETH_HLEN");
    assert_eq!(
        h.seen,
        [
            nvsp::NVSP_MSG_TYPE_INIT,
            nvsp::NVSP_MSG2_TYPE_SEND_NDIS_CONFIG,
            nvsp::NVSP_MSG1_TYPE_SEND_NDIS_VER,
            nvsp::NVSP_MSG1_TYPE_SEND_RECV_BUF,
            nvsp::NVSP_MSG1_TYPE_SEND_SEND_BUF
        ]
    );
    let r = s.receive_layout().unwrap();
    assert_eq!((r.buffer_size, r.section_size, r.section_count), (4 << 20, 9216, (4 << 20) / 9216));
    let t = s.send_layout().unwrap();
    assert_eq!((t.buffer_size, t.section_size, t.section_count), (1 << 20, 6144, (1 << 20) / 6144));
}

#[test]
fn setup_ndis_config_has_no_rsc() {
    let mut s = NvspSetup::new(config());
    let SetupAction::Send { msg, .. } = s.next_action().unwrap() else { panic!() };
    s.completion(&nvsp_bytes(&NvspMessage::init_complete(Some(NvspVersion::V61), 34))).ok();
    let _ = msg;
    let SetupAction::Send { msg, completion: false } = s.next_action().unwrap() else { panic!() };
    let NvspMessage::SendNdisConfig(c) = msg else { panic!("{msg:?}") };
    let caps = c.capability.data;
    assert_eq!(caps & nvsp::NVSP_CAP_RSC, 0);
    assert_ne!(caps & nvsp::NVSP_CAP_IEEE8021Q, 0);
}

#[test]
fn setup_falls_back_through_versions() {
    for (allowed, want) in [
        (vec![NvspVersion::V5], NvspVersion::V5),
        (vec![NvspVersion::V4, NvspVersion::V2], NvspVersion::V4),
        (vec![NvspVersion::V1], NvspVersion::V1),
    ] {
        let mut h = Host::new();
        h.allowed = allowed;
        let s = negotiate(&mut h, config()).unwrap();
        assert_eq!(s.version(), Some(want));
        let inits = h.seen.iter().filter(|t| **t == nvsp::NVSP_MSG_TYPE_INIT).count();
        let pos = NvspVersion::NEWEST_FIRST.iter().position(|v| *v == want).unwrap();
        assert_eq!(inits, pos + 1, "one INIT per version tried, newest first");
        let has_config = h.seen.contains(&nvsp::NVSP_MSG2_TYPE_SEND_NDIS_CONFIG);
        assert_eq!(has_config, want != NvspVersion::V1, "NDIS config from version 2");
        // Legacy hosts take 15 MiB at most.
        if want == NvspVersion::V1 {
            let mut h = Host::new();
            h.allowed = vec![NvspVersion::V1];
            let cfg = SetupConfig { recv_buf_size: 31 << 20, ..config() };
            let s = negotiate(&mut h, cfg).unwrap();
            assert_eq!(s.receive_layout().unwrap().buffer_size, 15 << 20);
        }
    }
    let mut h = Host::new();
    h.allowed = vec![];
    assert_eq!(negotiate(&mut h, config()).err(), Some(SetupError::NoCommonVersion));
}

#[test]
fn setup_starts_at_the_configured_version() {
    let mut h = Host::new();
    let s = negotiate(&mut h, SetupConfig { newest: NvspVersion::V5, ..config() }).unwrap();
    assert_eq!(s.version(), Some(NvspVersion::V5));
    assert_eq!(h.seen.iter().filter(|t| **t == nvsp::NVSP_MSG_TYPE_INIT).count(), 1);
}

#[test]
fn setup_buffer_sizes_are_whole_pages() {
    let mut h = Host::new();
    let s = negotiate(&mut h, SetupConfig { recv_buf_size: 100_000, send_buf_size: 70_000, ..config() }).unwrap();
    assert_eq!(s.receive_layout().unwrap().buffer_size, 98_304);
    assert_eq!(s.send_layout().unwrap().buffer_size, 69_632);
    assert_eq!(s.receive_layout().unwrap().section_count, 10);
    // A send buffer smaller than a section is refused by the layout check.
    let mut h = Host::new();
    let r = negotiate(&mut h, SetupConfig { send_buf_size: 1000, ..config() });
    assert!(matches!(r, Err(SetupError::Buffer(nvsp::NvspError::SendSectionSize(6144)))), "{r:?}");
}

#[test]
fn setup_refusals() {
    // The host fails the receive buffer.
    let mut h = Host::new();
    h.recv_status = nvsp::NVSP_STAT_FAIL;
    assert!(matches!(negotiate(&mut h, config()), Err(SetupError::Buffer(nvsp::NvspError::ReceiveBufferStatus(2)))));
    // Sections smaller than the minimum MTU.
    let mut h = Host::new();
    h.recv_section = 64;
    assert!(negotiate(&mut h, config()).is_err());
    // More sections than the buffer holds.
    let mut h = Host::new();
    h.recv_extra = 1;
    assert_eq!(negotiate(&mut h, config()).err(), Some(SetupError::Buffer(nvsp::NvspError::ReceiveSectionsExceedBuffer)));
    // Send sections too small.
    let mut h = Host::new();
    h.send_section = 10;
    assert!(matches!(negotiate(&mut h, config()), Err(SetupError::Buffer(nvsp::NvspError::SendSectionSize(10)))));
}

#[test]
fn setup_wrong_answers() {
    // INIT answered with a send buffer completion.
    let mut s = NvspSetup::new(config());
    s.next_action().unwrap();
    let wrong = nvsp_bytes(&NvspMessage::send_buffer_complete(1, 6144));
    assert_eq!(s.completion(&wrong), Err(SetupError::Unexpected(nvsp::NVSP_MSG1_TYPE_SEND_SEND_BUF_COMPLETE)));
    assert_eq!(s.next_action(), Err(SetupError::OutOfOrder), "a failed setup stays failed");
    // Garbage.
    let mut s = NvspSetup::new(config());
    s.next_action().unwrap();
    assert!(matches!(s.completion(&[1, 2]), Err(SetupError::Malformed(_))));
    // A message the guest sends, from the host.
    let mut s = NvspSetup::new(config());
    s.next_action().unwrap();
    assert!(matches!(s.completion(&nvsp_bytes(&NvspMessage::init(NvspVersion::V61))), Err(SetupError::Malformed(_))));
    // A completion nobody asked for, and GPADL reports out of order.
    let mut s = NvspSetup::new(config());
    assert_eq!(s.completion(&nvsp_bytes(&NvspMessage::init_complete(Some(NvspVersion::V61), 0))), Err(SetupError::OutOfOrder));
    let mut s = NvspSetup::new(config());
    assert_eq!(s.buffer_created(1), Err(SetupError::OutOfOrder));
    s.next_action().unwrap();
    assert_eq!(s.next_action(), Err(SetupError::OutOfOrder), "next before the completion");
    assert!(!SetupError::NoCommonVersion.as_str().is_empty());
}

#[test]
fn subchannel_completion() {
    let ok = |n| nvsp_bytes(&NvspMessage::subchannel_complete(nvsp::NVSP_STAT_SUCCESS, n));
    assert_eq!(subchannels_granted(&ok(3), 3), Ok(3));
    assert_eq!(subchannels_granted(&ok(9), 3), Ok(3), "never more than asked for");
    assert_eq!(subchannels_granted(&nvsp_bytes(&NvspMessage::subchannel_complete(nvsp::NVSP_STAT_FAIL, 3)), 3), Ok(0));
    assert!(matches!(subchannels_granted(&nvsp_bytes(&NvspMessage::init(NvspVersion::V5)), 3), Err(SetupError::Malformed(_))));
    assert!(matches!(
        subchannels_granted(&nvsp_bytes(&NvspMessage::send_buffer_complete(1, 6144)), 3),
        Err(SetupError::Unexpected(_))
    ));
}

#[test]
fn channel_count() {
    let caps = oid::NdisRecvScaleCap::new(4, 128);
    assert_eq!(channels_wanted(2, 0, 0, Some(&caps), NvspVersion::V61), 2, "one per CPU");
    assert_eq!(channels_wanted(8, 0, 0, Some(&caps), NvspVersion::V61), 4, "the host's queues");
    assert_eq!(channels_wanted(8, 3, 0, Some(&caps), NvspVersion::V61), 3, "the module parameter");
    assert_eq!(channels_wanted(8, 0, 2, Some(&caps), NvspVersion::V61), 2, "the bus's CPUs");
    assert_eq!(channels_wanted(8, 0, 0, None, NvspVersion::V61), 1, "no RSS");
    assert_eq!(channels_wanted(8, 0, 0, Some(&caps), NvspVersion::V4), 1, "no vRSS before NVSP 5");
    assert_eq!(channels_wanted(8, 0, 0, Some(&oid::NdisRecvScaleCap::new(1, 128)), NvspVersion::V61), 1);
    assert_eq!(channels_wanted(0, 0, 0, Some(&caps), NvspVersion::V61), 1);
    assert_eq!(channels_wanted(200, 0, 0, Some(&oid::NdisRecvScaleCap::new(1000, 128)), NvspVersion::V61), 64);
}

// ---------------------------------------------------------------------------------------
// RNDIS control responses.

fn host_reply(dev: &mut RndisDevice, req: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 8192];
    match dev.handle_bytes(req, &mut out).unwrap() {
        Reply::Message(n) => {
            out.truncate(n);
            out
        }
        Reply::None => vec![],
    }
}

#[test]
fn request_ids_never_zero() {
    let mut r = RequestIds::new();
    assert_eq!(r.next_id(), 1);
    assert_eq!(r.next_id(), 2);
    let mut seen = HashSet::new();
    for _ in 0..10 {
        assert!(seen.insert(r.next_id()));
    }
}

#[test]
fn responses_are_matched() {
    let mut b = vec![0u8; 64];
    let n = rndis::build_set_complete(&mut b, 9, rndis::RNDIS_STATUS_SUCCESS).unwrap();
    let m = response(&b[..n], 9, rndis::RNDIS_MSG_SET).unwrap();
    assert_eq!(set_status(&m), Ok(()));
    assert_eq!(response(&b[..n], 8, rndis::RNDIS_MSG_SET).err(), Some(ControlError::WrongId { expected: 8, got: 9 }));
    assert_eq!(
        response(&b[..n], 9, rndis::RNDIS_MSG_QUERY).err(),
        Some(ControlError::WrongType { expected: rndis::RNDIS_MSG_QUERY_C, got: rndis::RNDIS_MSG_SET_C })
    );
    assert!(matches!(response(&b[..4], 9, rndis::RNDIS_MSG_SET), Err(ControlError::Malformed(_))));
    let n = rndis::build_set_complete(&mut b, 9, rndis::RNDIS_STATUS_FAILURE).unwrap();
    let m = response(&b[..n], 9, rndis::RNDIS_MSG_SET).unwrap();
    assert_eq!(set_status(&m), Err(ControlError::Status(rndis::RNDIS_STATUS_FAILURE)));
    // Longer than Linux's response buffer.
    let mut big = vec![0u8; rndis::RNDIS_MAX_RESPONSE_SIZE + 64];
    let n = rndis::build_query_complete(&mut big, 3, 0, &[0u8; rndis::RNDIS_EXT_LEN + 64]).unwrap();
    assert!(matches!(response(&big[..n], 3, rndis::RNDIS_MSG_QUERY), Err(ControlError::TooLong(_))));
    // RESET_C carries no request id.
    let n = rndis::build_reset_complete(&mut b, 0, false).unwrap();
    assert!(response(&b[..n], 77, rndis::RNDIS_MSG_RESET).is_ok());
    for e in [ControlError::TooLong(1), ControlError::Status(1), ControlError::ResultLength(3)] {
        assert!(!e.as_str().is_empty());
    }
}

#[test]
fn query_results_are_checked() {
    let mut b = vec![0u8; 256];
    let q = |b: &mut Vec<u8>, info: &[u8], status| {
        let n = rndis::build_query_complete(b, 5, status, info).unwrap();
        b[..n].to_vec()
    };
    let m4 = q(&mut b, &1500u32.to_le_bytes(), 0);
    let m = response(&m4, 5, rndis::RNDIS_MSG_QUERY).unwrap();
    assert_eq!(query_u32(&m), Ok(1500));
    assert!(matches!(query_mac(&m), Err(ControlError::ResultLength(4))));
    let m6 = q(&mut b, &MAC, 0);
    let m = response(&m6, 5, rndis::RNDIS_MSG_QUERY).unwrap();
    assert_eq!(query_mac(&m), Ok(MAC));
    assert_eq!(query_u32(&m), Err(ControlError::ResultLength(6)));
    for bad in [[0u8; 6], [0x01, 0, 0, 0, 0, 1], [0xff; 6]] {
        let mb = q(&mut b, &bad, 0);
        let m = response(&mb, 5, rndis::RNDIS_MSG_QUERY).unwrap();
        assert!(matches!(query_mac(&m), Err(ControlError::Result(_))), "{bad:?}");
    }
    let mf = q(&mut b, &[], rndis::RNDIS_STATUS_NOT_SUPPORTED);
    let m = response(&mf, 5, rndis::RNDIS_MSG_QUERY).unwrap();
    assert_eq!(query_u32(&m), Err(ControlError::Status(rndis::RNDIS_STATUS_NOT_SUPPORTED)));
    let ml = q(&mut b, &[0u8; 8], 0);
    let m = response(&ml, 5, rndis::RNDIS_MSG_QUERY).unwrap();
    assert_eq!(query_info(&m, 4), Err(ControlError::ResultLength(8)));
    // A SET completion is not a query result.
    let n = rndis::build_set_complete(&mut b, 5, 0).unwrap();
    let m = RndisMessage::parse(&b[..n]).unwrap().0;
    assert!(matches!(query_u32(&m), Err(ControlError::WrongType { .. })));
    assert!(matches!(InitParams::from_response(&m), Err(ControlError::WrongType { .. })));
    assert!(matches!(query_offload(&m), Err(ControlError::WrongType { .. })));
    assert!(matches!(query_rss_caps(&m), Err(ControlError::WrongType { .. })));
}

#[test]
fn init_params() {
    let mut dev = RndisDevice::new(DeviceConfig::new(MAC));
    let mut b = [0u8; 64];
    let n = rndis::build_init(&mut b, 1, rndis::LINUX_MAX_XFER_SIZE).unwrap();
    let r = host_reply(&mut dev, &b[..n]);
    let m = response(&r, 1, rndis::RNDIS_MSG_INIT).unwrap();
    assert_eq!(InitParams::from_response(&m), Ok(InitParams { max_pkt_per_msg: 8, pkt_align: 8 }));
    // A failed INIT, and an alignment factor that is absurd.
    let mut c = rndis::RndisInitializeComplete { req_id: 1, status: rndis::RNDIS_STATUS_FAILURE, ..Default::default() };
    let n = rndis::build_init_complete(&mut b, &c).unwrap();
    let m = RndisMessage::parse(&b[..n]).unwrap().0;
    assert_eq!(InitParams::from_response(&m), Err(ControlError::Status(rndis::RNDIS_STATUS_FAILURE)));
    c.status = 0;
    c.pkt_alignment_factor = 40;
    let n = rndis::build_init_complete(&mut b, &c).unwrap();
    let m = RndisMessage::parse(&b[..n]).unwrap().0;
    assert!(matches!(InitParams::from_response(&m), Err(ControlError::Malformed(_))));
    c.pkt_alignment_factor = 0;
    c.max_pkt_per_msg = 0;
    let n = rndis::build_init_complete(&mut b, &c).unwrap();
    let m = RndisMessage::parse(&b[..n]).unwrap().0;
    assert_eq!(InitParams::from_response(&m).map(|p| p.max_pkt_per_msg), Ok(1), "at least one message per send");
}

/// The whole RNDIS conversation of the driver's probe against the crate's host adapter.
#[test]
fn conversation_with_the_host_adapter() {
    let mut cfg = DeviceConfig::new(MAC);
    cfg.mtu = 9000;
    cfg.rss = Some(netvsc_proto::device::RssConfig { queues: 4, table_entries: 128 });
    let mut dev = RndisDevice::new(cfg);
    let mut ids = RequestIds::new();
    let mut b = vec![0u8; 8192];

    let id = ids.next_id();
    let n = rndis::build_init(&mut b, id, rndis::LINUX_MAX_XFER_SIZE).unwrap();
    let r = host_reply(&mut dev, &b[..n]);
    InitParams::from_response(&response(&r, id, rndis::RNDIS_MSG_INIT).unwrap()).unwrap();

    let mut query = |dev: &mut RndisDevice, oid: u32, input: &[u8]| {
        let id = ids.next_id();
        let mut b = vec![0u8; 8192];
        let n = rndis::build_query(&mut b, id, oid, input).unwrap();
        let r = host_reply(dev, &b[..n]);
        let m = response(&r, id, rndis::RNDIS_MSG_QUERY).unwrap();
        (r.clone(), m.msg_type())
    };
    let (r, _) = query(&mut dev, oid::RNDIS_OID_802_3_PERMANENT_ADDRESS, &[]);
    assert_eq!(query_mac(&RndisMessage::parse(&r).unwrap().0), Ok(MAC));
    let (r, _) = query(&mut dev, oid::RNDIS_OID_GEN_MAXIMUM_FRAME_SIZE, &[]);
    let host_mtu = query_u32(&RndisMessage::parse(&r).unwrap().0).unwrap();
    assert_eq!(max_mtu(9000, Some(host_mtu), 9216), 9000);
    let (r, _) = query(&mut dev, oid::RNDIS_OID_GEN_MEDIA_CONNECT_STATUS, &[]);
    assert_eq!(query_u32(&RndisMessage::parse(&r).unwrap().0), Ok(rndis::RNDIS_MEDIA_STATE_CONNECTED));
    let mut hdr = [0u8; oid::NDIS_OFFLOAD_SIZE];
    let hn = oid::build_offload_caps_query(&mut hdr, NvspVersion::V61).unwrap();
    let (r, _) = query(&mut dev, oid::OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES, &hdr[..hn]);
    let caps = query_offload(&RndisMessage::parse(&r).unwrap().0).unwrap();
    let plan = OffloadPlan::linux(&caps, false);
    let tx = TxCaps::from_plan(&plan);
    assert!(tx.tso4 && tx.tso6);
    assert_eq!(tx.gso_max, 62780);
    assert_ne!(tx.csum_mask & oid::TRANSPORT_INFO_IPV4_TCP, 0);
    let mut q = [0u8; 64];
    let qn = oid::NdisRecvScaleCap::build_query(&mut q).unwrap();
    let (r, _) = query(&mut dev, oid::OID_GEN_RECEIVE_SCALE_CAPABILITIES, &q[..qn]);
    let rss = query_rss_caps(&RndisMessage::parse(&r).unwrap().0).unwrap();
    assert_eq!(channels_wanted(2, 0, 0, Some(&rss), NvspVersion::V61), 2);

    // The SETs: offload parameters, RSS parameters, packet filter.
    let mut set = |dev: &mut RndisDevice, oid: u32, info: &[u8]| {
        let id = ids.next_id();
        let mut b = vec![0u8; 8192];
        let n = rndis::build_set(&mut b, id, oid, info).unwrap();
        let r = host_reply(dev, &b[..n]);
        set_status(&response(&r, id, rndis::RNDIS_MSG_SET).unwrap())
    };
    let mut p = [0u8; 64];
    let pn = plan.params.write(&mut p, NvspVersion::V61).unwrap();
    set(&mut dev, oid::OID_TCP_OFFLOAD_PARAMETERS, &p[..pn]).unwrap();
    let mut rp = vec![0u8; 1024];
    let rn = build_rss_params(&mut rp, 2, u32::from(rss.num_indirect_tabent)).unwrap();
    set(&mut dev, oid::OID_GEN_RECEIVE_SCALE_PARAMETERS, &rp[..rn]).unwrap();
    assert_eq!(dev.rss().table().len(), 128);
    assert!(dev.rss().table().iter().enumerate().all(|(i, q)| *q == (i as u32) % 2));
    let (filter, list) = rx_filter(true, false, false, 0);
    assert!(!list);
    set(&mut dev, oid::RNDIS_OID_GEN_CURRENT_PACKET_FILTER, &filter.to_le_bytes()).unwrap();
    assert_eq!(dev.packet_filter(), filter);
    // Link events come back as actions.
    let n = dev.set_link(false, &mut b).unwrap();
    match parse_rx(&b[..n]).unwrap() {
        RxMessage::Status(e) => assert_eq!(link_action(&e), Some(LinkAction::Down)),
        m => panic!("{m:?}"),
    }
    let n = dev.set_link_speed(400_000, &mut b).unwrap();
    match parse_rx(&b[..n]).unwrap() {
        RxMessage::Status(e) => assert_eq!(link_action(&e), Some(LinkAction::Speed(40))),
        m => panic!("{m:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// Classification of everything the host sends.

#[test]
fn classify_transfer_packets() {
    let (p, off) = packet(PacketType::DataUsingXferPages, &xfer_ext(0xcafe, &[(0, 100), (9216, 60)]), &rndis_pkt(false));
    match classify(&p, PacketType::DataUsingXferPages.raw(), 77, off, Some(NvspVersion::V61)).unwrap() {
        Inbound::Transfer { id, ranges } => {
            assert_eq!(id, 77);
            let r: Vec<_> = ranges.ranges().map(|r| (r.byte_offset, r.byte_count)).collect();
            assert_eq!(r, [(0, 100), (9216, 60)]);
        }
        x => panic!("{x:?}"),
    }
    // The NetVSP's `inject xfer-wrong-pageset`.
    let (p, off) = packet(PacketType::DataUsingXferPages, &xfer_ext(0xbeef, &[(0, 100)]), &rndis_pkt(false));
    let e = classify(&p, PacketType::DataUsingXferPages.raw(), 1, off, Some(NvspVersion::V61)).unwrap_err();
    assert_eq!(e, RxError::PageSet(0xbeef));
    assert_eq!(e.kind(), DropKind::BadRange);
    // More ranges claimed than present.
    let mut ext = xfer_ext(0xcafe, &[(0, 100)]);
    ext[4..8].copy_from_slice(&5u32.to_le_bytes());
    let (p, off) = packet(PacketType::DataUsingXferPages, &ext, &rndis_pkt(false));
    assert_eq!(classify(&p, 7, 1, off, None), Err(RxError::TransferHeader));
    // A transfer packet carrying something else than SEND_RNDIS_PKT.
    let (p, off) = packet(PacketType::DataUsingXferPages, &xfer_ext(0xcafe, &[(0, 100)]), &nvsp_bytes(&NvspMessage::revoke_send_buffer()));
    assert!(matches!(classify(&p, 7, 1, off, None), Err(RxError::Nvsp(_)) | Err(RxError::NvspType(_))));
}

#[test]
fn classify_other_packets() {
    let comp = nvsp_bytes(&NvspMessage::rndis_packet_complete(nvsp::NVSP_STAT_SUCCESS));
    let (p, off) = packet(PacketType::Completion, &[], &comp);
    assert_eq!(classify(&p, 11, 5, off, None), Ok(Inbound::Completion { id: 5, payload: &comp[..] }));
    let t = nvsp_bytes(&NvspMessage::send_table_round_robin(2));
    let (p, off) = packet(PacketType::DataInband, &[], &t);
    match classify(&p, 6, 0, off, Some(NvspVersion::V61)).unwrap() {
        Inbound::Message(NvspMessage::SendIndirectionTable(st)) => {
            let s = SendTable::from_host(&st, 2).unwrap();
            assert_eq!(s.queue(0), 0);
            assert_eq!(s.queue(1), 1);
            assert_eq!(SendTable::from_host(&st, 1).err(), Some(RxError::SendTableEntry(1)));
            assert_eq!(RxError::SendTableEntry(1).kind(), DropKind::BadSendTable);
        }
        x => panic!("{x:?}"),
    }
    let v = nvsp_bytes(&NvspMessage::vf_association(Some(3)));
    let (p, off) = packet(PacketType::DataInband, &[], &v);
    assert!(matches!(classify(&p, 6, 0, off, Some(NvspVersion::V61)), Ok(Inbound::Message(NvspMessage::SendVfAssociation(_)))));
    // Inband messages of other types, and message types beyond the version.
    let (p, off) = packet(PacketType::DataInband, &[], &nvsp_bytes(&NvspMessage::send_buffer_complete(1, 6144)));
    assert_eq!(classify(&p, 6, 0, off, None).unwrap_err().kind(), DropKind::BadNvsp);
    let (p, off) = packet(PacketType::DataInband, &[], &t);
    assert_eq!(classify(&p, 6, 0, off, Some(NvspVersion::V4)).unwrap_err().kind(), DropKind::BadNvsp);
    // Packet types NetVSC never receives.
    let (p, off) = packet(PacketType::DataUsingGpaDirect, &[], &comp);
    assert_eq!(classify(&p, 9, 0, off, None), Err(RxError::PacketType(9)));
    assert_eq!(classify(&p, 0xffff, 0, off, None), Err(RxError::PacketType(0xffff)));
    // Payload offsets outside the packet.
    assert_eq!(classify(&p, 11, 0, 8, None), Err(RxError::PayloadOffset(8)));
    assert_eq!(classify(&p, 11, 0, p.len() + 1, None), Err(RxError::PayloadOffset(p.len() + 1)));
}

#[test]
fn completions_claim_once() {
    let ok = nvsp_bytes(&NvspMessage::rndis_packet_complete(nvsp::NVSP_STAT_SUCCESS));
    let bad = nvsp_bytes(&NvspMessage::rndis_packet_complete(nvsp::NVSP_STAT_INVALID_RNDIS_PKT));
    let slots: Vec<TxSlot> = (0..4).map(|_| TxSlot::new()).collect();
    let g = slots[2].issue().unwrap();
    let id = TransId::Send { queue: 1, slot: 2, generation: g }.encode();
    match completion(id, &ok, 2, 4).unwrap() {
        Completed::Send { queue: 1, slot: 2, generation, ok: true } => assert!(slots[2].claim(generation)),
        x => panic!("{x:?}"),
    }
    // The same completion again (duplicated by the host) finds nothing to claim.
    match completion(id, &ok, 2, 4).unwrap() {
        Completed::Send { generation, .. } => assert!(!slots[2].claim(generation)),
        x => panic!("{x:?}"),
    }
    assert!(matches!(completion(id, &bad, 2, 4), Ok(Completed::Send { ok: false, .. })));
    // Ids the guest never used (`inject send-completion-unknown`): refused or unmatched.
    for id in [0u64, 0xdead_beef_0000_0000, (7u64 << 48) | 1, (1u64 << 48) | (9u64 << 32) | 1] {
        match completion(id, &ok, 2, 4) {
            Err(e) => assert_eq!(e.kind(), DropKind::BadCompletion),
            Ok(Completed::Send { queue, slot, generation, .. }) => {
                assert!(usize::from(queue) < 2);
                assert!(!slots[usize::from(slot)].claim(generation));
            }
            Ok(x) => panic!("{x:?}"),
        }
    }
    // A send id completed with another message type.
    let g = slots[0].issue().unwrap();
    let id = TransId::Send { queue: 0, slot: 0, generation: g }.encode();
    assert_eq!(completion(id, &nvsp_bytes(&NvspMessage::init(NvspVersion::V5)), 2, 4).unwrap_err().kind(), DropKind::BadNvsp);
    // Control completions are handed on as they are.
    let c = TransId::Control { seq: 9 }.encode();
    assert_eq!(completion(c, &[1, 2, 3], 2, 4), Ok(Completed::Control { seq: 9, payload: &[1, 2, 3][..] }));
}

#[test]
fn receive_ranges() {
    let layout = ReceiveBufferLayout { buffer_size: 9216 * 10, section_size: 9216, section_count: 10 };
    let r = |o, c| rx_range(&layout, TransferPageRange { byte_count: c, byte_offset: o });
    assert_eq!(r(0, 100), Ok(0..100));
    assert_eq!(r(9216 * 9, 9216), Ok(9216 * 9..9216 * 10));
    // The NetVSP's `inject rx-section-out-of-range`: byte_offset = the buffer size.
    let e = r(9216 * 10, 100).unwrap_err();
    assert_eq!(e.kind(), DropKind::BadRange);
    assert_eq!(r(9216 * 10, 0).map(|x| x.len()), Ok(0), "an empty range at the end is inside");
    assert!(r(u32::MAX, 2).is_err());
    assert!(r(100, u32::MAX).is_err());
    assert!(r(0, 9217).is_err(), "longer than a section");
}

// ---------------------------------------------------------------------------------------
// Receive parsing.

#[test]
fn data_messages() {
    let f = frame(1500);
    let info = RxInfo {
        checksum: Some(RxChecksum { tcp_checksum_succeeded: true, ip_checksum_succeeded: true, ..Default::default() }),
        vlan: Some(VlanInfo::from_tci(0x2005)),
        hash_value: Some(0x1234_5678),
        hash_info: Some(oid::NDIS_HASH_TCP_IPV4 | oid::NDIS_HASH_FUNC_TOEPLITZ),
        pktinfo_id: None,
    };
    let m = rx_message(&f, &info);
    match parse_rx(&m).unwrap() {
        RxMessage::Data { frame: r, meta } => {
            assert_eq!(&m[r], &f[..]);
            assert_eq!(meta, RxMeta { csum_verified: true, vlan_tci: Some(0x2005), hash: Some(0x1234_5678) });
        }
        x => panic!("{x:?}"),
    }
    // No PPIs: nothing verified.
    let m = rx_message(&f, &RxInfo::default());
    assert!(matches!(parse_rx(&m), Ok(RxMessage::Data { meta: RxMeta { csum_verified: false, vlan_tci: None, hash: None }, .. })));
    // Bytes after the message (the rest of the range) are ignored.
    let mut longer = m.clone();
    longer.extend_from_slice(&[0xaa; 100]);
    assert!(matches!(parse_rx(&longer), Ok(RxMessage::Data { .. })));
    // A whole (first and last) RSC fragment is a frame; a partial one is dropped.
    let whole = RndisPktinfoId { ver: 1, flag: ppi::RNDIS_PKTINFO_SUBALLOC | ppi::RNDIS_PKTINFO_1ST_FRAG | ppi::RNDIS_PKTINFO_LAST_FRAG, pkt_id: 1 };
    assert!(parse_rx(&rx_message(&f, &RxInfo { pktinfo_id: Some(whole), ..Default::default() })).is_ok());
    let part = RndisPktinfoId { flag: ppi::RNDIS_PKTINFO_SUBALLOC | ppi::RNDIS_PKTINFO_1ST_FRAG, ..whole };
    let e = parse_rx(&rx_message(&f, &RxInfo { pktinfo_id: Some(part), ..Default::default() })).unwrap_err();
    assert_eq!((e, e.kind()), (RxError::Rsc, DropKind::Rsc));
    // Shorter than an Ethernet header.
    let e = parse_rx(&rx_message(&f[..13], &RxInfo::default())).unwrap_err();
    assert_eq!((e, e.kind()), (RxError::ShortFrame(13), DropKind::BadRndis));
}

#[test]
fn hostile_data_messages() {
    let f = frame(200);
    let info = RxInfo { vlan: Some(VlanInfo::from_tci(7)), ..Default::default() };
    let good = rx_message(&f, &info);
    // `inject rndis-len-past-buffer`: msg_len runs past the range.
    let mut m = good.clone();
    put32(&mut m, 4, good.len() as u32 + 64);
    let e = parse_rx(&m).unwrap_err();
    assert_eq!(e.kind(), DropKind::BadRndis, "{e:?}");
    // The range cut short of msg_len.
    assert_eq!(parse_rx(&good[..good.len() - 1]).unwrap_err().kind(), DropKind::BadRndis);
    // `inject ppi-bad-offset`, first message: the record's ppi_offset points past the record.
    // (rndis_packet starts at 8: data_offset, data_len, oob offset/len/count, PPI offset/len.)
    let mut m = good.clone();
    let ppi_off = 8 + get32(&m, 8 + 20) as usize; // per_pkt_info_offset, from rndis_packet
    put32(&mut m, ppi_off + 8, 64); // rndis_per_packet_info.ppi_offset
    let e = parse_rx(&m).unwrap_err();
    assert_eq!(e.kind(), DropKind::BadPpi, "{e:?}");
    // Second message: the PPI area runs past the message.
    let mut m = good.clone();
    let len = get32(&m, 4);
    put32(&mut m, 8 + 24, len); // per_pkt_info_len
    let e = parse_rx(&m).unwrap_err();
    assert_eq!(e.kind(), DropKind::BadPpi, "{e:?}");
    // The PPI offset inside the rndis_packet header.
    let mut m = good.clone();
    put32(&mut m, 8 + 20, 8);
    assert_eq!(parse_rx(&m).unwrap_err().kind(), DropKind::BadPpi);
    // A record whose size is below its header.
    let mut m = good.clone();
    put32(&mut m, 8 + 36, 4);
    assert_eq!(parse_rx(&m).unwrap_err().kind(), DropKind::BadPpi);
    // The frame past the message.
    let mut m = good.clone();
    put32(&mut m, 8 + 4, 10_000);
    assert_eq!(parse_rx(&m).unwrap_err().kind(), DropKind::BadRndis);
    // Zero length; unknown type.
    let mut m = good.clone();
    put32(&mut m, 4, 0);
    assert_eq!(parse_rx(&m).unwrap_err().kind(), DropKind::BadRndis);
    let mut m = good;
    put32(&mut m, 0, 0x77);
    assert_eq!(parse_rx(&m).unwrap_err(), RxError::Rndis(RndisError::UnknownType(0x77)));
}

#[test]
fn control_and_status_messages() {
    let mut b = vec![0u8; 256];
    let n = rndis::build_set_complete(&mut b, 4, 0).unwrap();
    assert!(matches!(parse_rx(&b[..n]), Ok(RxMessage::Response(RndisMessage::SetComplete(_)))));
    let n = rndis::build_keepalive(&mut b, 4).unwrap();
    assert_eq!(parse_rx(&b[..n]), Ok(RxMessage::Ignored(rndis::RNDIS_MSG_KEEPALIVE)));
    // Requests only the guest sends are refused.
    let n = rndis::build_query(&mut b, 4, oid::RNDIS_OID_GEN_LINK_SPEED, &[]).unwrap();
    assert_eq!(parse_rx(&b[..n]).unwrap_err().kind(), DropKind::BadRndis);
    let n = rndis::build_halt(&mut b, 4).unwrap();
    assert!(parse_rx(&b[..n]).is_err());
    // Status indications.
    for (status, action) in [
        (rndis::RNDIS_STATUS_MEDIA_CONNECT, Some(LinkAction::Up)),
        (rndis::RNDIS_STATUS_MEDIA_DISCONNECT, Some(LinkAction::Down)),
        (rndis::RNDIS_STATUS_NETWORK_CHANGE, Some(LinkAction::Bounce)),
        // `inject status-unknown`.
        (0x4002_0099, None),
    ] {
        let n = rndis::build_indicate_status(&mut b, status, &[]).unwrap();
        match parse_rx(&b[..n]).unwrap() {
            RxMessage::Status(e) => {
                assert_eq!(link_action(&e), action);
                assert_eq!(status_known(&e), action.is_some());
            }
            x => panic!("{x:?}"),
        }
    }
    let n = rndis::build_link_speed_indication(&mut b, 100_000_000).unwrap();
    match parse_rx(&b[..n]).unwrap() {
        RxMessage::Status(e) => assert_eq!(link_action(&e), Some(LinkAction::Speed(10_000))),
        x => panic!("{x:?}"),
    }
    // A speed change without its speed.
    let n = rndis::build_indicate_status(&mut b, rndis::RNDIS_STATUS_LINK_SPEED_CHANGE, &[]).unwrap();
    assert_eq!(parse_rx(&b[..n]).unwrap_err().kind(), DropKind::BadRndis);
    assert_eq!(link_action(&StatusEvent::Other(5)), None);
}

#[test]
fn drop_kinds() {
    let names: HashSet<_> = DropKind::ALL.iter().map(|k| k.name()).collect();
    assert_eq!(names.len(), DropKind::ALL.len(), "one counter name each");
    for (i, k) in DropKind::ALL.iter().enumerate() {
        assert_eq!(k.index(), i);
        assert!(k.name().chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{}", k.name());
        assert!(k.name().len() < 32, "ethtool strings are 32 bytes");
    }
    let errs = [
        RxError::PacketType(1),
        RxError::PayloadOffset(1),
        RxError::TransferHeader,
        RxError::PageSet(1),
        RxError::Nvsp(nvsp::NvspError::NoHeader(0)),
        RxError::NvspType(1),
        RxError::Range(nvsp::NvspError::RangeTooLong(1)),
        RxError::Rndis(RndisError::ZeroLength),
        RxError::Rndis(RndisError::PpiMisaligned(1)),
        RxError::ShortFrame(1),
        RxError::Rsc,
        RxError::Id(IdError::Slot(1)),
        RxError::SendTableEntry(1),
    ];
    let kinds: HashSet<_> = errs.iter().map(|e| e.kind()).collect();
    for k in [DropKind::BadNvsp, DropKind::BadRange, DropKind::BadRndis, DropKind::BadPpi, DropKind::BadCompletion, DropKind::Rsc, DropKind::BadSendTable] {
        assert!(kinds.contains(&k), "{k:?}");
    }
    for e in errs {
        assert!(!e.as_str().is_empty());
        assert_eq!(format!("{e}"), e.as_str());
    }
}

proptest! {
    #[test]
    fn arbitrary_messages_never_panic(b in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(RxMessage::Data { frame, .. }) = parse_rx(&b) {
            prop_assert!(frame.end <= b.len() && frame.len() >= ETH_HLEN);
        }
    }

    #[test]
    fn mutated_data_messages_never_panic(idx in 0usize..140, val: u8, len in 14usize..200) {
        let info = RxInfo {
            checksum: Some(RxChecksum { udp_checksum_succeeded: true, ..Default::default() }),
            vlan: Some(VlanInfo::from_tci(3)),
            hash_value: Some(1),
            hash_info: Some(2),
            pktinfo_id: None,
        };
        let mut m = rx_message(&frame(len), &info);
        if idx < m.len() {
            m[idx] = val;
        }
        if let Ok(RxMessage::Data { frame, .. }) = parse_rx(&m) {
            prop_assert!(frame.end <= m.len());
        }
    }

    #[test]
    fn arbitrary_packets_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300), ty: u16, off in 0usize..320, id: u64) {
        let _ = classify(&b, ty, id, off, Some(NvspVersion::V61));
        let _ = classify(&b, ty, id, off, None);
        let _ = completion(id, &b, 4, 64);
    }

    #[test]
    fn ranges_inside_the_buffer(off: u32, count: u32, sections in 1u32..100) {
        let layout = ReceiveBufferLayout { buffer_size: sections * 9216, section_size: 9216, section_count: sections };
        if let Ok(r) = rx_range(&layout, TransferPageRange { byte_count: count, byte_offset: off }) {
            prop_assert!(r.end <= layout.buffer_size as usize && r.len() <= 9216);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Receive completions waiting for room.

#[test]
fn id_queue_fifo() {
    let mut q = IdQueue::new(vec![0u64; 3]);
    assert!(q.is_empty());
    assert_eq!(q.pop(), None);
    for round in 0..5u64 {
        q.push(round * 10 + 1).unwrap();
        q.push(round * 10 + 2).unwrap();
        q.push(round * 10 + 3).unwrap();
        assert_eq!(q.push(99), Err(QueueFull));
        assert_eq!(q.len(), 3);
        assert_eq!(q.front(), Some(round * 10 + 1));
        assert_eq!(q.pop(), Some(round * 10 + 1));
        assert_eq!(q.pop(), Some(round * 10 + 2));
        q.push(round * 10 + 4).unwrap();
        assert_eq!(q.pop(), Some(round * 10 + 3));
        assert_eq!(q.pop(), Some(round * 10 + 4));
        assert!(q.is_empty());
    }
    q.push(1).unwrap();
    q.clear();
    assert_eq!(q.pop(), None);
    let mut z = IdQueue::new(Vec::<u64>::new());
    assert_eq!(z.push(1), Err(QueueFull));
    assert_eq!(z.pop(), None);
}

// ---------------------------------------------------------------------------------------
// Transmit.

fn all_caps() -> TxCaps {
    TxCaps::from_plan(&OffloadPlan::linux(&oid::NdisOffload::typical(62780, false), false))
}

fn tcp4(len: u32) -> TxFrame {
    TxFrame { len, l3: L3::Ipv4, l4: L4::Tcp, transport_offset: 34, gso_mss: None, csum_partial: false, hash: None, vlan_tci: None }
}

#[test]
fn plan_plain_frames() {
    let p = plan_tx(&tcp4(60), &all_caps(), 6144).unwrap();
    assert_eq!(p.info, TxInfo::default());
    assert_eq!(p.header_len, 44, "RNDIS header and rndis_packet");
    assert_eq!(p.msg_len, 104);
    assert!(p.fits_section && !p.software_checksum && p.lso_prep.is_none());
    // The section boundary.
    assert!(plan_tx(&tcp4(6100), &all_caps(), 6144).unwrap().fits_section);
    assert!(!plan_tx(&tcp4(6101), &all_caps(), 6144).unwrap().fits_section);
    assert!(!plan_tx(&tcp4(9014), &all_caps(), 6144).unwrap().fits_section, "jumbo frames go as page lists");
    assert_eq!(plan_tx(&tcp4(0), &all_caps(), 6144), Err(TxError::Length(0)));
    assert_eq!(plan_tx(&tcp4(TX_MAX_FRAME + 1), &all_caps(), 6144), Err(TxError::Length(TX_MAX_FRAME + 1)));
}

#[test]
fn plan_checksum_offload() {
    let f = TxFrame { csum_partial: true, ..tcp4(1000) };
    let p = plan_tx(&f, &all_caps(), 6144).unwrap();
    assert_eq!(
        p.info.checksum,
        Some(TxChecksum { is_ipv4: true, is_ipv6: false, tcp_checksum: true, udp_checksum: false, ip_header_checksum: false, tcp_header_offset: 34 })
    );
    assert_eq!(p.header_len, 60);
    let u6 = TxFrame { l3: L3::Ipv6, l4: L4::Udp, transport_offset: 54, ..f };
    let p = plan_tx(&u6, &all_caps(), 6144).unwrap();
    assert!(p.info.checksum.is_some_and(|c| c.is_ipv6 && c.udp_checksum));
    // Not offered → software.
    let none = TxCaps::default();
    let p = plan_tx(&f, &none, 6144).unwrap();
    assert!(p.software_checksum && p.info.checksum.is_none());
    let caps_tcp_only = TxCaps { csum_mask: oid::TRANSPORT_INFO_IPV4_TCP, ..TxCaps::default() };
    let p = plan_tx(&TxFrame { l4: L4::Udp, ..f }, &caps_tcp_only, 6144).unwrap();
    assert!(p.software_checksum);
    // Not IP, or a transport header beyond the 10-bit field.
    assert!(plan_tx(&TxFrame { l3: L3::Other, ..f }, &all_caps(), 6144).unwrap().software_checksum);
    assert!(plan_tx(&TxFrame { transport_offset: 2000, ..f }, &all_caps(), 6144).unwrap().software_checksum);
}

#[test]
fn plan_segmentation() {
    let f = TxFrame { gso_mss: Some(1448), csum_partial: true, ..tcp4(60_000) };
    let p = plan_tx(&f, &all_caps(), 6144).unwrap();
    assert_eq!(p.info.lso, Some(LsoV2Tx { mss: 1448, tcp_header_offset: 34, ipv6: false }));
    assert_eq!(p.info.checksum, None, "LSO carries no checksum PPI");
    assert_eq!(p.lso_prep, Some(LsoPrep::Ipv4));
    assert!(!p.fits_section);
    let f6 = TxFrame { l3: L3::Ipv6, transport_offset: 54, ..f };
    let p = plan_tx(&f6, &all_caps(), 6144).unwrap();
    assert_eq!(p.lso_prep, Some(LsoPrep::Ipv6));
    assert!(p.info.lso.is_some_and(|l| l.ipv6));
    // Refusals: not offered, not TCP, MSS 0 or too large, longer than the host takes.
    assert_eq!(plan_tx(&f, &TxCaps::default(), 6144), Err(TxError::Segmentation));
    assert_eq!(plan_tx(&TxFrame { l4: L4::Udp, ..f }, &all_caps(), 6144), Err(TxError::Segmentation));
    assert_eq!(plan_tx(&TxFrame { gso_mss: Some(0), ..f }, &all_caps(), 6144), Err(TxError::Segmentation));
    assert_eq!(plan_tx(&TxFrame { gso_mss: Some(ppi::LSO_MSS_MAX + 1), ..f }, &all_caps(), 6144), Err(TxError::Segmentation));
    assert_eq!(plan_tx(&TxFrame { len: 62780 + 19, ..f }, &all_caps(), 6144), Err(TxError::Segmentation));
    assert_eq!(plan_tx(&TxFrame { transport_offset: 1024, ..f }, &all_caps(), 6144), Err(TxError::HeaderOffset(1024)));
}

#[test]
fn plan_hash_and_vlan() {
    let f = TxFrame { hash: Some(0xabcd), vlan_tci: Some(0x6005), ..tcp4(100) };
    let p = plan_tx(&f, &all_caps(), 6144).unwrap();
    assert_eq!(p.info.hash, Some(0xabcd));
    assert_eq!(p.info.vlan.map(|v| v.to_tci()), Some(0x6005));
    assert_eq!(p.header_len as usize, p.info.header_len());
    // The header the driver writes from the plan parses back (as the host reads it).
    let mut b = vec![0u8; p.msg_len as usize];
    let n = packet::build_tx_header(&mut b, 100, &p.info).unwrap();
    assert_eq!(n, p.header_len as usize);
    b[n..].copy_from_slice(&frame(100));
    let m = packet::PacketMessage::parse_message(&b).unwrap();
    assert_eq!(m.data, &frame(100)[..]);
    assert_eq!(m.info().hash_value, Some(0xabcd));
    assert_eq!(m.info().vlan.map(|v| v.to_tci()), Some(0x6005));
}

proptest! {
    #[test]
    fn plans_are_consistent(len in 1u32..70_000, mss in proptest::option::of(0u32..70_000), partial: bool,
                            l3 in 0u8..3, l4 in 0u8..3, off in 0u32..1100, hash: Option<u32>, tci: Option<u16>, section in 0u32..10_000) {
        let f = TxFrame {
            len,
            l3: [L3::Ipv4, L3::Ipv6, L3::Other][usize::from(l3)],
            l4: [L4::Tcp, L4::Udp, L4::Other][usize::from(l4)],
            transport_offset: off,
            gso_mss: mss,
            csum_partial: partial,
            hash,
            vlan_tci: tci,
        };
        if let Ok(p) = plan_tx(&f, &all_caps(), section) {
            prop_assert_eq!(p.msg_len, p.header_len + len);
            prop_assert_eq!(p.fits_section, p.msg_len <= section);
            prop_assert!(!(p.info.lso.is_some() && p.info.checksum.is_some()));
            prop_assert!(!(p.software_checksum && p.info.checksum.is_some()));
            prop_assert_eq!(p.header_len as usize, p.info.header_len());
            let mut b = vec![0u8; p.header_len as usize];
            prop_assert_eq!(packet::build_tx_header(&mut b, len, &p.info), Ok(p.header_len as usize));
        }
    }
}

#[test]
fn page_lists() {
    let mut pfns = [0u64; 8];
    let mut l = PageList::new(&mut pfns);
    // Header and linear part: 100 bytes from the middle of page 5 into page 6.
    l.push(5 * 4096 + 4050, 100).unwrap();
    // A fragment continuing it physically merges into the same range.
    l.push(5 * 4096 + 4150, 4096).unwrap();
    // A fragment elsewhere starts a new range.
    l.push(20 * 4096, 10).unwrap();
    let r = l.ranges().to_vec();
    assert_eq!(r.len(), 2);
    assert_eq!((r[0].len, r[0].offset, r[0].count), (4196, 4050, 3));
    assert_eq!(l.pfns_of(&r[0]), [5, 6, 7]);
    assert_eq!((r[1].len, r[1].offset), (10, 0));
    assert_eq!(l.pfns_of(&r[1]), [20]);
    assert_eq!(l.bytes(), 4206);
    // Storage exhausted, empty pieces, overflow.
    assert_eq!(l.push(100 * 4096, 5 * 4096), Err(PageListError::TooManyPages));
    assert_eq!(l.push(0, 0), Err(PageListError::Empty));
    assert_eq!(l.push(u64::MAX - 5, 10), Err(PageListError::Overflow));
    // Too many ranges.
    let mut pfns = [0u64; 64];
    let mut l = PageList::new(&mut pfns);
    for i in 0..MAX_PAGE_RANGES as u64 {
        l.push(i * 2 * 4096, 8).unwrap();
    }
    assert_eq!(l.push(1 << 40, 8), Err(PageListError::TooManyRanges));
    // Merging an exact page boundary needs no shared frame.
    let mut pfns = [0u64; 4];
    let mut l = PageList::new(&mut pfns);
    l.push(0, 4096).unwrap();
    l.push(4096, 4096).unwrap();
    assert_eq!(l.ranges().len(), 1);
    assert_eq!(l.pfns_of(&l.ranges()[0]), [0, 1]);
}

proptest! {
    #[test]
    fn page_lists_cover_their_pieces(pieces in proptest::collection::vec((0u64..1 << 20, 1u32..20_000), 1..20)) {
        let mut pfns = [0u64; 256];
        let mut l = PageList::new(&mut pfns);
        let mut total = 0u64;
        for (p, n) in pieces {
            if l.push(p, n).is_ok() {
                total += u64::from(n);
            }
        }
        prop_assert_eq!(l.bytes(), total);
        let sum: u64 = l.ranges().iter().map(|r| u64::from(r.len)).sum();
        prop_assert_eq!(sum, total);
        for r in l.ranges() {
            prop_assert!(r.offset < 4096);
            let need = (u64::from(r.offset) + u64::from(r.len)).div_ceil(4096);
            prop_assert_eq!(r.count as u64, need);
            let f = l.pfns_of(r);
            prop_assert!(f.windows(2).all(|w| w[1] == w[0] + 1));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Queues, filters, MTU.

#[test]
fn send_tables() {
    let t = SendTable::round_robin(3);
    assert_eq!(t.entries()[..6], [0, 1, 2, 0, 1, 2]);
    assert_eq!(t.queue(4), 1);
    assert_eq!(t.queue(u32::MAX), t.entries()[(u32::MAX % 16) as usize]);
    assert!(SendTable::round_robin(0).entries().iter().all(|e| *e == 0));
    let host = match nvsp::parse(&nvsp_bytes(&NvspMessage::send_table_round_robin(4)), Sender::Host).unwrap() {
        NvspMessage::SendIndirectionTable(t) => t,
        x => panic!("{x:?}"),
    };
    assert_eq!(SendTable::from_host(&host, 4).unwrap(), SendTable::round_robin(4));
    assert!(SendTable::from_host(&host, 3).is_err());
}

#[test]
fn rss_parameters() {
    let mut t = [9u16; 8];
    rss_table(3, &mut t);
    assert_eq!(t, [0, 1, 2, 0, 1, 2, 0, 1]);
    let mut b = vec![0u8; 2048];
    let n = build_rss_params(&mut b, 4, 128).unwrap();
    let p = RssParams::parse(&b[..n]).unwrap();
    assert_eq!(p.entry_count(), 128);
    assert!(p.entries().enumerate().all(|(i, q)| q == i as u32 % 4));
    assert!(!p.disables());
    // Table sizes are clamped to 1..=ITAB_NUM_MAX.
    let n = build_rss_params(&mut b, 2, 100_000).unwrap();
    assert_eq!(RssParams::parse(&b[..n]).unwrap().entry_count(), oid::ITAB_NUM_MAX as usize);
    let n = build_rss_params(&mut b, 2, 0).unwrap();
    assert_eq!(RssParams::parse(&b[..n]).unwrap().entry_count(), 1);
    assert!(build_rss_params(&mut b[..10], 2, 128).is_err());
}

#[test]
fn receive_filters() {
    use oid::*;
    let d = NDIS_PACKET_TYPE_DIRECTED | NDIS_PACKET_TYPE_BROADCAST;
    assert_eq!(rx_filter(false, true, true, 3), (0, false), "down: nothing");
    assert_eq!(rx_filter(true, true, false, 3), (NDIS_PACKET_TYPE_PROMISCUOUS, false));
    assert_eq!(rx_filter(true, false, false, 0), (d, false));
    assert_eq!(rx_filter(true, false, false, 3), (d | NDIS_PACKET_TYPE_MULTICAST, true));
    assert_eq!(rx_filter(true, false, false, MAX_MULTICAST), (d | NDIS_PACKET_TYPE_MULTICAST, true));
    assert_eq!(rx_filter(true, false, false, MAX_MULTICAST + 1), (d | NDIS_PACKET_TYPE_ALL_MULTICAST, false));
    assert_eq!(rx_filter(true, false, true, 0), (d | NDIS_PACKET_TYPE_ALL_MULTICAST, false));
}

#[test]
fn mtu_limits() {
    assert_eq!(max_mtu(9000, Some(9000), 9216), 9000, "the NetVSP's 9216-byte sections hold a jumbo frame");
    assert_eq!(max_mtu(9000, Some(1500), 9216), 1500, "the host's frame limit");
    assert_eq!(max_mtu(9000, None, 1728), 1728 - RX_HEADER_MAX - 18, "Hyper-V's default sections");
    assert_eq!(max_mtu(9000, None, 64), nvsp::NETVSC_MTU_MIN, "never below the minimum");
    assert_eq!(max_mtu(1500, None, 65536), 1500);
}
