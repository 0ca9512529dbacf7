//! The virtual hypervisor: per-virtual-processor synthetic interrupt controller (SynIC) state,
//! the calls the guest makes through its slots (TLFS hypercalls and synthetic MSR accesses),
//! and delivery of SynIC messages and event flags into guest memory with TLFS semantics.
//!
//! What the guest announces (slot area, SIMP/SIEFP pages) is validated against guest RAM
//! before use; malformed calls get `HV_STATUS_*` errors, never a crash.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use sim_proto::{guest_state, slot_offset, slot_state, state_word, vector_for_vp, Op, Slot, SLOT_SIZE};
use zerocopy::FromBytes;

use crate::bar::Bar;
use crate::guestmem::GuestRam;

/// Synthetic MSRs (TLFS; `hcall_abi::msr`).
pub use hcall_abi::msr;
/// Hypercall status codes (`hcall_abi::status`).
pub use hcall_abi::status::Status;

use hcall_abi::synic::{
    EVENT_FLAGS_BYTES as EVENT_FLAGS_PER_SINT, HEADER_SIZE, MESSAGE_FLAGS_OFFSET, MESSAGE_FLAG_PENDING as MSG_PENDING,
    MESSAGE_SIZE, PAYLOAD_BYTES as MESSAGE_PAYLOAD, PAYLOAD_SIZE_OFFSET, SINT_COUNT,
};
/// SINT MSR: masked bit.
const SINT_MASKED: u64 = hcall_abi::msr::SintMsr::MASKED_BIT;
/// SIMP/SIEFP/SCONTROL enable bit.
const ENABLE: u64 = 1;
/// Messages queued per SINT before the host drops (and counts) more.
const QUEUE_LIMIT: usize = 1024;

/// What the VMBus host (or a test peer) does with the guest's hypercalls.
pub trait Partition: Send + Sync {
    /// HvPostMessage from VP `vp`.
    fn post_message(&self, vp: u32, connection_id: u32, message_type: u32, payload: &[u8]) -> Status;
    /// HvSignalEvent from VP `vp`.
    fn signal_event(&self, vp: u32, connection_id: u32, flag: u16) -> Status;
}

/// A message waiting for its SynIC slot.
#[derive(Clone)]
struct Queued {
    message_type: u32,
    payload: Vec<u8>,
}

#[derive(Default)]
struct VpState {
    scontrol: u64,
    simp: u64,
    siefp: u64,
    sint: [u64; SINT_COUNT],
    guest_os_id: u64,
    queues: [VecDeque<Queued>; SINT_COUNT],
}

impl VpState {
    fn new() -> VpState {
        VpState { sint: [SINT_MASKED; SINT_COUNT], ..VpState::default() }
    }
    fn simp_gpa(&self) -> Option<u64> {
        (self.simp & ENABLE != 0).then_some(self.simp & !0xfff)
    }
    fn siefp_gpa(&self) -> Option<u64> {
        (self.siefp & ENABLE != 0).then_some(self.siefp & !0xfff)
    }
    fn sint_live(&self, sint: usize) -> bool {
        self.scontrol & ENABLE != 0 && self.sint.get(sint).is_some_and(|s| s & SINT_MASKED == 0)
    }
}

/// Counters, for the log and the tests.
#[derive(Default)]
pub struct Stats {
    /// Slot calls served.
    pub calls: AtomicU64,
    /// Doorbells that found no request (spurious, or a call the guest abandoned).
    pub spurious: AtomicU64,
    /// Calls dropped because the guest rewrote the slot while the host read it.
    pub torn: AtomicU64,
    /// Messages delivered into SynIC slots.
    pub delivered: AtomicU64,
    /// Messages that had to wait in a queue.
    pub queued: AtomicU64,
    /// Messages dropped (queue full, SINT not set up).
    pub dropped: AtomicU64,
    /// Interrupts raised.
    pub interrupts: AtomicU64,
    /// Event signals taken from the guest's signal page.
    pub page_signals: AtomicU64,
    /// Of those, signals for connections nobody has (dropped, as HvSignalEvent would fail).
    pub bad_signals: AtomicU64,
}

/// Raises guest interrupts (the ivshmem connection, or a recorder in tests).
pub trait Interrupts: Send + Sync {
    /// Raises MSI-X `vector`.
    fn raise(&self, vector: u16);
}

/// The virtual hypervisor of one guest.
pub struct Hypervisor {
    ram: Arc<GuestRam>,
    bar: Arc<Bar>,
    max_vps: u32,
    vps: Vec<Mutex<VpState>>,
    partition: RwLock<Option<Arc<dyn Partition>>>,
    irq: RwLock<Option<Arc<dyn Interrupts>>>,
    /// Counters.
    pub stats: Stats,
    /// Print every call (`--trace`).
    pub trace: std::sync::atomic::AtomicBool,
    /// While set, calls are not answered (a stalled host, for tests).
    pub stalled: std::sync::atomic::AtomicBool,
    /// Start of the partition's reference time.
    started: std::time::Instant,
}

impl Hypervisor {
    /// A hypervisor for up to `max_vps` processors of the guest whose RAM is `ram`.
    pub fn new(ram: Arc<GuestRam>, bar: Arc<Bar>, max_vps: u32) -> Hypervisor {
        Hypervisor {
            ram,
            bar,
            max_vps,
            vps: (0..max_vps).map(|_| Mutex::new(VpState::new())).collect(),
            partition: RwLock::new(None),
            irq: RwLock::new(None),
            stats: Stats::default(),
            trace: std::sync::atomic::AtomicBool::new(false),
            stalled: std::sync::atomic::AtomicBool::new(false),
            started: std::time::Instant::now(),
        }
    }

    /// Guest RAM.
    pub fn ram(&self) -> &Arc<GuestRam> {
        &self.ram
    }

    /// Installs the partition (VMBus host) that receives hypercalls.
    pub fn set_partition(&self, p: Arc<dyn Partition>) {
        *self.partition.write().unwrap_or_else(|e| e.into_inner()) = Some(p);
    }

    /// Connects the interrupt sink (a new QEMU connection) or disconnects it.
    pub fn set_interrupts(&self, irq: Option<Arc<dyn Interrupts>>) {
        *self.irq.write().unwrap_or_else(|e| e.into_inner()) = irq;
    }

    /// Forgets all per-VP state (the guest went away or detached): nothing is written to
    /// memory it announced before.
    pub fn reset(&self) {
        for vp in &self.vps {
            *vp.lock().unwrap_or_else(|e| e.into_inner()) = VpState::new();
        }
    }

    fn raise(&self, vector: u16) {
        if let Some(irq) = self.irq.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
            self.stats.interrupts.fetch_add(1, Ordering::Relaxed);
            irq.raise(vector);
        }
    }

    /// The guest rang the doorbell of `vp`: take the signals in its signal page, then serve
    /// the call in `vp`'s slot.
    pub fn doorbell(&self, vp: u32) {
        if self.stalled.load(Ordering::Acquire) {
            return;
        }
        let g = self.bar.guest();
        if g.state != guest_state::ACTIVE || vp >= g.vps || g.vps > self.max_vps || g.slots_gpa % SLOT_SIZE as u64 != 0 {
            self.stats.spurious.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let signals = match self.drain_signals(vp, g.signal_pfn) {
            Ok(n) => n,
            Err(e) => {
                eprintln!("pvg-host: vp {vp}: signal page {:#x}: {e}", u64::from(g.signal_pfn) << 12);
                0
            }
        };
        let Some(gpa) = g.slots_gpa.checked_add(u64::from(vp) * SLOT_SIZE as u64) else { return };
        match self.serve_slot(vp, gpa) {
            Ok(true) => {
                self.stats.calls.fetch_add(1, Ordering::Relaxed);
            }
            Ok(false) if signals > 0 => {}
            Ok(false) => {
                self.stats.spurious.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => eprintln!("pvg-host: vp {vp}: slot at {gpa:#x}: {e}"),
        }
    }

    /// Takes every signal set in the guest's signal page (see `sim_proto::signal_page`) and
    /// hands each to the partition as an HvSignalEvent from `vp`. Returns how many it took.
    /// The page's GPA comes from the guest: it must lie in guest RAM.
    fn drain_signals(&self, vp: u32, pfn: u32) -> Result<u64, crate::guestmem::OutOfRange> {
        use sim_proto::signal_page;
        if pfn == 0 {
            return Ok(0);
        }
        let page = u64::from(pfn) << 12;
        let summary = self.ram.atomic_u64(page + signal_page::SUMMARY as u64)?;
        if summary.load(Ordering::Acquire) == 0 {
            return Ok(0);
        }
        let groups = summary.swap(0, Ordering::AcqRel);
        let partition = self.partition.read().unwrap_or_else(|e| e.into_inner()).clone();
        let mut n = 0u64;
        for w in signal_page::words_of(groups) {
            let Some(off) = signal_page::word_offset(w) else { continue };
            let word = self.ram.atomic_u64(page + off as u64)?;
            if word.load(Ordering::Relaxed) == 0 {
                continue;
            }
            for id in signal_page::ids_of(w, word.swap(0, Ordering::AcqRel)) {
                n += 1;
                let st = partition.as_ref().map_or(Status::InvalidConnectionId, |p| p.signal_event(vp, id, 0));
                if st != Status::Success {
                    self.stats.bad_signals.fetch_add(1, Ordering::Relaxed);
                }
                if self.trace.load(Ordering::Relaxed) {
                    eprintln!("pvg-host: vp {vp} signal page: connection {id:#x} -> {st:?}");
                }
            }
        }
        self.stats.page_signals.fetch_add(n, Ordering::Relaxed);
        Ok(n)
    }

    fn serve_slot(&self, vp: u32, gpa: u64) -> Result<bool, crate::guestmem::OutOfRange> {
        let ram = &self.ram;
        let state = ram.load_u32(gpa + slot_offset::STATE as u64)?;
        if state != slot_state::REQUEST {
            if self.trace.load(Ordering::Relaxed) {
                eprintln!("pvg-host: vp {vp}: doorbell but slot state is {state}");
            }
            return Ok(false);
        }
        let mut raw = [0u8; SLOT_SIZE];
        ram.read(gpa, &mut raw)?;
        let Ok(slot) = Slot::read_from_bytes(&raw[..]) else { return Ok(false) };
        let (result, value) = match Op::from_u32(slot.op) {
            Some(Op::Nop) => (0, 0),
            Some(Op::Kick) => match u16::try_from(slot.args[0]) {
                Ok(v) if u32::from(v) < sim_proto::vectors_for(self.max_vps) => {
                    self.raise(v);
                    (0, 0)
                }
                _ => (u64::from(Status::InvalidParameter.code()), 0),
            },
            Some(Op::WriteMsr) => (u64::from(self.write_msr(vp, slot.args[0] as u32, slot.args[1]).code()), 0),
            Some(Op::ReadMsr) => match self.read_msr(vp, slot.args[0] as u32) {
                Some(v) => (0, v),
                None => (u64::from(Status::InvalidParameter.code()), 0),
            },
            Some(Op::Hypercall) => (self.hypercall(vp, slot.args[0], slot.args[1], slot.args[2]), 0),
            None => (u64::from(Status::InvalidHypercallCode.code()), 0),
        };
        ram.write(gpa + slot_offset::RESULT as u64, &result.to_le_bytes())?;
        ram.write(gpa + slot_offset::VALUE as u64, &value.to_le_bytes())?;
        ram.store_u32(gpa + slot_offset::DONE_SEQ as u64, slot.seq)?;
        if self.trace.load(Ordering::Relaxed) {
            eprintln!("pvg-host: vp {vp} seq {} op {} args {:x?} -> result {result:#x} value {value:#x}", slot.seq, slot.op, slot.args);
        }
        // Complete only the call we served: a guest that gave up on it and published another
        // (new seq) keeps its new request.
        let word = ram.atomic_u64(gpa + slot_offset::STATE as u64)?;
        let from = state_word(slot.seq, slot_state::REQUEST);
        if word.compare_exchange(from, state_word(slot.seq, slot_state::DONE), Ordering::AcqRel, Ordering::Acquire).is_err() {
            self.stats.torn.fetch_add(1, Ordering::Relaxed);
        }
        Ok(true)
    }

    fn vp(&self, vp: u32) -> Option<std::sync::MutexGuard<'_, VpState>> {
        self.vps.get(vp as usize).map(|m| m.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn page_ok(&self, value: u64) -> bool {
        value & ENABLE == 0 || self.ram.layout().offset(value & !0xfff, 4096).is_some()
    }

    /// A synthetic MSR write by VP `vp`. Returns an HV status (not success where hardware
    /// would raise #GP).
    pub fn write_msr(&self, vp: u32, msr: u32, value: u64) -> Status {
        let Some(mut st) = self.vp(vp) else { return Status::InvalidParameter };
        match msr {
            msr::GUEST_OS_ID => st.guest_os_id = value,
            msr::SCONTROL => st.scontrol = value & ENABLE,
            msr::SIMP | msr::SIEFP => {
                if !self.page_ok(value) {
                    return Status::InvalidParameter;
                }
                if msr == msr::SIMP {
                    st.simp = value & (!0xfff | ENABLE);
                } else {
                    st.siefp = value & (!0xfff | ENABLE);
                }
            }
            msr::EOM => {
                drop(st);
                self.eom(vp);
            }
            msr::SINT0..=msr::SINT15 => {
                if hcall_abi::msr::SintMsr::check_write(value).is_err() {
                    return Status::InvalidParameter;
                }
                st.sint[(msr - msr::SINT0) as usize] = value;
                drop(st);
                // Unmasking may let queued messages through.
                self.eom(vp);
            }
            _ => return Status::InvalidParameter,
        }
        Status::Success
    }

    /// A synthetic MSR read by VP `vp`.
    pub fn read_msr(&self, vp: u32, msr: u32) -> Option<u64> {
        let st = self.vp(vp)?;
        Some(match msr {
            msr::GUEST_OS_ID => st.guest_os_id,
            msr::VP_INDEX => u64::from(vp),
            msr::SCONTROL => st.scontrol,
            msr::SVERSION => msr::SYNIC_VERSION_1,
            msr::TIME_REF_COUNT => (self.started.elapsed().as_nanos() / 100) as u64,
            msr::SIMP => st.simp,
            msr::SIEFP => st.siefp,
            msr::SINT0..=msr::SINT15 => st.sint[(msr - msr::SINT0) as usize],
            _ => return None,
        })
    }

    /// A TLFS hypercall; returns the TLFS result value. Decoding and validation are the
    /// `hcall_abi` crate's (`parse_call`), as a real hypervisor would do them.
    fn hypercall(&self, vp: u32, control: u64, in1: u64, in2: u64) -> u64 {
        use hcall_abi::hypercall::{parse_call, GuestCall, InputBlock};
        use hcall_abi::tlfs::HypercallInput;
        let status = |s: Status| u64::from(s.code());
        let input = match HypercallInput::decode(control) {
            Ok(i) => i,
            Err(e) => return status(e.status()),
        };
        let mut page = [0u8; 4096];
        let block = if input.fast {
            InputBlock::Fast { rdx: in1, r8: in2 }
        } else {
            // The input block lies in one page starting at the (8-byte aligned) input GPA.
            if in1 % 8 != 0 {
                return status(Status::InvalidAlignment);
            }
            let len = 4096 - (in1 % 4096) as usize;
            if self.ram.read(in1, &mut page[..len]).is_err() {
                return status(Status::InvalidParameter);
            }
            InputBlock::Memory(&page[..len])
        };
        let call = match parse_call(&input, block) {
            Ok(c) => c,
            Err(e) => return status(e.status()),
        };
        let partition = self.partition.read().unwrap_or_else(|e| e.into_inner()).clone();
        match call {
            GuestCall::PostMessage(m) => status(match partition {
                Some(p) => p.post_message(vp, m.connection_id, m.message_type, m.payload),
                None => Status::InvalidConnectionId,
            }),
            GuestCall::SignalEvent(e) => status(match partition {
                Some(p) => p.signal_event(vp, e.connection_id, e.flag_number),
                None => Status::InvalidConnectionId,
            }),
            // No TLBs here: a valid flush completes at once, all its reps done.
            GuestCall::Flush(_) => hcall_abi::tlfs::rep_result(Status::Success, input.rep_count).unwrap_or(0),
            GuestCall::NotifyLongSpinWait { .. } => status(Status::Success),
            // The simulator cannot raise arbitrary APIC vectors in the guest.
            GuestCall::SendIpi(_) => status(Status::InvalidHypercallCode),
        }
    }

    /// Posts a SynIC message to `sint` of `vp`: into its slot if free (and an interrupt),
    /// else queued with the slot's pending flag set, as the TLFS describes.
    pub fn post_to_guest(&self, vp: u32, sint: usize, message_type: u32, payload: &[u8]) -> bool {
        if payload.len() > MESSAGE_PAYLOAD || sint >= SINT_COUNT {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        let Some(mut st) = self.vp(vp) else { return false };
        let q = Queued { message_type, payload: payload.to_vec() };
        if st.queues[sint].is_empty() && self.try_deliver(&st, vp, sint, &q) {
            return true;
        }
        if st.queues[sint].len() >= QUEUE_LIMIT {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        st.queues[sint].push_back(q);
        self.stats.queued.fetch_add(1, Ordering::Relaxed);
        self.set_pending_and_retry(&mut st, vp, sint);
        true
    }

    /// Writes `q` into the slot if the SINT is live and the slot is free.
    fn try_deliver(&self, st: &VpState, vp: u32, sint: usize, q: &Queued) -> bool {
        let Some(simp) = st.simp_gpa() else { return false };
        if !st.sint_live(sint) {
            return false;
        }
        let slot = simp + (sint * MESSAGE_SIZE) as u64;
        match self.ram.load_u32(slot) {
            Ok(0) => {}
            _ => return false,
        }
        let mut msg = [0u8; MESSAGE_SIZE];
        msg[PAYLOAD_SIZE_OFFSET] = q.payload.len() as u8;
        msg[HEADER_SIZE..HEADER_SIZE + q.payload.len()].copy_from_slice(&q.payload);
        // Everything but the type first; the type last (release) publishes the message.
        if self.ram.write(slot + 4, &msg[4..]).is_err() || self.ram.store_u32(slot, q.message_type).is_err() {
            return false;
        }
        self.stats.delivered.fetch_add(1, Ordering::Relaxed);
        self.raise(vector_for_vp(vp));
        true
    }

    /// Sets the pending flag in the occupied slot, then re-checks it: the guest clears the
    /// type, fences and then reads the flag, so one of us sees the other's write.
    fn set_pending_and_retry(&self, st: &mut VpState, vp: u32, sint: usize) {
        let Some(simp) = st.simp_gpa() else { return };
        let slot = simp + (sint * MESSAGE_SIZE) as u64;
        if let Ok(word) = self.ram.atomic_u32(slot + 4) {
            // bytes 4..8: payload_size, message_flags, reserved.
            word.fetch_or(u32::from(MSG_PENDING) << (8 * (MESSAGE_FLAGS_OFFSET - 4)), Ordering::SeqCst);
        }
        std::sync::atomic::fence(Ordering::SeqCst);
        self.drain(st, vp, sint);
    }

    fn drain(&self, st: &mut VpState, vp: u32, sint: usize) {
        while let Some(q) = st.queues[sint].front().cloned() {
            if !self.try_deliver(st, vp, sint, &q) {
                break;
            }
            st.queues[sint].pop_front();
            if !st.queues[sint].is_empty() {
                // More waiting: flag the slot we just filled.
                if let Some(simp) = st.simp_gpa() {
                    if let Ok(word) = self.ram.atomic_u32(simp + (sint * MESSAGE_SIZE) as u64 + 4) {
                        word.fetch_or(u32::from(MSG_PENDING) << (8 * (MESSAGE_FLAGS_OFFSET - 4)), Ordering::SeqCst);
                    }
                }
                break;
            }
        }
    }

    /// End of message on `vp`: deliver whatever waits for a slot.
    pub fn eom(&self, vp: u32) {
        let Some(mut st) = self.vp(vp) else { return };
        for sint in 0..SINT_COUNT {
            if !st.queues[sint].is_empty() {
                self.drain(&mut st, vp, sint);
            }
        }
    }

    /// Sets event flag `flag` of `sint` in `vp`'s SIEFP page and interrupts it.
    pub fn signal_guest_event(&self, vp: u32, sint: usize, flag: u32) -> bool {
        let Some(st) = self.vp(vp) else { return false };
        let (Some(siefp), true) = (st.siefp_gpa(), st.sint_live(sint)) else { return false };
        if flag as usize >= EVENT_FLAGS_PER_SINT * 8 {
            return false;
        }
        let word = siefp + (sint * EVENT_FLAGS_PER_SINT) as u64 + u64::from(flag / 64) * 8;
        let Ok(a) = self.ram.atomic_u64(word) else { return false };
        a.fetch_or(1 << (flag % 64), Ordering::SeqCst);
        drop(st);
        self.raise(vector_for_vp(vp));
        true
    }

    /// Writes a raw message into `sint`'s slot of `vp` whatever the SINT's state and whatever
    /// `size` says (a buggy or hostile host, for tests), then interrupts the VP. Needs the
    /// VP's message page to be set up.
    pub fn post_raw(&self, vp: u32, sint: usize, message_type: u32, size: u8, payload: &[u8]) -> bool {
        let Some(st) = self.vp(vp) else { return false };
        let (Some(simp), true) = (st.simp_gpa(), sint < SINT_COUNT) else { return false };
        let slot = simp + (sint * MESSAGE_SIZE) as u64;
        let mut msg = [0u8; MESSAGE_SIZE];
        msg[PAYLOAD_SIZE_OFFSET] = size;
        let n = payload.len().min(MESSAGE_PAYLOAD);
        msg[HEADER_SIZE..HEADER_SIZE + n].copy_from_slice(&payload[..n]);
        if self.ram.write(slot + 4, &msg[4..]).is_err() || self.ram.store_u32(slot, message_type).is_err() {
            return false;
        }
        drop(st);
        self.raise(vector_for_vp(vp));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bar::GuestFields;
    use sim_proto::signal_page;

    /// Records the signals it gets; knows connections 0x1000..0x1010.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<(u32, u32)>>);

    impl Partition for Recorder {
        fn post_message(&self, _: u32, _: u32, _: u32, _: &[u8]) -> Status {
            Status::InvalidConnectionId
        }
        fn signal_event(&self, vp: u32, id: u32, _: u16) -> Status {
            self.0.lock().unwrap().push((vp, id));
            if (0x1000..0x1010).contains(&id) {
                Status::Success
            } else {
                Status::InvalidConnectionId
            }
        }
    }

    const SLOTS: u64 = 0x10000;
    const SIGNALS: u64 = 0x11000;

    fn setup(dir: &std::path::Path) -> (Hypervisor, Arc<Recorder>) {
        let ram = Arc::new(GuestRam::create(&dir.join("ram"), 1 << 20).unwrap());
        let (bar, _fd) = Bar::create(&sim_proto::BarHeader::new_host(2, 1 << 20, 1)).unwrap();
        bar.set_guest(GuestFields {
            slots_gpa: SLOTS,
            vps: 2,
            state: guest_state::ACTIVE,
            generation: 1,
            signal_pfn: (SIGNALS >> 12) as u32,
        });
        let hv = Hypervisor::new(ram, Arc::new(bar), 2);
        let rec = Arc::new(Recorder::default());
        hv.set_partition(rec.clone());
        (hv, rec)
    }

    /// What a guest does to signal `id`.
    fn guest_signal(ram: &GuestRam, id: u32) -> bool {
        let b = signal_page::bit(id).unwrap();
        ram.atomic_u64(SIGNALS + b.word_offset as u64).unwrap().fetch_or(b.mask, Ordering::SeqCst);
        ram.atomic_u64(SIGNALS).unwrap().fetch_or(b.summary_mask, Ordering::SeqCst) == 0
    }

    #[test]
    fn doorbell_takes_page_signals() {
        let dir = tempfile::tempdir().unwrap();
        let (hv, rec) = setup(dir.path());
        assert!(guest_signal(hv.ram(), 0x1003), "first signal rings");
        assert!(!guest_signal(hv.ram(), 0x1003), "a pending signal does not ring again");
        assert!(!guest_signal(hv.ram(), 0x1007));
        assert!(!guest_signal(hv.ram(), 7000), "unknown connection");
        hv.doorbell(1);
        let mut got = rec.0.lock().unwrap().clone();
        got.sort_unstable();
        assert_eq!(got, vec![(1, 0x1003), (1, 0x1007), (1, 7000)]);
        assert_eq!(hv.stats.page_signals.load(Ordering::Relaxed), 3);
        assert_eq!(hv.stats.bad_signals.load(Ordering::Relaxed), 1);
        assert_eq!(hv.stats.spurious.load(Ordering::Relaxed), 0, "a doorbell for signals only is not spurious");
        // The page is empty again, so the next signal rings.
        assert!(guest_signal(hv.ram(), 0x1001));
        hv.doorbell(0);
        assert_eq!(rec.0.lock().unwrap().len(), 4);
        hv.doorbell(0);
        assert_eq!(hv.stats.spurious.load(Ordering::Relaxed), 1, "nothing to do");
    }

    #[test]
    fn stalled_or_detached_host_leaves_the_page_alone() {
        let dir = tempfile::tempdir().unwrap();
        let (hv, rec) = setup(dir.path());
        guest_signal(hv.ram(), 0x1002);
        hv.stalled.store(true, Ordering::Release);
        hv.doorbell(0);
        assert!(rec.0.lock().unwrap().is_empty());
        hv.stalled.store(false, Ordering::Release);
        hv.bar.set_guest(GuestFields { slots_gpa: SLOTS, vps: 2, state: guest_state::GONE, generation: 1, signal_pfn: (SIGNALS >> 12) as u32 });
        hv.doorbell(0);
        assert!(rec.0.lock().unwrap().is_empty());
        assert_ne!(hv.ram().atomic_u64(SIGNALS).unwrap().load(Ordering::SeqCst), 0, "untouched");
    }

    #[test]
    fn garbage_summary_and_page_outside_ram() {
        let dir = tempfile::tempdir().unwrap();
        let (hv, rec) = setup(dir.path());
        // Every summary bit, no bitmap bits: nothing signalled, page swept.
        hv.ram().atomic_u64(SIGNALS).unwrap().store(u64::MAX, Ordering::SeqCst);
        hv.doorbell(0);
        assert!(rec.0.lock().unwrap().is_empty());
        assert_eq!(hv.ram().atomic_u64(SIGNALS).unwrap().load(Ordering::SeqCst), 0);
        // A signal page past the end of RAM: reported, nothing touched, no panic.
        hv.bar.set_guest(GuestFields { slots_gpa: SLOTS, vps: 2, state: guest_state::ACTIVE, generation: 1, signal_pfn: 0xfff_ffff });
        hv.doorbell(0);
        assert!(rec.0.lock().unwrap().is_empty());
    }
}
