// SPDX-License-Identifier: GPL-2.0-only
//! GUIDs as VMBus carries them, and the device classes Linux knows.
//!
//! A [`Guid`] is Linux's `guid_t` (`include/linux/uuid.h`): 16 bytes in Microsoft's
//! mixed-endian layout. `GUID_INIT(a, b, c, d0, ..., d7)` stores `a` (32 bits), `b` and `c`
//! (16 bits each) little-endian, then the eight bytes `d0..d7` as they are. The text form
//! `aaaaaaaa-bbbb-cccc-d0d1-d2d3d4d5d6d7` (Linux `%pUl`) prints the three fields as numbers,
//! so it reads differently from the byte order in memory; [`Guid::from_fields`] and
//! [`Guid::parse`] take the text's view, [`Guid::as_bytes`] gives the wire bytes.
//!
//! The device class constants are the `HV_*_GUID` definitions of `include/linux/hyperv.h`;
//! [`ECHO`] is this suite's own test device.

use core::fmt;
use zerocopy_derive::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// A GUID in Hyper-V's mixed-endian wire layout (Linux `guid_t`, 16 bytes, alignment 1).
#[repr(C)]
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct Guid {
    b: [u8; 16],
}

/// Why a GUID text or a modalias buffer was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuidError {
    /// The text is not 36 characters (or 38 with braces).
    BadLength,
    /// A character that should be a hex digit is not one.
    BadDigit,
    /// A `-` is missing at one of the four separator positions.
    BadSeparator,
    /// The output buffer is shorter than [`MODALIAS_LEN`].
    BufferTooSmall,
}

impl GuidError {
    /// Short text for log lines.
    pub const fn as_str(&self) -> &'static str {
        match self {
            GuidError::BadLength => "GUID text is not 36 characters",
            GuidError::BadDigit => "GUID text has a non-hex digit",
            GuidError::BadSeparator => "GUID text lacks a '-' separator",
            GuidError::BufferTooSmall => "buffer too small for the modalias",
        }
    }
}

impl fmt::Display for GuidError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Length of a modalias `vmbus:` + 32 hex digits, without terminator.
pub const MODALIAS_LEN: usize = 6 + 32;

/// The lower-case hex digit of the nibble `n & 0xf`.
const fn hex_digit(n: u8) -> u8 {
    let n = n & 0xf;
    if n < 10 {
        b'0' + n
    } else {
        b'a' + (n - 10)
    }
}

const fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Reads `n` (at most 16) hex digits from the front of `s`.
const fn take_hex(s: &[u8], n: u32) -> Result<(u64, &[u8]), GuidError> {
    let mut v = 0u64;
    let mut i = 0;
    let mut rest = s;
    while i < n {
        match rest {
            [c, tail @ ..] => {
                let d = match hex_value(*c) {
                    Some(d) => d,
                    None => return Err(GuidError::BadDigit),
                };
                v = (v << 4) | d as u64;
                rest = tail;
            }
            [] => return Err(GuidError::BadLength),
        }
        i += 1;
    }
    Ok((v, rest))
}

/// Consumes one `-` from the front of `s`.
const fn take_dash(s: &[u8]) -> Result<&[u8], GuidError> {
    match s {
        [b'-', tail @ ..] => Ok(tail),
        _ => Err(GuidError::BadSeparator),
    }
}

impl Guid {
    /// The all-zero GUID (Linux `guid_null`).
    pub const NIL: Guid = Guid { b: [0; 16] };

    /// The GUID Linux's `GUID_INIT(d1, d2, d3, d4[0], ..., d4[7])` builds: `d1`, `d2`, `d3`
    /// little-endian, then `d4` as is.
    pub const fn from_fields(d1: u32, d2: u16, d3: u16, d4: [u8; 8]) -> Guid {
        let a = d1.to_le_bytes();
        let b = d2.to_le_bytes();
        let c = d3.to_le_bytes();
        Guid { b: [a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d4[0], d4[1], d4[2], d4[3], d4[4], d4[5], d4[6], d4[7]] }
    }

    /// The GUID whose wire bytes are `b`.
    pub const fn from_bytes(b: [u8; 16]) -> Guid {
        Guid { b }
    }

    /// The 16 wire bytes.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.b
    }

    /// The first field (printed first, stored little-endian).
    pub const fn data1(&self) -> u32 {
        u32::from_le_bytes([self.b[0], self.b[1], self.b[2], self.b[3]])
    }

    /// The second field.
    pub const fn data2(&self) -> u16 {
        u16::from_le_bytes([self.b[4], self.b[5]])
    }

    /// The third field.
    pub const fn data3(&self) -> u16 {
        u16::from_le_bytes([self.b[6], self.b[7]])
    }

    /// The last eight bytes, in wire (and text) order.
    pub const fn data4(&self) -> [u8; 8] {
        [self.b[8], self.b[9], self.b[10], self.b[11], self.b[12], self.b[13], self.b[14], self.b[15]]
    }

    /// Is this the all-zero GUID?
    pub const fn is_nil(&self) -> bool {
        u128::from_le_bytes(self.b) == 0
    }

    /// Parses the text form `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (either case, optionally in
    /// braces). Usable in `const` items:
    /// `const G: Guid = match Guid::parse("...") { Ok(g) => g, Err(_) => Guid::NIL };`.
    pub const fn parse(s: &str) -> Result<Guid, GuidError> {
        let t = s.as_bytes();
        let body = match t {
            [b'{', inner @ .., b'}'] => inner,
            _ => t,
        };
        if body.len() != 36 {
            return Err(GuidError::BadLength);
        }
        let (d1, r) = match take_hex(body, 8) {
            Ok(x) => x,
            Err(e) => return Err(e),
        };
        let r = match take_dash(r) {
            Ok(r) => r,
            Err(e) => return Err(e),
        };
        let (d2, r) = match take_hex(r, 4) {
            Ok(x) => x,
            Err(e) => return Err(e),
        };
        let r = match take_dash(r) {
            Ok(r) => r,
            Err(e) => return Err(e),
        };
        let (d3, r) = match take_hex(r, 4) {
            Ok(x) => x,
            Err(e) => return Err(e),
        };
        let r = match take_dash(r) {
            Ok(r) => r,
            Err(e) => return Err(e),
        };
        let (d4a, r) = match take_hex(r, 4) {
            Ok(x) => x,
            Err(e) => return Err(e),
        };
        let r = match take_dash(r) {
            Ok(r) => r,
            Err(e) => return Err(e),
        };
        let (d4b, r) = match take_hex(r, 12) {
            Ok(x) => x,
            Err(e) => return Err(e),
        };
        if !r.is_empty() {
            return Err(GuidError::BadLength);
        }
        // d4 is the 64-bit number d4a:d4b printed big-endian.
        let d4 = ((d4a << 48) | d4b).to_be_bytes();
        Ok(Guid::from_fields(d1 as u32, d2 as u16, d3 as u16, d4))
    }

    /// Writes the modalias Linux's `hv_vmbus` reports for a device of this class
    /// (`drivers/hv/vmbus_drv.c: modalias_show()`, `"vmbus:%*phN"`): `vmbus:` and the 16 wire
    /// bytes as 32 lower-case hex digits, in memory order. Returns [`MODALIAS_LEN`]. No
    /// newline and no NUL are written.
    pub fn write_modalias(&self, out: &mut [u8]) -> Result<usize, GuidError> {
        let dst = out.get_mut(..MODALIAS_LEN).ok_or(GuidError::BufferTooSmall)?;
        let (prefix, digits) = dst.split_at_mut(6);
        prefix.copy_from_slice(b"vmbus:");
        for (pair, byte) in digits.chunks_exact_mut(2).zip(self.b.iter()) {
            pair.copy_from_slice(&[hex_digit(byte >> 4), hex_digit(*byte)]);
        }
        Ok(MODALIAS_LEN)
    }

    /// Whether `alias` is exactly this class's modalias as [`Guid::write_modalias`] writes it
    /// (`vmbus:` and 32 lower-case hex digits). `const`, so that a driver checks the alias in
    /// its `module!` block against the class it registers for at compile time.
    pub const fn is_modalias(&self, alias: &[u8]) -> bool {
        if alias.len() != MODALIAS_LEN {
            return false;
        }
        let prefix = b"vmbus:";
        let mut i = 0;
        while i < prefix.len() {
            if alias[i] != prefix[i] {
                return false;
            }
            i += 1;
        }
        let mut j = 0;
        while j < 16 {
            let (hi, lo) = (alias[6 + 2 * j], alias[6 + 2 * j + 1]);
            if hi != hex_digit(self.b[j] >> 4) || lo != hex_digit(self.b[j]) {
                return false;
            }
            j += 1;
        }
        true
    }

    /// A displayable modalias (`vmbus:<32 hex digits>`), for `write!` into any sink.
    pub const fn modalias(&self) -> Modalias {
        Modalias(*self)
    }
}

impl fmt::Display for Guid {
    /// Lower-case `8-4-4-4-12` text, as Linux's `%pUl`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.data4();
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
            self.data1(),
            self.data2(),
            self.data3(),
            d[0],
            d[1],
            d[2],
            d[3],
            d[4],
            d[5],
            d[6],
            d[7]
        )
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The modalias of a device class, displayed as `vmbus:<32 hex digits>` (see
/// [`Guid::write_modalias`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Modalias(pub Guid);

impl fmt::Display for Modalias {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("vmbus:")?;
        for byte in self.0.as_bytes() {
            write!(f, "{:02x}", byte)?;
        }
        Ok(())
    }
}

/// Network (`HV_NIC_GUID`): f8615163-df3e-46c5-913f-f2d2f965ed0e.
pub const NIC: Guid = Guid::from_fields(0xf8615163, 0xdf3e, 0x46c5, [0x91, 0x3f, 0xf2, 0xd2, 0xf9, 0x65, 0xed, 0x0e]);
/// IDE storage (`HV_IDE_GUID`): 32412632-86cb-44a2-9b5c-50d1417354f5.
pub const IDE: Guid = Guid::from_fields(0x32412632, 0x86cb, 0x44a2, [0x9b, 0x5c, 0x50, 0xd1, 0x41, 0x73, 0x54, 0xf5]);
/// SCSI storage (`HV_SCSI_GUID`): ba6163d9-04a1-4d29-b605-72e2ffb1dc7f.
pub const SCSI: Guid = Guid::from_fields(0xba6163d9, 0x04a1, 0x4d29, [0xb6, 0x05, 0x72, 0xe2, 0xff, 0xb1, 0xdc, 0x7f]);
/// Shutdown IC (`HV_SHUTDOWN_GUID`): 0e0b6031-5213-4934-818b-38d90ced39db.
pub const SHUTDOWN: Guid = Guid::from_fields(0x0e0b6031, 0x5213, 0x4934, [0x81, 0x8b, 0x38, 0xd9, 0x0c, 0xed, 0x39, 0xdb]);
/// Time synchronization IC (`HV_TS_GUID`): 9527e630-d0ae-497b-adce-e80ab0175caf.
pub const TIMESYNC: Guid = Guid::from_fields(0x9527e630, 0xd0ae, 0x497b, [0xad, 0xce, 0xe8, 0x0a, 0xb0, 0x17, 0x5c, 0xaf]);
/// Heartbeat IC (`HV_HEART_BEAT_GUID`): 57164f39-9115-4e78-ab55-382f3bd5422d.
pub const HEARTBEAT: Guid = Guid::from_fields(0x57164f39, 0x9115, 0x4e78, [0xab, 0x55, 0x38, 0x2f, 0x3b, 0xd5, 0x42, 0x2d]);
/// Key-value pair exchange IC (`HV_KVP_GUID`): a9a0f4e7-5a45-4d96-b827-8a841e8c03e6.
pub const KVP: Guid = Guid::from_fields(0xa9a0f4e7, 0x5a45, 0x4d96, [0xb8, 0x27, 0x8a, 0x84, 0x1e, 0x8c, 0x03, 0xe6]);
/// Dynamic memory (`HV_DM_GUID`): 525074dc-8985-46e2-8057-a307dc18a502.
pub const DM: Guid = Guid::from_fields(0x525074dc, 0x8985, 0x46e2, [0x80, 0x57, 0xa3, 0x07, 0xdc, 0x18, 0xa5, 0x02]);
/// Synthetic mouse (`HV_MOUSE_GUID`): cfa8b69e-5b4a-4cc0-b98b-8ba1a1f3f95a.
pub const MOUSE: Guid = Guid::from_fields(0xcfa8b69e, 0x5b4a, 0x4cc0, [0xb9, 0x8b, 0x8b, 0xa1, 0xa1, 0xf3, 0xf9, 0x5a]);
/// Synthetic keyboard (`HV_KBD_GUID`): f912ad6d-2b17-48ea-bd65-f927a61c7684.
pub const KBD: Guid = Guid::from_fields(0xf912ad6d, 0x2b17, 0x48ea, [0xbd, 0x65, 0xf9, 0x27, 0xa6, 0x1c, 0x76, 0x84]);
/// Backup (VSS) IC (`HV_VSS_GUID`): 35fa2e29-ea23-4236-96ae-3a6ebacba440.
pub const VSS: Guid = Guid::from_fields(0x35fa2e29, 0xea23, 0x4236, [0x96, 0xae, 0x3a, 0x6e, 0xba, 0xcb, 0xa4, 0x40]);
/// Synthetic video (`HV_SYNTHVID_GUID`): da0a7802-e377-4aac-8e77-0558eb1073f8.
pub const SYNTHVID: Guid = Guid::from_fields(0xda0a7802, 0xe377, 0x4aac, [0x8e, 0x77, 0x05, 0x58, 0xeb, 0x10, 0x73, 0xf8]);
/// Synthetic Fibre Channel (`HV_SYNTHFC_GUID`): 2f9bcc4a-0069-4af3-b76b-6fd0be528cda.
pub const SYNTHFC: Guid = Guid::from_fields(0x2f9bcc4a, 0x0069, 0x4af3, [0xb7, 0x6b, 0x6f, 0xd0, 0xbe, 0x52, 0x8c, 0xda]);
/// Guest file copy service (`HV_FCOPY_GUID`): 34d14be3-dee4-41c8-9ae7-6b174977c192.
pub const FCOPY: Guid = Guid::from_fields(0x34d14be3, 0xdee4, 0x41c8, [0x9a, 0xe7, 0x6b, 0x17, 0x49, 0x77, 0xc1, 0x92]);
/// NetworkDirect, guest RDMA (`HV_ND_GUID`): 8c2eaf3d-32a7-4b09-ab99-bd1f1c86b501.
pub const ND: Guid = Guid::from_fields(0x8c2eaf3d, 0x32a7, 0x4b09, [0xab, 0x99, 0xbd, 0x1f, 0x1c, 0x86, 0xb5, 0x01]);
/// PCI Express pass-through (`HV_PCIE_GUID`): 44c4f61d-4444-4400-9d52-802e27ede19f.
pub const PCIE: Guid = Guid::from_fields(0x44c4f61d, 0x4444, 0x4400, [0x9d, 0x52, 0x80, 0x2e, 0x27, 0xed, 0xe1, 0x9f]);
/// Automatic VM activation 1 (`HV_AVMA1_GUID`, unsupported by Linux).
pub const AVMA1: Guid = Guid::from_fields(0xf8e65716, 0x3cb3, 0x4a06, [0x9a, 0x60, 0x18, 0x89, 0xc5, 0xcc, 0xca, 0xb5]);
/// Automatic VM activation 2 (`HV_AVMA2_GUID`, unsupported by Linux).
pub const AVMA2: Guid = Guid::from_fields(0x3375baf4, 0x9e15, 0x4b30, [0xb7, 0x65, 0x67, 0xac, 0xb1, 0x0d, 0x60, 0x7b]);
/// Remote desktop virtualization (`HV_RDV_GUID`, unsupported by Linux).
pub const RDV: Guid = Guid::from_fields(0x276aacf4, 0xac15, 0x426c, [0x98, 0xdd, 0x75, 0x21, 0xad, 0x3f, 0x01, 0xfe]);
/// Initial machine configuration (`HV_IMC_GUID`, Windows guests only).
pub const IMC: Guid = Guid::from_fields(0xc376c1c3, 0xd276, 0x48d2, [0x90, 0xa9, 0xc0, 0x47, 0x48, 0x07, 0x2c, 0x60]);
/// The pvguest echo device (tests only; not a Hyper-V class):
/// a8e7c9f2-5b61-4d3e-9f0a-7c3d2e1b4a96.
pub const ECHO: Guid = Guid::from_fields(0xa8e7c9f2, 0x5b61, 0x4d3e, [0x9f, 0x0a, 0x7c, 0x3d, 0x2e, 0x1b, 0x4a, 0x96]);

/// Every named class with a short name, for log lines and lookups.
pub const CLASSES: [(Guid, &str); 21] = [
    (NIC, "network"),
    (IDE, "ide"),
    (SCSI, "scsi"),
    (SHUTDOWN, "shutdown"),
    (TIMESYNC, "timesync"),
    (HEARTBEAT, "heartbeat"),
    (KVP, "kvp"),
    (DM, "dynamic-memory"),
    (MOUSE, "mouse"),
    (KBD, "keyboard"),
    (VSS, "vss"),
    (SYNTHVID, "video"),
    (SYNTHFC, "fibre-channel"),
    (FCOPY, "fcopy"),
    (ND, "network-direct"),
    (PCIE, "pci"),
    (AVMA1, "avma1"),
    (AVMA2, "avma2"),
    (RDV, "rdv"),
    (IMC, "imc"),
    (ECHO, "pvguest-echo"),
];

/// The short name of a known device class, if `class` is one.
pub fn class_name(class: &Guid) -> Option<&'static str> {
    CLASSES.iter().find(|(g, _)| g == class).map(|&(_, n)| n)
}
