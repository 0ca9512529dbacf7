// SPDX-License-Identifier: GPL-2.0-only
//! A small blk-mq binding: the parts of `struct blk_mq_tag_set`, `struct gendisk`, `struct
//! request` and `struct queue_limits` a disk driver needs that the 7.3 kernel's
//! `kernel::block::mq` does not offer. Shaped like upstream's (`TagSet`, `Disk` in the place
//! of `GenDisk`, `Request`, an `Operations` trait turned into a `blk_mq_ops` table), so it can
//! be dropped for upstream's once that grows these features.
//!
//! Added over `kernel::block::mq`:
//! - requests: the operation, position, length, FUA/NOUNMAP flags, tag, hardware queue, the
//!   single-page segments (for GPA lists), a typed per-request PDU with a variable tail, and
//!   ending with any `blk_status_t` or requeueing;
//! - `blk_mq_ops.timeout` and `.map_queues`, tag-set driver data, a request timeout;
//! - `struct queue_limits` in full (discard, write zeroes, write cache/FUA, segments,
//!   transfer size, virtual boundary), capacity changes with a uevent, read-only, marking a
//!   disk dead, sysfs attribute groups and an owner module in the disk's operations.
//!
//! Ownership of a request: blk-mq hands it to [`Operations::queue_rq`]; once that function
//! starts it and returns [`Status::OK`], the driver must end it exactly once
//! ([`OwnedRequest::end`]) or requeue it ([`OwnedRequest::requeue`]). The driver proves
//! "exactly once" itself (here with `vstor_proto::guest::IoSlot`), which is why turning a raw
//! request back into an [`OwnedRequest`] is `unsafe`.

use core::ffi::{c_int, c_uint, c_void};
use core::marker::PhantomData;
use core::ptr::NonNull;

use kernel::{bindings, error::to_result, prelude::*, sync::Arc, types::Opaque};
use vstor_proto::guest::BlockOp;

// The bindgen structs are only passed by pointer; some contain zero-sized members (lockdep
// maps without CONFIG_LOCKDEP), which the lint flags although a pointer to them is fine.
#[allow(improper_ctypes)]
extern "C" {
    fn pvg_stor_rq_pos(rq: *mut bindings::request) -> u64;
    fn pvg_stor_rq_bytes(rq: *mut bindings::request) -> c_uint;
    fn pvg_stor_rq_op(rq: *mut bindings::request) -> c_uint;
    fn pvg_stor_rq_fua(rq: *mut bindings::request) -> bool;
    fn pvg_stor_rq_nounmap(rq: *mut bindings::request) -> bool;
    fn pvg_stor_rq_for_each_segment(
        rq: *mut bindings::request,
        f: unsafe extern "C" fn(ctx: *mut c_void, pfn: u64, offset: u32, len: u32) -> c_int,
        ctx: *mut c_void,
    ) -> c_int;
    fn pvg_stor_lim_set_features(lim: *mut bindings::queue_limits, write_cache: bool, fua: bool, rotational: bool);
    fn pvg_stor_disk_setup(disk: *mut bindings::gendisk, private_data: *mut c_void);
    fn pvg_stor_disk_groups() -> *mut *const bindings::attribute_group;
}

/// A `blk_status_t` (values checked against the kernel's in `shim.c`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Status(pub(crate) u8);

impl Status {
    /// `BLK_STS_OK`.
    pub(crate) const OK: Status = Status(0);
    /// `BLK_STS_TIMEOUT`.
    pub(crate) const TIMEOUT: Status = Status(2);
    /// `BLK_STS_RESOURCE`: the driver is out of a resource; blk-mq retries later.
    pub(crate) const RESOURCE: Status = Status(9);
    /// `BLK_STS_IOERR`.
    pub(crate) const IOERR: Status = Status(10);
}

/// What the timeout handler decided (`enum blk_eh_timer_return`).
pub(crate) enum TimeoutAction {
    /// The driver has ended (or will end) the request.
    Done,
    /// Give it another timeout period.
    #[allow(dead_code)]
    ResetTimer,
}

/// The callbacks of a blk-mq driver.
pub(crate) trait Operations: Sized + 'static {
    /// Data of the whole tag set (`blk_mq_tag_set.driver_data`), shared by all its disks.
    type SetData: Sync + 'static;
    /// Data of one disk's queue (`request_queue.queuedata`, owned by the [`Disk`]).
    type QueueData: Sync + Send + 'static;
    /// Per-request data at the start of the PDU (`blk_mq_rq_to_pdu`), reset to its default
    /// when the tag set allocates the request. A tail of `u64`s follows it
    /// ([`Request::pdu_tail`]).
    type Pdu: Default + Send + 'static;

    /// Sends `rq` to the device (`blk_mq_ops.queue_rq`). To accept it, call
    /// [`Request::start`] and return [`Status::OK`]: the driver then owns it. Any other
    /// status ends it (or, for [`Status::RESOURCE`], has blk-mq retry it later).
    fn queue_rq(set: &Self::SetData, queue: &Self::QueueData, hw_queue: u32, rq: &Request<Self>) -> Status;

    /// A started request did not complete in time (`blk_mq_ops.timeout`, process context).
    fn timeout(set: &Self::SetData, rq: &Request<Self>) -> TimeoutAction;

    /// Fills the CPU → hardware queue map (`blk_mq_ops.map_queues`).
    fn map_queues(set: &Self::SetData, map: &mut QueueMap<'_>);
}

/// A blk-mq request, borrowed for the duration of a callback.
///
/// # Invariants
///
/// The wrapped `struct request` is a live request of a tag set of `T` (so its PDU holds a
/// `T::Pdu` followed by the tail), valid while the reference is.
#[repr(transparent)]
pub(crate) struct Request<T: Operations>(Opaque<bindings::request>, PhantomData<T>);

impl<T: Operations> Request<T> {
    /// # Safety
    ///
    /// `ptr` must be a live request of a `T` tag set for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::request) -> &'a Self {
        // SAFETY: `Request` is a transparent wrapper of `struct request`; live per contract.
        unsafe { &*ptr.cast::<Self>() }
    }

    /// The `struct request`.
    pub(crate) fn as_ptr(&self) -> *mut bindings::request {
        self.0.get()
    }

    /// The operation (`req_op`).
    pub(crate) fn op(&self) -> BlockOp {
        // SAFETY: live request (type invariant).
        match unsafe { pvg_stor_rq_op(self.as_ptr()) } {
            0 => BlockOp::Read,
            1 => BlockOp::Write,
            2 => BlockOp::Flush,
            3 => BlockOp::Discard,
            4 => BlockOp::WriteZeroes,
            _ => BlockOp::Other,
        }
    }

    /// First sector (`blk_rq_pos`).
    pub(crate) fn pos(&self) -> u64 {
        // SAFETY: live request (type invariant).
        unsafe { pvg_stor_rq_pos(self.as_ptr()) }
    }

    /// Bytes (`blk_rq_bytes`).
    pub(crate) fn bytes(&self) -> u32 {
        // SAFETY: live request (type invariant).
        unsafe { pvg_stor_rq_bytes(self.as_ptr()) }
    }

    /// `REQ_FUA`.
    pub(crate) fn fua(&self) -> bool {
        // SAFETY: live request (type invariant).
        unsafe { pvg_stor_rq_fua(self.as_ptr()) }
    }

    /// `REQ_NOUNMAP`.
    pub(crate) fn nounmap(&self) -> bool {
        // SAFETY: live request (type invariant).
        unsafe { pvg_stor_rq_nounmap(self.as_ptr()) }
    }

    /// The driver tag (`rq->tag`): below the tag set's depth while the request is started.
    pub(crate) fn tag(&self) -> Option<u16> {
        // SAFETY: live request (type invariant); plain field read.
        u16::try_from(unsafe { (*self.as_ptr()).tag }).ok()
    }

    /// Index of the request's hardware queue (`rq->mq_hctx->queue_num`).
    pub(crate) fn hw_queue(&self) -> u32 {
        // SAFETY: live request (type invariant); a dispatched request has its hctx set,
        // which lives as long as the queue.
        unsafe {
            let hctx = (*self.as_ptr()).mq_hctx;
            if hctx.is_null() {
                u32::MAX
            } else {
                (*hctx).queue_num
            }
        }
    }

    /// The request's disk queue data.
    fn queue_data(&self) -> *const T::QueueData {
        // SAFETY: live request; its queue lives at least as long.
        unsafe { (*(*self.as_ptr()).q).queuedata.cast_const().cast() }
    }

    /// Calls `f(pfn, offset, len)` for every single-page data segment in order, until it
    /// returns false; returns whether all were visited.
    pub(crate) fn for_each_segment<F: FnMut(u64, u32, u32) -> bool>(&self, mut f: F) -> bool {
        unsafe extern "C" fn tramp<F: FnMut(u64, u32, u32) -> bool>(ctx: *mut c_void, pfn: u64, off: u32, len: u32) -> c_int {
            // SAFETY: `ctx` is the `&mut F` passed below, used only during the call.
            let f = unsafe { &mut *ctx.cast::<F>() };
            if f(pfn, off, len) {
                0
            } else {
                1
            }
        }
        // SAFETY: live request; the segments (bios) are stable while the driver owns it
        // (the only time this is called); `f` outlives the synchronous call.
        unsafe { pvg_stor_rq_for_each_segment(self.as_ptr(), tramp::<F>, core::ptr::from_mut(&mut f).cast()) == 0 }
    }

    fn pdu_ptr(&self) -> *mut T::Pdu {
        // SAFETY: live request of a `T` tag set: its PDU is `cmd_size` bytes.
        unsafe { bindings::blk_mq_rq_to_pdu(self.as_ptr()).cast() }
    }

    /// The request's PDU.
    ///
    /// # Safety
    ///
    /// The caller owns the request (in `queue_rq` before publishing it, or as the one party
    /// that won the right to end it) and holds no other reference to the PDU.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn pdu(&self) -> &mut T::Pdu {
        // SAFETY: initialised by `init_request` (a `T::Pdu`, aligned: checked there);
        // exclusive per the caller's contract.
        unsafe { &mut *self.pdu_ptr() }
    }

    /// The `u64` tail after the PDU (as many as the tag set was created with).
    ///
    /// # Safety
    ///
    /// As for [`Request::pdu`]; `len` must be the tail length the tag set was created with.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn pdu_tail(&self, len: usize) -> &mut [u64] {
        let base = self.pdu_ptr().cast::<u8>();
        // SAFETY: the PDU is `tail_offset::<T>() + 8 * len` bytes (`TagSet::new`), 8-byte
        // aligned (checked in `init_request`); exclusive per the caller's contract.
        unsafe { core::slice::from_raw_parts_mut(base.add(tail_offset::<T>()).cast::<u64>(), len) }
    }

    /// Marks the request started (`blk_mq_start_request`): its timeout runs from now.
    ///
    /// # Safety
    ///
    /// Only in `queue_rq`, once, before the request can complete.
    pub(crate) unsafe fn start(&self) {
        // SAFETY: live request being dispatched (contract).
        unsafe { bindings::blk_mq_start_request(self.as_ptr()) }
    }
}

/// A started request the driver has the sole right to end.
///
/// # Invariants
///
/// `rq` is a started, live request of a `T` tag set, and no other party will end or requeue
/// it: whoever holds this object does, exactly once (`end` and `requeue` consume it).
pub(crate) struct OwnedRequest<T: Operations> {
    rq: NonNull<bindings::request>,
    _p: PhantomData<T>,
}

// SAFETY: ending a request is allowed from any context and CPU.
unsafe impl<T: Operations> Send for OwnedRequest<T> {}

impl<T: Operations> OwnedRequest<T> {
    /// # Safety
    ///
    /// `rq` must be a started request of a `T` tag set that the caller alone may end (it
    /// won the request's completion), see the invariant.
    pub(crate) unsafe fn from_raw(rq: *mut bindings::request) -> Option<Self> {
        NonNull::new(rq).map(|rq| OwnedRequest { rq, _p: PhantomData })
    }

    /// The request.
    pub(crate) fn request(&self) -> &Request<T> {
        // SAFETY: live request of a `T` tag set (type invariant).
        unsafe { Request::from_raw(self.rq.as_ptr()) }
    }

    /// The PDU (the owner's alone).
    pub(crate) fn pdu(&mut self) -> &mut T::Pdu {
        // SAFETY: we own the request (type invariant) and `&mut self` is exclusive.
        unsafe { self.request().pdu() }
    }

    /// Ends the request with `status` (`blk_mq_end_request`); any context.
    pub(crate) fn end(self, status: Status) {
        // SAFETY: started and ours alone to end (type invariant); consumed here.
        unsafe { bindings::blk_mq_end_request(self.rq.as_ptr(), status.0) }
    }

    /// Puts the request back on its queue's requeue list and dispatches it again after
    /// `delay_ms` (`blk_mq_requeue_request` + `blk_mq_delay_kick_requeue_list`).
    pub(crate) fn requeue(self, delay_ms: u32) {
        let rq = self.rq.as_ptr();
        // SAFETY: started and ours (type invariant); after requeueing blk-mq owns it again,
        // and its queue outlives it.
        unsafe {
            let q = (*rq).q;
            bindings::blk_mq_requeue_request(rq, false);
            bindings::blk_mq_delay_kick_requeue_list(q, delay_ms as _);
        }
    }
}

/// Offset of the `u64` tail in the PDU.
const fn tail_offset<T: Operations>() -> usize {
    (core::mem::size_of::<T::Pdu>() + 7) & !7
}

/// The CPU → hardware queue map of one map type (`struct blk_mq_queue_map`).
pub(crate) struct QueueMap<'a> {
    map: &'a mut bindings::blk_mq_queue_map,
}

impl QueueMap<'_> {
    /// Number of hardware queues of this map.
    pub(crate) fn nr_queues(&self) -> u32 {
        self.map.nr_queues
    }

    /// Sends `cpu`'s requests to `queue` (ignored when either is out of range).
    pub(crate) fn set(&mut self, cpu: u32, queue: u32) {
        if cpu >= crate::shim::nr_cpu_ids() || queue >= self.map.nr_queues {
            return;
        }
        // SAFETY: `mq_map` has `nr_cpu_ids` entries (blk-mq allocates it so) and `cpu` is
        // below that.
        unsafe { *self.map.mq_map.add(cpu as usize) = self.map.queue_offset.saturating_add(queue) };
    }
}

/// A `struct blk_mq_tag_set` for `T`.
///
/// # Invariants
///
/// `inner` was allocated by `blk_mq_alloc_tag_set` with `T`'s operations, a PDU of
/// `tail_offset::<T>() + 8 * tail` bytes (`tail` as given to [`TagSet::new`]) and driver
/// data pointing to a `T::SetData` that outlives the tag set. It is freed on drop, which must
/// come after every disk using it.
#[pin_data(PinnedDrop)]
pub(crate) struct TagSet<T: Operations> {
    #[pin]
    inner: Opaque<bindings::blk_mq_tag_set>,
    _p: PhantomData<T>,
}

// SAFETY: the tag set is used through blk-mq, which synchronises; the driver data is Sync.
unsafe impl<T: Operations> Send for TagSet<T> {}
// SAFETY: as above.
unsafe impl<T: Operations> Sync for TagSet<T> {}

impl<T: Operations> TagSet<T> {
    /// A tag set of `nr_hw_queues` queues of `depth` tags, a request timeout of
    /// `timeout_jiffies`, and a PDU tail of `tail` `u64`s.
    ///
    /// # Safety
    ///
    /// `set_data` must stay valid until the tag set is dropped.
    pub(crate) unsafe fn new(
        set_data: *const T::SetData,
        nr_hw_queues: u32,
        depth: u32,
        timeout_jiffies: u32,
        tail: usize,
    ) -> impl PinInit<Self, Error> {
        let cmd_size = tail.checked_mul(8).and_then(|t| t.checked_add(tail_offset::<T>())).and_then(|s| u32::try_from(s).ok());
        try_pin_init!(TagSet {
            inner <- Opaque::try_ffi_init(move |set: *mut bindings::blk_mq_tag_set| {
                let cmd_size = cmd_size.ok_or(EINVAL)?;
                // SAFETY: `set` is valid for writes; every field is set (zero first), and
                // `blk_mq_alloc_tag_set` initialises the rest. The driver data outlives the
                // set (contract).
                unsafe {
                    set.write(pin_init::zeroed());
                    (*set).ops = &OperationsVTable::<T>::VTABLE;
                    (*set).nr_hw_queues = nr_hw_queues;
                    (*set).nr_maps = 1;
                    (*set).queue_depth = depth;
                    (*set).cmd_size = cmd_size;
                    (*set).numa_node = bindings::NUMA_NO_NODE;
                    (*set).timeout = timeout_jiffies;
                    (*set).driver_data = set_data.cast_mut().cast();
                    to_result(bindings::blk_mq_alloc_tag_set(set))
                }
            }),
            _p: PhantomData,
        })
    }

    fn raw(&self) -> *mut bindings::blk_mq_tag_set {
        self.inner.get()
    }
}

#[pinned_drop]
impl<T: Operations> PinnedDrop for TagSet<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: allocated (type invariant); no disk uses it any more (invariant).
        unsafe { bindings::blk_mq_free_tag_set(self.inner.get()) };
    }
}

/// Queue limits for a new disk (`struct queue_limits`); unset fields get the block layer's
/// defaults (`blk_validate_limits`).
pub(crate) struct Limits(bindings::queue_limits);

impl Limits {
    /// All defaults.
    pub(crate) fn new() -> Self {
        Limits(pin_init::zeroed())
    }

    /// Logical and physical block size, `io_min`, `io_opt` (bytes).
    pub(crate) fn block_sizes(mut self, logical: u32, physical: u32, io_min: u32, io_opt: u32) -> Self {
        self.0.logical_block_size = logical;
        self.0.physical_block_size = physical;
        self.0.io_min = io_min;
        self.0.io_opt = io_opt;
        self
    }

    /// Largest request (sectors), most segments, and the virtual boundary mask: no segment
    /// but the first may start, and none but the last may end, off a boundary.
    pub(crate) fn transfer(mut self, max_hw_sectors: u32, max_segments: u16, virt_boundary_mask: u64) -> Self {
        self.0.max_hw_sectors = max_hw_sectors;
        self.0.max_segments = max_segments;
        self.0.virt_boundary_mask = virt_boundary_mask as _;
        self
    }

    /// Discard: largest (sectors, 0 for none), granularity and alignment (bytes), ranges
    /// per request.
    pub(crate) fn discard(mut self, max_sectors: u32, granularity: u32, alignment: u32, segments: u16) -> Self {
        self.0.max_hw_discard_sectors = max_sectors;
        self.0.discard_granularity = granularity;
        self.0.discard_alignment = alignment;
        self.0.max_discard_segments = segments;
        self
    }

    /// Write zeroes: largest (sectors, 0 for none); with `unmap` the device deallocates
    /// zeroed blocks (`max_hw_wzeroes_unmap_sectors`).
    pub(crate) fn write_zeroes(mut self, max_sectors: u32, unmap: bool) -> Self {
        self.0.max_write_zeroes_sectors = max_sectors;
        self.0.max_hw_wzeroes_unmap_sectors = if unmap { max_sectors } else { 0 };
        self
    }

    /// `BLK_FEAT_WRITE_CACHE`, `BLK_FEAT_FUA` (only with a write cache),
    /// `BLK_FEAT_ROTATIONAL`.
    pub(crate) fn features(mut self, write_cache: bool, fua: bool, rotational: bool) -> Self {
        // SAFETY: `self.0` is a valid `queue_limits` we own.
        unsafe { pvg_stor_lim_set_features(&mut self.0, write_cache, fua, rotational) };
        self
    }
}

/// A disk on a tag set of `T`, with its queue data.
///
/// # Invariants
///
/// `gendisk` came from `__blk_mq_alloc_disk` on a `T` tag set, with `queuedata` and
/// `private_data` both `queue_data`, which is an `Arc<T::QueueData>` turned into a raw
/// pointer and released after the disk. `added` says whether `device_add_disk` succeeded.
pub(crate) struct Disk<T: Operations> {
    gendisk: NonNull<bindings::gendisk>,
    queue_data: *const T::QueueData,
    added: bool,
}

// SAFETY: the gendisk API may be used from any thread; the queue data is Send + Sync.
unsafe impl<T: Operations> Send for Disk<T> {}
// SAFETY: `&Disk` methods are the kernel's own thread-safe calls.
unsafe impl<T: Operations> Sync for Disk<T> {}

impl<T: Operations> Disk<T> {
    /// Allocates a disk named `name` (at most 31 bytes) on `set` with `limits` (not yet
    /// visible: see [`Disk::add`]).
    pub(crate) fn new(set: &TagSet<T>, mut limits: Limits, queue: Arc<T::QueueData>, name: &[u8]) -> Result<Self> {
        if name.len() >= bindings::DISK_NAME_LEN as usize {
            return Err(EINVAL);
        }
        let data = Arc::into_raw(queue);
        // SAFETY: the tag set is allocated (its invariant); `limits` is valid; `data` is a
        // pointer we own; the lock class is static.
        let disk = unsafe {
            bindings::__blk_mq_alloc_disk(set.raw(), &mut limits.0, data.cast_mut().cast(), kernel::static_lock_class!().as_ptr())
        };
        let disk = match kernel::error::from_err_ptr(disk) {
            Ok(d) => d,
            Err(e) => {
                // SAFETY: `data` came from `Arc::into_raw` above and was not handed out.
                drop(unsafe { Arc::from_raw(data) });
                return Err(e);
            }
        };
        // SAFETY: a freshly allocated, not yet added gendisk that we alone use.
        unsafe {
            pvg_stor_disk_setup(disk, data.cast_mut().cast());
            let dst = &mut (*disk).disk_name;
            for (d, s) in dst.iter_mut().zip(Iterator::chain(name.iter(), core::iter::once(&0u8))) {
                *d = *s as _;
            }
        }
        // INVARIANT: allocated with `data` as queuedata and private data.
        Ok(Disk { gendisk: NonNull::new(disk).ok_or(ENOMEM)?, queue_data: data, added: false })
    }

    /// Sets the capacity in sectors without telling user space (before [`Disk::add`]).
    pub(crate) fn set_capacity(&self, sectors: u64) {
        // SAFETY: valid gendisk (type invariant); `set_capacity` is self-synchronised.
        unsafe { bindings::set_capacity(self.gendisk.as_ptr(), sectors) }
    }

    /// Changes the capacity and sends a `RESIZE=1` change uevent; true if it changed.
    pub(crate) fn set_capacity_and_notify(&self, sectors: u64) -> bool {
        // SAFETY: valid gendisk (type invariant).
        unsafe { bindings::set_capacity_and_notify(self.gendisk.as_ptr(), sectors) }
    }

    /// Marks the disk read-only (or writable).
    pub(crate) fn set_read_only(&self, ro: bool) {
        // SAFETY: valid gendisk (type invariant).
        unsafe { bindings::set_disk_ro(self.gendisk.as_ptr(), ro) }
    }

    /// Makes the disk visible (`device_add_disk`) under `parent`, with the driver's sysfs
    /// attributes (`serial`, `wwid`, `wwn`); partitions are scanned now.
    pub(crate) fn add(&mut self, parent: *mut bindings::device) -> Result {
        // SAFETY: valid, not yet added gendisk (type invariant); `parent` is a live device
        // that outlives the disk (the caller's VMBus device); the groups are static.
        to_result(unsafe { bindings::device_add_disk(parent, self.gendisk.as_ptr(), pvg_stor_disk_groups()) })?;
        // INVARIANT: added.
        self.added = true;
        Ok(())
    }

    /// Fails all future I/O and tells filesystems the disk is gone (`blk_mark_disk_dead`).
    pub(crate) fn mark_dead(&self) {
        if self.added {
            // SAFETY: valid, added gendisk (type invariant).
            unsafe { bindings::blk_mark_disk_dead(self.gendisk.as_ptr()) }
        }
    }

    /// The disk's queue data.
    pub(crate) fn queue_data(&self) -> &T::QueueData {
        // SAFETY: alive until the disk is dropped (type invariant).
        unsafe { &*self.queue_data }
    }
}

impl<T: Operations> Drop for Disk<T> {
    fn drop(&mut self) {
        // SAFETY: valid gendisk (type invariant). `del_gendisk` (only for an added disk)
        // waits for its I/O, removes it from sysfs and syncs the queue's timeout work;
        // after `put_disk` blk-mq no longer reads `queuedata`, so the Arc can go.
        unsafe {
            if self.added {
                bindings::del_gendisk(self.gendisk.as_ptr());
            }
            bindings::put_disk(self.gendisk.as_ptr());
            drop(Arc::from_raw(self.queue_data));
        }
    }
}

/// The `blk_mq_ops` table of `T` and its trampolines.
struct OperationsVTable<T: Operations>(PhantomData<T>);

impl<T: Operations> OperationsVTable<T> {
    /// # Safety
    ///
    /// Called by blk-mq only, with a live hardware context of a `T` tag set and a request
    /// being dispatched.
    unsafe extern "C" fn queue_rq(hctx: *mut bindings::blk_mq_hw_ctx, bd: *const bindings::blk_mq_queue_data) -> bindings::blk_status_t {
        // SAFETY: blk-mq passes a live hctx of a `T` tag set and a live request (contract);
        // the queue's `queuedata` is the disk's `T::QueueData` (Disk invariant) and the tag
        // set's driver data a `T::SetData` (TagSet invariant), both alive while the queue
        // dispatches.
        unsafe {
            let rq = Request::<T>::from_raw((*bd).rq);
            let q = (*hctx).queue;
            let set = &*(*(*q).tag_set).driver_data.cast::<T::SetData>();
            let queue = &*rq.queue_data();
            T::queue_rq(set, queue, (*hctx).queue_num, rq).0
        }
    }

    /// # Safety
    ///
    /// Called by blk-mq only, with a live, started request of a `T` tag set.
    unsafe extern "C" fn timeout(rq: *mut bindings::request) -> bindings::blk_eh_timer_return {
        // SAFETY: as in `queue_rq`; blk-mq holds a reference on the request meanwhile.
        let action = unsafe {
            let set = &*(*(*(*rq).q).tag_set).driver_data.cast::<T::SetData>();
            T::timeout(set, Request::<T>::from_raw(rq))
        };
        match action {
            TimeoutAction::Done => bindings::blk_eh_timer_return_BLK_EH_DONE,
            TimeoutAction::ResetTimer => bindings::blk_eh_timer_return_BLK_EH_RESET_TIMER,
        }
    }

    /// # Safety
    ///
    /// Called by blk-mq only, with a `T` tag set being set up or updated.
    unsafe extern "C" fn map_queues(set: *mut bindings::blk_mq_tag_set) {
        // SAFETY: a live `T` tag set whose driver data is a `T::SetData` (TagSet invariant);
        // map 0 (HCTX_TYPE_DEFAULT) exists as `nr_maps` is 1.
        unsafe {
            let data = &*(*set).driver_data.cast::<T::SetData>();
            let mut map = QueueMap { map: &mut (*set).map[bindings::hctx_type_HCTX_TYPE_DEFAULT as usize] };
            T::map_queues(data, &mut map);
        }
    }

    /// # Safety
    ///
    /// Called by blk-mq only, with a freshly allocated request of a `T` tag set whose PDU
    /// is `cmd_size` bytes.
    unsafe extern "C" fn init_request(_set: *mut bindings::blk_mq_tag_set, rq: *mut bindings::request, _hctx: c_uint, _node: c_int) -> c_int {
        // SAFETY: blk-mq hands over a request with `cmd_size` PDU bytes (contract).
        let pdu = unsafe { bindings::blk_mq_rq_to_pdu(rq) }.cast::<T::Pdu>();
        if pdu as usize % core::mem::align_of::<T::Pdu>() != 0 || pdu as usize % 8 != 0 {
            return EINVAL.to_errno();
        }
        // SAFETY: the PDU is valid for writes of a `T::Pdu` and aligned (checked).
        unsafe { pdu.write(T::Pdu::default()) };
        0
    }

    const VTABLE: bindings::blk_mq_ops = bindings::blk_mq_ops {
        queue_rq: Some(Self::queue_rq),
        commit_rqs: None,
        queue_rqs: None,
        get_budget: None,
        put_budget: None,
        set_rq_budget_token: None,
        get_rq_budget_token: None,
        timeout: Some(Self::timeout),
        poll: None,
        complete: None,
        init_hctx: None,
        exit_hctx: None,
        init_request: Some(Self::init_request),
        exit_request: None,
        cleanup_rq: None,
        busy: None,
        map_queues: Some(Self::map_queues),
        #[cfg(CONFIG_BLK_DEBUG_FS)]
        show_rq: None,
    };
}
