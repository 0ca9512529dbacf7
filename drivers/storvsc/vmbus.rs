// SPDX-License-Identifier: GPL-2.0-only
//! The VMBus API as this driver uses it: the shared safe types (`drivers/common/vmbus.rs`:
//! registration, device, channels) plus what only storage needs: single-range GPA-direct
//! packets (the data buffer of an SRB), a channel's sub-channel index and target CPU (one
//! blk-mq hardware queue per channel), and the "ring full" test of the submit path.

use kernel::{error::to_result, prelude::*};

use crate::pvg_vmbus_api::{pvg_vmbus_channel_index, pvg_vmbus_channel_target_cpu, pvg_vmbus_send_gpa, GpaRange};

#[path = "../common/vmbus.rs"]
mod common;
pub(crate) use common::*;

/// The errno meaning "the outbound ring is full, try later".
pub(crate) fn is_ring_full(e: Error) -> bool {
    e == EAGAIN
}

impl Channel {
    /// Sends `data` with one GPA-direct range: `len` bytes from `offset` into the first of
    /// `pfns` (4 KiB pages).
    pub(crate) fn send_gpa(&self, flags: u16, trans_id: u64, offset: u32, len: u32, pfns: &[u64], data: &[u8]) -> Result {
        let range = GpaRange {
            len,
            offset,
            pfns: pfns.as_ptr(),
            npfns: u32::try_from(pfns.len()).map_err(|_| EINVAL)?,
        };
        let dlen = u32::try_from(data.len()).map_err(|_| EINVAL)?;
        // SAFETY: live channel (`Channel`'s invariant); `range` (and the pfns it points to)
        // and `data` are valid during the call, which copies them into the ring.
        to_result(unsafe { pvg_vmbus_send_gpa(self.as_ptr(), flags, trans_id, &range, 1, data.as_ptr(), dlen) })
    }

    /// The sub-channel index (0 for the primary).
    pub(crate) fn index(&self) -> u16 {
        // SAFETY: live channel (`Channel`'s invariant).
        unsafe { pvg_vmbus_channel_index(self.as_ptr()) }
    }

    /// The CPU the channel interrupts.
    pub(crate) fn target_cpu(&self) -> u32 {
        // SAFETY: live channel (`Channel`'s invariant).
        unsafe { pvg_vmbus_channel_target_cpu(self.as_ptr()) }
    }
}
