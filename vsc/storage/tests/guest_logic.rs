//! The guest VSC's pure logic (`vstor_proto::guest`): transaction ids (the slots themselves
//! are tested in vsc/vmbus/tests/slot.rs), block request mapping checked against the
//! host's disk target, completion validation and retry accounting, GPA page lists, LUN
//! diffs, disk configuration from the target's own answers, identity strings and names.

use proptest::prelude::*;
use vstor_proto::cdb::{self, opcode, vpd, PageControl};
use vstor_proto::disk::{self, Action, DiscardConfig, Disk, DiskConfig, Identifier, ModeSelect, NON_ROTATING};
use vstor_proto::guest::*;
use vstor_proto::response::{self as resp, DiscardMode};
use vstor_proto::sense::{asc, FixedSense};
use vstor_proto::srb::{blk_status, scsi_status, srb_status, Followup, ScsiResult, MAX_RETRIES};
use vstor_proto::unmap::UnmapRange;
use vstor_proto::vstor::{
    self, encode_completion, encode_execute_srb, parse_request, reply_len, srb_completion, CompletionBody,
    DataDirection, ProtocolVersion, RequestBody, ScsiAddress, SrbRequest,
};

const V: ProtocolVersion = ProtocolVersion::Win10;

// ---------------------------------------------------------------------------------------
// Transaction ids.

#[test]
fn trans_id_layout() {
    let id = TransId::Io { queue: 3, tag: 0x1234, generation: 7 };
    assert_eq!(id.encode(), 0x0003_1234_0000_0007);
    assert_eq!(TransId::Control { seq: 9 }.encode(), 0x8000_0000_0000_0009);
    assert_eq!(TransId::Unsolicited.encode(), 0);
    assert_eq!(TransId::decode(0, 4, 256), Ok(TransId::Unsolicited));
    assert_eq!(TransId::decode(id.encode(), 4, 0x2000), Ok(id));
}

#[test]
fn trans_id_refusals() {
    assert_eq!(TransId::decode(0x0003_0001_0000_0000, 4, 16), Err(IdError::ZeroGeneration));
    assert_eq!(TransId::decode(0x8000_0001_0000_0005, 4, 16), Err(IdError::ReservedBits));
    assert_eq!(TransId::decode(0x8000_0000_0000_0000, 4, 16), Err(IdError::ZeroGeneration));
    assert_eq!(TransId::decode(0x0004_0000_0000_0001, 4, 16), Err(IdError::Queue(4)));
    assert_eq!(TransId::decode(0x0000_0010_0000_0001, 4, 16), Err(IdError::Slot(16)));
    assert_eq!(TransId::decode(0x0000_000f_0000_0001, 4, 16), Ok(TransId::Io { queue: 0, tag: 15, generation: 1 }));
}

#[test]
fn slot_indexes() {
    assert_eq!(slot_index(0, 0, 2, 64), Some(0));
    assert_eq!(slot_index(1, 63, 2, 64), Some(127));
    assert_eq!(slot_index(2, 0, 2, 64), None);
    assert_eq!(slot_index(0, 64, 2, 64), None);
}

proptest! {
    #[test]
    fn any_id_decodes_without_panic(raw in any::<u64>(), q in 0u32..40000, d in 0u32..70000) {
        if let Ok(TransId::Io { queue, tag, generation }) = TransId::decode(raw, q, d) {
            prop_assert!(u32::from(queue) < q && u32::from(tag) < d && generation != 0);
            prop_assert_eq!(TransId::Io { queue, tag, generation }.encode(), raw);
            prop_assert!(slot_index(queue, tag, q, d).is_some());
        }
    }

    #[test]
    fn guest_ids_round_trip(queue in 0u16..0x8000, tag in any::<u16>(), g in 1u32..) {
        let id = TransId::Io { queue, tag, generation: g };
        prop_assert_ne!(id.encode(), 0);
        prop_assert_eq!(TransId::decode(id.encode(), MAX_QUEUES, MAX_TAGS), Ok(id));
        let c = TransId::Control { seq: g };
        prop_assert_eq!(TransId::decode(c.encode(), 1, 1), Ok(c));
    }
}

// ---------------------------------------------------------------------------------------
// Request mapping.

fn geom(bs: u32) -> LunGeometry {
    LunGeometry { block_size: bs, use_16: false, discard: DiscardMode::Unmap, write_zeroes_unmap: true }
}

fn req(op: BlockOp, sector: u64, bytes: u32) -> BlockRequest {
    BlockRequest { op, sector, bytes, fua: false, nounmap: false }
}

#[test]
fn read_write_cdbs_as_sd() {
    let p = plan(&req(BlockOp::Read, 8, 4096), &geom(512)).unwrap();
    assert_eq!(p.cdb, cdb::read_10(8, 8, false));
    assert_eq!((p.direction, p.transfer_len, p.data), (DataDirection::Read, 4096, DataSource::Request));
    let mut w = req(BlockOp::Write, 16, 8192);
    w.fua = true;
    let p = plan(&w, &geom(4096)).unwrap();
    assert_eq!(p.cdb, cdb::write_10(2, 2, true), "sectors become 4K blocks, FUA kept");
    assert_eq!(p.cdb.as_bytes()[1] & cdb::FUA_BIT, cdb::FUA_BIT);
    // Beyond 32-bit LBAs, and for disks that need it, (16).
    let p = plan(&req(BlockOp::Read, 0x2_0000_0000, 512), &geom(512)).unwrap();
    assert_eq!(p.cdb.opcode(), opcode::READ_16);
    let mut g = geom(512);
    g.use_16 = true;
    assert_eq!(plan(&req(BlockOp::Write, 0, 512), &g).unwrap().cdb.opcode(), opcode::WRITE_16);
}

#[test]
fn flush_discard_write_zeroes() {
    let p = plan(&req(BlockOp::Flush, 0, 0), &geom(512)).unwrap();
    assert_eq!(p.cdb, cdb::synchronize_cache_10(0, 0));
    assert_eq!((p.direction, p.transfer_len, p.data), (DataDirection::None, 0, DataSource::None));

    let p = plan(&req(BlockOp::Discard, 64, 1 << 20), &geom(512)).unwrap();
    assert_eq!(p.cdb, cdb::unmap(UNMAP_LIST_LEN as u16));
    assert_eq!((p.direction, p.transfer_len, p.data), (DataDirection::Write, 24, DataSource::UnmapList));
    assert_eq!(p.unmap, Some(UnmapRange { lba: 64, blocks: 2048 }));
    let mut list = [0u8; UNMAP_LIST_LEN];
    assert_eq!(p.build_param_list(&mut list), Ok(24));
    assert_eq!(&list[..8], &[0, 22, 0, 16, 0, 0, 0, 0]);

    let mut g = geom(4096);
    g.discard = DiscardMode::WriteSame16;
    let p = plan(&req(BlockOp::Discard, 8, 8192), &g).unwrap();
    assert_eq!(p.cdb, cdb::write_same_16(1, 2, true));
    assert_eq!((p.transfer_len, p.data), (4096, DataSource::ZeroBlock));
    g.discard = DiscardMode::Disabled;
    assert_eq!(plan(&req(BlockOp::Discard, 8, 8192), &g), Err(PlanError::Unsupported));

    let p = plan(&req(BlockOp::WriteZeroes, 0, 4096), &geom(512)).unwrap();
    assert_eq!(p.cdb, cdb::write_same_16(0, 8, true));
    let mut nounmap = req(BlockOp::WriteZeroes, 0, 4096);
    nounmap.nounmap = true;
    assert_eq!(plan(&nounmap, &geom(512)).unwrap().cdb, cdb::write_same_16(0, 8, false));
    let mut g = geom(512);
    g.write_zeroes_unmap = false;
    assert_eq!(plan(&req(BlockOp::WriteZeroes, 0, 4096), &g).unwrap().cdb, cdb::write_same_16(0, 8, false));
}

#[test]
fn unsupported_and_misaligned() {
    assert_eq!(plan(&req(BlockOp::Other, 0, 512), &geom(512)), Err(PlanError::Unsupported));
    assert_eq!(plan(&req(BlockOp::Read, 1, 4096), &geom(4096)), Err(PlanError::Misaligned));
    assert_eq!(plan(&req(BlockOp::Write, 0, 1000), &geom(512)), Err(PlanError::Misaligned));
    assert_eq!(plan(&req(BlockOp::Read, 0, 0), &geom(512)), Err(PlanError::Length));
    assert_eq!(PlanError::Unsupported.blk_status(), blk_status::NOTSUPP);
    assert_eq!(PlanError::Misaligned.blk_status(), blk_status::IOERR);
}

proptest! {
    #[test]
    fn plan_never_panics(op in 0u8..6, sector in any::<u64>(), bytes in any::<u32>(), fua: bool, nounmap: bool,
                         bs_shift in 0u32..5, use_16: bool, mode in 0u8..3, wzu: bool) {
        let op = [BlockOp::Read, BlockOp::Write, BlockOp::Flush, BlockOp::Discard, BlockOp::WriteZeroes, BlockOp::Other][op as usize];
        let discard = [DiscardMode::Disabled, DiscardMode::Unmap, DiscardMode::WriteSame16][mode as usize];
        let g = LunGeometry { block_size: 512 << bs_shift, use_16, discard, write_zeroes_unmap: wzu };
        let r = BlockRequest { op, sector, bytes, fua, nounmap };
        if let Ok(p) = plan(&r, &g) {
            prop_assert!(p.cdb.len() <= 16);
            if p.data == DataSource::Request {
                prop_assert_eq!(p.transfer_len, bytes);
            }
        }
    }
}

fn disk_config() -> DiskConfig<'static> {
    DiskConfig {
        capacity_blocks: 0x10_0000,
        logical_block_size: 512,
        physical_block_exponent: 3,
        vendor: b"PVGUEST",
        product: b"Virtual Disk",
        revision: b"1.0",
        serial: b"pvg-0001",
        identifier: Identifier::Naa([0x50, 0x01, 0x40, 0x50, 0, 0, 0xab, 0xcd]),
        write_cache: true,
        fua: true,
        read_only: false,
        rotation_rate: NON_ROTATING,
        max_transfer_blocks: 4096,
        optimal_transfer_blocks: 256,
        discard: Some(DiscardConfig {
            max_unmap_lba_count: 0x40_0000,
            max_unmap_descriptors: 1,
            granularity: 8,
            alignment: 0,
            lbprz: true,
        }),
        max_write_same_blocks: 0x1_0000,
    }
}

/// Sends a plan through VSTOR encoding to the host's parser and disk target.
fn to_host(p: &Plan, d: &mut Disk<'_>) -> Action {
    let addr = ScsiAddress { port_number: 0, path_id: 0, target_id: 0, lun: 1 };
    let srb = SrbRequest::new(addr, p.cdb.as_bytes(), p.direction, p.transfer_len, true).unwrap();
    let mut pkt = [0u8; 64];
    let n = encode_execute_srb(&mut pkt, V, &srb).unwrap();
    let RequestBody::ExecuteSrb(got) = parse_request(&pkt[..n], Some(V)).unwrap().body else { panic!() };
    assert_eq!(got, srb);
    let mut data = [0u8; 512];
    d.execute(got.cdb(), got.direction, got.data_transfer_length, &mut data)
}

#[test]
fn plans_are_what_the_host_target_expects() {
    let mut d = Disk::new(disk_config()).unwrap();
    let g = LunGeometry { block_size: 512, use_16: false, discard: DiscardMode::Unmap, write_zeroes_unmap: true };
    let a = to_host(&plan(&req(BlockOp::Read, 2048, 65536), &g).unwrap(), &mut d);
    assert_eq!(a, Action::Read { offset: 2048 * 512, len: 65536 });
    let mut w = req(BlockOp::Write, 8, 4096);
    w.fua = true;
    assert_eq!(to_host(&plan(&w, &g).unwrap(), &mut d), Action::Write { offset: 4096, len: 4096, durable: true });
    w.fua = false;
    assert_eq!(to_host(&plan(&w, &g).unwrap(), &mut d), Action::Write { offset: 4096, len: 4096, durable: false });
    assert_eq!(to_host(&plan(&req(BlockOp::Flush, 0, 0), &g).unwrap(), &mut d), Action::Flush);

    let p = plan(&req(BlockOp::Discard, 4096, 1 << 20), &g).unwrap();
    assert_eq!(to_host(&p, &mut d), Action::Unmap { param_len: 24 });
    let mut list = [0u8; UNMAP_LIST_LEN];
    p.build_param_list(&mut list).unwrap();
    let ranges = d.unmap_ranges(&list, 24).expect("the host accepts the parameter list");
    assert_eq!(ranges.iter().collect::<Vec<_>>(), vec![UnmapRange { lba: 4096, blocks: 2048 }]);

    let a = to_host(&plan(&req(BlockOp::WriteZeroes, 0, 1 << 16), &g).unwrap(), &mut d);
    assert_eq!(a, Action::WriteSame { offset: 0, len: 1 << 16, block_len: 512, unmap: true, ndob: false });

    // A write beyond the end is refused by the target, and the guest fails it (no retry).
    let a = to_host(&plan(&req(BlockOp::Write, 0x10_0000, 512), &g).unwrap(), &mut d);
    let Action::Done(r) = a else { panic!("{a:?}") };
    let c = srb_completion(V, &srb_for(opcode::WRITE_10, 512), &r);
    let issued = Issued { opcode: opcode::WRITE_10, data_len: 512, full_transfer: true, retries: 0 };
    assert_eq!(decide(&issued, &c), (Decision::Complete(blk_status::TARGET), Followup::None));
}

// ---------------------------------------------------------------------------------------
// Completions.

fn srb_for(op: u8, len: u32) -> SrbRequest {
    let c = [op, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    SrbRequest::new(ScsiAddress::default(), &c, DataDirection::Read, len, true).unwrap()
}

fn completion_packet(req: &SrbRequest, r: &ScsiResult) -> Vec<u8> {
    let mut buf = [0u8; 64];
    let n = vstor::encode_srb_completion(&mut buf, reply_len(V.packet_size()), V, req, r).unwrap();
    buf[..n].to_vec()
}

fn issued(op: u8, len: u32, retries: u8) -> Issued {
    Issued { opcode: op, data_len: len, full_transfer: matches!(op, opcode::READ_10 | opcode::WRITE_10), retries }
}

#[test]
fn good_completion() {
    let r = srb_for(opcode::READ_10, 4096);
    let pkt = completion_packet(&r, &ScsiResult::good(4096));
    let c = check_completion(&pkt, V, &issued(opcode::READ_10, 4096, 0)).unwrap();
    assert_eq!(decide(&issued(opcode::READ_10, 4096, 0), &c), (Decision::Complete(blk_status::OK), Followup::None));
}

#[test]
fn short_block_transfer_is_an_error_but_not_for_inquiry() {
    let r = srb_for(opcode::READ_10, 4096);
    let pkt = completion_packet(&r, &ScsiResult::good(2048));
    let c = check_completion(&pkt, V, &issued(opcode::READ_10, 4096, 0)).unwrap();
    assert_eq!(decide(&issued(opcode::READ_10, 4096, 0), &c).0, Decision::Complete(blk_status::IOERR));
    let r = srb_for(opcode::INQUIRY, 255);
    let pkt = completion_packet(&r, &ScsiResult::good(36));
    let c = check_completion(&pkt, V, &issued(opcode::INQUIRY, 255, 0)).unwrap();
    assert_eq!(decide(&issued(opcode::INQUIRY, 255, 0), &c).0, Decision::Complete(blk_status::OK));
}

#[test]
fn overlong_transfer_and_malformed_packets_are_refused() {
    let mut buf = [0u8; 64];
    let c = vstor::SrbCompletion {
        srb_status: srb_status::SUCCESS,
        scsi_status: scsi_status::GOOD,
        sense: [0; 20],
        sense_len: 0,
        data_transfer_length: 8192,
    };
    let n = encode_completion(&mut buf, 64, 0, &CompletionBody::Srb(c)).unwrap();
    assert_eq!(
        check_completion(&buf[..n], V, &issued(opcode::READ_10, 4096, 0)),
        Err(CompletionError::TransferTooLong { got: 8192, asked: 4096 })
    );
    assert!(matches!(check_completion(&buf[..20], V, &issued(opcode::READ_10, 4096, 0)), Err(CompletionError::Vstor(_))));
    // Not COMPLETE_IO.
    buf[0] = 11;
    assert!(matches!(check_completion(&buf[..n], V, &issued(opcode::READ_10, 8192, 0)), Err(CompletionError::Vstor(_))));
}

#[test]
fn retries_are_bounded() {
    let r = srb_for(opcode::WRITE_10, 512);
    let pkt = completion_packet(&r, &ScsiResult::busy());
    for retries in 0..=MAX_RETRIES as u8 {
        let i = issued(opcode::WRITE_10, 512, retries);
        let c = check_completion(&pkt, V, &i).unwrap();
        let want = if u32::from(retries) < MAX_RETRIES { Decision::Retry } else { Decision::Complete(blk_status::IOERR) };
        assert_eq!(decide(&i, &c).0, want, "after {retries} retries");
    }
}

#[test]
fn unit_attentions_and_gone_luns_schedule_rescans() {
    let r = srb_for(opcode::READ_10, 512);
    let i = issued(opcode::READ_10, 512, 0);
    let ua = ScsiResult::check_condition(FixedSense::unit_attention(asc::CAPACITY_DATA_HAS_CHANGED));
    let c = check_completion(&completion_packet(&r, &ua), V, &i).unwrap();
    assert_eq!(decide(&i, &c), (Decision::Retry, Followup::RescanDevice));
    let ua = ScsiResult::check_condition(FixedSense::unit_attention(asc::REPORTED_LUNS_DATA_HAS_CHANGED));
    let c = check_completion(&completion_packet(&r, &ua), V, &i).unwrap();
    assert_eq!(decide(&i, &c), (Decision::Retry, Followup::RescanBus));
    let c = check_completion(&completion_packet(&r, &ScsiResult::invalid_lun()), V, &i).unwrap();
    assert_eq!(decide(&i, &c), (Decision::Complete(blk_status::OFFLINE), Followup::RemoveLun));
    let c = check_completion(&completion_packet(&r, &ScsiResult::check_condition(FixedSense::medium_error(asc::UNRECOVERED_READ_ERROR, Some(1)))), V, &i).unwrap();
    assert_eq!(decide(&i, &c).0, Decision::Complete(blk_status::MEDIUM));
}

proptest! {
    #[test]
    fn hostile_completions_never_panic(pkt in proptest::collection::vec(any::<u8>(), 0..80), len in any::<u32>(), op in any::<u8>(), retries in any::<u8>()) {
        for v in ProtocolVersion::NEWEST_FIRST {
            let i = Issued { opcode: op, data_len: len, full_transfer: op & 1 == 0, retries };
            if let Ok(c) = check_completion(&pkt, v, &i) {
                prop_assert!(c.data_transfer_length <= len);
                let (d, _) = decide(&i, &c);
                if d == Decision::Retry {
                    prop_assert!(u32::from(retries) < MAX_RETRIES);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Page lists.

#[test]
fn page_list_of_a_request() {
    let mut pfns = [0u64; 4];
    let mut l = PageList::new(&mut pfns);
    l.push(100, 512, 3584).unwrap();
    l.push(7, 0, 4096).unwrap();
    l.push(55, 0, 1024).unwrap();
    assert_eq!((l.offset(), l.len(), l.pfns()), (512, 8704, &[100u64, 7, 55][..]));
    assert_eq!(l.push(9, 0, 512), Err(PageListError::Gap), "the previous segment ended mid-page");
}

#[test]
fn page_list_refusals() {
    let mut pfns = [0u64; 2];
    let mut l = PageList::new(&mut pfns);
    assert_eq!(l.push(1, 4000, 200), Err(PageListError::Segment));
    assert_eq!(l.push(1, 0, 0), Err(PageListError::Segment));
    l.push(1, 0, 4096).unwrap();
    assert_eq!(l.push(2, 8, 100), Err(PageListError::Gap));
    l.push(2, 0, 4096).unwrap();
    assert_eq!(l.push(3, 0, 4096), Err(PageListError::Full));
    assert!(!l.is_empty());
}

#[test]
fn page_list_merges_pieces_of_one_page() {
    // ext4 with 1 KiB blocks: two buffers of one page, back to back, arrive as two segments.
    let mut pfns = [0u64; 2];
    let mut l = PageList::new(&mut pfns);
    l.push(40, 2048, 1024).unwrap();
    l.push(40, 3072, 1024).unwrap();
    l.push(41, 0, 1024).unwrap();
    l.push(41, 1024, 1024).unwrap();
    assert_eq!((l.offset(), l.len(), l.pfns()), (2048, 4096, &[40u64, 41][..]));
    assert_eq!(l.push(41, 3072, 512), Err(PageListError::Gap), "a hole in the page");
    assert_eq!(l.push(42, 2048, 512), Err(PageListError::Gap), "the same offset in another page");
}

#[test]
fn contiguous_buffers_split_at_pages() {
    let mut pfns = [0u64; 3];
    let mut l = PageList::new(&mut pfns);
    l.push_contiguous(0x1000 * 5 + 4090, 24).unwrap();
    assert_eq!((l.offset(), l.len(), l.pfns()), (4090, 24, &[5u64, 6][..]));
    let mut l = PageList::new(&mut pfns);
    l.push_contiguous(0x3000, 512).unwrap();
    assert_eq!((l.offset(), l.len(), l.pfns()), (0, 512, &[3u64][..]));
}

proptest! {
    #[test]
    fn page_lists_never_panic(segs in proptest::collection::vec((any::<u64>(), 0u32..5000, 0u32..5000), 0..40)) {
        let mut pfns = [0u64; 16];
        let mut l = PageList::new(&mut pfns);
        let mut total = 0u32;
        for (pfn, off, len) in segs {
            if l.push(pfn, off, len).is_ok() {
                total += len;
            }
        }
        prop_assert_eq!(l.len(), total);
        prop_assert!(l.pfns().len() <= 16);
    }
}

// ---------------------------------------------------------------------------------------
// Queues.

#[test]
fn queue_depths_and_cpu_map() {
    assert_eq!(max_pages(512 * 1024), 129);
    assert_eq!(srb_ring_bytes(1), 16 + 8 + 8 + 8 + 64 + 8);
    // 128 KiB ring, 512 KiB transfers: 112 worst-case packets.
    assert_eq!(queue_depth(128 * 1024, 129, 16, 1024), (128 * 1024 - 4096) / srb_ring_bytes(129));
    assert_eq!(queue_depth(8192, 129, 32, 256), 32, "never below the minimum");
    assert_eq!(queue_depth(u32::MAX, 1, 32, 256), 256);
    assert_eq!(queue_for_cpu(2, &[0, 1, 2, 3]), 2);
    assert_eq!(queue_for_cpu(3, &[0, 2]), 1);
    assert_eq!(queue_for_cpu(2, &[0, 2]), 1);
    assert_eq!(queue_for_cpu(5, &[]), 0);
}

// ---------------------------------------------------------------------------------------
// LUN sets.

fn report(luns: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 8 + 8 * (luns.len() + 1)];
    let n = disk::report_luns(luns, cdb::select_report::ALL_AND_WELL_KNOWN, &mut out) as usize;
    out.truncate(n);
    out
}

#[test]
fn report_luns_to_a_set_and_diff() {
    let data = report(&[0, 1, 5, 200]);
    let r = resp::parse_report_luns(&data).unwrap();
    let (set, ignored) = LunSet::from_report(&r);
    assert_eq!(set.iter().collect::<Vec<_>>(), vec![0, 1, 5, 200]);
    assert_eq!(ignored, 1, "the REPORT LUNS well-known LUN is not a disk");
    let mut known = LunSet::EMPTY;
    known.insert(1);
    known.insert(7);
    let d = diff_luns(&known, &set);
    assert_eq!(d.added.iter().collect::<Vec<_>>(), vec![0, 5, 200]);
    assert_eq!(d.removed.iter().collect::<Vec<_>>(), vec![7]);
    assert_eq!((set.len(), set.is_empty(), LunSet::EMPTY.is_empty()), (4, false, true));
    known.remove(7);
    assert!(!known.contains(7) && known.contains(1));
}

proptest! {
    #[test]
    fn diffs_are_consistent(a in any::<[u64; 4]>(), b in any::<[u64; 4]>()) {
        let (mut x, mut y) = (LunSet::EMPTY, LunSet::EMPTY);
        for l in 0..=255u8 {
            if a[usize::from(l / 64)] >> (l % 64) & 1 == 1 { x.insert(l); }
            if b[usize::from(l / 64)] >> (l % 64) & 1 == 1 { y.insert(l); }
        }
        let d = diff_luns(&x, &y);
        for l in 0..=255u8 {
            prop_assert_eq!(d.added.contains(l), y.contains(l) && !x.contains(l));
            prop_assert_eq!(d.removed.contains(l), x.contains(l) && !y.contains(l));
        }
    }

    #[test]
    fn report_data_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(r) = resp::parse_report_luns(&data) {
            let (s, ignored) = LunSet::from_report(&r);
            prop_assert_eq!(s.len() <= r.len(), true);
            prop_assert!(ignored <= r.len());
        }
    }
}

// ---------------------------------------------------------------------------------------
// Disk configuration from the target's own answers.

fn answers(cfg: DiskConfig<'static>) -> LunInputs {
    let d = Disk::new(cfg).unwrap();
    let mut b = [0u8; 256];
    let n = d.read_capacity_16(&mut b, 32) as usize;
    let capacity = resp::parse_read_capacity_16(&b[..n]).unwrap();
    let n = d.vpd_page(vpd::BLOCK_LIMITS, &mut b, 256).unwrap() as usize;
    let limits = Some(resp::parse_block_limits(&b[..n]).unwrap());
    let n = d.vpd_page(vpd::BLOCK_DEVICE_CHARACTERISTICS, &mut b, 256).unwrap() as usize;
    let characteristics = Some(resp::parse_block_characteristics(&b[..n]).unwrap());
    let n = d.vpd_page(vpd::LOGICAL_BLOCK_PROVISIONING, &mut b, 256).unwrap() as usize;
    let provisioning = Some(resp::parse_provisioning(&b[..n]).unwrap());
    let sel = ModeSelect { ten: false, dbd: true, llbaa: false, pc: PageControl::Current, page: cdb::mode_page::CACHING, subpage: 0 };
    let n = d.mode_sense(&sel, &mut b, 255).unwrap() as usize;
    let caching = Some(resp::parse_mode_sense(&b[..n], false).unwrap().caching().unwrap());
    LunInputs { capacity, limits, characteristics, provisioning, caching, max_transfer_bytes: 2 << 20 }
}

#[test]
fn configure_from_a_thin_ssd() {
    let c = configure(&answers(disk_config())).unwrap();
    assert_eq!(c.geometry, LunGeometry { block_size: 512, use_16: false, discard: DiscardMode::Unmap, write_zeroes_unmap: true });
    assert_eq!((c.capacity_blocks, c.capacity_sectors, c.physical_block_size), (0x10_0000, 0x10_0000, 4096));
    assert_eq!(c.max_hw_sectors, 4096, "Block Limits' 4096 blocks below the channel's 2 MiB");
    assert_eq!(c.max_segments, 513);
    assert_eq!((c.rotational, c.write_cache, c.fua, c.read_only), (false, true, true, false));
    assert_eq!(c.max_discard_sectors, 0x40_0000);
    assert_eq!(c.discard_granularity, 4096, "8 blocks of 512");
    assert_eq!(c.max_write_zeroes_sectors, 0x1_0000);
    assert_eq!((c.io_min, c.io_opt), (8 * 512, 256 * 512));
}

#[test]
fn configure_a_thick_rotating_write_through_4k_disk() {
    let mut cfg = disk_config();
    cfg.logical_block_size = 4096;
    cfg.physical_block_exponent = 0;
    cfg.discard = None;
    cfg.write_cache = false;
    cfg.fua = false;
    cfg.rotation_rate = 7200;
    cfg.max_write_same_blocks = 0;
    cfg.max_transfer_blocks = 0;
    cfg.optimal_transfer_blocks = 0;
    let mut i = answers(cfg);
    i.max_transfer_bytes = 512 * 1024 + 100;
    let c = configure(&i).unwrap();
    assert_eq!(c.geometry.discard, DiscardMode::Disabled);
    assert_eq!((c.capacity_sectors, c.physical_block_size), (0x10_0000 * 8, 4096));
    assert_eq!((c.max_discard_sectors, c.discard_granularity, c.max_write_zeroes_sectors), (0, 0, 0));
    assert_eq!((c.rotational, c.write_cache, c.fua), (true, false, false));
    assert_eq!((c.max_hw_sectors, c.max_segments), (1024, 129));
    assert!(!c.geometry.write_zeroes_unmap);
}

#[test]
fn configure_refusals_and_defaults() {
    let mut i = answers(disk_config());
    i.caching = None;
    i.limits = None;
    i.characteristics = None;
    i.provisioning = None;
    let c = configure(&i).unwrap();
    assert_eq!((c.write_cache, c.fua, c.rotational), (false, false, true), "no caching page: write through, like sd");
    assert_eq!(c.max_write_zeroes_sectors, 0);
    i.max_transfer_bytes = 4095;
    assert_eq!(configure(&i), Err(ConfigError::MaxTransfer(4095)));
    let mut i = answers(disk_config());
    i.capacity.prot_en = true;
    assert_eq!(configure(&i), Err(ConfigError::Protection));
    let mut i = answers(disk_config());
    i.capacity.block_len = 1000;
    assert_eq!(configure(&i), Err(ConfigError::BlockSize(1000)));
    let mut i = answers(disk_config());
    i.capacity.last_lba = u64::MAX - 1;
    assert_eq!(configure(&i), Err(ConfigError::Capacity));
    let mut i = answers(disk_config());
    i.capacity.last_lba = 0x1_0000_0000;
    assert!(configure(&i).unwrap().geometry.use_16);
}

// ---------------------------------------------------------------------------------------
// Identity strings and names.

#[test]
fn identity_strings() {
    let d = Disk::new(disk_config()).unwrap();
    let mut b = [0u8; 256];
    let n = d.vpd_page(vpd::DEVICE_IDENTIFICATION, &mut b, 256).unwrap() as usize;
    let best = resp::pick_wwn(&b[..n]).unwrap().unwrap();
    assert_eq!(wwid(&best).as_str(), "naa.500140500000abcd");
    assert_eq!(wwn(&best).as_str(), "0x500140500000abcd");
    let n = d.vpd_page(vpd::UNIT_SERIAL_NUMBER, &mut b, 256).unwrap() as usize;
    assert_eq!(serial(resp::parse_unit_serial(&b[..n]).unwrap()).as_str(), "pvg-0001");
    assert_eq!(serial(b" a b/c\\d\x01 ").as_str(), "a_b_c_d_");
    let t10 = resp::Designator { protocol_id: 0, code_set: 2, piv: false, association: 0, designator_type: 1, id: b"PVGUEST Virtual Disk    SN1" };
    assert_eq!(wwid(&t10).as_str(), "t10.PVGUEST_Virtual_Disk____SN1");
    assert_eq!(wwn(&t10).as_str(), "");
    let long = [b'x'; 300];
    let s = serial(&long);
    assert!(s.truncated() && s.as_str().len() == IDENTITY_LEN);
}

#[test]
fn disk_names_like_sd() {
    let n = |i| disk_name(i).as_str().to_string();
    assert_eq!(n(0), "pvda");
    assert_eq!(n(25), "pvdz");
    assert_eq!(n(26), "pvdaa");
    assert_eq!(n(27), "pvdab");
    assert_eq!(n(701), "pvdzz");
    assert_eq!(n(702), "pvdaaa");
    assert!(n(u32::MAX).len() < 32 && !disk_name(u32::MAX).truncated());
}

#[test]
fn index_pool_takes_the_lowest_free() {
    let mut p = IndexPool::new();
    assert_eq!((p.alloc(), p.alloc(), p.alloc()), (Some(0), Some(1), Some(2)));
    p.free(1);
    assert_eq!(p.alloc(), Some(1));
    for _ in 3..MAX_DISKS {
        assert!(p.alloc().is_some());
    }
    assert_eq!(p.alloc(), None);
    p.free(200);
    assert_eq!(p.alloc(), Some(200));
    p.free(10_000);
}

// ---------------------------------------------------------------------------------------
// The udev rule the guest test installs is the one the driver ships.

#[test]
fn udev_rule_copy_matches() {
    let top = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let shipped = std::fs::read_to_string(top.join("drivers/storvsc/99-pvguest-storage.rules")).unwrap();
    let copy = std::fs::read_to_string(top.join("tests/storage/disks.rules")).unwrap();
    assert_eq!(shipped, copy, "tests/storage/disks.rules must be a copy of drivers/storvsc/99-pvguest-storage.rules");
    for attr in ["ATTR{serial}", "ATTR{wwid}", "ATTR{wwn}", "KERNEL!=\"pvd*\""] {
        assert!(shipped.contains(attr), "the rule reads {attr}");
    }
}

proptest! {
    /// Whatever the target answers, `configure` either refuses or yields limits the block
    /// layer accepts (`blk_validate_limits`): a page per request at least, block-aligned
    /// transfer limits, discard granularity of at least a physical block, FUA only with a
    /// write cache.
    #[test]
    fn configure_from_hostile_answers(
        rc16 in proptest::collection::vec(any::<u8>(), 16..32),
        b0 in proptest::collection::vec(any::<u8>(), 0..70),
        b1 in proptest::collection::vec(any::<u8>(), 0..70),
        b2 in proptest::collection::vec(any::<u8>(), 0..12),
        ms in proptest::collection::vec(any::<u8>(), 0..40),
        max_transfer in any::<u32>(),
    ) {
        let page = |code: u8, mut v: Vec<u8>| { if v.len() > 1 { v[1] = code; } v };
        let Ok(capacity) = resp::parse_read_capacity_16(&rc16) else { return Ok(()) };
        let b0 = page(vpd::BLOCK_LIMITS, b0);
        let b1 = page(vpd::BLOCK_DEVICE_CHARACTERISTICS, b1);
        let b2 = page(vpd::LOGICAL_BLOCK_PROVISIONING, b2);
        let inputs = LunInputs {
            capacity,
            limits: resp::parse_block_limits(&b0).ok(),
            characteristics: resp::parse_block_characteristics(&b1).ok(),
            provisioning: resp::parse_provisioning(&b2).ok(),
            caching: resp::parse_mode_sense(&ms, false).ok().and_then(|m| m.caching().ok()),
            max_transfer_bytes: max_transfer,
        };
        if let Ok(c) = configure(&inputs) {
            let bs = c.geometry.block_size;
            prop_assert!(c.max_hw_sectors >= 8 && c.max_hw_sectors % (bs / 512) == 0);
            prop_assert!(u64::from(c.max_hw_sectors) * 512 <= u64::from(max_transfer));
            prop_assert!(u32::from(c.max_segments) == max_pages(max_transfer & !4095) || c.max_segments == u16::MAX);
            prop_assert!(c.physical_block_size >= bs && c.physical_block_size.is_power_of_two());
            prop_assert!(c.capacity_sectors > 0 && c.capacity_sectors <= MAX_CAPACITY_SECTORS);
            prop_assert!(!c.fua || c.write_cache);
            if c.max_discard_sectors > 0 {
                prop_assert!(c.discard_granularity >= c.physical_block_size);
                prop_assert!(c.geometry.discard != DiscardMode::Disabled);
            }
            if c.geometry.write_zeroes_unmap {
                prop_assert!(c.max_write_zeroes_sectors > 0);
            }
        }
    }
}
