// SPDX-License-Identifier: GPL-2.0-only
//! NVSP: the network VSP protocol spoken on the synthetic NIC's VMBus channel, as defined in
//! Linux `drivers/net/hyperv/hyperv_net.h` (`struct nvsp_message` and its unions) and used by
//! `netvsc.c`.
//!
//! Every message is a 4-byte type ([`NvspMessageHeader`]) followed by a type-specific payload;
//! Linux always sends `sizeof(struct nvsp_message)` = [`NVSP_MESSAGE_SIZE`] (40) bytes, except
//! the receive completion (`recv_comp_msg` in `send_recv_completions()`: header and status,
//! 8 bytes). Version 1 hosts know 28-byte messages ([`NVSP_LEGACY_MESSAGE_SIZE`]); a receiver
//! accepts any length that holds its type's payload, as Linux does.
//!
//! [`parse`] validates the type, the sender (some types only travel one way, and two types mean
//! different things in each direction), the length for the type and the arrays inside a
//! message (receive buffer sections, the send indirection table, PD batch entries).
//! [`NvspMessage::encode`] writes a message into a caller buffer with every reserved and
//! padding byte zero.
//!
//! Wire structs are `repr(C, packed)` where the C struct is `__packed` (all integers
//! little-endian; native integers are used because the suite is x86-64 only).

use crate::bytes;
use core::ops::Range;
use zerocopy::{FromBytes, Immutable, KnownLayout};
use zerocopy_derive::{FromBytes, Immutable, IntoBytes, KnownLayout};

// ---------------------------------------------------------------------------------------
// Versions.

/// `NVSP_INVALID_PROTOCOL_VERSION`.
pub const NVSP_INVALID_PROTOCOL_VERSION: u32 = 0xFFFF_FFFF;
/// `NVSP_PROTOCOL_VERSION_1` (Windows Server 2008).
pub const NVSP_PROTOCOL_VERSION_1: u32 = 2;
/// `NVSP_PROTOCOL_VERSION_2` (Windows Server 2008 R2).
pub const NVSP_PROTOCOL_VERSION_2: u32 = 0x30002;
/// `NVSP_PROTOCOL_VERSION_4` (Windows Server 2012).
pub const NVSP_PROTOCOL_VERSION_4: u32 = 0x40000;
/// `NVSP_PROTOCOL_VERSION_5` (Windows Server 2012 R2: vRSS, subchannels).
pub const NVSP_PROTOCOL_VERSION_5: u32 = 0x50000;
/// `NVSP_PROTOCOL_VERSION_6`.
pub const NVSP_PROTOCOL_VERSION_6: u32 = 0x60000;
/// `NVSP_PROTOCOL_VERSION_61` (RSC over VMBus, PacketDirect).
pub const NVSP_PROTOCOL_VERSION_61: u32 = 0x60001;

/// An NVSP protocol version Linux knows, oldest first (so `<` compares age).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NvspVersion {
    /// `NVSP_PROTOCOL_VERSION_1`.
    V1,
    /// `NVSP_PROTOCOL_VERSION_2`.
    V2,
    /// `NVSP_PROTOCOL_VERSION_4`.
    V4,
    /// `NVSP_PROTOCOL_VERSION_5`.
    V5,
    /// `NVSP_PROTOCOL_VERSION_6`.
    V6,
    /// `NVSP_PROTOCOL_VERSION_61`.
    V61,
}

/// An NDIS version as sent in [`Nvsp1SendNdisVersion`] (`ndis_version` in
/// `netvsc_connect_vsp()`: major in the high 16 bits, minor in the low 16 bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NdisVersion {
    /// `ndis_major_ver`.
    pub major: u32,
    /// `ndis_minor_ver`.
    pub minor: u32,
}

/// NDIS 6.1, announced by Linux on NVSP 4 and older (`0x00060001` in `netvsc_connect_vsp()`).
pub const NDIS_VERSION_6_1: NdisVersion = NdisVersion { major: 6, minor: 1 };
/// NDIS 6.30, announced by Linux on NVSP 5 and newer (`0x0006001e` in `netvsc_connect_vsp()`).
pub const NDIS_VERSION_6_30: NdisVersion = NdisVersion { major: 6, minor: 30 };

impl NdisVersion {
    /// The combined value `major << 16 | minor` (the low 16 bits of each half).
    pub const fn raw(self) -> u32 {
        ((self.major & 0xffff) << 16) | (self.minor & 0xffff)
    }
}

impl NvspVersion {
    /// Every version, in the order a guest proposes them (newest first: `netvsc_connect_vsp()`
    /// walks `ver_list[]` backwards, sending `min == max == version` each time).
    pub const NEWEST_FIRST: [NvspVersion; 6] =
        [NvspVersion::V61, NvspVersion::V6, NvspVersion::V5, NvspVersion::V4, NvspVersion::V2, NvspVersion::V1];

    /// The wire value (`NVSP_PROTOCOL_VERSION_*`).
    pub const fn raw(self) -> u32 {
        match self {
            NvspVersion::V1 => NVSP_PROTOCOL_VERSION_1,
            NvspVersion::V2 => NVSP_PROTOCOL_VERSION_2,
            NvspVersion::V4 => NVSP_PROTOCOL_VERSION_4,
            NvspVersion::V5 => NVSP_PROTOCOL_VERSION_5,
            NvspVersion::V6 => NVSP_PROTOCOL_VERSION_6,
            NvspVersion::V61 => NVSP_PROTOCOL_VERSION_61,
        }
    }

    /// The version with wire value `v`, if Linux knows it.
    pub const fn from_raw(v: u32) -> Option<Self> {
        match v {
            NVSP_PROTOCOL_VERSION_1 => Some(NvspVersion::V1),
            NVSP_PROTOCOL_VERSION_2 => Some(NvspVersion::V2),
            NVSP_PROTOCOL_VERSION_4 => Some(NvspVersion::V4),
            NVSP_PROTOCOL_VERSION_5 => Some(NvspVersion::V5),
            NVSP_PROTOCOL_VERSION_6 => Some(NvspVersion::V6),
            NVSP_PROTOCOL_VERSION_61 => Some(NvspVersion::V61),
            _ => None,
        }
    }

    /// A short name for log lines.
    pub const fn name(self) -> &'static str {
        match self {
            NvspVersion::V1 => "NVSP 1",
            NvspVersion::V2 => "NVSP 2",
            NvspVersion::V4 => "NVSP 4",
            NvspVersion::V5 => "NVSP 5",
            NvspVersion::V6 => "NVSP 6",
            NvspVersion::V61 => "NVSP 6.1",
        }
    }

    /// Host: the newest version of `allowed` inside the guest's `[min, max]` range (Linux
    /// sends `min == max`). `None` when there is none (answer `NVSP_STAT_FAIL`).
    pub fn negotiate(min: u32, max: u32, allowed: &[NvspVersion]) -> Option<NvspVersion> {
        allowed.iter().copied().filter(|v| min <= v.raw() && v.raw() <= max).max()
    }

    /// The NDIS version Linux announces after negotiating this version.
    pub const fn ndis_version(self) -> NdisVersion {
        match self {
            NvspVersion::V1 | NvspVersion::V2 | NvspVersion::V4 => NDIS_VERSION_6_1,
            NvspVersion::V5 | NvspVersion::V6 | NvspVersion::V61 => NDIS_VERSION_6_30,
        }
    }

    /// Whether the guest sends `NVSP_MSG2_TYPE_SEND_NDIS_CONFIG` (version 2 and later).
    pub const fn sends_ndis_config(self) -> bool {
        !matches!(self, NvspVersion::V1)
    }

    /// The capabilities Linux announces in `NVSP_MSG2_TYPE_SEND_NDIS_CONFIG`
    /// (`negotiate_nvsp_ver()`): IEEE 802.1Q always; SR-IOV (unless `isolated`, i.e.
    /// `hv_is_isolation_supported()`) and teaming (needed for link speed updates) from version
    /// 5; RSC from 6.1.
    pub const fn ndis_config_capability(self, isolated: bool) -> Nvsp2VscCapability {
        let mut c = NVSP_CAP_IEEE8021Q;
        if matches!(self, NvspVersion::V5 | NvspVersion::V6 | NvspVersion::V61) {
            if !isolated {
                c |= NVSP_CAP_SRIOV;
            }
            c |= NVSP_CAP_TEAMING;
        }
        if matches!(self, NvspVersion::V61) {
            c |= NVSP_CAP_RSC;
        }
        Nvsp2VscCapability { data: c }
    }

    /// The largest receive buffer the host accepts (`netvsc_init_buf()`: legacy hosts, version
    /// 2 and older, only `NETVSC_RECEIVE_BUFFER_SIZE_LEGACY`).
    pub const fn max_receive_buffer_size(self) -> u32 {
        match self {
            NvspVersion::V1 | NvspVersion::V2 => NETVSC_RECEIVE_BUFFER_SIZE_LEGACY,
            _ => NETVSC_RECEIVE_BUFFER_SIZE,
        }
    }

    /// Whether subchannels, vRSS and the send indirection table exist (version 5 and later;
    /// `rndis_filter_device_add()` stops before vRSS setup below version 5, and so does the
    /// link speed query).
    pub const fn supports_vrss(self) -> bool {
        matches!(self, NvspVersion::V5 | NvspVersion::V6 | NvspVersion::V61)
    }

    /// Whether UDP checksum offload may be requested (`rndis_filter_set_offload_params()`
    /// clears it on version 4 and older).
    pub const fn supports_udp_checksum_offload(self) -> bool {
        self.supports_vrss()
    }

    /// Whether the send indirection table's offset may be wrong due to a host bug and is
    /// fixed up (`netvsc_send_table()`: version 6 and older).
    pub const fn send_table_offset_quirk(self) -> bool {
        !matches!(self, NvspVersion::V61)
    }

    /// The highest message type valid on this version. Version 6 has version 5's set (the
    /// PacketDirect messages came with 6.1; the Windows VSP keeps version 6's handler count at
    /// version 5's because KDNET depends on it).
    pub const fn max_message_type(self) -> u32 {
        match self {
            NvspVersion::V1 => NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE,
            NvspVersion::V2 => NVSP_MSG2_MAX,
            NvspVersion::V4 => NVSP_MSG4_MAX,
            NvspVersion::V5 | NvspVersion::V6 => NVSP_MSG5_MAX,
            NvspVersion::V61 => NVSP_MSG6_MAX,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Message types and status.

/// `NVSP_MSG_TYPE_NONE`.
pub const NVSP_MSG_TYPE_NONE: u32 = 0;
/// `NVSP_MSG_TYPE_INIT`: guest proposes a version.
pub const NVSP_MSG_TYPE_INIT: u32 = 1;
/// `NVSP_MSG_TYPE_INIT_COMPLETE`: host answers.
pub const NVSP_MSG_TYPE_INIT_COMPLETE: u32 = 2;
/// `NVSP_VERSION_MSG_START`.
pub const NVSP_VERSION_MSG_START: u32 = 100;
/// `NVSP_MSG1_TYPE_SEND_NDIS_VER`.
pub const NVSP_MSG1_TYPE_SEND_NDIS_VER: u32 = 100;
/// `NVSP_MSG1_TYPE_SEND_RECV_BUF`.
pub const NVSP_MSG1_TYPE_SEND_RECV_BUF: u32 = 101;
/// `NVSP_MSG1_TYPE_SEND_RECV_BUF_COMPLETE`.
pub const NVSP_MSG1_TYPE_SEND_RECV_BUF_COMPLETE: u32 = 102;
/// `NVSP_MSG1_TYPE_REVOKE_RECV_BUF`.
pub const NVSP_MSG1_TYPE_REVOKE_RECV_BUF: u32 = 103;
/// `NVSP_MSG1_TYPE_SEND_SEND_BUF`.
pub const NVSP_MSG1_TYPE_SEND_SEND_BUF: u32 = 104;
/// `NVSP_MSG1_TYPE_SEND_SEND_BUF_COMPLETE`.
pub const NVSP_MSG1_TYPE_SEND_SEND_BUF_COMPLETE: u32 = 105;
/// `NVSP_MSG1_TYPE_REVOKE_SEND_BUF`.
pub const NVSP_MSG1_TYPE_REVOKE_SEND_BUF: u32 = 106;
/// `NVSP_MSG1_TYPE_SEND_RNDIS_PKT`.
pub const NVSP_MSG1_TYPE_SEND_RNDIS_PKT: u32 = 107;
/// `NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE`.
pub const NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE: u32 = 108;
/// `NVSP_MSG2_TYPE_SEND_CHIMNEY_DELEGATED_BUF` (TCP chimney; no layout in Linux).
pub const NVSP_MSG2_TYPE_SEND_CHIMNEY_DELEGATED_BUF: u32 = 109;
/// `NVSP_MSG2_TYPE_SEND_CHIMNEY_DELEGATED_BUF_COMP`.
pub const NVSP_MSG2_TYPE_SEND_CHIMNEY_DELEGATED_BUF_COMP: u32 = 110;
/// `NVSP_MSG2_TYPE_REVOKE_CHIMNEY_DELEGATED_BUF`.
pub const NVSP_MSG2_TYPE_REVOKE_CHIMNEY_DELEGATED_BUF: u32 = 111;
/// `NVSP_MSG2_TYPE_RESUME_CHIMNEY_RX_INDICATION`.
pub const NVSP_MSG2_TYPE_RESUME_CHIMNEY_RX_INDICATION: u32 = 112;
/// `NVSP_MSG2_TYPE_TERMINATE_CHIMNEY`.
pub const NVSP_MSG2_TYPE_TERMINATE_CHIMNEY: u32 = 113;
/// `NVSP_MSG2_TYPE_TERMINATE_CHIMNEY_COMP`.
pub const NVSP_MSG2_TYPE_TERMINATE_CHIMNEY_COMP: u32 = 114;
/// `NVSP_MSG2_TYPE_INDICATE_CHIMNEY_EVENT`.
pub const NVSP_MSG2_TYPE_INDICATE_CHIMNEY_EVENT: u32 = 115;
/// `NVSP_MSG2_TYPE_SEND_CHIMNEY_PKT`.
pub const NVSP_MSG2_TYPE_SEND_CHIMNEY_PKT: u32 = 116;
/// `NVSP_MSG2_TYPE_SEND_CHIMNEY_PKT_COMP`.
pub const NVSP_MSG2_TYPE_SEND_CHIMNEY_PKT_COMP: u32 = 117;
/// `NVSP_MSG2_TYPE_POST_CHIMNEY_RECV_REQ`.
pub const NVSP_MSG2_TYPE_POST_CHIMNEY_RECV_REQ: u32 = 118;
/// `NVSP_MSG2_TYPE_POST_CHIMNEY_RECV_REQ_COMP`.
pub const NVSP_MSG2_TYPE_POST_CHIMNEY_RECV_REQ_COMP: u32 = 119;
/// `NVSP_MSG2_TYPE_ALLOC_RXBUF` (deprecated VMQ receive buffers).
pub const NVSP_MSG2_TYPE_ALLOC_RXBUF: u32 = 120;
/// `NVSP_MSG2_TYPE_ALLOC_RXBUF_COMP`.
pub const NVSP_MSG2_TYPE_ALLOC_RXBUF_COMP: u32 = 121;
/// `NVSP_MSG2_TYPE_FREE_RXBUF`.
pub const NVSP_MSG2_TYPE_FREE_RXBUF: u32 = 122;
/// `NVSP_MSG2_TYPE_SEND_VMQ_RNDIS_PKT` (no layout in Linux).
pub const NVSP_MSG2_TYPE_SEND_VMQ_RNDIS_PKT: u32 = 123;
/// `NVSP_MSG2_TYPE_SEND_VMQ_RNDIS_PKT_COMP`.
pub const NVSP_MSG2_TYPE_SEND_VMQ_RNDIS_PKT_COMP: u32 = 124;
/// `NVSP_MSG2_TYPE_SEND_NDIS_CONFIG`: guest's MTU and capabilities.
pub const NVSP_MSG2_TYPE_SEND_NDIS_CONFIG: u32 = 125;
/// `NVSP_MSG2_TYPE_ALLOC_CHIMNEY_HANDLE` (no layout in Linux).
pub const NVSP_MSG2_TYPE_ALLOC_CHIMNEY_HANDLE: u32 = 126;
/// `NVSP_MSG2_TYPE_ALLOC_CHIMNEY_HANDLE_COMP`.
pub const NVSP_MSG2_TYPE_ALLOC_CHIMNEY_HANDLE_COMP: u32 = 127;
/// `NVSP_MSG2_MAX`.
pub const NVSP_MSG2_MAX: u32 = 127;
/// `NVSP_MSG4_TYPE_SEND_VF_ASSOCIATION`: host announces (or withdraws) an SR-IOV VF.
pub const NVSP_MSG4_TYPE_SEND_VF_ASSOCIATION: u32 = 128;
/// `NVSP_MSG4_TYPE_SWITCH_DATA_PATH`: guest moves its data path to or from the VF.
pub const NVSP_MSG4_TYPE_SWITCH_DATA_PATH: u32 = 129;
/// `NVSP_MSG4_TYPE_UPLINK_CONNECT_STATE_DEPRECATED` (no layout in Linux).
pub const NVSP_MSG4_TYPE_UPLINK_CONNECT_STATE_DEPRECATED: u32 = 130;
/// `NVSP_MSG4_MAX`.
pub const NVSP_MSG4_MAX: u32 = 130;
/// `NVSP_MSG5_TYPE_OID_QUERY_EX` (layout not in Linux; see [`Nvsp5OidQueryEx`]).
pub const NVSP_MSG5_TYPE_OID_QUERY_EX: u32 = 131;
/// `NVSP_MSG5_TYPE_OID_QUERY_EX_COMP`.
pub const NVSP_MSG5_TYPE_OID_QUERY_EX_COMP: u32 = 132;
/// `NVSP_MSG5_TYPE_SUBCHANNEL`: guest request and host completion share the type.
pub const NVSP_MSG5_TYPE_SUBCHANNEL: u32 = 133;
/// `NVSP_MSG5_TYPE_SEND_INDIRECTION_TABLE`: host's send indirection table.
pub const NVSP_MSG5_TYPE_SEND_INDIRECTION_TABLE: u32 = 134;
/// `NVSP_MSG5_MAX`.
pub const NVSP_MSG5_MAX: u32 = 134;
/// `NVSP_MSG6_TYPE_PD_API`: PacketDirect API request (guest) and completion (host).
pub const NVSP_MSG6_TYPE_PD_API: u32 = 135;
/// `NVSP_MSG6_TYPE_PD_POST_BATCH`.
pub const NVSP_MSG6_TYPE_PD_POST_BATCH: u32 = 136;
/// `NVSP_MSG6_MAX`.
pub const NVSP_MSG6_MAX: u32 = 136;

/// `NVSP_STAT_NONE`.
pub const NVSP_STAT_NONE: u32 = 0;
/// `NVSP_STAT_SUCCESS`.
pub const NVSP_STAT_SUCCESS: u32 = 1;
/// `NVSP_STAT_FAIL`.
pub const NVSP_STAT_FAIL: u32 = 2;
/// `NVSP_STAT_PROTOCOL_TOO_NEW`.
pub const NVSP_STAT_PROTOCOL_TOO_NEW: u32 = 3;
/// `NVSP_STAT_PROTOCOL_TOO_OLD`.
pub const NVSP_STAT_PROTOCOL_TOO_OLD: u32 = 4;
/// `NVSP_STAT_INVALID_RNDIS_PKT`.
pub const NVSP_STAT_INVALID_RNDIS_PKT: u32 = 5;
/// `NVSP_STAT_BUSY`.
pub const NVSP_STAT_BUSY: u32 = 6;
/// `NVSP_STAT_PROTOCOL_UNSUPPORTED`.
pub const NVSP_STAT_PROTOCOL_UNSUPPORTED: u32 = 7;
/// `NVSP_STAT_MAX`.
pub const NVSP_STAT_MAX: u32 = 8;

/// `channel_type` of [`Nvsp1SendRndisPacket`] for data (`RMC_DATA`, 0 in `netvsc_send_pkt()`).
pub const NVSP_RNDIS_CHANNEL_DATA: u32 = 0;
/// `channel_type` for control messages (`RMC_CONTROL`, 1).
pub const NVSP_RNDIS_CHANNEL_CONTROL: u32 = 1;

/// `NVSP_DATAPATH_SYNTHETIC` (`enum nvsp_vm_datapath`).
pub const NVSP_DATAPATH_SYNTHETIC: u32 = 0;
/// `NVSP_DATAPATH_VF`.
pub const NVSP_DATAPATH_VF: u32 = 1;
/// `NVSP_DATAPATH_MAX`.
pub const NVSP_DATAPATH_MAX: u32 = 2;

/// `NVSP_SUBCHANNEL_NONE` (`enum nvsp_subchannel_operation`).
pub const NVSP_SUBCHANNEL_NONE: u32 = 0;
/// `NVSP_SUBCHANNEL_ALLOCATE`.
pub const NVSP_SUBCHANNEL_ALLOCATE: u32 = 1;
/// `NVSP_SUBCHANNEL_MAX`.
pub const NVSP_SUBCHANNEL_MAX: u32 = 2;

/// `PD_API_OP_CONFIG` (`enum nvsp_6_pd_api_op`).
pub const PD_API_OP_CONFIG: u32 = 1;
/// `PD_API_OP_SW_DATAPATH`.
pub const PD_API_OP_SW_DATAPATH: u32 = 2;
/// `PD_API_OP_OPEN_PROVIDER`.
pub const PD_API_OP_OPEN_PROVIDER: u32 = 3;
/// `PD_API_OP_CLOSE_PROVIDER`.
pub const PD_API_OP_CLOSE_PROVIDER: u32 = 4;
/// `PD_API_OP_CREATE_QUEUE`.
pub const PD_API_OP_CREATE_QUEUE: u32 = 5;
/// `PD_API_OP_FLUSH_QUEUE`.
pub const PD_API_OP_FLUSH_QUEUE: u32 = 6;
/// `PD_API_OP_FREE_QUEUE`.
pub const PD_API_OP_FREE_QUEUE: u32 = 7;
/// `PD_API_OP_ALLOC_COM_BUF`.
pub const PD_API_OP_ALLOC_COM_BUF: u32 = 8;
/// `PD_API_OP_FREE_COM_BUF`.
pub const PD_API_OP_FREE_COM_BUF: u32 = 9;
/// `PD_API_OP_MAX`.
pub const PD_API_OP_MAX: u32 = 10;

// ---------------------------------------------------------------------------------------
// Sizes and buffer constants.

/// `sizeof(struct nvsp_message_header)`.
pub const NVSP_HEADER_SIZE: usize = 4;
/// `sizeof(union nvsp_all_messages)`: the payload union.
pub const NVSP_MESSAGE_PAYLOAD_SIZE: usize = 36;
/// `sizeof(struct nvsp_message)`: what Linux sends for every request.
pub const NVSP_MESSAGE_SIZE: usize = NVSP_HEADER_SIZE + NVSP_MESSAGE_PAYLOAD_SIZE;
/// Header plus `union nvsp_1_message_uber` (with one receive buffer section): the message
/// size of version 1 hosts (Windows `NVSP_LEGACY_MESSAGE_SIZE`).
pub const NVSP_LEGACY_MESSAGE_SIZE: usize = 28;
/// Size of the receive completion Linux sends (`struct recv_comp_msg`: header and status).
pub const NVSP_RECV_COMPLETION_SIZE: usize = 8;
/// Where this crate's host encoder puts the send indirection table: right after a full
/// `struct nvsp_message`, which is also where `netvsc_send_table()` looks on version 6 and
/// older, so both the quirk and the stated offset find it.
pub const NVSP_SEND_TABLE_OFFSET: usize = NVSP_MESSAGE_SIZE;

/// `NETVSC_INVALID_INDEX`: `send_buf_section_index` when the send buffer is not used.
pub const NETVSC_INVALID_INDEX: u32 = 0xFFFF_FFFF;
/// `NETVSC_SEND_SECTION_SIZE`: the guest's default send section size.
pub const NETVSC_SEND_SECTION_SIZE: u32 = 6144;
/// `NETVSC_RECV_SECTION_SIZE`: the guest's default receive section size.
pub const NETVSC_RECV_SECTION_SIZE: u32 = 1728;
/// `NETVSC_RECEIVE_BUFFER_SIZE`: largest receive buffer a host allows (31 MiB).
pub const NETVSC_RECEIVE_BUFFER_SIZE: u32 = 1024 * 1024 * 31;
/// `NETVSC_RECEIVE_BUFFER_SIZE_LEGACY`: the same for version 2 and older (15 MiB).
pub const NETVSC_RECEIVE_BUFFER_SIZE_LEGACY: u32 = 1024 * 1024 * 15;
/// `NETVSC_RECEIVE_BUFFER_DEFAULT` (16 MiB).
pub const NETVSC_RECEIVE_BUFFER_DEFAULT: u32 = 1024 * 1024 * 16;
/// `NETVSC_SEND_BUFFER_SIZE`: largest send buffer (15 MiB).
pub const NETVSC_SEND_BUFFER_SIZE: u32 = 1024 * 1024 * 15;
/// `NETVSC_SEND_BUFFER_DEFAULT` (1 MiB).
pub const NETVSC_SEND_BUFFER_DEFAULT: u32 = 1024 * 1024;
/// `NETVSC_MIN_TX_SECTIONS`.
pub const NETVSC_MIN_TX_SECTIONS: u32 = 10;
/// `NETVSC_DEFAULT_TX`.
pub const NETVSC_DEFAULT_TX: u32 = NETVSC_SEND_BUFFER_DEFAULT / NETVSC_SEND_SECTION_SIZE;
/// `NETVSC_MIN_RX_SECTIONS`.
pub const NETVSC_MIN_RX_SECTIONS: u32 = 10;
/// `NETVSC_DEFAULT_RX`.
pub const NETVSC_DEFAULT_RX: u32 = NETVSC_RECEIVE_BUFFER_DEFAULT / NETVSC_RECV_SECTION_SIZE;
/// `NETVSC_RECEIVE_BUFFER_ID`: the receive buffer's id, also the transfer page set id of the
/// host's `VM_PKT_DATA_USING_XFER_PAGES` packets.
pub const NETVSC_RECEIVE_BUFFER_ID: u16 = 0xcafe;
/// `NETVSC_SEND_BUFFER_ID`.
pub const NETVSC_SEND_BUFFER_ID: u16 = 0;
/// `NETVSC_MTU`: largest MTU.
pub const NETVSC_MTU: u32 = 65535;
/// `NETVSC_MTU_MIN` (`ETH_MIN_MTU`): smallest MTU, also the smallest section size Linux
/// accepts from the host.
pub const NETVSC_MTU_MIN: u32 = 68;
/// `ETH_HLEN`: Linux announces `mtu + ETH_HLEN` in `send_ndis_config`.
pub const ETH_HLEN: u32 = 14;
/// `VRSS_SEND_TAB_SIZE`: entries of the send indirection table.
pub const VRSS_SEND_TAB_SIZE: usize = 16;
/// `VRSS_CHANNEL_MAX`: most channels (primary and subchannels).
pub const VRSS_CHANNEL_MAX: u32 = 64;
/// `VRSS_CHANNEL_DEFAULT`.
pub const VRSS_CHANNEL_DEFAULT: u32 = 16;
/// `RNDIS_MAX_PKT_DEFAULT`: packets per send-buffer section until the host's INIT_C says.
pub const RNDIS_MAX_PKT_DEFAULT: u32 = 8;
/// `RNDIS_PKT_ALIGN_DEFAULT`.
pub const RNDIS_PKT_ALIGN_DEFAULT: u32 = 8;
/// `NVSP_RSC_MAX`: most RSC fragments in one transfer page packet.
pub const NVSP_RSC_MAX: u32 = 562;

// ---------------------------------------------------------------------------------------
// Wire structs.

/// `struct nvsp_message_header`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct NvspMessageHeader {
    /// `msg_type`: one of the `NVSP_MSG*_TYPE_*` values.
    pub msg_type: u32,
}

/// `struct nvsp_message_init` (`NVSP_MSG_TYPE_INIT`, guest).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct NvspMessageInit {
    /// `min_protocol_ver`.
    pub min_protocol_ver: u32,
    /// `max_protocol_ver`.
    pub max_protocol_ver: u32,
}

/// `struct nvsp_message_init_complete` (`NVSP_MSG_TYPE_INIT_COMPLETE`, host).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct NvspMessageInitComplete {
    /// `negotiated_protocol_ver` (not read by Linux).
    pub negotiated_protocol_ver: u32,
    /// `max_mdl_chain_len`.
    pub max_mdl_chain_len: u32,
    /// `status`: `NVSP_STAT_SUCCESS` accepts the proposed version.
    pub status: u32,
}

/// `struct nvsp_1_message_send_ndis_version` (`NVSP_MSG1_TYPE_SEND_NDIS_VER`, guest).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct Nvsp1SendNdisVersion {
    /// `ndis_major_ver`.
    pub ndis_major_ver: u32,
    /// `ndis_minor_ver`.
    pub ndis_minor_ver: u32,
}

/// `struct nvsp_1_message_send_receive_buffer` (`NVSP_MSG1_TYPE_SEND_RECV_BUF`, guest).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct Nvsp1SendReceiveBuffer {
    /// `gpadl_handle` of the receive buffer.
    pub gpadl_handle: u32,
    /// `id` (`NETVSC_RECEIVE_BUFFER_ID`).
    pub id: u16,
}

/// `struct nvsp_1_receive_buffer_section`: one sub-allocated part of the receive buffer.
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct Nvsp1ReceiveBufferSection {
    /// `offset` of the section in the receive buffer.
    pub offset: u32,
    /// `sub_alloc_size`: bytes per sub-allocation (Linux's receive section size).
    pub sub_alloc_size: u32,
    /// `num_sub_allocs`: sub-allocations in the section.
    pub num_sub_allocs: u32,
    /// `end_offset`: end of the section.
    pub end_offset: u32,
}

/// The fixed part of `struct nvsp_1_message_send_receive_buffer_complete`
/// (`NVSP_MSG1_TYPE_SEND_RECV_BUF_COMPLETE`, host); `sections[]` follows.
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct Nvsp1SendReceiveBufferCompleteHeader {
    /// `status`.
    pub status: u32,
    /// `num_sections`: entries of `sections[]`.
    pub num_sections: u32,
}

/// `struct nvsp_1_message_revoke_receive_buffer` (`NVSP_MSG1_TYPE_REVOKE_RECV_BUF`, guest).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct Nvsp1RevokeReceiveBuffer {
    /// `id`.
    pub id: u16,
}

/// `struct nvsp_1_message_send_send_buffer` (`NVSP_MSG1_TYPE_SEND_SEND_BUF`, guest).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct Nvsp1SendSendBuffer {
    /// `gpadl_handle` of the send buffer.
    pub gpadl_handle: u32,
    /// `id` (`NETVSC_SEND_BUFFER_ID`).
    pub id: u16,
}

/// `struct nvsp_1_message_send_send_buffer_complete` (`NVSP_MSG1_TYPE_SEND_SEND_BUF_COMPLETE`,
/// host).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct Nvsp1SendSendBufferComplete {
    /// `status`.
    pub status: u32,
    /// `section_size`: chosen by the host.
    pub section_size: u32,
}

/// `struct nvsp_1_message_revoke_send_buffer` (`NVSP_MSG1_TYPE_REVOKE_SEND_BUF`, guest).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct Nvsp1RevokeSendBuffer {
    /// `id`.
    pub id: u16,
}

/// `struct nvsp_1_message_send_rndis_packet` (`NVSP_MSG1_TYPE_SEND_RNDIS_PKT`, both ways).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct Nvsp1SendRndisPacket {
    /// `channel_type`: [`NVSP_RNDIS_CHANNEL_DATA`] or [`NVSP_RNDIS_CHANNEL_CONTROL`].
    pub channel_type: u32,
    /// `send_buf_section_index`, or [`NETVSC_INVALID_INDEX`].
    pub send_buf_section_index: u32,
    /// `send_buf_section_size`: bytes used in the section (0 without a section).
    pub send_buf_section_size: u32,
}

/// `struct nvsp_1_message_send_rndis_packet_complete`
/// (`NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE`, both ways).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct Nvsp1SendRndisPacketComplete {
    /// `status`.
    pub status: u32,
}

/// `nvsp_2_vsc_capability.vmq`.
pub const NVSP_CAP_VMQ: u64 = 1 << 0;
/// `nvsp_2_vsc_capability.chimney`.
pub const NVSP_CAP_CHIMNEY: u64 = 1 << 1;
/// `nvsp_2_vsc_capability.sriov`.
pub const NVSP_CAP_SRIOV: u64 = 1 << 2;
/// `nvsp_2_vsc_capability.ieee8021q`.
pub const NVSP_CAP_IEEE8021Q: u64 = 1 << 3;
/// `nvsp_2_vsc_capability.correlation_id`.
pub const NVSP_CAP_CORRELATION_ID: u64 = 1 << 4;
/// `nvsp_2_vsc_capability.teaming`.
pub const NVSP_CAP_TEAMING: u64 = 1 << 5;
/// `nvsp_2_vsc_capability.vsubnetid`.
pub const NVSP_CAP_VSUBNETID: u64 = 1 << 6;
/// `nvsp_2_vsc_capability.rsc`.
pub const NVSP_CAP_RSC: u64 = 1 << 7;

/// `struct nvsp_2_vsc_capability`: a 64-bit set of `NVSP_CAP_*` bits.
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct Nvsp2VscCapability {
    /// `data`.
    pub data: u64,
}

impl Nvsp2VscCapability {
    /// Whether all of `bits` are set.
    pub const fn has(self, bits: u64) -> bool {
        let d = self.data;
        d & bits == bits
    }
}

/// `struct nvsp_2_send_ndis_config` (`NVSP_MSG2_TYPE_SEND_NDIS_CONFIG`, guest).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct Nvsp2SendNdisConfig {
    /// `mtu`: Linux sends `ndev->mtu + ETH_HLEN`.
    pub mtu: u32,
    /// `reserved` (zero).
    pub reserved: u32,
    /// `capability`.
    pub capability: Nvsp2VscCapability,
}

/// `struct nvsp_2_alloc_rxbuf` (`NVSP_MSG2_TYPE_ALLOC_RXBUF`, deprecated).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct Nvsp2AllocRxbuf {
    /// `alloc_id`.
    pub alloc_id: u32,
    /// `len`.
    pub len: u32,
}

/// `struct nvsp_2_alloc_rxbuf_comp` (`NVSP_MSG2_TYPE_ALLOC_RXBUF_COMP`, deprecated).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct Nvsp2AllocRxbufComp {
    /// `status`.
    pub status: u32,
    /// `alloc_id`.
    pub alloc_id: u32,
    /// `gpadl_handle`.
    pub gpadl_handle: u32,
    /// `recv_buf_id`.
    pub recv_buf_id: u64,
}

/// `struct nvsp_2_free_rxbuf` (`NVSP_MSG2_TYPE_FREE_RXBUF`, deprecated).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct Nvsp2FreeRxbuf {
    /// `recv_buf_id`.
    pub recv_buf_id: u64,
}

/// `struct nvsp_4_send_vf_association` (`NVSP_MSG4_TYPE_SEND_VF_ASSOCIATION`, host).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct Nvsp4SendVfAssociation {
    /// `allocated`: 1 when a VF is allocated and `serial` is valid.
    pub allocated: u32,
    /// `serial`: serial number of the VF to team with.
    pub serial: u32,
}

/// `struct nvsp_4_sw_datapath` (`NVSP_MSG4_TYPE_SWITCH_DATA_PATH`, guest).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct Nvsp4SwDatapath {
    /// `active_datapath`: [`NVSP_DATAPATH_SYNTHETIC`] or [`NVSP_DATAPATH_VF`].
    pub active_datapath: u32,
}

/// `NVSP_5_MESSAGE_OID_QUERY_EX` (`NVSP_MSG5_TYPE_OID_QUERY_EX`, guest). Linux has the type
/// but no structure; the layout (an NDIS object header and the OID) is Windows'
/// `nvspprotocol.h` as published with OpenVMM's netvsp.
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct Nvsp5OidQueryEx {
    /// NDIS object header `type`.
    pub header_type: u8,
    /// NDIS object header `revision`.
    pub header_revision: u8,
    /// NDIS object header `size`.
    pub header_size: u16,
    /// The OID queried.
    pub oid: u32,
}

/// `NVSP_5_MESSAGE_OID_QUERY_EX_COMPLETE` (`NVSP_MSG5_TYPE_OID_QUERY_EX_COMP`, host; layout
/// not in Linux, see [`Nvsp5OidQueryEx`]).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct Nvsp5OidQueryExComplete {
    /// NDIS status.
    pub status: u32,
    /// Bytes of result.
    pub bytes: u32,
}

/// `struct nvsp_5_subchannel_request` (`NVSP_MSG5_TYPE_SUBCHANNEL`, guest).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct Nvsp5SubchannelRequest {
    /// `op`: [`NVSP_SUBCHANNEL_ALLOCATE`].
    pub op: u32,
    /// `num_subchannels` requested (Linux: `num_chn - 1`).
    pub num_subchannels: u32,
}

/// `struct nvsp_5_subchannel_complete` (`NVSP_MSG5_TYPE_SUBCHANNEL`, host).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct Nvsp5SubchannelComplete {
    /// `status`.
    pub status: u32,
    /// `num_subchannels` actually allocated.
    pub num_subchannels: u32,
}

/// `struct nvsp_5_send_indirect_table` (`NVSP_MSG5_TYPE_SEND_INDIRECTION_TABLE`, host);
/// `count` u32 channel numbers follow at `offset` from the start of the message.
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct Nvsp5SendIndirectTable {
    /// `count`: entries (Linux requires `VRSS_SEND_TAB_SIZE`).
    pub count: u32,
    /// `offset` of the table from the start of `struct nvsp_message`.
    pub offset: u32,
}

/// `struct grp_affinity`.
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct GrpAffinity {
    /// `mask`.
    pub mask: u64,
    /// `grp`.
    pub grp: u16,
    /// `reserved`.
    pub reserved: [u16; 3],
}

/// `nvsp_6_pd_api_req.config` (`PD_API_OP_CONFIG`).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct PdApiConfigReq {
    /// `mmio_pa`.
    pub mmio_pa: u64,
    /// `mmio_len`.
    pub mmio_len: u32,
    /// `num_subchn`: PD queues the VM can support.
    pub num_subchn: u16,
}

/// `nvsp_6_pd_api_req.sw_dpath` (`PD_API_OP_SW_DATAPATH`).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct PdApiSwDatapathReq {
    /// `host_dpath_is_pd`.
    pub host_dpath_is_pd: u8,
    /// `guest_pd_enabled`.
    pub guest_pd_enabled: u8,
}

/// `nvsp_6_pd_api_req.open_prov` (`PD_API_OP_OPEN_PROVIDER`).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct PdApiOpenProviderReq {
    /// `prov_id`.
    pub prov_id: u32,
    /// `flag`.
    pub flag: u32,
}

/// `nvsp_6_pd_api_req.cls_prov` (`PD_API_OP_CLOSE_PROVIDER`).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct PdApiCloseProviderReq {
    /// `prov_id`.
    pub prov_id: u32,
}

/// `nvsp_6_pd_api_req.cr_q` (`PD_API_OP_CREATE_QUEUE`).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct PdApiCreateQueueReq {
    /// `prov_id`.
    pub prov_id: u32,
    /// `q_id`.
    pub q_id: u16,
    /// `q_size`.
    pub q_size: u16,
    /// `is_recv_q`.
    pub is_recv_q: u8,
    /// `is_rss_q`.
    pub is_rss_q: u8,
    /// `recv_data_len`.
    pub recv_data_len: u32,
    /// `affy`.
    pub affy: GrpAffinity,
}

/// `nvsp_6_pd_api_req.del_q` / `flush_q` (`PD_API_OP_FREE_QUEUE`, `PD_API_OP_FLUSH_QUEUE`).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct PdApiQueueReq {
    /// `prov_id`.
    pub prov_id: u32,
    /// `q_id`.
    pub q_id: u16,
}

/// `nvsp_6_pd_api_req.alloc_com_buf` (`PD_API_OP_ALLOC_COM_BUF`).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct PdApiAllocComBufReq {
    /// `len`.
    pub len: u32,
    /// `pf_node`: preferred NUMA node.
    pub pf_node: u32,
    /// `region_id`.
    pub region_id: u16,
}

/// `nvsp_6_pd_api_req.free_com_buf` (`PD_API_OP_FREE_COM_BUF`).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct PdApiFreeComBufReq {
    /// `len`.
    pub len: u32,
    /// `pa`.
    pub pa: u64,
    /// `pf_node`.
    pub pf_node: u32,
    /// `region_id`.
    pub region_id: u16,
    /// `cache_type`.
    pub cache_type: u8,
}

/// Bytes of the operation union in [`Nvsp6PdApiReq`].
pub const PD_API_REQ_PARAMS_SIZE: usize = 30;
/// Bytes of the operation union in [`Nvsp6PdApiComp`].
pub const PD_API_COMP_PARAMS_SIZE: usize = 28;

/// `struct nvsp_6_pd_api_req` (`NVSP_MSG6_TYPE_PD_API`, guest): the operation and its union,
/// kept as bytes; read it with [`Nvsp6PdApiReq::params_as`] and the `PdApi*Req` structs.
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct Nvsp6PdApiReq {
    /// `op`: `PD_API_OP_*`.
    pub op: u32,
    /// The operation's parameters (the anonymous union).
    pub params: [u8; PD_API_REQ_PARAMS_SIZE],
}

/// `nvsp_6_pd_api_comp.config`.
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct PdApiConfigComp {
    /// `num_pd_q`.
    pub num_pd_q: u16,
    /// `num_rss_q`.
    pub num_rss_q: u8,
    /// `is_supported`.
    pub is_supported: u8,
    /// `is_enabled`.
    pub is_enabled: u8,
}

/// `nvsp_6_pd_api_comp.open_prov`.
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct PdApiOpenProviderComp {
    /// `prov_id`.
    pub prov_id: u32,
}

/// `nvsp_6_pd_api_comp.cr_q`.
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct PdApiCreateQueueComp {
    /// `prov_id`.
    pub prov_id: u32,
    /// `q_id`.
    pub q_id: u16,
    /// `q_size`.
    pub q_size: u16,
    /// `recv_data_len`.
    pub recv_data_len: u32,
    /// `affy`.
    pub affy: GrpAffinity,
}

/// `nvsp_6_pd_api_comp.alloc_com_buf`.
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct PdApiAllocComBufComp {
    /// `pa`.
    pub pa: u64,
    /// `len`.
    pub len: u32,
    /// `pf_node`.
    pub pf_node: u32,
    /// `region_id`.
    pub region_id: u16,
    /// `cache_type`.
    pub cache_type: u8,
}

/// `struct nvsp_6_pd_api_comp` (`NVSP_MSG6_TYPE_PD_API`, host).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct Nvsp6PdApiComp {
    /// `op`.
    pub op: u32,
    /// `status` (an NT status).
    pub status: u32,
    /// The operation's completion data (the anonymous union).
    pub params: [u8; PD_API_COMP_PARAMS_SIZE],
}

/// Reads the first `size_of::<T>()` bytes of a PD API union as `T`, if it fits.
fn pd_params<T: FromBytes>(params: &[u8]) -> Option<T> {
    bytes::read(params, 0)
}

impl Nvsp6PdApiReq {
    /// The union read as `T` (one of the `PdApi*Req` structs), if it fits.
    pub fn params_as<T: FromBytes + KnownLayout + Immutable>(&self) -> Option<T> {
        let p = self.params;
        pd_params(&p)
    }
}

impl Nvsp6PdApiComp {
    /// The union read as `T` (one of the `PdApi*Comp` structs), if it fits.
    pub fn params_as<T: FromBytes + KnownLayout + Immutable>(&self) -> Option<T> {
        let p = self.params;
        pd_params(&p)
    }
}

/// `nvsp_6_pd_buf.is_partial` (bit 0 of `flags`).
pub const PD_BUF_IS_PARTIAL: u16 = 1 << 0;

/// `struct nvsp_6_pd_buf`.
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct Nvsp6PdBuf {
    /// `region_offset`.
    pub region_offset: u32,
    /// `region_id`.
    pub region_id: u16,
    /// `is_partial:1`, `reserved:15`.
    pub flags: u16,
}

/// `nvsp_6_pd_batch_msg.guest2host` (bit 0 of `flags`).
pub const PD_BATCH_GUEST2HOST: u16 = 1 << 0;
/// `nvsp_6_pd_batch_msg.is_recv` (bit 1 of `flags`).
pub const PD_BATCH_IS_RECV: u16 = 1 << 1;

/// `struct nvsp_6_pd_batch_msg` without `pd_buf[]` (`NVSP_MSG6_TYPE_PD_POST_BATCH`): unlike
/// the other payloads it includes the message header.
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct Nvsp6PdBatchMsgHeader {
    /// `hdr.msg_type`.
    pub msg_type: u32,
    /// `count`: entries of `pd_buf[]`.
    pub count: u16,
    /// `guest2host:1`, `is_recv:1`, `reserved:14`.
    pub flags: u16,
}

// ---------------------------------------------------------------------------------------
// Errors.

/// Who sent a message: some types only travel one way, and `NVSP_MSG5_TYPE_SUBCHANNEL` and
/// `NVSP_MSG6_TYPE_PD_API` carry a request from the guest and a completion from the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sender {
    /// The guest (VSC); parsed by the host.
    Guest,
    /// The host (VSP); parsed by the guest.
    Host,
}

/// Why an NVSP message was rejected or could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NvspError {
    /// Shorter than the 4-byte header.
    NoHeader(usize),
    /// Shorter than its type's payload needs.
    TooShort {
        /// The message type.
        msg_type: u32,
        /// Bytes needed (header included).
        need: usize,
        /// Bytes received.
        have: usize,
    },
    /// A type Linux does not define (or `NVSP_MSG_TYPE_NONE`).
    UnknownType(u32),
    /// A type that does not travel in this direction.
    WrongSender(u32),
    /// A type above the negotiated version's last message type.
    NotInVersion(u32),
    /// `channel_type` neither data nor control.
    ChannelType(u32),
    /// A successful receive buffer completion without sections.
    NoReceiveSections,
    /// `num_sections` larger than the message holds.
    ReceiveSectionsTruncated(u32),
    /// Receive buffer completion with a failure status.
    ReceiveBufferStatus(u32),
    /// `num_sections` other than 1 (`netvsc_init_buf()`).
    ReceiveSectionCount(u32),
    /// The section does not start at offset 0.
    ReceiveSectionOffset(u32),
    /// `sub_alloc_size` below `NETVSC_MTU_MIN`.
    ReceiveSectionSize(u32),
    /// `sub_alloc_size * num_sub_allocs` larger than the receive buffer.
    ReceiveSectionsExceedBuffer,
    /// Send buffer completion with a failure status.
    SendBufferStatus(u32),
    /// `section_size` below `NETVSC_MTU_MIN`, or none fits in the buffer.
    SendSectionSize(u32),
    /// A transfer range outside the receive buffer.
    RangeOutsideBuffer {
        /// `byte_offset`.
        offset: u32,
        /// `byte_count`.
        len: u32,
    },
    /// A transfer range longer than a receive section.
    RangeTooLong(u32),
    /// `send_buf_section_index` not below the section count.
    SendSectionIndex(u32),
    /// `send_buf_section_size` zero or larger than a section.
    SendSectionUsed(u32),
    /// Send indirection table `count` other than `VRSS_SEND_TAB_SIZE`.
    SendTableCount(u32),
    /// Send indirection table outside the message.
    SendTableOutside(u32),
    /// `op` outside `PD_API_OP_CONFIG..PD_API_OP_MAX`.
    PdApiOp(u32),
    /// PD batch `count` larger than the message holds.
    PdBatchTruncated(u16),
    /// The output buffer is too small.
    BufferTooSmall {
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        have: usize,
    },
}

impl NvspError {
    /// A short description for log lines.
    pub const fn as_str(&self) -> &'static str {
        match self {
            NvspError::NoHeader(_) => "nvsp message shorter than its header",
            NvspError::TooShort { .. } => "nvsp message too short for its type",
            NvspError::UnknownType(_) => "unknown nvsp message type",
            NvspError::WrongSender(_) => "nvsp message type not valid from this side",
            NvspError::NotInVersion(_) => "nvsp message type not in the negotiated version",
            NvspError::ChannelType(_) => "invalid rndis channel type",
            NvspError::NoReceiveSections => "receive buffer completion without sections",
            NvspError::ReceiveSectionsTruncated(_) => "receive buffer sections past the message",
            NvspError::ReceiveBufferStatus(_) => "receive buffer refused by the host",
            NvspError::ReceiveSectionCount(_) => "receive buffer section count is not 1",
            NvspError::ReceiveSectionOffset(_) => "receive buffer section offset is not 0",
            NvspError::ReceiveSectionSize(_) => "receive section size below the minimum MTU",
            NvspError::ReceiveSectionsExceedBuffer => "receive sections exceed the buffer",
            NvspError::SendBufferStatus(_) => "send buffer refused by the host",
            NvspError::SendSectionSize(_) => "invalid send section size",
            NvspError::RangeOutsideBuffer { .. } => "transfer range outside the receive buffer",
            NvspError::RangeTooLong(_) => "transfer range longer than a receive section",
            NvspError::SendSectionIndex(_) => "send section index out of range",
            NvspError::SendSectionUsed(_) => "send section size zero or above the section",
            NvspError::SendTableCount(_) => "send indirection table of the wrong size",
            NvspError::SendTableOutside(_) => "send indirection table outside the message",
            NvspError::PdApiOp(_) => "invalid PacketDirect operation",
            NvspError::PdBatchTruncated(_) => "PacketDirect batch past the message",
            NvspError::BufferTooSmall { .. } => "output buffer too small",
        }
    }
}

impl core::fmt::Display for NvspError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

// ---------------------------------------------------------------------------------------
// Parsed messages.

/// `NVSP_MSG1_TYPE_SEND_RECV_BUF_COMPLETE` with its `sections[]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReceiveBufferComplete<'a> {
    /// `status`.
    pub status: u32,
    /// `num_sections` as sent.
    pub num_sections: u32,
    /// `sections[0]` (Linux requires the message to hold it whatever the status).
    pub first: Nvsp1ReceiveBufferSection,
    /// The raw bytes of `sections[1..num_sections]` (validated to be in the message when the
    /// status is success; empty otherwise).
    pub more: &'a [u8],
}

/// Size of one `struct nvsp_1_receive_buffer_section`.
pub const NVSP_RECEIVE_SECTION_SIZE: usize = 16;

impl<'a> ReceiveBufferComplete<'a> {
    /// A successful completion with one section (what hosts send).
    pub const fn single(section: Nvsp1ReceiveBufferSection) -> Self {
        ReceiveBufferComplete { status: NVSP_STAT_SUCCESS, num_sections: 1, first: section, more: &[] }
    }

    /// A failed completion.
    pub const fn failed(status: u32) -> Self {
        let zero = Nvsp1ReceiveBufferSection { offset: 0, sub_alloc_size: 0, num_sub_allocs: 0, end_offset: 0 };
        ReceiveBufferComplete { status, num_sections: 0, first: zero, more: &[] }
    }

    /// Section `i`, if it is present.
    pub fn section(&self, i: u32) -> Option<Nvsp1ReceiveBufferSection> {
        if i == 0 {
            return Some(self.first);
        }
        let idx = usize::try_from(i).ok()?.checked_sub(1)?;
        bytes::read(self.more, idx.checked_mul(NVSP_RECEIVE_SECTION_SIZE)?)
    }
}

/// `NVSP_MSG5_TYPE_SEND_INDIRECTION_TABLE` with its table resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SendIndirectionTable {
    /// The offset as sent (the table was read from the offset `netvsc_send_table()` uses).
    pub offset: u32,
    /// The `VRSS_SEND_TAB_SIZE` channel numbers.
    pub entries: [u32; VRSS_SEND_TAB_SIZE],
}

/// `NVSP_MSG6_TYPE_PD_POST_BATCH` with its entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PdPostBatch<'a> {
    /// `guest2host:1`, `is_recv:1` bits (`PD_BATCH_*`).
    pub flags: u16,
    /// The raw `pd_buf[count]` bytes (validated to be in the message).
    pub bufs: &'a [u8],
}

impl<'a> PdPostBatch<'a> {
    /// `count`.
    pub fn count(&self) -> usize {
        self.bufs.len() / core::mem::size_of::<Nvsp6PdBuf>()
    }

    /// Entry `i`, if present.
    pub fn buf(&self, i: usize) -> Option<Nvsp6PdBuf> {
        bytes::read(self.bufs, i.checked_mul(core::mem::size_of::<Nvsp6PdBuf>())?)
    }
}

/// One NVSP message, parsed and validated, or to be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NvspMessage<'a> {
    /// `NVSP_MSG_TYPE_INIT` (guest).
    Init(NvspMessageInit),
    /// `NVSP_MSG_TYPE_INIT_COMPLETE` (host).
    InitComplete(NvspMessageInitComplete),
    /// `NVSP_MSG1_TYPE_SEND_NDIS_VER` (guest).
    SendNdisVersion(Nvsp1SendNdisVersion),
    /// `NVSP_MSG1_TYPE_SEND_RECV_BUF` (guest).
    SendReceiveBuffer(Nvsp1SendReceiveBuffer),
    /// `NVSP_MSG1_TYPE_SEND_RECV_BUF_COMPLETE` (host).
    SendReceiveBufferComplete(ReceiveBufferComplete<'a>),
    /// `NVSP_MSG1_TYPE_REVOKE_RECV_BUF` (guest).
    RevokeReceiveBuffer(Nvsp1RevokeReceiveBuffer),
    /// `NVSP_MSG1_TYPE_SEND_SEND_BUF` (guest).
    SendSendBuffer(Nvsp1SendSendBuffer),
    /// `NVSP_MSG1_TYPE_SEND_SEND_BUF_COMPLETE` (host).
    SendSendBufferComplete(Nvsp1SendSendBufferComplete),
    /// `NVSP_MSG1_TYPE_REVOKE_SEND_BUF` (guest).
    RevokeSendBuffer(Nvsp1RevokeSendBuffer),
    /// `NVSP_MSG1_TYPE_SEND_RNDIS_PKT` (both).
    SendRndisPacket(Nvsp1SendRndisPacket),
    /// `NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE` (both).
    SendRndisPacketComplete(Nvsp1SendRndisPacketComplete),
    /// `NVSP_MSG2_TYPE_SEND_NDIS_CONFIG` (guest).
    SendNdisConfig(Nvsp2SendNdisConfig),
    /// `NVSP_MSG2_TYPE_ALLOC_RXBUF` (deprecated; either side).
    AllocRxBuf(Nvsp2AllocRxbuf),
    /// `NVSP_MSG2_TYPE_ALLOC_RXBUF_COMP` (deprecated; either side).
    AllocRxBufComplete(Nvsp2AllocRxbufComp),
    /// `NVSP_MSG2_TYPE_FREE_RXBUF` (deprecated; either side).
    FreeRxBuf(Nvsp2FreeRxbuf),
    /// `NVSP_MSG4_TYPE_SEND_VF_ASSOCIATION` (host).
    SendVfAssociation(Nvsp4SendVfAssociation),
    /// `NVSP_MSG4_TYPE_SWITCH_DATA_PATH` (guest).
    SwitchDataPath(Nvsp4SwDatapath),
    /// `NVSP_MSG5_TYPE_OID_QUERY_EX` (guest).
    OidQueryEx(Nvsp5OidQueryEx),
    /// `NVSP_MSG5_TYPE_OID_QUERY_EX_COMP` (host).
    OidQueryExComplete(Nvsp5OidQueryExComplete),
    /// `NVSP_MSG5_TYPE_SUBCHANNEL` from the guest.
    SubchannelRequest(Nvsp5SubchannelRequest),
    /// `NVSP_MSG5_TYPE_SUBCHANNEL` from the host.
    SubchannelComplete(Nvsp5SubchannelComplete),
    /// `NVSP_MSG5_TYPE_SEND_INDIRECTION_TABLE` (host).
    SendIndirectionTable(SendIndirectionTable),
    /// `NVSP_MSG6_TYPE_PD_API` from the guest.
    PdApiRequest(Nvsp6PdApiReq),
    /// `NVSP_MSG6_TYPE_PD_API` from the host.
    PdApiComplete(Nvsp6PdApiComp),
    /// `NVSP_MSG6_TYPE_PD_POST_BATCH` (both).
    PdPostBatch(PdPostBatch<'a>),
    /// A type Linux names but defines no layout for (TCP chimney, VMQ packets, uplink state):
    /// the type and the payload after the header.
    Unhandled {
        /// The message type.
        msg_type: u32,
        /// The payload bytes.
        payload: &'a [u8],
    },
}

/// The direction a type travels in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    FromGuest,
    FromHost,
    Both,
}

/// Direction and payload size (bytes after the header) Linux requires for a type, or `None`
/// for unknown types.
fn type_rule(msg_type: u32) -> Option<(Dir, usize)> {
    let r = match msg_type {
        NVSP_MSG_TYPE_INIT => (Dir::FromGuest, 8),
        NVSP_MSG_TYPE_INIT_COMPLETE => (Dir::FromHost, 12),
        NVSP_MSG1_TYPE_SEND_NDIS_VER => (Dir::FromGuest, 8),
        NVSP_MSG1_TYPE_SEND_RECV_BUF => (Dir::FromGuest, 6),
        NVSP_MSG1_TYPE_SEND_RECV_BUF_COMPLETE => (Dir::FromHost, 8 + NVSP_RECEIVE_SECTION_SIZE),
        NVSP_MSG1_TYPE_REVOKE_RECV_BUF => (Dir::FromGuest, 2),
        NVSP_MSG1_TYPE_SEND_SEND_BUF => (Dir::FromGuest, 6),
        NVSP_MSG1_TYPE_SEND_SEND_BUF_COMPLETE => (Dir::FromHost, 8),
        NVSP_MSG1_TYPE_REVOKE_SEND_BUF => (Dir::FromGuest, 2),
        NVSP_MSG1_TYPE_SEND_RNDIS_PKT => (Dir::Both, 12),
        NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE => (Dir::Both, 4),
        NVSP_MSG2_TYPE_ALLOC_RXBUF => (Dir::Both, 8),
        NVSP_MSG2_TYPE_ALLOC_RXBUF_COMP => (Dir::Both, 20),
        NVSP_MSG2_TYPE_FREE_RXBUF => (Dir::Both, 8),
        NVSP_MSG2_TYPE_SEND_NDIS_CONFIG => (Dir::FromGuest, 16),
        NVSP_MSG4_TYPE_SEND_VF_ASSOCIATION => (Dir::FromHost, 8),
        NVSP_MSG4_TYPE_SWITCH_DATA_PATH => (Dir::FromGuest, 4),
        NVSP_MSG5_TYPE_OID_QUERY_EX => (Dir::FromGuest, 8),
        NVSP_MSG5_TYPE_OID_QUERY_EX_COMP => (Dir::FromHost, 8),
        NVSP_MSG5_TYPE_SUBCHANNEL => (Dir::Both, 8),
        NVSP_MSG5_TYPE_SEND_INDIRECTION_TABLE => (Dir::FromHost, 8),
        NVSP_MSG6_TYPE_PD_API => (Dir::Both, 4),
        NVSP_MSG6_TYPE_PD_POST_BATCH => (Dir::Both, 4),
        NVSP_MSG2_TYPE_SEND_CHIMNEY_DELEGATED_BUF..=NVSP_MSG2_TYPE_POST_CHIMNEY_RECV_REQ_COMP
        | NVSP_MSG2_TYPE_SEND_VMQ_RNDIS_PKT
        | NVSP_MSG2_TYPE_SEND_VMQ_RNDIS_PKT_COMP
        | NVSP_MSG2_TYPE_ALLOC_CHIMNEY_HANDLE
        | NVSP_MSG2_TYPE_ALLOC_CHIMNEY_HANDLE_COMP
        | NVSP_MSG4_TYPE_UPLINK_CONNECT_STATE_DEPRECATED => (Dir::Both, 0),
        _ => return None,
    };
    Some(r)
}

/// The payload of a message, requiring `need` bytes of it.
fn payload(buf: &[u8], msg_type: u32, need: usize) -> Result<&[u8], NvspError> {
    let body = bytes::tail(buf, NVSP_HEADER_SIZE);
    if body.len() < need {
        return Err(NvspError::TooShort { msg_type, need: NVSP_HEADER_SIZE.saturating_add(need), have: buf.len() });
    }
    Ok(body)
}

/// A wire struct at the start of the payload.
fn body<T: FromBytes>(buf: &[u8], msg_type: u32) -> Result<T, NvspError> {
    let need = core::mem::size_of::<T>();
    let p = payload(buf, msg_type, need)?;
    bytes::read(p, 0).ok_or(NvspError::TooShort { msg_type, need: NVSP_HEADER_SIZE.saturating_add(need), have: buf.len() })
}

/// Parses one NVSP message sent by `from` (the inband payload of a VMBus packet, or the
/// payload of a completion packet). Validates the type, the direction, the length for the
/// type and the arrays inside the message. The send indirection table is read at its stated
/// offset; use [`parse_negotiated`] on the guest to get Linux's fix-up for version 6 hosts.
pub fn parse(buf: &[u8], from: Sender) -> Result<NvspMessage<'_>, NvspError> {
    parse_inner(buf, from, None)
}

/// [`parse`] after version negotiation: also rejects types above the version's last message
/// type, and resolves the send indirection table as `netvsc_send_table()` does (on version 6
/// and older the table is taken right after a full `struct nvsp_message` when the message is
/// long enough, working around a host bug).
pub fn parse_negotiated(buf: &[u8], from: Sender, version: NvspVersion) -> Result<NvspMessage<'_>, NvspError> {
    parse_inner(buf, from, Some(version))
}

fn parse_inner(buf: &[u8], from: Sender, version: Option<NvspVersion>) -> Result<NvspMessage<'_>, NvspError> {
    let msg_type = bytes::u32_at(buf, 0).ok_or(NvspError::NoHeader(buf.len()))?;
    let (dir, need) = type_rule(msg_type).ok_or(NvspError::UnknownType(msg_type))?;
    let ok_dir = matches!((dir, from), (Dir::Both, _) | (Dir::FromGuest, Sender::Guest) | (Dir::FromHost, Sender::Host));
    if !ok_dir {
        return Err(NvspError::WrongSender(msg_type));
    }
    if let Some(v) = version {
        if msg_type > v.max_message_type() {
            return Err(NvspError::NotInVersion(msg_type));
        }
    }
    let p = payload(buf, msg_type, need)?;
    let t = msg_type;
    let m = match msg_type {
        NVSP_MSG_TYPE_INIT => NvspMessage::Init(body(buf, t)?),
        NVSP_MSG_TYPE_INIT_COMPLETE => NvspMessage::InitComplete(body(buf, t)?),
        NVSP_MSG1_TYPE_SEND_NDIS_VER => NvspMessage::SendNdisVersion(body(buf, t)?),
        NVSP_MSG1_TYPE_SEND_RECV_BUF => NvspMessage::SendReceiveBuffer(body(buf, t)?),
        NVSP_MSG1_TYPE_SEND_RECV_BUF_COMPLETE => NvspMessage::SendReceiveBufferComplete(parse_recv_complete(buf, p)?),
        NVSP_MSG1_TYPE_REVOKE_RECV_BUF => NvspMessage::RevokeReceiveBuffer(body(buf, t)?),
        NVSP_MSG1_TYPE_SEND_SEND_BUF => NvspMessage::SendSendBuffer(body(buf, t)?),
        NVSP_MSG1_TYPE_SEND_SEND_BUF_COMPLETE => NvspMessage::SendSendBufferComplete(body(buf, t)?),
        NVSP_MSG1_TYPE_REVOKE_SEND_BUF => NvspMessage::RevokeSendBuffer(body(buf, t)?),
        NVSP_MSG1_TYPE_SEND_RNDIS_PKT => {
            let m: Nvsp1SendRndisPacket = body(buf, t)?;
            let ct = m.channel_type;
            if ct != NVSP_RNDIS_CHANNEL_DATA && ct != NVSP_RNDIS_CHANNEL_CONTROL {
                return Err(NvspError::ChannelType(ct));
            }
            NvspMessage::SendRndisPacket(m)
        }
        NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE => NvspMessage::SendRndisPacketComplete(body(buf, t)?),
        NVSP_MSG2_TYPE_ALLOC_RXBUF => NvspMessage::AllocRxBuf(body(buf, t)?),
        NVSP_MSG2_TYPE_ALLOC_RXBUF_COMP => NvspMessage::AllocRxBufComplete(body(buf, t)?),
        NVSP_MSG2_TYPE_FREE_RXBUF => NvspMessage::FreeRxBuf(body(buf, t)?),
        NVSP_MSG2_TYPE_SEND_NDIS_CONFIG => NvspMessage::SendNdisConfig(body(buf, t)?),
        NVSP_MSG4_TYPE_SEND_VF_ASSOCIATION => NvspMessage::SendVfAssociation(body(buf, t)?),
        NVSP_MSG4_TYPE_SWITCH_DATA_PATH => NvspMessage::SwitchDataPath(body(buf, t)?),
        NVSP_MSG5_TYPE_OID_QUERY_EX => NvspMessage::OidQueryEx(body(buf, t)?),
        NVSP_MSG5_TYPE_OID_QUERY_EX_COMP => NvspMessage::OidQueryExComplete(body(buf, t)?),
        NVSP_MSG5_TYPE_SUBCHANNEL => match from {
            Sender::Guest => NvspMessage::SubchannelRequest(body(buf, t)?),
            Sender::Host => NvspMessage::SubchannelComplete(body(buf, t)?),
        },
        NVSP_MSG5_TYPE_SEND_INDIRECTION_TABLE => NvspMessage::SendIndirectionTable(parse_send_table(buf, version)?),
        NVSP_MSG6_TYPE_PD_API => parse_pd_api(buf, from)?,
        NVSP_MSG6_TYPE_PD_POST_BATCH => NvspMessage::PdPostBatch(parse_pd_batch(buf)?),
        _ => NvspMessage::Unhandled { msg_type, payload: p },
    };
    Ok(m)
}

fn parse_recv_complete<'a>(buf: &'a [u8], p: &'a [u8]) -> Result<ReceiveBufferComplete<'a>, NvspError> {
    let t = NVSP_MSG1_TYPE_SEND_RECV_BUF_COMPLETE;
    let h: Nvsp1SendReceiveBufferCompleteHeader = body(buf, t)?;
    let first: Nvsp1ReceiveBufferSection = bytes::read(p, 8).ok_or(NvspError::TooShort { msg_type: t, need: 28, have: buf.len() })?;
    let (status, n) = (h.status, h.num_sections);
    let extra = usize::try_from(n).ok().and_then(|n| n.checked_sub(1)).and_then(|n| n.checked_mul(NVSP_RECEIVE_SECTION_SIZE));
    let more = extra.and_then(|len| bytes::sub(p, 8 + NVSP_RECEIVE_SECTION_SIZE, len));
    let more = if status == NVSP_STAT_SUCCESS {
        if n == 0 {
            return Err(NvspError::NoReceiveSections);
        }
        more.ok_or(NvspError::ReceiveSectionsTruncated(n))?
    } else {
        more.unwrap_or(&[])
    };
    Ok(ReceiveBufferComplete { status, num_sections: n, first, more })
}

fn parse_send_table(buf: &[u8], version: Option<NvspVersion>) -> Result<SendIndirectionTable, NvspError> {
    let h: Nvsp5SendIndirectTable = body(buf, NVSP_MSG5_TYPE_SEND_INDIRECTION_TABLE)?;
    let (count, stated) = (h.count, h.offset);
    if usize::try_from(count).ok() != Some(VRSS_SEND_TAB_SIZE) {
        return Err(NvspError::SendTableCount(count));
    }
    let table_len = VRSS_SEND_TAB_SIZE * 4;
    let quirk = version.map(|v| v.send_table_offset_quirk()).unwrap_or(false);
    let offset = if quirk && buf.len() >= NVSP_SEND_TABLE_OFFSET + table_len {
        NVSP_SEND_TABLE_OFFSET
    } else {
        usize::try_from(stated).map_err(|_| NvspError::SendTableOutside(stated))?
    };
    let raw = bytes::sub(buf, offset, table_len).ok_or(NvspError::SendTableOutside(stated))?;
    let mut entries = [0u32; VRSS_SEND_TAB_SIZE];
    for (e, c) in entries.iter_mut().zip(raw.chunks_exact(4)) {
        *e = bytes::u32_at(c, 0).unwrap_or(0);
    }
    Ok(SendIndirectionTable { offset: stated, entries })
}

fn parse_pd_api(buf: &[u8], from: Sender) -> Result<NvspMessage<'_>, NvspError> {
    let t = NVSP_MSG6_TYPE_PD_API;
    let m = match from {
        Sender::Guest => {
            let r: Nvsp6PdApiReq = body(buf, t)?;
            check_pd_op(r.op)?;
            NvspMessage::PdApiRequest(r)
        }
        Sender::Host => {
            let c: Nvsp6PdApiComp = body(buf, t)?;
            check_pd_op(c.op)?;
            NvspMessage::PdApiComplete(c)
        }
    };
    Ok(m)
}

fn check_pd_op(op: u32) -> Result<(), NvspError> {
    if (PD_API_OP_CONFIG..PD_API_OP_MAX).contains(&op) {
        Ok(())
    } else {
        Err(NvspError::PdApiOp(op))
    }
}

fn parse_pd_batch(buf: &[u8]) -> Result<PdPostBatch<'_>, NvspError> {
    let h: Nvsp6PdBatchMsgHeader =
        bytes::read(buf, 0).ok_or(NvspError::TooShort { msg_type: NVSP_MSG6_TYPE_PD_POST_BATCH, need: 8, have: buf.len() })?;
    let count = h.count;
    let len = usize::from(count) * core::mem::size_of::<Nvsp6PdBuf>();
    let bufs = bytes::sub(buf, core::mem::size_of::<Nvsp6PdBatchMsgHeader>(), len).ok_or(NvspError::PdBatchTruncated(count))?;
    Ok(PdPostBatch { flags: h.flags, bufs })
}

// ---------------------------------------------------------------------------------------
// Encoding.

impl NvspMessage<'_> {
    /// The message type.
    pub fn msg_type(&self) -> u32 {
        match self {
            NvspMessage::Init(_) => NVSP_MSG_TYPE_INIT,
            NvspMessage::InitComplete(_) => NVSP_MSG_TYPE_INIT_COMPLETE,
            NvspMessage::SendNdisVersion(_) => NVSP_MSG1_TYPE_SEND_NDIS_VER,
            NvspMessage::SendReceiveBuffer(_) => NVSP_MSG1_TYPE_SEND_RECV_BUF,
            NvspMessage::SendReceiveBufferComplete(_) => NVSP_MSG1_TYPE_SEND_RECV_BUF_COMPLETE,
            NvspMessage::RevokeReceiveBuffer(_) => NVSP_MSG1_TYPE_REVOKE_RECV_BUF,
            NvspMessage::SendSendBuffer(_) => NVSP_MSG1_TYPE_SEND_SEND_BUF,
            NvspMessage::SendSendBufferComplete(_) => NVSP_MSG1_TYPE_SEND_SEND_BUF_COMPLETE,
            NvspMessage::RevokeSendBuffer(_) => NVSP_MSG1_TYPE_REVOKE_SEND_BUF,
            NvspMessage::SendRndisPacket(_) => NVSP_MSG1_TYPE_SEND_RNDIS_PKT,
            NvspMessage::SendRndisPacketComplete(_) => NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE,
            NvspMessage::SendNdisConfig(_) => NVSP_MSG2_TYPE_SEND_NDIS_CONFIG,
            NvspMessage::AllocRxBuf(_) => NVSP_MSG2_TYPE_ALLOC_RXBUF,
            NvspMessage::AllocRxBufComplete(_) => NVSP_MSG2_TYPE_ALLOC_RXBUF_COMP,
            NvspMessage::FreeRxBuf(_) => NVSP_MSG2_TYPE_FREE_RXBUF,
            NvspMessage::SendVfAssociation(_) => NVSP_MSG4_TYPE_SEND_VF_ASSOCIATION,
            NvspMessage::SwitchDataPath(_) => NVSP_MSG4_TYPE_SWITCH_DATA_PATH,
            NvspMessage::OidQueryEx(_) => NVSP_MSG5_TYPE_OID_QUERY_EX,
            NvspMessage::OidQueryExComplete(_) => NVSP_MSG5_TYPE_OID_QUERY_EX_COMP,
            NvspMessage::SubchannelRequest(_) | NvspMessage::SubchannelComplete(_) => NVSP_MSG5_TYPE_SUBCHANNEL,
            NvspMessage::SendIndirectionTable(_) => NVSP_MSG5_TYPE_SEND_INDIRECTION_TABLE,
            NvspMessage::PdApiRequest(_) | NvspMessage::PdApiComplete(_) => NVSP_MSG6_TYPE_PD_API,
            NvspMessage::PdPostBatch(_) => NVSP_MSG6_TYPE_PD_POST_BATCH,
            NvspMessage::Unhandled { msg_type, .. } => *msg_type,
        }
    }

    /// Bytes [`encode`](Self::encode) writes: `NVSP_MESSAGE_SIZE` for everything Linux sends
    /// as a `struct nvsp_message`; `NVSP_RECV_COMPLETION_SIZE` for the RNDIS packet
    /// completion (`recv_comp_msg`); a full message plus the table for the send indirection
    /// table; more for multi-section receive completions, PD batches and long unhandled
    /// payloads.
    pub fn encoded_len(&self) -> usize {
        match self {
            NvspMessage::SendRndisPacketComplete(_) => NVSP_RECV_COMPLETION_SIZE,
            NvspMessage::SendIndirectionTable(_) => NVSP_SEND_TABLE_OFFSET + VRSS_SEND_TAB_SIZE * 4,
            NvspMessage::SendReceiveBufferComplete(c) => {
                NVSP_MESSAGE_SIZE.max(NVSP_HEADER_SIZE + 8 + NVSP_RECEIVE_SECTION_SIZE + c.more.len())
            }
            NvspMessage::PdPostBatch(b) => NVSP_MESSAGE_SIZE.max(8 + b.bufs.len()),
            NvspMessage::Unhandled { payload, .. } => NVSP_MESSAGE_SIZE.max(NVSP_HEADER_SIZE + payload.len()),
            _ => NVSP_MESSAGE_SIZE,
        }
    }

    /// Writes the message into `out` (header, payload, zeroed padding) and returns its length
    /// ([`encoded_len`](Self::encoded_len)).
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, NvspError> {
        let len = self.encoded_len();
        let too_small = NvspError::BufferTooSmall { need: len, have: out.len() };
        let dst = out.get_mut(..len).ok_or(too_small)?;
        dst.iter_mut().for_each(|b| *b = 0);
        let p = NVSP_HEADER_SIZE;
        let ok = match self {
            NvspMessage::PdPostBatch(b) => {
                let count = u16::try_from(b.count()).map_err(|_| NvspError::PdBatchTruncated(u16::MAX))?;
                let h = Nvsp6PdBatchMsgHeader { msg_type: NVSP_MSG6_TYPE_PD_POST_BATCH, count, flags: b.flags };
                let used = count_bytes(count);
                bytes::write(dst, 0, &h).and_then(|_| bytes::put(dst, 8, bytes::head(b.bufs, used)))
            }
            _ => bytes::put_u32(dst, 0, self.msg_type()).and_then(|_| self.encode_payload(dst, p)),
        };
        ok.ok_or(too_small)?;
        Ok(len)
    }

    fn encode_payload(&self, dst: &mut [u8], p: usize) -> Option<()> {
        match self {
            NvspMessage::Init(m) => bytes::write(dst, p, m),
            NvspMessage::InitComplete(m) => bytes::write(dst, p, m),
            NvspMessage::SendNdisVersion(m) => bytes::write(dst, p, m),
            NvspMessage::SendReceiveBuffer(m) => bytes::write(dst, p, m),
            NvspMessage::SendReceiveBufferComplete(c) => {
                let h = Nvsp1SendReceiveBufferCompleteHeader { status: c.status, num_sections: c.num_sections };
                bytes::write(dst, p, &h)?;
                bytes::write(dst, p + 8, &c.first)?;
                bytes::put(dst, p + 8 + NVSP_RECEIVE_SECTION_SIZE, c.more)
            }
            NvspMessage::RevokeReceiveBuffer(m) => bytes::write(dst, p, m),
            NvspMessage::SendSendBuffer(m) => bytes::write(dst, p, m),
            NvspMessage::SendSendBufferComplete(m) => bytes::write(dst, p, m),
            NvspMessage::RevokeSendBuffer(m) => bytes::write(dst, p, m),
            NvspMessage::SendRndisPacket(m) => bytes::write(dst, p, m),
            NvspMessage::SendRndisPacketComplete(m) => bytes::write(dst, p, m),
            NvspMessage::SendNdisConfig(m) => bytes::write(dst, p, m),
            NvspMessage::AllocRxBuf(m) => bytes::write(dst, p, m),
            NvspMessage::AllocRxBufComplete(m) => bytes::write(dst, p, m),
            NvspMessage::FreeRxBuf(m) => bytes::write(dst, p, m),
            NvspMessage::SendVfAssociation(m) => bytes::write(dst, p, m),
            NvspMessage::SwitchDataPath(m) => bytes::write(dst, p, m),
            NvspMessage::OidQueryEx(m) => bytes::write(dst, p, m),
            NvspMessage::OidQueryExComplete(m) => bytes::write(dst, p, m),
            NvspMessage::SubchannelRequest(m) => bytes::write(dst, p, m),
            NvspMessage::SubchannelComplete(m) => bytes::write(dst, p, m),
            NvspMessage::SendIndirectionTable(t) => {
                let off = u32::try_from(NVSP_SEND_TABLE_OFFSET).ok()?;
                let h = Nvsp5SendIndirectTable { count: VRSS_SEND_TAB_SIZE as u32, offset: off };
                bytes::write(dst, p, &h)?;
                for (i, e) in t.entries.iter().enumerate() {
                    bytes::put_u32(dst, NVSP_SEND_TABLE_OFFSET + i * 4, *e)?;
                }
                Some(())
            }
            NvspMessage::PdApiRequest(m) => bytes::write(dst, p, m),
            NvspMessage::PdApiComplete(m) => bytes::write(dst, p, m),
            NvspMessage::PdPostBatch(_) => Some(()),
            NvspMessage::Unhandled { payload, .. } => bytes::put(dst, p, payload),
        }
    }
}

fn count_bytes(count: u16) -> usize {
    usize::from(count) * core::mem::size_of::<Nvsp6PdBuf>()
}

// ---------------------------------------------------------------------------------------
// Builders for the messages Linux sends, and the host's answers.

impl NvspMessage<'static> {
    /// Guest: `NVSP_MSG_TYPE_INIT` proposing exactly `v` (`negotiate_nvsp_ver()`).
    pub const fn init(v: NvspVersion) -> Self {
        NvspMessage::Init(NvspMessageInit { min_protocol_ver: v.raw(), max_protocol_ver: v.raw() })
    }

    /// Host: `NVSP_MSG_TYPE_INIT_COMPLETE` accepting `Some(v)` or refusing (`None`:
    /// `NVSP_STAT_FAIL`).
    pub const fn init_complete(v: Option<NvspVersion>, max_mdl_chain_len: u32) -> Self {
        let (ver, status) = match v {
            Some(v) => (v.raw(), NVSP_STAT_SUCCESS),
            None => (NVSP_INVALID_PROTOCOL_VERSION, NVSP_STAT_FAIL),
        };
        NvspMessage::InitComplete(NvspMessageInitComplete { negotiated_protocol_ver: ver, max_mdl_chain_len, status })
    }

    /// Guest: `NVSP_MSG2_TYPE_SEND_NDIS_CONFIG` for MTU `mtu` (Linux announces
    /// `mtu + ETH_HLEN`; pass the interface MTU here).
    pub const fn ndis_config(v: NvspVersion, mtu: u32, isolated: bool) -> Self {
        NvspMessage::SendNdisConfig(Nvsp2SendNdisConfig {
            mtu: mtu.saturating_add(ETH_HLEN),
            reserved: 0,
            capability: v.ndis_config_capability(isolated),
        })
    }

    /// Guest: `NVSP_MSG1_TYPE_SEND_NDIS_VER` with the NDIS version Linux announces for `v`.
    pub const fn ndis_version(v: NvspVersion) -> Self {
        let n = v.ndis_version();
        NvspMessage::SendNdisVersion(Nvsp1SendNdisVersion { ndis_major_ver: n.major, ndis_minor_ver: n.minor })
    }

    /// Guest: `NVSP_MSG1_TYPE_SEND_RECV_BUF` with `NETVSC_RECEIVE_BUFFER_ID`.
    pub const fn send_receive_buffer(gpadl_handle: u32) -> Self {
        NvspMessage::SendReceiveBuffer(Nvsp1SendReceiveBuffer { gpadl_handle, id: NETVSC_RECEIVE_BUFFER_ID })
    }

    /// Guest: `NVSP_MSG1_TYPE_SEND_SEND_BUF` with `NETVSC_SEND_BUFFER_ID`.
    pub const fn send_send_buffer(gpadl_handle: u32) -> Self {
        NvspMessage::SendSendBuffer(Nvsp1SendSendBuffer { gpadl_handle, id: NETVSC_SEND_BUFFER_ID })
    }

    /// Guest: `NVSP_MSG1_TYPE_REVOKE_RECV_BUF`.
    pub const fn revoke_receive_buffer() -> Self {
        NvspMessage::RevokeReceiveBuffer(Nvsp1RevokeReceiveBuffer { id: NETVSC_RECEIVE_BUFFER_ID })
    }

    /// Guest: `NVSP_MSG1_TYPE_REVOKE_SEND_BUF`.
    pub const fn revoke_send_buffer() -> Self {
        NvspMessage::RevokeSendBuffer(Nvsp1RevokeSendBuffer { id: NETVSC_SEND_BUFFER_ID })
    }

    /// Either side: `NVSP_MSG1_TYPE_SEND_RNDIS_PKT`. `section` is `Some((index, used))` when
    /// the message is in a send-buffer section, `None` otherwise (index
    /// `NETVSC_INVALID_INDEX`, size 0, as `netvsc_send_pkt()`).
    pub const fn rndis_packet(control: bool, section: Option<(u32, u32)>) -> Self {
        let channel_type = if control { NVSP_RNDIS_CHANNEL_CONTROL } else { NVSP_RNDIS_CHANNEL_DATA };
        let (idx, size) = match section {
            Some((i, s)) => (i, s),
            None => (NETVSC_INVALID_INDEX, 0),
        };
        NvspMessage::SendRndisPacket(Nvsp1SendRndisPacket {
            channel_type,
            send_buf_section_index: idx,
            send_buf_section_size: size,
        })
    }

    /// Either side: `NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE` with `status`.
    pub const fn rndis_packet_complete(status: u32) -> Self {
        NvspMessage::SendRndisPacketComplete(Nvsp1SendRndisPacketComplete { status })
    }

    /// Guest: `NVSP_MSG5_TYPE_SUBCHANNEL` allocating `n` subchannels.
    pub const fn subchannel_request(n: u32) -> Self {
        NvspMessage::SubchannelRequest(Nvsp5SubchannelRequest { op: NVSP_SUBCHANNEL_ALLOCATE, num_subchannels: n })
    }

    /// Host: `NVSP_MSG5_TYPE_SUBCHANNEL` completion.
    pub const fn subchannel_complete(status: u32, n: u32) -> Self {
        NvspMessage::SubchannelComplete(Nvsp5SubchannelComplete { status, num_subchannels: n })
    }

    /// Guest: `NVSP_MSG4_TYPE_SWITCH_DATA_PATH` (`netvsc_switch_datapath()`). The host
    /// completes it with an empty completion packet (Linux matches it by transaction id).
    pub const fn switch_data_path(vf: bool) -> Self {
        let dp = if vf { NVSP_DATAPATH_VF } else { NVSP_DATAPATH_SYNTHETIC };
        NvspMessage::SwitchDataPath(Nvsp4SwDatapath { active_datapath: dp })
    }

    /// Host: `NVSP_MSG1_TYPE_SEND_SEND_BUF_COMPLETE`.
    pub const fn send_buffer_complete(status: u32, section_size: u32) -> Self {
        NvspMessage::SendSendBufferComplete(Nvsp1SendSendBufferComplete { status, section_size })
    }

    /// Host: `NVSP_MSG5_TYPE_SEND_INDIRECTION_TABLE` spreading sends over `channels`
    /// channels (entry `i` is `i % channels`, as hosts and Linux's default do).
    pub fn send_table_round_robin(channels: u32) -> Self {
        let mut entries = [0u32; VRSS_SEND_TAB_SIZE];
        let n = channels.max(1);
        for (i, e) in (0u32..).zip(entries.iter_mut()) {
            *e = i % n;
        }
        NvspMessage::SendIndirectionTable(SendIndirectionTable { offset: NVSP_SEND_TABLE_OFFSET as u32, entries })
    }

    /// Host: `NVSP_MSG4_TYPE_SEND_VF_ASSOCIATION`.
    pub const fn vf_association(serial: Option<u32>) -> Self {
        let (allocated, serial) = match serial {
            Some(s) => (1, s),
            None => (0, 0),
        };
        NvspMessage::SendVfAssociation(Nvsp4SendVfAssociation { allocated, serial })
    }
}

// ---------------------------------------------------------------------------------------
// Buffer layouts.

/// The receive buffer as the guest uses it after the host's completion: sections of
/// `section_size` bytes, `section_count` of them, in a buffer of `buffer_size` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReceiveBufferLayout {
    /// Bytes of the receive buffer (`recv_buf_size`).
    pub buffer_size: u32,
    /// `recv_section_size` (the section's `sub_alloc_size`).
    pub section_size: u32,
    /// `recv_section_cnt` (the section's `num_sub_allocs`).
    pub section_count: u32,
}

impl ReceiveBufferLayout {
    /// Guest: validates the host's completion as `netvsc_init_buf()` does (success, exactly
    /// one section at offset 0, `sub_alloc_size >= NETVSC_MTU_MIN`, all sub-allocations
    /// inside the `buffer_size` bytes the guest allocated).
    pub fn from_complete(c: &ReceiveBufferComplete<'_>, buffer_size: u32) -> Result<Self, NvspError> {
        if c.status != NVSP_STAT_SUCCESS {
            return Err(NvspError::ReceiveBufferStatus(c.status));
        }
        if c.num_sections != 1 {
            return Err(NvspError::ReceiveSectionCount(c.num_sections));
        }
        let s = c.first;
        let (offset, size, count) = (s.offset, s.sub_alloc_size, s.num_sub_allocs);
        if offset != 0 {
            return Err(NvspError::ReceiveSectionOffset(offset));
        }
        if size < NETVSC_MTU_MIN {
            return Err(NvspError::ReceiveSectionSize(size));
        }
        if u64::from(size) * u64::from(count) > u64::from(buffer_size) {
            return Err(NvspError::ReceiveSectionsExceedBuffer);
        }
        Ok(ReceiveBufferLayout { buffer_size, section_size: size, section_count: count })
    }

    /// Host: the layout for a guest buffer of `buffer_size` bytes cut into sections of
    /// `section_size` bytes.
    pub fn host(buffer_size: u32, section_size: u32) -> Result<Self, NvspError> {
        if section_size < NETVSC_MTU_MIN {
            return Err(NvspError::ReceiveSectionSize(section_size));
        }
        let section_count = buffer_size / section_size;
        Ok(ReceiveBufferLayout { buffer_size, section_size, section_count })
    }

    /// Host: the one section announced in the completion.
    pub const fn section(&self) -> Nvsp1ReceiveBufferSection {
        Nvsp1ReceiveBufferSection {
            offset: 0,
            sub_alloc_size: self.section_size,
            num_sub_allocs: self.section_count,
            end_offset: self.section_size.saturating_mul(self.section_count),
        }
    }

    /// Host: byte offset of sub-allocation `index`, if it exists.
    pub fn section_offset(&self, index: u32) -> Option<u32> {
        if index >= self.section_count {
            return None;
        }
        index.checked_mul(self.section_size)
    }

    /// Guest: the bytes of a transfer page range (`byte_offset`, `byte_count`), validated as
    /// `netvsc_receive()` does (inside the buffer, no longer than a section).
    pub fn range(&self, offset: u32, len: u32) -> Result<Range<usize>, NvspError> {
        if offset > self.buffer_size || len > self.buffer_size - offset {
            return Err(NvspError::RangeOutsideBuffer { offset, len });
        }
        if len > self.section_size {
            return Err(NvspError::RangeTooLong(len));
        }
        let start = usize::try_from(offset).map_err(|_| NvspError::RangeOutsideBuffer { offset, len })?;
        let n = usize::try_from(len).map_err(|_| NvspError::RangeOutsideBuffer { offset, len })?;
        let end = start.checked_add(n).ok_or(NvspError::RangeOutsideBuffer { offset, len })?;
        Ok(start..end)
    }
}

/// The send buffer: `section_count` sections of `section_size` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SendBufferLayout {
    /// Bytes of the send buffer.
    pub buffer_size: u32,
    /// `send_section_size` (chosen by the host).
    pub section_size: u32,
    /// `send_section_cnt`: `buffer_size / section_size`.
    pub section_count: u32,
}

impl SendBufferLayout {
    /// The layout for a buffer of `buffer_size` bytes and the host's section size, validated
    /// as `netvsc_init_buf()` does (`section_size >= NETVSC_MTU_MIN`).
    pub fn new(buffer_size: u32, section_size: u32) -> Result<Self, NvspError> {
        if section_size < NETVSC_MTU_MIN || section_size > buffer_size {
            return Err(NvspError::SendSectionSize(section_size));
        }
        Ok(SendBufferLayout { buffer_size, section_size, section_count: buffer_size / section_size })
    }

    /// Guest: the layout from the host's completion.
    pub fn from_complete(c: &Nvsp1SendSendBufferComplete, buffer_size: u32) -> Result<Self, NvspError> {
        let status = c.status;
        if status != NVSP_STAT_SUCCESS {
            return Err(NvspError::SendBufferStatus(status));
        }
        Self::new(buffer_size, c.section_size)
    }

    /// Byte offset of section `index`, if it exists.
    pub fn section_offset(&self, index: u32) -> Option<u32> {
        if index >= self.section_count {
            return None;
        }
        index.checked_mul(self.section_size)
    }

    /// Host: where a guest's `NVSP_MSG1_TYPE_SEND_RNDIS_PKT` put its RNDIS message(s):
    /// `None` when the send buffer is not used (`NETVSC_INVALID_INDEX`; the data came as
    /// GPA ranges), else the byte range inside the send buffer (index below the count, size
    /// non-zero and within the section).
    pub fn message_range(&self, m: &Nvsp1SendRndisPacket) -> Result<Option<Range<usize>>, NvspError> {
        let (index, used) = (m.send_buf_section_index, m.send_buf_section_size);
        if index == NETVSC_INVALID_INDEX {
            return Ok(None);
        }
        let start = self.section_offset(index).ok_or(NvspError::SendSectionIndex(index))?;
        if used == 0 || used > self.section_size {
            return Err(NvspError::SendSectionUsed(used));
        }
        let start = usize::try_from(start).map_err(|_| NvspError::SendSectionIndex(index))?;
        let n = usize::try_from(used).map_err(|_| NvspError::SendSectionUsed(used))?;
        let end = start.checked_add(n).ok_or(NvspError::SendSectionUsed(used))?;
        Ok(Some(start..end))
    }
}
