//! Ring buffer throughput against plain copies of the same bytes (`scripts/bench vmbus` runs
//! it; `cargo bench -p vmbus-proto --bench ring`). Prints "RESULT <key> <value> <unit>" lines.
//!
//! For each packet size (64 B, 1 KiB, 4 KiB) and batch size (1: every packet pays the writer's
//! and the reader's fences and signalling decision; 8: a burst written as one batch and
//! drained in one read batch), packets go through a ring (`RingWriter` then `RingReader`,
//! payload copied out into a buffer) and, in the same run, the same bytes are copied into the
//! same circular memory at the ring's offsets and out again with `copy_from_slice`. memcpy
//! speed depends on how source and destination alias modulo 4 KiB, so both are timed with
//! the same buffers at several placements, best of five runs each; totals are compared.
#[path = "../tests/common/mod.rs"]
mod common;

use common::{pattern, LeanRing};
use std::time::{Duration, Instant};
use vmbus_proto::ring::{OutgoingPacket, RingReader, RingWriter};

const AREA: usize = 256 * 1024;
/// Bytes moved per measurement (per placement, per run).
const BYTES: usize = 192 * 1024 * 1024;

/// `len` bytes of `v` starting `off` bytes past a 4 KiB boundary.
fn window(v: &mut [u8], off: usize, len: usize) -> &mut [u8] {
    let skip = (4096 - v.as_ptr() as usize % 4096) % 4096 + off;
    &mut v[skip..skip + len]
}

/// Copies `src` into the circular `area` at `off` (split at the end), as the ring does.
fn copy_in(area: &mut [u8], off: usize, src: &[u8]) {
    let first = src.len().min(area.len() - off);
    area[off..off + first].copy_from_slice(&src[..first]);
    area[..src.len() - first].copy_from_slice(&src[first..]);
}

/// Copies out of the circular `area` at `off` into `dst`.
fn copy_out(area: &[u8], off: usize, dst: &mut [u8]) {
    let first = dst.len().min(area.len() - off);
    let n = dst.len();
    dst[..first].copy_from_slice(&area[off..off + first]);
    dst[first..].copy_from_slice(&area[..n - first]);
}

/// (ring time, memcpy time) summed over the placements.
fn measure(pkt: usize, batch: usize) -> (Duration, Duration) {
    let n = (BYTES / pkt / batch) * batch;
    // A packet takes its 16-byte descriptor, the payload padded to 8, and the 8-byte trailer.
    let slot = 16 + pkt.div_ceil(8) * 8 + 8;
    let mut pay_store = vec![0u8; 3 * 4096];
    let payload = window(&mut pay_store, 512, pkt);
    payload.copy_from_slice(&pattern(3, pkt));
    let payload: &[u8] = payload;
    let (mut ring_total, mut copy_total) = (Duration::ZERO, Duration::ZERO);
    for buf_off in [0usize, 64, 1024, 2112, 3072] {
        let mut buf_store = vec![0u8; 3 * 4096];
        let buf = window(&mut buf_store, buf_off, pkt);
        let mem = LeanRing::new(AREA);
        let mut w = RingWriter::new(&mem).expect("a fresh ring");
        let mut r = RingReader::new(&mem).expect("a fresh ring");
        let (mut ring_time, mut copy_time) = (Duration::MAX, Duration::MAX);
        for _ in 0..5 {
            let t = Instant::now();
            for i in (0..n).step_by(batch) {
                let mut wb = w.batch().expect("ring intact");
                for j in 0..batch {
                    wb.push(&OutgoingPacket::inband((i + j) as u64, 0, &[payload])).expect("room for the batch");
                }
                wb.commit();
                let mut rb = r.batch();
                while let Some(p) = rb.peek().expect("ring intact") {
                    let got = rb.copy_payload(&p, buf).expect("buffer fits");
                    assert!(got >= pkt);
                    rb.consume(&p).expect("the packet just peeked");
                }
                rb.commit();
            }
            ring_time = ring_time.min(t.elapsed());

            // The same memory the ring uses, so both see the same alignment.
            let mut area = mem.data.borrow_mut();
            let t = Instant::now();
            let mut off = 0;
            for _ in (0..n).step_by(batch) {
                let start = off;
                for _ in 0..batch {
                    copy_in(&mut area, (off + 16) % AREA, std::hint::black_box(payload));
                    off = (off + slot) % AREA;
                }
                off = start;
                for _ in 0..batch {
                    copy_out(&area, (off + 16) % AREA, buf);
                    std::hint::black_box(&buf);
                    off = (off + slot) % AREA;
                }
            }
            copy_time = copy_time.min(t.elapsed());
            drop(area);
        }
        ring_total += ring_time;
        copy_total += copy_time;
    }
    (ring_total, copy_total)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is accepted.
    for pkt in [64usize, 1024, 4096] {
        for batch in [1usize, 8] {
            let (ring, copy) = measure(pkt, batch);
            let n = (BYTES / pkt / batch) * batch * 5;
            let gbps = |d: Duration| (n * pkt) as f64 / d.as_secs_f64() / 1e6;
            println!("RESULT ring_{pkt}_b{batch} {:.0} MB/s", gbps(ring));
            println!("RESULT memcpy_{pkt}_b{batch} {:.0} MB/s", gbps(copy));
            println!("RESULT ring_{pkt}_b{batch}_ns_per_packet {:.1} ns", ring.as_secs_f64() * 1e9 / n as f64);
        }
    }
}
