//! Traffic capture (`--capture DIR`): what the host sends the guest, written to files by kind
//! so the fuzz targets can be seeded from real traffic (`scripts/fuzz --seed DIR` turns a
//! capture into corpora; see fuzz/examples/seeds.rs).
//!
//! - `DIR/vmbus-message/<hash>`: each distinct VMBus channel message (the SynIC payload).
//! - `DIR/packet-<kind>/<hash>`: each distinct ring packet as it lands in the host-to-guest
//!   ring (descriptor, extension, payload, zero padding; no trailer), by device kind (the
//!   device name without its number: `echo`, `storage`, `net`).
//! - `DIR/ring-<device>-<relid>.bin`: the first [`RING_STREAM_MAX`] bytes of each channel's
//!   host-to-guest packets in order, trailers included, as a ring that never wrapped holds
//!   them.
//!
//! At most [`MAX_FILES`] files per kind. Files are written as the packets are sent; the hooks
//! cost one atomic load when capture is off.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use anyhow::{Context, Result};
use vmbus_proto::ring::OutgoingPacket;

/// Most distinct files kept per kind.
pub const MAX_FILES: usize = 2000;
/// Bytes of each channel's packet stream kept.
pub const RING_STREAM_MAX: usize = 64 * 1024;

static ENABLED: AtomicBool = AtomicBool::new(false);
static STATE: Mutex<Option<Capture>> = Mutex::new(None);

struct Capture {
    dir: PathBuf,
    /// Device name of each offered channel.
    names: HashMap<u32, String>,
    /// Content hashes written, per kind.
    seen: HashMap<String, HashSet<u64>>,
    /// Bytes of each channel's stream written so far.
    streamed: HashMap<u32, usize>,
}

/// Turns capture on, into `dir` (created if missing).
pub fn enable(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("capture directory {}", dir.display()))?;
    let c = Capture { dir: dir.to_path_buf(), names: HashMap::new(), seen: HashMap::new(), streamed: HashMap::new() };
    *STATE.lock().unwrap_or_else(|e| e.into_inner()) = Some(c);
    ENABLED.store(true, Ordering::Release);
    Ok(())
}

fn with(f: impl FnOnce(&mut Capture) -> std::io::Result<()>) {
    if !ENABLED.load(Ordering::Acquire) {
        return;
    }
    let mut st = STATE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(c) = st.as_mut() {
        if let Err(e) = f(c) {
            eprintln!("pvg-host: capture: {e}; capture stopped");
            ENABLED.store(false, Ordering::Release);
        }
    }
}

impl Capture {
    /// Writes `bytes` as `DIR/<kind>/<hash>` unless already there or the kind is full.
    fn keep(&mut self, kind: &str, bytes: &[u8]) -> std::io::Result<()> {
        let mut h = std::hash::DefaultHasher::new();
        bytes.hash(&mut h);
        let hash = h.finish();
        let seen = self.seen.entry(kind.to_string()).or_default();
        if seen.len() >= MAX_FILES || !seen.insert(hash) {
            return Ok(());
        }
        let dir = self.dir.join(kind);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(format!("{hash:016x}")), bytes)
    }
}

/// A channel was offered for device `name`.
pub fn channel_offered(relid: u32, name: &str) {
    with(|c| {
        c.names.insert(relid, name.to_string());
        Ok(())
    });
}

/// A VMBus channel message the host posts to the guest.
pub fn message(payload: &[u8]) {
    with(|c| c.keep("vmbus-message", payload));
}

/// The bytes `pkt` occupies in a ring (without the trailer), as the ring code writes them.
pub fn packet_bytes(pkt: &OutgoingPacket<'_>) -> Option<Vec<u8>> {
    let (ext, _, len) = pkt.lengths().ok()?;
    let mut b = Vec::with_capacity(len as usize);
    b.extend_from_slice(&pkt.packet_type.raw().to_le_bytes());
    b.extend_from_slice(&u16::try_from((16 + ext) / 8).ok()?.to_le_bytes());
    b.extend_from_slice(&u16::try_from(len / 8).ok()?.to_le_bytes());
    b.extend_from_slice(&pkt.flags.to_le_bytes());
    b.extend_from_slice(&pkt.trans_id.to_le_bytes());
    for part in pkt.ext.iter().chain(pkt.payload.iter()) {
        b.extend_from_slice(part);
    }
    b.resize(len as usize, 0);
    Some(b)
}

/// A packet the host wrote into channel `relid`'s host-to-guest ring.
pub fn packet(relid: u32, pkt: &OutgoingPacket<'_>) {
    with(|c| {
        let Some(bytes) = packet_bytes(pkt) else { return Ok(()) };
        let name = c.names.get(&relid).cloned().unwrap_or_else(|| format!("relid{relid}"));
        let kind = name.trim_end_matches(|ch: char| ch.is_ascii_digit());
        c.keep(&format!("packet-{kind}"), &bytes)?;
        let done = c.streamed.entry(relid).or_insert(0);
        if *done + bytes.len() + 8 > RING_STREAM_MAX {
            return Ok(());
        }
        let trailer = (*done as u64) << 32;
        *done += bytes.len() + 8;
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(c.dir.join(format!("ring-{name}-{relid}.bin")))?;
        f.write_all(&bytes)?;
        f.write_all(&trailer.to_le_bytes())
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use vmbus_proto::packet::PacketType;

    #[test]
    fn packet_bytes_match_the_ring_layout() {
        let ext = [7u8; 8];
        let pkt = OutgoingPacket { packet_type: PacketType::DataUsingXferPages, flags: 1, trans_id: 0x1122, ext: &[&ext], payload: &[b"abc", b"de"] };
        let b = packet_bytes(&pkt).unwrap();
        // 16 + 8 + 5 = 29 -> 32 bytes.
        assert_eq!(b.len(), 32);
        assert_eq!(&b[..8], &[7, 0, 3, 0, 4, 0, 1, 0]);
        assert_eq!(&b[8..16], &0x1122u64.to_le_bytes());
        assert_eq!(&b[16..24], &ext);
        assert_eq!(&b[24..32], b"abcde\0\0\0");
    }
}
