// SPDX-License-Identifier: GPL-2.0-only
//! VSTOR storage protocol and the SCSI commands it carries: shared by the guest storage VSC
//! (a blk-mq kernel driver) and the host simulator's StorVSP (serving LUNs from image files).
//!
//! `no_std`, no allocation, no `unsafe`: the kernel module compiles this same file through
//! Kbuild; the host simulator and the tests use it as an ordinary crate. Everything read
//! from the other side is validated and every failure is a typed error with a short
//! `as_str()`.
//!
//! | module | contents | side |
//! |--------|----------|------|
//! | [`vstor`] | VSTOR packets, protocol versions and their sizes, channel properties, SRB requests and completions | both |
//! | [`init`] | the initialization sequence as guest and host state machines | both |
//! | [`srb`] | SRB status and flags, SCSI status, [`srb::ScsiResult`], the guest's error classification | both |
//! | [`sense`] | sense data decoding and building, sense keys, ASC/ASCQ | both |
//! | [`cdb`] | opcodes, page codes, CDB builders | guest |
//! | [`command`] | CDB parser into [`command::Command`] | host |
//! | [`unmap`] | UNMAP parameter list builder and validating parser | both |
//! | [`disk`] | the SCSI target of one virtual disk | host |
//! | [`response`] | parsers of INQUIRY, VPD, READ CAPACITY, MODE SENSE, REPORT LUNS data | guest |
//!
//! Sources: Linux `drivers/scsi/storvsc_drv.c`, `include/scsi/scsi_proto.h`,
//! `drivers/scsi/sd.c`, `drivers/scsi/scsi_error.c`, `drivers/scsi/scsi_lib.c`,
//! `drivers/scsi/scsi_common.c`; T10 SPC-4 and SBC-3. Layouts and constants are checked
//! against the kernel by `tests/layout.rs` (`tests/layout/storvsc.c`).
#![cfg_attr(not(CONFIG_RUST), no_std)]
#![forbid(unsafe_code)]

mod bytes;
pub mod cdb;
pub mod command;
pub mod disk;
pub mod guest;
pub mod init;
pub mod response;
pub mod sense;
pub mod srb;
pub mod unmap;
pub mod vstor;
