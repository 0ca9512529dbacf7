// SPDX-License-Identifier: GPL-2.0-only
//! The Xen backend: the neutral operations mapped onto Xen HVM hypercalls, issued directly with
//! `vmcall` (Intel) or `vmmcall` (AMD) as the CPU vendor dictates; the register convention and
//! every number come from the `hcall_abi` crate.
//!
//! | operation | Xen |
//! |---|---|
//! | signal_event | EVTCHNOP_send on event channel `connection_id` |
//! | notify_long_spin_wait | SCHEDOP_yield |
//! | flush_tlb | HVMOP_flush_tlbs (all vCPUs, whole address space: a superset) |
//! | reference_time | the kernel's monotonic raw clock, which Xen's pvclock drives |
//! | ping | XENVER_version |
//! | post_message, send_ipi, SynIC | `-EOPNOTSUPP` (Xen has no equivalent) |
//!
//! No Xen runs on the development machines; the encodings are tested in `hcall_abi`.

use core::ffi::c_void;
use core::sync::atomic::{AtomicU8, Ordering};

use hcall_abi::cpuid::CpuVendor;
use hcall_abi::xen::{self, hc, XenCall, XenInsn};
use kernel::prelude::*;

use crate::ops::{self, Backend};
use crate::shim;

/// HVMOP_flush_tlbs (`xen/include/public/hvm/hvm_op.h`; Linux does not use it, so it is not in
/// the kernel's copy of the header).
const HVMOP_FLUSH_TLBS: u64 = 5;

/// 0: not started; 1: vmcall; 2: vmmcall.
static INSN: AtomicU8 = AtomicU8::new(0);

extern "C" {
    fn pvg_xen_hvm_guest() -> bool;
}

/// Issues a hypercall with up to three arguments; returns the raw rax.
fn hypercall(nr: u32, a1: u64, a2: u64, a3: u64) -> Result<u64> {
    let regs = XenCall::new(nr, [a1, a2, a3, 0, 0]).to_regs();
    let mut rax = regs.rax;
    match INSN.load(Ordering::Acquire) {
        // SAFETY: a Xen HVM hypercall: Xen reads the argument registers (and, for operations
        // taking a pointer, the guest memory it points to, which the caller keeps valid) and
        // returns in rax; it may clobber the argument registers, declared as outputs.
        1 => unsafe {
            core::arch::asm!("vmcall", inout("rax") rax, inout("rdi") regs.rdi => _, inout("rsi") regs.rsi => _,
                inout("rdx") regs.rdx => _, inout("r10") regs.r10 => _, inout("r8") regs.r8 => _, options(nostack));
        },
        // SAFETY: as above, on AMD.
        2 => unsafe {
            core::arch::asm!("vmmcall", inout("rax") rax, inout("rdi") regs.rdi => _, inout("rsi") regs.rsi => _,
                inout("rdx") regs.rdx => _, inout("r10") regs.r10 => _, inout("r8") regs.r8 => _, options(nostack));
        },
        _ => return Err(ENODEV),
    }
    xen::decode_return(rax).map_err(|e| Error::from_errno(e.to_errno()))
}

/// The Xen backend.
pub(crate) struct Xen;

impl Xen {
    /// Chooses the hypercall instruction. Refuses when the kernel is not running as a Xen HVM
    /// guest (then the event channels and clocks this backend relies on are not set up).
    pub(crate) fn start(cpu: CpuVendor) -> Result {
        // SAFETY: reads the kernel's Xen domain type.
        if !unsafe { pvg_xen_hvm_guest() } {
            pr_err!("xen: CPUID shows Xen but the kernel is not running as a Xen HVM guest\n");
            return Err(ENODEV);
        }
        let insn = XenInsn::for_cpu(cpu);
        INSN.store(if matches!(insn, XenInsn::Vmmcall) { 2 } else { 1 }, Ordering::Release);
        let v = hypercall(hc::XEN_VERSION, u64::from(xen::version::XENVER_VERSION), 0, 0)?;
        pr_info!("xen: hypervisor {}.{}, hypercalls via {}\n", v >> 16, v & 0xffff, insn.name());
        Ok(())
    }

    /// Stops issuing hypercalls.
    pub(crate) fn stop() {
        INSN.store(0, Ordering::Release);
    }
}

impl Backend for Xen {
    const ID: u32 = crate::pvg_hcall_api::backend::XEN;
    const NAME: &'static CStr = c"xen";

    fn post_message(_: u32, _: u32, _: &[u8]) -> Result {
        Err(EOPNOTSUPP)
    }

    fn signal_event(port: u32, _flag: u16) -> Result {
        let send = xen::evtchn::EvtchnSend { port };
        let arg = core::ptr::from_ref(&send) as u64;
        hypercall(hc::EVENT_CHANNEL_OP, u64::from(xen::evtchn::EVTCHNOP_SEND), arg, 0).map(|_| ())
    }

    fn flush_tlb(_: u64, _: u64, _: &[u64], _: u64, _: u64) -> Result {
        hypercall(hc::HVM_OP, HVMOP_FLUSH_TLBS, 0, 0).map(|_| ())
    }

    fn send_ipi(_: u32, _: &[u64]) -> Result {
        Err(EOPNOTSUPP)
    }

    fn notify_long_spin_wait(_: u32) -> Result {
        hypercall(hc::SCHED_OP, u64::from(xen::sched::SCHEDOP_YIELD), 0, 0).map(|_| ())
    }

    fn reference_time() -> Result<u64> {
        // SAFETY: reads the monotonic raw clock (driven by Xen's pvclock on a Xen guest).
        let ns = unsafe { kernel::bindings::ktime_get_raw() } as u64;
        Ok(ns / 100)
    }

    fn synic_enable(_: u32, _: u32) -> Result {
        Err(EOPNOTSUPP)
    }

    fn synic_disable(_: u32, _: u32) -> Result {
        Err(EOPNOTSUPP)
    }

    fn message_page(_: u32) -> *mut c_void {
        core::ptr::null_mut()
    }

    fn event_page(_: u32) -> *mut c_void {
        core::ptr::null_mut()
    }

    fn eom(_: u32) -> Result {
        Err(EOPNOTSUPP)
    }

    fn vp_count() -> u32 {
        shim::num_possible_cpus()
    }

    fn vp_index(cpu: u32) -> u32 {
        cpu
    }

    fn ping() -> Result {
        hypercall(hc::XEN_VERSION, u64::from(xen::version::XENVER_VERSION), 0, 0).map(|_| ())
    }
}

pub(crate) static XEN_OPS: crate::pvg_hcall_api::PvgHcallOps = ops::table::<Xen>();
