// SPDX-License-Identifier: GPL-2.0-only
//! VMBus ring buffers (`struct hv_ring_buffer`, `drivers/hv/ring_buffer.c`).
//!
//! A channel has two rings in one GPADL: the guest-to-host ring from page 0, the host-to-guest
//! ring from page `downstream_ringbuffer_pageoffset`. Each ring is a 4 KiB header page
//! ([`RingHeader`]: indices, interrupt mask, `pending_send_sz`, feature bits) followed by the
//! data area. Indices are byte offsets into the data area; the writer owns `write_index`, the
//! reader `read_index`; `read == write` means empty, and the writer never fills the ring
//! completely (bytes free must stay above zero), so full and empty differ.
//!
//! The memory is reached through [`RingMem`], so the same code runs on the kernel's pages, on
//! the host's mapping of guest RAM and on plain buffers in tests. Everything read from the
//! ring is validated before use; an inconsistent ring gives a [`RingError`], never a panic or
//! an access outside the data area. Each side keeps its own index privately and only
//! publishes it, so the other side cannot move it (Linux re-reads its own index from the
//! shared page; this is stricter). Data moves as bulk copies of at most two segments (split
//! at the wrap point).
//!
//! Writer: [`RingWriter::write`] (one packet) or [`RingWriter::batch`] (several, one index
//! update, one signal decision), with Linux's rule for signalling (`hv_signal_on_write()`).
//! Reader: [`RingReader::batch`] to read several packets and commit once, with Linux's rule
//! for signalling a blocked writer (`hv_pkt_iter_close()`); [`RingReader::mask_interrupts`]
//! and [`RingReader::unmask_interrupts`] for polling (`hv_begin_read()`, `hv_end_read()`).

use crate::packet::{self, PacketDescriptor, PacketType, DESCRIPTOR_SIZE, TRAILER_SIZE};
use core::fmt;
use zerocopy_derive::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// Size of the ring header page; data starts here (`sizeof(struct hv_ring_buffer)`).
pub const RING_HEADER_SIZE: u32 = 4096;
/// `feature_bits.feat_pending_send_sz`: the ring's writer sets `pending_send_sz` when it waits
/// for space, and its reader signals when enough was freed.
pub const FEAT_PENDING_SEND_SZ: u32 = 1;
/// Smallest data area accepted (one descriptor, trailer and spare 8 bytes, rounded up).
pub const MIN_DATA_LEN: u32 = 32;
/// Largest data area accepted (keeps every index sum inside `u32`).
pub const MAX_DATA_LEN: u32 = 0x8000_0000;

/// `struct hv_ring_buffer` (the header page). `__packed` in C; every field is naturally
/// aligned, so `repr(C)` gives the same layout.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct RingHeader {
    /// `write_index`: byte offset of the next write in the data area.
    pub write_index: u32,
    /// `read_index`: byte offset of the next read.
    pub read_index: u32,
    /// `interrupt_mask`: set by the reader while it drains the ring (no signal wanted).
    pub interrupt_mask: u32,
    /// `pending_send_sz`: set by the writer to the bytes it waits for (0: not waiting).
    pub pending_send_sz: u32,
    /// `reserved1`.
    pub reserved1: [u32; 12],
    /// `feature_bits` ([`FEAT_PENDING_SEND_SZ`]).
    pub feature_bits: u32,
    /// `reserved2`: pads the header to 4096 bytes.
    pub reserved2: [u8; 4096 - 68],
}

/// A header field the ring code reads or writes through [`RingMem`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HeaderField {
    /// `write_index`.
    WriteIndex,
    /// `read_index`.
    ReadIndex,
    /// `interrupt_mask`.
    InterruptMask,
    /// `pending_send_sz`.
    PendingSendSz,
    /// `feature_bits`.
    FeatureBits,
}

impl HeaderField {
    /// Byte offset in the header page.
    pub const fn offset(self) -> usize {
        match self {
            HeaderField::WriteIndex => 0,
            HeaderField::ReadIndex => 4,
            HeaderField::InterruptMask => 8,
            HeaderField::PendingSendSz => 12,
            HeaderField::FeatureBits => 64,
        }
    }
}

/// Access to one ring's shared memory. Methods take `&self`: the memory is shared with the
/// other side, so implementations use interior mutability (atomics, volatile copies).
///
/// The ring code guarantees `off + len <= data_len()` for every data access (it splits at
/// the wrap point itself), so implementations never wrap and may treat an out-of-range
/// request as a bug.
pub trait RingMem {
    /// Size of the data area (ring size minus the 4 KiB header).
    fn data_len(&self) -> u32;
    /// Copies `buf.len()` bytes from data offset `off`.
    fn read_data(&self, off: u32, buf: &mut [u8]);
    /// Copies `data` to data offset `off`.
    fn write_data(&self, off: u32, data: &[u8]);
    /// Reads a header field with acquire ordering.
    fn load(&self, f: HeaderField) -> u32;
    /// Writes a header field with release ordering.
    fn store(&self, f: HeaderField, v: u32);
    /// A full memory barrier (`virt_mb()`).
    fn full_fence(&self);
}

impl<T: RingMem + ?Sized> RingMem for &T {
    fn data_len(&self) -> u32 {
        (**self).data_len()
    }
    fn read_data(&self, off: u32, buf: &mut [u8]) {
        (**self).read_data(off, buf)
    }
    fn write_data(&self, off: u32, data: &[u8]) {
        (**self).write_data(off, data)
    }
    fn load(&self, f: HeaderField) -> u32 {
        (**self).load(f)
    }
    fn store(&self, f: HeaderField, v: u32) {
        (**self).store(f, v)
    }
    fn full_fence(&self) {
        (**self).full_fence()
    }
}

/// Why a ring operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingError {
    /// The data area size is not a multiple of 8 or outside
    /// [`MIN_DATA_LEN`]..=[`MAX_DATA_LEN`] (or the ring size is not a page multiple).
    BadDataLen(u32),
    /// An index read from the ring is at or beyond the data size.
    IndexOutOfRange(u32),
    /// An index read from the ring is not 8-byte aligned.
    IndexMisaligned(u32),
    /// Fewer bytes than a descriptor and trailer between read and write index.
    Truncated,
    /// A descriptor's `len8` is below the 16-byte descriptor.
    DescriptorTooShort,
    /// A descriptor's `offset8` is below 16 bytes or beyond `len8`.
    BadDataOffset,
    /// A packet (with its trailer) extends past the write index.
    PacketBeyondWrite,
    /// The packet can never fit in this ring (or a descriptor cannot describe it).
    PacketTooLarge,
    /// The packet extension is not a multiple of 8 bytes.
    ExtNotAligned,
    /// Not enough free space now (try again after the reader signals).
    RingFull,
    /// The caller's buffer is too small.
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
    },
    /// A packet handle that does not belong to this ring.
    StalePacket,
    /// The write index moved back into the packets a batch already read (or lapped them):
    /// a writer can only move it forward, by less than the ring, from the published read
    /// index.
    WriteIndexMovedBack(u32),
}

impl RingError {
    /// Short text for log lines.
    pub const fn as_str(&self) -> &'static str {
        match self {
            RingError::BadDataLen(_) => "ring size invalid",
            RingError::IndexOutOfRange(_) => "ring index beyond the data area",
            RingError::IndexMisaligned(_) => "ring index not 8-byte aligned",
            RingError::Truncated => "ring holds a partial packet",
            RingError::DescriptorTooShort => "packet length below its descriptor",
            RingError::BadDataOffset => "packet data offset outside the packet",
            RingError::PacketBeyondWrite => "packet extends past the write index",
            RingError::PacketTooLarge => "packet larger than the ring can hold",
            RingError::ExtNotAligned => "packet header extension not 8-byte aligned",
            RingError::RingFull => "ring full",
            RingError::BufferTooSmall { .. } => "buffer too small for the packet",
            RingError::StalePacket => "packet handle not from this ring",
            RingError::WriteIndexMovedBack(_) => "write index moved back over packets being read",
        }
    }
}

impl fmt::Display for RingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Checks a data area size.
pub const fn check_data_len(len: u32) -> Result<u32, RingError> {
    if len < MIN_DATA_LEN || len > MAX_DATA_LEN || len % 8 != 0 {
        Err(RingError::BadDataLen(len))
    } else {
        Ok(len)
    }
}

/// The data area of a ring of `total` bytes (header page included), which must be a
/// multiple of 4096 and at least two pages.
pub const fn data_len_of_ring(total: u32) -> Result<u32, RingError> {
    if total % RING_HEADER_SIZE != 0 || total < 2 * RING_HEADER_SIZE {
        return Err(RingError::BadDataLen(total));
    }
    check_data_len(total - RING_HEADER_SIZE)
}

/// `VMBUS_RING_SIZE(payload_sz)`: the ring size Linux allocates for a wanted data size (the
/// header page is added unless the payload is at least 8 pages, then it is taken from it),
/// rounded up to a page.
pub const fn ring_size_for_payload(payload: u32) -> Option<u32> {
    let adj = if payload >= 8 * RING_HEADER_SIZE { 0 } else { RING_HEADER_SIZE };
    match payload.checked_add(adj) {
        Some(v) => match v.checked_add(RING_HEADER_SIZE - 1) {
            Some(v) => Some(v & !(RING_HEADER_SIZE - 1)),
            None => None,
        },
        None => None,
    }
}

/// The two rings of a channel's ring GPADL, in pages of that GPADL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingPages {
    /// First page of the guest-to-host ring (always 0).
    pub guest_to_host_start: u32,
    /// Its pages (header page included).
    pub guest_to_host_pages: u32,
    /// First page of the host-to-guest ring (`downstream_ringbuffer_pageoffset`).
    pub host_to_guest_start: u32,
    /// Its pages.
    pub host_to_guest_pages: u32,
}

/// Splits a ring GPADL of `total_pages` at `downstream_pageoffset` (from `OPEN_CHANNEL`);
/// each ring needs a header page and at least one data page.
pub const fn split_ring_gpadl(total_pages: u32, downstream_pageoffset: u32) -> Result<RingPages, RingError> {
    if downstream_pageoffset < 2 || downstream_pageoffset > total_pages || total_pages - downstream_pageoffset < 2 {
        return Err(RingError::BadDataLen(downstream_pageoffset));
    }
    Ok(RingPages {
        guest_to_host_start: 0,
        guest_to_host_pages: downstream_pageoffset,
        host_to_guest_start: downstream_pageoffset,
        host_to_guest_pages: total_pages - downstream_pageoffset,
    })
}

/// Initializes a ring header as `hv_ringbuffer_init()`: indices, mask and `pending_send_sz`
/// zero, `feature_bits` = [`FEAT_PENDING_SEND_SZ`]. The reserved parts of the page should be
/// zeroed by whoever allocates it.
pub fn init_ring<M: RingMem + ?Sized>(mem: &M) {
    mem.store(HeaderField::WriteIndex, 0);
    mem.store(HeaderField::ReadIndex, 0);
    mem.store(HeaderField::InterruptMask, 0);
    mem.store(HeaderField::PendingSendSz, 0);
    mem.store(HeaderField::FeatureBits, FEAT_PENDING_SEND_SZ);
    mem.full_fence();
}

const fn check_index(idx: u32, size: u32) -> Result<u32, RingError> {
    if idx >= size {
        Err(RingError::IndexOutOfRange(idx))
    } else if idx % 8 != 0 {
        Err(RingError::IndexMisaligned(idx))
    } else {
        Ok(idx)
    }
}

/// Bytes from `from` forward to `to` in a ring of `size` (both below `size`).
const fn distance(from: u32, to: u32, size: u32) -> u32 {
    if to >= from {
        to - from
    } else {
        // from < size, so size - from > 0 and the sum is below size.
        (size - from) + to
    }
}

/// `pos + n` wrapped into a ring of `size` (`pos < size`, `n <= size <= MAX_DATA_LEN`).
const fn advance(pos: u32, n: u32, size: u32) -> u32 {
    let r = pos as u64 + n as u64;
    if r >= size as u64 {
        (r - size as u64) as u32
    } else {
        r as u32
    }
}

/// Copies `data` into the ring at `off`, splitting at the wrap point; returns the offset
/// after it. `off < size` and `data.len() <= size` are the callers' invariants.
#[inline]
fn ring_write<M: RingMem>(mem: &M, size: u32, off: u32, data: &[u8]) -> u32 {
    let len = u32::try_from(data.len()).unwrap_or(u32::MAX).min(size);
    let first = len.min(size.saturating_sub(off));
    if let Some((a, b)) = data.split_at_checked(first as usize) {
        if !a.is_empty() {
            mem.write_data(off, a);
        }
        if !b.is_empty() {
            mem.write_data(0, b.get(..(len - first) as usize).unwrap_or(&[]));
        }
    }
    advance(off, len, size)
}

/// Copies `buf.len()` bytes out of the ring from `off`, splitting at the wrap point.
#[inline]
fn ring_read<M: RingMem>(mem: &M, size: u32, off: u32, buf: &mut [u8]) {
    let len = u32::try_from(buf.len()).unwrap_or(u32::MAX).min(size);
    let first = len.min(size.saturating_sub(off));
    if let Some((a, b)) = buf.split_at_mut_checked(first as usize) {
        if !a.is_empty() {
            mem.read_data(off, a);
        }
        if let Some(b) = b.get_mut(..(len - first) as usize) {
            if !b.is_empty() {
                mem.read_data(0, b);
            }
        }
    }
}

/// The descriptor's 16 wire bytes, built as one 128-bit value (a single store the following
/// copy can forward from, rather than five field stores).
fn encode_descriptor(d: &PacketDescriptor) -> [u8; 16] {
    let w0 = u64::from(d.packet_type) | u64::from(d.offset8) << 16 | u64::from(d.len8) << 32 | u64::from(d.flags) << 48;
    (u128::from(w0) | u128::from(d.trans_id) << 64).to_le_bytes()
}

/// Decodes the descriptor from its 16 wire bytes with two whole-word reads (field-by-field
/// unaligned reads of a just-copied buffer stall store forwarding).
fn decode_descriptor(raw: [u8; 16]) -> PacketDescriptor {
    let v = u128::from_le_bytes(raw);
    let w0 = v as u64;
    PacketDescriptor { packet_type: w0 as u16, offset8: (w0 >> 16) as u16, len8: (w0 >> 32) as u16, flags: (w0 >> 48) as u16, trans_id: (v >> 64) as u64 }
}

/// A packet to write: the crate builds the descriptor, then gathers the extension parts, the
/// payload parts, zero padding to 8 bytes and the trailer.
#[derive(Clone, Copy, Debug)]
pub struct OutgoingPacket<'a> {
    /// `type`.
    pub packet_type: PacketType,
    /// `flags` ([`packet::FLAG_COMPLETION_REQUESTED`]).
    pub flags: u16,
    /// `trans_id`.
    pub trans_id: u64,
    /// Bytes between the descriptor and the payload, counted in `offset8` (transfer-page or
    /// GPA-direct headers); their total must be a multiple of 8.
    pub ext: &'a [&'a [u8]],
    /// The payload, gathered from several slices.
    pub payload: &'a [&'a [u8]],
}

impl<'a> OutgoingPacket<'a> {
    /// `VM_PKT_DATA_INBAND` (`vmbus_sendpacket()`), with `flags`.
    pub const fn inband(trans_id: u64, flags: u16, payload: &'a [&'a [u8]]) -> OutgoingPacket<'a> {
        OutgoingPacket { packet_type: PacketType::DataInband, flags, trans_id, ext: &[], payload }
    }

    /// `VM_PKT_COMP` answering `trans_id`.
    pub const fn completion(trans_id: u64, payload: &'a [&'a [u8]]) -> OutgoingPacket<'a> {
        OutgoingPacket { packet_type: PacketType::Completion, flags: 0, trans_id, ext: &[], payload }
    }

    /// `VM_PKT_DATA_USING_GPA_DIRECT` with completion requested
    /// (`vmbus_sendpacket_mpb_desc()`): `ext` holds the GPA-direct header, ranges and PFNs.
    pub const fn gpa_direct(trans_id: u64, ext: &'a [&'a [u8]], payload: &'a [&'a [u8]]) -> OutgoingPacket<'a> {
        OutgoingPacket { packet_type: PacketType::DataUsingGpaDirect, flags: packet::FLAG_COMPLETION_REQUESTED, trans_id, ext, payload }
    }

    /// (extension bytes, payload bytes, packet length with padding).
    #[inline]
    pub fn lengths(&self) -> Result<(u32, u32, u32), RingError> {
        let sum = |parts: &[&[u8]]| -> Option<u32> {
            parts.iter().try_fold(0u32, |acc, p| acc.checked_add(u32::try_from(p.len()).ok()?))
        };
        let ext = sum(self.ext).ok_or(RingError::PacketTooLarge)?;
        if ext % 8 != 0 {
            return Err(RingError::ExtNotAligned);
        }
        let payload = sum(self.payload).ok_or(RingError::PacketTooLarge)?;
        let len = packet::packet_len(ext, payload).ok_or(RingError::PacketTooLarge)?;
        Ok((ext, payload, len))
    }

    /// Bytes the packet takes in a ring (packet and trailer).
    pub fn ring_len(&self) -> Result<u32, RingError> {
        let (_, _, len) = self.lengths()?;
        len.checked_add(TRAILER_SIZE).ok_or(RingError::PacketTooLarge)
    }
}

/// The sending side of one ring.
#[derive(Debug)]
pub struct RingWriter<M: RingMem> {
    mem: M,
    size: u32,
    write: u32,
}

impl<M: RingMem> RingWriter<M> {
    /// Takes over a ring: validates its size and its current `write_index` (0 on a fresh
    /// ring), which from now on is kept privately.
    pub fn new(mem: M) -> Result<RingWriter<M>, RingError> {
        let size = check_data_len(mem.data_len())?;
        let write = check_index(mem.load(HeaderField::WriteIndex), size)?;
        Ok(RingWriter { mem, size, write })
    }

    /// The memory.
    pub fn mem(&self) -> &M {
        &self.mem
    }

    /// Gives the memory back.
    pub fn into_inner(self) -> M {
        self.mem
    }

    /// The data area size.
    pub fn data_len(&self) -> u32 {
        self.size
    }

    /// The published write index.
    pub fn write_index(&self) -> u32 {
        self.write
    }

    fn read_index(&self) -> Result<u32, RingError> {
        check_index(self.mem.load(HeaderField::ReadIndex), self.size)
    }

    /// Free bytes now (`hv_get_bytes_to_write()`); a packet of ring length `n` fits when this
    /// is above `n`.
    pub fn bytes_free(&self) -> Result<u32, RingError> {
        let read = self.read_index()?;
        Ok(self.size - distance(read, self.write, self.size))
    }

    /// Would a packet taking `ring_len` bytes ([`OutgoingPacket::ring_len`]) fit now?
    pub fn can_write(&self, ring_len: u32) -> Result<bool, RingError> {
        Ok(self.bytes_free()? > ring_len)
    }

    /// The largest ring length a packet may ever have here (the ring is never filled
    /// completely).
    pub fn max_ring_len(&self) -> u32 {
        self.size - 8
    }

    /// Writes one packet and publishes it. Returns whether the reader must be signalled.
    pub fn write(&mut self, pkt: &OutgoingPacket<'_>) -> Result<bool, RingError> {
        let mut b = self.batch()?;
        b.push(pkt)?;
        Ok(b.commit())
    }

    /// Starts writing several packets that are published together.
    pub fn batch(&mut self) -> Result<WriteBatch<'_, M>, RingError> {
        let read = self.read_index()?;
        let start = self.write;
        Ok(WriteBatch { ring: self, start, cur: start, read, packets: 0 })
    }

    /// Sets `pending_send_sz` (0 clears it) and fences. A writer that found the ring full
    /// sets it to the ring length it needs, then re-checks [`can_write`](Self::can_write)
    /// (the reader may have freed space before seeing it), waits for the reader's signal
    /// otherwise, and clears it once it could write.
    pub fn set_pending_send_size(&self, bytes: u32) {
        self.mem.store(HeaderField::PendingSendSz, bytes);
        self.mem.full_fence();
    }

    /// The reader currently masks interrupts (it is draining the ring).
    pub fn reader_masked(&self) -> bool {
        self.mem.load(HeaderField::InterruptMask) != 0
    }
}

/// Packets written but not yet published; [`commit`](WriteBatch::commit) publishes them,
/// dropping the batch discards them.
#[derive(Debug)]
pub struct WriteBatch<'r, M: RingMem> {
    ring: &'r mut RingWriter<M>,
    start: u32,
    cur: u32,
    read: u32,
    packets: u32,
}

impl<M: RingMem> WriteBatch<'_, M> {
    /// Writes one packet after the previous ones; returns its offset in the data area.
    /// [`RingError::RingFull`] leaves the batch as it was.
    pub fn push(&mut self, pkt: &OutgoingPacket<'_>) -> Result<u32, RingError> {
        let size = self.ring.size;
        let (ext_len, payload_len, len) = pkt.lengths()?;
        let total = len.checked_add(TRAILER_SIZE).ok_or(RingError::PacketTooLarge)?;
        if total >= size {
            return Err(RingError::PacketTooLarge);
        }
        if size - distance(self.read, self.cur, size) <= total {
            // The reader may have moved on since the batch started.
            self.read = self.ring.read_index()?;
            if size - distance(self.read, self.cur, size) <= total {
                return Err(RingError::RingFull);
            }
        }
        let header_len = DESCRIPTOR_SIZE + ext_len;
        let desc = PacketDescriptor {
            packet_type: pkt.packet_type.raw(),
            offset8: u16::try_from(header_len / 8).map_err(|_| RingError::PacketTooLarge)?,
            len8: u16::try_from(len / 8).map_err(|_| RingError::PacketTooLarge)?,
            flags: pkt.flags,
            trans_id: pkt.trans_id,
        };
        let mem = &self.ring.mem;
        let start = self.cur;
        let mut off = ring_write(mem, size, start, &encode_descriptor(&desc));
        for part in pkt.ext.iter().chain(pkt.payload.iter()) {
            off = ring_write(mem, size, off, part);
        }
        // Zero padding (len - header_len - payload_len, below 8) and the trailer, in one copy.
        let pad = len.saturating_sub(header_len.saturating_add(payload_len)).min(7) as usize;
        let mut tail = [0u8; 15];
        if let Some(t) = tail.get_mut(pad..pad + 8) {
            t.copy_from_slice(&packet::trailer(start).to_le_bytes());
        }
        off = ring_write(mem, size, off, tail.get(..pad + 8).unwrap_or(&[]));
        self.cur = off;
        self.packets = self.packets.saturating_add(1);
        Ok(start)
    }

    /// Packets written so far.
    pub fn packets(&self) -> u32 {
        self.packets
    }

    /// Publishes the packets (one `write_index` update) and says whether the reader must be
    /// signalled: `hv_signal_on_write()`: only if the reader does not mask interrupts and the
    /// ring was empty before this batch (its `read_index` is where the batch started).
    pub fn commit(self) -> bool {
        if self.packets == 0 {
            return false;
        }
        let mem = &self.ring.mem;
        // The release store makes the packets visible before the index (Linux issues a full
        // virt_mb() here; release ordering is what it needs).
        mem.store(HeaderField::WriteIndex, self.cur);
        self.ring.write = self.cur;
        // Store-load ordering against the reader's unmask-then-check (hv_end_read()).
        mem.full_fence();
        if mem.load(HeaderField::InterruptMask) != 0 {
            return false;
        }
        mem.load(HeaderField::ReadIndex) == self.start
    }
}

/// A packet found by a [`ReadBatch`]: its validated descriptor and where it is. Copy its
/// bytes out with the batch's `copy_*` methods before committing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IncomingPacket {
    trans_id: u64,
    offset: u32,
    packet_type: u16,
    flags: u16,
    offset8: u16,
    len8: u16,
}

impl IncomingPacket {
    /// Offset of the descriptor in the data area.
    pub const fn offset(&self) -> u32 {
        self.offset
    }
    /// The descriptor as read (validated).
    pub const fn descriptor(&self) -> PacketDescriptor {
        PacketDescriptor { packet_type: self.packet_type, offset8: self.offset8, len8: self.len8, flags: self.flags, trans_id: self.trans_id }
    }
    /// The type number.
    pub const fn raw_type(&self) -> u16 {
        self.packet_type
    }
    /// The type, if known.
    pub fn packet_type(&self) -> Option<PacketType> {
        PacketType::from_raw(self.packet_type)
    }
    /// `flags`.
    pub const fn flags(&self) -> u16 {
        self.flags
    }
    /// The sender asks for a completion.
    pub const fn completion_requested(&self) -> bool {
        self.flags & packet::FLAG_COMPLETION_REQUESTED != 0
    }
    /// `trans_id`.
    pub const fn trans_id(&self) -> u64 {
        self.trans_id
    }
    /// Packet length (`len8 * 8`, `hv_pkt_len()`).
    pub const fn packet_len(&self) -> u32 {
        self.len8 as u32 * 8
    }
    /// Descriptor and extension (`offset8 * 8`).
    pub const fn header_len(&self) -> u32 {
        self.offset8 as u32 * 8
    }
    /// Extension bytes (transfer-page or GPA-direct header).
    pub const fn ext_len(&self) -> u32 {
        self.header_len().saturating_sub(DESCRIPTOR_SIZE)
    }
    /// Payload bytes, padding included (`hv_pkt_datalen()`).
    pub const fn payload_len(&self) -> u32 {
        self.packet_len().saturating_sub(self.header_len())
    }
}

/// The receiving side of one ring.
#[derive(Debug)]
pub struct RingReader<M: RingMem> {
    mem: M,
    size: u32,
    read: u32,
}

impl<M: RingMem> RingReader<M> {
    /// Takes over a ring: validates its size and its current `read_index` (0 on a fresh
    /// ring), which from now on is kept privately.
    pub fn new(mem: M) -> Result<RingReader<M>, RingError> {
        let size = check_data_len(mem.data_len())?;
        let read = check_index(mem.load(HeaderField::ReadIndex), size)?;
        Ok(RingReader { mem, size, read })
    }

    /// The memory.
    pub fn mem(&self) -> &M {
        &self.mem
    }

    /// Gives the memory back.
    pub fn into_inner(self) -> M {
        self.mem
    }

    /// The data area size.
    pub fn data_len(&self) -> u32 {
        self.size
    }

    /// The published read index.
    pub fn read_index(&self) -> u32 {
        self.read
    }

    fn write_index(&self) -> Result<u32, RingError> {
        check_index(self.mem.load(HeaderField::WriteIndex), self.size)
    }

    /// Bytes waiting (`hv_get_bytes_to_read()`).
    pub fn bytes_to_read(&self) -> Result<u32, RingError> {
        Ok(distance(self.read, self.write_index()?, self.size))
    }

    /// Anything to read?
    pub fn has_data(&self) -> Result<bool, RingError> {
        Ok(self.bytes_to_read()? != 0)
    }

    /// Asks the writer not to signal (`hv_begin_read()`): before draining or while polling.
    pub fn mask_interrupts(&self) {
        self.mem.store(HeaderField::InterruptMask, 1);
        self.mem.full_fence();
    }

    /// Asks for signals again (`hv_end_read()`) and re-checks the ring: `true` means data
    /// arrived meanwhile (possibly without a signal), so the caller must drain again.
    pub fn unmask_interrupts(&self) -> Result<bool, RingError> {
        self.mem.store(HeaderField::InterruptMask, 0);
        self.mem.full_fence();
        self.has_data()
    }

    /// Starts reading packets; nothing is released to the writer before
    /// [`ReadBatch::commit`].
    pub fn batch(&mut self) -> ReadBatch<'_, M> {
        let start = self.read;
        ReadBatch { ring: self, start, cur: start }
    }

    /// Reads one packet's payload into `buf` and releases it (`hv_ringbuffer_read()` without
    /// `raw`): `None` when empty, else the packet, the payload bytes copied and whether the
    /// writer must be signalled. A payload larger than `buf` is an error and stays in the
    /// ring.
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<Option<(IncomingPacket, usize, bool)>, RingError> {
        let mut b = self.batch();
        let p = match b.next_packet()? {
            Some(p) => p,
            None => return Ok(None),
        };
        // On error the batch is dropped uncommitted: the packet stays in the ring.
        let n = b.copy_payload(&p, buf)?;
        Ok(Some((p, n, b.commit())))
    }
}

/// A run of packets being read. Packets stay in the ring (and may be copied out) until
/// [`commit`](ReadBatch::commit) releases them; dropping the batch releases nothing.
#[derive(Debug)]
pub struct ReadBatch<'r, M: RingMem> {
    ring: &'r mut RingReader<M>,
    start: u32,
    cur: u32,
}

impl<M: RingMem> ReadBatch<'_, M> {
    /// The next packet, validated, without moving past it. `None` when the ring is empty.
    /// Move past it with [`consume`](Self::consume); [`next_packet`](Self::next_packet)
    /// would read and validate the descriptor again.
    #[inline]
    pub fn peek(&self) -> Result<Option<IncomingPacket>, RingError> {
        let size = self.ring.size;
        let write = self.ring.write_index()?;
        // Measured from the batch's start (the read index the writer sees), so a write
        // index that moved back over what this batch read, or lapped it, is caught rather
        // than taken for nearly a whole ring of new packets.
        let avail = distance(self.start, write, size)
            .checked_sub(distance(self.start, self.cur, size))
            .ok_or(RingError::WriteIndexMovedBack(write))?;
        if avail == 0 {
            return Ok(None);
        }
        if avail < DESCRIPTOR_SIZE + TRAILER_SIZE {
            return Err(RingError::Truncated);
        }
        let mut raw = [0u8; DESCRIPTOR_SIZE as usize];
        ring_read(&self.ring.mem, size, self.cur, &mut raw);
        let desc = decode_descriptor(raw);
        let len = u32::from(desc.len8) * 8;
        let header_len = u32::from(desc.offset8) * 8;
        if len < DESCRIPTOR_SIZE {
            return Err(RingError::DescriptorTooShort);
        }
        if header_len < DESCRIPTOR_SIZE || header_len > len {
            return Err(RingError::BadDataOffset);
        }
        // len <= 0x7fff8, so no overflow.
        if len + TRAILER_SIZE > avail {
            return Err(RingError::PacketBeyondWrite);
        }
        Ok(Some(IncomingPacket {
            trans_id: desc.trans_id,
            offset: self.cur,
            packet_type: desc.packet_type,
            flags: desc.flags,
            offset8: desc.offset8,
            len8: desc.len8,
        }))
    }

    /// The next packet, validated, moving past it.
    #[inline]
    pub fn next_packet(&mut self) -> Result<Option<IncomingPacket>, RingError> {
        let p = self.peek()?;
        if let Some(p) = &p {
            self.cur = advance(self.cur, p.packet_len() + TRAILER_SIZE, self.ring.size);
        }
        Ok(p)
    }

    /// Moves past `p`, the packet [`peek`](Self::peek) returned, without reading its
    /// descriptor again (so what was copied and what is skipped agree even if the other side
    /// rewrote the bytes meanwhile). A handle that is not the next packet is
    /// [`RingError::StalePacket`].
    pub fn consume(&mut self, p: &IncomingPacket) -> Result<(), RingError> {
        if p.offset != self.cur || p.packet_len().saturating_add(TRAILER_SIZE) >= self.ring.size {
            return Err(RingError::StalePacket);
        }
        self.cur = advance(self.cur, p.packet_len() + TRAILER_SIZE, self.ring.size);
        Ok(())
    }

    /// Copies bytes `from..to` of packet `p` (offsets from its descriptor) into `buf`.
    #[inline]
    fn copy(&self, p: &IncomingPacket, from: u32, to: u32, buf: &mut [u8]) -> Result<usize, RingError> {
        let size = self.ring.size;
        if p.offset >= size || p.offset % 8 != 0 || p.packet_len().saturating_add(TRAILER_SIZE) >= size || to > p.packet_len() || from > to {
            return Err(RingError::StalePacket);
        }
        let n = (to - from) as usize;
        let dst = buf.get_mut(..n).ok_or(RingError::BufferTooSmall { needed: n })?;
        ring_read(&self.ring.mem, size, advance(p.offset, from, size), dst);
        Ok(n)
    }

    /// Copies the payload (`offset8 * 8 .. len8 * 8`, padding included) into `buf`; returns
    /// its length.
    pub fn copy_payload(&self, p: &IncomingPacket, buf: &mut [u8]) -> Result<usize, RingError> {
        self.copy(p, p.header_len(), p.packet_len(), buf)
    }

    /// Copies the extension (between the descriptor and the payload) into `buf`.
    pub fn copy_ext(&self, p: &IncomingPacket, buf: &mut [u8]) -> Result<usize, RingError> {
        self.copy(p, DESCRIPTOR_SIZE, p.header_len(), buf)
    }

    /// Copies the whole packet, descriptor first, into `buf` (`raw` reads).
    pub fn copy_raw(&self, p: &IncomingPacket, buf: &mut [u8]) -> Result<usize, RingError> {
        self.copy(p, 0, p.packet_len(), buf)
    }

    /// Bytes consumed so far in this batch (packets and trailers).
    pub fn bytes_read(&self) -> u32 {
        distance(self.start, self.cur, self.ring.size)
    }

    /// Releases the packets read (one `read_index` update) and says whether the writer must
    /// be signalled, as `hv_pkt_iter_close()`: only when the ring has
    /// [`FEAT_PENDING_SEND_SZ`], the writer set `pending_send_sz`, it did not have that much
    /// free space before this commit and has more than that now.
    pub fn commit(self) -> bool {
        if self.cur == self.start {
            return false;
        }
        let size = self.ring.size;
        let mem = &self.ring.mem;
        // Release ordering: our reads of the packets complete before the writer may reuse
        // the space.
        mem.store(HeaderField::ReadIndex, self.cur);
        self.ring.read = self.cur;
        if mem.load(HeaderField::FeatureBits) & FEAT_PENDING_SEND_SZ == 0 {
            return false;
        }
        mem.full_fence();
        let pending = mem.load(HeaderField::PendingSendSz);
        if pending == 0 {
            return false;
        }
        let write = match check_index(mem.load(HeaderField::WriteIndex), size) {
            Ok(w) => w,
            Err(_) => return false,
        };
        let free_now = size - distance(self.cur, write, size);
        let bytes_read = distance(self.start, self.cur, size);
        // Free space before this commit; if the writer added more than we freed meanwhile it
        // was not blocked (Linux's unsigned wrap gives the same answer).
        match free_now.checked_sub(bytes_read) {
            Some(before) if before <= pending => free_now > pending,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_arithmetic() {
        assert_eq!(distance(0, 0, 64), 0);
        assert_eq!(distance(8, 56, 64), 48);
        assert_eq!(distance(56, 8, 64), 16);
        assert_eq!(advance(56, 8, 64), 0);
        assert_eq!(advance(56, 16, 64), 8);
        assert_eq!(advance(0, 64, 64), 0);
        assert_eq!(advance(MAX_DATA_LEN - 8, MAX_DATA_LEN, MAX_DATA_LEN), MAX_DATA_LEN - 8);
        assert_eq!(check_index(64, 64), Err(RingError::IndexOutOfRange(64)));
        assert_eq!(check_index(12, 64), Err(RingError::IndexMisaligned(12)));
        assert_eq!(check_data_len(MAX_DATA_LEN + 8), Err(RingError::BadDataLen(MAX_DATA_LEN + 8)));
    }

    #[test]
    fn descriptor_codec() {
        let d = PacketDescriptor { packet_type: 0x0b, offset8: 2, len8: 0x1234, flags: 1, trans_id: 0x0102_0304_0506_0708 };
        let raw = encode_descriptor(&d);
        assert_eq!(raw, [0x0b, 0, 2, 0, 0x34, 0x12, 1, 0, 8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(decode_descriptor(raw), d);
    }
}
