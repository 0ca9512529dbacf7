// SPDX-License-Identifier: GPL-2.0-only
//! RNDIS messages, as defined in Linux `include/linux/rndis.h` (message types, status codes,
//! media) and `drivers/net/hyperv/hyperv_net.h` (`struct rndis_message` and its union), and
//! in [MS-RNDIS] (the message layouts named below by their MS-RNDIS names).
//!
//! Every message starts with `ndis_msg_type` and `msg_len` (the whole message, header
//! included); all offsets inside a message are relative to the start of the type-specific
//! part, 8 bytes in. NetVSC carries RNDIS messages in `NVSP_MSG1_TYPE_SEND_RNDIS_PKT`: the
//! guest's in a send-buffer section (several data messages may be packed in one, each padded
//! to the host's alignment) or in GPA ranges, the host's in receive-buffer sub-allocations
//! (one message per transfer page range).
//!
//! [`RndisMessage::parse`] validates one message at the start of a buffer; [`Messages`] walks
//! a batch. The builders (`build_*`) write complete messages into caller buffers and return
//! their length; every byte of the message is written.

use crate::bytes;
use crate::packet::PacketMessage;
use zerocopy_derive::{FromBytes, Immutable, IntoBytes, KnownLayout};

// ---------------------------------------------------------------------------------------
// Constants (include/linux/rndis.h).

/// `RNDIS_MAJOR_VERSION`.
pub const RNDIS_MAJOR_VERSION: u32 = 1;
/// `RNDIS_MINOR_VERSION`.
pub const RNDIS_MINOR_VERSION: u32 = 0;

/// `RNDIS_DF_CONNECTIONLESS`.
pub const RNDIS_DF_CONNECTIONLESS: u32 = 0x0000_0001;
/// `RNDIS_DF_CONNECTION_ORIENTED`.
pub const RNDIS_DF_CONNECTION_ORIENTED: u32 = 0x0000_0002;
/// `RNDIS_DF_RAW_DATA`.
pub const RNDIS_DF_RAW_DATA: u32 = 0x0000_0004;

/// `RNDIS_MSG_COMPLETION`: set in the type of every completion.
pub const RNDIS_MSG_COMPLETION: u32 = 0x8000_0000;
/// `RNDIS_MSG_PACKET` (`REMOTE_NDIS_PACKET_MSG`).
pub const RNDIS_MSG_PACKET: u32 = 0x0000_0001;
/// `RNDIS_MSG_INIT` (`REMOTE_NDIS_INITIALIZE_MSG`).
pub const RNDIS_MSG_INIT: u32 = 0x0000_0002;
/// `RNDIS_MSG_INIT_C` (`REMOTE_NDIS_INITIALIZE_CMPLT`).
pub const RNDIS_MSG_INIT_C: u32 = RNDIS_MSG_INIT | RNDIS_MSG_COMPLETION;
/// `RNDIS_MSG_HALT` (`REMOTE_NDIS_HALT_MSG`; no completion).
pub const RNDIS_MSG_HALT: u32 = 0x0000_0003;
/// `RNDIS_MSG_QUERY` (`REMOTE_NDIS_QUERY_MSG`).
pub const RNDIS_MSG_QUERY: u32 = 0x0000_0004;
/// `RNDIS_MSG_QUERY_C` (`REMOTE_NDIS_QUERY_CMPLT`).
pub const RNDIS_MSG_QUERY_C: u32 = RNDIS_MSG_QUERY | RNDIS_MSG_COMPLETION;
/// `RNDIS_MSG_SET` (`REMOTE_NDIS_SET_MSG`).
pub const RNDIS_MSG_SET: u32 = 0x0000_0005;
/// `RNDIS_MSG_SET_C` (`REMOTE_NDIS_SET_CMPLT`).
pub const RNDIS_MSG_SET_C: u32 = RNDIS_MSG_SET | RNDIS_MSG_COMPLETION;
/// `RNDIS_MSG_RESET` (`REMOTE_NDIS_RESET_MSG`).
pub const RNDIS_MSG_RESET: u32 = 0x0000_0006;
/// `RNDIS_MSG_RESET_C` (`REMOTE_NDIS_RESET_CMPLT`).
pub const RNDIS_MSG_RESET_C: u32 = RNDIS_MSG_RESET | RNDIS_MSG_COMPLETION;
/// `RNDIS_MSG_INDICATE` (`REMOTE_NDIS_INDICATE_STATUS_MSG`).
pub const RNDIS_MSG_INDICATE: u32 = 0x0000_0007;
/// `RNDIS_MSG_KEEPALIVE` (`REMOTE_NDIS_KEEPALIVE_MSG`).
pub const RNDIS_MSG_KEEPALIVE: u32 = 0x0000_0008;
/// `RNDIS_MSG_KEEPALIVE_C` (`REMOTE_NDIS_KEEPALIVE_CMPLT`).
pub const RNDIS_MSG_KEEPALIVE_C: u32 = RNDIS_MSG_KEEPALIVE | RNDIS_MSG_COMPLETION;
/// `RNDIS_MSG_BUS`: reserved for lower-layer use.
pub const RNDIS_MSG_BUS: u32 = 0xff00_0001;

/// `RNDIS_STATUS_SUCCESS`.
pub const RNDIS_STATUS_SUCCESS: u32 = 0x0000_0000;
/// `RNDIS_STATUS_PENDING`.
pub const RNDIS_STATUS_PENDING: u32 = 0x0000_0103;
/// `RNDIS_STATUS_NOT_RECOGNIZED`.
pub const RNDIS_STATUS_NOT_RECOGNIZED: u32 = 0x0001_0001;
/// `RNDIS_STATUS_NOT_COPIED`.
pub const RNDIS_STATUS_NOT_COPIED: u32 = 0x0001_0002;
/// `RNDIS_STATUS_NOT_ACCEPTED`.
pub const RNDIS_STATUS_NOT_ACCEPTED: u32 = 0x0001_0003;
/// `RNDIS_STATUS_CALL_ACTIVE`.
pub const RNDIS_STATUS_CALL_ACTIVE: u32 = 0x0001_0007;
/// `RNDIS_STATUS_ONLINE`.
pub const RNDIS_STATUS_ONLINE: u32 = 0x4001_0003;
/// `RNDIS_STATUS_RESET_START`.
pub const RNDIS_STATUS_RESET_START: u32 = 0x4001_0004;
/// `RNDIS_STATUS_RESET_END`.
pub const RNDIS_STATUS_RESET_END: u32 = 0x4001_0005;
/// `RNDIS_STATUS_RING_STATUS`.
pub const RNDIS_STATUS_RING_STATUS: u32 = 0x4001_0006;
/// `RNDIS_STATUS_CLOSED`.
pub const RNDIS_STATUS_CLOSED: u32 = 0x4001_0007;
/// `RNDIS_STATUS_WAN_LINE_UP`.
pub const RNDIS_STATUS_WAN_LINE_UP: u32 = 0x4001_0008;
/// `RNDIS_STATUS_WAN_LINE_DOWN`.
pub const RNDIS_STATUS_WAN_LINE_DOWN: u32 = 0x4001_0009;
/// `RNDIS_STATUS_WAN_FRAGMENT`.
pub const RNDIS_STATUS_WAN_FRAGMENT: u32 = 0x4001_000A;
/// `RNDIS_STATUS_MEDIA_CONNECT`: link up.
pub const RNDIS_STATUS_MEDIA_CONNECT: u32 = 0x4001_000B;
/// `RNDIS_STATUS_MEDIA_DISCONNECT`: link down.
pub const RNDIS_STATUS_MEDIA_DISCONNECT: u32 = 0x4001_000C;
/// `RNDIS_STATUS_HARDWARE_LINE_UP`.
pub const RNDIS_STATUS_HARDWARE_LINE_UP: u32 = 0x4001_000D;
/// `RNDIS_STATUS_HARDWARE_LINE_DOWN`.
pub const RNDIS_STATUS_HARDWARE_LINE_DOWN: u32 = 0x4001_000E;
/// `RNDIS_STATUS_INTERFACE_UP`.
pub const RNDIS_STATUS_INTERFACE_UP: u32 = 0x4001_000F;
/// `RNDIS_STATUS_INTERFACE_DOWN`.
pub const RNDIS_STATUS_INTERFACE_DOWN: u32 = 0x4001_0010;
/// `RNDIS_STATUS_MEDIA_BUSY`.
pub const RNDIS_STATUS_MEDIA_BUSY: u32 = 0x4001_0011;
/// `RNDIS_STATUS_MEDIA_SPECIFIC_INDICATION`.
pub const RNDIS_STATUS_MEDIA_SPECIFIC_INDICATION: u32 = 0x4001_0012;
/// `RNDIS_STATUS_LINK_SPEED_CHANGE`: a u32 link speed (100 bps units) follows.
pub const RNDIS_STATUS_LINK_SPEED_CHANGE: u32 = 0x4001_0013;
/// `RNDIS_STATUS_NETWORK_CHANGE`: Linux emulates a link down/up (new DHCP lease).
pub const RNDIS_STATUS_NETWORK_CHANGE: u32 = 0x4001_0018;
/// `RNDIS_STATUS_NOT_RESETTABLE`.
pub const RNDIS_STATUS_NOT_RESETTABLE: u32 = 0x8001_0001;
/// `RNDIS_STATUS_SOFT_ERRORS`.
pub const RNDIS_STATUS_SOFT_ERRORS: u32 = 0x8001_0003;
/// `RNDIS_STATUS_HARD_ERRORS`.
pub const RNDIS_STATUS_HARD_ERRORS: u32 = 0x8001_0004;
/// `RNDIS_STATUS_BUFFER_OVERFLOW`.
pub const RNDIS_STATUS_BUFFER_OVERFLOW: u32 = 0x8000_0005;
/// `RNDIS_STATUS_FAILURE`.
pub const RNDIS_STATUS_FAILURE: u32 = 0xC000_0001;
/// `RNDIS_STATUS_RESOURCES`.
pub const RNDIS_STATUS_RESOURCES: u32 = 0xC000_009A;
/// `RNDIS_STATUS_NOT_SUPPORTED`: the answer for unknown OIDs.
pub const RNDIS_STATUS_NOT_SUPPORTED: u32 = 0xC000_00BB;
/// `RNDIS_STATUS_CLOSING`.
pub const RNDIS_STATUS_CLOSING: u32 = 0xC001_0002;
/// `RNDIS_STATUS_BAD_VERSION`.
pub const RNDIS_STATUS_BAD_VERSION: u32 = 0xC001_0004;
/// `RNDIS_STATUS_BAD_CHARACTERISTICS`.
pub const RNDIS_STATUS_BAD_CHARACTERISTICS: u32 = 0xC001_0005;
/// `RNDIS_STATUS_ADAPTER_NOT_FOUND`.
pub const RNDIS_STATUS_ADAPTER_NOT_FOUND: u32 = 0xC001_0006;
/// `RNDIS_STATUS_OPEN_FAILED`.
pub const RNDIS_STATUS_OPEN_FAILED: u32 = 0xC001_0007;
/// `RNDIS_STATUS_DEVICE_FAILED`.
pub const RNDIS_STATUS_DEVICE_FAILED: u32 = 0xC001_0008;
/// `RNDIS_STATUS_MULTICAST_FULL`.
pub const RNDIS_STATUS_MULTICAST_FULL: u32 = 0xC001_0009;
/// `RNDIS_STATUS_MULTICAST_EXISTS`.
pub const RNDIS_STATUS_MULTICAST_EXISTS: u32 = 0xC001_000A;
/// `RNDIS_STATUS_MULTICAST_NOT_FOUND`.
pub const RNDIS_STATUS_MULTICAST_NOT_FOUND: u32 = 0xC001_000B;
/// `RNDIS_STATUS_REQUEST_ABORTED`.
pub const RNDIS_STATUS_REQUEST_ABORTED: u32 = 0xC001_000C;
/// `RNDIS_STATUS_RESET_IN_PROGRESS`.
pub const RNDIS_STATUS_RESET_IN_PROGRESS: u32 = 0xC001_000D;
/// `RNDIS_STATUS_INVALID_PACKET`.
pub const RNDIS_STATUS_INVALID_PACKET: u32 = 0xC001_000F;
/// `RNDIS_STATUS_ADAPTER_NOT_READY`.
pub const RNDIS_STATUS_ADAPTER_NOT_READY: u32 = 0xC001_0011;
/// `RNDIS_STATUS_INVALID_LENGTH`.
pub const RNDIS_STATUS_INVALID_LENGTH: u32 = 0xC001_0014;
/// `RNDIS_STATUS_INVALID_DATA`.
pub const RNDIS_STATUS_INVALID_DATA: u32 = 0xC001_0015;
/// `RNDIS_STATUS_BUFFER_TOO_SHORT`.
pub const RNDIS_STATUS_BUFFER_TOO_SHORT: u32 = 0xC001_0016;
/// `RNDIS_STATUS_INVALID_OID`.
pub const RNDIS_STATUS_INVALID_OID: u32 = 0xC001_0017;
/// `RNDIS_STATUS_ADAPTER_REMOVED`.
pub const RNDIS_STATUS_ADAPTER_REMOVED: u32 = 0xC001_0018;
/// `RNDIS_STATUS_UNSUPPORTED_MEDIA`.
pub const RNDIS_STATUS_UNSUPPORTED_MEDIA: u32 = 0xC001_0019;
/// `RNDIS_STATUS_NO_CABLE`.
pub const RNDIS_STATUS_NO_CABLE: u32 = 0xC001_001F;

/// `RNDIS_MEDIUM_802_3`.
pub const RNDIS_MEDIUM_802_3: u32 = 0;
/// `RNDIS_PHYSICAL_MEDIUM_UNSPECIFIED`.
pub const RNDIS_PHYSICAL_MEDIUM_UNSPECIFIED: u32 = 0;
/// `RNDIS_MEDIA_STATE_CONNECTED` (`RNDIS_OID_GEN_MEDIA_CONNECT_STATUS`).
pub const RNDIS_MEDIA_STATE_CONNECTED: u32 = 0;
/// `RNDIS_MEDIA_STATE_DISCONNECTED`.
pub const RNDIS_MEDIA_STATE_DISCONNECTED: u32 = 1;

/// `RNDIS_MAC_OPTION_COPY_LOOKAHEAD_DATA` (`RNDIS_OID_GEN_MAC_OPTIONS`).
pub const RNDIS_MAC_OPTION_COPY_LOOKAHEAD_DATA: u32 = 0x0000_0001;
/// `RNDIS_MAC_OPTION_RECEIVE_SERIALIZED`.
pub const RNDIS_MAC_OPTION_RECEIVE_SERIALIZED: u32 = 0x0000_0002;
/// `RNDIS_MAC_OPTION_TRANSFERS_NOT_PEND`.
pub const RNDIS_MAC_OPTION_TRANSFERS_NOT_PEND: u32 = 0x0000_0004;
/// `RNDIS_MAC_OPTION_NO_LOOPBACK`.
pub const RNDIS_MAC_OPTION_NO_LOOPBACK: u32 = 0x0000_0008;
/// `RNDIS_MAC_OPTION_FULL_DUPLEX`.
pub const RNDIS_MAC_OPTION_FULL_DUPLEX: u32 = 0x0000_0010;
/// `RNDIS_MAC_OPTION_8021P_PRIORITY`.
pub const RNDIS_MAC_OPTION_8021P_PRIORITY: u32 = 0x0000_0040;

/// Size of the common message header (`RNDIS_HEADER_SIZE`).
pub const RNDIS_HEADER_SIZE: usize = 8;
/// `sizeof(struct rndis_message)`: the header and the largest union member.
pub const RNDIS_MESSAGE_STRUCT_SIZE: usize = 52;
/// `RNDIS_AND_PPI_SIZE`: headroom Linux reserves for a transmit header.
pub const RNDIS_AND_PPI_SIZE: usize = RNDIS_MESSAGE_STRUCT_SIZE + crate::ppi::NDIS_ALL_PPI_SIZE;
/// `RNDIS_EXT_LEN` (`rndis_filter.c`): bytes Linux keeps after a response; a completion
/// longer than `RNDIS_MESSAGE_STRUCT_SIZE + RNDIS_EXT_LEN` is refused as an overflow.
pub const RNDIS_EXT_LEN: usize = 4096;
/// The longest control completion Linux accepts.
pub const RNDIS_MAX_RESPONSE_SIZE: usize = RNDIS_MESSAGE_STRUCT_SIZE + RNDIS_EXT_LEN;
/// `max_xfer_size` Linux puts in its INIT request.
pub const LINUX_MAX_XFER_SIZE: u32 = 0x4000;
/// Largest `pkt_alignment_factor` this crate accepts (4 KiB alignment); Linux shifts by it
/// unchecked.
pub const MAX_PKT_ALIGNMENT_FACTOR: u32 = 12;

// ---------------------------------------------------------------------------------------
// Wire structs (drivers/net/hyperv/hyperv_net.h).

/// The common header: `ndis_msg_type`, `msg_len` of `struct rndis_message`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct RndisMessageHeader {
    /// `ndis_msg_type`.
    pub ndis_msg_type: u32,
    /// `msg_len`: the whole message in bytes, header included.
    pub msg_len: u32,
}

/// `struct rndis_initialize_request`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct RndisInitializeRequest {
    /// `req_id`.
    pub req_id: u32,
    /// `major_ver`.
    pub major_ver: u32,
    /// `minor_ver`.
    pub minor_ver: u32,
    /// `max_xfer_size`.
    pub max_xfer_size: u32,
}

/// `struct rndis_initialize_complete`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct RndisInitializeComplete {
    /// `req_id`.
    pub req_id: u32,
    /// `status`.
    pub status: u32,
    /// `major_ver`.
    pub major_ver: u32,
    /// `minor_ver`.
    pub minor_ver: u32,
    /// `dev_flags` (`RNDIS_DF_*`).
    pub dev_flags: u32,
    /// `medium` (`RNDIS_MEDIUM_802_3`).
    pub medium: u32,
    /// `max_pkt_per_msg`: data messages per send-buffer section (Linux `max_pkt`).
    pub max_pkt_per_msg: u32,
    /// `max_xfer_size`.
    pub max_xfer_size: u32,
    /// `pkt_alignment_factor`: messages in a batch are aligned to `1 << factor`.
    pub pkt_alignment_factor: u32,
    /// `af_list_offset` (call managers only).
    pub af_list_offset: u32,
    /// `af_list_size`.
    pub af_list_size: u32,
}

impl RndisInitializeComplete {
    /// `1 << pkt_alignment_factor` (Linux `pkt_align`), if the factor is at most
    /// [`MAX_PKT_ALIGNMENT_FACTOR`].
    pub fn pkt_align(&self) -> Result<u32, RndisError> {
        let f = self.pkt_alignment_factor;
        if f > MAX_PKT_ALIGNMENT_FACTOR {
            return Err(RndisError::AlignmentFactor(f));
        }
        1u32.checked_shl(f).ok_or(RndisError::AlignmentFactor(f))
    }
}

/// `struct rndis_halt_request`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct RndisHaltRequest {
    /// `req_id`.
    pub req_id: u32,
}

/// `struct rndis_query_request`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct RndisQueryRequest {
    /// `req_id`.
    pub req_id: u32,
    /// `oid`.
    pub oid: u32,
    /// `info_buflen`: input data of the query (Linux sends some for offload and RSS queries).
    pub info_buflen: u32,
    /// `info_buf_offset`, from the start of this struct.
    pub info_buf_offset: u32,
    /// `dev_vc_handle`.
    pub dev_vc_handle: u32,
}

/// `struct rndis_query_complete`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct RndisQueryComplete {
    /// `req_id`.
    pub req_id: u32,
    /// `status`.
    pub status: u32,
    /// `info_buflen`.
    pub info_buflen: u32,
    /// `info_buf_offset`, from the start of this struct.
    pub info_buf_offset: u32,
}

/// `struct rndis_set_request` (without the flexible `info_buf[]`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct RndisSetRequest {
    /// `req_id`.
    pub req_id: u32,
    /// `oid`.
    pub oid: u32,
    /// `info_buflen`.
    pub info_buflen: u32,
    /// `info_buf_offset`, from the start of this struct.
    pub info_buf_offset: u32,
    /// `dev_vc_handle`.
    pub dev_vc_handle: u32,
}

/// `struct rndis_set_complete`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct RndisSetComplete {
    /// `req_id`.
    pub req_id: u32,
    /// `status`.
    pub status: u32,
}

/// `struct rndis_reset_request`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct RndisResetRequest {
    /// `reserved`.
    pub reserved: u32,
}

/// `struct rndis_reset_complete` (no request id).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct RndisResetComplete {
    /// `status`.
    pub status: u32,
    /// `addressing_reset`: 1 if the device lost its multicast list and filter.
    pub addressing_reset: u32,
}

/// `struct rndis_indicate_status`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct RndisIndicateStatus {
    /// `status`: the event (`RNDIS_STATUS_*`).
    pub status: u32,
    /// `status_buflen`.
    pub status_buflen: u32,
    /// `status_buf_offset`, from the start of this struct.
    pub status_buf_offset: u32,
}

/// `struct rndis_diagnostic_info`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct RndisDiagnosticInfo {
    /// `diag_status`.
    pub diag_status: u32,
    /// `error_offset`.
    pub error_offset: u32,
}

/// `struct rndis_keepalive_request`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct RndisKeepaliveRequest {
    /// `req_id`.
    pub req_id: u32,
}

/// `struct rndis_keepalive_complete`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct RndisKeepaliveComplete {
    /// `req_id`.
    pub req_id: u32,
    /// `status`.
    pub status: u32,
}

/// `struct rndis_packet`: the data message; offsets are from the start of this struct.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct RndisPacket {
    /// `data_offset`.
    pub data_offset: u32,
    /// `data_len`: bytes of the Ethernet frame.
    pub data_len: u32,
    /// `oob_data_offset`.
    pub oob_data_offset: u32,
    /// `oob_data_len`.
    pub oob_data_len: u32,
    /// `num_oob_data_elements`.
    pub num_oob_data_elements: u32,
    /// `per_pkt_info_offset`.
    pub per_pkt_info_offset: u32,
    /// `per_pkt_info_len`.
    pub per_pkt_info_len: u32,
    /// `vc_handle` (0: connectionless).
    pub vc_handle: u32,
    /// `reserved`.
    pub reserved: u32,
}

/// `struct rndis_oobd`: an out-of-band data record (unused by NetVSC).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct RndisOobd {
    /// `size`.
    pub size: u32,
    /// `type`.
    pub oob_type: u32,
    /// `class_info_offset`.
    pub class_info_offset: u32,
}

/// `sizeof(struct rndis_packet)`.
pub const RNDIS_PACKET_SIZE: usize = 36;

// ---------------------------------------------------------------------------------------
// Errors.

/// Why an RNDIS message was rejected or could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RndisError {
    /// Fewer bytes than the 8-byte header.
    Truncated(usize),
    /// `msg_len` zero (a batch must not contain empty messages).
    ZeroLength,
    /// `msg_len` below the header size.
    LengthBelowHeader(u32),
    /// `msg_len` past the end of the buffer (section or range).
    LengthPastBuffer {
        /// `msg_len`.
        msg_len: u32,
        /// Bytes available.
        have: usize,
    },
    /// A message type this crate does not know (CoNDIS, bus messages, garbage).
    UnknownType(u32),
    /// `msg_len` too short for the type's fixed part.
    TooShortForType {
        /// The message type.
        msg_type: u32,
        /// `msg_len`.
        msg_len: u32,
    },
    /// Bytes left after the last message of a batch, fewer than a header.
    TrailingBytes(usize),
    /// `data_offset` inside the `rndis_packet` header.
    DataOffsetInHeader(u32),
    /// The data (`data_offset`, `data_len`) extends past `msg_len`.
    DataPastMessage {
        /// `data_offset`.
        offset: u32,
        /// `data_len`.
        len: u32,
    },
    /// The OOB area inside the header or past the message.
    OobOutside {
        /// `oob_data_offset`.
        offset: u32,
        /// `oob_data_len`.
        len: u32,
    },
    /// The OOB area overlaps the data.
    OobOverlapsData,
    /// `per_pkt_info_offset` inside the `rndis_packet` header.
    PpiOffsetInHeader(u32),
    /// The PPI area extends past `msg_len`.
    PpiPastMessage {
        /// `per_pkt_info_offset`.
        offset: u32,
        /// `per_pkt_info_len`.
        len: u32,
    },
    /// The PPI area overlaps the data.
    PpiOverlapsData,
    /// The PPI area overlaps the OOB area.
    PpiOverlapsOob,
    /// A PPI offset or record size not a multiple of 4.
    PpiMisaligned(u32),
    /// Fewer bytes left in the PPI area than a record header.
    PpiTruncated(usize),
    /// A record `size` below the record header.
    PpiSizeTooSmall(u32),
    /// A record `size` past the end of the PPI area.
    PpiSizePastArea(u32),
    /// A record `ppi_offset` inside its header or not before the record end.
    PpiDataOffset(u32),
    /// A known record type with fewer data bytes than its value.
    PpiDataTooShort(u32),
    /// A header-relative offset of an information buffer inside the fixed part.
    InfoOffsetInHeader(u32),
    /// An information or status buffer past the end of the message.
    InfoPastMessage {
        /// The buffer offset.
        offset: u32,
        /// The buffer length.
        len: u32,
    },
    /// A `LINK_SPEED_CHANGE` indication without its 4-byte speed.
    StatusBufferTooShort(u32),
    /// `pkt_alignment_factor` above [`MAX_PKT_ALIGNMENT_FACTOR`].
    AlignmentFactor(u32),
    /// A builder value that does not fit its wire field.
    ValueTooLarge,
    /// The output buffer is too small.
    BufferTooSmall {
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        have: usize,
    },
}

impl RndisError {
    /// A short description for log lines.
    pub const fn as_str(&self) -> &'static str {
        match self {
            RndisError::Truncated(_) => "rndis message shorter than its header",
            RndisError::ZeroLength => "rndis message of length zero",
            RndisError::LengthBelowHeader(_) => "rndis msg_len below the header size",
            RndisError::LengthPastBuffer { .. } => "rndis msg_len past the buffer",
            RndisError::UnknownType(_) => "unknown rndis message type",
            RndisError::TooShortForType { .. } => "rndis message too short for its type",
            RndisError::TrailingBytes(_) => "trailing bytes after the last rndis message",
            RndisError::DataOffsetInHeader(_) => "rndis data offset inside the packet header",
            RndisError::DataPastMessage { .. } => "rndis data past the message",
            RndisError::OobOutside { .. } => "rndis oob data outside the message",
            RndisError::OobOverlapsData => "rndis oob data overlaps the packet data",
            RndisError::PpiOffsetInHeader(_) => "rndis ppi offset inside the packet header",
            RndisError::PpiPastMessage { .. } => "rndis ppi area past the message",
            RndisError::PpiOverlapsData => "rndis ppi area overlaps the packet data",
            RndisError::PpiOverlapsOob => "rndis ppi area overlaps the oob data",
            RndisError::PpiMisaligned(_) => "rndis ppi offset or size not a multiple of 4",
            RndisError::PpiTruncated(_) => "rndis ppi record header truncated",
            RndisError::PpiSizeTooSmall(_) => "rndis ppi size below its header",
            RndisError::PpiSizePastArea(_) => "rndis ppi size past the ppi area",
            RndisError::PpiDataOffset(_) => "rndis ppi data offset outside its record",
            RndisError::PpiDataTooShort(_) => "rndis ppi data too short for its type",
            RndisError::InfoOffsetInHeader(_) => "rndis information buffer inside the fixed part",
            RndisError::InfoPastMessage { .. } => "rndis information buffer past the message",
            RndisError::StatusBufferTooShort(_) => "rndis status buffer too short",
            RndisError::AlignmentFactor(_) => "rndis packet alignment factor too large",
            RndisError::ValueTooLarge => "value does not fit its rndis field",
            RndisError::BufferTooSmall { .. } => "output buffer too small",
        }
    }
}

impl core::fmt::Display for RndisError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

// ---------------------------------------------------------------------------------------
// Parsed messages.

/// `REMOTE_NDIS_QUERY_MSG` with its input buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueryRequest<'a> {
    /// The fixed part.
    pub req: RndisQueryRequest,
    /// The `info_buflen` bytes at `info_buf_offset` (empty when the length is 0).
    pub info: &'a [u8],
}

/// `REMOTE_NDIS_QUERY_CMPLT` with its result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueryComplete<'a> {
    /// The fixed part.
    pub cmplt: RndisQueryComplete,
    /// The result bytes.
    pub info: &'a [u8],
}

/// `REMOTE_NDIS_SET_MSG` with its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetRequest<'a> {
    /// The fixed part.
    pub req: RndisSetRequest,
    /// The `info_buflen` bytes at `info_buf_offset`.
    pub info: &'a [u8],
}

/// `REMOTE_NDIS_INDICATE_STATUS_MSG` with its status buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatusIndication<'a> {
    /// `status`.
    pub status: u32,
    /// The status buffer (empty when `status_buflen` is 0).
    pub buffer: &'a [u8],
}

/// What a status indication means to NetVSC (`netvsc_linkstatus_callback()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusEvent {
    /// `RNDIS_STATUS_MEDIA_CONNECT`: carrier on (or, when already up, notify peers).
    MediaConnect,
    /// `RNDIS_STATUS_MEDIA_DISCONNECT`: carrier off.
    MediaDisconnect,
    /// `RNDIS_STATUS_NETWORK_CHANGE`: Linux takes the link down and up again.
    NetworkChange,
    /// `RNDIS_STATUS_LINK_SPEED_CHANGE` with the new speed in 100 bps units.
    LinkSpeedChange {
        /// The speed; Linux reports `speed_100bps / 10000` Mbit/s.
        speed_100bps: u32,
    },
    /// Any other status, ignored by Linux.
    Other(u32),
}

impl StatusIndication<'_> {
    /// Classifies the indication; a link speed change must carry its 4-byte speed.
    pub fn event(&self) -> Result<StatusEvent, RndisError> {
        Ok(match self.status {
            RNDIS_STATUS_MEDIA_CONNECT => StatusEvent::MediaConnect,
            RNDIS_STATUS_MEDIA_DISCONNECT => StatusEvent::MediaDisconnect,
            RNDIS_STATUS_NETWORK_CHANGE => StatusEvent::NetworkChange,
            RNDIS_STATUS_LINK_SPEED_CHANGE => {
                let len = u32::try_from(self.buffer.len()).unwrap_or(u32::MAX);
                let speed = bytes::u32_at(self.buffer, 0).ok_or(RndisError::StatusBufferTooShort(len))?;
                StatusEvent::LinkSpeedChange { speed_100bps: speed }
            }
            other => StatusEvent::Other(other),
        })
    }
}

/// One RNDIS message, parsed and validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RndisMessage<'a> {
    /// `RNDIS_MSG_PACKET`.
    Packet(PacketMessage<'a>),
    /// `RNDIS_MSG_INIT`.
    Init(RndisInitializeRequest),
    /// `RNDIS_MSG_INIT_C`.
    InitComplete(RndisInitializeComplete),
    /// `RNDIS_MSG_HALT`.
    Halt(RndisHaltRequest),
    /// `RNDIS_MSG_QUERY`.
    Query(QueryRequest<'a>),
    /// `RNDIS_MSG_QUERY_C`.
    QueryComplete(QueryComplete<'a>),
    /// `RNDIS_MSG_SET`.
    Set(SetRequest<'a>),
    /// `RNDIS_MSG_SET_C`.
    SetComplete(RndisSetComplete),
    /// `RNDIS_MSG_RESET`.
    Reset(RndisResetRequest),
    /// `RNDIS_MSG_RESET_C`.
    ResetComplete(RndisResetComplete),
    /// `RNDIS_MSG_INDICATE`.
    IndicateStatus(StatusIndication<'a>),
    /// `RNDIS_MSG_KEEPALIVE`.
    Keepalive(RndisKeepaliveRequest),
    /// `RNDIS_MSG_KEEPALIVE_C`.
    KeepaliveComplete(RndisKeepaliveComplete),
}

/// The fixed part of a message body, if `msg_len` holds it.
fn fixed<T: zerocopy::FromBytes>(body: &[u8], msg_type: u32, msg_len: u32) -> Result<T, RndisError> {
    bytes::read(body, 0).ok_or(RndisError::TooShortForType { msg_type, msg_len })
}

/// The `len` bytes at `offset` (from the start of the body) of a message body whose fixed
/// part is `fixed_len` bytes; empty when `len` is 0.
fn info_buffer(body: &[u8], offset: u32, len: u32, fixed_len: usize) -> Result<&[u8], RndisError> {
    if len == 0 {
        return Ok(&[]);
    }
    let off = usize::try_from(offset).map_err(|_| RndisError::InfoPastMessage { offset, len })?;
    if off < fixed_len {
        return Err(RndisError::InfoOffsetInHeader(offset));
    }
    let n = usize::try_from(len).map_err(|_| RndisError::InfoPastMessage { offset, len })?;
    bytes::sub(body, off, n).ok_or(RndisError::InfoPastMessage { offset, len })
}

impl<'a> RndisMessage<'a> {
    /// Parses the message at the start of `buf` and returns it with its length (`msg_len`).
    ///
    /// Checks: the header fits; `msg_len` is not zero, holds the header and fits in `buf`;
    /// the type is known and `msg_len` holds its fixed part; every offset/length pair lies
    /// inside the message (see [`PacketMessage`] for data messages). One deliberate
    /// exception, as `netvsc_linkstatus_callback()`: an indication's status buffer is checked
    /// against `buf`, not `msg_len`, because pre-Fe Hyper-V vSwitches did not count it in
    /// `msg_len`; pass the transfer range (or the section remainder) as `buf`.
    pub fn parse(buf: &'a [u8]) -> Result<(RndisMessage<'a>, usize), RndisError> {
        let h: RndisMessageHeader = bytes::read(buf, 0).ok_or(RndisError::Truncated(buf.len()))?;
        let msg_len = h.msg_len;
        if msg_len == 0 {
            return Err(RndisError::ZeroLength);
        }
        let len = usize::try_from(msg_len).map_err(|_| RndisError::LengthPastBuffer { msg_len, have: buf.len() })?;
        if len < RNDIS_HEADER_SIZE {
            return Err(RndisError::LengthBelowHeader(msg_len));
        }
        let msg = buf.get(..len).ok_or(RndisError::LengthPastBuffer { msg_len, have: buf.len() })?;
        let body = bytes::tail(msg, RNDIS_HEADER_SIZE);
        let t = h.ndis_msg_type;
        let m = match t {
            RNDIS_MSG_PACKET => RndisMessage::Packet(PacketMessage::parse_message(msg)?),
            RNDIS_MSG_INIT => RndisMessage::Init(fixed(body, t, msg_len)?),
            RNDIS_MSG_INIT_C => RndisMessage::InitComplete(fixed(body, t, msg_len)?),
            RNDIS_MSG_HALT => RndisMessage::Halt(fixed(body, t, msg_len)?),
            RNDIS_MSG_QUERY => {
                let req: RndisQueryRequest = fixed(body, t, msg_len)?;
                let info = info_buffer(body, req.info_buf_offset, req.info_buflen, core::mem::size_of::<RndisQueryRequest>())?;
                RndisMessage::Query(QueryRequest { req, info })
            }
            RNDIS_MSG_QUERY_C => {
                let cmplt: RndisQueryComplete = fixed(body, t, msg_len)?;
                let info =
                    info_buffer(body, cmplt.info_buf_offset, cmplt.info_buflen, core::mem::size_of::<RndisQueryComplete>())?;
                RndisMessage::QueryComplete(QueryComplete { cmplt, info })
            }
            RNDIS_MSG_SET => {
                let req: RndisSetRequest = fixed(body, t, msg_len)?;
                let info = info_buffer(body, req.info_buf_offset, req.info_buflen, core::mem::size_of::<RndisSetRequest>())?;
                RndisMessage::Set(SetRequest { req, info })
            }
            RNDIS_MSG_SET_C => RndisMessage::SetComplete(fixed(body, t, msg_len)?),
            RNDIS_MSG_RESET => RndisMessage::Reset(fixed(body, t, msg_len)?),
            RNDIS_MSG_RESET_C => RndisMessage::ResetComplete(fixed(body, t, msg_len)?),
            RNDIS_MSG_INDICATE => {
                let ind: RndisIndicateStatus = fixed(body, t, msg_len)?;
                let whole = bytes::tail(buf, RNDIS_HEADER_SIZE);
                let buffer =
                    info_buffer(whole, ind.status_buf_offset, ind.status_buflen, core::mem::size_of::<RndisIndicateStatus>())?;
                RndisMessage::IndicateStatus(StatusIndication { status: ind.status, buffer })
            }
            RNDIS_MSG_KEEPALIVE => RndisMessage::Keepalive(fixed(body, t, msg_len)?),
            RNDIS_MSG_KEEPALIVE_C => RndisMessage::KeepaliveComplete(fixed(body, t, msg_len)?),
            other => return Err(RndisError::UnknownType(other)),
        };
        Ok((m, len))
    }

    /// The message type.
    pub fn msg_type(&self) -> u32 {
        match self {
            RndisMessage::Packet(_) => RNDIS_MSG_PACKET,
            RndisMessage::Init(_) => RNDIS_MSG_INIT,
            RndisMessage::InitComplete(_) => RNDIS_MSG_INIT_C,
            RndisMessage::Halt(_) => RNDIS_MSG_HALT,
            RndisMessage::Query(_) => RNDIS_MSG_QUERY,
            RndisMessage::QueryComplete(_) => RNDIS_MSG_QUERY_C,
            RndisMessage::Set(_) => RNDIS_MSG_SET,
            RndisMessage::SetComplete(_) => RNDIS_MSG_SET_C,
            RndisMessage::Reset(_) => RNDIS_MSG_RESET,
            RndisMessage::ResetComplete(_) => RNDIS_MSG_RESET_C,
            RndisMessage::IndicateStatus(_) => RNDIS_MSG_INDICATE,
            RndisMessage::Keepalive(_) => RNDIS_MSG_KEEPALIVE,
            RndisMessage::KeepaliveComplete(_) => RNDIS_MSG_KEEPALIVE_C,
        }
    }

    /// The request id of requests and of completions that carry one (`None` for data
    /// messages, RESET, RESET_C and indications). Linux matches responses on it.
    pub fn request_id(&self) -> Option<u32> {
        match self {
            RndisMessage::Init(m) => Some(m.req_id),
            RndisMessage::InitComplete(m) => Some(m.req_id),
            RndisMessage::Halt(m) => Some(m.req_id),
            RndisMessage::Query(m) => Some(m.req.req_id),
            RndisMessage::QueryComplete(m) => Some(m.cmplt.req_id),
            RndisMessage::Set(m) => Some(m.req.req_id),
            RndisMessage::SetComplete(m) => Some(m.req_id),
            RndisMessage::Keepalive(m) => Some(m.req_id),
            RndisMessage::KeepaliveComplete(m) => Some(m.req_id),
            RndisMessage::Packet(_) | RndisMessage::Reset(_) | RndisMessage::ResetComplete(_) | RndisMessage::IndicateStatus(_) => {
                None
            }
        }
    }

    /// Writes the message in canonical form (information and status buffers right after
    /// the fixed part, data messages via [`crate::packet::build_packet`]); returns its
    /// length.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, RndisError> {
        match self {
            RndisMessage::Packet(p) => crate::packet::build_packet(out, p),
            RndisMessage::Init(m) => build_fixed(out, RNDIS_MSG_INIT, m),
            RndisMessage::InitComplete(m) => build_fixed(out, RNDIS_MSG_INIT_C, m),
            RndisMessage::Halt(m) => build_fixed(out, RNDIS_MSG_HALT, m),
            RndisMessage::Query(q) => build_query(out, q.req.req_id, q.req.oid, q.info),
            RndisMessage::QueryComplete(q) => build_query_complete(out, q.cmplt.req_id, q.cmplt.status, q.info),
            RndisMessage::Set(s) => build_set(out, s.req.req_id, s.req.oid, s.info),
            RndisMessage::SetComplete(m) => build_fixed(out, RNDIS_MSG_SET_C, m),
            RndisMessage::Reset(m) => build_fixed(out, RNDIS_MSG_RESET, m),
            RndisMessage::ResetComplete(m) => build_fixed(out, RNDIS_MSG_RESET_C, m),
            RndisMessage::IndicateStatus(s) => build_indicate_status(out, s.status, s.buffer),
            RndisMessage::Keepalive(m) => build_fixed(out, RNDIS_MSG_KEEPALIVE, m),
            RndisMessage::KeepaliveComplete(m) => build_fixed(out, RNDIS_MSG_KEEPALIVE_C, m),
        }
    }
}

/// Iterator over the RNDIS messages packed in a buffer (a send-buffer section on the host:
/// Linux batches up to `max_pkt_per_msg` data messages, each `msg_len` including its padding).
/// Yields an error and stops on the first bad message: an empty message
/// ([`RndisError::ZeroLength`]), a partial header at the end ([`RndisError::TrailingBytes`]),
/// or any error of [`RndisMessage::parse`].
#[derive(Clone, Debug)]
pub struct Messages<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Messages<'a> {
    /// Iterates over the messages of `buf`.
    pub const fn new(buf: &'a [u8]) -> Self {
        Messages { rest: buf, failed: false }
    }

    /// The bytes not consumed yet; after an error, the bytes from the start of the message
    /// that failed. When Linux sends a batch whose last data message only has its header in
    /// the section (`cp_partial`: the frame follows as GPA ranges), the walk ends with
    /// [`RndisError::LengthPastBuffer`] and this header is read with
    /// [`crate::packet::parse_packet_header`].
    pub const fn remaining(&self) -> &'a [u8] {
        self.rest
    }
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<RndisMessage<'a>, RndisError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        if self.rest.len() < RNDIS_HEADER_SIZE {
            self.failed = true;
            return Some(Err(RndisError::TrailingBytes(self.rest.len())));
        }
        match RndisMessage::parse(self.rest) {
            Ok((m, len)) => {
                self.rest = bytes::tail(self.rest, len);
                Some(Ok(m))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Builders.

/// `RNDIS_MESSAGE_SIZE(T)`: header plus the fixed part `T`.
pub const fn rndis_message_size<T>() -> usize {
    RNDIS_HEADER_SIZE + core::mem::size_of::<T>()
}

/// Writes header, fixed part and `extra` (right after the fixed part); returns the length.
fn build_with<T: zerocopy::IntoBytes + zerocopy::Immutable>(
    out: &mut [u8],
    msg_type: u32,
    fixed: &T,
    extra: &[u8],
) -> Result<usize, RndisError> {
    let flen = core::mem::size_of::<T>();
    let len = RNDIS_HEADER_SIZE
        .checked_add(flen)
        .and_then(|n| n.checked_add(extra.len()))
        .ok_or(RndisError::ValueTooLarge)?;
    let msg_len = u32::try_from(len).map_err(|_| RndisError::ValueTooLarge)?;
    let too_small = RndisError::BufferTooSmall { need: len, have: out.len() };
    let h = RndisMessageHeader { ndis_msg_type: msg_type, msg_len };
    bytes::write(out, 0, &h)
        .and_then(|_| bytes::write(out, RNDIS_HEADER_SIZE, fixed))
        .and_then(|_| bytes::put(out, RNDIS_HEADER_SIZE + flen, extra))
        .ok_or(too_small)?;
    Ok(len)
}

fn build_fixed<T: zerocopy::IntoBytes + zerocopy::Immutable>(out: &mut [u8], msg_type: u32, fixed: &T) -> Result<usize, RndisError> {
    build_with(out, msg_type, fixed, &[])
}

fn len_u32(b: &[u8]) -> Result<u32, RndisError> {
    u32::try_from(b.len()).map_err(|_| RndisError::ValueTooLarge)
}

/// Guest: `REMOTE_NDIS_INITIALIZE_MSG` for RNDIS 1.0 (`rndis_filter_init_device()`, which
/// uses [`LINUX_MAX_XFER_SIZE`]).
pub fn build_init(out: &mut [u8], req_id: u32, max_xfer_size: u32) -> Result<usize, RndisError> {
    let m = RndisInitializeRequest { req_id, major_ver: RNDIS_MAJOR_VERSION, minor_ver: RNDIS_MINOR_VERSION, max_xfer_size };
    build_fixed(out, RNDIS_MSG_INIT, &m)
}

/// Host: `REMOTE_NDIS_INITIALIZE_CMPLT`.
pub fn build_init_complete(out: &mut [u8], c: &RndisInitializeComplete) -> Result<usize, RndisError> {
    build_fixed(out, RNDIS_MSG_INIT_C, c)
}

/// Guest: `REMOTE_NDIS_HALT_MSG`.
pub fn build_halt(out: &mut [u8], req_id: u32) -> Result<usize, RndisError> {
    build_fixed(out, RNDIS_MSG_HALT, &RndisHaltRequest { req_id })
}

/// Guest: `REMOTE_NDIS_QUERY_MSG` for `oid`, with `info` as input data at offset
/// `sizeof(struct rndis_query_request)` (`rndis_filter_query_device()`; the offset is set
/// even without data).
pub fn build_query(out: &mut [u8], req_id: u32, oid: u32, info: &[u8]) -> Result<usize, RndisError> {
    let q = RndisQueryRequest {
        req_id,
        oid,
        info_buflen: len_u32(info)?,
        info_buf_offset: core::mem::size_of::<RndisQueryRequest>() as u32,
        dev_vc_handle: 0,
    };
    build_with(out, RNDIS_MSG_QUERY, &q, info)
}

/// Host: `REMOTE_NDIS_QUERY_CMPLT` with `info` as result. The offset is always
/// `sizeof(struct rndis_query_complete)`: `rndis_filter_query_device()` rejects smaller
/// offsets even for empty results.
pub fn build_query_complete(out: &mut [u8], req_id: u32, status: u32, info: &[u8]) -> Result<usize, RndisError> {
    let c = RndisQueryComplete {
        req_id,
        status,
        info_buflen: len_u32(info)?,
        info_buf_offset: core::mem::size_of::<RndisQueryComplete>() as u32,
    };
    build_with(out, RNDIS_MSG_QUERY_C, &c, info)
}

/// Guest: `REMOTE_NDIS_SET_MSG` for `oid` with `info` at offset
/// `sizeof(struct rndis_set_request)` (`offsetof(info_buf)`).
pub fn build_set(out: &mut [u8], req_id: u32, oid: u32, info: &[u8]) -> Result<usize, RndisError> {
    let s = RndisSetRequest {
        req_id,
        oid,
        info_buflen: len_u32(info)?,
        info_buf_offset: core::mem::size_of::<RndisSetRequest>() as u32,
        dev_vc_handle: 0,
    };
    build_with(out, RNDIS_MSG_SET, &s, info)
}

/// Host: `REMOTE_NDIS_SET_CMPLT`.
pub fn build_set_complete(out: &mut [u8], req_id: u32, status: u32) -> Result<usize, RndisError> {
    build_fixed(out, RNDIS_MSG_SET_C, &RndisSetComplete { req_id, status })
}

/// Guest: `REMOTE_NDIS_RESET_MSG`.
pub fn build_reset(out: &mut [u8]) -> Result<usize, RndisError> {
    build_fixed(out, RNDIS_MSG_RESET, &RndisResetRequest { reserved: 0 })
}

/// Host: `REMOTE_NDIS_RESET_CMPLT`.
pub fn build_reset_complete(out: &mut [u8], status: u32, addressing_reset: bool) -> Result<usize, RndisError> {
    build_fixed(out, RNDIS_MSG_RESET_C, &RndisResetComplete { status, addressing_reset: u32::from(addressing_reset) })
}

/// Either side: `REMOTE_NDIS_KEEPALIVE_MSG`.
pub fn build_keepalive(out: &mut [u8], req_id: u32) -> Result<usize, RndisError> {
    build_fixed(out, RNDIS_MSG_KEEPALIVE, &RndisKeepaliveRequest { req_id })
}

/// Either side: `REMOTE_NDIS_KEEPALIVE_CMPLT`.
pub fn build_keepalive_complete(out: &mut [u8], req_id: u32, status: u32) -> Result<usize, RndisError> {
    build_fixed(out, RNDIS_MSG_KEEPALIVE_C, &RndisKeepaliveComplete { req_id, status })
}

/// Host: `REMOTE_NDIS_INDICATE_STATUS_MSG` for `status` with `buffer` right after the fixed
/// part (offset `sizeof(struct rndis_indicate_status)`, counted in `msg_len`; offset 0 when
/// the buffer is empty).
pub fn build_indicate_status(out: &mut [u8], status: u32, buffer: &[u8]) -> Result<usize, RndisError> {
    let off = if buffer.is_empty() { 0 } else { core::mem::size_of::<RndisIndicateStatus>() as u32 };
    let s = RndisIndicateStatus { status, status_buflen: len_u32(buffer)?, status_buf_offset: off };
    build_with(out, RNDIS_MSG_INDICATE, &s, buffer)
}

/// Host: a link speed change indication (`speed_100bps` in 100 bps units).
pub fn build_link_speed_indication(out: &mut [u8], speed_100bps: u32) -> Result<usize, RndisError> {
    build_indicate_status(out, RNDIS_STATUS_LINK_SPEED_CHANGE, &speed_100bps.to_le_bytes())
}
