// SPDX-License-Identifier: GPL-2.0-only
//! pvg_hcall: the hypercall adapter.
//!
//! Detects the hypervisor from CPUID (the parsing lives in the `hcall_abi` crate, shared with
//! the host tests), picks a backend, reports it in one `dmesg` line and in debugfs
//! (`/sys/kernel/debug/pvg_hcall/`).

use hcall_abi::cpuid::{self, CpuidResult, CpuidSource, Detection};
use kernel::{debugfs, prelude::*};

module! {
    type: HcallModule,
    name: "pvg_hcall",
    authors: ["pvguest developers"],
    description: "pvguest hypercall adapter: hypervisor detection and a neutral hypercall ops table",
    license: "GPL",
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

/// Writes the `detect` debugfs file: one `key: value` per line.
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
    Ok(())
}

struct HcallModule {
    _debugfs: Pin<KBox<debugfs::File<Detection>>>,
    _dir: debugfs::Dir,
}

impl kernel::Module for HcallModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let det = cpuid::detect(&Cpu);
        match det.primary() {
            Some(p) => pr_info!(
                "hypervisor {} (signature \"{}\" at {:#010x}), cpu {}; Hyper-V interface {}, Xen interface {}\n",
                p.vendor().name(),
                p.signature.to_str(&mut [0; 12]),
                p.base,
                det.cpu.name(),
                if det.hyperv.is_some() { "present" } else { "absent" },
                if det.xen.is_some() { "present" } else { "absent" },
            ),
            None => pr_info!("no hypervisor found (CPUID.1:ECX.31 = {}), cpu {}\n", det.hypervisor_bit as u8, det.cpu.name()),
        }
        let dir = debugfs::Dir::new(c"pvg_hcall");
        let file = KBox::pin_init(dir.read_callback_file(c"detect", det, &show_detection), GFP_KERNEL)?;
        Ok(HcallModule { _debugfs: file, _dir: dir })
    }
}
