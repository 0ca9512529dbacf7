//! Detection against CPUID values read on real systems.
use hcall_abi::cpuid::*;

/// A CPUID table: (leaf, eax, ebx, ecx, edx); missing leaves read as zero.
struct Table(&'static [(u32, u32, u32, u32, u32)]);

impl CpuidSource for Table {
    fn cpuid(&self, leaf: u32, _subleaf: u32) -> CpuidResult {
        self.0
            .iter()
            .find(|e| e.0 == leaf)
            .map(|e| CpuidResult { eax: e.1, ebx: e.2, ecx: e.3, edx: e.4 })
            .unwrap_or_default()
    }
}

/// QEMU 10.0 TCG, `-cpu Skylake-Server`, read in our guest with the adapter module.
const TCG_SKYLAKE: Table = Table(&[
    (0x0, 0xd, 0x756e6547, 0x6c65746e, 0x49656e69),
    (0x1, 0x50654, 0x800, 0xfffa3203, 0x0f8bfbff),
    (0x4000_0000, 0x4000_0001, 0x54474354, 0x43544743, 0x47435447),
]);

#[test]
fn tcg_is_found_and_offers_neither_hyperv_nor_xen() {
    let d = detect(&TCG_SKYLAKE);
    assert_eq!(d.cpu, CpuVendor::Intel);
    assert!(d.hypervisor_bit);
    let p = d.primary().expect("primary block");
    assert_eq!(p.vendor(), Vendor::Tcg);
    assert_eq!(p.max_leaf, 0x4000_0001);
    assert_eq!(format!("{}", p.signature), "TCGTCGTCGTCG");
    assert!(d.hyperv.is_none());
    assert!(d.xen.is_none());
}

#[test]
fn bare_metal_has_no_blocks() {
    let t = Table(&[(0x0, 0xd, 0x68747541, 0x444d4163, 0x69746e65), (0x1, 0x800f12, 0, 0x7ed8320b, 0)]);
    let d = detect(&t);
    assert_eq!(d.cpu, CpuVendor::Amd);
    assert!(!d.hypervisor_bit);
    assert!(d.primary().is_none());
}
