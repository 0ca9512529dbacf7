// SPDX-License-Identifier: GPL-2.0-only
//! Pages of kernel memory the hypervisor reads and writes by guest-physical address
//! (hypercall input pages, SynIC pages, the simulator's call slots).

use core::ptr::NonNull;

use kernel::prelude::*;

use crate::shim;

/// One 4 KiB page of kernel memory shared with the host (which reads and writes it by GPA).
///
/// # Invariants
///
/// `ptr` is a live, page-aligned, zero-initialised 4096-byte allocation from `KBox`, owned by
/// this object. The host may write it at any time: it is accessed only through raw pointers
/// and atomics, never through Rust references to its contents.
pub(crate) struct HostPage {
    ptr: NonNull<[u8; 4096]>,
    leak: bool,
}

#[repr(C, align(4096))]
struct PageBuf([u8; 4096]);

// SAFETY: the page is plain memory; all access is through raw pointers/atomics.
unsafe impl Send for HostPage {}
// SAFETY: as above.
unsafe impl Sync for HostPage {}

impl HostPage {
    pub(crate) fn new() -> Result<HostPage> {
        let b = KBox::new(PageBuf([0; 4096]), GFP_KERNEL)?;
        let raw = KBox::into_raw(b);
        // INVARIANT: a fresh, zeroed, 4096-aligned allocation we now own.
        Ok(HostPage { ptr: NonNull::new(raw.cast()).ok_or(ENOMEM)?, leak: false })
    }
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr().cast()
    }
    pub(crate) fn phys(&self) -> u64 {
        shim::virt_to_phys(self.as_ptr())
    }
    /// Never free this page (the host may still write it).
    pub(crate) fn leak(&mut self) {
        self.leak = true;
    }
}

impl Drop for HostPage {
    fn drop(&mut self) {
        if !self.leak {
            // SAFETY: `ptr` came from `KBox::into_raw` of a `PageBuf` (type invariant) and is
            // freed exactly once, here.
            drop(unsafe { KBox::from_raw(self.ptr.as_ptr().cast::<PageBuf>()) });
        }
    }
}
