// SPDX-License-Identifier: GPL-2.0-only
//! Safe wrappers over the CPU and memory helpers of `shim.c` (kernel static inlines and
//! macros: `cpumask_nth`, `virt_to_phys`, `ZERO_PAGE`) and the clock in nanoseconds. The
//! work item, deadlines and log limit are `drivers/common/kwork.rs` (`crate::work`).

use core::ffi::c_void;

use kernel::bindings;

extern "C" {
    fn pvg_stor_nr_cpu_ids() -> u32;
    fn pvg_stor_cpu_possible(cpu: u32) -> bool;
    fn pvg_stor_num_online_cpus() -> u32;
    fn pvg_stor_nth_online_cpu(n: u32) -> i32;
    fn pvg_stor_virt_to_phys(p: *const c_void) -> u64;
    fn pvg_stor_zero_page_pfn() -> u64;
}

/// `nr_cpu_ids`.
pub(crate) fn nr_cpu_ids() -> u32 {
    // SAFETY: reads a kernel global that is fixed after boot.
    unsafe { pvg_stor_nr_cpu_ids() }
}

/// `cpu_possible(cpu)` (false beyond `nr_cpu_ids`).
pub(crate) fn cpu_possible(cpu: u32) -> bool {
    // SAFETY: the helper bounds-checks `cpu`.
    unsafe { pvg_stor_cpu_possible(cpu) }
}

/// `num_online_cpus()`.
pub(crate) fn num_online_cpus() -> u32 {
    // SAFETY: reads the online mask's weight; any context.
    unsafe { pvg_stor_num_online_cpus() }
}

/// The `n`-th online CPU, if there are that many.
pub(crate) fn nth_online_cpu(n: u32) -> Option<u32> {
    // SAFETY: `cpumask_nth` bounds-checks `n` against the mask.
    u32::try_from(unsafe { pvg_stor_nth_online_cpu(n) }).ok()
}

/// Guest-physical address of kernel memory in the direct map (kmalloc memory, the requests'
/// PDUs). Meaningless, not unsafe, for other addresses.
pub(crate) fn virt_to_phys<T>(p: *const T) -> u64 {
    // SAFETY: `virt_to_phys` is arithmetic on the address.
    unsafe { pvg_stor_virt_to_phys(p.cast()) }
}

/// Page frame of the kernel's shared zero page.
pub(crate) fn zero_page_pfn() -> u64 {
    // SAFETY: `ZERO_PAGE(0)` is a static page.
    unsafe { pvg_stor_zero_page_pfn() }
}

/// The monotonic clock in nanoseconds (`ktime_get`), any context.
pub(crate) fn now_ns() -> u64 {
    // SAFETY: reads the monotonic clock; callable from any context.
    unsafe { bindings::ktime_get() as u64 }
}

