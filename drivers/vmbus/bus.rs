// SPDX-License-Identifier: GPL-2.0-only
//! The C side of the bus (bus.c): Linux's bus type, device and driver objects, which
//! Rust-for-Linux has no abstraction for.

use core::ffi::c_void;

/// `struct pvg_vmbus_device` (opaque here).
#[repr(C)]
pub(crate) struct RawDevice {
    _private: [u8; 0],
}

extern "C" {
    pub(crate) fn pvg_vmbus_bus_register() -> i32;
    pub(crate) fn pvg_vmbus_bus_unregister();
    /// Returns an `ERR_PTR` on failure.
    pub(crate) fn pvg_vmbus_device_create(class_id: *const u8, instance_id: *const u8, relid: u32, core: *mut c_void) -> *mut RawDevice;
    pub(crate) fn pvg_vmbus_device_add(dev: *mut RawDevice) -> i32;
    pub(crate) fn pvg_vmbus_device_del(dev: *mut RawDevice);
    pub(crate) fn pvg_vmbus_device_put(dev: *mut RawDevice);
    pub(crate) fn pvg_vmbus_device_core(dev: *mut RawDevice) -> *mut c_void;
    pub(crate) fn pvg_vmbus_virt_to_pfn(addr: *const u8) -> u64;
}
