// SPDX-License-Identifier: GPL-2.0-only
//! The Hyper-V backend: TLFS hypercalls through the hypercall page and the synthetic MSRs.
//!
//! - Uses the kernel's hypercall page (`hv_hypercall_pg`, through its `hv_hypercall` static
//!   call) when the kernel set one up; otherwise installs its own in a page of this module's
//!   `.text` (hv_page.S) — writing the guest OS id first if nobody did — and removes it on
//!   unload.
//! - Slow calls use a per-CPU input page (used with interrupts off), fast calls registers; rep
//!   calls continue where the hypervisor stopped ([`hvcalls`]).
//! - The SynIC: when the kernel's C VMBus driver is connected it owns the SynIC and the VMBus
//!   interrupt, and the SynIC operations refuse with `-EBUSY` (one log line); otherwise the
//!   adapter enables SIMP/SIEFP/SCONTROL/SINTs on each CPU with pages of its own and installs
//!   its handler for HYPERVISOR_CALLBACK_VECTOR with `hv_setup_vmbus_handler`.
//!
//! No Hyper-V runs on the development machines; this backend is exercised through its shared
//! parts (the TLFS encodings, tested in `hcall_abi`; [`hvcalls`], exercised by the simulator
//! backend) and was written against the TLFS and the kernel's own Hyper-V code.

use core::ffi::c_void;
use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

use hcall_abi::msr::{self, HypercallMsr, SintMsr};
use hcall_abi::tlfs::HypercallInput;
use kernel::prelude::*;

use crate::hvcalls::{self, run_reps, HvTransport};
use crate::ops::{self, Backend};
use crate::pages::HostPage;
use crate::shim;
use crate::synic::{self, SynicPages};

extern "C" {
    fn pvg_rdmsr_safe(msr: u32, val: *mut u64) -> i32;
    fn pvg_wrmsr_safe(msr: u32, val: u64) -> i32;
    fn pvg_hv_kernel_page() -> bool;
    fn pvg_hv_kernel_hypercall(control: u64, input: u64, output: u64) -> u64;
    fn pvg_hv_own_hypercall(control: u64, input: u64, output: u64) -> u64;
    fn pvg_hv_own_page_pfn() -> u64;
    fn pvg_hv_set_handler(handler: Option<unsafe extern "C" fn()>);
    fn pvg_hv_remove_handler();
    fn pvg_hv_vp_index(cpu: u32) -> u32;
    fn pvg_hv_c_vmbus_active() -> bool;
}

/// `rdmsr` that fails instead of faulting.
pub(crate) fn rdmsr(m: u32) -> Result<u64> {
    let mut v = 0u64;
    // SAFETY: the helper uses the kernel's exception-table protected `rdmsrq_safe`.
    match unsafe { pvg_rdmsr_safe(m, &mut v) } {
        0 => Ok(v),
        _ => Err(EIO),
    }
}

/// `wrmsr` that fails instead of faulting.
pub(crate) fn wrmsr(m: u32, v: u64) -> Result {
    // SAFETY: as `rdmsr`, with `wrmsrq_safe`.
    match unsafe { pvg_wrmsr_safe(m, v) } {
        0 => Ok(()),
        _ => Err(EIO),
    }
}

/// The Hyper-V backend's state, published while the backend is active.
pub(crate) struct HyperV {
    /// Per-CPU hypercall input pages.
    inputs: KVec<HostPage>,
    synic: SynicPages,
    /// We installed our own hypercall page (and must remove it).
    own_page: bool,
    /// We wrote the guest OS id (and clear it again).
    own_guest_id: bool,
    has_time_ref_count: bool,
    handler_installed: AtomicBool,
    busy_logged: AtomicBool,
}

static HV: AtomicPtr<HyperV> = AtomicPtr::new(core::ptr::null_mut());

fn with_hv<R>(f: impl FnOnce(&HyperV) -> Result<R>) -> Result<R> {
    let _guard = kernel::sync::rcu::read_lock();
    let p = HV.load(Ordering::Acquire);
    if p.is_null() {
        return Err(ENODEV);
    }
    // SAFETY: `HV` points to the live state from `start` until `stop` clears it and waits
    // for an RCU grace period before freeing it; we hold the RCU read lock.
    f(unsafe { &*p })
}

impl HyperV {
    /// Sets the backend up: hypercall page and per-CPU pages. `det` said Hyper-V is usable.
    pub(crate) fn start(det: &hcall_abi::cpuid::Detection) -> Result {
        let hv_info = det.hyperv.as_ref().ok_or(ENODEV)?;
        let cpus = shim::num_possible_cpus();
        let mut inputs = KVec::new();
        for _ in 0..cpus {
            inputs.push(HostPage::new()?, GFP_KERNEL)?;
        }
        // SAFETY: plain read of a kernel global through the helper.
        let kernel_page = unsafe { pvg_hv_kernel_page() };
        let (mut own_page, mut own_guest_id) = (false, false);
        if !kernel_page {
            if rdmsr(msr::GUEST_OS_ID)? == 0 {
                let (a, b, c) = crate::kernel_version();
                wrmsr(msr::GUEST_OS_ID, msr::linux_guest_id(a, b, c))?;
                own_guest_id = true;
            }
            // SAFETY: returns the PFN of a page of this module's text.
            let pfn = unsafe { pvg_hv_own_page_pfn() };
            let value = HypercallMsr::enabled_at(pfn).and_then(|m| m.to_raw()).map_err(|_| EINVAL)?;
            wrmsr(msr::HYPERCALL, value)?;
            if !HypercallMsr::from_raw(rdmsr(msr::HYPERCALL)?).enable {
                pr_err!("hyperv: the hypervisor did not enable our hypercall page\n");
                return Err(EIO);
            }
            own_page = true;
        }
        let state = KBox::new(
            HyperV {
                inputs,
                synic: SynicPages::new(cpus)?,
                own_page,
                own_guest_id,
                has_time_ref_count: hv_info.has_time_ref_count(),
                handler_installed: AtomicBool::new(false),
                busy_logged: AtomicBool::new(false),
            },
            GFP_KERNEL,
        )?;
        HV.store(KBox::into_raw(state), Ordering::Release);
        pr_info!(
            "hyperv: using {} hypercall page\n",
            if own_page { "our own" } else { "the kernel's" }
        );
        Ok(())
    }

    /// Undoes `start` (module unload).
    pub(crate) fn stop() {
        let p = HV.swap(core::ptr::null_mut(), Ordering::AcqRel);
        if p.is_null() {
            return;
        }
        kernel::sync::rcu::synchronize_rcu();
        // SAFETY: `p` came from `KBox::into_raw` in `start`; no reader remains after the grace
        // period.
        let state = unsafe { KBox::from_raw(p) };
        if state.handler_installed.load(Ordering::Acquire) {
            // SAFETY: removes the handler we installed.
            unsafe { pvg_hv_remove_handler() };
        }
        for cpu in 0..shim::num_possible_cpus() {
            if let Some(p) = state.synic.vp(cpu) {
                if p.enabled.load(Ordering::Acquire) && shim::cpu_online(cpu) {
                    let _ = shim::run_on(cpu, &mut || {
                        for sint in 0..synic::SINT_COUNT as u32 {
                            let _ = wrmsr(msr::SINT0 + sint, SintMsr::MASKED_BIT);
                        }
                        let _ = wrmsr(msr::SCONTROL, 0);
                        let _ = wrmsr(msr::SIMP, 0);
                        let _ = wrmsr(msr::SIEFP, 0);
                    });
                }
            }
        }
        if state.own_page {
            let _ = wrmsr(msr::HYPERCALL, 0);
        }
        if state.own_guest_id {
            let _ = wrmsr(msr::GUEST_OS_ID, 0);
        }
    }

    fn call(&self, control: u64, input: u64, output: u64) -> u64 {
        if self.own_page {
            // SAFETY: our hypercall page is installed (checked at start) and stays until stop.
            unsafe { pvg_hv_own_hypercall(control, input, output) }
        } else {
            // SAFETY: the kernel's hypercall page is set up.
            unsafe { pvg_hv_kernel_hypercall(control, input, output) }
        }
    }

    fn c_vmbus_owns_synic(&self) -> bool {
        // SAFETY: reads a kernel global through the helper.
        let active = unsafe { pvg_hv_c_vmbus_active() };
        if active && !self.busy_logged.swap(true, Ordering::Relaxed) {
            pr_err!("hyperv: the kernel's hv_vmbus driver owns the SynIC and the VMBus interrupt; refusing to take them over\n");
        }
        active
    }
}

impl HvTransport for HyperV {
    fn slow(&self, build: &mut dyn FnMut(&mut [u8]) -> Result<HypercallInput>) -> Result<u64> {
        let _irqs = shim::IrqsOff::new();
        let cpu = kernel::cpu::CpuId::current().as_u32();
        let page = self.inputs.get(cpu as usize).ok_or(EINVAL)?;
        // SAFETY: with interrupts off this CPU is the only user of its input page; the
        // hypervisor reads it only during the calls below.
        let input = build(unsafe { core::slice::from_raw_parts_mut(page.as_ptr(), 4096) })?;
        run_reps(input, |control| Ok(self.call(control, page.phys(), 0)))
    }

    fn fast(&self, input: HypercallInput, rdx: u64, r8: u64) -> Result<u64> {
        Ok(self.call(input.encode().map_err(|_| EINVAL)?, rdx, r8))
    }
}

/// HYPERVISOR_CALLBACK_VECTOR handler (installed with `hv_setup_vmbus_handler`): runs on the
/// interrupted CPU, which is the VP the SynIC interrupt is for.
unsafe extern "C" fn hv_isr() {
    let cpu = kernel::cpu::CpuId::current().as_u32();
    let _ = with_hv(|hv| {
        synic::on_interrupt(&hv.synic, cpu, &|_| {
            let _ = wrmsr(msr::EOM, 0);
        });
        Ok(())
    });
    ops::dispatch_synic(cpu);
}

impl Backend for HyperV {
    const ID: u32 = crate::pvg_hcall_api::backend::HYPERV;
    const NAME: &'static CStr = c"hyperv";

    fn post_message(connection_id: u32, message_type: u32, payload: &[u8]) -> Result {
        with_hv(|h| hvcalls::post_message(h, connection_id, message_type, payload))
    }

    fn signal_event(connection_id: u32, flag: u16) -> Result {
        with_hv(|h| hvcalls::signal_event(h, connection_id, flag))
    }

    fn flush_tlb(space: u64, flags: u64, vps: &[u64], start: u64, end: u64) -> Result {
        with_hv(|h| hvcalls::flush_tlb(h, space, flags, vps, start, end))
    }

    fn send_ipi(vector: u32, vps: &[u64]) -> Result {
        with_hv(|h| hvcalls::send_ipi(h, vector, vps))
    }

    fn notify_long_spin_wait(count: u32) -> Result {
        with_hv(|h| hvcalls::notify_long_spin_wait(h, count))
    }

    fn reference_time() -> Result<u64> {
        with_hv(|h| if h.has_time_ref_count { rdmsr(msr::TIME_REF_COUNT) } else { Err(EOPNOTSUPP) })
    }

    fn synic_enable(cpu: u32, sint: u32) -> Result {
        with_hv(|h| {
            if h.c_vmbus_owns_synic() {
                return Err(EBUSY);
            }
            let p = h.synic.vp(cpu).ok_or(EINVAL)?;
            if sint as usize >= synic::SINT_COUNT || !shim::cpu_online(cpu) {
                return Err(EINVAL);
            }
            if !h.handler_installed.swap(true, Ordering::AcqRel) {
                // SAFETY: `hv_isr` stays valid until `stop` removes it.
                unsafe { pvg_hv_set_handler(Some(hv_isr)) };
            }
            let (simp, siefp) = (p.message.phys(), p.events.phys());
            let mut rc = Ok(());
            shim::run_on(cpu, &mut || {
                rc = (|| {
                    if !p.enabled.load(Ordering::Acquire) {
                        wrmsr(msr::SIMP, (simp & !0xfff) | 1)?;
                        wrmsr(msr::SIEFP, (siefp & !0xfff) | 1)?;
                        wrmsr(msr::SCONTROL, 1)?;
                    }
                    let value = SintMsr::unmasked(0xf3, false).and_then(|m| m.to_raw()).map_err(|_| EINVAL)?;
                    wrmsr(msr::SINT0 + sint, value)
                })();
            })?;
            rc?;
            p.enabled.store(true, Ordering::Release);
            p.sints.fetch_or(1 << sint, Ordering::AcqRel);
            Ok(())
        })
    }

    fn synic_disable(cpu: u32, sint: u32) -> Result {
        with_hv(|h| {
            let p = h.synic.vp(cpu).ok_or(EINVAL)?;
            if sint as usize >= synic::SINT_COUNT {
                return Err(EINVAL);
            }
            p.sints.fetch_and(!(1 << sint), Ordering::AcqRel);
            let mut rc = Ok(());
            shim::run_on(cpu, &mut || rc = wrmsr(msr::SINT0 + sint, SintMsr::MASKED_BIT))?;
            rc
        })
    }

    fn message_page(cpu: u32) -> *mut c_void {
        with_hv(|h| Ok(h.synic.vp(cpu).filter(|p| p.enabled.load(Ordering::Acquire)).map(|p| p.message.as_ptr().cast())))
            .ok()
            .flatten()
            .unwrap_or(core::ptr::null_mut())
    }

    fn event_page(cpu: u32) -> *mut c_void {
        with_hv(|h| Ok(h.synic.vp(cpu).filter(|p| p.enabled.load(Ordering::Acquire)).map(|p| p.events.as_ptr().cast())))
            .ok()
            .flatten()
            .unwrap_or(core::ptr::null_mut())
    }

    fn eom(cpu: u32) -> Result {
        with_hv(|_| {
            if kernel::cpu::CpuId::current().as_u32() == cpu {
                return wrmsr(msr::EOM, 0);
            }
            let mut rc = Ok(());
            shim::run_on(cpu, &mut || rc = wrmsr(msr::EOM, 0))?;
            rc
        })
    }

    fn vp_count() -> u32 {
        shim::num_possible_cpus()
    }

    fn vp_index(cpu: u32) -> u32 {
        // SAFETY: reads the kernel's VP index table (bounds-checked in the helper).
        unsafe { pvg_hv_vp_index(cpu) }
    }

    fn ping() -> Result {
        Err(EOPNOTSUPP)
    }
}

pub(crate) static HYPERV_OPS: crate::pvg_hcall_api::PvgHcallOps = ops::table::<HyperV>();
