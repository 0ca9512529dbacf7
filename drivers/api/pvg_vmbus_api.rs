// SPDX-License-Identifier: GPL-2.0-only
//! The VMBus core's API for VSC modules (`pvg_vmbus.ko` exports it).
//!
//! A VSC module registers a driver for a device class GUID; the core probes it for each device
//! the host offers in that class (udev loads the module from the device's `vmbus:<guid>`
//! modalias). In `probe` the VSC opens the device's primary channel: the core allocates the
//! ring buffers, describes them to the host with a GPADL, and calls the VSC's channel callback
//! (in softirq context, from a BH workqueue) whenever the host signals the channel. The VSC
//! sends with [`Channel::send`]/[`Channel::send_gpa`] and drains its inbound ring with
//! [`Channel::recv`] from that callback. Sub-channels the host offers later are handed to the
//! VSC through its `subchannel` callback and opened the same way.
//!
//! The same shape can be implemented over the kernel's C VMBus (`vmbus_driver_register`,
//! `vmbus_open`, `vmbus_sendpacket`, ...) so a VSC written against it is not tied to this core.
//!
//! Every function returns 0 or a negative errno. After the host rescinds a device, calls on its
//! channels fail with `-ENODEV` and the core removes the device (the VSC's `remove` runs),
//! failing whatever was in flight.
//!
//! Rules a VSC relies on:
//! - The channel callback runs once per host signal (never concurrently with itself for one
//!   channel) and is not re-run for packets it leaves in the ring: it drains until `-EAGAIN`,
//!   or leaves packets deliberately and relies on the next signal (e.g. the host's "room made"
//!   signal after a `-EAGAIN` from send), or masks interrupts and polls.
//! - Send functions never sleep; `-EAGAIN` means the ring is full, and the host signals the
//!   channel once it has made room for the packet that did not fit.
//! - A ring the host corrupted fails every later send/recv with `-EIO` until the channel is
//!   closed and opened again (the core logs it once).
//! - `close` sleeps (process context only); no callback for the channel runs after it returns.
//!   Closing a primary channel also waits for a sub-channel callback in progress; so the
//!   sub-channel callback must not close its primary.
#![allow(dead_code)]

use kernel::ffi::{c_char, c_int, c_void};

/// Opaque device handle (`struct pvg_vmbus_device`).
#[repr(C)]
pub struct RawDevice {
    _private: [u8; 0],
}

/// Opaque channel handle.
#[repr(C)]
pub struct RawChannel {
    _private: [u8; 0],
}

/// Opaque registered driver.
#[repr(C)]
pub struct RawDriver {
    _private: [u8; 0],
}

/// What the core tells a VSC about its device.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct DeviceInfo {
    /// Device class (interface type) GUID, as on the wire.
    pub class_id: [u8; 16],
    /// Device instance GUID, as on the wire.
    pub instance_id: [u8; 16],
    /// The offer's 120 user-defined bytes (e.g. the SCSI controller's port/target).
    pub user_defined: [u8; 120],
    /// Channel relid of the primary channel.
    pub relid: u32,
    /// Negotiated VMBus protocol version.
    pub vmbus_version: u32,
    /// Number of CPUs the guest may spread sub-channels over.
    pub max_cpus: u32,
}

/// Called in process context when a device of the driver's class appears.
pub type ProbeFn = unsafe extern "C" fn(dev: *mut RawDevice, ctx: *mut c_void) -> c_int;
/// Called in process context when it goes (unbind, module unload, rescind).
pub type RemoveFn = unsafe extern "C" fn(dev: *mut RawDevice, ctx: *mut c_void);
/// Called in softirq context (BH workqueue) when the host signalled the channel.
pub type ChannelCallback = unsafe extern "C" fn(chan: *mut RawChannel, ctx: *mut c_void);
/// Called in process context when the host offers a sub-channel of a channel the VSC opened.
pub type SubchannelFn = unsafe extern "C" fn(primary: *mut RawChannel, sub: *mut RawChannel, index: u16, ctx: *mut c_void);

/// Packet types a VSC sends (`include/linux/hyperv.h` `enum vmbus_packet_type`).
pub mod packet {
    /// VM_PKT_DATA_INBAND.
    pub const DATA_INBAND: u16 = 6;
    /// VM_PKT_DATA_USING_XFER_PAGES.
    pub const DATA_USING_XFER_PAGES: u16 = 7;
    /// VM_PKT_DATA_USING_GPA_DIRECT.
    pub const DATA_USING_GPA_DIRECT: u16 = 9;
    /// VM_PKT_COMP.
    pub const COMP: u16 = 11;
    /// VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED.
    pub const FLAG_COMPLETION_REQUESTED: u16 = 1;
}

/// A received packet as [`Channel::recv`] reports it.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct RecvInfo {
    /// Packet type (see [`packet`]).
    pub packet_type: u16,
    /// Descriptor flags.
    pub flags: u16,
    /// Offset of the payload in the copied packet (after the descriptor and, for transfer-page
    /// packets, the range list).
    pub data_offset: u32,
    /// Bytes copied (descriptor included; the whole packet).
    pub len: u32,
    /// Transaction id.
    pub trans_id: u64,
}

/// One guest-physical range for a GPA-direct packet: `len` bytes starting `offset` bytes into
/// the first of `pfns` (pages of 4 KiB).
#[repr(C)]
pub struct GpaRange {
    /// Byte count.
    pub len: u32,
    /// Offset into the first page.
    pub offset: u32,
    /// Page frame numbers.
    pub pfns: *const u64,
    /// Number of pfns.
    pub npfns: u32,
}

extern "C" {
    pub fn pvg_vmbus_driver_register(
        name: *const c_char,
        class_id: *const u8,
        probe: ProbeFn,
        remove: RemoveFn,
        ctx: *mut c_void,
        owner: *mut c_void,
    ) -> *mut RawDriver;
    pub fn pvg_vmbus_driver_unregister(drv: *mut RawDriver);
    pub fn pvg_vmbus_get_drvdata(dev: *mut RawDevice) -> *mut c_void;
    pub fn pvg_vmbus_set_drvdata(dev: *mut RawDevice, data: *mut c_void);
    /// The `struct device` of a bus device (for dev_* logging, sysfs, DMA).
    pub fn pvg_vmbus_dev(dev: *mut RawDevice) -> *mut c_void;
    pub fn pvg_vmbus_device_info(dev: *mut RawDevice, info: *mut DeviceInfo) -> c_int;
    pub fn pvg_vmbus_primary_channel(dev: *mut RawDevice) -> *mut RawChannel;
    pub fn pvg_vmbus_open(
        chan: *mut RawChannel,
        send_ring_bytes: u32,
        recv_ring_bytes: u32,
        user_data: *const u8,
        user_len: u32,
        callback: ChannelCallback,
        subchannel: Option<SubchannelFn>,
        ctx: *mut c_void,
        target_cpu: i32,
    ) -> c_int;
    pub fn pvg_vmbus_close(chan: *mut RawChannel);
    pub fn pvg_vmbus_send(chan: *mut RawChannel, packet_type: u16, flags: u16, trans_id: u64, data: *const u8, len: u32) -> c_int;
    pub fn pvg_vmbus_send_gpa(
        chan: *mut RawChannel,
        flags: u16,
        trans_id: u64,
        ranges: *const GpaRange,
        nranges: u32,
        data: *const u8,
        len: u32,
    ) -> c_int;
    pub fn pvg_vmbus_recv(chan: *mut RawChannel, buf: *mut u8, buflen: u32, info: *mut RecvInfo) -> c_int;
    pub fn pvg_vmbus_gpadl_create(chan: *mut RawChannel, buf: *mut c_void, len: u32, handle: *mut u32) -> c_int;
    pub fn pvg_vmbus_gpadl_teardown(chan: *mut RawChannel, handle: u32) -> c_int;
    pub fn pvg_vmbus_channel_index(chan: *mut RawChannel) -> u16;
    pub fn pvg_vmbus_channel_target_cpu(chan: *mut RawChannel) -> u32;
    pub fn pvg_vmbus_rescinded(chan: *mut RawChannel) -> bool;
    /// Host stops signalling new inbound packets (for polling, e.g. NAPI). 0 or -errno.
    pub fn pvg_vmbus_mask_interrupts(chan: *mut RawChannel) -> c_int;
    /// Host signals again. 1: packets arrived meanwhile (poll again; no signal comes for
    /// them), 0: the ring is empty, or -errno.
    pub fn pvg_vmbus_unmask_interrupts(chan: *mut RawChannel) -> c_int;
}
