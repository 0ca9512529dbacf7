// SPDX-License-Identifier: GPL-2.0-only
//! pvg_vmbus: the VMBus core.
//!
//! Connects to the host through the hypercall adapter (`pvg_hcall`'s ops table: post message,
//! signal event, SynIC pages and interrupt), negotiates the protocol version newest first,
//! turns the host's channel offers into devices on the `pvg_vmbus` bus (modalias
//! `vmbus:<class GUID>`, so udev loads the VSC module), and gives VSC drivers channels: ring
//! buffers described by GPADLs, packets in and out, a callback in BH context, sub-channels,
//! rescind. The wire format is the `vmbus_proto` crate's; this module is the kernel glue.
//!
//! Files: `core.rs` (connection, workers), `channel.rs` (channels, devices, open/close),
//! `ring.rs` (ring buffers on kernel memory), `isr.rs` (the SynIC interrupt), `exports.rs`
//! (the VSC API), `mem.rs` (shared buffers), `bus.c` (Linux bus type, C).

use core::ffi::c_void;
use core::sync::atomic::{AtomicPtr, Ordering};

use kernel::prelude::*;
use kernel::sync::{Arc, ArcBorrow};

#[allow(unreachable_pub, dead_code)]
#[path = "../../hypercall-adapter/api/pvg_hcall_api.rs"]
mod pvg_hcall_api;
#[allow(unreachable_pub, dead_code, clippy::missing_safety_doc)]
#[path = "../api/pvg_vmbus_api.rs"]
mod api;
#[allow(dead_code)]
#[path = "../common/kglue.rs"]
mod shim;

mod bus;
mod channel;
mod conn;
mod exports;
mod isr;
mod mem;
mod ring;

use crate::conn::Core;
use pvg_hcall_api::backend;

module! {
    type: VmbusModule,
    name: "pvg_vmbus",
    authors: ["pvguest developers"],
    description: "pvguest VMBus core: channels, ring buffers and a bus for VSC drivers",
    license: "GPL",
}

/// The core, for the C callbacks (sysfs) that cannot carry a context.
static CORE: AtomicPtr<Core> = AtomicPtr::new(::core::ptr::null_mut());

/// The SynIC handler installed in the adapter (hard IRQ).
unsafe extern "C" fn synic_isr(vp: u32, ctx: *mut c_void) {
    // SAFETY: `ctx` is the `Arc<Core>` pointer given to `set_handler`, kept alive until the
    // handler is removed (which waits for running handlers).
    let core: Arc<Core> = unsafe { ArcBorrow::from_raw(ctx.cast::<Core>()) }.into();
    core.on_interrupt(vp);
}

struct VmbusModule {
    /// debugfs `pvg_vmbus/stats` (holds a reference to the core: dropped first).
    stats_file: Option<Pin<KBox<kernel::debugfs::File<Arc<Core>>>>>,
    stats_dir: Option<kernel::debugfs::Dir>,
    core: Option<Arc<Core>>,
    cpus: KVec<u32>,
    bus_registered: bool,
}

fn show_stats(core: &Arc<Core>, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
    let g = |a: &::core::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let s = &core.stats;
    writeln!(f, "version {:#x}", core.version())?;
    writeln!(f, "interrupts {}", g(&s.interrupts))?;
    writeln!(f, "messages {}", g(&s.messages))?;
    writeln!(f, "messages_dropped {}", g(&s.dropped))?;
    writeln!(f, "messages_malformed {}", g(&s.malformed))?;
    writeln!(f, "bad_messages {}", g(&core.bad_messages))?;
    writeln!(f, "events {}", g(&s.events))?;
    writeln!(f, "events_unknown_relid {}", g(&s.unknown_relid))?;
    writeln!(f, "channels {}", core.channels.all().len())?;
    writeln!(f, "live_channels {}", mem::LIVE.channels.load(Ordering::Relaxed))?;
    writeln!(f, "live_buffers {}", mem::LIVE.buffers.load(Ordering::Relaxed))
}

fn enable_synic(core: &Core) -> Result<KVec<u32>> {
    let ops = core.ops;
    let mut cpus = KVec::new();
    // SAFETY: table functions may be called from any context.
    let n = unsafe { (ops.vp_count)() };
    for cpu in (0..n).filter(|c| shim::cpu_online(*c)) {
        // SAFETY: as above.
        let rc = unsafe { (ops.synic_enable)(cpu, isr::VMBUS_SINT as u32) };
        if rc != 0 {
            for c in cpus.iter() {
                // SAFETY: as above.
                let _ = unsafe { (ops.synic_disable)(*c, isr::VMBUS_SINT as u32) };
            }
            return Err(Error::from_errno(rc));
        }
        cpus.push(cpu, GFP_KERNEL)?;
    }
    Ok(cpus)
}

impl kernel::Module for VmbusModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let ops = pvg_hcall_api::ops();
        match ops.backend {
            backend::NONE => {
                pr_err!("no hypervisor interface (pvg_hcall chose backend none): VMBus needs Hyper-V or the pvguest host simulator\n");
                return Err(ENODEV);
            }
            backend::XEN => {
                pr_err!("the hypervisor is Xen, which has no VMBus\n");
                return Err(ENODEV);
            }
            _ => {}
        }
        let core = Core::new(ops)?;
        let ctx = Arc::as_ptr(&core).cast_mut().cast::<c_void>();
        // SAFETY: `synic_isr` and `ctx` stay valid until `drop` removes the handler.
        match unsafe { (ops.set_handler)(Some(synic_isr), ctx) } {
            0 => {}
            e => {
                pr_err!("cannot install the SynIC handler (error {}): another module owns it\n", e);
                return Err(Error::from_errno(e));
            }
        }
        let cpus = match enable_synic(&core) {
            Ok(c) => c,
            Err(e) => {
                if e == EBUSY {
                    pr_err!("the kernel's own VMBus driver (hv_vmbus) owns the bus on this host; pvguest refuses to take it over (see README: running on Hyper-V)\n");
                } else {
                    pr_err!("cannot enable the SynIC for VMBus: {:?}\n", e);
                }
                // SAFETY: removes the handler installed above.
                unsafe { (ops.set_handler)(None, ::core::ptr::null_mut()) };
                return Err(e);
            }
        };
        CORE.store(Arc::as_ptr(&core).cast_mut(), Ordering::Release);
        // From here on, dropping `this` undoes everything done so far.
        let mut this = VmbusModule { stats_file: None, stats_dir: None, core: Some(core), cpus, bus_registered: false };
        // SAFETY: registers the bus type; undone in `drop`.
        kernel::error::to_result(unsafe { bus::pvg_vmbus_bus_register() })?;
        this.bus_registered = true;
        let core = this.core.clone().ok_or(EINVAL)?;
        let dir = kernel::debugfs::Dir::new(c"pvg_vmbus");
        this.stats_file = Some(KBox::pin_init(dir.read_callback_file(c"stats", core.clone(), &show_stats), GFP_KERNEL)?);
        this.stats_dir = Some(dir);
        let v = core.connect()?;
        let offered = core.channels.all().len();
        let plural = if offered == 1 { "" } else { "s" };
        pr_info!(
            "connected: VMBus protocol {}.{} ({}), backend {}, {} channel{} offered\n",
            vmbus_proto::version::major(v),
            vmbus_proto::version::minor(v),
            vmbus_proto::version::name(v).unwrap_or("?"),
            // SAFETY: every table's name is a 'static C string.
            unsafe { CStr::from_char_ptr(ops.name) }.to_str().unwrap_or("?"),
            offered,
            plural
        );
        Ok(this)
    }
}

impl Drop for VmbusModule {
    fn drop(&mut self) {
        self.stats_file = None;
        self.stats_dir = None;
        let Some(core) = self.core.take() else { return };
        self.shutdown(&core);
        drop(core);
        let live = &mem::LIVE;
        let (ch, bufs, leaked) =
            (live.channels.load(Ordering::Relaxed), live.buffers.load(Ordering::Relaxed), live.leaked.load(Ordering::Relaxed));
        if ch == 0 && bufs == 0 {
            pr_info!("unloaded: 0 channels and 0 shared buffers left ({} deliberately leaked)\n", leaked);
        } else {
            pr_err!("unloaded with {} channels and {} shared buffers still allocated (leak)\n", ch, bufs);
        }
    }
}

impl VmbusModule {
    fn shutdown(&self, core: &Arc<Core>) {
        core.stopping.store(true, Ordering::Release);
        // Devices first (VSC modules are gone: they depend on us), then channels left open.
        for ch in core.channels.all().iter() {
            let dev = ch.device();
            if !dev.is_null() {
                ch.take_device_and_remove();
            }
        }
        for ch in core.channels.all().iter() {
            ch.close();
        }
        core.unload();
        for cpu in self.cpus.iter() {
            // SAFETY: table functions may be called from any context.
            let _ = unsafe { (core.ops.synic_disable)(*cpu, isr::VMBUS_SINT as u32) };
        }
        // SAFETY: removes our handler; returns after running handlers finished.
        unsafe { (core.ops.set_handler)(None, ::core::ptr::null_mut()) };
        core.flush_workers();
        for ch in core.channels.all().iter() {
            core.channels.remove(ch.relid);
        }
        if self.bus_registered {
            // SAFETY: the bus was registered in `init` and its devices are gone.
            unsafe { bus::pvg_vmbus_bus_unregister() };
        }
        CORE.store(::core::ptr::null_mut(), Ordering::Release);
    }
}

/// Writes `args` into a sysfs buffer (one page) and returns the length.
fn emit(buf: *mut u8, args: ::core::fmt::Arguments<'_>) -> i32 {
    struct W<'a>(&'a mut [u8], usize);
    impl ::core::fmt::Write for W<'_> {
        fn write_str(&mut self, s: &str) -> ::core::fmt::Result {
            let end = self.1.checked_add(s.len()).filter(|e| *e <= self.0.len()).ok_or(::core::fmt::Error)?;
            self.0[self.1..end].copy_from_slice(s.as_bytes());
            self.1 = end;
            Ok(())
        }
    }
    if buf.is_null() {
        return 0;
    }
    // SAFETY: sysfs show buffers are one page (PAGE_SIZE) and exclusively ours for the call.
    let page = unsafe { ::core::slice::from_raw_parts_mut(buf, mem::PAGE_SIZE) };
    let mut w = W(page, 0);
    let _ = ::core::fmt::write(&mut w, args);
    w.1 as i32
}

/// sysfs attribute formatting for bus.c (attribute ids from bus.h).
#[no_mangle]
pub(crate) extern "C" fn pvg_vmbus_rust_show(core_ptr: *mut c_void, attr: i32, buf: *mut u8) -> i32 {
    // SAFETY: `core_ptr` is the `Arc<Channel>` the device holds while it exists (sysfs files
    // exist only while the device does).
    let Some(c) = (unsafe { core_ptr.cast::<channel::Channel>().as_ref() }) else { return 0 };
    let idx = ring::indices(c);
    let r = |i: usize| idx.map_or(0, |v| v[i]);
    match attr {
        0 => emit(buf, format_args!("{}\n", c.relid)),
        1 => emit(buf, format_args!("{}{}\n", channel::state::name(c.state()), if c.is_rescinded() { " rescinded" } else { "" })),
        2 => emit(buf, format_args!("{}\n", c.offer.monitorid)),
        3..=8 => emit(buf, format_args!("{}\n", r(attr as usize - 3))),
        9 => emit(buf, format_args!("{}\n", c.interrupts.load(Ordering::Relaxed))),
        10 => emit(buf, format_args!("{}\n", c.signals.load(Ordering::Relaxed))),
        11 => emit(buf, format_args!("{}\n", c.target_cpu.load(Ordering::Relaxed))),
        12 => emit(buf, format_args!("{}\n", 1 + c.sub_count())),
        _ => 0,
    }
}

/// Called by bus.c when a device's last reference goes: drop the device's channel reference.
#[no_mangle]
pub(crate) extern "C" fn pvg_vmbus_rust_device_released(core_ptr: *mut c_void) {
    if !core_ptr.is_null() {
        // SAFETY: `core_ptr` is the `Arc::into_raw` reference `add_device` gave the device.
        drop(unsafe { Arc::from_raw(core_ptr.cast::<channel::Channel>()) });
    }
}
