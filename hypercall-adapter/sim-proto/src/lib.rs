// SPDX-License-Identifier: GPL-2.0-only
//! The host simulator's transport protocol: how the guest's "simulator" backend of the
//! hypercall adapter reaches the host simulator, which plays the Hyper-V hypervisor and parent
//! partition from outside QEMU.
//!
//! The simulator is a virtual Hyper-V reached through QEMU's `ivshmem-doorbell` PCI device
//! (vendor 1af4, device 1110) instead of the `vmcall` instruction:
//!
//! - **BAR2** (the ivshmem shared memory) holds a [`BarHeader`]: the host writes its half at
//!   start (magic, version, limits); the guest writes the guest-physical address of its
//!   [`Slot`] array and its state, then rings doorbell vector [`VECTOR_CONTROL`].
//! - **Slots** live in ordinary guest RAM (the host maps QEMU's RAM file), one 64-byte
//!   [`Slot`] per virtual processor. A call is: fill the slot, publish the 64-bit [`state
//!   word`](state_word) `(seq, REQUEST)` with a new `seq`, ring doorbell vector
//!   [`vector_for_vp`]`(vp)`, and wait (bounded) for `(seq, DONE)`. The host writes its result
//!   words and then completes with a compare-and-swap from `(seq, REQUEST)` to `(seq, DONE)`,
//!   so a late completion of a call the guest gave up on can never complete the next one.
//! - The calls are Hyper-V's own: [`Op::Hypercall`] carries a TLFS hypercall input value and
//!   input/output page GPAs (or fast-call registers) and returns a TLFS result value;
//!   [`Op::WriteMsr`]/[`Op::ReadMsr`] access the synthetic MSRs (SIMP, SIEFP, SINTx, SCONTROL,
//!   EOM, ...). The SynIC message and event-flag pages are guest pages at the GPAs written
//!   there, with the TLFS semantics (message slots, pending flag, EOM).
//! - **Interrupts** to the guest are the device's MSI-X vectors: vector `1 + vp` is the SynIC
//!   interrupt of virtual processor `vp`; vector 0 is for transport events.
//! - **Event signals** (HvSignalEvent with flag 0, how VMBus tells the host a ring has data)
//!   need no answer, so they do not wait for one: the guest sets the connection's bit in its
//!   [`signal_page`] (announced in [`BarHeader::signal_pfn`]) and rings its VP's doorbell only
//!   when no signal was pending; the host drains the page on every doorbell of any VP before
//!   serving that VP's slot. A real HvSignalEvent costs a guest a few hundred cycles; a
//!   synchronous doorbell round trip costs it the host's wake-up latency, which is what a
//!   fast path on Hyper-V would never pay. Signals to connections the page cannot hold (and
//!   flags other than 0) still go through a slot.
//!
//! Everything the guest writes is untrusted by the host and vice versa: [`BarHeader::check`]
//! and [`Slot`] accessors validate what they read.
#![cfg_attr(not(CONFIG_RUST), no_std)]
#![forbid(unsafe_code)]

use zerocopy_derive::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// PCI vendor id of QEMU's ivshmem devices (Red Hat, Inc.).
pub const IVSHMEM_VENDOR: u16 = 0x1af4;
/// PCI device id of ivshmem (plain and doorbell share it).
pub const IVSHMEM_DEVICE: u16 = 0x1110;
/// BAR0 register: the guest's own peer id (read-only).
pub const IVSHMEM_REG_IVPOSITION: usize = 8;
/// BAR0 register: write `(peer << 16) | vector` to signal that peer's vector.
pub const IVSHMEM_REG_DOORBELL: usize = 12;
/// The host simulator's ivshmem peer id (it is the server and peer 0; the guest is peer 1).
pub const HOST_PEER_ID: u16 = 0;
/// The guest's ivshmem peer id.
pub const GUEST_PEER_ID: u16 = 1;

/// Magic at the start of BAR2.
pub const MAGIC: [u8; 8] = *b"PVGSIM01";
/// Protocol version of this file (2: the signal page).
pub const VERSION: u32 = 2;
/// Size of the BAR2 shared memory the host creates (ivshmem wants a power of two).
pub const BAR_SIZE: usize = 4096;
/// Most virtual processors the transport serves (slots, vectors).
pub const MAX_VPS: u32 = 64;
/// Doorbell/MSI-X vector for transport events (guest state changes; host restarts).
pub const VECTOR_CONTROL: u16 = 0;

/// The doorbell (guest→host) and MSI-X (host→guest) vector that belongs to virtual
/// processor `vp`: its slot calls and its SynIC interrupts.
pub const fn vector_for_vp(vp: u32) -> u16 {
    vp.saturating_add(1) as u16
}

/// Inverse of [`vector_for_vp`]: the virtual processor of a vector, if it is one.
pub fn vp_for_vector(vector: u16, vps: u32) -> Option<u32> {
    let vp = u32::from(vector).checked_sub(1)?;
    (vp < vps).then_some(vp)
}

/// Number of vectors the host must offer for `vps` virtual processors.
pub const fn vectors_for(vps: u32) -> u32 {
    vps + 1
}

/// Guest states published in [`BarHeader::guest_state`].
pub mod guest_state {
    /// No guest driver attached.
    pub const ABSENT: u32 = 0;
    /// The guest driver is attached; `slots_gpa` and `vps` are valid.
    pub const ACTIVE: u32 = 1;
    /// The guest driver detached: stop touching guest memory it announced.
    pub const GONE: u32 = 2;
}

/// BAR2 layout. Host fields are written once by the host before the guest can see the device;
/// guest fields by the guest driver.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct BarHeader {
    /// [`MAGIC`].
    pub magic: [u8; 8],
    /// [`VERSION`].
    pub version: u32,
    /// Virtual processors the host serves (at most [`MAX_VPS`]).
    pub max_vps: u32,
    /// MSI-X vectors the host offers (`max_vps + 1`).
    pub vectors: u32,
    /// Incremented by the host each time it (re)starts; the guest re-announces itself when it
    /// changes.
    pub host_generation: u32,
    /// Guest RAM size the host maps, in bytes (for the guest's sanity checks).
    pub ram_size: u64,
    /// Guest: GPA of its `[Slot; vps]` array (64-byte aligned, within one page run).
    pub slots_gpa: u64,
    /// Guest: number of slots (virtual processors) it uses.
    pub vps: u32,
    /// Guest: one of [`guest_state`].
    pub guest_state: u32,
    /// Guest: the `host_generation` it attached to.
    pub guest_generation: u32,
    /// Guest: page frame number (GPA / 4096) of its [`signal_page`]; 0 for none (every
    /// signal is then a call).
    pub signal_pfn: u32,
}

/// Why a [`BarHeader`] is unusable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// The magic is not [`MAGIC`]: not our simulator (some other ivshmem user).
    NotSimulator,
    /// A protocol version this side does not speak.
    Version(u32),
    /// `max_vps`/`vectors` out of range or inconsistent.
    Limits,
    /// Guest fields inconsistent (slots not aligned, too many vps).
    GuestFields,
}

impl HeaderError {
    /// One-line description.
    pub fn as_str(&self) -> &'static str {
        match self {
            HeaderError::NotSimulator => "not a pvguest host simulator (bad magic)",
            HeaderError::Version(_) => "unsupported simulator protocol version",
            HeaderError::Limits => "simulator limits out of range",
            HeaderError::GuestFields => "guest slot area invalid",
        }
    }
}

impl BarHeader {
    /// A host header for `max_vps` processors and `ram_size` bytes of guest RAM.
    pub fn new_host(max_vps: u32, ram_size: u64, generation: u32) -> BarHeader {
        BarHeader {
            magic: MAGIC,
            version: VERSION,
            max_vps,
            vectors: vectors_for(max_vps),
            host_generation: generation,
            ram_size,
            ..BarHeader::default()
        }
    }

    /// Validates the host half (the guest's view).
    pub fn check_host(&self) -> Result<(), HeaderError> {
        if self.magic != MAGIC {
            return Err(HeaderError::NotSimulator);
        }
        if self.version != VERSION {
            return Err(HeaderError::Version(self.version));
        }
        if self.max_vps == 0 || self.max_vps > MAX_VPS || self.vectors != vectors_for(self.max_vps) {
            return Err(HeaderError::Limits);
        }
        Ok(())
    }

    /// Validates the guest half (the host's view) and returns the byte range of the slots
    /// as (gpa, length).
    pub fn check_guest(&self) -> Result<(u64, u64), HeaderError> {
        if self.vps == 0 || self.vps > self.max_vps || self.slots_gpa % SLOT_SIZE as u64 != 0 {
            return Err(HeaderError::GuestFields);
        }
        let len = u64::from(self.vps) * SLOT_SIZE as u64;
        self.slots_gpa.checked_add(len).ok_or(HeaderError::GuestFields)?;
        Ok((self.slots_gpa, len))
    }
}

/// Byte offsets of [`BarHeader`] fields the guest writes through MMIO.
pub mod bar_offset {
    /// `signal_pfn`.
    pub const SIGNAL_PFN: usize = 52;
    /// `slots_gpa`.
    pub const SLOTS_GPA: usize = 32;
    /// `vps`.
    pub const VPS: usize = 40;
    /// `guest_state`.
    pub const GUEST_STATE: usize = 44;
    /// `guest_generation`.
    pub const GUEST_GENERATION: usize = 48;
    /// `host_generation`.
    pub const HOST_GENERATION: usize = 20;
}

/// Size of one [`Slot`].
pub const SLOT_SIZE: usize = 64;

/// Slot states ([`Slot::state`]).
pub mod slot_state {
    /// No call in progress (the guest may fill the slot).
    pub const IDLE: u32 = 0;
    /// The guest published a call; the host owns the slot until it writes DONE.
    pub const REQUEST: u32 = 1;
    /// The host finished the call whose `seq` it copied into `done_seq`.
    pub const DONE: u32 = 2;
}

/// One virtual processor's call slot (64 bytes, in guest RAM).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct Slot {
    /// One of [`slot_state`]; written last by the publisher (release), read first (acquire).
    pub state: u32,
    /// Guest: sequence number of this call (wrapping).
    pub seq: u32,
    /// Guest: the [`Op`] code.
    pub op: u32,
    /// Host: the `seq` of the call it completed.
    pub done_seq: u32,
    /// Guest: op arguments (see [`Op`]).
    pub args: [u64; 4],
    /// Host: the result (see [`Op`]).
    pub result: u64,
    /// Host: a second result word (MSR value for [`Op::ReadMsr`]).
    pub value: u64,
}

/// Byte offsets within a [`Slot`] (for atomic access to the words that synchronise).
pub mod slot_offset {
    /// `state` (u32).
    pub const STATE: usize = 0;
    /// `seq` (u32).
    pub const SEQ: usize = 4;
    /// `op` (u32).
    pub const OP: usize = 8;
    /// `done_seq` (u32).
    pub const DONE_SEQ: usize = 12;
    /// `args` (4 × u64).
    pub const ARGS: usize = 16;
    /// `result` (u64).
    pub const RESULT: usize = 48;
    /// `value` (u64).
    pub const VALUE: usize = 56;
}

/// The calls a slot carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Op {
    /// A TLFS hypercall. args: `[input value, input GPA or fast input 1, output GPA or fast
    /// input 2, 0]`; result: the TLFS result value (status in bits 15:0, reps completed in
    /// 43:32).
    Hypercall = 1,
    /// Write a synthetic MSR of this slot's VP. args: `[msr, value, 0, 0]`; result: 0, or
    /// an `HV_STATUS_*` code (e.g. invalid parameter) where hardware would inject #GP.
    WriteMsr = 2,
    /// Read a synthetic MSR of this slot's VP. args: `[msr, 0, 0, 0]`; result: 0 or status;
    /// `value`: the MSR's value.
    ReadMsr = 3,
    /// No operation (transport round-trip measurement). result 0.
    Nop = 4,
    /// Raise MSI-X vector `args[0]` in the guest once (lets the guest settle interrupt
    /// routing: x86 moves an MSI to its new CPU at its next interrupt). result 0, or
    /// invalid parameter for a vector the host does not offer.
    Kick = 5,
}

impl Op {
    /// Decodes an op code read from a slot.
    pub fn from_u32(v: u32) -> Option<Op> {
        match v {
            1 => Some(Op::Hypercall),
            2 => Some(Op::WriteMsr),
            3 => Some(Op::ReadMsr),
            4 => Some(Op::Nop),
            5 => Some(Op::Kick),
            _ => None,
        }
    }
}

/// Connection id of the transport self-test: the host echoes every message posted to it
/// back to the sending VP's [`TEST_SINT`] with message type [`TEST_MESSAGE_TYPE`].
pub const TEST_CONNECTION_ID: u32 = 0x7e57;
/// Message type of self-test messages (both directions).
pub const TEST_MESSAGE_TYPE: u32 = 0x7e57;
/// SINT the self-test echo arrives on (VMBus uses SINT 2).
pub const TEST_SINT: u32 = 3;

/// Result value the host writes for a malformed or unknown call (HV_STATUS_INVALID_PARAMETER,
/// `include/hyperv/hvgdk_mini.h`).
pub const RESULT_INVALID_PARAMETER: u64 = 0x5;
/// Result value for an unknown op or hypercall code (HV_STATUS_INVALID_HYPERCALL_CODE).
pub const RESULT_INVALID_HYPERCALL_CODE: u64 = 0x2;

/// The slot's first 8 bytes, `state` (low half) and `seq` (high half), as one little-endian
/// u64: the unit both sides publish and compare-and-swap.
pub fn state_word(seq: u32, state: u32) -> u64 {
    (u64::from(seq) << 32) | u64::from(state)
}

/// What the guest concludes from the state word of a slot it published with `seq`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Poll {
    /// Not done yet.
    Pending,
    /// Done: read `result`/`value` now (after the acquire load of the state word).
    Done,
    /// The word holds another sequence number: someone else (a buggy or hostile host)
    /// wrote the slot.
    WrongSeq(u32),
}

/// Interprets a state word read (with acquire ordering) from a slot published with `seq`.
pub fn poll(word: u64, seq: u32) -> Poll {
    let (wseq, state) = ((word >> 32) as u32, word as u32);
    if wseq != seq {
        return Poll::WrongSeq(wseq);
    }
    if state == slot_state::DONE {
        Poll::Done
    } else {
        Poll::Pending
    }
}

/// Converts between the GPA the guest uses and the offset in QEMU's RAM file for the `q35`
/// machine: RAM below the PCI hole is at GPA 0 (identity), the rest starts at 4 GiB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RamLayout {
    /// Bytes of RAM mapped below 4 GiB.
    pub below_4g: u64,
    /// Total bytes of RAM.
    pub total: u64,
}

/// Start of high RAM.
pub const FOUR_GIB: u64 = 1 << 32;

impl RamLayout {
    /// The layout QEMU's q35 machine uses for `total` bytes of RAM (with the default
    /// `max-ram-below-4g`): everything below 2.75 GiB stays low; larger RAM puts 2 GiB low.
    pub fn q35(total: u64) -> RamLayout {
        let below = if total >= 0xb000_0000 { 0x8000_0000 } else { total };
        RamLayout { below_4g: below, total }
    }

    /// The file offset of `len` bytes at `gpa`, if they lie entirely in RAM (and do not
    /// straddle the hole).
    pub fn offset(&self, gpa: u64, len: u64) -> Option<u64> {
        let end = gpa.checked_add(len)?;
        if end <= self.below_4g {
            return Some(gpa);
        }
        let high = self.total.checked_sub(self.below_4g)?;
        if gpa >= FOUR_GIB && end <= FOUR_GIB.checked_add(high)? {
            return (gpa - FOUR_GIB).checked_add(self.below_4g);
        }
        None
    }
}


/// The guest's signal page: one 4 KiB page of guest RAM holding a bitmap of connection ids
/// with a summary word over it, written by the guest with atomic ORs and drained by the host
/// with atomic swaps.
///
/// - bytes 0..8: the summary, bit `g` set when bitmap words `8g..8g+8` may have bits set;
/// - bytes 64..4096: [`WORDS`] little-endian 64-bit words, bit `id % 64` of word `id / 64`
///   for connection id `id` (< [`IDS`]).
///
/// Guest: set the id's bit, then OR the group's bit into the summary; ring the doorbell only
/// if the summary was 0 (otherwise a drain is already due). Host: swap the summary with 0,
/// then swap every word of each group it named with 0 and signal each id found. A bit set
/// after the host swapped its group's word is found by the next drain, which the guest's
/// summary update (then from 0) rings for.
pub mod signal_page {
    /// Byte offset of the summary word.
    pub const SUMMARY: usize = 0;
    /// Byte offset of the bitmap (its own cache lines, away from the summary).
    pub const BITMAP: usize = 64;
    /// Bitmap words.
    pub const WORDS: usize = (4096 - BITMAP) / 8;
    /// Bitmap words per summary bit.
    pub const WORDS_PER_GROUP: usize = 8;
    /// Connection ids the page can carry: `0..IDS`.
    pub const IDS: u32 = (WORDS * 64) as u32;

    /// Where the guest sets connection `id`'s signal.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Bit {
        /// Byte offset of the bitmap word in the page.
        pub word_offset: usize,
        /// The bit in that word.
        pub mask: u64,
        /// The summary bit of the word's group.
        pub summary_mask: u64,
    }

    /// The bit of connection `id`, or `None` when the page cannot carry it.
    pub fn bit(id: u32) -> Option<Bit> {
        if id >= IDS {
            return None;
        }
        let word = (id / 64) as usize;
        Some(Bit { word_offset: BITMAP + word * 8, mask: 1 << (id % 64), summary_mask: 1 << (word / WORDS_PER_GROUP) })
    }

    /// The bitmap words (indices) a summary value names, in order; bits past the bitmap
    /// (a guest writing garbage) name nothing.
    pub fn words_of(summary: u64) -> impl Iterator<Item = usize> {
        (0..64usize)
            .filter(move |g| summary & (1 << g) != 0)
            .flat_map(|g| g * WORDS_PER_GROUP..(g + 1) * WORDS_PER_GROUP)
            .filter(|&w| w < WORDS)
    }

    /// Byte offset of bitmap word `word` (< [`WORDS`]).
    pub fn word_offset(word: usize) -> Option<usize> {
        (word < WORDS).then_some(BITMAP + word * 8)
    }

    /// The connection ids set in bitmap word `word`'s value `bits`.
    pub fn ids_of(word: usize, bits: u64) -> impl Iterator<Item = u32> {
        (0..64u32).filter(move |b| bits & (1 << b) != 0).map(move |b| (word as u32) * 64 + b)
    }
}
