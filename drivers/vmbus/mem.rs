// SPDX-License-Identifier: GPL-2.0-only
//! Memory the host reads and writes by guest-physical address: ring buffers, GPADL buffers,
//! monitor pages. Allocated virtually contiguous (vmalloc) and described to the host page by
//! page; accessed only through raw pointers and atomics, never Rust references to its
//! contents, because the host writes it concurrently.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicI64, Ordering};

use kernel::alloc::allocator::Vmalloc;
use kernel::alloc::Allocator;
use kernel::prelude::*;

extern "C" {
    fn pvg_vmbus_vmalloc_to_pfn(addr: *const u8) -> u64;
}

/// Objects alive now, for the leak report at unload.
pub(crate) struct Live {
    /// Channels.
    pub(crate) channels: AtomicI64,
    /// Shared buffers (rings, monitor pages).
    pub(crate) buffers: AtomicI64,
    /// Shared buffers deliberately leaked because the host may still write them.
    pub(crate) leaked: AtomicI64,
}

pub(crate) static LIVE: Live = Live { channels: AtomicI64::new(0), buffers: AtomicI64::new(0), leaked: AtomicI64::new(0) };

/// Counts one live object of a kind while it exists.
pub(crate) struct LiveToken(&'static AtomicI64);

impl LiveToken {
    pub(crate) fn new(counter: &'static AtomicI64) -> LiveToken {
        counter.fetch_add(1, Ordering::Relaxed);
        LiveToken(counter)
    }
}

impl Drop for LiveToken {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Page size of the VMBus protocol (and of x86).
pub(crate) const PAGE_SIZE: usize = 4096;

/// A zeroed, page-aligned, virtually contiguous buffer shared with the host.
///
/// # Invariants
///
/// `ptr` is a live `Vmalloc` allocation of `len` bytes (a non-zero multiple of `PAGE_SIZE`),
/// zeroed at creation and owned by this object. Unless `leaked`, it is freed in `Drop`.
pub(crate) struct SharedBuffer {
    ptr: NonNull<u8>,
    len: usize,
    leaked: bool,
}

// SAFETY: the buffer is plain memory accessed through raw pointers and atomics.
unsafe impl Send for SharedBuffer {}
// SAFETY: as above.
unsafe impl Sync for SharedBuffer {}

impl SharedBuffer {
    /// Allocates `len` bytes (rounded up to whole pages), zeroed.
    pub(crate) fn new(len: usize) -> Result<SharedBuffer> {
        let len = len.checked_next_multiple_of(PAGE_SIZE).filter(|l| *l > 0).ok_or(EINVAL)?;
        let layout = core::alloc::Layout::from_size_align(len, PAGE_SIZE).map_err(|_| EINVAL)?;
        let p = Vmalloc::alloc(layout, GFP_KERNEL | __GFP_ZERO, kernel::alloc::NumaNode::NO_NODE).map_err(|_| ENOMEM)?;
        LIVE.buffers.fetch_add(1, Ordering::Relaxed);
        // INVARIANT: a fresh zeroed vmalloc allocation of `len` bytes.
        Ok(SharedBuffer { ptr: p.cast(), len, leaked: false })
    }

    /// Start of the buffer.
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Number of pages.
    pub(crate) fn pages(&self) -> usize {
        self.len / PAGE_SIZE
    }

    /// The page frame number of page `i`.
    pub(crate) fn pfn(&self, i: usize) -> u64 {
        debug_assert!(i < self.pages());
        // SAFETY: page `i` lies inside the vmalloc allocation (callers pass `i < pages()`;
        // `min` keeps it so anyway), and `vmalloc_to_pfn` only walks the page tables.
        unsafe { pvg_vmbus_vmalloc_to_pfn(self.ptr.as_ptr().add(i.min(self.pages() - 1) * PAGE_SIZE)) }
    }

    /// Never free the buffer: the host may still write it (it did not confirm a teardown).
    pub(crate) fn leak(&mut self) {
        self.leaked = true;
    }
}

impl Drop for SharedBuffer {
    fn drop(&mut self) {
        LIVE.buffers.fetch_sub(1, Ordering::Relaxed);
        if self.leaked {
            LIVE.leaked.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let layout = core::alloc::Layout::from_size_align(self.len, PAGE_SIZE);
        if let Ok(layout) = layout {
            // SAFETY: `ptr` was allocated by `Vmalloc` with this layout (type invariant) and
            // is freed once, here.
            unsafe { Vmalloc::free(self.ptr.cast(), layout) };
        }
    }
}
