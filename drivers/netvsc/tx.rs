// SPDX-License-Identifier: GPL-2.0-only
//! The transmit side (`ndo_start_xmit`): the frame's metadata becomes an RNDIS data message
//! (`netvsc_proto::guest::plan_tx`), sent either whole in a send-buffer section (small
//! frames: one copy, the skb is freed at once) or as a GPA page list over the skb itself
//! with the RNDIS header in its headroom (large frames and TSO; the skb is freed when the
//! host completes the send). Each send holds a slot of its queue, whose generation is in the
//! transaction id, so a completion ends exactly the send it names.

use core::sync::atomic::Ordering;

use kernel::prelude::*;
use netvsc_proto::{
    guest::{self, LsoPrep, PageList, TransId, TxFrame, L3, L4},
    nvsp::{self, NvspMessage},
    packet, rndis,
};

use crate::netdev::{NetDev, Skb, TxMeta};
use crate::nic::{Nic, Queue, NO_SECTION, TX_HEADROOM};
use crate::stats::Counter;
use crate::vmbus::{packet as vmpkt, Channel};

/// The stack must retry the frame later (the queue is stopped).
pub(crate) struct Busy;

/// Page frames a page list may use (a 64 KiB frame in 17 pieces needs about 35).
const MAX_PFNS: usize = 96;

fn frame_of(m: &TxMeta, multi_queue: bool) -> TxFrame {
    TxFrame {
        len: m.len,
        l3: match m.l3 {
            1 => L3::Ipv4,
            2 => L3::Ipv6,
            _ => L3::Other,
        },
        l4: match m.l4 {
            1 => L4::Tcp,
            2 => L4::Udp,
            _ => L4::Other,
        },
        transport_offset: m.transport_offset,
        gso_mss: (m.gso != 0).then_some(m.gso_size),
        csum_partial: m.csum_partial != 0,
        hash: (m.hash != 0 && multi_queue).then_some(m.hash),
        vlan_tci: (m.has_vlan != 0).then_some(m.vlan_tci),
    }
}

impl Nic {
    /// Sends `skb` on queue `q`. `Err(Busy)`: the queue is stopped and the stack keeps the
    /// frame; otherwise the frame is sent or dropped (and counted).
    pub(crate) fn xmit(&self, mut skb: Skb, q: u16) -> Result<(), Busy> {
        let (Some(dev), Some(dp), Some(neg)) = (self.ndev.copy(), self.data.as_ref(), self.neg.as_ref()) else {
            return self.drop_frame(skb);
        };
        let queue = match self.queues.get(usize::from(q)) {
            Some(x) if !self.removing.load(Ordering::Acquire) => x,
            _ => return self.drop_frame(skb),
        };
        let Some(chan) = queue.channel() else { return self.drop_frame(skb) };
        let Ok(m) = skb.meta(TX_HEADROOM) else { return self.drop_frame(skb) };
        let multi = self.nr_queues.load(Ordering::Relaxed) > 1;
        let plan = match guest::plan_tx(&frame_of(&m, multi), &neg.tx, dp.send.section_size) {
            Ok(p) => p,
            Err(e) => {
                if self.log.allow() {
                    pr_warn!("{}: cannot send a frame of {} bytes: {}\n", self.ifname(), m.len, e.as_str());
                }
                return self.drop_frame(skb);
            }
        };
        if plan.software_checksum {
            if skb.checksum().is_err() {
                return self.drop_frame(skb);
            }
            self.stats.inc(Counter::TxSwChecksum);
        }
        if let Some(p) = plan.lso_prep {
            // SAFETY: the plan asks for LSO only for TCP segmentation over IPv4/IPv6 (the
            // shim's metadata), and `meta` made the head private.
            unsafe { skb.lso_prep(p == LsoPrep::Ipv6) };
        }
        let mut hdr = [0u8; rndis::RNDIS_AND_PPI_SIZE];
        let Ok(hlen) = packet::build_tx_header(&mut hdr, m.len, &plan.info) else { return self.drop_frame(skb) };
        let header = hdr.get(..hlen).unwrap_or(&[]);
        let Some((slot_i, _)) = queue.alloc_slot() else {
            return self.busy(&dev, queue, skb, false);
        };
        let section = if plan.fits_section { dp.alloc_section(u32::from(q)) } else { None };
        let r = match section {
            Some(sec) => self.send_section(dp, chan, queue, q, slot_i, sec, header, skb, plan.msg_len),
            None => self.send_pages(chan, queue, q, slot_i, header, skb),
        };
        match r {
            Ok(()) => {
                if let Some(s) = self.stats.queue(usize::from(q)) {
                    s.tx_packets.fetch_add(1, Ordering::Relaxed);
                    s.tx_bytes.fetch_add(u64::from(m.len), Ordering::Relaxed);
                }
                self.stats.inc(if section.is_some() { Counter::TxSections } else { Counter::TxPageLists });
                Ok(())
            }
            Err(Failed::Full(skb)) => self.busy(&dev, queue, skb, true),
            Err(Failed::Dropped) => {
                self.stats.inc(Counter::TxDropped);
                Ok(())
            }
            Err(Failed::Gone) => Ok(()),
        }
    }

    fn drop_frame(&self, skb: Skb) -> Result<(), Busy> {
        skb.free();
        self.stats.inc(Counter::TxDropped);
        Ok(())
    }

    /// Stops queue `q` and gives the frame back to the stack; wakes the queue at once if
    /// nothing in flight could wake it later.
    fn busy(&self, dev: &NetDev, queue: &Queue, skb: Skb, ring_full: bool) -> Result<(), Busy> {
        let q = u32::from(queue.index);
        let _ = skb.into_raw();
        dev.tx_stop(q);
        self.stats.inc(Counter::TxBusy);
        core::sync::atomic::fence(Ordering::SeqCst);
        if queue.inflight() == 0 || (!ring_full && queue.has_free_slot()) {
            dev.tx_wake(q);
        }
        Err(Busy)
    }

    /// The whole message (header and frame) in send section `sec`.
    #[allow(clippy::too_many_arguments)]
    fn send_section(
        &self,
        dp: &crate::nic::DataPath,
        chan: Channel,
        queue: &Queue,
        q: u16,
        slot_i: u16,
        sec: u32,
        header: &[u8],
        skb: Skb,
        msg_len: u32,
    ) -> Result<(), Failed> {
        let undo = |skb: Skb| {
            dp.free_section(sec);
            queue.free_slot(slot_i);
            skb
        };
        // SAFETY: we hold section `sec` (just allocated).
        let Some(dst) = (unsafe { dp.section(sec, msg_len) }) else {
            undo(skb).free();
            return Err(Failed::Dropped);
        };
        let (h, frame) = dst.split_at_mut(header.len().min(dst.len()));
        h.copy_from_slice(header.get(..h.len()).unwrap_or(&[]));
        if skb.copy_to(frame).is_err() {
            undo(skb).free();
            return Err(Failed::Dropped);
        }
        let Some(slot) = queue.slots.get(usize::from(slot_i)) else {
            undo(skb).free();
            return Err(Failed::Dropped);
        };
        slot.skb.store(core::ptr::null_mut(), Ordering::Relaxed);
        slot.section.store(sec, Ordering::Relaxed);
        let Ok(generation) = slot.state.issue() else {
            undo(skb).free();
            return Err(Failed::Dropped);
        };
        let mut b = [0u8; nvsp::NVSP_MESSAGE_SIZE];
        let n = NvspMessage::rndis_packet(false, Some((sec, msg_len))).encode(&mut b).unwrap_or(0);
        let id = TransId::Send { queue: q, slot: slot_i, generation }.encode();
        match chan.send(vmpkt::DATA_INBAND, vmpkt::FLAG_COMPLETION_REQUESTED, id, b.get(..n).unwrap_or(&[])) {
            Ok(()) => {
                skb.consume();
                Ok(())
            }
            Err(e) => {
                if !slot.state.claim(generation) {
                    // The teardown ended it meanwhile.
                    skb.free();
                    return Err(Failed::Gone);
                }
                slot.section.store(NO_SECTION, Ordering::Relaxed);
                let skb = undo(skb);
                if e == EAGAIN {
                    Err(Failed::Full(skb))
                } else {
                    skb.free();
                    Err(Failed::Dropped)
                }
            }
        }
    }

    /// A page list: the header in the skb's headroom, then its linear part and fragments.
    fn send_pages(&self, chan: Channel, queue: &Queue, q: u16, slot_i: u16, header: &[u8], mut skb: Skb) -> Result<(), Failed> {
        let mut pfns = [0u64; MAX_PFNS];
        let mut linearized = false;
        let list = loop {
            let mut list = PageList::new(&mut pfns);
            // SAFETY: `meta` made the head private with `TX_HEADROOM` bytes of headroom
            // (again after a linearisation, below), and `header` is at most that long.
            let (area, phys) = unsafe { skb.header_area(header.len()) };
            area.copy_from_slice(header);
            let mut r = list.push(phys, header.len() as u32).map_err(|_| E2BIG);
            if r.is_ok() {
                r = skb.pieces(&mut |p, l| list.push(p, l).map_err(|_| E2BIG));
            }
            match r {
                Ok(()) => break list,
                Err(e) if e == E2BIG && !linearized => {
                    linearized = true;
                    self.stats.inc(Counter::TxLinearized);
                    if skb.linearize().is_err() || skb.meta(TX_HEADROOM).is_err() {
                        queue.free_slot(slot_i);
                        skb.free();
                        return Err(Failed::Dropped);
                    }
                }
                Err(_) => {
                    queue.free_slot(slot_i);
                    skb.free();
                    return Err(Failed::Dropped);
                }
            }
        };
        let Some(slot) = queue.slots.get(usize::from(slot_i)) else {
            skb.free();
            return Err(Failed::Dropped);
        };
        let raw = skb.into_raw();
        slot.section.store(NO_SECTION, Ordering::Relaxed);
        slot.skb.store(raw, Ordering::Relaxed);
        let Ok(generation) = slot.state.issue() else {
            slot.skb.store(core::ptr::null_mut(), Ordering::Relaxed);
            // SAFETY: we still own `raw` (the slot was not issued).
            if let Some(s) = unsafe { Skb::from_raw(raw) } {
                s.free();
            }
            return Err(Failed::Dropped);
        };
        let mut b = [0u8; nvsp::NVSP_MESSAGE_SIZE];
        let n = NvspMessage::rndis_packet(false, None).encode(&mut b).unwrap_or(0);
        let id = TransId::Send { queue: q, slot: slot_i, generation }.encode();
        match chan.send_pages(vmpkt::FLAG_COMPLETION_REQUESTED, id, &list, b.get(..n).unwrap_or(&[])) {
            Ok(()) => Ok(()),
            Err(e) => {
                if !slot.state.claim(generation) {
                    // The teardown ended it (and freed the skb) meanwhile.
                    return Err(Failed::Gone);
                }
                let raw = slot.skb.swap(core::ptr::null_mut(), Ordering::AcqRel);
                queue.free_slot(slot_i);
                // SAFETY: we won the claim: the skb is ours again.
                let Some(skb) = (unsafe { Skb::from_raw(raw) }) else { return Err(Failed::Gone) };
                if e == EAGAIN {
                    Err(Failed::Full(skb))
                } else {
                    skb.free();
                    Err(Failed::Dropped)
                }
            }
        }
    }
}

/// Why a send did not happen.
enum Failed {
    /// The ring is full: the frame goes back to the stack.
    Full(Skb),
    /// The frame was dropped (freed).
    Dropped,
    /// A teardown ended the send (and freed the frame).
    Gone,
}
