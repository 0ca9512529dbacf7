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
    /// Lowest acceptable highest leaf (Linux: HYPERV_CPUID_MIN).
    pub const MIN: u32 = 0x4000_0005;
    /// Highest acceptable highest leaf (Linux: HYPERV_CPUID_MAX).
    pub const MAX: u32 = 0x4000_ffff;
}

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
}

impl HyperVInfo {
    /// The 64-bit partition privilege mask (HV_PARTITION_PRIVILEGE_MASK).
    pub fn privileges(&self) -> u64 {
        u64::from(self.features.eax) | (u64::from(self.features.ebx) << 32)
    }
    /// Hypervisor major version (0x40000002.EBX[31:16]).
    pub fn major(&self) -> u16 {
        (self.version.ebx >> 16) as u16
    }
    /// Hypervisor minor version (0x40000002.EBX[15:0]).
    pub fn minor(&self) -> u16 {
        self.version.ebx as u16
    }
    /// Build number (0x40000002.EAX).
    pub fn build(&self) -> u32 {
        self.version.eax
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
        if block.signature.0 != [0; 12] && block.max_leaf >= base && block.max_leaf < base + HYPERVISOR_BLOCK {
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
    Some(HyperVInfo {
        max_leaf: block.max_leaf,
        version: src.cpuid(hv_leaf::VERSION, 0),
        features: src.cpuid(hv_leaf::FEATURES, 0),
        recommendations: src.cpuid(hv_leaf::ENLIGHTENMENT_INFO, 0),
        limits: src.cpuid(hv_leaf::IMPLEMENT_LIMITS, 0),
    })
}

fn read_xen(src: &impl CpuidSource, block: LeafBlock) -> XenInfo {
    let b = block.base;
    let v = src.cpuid(b + 1, 0);
    let hc = src.cpuid(b + 2, 0);
    let hvm = if block.extra_leaves() >= 4 { src.cpuid(b + 4, 0).eax } else { 0 };
    XenInfo {
        base: b,
        max_leaf: block.max_leaf,
        version: v.eax,
        hypercall_pages: hc.eax,
        hypercall_msr: hc.ebx,
        features: hc.ecx,
        hvm_features: hvm,
    }
}
