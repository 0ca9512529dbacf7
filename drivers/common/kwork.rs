// SPDX-License-Identifier: GPL-2.0-only
//! A work item embedded in its owner, time helpers and a log rate limit, shared by the VSC
//! modules (included by path; the C side is `kwork.c`, included by each module's shim).
//!
//! The work item is ours rather than `kernel::workqueue`'s because that one ties the item's
//! lifetime to an `Arc` it hands to the queue and offers no `cancel_work_sync`: a device must
//! know nothing is queued or running before it frees itself and before the module unloads.

use kernel::{
    bindings,
    prelude::*,
    time::{delay::fsleep, Delta, Instant, Monotonic},
    types::Opaque,
};

extern "C" {
    fn pvg_work_init(work: *mut bindings::work_struct, func: unsafe extern "C" fn(*mut bindings::work_struct));
    fn pvg_work_queue(work: *mut bindings::work_struct) -> bool;
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
            inner <- Opaque::ffi_init(move |slot| unsafe { pvg_work_init(slot, func) }),
        })
    }

    /// Queues the work unless it is already pending; true if it was queued now.
    pub(crate) fn queue(&self) -> bool {
        // SAFETY: `inner` is an initialised work item (type invariant) pinned in its owner.
        unsafe { pvg_work_queue(self.inner.get()) }
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
