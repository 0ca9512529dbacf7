//! Hypervisor detection over arbitrary CPUID contents (a hypervisor chooses every value).
#![no_main]
use hcall_abi::cpuid::{detect, CpuidResult, CpuidSource};
use libfuzzer_sys::fuzz_target;

/// CPUID answers drawn from the fuzz input: each query consumes the next 16 bytes (wrapping).
struct Fuzzed<'a>(&'a [u8]);

impl CpuidSource for Fuzzed<'_> {
    fn cpuid(&self, leaf: u32, subleaf: u32) -> CpuidResult {
        if self.0.is_empty() {
            return CpuidResult::default();
        }
        let at = |i: u32| {
            let k = (leaf.wrapping_mul(31).wrapping_add(subleaf).wrapping_add(i) as usize) % self.0.len();
            let b = |j: usize| self.0[(k + j) % self.0.len()];
            u32::from_le_bytes([b(0), b(1), b(2), b(3)])
        };
        CpuidResult { eax: at(0), ebx: at(4), ecx: at(8), edx: at(12) }
    }
}

fuzz_target!(|data: &[u8]| {
    let d = detect(&Fuzzed(data));
    for b in d.blocks.iter().flatten() {
        let _ = b.signature.to_str(&mut [0; 12]);
        let _ = b.extra_leaves();
    }
    if let Some(h) = d.hyperv {
        let _ = (h.privileges(), h.major(), h.minor(), h.build());
    }
});
