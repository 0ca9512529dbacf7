// SPDX-License-Identifier: GPL-2.0-only
//! The OIDs NetVSC queries and sets, the packet filter bits, and the NDIS structures carried
//! in their information buffers, as defined in Linux `include/linux/rndis.h`
//! (`RNDIS_OID_*`, `RNDIS_PACKET_TYPE_*`) and `drivers/net/hyperv/hyperv_net.h`
//! (`OID_GEN_RECEIVE_SCALE_*`, `OID_TCP_*`, `NDIS_PACKET_TYPE_*`, `struct ndis_offload`,
//! `struct ndis_offload_params`, `struct ndis_recv_scale_cap`, `struct ndis_recv_scale_param`,
//! `struct rndis_config_parameter_info`), and used by `rndis_filter.c`.
//!
//! Guest-side builders produce the information buffers Linux sends; host-side parsers
//! validate them (object header type and size, every offset and length) and Linux-side
//! parsers validate the host's answers the way `rndis_filter.c` does.

use crate::bytes;
use crate::nvsp::NvspVersion;
use zerocopy::{FromZeros, IntoBytes};
use zerocopy_derive::{FromBytes, Immutable, IntoBytes, KnownLayout};

// ---------------------------------------------------------------------------------------
// OIDs.

/// `RNDIS_OID_GEN_SUPPORTED_LIST`.
pub const RNDIS_OID_GEN_SUPPORTED_LIST: u32 = 0x0001_0101;
/// `RNDIS_OID_GEN_HARDWARE_STATUS`.
pub const RNDIS_OID_GEN_HARDWARE_STATUS: u32 = 0x0001_0102;
/// `RNDIS_OID_GEN_MEDIA_SUPPORTED`.
pub const RNDIS_OID_GEN_MEDIA_SUPPORTED: u32 = 0x0001_0103;
/// `RNDIS_OID_GEN_MEDIA_IN_USE`.
pub const RNDIS_OID_GEN_MEDIA_IN_USE: u32 = 0x0001_0104;
/// `RNDIS_OID_GEN_MAXIMUM_LOOKAHEAD`.
pub const RNDIS_OID_GEN_MAXIMUM_LOOKAHEAD: u32 = 0x0001_0105;
/// `RNDIS_OID_GEN_MAXIMUM_FRAME_SIZE`: the MTU (Linux lowers its MTU to it).
pub const RNDIS_OID_GEN_MAXIMUM_FRAME_SIZE: u32 = 0x0001_0106;
/// `RNDIS_OID_GEN_LINK_SPEED`: u32 in 100 bps units.
pub const RNDIS_OID_GEN_LINK_SPEED: u32 = 0x0001_0107;
/// `RNDIS_OID_GEN_TRANSMIT_BUFFER_SPACE`.
pub const RNDIS_OID_GEN_TRANSMIT_BUFFER_SPACE: u32 = 0x0001_0108;
/// `RNDIS_OID_GEN_RECEIVE_BUFFER_SPACE`.
pub const RNDIS_OID_GEN_RECEIVE_BUFFER_SPACE: u32 = 0x0001_0109;
/// `RNDIS_OID_GEN_TRANSMIT_BLOCK_SIZE`.
pub const RNDIS_OID_GEN_TRANSMIT_BLOCK_SIZE: u32 = 0x0001_010A;
/// `RNDIS_OID_GEN_RECEIVE_BLOCK_SIZE`.
pub const RNDIS_OID_GEN_RECEIVE_BLOCK_SIZE: u32 = 0x0001_010B;
/// `RNDIS_OID_GEN_VENDOR_ID`.
pub const RNDIS_OID_GEN_VENDOR_ID: u32 = 0x0001_010C;
/// `RNDIS_OID_GEN_VENDOR_DESCRIPTION`.
pub const RNDIS_OID_GEN_VENDOR_DESCRIPTION: u32 = 0x0001_010D;
/// `RNDIS_OID_GEN_CURRENT_PACKET_FILTER`: u32 of `NDIS_PACKET_TYPE_*`.
pub const RNDIS_OID_GEN_CURRENT_PACKET_FILTER: u32 = 0x0001_010E;
/// `RNDIS_OID_GEN_CURRENT_LOOKAHEAD`.
pub const RNDIS_OID_GEN_CURRENT_LOOKAHEAD: u32 = 0x0001_010F;
/// `RNDIS_OID_GEN_DRIVER_VERSION`.
pub const RNDIS_OID_GEN_DRIVER_VERSION: u32 = 0x0001_0110;
/// `RNDIS_OID_GEN_MAXIMUM_TOTAL_SIZE`.
pub const RNDIS_OID_GEN_MAXIMUM_TOTAL_SIZE: u32 = 0x0001_0111;
/// `RNDIS_OID_GEN_MAC_OPTIONS`.
pub const RNDIS_OID_GEN_MAC_OPTIONS: u32 = 0x0001_0113;
/// `RNDIS_OID_GEN_MEDIA_CONNECT_STATUS`: u32, `RNDIS_MEDIA_STATE_*`.
pub const RNDIS_OID_GEN_MEDIA_CONNECT_STATUS: u32 = 0x0001_0114;
/// `RNDIS_OID_GEN_MAXIMUM_SEND_PACKETS`.
pub const RNDIS_OID_GEN_MAXIMUM_SEND_PACKETS: u32 = 0x0001_0115;
/// `RNDIS_OID_GEN_VENDOR_DRIVER_VERSION`.
pub const RNDIS_OID_GEN_VENDOR_DRIVER_VERSION: u32 = 0x0001_0116;
/// `RNDIS_OID_GEN_PHYSICAL_MEDIUM`.
pub const RNDIS_OID_GEN_PHYSICAL_MEDIUM: u32 = 0x0001_0202;
/// `RNDIS_OID_GEN_MACHINE_NAME`.
pub const RNDIS_OID_GEN_MACHINE_NAME: u32 = 0x0001_021A;
/// `RNDIS_OID_GEN_RNDIS_CONFIG_PARAMETER`: set a named parameter ([`ConfigParameter`]).
pub const RNDIS_OID_GEN_RNDIS_CONFIG_PARAMETER: u32 = 0x0001_021B;
/// `RNDIS_OID_GEN_VLAN_ID`.
pub const RNDIS_OID_GEN_VLAN_ID: u32 = 0x0001_021C;
/// `RNDIS_OID_GEN_XMIT_OK`.
pub const RNDIS_OID_GEN_XMIT_OK: u32 = 0x0002_0101;
/// `RNDIS_OID_GEN_RCV_OK`.
pub const RNDIS_OID_GEN_RCV_OK: u32 = 0x0002_0102;
/// `RNDIS_OID_GEN_XMIT_ERROR`.
pub const RNDIS_OID_GEN_XMIT_ERROR: u32 = 0x0002_0103;
/// `RNDIS_OID_GEN_RCV_ERROR`.
pub const RNDIS_OID_GEN_RCV_ERROR: u32 = 0x0002_0104;
/// `RNDIS_OID_GEN_RCV_NO_BUFFER`.
pub const RNDIS_OID_GEN_RCV_NO_BUFFER: u32 = 0x0002_0105;
/// `RNDIS_OID_GEN_FRIENDLY_NAME`: UCS-2 name (Linux uses it as `ifalias`).
pub const RNDIS_OID_GEN_FRIENDLY_NAME: u32 = 0x0002_0216;
/// `RNDIS_OID_802_3_PERMANENT_ADDRESS`: 6 bytes.
pub const RNDIS_OID_802_3_PERMANENT_ADDRESS: u32 = 0x0101_0101;
/// `RNDIS_OID_802_3_CURRENT_ADDRESS`: 6 bytes.
pub const RNDIS_OID_802_3_CURRENT_ADDRESS: u32 = 0x0101_0102;
/// `RNDIS_OID_802_3_MULTICAST_LIST`: 6-byte addresses.
pub const RNDIS_OID_802_3_MULTICAST_LIST: u32 = 0x0101_0103;
/// `RNDIS_OID_802_3_MAXIMUM_LIST_SIZE`.
pub const RNDIS_OID_802_3_MAXIMUM_LIST_SIZE: u32 = 0x0101_0104;
/// `RNDIS_OID_802_3_MAC_OPTIONS`.
pub const RNDIS_OID_802_3_MAC_OPTIONS: u32 = 0x0101_0105;
/// `OID_GEN_RECEIVE_SCALE_CAPABILITIES` (query only): [`NdisRecvScaleCap`].
pub const OID_GEN_RECEIVE_SCALE_CAPABILITIES: u32 = 0x0001_0203;
/// `OID_GEN_RECEIVE_SCALE_PARAMETERS` (query and set): [`NdisRecvScaleParam`], table, key.
pub const OID_GEN_RECEIVE_SCALE_PARAMETERS: u32 = 0x0001_0204;
/// `OID_TCP_OFFLOAD_CURRENT_CONFIG` (query only).
pub const OID_TCP_OFFLOAD_CURRENT_CONFIG: u32 = 0xFC01_020B;
/// `OID_TCP_OFFLOAD_PARAMETERS` (set only): [`NdisOffloadParams`].
pub const OID_TCP_OFFLOAD_PARAMETERS: u32 = 0xFC01_020C;
/// `OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES` (query only): [`NdisOffload`].
pub const OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES: u32 = 0xFC01_020D;
/// `OID_TCP_CONNECTION_OFFLOAD_CURRENT_CONFIG`.
pub const OID_TCP_CONNECTION_OFFLOAD_CURRENT_CONFIG: u32 = 0xFC01_020E;
/// `OID_TCP_CONNECTION_OFFLOAD_HARDWARE_CAPABILITIES`.
pub const OID_TCP_CONNECTION_OFFLOAD_HARDWARE_CAPABILITIES: u32 = 0xFC01_020F;
/// `OID_OFFLOAD_ENCAPSULATION` (set/query): [`NdisOffloadEncapsulation`].
pub const OID_OFFLOAD_ENCAPSULATION: u32 = 0x0101_010A;

// ---------------------------------------------------------------------------------------
// Packet filter.

/// `NDIS_PACKET_TYPE_DIRECTED`: frames to the adapter's address.
pub const NDIS_PACKET_TYPE_DIRECTED: u32 = 0x0000_0001;
/// `NDIS_PACKET_TYPE_MULTICAST`: frames to addresses in the multicast list.
pub const NDIS_PACKET_TYPE_MULTICAST: u32 = 0x0000_0002;
/// `NDIS_PACKET_TYPE_ALL_MULTICAST`.
pub const NDIS_PACKET_TYPE_ALL_MULTICAST: u32 = 0x0000_0004;
/// `NDIS_PACKET_TYPE_BROADCAST`.
pub const NDIS_PACKET_TYPE_BROADCAST: u32 = 0x0000_0008;
/// `NDIS_PACKET_TYPE_SOURCE_ROUTING`.
pub const NDIS_PACKET_TYPE_SOURCE_ROUTING: u32 = 0x0000_0010;
/// `NDIS_PACKET_TYPE_PROMISCUOUS`.
pub const NDIS_PACKET_TYPE_PROMISCUOUS: u32 = 0x0000_0020;
/// `NDIS_PACKET_TYPE_SMT`.
pub const NDIS_PACKET_TYPE_SMT: u32 = 0x0000_0040;
/// `NDIS_PACKET_TYPE_ALL_LOCAL`.
pub const NDIS_PACKET_TYPE_ALL_LOCAL: u32 = 0x0000_0080;
/// `NDIS_PACKET_TYPE_GROUP` (note: `RNDIS_PACKET_TYPE_GROUP` in `rndis.h` is 0x1000).
pub const NDIS_PACKET_TYPE_GROUP: u32 = 0x0000_0100;
/// `NDIS_PACKET_TYPE_ALL_FUNCTIONAL`.
pub const NDIS_PACKET_TYPE_ALL_FUNCTIONAL: u32 = 0x0000_0200;
/// `NDIS_PACKET_TYPE_FUNCTIONAL`.
pub const NDIS_PACKET_TYPE_FUNCTIONAL: u32 = 0x0000_0400;
/// `NDIS_PACKET_TYPE_MAC_FRAME`.
pub const NDIS_PACKET_TYPE_MAC_FRAME: u32 = 0x0000_0800;
/// The filter `rndis_filter_open_device()` sets when the interface comes up.
pub const LINUX_OPEN_PACKET_FILTER: u32 = NDIS_PACKET_TYPE_BROADCAST | NDIS_PACKET_TYPE_ALL_MULTICAST | NDIS_PACKET_TYPE_DIRECTED;

/// The filter `rndis_set_multicast()` computes from the interface flags.
pub const fn linux_packet_filter(promisc: bool, allmulti_or_mc: bool, broadcast: bool) -> u32 {
    if promisc {
        return NDIS_PACKET_TYPE_PROMISCUOUS;
    }
    let mut f = NDIS_PACKET_TYPE_DIRECTED;
    if allmulti_or_mc {
        f |= NDIS_PACKET_TYPE_ALL_MULTICAST;
    }
    if broadcast {
        f |= NDIS_PACKET_TYPE_BROADCAST;
    }
    f
}

// ---------------------------------------------------------------------------------------
// NDIS object header.

/// `NDIS_OBJECT_TYPE_DEFAULT`.
pub const NDIS_OBJECT_TYPE_DEFAULT: u8 = 0x80;
/// `NDIS_OBJECT_TYPE_RSS_CAPABILITIES`.
pub const NDIS_OBJECT_TYPE_RSS_CAPABILITIES: u8 = 0x88;
/// `NDIS_OBJECT_TYPE_RSS_PARAMETERS`.
pub const NDIS_OBJECT_TYPE_RSS_PARAMETERS: u8 = 0x89;
/// `NDIS_OBJECT_TYPE_OFFLOAD`.
pub const NDIS_OBJECT_TYPE_OFFLOAD: u8 = 0xa7;
/// `NDIS_OBJECT_TYPE_OFFLOAD_ENCAPSULATION` (NDIS `ntddndis.h`; not in Linux).
pub const NDIS_OBJECT_TYPE_OFFLOAD_ENCAPSULATION: u8 = 0xa8;

/// `struct ndis_object_header` (also `struct ndis_obj_header`, the packed twin).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct NdisObjectHeader {
    /// `type`: `NDIS_OBJECT_TYPE_*`.
    pub obj_type: u8,
    /// `revision`.
    pub revision: u8,
    /// `size`: bytes of the object.
    pub size: u16,
}

/// Why an NDIS information buffer was rejected or could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NdisError {
    /// The buffer is shorter than the object needs.
    TooShort {
        /// Bytes needed.
        need: usize,
        /// Bytes present.
        have: usize,
    },
    /// Object header type not the expected one.
    ObjectType(u8),
    /// Object header revision not supported.
    Revision(u8),
    /// Object header size smaller than the object's minimum or larger than the buffer.
    ObjectSize(u16),
    /// A field value outside its range (an offload parameter, a hash function).
    FieldValue(u32),
    /// The indirection table outside the buffer, inside the fixed part, or misaligned.
    TableOutside {
        /// `indirect_taboffset`.
        offset: u32,
        /// `indirect_tabsize`.
        size: u16,
    },
    /// More indirection table entries than `ITAB_NUM_MAX`, or a size not a multiple of 4.
    TableSize(u16),
    /// An indirection table entry not below the number of queues.
    TableEntry(u32),
    /// The hash key outside the buffer or inside the fixed part.
    KeyOutside {
        /// `hashkey_offset`.
        offset: u32,
        /// `hashkey_size`.
        size: u16,
    },
    /// A hash key longer than `NDIS_RSS_HASH_SECRET_KEY_MAX_SIZE_REVISION_2` or empty.
    KeySize(u16),
    /// The table and the key overlap.
    TableKeyOverlap,
    /// A config parameter name or value outside the buffer or inside the fixed part.
    ParameterOutside {
        /// The offset.
        offset: u32,
        /// The length.
        len: u32,
    },
    /// A UTF-16 string of odd length.
    OddStringLength(u32),
    /// A multicast list not a multiple of 6 bytes.
    MulticastLength(usize),
    /// The output buffer is too small.
    BufferTooSmall {
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        have: usize,
    },
}

impl NdisError {
    /// A short description for log lines.
    pub const fn as_str(&self) -> &'static str {
        match self {
            NdisError::TooShort { .. } => "ndis object too short",
            NdisError::ObjectType(_) => "wrong ndis object type",
            NdisError::Revision(_) => "unsupported ndis object revision",
            NdisError::ObjectSize(_) => "ndis object size out of range",
            NdisError::FieldValue(_) => "ndis field value out of range",
            NdisError::TableOutside { .. } => "rss indirection table outside the buffer",
            NdisError::TableSize(_) => "rss indirection table size invalid",
            NdisError::TableEntry(_) => "rss indirection table entry out of range",
            NdisError::KeyOutside { .. } => "rss hash key outside the buffer",
            NdisError::KeySize(_) => "rss hash key size invalid",
            NdisError::TableKeyOverlap => "rss table and key overlap",
            NdisError::ParameterOutside { .. } => "config parameter outside the buffer",
            NdisError::OddStringLength(_) => "utf-16 string of odd length",
            NdisError::MulticastLength(_) => "multicast list not a multiple of 6 bytes",
            NdisError::BufferTooSmall { .. } => "output buffer too small",
        }
    }
}

impl core::fmt::Display for NdisError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Copies `src` to the start of `out`; returns its length.
fn emit(out: &mut [u8], src: &[u8]) -> Result<usize, NdisError> {
    bytes::put(out, 0, src).ok_or(NdisError::BufferTooSmall { need: src.len(), have: out.len() })?;
    Ok(src.len())
}

// ---------------------------------------------------------------------------------------
// Task offload.

/// `NDIS_OFFLOAD_PARAMETERS_REVISION_1`.
pub const NDIS_OFFLOAD_PARAMETERS_REVISION_1: u8 = 1;
/// `NDIS_OFFLOAD_PARAMETERS_REVISION_2`.
pub const NDIS_OFFLOAD_PARAMETERS_REVISION_2: u8 = 2;
/// `NDIS_OFFLOAD_PARAMETERS_REVISION_3`.
pub const NDIS_OFFLOAD_PARAMETERS_REVISION_3: u8 = 3;
/// `NDIS_OFFLOAD_PARAMETERS_NO_CHANGE`: 0 in any field means "leave as is".
pub const NDIS_OFFLOAD_PARAMETERS_NO_CHANGE: u8 = 0;
/// `NDIS_OFFLOAD_PARAMETERS_LSOV2_DISABLED`.
pub const NDIS_OFFLOAD_PARAMETERS_LSOV2_DISABLED: u8 = 1;
/// `NDIS_OFFLOAD_PARAMETERS_LSOV2_ENABLED`.
pub const NDIS_OFFLOAD_PARAMETERS_LSOV2_ENABLED: u8 = 2;
/// `NDIS_OFFLOAD_PARAMETERS_LSOV1_ENABLED`.
pub const NDIS_OFFLOAD_PARAMETERS_LSOV1_ENABLED: u8 = 2;
/// `NDIS_OFFLOAD_PARAMETERS_RSC_DISABLED`.
pub const NDIS_OFFLOAD_PARAMETERS_RSC_DISABLED: u8 = 1;
/// `NDIS_OFFLOAD_PARAMETERS_RSC_ENABLED`.
pub const NDIS_OFFLOAD_PARAMETERS_RSC_ENABLED: u8 = 2;
/// `NDIS_OFFLOAD_PARAMETERS_TX_RX_DISABLED`.
pub const NDIS_OFFLOAD_PARAMETERS_TX_RX_DISABLED: u8 = 1;
/// `NDIS_OFFLOAD_PARAMETERS_TX_ENABLED_RX_DISABLED`.
pub const NDIS_OFFLOAD_PARAMETERS_TX_ENABLED_RX_DISABLED: u8 = 2;
/// `NDIS_OFFLOAD_PARAMETERS_RX_ENABLED_TX_DISABLED`.
pub const NDIS_OFFLOAD_PARAMETERS_RX_ENABLED_TX_DISABLED: u8 = 3;
/// `NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED`.
pub const NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED: u8 = 4;

/// `VERSION_4_OFFLOAD_SIZE`: the offload parameters Linux sends on NVSP 4 and older.
pub const VERSION_4_OFFLOAD_SIZE: usize = 22;
/// Smallest offload parameters accepted by the host: through `flags`
/// (`NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_1`).
pub const NDIS_OFFLOAD_PARAMETERS_SIZE_REVISION_1: usize = 20;

/// `NDIS_OFFLOAD_ENCAP_NONE`.
pub const NDIS_OFFLOAD_ENCAP_NONE: u32 = 0x0000;
/// `NDIS_OFFLOAD_ENCAP_NULL`.
pub const NDIS_OFFLOAD_ENCAP_NULL: u32 = 0x0001;
/// `NDIS_OFFLOAD_ENCAP_8023`: Ethernet (what Linux needs for LSO).
pub const NDIS_OFFLOAD_ENCAP_8023: u32 = 0x0002;
/// `NDIS_OFFLOAD_ENCAP_8023PQ`.
pub const NDIS_OFFLOAD_ENCAP_8023PQ: u32 = 0x0004;
/// `NDIS_OFFLOAD_ENCAP_8023PQ_OOB`.
pub const NDIS_OFFLOAD_ENCAP_8023PQ_OOB: u32 = 0x0008;
/// `NDIS_OFFLOAD_ENCAP_RFC1483`.
pub const NDIS_OFFLOAD_ENCAP_RFC1483: u32 = 0x0010;

/// `NDIS_TXCSUM_CAP_IP4OPT`.
pub const NDIS_TXCSUM_CAP_IP4OPT: u32 = 0x001;
/// `NDIS_TXCSUM_CAP_TCP4OPT`.
pub const NDIS_TXCSUM_CAP_TCP4OPT: u32 = 0x004;
/// `NDIS_TXCSUM_CAP_TCP4`.
pub const NDIS_TXCSUM_CAP_TCP4: u32 = 0x010;
/// `NDIS_TXCSUM_CAP_UDP4`.
pub const NDIS_TXCSUM_CAP_UDP4: u32 = 0x040;
/// `NDIS_TXCSUM_CAP_IP4`.
pub const NDIS_TXCSUM_CAP_IP4: u32 = 0x100;
/// `NDIS_TXCSUM_ALL_TCP4`.
pub const NDIS_TXCSUM_ALL_TCP4: u32 = NDIS_TXCSUM_CAP_TCP4 | NDIS_TXCSUM_CAP_TCP4OPT;
/// `NDIS_RXCSUM_CAP_IP4OPT`.
pub const NDIS_RXCSUM_CAP_IP4OPT: u32 = 0x001;
/// `NDIS_RXCSUM_CAP_TCP4OPT`.
pub const NDIS_RXCSUM_CAP_TCP4OPT: u32 = 0x004;
/// `NDIS_RXCSUM_CAP_TCP4`.
pub const NDIS_RXCSUM_CAP_TCP4: u32 = 0x010;
/// `NDIS_RXCSUM_CAP_UDP4`.
pub const NDIS_RXCSUM_CAP_UDP4: u32 = 0x040;
/// `NDIS_RXCSUM_CAP_IP4`.
pub const NDIS_RXCSUM_CAP_IP4: u32 = 0x100;
/// `NDIS_TXCSUM_CAP_IP6EXT`.
pub const NDIS_TXCSUM_CAP_IP6EXT: u32 = 0x001;
/// `NDIS_TXCSUM_CAP_TCP6OPT`.
pub const NDIS_TXCSUM_CAP_TCP6OPT: u32 = 0x004;
/// `NDIS_TXCSUM_CAP_TCP6`.
pub const NDIS_TXCSUM_CAP_TCP6: u32 = 0x010;
/// `NDIS_TXCSUM_CAP_UDP6`.
pub const NDIS_TXCSUM_CAP_UDP6: u32 = 0x040;
/// `NDIS_RXCSUM_CAP_IP6EXT`.
pub const NDIS_RXCSUM_CAP_IP6EXT: u32 = 0x001;
/// `NDIS_RXCSUM_CAP_TCP6OPT`.
pub const NDIS_RXCSUM_CAP_TCP6OPT: u32 = 0x004;
/// `NDIS_RXCSUM_CAP_TCP6`.
pub const NDIS_RXCSUM_CAP_TCP6: u32 = 0x010;
/// `NDIS_RXCSUM_CAP_UDP6`.
pub const NDIS_RXCSUM_CAP_UDP6: u32 = 0x040;
/// `NDIS_TXCSUM_ALL_TCP6`.
pub const NDIS_TXCSUM_ALL_TCP6: u32 = NDIS_TXCSUM_CAP_TCP6 | NDIS_TXCSUM_CAP_TCP6OPT | NDIS_TXCSUM_CAP_IP6EXT;
/// `NDIS_LSOV2_CAP_IP6EXT`.
pub const NDIS_LSOV2_CAP_IP6EXT: u32 = 0x001;
/// `NDIS_LSOV2_CAP_TCP6OPT`.
pub const NDIS_LSOV2_CAP_TCP6OPT: u32 = 0x004;
/// `NDIS_LSOV2_CAP_IP6`.
pub const NDIS_LSOV2_CAP_IP6: u32 = NDIS_LSOV2_CAP_IP6EXT | NDIS_LSOV2_CAP_TCP6OPT;

/// `struct ndis_csum_offload`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct NdisCsumOffload {
    /// `ip4_txenc`.
    pub ip4_txenc: u32,
    /// `ip4_txcsum` (`NDIS_TXCSUM_CAP_*4*`).
    pub ip4_txcsum: u32,
    /// `ip4_rxenc`.
    pub ip4_rxenc: u32,
    /// `ip4_rxcsum` (`NDIS_RXCSUM_CAP_*4*`).
    pub ip4_rxcsum: u32,
    /// `ip6_txenc`.
    pub ip6_txenc: u32,
    /// `ip6_txcsum` (`NDIS_TXCSUM_CAP_*6*`).
    pub ip6_txcsum: u32,
    /// `ip6_rxenc`.
    pub ip6_rxenc: u32,
    /// `ip6_rxcsum` (`NDIS_RXCSUM_CAP_*6*`).
    pub ip6_rxcsum: u32,
}

/// `struct ndis_lsov1_offload`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct NdisLsov1Offload {
    /// `encap`.
    pub encap: u32,
    /// `maxsize`.
    pub maxsize: u32,
    /// `minsegs`.
    pub minsegs: u32,
    /// `opts`.
    pub opts: u32,
}

/// `struct ndis_ipsecv1_offload`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct NdisIpsecv1Offload {
    /// `encap`.
    pub encap: u32,
    /// `ah_esp`.
    pub ah_esp: u32,
    /// `xport_tun`.
    pub xport_tun: u32,
    /// `ip4_opts`.
    pub ip4_opts: u32,
    /// `flags`.
    pub flags: u32,
    /// `ip4_ah`.
    pub ip4_ah: u32,
    /// `ip4_esp`.
    pub ip4_esp: u32,
}

/// `struct ndis_lsov2_offload`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct NdisLsov2Offload {
    /// `ip4_encap` (`NDIS_OFFLOAD_ENCAP_*`).
    pub ip4_encap: u32,
    /// `ip4_maxsz`: largest IPv4 segmentation request.
    pub ip4_maxsz: u32,
    /// `ip4_minsg`.
    pub ip4_minsg: u32,
    /// `ip6_encap`.
    pub ip6_encap: u32,
    /// `ip6_maxsz`.
    pub ip6_maxsz: u32,
    /// `ip6_minsg`.
    pub ip6_minsg: u32,
    /// `ip6_opts` (`NDIS_LSOV2_CAP_*`).
    pub ip6_opts: u32,
}

/// `struct ndis_ipsecv2_offload`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct NdisIpsecv2Offload {
    /// `encap`.
    pub encap: u32,
    /// `ip6`.
    pub ip6: u8,
    /// `ip4opt`.
    pub ip4opt: u8,
    /// `ip6ext`.
    pub ip6ext: u8,
    /// `ah`.
    pub ah: u8,
    /// `esp`.
    pub esp: u8,
    /// `ah_esp`.
    pub ah_esp: u8,
    /// `xport`.
    pub xport: u8,
    /// `tun`.
    pub tun: u8,
    /// `xport_tun`.
    pub xport_tun: u8,
    /// `lso`.
    pub lso: u8,
    /// `extseq`.
    pub extseq: u8,
    /// Padding (implicit in C).
    pub pad: u8,
    /// `udp_esp`.
    pub udp_esp: u32,
    /// `auth`.
    pub auth: u32,
    /// `crypto`.
    pub crypto: u32,
    /// `sa_caps`.
    pub sa_caps: u32,
}

/// `struct ndis_rsc_offload`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct NdisRscOffload {
    /// `ip4`: RSC over IPv4 supported.
    pub ip4: u8,
    /// `ip6`: RSC over IPv6 supported.
    pub ip6: u8,
}

/// `struct ndis_encap_offload`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct NdisEncapOffload {
    /// `flags`.
    pub flags: u32,
    /// `maxhdr`.
    pub maxhdr: u32,
}

/// `struct ndis_offload`: the host's offload capabilities
/// (`OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct NdisOffload {
    /// `header` (`NDIS_OBJECT_TYPE_OFFLOAD`).
    pub header: NdisObjectHeader,
    /// `csum`.
    pub csum: NdisCsumOffload,
    /// `lsov1`.
    pub lsov1: NdisLsov1Offload,
    /// `ipsecv1`.
    pub ipsecv1: NdisIpsecv1Offload,
    /// `lsov2`.
    pub lsov2: NdisLsov2Offload,
    /// `flags`.
    pub flags: u32,
    /// `ipsecv2` (NDIS 6.1 and later).
    pub ipsecv2: NdisIpsecv2Offload,
    /// `rsc` (NDIS 6.30 and later).
    pub rsc: NdisRscOffload,
    /// Padding (implicit in C).
    pub pad: [u8; 2],
    /// `encap_gre`.
    pub encap_gre: NdisEncapOffload,
}

/// `NDIS_OFFLOAD_SIZE`.
pub const NDIS_OFFLOAD_SIZE: usize = 156;
/// `NDIS_OFFLOAD_SIZE_6_0`: through `flags`.
pub const NDIS_OFFLOAD_SIZE_6_0: usize = 112;
/// `NDIS_OFFLOAD_SIZE_6_1`: through `ipsecv2`.
pub const NDIS_OFFLOAD_SIZE_6_1: usize = 144;

/// The offload capabilities object header Linux puts in its query
/// (`rndis_filter_query_device()`): revision 3 and the full size from NVSP 5, revision 2
/// and the NDIS 6.1 size on NVSP 4, revision 1 and the NDIS 6.0 size before.
pub const fn offload_caps_query_header(v: NvspVersion) -> NdisObjectHeader {
    let (revision, size) = match v {
        NvspVersion::V5 | NvspVersion::V6 | NvspVersion::V61 => (NDIS_OFFLOAD_PARAMETERS_REVISION_3, NDIS_OFFLOAD_SIZE),
        NvspVersion::V4 => (NDIS_OFFLOAD_PARAMETERS_REVISION_2, NDIS_OFFLOAD_SIZE_6_1),
        NvspVersion::V1 | NvspVersion::V2 => (NDIS_OFFLOAD_PARAMETERS_REVISION_1, NDIS_OFFLOAD_SIZE_6_0),
    };
    NdisObjectHeader { obj_type: NDIS_OBJECT_TYPE_OFFLOAD, revision, size: size as u16 }
}

/// Guest: the information buffer of the `OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES` query (the
/// header of [`offload_caps_query_header`], the rest zero); returns its length.
pub fn build_offload_caps_query(out: &mut [u8], v: NvspVersion) -> Result<usize, NdisError> {
    let h = offload_caps_query_header(v);
    let mut o = NdisOffload::new_zeroed();
    o.header = h;
    emit(out, bytes::head(o.as_bytes(), usize::from(h.size)))
}

impl NdisOffload {
    /// Guest: validates the host's answer as `rndis_query_hwcaps()` does (object type
    /// `NDIS_OBJECT_TYPE_OFFLOAD`, revision at least 1, size at least `NDIS_OFFLOAD_SIZE_6_0`
    /// and within the bytes received) and reads it, later fields absent in older revisions
    /// zero. Answers longer than `NDIS_OFFLOAD_SIZE` are refused, as Linux's result buffer
    /// holds no more.
    pub fn parse_caps(info: &[u8]) -> Result<Self, NdisError> {
        if info.len() > NDIS_OFFLOAD_SIZE {
            return Err(NdisError::TooShort { need: info.len(), have: NDIS_OFFLOAD_SIZE });
        }
        let h: NdisObjectHeader = bytes::read(info, 0).ok_or(NdisError::TooShort { need: 4, have: info.len() })?;
        if h.obj_type != NDIS_OBJECT_TYPE_OFFLOAD {
            return Err(NdisError::ObjectType(h.obj_type));
        }
        if h.revision < NDIS_OFFLOAD_PARAMETERS_REVISION_1 {
            return Err(NdisError::Revision(h.revision));
        }
        let size = usize::from(h.size);
        if size > info.len() || size < NDIS_OFFLOAD_SIZE_6_0 {
            return Err(NdisError::ObjectSize(h.size));
        }
        Ok(bytes::read_truncated(info, info.len()))
    }

    /// Host: writes the capabilities as the answer to a query whose input carried `request`
    /// (Linux's header, see [`offload_caps_query_header`]): the size and revision asked for
    /// (`NDIS_OFFLOAD_SIZE_6_0`, `_6_1` or the full size), the full object otherwise.
    pub fn write_caps(&self, out: &mut [u8], request: Option<NdisObjectHeader>) -> Result<usize, NdisError> {
        let (revision, size) = match request {
            Some(r) if usize::from(r.size) >= NDIS_OFFLOAD_SIZE => (NDIS_OFFLOAD_PARAMETERS_REVISION_3, NDIS_OFFLOAD_SIZE),
            Some(r) if usize::from(r.size) >= NDIS_OFFLOAD_SIZE_6_1 => (NDIS_OFFLOAD_PARAMETERS_REVISION_2, NDIS_OFFLOAD_SIZE_6_1),
            Some(_) => (NDIS_OFFLOAD_PARAMETERS_REVISION_1, NDIS_OFFLOAD_SIZE_6_0),
            None => (NDIS_OFFLOAD_PARAMETERS_REVISION_3, NDIS_OFFLOAD_SIZE),
        };
        let mut o = *self;
        o.header = NdisObjectHeader { obj_type: NDIS_OBJECT_TYPE_OFFLOAD, revision, size: size as u16 };
        emit(out, bytes::head(o.as_bytes(), size))
    }

    /// The capabilities of a typical Hyper-V synthetic NIC: IPv4/IPv6 TCP and UDP checksum
    /// both ways, LSOv2 for IPv4 and IPv6 up to `lso_max` bytes (Ethernet encapsulation,
    /// extension headers and TCP options), RSC when `rsc`.
    pub fn typical(lso_max: u32, rsc: bool) -> Self {
        let tx4 = NDIS_TXCSUM_CAP_IP4OPT | NDIS_TXCSUM_ALL_TCP4 | NDIS_TXCSUM_CAP_UDP4 | NDIS_TXCSUM_CAP_IP4;
        let rx4 = NDIS_RXCSUM_CAP_IP4OPT | NDIS_RXCSUM_CAP_TCP4OPT | NDIS_RXCSUM_CAP_TCP4 | NDIS_RXCSUM_CAP_UDP4 | NDIS_RXCSUM_CAP_IP4;
        let tx6 = NDIS_TXCSUM_ALL_TCP6 | NDIS_TXCSUM_CAP_UDP6;
        let rx6 = NDIS_RXCSUM_CAP_IP6EXT | NDIS_RXCSUM_CAP_TCP6OPT | NDIS_RXCSUM_CAP_TCP6 | NDIS_RXCSUM_CAP_UDP6;
        let e = NDIS_OFFLOAD_ENCAP_8023;
        let mut o = NdisOffload::new_zeroed();
        o.header = NdisObjectHeader { obj_type: NDIS_OBJECT_TYPE_OFFLOAD, revision: 3, size: NDIS_OFFLOAD_SIZE as u16 };
        o.csum = NdisCsumOffload {
            ip4_txenc: e,
            ip4_txcsum: tx4,
            ip4_rxenc: e,
            ip4_rxcsum: rx4,
            ip6_txenc: e,
            ip6_txcsum: tx6,
            ip6_rxenc: e,
            ip6_rxcsum: rx6,
        };
        o.lsov2 = NdisLsov2Offload {
            ip4_encap: e,
            ip4_maxsz: lso_max,
            ip4_minsg: 2,
            ip6_encap: e,
            ip6_maxsz: lso_max,
            ip6_minsg: 2,
            ip6_opts: NDIS_LSOV2_CAP_IP6,
        };
        if rsc {
            o.rsc = NdisRscOffload { ip4: 1, ip6: 1 };
        }
        o
    }
}

/// `struct ndis_offload_params`: what the guest enables (`OID_TCP_OFFLOAD_PARAMETERS`);
/// every field 0 = no change.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct NdisOffloadParams {
    /// `header` (`NDIS_OBJECT_TYPE_DEFAULT`, revision 3).
    pub header: NdisObjectHeader,
    /// `ip_v4_csum` (`NDIS_OFFLOAD_PARAMETERS_*` tx/rx values 0..=4).
    pub ip_v4_csum: u8,
    /// `tcp_ip_v4_csum`.
    pub tcp_ip_v4_csum: u8,
    /// `udp_ip_v4_csum`.
    pub udp_ip_v4_csum: u8,
    /// `tcp_ip_v6_csum`.
    pub tcp_ip_v6_csum: u8,
    /// `udp_ip_v6_csum`.
    pub udp_ip_v6_csum: u8,
    /// `lso_v1`.
    pub lso_v1: u8,
    /// `ip_sec_v1`.
    pub ip_sec_v1: u8,
    /// `lso_v2_ipv4` (`NDIS_OFFLOAD_PARAMETERS_LSOV2_*`).
    pub lso_v2_ipv4: u8,
    /// `lso_v2_ipv6`.
    pub lso_v2_ipv6: u8,
    /// `tcp_connection_ip_v4`.
    pub tcp_connection_ip_v4: u8,
    /// `tcp_connection_ip_v6`.
    pub tcp_connection_ip_v6: u8,
    /// Padding (implicit in C).
    pub pad0: u8,
    /// `flags`.
    pub flags: u32,
    /// `ip_sec_v2`.
    pub ip_sec_v2: u8,
    /// `ip_sec_v2_ip_v4`.
    pub ip_sec_v2_ip_v4: u8,
    /// `rsc_ip_v4` (`NDIS_OFFLOAD_PARAMETERS_RSC_*`).
    pub rsc_ip_v4: u8,
    /// `rsc_ip_v6`.
    pub rsc_ip_v6: u8,
    /// `encapsulated_packet_task_offload`.
    pub encapsulated_packet_task_offload: u8,
    /// `encapsulation_types`.
    pub encapsulation_types: u8,
    /// Padding (implicit in C).
    pub pad1: [u8; 2],
}

/// `sizeof(struct ndis_offload_params)`.
pub const NDIS_OFFLOAD_PARAMS_SIZE: usize = 28;

impl NdisOffloadParams {
    /// Guest: writes the `OID_TCP_OFFLOAD_PARAMETERS` buffer as
    /// `rndis_filter_set_offload_params()` does: header type `NDIS_OBJECT_TYPE_DEFAULT`,
    /// revision 3, size 22 (UDP checksum fields cleared) on NVSP 4 and older, 28 after.
    pub fn write(&self, out: &mut [u8], v: NvspVersion) -> Result<usize, NdisError> {
        let mut p = *self;
        let size = if v.supports_udp_checksum_offload() { NDIS_OFFLOAD_PARAMS_SIZE } else { VERSION_4_OFFLOAD_SIZE };
        if !v.supports_udp_checksum_offload() {
            p.udp_ip_v4_csum = 0;
            p.udp_ip_v6_csum = 0;
        }
        p.header = NdisObjectHeader {
            obj_type: NDIS_OBJECT_TYPE_DEFAULT,
            revision: NDIS_OFFLOAD_PARAMETERS_REVISION_3,
            size: size as u16,
        };
        emit(out, bytes::head(p.as_bytes(), size))
    }

    /// Host: parses and validates the buffer: object type `NDIS_OBJECT_TYPE_DEFAULT`, size at
    /// least `NDIS_OFFLOAD_PARAMETERS_SIZE_REVISION_1` and within the buffer (fields past it
    /// read as "no change"), checksum fields 0..=4, LSO and RSC fields 0..=2.
    pub fn parse(info: &[u8]) -> Result<Self, NdisError> {
        let h: NdisObjectHeader = bytes::read(info, 0).ok_or(NdisError::TooShort { need: 4, have: info.len() })?;
        if h.obj_type != NDIS_OBJECT_TYPE_DEFAULT {
            return Err(NdisError::ObjectType(h.obj_type));
        }
        let size = usize::from(h.size);
        if size < NDIS_OFFLOAD_PARAMETERS_SIZE_REVISION_1 || size > info.len() {
            return Err(NdisError::ObjectSize(h.size));
        }
        let p: NdisOffloadParams = bytes::read_truncated(info, size);
        for v in [p.ip_v4_csum, p.tcp_ip_v4_csum, p.udp_ip_v4_csum, p.tcp_ip_v6_csum, p.udp_ip_v6_csum] {
            if v > NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED {
                return Err(NdisError::FieldValue(u32::from(v)));
            }
        }
        for v in [p.lso_v1, p.lso_v2_ipv4, p.lso_v2_ipv6, p.rsc_ip_v4, p.rsc_ip_v6] {
            if v > NDIS_OFFLOAD_PARAMETERS_LSOV2_ENABLED {
                return Err(NdisError::FieldValue(u32::from(v)));
            }
        }
        Ok(p)
    }
}

/// `TRANSPORT_INFO_NOT_IP`.
pub const TRANSPORT_INFO_NOT_IP: u32 = 0;
/// `TRANSPORT_INFO_IPV4_TCP`.
pub const TRANSPORT_INFO_IPV4_TCP: u32 = 0x01;
/// `TRANSPORT_INFO_IPV4_UDP`.
pub const TRANSPORT_INFO_IPV4_UDP: u32 = 0x02;
/// `TRANSPORT_INFO_IPV6_TCP`.
pub const TRANSPORT_INFO_IPV6_TCP: u32 = 0x10;
/// `TRANSPORT_INFO_IPV6_UDP`.
pub const TRANSPORT_INFO_IPV6_UDP: u32 = 0x20;
/// `GSO_LEGACY_MAX_SIZE`: the TSO size limit before the host's LSO limits.
pub const GSO_LEGACY_MAX_SIZE: u32 = 65536;

/// What `rndis_netdev_set_hwcaps()` derives from the host's capabilities: the offload
/// parameters to set and the `net_device` features to offer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OffloadPlan {
    /// The parameters to send (`OID_TCP_OFFLOAD_PARAMETERS`).
    pub params: NdisOffloadParams,
    /// `tx_checksum_mask` (`TRANSPORT_INFO_*`).
    pub tx_checksum_mask: u32,
    /// `NETIF_F_IP_CSUM`.
    pub ip_csum: bool,
    /// `NETIF_F_IPV6_CSUM`.
    pub ipv6_csum: bool,
    /// `NETIF_F_TSO`.
    pub tso: bool,
    /// `NETIF_F_TSO6`.
    pub tso6: bool,
    /// `NETIF_F_LRO` offered (RSC for IPv4 and IPv6).
    pub lro: bool,
    /// `netvsc_gso_max_size`.
    pub gso_max_size: u32,
}

impl OffloadPlan {
    /// Linux's decision for capabilities `caps`; `lro_on` is whether `NETIF_F_LRO` is in the
    /// current features (RSC is then enabled, else explicitly disabled). IP header checksum
    /// offload is always disabled (Linux computes it).
    pub fn linux(caps: &NdisOffload, lro_on: bool) -> Self {
        let mut p = NdisOffloadParams::default();
        let mut plan = OffloadPlan { gso_max_size: GSO_LEGACY_MAX_SIZE, ..OffloadPlan::default() };
        p.ip_v4_csum = NDIS_OFFLOAD_PARAMETERS_TX_RX_DISABLED;
        let c = caps.csum;
        let l = caps.lsov2;
        if c.ip4_txcsum & NDIS_TXCSUM_ALL_TCP4 == NDIS_TXCSUM_ALL_TCP4 {
            plan.ip_csum = true;
            plan.tx_checksum_mask |= TRANSPORT_INFO_IPV4_TCP;
            p.tcp_ip_v4_csum = NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED;
            if l.ip4_encap & NDIS_OFFLOAD_ENCAP_8023 != 0 {
                p.lso_v2_ipv4 = NDIS_OFFLOAD_PARAMETERS_LSOV2_ENABLED;
                plan.tso = true;
                plan.gso_max_size = plan.gso_max_size.min(l.ip4_maxsz);
            }
            if c.ip4_txcsum & NDIS_TXCSUM_CAP_UDP4 != 0 {
                p.udp_ip_v4_csum = NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED;
                plan.tx_checksum_mask |= TRANSPORT_INFO_IPV4_UDP;
            }
        }
        if c.ip6_txcsum & NDIS_TXCSUM_ALL_TCP6 == NDIS_TXCSUM_ALL_TCP6 {
            plan.ipv6_csum = true;
            p.tcp_ip_v6_csum = NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED;
            plan.tx_checksum_mask |= TRANSPORT_INFO_IPV6_TCP;
            if l.ip6_encap & NDIS_OFFLOAD_ENCAP_8023 != 0 && l.ip6_opts & NDIS_LSOV2_CAP_IP6 == NDIS_LSOV2_CAP_IP6 {
                p.lso_v2_ipv6 = NDIS_OFFLOAD_PARAMETERS_LSOV2_ENABLED;
                plan.tso6 = true;
                plan.gso_max_size = plan.gso_max_size.min(l.ip6_maxsz);
            }
            if c.ip6_txcsum & NDIS_TXCSUM_CAP_UDP6 != 0 {
                p.udp_ip_v6_csum = NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED;
                plan.tx_checksum_mask |= TRANSPORT_INFO_IPV6_UDP;
            }
        }
        if caps.rsc.ip4 != 0 && caps.rsc.ip6 != 0 {
            plan.lro = true;
            let v = if lro_on { NDIS_OFFLOAD_PARAMETERS_RSC_ENABLED } else { NDIS_OFFLOAD_PARAMETERS_RSC_DISABLED };
            p.rsc_ip_v4 = v;
            p.rsc_ip_v6 = v;
        }
        plan.params = p;
        plan
    }
}

/// `struct ndis_offload_encapsulation` (NDIS `NDIS_OFFLOAD_ENCAPSULATION`, revision 1; not
/// in Linux, which never uses `OID_OFFLOAD_ENCAPSULATION`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct NdisOffloadEncapsulation {
    /// Header (`NDIS_OBJECT_TYPE_OFFLOAD_ENCAPSULATION`, revision 1, size 28).
    pub header: NdisObjectHeader,
    /// IPv4 enabled (`NDIS_OFFLOAD_SET_*`: 0 no change, 1 on, 2 off).
    pub ipv4_enabled: u32,
    /// IPv4 encapsulation type (`NDIS_ENCAPSULATION_IEEE_802_3` = 2).
    pub ipv4_encapsulation_type: u32,
    /// IPv4 header size.
    pub ipv4_header_size: u32,
    /// IPv6 enabled.
    pub ipv6_enabled: u32,
    /// IPv6 encapsulation type.
    pub ipv6_encapsulation_type: u32,
    /// IPv6 header size.
    pub ipv6_header_size: u32,
}

/// `NDIS_ENCAPSULATION_IEEE_802_3`.
pub const NDIS_ENCAPSULATION_IEEE_802_3: u32 = 2;

impl NdisOffloadEncapsulation {
    /// Ethernet encapsulation with a 14-byte header, enabled for IPv4 and IPv6.
    pub fn ethernet() -> Self {
        NdisOffloadEncapsulation {
            header: NdisObjectHeader {
                obj_type: NDIS_OBJECT_TYPE_OFFLOAD_ENCAPSULATION,
                revision: 1,
                size: core::mem::size_of::<NdisOffloadEncapsulation>() as u16,
            },
            ipv4_enabled: 1,
            ipv4_encapsulation_type: NDIS_ENCAPSULATION_IEEE_802_3,
            ipv4_header_size: 14,
            ipv6_enabled: 1,
            ipv6_encapsulation_type: NDIS_ENCAPSULATION_IEEE_802_3,
            ipv6_header_size: 14,
        }
    }

    /// Parses and validates (object type, size within the buffer).
    pub fn parse(info: &[u8]) -> Result<Self, NdisError> {
        let e: NdisOffloadEncapsulation =
            bytes::read(info, 0).ok_or(NdisError::TooShort { need: core::mem::size_of::<Self>(), have: info.len() })?;
        if e.header.obj_type != NDIS_OBJECT_TYPE_OFFLOAD_ENCAPSULATION {
            return Err(NdisError::ObjectType(e.header.obj_type));
        }
        if usize::from(e.header.size) > info.len() || usize::from(e.header.size) < core::mem::size_of::<Self>() {
            return Err(NdisError::ObjectSize(e.header.size));
        }
        Ok(e)
    }
}

// ---------------------------------------------------------------------------------------
// Receive side scaling.

/// `NDIS_RECEIVE_SCALE_CAPABILITIES_REVISION_2`.
pub const NDIS_RECEIVE_SCALE_CAPABILITIES_REVISION_2: u8 = 2;
/// `NDIS_RECEIVE_SCALE_PARAMETERS_REVISION_2`.
pub const NDIS_RECEIVE_SCALE_PARAMETERS_REVISION_2: u8 = 2;
/// `NDIS_RSS_CAPS_MESSAGE_SIGNALED_INTERRUPTS`.
pub const NDIS_RSS_CAPS_MESSAGE_SIGNALED_INTERRUPTS: u32 = 0x0100_0000;
/// `NDIS_RSS_CAPS_CLASSIFICATION_AT_ISR`.
pub const NDIS_RSS_CAPS_CLASSIFICATION_AT_ISR: u32 = 0x0200_0000;
/// `NDIS_RSS_CAPS_CLASSIFICATION_AT_DPC`.
pub const NDIS_RSS_CAPS_CLASSIFICATION_AT_DPC: u32 = 0x0400_0000;
/// `NDIS_RSS_CAPS_USING_MSI_X`.
pub const NDIS_RSS_CAPS_USING_MSI_X: u32 = 0x0800_0000;
/// `NDIS_RSS_CAPS_RSS_AVAILABLE_ON_PORTS`.
pub const NDIS_RSS_CAPS_RSS_AVAILABLE_ON_PORTS: u32 = 0x1000_0000;
/// `NDIS_RSS_CAPS_SUPPORTS_MSI_X`.
pub const NDIS_RSS_CAPS_SUPPORTS_MSI_X: u32 = 0x2000_0000;
/// `NDIS_RSS_CAPS_HASH_TYPE_TCP_IPV4`.
pub const NDIS_RSS_CAPS_HASH_TYPE_TCP_IPV4: u32 = 0x0000_0100;
/// `NDIS_RSS_CAPS_HASH_TYPE_TCP_IPV6`.
pub const NDIS_RSS_CAPS_HASH_TYPE_TCP_IPV6: u32 = 0x0000_0200;
/// `NDIS_RSS_CAPS_HASH_TYPE_TCP_IPV6_EX`.
pub const NDIS_RSS_CAPS_HASH_TYPE_TCP_IPV6_EX: u32 = 0x0000_0400;

/// `NDIS_RSS_PARAM_FLAG_BASE_CPU_UNCHANGED`.
pub const NDIS_RSS_PARAM_FLAG_BASE_CPU_UNCHANGED: u16 = 0x0001;
/// `NDIS_RSS_PARAM_FLAG_HASH_INFO_UNCHANGED`.
pub const NDIS_RSS_PARAM_FLAG_HASH_INFO_UNCHANGED: u16 = 0x0002;
/// `NDIS_RSS_PARAM_FLAG_ITABLE_UNCHANGED`.
pub const NDIS_RSS_PARAM_FLAG_ITABLE_UNCHANGED: u16 = 0x0004;
/// `NDIS_RSS_PARAM_FLAG_HASH_KEY_UNCHANGED`.
pub const NDIS_RSS_PARAM_FLAG_HASH_KEY_UNCHANGED: u16 = 0x0008;
/// `NDIS_RSS_PARAM_FLAG_DISABLE_RSS`.
pub const NDIS_RSS_PARAM_FLAG_DISABLE_RSS: u16 = 0x0010;

/// `NDIS_HASH_FUNC_TOEPLITZ`.
pub const NDIS_HASH_FUNC_TOEPLITZ: u32 = 0x0000_0001;
/// Mask of the hash function in `hashinfo` (NDIS `NDIS_HASH_FUNCTION_MASK`).
pub const NDIS_HASH_FUNCTION_MASK: u32 = 0x0000_00ff;
/// `NDIS_HASH_IPV4`.
pub const NDIS_HASH_IPV4: u32 = 0x0000_0100;
/// `NDIS_HASH_TCP_IPV4`.
pub const NDIS_HASH_TCP_IPV4: u32 = 0x0000_0200;
/// `NDIS_HASH_IPV6`.
pub const NDIS_HASH_IPV6: u32 = 0x0000_0400;
/// `NDIS_HASH_IPV6_EX`.
pub const NDIS_HASH_IPV6_EX: u32 = 0x0000_0800;
/// `NDIS_HASH_TCP_IPV6`.
pub const NDIS_HASH_TCP_IPV6: u32 = 0x0000_1000;
/// `NDIS_HASH_TCP_IPV6_EX`.
pub const NDIS_HASH_TCP_IPV6_EX: u32 = 0x0000_2000;
/// `NDIS_HASH_UDP_IPV4` (NDIS 6.80 `ntddndis.h`; not in Linux).
pub const NDIS_HASH_UDP_IPV4: u32 = 0x0000_4000;
/// `NDIS_HASH_UDP_IPV6` (not in Linux).
pub const NDIS_HASH_UDP_IPV6: u32 = 0x0000_8000;
/// The hash types Linux enables (`rndis_set_rss_param_msg()`), with the Toeplitz function.
pub const LINUX_RSS_HASH_INFO: u32 =
    NDIS_HASH_FUNC_TOEPLITZ | NDIS_HASH_IPV4 | NDIS_HASH_TCP_IPV4 | NDIS_HASH_IPV6 | NDIS_HASH_TCP_IPV6;

/// `NDIS_RSS_INDIRECTION_TABLE_MAX_SIZE_REVISION_2` (bytes).
pub const NDIS_RSS_INDIRECTION_TABLE_MAX_SIZE_REVISION_2: usize = 128 * 4;
/// `NDIS_RSS_HASH_SECRET_KEY_MAX_SIZE_REVISION_2` (bytes).
pub const NDIS_RSS_HASH_SECRET_KEY_MAX_SIZE_REVISION_2: usize = 40;
/// `ITAB_NUM`: Linux's default receive indirection table entries.
pub const ITAB_NUM: u32 = 128;
/// `ITAB_NUM_MAX`: most entries Linux uses (it sends up to this many, beyond the NDIS
/// revision 2 maximum).
pub const ITAB_NUM_MAX: u32 = 256;
/// `NETVSC_HASH_KEYLEN`.
pub const NETVSC_HASH_KEYLEN: usize = 40;
/// `netvsc_hash_key` (`rndis_filter.c`): Linux's default RSS key, which is also the key of
/// Microsoft's RSS verification suite.
pub const NETVSC_HASH_KEY: [u8; NETVSC_HASH_KEYLEN] = [
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
    0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
];

/// `struct ndis_recv_scale_cap` (`__packed`, 18 bytes).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct NdisRecvScaleCap {
    /// `hdr` (`NDIS_OBJECT_TYPE_RSS_CAPABILITIES`, revision 2, size 18).
    pub hdr: NdisObjectHeader,
    /// `cap_flag` (`NDIS_RSS_CAPS_*`).
    pub cap_flag: u32,
    /// `num_int_msg`.
    pub num_int_msg: u32,
    /// `num_recv_que`: receive queues (Linux needs at least 2 for vRSS).
    pub num_recv_que: u32,
    /// `num_indirect_tabent`: indirection table entries.
    pub num_indirect_tabent: u16,
}

/// `sizeof(struct ndis_recv_scale_cap)`.
pub const NDIS_RECV_SCALE_CAP_SIZE: usize = 18;

impl NdisRecvScaleCap {
    /// Host: capabilities for `queues` receive queues and `table_entries` table entries
    /// (Toeplitz over IPv4/IPv6 TCP).
    pub fn new(queues: u32, table_entries: u16) -> Self {
        NdisRecvScaleCap {
            hdr: NdisObjectHeader {
                obj_type: NDIS_OBJECT_TYPE_RSS_CAPABILITIES,
                revision: NDIS_RECEIVE_SCALE_CAPABILITIES_REVISION_2,
                size: NDIS_RECV_SCALE_CAP_SIZE as u16,
            },
            cap_flag: NDIS_RSS_CAPS_HASH_TYPE_TCP_IPV4 | NDIS_RSS_CAPS_HASH_TYPE_TCP_IPV6 | NDIS_RSS_CAPS_CLASSIFICATION_AT_DPC,
            num_int_msg: queues,
            num_recv_que: queues,
            num_indirect_tabent: table_entries,
        }
    }

    /// Guest: the information buffer of the capabilities query (header only, rest zero;
    /// `rndis_filter_query_device()`).
    pub fn build_query(out: &mut [u8]) -> Result<usize, NdisError> {
        let c = NdisRecvScaleCap {
            hdr: NdisObjectHeader {
                obj_type: NDIS_OBJECT_TYPE_RSS_CAPABILITIES,
                revision: NDIS_RECEIVE_SCALE_CAPABILITIES_REVISION_2,
                size: NDIS_RECV_SCALE_CAP_SIZE as u16,
            },
            ..NdisRecvScaleCap::default()
        };
        emit(out, c.as_bytes())
    }

    /// Writes the 18-byte object.
    pub fn write(&self, out: &mut [u8]) -> Result<usize, NdisError> {
        emit(out, self.as_bytes())
    }

    /// Guest: reads the host's answer. Linux's result buffer holds exactly 18 bytes: longer
    /// answers are refused, shorter ones read with the missing fields zero (no vRSS); the
    /// object type must be `NDIS_OBJECT_TYPE_RSS_CAPABILITIES` (Linux does not check it).
    pub fn parse(info: &[u8]) -> Result<Self, NdisError> {
        if info.len() > NDIS_RECV_SCALE_CAP_SIZE {
            return Err(NdisError::TooShort { need: info.len(), have: NDIS_RECV_SCALE_CAP_SIZE });
        }
        let c: NdisRecvScaleCap = bytes::read_truncated(info, info.len());
        let h = c.hdr;
        if h.obj_type != NDIS_OBJECT_TYPE_RSS_CAPABILITIES {
            return Err(NdisError::ObjectType(h.obj_type));
        }
        Ok(c)
    }

    /// The receive indirection table size Linux uses (`rndis_filter_device_add()`:
    /// `num_indirect_tabent` if in `1..=ITAB_NUM_MAX`, else `ITAB_NUM`).
    pub fn linux_table_size(&self) -> u32 {
        let n = u32::from(self.num_indirect_tabent);
        if n != 0 && n <= ITAB_NUM_MAX {
            n
        } else {
            ITAB_NUM
        }
    }
}

/// `struct ndis_recv_scale_param` (40 bytes); the indirection table (u32 entries) and the
/// hash key follow at their offsets from the start of this struct.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct NdisRecvScaleParam {
    /// `hdr` (`NDIS_OBJECT_TYPE_RSS_PARAMETERS`, revision 2, size 40).
    pub hdr: NdisObjectHeader,
    /// `flag` (`NDIS_RSS_PARAM_FLAG_*`).
    pub flag: u16,
    /// `base_cpu_number` (unused).
    pub base_cpu_number: u16,
    /// `hashinfo`: hash function and `NDIS_HASH_*` types.
    pub hashinfo: u32,
    /// `indirect_tabsize`: bytes of the indirection table.
    pub indirect_tabsize: u16,
    /// Padding (implicit in C).
    pub pad0: u16,
    /// `indirect_taboffset`.
    pub indirect_taboffset: u32,
    /// `hashkey_size`: bytes of the key.
    pub hashkey_size: u16,
    /// Padding (implicit in C).
    pub pad1: u16,
    /// `hashkey_offset`.
    pub hashkey_offset: u32,
    /// `processor_masks_offset`.
    pub processor_masks_offset: u32,
    /// `num_processor_masks`.
    pub num_processor_masks: u32,
    /// `processor_masks_entry_size`.
    pub processor_masks_entry_size: u32,
}

/// `sizeof(struct ndis_recv_scale_param)`.
pub const NDIS_RECV_SCALE_PARAM_SIZE: usize = 40;
/// The fixed part the host needs (through `hashkey_offset`; NDIS revision 1 size 28).
pub const NDIS_RECV_SCALE_PARAM_SIZE_REVISION_1: usize = 28;

/// RSS parameters set by the guest, validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RssParams<'a> {
    /// `flag`.
    pub flag: u16,
    /// `hashinfo`.
    pub hash_info: u32,
    /// The indirection table bytes (u32 little-endian entries; empty if none).
    pub table: &'a [u8],
    /// The hash key (empty if none).
    pub key: &'a [u8],
}

impl<'a> RssParams<'a> {
    /// Host: parses `OID_GEN_RECEIVE_SCALE_PARAMETERS` data. Checks: object type
    /// `NDIS_OBJECT_TYPE_RSS_PARAMETERS`, size at least the revision 1 fixed part and within
    /// the buffer; unless RSS is being disabled, the hash function Toeplitz (or 0 with
    /// `HASH_INFO_UNCHANGED`); a table (unless `ITABLE_UNCHANGED`) of whole u32 entries, at
    /// most `ITAB_NUM_MAX`, 4-byte aligned, past the fixed part and inside the buffer; a key
    /// (unless `HASH_KEY_UNCHANGED`) of at most 40 bytes, past the fixed part and inside the
    /// buffer; table and key apart. Parts flagged unchanged (all of them with `DISABLE_RSS`)
    /// are not looked at and come back empty, as do a zero-sized table or key.
    pub fn parse(info: &'a [u8]) -> Result<Self, NdisError> {
        let need = NDIS_RECV_SCALE_PARAM_SIZE_REVISION_1;
        let h: NdisObjectHeader = bytes::read(info, 0).ok_or(NdisError::TooShort { need, have: info.len() })?;
        if h.obj_type != NDIS_OBJECT_TYPE_RSS_PARAMETERS {
            return Err(NdisError::ObjectType(h.obj_type));
        }
        let size = usize::from(h.size);
        if size < need || size > info.len() {
            return Err(NdisError::ObjectSize(h.size));
        }
        let p: NdisRecvScaleParam = bytes::read_truncated(info, size);
        let disable = p.flag & NDIS_RSS_PARAM_FLAG_DISABLE_RSS != 0;
        if !disable && p.flag & NDIS_RSS_PARAM_FLAG_HASH_INFO_UNCHANGED == 0 && p.hashinfo & NDIS_HASH_FUNCTION_MASK != NDIS_HASH_FUNC_TOEPLITZ {
            return Err(NdisError::FieldValue(p.hashinfo));
        }
        let want_table = !disable && p.flag & NDIS_RSS_PARAM_FLAG_ITABLE_UNCHANGED == 0;
        let want_key = !disable && p.flag & NDIS_RSS_PARAM_FLAG_HASH_KEY_UNCHANGED == 0;
        let table = if want_table { Self::table(info, &p, size)? } else { &[][..] };
        let key = if want_key { Self::key(info, &p, size)? } else { &[][..] };
        if !table.is_empty()
            && !key.is_empty()
            && bytes::overlaps(p.indirect_taboffset, u32::from(p.indirect_tabsize), p.hashkey_offset, u32::from(p.hashkey_size))
        {
            return Err(NdisError::TableKeyOverlap);
        }
        Ok(RssParams { flag: p.flag, hash_info: p.hashinfo, table, key })
    }

    fn table(info: &'a [u8], p: &NdisRecvScaleParam, fixed: usize) -> Result<&'a [u8], NdisError> {
        let (off, size) = (p.indirect_taboffset, p.indirect_tabsize);
        if size == 0 {
            return Ok(&[]);
        }
        if size % 4 != 0 || u32::from(size / 4) > ITAB_NUM_MAX {
            return Err(NdisError::TableSize(size));
        }
        let bad = NdisError::TableOutside { offset: off, size };
        let o = usize::try_from(off).map_err(|_| bad)?;
        if o < fixed || o % 4 != 0 {
            return Err(bad);
        }
        bytes::sub(info, o, usize::from(size)).ok_or(bad)
    }

    fn key(info: &'a [u8], p: &NdisRecvScaleParam, fixed: usize) -> Result<&'a [u8], NdisError> {
        let (off, size) = (p.hashkey_offset, p.hashkey_size);
        if size == 0 {
            return Ok(&[]);
        }
        if usize::from(size) > NDIS_RSS_HASH_SECRET_KEY_MAX_SIZE_REVISION_2 {
            return Err(NdisError::KeySize(size));
        }
        let bad = NdisError::KeyOutside { offset: off, size };
        let o = usize::try_from(off).map_err(|_| bad)?;
        if o < fixed {
            return Err(bad);
        }
        bytes::sub(info, o, usize::from(size)).ok_or(bad)
    }

    /// The indirection table entries.
    pub fn entries(&self) -> impl Iterator<Item = u32> + 'a {
        self.table.chunks_exact(4).map(|c| bytes::u32_at(c, 0).unwrap_or(0))
    }

    /// Number of indirection table entries.
    pub fn entry_count(&self) -> usize {
        self.table.len() / 4
    }

    /// Whether the parameters disable RSS.
    pub fn disables(&self) -> bool {
        self.flag & NDIS_RSS_PARAM_FLAG_DISABLE_RSS != 0
    }

    /// Guest: writes the `OID_GEN_RECEIVE_SCALE_PARAMETERS` buffer as
    /// `rndis_set_rss_param_msg()` does: the 40-byte struct, the table as u32 entries right
    /// after it, then the key (Linux passes [`LINUX_RSS_HASH_INFO`] as `hash_info`). Returns
    /// its length.
    pub fn build(out: &mut [u8], flag: u16, hash_info: u32, table: &[u16], key: &[u8]) -> Result<usize, NdisError> {
        let tab_bytes = table.len().checked_mul(4).filter(|n| *n <= usize::from(u16::MAX)).ok_or(NdisError::TableSize(u16::MAX))?;
        if key.len() > NDIS_RSS_HASH_SECRET_KEY_MAX_SIZE_REVISION_2 {
            return Err(NdisError::KeySize(u16::try_from(key.len()).unwrap_or(u16::MAX)));
        }
        let tab_off = NDIS_RECV_SCALE_PARAM_SIZE;
        let key_off = tab_off + tab_bytes;
        let len = key_off + key.len();
        let too_small = NdisError::BufferTooSmall { need: len, have: out.len() };
        let dst = out.get_mut(..len).ok_or(too_small)?;
        let p = NdisRecvScaleParam {
            hdr: NdisObjectHeader {
                obj_type: NDIS_OBJECT_TYPE_RSS_PARAMETERS,
                revision: NDIS_RECEIVE_SCALE_PARAMETERS_REVISION_2,
                size: NDIS_RECV_SCALE_PARAM_SIZE as u16,
            },
            flag,
            hashinfo: hash_info,
            indirect_tabsize: tab_bytes as u16,
            indirect_taboffset: tab_off as u32,
            hashkey_size: key.len() as u16,
            hashkey_offset: key_off as u32,
            ..NdisRecvScaleParam::default()
        };
        bytes::write(dst, 0, &p).ok_or(too_small)?;
        for (i, e) in table.iter().enumerate() {
            bytes::put_u32(dst, tab_off + i * 4, u32::from(*e)).ok_or(too_small)?;
        }
        bytes::put(dst, key_off, key).ok_or(too_small)?;
        Ok(len)
    }
}

/// Linux's default receive indirection table entry `i` for `channels` channels
/// (`ethtool_rxfh_indir_default()`: `i % channels`).
pub const fn default_rx_table_entry(i: u32, channels: u32) -> u32 {
    if channels == 0 {
        0
    } else {
        i % channels
    }
}

// ---------------------------------------------------------------------------------------
// Config parameters.

/// `RNDIS_CONFIG_PARAM_TYPE_INTEGER`.
pub const RNDIS_CONFIG_PARAM_TYPE_INTEGER: u32 = 0;
/// `RNDIS_CONFIG_PARAM_TYPE_STRING`.
pub const RNDIS_CONFIG_PARAM_TYPE_STRING: u32 = 2;
/// `NWADR_STR` (`rndis_filter.c`): the parameter that sets the MAC address.
pub const NWADR_STR: &str = "NetworkAddress";
/// `NWADR_STRLEN`.
pub const NWADR_STRLEN: usize = 14;

/// `struct rndis_config_parameter_info`: offsets are from the start of this struct, the
/// name and string values are UTF-16LE without terminator.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct RndisConfigParameterInfo {
    /// `parameter_name_offset`.
    pub parameter_name_offset: u32,
    /// `parameter_name_length` (bytes).
    pub parameter_name_length: u32,
    /// `parameter_type` (`RNDIS_CONFIG_PARAM_TYPE_*`).
    pub parameter_type: u32,
    /// `parameter_value_offset`.
    pub parameter_value_offset: u32,
    /// `parameter_value_length` (bytes).
    pub parameter_value_length: u32,
}

/// `sizeof(struct rndis_config_parameter_info)`.
pub const RNDIS_CONFIG_PARAMETER_INFO_SIZE: usize = 20;

/// A config parameter set by the guest, validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConfigParameter<'a> {
    /// `parameter_type`.
    pub param_type: u32,
    /// The name (UTF-16LE bytes, even length).
    pub name: &'a [u8],
    /// The value (UTF-16LE for strings, u32 for integers).
    pub value: &'a [u8],
}

/// The UTF-16 code units of a UTF-16LE byte string.
fn utf16_units(b: &[u8]) -> impl Iterator<Item = u16> + '_ {
    b.chunks_exact(2).map(|c| bytes::u16_at(c, 0).unwrap_or(0))
}

impl<'a> ConfigParameter<'a> {
    /// Host: parses `RNDIS_OID_GEN_RNDIS_CONFIG_PARAMETER` data: name and value inside the
    /// buffer and past the fixed part, string lengths even.
    pub fn parse(info: &'a [u8]) -> Result<Self, NdisError> {
        let c: RndisConfigParameterInfo =
            bytes::read(info, 0).ok_or(NdisError::TooShort { need: RNDIS_CONFIG_PARAMETER_INFO_SIZE, have: info.len() })?;
        let field = |offset: u32, len: u32| -> Result<&'a [u8], NdisError> {
            let bad = NdisError::ParameterOutside { offset, len };
            let o = usize::try_from(offset).map_err(|_| bad)?;
            if o < RNDIS_CONFIG_PARAMETER_INFO_SIZE && len != 0 {
                return Err(bad);
            }
            bytes::sub(info, o, usize::try_from(len).map_err(|_| bad)?).ok_or(bad)
        };
        let name = field(c.parameter_name_offset, c.parameter_name_length)?;
        let value = field(c.parameter_value_offset, c.parameter_value_length)?;
        if name.len() % 2 != 0 {
            return Err(NdisError::OddStringLength(c.parameter_name_length));
        }
        if c.parameter_type == RNDIS_CONFIG_PARAM_TYPE_STRING && value.len() % 2 != 0 {
            return Err(NdisError::OddStringLength(c.parameter_value_length));
        }
        Ok(ConfigParameter { param_type: c.parameter_type, name, value })
    }

    /// Whether the name equals the ASCII string `s`, ignoring ASCII case (NDIS keywords are
    /// case-insensitive).
    pub fn name_is(&self, s: &str) -> bool {
        let mut units = utf16_units(self.name);
        let mut chars = s.bytes();
        loop {
            match (units.next(), chars.next()) {
                (None, None) => return true,
                (Some(u), Some(c)) => {
                    let u = u8::try_from(u).ok().map(|b| b.to_ascii_lowercase());
                    if u != Some(c.to_ascii_lowercase()) {
                        return false;
                    }
                }
                _ => return false,
            }
        }
    }

    /// The value of an integer parameter.
    pub fn value_u32(&self) -> Option<u32> {
        if self.param_type != RNDIS_CONFIG_PARAM_TYPE_INTEGER {
            return None;
        }
        bytes::u32_at(self.value, 0)
    }

    /// The value of a string parameter read as a MAC address: 12 hex digits, optionally
    /// separated by `-` or `:` (Linux sends `%pm`, 12 digits).
    pub fn value_mac(&self) -> Option<[u8; 6]> {
        if self.param_type != RNDIS_CONFIG_PARAM_TYPE_STRING {
            return None;
        }
        let mut mac = [0u8; 6];
        let mut n = 0usize;
        for u in utf16_units(self.value) {
            let c = u8::try_from(u).ok()?;
            if c == b'-' || c == b':' {
                continue;
            }
            let d = (c as char).to_digit(16)?;
            let byte = mac.get_mut(n / 2)?;
            *byte = (*byte << 4) | d as u8;
            n += 1;
        }
        if n == 12 {
            Some(mac)
        } else {
            None
        }
    }

    /// Guest: writes a string parameter (ASCII `name` and `value` widened to UTF-16LE, name
    /// right after the fixed part, value after the name); returns its length.
    pub fn build_string(out: &mut [u8], name: &str, value: &str) -> Result<usize, NdisError> {
        let (nl, vl) = (name.len() * 2, value.len() * 2);
        let len = RNDIS_CONFIG_PARAMETER_INFO_SIZE + nl + vl;
        let too_small = NdisError::BufferTooSmall { need: len, have: out.len() };
        let dst = out.get_mut(..len).ok_or(too_small)?;
        let c = RndisConfigParameterInfo {
            parameter_name_offset: RNDIS_CONFIG_PARAMETER_INFO_SIZE as u32,
            parameter_name_length: u32::try_from(nl).map_err(|_| too_small)?,
            parameter_type: RNDIS_CONFIG_PARAM_TYPE_STRING,
            parameter_value_offset: u32::try_from(RNDIS_CONFIG_PARAMETER_INFO_SIZE + nl).map_err(|_| too_small)?,
            parameter_value_length: u32::try_from(vl).map_err(|_| too_small)?,
        };
        bytes::write(dst, 0, &c).ok_or(too_small)?;
        let text = name.bytes().chain(value.bytes());
        for (i, b) in text.enumerate() {
            bytes::put_u16(dst, RNDIS_CONFIG_PARAMETER_INFO_SIZE + i * 2, u16::from(b)).ok_or(too_small)?;
        }
        Ok(len)
    }

    /// Guest: the `NetworkAddress` parameter for `mac` (`rndis_filter_set_device_mac()`:
    /// 12 lowercase hex digits, 72 bytes in all).
    pub fn build_mac(out: &mut [u8], mac: &[u8; 6]) -> Result<usize, NdisError> {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut s = [0u8; 12];
        for (pair, b) in s.chunks_exact_mut(2).zip(mac.iter()) {
            if let [hi, lo] = pair {
                *hi = HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0');
                *lo = HEX.get(usize::from(b & 0xf)).copied().unwrap_or(b'0');
            }
        }
        let text = core::str::from_utf8(&s).map_err(|_| NdisError::FieldValue(0))?;
        Self::build_string(out, NWADR_STR, text)
    }
}

// ---------------------------------------------------------------------------------------
// Multicast list.

/// Ethernet address length.
pub const ETH_ALEN: usize = 6;

/// Host: the addresses of an `RNDIS_OID_802_3_MULTICAST_LIST` set (a multiple of 6 bytes).
pub fn multicast_addresses(info: &[u8]) -> Result<impl Iterator<Item = [u8; 6]> + '_, NdisError> {
    if info.len() % ETH_ALEN != 0 {
        return Err(NdisError::MulticastLength(info.len()));
    }
    Ok(info.chunks_exact(ETH_ALEN).filter_map(|c| bytes::array_at::<6>(c, 0)))
}
