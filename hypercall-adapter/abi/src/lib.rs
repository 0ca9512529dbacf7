// SPDX-License-Identifier: GPL-2.0-only
//! The hypervisor ABI the hypercall adapter speaks, as plain data and pure functions:
//! CPUID detection of Hyper-V, Xen and others; the Hyper-V TLFS hypercall input and result
//! values, status codes, hypercall inputs, synthetic MSRs, SynIC pages and reference time;
//! and the Xen hypercall conventions, operations and pvclock.
//!
//! `no_std` and free of `unsafe`: the kernel module (`pvg_hcall`) compiles this same file
//! through Kbuild and does only the privileged instructions itself (`vmcall`/`vmmcall`,
//! `wrmsr`, calls into the hypercall page); the host simulator and the tests use it as an
//! ordinary crate. Everything read from the other side is validated and every failure is a
//! typed error with a short `as_str()`.
//!
//! | module | contents |
//! |--------|----------|
//! | [`cpuid`] | hypervisor detection, feature and recommendation bits, `describe` |
//! | [`backend`] | which backend the adapter uses, from the detection |
//! | [`tlfs`] | hypercall input/result values, rep continuation |
//! | [`status`] | `HV_STATUS_*`, names, errno mapping |
//! | [`hypercall`] | call codes, input layouts, VP sets, GVA lists, encoders, host parsers |
//! | [`msr`] | synthetic MSRs and bitfields, guest OS id |
//! | [`synic`] | message and event flags pages, consume/EOM protocol |
//! | [`reftsc`] | reference TSC page and TIME_REF_COUNT |
//! | [`xen`] | Xen hypercalls, registers, ops, errno, pvclock |
//! | [`errno`] | the Linux errno numbers the mappings produce |
#![cfg_attr(not(CONFIG_RUST), no_std)]
#![forbid(unsafe_code)]

mod bytes;
pub mod backend;
pub mod cpuid;
pub mod errno;
pub mod hypercall;
pub mod msr;
pub mod reftsc;
pub mod status;
pub mod synic;
pub mod tlfs;
pub mod xen;
// `pub mod sim;` (the simulator mailbox protocol) is added by its owner.
