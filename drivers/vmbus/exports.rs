// SPDX-License-Identifier: GPL-2.0-only
//! The API VSC modules use (`drivers/api/pvg_vmbus_api.rs` declares it; bus.c exports the
//! symbols). Every function checks its arguments; channel handles are `*const Channel` from an
//! `Arc` the core keeps alive while the VSC may use it (from its probe or sub-channel callback
//! until its remove returned).

use core::ffi::c_void;

use kernel::prelude::*;

use crate::api::{ChannelCallback, DeviceInfo, GpaRange, RecvInfo, SubchannelFn};
use crate::bus;
use crate::channel::Channel;

/// The channel behind a handle.
///
/// # Safety
///
/// `chan` must be a handle the core gave the VSC (primary or sub-channel), used only while the
/// core guarantees it (see the module comment).
unsafe fn chan<'a>(chan: *mut c_void) -> Option<&'a Channel> {
    // SAFETY: guaranteed by the caller.
    unsafe { chan.cast::<Channel>().as_ref() }
}

/// The primary channel of a device.
///
/// # Safety
///
/// `dev` must be a device of our bus passed to the VSC's probe and not yet removed.
unsafe fn dev_chan<'a>(dev: *mut bus::RawDevice) -> Option<&'a Channel> {
    if dev.is_null() {
        return None;
    }
    // SAFETY: guaranteed by the caller; `core` is the `Arc<Channel>` the device holds.
    unsafe { bus::pvg_vmbus_device_core(dev).cast::<Channel>().as_ref() }
}

fn errno(r: Result) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// Fills `info` about device `dev`.
#[no_mangle]
pub(crate) unsafe extern "C" fn pvg_vmbus_device_info(dev: *mut bus::RawDevice, info: *mut DeviceInfo) -> i32 {
    // SAFETY: the API contract (see `dev_chan`).
    let (Some(c), false) = (unsafe { dev_chan(dev) }, info.is_null()) else { return EINVAL.to_errno() };
    let o = &c.offer.offer;
    let d = DeviceInfo {
        class_id: zerocopy::IntoBytes::as_bytes(&o.if_type).try_into().unwrap_or([0; 16]),
        instance_id: zerocopy::IntoBytes::as_bytes(&o.if_instance).try_into().unwrap_or([0; 16]),
        user_defined: o.user_def,
        relid: c.relid,
        vmbus_version: c.core.version(),
        max_cpus: crate::shim::num_possible_cpus(),
    };
    // SAFETY: `info` is non-null and, by the API, writable.
    unsafe { info.write(d) };
    0
}

/// The primary channel of `dev`.
#[no_mangle]
pub(crate) unsafe extern "C" fn pvg_vmbus_primary_channel(dev: *mut bus::RawDevice) -> *mut c_void {
    // SAFETY: the API contract.
    match unsafe { dev_chan(dev) } {
        Some(c) => core::ptr::from_ref(c).cast_mut().cast(),
        None => core::ptr::null_mut(),
    }
}

/// Opens a channel.
#[no_mangle]
pub(crate) unsafe extern "C" fn pvg_vmbus_open(
    ch: *mut c_void,
    send_bytes: u32,
    recv_bytes: u32,
    user: *const u8,
    user_len: u32,
    callback: Option<ChannelCallback>,
    subchannel: Option<SubchannelFn>,
    ctx: *mut c_void,
    cpu: i32,
) -> i32 {
    // SAFETY: the API contract.
    let (Some(c), Some(cb)) = (unsafe { chan(ch) }, callback) else { return EINVAL.to_errno() };
    let user: &[u8] = if user.is_null() || user_len == 0 {
        &[]
    } else {
        // SAFETY: the API requires `user` to hold `user_len` bytes.
        unsafe { core::slice::from_raw_parts(user, user_len as usize) }
    };
    let target = u32::try_from(cpu).ok().filter(|c| crate::shim::cpu_online(*c));
    // The channel is alive (API contract); `open` needs the Arc for its table reference.
    let Some(arc) = c.core.channels.get(c.relid) else { return ENODEV.to_errno() };
    errno(arc.open(send_bytes, recv_bytes, user, cb, subchannel, ctx, target))
}

/// Closes a channel.
#[no_mangle]
pub(crate) unsafe extern "C" fn pvg_vmbus_close(ch: *mut c_void) {
    // SAFETY: the API contract.
    if let Some(c) = unsafe { chan(ch) } {
        c.close();
    }
}

/// Sends one packet.
#[no_mangle]
pub(crate) unsafe extern "C" fn pvg_vmbus_send(ch: *mut c_void, ty: u16, flags: u16, trans_id: u64, data: *const u8, len: u32) -> i32 {
    // SAFETY: the API contract.
    let Some(c) = (unsafe { chan(ch) }) else { return EINVAL.to_errno() };
    let data: &[u8] = if data.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: the API requires `data` to hold `len` bytes.
        unsafe { core::slice::from_raw_parts(data, len as usize) }
    };
    errno(crate::ring::send(c, ty, flags, trans_id, data))
}

/// Sends a GPA-direct packet.
#[no_mangle]
pub(crate) unsafe extern "C" fn pvg_vmbus_send_gpa(
    ch: *mut c_void,
    flags: u16,
    trans_id: u64,
    ranges: *const GpaRange,
    nranges: u32,
    data: *const u8,
    len: u32,
) -> i32 {
    // SAFETY: the API contract.
    let Some(c) = (unsafe { chan(ch) }) else { return EINVAL.to_errno() };
    if ranges.is_null() || nranges == 0 || nranges > 32 {
        return EINVAL.to_errno();
    }
    // SAFETY: the API requires `ranges` to hold `nranges` entries.
    let ranges = unsafe { core::slice::from_raw_parts(ranges, nranges as usize) };
    let data: &[u8] = if data.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: the API requires `data` to hold `len` bytes.
        unsafe { core::slice::from_raw_parts(data, len as usize) }
    };
    errno(crate::ring::send_gpa(c, flags, trans_id, ranges, data))
}

/// Copies the next packet out of the channel's inbound ring.
#[no_mangle]
pub(crate) unsafe extern "C" fn pvg_vmbus_recv(ch: *mut c_void, buf: *mut u8, len: u32, info: *mut RecvInfo) -> i32 {
    // SAFETY: the API contract.
    let (Some(c), false, false) = (unsafe { chan(ch) }, buf.is_null(), info.is_null()) else { return EINVAL.to_errno() };
    // SAFETY: the API requires `buf` to hold `len` writable bytes.
    let buf = unsafe { core::slice::from_raw_parts_mut(buf, len as usize) };
    match crate::ring::recv(c, buf) {
        Ok(i) => {
            // SAFETY: `info` is non-null and, by the API, writable.
            unsafe { info.write(i) };
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// Creates a GPADL over a VSC's buffer.
#[no_mangle]
pub(crate) unsafe extern "C" fn pvg_vmbus_gpadl_create(ch: *mut c_void, buf: *mut c_void, len: u32, handle: *mut u32) -> i32 {
    // SAFETY: the API contract.
    let (Some(c), false, false) = (unsafe { chan(ch) }, buf.is_null(), handle.is_null()) else { return EINVAL.to_errno() };
    match c.create_user_gpadl(buf.cast(), len as usize) {
        Ok(g) => {
            // SAFETY: `handle` is non-null and, by the API, writable.
            unsafe { handle.write(g) };
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// Tears down a GPADL the VSC created.
#[no_mangle]
pub(crate) unsafe extern "C" fn pvg_vmbus_gpadl_teardown(ch: *mut c_void, handle: u32) -> i32 {
    // SAFETY: the API contract.
    let Some(c) = (unsafe { chan(ch) }) else { return EINVAL.to_errno() };
    errno(c.teardown_user_gpadl(handle))
}

/// Sub-channel index of a channel (0 = primary).
#[no_mangle]
pub(crate) unsafe extern "C" fn pvg_vmbus_channel_index(ch: *mut c_void) -> u16 {
    // SAFETY: the API contract.
    unsafe { chan(ch) }.map_or(0, |c| c.index())
}

/// CPU the channel's interrupts target.
#[no_mangle]
pub(crate) unsafe extern "C" fn pvg_vmbus_channel_target_cpu(ch: *mut c_void) -> u32 {
    // SAFETY: the API contract.
    unsafe { chan(ch) }.map_or(0, |c| c.target_cpu.load(core::sync::atomic::Ordering::Relaxed))
}

/// Whether the host rescinded the channel.
#[no_mangle]
pub(crate) unsafe extern "C" fn pvg_vmbus_rescinded(ch: *mut c_void) -> bool {
    // SAFETY: the API contract.
    unsafe { chan(ch) }.is_none_or(|c| c.is_rescinded())
}

/// Stops host signals for the channel's inbound ring (the VSC polls).
#[no_mangle]
pub(crate) unsafe extern "C" fn pvg_vmbus_mask_interrupts(ch: *mut c_void) -> i32 {
    // SAFETY: the API contract.
    let Some(c) = (unsafe { chan(ch) }) else { return EINVAL.to_errno() };
    match crate::ring::mask_interrupts(c) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// Re-enables host signals; 1 when packets are waiting (poll again), 0 when the ring is empty.
#[no_mangle]
pub(crate) unsafe extern "C" fn pvg_vmbus_unmask_interrupts(ch: *mut c_void) -> i32 {
    // SAFETY: the API contract.
    let Some(c) = (unsafe { chan(ch) }) else { return EINVAL.to_errno() };
    match crate::ring::unmask_interrupts(c) {
        Ok(more) => i32::from(more),
        Err(e) => e.to_errno(),
    }
}
