// SPDX-License-Identifier: GPL-2.0-only
//! RNDIS data messages (`REMOTE_NDIS_PACKET_MSG`, `struct rndis_packet` in
//! `drivers/net/hyperv/hyperv_net.h`): the validating parser for both sides, the guest's
//! transmit header builder (`netvsc_xmit()`), the host's receive message builder, and the
//! batching padding (`netvsc_copy_to_send_buf()`).
//!
//! Layout: the 8-byte RNDIS header, the 36-byte `rndis_packet`, then the OOB area, the PPI
//! area and the frame, each at an offset from the start of `rndis_packet` ([MS-RNDIS]:
//! offsets "from the start of the DataOffset field"). Linux's transmit header is the
//! `rndis_packet`, the PPIs (hash, VLAN, LSO or checksum, in that order) and then the frame
//! (`data_offset = 36 + PPI bytes`, `per_pkt_info_offset = 36` even without PPIs).

use crate::bytes;
use crate::ppi::{self, PacketInfo, PpiIter, RndisPktinfoId, RxChecksum, TxChecksum, VlanInfo};
use crate::rndis::{RndisError, RndisMessageHeader, RndisPacket, RNDIS_HEADER_SIZE, RNDIS_MSG_PACKET, RNDIS_PACKET_SIZE};
use core::ops::Range;

/// `sizeof(struct rndis_packet)` as a wire value.
const PACKET_SIZE_U32: u32 = RNDIS_PACKET_SIZE as u32;

/// The header of a data message and where its parts are, validated against `msg_len`; for
/// the host, whose guest data may arrive split (header in a send-buffer section or first GPA
/// range, frame in later GPA ranges).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketHeader<'a> {
    /// `msg_len` of the message.
    pub msg_len: u32,
    /// The `rndis_packet` fields.
    pub header: RndisPacket,
    /// Where the frame is, in bytes from the start of the message (RNDIS header included).
    pub data: Range<usize>,
    /// The OOB area (empty when `oob_data_len` is 0).
    pub oob: &'a [u8],
    /// The PPI area, every record validated (empty when `per_pkt_info_len` is 0).
    pub ppi: &'a [u8],
}

/// A data message, validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketMessage<'a> {
    /// The `rndis_packet` fields as sent.
    pub header: RndisPacket,
    /// The frame (`data_len` bytes at `data_offset`).
    pub data: &'a [u8],
    /// The OOB area.
    pub oob: &'a [u8],
    /// The PPI area (validated records).
    pub ppi: &'a [u8],
}

/// Converts a body-relative `(offset, len)` to a range inside a body of `body_len` bytes,
/// or `None` if it does not fit.
fn body_range(offset: u32, len: u32, body_len: usize) -> Option<Range<usize>> {
    let start = usize::try_from(offset).ok()?;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    if end > body_len {
        return None;
    }
    Some(start..end)
}

/// Parses and validates the header, OOB and PPI areas of the data message at the start of
/// `head`. `head` must hold the header and the PPI and OOB areas; the frame only has to be
/// inside `msg_len` (which may exceed `head`).
///
/// Checks (body = message after the 8-byte header, `body_len = msg_len - 8`): `msg_len`
/// holds the header and `rndis_packet`; `data_offset >= 36` and the frame inside the body;
/// a non-empty OOB area past the header, inside the body and apart from the frame; a
/// non-empty PPI area 4-byte aligned, past the header, inside the body, apart from the frame
/// and the OOB area, and inside `head`; every PPI record ([`ppi::validate_area`]).
pub fn parse_packet_header(head: &[u8]) -> Result<PacketHeader<'_>, RndisError> {
    let h: RndisMessageHeader = bytes::read(head, 0).ok_or(RndisError::Truncated(head.len()))?;
    let msg_len = h.msg_len;
    if msg_len == 0 {
        return Err(RndisError::ZeroLength);
    }
    let body_len = usize::try_from(msg_len)
        .ok()
        .and_then(|l| l.checked_sub(RNDIS_HEADER_SIZE))
        .ok_or(RndisError::LengthBelowHeader(msg_len))?;
    if body_len < RNDIS_PACKET_SIZE {
        return Err(RndisError::TooShortForType { msg_type: RNDIS_MSG_PACKET, msg_len });
    }
    let p: RndisPacket =
        bytes::read(head, RNDIS_HEADER_SIZE).ok_or(RndisError::TooShortForType { msg_type: RNDIS_MSG_PACKET, msg_len })?;
    let head_body = bytes::head(bytes::tail(head, RNDIS_HEADER_SIZE), body_len);

    let (doff, dlen) = (p.data_offset, p.data_len);
    if doff < PACKET_SIZE_U32 {
        return Err(RndisError::DataOffsetInHeader(doff));
    }
    let data = body_range(doff, dlen, body_len).ok_or(RndisError::DataPastMessage { offset: doff, len: dlen })?;

    let (ooff, olen) = (p.oob_data_offset, p.oob_data_len);
    let oob = if olen == 0 {
        &[][..]
    } else {
        let bad = RndisError::OobOutside { offset: ooff, len: olen };
        if ooff < PACKET_SIZE_U32 {
            return Err(bad);
        }
        let r = body_range(ooff, olen, body_len).ok_or(bad)?;
        if bytes::overlaps(ooff, olen, doff, dlen) {
            return Err(RndisError::OobOverlapsData);
        }
        head_body.get(r).ok_or(bad)?
    };

    let (poff, plen) = (p.per_pkt_info_offset, p.per_pkt_info_len);
    let ppi_area = if plen == 0 {
        &[][..]
    } else {
        if poff < PACKET_SIZE_U32 {
            return Err(RndisError::PpiOffsetInHeader(poff));
        }
        if poff % 4 != 0 || plen % 4 != 0 {
            return Err(RndisError::PpiMisaligned(if poff % 4 != 0 { poff } else { plen }));
        }
        let bad = RndisError::PpiPastMessage { offset: poff, len: plen };
        let r = body_range(poff, plen, body_len).ok_or(bad)?;
        if bytes::overlaps(poff, plen, doff, dlen) {
            return Err(RndisError::PpiOverlapsData);
        }
        if bytes::overlaps(poff, plen, ooff, olen) {
            return Err(RndisError::PpiOverlapsOob);
        }
        let area = head_body.get(r).ok_or(bad)?;
        ppi::validate_area(area)?;
        area
    };

    let start = RNDIS_HEADER_SIZE + data.start;
    let end = RNDIS_HEADER_SIZE + data.end;
    Ok(PacketHeader { msg_len, header: p, data: start..end, oob, ppi: ppi_area })
}

impl<'a> PacketMessage<'a> {
    /// Parses a complete data message (`msg` = exactly the message, as
    /// [`crate::rndis::RndisMessage::parse`] passes it; use that function or
    /// [`crate::rndis::Messages`] for raw buffers).
    pub fn parse_message(msg: &'a [u8]) -> Result<Self, RndisError> {
        let h = parse_packet_header(msg)?;
        let len = u32::try_from(msg.len()).unwrap_or(u32::MAX);
        let data = msg.get(h.data.clone()).ok_or(RndisError::LengthPastBuffer { msg_len: h.msg_len, have: msg.len() })?;
        if h.msg_len != len {
            return Err(RndisError::LengthPastBuffer { msg_len: h.msg_len, have: msg.len() });
        }
        Ok(PacketMessage { header: h.header, data, oob: h.oob, ppi: h.ppi })
    }

    /// The PPI records.
    pub fn ppis(&self) -> PpiIter<'a> {
        PpiIter::new(self.ppi)
    }

    /// The known PPIs.
    pub fn info(&self) -> PacketInfo {
        PacketInfo::from_area(self.ppi)
    }
}

/// Writes the 8-byte header and `rndis_packet` for a message whose PPIs occupy `ppi_len`
/// bytes after it and whose frame has `data_len` bytes.
fn write_headers(out: &mut [u8], ppi_len: usize, data_len: u32) -> Option<usize> {
    let hdr_len = RNDIS_HEADER_SIZE + RNDIS_PACKET_SIZE + ppi_len;
    let msg_len = u32::try_from(hdr_len).ok()?.checked_add(data_len)?;
    let h = RndisMessageHeader { ndis_msg_type: RNDIS_MSG_PACKET, msg_len };
    let p = RndisPacket {
        data_offset: u32::try_from(RNDIS_PACKET_SIZE + ppi_len).ok()?,
        data_len,
        per_pkt_info_offset: RNDIS_PACKET_SIZE as u32,
        per_pkt_info_len: u32::try_from(ppi_len).ok()?,
        ..RndisPacket::default()
    };
    bytes::write(out, 0, &h)?;
    bytes::write(out, RNDIS_HEADER_SIZE, &p)?;
    Some(hdr_len)
}

/// Offset of the first PPI record in a message built here.
const PPI_START: usize = RNDIS_HEADER_SIZE + RNDIS_PACKET_SIZE;

/// Writes 4-byte PPI records (`(type, internal, value)`) after the headers; returns their
/// total size.
fn write_ppis(out: &mut [u8], records: &[Option<(u32, bool, u32)>]) -> Option<usize> {
    let mut off = PPI_START;
    for (t, internal, v) in records.iter().flatten() {
        off = off.checked_add(ppi::write_u32_record(out, off, *t, *internal, *v)?)?;
    }
    Some(off - PPI_START)
}

/// Metadata of a transmitted frame (from the skb in `netvsc_xmit()`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxInfo {
    /// `NBL_HASH_VALUE`: the flow hash (Linux sends it when non-zero and there are several
    /// transmit queues).
    pub hash: Option<u32>,
    /// `IEEE_8021Q_INFO`: the VLAN tag to insert.
    pub vlan: Option<VlanInfo>,
    /// `TCP_LARGESEND_PKTINFO`: segmentation (Linux sends either this or `checksum`).
    pub lso: Option<ppi::LsoV2Tx>,
    /// `TCPIP_CHKSUM_PKTINFO`: checksum offload.
    pub checksum: Option<TxChecksum>,
}

impl TxInfo {
    /// Bytes of PPI records this metadata produces (16 per record).
    pub fn ppi_len(&self) -> usize {
        let n = [self.hash.is_some(), self.vlan.is_some(), self.lso.is_some(), self.checksum.is_some()]
            .iter()
            .filter(|b| **b)
            .count();
        n * ppi::NDIS_HASH_PPI_SIZE
    }

    /// Bytes of the transmit header (`rmsg_size`): RNDIS header, `rndis_packet` and PPIs.
    pub fn header_len(&self) -> usize {
        PPI_START + self.ppi_len()
    }
}

/// Guest: writes the RNDIS header of a transmitted frame of `data_len` bytes (the frame
/// itself follows in other buffers) and returns its length (`rmsg_size`, at most
/// [`crate::rndis::RNDIS_AND_PPI_SIZE`]). PPIs in Linux's order: hash, VLAN, LSO,
/// checksum. `msg_len` covers header and frame; add batching padding with [`add_padding`].
pub fn build_tx_header(out: &mut [u8], data_len: u32, info: &TxInfo) -> Result<usize, RndisError> {
    let need = info.header_len();
    let too_small = RndisError::BufferTooSmall { need, have: out.len() };
    let hdr = out.get_mut(..need).ok_or(too_small)?;
    hdr.iter_mut().for_each(|b| *b = 0);
    let vlan = match info.vlan {
        Some(v) => Some((ppi::IEEE_8021Q_INFO, false, v.to_bits().ok_or(RndisError::ValueTooLarge)?)),
        None => None,
    };
    let lso = match info.lso {
        Some(l) => Some((ppi::TCP_LARGESEND_PKTINFO, false, l.to_bits().ok_or(RndisError::ValueTooLarge)?)),
        None => None,
    };
    let csum = match info.checksum {
        Some(c) => Some((ppi::TCPIP_CHKSUM_PKTINFO, false, c.to_bits().ok_or(RndisError::ValueTooLarge)?)),
        None => None,
    };
    let records = [info.hash.map(|h| (ppi::NBL_HASH_VALUE, false, h)), vlan, lso, csum];
    let ppi_len = write_ppis(hdr, &records).ok_or(too_small)?;
    write_headers(hdr, ppi_len, data_len).ok_or(RndisError::ValueTooLarge)
}

/// Metadata of a received frame (host side).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RxInfo {
    /// `TCPIP_CHKSUM_PKTINFO`: what the host verified.
    pub checksum: Option<RxChecksum>,
    /// `IEEE_8021Q_INFO`: the stripped VLAN tag.
    pub vlan: Option<VlanInfo>,
    /// `NBL_HASH_VALUE`: the RSS hash.
    pub hash_value: Option<u32>,
    /// [`ppi::NBL_HASH_INFO`]: the RSS hash type.
    pub hash_info: Option<u32>,
    /// Internal `RNDIS_PKTINFO_ID`: RSC fragment marking.
    pub pktinfo_id: Option<RndisPktinfoId>,
}

impl RxInfo {
    /// Bytes of PPI records this metadata produces.
    pub fn ppi_len(&self) -> usize {
        let n = [
            self.checksum.is_some(),
            self.vlan.is_some(),
            self.hash_value.is_some(),
            self.hash_info.is_some(),
            self.pktinfo_id.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        n * ppi::NDIS_HASH_PPI_SIZE
    }

    /// Bytes of the whole message for a frame of `frame_len` bytes.
    pub fn message_len(&self, frame_len: usize) -> Option<usize> {
        (PPI_START + self.ppi_len()).checked_add(frame_len)
    }
}

/// Host: writes a complete data message carrying `frame` (header, PPIs, frame) into a
/// receive-buffer sub-allocation; returns its length (`byte_count` of the transfer range).
pub fn build_rx_packet(out: &mut [u8], frame: &[u8], info: &RxInfo) -> Result<usize, RndisError> {
    let need = info.message_len(frame.len()).ok_or(RndisError::ValueTooLarge)?;
    let too_small = RndisError::BufferTooSmall { need, have: out.len() };
    let msg = out.get_mut(..need).ok_or(too_small)?;
    msg.iter_mut().for_each(|b| *b = 0);
    let vlan = match info.vlan {
        Some(v) => Some((ppi::IEEE_8021Q_INFO, false, v.to_bits().ok_or(RndisError::ValueTooLarge)?)),
        None => None,
    };
    let id = info.pktinfo_id.map(|p| {
        (ppi::RNDIS_PKTINFO_ID, true, u32::from(p.ver) | u32::from(p.flag) << 8 | u32::from(p.pkt_id) << 16)
    });
    let records = [
        info.checksum.map(|c| (ppi::TCPIP_CHKSUM_PKTINFO, false, c.to_bits())),
        vlan,
        info.hash_info.map(|h| (ppi::NBL_HASH_INFO, false, h)),
        info.hash_value.map(|h| (ppi::NBL_HASH_VALUE, false, h)),
        id,
    ];
    let ppi_len = write_ppis(msg, &records).ok_or(too_small)?;
    let data_len = u32::try_from(frame.len()).map_err(|_| RndisError::ValueTooLarge)?;
    let hdr_len = write_headers(msg, ppi_len, data_len).ok_or(RndisError::ValueTooLarge)?;
    bytes::put(msg, hdr_len, frame).ok_or(too_small)?;
    Ok(need)
}

/// Writes a parsed data message in canonical form (header, PPI area as is, frame; OOB
/// dropped); returns its length.
pub fn build_packet(out: &mut [u8], p: &PacketMessage<'_>) -> Result<usize, RndisError> {
    let ppi_len = p.ppi.len();
    let data_len = u32::try_from(p.data.len()).map_err(|_| RndisError::ValueTooLarge)?;
    let need = PPI_START.checked_add(ppi_len).and_then(|n| n.checked_add(p.data.len())).ok_or(RndisError::ValueTooLarge)?;
    let too_small = RndisError::BufferTooSmall { need, have: out.len() };
    let msg = out.get_mut(..need).ok_or(too_small)?;
    msg.iter_mut().for_each(|b| *b = 0);
    let hdr_len = write_headers(msg, ppi_len, data_len).ok_or(RndisError::ValueTooLarge)?;
    bytes::put(msg, PPI_START, p.ppi).ok_or(too_small)?;
    bytes::put(msg, hdr_len, p.data).ok_or(too_small)?;
    Ok(need)
}

/// Padding after a message of `msg_len` bytes so the next message of a batch starts
/// `align`-aligned (`netvsc_copy_to_send_buf()`; `align` is the host's `pkt_align`, a power
/// of two). `None` for an `align` that is not a power of two.
pub fn padding(msg_len: u32, align: u32) -> Option<u32> {
    if !align.is_power_of_two() {
        return None;
    }
    let rem = msg_len & (align - 1);
    Some(if rem == 0 { 0 } else { align - rem })
}

/// Adds `pad` bytes to the `msg_len` of the message whose header starts `header` (the
/// padding bytes themselves are the caller's to zero, after the frame).
pub fn add_padding(header: &mut [u8], pad: u32) -> Result<u32, RndisError> {
    let len = bytes::u32_at(header, 4).ok_or(RndisError::Truncated(header.len()))?;
    let new = len.checked_add(pad).ok_or(RndisError::ValueTooLarge)?;
    bytes::put_u32(header, 4, new).ok_or(RndisError::Truncated(header.len()))?;
    Ok(new)
}

/// The `rndis_packet` offsets of a message built by [`build_tx_header`] or
/// [`build_rx_packet`] with PPIs of `ppi_len` bytes: (`data_offset`, `per_pkt_info_offset`).
pub const fn offsets_for(ppi_len: usize) -> (usize, usize) {
    (RNDIS_PACKET_SIZE + ppi_len, RNDIS_PACKET_SIZE)
}
