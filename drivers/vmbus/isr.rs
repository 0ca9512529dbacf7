// SPDX-License-Identifier: GPL-2.0-only
//! The VMBus interrupt path (hard-IRQ context): the hypervisor's SynIC interrupt for a VP.
//!
//! - **Messages** (channel management: offers, responses, rescinds) arrive in the VP's SynIC
//!   message slot for SINT 2. The handler copies the message out (its size validated), frees
//!   the slot the TLFS way (clear, barrier, EOM if the pending flag is set) and queues it for
//!   the message worker, which parses it in process context.
//! - **Events** (a channel has data) arrive as bits in the VP's SynIC event-flags area for
//!   SINT 2, one bit per channel relid. The handler takes the bits atomically and schedules
//!   each open channel's BH work, which calls the VSC's callback.

use core::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

use kernel::prelude::*;
use kernel::sync::SpinLock;

use crate::channel::ChannelTable;
use crate::shim::IrqsOff;

/// SINT of VMBus messages and events (`VMBUS_MESSAGE_SINT`).
pub(crate) const VMBUS_SINT: usize = 2;
/// Size of a SynIC message slot and its header.
const SLOT: usize = 256;
const HEADER: usize = 16;
/// Largest message payload.
pub(crate) const MESSAGE_MAX: usize = 240;
/// Bytes of event flags per SINT.
const EVENT_AREA: usize = 256;
/// Messages the queue holds before new ones are dropped (and counted).
const QUEUE_CAPACITY: usize = 512;

/// One message copied out of the SynIC slot.
#[derive(Clone, Copy)]
pub(crate) struct RawMessage {
    /// SynIC message type (VMBus uses 1).
    pub(crate) message_type: u32,
    pub(crate) len: u8,
    pub(crate) data: [u8; MESSAGE_MAX],
}

impl RawMessage {
    pub(crate) fn payload(&self) -> &[u8] {
        &self.data[..usize::from(self.len).min(MESSAGE_MAX)]
    }
}

/// A bounded FIFO of messages from the ISR to the message worker.
pub(crate) struct MessageQueue {
    items: KVec<RawMessage>,
    head: usize,
    count: usize,
}

impl MessageQueue {
    pub(crate) fn new() -> Result<MessageQueue> {
        let mut items = KVec::with_capacity(QUEUE_CAPACITY, GFP_KERNEL)?;
        for _ in 0..QUEUE_CAPACITY {
            items.push(RawMessage { message_type: 0, len: 0, data: [0; MESSAGE_MAX] }, GFP_KERNEL)?;
        }
        Ok(MessageQueue { items, head: 0, count: 0 })
    }

    /// Appends; false when full.
    pub(crate) fn push(&mut self, m: &RawMessage) -> bool {
        if self.count == self.items.len() {
            return false;
        }
        let i = (self.head + self.count) % self.items.len();
        self.items[i] = *m;
        self.count += 1;
        true
    }

    /// Removes the oldest.
    pub(crate) fn pop(&mut self) -> Option<RawMessage> {
        if self.count == 0 {
            return None;
        }
        let m = self.items[self.head];
        self.head = (self.head + 1) % self.items.len();
        self.count -= 1;
        Some(m)
    }
}

/// Counters of the interrupt path (debugfs).
pub(crate) struct IsrStats {
    pub(crate) interrupts: AtomicU64,
    pub(crate) messages: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) malformed: AtomicU64,
    pub(crate) events: AtomicU64,
    pub(crate) unknown_relid: AtomicU64,
}

impl IsrStats {
    pub(crate) const fn new() -> IsrStats {
        IsrStats {
            interrupts: AtomicU64::new(0),
            messages: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
            events: AtomicU64::new(0),
            unknown_relid: AtomicU64::new(0),
        }
    }
}

/// What the handler needs from the core.
pub(crate) struct IsrContext<'a> {
    pub(crate) ops: &'a crate::pvg_hcall_api::PvgHcallOps,
    pub(crate) queue: &'a SpinLock<MessageQueue>,
    pub(crate) channels: &'a ChannelTable,
    pub(crate) stats: &'a IsrStats,
}

/// Handles the SynIC interrupt of `vp`. Returns whether messages were queued (the caller
/// then schedules the message worker).
pub(crate) fn handle(ctx: &IsrContext<'_>, vp: u32) -> bool {
    ctx.stats.interrupts.fetch_add(1, Ordering::Relaxed);
    let queued = take_message(ctx, vp);
    take_events(ctx, vp);
    queued
}

fn take_message(ctx: &IsrContext<'_>, vp: u32) -> bool {
    // SAFETY: the ops table may be called from any context.
    let page = unsafe { (ctx.ops.message_page)(vp) }.cast::<u8>();
    if page.is_null() {
        return false;
    }
    let mut queued = false;
    // The hypervisor refills the slot after EOM; take what is there (bounded: it cannot make
    // us loop forever, since each round needs a new EOM from us).
    for _ in 0..16 {
        // SAFETY: the message page is a live 4 KiB page owned by the adapter while the SynIC is
        // enabled; the slot for SINT 2 is inside it; the type word is 4-byte aligned.
        let slot = unsafe { page.add(VMBUS_SINT * SLOT) };
        // SAFETY: as above; AtomicU32 has the layout of u32 and the hypervisor writes it
        // concurrently.
        let ty = unsafe { AtomicU32::from_ptr(slot.cast()) };
        let message_type = ty.load(Ordering::Acquire);
        if message_type == 0 {
            break;
        }
        // SAFETY: header bytes 4 (size) and 5 (flags) of the slot.
        let (size, _) = unsafe { (slot.add(4).read_volatile(), slot.add(5).read_volatile()) };
        let mut m = RawMessage { message_type, len: size, data: [0; MESSAGE_MAX] };
        if usize::from(size) > MESSAGE_MAX {
            ctx.stats.malformed.fetch_add(1, Ordering::Relaxed);
            m.len = 0;
        } else {
            // SAFETY: the 240-byte payload area of the slot.
            unsafe { core::ptr::copy_nonoverlapping(slot.add(HEADER), m.data.as_mut_ptr(), MESSAGE_MAX) };
        }
        // Free the slot: clear the type, barrier, EOM if the hypervisor has more.
        ty.store(0, Ordering::Release);
        fence(Ordering::SeqCst);
        // SAFETY: the flags byte of the slot.
        let flags = unsafe { slot.add(5).read_volatile() };
        if flags & 1 != 0 {
            // SAFETY: table functions may be called from any context.
            let _ = unsafe { (ctx.ops.eom)(vp) };
        }
        if m.len == 0 && usize::from(size) > MESSAGE_MAX {
            continue;
        }
        ctx.stats.messages.fetch_add(1, Ordering::Relaxed);
        let ok = {
            let _irqs = IrqsOff::new();
            let mut q = ctx.queue.lock(); // released before `_irqs` (see conn.rs)
            q.push(&m)
        };
        if ok {
            queued = true;
        } else {
            ctx.stats.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
    queued
}

fn take_events(ctx: &IsrContext<'_>, vp: u32) {
    // SAFETY: the ops table may be called from any context.
    let page = unsafe { (ctx.ops.event_page)(vp) }.cast::<u8>();
    if page.is_null() {
        return;
    }
    for word in 0..EVENT_AREA / 8 {
        // SAFETY: the SINT 2 event area is 256 bytes inside the live 4 KiB page; each u64 word
        // is 8-byte aligned; the hypervisor sets bits concurrently, hence the atomic swap.
        let w = unsafe { AtomicU64::from_ptr(page.add(VMBUS_SINT * EVENT_AREA + word * 8).cast()) };
        if w.load(Ordering::Relaxed) == 0 {
            continue;
        }
        let mut bits = w.swap(0, Ordering::AcqRel);
        while bits != 0 {
            let bit = bits.trailing_zeros();
            bits &= bits - 1;
            let relid = (word as u32) * 64 + bit;
            ctx.stats.events.fetch_add(1, Ordering::Relaxed);
            if !ctx.channels.signal(relid) {
                ctx.stats.unknown_relid.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
