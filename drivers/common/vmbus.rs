// SPDX-License-Identifier: GPL-2.0-only
//! Safe Rust types over the VMBus core's C API (`drivers/api/pvg_vmbus_api.rs`, exported by
//! `pvg_vmbus.ko`) that every VSC driver uses: driver registration, the device, channels
//! (open, close, send, receive) and GUID formatting. Each driver compiles this file as its
//! own module (`#[path]`) and adds the channel operations only it needs in an `impl Channel`
//! of its own, through [`Channel::as_ptr`].
//!
//! What the drivers rely on (read in `drivers/vmbus/{exports,channel,ring,conn}.rs`):
//! - `probe`/`remove` run in process context, never concurrently for one device: `probe` on
//!   the core's device worker (a device offered while the driver is registered) or in
//!   `module_init` (devices offered before); `remove` once after a successful `probe`
//!   (unbind, module unload, or rescind, when the channels are already marked rescinded).
//! - Sub-channel offers are delivered by the device worker, so none arrives while a `probe`
//!   running there waits: a driver finishes its setup in its own work item. The sub-channel
//!   callback may run until the primary is closed.
//! - The channel callback runs in softirq context (`system_bh`), one at a time per channel;
//!   `pvg_vmbus_close` (process context only: it flushes that work) returns only when the
//!   callback is not running and will not run again.
//! - `send`/`send_gpa` take the ring's lock with interrupts off, never sleep, may be called
//!   from any context and concurrently, copy the packet (and page list) into the ring, and
//!   fail with `-EAGAIN` when the ring is full (the host signals when there is room),
//!   `-ENODEV` once closed or rescinded, `-EIO` once the ring is corrupt.
//! - `recv` returns 0 with one whole packet copied (`RecvInfo::len` bytes, descriptor
//!   included), `-EAGAIN` when the ring is empty, `-EMSGSIZE` when the packet does not fit
//!   (it stays in the ring), `-ENODEV`/`-EIO` when the channel is gone or its ring corrupt.

use core::ffi::{c_int, c_void};
use core::ptr::NonNull;

use kernel::{bindings, error::to_result, prelude::*};

use crate::pvg_vmbus_api::{
    pvg_vmbus_close, pvg_vmbus_dev, pvg_vmbus_device_info, pvg_vmbus_driver_register, pvg_vmbus_driver_unregister,
    pvg_vmbus_get_drvdata, pvg_vmbus_open, pvg_vmbus_primary_channel, pvg_vmbus_recv, pvg_vmbus_rescinded,
    pvg_vmbus_send, pvg_vmbus_set_drvdata, DeviceInfo, RawChannel, RawDevice, RawDriver, RecvInfo, SubchannelFn,
};
pub(crate) use crate::pvg_vmbus_api::packet;

/// A VMBus driver: what the core calls for each device of the registered class.
pub(crate) trait Driver: 'static {
    /// Driver-wide state handed to every probe (owned by the module, outlives the
    /// registration).
    type Shared: Sync + 'static;

    /// A device appeared (process context).
    fn probe(shared: &Self::Shared, dev: Device) -> Result;

    /// The device goes (process context); after this returns nothing of it may be used.
    fn remove(shared: &Self::Shared, dev: Device);
}

/// A registered driver; unregistering (on drop) removes every bound device first.
///
/// # Invariants
///
/// `raw` is a driver registered with `pvg_vmbus_driver_register` whose context is a
/// `T::Shared` that outlives this object.
pub(crate) struct Registration<T: Driver> {
    raw: NonNull<RawDriver>,
    _p: core::marker::PhantomData<T>,
}

// SAFETY: the handle is only passed back to the core, which synchronises.
unsafe impl<T: Driver> Send for Registration<T> {}
// SAFETY: as above; `&Registration` allows nothing.
unsafe impl<T: Driver> Sync for Registration<T> {}

impl<T: Driver> Registration<T> {
    /// Registers `T` for devices of `class_id` (the 16 wire bytes of the class GUID).
    ///
    /// # Safety
    ///
    /// `shared` must stay valid (and not move) until the returned registration is dropped.
    pub(crate) unsafe fn new(
        name: &'static CStr,
        class_id: &'static [u8; 16],
        shared: *const T::Shared,
        module: &'static ThisModule,
    ) -> Result<Self> {
        // SAFETY: `name` and `class_id` are static; the trampolines match the C types;
        // `shared` outlives the registration (this function's contract).
        let raw = unsafe {
            pvg_vmbus_driver_register(
                name.as_char_ptr(),
                class_id.as_ptr(),
                Self::probe_tramp,
                Self::remove_tramp,
                shared.cast_mut().cast(),
                module.as_ptr().cast(),
            )
        };
        let raw = kernel::error::from_err_ptr(raw)?;
        // INVARIANT: registered above with `shared` as context.
        Ok(Registration { raw: NonNull::new(raw).ok_or(ENOMEM)?, _p: core::marker::PhantomData })
    }

    /// # Safety
    ///
    /// Called by the core only, with a device of our class and the registration's context.
    unsafe extern "C" fn probe_tramp(dev: *mut RawDevice, ctx: *mut c_void) -> c_int {
        // SAFETY: `ctx` is the `T::Shared` given at registration, alive while registered;
        // `dev` is live for the duration of probe (core contract).
        let (shared, dev) = unsafe { (&*ctx.cast::<T::Shared>(), Device::from_raw(dev)) };
        let Some(dev) = dev else { return EINVAL.to_errno() };
        match T::probe(shared, dev) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// As for `probe_tramp`, after a successful probe of `dev`.
    unsafe extern "C" fn remove_tramp(dev: *mut RawDevice, ctx: *mut c_void) {
        // SAFETY: as in `probe_tramp`.
        let (shared, dev) = unsafe { (&*ctx.cast::<T::Shared>(), Device::from_raw(dev)) };
        if let Some(dev) = dev {
            T::remove(shared, dev);
        }
    }
}

impl<T: Driver> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: registered (type invariant) and unregistered exactly once, here.
        unsafe { pvg_vmbus_driver_unregister(self.raw.as_ptr()) };
    }
}

/// A VMBus device, valid from `probe` until `remove` returns.
///
/// # Invariants
///
/// `raw` is a device the core handed to this driver's probe/remove; every use happens
/// between that probe and the end of the matching remove.
#[derive(Clone, Copy)]
pub(crate) struct Device {
    raw: NonNull<RawDevice>,
}

// SAFETY: the core's device functions may be called from any thread.
unsafe impl Send for Device {}
// SAFETY: as above.
unsafe impl Sync for Device {}

impl Device {
    /// # Safety
    ///
    /// `raw` must be a live device handed to this driver by the core.
    unsafe fn from_raw(raw: *mut RawDevice) -> Option<Self> {
        NonNull::new(raw).map(|raw| Device { raw })
    }

    /// What the host offered.
    pub(crate) fn info(&self) -> Result<DeviceInfo> {
        let mut info = DeviceInfo {
            class_id: [0; 16],
            instance_id: [0; 16],
            user_defined: [0; 120],
            relid: 0,
            vmbus_version: 0,
            max_cpus: 0,
        };
        // SAFETY: live device (type invariant); `info` is a valid out pointer.
        to_result(unsafe { pvg_vmbus_device_info(self.raw.as_ptr(), &mut info) })?;
        Ok(info)
    }

    /// The `struct device` (parent of the net_device).
    pub(crate) fn as_dev(&self) -> *mut bindings::device {
        // SAFETY: live device (type invariant).
        unsafe { pvg_vmbus_dev(self.raw.as_ptr()) }.cast()
    }

    /// The primary channel.
    pub(crate) fn primary(&self) -> Option<Channel> {
        // SAFETY: live device (type invariant).
        NonNull::new(unsafe { pvg_vmbus_primary_channel(self.raw.as_ptr()) }).map(|raw| Channel { raw })
    }

    /// Stores the driver's per-device pointer.
    pub(crate) fn set_drvdata(&self, p: *mut c_void) {
        // SAFETY: live device (type invariant).
        unsafe { pvg_vmbus_set_drvdata(self.raw.as_ptr(), p) }
    }

    /// The driver's per-device pointer.
    pub(crate) fn drvdata(&self) -> *mut c_void {
        // SAFETY: live device (type invariant).
        unsafe { pvg_vmbus_get_drvdata(self.raw.as_ptr()) }
    }
}

/// What a channel's owner handles.
pub(crate) trait ChannelHandler: Sync {
    /// The host signalled `chan` (softirq context).
    fn on_channel(&self, chan: Channel);
    /// The host offered sub-channel `index` of the primary this handler opened (process
    /// context).
    fn on_subchannel(&self, primary: Channel, sub: Channel, index: u16);
}

/// A VMBus channel.
///
/// # Invariants
///
/// `raw` is a channel of a device bound to this driver, used only while the device is
/// (between probe and the end of remove). Calls on a closed or rescinded channel fail with
/// an errno (core contract); none is memory-unsafe.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Channel {
    raw: NonNull<RawChannel>,
}

// SAFETY: the core's channel functions may be called from any thread.
unsafe impl Send for Channel {}
// SAFETY: as above.
unsafe impl Sync for Channel {}

/// One received packet's metadata.
pub(crate) struct Received {
    /// Packet type ([`packet`]).
    pub(crate) packet_type: u16,
    /// Descriptor flags.
    #[allow(dead_code)] // not every driver needs them
    pub(crate) flags: u16,
    /// Transaction id.
    pub(crate) trans_id: u64,
    /// Where the payload starts in the buffer.
    pub(crate) data_offset: usize,
    /// Bytes copied (whole packet).
    pub(crate) len: usize,
}

impl Channel {
    /// Opens the channel with rings of the given sizes; `handler` gets its callbacks
    /// (`subchannel` asks for sub-channel offers too). `target_cpu` is the CPU whose
    /// interrupts carry the channel's signals (-1: the core's choice).
    ///
    /// # Safety
    ///
    /// `handler` must stay valid until the channel is closed ([`Channel::close`] returned).
    pub(crate) unsafe fn open<H: ChannelHandler>(
        &self,
        send_ring: u32,
        recv_ring: u32,
        subchannel: bool,
        handler: *const H,
        target_cpu: i32,
    ) -> Result {
        let sub: Option<SubchannelFn> = if subchannel { Some(sub_tramp::<H>) } else { None };
        // Linux's storvsc and netvsc open with zeroed channel properties as user data.
        let props = [0u8; 24];
        // SAFETY: live channel (type invariant); `props` is read during the call only; the
        // trampolines match the C types; `handler` outlives the open channel (contract).
        to_result(unsafe {
            pvg_vmbus_open(
                self.raw.as_ptr(),
                send_ring,
                recv_ring,
                props.as_ptr(),
                props.len() as u32,
                chan_tramp::<H>,
                sub,
                handler.cast_mut().cast(),
                target_cpu,
            )
        })
    }

    /// Closes the channel; no callback runs after this returns.
    pub(crate) fn close(&self) {
        // SAFETY: live channel (type invariant).
        unsafe { pvg_vmbus_close(self.raw.as_ptr()) }
    }

    /// Sends an in-band packet.
    pub(crate) fn send(&self, packet_type: u16, flags: u16, trans_id: u64, data: &[u8]) -> Result {
        let len = u32::try_from(data.len()).map_err(|_| EINVAL)?;
        // SAFETY: live channel; `data` is valid for `len` bytes during the call (the core
        // copies it into the ring).
        to_result(unsafe { pvg_vmbus_send(self.raw.as_ptr(), packet_type, flags, trans_id, data.as_ptr(), len) })
    }

    /// Copies the next inbound packet into `buf`: `Ok(None)` when the ring is empty.
    /// `EMSGSIZE`: the packet does not fit `buf` (and stays in the ring).
    pub(crate) fn recv(&self, buf: &mut [u8]) -> Result<Option<Received>> {
        let mut info = RecvInfo::default();
        let cap = u32::try_from(buf.len()).unwrap_or(u32::MAX);
        // SAFETY: live channel; `buf` is writable for `cap` bytes and `info` is a valid out
        // pointer.
        let rc = unsafe { pvg_vmbus_recv(self.raw.as_ptr(), buf.as_mut_ptr(), cap, &mut info) };
        match to_result(rc) {
            Ok(()) => {}
            Err(e) if e == EAGAIN => return Ok(None),
            Err(e) => return Err(e),
        }
        // The core's lengths are trusted only as far as the buffer goes.
        Ok(Some(Received {
            packet_type: info.packet_type,
            flags: info.flags,
            trans_id: info.trans_id,
            data_offset: info.data_offset as usize,
            len: (info.len as usize).min(buf.len()),
        }))
    }

    /// Whether the host rescinded the channel.
    pub(crate) fn rescinded(&self) -> bool {
        // SAFETY: live channel (type invariant).
        unsafe { pvg_vmbus_rescinded(self.raw.as_ptr()) }
    }

    /// The raw handle.
    pub(crate) fn as_ptr(&self) -> *mut RawChannel {
        self.raw.as_ptr()
    }

    /// # Safety
    ///
    /// `raw` must be a channel of a device bound to this driver (see the invariant).
    pub(crate) unsafe fn from_raw(raw: *mut RawChannel) -> Option<Self> {
        NonNull::new(raw).map(|raw| Channel { raw })
    }
}

/// # Safety
///
/// Called by the core only, with an open channel and the context given to its `open`.
unsafe extern "C" fn chan_tramp<H: ChannelHandler>(chan: *mut RawChannel, ctx: *mut c_void) {
    // SAFETY: `ctx` is the handler given to `open`, valid until the channel is closed, and
    // the core calls this only while it is open; `chan` is that channel.
    let (h, chan) = unsafe { (&*ctx.cast::<H>(), Channel::from_raw(chan)) };
    if let Some(chan) = chan {
        h.on_channel(chan);
    }
}

/// # Safety
///
/// Called by the core only, with our open primary channel, its offered sub-channel and the
/// context given to the primary's `open`.
unsafe extern "C" fn sub_tramp<H: ChannelHandler>(primary: *mut RawChannel, sub: *mut RawChannel, index: u16, ctx: *mut c_void) {
    // SAFETY: as in `chan_tramp` (the primary is open while its sub-channels are offered).
    let h = unsafe { &*ctx.cast::<H>() };
    // SAFETY: both are channels of our device, passed by the core.
    if let (Some(p), Some(s)) = unsafe { (Channel::from_raw(primary), Channel::from_raw(sub)) } {
        h.on_subchannel(p, s, index);
    }
}

/// A GUID as Linux prints it with `%pUl` (first three fields little-endian on the wire).
pub(crate) struct GuidStr([u8; 36]);

impl GuidStr {
    /// Formats `g`.
    pub(crate) fn new(g: &[u8; 16]) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let order = [3usize, 2, 1, 0, 16, 5, 4, 16, 7, 6, 16, 8, 9, 16, 10, 11, 12, 13, 14, 15];
        let mut s = [b'-'; 36];
        let mut at = 0;
        for i in order {
            if let Some(b) = g.get(i) {
                if let Some(d) = s.get_mut(at..at + 2) {
                    d.copy_from_slice(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
                }
                at += 2;
            } else {
                at += 1;
            }
        }
        GuidStr(s)
    }

    /// The text.
    pub(crate) fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).unwrap_or("?")
    }
}
