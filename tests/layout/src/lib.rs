//! Layout facts read from the kernel's C definitions, for the crates' tests.
//!
//! `scripts/layout` compiles `tests/layout/NAME.c` against the target kernel and writes
//! `tests/layout/NAME.facts`: one `SYMBOL VALUE` per line. A test loads a file and checks
//! its Rust definitions against it:
//!
//! ```ignore
//! let f = kfacts::Facts::load("vmbus");
//! f.size::<ChannelOffer>("vmbus_channel_offer_channel_size");
//! f.offset(core::mem::offset_of!(ChannelOffer, child_relid), "vmbus_channel_offer_channel_child_relid");
//! f.value(u64::from(VERSION_WIN10), "VERSION_WIN10");
//! ```
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The facts of one `.facts` file.
pub struct Facts {
    name: String,
    map: BTreeMap<String, i128>,
}

impl Facts {
    /// Loads `tests/layout/NAME.facts`. Panics (failing the test) if it is missing.
    pub fn load(name: &str) -> Facts {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("{name}.facts"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}; run scripts/layout {name}", path.display()));
        let mut map = BTreeMap::new();
        for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
            let (k, v) = line.split_once(' ').unwrap_or_else(|| panic!("bad line in {name}.facts: {line}"));
            let v: i128 = v.trim().parse().unwrap_or_else(|_| panic!("bad value in {name}.facts: {line}"));
            map.insert(k.to_string(), v);
        }
        Facts { name: name.to_string(), map }
    }

    /// The value of `sym`; panics naming the file and symbol when it is missing.
    pub fn get(&self, sym: &str) -> i128 {
        *self.map.get(sym).unwrap_or_else(|| {
            panic!("{sym} is not in tests/layout/{}.facts: add it to tests/layout/{}.c and run scripts/layout {}", self.name, self.name, self.name)
        })
    }

    /// Asserts `size_of::<T>()` equals the C `sym`.
    pub fn size<T>(&self, sym: &str) {
        assert_eq!(core::mem::size_of::<T>() as i128, self.get(sym), "size of {} vs C {sym}", core::any::type_name::<T>());
    }

    /// Asserts a Rust offset equals the C `sym`.
    pub fn offset(&self, rust: usize, sym: &str) {
        assert_eq!(rust as i128, self.get(sym), "offset vs C {sym}");
    }

    /// Asserts a constant equals the C `sym`. The assembler prints 64-bit constants as
    /// signed, so a C value read as negative is compared modulo 2^64.
    pub fn value(&self, rust: impl Into<i128>, sym: &str) {
        let mut c = self.get(sym);
        let r = rust.into();
        if c < 0 && r >= 0 {
            c += 1i128 << 64;
        }
        assert_eq!(r, c, "constant vs C {sym}");
    }

    /// Every symbol in the file (to check nothing was forgotten).
    pub fn symbols(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }
}
