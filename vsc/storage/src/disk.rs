// SPDX-License-Identifier: GPL-2.0-only
//! Host side: the SCSI target logic of one virtual disk, pure. [`Disk::execute`] takes a
//! CDB, answers what it can from the disk description (INQUIRY and VPD pages, READ
//! CAPACITY, MODE SENSE, REQUEST SENSE, TEST UNIT READY) into the caller's data-in buffer,
//! validates the data commands and returns what the host simulator must do with the image
//! file ([`Action`]): read, write (durable or not), flush, deallocate, write same. REPORT
//! LUNS belongs to the target, not one disk; the host answers it with [`report_luns`].
//!
//! Response layouts: standard INQUIRY data SPC-4 6.6.2; VPD pages SPC-4 7.8.5 (supported
//! pages), 7.8.15 (unit serial number), 7.8.6 (device identification), SBC-3 6.5.3 (block
//! limits), 6.5.2 (block device characteristics), 6.5.4 (logical block provisioning);
//! READ CAPACITY SBC-3 5.15.2/5.16.2; mode parameter headers and block descriptors SPC-4
//! 7.5.5/7.5.6 and SBC-3 6.4.2; caching page SBC-3 6.4.5; control page SPC-4 7.5.8;
//! REPORT LUNS SPC-4 6.33 with SAM-5 single-level LUN addressing. All fields big-endian.
//! Every response honours the allocation length and the SRB's transfer length while its
//! length fields describe the full data, as SPC-4 4.3.5.6 requires.

use crate::bytes;
use crate::cdb::{mode_page, select_report, vpd, PageControl};
use crate::command::{self, Command};
use crate::sense::{asc, FixedSense};
use crate::srb::{srb_status, ScsiResult};
use crate::unmap::{self, UnmapLimits, UnmapRanges};
use crate::vstor::DataDirection;

/// Largest response the disk builds itself; a data-in scratch buffer of this size is enough
/// for every command except READ and REPORT LUNS.
pub const RESPONSE_MAX: usize = 256;
/// Longest unit serial number accepted (it also goes into the T10 vendor ID designator).
pub const MAX_SERIAL_LEN: usize = 200;
/// INQUIRY VERSION reported: SPC-4.
pub const INQUIRY_VERSION_SPC4: u8 = 0x06;
/// Length of the standard INQUIRY data returned.
pub const STANDARD_INQUIRY_LEN: usize = 36;
/// Length of the Block Limits and Block Device Characteristics pages (header included).
pub const VPD_B0_B1_LEN: usize = 64;
/// Length of the Logical Block Provisioning page returned (header included).
pub const VPD_B2_LEN: usize = 8;
/// Length of the READ CAPACITY(16) data.
pub const READ_CAPACITY_16_LEN: usize = 32;
/// Length of the READ CAPACITY(10) data.
pub const READ_CAPACITY_10_LEN: usize = 8;
/// The REPORT LUNS well-known logical unit (`SCSI_W_LUN_REPORT_LUNS`).
pub const W_LUN_REPORT_LUNS: u16 = 0xc101;
/// Medium rotation rate meaning "non-rotating medium" (SBC-3 table 173).
pub const NON_ROTATING: u16 = 1;

/// The disk's world-wide identifier, reported in VPD page 0x83.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Identifier {
    /// An 8-byte NAA identifier (NAA 2, 3 or 5 in the top nibble).
    Naa([u8; 8]),
    /// A 16-byte NAA IEEE Registered Extended identifier (NAA 6).
    NaaExtended([u8; 16]),
    /// An 8-byte EUI-64 identifier.
    Eui64([u8; 8]),
}

impl Identifier {
    fn bytes(&self) -> &[u8] {
        match self {
            Identifier::Naa(b) | Identifier::Eui64(b) => b,
            Identifier::NaaExtended(b) => b,
        }
    }

    /// The designator type (SPC-4 table 461): 3 for NAA, 2 for EUI-64.
    pub const fn designator_type(&self) -> u8 {
        match self {
            Identifier::Naa(_) | Identifier::NaaExtended(_) => 3,
            Identifier::Eui64(_) => 2,
        }
    }
}

/// Discard (UNMAP / WRITE SAME with UNMAP) support and its limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiscardConfig {
    /// MAXIMUM UNMAP LBA COUNT: most blocks one UNMAP may name in total.
    pub max_unmap_lba_count: u32,
    /// MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT.
    pub max_unmap_descriptors: u32,
    /// OPTIMAL UNMAP GRANULARITY in blocks (at least 1).
    pub granularity: u32,
    /// UNMAP GRANULARITY ALIGNMENT in blocks (below `granularity`).
    pub alignment: u32,
    /// LBPRZ: deallocated blocks read as zeros (the host must then make them so).
    pub lbprz: bool,
}

/// A disk description; [`Disk::new`] validates it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskConfig<'a> {
    /// Number of logical blocks.
    pub capacity_blocks: u64,
    /// Logical block size: 512, 1024, 2048 or 4096.
    pub logical_block_size: u32,
    /// log2(physical block size / logical block size), 0..=15 (e.g. 3 for 512e on 4K).
    pub physical_block_exponent: u8,
    /// T10 vendor identification, ASCII, at most 8 bytes (space padded on the wire).
    pub vendor: &'a [u8],
    /// Product identification, ASCII, at most 16 bytes.
    pub product: &'a [u8],
    /// Product revision level, ASCII, at most 4 bytes.
    pub revision: &'a [u8],
    /// Unit serial number, printable ASCII, at most [`MAX_SERIAL_LEN`]; empty: no page 0x80.
    pub serial: &'a [u8],
    /// World-wide identifier.
    pub identifier: Identifier,
    /// Volatile write cache enabled (WCE): writes need FUA or SYNCHRONIZE CACHE to be durable.
    pub write_cache: bool,
    /// DPOFUA: FUA is advertised in the mode parameter header.
    pub fua: bool,
    /// Write protected.
    pub read_only: bool,
    /// MEDIUM ROTATION RATE (0: not reported, [`NON_ROTATING`], or rpm).
    pub rotation_rate: u16,
    /// MAXIMUM TRANSFER LENGTH in blocks (0: no limit reported).
    pub max_transfer_blocks: u32,
    /// OPTIMAL TRANSFER LENGTH in blocks (0: not reported).
    pub optimal_transfer_blocks: u32,
    /// Discard support (LBPME, LBPU).
    pub discard: Option<DiscardConfig>,
    /// MAXIMUM WRITE SAME LENGTH in blocks; zero: WRITE SAME(16) not supported.
    pub max_write_same_blocks: u64,
}

/// Why a disk description was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// Capacity zero, or its byte size overflows 64 bits.
    Capacity,
    /// Logical block size not a power of two in 512..=4096.
    BlockSize,
    /// Physical block exponent above 15, or physical size above 32 bits.
    PhysicalExponent,
    /// Vendor, product or revision too long or not printable ASCII.
    IdentityString,
    /// Serial number too long or not printable ASCII.
    Serial,
    /// NAA identifier with a wrong NAA field.
    Identifier,
    /// Discard limits zero, or alignment not below granularity / not below 2^31.
    Discard,
    /// Optimal transfer length above the maximum, or not a multiple of the physical block.
    OptimalTransfer,
}

impl ConfigError {
    /// A short description for log lines.
    pub const fn as_str(&self) -> &'static str {
        match self {
            ConfigError::Capacity => "capacity zero or too large",
            ConfigError::BlockSize => "logical block size not 512..4096 power of two",
            ConfigError::PhysicalExponent => "physical block exponent out of range",
            ConfigError::IdentityString => "vendor/product/revision too long or not ASCII",
            ConfigError::Serial => "serial too long or not printable ASCII",
            ConfigError::Identifier => "identifier NAA field invalid",
            ConfigError::Discard => "discard limits invalid",
            ConfigError::OptimalTransfer => "optimal transfer length invalid",
        }
    }
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the host must do for a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing more: complete with this result. For data-in commands the data is in the
    /// buffer passed to [`Disk::execute`] (`result.transferred` bytes).
    Done(ScsiResult),
    /// Read `len` bytes at byte `offset` of the image into the guest's buffer, then complete
    /// with `ScsiResult::good(len)` (or a medium error, [`FixedSense::medium_error`]).
    Read {
        /// Byte offset in the image.
        offset: u64,
        /// Bytes.
        len: u32,
    },
    /// Write `len` bytes of data-out at byte `offset`, then complete with `good(len)`.
    Write {
        /// Byte offset in the image.
        offset: u64,
        /// Bytes.
        len: u32,
        /// Make the data durable before completing: FUA was set, or the write cache is off.
        durable: bool,
    },
    /// Flush the image (SYNCHRONIZE CACHE), then complete with `good(0)`.
    Flush,
    /// Fetch `param_len` bytes of data-out, validate them with [`Disk::unmap_ranges`],
    /// deallocate every range (and make it read as zeros when LBPRZ), then `good(param_len)`.
    Unmap {
        /// Parameter list length.
        param_len: u16,
    },
    /// WRITE SAME(16): fill `len` bytes at `offset` with the one `block_len`-byte block of
    /// data-out (zeros when `ndob`). With `unmap` the host may deallocate instead, if the
    /// block is all zeros and the disk has LBPRZ. Complete with `good(block_len)`, or
    /// `good(0)` with `ndob`.
    WriteSame {
        /// Byte offset in the image.
        offset: u64,
        /// Bytes to fill.
        len: u64,
        /// Logical block size.
        block_len: u32,
        /// Deallocation allowed.
        unmap: bool,
        /// No data-out: write zeros.
        ndob: bool,
    },
    /// REPORT LUNS: answer with [`report_luns`] for the target's LUNs, honouring `alloc`.
    ReportLuns {
        /// Select report.
        select: u8,
        /// Allocation length.
        alloc: u32,
    },
}

/// One disk: its description and its pending unit attention.
#[derive(Clone, Copy, Debug)]
pub struct Disk<'a> {
    cfg: DiskConfig<'a>,
    unit_attention: Option<(u8, u8)>,
}

fn printable(s: &[u8]) -> bool {
    s.iter().all(|c| (0x20..0x7f).contains(c))
}

impl<'a> DiskConfig<'a> {
    /// Checks every field (see [`ConfigError`]).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_geometry()?;
        self.validate_identity()?;
        self.validate_limits()
    }

    fn validate_geometry(&self) -> Result<(), ConfigError> {
        let bs = self.logical_block_size;
        if !bs.is_power_of_two() || !(512..=4096).contains(&bs) {
            return Err(ConfigError::BlockSize);
        }
        if self.capacity_blocks == 0 || self.capacity_blocks.checked_mul(u64::from(bs)).is_none() {
            return Err(ConfigError::Capacity);
        }
        if self.physical_block_size().is_none() {
            return Err(ConfigError::PhysicalExponent);
        }
        Ok(())
    }

    fn validate_identity(&self) -> Result<(), ConfigError> {
        let fits = |s: &[u8], n: usize| s.len() <= n && printable(s);
        if !fits(self.vendor, 8) || !fits(self.product, 16) || !fits(self.revision, 4) {
            return Err(ConfigError::IdentityString);
        }
        if !fits(self.serial, MAX_SERIAL_LEN) {
            return Err(ConfigError::Serial);
        }
        let naa = self.identifier.bytes().first().map_or(0, |b| b >> 4);
        let ok = match self.identifier {
            Identifier::Naa(_) => matches!(naa, 2 | 3 | 5),
            Identifier::NaaExtended(_) => naa == 6,
            Identifier::Eui64(_) => true,
        };
        if !ok {
            return Err(ConfigError::Identifier);
        }
        Ok(())
    }

    fn validate_limits(&self) -> Result<(), ConfigError> {
        if let Some(d) = &self.discard {
            let bad = d.max_unmap_lba_count == 0
                || d.max_unmap_descriptors == 0
                || d.granularity == 0
                || d.alignment >= d.granularity
                || d.alignment >= 1 << 31;
            if bad {
                return Err(ConfigError::Discard);
            }
        }
        let (opt, max) = (self.optimal_transfer_blocks, self.max_transfer_blocks);
        let per_phys = 1u32 << self.physical_block_exponent.min(15);
        if (max != 0 && opt > max) || opt % per_phys != 0 {
            return Err(ConfigError::OptimalTransfer);
        }
        Ok(())
    }

    /// Physical block size in bytes, if the exponent is valid.
    pub fn physical_block_size(&self) -> Option<u32> {
        if self.physical_block_exponent > 15 {
            return None;
        }
        self.logical_block_size.checked_mul(1u32 << self.physical_block_exponent)
    }

    /// The last LBA.
    pub const fn last_lba(&self) -> u64 {
        self.capacity_blocks.saturating_sub(1)
    }

    /// LBPME: the disk is thin provisioned (discard supported).
    pub const fn lbpme(&self) -> bool {
        self.discard.is_some()
    }

    /// LBPRZ: deallocated blocks read as zeros.
    pub const fn lbprz(&self) -> bool {
        match &self.discard {
            Some(d) => d.lbprz,
            None => false,
        }
    }
}

/// Copies `full` into `out`, at most `limit` bytes; returns the count.
fn deliver(out: &mut [u8], full: &[u8], limit: usize) -> u32 {
    let n = bytes::copy_truncated(bytes::head_mut(out, limit), full);
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn padded<const N: usize>(s: &[u8]) -> [u8; N] {
    let mut out = [b' '; N];
    bytes::copy_truncated(&mut out, s);
    out
}

impl<'a> Disk<'a> {
    /// A disk with a valid description and no pending unit attention.
    pub fn new(cfg: DiskConfig<'a>) -> Result<Self, ConfigError> {
        cfg.validate()?;
        Ok(Disk { cfg, unit_attention: None })
    }

    /// The description.
    pub const fn config(&self) -> &DiskConfig<'a> {
        &self.cfg
    }

    /// Queues a unit attention (e.g. [`asc::POWER_ON_RESET`] after a bus reset); the next
    /// command other than INQUIRY, REPORT LUNS and REQUEST SENSE fails with it once.
    pub fn set_unit_attention(&mut self, code: (u8, u8)) {
        self.unit_attention = Some(code);
    }

    /// The pending unit attention.
    pub const fn unit_attention(&self) -> Option<(u8, u8)> {
        self.unit_attention
    }

    /// Changes the capacity and queues CAPACITY DATA HAS CHANGED (2A/09).
    pub fn resize(&mut self, capacity_blocks: u64) -> Result<(), ConfigError> {
        let cfg = DiskConfig { capacity_blocks, ..self.cfg };
        cfg.validate()?;
        self.cfg = cfg;
        self.unit_attention = Some(asc::CAPACITY_DATA_HAS_CHANGED);
        Ok(())
    }

    /// Byte offset and length of `blocks` blocks at `lba`, if inside the disk.
    pub fn byte_range(&self, lba: u64, blocks: u64) -> Option<(u64, u64)> {
        let end = lba.checked_add(blocks)?;
        if end > self.cfg.capacity_blocks {
            return None;
        }
        let bs = u64::from(self.cfg.logical_block_size);
        Some((lba.checked_mul(bs)?, blocks.checked_mul(bs)?))
    }

    /// The UNMAP limits of this disk.
    pub fn unmap_limits(&self) -> UnmapLimits {
        let (max_descriptors, max_lba_count) =
            self.cfg.discard.map_or((0, 0), |d| (d.max_unmap_descriptors, d.max_unmap_lba_count));
        UnmapLimits { capacity: self.cfg.capacity_blocks, max_descriptors, max_lba_count }
    }

    /// Validates an UNMAP parameter list (the data-out of [`Action::Unmap`]).
    pub fn unmap_ranges<'d>(&self, data: &'d [u8], param_len: u16) -> Result<UnmapRanges<'d>, FixedSense> {
        unmap::parse_param_list(data, param_len, &self.unmap_limits()).map_err(|e| e.sense())
    }

    /// Executes a CDB. `direction` and `transfer_len` come from the SRB; `data_in` is where
    /// data-in responses go (at least `min(transfer_len, RESPONSE_MAX)` bytes to get all of
    /// them; less truncates).
    pub fn execute(&mut self, cdb: &[u8], direction: DataDirection, transfer_len: u32, data_in: &mut [u8]) -> Action {
        let cmd = match command::parse(cdb) {
            Ok(c) => c,
            Err(e) => return Action::Done(ScsiResult::check_condition(e.sense())),
        };
        if let Some(ua) = self.take_unit_attention(&cmd) {
            return Action::Done(ScsiResult::check_condition(FixedSense::unit_attention(ua)));
        }
        if !direction_ok(&cmd, direction, transfer_len) {
            return Action::Done(ScsiResult::srb_error(srb_status::INVALID_REQUEST));
        }
        let limit = usize::try_from(transfer_len).unwrap_or(usize::MAX);
        match self.dispatch(cmd, transfer_len, data_in, limit) {
            Ok(a) => a,
            Err(sense) => Action::Done(ScsiResult::check_condition(sense)),
        }
    }

    fn take_unit_attention(&mut self, cmd: &Command) -> Option<(u8, u8)> {
        match cmd {
            Command::Inquiry { .. } | Command::ReportLuns { .. } | Command::RequestSense { .. } => None,
            _ => self.unit_attention.take(),
        }
    }

    fn dispatch(
        &mut self,
        cmd: Command,
        transfer_len: u32,
        out: &mut [u8],
        limit: usize,
    ) -> Result<Action, FixedSense> {
        let done = |n| Ok(Action::Done(ScsiResult::good(n)));
        match cmd {
            Command::TestUnitReady | Command::StartStopUnit { .. } => done(0),
            Command::RequestSense { desc, alloc } => done(self.request_sense(desc, out, limit.min(usize::from(alloc)))),
            Command::Inquiry { evpd: false, alloc, .. } => {
                done(self.standard_inquiry(out, limit.min(usize::from(alloc))))
            }
            Command::Inquiry { evpd: true, page, alloc } => {
                done(self.vpd_page(page, out, limit.min(usize::from(alloc)))?)
            }
            Command::ModeSense { ten, dbd, llbaa, pc, page, subpage, alloc } => {
                let sel = ModeSelect { ten, dbd, llbaa, pc, page, subpage };
                done(self.mode_sense(&sel, out, limit.min(usize::from(alloc)))?)
            }
            Command::ReadCapacity10 => done(self.read_capacity_10(out, limit)),
            Command::ReadCapacity16 { alloc } => {
                done(self.read_capacity_16(out, limit.min(usize::try_from(alloc).unwrap_or(usize::MAX))))
            }
            Command::Read { lba, blocks, .. } => self.read(lba, blocks, transfer_len),
            Command::Write { lba, blocks, fua } => self.write(lba, blocks, fua, transfer_len),
            Command::SynchronizeCache { lba, blocks, .. } => self.synchronize_cache(lba, blocks),
            Command::Unmap { anchor, param_len } => self.unmap(anchor, param_len, transfer_len),
            Command::WriteSame16 { lba, blocks, unmap, anchor, ndob } => {
                self.write_same(WriteSame { lba, blocks, unmap, anchor, ndob }, transfer_len)
            }
            Command::ReportLuns { select, alloc } => Ok(Action::ReportLuns { select, alloc }),
        }
    }

    // -- data commands ------------------------------------------------------------------

    /// Checks a READ/WRITE range; returns (byte offset, byte length).
    fn rw_range(&self, lba: u64, blocks: u32, transfer_len: u32) -> Result<(u64, u32), RwError> {
        let max = self.cfg.max_transfer_blocks;
        if max != 0 && blocks > max {
            return Err(RwError::Sense(FixedSense::illegal_request(asc::INVALID_FIELD_IN_CDB)));
        }
        let (offset, len) =
            self.byte_range(lba, u64::from(blocks)).ok_or(RwError::Sense(FixedSense::lba_out_of_range()))?;
        let len = u32::try_from(len).map_err(|_| RwError::Overrun)?;
        if len > transfer_len {
            return Err(RwError::Overrun);
        }
        Ok((offset, len))
    }

    fn read(&self, lba: u64, blocks: u32, transfer_len: u32) -> Result<Action, FixedSense> {
        match self.rw_range(lba, blocks, transfer_len) {
            Ok((_, 0)) => Ok(Action::Done(ScsiResult::good(0))),
            Ok((offset, len)) => Ok(Action::Read { offset, len }),
            Err(e) => e.into_action(),
        }
    }

    fn write(&self, lba: u64, blocks: u32, fua: bool, transfer_len: u32) -> Result<Action, FixedSense> {
        if self.cfg.read_only {
            return Err(FixedSense::write_protected());
        }
        let durable = fua || !self.cfg.write_cache;
        match self.rw_range(lba, blocks, transfer_len) {
            Ok((_, 0)) => Ok(Action::Done(ScsiResult::good(0))),
            Ok((offset, len)) => Ok(Action::Write { offset, len, durable }),
            Err(e) => e.into_action(),
        }
    }

    /// SBC-3 5.22: the range (to the last block when `blocks` is zero) must be on the disk.
    fn synchronize_cache(&self, lba: u64, blocks: u32) -> Result<Action, FixedSense> {
        let end = lba.checked_add(u64::from(blocks));
        let ok = lba < self.cfg.capacity_blocks && end.is_some_and(|e| e <= self.cfg.capacity_blocks);
        if !ok {
            return Err(FixedSense::lba_out_of_range());
        }
        Ok(Action::Flush)
    }

    fn unmap(&self, anchor: bool, param_len: u16, transfer_len: u32) -> Result<Action, FixedSense> {
        if self.cfg.discard.is_none() {
            return Err(FixedSense::invalid_opcode());
        }
        if self.cfg.read_only {
            return Err(FixedSense::write_protected());
        }
        if anchor {
            return Err(FixedSense::invalid_field_in_cdb(1, Some(0)));
        }
        if param_len == 0 {
            return Ok(Action::Done(ScsiResult::good(0)));
        }
        if u32::from(param_len) > transfer_len {
            return Err(FixedSense::illegal_request(asc::PARAMETER_LIST_LENGTH_ERROR));
        }
        Ok(Action::Unmap { param_len })
    }

    fn write_same(&self, ws: WriteSame, transfer_len: u32) -> Result<Action, FixedSense> {
        let max = self.cfg.max_write_same_blocks;
        if max == 0 {
            return Err(FixedSense::invalid_opcode());
        }
        if self.cfg.read_only {
            return Err(FixedSense::write_protected());
        }
        if ws.anchor {
            return Err(FixedSense::invalid_field_in_cdb(1, Some(4)));
        }
        if ws.blocks == 0 || u64::from(ws.blocks) > max {
            return Err(FixedSense::invalid_field_in_cdb(10, None));
        }
        let block_len = self.cfg.logical_block_size;
        if !ws.ndob && transfer_len < block_len {
            return Ok(Action::Done(ScsiResult::srb_error(srb_status::DATA_OVERRUN)));
        }
        let (offset, len) = self.byte_range(ws.lba, u64::from(ws.blocks)).ok_or(FixedSense::lba_out_of_range())?;
        let unmap = ws.unmap && self.cfg.lbpme();
        Ok(Action::WriteSame { offset, len, block_len, unmap, ndob: ws.ndob })
    }

    // -- responses ------------------------------------------------------------------------

    /// REQUEST SENSE data: the pending unit attention (cleared) or NO SENSE; fixed format,
    /// or descriptor format with `desc`. Writes at most `limit` bytes; returns the count.
    pub fn request_sense(&mut self, desc: bool, out: &mut [u8], limit: usize) -> u32 {
        let sense = match self.unit_attention.take() {
            Some(ua) => FixedSense::unit_attention(ua),
            None => FixedSense::new(crate::sense::key::NO_SENSE, asc::NO_ADDITIONAL_SENSE),
        };
        if desc {
            deliver(out, &sense.to_descriptor(), limit)
        } else {
            deliver(out, sense.as_bytes(), limit)
        }
    }

    /// Standard INQUIRY data (36 bytes): direct-access device, SPC-4, HISUP, response data
    /// format 2, CMDQUE, vendor/product/revision space-padded.
    pub fn standard_inquiry(&self, out: &mut [u8], limit: usize) -> u32 {
        let mut d = [0u8; STANDARD_INQUIRY_LEN];
        d[2] = INQUIRY_VERSION_SPC4;
        d[3] = 0x10 | 0x02;
        d[4] = (STANDARD_INQUIRY_LEN - 5) as u8;
        d[7] = 0x02;
        let _ = bytes::put(&mut d, 8, &padded::<8>(self.cfg.vendor));
        let _ = bytes::put(&mut d, 16, &padded::<16>(self.cfg.product));
        let _ = bytes::put(&mut d, 32, &padded::<4>(self.cfg.revision));
        deliver(out, &d, limit)
    }

    /// The VPD pages this disk returns, ascending: the list and its length.
    pub fn supported_vpd_pages(&self) -> ([u8; 6], usize) {
        let all = [
            vpd::SUPPORTED_PAGES,
            vpd::UNIT_SERIAL_NUMBER,
            vpd::DEVICE_IDENTIFICATION,
            vpd::BLOCK_LIMITS,
            vpd::BLOCK_DEVICE_CHARACTERISTICS,
            vpd::LOGICAL_BLOCK_PROVISIONING,
        ];
        let mut list = [0u8; 6];
        let mut n = 0usize;
        for p in all.into_iter().filter(|p| *p != vpd::UNIT_SERIAL_NUMBER || !self.cfg.serial.is_empty()) {
            if bytes::put_u8(&mut list, n, p).is_some() {
                n = n.saturating_add(1);
            }
        }
        (list, n)
    }

    /// VPD page `page`; invalid field in CDB (byte 2) for a page not supported.
    pub fn vpd_page(&self, page: u8, out: &mut [u8], limit: usize) -> Result<u32, FixedSense> {
        let mut d = [0u8; RESPONSE_MAX];
        let body = bytes::tail_mut(&mut d, 4);
        let len = match page {
            vpd::SUPPORTED_PAGES => {
                let (list, n) = self.supported_vpd_pages();
                bytes::copy_truncated(body, bytes::head(&list, n))
            }
            vpd::UNIT_SERIAL_NUMBER if !self.cfg.serial.is_empty() => bytes::copy_truncated(body, self.cfg.serial),
            vpd::DEVICE_IDENTIFICATION => self.device_identification(body),
            vpd::BLOCK_LIMITS => self.block_limits(body),
            vpd::BLOCK_DEVICE_CHARACTERISTICS => self.block_characteristics(body),
            vpd::LOGICAL_BLOCK_PROVISIONING => self.provisioning(body),
            _ => return Err(FixedSense::invalid_field_in_cdb(2, None)),
        };
        d[1] = page;
        let _ = bytes::put_be16(&mut d, 2, len as u16);
        Ok(deliver(out, bytes::head(&d, len.saturating_add(4)), limit))
    }

    /// Page 0x83 body: the NAA/EUI-64 designator, then a T10 vendor ID designator
    /// (vendor, product, serial), both associated with the logical unit.
    fn device_identification(&self, body: &mut [u8]) -> usize {
        let id = self.cfg.identifier.bytes();
        let mut n = put_designator(body, 0, 0x01, self.cfg.identifier.designator_type(), &[id]);
        let vendor = padded::<8>(self.cfg.vendor);
        let product = padded::<16>(self.cfg.product);
        n = n.saturating_add(put_designator(body, n, 0x02, 0x01, &[&vendor, &product, self.cfg.serial]));
        n
    }

    /// Page 0xB0 body (60 bytes).
    fn block_limits(&self, body: &mut [u8]) -> usize {
        let c = &self.cfg;
        let per_phys = 1u16 << c.physical_block_exponent.min(15);
        let _ = bytes::put_u8(body, 0, 0x01); // WSNZ: WRITE SAME of zero blocks refused
        let _ = bytes::put_be16(body, 2, per_phys);
        let _ = bytes::put_be32(body, 4, c.max_transfer_blocks);
        let _ = bytes::put_be32(body, 8, c.optimal_transfer_blocks);
        if let Some(d) = &c.discard {
            let _ = bytes::put_be32(body, 16, d.max_unmap_lba_count);
            let _ = bytes::put_be32(body, 20, d.max_unmap_descriptors);
            let _ = bytes::put_be32(body, 24, d.granularity);
            let _ = bytes::put_be32(body, 28, 0x8000_0000 | d.alignment);
        }
        let _ = bytes::put_be64(body, 32, c.max_write_same_blocks);
        VPD_B0_B1_LEN - 4
    }

    /// Page 0xB1 body (60 bytes): medium rotation rate.
    fn block_characteristics(&self, body: &mut [u8]) -> usize {
        let _ = bytes::put_be16(body, 0, self.cfg.rotation_rate);
        VPD_B0_B1_LEN - 4
    }

    /// Page 0xB2 body (4 bytes): LBPU, LBPWS, LBPRZ, provisioning type thin.
    fn provisioning(&self, body: &mut [u8]) -> usize {
        if self.cfg.lbpme() {
            let mut b = 0x80u8;
            if self.cfg.max_write_same_blocks > 0 {
                b |= 0x40;
            }
            if self.cfg.lbprz() {
                b |= 0x04;
            }
            let _ = bytes::put_u8(body, 1, b);
            let _ = bytes::put_u8(body, 2, 0x02);
        }
        VPD_B2_LEN - 4
    }

    /// READ CAPACITY(10) data: last LBA (0xFFFFFFFF when it does not fit) and block length.
    pub fn read_capacity_10(&self, out: &mut [u8], limit: usize) -> u32 {
        let mut d = [0u8; READ_CAPACITY_10_LEN];
        let last = u32::try_from(self.cfg.last_lba()).unwrap_or(u32::MAX);
        let _ = bytes::put_be32(&mut d, 0, last);
        let _ = bytes::put_be32(&mut d, 4, self.cfg.logical_block_size);
        deliver(out, &d, limit)
    }

    /// READ CAPACITY(16) data (32 bytes): last LBA, block length, physical block exponent,
    /// LBPME/LBPRZ, lowest aligned LBA 0.
    pub fn read_capacity_16(&self, out: &mut [u8], limit: usize) -> u32 {
        let mut d = [0u8; READ_CAPACITY_16_LEN];
        let _ = bytes::put_be64(&mut d, 0, self.cfg.last_lba());
        let _ = bytes::put_be32(&mut d, 8, self.cfg.logical_block_size);
        d[13] = self.cfg.physical_block_exponent & 0x0f;
        if self.cfg.lbpme() {
            d[14] = 0x80;
            if self.cfg.lbprz() {
                d[14] |= 0x40;
            }
        }
        deliver(out, &d, limit)
    }

    /// MODE SENSE data for `sel`. Pages 0x08 (caching), 0x0A (control) and 0x3F (both);
    /// subpage 0 or 0xFF; saved values are not supported (39/00).
    pub fn mode_sense(&self, sel: &ModeSelect, out: &mut [u8], limit: usize) -> Result<u32, FixedSense> {
        if sel.pc == PageControl::Saved {
            return Err(FixedSense::illegal_request(asc::SAVING_PARAMETERS_NOT_SUPPORTED));
        }
        if sel.subpage != 0 && sel.subpage != mode_page::ALL_SUBPAGES {
            return Err(FixedSense::invalid_field_in_cdb(3, None));
        }
        let (caching, control) = match sel.page {
            mode_page::CACHING => (true, false),
            mode_page::CONTROL => (false, true),
            mode_page::ALL => (true, true),
            _ => return Err(FixedSense::invalid_field_in_cdb(2, Some(5))),
        };
        let mut d = [0u8; RESPONSE_MAX];
        let hdr: usize = if sel.ten { 8 } else { 4 };
        let mut n = hdr;
        n = n.saturating_add(self.block_descriptor(sel, bytes::tail_mut(&mut d, n)));
        let bd_len = n.saturating_sub(hdr);
        if caching {
            n = n.saturating_add(self.caching_page(sel.pc, bytes::tail_mut(&mut d, n)));
        }
        if control {
            n = n.saturating_add(self.control_page(sel.pc, bytes::tail_mut(&mut d, n)));
        }
        self.mode_header(sel.ten, &mut d, n, bd_len);
        Ok(deliver(out, bytes::head(&d, n), limit))
    }

    fn mode_header(&self, ten: bool, d: &mut [u8], total: usize, bd_len: usize) {
        let mut dev_specific = 0u8;
        if self.cfg.read_only {
            dev_specific |= 0x80;
        }
        if self.cfg.fua {
            dev_specific |= 0x10;
        }
        if ten {
            let _ = bytes::put_be16(d, 0, total.saturating_sub(2) as u16);
            let _ = bytes::put_u8(d, 3, dev_specific);
            let _ = bytes::put_u8(d, 4, u8::from(bd_len == 16));
            let _ = bytes::put_be16(d, 6, bd_len as u16);
        } else {
            let _ = bytes::put_u8(d, 0, total.saturating_sub(1) as u8);
            let _ = bytes::put_u8(d, 2, dev_specific);
            let _ = bytes::put_u8(d, 3, bd_len as u8);
        }
    }

    /// The block descriptor: none with DBD, long (16 bytes) with LLBAA, else short (8).
    fn block_descriptor(&self, sel: &ModeSelect, d: &mut [u8]) -> usize {
        let bs = self.cfg.logical_block_size;
        if sel.dbd {
            return 0;
        }
        if sel.ten && sel.llbaa {
            let _ = bytes::put_be64(d, 0, self.cfg.capacity_blocks);
            let _ = bytes::put_be32(d, 12, bs);
            return 16;
        }
        let blocks = u32::try_from(self.cfg.capacity_blocks).unwrap_or(u32::MAX);
        let _ = bytes::put_be32(d, 0, blocks);
        let _ = bytes::put_be32(d, 4, bs & 0x00ff_ffff);
        8
    }

    /// Caching page (20 bytes): WCE from the configuration; changeable mask all zero.
    fn caching_page(&self, pc: PageControl, d: &mut [u8]) -> usize {
        let _ = bytes::put_u8(d, 0, mode_page::CACHING);
        let _ = bytes::put_u8(d, 1, 0x12);
        if pc != PageControl::Changeable && self.cfg.write_cache {
            let _ = bytes::put_u8(d, 2, 0x04);
        }
        20
    }

    /// Control page (12 bytes): fixed-format sense (D_SENSE 0), unrestricted reordering,
    /// SWP when write protected; changeable mask all zero.
    fn control_page(&self, pc: PageControl, d: &mut [u8]) -> usize {
        let _ = bytes::put_u8(d, 0, mode_page::CONTROL);
        let _ = bytes::put_u8(d, 1, 0x0a);
        if pc != PageControl::Changeable {
            let _ = bytes::put_u8(d, 3, 0x10);
            if self.cfg.read_only {
                let _ = bytes::put_u8(d, 4, 0x08);
            }
        }
        12
    }
}

/// The MODE SENSE fields a response depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModeSelect {
    /// MODE SENSE(10) (8-byte header) rather than (6).
    pub ten: bool,
    /// DBD.
    pub dbd: bool,
    /// LLBAA.
    pub llbaa: bool,
    /// Page control.
    pub pc: PageControl,
    /// Page code.
    pub page: u8,
    /// Subpage code.
    pub subpage: u8,
}

#[derive(Clone, Copy)]
struct WriteSame {
    lba: u64,
    blocks: u32,
    unmap: bool,
    anchor: bool,
    ndob: bool,
}

enum RwError {
    Sense(FixedSense),
    /// The guest's buffer is smaller than the CDB's transfer.
    Overrun,
}

impl RwError {
    fn into_action(self) -> Result<Action, FixedSense> {
        match self {
            RwError::Sense(s) => Err(s),
            RwError::Overrun => Ok(Action::Done(ScsiResult::srb_error(srb_status::DATA_OVERRUN))),
        }
    }
}

/// Whether the SRB's direction fits the command: data-out commands need `Write`, data-in
/// commands `Read` (or no buffer at all); commands without data accept any direction.
fn direction_ok(cmd: &Command, dir: DataDirection, len: u32) -> bool {
    let out = match cmd {
        Command::Write { blocks, .. } => *blocks != 0,
        Command::Unmap { param_len, .. } => *param_len != 0,
        Command::WriteSame16 { ndob, .. } => !*ndob,
        _ => false,
    };
    let data_in = matches!(
        cmd,
        Command::RequestSense { .. }
            | Command::Inquiry { .. }
            | Command::ModeSense { .. }
            | Command::ReadCapacity10
            | Command::ReadCapacity16 { .. }
            | Command::Read { .. }
            | Command::ReportLuns { .. }
    );
    if out {
        dir == DataDirection::Write
    } else if data_in {
        dir == DataDirection::Read || len == 0
    } else {
        true
    }
}

/// Writes a designator at `off` of `body`: code set, association LUN + `dtype`, then the
/// concatenated `parts`. Returns its length (0 if it does not fit).
fn put_designator(body: &mut [u8], off: usize, code_set: u8, dtype: u8, parts: &[&[u8]]) -> usize {
    let len: usize = parts.iter().map(|p| p.len()).fold(0usize, usize::saturating_add);
    let Ok(len8) = u8::try_from(len) else { return 0 };
    let total = len.saturating_add(4);
    let Some(d) = bytes::sub_mut(body, off, total) else { return 0 };
    let _ = bytes::put(d, 0, &[code_set & 0x0f, dtype & 0x0f, 0, len8]);
    let mut at = 4usize;
    for p in parts {
        let _ = bytes::put(d, at, p);
        at = at.saturating_add(p.len());
    }
    total
}

/// Encodes a LUN as an 8-byte SAM-5 single-level LUN: peripheral device addressing for
/// LUNs below 256, flat space addressing up to 0x3FFF, extended well-known form for
/// `0xC1xx` (Linux `int_to_scsilun()` gives the same bytes).
pub fn encode_lun(lun: u16) -> [u8; 8] {
    let [hi, lo] = lun.to_be_bytes();
    let hi = if !(0x100..0xc000).contains(&lun) { hi } else { 0x40 | (hi & 0x3f) };
    [hi, lo, 0, 0, 0, 0, 0, 0]
}

/// REPORT LUNS parameter data (SPC-4 6.33.2) for the target's `luns`: the full LUN LIST
/// LENGTH, then 8-byte entries, as much as fits `out` (pass the allocation-length-limited
/// buffer). With select report 1 or 2 the REPORT LUNS well-known LUN is listed (alone for
/// 1). Returns the bytes written.
pub fn report_luns(luns: &[u8], select: u8, out: &mut [u8]) -> u32 {
    let wlun = select != select_report::ALL_LUNS;
    let normal = if select == select_report::WELL_KNOWN { 0 } else { luns.len() };
    let entries = normal.saturating_add(usize::from(wlun));
    let list_len = u32::try_from(entries.saturating_mul(8)).unwrap_or(u32::MAX);
    let mut header = [0u8; 8];
    let _ = bytes::put_be32(&mut header, 0, list_len);
    let mut written = bytes::copy_truncated(out, &header);
    let lun_iter = luns.iter().take(normal).map(|l| u16::from(*l));
    let all = lun_iter.chain(core::iter::once(W_LUN_REPORT_LUNS).filter(|_| wlun));
    for lun in all {
        let n = bytes::copy_truncated(bytes::tail_mut(out, written), &encode_lun(lun));
        written = written.saturating_add(n);
    }
    u32::try_from(written).unwrap_or(u32::MAX)
}
