// SPDX-License-Identifier: GPL-2.0-only
//! SynIC pages owned by the adapter (message and event-flag page per VP) and what the adapter
//! itself does when a SynIC interrupt arrives: serve its transport self-test, and drop (with one
//! log line) messages on SINTs nobody registered or with impossible sizes. Messages on SINTs a
//! consumer enabled (VMBus: SINT 2) are left for the consumer's handler.
//!
//! Message slot layout (TLFS `HV_MESSAGE`, `include/hyperv/hvgdk_mini.h` `struct hv_message`):
//! type u32 @0, payload size u8 @4, flags u8 @5 (bit 0 = message pending), reserved u16 @6,
//! sender u64 @8, payload (≤ 240 bytes) @16; 16 slots of 256 bytes, one per SINT.

use core::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU64, Ordering};

use kernel::prelude::*;

use crate::pages::HostPage;

pub(crate) use hcall_abi::synic::{MESSAGE_SIZE, PAYLOAD_BYTES as PAYLOAD_MAX, SINT_COUNT};
use hcall_abi::synic::{MESSAGE_FLAGS_OFFSET, MESSAGE_FLAG_PENDING as MSG_PENDING, PAYLOAD_SIZE_OFFSET};

/// One VP's SynIC pages.
pub(crate) struct VpPages {
    pub(crate) message: HostPage,
    pub(crate) events: HostPage,
    /// SIMP/SIEFP/SCONTROL are set up.
    pub(crate) enabled: AtomicBool,
    /// SINTs a consumer enabled (bit n = SINT n).
    pub(crate) sints: AtomicU32,
}

/// All VPs' SynIC pages.
pub(crate) struct SynicPages(KVec<VpPages>);

impl SynicPages {
    pub(crate) fn new(vps: u32) -> Result<SynicPages> {
        let mut v = KVec::new();
        for _ in 0..vps {
            v.push(
                VpPages { message: HostPage::new()?, events: HostPage::new()?, enabled: AtomicBool::new(false), sints: AtomicU32::new(0) },
                GFP_KERNEL,
            )?;
        }
        Ok(SynicPages(v))
    }

    pub(crate) fn vp(&self, vp: u32) -> Option<&VpPages> {
        self.0.get(vp as usize)
    }

    pub(crate) fn leak_all(&mut self) {
        for p in self.0.iter_mut() {
            p.message.leak();
            p.events.leak();
        }
    }
}

/// A view of one message slot.
struct MsgSlot(*mut u8);

impl MsgSlot {
    fn ty(&self) -> &AtomicU32 {
        // SAFETY: the slot is 256-byte aligned inside a live SynIC page; AtomicU32 has u32's
        // layout and the hypervisor writes the word concurrently.
        unsafe { AtomicU32::from_ptr(self.0.cast()) }
    }
    fn size_flags(&self) -> (u8, u8) {
        // SAFETY: two bytes of the header inside the slot; plain reads of shared bytes whose
        // values are validated by the caller.
        unsafe { (self.0.add(PAYLOAD_SIZE_OFFSET).read_volatile(), self.0.add(MESSAGE_FLAGS_OFFSET).read_volatile()) }
    }
    fn read_payload(&self, buf: &mut [u8; PAYLOAD_MAX]) {
        // SAFETY: the 240-byte payload after the 16-byte header of a 256-byte slot.
        unsafe { core::ptr::copy_nonoverlapping(self.0.add(hcall_abi::synic::HEADER_SIZE), buf.as_mut_ptr(), PAYLOAD_MAX) };
    }
}

fn slot(p: &VpPages, sint: usize) -> MsgSlot {
    // SAFETY: `sint < 16`, so the 256-byte slot is inside the 4 KiB page.
    MsgSlot(unsafe { p.message.as_ptr().add(sint * MESSAGE_SIZE) })
}

/// Frees a message slot the TLFS way: clear the type, full barrier, and if the hypervisor
/// flagged more messages pending, signal end-of-message so it delivers the next one.
fn consume(vp: u32, m: &MsgSlot, eom: &dyn Fn(u32)) {
    m.ty().store(0, Ordering::Release);
    fence(Ordering::SeqCst);
    if m.size_flags().1 & MSG_PENDING != 0 {
        eom(vp);
    }
}

/// The transport self-test's counters (see `selftest.rs`).
pub(crate) struct TestCounters {
    pub(crate) active: AtomicBool,
    pub(crate) received: AtomicU64,
    pub(crate) wrong_cpu: AtomicU64,
    pub(crate) bad_payload: AtomicU64,
}

pub(crate) static TEST: TestCounters = TestCounters {
    active: AtomicBool::new(false),
    received: AtomicU64::new(0),
    wrong_cpu: AtomicU64::new(0),
    bad_payload: AtomicU64::new(0),
};

/// Magic at the start of a self-test payload ("PVGT").
pub(crate) const TEST_MAGIC: u32 = u32::from_le_bytes(*b"PVGT");

static UNEXPECTED_LOGGED: AtomicBool = AtomicBool::new(false);
static MALFORMED_LOGGED: AtomicBool = AtomicBool::new(false);
/// Messages dropped because no one registered their SINT, or malformed.
pub(crate) static DROPPED: AtomicU64 = AtomicU64::new(0);

/// Handles the adapter's own business on a SynIC interrupt of `vp` (hard-IRQ context); `eom`
/// signals end-of-message on `vp` the backend's way.
pub(crate) fn on_interrupt(pages: &SynicPages, vp: u32, eom: &dyn Fn(u32)) {
    let Some(p) = pages.vp(vp) else { return };
    if !p.enabled.load(Ordering::Acquire) {
        return;
    }
    let consumer = p.sints.load(Ordering::Acquire);
    let test_sint = sim_proto::TEST_SINT as usize;
    for sint in 0..SINT_COUNT {
        let testing = sint == test_sint && TEST.active.load(Ordering::Acquire);
        if !testing && consumer & (1 << sint) != 0 {
            continue; // the consumer's handler reads this SINT
        }
        let m = slot(p, sint);
        let ty = m.ty().load(Ordering::Acquire);
        if ty == 0 {
            continue;
        }
        let (size, _) = m.size_flags();
        if size as usize > PAYLOAD_MAX {
            DROPPED.fetch_add(1, Ordering::Relaxed);
            if !MALFORMED_LOGGED.swap(true, Ordering::Relaxed) {
                pr_warn!("message of type {:#x} with payload size {} (> 240) on SINT {} of VP {}; dropped (logged once)\n", ty, size, sint, vp);
            }
        } else if testing && ty == sim_proto::TEST_MESSAGE_TYPE {
            let mut buf = [0u8; PAYLOAD_MAX];
            m.read_payload(&mut buf);
            let word = |i: usize| u32::from_le_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
            if size != 16 || word(0) != TEST_MAGIC || word(4) != vp || word(12) != word(4) ^ word(8) ^ TEST_MAGIC {
                TEST.bad_payload.fetch_add(1, Ordering::Relaxed);
            }
            if kernel::cpu::CpuId::current().as_u32() != vp {
                TEST.wrong_cpu.fetch_add(1, Ordering::Relaxed);
            }
            TEST.received.fetch_add(1, Ordering::Release);
        } else {
            DROPPED.fetch_add(1, Ordering::Relaxed);
            if !UNEXPECTED_LOGGED.swap(true, Ordering::Relaxed) {
                pr_warn!("message of type {:#x} on SINT {} of VP {}, which nobody registered; dropped (logged once)\n", ty, sint, vp);
            }
        }
        consume(vp, &m, eom);
    }
}
