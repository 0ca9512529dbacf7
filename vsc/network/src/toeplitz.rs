// SPDX-License-Identifier: GPL-2.0-only
//! The Toeplitz hash of receive side scaling (NDIS "RSS hashing functions": for every set
//! bit of the input, XOR the 32 key bits starting at that bit position into the result),
//! the hash inputs NDIS defines (source address, destination address, then source and
//! destination port for TCP/UDP, all in network byte order), flow hashing of Ethernet
//! frames by the enabled `NDIS_HASH_*` types, and queue selection through an indirection
//! table. Checked against Microsoft's "Verifying the RSS Hash Calculation" vectors.
//!
//! Linux's guest does not hash received packets itself: the host computes the hash and
//! passes it in the `NBL_HASH_VALUE` PPI; the host simulator uses this module for that and
//! to pick the receive channel from the guest's indirection table.

use crate::bytes;
use crate::oid::{NDIS_HASH_IPV4, NDIS_HASH_IPV6, NDIS_HASH_TCP_IPV4, NDIS_HASH_TCP_IPV6, NDIS_HASH_UDP_IPV4, NDIS_HASH_UDP_IPV6};

/// The 40-byte key of Microsoft's verification suite, also Linux's default
/// (`netvsc_hash_key`).
pub const DEFAULT_KEY: [u8; 40] = crate::oid::NETVSC_HASH_KEY;

/// The Toeplitz hash of `input` with `key`. Key bits past the end of `key` count as zero
/// (a 40-byte key covers inputs up to 36 bytes, the IPv6 4-tuple).
pub fn hash(key: &[u8], input: &[u8]) -> u32 {
    let mut window = u32::from_be_bytes([
        key.first().copied().unwrap_or(0),
        key.get(1).copied().unwrap_or(0),
        key.get(2).copied().unwrap_or(0),
        key.get(3).copied().unwrap_or(0),
    ]);
    let mut result = 0u32;
    for (i, b) in input.iter().enumerate() {
        let next = key.get(i.saturating_add(4)).copied().unwrap_or(0);
        for bit in 0..8u32 {
            if b & (0x80 >> bit) != 0 {
                result ^= window;
            }
            window = (window << 1) | u32::from((next >> (7 - bit)) & 1);
        }
    }
    result
}

/// The hash of an IPv4 2-tuple (`NDIS_HASH_IPV4`).
pub fn hash_ipv4(key: &[u8], src: [u8; 4], dst: [u8; 4]) -> u32 {
    let mut input = [0u8; 8];
    input[..4].copy_from_slice(&src);
    input[4..].copy_from_slice(&dst);
    hash(key, &input)
}

/// The hash of an IPv4 4-tuple (`NDIS_HASH_TCP_IPV4`, `NDIS_HASH_UDP_IPV4`).
pub fn hash_ipv4_ports(key: &[u8], src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> u32 {
    let mut input = [0u8; 12];
    input[..4].copy_from_slice(&src);
    input[4..8].copy_from_slice(&dst);
    input[8..10].copy_from_slice(&sport.to_be_bytes());
    input[10..].copy_from_slice(&dport.to_be_bytes());
    hash(key, &input)
}

/// The hash of an IPv6 2-tuple (`NDIS_HASH_IPV6`).
pub fn hash_ipv6(key: &[u8], src: [u8; 16], dst: [u8; 16]) -> u32 {
    let mut input = [0u8; 32];
    input[..16].copy_from_slice(&src);
    input[16..].copy_from_slice(&dst);
    hash(key, &input)
}

/// The hash of an IPv6 4-tuple (`NDIS_HASH_TCP_IPV6`, `NDIS_HASH_UDP_IPV6`).
pub fn hash_ipv6_ports(key: &[u8], src: [u8; 16], dst: [u8; 16], sport: u16, dport: u16) -> u32 {
    let mut input = [0u8; 36];
    input[..16].copy_from_slice(&src);
    input[16..32].copy_from_slice(&dst);
    input[32..34].copy_from_slice(&sport.to_be_bytes());
    input[34..].copy_from_slice(&dport.to_be_bytes());
    hash(key, &input)
}

/// A frame's RSS hash and the `NDIS_HASH_*` type it was computed with (the value of the
/// hash-info PPI, with the Toeplitz function bit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowHash {
    /// The hash (`NBL_HASH_VALUE`).
    pub hash: u32,
    /// `NDIS_HASH_FUNC_TOEPLITZ | NDIS_HASH_<type>`.
    pub hash_info: u32,
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;

/// The L3 type and offset of an Ethernet frame, skipping up to two VLAN tags.
fn l3(frame: &[u8]) -> Option<(u16, usize)> {
    let mut off = 12;
    for _ in 0..3 {
        let t = bytes::array_at::<2>(frame, off).map(u16::from_be_bytes)?;
        if t == ETHERTYPE_VLAN || t == ETHERTYPE_QINQ {
            off += 4;
            continue;
        }
        return Some((t, off + 2));
    }
    None
}

/// The ports at `off`, if present.
fn ports(frame: &[u8], off: usize) -> Option<(u16, u16)> {
    let s = bytes::array_at::<2>(frame, off)?;
    let d = bytes::array_at::<2>(frame, off.checked_add(2)?)?;
    Some((u16::from_be_bytes(s), u16::from_be_bytes(d)))
}

/// Hashes an Ethernet frame with the types enabled in `hash_info` (the guest's
/// `hashinfo`): the TCP (or UDP) 4-tuple when that type is enabled and the packet is not an
/// IPv4 fragment, else the address pair when the plain IP type is enabled. IPv6 extension
/// headers are not walked (such packets get the 2-tuple). `None` for non-IP frames and
/// types not enabled.
pub fn hash_frame(key: &[u8], hash_info: u32, frame: &[u8]) -> Option<FlowHash> {
    let f = crate::oid::NDIS_HASH_FUNC_TOEPLITZ;
    let (ethertype, ip) = l3(frame)?;
    match ethertype {
        ETHERTYPE_IPV4 => {
            let vihl = *frame.get(ip)?;
            if vihl >> 4 != 4 || vihl & 0xf < 5 {
                return None;
            }
            let ihl = usize::from(vihl & 0xf) * 4;
            let proto = *frame.get(ip + 9)?;
            let frag = bytes::array_at::<2>(frame, ip + 6).map(u16::from_be_bytes)?;
            let src = bytes::array_at::<4>(frame, ip + 12)?;
            let dst = bytes::array_at::<4>(frame, ip + 16)?;
            let fragmented = frag & 0x3fff != 0;
            let l4 = if fragmented { None } else { ports(frame, ip + ihl) };
            let l4_type = match proto {
                IPPROTO_TCP => NDIS_HASH_TCP_IPV4,
                IPPROTO_UDP => NDIS_HASH_UDP_IPV4,
                _ => 0,
            };
            if let (Some((sp, dp)), true) = (l4, l4_type != 0 && hash_info & l4_type != 0) {
                return Some(FlowHash { hash: hash_ipv4_ports(key, src, dst, sp, dp), hash_info: f | l4_type });
            }
            if hash_info & NDIS_HASH_IPV4 != 0 {
                return Some(FlowHash { hash: hash_ipv4(key, src, dst), hash_info: f | NDIS_HASH_IPV4 });
            }
            None
        }
        ETHERTYPE_IPV6 => {
            if frame.get(ip)? >> 4 != 6 {
                return None;
            }
            let next = *frame.get(ip + 6)?;
            let src = bytes::array_at::<16>(frame, ip + 8)?;
            let dst = bytes::array_at::<16>(frame, ip + 24)?;
            let l4_type = match next {
                IPPROTO_TCP => NDIS_HASH_TCP_IPV6,
                IPPROTO_UDP => NDIS_HASH_UDP_IPV6,
                _ => 0,
            };
            if let (Some((sp, dp)), true) = (ports(frame, ip + 40), l4_type != 0 && hash_info & l4_type != 0) {
                return Some(FlowHash { hash: hash_ipv6_ports(key, src, dst, sp, dp), hash_info: f | l4_type });
            }
            if hash_info & NDIS_HASH_IPV6 != 0 {
                return Some(FlowHash { hash: hash_ipv6(key, src, dst), hash_info: f | NDIS_HASH_IPV6 });
            }
            None
        }
        _ => None,
    }
}

/// The queue for `hash` from an indirection table: entry `hash mod len` (for the power of
/// two sizes NDIS uses this is its "hash masked by the table size"). `None` for an empty
/// table.
pub fn select_queue(table: &[u32], hash: u32) -> Option<u32> {
    let len = u32::try_from(table.len()).ok()?;
    if len == 0 {
        return None;
    }
    table.get(usize::try_from(hash % len).ok()?).copied()
}

/// The guest's transmit channel for a flow hash from the host's send indirection table
/// (`netvsc_get_tx_queue()`: `tx_table[hash & (VRSS_SEND_TAB_SIZE - 1)]`).
pub fn send_queue(tx_table: &[u32; crate::nvsp::VRSS_SEND_TAB_SIZE], hash: u32) -> u32 {
    let mask = (crate::nvsp::VRSS_SEND_TAB_SIZE - 1) as u32;
    tx_table.get(usize::try_from(hash & mask).unwrap_or(0)).copied().unwrap_or(0)
}
