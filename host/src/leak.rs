//! Info-leak check (`--leak-check`): every byte the guest hands the host (VMBus messages, ring
//! packets, and what device models read from guest buffers, e.g. RNDIS messages in send
//! sections) is scanned for the poison patterns uninitialised guest memory carries in the leak
//! test: the slab allocator's free poison 0x6b (`slub_debug=P`) and the same byte written into
//! freed pages by the test beforehand (with `init_on_alloc=0`, pages handed out later still hold
//! it). A run of [`RUN`] such bytes in what the guest sent means it sent memory it never wrote.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

/// The poison byte (the kernel's POISON_FREE).
pub const POISON: u8 = 0x6b;
/// Shortest run of poison bytes that counts as a leak (random data has such a run with
/// probability about n * 2^-128).
pub const RUN: usize = 16;

static ENABLED: AtomicBool = AtomicBool::new(false);
static CHECKED: AtomicU64 = AtomicU64::new(0);
static CHECKED_BYTES: AtomicU64 = AtomicU64::new(0);
static HITS: AtomicU64 = AtomicU64::new(0);
static FIRST: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Turns checking on (`--leak-check`).
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// Whether checking is on (callers skip building a description otherwise).
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Offset of the first run of [`RUN`] poison bytes in `bytes`.
pub fn find_run(bytes: &[u8]) -> Option<usize> {
    let mut start = 0;
    let mut len = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b == POISON {
            if len == 0 {
                start = i;
            }
            len += 1;
            if len == RUN {
                return Some(start);
            }
        } else {
            len = 0;
        }
    }
    None
}

/// Checks `bytes` the guest sent (`what` names them in the report).
pub fn scan(what: &str, bytes: &[u8]) {
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    CHECKED.fetch_add(1, Ordering::Relaxed);
    CHECKED_BYTES.fetch_add(bytes.len() as u64, Ordering::Relaxed);
    if let Some(off) = find_run(bytes) {
        HITS.fetch_add(1, Ordering::Relaxed);
        let mut first = FIRST.lock().unwrap_or_else(|e| e.into_inner());
        if first.len() < 8 {
            let end = (off + 32).min(bytes.len());
            let hex: String = bytes[off.saturating_sub(8)..end].iter().map(|b| format!("{b:02x}")).collect();
            let line = format!("{what}: poison at offset {off} of {} bytes ({hex})", bytes.len());
            eprintln!("pvg-host: LEAK {line}");
            first.push(line);
        }
    }
}

/// The `leaks` control command's answer.
pub fn report() -> String {
    let first = FIRST.lock().unwrap_or_else(|e| e.into_inner());
    format!(
        "enabled={} checked={} checked_bytes={} leaks={}{}{}",
        ENABLED.load(Ordering::Relaxed),
        CHECKED.load(Ordering::Relaxed),
        CHECKED_BYTES.load(Ordering::Relaxed),
        HITS.load(Ordering::Relaxed),
        if first.is_empty() { "" } else { "; first: " },
        first.join(" | ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_runs_of_poison_only() {
        assert_eq!(find_run(&[0x6b; 15]), None);
        assert_eq!(find_run(&[0x6b; 16]), Some(0));
        let mut v = vec![0u8; 40];
        v[20..36].fill(0x6b);
        assert_eq!(find_run(&v), Some(20));
        v[27] = 0;
        assert_eq!(find_run(&v), None);
        assert_eq!(find_run(&[]), None);
    }
}
