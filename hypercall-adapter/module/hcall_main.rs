// SPDX-License-Identifier: GPL-2.0-only
//! pvg_hcall: the hypercall adapter.
//!
//! Detects the hypervisor from CPUID (parsing in the `hcall_abi` crate, shared with the host
//! tests), picks a backend (`hcall_abi::backend::choose`, or the `backend=` parameter), and
//! exports one neutral, paravirt_ops-shaped table of operations (`pvg_hcall_api.rs`) for the
//! other pvguest modules. Backends: Hyper-V (hyperv.rs), Xen (xen.rs), the pvguest host
//! simulator (sim.rs, an ivshmem-doorbell PCI device), and none. Reports its choice in one
//! `dmesg` line and in debugfs (`/sys/kernel/debug/pvg_hcall/`: detect, stats, selftest,
//! bench).

use core::sync::atomic::Ordering;

use hcall_abi::backend::{self as policy, Backend as Choice};
use hcall_abi::cpuid::{self, CpuidResult, CpuidSource, Detection};
use kernel::{debugfs, driver, pci, prelude::*, uaccess::UserSliceReader};

// The API is written for consumer modules; here it is a private module, so some items go
// unused and `pub` reaches no further than the crate.
#[allow(unreachable_pub, dead_code)]
#[path = "../api/pvg_hcall_api.rs"]
pub(crate) mod pvg_hcall_api;
mod hvcalls;
mod ops;
mod selftest;
mod pages;
#[path = "../../drivers/common/kglue.rs"]
mod shim;
mod sim;
mod synic;
mod hyperv;
mod xen;

module! {
    type: HcallModule,
    name: "pvg_hcall",
    authors: ["pvguest developers"],
    description: "pvguest hypercall adapter: hypervisor detection and a neutral hypercall ops table",
    license: "GPL",
    params: {
        sim_timeout_ms: u64 {
            default: 1000,
            description: "Simulator backend: milliseconds to wait for the host to answer a call",
        },
    },
}

/// The CPU's own CPUID instruction.
struct Cpu;

impl CpuidSource for Cpu {
    fn cpuid(&self, leaf: u32, subleaf: u32) -> CpuidResult {
        // SAFETY: CPUID exists on every x86-64 CPU, has no side effects visible to Rust and
        // touches no memory.
        let r = unsafe { core::arch::x86_64::__cpuid_count(leaf, subleaf) };
        CpuidResult { eax: r.eax, ebx: r.ebx, ecx: r.ecx, edx: r.edx }
    }
}

extern "C" {
    fn pvg_backend_param() -> *const kernel::ffi::c_char;
    fn pvg_linux_version_code() -> u32;
}

/// The kernel version the module is built for, as (major, minor, sublevel).
pub(crate) fn kernel_version() -> (u8, u8, u16) {
    // SAFETY: returns a compile-time constant.
    let v = unsafe { pvg_linux_version_code() };
    ((v >> 16) as u8, (v >> 8) as u8, (v & 0xff) as u16)
}

/// The `backend=` parameter.
fn forced_backend() -> Result<Option<Choice>> {
    // SAFETY: the helper returns a NUL-terminated module parameter string (or "auto").
    let s = unsafe { CStr::from_char_ptr(pvg_backend_param()) };
    let s = s.to_str().map_err(|_| EINVAL)?;
    policy::Backend::parse(s.trim()).map_err(|()| {
        pr_err!("backend={} is not one of auto, hyperv, xen, sim, none\n", s);
        EINVAL
    })
}

/// Name of the active backend.
pub(crate) fn backend_name() -> &'static str {
    // SAFETY: every table's `name` is a 'static NUL-terminated string.
    unsafe { CStr::from_char_ptr(ops::active().name) }.to_str().unwrap_or("?")
}

fn show_detection(d: &Detection, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
    writeln!(f, "cpu_vendor: {}", d.cpu.name())?;
    writeln!(f, "hypervisor_bit: {}", d.hypervisor_bit as u8)?;
    for b in d.blocks.iter().flatten() {
        writeln!(f, "leaves: {:#010x} max {:#010x} signature \"{}\" ({})", b.base, b.max_leaf, b.signature, b.vendor().name())?;
    }
    match &d.hyperv {
        Some(hv) => {
            writeln!(f, "hyperv: {}.{} build {}", hv.major(), hv.minor(), hv.build())?;
            writeln!(f, "hyperv_privileges: {:#018x}", hv.privileges())?;
            writeln!(f, "hyperv_features_edx: {:#010x}", hv.features.edx)?;
            writeln!(f, "hyperv_recommendations: {:#010x}", hv.recommendations.eax)?;
        }
        None => writeln!(f, "hyperv: absent")?,
    }
    match &d.xen {
        Some(x) => writeln!(f, "xen: {}.{} at {:#010x}, hypercall msr {:#x}", x.major(), x.minor(), x.base, x.hypercall_msr)?,
        None => writeln!(f, "xen: absent")?,
    }
    writeln!(f, "backend: {}", backend_name())
}

fn show_stats(_: &(), f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
    writeln!(f, "backend {}", backend_name())?;
    writeln!(f, "{:<24} {:>10} {:>8} {:>10} {:>10}", "op", "calls", "errors", "avg_ns", "max_ns")?;
    for (name, s) in ops::OP_NAMES.iter().zip(ops::STATS.iter()) {
        let calls = s.calls.load(Ordering::Relaxed);
        let avg = if calls == 0 { 0 } else { s.total_ns.load(Ordering::Relaxed) / calls };
        writeln!(f, "{:<24} {:>10} {:>8} {:>10} {:>10}", name, calls, s.errors.load(Ordering::Relaxed), avg, s.max_ns.load(Ordering::Relaxed))?;
    }
    writeln!(f, "synic_dropped {}", synic::DROPPED.load(Ordering::Relaxed))
}

fn read_number(reader: &mut UserSliceReader) -> Result<u32> {
    let mut buf = [0u8; 16];
    let n = reader.len().min(buf.len());
    reader.read_slice(&mut buf[..n])?;
    core::str::from_utf8(&buf[..n]).map_err(|_| EINVAL)?.trim().parse::<u32>().map_err(|_| EINVAL)
}

fn show_selftest(_: &(), f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
    let r = &selftest::RESULT;
    let g = |a: &core::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    writeln!(
        f,
        "runs={} vps={} per_vp={} posted={} post_errors={} received={} wrong_cpu={} bad_payload={} elapsed_us={}",
        g(&r.runs),
        g(&r.vps),
        g(&r.per_vp),
        g(&r.posted),
        g(&r.post_errors),
        g(&r.received),
        g(&r.wrong_cpu),
        g(&r.bad_payload),
        g(&r.elapsed_us)
    )
}

fn write_selftest(_: &(), reader: &mut UserSliceReader) -> Result {
    selftest::run(read_number(reader)?)
}

fn show_bench(_: &(), f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
    let b = &selftest::BENCH;
    let g = |a: &core::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    writeln!(f, "backend={} calls={} table_ns={} direct_ns={} ping_ns={}", backend_name(), g(&b.calls), g(&b.table_ns), g(&b.direct_ns), g(&b.ping_ns))
}

fn show_exercise(_: &(), f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
    writeln!(f, "backend {}", backend_name())?;
    for (name, v) in selftest::EXERCISE_NAMES.iter().zip(selftest::EXERCISE.iter()) {
        writeln!(f, "{} {}", name, v.load(Ordering::Relaxed))?;
    }
    Ok(())
}

fn write_exercise(_: &(), reader: &mut UserSliceReader) -> Result {
    read_number(reader)?;
    selftest::exercise();
    Ok(())
}

fn write_bench(_: &(), reader: &mut UserSliceReader) -> Result {
    selftest::bench(read_number(reader)?)
}

struct HcallModule {
    _files: KVec<Pin<KBox<debugfs::File<()>>>>,
    _detect: Pin<KBox<debugfs::File<Detection>>>,
    _dir: debugfs::Dir,
    /// The simulator's PCI driver, registered only when the simulator may be the backend.
    _sim_driver: Option<Pin<KBox<driver::Registration<pci::Adapter<sim::SimDriver>>>>>,
    backend: Choice,
}

impl kernel::Module for HcallModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let det = cpuid::detect(&Cpu);
        sim::set_timeout_ms(module_parameters::sim_timeout_ms.value());
        let forced = forced_backend()?;
        // Xen and Hyper-V come before the simulator in the policy: only look for the
        // simulator's device when neither applies (or when asked to).
        let pre = policy::choose(&det, false, forced);
        let want_sim = matches!(forced, Some(Choice::Sim)) || (forced.is_none() && matches!(pre, Ok(Choice::None)));
        let sim_driver = if want_sim {
            Some(KBox::pin_init(driver::Registration::new(c"pvg_hcall_sim", module), GFP_KERNEL)?)
        } else {
            None
        };
        let backend = match policy::choose(&det, sim::present(), forced) {
            Ok(b) => b,
            Err(r) => {
                pr_err!("backend={} cannot be used: {}\n", forced.map_or("auto", |b| b.name()), r.as_str());
                return Err(ENODEV);
            }
        };
        match backend {
            Choice::HyperV => {
                hyperv::HyperV::start(&det)?;
                ops::activate(&hyperv::HYPERV_OPS);
            }
            Choice::Xen => {
                xen::Xen::start(det.cpu)?;
                ops::activate(&xen::XEN_OPS);
            }
            Choice::Sim => ops::activate(&sim::SIM_OPS),
            Choice::None => ops::activate(&ops::NONE_OPS),
        }
        report(&det);
        let dir = debugfs::Dir::new(c"pvg_hcall");
        let detect = KBox::pin_init(dir.read_callback_file(c"detect", det, &show_detection), GFP_KERNEL)?;
        let mut files = KVec::new();
        files.push(KBox::pin_init(dir.read_callback_file(c"stats", (), &show_stats), GFP_KERNEL)?, GFP_KERNEL)?;
        files.push(KBox::pin_init(dir.read_write_callback_file(c"selftest", (), &show_selftest, &write_selftest), GFP_KERNEL)?, GFP_KERNEL)?;
        files.push(KBox::pin_init(dir.read_write_callback_file(c"bench", (), &show_bench, &write_bench), GFP_KERNEL)?, GFP_KERNEL)?;
        files.push(KBox::pin_init(dir.read_write_callback_file(c"exercise", (), &show_exercise, &write_exercise), GFP_KERNEL)?, GFP_KERNEL)?;
        Ok(HcallModule { _files: files, _detect: detect, _dir: dir, _sim_driver: sim_driver, backend })
    }
}

impl Drop for HcallModule {
    fn drop(&mut self) {
        ops::activate(&ops::NONE_OPS);
        match self.backend {
            Choice::HyperV => hyperv::HyperV::stop(),
            Choice::Xen => xen::Xen::stop(),
            // The simulator detaches when its driver registration drops (after this).
            Choice::Sim | Choice::None => {}
        }
    }
}

/// The one dmesg line about what was found and chosen.
fn report(det: &Detection) {
    let hv = if det.hyperv.is_some() { "present" } else { "absent" };
    let xen = if det.xen.is_some() { "present" } else { "absent" };
    match det.primary() {
        Some(p) => pr_info!(
            "hypervisor {} (signature \"{}\" at {:#010x}), cpu {}; Hyper-V interface {}, Xen interface {}; backend {}\n",
            p.vendor().name(),
            p.signature.to_str(&mut [0; 12]),
            p.base,
            det.cpu.name(),
            hv,
            xen,
            backend_name(),
        ),
        None => pr_info!(
            "no hypervisor found (CPUID.1:ECX.31 = {}), cpu {}; backend {}\n",
            det.hypervisor_bit as u8,
            det.cpu.name(),
            backend_name()
        ),
    }
}
