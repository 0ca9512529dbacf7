// SPDX-License-Identifier: GPL-2.0-only
//! Guest side: parsers of the data-in responses the host returns, each validated against the
//! buffer (the bytes actually transferred) and the length fields inside the data, with typed
//! errors. What they read and how follows Linux's `drivers/scsi/sd.c` (`read_capacity_16`,
//! `sd_read_cache_type`, `sd_read_block_limits`, `sd_read_block_characteristics`,
//! `sd_read_block_provisioning`, `sd_discard_mode`) and `drivers/scsi/scsi_lib.c`
//! (`scsi_vpd_lun_id` designator preference), with the layouts of SPC-4 and SBC-3 cited in
//! [`crate::disk`].

use crate::bytes;
use crate::cdb::{mode_page, vpd};

/// Why a response could not be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseError {
    /// Fewer bytes than the fields read need.
    TooShort {
        /// Bytes needed.
        need: usize,
        /// Bytes available (after the data's own length field).
        got: usize,
    },
    /// A VPD page with another page code than asked for.
    WrongPage {
        /// Page asked for.
        expected: u8,
        /// Page code in the data.
        got: u8,
    },
    /// Logical block length not a power of two in 512..=4096.
    BlockSize(u32),
    /// Last LBA of all ones: the capacity does not fit 64 bits.
    Capacity,
    /// A device identification designator runs past the page.
    MalformedDesignator {
        /// Offset of the designator in the page.
        offset: usize,
    },
    /// No caching mode page in the MODE SENSE data.
    NoCachingPage,
    /// The caching page is cut before its WCE byte.
    IncompleteCachingPage,
}

impl ResponseError {
    /// A short description for log lines.
    pub const fn as_str(&self) -> &'static str {
        match self {
            ResponseError::TooShort { .. } => "response too short",
            ResponseError::WrongPage { .. } => "VPD page code mismatch",
            ResponseError::BlockSize(_) => "unsupported logical block size",
            ResponseError::Capacity => "capacity overflows",
            ResponseError::MalformedDesignator { .. } => "designator runs past the page",
            ResponseError::NoCachingPage => "no caching mode page",
            ResponseError::IncompleteCachingPage => "caching mode page incomplete",
        }
    }
}

impl core::fmt::Display for ResponseError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

fn need(buf: &[u8], n: usize) -> Result<(), ResponseError> {
    if buf.len() < n {
        return Err(ResponseError::TooShort { need: n, got: buf.len() });
    }
    Ok(())
}

/// Strips leading and trailing spaces and NULs (INQUIRY strings, serial numbers).
pub fn trim_ascii(s: &[u8]) -> &[u8] {
    let pad = |c: &u8| *c == b' ' || *c == 0;
    let start = s.iter().position(|c| !pad(c)).unwrap_or(s.len());
    let end = s.iter().rposition(|c| !pad(c)).map_or(start, |e| e.saturating_add(1));
    s.get(start..end).unwrap_or(&[])
}

// ---------------------------------------------------------------------------------------
// Standard INQUIRY.

/// Peripheral device type of a disk (`TYPE_DISK`).
pub const TYPE_DISK: u8 = 0x00;
/// Peripheral device type of a CD/DVD (`TYPE_ROM`).
pub const TYPE_ROM: u8 = 0x05;
/// Peripheral qualifier 0 with type 0x1F: no LU (`TYPE_NO_LUN` as a whole byte 0x7F is
/// qualifier 3).
pub const TYPE_NO_LUN: u8 = 0x7f;
/// Peripheral qualifier: a device is connected (`SCSI_INQ_PQ_CON`).
pub const PQ_CONNECTED: u8 = 0;
/// Peripheral qualifier: not capable of supporting a device here (`SCSI_INQ_PQ_NOT_CAP`).
pub const PQ_NOT_CAPABLE: u8 = 3;

/// Offset of the vendor in standard INQUIRY data (`INQUIRY_VENDOR_OFFSET`).
pub const INQUIRY_VENDOR_OFFSET: usize = 8;
/// Length of the vendor (`INQUIRY_VENDOR_LEN`).
pub const INQUIRY_VENDOR_LEN: usize = 8;
/// Offset of the product (`INQUIRY_MODEL_OFFSET`).
pub const INQUIRY_MODEL_OFFSET: usize = 16;
/// Length of the product (`INQUIRY_MODEL_LEN`).
pub const INQUIRY_MODEL_LEN: usize = 16;
/// Offset of the revision (`INQUIRY_REVISION_OFFSET`).
pub const INQUIRY_REVISION_OFFSET: usize = 32;
/// Length of the revision (`INQUIRY_REVISION_LEN`).
pub const INQUIRY_REVISION_LEN: usize = 4;

/// Standard INQUIRY data (SPC-4 6.6.2), the fields the guest uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StandardInquiry {
    /// Peripheral qualifier (bits 7-5 of byte 0).
    pub qualifier: u8,
    /// Peripheral device type (bits 4-0 of byte 0).
    pub device_type: u8,
    /// RMB: removable medium.
    pub removable: bool,
    /// VERSION (0x05 SPC-3, 0x06 SPC-4, ...).
    pub version: u8,
    /// Response data format (2).
    pub response_format: u8,
    /// HISUP.
    pub hisup: bool,
    /// CMDQUE: tagged command queuing.
    pub cmdque: bool,
    /// ADDITIONAL LENGTH (bytes after byte 4).
    pub additional_length: u8,
    /// T10 vendor identification (`INQUIRY_VENDOR_OFFSET`, 8 bytes).
    pub vendor: [u8; 8],
    /// Product identification (`INQUIRY_MODEL_OFFSET`, 16 bytes).
    pub product: [u8; 16],
    /// Product revision level (`INQUIRY_REVISION_OFFSET`, 4 bytes).
    pub revision: [u8; 4],
}

impl StandardInquiry {
    /// Whether a logical unit is present (qualifier 0).
    pub const fn lun_present(&self) -> bool {
        self.qualifier == PQ_CONNECTED && self.device_type != 0x1f
    }

    /// Whether it is a present direct-access device.
    pub const fn is_disk(&self) -> bool {
        self.qualifier == PQ_CONNECTED && self.device_type == TYPE_DISK
    }

    /// The vendor without padding.
    pub fn vendor_trimmed(&self) -> &[u8] {
        trim_ascii(&self.vendor)
    }

    /// The product without padding.
    pub fn product_trimmed(&self) -> &[u8] {
        trim_ascii(&self.product)
    }

    /// The revision without padding.
    pub fn revision_trimmed(&self) -> &[u8] {
        trim_ascii(&self.revision)
    }
}

/// Parses standard INQUIRY data; needs the first 36 bytes.
pub fn parse_standard_inquiry(buf: &[u8]) -> Result<StandardInquiry, ResponseError> {
    need(buf, 36)?;
    let byte = |off| bytes::u8_at(buf, off).unwrap_or(0);
    Ok(StandardInquiry {
        qualifier: byte(0) >> 5,
        device_type: byte(0) & 0x1f,
        removable: byte(1) & 0x80 != 0,
        version: byte(2),
        response_format: byte(3) & 0x0f,
        hisup: byte(3) & 0x10 != 0,
        cmdque: byte(7) & 0x02 != 0,
        additional_length: byte(4),
        vendor: bytes::array_at(buf, INQUIRY_VENDOR_OFFSET).unwrap_or([0; INQUIRY_VENDOR_LEN]),
        product: bytes::array_at(buf, INQUIRY_MODEL_OFFSET).unwrap_or([0; INQUIRY_MODEL_LEN]),
        revision: bytes::array_at(buf, INQUIRY_REVISION_OFFSET).unwrap_or([0; INQUIRY_REVISION_LEN]),
    })
}

// ---------------------------------------------------------------------------------------
// VPD pages.

/// The body of VPD page `page` (after the 4-byte header), limited by the PAGE LENGTH field
/// and by the buffer.
pub fn vpd_body(buf: &[u8], page: u8) -> Result<&[u8], ResponseError> {
    need(buf, 4)?;
    let got = bytes::u8_at(buf, 1).unwrap_or(0);
    if got != page {
        return Err(ResponseError::WrongPage { expected: page, got });
    }
    let len = usize::from(bytes::be16_at(buf, 2).unwrap_or(0));
    Ok(bytes::head(bytes::tail(buf, 4), len))
}

/// The Supported VPD Pages list (page 0x00).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SupportedPages<'a> {
    /// The page codes, as listed.
    pub pages: &'a [u8],
}

impl SupportedPages<'_> {
    /// Whether `page` is listed.
    pub fn contains(&self, page: u8) -> bool {
        self.pages.contains(&page)
    }
}

/// Parses page 0x00.
pub fn parse_supported_pages(buf: &[u8]) -> Result<SupportedPages<'_>, ResponseError> {
    Ok(SupportedPages { pages: vpd_body(buf, vpd::SUPPORTED_PAGES)? })
}

/// Parses page 0x80: the serial number without padding.
pub fn parse_unit_serial(buf: &[u8]) -> Result<&[u8], ResponseError> {
    Ok(trim_ascii(vpd_body(buf, vpd::UNIT_SERIAL_NUMBER)?))
}

/// Designator types (SPC-4 table 461).
pub mod designator_type {
    /// Vendor specific.
    pub const VENDOR_SPECIFIC: u8 = 0x0;
    /// T10 vendor ID based.
    pub const T10_VENDOR_ID: u8 = 0x1;
    /// EUI-64 based.
    pub const EUI64: u8 = 0x2;
    /// NAA.
    pub const NAA: u8 = 0x3;
    /// SCSI name string.
    pub const SCSI_NAME_STRING: u8 = 0x8;
}

/// One designator of the Device Identification page (SPC-4 7.8.6.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Designator<'a> {
    /// Protocol identifier (valid with PIV).
    pub protocol_id: u8,
    /// Code set: 1 binary, 2 ASCII, 3 UTF-8.
    pub code_set: u8,
    /// PIV.
    pub piv: bool,
    /// Association: 0 logical unit, 1 target port, 2 target device.
    pub association: u8,
    /// Designator type ([`designator_type`]).
    pub designator_type: u8,
    /// The designator bytes.
    pub id: &'a [u8],
}

impl Designator<'_> {
    /// Linux's `designator_prio()`: how good a unique LU name this is (0: unusable). SCSI
    /// name string 9, NAA 6 (registered extended) 8, EUI-64 16/12/8 bytes 7/6/3, NAA 5
    /// (registered) 5, NAA 2 (IEEE extended) 4, NAA 3 (locally assigned) 1, T10 vendor ID
    /// 1. Only LU-associated designators count.
    pub fn priority(&self) -> u8 {
        if self.association != 0 || self.id.is_empty() {
            return 0;
        }
        match self.designator_type {
            designator_type::SCSI_NAME_STRING => 9,
            designator_type::NAA => match self.id.first().map(|b| b >> 4) {
                Some(6) => 8,
                Some(5) => 5,
                Some(2) => 4,
                Some(3) => 1,
                _ => 0,
            },
            designator_type::EUI64 => match self.id.len() {
                16 => 7,
                12 => 6,
                8 => 3,
                _ => 0,
            },
            designator_type::T10_VENDOR_ID => 1,
            _ => 0,
        }
    }
}

/// Iterator over the designators of page 0x83. Yields an error (once, then stops) for a
/// designator that runs past the page.
#[derive(Clone, Debug)]
pub struct Designators<'a> {
    body: &'a [u8],
    off: usize,
}

impl<'a> Iterator for Designators<'a> {
    type Item = Result<Designator<'a>, ResponseError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = bytes::tail(self.body, self.off);
        if rest.is_empty() {
            return None;
        }
        let at = self.off;
        self.off = self.body.len();
        let hdr = bytes::array_at::<4>(rest, 0);
        let d = hdr.and_then(|h| bytes::sub(rest, 4, usize::from(h[3])).map(|id| (h, id)));
        let Some((h, id)) = d else {
            return Some(Err(ResponseError::MalformedDesignator { offset: at.saturating_add(4) }));
        };
        self.off = at.saturating_add(4).saturating_add(id.len());
        Some(Ok(Designator {
            protocol_id: h[0] >> 4,
            code_set: h[0] & 0x0f,
            piv: h[1] & 0x80 != 0,
            association: (h[1] >> 4) & 0x03,
            designator_type: h[1] & 0x0f,
            id,
        }))
    }
}

/// Parses page 0x83 into its designators.
pub fn parse_designators(buf: &[u8]) -> Result<Designators<'_>, ResponseError> {
    Ok(Designators { body: vpd_body(buf, vpd::DEVICE_IDENTIFICATION)?, off: 0 })
}

/// The best world-wide name for the LU in page 0x83 ([`Designator::priority`]; the first of
/// the best), `None` when none qualifies. A malformed designator fails the whole page.
pub fn pick_wwn(buf: &[u8]) -> Result<Option<Designator<'_>>, ResponseError> {
    let mut best: Option<Designator<'_>> = None;
    for d in parse_designators(buf)? {
        let d = d?;
        let p = d.priority();
        if p > 0 && best.is_none_or(|b| p > b.priority()) {
            best = Some(d);
        }
    }
    Ok(best)
}

/// The Block Limits page (0xB0, SBC-3 6.5.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockLimits {
    /// WSNZ: WRITE SAME with zero blocks is refused.
    pub wsnz: bool,
    /// OPTIMAL TRANSFER LENGTH GRANULARITY (blocks).
    pub optimal_granularity: u16,
    /// MAXIMUM TRANSFER LENGTH (blocks; 0: none).
    pub max_transfer: u32,
    /// OPTIMAL TRANSFER LENGTH (blocks; 0: none).
    pub optimal_transfer: u32,
    /// Whether the page had the unmap/write-same fields (64 bytes).
    pub extended: bool,
    /// MAXIMUM UNMAP LBA COUNT.
    pub max_unmap_lba_count: u32,
    /// MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT.
    pub max_unmap_descriptors: u32,
    /// OPTIMAL UNMAP GRANULARITY (blocks).
    pub unmap_granularity: u32,
    /// UNMAP GRANULARITY ALIGNMENT when UGAVALID is set.
    pub unmap_alignment: Option<u32>,
    /// MAXIMUM WRITE SAME LENGTH (blocks).
    pub max_write_same: u64,
}

impl BlockLimits {
    /// `sdkp->max_unmap_blocks`: the LBA count when both unmap counts are non-zero.
    pub const fn max_unmap_blocks(&self) -> u32 {
        if self.max_unmap_lba_count != 0 && self.max_unmap_descriptors != 0 {
            self.max_unmap_lba_count
        } else {
            0
        }
    }
}

/// Parses page 0xB0: at least 16 bytes for the transfer lengths, the rest when the page has
/// 64 (sd's rule).
pub fn parse_block_limits(buf: &[u8]) -> Result<BlockLimits, ResponseError> {
    let body = vpd_body(buf, vpd::BLOCK_LIMITS)?;
    need(body, 12).map_err(|_| ResponseError::TooShort { need: 16, got: body.len().saturating_add(4) })?;
    let be32 = |off| bytes::be32_at(body, off).unwrap_or(0);
    let mut bl = BlockLimits {
        wsnz: bytes::u8_at(body, 0).unwrap_or(0) & 0x01 != 0,
        optimal_granularity: bytes::be16_at(body, 2).unwrap_or(0),
        max_transfer: be32(4),
        optimal_transfer: be32(8),
        ..BlockLimits::default()
    };
    if body.len() >= 60 {
        bl.extended = true;
        bl.max_unmap_lba_count = be32(16);
        bl.max_unmap_descriptors = be32(20);
        bl.unmap_granularity = be32(24);
        let align = be32(28);
        bl.unmap_alignment = if align & 0x8000_0000 != 0 { Some(align & 0x7fff_ffff) } else { None };
        bl.max_write_same = bytes::be64_at(body, 32).unwrap_or(0);
    }
    Ok(bl)
}

/// The Block Device Characteristics page (0xB1, SBC-3 6.5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockCharacteristics {
    /// MEDIUM ROTATION RATE: 0 not reported, 1 non-rotating (SSD), else rpm.
    pub rotation_rate: u16,
    /// PRODUCT TYPE.
    pub product_type: u8,
    /// NOMINAL FORM FACTOR.
    pub form_factor: u8,
    /// ZONED (SBC-4; 0 when absent).
    pub zoned: u8,
}

impl BlockCharacteristics {
    /// Whether the block layer should treat the disk as non-rotational.
    pub const fn non_rotational(&self) -> bool {
        self.rotation_rate == 1
    }
}

/// Parses page 0xB1; like sd it wants more than 8 bytes.
pub fn parse_block_characteristics(buf: &[u8]) -> Result<BlockCharacteristics, ResponseError> {
    let body = vpd_body(buf, vpd::BLOCK_DEVICE_CHARACTERISTICS)?;
    need(body, 5).map_err(|_| ResponseError::TooShort { need: 9, got: body.len().saturating_add(4) })?;
    let byte = |off| bytes::u8_at(body, off).unwrap_or(0);
    Ok(BlockCharacteristics {
        rotation_rate: bytes::be16_at(body, 0).unwrap_or(0),
        product_type: byte(2),
        form_factor: byte(3) & 0x0f,
        zoned: (byte(4) >> 4) & 0x03,
    })
}

/// The Logical Block Provisioning page (0xB2, SBC-3 6.5.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Provisioning {
    /// THRESHOLD EXPONENT.
    pub threshold_exponent: u8,
    /// LBPU: UNMAP supported.
    pub lbpu: bool,
    /// LBPWS: WRITE SAME(16) with UNMAP supported.
    pub lbpws: bool,
    /// LBPWS10: WRITE SAME(10) with UNMAP supported.
    pub lbpws10: bool,
    /// LBPRZ (three bits in SBC-4; 1: deallocated blocks read zero).
    pub lbprz: u8,
    /// ANC_SUP: ANCHOR supported.
    pub anc_sup: bool,
    /// DP: a provisioning group descriptor is present.
    pub dp: bool,
    /// PROVISIONING TYPE: 0 unknown, 1 resource provisioned, 2 thin.
    pub provisioning_type: u8,
}

/// Parses page 0xB2; needs 8 bytes (sd's rule).
pub fn parse_provisioning(buf: &[u8]) -> Result<Provisioning, ResponseError> {
    let body = vpd_body(buf, vpd::LOGICAL_BLOCK_PROVISIONING)?;
    need(body, 4).map_err(|_| ResponseError::TooShort { need: 8, got: body.len().saturating_add(4) })?;
    let byte = |off| bytes::u8_at(body, off).unwrap_or(0);
    let b = byte(1);
    Ok(Provisioning {
        threshold_exponent: byte(0),
        lbpu: b & 0x80 != 0,
        lbpws: b & 0x40 != 0,
        lbpws10: b & 0x20 != 0,
        lbprz: (b >> 2) & 0x07,
        anc_sup: b & 0x02 != 0,
        dp: b & 0x01 != 0,
        provisioning_type: byte(2) & 0x07,
    })
}

// ---------------------------------------------------------------------------------------
// READ CAPACITY.

/// Capacity and geometry from READ CAPACITY (10) or (16).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capacity {
    /// RETURNED LOGICAL BLOCK ADDRESS: the last LBA.
    pub last_lba: u64,
    /// LOGICAL BLOCK LENGTH IN BYTES.
    pub block_len: u32,
    /// LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT (0 from READ CAPACITY(10)).
    pub phys_exponent: u8,
    /// LOWEST ALIGNED LOGICAL BLOCK ADDRESS.
    pub lowest_aligned: u16,
    /// LBPME: thin provisioned, discard possible.
    pub lbpme: bool,
    /// LBPRZ: deallocated blocks read zero.
    pub lbprz: bool,
    /// PROT_EN: protection information enabled (the suite's guest does not support it).
    pub prot_en: bool,
}

impl Capacity {
    /// Number of logical blocks.
    pub const fn blocks(&self) -> u64 {
        self.last_lba.saturating_add(1)
    }

    /// Capacity in bytes, if it fits 64 bits.
    pub fn bytes(&self) -> Option<u64> {
        self.blocks().checked_mul(u64::from(self.block_len))
    }

    /// Physical block size (`(1 << exponent) * block_len`), if it fits 32 bits.
    pub fn physical_block_size(&self) -> Option<u32> {
        let per = 1u32.checked_shl(u32::from(self.phys_exponent))?;
        self.block_len.checked_mul(per)
    }

    /// READ CAPACITY(10) could not express the size: ask READ CAPACITY(16).
    pub const fn needs_16(&self) -> bool {
        self.last_lba == 0xffff_ffff
    }
}

fn check_block_len(bs: u32) -> Result<(), ResponseError> {
    if !bs.is_power_of_two() || !(512..=4096).contains(&bs) {
        return Err(ResponseError::BlockSize(bs));
    }
    Ok(())
}

/// Parses READ CAPACITY(10) data (8 bytes).
pub fn parse_read_capacity_10(buf: &[u8]) -> Result<Capacity, ResponseError> {
    need(buf, 8)?;
    let last = bytes::be32_at(buf, 0).unwrap_or(0);
    let block_len = bytes::be32_at(buf, 4).unwrap_or(0);
    check_block_len(block_len)?;
    Ok(Capacity {
        last_lba: u64::from(last),
        block_len,
        phys_exponent: 0,
        lowest_aligned: 0,
        lbpme: false,
        lbprz: false,
        prot_en: false,
    })
}

/// Parses READ CAPACITY(16) data: the first 16 bytes (what sd reads of `RC16_LEN`).
pub fn parse_read_capacity_16(buf: &[u8]) -> Result<Capacity, ResponseError> {
    need(buf, 16)?;
    let last_lba = bytes::be64_at(buf, 0).unwrap_or(0);
    if last_lba == u64::MAX {
        return Err(ResponseError::Capacity);
    }
    let block_len = bytes::be32_at(buf, 8).unwrap_or(0);
    check_block_len(block_len)?;
    let byte = |off| bytes::u8_at(buf, off).unwrap_or(0);
    Ok(Capacity {
        last_lba,
        block_len,
        phys_exponent: byte(13) & 0x0f,
        lowest_aligned: (u16::from(byte(14) & 0x3f) << 8) | u16::from(byte(15)),
        lbpme: byte(14) & 0x80 != 0,
        lbprz: byte(14) & 0x80 != 0 && byte(14) & 0x40 != 0,
        prot_en: byte(12) & 0x01 != 0,
    })
}

// ---------------------------------------------------------------------------------------
// MODE SENSE.

/// MODE SENSE data: the header fields and the mode pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModeSense<'a> {
    /// MEDIUM TYPE.
    pub medium_type: u8,
    /// WP (device-specific parameter bit 7): write protected.
    pub wp: bool,
    /// DPOFUA (device-specific parameter bit 4): FUA supported.
    pub dpofua: bool,
    /// LONGLBA (MODE SENSE(10)).
    pub long_lba: bool,
    /// BLOCK DESCRIPTOR LENGTH.
    pub block_descriptor_len: u16,
    /// The mode pages (after header and block descriptors), cut to the data length.
    pub pages: &'a [u8],
}

/// Parses MODE SENSE(6) (`ten` false, 4-byte header) or (10) data. The data is limited by
/// the MODE DATA LENGTH field; block descriptors running past it leave no pages.
pub fn parse_mode_sense(buf: &[u8], ten: bool) -> Result<ModeSense<'_>, ResponseError> {
    let hdr = if ten { 8 } else { 4 };
    need(buf, hdr)?;
    let byte = |off| bytes::u8_at(buf, off).unwrap_or(0);
    let (data_len, medium_type, dev, bd_len, long_lba) = if ten {
        let dl = usize::from(bytes::be16_at(buf, 0).unwrap_or(0)).saturating_add(2);
        (dl, byte(2), byte(3), bytes::be16_at(buf, 6).unwrap_or(0), byte(4) & 0x01 != 0)
    } else {
        (usize::from(byte(0)).saturating_add(1), byte(1), byte(2), u16::from(byte(3)), false)
    };
    let data = bytes::head(buf, data_len);
    let pages = bytes::tail(data, hdr.saturating_add(usize::from(bd_len)));
    Ok(ModeSense {
        medium_type,
        wp: dev & 0x80 != 0,
        dpofua: dev & 0x10 != 0,
        long_lba,
        block_descriptor_len: bd_len,
        pages,
    })
}

/// One mode page: code, subpage and all its bytes (header included), possibly cut short by
/// the data length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModePage<'a> {
    /// PAGE CODE.
    pub code: u8,
    /// SUBPAGE CODE (0 for page_0 format).
    pub subpage: u8,
    /// The page bytes, header included.
    pub bytes: &'a [u8],
}

/// Iterator over mode pages; stops at a header that does not fit.
#[derive(Clone, Debug)]
pub struct ModePages<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for ModePages<'a> {
    type Item = ModePage<'a>;

    fn next(&mut self) -> Option<ModePage<'a>> {
        let b0 = bytes::u8_at(self.rest, 0)?;
        let spf = b0 & 0x40 != 0;
        let (subpage, total) = if spf {
            let len = bytes::be16_at(self.rest, 2)?;
            (bytes::u8_at(self.rest, 1)?, usize::from(len).saturating_add(4))
        } else {
            (0, usize::from(bytes::u8_at(self.rest, 1)?).saturating_add(2))
        };
        let page = bytes::head(self.rest, total);
        self.rest = bytes::tail(self.rest, total);
        Some(ModePage { code: b0 & 0x3f, subpage, bytes: page })
    }
}

/// Write-cache information (sd's `WCE`, `RCD`, `DPOFUA`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caching {
    /// Volatile write cache enabled (forced off when write protected, as sd does).
    pub wce: bool,
    /// Read cache disabled.
    pub rcd: bool,
    /// FUA supported.
    pub dpofua: bool,
    /// Write protected.
    pub wp: bool,
}

impl<'a> ModeSense<'a> {
    /// The pages.
    pub fn iter(&self) -> ModePages<'a> {
        ModePages { rest: self.pages }
    }

    /// The first page with `code` (any subpage 0).
    pub fn page(&self, code: u8) -> Option<ModePage<'a>> {
        self.iter().find(|p| p.code == code && p.subpage == 0)
    }

    /// The caching page's WCE/RCD with the header's DPOFUA/WP (`sd_read_cache_type()`); the
    /// page must reach its byte 2.
    pub fn caching(&self) -> Result<Caching, ResponseError> {
        let p = self.page(mode_page::CACHING).ok_or(ResponseError::NoCachingPage)?;
        let b2 = bytes::u8_at(p.bytes, 2).ok_or(ResponseError::IncompleteCachingPage)?;
        Ok(Caching { wce: b2 & 0x04 != 0 && !self.wp, rcd: b2 & 0x01 != 0, dpofua: self.dpofua, wp: self.wp })
    }
}

// ---------------------------------------------------------------------------------------
// REPORT LUNS.

/// Size of one LUN entry (`struct scsi_lun`).
pub const SCSI_LUN_SIZE: usize = 8;

/// REPORT LUNS data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReportLuns<'a> {
    /// LUN LIST LENGTH as the target reported it (bytes).
    pub list_len: u32,
    entries: &'a [u8],
}

impl<'a> ReportLuns<'a> {
    /// Number of whole entries present.
    pub fn len(&self) -> usize {
        self.entries.len() / 8
    }

    /// Whether no entry is present.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the target has more LUNs than the buffer held (ask again with a larger
    /// allocation length: `list_len + 8`).
    pub fn truncated(&self) -> bool {
        u64::from(self.list_len) > self.entries.len() as u64
    }

    /// The LUNs as Linux numbers them ([`lun_to_int`]).
    pub fn iter(&self) -> impl Iterator<Item = u64> + 'a {
        self.entries.chunks_exact(8).map(|c| lun_to_int(bytes::array_at::<8>(c, 0).unwrap_or([0; 8])))
    }
}

/// Parses REPORT LUNS data: the 8-byte header, then as many whole entries as both the list
/// length and the buffer hold.
pub fn parse_report_luns(buf: &[u8]) -> Result<ReportLuns<'_>, ResponseError> {
    need(buf, 8)?;
    let list_len = bytes::be32_at(buf, 0).unwrap_or(0);
    let avail = bytes::head(bytes::tail(buf, 8), usize::try_from(list_len).unwrap_or(usize::MAX));
    let whole = avail.len() - avail.len() % 8;
    Ok(ReportLuns { list_len, entries: bytes::head(avail, whole) })
}

/// Linux's `scsilun_to_int()`: the four 2-byte addressing levels of an 8-byte LUN, first
/// level in the low bits. A peripheral-addressed LUN `n < 256` gives `n`.
pub fn lun_to_int(l: [u8; 8]) -> u64 {
    let [a, b, c, d, e, f, g, h] = l;
    let level = |hi: u8, lo: u8| u64::from(u16::from_be_bytes([hi, lo]));
    level(a, b) | (level(c, d) << 16) | (level(e, f) << 32) | (level(g, h) << 48)
}

/// The `vmscsi_request.lun` for a LUN number, if it is a single-level LUN below 256.
pub fn lun_as_u8(lun: u64) -> Option<u8> {
    u8::try_from(lun).ok()
}

// ---------------------------------------------------------------------------------------
// Putting it together.

/// How discards are sent (`sd_discard_mode()`, without WRITE SAME(10)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiscardMode {
    /// No discard (not thin provisioned, or no usable command).
    Disabled,
    /// UNMAP.
    Unmap,
    /// WRITE SAME(16) with the UNMAP bit.
    WriteSame16,
}

/// Chooses the discard command as sd does: nothing without LBPME; without page 0xB2 UNMAP if
/// the Block Limits allow it, else WRITE SAME(16); with page 0xB2 UNMAP if LBPU and limits,
/// else WRITE SAME(16) if LBPWS, else nothing (LBPWS10 alone is not used).
pub fn discard_mode(cap: &Capacity, limits: Option<&BlockLimits>, lbp: Option<&Provisioning>) -> DiscardMode {
    if !cap.lbpme {
        return DiscardMode::Disabled;
    }
    let max_unmap = limits.map_or(0, BlockLimits::max_unmap_blocks);
    match lbp {
        None if max_unmap != 0 => DiscardMode::Unmap,
        None => DiscardMode::WriteSame16,
        Some(p) if p.lbpu && max_unmap != 0 => DiscardMode::Unmap,
        Some(p) if p.lbpws => DiscardMode::WriteSame16,
        Some(_) => DiscardMode::Disabled,
    }
}

/// sd's cap on one WRITE SAME(10) (`SD_MAX_WS10_BLOCKS`).
pub const SD_MAX_WS10_BLOCKS: u32 = 0xffff;
/// sd's cap on one discard or WRITE SAME(16) (`SD_MAX_WS16_BLOCKS`).
pub const SD_MAX_WS16_BLOCKS: u32 = 0x7f_ffff;

fn min_not_zero(a: u32, b: u32) -> u32 {
    match (a, b) {
        (0, x) | (x, 0) => x,
        (x, y) => x.min(y),
    }
}

/// Largest discard in logical blocks for `mode` (`sd_config_discard()`): the Block Limits'
/// unmap count (UNMAP) or write same length (WRITE SAME(16)), capped at
/// [`SD_MAX_WS16_BLOCKS`]; zero when disabled.
pub fn max_discard_blocks(mode: DiscardMode, limits: Option<&BlockLimits>) -> u32 {
    let bl = limits.copied().unwrap_or_default();
    match mode {
        DiscardMode::Disabled => 0,
        DiscardMode::Unmap => min_not_zero(bl.max_unmap_blocks(), SD_MAX_WS16_BLOCKS),
        DiscardMode::WriteSame16 => {
            min_not_zero(u32::try_from(bl.max_write_same).unwrap_or(u32::MAX), SD_MAX_WS16_BLOCKS)
        }
    }
}
