// SPDX-License-Identifier: GPL-2.0-only
//! VMBus packets: the descriptor every packet in a ring starts with, the packet types, and the
//! type-specific headers of transfer-page and GPA-direct packets (`include/linux/hyperv.h`).
//!
//! A packet in a ring is: the 16-byte [`PacketDescriptor`]; for some types an extension
//! (transfer-page ranges, GPA ranges) up to `offset8 * 8` bytes from the start; the payload up
//! to `len8 * 8`; then, outside `len8`, the 8-byte trailer (the packet's start offset
//! `<< 32`, Linux `prev_indices`). Lengths are multiples of 8. The structs here are
//! `#[repr(C, packed)]` as their C counterparts; fields are little-endian on the wire and
//! native on x86-64.
//!
//! The views ([`TransferPageView`], [`GpaDirectView`]) validate a received extension and
//! iterate its ranges.

use crate::bytes;
use crate::gpadl::{GpaRange, Pfns, HV_PAGE_SIZE};
use core::fmt;
use core::mem::size_of;
use zerocopy::FromBytes;
use zerocopy_derive::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// Size of [`PacketDescriptor`].
pub const DESCRIPTOR_SIZE: u32 = 16;
/// `VMBUS_PKT_TRAILER`: the `u64` after every packet in a ring.
pub const TRAILER_SIZE: u32 = 8;
/// `VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED`: the receiver must answer with a
/// `VM_PKT_COMP` carrying the same `trans_id`.
pub const FLAG_COMPLETION_REQUESTED: u16 = 1;
/// `MAX_PAGE_BUFFER_COUNT`.
pub const MAX_PAGE_BUFFER_COUNT: usize = 32;
/// `MAX_MULTIPAGE_BUFFER_COUNT`.
pub const MAX_MULTIPAGE_BUFFER_COUNT: usize = 32;
/// `VMBUS_DEFAULT_MAX_PKT_SIZE`: Linux's default inbound packet buffer.
pub const DEFAULT_MAX_PKT_SIZE: u32 = 4096;
/// Largest packet a descriptor can describe (`len8` is 16 bits).
pub const MAX_PACKET_LEN: u32 = (u16::MAX as u32) * 8;

/// `struct vmpacket_descriptor`.
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct PacketDescriptor {
    /// `type`: an `enum vmbus_packet_type` value.
    pub packet_type: u16,
    /// `offset8`: where the payload starts, in 8-byte units from the descriptor.
    pub offset8: u16,
    /// `len8`: the packet length (descriptor, extension, payload, padding) in 8-byte units.
    pub len8: u16,
    /// `flags`: [`FLAG_COMPLETION_REQUESTED`].
    pub flags: u16,
    /// `trans_id`: the request id a completion echoes.
    pub trans_id: u64,
}

/// `enum vmbus_packet_type`.
#[repr(u16)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// `VM_PKT_INVALID`.
    Invalid = 0x0,
    /// `VM_PKT_SYNCH`.
    Synch = 0x1,
    /// `VM_PKT_ADD_XFER_PAGESET`.
    AddXferPageset = 0x2,
    /// `VM_PKT_RM_XFER_PAGESET`.
    RmXferPageset = 0x3,
    /// `VM_PKT_ESTABLISH_GPADL`.
    EstablishGpadl = 0x4,
    /// `VM_PKT_TEARDOWN_GPADL`.
    TeardownGpadl = 0x5,
    /// `VM_PKT_DATA_INBAND`: the payload is the data.
    DataInband = 0x6,
    /// `VM_PKT_DATA_USING_XFER_PAGES`: ranges of a transfer page set (netvsc receive).
    DataUsingXferPages = 0x7,
    /// `VM_PKT_DATA_USING_GPADL`.
    DataUsingGpadl = 0x8,
    /// `VM_PKT_DATA_USING_GPA_DIRECT`: guest pages named by PFN (storvsc I/O).
    DataUsingGpaDirect = 0x9,
    /// `VM_PKT_CANCEL_REQUEST`.
    CancelRequest = 0xa,
    /// `VM_PKT_COMP`: a completion.
    Completion = 0xb,
    /// `VM_PKT_DATA_USING_ADDITIONAL_PKT`.
    DataUsingAdditionalPkt = 0xc,
    /// `VM_PKT_ADDITIONAL_DATA`.
    AdditionalData = 0xd,
}

impl PacketType {
    /// Every type, in numeric order.
    pub const ALL: [PacketType; 14] = [
        PacketType::Invalid,
        PacketType::Synch,
        PacketType::AddXferPageset,
        PacketType::RmXferPageset,
        PacketType::EstablishGpadl,
        PacketType::TeardownGpadl,
        PacketType::DataInband,
        PacketType::DataUsingXferPages,
        PacketType::DataUsingGpadl,
        PacketType::DataUsingGpaDirect,
        PacketType::CancelRequest,
        PacketType::Completion,
        PacketType::DataUsingAdditionalPkt,
        PacketType::AdditionalData,
    ];

    /// The type numbered `v`, if any.
    pub fn from_raw(v: u16) -> Option<PacketType> {
        PacketType::ALL.get(usize::from(v)).copied()
    }

    /// The number on the wire.
    pub const fn raw(self) -> u16 {
        self as u16
    }

    /// The C name without `VM_PKT_`, for log lines.
    pub const fn name(self) -> &'static str {
        match self {
            PacketType::Invalid => "INVALID",
            PacketType::Synch => "SYNCH",
            PacketType::AddXferPageset => "ADD_XFER_PAGESET",
            PacketType::RmXferPageset => "RM_XFER_PAGESET",
            PacketType::EstablishGpadl => "ESTABLISH_GPADL",
            PacketType::TeardownGpadl => "TEARDOWN_GPADL",
            PacketType::DataInband => "DATA_INBAND",
            PacketType::DataUsingXferPages => "DATA_USING_XFER_PAGES",
            PacketType::DataUsingGpadl => "DATA_USING_GPADL",
            PacketType::DataUsingGpaDirect => "DATA_USING_GPA_DIRECT",
            PacketType::CancelRequest => "CANCEL_REQUEST",
            PacketType::Completion => "COMP",
            PacketType::DataUsingAdditionalPkt => "DATA_USING_ADDITIONAL_PKT",
            PacketType::AdditionalData => "ADDITIONAL_DATA",
        }
    }
}

/// `struct vmtransfer_page_range`.
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct TransferPageRange {
    /// `byte_count`.
    pub byte_count: u32,
    /// `byte_offset`: into the transfer page set.
    pub byte_offset: u32,
}

/// `struct vmtransfer_page_packet_header` after its descriptor `d` (the `ranges[]` follow).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct TransferPageHeader {
    /// `xfer_pageset_id`.
    pub xfer_pageset_id: u16,
    /// `sender_owns_set`.
    pub sender_owns_set: u8,
    /// `reserved`.
    pub reserved: u8,
    /// `range_cnt`.
    pub range_cnt: u32,
}

/// `struct vmdata_gpa_direct` after its descriptor `d`, without the ranges: `reserved` and
/// `range_cnt` (the `gpa_range`s with their PFN arrays follow).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct GpaDirectHeader {
    /// `reserved`.
    pub reserved: u32,
    /// `range_cnt`.
    pub range_cnt: u32,
}

/// The fixed part of a single-range GPA-direct packet after the descriptor (`struct
/// vmbus_packet_mpb_array` / `vmbus_channel_packet_multipage_buffer` without `d` and
/// `pfn_array[]`): `reserved` 0, `rangecount` 1, then the range head. Send it followed by the
/// PFNs (`Pfns::from_slice(..).as_bytes()`) as the packet extension.
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct MultiPageBufferHeader {
    /// `reserved` and `rangecount`.
    pub header: GpaDirectHeader,
    /// `range.len`, `range.offset`.
    pub range: GpaRange,
}

impl MultiPageBufferHeader {
    /// The head of one range of `byte_count` bytes starting `byte_offset` into its first page.
    pub const fn new(byte_count: u32, byte_offset: u32) -> MultiPageBufferHeader {
        MultiPageBufferHeader { header: GpaDirectHeader { reserved: 0, range_cnt: 1 }, range: GpaRange { byte_count, byte_offset } }
    }
}

/// Why a packet extension was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketError {
    /// The extension is shorter than its fixed header.
    TooShort,
    /// `range_cnt` ranges do not fit in the extension.
    RangesBeyondHeader,
    /// A GPA range's `byte_offset` is outside its first page.
    BadByteOffset,
    /// A GPA range of zero bytes.
    EmptyRange,
    /// A GPA range's PFNs do not fit in the extension.
    PfnsBeyondHeader,
}

impl PacketError {
    /// Short text for log lines.
    pub const fn as_str(&self) -> &'static str {
        match self {
            PacketError::TooShort => "packet header shorter than its type's struct",
            PacketError::RangesBeyondHeader => "packet range count beyond its header",
            PacketError::BadByteOffset => "GPA range offset outside its first page",
            PacketError::EmptyRange => "GPA range of zero bytes",
            PacketError::PfnsBeyondHeader => "GPA range PFNs beyond the packet header",
        }
    }
}

impl fmt::Display for PacketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated transfer-page extension (`VM_PKT_DATA_USING_XFER_PAGES`, the bytes between
/// the descriptor and `offset8 * 8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TransferPageView<'a> {
    /// The fixed part.
    pub header: TransferPageHeader,
    ranges: &'a [u8],
}

impl<'a> TransferPageView<'a> {
    /// Validates `ext`: the header and `range_cnt` ranges must fit.
    pub fn parse(ext: &'a [u8]) -> Result<TransferPageView<'a>, PacketError> {
        let (header, rest) = TransferPageHeader::read_from_prefix(ext).map_err(|_| PacketError::TooShort)?;
        let need = usize::try_from(header.range_cnt)
            .ok()
            .and_then(|n| n.checked_mul(size_of::<TransferPageRange>()))
            .ok_or(PacketError::RangesBeyondHeader)?;
        let ranges = rest.get(..need).ok_or(PacketError::RangesBeyondHeader)?;
        Ok(TransferPageView { header, ranges })
    }

    /// `range_cnt`.
    pub fn range_count(&self) -> usize {
        self.ranges.len() / size_of::<TransferPageRange>()
    }

    /// Range `i`.
    pub fn range(&self, i: usize) -> Option<TransferPageRange> {
        let off = i.checked_mul(size_of::<TransferPageRange>())?;
        let b = self.ranges.get(off..)?;
        TransferPageRange::read_from_prefix(b).ok().map(|(r, _)| r)
    }

    /// The ranges in order.
    pub fn ranges(&self) -> impl Iterator<Item = TransferPageRange> + 'a {
        self.ranges.chunks_exact(size_of::<TransferPageRange>()).filter_map(|c| TransferPageRange::read_from_bytes(c).ok())
    }
}

/// One validated range of a GPA-direct packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GpaRangeView<'a> {
    /// `byte_count`, `byte_offset`.
    pub range: GpaRange,
    /// `pfn_array[]`: exactly the pages the range spans.
    pub pfns: Pfns<'a>,
}

/// A validated GPA-direct extension (`VM_PKT_DATA_USING_GPA_DIRECT`): `reserved`,
/// `range_cnt`, then the ranges, each a `gpa_range` head and as many PFNs as it spans.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GpaDirectView<'a> {
    /// `range_cnt`.
    pub range_cnt: u32,
    ranges: &'a [u8],
}

/// Splits one range off the front of `b`.
fn split_range(b: &[u8]) -> Result<(GpaRangeView<'_>, &[u8]), PacketError> {
    let (range, rest) = GpaRange::read_from_prefix(b).map_err(|_| PacketError::RangesBeyondHeader)?;
    let offset = range.byte_offset;
    if offset >= HV_PAGE_SIZE {
        return Err(PacketError::BadByteOffset);
    }
    if range.byte_count == 0 {
        return Err(PacketError::EmptyRange);
    }
    let bytes = usize::try_from(range.pfn_count()).ok().and_then(|n| n.checked_mul(8)).ok_or(PacketError::PfnsBeyondHeader)?;
    let pfns = rest.get(..bytes).ok_or(PacketError::PfnsBeyondHeader)?;
    let rest = rest.get(bytes..).unwrap_or(&[]);
    Ok((GpaRangeView { range, pfns: Pfns::from_bytes(pfns) }, rest))
}

impl<'a> GpaDirectView<'a> {
    /// Validates `ext`: every one of `range_cnt` ranges must have an in-page offset, a
    /// non-zero length and all its PFNs inside `ext`.
    pub fn parse(ext: &'a [u8]) -> Result<GpaDirectView<'a>, PacketError> {
        let (header, rest) = GpaDirectHeader::read_from_prefix(ext).map_err(|_| PacketError::TooShort)?;
        let count = header.range_cnt;
        // Each range needs at least 16 bytes, which bounds the loop by the extension size.
        if !usize::try_from(count).is_ok_and(|c| c <= rest.len() / 16) {
            return Err(PacketError::RangesBeyondHeader);
        }
        let mut cur = rest;
        let mut i = 0;
        while i < count {
            let (_, next) = split_range(cur)?;
            cur = next;
            i += 1;
        }
        let used = rest.len().saturating_sub(cur.len());
        Ok(GpaDirectView { range_cnt: count, ranges: rest.get(..used).unwrap_or(&[]) })
    }

    /// The ranges in order.
    pub fn ranges(&self) -> GpaRanges<'a> {
        GpaRanges { rest: self.ranges, left: self.range_cnt }
    }

    /// Total bytes described by all ranges.
    pub fn total_bytes(&self) -> u64 {
        self.ranges().map(|r| u64::from(r.range.byte_count)).sum()
    }
}

/// Iterator over the ranges of a [`GpaDirectView`].
#[derive(Clone, Debug)]
pub struct GpaRanges<'a> {
    rest: &'a [u8],
    left: u32,
}

impl<'a> Iterator for GpaRanges<'a> {
    type Item = GpaRangeView<'a>;
    fn next(&mut self) -> Option<GpaRangeView<'a>> {
        if self.left == 0 {
            return None;
        }
        let (r, rest) = split_range(self.rest).ok()?;
        self.rest = rest;
        self.left -= 1;
        Some(r)
    }
}

/// Reads the descriptor at the start of `packet` (a raw packet copied out of a ring).
pub fn read_descriptor(packet: &[u8]) -> Option<PacketDescriptor> {
    PacketDescriptor::read_from_prefix(packet).ok().map(|(d, _)| d)
}

/// The trailer value for a packet that starts at ring offset `start` (`prev_indices`).
pub const fn trailer(start: u32) -> u64 {
    (start as u64) << 32
}

/// The packet length (descriptor, extension, payload, padding) for an extension of `ext_len`
/// and a payload of `payload_len` bytes, if a descriptor can describe it.
pub fn packet_len(ext_len: u32, payload_len: u32) -> Option<u32> {
    let l = DESCRIPTOR_SIZE.checked_add(ext_len)?.checked_add(payload_len)?;
    let l = bytes::align8(l)?;
    (l <= MAX_PACKET_LEN).then_some(l)
}
