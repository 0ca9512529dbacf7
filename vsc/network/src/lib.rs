// SPDX-License-Identifier: GPL-2.0-only
//! NVSP and RNDIS: the synthetic network protocols, shared by the guest network VSC (a kernel
//! module: this Rust logic plus a small C shim for `net_device`) and the host simulator's
//! NetVSP (bridging to a TAP device or a software switch).
//!
//! `no_std`, no allocation, no `unsafe`: the kernel module compiles this same file through
//! Kbuild; the host simulator and the tests use it as an ordinary crate. Everything read from
//! the other side is validated and every failure is a typed error with a short `as_str()`.
//! All wire integers are little-endian; the suite is x86-64 only, so the `repr(C)` wire
//! structs use native integers.
//!
//! | module | contents | side |
//! |--------|----------|------|
//! | [`nvsp`] | NVSP messages of every version Linux knows, versions, buffer layouts | both |
//! | [`rndis`] | RNDIS message structs, status codes, control message builders and the parser | both |
//! | [`ppi`] | per-packet info records: checksum, 802.1Q, LSOv2, hash, packet id | both |
//! | [`packet`] | RNDIS data messages: validating parser, batches, guest TX header, host RX builder | both |
//! | [`oid`] | OIDs, packet filter bits, NDIS structures carried by OIDs (offload, RSS, config parameter) | both |
//! | [`toeplitz`] | Toeplitz hash, flow hashing of Ethernet frames, indirection-table queue selection | both |
//! | [`device`] | the RNDIS adapter logic of the host (answers INIT, QUERY, SET, ...) | host |
//! | [`guest`] | the network VSC's decisions: NVSP setup, request matching, receive parsing, send planning, queues, filters | guest |
//!
//! Sources: Linux `drivers/net/hyperv/hyperv_net.h`, `netvsc.c`, `rndis_filter.c`,
//! `netvsc_drv.c`, `include/linux/rndis.h`; [MS-RNDIS]; the NDIS documentation. Layouts and
//! constants are checked against the kernel by `tests/layout.rs` (`tests/layout/netvsc.c`).
#![cfg_attr(not(CONFIG_RUST), no_std)]
#![forbid(unsafe_code)]

mod bytes;
pub mod device;
pub mod guest;
pub mod nvsp;
pub mod oid;
pub mod packet;
pub mod ppi;
pub mod rndis;
pub mod toeplitz;
