// SPDX-License-Identifier: GPL-2.0-only
//! Safe wrappers over the CPU, memory and work-item helpers of `shim.c` (kernel static
//! inlines and macros: `cpumask_nth`, `virt_to_phys`, `ZERO_PAGE`, `INIT_WORK`,
//! `queue_work`), and small time helpers.
//!
//! The work item is ours rather than `kernel::workqueue`'s because that one ties the item's
//! lifetime to an `Arc` it hands to the queue and offers no `cancel_work_sync`: a module must
//! know no rescan is queued or running before it frees its device and before it unloads.

use core::ffi::c_void;

use kernel::{
    bindings,
    prelude::*,
    time::{delay::fsleep, Delta, Instant, Monotonic},
    types::Opaque,
};

extern "C" {
    fn pvg_stor_nr_cpu_ids() -> u32;
    fn pvg_stor_cpu_possible(cpu: u32) -> bool;
    fn pvg_stor_num_online_cpus() -> u32;
    fn pvg_stor_nth_online_cpu(n: u32) -> i32;
    fn pvg_stor_virt_to_phys(p: *const c_void) -> u64;
    fn pvg_stor_zero_page_pfn() -> u64;
    fn pvg_stor_init_work(work: *mut bindings::work_struct, func: unsafe extern "C" fn(*mut bindings::work_struct));
    fn pvg_stor_queue_work(work: *mut bindings::work_struct) -> bool;
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

/// The monotonic clock, for deadlines.
pub(crate) fn now() -> Instant<Monotonic> {
    Instant::<Monotonic>::now()
}

/// Whether `ms` milliseconds have passed since `start`.
pub(crate) fn elapsed_ms(start: &Instant<Monotonic>, ms: u32) -> bool {
    start.elapsed().as_millis() >= i64::from(ms)
}

/// Sleeps about `ms` milliseconds (process context).
pub(crate) fn sleep_ms(ms: u32) {
    fsleep(Delta::from_millis(i64::from(ms)));
}

/// A `struct work_struct` embedded in a pinned owner, run on `system_dfl_long_wq`.
///
/// # Invariants
///
/// `inner` was initialised by `INIT_WORK` with the function given to [`Work::new`]. It is
/// cancelled (`cancel_work_sync`) before its memory goes away, so the function never runs
/// on freed memory or after the module unloaded.
#[repr(transparent)]
#[pin_data(PinnedDrop)]
pub(crate) struct Work {
    #[pin]
    inner: Opaque<bindings::work_struct>,
}

// SAFETY: a work_struct is used from any CPU through the workqueue API, which synchronises.
unsafe impl Send for Work {}
// SAFETY: as above; `&Work` only allows queueing and cancelling, both thread-safe.
unsafe impl Sync for Work {}

impl Work {
    /// A work item that runs `func` with a pointer to its `work_struct` (which, `Work` being
    /// `repr(transparent)`, is the address of the `Work` itself).
    pub(crate) fn new(func: unsafe extern "C" fn(*mut bindings::work_struct)) -> impl PinInit<Self> {
        pin_init!(Work {
            // SAFETY: `slot` is valid for writes and pinned; INIT_WORK initialises it fully.
            inner <- Opaque::ffi_init(move |slot| unsafe { pvg_stor_init_work(slot, func) }),
        })
    }

    /// Queues the work unless it is already pending; true if it was queued now.
    pub(crate) fn queue(&self) -> bool {
        // SAFETY: `inner` is an initialised work item (type invariant) pinned in its owner.
        unsafe { pvg_stor_queue_work(self.inner.get()) }
    }

    /// Cancels the work and waits for a running instance to finish (process context).
    pub(crate) fn cancel_sync(&self) {
        // SAFETY: as in `queue`.
        unsafe { bindings::cancel_work_sync(self.inner.get()) };
    }
}

#[pinned_drop]
impl PinnedDrop for Work {
    fn drop(self: Pin<&mut Self>) {
        // INVARIANT: never freed while queued or running.
        self.cancel_sync();
    }
}

/// A counter that says whether to log an event: the first 8, then one in 1024, so a hostile
/// host cannot flood the log.
#[derive(Default)]
pub(crate) struct LogLimit(core::sync::atomic::AtomicU32);

impl LogLimit {
    /// A fresh limit.
    pub(crate) const fn new() -> Self {
        LogLimit(core::sync::atomic::AtomicU32::new(0))
    }

    /// Counts one event; true when it should be logged.
    pub(crate) fn allow(&self) -> bool {
        let n = self.0.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        n < 8 || n % 1024 == 0
    }
}
