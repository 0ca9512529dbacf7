// SPDX-License-Identifier: GPL-2.0-only
//! Host side: parsing a guest's CDB into a [`Command`].
//!
//! Dispatch is by opcode; the CDB must be at least as long as the opcode's group requires
//! (SPC-4 4.3.2). Reserved bits the guest could set (including the protection fields the
//! suite's disks do not support, and NACA/LINK in the control byte) are refused with
//! `ILLEGAL REQUEST, INVALID FIELD IN CDB` and a field pointer; unknown opcodes with
//! `INVALID COMMAND OPERATION CODE` ([`CdbError::sense`]). Capacity-dependent checks (LBA
//! range, transfer limits, supported pages) are the target's ([`crate::disk`]).

use crate::bytes;
use crate::cdb::{self, opcode, PageControl};
use crate::sense::FixedSense;

/// A parsed CDB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// TEST UNIT READY.
    TestUnitReady,
    /// REQUEST SENSE.
    RequestSense {
        /// DESC: descriptor-format sense wanted.
        desc: bool,
        /// Allocation length.
        alloc: u8,
    },
    /// INQUIRY.
    Inquiry {
        /// EVPD: a VPD page rather than standard data.
        evpd: bool,
        /// VPD page code (zero without EVPD).
        page: u8,
        /// Allocation length.
        alloc: u16,
    },
    /// MODE SENSE (6) or (10).
    ModeSense {
        /// MODE SENSE(10).
        ten: bool,
        /// DBD: no block descriptors.
        dbd: bool,
        /// LLBAA: long LBA block descriptors accepted (10 only).
        llbaa: bool,
        /// Page control.
        pc: PageControl,
        /// Page code.
        page: u8,
        /// Subpage code.
        subpage: u8,
        /// Allocation length.
        alloc: u16,
    },
    /// READ CAPACITY (10).
    ReadCapacity10,
    /// READ CAPACITY (16).
    ReadCapacity16 {
        /// Allocation length.
        alloc: u32,
    },
    /// READ (10) or (16).
    Read {
        /// First block.
        lba: u64,
        /// Number of blocks (zero: no transfer).
        blocks: u32,
        /// FUA.
        fua: bool,
    },
    /// WRITE (10) or (16).
    Write {
        /// First block.
        lba: u64,
        /// Number of blocks (zero: no transfer).
        blocks: u32,
        /// FUA: durable before completion.
        fua: bool,
    },
    /// SYNCHRONIZE CACHE (10) or (16).
    SynchronizeCache {
        /// First block.
        lba: u64,
        /// Number of blocks; zero means through the last block.
        blocks: u32,
        /// IMMED.
        immed: bool,
    },
    /// UNMAP; the block descriptors follow as data-out ([`crate::unmap`]).
    Unmap {
        /// ANCHOR.
        anchor: bool,
        /// Parameter list length.
        param_len: u16,
    },
    /// WRITE SAME (16).
    WriteSame16 {
        /// First block.
        lba: u64,
        /// Number of blocks (zero: to the end of the medium, refused when WSNZ is set).
        blocks: u32,
        /// UNMAP: deallocate if possible.
        unmap: bool,
        /// ANCHOR.
        anchor: bool,
        /// NDOB: no data-out buffer, write zeroes.
        ndob: bool,
    },
    /// REPORT LUNS.
    ReportLuns {
        /// Select report.
        select: u8,
        /// Allocation length.
        alloc: u32,
    },
    /// START STOP UNIT (accepted and ignored by disks).
    StartStopUnit {
        /// IMMED.
        immed: bool,
        /// START.
        start: bool,
        /// LOEJ.
        loej: bool,
        /// Power condition.
        power_condition: u8,
    },
}

/// Why a CDB was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CdbError {
    /// No bytes.
    Empty,
    /// Fewer bytes than the opcode's CDB length.
    TooShort {
        /// Opcode.
        opcode: u8,
        /// Length the opcode needs.
        need: usize,
        /// Length received.
        got: usize,
    },
    /// Opcode not implemented.
    UnsupportedOpcode(u8),
    /// A reserved or unsupported field is set.
    InvalidField {
        /// Byte of the field.
        byte: u16,
        /// Highest offending bit, when the field is a bit field.
        bit: Option<u8>,
    },
}

impl CdbError {
    /// A short description for log lines.
    pub const fn as_str(&self) -> &'static str {
        match self {
            CdbError::Empty => "empty CDB",
            CdbError::TooShort { .. } => "CDB shorter than its opcode needs",
            CdbError::UnsupportedOpcode(_) => "unsupported opcode",
            CdbError::InvalidField { .. } => "invalid field in CDB",
        }
    }

    /// The sense the target answers with: invalid command operation code (20/00) for an
    /// unknown opcode, invalid field in CDB (24/00) with a field pointer otherwise.
    pub const fn sense(&self) -> FixedSense {
        match self {
            CdbError::Empty | CdbError::UnsupportedOpcode(_) => FixedSense::invalid_opcode(),
            CdbError::TooShort { got, .. } => FixedSense::invalid_field_in_cdb(*got as u16, None),
            CdbError::InvalidField { byte, bit } => FixedSense::invalid_field_in_cdb(*byte, *bit),
        }
    }
}

impl core::fmt::Display for CdbError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses a CDB (the valid bytes: `SrbRequest::cdb()`).
pub fn parse(cdb: &[u8]) -> Result<Command, CdbError> {
    let op = *cdb.first().ok_or(CdbError::Empty)?;
    let c = Cdb::new(cdb, op)?;
    match op {
        opcode::TEST_UNIT_READY => {
            c.reserved(&[(1, 0xff), (2, 0xff), (3, 0xff), (4, 0xff)]).map(|()| Command::TestUnitReady)
        }
        opcode::REQUEST_SENSE => request_sense(&c),
        opcode::INQUIRY => inquiry(&c),
        opcode::MODE_SENSE_6 => mode_sense_6(&c),
        opcode::MODE_SENSE_10 => mode_sense_10(&c),
        opcode::READ_CAPACITY_10 => read_capacity_10(&c),
        opcode::SERVICE_ACTION_IN_16 => service_action_in_16(&c),
        opcode::READ_10 | opcode::WRITE_10 => rw_10(&c, op == opcode::WRITE_10),
        opcode::READ_16 | opcode::WRITE_16 => rw_16(&c, op == opcode::WRITE_16),
        opcode::SYNCHRONIZE_CACHE_10 => sync_10(&c),
        opcode::SYNCHRONIZE_CACHE_16 => sync_16(&c),
        opcode::UNMAP => unmap(&c),
        opcode::WRITE_SAME_16 => write_same_16(&c),
        opcode::REPORT_LUNS => report_luns(&c),
        opcode::START_STOP_UNIT => start_stop(&c),
        _ => Err(CdbError::UnsupportedOpcode(op)),
    }
}

/// A CDB at least as long as its opcode's group, with checked field access.
struct Cdb<'a> {
    b: &'a [u8],
}

impl<'a> Cdb<'a> {
    fn new(b: &'a [u8], op: u8) -> Result<Self, CdbError> {
        let need = cdb::group_len(op).ok_or(CdbError::UnsupportedOpcode(op))?;
        if b.len() < need {
            return Err(CdbError::TooShort { opcode: op, need, got: b.len() });
        }
        Ok(Cdb { b: bytes::head(b, need) })
    }

    fn u8(&self, off: usize) -> u8 {
        bytes::u8_at(self.b, off).unwrap_or(0)
    }

    fn be16(&self, off: usize) -> u16 {
        bytes::be16_at(self.b, off).unwrap_or(0)
    }

    fn be32(&self, off: usize) -> u32 {
        bytes::be32_at(self.b, off).unwrap_or(0)
    }

    fn be64(&self, off: usize) -> u64 {
        bytes::be64_at(self.b, off).unwrap_or(0)
    }

    fn bit(&self, off: usize, mask: u8) -> bool {
        self.u8(off) & mask != 0
    }

    /// Refuses set bits under `mask` at each `(byte, mask)`, and NACA/LINK in the control
    /// byte (the last one).
    fn reserved(&self, fields: &[(usize, u8)]) -> Result<(), CdbError> {
        let control = self.b.len().saturating_sub(1);
        for &(off, mask) in fields.iter().chain(core::iter::once(&(control, 0x05))) {
            let bad = self.u8(off) & mask;
            if bad != 0 {
                let bit = 7u8.saturating_sub(bad.leading_zeros() as u8);
                return Err(CdbError::InvalidField { byte: off as u16, bit: Some(bit) });
            }
        }
        Ok(())
    }

    fn nonzero(&self, from: usize, to: usize) -> Result<(), CdbError> {
        match (from..to).find(|&i| self.u8(i) != 0) {
            Some(i) => Err(CdbError::InvalidField { byte: i as u16, bit: None }),
            None => Ok(()),
        }
    }
}

fn request_sense(c: &Cdb<'_>) -> Result<Command, CdbError> {
    c.reserved(&[(1, 0xfe), (2, 0xff), (3, 0xff)])?;
    Ok(Command::RequestSense { desc: c.bit(1, 0x01), alloc: c.u8(4) })
}

fn inquiry(c: &Cdb<'_>) -> Result<Command, CdbError> {
    c.reserved(&[(1, 0xfe)])?;
    let evpd = c.bit(1, cdb::INQUIRY_EVPD_BIT);
    let page = c.u8(2);
    if !evpd && page != 0 {
        return Err(CdbError::InvalidField { byte: 2, bit: None });
    }
    Ok(Command::Inquiry { evpd, page, alloc: c.be16(3) })
}

fn mode_sense_6(c: &Cdb<'_>) -> Result<Command, CdbError> {
    c.reserved(&[(1, 0xf7)])?;
    Ok(Command::ModeSense {
        ten: false,
        dbd: c.bit(1, cdb::MODE_SENSE_DBD_BIT),
        llbaa: false,
        pc: PageControl::from_bits(c.u8(2) >> 6),
        page: c.u8(2) & 0x3f,
        subpage: c.u8(3),
        alloc: u16::from(c.u8(4)),
    })
}

fn mode_sense_10(c: &Cdb<'_>) -> Result<Command, CdbError> {
    c.reserved(&[(1, 0xe7), (4, 0xff), (5, 0xff), (6, 0xff)])?;
    Ok(Command::ModeSense {
        ten: true,
        dbd: c.bit(1, cdb::MODE_SENSE_DBD_BIT),
        llbaa: c.bit(1, cdb::MODE_SENSE_LLBAA_BIT),
        pc: PageControl::from_bits(c.u8(2) >> 6),
        page: c.u8(2) & 0x3f,
        subpage: c.u8(3),
        alloc: c.be16(7),
    })
}

/// READ CAPACITY(10): the LBA and PMI fields must be zero (PMI is obsolete).
fn read_capacity_10(c: &Cdb<'_>) -> Result<Command, CdbError> {
    c.reserved(&[(1, 0xff), (6, 0xff), (7, 0xff), (8, 0xff)])?;
    c.nonzero(2, 6)?;
    Ok(Command::ReadCapacity10)
}

/// SERVICE ACTION IN(16): only READ CAPACITY(16); LBA and PMI zero.
fn service_action_in_16(c: &Cdb<'_>) -> Result<Command, CdbError> {
    c.reserved(&[(1, 0xe0), (14, 0xff)])?;
    if c.u8(1) & 0x1f != cdb::SAI_READ_CAPACITY_16 {
        return Err(CdbError::InvalidField { byte: 1, bit: Some(4) });
    }
    c.nonzero(2, 10)?;
    Ok(Command::ReadCapacity16 { alloc: c.be32(10) })
}

/// READ/WRITE byte 1: RDPROTECT/WRPROTECT (7-5) unsupported, bit 2 and bit 0 reserved;
/// DPO (4), FUA (3) and FUA_NV (1) accepted.
const RW_BYTE1_RESERVED: u8 = 0xe5;

fn rw_10(c: &Cdb<'_>, write: bool) -> Result<Command, CdbError> {
    c.reserved(&[(1, RW_BYTE1_RESERVED), (6, 0xe0)])?;
    let (lba, blocks, fua) = (u64::from(c.be32(2)), u32::from(c.be16(7)), c.bit(1, cdb::FUA_BIT));
    Ok(if write { Command::Write { lba, blocks, fua } } else { Command::Read { lba, blocks, fua } })
}

fn rw_16(c: &Cdb<'_>, write: bool) -> Result<Command, CdbError> {
    c.reserved(&[(1, RW_BYTE1_RESERVED), (14, 0xe0)])?;
    let (lba, blocks, fua) = (c.be64(2), c.be32(10), c.bit(1, cdb::FUA_BIT));
    Ok(if write { Command::Write { lba, blocks, fua } } else { Command::Read { lba, blocks, fua } })
}

fn sync_10(c: &Cdb<'_>) -> Result<Command, CdbError> {
    c.reserved(&[(1, 0xf9), (6, 0xe0)])?;
    Ok(Command::SynchronizeCache {
        lba: u64::from(c.be32(2)),
        blocks: u32::from(c.be16(7)),
        immed: c.bit(1, cdb::SYNC_IMMED_BIT),
    })
}

fn sync_16(c: &Cdb<'_>) -> Result<Command, CdbError> {
    c.reserved(&[(1, 0xf9), (14, 0xe0)])?;
    Ok(Command::SynchronizeCache { lba: c.be64(2), blocks: c.be32(10), immed: c.bit(1, cdb::SYNC_IMMED_BIT) })
}

fn unmap(c: &Cdb<'_>) -> Result<Command, CdbError> {
    c.reserved(&[(1, 0xfe), (2, 0xff), (3, 0xff), (4, 0xff), (5, 0xff), (6, 0xe0)])?;
    Ok(Command::Unmap { anchor: c.bit(1, 0x01), param_len: c.be16(7) })
}

/// WRITE SAME(16) byte 1: WRPROTECT (7-5) unsupported, obsolete PBDATA/LBDATA (2-1) refused;
/// ANCHOR (4), UNMAP (3), NDOB (0) accepted.
fn write_same_16(c: &Cdb<'_>) -> Result<Command, CdbError> {
    c.reserved(&[(1, 0xe6), (14, 0xe0)])?;
    Ok(Command::WriteSame16 {
        lba: c.be64(2),
        blocks: c.be32(10),
        unmap: c.bit(1, cdb::WRITE_SAME_UNMAP_BIT),
        anchor: c.bit(1, 0x10),
        ndob: c.bit(1, 0x01),
    })
}

/// REPORT LUNS: select report 0..=2, allocation length at least 16 (SPC-4 6.33).
fn report_luns(c: &Cdb<'_>) -> Result<Command, CdbError> {
    c.reserved(&[(1, 0xff), (3, 0xff), (4, 0xff), (5, 0xff), (10, 0xff)])?;
    let select = c.u8(2);
    if select > cdb::select_report::ALL_AND_WELL_KNOWN {
        return Err(CdbError::InvalidField { byte: 2, bit: None });
    }
    let alloc = c.be32(6);
    if alloc < 16 {
        return Err(CdbError::InvalidField { byte: 6, bit: None });
    }
    Ok(Command::ReportLuns { select, alloc })
}

fn start_stop(c: &Cdb<'_>) -> Result<Command, CdbError> {
    c.reserved(&[(1, 0xfe), (2, 0xff), (3, 0xf0), (4, 0x08)])?;
    Ok(Command::StartStopUnit {
        immed: c.bit(1, 0x01),
        start: c.bit(4, 0x01),
        loej: c.bit(4, 0x02),
        power_condition: c.u8(4) >> 4,
    })
}
