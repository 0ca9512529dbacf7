// SPDX-License-Identifier: GPL-2.0-only
//! The `net_device` binding: safe Rust over the C shim (`shim.c`), and the entry points the
//! shim's operation tables call (`pvg_netvsc_rs_*`), which hand over to the device
//! ([`crate::nic::Nic`]).
//!
//! Rust-for-Linux 7.3 has no `net_device`, NAPI or `sk_buff` abstraction, so the shim owns
//! those objects' fields and this file sees them as opaque pointers plus plain values:
//! - [`NetDev`]: the device, allocated with one NAPI context per possible channel and the
//!   `Nic`'s address in its private area; every operation of its tables receives that
//!   address. The `Nic` outlives the registration (it unregisters before it goes).
//! - [`Skb`]: a socket buffer the driver owns (given by `ndo_start_xmit` or allocated on
//!   receive) until it hands it on, frees it, or returns it to the stack (`NETDEV_TX_BUSY`).

use kernel::ffi::{c_char, c_int, c_void};
use core::ptr::NonNull;

use kernel::{bindings, error::to_result, prelude::*};

use crate::nic::Nic;

/// `struct net_device` (opaque).
#[repr(C)]
pub(crate) struct RawNetDev {
    _private: [u8; 0],
}

/// `struct sk_buff` (opaque).
#[repr(C)]
pub(crate) struct RawSkb {
    _private: [u8; 0],
}

/// `struct pvg_net_stats` in shim.c.
#[repr(C)]
#[derive(Default)]
pub(crate) struct NetStats {
    pub(crate) rx_packets: u64,
    pub(crate) rx_bytes: u64,
    pub(crate) tx_packets: u64,
    pub(crate) tx_bytes: u64,
    pub(crate) rx_dropped: u64,
    pub(crate) tx_dropped: u64,
    pub(crate) rx_errors: u64,
    pub(crate) multicast: u64,
}

/// `struct pvg_net_caps` in shim.c: what the device is, set before registering.
#[repr(C)]
pub(crate) struct Caps {
    pub(crate) mac: [u8; 6],
    pub(crate) csum_ip4: u8,
    pub(crate) csum_ip6: u8,
    pub(crate) tso4: u8,
    pub(crate) tso6: u8,
    pub(crate) pad: [u8; 2],
    pub(crate) min_mtu: u32,
    pub(crate) max_mtu: u32,
    pub(crate) tso_max: u32,
    pub(crate) headroom: u32,
}

/// `struct pvg_net_tx_meta` in shim.c.
#[repr(C)]
#[derive(Default)]
pub(crate) struct TxMeta {
    pub(crate) len: u32,
    pub(crate) transport_offset: u32,
    pub(crate) gso_size: u32,
    pub(crate) hash: u32,
    pub(crate) headlen: u32,
    pub(crate) nr_frags: u32,
    pub(crate) vlan_tci: u16,
    pub(crate) has_vlan: u8,
    /// 0 other, 1 IPv4, 2 IPv6.
    pub(crate) l3: u8,
    /// 0 other, 1 TCP, 2 UDP.
    pub(crate) l4: u8,
    pub(crate) csum_partial: u8,
    pub(crate) gso: u8,
    pub(crate) pad: u8,
}

extern "C" {
    fn pvg_net_alloc(nic: *mut c_void, nqueues: u32, parent: *mut c_void) -> *mut RawNetDev;
    fn pvg_net_free(dev: *mut RawNetDev);
    fn pvg_net_setup(dev: *mut RawNetDev, caps: *const Caps);
    fn pvg_net_register(dev: *mut RawNetDev) -> c_int;
    fn pvg_net_unregister(dev: *mut RawNetDev);
    fn pvg_net_name(dev: *mut RawNetDev) -> *const c_char;
    fn pvg_net_set_queues(dev: *mut RawNetDev, n: u32) -> c_int;
    fn pvg_net_carrier(dev: *mut RawNetDev, on: bool);
    fn pvg_net_carrier_ok(dev: *mut RawNetDev) -> bool;
    fn pvg_net_napi_enable(dev: *mut RawNetDev, q: u32);
    fn pvg_net_napi_disable(dev: *mut RawNetDev, q: u32);
    fn pvg_net_napi_schedule(dev: *mut RawNetDev, q: u32);
    fn pvg_net_napi_complete(dev: *mut RawNetDev, q: u32, done: c_int) -> bool;
    fn pvg_net_tx_stop(dev: *mut RawNetDev, q: u32);
    fn pvg_net_tx_wake(dev: *mut RawNetDev, q: u32);
    fn pvg_net_tx_stopped(dev: *mut RawNetDev, q: u32) -> bool;
    fn pvg_net_rx_copy(dev: *mut RawNetDev, q: u32, src: *const u8, len: u32, data: *mut *mut u8) -> *mut RawSkb;
    fn pvg_net_rx_deliver(
        dev: *mut RawNetDev,
        q: u32,
        skb: *mut RawSkb,
        off: u32,
        len: u32,
        csum_ok: bool,
        vlan_tci: c_int,
        has_hash: bool,
        hash: u32,
    );
    fn pvg_net_skb_free(skb: *mut RawSkb);
    fn pvg_net_skb_consume(skb: *mut RawSkb);
    fn pvg_net_tx_meta(skb: *mut RawSkb, headroom: u32, m: *mut TxMeta) -> c_int;
    fn pvg_net_tx_checksum(skb: *mut RawSkb) -> c_int;
    fn pvg_net_tx_lso_prep(skb: *mut RawSkb, ipv6: bool);
    fn pvg_net_tx_head(skb: *mut RawSkb) -> *mut u8;
    fn pvg_net_tx_copy(skb: *mut RawSkb, dst: *mut u8, len: u32) -> c_int;
    fn pvg_net_tx_pieces(skb: *mut RawSkb, f: unsafe extern "C" fn(*mut c_void, u64, u32) -> c_int, ctx: *mut c_void) -> c_int;
    fn pvg_net_tx_linearize(skb: *mut RawSkb) -> c_int;
    fn pvg_net_vzalloc(len: u32) -> *mut u8;
    fn pvg_net_vfree(p: *mut u8);
    fn pvg_net_virt_to_phys(p: *const u8) -> u64;
    fn pvg_net_num_online_cpus() -> u32;
    fn pvg_net_nth_online_cpu(n: u32) -> c_int;
}

/// The device's `net_device`.
///
/// # Invariants
///
/// `raw` was allocated by `pvg_net_alloc` for the `Nic` that holds this handle, and is freed
/// ([`NetDev::free`]) only by that `Nic`'s teardown, after it is unregistered and its NAPI
/// contexts are disabled.
#[derive(Clone, Copy)]
pub(crate) struct NetDev {
    raw: NonNull<RawNetDev>,
}

// SAFETY: the net_device functions the shim wraps may be called from any thread (those that
// sleep say so and are only called from process context).
unsafe impl Send for NetDev {}
// SAFETY: as above.
unsafe impl Sync for NetDev {}

impl NetDev {
    /// Allocates the device for `nic` with `nqueues` queues (1..=64) under `parent`.
    pub(crate) fn alloc(nic: *const Nic, nqueues: u32, parent: *mut bindings::device) -> Result<Self> {
        // SAFETY: the shim stores `nic` in the private area and checks `nqueues`; `parent` is
        // the bound VMBus device's `struct device`.
        let raw = unsafe { pvg_net_alloc(nic.cast_mut().cast(), nqueues, parent.cast()) };
        // INVARIANT: allocated for `nic`.
        Ok(NetDev { raw: NonNull::new(raw).ok_or(ENOMEM)? })
    }

    /// Frees the device.
    ///
    /// # Safety
    ///
    /// Once, by the owner, after [`NetDev::unregister`] (if it was registered) and with every
    /// NAPI context disabled; the handle is not used afterwards.
    pub(crate) unsafe fn free(self) {
        // SAFETY: the caller's contract.
        unsafe { pvg_net_free(self.raw.as_ptr()) }
    }

    /// MAC, MTU range, offloads (before registering).
    pub(crate) fn setup(&self, caps: &Caps) {
        // SAFETY: live device (invariant); `caps` is read during the call.
        unsafe { pvg_net_setup(self.raw.as_ptr(), caps) }
    }

    /// `register_netdev` (process context).
    pub(crate) fn register(&self) -> Result {
        // SAFETY: live device (invariant).
        to_result(unsafe { pvg_net_register(self.raw.as_ptr()) })
    }

    /// `unregister_netdev` (process context; takes rtnl).
    pub(crate) fn unregister(&self) {
        // SAFETY: live, registered device (the caller registered it).
        unsafe { pvg_net_unregister(self.raw.as_ptr()) }
    }

    /// The interface name (`eth0`, ...) for log lines.
    pub(crate) fn name(&self) -> &CStr {
        // SAFETY: live device; `dev->name` is a NUL-terminated array inside it.
        unsafe { CStr::from_char_ptr(pvg_net_name(self.raw.as_ptr())) }
    }

    /// Queues in use (process context; takes rtnl).
    pub(crate) fn set_queues(&self, n: u32) -> Result {
        // SAFETY: live device (invariant).
        to_result(unsafe { pvg_net_set_queues(self.raw.as_ptr(), n) })
    }

    /// Carrier on or off (any context).
    pub(crate) fn set_carrier(&self, on: bool) {
        // SAFETY: live device (invariant).
        unsafe { pvg_net_carrier(self.raw.as_ptr(), on) }
    }

    /// Whether the carrier is on.
    pub(crate) fn carrier(&self) -> bool {
        // SAFETY: live device (invariant).
        unsafe { pvg_net_carrier_ok(self.raw.as_ptr()) }
    }

    /// Enables NAPI context `q` (process context).
    pub(crate) fn napi_enable(&self, q: u32) {
        // SAFETY: live device; the shim bounds-checks `q`.
        unsafe { pvg_net_napi_enable(self.raw.as_ptr(), q) }
    }

    /// Disables NAPI context `q`, waiting for a running poll (process context).
    pub(crate) fn napi_disable(&self, q: u32) {
        // SAFETY: as above.
        unsafe { pvg_net_napi_disable(self.raw.as_ptr(), q) }
    }

    /// Schedules NAPI context `q` (no effect while it is disabled).
    pub(crate) fn napi_schedule(&self, q: u32) {
        // SAFETY: as above.
        unsafe { pvg_net_napi_schedule(self.raw.as_ptr(), q) }
    }

    /// `napi_complete_done`: true when the context is done (re-enable the host's signals).
    pub(crate) fn napi_complete(&self, q: u32, done: i32) -> bool {
        // SAFETY: as above; called from that context's poll only.
        unsafe { pvg_net_napi_complete(self.raw.as_ptr(), q, done) }
    }

    /// Stops transmit queue `q`.
    pub(crate) fn tx_stop(&self, q: u32) {
        // SAFETY: as above.
        unsafe { pvg_net_tx_stop(self.raw.as_ptr(), q) }
    }

    /// Wakes transmit queue `q` if it is stopped and the interface running.
    pub(crate) fn tx_wake(&self, q: u32) {
        // SAFETY: as above.
        unsafe { pvg_net_tx_wake(self.raw.as_ptr(), q) }
    }

    /// Whether transmit queue `q` is stopped.
    pub(crate) fn tx_stopped(&self, q: u32) -> bool {
        // SAFETY: as above.
        unsafe { pvg_net_tx_stopped(self.raw.as_ptr(), q) }
    }

    /// A private copy of `len` bytes at `src` (the receive buffer) in a fresh skb for NAPI
    /// context `q`.
    ///
    /// # Safety
    ///
    /// `src` must be readable for `len` bytes (the host may write them concurrently: the
    /// copy is a plain `memcpy` into private memory, whose result is only parsed).
    pub(crate) unsafe fn rx_copy(&self, q: u32, src: *const u8, len: u32) -> Option<RxSkb> {
        let mut data: *mut u8 = core::ptr::null_mut();
        // SAFETY: live device; `src` readable (contract); `data` is a valid out pointer.
        let skb = NonNull::new(unsafe { pvg_net_rx_copy(self.raw.as_ptr(), q, src, len, &mut data) })?;
        let data = NonNull::new(data)?;
        // INVARIANT: the skb's `len` bytes at `data`, just filled, ours alone.
        Some(RxSkb { skb, data, len: len as usize })
    }
}

/// A received copy, not yet handed to the stack.
///
/// # Invariants
///
/// `skb` is an skb this driver allocated and owns; `data` points at its `len` private bytes.
pub(crate) struct RxSkb {
    skb: NonNull<RawSkb>,
    data: NonNull<u8>,
    len: usize,
}

impl RxSkb {
    /// The copied bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: `len` initialised bytes owned by the skb we own (invariant).
        unsafe { core::slice::from_raw_parts(self.data.as_ptr(), self.len) }
    }

    /// Hands the frame at `frame` (a range of [`RxSkb::bytes`]) with its metadata to the
    /// stack through NAPI context `q` of `dev`.
    pub(crate) fn deliver(self, dev: &NetDev, q: u32, frame: core::ops::Range<usize>, meta: &netvsc_proto::guest::RxMeta) {
        let skb = self.skb.as_ptr();
        core::mem::forget(self);
        let (off, len) = (frame.start as u32, frame.len() as u32);
        let vlan = meta.vlan_tci.map_or(-1, c_int::from);
        // SAFETY: we own `skb` (invariant, and `forget` gives it away exactly once here); the
        // shim checks the range against the skb again and frees it if it does not fit.
        unsafe {
            pvg_net_rx_deliver(dev.raw.as_ptr(), q, skb, off, len, meta.csum_verified, vlan, meta.hash.is_some(), meta.hash.unwrap_or(0))
        }
    }
}

impl Drop for RxSkb {
    fn drop(&mut self) {
        // SAFETY: we own the skb (invariant) and free it once.
        unsafe { pvg_net_skb_free(self.skb.as_ptr()) }
    }
}

/// A socket buffer to transmit, owned by the driver.
///
/// # Invariants
///
/// `raw` is an skb the stack handed to `ndo_start_xmit`; the driver owns it until it frees
/// it ([`Skb::free`], [`Skb::consume`]), parks it in a send slot ([`Skb::into_raw`]) or
/// gives it back to the stack (by returning busy, after [`Skb::into_raw`]).
pub(crate) struct Skb {
    raw: NonNull<RawSkb>,
}

impl Skb {
    /// # Safety
    ///
    /// `raw` must be an skb the driver owns (see the invariant).
    pub(crate) unsafe fn from_raw(raw: *mut RawSkb) -> Option<Self> {
        NonNull::new(raw).map(|raw| Skb { raw })
    }

    /// Gives up ownership (the caller keeps the pointer).
    pub(crate) fn into_raw(self) -> *mut RawSkb {
        self.raw.as_ptr()
    }

    /// Makes the head private with `headroom` bytes for the RNDIS header and describes the
    /// frame.
    pub(crate) fn meta(&mut self, headroom: u32) -> Result<TxMeta> {
        let mut m = TxMeta::default();
        // SAFETY: we own the skb (invariant); `m` is a valid out pointer.
        to_result(unsafe { pvg_net_tx_meta(self.raw.as_ptr(), headroom, &mut m) })?;
        Ok(m)
    }

    /// Completes the stack's partial checksum in software.
    pub(crate) fn checksum(&mut self) -> Result {
        // SAFETY: as above.
        to_result(unsafe { pvg_net_tx_checksum(self.raw.as_ptr()) })
    }

    /// Prepares the TCP/IP headers for LSOv2.
    ///
    /// # Safety
    ///
    /// The skb must be a TCP segmentation request over IPv4 (`ipv6` false) or IPv6 whose
    /// head is private ([`Skb::meta`] succeeded).
    pub(crate) unsafe fn lso_prep(&mut self, ipv6: bool) {
        // SAFETY: the caller's contract: the headers exist and are ours to write.
        unsafe { pvg_net_tx_lso_prep(self.raw.as_ptr(), ipv6) }
    }

    /// The RNDIS header area at the start of the (private) headroom, `len` bytes, and its
    /// guest-physical address.
    ///
    /// # Safety
    ///
    /// [`Skb::meta`] succeeded with a headroom of at least `len` bytes since the skb was
    /// last changed by anyone.
    pub(crate) unsafe fn header_area(&mut self, len: usize) -> (&mut [u8], u64) {
        // SAFETY: we own the skb; after `meta` its head is private and has `len` bytes of
        // headroom before the data, which nobody else reads or writes.
        unsafe {
            let p = pvg_net_tx_head(self.raw.as_ptr());
            (core::slice::from_raw_parts_mut(p, len), pvg_net_virt_to_phys(p))
        }
    }

    /// Copies the whole frame (`len` bytes) into `dst`.
    pub(crate) fn copy_to(&self, dst: &mut [u8]) -> Result {
        let len = u32::try_from(dst.len()).map_err(|_| EINVAL)?;
        // SAFETY: we own the skb; `dst` is writable for `len` bytes.
        to_result(unsafe { pvg_net_tx_copy(self.raw.as_ptr(), dst.as_mut_ptr(), len) })
    }

    /// Calls `f(phys, len)` for the linear part and each fragment, in order; stops at the
    /// first error.
    pub(crate) fn pieces<F: FnMut(u64, u32) -> Result>(&self, f: &mut F) -> Result {
        unsafe extern "C" fn tramp<F: FnMut(u64, u32) -> Result>(ctx: *mut c_void, phys: u64, len: u32) -> c_int {
            // SAFETY: `ctx` is the `&mut F` below, used only during the synchronous call.
            let f = unsafe { &mut *ctx.cast::<F>() };
            match f(phys, len) {
                Ok(()) => 0,
                Err(e) => e.to_errno(),
            }
        }
        // SAFETY: we own the skb; `tramp::<F>` matches the callback type and `f` outlives
        // the call.
        to_result(unsafe { pvg_net_tx_pieces(self.raw.as_ptr(), tramp::<F>, core::ptr::from_mut(f).cast()) })
    }

    /// Puts the whole frame in the linear part.
    pub(crate) fn linearize(&mut self) -> Result {
        // SAFETY: we own the skb.
        to_result(unsafe { pvg_net_tx_linearize(self.raw.as_ptr()) })
    }

    /// Frees a frame that could not be sent (counted as dropped by the caller).
    pub(crate) fn free(self) {
        // SAFETY: we own the skb and give it up here.
        unsafe { pvg_net_skb_free(self.into_raw()) }
    }

    /// Frees a frame that was sent.
    pub(crate) fn consume(self) {
        // SAFETY: as above.
        unsafe { pvg_net_skb_consume(self.into_raw()) }
    }
}

/// A zeroed, page-aligned vmalloc buffer the host reads or writes through a GPADL.
///
/// # Invariants
///
/// `ptr` is a live `vzalloc` allocation of `len` bytes, freed on drop unless leaked (when
/// the host may still use it).
pub(crate) struct VBuf {
    ptr: NonNull<u8>,
    len: u32,
}

// SAFETY: plain memory, accessed through raw pointers.
unsafe impl Send for VBuf {}
// SAFETY: as above.
unsafe impl Sync for VBuf {}

impl VBuf {
    /// `len` zeroed bytes.
    pub(crate) fn new(len: u32) -> Result<Self> {
        // SAFETY: vzalloc has no preconditions.
        let p = unsafe { pvg_net_vzalloc(len) };
        // INVARIANT: a fresh allocation of `len` bytes.
        Ok(VBuf { ptr: NonNull::new(p).ok_or(ENOMEM)?, len })
    }

    /// The start.
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Bytes.
    pub(crate) fn len(&self) -> u32 {
        self.len
    }

    /// Never frees the memory (the host did not confirm it stopped using it).
    pub(crate) fn leak(self) {
        core::mem::forget(self);
    }
}

impl Drop for VBuf {
    fn drop(&mut self) {
        // SAFETY: our allocation (invariant), freed once.
        unsafe { pvg_net_vfree(self.ptr.as_ptr()) }
    }
}

/// `num_online_cpus()`.
pub(crate) fn num_online_cpus() -> u32 {
    // SAFETY: reads the online mask's weight.
    unsafe { pvg_net_num_online_cpus() }
}

/// The `n`-th online CPU, if there are that many.
pub(crate) fn nth_online_cpu(n: u32) -> Option<u32> {
    // SAFETY: `cpumask_nth` bounds-checks `n`.
    u32::try_from(unsafe { pvg_net_nth_online_cpu(n) }).ok()
}

// ---------------------------------------------------------------------------------------
// Entry points of the shim's operation tables. `nic` is the private area's pointer: the
// `Nic` that allocated the device, alive while the device is registered (every netdev and
// ethtool operation) and while a NAPI context is enabled (poll).

/// # Safety
///
/// `nic` must be the `Nic` stored in the device's private area (see above).
unsafe fn nic<'a>(nic: *mut c_void) -> &'a Nic {
    // SAFETY: the caller's contract.
    unsafe { &*nic.cast::<Nic>() }
}

#[no_mangle]
unsafe extern "C" fn pvg_netvsc_rs_open(n: *mut c_void) -> c_int {
    // SAFETY: called by the shim's ndo_open with the private area's pointer.
    match unsafe { nic(n) }.ndo_open() {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

#[no_mangle]
unsafe extern "C" fn pvg_netvsc_rs_stop(n: *mut c_void) -> c_int {
    // SAFETY: as above (ndo_stop).
    unsafe { nic(n) }.ndo_stop();
    0
}

#[no_mangle]
unsafe extern "C" fn pvg_netvsc_rs_xmit(n: *mut c_void, skb: *mut RawSkb, q: u16) -> c_int {
    // SAFETY: as above (ndo_start_xmit); the stack hands us `skb`.
    let Some(skb) = (unsafe { Skb::from_raw(skb) }) else { return 0 };
    // SAFETY: as above.
    c_int::from(unsafe { nic(n) }.xmit(skb, q).is_err())
}

#[no_mangle]
unsafe extern "C" fn pvg_netvsc_rs_select_queue(n: *mut c_void, hash: u32, nqueues: u32) -> u16 {
    // SAFETY: as above (ndo_select_queue).
    unsafe { nic(n) }.select_queue(hash, nqueues)
}

#[no_mangle]
unsafe extern "C" fn pvg_netvsc_rs_rx_mode(n: *mut c_void, promisc: bool, allmulti: bool, mc: *const u8, count: u32, total: u32) -> c_int {
    let list: &[u8] = if mc.is_null() {
        &[]
    } else {
        // SAFETY: the shim passes `count` addresses of 6 bytes.
        unsafe { core::slice::from_raw_parts(mc, count as usize * 6) }
    };
    // SAFETY: as above (ndo_set_rx_mode_async, process context).
    match unsafe { nic(n) }.rx_mode(promisc, allmulti, list, total as usize) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

#[no_mangle]
unsafe extern "C" fn pvg_netvsc_rs_stats64(n: *mut c_void, out: *mut NetStats) {
    // SAFETY: as above (ndo_get_stats64); `out` is the shim's zeroed local.
    if let Some(out) = unsafe { out.as_mut() } {
        // SAFETY: as above.
        unsafe { nic(n) }.stats64(out);
    }
}

#[no_mangle]
unsafe extern "C" fn pvg_netvsc_rs_poll(n: *mut c_void, q: u32, budget: c_int) -> c_int {
    // SAFETY: as above (a NAPI poll of context `q`, which is enabled).
    unsafe { nic(n) }.poll(q, budget.max(0))
}

/// Copies `s` into the C buffer `dst` of `len` bytes, NUL-terminated.
fn put_cstr(dst: *mut c_char, len: u32, s: &[u8]) {
    if dst.is_null() || len == 0 {
        return;
    }
    let n = s.len().min(len as usize - 1);
    // SAFETY: `dst` holds `len` bytes (the shim passes the field's size); `n < len`.
    unsafe {
        core::ptr::copy_nonoverlapping(s.as_ptr(), dst.cast::<u8>(), n);
        dst.add(n).write(0);
    }
}

#[no_mangle]
unsafe extern "C" fn pvg_netvsc_rs_drvinfo(n: *mut c_void, fw: *mut c_char, fw_len: u32, bus: *mut c_char, bus_len: u32) {
    // SAFETY: as above (ethtool, rtnl held).
    let nic = unsafe { nic(n) };
    let mut buf = [0u8; 32];
    put_cstr(fw, fw_len, nic.fw_version(&mut buf));
    put_cstr(bus, bus_len, nic.name.as_str().as_bytes());
}

#[no_mangle]
unsafe extern "C" fn pvg_netvsc_rs_sset_count(n: *mut c_void) -> c_int {
    // SAFETY: as above.
    c_int::try_from(unsafe { nic(n) }.stat_count()).unwrap_or(0)
}

#[no_mangle]
unsafe extern "C" fn pvg_netvsc_rs_strings(n: *mut c_void, data: *mut u8, count: u32) {
    if data.is_null() {
        return;
    }
    // SAFETY: the shim passes the buffer ethtool sized for `count` strings of 32 bytes.
    let out = unsafe { core::slice::from_raw_parts_mut(data, count as usize * crate::stats::ETH_GSTRING_LEN) };
    // SAFETY: as above.
    unsafe { nic(n) }.stat_strings(out);
}

#[no_mangle]
unsafe extern "C" fn pvg_netvsc_rs_ethtool_stats(n: *mut c_void, data: *mut u64, count: u32) {
    if data.is_null() {
        return;
    }
    // SAFETY: the shim passes ethtool's array of `n_stats` values.
    let out = unsafe { core::slice::from_raw_parts_mut(data, count as usize) };
    // SAFETY: as above.
    unsafe { nic(n) }.stat_values(out);
}

#[no_mangle]
unsafe extern "C" fn pvg_netvsc_rs_channels(n: *mut c_void, max: *mut u32, count: *mut u32) {
    // SAFETY: as above.
    let (m, c) = unsafe { nic(n) }.channels();
    // SAFETY: the shim passes the fields of its ethtool_channels.
    unsafe {
        max.write(m);
        count.write(c);
    }
}

#[no_mangle]
unsafe extern "C" fn pvg_netvsc_rs_rings(n: *mut c_void, rx_max: *mut u32, rx: *mut u32, tx_max: *mut u32, tx: *mut u32) {
    // SAFETY: as above.
    let (r, t) = unsafe { nic(n) }.rings();
    // SAFETY: the shim passes the fields of its ethtool_ringparam.
    unsafe {
        rx_max.write(r);
        rx.write(r);
        tx_max.write(t);
        tx.write(t);
    }
}

#[no_mangle]
unsafe extern "C" fn pvg_netvsc_rs_speed(n: *mut c_void) -> u32 {
    // SAFETY: as above.
    unsafe { nic(n) }.speed_mbps()
}
