// SPDX-License-Identifier: GPL-2.0-only
//! The VMBus API as this driver uses it: the shared safe types (`drivers/common/vmbus.rs`:
//! registration, device, channels) plus what only a NIC needs: GPA-direct packets of several
//! ranges (page-list transmit), GPADLs over its send and receive buffers, and the channel's
//! interrupt mask for NAPI.

use kernel::{error::to_result, prelude::*};
use netvsc_proto::guest::{PageList, MAX_PAGE_RANGES};

use crate::pvg_vmbus_api::{
    pvg_vmbus_gpadl_create, pvg_vmbus_gpadl_teardown, pvg_vmbus_mask_interrupts, pvg_vmbus_send_gpa,
    pvg_vmbus_unmask_interrupts, GpaRange,
};

#[path = "../common/vmbus.rs"]
mod common;
pub(crate) use common::*;

impl Channel {
    /// Sends `data` with the GPA ranges of `pages` (at most [`MAX_PAGE_RANGES`]).
    pub(crate) fn send_pages(&self, flags: u16, trans_id: u64, pages: &PageList<'_>, data: &[u8]) -> Result {
        let mut ranges: [GpaRange; MAX_PAGE_RANGES] =
            core::array::from_fn(|_| GpaRange { len: 0, offset: 0, pfns: core::ptr::null(), npfns: 0 });
        let mut n = 0u32;
        for (dst, r) in ranges.iter_mut().zip(pages.ranges()) {
            let pfns = pages.pfns_of(r);
            *dst = GpaRange { len: r.len, offset: r.offset, pfns: pfns.as_ptr(), npfns: u32::try_from(pfns.len()).map_err(|_| EINVAL)? };
            n += 1;
        }
        if n == 0 {
            return Err(EINVAL);
        }
        let dlen = u32::try_from(data.len()).map_err(|_| EINVAL)?;
        // SAFETY: live channel (`Channel`'s invariant); `ranges` (and the page frames they
        // point to, borrowed from `pages`) and `data` are valid during the call, which copies
        // them into the ring.
        to_result(unsafe { pvg_vmbus_send_gpa(self.as_ptr(), flags, trans_id, ranges.as_ptr(), n, data.as_ptr(), dlen) })
    }

    /// Describes `len` bytes at `buf` (page aligned, vmalloc or direct-mapped) to the host;
    /// returns the GPADL handle.
    ///
    /// # Safety
    ///
    /// `buf` must be a live allocation of `len` bytes that stays allocated until the GPADL
    /// is torn down (or the host is known to have released it).
    pub(crate) unsafe fn gpadl_create(&self, buf: *mut u8, len: u32) -> Result<u32> {
        let mut handle = 0u32;
        // SAFETY: live channel (`Channel`'s invariant); `buf` holds `len` bytes (contract);
        // `handle` is writable.
        to_result(unsafe { pvg_vmbus_gpadl_create(self.as_ptr(), buf.cast(), len, &mut handle) })?;
        Ok(handle)
    }

    /// Tears down a GPADL this driver created on this channel; `Err` when the host did not
    /// confirm (its pages must then never be reused).
    pub(crate) fn gpadl_teardown(&self, handle: u32) -> Result {
        // SAFETY: live channel (`Channel`'s invariant).
        to_result(unsafe { pvg_vmbus_gpadl_teardown(self.as_ptr(), handle) })
    }

    /// The host stops signalling new inbound packets (NAPI polls).
    pub(crate) fn mask_interrupts(&self) -> Result {
        // SAFETY: live channel (`Channel`'s invariant).
        to_result(unsafe { pvg_vmbus_mask_interrupts(self.as_ptr()) })
    }

    /// The host signals again; `Ok(true)` when packets arrived meanwhile (poll again).
    pub(crate) fn unmask_interrupts(&self) -> Result<bool> {
        // SAFETY: live channel (`Channel`'s invariant).
        let rc = unsafe { pvg_vmbus_unmask_interrupts(self.as_ptr()) };
        to_result(rc.min(0))?;
        Ok(rc > 0)
    }
}
