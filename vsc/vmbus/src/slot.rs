// SPDX-License-Identifier: GPL-2.0-only
//! Completion slots: the guest's side of "every request the host may complete is ended
//! exactly once". A VSC sends a request under a transaction id naming a slot and the slot's
//! current generation; the host echoes the id in its completion. Whoever ends the request
//! (the host's completion, a timeout, a teardown) must first win [`Slot::claim`] for that
//! generation, so a duplicate completion, one for an old generation or one racing a
//! timeout finds no match and is refused instead of ending someone else's request.
//!
//! Used by the storage VSC (one slot per blk-mq tag) and the network VSC (one per send slot).
//! Linux keeps the same state in `scsi_host_find_tag()`'s request and the VMBus request-id
//! table (`vmbus_next_request_id()` / `vmbus_request_addr()`).

use core::sync::atomic::{AtomicU64, Ordering};

/// The next generation (or control sequence) after `g`, skipping zero, so that no
/// transaction id built from one is zero (the host's own messages use id 0).
pub const fn next_generation(g: u32) -> u32 {
    match g.wrapping_add(1) {
        0 => 1,
        n => n,
    }
}

// ---------------------------------------------------------------------------------------
// Transaction ids naming a slot.

/// Bit 63 of a transaction id: a control request (sequence in the low 32 bits) rather than
/// a slot's request.
pub const TRANS_CONTROL: u64 = 1 << 63;
/// Queues a transaction id can name (15 bits).
pub const MAX_QUEUES: u32 = 1 << 15;
/// Slots per queue a transaction id can name (16 bits).
pub const MAX_SLOTS: u32 = 1 << 16;

/// What a transaction id the guest sent names: the layout both VSCs use.
///
/// Layout: a slot's request is `0 | queue:15 | slot:16 | generation:32`; a control request
/// is `1 | 0:31 | sequence:32`. Generations and sequences are never zero
/// ([`next_generation`]), so no id the guest sends is zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotId {
    /// A request sent under slot `slot` of queue `queue`.
    Slot {
        /// Queue (= channel index of the queue).
        queue: u16,
        /// Slot of the queue.
        slot: u16,
        /// Generation of the slot when the request was sent ([`Slot::issue`]).
        generation: u32,
    },
    /// A control request.
    Control {
        /// Sequence number.
        seq: u32,
    },
}

/// Why a transaction id from the host was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdError {
    /// Bits the guest never sets are set.
    ReservedBits,
    /// A generation or sequence of zero.
    ZeroGeneration,
    /// The queue is not one of the device's.
    Queue(u16),
    /// The slot is beyond the queue's slots.
    Slot(u16),
}

impl IdError {
    /// A short description for log lines.
    pub const fn as_str(&self) -> &'static str {
        match self {
            IdError::ReservedBits => "reserved bits set",
            IdError::ZeroGeneration => "generation zero",
            IdError::Queue(_) => "no such queue",
            IdError::Slot(_) => "slot beyond the queue's slots",
        }
    }
}

impl core::fmt::Display for IdError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl SlotId {
    /// The 64-bit id. Queue numbers above 15 bits are truncated; callers use queues below
    /// [`MAX_QUEUES`].
    pub const fn encode(self) -> u64 {
        match self {
            SlotId::Slot { queue, slot, generation } => {
                ((queue as u64 & 0x7fff) << 48) | ((slot as u64) << 32) | generation as u64
            }
            SlotId::Control { seq } => TRANS_CONTROL | seq as u64,
        }
    }

    /// Decodes an id the host echoed, for a device with `queues` queues of `slots` slots:
    /// only ids the guest could have sent are accepted.
    pub fn decode(id: u64, queues: u32, slots: u32) -> Result<SlotId, IdError> {
        let low = (id & 0xffff_ffff) as u32;
        if low == 0 {
            return Err(IdError::ZeroGeneration);
        }
        if id & TRANS_CONTROL != 0 {
            if (id & !TRANS_CONTROL) >> 32 != 0 {
                return Err(IdError::ReservedBits);
            }
            return Ok(SlotId::Control { seq: low });
        }
        let queue = ((id >> 48) & 0x7fff) as u16;
        let slot = ((id >> 32) & 0xffff) as u16;
        if u32::from(queue) >= queues {
            return Err(IdError::Queue(queue));
        }
        if u32::from(slot) >= slots {
            return Err(IdError::Slot(slot));
        }
        Ok(SlotId::Slot { queue, slot, generation: low })
    }
}

// ---------------------------------------------------------------------------------------
// Slots.

const SLOT_IDLE: u64 = 0;
const SLOT_INFLIGHT: u64 = 1;
const SLOT_CLAIMED: u64 = 2;

/// The slot was still in flight when it was issued again (a driver bug, not host input).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotBusy;

/// The in-flight state of one slot: which generation was sent under it and whether that
/// send has been ended.
///
/// Invariant: the word is `generation << 32 | state`, state one of idle, in flight, claimed;
/// only [`Slot::issue`] moves to in flight (under a new, non-zero generation) and only a
/// successful [`Slot::claim`] moves from in flight to claimed, so each issue is claimed at
/// most once.
#[derive(Debug, Default)]
pub struct Slot {
    word: AtomicU64,
}

impl Slot {
    /// An idle slot.
    pub const fn new() -> Self {
        Slot { word: AtomicU64::new(SLOT_IDLE) }
    }

    /// Marks the slot in flight under a new generation and returns it. The caller owns the
    /// slot (blk-mq gave it the tag, or it allocated the send slot) and has written
    /// everything a completion reads before this (the store is a release).
    pub fn issue(&self) -> Result<u32, SlotBusy> {
        let mut cur = self.word.load(Ordering::Acquire);
        loop {
            if cur & 0xff == SLOT_INFLIGHT {
                return Err(SlotBusy);
            }
            let generation = next_generation((cur >> 32) as u32);
            let new = (u64::from(generation) << 32) | SLOT_INFLIGHT;
            match self.word.compare_exchange_weak(cur, new, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(generation),
                Err(v) => cur = v,
            }
        }
    }

    /// Takes the send of `generation`: true exactly once per issue, for whoever comes first;
    /// false for a stale or repeated id. An acquire, so what the issuer wrote is seen.
    pub fn claim(&self, generation: u32) -> bool {
        let inflight = (u64::from(generation) << 32) | SLOT_INFLIGHT;
        let claimed = (u64::from(generation) << 32) | SLOT_CLAIMED;
        self.word.compare_exchange(inflight, claimed, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }

    /// Takes whatever generation is in flight (timeouts, teardown): its generation, or
    /// `None` if nothing is in flight or someone else took it first.
    pub fn claim_current(&self) -> Option<u32> {
        let g = self.inflight()?;
        if self.claim(g) {
            Some(g)
        } else {
            None
        }
    }

    /// The generation in flight, if any.
    pub fn inflight(&self) -> Option<u32> {
        let w = self.word.load(Ordering::Acquire);
        if w & 0xff == SLOT_INFLIGHT {
            Some((w >> 32) as u32)
        } else {
            None
        }
    }
}
