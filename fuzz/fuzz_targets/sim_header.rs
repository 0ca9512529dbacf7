//! The simulator transport's BAR header and slot polling, from either side's view.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sim_proto::{poll, BarHeader, RamLayout};
use zerocopy::FromBytes;

fuzz_target!(|data: &[u8]| {
    if let Ok((h, rest)) = BarHeader::read_from_prefix(data) {
        let _ = h.check_host();
        if let Ok((gpa, len)) = h.check_guest() {
            let l = RamLayout::q35(h.ram_size);
            let _ = l.offset(gpa, len);
        }
        if rest.len() >= 12 {
            let w = u64::from_le_bytes(rest[0..8].try_into().unwrap());
            let s = u32::from_le_bytes(rest[8..12].try_into().unwrap());
            let _ = poll(w, s);
        }
    }
});
