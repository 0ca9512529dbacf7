// SPDX-License-Identifier: GPL-2.0-only
//! The operations table: the [`Backend`] trait every backend implements, the `extern "C"`
//! trampolines that make a [`PvgHcallOps`] table out of a backend (counting calls, errors and
//! latency per operation on the way), the SynIC interrupt-handler slot, and the exported
//! `pvg_hcall_ops` symbol.

use core::ffi::{c_int, c_void};
use core::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

use kernel::prelude::*;

use crate::pvg_hcall_api::{PvgHcallOps, SynicHandler, PVG_HCALL_ABI_VERSION};

/// A hypervisor backend. Associated functions only: a backend is a singleton whose state (if
/// any) lives in its own module.
pub(crate) trait Backend {
    /// [`crate::pvg_hcall_api::backend`] id.
    const ID: u32;
    /// Name, NUL-terminated.
    const NAME: &'static CStr;
    fn post_message(connection_id: u32, message_type: u32, payload: &[u8]) -> Result;
    fn signal_event(connection_id: u32, flag: u16) -> Result;
    fn flush_tlb(address_space: u64, flags: u64, vps: &[u64], start: u64, end: u64) -> Result;
    fn send_ipi(vector: u32, vps: &[u64]) -> Result;
    fn notify_long_spin_wait(count: u32) -> Result;
    fn reference_time() -> Result<u64>;
    fn synic_enable(vp: u32, sint: u32) -> Result;
    fn synic_disable(vp: u32, sint: u32) -> Result;
    fn message_page(vp: u32) -> *mut c_void;
    fn event_page(vp: u32) -> *mut c_void;
    fn eom(vp: u32) -> Result;
    fn vp_count() -> u32;
    fn vp_index(cpu: u32) -> u32;
    fn ping() -> Result;
}

/// Operations counted in [`STATS`], in table order.
#[derive(Clone, Copy)]
#[repr(usize)]
pub(crate) enum Op {
    PostMessage,
    SignalEvent,
    FlushTlb,
    SendIpi,
    NotifyLongSpinWait,
    ReferenceTime,
    SynicEnable,
    SynicDisable,
    Eom,
    Ping,
}

pub(crate) const OP_NAMES: [&str; 10] = [
    "post_message",
    "signal_event",
    "flush_tlb",
    "send_ipi",
    "notify_long_spin_wait",
    "reference_time",
    "synic_enable",
    "synic_disable",
    "eom",
    "ping",
];

/// Per-operation counters.
pub(crate) struct OpStats {
    pub(crate) calls: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) total_ns: AtomicU64,
    pub(crate) max_ns: AtomicU64,
}

#[allow(clippy::declare_interior_mutable_const)]
const ZERO_STATS: OpStats =
    OpStats { calls: AtomicU64::new(0), errors: AtomicU64::new(0), total_ns: AtomicU64::new(0), max_ns: AtomicU64::new(0) };

/// Counters of every operation, whatever the backend.
pub(crate) static STATS: [OpStats; 10] = [ZERO_STATS; 10];

fn now_ns() -> u64 {
    // SAFETY: `ktime_get` reads the monotonic clock; callable from any context.
    let t = unsafe { kernel::bindings::ktime_get() };
    t as u64
}

/// Runs `f` as operation `op`, recording it in [`STATS`], and converts the result to an errno.
#[inline]
fn counted(op: Op, f: impl FnOnce() -> Result) -> c_int {
    let t0 = now_ns();
    let r = f();
    let dt = now_ns().wrapping_sub(t0);
    let s = &STATS[op as usize];
    s.calls.fetch_add(1, Ordering::Relaxed);
    s.total_ns.fetch_add(dt, Ordering::Relaxed);
    s.max_ns.fetch_max(dt, Ordering::Relaxed);
    match r {
        Ok(()) => 0,
        Err(e) => {
            s.errors.fetch_add(1, Ordering::Relaxed);
            e.to_errno()
        }
    }
}

/// Builds a slice from a C pointer and length; an empty slice for a null pointer or zero
/// length.
///
/// # Safety
///
/// If `ptr` is non-null it must point to `len` readable, initialised `T` for the call.
unsafe fn slice<'a, T>(ptr: *const T, len: u32) -> &'a [T] {
    if ptr.is_null() || len == 0 {
        return &[];
    }
    // SAFETY: guaranteed by the caller.
    unsafe { core::slice::from_raw_parts(ptr, len as usize) }
}

unsafe extern "C" fn post_message<B: Backend>(conn: u32, ty: u32, payload: *const u8, len: u32) -> c_int {
    counted(Op::PostMessage, || {
        if len > 240 {
            return Err(EINVAL);
        }
        // SAFETY: the API requires `payload` to hold `len` bytes.
        B::post_message(conn, ty, unsafe { slice(payload, len) })
    })
}

unsafe extern "C" fn signal_event<B: Backend>(conn: u32, flag: u16) -> c_int {
    counted(Op::SignalEvent, || B::signal_event(conn, flag))
}

unsafe extern "C" fn flush_tlb<B: Backend>(space: u64, flags: u64, vps: *const u64, nwords: u32, start: u64, end: u64) -> c_int {
    // SAFETY: the API requires `vps` to hold `nwords` u64s.
    counted(Op::FlushTlb, || B::flush_tlb(space, flags, unsafe { slice(vps, nwords) }, start, end))
}

unsafe extern "C" fn send_ipi<B: Backend>(vector: u32, vps: *const u64, nwords: u32) -> c_int {
    // SAFETY: the API requires `vps` to hold `nwords` u64s.
    counted(Op::SendIpi, || B::send_ipi(vector, unsafe { slice(vps, nwords) }))
}

unsafe extern "C" fn notify_long_spin_wait<B: Backend>(count: u32) -> c_int {
    counted(Op::NotifyLongSpinWait, || B::notify_long_spin_wait(count))
}

unsafe extern "C" fn reference_time<B: Backend>(out: *mut u64) -> c_int {
    counted(Op::ReferenceTime, || {
        if out.is_null() {
            return Err(EINVAL);
        }
        let t = B::reference_time()?;
        // SAFETY: `out` is non-null and, by the API, points to a writable u64.
        unsafe { out.write(t) };
        Ok(())
    })
}

unsafe extern "C" fn synic_enable<B: Backend>(vp: u32, sint: u32) -> c_int {
    counted(Op::SynicEnable, || B::synic_enable(vp, sint))
}

unsafe extern "C" fn synic_disable<B: Backend>(vp: u32, sint: u32) -> c_int {
    counted(Op::SynicDisable, || B::synic_disable(vp, sint))
}

unsafe extern "C" fn message_page<B: Backend>(vp: u32) -> *mut c_void {
    B::message_page(vp)
}

unsafe extern "C" fn event_page<B: Backend>(vp: u32) -> *mut c_void {
    B::event_page(vp)
}

unsafe extern "C" fn eom<B: Backend>(vp: u32) -> c_int {
    counted(Op::Eom, || B::eom(vp))
}

unsafe extern "C" fn vp_count<B: Backend>() -> u32 {
    B::vp_count()
}

unsafe extern "C" fn vp_index<B: Backend>(cpu: u32) -> u32 {
    B::vp_index(cpu)
}

unsafe extern "C" fn ping<B: Backend>() -> c_int {
    counted(Op::Ping, || B::ping())
}

/// The table of backend `B`.
pub(crate) const fn table<B: Backend>() -> PvgHcallOps {
    PvgHcallOps {
        abi_version: PVG_HCALL_ABI_VERSION,
        backend: B::ID,
        name: B::NAME.as_ptr().cast(),
        post_message: post_message::<B>,
        signal_event: signal_event::<B>,
        flush_tlb: flush_tlb::<B>,
        send_ipi: send_ipi::<B>,
        notify_long_spin_wait: notify_long_spin_wait::<B>,
        reference_time: reference_time::<B>,
        synic_enable: synic_enable::<B>,
        synic_disable: synic_disable::<B>,
        message_page: message_page::<B>,
        event_page: event_page::<B>,
        eom: eom::<B>,
        set_handler,
        vp_count: vp_count::<B>,
        vp_index: vp_index::<B>,
        ping: ping::<B>,
    }
}

/// The "none" backend: no hypervisor interface.
pub(crate) struct NoBackend;

impl Backend for NoBackend {
    const ID: u32 = crate::pvg_hcall_api::backend::NONE;
    const NAME: &'static CStr = c"none";
    fn post_message(_: u32, _: u32, _: &[u8]) -> Result {
        Err(ENODEV)
    }
    fn signal_event(_: u32, _: u16) -> Result {
        Err(ENODEV)
    }
    fn flush_tlb(_: u64, _: u64, _: &[u64], _: u64, _: u64) -> Result {
        Err(ENODEV)
    }
    fn send_ipi(_: u32, _: &[u64]) -> Result {
        Err(ENODEV)
    }
    fn notify_long_spin_wait(_: u32) -> Result {
        Err(ENODEV)
    }
    fn reference_time() -> Result<u64> {
        Err(ENODEV)
    }
    fn synic_enable(_: u32, _: u32) -> Result {
        Err(ENODEV)
    }
    fn synic_disable(_: u32, _: u32) -> Result {
        Err(ENODEV)
    }
    fn message_page(_: u32) -> *mut c_void {
        core::ptr::null_mut()
    }
    fn event_page(_: u32) -> *mut c_void {
        core::ptr::null_mut()
    }
    fn eom(_: u32) -> Result {
        Err(ENODEV)
    }
    fn vp_count() -> u32 {
        0
    }
    fn vp_index(cpu: u32) -> u32 {
        cpu
    }
    fn ping() -> Result {
        Err(ENODEV)
    }
}

pub(crate) static NONE_OPS: PvgHcallOps = table::<NoBackend>();

/// The table `pvg_hcall_ops()` returns. Set once at load (after detection and, for the
/// simulator, after its device probed); reset to [`NONE_OPS`] if the backend goes away.
static ACTIVE: AtomicPtr<PvgHcallOps> = AtomicPtr::new(core::ptr::null_mut());

/// Makes `ops` the active table.
pub(crate) fn activate(ops: &'static PvgHcallOps) {
    ACTIVE.store(core::ptr::from_ref(ops).cast_mut(), Ordering::Release);
}

/// The active table.
pub(crate) fn active() -> &'static PvgHcallOps {
    let p = ACTIVE.load(Ordering::Acquire);
    if p.is_null() {
        &NONE_OPS
    } else {
        // SAFETY: only pointers to `'static` tables are ever stored in `ACTIVE`.
        unsafe { &*p }
    }
}

/// Exported (see shim.c): the active operations table; never null.
#[no_mangle]
pub(crate) extern "C" fn pvg_hcall_ops() -> *const PvgHcallOps {
    active()
}

static HANDLER: AtomicPtr<c_void> = AtomicPtr::new(core::ptr::null_mut());
static HANDLER_CTX: AtomicPtr<c_void> = AtomicPtr::new(core::ptr::null_mut());

unsafe extern "C" fn set_handler(handler: Option<SynicHandler>, ctx: *mut c_void) -> c_int {
    match handler {
        Some(h) => {
            if !HANDLER.load(Ordering::Acquire).is_null() {
                return EBUSY.to_errno();
            }
            HANDLER_CTX.store(ctx, Ordering::Release);
            if HANDLER
                .compare_exchange(core::ptr::null_mut(), h as *mut c_void, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                return EBUSY.to_errno();
            }
            0
        }
        None => {
            HANDLER.store(core::ptr::null_mut(), Ordering::Release);
            // Hard-IRQ handlers are RCU readers: after this no handler still runs the old
            // function or uses its context.
            kernel::sync::rcu::synchronize_rcu();
            HANDLER_CTX.store(core::ptr::null_mut(), Ordering::Release);
            0
        }
    }
}

/// Called by a backend in hard-IRQ context when `vp`'s SynIC interrupt fires.
pub(crate) fn dispatch_synic(vp: u32) {
    let h = HANDLER.load(Ordering::Acquire);
    if h.is_null() {
        return;
    }
    let ctx = HANDLER_CTX.load(Ordering::Acquire);
    // SAFETY: only `SynicHandler` values are stored in `HANDLER` (by `set_handler`), and the
    // module that installed it keeps it valid until it calls `set_handler(None)`, which waits
    // for this (RCU read-side, hard-IRQ) invocation to finish.
    let f: SynicHandler = unsafe { core::mem::transmute::<*mut c_void, SynicHandler>(h) };
    // SAFETY: calling the installed handler with the context it was installed with.
    unsafe { f(vp, ctx) };
}
