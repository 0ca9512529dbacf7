// SPDX-License-Identifier: GPL-2.0-only
//! The I/O path: blk-mq requests to EXECUTE_SRB packets over the request's own pages, the
//! completions of the host (channel callback, softirq), timeouts and the CPU → queue map.
//!
//! Every request is published in its (queue, tag) slot ([`IoSlot`]) under a fresh
//! generation that is part of its transaction id. Whoever ends it (the host's completion,
//! the timeout recovery, the teardown) first claims that slot; exactly one succeeds, so no
//! request ends twice, and an id the host makes up or replays matches nothing.

use core::sync::atomic::Ordering;

use vstor_proto::{
    guest::{self, BlockRequest, DataSource, Decision, IoSlot, Issued, PageList, TransId, UNMAP_LIST_LEN},
    srb::{self, Followup},
    vstor::{encode_execute_srb, parse_unsolicited, SrbRequest, VSTOR_PACKET_SIZE},
};

use crate::blk::{self, OwnedRequest, QueueMap, Request, Status, TimeoutAction};
use crate::controller::{Controller, IoState};
use crate::lun::Lun;
use crate::shim;
use crate::stats::QueueStats;
use crate::vmbus::{self, packet, Channel, Received};
use kernel::prelude::*;

/// The blk-mq driver type.
pub(crate) struct Storvsc;

/// Per-request driver data (the PDU); a tail of page frame numbers follows it.
#[repr(C)]
#[derive(Default)]
pub(crate) struct Pdu {
    /// Requeues so far (reset whenever the request ends).
    retries: u8,
    /// The CDB opcode sent.
    opcode: u8,
    /// A block READ/WRITE: a short transfer is an error.
    full_transfer: bool,
    /// `data_transfer_length` sent.
    data_len: u32,
    /// UNMAP parameter list (data-out of a discard), in guest memory the host reads.
    unmap_list: [u8; UNMAP_LIST_LEN],
}

/// Delay before a retried request is dispatched again.
const RETRY_DELAY_MS: u32 = 10;
/// Receive buffer: a VMBus descriptor and a VSTOR packet with room to spare.
const RECV_BUF: usize = 256;
/// Packets one callback takes before calling it a flood.
const FLOOD_PACKETS: u32 = 1 << 20;

impl blk::Operations for Storvsc {
    type SetData = Controller;
    type QueueData = Lun;
    type Pdu = Pdu;

    fn queue_rq(ctrl: &Controller, lun: &Lun, hw_queue: u32, rq: &Request<Self>) -> Status {
        let stats = ctrl.stats.queue(hw_queue);
        let st = submit(ctrl, lun, hw_queue, rq, stats);
        if st != Status::OK && st != Status::RESOURCE {
            QueueStats::inc(&stats.errors);
            // SAFETY: not published (or taken back): blk-mq ends it after we return, and
            // until then it is ours; the next use of the PDU starts without retries.
            unsafe { rq.pdu() }.retries = 0;
        }
        st
    }

    fn timeout(ctrl: &Controller, rq: &Request<Self>) -> TimeoutAction {
        let Some(io) = ctrl.io.as_ref() else { return TimeoutAction::Done };
        let q = rq.hw_queue();
        let stats = ctrl.stats.queue(q);
        QueueStats::inc(&stats.timeouts);
        let idx = match (u16::try_from(q), rq.tag()) {
            (Ok(q), Some(tag)) => guest::slot_index(q, tag, io.nr_queues(), io.depth),
            _ => None,
        };
        let Some(idx) = idx else { return TimeoutAction::Done };
        let Some(generation) = io.slots.get(idx).and_then(IoSlot::inflight) else {
            // Already being ended by its completion or a teardown.
            return TimeoutAction::Done;
        };
        if io.rqs.get(idx).map(|r| r.load(Ordering::Relaxed)) != Some(rq.as_ptr()) {
            return TimeoutAction::Done;
        }
        pr_warn!(
            "{}: request (tag {}, queue {}, {} bytes at sector {}) timed out after {} s; resetting\n",
            ctrl.name.as_str(),
            rq.tag().unwrap_or(0),
            q,
            rq.bytes(),
            rq.pos(),
            ctrl.params.io_timeout_s
        );
        ctrl.recover(io, q, idx, generation);
        TimeoutAction::Done
    }

    fn map_queues(ctrl: &Controller, map: &mut QueueMap<'_>) {
        let targets: &[u32] = ctrl.io.as_ref().map_or(&[], |io| &io.targets);
        for cpu in (0..shim::nr_cpu_ids()).filter(|c| shim::cpu_possible(*c)) {
            let q = u32::from(guest::queue_for_cpu(cpu, targets));
            map.set(cpu, q.min(map.nr_queues().saturating_sub(1)));
        }
    }
}

/// Builds and sends one request; see [`blk::Operations::queue_rq`].
fn submit(ctrl: &Controller, lun: &Lun, hw_queue: u32, rq: &Request<Storvsc>, stats: &QueueStats) -> Status {
    let Some(io) = ctrl.io.as_ref() else { return Status::IOERR };
    if ctrl.dead.load(Ordering::Acquire) || lun.gone.load(Ordering::Acquire) {
        return Status::IOERR;
    }
    let (Ok(q), Some(tag)) = (u16::try_from(hw_queue), rq.tag()) else { return Status::IOERR };
    let Some(idx) = guest::slot_index(q, tag, io.nr_queues(), io.depth) else { return Status::IOERR };
    let Some(chan) = io.queue_chan.get(usize::from(q)).and_then(|c| ctrl.open_chan(*c)) else { return Status::IOERR };

    let breq = BlockRequest { op: rq.op(), sector: rq.pos(), bytes: rq.bytes(), fua: rq.fua(), nounmap: rq.nounmap() };
    let plan = match guest::plan(&breq, &lun.geometry) {
        Ok(p) => p,
        Err(e) => {
            if ctrl.log_io.allow() {
                pr_warn!("{}: {:?} of {} bytes at sector {} refused: {}\n", lun.name.as_str(), breq.op, breq.bytes, breq.sector, e.as_str());
            }
            return Status(e.blk_status());
        }
    };

    let mut pkt = [0u8; VSTOR_PACKET_SIZE];
    let (offset, len, npfns, n) = {
        // SAFETY: blk-mq handed us this request and it is not published yet: nobody else
        // uses its PDU. The tail has the length the tag set was created with.
        let (pdu, tail) = unsafe { (rq.pdu(), rq.pdu_tail(io.pages as usize)) };
        let mut list = PageList::new(tail);
        let listed = match plan.data {
            DataSource::None => Ok(()),
            DataSource::Request => {
                let mut r = Ok(());
                rq.for_each_segment(|pfn, off, n| {
                    r = list.push(pfn, off, n);
                    r.is_ok()
                });
                r
            }
            DataSource::UnmapList => match plan.build_param_list(&mut pdu.unmap_list) {
                Ok(n) => list.push_contiguous(shim::virt_to_phys(pdu.unmap_list.as_ptr()), n as u32),
                Err(_) => Err(guest::PageListError::Length),
            },
            DataSource::ZeroBlock => list.push(io.zero_pfn, 0, plan.transfer_len),
        };
        if let Err(e) = listed.and_then(|()| if list.len() == plan.transfer_len { Ok(()) } else { Err(guest::PageListError::Length) }) {
            if ctrl.log_io.allow() {
                pr_err!("{}: cannot describe a {:?} of {} bytes as a page list: {}\n", lun.name.as_str(), breq.op, breq.bytes, e.as_str());
            }
            return Status::IOERR;
        }
        let Ok(srb) = SrbRequest::new(lun.addr, plan.cdb.as_bytes(), plan.direction, plan.transfer_len, lun.tagged) else {
            return Status::IOERR;
        };
        let Ok(n) = encode_execute_srb(&mut pkt, io.version, &srb) else { return Status::IOERR };
        *pdu = Pdu {
            retries: pdu.retries,
            opcode: plan.cdb.opcode(),
            full_transfer: plan.data == DataSource::Request,
            data_len: plan.transfer_len,
            unmap_list: pdu.unmap_list,
        };
        (list.offset(), list.len(), list.pfns().len(), n)
    };

    // SAFETY: in `queue_rq`, once, before it can complete.
    unsafe { rq.start() };
    let (Some(slot), Some(rq_slot), Some(timed_out), Some(sent_at)) =
        (io.slots.get(idx), io.rqs.get(idx), io.timed_out.get(idx), io.sent_at.get(idx))
    else {
        return Status::IOERR;
    };
    rq_slot.store(rq.as_ptr(), Ordering::Relaxed);
    timed_out.store(false, Ordering::Relaxed);
    sent_at.store(shim::now_ns(), Ordering::Relaxed);
    let Ok(generation) = slot.issue() else {
        pr_err!("{}: tag {} of queue {} issued twice; failing it\n", lun.name.as_str(), tag, q);
        return Status::IOERR;
    };
    QueueStats::inc(&stats.requests);
    stats.in_flight.fetch_add(1, Ordering::Relaxed);

    let id = TransId::Io { queue: q, tag, generation }.encode();
    let flags = packet::FLAG_COMPLETION_REQUESTED;
    let body = pkt.get(..n).unwrap_or(&[]);
    let sent = if npfns == 0 {
        chan.send(packet::DATA_INBAND, flags, id, body)
    } else {
        // SAFETY: only `submit` writes a tail, for a request it has not published yet. If a
        // teardown ended this request meanwhile, it set `dead` first, so a reissue of the tag
        // fails at the top of `submit` without touching the tail; nobody writes it while we
        // read it here.
        let tail = unsafe { rq.pdu_tail(io.pages as usize) };
        chan.send_gpa(flags, id, offset, len, tail.get(..npfns).unwrap_or(&[]), body)
    };
    match sent {
        Ok(()) => Status::OK,
        // Someone (a teardown) already ended it: it is theirs.
        Err(_) if !slot.claim(generation) => Status::OK,
        Err(e) => {
            stats.done();
            if vmbus::is_ring_full(e) {
                QueueStats::inc(&stats.ring_full);
                Status::RESOURCE
            } else {
                if ctrl.log_io.allow() {
                    pr_err!("{}: cannot send to the host: {:?}\n", lun.name.as_str(), e);
                }
                Status::IOERR
            }
        }
    }
}

/// Ends a request we own, resetting its retry count for the next use of the PDU.
pub(crate) fn finish(mut rq: OwnedRequest<Storvsc>, status: Status) {
    rq.pdu().retries = 0;
    rq.end(status);
}

/// The channel callback (softirq): drains the inbound ring.
pub(crate) fn on_channel(ctrl: &Controller, chan: Channel) {
    let Some(index) = ctrl.chan_index(chan) else {
        ctrl.bad_packet(format_args!("signal on a channel that is not ours"));
        return;
    };
    let mut buf = [0u8; RECV_BUF];
    // The core calls us once per host signal and the host signals only when it writes to an
    // empty ring, so the ring is drained completely. A host that keeps it full for a million
    // packets in one go (no legitimate load does under one callback) is flooding.
    for _ in 0..FLOOD_PACKETS {
        match chan.recv(&mut buf) {
            Ok(None) => return,
            Ok(Some(p)) => {
                let data = buf.get(..p.len).unwrap_or(&[]);
                handle_packet(ctrl, index, &p, data);
            }
            // Too big for any VSTOR packet; it stays in the ring, so the channel is stuck.
            Err(e) if e == EMSGSIZE => return ctrl.fatal("the host sent a packet larger than any VSTOR packet"),
            Err(e) if e == ENODEV => return,
            Err(e) => return ctrl.fatal(if e == EIO { "the inbound ring is corrupt" } else { "receiving failed" }),
        }
    }
    ctrl.fatal("the host flooded the channel");
}

fn handle_packet(ctrl: &Controller, chan_index: u16, p: &Received, data: &[u8]) {
    if p.packet_type != packet::COMP && p.packet_type != packet::DATA_INBAND {
        ctrl.bad_packet(format_args!("packet type {}", p.packet_type));
        return;
    }
    let Some(payload) = data.get(p.data_offset..) else {
        ctrl.bad_packet(format_args!("payload offset {} beyond the {} bytes", p.data_offset, data.len()));
        return;
    };
    let (queues, depth) = ctrl.io.as_ref().map_or((0, 0), |io| (io.nr_queues(), io.depth));
    match TransId::decode(p.trans_id, queues, depth) {
        Ok(TransId::Unsolicited) => match parse_unsolicited(payload) {
            Ok(n) => {
                ctrl.stats.unsolicited.fetch_add(1, Ordering::Relaxed);
                pr_info!("{}: host sent {}; rescanning\n", ctrl.name.as_str(), n.operation().name());
                ctrl.schedule_rescan();
            }
            Err(e) => ctrl.bad_packet(format_args!("unsolicited packet: {}", e.as_str())),
        },
        Ok(TransId::Control { seq }) => ctrl.ctl_complete(seq, payload),
        Ok(TransId::Io { queue, tag, generation }) => {
            if let Some(io) = ctrl.io.as_ref() {
                complete(ctrl, io, chan_index, queue, tag, generation, payload);
            }
        }
        Err(e) => ctrl.bad_packet(format_args!("transaction id {:#x}: {}", p.trans_id, e.as_str())),
    }
}

/// One block completion from the host.
fn complete(ctrl: &Controller, io: &IoState, chan_index: u16, queue: u16, tag: u16, generation: u32, payload: &[u8]) {
    if io.queue_chan.get(usize::from(queue)) != Some(&chan_index) {
        ctrl.bad_packet(format_args!("completion for queue {} on channel {}", queue, chan_index));
        return;
    }
    let Some(idx) = guest::slot_index(queue, tag, io.nr_queues(), io.depth) else { return };
    let Some(slot) = io.slots.get(idx) else { return };
    if !slot.claim(generation) {
        ctrl.bad_packet(format_args!("stale or repeated completion (queue {} tag {} generation {})", queue, tag, generation));
        return;
    }
    let stats = ctrl.stats.queue(u32::from(queue));
    stats.done();
    QueueStats::inc(&stats.completions);
    let rq = io.rqs.get(idx).map_or(core::ptr::null_mut(), |r| r.load(Ordering::Relaxed));
    // SAFETY: we won the slot's claim for the generation `queue_rq` published together with
    // this request pointer (acquire): the request is started and ours alone to end.
    let Some(mut rq) = (unsafe { OwnedRequest::<Storvsc>::from_raw(rq) }) else { return };
    let pdu = rq.pdu();
    let issued = Issued { opcode: pdu.opcode, data_len: pdu.data_len, full_transfer: pdu.full_transfer, retries: pdu.retries };
    let c = match guest::check_completion(payload, io.version, &issued) {
        Ok(c) => c,
        Err(e) => {
            ctrl.bad_packet(format_args!("completion of opcode {:#04x}: {}", issued.opcode, e.as_str()));
            QueueStats::inc(&stats.errors);
            finish(rq, Status::IOERR);
            return;
        }
    };
    let (mut decision, followup) = guest::decide(&issued, &c);
    if followup != Followup::None {
        ctrl.schedule_rescan();
    }
    if decision == Decision::Retry && io.timed_out.get(idx).is_some_and(|t| t.load(Ordering::Acquire)) {
        // Aborted by the reset its own timeout caused: fail it rather than wait again.
        decision = Decision::Complete(srb::blk_status::TIMEOUT);
    }
    match decision {
        Decision::Retry => {
            rq.pdu().retries = issued.retries.saturating_add(1);
            QueueStats::inc(&stats.retries);
            rq.requeue(RETRY_DELAY_MS);
        }
        Decision::Complete(st) => {
            if st != 0 {
                QueueStats::inc(&stats.errors);
                if ctrl.log_io.allow() {
                    match vstor_proto::sense::decode(c.sense_data()) {
                        Ok(s) => pr_warn!(
                            "{}: opcode {:#04x} failed: srb status {:#04x}, scsi status {:#04x}, sense {:x}/{:02x}/{:02x} -> blk status {}\n",
                            ctrl.name.as_str(), issued.opcode, c.srb_status, c.scsi_status, s.key, s.asc, s.ascq, st
                        ),
                        Err(_) => pr_warn!(
                            "{}: opcode {:#04x} failed: srb status {:#04x}, scsi status {:#04x}, no valid sense data -> blk status {}\n",
                            ctrl.name.as_str(), issued.opcode, c.srb_status, c.scsi_status, st
                        ),
                    }
                }
            }
            finish(rq, Status(st));
        }
    }
}
