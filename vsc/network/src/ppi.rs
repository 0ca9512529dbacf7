// SPDX-License-Identifier: GPL-2.0-only
//! Per-packet information (PPI) records of RNDIS data messages, as defined in Linux
//! `drivers/net/hyperv/hyperv_net.h` (`struct rndis_per_packet_info`,
//! `enum ndis_per_pkt_info_type`, `struct ndis_tcp_ip_checksum_info`,
//! `struct ndis_pkt_8021q_info`, `struct ndis_tcp_lso_info`, `struct rndis_pktinfo_id`) and
//! [MS-RNDIS] (`PerPacketInfo` of `REMOTE_NDIS_PACKET_MSG`).
//!
//! A record is a 12-byte header (`size`, `type:31`, `internal:1`, `ppi_offset`) followed by
//! its data at `ppi_offset` from the record start; `size` covers header, data and padding and
//! leads to the next record. The bit fields of the 32-bit values are modelled as plain
//! structs with `to_bits`/`from_bits` (bit positions of the C bit fields on x86-64, checked
//! against the kernel by the layout test).
//!
//! [`validate_area`] checks a whole PPI area once (record bounds, 4-byte multiples, data
//! offsets inside records, data sizes of the types this crate decodes); after it, [`PpiIter`]
//! walks the records without failing.

use crate::bytes;
use crate::rndis::RndisError;
use zerocopy_derive::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// `TCPIP_CHKSUM_PKTINFO`: [`TxChecksum`] on transmit, [`RxChecksum`] on receive.
pub const TCPIP_CHKSUM_PKTINFO: u32 = 0;
/// `IPSEC_PKTINFO`.
pub const IPSEC_PKTINFO: u32 = 1;
/// `TCP_LARGESEND_PKTINFO`: [`LsoV2Tx`].
pub const TCP_LARGESEND_PKTINFO: u32 = 2;
/// `CLASSIFICATION_HANDLE_PKTINFO`.
pub const CLASSIFICATION_HANDLE_PKTINFO: u32 = 3;
/// `NDIS_RESERVED`.
pub const NDIS_RESERVED: u32 = 4;
/// `SG_LIST_PKTINFO`.
pub const SG_LIST_PKTINFO: u32 = 5;
/// `IEEE_8021Q_INFO`: [`VlanInfo`].
pub const IEEE_8021Q_INFO: u32 = 6;
/// `ORIGINAL_PKTINFO`.
pub const ORIGINAL_PKTINFO: u32 = 7;
/// `PACKET_CANCEL_ID`.
pub const PACKET_CANCEL_ID: u32 = 8;
/// `NBL_HASH_VALUE` (same value as `PACKET_CANCEL_ID`): the 32-bit RSS hash.
pub const NBL_HASH_VALUE: u32 = PACKET_CANCEL_ID;
/// `ORIGINAL_NET_BUFLIST`.
pub const ORIGINAL_NET_BUFLIST: u32 = 9;
/// The RSS hash type (`NDIS_HASH_*` bits and the hash function) of a received packet.
/// Linux does not read it; the value is FreeBSD hn's `HN_NDIS_PKTINFO_TYPE_HASHINF`, which
/// reuses `ORIGINAL_NET_BUFLIST` for it.
pub const NBL_HASH_INFO: u32 = ORIGINAL_NET_BUFLIST;
/// `CACHED_NET_BUFLIST`.
pub const CACHED_NET_BUFLIST: u32 = 10;
/// `SHORT_PKT_PADINFO`.
pub const SHORT_PKT_PADINFO: u32 = 11;
/// `MAX_PER_PKT_INFO`.
pub const MAX_PER_PKT_INFO: u32 = 12;

/// `RNDIS_PKTINFO_ID` (`enum rndis_per_pkt_info_interal_type`): an internal record carrying
/// [`RndisPktinfoId`].
pub const RNDIS_PKTINFO_ID: u32 = 1;
/// `RNDIS_PKTINFO_MAX`.
pub const RNDIS_PKTINFO_MAX: u32 = 2;
/// `RNDIS_PKTINFO_SUBALLOC`: the packet is one RSC fragment.
pub const RNDIS_PKTINFO_SUBALLOC: u8 = 1 << 0;
/// `RNDIS_PKTINFO_1ST_FRAG`.
pub const RNDIS_PKTINFO_1ST_FRAG: u8 = 1 << 1;
/// `RNDIS_PKTINFO_LAST_FRAG`.
pub const RNDIS_PKTINFO_LAST_FRAG: u8 = 1 << 2;
/// `RNDIS_PKTINFO_ID_V1`.
pub const RNDIS_PKTINFO_ID_V1: u8 = 1;

/// The `internal:1` bit of the record's second word.
pub const PPI_INTERNAL: u32 = 1 << 31;
/// `sizeof(struct rndis_per_packet_info)`.
pub const PPI_HEADER_SIZE: usize = 12;
/// `NDIS_VLAN_PPI_SIZE`.
pub const NDIS_VLAN_PPI_SIZE: usize = PPI_HEADER_SIZE + 4;
/// `NDIS_CSUM_PPI_SIZE`.
pub const NDIS_CSUM_PPI_SIZE: usize = PPI_HEADER_SIZE + 4;
/// `NDIS_LSO_PPI_SIZE`.
pub const NDIS_LSO_PPI_SIZE: usize = PPI_HEADER_SIZE + 4;
/// `NDIS_HASH_PPI_SIZE`.
pub const NDIS_HASH_PPI_SIZE: usize = PPI_HEADER_SIZE + 4;
/// `NDIS_ALL_PPI_SIZE`: every PPI the guest may send with one packet.
pub const NDIS_ALL_PPI_SIZE: usize = NDIS_VLAN_PPI_SIZE + NDIS_CSUM_PPI_SIZE + NDIS_LSO_PPI_SIZE + NDIS_HASH_PPI_SIZE;

/// `struct rndis_per_packet_info`: a record header.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct RndisPerPacketInfo {
    /// `size`: bytes of the record (header, data, padding).
    pub size: u32,
    /// `type:31` and `internal:1` (bit 31, [`PPI_INTERNAL`]).
    pub type_internal: u32,
    /// `ppi_offset`: where the data starts, from the record start.
    pub ppi_offset: u32,
}

impl RndisPerPacketInfo {
    /// `type`.
    pub const fn ppi_type(&self) -> u32 {
        self.type_internal & !PPI_INTERNAL
    }

    /// `internal`.
    pub const fn internal(&self) -> bool {
        self.type_internal & PPI_INTERNAL != 0
    }
}

/// `struct rndis_pktinfo_id`: RSC fragment marking (internal type [`RNDIS_PKTINFO_ID`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct RndisPktinfoId {
    /// `ver` ([`RNDIS_PKTINFO_ID_V1`]).
    pub ver: u8,
    /// `flag`: `RNDIS_PKTINFO_*` bits.
    pub flag: u8,
    /// `pkt_id`.
    pub pkt_id: u16,
}

// ---------------------------------------------------------------------------------------
// Bit-field values.

/// `ndis_tcp_ip_checksum_info.transmit`: what the guest asks the host to checksum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxChecksum {
    /// `is_ipv4`.
    pub is_ipv4: bool,
    /// `is_ipv6`.
    pub is_ipv6: bool,
    /// `tcp_checksum`.
    pub tcp_checksum: bool,
    /// `udp_checksum`.
    pub udp_checksum: bool,
    /// `ip_header_checksum`.
    pub ip_header_checksum: bool,
    /// `tcp_header_offset:10`: offset of the transport header in the frame.
    pub tcp_header_offset: u16,
}

/// Largest value of a 10-bit header offset field.
pub const HEADER_OFFSET_MAX: u16 = 0x3ff;
/// Largest LSO MSS (20 bits).
pub const LSO_MSS_MAX: u32 = 0xfffff;
/// Largest VLAN id (12 bits).
pub const VLAN_ID_MAX: u16 = 0xfff;
/// Largest 802.1p priority (3 bits).
pub const VLAN_PRIORITY_MAX: u8 = 7;

impl TxChecksum {
    /// The 32-bit value; `None` if `tcp_header_offset` does not fit its 10 bits.
    pub const fn to_bits(&self) -> Option<u32> {
        if self.tcp_header_offset > HEADER_OFFSET_MAX {
            return None;
        }
        Some(
            (self.is_ipv4 as u32)
                | (self.is_ipv6 as u32) << 1
                | (self.tcp_checksum as u32) << 2
                | (self.udp_checksum as u32) << 3
                | (self.ip_header_checksum as u32) << 4
                | (self.tcp_header_offset as u32) << 16,
        )
    }

    /// Decodes the 32-bit value (reserved bits ignored).
    pub const fn from_bits(v: u32) -> Self {
        TxChecksum {
            is_ipv4: v & 1 != 0,
            is_ipv6: v & (1 << 1) != 0,
            tcp_checksum: v & (1 << 2) != 0,
            udp_checksum: v & (1 << 3) != 0,
            ip_header_checksum: v & (1 << 4) != 0,
            tcp_header_offset: ((v >> 16) & 0x3ff) as u16,
        }
    }
}

/// `ndis_tcp_ip_checksum_info.receive`: what the host verified.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RxChecksum {
    /// `tcp_checksum_failed`.
    pub tcp_checksum_failed: bool,
    /// `udp_checksum_failed`.
    pub udp_checksum_failed: bool,
    /// `ip_checksum_failed`.
    pub ip_checksum_failed: bool,
    /// `tcp_checksum_succeeded`.
    pub tcp_checksum_succeeded: bool,
    /// `udp_checksum_succeeded`.
    pub udp_checksum_succeeded: bool,
    /// `ip_checksum_succeeded`.
    pub ip_checksum_succeeded: bool,
    /// `loopback`.
    pub loopback: bool,
    /// `tcp_checksum_value_invalid`.
    pub tcp_checksum_value_invalid: bool,
    /// `ip_checksum_value_invalid`: the IP header checksum field was not recomputed after
    /// coalescing (Linux recomputes it when `ip_checksum_succeeded` is also set).
    pub ip_checksum_value_invalid: bool,
}

impl RxChecksum {
    /// The 32-bit value.
    pub const fn to_bits(&self) -> u32 {
        (self.tcp_checksum_failed as u32)
            | (self.udp_checksum_failed as u32) << 1
            | (self.ip_checksum_failed as u32) << 2
            | (self.tcp_checksum_succeeded as u32) << 3
            | (self.udp_checksum_succeeded as u32) << 4
            | (self.ip_checksum_succeeded as u32) << 5
            | (self.loopback as u32) << 6
            | (self.tcp_checksum_value_invalid as u32) << 7
            | (self.ip_checksum_value_invalid as u32) << 8
    }

    /// Decodes the 32-bit value.
    pub const fn from_bits(v: u32) -> Self {
        RxChecksum {
            tcp_checksum_failed: v & 1 != 0,
            udp_checksum_failed: v & (1 << 1) != 0,
            ip_checksum_failed: v & (1 << 2) != 0,
            tcp_checksum_succeeded: v & (1 << 3) != 0,
            udp_checksum_succeeded: v & (1 << 4) != 0,
            ip_checksum_succeeded: v & (1 << 5) != 0,
            loopback: v & (1 << 6) != 0,
            tcp_checksum_value_invalid: v & (1 << 7) != 0,
            ip_checksum_value_invalid: v & (1 << 8) != 0,
        }
    }

    /// Whether Linux marks the packet `CHECKSUM_UNNECESSARY` (`netvsc_alloc_recv_skb()`: TCP
    /// or UDP checksum succeeded).
    pub const fn l4_verified(&self) -> bool {
        self.tcp_checksum_succeeded || self.udp_checksum_succeeded
    }
}

/// `struct ndis_pkt_8021q_info`: VLAN tag.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VlanInfo {
    /// `pri:3`: 802.1p user priority.
    pub priority: u8,
    /// `cfi:1`: canonical format indicator (DEI).
    pub cfi: bool,
    /// `vlanid:12`.
    pub vlan_id: u16,
}

impl VlanInfo {
    /// The 32-bit value; `None` if a field does not fit.
    pub const fn to_bits(&self) -> Option<u32> {
        if self.priority > VLAN_PRIORITY_MAX || self.vlan_id > VLAN_ID_MAX {
            return None;
        }
        Some((self.priority as u32) | (self.cfi as u32) << 3 | (self.vlan_id as u32) << 4)
    }

    /// Decodes the 32-bit value (reserved bits ignored).
    pub const fn from_bits(v: u32) -> Self {
        VlanInfo { priority: (v & 7) as u8, cfi: v & (1 << 3) != 0, vlan_id: ((v >> 4) & 0xfff) as u16 }
    }

    /// From an 802.1Q tag control field (priority in bits 13-15, DEI bit 12, id bits 0-11).
    pub const fn from_tci(tci: u16) -> Self {
        VlanInfo { priority: (tci >> 13) as u8, cfi: tci & (1 << 12) != 0, vlan_id: tci & 0xfff }
    }

    /// The 802.1Q tag control field (`netvsc_alloc_recv_skb()` builds it this way).
    pub const fn to_tci(&self) -> u16 {
        ((self.priority as u16 & 7) << 13) | (self.cfi as u16) << 12 | (self.vlan_id & 0xfff)
    }
}

/// `NDIS_TCP_LARGE_SEND_OFFLOAD_V2_TYPE`: the `type` bit of an LSOv2 request.
pub const NDIS_TCP_LARGE_SEND_OFFLOAD_V2_TYPE: u32 = 1;
/// `NDIS_TCP_LARGE_SEND_OFFLOAD_IPV4`.
pub const NDIS_TCP_LARGE_SEND_OFFLOAD_IPV4: u32 = 0;
/// `NDIS_TCP_LARGE_SEND_OFFLOAD_IPV6`.
pub const NDIS_TCP_LARGE_SEND_OFFLOAD_IPV6: u32 = 1;

/// `ndis_tcp_lso_info.lso_v2_transmit`: a TCP segmentation request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LsoV2Tx {
    /// `mss:20`.
    pub mss: u32,
    /// `tcp_header_offset:10`.
    pub tcp_header_offset: u16,
    /// `ip_version:1`: IPv6 when set.
    pub ipv6: bool,
}

impl LsoV2Tx {
    /// The 32-bit value with `type = NDIS_TCP_LARGE_SEND_OFFLOAD_V2_TYPE`; `None` if a field
    /// does not fit.
    pub const fn to_bits(&self) -> Option<u32> {
        if self.mss > LSO_MSS_MAX || self.tcp_header_offset > HEADER_OFFSET_MAX {
            return None;
        }
        Some(
            self.mss
                | (self.tcp_header_offset as u32) << 20
                | NDIS_TCP_LARGE_SEND_OFFLOAD_V2_TYPE << 30
                | (self.ipv6 as u32) << 31,
        )
    }

    /// Decodes an LSOv2 request; `None` if the `type` bit says LSOv1.
    pub const fn from_bits(v: u32) -> Option<Self> {
        if (v >> 30) & 1 != NDIS_TCP_LARGE_SEND_OFFLOAD_V2_TYPE {
            return None;
        }
        Some(LsoV2Tx { mss: v & LSO_MSS_MAX, tcp_header_offset: ((v >> 20) & 0x3ff) as u16, ipv6: v >> 31 != 0 })
    }
}

// ---------------------------------------------------------------------------------------
// Records.

/// One validated PPI record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ppi<'a> {
    /// `type`.
    pub ppi_type: u32,
    /// `internal`.
    pub internal: bool,
    /// The data (from `ppi_offset` to the end of the record).
    pub data: &'a [u8],
}

impl Ppi<'_> {
    /// The first 4 data bytes as a little-endian `u32`, if present.
    pub fn value_u32(&self) -> Option<u32> {
        bytes::u32_at(self.data, 0)
    }
}

/// Minimum data bytes of the types this crate decodes (`(type, internal) -> size`).
fn known_data_size(ppi_type: u32, internal: bool) -> Option<usize> {
    match (ppi_type, internal) {
        (TCPIP_CHKSUM_PKTINFO, false)
        | (TCP_LARGESEND_PKTINFO, false)
        | (IEEE_8021Q_INFO, false)
        | (NBL_HASH_VALUE, false)
        | (NBL_HASH_INFO, false)
        | (RNDIS_PKTINFO_ID, true) => Some(4),
        _ => None,
    }
}

/// Parses the record at the start of `rest`: its data and total size.
fn record(rest: &[u8]) -> Result<(Ppi<'_>, usize), RndisError> {
    let h: RndisPerPacketInfo = bytes::read(rest, 0).ok_or(RndisError::PpiTruncated(rest.len()))?;
    let size = usize::try_from(h.size).map_err(|_| RndisError::PpiSizePastArea(h.size))?;
    if size < PPI_HEADER_SIZE {
        return Err(RndisError::PpiSizeTooSmall(h.size));
    }
    if size > rest.len() {
        return Err(RndisError::PpiSizePastArea(h.size));
    }
    if size % 4 != 0 {
        return Err(RndisError::PpiMisaligned(h.size));
    }
    let off = usize::try_from(h.ppi_offset).map_err(|_| RndisError::PpiDataOffset(h.ppi_offset))?;
    if off < PPI_HEADER_SIZE || off >= size {
        return Err(RndisError::PpiDataOffset(h.ppi_offset));
    }
    let data = bytes::sub(rest, off, size - off).ok_or(RndisError::PpiDataOffset(h.ppi_offset))?;
    let ppi = Ppi { ppi_type: h.ppi_type(), internal: h.internal(), data };
    if let Some(need) = known_data_size(ppi.ppi_type, ppi.internal) {
        if data.len() < need {
            return Err(RndisError::PpiDataTooShort(ppi.ppi_type));
        }
    }
    Ok((ppi, size))
}

/// Checks every record of a PPI area: at least a header left, `size` at least the header,
/// within the area and a multiple of 4, `ppi_offset` past the record header and before the
/// record end, and enough data for the types this crate decodes (4 bytes). Linux checks
/// less (`rndis_get_ppi()`; it even spins on a bad size), [MS-RNDIS] requires the 4-byte
/// multiples.
pub fn validate_area(area: &[u8]) -> Result<(), RndisError> {
    let mut rest = area;
    while !rest.is_empty() {
        let (_, size) = record(rest)?;
        rest = bytes::tail(rest, size);
    }
    Ok(())
}

/// Iterator over the records of an area checked by [`validate_area`] (on an unchecked area
/// it stops at the first bad record).
#[derive(Clone, Debug)]
pub struct PpiIter<'a> {
    rest: &'a [u8],
}

impl<'a> PpiIter<'a> {
    /// Iterates over `area`.
    pub const fn new(area: &'a [u8]) -> Self {
        PpiIter { rest: area }
    }
}

impl<'a> Iterator for PpiIter<'a> {
    type Item = Ppi<'a>;

    fn next(&mut self) -> Option<Ppi<'a>> {
        match record(self.rest) {
            Ok((ppi, size)) => {
                self.rest = bytes::tail(self.rest, size);
                Some(ppi)
            }
            Err(_) => {
                self.rest = &[];
                None
            }
        }
    }
}

/// The PPIs of one packet this crate understands, first record of each kind winning (as
/// `rndis_get_ppi()` returns the first match).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacketInfo {
    /// `TCPIP_CHKSUM_PKTINFO` value (interpret with [`PacketInfo::tx_checksum`] or
    /// [`PacketInfo::rx_checksum`] by direction).
    pub checksum: Option<u32>,
    /// `IEEE_8021Q_INFO`.
    pub vlan: Option<VlanInfo>,
    /// `TCP_LARGESEND_PKTINFO` value.
    pub lso: Option<u32>,
    /// `NBL_HASH_VALUE`.
    pub hash_value: Option<u32>,
    /// [`NBL_HASH_INFO`].
    pub hash_info: Option<u32>,
    /// Internal `RNDIS_PKTINFO_ID`.
    pub pktinfo_id: Option<RndisPktinfoId>,
}

impl PacketInfo {
    /// Collects the known records of a validated area.
    pub fn from_area(area: &[u8]) -> Self {
        let mut info = PacketInfo::default();
        for p in PpiIter::new(area) {
            let v = p.value_u32();
            match (p.ppi_type, p.internal) {
                (TCPIP_CHKSUM_PKTINFO, false) => info.checksum = info.checksum.or(v),
                (IEEE_8021Q_INFO, false) => info.vlan = info.vlan.or(v.map(VlanInfo::from_bits)),
                (TCP_LARGESEND_PKTINFO, false) => info.lso = info.lso.or(v),
                (NBL_HASH_VALUE, false) => info.hash_value = info.hash_value.or(v),
                (NBL_HASH_INFO, false) => info.hash_info = info.hash_info.or(v),
                (RNDIS_PKTINFO_ID, true) => info.pktinfo_id = info.pktinfo_id.or(bytes::read(p.data, 0)),
                _ => {}
            }
        }
        info
    }

    /// The checksum record read as a transmit request (host side).
    pub fn tx_checksum(&self) -> Option<TxChecksum> {
        self.checksum.map(TxChecksum::from_bits)
    }

    /// The checksum record read as a receive result (guest side).
    pub fn rx_checksum(&self) -> Option<RxChecksum> {
        self.checksum.map(RxChecksum::from_bits)
    }

    /// The LSO record read as an LSOv2 request (host side), if it is one.
    pub fn lso_v2(&self) -> Option<LsoV2Tx> {
        self.lso.and_then(LsoV2Tx::from_bits)
    }
}

/// Writes a record with 4 data bytes at `off` of `out` (`init_ppi_data()`: data right after
/// the header); returns its size ([`NDIS_HASH_PPI_SIZE`] etc., 16).
pub(crate) fn write_u32_record(out: &mut [u8], off: usize, ppi_type: u32, internal: bool, value: u32) -> Option<usize> {
    let h = RndisPerPacketInfo {
        size: (PPI_HEADER_SIZE + 4) as u32,
        type_internal: (ppi_type & !PPI_INTERNAL) | if internal { PPI_INTERNAL } else { 0 },
        ppi_offset: PPI_HEADER_SIZE as u32,
    };
    bytes::write(out, off, &h)?;
    bytes::put_u32(out, off.checked_add(PPI_HEADER_SIZE)?, value)?;
    Some(PPI_HEADER_SIZE + 4)
}
