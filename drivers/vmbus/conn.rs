// SPDX-License-Identifier: GPL-2.0-only
//! The VMBus connection: version negotiation, channel-management messages to and from the host,
//! and the workers that turn offers and rescinds into devices on our bus.
//!
//! Contexts:
//! - the SynIC handler (hard IRQ, `isr.rs`) queues host messages and schedules the **message
//!   worker**, which parses each message (`vmbus_proto::message`) and updates state: responses
//!   complete the request waiting for them; offers and rescinds become device events;
//! - the **device worker** adds and removes devices and hands sub-channels to their drivers. It
//!   is separate because a driver's probe opens channels and waits for the host's answers,
//!   which the message worker must be free to process;
//! - requests (version, GPADL, open, unload) are sent from process context and wait, bounded,
//!   for their response.
//!
//! Everything the host sends is validated; a malformed or unexpected message costs one log
//! line (rate-limited) and is dropped.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use kernel::prelude::*;
use kernel::sync::{Arc, Mutex, SpinLock};
use kernel::time::Delta;
use kernel::workqueue::{self, Work, WorkItem};
use kernel::{new_mutex, new_spinlock, new_work};
use vmbus_proto::message::{self as msg, ChannelMessage};
use vmbus_proto::version;

use crate::channel::{Channel, ChannelTable};
use crate::isr::{self, IsrContext, IsrStats, MessageQueue};
use crate::mem::SharedBuffer;
use crate::pvg_hcall_api::PvgHcallOps;

/// SynIC message type of VMBus messages (`hv_post_message(..., 1, ...)`).
const VMBUS_MESSAGE_TYPE: u32 = 1;
/// How long a request waits for the host's answer.
pub(crate) const RESPONSE_TIMEOUT_MS: i64 = 10_000;

/// Things the device worker does, in order.
pub(crate) enum DevEvent {
    /// A primary channel was offered: create its device.
    Offer(Arc<Channel>),
    /// A sub-channel was offered: hand it to its primary's driver.
    SubOffer(Arc<Channel>),
    /// The host rescinded a channel.
    Rescind(Arc<Channel>),
}

/// Responses requests wait for, filled in by the message worker. A response is taken only when
/// a request awaits it (its id is in an `awaiting_*` list or `negotiating`/`unloading` is set);
/// anything else from the host is dropped and counted.
#[derive(Default)]
pub(crate) struct Pending {
    /// One INITIATE_CONTACT awaits its VERSION_RESPONSE; cleared by the response it takes, so a
    /// second answer to the same request (or a late one to a refused version) is dropped.
    pub(crate) negotiating: bool,
    pub(crate) unloading: bool,
    /// GPADLs being created or torn down, channels being opened.
    pub(crate) awaiting_gpadl: KVec<u32>,
    pub(crate) awaiting_teardown: KVec<u32>,
    pub(crate) awaiting_open: KVec<u32>,
    pub(crate) version: Option<msg::VersionResponse>,
    pub(crate) offers_delivered: bool,
    pub(crate) unloaded: bool,
    /// (gpadl, status) of GPADL_CREATED for GPADLs being created.
    pub(crate) gpadl_created: KVec<(u32, u32)>,
    /// GPADLs the host confirmed torn down.
    pub(crate) gpadl_torndown: KVec<u32>,
    /// (relid, status) of OPENCHANNEL_RESULT.
    pub(crate) opened: KVec<(u32, u32)>,
}

/// The connection state a request and the workers share.
pub(crate) struct Conn {
    /// Negotiated version (0 until connected).
    pub(crate) version: u32,
    /// Connection id to post messages to.
    pub(crate) msg_conn_id: u32,
    pub(crate) pending: Pending,
    pub(crate) dev_events: KVec<DevEvent>,
}

/// The VMBus core (one per system).
#[pin_data]
pub(crate) struct Core {
    pub(crate) ops: &'static PvgHcallOps,
    #[pin]
    pub(crate) queue: SpinLock<MessageQueue>,
    #[pin]
    pub(crate) conn: Mutex<Conn>,
    pub(crate) channels: ChannelTable,
    pub(crate) stats: IsrStats,
    #[pin]
    msg_work: Work<Core, 0>,
    #[pin]
    dev_work: Work<Core, 1>,
    /// The two monitor pages announced in INITIATE_CONTACT.
    monitor: SharedBuffer,
    next_gpadl: AtomicU32,
    /// Set once unloading: no new devices.
    pub(crate) stopping: AtomicBool,
    pub(crate) bad_messages: AtomicU64,
    bad_logged: AtomicBool,
}

kernel::impl_has_work! {
    impl HasWork<Core, 0> for Core { self.msg_work }
    impl HasWork<Core, 1> for Core { self.dev_work }
}

impl Core {
    pub(crate) fn new(ops: &'static PvgHcallOps) -> Result<Arc<Core>> {
        Arc::pin_init(
            try_pin_init!(Core {
                ops,
                queue <- new_spinlock!(MessageQueue::new()?, "pvg_vmbus_msgq"),
                conn <- new_mutex!(
                    Conn { version: 0, msg_conn_id: 0, pending: Pending::default(), dev_events: KVec::new() },
                    "pvg_vmbus_conn"
                ),
                channels: ChannelTable::new()?,
                stats: IsrStats::new(),
                msg_work <- new_work!("pvg_vmbus_msg"),
                dev_work <- new_work!("pvg_vmbus_dev"),
                monitor: SharedBuffer::new(2 * crate::mem::PAGE_SIZE)?,
                next_gpadl: AtomicU32::new(0x1000),
                stopping: AtomicBool::new(false),
                bad_messages: AtomicU64::new(0),
                bad_logged: AtomicBool::new(false),
            }),
            GFP_KERNEL,
        )
    }

    /// A fresh GPADL handle (never 0).
    pub(crate) fn new_gpadl_id(&self) -> u32 {
        loop {
            let id = self.next_gpadl.fetch_add(1, Ordering::Relaxed);
            if id != 0 {
                return id;
            }
        }
    }

    /// A request stopped waiting for `id` (answered or timed out): a late answer is then
    /// unexpected.
    pub(crate) fn forget_awaited(&self, list: impl FnOnce(&mut Pending) -> &mut KVec<u32>, id: u32) {
        let mut c = self.conn.lock();
        let l = list(&mut c.pending);
        if let Some(i) = l.iter().position(|x| *x == id) {
            let _ = l.remove(i);
        }
    }

    /// Negotiated version.
    pub(crate) fn version(&self) -> u32 {
        self.conn.lock().version
    }

    /// Posts a channel message to the host (retrying briefly while the hypervisor is short of
    /// message buffers, as Linux's vmbus_post_msg does).
    pub(crate) fn post(&self, m: &ChannelMessage<'_>) -> Result {
        let mut buf = [0u8; msg::MAX_MESSAGE_SIZE];
        let len = m.encode(&mut buf).map_err(|_| EINVAL)?;
        let conn_id = {
            let c = self.conn.lock();
            if c.msg_conn_id != 0 { c.msg_conn_id } else { version::MESSAGE_CONNECTION_ID }
        };
        self.post_raw(conn_id, &buf[..len])
    }

    fn post_raw(&self, conn_id: u32, payload: &[u8]) -> Result {
        let mut last = Ok(());
        for attempt in 0..20u32 {
            // SAFETY: `payload` holds `len` bytes; the table may be called from any context.
            let rc = unsafe { (self.ops.post_message)(conn_id, VMBUS_MESSAGE_TYPE, payload.as_ptr(), payload.len() as u32) };
            match rc {
                0 => return Ok(()),
                e if e == ENODEV.to_errno() || e == EINVAL.to_errno() || e == ETIMEDOUT.to_errno() => {
                    return Err(Error::from_errno(e))
                }
                e => last = Err(Error::from_errno(e)),
            }
            kernel::time::delay::fsleep(Delta::from_millis(i64::from(1 + attempt.min(9))));
        }
        last
    }

    /// Waits (sleeping, bounded) until `done` says the awaited response arrived; returns what
    /// it extracted.
    pub(crate) fn wait_for<R>(&self, what: &str, mut done: impl FnMut(&mut Conn) -> Option<R>) -> Result<R> {
        let deadline = now_ms() + RESPONSE_TIMEOUT_MS;
        loop {
            if let Some(r) = done(&mut self.conn.lock()) {
                return Ok(r);
            }
            if now_ms() > deadline {
                pr_err!("the host did not answer {} within {} ms\n", what, RESPONSE_TIMEOUT_MS);
                return Err(ETIMEDOUT);
            }
            kernel::time::delay::fsleep(Delta::from_millis(1));
        }
    }

    /// Negotiates the protocol version, newest first, then asks for the offers and waits until
    /// the host says all were delivered.
    pub(crate) fn connect(&self) -> Result<u32> {
        // SAFETY: table functions may be called from any context.
        let target_vcpu = unsafe { (self.ops.vp_index)(version::CONNECT_CPU) };
        let (m1, m2) = (self.monitor.pfn(0) << 12, self.monitor.pfn(1) << 12);
        let v = self.negotiate(target_vcpu, m1, m2)?;
        self.post(&ChannelMessage::RequestOffers)?;
        self.wait_for("REQUESTOFFERS", |c| c.pending.offers_delivered.then_some(()))?;
        // Devices for the initial offers exist when we return (as Linux's vmbus_request_offers
        // does), so drivers loaded next find them.
        // SAFETY: `dev_work` is an initialised member; flushing waits for queued work.
        unsafe { kernel::bindings::flush_work(Work::<Core, 1>::raw_get(&raw const self.dev_work)) };
        Ok(v)
    }

    fn negotiate(&self, target_vcpu: u32, m1: u64, m2: u64) -> Result<u32> {
        let mut accepted = None;
        for v in version::guest_versions(version::NEWEST) {
            {
                let mut c = self.conn.lock();
                c.pending.version = None;
                c.pending.negotiating = true;
            }
            let target = if version::contact_has_target_info(v) {
                msg::ContactTarget::TargetInfo { msg_sint: version::MESSAGE_SINT, msg_vtl: 0, feature_flags: 0 }
            } else {
                // Versions before 5.0 want an interrupt page; with SynIC event flags (Win8+)
                // it is not used for signalling, but must be a valid page: the monitor page.
                msg::ContactTarget::InterruptPage(m1)
            };
            let req = msg::InitiateContact::new(v, target_vcpu, target, m1, m2);
            let mut buf = [0u8; msg::MAX_MESSAGE_SIZE];
            let len = ChannelMessage::InitiateContact(req).encode(&mut buf).map_err(|_| EINVAL)?;
            let resp = self
                .post_raw(version::contact_connection_id(v), &buf[..len])
                .and_then(|()| self.wait_for("INITIATE_CONTACT", |c| c.pending.version.take()));
            self.conn.lock().pending.negotiating = false;
            let resp = resp?;
            if resp.version_supported != 0 {
                let conn_id = version::message_connection_id(v, resp.msg_conn_id);
                let mut c = self.conn.lock();
                c.version = v;
                c.msg_conn_id = conn_id;
                accepted = Some(v);
                break;
            }
        }
        accepted.ok_or_else(|| {
            pr_err!("the host accepted none of the VMBus versions Linux speaks\n");
            ENODEV
        })
    }

    /// Says goodbye (UNLOAD), waiting bounded for the host's answer.
    pub(crate) fn unload(&self) {
        if self.version() == 0 {
            return;
        }
        self.conn.lock().pending.unloading = true;
        if self.post(&ChannelMessage::Unload).is_ok() {
            let _ = self.wait_for("UNLOAD", |c| c.pending.unloaded.then_some(()));
        }
        self.conn.lock().pending.unloading = false;
    }

    /// Waits for both workers to finish what they are doing (unload).
    pub(crate) fn flush_workers(&self) {
        // SAFETY: both work items are initialised members of `self`. Flushing (not cancelling:
        // a cancelled item would never release the `Arc` the queue holds) waits until a queued
        // or running instance has finished.
        unsafe {
            kernel::bindings::flush_work(Work::<Core, 0>::raw_get(&raw const self.msg_work));
            kernel::bindings::flush_work(Work::<Core, 1>::raw_get(&raw const self.dev_work));
        }
    }

    /// The SynIC handler's part of the work (hard IRQ).
    pub(crate) fn on_interrupt(self: &Arc<Self>, vp: u32) {
        let ctx = IsrContext { ops: self.ops, queue: &self.queue, channels: &self.channels, stats: &self.stats };
        if isr::handle(&ctx, vp) {
            let _ = default_queue().enqueue::<Arc<Core>, 0>(self.clone());
        }
    }

    fn bad(&self, what: &str, detail: u32) {
        self.bad_messages.fetch_add(1, Ordering::Relaxed);
        if !self.bad_logged.swap(true, Ordering::Relaxed) {
            pr_warn!("dropped a host message: {} ({:#x}); further ones are only counted\n", what, detail);
        }
    }

    /// The message worker: parse and act on every queued message.
    fn process_messages(self: &Arc<Self>) {
        loop {
            let m = {
                // The guard must be a local declared after `_irqs`, so that it is released
                // before interrupts come back on: a temporary in the block's tail expression
                // would outlive `_irqs`, and the SynIC ISR taking the queue lock on this CPU
                // would then spin forever (seen as an RCU stall under storage load).
                let _irqs = crate::shim::IrqsOff::new();
                let mut q = self.queue.lock();
                q.pop()
            };
            let Some(m) = m else { break };
            if m.message_type != VMBUS_MESSAGE_TYPE {
                self.bad("unexpected SynIC message type", m.message_type);
                continue;
            }
            match msg::parse(m.payload()) {
                Ok(cm) => self.dispatch(cm),
                Err(e) => self.bad(e.as_str(), m.payload().first().copied().map_or(0, u32::from)),
            }
        }
    }

    fn dispatch(self: &Arc<Self>, m: ChannelMessage<'_>) {
        let mut dev = false;
        {
            let mut c = self.conn.lock();
            // Takes `id` out of an awaiting list: whether someone waits for it.
            fn take(list: &mut KVec<u32>, id: u32) -> bool {
                match list.iter().position(|x| *x == id) {
                    Some(i) => list.remove(i).is_ok(),
                    None => false,
                }
            }
            let unexpected = match m {
                ChannelMessage::VersionResponse(r) if c.pending.negotiating => {
                    c.pending.negotiating = false;
                    c.pending.version = Some(r);
                    None
                }
                ChannelMessage::AllOffersDelivered => {
                    c.pending.offers_delivered = true;
                    None
                }
                ChannelMessage::UnloadResponse if c.pending.unloading && !c.pending.unloaded => {
                    c.pending.unloaded = true;
                    None
                }
                ChannelMessage::GpadlCreated(g) if take(&mut c.pending.awaiting_gpadl, g.gpadl) => {
                    let (gpadl, status) = (g.gpadl, g.creation_status);
                    c.pending.gpadl_created.push((gpadl, status), GFP_KERNEL).err().map(|_| ("out of memory", gpadl))
                }
                ChannelMessage::GpadlTorndown(g) if take(&mut c.pending.awaiting_teardown, g.gpadl) => {
                    let gpadl = g.gpadl;
                    c.pending.gpadl_torndown.push(gpadl, GFP_KERNEL).err().map(|_| ("out of memory", gpadl))
                }
                ChannelMessage::OpenResult(r) if take(&mut c.pending.awaiting_open, r.child_relid) => {
                    let (relid, status) = (r.child_relid, r.status);
                    c.pending.opened.push((relid, status), GFP_KERNEL).err().map(|_| ("out of memory", relid))
                }
                ChannelMessage::VersionResponse(_)
                | ChannelMessage::UnloadResponse
                | ChannelMessage::GpadlCreated(_)
                | ChannelMessage::GpadlTorndown(_)
                | ChannelMessage::OpenResult(_) => Some(("a response to nothing the guest asked", m.message_type().raw())),
                _ => None,
            };
            if let Some((what, id)) = unexpected {
                drop(c);
                self.bad(what, id);
                return;
            }
            match m {
                ChannelMessage::VersionResponse(_)
                | ChannelMessage::AllOffersDelivered
                | ChannelMessage::UnloadResponse
                | ChannelMessage::GpadlCreated(_)
                | ChannelMessage::GpadlTorndown(_)
                | ChannelMessage::OpenResult(_) => {}
                ChannelMessage::OfferChannel(o) => {
                    drop(c);
                    self.on_offer(o);
                    return;
                }
                ChannelMessage::RescindChannelOffer(r) => {
                    let relid = r.child_relid;
                    match self.channels.get(relid) {
                        Some(ch) => {
                            ch.mark_rescinded();
                            dev = c.dev_events.push(DevEvent::Rescind(ch), GFP_KERNEL).is_ok();
                        }
                        None => {
                            drop(c);
                            self.bad("rescind of an unknown channel", relid);
                            return;
                        }
                    }
                }
                other => {
                    let t = other.message_type().raw();
                    drop(c);
                    self.bad("a message a guest does not expect", t);
                    return;
                }
            }
        }
        if dev {
            let _ = workqueue::system_long().enqueue::<Arc<Core>, 1>(self.clone());
        }
    }

    fn on_offer(self: &Arc<Self>, o: msg::OfferChannel) {
        let relid = o.child_relid;
        if self.stopping.load(Ordering::Acquire) {
            return;
        }
        if relid == 0 || relid >= msg::MAX_CHANNEL_RELIDS {
            self.bad("offer with a relid outside 1..2048", relid);
            return;
        }
        if self.channels.get(relid).is_some() {
            self.bad("duplicate offer", relid);
            return;
        }
        let v = self.version();
        let ch = match Channel::new(self.clone(), o, v) {
            Ok(ch) => ch,
            Err(_) => {
                self.bad("out of memory for an offer", relid);
                return;
            }
        };
        if self.channels.insert(relid, ch.clone()).is_err() {
            self.bad("cannot track the offered channel", relid);
            return;
        }
        let ev = if o.is_sub_channel() { DevEvent::SubOffer(ch) } else { DevEvent::Offer(ch) };
        if self.conn.lock().dev_events.push(ev, GFP_KERNEL).is_ok() {
            let _ = workqueue::system_long().enqueue::<Arc<Core>, 1>(self.clone());
        }
    }

    /// The device worker.
    fn process_devices(self: &Arc<Self>) {
        loop {
            let ev = {
                let mut c = self.conn.lock();
                if c.dev_events.is_empty() {
                    None
                } else {
                    Some(c.dev_events.remove(0))
                }
            };
            let Some(Ok(ev)) = ev else { break };
            match ev {
                DevEvent::Offer(ch) => ch.add_device(),
                DevEvent::SubOffer(ch) => ch.offer_to_primary(),
                DevEvent::Rescind(ch) => ch.handle_rescind(),
            }
        }
    }
}

impl WorkItem<0> for Core {
    type Pointer = Arc<Core>;
    fn run(this: Arc<Core>) {
        this.process_messages();
    }
}

impl WorkItem<1> for Core {
    type Pointer = Arc<Core>;
    fn run(this: Arc<Core>) {
        this.process_devices();
    }
}

/// The kernel's default (unbound) workqueue, `system_dfl_wq`: `system_wq`, which the Rust
/// `workqueue::system()` returns, is deprecated in 7.x and warns when used.
fn default_queue() -> &'static workqueue::Queue {
    // SAFETY: `system_dfl_wq` is created at boot and never destroyed.
    unsafe { workqueue::Queue::from_raw(kernel::bindings::system_dfl_wq) }
}

/// Monotonic milliseconds.
pub(crate) fn now_ms() -> i64 {
    // SAFETY: reads the monotonic clock.
    let ns = unsafe { kernel::bindings::ktime_get() };
    ns / 1_000_000
}

