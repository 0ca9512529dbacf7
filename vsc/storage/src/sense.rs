// SPDX-License-Identifier: GPL-2.0-only
//! Sense data (SPC-4 4.5): decoding both formats on the guest side, building fixed-format
//! sense on the host side, and the sense keys and ASC/ASCQ codes the suite uses
//! (`include/scsi/scsi_proto.h`).
//!
//! [`decode`] follows Linux's `scsi_normalize_sense()` (`drivers/scsi/scsi_common.c`) in what
//! it accepts: response codes 0x70/0x71 (fixed, current/deferred) and 0x72/0x73
//! (descriptor), any length from one byte on; a field outside the buffer, or outside the
//! additional sense length of fixed sense, reads as zero. It never indexes out of bounds.

use crate::bytes;

/// Sense keys (SPC-4 table 27; `scsi_proto.h`).
pub mod key {
    /// `NO_SENSE`.
    pub const NO_SENSE: u8 = 0x00;
    /// `RECOVERED_ERROR`.
    pub const RECOVERED_ERROR: u8 = 0x01;
    /// `NOT_READY`.
    pub const NOT_READY: u8 = 0x02;
    /// `MEDIUM_ERROR`.
    pub const MEDIUM_ERROR: u8 = 0x03;
    /// `HARDWARE_ERROR`.
    pub const HARDWARE_ERROR: u8 = 0x04;
    /// `ILLEGAL_REQUEST`.
    pub const ILLEGAL_REQUEST: u8 = 0x05;
    /// `UNIT_ATTENTION`.
    pub const UNIT_ATTENTION: u8 = 0x06;
    /// `DATA_PROTECT`.
    pub const DATA_PROTECT: u8 = 0x07;
    /// `BLANK_CHECK`.
    pub const BLANK_CHECK: u8 = 0x08;
    /// `VENDOR_SPECIFIC`.
    pub const VENDOR_SPECIFIC: u8 = 0x09;
    /// `COPY_ABORTED`.
    pub const COPY_ABORTED: u8 = 0x0a;
    /// `ABORTED_COMMAND`.
    pub const ABORTED_COMMAND: u8 = 0x0b;
    /// `VOLUME_OVERFLOW`.
    pub const VOLUME_OVERFLOW: u8 = 0x0d;
    /// `MISCOMPARE`.
    pub const MISCOMPARE: u8 = 0x0e;
    /// `COMPLETED`.
    pub const COMPLETED: u8 = 0x0f;

    /// The key's name, for logs.
    pub const fn name(k: u8) -> &'static str {
        match k & 0x0f {
            NO_SENSE => "NO SENSE",
            RECOVERED_ERROR => "RECOVERED ERROR",
            NOT_READY => "NOT READY",
            MEDIUM_ERROR => "MEDIUM ERROR",
            HARDWARE_ERROR => "HARDWARE ERROR",
            ILLEGAL_REQUEST => "ILLEGAL REQUEST",
            UNIT_ATTENTION => "UNIT ATTENTION",
            DATA_PROTECT => "DATA PROTECT",
            BLANK_CHECK => "BLANK CHECK",
            VENDOR_SPECIFIC => "VENDOR SPECIFIC",
            COPY_ABORTED => "COPY ABORTED",
            ABORTED_COMMAND => "ABORTED COMMAND",
            VOLUME_OVERFLOW => "VOLUME OVERFLOW",
            MISCOMPARE => "MISCOMPARE",
            COMPLETED => "COMPLETED",
            _ => "RESERVED",
        }
    }
}

/// Additional sense code / qualifier pairs `(ASC, ASCQ)` (SPC-4 Annex D; the `scsi_proto.h`
/// name of the ASC in each doc).
pub mod asc {
    /// ASC of "logical unit not ready" (`LOGICAL_UNIT_NOT_READY`).
    pub const LOGICAL_UNIT_NOT_READY_ASC: u8 = 0x04;
    /// ASC of the "target operating conditions have changed" family (`TARGET_CHANGED_ASC`).
    pub const TARGET_OPERATING_CONDITIONS_CHANGED: u8 = 0x3f;

    /// 00/00 no additional sense information (`NO_ADDITIONAL_SENSE`).
    pub const NO_ADDITIONAL_SENSE: (u8, u8) = (0x00, 0x00);
    /// 04/00 logical unit not ready, cause not reportable.
    pub const NOT_READY_CAUSE_NOT_REPORTABLE: (u8, u8) = (0x04, 0x00);
    /// 04/01 logical unit is in process of becoming ready.
    pub const NOT_READY_BECOMING_READY: (u8, u8) = (0x04, 0x01);
    /// 0C/00 write error (`WRITE_ERROR_ASC`).
    pub const WRITE_ERROR: (u8, u8) = (0x0c, 0x00);
    /// 11/00 unrecovered read error (`UNRECOVERED_READ_ERR`).
    pub const UNRECOVERED_READ_ERROR: (u8, u8) = (0x11, 0x00);
    /// 1A/00 parameter list length error (`PARAMETER_LIST_LENGTH_ERR`).
    pub const PARAMETER_LIST_LENGTH_ERROR: (u8, u8) = (0x1a, 0x00);
    /// 20/00 invalid command operation code (`INVALID_OPCODE`).
    pub const INVALID_COMMAND_OPCODE: (u8, u8) = (0x20, 0x00);
    /// 21/00 logical block address out of range (`LBA_OUT_OF_RANGE`).
    pub const LBA_OUT_OF_RANGE: (u8, u8) = (0x21, 0x00);
    /// 24/00 invalid field in CDB (`INVALID_FIELD_IN_CDB`).
    pub const INVALID_FIELD_IN_CDB: (u8, u8) = (0x24, 0x00);
    /// 25/00 logical unit not supported.
    pub const LOGICAL_UNIT_NOT_SUPPORTED: (u8, u8) = (0x25, 0x00);
    /// 26/00 invalid field in parameter list (`INVALID_FIELD_IN_PARAM_LIST`).
    pub const INVALID_FIELD_IN_PARAMETER_LIST: (u8, u8) = (0x26, 0x00);
    /// 27/00 write protected (`WRITE_PROTECTED`).
    pub const WRITE_PROTECTED: (u8, u8) = (0x27, 0x00);
    /// 29/00 power on, reset, or bus device reset occurred (`UA_RESET_ASC`,
    /// `POWER_ON_RESET_ASCQ`).
    pub const POWER_ON_RESET: (u8, u8) = (0x29, 0x00);
    /// 2A/01 mode parameters changed (`UA_CHANGED_ASC`, `MODE_CHANGED_ASCQ`).
    pub const MODE_PARAMETERS_CHANGED: (u8, u8) = (0x2a, 0x01);
    /// 2A/09 capacity data has changed (`UA_CHANGED_ASC`, `CAPACITY_CHANGED_ASCQ`).
    pub const CAPACITY_DATA_HAS_CHANGED: (u8, u8) = (0x2a, 0x09);
    /// 39/00 saving parameters not supported (`SAVING_PARAMS_UNSUP`).
    pub const SAVING_PARAMETERS_NOT_SUPPORTED: (u8, u8) = (0x39, 0x00);
    /// 3A/00 medium not present.
    pub const MEDIUM_NOT_PRESENT: (u8, u8) = (0x3a, 0x00);
    /// 3F/03 inquiry data has changed.
    pub const INQUIRY_DATA_HAS_CHANGED: (u8, u8) = (0x3f, 0x03);
    /// 3F/0E reported LUNs data has changed (`TARGET_CHANGED_ASC`, `LUNS_CHANGED_ASCQ`).
    pub const REPORTED_LUNS_DATA_HAS_CHANGED: (u8, u8) = (0x3f, 0x0e);
    /// 44/00 internal target failure.
    pub const INTERNAL_TARGET_FAILURE: (u8, u8) = (0x44, 0x00);
}

/// Size of Linux's per-command sense buffer (`SCSI_SENSE_BUFFERSIZE`); VSTOR carries at
/// most 0x14 bytes of it.
pub const SCSI_SENSE_BUFFERSIZE: usize = 96;
/// Response code: fixed format, current error.
pub const RESPONSE_FIXED_CURRENT: u8 = 0x70;
/// Response code: fixed format, deferred error.
pub const RESPONSE_FIXED_DEFERRED: u8 = 0x71;
/// Response code: descriptor format, current error.
pub const RESPONSE_DESC_CURRENT: u8 = 0x72;
/// Response code: descriptor format, deferred error.
pub const RESPONSE_DESC_DEFERRED: u8 = 0x73;
/// Descriptor type of the information descriptor (SPC-4 4.5.2.2).
pub const DESC_INFORMATION: u8 = 0x00;
/// Descriptor type of the sense-key specific descriptor (SPC-4 4.5.2.4).
pub const DESC_SENSE_KEY_SPECIFIC: u8 = 0x02;

/// The two sense data formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SenseFormat {
    /// Fixed format (0x70 / 0x71).
    Fixed,
    /// Descriptor format (0x72 / 0x73).
    Descriptor,
}

/// Decoded sense data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sense {
    /// Format.
    pub format: SenseFormat,
    /// A deferred error (0x71 / 0x73): it belongs to an earlier command.
    pub deferred: bool,
    /// Sense key (low four bits).
    pub key: u8,
    /// Additional sense code.
    pub asc: u8,
    /// Additional sense code qualifier.
    pub ascq: u8,
    /// The INFORMATION field when marked valid (fixed: VALID bit and bytes 3..7;
    /// descriptor: an information descriptor with its VALID bit).
    pub information: Option<u64>,
    /// The three sense-key specific bytes when SKSV is set.
    pub key_specific: Option<[u8; 3]>,
}

impl Sense {
    /// `(asc, ascq)`, to compare with the [`asc`] constants.
    pub const fn asc_ascq(&self) -> (u8, u8) {
        (self.asc, self.ascq)
    }
}

/// Why sense bytes could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SenseError {
    /// No bytes.
    Empty,
    /// Response code (byte 0 without the VALID bit) is not 0x70..=0x73.
    ResponseCode(u8),
}

impl SenseError {
    /// A short description for log lines.
    pub const fn as_str(&self) -> &'static str {
        match self {
            SenseError::Empty => "no sense data",
            SenseError::ResponseCode(_) => "unknown sense response code",
        }
    }
}

impl core::fmt::Display for SenseError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Decodes sense data of either format; see the module documentation for the tolerance.
pub fn decode(buf: &[u8]) -> Result<Sense, SenseError> {
    let first = *buf.first().ok_or(SenseError::Empty)?;
    let code = first & 0x7f;
    match code {
        RESPONSE_FIXED_CURRENT | RESPONSE_FIXED_DEFERRED => Ok(decode_fixed(buf, code == RESPONSE_FIXED_DEFERRED)),
        RESPONSE_DESC_CURRENT | RESPONSE_DESC_DEFERRED => Ok(decode_descriptor(buf, code == RESPONSE_DESC_DEFERRED)),
        _ => Err(SenseError::ResponseCode(code)),
    }
}

/// The part of fixed sense covered by the additional sense length (byte 7), as
/// `scsi_normalize_sense()` limits it; all of a buffer too short to have byte 7.
fn fixed_extent(buf: &[u8]) -> &[u8] {
    match bytes::u8_at(buf, 7) {
        Some(add) => bytes::head(buf, usize::from(add).saturating_add(8)),
        None => buf,
    }
}

fn decode_fixed(buf: &[u8], deferred: bool) -> Sense {
    let b = fixed_extent(buf);
    let byte = |off| bytes::u8_at(b, off).unwrap_or(0);
    let valid = byte(0) & 0x80 != 0;
    let information = if valid { bytes::be32_at(b, 3).map(u64::from) } else { None };
    let key_specific = bytes::array_at::<3>(b, 15).filter(|s| s[0] & 0x80 != 0);
    Sense {
        format: SenseFormat::Fixed,
        deferred,
        key: byte(2) & 0x0f,
        asc: byte(12),
        ascq: byte(13),
        information,
        key_specific,
    }
}

fn decode_descriptor(buf: &[u8], deferred: bool) -> Sense {
    let byte = |off| bytes::u8_at(buf, off).unwrap_or(0);
    let information = find_descriptor(buf, DESC_INFORMATION)
        .filter(|d| bytes::u8_at(d, 2).unwrap_or(0) & 0x80 != 0)
        .and_then(|d| bytes::be64_at(d, 4));
    let key_specific = find_descriptor(buf, DESC_SENSE_KEY_SPECIFIC)
        .and_then(|d| bytes::array_at::<3>(d, 4))
        .filter(|s| s[0] & 0x80 != 0);
    Sense {
        format: SenseFormat::Descriptor,
        deferred,
        key: byte(1) & 0x0f,
        asc: byte(2),
        ascq: byte(3),
        information,
        key_specific,
    }
}

/// Iterator over the descriptors of descriptor-format sense: each item is a whole
/// descriptor (type, additional length, body). Stops at the additional sense length, at the
/// end of the buffer, and at the first descriptor that does not fit.
#[derive(Clone, Debug)]
pub struct Descriptors<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Descriptors<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let len = bytes::u8_at(self.rest, 1)?;
        let total = usize::from(len).saturating_add(2);
        let d = bytes::sub(self.rest, 0, total);
        self.rest = match d {
            Some(_) => bytes::tail(self.rest, total),
            None => &[],
        };
        d
    }
}

/// The descriptors of descriptor-format sense (none for fixed format).
pub fn descriptors(buf: &[u8]) -> Descriptors<'_> {
    let is_desc =
        matches!(bytes::u8_at(buf, 0).map(|b| b & 0x7f), Some(RESPONSE_DESC_CURRENT | RESPONSE_DESC_DEFERRED));
    let add = if is_desc { bytes::u8_at(buf, 7).unwrap_or(0) } else { 0 };
    let area = bytes::head(bytes::tail(buf, 8), usize::from(add));
    Descriptors { rest: area }
}

/// The first descriptor of type `desc_type` (Linux `scsi_sense_desc_find()`).
pub fn find_descriptor(buf: &[u8], desc_type: u8) -> Option<&[u8]> {
    descriptors(buf).find(|d| d.first() == Some(&desc_type))
}

// ---------------------------------------------------------------------------------------
// Building (host side).

/// Fixed-format sense data, 18 bytes (SPC-4 4.5.3; Linux `scsi_build_sense_buffer(0, ..)`
/// with additional sense length 10). It fits the pre-Win8 sense buffer exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixedSense([u8; FixedSense::LEN]);

impl FixedSense {
    /// Length of fixed-format sense built here.
    pub const LEN: usize = 18;

    /// Current error with `key` and `(asc, ascq)`.
    pub const fn new(key: u8, code: (u8, u8)) -> Self {
        let mut b = [0u8; Self::LEN];
        b[0] = RESPONSE_FIXED_CURRENT;
        b[2] = key & 0x0f;
        b[7] = (Self::LEN - 8) as u8;
        b[12] = code.0;
        b[13] = code.1;
        FixedSense(b)
    }

    /// With the INFORMATION field set and marked valid (e.g. the first bad LBA).
    pub const fn with_information(self, info: u32) -> Self {
        let mut b = self.0;
        let i = info.to_be_bytes();
        b[0] |= 0x80;
        b[3] = i[0];
        b[4] = i[1];
        b[5] = i[2];
        b[6] = i[3];
        FixedSense(b)
    }

    /// With a field pointer in the sense-key specific bytes (SPC-4 4.5.2.4.2): SKSV, C/D
    /// (`in_cdb`: the CDB rather than the parameter list), and the bit when known.
    pub const fn with_field_pointer(self, in_cdb: bool, byte: u16, bit: Option<u8>) -> Self {
        let mut b = self.0;
        let mut s = 0x80u8;
        if in_cdb {
            s |= 0x40;
        }
        if let Some(bit) = bit {
            s |= 0x08 | (bit & 0x07);
        }
        let f = byte.to_be_bytes();
        b[15] = s;
        b[16] = f[0];
        b[17] = f[1];
        FixedSense(b)
    }

    /// `ILLEGAL REQUEST` with `code`.
    pub const fn illegal_request(code: (u8, u8)) -> Self {
        Self::new(key::ILLEGAL_REQUEST, code)
    }

    /// `ILLEGAL REQUEST`, invalid command operation code (20/00).
    pub const fn invalid_opcode() -> Self {
        Self::illegal_request(asc::INVALID_COMMAND_OPCODE).with_field_pointer(true, 0, None)
    }

    /// `ILLEGAL REQUEST`, invalid field in CDB (24/00) at `byte` (and `bit`).
    pub const fn invalid_field_in_cdb(byte: u16, bit: Option<u8>) -> Self {
        Self::illegal_request(asc::INVALID_FIELD_IN_CDB).with_field_pointer(true, byte, bit)
    }

    /// `ILLEGAL REQUEST`, invalid field in parameter list (26/00) at `byte`.
    pub const fn invalid_field_in_parameter_list(byte: u16) -> Self {
        Self::illegal_request(asc::INVALID_FIELD_IN_PARAMETER_LIST).with_field_pointer(false, byte, None)
    }

    /// `ILLEGAL REQUEST`, LBA out of range (21/00).
    pub const fn lba_out_of_range() -> Self {
        Self::illegal_request(asc::LBA_OUT_OF_RANGE)
    }

    /// `UNIT ATTENTION` with `code` (29/00, 2A/09, 3F/0E, ...).
    pub const fn unit_attention(code: (u8, u8)) -> Self {
        Self::new(key::UNIT_ATTENTION, code)
    }

    /// `DATA PROTECT`, write protected (27/00).
    pub const fn write_protected() -> Self {
        Self::new(key::DATA_PROTECT, asc::WRITE_PROTECTED)
    }

    /// `MEDIUM ERROR` with `code` (0C/00 write error, 11/00 unrecovered read error) and the
    /// failing LBA when it fits the fixed INFORMATION field.
    pub const fn medium_error(code: (u8, u8), lba: Option<u64>) -> Self {
        let s = Self::new(key::MEDIUM_ERROR, code);
        match lba {
            Some(l) if l <= u32::MAX as u64 => s.with_information(l as u32),
            _ => s,
        }
    }

    /// `NOT READY`, medium not present (3A/00).
    pub const fn medium_not_present() -> Self {
        Self::new(key::NOT_READY, asc::MEDIUM_NOT_PRESENT)
    }

    /// `HARDWARE ERROR`, internal target failure (44/00).
    pub const fn internal_target_failure() -> Self {
        Self::new(key::HARDWARE_ERROR, asc::INTERNAL_TARGET_FAILURE)
    }

    /// The 18 bytes.
    pub const fn as_bytes(&self) -> &[u8; Self::LEN] {
        &self.0
    }

    /// The sense key.
    pub const fn key(&self) -> u8 {
        self.0[2] & 0x0f
    }

    /// `(asc, ascq)`.
    pub const fn asc_ascq(&self) -> (u8, u8) {
        (self.0[12], self.0[13])
    }

    /// The same error in descriptor format (SPC-4 4.5.2, 8-byte header, no descriptors),
    /// for `REQUEST SENSE` with DESC set.
    pub const fn to_descriptor(&self) -> [u8; 8] {
        [RESPONSE_DESC_CURRENT, self.0[2] & 0x0f, self.0[12], self.0[13], 0, 0, 0, 0]
    }
}
