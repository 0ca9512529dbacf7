// SPDX-License-Identifier: GPL-2.0-only
//! Guest side: the storage VSC's decisions that need no kernel object, so they are tested on
//! the host. The kernel module (`drivers/storvsc/`) only moves data between the kernel's
//! objects (requests, disks, channels) and these functions.
//!
//! | item | what | Linux counterpart |
//! |------|------|-------------------|
//! | [`TransId`] | transaction ids: (queue, tag, generation) for block I/O, a sequence number for control requests | `storvsc_next_request_id()` (tag + 1) |
//! | [`IoSlot`] | the per-tag in-flight word: issue, claim exactly once, stale ids refused | `scsi_host_find_tag()` + the midlayer's completion state |
//! | [`plan`] | block request → CDB, direction, transfer length and data source | `sd_init_command()` |
//! | [`check_completion`], [`decide`] | completion validation, classification, bounded retries | `storvsc_on_io_completion()`, `scsi_io_completion()` |
//! | [`PageList`] | a GPA page list over the request's own pages (no bounce buffer) | `storvsc_queuecommand()`'s `payload->range` |
//! | [`LunSet`] | REPORT LUNS data as a set of LUNs, and the diff between two scans | `scsi_scan_host()` / `scsi_remove_device()` |
//! | [`configure`] | INQUIRY/VPD/READ CAPACITY/MODE SENSE answers → the disk's limits | `sd_revalidate_disk()` |
//! | [`wwid`], [`wwn`], [`serial`] | sysfs identity strings for udev's `/dev/disk/by-id` links | `scsi_vpd_lun_id()` |
//! | [`disk_name`], [`IndexPool`] | `pvda`, `pvdb`, …, `pvdaa` | `sd_format_disk_name()` |
//! | [`queue_depth`], [`queue_for_cpu`] | tags per hardware queue from the ring size; CPU → queue map | `max_outstanding_req_per_channel`, `storvsc_do_io()`'s channel choice |
//!
//! Nothing here allocates or panics on any input.

use crate::cdb::{self, Cdb, Rw};
use crate::response::{
    self, BlockCharacteristics, BlockLimits, Caching, Capacity, Designator, DiscardMode, Provisioning, ReportLuns,
};
use crate::srb::{self, blk_status, Followup, Outcome};
use crate::unmap::{self, UnmapRange};
use crate::vstor::{
    parse_completion, CompletionBody, DataDirection, Expect, ProtocolVersion, SrbCompletion, VstorError, HV_PAGE_SIZE,
};

// ---------------------------------------------------------------------------------------
// Transaction ids.

pub use vmbus_proto::slot::{IdError, MAX_QUEUES, MAX_SLOTS as MAX_TAGS, TRANS_CONTROL};
use vmbus_proto::slot::SlotId;

/// What a transaction id names. Id 0 is the host's own messages (`ENUMERATE_BUS`, ...).
///
/// Layout ([`vmbus_proto::slot::SlotId`], shared with the network VSC): block I/O is
/// `0 | queue:15 | tag:16 | generation:32`; control (initialization, reset, discovery SCSI
/// command) is `1 | 0:31 | sequence:32`. Generations and sequences are never zero, so no id
/// the guest sends is zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransId {
    /// An unsolicited host message (id 0).
    Unsolicited,
    /// A block request.
    Io {
        /// Hardware queue (= channel index of the queue).
        queue: u16,
        /// blk-mq tag.
        tag: u16,
        /// Generation of the tag's slot when the request was sent ([`IoSlot`]).
        generation: u32,
    },
    /// A control request.
    Control {
        /// Sequence number.
        seq: u32,
    },
}

impl TransId {
    /// The wire value.
    pub const fn encode(self) -> u64 {
        match self {
            TransId::Unsolicited => 0,
            TransId::Io { queue, tag, generation } => SlotId::Slot { queue, slot: tag, generation }.encode(),
            TransId::Control { seq } => SlotId::Control { seq }.encode(),
        }
    }

    /// Decodes an id from the host for a device with `queues` hardware queues of `depth`
    /// tags. Only ids the guest could have sent (and 0) are accepted; a tag beyond the
    /// depth is [`IdError::Slot`].
    pub fn decode(raw: u64, queues: u32, depth: u32) -> Result<TransId, IdError> {
        if raw == 0 {
            return Ok(TransId::Unsolicited);
        }
        Ok(match SlotId::decode(raw, queues, depth)? {
            SlotId::Slot { queue, slot, generation } => TransId::Io { queue, tag: slot, generation },
            SlotId::Control { seq } => TransId::Control { seq },
        })
    }
}

/// Index of `(queue, tag)` in a flat table of `depth` slots per queue, if both are in range.
pub fn slot_index(queue: u16, tag: u16, queues: u32, depth: u32) -> Option<usize> {
    if u32::from(queue) >= queues || u32::from(tag) >= depth {
        return None;
    }
    let i = u64::from(queue).checked_mul(u64::from(depth))?.checked_add(u64::from(tag))?;
    usize::try_from(i).ok()
}

// ---------------------------------------------------------------------------------------
// In-flight slots: one per (queue, tag), shared with the network VSC (`vmbus_proto::slot`).
// Every party that may end a request (the host's completion, the timeout handler, the
// teardown that fails everything) must first win `IoSlot::claim` (or `claim_current`).

pub use vmbus_proto::slot::{next_generation, Slot as IoSlot, SlotBusy};

// ---------------------------------------------------------------------------------------
// Block request → SCSI command.

/// The block layer's operation (`enum req_op`), as far as a disk cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockOp {
    /// `REQ_OP_READ`.
    Read,
    /// `REQ_OP_WRITE`.
    Write,
    /// `REQ_OP_FLUSH`.
    Flush,
    /// `REQ_OP_DISCARD`.
    Discard,
    /// `REQ_OP_WRITE_ZEROES`.
    WriteZeroes,
    /// Anything else (secure erase, zone operations, driver-private).
    Other,
}

/// A block request as the driver reads it from `struct request`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockRequest {
    /// Operation.
    pub op: BlockOp,
    /// First 512-byte sector (`blk_rq_pos`).
    pub sector: u64,
    /// Bytes (`blk_rq_bytes`).
    pub bytes: u32,
    /// `REQ_FUA`.
    pub fua: bool,
    /// `REQ_NOUNMAP` (write zeroes must not deallocate).
    pub nounmap: bool,
}

/// What the driver knows about a LUN when mapping requests (from [`configure`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LunGeometry {
    /// Logical block size in bytes.
    pub block_size: u32,
    /// READ/WRITE(16) for everything (more than 2^32 blocks).
    pub use_16: bool,
    /// How discards are sent.
    pub discard: DiscardMode,
    /// WRITE SAME(16) may carry the UNMAP bit for write zeroes (LBPRZ with LBPWS).
    pub write_zeroes_unmap: bool,
}

/// Where an SRB's data comes from or goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataSource {
    /// No data.
    None,
    /// The request's own pages (`blk_rq_bytes` bytes).
    Request,
    /// The UNMAP parameter list for [`Plan::unmap`], built by [`Plan::build_param_list`]
    /// into a per-request buffer of at least [`UNMAP_LIST_LEN`] bytes.
    UnmapList,
    /// One logical block of zeros (WRITE SAME data-out).
    ZeroBlock,
}

/// Bytes of the one-descriptor UNMAP parameter list the driver sends.
pub const UNMAP_LIST_LEN: usize = unmap::HEADER_LEN + unmap::DESCRIPTOR_LEN;

/// How one block request is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The CDB.
    pub cdb: Cdb,
    /// Data direction of the SRB.
    pub direction: DataDirection,
    /// `data_transfer_length`.
    pub transfer_len: u32,
    /// Where the data is.
    pub data: DataSource,
    /// The range of an UNMAP.
    pub unmap: Option<UnmapRange>,
}

impl Plan {
    /// Writes the UNMAP parameter list into `buf`; returns its length (0 when this is not
    /// an UNMAP).
    pub fn build_param_list(&self, buf: &mut [u8]) -> Result<usize, unmap::UnmapError> {
        match self.unmap {
            Some(r) => unmap::build_param_list(buf, &[r]),
            None => Ok(0),
        }
    }
}

/// Why a block request cannot be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanError {
    /// The operation is not supported by this disk (`BLK_STS_NOTSUPP`).
    Unsupported,
    /// Position or length not a multiple of the logical block size.
    Misaligned,
    /// A data operation without data, or a range too large for one command.
    Length,
}

impl PlanError {
    /// A short description for log lines.
    pub const fn as_str(&self) -> &'static str {
        match self {
            PlanError::Unsupported => "operation not supported",
            PlanError::Misaligned => "not aligned to the logical block size",
            PlanError::Length => "length zero or too large for one command",
        }
    }

    /// The `blk_status_t` to fail the request with.
    pub const fn blk_status(&self) -> u8 {
        match self {
            PlanError::Unsupported => blk_status::NOTSUPP,
            PlanError::Misaligned | PlanError::Length => blk_status::IOERR,
        }
    }
}

/// The range in logical blocks of a request: (lba, blocks).
fn block_range(req: &BlockRequest, block_size: u32) -> Result<(u64, u32), PlanError> {
    let per_block = block_size / 512;
    if per_block == 0 || !block_size.is_power_of_two() {
        return Err(PlanError::Misaligned);
    }
    if req.sector % u64::from(per_block) != 0 || req.bytes % block_size != 0 {
        return Err(PlanError::Misaligned);
    }
    if req.bytes == 0 {
        return Err(PlanError::Length);
    }
    Ok((req.sector / u64::from(per_block), req.bytes / block_size))
}

/// Maps a block request to its SCSI command the way `sd` does: READ/WRITE(10) or (16) with
/// FUA, SYNCHRONIZE CACHE(10) for flushes, UNMAP (one descriptor) or WRITE SAME(16) with
/// UNMAP for discards, WRITE SAME(16) of a zero block for write zeroes (with UNMAP when the
/// disk reads deallocated blocks as zeros and the caller allows it).
pub fn plan(req: &BlockRequest, g: &LunGeometry) -> Result<Plan, PlanError> {
    let none = |cdb: Cdb| Plan { cdb, direction: DataDirection::None, transfer_len: 0, data: DataSource::None, unmap: None };
    match req.op {
        BlockOp::Read | BlockOp::Write => {
            let (lba, blocks) = block_range(req, g.block_size)?;
            let (rw, direction) = match req.op {
                BlockOp::Read => (Rw::Read, DataDirection::Read),
                _ => (Rw::Write, DataDirection::Write),
            };
            let cdb = cdb::read_write(rw, lba, blocks, req.fua, g.use_16);
            Ok(Plan { cdb, direction, transfer_len: req.bytes, data: DataSource::Request, unmap: None })
        }
        BlockOp::Flush => Ok(none(cdb::synchronize_cache_10(0, 0))),
        BlockOp::Discard => {
            let (lba, blocks) = block_range(req, g.block_size)?;
            match g.discard {
                DiscardMode::Disabled => Err(PlanError::Unsupported),
                DiscardMode::Unmap => Ok(Plan {
                    cdb: cdb::unmap(UNMAP_LIST_LEN as u16),
                    direction: DataDirection::Write,
                    transfer_len: UNMAP_LIST_LEN as u32,
                    data: DataSource::UnmapList,
                    unmap: Some(UnmapRange { lba, blocks }),
                }),
                DiscardMode::WriteSame16 => Ok(write_same(lba, blocks, true, g.block_size)),
            }
        }
        BlockOp::WriteZeroes => {
            let (lba, blocks) = block_range(req, g.block_size)?;
            Ok(write_same(lba, blocks, g.write_zeroes_unmap && !req.nounmap, g.block_size))
        }
        BlockOp::Other => Err(PlanError::Unsupported),
    }
}

fn write_same(lba: u64, blocks: u32, unmap: bool, block_size: u32) -> Plan {
    Plan {
        cdb: cdb::write_same_16(lba, blocks, unmap),
        direction: DataDirection::Write,
        transfer_len: block_size,
        data: DataSource::ZeroBlock,
        unmap: None,
    }
}

// ---------------------------------------------------------------------------------------
// Completions.

/// What the driver recorded about a request when it sent it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Issued {
    /// The CDB's opcode.
    pub opcode: u8,
    /// `data_transfer_length` asked for.
    pub data_len: u32,
    /// Whether a short transfer is an error (block READ/WRITE: the whole range must move).
    pub full_transfer: bool,
    /// Times this request was already requeued.
    pub retries: u8,
}

/// Why a completion packet was refused (the request fails with `BLK_STS_IOERR`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompletionError {
    /// Not a well-formed `COMPLETE_IO` with an SRB of the negotiated size.
    Vstor(VstorError),
    /// The host claims to have moved more bytes than the request had.
    TransferTooLong {
        /// `data_transfer_length` in the completion.
        got: u32,
        /// Bytes asked for.
        asked: u32,
    },
}

impl CompletionError {
    /// A short description for log lines.
    pub const fn as_str(&self) -> &'static str {
        match self {
            CompletionError::Vstor(e) => e.as_str(),
            CompletionError::TransferTooLong { .. } => "data_transfer_length above the request's",
        }
    }
}

impl core::fmt::Display for CompletionError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Validates the completion of an SRB: a `COMPLETE_IO` packet holding an SRB of the
/// negotiated version's size, and a transfer count no larger than asked. The sense length
/// is capped at what the version carries by the parser.
pub fn check_completion(packet: &[u8], version: ProtocolVersion, issued: &Issued) -> Result<SrbCompletion, CompletionError> {
    let c = parse_completion(packet, Expect::Srb(version)).map_err(CompletionError::Vstor)?;
    let CompletionBody::Srb(srb) = c.body else {
        return Err(CompletionError::Vstor(VstorError::TooShort { need: 0, got: packet.len() }));
    };
    if srb.data_transfer_length > issued.data_len {
        return Err(CompletionError::TransferTooLong { got: srb.data_transfer_length, asked: issued.data_len });
    }
    Ok(srb)
}

/// What to do with a completed request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// End it with this `blk_status_t` ([`srb::blk_status`]).
    Complete(u8),
    /// Requeue it (its retry count goes up by one).
    Retry,
}

/// The decision for a completed request and the follow-up work: [`srb::classify`], a
/// short block transfer as an I/O error, and [`srb::MAX_RETRIES`] retries before a
/// retryable outcome fails with `BLK_STS_IOERR`.
pub fn decide(issued: &Issued, c: &SrbCompletion) -> (Decision, Followup) {
    let d = c.disposition(issued.opcode);
    let decision = match d.outcome {
        Outcome::Ok if issued.full_transfer && c.transferred(issued.data_len) < issued.data_len => {
            Decision::Complete(blk_status::IOERR)
        }
        Outcome::Retry if u32::from(issued.retries) < srb::MAX_RETRIES => Decision::Retry,
        o => Decision::Complete(o.blk_status()),
    };
    (decision, d.followup)
}

// ---------------------------------------------------------------------------------------
// GPA page lists.

/// Why a buffer cannot be described as one GPA range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageListError {
    /// More pages than the list holds.
    Full,
    /// A segment that is empty or crosses its page.
    Segment,
    /// A gap: a segment after the first not starting at its page, or one before the last
    /// not ending at its page end (the block layer's `virt_boundary_mask` prevents this).
    Gap,
    /// More than 4 GiB.
    Length,
}

impl PageListError {
    /// A short description for log lines.
    pub const fn as_str(&self) -> &'static str {
        match self {
            PageListError::Full => "too many pages",
            PageListError::Segment => "empty segment or segment crossing its page",
            PageListError::Gap => "gap between segments",
            PageListError::Length => "buffer too long",
        }
    }
}

/// A GPA-direct range being built: a byte offset into the first page, a length, and the
/// page frame numbers (4 KiB pages) in order. Segments are added in request order; the
/// result is one contiguous range of guest-physical pages as Hyper-V's multi-page buffer
/// wants it (`vmbus_packet_mpb_array`).
#[derive(Debug)]
pub struct PageList<'a> {
    pfns: &'a mut [u64],
    count: usize,
    offset: u32,
    len: u32,
}

const PAGE: u32 = HV_PAGE_SIZE;

impl<'a> PageList<'a> {
    /// An empty list writing its frame numbers into `pfns`.
    pub fn new(pfns: &'a mut [u64]) -> Self {
        PageList { pfns, count: 0, offset: 0, len: 0 }
    }

    /// Adds `len` bytes at byte `offset` of page `pfn` (a segment within one page).
    pub fn push(&mut self, pfn: u64, offset: u32, len: u32) -> Result<(), PageListError> {
        let end = offset.checked_add(len).ok_or(PageListError::Segment)?;
        if len == 0 || end > PAGE {
            return Err(PageListError::Segment);
        }
        if self.count > 0 {
            let last_end = self.offset.checked_add(self.len).map(|e| e % PAGE).ok_or(PageListError::Length)?;
            // A segment continuing the previous one in the same page (two 1 KiB buffers of
            // one page, as ext4 with 1 KiB blocks makes): the block layer merges these
            // without a boundary check, so they arrive as two segments of one page.
            if last_end != 0 && offset == last_end && self.pfns().last() == Some(&pfn) {
                self.len = self.len.checked_add(len).ok_or(PageListError::Length)?;
                return Ok(());
            }
            if offset != 0 || last_end != 0 {
                return Err(PageListError::Gap);
            }
        }
        let slot = self.pfns.get_mut(self.count).ok_or(PageListError::Full)?;
        *slot = pfn;
        if self.count == 0 {
            self.offset = offset;
        }
        self.len = self.len.checked_add(len).ok_or(PageListError::Length)?;
        self.count = self.count.saturating_add(1);
        Ok(())
    }

    /// Adds a physically contiguous buffer of `len` bytes at guest-physical `phys` (kernel
    /// memory in the direct map), split at page boundaries.
    pub fn push_contiguous(&mut self, phys: u64, len: u32) -> Result<(), PageListError> {
        let mut at = phys;
        let mut left = len;
        while left > 0 {
            let off = (at % u64::from(PAGE)) as u32;
            let n = left.min(PAGE - off);
            self.push(at / u64::from(PAGE), off, n)?;
            at = at.checked_add(u64::from(n)).ok_or(PageListError::Length)?;
            left -= n;
        }
        Ok(())
    }

    /// The frame numbers added.
    pub fn pfns(&self) -> &[u64] {
        self.pfns.get(..self.count).unwrap_or(&[])
    }

    /// Offset into the first page.
    pub const fn offset(&self) -> u32 {
        self.offset
    }

    /// Total bytes.
    pub const fn len(&self) -> u32 {
        self.len
    }

    /// Whether nothing was added.
    pub const fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// Pages a transfer of `max_transfer_bytes` can touch: one per 4 KiB plus a partial first
/// page (`host->sg_tablesize` in storvsc).
pub const fn max_pages(max_transfer_bytes: u32) -> u32 {
    (max_transfer_bytes / PAGE).saturating_add(1)
}

// ---------------------------------------------------------------------------------------
// Queue sizing and CPU mapping.

/// Ring bytes one EXECUTE_SRB with `pages` pages takes at most: the 16-byte packet
/// descriptor, the multi-page buffer header (reserved, range count, length, offset), the
/// frame numbers, the 64-byte VSTOR packet, padding to 8 and the 8-byte trailer the ring
/// writes after each packet.
pub const fn srb_ring_bytes(pages: u32) -> u32 {
    let body = pages.saturating_mul(8).saturating_add(16 + 8 + 8 + 64 + 7);
    (body & !7).saturating_add(8)
}

/// Tags per hardware queue: as many worst-case requests as the outbound ring holds (its
/// first page is the ring's control page), clamped to `min..=max`. More small requests fit;
/// a full ring makes `queue_rq` answer `BLK_STS_RESOURCE` and blk-mq retries.
pub fn queue_depth(ring_bytes: u32, pages: u32, min: u32, max: u32) -> u32 {
    let usable = ring_bytes.saturating_sub(PAGE);
    let per = srb_ring_bytes(pages).max(1);
    (usable / per).clamp(min, max.max(min))
}

/// The hardware queue for `cpu`: the queue whose channel interrupts that CPU (`targets[q]`
/// is the target CPU of queue `q`'s channel), else spread round-robin. 0 with no queues.
pub fn queue_for_cpu(cpu: u32, targets: &[u32]) -> u16 {
    if let Some(q) = targets.iter().position(|t| *t == cpu) {
        return q as u16;
    }
    match u32::try_from(targets.len()) {
        Ok(n) if n > 0 => (cpu % n) as u16,
        _ => 0,
    }
}

// ---------------------------------------------------------------------------------------
// LUN sets.

/// LUNs the driver addresses: single-level LUNs 0..=255 (`vmscsi_request.lun` is a byte).
pub const MAX_LUNS: usize = 256;

/// A set of LUNs 0..=255.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LunSet([u64; 4]);

impl LunSet {
    /// The empty set.
    pub const EMPTY: LunSet = LunSet([0; 4]);

    /// Adds `lun`.
    pub fn insert(&mut self, lun: u8) {
        if let Some(w) = self.0.get_mut(usize::from(lun / 64)) {
            *w |= 1 << (lun % 64);
        }
    }

    /// Removes `lun`.
    pub fn remove(&mut self, lun: u8) {
        if let Some(w) = self.0.get_mut(usize::from(lun / 64)) {
            *w &= !(1 << (lun % 64));
        }
    }

    /// Whether `lun` is in the set.
    pub fn contains(&self, lun: u8) -> bool {
        self.0.get(usize::from(lun / 64)).is_some_and(|w| w & (1 << (lun % 64)) != 0)
    }

    /// Number of LUNs.
    pub fn len(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }

    /// LUNs in `self` but not in `other`.
    pub fn minus(&self, other: &LunSet) -> LunSet {
        let mut r = *self;
        for (a, b) in r.0.iter_mut().zip(other.0.iter()) {
            *a &= !b;
        }
        r
    }

    /// The LUNs, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u8> + '_ {
        (0..=255u8).filter(move |l| self.contains(*l))
    }

    /// The LUNs of REPORT LUNS data the driver can address, and how many entries it had to
    /// ignore (multi-level or flat-space LUNs of 256 and above, well-known LUNs).
    pub fn from_report(r: &ReportLuns<'_>) -> (LunSet, usize) {
        let mut s = LunSet::EMPTY;
        let mut ignored = 0usize;
        for lun in r.iter() {
            match response::lun_as_u8(lun) {
                Some(l) => s.insert(l),
                None => ignored = ignored.saturating_add(1),
            }
        }
        (s, ignored)
    }
}

/// What a rescan changes: LUNs to add and LUNs to remove.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LunDiff {
    /// Reported now, not known before.
    pub added: LunSet,
    /// Known before, not reported now.
    pub removed: LunSet,
}

/// The difference between the LUNs the driver has and the ones the target reports.
pub fn diff_luns(known: &LunSet, reported: &LunSet) -> LunDiff {
    LunDiff { added: reported.minus(known), removed: known.minus(reported) }
}

// ---------------------------------------------------------------------------------------
// Disk configuration.

/// The answers of a LUN's discovery commands (absent pages as `None`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LunInputs {
    /// READ CAPACITY(16) (or (10)) data.
    pub capacity: Capacity,
    /// VPD page 0xB0.
    pub limits: Option<BlockLimits>,
    /// VPD page 0xB1.
    pub characteristics: Option<BlockCharacteristics>,
    /// VPD page 0xB2.
    pub provisioning: Option<Provisioning>,
    /// The caching mode page with the mode header's WP/DPOFUA.
    pub caching: Option<Caching>,
    /// The channel's `max_transfer_bytes`.
    pub max_transfer_bytes: u32,
}

/// A LUN's disk parameters, in the block layer's units (`struct queue_limits`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LunConfig {
    /// What request mapping needs.
    pub geometry: LunGeometry,
    /// Capacity in logical blocks.
    pub capacity_blocks: u64,
    /// Capacity in 512-byte sectors.
    pub capacity_sectors: u64,
    /// Physical block size in bytes.
    pub physical_block_size: u32,
    /// `io_min` in bytes (0: the physical block size).
    pub io_min: u32,
    /// `io_opt` in bytes (0: none).
    pub io_opt: u32,
    /// `max_hw_sectors`.
    pub max_hw_sectors: u32,
    /// `max_segments` (4 KiB pages of one transfer).
    pub max_segments: u16,
    /// Rotational medium (`BLK_FEAT_ROTATIONAL`).
    pub rotational: bool,
    /// Volatile write cache (`BLK_FEAT_WRITE_CACHE`).
    pub write_cache: bool,
    /// FUA (`BLK_FEAT_FUA`, only with a write cache).
    pub fua: bool,
    /// Write protected.
    pub read_only: bool,
    /// `max_hw_discard_sectors` (0: no discard).
    pub max_discard_sectors: u32,
    /// `discard_granularity` in bytes.
    pub discard_granularity: u32,
    /// `discard_alignment` in bytes.
    pub discard_alignment: u32,
    /// `max_write_zeroes_sectors` (0: none).
    pub max_write_zeroes_sectors: u32,
}

/// Why a LUN cannot be exposed as a disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// Logical block size not a power of two in 512..=4096.
    BlockSize(u32),
    /// Physical block size below the logical one or above 32 bits.
    PhysicalBlockSize,
    /// Capacity zero, or its byte size beyond `loff_t` ([`MAX_CAPACITY_SECTORS`]).
    Capacity,
    /// Protection information enabled (not supported).
    Protection,
    /// The transfer limit is below one page.
    MaxTransfer(u32),
}

impl ConfigError {
    /// A short description for log lines.
    pub const fn as_str(&self) -> &'static str {
        match self {
            ConfigError::BlockSize(_) => "unsupported logical block size",
            ConfigError::PhysicalBlockSize => "invalid physical block size",
            ConfigError::Capacity => "capacity zero or too large",
            ConfigError::Protection => "protection information is not supported",
            ConfigError::MaxTransfer(_) => "transfer limit below one page",
        }
    }
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Largest capacity in sectors whose byte size fits `loff_t`.
pub const MAX_CAPACITY_SECTORS: u64 = (i64::MAX as u64) >> 9;

fn blocks_to_sectors(blocks: u64, block_size: u32) -> Option<u64> {
    blocks.checked_mul(u64::from(block_size / 512))
}

fn clamp_sectors(blocks: u64, block_size: u32) -> u32 {
    u32::try_from(blocks_to_sectors(blocks, block_size).unwrap_or(u64::MAX)).unwrap_or(u32::MAX)
}

/// The disk parameters `sd` would derive from these answers:
/// - capacity and block sizes from READ CAPACITY (`read_capacity_16()`), READ/WRITE(16)
///   beyond 2^32 blocks;
/// - transfer limit: the channel's `max_transfer_bytes` (page aligned) and the Block Limits
///   MAXIMUM TRANSFER LENGTH; `max_segments` one per page plus one;
/// - non-rotational when page 0xB1 says rotation rate 1;
/// - write cache and FUA from the caching page (no page: write through);
/// - discard as `sd_discard_mode()`/`sd_config_discard()` ([`response::discard_mode`]),
///   granularity from OPTIMAL UNMAP GRANULARITY (at least the physical block);
/// - write zeroes by WRITE SAME(16) when MAXIMUM WRITE SAME LENGTH is reported, with the
///   UNMAP bit allowed when LBPRZ and page 0xB2's LBPWS are both set.
pub fn configure(i: &LunInputs) -> Result<LunConfig, ConfigError> {
    let cap = &i.capacity;
    let bs = cap.block_len;
    if !bs.is_power_of_two() || !(512..=4096).contains(&bs) {
        return Err(ConfigError::BlockSize(bs));
    }
    if cap.prot_en {
        return Err(ConfigError::Protection);
    }
    let pbs = cap.physical_block_size().filter(|p| *p >= bs).ok_or(ConfigError::PhysicalBlockSize)?;
    let capacity_sectors = blocks_to_sectors(cap.blocks(), bs).ok_or(ConfigError::Capacity)?;
    // The byte size must fit `loff_t` (i64) for the block device inode.
    if capacity_sectors == 0 || capacity_sectors > MAX_CAPACITY_SECTORS {
        return Err(ConfigError::Capacity);
    }
    let aligned = i.max_transfer_bytes & !(PAGE - 1);
    if aligned < PAGE {
        return Err(ConfigError::MaxTransfer(i.max_transfer_bytes));
    }
    let per_block = bs / 512;
    let mut max_hw_sectors = aligned / 512;
    let limits = i.limits.as_ref();
    if let Some(bl) = limits.filter(|bl| bl.max_transfer != 0) {
        max_hw_sectors = max_hw_sectors.min(clamp_sectors(u64::from(bl.max_transfer), bs));
    }
    max_hw_sectors -= max_hw_sectors % per_block;
    if max_hw_sectors < PAGE / 512 {
        return Err(ConfigError::MaxTransfer(max_hw_sectors.saturating_mul(512)));
    }
    let max_segments = u16::try_from(max_pages(aligned)).unwrap_or(u16::MAX);

    let caching = i.caching.unwrap_or(Caching { wce: false, rcd: false, dpofua: false, wp: false });
    let write_cache = caching.wce;
    let discard = response::discard_mode(cap, limits, i.provisioning.as_ref());
    let max_discard = response::max_discard_blocks(discard, limits);
    let granularity_blocks = limits.map_or(0, |bl| bl.unmap_granularity);
    let discard_granularity = if max_discard == 0 {
        0
    } else {
        granularity_blocks.saturating_mul(bs).max(pbs)
    };
    let discard_alignment = match (max_discard, limits.and_then(|bl| bl.unmap_alignment)) {
        (0, _) | (_, None) => 0,
        (_, Some(a)) => a.saturating_mul(bs),
    };
    let max_ws = limits.filter(|bl| bl.extended).map_or(0, |bl| bl.max_write_same);
    let ws_blocks = u32::try_from(max_ws).unwrap_or(u32::MAX).min(response::SD_MAX_WS16_BLOCKS);
    let lbpws = i.provisioning.is_some_and(|p| p.lbpws);
    let use_16 = cap.blocks() > 0xffff_ffff;
    Ok(LunConfig {
        geometry: LunGeometry {
            block_size: bs,
            use_16,
            discard,
            write_zeroes_unmap: ws_blocks != 0 && cap.lbprz && lbpws,
        },
        capacity_blocks: cap.blocks(),
        capacity_sectors,
        physical_block_size: pbs,
        io_min: limits.map_or(0, |bl| u32::from(bl.optimal_granularity).saturating_mul(bs)),
        io_opt: limits.map_or(0, |bl| bl.optimal_transfer.saturating_mul(bs)),
        max_hw_sectors,
        max_segments,
        rotational: !i.characteristics.is_some_and(|c| c.non_rotational()),
        write_cache,
        fua: write_cache && caching.dpofua,
        read_only: caching.wp,
        max_discard_sectors: clamp_sectors(u64::from(max_discard), bs),
        discard_granularity,
        discard_alignment,
        max_write_zeroes_sectors: clamp_sectors(u64::from(ws_blocks), bs),
    })
}

// ---------------------------------------------------------------------------------------
// Identity strings.

/// A string in a fixed buffer (no allocation); pushes beyond the capacity are dropped and
/// remembered as truncation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixedStr<const N: usize> {
    buf: [u8; N],
    len: usize,
    truncated: bool,
}

impl<const N: usize> Default for FixedStr<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> FixedStr<N> {
    /// An empty string.
    pub const fn new() -> Self {
        FixedStr { buf: [0; N], len: 0, truncated: false }
    }

    /// Appends ASCII bytes (callers only push ASCII).
    pub fn push_bytes(&mut self, s: &[u8]) {
        for c in s {
            match self.buf.get_mut(self.len) {
                Some(slot) => {
                    *slot = *c;
                    self.len += 1;
                }
                None => self.truncated = true,
            }
        }
    }

    /// Appends `b` as two lower-case hex digits.
    pub fn push_hex(&mut self, b: u8) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        self.push_bytes(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    /// The string (always ASCII, so always valid).
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(self.as_bytes()).unwrap_or("")
    }

    /// Whether something did not fit.
    pub const fn truncated(&self) -> bool {
        self.truncated
    }

    /// Whether the string is empty.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Longest identity string the driver keeps (sysfs attributes `serial`, `wwid`).
pub const IDENTITY_LEN: usize = 256;

/// An identity string.
pub type Identity = FixedStr<IDENTITY_LEN>;

/// Printable ASCII other than space, `/` and `\` kept, anything else replaced by `_` (udev
/// builds link names from it; `/` would make a directory).
fn push_safe(out: &mut Identity, s: &[u8]) {
    for c in s {
        let ok = c.is_ascii_graphic() && *c != b'/' && *c != b'\\';
        out.push_bytes(&[if ok { *c } else { b'_' }]);
    }
}

/// The `serial` attribute from VPD page 0x80 (already trimmed by
/// [`response::parse_unit_serial`]): printable, `/`-free.
pub fn serial(raw: &[u8]) -> Identity {
    let mut s = Identity::new();
    push_safe(&mut s, response::trim_ascii(raw));
    s
}

/// The `wwid` attribute the way Linux's SCSI layer prints it (`scsi_vpd_lun_id()`):
/// `naa.<hex>`, `eui.<hex>`, `t10.<ascii>` or the SCSI name string itself.
pub fn wwid(d: &Designator<'_>) -> Identity {
    let mut s = Identity::new();
    match d.designator_type {
        response::designator_type::NAA => {
            s.push_bytes(b"naa.");
            d.id.iter().for_each(|b| s.push_hex(*b));
        }
        response::designator_type::EUI64 => {
            s.push_bytes(b"eui.");
            d.id.iter().for_each(|b| s.push_hex(*b));
        }
        response::designator_type::T10_VENDOR_ID => {
            s.push_bytes(b"t10.");
            push_safe(&mut s, response::trim_ascii(d.id));
        }
        _ => push_safe(&mut s, response::trim_ascii(d.id)),
    }
    s
}

/// The `wwn` attribute: `0x<hex>` of an NAA or EUI-64 designator, as udev's `ID_WWN`
/// (`/dev/disk/by-id/wwn-0x…`); empty for other designator types.
pub fn wwn(d: &Designator<'_>) -> Identity {
    let mut s = Identity::new();
    if matches!(d.designator_type, response::designator_type::NAA | response::designator_type::EUI64) {
        s.push_bytes(b"0x");
        d.id.iter().for_each(|b| s.push_hex(*b));
    }
    s
}

// ---------------------------------------------------------------------------------------
// Disk names.

/// Prefix of the disk names.
pub const DISK_PREFIX: &[u8] = b"pvd";

/// A disk name (`pvda`); fits `DISK_NAME_LEN` (32) for every index.
pub type DiskName = FixedStr<16>;

/// The name of disk `index`: `pvda`..`pvdz`, `pvdaa`..`pvdzz`, `pvdaaa`, … (bijective
/// base 26, as `sd_format_disk_name()`).
pub fn disk_name(index: u32) -> DiskName {
    let mut letters = [0u8; 8];
    let mut n = u64::from(index).saturating_add(1);
    let mut i = letters.len();
    while n > 0 && i > 0 {
        n -= 1;
        i -= 1;
        letters[i] = b'a' + (n % 26) as u8;
        n /= 26;
    }
    let mut s = DiskName::new();
    s.push_bytes(DISK_PREFIX);
    s.push_bytes(letters.get(i..).unwrap_or(&[]));
    s
}

/// Disk indexes in use (driver-wide): the lowest free one is taken, as `ida` would.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IndexPool([u64; 4]);

/// Disks the driver names at most at once.
pub const MAX_DISKS: u32 = 256;

impl IndexPool {
    /// No index in use.
    pub const fn new() -> Self {
        IndexPool([0; 4])
    }

    /// Takes the lowest free index.
    pub fn alloc(&mut self) -> Option<u32> {
        for (w, word) in self.0.iter_mut().enumerate() {
            if *word != u64::MAX {
                let bit = (!*word).trailing_zeros();
                *word |= 1 << bit;
                return Some(w as u32 * 64 + bit);
            }
        }
        None
    }

    /// Returns `index` to the pool.
    pub fn free(&mut self, index: u32) {
        if let Some(w) = self.0.get_mut((index / 64) as usize) {
            *w &= !(1 << (index % 64));
        }
    }
}
