// SPDX-License-Identifier: GPL-2.0-only
//! The receive side: a queue's NAPI poll drains its channel's inbound ring — completions of
//! our sends, transfer-page packets carrying RNDIS messages in receive-buffer sections
//! (frames, control responses, status indications), and the host's inband NVSP messages —
//! and sends the receive completions that give the sections back to the host.
//!
//! Every packet is classified and checked by `netvsc_proto::guest` (ids, ranges, lengths,
//! offsets); what fails is dropped and counted under its kind, and a transfer-page packet is
//! completed whatever became of its messages so the host gets its sections back. Each RNDIS
//! message is copied out of the shared receive buffer into a fresh skb before it is parsed,
//! so the host cannot change what was checked.

use core::sync::atomic::Ordering;

use kernel::prelude::*;
use netvsc_proto::{
    guest::{self, Completed, DropKind, Inbound, LinkAction, RxMessage, RxMeta},
    nvsp::{self, NvspMessage},
};
use vmbus_proto::packet::TransferPageRange;

use crate::netdev::{NetDev, RxSkb, Skb};
use crate::nic::{Nic, Queue, NO_SECTION};
use crate::stats::Counter;
use crate::vmbus::{packet, Channel, Received};

/// A frame to hand to the stack, parsed from its private copy.
enum Parsed {
    Frame(core::ops::Range<usize>, RxMeta),
    Response,
    Status(guest::LinkAction),
    Other,
}

impl Nic {
    /// NAPI poll of queue `q`: returns the frames delivered (at most `budget`), or `budget`
    /// to be polled again.
    pub(crate) fn poll(&self, q: u32, budget: i32) -> i32 {
        let (Some(dev), Some(queue)) = (self.ndev.copy(), self.queues.get(q as usize)) else { return 0 };
        let chan = match queue.channel() {
            Some(c) if !queue.broken.load(Ordering::Acquire) => c,
            _ => {
                dev.napi_complete(q, 0);
                return 0;
            }
        };
        if let Some(s) = self.stats.queue(q as usize) {
            s.polls.fetch_add(1, Ordering::Relaxed);
        }
        self.flush_completions(queue, chan);
        let mut done = 0i32;
        let mut sends = 0u32;
        let mut exhausted = false;
        // Completions cost no budget; a bound keeps one poll from running forever.
        let max_packets = (budget as u32).saturating_mul(4).saturating_add(64);
        {
            let mut scratch = queue.scratch.lock();
            let mut packets = 0u32;
            while done < budget && packets < max_packets {
                match chan.recv(&mut scratch) {
                    Ok(None) => {
                        exhausted = true;
                        break;
                    }
                    Ok(Some(r)) => {
                        packets += 1;
                        let data = scratch.get(..r.len).unwrap_or(&[]);
                        self.handle(&dev, queue, chan, &r, data, &mut done, &mut sends);
                    }
                    Err(e) => {
                        self.ring_failed(queue, e);
                        exhausted = true;
                        break;
                    }
                }
            }
        }
        if dev.tx_stopped(q) && (sends > 0 || queue.has_free_slot() && queue.inflight() == 0) {
            dev.tx_wake(q);
        }
        if !exhausted || done >= budget {
            return budget;
        }
        if dev.napi_complete(q, done) && !queue.broken.load(Ordering::Acquire) {
            // Packets that came between the last read and the unmask raise no signal.
            if let Ok(true) = chan.unmask_interrupts() {
                let _ = chan.mask_interrupts();
                dev.napi_schedule(q);
            }
        }
        done
    }

    /// The inbound ring cannot be read any more (corrupt, or a packet too big for the
    /// scratch buffer: it stays in the ring): the queue stops receiving.
    fn ring_failed(&self, queue: &Queue, e: Error) {
        if e == ENODEV || queue.broken.swap(true, Ordering::AcqRel) {
            return;
        }
        self.stats.drop_one(DropKind::BadNvsp);
        let why = if e == EMSGSIZE { "a packet larger than any NetVSC packet" } else { "a corrupt ring" };
        pr_err!("{}: queue {}: the host sent {}; the queue receives nothing more until the device is reloaded\n", self.ifname(), queue.index, why);
    }

    #[allow(clippy::too_many_arguments)]
    fn handle(&self, dev: &NetDev, queue: &Queue, chan: Channel, r: &Received, data: &[u8], done: &mut i32, sends: &mut u32) {
        let version = self.data.as_ref().map(|d| d.version);
        let wants_completion = r.flags & packet::FLAG_COMPLETION_REQUESTED != 0;
        match guest::classify(data, r.packet_type, r.trans_id, r.data_offset, version) {
            Ok(Inbound::Completion { id, payload }) => {
                match guest::completion(id, payload, self.max_queues(), self.params.tx_slots) {
                    Ok(Completed::Send { queue: qi, slot, generation, ok }) => {
                        if self.complete_send(qi, slot, generation, ok) {
                            *sends += 1;
                        }
                    }
                    Ok(Completed::Control { seq, payload }) => self.ctl_nvsp(seq, payload),
                    Err(e) => self.dropped(e),
                }
            }
            Ok(Inbound::Transfer { id, ranges }) => {
                for rg in ranges.ranges() {
                    self.receive(dev, queue, rg, done);
                }
                if wants_completion {
                    self.complete_transfer(queue, chan, id);
                }
            }
            Ok(Inbound::Message(NvspMessage::SendIndirectionTable(t))) => self.set_send_table(&t),
            Ok(Inbound::Message(NvspMessage::SendVfAssociation(_))) => {
                if self.log.allow() {
                    pr_info!("{}: the host offers a VF; this driver has no VF data path\n", self.ifname());
                }
            }
            Ok(Inbound::Message(m)) => self.dropped(guest::RxError::NvspType(m.msg_type())),
            Err(e) => {
                self.dropped(e);
                if r.packet_type == packet::DATA_USING_XFER_PAGES && wants_completion {
                    self.complete_transfer(queue, chan, r.trans_id);
                }
            }
        }
    }

    /// One RNDIS message of a transfer-page packet.
    fn receive(&self, dev: &NetDev, queue: &Queue, r: TransferPageRange, done: &mut i32) {
        let Some(dp) = self.data.as_ref() else {
            self.dropped_kind(DropKind::BadRange, "data before the receive buffer was set up");
            return;
        };
        let range = match guest::rx_range(&dp.recv, r) {
            Ok(x) => x,
            Err(e) => return self.dropped(e),
        };
        let Ok(len) = u32::try_from(range.len()) else { return };
        if len == 0 {
            return self.dropped(guest::RxError::ShortFrame(0));
        }
        let q = u32::from(queue.index);
        // SAFETY: `range` lies inside the receive buffer (checked against its layout), which
        // stays allocated while the device's channels are open.
        let Some(rx) = (unsafe { dev.rx_copy(q, dp.recv_base.wrapping_add(range.start), len) }) else {
            self.stats.inc(Counter::RxNoMemory);
            return;
        };
        let parsed = match guest::parse_rx(rx.bytes()) {
            Ok(RxMessage::Data { frame, meta }) => Parsed::Frame(frame, meta),
            Ok(RxMessage::Response(_)) => Parsed::Response,
            Ok(RxMessage::Status(e)) => match guest::link_action(&e) {
                Some(a) => Parsed::Status(a),
                None => {
                    self.dropped_kind(DropKind::UnknownStatus, "rndis status indication of an unknown type");
                    Parsed::Other
                }
            },
            Ok(RxMessage::Ignored(_)) => Parsed::Other,
            Err(e) => {
                self.dropped(e);
                Parsed::Other
            }
        };
        match parsed {
            Parsed::Frame(frame, meta) => self.deliver(dev, queue, rx, frame, &meta, done),
            Parsed::Response => self.ctl_rndis(rx.bytes()),
            Parsed::Status(a) => self.link(dev, a),
            Parsed::Other => {}
        }
    }

    fn deliver(&self, dev: &NetDev, queue: &Queue, rx: RxSkb, frame: core::ops::Range<usize>, meta: &RxMeta, done: &mut i32) {
        if !self.registered.load(Ordering::Acquire) || !self.up.load(Ordering::Acquire) {
            return;
        }
        let len = frame.len() as u64;
        if rx.bytes().get(frame.start).is_some_and(|b| b & 1 != 0) {
            self.stats.inc(Counter::RxMulticast);
        }
        rx.deliver(dev, u32::from(queue.index), frame, meta);
        if let Some(s) = self.stats.queue(usize::from(queue.index)) {
            s.rx_packets.fetch_add(1, Ordering::Relaxed);
            s.rx_bytes.fetch_add(len, Ordering::Relaxed);
        }
        *done += 1;
    }

    /// A status indication.
    fn link(&self, dev: &NetDev, a: LinkAction) {
        match a {
            LinkAction::Up | LinkAction::Down => {
                let on = a == LinkAction::Up;
                if dev.carrier() != on {
                    dev.set_carrier(on);
                    self.stats.inc(Counter::LinkChanges);
                    pr_info!("{}: link {}\n", self.ifname(), if on { "up" } else { "down" });
                }
            }
            LinkAction::Bounce => {
                dev.set_carrier(false);
                dev.set_carrier(true);
                self.stats.inc(Counter::LinkChanges);
                pr_info!("{}: the host's network changed; link down and up\n", self.ifname());
            }
            LinkAction::Speed(m) => {
                self.link_speed.store(m, Ordering::Relaxed);
                pr_info!("{}: link speed {} Mbit/s\n", self.ifname(), m);
            }
        }
    }

    /// A completion of one of our sends; true if it ended one.
    fn complete_send(&self, qi: u16, slot: u16, generation: u32, ok: bool) -> bool {
        let Some(q) = self.queues.get(usize::from(qi)) else { return false };
        let Some(s) = q.slots.get(usize::from(slot)) else { return false };
        if !s.state.claim(generation) {
            self.dropped_kind(DropKind::BadCompletion, "completion for a send not in flight");
            return false;
        }
        let skb = s.skb.swap(core::ptr::null_mut(), Ordering::AcqRel);
        // SAFETY: the slot owned this skb (a page-list send) and we won its claim.
        if let Some(skb) = unsafe { Skb::from_raw(skb) } {
            skb.consume();
        }
        let sec = s.section.swap(NO_SECTION, Ordering::AcqRel);
        if sec != NO_SECTION {
            if let Some(dp) = self.data.as_ref() {
                dp.free_section(sec);
            }
        }
        q.free_slot(slot);
        if !ok {
            self.stats.inc(Counter::TxHostErrors);
        }
        true
    }

    /// Gives a transfer-page packet's sections back to the host (in order behind any that
    /// wait for ring space).
    fn complete_transfer(&self, queue: &Queue, chan: Channel, id: u64) {
        let mut pending = queue.pending.lock();
        if pending.is_empty() {
            match send_completion(chan, id) {
                Ok(()) => return,
                Err(e) if e == EAGAIN => {}
                Err(_) => return,
            }
        }
        self.stats.inc(Counter::RxCompletionsDeferred);
        if pending.push(id).is_err() {
            self.stats.inc(Counter::RxCompletionsLost);
        }
    }

    /// Sends the receive completions that waited for ring space.
    fn flush_completions(&self, queue: &Queue, chan: Channel) {
        let mut pending = queue.pending.lock();
        while let Some(id) = pending.front() {
            match send_completion(chan, id) {
                Ok(()) => {
                    pending.pop();
                }
                Err(e) if e == EAGAIN => return,
                Err(_) => {
                    pending.clear();
                    return;
                }
            }
        }
    }
}

/// `VM_PKT_COMP` with `NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE` success for transfer `id`.
fn send_completion(chan: Channel, id: u64) -> Result {
    let mut b = [0u8; nvsp::NVSP_RECV_COMPLETION_SIZE];
    let n = NvspMessage::rndis_packet_complete(nvsp::NVSP_STAT_SUCCESS).encode(&mut b).map_err(|_| EINVAL)?;
    chan.send(packet::COMP, 0, id, b.get(..n).unwrap_or(&[]))
}
