// SPDX-License-Identifier: GPL-2.0-only
//! VSTOR packets: the storage protocol spoken on the synthetic SCSI controller's VMBus
//! channel, as defined in Linux `drivers/scsi/storvsc_drv.c` ("Begin protocol definitions").
//!
//! Every packet is a [`VstorPacket`]: a 12-byte header (operation, flags, status) and a
//! 0x34-byte payload union (`vm_srb`, `storage_channel_properties`, `version`, `wwn_packet`,
//! `sub_channel_count`). The payload is kept as bytes here and decoded according to the
//! operation (requests) or to the request a completion answers (completions).
//!
//! **Packet size depends on the protocol version** (older Linux: `vmscsi_size_delta`). Hosts
//! before Windows 8 know a `vmscsi_request` without the 16-byte Win8 extension (`reserve`
//! .. `queue_sort_ey`), so an SRB packet is 48 bytes instead of 64 and their sense buffer is
//! 0x12 bytes instead of 0x14 ([`ProtocolVersion::packet_size`],
//! [`ProtocolVersion::sense_buffer_size`]). Before the version is known the guest sends
//! full-size (64-byte) packets, as current Linux does; a host replies with the size of the
//! request ([`reply_len`]).
//!
//! Wire structs are `repr(C, packed)` like the C ones (alignment 1) and little-endian; native
//! integers are used because the suite is x86-64 only. Host-side parsers
//! ([`parse_request`]) and guest-side parsers ([`parse_completion`], [`parse_unsolicited`])
//! validate every length and field before use; encoders zero every byte they do not set.

use crate::bytes;
use crate::srb::{self, ScsiResult};
use zerocopy::{FromBytes, FromZeros, IntoBytes};
use zerocopy_derive::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// `VMSTOR_PROTO_VERSION(major, minor)`: major in the high byte, minor in the low byte.
pub const fn proto_version(major: u8, minor: u8) -> u16 {
    ((major as u16) << 8) | minor as u16
}

/// `VMSTOR_PROTO_VERSION_WIN6`: Windows Server 2008 (2.0).
pub const VERSION_WIN6: u16 = proto_version(2, 0);
/// `VMSTOR_PROTO_VERSION_WIN7`: Windows 7 / Server 2008 R2 (4.2).
pub const VERSION_WIN7: u16 = proto_version(4, 2);
/// `VMSTOR_PROTO_VERSION_WIN8`: Windows 8 / Server 2012 (5.1).
pub const VERSION_WIN8: u16 = proto_version(5, 1);
/// `VMSTOR_PROTO_VERSION_WIN8_1`: Windows 8.1 / Server 2012 R2 (6.0).
pub const VERSION_WIN8_1: u16 = proto_version(6, 0);
/// `VMSTOR_PROTO_VERSION_WIN10`: Windows 10 / Server 2016 (6.2).
pub const VERSION_WIN10: u16 = proto_version(6, 2);

/// Size of the packet header (`operation`, `flags`, `status`).
pub const VSTOR_PACKET_HEADER_SIZE: usize = 12;
/// Size of the payload union (`buffer[0x34]`).
pub const VSTOR_PAYLOAD_SIZE: usize = 0x34;
/// `sizeof(struct vstor_packet)`: a full-size packet (Win8 and later).
pub const VSTOR_PACKET_SIZE: usize = VSTOR_PACKET_HEADER_SIZE + VSTOR_PAYLOAD_SIZE;
/// `sizeof(struct vmscsi_request)` with the Win8 extension.
pub const VMSCSI_REQUEST_SIZE: usize = 0x34;
/// Size of the Win8 extension of `vmscsi_request` (older Linux `vmscsi_size_delta` for
/// pre-Win8 hosts, `sizeof(struct vmscsi_win8_extension)`).
pub const VMSCSI_WIN8_EXTENSION_SIZE: usize = 16;
/// `vmscsi_request` as pre-Win8 hosts know it.
pub const VMSCSI_REQUEST_SIZE_PRE_WIN8: usize = VMSCSI_REQUEST_SIZE - VMSCSI_WIN8_EXTENSION_SIZE;
/// `STORVSC_MAX_PKT_SIZE`: the largest ring packet of the protocol, a 16-byte
/// `vmpacket_descriptor` and a full [`VstorPacket`] (for ring and `max_pkt_size` sizing).
pub const STORVSC_MAX_PKT_SIZE: usize = 16 + VSTOR_PACKET_SIZE;
/// The smallest packet any version uses (a pre-Win8 SRB packet).
pub const MIN_PACKET_SIZE: usize = VSTOR_PACKET_HEADER_SIZE + VMSCSI_REQUEST_SIZE_PRE_WIN8;
/// `STORVSC_MAX_CMD_LEN`: CDB bytes in a `vmscsi_request`.
pub const STORVSC_MAX_CMD_LEN: usize = 0x10;
/// `STORVSC_SENSE_BUFFER_SIZE`: sense bytes from Win8 on (older Linux:
/// `POST_WIN7_STORVSC_SENSE_BUFFER_SIZE`).
pub const STORVSC_SENSE_BUFFER_SIZE: usize = 0x14;
/// Sense bytes before Win8 (older Linux `PRE_WIN8_STORVSC_SENSE_BUFFER_SIZE`, exactly one
/// 18-byte fixed-format sense).
pub const PRE_WIN8_SENSE_BUFFER_SIZE: usize = 0x12;
/// `STORVSC_MAX_BUF_LEN_WITH_PADDING`: size of the CDB / sense union in `vmscsi_request`.
pub const STORVSC_MAX_BUF_LEN_WITH_PADDING: usize = 0x14;

/// `REQUEST_COMPLETION_FLAG`: the sender wants a completion packet.
pub const REQUEST_COMPLETION_FLAG: u32 = 0x1;
/// `STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL` in [`VmstorageChannelProperties::flags`].
pub const STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL: u32 = 0x1;
/// `STORAGE_CHANNEL_REMOVABLE_FLAG` (channel offer properties).
pub const STORAGE_CHANNEL_REMOVABLE_FLAG: u32 = 0x1;
/// `STORAGE_CHANNEL_EMULATED_IDE_FLAG` (channel offer properties: an IDE disk's fast path).
pub const STORAGE_CHANNEL_EMULATED_IDE_FLAG: u32 = 0x2;

/// `SP_UNTAGGED`: `queue_tag` of a request without an explicit tag.
pub const SP_UNTAGGED: u8 = 0xff;
/// `SRB_SIMPLE_TAG_REQUEST`: `queue_action` of a simple-queue-tag request.
pub const SRB_SIMPLE_TAG_REQUEST: u8 = 0x20;
/// The SRB `time_out_value` Linux sends (seconds, `storvsc_queuecommand`).
pub const SRB_TIMEOUT_SECONDS: u32 = 60;

/// `STORVSC_MAX_LUNS_PER_TARGET` (SCSI controller).
pub const STORVSC_MAX_LUNS_PER_TARGET: u32 = 255;
/// `STORVSC_MAX_TARGETS`.
pub const STORVSC_MAX_TARGETS: u32 = 2;
/// `STORVSC_MAX_CHANNELS` (SCSI channels, i.e. `path_id` values).
pub const STORVSC_MAX_CHANNELS: u32 = 8;
/// `STORVSC_FC_MAX_LUNS_PER_TARGET`.
pub const STORVSC_FC_MAX_LUNS_PER_TARGET: u32 = 255;
/// `STORVSC_FC_MAX_TARGETS`.
pub const STORVSC_FC_MAX_TARGETS: u32 = 128;
/// `STORVSC_FC_MAX_CHANNELS`.
pub const STORVSC_FC_MAX_CHANNELS: u32 = 8;
/// `STORVSC_FC_MAX_XFER_SIZE`: transfer cap for Fibre Channel controllers.
pub const STORVSC_FC_MAX_XFER_SIZE: u32 = 512 * 1024;
/// `STORVSC_IDE_MAX_LUNS_PER_TARGET`.
pub const STORVSC_IDE_MAX_LUNS_PER_TARGET: u32 = 64;
/// `STORVSC_IDE_MAX_TARGETS`.
pub const STORVSC_IDE_MAX_TARGETS: u32 = 1;
/// `STORVSC_IDE_MAX_CHANNELS`.
pub const STORVSC_IDE_MAX_CHANNELS: u32 = 1;
/// `HV_HYP_PAGE_SIZE`: the unit of `max_transfer_bytes` rounding and of GPA ranges.
pub const HV_PAGE_SIZE: u32 = 4096;

// ---------------------------------------------------------------------------------------
// Versions.

/// A storage protocol version the suite knows, oldest first (so `<` compares age).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProtocolVersion {
    /// Windows Server 2008, 2.0 (`VMSTOR_PROTO_VERSION_WIN6`).
    Win6,
    /// Windows 7 / Server 2008 R2, 4.2 (`VMSTOR_PROTO_VERSION_WIN7`).
    Win7,
    /// Windows 8 / Server 2012, 5.1 (`VMSTOR_PROTO_VERSION_WIN8`).
    Win8,
    /// Windows 8.1 / Server 2012 R2, 6.0 (`VMSTOR_PROTO_VERSION_WIN8_1`).
    Win8_1,
    /// Windows 10 / Server 2016, 6.2 (`VMSTOR_PROTO_VERSION_WIN10`).
    Win10,
}

impl ProtocolVersion {
    /// Every version, in the order a guest proposes them (newest first, as Linux's
    /// `protocol_version[]`, which today lists only WIN10 and WIN8_1).
    pub const NEWEST_FIRST: [ProtocolVersion; 5] = [
        ProtocolVersion::Win10,
        ProtocolVersion::Win8_1,
        ProtocolVersion::Win8,
        ProtocolVersion::Win7,
        ProtocolVersion::Win6,
    ];

    /// The versions Linux 7.3's storvsc proposes (`protocol_version[]`), in its order.
    pub const LINUX_ORDER: [ProtocolVersion; 2] = [ProtocolVersion::Win10, ProtocolVersion::Win8_1];

    /// The wire value (`major << 8 | minor`).
    pub const fn major_minor(self) -> u16 {
        match self {
            ProtocolVersion::Win6 => VERSION_WIN6,
            ProtocolVersion::Win7 => VERSION_WIN7,
            ProtocolVersion::Win8 => VERSION_WIN8,
            ProtocolVersion::Win8_1 => VERSION_WIN8_1,
            ProtocolVersion::Win10 => VERSION_WIN10,
        }
    }

    /// The version with wire value `v`, if it is one the suite knows.
    pub const fn from_major_minor(v: u16) -> Option<Self> {
        match v {
            VERSION_WIN6 => Some(ProtocolVersion::Win6),
            VERSION_WIN7 => Some(ProtocolVersion::Win7),
            VERSION_WIN8 => Some(ProtocolVersion::Win8),
            VERSION_WIN8_1 => Some(ProtocolVersion::Win8_1),
            VERSION_WIN10 => Some(ProtocolVersion::Win10),
            _ => None,
        }
    }

    /// Whether `vmscsi_request` carries the Win8 extension (`reserve` .. `queue_sort_ey`).
    pub const fn has_win8_extension(self) -> bool {
        !matches!(self, ProtocolVersion::Win6 | ProtocolVersion::Win7)
    }

    /// Older Linux `vmscsi_size_delta`: bytes missing from `vmscsi_request` on this version.
    pub const fn size_delta(self) -> usize {
        if self.has_win8_extension() {
            0
        } else {
            VMSCSI_WIN8_EXTENSION_SIZE
        }
    }

    /// Size of `vmscsi_request` on the wire (`vm_srb.length`): 0x34, or 0x24 before Win8.
    pub const fn srb_size(self) -> usize {
        VMSCSI_REQUEST_SIZE - self.size_delta()
    }

    /// Size of a VSTOR packet on the wire (`sizeof(struct vstor_packet) - vmscsi_size_delta`).
    pub const fn packet_size(self) -> usize {
        VSTOR_PACKET_SIZE - self.size_delta()
    }

    /// Sense bytes the SRB can carry: 0x14, or 0x12 before Win8.
    pub const fn sense_buffer_size(self) -> usize {
        if self.has_win8_extension() {
            STORVSC_SENSE_BUFFER_SIZE
        } else {
            PRE_WIN8_SENSE_BUFFER_SIZE
        }
    }

    /// Whether sub-channels may be used (hosts implement multi-channel from Win8 / 5.1 on;
    /// older Linux checked this next to `STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL`).
    pub const fn multi_channel_allowed(self) -> bool {
        self.has_win8_extension()
    }

    /// Whether a host of this version sends `ENUMERATE_BUS` on LUN changes (WIN7 on).
    pub const fn enumerate_bus_allowed(self) -> bool {
        !matches!(self, ProtocolVersion::Win6)
    }

    /// Whether Linux 7.3's storvsc still negotiates this version (WIN8_1 and WIN10).
    pub const fn linux_supported(self) -> bool {
        matches!(self, ProtocolVersion::Win8_1 | ProtocolVersion::Win10)
    }

    /// The C name, for logs.
    pub const fn name(self) -> &'static str {
        match self {
            ProtocolVersion::Win6 => "WIN6 (2.0)",
            ProtocolVersion::Win7 => "WIN7 (4.2)",
            ProtocolVersion::Win8 => "WIN8 (5.1)",
            ProtocolVersion::Win8_1 => "WIN8_1 (6.0)",
            ProtocolVersion::Win10 => "WIN10 (6.2)",
        }
    }
}

/// A set of protocol versions (which ones a host accepts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VersionSet(u8);

impl VersionSet {
    /// Every known version.
    pub const ALL: VersionSet = VersionSet(0x1f);
    /// No version.
    pub const EMPTY: VersionSet = VersionSet(0);

    const fn bit(v: ProtocolVersion) -> u8 {
        1 << (v as u8)
    }

    /// The set with `v` added.
    pub const fn with(self, v: ProtocolVersion) -> Self {
        VersionSet(self.0 | Self::bit(v))
    }

    /// The set of `list`.
    pub fn of(list: &[ProtocolVersion]) -> Self {
        list.iter().fold(VersionSet::EMPTY, |s, v| s.with(*v))
    }

    /// Every version from `oldest` on.
    pub fn from_version(oldest: ProtocolVersion) -> Self {
        ProtocolVersion::NEWEST_FIRST.iter().filter(|v| **v >= oldest).fold(VersionSet::EMPTY, |s, v| s.with(*v))
    }

    /// Whether `v` is in the set.
    pub const fn contains(self, v: ProtocolVersion) -> bool {
        self.0 & Self::bit(v) != 0
    }
}

// ---------------------------------------------------------------------------------------
// Operations and status.

/// `enum vstor_packet_operation`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Operation {
    /// `VSTOR_OPERATION_COMPLETE_IO`: every completion, host to guest.
    CompleteIo = 1,
    /// `VSTOR_OPERATION_REMOVE_DEVICE`: host asks for a rescan (a LUN went away).
    RemoveDevice = 2,
    /// `VSTOR_OPERATION_EXECUTE_SRB`: a SCSI command, guest to host.
    ExecuteSrb = 3,
    /// `VSTOR_OPERATION_RESET_LUN`.
    ResetLun = 4,
    /// `VSTOR_OPERATION_RESET_ADAPTER`.
    ResetAdapter = 5,
    /// `VSTOR_OPERATION_RESET_BUS`: Linux's host reset handler.
    ResetBus = 6,
    /// `VSTOR_OPERATION_BEGIN_INITIALIZATION`.
    BeginInitialization = 7,
    /// `VSTOR_OPERATION_END_INITIALIZATION`.
    EndInitialization = 8,
    /// `VSTOR_OPERATION_QUERY_PROTOCOL_VERSION`.
    QueryProtocolVersion = 9,
    /// `VSTOR_OPERATION_QUERY_PROPERTIES`.
    QueryProperties = 10,
    /// `VSTOR_OPERATION_ENUMERATE_BUS`: host asks for a rescan (LUNs changed).
    EnumerateBus = 11,
    /// `VSTOR_OPERATION_FCHBA_DATA`: Fibre Channel port/node names.
    FcHbaData = 12,
    /// `VSTOR_OPERATION_CREATE_SUB_CHANNELS`.
    CreateSubChannels = 13,
}

/// `VSTOR_OPERATION_MAXIMUM`.
pub const VSTOR_OPERATION_MAXIMUM: u32 = 13;

impl Operation {
    /// The operation with wire value `v`.
    pub const fn from_u32(v: u32) -> Option<Self> {
        Some(match v {
            1 => Operation::CompleteIo,
            2 => Operation::RemoveDevice,
            3 => Operation::ExecuteSrb,
            4 => Operation::ResetLun,
            5 => Operation::ResetAdapter,
            6 => Operation::ResetBus,
            7 => Operation::BeginInitialization,
            8 => Operation::EndInitialization,
            9 => Operation::QueryProtocolVersion,
            10 => Operation::QueryProperties,
            11 => Operation::EnumerateBus,
            12 => Operation::FcHbaData,
            13 => Operation::CreateSubChannels,
            _ => return None,
        })
    }

    /// The wire value.
    pub const fn as_u32(self) -> u32 {
        self as u32
    }

    /// The C name without the `VSTOR_OPERATION_` prefix, for logs.
    pub const fn name(self) -> &'static str {
        match self {
            Operation::CompleteIo => "COMPLETE_IO",
            Operation::RemoveDevice => "REMOVE_DEVICE",
            Operation::ExecuteSrb => "EXECUTE_SRB",
            Operation::ResetLun => "RESET_LUN",
            Operation::ResetAdapter => "RESET_ADAPTER",
            Operation::ResetBus => "RESET_BUS",
            Operation::BeginInitialization => "BEGIN_INITIALIZATION",
            Operation::EndInitialization => "END_INITIALIZATION",
            Operation::QueryProtocolVersion => "QUERY_PROTOCOL_VERSION",
            Operation::QueryProperties => "QUERY_PROPERTIES",
            Operation::EnumerateBus => "ENUMERATE_BUS",
            Operation::FcHbaData => "FCHBA_DATA",
            Operation::CreateSubChannels => "CREATE_SUB_CHANNELS",
        }
    }
}

/// Values of `vstor_packet.status`: Windows NTSTATUS codes (`ntstatus.h`). Linux only tests
/// for zero; the host simulator uses these so logs read like Hyper-V's.
pub mod nt_status {
    /// `STATUS_SUCCESS`.
    pub const SUCCESS: u32 = 0x0000_0000;
    /// `STATUS_BUFFER_OVERFLOW`: data larger than the buffer.
    pub const BUFFER_OVERFLOW: u32 = 0x8000_0005;
    /// `STATUS_DEVICE_BUSY`.
    pub const DEVICE_BUSY: u32 = 0x8000_0011;
    /// `STATUS_UNSUCCESSFUL`.
    pub const UNSUCCESSFUL: u32 = 0xC000_0001;
    /// `STATUS_INVALID_PARAMETER`.
    pub const INVALID_PARAMETER: u32 = 0xC000_000D;
    /// `STATUS_INVALID_DEVICE_REQUEST`: operation not valid for this device.
    pub const INVALID_DEVICE_REQUEST: u32 = 0xC000_0010;
    /// `STATUS_REVISION_MISMATCH`: the proposed protocol version is not supported.
    pub const REVISION_MISMATCH: u32 = 0xC000_0059;
    /// `STATUS_DEVICE_NOT_CONNECTED`.
    pub const DEVICE_NOT_CONNECTED: u32 = 0xC000_009D;
    /// `STATUS_IO_TIMEOUT`.
    pub const IO_TIMEOUT: u32 = 0xC000_00B5;
    /// `STATUS_DEVICE_DOES_NOT_EXIST`.
    pub const DEVICE_DOES_NOT_EXIST: u32 = 0xC000_00C0;
    /// `STATUS_CANCELLED`.
    pub const CANCELLED: u32 = 0xC000_0120;
    /// `STATUS_INVALID_DEVICE_STATE`: request out of protocol order.
    pub const INVALID_DEVICE_STATE: u32 = 0xC000_0184;
    /// `STATUS_IO_DEVICE_ERROR`.
    pub const IO_DEVICE_ERROR: u32 = 0xC000_0185;

    /// The packet status a host reports next to an SRB status.
    pub const fn for_srb_status(srb_status: u8) -> u32 {
        use crate::srb::srb_status as s;
        match s::code(srb_status) {
            s::SUCCESS => SUCCESS,
            s::BUSY => DEVICE_BUSY,
            s::INVALID_LUN | s::INVALID_TARGET_ID | s::NO_DEVICE | s::NO_HBA => DEVICE_DOES_NOT_EXIST,
            s::TIMEOUT | s::COMMAND_TIMEOUT | s::SELECTION_TIMEOUT => IO_TIMEOUT,
            s::ABORTED | s::REQUEST_FLUSHED => CANCELLED,
            s::INVALID_REQUEST | s::BAD_FUNCTION => INVALID_DEVICE_REQUEST,
            s::DATA_OVERRUN => BUFFER_OVERFLOW,
            _ => IO_DEVICE_ERROR,
        }
    }
}

/// `enum storvsc_request_type`, the `vmscsi_request.data_in` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataDirection {
    /// `WRITE_TYPE` (0): data moves from the guest to the device.
    Write,
    /// `READ_TYPE` (1): data moves from the device to the guest.
    Read,
    /// `UNKNOWN_TYPE` (2): no data (`DMA_NONE`).
    None,
}

impl DataDirection {
    /// `WRITE_TYPE`.
    pub const WRITE_TYPE: u8 = 0;
    /// `READ_TYPE`.
    pub const READ_TYPE: u8 = 1;
    /// `UNKNOWN_TYPE`.
    pub const UNKNOWN_TYPE: u8 = 2;

    /// The direction with wire value `v`.
    pub const fn from_u8(v: u8) -> Option<Self> {
        match v {
            Self::WRITE_TYPE => Some(DataDirection::Write),
            Self::READ_TYPE => Some(DataDirection::Read),
            Self::UNKNOWN_TYPE => Some(DataDirection::None),
            _ => None,
        }
    }

    /// The wire value.
    pub const fn as_u8(self) -> u8 {
        match self {
            DataDirection::Write => Self::WRITE_TYPE,
            DataDirection::Read => Self::READ_TYPE,
            DataDirection::None => Self::UNKNOWN_TYPE,
        }
    }

    /// The `SRB_FLAGS_DATA_*` bit Linux sets for this direction.
    pub const fn srb_flag(self) -> u32 {
        match self {
            DataDirection::Write => srb::srb_flags::DATA_OUT,
            DataDirection::Read => srb::srb_flags::DATA_IN,
            DataDirection::None => srb::srb_flags::NO_DATA_TRANSFER,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Wire structs.

/// `struct vmscsi_request` (packed), with the Win8 extension. Before Win8 only the first
/// [`VMSCSI_REQUEST_SIZE_PRE_WIN8`] bytes are on the wire.
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct VmscsiRequest {
    /// Size of this struct as the sender knows it (0x34, or 0x24 before Win8).
    pub length: u16,
    /// SRB status with the `AUTOSENSE_VALID` / `QUEUE_FROZEN` flag bits (host to guest).
    pub srb_status: u8,
    /// SCSI status byte (host to guest).
    pub scsi_status: u8,
    /// Port (Linux: the SCSI host number).
    pub port_number: u8,
    /// Path id: the SCSI channel.
    pub path_id: u8,
    /// Target id.
    pub target_id: u8,
    /// Logical unit number.
    pub lun: u8,
    /// Valid bytes of the CDB.
    pub cdb_length: u8,
    /// Guest to host: sense bytes the guest can take; host to guest: sense bytes returned.
    pub sense_info_length: u8,
    /// [`DataDirection`] wire value (`data_in`).
    pub data_in: u8,
    /// Reserved, zero.
    pub reserved: u8,
    /// Guest to host: bytes in the data buffer; host to guest: bytes transferred.
    pub data_transfer_length: u32,
    /// The union `cdb[16]` / `sense_data[0x14]` / `reserved_array[0x14]`.
    pub cdb_or_sense: [u8; STORVSC_MAX_BUF_LEN_WITH_PADDING],
    /// Win8: reserved, zero.
    pub reserve: u16,
    /// Win8: queue tag ([`SP_UNTAGGED`]).
    pub queue_tag: u8,
    /// Win8: queue action ([`SRB_SIMPLE_TAG_REQUEST`]).
    pub queue_action: u8,
    /// Win8: `SRB_FLAGS_*`.
    pub srb_flags: u32,
    /// Win8: timeout in seconds.
    pub time_out_value: u32,
    /// Win8: queue sort key (the C spelling `queue_sort_ey`).
    pub queue_sort_ey: u32,
}

/// `struct vmstorage_channel_properties` (packed): the `QUERY_PROPERTIES` answer, and the
/// user data of the channel open.
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct VmstorageChannelProperties {
    /// Reserved, zero.
    pub reserved: u32,
    /// Sub-channels the host can offer (`max_channel_cnt`).
    pub max_channel_cnt: u16,
    /// Reserved, zero.
    pub reserved1: u16,
    /// `STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL`.
    pub flags: u32,
    /// Largest transfer of one SRB in bytes.
    pub max_transfer_bytes: u32,
    /// Reserved, zero.
    pub reserved2: u64,
}

/// `struct vmstorage_protocol_version` (packed).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct VmstorageProtocolVersion {
    /// Major (high byte) and minor (low byte).
    pub major_minor: u16,
    /// Build revision; Linux sends 0, only Windows looks at it.
    pub revision: u16,
}

/// `struct hv_fc_wwn_packet`: Fibre Channel port and node world-wide names.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct HvFcWwnPacket {
    /// Non-zero when the primary names are the active ones.
    pub primary_active: u8,
    /// Reserved, zero.
    pub reserved1: [u8; 3],
    /// Primary port WWN (big-endian).
    pub primary_port_wwn: [u8; 8],
    /// Primary node WWN.
    pub primary_node_wwn: [u8; 8],
    /// Secondary port WWN.
    pub secondary_port_wwn: [u8; 8],
    /// Secondary node WWN.
    pub secondary_node_wwn: [u8; 8],
}

impl HvFcWwnPacket {
    /// The active (node, port) names as Linux's `cache_wwn()` picks them (`wwn_to_u64`).
    pub fn active_names(&self) -> (u64, u64) {
        if self.primary_active != 0 {
            (u64::from_be_bytes(self.primary_node_wwn), u64::from_be_bytes(self.primary_port_wwn))
        } else {
            (u64::from_be_bytes(self.secondary_node_wwn), u64::from_be_bytes(self.secondary_port_wwn))
        }
    }
}

/// `struct vstor_packet` (packed), full size. The payload union is kept as bytes.
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct VstorPacket {
    /// `enum vstor_packet_operation`.
    pub operation: u32,
    /// `REQUEST_COMPLETION_FLAG`.
    pub flags: u32,
    /// Host's status ([`nt_status`]); zero is success.
    pub status: u32,
    /// The payload union (`buffer[0x34]`).
    pub payload: [u8; VSTOR_PAYLOAD_SIZE],
}

// ---------------------------------------------------------------------------------------
// Errors.

/// Why a VSTOR packet was rejected or could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VstorError {
    /// The packet is shorter than its operation (and version) needs.
    TooShort {
        /// Bytes needed.
        need: usize,
        /// Bytes received.
        got: usize,
    },
    /// The output buffer is too small.
    BufferTooSmall {
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        got: usize,
    },
    /// Requested wire length outside `MIN_PACKET_SIZE..=VSTOR_PACKET_SIZE`.
    WireLength(usize),
    /// Operation value not in `enum vstor_packet_operation`.
    UnknownOperation(u32),
    /// An operation that is not valid in this direction or place.
    UnexpectedOperation(Operation),
    /// `vm_srb.length` outside the negotiated version's SRB size .. 0x34.
    SrbLength(u16),
    /// `cdb_length` zero or above 16.
    CdbLength(u8),
    /// `sense_info_length` above the version's sense buffer size.
    SenseInfoLength(u8),
    /// `data_in` not one of `WRITE_TYPE`, `READ_TYPE`, `UNKNOWN_TYPE`.
    DataDirection(u8),
    /// Data transfer length non-zero with `UNKNOWN_TYPE` (no data direction).
    TransferWithoutDirection(u32),
    /// `data_transfer_length` larger than the data buffer described by the packet.
    TransferExceedsBuffer {
        /// `data_transfer_length`.
        length: u32,
        /// Bytes of the guest buffer (the GPA range).
        buffer: usize,
    },
    /// `data_transfer_length` above the advertised `max_transfer_bytes`.
    TransferTooLarge {
        /// `data_transfer_length`.
        length: u32,
        /// The advertised maximum.
        max: u32,
    },
    /// A packet with transaction id 0 (unsolicited) carrying an operation Linux refuses
    /// there (`COMPLETE_IO`, `FCHBA_DATA`).
    UnsolicitedNotAllowed(Operation),
}

impl VstorError {
    /// A short description for log lines.
    pub const fn as_str(&self) -> &'static str {
        match self {
            VstorError::TooShort { .. } => "packet too short",
            VstorError::BufferTooSmall { .. } => "output buffer too small",
            VstorError::WireLength(_) => "wire length out of range",
            VstorError::UnknownOperation(_) => "unknown operation",
            VstorError::UnexpectedOperation(_) => "unexpected operation",
            VstorError::SrbLength(_) => "vm_srb.length out of range",
            VstorError::CdbLength(_) => "cdb_length zero or above 16",
            VstorError::SenseInfoLength(_) => "sense_info_length above the sense buffer",
            VstorError::DataDirection(_) => "invalid data_in",
            VstorError::TransferWithoutDirection(_) => "data transfer without direction",
            VstorError::TransferExceedsBuffer { .. } => "data_transfer_length exceeds the buffer",
            VstorError::TransferTooLarge { .. } => "data_transfer_length above max_transfer_bytes",
            VstorError::UnsolicitedNotAllowed(_) => "operation not allowed with transaction id 0",
        }
    }
}

impl core::fmt::Display for VstorError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

// ---------------------------------------------------------------------------------------
// Typed payloads.

/// Where an SRB goes: `port_number`, `path_id`, `target_id`, `lun`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScsiAddress {
    /// Port (Linux: SCSI host number; informational).
    pub port_number: u8,
    /// Channel.
    pub path_id: u8,
    /// Target.
    pub target_id: u8,
    /// LUN.
    pub lun: u8,
}

/// The channel properties of a `QUERY_PROPERTIES` answer, without reserved fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChannelProperties {
    /// Sub-channels the host can offer (`max_channel_cnt`).
    pub max_channel_count: u16,
    /// `STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL`.
    pub flags: u32,
    /// Largest transfer of one SRB in bytes.
    pub max_transfer_bytes: u32,
}

impl ChannelProperties {
    /// From the wire struct.
    pub fn from_wire(w: &VmstorageChannelProperties) -> Self {
        ChannelProperties {
            max_channel_count: w.max_channel_cnt,
            flags: w.flags,
            max_transfer_bytes: w.max_transfer_bytes,
        }
    }

    /// To the wire struct (reserved fields zero).
    pub fn to_wire(&self) -> VmstorageChannelProperties {
        VmstorageChannelProperties {
            reserved: 0,
            max_channel_cnt: self.max_channel_count,
            reserved1: 0,
            flags: self.flags,
            max_transfer_bytes: self.max_transfer_bytes,
            reserved2: 0,
        }
    }

    /// Whether the host offers sub-channels (`STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL`).
    pub const fn supports_multi_channel(&self) -> bool {
        self.flags & STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL != 0
    }

    /// `max_transfer_bytes` rounded down to the hypervisor page, as `storvsc_probe()` does.
    pub const fn max_transfer_aligned(&self) -> u32 {
        self.max_transfer_bytes & !(HV_PAGE_SIZE - 1)
    }

    /// Largest request in 512-byte sectors (`host->max_sectors`).
    pub const fn max_sectors(&self) -> u32 {
        self.max_transfer_aligned() >> 9
    }

    /// Largest scatter list (`host->sg_tablesize`): one page per 4 KiB plus a partial one.
    pub const fn max_segments(&self) -> u32 {
        (self.max_transfer_aligned() >> 12) + 1
    }

    /// How many sub-channels a guest with `online_cpus` CPUs asks for
    /// (`handle_multichannel_storage()`: one channel per CPU beyond the primary, at most
    /// `max_channel_cnt`); zero when the host or the version does not do multi-channel.
    pub fn sub_channels_to_request(&self, version: ProtocolVersion, online_cpus: u32) -> u16 {
        if !self.supports_multi_channel() || !version.multi_channel_allowed() {
            return 0;
        }
        let want = online_cpus.saturating_sub(1);
        u16::try_from(want).unwrap_or(u16::MAX).min(self.max_channel_count)
    }
}

/// An `EXECUTE_SRB` request, validated (host view) or to be sent (guest view).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SrbRequest {
    /// Where it goes.
    pub addr: ScsiAddress,
    /// CDB bytes; only the first `cdb_length` are meaningful.
    pub cdb: [u8; STORVSC_MAX_CMD_LEN],
    /// Valid CDB bytes, 1..=16.
    pub cdb_length: u8,
    /// Sense bytes the guest can take.
    pub sense_info_length: u8,
    /// Data direction (`data_in`).
    pub direction: DataDirection,
    /// Bytes in the data buffer.
    pub data_transfer_length: u32,
    /// Win8: `SRB_FLAGS_*` (zero before Win8).
    pub srb_flags: u32,
    /// Win8: queue tag.
    pub queue_tag: u8,
    /// Win8: queue action.
    pub queue_action: u8,
    /// Win8: timeout in seconds.
    pub time_out_value: u32,
}

impl SrbRequest {
    /// Builds a request the way `storvsc_queuecommand()` fills `vm_srb`: 60 s timeout,
    /// `DISABLE_SYNCH_TRANSFER`, the direction flag, and for `tagged` devices
    /// `QUEUE_ACTION_ENABLE | NO_QUEUE_FREEZE` with an untagged simple queue action.
    pub fn new(
        addr: ScsiAddress,
        cdb: &[u8],
        direction: DataDirection,
        data_transfer_length: u32,
        tagged: bool,
    ) -> Result<Self, VstorError> {
        let cdb_length = check_cdb_len(cdb.len())?;
        check_direction(direction, data_transfer_length)?;
        let mut bytes = [0u8; STORVSC_MAX_CMD_LEN];
        bytes::copy_truncated(&mut bytes, cdb);
        let mut srb_flags = srb::srb_flags::DISABLE_SYNCH_TRANSFER | direction.srb_flag();
        let (mut queue_tag, mut queue_action) = (0, 0);
        if tagged {
            srb_flags |= srb::srb_flags::QUEUE_ACTION_ENABLE | srb::srb_flags::NO_QUEUE_FREEZE;
            queue_tag = SP_UNTAGGED;
            queue_action = SRB_SIMPLE_TAG_REQUEST;
        }
        Ok(SrbRequest {
            addr,
            cdb: bytes,
            cdb_length,
            sense_info_length: STORVSC_SENSE_BUFFER_SIZE as u8,
            direction,
            data_transfer_length,
            srb_flags,
            queue_tag,
            queue_action,
            time_out_value: SRB_TIMEOUT_SECONDS,
        })
    }

    /// The valid CDB bytes.
    pub fn cdb(&self) -> &[u8] {
        bytes::head(&self.cdb, usize::from(self.cdb_length))
    }

    /// The opcode (first CDB byte).
    pub fn opcode(&self) -> u8 {
        self.cdb[0]
    }

    /// Host check of the data buffer: `data_transfer_length` must fit the guest's buffer
    /// (the GPA range of the packet, `buffer_len` bytes) and the advertised maximum.
    pub fn check_transfer(&self, buffer_len: usize, max_transfer_bytes: u32) -> Result<(), VstorError> {
        let length = self.data_transfer_length;
        let fits = usize::try_from(length).map(|l| l <= buffer_len).unwrap_or(false);
        if !fits {
            return Err(VstorError::TransferExceedsBuffer { length, buffer: buffer_len });
        }
        if length > max_transfer_bytes {
            return Err(VstorError::TransferTooLarge { length, max: max_transfer_bytes });
        }
        Ok(())
    }

    fn from_wire(w: &VmscsiRequest, version: ProtocolVersion) -> Result<Self, VstorError> {
        let length = w.length;
        if usize::from(length) < version.srb_size() || usize::from(length) > VMSCSI_REQUEST_SIZE {
            return Err(VstorError::SrbLength(length));
        }
        let cdb_length = check_cdb_len(usize::from(w.cdb_length))?;
        if usize::from(w.sense_info_length) > version.sense_buffer_size() {
            return Err(VstorError::SenseInfoLength(w.sense_info_length));
        }
        let direction = DataDirection::from_u8(w.data_in).ok_or(VstorError::DataDirection(w.data_in))?;
        check_direction(direction, w.data_transfer_length)?;
        let mut cdb = [0u8; STORVSC_MAX_CMD_LEN];
        bytes::copy_truncated(&mut cdb, bytes::head(&w.cdb_or_sense, usize::from(cdb_length)));
        let win8 = version.has_win8_extension();
        Ok(SrbRequest {
            addr: ScsiAddress { port_number: w.port_number, path_id: w.path_id, target_id: w.target_id, lun: w.lun },
            cdb,
            cdb_length,
            sense_info_length: w.sense_info_length,
            direction,
            data_transfer_length: w.data_transfer_length,
            srb_flags: if win8 { w.srb_flags } else { 0 },
            queue_tag: if win8 { w.queue_tag } else { 0 },
            queue_action: if win8 { w.queue_action } else { 0 },
            time_out_value: if win8 { w.time_out_value } else { 0 },
        })
    }

    fn wire(&self, version: ProtocolVersion) -> VmscsiRequest {
        let mut w = VmscsiRequest::new_zeroed();
        w.length = version.srb_size() as u16;
        w.port_number = self.addr.port_number;
        w.path_id = self.addr.path_id;
        w.target_id = self.addr.target_id;
        w.lun = self.addr.lun;
        w.cdb_length = self.cdb_length.min(STORVSC_MAX_CMD_LEN as u8);
        w.sense_info_length = self.sense_info_length.min(version.sense_buffer_size() as u8);
        w.data_in = self.direction.as_u8();
        w.data_transfer_length = self.data_transfer_length;
        bytes::copy_truncated(&mut w.cdb_or_sense, self.cdb());
        if version.has_win8_extension() {
            w.queue_tag = self.queue_tag;
            w.queue_action = self.queue_action;
            w.srb_flags = self.srb_flags;
            w.time_out_value = self.time_out_value;
        }
        w
    }
}

fn check_cdb_len(len: usize) -> Result<u8, VstorError> {
    match u8::try_from(len) {
        Ok(l) if l >= 1 && usize::from(l) <= STORVSC_MAX_CMD_LEN => Ok(l),
        _ => Err(VstorError::CdbLength(u8::try_from(len).unwrap_or(u8::MAX))),
    }
}

fn check_direction(direction: DataDirection, length: u32) -> Result<(), VstorError> {
    if direction == DataDirection::None && length != 0 {
        return Err(VstorError::TransferWithoutDirection(length));
    }
    Ok(())
}

/// The status part of an SRB completion (`storvsc_on_io_completion()`'s view).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SrbCompletion {
    /// SRB status with flag bits.
    pub srb_status: u8,
    /// SCSI status byte.
    pub scsi_status: u8,
    /// Sense bytes (the `sense_data` union member).
    pub sense: [u8; STORVSC_SENSE_BUFFER_SIZE],
    /// Valid sense bytes: the host's `sense_info_length`, capped at the version's buffer.
    pub sense_len: u8,
    /// Bytes the host says it transferred (unvalidated; see [`Self::transferred`]).
    pub data_transfer_length: u32,
}

impl SrbCompletion {
    fn from_wire(w: &VmscsiRequest, version: ProtocolVersion) -> Self {
        let mut sense = [0u8; STORVSC_SENSE_BUFFER_SIZE];
        let cap = version.sense_buffer_size();
        bytes::copy_truncated(&mut sense, bytes::head(&w.cdb_or_sense, cap));
        SrbCompletion {
            srb_status: w.srb_status,
            scsi_status: w.scsi_status,
            sense,
            sense_len: w.sense_info_length.min(cap as u8),
            data_transfer_length: w.data_transfer_length,
        }
    }

    /// The sense data Linux copies to the command: only with `CHECK CONDITION` and
    /// `SRB_STATUS_AUTOSENSE_VALID`; empty otherwise.
    pub fn sense_data(&self) -> &[u8] {
        let valid = self.scsi_status == srb::scsi_status::CHECK_CONDITION
            && self.srb_status & srb::srb_status::AUTOSENSE_VALID != 0;
        if valid {
            bytes::head(&self.sense, usize::from(self.sense_len))
        } else {
            &[]
        }
    }

    /// Bytes really transferred, for the residual (`storvsc_command_completion()`): zero on
    /// a failed SRB unless it is `DATA_OVERRUN`, and never more than `requested`.
    pub fn transferred(&self, requested: u32) -> u32 {
        let code = srb::srb_status::code(self.srb_status);
        if code != srb::srb_status::SUCCESS && code != srb::srb_status::DATA_OVERRUN {
            return 0;
        }
        self.data_transfer_length.min(requested)
    }

    /// What the guest should do with the request ([`srb::classify`]).
    pub fn disposition(&self, opcode: u8) -> srb::Disposition {
        srb::classify(opcode, self.srb_status, self.scsi_status, self.sense_data())
    }
}

// ---------------------------------------------------------------------------------------
// Requests (guest to host).

/// A guest request's operation and payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestBody {
    /// `BEGIN_INITIALIZATION`.
    BeginInitialization,
    /// `END_INITIALIZATION`.
    EndInitialization,
    /// `QUERY_PROTOCOL_VERSION` with the proposed version (raw: it may be unknown).
    QueryProtocolVersion {
        /// Proposed version.
        major_minor: u16,
        /// Revision (0 from Linux).
        revision: u16,
    },
    /// `QUERY_PROPERTIES`.
    QueryProperties,
    /// `EXECUTE_SRB`.
    ExecuteSrb(SrbRequest),
    /// `RESET_LUN`.
    ResetLun,
    /// `RESET_ADAPTER`.
    ResetAdapter,
    /// `RESET_BUS` on `vm_srb.path_id`.
    ResetBus {
        /// The channel to reset.
        path_id: u8,
    },
    /// `CREATE_SUB_CHANNELS` with the number wanted.
    CreateSubChannels(u16),
    /// `FCHBA_DATA` (Fibre Channel controllers only).
    FcHbaData,
}

impl RequestBody {
    /// The operation of this request.
    pub const fn operation(&self) -> Operation {
        match self {
            RequestBody::BeginInitialization => Operation::BeginInitialization,
            RequestBody::EndInitialization => Operation::EndInitialization,
            RequestBody::QueryProtocolVersion { .. } => Operation::QueryProtocolVersion,
            RequestBody::QueryProperties => Operation::QueryProperties,
            RequestBody::ExecuteSrb(_) => Operation::ExecuteSrb,
            RequestBody::ResetLun => Operation::ResetLun,
            RequestBody::ResetAdapter => Operation::ResetAdapter,
            RequestBody::ResetBus { .. } => Operation::ResetBus,
            RequestBody::CreateSubChannels(_) => Operation::CreateSubChannels,
            RequestBody::FcHbaData => Operation::FcHbaData,
        }
    }

    /// What the completion of this request carries.
    pub const fn expect(&self, version: Option<ProtocolVersion>) -> Expect {
        match self {
            RequestBody::QueryProtocolVersion { .. } => Expect::Version,
            RequestBody::QueryProperties => Expect::Properties,
            RequestBody::FcHbaData => Expect::FcWwn,
            RequestBody::ExecuteSrb(_) => match version {
                Some(v) => Expect::Srb(v),
                None => Expect::Srb(ProtocolVersion::Win6),
            },
            _ => Expect::Status,
        }
    }
}

/// A parsed guest request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// `vstor_packet.flags` (normally `REQUEST_COMPLETION_FLAG`).
    pub flags: u32,
    /// Operation and payload.
    pub body: RequestBody,
}

/// The packet header fields, from the first 12 bytes.
fn header(packet: &[u8]) -> Result<(u32, u32, u32), VstorError> {
    let got = packet.len();
    let too_short = VstorError::TooShort { need: VSTOR_PACKET_HEADER_SIZE, got };
    let word = |off| bytes::array_at::<4>(packet, off).map(u32::from_le_bytes).ok_or(too_short);
    Ok((word(0)?, word(4)?, word(8)?))
}

/// The payload bytes, requiring at least `need` of them.
fn payload(packet: &[u8], need: usize) -> Result<&[u8], VstorError> {
    let body = bytes::tail(packet, VSTOR_PACKET_HEADER_SIZE);
    if body.len() < need {
        return Err(VstorError::TooShort { need: VSTOR_PACKET_HEADER_SIZE.saturating_add(need), got: packet.len() });
    }
    Ok(body)
}

fn read_payload<T: FromBytes>(packet: &[u8], need: usize) -> Result<T, VstorError> {
    let body = payload(packet, need)?;
    T::read_from_prefix(body)
        .map(|(v, _)| v)
        .map_err(|_| VstorError::TooShort { need: VSTOR_PACKET_HEADER_SIZE.saturating_add(need), got: packet.len() })
}

/// Reads a pre-Win8 or full `vmscsi_request` from the payload (missing extension zero).
fn read_srb(packet: &[u8], version: ProtocolVersion) -> Result<VmscsiRequest, VstorError> {
    let body = payload(packet, version.srb_size())?;
    let mut raw = [0u8; VMSCSI_REQUEST_SIZE];
    bytes::copy_truncated(&mut raw, bytes::head(body, version.srb_size()));
    VmscsiRequest::read_from_bytes(&raw[..])
        .map_err(|_| VstorError::TooShort { need: VMSCSI_REQUEST_SIZE, got: raw.len() })
}

/// Host: parses a guest packet. `version` is the negotiated version (`None` before
/// negotiation: an SRB is then read with the pre-Win8 size; the host's state machine refuses
/// it anyway). Packets longer than needed are accepted (the rest is ignored).
pub fn parse_request(packet: &[u8], version: Option<ProtocolVersion>) -> Result<Request, VstorError> {
    let (op, flags, _status) = header(packet)?;
    let op = Operation::from_u32(op).ok_or(VstorError::UnknownOperation(op))?;
    let body = match op {
        Operation::BeginInitialization => RequestBody::BeginInitialization,
        Operation::EndInitialization => RequestBody::EndInitialization,
        Operation::QueryProperties => RequestBody::QueryProperties,
        Operation::ResetLun => RequestBody::ResetLun,
        Operation::ResetAdapter => RequestBody::ResetAdapter,
        Operation::FcHbaData => RequestBody::FcHbaData,
        Operation::QueryProtocolVersion => {
            let v: VmstorageProtocolVersion = read_payload(packet, 4)?;
            RequestBody::QueryProtocolVersion { major_minor: v.major_minor, revision: v.revision }
        }
        Operation::CreateSubChannels => {
            let n: [u8; 2] = read_payload(packet, 2)?;
            RequestBody::CreateSubChannels(u16::from_le_bytes(n))
        }
        Operation::ResetBus => {
            let p: [u8; 6] = read_payload(packet, 6)?;
            RequestBody::ResetBus { path_id: p[5] }
        }
        Operation::ExecuteSrb => {
            let v = version.unwrap_or(ProtocolVersion::Win6);
            RequestBody::ExecuteSrb(SrbRequest::from_wire(&read_srb(packet, v)?, v)?)
        }
        Operation::CompleteIo | Operation::RemoveDevice | Operation::EnumerateBus => {
            return Err(VstorError::UnexpectedOperation(op))
        }
    };
    Ok(Request { flags, body })
}

/// The wire length a sender uses: the version's packet size, or a full packet before the
/// version is negotiated (current Linux behaviour).
pub const fn wire_len(version: Option<ProtocolVersion>) -> usize {
    match version {
        Some(v) => v.packet_size(),
        None => VSTOR_PACKET_SIZE,
    }
}

/// The length of a host's reply to a request of `request_len` bytes: the request's own
/// size (Hyper-V answers in kind), kept within `MIN_PACKET_SIZE..=VSTOR_PACKET_SIZE`.
pub fn reply_len(request_len: usize) -> usize {
    request_len.clamp(MIN_PACKET_SIZE, VSTOR_PACKET_SIZE)
}

/// Writes a packet: header, then `payload`, then zeros up to `wire_len` bytes. Returns
/// `wire_len`.
pub fn encode_packet(
    buf: &mut [u8],
    wire_len: usize,
    operation: Operation,
    flags: u32,
    status: u32,
    payload: &[u8],
) -> Result<usize, VstorError> {
    if !(MIN_PACKET_SIZE..=VSTOR_PACKET_SIZE).contains(&wire_len) {
        return Err(VstorError::WireLength(wire_len));
    }
    let too_small = VstorError::BufferTooSmall { need: wire_len, got: buf.len() };
    let out = buf.get_mut(..wire_len).ok_or(too_small)?;
    bytes::zero(out);
    let room = wire_len.saturating_sub(VSTOR_PACKET_HEADER_SIZE);
    if payload.len() > room {
        return Err(VstorError::WireLength(wire_len));
    }
    bytes::put(out, 0, &operation.as_u32().to_le_bytes()).ok_or(too_small)?;
    bytes::put(out, 4, &flags.to_le_bytes()).ok_or(too_small)?;
    bytes::put(out, 8, &status.to_le_bytes()).ok_or(too_small)?;
    bytes::put(out, VSTOR_PACKET_HEADER_SIZE, payload).ok_or(too_small)?;
    Ok(wire_len)
}

/// Guest: encodes a request with `REQUEST_COMPLETION_FLAG`, sized for `version`
/// ([`wire_len`]). An SRB needs the negotiated version and is encoded with its size
/// (`vm_srb.length`, sense buffer, Win8 extension only from Win8 on).
pub fn encode_request(
    buf: &mut [u8],
    version: Option<ProtocolVersion>,
    body: &RequestBody,
) -> Result<usize, VstorError> {
    let len = wire_len(version);
    let op = body.operation();
    let flags = REQUEST_COMPLETION_FLAG;
    match body {
        RequestBody::QueryProtocolVersion { major_minor, revision } => {
            let v = VmstorageProtocolVersion { major_minor: *major_minor, revision: *revision };
            encode_packet(buf, len, op, flags, 0, v.as_bytes())
        }
        RequestBody::CreateSubChannels(n) => encode_packet(buf, len, op, flags, 0, &n.to_le_bytes()),
        RequestBody::ResetBus { path_id } => encode_packet(buf, len, op, flags, 0, &[0, 0, 0, 0, 0, *path_id]),
        RequestBody::ExecuteSrb(srb) => {
            let v = version.ok_or(VstorError::UnexpectedOperation(op))?;
            let w = srb.wire(v);
            encode_packet(buf, len, op, flags, 0, bytes::head(w.as_bytes(), v.srb_size()))
        }
        _ => encode_packet(buf, len, op, flags, 0, &[]),
    }
}

/// Guest: encodes `EXECUTE_SRB` for the negotiated `version`.
pub fn encode_execute_srb(buf: &mut [u8], version: ProtocolVersion, srb: &SrbRequest) -> Result<usize, VstorError> {
    encode_request(buf, Some(version), &RequestBody::ExecuteSrb(*srb))
}

// ---------------------------------------------------------------------------------------
// Completions and notifications (host to guest).

/// What a completion's payload holds; decided by the request it completes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Only the status matters (initialization steps, resets, sub-channel creation).
    Status,
    /// `vmstorage_protocol_version`.
    Version,
    /// `vmstorage_channel_properties`.
    Properties,
    /// `hv_fc_wwn_packet`.
    FcWwn,
    /// A `vmscsi_request` of the negotiated version.
    Srb(ProtocolVersion),
}

/// A completion's payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompletionBody {
    /// Nothing beyond the status.
    None,
    /// The version echoed by a `QUERY_PROTOCOL_VERSION` answer.
    Version {
        /// Version.
        major_minor: u16,
        /// Revision.
        revision: u16,
    },
    /// Channel properties.
    Properties(ChannelProperties),
    /// Fibre Channel names.
    FcWwn(HvFcWwnPacket),
    /// An SRB's result.
    Srb(SrbCompletion),
}

/// A parsed `COMPLETE_IO` packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Completion {
    /// `vstor_packet.status` (zero: success).
    pub status: u32,
    /// Payload as expected.
    pub body: CompletionBody,
}

impl Completion {
    /// Whether the host reported success.
    pub const fn ok(&self) -> bool {
        self.status == nt_status::SUCCESS
    }
}

/// Guest: parses a completion (a packet with a non-zero transaction id). The operation must
/// be `COMPLETE_IO` (`storvsc_execute_vstor_op()`); the packet must hold the payload
/// `expect` names, an SRB at the negotiated version's size.
pub fn parse_completion(packet: &[u8], expect: Expect) -> Result<Completion, VstorError> {
    let (op, _flags, status) = header(packet)?;
    let op = Operation::from_u32(op).ok_or(VstorError::UnknownOperation(op))?;
    if op != Operation::CompleteIo {
        return Err(VstorError::UnexpectedOperation(op));
    }
    let body = match expect {
        Expect::Status => CompletionBody::None,
        Expect::Version => {
            let v: VmstorageProtocolVersion = read_payload(packet, 4)?;
            CompletionBody::Version { major_minor: v.major_minor, revision: v.revision }
        }
        Expect::Properties => {
            let p: VmstorageChannelProperties =
                read_payload(packet, core::mem::size_of::<VmstorageChannelProperties>())?;
            CompletionBody::Properties(ChannelProperties::from_wire(&p))
        }
        Expect::FcWwn => CompletionBody::FcWwn(read_payload(packet, core::mem::size_of::<HvFcWwnPacket>())?),
        Expect::Srb(v) => CompletionBody::Srb(SrbCompletion::from_wire(&read_srb(packet, v)?, v)),
    };
    Ok(Completion { status, body })
}

/// A message the host sends on its own (transaction id 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notification {
    /// `REMOVE_DEVICE`: rescan the bus (a LUN was removed).
    RemoveDevice,
    /// `ENUMERATE_BUS`: rescan the bus (LUNs changed).
    EnumerateBus,
}

impl Notification {
    /// The operation carrying it.
    pub const fn operation(self) -> Operation {
        match self {
            Notification::RemoveDevice => Operation::RemoveDevice,
            Notification::EnumerateBus => Operation::EnumerateBus,
        }
    }
}

/// Guest: parses an unsolicited packet (transaction id 0). Like `storvsc_on_channel_callback`
/// only the operation is required; `COMPLETE_IO` and `FCHBA_DATA` are refused there.
pub fn parse_unsolicited(packet: &[u8]) -> Result<Notification, VstorError> {
    let op = bytes::array_at::<4>(packet, 0)
        .map(u32::from_le_bytes)
        .ok_or(VstorError::TooShort { need: 4, got: packet.len() })?;
    let op = Operation::from_u32(op).ok_or(VstorError::UnknownOperation(op))?;
    match op {
        Operation::RemoveDevice => Ok(Notification::RemoveDevice),
        Operation::EnumerateBus => Ok(Notification::EnumerateBus),
        Operation::CompleteIo | Operation::FcHbaData => Err(VstorError::UnsolicitedNotAllowed(op)),
        _ => Err(VstorError::UnexpectedOperation(op)),
    }
}

/// Host: encodes a `COMPLETE_IO` packet of `wire_len` bytes ([`reply_len`]) with `status`
/// and `body`. An SRB body is written at the size `wire_len` allows (pre-Win8: no extension).
pub fn encode_completion(
    buf: &mut [u8],
    wire_len: usize,
    status: u32,
    body: &CompletionBody,
) -> Result<usize, VstorError> {
    let op = Operation::CompleteIo;
    match body {
        CompletionBody::None => encode_packet(buf, wire_len, op, 0, status, &[]),
        CompletionBody::Version { major_minor, revision } => {
            let v = VmstorageProtocolVersion { major_minor: *major_minor, revision: *revision };
            encode_packet(buf, wire_len, op, 0, status, v.as_bytes())
        }
        CompletionBody::Properties(p) => encode_packet(buf, wire_len, op, 0, status, p.to_wire().as_bytes()),
        CompletionBody::FcWwn(w) => encode_packet(buf, wire_len, op, 0, status, w.as_bytes()),
        CompletionBody::Srb(c) => {
            let w = srb_completion_wire(c, wire_len);
            let room = wire_len.saturating_sub(VSTOR_PACKET_HEADER_SIZE);
            encode_packet(buf, wire_len, op, 0, status, bytes::head(w.as_bytes(), room))
        }
    }
}

fn srb_completion_wire(c: &SrbCompletion, wire_len: usize) -> VmscsiRequest {
    let mut w = VmscsiRequest::new_zeroed();
    let room = wire_len.saturating_sub(VSTOR_PACKET_HEADER_SIZE).min(VMSCSI_REQUEST_SIZE);
    w.length = room as u16;
    w.srb_status = c.srb_status;
    w.scsi_status = c.scsi_status;
    w.cdb_length = STORVSC_MAX_CMD_LEN as u8;
    w.sense_info_length = c.sense_len;
    w.data_transfer_length = c.data_transfer_length;
    bytes::copy_truncated(&mut w.cdb_or_sense, bytes::head(&c.sense, usize::from(c.sense_len)));
    w
}

/// Host: the [`SrbCompletion`] answering `req` with the target's `result`. Sense is cut to
/// what the guest offered and the version carries; `AUTOSENSE_VALID` is set when sense is
/// returned with `CHECK CONDITION`; the transfer count never exceeds the request's.
pub fn srb_completion(version: ProtocolVersion, req: &SrbRequest, result: &ScsiResult) -> SrbCompletion {
    let mut sense = [0u8; STORVSC_SENSE_BUFFER_SIZE];
    let cap = usize::from(req.sense_info_length).min(version.sense_buffer_size());
    let sense_len = match &result.sense {
        Some(s) => bytes::copy_truncated(bytes::head_mut(&mut sense, cap), s.as_bytes()),
        None => 0,
    };
    let mut srb_status = result.srb_status;
    if sense_len > 0 && result.scsi_status == srb::scsi_status::CHECK_CONDITION {
        srb_status |= srb::srb_status::AUTOSENSE_VALID;
    }
    SrbCompletion {
        srb_status,
        scsi_status: result.scsi_status,
        sense,
        sense_len: sense_len as u8,
        data_transfer_length: result.transferred.min(req.data_transfer_length),
    }
}

/// Host: encodes the completion of `req` with `result`, status from
/// [`nt_status::for_srb_status`], `wire_len` bytes ([`reply_len`] of the request).
pub fn encode_srb_completion(
    buf: &mut [u8],
    wire_len: usize,
    version: ProtocolVersion,
    req: &SrbRequest,
    result: &ScsiResult,
) -> Result<usize, VstorError> {
    let c = srb_completion(version, req, result);
    encode_completion(buf, wire_len, nt_status::for_srb_status(c.srb_status), &CompletionBody::Srb(c))
}

/// Host: encodes an unsolicited notification (send it with transaction id 0).
pub fn encode_notification(buf: &mut [u8], wire_len: usize, n: Notification) -> Result<usize, VstorError> {
    encode_packet(buf, wire_len, n.operation(), 0, nt_status::SUCCESS, &[])
}
