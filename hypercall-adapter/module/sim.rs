// SPDX-License-Identifier: GPL-2.0-only
//! The simulator backend: a virtual Hyper-V reached through QEMU's `ivshmem-doorbell` device
//! served by the pvguest host simulator (protocol: the `sim_proto` crate).
//!
//! Binds the ivshmem PCI device when its BAR2 carries the simulator's magic, allocates one
//! call slot per VP and the SynIC message/event pages in guest RAM, routes MSI-X vector `1+vp`
//! to CPU `vp`, and implements the neutral operations as TLFS hypercalls and synthetic-MSR
//! accesses carried by the slots. Every call is bounded by `sim_timeout_ms`: a host that does
//! not answer costs the caller `-ETIMEDOUT`, never a hang. Event signals (flag 0) are posted
//! in the signal page without waiting for the host (see `sim_proto::signal_page`).

use core::ffi::c_void;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering};

use kernel::{
    device::{Bound, Core},
    io::Io,
    irq, pci,
    prelude::*,
    sync::rcu,
};
use hcall_abi::tlfs::HypercallInput;
use sim_proto::{
    bar_offset, guest_state, poll, signal_page, slot_offset, slot_state, state_word, vector_for_vp, BarHeader, Op as SimOp,
    Poll, HOST_PEER_ID, IVSHMEM_REG_DOORBELL, SLOT_SIZE, VECTOR_CONTROL,
};

use crate::hvcalls::{self, run_reps, HvTransport};
use crate::ops::{self, Backend};
use crate::pages::HostPage;
use crate::shim;
use crate::synic::{self, SynicPages};

/// Hyper-V values the simulator backend speaks, all from the `hcall_abi` crate.
mod hv {
    pub(super) use hcall_abi::msr::{EOM as MSR_EOM, SCONTROL as MSR_SCONTROL, SIEFP as MSR_SIEFP, SIMP as MSR_SIMP};
    pub(super) use hcall_abi::msr::{SINT0 as MSR_SINT0, TIME_REF_COUNT as MSR_TIME_REF_COUNT};
    /// SINT MSR masked bit (`HV_SYNIC_SINT_MASKED`).
    pub(super) const SINT_MASKED: u64 = hcall_abi::msr::SintMsr::MASKED_BIT;
    /// The vector a SINT asks for; the simulator delivers through MSI-X instead, but the
    /// value must be valid as on Hyper-V. Linux's HYPERVISOR_CALLBACK_VECTOR.
    pub(super) const CALLBACK_VECTOR: u64 = 0xf3;
}

/// Maps a Hyper-V status code to a kernel error (the kernel's `hv_result_to_errno`).
pub(crate) fn hv_status_to_result(status: u16) -> Result {
    match hcall_abi::status::Status::from_code(status).to_errno() {
        0 => Ok(()),
        e => Err(Error::from_errno(e)),
    }
}

/// Call timeout in milliseconds (module parameter `sim_timeout_ms`, read at probe).
static TIMEOUT_NS: AtomicU64 = AtomicU64::new(1_000_000_000);

pub(crate) fn set_timeout_ms(ms: u64) {
    TIMEOUT_NS.store(ms.saturating_mul(1_000_000), Ordering::Relaxed);
}

/// State shared between the ops, the interrupt handlers and the PCI device.
pub(crate) struct SimState<'b> {
    /// BAR0: the ivshmem registers (the doorbell).
    bar0: pci::Bar<'b, 16>,
    /// The call slots, one per VP, in one page.
    slots: HostPage,
    /// The signal page (`sim_proto::signal_page`): written only with atomic ORs by us and
    /// swaps by the host.
    signals: HostPage,
    /// The host was told where `signals` is (its frame number fits the header field).
    signals_announced: AtomicBool,
    /// Per-VP: a lock word (the slot is used with local interrupts off by one CPU at a time),
    /// the next sequence number, and the hypercall input page.
    locks: KVec<AtomicU32>,
    seqs: KVec<AtomicU32>,
    /// A call on this slot timed out and no call on it has succeeded since: the host may
    /// still write its result words.
    dirty: KVec<AtomicBool>,
    inputs: KVec<HostPage>,
    /// SynIC pages and per-SINT state.
    pub(crate) synic: SynicPages,
    vps: u32,
    /// Set when the host misbehaved in a way that leaves shared pages at risk (a slot still
    /// dirty at unbind, a failed SynIC teardown): those pages are leaked, not freed.
    host_unreliable: AtomicBool,
    timeout_logged: AtomicBool,
}

// SAFETY: the BAR mapping may be used from any CPU (MMIO writes); everything else is atomics
// or memory shared only through raw pointers.
unsafe impl Send for SimState<'_> {}
// SAFETY: as above.
unsafe impl Sync for SimState<'_> {}

/// The bound simulator, published for the ops and interrupt handlers (RCU-protected: cleared
/// and followed by `synchronize_rcu()` before the state is freed). Its lifetime parameter is
/// erased here; it is only dereferenced while published.
static SIM: AtomicPtr<c_void> = AtomicPtr::new(core::ptr::null_mut());

/// Runs `f` on the bound simulator state, or fails with `ENODEV`.
fn with_sim<R>(f: impl for<'x> FnOnce(&'x SimState<'x>) -> Result<R>) -> Result<R> {
    let _guard = rcu::read_lock();
    let p = SIM.load(Ordering::Acquire);
    if p.is_null() {
        return Err(ENODEV);
    }
    // SAFETY: a non-null `SIM` points to a live `SimState` whose device is bound; it is only
    // freed after `SIM` is cleared and an RCU grace period has passed, and we hold the RCU
    // read lock for the whole use.
    f(unsafe { &*p.cast::<SimState<'_>>() })
}

fn now_ns() -> u64 {
    // SAFETY: reads the monotonic clock; any context.
    unsafe { kernel::bindings::ktime_get() as u64 }
}

impl SimState<'_> {
    /// The slot the current CPU uses for calls that are not about a particular VP (CPUs
    /// beyond the host's VP count share slots). Call with interrupts off.
    fn current_vp(&self) -> u32 {
        kernel::cpu::CpuId::current().as_u32().checked_rem(self.vps).unwrap_or(0)
    }

    fn slot_word(&self, vp: u32, off: usize) -> *mut u8 {
        // `vp < self.vps <= 64` so the slot is inside the page.
        // SAFETY: in bounds of the slots page (64 slots of 64 bytes).
        unsafe { self.slots.as_ptr().add(vp as usize * SLOT_SIZE + off) }
    }

    /// Runs `f` with `vp`'s slot (and input page) held: interrupts off on this CPU, so no
    /// handler nests here, and the slot's lock word taken, so another CPU sharing the slot
    /// waits (bounded by the call timeout of whoever holds it).
    fn with_slot<R>(&self, vp: u32, f: impl FnOnce(&HeldSlot<'_, '_>) -> Result<R>) -> Result<R> {
        if vp >= self.vps {
            return Err(EINVAL);
        }
        let i = vp as usize;
        let _irqs = shim::IrqsOff::new();
        while self.locks[i].compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed).is_err() {
            core::hint::spin_loop();
        }
        let r = f(&HeldSlot { s: self, vp });
        self.locks[i].store(0, Ordering::Release);
        r
    }

    /// One call through `vp`'s slot.
    pub(crate) fn call(&self, vp: u32, op: SimOp, args: [u64; 4]) -> Result<(u64, u64)> {
        self.with_slot(vp, |h| h.call(op, args))
    }

    fn call_locked(&self, vp: u32, op: SimOp, args: [u64; 4]) -> Result<(u64, u64)> {
        let r = self.call_unchecked(vp, op, args);
        self.dirty[vp as usize].store(r.is_err(), Ordering::Relaxed);
        r
    }

    fn call_unchecked(&self, vp: u32, op: SimOp, args: [u64; 4]) -> Result<(u64, u64)> {
        let seq = self.seqs[vp as usize].fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        // SAFETY: the slot belongs to us while we hold its lock and its state is not REQUEST
        // (the host only writes a slot in REQUEST state); these are plain stores to our
        // memory before the release below publishes them.
        unsafe {
            self.slot_word(vp, slot_offset::OP).cast::<u32>().write_volatile(op as u32);
            let a = self.slot_word(vp, slot_offset::ARGS).cast::<u64>();
            for (k, v) in args.iter().enumerate() {
                a.add(k).write_volatile(*v);
            }
        }
        // SAFETY: the state word is 8-byte aligned shared memory; AtomicU64 has u64's layout.
        let word = unsafe { AtomicU64::from_ptr(self.slot_word(vp, slot_offset::STATE).cast()) };
        word.store(state_word(seq, slot_state::REQUEST), Ordering::Release);
        self.ring(vector_for_vp(vp));
        let start = now_ns();
        let timeout = TIMEOUT_NS.load(Ordering::Relaxed);
        loop {
            match poll(word.load(Ordering::Acquire), seq) {
                Poll::Done => break,
                Poll::Pending => {}
                Poll::WrongSeq(other) => {
                    pr_err!("sim: host wrote slot {} with sequence {} (expected {}); call failed\n", vp, other, seq);
                    return Err(EIO);
                }
            }
            if now_ns().wrapping_sub(start) > timeout {
                if !self.timeout_logged.swap(true, Ordering::Relaxed) {
                    pr_err!(
                        "sim: the host did not answer a call (op {}) within {} ms; failing it with -ETIMEDOUT (logged once)\n",
                        op as u32,
                        timeout / 1_000_000
                    );
                }
                return Err(ETIMEDOUT);
            }
            core::hint::spin_loop();
        }
        // SAFETY: after observing DONE for our seq (acquire), the host has finished writing
        // the result words and will not touch the slot until we publish another request.
        let (result, value) = unsafe {
            (
                self.slot_word(vp, slot_offset::RESULT).cast::<u64>().read_volatile(),
                self.slot_word(vp, slot_offset::VALUE).cast::<u64>().read_volatile(),
            )
        };
        Ok((result, value))
    }

    fn ring(&self, vector: u16) {
        let v = (u32::from(HOST_PEER_ID) << 16) | u32::from(vector);
        (&self.bar0).write32(v, IVSHMEM_REG_DOORBELL);
    }

    /// The 64-bit word at byte `offset` of the signal page, if it is an aligned word of it.
    fn signal_word(&self, offset: usize) -> Option<&AtomicU64> {
        if offset % 8 != 0 || offset > 4096 - 8 {
            return None;
        }
        // SAFETY: `offset` is 8-byte aligned and the word lies inside the page (checked
        // above), which lives as long as `self`; the host only touches it with atomics too,
        // and AtomicU64 has u64's layout.
        Some(unsafe { AtomicU64::from_ptr(self.signals.as_ptr().add(offset).cast()) })
    }

    /// HvSignalEvent without waiting: sets `id`'s bit in the signal page and rings this VP's
    /// doorbell if no signal was pending. `None` when the page cannot carry it (the caller
    /// makes the call instead).
    fn post_signal(&self, id: u32) -> Option<()> {
        if !self.signals_announced.load(Ordering::Acquire) {
            return None;
        }
        let bit = signal_page::bit(id)?;
        let summary = self.signal_word(signal_page::SUMMARY)?;
        self.signal_word(bit.word_offset)?.fetch_or(bit.mask, Ordering::SeqCst);
        if summary.fetch_or(bit.summary_mask, Ordering::SeqCst) == 0 {
            let _irqs = shim::IrqsOff::new();
            self.ring(vector_for_vp(self.current_vp()));
        }
        Some(())
    }

    /// Writes a synthetic MSR of `vp`.
    pub(crate) fn wrmsr(&self, vp: u32, msr: u64, value: u64) -> Result {
        let (st, _) = self.call(vp, SimOp::WriteMsr, [msr, value, 0, 0])?;
        hv_status_to_result(st as u16)
    }

    /// Reads a synthetic MSR of `vp`.
    pub(crate) fn rdmsr(&self, vp: u32, msr: u64) -> Result<u64> {
        let (st, v) = self.call(vp, SimOp::ReadMsr, [msr, 0, 0, 0])?;
        hv_status_to_result(st as u16)?;
        Ok(v)
    }

}

/// A slot held by [`SimState::with_slot`].
pub(crate) struct HeldSlot<'a, 'b> {
    s: &'a SimState<'b>,
    vp: u32,
}

impl HeldSlot<'_, '_> {
    fn call(&self, op: SimOp, args: [u64; 4]) -> Result<(u64, u64)> {
        self.s.call_locked(self.vp, op, args)
    }

    /// The slot's hypercall input page.
    fn input(&self) -> &HostPage {
        &self.s.inputs[self.vp as usize]
    }
}

impl HvTransport for SimState<'_> {
    fn slow(&self, build: &mut dyn FnMut(&mut [u8]) -> Result<HypercallInput>) -> Result<u64> {
        let _irqs = shim::IrqsOff::new();
        self.with_slot(self.current_vp(), |h| {
            let page = h.input();
            // SAFETY: the input page belongs to the held slot: no other CPU uses it until we
            // release the slot, and the host only reads it during the calls below.
            let input = build(unsafe { core::slice::from_raw_parts_mut(page.as_ptr(), 4096) })?;
            run_reps(input, |control| h.call(SimOp::Hypercall, [control, page.phys(), 0, 0]).map(|(r, _)| r))
        })
    }

    fn fast(&self, input: HypercallInput, rdx: u64, r8: u64) -> Result<u64> {
        let control = input.encode().map_err(|_| EINVAL)?;
        let _irqs = shim::IrqsOff::new();
        self.with_slot(self.current_vp(), |h| h.call(SimOp::Hypercall, [control, rdx, r8, 0]).map(|(r, _)| r))
    }
}

/// The simulator as a [`Backend`].
pub(crate) struct Sim;

impl Backend for Sim {
    const ID: u32 = crate::pvg_hcall_api::backend::SIM;
    const NAME: &'static CStr = c"sim";

    fn post_message(connection_id: u32, message_type: u32, payload: &[u8]) -> Result {
        with_sim(|s| hvcalls::post_message(s, connection_id, message_type, payload))
    }

    fn signal_event(connection_id: u32, flag: u16) -> Result {
        with_sim(|s| match flag {
            0 if s.post_signal(connection_id).is_some() => Ok(()),
            _ => hvcalls::signal_event(s, connection_id, flag),
        })
    }

    fn flush_tlb(space: u64, flags: u64, vps: &[u64], start: u64, end: u64) -> Result {
        // The simulator keeps no TLBs, but validates and answers the call like Hyper-V.
        with_sim(|s| hvcalls::flush_tlb(s, space, flags, vps, start, end))
    }

    fn send_ipi(_: u32, _: &[u64]) -> Result {
        // The simulator cannot inject arbitrary APIC vectors (only its MSI-X vectors).
        Err(EOPNOTSUPP)
    }

    fn notify_long_spin_wait(count: u32) -> Result {
        with_sim(|s| hvcalls::notify_long_spin_wait(s, count))
    }

    fn reference_time() -> Result<u64> {
        with_sim(|s| {
            let _irqs = shim::IrqsOff::new();
            let vp = s.current_vp();
            s.rdmsr(vp, u64::from(hv::MSR_TIME_REF_COUNT))
        })
    }

    fn synic_enable(vp: u32, sint: u32) -> Result {
        with_sim(|s| {
            let p = s.synic.vp(vp).ok_or(EINVAL)?;
            if sint as usize >= synic::SINT_COUNT {
                return Err(EINVAL);
            }
            if !p.enabled.load(Ordering::Acquire) {
                s.wrmsr(vp, u64::from(u64::from(hv::MSR_SIMP)), p.message.phys() | 1)?;
                s.wrmsr(vp, u64::from(u64::from(hv::MSR_SIEFP)), p.events.phys() | 1)?;
                s.wrmsr(vp, u64::from(u64::from(hv::MSR_SCONTROL)), 1)?;
                p.enabled.store(true, Ordering::Release);
            }
            s.wrmsr(vp, u64::from(hv::MSR_SINT0 + sint), hv::CALLBACK_VECTOR)?;
            p.sints.fetch_or(1 << sint, Ordering::AcqRel);
            Ok(())
        })
    }

    fn synic_disable(vp: u32, sint: u32) -> Result {
        with_sim(|s| {
            let p = s.synic.vp(vp).ok_or(EINVAL)?;
            if sint as usize >= synic::SINT_COUNT {
                return Err(EINVAL);
            }
            p.sints.fetch_and(!(1 << sint), Ordering::AcqRel);
            s.wrmsr(vp, u64::from(hv::MSR_SINT0 + sint), hv::SINT_MASKED)
        })
    }

    fn message_page(vp: u32) -> *mut c_void {
        with_sim(|s| Ok(s.synic.vp(vp).filter(|p| p.enabled.load(Ordering::Acquire)).map(|p| p.message.as_ptr().cast())))
            .ok()
            .flatten()
            .unwrap_or(core::ptr::null_mut())
    }

    fn event_page(vp: u32) -> *mut c_void {
        with_sim(|s| Ok(s.synic.vp(vp).filter(|p| p.enabled.load(Ordering::Acquire)).map(|p| p.events.as_ptr().cast())))
            .ok()
            .flatten()
            .unwrap_or(core::ptr::null_mut())
    }

    fn eom(vp: u32) -> Result {
        with_sim(|s| s.wrmsr(vp, u64::from(u64::from(hv::MSR_EOM)), 0))
    }

    fn vp_count() -> u32 {
        with_sim(|s| Ok(s.vps)).unwrap_or(0)
    }

    fn vp_index(cpu: u32) -> u32 {
        cpu
    }

    fn ping() -> Result {
        with_sim(|s| {
            let _irqs = shim::IrqsOff::new();
            let vp = s.current_vp();
            s.call(vp, SimOp::Nop, [0; 4]).map(|_| ())
        })
    }
}

pub(crate) static SIM_OPS: crate::pvg_hcall_api::PvgHcallOps = ops::table::<Sim>();

/// Whether a simulator device is bound (the backend is usable).
pub(crate) fn present() -> bool {
    !SIM.load(Ordering::Acquire).is_null()
}

/// Interrupt handler of vector `1 + vp`.
struct VpIrq {
    vp: u32,
    /// Interrupts seen (attach waits for the routing kick to arrive).
    count: AtomicU64,
}

impl irq::Handler for VpIrq {
    fn handle(&self) -> irq::IrqReturn {
        self.count.fetch_add(1, Ordering::Relaxed);
        let _guard = rcu::read_lock();
        let p = SIM.load(Ordering::Acquire);
        if !p.is_null() {
            // SAFETY: as in `with_sim` (RCU read lock held).
            let s = unsafe { &*p.cast::<SimState<'_>>() };
            synic::on_interrupt(&s.synic, self.vp, &|vp| {
                let _ = s.wrmsr(vp, u64::from(hv::MSR_EOM), 0);
            });
            ops::dispatch_synic(self.vp);
        }
        irq::IrqReturn::Handled
    }
}

/// Interrupt handler of the control vector.
struct ControlIrq;

impl irq::Handler for ControlIrq {
    fn handle(&self) -> irq::IrqReturn {
        pr_info!("sim: transport event from the host\n");
        irq::IrqReturn::Handled
    }
}

/// The MSI-X vectors and their handlers. Field order matters: handlers drop (free_irq) before
/// the vectors are freed.
#[pin_data]
struct Irqs<'b> {
    vp_irqs: KVec<Pin<KBox<irq::Registration<'b, VpIrq>>>>,
    control: Pin<KBox<irq::Registration<'b, ControlIrq>>>,
    vectors: pci::IrqVectorRegistration<'b>,
}

/// Per-device data while bound.
#[pin_data(PinnedDrop)]
pub(crate) struct SimDevice<'b> {
    #[pin]
    irqs: Irqs<'b>,
    state: KBox<SimState<'b>>,
    bar2: pci::Bar<'b, 4096>,
}

fn read_header(bar2: &pci::Bar<'_, 4096>) -> Result<BarHeader> {
    let mut h = BarHeader::default();
    let mut bytes = [0u8; core::mem::size_of::<BarHeader>()];
    for (i, chunk) in bytes.chunks_mut(4).enumerate() {
        let w = bar2.try_read32(i * 4)?;
        chunk.copy_from_slice(&w.to_le_bytes()[..chunk.len()]);
    }
    zerocopy::IntoBytes::as_mut_bytes(&mut h).copy_from_slice(&bytes);
    Ok(h)
}

impl<'b> SimDevice<'b> {
    fn new_state(bar0: pci::Bar<'b, 16>, vps: u32) -> Result<KBox<SimState<'b>>> {
        let mut locks = KVec::new();
        let mut seqs = KVec::new();
        let mut dirty = KVec::new();
        let mut inputs = KVec::new();
        for _ in 0..vps {
            locks.push(AtomicU32::new(0), GFP_KERNEL)?;
            dirty.push(AtomicBool::new(false), GFP_KERNEL)?;
            seqs.push(AtomicU32::new(0), GFP_KERNEL)?;
            inputs.push(HostPage::new()?, GFP_KERNEL)?;
        }
        Ok(KBox::new(
            SimState {
                bar0,
                slots: HostPage::new()?,
                signals: HostPage::new()?,
                signals_announced: AtomicBool::new(false),
                locks,
                seqs,
                dirty,
                inputs,
                synic: SynicPages::new(vps)?,
                vps,
                host_unreliable: AtomicBool::new(false),
                timeout_logged: AtomicBool::new(false),
            },
            GFP_KERNEL,
        )?)
    }
}

pub(crate) struct SimDriver;

kernel::pci_device_table!(
    PCI_TABLE,
    <SimDriver as pci::Driver>::IdInfo,
    [(pci::DeviceId::from_id(pci::Vendor::REDHAT_QUMRANET, sim_proto::IVSHMEM_DEVICE as u32), ())]
);

fn make_irqs<'b>(pdev: &'b pci::Device<Bound>, vps: u32) -> impl PinInit<Irqs<'b>, Error> + 'b {
    try_pin_init!(&this in Irqs {
        vectors: pdev.alloc_irq_vectors(vps + 1, vps + 1, pci::IrqTypes::default().with(pci::IrqType::MsiX))?,
        control: {
            // SAFETY: `vectors` is initialised (it precedes this field in this initializer),
            // pinned inside `Irqs` and dropped after `control` and `vp_irqs` (declaration
            // order), so the borrow lasts as long as the registrations that use it.
            let vectors: &'b pci::IrqVectorRegistration<'b> = unsafe { &*core::ptr::addr_of!((*this.as_ptr()).vectors) };
            let req: irq::IrqRequest<'b> = vectors.index(0)?.into();
            // SAFETY: the registration is stored in `Irqs` and dropped normally, never forgotten.
            KBox::pin_init(unsafe { irq::Registration::new(req, irq::Flags::TRIGGER_NONE, c"pvg_hcall-ctl", Ok::<_, Error>(ControlIrq)) }, GFP_KERNEL)?
        },
        vp_irqs: {
            // SAFETY: as above.
            let vectors: &'b pci::IrqVectorRegistration<'b> = unsafe { &*core::ptr::addr_of!((*this.as_ptr()).vectors) };
            let mut v = KVec::new();
            for vp in 0..vps {
                let req: irq::IrqRequest<'b> = vectors.index(usize::from(vector_for_vp(vp)))?.into();
                let irq_no = req.irq();
                // SAFETY: stored in `Irqs`, dropped normally.
                let reg = KBox::pin_init(unsafe { irq::Registration::new(req, irq::Flags::TRIGGER_NONE, c"pvg_hcall-vp", Ok::<_, Error>(VpIrq { vp, count: AtomicU64::new(0) })) }, GFP_KERNEL)?;
                if shim::cpu_online(vp) {
                    if let Err(e) = shim::irq_set_affinity_cpu(irq_no, vp) {
                        pr_warn!("sim: cannot route the interrupt of VP {} to CPU {}: {:?}\n", vp, vp, e);
                    }
                }
                v.push(reg, GFP_KERNEL)?;
            }
            v
        },
    })
}

impl pci::Driver for SimDriver {
    type IdInfo = ();
    type Data<'b> = SimDevice<'b>;
    const ID_TABLE: pci::IdTable<Self::IdInfo> = &PCI_TABLE;

    fn probe<'b>(pdev: &'b pci::Device<Core<'_>>, _info: Option<&'b Self::IdInfo>) -> impl PinInit<Self::Data<'b>, Error> + 'b {
        pin_init::pin_init_scope(move || {
            pdev.enable_device_mem()?;
            pdev.set_master();
            let bar0 = pdev.iomap_region_sized::<16>(0, c"pvg_hcall")?;
            let bar2 = pdev.iomap_region_sized::<4096>(2, c"pvg_hcall")?;
            let hdr = read_header(&bar2)?;
            if let Err(e) = hdr.check_host() {
                dev_info!(pdev, "ivshmem device is not usable by pvg_hcall: {}\n", e.as_str());
                return Err(ENODEV);
            }
            let vps = shim::num_possible_cpus().min(hdr.max_vps);
            if shim::num_possible_cpus() > hdr.max_vps {
                dev_warn!(pdev, "host serves {} VPs but the guest has {} CPUs; extra CPUs share slots\n", hdr.max_vps, shim::num_possible_cpus());
            }
            let state = SimDevice::new_state(bar0, vps)?;
            let pdev_b: &'b pci::Device<Bound> = pdev;
            Ok(try_pin_init!(&this in SimDevice {
                state,
                irqs <- make_irqs(pdev_b, vps),
                bar2,
                _: {
                    // SAFETY: `this` is fully initialised and pinned at its final address.
                    let dev = unsafe { &*this.as_ptr() };
                    dev.attach(&hdr)?;
                    dev_info!(pdev, "host simulator attached: {} VPs, {} MiB guest RAM, protocol {}\n", vps, hdr.ram_size >> 20, hdr.version);
                },
            }))
        })
    }

    fn unbind<'b>(_pdev: &'b pci::Device<Core<'_>>, this: Pin<&Self::Data<'b>>) {
        this.detach();
    }
}

impl SimDevice<'_> {
    /// Publishes the slots to the host and the state to the ops.
    fn attach(&self, hdr: &BarHeader) -> Result {
        let s = &*self.state;
        self.bar2.try_write32(s.slots.phys() as u32, bar_offset::SLOTS_GPA)?;
        self.bar2.try_write32((s.slots.phys() >> 32) as u32, bar_offset::SLOTS_GPA + 4)?;
        self.bar2.try_write32(s.vps, bar_offset::VPS)?;
        self.bar2.try_write32(hdr.host_generation, bar_offset::GUEST_GENERATION)?;
        // The signal page by frame number; a page beyond 16 TiB cannot be named (signals then
        // stay calls).
        let pfn = u32::try_from(s.signals.phys() >> 12).unwrap_or(0);
        self.bar2.try_write32(pfn, bar_offset::SIGNAL_PFN)?;
        s.signals_announced.store(pfn != 0, Ordering::Release);
        self.bar2.try_write32(guest_state::ACTIVE, bar_offset::GUEST_STATE)?;
        s.ring(VECTOR_CONTROL);
        SIM.store(core::ptr::from_ref(s).cast_mut().cast(), Ordering::Release);
        // Probe the transport once so a dead host is reported at load, not at first use.
        if let Err(e) = s.call(0, SimOp::Nop, [0; 4]) {
            SIM.store(core::ptr::null_mut(), Ordering::Release);
            rcu::synchronize_rcu();
            pr_err!("sim: the host simulator does not answer ({:?}); not attaching\n", e);
            return Err(ENODEV);
        }
        self.settle_routing();
        Ok(())
    }

    /// x86 moves an MSI to the CPU set by `irq_set_affinity` only at its next interrupt, so
    /// have the host raise every VP vector once and wait (bounded) until each arrived: later
    /// SynIC interrupts then reach their VP's CPU from the first message on.
    fn settle_routing(&self) {
        let s = &*self.state;
        for (vp, irq) in (0u32..).zip(self.irqs.vp_irqs.iter()) {
            let before = irq.handler().count.load(Ordering::Relaxed);
            if s.call(vp, SimOp::Kick, [u64::from(vector_for_vp(vp)), 0, 0, 0]).is_err() {
                continue;
            }
            let deadline = now_ns() + 100_000_000;
            while irq.handler().count.load(Ordering::Relaxed) == before && now_ns() < deadline {
                core::hint::spin_loop();
            }
        }
    }

    /// Stops the host from touching our pages, then unpublishes the state.
    fn detach(&self) {
        if SIM.load(Ordering::Acquire).is_null() {
            return;
        }
        SIM.store(core::ptr::null_mut(), Ordering::Release);
        rcu::synchronize_rcu();
        let s = &*self.state;
        for vp in 0..s.vps {
            if let Some(p) = s.synic.vp(vp) {
                if p.enabled.load(Ordering::Acquire) {
                    let ok = s.wrmsr(vp, u64::from(u64::from(hv::MSR_SCONTROL)), 0).is_ok()
                        && s.wrmsr(vp, u64::from(u64::from(hv::MSR_SIMP)), 0).is_ok()
                        && s.wrmsr(vp, u64::from(u64::from(hv::MSR_SIEFP)), 0).is_ok();
                    if !ok {
                        s.host_unreliable.store(true, Ordering::Relaxed);
                    }
                    p.enabled.store(false, Ordering::Release);
                }
            }
        }
        // The host drains the signal page on any VP's doorbell: take the page back from the
        // header, then one call per VP proves that VP's doorbell thread has finished any drain
        // it began with the old page (it serves its doorbells in order). That call also proves
        // it is done with a slot whose last call failed (its late answer came first).
        let signals = s.signals_announced.swap(false, Ordering::AcqRel);
        if signals && self.bar2.try_write32(0, bar_offset::SIGNAL_PFN).is_err() {
            s.host_unreliable.store(true, Ordering::Relaxed);
        }
        for vp in 0..s.vps {
            if (signals || s.dirty[vp as usize].load(Ordering::Relaxed)) && s.call(vp, SimOp::Nop, [0; 4]).is_err() {
                s.host_unreliable.store(true, Ordering::Relaxed);
            }
        }
        let _ = self.bar2.try_write32(guest_state::GONE, bar_offset::GUEST_STATE);
        s.ring(VECTOR_CONTROL);
    }
}

#[pinned_drop]
impl PinnedDrop for SimDevice<'_> {
    fn drop(self: Pin<&mut Self>) {
        self.detach();
        // SAFETY: we only touch the `state` field, which is not structurally pinned.
        let this = unsafe { self.get_unchecked_mut() };
        if this.state.host_unreliable.load(Ordering::Relaxed) {
            pr_warn!("sim: the host failed calls; leaking the shared pages it may still write\n");
            this.state.slots.leak();
            this.state.signals.leak();
            this.state.synic.leak_all();
            for p in this.state.inputs.iter_mut() {
                p.leak();
            }
        }
    }
}
