//! The data-in a host returns for the storage VSC's discovery commands, read the way
//! `drivers/storvsc/lun.rs` `discover()` and `report()` read it (`vstor_proto::response`
//! parsers, then `guest::configure`, `serial`/`wwid`/`wwn` and `LunSet`), then block requests
//! mapped with the resulting geometry (`guest::plan`). Format: `pvguest_fuzz::scsi::Discovery`.
//!
//! Properties: no panic; a configured disk has a supported logical block size, a physical
//! block no smaller, a capacity whose byte size fits `loff_t`, a transfer limit of at least a
//! page in whole blocks and no more than the channel allows, discard granularity of at least
//! a physical block when discard is on, FUA only with a write cache; identity strings are
//! printable ASCII without `/` and at most 256 bytes; REPORT LUNS gives at most 256 LUNs and
//! an exact add/remove diff; every request inside the disk maps to a CDB that the host's
//! parser (`vstor_proto::command::parse`) reads back as the same blocks, and an UNMAP list
//! that its parser reads back as the same range.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pvguest_fuzz::scsi::Discovery;
use pvguest_fuzz::Input;
use vstor_proto::cdb::vpd;
use vstor_proto::command::{self, Command};
use vstor_proto::guest::{self, BlockOp, BlockRequest, DataSource, Identity, LunConfig, LunInputs, LunSet, IDENTITY_LEN, UNMAP_LIST_LEN};
use vstor_proto::response::{self as resp, DiscardMode};
use vstor_proto::unmap::{self, UnmapLimits};
use vstor_proto::vstor::DataDirection;

fn check_identity(s: &Identity) {
    let b = s.as_bytes();
    assert!(b.len() <= IDENTITY_LEN);
    assert!(b.iter().all(|c| c.is_ascii_graphic() && *c != b'/' && *c != b'\\'), "identity {b:?}");
    assert_eq!(s.as_str().as_bytes(), b);
}

fn check_config(c: &LunConfig, i: &LunInputs) {
    let bs = c.geometry.block_size;
    assert!(bs.is_power_of_two() && (512..=4096).contains(&bs));
    assert_eq!(bs, i.capacity.block_len);
    assert!(c.physical_block_size >= bs);
    assert!(c.capacity_sectors > 0 && c.capacity_sectors <= guest::MAX_CAPACITY_SECTORS);
    assert_eq!(c.capacity_sectors, c.capacity_blocks * u64::from(bs / 512));
    assert_eq!(c.geometry.use_16, c.capacity_blocks > u64::from(u32::MAX));
    assert!(c.max_hw_sectors >= 8 && c.max_hw_sectors % (bs / 512) == 0);
    assert!(u64::from(c.max_hw_sectors) * 512 <= u64::from(i.max_transfer_bytes));
    assert!(c.max_segments >= 2);
    if c.max_discard_sectors != 0 {
        assert_ne!(c.geometry.discard, DiscardMode::Disabled);
        assert!(c.discard_granularity >= c.physical_block_size);
    } else {
        assert_eq!(c.discard_granularity, 0);
    }
    assert!(!c.fua || c.write_cache, "FUA without a write cache");
    if c.read_only {
        assert!(!c.write_cache);
    }
}

/// `report()`: REPORT LUNS data as the set of LUNs, and the diff against a known set.
fn check_report(data: &[u8], known: &[u8]) {
    let Ok(r) = resp::parse_report_luns(data) else { return };
    assert!(r.len() * 8 <= data.len().saturating_sub(8));
    let (set, ignored) = LunSet::from_report(&r);
    assert!(set.len() <= 256 && set.len() + ignored <= r.len());
    for lun in r.iter() {
        if let Some(l) = resp::lun_as_u8(lun) {
            assert!(set.contains(l));
        }
    }
    let mut have = LunSet::EMPTY;
    for l in known {
        have.insert(*l);
    }
    let d = guest::diff_luns(&have, &set);
    for l in 0..=255u8 {
        assert_eq!(d.added.contains(l), set.contains(l) && !have.contains(l));
        assert_eq!(d.removed.contains(l), have.contains(l) && !set.contains(l));
    }
}

/// A block request the block layer could send this disk, mapped and read back by the host.
fn check_request(c: &LunConfig, raw: &[u8]) {
    let mut i = Input::new(raw);
    let op = match i.u8() % 6 {
        0 => BlockOp::Read,
        1 => BlockOp::Write,
        2 => BlockOp::Flush,
        3 => BlockOp::Discard,
        4 => BlockOp::WriteZeroes,
        _ => BlockOp::Other,
    };
    let bs = u64::from(c.geometry.block_size);
    let per_block = bs / 512;
    let max_blocks = u64::from(c.max_hw_sectors) / per_block;
    // Aligned and inside the disk, as the block layer guarantees.
    let lba = i.u64() % c.capacity_blocks;
    let blocks = (u64::from(i.u32()) % max_blocks.min(c.capacity_blocks - lba)) + 1;
    let flags = i.u8();
    let req = BlockRequest { op, sector: lba * per_block, bytes: (blocks * bs) as u32, fua: flags & 1 != 0, nounmap: flags & 2 != 0 };
    let Ok(p) = guest::plan(&req, &c.geometry) else { return };
    let blocks = blocks as u32;
    let parsed = command::parse(p.cdb.as_bytes()).expect("the host refuses a CDB the guest built");
    match (op, parsed) {
        (BlockOp::Read, Command::Read { lba: l, blocks: n, fua }) | (BlockOp::Write, Command::Write { lba: l, blocks: n, fua }) => {
            assert_eq!((l, n, fua), (lba, blocks, req.fua));
            assert_eq!(p.transfer_len, req.bytes);
            assert_eq!(p.data, DataSource::Request);
            assert_eq!(p.direction, if op == BlockOp::Read { DataDirection::Read } else { DataDirection::Write });
        }
        (BlockOp::Flush, Command::SynchronizeCache { .. }) => assert_eq!(p.transfer_len, 0),
        (BlockOp::Discard, Command::Unmap { param_len, .. }) => {
            assert_eq!(usize::from(param_len), UNMAP_LIST_LEN);
            let mut list = [0u8; UNMAP_LIST_LEN];
            assert_eq!(p.build_param_list(&mut list), Ok(UNMAP_LIST_LEN));
            let limits = UnmapLimits { max_lba_count: u32::MAX, max_descriptors: 1, capacity: c.capacity_blocks };
            let ranges = unmap::parse_param_list(&list, param_len, &limits).expect("the host refuses the UNMAP list");
            let got: Vec<_> = ranges.iter().map(|r| (r.lba, r.blocks)).collect();
            assert_eq!(got, vec![(lba, blocks)]);
        }
        (BlockOp::Discard | BlockOp::WriteZeroes, Command::WriteSame16 { lba: l, blocks: n, unmap, .. }) => {
            assert_eq!((l, n), (lba, blocks));
            assert_eq!(p.transfer_len, c.geometry.block_size);
            if op == BlockOp::WriteZeroes && req.nounmap {
                assert!(!unmap);
            }
        }
        (op, cmd) => panic!("{op:?} planned as {cmd:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut i = Input::new(data);
    let d = Discovery::decode(&mut i);
    let [inquiry, pages, serial, ident, limits, chars, prov, rc16, rc10, mode, luns] = d.answers;

    if let Some(l) = luns {
        check_report(l, d.requests.get(..4).unwrap_or(&[]));
    }
    let Some(Ok(inq)) = inquiry.map(resp::parse_standard_inquiry) else { return };
    let _ = (inq.vendor_trimmed(), inq.product_trimmed(), inq.revision_trimmed(), inq.lun_present());
    if !inq.is_disk() {
        return;
    }
    let list = pages.and_then(|p| resp::parse_supported_pages(p).ok());
    let has = |page| list.is_some_and(|l| l.contains(page));
    let serial = match serial.filter(|_| has(vpd::UNIT_SERIAL_NUMBER)).map(resp::parse_unit_serial) {
        Some(Ok(s)) => guest::serial(s),
        _ => Identity::new(),
    };
    check_identity(&serial);
    if let Some(Ok(Some(best))) = ident.filter(|_| has(vpd::DEVICE_IDENTIFICATION)).map(resp::pick_wwn) {
        assert!(best.priority() > 0);
        let (wwid, wwn) = (guest::wwid(&best), guest::wwn(&best));
        check_identity(&wwid);
        check_identity(&wwn);
    }
    // READ CAPACITY(16), else (10) unless it says the disk needs (16).
    let capacity = match rc16.map(resp::parse_read_capacity_16) {
        Some(Ok(c)) => c,
        _ => match rc10.map(resp::parse_read_capacity_10) {
            Some(Ok(c)) if !c.needs_16() => c,
            _ => return,
        },
    };
    let inputs = LunInputs {
        capacity,
        limits: limits.filter(|_| has(vpd::BLOCK_LIMITS)).and_then(|b| resp::parse_block_limits(b).ok()),
        characteristics: chars.filter(|_| has(vpd::BLOCK_DEVICE_CHARACTERISTICS)).and_then(|b| resp::parse_block_characteristics(b).ok()),
        provisioning: prov.filter(|_| has(vpd::LOGICAL_BLOCK_PROVISIONING)).and_then(|b| resp::parse_provisioning(b).ok()),
        caching: mode.and_then(|m| resp::parse_mode_sense(m, false).ok()).and_then(|m| m.caching().ok()),
        max_transfer_bytes: d.max_transfer,
    };
    let Ok(config) = guest::configure(&inputs) else { return };
    check_config(&config, &inputs);
    for req in d.requests.chunks(16).take(16) {
        check_request(&config, req);
    }
});
