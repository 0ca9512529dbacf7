// SPDX-License-Identifier: GPL-2.0-only
//! Channels: what the host offered, their devices on our bus, their ring buffers and GPADLs,
//! opening and closing, and the rescind path.
//!
//! Lifetimes: a channel is an `Arc<Channel>` held by the relid table (from offer until the
//! relid is released), by its device (primary channels: until the device's last reference
//! goes) and transiently by queued work. The table is read from hard IRQ under RCU.
//!
//! The ring buffers live in one shared buffer: the guest-to-host ring from page 0, the
//! host-to-guest ring from `send_pages`, described to the host by one GPADL. While a channel
//! is open its [`Rings`] are published (RCU) for the send and receive paths; closing
//! unpublishes them, waits for readers and for the channel's BH work, and frees them only
//! after the host confirmed the GPADL teardown (else they are leaked, since the host may still
//! write them).

use core::ffi::c_void;
use core::ptr::{null_mut, NonNull};
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering};

use kernel::prelude::*;
use kernel::sync::{Arc, ArcBorrow, Mutex, SpinLock};
use kernel::workqueue::{self, Work, WorkItem};
use kernel::{new_mutex, new_spinlock, new_work};
use vmbus_proto::gpadl::GpadlSplitter;
use vmbus_proto::message::{self as msg, ChannelMessage, OfferChannel, MAX_CHANNEL_RELIDS};

use crate::bus;
use crate::conn::Core;
use crate::mem::{SharedBuffer, PAGE_SIZE};

/// Channel states.
pub(crate) mod state {
    /// Offered, not open.
    pub(crate) const OFFERED: u32 = 0;
    /// Open in progress.
    pub(crate) const OPENING: u32 = 1;
    /// Open: rings published, callback armed.
    pub(crate) const OPEN: u32 = 2;
    /// Close in progress.
    pub(crate) const CLOSING: u32 = 3;

    pub(crate) fn name(s: u32) -> &'static str {
        match s {
            OFFERED => "offered",
            OPENING => "opening",
            OPEN => "open",
            CLOSING => "closing",
            _ => "?",
        }
    }
}

/// Largest ring (each direction) a VSC may ask for.
const MAX_RING_BYTES: u32 = 64 << 20;

/// The ring buffers of an open channel.
pub(crate) struct Rings {
    pub(crate) buf: SharedBuffer,
    pub(crate) gpadl: u32,
    /// Bytes of the guest-to-host ring (header page included).
    pub(crate) send_bytes: usize,
    /// Bytes of the host-to-guest ring (header page included).
    pub(crate) recv_bytes: usize,
}

/// The VSC's sub-channel callback and the context of its callbacks (the channel callback
/// itself is published in `Channel::callback` for the BH path).
struct Callbacks {
    subchannel: Option<crate::api::SubchannelFn>,
    ctx: *mut c_void,
}

/// State changed only from process context, under the channel's mutex.
struct Ctl {
    /// Our bus device (primary channels, once added).
    device: *mut bus::RawDevice,
    /// Sub-channels offered for this primary.
    subs: KVec<Arc<Channel>>,
    /// GPADLs the VSC created on this channel (torn down at close or rescind).
    gpadls: KVec<u32>,
    callbacks: Callbacks,
}

/// One channel.
#[pin_data]
pub(crate) struct Channel {
    pub(crate) core: Arc<Core>,
    pub(crate) relid: u32,
    pub(crate) offer: OfferChannel,
    /// Connection id to signal the host on.
    signal_conn: u32,
    state: AtomicU32,
    rescinded: AtomicBool,
    /// The host wrote nonsense into one of the rings since the channel was opened: the rings
    /// are not touched again until the channel is closed and reopened.
    pub(crate) corrupt: AtomicBool,
    /// The published rings (non-null while open).
    rings: AtomicPtr<Rings>,
    /// The published callback and its context (non-null callback while open).
    callback: AtomicPtr<c_void>,
    callback_ctx: AtomicPtr<c_void>,
    /// Serialises writers of the guest-to-host ring (taken with interrupts off).
    #[pin]
    pub(crate) send_lock: SpinLock<()>,
    /// Serialises readers of the host-to-guest ring (taken with interrupts off).
    #[pin]
    pub(crate) recv_lock: SpinLock<()>,
    #[pin]
    ctl: Mutex<Ctl>,
    /// Held (on a primary) while its driver's sub-channel callback runs, so closing the
    /// primary can wait for a callback that read the callbacks before they were cleared.
    #[pin]
    sub_cb: Mutex<()>,
    #[pin]
    work: Work<Channel>,
    pub(crate) target_cpu: AtomicU32,
    pub(crate) interrupts: AtomicU64,
    pub(crate) signals: AtomicU64,
    _live: crate::mem::LiveToken,
}

// SAFETY: the raw pointers in `Ctl` (device, VSC context) are only used under the mutex, in
// process context, and point to objects that outlive their use (the device until we drop our
// reference, the context until the VSC's remove returned).
unsafe impl Send for Ctl {}

kernel::impl_has_work! {
    impl HasWork<Channel> for Channel { self.work }
}

impl Channel {
    pub(crate) fn new(core: Arc<Core>, offer: OfferChannel, version: u32) -> Result<Arc<Channel>> {
        let relid = offer.child_relid;
        Arc::pin_init(
            try_pin_init!(Channel {
                core,
                relid,
                offer,
                signal_conn: offer.signal_connection_id(version),
                state: AtomicU32::new(state::OFFERED),
                rescinded: AtomicBool::new(false),
                corrupt: AtomicBool::new(false),
                rings: AtomicPtr::new(null_mut()),
                callback: AtomicPtr::new(null_mut()),
                callback_ctx: AtomicPtr::new(null_mut()),
                send_lock <- new_spinlock!((), "pvg_vmbus_send"),
                recv_lock <- new_spinlock!((), "pvg_vmbus_recv"),
                ctl <- new_mutex!(
                    Ctl {
                        device: null_mut(),
                        subs: KVec::new(),
                        gpadls: KVec::new(),
                        callbacks: Callbacks { subchannel: None, ctx: null_mut() },
                    },
                    "pvg_vmbus_chan"
                ),
                sub_cb <- new_mutex!((), "pvg_vmbus_sub_cb"),
                work <- new_work!("pvg_vmbus_chan_bh"),
                target_cpu: AtomicU32::new(0),
                interrupts: AtomicU64::new(0),
                signals: AtomicU64::new(0),
                _live: crate::mem::LiveToken::new(&crate::mem::LIVE.channels),
            }),
            GFP_KERNEL,
        )
    }

    /// Sub-channel index (0 for a primary channel).
    pub(crate) fn index(&self) -> u16 {
        let i = self.offer.offer.sub_channel_index;
        i
    }

    pub(crate) fn state(&self) -> u32 {
        self.state.load(Ordering::Acquire)
    }

    pub(crate) fn is_rescinded(&self) -> bool {
        self.rescinded.load(Ordering::Acquire)
    }

    pub(crate) fn mark_rescinded(&self) {
        self.rescinded.store(true, Ordering::Release);
    }

    /// Runs `f` on the published rings, if the channel is open (RCU-protected).
    pub(crate) fn with_rings<R>(&self, f: impl FnOnce(&Rings) -> Result<R>) -> Result<R> {
        let _guard = kernel::sync::rcu::read_lock();
        let p = self.rings.load(Ordering::Acquire);
        if p.is_null() || self.is_rescinded() {
            return Err(ENODEV);
        }
        if self.corrupt.load(Ordering::Acquire) {
            return Err(EIO);
        }
        // SAFETY: non-null `rings` points to a live `Rings`; `close` unpublishes it and waits
        // for an RCU grace period before freeing it, and we hold the RCU read lock.
        f(unsafe { &*p })
    }

    /// Tells the host the channel has something for it (HvSignalEvent on the offer's
    /// connection id).
    pub(crate) fn signal_host(&self) {
        self.signals.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the ops table may be called from any context.
        let _ = unsafe { (self.core.ops.signal_event)(self.signal_conn, 0) };
    }

    /// The host signalled us (hard IRQ): run the VSC's callback in BH context.
    pub(crate) fn on_event(self: Arc<Self>) {
        self.interrupts.fetch_add(1, Ordering::Relaxed);
        if self.state() == state::OPEN {
            let _ = workqueue::system_bh().enqueue(self);
        }
    }

    // --- devices ---------------------------------------------------------------------------

    /// Creates and adds the bus device of a primary channel (device worker).
    pub(crate) fn add_device(self: &Arc<Self>) {
        if self.is_rescinded() || self.core.stopping.load(Ordering::Acquire) {
            return;
        }
        let raw = Arc::into_raw(self.clone());
        let class = self.offer.offer.if_type;
        let instance = self.offer.offer.if_instance;
        // SAFETY: the GUIDs are 16 readable bytes; `raw` is handed to the device, which gives
        // it back through `pvg_vmbus_rust_device_released` when its last reference goes.
        let dev = unsafe {
            bus::pvg_vmbus_device_create(
                zerocopy::IntoBytes::as_bytes(&class).as_ptr(),
                zerocopy::IntoBytes::as_bytes(&instance).as_ptr(),
                self.relid,
                raw.cast_mut().cast(),
            )
        };
        if dev.is_null() || (dev as usize) > usize::MAX - 4095 {
            // SAFETY: creation failed before the device took `raw`: give the reference back.
            drop(unsafe { Arc::from_raw(raw) });
            pr_err!("cannot create the device of channel {}\n", self.relid);
            return;
        }
        self.ctl.lock().device = dev;
        // SAFETY: `dev` is a fully initialised device from `pvg_vmbus_device_create`.
        let rc = unsafe { bus::pvg_vmbus_device_add(dev) };
        if rc != 0 {
            pr_err!("cannot add the device of channel {}: {}\n", self.relid, rc);
            self.ctl.lock().device = null_mut();
            // SAFETY: drops the creation reference; the release callback frees `raw`.
            unsafe { bus::pvg_vmbus_device_put(dev) };
        }
    }

    /// Hands an offered sub-channel to its primary's driver (device worker).
    pub(crate) fn offer_to_primary(self: &Arc<Self>) {
        let primary = self
            .core
            .channels
            .find(|c| c.index() == 0 && c.offer.offer.if_instance == self.offer.offer.if_instance);
        let Some(primary) = primary else {
            pr_warn!("sub-channel {} has no primary channel; ignoring it\n", self.relid);
            return;
        };
        let _running = primary.sub_cb.lock();
        let (cb, ctx) = {
            let mut pc = primary.ctl.lock();
            if pc.subs.push(self.clone(), GFP_KERNEL).is_err() {
                return;
            }
            (pc.callbacks.subchannel, pc.callbacks.ctx)
        };
        if let (Some(cb), true) = (cb, primary.state() == state::OPEN) {
            // SAFETY: the callback and context are the primary's driver's, valid while its
            // channel is open; closing the primary clears them and then waits for `sub_cb`,
            // which we hold, so they stay valid during the call.
            unsafe { cb(Arc::as_ptr(&primary).cast_mut().cast(), Arc::as_ptr(self).cast_mut().cast(), self.index(), ctx) };
        }
    }

    /// The host rescinded the channel (device worker): remove the device (its driver fails
    /// what is in flight and closes), close what is left, release the relid.
    pub(crate) fn handle_rescind(self: &Arc<Self>) {
        pr_info!("channel {} rescinded by the host\n", self.relid);
        self.take_device_and_remove();
        let subs = core::mem::take(&mut self.ctl.lock().subs);
        for s in subs.iter() {
            s.close();
        }
        self.close();
        let _ = self.core.post(&ChannelMessage::RelIdReleased(msg::RelIdReleased { child_relid: self.relid }));
        self.core.channels.remove(self.relid);
    }

    // --- GPADLs ----------------------------------------------------------------------------

    /// Describes `pfns` (whole pages) to the host as a GPADL; waits for GPADL_CREATED.
    pub(crate) fn create_gpadl(&self, pfns: &[u64]) -> Result<u32> {
        let gpadl = self.core.new_gpadl_id();
        let mut split = GpadlSplitter::for_pages(self.relid, gpadl, pfns).map_err(|e| {
            pr_err!("cannot describe {} pages as a GPADL: {}\n", pfns.len(), e.as_str());
            EINVAL
        })?;
        self.core.conn.lock().pending.awaiting_gpadl.push(gpadl, GFP_KERNEL)?;
        let mut posted = Ok(());
        while let Some(m) = split.next_view() {
            posted = self.core.post(&m);
            if posted.is_err() {
                break;
            }
        }
        let status = posted.and_then(|()| {
            self.core.wait_for("GPADL_HEADER", |c| {
                let i = c.pending.gpadl_created.iter().position(|(g, _)| *g == gpadl)?;
                Some(c.pending.gpadl_created.remove(i).map_or(0, |(_, s)| s))
            })
        });
        self.core.forget_awaited(|p| &mut p.awaiting_gpadl, gpadl);
        let status = status?;
        if status != 0 {
            pr_err!("the host refused GPADL {:#x} of channel {} (status {:#x})\n", gpadl, self.relid, status);
            return Err(EIO);
        }
        Ok(gpadl)
    }

    /// Tears a GPADL down; true when the host confirmed (its pages are then ours again).
    pub(crate) fn teardown_gpadl(&self, gpadl: u32) -> bool {
        if self.is_rescinded() {
            // The host released everything of a rescinded channel.
            return true;
        }
        let req = msg::GpadlTeardown { child_relid: self.relid, gpadl };
        if self.core.conn.lock().pending.awaiting_teardown.push(gpadl, GFP_KERNEL).is_err() {
            return false;
        }
        let ok = self.core.post(&ChannelMessage::GpadlTeardown(req)).is_ok()
            && self
                .core
                .wait_for("GPADL_TEARDOWN", |c| {
                    let i = c.pending.gpadl_torndown.iter().position(|g| *g == gpadl)?;
                    let _ = c.pending.gpadl_torndown.remove(i);
                    Some(())
                })
                .is_ok();
        self.core.forget_awaited(|p| &mut p.awaiting_teardown, gpadl);
        ok
    }

    /// GPADL over a VSC's own buffer (vmalloc or direct-mapped memory, whole pages).
    pub(crate) fn create_user_gpadl(&self, buf: *mut u8, len: usize) -> Result<u32> {
        if len == 0 || len % PAGE_SIZE != 0 || (buf as usize) % PAGE_SIZE != 0 {
            return Err(EINVAL);
        }
        let pages = len / PAGE_SIZE;
        let mut pfns = KVec::with_capacity(pages, GFP_KERNEL)?;
        for i in 0..pages {
            // SAFETY: the caller (the API) passes a buffer of `len` bytes; the helper only
            // translates addresses.
            let pfn = unsafe { bus::pvg_vmbus_virt_to_pfn(buf.add(i * PAGE_SIZE)) };
            pfns.push(pfn, GFP_KERNEL)?;
        }
        let g = self.create_gpadl(&pfns)?;
        self.ctl.lock().gpadls.push(g, GFP_KERNEL)?;
        Ok(g)
    }

    /// Tears down a GPADL the VSC created.
    pub(crate) fn teardown_user_gpadl(&self, gpadl: u32) -> Result {
        let known = {
            let mut c = self.ctl.lock();
            match c.gpadls.iter().position(|g| *g == gpadl) {
                Some(i) => c.gpadls.remove(i).is_ok(),
                None => false,
            }
        };
        if !known {
            return Err(EINVAL);
        }
        if self.teardown_gpadl(gpadl) {
            Ok(())
        } else {
            pr_err!("the host did not confirm the teardown of GPADL {:#x}; its pages must not be reused\n", gpadl);
            Err(EIO)
        }
    }

    // --- open / close ----------------------------------------------------------------------

    /// Opens the channel: rings, GPADL, OPENCHANNEL; arms `callback`.
    pub(crate) fn open(
        self: &Arc<Self>,
        send_bytes: u32,
        recv_bytes: u32,
        user_data: &[u8],
        callback: crate::api::ChannelCallback,
        subchannel: Option<crate::api::SubchannelFn>,
        ctx: *mut c_void,
        target_cpu: Option<u32>,
    ) -> Result {
        if user_data.len() > msg::MAX_USER_DEFINED_BYTES
            || !(2 * PAGE_SIZE as u32..=MAX_RING_BYTES).contains(&send_bytes)
            || !(2 * PAGE_SIZE as u32..=MAX_RING_BYTES).contains(&recv_bytes)
        {
            return Err(EINVAL);
        }
        let mut ctl = self.ctl.lock();
        if self.is_rescinded() {
            return Err(ENODEV);
        }
        if self.state.compare_exchange(state::OFFERED, state::OPENING, Ordering::AcqRel, Ordering::Acquire).is_err() {
            return Err(EBUSY);
        }
        let r = self.open_locked(&mut ctl, send_bytes as usize, recv_bytes as usize, user_data, callback, subchannel, ctx, target_cpu);
        if r.is_err() {
            self.state.store(state::OFFERED, Ordering::Release);
        }
        r
    }

    #[allow(clippy::too_many_arguments)]
    fn open_locked(
        self: &Arc<Self>,
        ctl: &mut Ctl,
        send_bytes: usize,
        recv_bytes: usize,
        user_data: &[u8],
        callback: crate::api::ChannelCallback,
        subchannel: Option<crate::api::SubchannelFn>,
        ctx: *mut c_void,
        target_cpu: Option<u32>,
    ) -> Result {
        let send_bytes = send_bytes.next_multiple_of(PAGE_SIZE);
        let recv_bytes = recv_bytes.next_multiple_of(PAGE_SIZE);
        let buf = SharedBuffer::new(send_bytes + recv_bytes)?;
        crate::ring::init_headers(&buf, send_bytes, recv_bytes);
        let mut pfns = KVec::with_capacity(buf.pages(), GFP_KERNEL)?;
        for i in 0..buf.pages() {
            pfns.push(buf.pfn(i), GFP_KERNEL)?;
        }
        let gpadl = self.create_gpadl(&pfns)?;
        let rings = KBox::new(Rings { buf, gpadl, send_bytes, recv_bytes }, GFP_KERNEL)?;
        let cpu = target_cpu.unwrap_or_else(|| self.core.channels.pick_cpu());
        self.target_cpu.store(cpu, Ordering::Relaxed);
        // SAFETY: the ops table may be called from any context.
        let target_vp = unsafe { (self.core.ops.vp_index)(cpu) };
        let mut req = msg::OpenChannel::new(self.relid, self.relid, gpadl, target_vp, (send_bytes / PAGE_SIZE) as u32);
        req.userdata[..user_data.len()].copy_from_slice(user_data);
        // Publish callback and rings before the host can signal.
        ctl.callbacks = Callbacks { subchannel, ctx };
        self.callback_ctx.store(ctx, Ordering::Release);
        self.callback.store(callback as *mut c_void, Ordering::Release);
        let rings = KBox::into_raw(rings);
        self.corrupt.store(false, Ordering::Release);
        self.rings.store(rings, Ordering::Release);
        self.state.store(state::OPEN, Ordering::Release);
        // A statement of its own: the connection lock must be released before posting.
        let awaiting = self.core.conn.lock().pending.awaiting_open.push(self.relid, GFP_KERNEL).map_err(Error::from);
        let opened = awaiting.and_then(|()| {
            self.core.post(&ChannelMessage::OpenChannel(req)).and_then(|()| {
                self.core.wait_for("OPENCHANNEL", |c| {
                    let i = c.pending.opened.iter().position(|(r, _)| *r == self.relid)?;
                    Some(c.pending.opened.remove(i).map_or(0, |(_, s)| s))
                })
            })
        });
        self.core.forget_awaited(|p| &mut p.awaiting_open, self.relid);
        match opened {
            Ok(0) => Ok(()),
            other => {
                let status = other.as_ref().map_or(0, |s| *s);
                pr_err!("the host did not open channel {} (status {:#x}, {:?})\n", self.relid, status, other.err());
                self.unpublish(ctl);
                // SAFETY: `rings` came from `KBox::into_raw` above and was unpublished (no
                // reader remains after `unpublish`'s grace period).
                let mut rings = unsafe { KBox::from_raw(rings) };
                if !self.teardown_gpadl(gpadl) {
                    rings.buf.leak();
                }
                Err(if status != 0 { EIO } else { other.err().unwrap_or(EIO) })
            }
        }
    }

    /// Stops callbacks and unpublishes the rings; waits until no reader or callback runs.
    fn unpublish(&self, ctl: &mut Ctl) -> *mut Rings {
        self.state.store(state::CLOSING, Ordering::Release);
        self.callback.store(null_mut(), Ordering::Release);
        let rings = self.rings.swap(null_mut(), Ordering::AcqRel);
        kernel::sync::rcu::synchronize_rcu();
        // SAFETY: `work` is the channel's initialised work item. Flushing waits for a queued or
        // running instance, which sees the channel closing and returns without calling the VSC
        // (callbacks run in BH context and never take `ctl`, which we hold).
        unsafe { kernel::bindings::flush_work(Work::raw_get(&raw const self.work)) };
        ctl.callbacks = Callbacks { subchannel: None, ctx: null_mut() };
        rings
    }

    /// Closes the channel (no-op if not open): CLOSECHANNEL, GPADL teardowns, free the rings.
    pub(crate) fn close(&self) {
        let mut ctl = self.ctl.lock();
        if self.state() != state::OPEN {
            return;
        }
        let rings = self.unpublish(&mut ctl);
        if !self.is_rescinded() {
            let _ = self.core.post(&ChannelMessage::CloseChannel(msg::CloseChannel { child_relid: self.relid }));
        }
        for g in core::mem::take(&mut ctl.gpadls).iter() {
            if !self.teardown_gpadl(*g) {
                pr_err!("GPADL {:#x} of channel {} was not torn down\n", g, self.relid);
            }
        }
        if let Some(p) = NonNull::new(rings) {
            // SAFETY: `rings` came from `KBox::into_raw` in `open_locked` and is unpublished
            // with no reader left.
            let mut rings = unsafe { KBox::from_raw(p.as_ptr()) };
            if !self.teardown_gpadl(rings.gpadl) {
                pr_err!("the host did not tear down the rings of channel {}; leaking them\n", self.relid);
                rings.buf.leak();
            }
        }
        self.state.store(state::OFFERED, Ordering::Release);
        drop(ctl);
        // A sub-channel callback that read the callbacks before `unpublish` cleared them may
        // still be running: the driver's context must outlive it.
        drop(self.sub_cb.lock());
    }

    /// The bus device (primary channels).
    pub(crate) fn device(&self) -> *mut bus::RawDevice {
        self.ctl.lock().device
    }

    /// Number of sub-channels offered for this primary.
    pub(crate) fn sub_count(&self) -> usize {
        self.ctl.lock().subs.len()
    }

    /// Removes the channel's device (module unload): its driver, if bound, is removed first.
    pub(crate) fn take_device_and_remove(&self) {
        let dev = core::mem::replace(&mut self.ctl.lock().device, null_mut());
        if !dev.is_null() {
            // SAFETY: `dev` was added by `add_device` and not deleted since.
            unsafe {
                bus::pvg_vmbus_device_del(dev);
                bus::pvg_vmbus_device_put(dev);
            }
        }
    }
}

impl WorkItem for Channel {
    type Pointer = Arc<Channel>;

    /// BH context: call the VSC's callback.
    fn run(this: Arc<Channel>) {
        let cb = this.callback.load(Ordering::Acquire);
        if cb.is_null() || this.state() != state::OPEN {
            return;
        }
        // SAFETY: only `ChannelCallback` values are stored in `callback` (by `open`), and the
        // VSC keeps it and its context valid until `close` returns, which first clears it and
        // waits for this work to finish.
        let f: crate::api::ChannelCallback = unsafe { core::mem::transmute::<*mut c_void, crate::api::ChannelCallback>(cb) };
        let ctx = this.callback_ctx.load(Ordering::Acquire);
        // SAFETY: calling the VSC's callback with its channel and context.
        unsafe { f(Arc::as_ptr(&this).cast_mut().cast(), ctx) };
    }
}

/// Channels by relid, readable from hard IRQ (RCU).
pub(crate) struct ChannelTable {
    slots: KVec<AtomicPtr<Channel>>,
    next_cpu: AtomicU32,
}

impl ChannelTable {
    pub(crate) fn new() -> Result<ChannelTable> {
        let mut slots = KVec::with_capacity(MAX_CHANNEL_RELIDS as usize, GFP_KERNEL)?;
        for _ in 0..MAX_CHANNEL_RELIDS {
            slots.push(AtomicPtr::new(null_mut()), GFP_KERNEL)?;
        }
        Ok(ChannelTable { slots, next_cpu: AtomicU32::new(0) })
    }

    /// Adds `ch` at `relid` (the table keeps a reference).
    pub(crate) fn insert(&self, relid: u32, ch: Arc<Channel>) -> Result {
        let slot = self.slots.get(relid as usize).ok_or(EINVAL)?;
        let raw = Arc::into_raw(ch).cast_mut();
        if slot.compare_exchange(null_mut(), raw, Ordering::AcqRel, Ordering::Acquire).is_err() {
            // SAFETY: `raw` is the reference we just made and did not store.
            drop(unsafe { Arc::from_raw(raw) });
            return Err(EEXIST);
        }
        Ok(())
    }

    /// The channel at `relid`.
    pub(crate) fn get(&self, relid: u32) -> Option<Arc<Channel>> {
        let _guard = kernel::sync::rcu::read_lock();
        let p = self.slots.get(relid as usize)?.load(Ordering::Acquire);
        if p.is_null() {
            return None;
        }
        // SAFETY: a stored pointer holds a table reference that `remove` drops only after an
        // RCU grace period; we hold the RCU read lock, so the channel is alive to take a new
        // reference.
        Some(unsafe { ArcBorrow::from_raw(p) }.into())
    }

    /// The first channel matching `f`.
    pub(crate) fn find(&self, f: impl Fn(&Channel) -> bool) -> Option<Arc<Channel>> {
        (1..MAX_CHANNEL_RELIDS).filter_map(|r| self.get(r)).find(|c| f(c))
    }

    /// Every channel.
    pub(crate) fn all(&self) -> KVec<Arc<Channel>> {
        let mut v = KVec::new();
        for r in 1..MAX_CHANNEL_RELIDS {
            if let Some(c) = self.get(r) {
                if v.push(c, GFP_KERNEL).is_err() {
                    break;
                }
            }
        }
        v
    }

    /// Drops the table's reference to `relid`.
    pub(crate) fn remove(&self, relid: u32) {
        let Some(slot) = self.slots.get(relid as usize) else { return };
        let p = slot.swap(null_mut(), Ordering::AcqRel);
        if !p.is_null() {
            kernel::sync::rcu::synchronize_rcu();
            // SAFETY: the table's reference, unpublished, with no reader left.
            drop(unsafe { Arc::from_raw(p) });
        }
    }

    /// Hard IRQ: the host signalled `relid`. False for an unknown relid.
    pub(crate) fn signal(&self, relid: u32) -> bool {
        match self.get(relid) {
            Some(ch) => {
                ch.on_event();
                true
            }
            None => false,
        }
    }

    /// A CPU for a new channel: the online CPUs in turn.
    pub(crate) fn pick_cpu(&self) -> u32 {
        let n = crate::shim::num_possible_cpus().max(1);
        for _ in 0..n {
            let c = self.next_cpu.fetch_add(1, Ordering::Relaxed) % n;
            if crate::shim::cpu_online(c) {
                return c;
            }
        }
        0
    }
}
