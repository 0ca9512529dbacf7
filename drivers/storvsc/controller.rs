// SPDX-License-Identifier: GPL-2.0-only
//! One synthetic SCSI controller (a VMBus storage device): its channels, the VSTOR
//! initialization, control requests with bounded waits, error recovery and teardown.
//!
//! Bring-up: `probe` opens the primary channel, runs the VSTOR initialization and asks for
//! sub-channels; the controller's work item then opens the sub-channels the host offered
//! (the core hands them over only after `probe` returned), builds one hardware queue per
//! open channel and scans the LUNs. Later runs of the work item rescan (`ENUMERATE_BUS`,
//! unit attentions) or take the controller down when the callback found the host's packets
//! unusable.
//!
//! Lifetime: `probe` builds a pinned [`Controller`] and keeps it as the device's driver data
//! until `remove`. Channel callbacks (ctx = the controller) run until the channels are
//! closed; the work item is cancelled before teardown; the tag set and disks point back to
//! the controller and are gone before it is freed.
//!
//! Locks, outermost first; none is held while waiting for the host except `ctl`:
//! - `scan` (mutex): one LUN scan at a time and teardown.
//! - `eh` (mutex): one recovery at a time (timeouts) and the dead transition. The timeout
//!   handler takes it, so no path holding it may wait for block I/O (`del_gendisk`,
//!   `device_add_disk` run under `scan` only).
//! - `ctl` (mutex): one control request in flight; owns the data page it uses.
//! - `luns` (mutex): the disk list, held briefly.
//! - `ctl_slot`, `work_gate` (IRQ spinlocks): shared with the channel callback.

use core::ffi::c_void;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering};

use kernel::{
    bindings, new_mutex, new_spinlock_irq,
    prelude::*,
    sync::{Arc, Mutex, SetOnce, SpinLockIrq},
    types::ForeignOwnable,
};
use vstor_proto::{
    cdb::Cdb,
    guest::{self, IoSlot},
    init::{GuestInit, InitProgress, Negotiated},
    srb,
    vstor::{
        encode_execute_srb, encode_request, parse_completion, Completion, DataDirection, Expect,
        ProtocolVersion, RequestBody, ScsiAddress, SrbRequest, VSTOR_PACKET_SIZE,
    },
};

use crate::blk::{OwnedRequest, Status, TagSet};
use crate::io::Storvsc;
use crate::lun::LunEntry;
use crate::shim;
use crate::work::{self, LogLimit, Work};
use crate::stats::{DebugfsFiles, QueueStats, Stats};
use crate::vmbus::{self, packet, Channel, ChannelHandler, Device};
use crate::{Params, Shared};

/// Channels (hardware queues) per controller at most.
pub(crate) const MAX_CHANNELS: u32 = 64;
/// How long a timed-out request's reset gives the host to return what it aborted.
const RESET_DRAIN_MS: u32 = 2000;
/// One 4 KiB page.
const PAGE: usize = 4096;

/// One channel slot: the primary (index 0) or a sub-channel (its sub-channel index).
#[derive(Default)]
pub(crate) struct Chan {
    /// The channel, once known (offered).
    raw: AtomicPtr<crate::pvg_vmbus_api::RawChannel>,
    /// Opened by us and not yet closed.
    open: AtomicBool,
}

/// A page the host reads or writes by guest-physical address (control requests' data).
///
/// # Invariants
///
/// `ptr` is a live, page-aligned 4 KiB allocation owned by this object, accessed only
/// through raw pointers (the host may write it at any time).
struct DmaPage {
    ptr: core::ptr::NonNull<PageBuf>,
}

#[repr(C, align(4096))]
struct PageBuf([u8; PAGE]);

// SAFETY: plain memory, accessed through raw pointers only.
unsafe impl Send for DmaPage {}

impl DmaPage {
    fn new() -> Result<Self> {
        let mut b = KBox::<PageBuf>::new_uninit(GFP_KERNEL)?;
        // SAFETY: writing zeros makes the `PageBuf` (a byte array) initialised.
        let b = unsafe {
            b.as_mut_ptr().write_bytes(0, 1);
            b.assume_init()
        };
        // INVARIANT: a fresh aligned allocation we own.
        Ok(DmaPage { ptr: core::ptr::NonNull::new(KBox::into_raw(b)).ok_or(ENOMEM)? })
    }

    fn pfn(&self) -> u64 {
        shim::virt_to_phys(self.ptr.as_ptr()) >> 12
    }

    /// Zeroes the page.
    fn clear(&self) {
        // SAFETY: our allocation (invariant); volatile so a concurrent host write is not UB.
        unsafe {
            let p = self.ptr.as_ptr().cast::<u64>();
            for i in 0..PAGE / 8 {
                p.add(i).write_volatile(0);
            }
        }
    }

    /// Copies the first `out.len()` bytes (at most a page) out of the page.
    fn read(&self, out: &mut [u8]) {
        let p = self.ptr.as_ptr().cast::<u8>();
        for (i, b) in out.iter_mut().take(PAGE).enumerate() {
            // SAFETY: `i < PAGE`, inside our allocation (invariant).
            *b = unsafe { p.add(i).read_volatile() };
        }
    }
}

impl Drop for DmaPage {
    fn drop(&mut self) {
        // SAFETY: from `KBox::into_raw` in `new`, freed once here.
        drop(unsafe { KBox::from_raw(self.ptr.as_ptr()) });
    }
}

/// What only the holder of the control lock uses.
struct CtlBufs {
    /// The data page of SCSI control commands.
    page: DmaPage,
    /// Pages of control commands the host never answered: it may still write them, so they
    /// are freed only after the channels are closed (with the controller).
    quarantine: KVec<DmaPage>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum CtlState {
    Idle,
    Waiting,
    Done,
}

/// The one outstanding control request, shared with the channel callback.
struct CtlSlot {
    seq: u32,
    state: CtlState,
    len: usize,
    pkt: [u8; VSTOR_PACKET_SIZE],
}

/// A control request's answer: the VSTOR packet.
pub(crate) struct CtlReply {
    pkt: [u8; VSTOR_PACKET_SIZE],
    len: usize,
}

impl CtlReply {
    /// The packet bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        self.pkt.get(..self.len).unwrap_or(&[])
    }
}

/// The I/O side, fixed once the channels are open.
pub(crate) struct IoState {
    /// Negotiated protocol version.
    pub(crate) version: ProtocolVersion,
    /// Hardware queue → channel index.
    pub(crate) queue_chan: KVec<u16>,
    /// Hardware queue → the CPU its channel interrupts.
    pub(crate) targets: KVec<u32>,
    /// Tags per queue.
    pub(crate) depth: u32,
    /// Largest transfer in bytes (page aligned).
    pub(crate) max_transfer: u32,
    /// Page-list entries per request (the PDU tail).
    pub(crate) pages: u32,
    /// In-flight state per (queue, tag).
    pub(crate) slots: KVec<IoSlot>,
    /// The request of each slot while in flight.
    pub(crate) rqs: KVec<AtomicPtr<bindings::request>>,
    /// The slot's request timed out and a reset was sent for it: if the host hands it back
    /// as retryable (aborted by the reset), it fails instead (no second round of waiting).
    pub(crate) timed_out: KVec<AtomicBool>,
    /// When the slot's request was sent (monotonic ns).
    pub(crate) sent_at: KVec<AtomicU64>,
    /// Page frame of the zero page (WRITE SAME data).
    pub(crate) zero_pfn: u64,
}

impl IoState {
    /// Number of hardware queues.
    pub(crate) fn nr_queues(&self) -> u32 {
        self.queue_chan.len() as u32
    }
}

/// One storage controller.
#[pin_data(PinnedDrop)]
pub(crate) struct Controller {
    pub(crate) dev: Device,
    /// The device instance GUID, for logs and debugfs.
    pub(crate) name: vmbus::GuidStr,
    /// `vmscsi_request.port_number` (Linux: the SCSI host number).
    pub(crate) port: u8,
    pub(crate) params: Params,
    pub(crate) shared: *const Shared,
    chans: KVec<Chan>,
    #[pin]
    ctl: Mutex<CtlBufs>,
    #[pin]
    ctl_slot: SpinLockIrq<CtlSlot>,
    ctl_seq: AtomicU32,
    /// What initialization agreed (set in probe).
    negotiated: SetOnce<Negotiated>,
    pub(crate) io: SetOnce<IoState>,
    pub(crate) tagset: SetOnce<Pin<KBox<TagSet<Storvsc>>>>,
    /// New I/O fails at once.
    pub(crate) dead: AtomicBool,
    /// [`Controller::kill`] ran: channels closed, in-flight I/O failed.
    killed: AtomicBool,
    /// The channel callback found the host's packets unusable; the work item kills.
    broken: AtomicBool,
    /// The work item ran [`Controller::setup`] (once, whatever came of it).
    setup_started: AtomicBool,
    /// A discovery command of the current scan went unanswered: the rest of the scan fails
    /// at once instead of waiting for each command (reset when a scan starts).
    pub(crate) scan_silent: AtomicBool,
    /// When the host last answered a reset (monotonic ns): requests sent before that and
    /// still not completed are failed without another reset.
    last_reset_ns: AtomicU64,
    pub(crate) removing: AtomicBool,
    #[pin]
    pub(crate) eh: Mutex<()>,
    #[pin]
    pub(crate) scan: Mutex<()>,
    #[pin]
    pub(crate) luns: Mutex<KVec<LunEntry>>,
    /// Setup after probe, rescans, and kills requested from the callback.
    #[pin]
    work: Work,
    #[pin]
    work_gate: SpinLockIrq<bool>,
    pub(crate) stats: Arc<Stats>,
    debugfs: SetOnce<DebugfsFiles>,
    pub(crate) log_bad: LogLimit,
    pub(crate) log_io: LogLimit,
}

// SAFETY: everything shared is atomics or lock-protected; `shared` points to the module's
// state, which outlives every device; `Device` is Send + Sync.
unsafe impl Send for Controller {}
// SAFETY: as above.
unsafe impl Sync for Controller {}

/// Port numbers handed out (informational, like SCSI host numbers).
static NEXT_PORT: AtomicU32 = AtomicU32::new(0);

impl Controller {
    fn new(dev: Device, shared: &Shared, name: vmbus::GuidStr, nchans: usize) -> Result<impl PinInit<Self, Error>> {
        let mut chans = KVec::with_capacity(nchans, GFP_KERNEL)?;
        for _ in 0..nchans {
            chans.push(Chan::default(), GFP_KERNEL)?;
        }
        let stats = Stats::new(nchans)?;
        let bufs = CtlBufs { page: DmaPage::new()?, quarantine: KVec::new() };
        let params = shared.params;
        let shared: *const Shared = shared;
        Ok(try_pin_init!(Controller {
            dev,
            name,
            port: NEXT_PORT.fetch_add(1, Ordering::Relaxed) as u8,
            params,
            shared,
            chans,
            ctl <- new_mutex!(bufs),
            ctl_slot <- new_spinlock_irq!(CtlSlot { seq: 0, state: CtlState::Idle, len: 0, pkt: [0; VSTOR_PACKET_SIZE] }),
            ctl_seq: AtomicU32::new(0),
            negotiated: SetOnce::new(),
            io: SetOnce::new(),
            tagset: SetOnce::new(),
            dead: AtomicBool::new(false),
            killed: AtomicBool::new(false),
            broken: AtomicBool::new(false),
            setup_started: AtomicBool::new(false),
            last_reset_ns: AtomicU64::new(0),
            scan_silent: AtomicBool::new(false),
            removing: AtomicBool::new(false),
            eh <- new_mutex!(()),
            scan <- new_mutex!(()),
            luns <- new_mutex!(KVec::new()),
            work <- Work::new(work_fn),
            work_gate <- new_spinlock_irq!(false),
            stats,
            debugfs: SetOnce::new(),
            log_bad: LogLimit::new(),
            log_io: LogLimit::new(),
        }? Error))
    }

    /// The module-wide state.
    pub(crate) fn shared(&self) -> &Shared {
        // SAFETY: the module's state outlives the driver registration and so every device.
        unsafe { &*self.shared }
    }

    /// The channel at `index` if we have it open.
    pub(crate) fn open_chan(&self, index: u16) -> Option<Channel> {
        let c = self.chans.get(usize::from(index))?;
        if !c.open.load(Ordering::Acquire) {
            return None;
        }
        // SAFETY: a channel the core handed us for this device (offer or primary).
        unsafe { Channel::from_raw(c.raw.load(Ordering::Acquire)) }
    }

    /// The index of `chan` among ours, if it is one of them.
    pub(crate) fn chan_index(&self, chan: Channel) -> Option<u16> {
        let i = chan.index();
        let c = self.chans.get(usize::from(i))?;
        (c.raw.load(Ordering::Acquire) == chan.as_ptr()).then_some(i)
    }

    fn open_channel(&self, index: usize, chan: Channel) -> Result {
        let c = self.chans.get(index).ok_or(EINVAL)?;
        c.raw.store(chan.as_ptr(), Ordering::Release);
        let online = shim::num_online_cpus().max(1);
        let cpu = shim::nth_online_cpu(index as u32 % online).map_or(-1, |c| c as i32);
        let (send, recv) = (self.params.send_ring, self.params.recv_ring);
        // SAFETY: the controller is pinned and outlives its open channels: every path that
        // frees it closes them first (`shutdown`).
        unsafe { chan.open::<Controller>(send, recv, index == 0, self, cpu)? };
        c.open.store(true, Ordering::Release);
        Ok(())
    }

    /// Closes every open channel, sub-channels first; afterwards no callback runs.
    pub(crate) fn close_channels(&self) {
        for c in self.chans.iter().rev() {
            if c.open.swap(false, Ordering::AcqRel) {
                // SAFETY: a channel the core handed us, which we had open.
                if let Some(ch) = unsafe { Channel::from_raw(c.raw.load(Ordering::Acquire)) } {
                    ch.close();
                }
            }
        }
    }

    fn primary(&self) -> Option<Channel> {
        // SAFETY: the primary channel of our device, if set.
        self.chans.first().and_then(|c| unsafe { Channel::from_raw(c.raw.load(Ordering::Acquire)) })
    }

    // -- control requests -------------------------------------------------------------------

    fn next_seq(&self) -> u32 {
        let mut cur = self.ctl_seq.load(Ordering::Relaxed);
        loop {
            let next = guest::next_generation(cur);
            match self.ctl_seq.compare_exchange(cur, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return next,
                Err(v) => cur = v,
            }
        }
    }

    /// Sends one control packet on the primary channel (with `data` as a GPA range of the
    /// control page) and waits up to `timeout_ms` for its completion.
    fn exchange(&self, bufs: &mut CtlBufs, pkt: &[u8], data: Option<u32>, timeout_ms: u32) -> Result<CtlReply> {
        let chan = self.open_chan(0).ok_or(ENODEV)?;
        let seq = self.next_seq();
        {
            let mut s = self.ctl_slot.lock();
            s.seq = seq;
            s.state = CtlState::Waiting;
            s.len = 0;
        }
        let id = guest::TransId::Control { seq }.encode();
        let flags = packet::FLAG_COMPLETION_REQUESTED;
        let start = work::now();
        loop {
            let sent = match data {
                Some(len) => chan.send_gpa(flags, id, 0, len, &[bufs.page.pfn()], pkt),
                None => chan.send(packet::DATA_INBAND, flags, id, pkt),
            };
            match sent {
                Ok(()) => break,
                // The ring is full of I/O: wait for room (bounded by the same timeout).
                Err(e) if vmbus::is_ring_full(e) && !work::elapsed_ms(&start, timeout_ms) => work::sleep_ms(1),
                Err(e) => {
                    self.ctl_slot.lock().state = CtlState::Idle;
                    return Err(e);
                }
            }
        }
        loop {
            {
                let mut s = self.ctl_slot.lock();
                if s.state == CtlState::Done && s.seq == seq {
                    s.state = CtlState::Idle;
                    return Ok(CtlReply { pkt: s.pkt, len: s.len });
                }
                let give_up = self.dead.load(Ordering::Acquire) || work::elapsed_ms(&start, timeout_ms);
                if give_up {
                    s.state = CtlState::Idle;
                    break;
                }
            }
            work::sleep_ms(1);
        }
        self.stats.control_timeouts.fetch_add(1, Ordering::Relaxed);
        if data.is_some() {
            // The host may still write the page: keep it until the channels are closed.
            let fresh = DmaPage::new()?;
            let old = core::mem::replace(&mut bufs.page, fresh);
            bufs.quarantine.push(old, GFP_KERNEL)?;
        }
        Err(if self.dead.load(Ordering::Acquire) { ENODEV } else { ETIMEDOUT })
    }

    /// The channel callback's half of a control request.
    pub(crate) fn ctl_complete(&self, seq: u32, payload: &[u8]) {
        let mut s = self.ctl_slot.lock();
        if s.state != CtlState::Waiting || s.seq != seq {
            drop(s);
            self.bad_packet(format_args!("stale or unknown control completion {}", seq));
            return;
        }
        let n = payload.len().min(VSTOR_PACKET_SIZE);
        s.pkt = [0; VSTOR_PACKET_SIZE];
        if let (Some(d), Some(src)) = (s.pkt.get_mut(..n), payload.get(..n)) {
            d.copy_from_slice(src);
        }
        s.len = n;
        s.state = CtlState::Done;
    }

    /// A control operation without data (initialization steps, resets, sub-channels).
    pub(crate) fn control_op(&self, body: &RequestBody, version: Option<ProtocolVersion>, expect: Expect, timeout_ms: u32) -> Result<Completion> {
        let mut pkt = [0u8; VSTOR_PACKET_SIZE];
        let n = encode_request(&mut pkt, version, body).map_err(|_| EINVAL)?;
        let mut bufs = self.ctl.lock();
        let reply = self.exchange(&mut bufs, pkt.get(..n).unwrap_or(&[]), None, timeout_ms)?;
        parse_completion(reply.bytes(), expect).map_err(|e| {
            pr_warn!("{}: malformed answer to {}: {}\n", self.name.as_str(), body.operation().name(), e.as_str());
            EPROTO
        })
    }

    /// Runs a SCSI command with up to `alloc` bytes of data-in on `lun` (discovery), retrying
    /// what [`guest::decide`] retries; the data is copied into `out`. Returns the bytes.
    pub(crate) fn scsi(&self, lun: u8, cdb: &Cdb, alloc: u32, out: &mut [u8]) -> Result<usize> {
        let io = self.io.as_ref().ok_or(ENODEV)?;
        let alloc = alloc.min(PAGE as u32).min(u32::try_from(out.len()).unwrap_or(u32::MAX));
        let dir = if alloc == 0 { DataDirection::None } else { DataDirection::Read };
        let addr = ScsiAddress { port_number: self.port, path_id: 0, target_id: 0, lun };
        let srb = SrbRequest::new(addr, cdb.as_bytes(), dir, alloc, false).map_err(|_| EINVAL)?;
        let mut pkt = [0u8; VSTOR_PACKET_SIZE];
        let n = encode_execute_srb(&mut pkt, io.version, &srb).map_err(|_| EINVAL)?;
        let mut retries = 0u8;
        loop {
            let mut bufs = self.ctl.lock();
            bufs.page.clear();
            let data = (alloc > 0).then_some(alloc);
            if self.scan_silent.load(Ordering::Relaxed) {
                return Err(ETIMEDOUT);
            }
            let reply = self.exchange(&mut bufs, pkt.get(..n).unwrap_or(&[]), data, self.params.ctl_timeout_ms).inspect_err(|e| {
                if *e == ETIMEDOUT {
                    self.scan_silent.store(true, Ordering::Relaxed);
                    pr_warn!("{}: LUN {}: no answer to opcode {:#04x}; ending this scan\n", self.name.as_str(), lun, cdb.opcode());
                }
            })?;
            let issued = guest::Issued { opcode: cdb.opcode(), data_len: alloc, full_transfer: false, retries };
            let c = guest::check_completion(reply.bytes(), io.version, &issued).map_err(|e| {
                pr_warn!("{}: LUN {}: bad completion of opcode {:#04x}: {}\n", self.name.as_str(), lun, cdb.opcode(), e.as_str());
                EPROTO
            })?;
            match guest::decide(&issued, &c).0 {
                guest::Decision::Complete(0) => {
                    let got = c.transferred(alloc) as usize;
                    let dst = out.get_mut(..got).ok_or(EPROTO)?;
                    bufs.page.read(dst);
                    return Ok(got);
                }
                guest::Decision::Retry => {
                    drop(bufs);
                    retries = retries.saturating_add(1);
                    work::sleep_ms(10);
                }
                guest::Decision::Complete(st) => {
                    match vstor_proto::sense::decode(c.sense_data()) {
                        Ok(d) => pr_debug!(
                            "{}: LUN {}: opcode {:#04x} failed: srb {:#04x} scsi {:#04x} sense {:x}/{:02x}/{:02x}\n",
                            self.name.as_str(), lun, cdb.opcode(), c.srb_status, c.scsi_status, d.key, d.asc, d.ascq
                        ),
                        Err(_) => pr_debug!(
                            "{}: LUN {}: opcode {:#04x} failed: srb {:#04x} scsi {:#04x}, no valid sense data\n",
                            self.name.as_str(), lun, cdb.opcode(), c.srb_status, c.scsi_status
                        ),
                    }
                    return Err(if st == srb::blk_status::OFFLINE { ENODEV } else { EIO });
                }
            }
        }
    }

    // -- initialization -------------------------------------------------------------------

    /// `BEGIN_INITIALIZATION` … `END_INITIALIZATION` (`storvsc_channel_init`).
    fn negotiate(&self) -> Result<Negotiated> {
        let mut init = GuestInit::new();
        for _ in 0..16 {
            let mut pkt = [0u8; VSTOR_PACKET_SIZE];
            let n = init.encode_request(&mut pkt).map_err(|_| EINVAL)?;
            let step = init.request().map_or("?", |r| r.operation().name());
            let reply = {
                let mut bufs = self.ctl.lock();
                self.exchange(&mut bufs, pkt.get(..n).unwrap_or(&[]), None, self.params.ctl_timeout_ms)
            };
            let reply = reply.map_err(|e| {
                pr_err!("{}: no answer to {} ({:?}); is the storage VSP running?\n", self.name.as_str(), step, e);
                e
            })?;
            match init.on_completion(reply.bytes()) {
                Ok(InitProgress::Continue) => {}
                Ok(InitProgress::Done(neg)) => return Ok(neg),
                Err(e) => {
                    pr_err!("{}: initialization failed at {}: {}\n", self.name.as_str(), step, e.as_str());
                    return Err(EPROTO);
                }
            }
        }
        Err(EPROTO)
    }

    /// Probe's part: open the primary channel, negotiate, ask for sub-channels. The rest
    /// ([`Controller::setup`]) runs in the work item, because the core delivers the
    /// sub-channel offers on the thread that runs `probe`.
    fn start(&self, primary: Channel) -> Result {
        let name = self.name.as_str();
        self.open_channel(0, primary).map_err(|e| {
            pr_err!("{}: cannot open the primary channel: {:?}\n", name, e);
            e
        })?;
        let neg = self.negotiate()?;
        self.negotiated.populate(neg);
        let v = neg.version;
        self.stats.version.store(u32::from(v.major_minor()), Ordering::Relaxed);
        let want = neg.properties.sub_channels_to_request(v, self.chans.len() as u32);
        if want > 0 {
            self.stats.sub_requested.store(u32::from(want), Ordering::Relaxed);
            let r = self.control_op(&RequestBody::CreateSubChannels(want), Some(v), Expect::Status, self.params.ctl_timeout_ms);
            match r {
                Ok(c) if c.ok() => {}
                Ok(c) => pr_warn!("{}: host refused {} sub-channels (status {:#x}); using the primary channel only\n", name, want, c.status),
                Err(e) => pr_warn!("{}: CREATE_SUB_CHANNELS failed ({:?}); using the primary channel only\n", name, e),
            }
            if !matches!(r, Ok(ref c) if c.ok()) {
                self.stats.sub_requested.store(0, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    /// The work item's part of bringing the controller up: open the offered sub-channels,
    /// build the queues and the tag set, then scan the LUNs.
    fn setup(&self) -> Result {
        let name = self.name.as_str();
        let neg = self.negotiated.copy().ok_or(ENODEV)?;
        let (v, props) = (neg.version, neg.properties);
        let want = self.stats.sub_requested.load(Ordering::Relaxed);
        let start = work::now();
        while self.stats.sub_offered.load(Ordering::Acquire) < want
            && !self.removing.load(Ordering::Acquire)
            && !work::elapsed_ms(&start, self.params.ctl_timeout_ms)
        {
            work::sleep_ms(5);
        }
        if self.removing.load(Ordering::Acquire) {
            return Err(ENODEV);
        }
        let mut queue_chan = KVec::new();
        let mut targets = KVec::new();
        for (i, c) in self.chans.iter().enumerate() {
            // SAFETY: the primary or a sub-channel the core offered for our device.
            let Some(ch) = (unsafe { Channel::from_raw(c.raw.load(Ordering::Acquire)) }) else { continue };
            if i > 0 {
                if let Err(e) = self.open_channel(i, ch) {
                    pr_warn!("{}: cannot open sub-channel {}: {:?}\n", name, i, e);
                    continue;
                }
            }
            queue_chan.push(i as u16, GFP_KERNEL)?;
            targets.push(ch.target_cpu(), GFP_KERNEL)?;
        }
        let nq = queue_chan.len() as u32;

        let max_transfer = props.max_transfer_aligned().min(self.params.max_transfer.max(PAGE as u32));
        let pages = guest::max_pages(max_transfer);
        let depth = match self.params.queue_depth {
            0 => guest::queue_depth(self.params.send_ring, pages, 32, 256),
            d => d.clamp(1, 4096),
        };
        let nslots = (nq as usize).checked_mul(depth as usize).ok_or(EINVAL)?;
        let mut slots = KVec::with_capacity(nslots, GFP_KERNEL)?;
        let mut rqs = KVec::with_capacity(nslots, GFP_KERNEL)?;
        let mut timed_out = KVec::with_capacity(nslots, GFP_KERNEL)?;
        let mut sent_at = KVec::with_capacity(nslots, GFP_KERNEL)?;
        for _ in 0..nslots {
            slots.push(IoSlot::new(), GFP_KERNEL)?;
            rqs.push(AtomicPtr::new(core::ptr::null_mut()), GFP_KERNEL)?;
            timed_out.push(AtomicBool::new(false), GFP_KERNEL)?;
            sent_at.push(AtomicU64::new(0), GFP_KERNEL)?;
        }
        let io = IoState { version: v, queue_chan, targets, depth, max_transfer, pages, slots, rqs, timed_out, sent_at, zero_pfn: shim::zero_page_pfn() };
        self.io.populate(io);
        self.stats.nr_queues.store(nq, Ordering::Relaxed);
        self.stats.depth.store(depth, Ordering::Relaxed);
        self.stats.max_transfer.store(max_transfer, Ordering::Relaxed);

        let timeout = kernel::time::msecs_to_jiffies(self.params.io_timeout_s.saturating_mul(1000)) as u32;
        // SAFETY: the controller is pinned and owns the tag set, which it drops before it
        // goes (and after its disks).
        let ts = KBox::pin_init(unsafe { TagSet::<Storvsc>::new(self, nq, depth, timeout, pages as usize) }, GFP_KERNEL)?;
        self.tagset.populate(ts);

        match DebugfsFiles::new(&self.shared().debugfs, name, &self.stats) {
            Ok(d) => {
                self.debugfs.populate(d);
            }
            Err(e) => pr_warn!("{}: no debugfs files ({:?})\n", name, e),
        }
        pr_info!(
            "{}: VSTOR {}, {} queue(s) of {} tags ({} of {} sub-channels offered), max transfer {} KiB\n",
            name,
            v.name(),
            nq,
            depth,
            self.stats.sub_offered.load(Ordering::Relaxed),
            want,
            max_transfer / 1024
        );
        crate::lun::rescan(self);
        Ok(())
    }

    /// The work item: a pending kill, else setup (the first run), else a LUN rescan.
    fn run_work(&self) {
        if self.broken.load(Ordering::Acquire) {
            let _eh = self.eh.lock();
            self.kill("the host sent packets the driver cannot accept");
            return;
        }
        if !self.setup_started.swap(true, Ordering::AcqRel) {
            if let Err(e) = self.setup() {
                if !self.removing.load(Ordering::Acquire) {
                    pr_err!("{}: setup failed ({:?}); the controller is unusable until removed\n", self.name.as_str(), e);
                    let _eh = self.eh.lock();
                    self.kill("setup failed");
                }
            }
            return;
        }
        crate::lun::rescan(self);
    }

    // -- rescans, recovery, teardown ------------------------------------------------------

    /// Queues the work item (a LUN rescan, once set up) from any context, unless the device
    /// is going away.
    pub(crate) fn schedule_rescan(&self) {
        let gate = self.work_gate.lock();
        if *gate {
            self.work.queue();
        }
    }

    /// The host's packets cannot be processed any more (callback context): fail new I/O now
    /// and have the work item kill the controller (closing needs process context).
    pub(crate) fn fatal(&self, why: &str) {
        if self.broken.swap(true, Ordering::AcqRel) {
            return;
        }
        self.dead.store(true, Ordering::Release);
        pr_err!("{}: {}; taking the controller down\n", self.name.as_str(), why);
        self.schedule_rescan();
    }

    /// Counts and (rate-limited) logs a refused packet.
    pub(crate) fn bad_packet(&self, why: core::fmt::Arguments<'_>) {
        self.stats.bad_packets.fetch_add(1, Ordering::Relaxed);
        if self.log_bad.allow() {
            pr_warn!("{}: ignored a packet from the host: {}\n", self.name.as_str(), why);
        }
    }

    /// Ends the request of slot `idx` if it is still in flight as `generation`.
    pub(crate) fn fail_slot(&self, io: &IoState, idx: usize, generation: u32, status: Status, q: &QueueStats) -> bool {
        let Some(slot) = io.slots.get(idx) else { return false };
        if !slot.claim(generation) {
            return false;
        }
        q.done();
        QueueStats::inc(&q.errors);
        let rq = io.rqs.get(idx).map_or(core::ptr::null_mut(), |r| r.load(Ordering::Relaxed));
        // SAFETY: we won the slot's claim for the generation `queue_rq` published together
        // with this request pointer: it is started and ours alone to end.
        if let Some(rq) = unsafe { OwnedRequest::<Storvsc>::from_raw(rq) } {
            crate::io::finish(rq, status);
        }
        true
    }

    /// Fails every request in flight with `status`.
    pub(crate) fn fail_all(&self, status: Status) {
        let Some(io) = self.io.as_ref() else { return };
        let depth = io.depth.max(1) as usize;
        for idx in 0..io.slots.len() {
            if let Some(g) = io.slots.get(idx).and_then(IoSlot::inflight) {
                self.fail_slot(io, idx, g, status, self.stats.queue((idx / depth) as u32));
            }
        }
    }

    /// The host stopped answering (or went away): close the channels so it cannot complete
    /// anything later, fail everything in flight and mark the disks dead. Caller holds `eh`.
    pub(crate) fn kill(&self, why: &str) {
        if self.killed.swap(true, Ordering::AcqRel) {
            return;
        }
        self.dead.store(true, Ordering::Release);
        self.stats.dead.store(true, Ordering::Relaxed);
        pr_err!("{}: {}; closing its channels and failing all I/O with -EIO (its disks stay dead until the device is removed)\n", self.name.as_str(), why);
        self.close_channels();
        self.fail_all(Status::IOERR);
        for e in self.luns.lock().iter() {
            e.disk.mark_dead();
        }
    }

    /// Recovery for a timed-out request (blk-mq timeout handler, process context): RESET_LUN,
    /// then RESET_BUS, each with a bounded wait. If the host answers, the request is failed
    /// with `BLK_STS_TIMEOUT` (after it had a moment to return what it aborted); if it
    /// answers neither, the controller is killed.
    pub(crate) fn recover(&self, io: &IoState, q: u32, idx: usize, generation: u32) {
        let stats = self.stats.queue(q);
        let _eh = self.eh.lock();
        if self.dead.load(Ordering::Acquire) {
            self.fail_slot(io, idx, generation, Status::IOERR, stats);
            return;
        }
        let still = |slot: &IoSlot| slot.inflight() == Some(generation);
        if !io.slots.get(idx).is_some_and(still) {
            return;
        }
        if let Some(t) = io.timed_out.get(idx) {
            t.store(true, Ordering::Release);
        }
        let sent = io.sent_at.get(idx).map_or(0, |t| t.load(Ordering::Relaxed));
        if self.last_reset_ns.load(Ordering::Relaxed) > sent {
            // The host answered a reset after this request was sent (blk-mq reports expired
            // requests one by one; the first one's reset covered them all).
            self.fail_slot(io, idx, generation, Status::TIMEOUT, stats);
            return;
        }
        let resets = [(RequestBody::ResetLun, "RESET_LUN"), (RequestBody::ResetBus { path_id: 0 }, "RESET_BUS")];
        let mut answered = false;
        for (i, (body, what)) in resets.iter().enumerate() {
            QueueStats::inc(&stats.resets);
            match self.control_op(body, Some(io.version), Expect::Status, self.params.reset_timeout_ms) {
                Ok(c) => {
                    answered = true;
                    self.last_reset_ns.store(shim::now_ns(), Ordering::Relaxed);
                    if c.ok() {
                        break;
                    }
                    pr_warn!("{}: host refused {} (status {:#x})\n", self.name.as_str(), what, c.status);
                }
                Err(e) => pr_warn!("{}: no answer to {} ({:?})\n", self.name.as_str(), what, e),
            }
            if i + 1 == resets.len() && !answered {
                self.kill("the host answered neither RESET_LUN nor RESET_BUS");
                return;
            }
        }
        let start = work::now();
        while io.slots.get(idx).is_some_and(still) && !work::elapsed_ms(&start, RESET_DRAIN_MS) {
            work::sleep_ms(10);
        }
        if self.fail_slot(io, idx, generation, Status::TIMEOUT, stats) {
            pr_err!("{}: a request on queue {} did not complete after a reset; failed with -ETIMEDOUT\n", self.name.as_str(), q);
        }
    }

    /// Takes the device down: no more rescans; on rescind everything in flight fails at
    /// once; disks are deleted; channels closed; nothing is left running.
    fn shutdown(&self) {
        self.removing.store(true, Ordering::Release);
        *self.work_gate.lock() = false;
        self.work.cancel_sync();
        let rescinded = self.primary().is_none_or(|c| c.rescinded());
        if rescinded && self.chans.first().is_some_and(|c| c.open.load(Ordering::Acquire)) {
            let _eh = self.eh.lock();
            self.kill("the host rescinded the device");
        }
        let entries = {
            let _scan = self.scan.lock();
            // A named guard: a temporary one would be released after `_scan`.
            let mut luns = self.luns.lock();
            core::mem::take(&mut *luns)
        };
        for e in entries {
            crate::lun::release(self, e);
        }
        let _eh = self.eh.lock();
        self.dead.store(true, Ordering::Release);
        self.close_channels();
        self.fail_all(Status::IOERR);
    }
}

#[pinned_drop]
impl PinnedDrop for Controller {
    fn drop(self: Pin<&mut Self>) {
        // Channels are closed (shutdown) before the pages they might have used are freed.
        self.close_channels();
    }
}

impl ChannelHandler for Controller {
    fn on_channel(&self, chan: Channel) {
        crate::io::on_channel(self, chan);
    }

    fn on_subchannel(&self, _primary: Channel, sub: Channel, index: u16) {
        let slot = self.chans.get(usize::from(index)).filter(|_| index > 0);
        let Some(c) = slot else {
            pr_info!("{}: sub-channel {} offered beyond the {} asked for; not used\n", self.name.as_str(), index, self.chans.len().saturating_sub(1));
            return;
        };
        if self.io.as_ref().is_some() {
            pr_info!("{}: sub-channel {} offered after the queues were set up; not used\n", self.name.as_str(), index);
            return;
        }
        if c.raw.compare_exchange(core::ptr::null_mut(), sub.as_ptr(), Ordering::AcqRel, Ordering::Acquire).is_ok() {
            self.stats.sub_offered.fetch_add(1, Ordering::AcqRel);
        }
    }
}

/// The work item's function.
///
/// # Safety
///
/// Called by the workqueue with the `work_struct` of a live controller's `work` (it is
/// cancelled before the controller is freed).
unsafe extern "C" fn work_fn(work: *mut bindings::work_struct) {
    let off = core::mem::offset_of!(Controller, work);
    // SAFETY: `Work` is `repr(transparent)` over the `work_struct`, embedded at `off` in a
    // live, pinned controller (contract).
    let ctrl = unsafe { &*work.cast::<u8>().sub(off).cast::<Controller>() };
    ctrl.run_work();
}

/// `probe`: one storage controller appeared.
pub(crate) fn probe(shared: &Shared, dev: Device) -> Result {
    let info = dev.info()?;
    let primary = dev.primary().ok_or(ENODEV)?;
    let name = vmbus::GuidStr::new(&info.instance_id);
    let online = shim::num_online_cpus().max(1);
    let mut want = match shared.params.max_queues {
        0 => online,
        n => n.min(online),
    };
    if info.max_cpus > 0 {
        want = want.min(info.max_cpus);
    }
    let want = want.clamp(1, MAX_CHANNELS) as usize;
    let ctrl = KBox::pin_init(Controller::new(dev, shared, name, want)?, GFP_KERNEL)?;
    if let Err(e) = ctrl.start(primary) {
        ctrl.shutdown();
        return Err(e);
    }
    *ctrl.work_gate.lock() = true;
    ctrl.work.queue();
    dev.set_drvdata(ctrl.into_foreign().cast());
    Ok(())
}

/// `remove`: the controller goes (unbind, unload or rescind).
pub(crate) fn remove(_shared: &Shared, dev: Device) {
    let p: *mut c_void = dev.drvdata();
    if p.is_null() {
        return;
    }
    dev.set_drvdata(core::ptr::null_mut());
    // SAFETY: set by `probe` from `into_foreign` of this type, taken back once here.
    let ctrl = unsafe { <Pin<KBox<Controller>> as ForeignOwnable>::from_foreign(p.cast()) };
    ctrl.shutdown();
    pr_info!("{}: removed\n", ctrl.name.as_str());
}
