//! VMBus ring buffers (`vmbus_proto::ring`) over an in-memory `RingMem`, two ways:
//!
//! - **hostile ring** (mode byte even; format `pvguest_fuzz::ring::HostileRing`): arbitrary
//!   ring contents, sizes, read and write indices, feature bits and `pending_send_sz`; the
//!   host may move the write index between loads, rewrite the read index, and rewrite the
//!   data while the guest reads. The guest reads it the way it really does: a fresh
//!   `RingReader` per call as `drivers/vmbus/ring.rs` (`recv`, mask/unmask) builds one, peek,
//!   copy, consume, commit; also the crate's `recv` and batches. Properties: no panic; every
//!   access inside the data area; only the reader's own header fields written; a published
//!   read index always 8-aligned, inside the ring and never past the write index; every
//!   error one of the corrupt-ring kinds; every packet handed out self-consistent; copies and
//!   consumes of a peeked packet never fail; a drain ends within `size / 24 + 1` packets;
//!   and, while the host keeps still, the packets and the error found equal those of an
//!   independent reference walk of the ring bytes.
//! - **model check** (mode byte odd): a writer and a reader on one ring, interleaved as the
//!   input says (single and batched writes, reads, batches dropped uncommitted, masking, a
//!   writer waiting for space); what is read equals what was written, in order, with zero
//!   padding and the right trailer, `RingFull` exactly when the free space is too small, and
//!   both signalling rules (`hv_signal_on_write()`, `hv_pkt_iter_close()`) as a model
//!   computes them.
#![no_main]
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use pvguest_fuzz::ring::{op, HostileRing};
use pvguest_fuzz::Input;
use vmbus_proto::packet::{PacketType, DESCRIPTOR_SIZE, TRAILER_SIZE};
use vmbus_proto::ring::{self, HeaderField, IncomingPacket, OutgoingPacket, RingError, RingMem, RingReader, RingWriter, FEAT_PENDING_SEND_SZ};

fn slot(f: HeaderField) -> usize {
    match f {
        HeaderField::WriteIndex => 0,
        HeaderField::ReadIndex => 1,
        HeaderField::InterruptMask => 2,
        HeaderField::PendingSendSz => 3,
        HeaderField::FeatureBits => 4,
    }
}

/// A ring in plain memory. In hostile mode the write index is whatever the host says at each
/// load (a list cycled through), data reads may come back rewritten, and the guest side may
/// write only its own fields.
struct Ring {
    data: RefCell<Vec<u8>>,
    hdr: [Cell<u32>; 5],
    hostile: bool,
    write_indices: Vec<u32>,
    loads: Cell<usize>,
    /// XOR pattern applied to data reads from the `rewrite_after`-th read on.
    rewrite: u8,
    rewrite_after: usize,
    reads: Cell<usize>,
}

impl Ring {
    fn new(data: Vec<u8>) -> Ring {
        Ring {
            data: RefCell::new(data),
            hdr: Default::default(),
            hostile: false,
            write_indices: Vec::new(),
            loads: Cell::new(0),
            rewrite: 0,
            rewrite_after: usize::MAX,
            reads: Cell::new(0),
        }
    }
    fn get(&self, f: HeaderField) -> u32 {
        self.hdr[slot(f)].get()
    }
    fn set(&self, f: HeaderField, v: u32) {
        self.hdr[slot(f)].set(v)
    }
    /// The raw bytes at `off` (wrapping), as the other side would read them.
    fn peek(&self, off: u32, n: usize) -> Vec<u8> {
        let d = self.data.borrow();
        (0..n).map(|i| d[(off as usize + i) % d.len()]).collect()
    }
}

impl RingMem for Ring {
    fn data_len(&self) -> u32 {
        self.data.borrow().len() as u32
    }
    fn read_data(&self, off: u32, buf: &mut [u8]) {
        let d = self.data.borrow();
        let end = off as usize + buf.len();
        assert!(end <= d.len(), "read {off}+{} beyond the data area", buf.len());
        buf.copy_from_slice(&d[off as usize..end]);
        let n = self.reads.get();
        self.reads.set(n + 1);
        if n >= self.rewrite_after {
            buf.iter_mut().for_each(|b| *b ^= self.rewrite);
        }
    }
    fn write_data(&self, off: u32, data: &[u8]) {
        assert!(!self.hostile, "the reader wrote ring data");
        let mut d = self.data.borrow_mut();
        let end = off as usize + data.len();
        assert!(end <= d.len(), "write {off}+{} beyond the data area", data.len());
        d[off as usize..end].copy_from_slice(data);
    }
    fn load(&self, f: HeaderField) -> u32 {
        if self.hostile && f == HeaderField::WriteIndex && !self.write_indices.is_empty() {
            let n = self.loads.get();
            self.loads.set(n + 1);
            return self.write_indices[n % self.write_indices.len()];
        }
        self.get(f)
    }
    fn store(&self, f: HeaderField, v: u32) {
        if self.hostile {
            assert!(matches!(f, HeaderField::ReadIndex | HeaderField::InterruptMask), "the reader wrote {f:?}");
            if f == HeaderField::ReadIndex {
                assert!(v < self.data_len() && v % 8 == 0, "published read index {v}");
            }
        }
        self.set(f, v)
    }
    fn full_fence(&self) {}
}

/// Checks what the reader says about a packet.
fn check_packet(p: &IncomingPacket, size: u32) {
    assert!(p.packet_len() >= DESCRIPTOR_SIZE && p.packet_len() + TRAILER_SIZE < size);
    assert!(p.header_len() >= DESCRIPTOR_SIZE && p.header_len() <= p.packet_len());
    assert_eq!(p.header_len() + p.payload_len(), p.packet_len());
    assert_eq!(p.ext_len() + DESCRIPTOR_SIZE, p.header_len());
    assert!(p.offset() < size && p.offset() % 8 == 0);
}

/// The errors a corrupt ring may give (anything else is a bug in the reader or its caller).
fn check_corrupt(e: RingError) {
    assert!(
        matches!(
            e,
            RingError::IndexOutOfRange(_)
                | RingError::IndexMisaligned(_)
                | RingError::Truncated
                | RingError::DescriptorTooShort
                | RingError::BadDataOffset
                | RingError::PacketBeyondWrite
                | RingError::WriteIndexMovedBack(_)
        ),
        "unexpected ring error {e:?}"
    );
}

/// Bytes from `from` forward to `to` in a ring of `size` (both below `size`).
fn distance(from: u32, to: u32, size: u32) -> u32 {
    assert!(from < size && to < size);
    ((u64::from(to) + u64::from(size) - u64::from(from)) % u64::from(size)) as u32
}

/// An independent walk over the ring bytes from `read` to `write`: the packets as
/// (offset, 16 descriptor bytes) and how the walk ended.
fn reference_walk(r: &Ring, size: u32, read: u32, write: u32) -> (Vec<(u32, [u8; 16])>, Result<(), RingError>) {
    let mut out = Vec::new();
    if write >= size {
        return (out, Err(RingError::IndexOutOfRange(write)));
    }
    if write % 8 != 0 {
        return (out, Err(RingError::IndexMisaligned(write)));
    }
    let mut cur = read;
    loop {
        let avail = distance(cur, write, size);
        if avail == 0 {
            return (out, Ok(()));
        }
        if avail < 24 {
            return (out, Err(RingError::Truncated));
        }
        let d: [u8; 16] = r.peek(cur, 16).try_into().unwrap();
        let len = u32::from(u16::from_le_bytes([d[4], d[5]])) * 8;
        let hl = u32::from(u16::from_le_bytes([d[2], d[3]])) * 8;
        if len < 16 {
            return (out, Err(RingError::DescriptorTooShort));
        }
        if hl < 16 || hl > len {
            return (out, Err(RingError::BadDataOffset));
        }
        if len + 8 > avail {
            return (out, Err(RingError::PacketBeyondWrite));
        }
        out.push((cur, d));
        cur = (cur + len + 8) % size;
    }
}

/// Why a driver-style receive gave nothing.
#[derive(Debug)]
enum RecvFail {
    Ring(RingError),
    /// `EMSGSIZE`: the packet stays in the ring.
    TooBig,
}

/// `pvg_vmbus_recv` (drivers/vmbus/ring.rs `recv()`): a fresh reader over the shared
/// indices, peek, size check, copy, consume, commit.
fn driver_recv(r: &Ring, size: u32, buf: &mut [u8]) -> std::result::Result<Option<IncomingPacket>, RecvFail> {
    let mut rd = RingReader::new(r).map_err(RecvFail::Ring)?;
    let mut b = rd.batch();
    let Some(p) = b.peek().map_err(RecvFail::Ring)? else { return Ok(None) };
    check_packet(&p, size);
    if p.packet_len() as usize > buf.len() {
        return Err(RecvFail::TooBig);
    }
    let n = b.copy_raw(&p, buf).expect("copy of a peeked packet");
    assert_eq!(n, p.packet_len() as usize);
    b.consume(&p).expect("consume of a peeked packet");
    assert_eq!(b.consume(&p), Err(RingError::StalePacket));
    assert_eq!(b.bytes_read(), p.packet_len() + TRAILER_SIZE);
    let _ = b.commit();
    Ok(Some(p))
}

/// What the guest may take as read: from `base` (the read index as the host left it) up to
/// the write index, when the host keeps still.
struct Bounds {
    still: bool,
    base: u32,
    write: u32,
}

impl Bounds {
    fn check(&self, r: &Ring, size: u32) {
        if self.base >= size || self.base % 8 != 0 {
            // The guest refuses the ring and never publishes anything.
            assert_eq!(r.get(HeaderField::ReadIndex), self.base);
            return;
        }
        let now = r.get(HeaderField::ReadIndex);
        assert!(now < size && now % 8 == 0, "read index {now}");
        if self.still && self.write < size {
            assert!(
                distance(self.base, now, size) <= distance(self.base, self.write, size),
                "read index {now} went past the write index {} (from {})",
                self.write,
                self.base
            );
        }
    }
}

fn hostile(mut i: Input<'_>) {
    let h = HostileRing::decode(&mut i);
    let size = u32::from(h.data_len);
    let mut data = h.data[..h.data.len().min(size as usize)].to_vec();
    data.resize(size as usize, 0);
    let mut r = Ring::new(data);
    r.set(HeaderField::ReadIndex, h.read);
    r.set(HeaderField::WriteIndex, h.writes[0]);
    r.set(HeaderField::FeatureBits, h.features);
    r.set(HeaderField::PendingSendSz, h.pending);
    r.hostile = true;
    r.write_indices = h.writes.clone();
    r.rewrite = h.rewrite;
    r.rewrite_after = if h.rewrite_after == 255 || h.rewrite == 0 { usize::MAX } else { usize::from(h.rewrite_after) };

    match ring::check_data_len(size) {
        Ok(_) => {}
        Err(e) => {
            assert_eq!(RingReader::new(&r).err(), Some(e));
            return;
        }
    }
    // The host keeps still: one write index, no rewriting; then the reference walk applies.
    let fixed_write = h.writes.len() == 1;
    let no_rewrite = r.rewrite_after == usize::MAX;
    let mut bounds = Bounds { still: fixed_write, base: h.read, write: h.writes[0] };
    let max_packets = (size / 24 + 1) as usize;
    // No packet is larger than the ring.
    let mut buf = vec![0u8; size as usize];

    for &o in h.ops {
        let arg = usize::from(o >> 3);
        match o & 7 {
            op::DRIVER_RECV => {
                let cap = (arg * 256).min(buf.len());
                match driver_recv(&r, size, &mut buf[..cap]) {
                    Ok(_) | Err(RecvFail::TooBig) => {}
                    Err(RecvFail::Ring(e)) => check_corrupt(e),
                }
            }
            op::CRATE_RECV => match RingReader::new(&r) {
                Ok(mut rd) => match rd.recv(&mut buf[..(arg * 64).min(size as usize)]) {
                    Ok(Some((p, n, _))) => {
                        check_packet(&p, size);
                        assert_eq!(n, p.payload_len() as usize);
                    }
                    Ok(None) => {}
                    Err(RingError::BufferTooSmall { needed }) => assert!(needed > (arg * 64).min(size as usize)),
                    Err(e) => check_corrupt(e),
                },
                Err(e) => check_corrupt(e),
            },
            op::BATCH_COMMIT | op::BATCH_DROP => match RingReader::new(&r) {
                Ok(mut rd) => {
                    let before = r.get(HeaderField::ReadIndex);
                    let mut b = rd.batch();
                    let mut got = 0;
                    for _ in 0..arg % 8 + 1 {
                        match b.next_packet() {
                            Ok(Some(p)) => {
                                check_packet(&p, size);
                                assert_eq!(b.copy_payload(&p, &mut buf), Ok(p.payload_len() as usize));
                                assert_eq!(b.copy_ext(&p, &mut buf), Ok(p.ext_len() as usize));
                                got += p.packet_len() + TRAILER_SIZE;
                            }
                            Ok(None) => break,
                            Err(e) => {
                                check_corrupt(e);
                                break;
                            }
                        }
                    }
                    assert_eq!(b.bytes_read(), got);
                    if o & 7 == op::BATCH_COMMIT {
                        let _ = b.commit();
                    } else {
                        drop(b);
                        assert_eq!(r.get(HeaderField::ReadIndex), before, "a dropped batch released packets");
                    }
                }
                Err(e) => check_corrupt(e),
            },
            op::MASK_UNMASK => match RingReader::new(&r) {
                Ok(rd) => {
                    rd.mask_interrupts();
                    assert_eq!(r.get(HeaderField::InterruptMask), 1);
                    match rd.unmask_interrupts() {
                        Ok(more) => {
                            if fixed_write {
                                let read = r.get(HeaderField::ReadIndex);
                                assert_eq!(more, read != h.writes[0]);
                            }
                        }
                        Err(e) => check_corrupt(e),
                    }
                    assert_eq!(r.get(HeaderField::InterruptMask), 0);
                }
                Err(e) => check_corrupt(e),
            },
            op::HOST_SETS_READ => {
                let v = h.writes[arg % h.writes.len()];
                r.set(HeaderField::ReadIndex, v);
                bounds.base = v;
                if v >= size || v % 8 != 0 {
                    // The guest must refuse the ring from now on (until the host fixes it).
                    assert!(RingReader::new(&r).is_err());
                    return;
                }
            }
            op::DRAIN => {
                // A VSC callback: receive until empty, with the driver's flood budget.
                let budget = if fixed_write { max_packets + 1 } else { 4 * max_packets };
                let mut n = 0;
                loop {
                    match driver_recv(&r, size, &mut buf) {
                        Ok(Some(_)) => n += 1,
                        Ok(None) | Err(RecvFail::TooBig) => break,
                        Err(RecvFail::Ring(e)) => {
                            check_corrupt(e);
                            break;
                        }
                    }
                    if n >= budget {
                        assert!(!fixed_write, "the reader yielded {n} packets from a ring of {size} bytes");
                        break;
                    }
                }
            }
            _ => {
                // WALK: read everything without committing.
                let read = r.get(HeaderField::ReadIndex);
                let mut rd = match RingReader::new(&r) {
                    Ok(rd) => rd,
                    Err(e) => {
                        check_corrupt(e);
                        continue;
                    }
                };
                let mut b = rd.batch();
                let mut seen = Vec::new();
                let end = loop {
                    match b.next_packet() {
                        Ok(Some(p)) => {
                            check_packet(&p, size);
                            seen.push(p);
                            assert!(seen.len() <= max_packets, "the reader loops: {} packets in {size} bytes", seen.len());
                        }
                        Ok(None) => break Ok(()),
                        Err(e) => {
                            check_corrupt(e);
                            break Err(e);
                        }
                    }
                };
                drop(b);
                if fixed_write && no_rewrite {
                    let (want, want_end) = reference_walk(&r, size, read, h.writes[0]);
                    let got: Vec<(u32, [u8; 16])> = seen
                        .iter()
                        .map(|p| {
                            let d = p.descriptor();
                            let (t, o8, l8, f, id) = (d.packet_type, d.offset8, d.len8, d.flags, d.trans_id);
                            let mut raw = [0u8; 16];
                            raw[0..2].copy_from_slice(&t.to_le_bytes());
                            raw[2..4].copy_from_slice(&o8.to_le_bytes());
                            raw[4..6].copy_from_slice(&l8.to_le_bytes());
                            raw[6..8].copy_from_slice(&f.to_le_bytes());
                            raw[8..16].copy_from_slice(&id.to_le_bytes());
                            (p.offset(), raw)
                        })
                        .collect();
                    assert_eq!(got, want, "packets differ from the reference walk");
                    assert_eq!(end, want_end, "the walk ended differently from the reference");
                }
            }
        }
        bounds.check(&r, size);
    }
}

/// A packet the model wrote.
#[derive(Clone, Debug)]
struct Written {
    packet_type: PacketType,
    flags: u16,
    trans_id: u64,
    ext: Vec<u8>,
    payload: Vec<u8>,
    ring_len: u32,
}

fn packet(u: &mut Unstructured<'_>) -> Result<Written> {
    let packet_type = *u.choose(&[PacketType::DataInband, PacketType::Completion, PacketType::DataUsingXferPages, PacketType::DataUsingGpaDirect])?;
    let ext_len = 8 * u.int_in_range(0..=3usize)?;
    let payload_len = if u.ratio(1u8, 32)? { u.int_in_range(0..=70000usize)? } else { u.int_in_range(0..=300usize)? };
    let seed: u8 = u.arbitrary()?;
    let ext = (0..ext_len).map(|i| seed.wrapping_mul(3).wrapping_add(i as u8)).collect();
    let payload = (0..payload_len).map(|i| seed.wrapping_add((i * 7) as u8)).collect();
    Ok(Written { packet_type, flags: u.arbitrary()?, trans_id: u.arbitrary()?, ext, payload, ring_len: 0 })
}

fn align8(n: usize) -> usize {
    (n + 7) & !7
}

struct Model {
    size: u32,
    /// Published, unread packets in order.
    queue: VecDeque<Written>,
    /// Bytes between the published read index and the write index.
    used: u32,
    masked: bool,
    pending: u32,
}

impl Model {
    fn free(&self) -> u32 {
        self.size - self.used
    }
}

fn check_read(r: &Ring, p: &ring::IncomingPacket, w: &Written, payload: &[u8], size: u32) {
    assert_eq!(p.raw_type(), w.packet_type.raw());
    assert_eq!(p.flags(), w.flags);
    assert_eq!(p.trans_id(), w.trans_id);
    assert_eq!(p.ext_len() as usize, w.ext.len());
    assert_eq!(p.payload_len() as usize, align8(DESCRIPTOR_SIZE as usize + w.ext.len() + w.payload.len()) - DESCRIPTOR_SIZE as usize - w.ext.len());
    assert_eq!(&payload[..w.payload.len()], &w.payload[..]);
    assert!(payload[w.payload.len()..].iter().all(|&b| b == 0), "padding not zero");
    assert_eq!(p.packet_len() + TRAILER_SIZE, w.ring_len);
    let trailer = r.peek((p.offset() + p.packet_len()) % size, 8);
    assert_eq!(u64::from_le_bytes(trailer.try_into().unwrap()), u64::from(p.offset()) << 32);
}

fn model(u: &mut Unstructured<'_>) -> Result<()> {
    let size = 8 * u.int_in_range(4..=512u32)?;
    let r = Ring::new(vec![0u8; size as usize]);
    ring::init_ring(&r);
    let mut writer = RingWriter::new(&r).expect("fresh ring");
    let mut reader = RingReader::new(&r).expect("fresh ring");
    let mut m = Model { size, queue: VecDeque::new(), used: 0, masked: false, pending: 0 };
    let mut buf = vec![0u8; 80 * 1024];
    for _ in 0..256 {
        if u.is_empty() {
            break;
        }
        match u.int_in_range(0..=6u8)? {
            // One or several packets, published together (or the batch dropped).
            0 | 1 => {
                let n = u.int_in_range(1..=4usize)?;
                let keep = u.ratio(7u8, 8)?;
                let mut ws = Vec::new();
                for _ in 0..n {
                    ws.push(packet(u)?);
                }
                let cut = u.int_in_range(0..=64usize)?;
                let before = writer.write_index();
                let empty_before = r.get(HeaderField::ReadIndex) == before;
                let mut batch = writer.batch().expect("indices are ours");
                let mut room = m.free();
                let mut written = Vec::new();
                for mut w in ws {
                    let ext: [&[u8]; 1] = [&w.ext];
                    let (a, rest) = w.payload.split_at(cut.min(w.payload.len()));
                    let (b, c) = rest.split_at(rest.len() / 2);
                    let parts: [&[u8]; 3] = [a, b, c];
                    let pkt = OutgoingPacket { packet_type: w.packet_type, flags: w.flags, trans_id: w.trans_id, ext: &ext, payload: &parts };
                    let need = pkt.ring_len();
                    match batch.push(&pkt) {
                        Ok(off) => {
                            let need = need.expect("written packet has a length");
                            assert!(room > need, "wrote {need} bytes with {room} free");
                            assert!(off < size && off % 8 == 0);
                            room -= need;
                            w.ring_len = need;
                            written.push(w);
                        }
                        Err(RingError::RingFull) => assert!(room <= need.unwrap(), "RingFull with {room} free for {need:?}"),
                        Err(RingError::PacketTooLarge) => assert!(need.map_or(true, |n| n >= size)),
                        Err(e) => panic!("push: {e:?}"),
                    }
                }
                if keep {
                    let signal = batch.commit();
                    if !written.is_empty() {
                        assert_eq!(signal, !m.masked && empty_before, "hv_signal_on_write");
                        for w in written {
                            m.used += w.ring_len;
                            m.queue.push_back(w);
                        }
                    } else {
                        assert!(!signal);
                    }
                } else {
                    drop(batch);
                    assert_eq!(writer.write_index(), before);
                }
            }
            // One packet through RingReader::recv.
            2 => {
                let cap = if u.arbitrary()? { buf.len() } else { u.int_in_range(0..=512usize)? };
                let free_before = m.free();
                match reader.recv(&mut buf[..cap]) {
                    Ok(None) => assert!(m.queue.is_empty()),
                    Ok(Some((p, n, signal))) => {
                        let w = m.queue.pop_front().expect("read a packet nobody wrote");
                        check_read(&r, &p, &w, &buf[..n], size);
                        m.used -= w.ring_len;
                        let expect = m.pending != 0 && free_before <= m.pending && m.free() > m.pending;
                        assert_eq!(signal, expect, "hv_pkt_iter_close");
                    }
                    Err(RingError::BufferTooSmall { needed }) => {
                        assert!(needed > cap);
                        assert!(!m.queue.is_empty());
                    }
                    Err(e) => panic!("recv: {e:?}"),
                }
            }
            // A batch of reads, committed or dropped.
            3 => {
                let n = u.int_in_range(1..=8usize)?;
                let commit = u.ratio(3u8, 4)?;
                let free_before = m.free();
                let mut b = reader.batch();
                let mut got = 0;
                for i in 0..n {
                    match b.next_packet().expect("a consistent ring") {
                        None => {
                            assert_eq!(i, m.queue.len(), "ring empty with packets unread");
                            break;
                        }
                        Some(p) => {
                            let w = m.queue.get(i).expect("read a packet nobody wrote").clone();
                            let k = b.copy_payload(&p, &mut buf).expect("payload fits");
                            check_read(&r, &p, &w, &buf[..k], size);
                            let mut ext = [0u8; 32];
                            let e = b.copy_ext(&p, &mut ext).expect("ext fits");
                            assert_eq!(&ext[..e], &w.ext[..]);
                            got += 1;
                        }
                    }
                }
                if commit {
                    let signal = b.commit();
                    for _ in 0..got {
                        let w = m.queue.pop_front().unwrap();
                        m.used -= w.ring_len;
                    }
                    let expect = got > 0 && m.pending != 0 && free_before <= m.pending && m.free() > m.pending;
                    assert_eq!(signal, expect, "hv_pkt_iter_close");
                } else {
                    drop(b);
                }
            }
            4 => {
                reader.mask_interrupts();
                m.masked = true;
                assert!(writer.reader_masked());
            }
            5 => {
                let more = reader.unmask_interrupts().expect("consistent ring");
                m.masked = false;
                assert_eq!(more, !m.queue.is_empty());
            }
            // The writer waits for space (or stops waiting).
            _ => {
                let p = if u.arbitrary()? { 0 } else { u.int_in_range(0..=size)? };
                writer.set_pending_send_size(p);
                m.pending = p;
            }
        }
        assert_eq!(reader.bytes_to_read().unwrap(), m.used);
        assert_eq!(writer.bytes_free().unwrap(), m.free());
        assert_eq!(r.get(HeaderField::FeatureBits), FEAT_PENDING_SEND_SZ);
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let mut i = Input::new(data);
    if i.u8() & 1 == 0 {
        hostile(i);
    } else {
        let _ = model(&mut Unstructured::new(i.rest()));
    }
});
