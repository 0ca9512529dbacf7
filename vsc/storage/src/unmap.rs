// SPDX-License-Identifier: GPL-2.0-only
//! The UNMAP parameter list (SBC-3 5.28.2): an 8-byte header and 16-byte block descriptors.
//!
//! ```text
//! header     0..2  UNMAP DATA LENGTH (n - 2)        descriptor  0..8   LBA
//!            2..4  BLOCK DESCRIPTOR DATA LENGTH                 8..12  NUMBER OF BLOCKS
//!            4..8  reserved                                     12..16 reserved
//! ```
//!
//! The guest builds one with [`build_param_list`] (Linux's `sd_setup_unmap_cmnd()` sends a
//! single descriptor); the host validates it completely with [`parse_param_list`] before
//! any block is touched, so an UNMAP is all-or-nothing.

use crate::bytes;
use crate::sense::{asc, FixedSense};

/// Size of the parameter list header.
pub const HEADER_LEN: usize = 8;
/// Size of one block descriptor.
pub const DESCRIPTOR_LEN: usize = 16;
/// Most descriptors a parameter list can hold (its length is a 16-bit field).
pub const MAX_DESCRIPTORS: usize = (u16::MAX as usize - HEADER_LEN) / DESCRIPTOR_LEN;

/// One range to deallocate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnmapRange {
    /// First block.
    pub lba: u64,
    /// Number of blocks (zero is allowed and does nothing).
    pub blocks: u32,
}

/// Why a parameter list was refused, each with the sense SBC-3 prescribes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnmapError {
    /// Output buffer too small, or too many ranges for one list (builder).
    BufferTooSmall,
    /// Parameter list length 1..=7 (1A/00).
    ParameterListLength(u16),
    /// Fewer data-out bytes than the parameter list length.
    ShortData {
        /// Parameter list length.
        need: usize,
        /// Bytes received.
        got: usize,
    },
    /// A header length field disagrees with the parameter list length (26/00).
    HeaderLength {
        /// Byte offset of the field.
        field: u16,
    },
    /// More descriptors than the Block Limits page allows (26/00).
    TooManyDescriptors(u32),
    /// A range goes beyond the last block (21/00).
    LbaOutOfRange {
        /// Index of the descriptor.
        index: u32,
    },
    /// The blocks of all descriptors exceed the maximum unmap LBA count (26/00).
    TooManyBlocks,
}

impl UnmapError {
    /// A short description for log lines.
    pub const fn as_str(&self) -> &'static str {
        match self {
            UnmapError::BufferTooSmall => "parameter list does not fit the buffer",
            UnmapError::ParameterListLength(_) => "parameter list length 1..7",
            UnmapError::ShortData { .. } => "data-out shorter than the parameter list length",
            UnmapError::HeaderLength { .. } => "header length inconsistent",
            UnmapError::TooManyDescriptors(_) => "too many block descriptors",
            UnmapError::LbaOutOfRange { .. } => "range beyond the last block",
            UnmapError::TooManyBlocks => "more blocks than the maximum unmap LBA count",
        }
    }

    /// The sense to answer with.
    pub const fn sense(&self) -> FixedSense {
        match self {
            UnmapError::ParameterListLength(_) => FixedSense::illegal_request(asc::PARAMETER_LIST_LENGTH_ERROR),
            UnmapError::ShortData { .. } => FixedSense::illegal_request(asc::PARAMETER_LIST_LENGTH_ERROR),
            UnmapError::LbaOutOfRange { .. } => FixedSense::lba_out_of_range(),
            UnmapError::HeaderLength { field } => FixedSense::invalid_field_in_parameter_list(*field),
            UnmapError::TooManyDescriptors(_) => FixedSense::invalid_field_in_parameter_list(2),
            UnmapError::TooManyBlocks | UnmapError::BufferTooSmall => {
                FixedSense::illegal_request(asc::INVALID_FIELD_IN_PARAMETER_LIST)
            }
        }
    }
}

impl core::fmt::Display for UnmapError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The parameter list length for `ranges` descriptors (the UNMAP CDB's field), if it fits.
pub fn param_list_len(ranges: usize) -> Option<u16> {
    let n = ranges.checked_mul(DESCRIPTOR_LEN)?.checked_add(HEADER_LEN)?;
    u16::try_from(n).ok()
}

/// Guest: writes the parameter list for `ranges` into `buf`; returns its length.
pub fn build_param_list(buf: &mut [u8], ranges: &[UnmapRange]) -> Result<usize, UnmapError> {
    let len = param_list_len(ranges.len()).ok_or(UnmapError::BufferTooSmall)?;
    let total = usize::from(len);
    let out = buf.get_mut(..total).ok_or(UnmapError::BufferTooSmall)?;
    bytes::zero(out);
    let desc_len = len.saturating_sub(HEADER_LEN as u16);
    bytes::put_be16(out, 0, len.saturating_sub(2)).ok_or(UnmapError::BufferTooSmall)?;
    bytes::put_be16(out, 2, desc_len).ok_or(UnmapError::BufferTooSmall)?;
    for (i, r) in ranges.iter().enumerate() {
        let off = HEADER_LEN.saturating_add(i.saturating_mul(DESCRIPTOR_LEN));
        bytes::put_be64(out, off, r.lba).ok_or(UnmapError::BufferTooSmall)?;
        bytes::put_be32(out, off.saturating_add(8), r.blocks).ok_or(UnmapError::BufferTooSmall)?;
    }
    Ok(total)
}

/// The limits a host checks a parameter list against (its Block Limits VPD page and
/// capacity).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnmapLimits {
    /// Number of blocks of the disk.
    pub capacity: u64,
    /// MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT.
    pub max_descriptors: u32,
    /// MAXIMUM UNMAP LBA COUNT (sum over all descriptors).
    pub max_lba_count: u32,
}

/// A validated list of ranges.
#[derive(Clone, Copy, Debug)]
pub struct UnmapRanges<'a> {
    descriptors: &'a [u8],
}

impl<'a> UnmapRanges<'a> {
    /// Number of descriptors.
    pub fn len(&self) -> usize {
        self.descriptors.len() / DESCRIPTOR_LEN
    }

    /// Whether there is nothing to unmap.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The ranges, in list order.
    pub fn iter(&self) -> impl Iterator<Item = UnmapRange> + 'a {
        self.descriptors.chunks_exact(DESCRIPTOR_LEN).map(descriptor)
    }
}

fn descriptor(d: &[u8]) -> UnmapRange {
    UnmapRange { lba: bytes::be64_at(d, 0).unwrap_or(0), blocks: bytes::be32_at(d, 8).unwrap_or(0) }
}

/// Host: validates the data-out of an UNMAP whose CDB said `param_len`.
///
/// SBC-3 rules: a length of zero transfers nothing and is not an error; 1..=7 is a
/// parameter list length error. The header's UNMAP DATA LENGTH must not exceed
/// `param_len - 2`, and the BLOCK DESCRIPTOR DATA LENGTH must fit both; a trailing partial
/// descriptor is ignored. Then the descriptor count, every range and the total block count
/// are checked.
pub fn parse_param_list<'a>(
    data: &'a [u8],
    param_len: u16,
    limits: &UnmapLimits,
) -> Result<UnmapRanges<'a>, UnmapError> {
    let plen = usize::from(param_len);
    if plen == 0 {
        return Ok(UnmapRanges { descriptors: &[] });
    }
    if plen < HEADER_LEN {
        return Err(UnmapError::ParameterListLength(param_len));
    }
    let list = bytes::sub(data, 0, plen).ok_or(UnmapError::ShortData { need: plen, got: data.len() })?;
    let descriptors = descriptor_area(list)?;
    let count = descriptors.len() / DESCRIPTOR_LEN;
    if count > usize::try_from(limits.max_descriptors).unwrap_or(usize::MAX) {
        return Err(UnmapError::TooManyDescriptors(count as u32));
    }
    let ranges = UnmapRanges { descriptors };
    check_ranges(&ranges, limits)?;
    Ok(ranges)
}

/// The descriptor bytes after the header checks, cut to whole descriptors.
fn descriptor_area(list: &[u8]) -> Result<&[u8], UnmapError> {
    let data_len = usize::from(bytes::be16_at(list, 0).unwrap_or(0));
    let desc_len = usize::from(bytes::be16_at(list, 2).unwrap_or(0));
    if data_len > list.len().saturating_sub(2) {
        return Err(UnmapError::HeaderLength { field: 0 });
    }
    if desc_len > list.len().saturating_sub(HEADER_LEN) || desc_len > data_len.saturating_sub(6) {
        return Err(UnmapError::HeaderLength { field: 2 });
    }
    let whole = desc_len - desc_len % DESCRIPTOR_LEN;
    bytes::sub(list, HEADER_LEN, whole).ok_or(UnmapError::HeaderLength { field: 2 })
}

fn check_ranges(ranges: &UnmapRanges<'_>, limits: &UnmapLimits) -> Result<(), UnmapError> {
    let mut total: u64 = 0;
    for (i, r) in ranges.iter().enumerate() {
        let end = r.lba.checked_add(u64::from(r.blocks));
        if end.is_none_or(|e| e > limits.capacity) {
            return Err(UnmapError::LbaOutOfRange { index: i as u32 });
        }
        total = total.saturating_add(u64::from(r.blocks));
    }
    if total > u64::from(limits.max_lba_count) {
        return Err(UnmapError::TooManyBlocks);
    }
    Ok(())
}
