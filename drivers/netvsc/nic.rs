// SPDX-License-Identifier: GPL-2.0-only
//! One synthetic NIC (a VMBus network device): its channels and queues, the NVSP and RNDIS
//! bring-up, control requests with bounded waits, the `net_device` operations that are not
//! the data path (open, stop, receive filter, statistics, ethtool), sub-channel setup and
//! teardown. The data path is in `rx.rs` (NAPI poll) and `tx.rs` (transmit).
//!
//! Bring-up (`probe`, process context): open the primary channel and enable its NAPI
//! context, negotiate NVSP with the receive and send buffers (vmalloc'd, described by
//! GPADLs), RNDIS INIT and the queries (MAC, frame size, link, speed, offloads, RSS), set the
//! offloads, ask for sub-channels, register the `net_device`. The core offers the
//! sub-channels only after `probe` returned, so the device's work item opens them, sets the
//! RSS parameters and raises the number of queues.
//!
//! Lifetime: `probe` builds a pinned [`Nic`] and keeps it as the device's driver data until
//! `remove`. The `net_device` (allocated first, freed last) points to it; channel callbacks
//! (context: a [`Queue`]) run until the channels are closed; NAPI polls until the contexts
//! are disabled; the work item is cancelled first. See [`Nic::shutdown`] for the order.
//!
//! Locks: `ctl` (mutex) serialises control requests and owns the RNDIS request ids; it is
//! held while waiting for the host (bounded). `bufs` (mutex) owns the buffers. `ctl_slot`
//! and the queues' `pending` (IRQ spinlocks) are shared with NAPI; `scratch` is NAPI's only.

use core::ffi::c_void;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU16, AtomicU32, AtomicU64, Ordering};

use kernel::{
    bindings, new_mutex, new_spinlock, new_spinlock_irq,
    prelude::*,
    sync::{Arc, Mutex, SetOnce, SpinLock, SpinLockIrq},
    types::ForeignOwnable,
};
use netvsc_proto::{
    guest::{self, DropKind, IdQueue, IndexBitmap, RequestIds, TxCaps, TxSlot},
    nvsp::{self, NvspMessage, NvspVersion, ReceiveBufferLayout, SendBufferLayout},
    oid::OffloadPlan,
    rndis,
};

use crate::netdev::{self, NetDev, RawSkb, Skb, VBuf};
use crate::pvg_vmbus_api::RawChannel;
use crate::stats::{DebugfsFiles, Stats};
use crate::vmbus::{Channel, ChannelHandler, Device, GuidStr};
use crate::work::{self, LogLimit, Work};
use crate::{Params, Shared};

mod control;
mod ops;
mod setup;

use control::CtlSlot;

/// Most channels (queues) per device.
pub(crate) const MAX_CHANNELS: u32 = 64;
/// The largest MTU the driver offers (jumbo frames).
pub(crate) const MAX_MTU: u32 = 9000;
/// The largest receive section the driver copies from (a host announcing larger ones is
/// refused).
const MAX_RECV_SECTION: u32 = 65536;
/// Bytes of the biggest packet the host sends us (a transfer-page packet with ~1000 ranges).
pub(crate) const RECV_PKT_MAX: usize = 8192;
/// A control response: the largest RNDIS response Linux accepts.
const CTL_BUF: usize = rndis::RNDIS_MAX_RESPONSE_SIZE + 16;
/// Headroom for the RNDIS header of a page-list send (`RNDIS_AND_PPI_SIZE`).
pub(crate) const TX_HEADROOM: u32 = rndis::RNDIS_AND_PPI_SIZE as u32;
/// How long teardown waits for the host to complete the sends in flight.
const DRAIN_MS: u32 = 2000;
/// "No section" in a send slot.
pub(crate) const NO_SECTION: u32 = u32::MAX;

/// One send in flight: its slot state, the skb the host reads from (page lists) and the
/// send section it used.
#[derive(Default)]
pub(crate) struct Slot {
    pub(crate) state: TxSlot,
    pub(crate) skb: AtomicPtr<RawSkb>,
    pub(crate) section: AtomicU32,
}

/// One queue: a channel (primary = queue 0, sub-channel n = queue n), its NAPI context (same
/// index in the `net_device`), transmit slots and pending receive completions.
#[pin_data]
pub(crate) struct Queue {
    pub(crate) index: u16,
    nic: AtomicPtr<Nic>,
    raw: AtomicPtr<RawChannel>,
    /// Opened by us and not yet closed.
    open: AtomicBool,
    /// Its NAPI context is enabled.
    napi: AtomicBool,
    /// The inbound ring is unusable (corrupt, or a packet too big to take out).
    pub(crate) broken: AtomicBool,
    /// NAPI's copy of each packet.
    #[pin]
    pub(crate) scratch: SpinLock<KVec<u8>>,
    /// Receive completions waiting for ring space.
    #[pin]
    pub(crate) pending: SpinLockIrq<IdQueue<KVec<u64>>>,
    pub(crate) slots: KVec<Slot>,
    slot_words: KVec<AtomicU64>,
}

impl Queue {
    fn new(index: u16, nslots: u32) -> Result<impl PinInit<Self, Error>> {
        let mut scratch = KVec::with_capacity(RECV_PKT_MAX, GFP_KERNEL)?;
        scratch.resize(RECV_PKT_MAX, 0, GFP_KERNEL)?;
        let mut slots = KVec::with_capacity(nslots as usize, GFP_KERNEL)?;
        for _ in 0..nslots {
            slots.push(Slot { section: AtomicU32::new(NO_SECTION), ..Slot::default() }, GFP_KERNEL)?;
        }
        let nwords = IndexBitmap::words_for(nslots);
        let mut slot_words = KVec::with_capacity(nwords, GFP_KERNEL)?;
        for _ in 0..nwords {
            slot_words.push(AtomicU64::new(0), GFP_KERNEL)?;
        }
        Ok(try_pin_init!(Queue {
            index,
            nic: AtomicPtr::new(core::ptr::null_mut()),
            raw: AtomicPtr::new(core::ptr::null_mut()),
            open: AtomicBool::new(false),
            napi: AtomicBool::new(false),
            broken: AtomicBool::new(false),
            scratch <- new_spinlock!(scratch),
            pending <- new_spinlock_irq!(IdQueue::new(KVec::new())),
            slots,
            slot_words,
        }? Error))
    }

    /// The channel, if open.
    pub(crate) fn channel(&self) -> Option<Channel> {
        if !self.open.load(Ordering::Acquire) {
            return None;
        }
        // SAFETY: a channel the core handed us for this device (primary or offer).
        unsafe { Channel::from_raw(self.raw.load(Ordering::Acquire)) }
    }

    fn slot_map(&self) -> Option<IndexBitmap<'_>> {
        IndexBitmap::new(&self.slot_words, self.slots.len() as u32)
    }

    /// Takes a free send slot.
    pub(crate) fn alloc_slot(&self) -> Option<(u16, &Slot)> {
        let i = self.slot_map()?.alloc(0)?;
        Some((u16::try_from(i).ok()?, self.slots.get(i as usize)?))
    }

    /// Gives slot `i` back.
    pub(crate) fn free_slot(&self, i: u16) {
        if let Some(m) = self.slot_map() {
            let _ = m.free(u32::from(i));
        }
    }

    /// Sends in flight.
    pub(crate) fn inflight(&self) -> u32 {
        self.slot_map().map_or(0, |m| m.used())
    }

    /// Whether a slot is free.
    pub(crate) fn has_free_slot(&self) -> bool {
        (self.inflight() as usize) < self.slots.len()
    }

    fn nic(&self) -> Option<&Nic> {
        // SAFETY: set before the channel is opened to the pinned `Nic` that owns this queue
        // and outlives its open channels.
        unsafe { self.nic.load(Ordering::Acquire).as_ref() }
    }
}

impl ChannelHandler for Queue {
    fn on_channel(&self, chan: Channel) {
        let Some(nic) = self.nic() else { return };
        // NAPI takes over: the host stops signalling until the poll has drained the ring.
        let _ = chan.mask_interrupts();
        if let Some(dev) = nic.ndev.copy() {
            dev.napi_schedule(u32::from(self.index));
        }
    }

    fn on_subchannel(&self, _primary: Channel, sub: Channel, index: u16) {
        if let Some(nic) = self.nic() {
            nic.on_subchannel(sub, index);
        }
    }
}

/// The buffers and their GPADLs (process context only).
#[derive(Default)]
struct Buffers {
    recv: Option<VBuf>,
    recv_gpadl: Option<u32>,
    send: Option<VBuf>,
    send_gpadl: Option<u32>,
}

/// What the data path uses, fixed once NVSP is set up.
pub(crate) struct DataPath {
    pub(crate) version: NvspVersion,
    pub(crate) recv: ReceiveBufferLayout,
    pub(crate) recv_base: *const u8,
    pub(crate) send: SendBufferLayout,
    send_base: *mut u8,
    section_words: KVec<AtomicU64>,
}

// SAFETY: the buffer pointers are used under the rules of `receive_bytes` and `section`;
// everything else is plain data and atomics.
unsafe impl Send for DataPath {}
// SAFETY: as above.
unsafe impl Sync for DataPath {}

impl DataPath {
    fn sections(&self) -> Option<IndexBitmap<'_>> {
        IndexBitmap::new(&self.section_words, self.send.section_count)
    }

    /// Takes a free send section.
    pub(crate) fn alloc_section(&self, hint: u32) -> Option<u32> {
        self.sections()?.alloc(hint.wrapping_mul(64))
    }

    /// Gives section `i` back.
    pub(crate) fn free_section(&self, i: u32) {
        if let Some(m) = self.sections() {
            let _ = m.free(i);
        }
    }

    /// The first `len` bytes of send section `i`, which the caller allocated.
    ///
    /// # Safety
    ///
    /// The caller holds section `i` (from [`DataPath::alloc_section`], not freed): nobody
    /// else writes it, and the host only reads it once it is sent.
    pub(crate) unsafe fn section(&self, i: u32, len: u32) -> Option<&mut [u8]> {
        let off = self.send.section_offset(i)?;
        if len > self.send.section_size {
            return None;
        }
        // SAFETY: `off + len` lies inside the send buffer (layout checked against its
        // size), which lives as long as the `Nic`; the section is the caller's alone.
        Some(unsafe { core::slice::from_raw_parts_mut(self.send_base.add(off as usize), len as usize) })
    }
}

/// What RNDIS told us.
#[derive(Clone, Copy)]
pub(crate) struct Negotiated {
    pub(crate) mac: [u8; 6],
    pub(crate) tx: TxCaps,
    pub(crate) plan: OffloadPlan,
    pub(crate) max_mtu: u32,
    pub(crate) rss_entries: u32,
    pub(crate) link_up: bool,
}


/// One synthetic NIC.
#[pin_data(PinnedDrop)]
pub(crate) struct Nic {
    pub(crate) dev: Device,
    pub(crate) name: GuidStr,
    pub(crate) params: Params,
    shared: *const Shared,
    pub(crate) ndev: SetOnce<NetDev>,
    pub(crate) queues: KVec<Pin<KBox<Queue>>>,
    pub(crate) data: SetOnce<DataPath>,
    pub(crate) neg: SetOnce<Negotiated>,
    #[pin]
    bufs: Mutex<Buffers>,
    #[pin]
    ctl: Mutex<RequestIds>,
    #[pin]
    ctl_slot: SpinLockIrq<CtlSlot>,
    nvsp_seq: AtomicU32,
    /// Queues in use (channels open and announced to the stack).
    pub(crate) nr_queues: AtomicU32,
    send_table: [AtomicU16; nvsp::VRSS_SEND_TAB_SIZE],
    pub(crate) link_speed: AtomicU32,
    pub(crate) registered: AtomicBool,
    pub(crate) up: AtomicBool,
    pub(crate) removing: AtomicBool,
    #[pin]
    work: Work,
    #[pin]
    work_gate: SpinLockIrq<bool>,
    pub(crate) stats: Arc<Stats>,
    debugfs: SetOnce<DebugfsFiles>,
    pub(crate) log: LogLimit,
}

// SAFETY: everything shared is atomics or lock-protected; `shared` points to the module's
// state, which outlives every device; the handles are Send + Sync.
unsafe impl Send for Nic {}
// SAFETY: as above.
unsafe impl Sync for Nic {}

impl Nic {
    fn new(dev: Device, shared: &Shared, name: GuidStr, nqueues: usize) -> Result<impl PinInit<Self, Error>> {
        let mut queues = KVec::with_capacity(nqueues, GFP_KERNEL)?;
        for i in 0..nqueues {
            queues.push(KBox::pin_init(Queue::new(i as u16, shared.params.tx_slots)?, GFP_KERNEL)?, GFP_KERNEL)?;
        }
        let stats = Stats::new(nqueues)?;
        let params = shared.params;
        let shared: *const Shared = shared;
        Ok(try_pin_init!(Nic {
            dev,
            name,
            params,
            shared,
            ndev: SetOnce::new(),
            queues,
            data: SetOnce::new(),
            neg: SetOnce::new(),
            bufs <- new_mutex!(Buffers::default()),
            ctl <- new_mutex!(RequestIds::new()),
            ctl_slot <- new_spinlock_irq!(CtlSlot::new()),
            nvsp_seq: AtomicU32::new(0),
            nr_queues: AtomicU32::new(1),
            send_table: core::array::from_fn(|_| AtomicU16::new(0)),
            link_speed: AtomicU32::new(0),
            registered: AtomicBool::new(false),
            up: AtomicBool::new(false),
            removing: AtomicBool::new(false),
            work <- Work::new(work_fn),
            work_gate <- new_spinlock_irq!(false),
            stats,
            debugfs: SetOnce::new(),
            log: LogLimit::new(),
        }? Error))
    }

    fn shared(&self) -> &Shared {
        // SAFETY: the module's state outlives the driver registration and so every device.
        unsafe { &*self.shared }
    }

    /// The interface name once allocated, else the device GUID (for log lines).
    pub(crate) fn ifname(&self) -> &str {
        match self.ndev.as_ref() {
            Some(d) if self.registered.load(Ordering::Acquire) => d.name().to_str().unwrap_or("?"),
            _ => self.name.as_str(),
        }
    }

    /// Counts (and, rate-limited, logs) dropped host input.
    pub(crate) fn dropped(&self, e: guest::RxError) {
        self.stats.drop_one(e.kind());
        if self.log.allow() {
            pr_warn!("{}: dropped input from the host: {} ({})\n", self.ifname(), e.as_str(), e.kind().name());
        }
    }

    /// Counts a dropped message of `kind` with a reason.
    pub(crate) fn dropped_kind(&self, kind: DropKind, why: &str) {
        self.stats.drop_one(kind);
        if self.log.allow() {
            pr_warn!("{}: dropped input from the host: {} ({})\n", self.ifname(), why, kind.name());
        }
    }

    /// Channels the device may use (queues allocated).
    pub(crate) fn max_queues(&self) -> u32 {
        self.queues.len() as u32
    }

    // -- channels -----------------------------------------------------------------------

    /// Opens queue `i`'s channel and enables its NAPI context.
    fn open_queue(&self, i: usize, chan: Channel) -> Result {
        let q = self.queues.get(i).ok_or(EINVAL)?;
        let dev = self.ndev.copy().ok_or(ENODEV)?;
        q.nic.store(core::ptr::from_ref(self).cast_mut(), Ordering::Release);
        q.raw.store(chan.as_ptr(), Ordering::Release);
        let online = netdev::num_online_cpus().max(1);
        let cpu = netdev::nth_online_cpu(i as u32 % online).map_or(-1, |c| c as i32);
        let ring = self.params.ring_bytes;
        // SAFETY: the queue is pinned in the `Nic`, which closes every channel before it
        // frees its queues (`shutdown`).
        unsafe { chan.open::<Queue>(ring, ring, i == 0, &**q, cpu)? };
        q.open.store(true, Ordering::Release);
        dev.napi_enable(i as u32);
        q.napi.store(true, Ordering::Release);
        // A signal that came before NAPI was enabled masked the host's interrupts and found
        // NAPI disabled: poll once now.
        dev.napi_schedule(i as u32);
        Ok(())
    }

    fn primary(&self) -> Option<Channel> {
        self.queues.first().and_then(|q| q.channel())
    }

    /// A sub-channel offer (process context, the core's device worker; it may come while
    /// `probe` still waits for the sub-channel completion when `probe` runs at module load).
    fn on_subchannel(&self, sub: Channel, index: u16) {
        let q = self.queues.get(usize::from(index)).filter(|_| index > 0);
        let Some(q) = q else {
            pr_info!("{}: sub-channel {} offered beyond the {} queues; not used\n", self.ifname(), index, self.queues.len());
            return;
        };
        if q.raw.compare_exchange(core::ptr::null_mut(), sub.as_ptr(), Ordering::AcqRel, Ordering::Acquire).is_ok() {
            self.stats.sub_offered.fetch_add(1, Ordering::AcqRel);
        }
    }

    // -- teardown -----------------------------------------------------------------------

    /// Takes the device down; afterwards nothing of it runs and every buffer the host
    /// cannot use any more is freed.
    fn shutdown(&self) {
        self.removing.store(true, Ordering::Release);
        *self.work_gate.lock() = false;
        self.work.cancel_sync();
        let rescinded = self.primary().is_none_or(|c| c.rescinded());
        let dev = self.ndev.copy();
        if let Some(dev) = dev {
            if rescinded {
                dev.set_carrier(false);
            }
            if self.registered.swap(false, Ordering::AcqRel) {
                dev.unregister();
            }
        }
        if !rescinded && self.data.as_ref().is_some() {
            {
                let mut ids = self.ctl.lock();
                let id = ids.next_id();
                let mut b = [0u8; 32];
                if let Ok(n) = rndis::build_halt(&mut b, id) {
                    let _ = self.send_rndis(b.get(..n).unwrap_or(&[]));
                }
            }
            let start = work::now();
            while self.queues.iter().any(|q| q.channel().is_some() && q.inflight() > 0) && !work::elapsed_ms(&start, DRAIN_MS) {
                work::sleep_ms(2);
            }
            let _ = self.nvsp(&NvspMessage::revoke_receive_buffer(), false);
            let _ = self.nvsp(&NvspMessage::revoke_send_buffer(), false);
        }
        if let Some(dev) = dev {
            for (i, q) in self.queues.iter().enumerate() {
                if q.napi.swap(false, Ordering::AcqRel) {
                    dev.napi_disable(i as u32);
                }
            }
        }
        self.release_buffers();
        self.close_channels();
        self.release_slots();
    }

    /// Tears down the GPADLs (on the primary, still open) and frees the buffers; a buffer
    /// whose teardown the host did not confirm is never freed.
    fn release_buffers(&self) {
        let primary = self.primary();
        let mut b = self.bufs.lock();
        let pairs = [(b.recv.take(), b.recv_gpadl.take()), (b.send.take(), b.send_gpadl.take())];
        drop(b);
        for (buf, gpadl) in pairs {
            let (Some(buf), Some(h)) = (buf, gpadl) else { continue };
            let ok = match primary {
                Some(c) => c.gpadl_teardown(h).is_ok(),
                // Never opened or already closed: the close tore it down (or the host
                // released it with the rescind).
                None => true,
            };
            if !ok {
                pr_err!("{}: the host did not release buffer GPADL {:#x}; leaking its {} bytes\n", self.name.as_str(), h, buf.len());
                buf.leak();
            }
        }
    }

    /// Closes every open channel, sub-channels first.
    fn close_channels(&self) {
        for q in self.queues.iter().rev() {
            if q.open.swap(false, Ordering::AcqRel) {
                // SAFETY: a channel the core handed us, which we had open.
                if let Some(ch) = unsafe { Channel::from_raw(q.raw.load(Ordering::Acquire)) } {
                    ch.close();
                }
            }
        }
    }

    /// Ends every send still in flight (the channels are closed: no completion can come).
    fn release_slots(&self) {
        for q in self.queues.iter() {
            for (i, s) in q.slots.iter().enumerate() {
                if s.state.claim_current().is_some() {
                    let skb = s.skb.swap(core::ptr::null_mut(), Ordering::AcqRel);
                    // SAFETY: the slot owned this skb (page-list send) and we won its claim.
                    if let Some(skb) = unsafe { Skb::from_raw(skb) } {
                        skb.free();
                    }
                    s.section.store(NO_SECTION, Ordering::Relaxed);
                    q.free_slot(i as u16);
                }
            }
        }
    }
}

#[pinned_drop]
impl PinnedDrop for Nic {
    fn drop(self: Pin<&mut Self>) {
        // Channels are closed (shutdown) before the memory they might use goes; the
        // net_device (whose private area points here) is freed with us.
        self.close_channels();
        if let Some(dev) = self.ndev.copy() {
            // SAFETY: `shutdown` unregistered it and disabled its NAPI contexts (or they
            // never were); nothing uses the handle after this.
            unsafe { dev.free() };
        }
    }
}

/// Parses a reply's RNDIS message (already matched to its request by the NAPI side).
fn parse_reply(r: &[u8]) -> Result<rndis::RndisMessage<'_>, guest::ControlError> {
    rndis::RndisMessage::parse(r).map(|m| m.0).map_err(guest::ControlError::Malformed)
}


/// The work item's function.
///
/// # Safety
///
/// Called by the workqueue with the `work_struct` of a live device's `work` (it is
/// cancelled before the device is freed).
unsafe extern "C" fn work_fn(w: *mut bindings::work_struct) {
    let off = core::mem::offset_of!(Nic, work);
    // SAFETY: `Work` is `repr(transparent)` over the `work_struct`, embedded at `off` in a
    // live, pinned `Nic` (contract).
    let nic = unsafe { &*w.cast::<u8>().sub(off).cast::<Nic>() };
    nic.setup_subchannels();
}

/// `probe`: a synthetic NIC appeared.
pub(crate) fn probe(shared: &Shared, dev: Device) -> Result {
    let info = dev.info()?;
    let primary = dev.primary().ok_or(ENODEV)?;
    let name = GuidStr::new(&info.instance_id);
    let online = netdev::num_online_cpus().max(1);
    let mut n = match shared.params.max_queues {
        0 => online,
        m => m.min(online),
    };
    if info.max_cpus > 0 {
        n = n.min(info.max_cpus);
    }
    let n = n.clamp(1, MAX_CHANNELS);
    let nic = KBox::pin_init(Nic::new(dev, shared, name, n as usize)?, GFP_KERNEL)?;
    let ndev = NetDev::alloc(&*nic, n, dev.as_dev())?;
    nic.ndev.populate(ndev);
    if let Err(e) = nic.start(primary, info.max_cpus) {
        nic.shutdown();
        return Err(e);
    }
    if nic.stats.sub_granted.load(Ordering::Acquire) > 0 {
        *nic.work_gate.lock() = true;
        nic.work.queue();
    }
    dev.set_drvdata(nic.into_foreign().cast());
    Ok(())
}

/// `remove`: the NIC goes (unbind, unload or rescind).
pub(crate) fn remove(_shared: &Shared, dev: Device) {
    let p: *mut c_void = dev.drvdata();
    if p.is_null() {
        return;
    }
    dev.set_drvdata(core::ptr::null_mut());
    // SAFETY: set by `probe` from `into_foreign` of this type, taken back once here.
    let nic = unsafe { <Pin<KBox<Nic>> as ForeignOwnable>::from_foreign(p.cast()) };
    let rescinded = nic.primary().is_none_or(|c| c.rescinded());
    nic.shutdown();
    pr_info!("{}: removed{}\n", nic.name.as_str(), if rescinded { " (rescinded by the host)" } else { "" });
}
