// SPDX-License-Identifier: GPL-2.0-only
//! Ring buffers on kernel memory: the `vmbus_proto::ring` reader and writer over a channel's
//! shared buffer, and the send/receive paths of the VSC API.
//!
//! The ring code (index arithmetic, validation of everything the host wrote, wrap-around,
//! the signalling rules) is the crate's; here is only the memory access ([`KRing`]) and the
//! locking: one writer at a time per channel (`send_lock`, interrupts off), one reader at a
//! time (`recv_lock`).

use core::sync::atomic::{fence, AtomicU32, Ordering};

use kernel::prelude::*;
use vmbus_proto::gpadl::pfn_count;
use vmbus_proto::packet::{GpaDirectHeader, PacketType};
use vmbus_proto::ring::{self, HeaderField, OutgoingPacket, RingError, RingMem, RingReader, RingWriter, RING_HEADER_SIZE};
use zerocopy::IntoBytes;

use crate::api::{GpaRange, RecvInfo};
use crate::channel::{Channel, Rings};
use crate::mem::SharedBuffer;
use crate::shim::IrqsOff;

/// One ring (header page + data area) inside a channel's shared buffer.
///
/// # Invariants
///
/// `base` points to the 4 KiB header page of a ring whose `data_len` bytes of data follow it,
/// all inside a live [`SharedBuffer`] that outlives this value.
pub(crate) struct KRing {
    base: *mut u8,
    data_len: u32,
}

impl KRing {
    fn at(buf: &SharedBuffer, offset: usize, bytes: usize) -> KRing {
        debug_assert!(offset + bytes <= buf.len() && bytes > RING_HEADER_SIZE as usize);
        // INVARIANT: callers pass the ring regions laid out by `open` (inside the buffer).
        KRing {
            // SAFETY: `offset` is inside the buffer (see above).
            base: unsafe { buf.as_ptr().add(offset) },
            data_len: (bytes - RING_HEADER_SIZE as usize) as u32,
        }
    }

    /// The guest-to-host ring.
    fn outbound(r: &Rings) -> KRing {
        KRing::at(&r.buf, 0, r.send_bytes)
    }

    /// The host-to-guest ring.
    fn inbound(r: &Rings) -> KRing {
        KRing::at(&r.buf, r.send_bytes, r.recv_bytes)
    }

    fn field(&self, f: HeaderField) -> &AtomicU32 {
        // SAFETY: header fields are 4-byte aligned words inside the header page (type
        // invariant); the host accesses them concurrently, hence atomics.
        unsafe { AtomicU32::from_ptr(self.base.add(f.offset()).cast()) }
    }
}

impl RingMem for KRing {
    fn data_len(&self) -> u32 {
        self.data_len
    }

    fn read_data(&self, off: u32, buf: &mut [u8]) {
        // SAFETY: the crate guarantees `off + buf.len() <= data_len` (see `RingMem`), so the
        // range is inside the data area; the bytes are copied, never referenced, and validated
        // by the crate afterwards.
        unsafe { core::ptr::copy_nonoverlapping(self.base.add(RING_HEADER_SIZE as usize + off as usize), buf.as_mut_ptr(), buf.len()) };
    }

    fn write_data(&self, off: u32, data: &[u8]) {
        // SAFETY: as in `read_data`; the host does not read this range until the write index
        // is published with release ordering.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), self.base.add(RING_HEADER_SIZE as usize + off as usize), data.len()) };
    }

    fn load(&self, f: HeaderField) -> u32 {
        self.field(f).load(Ordering::Acquire)
    }

    fn store(&self, f: HeaderField, v: u32) {
        self.field(f).store(v, Ordering::Release);
    }

    fn full_fence(&self) {
        fence(Ordering::SeqCst);
    }
}

/// Initialises both ring headers of a fresh buffer (`hv_ringbuffer_init`).
pub(crate) fn init_headers(buf: &SharedBuffer, send_bytes: usize, recv_bytes: usize) {
    ring::init_ring(&KRing::at(buf, 0, send_bytes));
    ring::init_ring(&KRing::at(buf, send_bytes, recv_bytes));
}

/// The sysfs view: [out read, out write, out mask, in read, in write, in mask].
pub(crate) fn indices(c: &Channel) -> Option<[u32; 6]> {
    c.with_rings(|r| {
        let (o, i) = (KRing::outbound(r), KRing::inbound(r));
        Ok([
            o.load(HeaderField::ReadIndex),
            o.load(HeaderField::WriteIndex),
            o.load(HeaderField::InterruptMask),
            i.load(HeaderField::ReadIndex),
            i.load(HeaderField::WriteIndex),
            i.load(HeaderField::InterruptMask),
        ])
    })
    .ok()
}

/// Maps a ring error. A corrupt ring (the host wrote nonsense) marks the channel unusable
/// until it is reopened, and is logged once per channel.
fn ring_err(c: &Channel, e: RingError) -> Error {
    match e {
        RingError::PacketTooLarge | RingError::ExtNotAligned => EINVAL,
        other => {
            if !c.corrupt.swap(true, Ordering::AcqRel) {
                pr_err!("channel {}: ring buffer corrupt ({}); the channel is unusable\n", c.relid, other.as_str());
            }
            EIO
        }
    }
}

fn write_packet(c: &Channel, pkt: &OutgoingPacket<'_>) -> Result {
    let signal = c.with_rings(|r| {
        let out = KRing::outbound(r);
        let _irqs = IrqsOff::new();
        let _g = c.send_lock.lock();
        let mut w = RingWriter::new(&out).map_err(|e| ring_err(c, e))?;
        let need = pkt.ring_len().map_err(|e| ring_err(c, e))?;
        if need > w.max_ring_len() {
            return Err(EMSGSIZE);
        }
        if !w.can_write(need).map_err(|e| ring_err(c, e))? {
            // Full: the VSC retries later (the host signals when it made room, because we
            // say how much we need).
            w.set_pending_send_size(need);
            if !w.can_write(need).map_err(|e| ring_err(c, e))? {
                return Err(EAGAIN);
            }
            w.set_pending_send_size(0);
        }
        w.write(pkt).map_err(|e| ring_err(c, e))
    })?;
    if signal {
        c.signal_host();
    }
    Ok(())
}

/// `pvg_vmbus_send`: an in-band packet or a completion.
pub(crate) fn send(c: &Channel, ty: u16, flags: u16, trans_id: u64, data: &[u8]) -> Result {
    let packet_type = match PacketType::from_raw(ty) {
        Some(t @ (PacketType::DataInband | PacketType::Completion)) => t,
        _ => return Err(EINVAL),
    };
    let parts = [data];
    let pkt = OutgoingPacket { packet_type, flags, trans_id, ext: &[], payload: &parts };
    write_packet(c, &pkt)
}

/// Most ranges in one GPA-direct packet (`MAX_MULTIPAGE_BUFFER_COUNT`).
const MAX_RANGES: usize = vmbus_proto::packet::MAX_MULTIPAGE_BUFFER_COUNT;

/// `pvg_vmbus_send_gpa`: a GPA-direct packet (completion requested) whose extension lists
/// the ranges: `GpaDirectHeader`, then per range its byte count, offset and PFNs.
pub(crate) fn send_gpa(c: &Channel, flags: u16, trans_id: u64, ranges: &[GpaRange], data: &[u8]) -> Result {
    if ranges.is_empty() || ranges.len() > MAX_RANGES {
        return Err(EINVAL);
    }
    let header = GpaDirectHeader { reserved: 0, range_cnt: ranges.len() as u32 };
    let mut heads = [[0u8; 8]; MAX_RANGES];
    let mut parts: [&[u8]; 1 + 2 * MAX_RANGES] = [&[]; 1 + 2 * MAX_RANGES];
    parts[0] = header.as_bytes();
    for (i, r) in ranges.iter().enumerate() {
        if r.len == 0 || r.offset >= 4096 || r.pfns.is_null() || r.npfns != pfn_count(r.offset, r.len) {
            return Err(EINVAL);
        }
        heads[i][..4].copy_from_slice(&r.len.to_le_bytes());
        heads[i][4..].copy_from_slice(&r.offset.to_le_bytes());
    }
    for (i, r) in ranges.iter().enumerate() {
        parts[1 + 2 * i] = &heads[i];
        // SAFETY: the API requires `pfns` to hold `npfns` u64s; on x86-64 they are the
        // little-endian bytes the host reads.
        parts[2 + 2 * i] = unsafe { core::slice::from_raw_parts(r.pfns.cast::<u8>(), r.npfns as usize * 8) };
    }
    let payload = [data];
    let mut pkt = OutgoingPacket::gpa_direct(trans_id, &parts[..1 + 2 * ranges.len()], &payload);
    pkt.flags |= flags;
    write_packet(c, &pkt)
}

/// `pvg_vmbus_recv`: copies the next inbound packet (descriptor included) into `buf` and
/// releases it. `EAGAIN` when empty; `EMSGSIZE` when `buf` is too small (the packet stays).
pub(crate) fn recv(c: &Channel, buf: &mut [u8]) -> Result<RecvInfo> {
    let (info, signal) = c.with_rings(|r| {
        let inb = KRing::inbound(r);
        let _irqs = IrqsOff::new();
        let _g = c.recv_lock.lock();
        let mut rd = RingReader::new(&inb).map_err(|e| ring_err(c, e))?;
        let mut b = rd.batch();
        let p = b.peek().map_err(|e| ring_err(c, e))?.ok_or(EAGAIN)?;
        if p.packet_len() as usize > buf.len() {
            return Err(EMSGSIZE);
        }
        let n = b.copy_raw(&p, buf).map_err(|e| ring_err(c, e))?;
        b.consume(&p).map_err(|e| ring_err(c, e))?;
        let info = RecvInfo {
            packet_type: p.raw_type(),
            flags: p.flags(),
            data_offset: p.header_len(),
            len: n as u32,
            trans_id: p.trans_id(),
        };
        Ok((info, b.commit()))
    })?;
    if signal {
        c.signal_host();
    }
    Ok(info)
}

/// `pvg_vmbus_mask_interrupts`: the host stops signalling for new inbound packets (the VSC
/// polls, e.g. from NAPI).
pub(crate) fn mask_interrupts(c: &Channel) -> Result {
    c.with_rings(|r| {
        let inb = KRing::inbound(r);
        let rd = RingReader::new(&inb).map_err(|e| ring_err(c, e))?;
        rd.mask_interrupts();
        Ok(())
    })
}

/// `pvg_vmbus_unmask_interrupts`: the host signals again; true when packets arrived while
/// masked (the VSC must poll once more, or it would miss them: no signal comes for those).
pub(crate) fn unmask_interrupts(c: &Channel) -> Result<bool> {
    c.with_rings(|r| {
        let inb = KRing::inbound(r);
        let rd = RingReader::new(&inb).map_err(|e| ring_err(c, e))?;
        rd.unmask_interrupts().map_err(|e| ring_err(c, e))
    })
}
