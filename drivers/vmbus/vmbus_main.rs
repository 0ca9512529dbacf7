// SPDX-License-Identifier: GPL-2.0-only
//! pvg_vmbus: the VMBus core (work in progress: the bus type and the exported API surface;
//! the connection, channels and rings follow).

use kernel::prelude::*;

#[allow(unreachable_pub, dead_code)]
#[path = "../../hypercall-adapter/api/pvg_hcall_api.rs"]
mod pvg_hcall_api;

module! {
    type: VmbusModule,
    name: "pvg_vmbus",
    authors: ["pvguest developers"],
    description: "pvguest VMBus core: channels, ring buffers and a bus for VSC drivers",
    license: "GPL",
}

struct VmbusModule;

impl kernel::Module for VmbusModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        Err(ENODEV)
    }
}

/// sysfs attribute formatting for bus.c (filled in with the channel state).
#[no_mangle]
pub(crate) extern "C" fn pvg_vmbus_rust_show(_core: *mut kernel::ffi::c_void, _attr: i32, _buf: *mut u8) -> i32 {
    0
}

/// Called by bus.c when a device's last reference goes.
#[no_mangle]
pub(crate) extern "C" fn pvg_vmbus_rust_device_released(_core: *mut kernel::ffi::c_void) {}
