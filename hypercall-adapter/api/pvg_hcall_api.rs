// SPDX-License-Identifier: GPL-2.0-only
//! The hypercall adapter's API for other modules (`pvg_hcall.ko` exports it).
//!
//! One paravirt_ops-shaped table of neutral operations, filled by the backend the adapter chose
//! at load time (Hyper-V, Xen, the host simulator, or none). Modules include this file with
//! `#[path = ".../pvg_hcall_api.rs"] mod pvg_hcall_api;` and call through [`ops()`]; linking
//! against the exported `pvg_hcall_ops` symbol makes `modprobe` load `pvg_hcall` first and
//! keeps it loaded while they are.
//!
//! Every operation returns 0 or a negative errno: `-ENODEV` when no hypervisor interface is
//! present, `-EOPNOTSUPP` when this backend cannot do it, `-ETIMEDOUT` when the (simulated)
//! hypervisor did not answer in time, `-EINVAL`/`-EAGAIN`/... mapped from hypervisor status
//! codes. None of them sleeps; all may be called from any context, including hard IRQ.

use kernel::ffi::{c_char, c_int, c_void};

/// Version of [`PvgHcallOps`]; bumped on any incompatible change.
pub const PVG_HCALL_ABI_VERSION: u32 = 1;

/// [`PvgHcallOps::backend`] values.
pub mod backend {
    /// No hypervisor interface: every operation returns `-ENODEV`.
    pub const NONE: u32 = 0;
    /// Microsoft Hyper-V (TLFS hypercall page, synthetic MSRs).
    pub const HYPERV: u32 = 1;
    /// Xen HVM (vmcall/vmmcall hypercalls).
    pub const XEN: u32 = 2;
    /// The pvguest host simulator (ivshmem doorbell + guest-RAM call slots).
    pub const SIM: u32 = 3;
}

/// Called in hard-IRQ context when the SynIC interrupt of virtual processor `vp` fires, with
/// the `ctx` given to [`PvgHcallOps::set_handler`]. On Hyper-V this runs on CPU `vp`; with the
/// simulator it runs on the CPU the vector is routed to (normally `vp` too).
pub type SynicHandler = unsafe extern "C" fn(vp: u32, ctx: *mut c_void);

/// The operations. Field order is ABI.
#[repr(C)]
pub struct PvgHcallOps {
    /// [`PVG_HCALL_ABI_VERSION`].
    pub abi_version: u32,
    /// One of [`backend`].
    pub backend: u32,
    /// Backend name, NUL-terminated ("hyperv", "xen", "sim", "none").
    pub name: *const c_char,
    /// HvPostMessage: sends `len` (≤ 240) bytes as a message of `message_type` to
    /// `connection_id`.
    pub post_message: unsafe extern "C" fn(connection_id: u32, message_type: u32, payload: *const u8, len: u32) -> c_int,
    /// HvSignalEvent (Xen: event-channel send to port `connection_id`).
    pub signal_event: unsafe extern "C" fn(connection_id: u32, flag: u16) -> c_int,
    /// HvFlushVirtualAddressSpace/List(Ex): flush `[start, end)` (or everything when
    /// `end <= start`) in `address_space` on the VPs in the bitmap `vps` (`nwords` u64s).
    /// Xen flushes all TLBs of the domain (HVMOP_flush_tlbs).
    pub flush_tlb: unsafe extern "C" fn(address_space: u64, flags: u64, vps: *const u64, nwords: u32, start: u64, end: u64) -> c_int,
    /// HvSendSyntheticClusterIpi(Ex): interrupt `vector` on the VPs in the bitmap.
    pub send_ipi: unsafe extern "C" fn(vector: u32, vps: *const u64, nwords: u32) -> c_int,
    /// HvNotifyLongSpinWait (Xen: SCHEDOP_yield).
    pub notify_long_spin_wait: unsafe extern "C" fn(count: u32) -> c_int,
    /// Partition reference time in 100 ns units (Hyper-V reference TSC / TIME_REF_COUNT; Xen
    /// pvclock).
    pub reference_time: unsafe extern "C" fn(out: *mut u64) -> c_int,
    /// Enables the SynIC of `vp` (message and event-flag pages owned by the adapter) and
    /// unmasks `sint`. In the SynIC operations `vp` is a Linux CPU number; protocol fields that
    /// name a virtual processor take [`PvgHcallOps::vp_index`] of it.
    pub synic_enable: unsafe extern "C" fn(vp: u32, sint: u32) -> c_int,
    /// Masks `sint` of `vp`; the SynIC pages stay until the adapter unloads.
    pub synic_disable: unsafe extern "C" fn(vp: u32, sint: u32) -> c_int,
    /// The 4 KiB SynIC message page of `vp` (16 slots of 256 bytes), or null if not enabled.
    /// Its contents are written by the hypervisor: validate everything read from it.
    pub message_page: unsafe extern "C" fn(vp: u32) -> *mut c_void,
    /// The 4 KiB SynIC event-flags page of `vp` (16 × 2048 bits), or null.
    pub event_page: unsafe extern "C" fn(vp: u32) -> *mut c_void,
    /// End of message on `vp`: call after freeing a message slot whose pending flag was set.
    pub eom: unsafe extern "C" fn(vp: u32) -> c_int,
    /// Installs the SynIC interrupt handler (`-EBUSY` if one is installed), or removes it
    /// with `None` (returns after running handlers have finished).
    pub set_handler: unsafe extern "C" fn(handler: Option<SynicHandler>, ctx: *mut c_void) -> c_int,
    /// Number of CPUs the backend serves (CPUs `0..vp_count`).
    pub vp_count: unsafe extern "C" fn() -> u32,
    /// The hypervisor's virtual-processor index of Linux CPU `cpu` (Hyper-V's VP index, Xen's
    /// vcpu id; the simulator uses the CPU number), for protocol fields such as a VMBus
    /// channel's target VP.
    pub vp_index: unsafe extern "C" fn(cpu: u32) -> u32,
    /// A call that does nothing but reach the hypervisor and come back (latency probe);
    /// `-EOPNOTSUPP` where no such call exists.
    pub ping: unsafe extern "C" fn() -> c_int,
}

// SAFETY: the table is immutable after the adapter publishes it, and every function in it may
// be called from any thread.
unsafe impl Sync for PvgHcallOps {}

extern "C" {
    /// The active operations table; never null.
    pub fn pvg_hcall_ops() -> *const PvgHcallOps;
}

/// The active table, for modules that link against `pvg_hcall`.
pub fn ops() -> &'static PvgHcallOps {
    // SAFETY: `pvg_hcall_ops` returns a pointer to a static table that lives as long as the
    // `pvg_hcall` module, which cannot unload while this module (which imports the symbol) is
    // loaded.
    unsafe { &*pvg_hcall_ops() }
}
