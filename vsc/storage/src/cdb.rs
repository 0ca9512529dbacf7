// SPDX-License-Identifier: GPL-2.0-only
//! Command descriptor blocks the guest issues: opcodes (`include/scsi/scsi_proto.h`), VPD and
//! mode page codes, and builders (guest side) that produce a zero-padded 16-byte CDB with its
//! length, ready for `vmscsi_request.cdb`. The host parses CDBs with
//! [`crate::command::parse`].
//!
//! Field layouts are from SPC-4 (INQUIRY 6.6, MODE SENSE 6.13/6.14, REPORT LUNS 6.33,
//! REQUEST SENSE 6.39, TEST UNIT READY 6.47) and SBC-3 (READ 5.11/5.13, READ CAPACITY
//! 5.15/5.16, SYNCHRONIZE CACHE 5.22/5.23, UNMAP 5.28, WRITE 5.32/5.34, WRITE SAME(16) 5.42).
//! All multi-byte CDB fields are big-endian.

use crate::bytes;

/// SCSI operation codes (`scsi_proto.h` names in the docs).
pub mod opcode {
    /// `TEST_UNIT_READY`.
    pub const TEST_UNIT_READY: u8 = 0x00;
    /// `REQUEST_SENSE`.
    pub const REQUEST_SENSE: u8 = 0x03;
    /// `READ_6` (not issued; refused by the host).
    pub const READ_6: u8 = 0x08;
    /// `WRITE_6` (not issued; refused by the host).
    pub const WRITE_6: u8 = 0x0a;
    /// `INQUIRY`.
    pub const INQUIRY: u8 = 0x12;
    /// `MODE_SELECT` (6).
    pub const MODE_SELECT_6: u8 = 0x15;
    /// `MODE_SENSE` (6).
    pub const MODE_SENSE_6: u8 = 0x1a;
    /// `START_STOP` (START STOP UNIT).
    pub const START_STOP_UNIT: u8 = 0x1b;
    /// `ALLOW_MEDIUM_REMOVAL` (PREVENT ALLOW MEDIUM REMOVAL).
    pub const ALLOW_MEDIUM_REMOVAL: u8 = 0x1e;
    /// `READ_CAPACITY` (10).
    pub const READ_CAPACITY_10: u8 = 0x25;
    /// `READ_10`.
    pub const READ_10: u8 = 0x28;
    /// `WRITE_10`.
    pub const WRITE_10: u8 = 0x2a;
    /// `VERIFY` (10).
    pub const VERIFY_10: u8 = 0x2f;
    /// `SYNCHRONIZE_CACHE` (10).
    pub const SYNCHRONIZE_CACHE_10: u8 = 0x35;
    /// `WRITE_SAME` (10).
    pub const WRITE_SAME_10: u8 = 0x41;
    /// `UNMAP`.
    pub const UNMAP: u8 = 0x42;
    /// `MODE_SELECT_10`.
    pub const MODE_SELECT_10: u8 = 0x55;
    /// `MODE_SENSE_10`.
    pub const MODE_SENSE_10: u8 = 0x5a;
    /// `PERSISTENT_RESERVE_IN`.
    pub const PERSISTENT_RESERVE_IN: u8 = 0x5e;
    /// `PERSISTENT_RESERVE_OUT`.
    pub const PERSISTENT_RESERVE_OUT: u8 = 0x5f;
    /// `VARIABLE_LENGTH_CMD` (32-byte CDBs; never fits a `vmscsi_request`).
    pub const VARIABLE_LENGTH_CMD: u8 = 0x7f;
    /// `ATA_16` (ATA pass-through).
    pub const ATA_16: u8 = 0x85;
    /// `READ_16`.
    pub const READ_16: u8 = 0x88;
    /// `WRITE_16`.
    pub const WRITE_16: u8 = 0x8a;
    /// `VERIFY_16`.
    pub const VERIFY_16: u8 = 0x8f;
    /// `SYNCHRONIZE_CACHE_16`.
    pub const SYNCHRONIZE_CACHE_16: u8 = 0x91;
    /// `WRITE_SAME_16`.
    pub const WRITE_SAME_16: u8 = 0x93;
    /// `SERVICE_ACTION_IN_16` (READ CAPACITY(16) with [`super::SAI_READ_CAPACITY_16`]).
    pub const SERVICE_ACTION_IN_16: u8 = 0x9e;
    /// `REPORT_LUNS`.
    pub const REPORT_LUNS: u8 = 0xa0;
    /// `ATA_12` (ATA pass-through).
    pub const ATA_12: u8 = 0xa1;
    /// `MAINTENANCE_IN`.
    pub const MAINTENANCE_IN: u8 = 0xa3;
    /// `READ_12`.
    pub const READ_12: u8 = 0xa8;
    /// `WRITE_12`.
    pub const WRITE_12: u8 = 0xaa;
}

/// `SAI_READ_CAPACITY_16`: service action of READ CAPACITY(16).
pub const SAI_READ_CAPACITY_16: u8 = 0x10;

/// VPD page codes (SPC-4 7.8, SBC-3 6.5).
pub mod vpd {
    /// Supported VPD pages.
    pub const SUPPORTED_PAGES: u8 = 0x00;
    /// Unit serial number.
    pub const UNIT_SERIAL_NUMBER: u8 = 0x80;
    /// Device identification.
    pub const DEVICE_IDENTIFICATION: u8 = 0x83;
    /// Block limits (SBC-3 6.5.3).
    pub const BLOCK_LIMITS: u8 = 0xb0;
    /// Block device characteristics (SBC-3 6.5.2).
    pub const BLOCK_DEVICE_CHARACTERISTICS: u8 = 0xb1;
    /// Logical block provisioning (SBC-3 6.5.4).
    pub const LOGICAL_BLOCK_PROVISIONING: u8 = 0xb2;
}

/// Mode page codes (SPC-4 7.5, SBC-3 6.4).
pub mod mode_page {
    /// Caching mode page (SBC-3 6.4.5): WCE, RCD.
    pub const CACHING: u8 = 0x08;
    /// Control mode page (SPC-4 7.5.8).
    pub const CONTROL: u8 = 0x0a;
    /// Return all pages.
    pub const ALL: u8 = 0x3f;
    /// Subpage code: all subpages.
    pub const ALL_SUBPAGES: u8 = 0xff;
}

/// MODE SENSE page control (PC) field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageControl {
    /// 00b: current values.
    Current,
    /// 01b: changeable values (a mask).
    Changeable,
    /// 10b: default values.
    Default,
    /// 11b: saved values.
    Saved,
}

impl PageControl {
    /// From the two-bit field.
    pub const fn from_bits(b: u8) -> Self {
        match b & 3 {
            0 => PageControl::Current,
            1 => PageControl::Changeable,
            2 => PageControl::Default,
            _ => PageControl::Saved,
        }
    }

    /// The two-bit field.
    pub const fn bits(self) -> u8 {
        match self {
            PageControl::Current => 0,
            PageControl::Changeable => 1,
            PageControl::Default => 2,
            PageControl::Saved => 3,
        }
    }
}

/// REPORT LUNS select report field (SPC-4 6.33).
pub mod select_report {
    /// Logical units with a logical unit conglomerate... in practice: all ordinary LUNs.
    pub const ALL_LUNS: u8 = 0x00;
    /// Well-known LUNs only.
    pub const WELL_KNOWN: u8 = 0x01;
    /// All LUNs including well-known ones.
    pub const ALL_AND_WELL_KNOWN: u8 = 0x02;
}

/// Bit 3 of READ/WRITE(10/16) byte 1: force unit access.
pub const FUA_BIT: u8 = 0x08;
/// Bit 3 of WRITE SAME(16) byte 1 (SBC-3): unmap the blocks if possible.
pub const WRITE_SAME_UNMAP_BIT: u8 = 0x08;
/// Bit 1 of SYNCHRONIZE CACHE byte 1: return before the cache is flushed.
pub const SYNC_IMMED_BIT: u8 = 0x02;
/// Bit 3 of MODE SENSE byte 1: disable block descriptors.
pub const MODE_SENSE_DBD_BIT: u8 = 0x08;
/// Bit 4 of MODE SENSE(10) byte 1: long LBA block descriptors accepted.
pub const MODE_SENSE_LLBAA_BIT: u8 = 0x10;
/// Bit 0 of INQUIRY byte 1: vital product data.
pub const INQUIRY_EVPD_BIT: u8 = 0x01;

/// Allocation length Linux's sd uses for READ CAPACITY(16) (`RC16_LEN` in `sd.c`).
pub const RC16_LEN: u32 = 32;
/// sd's buffer for MODE SENSE and VPD data (`SD_BUF_SIZE`), a sensible allocation length.
pub const SD_BUF_SIZE: u16 = 512;
/// Allocation length for standard INQUIRY data that covers vendor, product and revision.
pub const INQUIRY_STANDARD_LEN: u16 = 36;

/// A CDB: up to 16 bytes, zero-padded, and its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cdb {
    bytes: [u8; 16],
    len: u8,
}

impl Cdb {
    fn new(len: u8, opcode: u8) -> Self {
        let mut bytes = [0u8; 16];
        bytes[0] = opcode;
        Cdb { bytes, len }
    }

    fn set(mut self, off: usize, v: u8) -> Self {
        let _ = bytes::put_u8(&mut self.bytes, off, v);
        self
    }

    fn be16(mut self, off: usize, v: u16) -> Self {
        let _ = bytes::put_be16(&mut self.bytes, off, v);
        self
    }

    fn be32(mut self, off: usize, v: u32) -> Self {
        let _ = bytes::put_be32(&mut self.bytes, off, v);
        self
    }

    fn be64(mut self, off: usize, v: u64) -> Self {
        let _ = bytes::put_be64(&mut self.bytes, off, v);
        self
    }

    /// The valid bytes.
    pub fn as_bytes(&self) -> &[u8] {
        bytes::head(&self.bytes, usize::from(self.len))
    }

    /// All 16 bytes (zero beyond the length), as `vmscsi_request.cdb` holds them.
    pub const fn raw(&self) -> &[u8; 16] {
        &self.bytes
    }

    /// The CDB length (6, 10, 12 or 16).
    pub const fn len(&self) -> u8 {
        self.len
    }

    /// Never true; here for the `len`/`is_empty` convention.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The opcode.
    pub const fn opcode(&self) -> u8 {
        self.bytes[0]
    }
}

/// TEST UNIT READY (6).
pub fn test_unit_ready() -> Cdb {
    Cdb::new(6, opcode::TEST_UNIT_READY)
}

/// REQUEST SENSE (6), fixed format, `alloc` bytes.
pub fn request_sense(alloc: u8) -> Cdb {
    Cdb::new(6, opcode::REQUEST_SENSE).set(4, alloc)
}

/// Standard INQUIRY (6) for `alloc` bytes.
pub fn inquiry(alloc: u16) -> Cdb {
    Cdb::new(6, opcode::INQUIRY).be16(3, alloc)
}

/// INQUIRY (6) for VPD `page` (EVPD set), `alloc` bytes.
pub fn inquiry_vpd(page: u8, alloc: u16) -> Cdb {
    Cdb::new(6, opcode::INQUIRY).set(1, INQUIRY_EVPD_BIT).set(2, page).be16(3, alloc)
}

/// READ CAPACITY (10).
pub fn read_capacity_10() -> Cdb {
    Cdb::new(10, opcode::READ_CAPACITY_10)
}

/// READ CAPACITY (16) (SERVICE ACTION IN(16), service action 0x10), `alloc` bytes
/// ([`RC16_LEN`] as sd does).
pub fn read_capacity_16(alloc: u32) -> Cdb {
    Cdb::new(16, opcode::SERVICE_ACTION_IN_16).set(1, SAI_READ_CAPACITY_16).be32(10, alloc)
}

/// READ (10): `blocks` logical blocks at `lba`; `fua` forces the read from the medium.
pub fn read_10(lba: u32, blocks: u16, fua: bool) -> Cdb {
    Cdb::new(10, opcode::READ_10).set(1, fua_bits(fua)).be32(2, lba).be16(7, blocks)
}

/// READ (16).
pub fn read_16(lba: u64, blocks: u32, fua: bool) -> Cdb {
    Cdb::new(16, opcode::READ_16).set(1, fua_bits(fua)).be64(2, lba).be32(10, blocks)
}

/// WRITE (10); `fua` makes the write durable before completion.
pub fn write_10(lba: u32, blocks: u16, fua: bool) -> Cdb {
    Cdb::new(10, opcode::WRITE_10).set(1, fua_bits(fua)).be32(2, lba).be16(7, blocks)
}

/// WRITE (16).
pub fn write_16(lba: u64, blocks: u32, fua: bool) -> Cdb {
    Cdb::new(16, opcode::WRITE_16).set(1, fua_bits(fua)).be64(2, lba).be32(10, blocks)
}

fn fua_bits(fua: bool) -> u8 {
    if fua {
        FUA_BIT
    } else {
        0
    }
}

/// Read or write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rw {
    /// READ.
    Read,
    /// WRITE.
    Write,
}

/// READ or WRITE with the smallest CDB that holds the range, as sd does
/// (`sd_setup_read_write_cmnd()`): (10) when the LBA fits 32 bits and the count 16 bits and
/// `use_16` (set for disks of more than 2^32 blocks) is off, else (16).
pub fn read_write(rw: Rw, lba: u64, blocks: u32, fua: bool, use_16: bool) -> Cdb {
    let small = (u32::try_from(lba), u16::try_from(blocks));
    match (rw, small, use_16) {
        (Rw::Read, (Ok(l), Ok(n)), false) => read_10(l, n, fua),
        (Rw::Write, (Ok(l), Ok(n)), false) => write_10(l, n, fua),
        (Rw::Read, _, _) => read_16(lba, blocks, fua),
        (Rw::Write, _, _) => write_16(lba, blocks, fua),
    }
}

/// SYNCHRONIZE CACHE (10) of `blocks` at `lba` (both zero: the whole medium, as sd sends it).
pub fn synchronize_cache_10(lba: u32, blocks: u16) -> Cdb {
    Cdb::new(10, opcode::SYNCHRONIZE_CACHE_10).be32(2, lba).be16(7, blocks)
}

/// SYNCHRONIZE CACHE (16).
pub fn synchronize_cache_16(lba: u64, blocks: u32) -> Cdb {
    Cdb::new(16, opcode::SYNCHRONIZE_CACHE_16).be64(2, lba).be32(10, blocks)
}

/// UNMAP (10) with a parameter list of `param_len` bytes ([`crate::unmap::param_list_len`]).
pub fn unmap(param_len: u16) -> Cdb {
    Cdb::new(10, opcode::UNMAP).be16(7, param_len)
}

/// WRITE SAME (16) of `blocks` at `lba` from one block of data-out; with `unmap` the target
/// may deallocate the blocks instead (discard / write zeroes with LBPRZ).
pub fn write_same_16(lba: u64, blocks: u32, unmap: bool) -> Cdb {
    let b1 = if unmap { WRITE_SAME_UNMAP_BIT } else { 0 };
    Cdb::new(16, opcode::WRITE_SAME_16).set(1, b1).be64(2, lba).be32(10, blocks)
}

/// REPORT LUNS (12) with `select` ([`select_report`]) and `alloc` bytes (at least 16).
pub fn report_luns(select: u8, alloc: u32) -> Cdb {
    Cdb::new(12, opcode::REPORT_LUNS).set(2, select).be32(6, alloc)
}

/// MODE SENSE (6) of `page`/`subpage` with page control `pc`; `dbd` suppresses block
/// descriptors.
pub fn mode_sense_6(dbd: bool, pc: PageControl, page: u8, subpage: u8, alloc: u8) -> Cdb {
    let b1 = if dbd { MODE_SENSE_DBD_BIT } else { 0 };
    Cdb::new(6, opcode::MODE_SENSE_6).set(1, b1).set(2, (pc.bits() << 6) | (page & 0x3f)).set(3, subpage).set(4, alloc)
}

/// MODE SENSE (10); `llbaa` accepts long (16-byte) block descriptors.
pub fn mode_sense_10(dbd: bool, llbaa: bool, pc: PageControl, page: u8, subpage: u8, alloc: u16) -> Cdb {
    let mut b1 = if dbd { MODE_SENSE_DBD_BIT } else { 0 };
    if llbaa {
        b1 |= MODE_SENSE_LLBAA_BIT;
    }
    Cdb::new(10, opcode::MODE_SENSE_10)
        .set(1, b1)
        .set(2, (pc.bits() << 6) | (page & 0x3f))
        .set(3, subpage)
        .be16(7, alloc)
}

/// The CDB length an opcode's group implies (SPC-4 4.3.2; Linux `COMMAND_SIZE()`), or
/// `None` for the variable-length and reserved groups.
pub const fn group_len(opcode: u8) -> Option<usize> {
    match opcode >> 5 {
        0 => Some(6),
        1 | 2 => Some(10),
        4 => Some(16),
        5 => Some(12),
        _ => None,
    }
}
