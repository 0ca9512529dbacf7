// SPDX-License-Identifier: GPL-2.0-only
//! Hypervisor detection from CPUID.
//!
//! The hypervisor leaves start at `0x4000_0000`. Leaf `base` returns the highest leaf of that
//! block in EAX and a 12-byte vendor signature in EBX:ECX:EDX. A hypervisor that emulates
//! another one's interface (Xen with Viridian, KVM with Hyper-V enlightenments) puts the
//! emulated interface at `0x4000_0000` and its own one block of `0x100` leaves higher up, so
//! the blocks are scanned in `0x100` steps up to `0x4001_0000` as Linux does for Xen
//! (`arch/x86/include/asm/xen/hypervisor.h: xen_cpuid_base()`).
//!
//! Everything here works on values read through [`CpuidSource`], so the same code runs on the
//! real instruction in the kernel module and on captured values in tests.

/// The four registers returned by one CPUID invocation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuidResult {
    /// EAX.
    pub eax: u32,
    /// EBX.
    pub ebx: u32,
    /// ECX.
    pub ecx: u32,
    /// EDX.
    pub edx: u32,
}

/// Something that answers CPUID queries: the CPU itself, or a table of captured values.
pub trait CpuidSource {
    /// Executes CPUID with `leaf` in EAX and `subleaf` in ECX.
    fn cpuid(&self, leaf: u32, subleaf: u32) -> CpuidResult;
}

/// First leaf of the hypervisor range.
pub const HYPERVISOR_BASE: u32 = 0x4000_0000;
/// Scan limit for hypervisor leaf blocks (exclusive), as in Linux's `xen_cpuid_base()`.
pub const HYPERVISOR_SCAN_END: u32 = 0x4001_0000;
/// Distance between hypervisor leaf blocks.
pub const HYPERVISOR_BLOCK: u32 = 0x100;
/// CPUID.1:ECX bit 31, set by every hypervisor that wants to be found.
pub const CPUID1_ECX_HYPERVISOR: u32 = 1 << 31;

/// Vendor signatures (EBX:ECX:EDX of the block's first leaf).
pub mod signature {
    /// Microsoft Hyper-V, or any hypervisor offering the Hyper-V interface.
    pub const HYPERV: &[u8; 12] = b"Microsoft Hv";
    /// Xen.
    pub const XEN: &[u8; 12] = b"XenVMMXenVMM";
    /// Linux KVM.
    pub const KVM: &[u8; 12] = b"KVMKVMKVM\0\0\0";
    /// QEMU's TCG accelerator (no hardware virtualization).
    pub const TCG: &[u8; 12] = b"TCGTCGTCGTCG";
    /// VMware.
    pub const VMWARE: &[u8; 12] = b"VMwareVMware";
    /// Bhyve.
    pub const BHYVE: &[u8; 12] = b"bhyve bhyve ";
    /// ACRN.
    pub const ACRN: &[u8; 12] = b"ACRNACRNACRN";
}

/// Hyper-V interface signature in CPUID `0x4000_0001`.EAX: "Hv#1" (TLFS 2.4).
pub const HV_INTERFACE_SIGNATURE: u32 = u32::from_le_bytes(*b"Hv#1");
/// Hyper-V CPUID leaves (`include/hyperv/hvgdk_mini.h`, HV_CPUID_FUNCTION).
pub mod hv_leaf {
    /// Vendor and highest leaf.
    pub const VENDOR_AND_MAX_FUNCTIONS: u32 = 0x4000_0000;
    /// Interface signature ("Hv#1").
    pub const INTERFACE: u32 = 0x4000_0001;
    /// Hypervisor version.
    pub const VERSION: u32 = 0x4000_0002;
    /// Partition privileges and features.
    pub const FEATURES: u32 = 0x4000_0003;
    /// Enlightenment recommendations.
    pub const ENLIGHTENMENT_INFO: u32 = 0x4000_0004;
    /// Implementation limits.
    pub const IMPLEMENT_LIMITS: u32 = 0x4000_0005;
    /// Hardware features detected and in use (TLFS "Implementation Hardware Features").
    pub const HARDWARE_FEATURES: u32 = 0x4000_0006;
    /// CPU management features (root partition).
    pub const CPU_MANAGEMENT_FEATURES: u32 = 0x4000_0007;
    /// Nested virtualization features.
    pub const NESTED_FEATURES: u32 = 0x4000_000A;
    /// Isolation (confidential VM) configuration.
    pub const ISOLATION_CONFIG: u32 = 0x4000_000C;
    /// Lowest acceptable highest leaf (Linux: HYPERV_CPUID_MIN).
    pub const MIN: u32 = 0x4000_0005;
    /// Highest acceptable highest leaf (Linux: HYPERV_CPUID_MAX).
    pub const MAX: u32 = 0x4000_ffff;
}


/// `HYPERV_CPUID_FEATURES` EAX bits: the low half of the partition privilege mask
/// (`include/hyperv/hvgdk_mini.h`).
pub mod hv_eax {
    /// `HV_MSR_VP_RUNTIME_AVAILABLE`.
    pub const MSR_VP_RUNTIME_AVAILABLE: u32 = 1 << 0;
    /// `HV_MSR_TIME_REF_COUNT_AVAILABLE`.
    pub const MSR_TIME_REF_COUNT_AVAILABLE: u32 = 1 << 1;
    /// `HV_MSR_SYNIC_AVAILABLE`.
    pub const MSR_SYNIC_AVAILABLE: u32 = 1 << 2;
    /// `HV_MSR_SYNTIMER_AVAILABLE`.
    pub const MSR_SYNTIMER_AVAILABLE: u32 = 1 << 3;
    /// `HV_MSR_APIC_ACCESS_AVAILABLE`.
    pub const MSR_APIC_ACCESS_AVAILABLE: u32 = 1 << 4;
    /// `HV_MSR_HYPERCALL_AVAILABLE`.
    pub const MSR_HYPERCALL_AVAILABLE: u32 = 1 << 5;
    /// `HV_MSR_VP_INDEX_AVAILABLE`.
    pub const MSR_VP_INDEX_AVAILABLE: u32 = 1 << 6;
    /// `HV_MSR_RESET_AVAILABLE`.
    pub const MSR_RESET_AVAILABLE: u32 = 1 << 7;
    /// `HV_MSR_STAT_PAGES_AVAILABLE`.
    pub const MSR_STAT_PAGES_AVAILABLE: u32 = 1 << 8;
    /// `HV_MSR_REFERENCE_TSC_AVAILABLE`.
    pub const MSR_REFERENCE_TSC_AVAILABLE: u32 = 1 << 9;
    /// `HV_MSR_GUEST_IDLE_AVAILABLE`.
    pub const MSR_GUEST_IDLE_AVAILABLE: u32 = 1 << 10;
    /// `HV_ACCESS_FREQUENCY_MSRS`.
    pub const ACCESS_FREQUENCY_MSRS: u32 = 1 << 11;
    /// `HV_ACCESS_REENLIGHTENMENT`.
    pub const ACCESS_REENLIGHTENMENT: u32 = 1 << 13;
    /// `HV_ACCESS_TSC_INVARIANT`.
    pub const ACCESS_TSC_INVARIANT: u32 = 1 << 15;
}

/// `HYPERV_CPUID_FEATURES` EBX bits: the high half of the partition privilege mask.
pub mod hv_ebx {
    /// `HV_CREATE_PARTITIONS`.
    pub const CREATE_PARTITIONS: u32 = 1 << 0;
    /// `HV_ACCESS_PARTITION_ID`.
    pub const ACCESS_PARTITION_ID: u32 = 1 << 1;
    /// `HV_ACCESS_MEMORY_POOL`.
    pub const ACCESS_MEMORY_POOL: u32 = 1 << 2;
    /// `HV_ADJUST_MESSAGE_BUFFERS`.
    pub const ADJUST_MESSAGE_BUFFERS: u32 = 1 << 3;
    /// `HV_POST_MESSAGES`: `HvCallPostMessage` allowed.
    pub const POST_MESSAGES: u32 = 1 << 4;
    /// `HV_SIGNAL_EVENTS`: `HvCallSignalEvent` allowed.
    pub const SIGNAL_EVENTS: u32 = 1 << 5;
    /// `HV_CREATE_PORT`.
    pub const CREATE_PORT: u32 = 1 << 6;
    /// `HV_CONNECT_PORT`.
    pub const CONNECT_PORT: u32 = 1 << 7;
    /// `HV_ACCESS_STATS`.
    pub const ACCESS_STATS: u32 = 1 << 8;
    /// `HV_DEBUGGING`.
    pub const DEBUGGING: u32 = 1 << 11;
    /// `HV_CPU_MANAGEMENT`.
    pub const CPU_MANAGEMENT: u32 = 1 << 12;
    /// `HV_ENABLE_EXTENDED_HYPERCALLS`.
    pub const ENABLE_EXTENDED_HYPERCALLS: u32 = 1 << 20;
    /// `HV_ISOLATION`.
    pub const ISOLATION: u32 = 1 << 22;
}

/// `HYPERV_CPUID_FEATURES` ECX bits.
pub mod hv_ecx {
    /// `HV_VP_DISPATCH_INTERRUPT_INJECTION_AVAILABLE`.
    pub const VP_DISPATCH_INTERRUPT_INJECTION_AVAILABLE: u32 = 1 << 9;
    /// `HV_VP_GHCB_ROOT_MAPPING_AVAILABLE`.
    pub const VP_GHCB_ROOT_MAPPING_AVAILABLE: u32 = 1 << 10;
}

/// `HYPERV_CPUID_FEATURES` EDX bits (`HV_X64_HYPERVISOR_FEATURES`).
pub mod hv_edx {
    /// `HV_X64_MWAIT_AVAILABLE`.
    pub const MWAIT_AVAILABLE: u32 = 1 << 0;
    /// `HV_X64_GUEST_DEBUGGING_AVAILABLE`.
    pub const GUEST_DEBUGGING_AVAILABLE: u32 = 1 << 1;
    /// `HV_X64_PERF_MONITOR_AVAILABLE`.
    pub const PERF_MONITOR_AVAILABLE: u32 = 1 << 2;
    /// `HV_X64_CPU_DYNAMIC_PARTITIONING_AVAILABLE`.
    pub const CPU_DYNAMIC_PARTITIONING_AVAILABLE: u32 = 1 << 3;
    /// `HV_X64_HYPERCALL_XMM_INPUT_AVAILABLE`.
    pub const HYPERCALL_XMM_INPUT_AVAILABLE: u32 = 1 << 4;
    /// `HV_X64_GUEST_IDLE_STATE_AVAILABLE`.
    pub const GUEST_IDLE_STATE_AVAILABLE: u32 = 1 << 5;
    /// `HV_FEATURE_FREQUENCY_MSRS_AVAILABLE`.
    pub const FREQUENCY_MSRS_AVAILABLE: u32 = 1 << 8;
    /// `HV_FEATURE_GUEST_CRASH_MSR_AVAILABLE`.
    pub const GUEST_CRASH_MSR_AVAILABLE: u32 = 1 << 10;
    /// `HV_FEATURE_DEBUG_MSRS_AVAILABLE`.
    pub const DEBUG_MSRS_AVAILABLE: u32 = 1 << 11;
    /// `HV_FEATURE_EXT_GVA_RANGES_FLUSH`.
    pub const EXT_GVA_RANGES_FLUSH: u32 = 1 << 14;
    /// `HV_X64_HYPERCALL_XMM_OUTPUT_AVAILABLE`.
    pub const HYPERCALL_XMM_OUTPUT_AVAILABLE: u32 = 1 << 15;
    /// `HV_STIMER_DIRECT_MODE_AVAILABLE`.
    pub const STIMER_DIRECT_MODE_AVAILABLE: u32 = 1 << 19;
}

/// `HYPERV_CPUID_ENLIGHTMENT_INFO` EAX bits: recommendations ("hints").
pub mod hv_hints {
    /// `HV_X64_AS_SWITCH_RECOMMENDED`.
    pub const AS_SWITCH_RECOMMENDED: u32 = 1 << 0;
    /// `HV_X64_LOCAL_TLB_FLUSH_RECOMMENDED`.
    pub const LOCAL_TLB_FLUSH_RECOMMENDED: u32 = 1 << 1;
    /// `HV_X64_REMOTE_TLB_FLUSH_RECOMMENDED`: use the flush hypercalls.
    pub const REMOTE_TLB_FLUSH_RECOMMENDED: u32 = 1 << 2;
    /// `HV_X64_APIC_ACCESS_RECOMMENDED`.
    pub const APIC_ACCESS_RECOMMENDED: u32 = 1 << 3;
    /// `HV_X64_SYSTEM_RESET_RECOMMENDED`.
    pub const SYSTEM_RESET_RECOMMENDED: u32 = 1 << 4;
    /// `HV_X64_RELAXED_TIMING_RECOMMENDED`.
    pub const RELAXED_TIMING_RECOMMENDED: u32 = 1 << 5;
    /// `HV_DEPRECATING_AEOI_RECOMMENDED`: do not use auto-EOI.
    pub const DEPRECATING_AEOI_RECOMMENDED: u32 = 1 << 9;
    /// `HV_X64_CLUSTER_IPI_RECOMMENDED`: use `HvCallSendSyntheticClusterIpi`.
    pub const CLUSTER_IPI_RECOMMENDED: u32 = 1 << 10;
    /// `HV_X64_EX_PROCESSOR_MASKS_RECOMMENDED`: the Ex calls (VP sets) are available.
    pub const EX_PROCESSOR_MASKS_RECOMMENDED: u32 = 1 << 11;
    /// `HV_X64_HYPERV_NESTED`.
    pub const HYPERV_NESTED: u32 = 1 << 12;
    /// `HV_X64_ENLIGHTENED_VMCS_RECOMMENDED`.
    pub const ENLIGHTENED_VMCS_RECOMMENDED: u32 = 1 << 14;
    /// `HV_X64_NO_NONARCH_CORESHARING`.
    pub const NO_NONARCH_CORESHARING: u32 = 1 << 18;
    /// `HV_X64_USE_MMIO_HYPERCALLS`.
    pub const USE_MMIO_HYPERCALLS: u32 = 1 << 21;
}

/// `HYPERV_CPUID_ISOLATION_CONFIG` bits.
pub mod hv_isolation {
    /// EAX: `HV_PARAVISOR_PRESENT`.
    pub const PARAVISOR_PRESENT: u32 = 1 << 0;
    /// EBX: `HV_ISOLATION_TYPE` (bits 3:0; 0 none, 1 VBS, 2 SNP, 3 TDX).
    pub const ISOLATION_TYPE_MASK: u32 = 0xf;
    /// EBX: `HV_SHARED_GPA_BOUNDARY_ACTIVE`.
    pub const SHARED_GPA_BOUNDARY_ACTIVE: u32 = 1 << 5;
    /// EBX: `HV_SHARED_GPA_BOUNDARY_BITS` (bits 11:6).
    pub const SHARED_GPA_BOUNDARY_BITS_MASK: u32 = 0x3f << 6;
}

fn write_flags(w: &mut impl core::fmt::Write, value: u32, names: &[(u32, &str)]) -> core::fmt::Result {
    let mut first = true;
    let mut rest = value;
    for &(bit, name) in names {
        if value & bit != 0 {
            w.write_str(if first { "" } else { "," })?;
            w.write_str(name)?;
            first = false;
            rest &= !bit;
        }
    }
    if rest != 0 {
        write!(w, "{}{:#x}", if first { "" } else { "," }, rest)?;
        first = false;
    }
    if first {
        w.write_str("-")?;
    }
    Ok(())
}

const HV_EAX_NAMES: &[(u32, &str)] = &[
    (hv_eax::MSR_VP_RUNTIME_AVAILABLE, "vp_runtime"),
    (hv_eax::MSR_TIME_REF_COUNT_AVAILABLE, "time_ref_count"),
    (hv_eax::MSR_SYNIC_AVAILABLE, "synic"),
    (hv_eax::MSR_SYNTIMER_AVAILABLE, "stimer"),
    (hv_eax::MSR_APIC_ACCESS_AVAILABLE, "apic_msrs"),
    (hv_eax::MSR_HYPERCALL_AVAILABLE, "hypercall"),
    (hv_eax::MSR_VP_INDEX_AVAILABLE, "vp_index"),
    (hv_eax::MSR_RESET_AVAILABLE, "reset"),
    (hv_eax::MSR_STAT_PAGES_AVAILABLE, "stat_pages"),
    (hv_eax::MSR_REFERENCE_TSC_AVAILABLE, "ref_tsc"),
    (hv_eax::MSR_GUEST_IDLE_AVAILABLE, "guest_idle"),
    (hv_eax::ACCESS_FREQUENCY_MSRS, "freq_msrs"),
    (hv_eax::ACCESS_REENLIGHTENMENT, "reenlightenment"),
    (hv_eax::ACCESS_TSC_INVARIANT, "tsc_invariant"),
];

const HV_EBX_NAMES: &[(u32, &str)] = &[
    (hv_ebx::CREATE_PARTITIONS, "create_partitions"),
    (hv_ebx::ACCESS_PARTITION_ID, "partition_id"),
    (hv_ebx::ACCESS_MEMORY_POOL, "memory_pool"),
    (hv_ebx::ADJUST_MESSAGE_BUFFERS, "adjust_msg_buffers"),
    (hv_ebx::POST_MESSAGES, "post_messages"),
    (hv_ebx::SIGNAL_EVENTS, "signal_events"),
    (hv_ebx::CREATE_PORT, "create_port"),
    (hv_ebx::CONNECT_PORT, "connect_port"),
    (hv_ebx::ACCESS_STATS, "stats"),
    (hv_ebx::DEBUGGING, "debugging"),
    (hv_ebx::CPU_MANAGEMENT, "cpu_management"),
    (hv_ebx::ENABLE_EXTENDED_HYPERCALLS, "ext_hypercalls"),
    (hv_ebx::ISOLATION, "isolation"),
];

const HV_EDX_NAMES: &[(u32, &str)] = &[
    (hv_edx::MWAIT_AVAILABLE, "mwait"),
    (hv_edx::GUEST_DEBUGGING_AVAILABLE, "guest_debugging"),
    (hv_edx::PERF_MONITOR_AVAILABLE, "perf_monitor"),
    (hv_edx::CPU_DYNAMIC_PARTITIONING_AVAILABLE, "cpu_dynamic_partitioning"),
    (hv_edx::HYPERCALL_XMM_INPUT_AVAILABLE, "xmm_input"),
    (hv_edx::GUEST_IDLE_STATE_AVAILABLE, "guest_idle_state"),
    (hv_edx::FREQUENCY_MSRS_AVAILABLE, "freq_msrs"),
    (hv_edx::GUEST_CRASH_MSR_AVAILABLE, "crash_msrs"),
    (hv_edx::DEBUG_MSRS_AVAILABLE, "debug_msrs"),
    (hv_edx::EXT_GVA_RANGES_FLUSH, "ext_gva_ranges_flush"),
    (hv_edx::HYPERCALL_XMM_OUTPUT_AVAILABLE, "xmm_output"),
    (hv_edx::STIMER_DIRECT_MODE_AVAILABLE, "stimer_direct"),
];

const HV_HINT_NAMES: &[(u32, &str)] = &[
    (hv_hints::AS_SWITCH_RECOMMENDED, "as_switch"),
    (hv_hints::LOCAL_TLB_FLUSH_RECOMMENDED, "local_flush"),
    (hv_hints::REMOTE_TLB_FLUSH_RECOMMENDED, "remote_flush"),
    (hv_hints::APIC_ACCESS_RECOMMENDED, "apic_msrs"),
    (hv_hints::SYSTEM_RESET_RECOMMENDED, "reset_msr"),
    (hv_hints::RELAXED_TIMING_RECOMMENDED, "relaxed_timing"),
    (hv_hints::DEPRECATING_AEOI_RECOMMENDED, "no_auto_eoi"),
    (hv_hints::CLUSTER_IPI_RECOMMENDED, "cluster_ipi"),
    (hv_hints::EX_PROCESSOR_MASKS_RECOMMENDED, "ex_processor_masks"),
    (hv_hints::HYPERV_NESTED, "nested"),
    (hv_hints::ENLIGHTENED_VMCS_RECOMMENDED, "evmcs"),
    (hv_hints::NO_NONARCH_CORESHARING, "no_nonarch_coresharing"),
    (hv_hints::USE_MMIO_HYPERCALLS, "mmio_hypercalls"),
];

const XEN_HVM_NAMES: &[(u32, &str)] = &[
    (crate::xen::cpuid_bits::HVM_APIC_ACCESS_VIRT, "apic_access_virt"),
    (crate::xen::cpuid_bits::HVM_X2APIC_VIRT, "x2apic_virt"),
    (crate::xen::cpuid_bits::HVM_IOMMU_MAPPINGS, "iommu_mappings"),
    (crate::xen::cpuid_bits::HVM_VCPU_ID_PRESENT, "vcpu_id"),
    (crate::xen::cpuid_bits::HVM_DOMID_PRESENT, "domid"),
    (crate::xen::cpuid_bits::HVM_EXT_DEST_ID, "ext_dest_id"),
    (crate::xen::cpuid_bits::HVM_UPCALL_VECTOR, "upcall_vector"),
];

const XEN_TIME_NAMES: &[(u32, &str)] = &[
    (crate::xen::cpuid_bits::TSC_EMULATED, "tsc_emulated"),
    (crate::xen::cpuid_bits::HOST_TSC_RELIABLE, "host_tsc_reliable"),
    (crate::xen::cpuid_bits::RDTSCP_INSTR_AVAIL, "rdtscp"),
];

/// A 12-byte vendor signature.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; 12]);

impl Signature {
    fn from_regs(r: CpuidResult) -> Self {
        let mut s = [0u8; 12];
        s[0..4].copy_from_slice(&r.ebx.to_le_bytes());
        s[4..8].copy_from_slice(&r.ecx.to_le_bytes());
        s[8..12].copy_from_slice(&r.edx.to_le_bytes());
        Signature(s)
    }

    /// The signature as text in `buf`: printable ASCII kept, NULs dropped, anything else as
    /// `?` (the hypervisor chooses these bytes; they are never printed raw).
    pub fn to_str<'a>(&self, buf: &'a mut [u8; 12]) -> &'a str {
        let mut n = 0;
        for &b in self.0.iter() {
            if b == 0 {
                continue;
            }
            buf[n] = if (0x20..0x7f).contains(&b) { b } else { b'?' };
            n += 1;
        }
        core::str::from_utf8(&buf[..n]).unwrap_or("?")
    }
}

impl core::fmt::Debug for Signature {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:?}", self.to_str(&mut [0; 12]))
    }
}

impl core::fmt::Display for Signature {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.to_str(&mut [0; 12]))
    }
}

/// Which hypervisor a signature names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vendor {
    /// Hyper-V (or its interface offered by another hypervisor).
    HyperV,
    /// Xen.
    Xen,
    /// KVM.
    Kvm,
    /// QEMU TCG.
    Tcg,
    /// VMware.
    Vmware,
    /// Any other signature.
    Other,
}

impl Vendor {
    /// Classifies a signature.
    pub fn of(sig: &Signature) -> Vendor {
        match &sig.0 {
            s if s == signature::HYPERV => Vendor::HyperV,
            s if s == signature::XEN => Vendor::Xen,
            s if s == signature::KVM => Vendor::Kvm,
            s if s == signature::TCG => Vendor::Tcg,
            s if s == signature::VMWARE => Vendor::Vmware,
            _ => Vendor::Other,
        }
    }

    /// Short lower-case name for logs and sysfs.
    pub fn name(self) -> &'static str {
        match self {
            Vendor::HyperV => "hyperv",
            Vendor::Xen => "xen",
            Vendor::Kvm => "kvm",
            Vendor::Tcg => "tcg",
            Vendor::Vmware => "vmware",
            Vendor::Other => "other",
        }
    }
}

/// The CPU vendor, which picks the Xen hypercall instruction (`vmcall` or `vmmcall`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuVendor {
    /// "GenuineIntel" (and others using VMX): `vmcall`.
    Intel,
    /// "AuthenticAMD" or "HygonGenuine" (SVM): `vmmcall`.
    Amd,
    /// Anything else.
    Other,
}

impl CpuVendor {
    /// Reads leaf 0.
    pub fn detect(src: &impl CpuidSource) -> CpuVendor {
        match &Signature::from_regs_leaf0(src.cpuid(0, 0)).0 {
            b"GenuineIntel" => CpuVendor::Intel,
            b"AuthenticAMD" | b"HygonGenuine" => CpuVendor::Amd,
            _ => CpuVendor::Other,
        }
    }

    /// Short name for logs and sysfs.
    pub fn name(self) -> &'static str {
        match self {
            CpuVendor::Intel => "intel",
            CpuVendor::Amd => "amd",
            CpuVendor::Other => "other",
        }
    }
}

impl Signature {
    /// Leaf 0 orders the vendor string EBX, EDX, ECX (unlike the hypervisor leaves).
    fn from_regs_leaf0(r: CpuidResult) -> Self {
        Signature::from_regs(CpuidResult { eax: r.eax, ebx: r.ebx, ecx: r.edx, edx: r.ecx })
    }
}

/// One block of hypervisor leaves found by the scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeafBlock {
    /// First leaf of the block (`0x4000_0000 + n * 0x100`).
    pub base: u32,
    /// Highest leaf of the block (EAX of the first leaf).
    pub max_leaf: u32,
    /// Vendor signature.
    pub signature: Signature,
}

impl LeafBlock {
    /// Who the signature names.
    pub fn vendor(&self) -> Vendor {
        Vendor::of(&self.signature)
    }

    /// Number of leaves after the first one (0 when EAX is below the base: a bogus block).
    pub fn extra_leaves(&self) -> u32 {
        self.max_leaf.saturating_sub(self.base)
    }
}

/// Hyper-V interface details (TLFS 2.4, "Hypervisor Discovery").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HyperVInfo {
    /// Highest Hyper-V leaf.
    pub max_leaf: u32,
    /// 0x40000002: EAX build number, EBX major.minor, ECX service pack, EDX branch.
    pub version: CpuidResult,
    /// 0x40000003: EAX/EBX partition privilege mask (low/high), ECX power, EDX features.
    pub features: CpuidResult,
    /// 0x40000004: EAX recommendations, EBX spinlock retry count.
    pub recommendations: CpuidResult,
    /// 0x40000005: EAX maximum virtual processors, EBX maximum logical processors.
    pub limits: CpuidResult,
    /// 0x40000006 when present (else zero): hardware features in use.
    pub hardware: CpuidResult,
    /// 0x4000000A when present (else zero): nested virtualization features.
    pub nested: CpuidResult,
    /// 0x4000000C when present (else zero): isolation configuration.
    pub isolation: CpuidResult,
}

impl HyperVInfo {
    /// The 64-bit partition privilege mask (HV_PARTITION_PRIVILEGE_MASK).
    pub fn privileges(&self) -> u64 {
        u64::from(self.features.eax) | (u64::from(self.features.ebx) << 32)
    }
    /// Hypervisor major version (0x40000002.EBX bits 31:16).
    pub fn major(&self) -> u16 {
        (self.version.ebx >> 16) as u16
    }
    /// Hypervisor minor version (0x40000002.EBX bits 15:0).
    pub fn minor(&self) -> u16 {
        self.version.ebx as u16
    }
    /// Build number (0x40000002.EAX).
    pub fn build(&self) -> u32 {
        self.version.eax
    }
    /// Service pack (0x40000002.ECX).
    pub fn service_pack(&self) -> u32 {
        self.version.ecx
    }
    /// Service branch (0x40000002.EDX bits 31:24).
    pub fn service_branch(&self) -> u8 {
        (self.version.edx >> 24) as u8
    }
    /// Service number (0x40000002.EDX bits 23:0).
    pub fn service_number(&self) -> u32 {
        self.version.edx & 0x00ff_ffff
    }
    /// Is the [`hv_eax`] bit `bit` set?
    pub fn has_eax(&self, bit: u32) -> bool {
        self.features.eax & bit != 0
    }
    /// Is the [`hv_ebx`] bit `bit` set?
    pub fn has_ebx(&self, bit: u32) -> bool {
        self.features.ebx & bit != 0
    }
    /// Is the [`hv_edx`] bit `bit` set?
    pub fn has_edx(&self, bit: u32) -> bool {
        self.features.edx & bit != 0
    }
    /// Recommendation bits ([`hv_hints`], 0x40000004.EAX; `ms_hyperv.hints` in Linux).
    pub fn hints(&self) -> u32 {
        self.recommendations.eax
    }
    /// Is the [`hv_hints`] bit `bit` set?
    pub fn recommends(&self, bit: u32) -> bool {
        self.hints() & bit != 0
    }
    /// Spin attempts before `HvCallNotifyLongSpinWait` (0x40000004.EBX; 0xFFFFFFFF: never).
    pub fn spinlock_retries(&self) -> u32 {
        self.recommendations.ebx
    }
    /// Largest VP count the hypervisor supports (0x40000005.EAX).
    pub fn max_vps(&self) -> u32 {
        self.limits.eax
    }
    /// Largest logical processor count (0x40000005.EBX).
    pub fn max_lps(&self) -> u32 {
        self.limits.ebx
    }
    /// Hypercall and VP index MSRs available: the minimum for a hypercall backend (Linux
    /// `ms_hyperv_platform()` requires both).
    pub fn has_hypercalls(&self) -> bool {
        self.has_eax(hv_eax::MSR_HYPERCALL_AVAILABLE) && self.has_eax(hv_eax::MSR_VP_INDEX_AVAILABLE)
    }
    /// SynIC MSRs available.
    pub fn has_synic(&self) -> bool {
        self.has_eax(hv_eax::MSR_SYNIC_AVAILABLE)
    }
    /// `HvCallPostMessage` permitted.
    pub fn can_post_messages(&self) -> bool {
        self.has_ebx(hv_ebx::POST_MESSAGES)
    }
    /// `HvCallSignalEvent` permitted.
    pub fn can_signal_events(&self) -> bool {
        self.has_ebx(hv_ebx::SIGNAL_EVENTS)
    }
    /// TIME_REF_COUNT MSR available.
    pub fn has_time_ref_count(&self) -> bool {
        self.has_eax(hv_eax::MSR_TIME_REF_COUNT_AVAILABLE)
    }
    /// Reference TSC page available.
    pub fn has_reference_tsc(&self) -> bool {
        self.has_eax(hv_eax::MSR_REFERENCE_TSC_AVAILABLE)
    }
    /// Isolation type (0x4000000C.EBX bits 3:0: 0 none, 1 VBS, 2 SNP, 3 TDX).
    pub fn isolation_type(&self) -> u32 {
        self.isolation.ebx & hv_isolation::ISOLATION_TYPE_MASK
    }
    /// A paravisor is present (0x4000000C.EAX bit 0).
    pub fn paravisor_present(&self) -> bool {
        self.isolation.eax & hv_isolation::PARAVISOR_PRESENT != 0
    }

    /// One-line summary: version, features and recommendations by name, for a log line or
    /// debugfs, e.g. `hyperv 10.0.20348 max_leaf 0x4000000a features
    /// time_ref_count,synic,... privileges post_messages,... edx ... hints remote_flush,...
    /// spin 0xfff max_vps 240`.
    pub fn describe(&self, w: &mut impl core::fmt::Write) -> core::fmt::Result {
        write!(w, "hyperv {}.{}.{} max_leaf {:#x} features ", self.major(), self.minor(), self.build(), self.max_leaf)?;
        write_flags(w, self.features.eax, HV_EAX_NAMES)?;
        w.write_str(" privileges ")?;
        write_flags(w, self.features.ebx, HV_EBX_NAMES)?;
        w.write_str(" edx ")?;
        write_flags(w, self.features.edx, HV_EDX_NAMES)?;
        w.write_str(" hints ")?;
        write_flags(w, self.hints(), HV_HINT_NAMES)?;
        write!(w, " spin {:#x} max_vps {}", self.spinlock_retries(), self.max_vps())?;
        if self.isolation_type() != 0 || self.paravisor_present() {
            write!(w, " isolation {} paravisor {}", self.isolation_type(), u8::from(self.paravisor_present()))?;
        }
        Ok(())
    }
}

/// Xen interface details (`xen/include/public/arch-x86/cpuid.h`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XenInfo {
    /// First leaf of the Xen block.
    pub base: u32,
    /// Highest leaf of the block.
    pub max_leaf: u32,
    /// base+1 EAX: major in bits 31:16, minor in 15:0.
    pub version: u32,
    /// base+2 EAX: number of hypercall transfer pages.
    pub hypercall_pages: u32,
    /// base+2 EBX: MSR that installs the hypercall page.
    pub hypercall_msr: u32,
    /// base+2 ECX: feature flags.
    pub features: u32,
    /// base+4 EAX, when present: HVM-specific features (XEN_HVM_CPUID_*).
    pub hvm_features: u32,
    /// base+3 subleaf 0, when present: EAX time flags, EBX TSC mode, ECX TSC kHz, EDX
    /// incarnation.
    pub time: CpuidResult,
    /// base+4, when present: EAX = `hvm_features`, EBX VCPU id, ECX domain id.
    pub hvm: CpuidResult,
}

impl XenInfo {
    /// Xen major version.
    pub fn major(&self) -> u16 {
        (self.version >> 16) as u16
    }
    /// Xen minor version.
    pub fn minor(&self) -> u16 {
        self.version as u16
    }
    /// Is the `XEN_HVM_CPUID_*` bit `bit` ([`crate::xen::cpuid_bits`]) set?
    pub fn hvm_has(&self, bit: u32) -> bool {
        self.hvm_features & bit != 0
    }
    /// This VCPU's id, when `XEN_HVM_CPUID_VCPU_ID_PRESENT`.
    pub fn vcpu_id(&self) -> Option<u32> {
        self.hvm_has(crate::xen::cpuid_bits::HVM_VCPU_ID_PRESENT).then_some(self.hvm.ebx)
    }
    /// This domain's id, when `XEN_HVM_CPUID_DOMID_PRESENT`.
    pub fn domid(&self) -> Option<u16> {
        self.hvm_has(crate::xen::cpuid_bits::HVM_DOMID_PRESENT).then_some(self.hvm.ecx as u16)
    }
    /// `XEN_HVM_CPUID_UPCALL_VECTOR`: per-VCPU event upcall vectors.
    pub fn has_upcall_vector(&self) -> bool {
        self.hvm_has(crate::xen::cpuid_bits::HVM_UPCALL_VECTOR)
    }
    /// `XEN_CPUID_FEAT1_MMU_PT_UPDATE_PRESERVE_AD`.
    pub fn has_preserve_ad(&self) -> bool {
        self.features & crate::xen::cpuid_bits::FEAT1_MMU_PT_UPDATE_PRESERVE_AD != 0
    }
    /// `XEN_CPUID_TSC_EMULATED`.
    pub fn tsc_emulated(&self) -> bool {
        self.time.eax & crate::xen::cpuid_bits::TSC_EMULATED != 0
    }
    /// `XEN_CPUID_HOST_TSC_RELIABLE`.
    pub fn host_tsc_reliable(&self) -> bool {
        self.time.eax & crate::xen::cpuid_bits::HOST_TSC_RELIABLE != 0
    }
    /// TSC mode (`XEN_CPUID_TSC_MODE_*`).
    pub fn tsc_mode(&self) -> u32 {
        self.time.ebx
    }
    /// Guest TSC frequency in kHz (0 if not reported).
    pub fn tsc_khz(&self) -> u32 {
        self.time.ecx
    }

    /// One-line summary for a log line or debugfs, e.g. `xen 4.11 base 0x40000000
    /// hypercall_msr 0x40000000 pages 1 hvm iommu_mappings,vcpu_id,domid domid 30251 time
    /// host_tsc_reliable,rdtscp tsc_mode 2 tsc_khz 2400010`.
    pub fn describe(&self, w: &mut impl core::fmt::Write) -> core::fmt::Result {
        write!(w, "xen {}.{} base {:#x} hypercall_msr {:#x} pages {} hvm ", self.major(), self.minor(), self.base, self.hypercall_msr, self.hypercall_pages)?;
        write_flags(w, self.hvm_features, XEN_HVM_NAMES)?;
        if let Some(d) = self.domid() {
            write!(w, " domid {}", d)?;
        }
        w.write_str(" time ")?;
        write_flags(w, self.time.eax, XEN_TIME_NAMES)?;
        write!(w, " tsc_mode {} tsc_khz {}", self.tsc_mode(), self.tsc_khz())
    }
}

/// Maximum number of leaf blocks recorded by one scan (the range has 256 slots; real systems
/// have one or two).
pub const MAX_BLOCKS: usize = 4;

/// Everything detection learned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Detection {
    /// CPU vendor from leaf 0.
    pub cpu: CpuVendor,
    /// CPUID.1:ECX.31 (hypervisor present).
    pub hypervisor_bit: bool,
    /// Leaf blocks found, in scan order (first is at `0x4000_0000` when present).
    pub blocks: [Option<LeafBlock>; MAX_BLOCKS],
    /// The Hyper-V interface, when the base block offers it and the interface is "Hv#1".
    pub hyperv: Option<HyperVInfo>,
    /// The Xen interface, when any block is Xen's.
    pub xen: Option<XenInfo>,
}

impl Detection {
    /// The block at `0x4000_0000`, which names the hypervisor the guest sees first.
    pub fn primary(&self) -> Option<&LeafBlock> {
        self.blocks[0].as_ref().filter(|b| b.base == HYPERVISOR_BASE)
    }

    /// Vendor of the primary block, if any.
    pub fn primary_vendor(&self) -> Option<Vendor> {
        self.primary().map(|b| b.vendor())
    }

    /// Summary of everything found, `"; "`-separated, for one log line or debugfs: CPU,
    /// the leaf blocks, then [`HyperVInfo::describe`] and [`XenInfo::describe`].
    pub fn describe(&self, w: &mut impl core::fmt::Write) -> core::fmt::Result {
        write!(w, "cpu {} hypervisor_bit {}", self.cpu.name(), u8::from(self.hypervisor_bit))?;
        for b in self.blocks.iter().flatten() {
            write!(w, "; {} at {:#x} max {:#x}", b.vendor().name(), b.base, b.max_leaf)?;
        }
        if let Some(hv) = &self.hyperv {
            w.write_str("; ")?;
            hv.describe(w)?;
        }
        if let Some(x) = &self.xen {
            w.write_str("; ")?;
            x.describe(w)?;
        }
        Ok(())
    }
}

/// Scans the hypervisor leaves. Never trusts EAX beyond what is needed: a block counts only
/// when its signature is non-zero; the Xen block needs at least two more leaves (as Linux
/// requires), the Hyper-V interface needs EAX in `[HV_CPUID_MIN, HV_CPUID_MAX]` and "Hv#1".
pub fn detect(src: &impl CpuidSource) -> Detection {
    let cpu = CpuVendor::detect(src);
    let hypervisor_bit = src.cpuid(1, 0).ecx & CPUID1_ECX_HYPERVISOR != 0;
    let mut det = Detection { cpu, hypervisor_bit, blocks: [None; MAX_BLOCKS], hyperv: None, xen: None };
    if !hypervisor_bit {
        // Without the bit, the 0x4000xxxx leaves are not defined (real CPUs return the
        // highest basic leaf's data for them).
        return det;
    }
    let mut n = 0;
    let mut base = HYPERVISOR_BASE;
    while base < HYPERVISOR_SCAN_END && n < MAX_BLOCKS {
        let r = src.cpuid(base, 0);
        let block = LeafBlock { base, max_leaf: r.eax, signature: Signature::from_regs(r) };
        // Old KVM hosts report EAX = 0, meaning base + 1 (`Documentation/virt/kvm/x86/cpuid.rst`).
        let kvm_legacy = block.max_leaf == 0 && block.vendor() == Vendor::Kvm;
        let in_block = block.max_leaf >= base && block.max_leaf < base + HYPERVISOR_BLOCK;
        if block.signature.0 != [0; 12] && (in_block || kvm_legacy) {
            det.blocks[n] = Some(block);
            n += 1;
            match block.vendor() {
                Vendor::Xen if det.xen.is_none() && block.extra_leaves() >= 2 => {
                    det.xen = Some(read_xen(src, block));
                }
                Vendor::HyperV if base == HYPERVISOR_BASE => det.hyperv = read_hyperv(src, block),
                _ => {}
            }
        }
        base += HYPERVISOR_BLOCK;
    }
    det
}

fn read_hyperv(src: &impl CpuidSource, block: LeafBlock) -> Option<HyperVInfo> {
    if !(hv_leaf::MIN..=hv_leaf::MAX).contains(&block.max_leaf) {
        return None;
    }
    if src.cpuid(hv_leaf::INTERFACE, 0).eax != HV_INTERFACE_SIGNATURE {
        return None;
    }
    let opt = |leaf: u32| if block.max_leaf >= leaf { src.cpuid(leaf, 0) } else { CpuidResult::default() };
    Some(HyperVInfo {
        max_leaf: block.max_leaf,
        version: src.cpuid(hv_leaf::VERSION, 0),
        features: src.cpuid(hv_leaf::FEATURES, 0),
        recommendations: src.cpuid(hv_leaf::ENLIGHTENMENT_INFO, 0),
        limits: src.cpuid(hv_leaf::IMPLEMENT_LIMITS, 0),
        hardware: opt(hv_leaf::HARDWARE_FEATURES),
        nested: opt(hv_leaf::NESTED_FEATURES),
        isolation: opt(hv_leaf::ISOLATION_CONFIG),
    })
}

fn read_xen(src: &impl CpuidSource, block: LeafBlock) -> XenInfo {
    let b = block.base;
    let v = src.cpuid(b + 1, 0);
    let hc = src.cpuid(b + 2, 0);
    let time = if block.extra_leaves() >= 3 { src.cpuid(b + 3, 0) } else { CpuidResult::default() };
    let hvm = if block.extra_leaves() >= 4 { src.cpuid(b + 4, 0) } else { CpuidResult::default() };
    XenInfo {
        base: b,
        max_leaf: block.max_leaf,
        version: v.eax,
        hypercall_pages: hc.eax,
        hypercall_msr: hc.ebx,
        features: hc.ecx,
        hvm_features: hvm.eax,
        time,
        hvm,
    }
}
