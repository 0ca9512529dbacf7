// SPDX-License-Identifier: GPL-2.0-only
//! The simulator backend: a virtual Hyper-V reached through QEMU's `ivshmem-doorbell` device
//! served by the pvguest host simulator (protocol: the `sim_proto` crate).
//!
//! Binds the ivshmem PCI device when its BAR2 carries the simulator's magic, allocates one
//! call slot per VP and the SynIC message/event pages in guest RAM, routes MSI-X vector `1+vp`
//! to CPU `vp`, and implements the neutral operations as TLFS hypercalls and synthetic-MSR
//! accesses carried by the slots. Every call is bounded by `sim_timeout_ms`: a host that does
//! not answer costs the caller `-ETIMEDOUT`, never a hang.

use core::ffi::c_void;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering};

use kernel::{
    device::{Bound, Core},
    io::Io,
    irq, pci,
    prelude::*,
    sync::rcu,
};
use sim_proto::{
    bar_offset, guest_state, poll, slot_offset, slot_state, state_word, vector_for_vp, BarHeader, Op as SimOp, Poll,
    HOST_PEER_ID, IVSHMEM_REG_DOORBELL, SLOT_SIZE, VECTOR_CONTROL,
};

use crate::ops::{self, Backend};
use crate::shim;
use crate::synic::{self, SynicPages};

/// Hyper-V values the simulator backend speaks (TLFS; `include/hyperv/hvgdk_mini.h`).
mod hv {
    pub(super) const HVCALL_POST_MESSAGE: u64 = 0x005c;
    pub(super) const HVCALL_SIGNAL_EVENT: u64 = 0x005d;
    pub(super) const HV_HYPERCALL_FAST_BIT: u64 = 1 << 16;
    pub(super) const MSR_SCONTROL: u64 = 0x4000_0080;
    pub(super) const MSR_SIEFP: u64 = 0x4000_0082;
    pub(super) const MSR_SIMP: u64 = 0x4000_0083;
    pub(super) const MSR_EOM: u64 = 0x4000_0084;
    pub(super) const MSR_SINT0: u64 = 0x4000_0090;
    pub(super) const MSR_TIME_REF_COUNT: u64 = 0x4000_0020;
    pub(super) const SINT_MASKED: u64 = 1 << 16;
    /// The vector a SINT asks for; the simulator delivers through MSI-X instead, but the
    /// value must be valid (0x10..=0xff) as on Hyper-V. Linux's HYPERVISOR_CALLBACK_VECTOR.
    pub(super) const CALLBACK_VECTOR: u64 = 0xf3;
}

/// Maps a Hyper-V status code to an errno (as the kernel's `hv_result_to_errno`).
pub(crate) fn hv_status_to_result(status: u16) -> Result {
    match status {
        0 => Ok(()),
        0x2 | 0x3 | 0x4 | 0x5 => Err(EINVAL),   // invalid code/input/alignment/parameter
        0x6 => Err(EACCES),                     // access denied
        0x7 => Err(EBADFD),                     // invalid partition state
        0x8 | 0x10 | 0x13 | 0x33 => Err(ENOMEM), // operation denied/insufficient memory/buffers
        0x11 | 0x12 => Err(ENXIO),              // invalid port/connection id
        0x1b => Err(EBUSY),                     // object in use
        _ => Err(EIO),
    }
}

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

    /// One call through `vp`'s slot. Interrupts are off for its duration, so a handler cannot
    /// nest on this CPU; another CPU wanting the same slot waits for the lock word.
    pub(crate) fn call(&self, vp: u32, op: SimOp, args: [u64; 4]) -> Result<(u64, u64)> {
        if vp >= self.vps {
            return Err(EINVAL);
        }
        let i = vp as usize;
        let _irqs = shim::IrqsOff::new();
        while self.locks[i].compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed).is_err() {
            core::hint::spin_loop();
        }
        let r = self.call_locked(vp, op, args);
        match &r {
            Ok(_) => self.dirty[i].store(false, Ordering::Relaxed),
            Err(_) => self.dirty[i].store(true, Ordering::Relaxed),
        }
        self.locks[i].store(0, Ordering::Release);
        r
    }

    fn call_locked(&self, vp: u32, op: SimOp, args: [u64; 4]) -> Result<(u64, u64)> {
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

    /// A hypercall from the current CPU's slot.
    fn hypercall(&self, control: u64, in1: u64, in2: u64) -> Result {
        let _irqs = shim::IrqsOff::new();
        let vp = self.current_vp();
        let (r, _) = self.call(vp, SimOp::Hypercall, [control, in1, in2, 0])?;
        hv_status_to_result(r as u16)
    }
}

/// The simulator as a [`Backend`].
pub(crate) struct Sim;

impl Backend for Sim {
    const ID: u32 = crate::pvg_hcall_api::backend::SIM;
    const NAME: &'static CStr = c"sim";

    fn post_message(connection_id: u32, message_type: u32, payload: &[u8]) -> Result {
        with_sim(|s| {
            let _irqs = shim::IrqsOff::new();
            let vp = s.current_vp();
            let input = &s.inputs[vp as usize];
            let mut hdr = [0u8; 16];
            hdr[0..4].copy_from_slice(&connection_id.to_le_bytes());
            hdr[8..12].copy_from_slice(&message_type.to_le_bytes());
            hdr[12..16].copy_from_slice(&(payload.len() as u32).to_le_bytes());
            // SAFETY: the input page of `vp` is used only with interrupts off by the CPU
            // holding `vp`'s slot... which we take below; the copy stays within the page
            // (16 + at most 240 bytes) and the host reads it only during our call.
            unsafe {
                core::ptr::copy_nonoverlapping(hdr.as_ptr(), input.as_ptr(), 16);
                core::ptr::copy_nonoverlapping(payload.as_ptr(), input.as_ptr().add(16), payload.len());
                core::ptr::write_bytes(input.as_ptr().add(16 + payload.len()), 0, 240 - payload.len());
            }
            let (r, _) = s.call(vp, SimOp::Hypercall, [hv::HVCALL_POST_MESSAGE, input.phys(), 0, 0])?;
            hv_status_to_result(r as u16)
        })
    }

    fn signal_event(connection_id: u32, flag: u16) -> Result {
        with_sim(|s| {
            let input = u64::from(connection_id) | (u64::from(flag) << 32);
            s.hypercall(hv::HVCALL_SIGNAL_EVENT | hv::HV_HYPERCALL_FAST_BIT, input, 0)
        })
    }

    fn flush_tlb(_: u64, _: u64, _: &[u64], _: &[u64]) -> Result {
        // The simulator has no view of guest TLBs to flush.
        Err(EOPNOTSUPP)
    }

    fn send_ipi(_: u32, _: &[u64]) -> Result {
        // The simulator cannot inject arbitrary APIC vectors (only its MSI-X vectors).
        Err(EOPNOTSUPP)
    }

    fn notify_long_spin_wait(_: u32) -> Result {
        Err(EOPNOTSUPP)
    }

    fn reference_time() -> Result<u64> {
        with_sim(|s| {
            let _irqs = shim::IrqsOff::new();
            let vp = s.current_vp();
            s.rdmsr(vp, hv::MSR_TIME_REF_COUNT)
        })
    }

    fn synic_enable(vp: u32, sint: u32) -> Result {
        with_sim(|s| {
            let p = s.synic.vp(vp).ok_or(EINVAL)?;
            if sint as usize >= synic::SINT_COUNT {
                return Err(EINVAL);
            }
            if !p.enabled.load(Ordering::Acquire) {
                s.wrmsr(vp, hv::MSR_SIMP, p.message.phys() | 1)?;
                s.wrmsr(vp, hv::MSR_SIEFP, p.events.phys() | 1)?;
                s.wrmsr(vp, hv::MSR_SCONTROL, 1)?;
                p.enabled.store(true, Ordering::Release);
            }
            s.wrmsr(vp, hv::MSR_SINT0 + u64::from(sint), hv::CALLBACK_VECTOR)?;
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
            s.wrmsr(vp, hv::MSR_SINT0 + u64::from(sint), hv::SINT_MASKED)
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
        with_sim(|s| s.wrmsr(vp, hv::MSR_EOM, 0))
    }

    fn vp_count() -> u32 {
        with_sim(|s| Ok(s.vps)).unwrap_or(0)
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
            synic::on_interrupt(s, self.vp);
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
                    let ok = s.wrmsr(vp, hv::MSR_SCONTROL, 0).is_ok()
                        && s.wrmsr(vp, hv::MSR_SIMP, 0).is_ok()
                        && s.wrmsr(vp, hv::MSR_SIEFP, 0).is_ok();
                    if !ok {
                        s.host_unreliable.store(true, Ordering::Relaxed);
                    }
                    p.enabled.store(false, Ordering::Release);
                }
            }
        }
        // A slot whose last call failed may still get the host's late answer: one successful
        // call proves the host has finished with it (it serves each vector in order).
        for vp in 0..s.vps {
            if s.dirty[vp as usize].load(Ordering::Relaxed) && s.call(vp, SimOp::Nop, [0; 4]).is_err() {
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
            this.state.synic.leak_all();
            for p in this.state.inputs.iter_mut() {
                p.leak();
            }
        }
    }
}
