// SPDX-License-Identifier: GPL-2.0-only
//! pvg_echo: a test VSC for the echo device class (`vmbus_proto::echo`), used by the VMBus
//! tests to drive channels end to end.
//!
//! For each echo device it opens the primary channel and:
//! - sends N packets of seeded random sizes on request (`echo "N seed min max" >
//!   /sys/kernel/debug/pvg_echo.<relid>/run`), verifying every echo the host sends back; the
//!   result is in the same file (`cat`);
//! - echoes back every packet the host originates (top bit of the transaction id set).

use core::ffi::c_void;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use kernel::prelude::*;
use kernel::time::Delta;
use kernel::uaccess::UserSliceReader;
use kernel::str::CString;
use kernel::{debugfs, fmt};
use vmbus_proto::echo;

#[allow(unreachable_pub, dead_code, clippy::missing_safety_doc)]
#[path = "../../drivers/api/pvg_vmbus_api.rs"]
mod api;

use api::*;

module! {
    type: EchoModule,
    name: "pvg_echo",
    authors: ["pvguest developers"],
    description: "pvguest test VSC for the echo device class (VMBus channel tests)",
    license: "GPL",
    alias: ["vmbus:f2c9e7a8615b3e4d9f0a7c3d2e1b4a96"],
}

/// Ring size of each direction.
const RING_BYTES: u32 = 256 * 1024;
/// Receive buffer: the largest echo packet plus its descriptor.
const RECV_BUF: usize = echo::MAX_PAYLOAD + 64;

/// A run's parameters and counters.
struct Run {
    total: AtomicU64,
    seed: AtomicU64,
    min: AtomicU64,
    max: AtomicU64,
    sent: AtomicU64,
    received: AtomicU64,
    bad: AtomicU64,
    send_errors: AtomicU64,
    elapsed_us: AtomicU64,
    running: AtomicBool,
}

/// One bound echo device.
struct EchoDev {
    chan: *mut RawChannel,
    relid: u32,
    run: Run,
    /// Host-originated packets echoed back.
    host_echoed: AtomicU64,
    host_echo_errors: AtomicU64,
    /// The receive buffer, used only by the channel callback (one at a time).
    buf: *mut u8,
    /// A host packet not yet echoed because the ring was full: its payload is
    /// `buf[pending_off..pending_off + pending_len]` (`pending_len` 0: none). Callback only.
    pending_off: AtomicU32,
    pending_len: AtomicU32,
    pending_id: AtomicU64,
    /// The device is going away: a run in progress stops at once (`remove` waits for the
    /// debugfs write to return before freeing this state).
    stop: AtomicBool,
}

// SAFETY: the raw pointers are the channel handle (valid from open to close) and a buffer used
// only by the channel callback, which the VMBus core runs one at a time.
unsafe impl Send for EchoDev {}
// SAFETY: as above; shared state is atomics.
unsafe impl Sync for EchoDev {}

fn now_us() -> u64 {
    // SAFETY: reads the monotonic clock.
    (unsafe { kernel::bindings::ktime_get() } as u64) / 1000
}

/// Channel callback (BH context): drain the inbound ring.
unsafe extern "C" fn on_channel(chan: *mut RawChannel, ctx: *mut c_void) {
    // SAFETY: `ctx` is the `EchoDev` given to `pvg_vmbus_open`, alive until close returns.
    let d = unsafe { &*ctx.cast::<EchoDev>() };
    // SAFETY: the buffer holds RECV_BUF bytes and only this callback uses it.
    let buf = unsafe { core::slice::from_raw_parts_mut(d.buf, RECV_BUF) };
    // An echo the full ring refused last time goes first (its bytes are still in `buf`); while
    // it cannot go, nothing more is taken from the ring, so the host is slowed down rather
    // than its packets dropped. The core signals us again when the host has made room.
    let (off, len, id) = (d.pending_off.load(Ordering::Relaxed), d.pending_len.load(Ordering::Relaxed), d.pending_id.load(Ordering::Relaxed));
    if len != 0 {
        if !echo_back(d, chan, id, &buf[off as usize..(off + len) as usize]) {
            return;
        }
        d.pending_len.store(0, Ordering::Relaxed);
    }
    loop {
        let mut info = RecvInfo::default();
        // SAFETY: `chan` is our open channel; `buf` and `info` are valid for writes.
        let rc = unsafe { pvg_vmbus_recv(chan, buf.as_mut_ptr(), RECV_BUF as u32, &mut info) };
        if rc != 0 {
            break;
        }
        if info.packet_type != packet::DATA_INBAND || info.data_offset > info.len {
            d.run.bad.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let payload = &buf[info.data_offset as usize..info.len as usize];
        if info.trans_id & echo::HOST_ORIGINATED != 0 {
            // Echo the host's packet back unchanged; keep it for later if the ring is full.
            if !echo_back(d, chan, info.trans_id, payload) {
                d.pending_off.store(info.data_offset, Ordering::Relaxed);
                d.pending_id.store(info.trans_id, Ordering::Relaxed);
                d.pending_len.store(info.len - info.data_offset, Ordering::Relaxed);
                return;
            }
            continue;
        }
        let r = &d.run;
        let seq = info.trans_id;
        let (seed, min, max) = (r.seed.load(Ordering::Relaxed), r.min.load(Ordering::Relaxed), r.max.load(Ordering::Relaxed));
        let n = echo::payload_len(seed, seq, min as usize, max as usize);
        let ok = seq < r.total.load(Ordering::Relaxed) && payload.len() >= n && echo::verify(seed, seq, &payload[..n]);
        if ok { &r.received } else { &r.bad }.fetch_add(1, Ordering::Relaxed);
    }
}

/// Sends `payload` back to the host as transaction `id`. False when the ring is full (try
/// again on the next callback); other errors are counted and the packet is dropped.
fn echo_back(d: &EchoDev, chan: *mut RawChannel, id: u64, payload: &[u8]) -> bool {
    // SAFETY: `chan` is our open channel; `payload` is valid for reads for the call.
    let rc = unsafe { pvg_vmbus_send(chan, packet::DATA_INBAND, 0, id, payload.as_ptr(), payload.len() as u32) };
    match rc {
        0 => d.host_echoed.fetch_add(1, Ordering::Relaxed),
        e if e == EAGAIN.to_errno() => return false,
        _ => d.host_echo_errors.fetch_add(1, Ordering::Relaxed),
    };
    true
}

impl EchoDev {
    /// Sends `n` packets and waits (bounded) for their echoes.
    fn run(&self, n: u64, seed: u64, min: usize, max: usize) -> Result {
        let r = &self.run;
        if r.running.swap(true, Ordering::AcqRel) {
            return Err(EBUSY);
        }
        for (a, v) in [(&r.total, n), (&r.seed, seed), (&r.min, min as u64), (&r.max, max as u64)] {
            a.store(v, Ordering::Relaxed);
        }
        for a in [&r.sent, &r.received, &r.bad, &r.send_errors] {
            a.store(0, Ordering::Relaxed);
        }
        let t0 = now_us();
        let mut payload = KVec::from_elem(0u8, echo::MAX_PAYLOAD, GFP_KERNEL)?;
        let mut result = Ok(());
        'send: for seq in 0..n {
            if self.stop.load(Ordering::Acquire) {
                result = Err(ENODEV);
                break;
            }
            let len = echo::payload_len(seed, seq, min, max);
            echo::fill(seed, seq, &mut payload[..len]);
            let mut tries = 0u32;
            loop {
                // SAFETY: our open channel; `payload` holds `len` bytes.
                let rc = unsafe { pvg_vmbus_send(self.chan, packet::DATA_INBAND, 0, seq, payload.as_ptr(), len as u32) };
                if rc == 0 {
                    break;
                }
                if rc != EAGAIN.to_errno() || tries > 20_000 || self.stop.load(Ordering::Acquire) {
                    r.send_errors.fetch_add(1, Ordering::Relaxed);
                    result = Err(Error::from_errno(rc));
                    break 'send;
                }
                // Ring full: the host is draining; give it a moment.
                tries += 1;
                kernel::time::delay::fsleep(Delta::from_micros(200));
            }
            r.sent.fetch_add(1, Ordering::Relaxed);
        }
        let deadline = now_us() + 60_000_000 + n * 200;
        while r.received.load(Ordering::Acquire) + r.bad.load(Ordering::Acquire) < r.sent.load(Ordering::Relaxed)
            && now_us() < deadline
            && !self.stop.load(Ordering::Acquire)
        {
            kernel::time::delay::fsleep(Delta::from_millis(2));
        }
        r.elapsed_us.store(now_us() - t0, Ordering::Relaxed);
        r.running.store(false, Ordering::Release);
        result
    }
}

fn parse_run(reader: &mut UserSliceReader) -> Result<(u64, u64, usize, usize)> {
    let mut buf = [0u8; 64];
    let n = reader.len().min(buf.len());
    reader.read_slice(&mut buf[..n])?;
    let s = core::str::from_utf8(&buf[..n]).map_err(|_| EINVAL)?;
    let mut it = s.split_whitespace().map(|w| w.parse::<u64>().map_err(|_| EINVAL));
    let count = it.next().ok_or(EINVAL)??;
    let seed = it.next().transpose()?.unwrap_or(1);
    let min = it.next().transpose()?.unwrap_or(1) as usize;
    let max = it.next().transpose()?.unwrap_or(echo::MAX_PAYLOAD as u64) as usize;
    if min == 0 || min > max || max > echo::MAX_PAYLOAD {
        return Err(EINVAL);
    }
    Ok((count, seed, min, max))
}

/// The device state as the debugfs file sees it.
struct DevRef(*const EchoDev);

// SAFETY: `EchoDev` is `Sync`; the file is removed before the state is freed (`Bound` drops
// the file first).
unsafe impl Send for DevRef {}
// SAFETY: as above.
unsafe impl Sync for DevRef {}

fn show_run(d: &DevRef, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    // SAFETY: see `DevRef`.
    let d = unsafe { &*d.0 };
    let r = &d.run;
    let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
    writeln!(
        f,
        "relid={} total={} sent={} received={} bad={} send_errors={} elapsed_us={} host_echoed={} host_echo_errors={}",
        d.relid,
        g(&r.total),
        g(&r.sent),
        g(&r.received),
        g(&r.bad),
        g(&r.send_errors),
        g(&r.elapsed_us),
        g(&d.host_echoed),
        g(&d.host_echo_errors)
    )
}

fn write_run(d: &DevRef, reader: &mut UserSliceReader) -> Result {
    let (n, seed, min, max) = parse_run(reader)?;
    // SAFETY: see `DevRef`.
    unsafe { &*d.0 }.run(n, seed, min, max)
}

/// Test fixture for the info-leak test (tests/hostile/info-leak.sh): sends 256 bytes of a
/// fresh allocation this module never wrote, so the test can show that the host's leak check
/// finds uninitialised memory (with `init_on_alloc=0 slub_debug=P` the bytes are the slab's
/// free poison). Never used otherwise.
fn write_send_uninit(d: &DevRef, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0u8; 8];
    let n = reader.len().min(buf.len());
    reader.read_slice(&mut buf[..n])?;
    // SAFETY: see `DevRef`.
    let d = unsafe { &*d.0 };
    let mut v = KVec::<u8>::with_capacity(256, GFP_KERNEL)?;
    let spare = v.spare_capacity_mut();
    // SAFETY: our open channel; the core only copies the 256 bytes at `spare` (allocated, never
    // written: exactly what this fixture is for) into the ring; Rust never reads them.
    let rc = unsafe { pvg_vmbus_send(d.chan, packet::DATA_INBAND, 0, u64::MAX >> 1, spare.as_ptr().cast(), 256) };
    kernel::error::to_result(rc)
}

/// Per-device state kept while bound. Field order: the debugfs files go before the state they
/// point to.
struct Bound {
    _uninit: Pin<KBox<debugfs::File<DevRef>>>,
    _file: Pin<KBox<debugfs::File<DevRef>>>,
    _dir: debugfs::Dir,
    dev: KBox<EchoDev>,
    _buf: KVVec<u8>,
}

// SAFETY: see `EchoDev`; the debugfs file only holds a pointer to it.
unsafe impl Send for Bound {}

unsafe extern "C" fn probe(dev: *mut RawDevice, _ctx: *mut c_void) -> i32 {
    match probe_inner(dev) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

fn probe_inner(dev: *mut RawDevice) -> Result {
    let mut info = DeviceInfo { class_id: [0; 16], instance_id: [0; 16], user_defined: [0; 120], relid: 0, vmbus_version: 0, max_cpus: 0 };
    // SAFETY: `dev` is the device being probed.
    kernel::error::to_result(unsafe { pvg_vmbus_device_info(dev, &mut info) })?;
    // SAFETY: as above.
    let chan = unsafe { pvg_vmbus_primary_channel(dev) };
    if chan.is_null() {
        return Err(ENODEV);
    }
    let mut buf = KVVec::from_elem(0u8, RECV_BUF, GFP_KERNEL)?;
    // Allocated before the channel opens, so no failure after that frees the state its
    // callback uses before closing it.
    let slot = KBox::<Bound>::new_uninit(GFP_KERNEL)?;
    let zero = || AtomicU64::new(0);
    let d = KBox::new(
        EchoDev {
            chan,
            relid: info.relid,
            run: Run {
                total: zero(),
                seed: zero(),
                min: zero(),
                max: zero(),
                sent: zero(),
                received: zero(),
                bad: zero(),
                send_errors: zero(),
                elapsed_us: zero(),
                running: AtomicBool::new(false),
            },
            host_echoed: zero(),
            host_echo_errors: zero(),
            buf: buf.as_mut_ptr(),
            pending_off: AtomicU32::new(0),
            pending_len: AtomicU32::new(0),
            pending_id: zero(),
            stop: AtomicBool::new(false),
        },
        GFP_KERNEL,
    )?;
    let name = CString::try_from_fmt(fmt!("pvg_echo.{}", info.relid))?;
    let ctx = core::ptr::from_ref(&*d).cast_mut().cast::<c_void>();
    // SAFETY: `chan` is our device's primary channel; `on_channel` and `ctx` stay valid until
    // `remove` closes the channel (every failure below closes it before freeing them).
    kernel::error::to_result(unsafe { pvg_vmbus_open(chan, RING_BYTES, RING_BYTES, core::ptr::null(), 0, on_channel, None, ctx, -1) })?;
    let dir = debugfs::Dir::new(&name);
    let file = match KBox::pin_init(dir.read_write_callback_file(c"run", DevRef(core::ptr::from_ref(&*d)), &show_run, &write_run), GFP_KERNEL) {
        Ok(f) => f,
        Err(e) => {
            // SAFETY: closes the channel opened above.
            unsafe { pvg_vmbus_close(chan) };
            return Err(e);
        }
    };
    let uninit = match KBox::pin_init(dir.write_callback_file(c"send_uninit", DevRef(core::ptr::from_ref(&*d)), &write_send_uninit), GFP_KERNEL) {
        Ok(f) => f,
        Err(e) => {
            drop(file);
            // SAFETY: closes the channel opened above.
            unsafe { pvg_vmbus_close(chan) };
            return Err(e);
        }
    };
    let bound = KBox::write(slot, Bound { _uninit: uninit, _file: file, _dir: dir, dev: d, _buf: buf });
    pr_info!("echo device on channel {} ready\n", info.relid);
    // SAFETY: `dev` is ours until `remove`; the pointer is taken back there.
    unsafe { pvg_vmbus_set_drvdata(dev, KBox::into_raw(bound).cast()) };
    Ok(())
}

unsafe extern "C" fn remove(dev: *mut RawDevice, _ctx: *mut c_void) {
    // SAFETY: `dev` is a device we probed.
    let p = unsafe { pvg_vmbus_get_drvdata(dev) }.cast::<Bound>();
    if p.is_null() {
        return;
    }
    // SAFETY: `p` came from `KBox::into_raw` in `probe`.
    let b = unsafe { KBox::from_raw(p) };
    // A run in progress ends now; dropping `b` waits for it (the debugfs file goes first).
    b.dev.stop.store(true, Ordering::Release);
    // SAFETY: closes our channel; no callback runs after it returns.
    unsafe { pvg_vmbus_close(b.dev.chan) };
    // SAFETY: clears the pointer we set.
    unsafe { pvg_vmbus_set_drvdata(dev, core::ptr::null_mut()) };
    drop(b);
}

struct EchoModule {
    drv: *mut RawDriver,
}

// SAFETY: the driver handle is only used in init/drop.
unsafe impl Send for EchoModule {}
// SAFETY: as above.
unsafe impl Sync for EchoModule {}

impl kernel::Module for EchoModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let class = vmbus_proto::guid::ECHO;
        // SAFETY: the callbacks stay valid while registered; the class GUID is 16 bytes.
        let drv = unsafe {
            pvg_vmbus_driver_register(c"pvg_echo".as_ptr().cast(), zerocopy::IntoBytes::as_bytes(&class).as_ptr(), probe, remove, core::ptr::null_mut(), module.as_ptr().cast())
        };
        if drv.is_null() || (drv as usize) > usize::MAX - 4095 {
            return Err(Error::from_errno(drv as isize as i32));
        }
        Ok(EchoModule { drv })
    }
}

impl Drop for EchoModule {
    fn drop(&mut self) {
        // SAFETY: unregisters the driver registered in `init` (removing its devices).
        unsafe { pvg_vmbus_driver_unregister(self.drv) };
    }
}
