// SPDX-License-Identifier: GPL-2.0-only
//! The hypervisor ABI the hypercall adapter speaks, as plain data and pure functions:
//! CPUID detection of Hyper-V, Xen and others.
//!
//! `no_std` and free of `unsafe`: the kernel module (`pvg_hcall`) compiles this same file
//! through Kbuild and does only the privileged instructions itself; the host simulator and
//! the tests use it as an ordinary crate.
#![cfg_attr(not(CONFIG_RUST), no_std)]
#![forbid(unsafe_code)]

pub mod cpuid;
