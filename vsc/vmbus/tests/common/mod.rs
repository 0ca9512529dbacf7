//! `RingMem` implementations over plain buffers, for the tests.
#![allow(dead_code)]

use std::cell::RefCell;
use std::sync::atomic::{fence, AtomicU32, Ordering};
use std::sync::Mutex;
use vmbus_proto::ring::{HeaderField, RingMem};

fn slot(f: HeaderField) -> usize {
    match f {
        HeaderField::WriteIndex => 0,
        HeaderField::ReadIndex => 1,
        HeaderField::InterruptMask => 2,
        HeaderField::PendingSendSz => 3,
        HeaderField::FeatureBits => 4,
    }
}

/// Header words shared by both test memories; counts accesses so tests can check that the
/// ring code stays inside the data area.
#[derive(Default)]
pub struct Header {
    words: [AtomicU32; 5],
}

impl Header {
    pub fn load(&self, f: HeaderField) -> u32 {
        self.words[slot(f)].load(Ordering::Acquire)
    }
    pub fn store(&self, f: HeaderField, v: u32) {
        self.words[slot(f)].store(v, Ordering::Release)
    }
}

/// A ring in ordinary memory for single-threaded tests (both ends in one thread).
pub struct TestRing {
    pub hdr: Header,
    pub data: RefCell<Vec<u8>>,
    /// Every data access as (offset, len, is_write), when logging is on.
    pub log: RefCell<Option<Vec<(u32, usize, bool)>>>,
    fence_word: AtomicU32,
}

impl TestRing {
    pub fn new(data_len: usize) -> TestRing {
        let r = TestRing { hdr: Header::default(), data: RefCell::new(vec![0; data_len]), log: RefCell::new(None), fence_word: AtomicU32::new(0) };
        vmbus_proto::ring::init_ring(&r);
        r
    }
    /// Sets a header field behind the ring code's back (a misbehaving other side).
    pub fn poke(&self, f: HeaderField, v: u32) {
        self.hdr.store(f, v)
    }
    pub fn peek(&self, f: HeaderField) -> u32 {
        self.hdr.load(f)
    }
    /// Overwrites data bytes at `off` (wrapping), as a misbehaving other side would.
    pub fn scribble(&self, off: usize, bytes: &[u8]) {
        let mut d = self.data.borrow_mut();
        let n = d.len();
        for (i, b) in bytes.iter().enumerate() {
            d[(off + i) % n] = *b;
        }
    }
    pub fn start_log(&self) {
        *self.log.borrow_mut() = Some(Vec::new());
    }
    pub fn take_log(&self) -> Vec<(u32, usize, bool)> {
        self.log.borrow_mut().take().unwrap_or_default()
    }
}

impl RingMem for TestRing {
    fn data_len(&self) -> u32 {
        self.data.borrow().len() as u32
    }
    fn read_data(&self, off: u32, buf: &mut [u8]) {
        if let Some(l) = self.log.borrow_mut().as_mut() {
            l.push((off, buf.len(), false));
        }
        let d = self.data.borrow();
        let off = off as usize;
        assert!(off + buf.len() <= d.len(), "read {}+{} beyond data {}", off, buf.len(), d.len());
        buf.copy_from_slice(&d[off..off + buf.len()]);
    }
    fn write_data(&self, off: u32, data: &[u8]) {
        if let Some(l) = self.log.borrow_mut().as_mut() {
            l.push((off, data.len(), true));
        }
        let mut d = self.data.borrow_mut();
        let off = off as usize;
        assert!(off + data.len() <= d.len(), "write {}+{} beyond data {}", off, data.len(), d.len());
        d[off..off + data.len()].copy_from_slice(data);
    }
    fn load(&self, f: HeaderField) -> u32 {
        self.hdr.load(f)
    }
    fn store(&self, f: HeaderField, v: u32) {
        self.hdr.store(f, v)
    }
    fn full_fence(&self) {
        // What the kernel's virt_mb() is on x86-64: a locked read-modify-write.
        self.fence_word.fetch_add(0, Ordering::SeqCst);
    }
}

/// A ring shared between threads.
pub struct SharedRing {
    pub hdr: Header,
    pub data: Mutex<Vec<u8>>,
}

impl SharedRing {
    pub fn new(data_len: usize) -> SharedRing {
        let r = SharedRing { hdr: Header::default(), data: Mutex::new(vec![0; data_len]) };
        vmbus_proto::ring::init_ring(&r);
        r
    }
}

impl RingMem for SharedRing {
    fn data_len(&self) -> u32 {
        self.data.lock().unwrap().len() as u32
    }
    fn read_data(&self, off: u32, buf: &mut [u8]) {
        let d = self.data.lock().unwrap();
        let off = off as usize;
        buf.copy_from_slice(&d[off..off + buf.len()]);
    }
    fn write_data(&self, off: u32, data: &[u8]) {
        let mut d = self.data.lock().unwrap();
        let off = off as usize;
        d[off..off + data.len()].copy_from_slice(data);
    }
    fn load(&self, f: HeaderField) -> u32 {
        self.hdr.load(f)
    }
    fn store(&self, f: HeaderField, v: u32) {
        self.hdr.store(f, v)
    }
    fn full_fence(&self) {
        fence(Ordering::SeqCst)
    }
}

/// A deterministic byte pattern for packet `seq` of `len` bytes.
pub fn pattern(seq: u64, len: usize) -> Vec<u8> {
    (0..len).map(|i| (seq.wrapping_mul(31).wrapping_add(i as u64 * 7) % 251) as u8).collect()
}

/// The leanest single-threaded ring memory (no logging or checks beyond slicing), standing
/// in for the kernel's pointer-and-memcpy implementation in the throughput test.
pub struct LeanRing {
    pub hdr: Header,
    pub data: RefCell<Vec<u8>>,
    fence_word: AtomicU32,
}

impl LeanRing {
    pub fn new(data_len: usize) -> LeanRing {
        let r = LeanRing { hdr: Header::default(), data: RefCell::new(vec![0; data_len]), fence_word: AtomicU32::new(0) };
        vmbus_proto::ring::init_ring(&r);
        r
    }
}

impl RingMem for LeanRing {
    fn data_len(&self) -> u32 {
        self.data.borrow().len() as u32
    }
    #[inline]
    fn read_data(&self, off: u32, buf: &mut [u8]) {
        let off = off as usize;
        buf.copy_from_slice(&self.data.borrow()[off..off + buf.len()]);
    }
    #[inline]
    fn write_data(&self, off: u32, data: &[u8]) {
        let off = off as usize;
        self.data.borrow_mut()[off..off + data.len()].copy_from_slice(data);
    }
    fn load(&self, f: HeaderField) -> u32 {
        self.hdr.load(f)
    }
    fn store(&self, f: HeaderField, v: u32) {
        self.hdr.store(f, v)
    }
    fn full_fence(&self) {
        // x86-64 virt_mb(): a locked read-modify-write.
        self.fence_word.fetch_add(0, Ordering::SeqCst);
    }
}
