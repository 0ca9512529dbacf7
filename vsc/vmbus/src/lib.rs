// SPDX-License-Identifier: GPL-2.0-only
//! The VMBus protocol: channel management messages, GPADLs, ring buffers and packets. Used
//! by the guest VMBus core (a kernel module, through Kbuild) and by the host simulator's
//! VMBus host, so every message has both the guest's and the host's side.
//!
//! `no_std`, no allocation, no `unsafe`: the kernel module compiles this same file; the host
//! simulator and the tests use it as an ordinary crate. Everything read from the other side
//! is validated and every failure is a typed error with a short `as_str()` for one log line.
//!
//! | module | contents | side |
//! |--------|----------|------|
//! | [`guid`] | [`Guid`] (Linux `guid_t`), device classes, modalias | both |
//! | [`version`] | protocol versions, guest proposal order, connection ids, SINT, feature predicates | both |
//! | [`message`] | every `CHANNELMSG_*` struct, [`message::parse`], [`message::ChannelMessage::encode`] | both |
//! | [`gpadl`] | GPADL header/body splitting (guest) and assembly (host), PFN views | both |
//! | [`packet`] | packet descriptor, packet types, transfer-page and GPA-direct headers | both |
//! | [`ring`] | ring header, [`ring::RingMem`], [`ring::RingWriter`], [`ring::RingReader`], signalling rules | both |
//! | [`slot`] | completion slots and the transaction ids naming them: a request ended exactly once, stale or forged completions refused | guest |
//! | [`echo`] | payloads of the pvguest echo test device ([`guid::ECHO`]) | both |
//!
//! Sources: Linux `include/linux/hyperv.h`, `drivers/hv/channel_mgmt.c`, `connection.c`,
//! `channel.c`, `ring_buffer.c`, `vmbus_drv.c`, `hyperv_vmbus.h`. Layouts and constants are
//! checked against the kernel by `tests/layout.rs` (`tests/layout/vmbus.c`). All wire
//! integers are little-endian; the crate targets x86-64 and uses native integers in its
//! `repr(C)` structs.
#![cfg_attr(not(CONFIG_RUST), no_std)]
#![forbid(unsafe_code)]

mod bytes;
pub mod echo;
pub mod gpadl;
pub mod guid;
pub mod message;
pub mod packet;
pub mod ring;
pub mod slot;
pub mod version;

pub use guid::Guid;
